#!/usr/bin/env bash
# Runs the fuzz targets one after the other, each for FUZZ_SECONDS, and prints a summary.
#
#   tests/fuzz/run.sh BUILD_DIR            (make fuzz: BUILD_DIR is build/fuzz)
#
# FUZZ_SECONDS=600   how long each target fuzzes (after replaying its whole seed corpus)
# FUZZ_TARGETS=json  names or name fragments, separated by spaces: run only those
# FUZZ_MAX_LEN=N     largest input libFuzzer makes (default: its own, from the seeds)
#
# Each target starts from a scratch copy of tests/fuzz/corpus/<name>/ in
# BUILD_DIR/work/<name>/corpus (the committed seeds never change here; copy new inputs back
# by hand when they are worth keeping). Crashes, leaks, timeouts and out-of-memory inputs go
# to BUILD_DIR/work/<name>/artifacts/ (an earlier run's are moved to artifacts.<time>/), the
# log to BUILD_DIR/work/<name>/fuzz.log.
# Exit status: the number of targets that found something (0 = all clean).
set -u
build=${1:?build dir}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$top" && cd "$build" && pwd)
seconds=${FUZZ_SECONDS:-600}

selected() {
    [ -z "${FUZZ_TARGETS:-}" ] && return 0
    local t
    for t in $FUZZ_TARGETS; do
        case "$1" in *"$t"*) return 0 ;; esac
    done
    return 1
}

# A last "cov: N ft: M" line of a libFuzzer log.
last_field() {
    grep -o "$1: [0-9]*" "$2" | tail -1 | awk '{print $2}'
}

# tmpfs for the segment target's files when there is one (its TMPDIR).
tmp=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm

failed=0
rows=()
for src in "$top"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    selected "$name" || continue
    bin="$build/fuzz_$name"
    [ -x "$bin" ] || { echo "run.sh: $bin is missing (make fuzz-build)" >&2; exit 2; }
    work="$build/work/$name"
    # A scratch corpus every run; what an earlier run found is kept aside, never deleted.
    if [ -n "$(ls -A "$work/artifacts" 2>/dev/null)" ]; then
        kept="$work/artifacts.$(date -r "$work/artifacts" +%Y%m%d-%H%M%S)"
        mv "$work/artifacts" "$kept" && echo "   (earlier artifacts kept in $kept)"
    fi
    rm -rf "$work/corpus" "$work/artifacts"
    mkdir -p "$work/corpus" "$work/artifacts"
    if [ -d "$top/tests/fuzz/corpus/$name" ]; then
        cp "$top/tests/fuzz/corpus/$name"/* "$work/corpus/" 2>/dev/null
    fi
    seeds=$(ls "$work/corpus" | wc -l)
    echo "== fuzz_$name: $seeds seeds, ${seconds}s"
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048
          -artifact_prefix="$work/artifacts/")
    [ -n "${FUZZ_MAX_LEN:-}" ] && args+=(-max_len="$FUZZ_MAX_LEN")
    start=$(date +%s)
    TMPDIR=$tmp "$bin" "${args[@]}" "$work/corpus" >"$work/fuzz.log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/fuzz.log" | awk '{print $2}')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/fuzz.log" | awk '{print $2}')
    cov=$(last_field cov "$work/fuzz.log")
    ft=$(last_field ft "$work/fuzz.log")
    corpus=$(ls "$work/corpus" | wc -l)
    found=$(ls "$work/artifacts" | grep -cE '^(crash|leak|timeout|oom)-')
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        failed=$((failed + 1))
        echo "   FOUND: exit $rc, artifacts in $work/artifacts/:"
        ls "$work/artifacts" | grep -E '^(crash|leak|timeout|oom)-' | sed 's/^/     /'
        grep -m1 -E 'ERROR: |runtime error|property broken' "$work/fuzz.log" | sed 's/^/   /'
        echo "   log: $work/fuzz.log"
    fi
    rows+=("$(printf '%-20s %6ss %12s %9s %7s %7s %7s %8s' "$name" "$secs" "${execs:-?}" \
        "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$found")")
done

[ ${#rows[@]} -eq 0 ] && { echo "run.sh: no target matches FUZZ_TARGETS='${FUZZ_TARGETS:-}'" >&2; exit 2; }
echo
printf '%-20s %7s %12s %9s %7s %7s %7s %8s\n' target time executions exec/s cov ft corpus crashes
printf '%s\n' "${rows[@]}"
exit "$failed"
