#!/usr/bin/python3
"""gRPC checks of the gateway's tenant API (proto/streaming/v1/streaming.proto), with
Debian's python3-grpcio. Run by the e2e tests: `grpc_check.py CHECK`, with the environment
giving the addresses and credentials:

  GRPC, GRPCS      the gateway's plaintext and TLS gRPC addresses (host:port)
  GW_CERT          the TLS certificate to trust
  PB               where protoc wrote the Python message classes (--python_out)
  AUTH_<WHO>       the authorization metadata of caller WHO ("Basic ..." or "Bearer ...")
  GW, CLUSTER_ACME the gateway's REST address and acme's cluster id (records check)

Exits 0 when every check holds; prints what failed otherwise.
"""
import base64
import json
import os
import sys
import threading
import time
import urllib.request

import grpc

sys.path.insert(0, os.environ["PB"])
from google.protobuf import json_format  # noqa: E402
from streaming.v1 import streaming_pb2 as pb  # noqa: E402

SERVICE = "/streaming.v1.Streaming/"
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, flush=True)


def channel(tls=False):
    if tls:
        with open(os.environ["GW_CERT"], "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        return grpc.secure_channel(os.environ["GRPCS"], creds,
                                   options=[("grpc.ssl_target_name_override", "localhost")])
    return grpc.insecure_channel(os.environ["GRPC"])


def auth(who):
    if who is None:
        return []
    v = os.environ.get("AUTH_" + who.upper(), who)
    return [("authorization", v)]


def call(ch, method, req, resp_cls, who, timeout=10):
    """(status code, response or None, details, trailing metadata dict)"""
    fn = ch.unary_unary(SERVICE + method, request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=resp_cls.FromString)
    try:
        resp, c = fn.with_call(req, metadata=auth(who), timeout=timeout)
        return grpc.StatusCode.OK, resp, "", dict(c.trailing_metadata() or ())
    except grpc.RpcError as e:
        return e.code(), None, e.details(), dict(e.trailing_metadata() or ())


def raw(ch, method, payload, who, timeout=10):
    fn = ch.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        fn(payload, metadata=auth(who), timeout=timeout)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


def names(ch, who):
    code, resp, details, _ = call(ch, "ListTopics", pb.ListTopicsRequest(), pb.ListTopicsResponse, who)
    check(code == grpc.StatusCode.OK, f"ListTopics as {who}: {code} {details}")
    return [t.name for t in resp.topics] if resp else []


def wait_for(fn, what, seconds=10):
    until = time.time() + seconds
    while time.time() < until:
        if fn():
            return True
        time.sleep(0.1)
    check(False, what)
    return False


def topics():
    ch = channel()
    # Unknown methods are answered, not left to the deadline (which would end the call
    # with DEADLINE_EXCEEDED instead).
    code, details = raw(ch, "/streaming.v1.Streaming/NoSuchMethod", b"", "acme", timeout=10)
    check(code == grpc.StatusCode.UNIMPLEMENTED, f"unknown method: {code} {details}")
    code, details = raw(ch, "/other.Service/Call", b"", None, timeout=10)
    check(code == grpc.StatusCode.UNIMPLEMENTED, f"unknown service: {code} {details}")

    # Credentials.
    for who, what in ((None, "no credentials"), ("Basic !!!", "a malformed header"),
                      ("Bearer ", "an empty token"), ("wrong", "a wrong secret")):
        code, _, details, _ = call(ch, "ListTopics", pb.ListTopicsRequest(), pb.ListTopicsResponse, who)
        check(code == grpc.StatusCode.UNAUTHENTICATED, f"{what}: {code} {details}")

    # A malformed request message.
    code, details = raw(ch, SERVICE + "DescribeTopic", b"\xff\xff\xff", "acme")
    check(code == grpc.StatusCode.INVALID_ARGUMENT, f"garbage request: {code} {details}")

    # acme creates, lists, describes.
    req = pb.CreateTopicRequest(name="orders", partitions=3, configs={"retention.ms": "3600000"})
    code, t, details, _ = call(ch, "CreateTopic", req, pb.Topic, "acme")
    check(code == grpc.StatusCode.OK and t.name == "orders" and t.partitions == 3,
          f"CreateTopic: {code} {details} {t}")
    code, _, details, _ = call(ch, "CreateTopic", req, pb.Topic, "acme")
    check(code == grpc.StatusCode.ALREADY_EXISTS, f"CreateTopic again: {code} {details}")
    code, _, details, _ = call(ch, "CreateTopic", pb.CreateTopicRequest(name=""), pb.Topic, "acme")
    check(code == grpc.StatusCode.INVALID_ARGUMENT, f"CreateTopic without a name: {code} {details}")
    check("orders" in names(ch, "acme"), "acme's ListTopics lacks orders")
    code, t, details, _ = call(ch, "DescribeTopic", pb.DescribeTopicRequest(name="orders"), pb.Topic, "acme")
    check(code == grpc.StatusCode.OK and t.partitions == 3 and t.configs.get("retention.ms") == "3600000",
          f"DescribeTopic: {code} {details} {t}")

    # globex sees nothing of it and cannot delete it.
    check("orders" not in names(ch, "globex"), "globex's ListTopics shows acme's topic")
    for method, req, cls in (("DescribeTopic", pb.DescribeTopicRequest(name="orders"), pb.Topic),
                             ("DeleteTopic", pb.DeleteTopicRequest(name="orders"), pb.DeleteTopicResponse)):
        code, _, details, _ = call(ch, method, req, cls, "globex")
        check(code == grpc.StatusCode.NOT_FOUND and "acme" not in details,
              f"globex {method} of acme's topic: {code} {details}")
    code, _, details, _ = call(ch, "DescribeTopic", pb.DescribeTopicRequest(name="nothing"), pb.Topic, "globex")
    check(code == grpc.StatusCode.NOT_FOUND, f"a missing topic: {code} {details}")

    # The same over TLS.
    tls = channel(tls=True)
    check("orders" in names(tls, "acme"), "acme's ListTopics over TLS lacks orders")

    # acme deletes it.
    code, _, details, _ = call(ch, "DeleteTopic", pb.DeleteTopicRequest(name="orders"),
                               pb.DeleteTopicResponse, "acme")
    check(code == grpc.StatusCode.OK, f"DeleteTopic: {code} {details}")
    wait_for(lambda: "orders" not in names(ch, "acme"), "orders still listed after DeleteTopic")


