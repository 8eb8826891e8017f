#!/usr/bin/env bash
# Attacks on the gateway's authentication all get 401 (and change nothing): JWTs with
# alg=none in any casing, HS256 keyed with the issuer's RSA public key, expired, not yet
# valid, wrong audience, wrong issuer, bad signature, oversize, missing claims; API keys
# revoked, with a wrong secret or another tenant's secret. Failures from one source are rate
# limited (429 + Retry-After) without slowing another source. Every attack is also made
# over gRPC: UNAUTHENTICATED.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start

step "two tenants, an RS256 issuer for acme, the gateway"
expect_status 201 POST /v1/pools '{"name": "default"}'
gw_tenant acme
gw_tenant globex
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/idp.key" 2>/dev/null
openssl pkey -in "$T/idp.key" -pubout -out "$T/idp.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
ISS=https://idp.acme.test
AUD=streamd-acme
body=$(python3 -c 'import json,sys; print(json.dumps({"issuer": sys.argv[1], "audience": sys.argv[2], "algorithm": "RS256", "public_keys": open(sys.argv[3]).read()}))' \
    "$ISS" "$AUD" "$T/idp.pub")
expect_status 201 POST /v1/tenants/acme/jwt-issuers "$body"
# Many failures come from this one address below: the limiter gets its own step.
gw_start --threads=2 --auth_fail_burst=1000 --auth_fail_rate=1000 --auth_cache_ms=60000
gw_cluster acme
gw_cluster globex

# jwt HEADER CLAIMS [KEYFILE]: a token (mkjwt.py).
jwt() {
    python3 "$(dirname "$0")/../lib/mkjwt.py" "$1" "$2" "${3:-$T/idp.key}"
}
claims() { # claims [EXTRA JSON MEMBERS]
    printf '{"iss": "%s", "aud": "%s", "sub": "app-1", "exp": "$now+600", "nbf": "$now-5"%s}' \
        "$ISS" "$AUD" "${1:+, $1}"
}

step "a valid token is accepted and names acme's cluster"
AUTH[good]="Bearer $(jwt '{"alg": "RS256", "typ": "JWT"}' "$(claims)")"
expect_rest 200 good h1 GET /kafka/v3/clusters
[ "$(json_get data.0.cluster_id <"$T/last.json")" = "${CLUSTER[acme]}" ] || fail "$(cat "$T/last.json")"
AUTH[aud-array]="Bearer $(jwt '{"alg": "RS256"}' "$(claims | sed "s|\"aud\": \"$AUD\"|\"aud\": [\"other\", \"$AUD\"]|")")"
expect_rest 200 aud-array h2c GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics"
[ "$(grpc_check status ListTopics good)" = OK ] || fail "a valid token over gRPC"

# refused WHAT: the caller AUTH[x] gets 401 with WWW-Authenticate on two routes, over h1
# and h2c, and the answer is a JSON error; over gRPC, UNAUTHENTICATED.
refused() {
    local mode
    for mode in h1 h2c; do
        expect_rest 401 x $mode GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics"
        grep -qi '^www-authenticate: .*Bearer' "$HEADERS" || fail "$1: no WWW-Authenticate"
        [ "$(json_get error_code <"$T/last.json")" = 401 ] || fail "$1: $(cat "$T/last.json")"
    done
    expect_rest 401 x h1 POST "/kafka/v3/clusters/${CLUSTER[acme]}/topics" '{"topic_name": "stolen"}'
    local st
    st=$(grpc_check status CreateTopic x '{"name": "stolen"}' 2>"$T/grpc.err")
    [ "$st" = UNAUTHENTICATED ] || fail "$1 over gRPC: $st $(cat "$T/grpc.err")"
}

step "JWT attacks: 401"
for alg in none None NONE nOnE; do
    AUTH[x]="Bearer $(jwt "{\"alg\": \"$alg\", \"typ\": \"JWT\"}" "$(claims)")"
    refused "alg=$alg"
    AUTH[x]="Bearer $(jwt "{\"alg\": \"$alg\"}" "$(claims)")signature"
    refused "alg=$alg with a signature"
