#!/usr/bin/env bash
# The operator API route by route, against a real Postgres: authentication (401 with
# WWW-Authenticate), unknown paths (404), wrong methods (405 with Allow), bodies (invalid
# JSON, unknown fields, over 1 MiB), name rules, duplicates, unknown ids, and every
# resource's life cycle: pools, brokers, tenants, service accounts, API keys (secret shown
# once, stored hashed), JWT issuers, quotas, topics (placement, configs, partitions,
# leader changes), ACLs and the audit log. Every refused request must leave the database
# exactly as it was, and one tenant's path must never reach another tenant's objects.
# At the end: every route of cp_api.c's table answered at least one success and one
# refusal from its handler, and every change is in the audit log under its operator.
. "$(dirname "$0")/../lib/harness.sh"
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
pg_start
cp_start
OPS2=second-token-abcdefghij

# ---- helpers ---------------------------------------------------------------------------

# req TOKEN METHOD PATH [JSON or @FILE]: one call with TOKEN ("" for none). Sets STATUS,
# BODY and $T/hdrs (the response headers); logs the call for the route coverage check.
req() {
    local tok=$1 m=$2 path=$3
    local args=(-s --path-as-is -X "$m" -D "$T/hdrs" -o "$T/body" -w '%{http_code}' -H 'Expect:'
        -H 'Content-Type: application/json')
    [ -z "$tok" ] || args+=(-H "Authorization: Bearer $tok")
    [ $# -lt 4 ] || args+=(--data-binary "$4")
    local rc=0
    : >"$T/body"
    STATUS=$(curl "${args[@]}" "http://$CP$path") || rc=$?
    # A server that refuses a body before it has all of it closes the connection; the
    # client may then see the reset (curl 55: sending, 56: receiving) before the answer.
    if [ "$rc" != 0 ]; then
        [ "$rc" = 55 ] || [ "$rc" = 56 ] || fail "curl $m $path: exit $rc"
        [ "$STATUS" != 000 ] || STATUS=reset
    fi
    BODY=$(<"$T/body")
    local who=none
    [ "$tok" = "$OPTOKEN" ] && who="admin"
    [ "$tok" = "$OPS2" ] && who="ops2"
    echo "$m ${path%%\?*} $STATUS $who" >>"$T/calls"
}

# expect CODE METHOD PATH [JSON]: the operator's call answers CODE.
expect() {
    local want=$1
    shift
    req "$OPTOKEN" "$@"
    [ "$STATUS" = "$want" ] || fail "$1 $2 ${3:0:200}: status $STATUS, want $want: ${BODY:0:300}"
}

# Two long-lived helpers on FIFOs, so that the hundreds of checks below cost milliseconds
# each: psql for database fingerprints, Python for JSON.
mkfifo "$T/sql.in" "$T/sql.out" "$T/py.in" "$T/py.out"
psql -X -qAt -h 127.0.0.1 -p "$PGPORT" -U streamd -d streamd <"$T/sql.in" >"$T/sql.out" 2>&1 &
exec 5>"$T/sql.in" 6<"$T/sql.out"
# Each input line is a Python expression over d (the last response body, parsed) and f(name)
# (the text of $T/name); the answer is one line: a string as it is, anything else as JSON.
python3 -u -c '
import json, sys
T = sys.argv[1]
def f(name):
    return open(T + "/" + name).read()
for line in sys.stdin:
    try:
        try:
            d = json.loads(f("body"))
        except ValueError:
            d = None
        v = eval(line)
        out = v if isinstance(v, str) and "\n" not in v else json.dumps(v)
    except Exception as e:
        out = "ERROR: %r" % e
    print(out, flush=True)
' "$T" <"$T/py.in" >"$T/py.out" 2>&1 &
exec 7>"$T/py.in" 8<"$T/py.out"

# fingerprint: sets FP to a hash of every row of every table.
FP_SQL="SELECT md5(concat_ws('|' $(psql_q "SELECT tablename FROM pg_tables
    WHERE schemaname = 'public' ORDER BY 1" |
    while read -r t; do printf ", '%s', (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM %s x)" "$t" "$t"; done)));"
fingerprint() {
    echo "$FP_SQL" >&5
    read -r -t 10 FP <&6 || fail "no answer from the fingerprint psql"
    [[ "$FP" =~ ^[0-9a-f]{32}$ ]] || fail "fingerprint query failed: $FP"
}

# refused CODE METHOD PATH [JSON]: expect CODE, and nothing in the database changed.
refused() {
    fingerprint
    local before=$FP
    expect "$@"
    fingerprint
    [ "$FP" = "$before" ] || fail "$2 $3 was refused with $1 but changed the database"
}

# py EXPR: the helper's answer for one Python expression (see above).
py() {
    echo "$1" >&7
    local out
    read -r -t 10 out <&8 || fail "no answer from the Python helper"
    [[ "$out" != "ERROR: "* ]] || fail "python: $1: $out (body: ${BODY:0:300})"
    printf '%s\n' "$out"
}

# jv EXPR: a value from the last response body, d.
jv() {
    py "$1"
}

# jt EXPR MESSAGE: fails with MESSAGE unless the expression over d is true.
jt() {
    [ "$(py "bool($1)")" = true ] || fail "$2 (${BODY:0:400})"
}

# body 'name="x", n=1': a JSON object from Python keyword arguments.
body() {
    py "json.dumps(dict($1))"
}

long() { printf "%${2}s" "" | tr ' ' "$1"; }

# ---- health, metrics, routing, authentication -----------------------------------------

