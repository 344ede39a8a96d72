#!/usr/bin/env bash
# The README's test command: installs what is missing, builds in release mode and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --build-tests
swift test -c release --skip-build --disable-swift-testing
