#!/usr/bin/env bash
# Consumer groups end. A tenant deleted and made again under the same name finds none of
# its predecessor's groups, lags, committed offsets or metadata (REST v3, gRPC, a Kafka
# client that starts from auto.offset.reset), whether the broker saw the deletion first or
# saw both at once (one SQL transaction between two snapshots). A tenant's groups are
# capped (groups_per_tenant_max; groups_max per broker): one more is refused over gRPC
# (RESOURCE_EXHAUSTED), REST (429, Retry-After) and Kafka, and nothing is made; another
# tenant is not held. An empty group's offsets expire (offsets_retention_ms) and stay gone
# after a restart; a group with a member keeps its offsets.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start

# gcall WHO METHOD JSON: a unary gRPC call; its status in GSTATUS, its answer in $T/g.json.
gcall() {
    grpc_check call "$2" "$1" "$3" >"$T/g.out" 2>"$T/g.err" || fail "grpc_check call $2: $(cat "$T/g.err")"
    GSTATUS=$(head -n 1 "$T/g.out")
    sed -n 2p "$T/g.out" >"$T/g.json"
}

# committed WHO GROUP TOPIC: prints "partition:offset:metadata" per committed offset, sorted.
committed() {
    gcall "$1" GetCommittedOffsets "{\"group\": \"$2\", \"topic\": \"$3\"}"
    [ "$GSTATUS" = OK ] || fail "GetCommittedOffsets $2 as $1: $GSTATUS $(cat "$T/g.err")"
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for o in sorted(d.get("offsets", []), key=lambda o: o.get("partition", 0)):
    print("%d:%s:%s" % (o.get("partition", 0), o.get("offset", "0"), o.get("metadata", "")))' "$T/g.json"
}

# groups WHO: the consumer groups REST v3 lists for WHO, space-separated.
groups() {
    expect_rest 200 "$1" h1 GET "/kafka/v3/clusters/${CLUSTER[$1]}/consumer-groups"
    python3 -c '
import json, sys
print(" ".join(sorted(g["consumer_group_id"] for g in json.load(open(sys.argv[1]))["data"])))' "$T/last.json"
}

# kafka_read GROUP TOPIC: what a Kafka client in GROUP reads from the start of its
# committed offsets (auto.offset.reset=earliest without them), one "partition offset" a
# line, until the end of every partition; the count goes to stdout.
kafka_read() {
    kcat -b "$BROKER" -G "$1" -X auto.offset.reset=earliest -X enable.auto.commit=true \
        -X auto.commit.interval.ms=100 -e -q -f '%p %o\n' "$2" >"$T/kcat.out" 2>"$T/kcat.err" ||
        fail "kcat in $1: $(tail -3 "$T/kcat.err")"
    wc -l <"$T/kcat.out"
}

# acme_topic N: acme's topic "orders" (3 partitions) with N records, made through REST.
acme_topic() {
    expect_rest 201 acme h2c POST "/kafka/v3/clusters/${CLUSTER[acme]}/topics" \
        '{"topic_name": "orders", "partitions_count": 3}'
    gw_records "$1" 0 >"$T/recs.json"
    expect_rest 200 acme h2c POST "/kafka/v3/clusters/${CLUSTER[acme]}/topics/orders/records" \
        "@$T/recs.json"
}

# acme_key: a key of the (new) tenant acme, once the gateway takes it.
acme_key() {
    gw_key acme acme
    acme_in() { rest acme h1 GET /kafka/v3/clusters >"$T/c.json" && [ "$STATUS" = 200 ]; }
    wait_for 20 "the gateway takes the new acme's key" acme_in
    gw_cluster acme
}