step "/healthz, /readyz and /metrics need no token"
[ "$(curl -s "http://$CP/healthz")" = ok ] || fail "/healthz"
[ "$(curl -s "http://$CP/readyz")" = ready ] || fail "/readyz"
curl -s "http://$CP/metrics" >"$T/metrics"
grep -q '^streamd_cp_requests_total [0-9]' "$T/metrics" || fail "no streamd_cp_requests_total in /metrics"
grep -q '^streamd_cp_database_up 1' "$T/metrics" || fail "/metrics does not say the database is up"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$CP/healthz")" = 405 ] || fail "POST /healthz not 405"

step "unknown paths are 404, with or without a token"
for p in /v1/nope /nope /v1 /v1/tenants/a/b/c/d/e/f/g/h /v1/tenants/acme/widgets /v1/pools/x/y \
    /v1/tenants/a%2Fb; do
    req "" GET "$p"
    [ "$STATUS" = 404 ] || fail "GET $p without a token: $STATUS, want 404"
    expect 404 GET "$p"
done

mapfile -t ROUTES < <(sed -n 's/^ *{ "\([A-Z]*\)", "\(v1[^"]*\)", cp_api_[a-z_]*, [a-z]* },$/\1 \2/p' \
    "$TOP/control-plane/cp_api.c")
[ "${#ROUTES[@]}" -ge 30 ] || fail "read only ${#ROUTES[@]} routes from control-plane/cp_api.c"

step "every one of the ${#ROUTES[@]} routes: 401 with WWW-Authenticate without a token or with a wrong one"
for r in "${ROUTES[@]}"; do
    m=${r%% *}
    path=/${r#* }
    path=${path//\*/x}
    for tok in "" wrong-token "$OPTOKEN-but-longer"; do
        req "$tok" "$m" "$path" '{}'
        [ "$STATUS" = 401 ] || fail "$m $path with token '$tok': $STATUS, want 401"
        grep -qi '^www-authenticate: Bearer realm="streamd-operator"' "$T/hdrs" ||
            fail "$m $path: 401 without WWW-Authenticate"
    done
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic $(printf admin:%s "$OPTOKEN" | base64)" \
    "http://$CP/v1/tenants")
[ "$code" = 401 ] || fail "Basic authentication accepted ($code)"

step "every route's path with a method it does not take: 405 with Allow"
for pat in $(printf '%s\n' "${ROUTES[@]}" | awk '{ print $2 }' | sort -u); do
    allow=$(printf '%s\n' "${ROUTES[@]}" | awk -v p="$pat" '$2 == p { print $1 }' | paste -sd, | sed 's/,/, /g')
    path=/${pat//\*/x}
    for m in GET POST PUT PATCH DELETE; do
        case ", $allow, " in *", $m, "*) continue ;; esac
        expect 405 "$m" "$path" '{}'
        got=$(sed -n 's/^[Aa]llow: \(.*\)\r$/\1/p' "$T/hdrs")
        [ "$got" = "$allow" ] || fail "$m $path: Allow '$got', want '$allow'"
    done
done

# ---- pools and brokers -------------------------------------------------------------------

step "pools: create, duplicate, bad names, bad bodies"
fingerprint
before=$FP
expect 201 POST /v1/pools '{"name": "default"}'
fingerprint
[ "$FP" != "$before" ] || fail "the database fingerprint does not see a new pool"
jt 'd["name"] == "default" and d["brokers"] == 0 and d["tenants"] == 0' "pool view"
expect 201 POST /v1/pools '{"name": "p2"}'
refused 409 POST /v1/pools '{"name": "default"}'
for n in '"A"' '"a"' '"1ab"' '"ab-"' '"a_b"' '"a.b"' '"a b"' '""' "\"$(long a 41)\"" 12 null '["ab"]'; do
    refused 400 POST /v1/pools "{\"name\": $n}"
done
expect 201 POST /v1/pools "{\"name\": \"$(long b 40)\"}"
refused 400 POST /v1/pools '{}'
refused 400 POST /v1/pools '{"name": "p3", "region": "eu"}'
jt '"region" in d["message"]' "the unknown field is not named"
for bad in '{' '{"name": }' 'nul' '[1]' '"p3"' '{"name": "p3"} x' '{"name": "p3",}' \
    '{"name": "p3", "name": "p4"}' "{\"a\": $(long '[' 20)$(long ']' 20)}"; do
    refused 400 POST /v1/pools "$bad"
done
refused 400 POST /v1/pools
jt '"JSON" in d["message"]' "an empty body is not explained"

step "bodies over 1 MiB are refused with 413; exactly 1 MiB is read"
python3 -c 'import sys; n = int(sys.argv[1]); s = "{\"name\": \"" ; sys.stdout.write(s + "a" * (n - len(s) - 2) + "\"}")' 1048576 >"$T/1mib"
python3 -c 'import sys; n = int(sys.argv[1]); s = "{\"name\": \"" ; sys.stdout.write(s + "a" * (n - len(s) - 2) + "\"}")' 1048577 >"$T/1mib+1"
python3 -c 'import sys; sys.stdout.write("{\"name\": \"" + "a" * 3000000 + "\"}")' >"$T/3mib"
[ "$(stat -c %s "$T/1mib")" = 1048576 ] || fail "test body size"
refused 400 POST /v1/pools "@$T/1mib"
# 413, or the reset of a connection closed on a body still coming (never anything else).
too_big() {
    fingerprint
    local before=$FP
    req "$OPTOKEN" "$@"
    case $STATUS in 413 | reset) ;; *) fail "$1 $2 with a body over 1 MiB: status $STATUS" ;; esac
    fingerprint
    [ "$FP" = "$before" ] || fail "$1 $2 was refused but changed the database"
}
too_big POST /v1/pools "@$T/1mib+1"
too_big POST /v1/pools "@$T/3mib"
too_big POST /v1/tenants "@$T/1mib+1"

step "pools: list, get, unknown, delete"
expect 200 GET /v1/pools
jt 'sorted(p["name"] for p in d["data"]) == sorted(["default", "p2", "b" * 40])' "pool list"
expect 200 GET /v1/pools/default
refused 404 GET /v1/pools/nope
refused 404 DELETE /v1/pools/nope
expect 204 DELETE "/v1/pools/$(long b 40)"
refused 404 GET "/v1/pools/$(long b 40)"

step "pools: bounds on tenants' topic configs, shared-service defaults, operator overrides"
expect 200 GET /v1/pools/default
jt 'd["topic_config_bounds"]["segment.bytes"] == {"min": 52428800, "max": 1073741824}' "default segment.bytes bounds"
jt 'd["topic_config_bounds"]["segment.ms"]["min"] == 600000' "default segment.ms bound"
jt 'd["topic_config_overrides"] == {}' "a new pool has overrides"
expect 200 PATCH /v1/pools/p2 '{"topic_config_bounds": {"segment.bytes": {"min": 1048576}, "retention.ms": {"max": 604800000}}}'
jt 'd["topic_config_bounds"]["segment.bytes"] == {"min": 1048576, "max": 1073741824}' "override merged"
jt 'd["topic_config_bounds"]["retention.ms"]["max"] == 604800000' "retention override"
expect 200 PATCH /v1/pools/p2 '{"topic_config_bounds": {"retention.ms": null}}'
jt 'd["topic_config_overrides"] == {"segment.bytes": {"min": 1048576}}' "null did not drop the override"
for b in '{}' '{"topic_config_bounds": 5}' '{"topic_config_bounds": {"cleanup.policy": {"min": 1}}}' \
    '{"topic_config_bounds": {"segment.bytes": {"min": 1}}}' '{"topic_config_bounds": {"segment.bytes": {"min": 9, "max": 8}}}' \
    '{"topic_config_bounds": {"segment.bytes": {"least": 100}}}' '{"other": 1}'; do
    refused 400 PATCH /v1/pools/p2 "$b"
done
refused 404 PATCH /v1/pools/nope '{"topic_config_bounds": {}}'

step "brokers register themselves in Postgres; the API lists them"
psql_q "INSERT INTO brokers (id, pool_id, host, port, state, lease_expires_at)
        SELECT g, (SELECT id FROM broker_pools WHERE name = 'default'), 'broker-' || g, 9090 + g,
               'up', now() + interval '1 hour' FROM generate_series(1, 3) g"
psql_q "INSERT INTO brokers (id, pool_id, host, port, rack, state, lease_expires_at)
        SELECT g, (SELECT id FROM broker_pools WHERE name = 'p2'), 'broker-' || g, 9090 + g,
               'r' || g, 'up', now() + interval '1 hour' FROM generate_series(10, 11) g"
expect 200 GET /v1/brokers
jt '[b["id"] for b in d["data"]] == [1, 2, 3, 10, 11]' "broker list"
expect 200 'GET' '/v1/brokers?pool=p2'
jt '[b["id"] for b in d["data"]] == [10, 11] and d["data"][0]["rack"] == "r10"' "broker list by pool"
expect 200 GET '/v1/brokers?pool=nope'
jt 'd["data"] == []' "an unknown pool lists no brokers"
expect 200 GET /v1/brokers/2
jt 'd["id"] == 2 and d["pool"] == "default" and d["host"] == "broker-2" and d["port"] == 9092 and d["state"] == "up"' "broker view"
for b in 99 abc -1 1x 99999999999; do refused 404 GET "/v1/brokers/$b"; done
expect 200 GET /v1/pools/default
jt 'd["brokers"] == 3 and d["brokers_up"] == 3' "the pool does not count its brokers"
refused 409 DELETE /v1/pools/p2

# ---- tenants ----------------------------------------------------------------------------

step "tenants: create, defaults, names, duplicates, unknown pool"
expect 201 POST /v1/tenants '{"name": "acme"}'
jt 'd["name"] == "acme" and d["pool"] == "default" and d["state"] == "active" and d["plan"] == "standard" and d["topics"] == 0' "tenant view"
ACME_ID=$(jv 'd["id"]')
expect 201 POST /v1/tenants '{"name": "globex", "plan": "pro", "pool": "default"}'
expect 201 POST /v1/tenants '{"name": "initech", "pool": "p2"}'
refused 409 POST /v1/tenants '{"name": "acme"}'
refused 422 POST /v1/tenants '{"name": "hooli", "pool": "nope"}'
for n in '"A"' '"a"' '"1abc"' '"ab-"' '"a.b"' '"a_b"' '"Acme"' '"ac me"' '""' "\"$(long a 41)\"" 7 '{}'; do
    refused 400 POST /v1/tenants "{\"name\": $n}"
done
refused 400 POST /v1/tenants '{"name": "hooli", "owner": "x"}'
refused 400 POST /v1/tenants '{"name": "hooli", "plan": 3}'
expect 201 POST /v1/tenants "{\"name\": \"$(long c 40)\"}"
expect 201 POST /v1/tenants '{"name": "ab"}'

step "tenants: list, filter, get, unknown"
expect 200 GET /v1/tenants
jt 'sorted(t["name"] for t in d["data"]) == sorted(["acme", "globex", "initech", "ab", "c" * 40])' "tenant list"
expect 200 GET /v1/tenants/globex
jt 'd["plan"] == "pro"' "plan not kept"
refused 404 GET /v1/tenants/nope
refused 404 PATCH /v1/tenants/nope '{"state": "suspended"}'
refused 404 DELETE /v1/tenants/nope

step "tenants: suspend, resume, plan change, bad updates"
expect 200 PATCH /v1/tenants/globex '{"state": "suspended"}'
jt 'd["state"] == "suspended"' "not suspended"
expect 200 GET '/v1/tenants?state=suspended'
jt '[t["name"] for t in d["data"]] == ["globex"]' "state filter"
refused 400 GET '/v1/tenants?state=frozen'
refused 409 POST /v1/tenants/globex/topics '{"name": "t"}'
jt 'd["error_code"] == 40901 and "suspended" in d["message"]' "a suspended tenant's topic"
expect 200 PATCH /v1/tenants/globex '{"state": "active"}'
jt 'd["state"] == "active" and d["plan"] == "pro"' "not resumed"
expect 200 PATCH /v1/tenants/globex '{"plan": "enterprise"}'
jt 'd["state"] == "active" and d["plan"] == "enterprise"' "plan change"
refused 400 PATCH /v1/tenants/globex '{"state": "frozen"}'
refused 400 PATCH /v1/tenants/globex '{"name": "other"}'
refused 400 PATCH /v1/tenants/globex '{"state": true}'
refused 400 PATCH /v1/tenants/globex 'state=active'
expect 204 DELETE /v1/tenants/ab
refused 404 GET /v1/tenants/ab
refused 404 DELETE /v1/tenants/ab
expect 204 DELETE "/v1/tenants/$(long c 40)"
refused 409 DELETE /v1/pools/p2

# ---- service accounts -------------------------------------------------------------------

step "service accounts: create, list, names, duplicates, delete"
expect 200 GET /v1/tenants/acme/service-accounts
jt '[s["name"] for s in d["data"]] == ["owner"] and d["data"][0]["admin"] is True' "every tenant starts with an admin owner"
expect 201 POST /v1/tenants/acme/service-accounts '{"name": "app-1", "description": "the orders app"}'
jt 'd["name"] == "app-1" and d["admin"] is False and d["api_keys"] == 0 and d["description"] == "the orders app"' "service account view"
expect 201 POST /v1/tenants/acme/service-accounts '{"name": "Ops.Bot_2", "admin": true}'
jt 'd["admin"] is True' "admin flag"
expect 201 POST /v1/tenants/globex/service-accounts '{"name": "app-1"}'
refused 409 POST /v1/tenants/acme/service-accounts '{"name": "app-1"}'
refused 409 POST /v1/tenants/acme/service-accounts '{"name": "owner"}'
for n in '""' '"a b"' '"a/b"' '"a:b"' '"ü"' "\"$(long a 65)\"" 5; do
    refused 400 POST /v1/tenants/acme/service-accounts "{\"name\": $n}"
done
refused 400 POST /v1/tenants/acme/service-accounts '{"name": "x", "admin": "yes"}'
refused 400 POST /v1/tenants/acme/service-accounts "{\"name\": \"x\", \"description\": \"$(long d 1025)\"}"
refused 400 POST /v1/tenants/acme/service-accounts '{"name": "x", "role": "admin"}'
refused 404 POST /v1/tenants/nope/service-accounts '{"name": "x"}'
refused 404 GET /v1/tenants/nope/service-accounts
expect 200 GET /v1/tenants/acme/service-accounts
jt 'sorted(s["name"] for s in d["data"]) == sorted(["owner", "app-1", "Ops.Bot_2"])' "service account list"
expect 204 DELETE /v1/tenants/acme/service-accounts/Ops.Bot_2
refused 404 DELETE /v1/tenants/acme/service-accounts/Ops.Bot_2
refused 404 DELETE /v1/tenants/acme/service-accounts/nobody
refused 404 DELETE /v1/tenants/nope/service-accounts/app-1

# ---- API keys ---------------------------------------------------------------------------

step "API keys: the secret is shown once and stored only as a PBKDF2 hash"
expect 201 POST /v1/tenants/acme/api-keys '{}'
KEY1=$(jv 'd["key"]')
SECRET1=$(jv 'd["secret"]')
jt 'd["service_account"] == "owner" and d["state"] == "active" and d["tenant"] == "acme"' "default key owner"
[[ "$KEY1" =~ ^[A-Z0-9]{16}$ ]] || fail "key id '$KEY1' is not 16 of [A-Z0-9]"
[[ "$SECRET1" =~ ^[A-Za-z0-9_-]{64}$ ]] || fail "secret '$SECRET1' is not 64 base64url characters"
expect 201 POST /v1/tenants/acme/api-keys '{"service_account": "app-1", "description": "ci"}'
KEY2=$(jv 'd["key"]')
SECRET2=$(jv 'd["secret"]')
[ "$SECRET1" != "$SECRET2" ] && [ "$KEY1" != "$KEY2" ] || fail "two keys share an id or a secret"
expect 201 POST /v1/tenants/globex/api-keys '{"service_account": "app-1"}'
GLOBEX_KEY=$(jv 'd["key"]')
refused 422 POST /v1/tenants/acme/api-keys '{"service_account": "nobody"}'
refused 422 POST /v1/tenants/initech/api-keys '{"service_account": "app-1"}'
refused 400 POST /v1/tenants/acme/api-keys '{"service_account": 1}'
refused 400 POST /v1/tenants/acme/api-keys "{\"description\": \"$(long d 1025)\"}"
refused 400 POST /v1/tenants/acme/api-keys '{"secret": "mine"}'
refused 404 POST /v1/tenants/nope/api-keys '{}'
expect 200 GET /v1/tenants/acme/api-keys
jt "sorted(k['key'] for k in d['data']) == sorted(['$KEY1', '$KEY2'])" "key list"
jt "[k['secret_prefix'] for k in d['data'] if k['key'] == '$KEY1'] == ['${SECRET1:0:4}']" "secret prefix"
jt 'all("secret" not in k and "secret_hash" not in k for k in d["data"])' "the list shows a secret field"
grep -qF -e "$SECRET1" -e "$SECRET2" <<<"$BODY" && fail "the key list contains a secret"
expect 200 GET /v1/tenants/acme/service-accounts
jt '[s["api_keys"] for s in d["data"] if s["name"] == "app-1"] == [1]' "service account key count"
hash_re='^hmac-sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$'
[ "$(psql_q "SELECT count(*) FILTER (WHERE secret_hash ~ '$hash_re') || '/' || count(*) FROM api_keys")" = 3/3 ] ||
    fail "api_keys.secret_hash is not 'hmac-sha256\$salt\$hash': $(psql_q 'SELECT secret_hash FROM api_keys')"
pg_dump --data-only -h 127.0.0.1 -p "$PGPORT" -U streamd -d streamd >"$T/data.sql"
grep -qF -e "$SECRET1" -e "$SECRET2" "$T/data.sql" && fail "a secret is stored in the database"
grep -qF -e "$SECRET1" -e "$SECRET2" "$T/control-plane.log" && fail "a secret is in the control plane's log"

step "API keys: revocation, idempotent, unknown keys"
expect 200 DELETE "/v1/tenants/acme/api-keys/$KEY2"
jt 'd["state"] == "revoked" and d["revoked_at"] is not None' "not revoked"
REVOKED_AT=$(jv 'd["revoked_at"]')
expect 200 DELETE "/v1/tenants/acme/api-keys/$KEY2"
jt "d['revoked_at'] == '$REVOKED_AT'" "a second revocation moved revoked_at"
expect 200 GET /v1/tenants/acme/api-keys
jt "{k['key']: k['state'] for k in d['data']} == {'$KEY1': 'active', '$KEY2': 'revoked'}" "key states"
refused 404 DELETE /v1/tenants/acme/api-keys/AAAAAAAAAAAAAAAA
refused 404 GET /v1/tenants/nope/api-keys
refused 404 DELETE "/v1/tenants/nope/api-keys/$KEY1"
expect 201 POST /v1/tenants/acme/service-accounts '{"name": "temp"}'
expect 201 POST /v1/tenants/acme/api-keys '{"service_account": "temp"}'
TEMP_KEY=$(jv 'd["key"]')
expect 204 DELETE /v1/tenants/acme/service-accounts/temp
expect 200 GET /v1/tenants/acme/api-keys
jt "'$TEMP_KEY' not in [k['key'] for k in d['data']]" "a deleted service account's key survived"

# ---- JWT issuers ------------------------------------------------------------------------

step "JWT issuers: RSA, EC and Ed25519 keys for their algorithms"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/ec384.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$T/ed.pem" 2>/dev/null
for k in rsa ec ec384 ed; do openssl pkey -in "$T/$k.pem" -pubout -out "$T/$k.pub"; done
# issuer ISS ALG KEYFILE [more keyword arguments]: an issuer body with the keys in $T/KEYFILE.
issuer() {
    body "issuer='$1', audience='streamd', algorithm='$2', public_keys=f('$3')${4:+, $4}"
}
expect 201 POST /v1/tenants/acme/jwt-issuers "$(issuer https://idp.acme RS256 rsa.pub)"
jt 'd["algorithm"] == "RS256" and d["principal_claim"] == "sub" and "BEGIN PUBLIC KEY" in d["public_keys"]' "issuer view"
RS_ISSUER=$(jv 'd["id"]')
expect 201 POST /v1/tenants/acme/jwt-issuers "$(issuer https://idp.acme/ec ES256 ec.pub "principal_claim='urn:acme:client_id'")"
jt 'd["principal_claim"] == "urn:acme:client_id"' "principal claim"
expect 201 POST /v1/tenants/acme/jwt-issuers "$(issuer https://idp.acme/ed EdDSA ed.pub)"
expect 201 POST /v1/tenants/acme/jwt-issuers "$(body "issuer='https://idp.acme/two', audience='x', algorithm='PS256', public_keys=f('rsa.pub') * 2")"
expect 201 POST /v1/tenants/globex/jwt-issuers "$(issuer https://idp.globex ES384 ec384.pub)"
GLOBEX_ISSUER=$(jv 'd["id"]')

step "JWT issuers: wrong key types, symmetric and 'none' algorithms, duplicates, bad fields"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer https://x RS256 ec.pub)"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer https://x ES256 rsa.pub)"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer https://x EdDSA ec.pub)"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer https://x PS512 ed.pub)"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(body "issuer='https://x', audience='s', algorithm='RS256', public_keys=f('rsa.pub') + f('ec.pub')")"
for alg in HS256 HS512 none None rs256 RS1 ''; do
    refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer https://x "$alg" rsa.pub)"
done
refused 400 POST /v1/tenants/acme/jwt-issuers "$(body "issuer='https://x', audience='s', algorithm='RS256', public_keys='not a key'")"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(body "issuer='https://x', audience='s', algorithm='RS256', public_keys=''")"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(body "issuer='https://x', audience='s', algorithm='RS256'")"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer '' RS256 rsa.pub)"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer "$(long i 1025)" RS256 rsa.pub)"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer https://x RS256 rsa.pub "principal_claim='a b'")"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer https://x RS256 rsa.pub "principal_claim='a/b'")"
refused 400 POST /v1/tenants/acme/jwt-issuers "$(issuer https://x RS256 rsa.pub "jwks_uri='https://x/jwks'")"
refused 409 POST /v1/tenants/acme/jwt-issuers "$(issuer https://idp.acme RS256 rsa.pub)"
# (issuer, audience) names the tenant of a token, so it is unique across tenants too.
refused 409 POST /v1/tenants/globex/jwt-issuers "$(issuer https://idp.acme RS256 rsa.pub)"
refused 404 POST /v1/tenants/nope/jwt-issuers "$(issuer https://y RS256 rsa.pub)"

