#!/usr/bin/env bash
# The README's main command: installs what is missing, builds in release mode and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product stitch
.build/release/stitch demo "$@"
