#!/usr/bin/env bash
# `make stop`: stops the local stack started by `make run`. The run script's own process
# is the first pid in var/run.pids; SIGTERM makes it stop every daemon cleanly (brokers,
# control plane, then Postgres).
set -euo pipefail
pidfile="$(cd "$(dirname "$0")/.." && pwd)/var/run.pids"
if [ ! -f "$pidfile" ] || ! kill -0 "$(head -n 1 "$pidfile")" 2>/dev/null; then
    echo "stop-local: the local stack is not running"
    rm -f "$pidfile"
    exit 0
fi
pid=$(head -n 1 "$pidfile")
kill -TERM "$pid"
for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { echo "stop-local: stopped"; exit 0; }
    sleep 0.1
done
echo "stop-local: the stack did not stop within 30 s (pid $pid)" >&2
exit 1