step "JWT issuers: list and delete"
expect 200 GET /v1/tenants/acme/jwt-issuers
jt 'len(d["data"]) == 4 and all(i["issuer"].startswith("https://idp.acme") for i in d["data"])' "issuer list"
expect 204 DELETE "/v1/tenants/acme/jwt-issuers/$RS_ISSUER"
refused 404 DELETE "/v1/tenants/acme/jwt-issuers/$RS_ISSUER"
refused 404 DELETE /v1/tenants/acme/jwt-issuers/not-a-uuid
refused 404 DELETE /v1/tenants/acme/jwt-issuers/00000000-0000-0000-0000-000000000000
refused 404 GET /v1/tenants/nope/jwt-issuers
expect 200 GET /v1/tenants/acme/jwt-issuers
jt 'len(d["data"]) == 3' "issuer not deleted"

# ---- quotas -----------------------------------------------------------------------------

step "quotas: none at first; set, partial update, null removes a limit"
expect 200 GET /v1/tenants/acme/quotas
jt 'all(d[k] is None for k in ["produce_bytes_per_sec", "consume_bytes_per_sec", "requests_per_sec", "connections", "partitions", "storage_bytes"])' "a new tenant has limits"
expect 200 PUT /v1/tenants/acme/quotas '{"produce_bytes_per_sec": 1048576, "partitions": 100, "storage_bytes": 0}'
jt 'd["produce_bytes_per_sec"] == 1048576 and d["partitions"] == 100 and d["storage_bytes"] == 0 and d["connections"] is None' "quota set"
expect 200 PATCH /v1/tenants/acme/quotas '{"connections": 50}'
jt 'd["produce_bytes_per_sec"] == 1048576 and d["partitions"] == 100 and d["connections"] == 50' "a partial update lost limits"
expect 200 PATCH /v1/tenants/acme/quotas '{"produce_bytes_per_sec": null, "storage_bytes": null}'
jt 'd["produce_bytes_per_sec"] is None and d["storage_bytes"] is None and d["connections"] == 50 and d["partitions"] == 100' "null did not remove the limit"
for b in '{"connections": -1}' '{"partitions": -1}' '{"produce_bytes_per_sec": 0}' \
    '{"requests_per_sec": 0}' '{"connections": "5"}' '{"connections": 1.5}' '{"connections": true}' \
    '{"bandwidth": 5}' '{"partitions": 5, "connections": -5}'; do
    refused 400 PATCH /v1/tenants/acme/quotas "$b"
