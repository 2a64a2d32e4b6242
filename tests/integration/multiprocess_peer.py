"""Long-running peer for multiprocess.sh.

Opens the token and logs in, checks the key LABEL does not exist yet, writes
DIR/ready, waits for DIR/go (another process creates the key meanwhile), then,
without re-initialising, finds the key, signs with it and verifies; then
writes DIR/used and waits for DIR/gone (the other process deletes the key) and
checks the key is no longer found. Exits non-zero on any failed check.

Usage: multiprocess_peer.py MODULE TOKEN PIN LABEL DIR
"""
import os
import sys
import time

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_LABEL, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKM_ECDSA,
                     CKF_RW_SESSION, CKF_SERIAL_SESSION, Mechanism)


def log(msg):
    print("[multiprocess_peer] " + msg, flush=True)


def wait_for(path, seconds=120):
    end = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > end:
            log("FAIL: timed out waiting for " + path)
            sys.exit(1)
        time.sleep(0.05)


def main():
    module, token, pin, label, d = sys.argv[1:6]
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slot = [s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == token][0]
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    s.login(pin)
    priv_t = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, label)]
    pub_t = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_LABEL, label)]
    if s.findObjects(priv_t):
        log("FAIL: key %s exists before the other process made it" % label)
        return 1
    log("ok: key %s not there yet" % label)
    open(os.path.join(d, "ready"), "w").close()
    wait_for(os.path.join(d, "go"))

    priv = s.findObjects(priv_t)
    pub = s.findObjects(pub_t)
    if len(priv) != 1 or len(pub) != 1:
        log("FAIL: after the other process made it, found %d private / %d public keys %s"
            % (len(priv), len(pub), label))
        return 1
    log("ok: found the key the other process made, without restarting")
    digest = bytes(range(32))
    sig = bytes(s.sign(priv[0], digest, Mechanism(CKM_ECDSA)))
    if not s.verify(pub[0], digest, sig, Mechanism(CKM_ECDSA)):
        log("FAIL: signature with the other process's key does not verify")
        return 1
    if s.verify(pub[0], bytes(reversed(digest)), sig, Mechanism(CKM_ECDSA)):
        log("FAIL: signature verifies over other data")
        return 1
    with open(os.path.join(d, "sig.bin"), "wb") as f:
        f.write(sig)
    log("ok: signed with it")
    open(os.path.join(d, "used"), "w").close()

    wait_for(os.path.join(d, "gone"))
    if s.findObjects(priv_t):
        log("FAIL: key still found after the other process destroyed it")
        return 1
    log("ok: key gone after the other process destroyed it")
    s.logout()
    s.closeSession()
    return 0


if __name__ == "__main__":
    sys.exit(main())
