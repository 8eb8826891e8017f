#!/usr/bin/env bash
# Kafka admin requests on a managed broker are carried out by the control plane: topics
# made with librdkafka's admin API show up in the operator API (placed, audited, counted
# against the tenant's quota), the broker serves them as soon as the answer arrives, and
# the control plane's refusals come back as the matching Kafka errors. Without a valid
# control-plane token, or with the control plane away, nothing changes anywhere.
. "$(dirname "$0")/../lib/harness.sh"
pg_start
cp_start
K() { "$BIN/kadmin" -b "$BROKER" "$@"; }
P() { "$BIN/kprobe" -b "$BROKER" "$@"; }

# expect_kafka_error ERROR_NAME COMMAND...: the command fails and prints ERROR_NAME.
expect_kafka_error() {
    local want=$1
    shift
    if "$@" >"$T/out" 2>&1; then fail "$* succeeded; want $want"; fi
    grep -q "$want" "$T/out" || fail "$*: want $want, got: $(cat "$T/out")"
}
# partitions_are TOPIC N: the control plane holds acme's TOPIC with exactly N partitions.
partitions_are() {
    api GET "/v1/tenants/acme/topics/$1" >"$T/topic"
    [ "$STATUS" = 200 ] || fail "acme's topic $1: status $STATUS: $(cat "$T/topic")"
    [ "$(json_get partitions <"$T/topic")" = "$2" ]
}

step "a pool, tenant acme (quota: 10 partitions) and a managed broker holding its credential"
expect_status 201 POST /v1/pools '{"name": "default"}'
expect_status 201 POST /v1/tenants '{"name": "acme"}'
expect_status 200 PUT /v1/tenants/acme/quotas '{"partitions": 10}'
# Its clients (kadmin, kclient, kprobe, kcat) authenticate as the tool "tests" ($KCAT_CONFIG).
managed_broker_start 1

step "CreateTopics: placed by the control plane, audited, served at once"
K create acme.events 3 retention.ms=3600000 >/dev/null || fail "create through the broker"
api GET /v1/tenants/acme/topics/events >"$T/topic"
[ "$STATUS" = 200 ] || fail "the topic is not in the control plane: $STATUS"
[ "$(json_get partitions <"$T/topic")" = 3 ] || fail "partitions: $(cat "$T/topic")"
grep -q '"retention.ms" *: *"3600000"' "$T/topic" || fail "config not stored: $(cat "$T/topic")"
[ "$(json_get assignments.2.leader <"$T/topic")" = 1 ] || fail "not placed on broker 1"
api GET '/v1/audit?tenant=acme' | grep '"topic.create"' >/dev/null || fail "creation not audited"
# No wait: the answer came after this broker applied the change.
"$BIN/kclient" produce -b "$BROKER" -t acme.events -n 300 --keys 30 >/dev/null ||
    fail "produce right after create"
"$BIN/kclient" verify -b "$BROKER" -t acme.events -p 3 --keys 30 --expect-range 0 300 >/dev/null ||
    fail "verify"
K describe acme.events >"$T/d"
grep -qx 'retention.ms=3600000 DYNAMIC_TOPIC_CONFIG' "$T/d" || fail "describe: $(cat "$T/d")"

step "the control plane's refusals are Kafka errors, and change nothing"
expect_kafka_error TOPIC_ALREADY_EXISTS K create acme.events 1
expect_kafka_error "named <tenant>.<topic>" K create events 1
expect_kafka_error 'no tenant named' K create nosuch.events 1
expect_kafka_error POLICY_VIOLATION K create acme.big 8
grep -q "partition quota" "$T/out" || fail "quota message: $(cat "$T/out")"
expect_kafka_error INVALID_CONFIG K create acme.cfg 1 retention.ms=soon
expect_kafka_error INVALID_REPLICATION_FACTOR K create acme.rf 1 --rf 3
K create acme.dry 2 --validate >/dev/null || fail "validate-only create"
for t in big cfg rf dry; do
    expect_status 404 GET "/v1/tenants/acme/topics/$t"
done
[ "$(psql_q "SELECT count(*) FROM topics")" = 1 ] || fail "a refused creation left a topic"

step "AlterConfigs replaces the set; IncrementalAlterConfigs changes single keys"
K alter acme.events flush.ms=100 >/dev/null || fail "alter"
api GET /v1/tenants/acme/topics/events >"$T/topic"
grep -q '"flush.ms" *: *"100"' "$T/topic" || fail "flush.ms not stored: $(cat "$T/topic")"
grep -q 'retention.ms' "$T/topic" && fail "AlterConfigs kept an unlisted key: $(cat "$T/topic")"
P incremental-alter acme.events segment.bytes=104857600 >/dev/null || fail "incremental set"
P incremental-alter acme.events flush.ms! >/dev/null || fail "incremental delete"
api GET /v1/tenants/acme/topics/events >"$T/topic"
grep -q '"segment.bytes" *: *"104857600"' "$T/topic" || fail "incremental set lost: $(cat "$T/topic")"
grep -q 'flush.ms' "$T/topic" && fail "incremental delete kept flush.ms: $(cat "$T/topic")"
K describe acme.events >"$T/d"
grep -qx 'segment.bytes=104857600 DYNAMIC_TOPIC_CONFIG' "$T/d" || fail "broker did not apply"
P incremental-alter acme.events segment.bytes=1 >"$T/out" && fail "segment.bytes=1 accepted"
grep -q INVALID_CONFIG "$T/out" || fail "range: $(cat "$T/out")"
# Within Kafka's range but below the pool's bound for a shared broker (cp_bounds.h).
P incremental-alter acme.events segment.bytes=1048576 >"$T/out" && fail "segment.bytes=1 MiB accepted"
grep -q 'INVALID_CONFIG.*on this service' "$T/out" || fail "pool bound: $(cat "$T/out")"
P incremental-alter acme.nosuch retention.ms=1 >"$T/out" && fail "unknown topic altered"
grep -q UNKNOWN_TOPIC_OR_PARTITION "$T/out" || fail "unknown topic: $(cat "$T/out")"

