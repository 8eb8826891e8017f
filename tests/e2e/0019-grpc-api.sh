#!/usr/bin/env bash
# The tenant API over gRPC (proto/streaming/v1/streaming.proto), called with Debian's
# python3-grpcio: methods the proto lacks get UNIMPLEMENTED at once; missing, malformed and
# wrong credentials UNAUTHENTICATED; a garbage request INVALID_ARGUMENT; topic admin
# (create, list, describe with configs, delete) with ALREADY_EXISTS and NOT_FOUND; tenant B
# sees and touches none of tenant A's topics; the same over TLS; records by unary Produce
# and ProduceStream read back by Consume streams, identical, REST and gRPC both ways;
# consumer groups with commits; the isolation matrix over every method; a topic made over
# gRPC is the one REST shows; and every call has ended (the active-calls gauge is back to 0,
# a cancelled stream included).
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/gateway.sh"
pg_start
cp_start

step "two tenants, a broker, the gateway"
gw_stack acme globex
AUTH[wrong]="Basic $(printf '%s:%s' "${KEY[acme]}" nope | base64 -w0)"

step "topic admin over gRPC, credentials, isolation, TLS"
grpc_check topics || fail "gRPC topic checks"

step "records over gRPC: unary and stream produce, consume by stream, REST both ways"
grpc_check records || fail "gRPC records checks"

step "consumer groups over gRPC: assignments, commits, resuming, two members"
grpc_check groups || fail "gRPC group checks"

step "isolation over gRPC: globex calls every method on acme's topic and group"
grpc_check isolation || fail "gRPC isolation checks"

step "clients that die mid-stream leave no call, group member or connection behind"
metric() { curl -sf "http://$GWADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
settled() { [ "$(metric streamd_gateway_grpc_calls_active)" = 0 ] && [ "$(metric streamd_gateway_consumer_instances)" = 0 ]; }
# abandon: the client opens its streams and kills itself with SIGKILL (status 137);
# any other status means it failed before it had abandoned anything.
abandon() {
    local rc=0
    grpc_check abandon >"$T/abandon.out" 2>&1 || rc=$?
    [ $rc -eq 137 ] || fail "the abandoning client ended with status $rc, not by its kill -9: $(tail -n 5 "$T/abandon.out")"
}
wait_for 10 "every gRPC call and member freed" settled
abandon
wait_for 10 "every gRPC call and member freed" settled
fds_before=$(ls /proc/"$GW_PID"/fd | wc -l)
for n in 1 2 3 4 5 6 7 8; do
    abandon
done
wait_for 15 "every gRPC call and member freed after 8 dead clients" settled
fds_after=$(ls /proc/"$GW_PID"/fd | wc -l)
echo "gateway descriptors: $fds_before before, $fds_after after 8 dead clients"
[ "$fds_after" -le $((fds_before + 2)) ] || fail "the gateway's descriptors grew from $fds_before to $fds_after"

step "a topic created over gRPC is the one REST shows"
cat >"$T/mk.py" <<'PY'
import os, sys, grpc
sys.path.insert(0, os.environ["PB"])
from streaming.v1 import streaming_pb2 as pb
ch = grpc.insecure_channel(os.environ["GRPC"])
fn = ch.unary_unary("/streaming.v1.Streaming/CreateTopic", request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=pb.Topic.FromString)
t = fn(pb.CreateTopicRequest(name="both", partitions=2), metadata=[("authorization", os.environ["AUTH_ACME"])], timeout=10)
assert t.name == "both" and t.partitions == 2, t
PY
PB="$T/pb" GRPC="$GRPC" AUTH_ACME="${AUTH[acme]}" /usr/bin/python3 "$T/mk.py" || fail "CreateTopic over gRPC"
expect_rest 200 acme h2c GET "/kafka/v3/clusters/${CLUSTER[acme]}/topics/both"
[ "$(json_get partitions_count <"$T/last.json")" = 2 ] || fail "REST shows $(cat "$T/last.json")"

step "no call is left behind"
active() { [ "$(curl -sf "http://$GWADMIN/metrics" | awk '$1 == "streamd_gateway_grpc_calls_active" { print $2 }')" = 0 ]; }
wait_for 10 "every gRPC call ended" active
calls=$(curl -sf "http://$GWADMIN/metrics" | awk '$1 == "streamd_gateway_grpc_calls_total" { print $2 }')
[ "${calls%.*}" -ge 20 ] || fail "only $calls gRPC calls counted"

gw_stop
echo PASS