done
AUTH[x]="Bearer $(jwt '{"alg": "HS256", "typ": "JWT"}' "$(claims)" "$T/idp.pub")"
refused "HS256 keyed with the RSA public key"
AUTH[x]="Bearer $(jwt '{"alg": "HS256"}' "$(claims)" <(tr -d '\n' <"$T/idp.pub"))"
refused "HS256 keyed with the public key on one line"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims | sed 's/\$now+600/$now-120/')")"
refused "expired beyond the skew"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims | sed 's/\$now-5/$now+600/')")"
refused "not valid yet"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims | sed "s|$AUD|someone-else|")")"
refused "wrong audience"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims | sed "s|$ISS|https://evil.test|")")"
refused "wrong issuer"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims)" "$T/other.key")"
refused "signed by another key"
good=${AUTH[good]#Bearer }
AUTH[x]="Bearer ${good%.*}.$(printf '%s' "${good##*.}" | rev)"
refused "a mangled signature"
forged=$(jwt '{"alg": "RS256"}' "$(claims | sed 's/"sub": "app-1"/"sub": "admin"/')" "$T/other.key")
AUTH[x]="Bearer ${forged%.*}.${good##*.}"
refused "claims changed under a valid signature"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims "\"pad\": \"$(head -c 9000 /dev/zero | tr '\0' a)\"")")"
refused "oversize token"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "{\"iss\": \"$ISS\", \"aud\": \"$AUD\", \"sub\": \"app-1\", \"exp\": \"\$now+600\"}")"
refused "no nbf"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "{\"iss\": \"$ISS\", \"aud\": \"$AUD\", \"sub\": \"app-1\", \"nbf\": \"\$now\"}")"
refused "no exp"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims | sed 's/"sub": "app-1"/"sub": "..\/globex"/')")"
refused "a principal that is not a name"
AUTH[x]="Bearer not.a.jwt"
refused "garbage"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims)").extra"
refused "four parts"
# A token's principal is never one of the tenant's service accounts: naming the admin
# account "owner" (made with the tenant) must not make a tenant admin.
psql_q "SELECT count(*) FROM principals p JOIN tenants t ON t.id = p.tenant_id WHERE t.name = 'acme' AND p.name = 'owner' AND p.is_admin" |
    grep -qx 1 || fail "acme has no admin account owner"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(claims | sed 's/"sub": "app-1"/"sub": "owner"/')")"
refused "a token whose principal is the admin service account"
grep -q 'names one of the tenant.s service accounts' "$T/last.json" || fail "no reason: $(cat "$T/last.json")"
expect_rest 403 good h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/acls"

step "PS256 and EdDSA issuers (globex): valid tokens pass, forged ones get 401"
openssl genpkey -algorithm ED25519 -out "$T/ed.key" 2>/dev/null
openssl pkey -in "$T/ed.key" -pubout -out "$T/ed.pub"
openssl genpkey -algorithm ED25519 -out "$T/ed-other.key" 2>/dev/null
for alg in PS256 EdDSA; do
    pub=$T/idp.pub
    [ $alg = EdDSA ] && pub=$T/ed.pub
    body=$(python3 -c 'import json,sys; print(json.dumps({"issuer": sys.argv[1], "audience": "streamd-globex", "algorithm": sys.argv[2], "public_keys": open(sys.argv[3]).read()}))' \
        "https://idp.globex.test/$alg" $alg "$pub")
    expect_status 201 POST /v1/tenants/globex/jwt-issuers "$body"
done
gclaims() { printf '{"iss": "https://idp.globex.test/%s", "aud": "streamd-globex", "sub": "svc", "exp": "$now+600", "nbf": "$now-5"}' "$1"; }
AUTH[g-ps]="Bearer $(jwt '{"alg": "PS256"}' "$(gclaims PS256)" "$T/idp.key")"
AUTH[g-ed]="Bearer $(jwt '{"alg": "EdDSA"}' "$(gclaims EdDSA)" "$T/ed.key")"
# The gateway learns of new issuers from its next snapshot (a notification away). Until
# then their tokens get 401 (failures are not limited in this part of the test, and no
# verification, good or bad, is cached for a JWT); once both are accepted, it knows them.
issuers_known() {
    rest g-ps h1 GET /kafka/v3/clusters >/dev/null
    [ "$STATUS" = 200 ] || return 1
    rest g-ed h1 GET /kafka/v3/clusters >/dev/null
    [ "$STATUS" = 200 ]
}
wait_for 60 "globex's PS256 and EdDSA issuers known to the gateway" issuers_known
expect_rest 200 g-ps h1 GET /kafka/v3/clusters
[ "$(json_get data.0.cluster_id <"$T/last.json")" = "${CLUSTER[globex]}" ] || fail "$(cat "$T/last.json")"
expect_rest 200 g-ed h2c GET /kafka/v3/clusters
[ "$(json_get data.0.cluster_id <"$T/last.json")" = "${CLUSTER[globex]}" ] || fail "$(cat "$T/last.json")"
save=${CLUSTER[acme]}
CLUSTER[acme]=${CLUSTER[globex]}
AUTH[x]="Bearer $(jwt '{"alg": "PS256"}' "$(gclaims PS256)" "$T/other.key")"
refused "PS256 signed by another key"
AUTH[x]="Bearer $(jwt '{"alg": "RS256"}' "$(gclaims PS256)" "$T/idp.key")"
refused "a PKCS#1 v1.5 signature for a PS256 issuer"
t=$(jwt '{"alg": "RS256"}' "$(gclaims PS256)" "$T/idp.key")
AUTH[x]="Bearer $(jwt '{"alg": "PS256"}' "$(gclaims PS256)" "$T/idp.key" | cut -d. -f1,2).${t##*.}"
refused "PS256 header over an RS256 signature"
AUTH[x]="Bearer $(jwt '{"alg": "EdDSA"}' "$(gclaims EdDSA)" "$T/ed-other.key")"
refused "EdDSA signed by another key"
AUTH[x]="Bearer $(jwt '{"alg": "none"}' "$(gclaims EdDSA)")"
refused "alg=none for an EdDSA issuer"
CLUSTER[acme]=$save

