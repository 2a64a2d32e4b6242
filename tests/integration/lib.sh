# Common set-up for the integration scripts (sourced, not run).
#
# Module under test: $TESSERA_TEST_MODULE when set — a path to any PKCS#11
# module, or the word "softhsm" for SoftHSMv2 (Debian softhsm2), which the
# scripts are proven against — otherwise our module,
# $TESSERA_BUILD_DIR/src/pkcs11/libtessera-pkcs11.so.
#
# Remote mode: TESSERA_TEST_REMOTE=unix|tls (our module only) runs the same
# script against a tesserad started here (tests/daemon/lib.sh,
# d_remote_setup) on $T_TMP/tessera.db, over its Unix socket or over TLS
# with a client certificate; the module and the CLI reach it through
# TESSERA_URL. The clients' own configuration then names a store in a
# folder that does not exist, so a client that fell back to the embedded
# mode fails instead of passing on a store of its own.
#
# Every check that fails ends the script with a non-zero status; a script
# never skips itself to pass.

set -euo pipefail

# A developer's TESSERA_URL would send the embedded runs to some daemon.
unset TESSERA_URL TESSERA_TLS_CERT TESSERA_TLS_KEY TESSERA_TLS_CA

T_SO_PIN=${T_SO_PIN:-12345678}
T_PIN=${T_PIN:-123456}

t_log() { printf '[%s] %s\n' "${T_NAME:-test}" "$*" >&2; }
t_fail() {
    printf '[%s] FAIL: %s\n' "${T_NAME:-test}" "$*" >&2
    exit 1
}

T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tessera-it.XXXXXX")
. "$(dirname "${BASH_SOURCE[0]}")/../daemon/lib.sh"
t_cleanup() { t_finish $?; }
# t_finish STATUS: what the EXIT trap does; scripts that add their own trap
# call it with the status they saved first.
t_finish() {
    local rc=$1 daemon_rc=0
    # The daemons of the remote mode and of tests/daemon: stopped with
    # SIGTERM, each must exit 0; their logs are printed on failure.
    d_stop_all "$rc" || daemon_rc=1
    if [ -e "$T_TMP/no-such-dir" ]; then
        t_log "a client opened the embedded store in remote mode"
        daemon_rc=1
    fi
    [ $rc -eq 0 ] && [ $daemon_rc -ne 0 ] && rc=1
    if [ $rc -eq 0 ]; then
        t_log "PASS"
    else
        if [ -s "$T_TMP/tessera.log" ]; then
            t_log "last lines of the module's log:"
            tail -n 20 "$T_TMP/tessera.log" >&2 || true
        fi
        t_log "FAILED (status $rc)"
    fi
    if [ "${T_KEEP:-0}" = 1 ]; then
        t_log "kept temp dir $T_TMP"
    else
        rm -rf "$T_TMP"
    fi
    [ $daemon_rc -eq 0 ] || exit 1
}
trap t_cleanup EXIT

T_MODULE_KIND=tessera
# Scripts about Tessera itself (the CLI) set T_ONLY_TESSERA=1 before sourcing.
[ "${T_ONLY_TESSERA:-0}" = 1 ] && TESSERA_TEST_MODULE=
case "${TESSERA_TEST_MODULE:-}" in
    "")
        : "${TESSERA_BUILD_DIR:?TESSERA_BUILD_DIR or TESSERA_TEST_MODULE must be set}"
        T_MODULE="$TESSERA_BUILD_DIR/src/pkcs11/libtessera-pkcs11.so"
        ;;
    softhsm)
        T_MODULE=/usr/lib/softhsm/libsofthsm2.so
        T_MODULE_KIND=softhsm
        ;;
    *)
        T_MODULE="$TESSERA_TEST_MODULE"
        case "$T_MODULE" in *softhsm*) T_MODULE_KIND=softhsm ;; *) T_MODULE_KIND=other ;; esac
        ;;
esac
[ -f "$T_MODULE" ] || t_fail "PKCS#11 module not found: $T_MODULE"
export T_MODULE

