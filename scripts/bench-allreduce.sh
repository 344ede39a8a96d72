#!/usr/bin/env bash
# All-reduce latency and bandwidth on this machine, then the scaling model built on them:
# builds allreduce-bench in release, runs it under mpirun with 2 ranks over TCP (`--mca btl
# tcp,self`: loopback TCP, the path between hosts) and over shared memory (`vader,self`),
# alternating the two REPEATS times, and prints per message size the median latency (and the
# range over the runs) and bus bandwidth of each; then runs scripts/allreduce_model.py with α
# also fitted from the TCP table's 1 KB latency.
#
# Usage: [REPEATS=2] [PATHS="library"] [MAX_MB=100] [ITER_SCALE=1] [SKIP_BUILD=1] [OUT=dir] \
#            bash scripts/bench-allreduce.sh [model options ...]
#   PATHS       what allreduce-bench times (--path): library (group.allReduce, what DDP uses),
#               poll (startAllReduce + isComplete without sleeping), yield (sched_yield between
#               polls), mpi (blocking MPI_Allreduce, not through the library)
#   MAX_MB, ITER_SCALE   --max-mb and --iterations-scale, for short runs
#   SKIP_BUILD=1 uses the allreduce-bench already in .build/release
#   OUT         keeps every run's output there (default: a new temporary folder, printed)
#   model options go to scripts/allreduce_model.py (e.g. --compute-ms 15 --params 421642)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-2}
PATHS=${PATHS:-library}
MAX_MB=${MAX_MB:-100}
ITER_SCALE=${ITER_SCALE:-1}
OUT=${OUT:-$(mktemp -d /tmp/bench-allreduce.XXXXXX)}
mkdir -p "$OUT"
BIN=.build/release/allreduce-bench
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --product allreduce-bench >/dev/null
# Open MPI refuses to run as root unless told; harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

echo "# All-reduce on this machine, 2 ranks ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "Runs in $OUT; REPEATS=$REPEATS PATHS=\"$PATHS\" MAX_MB=$MAX_MB ITER_SCALE=$ITER_SCALE"
for repeat in $(seq "$REPEATS"); do
    for path in $PATHS; do
        for btl in tcp vader; do   # alternate the transports, so that a busy spell hits both
            mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 --mca btl "$btl,self" \
                "$BIN" --max-mb "$MAX_MB" --iterations-scale "$ITER_SCALE" --path "$path" --json \
                >"$OUT/$path-$btl-$repeat.txt"
        done
    done
done
echo "Load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$OUT" "$REPEATS" $PATHS <<'PY'
import json, statistics, sys
out, repeats, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def runs(path, btl):
    """Per run, {bytes: row} from allreduce-bench's JSON lines."""
    result = []
    for r in range(1, repeats + 1):
        with open(f"{out}/{path}-{btl}-{r}.txt") as f:
            result.append({row["bytes"]: row for row in (json.loads(l) for l in f if l.startswith("{"))})
    return result

def label(size):
    return f"{size // 1048576} MB" if size >= 1048576 else f"{size // 1024} KB"

def median_row(rows):
    """The row of median latency's figures (busbw from the median latency, as the table shows)."""
    latency = statistics.median(r["latency_us"] for r in rows)
    row = dict(rows[0], latency_us=round(latency, 2), latency_min_rank_us=None)
    row["algbw_gbps"] = round(row["bytes"] / latency / 1e3, 4)
    row["busbw_gbps"] = round(row["algbw_gbps"] * 2 * (row["ranks"] - 1) / row["ranks"], 4)
    return row

for path in paths:
    tcp, shm = runs(path, "tcp"), runs(path, "vader")
    print()
    print(f"## path {path}: median of {repeats} runs per transport (latency µs: max over ranks, averaged over a run's iterations)")
    print()
    print("| size | TCP latency µs | TCP range | TCP busbw GB/s | shared-memory latency µs | shm range | shm busbw GB/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    medians = []
    for size in sorted(tcp[0]):
        t, s = [run[size] for run in tcp], [run[size] for run in shm]
        mt, ms = median_row(t), median_row(s)
        medians.append(mt)
        def spread(rows):
            values = [r["latency_us"] for r in rows]
            return f"{min(values):.1f}–{max(values):.1f}"
        print(f"| {label(size)} | {mt['latency_us']:.1f} | {spread(t)} | {mt['busbw_gbps']:.3f} "
              f"| {ms['latency_us']:.1f} | {spread(s)} | {ms['busbw_gbps']:.3f} |")
    with open(f"{out}/{path}-tcp-median.txt", "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in medians)
PY

echo
python3 scripts/allreduce_model.py --loopback-json "$OUT/$(echo $PATHS | cut -d' ' -f1)-tcp-median.txt" "$@"
