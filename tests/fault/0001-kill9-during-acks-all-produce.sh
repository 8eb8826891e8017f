#!/usr/bin/env bash
# Acceptance: kill -9 the broker repeatedly while a producer writes with acks=-1; after each
# restart every acknowledged record is readable exactly once, in order, at the offset its
# acknowledgement gave. (Retries are off, so a record whose ack was lost is never re-sent.)
. "$(dirname "$0")/../lib/harness.sh"
ROUNDS=${ROUNDS:-6}
PER_ROUND=240000 # at 200,000 records/s: 1.2 seconds, and the kill comes at 0.3 .. 0.9 s
broker_start
"$BIN/kadmin" -b "$BROKER" create crash 3 >/dev/null
acked_args=()
for round in $(seq 0 $((ROUNDS - 1))); do
    step "round $round: produce, kill -9 mid-stream"
    "$BIN/kclient" produce -b "$BROKER" -t crash -n $PER_ROUND --start $((round * PER_ROUND)) \
        --acks -1 --no-retries --stop-on-error --timeout-ms 1000 --linger-ms 2 --rate 200000 \
        --acked "$T/acked.$round" \
        >"$T/produce.$round" 2>&1 &
    producer=$!
    sleep "0.$((3 + RANDOM % 7))"
    broker_kill
    wait $producer || true
    acked=$(wc -l <"$T/acked.$round")
    grep -v "^%" "$T/produce.$round" | sed "s/^/   /"; grep -m3 "^%[0-6]" "$T/produce.$round" | sed "s/^/   /" || true
    [ "$acked" -gt 0 ] || fail "round $round: nothing was acknowledged before the kill"
    [ "$acked" -lt $PER_ROUND ] || fail "round $round: the kill came after the last record"
    acked_args+=(--acked "$T/acked.$round")
    broker_start
    "$BIN/kclient" verify -b "$BROKER" -t crash -p 3 --produced $(((round + 1) * PER_ROUND)) \
        "${acked_args[@]}" || fail "round $round: acknowledged records lost, duplicated or reordered"
done
grep -q "recovery finished" "$BROKER_LOG" || fail "no recovery logged"
broker_stop
echo PASS