# Our module's store, and SoftHSM's token directory, both live in the temp dir.
export TESSERA_HOME="$T_TMP/home"
mkdir -p "$TESSERA_HOME" "$T_TMP/softhsm-tokens"
export TESSERA_CONF="$T_TMP/tessera.conf"
cat >"$TESSERA_CONF" <<EOF
store = $T_TMP/tessera.db
log_level = ${TESSERA_TEST_LOG_LEVEL:-warn}
log_file = $T_TMP/tessera.log
# Cheap PIN KDF for tests only (every tool invocation logs in again).
pin_kdf_t_cost = 1
pin_kdf_m_cost = 1024
pin_kdf_lanes = 1
EOF
export SOFTHSM2_CONF="$T_TMP/softhsm2.conf"
cat >"$SOFTHSM2_CONF" <<EOF
directories.tokendir = $T_TMP/softhsm-tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF

# Environment for programs we did not build (pkcs11-tool, openssl, p11tool,
# ssh-keygen, python, java) that load a sanitized module: the ASan runtime has
# to come first in the process, and leaks in the host program are not ours.
T_PRELOAD_ENV=()
if [ "$T_MODULE_KIND" = tessera ] && [ -n "${TESSERA_ASAN_LIB:-}" ]; then
    # libstdc++ too: a host that dlopens C++ code later (PyKCS11's SWIG
    # module) otherwise leaves ASan's __cxa_throw interceptor unresolved.
    stdcxx=$(gcc -print-file-name=libstdc++.so.6 2>/dev/null || true)
    [ -f "$stdcxx" ] || stdcxx=/usr/lib/x86_64-linux-gnu/libstdc++.so.6
    T_PRELOAD_ENV=(LD_PRELOAD="$TESSERA_ASAN_LIB:$stdcxx"
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allow_user_segv_handler=1:handle_segv=0:use_sigaltstack=0")
fi

# p11 CMD...: run a foreign program that loads the module.
p11() {
    if [ ${#T_PRELOAD_ENV[@]} -gt 0 ]; then
        env "${T_PRELOAD_ENV[@]}" "$@"
    else
        "$@"
    fi
}

# ptool ARGS...: pkcs11-tool on the module under test.
ptool() { p11 pkcs11-tool --module "$T_MODULE" "$@"; }

# t_check DESCRIPTION CMD...: CMD must succeed.
t_check() {
    local what=$1
    shift
    if ! "$@" >"$T_TMP/last.out" 2>&1; then
        cat "$T_TMP/last.out" >&2
        t_fail "$what"
    fi
    t_log "ok: $what"
}

# t_refused DESCRIPTION PATTERN STATUS OUTFILE: the checks behind every
# must-fail check. A refusal is a non-zero exit status that is not a signal
# (an abort, an ASan report with abort_on_error) and no sanitizer report in
# the output, and the output matches the extended regex PATTERN: the error
# we wanted (the CKR_ name a tool prints, openssl's verification failure
# line), not any failure.
t_refused() {
    local what=$1 want=$2 rc=$3 out=$4
    if [ "$rc" -eq 0 ]; then
        cat "$out" >&2
        t_fail "expected failure but succeeded: $what"
    fi
    if [ "$rc" -gt 128 ] && [ "$rc" -le 192 ]; then
        cat "$out" >&2
        t_fail "$what: killed by signal $((rc - 128)), not the refusal expected"
    fi
    if grep -Eq "ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|Segmentation fault|core dumped" "$out"; then
        cat "$out" >&2
        t_fail "$what: crashed or a sanitizer report, not the refusal expected"
    fi
    if ! grep -Eq -- "$want" "$out"; then
        cat "$out" >&2
        t_fail "$what: failed (status $rc) but without /$want/"
    fi
}

# t_must_fail DESCRIPTION PATTERN CMD...: CMD must be refused with an
# output matching PATTERN (see t_refused).
t_must_fail() {
    local what=$1 want=$2 rc=0
    shift 2
    "$@" >"$T_TMP/last.out" 2>&1 || rc=$?
    t_refused "$what" "$want" "$rc" "$T_TMP/last.out"
    t_log "ok (refused as expected, /$want/): $what"
}

# t_flip_last_byte FILE: change the last byte of FILE (the end of a DER
# certificate's signature value), for must-fail signature checks.
t_flip_last_byte() {
    local n b
    n=$(stat -c %s "$1")
    b=$(tail -c 1 "$1" | od -An -tu1 | tr -d ' ')
    printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek=$((n - 1)) conv=notrunc 2>/dev/null
}

# t_bad_signature_copy CERT OUT: OUT is CERT (PEM) with a changed signature.
t_bad_signature_copy() {
    openssl x509 -in "$1" -outform DER -out "$2.der" || t_fail "certificate $1 does not parse"
    t_flip_last_byte "$2.der"
    openssl x509 -inform DER -in "$2.der" -out "$2" || t_fail "changed copy of $1 does not parse"
}

# t_self_signed_cert NAME CERT PUBDER: CERT (PEM, NAME.crt) verifies as its
# own trust anchor, a copy with a changed signature does not, and it holds
# the public key in PUBDER (DER). -check_ss_sig: without it OpenSSL does not
# check a trust anchor's own signature, and the first check would pass
# whatever the token signed.
t_self_signed_cert() {
    local name=$1 crt=$2 pub=$3 bad=${2%.crt}.bad.crt
    t_check "certificate of $name verifies (self-signed)" \
        openssl verify -check_ss_sig -CAfile "$crt" "$crt"
    t_bad_signature_copy "$crt" "$bad"
    t_must_fail "certificate of $name with a changed signature does not verify" \
        "error 7 at 0 depth lookup: certificate signature failure" \
        openssl verify -check_ss_sig -CAfile "$bad" "$bad"
    openssl x509 -in "$crt" -noout -pubkey >"${crt%.crt}.crtpub.pem" ||
        t_fail "certificate of $name does not parse"
    openssl pkey -pubin -in "${crt%.crt}.crtpub.pem" -outform DER -out "${crt%.crt}.crtpub.der" ||
        t_fail "public key in the certificate of $name does not parse"
    cmp -s "${crt%.crt}.crtpub.der" "$pub" || t_fail "certificate of $name does not hold the token's public key"
    t_log "ok: certificate of $name holds the token's public key"
}

# t_grep DESCRIPTION PATTERN FILE: FILE must contain the extended regex.
t_grep() {
    grep -Eq -- "$2" "$3" || { cat "$3" >&2; t_fail "$1 (no /$2/ in $(basename "$3"))"; }
    t_log "ok: $1"
}

# t_free_slot_index: index (as pkcs11-tool --slot-index counts) of the first
# slot whose token is not initialised.
t_free_slot_index() {
    ptool -L 2>/dev/null | awk '
        /^Slot [0-9]+/ { idx = $2; next }
        /token state:[[:space:]]*uninitialized/ { print idx; found = 1; exit }
        END { if (!found) exit 1 }'
}

# t_init_token LABEL: initialise the free slot's token as LABEL, with SO PIN
# $T_SO_PIN and user PIN $T_PIN.
t_init_token() {
    local label=$1 idx
    idx=$(t_free_slot_index) || t_fail "no free slot to initialise token $label"
    t_check "init token $label (slot index $idx)" \
        ptool --init-token --slot-index "$idx" --label "$label" --so-pin "$T_SO_PIN"
    t_check "init user PIN of $label" \
        ptool --token-label "$label" --login --login-type so --so-pin "$T_SO_PIN" --init-pin --pin "$T_PIN"
}

# t_export_pubkey TOKEN LABEL OUT: public key object LABEL of TOKEN as a
# SubjectPublicKeyInfo in OUT.pem and OUT.der, exported with GnuTLS's p11tool
# (OpenSC 0.23's `pkcs11-tool --read-object --type pubkey` reads freed memory
# for EC keys, which ASan reports when it runs with a sanitized module).
t_export_pubkey() {
    if ! GNUTLS_PIN="$T_PIN" p11 p11tool --provider "$T_MODULE" --login --export-pubkey \
        "pkcs11:token=$1;object=$2;type=public" --outfile "$3.pem" >"$T_TMP/export.out" 2>&1; then
        cat "$T_TMP/export.out" >&2
        t_fail "export public key $2 of token $1"
    fi
    openssl pkey -pubin -in "$3.pem" -outform DER -out "$3.der" || t_fail "public key $2 does not parse"
    t_log "ok: exported public key $2"
}

if [ -n "${TESSERA_TEST_REMOTE:-}" ]; then
    [ "$T_MODULE_KIND" = tessera ] ||
        t_fail "TESSERA_TEST_REMOTE needs our module, not $T_MODULE"
    sed -i "s|^store = .*|store = $T_TMP/no-such-dir/tessera.db|" "$TESSERA_CONF"
    d_remote_setup "$TESSERA_TEST_REMOTE"
fi

t_log "module: $T_MODULE ($T_MODULE_KIND); temp: $T_TMP${TESSERA_URL:+; remote: $TESSERA_URL}"
