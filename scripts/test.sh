#!/usr/bin/env bash
# Builds Tessera with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the whole test suite: unit tests, Wycheproof vectors, real-tool integration,
# the TPM against tpm2-tools, and every fuzz target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
asan=${BUILD_DIR:-build/asan}
fuzz=${FUZZ_BUILD_DIR:-build/fuzz}
# The fuzz targets need clang's libFuzzer; built first so the suite can run them.
CC=clang cmake -S . -B "$fuzz" -DCMAKE_BUILD_TYPE=Debug -DTESSERA_SANITIZE=ON \
  -DTESSERA_FUZZ=ON -DTESSERA_TESTS=OFF >/dev/null
targets=$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)
# shellcheck disable=SC2086
cmake --build "$fuzz" -j"$jobs" --target $targets >/dev/null
cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DTESSERA_SANITIZE=ON \
  -DTESSERA_FUZZ_BUILD_DIR="$(pwd)/$fuzz" >/dev/null
cmake --build "$asan" -j"$jobs"
cd "$asan"
ctest --output-on-failure -j"${TEST_JOBS:-2}"
