#!/usr/bin/env bash
# Idle partitions on one broker (issue 16, finding 11): creates PT_TOPICS topics of
# PT_PARTS partitions each (100 x 1000 = 100,000 by default) through CreateTopics, writes
# one record to PT_WRITTEN of them, restarts the broker, and prints what the broker holds:
# open descriptors, RSS (now and peak), the time to create and to recover. Part of
# `make bench` (ONLY=partitions), or alone: tests/bench/partitions.sh BUILD_DIR.
set -euo pipefail
build=${1:?build dir}
top=$(cd "$(dirname "$0")/../.." && pwd)
export BIN="$top/$build/bin"
TOPICS=${PT_TOPICS:-100}
PARTS=${PT_PARTS:-1000}
WRITTEN=${PT_WRITTEN:-2000}
. "$top/tests/lib/harness.sh"
READY_SECS=${PT_READY_SECS:-1800} # recovering every partition at a restart

total=$((TOPICS * PARTS))
flags=(--partitions_total_max=$((total + 1000)) --topics_max=$((TOPICS + 100))
    --partitions_max="$PARTS" --log_level=warn)
figures() { # LABEL: the broker's descriptors and memory now
    local fds rss hwm
    fds=$(find "/proc/$BROKER_PID/fd" -mindepth 1 | wc -l)
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$BROKER_PID/status")
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$BROKER_PID/status")
    : "${RSS0:=$rss}"
    printf '%-28s %7d fds  RSS %6.1f MiB  peak %6.1f MiB  (%.0f bytes a partition over empty)\n' \
        "$1" "$fds" "$(echo "$rss / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" \
        "$(echo "($rss - $RSS0) * 1024 / $total" | bc -l)"
}

echo "# partitions: $TOPICS topics x $PARTS partitions = $total on one broker, $(nproc) cores"
broker_start "${flags[@]}"
figures "empty"
t0=$(date +%s.%N)
for i in $(seq 1 "$TOPICS"); do
    "$BIN/kadmin" -b "$BROKER" create "t$i" "$PARTS" >/dev/null
done
t1=$(date +%s.%N)
printf 'created %d partitions in %.1f s (%.0f a second)\n' "$total" "$(echo "$t1 - $t0" | bc -l)" \
    "$(echo "$total / ($t1 - $t0)" | bc -l)"
figures "$total idle"
# WRITTEN records without keys, spread over the topics: librdkafka's partitioner puts them
# on random partitions, whose active segments get written (and preallocated) and whose
# descriptors go through the broker's cache.
per=$(((WRITTEN + TOPICS - 1) / TOPICS))
for i in $(seq 1 "$TOPICS"); do
    seq 1 "$per" | kcat -P -b "$BROKER" -t "t$i" -X socket.timeout.ms=30000
done
figures "after writing $WRITTEN"
broker_stop
t0=$(date +%s.%N)
broker_start "${flags[@]}"
t1=$(date +%s.%N)
printf 'restart: ready after %.1f s\n' "$(echo "$t1 - $t0" | bc -l)"
figures "$total after restart"
du -sh "$T/data" | awk '{ print "data directory: " $1 }'
broker_stop
