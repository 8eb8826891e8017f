#!/usr/bin/env bash
# A managed broker through the outages the control plane is built for:
#   - idle, the broker re-reads nothing (heartbeats and reconciler passes notify no one);
#   - the broker killed: its lease runs out and the operator API shows it down (and its
#     partitions unavailable) within lease + 5 s; restarted, it registers again, leads its
#     partitions again and serves every record it had;
#   - Postgres stopped for 30 s during produce: the broker keeps accepting and serving
#     records; the control plane answers 503 meanwhile; when Postgres returns both
#     reconnect by themselves, the broker is never marked down, no leader moves, a change
#     made right after the return reaches the broker, and every acknowledged record is there.
. "$(dirname "$0")/../lib/harness.sh"
LEASE_MS=3000
GRACE_MS=5000
pg_start
cp_start --lease_grace_ms=$GRACE_MS
cp_started=$(date +%s%N)

field() { # field PATH JSON-FIELD
    curl -s -H "Authorization: Bearer $OPTOKEN" "http://$CP$1" | json_get "$2" 2>/dev/null
}
broker_is() { [ "$(field /v1/brokers/1 state)" = "$1" ]; }
unavailable_is() { [ "$(field /v1/tenants/acme/topics/orders unavailable_partitions)" = "$1" ]; }
epochs() { # "leader:epoch" of each partition of acme.orders
    psql_q "SELECT string_agg(p.leader || ':' || p.leader_epoch, ' ' ORDER BY p.partition)
            FROM partitions p JOIN topics t ON t.id = p.topic_id WHERE t.name = 'orders'"
}
# The broker serves topic $1 with $2 partitions, all led by broker 1.
served() { [ "$(kcat -L -b "$BROKER" -t "$1" 2>/dev/null | grep -c 'leader 1,')" = "$2" ]; }
# Records stored in acme.orders: the sum of its partitions' end offsets.
stored() {
    local p n=0
    for p in 0 1 2; do n=$((n + $("$BIN/kadmin" -b "$BROKER" offsets acme.orders $p latest))); done
    echo $n
}
start_managed() {
    BROKER_CONTROL_PLANE_TOKEN=$OPTOKEN broker_start --node_id=1 --database_url="$PG_URL" \
        --lease_ms=$LEASE_MS --control_plane_url="http://$CP"
}

step "a managed broker and tenant acme's topic orders (3 partitions) with 100 records"
expect_status 201 POST /v1/pools '{"name": "default"}'
expect_status 201 POST /v1/tenants '{"name": "acme"}'
start_managed
wait_for 5 "the broker registered" broker_is up
expect_status 201 POST /v1/tenants/acme/topics '{"name": "orders", "partitions": 3}'
wait_for 5 "the broker serves acme.orders" served acme.orders 3
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 100 >/dev/null || fail "first produce"

step "heartbeats and reconciler passes that change nothing wake no broker"
before=$(metric streamd_broker_cluster_snapshots_total)
sleep 3 # three heartbeats, fifteen reconciler passes
[ "$(metric streamd_broker_cluster_snapshots_total)" = "$before" ] ||
    fail "snapshots re-read while nothing changed: $before, then $(metric streamd_broker_cluster_snapshots_total)"

step "the broker killed: down within lease + 5 s, its partitions unavailable"
# The control plane expires no lease during its grace period after connecting.
while [ $(($(date +%s%N) - cp_started)) -lt $((GRACE_MS * 1000000)) ]; do sleep 0.2; done
killed=$(date +%s%N)
broker_kill
wait_for $((LEASE_MS / 1000 + 5)) "broker 1 shown down" broker_is down
echo "shown down after $((($(date +%s%N) - killed) / 1000000)) ms (lease $LEASE_MS ms)"
wait_for 2 "partitions shown unavailable" unavailable_is 3

step "restarted: it registers again, leads again and serves every record"
start_managed
wait_for 5 "broker 1 shown up" broker_is up
wait_for 5 "partitions available" unavailable_is 0
wait_for 5 "the broker leads acme.orders again" served acme.orders 3
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 100 --start 100 >/dev/null ||
    fail "produce after the restart"
"$BIN/kclient" verify -b "$BROKER" -t acme.orders -p 3 --expect-range 0 200 >/dev/null ||
    fail "records lost across the kill"

step "Postgres stopped for 30 s during produce"
before=$(epochs)
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 6000 --start 200 --rate 150 \
    --acked "$T/acked" >"$T/produce.out" 2>&1 &
producer=$!
sleep 3
pg_stop
stopped=$(date +%s)
sleep 2
curl -s -o /dev/null -w '%{http_code}' "http://$CP/readyz" | grep -qx 503 ||
    fail "/readyz does not show the database away"
out=$(curl -s -i -X POST -H "Authorization: Bearer $OPTOKEN" \
    --data-binary '{"name": "during"}' "http://$CP/v1/tenants/acme/topics")
grep -q '^HTTP/[0-9.]* 503' <<<"$out" || fail "a change during the outage: $out"
grep -qi '^retry-after:' <<<"$out" || fail "no Retry-After on 503"
early=$(stored)
sleep $((30 - ($(date +%s) - stopped)))
late=$(stored)
echo "records stored during the outage: $early after 2 s, $late after 30 s"
[ "$late" -gt $((early + 2000)) ] || fail "the broker stopped accepting records"
# The producer is still writing its log: leave out the last, maybe partial, line; and
# records beyond the acknowledged ones may be read.
sed '$d' "$T/acked" >"$T/acked-so-far"
"$BIN/kclient" verify -b "$BROKER" -t acme.orders -p 3 --acked "$T/acked-so-far" \
    --produced 6200 >/dev/null || fail "acknowledged records not served during the outage"

step "Postgres back: both reconnect by themselves; nothing moved; changes flow again"
pg_start
wait_for 15 "the control plane ready again" curl -sf "http://$CP/readyz" -o /dev/null
wait_for 10 "a topic created after the return" \
    bash -c "curl -sf -o /dev/null -X POST -H 'Authorization: Bearer $OPTOKEN' \
        --data-binary '{\"name\": \"after\", \"partitions\": 2}' http://$CP/v1/tenants/acme/topics"
wait_for 10 "the broker serves acme.after" served acme.after 2
sleep $(((LEASE_MS + GRACE_MS) / 1000 + 1)) # past the grace period and a whole lease
broker_is up || fail "the broker was marked down after the outage"
[ "$(epochs)" = "$before" ] || fail "leaders moved: before '$before', now '$(epochs)'"
grep -q "connected to the control-plane database\" generation=2" "$BROKER_LOG" ||
    fail "the broker did not reconnect"
wait "$producer" || fail "the producer failed: $(tail -n 5 "$T/produce.out")"
"$BIN/kclient" verify -b "$BROKER" -t acme.orders -p 3 --acked "$T/acked" \
    --expect-range 0 6200 >/dev/null || fail "records lost"
echo "x" | kcat -P -b "$BROKER" -t acme.after -p 1 || fail "produce to the new topic"
broker_stop
cp_stop
echo PASS
