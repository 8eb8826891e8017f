#!/usr/bin/env bash
# Consumer groups on the broker's coordinator: raw members (kprobe) through every state of
# the classic protocol; two kcat -G members of one group split a
# 6-partition topic between them, each record read by exactly one; when one dies (kill -9,
# no LeaveGroup), the other takes over every partition once the session times out, and no
# record produced afterwards is lost. Offsets a member commits survive a kill -9 of the
# broker: the group resumes after them, and a librdkafka consumer that committed midway is
# followed by one that reads exactly the records after that commit. A member survives a
# restart of the broker too (its membership is stored), while the offsets log, compacted
# at a tiny threshold throughout, stays small.
. "$(dirname "$0")/../lib/harness.sh"
COMPACT=--group_offsets_compact_bytes=4096
broker_start $COMPACT

step "the coordinator over the wire: joins, syncs, heartbeats, rebalances, stale commits, timeouts"
"$BIN/kprobe" -b "$BROKER" group-protocol probe-group probe-topic || fail "group protocol"

step "a 6-partition topic with 600 records"
"$BIN/kadmin" -b "$BROKER" create work 6 >/dev/null
for i in $(seq 1 600); do echo "k$i:first-$i"; done >"$T/in1"
kcat -P -b "$BROKER" -t work -K: -l "$T/in1"

# member NAME: a kcat balanced consumer in group g1, printing "partition offset value".
member() {
    kcat -b "$BROKER" -G g1 -X auto.offset.reset=earliest -X enable.auto.commit=false \
        -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -q -u \
        -f '%p %o %s\n' work >"$T/$1.out" 2>"$T/$1.err" &
}
lines() { cat "$T/a.out" "$T/b.out" 2>/dev/null | wc -l; }
read_at_least() { [ "$(lines)" -ge "$1" ]; }
a_second_at_least() { [ "$(grep -c ' second-' "$T/a.out")" -ge "$1" ]; }

step "two members start together and split the partitions"
member a
A_PID=$!
member b
B_PID=$!
cleanup_members() { kill -9 "$A_PID" "$B_PID" 2>/dev/null || true; }
trap 'rc=$?; cleanup_members; (exit $rc); cleanup' EXIT
wait_for 30 "600 records read by the two members" read_at_least 600
# Then an end marker on each partition: a member that has read a partition's marker has
# read everything before it there, a second reading after a rebalance included. Once
# all six markers are read, every record read so far, once or twice, is in the files.
for p in 0 1 2 3 4 5; do echo "end:end-$p" | kcat -P -b "$BROKER" -t work -p $p -K:; done
markers() { cat "$T/a.out" "$T/b.out" 2>/dev/null | grep -c ' end-[0-5]$'; }
markers_read() { [ "$(markers)" -ge 6 ]; }
wait_for 30 "the six end markers read" markers_read
[ "$(markers)" -eq 6 ] && [ "$(lines)" -eq 606 ] ||
    fail "$(lines) records and $(markers) markers read, want 600 and 6 (some read twice)"
pa=$(awk '{ print $1 }' "$T/a.out" | sort -u | tr '\n' ' ')
pb=$(awk '{ print $1 }' "$T/b.out" | sort -u | tr '\n' ' ')
[ -n "$pa" ] && [ -n "$pb" ] || fail "one member got nothing: a=[$pa] b=[$pb]"
for p in $pa; do case " $pb " in *" $p "*) fail "partition $p read by both" ;; esac; done
cut -d' ' -f3 "$T/a.out" "$T/b.out" | grep -v '^end-' | sort >"$T/got1"
cut -d: -f2 "$T/in1" | sort >"$T/want1"
cmp -s "$T/got1" "$T/want1" || fail "the records read are not the records produced"

step "member b dies; a takes over every partition once the session times out"
kill -9 "$B_PID"
wait "$B_PID" 2>/dev/null || true
t0=$(date +%s)
# No bound on the takeover's time here (the session timeout is 6 s; how long the
# rebalance takes past it depends on the machine): only that it happens, and loses nothing.
for i in $(seq 1 600); do echo "k$i:second-$i"; done >"$T/in2"
kcat -P -b "$BROKER" -t work -K: -l "$T/in2"
wait_for 30 "a reads every record produced after b died" a_second_at_least 600
echo "a read every record produced after b died $(($(date +%s) - t0)) s after b's death"
grep ' second-' "$T/a.out" | cut -d' ' -f3 | sort -u >"$T/got2"
cut -d: -f2 "$T/in2" | sort >"$T/want2"
cmp -s "$T/got2" "$T/want2" || fail "records lost after the takeover"
[ "$(awk '{ print $1 }' "$T/a.out" | sort -u | wc -l)" -eq 6 ] || fail "a does not hold all 6 partitions"

