#!/usr/bin/env bash
# Start-up cost of a process: the wall time of one `pkcs11-tool --sign`
# process (load the module, C_Initialize, find the token, log in, find the
# key by label, sign once with ECDSA P-256, exit), the way command-line users
# run one process per operation. Builds nothing.
#
#   bench/startup.sh [BUILD_DIR]            # default build/release
#   N=200 bench/startup.sh build/release    # processes per configuration
#
# Each token holds KEYS (default 1000) EC P-256 key pairs, i.e. 2 x KEYS
# objects, made once by the build's p11bench --scale and reused from
# WORK_DIR (default /tmp/tessera-startup) on the next run. Configurations:
#   softhsm          SoftHSMv2 (file backend), the same 2 x KEYS objects
#   softhsm-empty    SoftHSMv2, a token with one key pair (the usual figure)
#   tessera-64m      PIN hash Argon2id t=2, m=64 MiB (the former default)
#   tessera          the current default (Argon2id t=2, m=19 MiB)
#   tessera-cache    the same token, login_cache_seconds = 300: the first
#                    process (not counted) verifies the PIN with Argon2id,
#                    the others unwrap the key from the kernel keyring
#   tessera-empty, tessera-empty-cache   the same two on a token with one
#                    key pair (to compare with softhsm-empty)
# pkcs11-tool --sign finds the key with a CKA_CLASS-only template (it does
# not pass --label on), so on the big tokens every process also matches all
# KEYS private keys: that part of the figure grows with the token.
# Prints the median and the 90th percentile per process and the ratio of the
# median to SoftHSM's on the same number of objects, then one
#   RESULT config=NAME mode=startup objects=2000 n=100 median_ms=.. p90_ms=..
# line per configuration. Nothing here asserts a timing; on a shared VM run it
# more than once (figures move 10-30 %).
set -euo pipefail

BUILD=${1:-build/release}
N=${N:-100}
KEYS=${KEYS:-1000}
WORK=${WORK_DIR:-/tmp/tessera-startup}
SOFTHSM_LIB=${SOFTHSM_LIB:-}
PIN=123456
SO_PIN=12345678

TES_LIB=$BUILD/src/pkcs11/libtessera-pkcs11.so
P11BENCH=$BUILD/bench/p11bench
for f in "$TES_LIB" "$P11BENCH"; do
    [ -e "$f" ] || { echo "startup.sh: $f missing (build $BUILD first)" >&2; exit 2; }
done
command -v pkcs11-tool >/dev/null || { echo "startup.sh: pkcs11-tool missing" >&2; exit 2; }
if [ -z "$SOFTHSM_LIB" ]; then
    for c in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
             /usr/lib64/pkcs11/libsofthsm2.so /usr/lib/x86_64-linux-gnu/pkcs11/libsofthsm2.so; do
        [ -e "$c" ] && SOFTHSM_LIB=$c && break
    done
fi
TES_LIB=$(readlink -f "$TES_LIB")
P11BENCH=$(readlink -f "$P11BENCH")
mkdir -p "$WORK"
head -c 32 /dev/urandom >"$WORK/digest"

# Tessera stores: one per PIN hash cost (the cost is fixed when the PIN is set)
tes_conf() { # name extra-lines...
    local name=$1
    shift
    mkdir -p "$WORK/$name"
    {
        echo "store = $WORK/$name/tessera.db"
        echo "log_level = error"
        printf '%s\n' "$@"
    } >"$WORK/$name/tessera.conf"
}
tes_conf tes64 "pin_kdf_t_cost = 2" "pin_kdf_m_cost = 65536" "pin_kdf_lanes = 1"
tes_conf tes
tes_conf tescache "login_cache_seconds = 300"
sed -i "s|^store = .*|store = $WORK/tes/tessera.db|" "$WORK/tescache/tessera.conf"
tes_conf tes1
tes_conf tes1cache "login_cache_seconds = 300"
sed -i "s|^store = .*|store = $WORK/tes1/tessera.db|" "$WORK/tes1cache/tessera.conf"

shsm_conf() { # name
    mkdir -p "$WORK/$1/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$WORK/$1/tokens" >"$WORK/$1/softhsm2.conf"
}