step "ES256, ES384 and ES512 issuers (globex): valid tokens pass; another key, a DER signature and r = s = 0 get 401"
declare -A CURVE=([ES256]=P-256 [ES384]=P-384 [ES512]=P-521)
for alg in ES256 ES384 ES512; do
    openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${CURVE[$alg]}" -out "$T/$alg.key" 2>/dev/null
    openssl pkey -in "$T/$alg.key" -pubout -out "$T/$alg.pub"
    openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${CURVE[$alg]}" -out "$T/$alg-other.key" 2>/dev/null
    body=$(python3 -c 'import json,sys; print(json.dumps({"issuer": sys.argv[1], "audience": "streamd-globex", "algorithm": sys.argv[2], "public_keys": open(sys.argv[3]).read()}))' \
        "https://idp.globex.test/$alg" $alg "$T/$alg.pub")
    expect_status 201 POST /v1/tenants/globex/jwt-issuers "$body"
done
es_known() {
    local alg
    for alg in ES256 ES384 ES512; do
        AUTH[es]="Bearer $(jwt "{\"alg\": \"$alg\"}" "$(gclaims $alg)" "$T/$alg.key")"
        rest es h1 GET /kafka/v3/clusters >/dev/null
        [ "$STATUS" = 200 ] || return 1
    done
}
wait_for 60 "globex's ES issuers known to the gateway" es_known
save=${CLUSTER[acme]}
CLUSTER[acme]=${CLUSTER[globex]}
for alg in ES256 ES384 ES512; do
    AUTH[x]="Bearer $(jwt "{\"alg\": \"$alg\"}" "$(gclaims $alg)" "$T/$alg.key")"
    expect_rest 200 x h1 GET /kafka/v3/clusters
    AUTH[x]="Bearer $(jwt "{\"alg\": \"$alg\"}" "$(gclaims $alg)" "$T/$alg-other.key")"
    refused "$alg signed by another key"
    AUTH[x]="Bearer $(MKJWT_SIG=der jwt "{\"alg\": \"$alg\"}" "$(gclaims $alg)" "$T/$alg.key")"
    refused "$alg with its signature in DER instead of r || s"
    AUTH[x]="Bearer $(MKJWT_SIG=zero jwt "{\"alg\": \"$alg\"}" "$(gclaims $alg)" "$T/$alg.key")"
    refused "$alg with an all-zero signature (r = s = 0)"
done
CLUSTER[acme]=$save

step "API key attacks: 401"
AUTH[x]="Basic $(printf '%s:%s' "${KEY[acme]}" wrong-secret | base64 -w0)"
refused "wrong secret"
AUTH[x]="Basic $(printf '%s:%s' "${KEY[acme]}" "${SECRET[globex]}" | base64 -w0)"
refused "another tenant's secret"
AUTH[x]="Basic $(printf '%s:%s' "${KEY[globex]}" "${SECRET[acme]}" | base64 -w0)"
refused "another tenant's key with acme's secret"
AUTH[x]="Basic $(printf '%s:%s' no-such-key "${SECRET[acme]}" | base64 -w0)"
refused "an unknown key"
AUTH[x]="Basic $(printf '%s' "${KEY[acme]}" | base64 -w0)"
refused "no secret"
AUTH[x]="Basic %%%not-base64"
refused "not base64"
AUTH[x]="Digest username=${KEY[acme]}"
refused "another scheme"
AUTH[x]=
refused "no credentials"

