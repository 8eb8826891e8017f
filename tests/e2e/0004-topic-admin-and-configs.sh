#!/usr/bin/env bash
# CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs and
# IncrementalAlterConfigs, with librdkafka's admin API and the raw probe: right answers,
# errors that say what is wrong, and configs and partitions that persist across a restart.
. "$(dirname "$0")/../lib/harness.sh"
broker_start
K="$BIN/kadmin -b $BROKER"
P="$BIN/kprobe -b $BROKER"

step "create with configs; describe shows them as topic-level"
$K create cfg 2 retention.ms=3600000 segment.bytes=1048576 >/dev/null
$K describe cfg >"$T/d"
grep -qx 'retention.ms=3600000 DYNAMIC_TOPIC_CONFIG' "$T/d" || fail "retention.ms not set: $(cat "$T/d")"
grep -qx 'segment.bytes=1048576 DYNAMIC_TOPIC_CONFIG' "$T/d" || fail "segment.bytes not set"
grep -qx 'flush.ms=0 DEFAULT_CONFIG' "$T/d" || fail "flush.ms default missing"

step "creation errors"
$K create cfg 2 2>"$T/e" && fail "duplicate create succeeded"
grep -q TOPIC_ALREADY_EXISTS "$T/e" || fail "duplicate: $(cat "$T/e")"
$K create bad 1 retention.ms=soon 2>"$T/e" && fail "bad config value accepted"
grep -q 'INVALID_CONFIG' "$T/e" || fail "bad value: $(cat "$T/e")"
$K create bad 1 compression.level=3 2>"$T/e" && fail "unknown config accepted"
grep -q "unknown topic config" "$T/e" || fail "unknown config: $(cat "$T/e")"
$K create bad 1 cleanup.policy=compact 2>"$T/e" && fail "compaction accepted"
grep -q 'INVALID_CONFIG: cleanup.policy=compact is not supported' "$T/e" || fail "compaction: $(cat "$T/e")"
$K create bad 1 --rf 3 2>"$T/e" && fail "replication factor 3 accepted"
grep -q INVALID_REPLICATION_FACTOR "$T/e" || fail "rf: $(cat "$T/e")"
$K create valid-only 1 --validate >/dev/null || fail "validate-only create failed"
$K describe valid-only 2>"$T/e" && fail "validate-only create created the topic"
grep -q UNKNOWN_TOPIC_OR_PART "$T/e" || fail "describe after a validate-only create: $(cat "$T/e")"

step "AlterConfigs replaces the whole set"
$K alter cfg flush.ms=100 >/dev/null
$K describe cfg >"$T/d"
grep -qx 'flush.ms=100 DYNAMIC_TOPIC_CONFIG' "$T/d" || fail "flush.ms not altered"
grep -qx 'retention.ms=604800000 DEFAULT_CONFIG' "$T/d" || fail "AlterConfigs kept an unlisted key"

step "IncrementalAlterConfigs sets and deletes single keys"
$P incremental-alter cfg retention.bytes=1000000 >/dev/null || fail "incremental set"
$P incremental-alter cfg flush.ms! >/dev/null || fail "incremental delete"
$K describe cfg >"$T/d"
grep -qx 'retention.bytes=1000000 DYNAMIC_TOPIC_CONFIG' "$T/d" || fail "incremental set lost"
grep -qx 'flush.ms=0 DEFAULT_CONFIG' "$T/d" || fail "incremental delete did not reset"
$P incremental-alter cfg segment.bytes=1 >"$T/e" && fail "segment.bytes=1 accepted"
grep -q 'INVALID_CONFIG' "$T/e" || fail "out of range: $(cat "$T/e")"
$P incremental-alter nosuch retention.ms=1 >"$T/e" && fail "alter of unknown topic succeeded"
grep -q UNKNOWN_TOPIC_OR_PARTITION "$T/e" || fail "unknown topic: $(cat "$T/e")"

step "configs persist across a restart"
broker_stop
broker_start
$K describe cfg >"$T/d"
grep -qx 'retention.bytes=1000000 DYNAMIC_TOPIC_CONFIG' "$T/d" || fail "config lost at restart"

step "CreatePartitions adds partitions that survive a restart; it never removes any"
$K partitions cfg 4 --validate >/dev/null || fail "validate-only CreatePartitions"
kcat -L -b "$BROKER" -t cfg >"$T/md" || fail "metadata of cfg"
grep -q '^ *topic "cfg" with 2 partitions:$' "$T/md" || fail "validate-only changed the partitions: $(cat "$T/md")"
$K partitions cfg 4 >/dev/null || fail "CreatePartitions"
echo "p3" | kcat -P -b "$BROKER" -t cfg -p 3
broker_stop
broker_start
[ "$("$BIN/kadmin" -b "$BROKER" offsets cfg 3 latest)" = 1 ] || fail "partition 3 lost its record"
$K partitions cfg 3 2>"$T/e" && fail "shrinking succeeded"
grep -q INVALID_PARTITIONS "$T/e" || fail "shrink: $(cat "$T/e")"
$K partitions nosuch 3 2>"$T/e" && fail "CreatePartitions of an unknown topic succeeded"
grep -q UNKNOWN_TOPIC "$T/e" || fail "unknown: $(cat "$T/e")"

step "a topic with damaged metadata is not served; creating its name again sets it aside"
$K create dmg 1 >/dev/null
echo "x" | kcat -P -b "$BROKER" -t dmg -p 0
broker_stop
printf 'id=not-an-id\npartitions=1\n' >"$T/data/topics/dmg/topic.properties"
broker_start
grep -q 'topic metadata is invalid; the topic is not served" topic=dmg' "$BROKER_LOG" ||
    fail "the damaged topic was not reported"
$K describe dmg 2>"$T/e" && fail "a topic with damaged metadata is served"
grep -q UNKNOWN_TOPIC_OR_PART "$T/e" || fail "describe of a damaged topic: $(cat "$T/e")"
$K create dmg 1 >/dev/null || fail "creating over a damaged topic"
ls "$T/data/damaged" | grep '^dmg-' >/dev/null || fail "the damaged topic was not set aside"
[ -s "$T/data/damaged/$(ls "$T/data/damaged" | grep -m1 '^dmg-')/0/00000000000000000000.log" ] ||
    fail "the damaged topic's data was not kept"
[ "$("$BIN/kadmin" -b "$BROKER" offsets dmg 0 latest)" = 0 ] || fail "the new topic is not empty"

step "delete; the name can be reused at once, empty"
echo "x" | kcat -P -b "$BROKER" -t cfg -p 0
$K delete cfg >/dev/null
$K describe cfg 2>"$T/e" && fail "deleted topic still described"
grep -q UNKNOWN_TOPIC_OR_PART "$T/e" || fail "describe of a deleted topic: $(cat "$T/e")"
$K delete cfg 2>"$T/e" && fail "second delete succeeded"
grep -q UNKNOWN_TOPIC "$T/e" || fail "second delete: $(cat "$T/e")"
$K create cfg 1 >/dev/null
[ "$("$BIN/kadmin" -b "$BROKER" offsets cfg 0 latest)" = 0 ] || fail "recreated topic is not empty"
broker_stop
echo PASS