done
refused 404 PUT /v1/tenants/nope/quotas '{"partitions": 1}'
refused 404 GET /v1/tenants/nope/quotas

# ---- topics -----------------------------------------------------------------------------

step "topics: 6 partitions with rf 2 on 3 brokers: each broker holds 4 replicas and leads 2"
expect 201 POST /v1/tenants/acme/topics \
    '{"name": "orders", "partitions": 6, "replication_factor": 2, "configs": {"retention.ms": 86400000, "cleanup.policy": "delete", "max.message.bytes": "1048576"}}'
jt 'd["name"] == "orders" and d["internal_name"] == "acme.orders" and d["partitions"] == 6 and d["replication_factor"] == 2' "topic view"
jt 'd["configs"] == {"retention.ms": "86400000", "cleanup.policy": "delete", "max.message.bytes": "1048576"}' "configs"
jt 'd["unavailable_partitions"] == 0 and [a["partition"] for a in d["assignments"]] == list(range(6))' "assignments"
jt 'all(len(set(a["replicas"])) == 2 and a["leader"] == a["replicas"][0] and a["isr"] == a["replicas"] and a["leader_epoch"] == 0 and a["available"] for a in d["assignments"])' "partition placement"
ORDERS_ID=$(jv 'd["id"]')
expect 200 GET /v1/brokers
jt '[(b["id"], b["replicas"], b["leaders"]) for b in d["data"] if b["pool"] == "default"] == [(1, 4, 2), (2, 4, 2), (3, 4, 2)]' "placement is not balanced"
expect 200 GET /v1/tenants/acme/topics/orders
jt 'len(d["assignments"]) == 6' "get shows no assignments"