step "CreatePartitions grows the topic in the control plane and on the broker"
K partitions acme.events 5 --validate >/dev/null || fail "validate-only partitions"
partitions_are events 3 || fail "validate grew it: $(cat "$T/topic")"
K partitions acme.events 5 >/dev/null || fail "create partitions"
api GET /v1/tenants/acme/topics/events >"$T/topic"
[ "$(json_get partitions <"$T/topic")" = 5 ] || fail "partitions: $(cat "$T/topic")"
echo "to-p4" | kcat -P -b "$BROKER" -t acme.events -p 4 || fail "produce to a new partition"
[ "$(K offsets acme.events 4 latest)" = 1 ] || fail "partition 4 does not hold the record"
expect_kafka_error INVALID_PARTITIONS K partitions acme.events 4
expect_kafka_error POLICY_VIOLATION K partitions acme.events 20

step "DeleteTopics deletes in the control plane; the broker drops the topic"
K delete acme.events >/dev/null || fail "delete"
expect_status 404 GET /v1/tenants/acme/topics/events
expect_kafka_error UNKNOWN_TOPIC_OR_PART K describe acme.events
expect_kafka_error UNKNOWN_TOPIC K delete acme.events
expect_kafka_error UNKNOWN_TOPIC K delete nodot

step "a tenant of another pool is out of this broker's reach"
expect_status 201 POST /v1/pools '{"name": "other"}'
expect_status 201 POST /v1/tenants '{"name": "globex", "pool": "other"}'
# (Its credential is scoped to pool default: globex does not exist for it.)
expect_kafka_error 'no tenant named "globex"' K create globex.events 1
expect_status 404 GET /v1/tenants/globex/topics/events

step "without a valid token, or with the control plane away: refused, nothing changes"
expect_status 201 POST /v1/tenants/acme/topics '{"name": "kept"}'
broker_stop

step "a managed broker is not ready, and never answers 'unknown topic', before its first snapshot"
# Its pool does not exist yet, so it cannot register and reads no snapshot. Its listener is
# open (internal_auth=none): with SASL, no client could get in before the first snapshot
# brings the verifiers, and the answers below could not be seen.
BROKER_CONTROL_PLANE_TOKEN=$OPTOKEN "$BIN/streamd-broker" --listen="$BROKER" --admin_listen="$ADMIN" \
    --data_dir="$T/data-late" --node_id=7 --pool=late --database_url="$PG_URL" --lease_ms=3000 \
    --control_plane_url="http://$CP" --internal_auth=none >>"$BROKER_LOG" 2>&1 &
BROKER_PID=$!
registration_refused() { grep -q 'cannot register with the control plane.*pool=late' "$BROKER_LOG"; }
wait_for 60 "the broker tries to register" registration_refused
code=$(curl -s -o "$T/readyz" -w '%{http_code}' "http://$ADMIN/readyz")
[ "$code" = 503 ] || fail "/readyz answered $code before the first snapshot"
grep -q "first snapshot" "$T/readyz" || fail "/readyz does not say why: $(cat "$T/readyz")"
KCAT_CONFIG= expect_kafka_error NOT_CONTROLLER K delete acme.kept
KCAT_CONFIG= expect_kafka_error NOT_CONTROLLER K partitions acme.kept 2
expect_status 201 POST /v1/pools '{"name": "late"}'
wait_ready "http://$ADMIN/readyz" "$BROKER_PID" "broker of pool late"
partitions_are kept 1 || fail "kept changed: $(cat "$T/topic")"
broker_stop
BROKER_CONTROL_PLANE_TOKEN=wrong-token broker_start --node_id=1 --database_url="$PG_URL" \
    --lease_ms=3000 --control_plane_url="http://$CP"
expect_kafka_error CLUSTER_AUTHORIZATION_FAILED K create acme.x 1
grep -q "refused this broker's credential" "$T/out" || fail "message: $(cat "$T/out")"
broker_stop
broker_start --node_id=1 --database_url="$PG_URL" --lease_ms=3000 --control_plane_url="http://$CP"
expect_kafka_error CLUSTER_AUTHORIZATION_FAILED K create acme.x 1
expect_kafka_error CLUSTER_AUTHORIZATION_FAILED K partitions acme.kept 3
expect_kafka_error CLUSTER_AUTHORIZATION_FAILED K delete acme.kept
# The token is checked before any lookup: a missing topic tells a refused client nothing.
expect_kafka_error CLUSTER_AUTHORIZATION_FAILED K delete acme.nosuch
expect_kafka_error CLUSTER_AUTHORIZATION_FAILED K partitions acme.nosuch 3
partitions_are kept 1 || fail "kept changed: $(cat "$T/topic")"
broker_stop
BROKER_CONTROL_PLANE_TOKEN=$OPTOKEN broker_start --node_id=1 --database_url="$PG_URL" \
    --lease_ms=3000 --control_plane_url="http://127.0.0.1:$(free_port)"
expect_kafka_error "cannot reach the control plane" K create acme.x 1
expect_status 404 GET /v1/tenants/acme/topics/x
broker_stop
cp_stop
echo PASS
