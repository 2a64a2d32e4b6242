#!/bin/bash
# Duplicate + Import between parents (with and without an inner wrapper), and
# tpm2_import of OpenSSL keys (tpm2-tools builds the duplication blob itself).
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
echo "dup message" > m
tpm2_createprimary -C o -c p.ctx -Q || fail createprimary
tpm2_createprimary -C o -G ecc -c np.ctx -Q || fail "createprimary ecc"
tpm2_startauthsession -S t.ctx || fail trial
tpm2_policycommandcode -S t.ctx -L dpol TPM2_CC_Duplicate -Q || fail policycommandcode
tpm2_flushcontext t.ctx
tpm2_create -C p.ctx -G rsa2048 -a "sensitivedataorigin|userwithauth|sign" -L dpol \
    -u k.pub -r k.priv -Q || fail "create duplicable key"
tpm2_load -C p.ctx -u k.pub -r k.priv -c k.ctx -Q || fail load
tpm2_readpublic -c k.ctx -f pem -o k.pem -Q || fail readpublic

# a password cannot authorise duplication (DUP role needs a policy)
expect_rc 0x12f tpm2_duplicate -C np.ctx -c k.ctx -G null -r x.priv -s x.seed

for inner in null aes; do
    tpm2_startauthsession --policy-session -S s.ctx || fail session
    tpm2_policycommandcode -S s.ctx TPM2_CC_Duplicate -Q || fail policycommandcode
    if [ $inner = aes ]; then
        head -c 16 /dev/urandom > inner.key
        tpm2_duplicate -C np.ctx -c k.ctx -G aes -i inner.key -p session:s.ctx -r dup.priv -s dup.seed \
            || fail "duplicate (inner)"
        tpm2_import -C np.ctx -u k.pub -i dup.priv -r imp.priv -s dup.seed -G aes -k inner.key \
            || fail "import (inner)"
        # a wrong inner key does not import
        head -c 16 /dev/urandom > wrong.key
        expect_rc 0x3df tpm2_import -C np.ctx -u k.pub -i dup.priv -r bad.priv -s dup.seed -G aes -k wrong.key
    else
        tpm2_duplicate -C np.ctx -c k.ctx -G null -p session:s.ctx -r dup.priv -s dup.seed || fail duplicate
        tpm2_import -C np.ctx -u k.pub -i dup.priv -r imp.priv -s dup.seed || fail import
    fi
    tpm2_flushcontext s.ctx
    tpm2_load -C np.ctx -u k.pub -r imp.priv -c imp.ctx -Q || fail "load imported"
    tpm2_sign -c imp.ctx -g sha256 -f plain -o s.sig m || fail "sign with imported"
    openssl dgst -sha256 -verify k.pem -signature s.sig m >/dev/null || fail "imported key signature"
done
# the duplicate does not import under the wrong parent
expect_rc 0x4c4 tpm2_import -C p.ctx -u k.pub -i dup.priv -r bad.priv -s dup.seed -G aes -k inner.key

# OpenSSL keys imported under RSA and ECC parents
openssl genrsa -out ext.pem 2048 2>/dev/null
tpm2_import -C p.ctx -G rsa -i ext.pem -u ext.pub -r ext.priv >/dev/null || fail "import rsa pem"
tpm2_load -C p.ctx -u ext.pub -r ext.priv -c ext.ctx -Q || fail "load rsa pem"
tpm2_sign -c ext.ctx -g sha256 -f plain -o e.sig m || fail "sign rsa pem"
openssl dgst -sha256 -prverify ext.pem -signature e.sig m >/dev/null || fail "rsa pem signature"
openssl ecparam -name prime256v1 -genkey -noout -out ec.pem
tpm2_import -C np.ctx -G ecc -i ec.pem -u ec.pub -r ec.priv >/dev/null || fail "import ecc pem"
tpm2_load -C np.ctx -u ec.pub -r ec.priv -c ec.ctx -Q || fail "load ecc pem"
tpm2_sign -c ec.ctx -g sha256 -f plain -o ee.sig m || fail "sign ecc pem"
openssl dgst -sha256 -prverify ec.pem -signature ee.sig m >/dev/null || fail "ecc pem signature"
echo OK
