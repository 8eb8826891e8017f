#!/usr/bin/env bash
# A throttled tenant must not cost the others (issue 16, finding 12). Tenant B produces
# single records at a fixed rate, alone and then while tenant A, far over its byte quota,
# hammers the gateway ignoring Retry-After. The target: B's throughput >= 0.95x and its mean
# and p99 latency <= 1.5x its solo figures. Part of `make bench`, or alone:
# tests/bench/throttle.sh BUILD_DIR.
#
# Environment: TH_SECS (seconds per run, 10), TH_B_CONNS x TH_B_RPS (B's connections and
# requests/s each: 4 x 500 = 2,000 req/s), TH_A_CONNS x TH_A_STREAMS (A's load, 16 x 16 over
# h2c, no rate limit), TH_A_PROTO (h2c or h1: A's protocol; B always uses HTTP/1.1).
set -euo pipefail
build=${1:?build dir}
top=$(cd "$(dirname "$0")/../.." && pwd)
export BIN="$top/$build/bin"
SECS=${TH_SECS:-10}
B_CONNS=${TH_B_CONNS:-4}
B_RPS=${TH_B_RPS:-500}
A_CONNS=${TH_A_CONNS:-16}
A_STREAMS=${TH_A_STREAMS:-16}
A_PROTO=${TH_A_PROTO:-h2c}
. "$top/tests/lib/harness.sh"
. "$top/tests/lib/gateway.sh"
command -v h2load >/dev/null || fail "h2load is missing (Debian package nghttp2-client)"

pg_start >/dev/null
cp_start
expect_status 201 POST /v1/pools '{"name": "default"}'
gw_tenant ta
gw_tenant tb
expect_status 200 PUT /v1/tenants/ta/quotas '{"produce_bytes_per_sec": 10000}'
managed_broker_start 1 --log_level=warn
gw_start --log_level=warn
for t in ta tb; do
    gw_cluster $t
    expect_rest 201 $t h1 POST "/kafka/v3/clusters/${CLUSTER[$t]}/topics" '{"topic_name": "t", "partitions_count": 6}'
done
python3 -c 'import base64, json; print(json.dumps({"value": {"type": "BINARY", "data": base64.b64encode(b"r" * 100).decode()}}))' >"$T/one.json"
python3 -c 'import base64, json; one = json.dumps({"value": {"type": "BINARY", "data": base64.b64encode(b"r" * 100).decode()}}); print("\n".join([one] * 100))' >"$T/batch.json"

# b_run LABEL: B's fixed-rate load for SECS; prints its figures.
b_run() {
    h2load --h1 -D "$SECS" -c "$B_CONNS" -m 1 --rps "$B_RPS" --log-file="$T/$1.log" \
        -H "Authorization: ${AUTH[tb]}" -H 'Content-Type: application/json' -d "$T/one.json" \
        "http://$GW/kafka/v3/clusters/${CLUSTER[tb]}/topics/t/records" >"$T/$1.out" 2>&1 ||
        { cat "$T/$1.out"; fail "h2load failed"; }
    python3 - "$1" "$T/$1.log" "$SECS" <<'PY'
import sys
label, log, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [l.split("\t") for l in open(log) if l.strip()]
ok = sorted(int(r[2]) for r in rows if r[1] == "200")
pct = lambda q: ok[min(len(ok) - 1, int(q * len(ok)))] / 1000
print("%-12s B: %7.0f req/s  mean %6.2f ms  p50 %6.2f ms  p99 %6.2f ms  errors %d"
      % (label, len(ok) / secs, sum(ok) / len(ok) / 1000, pct(0.5), pct(0.99), len(rows) - len(ok)))
PY
}

echo "# throttle: $(nproc) cores; B at $B_CONNS x $B_RPS req/s (HTTP/1.1, one record a request) for $SECS s"
b_run solo
mode=(); [ "$A_PROTO" = h1 ] && mode=(--h1)
h2load "${mode[@]}" -D $((SECS + 4)) -c "$A_CONNS" -m "$A_STREAMS" --log-file="$T/a.log" \
    -H "Authorization: ${AUTH[ta]}" -H 'Content-Type: application/json' -d "$T/batch.json" \
    "http://$GW/kafka/v3/clusters/${CLUSTER[ta]}/topics/t/records" >"$T/a.out" 2>&1 &
a_pid=$!
throttled() { [ "$(curl -s "http://$GWADMIN/metrics" | awk '$1 == "streamd_gateway_tenant_throttled_total{tenant=\"ta\"}" { print $2 }')" -gt 0 ] 2>/dev/null; }
wait_for 30 "A is throttled" throttled
b_run "with-A-$A_PROTO"
wait "$a_pid" || true
python3 - "$T/a.log" "$((SECS + 4))" <<'PY'
import collections, sys
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
by = collections.Counter(r[1] for r in rows)
print("             A: %d answers in %s s (%s)" % (len(rows), sys.argv[2], ", ".join("%s: %d" % kv for kv in sorted(by.items()))))
PY
echo "# connections muted: $(curl -s "http://$GWADMIN/metrics" | awk '$1 == "streamd_gateway_connections_muted_total" { print $2 }')"
gw_stop
broker_stop