# acme_has_old_groups: acme's groups g1 (gRPC commits with metadata outside any member) and
# g2 (a Kafka client's, read to the end); globex's group g1 beside them.
acme_has_old_groups() {
    gcall acme CommitOffsets '{"group": "g1", "topic": "orders", "offsets": [
        {"partition": 0, "offset": 5, "metadata": "old-meta"},
        {"partition": 1, "offset": 5, "metadata": "old-meta"},
        {"partition": 2, "offset": 5, "metadata": "old-meta"}]}'
    [ "$GSTATUS" = OK ] || fail "CommitOffsets: $GSTATUS $(cat "$T/g.err")"
    [ "$(committed acme g1 orders | tr '\n' ' ')" = "0:5:old-meta 1:5:old-meta 2:5:old-meta " ] ||
        fail "acme's commits: $(cat "$T/g.json")"
    [ "$(kafka_read acme.g2 acme.orders)" = 30 ] || fail "acme.g2 read $(wc -l <"$T/kcat.out") of 30"
    [ "$(groups acme)" = "g1 g2" ] || fail "acme's groups: $(cat "$T/last.json")"
    expect_rest 200 acme h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/consumer-groups/g2/lags"
}

# acme_sees_nothing_old N: the new acme, with a topic of the same name holding N records,
# finds no group, lag, commit or metadata of the old one; a Kafka client reads from 0.
acme_sees_nothing_old() {
    local base="/kafka/v3/clusters/${CLUSTER[acme]}"
    [ "$(groups acme)" = "" ] || fail "the new acme lists the old acme's groups: $(cat "$T/last.json")"
    expect_rest 404 acme h1 GET "$base/consumer-groups/g1"
    expect_rest 404 acme h1 GET "$base/consumer-groups/g2"
    expect_rest 404 acme h1 GET "$base/consumer-groups/g2/lags"
    expect_rest 404 acme h1 GET "$base/consumer-groups/g2/lag-summary"
    [ "$(committed acme g1 orders)" = "" ] || fail "the new acme reads old commits: $(cat "$T/g.json")"
    [ "$(committed acme g2 orders)" = "" ] || fail "the new acme reads old commits: $(cat "$T/g.json")"
    [ "$(kafka_read acme.g1 acme.orders)" = "$1" ] ||
        fail "a Kafka client in acme.g1 read $(wc -l <"$T/kcat.out") of $1 records: it resumed from old offsets"
    [ "$(groups globex)" = "g1" ] || fail "globex's group is gone: $(cat "$T/last.json")"
}

step "two tenants, a broker, the gateway"
gw_stack acme globex
expect_rest 201 globex h2c POST "/kafka/v3/clusters/${CLUSTER[globex]}/topics" \
    '{"topic_name": "orders", "partitions_count": 1}'
gcall globex CommitOffsets '{"group": "g1", "topic": "orders", "offsets": [{"partition": 0, "offset": 0}]}'
[ "$GSTATUS" = OK ] || fail "globex's commit: $GSTATUS $(cat "$T/g.err")"

step "acme commits in two groups, then is deleted and made again through the operator API"
acme_topic 30
acme_has_old_groups
expect_status 204 DELETE /v1/tenants/acme/topics/orders
# The broker applies the topic's deletion before the tenant goes, so that what follows
# depends on its hearing of the tenant itself.
one_topic() { [ "$(metric streamd_broker_topics)" = 1 ]; }
wait_for 15 "the broker deletes acme.orders" one_topic
[ "$(groups acme)" = "g1 g2" ] || fail "acme's groups went with its topic: $(cat "$T/last.json")"
expect_status 204 DELETE /v1/tenants/acme
expect_status 201 POST /v1/tenants '{"name": "acme"}'
acme_key
# The broker hears of tenants at once, not at its 30 s resync: before the new acme has any
# topic (whose creation would wake the broker), it lists no group.
no_groups() { [ "$(groups acme)" = "" ]; }
wait_for 15 "the broker removes the deleted acme's groups" no_groups
# Its first records are stored once the broker applied a snapshot with the new topic,
# and so with the new tenant: nothing may wait any longer from here.
acme_topic 20
acme_sees_nothing_old 20

