#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, and only those that are missing.
# Idempotent: when everything is present it runs no apt command at all.
#
#   deploy/deps.sh [build] [test] [bench] ...
#
# Groups:
#   build  compilers and libraries to build every daemon and tool
#   test   what `make test` drives: real Kafka clients (kcat, librdkafka; kafkajs through
#          Node.js), curl, python3 with grpcio and protobuf (protoc makes its message
#          classes from proto/)
#   run    the local stack's private Postgres (make run)
#   bench  peers measured beside us by `make bench`: NATS JetStream, Redis Streams
#   fuzz   clang and libFuzzer for `make fuzz` and `make fuzz-smoke` (tests/fuzz/)
set -euo pipefail

declare -A group
group[build]="gcc make pkg-config libc6-dev librdkafka-dev libcmocka-dev zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev libssl-dev libpq-dev libh2o-evloop-dev libcurl4-openssl-dev libjwt-dev libgrpc-dev libprotobuf-c-dev protobuf-c-compiler"
group[test]="kcat nghttp2-client python3 python3-grpcio python3-protobuf protobuf-compiler curl procps coreutils openssl postgresql-15 postgresql-client-15 stress-ng"
group[run]="postgresql-15 postgresql-client-15 curl"
group[bench]="nats-server redis-server libnats-dev libhiredis-dev"
group[fuzz]="clang libfuzzer-14-dev"

[ $# -gt 0 ] || set -- build test

want=()
for g in "$@"; do
    [ -n "${group[$g]+x}" ] || { echo "deps.sh: unknown group '$g' (build, test, run, bench, fuzz)" >&2; exit 2; }
    for p in ${group[$g]}; do want+=("$p"); done
done

# kafkajs runs on Node.js: the machine's own when it has one, else Debian's.
for g in "$@"; do
    if [ "$g" = test ] && ! command -v node >/dev/null 2>&1; then
        want+=(nodejs npm)
    fi
done

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing missing packages: ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps.sh: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
