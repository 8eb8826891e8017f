"""Unauthenticated clients that each send one large request body, to measure what they make
the gateway hold (h2o buffers a whole body before any handler can authenticate it).

    preauth_flood.py HOST:PORT PID CONNECTIONS BODY_BYTES SECONDS AUTH CLUSTER

Opens CONNECTIONS plain HTTP/1.1 connections, each sending a POST with a Content-Length of
BODY_BYTES and writing the body as fast as the gateway reads it, for at most SECONDS. While
they run, an authenticated keep-alive connection (AUTH, an Authorization header value) lists
topics every 0.2 s and must get 200 each time. Prints one JSON line: the gateway's peak RSS
(VmHWM of PID, bytes), bytes the clients got written, the authenticated calls made and
their worst latency. Exits 1 if an authenticated call failed.
"""
import asyncio
import http.client
import json
import resource
import sys
import threading
import time

from flood import stream, vm


async def one(host, port, body, deadline, sent):
    head = ("POST /kafka/v3/clusters/lkc-0/topics/t/records HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % body)
    await stream(host, port, head.encode(), body, deadline, sent)


def authenticated(hostport, auth, cluster, stop, out):
    host, port = hostport.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    while not stop.is_set():
        t0 = time.time()
        try:
            c.request("GET", "/kafka/v3/clusters/%s/topics" % cluster,
                      headers={"Authorization": auth})
            r = c.getresponse()
            r.read()
            status = r.status
        except Exception as e:
            status = str(e)
        out["calls"] += 1
        out["worst_s"] = max(out["worst_s"], time.time() - t0)
        if status != 200:
            out["failed"].append(status)
        stop.wait(0.2)


async def main():
    hostport, pid, conns, body, secs, auth, cluster = sys.argv[1:8]
    host, port = hostport.split(":")
    conns, body, secs = int(conns), int(body), float(secs)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < conns + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(conns + 64, hard), hard))
    stop = threading.Event()
    out = {"calls": 0, "worst_s": 0.0, "failed": []}
    t = threading.Thread(target=authenticated, args=(hostport, auth, cluster, stop, out))
    t.start()
    sent = [0]
    deadline = time.time() + secs
    await asyncio.gather(*(one(host, int(port), body, deadline, sent) for _ in range(conns)))
    stop.set()
    t.join()
    print(json.dumps({"peak_rss": vm(pid, "VmHWM"), "rss": vm(pid, "VmRSS"), "sent": sent[0],
                      "auth_calls": out["calls"], "auth_worst_s": round(out["worst_s"], 3),
                      "auth_failed": out["failed"][:5]}))
    sys.exit(1 if out["failed"] or out["calls"] == 0 else 0)


asyncio.run(main())
