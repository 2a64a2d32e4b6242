#!/bin/bash
# NV counters (Part 1, Counter Index; Part 3 §31.8): the first NV_Increment of a new
# counter index starts from the highest value any counter on this TPM has
# held, deleted ones included; the high-water mark survives undefine/define
# and a restart of the process.
source "$(dirname "$0")/common.bash"
cval() { tpm2_nvread "$1" -C o | xxd -p; }
start_tpm
tpm2_startup -c || fail startup
tpm2_nvdefine 0x1500040 -C o -s 8 -a "ownerread|ownerwrite|nt=counter" || fail "define A"
for _ in 1 2 3 4 5 6 7; do tpm2_nvincrement 0x1500040 -C o || fail "increment A"; done
[ "$(cval 0x1500040)" = 0000000000000007 ] || fail "A = $(cval 0x1500040)"

# a second counter, defined while A exists, starts above A
tpm2_nvdefine 0x1500041 -C o -s 8 -a "ownerread|ownerwrite|nt=counter" || fail "define B"
tpm2_nvincrement 0x1500041 -C o || fail "increment B"
[ "$(cval 0x1500041)" = 0000000000000008 ] || fail "B starts at $(cval 0x1500041), want 8"

# A deleted and defined again does not go back to 1
tpm2_nvundefine 0x1500040 -C o || fail "undefine A"
tpm2_nvundefine 0x1500041 -C o || fail "undefine B"
tpm2_nvdefine 0x1500040 -C o -s 8 -a "ownerread|ownerwrite|nt=counter" || fail "define A again"
tpm2_nvincrement 0x1500040 -C o || fail "increment A again"
[ "$(cval 0x1500040)" = 0000000000000009 ] || fail "A after undefine/define: $(cval 0x1500040), want 9"
tpm2_nvundefine 0x1500040 -C o || fail "undefine A again"

# the mark survives a restart of the process, with no counter left defined
PORT=$PORT
stop_tpm
start_tpm
tpm2_startup -c || fail "startup after restart"
tpm2_nvdefine 0x1500042 -C o -s 8 -a "ownerread|ownerwrite|nt=counter" || fail "define C"
tpm2_nvincrement 0x1500042 -C o || fail "increment C"
[ "$(cval 0x1500042)" = 000000000000000a ] || fail "C after restart: $(cval 0x1500042), want 10"
# and Clear keeps it: counters stay monotonic for the next owner
tpm2_clear -c p || fail clear
tpm2_nvdefine 0x1500043 -C o -s 8 -a "ownerread|ownerwrite|nt=counter" || fail "define D"
tpm2_nvincrement 0x1500043 -C o || fail "increment D"
[ "$(cval 0x1500043)" = 000000000000000b ] || fail "D after Clear: $(cval 0x1500043), want 11"
echo OK
