#!/usr/bin/env bash
# A sealed segment damaged in the middle of a log (here a flipped byte found by a full
# recovery scan) with acknowledged records in later segments: recovery keeps every byte as
# it was and keeps the partition offline (KAFKA_STORAGE_ERROR, a metric, a log line that
# says where), instead of cutting the log there and deleting what follows. Other partitions
# serve as usual. Once the operator restores the segment, every record is back.
. "$(dirname "$0")/../lib/harness.sh"
broker_start
K="$BIN/kadmin -b $BROKER"
$K create dmg 1 segment.bytes=32768 >/dev/null
$K create fine 1 >/dev/null
dir="$T/data/topics/dmg/0"

step "3000 records over several segments, and a healthy topic beside them"
"$BIN/kclient" produce -b "$BROKER" -t dmg -n 3000 --batch-bytes 8192 >/dev/null || fail "produce"
"$BIN/kclient" produce -b "$BROKER" -t fine -n 100 >/dev/null || fail "produce fine"
broker_stop
mapfile -t segs < <(ls "$dir"/*.log | sort)
[ "${#segs[@]}" -ge 3 ] || fail "want 3 segments or more, have ${#segs[@]}"

step "flip a byte in the middle of the first segment; lose the recovery point (a full scan)"
first=${segs[0]}
pos=$(($(stat -c %s "$first") / 2))
byte=$(od -An -tu1 -j $pos -N1 "$first" | tr -d ' ')
flip() { printf "$(printf '\\%03o' $((($1) & 255)))" | dd of="$first" bs=1 seek=$pos conv=notrunc status=none; }
flip "byte ^ 0x5a"
rm -f "$dir/recovery-point"
(cd "$dir" && sha256sum *.log) >"$T/before.sum"

step "recovery keeps every byte and the partition offline"
: >"$BROKER_LOG"
broker_start
grep -q 'partition offline: a damaged segment has acknowledged data after it.*partition=dmg/0' "$BROKER_LOG" ||
    fail "no offline report: $(cat "$BROKER_LOG")"
grep -q 'later_segments=[1-9]' "$BROKER_LOG" || fail "the report does not count the later segments"
(cd "$dir" && sha256sum *.log) >"$T/after.sum"
diff "$T/before.sum" "$T/after.sum" || fail "recovery changed or removed segments"
[ "$(metric streamd_broker_partitions_offline)" = 1 ] || fail "offline partitions metric"
out=$($K offsets dmg 0 latest 2>&1) && fail "offsets of an offline partition: $out"
grep -q KAFKA_STORAGE_ERROR <<<"$out" || fail "offsets: want KAFKA_STORAGE_ERROR, got $out"
if "$BIN/kclient" produce -b "$BROKER" -t dmg -n 1 --start 3000 --no-retries --timeout-ms 5000 \
    >"$T/p.out" 2>&1; then
    fail "a produce to the offline partition was acknowledged"
fi
grep -q KAFKA_STORAGE_ERROR "$T/p.out" || fail "produce: want KAFKA_STORAGE_ERROR: $(cat "$T/p.out")"
"$BIN/kclient" verify -b "$BROKER" -t fine -p 1 --expect-range 0 100 >/dev/null ||
    fail "the healthy topic is not served"
broker_stop
(cd "$dir" && sha256sum *.log) >"$T/after2.sum"
diff "$T/before.sum" "$T/after2.sum" || fail "the offline partition was written to"

step "the operator restores the byte: every record is back"
flip "byte"
: >"$BROKER_LOG"
broker_start
[ "$(metric streamd_broker_partitions_offline)" = 0 ] || fail "still offline after the repair"
"$BIN/kclient" verify -b "$BROKER" -t dmg -p 1 --expect-range 0 3000 || fail "records after the repair"
broker_stop
echo PASS
