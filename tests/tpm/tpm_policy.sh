#!/bin/bash
# Sealing to a PCR policy, policyor / policyauthorize, salted sessions with
# parameter encryption.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
tpm2_createprimary -C o -c prim.ctx -Q || fail createprimary
echo -n "top secret" > secret

# seal (create -i) to PCR 0, unseal, extend, unseal fails with a policy error
tpm2_createpolicy --policy-pcr -l sha256:0 -L pcr.policy -Q || fail "createpolicy"
tpm2_create -C prim.ctx -i secret -L pcr.policy -a "fixedtpm|fixedparent" \
    -u seal.pub -r seal.priv -Q || fail "seal"
tpm2_load -C prim.ctx -u seal.pub -r seal.priv -c seal.ctx -Q || fail "load sealed"
out=$(tpm2_unseal -c seal.ctx -p pcr:sha256:0) || fail "unseal"
[ "$out" = "top secret" ] || fail "unsealed '$out'"
tpm2_pcrextend 0:sha256=0000000000000000000000000000000000000000000000000000000000000001 || fail extend
if tpm2_unseal -c seal.ctx -p pcr:sha256:0 >unseal.out 2>unseal.err; then fail "unseal after extend"; fi
grep -qi "policy" unseal.err || fail "unseal failed without a policy error: $(cat unseal.err)"
# without userWithAuth a password cannot replace the policy
expect_rc 0x12f tpm2_unseal -c seal.ctx

# policyor: either of two PCR-16 states opens the object
tpm2_pcrreset 16
tpm2_startauthsession -S t.ctx || fail "trial session"
tpm2_policypcr -S t.ctx -l sha256:16 -L pol1 -Q || fail "policypcr trial 1"
tpm2_flushcontext t.ctx
tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000002
tpm2_startauthsession -S t.ctx || fail "trial 2"
tpm2_policypcr -S t.ctx -l sha256:16 -L pol2 -Q || fail "policypcr trial 2"
tpm2_flushcontext t.ctx
tpm2_startauthsession -S t.ctx || fail "trial 3"
tpm2_policyor -S t.ctx -L or.policy -l sha256:pol1,pol2 -Q || fail "policyor trial"
tpm2_flushcontext t.ctx
tpm2_create -C prim.ctx -i secret -L or.policy -a "fixedtpm|fixedparent" -u or.pub -r or.priv -Q || fail "seal or"
tpm2_load -C prim.ctx -u or.pub -r or.priv -c or.ctx -Q || fail "load or"
unseal_or() {
    tpm2_startauthsession --policy-session -S p.ctx || return 1
    tpm2_policypcr -S p.ctx -l sha256:16 -Q || { tpm2_flushcontext p.ctx; return 1; }
    tpm2_policyor -S p.ctx -l sha256:pol1,pol2 -Q || { tpm2_flushcontext p.ctx; return 1; }
    tpm2_unseal -c or.ctx -p session:p.ctx > or.out; local rc=$?
    tpm2_flushcontext p.ctx
    return $rc
}
unseal_or || fail "policyor branch 2"
[ "$(cat or.out)" = "top secret" ] || fail "policyor data"
tpm2_pcrreset 16
unseal_or || fail "policyor branch 1"
tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000003
if unseal_or 2>/dev/null; then fail "policyor with a third PCR state"; fi

# policyauthorize: a policy signed by an authority key opens the object
openssl genrsa -out auth.key 2048 2>/dev/null
openssl rsa -in auth.key -pubout -out auth.pub.pem 2>/dev/null
tpm2_loadexternal -G rsa -C o -u auth.pub.pem -c authkey.ctx -n authkey.name -Q || fail "loadexternal"
tpm2_startauthsession -S t.ctx || fail "trial 4"
tpm2_policyauthorize -S t.ctx -L authorize.policy -n authkey.name -Q || fail "policyauthorize trial"
tpm2_flushcontext t.ctx
tpm2_create -C prim.ctx -i secret -L authorize.policy -a "fixedtpm|fixedparent" -u az.pub -r az.priv -Q || fail "seal authorize"
tpm2_load -C prim.ctx -u az.pub -r az.priv -c az.ctx -Q || fail "load authorize"
tpm2_pcrreset 16
tpm2_startauthsession -S t.ctx || fail "trial 5"
tpm2_policypcr -S t.ctx -l sha256:16 -L approved.policy -Q || fail "approved trial"
tpm2_flushcontext t.ctx
openssl dgst -sha256 -sign auth.key -out approved.sig approved.policy || fail "sign policy"
tpm2_verifysignature -c authkey.ctx -g sha256 -m approved.policy -s approved.sig -f rsassa -t ticket.bin -Q \
    || fail "verifysignature policy"
tpm2_startauthsession --policy-session -S p.ctx || fail "policy session"
tpm2_policypcr -S p.ctx -l sha256:16 -Q || fail "policypcr"
tpm2_policyauthorize -S p.ctx -i approved.policy -n authkey.name -t ticket.bin -Q || fail "policyauthorize"
out=$(tpm2_unseal -c az.ctx -p session:p.ctx) || fail "unseal authorize"
tpm2_flushcontext p.ctx
[ "$out" = "top secret" ] || fail "authorize data"
# a different (unsigned) PCR state is not approved
tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000004
tpm2_startauthsession --policy-session -S p.ctx
tpm2_policypcr -S p.ctx -l sha256:16 -Q
expect_rc 0x1c4 tpm2_policyauthorize -S p.ctx -i approved.policy -n authkey.name -t ticket.bin
tpm2_flushcontext p.ctx

# salted (RSA and ECC) HMAC sessions with parameter encryption
tpm2_create -C prim.ctx -i secret -u pw.pub -r pw.priv -p sealpw -Q || fail "seal with password"
tpm2_load -C prim.ctx -u pw.pub -r pw.priv -c pw.ctx -Q || fail "load pw"
tpm2_createprimary -C o -G ecc -c eprim.ctx -Q || fail "ecc primary"
for key in prim.ctx eprim.ctx; do
    tpm2_startauthsession --hmac-session -S s.ctx -c "$key" || fail "salted session $key"
    tpm2_sessionconfig s.ctx --enable-encrypt --enable-decrypt || fail "sessionconfig"
    r=$(tpm2_getrandom -S s.ctx --hex 16) || fail "getrandom through session"
    [ ${#r} -eq 32 ] || fail "getrandom length"
    out=$(tpm2_unseal -c pw.ctx -p sealpw -S s.ctx) || fail "unseal through encrypted session"
    [ "$out" = "top secret" ] || fail "decrypted unseal '$out'"
    expect_rc 0x98e tpm2_unseal -c pw.ctx -p wrongpw -S s.ctx
    tpm2_flushcontext s.ctx 2>/dev/null
done
echo OK
