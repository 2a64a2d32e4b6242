#!/bin/bash
# State: kill -9 and restart keeps persistent objects, NV, counters and
# primary keys; Startup(CLEAR) resets PCRs; Shutdown(STATE)+Startup(STATE)
# resumes PCRs and saved sessions.
source "$(dirname "$0")/common.bash"

start_tpm
tpm2_startup -c || fail startup
tpm2_createprimary -C o -c p.ctx -f pem -o p1.pem -Q || fail createprimary
tpm2_createprimary -C e -G ecc -c e.ctx -f pem -o e1.pem -Q || fail "createprimary e"
tpm2_evictcontrol -C o -c p.ctx 0x81000010 >/dev/null || fail evictcontrol
tpm2_readpublic -c 0x81000010 -f pem -o persist1.pem -Q || fail readpublic
tpm2_nvdefine 0x1500020 -C o -s 16 -a "ownerread|ownerwrite" || fail nvdefine
echo -n "0123456789abcdef" > d
tpm2_nvwrite 0x1500020 -C o -i d || fail nvwrite
tpm2_nvdefine 0x1500021 -C o -s 8 -a "ownerread|ownerwrite|nt=counter" || fail counter
for _ in 1 2 3 4 5; do tpm2_nvincrement 0x1500021 -C o || fail nvincrement; done
tpm2_changeauth -c e endpw || fail "endorsement auth"

kill9_tpm
start_tpm
tpm2_startup -c || fail "startup after kill -9"
tpm2_readpublic -c 0x81000010 -f pem -o persist2.pem -Q || fail "persistent object lost"
cmp -s persist1.pem persist2.pem || fail "persistent object changed"
[ "$(tpm2_nvread 0x1500020 -C o 2>/dev/null)" = "0123456789abcdef" ] || fail "NV data lost"
[ "$(tpm2_nvread 0x1500021 -C o 2>/dev/null | xxd -p)" = "0000000000000005" ] || fail "counter lost"
tpm2_createprimary -C o -c p2.ctx -f pem -o p2.pem -Q || fail "createprimary after restart"
cmp -s p1.pem p2.pem || fail "owner primary changed across restart"
expect_rc 0x9a2 tpm2_createprimary -C e -G ecc -c e2.ctx -Q
tpm2_createprimary -C e -P endpw -G ecc -c e2.ctx -f pem -o e2.pem -Q || fail "endorsement auth lost"
cmp -s e1.pem e2.pem || fail "endorsement primary changed"

# kill -9 while the counter is being incremented: old or new state, never broken
( for _ in $(seq 200); do tpm2_nvincrement 0x1500021 -C o 2>/dev/null || break; done ) &
LOOP=$!
sleep 0.7
kill9_tpm
wait $LOOP 2>/dev/null
start_tpm
tpm2_startup -c || fail "startup after kill -9 during writes"
v=$(tpm2_nvread 0x1500021 -C o 2>/dev/null | xxd -p) || fail "counter unreadable after crash"
[ $((16#$v)) -ge 5 ] || fail "counter went back: $v"
tpm2_readpublic -c 0x81000010 -Q || fail "persistent object lost after crash"

# Startup(CLEAR) after a power cycle resets PCRs
tpm2_pcrextend 0:sha256=0000000000000000000000000000000000000000000000000000000000000001 || fail extend
ext=$(tpm2_pcrread sha256:0 -o x.bin >/dev/null && xxd -p -c 64 x.bin)
tpm2_shutdown -c || fail "shutdown clear"
power_cycle
tpm2_startup -c || fail "startup clear"
z=$(tpm2_pcrread sha256:0 -o x.bin >/dev/null && xxd -p -c 64 x.bin)
[ "$z" = "$(printf '0%.0s' $(seq 64))" ] || fail "PCR 0 not reset by Startup(CLEAR)"

# Shutdown(STATE) + Startup(STATE) resumes PCRs and saved sessions
tpm2_pcrextend 0:sha256=0000000000000000000000000000000000000000000000000000000000000001 || fail extend
tpm2_startauthsession --hmac-session -S sess.ctx || fail "session"
tpm2_shutdown || fail "shutdown state"
power_cycle
tpm2_startup || fail "startup state"
r=$(tpm2_pcrread sha256:0 -o x.bin >/dev/null && xxd -p -c 64 x.bin)
[ "$r" = "$ext" ] || fail "PCR 0 not resumed: $r"
tpm2_getrandom -S sess.ctx 8 -o rnd || fail "saved session not resumed"
# ... also when the process itself is restarted between Shutdown and Startup
tpm2_pcrextend 0:sha256=0000000000000000000000000000000000000000000000000000000000000002 || fail extend
ext2=$(tpm2_pcrread sha256:0 -o x.bin >/dev/null && xxd -p -c 64 x.bin)
tpm2_startauthsession --hmac-session -S sess2.ctx || fail "session 2"
tpm2_shutdown || fail "shutdown state 2"
stop_tpm
start_tpm
tpm2_startup || fail "startup state after process restart"
r=$(tpm2_pcrread sha256:0 -o x.bin >/dev/null && xxd -p -c 64 x.bin)
[ "$r" = "$ext2" ] || fail "PCR 0 not resumed after process restart"
tpm2_getrandom -S sess2.ctx 8 -o rnd || fail "saved session not resumed after process restart"
# Startup(STATE) without Shutdown(STATE) is refused; a TPM Reset drops sessions
power_cycle
expect_rc 0x1c4 tpm2_startup
tpm2_startup -c || fail "startup clear 2"
expect_rc 0x1cb tpm2_getrandom -S sess.ctx 8 -o rnd

# The state file is an explicit format: magic, major/minor version, records.
stop_tpm
[ "$(head -c 12 "$STATE/tpm-state" | xxd -p)" = "54535254504d535400010000" ] ||
    fail "state file header is not TSRTPMST 1.0"
cp "$STATE/tpm-state" good-state
# A file of another (newer) format version, with a valid checksum, is refused:
# the TPM stays in failure mode and the file is never overwritten.
/usr/bin/python3 - "$STATE/tpm-state" <<'PY' || fail "rewrite version"
import hashlib, sys
b = bytearray(open(sys.argv[1], "rb").read())
b[8:10] = (2).to_bytes(2, "big")
body = bytes(b[:-32])
open(sys.argv[1], "wb").write(body + hashlib.sha256(body).digest())
PY
cp "$STATE/tpm-state" other-version
start_tpm
expect_rc 0x101 tpm2_startup -c
expect_rc 0x101 tpm2_nvread 0x1500020 -C o
stop_tpm
cmp -s other-version "$STATE/tpm-state" || fail "a refused state file was overwritten"
grep -q "written by another format version" "$WORK/server.log" || fail "no log line for the refused file"
# A corrupted file likewise; putting the good file back brings everything back.
cp good-state "$STATE/tpm-state"
/usr/bin/python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[40] ^= 1; open(p, "wb").write(b)' "$STATE/tpm-state" || fail "corrupt"
cp "$STATE/tpm-state" corrupted
start_tpm
expect_rc 0x101 tpm2_startup -c
stop_tpm
cmp -s corrupted "$STATE/tpm-state" || fail "a corrupted state file was overwritten"
cp good-state "$STATE/tpm-state"
start_tpm
tpm2_startup -c || fail "startup with the state file restored"
[ "$(tpm2_nvread 0x1500020 -C o 2>/dev/null)" = "0123456789abcdef" ] || fail "NV lost after restore"
echo OK
