# shellcheck shell=bash disable=SC2034  # (PEER_PID is set for the sourcing script)
# Starts and stops the peer servers that the benchmarks measure beside streamd.
# Sourced by the benchmark runner, never run:
#
#   . tests/bench/peers.sh
#   nats_pid=$(peer_start_nats "$tmp/nats" 14222)
#   redis_pid=$(peer_start_redis "$tmp/redis" 16379)
#   ...
#   peer_stop "$nats_pid"; peer_stop "$redis_pid"
#
# A start function prints the PID and also leaves it in PEER_PID. Called as
# `peer_start_nats DIR PORT >/dev/null; nats_pid=$PEER_PID`, rather than inside $(...), the
# server stays the caller's child, so peer_stop reaps it; started inside $(...) it is orphaned,
# and on a machine whose PID 1 does not reap orphans it lingers as a zombie once stopped.
#
# Each server is a plain child process on 127.0.0.1 and the port given, with its data and its
# log under DIR (DIR/nats.log, DIR/redis.log); never the Debian service or systemd, so an
# apt-installed redis-server already running on 6379 is neither used nor disturbed. A port that
# already answers is refused rather than benchmarked. Works as root.
#
# Durability, the strongest each peer offers (evidence atop bench_nats.c, bench_redis.c):
#   nats-server 2.9.10  JetStream file store: each record is write(2)n before the publish ack,
#                       but fsync runs only on a fixed 2-minute timer; 2.9 has no option to
#                       sync before the ack (sync_interval/always came in 2.10).
#   redis-server 7.0    appendonly yes, appendfsync always: one write(2) + fdatasync of the
#                       AOF per event-loop iteration, before any reply of that iteration is sent.

# The PID of the peer the last start function started (see above).
PEER_PID=

# How long a peer may take to start answering, in tenths of a second.
PEER_START_TENTHS=${PEER_START_TENTHS:-200}

# True if something accepts TCP connections on 127.0.0.1:PORT.
peer__port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True if PID is a live process (a zombie counts as gone).
peer__alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat:0:1}" != Z ]
}

# Polls CHECK (a command) until it succeeds while PID lives; LOG is shown on failure.
peer__wait_ready() {
    local pid=$1 log=$2 name=$3 i
    shift 3
    for ((i = 0; i < PEER_START_TENTHS; i++)); do
        if ! peer__alive "$pid"; then
            echo "peers.sh: $name exited during start-up; its log, $log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        "$@" && return 0
        sleep 0.1
    done
    echo "peers.sh: $name (pid $pid) did not answer within $((PEER_START_TENTHS / 10)) s;" \
        "see $log" >&2
    peer_stop "$pid" >/dev/null
    return 1
}

peer__port_free() {
    if peer__port_open "$1"; then
        echo "peers.sh: 127.0.0.1:$1 is already in use; stop what listens there or pick" \
            "another port" >&2
        return 1
    fi
}

# peer_start_nats DIR PORT: nats-server with JetStream, file store under DIR/jetstream,
# clients on 127.0.0.1:PORT, no monitoring port. Prints its PID once it accepts connections.
peer_start_nats() {
    local dir=${1:?peer_start_nats DIR PORT} port=${2:?peer_start_nats DIR PORT} pid
    command -v nats-server >/dev/null || {
        echo "peers.sh: nats-server is not installed (apt-get install nats-server)" >&2
        return 1
    }
    peer__port_free "$port" || return 1
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    # max_payload: 8MB lets --size go up to 8 MB (the default limit is 1 MB).
    cat >"$dir/nats.conf" <<EOF
server_name: "bench-nats-$port"
listen: "127.0.0.1:$port"
max_payload: 8MB
jetstream {
    store_dir: "$dir"
}
EOF
    nats-server -c "$dir/nats.conf" </dev/null >"$dir/nats.log" 2>&1 &
    pid=$!
    # JetStream is enabled before the client port opens, so an open port means ready.
    peer__wait_ready "$pid" "$dir/nats.log" nats-server peer__port_open "$port" || return 1
    PEER_PID=$pid
    echo "$pid"
}

peer__redis_ping() {
    if command -v redis-cli >/dev/null; then
        [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
    else
        peer__port_open "$1"
    fi
}

# peer_start_redis DIR PORT: redis-server on 127.0.0.1:PORT, data under DIR, AOF fsynced on
# every write (appendfsync always), no RDB snapshots. Prints its PID once it answers PING.
peer_start_redis() {
    local dir=${1:?peer_start_redis DIR PORT} port=${2:?peer_start_redis DIR PORT} pid
    command -v redis-server >/dev/null || {
        echo "peers.sh: redis-server is not installed (apt-get install redis-server)" >&2
        return 1
    }
    peer__port_free "$port" || return 1
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --appendonly yes --appendfsync always --save '' \
        --daemonize no </dev/null >"$dir/redis.log" 2>&1 &
    pid=$!
    peer__wait_ready "$pid" "$dir/redis.log" redis-server peer__redis_ping "$port" || return 1
    PEER_PID=$pid
    echo "$pid"
}

# peer_stop PID: SIGTERM, up to 10 s to exit, then SIGKILL.
peer_stop() {
    local pid=${1:?peer_stop PID} i
    peer__alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        peer__alive "$pid" || break
        sleep 0.1
    done
    if peer__alive "$pid"; then
        echo "peers.sh: pid $pid ignored SIGTERM for 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            peer__alive "$pid" || break
            sleep 0.1
        done
    fi
    # Reap it if it is this shell's child (its exit status is of no interest; under set -e it
    # must not end the caller); harmless otherwise.
    wait "$pid" 2>/dev/null || true
    return 0
}
