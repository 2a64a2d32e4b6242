#!/bin/bash
# Keys: deterministic primaries, create/load/readpublic, sign/verify checked
# with OpenSSL, RSA encryption, symmetric encryption, persistence, changeauth.
source "$(dirname "$0")/common.bash"
# invert FILE OFFSET: flip every bit of one byte, so that the file changes
# whatever the byte held (writing a fixed value would not, 1 time in 256)
invert() {
    /usr/bin/python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[int(sys.argv[2])] ^= 0xff; open(p, "wb").write(b)' "$1" "$2" \
        || fail "invert byte $2 of $1"
}
start_tpm
tpm2_startup -c || fail startup
echo "message to sign" > msg

# CreatePrimary is deterministic: same template, same key (RSA and ECC).
tpm2_createprimary -C o -c p1.ctx -o p1.pem -f pem -Q || fail "createprimary rsa"
tpm2_createprimary -C o -c p2.ctx -o p2.pem -f pem -Q || fail "createprimary rsa 2"
cmp -s p1.pem p2.pem || fail "RSA primary not deterministic"
tpm2_createprimary -C o -G ecc -c e1.ctx -o e1.pem -f pem -Q || fail "createprimary ecc"
tpm2_createprimary -C o -G ecc -c e2.ctx -o e2.pem -f pem -Q || fail "createprimary ecc 2"
cmp -s e1.pem e2.pem || fail "ECC primary not deterministic"
# a different hierarchy or template gives a different key
tpm2_createprimary -C e -G ecc -c e3.ctx -o e3.pem -f pem -Q || fail "createprimary endorsement"
cmp -s e1.pem e3.pem && fail "endorsement primary equals owner primary"
tpm2_createprimary -C o -G ecc -c e4.ctx -o e4.pem -f pem -u <(echo -n uniq) -Q 2>/dev/null ||
    tpm2_createprimary -C o -G ecc384 -c e4.ctx -o e4.pem -f pem -Q || fail "createprimary 4"
cmp -s e1.pem e4.pem && fail "different template, same key"

for alg in rsa2048 ecc256 ecc384; do
    tpm2_create -C p1.ctx -G "$alg" -u "$alg.pub" -r "$alg.priv" -Q || fail "create $alg"
    tpm2_load -C p1.ctx -u "$alg.pub" -r "$alg.priv" -c "$alg.ctx" -Q || fail "load $alg"
    tpm2_readpublic -c "$alg.ctx" -f pem -o "$alg.pem" -Q || fail "readpublic $alg"
done

# RSASSA and RSA-PSS signatures verify with OpenSSL; a changed message fails.
tpm2_sign -c rsa2048.ctx -g sha256 -s rsassa -f plain -o s.rsassa msg || fail "sign rsassa"
openssl dgst -sha256 -verify rsa2048.pem -signature s.rsassa msg >/dev/null || fail "openssl rsassa"
tpm2_sign -c rsa2048.ctx -g sha256 -s rsapss -f plain -o s.pss msg || fail "sign pss"
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-2 \
    -verify rsa2048.pem -signature s.pss msg >/dev/null || fail "openssl pss"
tpm2_sign -c ecc256.ctx -g sha256 -f plain -o s.ec msg || fail "sign ecdsa"
openssl dgst -sha256 -verify ecc256.pem -signature s.ec msg >/dev/null || fail "openssl ecdsa"
tpm2_sign -c ecc384.ctx -g sha384 -f plain -o s.ec384 msg || fail "sign ecdsa p384"
openssl dgst -sha384 -verify ecc384.pem -signature s.ec384 msg >/dev/null || fail "openssl p384"
echo "tampered" > msg2
expect_fail "^Verification [Ff]ailure" openssl dgst -sha256 -verify rsa2048.pem -signature s.rsassa msg2

# TPM-side verification, and its must-fail case
tpm2_sign -c ecc256.ctx -g sha256 -o s.tss msg || fail "sign tss"
tpm2_verifysignature -c ecc256.ctx -g sha256 -m msg -s s.tss -t tk.bin || fail "verifysignature"
expect_rc 0x2db tpm2_verifysignature -c ecc256.ctx -g sha256 -m msg2 -s s.tss
tpm2_sign -c rsa2048.ctx -g sha256 -o r.tss msg || fail "sign rsa tss"
tpm2_verifysignature -c rsa2048.ctx -g sha256 -m msg -s r.tss || fail "verify rsa"
expect_rc 0x2db tpm2_verifysignature -c rsa2048.ctx -g sha256 -m msg2 -s r.tss

# RSA encryption: TPM and OpenSSL interoperate (OAEP), and PKCS#1 v1.5
tpm2_create -C p1.ctx -G rsa2048 -a "decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth" \
    -u enc.pub -r enc.priv -Q || fail "create decrypt key"
