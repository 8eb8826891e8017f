#!/usr/bin/python3
"""gRPC checks of the gateway's tenant API (proto/streaming/v1/streaming.proto), with
Debian's python3-grpcio. Run by the e2e tests: `grpc_check.py CHECK`, with the environment
giving the addresses and credentials:

  GRPC, GRPCS      the gateway's plaintext and TLS gRPC addresses (host:port)
  GW_CERT          the TLS certificate to trust
  PB               where protoc wrote the Python message classes (--python_out)
  AUTH_<WHO>       the authorization metadata of caller WHO ("Basic ..." or "Bearer ...")

Exits 0 when every check holds; prints what failed otherwise.
"""
import os
import sys
import time

import grpc

sys.path.insert(0, os.environ["PB"])
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
    # Unknown methods are answered at once, not left to the deadline.
    t0 = time.time()
    code, details = raw(ch, "/streaming.v1.Streaming/NoSuchMethod", b"", "acme", timeout=10)
    check(code == grpc.StatusCode.UNIMPLEMENTED, f"unknown method: {code} {details}")
    code, details = raw(ch, "/other.Service/Call", b"", None, timeout=10)
    check(code == grpc.StatusCode.UNIMPLEMENTED, f"unknown service: {code} {details}")
    check(time.time() - t0 < 3, f"UNIMPLEMENTED took {time.time() - t0:.1f} s")

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


def main():
    checks = {"topics": topics}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        print("usage: grpc_check.py " + "|".join(checks), file=sys.stderr)
        return 2
    checks[sys.argv[1]]()
    print("grpc", sys.argv[1] + ":", "FAILED" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
