#!/usr/bin/env bash
# The local stack behind `make run`, in the foreground, everything under var/:
#
#   Postgres     var/pg/ on 127.0.0.1:55432 (a private cluster, run as the postgres user
#                when started as root), unless STREAMD_DATABASE_URL names another database
#   control plane  operator API on 127.0.0.1:8090
#   brokers      pool "default": broker N on 127.0.0.1:19092+N-1 (BROKERS=3 for three)
#   gateway      tenant REST API on http://127.0.0.1:8080 and https://127.0.0.1:8443 (a
#                self-signed certificate in var/tls/ unless GATEWAY_TLS_CERT/KEY are set)
#   a tenant     "demo" with an API key and a topic "orders" (3 partitions), made on the
#                first run and kept in var/
#
# Ctrl-C (or `make stop` from another terminal) stops everything cleanly; running it again
# reuses the data.
#
#   deploy/run-local.sh [BIN_DIR]        (default build/release/bin)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$top/build/release/bin}
var="$top/var"
brokers=${BROKERS:-1}
mkdir -p "$var"
pids=()

die() { echo "run-local: $*" >&2; stop_all; exit 1; }

stop_all() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    pids=()
    [ -z "${pg_started:-}" ] || pg_as "$pg_bin/pg_ctl" -D "$var/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -f "$var/run.pids"
}

if [ -f "$var/run.pids" ] && kill -0 "$(head -n 1 "$var/run.pids")" 2>/dev/null; then
    echo "run-local: the local stack is already running; stop it with 'make stop'" >&2
    exit 1
fi
echo $$ >"$var/run.pids"

pg_as() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# ---- Postgres ----
db_url=${STREAMD_DATABASE_URL:-}
if [ -z "$db_url" ]; then
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$pg_bin" ] || die "no Postgres server under /usr/lib/postgresql (run deploy/deps.sh run)"
    mkdir -p "$var/pg"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$var/pg"
        runuser -u postgres -- test -x "$var/pg" ||
            die "the postgres user cannot reach $var/pg; move the checkout where others may traverse, or set STREAMD_DATABASE_URL"
    fi
    if [ ! -f "$var/pg/data/PG_VERSION" ]; then
        echo "run-local: creating the private Postgres cluster in $var/pg"
        pg_as "$pg_bin/initdb" -D "$var/pg/data" -U streamd -A trust -E UTF8 >"$var/pg/initdb.log" 2>&1 ||
            die "initdb failed; see $var/pg/initdb.log"
    fi
    pg_as "$pg_bin/pg_ctl" -D "$var/pg/data" -l "$var/pg/server.log" -w -t 30 \
        -o "-p 55432 -k $var/pg -c listen_addresses=127.0.0.1" start >/dev/null ||
        die "Postgres did not start; see $var/pg/server.log"
    pg_started=1
    psql -X -qAt -h 127.0.0.1 -p 55432 -U streamd -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'streamd'" | grep -q 1 ||
        psql -X -q -h 127.0.0.1 -p 55432 -U streamd -d postgres -c 'CREATE DATABASE streamd' ||
        die "cannot create the database"
    db_url=postgresql://streamd@127.0.0.1:55432/streamd
fi
trap 'echo; echo "stopping the local stack"; stop_all; exit 0' INT TERM
trap 'echo "run-local: failed at line $LINENO; stopping what started" >&2; stop_all; exit 1' ERR

