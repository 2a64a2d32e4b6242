#!/bin/bash
# Keyed-hash objects whose template has both sign and decrypt and the NULL
# scheme (tpm2_create -G keyedhash's default): the scheme is chosen when
# the key is used (Part 2, TPMS_KEYEDHASH_PARMS). The attribute/scheme
# combinations the spec forbids are still refused with their codes.
source "$(dirname "$0")/common.bash"
start_tpm_primary

tpm2_create -C p.ctx -G keyedhash -u k.pub -r k.priv -Q || fail "create keyedhash with default attributes"
tpm2_print -t TPM2B_PUBLIC k.pub > k.txt || fail "print public"
grep -q "decrypt|sign" k.txt || fail "template lost sign|decrypt"
tpm2_load -C p.ctx -u k.pub -r k.priv -c k.ctx -Q || fail load
echo "message" > d
# the hash is the caller's choice, since the key has no scheme
tpm2_hmac -c k.ctx -g sha256 -o m256 d || fail "hmac sha256"
tpm2_hmac -c k.ctx -g sha384 -o m384 d || fail "hmac sha384"
[ "$(stat -c %s m256)" -eq 32 ] && [ "$(stat -c %s m384)" -eq 48 ] || fail "HMAC sizes"
tpm2_sign -c k.ctx -g sha256 -o s.sig d || fail "sign with a NULL-scheme keyed-hash key"
tpm2_verifysignature -c k.ctx -g sha256 -m d -s s.sig || fail "verify"
# also as a primary
tpm2_createprimary -C o -G keyedhash -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|decrypt" \
    -c kp.ctx -Q || fail "createprimary keyedhash"
tpm2_hmac -c kp.ctx -g sha256 -o mp d || fail "hmac with primary"

# must-fail: sign|decrypt with a named scheme (TPM_RC_SCHEME, parameter 2)
expect_rc 0x2d2 tpm2_create -C p.ctx -G hmac -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|decrypt" \
    -u x.pub -r x.priv
# must-fail: restricted with sign|decrypt (TPM_RC_ATTRIBUTES, parameter 2)
expect_rc 0x2c2 tpm2_create -C p.ctx -G keyedhash \
    -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|decrypt" -u x.pub -r x.priv
# must-fail: a restricted signing key names its scheme (TPM_RC_SCHEME, parameter 2)
expect_rc 0x2d2 tpm2_create -C p.ctx -G keyedhash \
    -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign" -u x.pub -r x.priv
echo OK