step "topics: defaults, odd valid names, and the name length the tenant prefix leaves"
expect 201 POST /v1/tenants/acme/topics '{"name": "plain"}'
jt 'd["partitions"] == 1 and d["replication_factor"] == 1 and d["configs"] == {}' "defaults"
expect 201 POST /v1/tenants/acme/topics '{"name": "a.b_c-D9"}'
expect 201 POST /v1/tenants/acme/topics '{"name": "..."}'
expect 201 POST /v1/tenants/acme/topics "{\"name\": \"$(long x 244)\"}"
jt "len(d['internal_name']) == 249" "internal name length"

step "topics: Kafka's name rules, bad counts, bad configs"
for n in '"."' '".."' '""' "\"$(long y 245)\"" "\"$(long y 250)\"" '"a b"' '"a/b"' '"a*b"' '"a:b"' \
    '"ü"' '"a,b"' 5 null; do
    refused 400 POST /v1/tenants/acme/topics "{\"name\": $n}"
done
for b in '"partitions": 0' '"partitions": 1001' '"partitions": "6"' '"partitions": 2.5' \
    '"replication_factor": 0' '"replication_factor": 17' '"replication_factor": -1'; do
    refused 400 POST /v1/tenants/acme/topics "{\"name\": \"t\", $b}"
done
for c in '{"compression.type": "lz4"}' '{"retention.ms": "abc"}' '{"retention.ms": -2}' \
    '{"segment.bytes": 1}' '{"cleanup.policy": "compact"}' '{"max.message.bytes": -5}' \
    '{"retention.ms": 1.5}' '{"retention.ms": true}' '{"retention.ms": null}' '["retention.ms"]' \
    '"retention.ms=1"' "{\"retention.ms\": \"$(long 1 70)\"}"; do
    refused 400 POST /v1/tenants/acme/topics "{\"name\": \"t\", \"configs\": $c}"
done
refused 400 POST /v1/tenants/acme/topics '{"name": "t", "compacted": true}'
refused 409 POST /v1/tenants/acme/topics '{"name": "orders"}'
refused 404 POST /v1/tenants/nope/topics '{"name": "t"}'

step "topics: a replication factor above the brokers up in the tenant's pool is 422"
refused 422 POST /v1/tenants/acme/topics '{"name": "t", "replication_factor": 4}'
jt '"3" in d["message"]' "the 422 does not say how many brokers are up"
refused 422 POST /v1/tenants/initech/topics '{"name": "t", "replication_factor": 3}'
expect 201 POST /v1/tenants/initech/topics '{"name": "t", "replication_factor": 2}'
jt 'sorted(d["assignments"][0]["replicas"]) == [10, 11]' "initech's topic is not on its pool's brokers"

step "topics: configs in Kafka's range but outside the pool's bounds are 400"
refused 400 POST /v1/tenants/acme/topics '{"name": "t", "configs": {"segment.bytes": 1048576}}'
jt '"segment.bytes must be from 52428800 to 1073741824 on this service" in d["message"]' "bound message"
refused 400 POST /v1/tenants/acme/topics '{"name": "t", "configs": {"segment.ms": 1}}'
refused 400 PATCH /v1/tenants/acme/topics/orders '{"configs": {"segment.bytes": 14}}'
expect 201 POST /v1/tenants/initech/topics '{"name": "small-segments", "configs": {"segment.bytes": 1048576}}'
expect 204 DELETE /v1/tenants/initech/topics/small-segments

step "topics: the partition quota is enforced at creation and when adding partitions"
# acme uses 6 + 1 + 1 + 1 + 1 = 10 partitions.
expect 200 PATCH /v1/tenants/acme/quotas '{"partitions": 12}'
refused 422 POST /v1/tenants/acme/topics '{"name": "big", "partitions": 3}'
jt '"quota" in d["message"]' "the 422 does not name the quota"
expect 201 POST /v1/tenants/acme/topics '{"name": "fits", "partitions": 2}'
refused 422 POST /v1/tenants/acme/topics/fits/partitions '{"count": 3}'
expect 200 PATCH /v1/tenants/acme/quotas '{"partitions": null}'
expect 204 DELETE /v1/tenants/acme/topics/fits

step "topics: list, get, unknown"
expect 200 GET /v1/tenants/acme/topics
jt 'sorted(t["name"] for t in d["data"]) == sorted(["orders", "plain", "a.b_c-D9", "...", "x" * 244])' "topic list"
jt 'all("assignments" not in t for t in d["data"])' "the list carries assignments"
refused 404 GET /v1/tenants/acme/topics/nope
refused 404 GET /v1/tenants/nope/topics/orders
refused 404 GET /v1/tenants/nope/topics

step "topics: set configs, reset one with null, bad changes"
expect 200 PATCH /v1/tenants/acme/topics/orders '{"configs": {"retention.ms": 1000, "segment.ms": "600000"}}'
jt 'd["configs"] == {"retention.ms": "1000", "segment.ms": "600000", "cleanup.policy": "delete", "max.message.bytes": "1048576"}' "configs not merged"
expect 200 PATCH /v1/tenants/acme/topics/orders '{"configs": {"retention.ms": null, "cleanup.policy": null}}'
jt 'd["configs"] == {"segment.ms": "600000", "max.message.bytes": "1048576"}' "null did not reset"
for b in '{}' '{"configs": null}' '{"configs": {"flush.ms": -1}}' '{"configs": {"bogus": 1}}' \
    '{"configs": {"segment.ms": 1}, "partitions": 9}' '{"configs": "x"}'; do
    refused 400 PATCH /v1/tenants/acme/topics/orders "$b"
done
refused 404 PATCH /v1/tenants/acme/topics/nope '{"configs": {}}'
refused 404 PATCH /v1/tenants/nope/topics/orders '{"configs": {}}'

step "topics: add partitions; the count never shrinks"
expect 200 POST /v1/tenants/acme/topics/orders/partitions '{"count": 8}'
jt 'd["partitions"] == 8 and [a["partition"] for a in d["assignments"]] == list(range(8))' "partitions not added"
jt 'all(len(set(a["replicas"])) == 2 and a["leader"] == a["replicas"][0] for a in d["assignments"])' "new partitions' placement"
expect 200 GET '/v1/brokers?pool=default'
jt 'max(b["replicas"] for b in d["data"]) - min(b["replicas"] for b in d["data"]) <= 1' "added partitions unbalance the brokers"
for b in '{"count": 8}' '{"count": 4}' '{"count": 0}' '{"count": 1001}' '{}' '{"count": "9"}' \
    '{"count": 9, "rf": 3}'; do
    refused 400 POST /v1/tenants/acme/topics/orders/partitions "$b"
