#!/usr/bin/env bash
# The reconcilers against fake brokers registered in Postgres: a broker whose lease runs out
# is marked down and its partitions lose their leader (or move to an in-sync replica that
# is up); a renewed lease brings the leader back at a higher epoch; after a (re)connect no
# lease expires during the grace period; and two control planes reconciling the same
# database make every change once (each leader change moves the epoch by exactly one).
. "$(dirname "$0")/../lib/harness.sh"
pg_start
cp_start --lease_grace_ms=0 --reconcile_ms=100

# The broker's state as the API shows it.
broker_state() {
    curl -s -H "Authorization: Bearer $OPTOKEN" "http://$CP/v1/brokers/$1" |
        sed -n 's/.*"state" *: *"\([a-z]*\)".*/\1/p'
}
broker_is() { [ "$(broker_state "$1")" = "$2" ]; }

# "leader:epoch" of every partition of acme's topic $1, in partition order.
leaders() {
    psql_q "SELECT string_agg(p.leader || ':' || p.leader_epoch, ' ' ORDER BY p.partition)
            FROM partitions p JOIN topics t ON t.id = p.topic_id WHERE t.name = '$1'"
}
leaders_are() { [ "$(leaders "$1")" = "$2" ]; }

# "topic/partition leader epoch" lines for every partition, sorted for join.
all_partitions() {
    psql_q "SELECT t.name || '/' || p.partition || ' ' || p.leader || ' ' || p.leader_epoch
            FROM partitions p JOIN topics t ON t.id = p.topic_id" | LC_ALL=C sort
}
# joined FILE1 FILE2: "topic/partition old-leader old-epoch new-leader new-epoch" lines,
# one for every partition.
joined() {
    LC_ALL=C join "$1" "$2" >"$T/joined"
    [ "$(wc -l <"$T/joined")" = "$(wc -l <"$1")" ] || fail "partitions appeared or vanished"
    cat "$T/joined"
}
leads_nothing() { [ "$(psql_q "SELECT count(*) FROM partitions WHERE leader = $1")" = 0 ]; }

metric_of() { # metric_of HOST:PORT NAME
    curl -s "http://$1/metrics" | awk -v m="$2" '$1 == m { printf "%d", $2 }'
}
# passes: reconciler passes made so far, by the control plane and the second one if it runs.
passes() {
    local n
    n=$(metric_of "$CP" streamd_cp_reconcile_passes_total)
    [ -z "${CP2_PID:-}" ] || n=$((n + $(metric_of "$CP2" streamd_cp_reconcile_passes_total)))
    echo "$n"
}
# passes_after N: waits until N more passes have been counted than now, whichever control
# plane made them (only the holder of the advisory lock makes and counts a pass, so passes
# never overlap). The first of them may have begun before the change just made, and the
# last is counted just before it commits: N - 2 whole passes began after the change.
passes_after() {
    local want=$(($(passes) + $1))
    passes_reached() { [ "$(passes)" -ge "$want" ]; }
    wait_for 60 "$1 more reconciler passes" passes_reached
}

step "three brokers with leases an hour ahead; topics with rf 1, and one with rf 2 in sync"
expect_status 201 POST /v1/pools '{"name": "default"}'
psql_q "INSERT INTO brokers (id, pool_id, host, port, state, lease_expires_at)
        SELECT g, (SELECT id FROM broker_pools WHERE name = 'default'), 'broker-' || g, 9090 + g,
               'up', now() + interval '1 hour' FROM generate_series(1, 3) g"
expect_status 201 POST /v1/tenants '{"name": "acme"}'
expect_status 201 POST /v1/tenants/acme/topics '{"name": "one", "partitions": 3}'
expect_status 201 POST /v1/tenants/acme/topics '{"name": "two", "partitions": 3}'
expect_status 201 POST /v1/tenants/acme/topics '{"name": "rf2", "partitions": 1, "replication_factor": 2}'
leaders_are one "1:0 2:0 3:0" || fail "topic one is not led by brokers 1, 2, 3: $(leaders one)"
leaders_are two "1:0 2:0 3:0" || fail "topic two is not led by brokers 1, 2, 3: $(leaders two)"
# Until replication exists only the leader is in sync; make rf2's replicas both in sync,
# led by broker 3, so that losing broker 3 moves its leadership to broker 1.
psql_q "UPDATE partitions p SET replicas = '{3,1}', isr = '{3,1}', leader = 3 FROM topics t
        WHERE t.id = p.topic_id AND t.name = 'rf2'"
