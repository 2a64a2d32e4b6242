#!/usr/bin/env bash
# OpenSC's `pkcs11-tool --test --login` passes on a token holding RSA, EC,
# Ed25519 and AES keys generated through pkcs11-tool; signatures, their
# verification and decryption through pkcs11-tool, checked with OpenSSL.
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
if grep -Eq "ERR:|failed" "$T_TMP/test.txt"; then
    t_fail "pkcs11-tool --test reported a failure beside its summary"
fi
# --test verifies and decrypts with every mechanism that can, but signs only
# with mechanisms flagged CKF_HW. The embedded module runs in the caller's
# process and claims no CKF_HW (PKCS#11 3.0 §5.5), so the verify and decrypt
# sections must have run and the signatures are made below instead.
awk '/^Verify/ { on = 1; next } /^Decryption/ { on = 0 } on' "$T_TMP/test.txt" >"$T_TMP/verify.txt"
awk '/^Decryption/ { on = 1; next } /^[A-Z]/ { on = 0 } on' "$T_TMP/test.txt" >"$T_TMP/decrypt.txt"
t_grep "verification exercised by --test" "SHA1-RSA-PKCS: OK" "$T_TMP/verify.txt"
t_grep "RSA PKCS#1 decryption exercised by --test" "RSA-PKCS: OK" "$T_TMP/decrypt.txt"
t_grep "OAEP decryption exercised by --test" "RSA-PKCS-OAEP: " "$T_TMP/decrypt.txt"
if [ "$T_MODULE_KIND" = tessera ]; then
    ptool -M >"$T_TMP/mechs.txt" 2>&1 || t_fail "list mechanisms"
    t_grep "mechanism list" "SHA256-RSA-PKCS" "$T_TMP/mechs.txt"
    # In remote mode the keys live in tesserad, outside the caller's
    # process, and every mechanism says so with CKF_HW; in process none may.
    if [ -n "${TESSERA_TEST_REMOTE:-}" ]; then
        t_grep "remote mechanism list" "SHA256-RSA-PKCS.*hw" "$T_TMP/mechs.txt"
        if grep -E "^ *[A-Z0-9-]+.*(sign|encrypt|digest)" "$T_TMP/mechs.txt" | grep -Evq "(^|[ ,])hw([ ,]|$)"; then
            cat "$T_TMP/mechs.txt" >&2
            t_fail "a mechanism of the remote module lacks CKF_HW"
        fi
        t_log "ok: every mechanism claims CKF_HW (remote)"
    else
        if grep -Eq "(^|[ ,])hw([ ,]|$)" "$T_TMP/mechs.txt"; then
            cat "$T_TMP/mechs.txt" >&2
            t_fail "the embedded module claims CKF_HW"
        fi
        t_log "ok: no mechanism claims CKF_HW"
    fi
fi

# Signatures through the module, checked by pkcs11-tool and by OpenSSL
# against the exported public keys; changed data must not verify.
D=$T_TMP/data
printf 'data signed through the module\n' >"$D"
printf 'data signed through the module!\n' >"$D.changed"
t_export_pubkey tool rsa "$T_TMP/rsa_pub"
t_export_pubkey tool ec "$T_TMP/ec_pub"
t_check "sign SHA256-RSA-PKCS" ptool "${P[@]}" --sign --mechanism SHA256-RSA-PKCS --id 01 \
    -i "$D" -o "$T_TMP/rsa.sig"
# OpenSC 0.23's --verify exits 0 either way; what it prints tells.
ptool "${P[@]}" --verify --mechanism SHA256-RSA-PKCS --id 01 -i "$D" \
    --signature-file "$T_TMP/rsa.sig" >"$T_TMP/verify_ok.txt" 2>&1 || t_fail "pkcs11-tool --verify"
t_grep "pkcs11-tool verifies SHA256-RSA-PKCS" "Signature is valid" "$T_TMP/verify_ok.txt"
ptool "${P[@]}" --verify --mechanism SHA256-RSA-PKCS --id 01 -i "$D.changed" \
    --signature-file "$T_TMP/rsa.sig" >"$T_TMP/verify_bad.txt" 2>&1 || true
t_grep "pkcs11-tool: RSA signature over changed data is invalid" "Invalid signature" \
    "$T_TMP/verify_bad.txt"
t_check "openssl verifies SHA256-RSA-PKCS" openssl dgst -sha256 -verify "$T_TMP/rsa_pub.pem" \
    -signature "$T_TMP/rsa.sig" "$D"
t_must_fail "openssl: RSA signature over changed data" "Verification failure" \
    openssl dgst -sha256 -verify "$T_TMP/rsa_pub.pem" -signature "$T_TMP/rsa.sig" "$D.changed"
t_check "sign SHA256-RSA-PKCS-PSS" ptool "${P[@]}" --sign --mechanism SHA256-RSA-PKCS-PSS \
    --id 01 -i "$D" -o "$T_TMP/pss.sig"
t_check "openssl verifies SHA256-RSA-PKCS-PSS" openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -verify "$T_TMP/rsa_pub.pem" -signature "$T_TMP/pss.sig" "$D"
t_check "sign ECDSA-SHA256" ptool "${P[@]}" --sign --mechanism ECDSA-SHA256 --id 02 \
    --signature-format openssl -i "$D" -o "$T_TMP/ec.sig"
t_check "openssl verifies ECDSA-SHA256" openssl dgst -sha256 -verify "$T_TMP/ec_pub.pem" \
    -signature "$T_TMP/ec.sig" "$D"
t_must_fail "openssl: ECDSA signature over changed data" "Verification failure" \
    openssl dgst -sha256 -verify "$T_TMP/ec_pub.pem" -signature "$T_TMP/ec.sig" "$D.changed"
# Decryption of what OpenSSL encrypted to the token's key (OAEP SHA-256).
t_check "openssl encrypts to the RSA key" openssl pkeyutl -encrypt -pubin \
    -inkey "$T_TMP/rsa_pub.pem" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -in "$D" -out "$T_TMP/oaep.ct"
t_check "decrypt RSA-PKCS-OAEP" ptool "${P[@]}" --decrypt --mechanism RSA-PKCS-OAEP \
    --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 01 -i "$T_TMP/oaep.ct" -o "$T_TMP/oaep.pt"
cmp -s "$D" "$T_TMP/oaep.pt" || t_fail "OAEP decryption gave other data"
t_log "ok: OAEP decryption gave the data back"

# Must-fail: a wrong user PIN is refused.
t_must_fail "login with a wrong PIN" "C_Login failed: rv = CKR_PIN_INCORRECT" ptool --token-label tool --login --pin 999999 --list-objects
exit 0