step "again, deleted and made again in one transaction: no snapshot between the two"
expect_status 204 DELETE /v1/tenants/acme/topics/orders
acme_topic 30
acme_has_old_groups
psql_q "BEGIN;
    DELETE FROM topics WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'acme');
    DELETE FROM tenants WHERE name = 'acme';
    WITH t AS (INSERT INTO tenants (name, pool_id)
               SELECT 'acme', id FROM broker_pools WHERE name = 'default' RETURNING id),
         p AS (INSERT INTO principals (tenant_id, name, is_admin, description)
               SELECT id, 'owner', true, 'made again' FROM t)
    INSERT INTO quotas (tenant_id) SELECT id FROM t;
    COMMIT;" >/dev/null
acme_key
acme_topic 25
acme_sees_nothing_old 25

# broker_restart [--flag=value ...]: the managed broker again, with these options, once the
# gateway reaches it.
broker_restart() {
    broker_stop
    managed_broker_start 1 "$@"
    gw_reaches() {
        rest acme h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/consumer-groups" >/dev/null &&
            [ "$STATUS" = 200 ]
    }
    wait_for 30 "the gateway reaches the restarted broker" gw_reaches
}

# commit_in WHO GROUP: a gRPC commit of offset 1 of partition 0 of WHO's "orders" in GROUP,
# outside any member; its status in GSTATUS.
commit_in() {
    gcall "$1" CommitOffsets "{\"group\": \"$2\", \"topic\": \"orders\",
        \"offsets\": [{\"partition\": 0, \"offset\": 1, \"metadata\": \"m\"}]}"
}

step "groups per tenant and per broker are capped: one more is refused, and nothing made"
v2="/kafka/v2/clusters/${CLUSTER[acme]}/consumers"
broker_restart --groups_per_tenant_max=3 --groups_max=5
[ "$(groups acme)" = "g1" ] || fail "acme's groups: $(cat "$T/last.json")"
commit_in acme g2
[ "$GSTATUS" = OK ] || fail "acme's second group: $GSTATUS $(cat "$T/g.err")"
expect_rest 200 acme h1 POST "$v2/g3" '{"name": "c1", "auto.offset.reset": "earliest"}'
expect_rest 204 acme h1 POST "$v2/g3/instances/c1/subscription" '{"topics": ["orders"]}'
expect_rest 200 acme h1 GET "$v2/g3/instances/c1/records?timeout=5000"
[ "$(groups acme)" = "g1 g2 g3" ] || fail "acme's groups: $(cat "$T/last.json")"
# A fourth: gRPC CommitOffsets, a gRPC group Consume, a REST consumer, a Kafka client.
commit_in acme g4
[ "$GSTATUS" = RESOURCE_EXHAUSTED ] && grep -q groups_per_tenant_max "$T/g.err" ||
    fail "acme's fourth group by CommitOffsets: $GSTATUS $(cat "$T/g.err")"
got=$(grpc_check status Consume acme '{"topic": "orders", "group": "g5"}' 2>"$T/g.err")
[ "$got" = RESOURCE_EXHAUSTED ] && grep -q groups_per_tenant_max "$T/g.err" ||
    fail "acme's fourth group by Consume: $got $(cat "$T/g.err")"
