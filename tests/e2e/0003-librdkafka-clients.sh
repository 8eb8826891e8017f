#!/usr/bin/env bash
# A librdkafka producer and verifying consumer (tests/tools/kclient.c): every acks level and
# compression codec, records checked byte for byte, in order, each exactly once.
. "$(dirname "$0")/../lib/harness.sh"
broker_start
start=0
for combo in "-1 none" "1 gzip" "-1 snappy" "1 lz4" "-1 zstd" "0 none"; do
    set -- $combo
    acks=$1 codec=$2 topic="rd-$codec-$((acks + 1))"
    step "acks=$acks compression=$codec"
    "$BIN/kadmin" -b "$BROKER" create "$topic" 4 >/dev/null
    "$BIN/kclient" produce -b "$BROKER" -t "$topic" -n 50000 --acks "$acks" --compression "$codec" \
        >"$T/produce.out" || { cat "$T/produce.out"; fail "produce acks=$acks $codec"; }
    "$BIN/kclient" verify -b "$BROKER" -t "$topic" -p 4 --expect-range 0 50000 \
        || fail "verify acks=$acks $codec"
done

step "records survive a clean restart"
broker_stop
broker_start
"$BIN/kclient" verify -b "$BROKER" -t rd-zstd-0 -p 4 --expect-range 0 50000 || fail "after restart"
"$BIN/kclient" produce -b "$BROKER" -t rd-zstd-0 -n 1000 --start 50000 --compression zstd >/dev/null
"$BIN/kclient" verify -b "$BROKER" -t rd-zstd-0 -p 4 --expect-range 0 51000 || fail "append after restart"
broker_stop
echo PASS
