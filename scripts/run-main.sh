#!/usr/bin/env bash
# The README's main command: installs what is missing (including Debian's Fashion-MNIST), builds
# in release mode and trains the default model; extra arguments go to `stitch train`.
# Without --output, --resume or --overwrite each run gets a new folder runs/<UTC date-time>, so a
# finished run is never replaced (stitch refuses a non-empty folder unless asked).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh dataset-fashion-mnist
swift build -c release --product stitch
args=("$@")
chosen=no
for a in "${args[@]}"; do
    case "$a" in --output|--output=*|--resume|--overwrite) chosen=yes ;; esac
done
[ "$chosen" = yes ] || args+=(--output "runs/$(date -u +%Y%m%d-%H%M%S)")
exec .build/release/stitch train "${args[@]}"
