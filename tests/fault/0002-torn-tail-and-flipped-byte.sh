#!/usr/bin/env bash
# Acceptance: a torn tail (the active segment cut mid-batch) and a flipped byte in the last
# batch are detected at restart and cut off; everything before them is served, and new
# records continue at the cut point.
. "$(dirname "$0")/../lib/harness.sh"
broker_start
K="$BIN/kadmin -b $BROKER"
$K create torn 1 >/dev/null
seg="$T/data/topics/torn/0/00000000000000000000.log"

step "1000 records, then one more batch that will be damaged"
"$BIN/kclient" produce -b "$BROKER" -t torn -n 1000 >/dev/null
broker_stop # a clean stop trims the preallocated space: the file is the log
good=$(stat -c %s "$seg")
broker_start
"$BIN/kclient" produce -b "$BROKER" -t torn -n 1 --start 1000 >/dev/null
broker_stop
size=$(stat -c %s "$seg")
[ "$size" -gt "$good" ] || fail "the last batch was not written"

step "torn tail: cut the last batch in the middle"
truncate -s $((good + (size - good) / 2)) "$seg"
broker_start
grep -q 'recovery truncated a corrupt or torn segment tail' "$BROKER_LOG" || fail "torn tail not reported"
[ "$(stat -c %s "$seg")" -eq "$good" ] || fail "the segment was not cut back to the last whole batch"
[ "$($K offsets torn 0 latest)" = 1000 ] || fail "log end is not 1000 after the cut"
"$BIN/kclient" verify -b "$BROKER" -t torn -p 1 --expect-range 0 1000 || fail "records before the tear"
"$BIN/kclient" produce -b "$BROKER" -t torn -n 1 --start 1000 >/dev/null
[ "$($K offsets torn 0 latest)" = 1001 ] || fail "new records do not continue at the cut"
broker_stop

step "flipped byte: corrupt the last batch's record data"
size=$(stat -c %s "$seg")
pos=$((size - 20))
byte=$(od -An -tu1 -j $pos -N1 "$seg" | tr -d ' ')
printf "$(printf '\\%03o' $(((byte ^ 0x5a) & 255)))" | dd of="$seg" bs=1 seek=$pos conv=notrunc status=none
: >"$BROKER_LOG"
broker_start
grep -q 'reason="record batch CRC32C does not match' "$BROKER_LOG" || fail "CRC error not reported"
[ "$(stat -c %s "$seg")" -eq "$good" ] || fail "the corrupt batch was not cut off"
"$BIN/kclient" verify -b "$BROKER" -t torn -p 1 --expect-range 0 1000 || fail "records before the corruption"
[ "$(metric streamd_broker_recovery_truncated_bytes_total)" -gt 0 ] || fail "truncation not counted"

step "garbage appended after the log is cut off too"
broker_stop
head -c 3000 /dev/urandom >>"$seg"
broker_start
[ "$(stat -c %s "$seg")" -eq "$good" ] || fail "appended garbage was kept"
"$BIN/kclient" verify -b "$BROKER" -t torn -p 1 --expect-range 0 1000 || fail "after garbage"
broker_stop
echo PASS
