#!/usr/bin/env bash
# The gateway authenticates to brokers (issue 16, finding 10; proposal commit 5): with its
# component credential it speaks SASL/SCRAM-SHA-256 to a broker with internal_auth=scram,
# checks the broker's signature, and REST and gRPC produce and consume go through; without
# it the broker closes the gateway's connections and calls get 503; with a wrong one the
# broker refuses it, the gateway counts and logs it, and for a second after a refusal calls
# to that broker fail without a new exchange. The broker's verifiers file holds the verifier Python's
# hashlib made from the credential the control plane issued; then a managed broker reads the
# verifiers from the control plane's components instead (internal_auth=auto, the default),
# closes the connections of a credential revoked there, and, restarted while the control
# plane's database is unreachable, lets clients in with the verifiers it saved.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start
step "tenant acme, a gateway credential, and a managed broker with internal_auth=scram"
expect_status 201 POST /v1/pools '{"name": "default"}'
gw_tenant acme
component gateway-1 gateway
CRED=$CREDENTIAL
python3 - "$CRED" "$T/verifiers" <<'PY'
import base64, hashlib, hmac, os, sys
cred = sys.argv[1]
salt = os.urandom(16)
sp = hashlib.pbkdf2_hmac("sha256", cred.encode(), salt, 4096)
stored = hashlib.sha256(hmac.new(sp, b"Client Key", "sha256").digest()).digest()
server = hmac.new(sp, b"Server Key", "sha256").digest()
b64 = lambda b: base64.b64encode(b).decode()
with open(sys.argv[2], "w") as f:
    f.write("%s SCRAM-SHA-256$4096:%s$%s:%s\n" % (cred.split(".")[0], b64(salt), b64(stored), b64(server)))
PY
managed_broker_start 1 --internal_auth=scram --scram_verifiers_file="$T/verifiers"

step "with its credential the gateway produces and consumes, over REST and gRPC"
GATEWAY_CREDENTIAL=$CRED gw_start --threads=2
gw_cluster acme
base="/kafka/v3/clusters/${CLUSTER[acme]}"
expect_rest 201 acme h1 POST "$base/topics" '{"topic_name": "orders", "partitions_count": 1}'
gw_records 200 0 >"$T/r.ndjson"
expect_rest 200 acme h1 POST "$base/topics/orders/records" "@$T/r.ndjson"
expect_rest 200 acme h1 GET "$base/topics/orders/partitions/0/records?offset=0&max_bytes=1000000"
[ "$(grep -o '"offset"' "$T/last.json" | wc -l)" = 200 ] || fail "read back: $(head -c 300 "$T/last.json")"
[ "$(grpc_check status Produce acme '{"topic": "orders", "records": [{"value": "eA=="}]}')" = OK ] ||
    fail "gRPC Produce"
[ "$(metric streamd_broker_auth_succeeded_total)" -ge 1 ] || fail "the broker counted no authentication"
gw_stop

ONE='{"value": {"type": "STRING", "data": "one"}}'
step "without a credential: the broker closes the gateway's connections, calls get 503"
GATEWAY_CREDENTIAL= gw_start --threads=2
expect_rest 503 acme h1 POST "$base/topics/orders/records" "$ONE"
[ "$(metric streamd_broker_requests_unauthenticated_total)" -ge 1 ] || fail "nothing refused"
gw_stop

