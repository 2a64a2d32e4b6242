#!/bin/bash
# NV PIN indices (Part 1, PIN Pass and PIN Fail Indices; Part 2 TPM_NT):
# the index holds pinCount and pinLimit; its authValue (the PIN) can be used
# only once written and while pinCount < pinLimit (else
# TPM_RC_AUTH_UNAVAILABLE); a PIN Fail index counts wrong PINs and a right
# one clears the count; a PIN Pass index counts uses. PolicyNV works over
# them, with the PIN or with owner authorisation.
source "$(dirname "$0")/common.bash"
counts() { tpm2_nvread "$1" -C o -s 8 | xxd -p; }
pinread() { tpm2_nvread "$1" -C "$1" -P "$2" -s 8 >/dev/null; }
start_tpm
tpm2_startup -c || fail startup

# --- PIN Fail: 3 wrong PINs allowed
F=0x1500060
tpm2_nvdefine $F -C o -s 8 -a "ownerwrite|ownerread|authread|nt=pinfail|no_da" -p pin123 \
    || fail "define PIN Fail index"
# not written yet: the PIN is unavailable
expect_rc 0x12f pinread $F pin123
printf '\0\0\0\0\0\0\0\3' | tpm2_nvwrite -C o -i - $F || fail "write pinCount=0, pinLimit=3"
pinread $F pin123 || fail "right PIN"
expect_rc 0x9a2 pinread $F wrong
expect_rc 0x9a2 pinread $F wrong
[ "$(counts $F)" = 0000000200000003 ] || fail "pinCount after two wrong PINs: $(counts $F)"
pinread $F pin123 || fail "right PIN after two wrong ones"
[ "$(counts $F)" = 0000000000000003 ] || fail "a right PIN clears pinCount: $(counts $F)"
for _ in 1 2 3; do expect_rc 0x9a2 pinread $F wrong; done
[ "$(counts $F)" = 0000000300000003 ] || fail "pinCount at the limit: $(counts $F)"
# at the limit even the right PIN is refused, and nothing changes
expect_rc 0x12f pinread $F pin123
[ "$(counts $F)" = 0000000300000003 ] || fail "pinCount moved at the limit: $(counts $F)"
# not dictionary-attack protected: the TPM is not locked out
tpm2_getcap properties-variable | grep -q "TPM2_PT_LOCKOUT_COUNTER: 0x0" || fail "DA counter moved"
# the owner resets it
printf '\0\0\0\0\0\0\0\3' | tpm2_nvwrite -C o -i - $F || fail "owner resets pinCount"
pinread $F pin123 || fail "right PIN after reset"

# --- PolicyNV over the PIN Fail index
tpm2_startauthsession -S t.ctx || fail "trial session"
printf '\0\0\0\3' | tpm2_policynv -S t.ctx -C $F -P pin123 -i- $F eq --offset 4 -L want.pol >/dev/null || fail "trial PolicyNV"
tpm2_flushcontext t.ctx
# authorised by the PIN: the policy holds only with the right PIN
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
printf '\0\0\0\3' | tpm2_policynv -S s.ctx -C $F -P pin123 -i- $F eq --offset 4 -L got.pol >/dev/null \
    || fail "PolicyNV with the PIN"
cmp -s want.pol got.pol || fail "PolicyNV digest"
tpm2_flushcontext s.ctx
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
printf '\0\0\0\3' | expect_rc 0x9a2 tpm2_policynv -S s.ctx -C $F -P wrong -i- $F eq --offset 4
tpm2_flushcontext s.ctx
[ "$(counts $F)" = 0000000100000003 ] || fail "PolicyNV with a wrong PIN counts: $(counts $F)"
# a PIN Fail index counts its failures itself: PolicySecret gives a ticket
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
tpm2_policysecret -S s.ctx -c $F -t -60 --ticket tkf.bin --timeout tof.bin pin123 >/dev/null \
    || fail "PolicySecret with the PIN Fail index"
tpm2_flushcontext s.ctx
[ -s tkf.bin ] || fail "no ticket for a PIN Fail index"
printf '\0\0\0\1\0\0\0\3' | tpm2_nvwrite -C o -i - $F || fail "pinCount back to 1"
# authorised by the owner: pinCount < pinLimit as a policy condition
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
printf '\0\0\0\3' | tpm2_policynv -S s.ctx -C o -i- $F ult --offset 0 >/dev/null || fail "PolicyNV pinCount < 3"
tpm2_flushcontext s.ctx
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
printf '\0\0\0\0' | expect_rc 0x126 tpm2_policynv -S s.ctx -C o -i- $F eq --offset 0
tpm2_flushcontext s.ctx

# --- PIN Pass: 2 uses
P=0x1500061
tpm2_nvdefine $P -C o -s 8 -a "ownerwrite|ownerread|authread|nt=pinpass|no_da" -p pass \
    || fail "define PIN Pass index"
