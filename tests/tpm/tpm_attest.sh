#!/bin/bash
# Attestation: createek, createak, quote + checkquote (with must-fail cases),
# makecredential (TPM and tpm2-tools' offline implementation) and
# activatecredential, certify, gettime; RSA and ECC endorsement keys.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
echo -n "credential secret" > cred.txt

for alg in rsa ecc; do
    tpm2_createek -c ek.ctx -G "$alg" -u ek.pub >/dev/null || fail "createek $alg"
    tpm2_createak -C ek.ctx -c ak.ctx -G "$alg" -g sha256 -s "$( [ $alg = rsa ] && echo rsassa || echo ecdsa)" \
        -u ak.pub -n ak.name -f pem >/dev/null || fail "createak $alg"
    tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000005
    tpm2_quote -c ak.ctx -l sha256:0,1,16 -q 1122334455667788 -m q.msg -s q.sig -o q.pcrs -g sha256 \
        >/dev/null || fail "quote $alg"
    tpm2_checkquote -u ak.pub -m q.msg -s q.sig -f q.pcrs -g sha256 -q 1122334455667788 >/dev/null \
        || fail "checkquote $alg"
    # wrong nonce, tampered message
    expect_fail "Error validating nonce from quote" \
        tpm2_checkquote -u ak.pub -m q.msg -s q.sig -f q.pcrs -g sha256 -q 0000000000000000
    cp q.msg q.bad; printf '\x01' | dd of=q.bad bs=1 seek=40 conv=notrunc 2>/dev/null
    expect_fail "Error validating signed message with public key provided" \
        tpm2_checkquote -u ak.pub -m q.bad -s q.sig -f q.pcrs -g sha256 -q 1122334455667788

    name=$(xxd -p -c 100 ak.name)
    tpm2_makecredential -T none -e ek.pub -s cred.txt -n "$name" -o cred.none >/dev/null 2>&1 \
        || fail "makecredential offline $alg"
    tpm2_makecredential -e ek.pub -s cred.txt -n "$name" -o cred.tpm >/dev/null || fail "makecredential $alg"
    for blob in cred.none cred.tpm; do
        tpm2_startauthsession --policy-session -S s.ctx || fail session
        tpm2_policysecret -S s.ctx -c e >/dev/null || fail policysecret
        tpm2_activatecredential -c ak.ctx -C ek.ctx -i "$blob" -o act.txt -P session:s.ctx >/dev/null \
            || fail "activatecredential $alg $blob"
        tpm2_flushcontext s.ctx
        cmp -s act.txt cred.txt || fail "activated credential differs ($alg $blob)"
    done
    # a credential for another name does not activate
    tpm2_makecredential -T none -e ek.pub -s cred.txt -n "000b$(printf '11%.0s' $(seq 32))" -o cred.other \
        >/dev/null 2>&1 || fail "makecredential other"
    tpm2_startauthsession --policy-session -S s.ctx
    tpm2_policysecret -S s.ctx -c e >/dev/null
    expect_rc 0x1df tpm2_activatecredential -c ak.ctx -C ek.ctx -i cred.other -o act.txt -P session:s.ctx
    tpm2_flushcontext s.ctx 2>/dev/null
done

# certify a key with the AK; gettime
tpm2_createprimary -C o -c prim.ctx -Q || fail createprimary
tpm2_create -C prim.ctx -G ecc -u k.pub -r k.priv -Q || fail create
tpm2_load -C prim.ctx -u k.pub -r k.priv -c k.ctx -Q || fail load
tpm2_createak -C ek.ctx -c ak2.ctx -G rsa -g sha256 -s rsassa -u ak2.pub -f pem -n ak2.name >/dev/null || fail "createak 2"
tpm2_certify -c k.ctx -C ak2.ctx -g sha256 -o att.bin -s att.sig -f plain || fail certify
openssl dgst -sha256 -verify ak2.pub -signature att.sig att.bin >/dev/null || fail "certify signature"
tpm2_gettime -c ak2.ctx -o time.sig --attestation time.att -f plain >/dev/null || fail gettime
openssl dgst -sha256 -verify ak2.pub -signature time.sig time.att >/dev/null || fail "gettime signature"
echo OK