done
refused 404 POST /v1/tenants/acme/topics/nope/partitions '{"count": 2}'

step "leader change: compare-and-set on the leader epoch"
psql_q "UPDATE partitions SET isr = replicas WHERE topic_id = '$ORDERS_ID' AND partition = 0"
expect 200 GET /v1/tenants/acme/topics/orders
OLD_LEADER=$(jv 'd["assignments"][0]["leader"]')
NEW_LEADER=$(jv 'd["assignments"][0]["replicas"][1]')
OUTSIDER=$(jv '[b for b in [1, 2, 3] if b not in d["assignments"][0]["replicas"]][0]')
expect 200 PUT /v1/tenants/acme/topics/orders/partitions/0/leader "{\"leader\": $NEW_LEADER, \"leader_epoch\": 0}"
jt "d['assignments'][0]['leader'] == $NEW_LEADER and d['assignments'][0]['leader_epoch'] == 1" "leader not changed"
jt 'all(a["leader_epoch"] == 0 for a in d["assignments"][1:])' "other partitions' epochs moved"
refused 409 PUT /v1/tenants/acme/topics/orders/partitions/0/leader "{\"leader\": $OLD_LEADER, \"leader_epoch\": 0}"
jt '"epoch" in d["message"]' "the stale-epoch 409 does not say so"
refused 409 PUT /v1/tenants/acme/topics/orders/partitions/0/leader "{\"leader\": $OLD_LEADER, \"leader_epoch\": 7}"
refused 409 PUT /v1/tenants/acme/topics/orders/partitions/0/leader "{\"leader\": $OUTSIDER, \"leader_epoch\": 1}"
jt '"in-sync" in d["message"]' "the 409 does not say the broker is not in sync"
refused 409 PUT /v1/tenants/acme/topics/orders/partitions/1/leader '{"leader": 99, "leader_epoch": 0}'
expect 200 PUT /v1/tenants/acme/topics/orders/partitions/0/leader "{\"leader\": $OLD_LEADER, \"leader_epoch\": 1}"
jt "d['assignments'][0]['leader'] == $OLD_LEADER and d['assignments'][0]['leader_epoch'] == 2" "leader not changed back"
for p in 99 x -1 1.0; do
    refused 404 PUT "/v1/tenants/acme/topics/orders/partitions/$p/leader" '{"leader": 1, "leader_epoch": 0}'
done
refused 404 PUT /v1/tenants/acme/topics/nope/partitions/0/leader '{"leader": 1, "leader_epoch": 0}'
refused 404 PUT /v1/tenants/nope/topics/orders/partitions/0/leader '{"leader": 1, "leader_epoch": 0}'
for b in '{"leader": 1}' '{"leader_epoch": 2}' '{"leader": "1", "leader_epoch": 2}' \
    '{"leader": 1, "leader_epoch": -1}' '{"leader": -2, "leader_epoch": 2}' \
    '{"leader": 1, "leader_epoch": 2, "force": true}'; do
    refused 400 PUT /v1/tenants/acme/topics/orders/partitions/0/leader "$b"
done

# ---- ACLs -------------------------------------------------------------------------------

step "ACLs: create, defaults, duplicates"
expect 201 POST /v1/tenants/acme/acls \
    '{"principal": "app-1", "resource_type": "topic", "pattern_type": "prefixed", "resource_name": "orders", "operation": "read", "permission": "allow"}'
ACL1=$(jv 'd["id"]')
jt 'd["principal"] == "app-1" and d["pattern_type"] == "prefixed" and d["operation"] == "read"' "ACL view"
expect 201 POST /v1/tenants/acme/acls '{"principal": "app-1", "resource_type": "group", "resource_name": "billing", "operation": "all"}'
jt 'd["pattern_type"] == "literal" and d["permission"] == "allow"' "ACL defaults"
expect 201 POST /v1/tenants/acme/acls '{"principal": "*", "resource_type": "topic", "resource_name": "*", "operation": "describe", "permission": "deny"}'
expect 201 POST /v1/tenants/acme/acls '{"principal": "app-1", "resource_type": "cluster", "resource_name": "kafka-cluster", "operation": "describe_configs"}'
expect 201 POST /v1/tenants/globex/acls '{"principal": "app-1", "resource_type": "topic", "resource_name": "orders", "operation": "write"}'
GLOBEX_ACL=$(jv 'd["id"]')
refused 409 POST /v1/tenants/acme/acls '{"principal": "app-1", "resource_type": "group", "resource_name": "billing", "operation": "all", "pattern_type": "literal", "permission": "allow"}'

step "ACLs: bad enum values and names"
# acl '"field": value': a valid ACL body with that one field replaced or added, so that a
# refusal is about that field alone.
acl() {
    printf '{%s}' "$1" >"$T/acl-field"
    py "json.dumps({**dict(principal='app-1', resource_type='topic', resource_name='orders', operation='read'), **json.loads(f('acl-field'))})"
}
for b in '"resource_type": "queue"' '"pattern_type": "regex"' '"pattern_type": "MATCH"' \
    '"operation": "READ"' '"operation": "produce"' '"permission": "maybe"' '"permission": "ALLOW"' \
    '"principal": "a b"' '"principal": ""' '"principal": "**"' "\"principal\": \"$(long p 65)\"" \
    '"resource_name": ""' '"resource_name": "a b"' "\"resource_name\": \"$(long r 250)\"" \
    '"resource_name": 5' '"host": "*"'; do
    refused 400 POST /v1/tenants/acme/acls "$(acl "$b")"
done
refused 400 POST /v1/tenants/acme/acls '{"principal": "app-1", "resource_type": "topic", "resource_name": "orders"}'
refused 404 POST /v1/tenants/nope/acls "$(acl '"permission": "allow"')"

step "ACLs: list with filters, delete"
expect 200 GET /v1/tenants/acme/acls
jt 'len(d["data"]) == 4' "ACL list"
expect 200 'GET' '/v1/tenants/acme/acls?principal=app-1'
jt 'len(d["data"]) == 3 and all(a["principal"] == "app-1" for a in d["data"])' "principal filter"
expect 200 GET '/v1/tenants/acme/acls?resource_type=topic'
jt 'len(d["data"]) == 2 and all(a["resource_type"] == "topic" for a in d["data"])' "resource type filter"
expect 200 GET '/v1/tenants/acme/acls?principal=app-1&resource_type=group'
jt 'len(d["data"]) == 1 and d["data"][0]["resource_name"] == "billing"' "both filters"
expect 200 GET '/v1/tenants/acme/acls?principal=%2A'
jt 'len(d["data"]) == 1 and d["data"][0]["permission"] == "deny"' "an escaped '*' filter"
expect 200 GET '/v1/tenants/acme/acls?principal=nobody'
jt 'd["data"] == []' "a filter matching nothing"
refused 404 GET /v1/tenants/nope/acls
expect 204 DELETE "/v1/tenants/acme/acls/$ACL1"
refused 404 DELETE "/v1/tenants/acme/acls/$ACL1"
refused 404 DELETE /v1/tenants/acme/acls/not-a-uuid
expect 200 GET /v1/tenants/acme/acls
jt "len(d['data']) == 3 and '$ACL1' not in [a['id'] for a in d['data']]" "ACL not deleted"

# ---- tenant isolation -------------------------------------------------------------------

