#!/usr/bin/env bash
# Acceptance 8, second half (issue 2): two processes on one token directory.
# A peer process (PyKCS11) starts first and logs in; then pkcs11-tool, a second
# process, creates a token key; the peer — not restarted — finds it and signs
# with it; the signature verifies with OpenSSL against the key pkcs11-tool
# exports. Then pkcs11-tool destroys the key and the peer must no longer find it.
T_NAME=multiprocess
. "$(dirname "$0")/lib.sh"

t_init_token mp
P=(--token-label mp --login --pin "$T_PIN")
d="$T_TMP/mp"
mkdir -p "$d"
p11 /usr/bin/python3 "$(dirname "$0")/multiprocess_peer.py" "$T_MODULE" mp "$T_PIN" late "$d" \
    >"$T_TMP/peer.log" 2>&1 &
peer=$!
kill_peer() { kill "$peer" 2>/dev/null || true; }
trap 'rc=$?; kill_peer; t_finish $rc' EXIT

wait_file() {
    local i
    for i in $(seq 1 1200); do
        [ -e "$1" ] && return 0
        kill -0 "$peer" 2>/dev/null || { cat "$T_TMP/peer.log" >&2; t_fail "peer exited early"; }
        sleep 0.1
    done
    cat "$T_TMP/peer.log" >&2
    t_fail "timed out waiting for $1"
}
wait_file "$d/ready"
t_check "second process creates token key 'late'" \
    ptool "${P[@]}" --keypairgen --key-type EC:prime256v1 --label late --id 51
touch "$d/go"
wait_file "$d/used"
t_export_pubkey mp late "$T_TMP/late.pub"
# CKM_ECDSA signatures are r||s; convert to DER for OpenSSL.
/usr/bin/python3 - "$d/sig.bin" "$T_TMP/sig.der" <<'PY'
import sys
raw = open(sys.argv[1], "rb").read()
def integer(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b
half = len(raw) // 2
body = integer(raw[:half]) + integer(raw[half:])
open(sys.argv[2], "wb").write(b"\x30" + bytes([len(body)]) + body)
PY
/usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(32)))' >"$T_TMP/digest.bin"
t_check "peer's signature verifies with OpenSSL" openssl pkeyutl -verify -pubin -keyform DER \
    -inkey "$T_TMP/late.pub.der" -in "$T_TMP/digest.bin" -sigfile "$T_TMP/sig.der"
/usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes(reversed(range(32))))' >"$T_TMP/other.bin"
t_must_fail "peer's signature does not verify over another digest" "Signature Verification Failure" openssl pkeyutl -verify -pubin \
    -keyform DER -inkey "$T_TMP/late.pub.der" -in "$T_TMP/other.bin" -sigfile "$T_TMP/sig.der"

t_check "second process destroys private key 'late'" ptool "${P[@]}" --delete-object --type privkey --label late
touch "$d/gone"
rc=0
wait "$peer" || rc=$?
cat "$T_TMP/peer.log" >&2
[ $rc -eq 0 ] || t_fail "peer process failed (status $rc)"
grep -q "ok: key gone" "$T_TMP/peer.log" || t_fail "peer did not confirm the deletion"
exit 0