def produce_stream(ch, reqs, who, timeout=30):
    fn = ch.stream_stream(SERVICE + "ProduceStream", request_serializer=lambda m: m.SerializeToString(),
                          response_deserializer=pb.ProduceResponse.FromString)
    try:
        return grpc.StatusCode.OK, list(fn(iter(reqs), metadata=auth(who), timeout=timeout)), ""
    except grpc.RpcError as e:
        return e.code(), None, e.details()


def consume(ch, req, who, timeout=30):
    """(status, records, details) of a Consume stream read to its end."""
    fn = ch.unary_stream(SERVICE + "Consume", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=pb.ConsumeResponse.FromString)
    got = []
    try:
        for m in fn(req, metadata=auth(who), timeout=timeout):
            got.extend(m.records)
        return grpc.StatusCode.OK, got, ""
    except grpc.RpcError as e:
        return e.code(), got, e.details()


def rest(method, path, body=None, who="acme"):
    req = urllib.request.Request("http://" + os.environ["GW"] + "/kafka/v3/clusters/" +
                                 os.environ["CLUSTER_ACME"] + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", os.environ["AUTH_" + who.upper()])
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def rec(key, value, headers=(), ts=0, partition=None):
    r = pb.Record(headers=[pb.Header(key=k, value=v) for k, v in headers], timestamp_ms=ts)
    if key is not None:
        r.key = key
    if value is not None:
        r.value = value
    if partition is not None:
        r.partition = partition
    return r


def same(a, b):
    """Records equal in key, value (with null told from empty), headers and, when b has one,
    timestamp."""
    return (a.WhichOneof("key_or_null") == b.WhichOneof("key_or_null") and a.key == b.key and
            a.WhichOneof("value_or_null") == b.WhichOneof("value_or_null") and a.value == b.value and
            [(h.key, h.value) for h in a.headers] == [(h.key, h.value) for h in b.headers] and
            (b.timestamp_ms == 0 or a.timestamp_ms == b.timestamp_ms))


def records():
    ch = channel()
    code, t, details, _ = call(ch, "CreateTopic", pb.CreateTopicRequest(name="events", partitions=3),
                               pb.Topic, "acme")
    check(code == grpc.StatusCode.OK, f"CreateTopic events: {code} {details}")
    sent = {}  # (partition, offset) -> the record sent

    # Unary: keys, null and empty keys and values, headers, explicit partitions, timestamps.
    batch = [rec(b"k%d" % i if i % 3 else None, b"v" * i if i % 5 else None,
                 headers=[("h", b"x%d" % i), ("empty", b"")] if i % 2 else (),
                 ts=1700000000000 + i if i % 4 == 0 else 0,
                 partition=i % 3 if i % 7 == 0 else None) for i in range(60)]
    batch.append(rec(b"", b""))
    code, res, details, _ = call(ch, "Produce", pb.ProduceRequest(topic="events", records=batch),
                                 pb.ProduceResponse, "acme")
    check(code == grpc.StatusCode.OK and len(res.results) == len(batch) and
          all(r.code == 0 for r in res.results), f"Produce: {code} {details}")
    for r, x in zip(res.results if res else [], batch):
        sent[(r.partition, r.offset)] = x
        if x.WhichOneof("partition_or_any"):
            check(r.partition == x.partition, f"record for partition {x.partition} went to {r.partition}")
        if x.timestamp_ms:
            check(r.timestamp_ms == x.timestamp_ms, f"timestamp {x.timestamp_ms} came back {r.timestamp_ms}")

    # Keys land where a Kafka client's murmur2 partitioner puts them: equal keys together.
    by_key = {}
    for r, x in zip(res.results if res else [], batch):
        if x.WhichOneof("key_or_null") and not x.WhichOneof("partition_or_any"):
            by_key.setdefault(x.key, set()).add(r.partition)
    check(all(len(p) == 1 for p in by_key.values()), f"a key went to two partitions: {by_key}")

    # A stream of 40 batches of 50.
    reqs = [pb.ProduceRequest(topic="events", records=[rec(b"s%d" % (i % 17), b"stream %d.%d" % (n, i),
                                                             headers=[("n", b"%d" % n)])
                                                         for i in range(50)]) for n in range(40)]
    code, resps, details = produce_stream(ch, reqs, "acme")
    check(code == grpc.StatusCode.OK and resps is not None and len(resps) == 40,
          f"ProduceStream: {code} {details} {len(resps or [])} answers")
    for q, a in zip(reqs, resps or []):
        check(len(a.results) == 50 and all(r.code == 0 for r in a.results), f"stream batch: {a.results[:1]}")
        for r, x in zip(a.results, q.records):
            sent[(r.partition, r.offset)] = x

    # What REST produced, gRPC reads.
    rest_vals = [f"rest {i}" for i in range(10)]
    out = rest("POST", "/topics/events/records", {"partition_id": 1, "key": {"type": "STRING", "data": "rk"},
                                                   "value": {"type": "STRING", "data": rest_vals[0]},
                                                   "headers": [{"name": "from", "value": base64.b64encode(b"rest").decode()}]})
    check(out.get("error_code") == 200, f"REST produce: {out}")
    sent[(1, out.get("offset"))] = rec(b"rk", rest_vals[0].encode(), headers=[("from", b"rest")])

    # Every record, read back by stream from offset 0 of each partition, is the one sent.
    code, r, details, _ = call(ch, "ListOffsets", pb.ListOffsetsRequest(topic="events", partition=1),
                               pb.ListOffsetsResponse, "acme")
    check(code == grpc.StatusCode.OK and r.earliest == 0 and r.latest > 0, f"ListOffsets: {code} {details} {r}")
    total = 0
    for p in range(3):
        want = sorted(o for (pp, o) in sent if pp == p)
        code, got, details = consume(ch, pb.ConsumeRequest(topic="events", partition=p, offset=0,
                                                           max_records=len(want)), "acme")
        check(code == grpc.StatusCode.OK and [g.offset for g in got] == want,
              f"Consume partition {p}: {code} {details}: offsets {[g.offset for g in got][:5]}... want {want[:5]}...")
        for g in got:
            x = sent.get((p, g.offset))
            check(x is not None and same(g, x) and g.partition == p, f"partition {p} offset {g.offset}: {g} is not {x}")
        total += len(got)
    check(total == len(sent), f"read {total} records of {len(sent)}")

    # What gRPC produced, REST reads.
    p0 = sorted(o for (pp, o) in sent if pp == 0)
    body = rest("GET", "/topics/events/partitions/0/records?offset=0&max_bytes=1048576")
    check([x["offset"] for x in body.get("records", [])] == p0, "REST does not read what gRPC produced")
    for x in body.get("records", []):
        s = sent[(0, x["offset"])]
        v = x.get("value")
        check((v is None) == (s.WhichOneof("value_or_null") is None) and
              (v is None or base64.b64decode(v["data"]) == s.value), f"REST read {x}, gRPC sent {s}")

    # From a time: the first record at or after it.
    code, got, details = consume(ch, pb.ConsumeRequest(topic="events", partition=0, timestamp_ms=1700000000000 + 1,
                                                       max_records=1), "acme")
    check(code == grpc.StatusCode.OK and len(got) == 1 and got[0].timestamp_ms >= 1700000000001,
          f"Consume from a time: {code} {details} {got}")

    # Errors.
    code, _, details, _ = call(ch, "Produce", pb.ProduceRequest(topic="nope", records=[rec(b"k", b"v")]),
                               pb.ProduceResponse, "acme")
    check(code == grpc.StatusCode.NOT_FOUND, f"Produce to a missing topic: {code} {details}")
    code, _, details, _ = call(ch, "Produce", pb.ProduceRequest(topic="events", records=[rec(b"k", b"v", partition=9)]),
                               pb.ProduceResponse, "acme")
    check(code == grpc.StatusCode.INVALID_ARGUMENT, f"Produce to partition 9: {code} {details}")
    code, _, details, _ = call(ch, "Produce", pb.ProduceRequest(topic="events"), pb.ProduceResponse, "acme")
    check(code == grpc.StatusCode.INVALID_ARGUMENT, f"Produce of nothing: {code} {details}")
    code, got, details = consume(ch, pb.ConsumeRequest(topic="events", partition=0, offset=10**9), "acme")
    check(code == grpc.StatusCode.OUT_OF_RANGE, f"Consume past the end: {code} {details}")
    code, got, details = consume(ch, pb.ConsumeRequest(topic="events", partition=7, offset=0), "acme")
    check(code == grpc.StatusCode.NOT_FOUND, f"Consume of partition 7: {code} {details}")
    for method, req, cls in (("Produce", pb.ProduceRequest(topic="events", records=[rec(b"k", b"v")]), pb.ProduceResponse),
                             ("ListOffsets", pb.ListOffsetsRequest(topic="events"), pb.ListOffsetsResponse)):
        code, _, details, _ = call(ch, method, req, cls, "globex")
        check(code == grpc.StatusCode.NOT_FOUND and "acme" not in details, f"globex {method}: {code} {details}")
    code, got, details = consume(ch, pb.ConsumeRequest(topic="events", partition=0, offset=0), "globex")
    check(code == grpc.StatusCode.NOT_FOUND and not got, f"globex Consume: {code} {details}")
    code, resps, details = produce_stream(ch, [pb.ProduceRequest(topic="events", records=[rec(b"k", b"v")])], "globex")
    check(resps is not None and len(resps) == 1 and resps[0].results[0].code == grpc.StatusCode.NOT_FOUND.value[0],
          f"globex ProduceStream: {code} {details} {resps}")

    # A consume stream waits for new records (long poll) and a cancel ends it.
    fn = ch.unary_stream(SERVICE + "Consume", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=pb.ConsumeResponse.FromString)
    it = fn(pb.ConsumeRequest(topic="events", partition=2, offset=0), metadata=auth("acme"), timeout=30)
    n = 0
    for m in it:
        n += len(m.records)
        if n >= len([1 for (pp, _) in sent if pp == 2]):
            break
    code, res, details, _ = call(ch, "Produce", pb.ProduceRequest(topic="events", records=[rec(b"late", b"late", partition=2)]),
                                 pb.ProduceResponse, "acme")
    m = next(it)
    check(len(m.records) == 1 and m.records[0].value == b"late", f"the live record: {m}")
    it.cancel()


def groups():
    ch = channel()
    code, _, details, _ = call(ch, "CreateTopic", pb.CreateTopicRequest(name="grp", partitions=3), pb.Topic, "acme")
    check(code == grpc.StatusCode.OK, f"CreateTopic grp: {code} {details}")
    for n in range(10):  # ten batches in each partition
        batch = [rec(b"k", b"%d.%d" % (p, i), partition=p) for p in range(3) for i in range(n * 10, n * 10 + 10)]
        code, _, details, _ = call(ch, "Produce", pb.ProduceRequest(topic="grp", records=batch), pb.ProduceResponse, "acme")
        check(code == grpc.StatusCode.OK, f"Produce to grp: {code} {details}")
    fn = ch.unary_stream(SERVICE + "Consume", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=pb.ConsumeResponse.FromString)

    # A first member: the whole assignment, records from the start, a commit half way.
    it = fn(pb.ConsumeRequest(topic="grp", group="g1", auto_offset_reset="earliest", max_bytes=1),
            metadata=auth("acme"), timeout=60)
    first = next(it)
    check(first.HasField("assignment") and sorted(first.assignment.partitions) == [0, 1, 2] and
          first.assignment.member_id and not first.records, f"the first message: {first}")
    seen = {}
    for m in it:
        check(not m.HasField("assignment"), f"a second assignment without a rebalance: {m.assignment}")
        for r in m.records:
            seen[(r.partition, r.offset)] = r.value
        if len(seen) >= 150:
            break
    check(len(seen) < 300, f"max_bytes=1 sent {len(seen)} records at once")
    check(all(v == b"%d.%d" % (p, o) for (p, o), v in seen.items()), "records out of place")
    nxt = {p: max(o for (pp, o) in seen if pp == p) + 1 for p in {p for (p, _) in seen}}
    req = pb.CommitOffsetsRequest(group="g1", topic="grp", member_id=first.assignment.member_id,
                                  generation=first.assignment.generation,
                                  offsets=[pb.PartitionOffset(partition=p, offset=o, metadata="m") for p, o in nxt.items()])
    code, _, details, _ = call(ch, "CommitOffsets", req, pb.CommitOffsetsResponse, "acme")
    check(code == grpc.StatusCode.OK, f"CommitOffsets: {code} {details}")
    code, got, details, _ = call(ch, "GetCommittedOffsets", pb.GetCommittedOffsetsRequest(group="g1", topic="grp"),
                                 pb.GetCommittedOffsetsResponse, "acme")
    check(code == grpc.StatusCode.OK and {o.partition: o.offset for o in got.offsets} == nxt and
          all(o.metadata == "m" for o in got.offsets), f"GetCommittedOffsets: {code} {details} {got} want {nxt}")
    it.cancel()

    # Once it left, its generation is over, and a commit outside the group is taken.
    def stale():
        code, _, details, _ = call(ch, "CommitOffsets", req, pb.CommitOffsetsResponse, "acme")
        return code == grpc.StatusCode.FAILED_PRECONDITION
    wait_for(stale, "a commit by a member that left is still taken")

    # The next member resumes where the commit says: every record is read once in all.
    it = fn(pb.ConsumeRequest(topic="grp", group="g1", max_records=300 - sum(nxt.values()),
                              auto_offset_reset="earliest"),
            metadata=auth("acme"), timeout=60)
    rest_ = {}
    try:
        for m in it:
            for r in m.records:
                rest_[(r.partition, r.offset)] = r.value
    except grpc.RpcError as e:
        check(False, f"the second member's stream: {e.code()} {e.details()}")
    check(len(rest_) == 300 - sum(nxt.values()) and all(o >= nxt.get(p, 0) for (p, o) in rest_),
          f"the second member read {len(rest_)} records, not from the commit")
    check(all(rest_[(p, o)] == b"%d.%d" % (p, o) for (p, o) in rest_), "records out of place")

    # Two members at once share the partitions.
    a = fn(pb.ConsumeRequest(topic="grp", group="g2", auto_offset_reset="earliest"), metadata=auth("acme"), timeout=60)
    first_a = next(a)
    b = fn(pb.ConsumeRequest(topic="grp", group="g2", auto_offset_reset="earliest"), metadata=auth("acme"), timeout=60)
    first_b = next(b)
    last_a = first_a.assignment
    for m in a:  # a's new assignment comes after the rebalance b's join started
        if m.HasField("assignment"):
            last_a = m.assignment
            if last_a.generation == first_b.assignment.generation:
                break
    parts_a, parts_b = set(last_a.partitions), set(first_b.assignment.partitions)
    check(parts_a and parts_b and not parts_a & parts_b and parts_a | parts_b == {0, 1, 2} and
          last_a.generation == first_b.assignment.generation,
          f"two members: {last_a} and {first_b.assignment}")
    a.cancel()
    b.cancel()

    # Another tenant reaches none of it.
    for method, req2, cls in (
            ("CommitOffsets", pb.CommitOffsetsRequest(group="g1", topic="grp", offsets=[pb.PartitionOffset(partition=0, offset=1)]),
             pb.CommitOffsetsResponse),
            ("GetCommittedOffsets", pb.GetCommittedOffsetsRequest(group="g1", topic="grp"), pb.GetCommittedOffsetsResponse)):
        code, _, details, _ = call(ch, method, req2, cls, "globex")
        check(code == grpc.StatusCode.NOT_FOUND and "acme" not in details, f"globex {method}: {code} {details}")
    code, got, details = consume(ch, pb.ConsumeRequest(topic="grp", group="g1"), "globex")
    check(code == grpc.StatusCode.NOT_FOUND and not got, f"globex group Consume: {code} {details}")
    code, got, details = consume(ch, pb.ConsumeRequest(topic="grp", group="bad name!"), "acme")
    check(code == grpc.StatusCode.INVALID_ARGUMENT, f"a bad group name: {code} {details}")


UNARY = {
    "CreateTopic": (pb.CreateTopicRequest, pb.Topic),
    "ListTopics": (pb.ListTopicsRequest, pb.ListTopicsResponse),
    "DescribeTopic": (pb.DescribeTopicRequest, pb.Topic),
    "DeleteTopic": (pb.DeleteTopicRequest, pb.DeleteTopicResponse),
    "Produce": (pb.ProduceRequest, pb.ProduceResponse),
    "CommitOffsets": (pb.CommitOffsetsRequest, pb.CommitOffsetsResponse),
    "GetCommittedOffsets": (pb.GetCommittedOffsetsRequest, pb.GetCommittedOffsetsResponse),
    "ListOffsets": (pb.ListOffsetsRequest, pb.ListOffsetsResponse),
}


def status(method, who, request="{}"):
    """Prints the status name of one call: unary methods, Consume (read to its end or its
    first error) and ProduceStream (one message)."""
    ch = channel()
    if method == "Consume":
        code, _, details = consume(ch, json_format.Parse(request, pb.ConsumeRequest()), who, timeout=10)
    elif method == "ProduceStream":
        code, resps, details = produce_stream(ch, [json_format.Parse(request, pb.ProduceRequest())], who)
        if code == grpc.StatusCode.OK and resps and resps[0].results[0].code != 0:
            code = [c for c in grpc.StatusCode if c.value[0] == resps[0].results[0].code][0]
            details = resps[0].results[0].message
    else:
        req_cls, resp_cls = UNARY[method]
        code, _, details, _ = call(ch, method, json_format.Parse(request, req_cls()), resp_cls, who)
    print(code.name)
    print(details, file=sys.stderr)


def call_json(method, who, request="{}"):
    """One unary call: prints its status name, then its response as JSON ("{}" on error),
    and the status details on stderr."""
    req_cls, resp_cls = UNARY[method]
    code, resp, details, _ = call(channel(), method, json_format.Parse(request, req_cls()), resp_cls, who)
    print(code.name)
    print(json_format.MessageToJson(resp, indent=None) if resp is not None else "{}")
    print(details, file=sys.stderr)


def isolation():
    """globex calls every method on acme's topic and group (made here): each is NOT_FOUND
    without a word of acme's, and acme's topic, records and offsets are as they were."""
    ch = channel()
    call(ch, "CreateTopic", pb.CreateTopicRequest(name="secret", partitions=2), pb.Topic, "acme")
    code, res, details, _ = call(ch, "Produce", pb.ProduceRequest(topic="secret", records=[rec(b"k", b"v", partition=0)]),
                                 pb.ProduceResponse, "acme")
    check(code == grpc.StatusCode.OK, f"acme Produce: {code} {details}")
    code, _, details, _ = call(ch, "CommitOffsets", pb.CommitOffsetsRequest(
        group="team", topic="secret", offsets=[pb.PartitionOffset(partition=0, offset=1)]), pb.CommitOffsetsResponse, "acme")
    check(code == grpc.StatusCode.OK, f"acme commit outside the group: {code} {details}")

    def state():
        _, lo, _, _ = call(ch, "ListOffsets", pb.ListOffsetsRequest(topic="secret", partition=0), pb.ListOffsetsResponse, "acme")
        _, co, _, _ = call(ch, "GetCommittedOffsets", pb.GetCommittedOffsetsRequest(group="team", topic="secret"),
                           pb.GetCommittedOffsetsResponse, "acme")
        _, t, _, _ = call(ch, "DescribeTopic", pb.DescribeTopicRequest(name="secret"), pb.Topic, "acme")
        return (lo.latest if lo else None, [(o.partition, o.offset) for o in co.offsets] if co else None,
                t.partitions if t else None)
    before = state()
    check(before == (1, [(0, 1)], 2), f"acme's state: {before}")
    for method, req in (("DescribeTopic", pb.DescribeTopicRequest(name="secret")),
                        ("DeleteTopic", pb.DeleteTopicRequest(name="secret")),
                        ("Produce", pb.ProduceRequest(topic="secret", records=[rec(b"k", b"x", partition=0)])),
                        ("ListOffsets", pb.ListOffsetsRequest(topic="secret", partition=0)),
                        ("CommitOffsets", pb.CommitOffsetsRequest(group="team", topic="secret",
                                                                  offsets=[pb.PartitionOffset(partition=0, offset=0)])),
                        ("GetCommittedOffsets", pb.GetCommittedOffsetsRequest(group="team", topic="secret"))):
        code, _, details, _ = call(ch, method, req, UNARY[method][1], "globex")
        check(code == grpc.StatusCode.NOT_FOUND and "acme" not in details and "secret" in details or
              code == grpc.StatusCode.NOT_FOUND and "acme" not in details,
              f"globex {method} on acme's topic: {code} {details}")
    for req in (pb.ConsumeRequest(topic="secret", partition=0, offset=0),
                pb.ConsumeRequest(topic="secret", partition=0, timestamp_ms=0),
                pb.ConsumeRequest(topic="secret", group="team", auto_offset_reset="earliest")):
        code, got, details = consume(ch, req, "globex", timeout=10)
        check(code == grpc.StatusCode.NOT_FOUND and not got and "acme" not in details,
              f"globex Consume {req}: {code} {details}")
    code, resps, details = produce_stream(ch, [pb.ProduceRequest(topic="secret", records=[rec(b"k", b"x")])], "globex")
    check(code == grpc.StatusCode.OK and resps and resps[0].results[0].code == grpc.StatusCode.NOT_FOUND.value[0] and
          "acme" not in resps[0].results[0].message, f"globex ProduceStream: {code} {details} {resps}")
    # globex's own topic of the same name is its own.
    code, t, details, _ = call(ch, "CreateTopic", pb.CreateTopicRequest(name="secret", partitions=1), pb.Topic, "globex")
    check(code == grpc.StatusCode.OK and t.partitions == 1, f"globex's own secret: {code} {details}")
    check([x for x in names(ch, "globex") if x == "secret"] == ["secret"], "globex's list")
    check(state() == before, f"acme's state changed: {state()} (was {before})")


def quota():
    """acme (100 KB/s produce quota) produces 10 KB records at 500 KB/s over unary Produce:
    RESOURCE_EXHAUSTED with a retry-after trailer, every record acknowledged or refused;
    globex at 200 KB/s at the same time gets everything through. Then a ProduceStream of
    acme's is slowed down to its quota, with every record written."""
    ch = channel()
    for who in ("acme", "globex"):
        call(ch, "CreateTopic", pb.CreateTopicRequest(name="q", partitions=2), pb.Topic, who)
    value = b"x" * 10000
    out = {}

    def drive(who, bps, secs=4):
        res = {"ok": 0, "throttled": 0, "retry_after": set(), "other": [], "elapsed": 0}
        every = len(value) / bps
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < secs:
            code, r, details, tr = call(ch, "Produce", pb.ProduceRequest(topic="q", records=[rec(None, value)]),
                                        pb.ProduceResponse, who)
            if code == grpc.StatusCode.OK and r.results[0].code == 0:
                res["ok"] += 1
            elif code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                res["throttled"] += 1
                res["retry_after"].add(tr.get("retry-after"))
            else:
                res["other"].append(f"{code} {details}")
            n += 1
            pause = t0 + n * every - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        res["elapsed"] = time.monotonic() - t0
        out[who] = res
    ts = [threading.Thread(target=drive, args=("acme", 500000)), threading.Thread(target=drive, args=("globex", 200000))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    a, g = out["acme"], out["globex"]
    # The bucket holds a second's worth (100 KB) and refills at 100 KB/s; every call that
    # got through took its message (over 10 KB) from it. How much got through beyond that
    # depends on how fast this machine is: not checked.
    check(a["throttled"] > 0 and a["ok"] > 0 and not a["other"] and None not in a["retry_after"] and
          a["ok"] * 10000 <= 100000 * (a["elapsed"] + 1), f"acme: {a}")
    check(g["throttled"] == 0 and not g["other"] and g["ok"] > 0, f"globex: {g}")

    # A stream is slowed down, not refused. Each batch starts only once its bytes (over
    # 10 KB) are taken from the bucket, which holds at most 100 KB when the stream starts
    # and refills at 100 KB/s: the 30 batches (over 300 KB) cannot all have started before
    # (300 KB - 100 KB) / 100 KB/s = 2 s. Without the quota they take a fraction of that.
    # (No upper bound: how much longer it takes depends on the machine.)
    t0 = time.monotonic()
    reqs = [pb.ProduceRequest(topic="q", records=[rec(None, value)]) for _ in range(30)]
    code, resps, details = produce_stream(ch, reqs, "acme", timeout=30)
    secs = time.monotonic() - t0
    ok = sum(1 for m in resps or [] for r in m.results if r.code == 0)
    check(code == grpc.StatusCode.OK and ok == 30, f"acme's stream: {code} {details}, {ok} of 30 written")
    check(secs >= 2.0, f"acme's stream of 300 KB took {secs:.2f} s at a quota of 100 KB/s, less than the 2 s the bucket allows")
    print(f"stream: 30 records of 10 KB in {secs:.1f} s", flush=True)


def ignore_retry(who, secs="4"):
    """`who`, over its request quota, calls ListTopics again and again on one channel for
    `secs` seconds whatever the answer: each RESOURCE_EXHAUSTED must come only at its
    retry-after time (without that, thousands a second)."""
    ch = channel()
    t0 = time.monotonic()
    ok = throttled = 0
    retry, other = None, []
    while time.monotonic() - t0 < float(secs):
        code, _, details, tr = call(ch, "ListTopics", pb.ListTopicsRequest(), pb.ListTopicsResponse, who)
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            throttled += 1
            retry = int(tr.get("retry-after", "0"))
        elif code == grpc.StatusCode.OK:
            ok += 1
        else:
            other.append(f"{code} {details}")
    elapsed = time.monotonic() - t0
    print(f"ignoring retry-after for {elapsed:.1f} s: {ok} through, {throttled} throttled "
          f"(retry-after {retry})", flush=True)
    check(throttled >= 1 and retry is not None and retry >= 1 and not other, f"{throttled} {retry} {other}")
    check(retry is None or throttled <= elapsed / retry + 2,
          f"{throttled} throttled answers in {elapsed:.1f} s with retry-after {retry} s")


def abandon():
    """Opens streams (a live consume, a group member, a produce stream mid-way), then dies
    without a word: the gateway must free everything it held for them."""
    ch = channel()
    fn = ch.unary_stream(SERVICE + "Consume", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=pb.ConsumeResponse.FromString)
    live = fn(pb.ConsumeRequest(topic="events", partition=0, offset=0), metadata=auth("acme"))
    next(live)
    member = fn(pb.ConsumeRequest(topic="grp", group="gone", auto_offset_reset="earliest"), metadata=auth("acme"))
    next(member)
    ps = ch.stream_stream(SERVICE + "ProduceStream", request_serializer=lambda m: m.SerializeToString(),
                          response_deserializer=pb.ProduceResponse.FromString)

    def gen():
        yield pb.ProduceRequest(topic="events", records=[rec(b"x", b"y")])
        time.sleep(60)
    out = ps(gen(), metadata=auth("acme"))
    next(out)
    os.kill(os.getpid(), 9)


def acl_revoke():
    """reader, granted READ on acme's topic "orders", consumes it as a stream; once acme
    deletes that ACL the stream ends (NOT_FOUND: reader may no longer see the topic)."""
    acl = {"resource_type": "TOPIC", "resource_name": "orders", "pattern_type": "LITERAL",
           "principal": "User:reader", "host": "*", "operation": "READ", "permission": "ALLOW"}
    rest("POST", "/acls", acl)
    ch = channel()
    fn = ch.unary_stream(SERVICE + "Consume", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=pb.ConsumeResponse.FromString)
    it = fn(pb.ConsumeRequest(topic="orders", partition=0, offset=0), metadata=auth("reader"), timeout=30)
    end = {}

    def read():
        try:
            for _ in it:
                pass
            end["code"] = grpc.StatusCode.OK
        except grpc.RpcError as e:
            end["code"], end["details"] = e.code(), e.details()
    t = threading.Thread(target=read)
    t.start()
    time.sleep(1)
    check(t.is_alive(), f"the stream ended before the ACL was deleted: {end}")
    q = "&".join(f"{k}={v}" for k, v in acl.items() if k != "host")
    rest("DELETE", "/acls?" + q)
    t0 = time.monotonic()
    t.join(10)
    check(not t.is_alive() and end.get("code") in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED),
          f"the stream after the ACL was deleted: {end}")
    print(f"stream ended {time.monotonic() - t0:.1f} s after the ACL was deleted: {end.get('code')}", flush=True)


def conn_cap():
    """acme's cap is 2 connections: two channels with a stream each are taken; a third
    channel's call gets RESOURCE_EXHAUSTED with retry-after; globex is not capped by it; once
    a stream ends, the third channel gets through."""
    chans = [grpc.insecure_channel(os.environ["GRPC"], options=[("grpc.use_local_subchannel_pool", 1)])
             for _ in range(3)]
    fn = [c.unary_stream(SERVICE + "Consume", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=pb.ConsumeResponse.FromString) for c in chans]
    call(chans[0], "CreateTopic", pb.CreateTopicRequest(name="capped", partitions=1), pb.Topic, "acme")
    call(chans[0], "Produce", pb.ProduceRequest(topic="capped", records=[rec(b"k", b"v")]), pb.ProduceResponse, "acme")
    streams = [fn[i](pb.ConsumeRequest(topic="capped", partition=0, offset=0), metadata=auth("acme"), timeout=30)
               for i in range(2)]
    for st in streams:
        next(st)
    code, _, details, tr = call(chans[2], "ListTopics", pb.ListTopicsRequest(), pb.ListTopicsResponse, "acme")
    check(code == grpc.StatusCode.RESOURCE_EXHAUSTED and tr.get("retry-after"),
          f"a third connection: {code} {details} {tr}")
    code, _, details, _ = call(chans[2], "ListTopics", pb.ListTopicsRequest(), pb.ListTopicsResponse, "globex")
    check(code == grpc.StatusCode.OK, f"globex on the third connection: {code} {details}")
    code, _, details, _ = call(chans[0], "ListTopics", pb.ListTopicsRequest(), pb.ListTopicsResponse, "acme")
    check(code == grpc.StatusCode.OK, f"a call on a counted connection: {code} {details}")
    streams[1].cancel()
    wait_for(lambda: call(chans[2], "ListTopics", pb.ListTopicsRequest(), pb.ListTopicsResponse, "acme")[0] ==
             grpc.StatusCode.OK, "the slot of an ended stream was not freed")
    streams[0].cancel()


def main():
    checks = {"abandon": abandon, "acl_revoke": acl_revoke, "conn_cap": conn_cap, "acl_revoke": acl_revoke, "topics": topics, "records": records, "groups": groups, "isolation": isolation,
              "quota": quota, "status": status, "call": call_json, "ignore_retry": ignore_retry}
    if len(sys.argv) < 2 or sys.argv[1] not in checks:
        print("usage: grpc_check.py " + "|".join(checks) + " [args]", file=sys.stderr)
        return 2
    checks[sys.argv[1]](*sys.argv[2:])
    if sys.argv[1] in ("status", "call"):
        return 0
    print("grpc", sys.argv[1] + ":", "FAILED" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
