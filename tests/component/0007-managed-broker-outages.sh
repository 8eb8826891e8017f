#!/usr/bin/env bash
# A managed broker through the outages the control plane is built for:
#   - idle, the broker re-reads nothing (heartbeats and reconciler passes notify no one);
#   - the broker killed: once its lease runs out (not before) the operator API shows it
#     down and its partitions unavailable; restarted, it registers again, leads its
#     partitions again and serves every record it had;
#   - Postgres stopped during produce, until the broker has acknowledged 2000 more records
#     and the lease Postgres holds for it has run out: the broker keeps accepting and
#     serving records; the control plane answers 503 meanwhile; when Postgres returns both
#     reconnect by themselves, the broker (heartbeating again) is never marked down, no
#     leader moves, a change made right after the return reaches the broker, and every
#     acknowledged record is there.
# No check bounds how fast any of this happens; waits end only a hang.
. "$(dirname "$0")/../lib/harness.sh"
LEASE_MS=3000
GRACE_MS=5000
pg_start
cp_start --lease_grace_ms=$GRACE_MS

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
start_managed() { managed_broker_start 1 --lease_ms=$LEASE_MS; }
# heartbeats N: waits until broker 1 has renewed its lease N more times (each renewal
# moves brokers.heartbeat_at; a poll that misses one only waits longer).
heartbeats() {
    local want=$1 seen=0 last
    last=$(psql_q "SELECT heartbeat_at FROM brokers WHERE id = 1")
    renewed() {
        local now
        now=$(psql_q "SELECT heartbeat_at FROM brokers WHERE id = 1") || return 1
        [ "$now" = "$last" ] || { last=$now; seen=$((seen + 1)); }
        [ "$seen" -ge "$want" ]
    }
    wait_for 60 "$want lease renewals of broker 1" renewed
}
# passes N: waits until the control plane has counted N more reconciler passes (the first
# may have begun before this was called, and the last is counted just before it commits).
passes() {
    local want=$(($(cp_metric streamd_cp_reconcile_passes_total) + $1))
    passes_reached() { [ "$(cp_metric streamd_cp_reconcile_passes_total)" -ge "$want" ]; }
    wait_for 60 "$1 more reconciler passes" passes_reached
}
cp_metric() { curl -s "http://$CP/metrics" | awk -v m="$1" '$1 == m { printf "%d", $2 }'; }
downs() { psql_q "SELECT count(*) FROM audit_log WHERE action = 'broker.down' AND target = '1'"; }
acked() { cat "$T/acked" 2>/dev/null | wc -l; }

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
heartbeats 3
passes 15
[ "$(metric streamd_broker_cluster_snapshots_total)" = "$before" ] ||
    fail "snapshots re-read while nothing changed: $before, then $(metric streamd_broker_cluster_snapshots_total)"

step "the broker killed: down once its lease has run out, its partitions unavailable"
killed=$(date +%s%N)
broker_kill
# (If the control plane is still in its grace period after connecting, later.)
wait_for 60 "broker 1 shown down" broker_is down
echo "shown down after $((($(date +%s%N) - killed) / 1000000)) ms (lease $LEASE_MS ms)"
[ "$(psql_q "SELECT bool_and(a.at >= b.lease_expires_at) FROM audit_log a, brokers b
             WHERE b.id = 1 AND a.action = 'broker.down' AND a.target = '1'")" = t ] ||
    fail "broker 1 was marked down before its lease ran out"
# The same reconciler pass marks it down and takes its partitions' leadership away.
wait_for 60 "partitions shown unavailable" unavailable_is 3

step "restarted: it registers again, leads again and serves every record"
start_managed
wait_for 5 "broker 1 shown up" broker_is up
wait_for 5 "partitions available" unavailable_is 0
wait_for 5 "the broker leads acme.orders again" served acme.orders 3
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 100 --start 100 >/dev/null ||
    fail "produce after the restart"
"$BIN/kclient" verify -b "$BROKER" -t acme.orders -p 3 --expect-range 0 200 >/dev/null ||
    fail "records lost across the kill"

step "Postgres stopped during produce"
before=$(epochs)
downs_before=$(downs)
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 6000 --start 200 --rate 150 \
    --acked "$T/acked" >"$T/produce.out" 2>&1 &
producer=$!
producing() { [ "$(acked)" -ge 100 ] || { kill -0 "$producer" || fail "the producer ended: $(cat "$T/produce.out")"; false; }; }
wait_for 60 "the producer's first acknowledgements" producing
pg_stop
stopped=$(date +%s%N)
cp_not_ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$CP/readyz")" = 503 ]; }
wait_for 60 "/readyz showing the database away" cp_not_ready
out=$(curl -s -i -X POST -H "Authorization: Bearer $OPTOKEN" \
    --data-binary '{"name": "during"}' "http://$CP/v1/tenants/acme/topics")
grep -q '^HTTP/[0-9.]* 503' <<<"$out" || fail "a change during the outage: $out"
grep -qi '^retry-after:' <<<"$out" || fail "no Retry-After on 503"
early=$(stored)
# The outage lasts until the broker has stored 2000 more records (at the producer's pace,
# 150/s in bursts of 1000, many seconds) and until the lease Postgres holds for the broker
# has run out: it was renewed at the latest when Postgres stopped, for LEASE_MS. Nothing
# can be observed of that lease while Postgres is away: only the clock tells.
outage_done() {
    [ "$(stored)" -ge $((early + 2000)) ] && [ "$(date +%s%N)" -gt $((stopped + (LEASE_MS + 1000) * 1000000)) ]
}
wait_for 120 "2000 records stored while Postgres is away, and the lease run out" outage_done
echo "records stored during the outage: $early at first, $(stored) after $((($(date +%s%N) - stopped) / 1000000000)) s"
# The producer is still writing its log: leave out the last, maybe partial, line; and
# records beyond the acknowledged ones may be read.
sed '$d' "$T/acked" >"$T/acked-so-far"
"$BIN/kclient" verify -b "$BROKER" -t acme.orders -p 3 --acked "$T/acked-so-far" \
    --produced 6200 >/dev/null || fail "acknowledged records not served during the outage"

step "Postgres back: both reconnect by themselves; nothing moved; changes flow again"
pg_start
wait_for 60 "the control plane ready again" curl -sf "http://$CP/readyz" -o /dev/null
wait_for 60 "a topic created after the return" \
    bash -c "curl -sf -o /dev/null -X POST -H 'Authorization: Bearer $OPTOKEN' \
        --data-binary '{\"name\": \"after\", \"partitions\": 2}' http://$CP/v1/tenants/acme/topics"
wait_for 60 "the broker serves acme.after" served acme.after 2
# The control plane came back with the broker's lease expired in the database: only its
# grace period keeps it from marking the broker down before the broker renews. Once the
# broker heartbeats again (three renewals) and the control plane has made passes since,
# a wrong expiry would have happened: it would show as a broker.down record, moved
# epochs, and a broker down or (re-registered) at new epochs.
heartbeats 3
passes 3
broker_is up || fail "the broker was marked down after the outage"
[ "$(downs)" = "$downs_before" ] || fail "the broker was marked down after the outage (audit: $(downs) broker.down, was $downs_before)"
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
