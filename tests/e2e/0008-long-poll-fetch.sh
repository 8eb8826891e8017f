#!/usr/bin/env bash
# Fetch long poll: with nothing to read the answer comes at max_wait_ms; a record arriving
# meanwhile ends the wait early; max_wait is capped by fetch_wait_max_ms.
. "$(dirname "$0")/../lib/harness.sh"
broker_start --fetch_wait_max_ms=2000
"$BIN/kadmin" -b "$BROKER" create lp 1 >/dev/null

step "empty partition: the answer waits max_wait_ms"
out=$("$BIN/kprobe" -b "$BROKER" fetch-wait lp 0 0 400)
ms=$(echo "$out" | sed -E 's/ms=([0-9]+).*/\1/')
[ "$ms" -ge 380 ] && [ "$ms" -lt 1500 ] || fail "waited $ms ms for max_wait_ms=400 ($out)"

step "a produce ends the wait"
"$BIN/kprobe" -b "$BROKER" fetch-wait lp 0 0 10000 >"$T/fw" &
pid=$!
sleep 0.3
echo "hello" | kcat -P -b "$BROKER" -t lp
wait $pid
ms=$(sed -E 's/ms=([0-9]+).*/\1/' "$T/fw")
grep -q 'bytes=[1-9]' "$T/fw" || fail "no records in the answer: $(cat "$T/fw")"
[ "$ms" -lt 5000 ] || fail "the wait did not end on produce ($ms ms)"

step "max_wait_ms is capped"
out=$("$BIN/kprobe" -b "$BROKER" fetch-wait lp 0 1 60000)
ms=$(echo "$out" | sed -E 's/ms=([0-9]+).*/\1/')
[ "$ms" -lt 4000 ] || fail "fetch_wait_max_ms=2000 did not cap a 60 s wait ($ms ms)"

step "deleting the topic ends a long poll on it with UNKNOWN_TOPIC_OR_PARTITION"
"$BIN/kadmin" -b "$BROKER" create doomed 1 >/dev/null
"$BIN/kprobe" -b "$BROKER" fetch-wait doomed 0 0 10000 >"$T/fw" &
pid=$!
sleep 0.3
"$BIN/kadmin" -b "$BROKER" delete doomed >/dev/null
wait $pid
grep -q 'error=UNKNOWN_TOPIC_OR_PARTITION' "$T/fw" || fail "long poll on a deleted topic: $(cat "$T/fw")"
ms=$(sed -E 's/ms=([0-9]+).*/\1/' "$T/fw")
[ "$ms" -lt 5000 ] || fail "the long poll outlived its topic by $ms ms"

step "fetch beyond the log end is OFFSET_OUT_OF_RANGE"
"$BIN/kprobe" -b "$BROKER" fetch-wait lp 0 99 100 | grep -q OFFSET_OUT_OF_RANGE || fail "out of range"
broker_stop
echo PASS
