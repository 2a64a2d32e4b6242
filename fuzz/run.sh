#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: fuzz/run.sh BINARY SECONDS
# New inputs go to a temporary corpus; the target's corpus in the repository,
# fuzz/corpus/<name>/, seeds it if present (and is not written to).
set -euo pipefail
bin=$1
secs=${2:-60}
name=$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$bin" ] || { echo "fuzz target $bin was not built" >&2; exit 1; }
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
seeds=()
[ -d "$here/corpus/$name" ] && seeds=("$here/corpus/$name")
ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus" "${seeds[@]}"
