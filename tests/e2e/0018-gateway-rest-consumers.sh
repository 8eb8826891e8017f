#!/usr/bin/env bash
# REST consumer instances (Kafka REST Proxy v2 under /kafka/v2/clusters/{c}/consumers): an
# instance subscribes, polls every record produced, commits and is deleted; a new instance
# in the group resumes after the commit, and the group's lag (v3) follows. Two instances of
# one group split the partitions. Another tenant can neither reach the instances nor the
# group; bad calls are refused and change nothing; an idle instance expires.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start

step "two tenants, a broker, the gateway; acme has a 3-partition topic with 30 records"
gw_stack acme globex
base="/kafka/v3/clusters/${CLUSTER[acme]}"
v2="/kafka/v2/clusters/${CLUSTER[acme]}/consumers"
gv2="/kafka/v2/clusters/${CLUSTER[globex]}/consumers"
expect_rest 201 acme h2c POST "$base/topics" '{"topic_name": "orders", "partitions_count": 3}'
gw_records 30 0 >"$T/r1.json"
expect_rest 200 acme h2c POST "$base/topics/orders/records" "@$T/r1.json"

# poll_until WHO MODE URL N OUT: polls URL until N records came, appending "partition
# offset value" lines (values base64-decoded) to OUT.
poll_until() {
    local who=$1 mode=$2 url=$3 want=$4 out=$5 i
    : >"$out"
    for i in $(seq 1 60); do
        rest "$who" "$mode" GET "$url?timeout=500" >"$T/poll.json"
        [ "$STATUS" = 200 ] || fail "poll: $STATUS $(cat "$T/poll.json")"
        python3 - "$T/poll.json" >>"$out" <<'PY'
import base64, json, sys
for r in json.load(open(sys.argv[1])):
    assert r["topic"] == "orders", r
    print(r["partition"], r["offset"], base64.b64decode(r["value"]).decode())
PY
        [ "$(wc -l <"$out")" -ge "$want" ] && return 0
    done
    fail "polled $(wc -l <"$out") of $want records"
}

step "an instance subscribes, polls every record, commits"
expect_rest 200 acme h2c POST "$v2/g1" \
    '{"name": "c1", "format": "binary", "auto.offset.reset": "earliest", "auto.commit.enable": "false"}'
[ "$(json_get instance_id <"$T/last.json")" = c1 ] || fail "$(cat "$T/last.json")"
json_get base_uri <"$T/last.json" | grep "/kafka/v2/clusters/${CLUSTER[acme]}/consumers/g1/instances/c1$" >/dev/null ||
    fail "base_uri: $(cat "$T/last.json")"
expect_rest 409 acme h1 POST "$v2/g1" '{"name": "c1"}'
expect_rest 204 acme h2c POST "$v2/g1/instances/c1/subscription" '{"topics": ["orders"]}'
expect_rest 200 acme h1 GET "$v2/g1/instances/c1/subscription"
[ "$(json_get topics <"$T/last.json")" = '["orders"]' ] || fail "$(cat "$T/last.json")"
poll_until acme h2c "$v2/g1/instances/c1/records" 30 "$T/c1.out"
[ "$(wc -l <"$T/c1.out")" -eq 30 ] || fail "read $(wc -l <"$T/c1.out") records, want 30"
cut -d' ' -f3 "$T/c1.out" | sort >"$T/got1"
seq 0 29 | sed 's/^/v/' | sort >"$T/want1"
cmp -s "$T/got1" "$T/want1" || fail "the records polled are not the records produced"
expect_rest 200 acme h1 GET "$v2/g1/instances/c1/assignments"
[ "$(json_get partitions <"$T/last.json" | grep -o partition\" | wc -l)" = 3 ] || fail "$(cat "$T/last.json")"
expect_rest 204 acme h2c POST "$v2/g1/instances/c1/offsets"
expect_rest 200 acme h1 GET "$v2/g1/instances/c1/offsets"
python3 - "$T/last.json" <<'PY' || fail "committed: $(cat "$T/last.json")"
import json, sys
o = json.load(open(sys.argv[1]))["offsets"]
assert sorted(x["partition"] for x in o) == [0, 1, 2] and sum(x["offset"] for x in o) == 30, o
PY