printf '\0\0\0\0\0\0\0\2' | tpm2_nvwrite -C o -i - $P || fail "write pinCount=0, pinLimit=2"
pinread $P pass || fail "first use"
[ "$(counts $P)" = 0000000100000002 ] || fail "PIN Pass counts a use: $(counts $P)"
expect_rc 0x9a2 pinread $P wrong
[ "$(counts $P)" = 0000000100000002 ] || fail "PIN Pass does not count a failure: $(counts $P)"
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
printf '\0\0\0\2' | tpm2_policynv -S s.ctx -C $P -P pass -i- $P eq --offset 4 >/dev/null \
    || fail "PolicyNV with the PIN Pass index"
tpm2_flushcontext s.ctx
[ "$(counts $P)" = 0000000200000002 ] || fail "PolicyNV use counted: $(counts $P)"
expect_rc 0x12f pinread $P pass
# PolicySecret with the PIN counts a use and never yields a ticket that
# would let the PIN be used uncounted (hierarchy TPM_RH_NULL, no digest)
printf '\0\0\0\0\0\0\0\2' | tpm2_nvwrite -C o -i - $P || fail "reset PIN Pass"
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
tpm2_policysecret -S s.ctx -c $P -t -60 --ticket tk.bin --timeout to.bin pass >/dev/null \
    || fail "PolicySecret with the PIN Pass index"
tpm2_flushcontext s.ctx
# (tpm2_policysecret writes no ticket file for a NULL ticket)
[ -e tk.bin ] && fail "PolicySecret gave a ticket for a PIN Pass index: $(xxd -p tk.bin)"
[ "$(counts $P)" = 0000000100000002 ] || fail "PolicySecret use counted: $(counts $P)"
printf '\0\0\0\2' | tpm2_nvwrite -C o -i - --offset 0 $P || fail "pinCount back to the limit"
# the counts are kept across a restart of the process
PORT=$PORT
stop_tpm
start_tpm
tpm2_startup -c || fail "startup after restart"
[ "$(counts $P)" = 0000000200000002 ] || fail "PIN Pass count after restart: $(counts $P)"
expect_rc 0x12f pinread $P pass

# --- PIN Pass authorised by a policy session: PolicyAuthValue and
# PolicyPassword use the PIN too, so the same pinCount < pinLimit check
# refuses them at the limit (TPM_RC_AUTH_UNAVAILABLE) and each use counts
Q=0x1500063
tpm2_startauthsession -S t.ctx || fail "trial session"
tpm2_policyauthvalue -S t.ctx -L av.pol -Q || fail "trial PolicyAuthValue"
tpm2_flushcontext t.ctx
tpm2_nvdefine $Q -C o -s 8 -L av.pol -a "ownerwrite|ownerread|authread|policyread|nt=pinpass|no_da" -p pass \
    || fail "define PIN Pass index with a PolicyAuthValue policy"
printf '\0\0\0\0\0\0\0\1' | tpm2_nvwrite -C o -i - $Q || fail "write pinCount=0, pinLimit=1"
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
tpm2_policyauthvalue -S s.ctx -Q || fail "PolicyAuthValue"
tpm2_nvread $Q -C $Q -P session:s.ctx+pass -s 8 >/dev/null || fail "PolicyAuthValue use below the limit"
tpm2_flushcontext s.ctx
[ "$(counts $Q)" = 0000000100000001 ] || fail "PolicyAuthValue use counted: $(counts $Q)"
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
tpm2_policyauthvalue -S s.ctx -Q || fail "PolicyAuthValue"
expect_rc 0x12f tpm2_nvread $Q -C $Q -P session:s.ctx+pass -s 8
tpm2_flushcontext s.ctx
[ "$(counts $Q)" = 0000000100000001 ] || fail "PolicyAuthValue use at the limit: $(counts $Q)"
# PolicyPassword gives the same policy digest (Part 3, PolicyPassword)
tpm2_startauthsession -S s.ctx --policy-session || fail "policy session"
tpm2_policypassword -S s.ctx -Q || fail "PolicyPassword"
expect_rc 0x12f tpm2_nvread $Q -C $Q -P session:s.ctx+pass -s 8
tpm2_flushcontext s.ctx
[ "$(counts $Q)" = 0000000100000001 ] || fail "PolicyPassword use at the limit: $(counts $Q)"
expect_rc 0x12f pinread $Q pass

# --- attribute rules (TPM_RC_ATTRIBUTES on publicInfo, 0x2c2; tpm2_nvdefine
# itself refuses a size other than 8)
expect_rc 0x2c2 tpm2_nvdefine 0x1500062 -C o -s 8 -a "ownerwrite|ownerread|authread|nt=pinfail" -p x
expect_rc 0x2c2 tpm2_nvdefine 0x1500062 -C o -s 8 -a "authwrite|ownerread|authread|nt=pinpass" -p x
# a PIN index cannot be a session's bind entity (TPM_RC_HANDLE, handle 2)
expect_rc 0x28b tpm2_startauthsession -S b.ctx --hmac-session --bind-context $F --bind-auth pin123
echo OK
