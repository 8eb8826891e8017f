#!/usr/bin/env bash
# A tenant's consumer groups over REST, read only (v3 consumer-groups resources): the groups
# of its own namespace with their state, members, assignments, and lag per partition that
# matches the offsets committed and the log ends; another tenant sees none of it, and a
# principal sees only the groups its ACLs let it describe. The group members here are kcat
# clients on the broker's own listener, using the brokers' names ("acme.g1").
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start

step "two tenants, a broker, the gateway; acme has a 3-partition topic with 30 records"
gw_stack acme globex
base="/kafka/v3/clusters/${CLUSTER[acme]}"
gbase="/kafka/v3/clusters/${CLUSTER[globex]}"
expect_rest 201 acme h2c POST "$base/topics" '{"topic_name": "orders", "partitions_count": 3}'
gw_records 30 0 >"$T/r1.json"
expect_rest 200 acme h2c POST "$base/topics/orders/records" "@$T/r1.json"

step "a group reads everything and commits; 10 more records make a lag of 10"
kcat -b "$BROKER" -G acme.g1 -X auto.offset.reset=earliest -X enable.auto.commit=true \
    -X auto.commit.interval.ms=100 -e -q -f '%p %o\n' acme.orders >"$T/g1.out" 2>"$T/g1.err" ||
    fail "kcat: $(tail -3 "$T/g1.err")"
[ "$(wc -l <"$T/g1.out")" -eq 30 ] || fail "the group read $(wc -l <"$T/g1.out") of 30"
gw_records 10 30 >"$T/r2.json"
expect_rest 200 acme h2c POST "$base/topics/orders/records" "@$T/r2.json"
# globex's group of the same name is another group.
kcat -b "$BROKER" -G globex.g1 -X auto.offset.reset=earliest -e -q -f '%o\n' acme.orders \
    >/dev/null 2>&1 || fail "kcat for globex.g1"

step "acme lists its groups and reads g1 with its lags"
expect_rest 200 acme h2c GET "$base/consumer-groups"
python3 - "$T/last.json" <<'PY' || fail "groups: $(cat "$T/last.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "KafkaConsumerGroupList", d
g = [x for x in d["data"]]
assert [x["consumer_group_id"] for x in g] == ["g1"], g
assert g[0]["state"] == "EMPTY" and g[0]["is_simple"] is False, g
assert g[0]["lag_summary"]["related"].endswith("/consumer-groups/g1/lag-summary"), g
PY
expect_rest 200 acme h1 GET "$base/consumer-groups/g1"
[ "$(json_get consumer_group_id <"$T/last.json")" = g1 ] || fail "$(cat "$T/last.json")"
expect_rest 200 acme h1 GET "$base/consumer-groups/g1/lags"
python3 - "$T/last.json" <<'PY' || fail "lags: $(cat "$T/last.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "KafkaConsumerLagList", d
lags = d["data"]
assert sorted(x["partition_id"] for x in lags) == [0, 1, 2], lags
for x in lags:
    assert x["topic_name"] == "orders" and x["consumer_group_id"] == "g1", x
    assert x["log_end_offset"] - x["current_offset"] == x["lag"] >= 0, x
assert sum(x["lag"] for x in lags) == 10, lags
assert sum(x["log_end_offset"] for x in lags) == 40, lags
PY
p=$(json_get data.0.partition_id <"$T/last.json")
lag=$(json_get data.0.lag <"$T/last.json")
expect_rest 200 acme h1 GET "$base/consumer-groups/g1/lags/orders/partitions/$p"
[ "$(json_get lag <"$T/last.json")" = "$lag" ] || fail "$(cat "$T/last.json")"
expect_rest 404 acme h1 GET "$base/consumer-groups/g1/lags/orders/partitions/7"
expect_rest 200 acme h1 GET "$base/consumer-groups/g1/lag-summary"
[ "$(json_get total_lag <"$T/last.json")" = 10 ] || fail "lag summary: $(cat "$T/last.json")"
expect_rest 404 acme h1 GET "$base/consumer-groups/nope"
expect_rest 404 acme h1 GET "$base/consumer-groups/nope/lags"

step "a live member: its consumer and its assignments"
kcat -b "$BROKER" -G acme.g2 -X auto.offset.reset=earliest -X session.timeout.ms=6000 -q \
    -f '%o\n' acme.orders >"$T/g2.out" 2>"$T/g2.err" &