expect_rest 200 acme h1 POST "$v2/g6" '{"name": "c1", "auto.offset.reset": "earliest"}'
expect_rest 204 acme h1 POST "$v2/g6/instances/c1/subscription" '{"topics": ["orders"]}'
expect_rest 429 acme h1 GET "$v2/g6/instances/c1/records?timeout=5000"
grep -q groups_per_tenant_max "$T/last.json" || fail "the 429 does not name the limit: $(cat "$T/last.json")"
grep -qi '^retry-after: [0-9]' "$HEADERS" || fail "the 429 has no Retry-After: $(cat "$HEADERS")"
kcat -b "$BROKER" -G acme.g7 -X auto.offset.reset=earliest -q acme.orders >/dev/null 2>"$T/g7.err" &
G7_PID=$!
trap 'rc=$?; kill -9 "$G7_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT
g7_refused() { grep -qi "group authorization failed" "$T/g7.err"; }
wait_for 20 "a Kafka client's fourth group is refused" g7_refused
kill "$G7_PID" 2>/dev/null || true # it may have stopped on the error
wait "$G7_PID" 2>/dev/null || true
[ "$(groups acme)" = "g1 g2 g3" ] || fail "a refused group was made: $(cat "$T/last.json")"
[ "$(metric streamd_broker_groups_refused_total)" -ge 4 ] ||
    fail "refusals counted: $(metric streamd_broker_groups_refused_total)"
# globex is not held by acme's limit; the broker's (5 in all) holds it after its second.
commit_in globex g2
[ "$GSTATUS" = OK ] || fail "globex's second group: $GSTATUS $(cat "$T/g.err")"
[ "$(groups globex)" = "g1 g2" ] || fail "globex's groups: $(cat "$T/last.json")"
commit_in globex g3
[ "$GSTATUS" = RESOURCE_EXHAUSTED ] && grep -q groups_max "$T/g.err" ||
    fail "globex's third group (the broker's sixth): $GSTATUS $(cat "$T/g.err")"
expect_rest 204 acme h1 DELETE "$v2/g3/instances/c1"
expect_rest 204 acme h1 DELETE "$v2/g6/instances/c1"

step "an empty group's offsets expire; a group with a member keeps its offsets"
v2="/kafka/v2/clusters/${CLUSTER[acme]}/consumers"
broker_restart --offsets_retention_ms=4000 --offsets_retention_check_ms=200
# A member of "live" reads everything and commits once, then stays.
expect_rest 200 acme h1 POST "$v2/live" \
    '{"name": "c1", "auto.offset.reset": "earliest", "auto.commit.enable": "false"}'
expect_rest 204 acme h1 POST "$v2/live/instances/c1/subscription" '{"topics": ["orders"]}'
read_all() {
    rest acme h1 GET "$v2/live/instances/c1/records?timeout=1000" >/dev/null
    expect_rest 204 acme h1 POST "$v2/live/instances/c1/offsets"
    [ "$(committed acme live orders | cut -d: -f2 | paste -sd+ | bc)" = 25 ]
}
wait_for 30 "the live member reads and commits all 25 records" read_all
# Then a group with commits and no member.
commit_in acme gone
[ "$GSTATUS" = OK ] || fail "a commit in gone: $GSTATUS $(cat "$T/g.err")"
[ "$(committed acme gone orders)" = "0:1:m" ] || fail "gone's commit: $(cat "$T/g.json")"
gone_expired() { [ "$(committed acme gone orders)" = "" ]; }
wait_for 60 "gone's offsets expire" gone_expired
expect_rest 404 acme h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/consumer-groups/gone"
# live's commit is older than gone's, so past the retention too: its member keeps it.
[ "$(committed acme live orders | cut -d: -f2 | paste -sd+ | bc)" = 25 ] ||
    fail "the live group lost its offsets: $(cat "$T/g.json")"
[ "$(metric streamd_broker_offsets_expired_total)" -ge 1 ] || fail "no expiry counted"

step "after a restart (with the default retention) the expired offsets stay gone"
broker_restart
[ "$(committed acme gone orders)" = "" ] || fail "expired offsets came back: $(cat "$T/g.json")"
[ "$(committed acme g2 orders)" = "" ] || fail "expired offsets came back: $(cat "$T/g.json")"
[ "$(committed acme live orders | cut -d: -f2 | paste -sd+ | bc)" = 25 ] ||
    fail "the live group lost its offsets in the restart: $(cat "$T/g.json")"
expect_rest 204 acme h1 DELETE "$v2/live/instances/c1"

gw_stop
broker_stop
echo PASS