tpm2_load -C p1.ctx -u enc.pub -r enc.priv -c enc.ctx -Q || fail "load decrypt key"
tpm2_readpublic -c enc.ctx -f pem -o enc.pem -Q || fail "readpublic enc"
tpm2_rsaencrypt -c enc.ctx -s oaep -o ct msg || fail "rsaencrypt"
tpm2_rsadecrypt -c enc.ctx -s oaep -o pt ct || fail "rsadecrypt"
cmp -s pt msg || fail "rsa round trip"
openssl pkeyutl -encrypt -pubin -inkey enc.pem -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in msg -out ct2 || fail "openssl encrypt"
tpm2_rsadecrypt -c enc.ctx -s oaep -o pt2 ct2 || fail "rsadecrypt openssl ct"
cmp -s pt2 msg || fail "openssl oaep round trip"
tpm2_rsaencrypt -c enc.ctx -s rsaes -o ct3 msg || fail "rsaencrypt pkcs1"
tpm2_rsadecrypt -c enc.ctx -s rsaes -o pt3 ct3 || fail "rsadecrypt pkcs1"
cmp -s pt3 msg || fail "pkcs1 round trip"
invert ct 10
expect_rc 0x1c4 tpm2_rsadecrypt -c enc.ctx -s oaep -o bad ct

# AES: encrypt/decrypt round trip, ciphertext differs from plaintext
tpm2_create -C p1.ctx -G aes128cfb -u aes.pub -r aes.priv -Q || fail "create aes"
tpm2_load -C p1.ctx -u aes.pub -r aes.priv -c aes.ctx -Q || fail "load aes"
head -c 64 /dev/urandom > iv.bin.full; head -c 16 iv.bin.full > iv.bin
tpm2_encryptdecrypt -c aes.ctx -t iv.bin -o c.bin msg 2>/dev/null || fail "encrypt"
cmp -s c.bin msg && fail "ciphertext equals plaintext"
tpm2_encryptdecrypt -d -c aes.ctx -t iv.bin -o d.bin c.bin 2>/dev/null || fail "decrypt"
cmp -s d.bin msg || fail "aes round trip"

# EvictControl: make persistent, use by handle, remove
tpm2_evictcontrol -C o -c p1.ctx 0x81000001 >/dev/null || fail "evictcontrol"
tpm2_getcap handles-persistent | grep -q 0x81000001 || fail "persistent handle missing"
tpm2_create -C 0x81000001 -G ecc -u k2.pub -r k2.priv -Q || fail "create under persistent"
tpm2_load -C 0x81000001 -u k2.pub -r k2.priv -c k2.ctx -Q || fail "load under persistent"
expect_rc 0x14c tpm2_evictcontrol -C o -c p2.ctx 0x81000001
tpm2_evictcontrol -C o -c 0x81000001 >/dev/null || fail "evict remove"
tpm2_getcap handles-persistent | grep -q 0x81000001 && fail "persistent handle still there"

# changeauth of an object; the old password no longer works
tpm2_create -C p1.ctx -G ecc -p oldpw -u ca.pub -r ca.priv -Q || fail "create with auth"
tpm2_load -C p1.ctx -u ca.pub -r ca.priv -c ca.ctx -Q || fail "load with auth"
tpm2_sign -c ca.ctx -p oldpw -g sha256 -o x.sig msg || fail "sign with auth"
expect_rc 0x98e tpm2_sign -c ca.ctx -p wrong -g sha256 -o x.sig msg
tpm2_changeauth -c ca.ctx -C p1.ctx -p oldpw -r ca2.priv newpw || fail "changeauth"
tpm2_load -C p1.ctx -u ca.pub -r ca2.priv -c ca2.ctx -Q || fail "load new private"
tpm2_sign -c ca2.ctx -p newpw -g sha256 -o x.sig msg || fail "sign new auth"
expect_rc 0x98e tpm2_sign -c ca2.ctx -p oldpw -g sha256 -o x.sig msg

# hierarchy auth
tpm2_changeauth -c o ownerpw || fail "owner changeauth"
expect_rc 0x9a2 tpm2_createprimary -C o -c x.ctx -Q
tpm2_createprimary -C o -P ownerpw -c x.ctx -Q || fail "createprimary with owner auth"
tpm2_changeauth -c o -p ownerpw || fail "owner auth reset"

# a corrupted private blob is refused at load (integrity)
cp ecc256.priv bad.priv
invert bad.priv 20
expect_rc 0x1df tpm2_load -C p1.ctx -u ecc256.pub -r bad.priv -c bad.ctx
echo OK
