#!/bin/bash
# tpm2-abrmd in front of tessera-tpm: the resource manager swaps objects and
# sessions with ContextSave/ContextLoad/FlushContext around every command.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
start_abrmd

tpm2_getrandom --hex 8 >/dev/null || fail "getrandom via abrmd"
tpm2_createprimary -C o -c p.ctx -Q || fail "createprimary via abrmd"
tpm2_create -C p.ctx -G ecc -u k.pub -r k.priv -Q || fail "create via abrmd"
tpm2_load -C p.ctx -u k.pub -r k.priv -c k.ctx -Q || fail "load via abrmd"
echo "abrmd message" > m
tpm2_sign -c k.ctx -g sha256 -f plain -o s m || fail "sign via abrmd"
tpm2_readpublic -c k.ctx -f pem -o k.pem -Q || fail "readpublic via abrmd"
openssl dgst -sha256 -verify k.pem -signature s m >/dev/null || fail "signature via abrmd"
echo -n "sealed" > secret
tpm2_createpolicy --policy-pcr -l sha256:0 -L pol -Q || fail "createpolicy via abrmd"
tpm2_create -C p.ctx -i secret -L pol -a "fixedtpm|fixedparent" -u s.pub -r s.priv -Q || fail "seal via abrmd"
tpm2_load -C p.ctx -u s.pub -r s.priv -c s.ctx -Q || fail "load sealed via abrmd"
[ "$(tpm2_unseal -c s.ctx -p pcr:sha256:0)" = "sealed" ] || fail "unseal via abrmd"
tpm2_startauthsession --hmac-session -S sess.ctx -c p.ctx || fail "salted session via abrmd"
tpm2_sessionconfig sess.ctx --enable-encrypt || fail sessionconfig
tpm2_getrandom -S sess.ctx 8 -o r.bin || fail "getrandom in session via abrmd"
tpm2_flushcontext sess.ctx || fail "flush session via abrmd"
tpm2_createek -c ek.ctx -G rsa -u ek.pub >/dev/null || fail "createek via abrmd"
tpm2_createak -C ek.ctx -c ak.ctx -G rsa -g sha256 -s rsassa -u ak.pub -n ak.name -f pem >/dev/null \
    || fail "createak via abrmd"
tpm2_quote -c ak.ctx -l sha256:0,1 -q 0102 -m q.msg -s q.sig -o q.pcrs -g sha256 >/dev/null || fail "quote via abrmd"
tpm2_checkquote -u ak.pub -m q.msg -s q.sig -f q.pcrs -g sha256 -q 0102 >/dev/null || fail "checkquote via abrmd"
# a hash sequence survives being swapped out by the resource manager
head -c 6000 /dev/urandom > big
tpm2_hash -g sha256 -o hb.bin big || fail "hash sequence via abrmd"
[ "$(xxd -p -c 64 hb.bin)" = "$(sha256sum big | cut -d' ' -f1)" ] || fail "hash sequence value via abrmd"
# the resource manager leaves nothing loaded behind
n=$(TPM2TOOLS_TCTI="mssim:host=127.0.0.1,port=$PORT" tpm2_getcap handles-transient | grep -c 0x80)
[ "$n" -eq 0 ] || fail "$n transient objects left loaded"
echo OK
