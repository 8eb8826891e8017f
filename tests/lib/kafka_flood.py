"""Clients that make a Kafka listener buffer request bytes without ever completing a request,
to measure what they make the broker hold.

    kafka_flood.py HOST:PORT PID big CONNECTIONS FRAME_BYTES SEND_BYTES SECONDS
        CONNECTIONS connections each send a size prefix of FRAME_BYTES, then SEND_BYTES of
        the request (never all of it), as fast as the broker reads, for at most SECONDS.
    kafka_flood.py HOST:PORT PID stall FRAME_BYTES SEND_BYTES SECONDS
        one connection sends a size prefix of FRAME_BYTES and SEND_BYTES of the request, then
        nothing; reports whether the broker closed it within SECONDS, and after how long.
    kafka_flood.py HOST:PORT PID halfopen CONNECTIONS
        one connection sends a 2 GiB size prefix (it must be closed), then CONNECTIONS each
        send a size prefix and 4 bytes and stay open.

Prints one JSON line: the broker's peak RSS (VmHWM of PID, bytes) before and after (and its RSS while the half-open connections are open), the
bytes the clients got written, the connections opened, and whether the 2 GiB one was
closed.
"""
import asyncio
import json
import resource
import socket
import struct
import sys
import time

from flood import stream, vm


def main():
    hostport, pid, mode = sys.argv[1:4]
    host, port = hostport.split(":")
    port = int(port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    out = {"peak_before": vm(pid, "VmHWM")}
    if mode == "big":
        conns, frame, send, secs = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
        sent = [0]
        deadline = time.time() + secs

        async def run():
            head = struct.pack(">i", frame)
            await asyncio.gather(*(stream(host, port, head, send, deadline, sent) for _ in range(conns)))
        asyncio.run(run())
        out["sent"] = sent[0]
    elif mode == "stall":
        frame, send, secs = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(struct.pack(">i", frame) + b"\0" * send)
        t0 = time.time()
        s.settimeout(secs)
        try:
            out["closed"] = s.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            out["closed"] = True
        except socket.timeout:
            out["closed"] = False
        out["after_s"] = round(time.time() - t0, 2)
        s.close()
    else:
        conns = int(sys.argv[4])
        huge = socket.create_connection((host, port), timeout=10)
        huge.sendall(struct.pack(">I", 0x7fffffff) + b"\0" * 4096)
        socks = []
        for _ in range(conns):
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(struct.pack(">i", 1 << 20) + b"\0\x12\0\x03")
            socks.append(s)
        out["opened"] = len(socks)
        huge.settimeout(10)
        try:
            closed = huge.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        except socket.timeout:
            closed = False
        out["huge_closed"] = closed
        out["rss_open"] = vm(pid, "VmRSS")
        for s in socks:
            s.close()
    out["peak"] = vm(pid, "VmHWM")
    print(json.dumps(out))


main()
