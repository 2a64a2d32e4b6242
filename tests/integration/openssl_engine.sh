#!/usr/bin/env bash
# Acceptance 3 (issue 2): OpenSSL through libengine-pkcs11-openssl.
#  * `openssl req -engine pkcs11 -keyform engine -new -x509` makes a
#    self-signed certificate for an RSA and an EC key on the token;
#  * `openssl dgst -engine pkcs11 -keyform engine -sign` makes signatures
#    that verify with the public key exported from the token;
#  * a signature by a different key, or over different data, does NOT verify.
T_NAME=openssl_engine
. "$(dirname "$0")/lib.sh"

export PKCS11_MODULE_PATH="$T_MODULE"
t_init_token ossl
P=(--token-label ossl --login --pin "$T_PIN")
uri() { printf 'pkcs11:token=ossl;object=%s;type=private?pin-value=%s' "$1" "$T_PIN"; }

t_check "RSA-2048 key pair rsa" ptool "${P[@]}" --keypairgen --key-type rsa:2048 --label rsa --id 11
t_check "RSA-2048 key pair rsa2" ptool "${P[@]}" --keypairgen --key-type rsa:2048 --label rsa2 --id 12
t_check "EC P-256 key pair ec" ptool "${P[@]}" --keypairgen --key-type EC:prime256v1 --label ec --id 13
t_check "EC P-256 key pair ec2" ptool "${P[@]}" --keypairgen --key-type EC:prime256v1 --label ec2 --id 14

# Export each public key with p11tool (independent of the engine).
for k in rsa rsa2 ec ec2; do
    t_export_pubkey ossl "$k" "$T_TMP/$k.pub"
done

head -c 10000 /dev/urandom >"$T_TMP/data"
cp "$T_TMP/data" "$T_TMP/data.changed"
printf 'x' >>"$T_TMP/data.changed"

for k in rsa ec; do
    other=${k}2
    # Self-signed certificate through the engine; it must verify against itself
    # and carry the token's public key.
    t_check "openssl req -x509 with $k" p11 openssl req -engine pkcs11 -keyform engine -key "$(uri $k)" \
        -new -x509 -days 30 -subj "/CN=tessera-$k" -sha256 -out "$T_TMP/$k.crt"
    t_self_signed_cert "$k" "$T_TMP/$k.crt" "$T_TMP/$k.pub.der"
    t_check "openssl req -x509 with $other (same subject)" p11 openssl req -engine pkcs11 -keyform engine \
        -key "$(uri $other)" -new -x509 -days 30 -subj "/CN=tessera-$k" -sha256 -out "$T_TMP/$other.crt"
    # Same subject, other key: the key identifiers differ, so $other's
    # certificate is not taken as the issuer and the chain ends untrusted.
    t_must_fail "certificate of $k does not verify under $other's certificate" \
        "error 18 at 0 depth lookup: self-signed certificate" \
        openssl verify -check_ss_sig -CAfile "$T_TMP/$other.crt" "$T_TMP/$k.crt"

    # Signature through the engine, verified with plain OpenSSL.
    t_check "openssl dgst -sign with $k" p11 openssl dgst -sha256 -engine pkcs11 -keyform engine \
        -sign "$(uri $k)" -out "$T_TMP/$k.sig" "$T_TMP/data"
    t_check "signature of $k verifies with its exported public key" \
        openssl dgst -sha256 -verify "$T_TMP/$k.pub.pem" -signature "$T_TMP/$k.sig" "$T_TMP/data"
    t_check "openssl dgst -sign with $other" p11 openssl dgst -sha256 -engine pkcs11 -keyform engine \
        -sign "$(uri $other)" -out "$T_TMP/$other.sig" "$T_TMP/data"
    t_must_fail "signature by $other does not verify with $k's public key" "^Verification [Ff]ailure" \
        openssl dgst -sha256 -verify "$T_TMP/$k.pub.pem" -signature "$T_TMP/$other.sig" "$T_TMP/data"
    t_must_fail "signature of $k does not verify over changed data" "^Verification [Ff]ailure" \
        openssl dgst -sha256 -verify "$T_TMP/$k.pub.pem" -signature "$T_TMP/$k.sig" "$T_TMP/data.changed"
done

# Must-fail: the engine refuses a wrong PIN.
t_must_fail "engine signing with a wrong PIN" "PIN incorrect" p11 openssl dgst -sha256 -engine pkcs11 -keyform engine \
    -sign "pkcs11:token=ossl;object=ec;type=private?pin-value=000000" -out "$T_TMP/bad.sig" "$T_TMP/data"
exit 0