# ---- control plane ----
# Operator credentials for people and scripts, and for the gateway; each broker gets a
# component credential of its own below, scoped to its pool (docs/api/operator.md).
for f in operator-token gateway-token; do
    [ -s "$var/$f" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$var/$f")
done
token=$(cat "$var/operator-token")
cp_addr=127.0.0.1:8090
CP_OPERATOR_TOKENS="admin=$token,gateway=$(cat "$var/gateway-token")" \
    "$bin/streamd-control-plane" --listen="$cp_addr" \
    --database_url="$db_url" >>"$var/control-plane.log" 2>&1 &
pids+=($!)
echo $! >>"$var/run.pids"
ready=
for _ in $(seq 1 100); do
    curl -sf "http://$cp_addr/readyz" >/dev/null 2>&1 && { ready=1; break; }
    kill -0 "${pids[0]}" 2>/dev/null || die "the control plane exited; see $var/control-plane.log"
    sleep 0.1
done
[ -n "$ready" ] || die "the control plane is not ready after 10 s; see $var/control-plane.log"
api() { curl -s -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' ${3:+-d "$3"} "http://$cp_addr$2"; }
api POST /v1/pools '{"name":"default"}' >/dev/null

# ---- component credentials ----
# credential NAME KIND [BROKER_ID]: the component credential of NAME (docs/api/operator.md),
# made once and kept in var/NAME.credential (0600); a broker's is scoped to pool default.
# If the file is gone but the component exists, that one is revoked and a new name issued.
credential() {
    local f="$var/$1.credential" name=$1 out
    if [ ! -s "$f" ]; then
        body() { echo "{\"name\":\"$1\",\"kind\":\"$2\"${3:+,\"pool\":\"default\",\"broker_id\":$3}}"; }
        out=$(api POST /v1/components "$(body "$name" "$2" "${3:-}")")
        if [[ "$out" != *'"credential"'* ]]; then
            api DELETE "/v1/components/$name" >/dev/null
            name="$1-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
            out=$(api POST /v1/components "$(body "$name" "$2" "${3:-}")")
        fi
        (umask 077 && printf '%s' "$out" | sed -n 's/.*"credential" *: *"\([^"]*\)".*/\1/p' >"$f")
        [ -s "$f" ] || die "cannot make $1's credential: $out"
    fi
    cat "$f"
}
# The brokers authenticate every client of their Kafka listener (internal_auth=auto on a
# managed broker): kcat and other tools for operators use the credential of "ops".
if [ ! -s "$var/kafka-ops.conf" ] || [ ! -s "$var/ops.credential" ]; then
    ops=$(credential ops tool)
    (umask 077 && printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=SCRAM-SHA-256\nsasl.username=%s\nsasl.password=%s\n' \
        "${ops%%.*}" "$ops" >"$var/kafka-ops.conf")
fi

# ---- brokers ----
for n in $(seq 1 "$brokers"); do
    port=$((19092 + n - 1)) admin=$((19192 + n - 1))
    BROKER_CREDENTIAL=$(credential "broker-$n" broker "$n") \
        "$bin/streamd-broker" --node_id="$n" --data_dir="$var/broker-$n" --listen="127.0.0.1:$port" \
        --admin_listen="127.0.0.1:$admin" --database_url="$db_url" --pool=default \
        --control_plane_url="http://$cp_addr" >>"$var/broker-$n.log" 2>&1 &
    pids+=($!)
    echo $! >>"$var/run.pids"
done
# Every broker registered with the control plane (its lease is up) before any placement.
for _ in $(seq 1 100); do
    up=$(api GET /v1/brokers | grep -o '"state" *: *"up"' | wc -l || true)
    [ "$up" -ge "$brokers" ] && break
    sleep 0.1
done
[ "$up" -ge "$brokers" ] || die "only $up of $brokers brokers registered after 10 s; see $var/broker-*.log"

# ---- a first tenant (once; each step again until it holds) ----
status() { curl -s -o /dev/null -w '%{http_code}' -X "$1" -H "Authorization: Bearer $token" ${3:+-d "$3"} "http://$cp_addr$2"; }
case $(status GET /v1/tenants/demo) in
200) ;;
404) [ "$(status POST /v1/tenants '{"name":"demo"}')" = 201 ] || die "cannot create tenant demo" ;;
*) die "the control plane does not answer; see $var/control-plane.log" ;;
esac
if [ ! -s "$var/demo-api-key.json" ]; then
    (umask 077 && api POST /v1/tenants/demo/api-keys '{"description":"made by make run"}' >"$var/demo-api-key.json.tmp")
    grep -q '"secret"' "$var/demo-api-key.json.tmp" || die "cannot create demo's API key: $(cat "$var/demo-api-key.json.tmp")"
    mv "$var/demo-api-key.json.tmp" "$var/demo-api-key.json"
fi
if [ "$(status GET /v1/tenants/demo/topics/orders)" = 404 ]; then
    [ "$(status POST /v1/tenants/demo/topics '{"name":"orders","partitions":3}')" = 201 ] ||
        die "cannot create topic orders; see $var/control-plane.log"