step "a revoked key stops working (its cached verification too)"
gw_key acme doomed
expect_rest 200 doomed h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics"
expect_status 200 DELETE "/v1/tenants/acme/api-keys/${KEY[doomed]}"
revoked() {
    rest doomed h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics" >/dev/null
    [ "$STATUS" = 401 ]
}
wait_for 5 "the revoked key refused" revoked
AUTH[x]=${AUTH[doomed]}
refused "a revoked key"

step "nothing changed: no topic was created by any of the attempts"
expect_rest 200 acme h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics"
[ "$(json_get data <"$T/last.json")" = "[]" ] || fail "topics appeared: $(cat "$T/last.json")"
api GET /v1/tenants/acme/topics >"$T/cp-topics.json"
[ "$(json_get data <"$T/cp-topics.json")" = "[]" ] || fail "topics appeared: $(cat "$T/cp-topics.json")"

step "failures are rate limited per source, before any key lookup"
gw_stop
gw_start --threads=2 --auth_fail_burst=3 --auth_fail_rate=1
AUTH[x]="Basic $(printf '%s:%s' "${KEY[acme]}" wrong-secret | base64 -w0)"
for i in 1 2 3; do
    expect_rest 401 x h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics"
done
expect_rest 429 x h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics"
grep -qi '^retry-after: [1-9]' "$HEADERS" || fail "429 without Retry-After: $(cat "$HEADERS")"
expect_rest 429 acme h1 GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics"
# Another source address is not slowed down by this one's failures.
out=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -H "Authorization: ${AUTH[acme]}" \
    "http://$GW/kafka/v3/clusters/${CLUSTER[acme]}/topics")
[ "$out" = 200 ] || fail "another source got $out"
[ "$(curl -s "http://$GWADMIN/metrics" | awk '$1 == "streamd_gateway_auth_limited_total" { print $2 }')" -ge 2 ] ||
    fail "auth_limited_total not counted"

step "a key id failing from many addresses is limited, and its owner still gets in"
# A key whose secret was hashed the old, slow way (PBKDF2, milliseconds a check): wrong
# secrets for it from ever new addresses must not each cost the gateway that much.
gw_stop
gw_start --threads=1 --auth_fail_burst=3 --auth_fail_rate=1
# Written straight into the database as an older control plane made it; the gateway only
# accepts the key once its snapshot holds this row, so the checks below meet PBKDF2.
KEY[legacy]=LEGACYKEY0000001
SECRET[legacy]=legacy-secret-made-by-an-older-control-plane
AUTH[legacy]="Basic $(printf '%s:%s' "${KEY[legacy]}" "${SECRET[legacy]}" | base64 -w0)"
legacy_hash=$(python3 -c 'import base64, hashlib, sys
salt = "c2FsdHNhbHRzYWx0c2FsdA"
h = hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), salt.encode(), 20000, 32)
print("pbkdf2-sha256$20000$%s$%s" % (salt, base64.urlsafe_b64encode(h).decode().rstrip("=")))' "${SECRET[legacy]}")
psql_q "INSERT INTO api_keys (key_id, tenant_id, principal_id, secret_hash, secret_prefix)
        SELECT '${KEY[legacy]}', t.id, p.id, '$legacy_hash', 'lega' FROM tenants t
        JOIN principals p ON p.tenant_id = t.id AND p.name = 'owner' WHERE t.name = 'acme'"
from() { # from N AUTH: the status of one call from source address 127.0.0.N
    curl -s -o "$T/from.json" -w '%{http_code}' --interface "127.0.0.$1" -H "Authorization: $2" \
        "http://$GW/kafka/v3/clusters/${CLUSTER[acme]}/topics"
}
legacy_in() { [ "$(from 20 "${AUTH[legacy]}")" = 200 ]; }
wait_for 30 "the PBKDF2 key is in the gateway's snapshot" legacy_in
bad="Basic $(printf '%s:%s' "${KEY[legacy]}" wrong-secret | base64 -w0)"
for n in 21 22 23; do
    [ "$(from $n "$bad")" = 401 ] || fail "wrong secret from 127.0.0.$n: $(cat "$T/from.json")"
done
[ "$(from 24 "$bad")" = 429 ] || fail "a fourth address was not limited for the key: $(cat "$T/from.json")"
grep -q 'with this API key' "$T/from.json" || fail "the reason: $(cat "$T/from.json")"
[ "$(from 25 "${AUTH[legacy]}")" = 200 ] || fail "the key's owner was locked out: $(cat "$T/from.json")"
gw_stop
