# Helpers for tests that call the gateway's REST API (sourced after harness.sh).
#
# AUTH[WHO] holds the Authorization header value a caller sends ("Basic ..." or
# "Bearer ..."); gw_tenant fills it for a new tenant's API key.

declare -A AUTH KEY SECRET CLUSTER

# gw_tenant NAME: creates tenant NAME with an API key; sets KEY, SECRET and AUTH.
gw_tenant() {
    local t=$1
    expect_status 201 POST /v1/tenants "{\"name\": \"$t\"}"
    gw_key "$t" "$t"
}

# gw_key TENANT WHO [BODY]: a new API key of TENANT, known as WHO.
gw_key() {
    local t=$1 who=$2 body=${3:-}
    [ -n "$body" ] || body='{}'
    api POST "/v1/tenants/$t/api-keys" "$body" >"$T/$who-key.json"
    KEY[$who]=$(json_get key <"$T/$who-key.json")
    SECRET[$who]=$(json_get secret <"$T/$who-key.json")
    [ -n "${KEY[$who]}" ] && [ -n "${SECRET[$who]}" ] || fail "no API key: $(cat "$T/$who-key.json")"
    AUTH[$who]="Basic $(printf '%s:%s' "${KEY[$who]}" "${SECRET[$who]}" | base64 -w0)"
}

# rest WHO MODE METHOD PATH [BODY]: calls the gateway as WHO over MODE (h1, h2c, tls); a BODY
# of "@FILE" is read from FILE (curl --data-binary).
# Prints the body; sets STATUS, PROTO (the HTTP version used) and HEADERS (a file).
rest() {
    local who=$1 mode=$2 method=$3 path=$4 body=${5:-} out
    local -a how auth=()
    case $mode in
    h1) how=(--http1.1 "http://$GW$path") ;;
    h2c) how=(--http2-prior-knowledge "http://$GW$path") ;;
    tls) how=(--http2 --cacert "$GW_CERT" "https://$GWS$path") ;;
    *) fail "rest: mode $mode" ;;
    esac
    [ -n "${AUTH[$who]:-}" ] && auth=(-H "Authorization: ${AUTH[$who]}")
    HEADERS="$T/last.headers"
    out=$(curl -s -X "$method" "${auth[@]}" -H 'Content-Type: application/json' -D "$HEADERS" \
        ${body:+--data-binary "$body"} -w '\n%{http_code} %{http_version}' "${how[@]}")
    local tail=${out##*$'\n'}
    STATUS=${tail% *}
    PROTO=${tail#* }
    printf '%s\n' "${out%$'\n'*}"
}

# expect_rest STATUS WHO MODE METHOD PATH [BODY]: the body goes to $T/last.json.
expect_rest() {
    local want=$1
    shift
    rest "$@" >"$T/last.json"
    [ "$STATUS" = "$want" ] || fail "$2 $3 $4 as $1: status $STATUS, want $want: $(cat "$T/last.json")"
}

# gw_cluster WHO: sets CLUSTER[WHO] to the caller's logical cluster id.
gw_cluster() {
    expect_rest 200 "$1" h1 GET /kafka/v3/clusters
    CLUSTER[$1]=$(json_get data.0.cluster_id <"$T/last.json")
    [ -n "${CLUSTER[$1]}" ] || fail "no cluster for $1: $(cat "$T/last.json")"
}

# gw_stack TENANT...: a pool, the tenants (gw_tenant), a managed broker, the gateway
# (2 threads) and each tenant's cluster id. Needs pg_start and cp_start first.
gw_stack() {
    local t
    expect_status 201 POST /v1/pools '{"name": "default"}'
    for t in "$@"; do gw_tenant "$t"; done
    managed_broker_start 1
    gw_start --threads=2
    for t in "$@"; do gw_cluster "$t"; done
}

# gw_records N FROM: N REST records, one JSON object a line, with keys k<FROM>... and
# values v<FROM>... (strings), for POST .../records as "@FILE".
gw_records() {
    local i
    for i in $(seq "$2" $(($2 + $1 - 1))); do
        printf '{"key": {"type": "STRING", "data": "k%d"}, "value": {"type": "STRING", "data": "v%d"}}\n' "$i" "$i"
    done
}

# grpc_check CHECK [ARGS...]: tests/lib/grpc_check.py against this gateway's gRPC API
# (Debian's python3-grpcio), each AUTH[who] and CLUSTER[who] passed as AUTH_<WHO> and
# CLUSTER_<WHO>. The Python message classes are made from the proto once per test.
grpc_check() {
    if [ ! -d "$T/pb" ]; then
        mkdir -p "$T/pb"
        protoc --proto_path="$TEST_LIB/../../proto" --python_out="$T/pb" \
            "$TEST_LIB/../../proto/streaming/v1/streaming.proto" ||
            fail "protoc cannot make the Python message classes"
    fi
    local vars=() who
    for who in "${!AUTH[@]}"; do
        vars+=("AUTH_$(printf '%s' "$who" | tr 'a-z-' 'A-Z_')=${AUTH[$who]}")
    done
    for who in "${!CLUSTER[@]}"; do
        vars+=("CLUSTER_$(printf '%s' "$who" | tr 'a-z-' 'A-Z_')=${CLUSTER[$who]}")
    done
    env PB="$T/pb" GRPC="$GRPC" GRPCS="${GRPCS:-}" GW_CERT="${GW_CERT:-}" GW="$GW" "${vars[@]}" \
        /usr/bin/python3 "$TEST_LIB/grpc_check.py" "$@"
}
