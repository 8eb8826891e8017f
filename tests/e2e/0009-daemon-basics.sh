#!/usr/bin/env bash
# The daemon's contract: --help, a config file with environment and flag overrides,
# /healthz, /readyz, /metrics, one broker per data directory, clean SIGTERM.
. "$(dirname "$0")/../lib/harness.sh"

step "--help lists every option with its default and variable"
"$BIN/streamd-broker" --help >"$T/help"
grep -q -- '--listen' "$T/help" && grep -q BROKER_LISTEN "$T/help" && grep -q 'default: 127.0.0.1:19092' "$T/help" \
    || fail "--help is incomplete"
"$BIN/streamd-broker" --no-such-option 2>"$T/e" && fail "unknown option accepted"
grep -q "unknown option" "$T/e" || fail "unknown option message"

step "config file, then environment, then flags"
KPORT=$(free_port)
APORT=$(free_port)
cat >"$T/broker.conf" <<CONF
# a comment
node_id = 7
default_partitions = 3
auto_create_topics = true
log_level = warn
CONF
BROKER_DEFAULT_PARTITIONS=5 BROKER_CONFIG="$T/broker.conf" broker_start --log_level=info
kcat -L -b "$BROKER" -t auto-created -J >"$T/md" 2>"$T/md.err" || fail "metadata: $(cat "$T/md.err")"
python3 - "$T/md" <<'PY' || fail "node_id from the file, or partitions from the environment, not applied: $(head -c 300 "$T/md")"
import json, sys
md = json.load(open(sys.argv[1]))
assert [b["id"] for b in md["brokers"]] == [7], md["brokers"]
t = [t for t in md["topics"] if t["topic"] == "auto-created"]
assert len(t) == 1 and len(t[0]["partitions"]) == 5, t
PY
# At the file's level (warn) the broker logs no info line; the flag's level (info) shows
# "broker ready" as a log line (not the "streamd-broker ready" line it prints on stdout).
grep -q '^ts=[^ ]* level=info comp=broker msg="broker ready"' "$BROKER_LOG" ||
    fail "the flag did not override log_level: $(cat "$BROKER_LOG")"

step "HTTP endpoints"
curl -sf "http://$ADMIN/healthz" | grep -x ok >/dev/null || fail "/healthz"
curl -sf "http://$ADMIN/readyz" | grep -x ready >/dev/null || fail "/readyz"
curl -sf "http://$ADMIN/metrics" >"$T/m"
grep -q '^# TYPE streamd_broker_fsyncs_total counter' "$T/m" || fail "/metrics"
grep -qx 'streamd_broker_partitions 5' "$T/m" || fail "/metrics partitions: $(grep partitions "$T/m")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADMIN/nope")" = 404 ] || fail "404"

step "a second broker on the same data directory refuses to start"
if "$BIN/streamd-broker" --listen=127.0.0.1:0 --admin_listen= --data_dir="$T/data" >"$T/second" 2>&1; then
    fail "a second broker started on the same data directory"
fi
grep -q "in use by another broker" "$T/second" || fail "second broker: $(cat "$T/second")"

step "invalid configuration is refused"
"$BIN/streamd-broker" --segment_bytes=-5 2>"$T/e" && fail "segment_bytes=-5 accepted"
grep -q "segment_bytes" "$T/e" || fail "bad value message"

step "SIGTERM: clean exit with idle connections and a long poll in flight"
exec 3<>"/dev/tcp/127.0.0.1/$KPORT"
exec 4<>"/dev/tcp/127.0.0.1/$APORT"
"$BIN/kadmin" -b "$BROKER" create quiet 1 >/dev/null
fetches() { metric 'streamd_broker_requests_total{api="Fetch"}'; }
before=$(fetches)
"$BIN/kprobe" -b "$BROKER" fetch-wait quiet 0 0 8000 >"$T/fw" &
poller=$!
# The broker counts a Fetch and parks it in one turn of its event loop, which also
# serves /metrics: once the counter moved, the long poll is held.
polled() { [ "$(fetches)" -gt "$before" ] || { kill -0 "$poller" 2>/dev/null || fail "kprobe ended: $(cat "$T/fw")"; false; }; }
wait_for 60 "the broker holds the long poll" polled
broker_stop
wait $poller || fail "the long poll got no answer at shutdown: $(cat "$T/fw")"
grep -q 'error=NONE' "$T/fw" || fail "long poll at shutdown: $(cat "$T/fw")"
# Shutdown answered the poll; it did not wait for the poll's max_wait to run out.
ms=$(sed -nE 's/^ms=([0-9]+) .*/\1/p' "$T/fw")
[ "$ms" -lt 8000 ] || fail "the long poll was answered at its max_wait ($ms ms), not at shutdown"
exec 3>&- 4>&-
grep -q 'broker stopped cleanly' "$BROKER_LOG" || fail "no clean stop logged"
echo PASS