step "a leaves cleanly"
kill -TERM "$A_PID"
wait "$A_PID" || fail "a did not stop cleanly on SIGTERM (status $?): $(tail -n 3 "$T/a.err")"

step "a consumer commits; after kill -9 of the broker, the group resumes after the commit"
"$BIN/kadmin" -b "$BROKER" create resume 3 >/dev/null
for i in $(seq 1 300); do echo "k$i:old-$i"; done | kcat -P -b "$BROKER" -t resume -K:
# reader OUT: one member of group g2 reads until every partition is at its end, commits
# (automatically, and when it closes) and exits.
reader() {
    timeout 60 kcat -b "$BROKER" -G g2 -X auto.offset.reset=earliest -X enable.auto.commit=true \
        -X auto.commit.interval.ms=100 -X session.timeout.ms=6000 -e -q -u -f '%p %o %s\n' \
        resume >"$T/$1" 2>"$T/$1.err" || fail "reader $1 failed: $(tail -3 "$T/$1.err")"
}
reader r1.out
[ "$(wc -l <"$T/r1.out")" -eq 300 ] || fail "the first reader read $(wc -l <"$T/r1.out") of 300"
broker_kill
broker_start $COMPACT
for i in $(seq 1 100); do echo "k$i:new-$i"; done | kcat -P -b "$BROKER" -t resume -K:
reader r2.out
[ "$(wc -l <"$T/r2.out")" -eq 100 ] || fail "after the restart the group read $(wc -l <"$T/r2.out") records, want the 100 new ones"
grep -q ' old-' "$T/r2.out" && fail "records committed before the restart were read again"

step "a librdkafka consumer commits midway; after kill -9 of the broker, a new one resumes there"
"$BIN/kadmin" -b "$BROKER" create midway 4 >/dev/null
"$BIN/kclient" produce -b "$BROKER" -t midway -n 400 >/dev/null
# The first consumer reads all 400 records and commits once, after the first 150.
"$BIN/kclient" group -b "$BROKER" -t midway -g g3 -p 4 -n 400 --commit-after 150 \
    >"$T/c1.out" 2>"$T/c1.err" || fail "first consumer: $(tail -3 "$T/c1.err")"
[ "$(wc -l <"$T/c1.out")" -eq 400 ] || fail "the first consumer read $(wc -l <"$T/c1.out") of 400"
grep -q '^commit ' "$T/c1.err" || fail "the first consumer did not commit: $(cat "$T/c1.err")"
broker_kill
broker_start $COMPACT
"$BIN/kclient" group -b "$BROKER" -t midway -g g3 -p 4 -n 1000 >"$T/c2.out" 2>"$T/c2.err" ||
    fail "second consumer: $(tail -3 "$T/c2.err")"
# Expected: exactly the records the first consumer read at or after its committed offsets
# (a partition without a commit is read again from its start).
awk 'FNR == NR { if ($1 == "commit" && $3 >= 0) c[$2] = $3; next }
     $2 >= (($1 in c) ? c[$1] : 0)' "$T/c1.err" "$T/c1.out" | sort >"$T/want3"
sort "$T/c2.out" >"$T/got3"
n2=$(wc -l <"$T/got3")
[ "$n2" -gt 0 ] && [ "$n2" -lt 400 ] || fail "the second consumer read $n2 records, want fewer than 400"
cmp -s "$T/got3" "$T/want3" ||
    fail "resumed at the wrong place: $(diff "$T/want3" "$T/got3" | head -5 | tr '\n' ' ')"

step "a member and its last commit survive a kill -9 of the broker; the offsets log is compacted"
"$BIN/kprobe" -b "$BROKER" group-keep kept-group kept-topic 2000 >"$T/kept" || fail "group-keep"
read -r kept_member kept_gen <"$T/kept"
grep -q 'consumer offsets compacted' "$BROKER_LOG" || fail "the offsets log was never compacted"
broker_kill
broker_start $COMPACT
"$BIN/kprobe" -b "$BROKER" group-resume kept-group kept-topic "$kept_member" "$kept_gen" 2000 ||
    fail "the member was not kept across the restart"
# Everything committed in this test, over 2000 commits, replays from a few hundred records.
replayed=$(grep 'consumer offsets replayed' "$BROKER_LOG" | tail -1 | sed -n 's/.*records=\([0-9]*\).*/\1/p')
[ -n "$replayed" ] && [ "$replayed" -lt 600 ] || fail "the offsets log replayed $replayed records after compaction"
echo "offsets log: $(grep -c 'consumer offsets compacted' "$BROKER_LOG") compactions; $replayed records replayed at the last start"

broker_stop
echo PASS
