#!/usr/bin/env python3
"""batches.py PARTITION_DIR [END_OFFSET]: one line per record batch of the partition's
segments, "<base offset> <last offset> <leader epoch> <crc>", in offset order, stopping at
a segment's zero tail (preallocation) or a torn batch, and at END_OFFSET when given. Two
replicas hold byte-identical logs when their lines are the same."""
import os
import struct
import sys


def batches(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 61 <= len(data):
        base, length, epoch, magic, crc = struct.unpack_from(">qiibI", data, pos)
        if length == 0 and base == 0:
            break  # preallocated zeros
        if magic != 2 or length < 49 or pos + 12 + length > len(data):
            break
        (delta,) = struct.unpack_from(">i", data, pos + 23)
        yield base, base + delta, epoch, crc
        pos += 12 + length


def main():
    d = sys.argv[1]
    end = int(sys.argv[2]) if len(sys.argv) > 2 else None
    for name in sorted(n for n in os.listdir(d) if n.endswith(".log")):
        for base, last, epoch, crc in batches(os.path.join(d, name)):
            if end is not None and base >= end:
                return
            print(base, last, epoch, "%08x" % crc)


main()
