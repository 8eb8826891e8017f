#!/usr/bin/env bash
# Leader epochs in the log (issue 17, proposal commit 1): a managed broker stamps each batch
# with the partition's leader epoch and keeps the epoch history in leader-epoch-checkpoint;
# after a leader change, ListOffsets and OffsetForLeaderEpoch report where each epoch ends,
# and a client whose current leader epoch is older gets FENCED_LEADER_EPOCH, newer
# UNKNOWN_LEADER_EPOCH (Kafka's KIP-320 checks). The history survives a restart, and is
# rebuilt from the batches when the checkpoint is missing or damaged.
. "$(dirname "$0")/../lib/harness.sh"
pg_start
cp_start
step "a managed broker, acme.orders with 100 records in epoch 0"
expect_status 201 POST /v1/pools '{"name": "default"}'
expect_status 201 POST /v1/tenants '{"name": "acme"}'
managed_broker_start 1
expect_status 201 POST /v1/tenants/acme/topics '{"name": "orders", "partitions": 1}'
served() { kcat -L -b "$BROKER" -t acme.orders 2>/dev/null | grep -q 'leader 1,'; }
wait_for 10 "the broker serves acme.orders" served
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 100 >/dev/null || fail "produce 100"
probe() { "$BIN/kprobe" -b "$BROKER" "$@"; }
expect() {
    local want=$1 got
    shift
    got=$(probe "$@") || fail "kprobe $*: exit $?"
    [ "$got" = "$want" ] || fail "kprobe $*: '$got', want '$want'"
}
expect "error=NONE offset=100 epoch=0" list-offsets acme.orders 0 -1 -1
expect "error=NONE epoch=0 end=100" epoch-end acme.orders 0 0 0

step "the operator moves leadership (to the same broker): epoch 1, 50 more records"
expect_status 200 PUT /v1/tenants/acme/topics/orders/partitions/0/leader '{"leader": 1, "leader_epoch": 0}'
in_epoch_1() { [ "$(probe list-offsets acme.orders 0 -1 1)" = "error=NONE offset=100 epoch=1" ]; }
wait_for 10 "the broker applies epoch 1" in_epoch_1
"$BIN/kclient" produce -b "$BROKER" -t acme.orders -n 50 >/dev/null || fail "produce 50"
# The partition's leader epoch now: every restart moves it (the broker's SIGTERM leaves no
# leader, its return elects it again), and the history must follow.
cur_epoch() { api GET /v1/tenants/acme/topics/orders | json_get assignments.0.leader_epoch; }
led() { [ "$(api GET /v1/tenants/acme/topics/orders | json_get assignments.0.leader)" = 1 ]; }
applied() { [ "$(probe list-offsets acme.orders 0 -1 "$1")" = "error=NONE offset=150 epoch=$1" ]; }
check_history() {
    local e
    wait_for 10 "the control plane elects broker 1 again" led
    e=$(cur_epoch)
    wait_for 10 "the broker leads in epoch $e" applied "$e"
    expect "error=NONE offset=0 epoch=0" list-offsets acme.orders 0 -2 -1
    expect "error=NONE epoch=0 end=100" epoch-end acme.orders 0 "$e" 0
    expect "error=NONE epoch=1 end=150" epoch-end acme.orders 0 "$e" 1
    expect "error=NONE epoch=$e end=150" epoch-end acme.orders 0 "$e" "$e"
    expect "error=NONE epoch=-1 end=-1" epoch-end acme.orders 0 -1 $((e + 1))
    expect "error=FENCED_LEADER_EPOCH epoch=-1 end=-1" epoch-end acme.orders 0 $((e - 1)) 0
    expect "error=FENCED_LEADER_EPOCH offset=-1 epoch=-1" list-offsets acme.orders 0 -1 $((e - 1))
    expect "error=UNKNOWN_LEADER_EPOCH offset=-1 epoch=-1" list-offsets acme.orders 0 -1 $((e + 1))
    probe fetch-epoch acme.orders 0 $((e - 1)) | grep -q 'bytes=0 error=FENCED_LEADER_EPOCH' ||
        fail "a fetch in epoch $((e - 1)): $(probe fetch-epoch acme.orders 0 $((e - 1)))"
    probe fetch-epoch acme.orders 0 $((e + 1)) | grep -q 'bytes=0 error=UNKNOWN_LEADER_EPOCH' ||
        fail "a fetch in epoch $((e + 1)): $(probe fetch-epoch acme.orders 0 $((e + 1)))"
    probe fetch-epoch acme.orders 0 "$e" | grep -q 'error=NONE hw=150' ||
        fail "a fetch in epoch $e: $(probe fetch-epoch acme.orders 0 "$e")"
    [ "$(kcat -C -b "$BROKER" -t acme.orders -p 0 -o beginning -e -q -f '%o\n' | wc -l)" = 150 ] ||
        fail "kcat does not read 150 records"
}
CKPT=$T/data/topics/acme.orders/0/leader-epoch-checkpoint
# Epochs 0 and 1 wrote; the current one (which has written nothing) may follow.
check_file() {
    head -3 "$CKPT" | tail -1 | grep -qx '0 0' && sed -n 4p "$CKPT" | grep -qx '1 100' ||
        fail "checkpoint: $(cat "$CKPT")"
}
check_history
check_file

step "restarted, the history is the same; missing or damaged, it is rebuilt from the batches"
broker_stop
managed_broker_start 1
check_history
broker_kill
rm "$CKPT"
managed_broker_start 1
check_history
grep -q 'rebuilding the leader-epoch history' "$BROKER_LOG" || fail "no rebuild logged"
check_file
broker_stop
printf '0\n1\n0 0\n' >"$CKPT"
managed_broker_start 1
check_history
check_file
broker_stop
echo PASS
