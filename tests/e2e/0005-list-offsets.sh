#!/usr/bin/env bash
# ListOffsets: earliest, latest, and by timestamp (the first record at or after a time),
# uncompressed and compressed.
. "$(dirname "$0")/../lib/harness.sh"
broker_start
K="$BIN/kadmin -b $BROKER"
base=1700000000000
for codec in none zstd; do
    step "$codec: 10000 records with timestamps base+seq"
    $K create ts-$codec 1 retention.ms=-1 >/dev/null
    "$BIN/kclient" produce -b "$BROKER" -t ts-$codec -n 10000 --timestamp-base $base \
        --compression $codec --linger-ms 50 >/dev/null
    [ "$($K offsets ts-$codec 0 earliest)" = 0 ] || fail "earliest"
    [ "$($K offsets ts-$codec 0 latest)" = 10000 ] || fail "latest"
    for seq in 0 1 777 4321 9999; do
        got=$($K offsets ts-$codec 0 $((base + seq)))
        [ "$got" = "$seq" ] || fail "$codec: timestamp base+$seq gave offset $got"
    done
    got=$($K offsets ts-$codec 0 $((base + 20000)))
    [ "$got" = -1 ] || fail "$codec: a time after every record gave $got, expected -1"
    got=$($K offsets ts-$codec 0 $((base - 5)))
    [ "$got" = 0 ] || fail "$codec: a time before every record gave $got"
done
broker_stop
echo PASS
