#!/usr/bin/env bash
# The isolation matrix: every route of the OpenAPI document (docs/api/gateway-openapi.json,
# which must list exactly the routes the gateway serves) is called with tenant globex's
# credentials on tenant acme's resources: each gets 404 or 403, no answer names acme, its
# cluster, its topic or its group, and acme's topics, configs, records, ACLs and consumer
# groups are unchanged after.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
DOC="$(dirname "$0")/../../docs/api/gateway-openapi.json"

step "the OpenAPI document lists exactly the routes the gateway serves"
"$BIN/streamd-gateway" --routes >"$T/routes.txt"
python3 - "$DOC" "$T/routes.txt" <<'PY' || fail "the OpenAPI document and the routes differ"
import json, re, sys
doc = json.load(open(sys.argv[1]))
assert doc["openapi"].startswith("3."), doc["openapi"]
documented = set()
for path, ops in doc["paths"].items():
    for method, op in ops.items():
        assert op.get("summary") and op.get("responses"), (method, path)
        for p in re.findall(r"\{(\w+)\}", path):
            assert any(x["name"] == p and x["in"] == "path" for x in op.get("parameters", [])), (method, path, p)
        documented.add((method.upper(), re.sub(r"\{\w+\}", "*", path)))
served = {tuple(l.split()) for l in open(sys.argv[2]) if l.strip()}
missing, extra = served - documented, documented - served
assert not missing and not extra, ("served, not documented:", sorted(missing), "documented, not served:", sorted(extra))
print("%d routes, all documented" % len(served))
PY

pg_start
cp_start
step "two tenants; acme has a topic with records, a config and an ACL"
gw_stack acme globex
abase="/kafka/v3/clusters/${CLUSTER[acme]}"

step "operators' pages are on the admin listener only: the tenant listeners answer 404"
for p in metrics healthz readyz; do
    code=$(curl -s -o "$T/op.txt" -w '%{http_code}' "http://$GW/$p")
    [ "$code" = 404 ] || fail "tenant listener /$p answered $code"
    code=$(curl -sk -o "$T/op.txt" -w '%{http_code}' --http2 "https://$GWS/$p")
    [ "$code" = 404 ] || fail "TLS tenant listener /$p answered $code"
    code=$(curl -s -o "$T/op.txt" -w '%{http_code}' -H "Authorization: ${AUTH[acme]}" "http://$GW/$p")
    [ "$code" = 404 ] || fail "tenant listener /$p with credentials answered $code"
    ! grep -q acme "$T/op.txt" || fail "/$p on the tenant listener names a tenant"
done
curl -sf -o "$T/op.txt" "http://$GWADMIN/metrics" || fail "admin /metrics"
grep -q '^streamd_gateway_requests_total ' "$T/op.txt" || fail "admin /metrics: $(head -c 300 "$T/op.txt")"
[ "$(curl -sf "http://$GWADMIN/healthz")" = ok ] || fail "admin /healthz"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$GWADMIN/v3/clusters")" = 404 ] ||
    fail "the admin listener serves more than its three pages"
gbase="/kafka/v3/clusters/${CLUSTER[globex]}"
expect_rest 201 acme h1 POST "$abase/topics" \
    '{"topic_name": "acme-secret-orders", "partitions_count": 2, "configs": [{"name": "retention.ms", "value": "86400000"}]}'
expect_rest 200 acme h1 POST "$abase/topics/acme-secret-orders/records" \
    '{"partition_id": 0, "value": {"type": "STRING", "data": "acme secret"}}'
expect_rest 201 acme h1 POST "$abase/acls" \
    '{"resource_type": "TOPIC", "resource_name": "acme-secret-orders", "principal": "User:owner", "operation": "READ", "permission": "ALLOW"}'
expect_rest 201 globex h1 POST "$gbase/topics" '{"topic_name": "globex-own", "partitions_count": 1}'
# acme's consumer group, with committed offsets (a Kafka client on the broker's listener),
# and a REST consumer instance in it (not subscribed: the group stays as it is).
kcat -b "$BROKER" -G acme.acme-secret-group -X auto.offset.reset=earliest -e -q \
    acme.acme-secret-orders >/dev/null 2>&1 || fail "kcat could not read in acme's group"
expect_rest 200 acme h1 POST "/kafka/v2/clusters/${CLUSTER[acme]}/consumers/acme-secret-group" \
    '{"name": "acme-secret-instance", "auto.commit.enable": "false"}'

# acme's state as acme sees it: compared before and after the matrix.
acme_state() {
    local out=$1 p
    : >"$out"
    for p in "$abase/topics" "$abase/topics/acme-secret-orders" "$abase/topics/acme-secret-orders/partitions" \
        "$abase/topics/acme-secret-orders/configs" "$abase/acls" \
        "$abase/topics/acme-secret-orders/partitions/0/records?offset=0" \
        "$abase/topics/acme-secret-orders/partitions/1/records?offset=0" \
        "$abase/consumer-groups" "$abase/consumer-groups/acme-secret-group/lags" \
        "/kafka/v2/clusters/${CLUSTER[acme]}/consumers/acme-secret-group/instances/acme-secret-instance/subscription"; do
        rest acme h1 GET "$p" >"$T/state.json"
        [ "$STATUS" = 200 ] || fail "acme GET $p: $STATUS"
        python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))' <"$T/state.json" >>"$out"
    done
}
acme_state "$T/acme-before.txt"

