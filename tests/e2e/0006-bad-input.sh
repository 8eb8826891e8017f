#!/usr/bin/env bash
# Malformed frames, unknown APIs and versions, oversize requests, bad CRCs, wrong magic,
# invalid names: the right Kafka error or a closed connection, never a crash, and nothing
# already stored changes (kprobe bad-input checks each).
. "$(dirname "$0")/../lib/harness.sh"
broker_start --request_bytes_max=1048576
"$BIN/kadmin" -b "$BROKER" create victim 1 >/dev/null
"$BIN/kclient" produce -b "$BROKER" -t victim -n 1000 >/dev/null

step "the battery"
"$BIN/kprobe" -b "$BROKER" bad-input victim || fail "bad-input battery"

step "a request over request_bytes_max closes the connection"
python3 - "$KPORT" <<'PY' || fail "oversize request was not refused"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(struct.pack(">i", 2 * 1048576) + b"\0" * 64)
s.settimeout(5)
sys.exit(0 if s.recv(1) == b"" else 1)
PY

step "an oversize size field followed by plenty of data: closed, no buffer growth"
python3 - "$KPORT" <<'PY' || fail "an oversize frame header was not refused"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
try:
    s.sendall(b"\xff\xff\xff\xff" + b"\0" * (1 << 20))
except OSError:
    pass  # the broker may close while we are still sending
try:
    sys.exit(0 if s.recv(1) == b"" else 1)
except ConnectionResetError:
    sys.exit(0)
PY
rss=$(awk '/VmRSS/ { print $2 }' /proc/$BROKER_PID/status)
[ "$rss" -lt 200000 ] || fail "the broker grew to $rss KiB on a bad size field"

step "a fetch naming more partitions than the broker holds closes the connection"
"$BIN/kprobe" -b "$BROKER" fetch-many victim 25000 | grep closed >/dev/null || fail "huge fetch not refused"
kill -0 "$BROKER_PID" || fail "the broker died"

step "a fetch as a follower (a forged replica id) gets TOPIC_AUTHORIZATION_FAILED and no records"
out=$("$BIN/kprobe" -b "$BROKER" fetch-replica victim 0 1)
case $out in *"bytes=0 error=TOPIC_AUTHORIZATION_FAILED "*) ;; *) fail "replica fetch: $out" ;; esac
out=$("$BIN/kprobe" -b "$BROKER" fetch-replica victim 0 -1)
case $out in *"error=NONE "*) ;; *) fail "consumer fetch: $out" ;; esac
case $out in *" bytes=0 "*) fail "the consumer fetch read nothing: $out" ;; esac

step "random garbage on many connections"
python3 - "$KPORT" <<'PY'
import os, random, socket, sys
random.seed(1)
for i in range(200):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    try:
        s.sendall(os.urandom(random.randint(1, 3000)))
        s.close()
    except OSError:
        pass
PY
kill -0 "$BROKER_PID" || fail "the broker died"

step "what was stored is unchanged and still served"
"$BIN/kclient" verify -b "$BROKER" -t victim -p 1 --expect-range 0 1000 || fail "data changed"
[ "$(metric streamd_broker_requests_rejected_total)" -gt 0 ] || fail "rejections not counted"
broker_stop
echo PASS
