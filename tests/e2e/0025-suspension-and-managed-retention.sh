#!/usr/bin/env bash
# Promises that had no test (issue 16): a suspended tenant is refused everywhere (REST 403,
# gRPC PERMISSION_DENIED), nothing of its data is lost, another tenant is not touched, and
# it gets everything back once active again; and retention deletes whole segments on a
# managed broker, with the log start moving for consumers through the gateway.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start
step "two tenants, acme with a topic of 300 records"
gw_stack acme globex
# Segments of 1 MiB on this pool, so that retention has sealed segments to delete.
expect_status 200 PATCH /v1/pools/default '{"topic_config_bounds": {"segment.bytes": {"min": 1048576}}}'
abase="/kafka/v3/clusters/${CLUSTER[acme]}"
expect_rest 201 acme h1 POST "$abase/topics" \
    '{"topic_name": "orders", "partitions_count": 1, "configs": [{"name": "segment.bytes", "value": "1048576"}]}'
gw_records 300 0 >"$T/r.ndjson"
expect_rest 200 acme h1 POST "$abase/topics/orders/records" "@$T/r.ndjson"

step "acme suspended: REST 403 and gRPC PERMISSION_DENIED, globex served"
expect_status 200 PATCH /v1/tenants/acme '{"state": "suspended"}'
suspended() {
    rest acme h1 GET "$abase/topics" >/dev/null
    [ "$STATUS" = 403 ]
}
wait_for 60 "the gateway refuses the suspended tenant" suspended
expect_rest 403 acme h1 GET "$abase/topics"
grep 'suspended' "$T/last.json" >/dev/null || fail "the refusal does not say why: $(cat "$T/last.json")"
for mode in h2c tls; do
    expect_rest 403 acme $mode GET "$abase/topics/orders"
done
expect_rest 403 acme h1 POST "$abase/topics/orders/records" "@$T/r.ndjson"
expect_rest 403 acme h1 POST "$abase/topics" '{"topic_name": "more"}'
[ "$(grpc_check status ListTopics acme)" = PERMISSION_DENIED ] || fail "gRPC ListTopics for a suspended tenant"
[ "$(grpc_check status Consume acme '{"topic": "orders", "partition": 0, "offset": "0"}')" = PERMISSION_DENIED ] ||
    fail "gRPC Consume for a suspended tenant"
expect_rest 200 globex h1 GET "/kafka/v3/clusters/${CLUSTER[globex]}/topics"
[ "$(grpc_check status ListTopics globex)" = OK ] || fail "globex is refused too"

step "acme active again: its topic and its 300 records are there"
expect_status 200 PATCH /v1/tenants/acme '{"state": "active"}'
active() {
    rest acme h1 GET "$abase/topics/orders" >/dev/null
    [ "$STATUS" = 200 ]
}
wait_for 60 "the gateway serves the tenant again" active
"$BIN/kadmin" -b "$BROKER" offsets acme.orders 0 latest >"$T/latest" 2>/dev/null ||
    fail "the broker's log end of acme.orders"
[ "$(cat "$T/latest")" = 300 ] || fail "acme.orders ends at $(cat "$T/latest"), want 300"

step "retention on the managed broker deletes whole segments and moves the log start"
# About 3 MiB of records in 1 MiB segments, then retention.bytes of 1 MiB.
head -c 2000 /dev/zero | tr '\0' x >"$T/big"
python3 -c 'import json,sys; v=open(sys.argv[1]).read(); [print(json.dumps({"key": {"type": "STRING", "data": "k%d" % i}, "value": {"type": "STRING", "data": v}})) for i in range(500)]' \
    "$T/big" >"$T/big.ndjson"
for i in 1 2 3; do
    expect_rest 200 acme h1 POST "$abase/topics/orders/records" "@$T/big.ndjson"
done
segs() { find "$T/data/topics/acme.orders/0" -name '*.log' | wc -l; }
[ "$(segs)" -ge 3 ] || fail "acme.orders has $(segs) segments, want 3 or more"
expect_rest 204 acme h1 PUT "$abase/topics/orders/configs/retention.bytes" '{"value": "1048576"}'
deleted() { [ "$(metric streamd_broker_segments_deleted_total)" -gt 0 ] && [ "$("$BIN/kadmin" -b "$BROKER" offsets acme.orders 0 earliest)" -gt 0 ]; }
wait_for 120 "retention deletes acme.orders' oldest segments" deleted
start=$("$BIN/kadmin" -b "$BROKER" offsets acme.orders 0 earliest)
echo "log start now $start; $(segs) segments"
[ "$(find "$T/data/topics/acme.orders/0" -name "$(printf '%020d' "$start").log" | wc -l)" = 1 ] ||
    fail "no segment starts at the log start $start"
gw_stop
broker_stop
echo PASS
