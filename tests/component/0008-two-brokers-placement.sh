#!/usr/bin/env bash
# Two managed brokers in one pool: each holds only the partitions the control plane
# assigns it (on disk and in topic.properties), clients reach every partition through
# either broker's metadata, partitions added through a Kafka admin request land on the
# brokers they are placed on, and a restarted broker holds the same partitions.
. "$(dirname "$0")/../lib/harness.sh"
pg_start
cp_start

B2_PID=
trap 'rc=$?; [ -z "$B2_PID" ] || kill -9 "$B2_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT

managed=(--database_url="$PG_URL" --lease_ms=3000 --control_plane_url="http://$CP")
b2_start() {
    : "${K2PORT:=$(free_port)}"
    : "${A2PORT:=$(free_port)}"
    BROKER2="127.0.0.1:$K2PORT"
    component broker-2 broker default 2
    BROKER_CREDENTIAL=$CREDENTIAL "$BIN/streamd-broker" --node_id=2 --listen="$BROKER2" \
        --admin_listen="127.0.0.1:$A2PORT" --data_dir="$T/data2" "${managed[@]}" \
        >>"$T/broker2.log" 2>&1 &
    B2_PID=$!
    wait_ready "http://127.0.0.1:$A2PORT/readyz" "$B2_PID" "broker 2"
}
# The partitions of acme.events whose replicas include broker $1, "0 2 ...".
assigned() {
    psql_q "SELECT coalesce(string_agg(p.partition::text, ' ' ORDER BY p.partition), '')
            FROM partitions p JOIN topics t ON t.id = p.topic_id
            WHERE t.name = 'events' AND $1 = ANY (p.replicas)"
}
# The partition directories of acme.events in data directory $1, "0 2 ...".
on_disk() {
    find "$1/topics/acme.events" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
        sort -n | paste -sd ' '
}
holds_assigned() { [ "$(on_disk "$2")" = "$(assigned "$1")" ]; }

step "two managed brokers in pool default"
expect_status 201 POST /v1/pools '{"name": "default"}'
expect_status 201 POST /v1/tenants '{"name": "acme"}'
managed_broker_start 1
b2_start
wait_for 5 "both brokers up" bash -c \
    "[ \"\$(curl -s -H 'Authorization: Bearer $OPTOKEN' http://$CP/v1/brokers | grep -o '\"up\"' | wc -l)\" = 2 ]"

step "a 4-partition topic: each broker holds exactly its two partitions"
expect_status 201 POST /v1/tenants/acme/topics '{"name": "events", "partitions": 4}'
[ "$(assigned 1 | wc -w)" = 2 ] && [ "$(assigned 2 | wc -w)" = 2 ] ||
    fail "placement is not balanced: broker 1 '$(assigned 1)', broker 2 '$(assigned 2)'"
wait_for 5 "broker 1 holds its partitions" holds_assigned 1 "$T/data"
wait_for 5 "broker 2 holds its partitions" holds_assigned 2 "$T/data2"
grep -qx "hosted=$(assigned 1 | tr ' ' ,)" "$T/data/topics/acme.events/topic.properties" ||
    fail "topic.properties: $(cat "$T/data/topics/acme.events/topic.properties")"

step "clients reach all four partitions through either broker"
"$BIN/kclient" produce -b "$BROKER" -t acme.events -n 400 --keys 40 >/dev/null || fail "produce"
"$BIN/kclient" verify -b "$BROKER2" -t acme.events -p 4 --keys 40 --expect-range 0 400 \
    >/dev/null || fail "verify through broker 2"

step "CreatePartitions through broker 2: the new partitions land where they are placed"
"$BIN/kadmin" -b "$BROKER2" partitions acme.events 6 >/dev/null || fail "CreatePartitions"
wait_for 5 "broker 1 holds its partitions" holds_assigned 1 "$T/data"
wait_for 5 "broker 2 holds its partitions" holds_assigned 2 "$T/data2"
[ "$(($(assigned 1 | wc -w) + $(assigned 2 | wc -w)))" = 6 ] || fail "partitions not placed"

step "broker 1 restarted holds the same partitions and serves them"
broker_stop
managed_broker_start 1
holds_assigned 1 "$T/data" || fail "broker 1 holds '$(on_disk "$T/data")', assigned '$(assigned 1)'"
grep -q 'topic loaded" topic=acme.events partitions=6 held=' "$BROKER_LOG" ||
    fail "the topic was not loaded with its held partitions"
wait_for 10 "every partition led again" bash -c \
    "[ \"\$(kcat -L -b $BROKER -t acme.events | grep -c 'leader [12],')\" = 6 ]"
"$BIN/kclient" verify -b "$BROKER" -t acme.events -p 6 --keys 40 --expect-range 0 400 \
    >/dev/null || fail "verify after the restart"
broker_stop
stop_daemon "$B2_PID" "broker 2"
B2_PID=
cp_stop
echo PASS
