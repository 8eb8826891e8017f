#!/usr/bin/env bash
# Fetch long poll: with nothing to read the answer comes at max_wait_ms, not before; a
# record arriving meanwhile ends the wait early; max_wait is capped by fetch_wait_max_ms.
#
# No check here bounds how fast the broker is: a woken long poll must answer before its
# max_wait ran out (else it was not woken), a capped one before the max_wait it asked for.
# kprobe gives up on an answer after 10 s of silence, so every max_wait here is below that.
. "$(dirname "$0")/../lib/harness.sh"
broker_start # fetch_wait_max_ms: the default, 30 s, caps none of the waits below
"$BIN/kadmin" -b "$BROKER" create lp 1 >/dev/null

fetches() { metric 'streamd_broker_requests_total{api="Fetch"}'; }
# fetch_wait OUT TOPIC PARTITION OFFSET MAX_WAIT_MS: starts a long poll in the background
# (its answer goes to OUT, its pid to $poller) and returns once the broker has it: the
# Fetch counter moves in the same event-loop turn that parks the request (the admin
# listener runs on that loop), so the poll is waiting when this returns.
fetch_wait() {
    local out=$1 before
    shift
    before=$(fetches)
    "$BIN/kprobe" -b "$BROKER" fetch-wait "$@" >"$out" &
    poller=$!
    polled() { [ "$(fetches)" -gt "$before" ] || { kill -0 "$poller" 2>/dev/null || fail "kprobe ended: $(cat "$out")"; false; }; }
    wait_for 60 "the broker holds the long poll" polled
}
ms_of() { sed -nE 's/^ms=([0-9]+) .*/\1/p' "$1"; }

step "empty partition: the answer waits max_wait_ms"
"$BIN/kprobe" -b "$BROKER" fetch-wait lp 0 0 400 >"$T/fw" || fail "no answer: $(cat "$T/fw")"
ms=$(ms_of "$T/fw")
grep -q 'bytes=0 error=NONE' "$T/fw" || fail "an empty partition answered $(cat "$T/fw")"
[ "$ms" -ge 380 ] || fail "answered after $ms ms, before max_wait_ms=400 ($(cat "$T/fw"))"

step "a produce ends the wait"
fetch_wait "$T/fw" lp 0 0 8000
echo "hello" | kcat -P -b "$BROKER" -t lp
wait $poller || fail "the long poll got no answer: $(cat "$T/fw")"
grep -q 'bytes=[1-9][0-9]* error=NONE' "$T/fw" || fail "no records in the answer: $(cat "$T/fw")"
# At max_wait the answer would hold the record too: only its time tells it was woken.
ms=$(ms_of "$T/fw")
[ "$ms" -lt 8000 ] || fail "the wait did not end on produce: answered at max_wait ($ms ms)"

step "deleting the topic ends a long poll on it with UNKNOWN_TOPIC_OR_PARTITION"
"$BIN/kadmin" -b "$BROKER" create doomed 1 >/dev/null
fetch_wait "$T/fw" doomed 0 0 8000
"$BIN/kadmin" -b "$BROKER" delete doomed >/dev/null
wait $poller || fail "the long poll got no answer: $(cat "$T/fw")"
grep -q 'error=UNKNOWN_TOPIC_OR_PARTITION' "$T/fw" || fail "long poll on a deleted topic: $(cat "$T/fw")"
ms=$(ms_of "$T/fw")
[ "$ms" -lt 8000 ] || fail "the long poll outlived its topic until its max_wait ($ms ms)"

step "max_wait_ms is capped"
broker_stop
broker_start --fetch_wait_max_ms=2000
# Uncapped, this poll would wait 60 s, and kprobe would give up after 10 s without an answer.
"$BIN/kprobe" -b "$BROKER" fetch-wait lp 0 1 60000 >"$T/fw" || fail "no answer: $(cat "$T/fw")"
ms=$(ms_of "$T/fw")
grep -q 'bytes=0 error=NONE' "$T/fw" || fail "capped wait answered $(cat "$T/fw")"
[ "$ms" -ge 1980 ] && [ "$ms" -lt 60000 ] ||
    fail "fetch_wait_max_ms=2000 and max_wait_ms=60000: answered after $ms ms"

step "fetch beyond the log end is OFFSET_OUT_OF_RANGE"
"$BIN/kprobe" -b "$BROKER" fetch-wait lp 0 99 100 >"$T/fw" || fail "no answer: $(cat "$T/fw")"
grep -q OFFSET_OUT_OF_RANGE "$T/fw" || fail "out of range: $(cat "$T/fw")"
broker_stop
echo PASS
