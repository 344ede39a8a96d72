#!/usr/bin/env bash
# One Fashion-MNIST epoch of `stitch train --model cnn` (60,000 images, no validation split) as
# 1 rank × 2 threads, 2 ranks × 1 thread with gradient all-reduces overlapping backward, and
# 2 ranks × 1 thread with them after backward (DEEPSTITCH_DDP_OVERLAP=0), alternating REPEATS
# times; prints each run's training time, test accuracy and stitch's `data-parallel:` line.
# Usage: [REPEATS=3] bash scripts/bench-ddp-epoch.sh   (after the release build of stitch)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
stitch=.build/release/stitch
common=(train --model cnn --epochs 1 --validation-size 0 --overwrite)
mpirun=(mpirun --allow-run-as-root --bind-to none -np 2)
out=$(mktemp -d /tmp/ddp-epoch.XXXXXX)
for i in $(seq "${REPEATS:-3}"); do
    for mode in one overlap no-overlap; do
        case $mode in
            one) log=$("$stitch" "${common[@]}" --output "$out/one" 2>&1) ;;
            overlap) log=$("${mpirun[@]}" "$stitch" "${common[@]}" --output "$out/overlap" 2>&1) ;;
            no-overlap) log=$(DEEPSTITCH_DDP_OVERLAP=0 "${mpirun[@]}" -x DEEPSTITCH_DDP_OVERLAP "$stitch" "${common[@]}" --output "$out/no-overlap" 2>&1) ;;
        esac
        echo "$i $mode | $(grep 'training time' <<<"$log" | tr -d '\r') | $(grep 'test accuracy' <<<"$log" | tr -d '\r') | $(grep 'data-parallel' <<<"$log" | tr -d '\r' || true)"
    done
done
