#!/bin/bash
# PolicyAuthorizeNV, PolicyNvWritten, PolicyTemplate, PolicyCounterTimer,
# NV_GlobalWriteLock, ClockRateAdjust.
source "$(dirname "$0")/common.bash"
start_tpm_primary
echo -n secret > secret

# PolicyAuthorizeNV: the approved policy lives in an NV index as a TPMT_HA
tpm2_startauthsession -S t.ctx; tpm2_policypcr -S t.ctx -l sha256:0 -L pcr.pol -Q; tpm2_flushcontext t.ctx
tpm2_nvdefine 0x1500040 -C o -s 34 -a "ownerread|ownerwrite|authread|authwrite" >/dev/null || fail nvdefine
(printf '\x00\x0b'; cat pcr.pol) > pa.bin
tpm2_nvwrite 0x1500040 -C o -i pa.bin || fail nvwrite
tpm2_startauthsession -S t.ctx
tpm2_policyauthorizenv -S t.ctx -C o -L anv.pol 0x1500040 >/dev/null || fail "policyauthorizenv trial"
tpm2_flushcontext t.ctx
tpm2_create -C p.ctx -i secret -L anv.pol -a "fixedtpm|fixedparent" -u a.pub -r a.priv -Q || fail seal
tpm2_load -C p.ctx -u a.pub -r a.priv -c a.ctx -Q || fail load
tpm2_startauthsession --policy-session -S s.ctx
tpm2_policypcr -S s.ctx -l sha256:0 -Q
tpm2_policyauthorizenv -S s.ctx -C o 0x1500040 >/dev/null || fail "policyauthorizenv"
[ "$(tpm2_unseal -c a.ctx -p session:s.ctx)" = secret ] || fail "unseal authorizenv"
tpm2_flushcontext s.ctx
# another policy is not the approved one
tpm2_startauthsession --policy-session -S s.ctx
tpm2_policypcr -S s.ctx -l sha256:1 -Q
expect_rc 0x84 tpm2_policyauthorizenv -S s.ctx -C o 0x1500040
tpm2_flushcontext s.ctx

# PolicyNvWritten: the index may be written once through its policy
tpm2_startauthsession -S t.ctx
tpm2_policycommandcode -S t.ctx TPM2_CC_NV_Write -Q
tpm2_policynvwritten -S t.ctx -L w.pol c >/dev/null || fail "policynvwritten trial"
tpm2_flushcontext t.ctx
tpm2_nvdefine 0x1500041 -C o -s 4 -a "ownerread|policywrite|authread" -L w.pol >/dev/null || fail "nvdefine policy"
write_once() {
    tpm2_startauthsession --policy-session -S s.ctx
    tpm2_policycommandcode -S s.ctx TPM2_CC_NV_Write -Q
    tpm2_policynvwritten -S s.ctx c >/dev/null
    echo -n abcd | tpm2_nvwrite 0x1500041 -P session:s.ctx -i-; local rc=$?
    tpm2_flushcontext s.ctx 2>/dev/null
    return $rc
}
write_once || fail "first write"
if write_once 2>/dev/null; then fail "second write allowed"; fi

# PolicyTemplate: a parent whose policy admits one child template only
tpm2_create -C p.ctx -G ecc -u tk.pub -r tk.priv --template-data tmpl.bin -Q || fail "template sample"
/usr/bin/python3 - tmpl.bin <<'PY' || fail "template hash"
import hashlib, sys
b = open(sys.argv[1], "rb").read()
# --template-data is a TPMT_PUBLIC or a TPM2B_PUBLIC; hash the TPMT_PUBLIC
if int.from_bytes(b[:2], "big") == len(b) - 2:
    b = b[2:]
open("tmpl.hash", "wb").write(hashlib.sha256(b).digest())
PY
tpm2_startauthsession -S t.ctx
tpm2_policytemplate -S t.ctx -L tp.pol --template-hash tmpl.hash >/dev/null || fail "policytemplate trial"
tpm2_flushcontext t.ctx
tpm2_create -C p.ctx -G rsa2048 -L tp.pol -u par.pub -r par.priv \
    -a "fixedtpm|fixedparent|sensitivedataorigin|restricted|decrypt" -Q || fail "create policy parent"
