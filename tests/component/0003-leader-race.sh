#!/usr/bin/env bash
# Leadership is a compare-and-set on the leader epoch: of any number of concurrent changes
# at the same epoch exactly one wins. Raced three ways: threads calling
# cp_partition_cas_leader on their own connections (tests/tools/cprace.c), 2 and then 4 at
# a time; and two control planes on the same database answering the operator API's leader
# change at once (one 200, one 409 per round).
. "$(dirname "$0")/../lib/harness.sh"
pg_start
cp_start

step "one topic, one partition whose replicas and in-sync replicas are brokers 1 and 2"
expect_status 201 POST /v1/pools '{"name": "default"}'
psql_q "INSERT INTO brokers (id, pool_id, host, port, state, lease_expires_at)
        SELECT g, (SELECT id FROM broker_pools WHERE name = 'default'), 'broker-' || g, 9090 + g,
               'up', now() + interval '1 hour' FROM generate_series(1, 2) g"
expect_status 201 POST /v1/tenants '{"name": "acme"}'
expect_status 201 POST /v1/tenants/acme/topics '{"name": "race", "partitions": 1, "replication_factor": 2}'
TOPIC_ID=$(json_get id <<<"$BODY")
psql_q "UPDATE partitions SET replicas = '{1,2}', isr = '{1,2}' WHERE topic_id = '$TOPIC_ID'"
epoch() { psql_q "SELECT leader_epoch FROM partitions WHERE topic_id = '$TOPIC_ID' AND partition = 0"; }

step "cp_partition_cas_leader: 500 rounds of 2 contenders, exactly one winner each"
e0=$(epoch)
"$BIN/cprace" "$PG_URL" "$TOPIC_ID" 0 500 2 || fail "cprace found a round without exactly one winner"
[ "$(epoch)" = $((e0 + 500)) ] || fail "the epoch went from $e0 to $(epoch) in 500 rounds"

step "cp_partition_cas_leader: 200 rounds of 4 contenders, exactly one winner each"
"$BIN/cprace" "$PG_URL" "$TOPIC_ID" 0 200 4 || fail "cprace found a round without exactly one winner"
[ "$(epoch)" = $((e0 + 700)) ] || fail "the epoch went from $e0 to $(epoch) in 700 rounds"

step "cprace catches a broken compare-and-set: a trigger that keeps the epoch lets both win"
psql_q "CREATE FUNCTION keep_epoch() RETURNS trigger LANGUAGE plpgsql AS \$\$
        BEGIN NEW.leader_epoch := OLD.leader_epoch; RETURN NEW; END \$\$;
        CREATE TRIGGER keep_epoch BEFORE UPDATE ON partitions FOR EACH ROW EXECUTE FUNCTION keep_epoch()"
if "$BIN/cprace" "$PG_URL" "$TOPIC_ID" 0 20 2 2>"$T/cprace.err"; then
    fail "cprace passed although every contender could win"
fi
grep -q 'round 0: 2 contenders won' "$T/cprace.err" || fail "cprace did not report the double win: $(cat "$T/cprace.err")"
psql_q "DROP TRIGGER keep_epoch ON partitions; DROP FUNCTION keep_epoch()"
if "$BIN/cprace" "$PG_URL" "$TOPIC_ID" 7 1 2 2>"$T/cprace.err"; then
    fail "cprace succeeded on a partition that does not exist"
fi
grep -q 'no such partition' "$T/cprace.err" || fail "cprace did not say why: $(cat "$T/cprace.err")"

step "two control planes, 50 rounds of simultaneous API leader changes at the same epoch"
cp2_start
e=$(epoch)
e_start=$e
audit0=$(psql_q "SELECT count(*) FROM audit_log WHERE action = 'partition.leader'")
path=/v1/tenants/acme/topics/race/partitions/0/leader
wins1=0 wins2=0
for round in $(seq 1 50); do
    # One curl, two transfers started together: broker 1 through one control plane and
    # broker 2 through the other, both claiming the epoch the partition is at.
    curl --no-progress-meter -Z --parallel-immediate \
        -X PUT -H "Authorization: Bearer $OPTOKEN" --data-binary "{\"leader\": 1, \"leader_epoch\": $e}" \
        -o "$T/r1" -w 'cp1 %{http_code}\n' "http://$CP$path" --next \
        -X PUT -H "Authorization: Bearer $OPTOKEN" --data-binary "{\"leader\": 2, \"leader_epoch\": $e}" \
        -o "$T/r2" -w 'cp2 %{http_code}\n' "http://$CP2$path" >"$T/codes"
    codes=$(sort "$T/codes" | awk '{ print $2 }' | paste -sd' ')
    case "$codes" in
    "200 409") want=1 wins1=$((wins1 + 1)) ;;
    "409 200") want=2 wins2=$((wins2 + 1)) ;;
    *) fail "round $round at epoch $e: control planes answered '$codes', want one 200 and one 409" ;;
    esac
    [ "$(psql_q "SELECT leader || ' ' || leader_epoch FROM partitions WHERE topic_id = '$TOPIC_ID'")" = "$want $((e + 1))" ] ||
        fail "round $round: the winner was broker $want at epoch $((e + 1)), the row says otherwise"
    e=$((e + 1))
done
echo "one winner in each of 50 rounds: the first control plane won $wins1, the second $wins2"
[ "$(epoch)" = $((e_start + 50)) ] || fail "the epoch went from $e_start to $(epoch) in 50 rounds"
[ "$(psql_q "SELECT count(*) FROM audit_log WHERE action = 'partition.leader'")" = $((audit0 + 50)) ] ||
    fail "the audit log does not hold exactly one leader change per round"

cp2_stop
cp_stop
echo PASS
