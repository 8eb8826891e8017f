#!/usr/bin/env bash
# Runs one test tier against one build flavour.
#
#   tests/run-tier.sh unit|component|e2e|fault BUILD_DIR
#
# unit   runs every cmocka binary under BUILD_DIR/tests/unit/
# component runs every tests/component/NNNN-*.sh (one daemon and a real Postgres)
# e2e    runs every tests/e2e/NNNN-*.sh (the broker with real Kafka clients)
# fault  runs every tests/fault/NNNN-*.sh (kill -9, torn tails, corrupt bytes)
#
# TESTS=0004 (or a space-separated list, or a name fragment) runs only matching tests.
# Each test's output goes to BUILD_DIR/test-logs/<tier>/<name>.log and is printed when
# the test fails. Exit status: the number of failed tests (0 = all passed); 1 when TESTS
# matched no test, so a typo never passes.
#
# Each test has TEST_TIMEOUT_S (default 1200) seconds; past that it and every process it
# started (its process group: daemons, clients) are killed and it fails as timed out.
set -u
tier=${1:?tier}
build=${2:?build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$top" && cd "$build" && pwd)
logs="$build/test-logs/$tier"
mkdir -p "$logs"

case "$tier" in
unit) mapfile -t tests < <(find "$build/tests/unit" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort) ;;
component | e2e | fault) mapfile -t tests < <(ls "$top/tests/$tier"/[0-9]*.sh 2>/dev/null | sort) ;;
*) echo "run-tier.sh: unknown tier '$tier'" >&2; exit 2 ;;
esac

selected() {
    [ -z "${TESTS:-}" ] && return 0
    local t
    for t in $TESTS; do
        case "$1" in *"$t"*) return 0 ;; esac
    done
    return 1
}

export BUILD_DIR="$build" BIN="$build/bin" TOP="$top"
# One leak inside libh2o 2.2 itself (its context queue) is suppressed; any other fails.
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
pass=0 fail=0 failed=()
start_all=$(date +%s)
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    selected "$name" || continue
    log="$logs/$name.log"
    start=$(date +%s.%N)
    # timeout(1) runs the test in a process group of its own and signals the whole group.
    if [ "$tier" = unit ]; then
        (cd "$top" && timeout -k 10 "${TEST_TIMEOUT_S:-1200}" "$t") >"$log" 2>&1
    else
        (cd "$top" && timeout -k 10 "${TEST_TIMEOUT_S:-1200}" bash "$t") >"$log" 2>&1
    fi
    rc=$?
    [ $rc -ne 124 ] && [ $rc -ne 137 ] || echo "TIMEOUT: killed after ${TEST_TIMEOUT_S:-1200} s" >>"$log"
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
        printf '  PASS  %-8s %-52s %6ss\n' "$tier" "$name" "$secs"
    else
        fail=$((fail + 1))
        failed+=("$name")
        printf '  FAIL  %-8s %-52s %6ss (exit %d)\n' "$tier" "$name" "$secs" "$rc"
        echo "----- $log (last 60 lines) -----"
        tail -n 60 "$log"
        echo "-----"
    fi
done
if [ $((pass + fail)) -eq 0 ] && [ -n "${TESTS:-}" ]; then
    echo "$tier ($(basename "$build")): no test matched TESTS='$TESTS'"
    exit 1
fi
echo "$tier ($(basename "$build")): $pass passed, $fail failed in $(($(date +%s) - start_all))s${failed[*]:+: ${failed[*]}}"
exit $fail
