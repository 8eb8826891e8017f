#!/usr/bin/env bash
# A topic's configs over REST (list, get, set, reset, alter in one call, read back at once),
# and ACLs managed over REST by the tenant's admin principal and enforced on the next call:
# a service account with no ACLs is refused; granted READ it may read but not write; a DENY
# wins over an ALLOW; deleting the ACLs takes the rights away again. The ACL checks are made
# over gRPC too (NOT_FOUND, PERMISSION_DENIED, OK as the ACLs say).
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start

step "a tenant, a broker, the gateway"
gw_stack acme
expect_status 201 POST /v1/tenants/acme/service-accounts '{"name": "reader"}'
gw_key acme reader '{"service_account": "reader"}'
base="/kafka/v3/clusters/${CLUSTER[acme]}"
expect_rest 201 acme h2c POST "$base/topics" \
    '{"topic_name": "orders", "partitions_count": 2, "configs": [{"name": "retention.ms", "value": "3600000"}]}'

step "configs: list and get, with the topic's own values and the defaults"
expect_rest 200 acme h2c GET "$base/topics/orders/configs"
python3 - "$T/last.json" <<'PY' || fail "configs: $(cat "$T/last.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "KafkaTopicConfigList", d
c = {x["name"]: x for x in d["data"]}
for k in ("retention.ms", "retention.bytes", "segment.bytes", "max.message.bytes", "cleanup.policy"):
    assert k in c, (k, sorted(c))
r = c["retention.ms"]
assert r["value"] == "3600000" and not r["is_default"] and r["source"] == "DYNAMIC_TOPIC_CONFIG", r
assert r["topic_name"] == "orders" and r["kind"] == "KafkaTopicConfig", r
s = c["segment.bytes"]
assert s["is_default"] and s["source"] == "DEFAULT_CONFIG" and int(s["value"]) > 0, s
assert c["cleanup.policy"]["value"] == "delete" and c["cleanup.policy"]["is_read_only"], c["cleanup.policy"]
PY
expect_rest 200 acme h1 GET "$base/topics/orders/configs/retention.ms"
[ "$(json_get value <"$T/last.json")" = 3600000 ] || fail "$(cat "$T/last.json")"
expect_rest 404 acme h1 GET "$base/topics/orders/configs/no.such.config"
expect_rest 404 acme h1 GET "$base/topics/nope/configs"

step "configs: set, reset and alter are read back at once"
expect_rest 204 acme h2c PUT "$base/topics/orders/configs/retention.bytes" '{"value": "1048576"}'
expect_rest 200 acme h2c GET "$base/topics/orders/configs/retention.bytes"
[ "$(json_get value <"$T/last.json")" = 1048576 ] && [ "$(json_get is_default <"$T/last.json")" = false ] ||
    fail "after PUT: $(cat "$T/last.json")"
expect_rest 204 acme h2c DELETE "$base/topics/orders/configs/retention.ms"
expect_rest 200 acme h2c GET "$base/topics/orders/configs/retention.ms"
[ "$(json_get is_default <"$T/last.json")" = true ] || fail "after DELETE: $(cat "$T/last.json")"
expect_rest 204 acme h1 POST "$base/topics/orders/configs:alter" \
    '{"data": [{"name": "retention.ms", "value": "7200000"}, {"name": "retention.bytes", "operation": "DELETE"}]}'
expect_rest 200 acme h1 GET "$base/topics/orders/configs"
python3 - "$T/last.json" <<'PY' || fail "after alter: $(cat "$T/last.json")"
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))["data"]}
assert c["retention.ms"]["value"] == "7200000" and not c["retention.ms"]["is_default"], c["retention.ms"]
assert c["retention.bytes"]["is_default"], c["retention.bytes"]
PY
# The broker applies it too (Kafka's own view of the topic).
bk_retention() { "$BIN/kadmin" -b "$BROKER" describe acme.orders 2>/dev/null | grep '^retention.ms=7200000 ' >/dev/null; }
wait_for 10 "the broker applies retention.ms" bk_retention
step "configs: bad changes are refused and change nothing"
expect_rest 400 acme h1 PUT "$base/topics/orders/configs/retention.ms" '{"value": "soon"}'
expect_rest 400 acme h1 PUT "$base/topics/orders/configs/retention.ms" '{"value": 5}'
expect_rest 400 acme h1 PUT "$base/topics/orders/configs/retention.ms" 'not json'
expect_rest 400 acme h1 PUT "$base/topics/orders/configs/cleanup.policy" '{"value": "compact"}'
# A segment per batch on a shared broker: refused by the pool's bounds, over REST and gRPC.
expect_rest 400 acme h1 PUT "$base/topics/orders/configs/segment.bytes" '{"value": "14"}'
grep -q 'on this service' "$T/last.json" || fail "segment.bytes=14: $(cat "$T/last.json")"
expect_rest 400 acme h1 PUT "$base/topics/orders/configs/segment.ms" '{"value": "1"}'
expect_rest 400 acme h1 POST "$base/topics/orders/configs:alter" '{"data": [{"name": "segment.bytes", "value": "1048576"}]}'
expect_rest 404 acme h1 PUT "$base/topics/orders/configs/no.such" '{"value": "1"}'
expect_rest 404 acme h1 POST "$base/topics/orders/configs:alter" \
    '{"data": [{"name": "retention.ms", "value": "1"}, {"name": "no.such", "value": "1"}]}'