step "the group's lag follows: 0, then 10 after 10 more records"
expect_rest 200 acme h1 GET "$base/consumer-groups/g1/lag-summary"
[ "$(json_get total_lag <"$T/last.json")" = 0 ] || fail "$(cat "$T/last.json")"
gw_records 10 30 >"$T/r2.json"
expect_rest 200 acme h2c POST "$base/topics/orders/records" "@$T/r2.json"
expect_rest 200 acme h1 GET "$base/consumer-groups/g1/lag-summary"
[ "$(json_get total_lag <"$T/last.json")" = 10 ] || fail "$(cat "$T/last.json")"
expect_rest 200 acme h1 GET "$base/consumer-groups/g1/lags"
[ -n "$(json_get data.0.consumer_id <"$T/last.json")" ] || fail "no member in the lags: $(cat "$T/last.json")"

step "bad calls are refused"
expect_rest 422 acme h1 POST "$v2/g1" '{"name": "x1", "format": "avro"}'
expect_rest 422 acme h1 POST "$v2/g1" '{"name": "bad name!"}'
expect_rest 400 acme h1 POST "$v2/g1" 'not json'
expect_rest 404 acme h1 POST "$v2/g1/instances/c1/subscription" '{"topics": ["nope"]}'
expect_rest 400 acme h1 POST "$v2/g1/instances/c1/subscription" '{"topic_pattern": "or.*"}'
expect_rest 400 acme h1 GET "$v2/g1/instances/c1/records?timeout=soon"
expect_rest 404 acme h1 POST "$v2/g1/instances/c1/positions" '{"offsets": [{"topic": "orders", "partition": 9, "offset": 0}]}'
expect_rest 400 acme h1 POST "$v2/g1/instances/c1/positions" '{"offsets": [{"topic": "orders"}]}'
expect_rest 404 acme h1 GET "$v2/g1/instances/nobody/records"
expect_rest 200 acme h1 GET "$v2/g1/instances/c1/subscription"
[ "$(json_get topics <"$T/last.json")" = '["orders"]' ] || fail "a refused call changed the subscription"

step "seek: to an offset, and to the beginning"
p0=$(grep -m1 '^0 ' "$T/c1.out" | cut -d' ' -f2)
expect_rest 204 acme h1 POST "$v2/g1/instances/c1/positions" "{\"offsets\": [{\"topic\": \"orders\", \"partition\": 0, \"offset\": $p0}]}"
expect_rest 204 acme h1 POST "$v2/g1/instances/c1/positions/beginning" '{"partitions": [{"topic": "orders", "partition": 1}]}'
expect_rest 200 acme h1 GET "$v2/g1/instances/c1/records?timeout=2000"
python3 - "$T/last.json" <<'PY' || fail "after seeking: $(cat "$T/last.json")"
import json, sys
got = {(r["partition"], r["offset"]) for r in json.load(open(sys.argv[1]))}
assert (1, 0) in got, sorted(got)
PY

step "the instance is deleted; a new one resumes after the commit"
expect_rest 204 acme h1 DELETE "$v2/g1/instances/c1"
expect_rest 404 acme h1 GET "$v2/g1/instances/c1/subscription"
expect_rest 200 acme h2c POST "$v2/g1" '{"name": "c2", "auto.offset.reset": "earliest", "auto.commit.enable": "false"}'
expect_rest 204 acme h2c POST "$v2/g1/instances/c2/subscription" '{"topics": ["orders"]}'
poll_until acme h1 "$v2/g1/instances/c2/records" 10 "$T/c2.out"
cut -d' ' -f3 "$T/c2.out" | sort >"$T/got2"
seq 30 39 | sed 's/^/v/' | sort >"$T/want2"
cmp -s "$T/got2" "$T/want2" || fail "the new instance read $(tr '\n' ' ' <"$T/got2"), want v30..v39"

