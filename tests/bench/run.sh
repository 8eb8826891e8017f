#!/usr/bin/env bash
# Runs the benchmarks (`make bench`): the disk's own fsync floor, streamd, NATS JetStream and
# Redis Streams, with the same workload (tests/bench/bench_common.h), one after the other on
# this machine, and prints one table. Raw report lines go to BUILD/bench/results.txt.
#
#   tests/bench/run.sh BUILD_DIR
#
# Environment: RECORDS (default 2000000), RATE (2000), DURATION (10 s), PARTITIONS (6),
# REPEAT (3: each throughput test runs this many times; the table shows the median and the
# range), ONLY ("disk streamd tmpfs nats redis gateway partitions" by default) to run a subset. The
# gateway's REST benchmarks (h2load; tests/bench/gateway.sh) print their own lines last.
set -euo pipefail
build=${1:?build dir}
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN="$top/$build/bin"
RECORDS=${RECORDS:-2000000}
RATE=${RATE:-2000}
DURATION=${DURATION:-10}
PARTITIONS=${PARTITIONS:-6}
REPEAT=${REPEAT:-3}
ONLY=${ONLY:-"disk streamd tmpfs nats redis gateway partitions"}
out="$top/$build/bench"
work="$out/work"
rm -rf "$work"
mkdir -p "$work"
results="$out/results.txt"
: >"$results"
. "$top/tests/bench/peers.sh"

free_port() {
    python3 "$top/tests/lib/free_port.py" "$work/.ports"
}
want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
run() { "$@" | tee -a "$results"; }

BROKER_PID=
cleanup() {
    [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)"
echo "# disk: $(df -T "$work" | awk 'NR==2 {print $1, $2}'), data under $work"
echo "# workload: $RECORDS records of 100 bytes; latency at $RATE records/s for ${DURATION} s, one in flight"

# The disk's own write+fdatasync latency, measured right before each system's latency test.
disk_probe() {
    want disk || return 0
    run "$BIN/bench-fsync" --test latency --target "$work" --rate "$RATE" --seconds "$DURATION" \
        --label "disk-before-$1"
}

# Each system: latency first, on a fresh server and a quiet disk (no writeback of earlier
# throughput runs competing with its fsyncs), then produce, then consume.

# streamd: start a broker on data directory $1, create the topics, run the tests.
streamd_run() {
    local data=$1 label=$2 port aport
    port=$(free_port)
    aport=$(free_port)
    "$BIN/streamd-broker" --listen="127.0.0.1:$port" --admin_listen="127.0.0.1:$aport" \
        --data_dir="$data" --log_level=warn >"$work/broker-$label.log" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$aport/readyz" >/dev/null && break; sleep 0.05; done
    "$BIN/kadmin" -b "127.0.0.1:$port" create bench "$PARTITIONS" >/dev/null
    "$BIN/kadmin" -b "127.0.0.1:$port" create latency "$PARTITIONS" >/dev/null
    local common=(--addr "127.0.0.1:$port" --partitions "$PARTITIONS" --server-pid "$BROKER_PID" --label "$label")
    if [ "$label" = streamd ]; then disk_probe streamd; fi
    run "$BIN/bench-kafka" --test latency --target latency --rate "$RATE" --seconds "$DURATION" "${common[@]}"
    if [ "$label" = streamd ]; then
        for _ in $(seq "$REPEAT"); do
            run "$BIN/bench-kafka" --test produce --target bench --records "$RECORDS" "${common[@]}"
        done
        for _ in $(seq "$REPEAT"); do
            run "$BIN/bench-kafka" --test consume --target bench --records "$RECORDS" "${common[@]}"
        done
    fi
    kill "$BROKER_PID"
    wait "$BROKER_PID" || true
    BROKER_PID=
}

if want streamd; then
    streamd_run "$work/streamd" streamd
fi
if want tmpfs && [ -d /dev/shm ]; then
    # Diagnostic only: fsync is free on tmpfs, so this shows the broker's own path.
    shm=$(mktemp -d /dev/shm/streamd-bench-XXXXXX)
    streamd_run "$shm" streamd-tmpfs
    rm -rf "$shm"
fi
# A peer: start it with peer_start_$1, run the tests with bench-$1, stop it.
peer_run() {
    local name=$1 port pid
    port=$(free_port)
    "peer_start_$name" "$work/$name" "$port" >/dev/null
    pid=$PEER_PID
    disk_probe "$name"
    run "$BIN/bench-$name" --test latency --target latency --addr "127.0.0.1:$port" --rate "$RATE" \
        --seconds "$DURATION" --server-pid "$pid"
    for t in produce consume; do
        for _ in $(seq "$REPEAT"); do
            run "$BIN/bench-$name" --test $t --addr "127.0.0.1:$port" --records "$RECORDS" --server-pid "$pid"
        done
    done
    peer_stop "$pid"
}

if want nats; then peer_run nats; fi
if want redis; then peer_run redis; fi

echo
echo "| system | test | records/s (median) | range | MB/s | p50 µs | p99 µs | p99.9 µs | max µs | server RSS KiB |"
echo "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"
awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
       k = f["system"] " " f["test"]
       if (!(k in n)) order[++keys] = k
       v[k, ++n[k]] = f["rec_per_s"]; line[k, n[k]] = $0 }
     END {
       for (j = 1; j <= keys; j++) {
           k = order[j]; m = n[k]
           for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
               if (v[k, b] + 0 < v[k, a] + 0) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t; t = line[k, a]; line[k, a] = line[k, b]; line[k, b] = t }
           mid = int((m + 1) / 2); split(line[k, mid], parts, " ")
           for (i in parts) { split(parts[i], kv, "="); g[kv[1]] = kv[2] }
           range = m > 1 ? v[k, 1] " .. " v[k, m] : "-"
           printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", g["system"], g["test"], g["rec_per_s"],
                  range, g["mb_per_s"], g["p50_us"], g["p99_us"], g["p999_us"], g["max_us"], g["server_rss_kb"]
       } }' "$results"

if want gateway; then
    echo
    "$top/tests/bench/gateway.sh" "$build" | tee "$out/gateway.txt"
    echo
    "$top/tests/bench/throttle.sh" "$build" | tee "$out/throttle.txt"
fi

if want partitions; then
    echo
    "$top/tests/bench/partitions.sh" "$build" | tee "$out/partitions.txt"
fi