expect_rest 400 acme h1 POST "$base/topics/orders/configs:alter" '{"data": []}'
expect_rest 200 acme h1 GET "$base/topics/orders/configs/retention.ms"
[ "$(json_get value <"$T/last.json")" = 7200000 ] || fail "a refused change changed: $(cat "$T/last.json")"

# gstatus WANT WHO METHOD [JSON]: a gRPC call of WHO ends with status WANT.
gstatus() {
    local got
    got=$(grpc_check status "$3" "$2" "${4:-{\}}" 2>"$T/grpc.err")
    [ "$got" = "$1" ] || fail "gRPC $3 as $2: $got (want $1) $(cat "$T/grpc.err")"
}
rec='{"topic": "orders", "records": [{"value": "eA=="}]}'
gstatus INVALID_ARGUMENT acme CreateTopic '{"name": "tiny-segments", "configs": {"segment.bytes": "14"}}'
expect_rest 404 acme h1 GET "$base/topics/tiny-segments"

step "ACLs: a service account without ACLs is refused; the admin manages its ACLs"
gstatus NOT_FOUND reader DescribeTopic '{"name": "orders"}'
gstatus NOT_FOUND reader Produce "$rec"
expect_rest 404 reader h1 GET "$base/topics/orders"
expect_rest 200 reader h1 GET "$base/topics"
[ "$(json_get data <"$T/last.json")" = "[]" ] || fail "reader lists topics: $(cat "$T/last.json")"
expect_rest 403 reader h1 GET "$base/acls"
expect_rest 403 reader h1 POST "$base/acls" \
    '{"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:reader", "operation": "ALL", "permission": "ALLOW"}'
expect_rest 200 acme h1 GET "$base/acls"
[ "$(json_get data <"$T/last.json")" = "[]" ] || fail "$(cat "$T/last.json")"
expect_rest 201 acme h2c POST "$base/acls" \
    '{"resource_type": "TOPIC", "resource_name": "ord", "pattern_type": "PREFIXED", "principal": "User:reader", "host": "*", "operation": "READ", "permission": "ALLOW"}'
[ "$(json_get principal <"$T/last.json")" = User:reader ] || fail "$(cat "$T/last.json")"
expect_rest 200 reader h1 GET "$base/topics/orders"
expect_rest 200 reader h1 GET "$base/topics/orders/partitions/0/records?offset=0"
expect_rest 403 reader h1 POST "$base/topics/orders/records" '{"value": {"type": "STRING", "data": "x"}}'
expect_rest 403 reader h1 PUT "$base/topics/orders/configs/retention.ms" '{"value": "1000"}'
expect_rest 403 reader h1 DELETE "$base/topics/orders"
gstatus OK reader DescribeTopic '{"name": "orders"}'
gstatus OK reader ListOffsets '{"topic": "orders"}'
gstatus PERMISSION_DENIED reader Produce "$rec"
gstatus PERMISSION_DENIED reader ProduceStream "$rec"
gstatus PERMISSION_DENIED reader DeleteTopic '{"name": "orders"}'
gstatus PERMISSION_DENIED reader GetCommittedOffsets '{"group": "g", "topic": "orders"}'
expect_rest 201 acme h1 POST "$base/acls" \
    '{"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:reader", "operation": "DESCRIBE", "permission": "DENY"}'
expect_rest 404 reader h1 GET "$base/topics/orders"
expect_rest 404 reader h1 GET "$base/topics/orders/partitions/0/records?offset=0"
gstatus NOT_FOUND reader DescribeTopic '{"name": "orders"}'
gstatus NOT_FOUND reader Consume '{"topic": "orders", "offset": 0}'
expect_rest 200 acme h1 GET "$base/acls?principal=User:reader&resource_type=TOPIC"
python3 - "$T/last.json" <<'PY' || fail "ACL list: $(cat "$T/last.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "KafkaAclList", d
got = sorted((a["resource_name"], a["pattern_type"], a["operation"], a["permission"]) for a in d["data"])
assert got == [("ord", "PREFIXED", "READ", "ALLOW"), ("orders", "LITERAL", "DESCRIBE", "DENY")], got
assert all(a["principal"] == "User:reader" and a["host"] == "*" for a in d["data"]), d
PY
expect_rest 400 acme h1 POST "$base/acls" \
    '{"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:reader", "host": "10.0.0.1", "operation": "READ", "permission": "ALLOW"}'
