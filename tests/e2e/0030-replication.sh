#!/usr/bin/env bash
# Followers copy their leader's log (issue 17, proposal commit 3): three managed brokers, a
# topic with replication factor 3; every follower holds the leader's batches byte for byte
# (same offsets, leader epochs and CRCs), including after it was killed and restarted while
# records kept coming. A client that forges a replica id, even one authenticated as a tool,
# reads nothing.
. "$(dirname "$0")/../lib/harness.sh"
pg_start
cp_start
step "three managed brokers; acme.orders with 2 partitions and replication factor 3"
three_brokers
expect_status 201 POST /v1/tenants/acme/topics '{"name": "orders", "partitions": 2, "replication_factor": 3}'
served() { [ "$(kcat -L -b "$BROKER" -t acme.orders 2>/dev/null | grep -c 'leader [123],')" = 2 ]; }
wait_for 10 "both partitions have a leader" served

leader() { psql_q "SELECT p.leader FROM partitions p JOIN topics t ON t.id = p.topic_id WHERE t.name = 'orders' AND p.partition = $1"; }
# Every replica of partition $1 holds the same batches as its leader, which end at offset $2.
same() {
    local l
    l=$(leader "$1")
    [ "$(python3 "$TEST_LIB/batches.py" "$(pool_broker_dir "$l")/topics/acme.orders/$1" | tail -1 | cut -d' ' -f2)" = $(($2 - 1)) ] &&
        replicas_same acme.orders "$1" "$l"
}
total() { "$BIN/kadmin" -b "$BROKER" offsets acme.orders "$1" latest 2>/dev/null; }

step "produced with acks=all: every follower holds the leader's batches byte for byte"
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 20000 --keys 100 >/dev/null || fail "produce"
n0=$(total 0)
n1=$(total 1)
[ $((n0 + n1)) = 20000 ] || fail "the leaders hold $n0 + $n1 records, want 20000"
wait_for 20 "partition 0 copied to every replica" same 0 "$n0"
wait_for 20 "partition 1 copied to every replica" same 1 "$n1"

step "a forged replica id reads nothing, whatever the client's credential"
before=$(curl -s "http://$ADMIN/metrics" | awk '$1 == "streamd_broker_replica_fetches_refused_total" { print $2 }')
for id in 2 3; do
    out=$("$BIN/kprobe" -b "$BROKER" fetch-replica acme.orders 0 "$id")
    echo "$out" | grep -q 'bytes=0 error=TOPIC_AUTHORIZATION_FAILED' || fail "forged replica $id: $out"
done
after=$(curl -s "http://$ADMIN/metrics" | awk '$1 == "streamd_broker_replica_fetches_refused_total" { print $2 }')
[ "${after:-0}" -ge $((${before:-0} + 2)) ] || fail "refused replica fetches not counted: $before -> $after"

step "a follower killed while records keep coming catches up after its restart"
# The follower of partition 0 that is not its leader, with the highest id.
victim=$(psql_q "SELECT max(r) FROM partitions p JOIN topics t ON t.id = p.topic_id, unnest(p.replicas) r WHERE t.name = 'orders' AND p.partition = 0 AND r <> p.leader")
[ "$victim" != 1 ] || fail "broker 1 is the test's bootstrap; pick another follower"
pool_broker_kill "$victim"
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 10000 --keys 100 >/dev/null || fail "produce while a follower is down"
pool_broker_start "$victim"
n0=$(total 0)
n1=$(total 1)
[ $((n0 + n1)) = 30000 ] || fail "the leaders hold $n0 + $n1 records, want 30000"
wait_for 30 "partition 0 copied again to every replica" same 0 "$n0"
wait_for 30 "partition 1 copied again to every replica" same 1 "$n1"
for b in 2 3; do pool_broker_stop "$b"; done
broker_stop
echo PASS