step "isolation: one tenant's path never reaches another tenant's objects"
refused 404 DELETE "/v1/tenants/acme/api-keys/$GLOBEX_KEY"
refused 404 DELETE "/v1/tenants/globex/api-keys/$KEY1"
refused 404 DELETE "/v1/tenants/globex/acls/$(psql_q "SELECT id FROM acls WHERE tenant_id = '$ACME_ID' LIMIT 1")"
refused 404 DELETE "/v1/tenants/acme/acls/$GLOBEX_ACL"
refused 404 DELETE "/v1/tenants/acme/jwt-issuers/$GLOBEX_ISSUER"
refused 404 DELETE "/v1/tenants/globex/jwt-issuers/$(psql_q "SELECT id FROM jwt_issuers WHERE tenant_id = '$ACME_ID' LIMIT 1")"
refused 404 DELETE /v1/tenants/globex/topics/orders
refused 404 DELETE "/v1/tenants/globex/topics/$ORDERS_ID"
refused 404 DELETE "/v1/tenants/acme/topics/$ORDERS_ID"
refused 404 GET /v1/tenants/globex/topics/orders
refused 404 PATCH /v1/tenants/globex/topics/orders '{"configs": {"retention.ms": 1}}'
refused 404 POST /v1/tenants/globex/topics/orders/partitions '{"count": 9}'
refused 404 PUT /v1/tenants/globex/topics/orders/partitions/0/leader '{"leader": 1, "leader_epoch": 2}'
refused 404 DELETE /v1/tenants/initech/service-accounts/app-1
# Encoded or dot segments must not walk up the path into another resource.
for p in /v1/tenants/globex/topics/.. /v1/tenants/globex/topics/%2E%2E /v1/tenants/globex/topics/. \
    /v1/tenants/globex/acls/..%2F..%2Facme /v1/tenants/globex/acls/../../acme \
    /v1/tenants/globex/api-keys/..%2F..%2Facme "/v1/tenants/globex/api-keys/../../acme/api-keys/$KEY1" \
    /v1/tenants/globex/service-accounts/%2E%2E /v1/tenants/acme%2Fservice-accounts%2Fapp-1 \
    /v1/pools/default/.. /v1/brokers/1/..; do
    refused 404 DELETE "$p"
done
expect 200 GET /v1/tenants/globex
expect 200 GET /v1/tenants/globex/api-keys
jt "[k['key'] for k in d['data']] == ['$GLOBEX_KEY']" "globex lists another tenant's keys"
expect 200 GET /v1/tenants/globex/acls
jt "[a['id'] for a in d['data']] == ['$GLOBEX_ACL']" "globex lists another tenant's ACLs"
expect 200 GET /v1/tenants/globex/topics
jt 'd["data"] == []' "globex lists another tenant's topics"
expect 200 GET /v1/tenants/globex/jwt-issuers
jt "[i['id'] for i in d['data']] == ['$GLOBEX_ISSUER']" "globex lists another tenant's issuers"
expect 200 GET /v1/tenants/acme/api-keys
jt "{k['key']: k['state'] for k in d['data']}['$KEY1'] == 'active'" "acme's key changed through globex"

# ---- deletions and brokers --------------------------------------------------------------

step "a tenant with topics cannot be deleted; without them it can, with everything it owns"
refused 409 DELETE /v1/tenants/acme
jt '"topic" in d["message"]' "the 409 does not say why"
for t in orders plain a.b_c-D9 ... "$(long x 244)"; do
    expect 204 DELETE "/v1/tenants/acme/topics/$t"
done
refused 404 DELETE /v1/tenants/acme/topics/orders
[ "$(psql_q "SELECT count(*) FROM partitions WHERE topic_id = '$ORDERS_ID'")" = 0 ] ||
    fail "a deleted topic's partitions remain"
expect 200 GET /v1/tenants/acme
jt 'd["topics"] == 0 and d["partitions"] == 0' "tenant counts after topic deletion"
expect 204 DELETE /v1/tenants/acme
for t in principals api_keys jwt_issuers quotas acls; do
    [ "$(psql_q "SELECT count(*) FROM $t WHERE tenant_id = '$ACME_ID'")" = 0 ] || fail "a deleted tenant's $t remain"
done
refused 404 GET /v1/tenants/acme

step "brokers: an up broker, or a down one holding replicas, cannot be deleted"
refused 409 DELETE /v1/brokers/10
jt '"up" in d["message"]' "the 409 does not say the broker is up"
# Broker 11 holds a replica of initech's topic but leads nothing, so marking it down
# gives the reconciler nothing to do.
[ "$(psql_q "SELECT count(*) FROM partitions WHERE leader = 11")" = 0 ] || fail "broker 11 leads a partition"
psql_q "UPDATE brokers SET state = 'down' WHERE id = 11"
refused 409 DELETE /v1/brokers/11
jt '"replica" in d["message"]' "the 409 does not say the broker holds replicas"
refused 404 DELETE /v1/brokers/99
refused 404 DELETE /v1/brokers/abc
expect 204 DELETE /v1/tenants/initech/topics/t
expect 204 DELETE /v1/brokers/11
refused 404 GET /v1/brokers/11

step "components: a credential per broker, gateway or tool, shown once, revocable"
expect 201 POST /v1/components '{"name": "broker-7", "kind": "broker", "pool": "default", "broker_id": 7}'
jt 'd["credential"].startswith("broker-7.") and len(d["credential"]) == 9 + 43 and d["pool"] == "default" and d["broker_id"] == 7' "a broker's credential"
COMPONENT_CRED=$(py 'd["credential"]')
expect 201 POST /v1/components '{"name": "gateway-1", "kind": "gateway"}'
refused 409 POST /v1/components '{"name": "gateway-1", "kind": "gateway"}'
refused 400 POST /v1/components '{"name": "Gateway", "kind": "gateway"}'
refused 400 POST /v1/components '{"name": "x", "kind": "admin"}'
refused 400 POST /v1/components '{"name": "b2", "kind": "broker"}'
refused 400 POST /v1/components '{"name": "g2", "kind": "gateway", "pool": "default", "broker_id": 1}'
refused 422 POST /v1/components '{"name": "b3", "kind": "broker", "pool": "nope", "broker_id": 3}'
expect 200 GET /v1/components
jt '[c["name"] for c in d["data"]] == ["broker-7", "gateway-1"] and "credential" not in json.dumps(d) and all(c["revoked_at"] is None for c in d["data"])' "component list"
grep -qF "${COMPONENT_CRED#*.}" <<<"$(psql_q "SELECT row_to_json(c) FROM components c")" &&
    fail "the database holds the credential"
expect 204 DELETE /v1/components/gateway-1
refused 404 DELETE /v1/components/gateway-1
refused 404 DELETE /v1/components/nope
expect 200 GET /v1/components
jt '[c["name"] for c in d["data"] if c["revoked_at"]] == ["gateway-1"]' "revoked"

step "the second operator token is recorded under its own name"
req "$OPS2" POST /v1/pools '{"name": "p9"}'
[ "$STATUS" = 201 ] || fail "ops2 cannot create a pool: $STATUS $BODY"
req "$OPS2" DELETE /v1/pools/p9
[ "$STATUS" = 204 ] || fail "ops2 cannot delete a pool: $STATUS $BODY"

# ---- the audit log ----------------------------------------------------------------------

step "audit: every change, in order, under its operator"
expect 200 GET '/v1/audit?limit=10000'
echo "$BODY" >"$T/audit.json"
python3 - "$T/audit.json" "$T/calls" <<'EOF' || fail "the audit log does not match the changes made"
import json, sys
audit = json.load(open(sys.argv[1]))["data"]
calls = [l.split() for l in open(sys.argv[2])]
changes = [c for c in calls if c[0] != "GET" and c[2].startswith("2")]
by_op = [a for a in audit if a["actor"] in ("admin", "ops2")]
bad = False
def problem(msg):
    global bad
    print("audit:", msg)
    bad = True
