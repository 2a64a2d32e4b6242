#!/bin/bash
# NV indices, dictionary-attack lockout, clear.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup

tpm2_nvdefine 0x1500010 -C o -s 32 -a "ownerread|ownerwrite|authread|authwrite" || fail nvdefine
echo -n "hello nv" > d
tpm2_nvwrite 0x1500010 -C o -i d || fail nvwrite
[ "$(tpm2_nvread 0x1500010 -C o -s 8 2>/dev/null)" = "hello nv" ] || fail nvread
[ "$(tpm2_nvread 0x1500010 -C o -s 2 --offset 6 2>/dev/null)" = "nv" ] || fail "nvread offset"
# refused by tpm2_nvread itself (it reads the size first)
expect_fail "Requested to read more bytes than available from offset" tpm2_nvread 0x1500010 -C o -s 8 --offset 30
expect_rc 0x14c tpm2_nvdefine 0x1500010 -C o -s 32 -a "ownerread|ownerwrite"
tpm2_nvreadpublic 0x1500010 | grep -q written || fail "written attribute"

# index with its own password; wrong password fails
tpm2_nvdefine 0x1500011 -C o -s 4 -a "authread|authwrite" -p nvpw || fail "nvdefine auth"
echo -n abcd > d4
tpm2_nvwrite 0x1500011 -P nvpw -i d4 || fail "nvwrite auth"
[ "$(tpm2_nvread 0x1500011 -P nvpw 2>/dev/null)" = "abcd" ] || fail "nvread auth"
expect_rc 0x98e tpm2_nvread 0x1500011 -P wrong
# reading before writing is refused
tpm2_nvdefine 0x1500012 -C o -s 4 -a "ownerread|ownerwrite" || fail "nvdefine 3"
expect_rc 0x14a tpm2_nvread 0x1500012 -C o

# counter
tpm2_nvdefine 0x1500013 -C o -s 8 -a "ownerread|ownerwrite|nt=counter" || fail "counter define"
for _ in 1 2 3; do tpm2_nvincrement 0x1500013 -C o || fail nvincrement; done
[ "$(tpm2_nvread 0x1500013 -C o 2>/dev/null | xxd -p)" = "0000000000000003" ] || fail "counter value"
expect_rc 0x282 tpm2_nvwrite 0x1500013 -C o -i d

# extend index: value is H(0 || data)
tpm2_nvdefine 0x1500014 -C o -a "nt=extend|ownerread|ownerwrite" -g sha256 || fail "extend define"
echo -n "measure me" | tpm2_nvextend -C o -i - 0x1500014 || fail nvextend
want=$(/usr/bin/python3 -c "import hashlib;print(hashlib.sha256(bytes(32)+b'measure me').hexdigest())")
[ "$(tpm2_nvread 0x1500014 -C o 2>/dev/null | xxd -p -c 64)" = "$want" ] || fail "nvextend value"

# bits and write lock
tpm2_nvdefine 0x1500015 -C o -s 8 -a "ownerread|ownerwrite|nt=bits" || fail "bits define"
tpm2_nvsetbits 0x1500015 -C o -i 0x5 || fail nvsetbits
tpm2_nvsetbits 0x1500015 -C o -i 0x20 || fail nvsetbits
[ "$(tpm2_nvread 0x1500015 -C o 2>/dev/null | xxd -p)" = "0000000000000025" ] || fail "bits value"
tpm2_nvdefine 0x1500016 -C o -s 4 -a "ownerread|ownerwrite|writedefine" || fail "writedefine"
tpm2_nvwrite 0x1500016 -C o -i d4 || fail "write before lock"
tpm2_nvwritelock 0x1500016 -C o || fail nvwritelock
expect_rc 0x148 tpm2_nvwrite 0x1500016 -C o -i d4

tpm2_nvundefine 0x1500010 -C o || fail nvundefine
tpm2_getcap handles-nv-index | grep -q 0x1500010 && fail "index still defined"
expect_rc 0x18b tpm2_nvread 0x1500010 -C o

# dictionary attack: after maxTries failures a DA-protected object is locked
tpm2_dictionarylockout -s -n 3 -t 1000 -l 1000 || fail "da parameters"
tpm2_createprimary -C o -c prim.ctx -Q || fail createprimary
tpm2_create -C prim.ctx -G ecc -p keypw -u k.pub -r k.priv -Q || fail create
tpm2_load -C prim.ctx -u k.pub -r k.priv -c k.ctx -Q || fail load
echo m > m
tpm2_sign -c k.ctx -p keypw -g sha256 -o s m || fail "sign"
# each a failed authorisation (TPM_RC_AUTH_FAIL) until the counter, which the
# wrong NV password above started, reaches maxTries (TPM_RC_LOCKOUT)
for _ in 1 2 3; do
    expect_fail "ErrorCode \(0x0+(98e|921)\)" tpm2_sign -c k.ctx -p bad -g sha256 -o s m
done
if tpm2_sign -c k.ctx -p keypw -g sha256 -o s m 2>lock.err; then fail "not locked out"; fi
grep -qi "lockout" lock.err || fail "no lockout error: $(cat lock.err)"
tpm2_getcap properties-variable | grep -A0 "inLockout" | grep -q 1 || fail "inLockout not reported"
tpm2_dictionarylockout -c || fail "da reset"
tpm2_sign -c k.ctx -p keypw -g sha256 -o s m || fail "sign after reset"

# lockout auth: set it, a wrong value is refused, and then even the right
# one is blocked for lockoutRecovery (Part 1 §19.8.6)
tpm2_changeauth -c l lockpw || fail "lockout auth"
tpm2_dictionarylockout -c -p lockpw || fail "lockout auth use"
expect_rc 0x98e tpm2_dictionarylockout -c -p wrong
expect_rc 0x921 tpm2_dictionarylockout -c -p lockpw
# clear through the platform hierarchy: owner indices and persistent objects go
tpm2_evictcontrol -C o -c prim.ctx 0x81000005 >/dev/null || fail evict
tpm2_clear -c p || fail "clear"
tpm2_getcap handles-nv-index | grep -q 0x15000 && fail "NV survived clear"
tpm2_getcap handles-persistent | grep -q 0x81000005 && fail "persistent survived clear"
# after clear the lockout auth is empty again
tpm2_dictionarylockout -c || fail "lockout auth not reset by clear"
echo OK
