#!/usr/bin/env bash
# The gateway's REST API end to end, for two tenants, over HTTP/1.1, h2c and h2 over TLS:
# create a topic, produce a batch (string, JSON and binary data, headers), read it back by
# offset and find the same bytes; another tenant's credentials reach none of it; wrong
# credentials get 401. A gateway short of answer memory cuts consume answers, and reading
# on from next_offset still gets every record once.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start

step "a pool, a managed broker, two tenants with API keys, the gateway"
gw_stack acme globex
[ "${CLUSTER[acme]}" != "${CLUSTER[globex]}" ] || fail "two tenants share a cluster id"

RECORDS='{"partition_id": 0, "key": {"type": "STRING", "data": "k-1"}, "value": {"type": "JSON", "data": {"n": 1, "s": "é"}}, "headers": [{"name": "trace", "value": "AAEC"}]}
{"partition_id": 0, "key": {"type": "BINARY", "data": "AP8="}, "value": {"type": "BINARY", "data": "aGVsbG8Ad29ybGQ="}}
{"partition_id": 0, "value": {"type": "STRING", "data": "third"}, "headers": [{"name": "a", "value": null}, {"name": "b", "value": "Yg=="}]}'

for t in acme globex; do
    for mode in h1 h2c tls; do
        step "$t over $mode: create, produce, consume"
        base="/kafka/v3/clusters/${CLUSTER[$t]}"
        expect_rest 201 $t $mode POST "$base/topics" \
            "{\"topic_name\": \"orders-$mode\", \"partitions_count\": 3}"
        want_proto=2
        [ $mode = h1 ] && want_proto=1.1
        [ "$PROTO" = "$want_proto" ] || fail "$mode used HTTP/$PROTO"
        [ "$(json_get partitions_count <"$T/last.json")" = 3 ] || fail "$(cat "$T/last.json")"
        expect_rest 200 $t $mode POST "$base/topics/orders-$mode/records" "$RECORDS"
        python3 - "$T/last.json" <<'PY' || fail "produce results: $(cat "$T/last.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 3, lines
assert [l["error_code"] for l in lines] == [200] * 3, lines
assert [l["offset"] for l in lines] == [0, 1, 2], lines
assert lines[0]["key"] == {"type": "STRING", "size": 3}, lines[0]
PY
        expect_rest 200 $t $mode GET "$base/topics/orders-$mode/partitions/0/records?offset=0"
        python3 - "$T/last.json" <<'PY' || fail "consumed: $(cat "$T/last.json")"
import base64, json, sys
d = json.load(open(sys.argv[1]))
r = d["records"]
b = lambda x: base64.b64decode(x["data"]) if x is not None else None
assert len(r) == 3 and d["next_offset"] == 3 and d["high_watermark"] == 3, d
assert [x["offset"] for x in r] == [0, 1, 2], r
assert b(r[0]["key"]) == b"k-1", r[0]
assert json.loads(b(r[0]["value"])) == {"n": 1, "s": "é"}, r[0]
assert r[0]["headers"] == [{"name": "trace", "value": "AAEC"}], r[0]
assert b(r[1]["key"]) == b"\x00\xff" and b(r[1]["value"]) == b"hello\x00world", r[1]
assert r[2]["key"] is None and b(r[2]["value"]) == b"third", r[2]
assert r[2]["headers"] == [{"name": "a", "value": None}, {"name": "b", "value": "Yg=="}], r[2]
PY
        expect_rest 200 $t $mode GET "$base/topics/orders-$mode/partitions/0/records?offset=2&format=string"
        [ "$(json_get records.0.value.data <"$T/last.json")" = third ] || fail "$(cat "$T/last.json")"
    done
done

step "the topics live in per-tenant namespaces inside the broker"
kcat -L -b "$BROKER" >"$T/kcat-L.txt" 2>&1
grep -q 'topic "acme.orders-h1"' "$T/kcat-L.txt" && grep -q 'topic "globex.orders-h1"' "$T/kcat-L.txt" ||
    fail "broker topics: $(cat "$T/kcat-L.txt")"

step "globex reaches nothing of acme's"
abase="/kafka/v3/clusters/${CLUSTER[acme]}"
gbase="/kafka/v3/clusters/${CLUSTER[globex]}"
expect_rest 404 globex h1 GET "$abase/topics"
expect_rest 404 globex h1 GET "$abase/topics/orders-h1"
expect_rest 404 globex h1 POST "$abase/topics/orders-h1/records" "$RECORDS"
expect_rest 404 globex h1 GET "$abase/topics/orders-h1/partitions/0/records?offset=0"
grep -q "${CLUSTER[acme]}" "$T/last.json" && fail "an error names acme's cluster: $(cat "$T/last.json")"
expect_rest 200 globex h1 GET "$gbase/topics"
python3 -c 'import json,sys; n=[t["topic_name"] for t in json.load(open(sys.argv[1]))["data"]]; assert n == ["orders-h1","orders-h2c","orders-tls"], n' \
    "$T/last.json" || fail "globex's topics: $(cat "$T/last.json")"

step "wrong or missing credentials: 401"
out=$(curl -s -o /dev/null -w '%{http_code}' -u "${KEY[acme]}:wrong-secret" "http://$GW$abase/topics")
[ "$out" = 401 ] || fail "wrong secret: $out"
out=$(curl -s -o /dev/null -w '%{http_code}' "http://$GW$abase/topics")
[ "$out" = 401 ] || fail "no credentials: $out"
out=$(curl -s -o /dev/null -w '%{http_code}' -u "${KEY[acme]}:${SECRET[globex]}" "http://$GW$abase/topics")
[ "$out" = 401 ] || fail "another tenant's secret: $out"

