#!/bin/bash
# The conformance items through tpm2-abrmd, which saves, reloads and flushes
# every object and session around each command: sequences authorised with
# their empty Name, keyed-hash keys with the NULL scheme, HMAC-signed
# attestations, derived keys, ECDAA after Commit, ZGen_2Phase after
# EC_Ephemeral, PIN indices and NV counters.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
start_abrmd

tpm2_createprimary -C o -c p.ctx -Q || fail "createprimary via abrmd"

# sequences with an HMAC session (empty Name in cpHash)
import_hmac_key
head -c 3000 /dev/urandom > big
want=$(openssl dgst -sha256 -mac HMAC -macopt hexkey:"$(xxd -p -c 64 key.bin)" big | awk '{print $NF}')
cat big | tpm2_hmac -c k.ctx -g sha256 -o m.bin || fail "tpm2_hmac from stdin via abrmd"
[ "$(xxd -p -c 64 m.bin)" = "$want" ] || fail "HMAC sequence value via abrmd"
tpm2_pcrevent 9 big >/dev/null || fail "pcrevent of a large file via abrmd"

# keyed-hash with the NULL scheme, and an HMAC-signed quote
tpm2_create -C p.ctx -G keyedhash -u kh.pub -r kh.priv -Q || fail "create keyedhash via abrmd"
tpm2_load -C p.ctx -u kh.pub -r kh.priv -c kh.ctx -Q || fail "load keyedhash via abrmd"
tpm2_quote -c kh.ctx -l sha256:0 -q 01 -m q.att -s q.sig -g sha256 >/dev/null || fail "HMAC quote via abrmd"
tpm2_verifysignature -c kh.ctx -g sha256 -m q.att -s q.sig || fail "HMAC quote verifies via abrmd"

# derived keys are the same twice
tpm2_createprimary -C o -G xor -c dp.ctx -Q || fail "derivation parent via abrmd"
A="fixedtpm|fixedparent|userwithauth|sign"
tpm2_create -C dp.ctx -G ecc -a "$A" -c d1.ctx -Q || fail "derive via abrmd"
tpm2_create -C dp.ctx -G ecc -a "$A" -c d2.ctx -Q || fail "derive again via abrmd"
tpm2_readpublic -c d1.ctx -f pem -o d1.pem -Q && tpm2_readpublic -c d2.ctx -f pem -o d2.pem -Q
cmp -s d1.pem d2.pem || fail "derived keys differ via abrmd"

# ECDAA: Commit then Sign; EC_Ephemeral then ZGen_2Phase
tpm2_create -C p.ctx -G ecc256:ecdaa -u e.pub -r e.priv -Q || fail "create ecdaa via abrmd"
tpm2_load -C p.ctx -u e.pub -r e.priv -c e.ctx -Q || fail "load ecdaa via abrmd"
tpm2_commit -c e.ctx -t c.bin --eccpoint-K K.bin --eccpoint-L L.bin -u E.bin || fail "commit via abrmd"
echo msg > m
tpm2_sign -c e.ctx -g sha256 -s ecdaa --commit-index=$((16#$(xxd -p c.bin))) -o s.sig m \
    || fail "ECDAA sign via abrmd"
tpm2_create -C p.ctx -G ecc256:ecdh -a "decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth" \
    -u x.pub -r x.priv -Q || fail "create ecdh via abrmd"
tpm2_load -C p.ctx -u x.pub -r x.priv -c x.ctx -Q || fail "load ecdh via abrmd"
tpm2_ecdhkeygen -c x.ctx -u Q1.bin -o Z.bin || fail "ecdhkeygen via abrmd"
tpm2_ecephemeral -u Q2.bin -t ce.bin ecc256 || fail "ecephemeral via abrmd"
tpm2_zgen2phase -c x.ctx -t $((16#$(xxd -p ce.bin))) --static-public Q1.bin --ephemeral-public Q1.bin \
    --output-Z1 Z1.bin --output-Z2 Z2.bin || fail "zgen2phase via abrmd"
cmp -s Z1.bin Z.bin || fail "Z1 via abrmd"

# PIN Fail index and a counter
tpm2_nvdefine 0x1500080 -C o -s 8 -a "ownerwrite|ownerread|authread|nt=pinfail|no_da" -p pin \
    || fail "define PIN index via abrmd"
printf '\0\0\0\0\0\0\0\2' | tpm2_nvwrite -C o -i - 0x1500080 || fail "write PIN index via abrmd"
tpm2_nvread 0x1500080 -C 0x1500080 -P pin -s 8 >/dev/null || fail "PIN via abrmd"
tpm2_nvdefine 0x1500081 -C o -s 8 -a "ownerread|ownerwrite|nt=counter" || fail "define counter via abrmd"
tpm2_nvincrement 0x1500081 -C o || fail "increment via abrmd"
echo OK
