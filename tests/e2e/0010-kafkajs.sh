#!/usr/bin/env bash
# kafkajs (a second, independent Kafka client) negotiates versions with the broker and
# drives the admin API and the producer; kcat reads back what kafkajs wrote.
. "$(dirname "$0")/../lib/harness.sh"
js="$BUILD_DIR/kafkajs"
if [ ! -f "$js/node_modules/kafkajs/package.json" ]; then
    step "install kafkajs (pinned by tests/e2e/kafkajs/package-lock.json)"
    mkdir -p "$js"
    cp "$TOP/tests/e2e/kafkajs/package.json" "$TOP/tests/e2e/kafkajs/package-lock.json" "$js/"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci kafkajs"
fi
cp "$TOP/tests/e2e/kafkajs/compat.js" "$js/"
broker_start

step "kafkajs admin and producer"
node "$js/compat.js" "$BROKER" kjs || fail "kafkajs"

step "kcat reads what kafkajs wrote, keys, values and headers intact"
kcat -C -b "$BROKER" -t kjs -e -q -f '%k %s %h\n' >"$T/out"
[ "$(wc -l <"$T/out")" -eq 1000 ] || fail "expected 1000 records, got $(wc -l <"$T/out")"
awk '{ split($2, v, "-"); if ($1 != "k" (v[2] % 10) || $3 != "n=" v[2]) bad = 1 } END { exit bad }' "$T/out" \
    || fail "a record differs from what kafkajs sent"
[ "$(awk '{ print $2 }' "$T/out" | sort -u | wc -l)" -eq 1000 ] || fail "records lost or repeated"
broker_stop
echo PASS