G2_PID=$!
trap 'rc=$?; kill -9 "$G2_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT
g2_stable() {
    rest acme h1 GET "$base/consumer-groups/g2" >"$T/g2.json"
    [ "$STATUS" = 200 ] && [ "$(json_get state <"$T/g2.json")" = STABLE ]
}
wait_for 20 "g2 is stable" g2_stable
expect_rest 200 acme h2c GET "$base/consumer-groups/g2/consumers"
[ "$(json_get data.0.consumer_group_id <"$T/last.json")" = g2 ] || fail "$(cat "$T/last.json")"
id=$(json_get data.0.consumer_id <"$T/last.json")
expect_rest 200 acme h2c GET "$base/consumer-groups/g2/consumers/$id"
[ "$(json_get consumer_id <"$T/last.json")" = "$id" ] || fail "$(cat "$T/last.json")"
expect_rest 200 acme h2c GET "$base/consumer-groups/g2/consumers/$id/assignments"
python3 - "$T/last.json" <<'PY' || fail "assignments: $(cat "$T/last.json")"
import json, sys
d = json.load(open(sys.argv[1]))
got = sorted((x["topic_name"], x["partition_id"]) for x in d["data"])
assert got == [("orders", 0), ("orders", 1), ("orders", 2)], got
PY
expect_rest 404 acme h2c GET "$base/consumer-groups/g2/consumers/nobody"

step "globex sees only its own group, and nothing of acme's"
expect_rest 200 globex h1 GET "$gbase/consumer-groups"
python3 - "$T/last.json" <<'PY' || fail "globex groups: $(cat "$T/last.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert [x["consumer_group_id"] for x in d["data"]] == ["g1"], d
PY
expect_rest 404 globex h1 GET "$gbase/consumer-groups/g2"
expect_rest 404 globex h1 GET "$gbase/consumer-groups/g2/consumers"
expect_rest 404 globex h1 GET "$gbase/consumer-groups/g2/lags"
expect_rest 404 globex h1 GET "$gbase/consumer-groups/g2/lag-summary"
expect_rest 404 globex h1 GET "$base/consumer-groups/g2"
expect_rest 404 globex h1 GET "$base/consumer-groups"
# globex's g1 committed nothing on its own topics: no lag rows leak acme's topic.
expect_rest 200 globex h1 GET "$gbase/consumer-groups/g1/lags"
[ "$(json_get data <"$T/last.json")" = "[]" ] || fail "globex lags: $(cat "$T/last.json")"
grep -q 'orders\|acme' "$T/last.json" && fail "globex's answer names acme's things"

step "a principal sees only the groups it may describe"
expect_status 201 POST /v1/tenants/acme/service-accounts '{"name": "reader"}'
gw_key acme reader '{"service_account": "reader"}'
expect_rest 200 reader h1 GET "$base/consumer-groups"
[ "$(json_get data <"$T/last.json")" = "[]" ] || fail "reader lists: $(cat "$T/last.json")"
expect_rest 404 reader h1 GET "$base/consumer-groups/g1"
expect_rest 201 acme h1 POST "$base/acls" \
    '{"resource_type": "GROUP", "resource_name": "g1", "principal": "User:reader", "operation": "READ", "permission": "ALLOW"}'
reader_sees_g1() { rest reader h1 GET "$base/consumer-groups/g1" >/dev/null && [ "$STATUS" = 200 ]; }
wait_for 10 "the ACL applies" reader_sees_g1
expect_rest 200 reader h1 GET "$base/consumer-groups"
[ "$(json_get data.0.consumer_group_id <"$T/last.json")" = g1 ] && [ "$(json_get data <"$T/last.json" | grep -c g2)" = 0 ] ||
    fail "reader lists: $(cat "$T/last.json")"
# Lags only for the topics it may describe: none yet.
expect_rest 200 reader h1 GET "$base/consumer-groups/g1/lags"
[ "$(json_get data <"$T/last.json")" = "[]" ] || fail "reader lags: $(cat "$T/last.json")"

kill "$G2_PID"
wait "$G2_PID" 2>/dev/null || true
gw_stop
broker_stop
echo PASS
