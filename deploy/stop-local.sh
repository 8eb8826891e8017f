#!/usr/bin/env bash
# `make stop`: stops the local stack started by `make run` (SIGTERM, clean shutdown).
set -euo pipefail
pidfile="$(cd "$(dirname "$0")/.." && pwd)/var/broker-1.pid"
if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "stop-local: no local broker is running"
    rm -f "$pidfile"
    exit 0
fi
pid=$(cat "$pidfile")
kill -TERM "$pid"
for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { echo "stop-local: broker stopped"; exit 0; }
    sleep 0.1
done
echo "stop-local: the broker did not stop within 10 s (pid $pid)" >&2
exit 1
