#!/usr/bin/env bash
# Sets everything up on Debian 12 (as root), builds, and runs the whole test suite: unit
# tests, and parity with live PyTorch through the converter and the command-line tool.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_debian.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOBILENEXT_BUILD_TESTS=ON -DMOBILENEXT_BUILD_EXAMPLES=ON \
  -DMOBILENEXT_BUILD_BENCHMARKS=ON -DMOBILENEXT_REQUIRE_PYTORCH_TESTS=ON
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