fi
# ---- gateway ----
tls_cert=${GATEWAY_TLS_CERT:-$var/tls/gateway-cert.pem}
tls_key=${GATEWAY_TLS_KEY:-$var/tls/gateway-key.pem}
if [ ! -s "$tls_cert" ] || [ ! -s "$tls_key" ]; then
    mkdir -p "$var/tls"
    (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls_key" -out "$tls_cert" \
        -days 365 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
        >"$var/tls/openssl.log" 2>&1) || die "cannot make a TLS certificate; see $var/tls/openssl.log"
fi
GATEWAY_CREDENTIAL=$(credential gateway-1 gateway) GATEWAY_CONTROL_PLANE_TOKEN=$(cat "$var/gateway-token") \
    "$bin/streamd-gateway" --listen=127.0.0.1:8080 --admin_listen=127.0.0.1:8081 --tls_listen=127.0.0.1:8443 \
    --grpc_listen=127.0.0.1:9090 --grpc_tls_listen=127.0.0.1:9443 \
    --tls_cert="$tls_cert" --tls_key="$tls_key" --database_url="$db_url" \
    --control_plane_url="http://$cp_addr" >>"$var/gateway.log" 2>&1 &
pids+=($!)
echo $! >>"$var/run.pids"
ready=
for _ in $(seq 1 100); do
    curl -sf http://127.0.0.1:8081/readyz >/dev/null 2>&1 && { ready=1; break; }
    kill -0 "${pids[-1]}" 2>/dev/null || die "the gateway exited; see $var/gateway.log"
    sleep 0.1
done
[ -n "$ready" ] || die "the gateway is not ready after 10 s; see $var/gateway.log"

key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$var/demo-api-key.json" 2>/dev/null || echo "?")
secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$var/demo-api-key.json" 2>/dev/null || echo "?")

cat <<MSG

streamd local stack is up.

  control plane (operator API)  http://$cp_addr     token: $token
  brokers (Kafka, internal)     $(for n in $(seq 1 "$brokers"); do printf '127.0.0.1:%d ' $((19092 + n - 1)); done)
                                SASL/SCRAM-SHA-256: kcat -F $var/kafka-ops.conf
  Postgres                      $db_url
  data and logs                 $var/

  tenant "demo"                 API key $key
                                secret  $secret
  topic                         demo.orders inside the brokers (3 partitions)

  gateway (tenant REST API)     http://127.0.0.1:8080   https://127.0.0.1:8443 (cert $tls_cert)
  gateway (tenant gRPC API)     127.0.0.1:9090 (plaintext)   127.0.0.1:9443 (TLS)
                                proto/streaming/v1/streaming.proto
  gateway (operators)           http://127.0.0.1:8081/metrics, /healthz, /readyz

Try it:
  cluster=\$(curl -s -u $key:$secret http://127.0.0.1:8080/kafka/v3/clusters | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["cluster_id"])')
  curl -u $key:$secret -d '{"partition_id": 0, "value": {"type": "STRING", "data": "hello"}}' http://127.0.0.1:8080/kafka/v3/clusters/\$cluster/topics/orders/records
  curl -u $key:$secret "http://127.0.0.1:8080/kafka/v3/clusters/\$cluster/topics/orders/partitions/0/records?offset=0&format=string"
  export STREAMD_TOKEN=$token
  curl -H "Authorization: Bearer \$STREAMD_TOKEN" -d '{"name":"payments","partitions":6}' http://$cp_addr/v1/tenants/demo/topics
  echo hello | kcat -F $var/kafka-ops.conf -P -b 127.0.0.1:19092 -t demo.orders
  kcat -F $var/kafka-ops.conf -C -b 127.0.0.1:19092 -t demo.orders -e
  curl -H "Authorization: Bearer \$STREAMD_TOKEN" http://$cp_addr/v1/tenants/demo/topics

Ctrl-C or 'make stop' stops it; 'make run' again reuses the data.
MSG

# Wait until a daemon exits (or the trap fires on Ctrl-C / make stop).
rc=0
wait -n "${pids[@]}" || rc=$?
echo "run-local: a daemon exited (status $rc); stopping the rest; see $var/*.log" >&2
stop_all
exit 1
