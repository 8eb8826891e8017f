#!/usr/bin/env bash
# What brokers hold, measured (issue 16, findings 3 and 11): a storage quota is enforced on
# the bytes the broker reports for every segment of every replica (retention never deletes
# the active segment, so `retention.bytes=1` once let a tenant with a 300 KB quota store
# 50 MiB segments); a partition the broker could not create is reported, and produce and
# fetch answer 503 with the broker's reason at once instead of waiting on it; placement
# refuses partitions the pool's brokers have no room for (their partitions_total_max).
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start
step "acme with a 300 KB storage quota, globex with none; a broker holding 3 topics at most"
# Reports and their reading every 200 ms rather than every 10 s and 5 s.
export BROKER_USAGE_REPORT_MS=200 GATEWAY_STORAGE_POLL_MS=200 BROKER_TOPICS_MAX=3
gw_stack acme globex
expect_status 200 PATCH /v1/tenants/acme/quotas '{"storage_bytes": 300000}'
abase="/kafka/v3/clusters/${CLUSTER[acme]}"
gbase="/kafka/v3/clusters/${CLUSTER[globex]}"
# partitions x retention.bytes is 1 byte: the quota's check on configs lets it through.
expect_rest 201 acme h1 POST "$abase/topics" \
    '{"topic_name": "orders", "partitions_count": 1, "configs": [{"name": "retention.bytes", "value": "1"}]}'
expect_rest 201 globex h1 POST "$gbase/topics" '{"topic_name": "free", "partitions_count": 1}'
python3 - "$T/batch.ndjson" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(100):  # about 50 KB of values
        f.write('{"value": {"type": "STRING", "data": "%s"}}\n' % (("%05d" % i) * 100))
PY

step "acme produces until the measured bytes reach its quota: then 429, globex is served"
produced=0
refused() {
    rest acme h1 POST "$abase/topics/orders/records" "@$T/batch.ndjson" >"$T/last.json"
    case $STATUS in
    200) produced=$((produced + 1)); return 1 ;;
    429) grep 'storage quota' "$T/last.json" >/dev/null || fail "429 without the reason: $(cat "$T/last.json")" ;;
    *) fail "produce: status $STATUS: $(cat "$T/last.json")" ;;
    esac
}
wait_for 60 "acme's produce is refused for its storage" refused
echo "acme produced $produced batches of about 50 KB before the refusal"
[ "$produced" -ge 6 ] || fail "refused after $produced batches, before the quota was reached"
grep -i '^retry-after: [1-9]' "$HEADERS" >/dev/null || fail "no Retry-After on the refusal"
[ "$(grpc_check status Produce acme '{"topic": "orders", "records": [{"value": "eA=="}]}')" = RESOURCE_EXHAUSTED ] ||
    fail "gRPC Produce over the storage quota"
expect_status 200 GET /v1/tenants/acme/quotas
used=$(printf '%s' "$BODY" | json_get storage_used_bytes)
[ "$used" -ge 300000 ] || fail "storage_used_bytes $used, under the quota it was refused for"
expect_rest 200 acme h1 GET "$abase/topics/orders/partitions/0/records?offset=0&max_bytes=10000"
expect_rest 200 globex h1 POST "$gbase/topics/free/records" "@$T/batch.ndjson"

step "a higher quota: acme produces again"
expect_status 200 PATCH /v1/tenants/acme/quotas '{"storage_bytes": 100000000}'
accepted() {
    rest acme h1 POST "$abase/topics/orders/records" "@$T/batch.ndjson" >"$T/last.json"
    [ "$STATUS" = 200 ]
}
wait_for 60 "acme's produce is accepted again" accepted

step "a topic the broker cannot create (it holds its topics_max): 503 with the reason at once"
expect_rest 201 globex h1 POST "$gbase/topics" '{"topic_name": "third", "partitions_count": 1}'
expect_rest 201 globex h1 POST "$gbase/topics" '{"topic_name": "fourth", "partitions_count": 1}'
unavailable() {
    rest globex h1 POST "$gbase/topics/fourth/records" '{"value": {"type": "STRING", "data": "x"}}' >"$T/last.json"
    [ "$STATUS" = 503 ] && grep 'could not create this partition' "$T/last.json" >/dev/null
}
wait_for 60 "produce to it answers why" unavailable
grep 'maximum of 3 topics' "$T/last.json" >/dev/null || fail "the reason is not the broker's: $(cat "$T/last.json")"
expect_rest 503 globex h1 GET "$gbase/topics/fourth/partitions/0/records?offset=0"
grep 'could not create this partition' "$T/last.json" >/dev/null || fail "fetch: $(cat "$T/last.json")"
expect_rest 200 globex h1 POST "$gbase/topics/third/records" '{"value": {"type": "STRING", "data": "x"}}'

step "room made on the broker: the partition is created and served"
expect_rest 204 globex h1 DELETE "$gbase/topics/third"
served() {
    rest globex h1 POST "$gbase/topics/fourth/records" '{"value": {"type": "STRING", "data": "x"}}' >"$T/last.json"
    [ "$STATUS" = 200 ]
}
wait_for 60 "the partition is served once the broker holds it" served

step "placement: a pool whose brokers hold their partitions_total_max refuses more (42203)"
broker_stop
managed_broker_start 1 --partitions_total_max=4
registered() { [ "$(psql_q "SELECT partitions_max FROM brokers WHERE id = 1")" = 4 ]; }
wait_for 60 "the broker registered its capacity" registered
expect_status 422 POST /v1/tenants/globex/topics '{"name": "big", "partitions": 2}'
[ "$(printf '%s' "$BODY" | json_get error_code)" = 42203 ] || fail "error code: $BODY"
case $BODY in *"no room"*) ;; *) fail "the refusal does not say why: $BODY" ;; esac
expect_status 201 POST /v1/tenants/globex/topics '{"name": "small", "partitions": 1}'
gw_stop
broker_stop
echo PASS
