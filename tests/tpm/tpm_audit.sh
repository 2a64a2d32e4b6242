#!/bin/bash
# Command audit and session audit: signed digests that verify with OpenSSL,
# change with every audited command and match a digest recomputed here.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
tpm2_createek -c ek.ctx -G rsa -u ek.pub -Q || fail createek
tpm2_createak -C ek.ctx -c ak.ctx -u ak.pub -f pem -n ak.name -Q || fail createak
tpm2_setcommandauditstatus -g sha256 TPM2_CC_GetRandom || fail setcommandauditstatus
tpm2_getcommandauditdigest -c ak.ctx -g sha256 -m a0.att -s a0.sig -f plain || fail "audit digest 0"
# two audited commands whose parameters we know
tpm2_getrandom 8 -o r1.bin || fail getrandom
tpm2_getrandom 8 -o r2.bin || fail getrandom
tpm2_getcommandauditdigest -c ak.ctx -g sha256 -m a1.att -s a1.sig -f plain || fail "audit digest 1"
openssl dgst -sha256 -verify ak.pub -signature a1.sig a1.att >/dev/null || fail "audit signature"
/usr/bin/python3 - a1.att r1.bin r2.bin <<'PY' || fail "audit digest value"
import hashlib, struct, sys
att = open(sys.argv[1], "rb").read()
assert att[:6] == bytes.fromhex("ff5443478015"), att[:6].hex()
o = 6
n = struct.unpack(">H", att[o:o+2])[0]; o += 2 + n      # qualifiedSigner
n = struct.unpack(">H", att[o:o+2])[0]; o += 2 + n      # extraData
o += 8 + 4 + 4 + 1 + 8                                 # clockInfo, firmwareVersion
o += 8                                                 # auditCounter
assert struct.unpack(">H", att[o:o+2])[0] == 0x0B; o += 2
n = struct.unpack(">H", att[o:o+2])[0]; audit = att[o+2:o+2+n]
d = bytes(32)
cc = struct.pack(">I", 0x17B)
for f in sys.argv[2:]:
    r = open(f, "rb").read()
    cp = hashlib.sha256(cc + struct.pack(">H", len(r))).digest()
    rp = hashlib.sha256(struct.pack(">I", 0) + cc + struct.pack(">H", len(r)) + r).digest()
    d = hashlib.sha256(d + cp + rp).digest()
assert audit == d, (audit.hex(), d.hex())
PY
# session audit
tpm2_startauthsession -S as.ctx --audit-session || fail "audit session"
tpm2_getrandom -S as.ctx 8 -o /dev/null || fail "getrandom in audit session"
tpm2_getsessionauditdigest -c ak.ctx -g sha256 -m s1.att -s s1.sig -f plain -S as.ctx || fail "session audit 1"
openssl dgst -sha256 -verify ak.pub -signature s1.sig s1.att >/dev/null || fail "session audit signature"
tpm2_getrandom -S as.ctx 8 -o /dev/null || fail "getrandom 2"
tpm2_getsessionauditdigest -c ak.ctx -g sha256 -m s2.att -s s2.sig -f plain -S as.ctx || fail "session audit 2"
[ "$(tail -c 32 s1.att | xxd -p)" != "$(tail -c 32 s2.att | xxd -p)" ] || fail "session digest unchanged"
tpm2_flushcontext as.ctx
echo OK
