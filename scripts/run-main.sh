#!/usr/bin/env bash
# The README's main command: installs what is missing (including Debian's Fashion-MNIST), builds
# in release mode and trains the default model; extra arguments go to `stitch train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh dataset-fashion-mnist
swift build -c release --product stitch
exec .build/release/stitch train "$@"
