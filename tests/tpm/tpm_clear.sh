#!/bin/bash
# TPM2_Clear (Part 3 §24.6; Part 2 TPMS_CLOCK_INFO): Clock, resetCount and
# restartCount go back to zero and Safe is YES; a PolicyCounterTimer on
# resetCount sees the new value; PCR policies are invalidated; the owner's
# auth, objects and NV indices are gone.
source "$(dirname "$0")/common.bash"
field() { tpm2_readclock | awk -v f="$1:" '$1 == f {print $2; exit}'; }

start_tpm
tpm2_startup -c || fail startup
# two TPM Resets and one TPM Restart
power_cycle; tpm2_startup -c || fail "startup after reset"
power_cycle; tpm2_startup -c || fail "startup after reset 2"
tpm2_shutdown || fail "shutdown(STATE)"
power_cycle; tpm2_startup -c || fail "startup (restart)"
tpm2_setclock $(( $(field clock) + 5000000 )) || fail "setclock"
[ "$(field reset_count)" -ge 2 ] || fail "resetCount did not count"
[ "$(field restart_count)" -ge 1 ] || fail "restartCount did not count"
[ "$(field clock)" -ge 5000000 ] || fail "clock not set"

tpm2_changeauth -c o ownerpw || fail "owner auth"
tpm2_nvdefine 0x1500030 -C o -P ownerpw -s 8 -a "ownerread|ownerwrite" || fail nvdefine
tpm2_clear -c p || fail clear

[ "$(field reset_count)" = 0 ] || fail "resetCount after Clear: $(field reset_count)"
[ "$(field restart_count)" = 0 ] || fail "restartCount after Clear: $(field restart_count)"
[ "$(field clock)" -lt 5000000 ] || fail "Clock not reset by Clear: $(field clock)"
tpm2_readclock | grep -q "safe: yes" || fail "Safe after Clear"
expect_rc 0x18b tpm2_nvread 0x1500030 -C o
tpm2_createprimary -C o -c p.ctx -Q || fail "owner auth not reset by Clear"

# PolicyCounterTimer on resetCount (offset 16 of TPMS_TIME_INFO) now passes
# with 0 and fails with the earlier value
tpm2_startauthsession -S s.ctx --policy-session || fail startauthsession
tpm2_policycountertimer -S s.ctx --eq resets=0 >/dev/null || fail "PolicyCounterTimer resets=0 after Clear"
tpm2_flushcontext s.ctx
tpm2_startauthsession -S s.ctx --policy-session || fail startauthsession
expect_rc 0x126 tpm2_policycountertimer -S s.ctx --eq resets=2
tpm2_flushcontext s.ctx

# the counts start again from zero
power_cycle; tpm2_startup -c || fail "startup after Clear"
[ "$(field reset_count)" = 1 ] || fail "resetCount after Clear and one reset: $(field reset_count)"
echo OK
