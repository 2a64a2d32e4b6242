#!/usr/bin/env bash
# Builds Tessera with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the whole test suite (unit, vectors, real-tool integration, TPM, fuzz smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
build=${BUILD_DIR:-build/asan}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DTESSERA_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"${TEST_JOBS:-2}"
