#!/usr/bin/env bash
# The local stack behind `make run`: one broker with its data under var/, in the
# foreground. Ctrl-C (or `make stop` from another terminal) stops it cleanly; running it
# again reuses the data.
#
#   deploy/run-local.sh [BIN_DIR]        (default build/release/bin)
#
# Environment: BROKER_* variables configure the broker (see `streamd-broker --help`).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$top/build/release/bin}
var="$top/var"
mkdir -p "$var"
pidfile="$var/broker-1.pid"

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "run-local: a broker is already running (pid $(cat "$pidfile")); stop it with 'make stop'" >&2
    exit 1
fi

listen=${BROKER_LISTEN:-127.0.0.1:19092}
admin=${BROKER_ADMIN_LISTEN:-127.0.0.1:19192}
"$bin/streamd-broker" --data_dir="$var/broker-1" --listen="$listen" --admin_listen="$admin" \
    >>"$var/broker-1.log" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"
stop() {
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}
trap 'echo; echo "stopping the broker"; stop; exit 0' INT TERM

for _ in $(seq 1 100); do
    curl -sf "http://$admin/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "run-local: the broker exited; see $var/broker-1.log" >&2; tail -5 "$var/broker-1.log" >&2; exit 1; }
    sleep 0.1
done
# A first topic, so that a Kafka client works at once.
"$bin/kadmin" -b "$listen" create demo 3 >/dev/null 2>&1 || true

cat <<MSG

streamd local stack is up.

  broker (Kafka protocol)   $listen
  admin (health, metrics)   http://$admin/healthz  /readyz  /metrics
  data and logs             $var/broker-1/  $var/broker-1.log
  topic ready to use        demo (3 partitions)

Try it:
  echo 'hello' | kcat -P -b $listen -t demo
  kcat -C -b $listen -t demo -e
  $bin/kadmin -b $listen create orders 6 retention.ms=86400000

Ctrl-C or 'make stop' stops it; 'make run' again reuses the data.
MSG

# Wait for the broker (wait is interrupted by the trap on Ctrl-C).
rc=0
wait "$pid" || rc=$?
rm -f "$pidfile"
[ $rc -eq 0 ] || echo "run-local: the broker exited with status $rc; see $var/broker-1.log" >&2
exit $rc