step "delete a topic"
expect_rest 204 acme h2c DELETE "$abase/topics/orders-h2c"
expect_rest 404 acme h2c GET "$abase/topics/orders-h2c"

step "a gateway short of answer memory cuts consume answers; next_offset goes on exactly"
gw_stop
gw_start --threads=1 --answer_buffer_bytes=1048576

step "a long poll holds no other call of its thread up"
# One thread: the long polls and the produces share its connection to the broker, unless
# long polls get connections of their own.
expect_rest 201 acme h1 POST "$abase/topics" '{"topic_name": "quiet", "partitions_count": 1}'
# The broker learns of the topic from the control plane: until then a fetch of it fails
# at once instead of waiting.
broker_has_quiet() { "$BIN/kadmin" -b "$BROKER" offsets acme.quiet 0 latest >/dev/null 2>&1; }
wait_for 60 "the broker serves acme.quiet" broker_has_quiet
fetches() { metric 'streamd_broker_requests_total{api="Fetch"}'; }
fetches0=$(fetches)
polls=()
for i in 1 2 3; do
    curl -s -o "$T/poll-$i.json" -H "Authorization: ${AUTH[acme]}" \
        "http://$GW$abase/topics/quiet/partitions/0/records?offset=0&timeout_ms=30000" &
    polls+=($!)
done
# The broker counts a Fetch and parks it in one turn of the event loop that also serves
# /metrics: once the counter moved by 3, the three long polls are held at the broker.
polls_held() { [ "$(fetches)" -ge $((fetches0 + 3)) ]; }
wait_for 60 "the three long polls held at the broker" polls_held
expect_rest 200 acme h1 POST "$abase/topics/orders-h1/records" '{"value": {"type": "STRING", "data": "while polling"}}'
# Held up behind the polls, the produce would have been answered only once they ended
# (nothing arrives on quiet: at their 30 s timeout). They must still be waiting.
for p in "${polls[@]}"; do
    kill -0 "$p" 2>/dev/null || fail "a long poll ended before the produce was answered: the produce waited behind it"
done
# A record on quiet ends the polls, each with that record.
expect_rest 200 acme h1 POST "$abase/topics/quiet/records" '{"value": {"type": "STRING", "data": "wake up"}}'
for i in 1 2 3; do
    wait "${polls[$((i - 1))]}" || fail "long poll $i failed"
    python3 -c 'import base64, json, sys; r = json.load(open(sys.argv[1]))["records"]; assert [base64.b64decode(x["value"]["data"]) for x in r] == [b"wake up"], r' \
        "$T/poll-$i.json" || fail "long poll $i answered $(cat "$T/poll-$i.json")"
done
expect_rest 201 acme h1 POST "$abase/topics" '{"topic_name": "big", "partitions_count": 1}'
python3 - "$T" <<'PY'
import base64, json, os, sys
# Small records: their JSON is many times their size in the log, so a fetch that fits
# the room makes an answer that does not.
for i in range(4):
    with open("%s/big-%d.json" % (sys.argv[1], i), "w") as f:
        for j in range(2500):
            v = b"%06d" % (i * 2500 + j)  # named by its offset
            f.write(json.dumps({"value": {"type": "BINARY", "data": base64.b64encode(v).decode()}}) + "\n")
PY
for i in 0 1 2 3; do
    expect_rest 200 acme h1 POST "$abase/topics/big/records" "@$T/big-$i.json"
done
expect_rest 200 acme h2c GET "$abase/topics/big/partitions/0/records?offset=0&max_bytes=4194304"
python3 - "$T/last.json" <<'PY' || fail "a cut answer: $(head -c 300 "$T/last.json")"
import json, os, sys
d = json.load(open(sys.argv[1]))
n = len(d["records"])
assert 0 < n < 10000 and d["next_offset"] == n and d["high_watermark"] == 10000, (n, d["next_offset"])
assert os.path.getsize(sys.argv[1]) < (1 << 20) + 4096, os.path.getsize(sys.argv[1])
PY
cut=$(curl -s "http://$GWADMIN/metrics" | awk '$1 == "streamd_gateway_consume_cut_total" { print $2 }')
[ "${cut:-0}" -ge 1 ] || fail "consume_cut_total: $cut"
python3 - "$GW" "${AUTH[acme]}" "$abase/topics/big/partitions/0/records" <<'PY' || fail "reading on by next_offset"
import base64, json, sys, urllib.request
gw, auth, path = sys.argv[1:]
off, seen, answers = 0, [], 0
while off < 10000:
    req = urllib.request.Request("http://%s%s?offset=%d&max_bytes=4194304" % (gw, path, off),
                                 headers={"Authorization": auth})
    d = json.load(urllib.request.urlopen(req))
    recs = d["records"]
    assert recs and recs[0]["offset"] == off, (off, recs[:1])
    for r in recs:
        assert base64.b64decode(r["value"]["data"]) == b"%06d" % r["offset"], r["offset"]
        seen.append(r["offset"])
    off = d["next_offset"]
    answers += 1
assert seen == list(range(10000)), seen[:5]
assert answers >= 2, answers
PY
metric_gw() { curl -s "http://$GWADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# A function, so that every try reads the metric again (an argument would be read once).
answers_freed() { [ "$(metric_gw streamd_gateway_answer_bytes)" = 0 ]; }
wait_for 5 "answer bytes back to 0 once read" answers_freed

gw_stop
