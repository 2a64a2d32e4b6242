#!/bin/bash
# Saved hash, HMAC and event sequence contexts carry the sequence state
# themselves (encrypted and integrity-protected like object contexts): a
# saved sequence still loads and finishes with the right digest after 200
# other ContextSaves (a resource manager saves constantly), a changed byte
# is refused with TPM_RC_INTEGRITY, and the contexts die at TPM Reset.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup

seq_py() {
    /usr/bin/python3 - "$PORT" "$WORK/ctx.bin" "$@" <<'PY'
import hashlib, hmac, socket, struct, sys
port, ctxfile, what = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=30)
RS_PW, RH_NULL, RH_OWNER = 0x40000009, 0x40000007, 0x40000001
INTEGRITY_P1 = 0x09F | 0x040 | 0x100

def b2(x):
    return struct.pack(">H", len(x)) + x

def cmd(cc, handles=b"", params=b"", auths=None):
    tag = 0x8002 if auths is not None else 0x8001
    body = handles + params
    if auths is not None:
        n = sum(len(a) for a in auths)
        body = handles + struct.pack(">I", n) + b"".join(auths) + params
    s.sendall(struct.pack(">HII", tag, 10 + len(body), cc) + body)
    hdr = b""
    while len(hdr) < 10:
        hdr += s.recv(10 - len(hdr))
    size = struct.unpack(">I", hdr[2:6])[0]
    rest = b""
    while len(rest) < size - 10:
        rest += s.recv(size - 10 - len(rest))
    return struct.unpack(">I", hdr[6:10])[0], rest

def one_auth(a=b""):
    x = struct.pack(">I", RS_PW) + b2(b"") + b"\x00" + b2(a)
    return x

def check(rc, what):
    if rc != 0:
        sys.exit("%s: rc 0x%x" % (what, rc))

def seq_start(alg, auth=b"sa"):
    rc, r = cmd(0x186, params=b2(auth) + struct.pack(">H", alg))
    check(rc, "HashSequenceStart")
    return struct.unpack(">I", r[:4])[0]

def update(h, data, auth=b"sa"):
    for i in range(0, len(data), 1024):
        rc, _ = cmd(0x15C, struct.pack(">I", h), b2(data[i:i + 1024]), [one_auth(auth)])
        check(rc, "SequenceUpdate")

def save(h):
    rc, r = cmd(0x162, struct.pack(">I", h))
    check(rc, "ContextSave")
    return r

def load(ctx):
    rc, r = cmd(0x161, params=ctx)
    return rc, (struct.unpack(">I", r[:4])[0] if rc == 0 else None)

def flush(h):
    rc, _ = cmd(0x165, params=struct.pack(">I", h))
    check(rc, "FlushContext")

def churn(n):
    # other contexts saved meanwhile: sequences and a primary
    for i in range(n):
        h = seq_start(0x000B, b"")
        save(h)
        flush(h)

def complete(h, last, auth=b"sa"):
    rc, r = cmd(0x13E, struct.pack(">I", h), b2(last) + struct.pack(">I", RH_NULL),
                [one_auth(auth)])
    check(rc, "SequenceComplete")
    n = struct.unpack(">H", r[4:6])[0]
    return r[6:6 + n]

part1 = bytes(range(256)) * 13        # 3328 bytes: blocks and a partial one
part2 = b"the rest of the message" * 50

if what == "hash":
    for alg, fn in ((0x0004, hashlib.sha1), (0x000B, hashlib.sha256),
                    (0x000C, hashlib.sha384), (0x000D, hashlib.sha512)):
        h = seq_start(alg)
        update(h, part1)
        ctx = save(h)
        flush(h)
        churn(50)
        rc, h2 = load(ctx)
        check(rc, "ContextLoad after 50 other saves")
        update(h2, part2)
        got = complete(h2, b"!")
        if got != fn(part1 + part2 + b"!").digest():
            sys.exit("hash 0x%x: wrong digest after save/load" % alg)
    print("hash sequences: digests right after 50 other ContextSaves each")

elif what == "hmac":
    key = b"an hmac key of thirty-two bytes!"
    sens = b2(b"") + b2(key)
    pub = struct.pack(">HHI", 0x0008, 0x000B, 0x00040052) + b2(b"") + \
          struct.pack(">HH", 0x0005, 0x000B) + b2(b"")
    rc, r = cmd(0x131, struct.pack(">I", RH_OWNER),
                b2(sens) + b2(pub) + b2(b"") + struct.pack(">I", 0), [one_auth()])
    check(rc, "CreatePrimary (HMAC key)")
    k = struct.unpack(">I", r[:4])[0]
    rc, r = cmd(0x15B, struct.pack(">I", k), b2(b"sa") + struct.pack(">H", 0x000B),
                [one_auth()])
    check(rc, "HMAC_Start")
    h = struct.unpack(">I", r[:4])[0]
    update(h, part1)
    ctx = save(h)
    flush(h)
    flush(k)
    churn(200)
    rc, h2 = load(ctx)
    check(rc, "ContextLoad of the HMAC sequence")
    update(h2, part2)
    got = complete(h2, b"")
    if got != hmac.new(key, part1 + part2, hashlib.sha256).digest():
        sys.exit("HMAC sequence: wrong result after save/load")
    # a changed byte anywhere in the blob is refused
    for off in (len(ctx) - 1, len(ctx) - 40, 20):
        bad = bytearray(ctx)
        bad[off] ^= 0x01
        rc, _ = load(bytes(bad))
        if rc != INTEGRITY_P1:
            sys.exit("tampered blob (byte %d): rc 0x%x, want 0x%x" % (off, rc, INTEGRITY_P1))
    open(ctxfile, "wb").write(ctx)
    print("hmac sequence: right after 200 other saves; tampered blobs refused")

elif what == "event":
    h = seq_start(0x0010)  # TPM_ALG_NULL: an event sequence
    update(h, part1)
    ctx = save(h)
    flush(h)
    churn(200)
    rc, h2 = load(ctx)
    check(rc, "ContextLoad of the event sequence")
    update(h2, part2)
    rc, r = cmd(0x185, struct.pack(">II", RH_NULL, h2), b2(b""), [one_auth(), one_auth(b"sa")])
    check(rc, "EventSequenceComplete")
    count = struct.unpack(">I", r[4:8])[0]
    off, seen = 8, 0
    fns = {0x0004: hashlib.sha1, 0x000B: hashlib.sha256, 0x000C: hashlib.sha384}
    for _ in range(count):
        alg = struct.unpack(">H", r[off:off + 2])[0]
        n = fns[alg]().digest_size
        if r[off + 2:off + 2 + n] != fns[alg](part1 + part2).digest():
            sys.exit("event sequence: bank 0x%x wrong after save/load" % alg)
        off += 2 + n
        seen += 1
    if seen != 3:
        sys.exit("event sequence: %d banks" % seen)
    print("event sequence: every bank right after 200 other saves")

elif what == "after-reset":
    ctx = open(ctxfile, "rb").read()
    rc, _ = load(ctx)
    if rc != INTEGRITY_P1:
        sys.exit("a sequence context loaded after TPM Reset: rc 0x%x" % rc)
    print("after reset: the old sequence context is refused")
PY
}

seq_py hash || fail "hash sequences"
seq_py hmac || fail "HMAC sequence"
seq_py event || fail "event sequence"
# TPM Reset: the NULL hierarchy's proof changes, its contexts die
stop_tpm
start_tpm
tpm2_startup -c || fail startup
seq_py after-reset || fail "sequence context after TPM Reset"
echo ok