step "globex's credentials on every route with acme's names: 404/403, nothing revealed"
python3 - "$DOC" "$GW" "${AUTH[globex]}" "${CLUSTER[acme]}" "${CLUSTER[globex]}" <<'PY' || fail "isolation matrix"
import http.client, json, re, sys
doc, gw, auth, acluster, gcluster = sys.argv[1:6]
doc = json.load(open(doc))
host, port = gw.split(":")
bodies = {
    ("POST", "topics"): {"topic_name": "acme-secret-orders-2"},
    ("POST", "records"): {"value": {"type": "STRING", "data": "intruder"}},
    ("PUT", "{name}"): {"value": "1000"},
    ("POST", "configs:alter"): {"data": [{"name": "retention.ms", "value": "1000"}]},
    ("POST", "acls"): {"resource_type": "TOPIC", "resource_name": "acme-secret-orders", "principal": "User:owner", "operation": "ALL", "permission": "ALLOW"},
    ("POST", "{group_name}"): {"name": "acme-secret-instance"},
    ("POST", "subscription"): {"topics": ["acme-secret-orders"]},
    ("POST", "positions"): {"offsets": [{"topic": "acme-secret-orders", "partition": 0, "offset": 0}]},
    ("POST", "beginning"): {"partitions": [{"topic": "acme-secret-orders", "partition": 0}]},
    ("POST", "end"): {"partitions": [{"topic": "acme-secret-orders", "partition": 0}]},
}
calls = 0


