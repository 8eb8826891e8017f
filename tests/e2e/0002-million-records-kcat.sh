#!/usr/bin/env bash
# Acceptance: kcat produces 1,000,000 keyed 100-byte records to a 6-partition topic and reads
# them all back byte-identical and in per-partition order; again with lz4 and with zstd.
. "$(dirname "$0")/../lib/harness.sh"
N=${N:-1000000}
broker_start

# Line i: key "k<i mod 997>", a value of exactly 100 bytes that starts with i.
awk -v n="$N" 'BEGIN { pad = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
    for (i = 0; i < n; i++) { v = sprintf("%09d-", i); printf "k%d:%s%s\n", i % 997, v, substr(pad, 1, 100 - length(v)) } }' >"$T/in"
sort -t: -k2 "$T/in" | cut -d: -f2 >"$T/want.values"

for codec in none lz4 zstd; do
    topic="million-$codec"
    step "$codec: produce $N records"
    "$BIN/kadmin" -b "$BROKER" create "$topic" 6 >/dev/null
    kcat -P -b "$BROKER" -t "$topic" -K: -z "$codec" -X linger.ms=20 -X batch.num.messages=10000 \
        -X queue.buffering.max.messages=2000000 -l "$T/in"
    step "$codec: consume and compare"
    kcat -C -b "$BROKER" -t "$topic" -e -q -f '%p %o %k %s\n' >"$T/out"
    got=$(wc -l <"$T/out")
    [ "$got" -eq "$N" ] || fail "$codec: read $got records, expected $N"
    awk '{ print $4 }' "$T/out" | sort >"$T/got.values"
    cmp -s "$T/got.values" "$T/want.values" || fail "$codec: values differ from what was produced"
    awk '{ if ($2 != next_off[$1]++) bad = "offset gap in partition " $1
           split($4, v, "-"); s = v[1] + 0; if ((($1) in last) && s <= last[$1]) bad = "order broken in partition " $1
           last[$1] = s
           if (($3 in kp) && kp[$3] != $1) bad = "key " $3 " on two partitions"; kp[$3] = $1 }
         END { if (bad) { print bad; exit 1 } }' "$T/out" || fail "$codec: per-partition order"
    parts=$(awk '{ print $1 }' "$T/out" | sort -u | wc -l)
    [ "$parts" -eq 6 ] || fail "$codec: records used $parts partitions, expected 6"
    "$BIN/kadmin" -b "$BROKER" delete "$topic" >/dev/null
done
broker_stop
echo PASS
