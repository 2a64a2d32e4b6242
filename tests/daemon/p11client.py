#!/usr/bin/python3
"""PyKCS11 clients of tesserad for tests/daemon/*.sh. Each loads the module
(MODULE), which goes remote through TESSERA_URL, and finds its token by
label. Lines on stdout are what the calling script checks; they are
flushed one by one, so a script reading them while the client runs (or
after killing it) sees every line the client printed.

    sign MODULE TOKEN PIN KEY SECONDS GOFILE
        logs in, prints "ready pid=PID", waits for GOFILE, then signs with private
        key KEY (CKM_ECDSA) for SECONDS, each call on its own; prints
        "count=N failures=M" (a failed call is counted and the loop goes on)
    sessions MODULE TOKEN WANT SECONDS
        one R/O session of its own; polls C_GetTokenInfo until
        ulSessionCount == WANT (up to SECONDS); prints
        "sessions=N rw=M"; exit 0 when reached
    gen MODULE TOKEN PIN FIRST LAST
        C_GenerateKey AES-128 token keys labelled kFIRST..kLAST-1, printing
        each label once its call returned CKR_OK; on a failure prints
        "error LABEL 0xRV" and exits 3
    check MODULE TOKEN PIN LABELFILE
        every label of LABELFILE (one a line) names exactly one secret key;
        prints "missing=N duplicated=N total=N" (total: every secret key)
    failover MODULE TOKEN PIN KEY BEFORE AFTER DIR
        signs with KEY; after BEFORE signatures touches DIR/killme and keeps
        signing until the endpoint fails, then checks the failure sequence
        (see failover.sh), opens a new session, logs in and signs AFTER
        more, each verified with the public key KEY of the new endpoint
    keygen MODULE TOKEN PIN DIR
        RSA-4096 session key pairs in a loop: "start I" before each call,
        "done I 0xRV" after it; stops after a call once DIR/stop exists or
        a call fails
"""
import os
import sys
import time

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_EC_PARAMS, CKA_KEY_TYPE, CKA_LABEL, CKA_MODULUS_BITS,
                     CKA_PRIVATE, CKA_PUBLIC_EXPONENT, CKA_SENSITIVE, CKA_SIGN, CKA_TOKEN,
                     CKA_VALUE_LEN, CKA_VERIFY, CKA_ENCRYPT, CKF_RW_SESSION, CKF_SERIAL_SESSION,
                     CKK_AES, CKM_AES_KEY_GEN, CKM_ECDSA, CKM_RSA_PKCS_KEY_PAIR_GEN,
                     CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY, Mechanism, PyKCS11Error)

CKR_DEVICE_ERROR = 0x30
CKR_SESSION_HANDLE_INVALID = 0xB3


def say(*a):
    print(*a, flush=True)


def load(module):
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    return lib


def slot_of(lib, token):
    for s in lib.getSlotList(tokenPresent=True):
        if lib.getTokenInfo(s).label.strip() == token:
            return s
    raise SystemExit("no token labelled %s" % token)


def session(lib, token, pin=None, rw=False):
    s = lib.openSession(slot_of(lib, token), CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0))
    if pin is not None:
        s.login(pin)
    return s


def one(s, cls, label):
    found = s.findObjects([(CKA_CLASS, cls), (CKA_LABEL, label)])
    if len(found) != 1:
        raise SystemExit("%d objects of class %d labelled %s" % (len(found), cls, label))
    return found[0]


def cmd_sign(module, token, pin, key, seconds, gofile):
    lib = load(module)
    s = session(lib, token, pin)
    priv = one(s, CKO_PRIVATE_KEY, key)
    say("ready pid=%d" % os.getpid())
    while not os.path.exists(gofile):
        time.sleep(0.05)
    end = time.monotonic() + float(seconds)
    count = failures = 0
    digest = bytes(range(32))
    while time.monotonic() < end:
        try:
            sig = s.sign(priv, digest, Mechanism(CKM_ECDSA))
            if len(sig) != 64:
                raise ValueError("signature of %d bytes" % len(sig))
            count += 1
        except (PyKCS11Error, ValueError) as e:
            failures += 1
            print("failure: %s" % e, file=sys.stderr, flush=True)
            time.sleep(0.01)
    say("count=%d failures=%d" % (count, failures))
    return 0