step "two instances of one group split the partitions"
expect_rest 200 acme h1 POST "$v2/g2" '{"name": "a", "auto.offset.reset": "earliest"}'
expect_rest 200 acme h1 POST "$v2/g2" '{"name": "b", "auto.offset.reset": "earliest"}'
expect_rest 204 acme h1 POST "$v2/g2/instances/a/subscription" '{"topics": ["orders"]}'
expect_rest 204 acme h1 POST "$v2/g2/instances/b/subscription" '{"topics": ["orders"]}'
split_ok() {
    rest acme h1 GET "$v2/g2/instances/a/records?timeout=200" >/dev/null
    rest acme h1 GET "$v2/g2/instances/b/records?timeout=200" >/dev/null
    rest acme h1 GET "$v2/g2/instances/a/assignments" >"$T/a.json"
    rest acme h1 GET "$v2/g2/instances/b/assignments" >"$T/b.json"
    python3 - "$T/a.json" "$T/b.json" <<'PY'
import json, sys
a = {p["partition"] for p in json.load(open(sys.argv[1]))["partitions"]}
b = {p["partition"] for p in json.load(open(sys.argv[2]))["partitions"]}
sys.exit(0 if a and b and not (a & b) and (a | b) == {0, 1, 2} else 1)
PY
}
wait_for 30 "a and b split the 3 partitions" split_ok

step "globex reaches neither acme's instances nor its group"
expect_rest 404 globex h1 GET "$v2/g1/instances/c2/records"
expect_rest 404 globex h1 GET "$gv2/g1/instances/c2/records"
expect_rest 404 globex h1 DELETE "$gv2/g1/instances/c2"
expect_rest 404 globex h1 POST "$gv2/g1/instances/c2/offsets"
expect_rest 200 globex h1 POST "$gv2/g1" '{"name": "c2"}'
expect_rest 404 globex h1 POST "$gv2/g1/instances/c2/subscription" '{"topics": ["orders"]}'
expect_rest 409 globex h1 GET "$gv2/g1/instances/c2/records"
expect_rest 200 globex h1 GET "/kafka/v3/clusters/${CLUSTER[globex]}/consumer-groups"
[ "$(json_get data <"$T/last.json")" = "[]" ] || fail "globex sees groups: $(cat "$T/last.json")"
expect_rest 200 acme h1 GET "$v2/g1/instances/c2/subscription"

step "a principal without READ on the group is refused"
expect_status 201 POST /v1/tenants/acme/service-accounts '{"name": "reader"}'
gw_key acme reader '{"service_account": "reader"}'
expect_rest 403 reader h1 POST "$v2/g1" '{"name": "r1"}'
expect_rest 403 reader h1 GET "$v2/g1/instances/c2/records"

step "a tenant at its cap of instances gets 429; another tenant does not"
gw_stop
gw_start --threads=2 --consumer_instance_timeout_ms=1500 --consumer_instances_per_tenant=2
expect_rest 200 acme h1 POST "$v2/g3" '{"name": "idle", "auto.offset.reset": "earliest"}'
expect_rest 200 acme h1 POST "$v2/g3" '{"name": "second"}'
expect_rest 429 acme h1 POST "$v2/g3" '{"name": "third"}'
grep -qi '^retry-after:' "$HEADERS" || fail "429 without Retry-After"
expect_rest 200 globex h1 POST "$gv2/g3" '{"name": "third"}'

step "idle instances expire and leave their group; the cap counts them no more"
expect_rest 204 acme h1 POST "$v2/g3/instances/idle/subscription" '{"topics": ["orders"]}'
idle_expired() { grep -q 'consumer instance expired.*instance=idle ' "$T/gateway.log"; }
wait_for 60 "the idle instance expires" idle_expired
expect_rest 404 acme h1 GET "$v2/g3/instances/idle/subscription"
expect_rest 200 acme h1 POST "$v2/g3" '{"name": "third"}'

step "a request whose body uses up its memory gets an answer, never an abort"
gw_stop
gw_start --threads=2 --request_arena_bytes=65536
# Bodies around the request's 64 KiB arena: one of them leaves too little room for the
# instance name made when none is given. Each gets an answer; the gateway lives on.
python3 - "$GW" "${AUTH[acme]}" "$v2/g4" <<'PY' || fail "a request near the arena limit"
import http.client, sys
host, auth, path = sys.argv[1], sys.argv[2], sys.argv[3]
codes = {}
for n in range(60000, 65600, 4):
    c = http.client.HTTPConnection(host, timeout=30)
    body = '{"pad": "%s"}' % ("a" * n)
    c.request("POST", path, body, {"Authorization": auth, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
    c.close()
print(codes)
assert set(codes) <= {200, 413, 429}, codes
assert codes.get(413, 0) > 0, codes
PY
kill -0 "$GW_PID" || fail "the gateway died"
expect_rest 200 acme h1 GET /kafka/v3/clusters

gw_stop
broker_stop
echo PASS
