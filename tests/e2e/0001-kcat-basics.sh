#!/usr/bin/env bash
# kcat against the broker: topic created with kadmin, keyed records with headers in,
# the same records out, in order, with their keys, values and headers.
. "$(dirname "$0")/../lib/harness.sh"
broker_start

step "create a topic"
"$BIN/kadmin" -b "$BROKER" create basics 3 >/dev/null

step "produce keyed records with headers"
for i in $(seq 1 300); do echo "key$((i % 7)):value-$i"; done >"$T/in"
kcat -P -b "$BROKER" -t basics -K: -H trace=abc -H n=1 -l "$T/in"

step "consume them back"
kcat -C -b "$BROKER" -t basics -e -q -f '%p %o %k %s %h\n' >"$T/out"
[ "$(wc -l <"$T/out")" -eq 300 ] || fail "expected 300 records, got $(wc -l <"$T/out")"
awk '{ print $3 ":" $4 }' "$T/out" | sort >"$T/got"
sort "$T/in" >"$T/want"
cmp -s "$T/got" "$T/want" || fail "records differ from what was produced"
awk '$5 != "trace=abc,n=1" { bad = 1 } END { exit bad }' "$T/out" || fail "headers lost or changed"
# Per partition, offsets count up from 0 and values keep their produce order.
awk '{ if ($2 != next_off[$1]++) bad = 1; split($4, v, "-"); if (v[2] <= last[$1]) bad = 1; last[$1] = v[2] }
     END { exit bad }' "$T/out" || fail "offsets or order wrong within a partition"
# A key always lands on one partition.
awk '{ if (($3 in p) && p[$3] != $1) bad = 1; p[$3] = $1 } END { exit bad }' "$T/out" \
    || fail "a key landed on two partitions"

step "consume from an offset"
kcat -C -b "$BROKER" -t basics -p 0 -o 5 -c 1 -e -q -f '%o\n' | grep -x 5 >/dev/null || fail "offset 5 not served"

step "unknown topic is an error, not a hang"
if kcat -C -b "$BROKER" -t nosuch -e -q -m 5 2>"$T/err"; then fail "consuming an unknown topic succeeded"; fi
grep -q 'Topic nosuch error: Broker: Unknown topic or partition' "$T/err" ||
    fail "consuming an unknown topic failed, but not for the unknown topic: $(cat "$T/err")"

broker_stop
echo PASS