if len(by_op) != len(changes):
    problem(f"{len(changes)} successful changes but {len(by_op)} operator audit records")
others = {a["actor"] for a in audit} - {"admin", "ops2"}
if others:
    problem(f"unexpected actors {others}")
ops2 = [(a["action"], a["target"]) for a in audit if a["actor"] == "ops2"]
if sorted(ops2) != [("pool.create", "p9"), ("pool.delete", "p9")]:
    problem(f"ops2's records: {ops2}")
ids = [a["id"] for a in audit]
if ids != sorted(ids, reverse=True):
    problem("not newest first")
want = {"pool.create", "pool.delete", "tenant.create", "tenant.suspend", "tenant.update",
        "tenant.delete", "service_account.create", "service_account.delete", "api_key.create",
        "api_key.revoke", "jwt_issuer.create", "jwt_issuer.delete", "quota.update",
        "topic.create", "topic.configs", "topic.partitions", "topic.delete", "partition.leader",
        "acl.create", "acl.delete", "broker.delete", "component.create", "component.revoke"}
missing = want - {a["action"] for a in by_op}
if missing:
    problem(f"no record of {sorted(missing)}")
for a in audit:
    for k in ("secret", "secret_hash"):
        if k in json.dumps(a["details"]):
            problem(f"a record holds {k}: {a}")
sys.exit(1 if bad else 0)
EOF
expect 200 GET '/v1/audit?tenant=globex&limit=10000'
jt 'd["data"] and all(a["tenant"] == "globex" for a in d["data"])' "tenant filter"
jt '{a["action"] for a in d["data"]} >= {"tenant.create", "tenant.suspend", "tenant.update", "service_account.create", "api_key.create", "jwt_issuer.create", "acl.create"}' "globex's records"
expect 200 GET '/v1/audit?limit=2'
jt 'len(d["data"]) == 2 and d["data"][0]["actor"] == "ops2" and d["data"][0]["action"] == "pool.delete"' "limit, newest first"
refused 400 GET '/v1/audit?limit=abc'
refused 400 GET '/v1/audit?limit=0'
refused 400 GET '/v1/audit?limit=2x'
grep -qF -e "$SECRET1" -e "$SECRET2" <<<"$(curl -s -H "Authorization: Bearer $OPTOKEN" "http://$CP/v1/audit?limit=10000")" &&
    fail "the audit log shows a secret"

# ---- route coverage ---------------------------------------------------------------------

step "every route answered a success and a refusal from its handler"
printf '%s\n' "${ROUTES[@]}" >"$T/routes"
python3 - "$T/routes" "$T/calls" <<'EOF' || fail "some routes were not exercised"
import sys
routes = [l.split() for l in open(sys.argv[1])]
calls = [l.split() for l in open(sys.argv[2])]
def match(pattern, path):
    p, s = pattern.split("/"), path.strip("/").split("/")
    return len(p) == len(s) and all(a == "*" or a == b for a, b in zip(p, s))
# Lists without a tenant in their path have nothing a handler could refuse.
no_refusal = {("GET", "v1/tenants"), ("GET", "v1/pools"), ("GET", "v1/brokers"), ("GET", "v1/audit"),
              ("GET", "v1/components")}
bad = False
for method, pattern in routes:
    got = {c[2] for c in calls if c[0] == method and c[3] != "none" and match(pattern, c[1])}
    ok = any(g.startswith("2") for g in got)
    refused = any(g.startswith("4") and g not in ("401", "405") for g in got) or (
        (method, pattern) in no_refusal)
    if not ok or not refused:
        print(f"{method} /{pattern}: answered {sorted(got)}; want a 2xx and a handler's 4xx")
        bad = True
sys.exit(1 if bad else 0)
EOF

step "metrics count requests and refusals"
# One scrape, then 10 requests, then another: the second scrape counts the first one too.
metric_cp() { awk -v m="$1" '$1 == m { printf "%d", $2 }' "$T/metrics"; }
curl -s "http://$CP/metrics" >"$T/metrics"
reqs0=$(metric_cp streamd_cp_requests_total)
errs0=$(metric_cp streamd_cp_client_errors_total)
for _ in 1 2 3 4 5; do expect 200 GET /v1/tenants/globex; expect 404 GET /v1/tenants/nope; done
curl -s "http://$CP/metrics" >"$T/metrics"
reqs1=$(metric_cp streamd_cp_requests_total)
errs1=$(metric_cp streamd_cp_client_errors_total)
[ $((reqs1 - reqs0)) -eq 11 ] || fail "streamd_cp_requests_total went from $reqs0 to $reqs1 over 11 requests"
[ $((errs1 - errs0)) -eq 5 ] || fail "streamd_cp_client_errors_total went from $errs0 to $errs1 over 5 refusals"
[ "$(metric_cp streamd_cp_server_errors_total)" = 0 ] || fail "the control plane answered 5xx (see its log)"
grep -q '^streamd_cp_request_duration_seconds' "$T/metrics" || fail "no latency histogram"

# ---- regressions -------------------------------------------------------------------------
# One check per control-plane bug found while writing this test. They run last and are
# collected, so that every other check above still runs while a bug is open.

step "regressions: bugs found in the control plane"
BUGS=()
bug() { # bug SHORT DETAILS
    echo "BUG: $1: $2"
    BUGS+=("$1")
}
# refused_or_bug CODE DESCRIPTION METHOD PATH [JSON]: like refused, but records a bug.
refused_or_bug() {
    local want=$1 what=$2
    shift 2
    fingerprint
    local before=$FP
    req "$OPTOKEN" "$@"
    fingerprint
    if [ "$STATUS" != "$want" ]; then
        bug "$what" "$1 $2 answered $STATUS, want $want: ${BODY:0:200}"
    elif [ "$FP" != "$before" ]; then
        bug "$what" "$1 $2 was refused but changed the database"
    fi
}

# cp_api_tenants.c: "plan" is never checked by the API, only by the tenants_plan_check
# constraint, which cp_api_db_error maps to 409 Conflict.
refused_or_bug 400 "an invalid plan at tenant creation" POST /v1/tenants '{"name": "planned", "plan": "Bad Plan!"}'
refused_or_bug 400 "an invalid plan at tenant update" PATCH /v1/tenants/globex '{"plan": "Bad Plan!"}'
# cp_api_tenants.c cp_issuer__keys_ok: only the key type is checked, so an ES256 issuer
# takes a P-384 key (ES256 is ECDSA on P-256, RFC 7518 3.4) and every token fails later.
refused_or_bug 400 "ES256 with a P-384 key" POST /v1/tenants/globex/jwt-issuers "$(issuer https://p384 ES256 ec384.pub)"
refused_or_bug 400 "ES384 with a P-256 key" POST /v1/tenants/globex/jwt-issuers "$(issuer https://p256 ES384 ec.pub)"
# cp_issuer__keys_ok reads only the PUBLIC KEY blocks and ignores the rest, but the whole
# text is stored and listed: a private key pasted with the public one is kept and served.
refused_or_bug 400 "a PRIVATE KEY block in public_keys" POST /v1/tenants/globex/jwt-issuers \
    "$(body "issuer='https://leak', audience='s', algorithm='ES256', public_keys=f('ec.pem') + f('ec.pub')")"
expect 200 GET /v1/tenants/globex/jwt-issuers
grep -q 'PRIVATE KEY' <<<"$BODY" && bug "the issuer list serves a private key" "GET /v1/tenants/globex/jwt-issuers"

[ "${#BUGS[@]}" -eq 0 ] || fail "${#BUGS[@]} control-plane bug(s): $(printf '%s; ' "${BUGS[@]}")"

cp_stop
echo PASS