def call(m, path, cluster, topic, group):
    url = (path.replace("{cluster_id}", cluster).replace("{topic_name}", topic)
           .replace("{partition_id}", "0").replace("{name}", "retention.ms")
           .replace("{group_id}", group).replace("{consumer_id}", "member-1")
           .replace("{group_name}", group).replace("{instance}", "acme-secret-instance"))
    if path.endswith("/records") and m == "GET":
        url += "?offset=0"
    if path.endswith("/acls") and m == "DELETE":
        url += "?resource_type=ANY"
    body = bodies.get((m, path.rsplit("/", 1)[-1]))
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request(m, url, json.dumps(body) if body is not None else None,
              {"Authorization": auth, "Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    # What the caller sent may be echoed; the answer must be the one for names that exist
    # nowhere, so it tells nothing about acme.
    masked = (text.replace(cluster, "<cluster>").replace(topic, "<topic>").replace(group, "<group>")
              .replace("acme-secret-instance", "<instance>"))
    return r.status, masked, text, url


for path, ops in doc["paths"].items():
    if "{cluster_id}" not in path:
        continue
    for method in ops:
        m = method.upper()
        # acme's cluster; and, for topic and group routes, globex's own cluster with acme's
        # topic and group names.
        # (Creating a consumer instance in globex's own cluster is globex's own business.)
        named = ("{topic_name}" in path or "{group_id}" in path or
                 ("{instance}" in path and not (m == "POST" and path.endswith("{group_name}"))))
        for cluster in ([acluster, gcluster] if named else [acluster]):
            ghost = "lkc-0000000000" if cluster == acluster else cluster
            st, masked, text, url = call(m, path, cluster, "acme-secret-orders", "acme-secret-group")
            gst, gmasked, _, _ = call(m, path, ghost, "no-such-topic-here", "no-such-group-here")
            calls += 2
            assert st in (403, 404), (m, url, st, text)
            assert (st, masked) == (gst, gmasked), (m, url, "differs from a missing one:", text, gmasked)
            assert "acme" not in masked, (m, url, "reveals acme", text)
            err = json.loads(text)
            # 404, or a REST Proxy code that begins with it (40403: no such consumer instance)
            assert str(err["error_code"])[:3] == str(st) and err["message"], (m, url, text)
secrets = [acluster, "acme-secret-orders", "acme"]
# Lists: globex sees only its own cluster and topics, and no ACL of acme's.
def get(url):
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", url, headers={"Authorization": auth})
    r = c.getresponse()
    text = r.read().decode()
    assert r.status == 200, (url, r.status, text)
    for s in secrets:
        assert s not in text, (url, "reveals", s, text)
    return json.loads(text)
assert [x["cluster_id"] for x in get("/kafka/v3/clusters")["data"]] == [gcluster]
assert [x["topic_name"] for x in get("/kafka/v3/clusters/%s/topics" % gcluster)["data"]] == ["globex-own"]
assert get("/kafka/v3/clusters/%s/acls" % gcluster)["data"] == []
assert get("/kafka/v3/clusters/%s/consumer-groups" % gcluster)["data"] == []
get("/kafka/v3/clusters/%s/topics/globex-own/configs" % gcluster)
print("%d calls refused (acme's names and missing ones, compared), none revealing acme" % calls)
PY

step "acme's topics, configs, records and ACLs are unchanged"
acme_state "$T/acme-after.txt"
diff "$T/acme-before.txt" "$T/acme-after.txt" || fail "globex changed acme's state"
api GET /v1/tenants/acme/topics >"$T/cp-topics.json"
python3 -c 'import json,sys; n=[t["name"] for t in json.load(open(sys.argv[1]))["data"]]; assert n == ["acme-secret-orders"], n' \
    "$T/cp-topics.json" || fail "acme's topics in the control plane: $(cat "$T/cp-topics.json")"

step "a connection counts against every tenant that uses it: globex's cannot carry acme past its cap"
expect_status 200 PUT /v1/tenants/acme/quotas '{"connections": 1}'
python3 - "$GW" "${AUTH[acme]}" "${CLUSTER[acme]}" "${AUTH[globex]}" "${CLUSTER[globex]}" <<'PY' || fail "shared connection"
import http.client, sys, time
gw, auth, cluster, gauth, gcluster = sys.argv[1:6]
host, port = gw.split(":")
def call(conn, a, c):
    conn.request("GET", "/kafka/v3/clusters/%s/topics" % c, headers={"Authorization": a})
    r = conn.getresponse()
    return r.status, r.read().decode()
def new():
    return http.client.HTTPConnection(host, int(port), timeout=30)
mine = new()
assert call(mine, auth, cluster)[0] == 200
# Wait until the gateway applies the cap of 1: a second connection of acme's is refused.
deadline = time.time() + 60
while True:
    c = new()
    st = call(c, auth, cluster)[0]
    c.close()
    if st == 429:
        break
    assert st == 200 and time.time() < deadline, ("the cap of 1 never applied", st)
    time.sleep(0.1)
shared = new()
assert call(shared, gauth, gcluster)[0] == 200
st, body = call(shared, auth, cluster)
assert st == 429 and "maximum of 1 open connections" in body, (st, body)
mine.close()
print("acme refused on globex's connection while at its cap")
PY
expect_status 200 PUT /v1/tenants/acme/quotas '{"connections": null}'

gw_stop
