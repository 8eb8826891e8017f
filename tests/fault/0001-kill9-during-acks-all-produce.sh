#!/usr/bin/env bash
# Acceptance: kill -9 the broker repeatedly while a producer writes with acks=-1; after each
# restart every acknowledged record is readable exactly once, in order, at the offset its
# acknowledgement gave. (Retries are off, so a record whose ack was lost is never re-sent.)
#
# The kill comes mid-stream by construction, not by timing: it waits until the producer has
# logged KILL_AT acknowledgements (a different number each round), and the producer, paced
# at RATE records/s, needs PER_ROUND / RATE = 5 s to send the whole round, far longer than
# the step from seeing the acknowledgements to the kill.
. "$(dirname "$0")/../lib/harness.sh"
ROUNDS=${ROUNDS:-6}
PER_ROUND=1000000
RATE=200000
broker_start
"$BIN/kadmin" -b "$BROKER" create crash 3 >/dev/null
acked_args=()
for round in $(seq 0 $((ROUNDS - 1))); do
    KILL_AT=$((20000 + round * 30000))
    step "round $round: produce, kill -9 after $KILL_AT acknowledgements"
    "$BIN/kclient" produce -b "$BROKER" -t crash -n $PER_ROUND --start $((round * PER_ROUND)) \
        --acks -1 --no-retries --stop-on-error --timeout-ms 1000 --linger-ms 2 --rate $RATE \
        --acked "$T/acked.$round" \
        >"$T/produce.$round" 2>&1 &
    producer=$!
    # kclient logs each acknowledgement as a line of the --acked file (stdio-buffered, so
    # the count seen lags behind by at most a buffer's worth: never ahead).
    acked_at_least() {
        [ "$(cat "$T/acked.$round" 2>/dev/null | wc -l)" -ge "$KILL_AT" ] && return 0
        kill -0 "$producer" 2>/dev/null ||
            fail "round $round: the producer ended before $KILL_AT acknowledgements: $(cat "$T/produce.$round")"
        return 1
    }
    wait_for 120 "round $round: $KILL_AT records acknowledged" acked_at_least
    broker_kill
    rc=0
    wait $producer || rc=$?
    # 3: some records were not acknowledged (the broker was gone); 0 would mean all were.
    [ $rc -eq 3 ] || fail "round $round: the producer exited with $rc, want 3: $(cat "$T/produce.$round")"
    acked=$(wc -l <"$T/acked.$round")
    grep -v "^%" "$T/produce.$round" | sed "s/^/   /"; grep -m3 "^%[0-6]" "$T/produce.$round" | sed "s/^/   /" || true
    [ "$acked" -ge "$KILL_AT" ] || fail "round $round: $acked acknowledged, fewer than were seen before the kill"
    [ "$acked" -lt $PER_ROUND ] || fail "round $round: the kill came after the last record"
    acked_args+=(--acked "$T/acked.$round")
    broker_start
    "$BIN/kclient" verify -b "$BROKER" -t crash -p 3 --produced $(((round + 1) * PER_ROUND)) \
        "${acked_args[@]}" || fail "round $round: acknowledged records lost, duplicated or reordered"
done
grep -q "recovery finished" "$BROKER_LOG" || fail "no recovery logged"
broker_stop
echo PASS
