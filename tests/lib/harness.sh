# Sourced by the e2e and fault tests: a private temporary directory, free ports, and a
# broker started and stopped for the test. KEEP_FAILED=1 keeps a failed test's files. Run a test through tests/run-tier.sh, which sets
# BIN (the build's bin/ directory: release or asan).
set -euo pipefail

: "${BIN:?run this test through tests/run-tier.sh (or set BIN=build/release/bin)}"
T=$(mktemp -d /tmp/streamd-test-XXXXXX)
BROKER_PID=
BROKER_LOG="$T/broker.log"

cleanup() {
    local rc=$?
    if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -9 "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    if [ $rc -ne 0 ] && [ -f "$BROKER_LOG" ]; then
        echo "--- broker log (last 40 lines) ---"
        tail -n 40 "$BROKER_LOG"
    fi
    if [ $rc -ne 0 ] && [ -n "${KEEP_FAILED:-}" ]; then
        echo "kept the test's files in $T (KEEP_FAILED is set)"
    else
        rm -rf "$T"
    fi
    exit $rc
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

step() {
    echo "== $*"
}

# A TCP port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# broker_start [--flag=value ...]: starts a broker on free ports with data in $T/data and
# waits until /readyz answers. Sets BROKER (host:port), ADMIN (host:port), BROKER_PID.
# Keeps the ports of an earlier start so a restarted broker is found at the same address.
broker_start() {
    : "${KPORT:=$(free_port)}"
    : "${APORT:=$(free_port)}"
    BROKER="127.0.0.1:$KPORT"
    ADMIN="127.0.0.1:$APORT"
    "$BIN/streamd-broker" --listen="$BROKER" --admin_listen="$ADMIN" --data_dir="$T/data" \
        --retention_check_ms=200 "$@" >>"$BROKER_LOG" 2>&1 &
    BROKER_PID=$!
    local i
    for i in $(seq 1 200); do
        if curl -sf "http://$ADMIN/readyz" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$BROKER_PID" 2>/dev/null || fail "broker exited during start"
        sleep 0.05
    done
    fail "broker not ready after 10 s"
}

# broker_stop: SIGTERM, then the exit status must be 0 (a sanitizer finding is not).
broker_stop() {
    kill -TERM "$BROKER_PID"
    local rc=0
    wait "$BROKER_PID" || rc=$?
    BROKER_PID=
    [ $rc -eq 0 ] || fail "broker exited with status $rc after SIGTERM"
}

# broker_kill: SIGKILL, no chance to flush or close anything.
broker_kill() {
    kill -9 "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=
}

# The value of a Prometheus counter or gauge on the broker's /metrics page.
metric() {
    curl -sf "http://$ADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
