#!/usr/bin/env bash
# What clients that never finish a request can make the broker hold is bounded: request
# buffers of all connections together stay within queued_request_bytes_max (Kafka's
# queued.max.request.bytes; past it a connection is not read until others' requests are
# processed), a request begun and not sent on is closed after request_read_timeout_ms, a
# 2 GiB size prefix closes its connection before any buffer grows, and
# 10,000 half-open connections cost a few KiB each. A client with ordinary requests is
# served meanwhile. Issue 16, machinery and acceptance 4.
. "$(dirname "$0")/../lib/harness.sh"
broker_start --queued_request_bytes_max=67108864 --request_read_timeout_ms=2000
"$BIN/kadmin" -b "$BROKER" create ok 1 >/dev/null

step "20 connections, each sending 60 MiB of a 90 MiB request"
python3 "$TEST_LIB/kafka_flood.py" "$BROKER" "$BROKER_PID" big 20 $((90 << 20)) $((60 << 20)) 10 \
    >"$T/big.json" &
flood=$!
starved() { [ "$(metric streamd_broker_requests_starved_total)" -gt 0 ]; }
wait_for 60 "a connection waits for room" starved
"$BIN/kclient" produce -b "$BROKER" -t ok -n 1000 >/dev/null || fail "an ordinary client is not served"
"$BIN/kclient" verify -b "$BROKER" -t ok -p 1 --expect-range 0 1000 || fail "its records"
wait "$flood" || fail "the flood client failed"
cat "$T/big.json"
kill -0 "$BROKER_PID" || fail "the broker died"
python3 - "$T/big.json" "$BUILD_DIR" <<'PY' || fail "what unfinished requests made the broker hold"
import json, sys
d = json.load(open(sys.argv[1]))
# 1.2 GiB offered; the budget is 64 MiB, and the connection that began holding first may
# always grow, so that partial requests never wait on each other for good: the budget plus
# one request (here up to the 60 MiB sent). ASan makes RSS meaningless.
if not sys.argv[2].endswith("asan"):
    assert d["peak"] < 192 << 20, ("peak RSS %d MiB" % (d["peak"] >> 20), d)
PY
held() { [ "$(metric streamd_broker_request_buffer_bytes)" = 0 ]; }
wait_for 60 "the buffers are given back once the connections close" held

step "a request begun and never finished is closed after request_read_timeout_ms"
python3 "$TEST_LIB/kafka_flood.py" "$BROKER" "$BROKER_PID" stall $((10 << 20)) $((1 << 20)) 60 >"$T/stall.json" ||
    fail "the stalling client failed"
cat "$T/stall.json"
python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); assert d["closed"], d' "$T/stall.json" ||
    fail "a stalled request kept its connection"
wait_for 60 "its buffer is given back" held

step "a 2 GiB size prefix, then 10,000 half-open connections"
python3 "$TEST_LIB/kafka_flood.py" "$BROKER" "$BROKER_PID" halfopen 10000 >"$T/half.json" ||
    fail "the half-open client failed"
cat "$T/half.json"
python3 - "$T/half.json" "$BUILD_DIR" <<'PY' || fail "half-open connections"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["huge_closed"], ("the 2 GiB prefix did not close its connection", d)
assert d["opened"] == 10000, d
if not sys.argv[2].endswith("asan"):
    assert d["rss_open"] < 256 << 20, ("RSS %d MiB with 10,000 connections" % (d["rss_open"] >> 20), d)
PY
grep 'request size out of bounds.*size=2147483647' "$BROKER_LOG" >/dev/null || fail "the 2 GiB prefix is not logged"
"$BIN/kclient" verify -b "$BROKER" -t ok -p 1 --expect-range 0 1000 || fail "served after"
broker_stop
echo PASS
