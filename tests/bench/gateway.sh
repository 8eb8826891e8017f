#!/usr/bin/env bash
# The gateway's benchmarks (part of `make bench`, or alone: tests/bench/gateway.sh
# BUILD_DIR), through the gateway to a managed broker, every produce acknowledged with
# acks=-1 (fsynced before the ack). REST, with h2load over HTTP/2 (h2c):
#
#   batched produce   100 records of 100 bytes per request
#   single produce    one record of 100 bytes per request; p50/p99/p999 from h2load's log
#   consume           GET .../partitions/{p}/records from offset 0, 1 MiB per answer
#
# gRPC, with bench-grpc (tests/bench/bench_grpc.c, on grpc core):
#
#   grpc-produce      ProduceStream, GW_GRPC_RECORDS (5,000,000) records of 100 bytes,
#                     GW_GRPC_BATCH (1000) per message, GW_GRPC_STREAMS (1) streams
#   grpc-consume      Consume streams, one per partition, reading all of it from offset 0
#
# Environment: GW_SECS (seconds per test, default 10), GW_CONNS and GW_STREAMS (h2load -c and
# -m for the throughput tests: 16 x 16 in flight), GW_SINGLE_CONNS and GW_SINGLE_STREAMS (the
# single-record test, a latency test at a fixed concurrency: 16 x 4), GW_PARTITIONS (6),
# GW_THREADS (gateway threads, 0: one per core), GW_H2LOAD_THREADS (h2load -t, 2), GW_ONLY
# (a subset of "produce-batch produce-single consume").
set -euo pipefail
build=${1:?build dir}
top=$(cd "$(dirname "$0")/../.." && pwd)
export BIN="$top/$build/bin"
SECS=${GW_SECS:-10}
CONNS=${GW_CONNS:-16}
STREAMS=${GW_STREAMS:-16}
SINGLE_CONNS=${GW_SINGLE_CONNS:-16}
SINGLE_STREAMS=${GW_SINGLE_STREAMS:-4}
ONLY=${GW_ONLY:-produce-batch produce-single consume grpc-produce grpc-consume}
H2LOAD_THREADS=${GW_H2LOAD_THREADS:-2}
PARTS=${GW_PARTITIONS:-6}
. "$top/tests/lib/harness.sh"
. "$top/tests/lib/gateway.sh"
command -v h2load >/dev/null || fail "h2load is missing (Debian package nghttp2-client)"

pg_start >/dev/null
cp_start
expect_status 201 POST /v1/pools '{"name": "default"}'
gw_tenant bench
managed_broker_start 1 --log_level=warn
gw_start --threads="${GW_THREADS:-0}" --log_level=warn
gw_cluster bench
base="http://$GW/kafka/v3/clusters/${CLUSTER[bench]}/topics"
expect_rest 201 bench h1 POST "/kafka/v3/clusters/${CLUSTER[bench]}/topics" \
    "{\"topic_name\": \"bench\", \"partitions_count\": $PARTS}"

python3 - "$T" <<'PY'
import base64, json, sys
v = base64.b64encode(b"r" * 100).decode()
one = json.dumps({"value": {"type": "BINARY", "data": v}})
open(sys.argv[1] + "/one.json", "w").write(one)
open(sys.argv[1] + "/batch.json", "w").write("\n".join([one] * 100))
PY

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# h2 LABEL RECORDS_PER_REQUEST CONNS STREAMS h2load-args...: runs h2load for SECS, prints one
# line. RECORDS_PER_REQUEST "bytes:N" counts records from the body bytes h2load received,
# N bytes of answer per record (consume answers may hold fewer records than asked for).
h2() {
    local label=$1 per=$2 conns=$3 streams=$4
    shift 4
    local log="$T/$label.log"
    h2load -D "$SECS" -c "$conns" -m "$streams" -t "$H2LOAD_THREADS" --log-file="$log" \
        -H "Authorization: ${AUTH[bench]}" -H 'Content-Type: application/json' "$@" \
        >"$T/$label.out" 2>&1 || { cat "$T/$label.out"; fail "h2load failed"; }
    python3 - "$label" "$per" "$log" "$T/$label.out" "$GW_PID" "$BROKER_PID" <<'PY'
import re, sys
label, per, log, out, gw, bk = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], *sys.argv[5:7]
rows = [l.split("\t") for l in open(log) if l.strip()]
ok = [int(r[2]) for r in rows if r[1] in ("200", "201")]
bad = len(rows) - len(ok)
t0 = min(int(r[0]) for r in rows)
t1 = max(int(r[0]) + int(r[2]) for r in rows)
secs = (t1 - t0) / 1e6
if per.startswith("bytes:"):
    # "traffic: 2.00GB (2147483648) total, 1.2MB (1258291) headers (...), 2.0GB (...) data"
    data = int(re.search(r"\((\d+)\) data", open(out).read()).group(1))
    records = data / float(per[6:])
