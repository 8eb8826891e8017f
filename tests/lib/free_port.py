#!/usr/bin/env python3
"""Prints a TCP port on 127.0.0.1 that nobody is bound to, for a daemon a test starts.

The port is picked below the kernel's ephemeral range (ip_local_port_range), so an
outgoing connection made between this pick and the daemon's bind cannot take it: with
bind(port 0) the kernel hands out an ephemeral port, and a client connecting a moment
later may be given the same one ("Address already in use" at the daemon's start).

Usage: free_port.py [FILE]. FILE, when given, lists the ports already handed out to
this test (one per line); they are not handed out again, and the new one is appended.
"""
import random
import socket
import sys


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def main():
    taken = set()
    path = sys.argv[1] if len(sys.argv) > 1 else None
    if path:
        try:
            with open(path) as f:
                taken = {int(line) for line in f if line.strip().isdigit()}
        except OSError:
            pass
    hi = min(ephemeral_low(), 65536) - 1
    lo = 10000 if hi > 12000 else 1024
    for _ in range(500):
        port = random.randint(lo, hi)
        if port in taken:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        if path:
            with open(path, "a") as f:
                f.write(f"{port}\n")
        print(port)
        return 0
    print("free_port.py: no free port found", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
