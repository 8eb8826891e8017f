# Sourced by the component, e2e and fault tests: a private temporary directory, free ports,
# and a broker, or a Postgres cluster and control planes, started and stopped for the test.
# KEEP_FAILED=1 keeps a failed test's files. Run a test through tests/run-tier.sh, which
# sets BIN (the build's bin/ directory: release or asan).
set -euo pipefail

: "${BIN:?run this test through tests/run-tier.sh (or set BIN=build/release/bin)}"
T=$(mktemp -d /tmp/streamd-test-XXXXXX)
TEST_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BROKER_PID=
BROKER_LOG="$T/broker.log"

cleanup() {
    local rc=$?
    [ -z "${CP_PID:-}" ] || { kill -9 "$CP_PID" 2>/dev/null || true; wait "$CP_PID" 2>/dev/null || true; }
    [ -z "${CP2_PID:-}" ] || { kill -9 "$CP2_PID" 2>/dev/null || true; wait "$CP2_PID" 2>/dev/null || true; }
    [ -z "${GW_PID:-}" ] || { kill -9 "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; }
    if [ $rc -ne 0 ] && [ -f "$T/gateway.log" ]; then
        echo "--- gateway log (last 40 lines) ---"
        tail -n 40 "$T/gateway.log"
    fi
    if [ $rc -ne 0 ] && [ -f "$T/control-plane.log" ]; then
        echo "--- control-plane log (last 40 lines) ---"
        tail -n 40 "$T/control-plane.log"
    fi
    if [ $rc -ne 0 ] && [ -f "$T/control-plane-2.log" ]; then
        echo "--- second control-plane log (last 40 lines) ---"
        tail -n 40 "$T/control-plane-2.log"
    fi
    local n
    for n in "${!PB_PID[@]}"; do
        [ -z "${PB_PID[$n]}" ] || { kill -9 "${PB_PID[$n]}" 2>/dev/null || true; wait "${PB_PID[$n]}" 2>/dev/null || true; }
        if [ $rc -ne 0 ] && [ -f "$T/broker$n.log" ]; then
            echo "--- broker $n log (last 40 lines) ---"
            tail -n 40 "$T/broker$n.log"
        fi
    done
    [ -z "${PGDATA_DIR:-}" ] || pg_stop >/dev/null 2>&1 || true
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

# A TCP port nobody is bound to, below the ephemeral range and not handed out before in
# this test (tests/lib/free_port.py says why).
free_port() {
    python3 "$TEST_LIB/free_port.py" "$T/.ports"
}

# wait_ready URL PID WHAT: polls URL until it answers 2xx, failing at once if PID exits.
# The bound (READY_SECS, 60 s) only stops a daemon that hangs without exiting: an ASan build on a busy
# machine can take many seconds to start, and a daemon that fails to start exits.
wait_ready() {
    local secs=${READY_SECS:-60}
    local deadline=$(($(date +%s%N) + secs * 1000000000))
    until curl -sf "$1" >/dev/null 2>&1; do
        kill -0 "$2" 2>/dev/null || fail "$3 exited during start"
        [ "$(date +%s%N)" -lt "$deadline" ] || fail "$3 not ready after $secs s"
        sleep 0.05
    done
}

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.1 s until it succeeds; fails the
# test after SECONDS.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$(($(date +%s%N) + secs * 1000000000))
    until "$@"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || fail "not within $secs s: $what"
        sleep 0.1
    done
}

# stop_daemon PID WHAT: SIGTERM, then the exit status must be 0 (a sanitizer finding is not).
stop_daemon() {
    kill -TERM "$1"
    local rc=0
    wait "$1" || rc=$?
    [ $rc -eq 0 ] || fail "$2 exited with status $rc after SIGTERM"
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
    wait_ready "http://$ADMIN/readyz" "$BROKER_PID" broker
}

# broker_stop: SIGTERM, then the exit status must be 0 (a sanitizer finding is not).
broker_stop() {
    local pid=$BROKER_PID
    BROKER_PID=
    stop_daemon "$pid" broker
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

# ---- Postgres and the control plane -------------------------------------------------

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PGDATA_DIR=

# Runs a Postgres server binary; as root it runs as the postgres user (Postgres refuses
# to run as root).
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start: a private Postgres cluster in $T/pg on a free port (fsync off: tests only).
# Sets PGPORT and PG_URL (database "streamd", user "streamd"). A second call restarts the
# same cluster on the same port.
pg_start() {
    [ -n "$PG_BIN" ] || fail "no Postgres server binaries under /usr/lib/postgresql"
    : "${PGPORT:=$(free_port)}"
    if [ -z "$PGDATA_DIR" ]; then
        PGDATA_DIR="$T/pg"
        mkdir -p "$PGDATA_DIR"
        if [ "$(id -u)" -eq 0 ]; then
            chmod 711 "$T"
            chown postgres "$PGDATA_DIR"
        fi
        pg_as "$PG_BIN/initdb" -D "$PGDATA_DIR/data" -U streamd -A trust --no-sync -E UTF8 \
            >"$T/pg-initdb.log" 2>&1 || { cat "$T/pg-initdb.log"; fail "initdb failed"; }
        local fresh=1
    fi
    pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/server.log" -w -t 30 \
        -o "-p $PGPORT -k $PGDATA_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start \
        >/dev/null || { cat "$PGDATA_DIR/server.log"; fail "postgres did not start"; }
    if [ -n "${fresh:-}" ]; then
        psql -X -q -h 127.0.0.1 -p "$PGPORT" -U streamd -d postgres -c 'CREATE DATABASE streamd' \
            || fail "createdb failed"
    fi
    PG_URL="postgresql://streamd@127.0.0.1:$PGPORT/streamd"
}

# pg_stop: a fast shutdown (open connections are cut, as in an outage).
pg_stop() {
    pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast -w stop >/dev/null
}

# psql_q SQL: one query against the test database, unaligned output.
psql_q() {
    psql -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U streamd -d streamd -c "$1"
}

OPTOKEN=test-operator-token-0123456789
CP_PID=

# cp_start [--flag=value ...]: the control plane on a free port against $PG_URL; waits
# for /readyz. Sets CP (host:port). Keeps its port across restarts.
cp_start() {
    : "${CPPORT:=$(free_port)}"
    CP="127.0.0.1:$CPPORT"
    CP_OPERATOR_TOKENS="admin=$OPTOKEN,ops2=second-token-abcdefghij" \
        "$BIN/streamd-control-plane" --listen="$CP" --database_url="$PG_URL" \
        --reconcile_ms=200 "$@" >>"$T/control-plane.log" 2>&1 &
    CP_PID=$!
    wait_ready "http://$CP/readyz" "$CP_PID" "control plane"
}

# cp_stop: SIGTERM; the exit status must be 0.
cp_stop() {
    local pid=$CP_PID
    CP_PID=
    stop_daemon "$pid" "control plane"
}

CP2_PID=

# cp2_start [--flag=value ...]: a second control plane beside cp_start's, against the same
# database, on its own free port, logging to $T/control-plane-2.log; waits for /readyz.
# Sets CP2 (host:port). Keeps its port across restarts.
cp2_start() {
    : "${CP2PORT:=$(free_port)}"
    CP2="127.0.0.1:$CP2PORT"
    CP_OPERATOR_TOKENS="admin=$OPTOKEN,ops2=second-token-abcdefghij" \
        "$BIN/streamd-control-plane" --listen="$CP2" --database_url="$PG_URL" \
        --reconcile_ms=200 "$@" >>"$T/control-plane-2.log" 2>&1 &
    CP2_PID=$!
    wait_ready "http://$CP2/readyz" "$CP2_PID" "second control plane"
}

# cp2_stop: SIGTERM to the second control plane; the exit status must be 0.
cp2_stop() {
    local pid=$CP2_PID
    CP2_PID=
    stop_daemon "$pid" "second control plane"
}

# api METHOD PATH [JSON]: calls the operator API with the operator token (or $BEARER when
# set: another credential). Prints the body; sets STATUS to the HTTP status and BODY.
api() {
    local out
    out=$(curl -s -X "$1" -H "Authorization: Bearer ${BEARER:-$OPTOKEN}" -H 'Content-Type: application/json' \
        ${3:+--data-binary "$3"} -w '\n%{http_code}' "http://$CP$2")
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
    printf '%s\n' "$BODY"
}

# expect_status CODE METHOD PATH [JSON]: api, and fail unless the status is CODE.
expect_status() {
    local want=$1
    shift
    api "$@" >/dev/null
    [ "$STATUS" = "$want" ] || fail "$1 $2: status $STATUS, want $want: $BODY"
}

# json_get FIELD: reads a field of the JSON on stdin (a dotted path; numbers index arrays).
json_get() {
    python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if not isinstance(v, (dict, list, bool)) else json.dumps(v))' "$1"
}

# ---- component credentials (docs/api/operator.md, /v1/components) --------------------

# component NAME KIND [POOL BROKER_ID]: the credential of component NAME, made through the
# operator API the first time and kept in $T/NAME.credential; sets CREDENTIAL.
component() {
    local f="$T/$1.credential"
    if [ ! -s "$f" ]; then
        api POST /v1/components "{\"name\": \"$1\", \"kind\": \"$2\"${3:+, \"pool\": \"$3\", \"broker_id\": $4}}" >/dev/null
        [ "$STATUS" = 201 ] || fail "component $1: status $STATUS: $BODY"
        printf '%s' "$BODY" | json_get credential >"$f"
    fi
    CREDENTIAL=$(cat "$f")
}

# tools_credential: a tool credential "tests" and, for kcat, kclient, kadmin and kprobe,
# $T/kafka.conf with its SASL settings; exports KCAT_CONFIG. Managed brokers authenticate
# every client (internal_auth=auto); a test that also runs an open broker unsets
# KCAT_CONFIG for the commands it sends there.
tools_credential() {
    component tests tool
    printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=SCRAM-SHA-256\nsasl.username=tests\nsasl.password=%s\n' \
        "$CREDENTIAL" >"$T/kafka.conf"
    export KCAT_CONFIG="$T/kafka.conf"
}

# managed_broker_start N [--flag=value ...]: broker N of pool default (which must exist),
# managed by the control plane at $CP with its own credential (broker-N), lease 3 s;
# makes the tools' credential first (tools_credential). As broker_start otherwise.
managed_broker_start() {
    local n=$1
    shift
    [ -s "$T/kafka.conf" ] || tools_credential
    component "broker-$n" broker default "$n"
    BROKER_CREDENTIAL=$CREDENTIAL broker_start --node_id="$n" --database_url="$PG_URL" \
        --lease_ms=3000 --control_plane_url="http://$CP" "$@"
}

# More brokers of pool default beside the first (managed_broker_start): broker N (2, 3, ...)
# keeps its ports across restarts and its data in $T/dataN, its log in $T/brokerN.log.
declare -A PB_PID=() PB_K=() PB_A=()

# pool_broker_start N [--flag=value ...]: starts broker N, managed, with its own credential
# (broker-N); waits for /readyz. Its Kafka address is $(pool_broker_addr N).
pool_broker_start() {
    local n=$1
    shift
    : "${PB_K[$n]:=$(free_port)}"
    : "${PB_A[$n]:=$(free_port)}"
    [ -s "$T/kafka.conf" ] || tools_credential
    component "broker-$n" broker default "$n"
    BROKER_CREDENTIAL=$CREDENTIAL "$BIN/streamd-broker" --node_id="$n" \
        --listen="127.0.0.1:${PB_K[$n]}" --admin_listen="127.0.0.1:${PB_A[$n]}" \
        --data_dir="$T/data$n" --database_url="$PG_URL" --lease_ms=3000 \
        --control_plane_url="http://$CP" --retention_check_ms=200 "$@" >>"$T/broker$n.log" 2>&1 &
    PB_PID[$n]=$!
    wait_ready "http://127.0.0.1:${PB_A[$n]}/readyz" "${PB_PID[$n]}" "broker $n"
}
pool_broker_addr() { echo "127.0.0.1:${PB_K[$1]}"; }
# pool_broker_dir N: broker N's data directory (broker 1 is managed_broker_start's, $T/data).
pool_broker_dir() { [ "$1" = 1 ] && echo "$T/data" || echo "$T/data$1"; }

# three_brokers: pool default, tenant acme, and managed brokers 1, 2 and 3, all up.
three_brokers() {
    expect_status 201 POST /v1/pools '{"name": "default"}'
    expect_status 201 POST /v1/tenants '{"name": "acme"}'
    managed_broker_start 1
    pool_broker_start 2
    pool_broker_start 3
    brokers_up() { [ "$(psql_q "SELECT count(*) FROM brokers WHERE state = 'up'")" = 3 ]; }
    wait_for 10 "three brokers up" brokers_up
}

# replicas_same TOPIC PARTITION LEADER [END]: true when brokers 1, 2 and 3 hold the same
# batches of TOPIC/PARTITION as LEADER (offsets, leader epochs, CRCs: tests/lib/batches.py),
# through offset END when given, else through the leader's last batch.
replicas_same() {
    local want b
    want=$(python3 "$TEST_LIB/batches.py" "$(pool_broker_dir "$3")/topics/$1/$2" ${4:+"$4"})
    for b in 1 2 3; do
        [ "$(python3 "$TEST_LIB/batches.py" "$(pool_broker_dir "$b")/topics/$1/$2" ${4:+"$4"})" = "$want" ] ||
            return 1
    done
}
pool_broker_admin() { echo "127.0.0.1:${PB_A[$1]}"; }

# pool_broker_stop N: SIGTERM, and a clean exit; pool_broker_kill N: SIGKILL.
pool_broker_stop() {
    local pid=${PB_PID[$1]}
    PB_PID[$1]=
    stop_daemon "$pid" "broker $1"
}
pool_broker_kill() {
    kill -9 "${PB_PID[$1]}"
    wait "${PB_PID[$1]}" 2>/dev/null || true
    PB_PID[$1]=
}

# ---- the gateway ----------------------------------------------------------------------

GW_PID=

# gw_start [--flag=value ...]: the gateway on free ports (HTTP and, with a self-signed
# certificate made here, HTTPS; gRPC plaintext and TLS) against $PG_URL and the control
# plane at $CP; waits for /readyz. Sets GW (host:port), GWS (host:port of TLS), GRPC and
# GRPCS (the gRPC listeners), GWADMIN (the admin listener: /readyz, /metrics) and GW_CERT.
# The gateway authenticates to brokers as component gateway-1 (made once), unless
# GATEWAY_CREDENTIAL is set, even empty (no credential).
gw_start() {
    local cred
    if [ -n "${GATEWAY_CREDENTIAL+set}" ]; then
        cred=$GATEWAY_CREDENTIAL
    else
        component gateway-1 gateway
        cred=$CREDENTIAL
    fi
    : "${GWPORT:=$(free_port)}"
    : "${GWSPORT:=$(free_port)}"
    : "${GRPCPORT:=$(free_port)}"
    : "${GRPCSPORT:=$(free_port)}"
    : "${GWADMINPORT:=$(free_port)}"
    GW="127.0.0.1:$GWPORT"
    GWADMIN="127.0.0.1:$GWADMINPORT"
    GWS="127.0.0.1:$GWSPORT"
    GRPC="127.0.0.1:$GRPCPORT"
    GRPCS="127.0.0.1:$GRPCSPORT"
    GW_CERT="$T/gw-cert.pem"
    if [ ! -f "$GW_CERT" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/gw-key.pem" -out "$GW_CERT" \
            -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
            >/dev/null 2>&1 || fail "cannot make a certificate"
    fi
    GATEWAY_CREDENTIAL=$cred GATEWAY_CONTROL_PLANE_TOKEN=$OPTOKEN "$BIN/streamd-gateway" \
        --listen="$GW" --admin_listen="$GWADMIN" \
        --tls_listen="$GWS" --tls_cert="$GW_CERT" --tls_key="$T/gw-key.pem" \
        --grpc_listen="$GRPC" --grpc_tls_listen="$GRPCS" \
        --database_url="$PG_URL" --control_plane_url="http://$CP" "$@" >>"$T/gateway.log" 2>&1 &
    GW_PID=$!
    wait_ready "http://$GWADMIN/readyz" "$GW_PID" gateway
}

# gw_stop: SIGTERM; the exit status must be 0.
gw_stop() {
    local pid=$GW_PID
    GW_PID=
    stop_daemon "$pid" gateway
}