step "a wrong credential: refused, counted and logged, at most one exchange a second per connection"
GATEWAY_CREDENTIAL="${CRED%?}x" gw_start --threads=2
expect_rest 503 acme h1 POST "$base/topics/orders/records" "$ONE"
grep 'refused the gateway' "$T/last.json" >/dev/null || fail "the answer does not say why: $(cat "$T/last.json")"
refusals=$(curl -s "http://$GWADMIN/metrics" | awk '$1 == "streamd_gateway_broker_auth_failures_total" { print $2 }')
[ "${refusals:-0}" -ge 1 ] || fail "the gateway counted no refusal"
# A refusal ends the call at once (no retries: they cannot help), and for a second after it
# calls to that broker fail without a new exchange: each of the two workers' connections
# makes one a second at most, however many calls come.
before=$(metric streamd_broker_auth_failed_total)
t0=$(date +%s)
for i in $(seq 1 50); do rest acme h1 POST "$base/topics/orders/records" "$ONE" >/dev/null; done
secs=$(($(date +%s) - t0 + 1))
after=$(metric streamd_broker_auth_failed_total)
echo "50 calls in about $secs s: $((after - before)) exchanges with the refused credential"
[ $((after - before)) -le $((2 * secs + 4)) ] ||
    fail "50 calls in $secs s made $((after - before)) exchanges with a refused credential"
gw_stop
expect_status 200 GET /v1/tenants/acme/topics/orders

step "verifiers from the control plane: a managed broker, by default, reads the components"
broker_stop
managed_broker_start 1
grep -q 'internal_auth=none\|open to anyone' "$BROKER_LOG" && fail "a managed broker started open"
before=$(metric streamd_broker_requests_unauthenticated_total)
KCAT_CONFIG= kcat -L -b "$BROKER" -m 3 >"$T/out" 2>&1 && fail "kcat without a credential read metadata"
[ "$(metric streamd_broker_requests_unauthenticated_total)" -gt "$before" ] ||
    fail "kcat without a credential was not refused: $(cat "$T/out")"
kcat -L -b "$BROKER" -m 10 >/dev/null 2>&1 || fail "kcat with the tools' credential"
GATEWAY_CREDENTIAL=$CRED gw_start --threads=2
expect_rest 200 acme h1 POST "$base/topics/orders/records" "$ONE"

step "revoked: the broker closes the gateway's connections, and it is refused from then on"
expect_status 204 DELETE /v1/components/gateway-1
closed() { grep 'connections of revoked credentials closed' "$BROKER_LOG" >/dev/null; }
wait_for 30 "the broker closes the revoked gateway's connections" closed
refused_now() {
    rest acme h1 POST "$base/topics/orders/records" "$ONE" >"$T/last.json"
    [ "$STATUS" = 503 ] && grep 'refused the gateway' "$T/last.json" >/dev/null
}
wait_for 30 "produce is refused with the revoked credential" refused_now
gw_stop
broker_stop

step "restarted while the database is unreachable: the verifiers it saved let clients in"
saved="$T/data/principals"
[ "$(stat -c %a "$saved")" = 600 ] || fail "$saved has mode $(stat -c %a "$saved")"
grep -q '^tests SCRAM-SHA-256\$4096:' "$saved" || fail "the tools' verifier is not saved: $(cat "$saved")"
grep -q '^gateway-1 ' "$saved" && fail "the revoked gateway-1 is still saved"
grep -qF "$(cat "$T/tests.credential")" "$saved" && fail "a credential itself is saved"
"$BIN/streamd-broker" --node_id=1 --listen="$BROKER" --admin_listen="$ADMIN" --data_dir="$T/data" \
    --database_url="postgresql://streamd@127.0.0.1:$(free_port)/streamd" --lease_ms=3000 \
    --control_plane_url="http://$CP" >>"$BROKER_LOG" 2>&1 &
BROKER_PID=$!
# kprobe authenticates as "tests" ($KCAT_CONFIG) before its request, and exits 2 when
# it cannot connect or is refused.
wait_for 60 "an authenticated request to the broker" "$BIN/kprobe" -b "$BROKER" api-versions 3
sed 's/^sasl.password=.*/&x/' "$KCAT_CONFIG" >"$T/wrong.conf"
KCAT_CONFIG="$T/wrong.conf" "$BIN/kprobe" -b "$BROKER" api-versions 3 >"$T/out" 2>&1 &&
    fail "a wrong password got in"
grep -q 'SASL_AUTHENTICATION_FAILED' "$T/out" || fail "wrong password: $(cat "$T/out")"
broker_stop
echo PASS
