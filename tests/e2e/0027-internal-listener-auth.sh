#!/usr/bin/env bash
# The broker's Kafka listener with internal_auth=scram (issue 16, finding 10, the broker's
# side: docs/proposals/internal-listener-auth.md commit 4): before SASL/SCRAM-SHA-256
# authentication only ApiVersions and the SASL APIs are served, anything else closes the
# connection; a wrong password or an unknown user fails the same way; an unauthenticated
# connection cannot send a frame over 16 KiB and is closed after auth_timeout_ms; a real
# client (librdkafka: kcat, kadmin) with the credential produces and consumes. The
# verifiers file is written by Python's hashlib, a second implementation of RFC 5802.
. "$(dirname "$0")/../lib/harness.sh"

step "verifiers for two clients, from Python's hashlib"
python3 - "$T/verifiers" <<'PY'
import base64, hashlib, hmac, os, sys
def verifier(password):
    salt = os.urandom(16)
    sp = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 4096)
    stored = hashlib.sha256(hmac.new(sp, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(sp, b"Server Key", "sha256").digest()
    b64 = lambda b: base64.b64encode(b).decode()
    return "SCRAM-SHA-256$4096:%s$%s:%s" % (b64(salt), b64(stored), b64(server))
with open(sys.argv[1], "w") as f:
    f.write("# name verifier\n")
    f.write("tests %s\n" % verifier("tests-secret-0123456789"))
    f.write("gateway-1 %s\n" % verifier("gateway-secret"))
PY
sasl_conf() { # FILE USER PASSWORD
    printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=SCRAM-SHA-256\nsasl.username=%s\nsasl.password=%s\n' \
        "$2" "$3" >"$1"
}
sasl_conf "$T/good.conf" tests tests-secret-0123456789
sasl_conf "$T/wrong.conf" tests tests-secret-012345678X
sasl_conf "$T/unknown.conf" nobody tests-secret-0123456789

step "a broker with internal_auth=scram and no verifiers refuses to start"
if "$BIN/streamd-broker" --listen=127.0.0.1:0 --admin_listen= --data_dir="$T/bad" \
    --internal_auth=scram >"$T/bad.log" 2>&1; then
    fail "started without verifiers"
fi
grep 'needs scram_verifiers_file' "$T/bad.log" >/dev/null || fail "no reason given: $(cat "$T/bad.log")"

broker_start --internal_auth=scram --scram_verifiers_file="$T/verifiers" --auth_timeout_ms=1000

step "with the credential: topics, produce and consume work (kadmin, kcat)"
KCAT_CONFIG="$T/good.conf" "$BIN/kadmin" -b "$BROKER" create orders 2 >/dev/null ||
    fail "kadmin create with the credential"
seq 1 500 | KCAT_CONFIG="$T/good.conf" kcat -P -b "$BROKER" -t orders -p 0
got=$(KCAT_CONFIG="$T/good.conf" kcat -C -b "$BROKER" -t orders -p 0 -o beginning -e -q | wc -l)
[ "$got" = 500 ] || fail "read $got of 500 records back"
[ "$(metric streamd_broker_auth_succeeded_total)" -ge 3 ] || fail "no authentication counted"

step "without it, or with a wrong password or an unknown user: nothing is served"
for conf in none wrong unknown; do
    args=()
    [ "$conf" = none ] || args=(-F "$T/$conf.conf")
    if kcat "${args[@]}" -b "$BROKER" -L -t orders -m 3 >"$T/$conf.out" 2>&1; then
        fail "metadata served to a client with $conf credentials"
    fi
    if kcat "${args[@]}" -b "$BROKER" -C -t orders -p 0 -o beginning -e -m 3 >"$T/$conf.records" 2>/dev/null &&
        [ -s "$T/$conf.records" ]; then
        fail "records served to a client with $conf credentials"
    fi
    [ ! -s "$T/$conf.records" ] || fail "records served to a client with $conf credentials"
done
KCAT_CONFIG="$T/wrong.conf" "$BIN/kadmin" -b "$BROKER" delete orders >/dev/null 2>&1 &&
    fail "a wrong password deleted a topic"
[ "$(metric streamd_broker_requests_unauthenticated_total)" -ge 1 ] || fail "no unauthenticated request counted"
[ "$(metric streamd_broker_auth_failed_total)" -ge 2 ] || fail "no failed authentication counted"
grep 'SASL authentication failed' "$BROKER_LOG" >/dev/null || fail "failures are not logged"
got=$(KCAT_CONFIG="$T/good.conf" kcat -C -b "$BROKER" -t orders -p 0 -o beginning -e -q | wc -l)
[ "$got" = 500 ] || fail "the topic lost records: $got of 500"

step "before authenticating: ApiVersions is served, a 20 KiB frame and a slow client are cut off"
python3 - "$BROKER" <<'PY' || fail "unauthenticated connections"
import socket, struct, sys, time
host, port = sys.argv[1].rsplit(":", 1)
def conn():
    s = socket.create_connection((host, int(port)), timeout=10)
    return s
def closed(s, within):
    s.settimeout(within)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
# ApiVersions v0 (key 18), correlation id 7, no client id.
s = conn()
body = struct.pack(">hhih", 18, 0, 7, -1)
s.sendall(struct.pack(">i", len(body)) + body)
size = struct.unpack(">i", s.recv(4))[0]
data = b""
while len(data) < size:
    data += s.recv(size - len(data))
corr, err, n = struct.unpack(">ihi", data[:10])
keys = {struct.unpack(">hhh", data[10 + 6 * i:16 + 6 * i])[0] for i in range(n)}
assert corr == 7 and err == 0 and 17 in keys and 36 in keys, (corr, err, sorted(keys))
# A Metadata request (key 3, v0, all topics) before authenticating: the connection closes.
body = struct.pack(">hhihi", 3, 0, 8, -1, -1)
s.sendall(struct.pack(">i", len(body)) + body)
assert closed(s, 10), "Metadata before authentication was not cut off"
# A frame of 20 KiB before authenticating: closed without reading it all.
s = conn()
s.sendall(struct.pack(">i", 20000) + struct.pack(">hhih", 18, 0, 1, -1))
assert closed(s, 10), "a 20 KiB frame before authentication was not refused"
# A client that connects and says nothing: closed after auth_timeout_ms (1 s here).
s = conn()
t0 = time.monotonic()
assert closed(s, 30), "an idle unauthenticated connection was kept"
print("idle unauthenticated connection closed after %.1f s" % (time.monotonic() - t0))
PY
kill -0 "$BROKER_PID" || fail "the broker died"
broker_stop
echo PASS