passes_after 3
[ "$(all_partitions | awk '$3 != 0' | wc -l)" = 0 ] || fail "the reconciler changed leaders of brokers that are up"

step "broker 3's lease runs out in 2 s: it is marked down, not before its lease ran out"
lease_end=$(psql_q "UPDATE brokers SET lease_expires_at = now() + interval '2 seconds' WHERE id = 3
                    RETURNING extract(epoch FROM lease_expires_at)")
broker_is 3 up || fail "broker 3 is not up before its lease ends"
# No upper bound on when: that depends on the machine. The bound here only ends a hang.
wait_for 60 "broker 3 marked down" broker_is 3 down
[ "$(psql_q "SELECT bool_and(a.at >= b.lease_expires_at) FROM audit_log a, brokers b
             WHERE b.id = 3 AND a.action = 'broker.down' AND a.target = '3' AND a.actor = 'control-plane'")" = t ] ||
    fail "broker 3 was marked down before its lease ended ($(psql_q "SELECT at FROM audit_log WHERE action = 'broker.down'") vs $lease_end)"
[ "$(psql_q "SELECT count(*) FROM audit_log WHERE action = 'broker.down'")" = 1 ] || fail "broker.down not audited once"
broker_is 1 up && broker_is 2 up || fail "brokers 1 and 2 were marked down too"

step "its rf 1 partitions have no leader and say so; rf2 moved to the in-sync broker 1"
wait_for 3 "topic one's partition 2 leaderless" leaders_are one "1:0 2:0 -1:1"
leaders_are two "1:0 2:0 -1:1" || fail "topic two: $(leaders two), want '1:0 2:0 -1:1'"
leaders_are rf2 "1:1" || fail "rf2 did not move to in-sync broker 1 at epoch 1: $(leaders rf2)"
expect_status 200 GET /v1/tenants/acme/topics/one
[ "$(json_get unavailable_partitions <<<"$BODY")" = 1 ] || fail "topic one: unavailable_partitions is not 1"
[ "$(json_get assignments.2.leader <<<"$BODY")" = -1 ] || fail "partition 2's leader is not -1"
[ "$(json_get assignments.2.available <<<"$BODY")" = false ] || fail "partition 2 is shown available"
[ "$(json_get assignments.0.available <<<"$BODY")" = true ] || fail "partition 0 is shown unavailable"
expect_status 200 GET /v1/tenants/acme/topics/rf2
[ "$(json_get unavailable_partitions <<<"$BODY")" = 0 ] || fail "rf2 counted unavailable after moving"
[ "$(metric_of "$CP" streamd_cp_brokers_expired_total)" = 1 ] || fail "streamd_cp_brokers_expired_total is not 1"
[ "$(metric_of "$CP" streamd_cp_leaders_elected_total)" = 3 ] || fail "streamd_cp_leaders_elected_total is not 3"

step "broker 3 renews its lease: it leads its partitions again, one epoch later; rf2 stays"
psql_q "UPDATE brokers SET state = 'up', lease_expires_at = now() + interval '1 hour' WHERE id = 3"
wait_for 3 "topic one's leader back" leaders_are one "1:0 2:0 3:2"
wait_for 3 "topic two's leader back" leaders_are two "1:0 2:0 3:2"
expect_status 200 GET /v1/tenants/acme/topics/one
[ "$(json_get unavailable_partitions <<<"$BODY")" = 0 ] || fail "topic one still has unavailable partitions"
[ "$(json_get assignments.2.leader_epoch <<<"$BODY")" = 2 ] || fail "the API does not show epoch 2"
passes_after 3 # passes that would move rf2 back, or topic one again, if they were to
leaders_are rf2 "1:1" || fail "rf2's leadership flapped back: $(leaders rf2)"
leaders_are one "1:0 2:0 3:2" || fail "topic one changed again: $(leaders one)"

step "restart with --lease_grace_ms=3000 while broker 2's lease has already expired"
cp_stop
psql_q "UPDATE brokers SET lease_expires_at = now() - interval '1 second' WHERE id = 2"
before=$(psql_q "SELECT now()")
t0=$(date +%s%N)
cp_start --lease_grace_ms=3000 --reconcile_ms=100
# No upper bound on when (the bound here only ends a hang); not before the grace ran out.
wait_for 60 "broker 2 marked down after the grace" broker_is 2 down
elapsed=$((($(date +%s%N) - t0) / 1000000))
[ "$elapsed" -ge 3000 ] || fail "broker 2 was marked down ${elapsed} ms after the start, inside the 3 s grace"
[ "$(psql_q "SELECT (max(at) - '$before'::timestamptz) >= interval '3 seconds' FROM audit_log
             WHERE action = 'broker.down' AND target = '2'")" = t ] ||
    fail "the database records broker 2 down less than 3 s after the start"
echo "broker 2 marked down ${elapsed} ms after the control plane was started"
wait_for 3 "broker 2's partitions leaderless" leaders_are one "1:0 -1:1 3:2"
psql_q "UPDATE brokers SET state = 'up', lease_expires_at = now() + interval '1 hour' WHERE id = 2"
wait_for 3 "broker 2 leads again" leaders_are one "1:0 2:2 3:2"

step "two control planes reconciling together make each change once"
cp2_start --lease_grace_ms=0 --reconcile_ms=100
elected0=$(metric_of "$CP" streamd_cp_leaders_elected_total)
expired0=$(metric_of "$CP" streamd_cp_brokers_expired_total)
downs0=$(psql_q "SELECT count(*) FROM audit_log WHERE action = 'broker.down'")
epochs0=$(psql_q "SELECT sum(leader_epoch) FROM partitions")
for b in 1 3 2 1; do
    all_partitions >"$T/before"
    psql_q "UPDATE brokers SET lease_expires_at = now() - interval '1 second' WHERE id = $b"
    wait_for 5 "broker $b marked down" broker_is "$b" down
    wait_for 3 "broker $b's partitions moved or leaderless" leads_nothing "$b"
    passes_after 4 # more passes of the two control planes: nothing must change twice
    all_partitions >"$T/down"
    # Every partition broker $b led moved by exactly one epoch; no other partition moved.
    joined "$T/before" "$T/down" | awk -v b="$b" '
        $2 == b && ($5 != $3 + 1 || $4 == b) { print "broker " b " down: " $0; bad = 1 }
        $2 != b && ($5 != $3 || $4 != $2) { print "broker " b " down, unrelated change: " $0; bad = 1 }
        END { exit bad }' || fail "leader changes were not made exactly once (topic/partition old-leader old-epoch new-leader new-epoch above)"
    psql_q "UPDATE brokers SET state = 'up', lease_expires_at = now() + interval '1 hour' WHERE id = $b"
    wait_for 3 "broker $b's rf 1 partitions led again" leads_nothing -1
    passes_after 4
    all_partitions >"$T/up"
    joined "$T/down" "$T/up" | awk -v b="$b" '
        $2 == -1 && ($4 != b || $5 != $3 + 1) { print "broker " b " back: " $0; bad = 1 }
        $2 != -1 && ($5 != $3 || $4 != $2) { print "broker " b " back, unrelated change: " $0; bad = 1 }
        END { exit bad }' || fail "leader changes were not made exactly once (topic/partition old-leader old-epoch new-leader new-epoch above)"
done
epochs1=$(psql_q "SELECT sum(leader_epoch) FROM partitions")
elected=$(($(metric_of "$CP" streamd_cp_leaders_elected_total) - elected0 + $(metric_of "$CP2" streamd_cp_leaders_elected_total)))
expired=$(($(metric_of "$CP" streamd_cp_brokers_expired_total) - expired0 + $(metric_of "$CP2" streamd_cp_brokers_expired_total)))
[ "$elected" = $((epochs1 - epochs0)) ] ||
    fail "the control planes count $elected elections, the epochs moved $((epochs1 - epochs0))"
[ "$expired" = 4 ] || fail "the control planes count $expired expiries, want 4"
[ "$(psql_q "SELECT count(*) FROM audit_log WHERE action = 'broker.down'")" = $((downs0 + 4)) ] ||
    fail "broker.down audited $(($(psql_q "SELECT count(*) FROM audit_log WHERE action = 'broker.down'") - downs0)) times for 4 expiries"
echo "4 expiries, $elected leader changes, shared by the two control planes:" \
    "$(metric_of "$CP" streamd_cp_reconcile_passes_total) and $(metric_of "$CP2" streamd_cp_reconcile_passes_total) passes"

cp2_stop
cp_stop
echo PASS