make_keys() { # env-assignment module-path keys
    env "$1" "$P11BENCH" --scale "$3" --no-openssl --pin "$PIN" --so-pin "$SO_PIN" \
        --module "m=$2" >/dev/null
}

echo "startup.sh: tokens with $KEYS key pairs in $WORK (made once)" >&2
make_keys "TESSERA_CONF=$WORK/tes64/tessera.conf" "$TES_LIB" "$KEYS"
make_keys "TESSERA_CONF=$WORK/tes/tessera.conf" "$TES_LIB" "$KEYS"
make_keys "TESSERA_CONF=$WORK/tes1/tessera.conf" "$TES_LIB" 1
CONFIGS=(tessera-64m tessera tessera-cache tessera-empty tessera-empty-cache)
if [ -n "$SOFTHSM_LIB" ]; then
    shsm_conf shsm
    shsm_conf shsm1
    make_keys "SOFTHSM2_CONF=$WORK/shsm/softhsm2.conf" "$SOFTHSM_LIB" "$KEYS"
    make_keys "SOFTHSM2_CONF=$WORK/shsm1/softhsm2.conf" "$SOFTHSM_LIB" 1
    CONFIGS=(softhsm softhsm-empty "${CONFIGS[@]}")
else
    echo "startup.sh: SoftHSMv2 not found (set SOFTHSM_LIB); Tessera only" >&2
fi

# One signing process of configuration $1.
sign_once() {
    local envv lib
    case $1 in
    softhsm) envv="SOFTHSM2_CONF=$WORK/shsm/softhsm2.conf" lib=$SOFTHSM_LIB ;;
    softhsm-empty) envv="SOFTHSM2_CONF=$WORK/shsm1/softhsm2.conf" lib=$SOFTHSM_LIB ;;
    tessera-64m) envv="TESSERA_CONF=$WORK/tes64/tessera.conf" lib=$TES_LIB ;;
    tessera) envv="TESSERA_CONF=$WORK/tes/tessera.conf" lib=$TES_LIB ;;
    tessera-cache) envv="TESSERA_CONF=$WORK/tescache/tessera.conf" lib=$TES_LIB ;;
    tessera-empty) envv="TESSERA_CONF=$WORK/tes1/tessera.conf" lib=$TES_LIB ;;
    tessera-empty-cache) envv="TESSERA_CONF=$WORK/tes1cache/tessera.conf" lib=$TES_LIB ;;
    esac
    env "$envv" pkcs11-tool --module "$lib" --token-label p11scale --login --pin "$PIN" \
        --sign -m ECDSA --label scale-0000000 -i "$WORK/digest" -o /dev/null >/dev/null 2>&1
}

# N processes; prints "median p90" in ms.
measure() {
    local cfg=$1 i t0 t1
    sign_once "$cfg" || { echo "startup.sh: $cfg: pkcs11-tool --sign failed" >&2; return 1; }
    for ((i = 0; i < N; i++)); do
        t0=$(date +%s%N)
        sign_once "$cfg"
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{v[NR] = $1} END {
        printf "%.1f %.1f\n", v[int((NR + 1) / 2)] / 1000, v[int(NR * 0.9 + 0.5)] / 1000 }'
}

declare -A MED P90
for c in "${CONFIGS[@]}"; do
    read -r MED[$c] P90[$c] < <(measure "$c")
done

echo
echo "start-to-first-signature of one pkcs11-tool process, $N processes each"
printf '%-20s %8s %10s %10s %10s\n' config objects "median ms" "p90 ms" "vs softhsm"
objects() { case $1 in *empty*) echo 2 ;; *) echo $((2 * KEYS)) ;; esac; }
for c in "${CONFIGS[@]}"; do
    ratio=-
    if [ -n "${MED[softhsm]:-}" ]; then
        ratio=$(awk -v a="${MED[$c]}" -v b="${MED[softhsm]}" 'BEGIN {printf "%.2fx", a / b}')
    fi
    printf '%-20s %8s %10s %10s %10s\n' "$c" "$(objects "$c")" "${MED[$c]}" "${P90[$c]}" "$ratio"
done
echo
for c in "${CONFIGS[@]}"; do
    echo "RESULT config=$c mode=startup objects=$(objects "$c") n=$N median_ms=${MED[$c]} p90_ms=${P90[$c]}"
done
