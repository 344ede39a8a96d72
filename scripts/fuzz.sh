#!/usr/bin/env bash
# Fuzzes the readers of outside data (issue 17): builds the libFuzzer targets of Fuzz/ (with
# AddressSanitizer) and runs each for SECONDS on a copy of its seed corpus (Fuzz/corpus/<target>)
# with its dictionary (Fuzz/dict/<target>.dict), starting again after a crash so that one run
# finds every crash it can.
#
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET] [target ...]
#   SECONDS_PER_TARGET  default 300 (the full run); .ci/run uses 10.
#   targets             default all: safetensors npy idx gzip einops checkpoint png jpeg mask pth.
# Prints per target the executions, the coverage (cov: edges, ft: features) and the crashes
# (with the top frames of each); every input that crashed, ran out of memory or timed out is
# kept under the results folder it names. Exits 1 when any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(safetensors npy idx gzip einops checkpoint png jpeg mask pth)
seconds=${1:-300}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS_PER_TARGET must be a positive integer, not '$seconds'" >&2; exit 64; }
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t'; available: ${all_targets[*]}" >&2; exit 64; }
done

# Largest input per target: a little above its largest seed.
max_len() {
    case $1 in
        einops) echo 256 ;;
        idx | npy | png | jpeg | mask) echo 2048 ;;
        safetensors | gzip) echo 4096 ;;
        checkpoint) echo 8192 ;;
        pth) echo 12288 ;;
    esac
}

bash scripts/install-deps.sh
build=(swift build -c release --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing)
started=$SECONDS
"${build[@]}"
echo "fuzz build: $((SECONDS - started)) s"
bin=$("${build[@]}" --show-bin-path)

# Swift's own crash reporter would catch the trap before libFuzzer (which then neither saves the
# input nor prints the stack); leaks are not checked (runtime caches look like leaks).
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
results=Fuzz/.build/fuzz-results/$(date -u +%Y%m%dT%H%M%SZ)
failed=0
summary=$(printf '%-12s %12s %8s %8s  %s' target execs cov ft "crash/oom/timeout")

# The first $2 (default 6) DeepStitch frames, crash site first, of the first stack in the
# libFuzzer log $1, demangled.
frames() {
    awk '/^ +#0 /{n++} n==1 && /^ +#[0-9]+ .* in /' "$1" | swift demangle --simplified \
        | grep -E '/Sources/[^ ]*\.swift' | grep -vE 'LLVMFuzzerTestOneInput|runFuzzer|_main ' \
        | awk '!seen[$0]++' | head -"${2:-6}" | sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ in /      /' || true
}

for t in "${targets[@]}"; do
    dir=$results/$t
    mkdir -p "$dir/corpus" "$dir/crashes" "$dir/tmp"
    cp -R "Fuzz/corpus/$t/." "$dir/corpus/"
    echo "== fuzz-$t: ${seconds} s on $(ls "$dir/corpus" | wc -l) seeds"
    # libFuzzer stops at the first failing input: start it again (on the grown corpus) until the
    # time is used up, so that one run reports every crash it finds.
    deadline=$((SECONDS + seconds)) round=0 execs=0 stats="" repeats=0
    while [ $((remaining = deadline - SECONDS)) -gt 0 ]; do
        round=$((round + 1))
        log=$dir/round-$round.log
        status=0
        TMPDIR=$dir/tmp "$bin/fuzz-$t" -max_total_time="$remaining" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$t")" \
            -dict="Fuzz/dict/$t.dict" -print_final_stats=1 -artifact_prefix="$dir/crashes/" "$dir/corpus" >"$log" 2>&1 || status=$?
        ran=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log" | tail -1)
        execs=$((execs + ${ran:-0}))
        stats=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1 || true)
        [ $status -ne 0 ] || break
        input=$(sed -nE 's/.*Test unit written to (.*)/\1/p' "$log" | tail -1)
        [ -n "$input" ] || { echo "fuzz-$t stopped without a failing input: see $log" >&2; tail -20 "$log" >&2; failed=1; break; }
        failed=1
        # Whether the input fails again on its own (if not, earlier inputs set up the failure).
        alone=yes
        TMPDIR=$dir/tmp "$bin/fuzz-$t" -rss_limit_mb=2048 -timeout=10 "$input" >"$input.replay.log" 2>&1 && alone="no (depends on earlier inputs)"
        reason=$( (grep -m1 -oE 'Fatal error: .*' "$log" || grep -m1 -oE 'Swift runtime failure: [^/]*[^ /]' "$log" \
                   || grep -m1 -oE 'ERROR: [A-Za-z]+: .*' "$log" || echo failed) | cut -c1-200)
        site=$(frames "$log" 1 | sed -E 's/^ *//')
        if grep -qxF "$site" "$dir/sites" 2>/dev/null; then
            repeats=$((repeats + 1))
        else
            echo "$site" >>"$dir/sites"
            echo "   $(basename "$input"): $reason; fails again alone: $alone; report: $log"
            frames "$log"
        fi
    done
    [ $repeats -eq 0 ] || echo "   (and $repeats more failing inputs at the sites above)"
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stats")
    count() { find "$dir/crashes" -name "$1" ! -name '*.log' | wc -l; }
    summary+=$'\n'$(printf '%-12s %12s %8s %8s  %s' "$t" "$execs" "${cov:-?}" "${ft:-?}" "$(count 'crash-*')/$(count 'oom-*')/$(count 'timeout-*')")
done

echo
echo "$summary"
echo "results (grown corpora, logs, failing inputs): $results"
if [ "$failed" -ne 0 ]; then
    echo "fuzzing FAILED: failing inputs are in $results/<target>/crashes" >&2
    exit 1
fi
echo "fuzzing passed: no crash, no out-of-memory, no timeout"
