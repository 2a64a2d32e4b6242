#!/usr/bin/env bash
# One long-running process makes many token keys (a key server would): after
# 5,000 EC P-256 token key pairs generated in one session, the token still
# generates, finds and uses keys. Guards against per-object state that a
# module keeps for the life of the process (e.g. decrypted keys held in a
# fixed-size secure heap until C_Finalize).
T_NAME=many_keys
. "$(dirname "$0")/lib.sh"

t_init_token many
rc=0
p11 /usr/bin/python3 - "$T_MODULE" many "$T_PIN" 5000 >"$T_TMP/many.log" 2>&1 <<'PY' || rc=$?
import sys
import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_KEY_TYPE, CKA_TOKEN, CKA_LABEL, CKA_SIGN, CKA_VERIFY, CKA_EC_PARAMS,
                     CKA_PRIVATE, CKA_SENSITIVE, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKK_EC, CKM_EC_KEY_PAIR_GEN,
                     CKM_ECDSA, CKF_RW_SESSION, CKF_SERIAL_SESSION, Mechanism, PyKCS11Error)
module, token, pin, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
P256 = bytes.fromhex("06082a8648ce3d030107")
lib = PyKCS11.PyKCS11Lib()
lib.load(module)
slot = [s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == token][0]
s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
s.login(pin)
def gen(label):
    return s.generateKeyPair(
        [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, True), (CKA_LABEL, label),
         (CKA_VERIFY, True), (CKA_EC_PARAMS, P256)],
        [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, True), (CKA_PRIVATE, True),
         (CKA_LABEL, label), (CKA_SIGN, True), (CKA_SENSITIVE, True)],
        mecha=Mechanism(CKM_EC_KEY_PAIR_GEN))
for i in range(n):
    try:
        gen("k%05d" % i)
    except PyKCS11Error as e:
        print("FAIL: key pair %d of %d: %s" % (i + 1, n, e))
        sys.exit(1)
    if (i + 1) % 1000 == 0:
        print("ok: %d key pairs" % (i + 1), flush=True)
pub, priv = gen("last")
found = s.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "k%05d" % (n // 2))])
if len(found) != 1:
    print("FAIL: found %d keys labelled k%05d" % (len(found), n // 2))
    sys.exit(1)
digest = bytes(32)
sig = bytes(s.sign(found[0], digest, Mechanism(CKM_ECDSA)))
pubs = s.findObjects([(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_LABEL, "k%05d" % (n // 2))])
if not s.verify(pubs[0], digest, sig, Mechanism(CKM_ECDSA)):
    print("FAIL: signature with an early key does not verify")
    sys.exit(1)
if s.verify(pub, digest, sig, Mechanism(CKM_ECDSA)):
    print("FAIL: signature verifies under another key")
    sys.exit(1)
print("ok: after %d key pairs the token still generates, finds and signs" % n)
PY
cat "$T_TMP/many.log" >&2
[ $rc -eq 0 ] || t_fail "many-keys flow failed (status $rc)"
exit 0
