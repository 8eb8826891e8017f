#!/usr/bin/env bash
# A tenant fills the broker's disk: produce is refused with KAFKA_STORAGE_ERROR (retriable)
# before any write can fail, every acknowledged record stays readable, the broker keeps
# running, and produce resumes once retention frees space. Issue 16, finding 3.
#
# The data directory is a 96 MiB tmpfs when this runs as root and may mount one: a real
# small filesystem. Otherwise it is the test's directory, with disk_free_min_bytes set
# 48 MiB under what is free there, which the broker reaches the same way.
. "$(dirname "$0")/../lib/harness.sh"
data="$T/small"
mkdir -p "$data"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=96m tmpfs "$data" 2>/dev/null; then
    trap 'umount -l "$data" 2>/dev/null || true' EXIT
    min=$((32 << 20))
    echo "data directory: a 96 MiB tmpfs, disk_free_min_bytes=$min"
else
    avail=$(df -B1 --output=avail "$data" | tail -n 1 | tr -d ' ')
    min=$((avail - (48 << 20)))
    echo "data directory: $data ($avail bytes free), disk_free_min_bytes=$min"
fi
broker_start --data_dir="$data" --disk_free_min_bytes="$min" --segment_preallocate_bytes=0
K="$BIN/kadmin -b $BROKER"
$K create fill 1 segment.bytes=4194304 >/dev/null
$K create other 1 >/dev/null

step "a tenant writes until the broker refuses"
# 200 MiB offered: more than the room above disk_free_min_bytes.
"$BIN/kclient" produce -b "$BROKER" -t fill -n 200000 --size 1024 --no-retries \
    --timeout-ms 20000 --acked "$T/acked" >"$T/p.out" 2>&1 &&
    fail "every one of 200 MiB of records was acknowledged"
grep KAFKA_STORAGE_ERROR "$T/p.out" >/dev/null || fail "produce: want KAFKA_STORAGE_ERROR: $(tail -n 5 "$T/p.out")"
[ "$(metric streamd_broker_disk_full)" = 1 ] || fail "disk_full is not 1"
grep 'data directory nearly full' "$BROKER_LOG" >/dev/null || fail "no log line says why"
acked=$(wc -l <"$T/acked")
[ "$acked" -gt 0 ] || fail "nothing was acknowledged before the refusal"
echo "acknowledged before the refusal: $acked records"
kill -0 "$BROKER_PID" || fail "the broker died"

step "another topic is refused too, and reads go on"
"$BIN/kclient" produce -b "$BROKER" -t other -n 1 --no-retries --timeout-ms 5000 >"$T/o.out" 2>&1 &&
    fail "a produce to another topic was acknowledged on a full disk"
grep KAFKA_STORAGE_ERROR "$T/o.out" >/dev/null || fail "other topic: $(tail -n 3 "$T/o.out")"
"$BIN/kclient" verify -b "$BROKER" -t fill -p 1 --size 1024 --acked "$T/acked" ||
    fail "an acknowledged record cannot be read"

step "retention frees space and produce resumes"
"$BIN/kprobe" -b "$BROKER" incremental-alter fill retention.bytes=4194304 >/dev/null
room() { [ "$(metric streamd_broker_disk_full)" = 0 ]; }
wait_for 60 "retention frees the disk" room
"$BIN/kclient" produce -b "$BROKER" -t other -n 100 >/dev/null || fail "produce after space was freed"
"$BIN/kclient" verify -b "$BROKER" -t other -p 1 --expect-range 0 100 || fail "the new records"
broker_stop
echo PASS
