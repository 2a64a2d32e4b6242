#!/usr/bin/env bash
# Acceptance 6 (issue 2): Java 17's SunPKCS11 provider.
#  * `keytool -list -storetype PKCS11` lists the token's keys (SunPKCS11 lists
#    a private key as an entry when a certificate object shares its CKA_ID, so
#    each key gets a self-signed certificate object, made through the token);
#  * a SHA256withECDSA signature made through SunPKCS11 verifies with OpenSSL
#    against the public key exported from the token; a signature by another
#    key, or over other data, does not.
T_NAME=java
. "$(dirname "$0")/lib.sh"

t_init_token jv
P=(--token-label jv --login --pin "$T_PIN")
t_check "EC P-256 key pair ec" ptool "${P[@]}" --keypairgen --key-type EC:prime256v1 --label ec --id 41
t_check "EC P-256 key pair ec2" ptool "${P[@]}" --keypairgen --key-type EC:prime256v1 --label ec2 --id 42
t_check "RSA-2048 key pair rsa" ptool "${P[@]}" --keypairgen --key-type rsa:2048 --label rsa --id 43
# A throwaway software CA issues each certificate for the token's public key
# (SunPKCS11 only needs the certificate's key to match the token key).
openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=test-ca \
    -keyout "$T_TMP/ca.key" -out "$T_TMP/ca.crt" 2>/dev/null || t_fail "test CA"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
    -keyout "$T_TMP/dummy.key" -out "$T_TMP/dummy.csr" 2>/dev/null || t_fail "test CSR"
for k in ec:41 ec2:42 rsa:43; do
    label=${k%%:*} id=${k##*:}
    t_export_pubkey jv "$label" "$T_TMP/$label.pub"
    t_check "certificate for $label's public key" openssl x509 -req -in "$T_TMP/dummy.csr" \
        -CA "$T_TMP/ca.crt" -CAkey "$T_TMP/ca.key" -set_serial "0x$id" -days 30 \
        -force_pubkey "$T_TMP/$label.pub.pem" -subj "/CN=$label" -outform DER -out "$T_TMP/$label.crt.der"
    t_check "store certificate object for $label" ptool "${P[@]}" --write-object "$T_TMP/$label.crt.der" \
        --type cert --label "$label" --id "$id"
done

cat >"$T_TMP/sunpkcs11.cfg" <<CFG
name = TesseraTest
library = $T_MODULE
slotListIndex = 0
CFG

KT=(keytool -list -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11
    -providerArg "$T_TMP/sunpkcs11.cfg")
t_check "keytool -list" p11 "${KT[@]}" -storepass "$T_PIN"
cp "$T_TMP/last.out" "$T_TMP/keytool.txt"
cat "$T_TMP/keytool.txt" >&2
t_grep "keystore holds 3 entries" "contains 3 entr" "$T_TMP/keytool.txt"
for label in ec ec2 rsa; do
    t_grep "keytool lists $label as a private key entry" "^$label, .*PrivateKeyEntry" "$T_TMP/keytool.txt"
done
# -v: keytool prints the cause (the CKR_ code) only with its stack trace
t_must_fail "keytool -list with a wrong PIN" "PKCS11Exception: CKR_PIN_INCORRECT" \
    p11 "${KT[@]}" -storepass 000000 -v

t_check "javac P11Sign" javac -d "$T_TMP/classes" "$(dirname "$0")/java/P11Sign.java"
head -c 5000 /dev/urandom >"$T_TMP/data"
printf 'y' | cat "$T_TMP/data" - >"$T_TMP/data.changed"
J=(java -cp "$T_TMP/classes" P11Sign "$T_TMP/sunpkcs11.cfg" "$T_PIN")
t_check "SunPKCS11 SHA256withECDSA signature (ec)" p11 "${J[@]}" ec SHA256withECDSA "$T_TMP/data" "$T_TMP/ec.sig"
t_check "OpenSSL verifies the Java signature" \
    openssl dgst -sha256 -verify "$T_TMP/ec.pub.pem" -signature "$T_TMP/ec.sig" "$T_TMP/data"
t_check "SunPKCS11 SHA256withECDSA signature (ec2)" p11 "${J[@]}" ec2 SHA256withECDSA "$T_TMP/data" "$T_TMP/ec2.sig"
t_must_fail "ec2's signature does not verify with ec's key" "^Verification [Ff]ailure" \
    openssl dgst -sha256 -verify "$T_TMP/ec.pub.pem" -signature "$T_TMP/ec2.sig" "$T_TMP/data"
t_must_fail "signature does not verify over changed data" "^Verification [Ff]ailure" \
    openssl dgst -sha256 -verify "$T_TMP/ec.pub.pem" -signature "$T_TMP/ec.sig" "$T_TMP/data.changed"
t_check "SunPKCS11 SHA256withRSA signature (rsa)" p11 "${J[@]}" rsa SHA256withRSA "$T_TMP/data" "$T_TMP/rsa.sig"
t_check "OpenSSL verifies the Java RSA signature" \
    openssl dgst -sha256 -verify "$T_TMP/rsa.pub.pem" -signature "$T_TMP/rsa.sig" "$T_TMP/data"
t_must_fail "Java signing with an alias that does not exist" "no private key with alias nosuchkey" \
    p11 "${J[@]}" nosuchkey SHA256withECDSA "$T_TMP/data" "$T_TMP/none.sig"
exit 0