def cmd_sessions(module, token, want, seconds):
    lib = load(module)
    slot = slot_of(lib, token)
    s = lib.openSession(slot, CKF_SERIAL_SESSION)
    end = time.monotonic() + float(seconds)
    while True:
        ti = lib.getTokenInfo(slot)
        if ti.ulSessionCount == int(want) or time.monotonic() > end:
            break
        time.sleep(0.2)
    say("sessions=%d rw=%d" % (ti.ulSessionCount, ti.ulRwSessionCount))
    s.closeSession()
    return 0 if ti.ulSessionCount == int(want) else 1


def cmd_gen(module, token, pin, first, last):
    lib = load(module)
    s = session(lib, token, pin, rw=True)
    for i in range(int(first), int(last)):
        label = "k%d" % i
        try:
            s.generateKey([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_VALUE_LEN, 16),
                           (CKA_TOKEN, True), (CKA_PRIVATE, True), (CKA_SENSITIVE, True),
                           (CKA_ENCRYPT, True), (CKA_LABEL, label)],
                          mecha=Mechanism(CKM_AES_KEY_GEN))
        except PyKCS11Error as e:
            say("error %s 0x%x" % (label, e.value))
            return 3
        say(label)
    return 0


def cmd_check(module, token, pin, labelfile):
    lib = load(module)
    s = session(lib, token, pin)
    labels = [l.strip() for l in open(labelfile) if l.strip()]
    missing = duplicated = 0
    for label in labels:
        n = len(s.findObjects([(CKA_CLASS, CKO_SECRET_KEY), (CKA_LABEL, label)]))
        if n == 0:
            missing += 1
            print("missing: %s" % label, file=sys.stderr)
        elif n > 1:
            duplicated += 1
            print("duplicated: %s (%d)" % (label, n), file=sys.stderr)
    total = len(s.findObjects([(CKA_CLASS, CKO_SECRET_KEY)]))
    say("missing=%d duplicated=%d total=%d" % (missing, duplicated, total))
    return 0


def cmd_failover(module, token, pin, key, before, after, d):
    lib = load(module)
    s = session(lib, token, pin)
    priv = one(s, CKO_PRIVATE_KEY, key)
    digest = bytes(range(32))
    done = 0
    errors = []
    # Sign until the endpoint in use fails under us.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            s.sign(priv, digest, Mechanism(CKM_ECDSA))
            done += 1
            if done == int(before):
                open(os.path.join(d, "killme"), "w").close()
        except PyKCS11Error as e:
            errors.append(e.value)
            break
    else:
        say("FAIL: the endpoint never failed")
        return 1
    say("signed before the failure: %d" % done)
    say("first error: 0x%x" % errors[0])
    # At most the call in flight fails with CKR_DEVICE_ERROR; the old
    # session is then gone (CKR_SESSION_HANDLE_INVALID), and stays gone.
    for _ in range(3):
        try:
            s.sign(priv, digest, Mechanism(CKM_ECDSA))
            errors.append(0)
        except PyKCS11Error as e:
            errors.append(e.value)
    say("errors: " + " ".join("0x%x" % e for e in errors))
    # A new session on the next endpoint, logged in again.
    s2 = session(lib, token, pin)
    priv2 = one(s2, CKO_PRIVATE_KEY, key)
    pub2 = one(s2, CKO_PUBLIC_KEY, key)
    ok = 0
    for i in range(int(after)):
        data = bytes([i & 0xFF]) * 32
        sig = bytes(s2.sign(priv2, data, Mechanism(CKM_ECDSA)))
        if not s2.verify(pub2, data, sig, Mechanism(CKM_ECDSA)):
            say("FAIL: signature %d after the failover does not verify" % i)
            return 1
        ok += 1
    say("signed after the failover: %d" % ok)
    return 0


def cmd_keygen(module, token, pin, d):
    lib = load(module)
    s = session(lib, token, pin)
    i = 0
    while True:
        say("start %d" % i)
        rv = 0
        try:
            s.generateKeyPair(
                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False), (CKA_VERIFY, True),
                 (CKA_MODULUS_BITS, 4096), (CKA_PUBLIC_EXPONENT, (1, 0, 1))],
                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False), (CKA_SIGN, True),
                 (CKA_SENSITIVE, True)],
                mecha=Mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN))
        except PyKCS11Error as e:
            rv = e.value
        say("done %d 0x%x" % (i, rv))
        if rv != 0 or os.path.exists(os.path.join(d, "stop")):
            return 0
        i += 1


def main(argv):
    cmds = {"sign": (cmd_sign, 6), "sessions": (cmd_sessions, 4), "gen": (cmd_gen, 5),
            "check": (cmd_check, 4), "failover": (cmd_failover, 7), "keygen": (cmd_keygen, 4)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
