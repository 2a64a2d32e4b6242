#!/usr/bin/env bash
# Smoke run of bench/p11bench (not a benchmark: 0.1 s per row, no timing is
# checked): it must exit 0 and print a number for every row, for the module
# and for the OpenSSL baseline; the scale mode must print its table.
T_NAME=bench_smoke
. "$(dirname "$0")/lib.sh"

BENCH="$TESSERA_BUILD_DIR/bench/p11bench"
[ -x "$BENCH" ] || t_fail "p11bench not built: $BENCH"
# p11bench is built with the sanitizers when the module is, so it needs no preload.
t_check "p11bench throughput, 0.1 s per row" "$BENCH" --time 0.1 --module "mod=$T_MODULE"
cp "$T_TMP/last.out" "$T_TMP/bench.txt"
cat "$T_TMP/bench.txt" >&2
for row in "RSA-2048 sign" "ECDSA P-256 sign" "Ed25519 sign" "AES-256-GCM encrypt 4 KiB"; do
    for thr in 1 2; do
        t_grep "row $row, $thr thread(s)" "^$row.* $thr +[0-9.]+ \| +\*?[0-9.]+ +[0-9.]+x$" "$T_TMP/bench.txt"
    done
done
if grep -q "ERR" "$T_TMP/bench.txt"; then t_fail "a row reported an error"; fi

t_check "p11bench scale mode with 20 keys" "$BENCH" --scale 20 --module "mod=$T_MODULE"
cp "$T_TMP/last.out" "$T_TMP/scale.txt"
cat "$T_TMP/scale.txt" >&2
for row in "start-up" "find one key by label \(first\)" "find one key by label \(median" "token key-pair generation"; do
    t_grep "scale row $row" "^$row.*\| +[0-9.]+ ms$" "$T_TMP/scale.txt"
done
t_check "p11bench scale mode reuses the 20 keys" "$BENCH" --scale 20 --module "mod=$T_MODULE"
t_grep "keys reused, not re-created" "create, per key pair.*\(reused\)" "$T_TMP/last.out"

t_must_fail "p11bench on a file that is not a module" "invalid ELF header" "$BENCH" --time 0.1 --module "x=$T_TMP/bench.txt"
t_must_fail "p11bench with a bad option" "bad --time" "$BENCH" --time nope --module "mod=$T_MODULE"
exit 0
