#!/bin/bash
# PolicySigned, PolicyNV, PolicySecret, PolicyCommandCode, PolicyPassword /
# PolicyAuthValue, NV_Certify, ChangeEPS.
source "$(dirname "$0")/common.bash"
start_tpm_primary
echo -n secret > secret

# PolicySigned with an external RSA key held by OpenSSL
openssl genrsa -out sk.pem 2048 2>/dev/null
openssl rsa -in sk.pem -pubout -out sk.pub.pem 2>/dev/null
tpm2_loadexternal -C o -G rsa -u sk.pub.pem -c sk.ctx -Q || fail loadexternal
tpm2_startauthsession -S t.ctx || fail trial
tpm2_policysigned -S t.ctx -c sk.ctx -L ps.pol -Q || fail "policysigned trial"
tpm2_flushcontext t.ctx
tpm2_create -C p.ctx -i secret -L ps.pol -a "fixedtpm|fixedparent" -u ps.pub -r ps.priv -Q || fail "seal ps"
tpm2_load -C p.ctx -u ps.pub -r ps.priv -c ps.ctx -Q || fail "load ps"
tpm2_startauthsession --policy-session -S s.ctx || fail session
tpm2_policysigned -S s.ctx -g sha256 -c sk.ctx -x --raw-data tosign.bin -Q || fail "policysigned raw"
openssl dgst -sha256 -sign sk.pem -out good.sig tosign.bin
openssl genrsa -out other.pem 2048 2>/dev/null
openssl dgst -sha256 -sign other.pem -out bad.sig tosign.bin
expect_rc 0x5db tpm2_policysigned -S s.ctx -g sha256 -s bad.sig -f rsassa -c sk.ctx -x
tpm2_policysigned -S s.ctx -g sha256 -s good.sig -f rsassa -c sk.ctx -x -Q || fail "policysigned"
[ "$(tpm2_unseal -c ps.ctx -p session:s.ctx)" = secret ] || fail "unseal policysigned"
tpm2_flushcontext s.ctx

# PolicyNV: the object opens only while the index holds 5
tpm2_nvdefine 0x1500030 -C o -s 4 -a "ownerread|ownerwrite|authread|authwrite" || fail nvdefine
printf '\x00\x00\x00\x05' > v5; printf '\x00\x00\x00\x06' > v6
tpm2_nvwrite 0x1500030 -C o -i v5 || fail nvwrite
tpm2_startauthsession -S t.ctx
tpm2_policynv -S t.ctx -i v5 -C o 0x1500030 eq -L nv.pol -Q || fail "policynv trial"
tpm2_flushcontext t.ctx
tpm2_create -C p.ctx -i secret -L nv.pol -a "fixedtpm|fixedparent" -u nv.pub -r nv.priv -Q || fail "seal nv"
tpm2_load -C p.ctx -u nv.pub -r nv.priv -c nv.ctx -Q || fail "load nv"
tpm2_startauthsession --policy-session -S s.ctx
tpm2_policynv -S s.ctx -i v5 -C o 0x1500030 eq -Q || fail "policynv eq"
[ "$(tpm2_unseal -c nv.ctx -p session:s.ctx)" = secret ] || fail "unseal policynv"
tpm2_flushcontext s.ctx
tpm2_startauthsession --policy-session -S s.ctx
expect_rc 0x126 tpm2_policynv -S s.ctx -i v6 -C o 0x1500030 eq
tpm2_policynv -S s.ctx -i v6 -C o 0x1500030 ult -Q || fail "policynv unsigned less-than"
tpm2_flushcontext s.ctx

# PolicyCommandCode + PolicyPassword: only Unseal, only with the password
tpm2_startauthsession -S t.ctx
tpm2_policycommandcode -S t.ctx TPM2_CC_Unseal -Q || fail "policycommandcode trial"
tpm2_policypassword -S t.ctx -L pw.pol -Q || fail "policypassword trial"
tpm2_flushcontext t.ctx
tpm2_create -C p.ctx -i secret -L pw.pol -p objpw -a "fixedtpm|fixedparent" -u pw.pub -r pw.priv -Q || fail "seal pw"
tpm2_load -C p.ctx -u pw.pub -r pw.priv -c pw.ctx -Q || fail "load pw"
tpm2_startauthsession --policy-session -S s.ctx
tpm2_policycommandcode -S s.ctx TPM2_CC_Unseal -Q
tpm2_policypassword -S s.ctx -Q
expect_rc 0x98e tpm2_unseal -c pw.ctx -p session:s.ctx+wrongpw
tpm2_flushcontext s.ctx 2>/dev/null
tpm2_startauthsession --policy-session -S s.ctx
tpm2_policycommandcode -S s.ctx TPM2_CC_Unseal -Q
tpm2_policypassword -S s.ctx -Q
[ "$(tpm2_unseal -c pw.ctx -p session:s.ctx+objpw)" = secret ] || fail "unseal policypassword"
tpm2_flushcontext s.ctx

# NV_Certify signed by an AK verifies with OpenSSL
tpm2_createek -c ek.ctx -G rsa -u ek.pub -Q || fail createek
tpm2_createak -C ek.ctx -c ak.ctx -u ak.pub -f pem -n ak.name -Q || fail createak
tpm2_nvcertify -C ak.ctx -c o -g sha256 -o nvc.sig --attestation nvc.att -f plain --size 4 0x1500030 \
    || fail nvcertify
openssl dgst -sha256 -verify ak.pub -signature nvc.sig nvc.att >/dev/null || fail "nvcertify signature"
tail -c 6 nvc.att | xxd -p | grep -q "000400000005" || fail "nvcertify contents"

# ChangeEPS gives a new endorsement key
tpm2_readpublic -c ek.ctx -f pem -o ek1.pem -Q
tpm2_changeeps || fail changeeps
tpm2_createek -c ek2.ctx -G rsa -u ek2.pub -Q || fail "createek after changeeps"
tpm2_readpublic -c ek2.ctx -f pem -o ek2.pem -Q
cmp -s ek1.pem ek2.pem && fail "EK unchanged after ChangeEPS"
echo OK
