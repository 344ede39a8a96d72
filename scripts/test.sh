#!/usr/bin/env bash
# The README's test command: installs what is missing, builds in release mode and runs every test.
# Testability is enabled because five suites check internal kernels (vector math, fast paths,
# gradient ownership, U-Mamba internals) through @testable imports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --build-tests -Xswiftc -enable-testing
swift test -c release --skip-build --disable-swift-testing -Xswiftc -enable-testing
