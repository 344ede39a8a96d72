#!/usr/bin/env bash
# Alternates two deep-bench binaries on one workload ROUNDS times (default 8) and prints each
# side's times, their medians and the median of the per-pair ratios B/A: on a machine whose speed
# drifts over seconds, pairs taken back to back compare two builds better than separate runs.
# Usage: [ROUNDS=n] [LINE=last] scripts/ab-bench.sh DEEP_BENCH_A DEEP_BENCH_B [workload]
#   (LINE=last compares each side's last line, e.g. the "deepstitch-fused" line of an inference
#    workload; the first line otherwise)
#   (workload defaults to selective_scan_fwd_bwd; build the old side in a worktree, e.g.
#    git worktree add /tmp/old COMMIT && (cd /tmp/old && swift build -c release --product deep-bench))
set -euo pipefail
a=$1 b=$2 workload=${3:-selective_scan_fwd_bwd} rounds=${ROUNDS:-8}
pick=head; [ "${LINE:-first}" = last ] && pick=tail
for _ in $(seq "$rounds"); do
    echo "$("$a" "$workload" --seconds 0.5 | $pick -1) $("$b" "$workload" --seconds 0.5 | $pick -1)"
done | python3 -c '
import json, re, statistics, sys
rows = [[json.loads(m)["ms"] for m in re.findall(r"\{[^}]*\}", line)] for line in sys.stdin if line.strip()]
a, b = [r[0] for r in rows], [r[1] for r in rows]
print("A", " ".join(f"{x:.2f}" for x in a))
print("B", " ".join(f"{x:.2f}" for x in b))
print(f"median A {statistics.median(a):.3f} ms, B {statistics.median(b):.3f} ms, "
      f"median pair ratio B/A {statistics.median(y / x for x, y in zip(a, b)):.3f}")
'
