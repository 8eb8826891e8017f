#!/usr/bin/env bash
# A broker's own credential on the operator API is scoped to its pool (issue 16, finding
# 10; docs/proposals/internal-listener-auth.md commits 2 and 3): it reaches the four routes
# a broker forwards Kafka admin requests to, for tenants of its pool only (another pool's
# tenants do not exist for it), every other route is 403, a revoked one is 401, and what it
# does is audited under its name. Before, brokers held an operator token, which opens every
# route of every pool: one broker could delete any tenant's topics.
. "$(dirname "$0")/../lib/harness.sh"
pg_start
cp_start
K() { "$BIN/kadmin" -b "$BROKER" "$@"; }
expect_as() { # STATUS CREDENTIAL METHOD PATH [JSON]: api with CREDENTIAL as the bearer
    local want=$1
    BEARER=$2 api "${@:3}" >/dev/null
    [ "$STATUS" = "$want" ] || fail "$3 $4 as a component: status $STATUS, want $want: $BODY"
}

step "pools default and other, acme on default, globex on other with a topic"
expect_status 201 POST /v1/pools '{"name": "default"}'
expect_status 201 POST /v1/pools '{"name": "other"}'
expect_status 201 POST /v1/tenants '{"name": "acme"}'
expect_status 201 POST /v1/tenants '{"name": "globex", "pool": "other"}'
# globex's topic is written straight into the tables: pool other has no broker to place it.
psql_q "WITH t AS (INSERT INTO topics (tenant_id, name, partitions, replication_factor)
          SELECT id, 'events', 1, 1 FROM tenants WHERE name = 'globex' RETURNING id)
        INSERT INTO partitions (topic_id, partition, replicas, leader, isr)
          SELECT id, 0, '{9}', 9, '{9}' FROM t" >/dev/null
component broker-1 broker default 1
CRED=$CREDENTIAL

step "a managed broker holding its own credential carries Kafka admin requests, audited as broker-1"
managed_broker_start 1
grep 'holds an operator token' "$BROKER_LOG" >/dev/null && fail "the broker warns of a token it does not hold"
K create acme.orders 2 >/dev/null || fail "create through the broker"
expect_status 200 GET '/v1/audit?tenant=acme'
printf '%s' "$BODY" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
assert any(a["action"] == "topic.create" and a["actor"] == "broker-1" for a in d), d' ||
    fail "the creation is not audited under broker-1"

step "its own pool's tenants: the four topic routes work"
expect_as 201 "$CRED" POST /v1/tenants/acme/topics '{"name": "more", "partitions": 1}'
expect_as 200 "$CRED" PATCH /v1/tenants/acme/topics/more '{"configs": {"retention.ms": 3600000}}'
expect_as 200 "$CRED" POST /v1/tenants/acme/topics/more/partitions '{"count": 2}'
expect_as 204 "$CRED" DELETE /v1/tenants/acme/topics/more

step "another pool's tenant does not exist for it: nothing changes"
expect_as 404 "$CRED" DELETE /v1/tenants/globex/topics/events
expect_as 404 "$CRED" PATCH /v1/tenants/globex/topics/events '{"configs": {"retention.ms": 1000}}'
expect_as 404 "$CRED" POST /v1/tenants/globex/topics/events/partitions '{"count": 5}'
expect_as 404 "$CRED" POST /v1/tenants/globex/topics '{"name": "x", "partitions": 1}'
expect_status 200 GET /v1/tenants/globex/topics/events
[ "$(printf '%s' "$BODY" | json_get partitions)" = 1 ] || fail "globex's topic changed: $BODY"
expect_status 404 GET /v1/tenants/globex/topics/x
"$BIN/kadmin" -b "$BROKER" delete globex.events >"$T/out" 2>&1 && fail "the broker deleted another pool's topic"
expect_status 200 GET /v1/tenants/globex/topics/events

step "every other route is 403 for it"
expect_as 403 "$CRED" GET /v1/tenants
expect_as 403 "$CRED" GET /v1/tenants/acme/topics
expect_as 403 "$CRED" DELETE /v1/tenants/acme
expect_as 403 "$CRED" PUT /v1/tenants/acme/topics/orders/partitions/0/leader '{"leader": 1, "leader_epoch": 0}'
expect_as 403 "$CRED" POST /v1/components '{"name": "evil", "kind": "tool"}'
expect_as 403 "$CRED" PATCH /v1/tenants/acme/quotas '{"partitions": 100000}'
expect_as 401 "${CRED}x" GET /v1/tenants
expect_as 401 "broker-1.$(printf 'A%.0s' $(seq 43))" GET /v1/tenants

step "revoked: 401 on the API, CLUSTER_AUTHORIZATION_FAILED through the broker"
expect_status 204 DELETE /v1/components/broker-1
expect_as 401 "$CRED" POST /v1/tenants/acme/topics '{"name": "late", "partitions": 1}'
if K create acme.late 1 >"$T/out" 2>&1; then fail "a revoked credential created a topic"; fi
grep CLUSTER_AUTHORIZATION_FAILED "$T/out" >/dev/null || fail "revoked: $(cat "$T/out")"
expect_status 404 GET /v1/tenants/acme/topics/late
broker_stop
echo PASS
