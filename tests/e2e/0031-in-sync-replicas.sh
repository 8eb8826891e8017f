#!/usr/bin/env bash
# In-sync replicas and the high watermark (issue 17, proposal commit 4): a topic of three
# replicas starts with all three in sync and min.insync.replicas 2; a follower that dies
# leaves the ISR (compare-and-set in Postgres) and acks=all goes on with two; with the
# second follower gone too, acks=all gets NOT_ENOUGH_REPLICAS while acks=1 is still
# acknowledged after the leader's fsync, and nothing new becomes visible (KIP-966: the
# high watermark stays while the ISR is below min.insync.replicas); once the followers are
# back they catch up, rejoin the ISR, the high watermark moves on, and every replica holds
# the leader's batches byte for byte. An acks=all produce that cannot be acknowledged is
# answered at its timeout with a retriable error.
. "$(dirname "$0")/../lib/harness.sh"
pg_start
cp_start
step "three brokers; acme.orders, 1 partition, replication factor 3"
three_brokers
expect_status 201 POST /v1/tenants/acme/topics '{"name": "orders", "partitions": 1, "replication_factor": 3}'
[ "$(api GET /v1/tenants/acme/topics/orders | python3 -c 'import json,sys; print(json.load(sys.stdin)["configs"].get("min.insync.replicas"))')" = 2 ] ||
    fail "min.insync.replicas is not 2 on a topic of 3 replicas: $BODY"
isr() { psql_q "SELECT array_to_string(p.isr, ',') FROM partitions p JOIN topics t ON t.id = p.topic_id WHERE t.name = 'orders'"; }
isr_size() { [ "$(isr | tr ',' '\n' | grep -c .)" = "$1" ]; }
[ "$(isr | tr ',' '\n' | sort | paste -sd,)" = "1,2,3" ] || fail "the first ISR is $(isr), want all three"
L=$(psql_q "SELECT p.leader FROM partitions p JOIN topics t ON t.id = p.topic_id WHERE t.name = 'orders'")
LADDR=$([ "$L" = 1 ] && echo "$BROKER" || pool_broker_addr "$L")
served() { "$BIN/kprobe" -b "$LADDR" produce acme.orders 0 -1 first | grep -q 'error=NONE'; }
wait_for 10 "the leader takes acks=all produces" served
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 5000 >/dev/null || fail "produce"
F=($(for b in 1 2 3; do [ "$b" = "$L" ] || echo "$b"; done))
kill_broker() { if [ "$1" = 1 ]; then broker_kill; else pool_broker_kill "$1"; fi; }
start_broker() { if [ "$1" = 1 ]; then managed_broker_start 1; else pool_broker_start "$1"; fi; }
hw() { "$BIN/kprobe" -b "$LADDR" list-offsets acme.orders 0 -1 -1 | sed 's/.*offset=\([0-9-]*\).*/\1/'; }

step "follower ${F[0]} killed: it leaves the ISR, acks=all goes on with two"
kill_broker "${F[0]}"
wait_for 20 "the ISR shrinks to two" isr_size 2
out=$("$BIN/kprobe" -b "$LADDR" produce acme.orders 0 -1 two)
echo "$out" | grep -q 'error=NONE' || fail "acks=all with two in sync: $out"

step "follower ${F[1]} killed too: acks=all refused, acks=1 acknowledged but not visible"
kill_broker "${F[1]}"
# Appended while the dead follower is still in the ISR: it cannot be acknowledged, and is
# answered at the produce's timeout (kprobe's 5 s) with a retriable error, not left hanging.
out=$("$BIN/kprobe" -b "$LADDR" produce acme.orders 0 -1 stuck)
echo "acks=all while the ISR loses its last follower: $out"
echo "$out" | grep -Eq 'error=(NOT_ENOUGH_REPLICAS_AFTER_APPEND|NOT_ENOUGH_REPLICAS|REQUEST_TIMED_OUT)' ||
    fail "acks=all while the ISR loses its last follower: $out"
wait_for 20 "the ISR shrinks to the leader" isr_size 1
LADMIN=$([ "$L" = 1 ] && echo "$ADMIN" || pool_broker_admin "$L")
lmetric() { curl -s "http://$LADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
[ "$(lmetric streamd_broker_partitions_under_min_isr)" = 1 ] && [ "$(lmetric streamd_broker_partitions_under_replicated)" = 1 ] ||
    fail "the leader's metrics do not show the partition under min ISR: $(curl -s "http://$LADMIN/metrics" | grep partitions_)"
before=$(hw)
out=$("$BIN/kprobe" -b "$LADDR" produce acme.orders 0 -1 refused)
echo "$out" | grep -q 'error=NOT_ENOUGH_REPLICAS' || fail "acks=all with one in sync: $out"
out=$("$BIN/kprobe" -b "$LADDR" produce acme.orders 0 1 local)
echo "$out" | grep -q 'error=NONE' || fail "acks=1 with one in sync: $out"
[ "$(hw)" = "$before" ] || fail "the high watermark moved from $before to $(hw) with the ISR below 2"

step "both followers back: they rejoin the ISR, the high watermark moves on"
start_broker "${F[0]}"
start_broker "${F[1]}"
wait_for 30 "the ISR is whole again" isr_size 3
whole() { [ "$(lmetric streamd_broker_partitions_under_replicated)" = 0 ]; }
wait_for 10 "the leader's metrics show the partition fully replicated" whole
[ "$(lmetric streamd_broker_isr_shrinks_total)" -ge 2 ] && [ "$(lmetric streamd_broker_isr_expands_total)" -ge 2 ] ||
    fail "ISR changes not counted: $(curl -s "http://$LADMIN/metrics" | grep isr_)"
moved() { [ "$(hw)" -gt "$before" ]; }
wait_for 10 "the high watermark passes the acks=1 record" moved
out=$("$BIN/kprobe" -b "$LADDR" produce acme.orders 0 -1 last)
echo "$out" | grep -q 'error=NONE' || fail "acks=all once the ISR is whole: $out"
end=$(hw)
wait_for 20 "every replica holds the leader's batches" replicas_same acme.orders 0 "$L" "$end"
[ "$(kcat -C -b "$LADDR" -t acme.orders -p 0 -o beginning -e -q -f '%o\n' | wc -l)" = "$end" ] ||
    fail "kcat does not read $end records"
for b in 2 3; do pool_broker_stop "$b"; done
broker_stop
echo PASS
