#!/usr/bin/env bash
# streamctl against a real control plane: tables, --json, the exit codes (0 ok, 1 API
# error, 2 usage, 3 unreachable), and the secret shown once.
. "$(dirname "$0")/../lib/harness.sh"

pg_start
cp_start
export STREAMD_URL="http://$CP" STREAMD_TOKEN="$OPTOKEN"
S="$BIN/streamctl"

step "pools, tenants and a fake broker"
"$S" pools create default | grep default >/dev/null || fail "pools create"
psql_q "INSERT INTO brokers (id, pool_id, host, port, state, lease_expires_at)
        SELECT 1, id, '127.0.0.1', 19092, 'up', now() + interval '1 hour' FROM broker_pools"
"$S" tenants create acme --plan pro >/dev/null || fail "tenants create"
"$S" tenants list | grep -Eq '^acme +pro +active +default' || fail "tenants table: $("$S" tenants list)"
[ "$("$S" --json tenants get acme | json_get plan)" = pro ] || fail "--json tenants get"

step "keys: the secret is printed once and works nowhere else"
out=$("$S" --json keys create acme --description ci 2>/dev/null)
key=$(echo "$out" | json_get key)
secret=$(echo "$out" | json_get secret)
[ ${#secret} -ge 40 ] || fail "no secret in: $out"
"$S" --json keys list acme | grep "$key" >/dev/null || fail "key not listed"
! "$S" --json keys list acme | grep "$secret" >/dev/null || fail "the secret is listed"

step "topics: create with configs, assignments table, set-config, add partitions"
"$S" topics create acme orders --partitions 3 --config retention.ms=60000 >/dev/null ||
    fail "topics create"
"$S" topics get acme orders | grep -Eq '^2 +1 +0 +1 +1 +true' || fail "assignments: $("$S" topics get acme orders)"
"$S" topics set-config acme orders retention.ms= >/dev/null || fail "reset config"
[ "$("$S" --json topics get acme orders | json_get configs)" = '{}' ] || fail "config not reset"
"$S" topics add-partitions acme orders --count 4 >/dev/null || fail "add-partitions"

step "components: a credential shown once, never listed, revoked"
out=$("$S" --json components create broker-1 --kind broker --pool default --broker-id 1 2>/dev/null)
cred=$(echo "$out" | json_get credential)
case $cred in broker-1.?*) ;; *) fail "no credential in: $out" ;; esac
"$S" components list | grep -E '^broker-1 +broker +default +1 ' >/dev/null || fail "components list: $("$S" components list)"
! "$S" --json components list | grep "${cred#*.}" >/dev/null || fail "the credential is listed"
"$S" components revoke broker-1 >/dev/null || fail "components revoke"
rc=0; "$S" components revoke broker-1 2>/dev/null || rc=$?
[ $rc -eq 1 ] || fail "revoking twice: exit $rc, want 1"

step "exit codes"
rc=0; "$S" tenants create Bad-Name 2>/dev/null || rc=$?
[ $rc -eq 1 ] || fail "API error: exit $rc, want 1"
rc=0; "$S" tenants frobnicate 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "usage error: exit $rc, want 2"
rc=0; "$S" tenants get '..' 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "dot name: exit $rc, want 2"
rc=0; STREAMD_TOKEN=wrong "$S" tenants list 2>/dev/null || rc=$?
[ $rc -eq 1 ] || fail "wrong token: exit $rc, want 1"
rc=0; STREAMD_URL="http://127.0.0.1:$(free_port)" "$S" tenants list 2>/dev/null || rc=$?
[ $rc -eq 3 ] || fail "unreachable: exit $rc, want 3"
"$S" health | grep ready >/dev/null || fail "health"

cp_stop
echo "PASS"