else:
    records = len(ok) * int(per)
ok.sort()
pct = lambda q: ok[min(len(ok) - 1, int(q * len(ok)))] / 1000 if ok else 0
def rss(pid):
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) // 1024
print("%-15s %9.0f req/s %12.0f records/s %8.1f MB/s  p50 %6.2f ms  p99 %6.2f ms  p999 %6.2f ms"
      "  errors %d  gateway RSS %d MiB  broker RSS %d MiB"
      % (label, len(ok) / secs, records / secs, records * 100 / secs / 1e6,
         pct(0.5), pct(0.99), pct(0.999), bad, rss(gw), rss(bk)))
PY
}

echo "# gateway: $(nproc) cores; h2load over h2c for $SECS s per test; $PARTS partitions; acks=-1"
echo "# produce-batch and consume: -c $CONNS -m $STREAMS; produce-single: -c $SINGLE_CONNS -m $SINGLE_STREAMS"
want produce-batch && h2 produce-batch 100 "$CONNS" "$STREAMS" -d "$T/batch.json" "$base/bench/records"
want produce-single && h2 produce-single 1 "$SINGLE_CONNS" "$SINGLE_STREAMS" -d "$T/one.json" "$base/bench/records"
if want consume; then
    # Enough records to read, then how many one 1 MiB answer holds; then that read, again
    # and again.
    want produce-batch || h2 fill 100 "$CONNS" "$STREAMS" -n 2000 -d "$T/batch.json" "$base/bench/records" >/dev/null
    curl -s -H "Authorization: ${AUTH[bench]}" -o "$T/answer.json" \
        "$base/bench/partitions/0/records?offset=0&max_bytes=1048576"
    per=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["records"]))' "$T/answer.json")
    [ "$per" -gt 0 ] || fail "nothing to consume"
    # The answer's bytes per record: the gateway may cut answers short under load.
    per=bytes:$(python3 -c 'import os,sys; print(os.path.getsize(sys.argv[1]) / int(sys.argv[2]))' \
        "$T/answer.json" "$per")
    h2 consume "$per" "$CONNS" "$STREAMS" "$base/bench/partitions/0/records?offset=0&max_bytes=1048576"
    echo "# consume answers cut short: $(curl -s "http://$GWADMIN/metrics" | awk '$1 == "streamd_gateway_consume_cut_total" { print $2 }')"
fi
grpc_bench() {
    BENCH_AUTH="${AUTH[bench]}" BENCH_BATCH=${GW_GRPC_BATCH:-1000} BENCH_STREAMS=${GW_GRPC_STREAMS:-1} \
        "$BIN/bench-grpc" --addr "$GRPC" --target bench --partitions "$PARTS" --server-pid "$GW_PID" \
        --size 100 --records "${GW_GRPC_RECORDS:-5000000}" "$@" || fail "bench-grpc $*"
}
want grpc-produce && grpc_bench --test produce
if want grpc-consume; then
    want grpc-produce || grpc_bench --test produce >/dev/null
    grpc_bench --test consume
fi
gw_stop
broker_stop