tpm2_load -C p.ctx -u par.pub -r par.priv -c par.ctx -Q || fail "load policy parent"
create_child() { # alg
    tpm2_startauthsession --policy-session -S s.ctx
    tpm2_policytemplate -S s.ctx --template-hash tmpl.hash >/dev/null
    tpm2_create -C par.ctx -P session:s.ctx -G "$1" -u ch.pub -r ch.priv -Q; local rc=$?
    tpm2_flushcontext s.ctx 2>/dev/null
    return $rc
}
create_child ecc || fail "create with the admitted template"
if create_child rsa2048 2>/dev/null; then fail "create with another template"; fi

# PolicyCounterTimer: the clock is below 2^40 ms and above 0; restarts = 0
tpm2_startauthsession --policy-session -S s.ctx
tpm2_policycountertimer -S s.ctx safe >/dev/null || fail "countertimer safe"
tpm2_policycountertimer -S s.ctx --ult clock=1099511627776 >/dev/null || fail "countertimer clock <"
tpm2_policycountertimer -S s.ctx restarts=0 >/dev/null || fail "countertimer restarts"
expect_rc 0x126 tpm2_policycountertimer -S s.ctx --ugt clock=1099511627776
expect_rc 0x126 tpm2_policycountertimer -S s.ctx resets=7
tpm2_flushcontext s.ctx

# PolicySecret with a negative expiration earns a ticket; PolicyTicket
# replays it in another session; a ticket for another name is refused;
# a positive expiration makes the session expire.
tpm2_startauthsession -S t.ctx
tpm2_policysecret -S t.ctx -c o -L sec.pol -Q || fail "policysecret trial"
tpm2_flushcontext t.ctx
tpm2_create -C p.ctx -i secret -L sec.pol -a "fixedtpm|fixedparent" -u sec.pub -r sec.priv -Q || fail "seal secret"
tpm2_load -C p.ctx -u sec.pub -r sec.priv -c sec.ctx -Q || fail "load secret"
tpm2_startauthsession --policy-session -S ps.ctx
tpm2_policysecret -S ps.ctx -c o -t -100 --ticket tic.bin --timeout to.bin -Q || fail "policysecret with ticket"
[ "$(tpm2_unseal -c sec.ctx -p session:ps.ctx)" = secret ] || fail "unseal policysecret"
tpm2_flushcontext ps.ctx
printf '\x40\x00\x00\x01' > owner.name
printf '\x40\x00\x00\x0b' > endorsement.name
tpm2_startauthsession --policy-session -S ps.ctx
expect_rc 0x5e0 tpm2_policyticket -S ps.ctx -n endorsement.name --ticket tic.bin --timeout to.bin
tpm2_policyticket -S ps.ctx -n owner.name --ticket tic.bin --timeout to.bin || fail policyticket
[ "$(tpm2_unseal -c sec.ctx -p session:ps.ctx)" = secret ] || fail "unseal policyticket"
tpm2_flushcontext ps.ctx
tpm2_startauthsession --policy-session -S ps.ctx
tpm2_policysecret -S ps.ctx -c o -t 1 -Q || fail "policysecret expiring"
sleep 1.5
if tpm2_unseal -c sec.ctx -p session:ps.ctx >/dev/null 2>exp.err; then fail "expired policy used"; fi
grep -qi "expire" exp.err || fail "no expiry error: $(cat exp.err)"
tpm2_flushcontext ps.ctx 2>/dev/null

# NV_GlobalWriteLock locks GLOBALLOCK indices until the next Startup
tpm2_nvdefine 0x1500042 -C o -s 4 -a "ownerread|ownerwrite|globallock" >/dev/null || fail "nvdefine globallock"
echo -n abcd | tpm2_nvwrite 0x1500042 -C o -i- || fail "write before global lock"
tpm2_nvwritelock -C o --global || fail "global lock"
if echo -n abcd | tpm2_nvwrite 0x1500042 -C o -i- 2>/dev/null; then fail "write after global lock"; fi
tpm2_clockrateadjust s || fail clockrateadjust
echo OK
