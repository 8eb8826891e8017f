#!/usr/bin/env bash
# Descriptors do not grow with partitions: a segment holds its index files open only while
# it writes them, and its log file's descriptor sits in a bounded cache (open_segments_max)
# whose idle entries close and reopen on their next use; segment.ms stops rolling at
# segments_per_partition_max. Issue 16, findings 2 and 11 (the old broker held about four
# descriptors per idle partition and took no bound: 1,000 partitions, 4,000 descriptors).
. "$(dirname "$0")/../lib/harness.sh"
broker_start --open_segments_max=64 --segments_per_partition_max=3
K="$BIN/kadmin -b $BROKER"
fds() { find "/proc/$BROKER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
base=$(fds)

step "1000 partitions, idle"
$K create wide 1000 >/dev/null
n=$(fds)
echo "descriptors: $base before, $n with 1000 partitions"
[ "$n" -le $((base + 64 + 16)) ] || fail "$n descriptors for 1000 idle partitions (bound 64, $base before)"

step "a record in every partition, every record read back"
"$BIN/kclient" produce -b "$BROKER" -t wide -n 20000 --keys 20000 >/dev/null || fail "produce"
"$BIN/kclient" verify -b "$BROKER" -t wide -p 1000 --keys 20000 --expect-range 0 20000 || fail "read back"
# Descriptors busy while used (a sync pending) close at the broker's next ticks.
few() { [ "$(fds)" -le $((base + 64 + 16)) ]; }
wait_for 60 "the idle descriptors close (bound 64, $base before; now $(fds))" few
echo "descriptors: $(fds) after writing and reading all of them"
[ "$(metric streamd_broker_segment_files_reopened_total)" -gt 0 ] || fail "no segment file was reopened"
[ "$(metric streamd_broker_segment_files_open)" -le 80 ] || fail "the cache holds $(metric streamd_broker_segment_files_open)"

step "they survive a restart, and reads after it reopen what they need"
broker_stop
broker_start --open_segments_max=64 --segments_per_partition_max=3
n=$(fds)
echo "descriptors: $n after recovering 1000 partitions"
[ "$n" -le $((base + 64 + 16)) ] || fail "$n descriptors after recovering 1000 partitions"
"$BIN/kclient" verify -b "$BROKER" -t wide -p 1000 --keys 20000 --expect-range 0 20000 || fail "read back after restart"

step "segment.ms rolls stop at segments_per_partition_max"
$K create aging 1 segment.ms=1 >/dev/null
# Each kclient is a new process: far more than 1 ms passes between their appends.
for i in $(seq 0 7); do
    "$BIN/kclient" produce -b "$BROKER" -t aging -n 1 --start "$i" >/dev/null || fail "produce $i"
done
segs=$(find "$T/data/topics/aging/0" -name '*.log' | wc -l)
[ "$segs" = 3 ] || fail "aging has $segs segments, want segments_per_partition_max=3"
"$BIN/kclient" verify -b "$BROKER" -t aging -p 1 --expect-range 0 8 || fail "aging's records"
broker_stop
echo PASS