expect_rest 400 acme h1 POST "$base/acls" \
    '{"resource_type": "SPACESHIP", "resource_name": "x", "principal": "User:reader", "operation": "READ", "permission": "ALLOW"}'
expect_rest 400 acme h1 POST "$base/acls" '{"resource_type": "TOPIC"}'
expect_rest 400 acme h1 DELETE "$base/acls"

step "ACLs: deleting by filter answers what was deleted and takes the rights away"
expect_rest 200 acme h1 DELETE "$base/acls?resource_type=TOPIC&resource_name=orders&pattern_type=LITERAL&principal=User:reader&operation=DESCRIBE&permission=DENY"
[ "$(json_get data.0.operation <"$T/last.json")" = DESCRIBE ] || fail "$(cat "$T/last.json")"
expect_rest 200 reader h1 GET "$base/topics/orders"

step "ACLs: a DENY on every topic (LITERAL \"*\") beats an ALLOW on one, when deciding and listing"
expect_rest 201 acme h1 POST "$base/acls" \
    '{"resource_type": "TOPIC", "resource_name": "*", "principal": "User:reader", "operation": "READ", "permission": "DENY"}'
expect_rest 404 reader h1 GET "$base/topics/orders/partitions/0/records?offset=0"
expect_rest 404 reader h1 GET "$base/topics/orders"
gstatus NOT_FOUND reader Consume '{"topic": "orders", "offset": 0}'
expect_rest 200 acme h1 GET "$base/acls?resource_type=TOPIC&resource_name=orders&pattern_type=MATCH"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["data"]; assert sorted((a["resource_name"], a["permission"]) for a in d) == [("*", "DENY"), ("ord", "ALLOW")], d' \
    "$T/last.json" || fail "MATCH listing: $(cat "$T/last.json")"
expect_rest 200 acme h1 DELETE "$base/acls?resource_type=TOPIC&resource_name=*&pattern_type=LITERAL&permission=DENY"
expect_rest 200 reader h1 GET "$base/topics/orders"
expect_rest 200 acme h1 DELETE "$base/acls?resource_type=ANY"
[ "$(json_get data.0.operation <"$T/last.json")" = READ ] || fail "$(cat "$T/last.json")"
expect_rest 404 reader h1 GET "$base/topics/orders"
expect_rest 200 acme h1 GET "$base/acls"
[ "$(json_get data <"$T/last.json")" = "[]" ] || fail "ACLs left: $(cat "$T/last.json")"

step "ACLs: a row the gateway cannot read (an operation newer than it) cuts no later rule off"
# The row is written past the control plane's checks, as a newer version's would be.
psql_q "ALTER TABLE acls DROP CONSTRAINT acls_operation_check"
expect_rest 201 acme h1 POST "$base/acls" \
    '{"resource_type": "TOPIC", "resource_name": "ord", "pattern_type": "PREFIXED", "principal": "User:reader", "operation": "READ", "permission": "ALLOW"}'
tid=$(psql_q "SELECT id FROM tenants WHERE name = 'acme'")
psql_q "INSERT INTO acls (tenant_id, principal, resource_type, pattern_type, resource_name, operation, permission)
        VALUES ('$tid', 'reader', 'topic', 'literal', 'elsewhere', 'teleport', 'allow')"
expect_rest 201 acme h1 POST "$base/acls" \
    '{"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:reader", "operation": "DESCRIBE", "permission": "DENY"}'
expect_rest 404 reader h1 GET "$base/topics/orders"
expect_rest 200 acme h1 DELETE "$base/acls?resource_type=TOPIC&resource_name=orders&pattern_type=LITERAL&permission=DENY"
expect_rest 200 reader h1 GET "$base/topics/orders"
# An unreadable DENY might deny this: the tenant's non-admin principals are refused.
psql_q "INSERT INTO acls (tenant_id, principal, resource_type, pattern_type, resource_name, operation, permission)
        VALUES ('$tid', 'reader', 'topic', 'literal', 'orders', 'teleport', 'deny')"
reader_refused() { [ "$(rest reader h1 GET "$base/topics/orders" >/dev/null; echo "$STATUS")" = 404 ]; }
wait_for 30 "an unreadable deny refuses the reader" reader_refused
expect_rest 200 acme h1 GET "$base/topics/orders"
psql_q "DELETE FROM acls WHERE operation = 'teleport'"
reader_back() { [ "$(rest reader h1 GET "$base/topics/orders" >/dev/null; echo "$STATUS")" = 200 ]; }
wait_for 30 "the reader is allowed again once the row is gone" reader_back
psql_q "ALTER TABLE acls ADD CONSTRAINT acls_operation_check CHECK (operation IN ('all', 'read', 'write', 'create', 'delete', 'alter', 'describe', 'describe_configs', 'alter_configs'))"
expect_rest 200 acme h1 DELETE "$base/acls?resource_type=ANY"

step "ACLs: deleting one ends a gRPC consume stream that relied on it"
grpc_check acl_revoke || fail "a consume stream outlived its ACL"
gw_stop
