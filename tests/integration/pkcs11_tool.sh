#!/usr/bin/env bash
# Acceptance 2 (issue 2): OpenSC's `pkcs11-tool --test --login` passes on a
# token holding RSA, EC, Ed25519 and AES keys generated through pkcs11-tool.
T_NAME=pkcs11_tool
. "$(dirname "$0")/lib.sh"

t_init_token tool
P=(--token-label tool --login --pin "$T_PIN")

t_check "RSA-2048 key pair" ptool "${P[@]}" --keypairgen --key-type rsa:2048 --label rsa --id 01 \
    --usage-sign --usage-decrypt
t_check "EC P-256 key pair" ptool "${P[@]}" --keypairgen --key-type EC:prime256v1 --label ec --id 02
t_check "Ed25519 key pair" ptool "${P[@]}" --keypairgen --key-type EC:edwards25519 --label ed --id 03
t_check "AES-256 key" ptool "${P[@]}" --keygen --key-type AES:32 --label aes --id 04 \
    --usage-decrypt --usage-wrap
ptool "${P[@]}" --list-objects >"$T_TMP/objects.txt" 2>&1 || t_fail "list objects"
for what in "Private Key Object; RSA" "Private Key Object; EC" "Secret Key Object; AES"; do
    t_grep "token lists: $what" "$what" "$T_TMP/objects.txt"
done
t_grep "token lists the Ed25519 key" "(EC_EDWARDS|EDDSA|Ed25519|label:[[:space:]]+ed$)" "$T_TMP/objects.txt"

# The self-test: signatures, verification, OAEP (with a label), decryption,
# digests, random, wrapping, over every key on the token.
rc=0
ptool "${P[@]}" --test >"$T_TMP/test.txt" 2>&1 || rc=$?
cat "$T_TMP/test.txt" >&2
[ $rc -eq 0 ] || t_fail "pkcs11-tool --test --login exited $rc"
t_grep "test reports no errors" "No errors" "$T_TMP/test.txt"
# The signature, verify and decrypt sections run only for mechanisms flagged
# CKF_HW; make sure they ran rather than being skipped.
if [ "$T_MODULE_KIND" = tessera ]; then
    t_grep "signature mechanisms exercised" "SHA256-RSA-PKCS: OK" "$T_TMP/test.txt"
    t_grep "OAEP decryption exercised" "RSA-PKCS-OAEP: " "$T_TMP/test.txt"
fi
if grep -Eiq "ERR:|error|failed" "$T_TMP/test.txt" && ! grep -q "No errors" "$T_TMP/test.txt"; then
    t_fail "pkcs11-tool --test reported errors"
fi

# Must-fail: a wrong user PIN is refused.
t_must_fail "login with a wrong PIN" "C_Login failed: rv = CKR_PIN_INCORRECT" ptool --token-label tool --login --pin 999999 --list-objects
exit 0
