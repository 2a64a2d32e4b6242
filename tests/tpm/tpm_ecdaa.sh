#!/bin/bash
# EC_Ephemeral, Commit, ECDAA signing and ZGen_2Phase (Part 3 §14.7, §14.8,
# §19.2; Part 1 §C.4) with tpm2-tools. The results are checked with curve
# arithmetic done here (P-256, affine coordinates) and with ECDH_ZGen: an
# ECDAA signature (R = nonce, S = r + c·d mod n, c = H(nonce || digest))
# satisfies [S]G = E + [c]Q for Commit's E = [r]G, and [S]B = L + [c]K for
# Commit's K = [d]B, L = [r]B; ZGen_2Phase's Z1 = [dsA]QsB and Z2 = [r]QeB
# match ECDH computed by the other party. A counter is spent by its use.
source "$(dirname "$0")/common.bash"
start_tpm_primary

cat > ec.py <<'PY'
# P-256 arithmetic for the checks (affine, small and slow, test only)
import hashlib, struct, sys
p = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff
n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
G = (0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
     0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5)
def add(P, Q):
    if P is None: return Q
    if Q is None: return P
    if P[0] == Q[0] and (P[1] + Q[1]) % p == 0: return None
    if P == Q: l = 3 * (P[0] * P[0] - 1) * pow(2 * P[1], -1, p) % p
    else: l = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p) % p
    x = (l * l - P[0] - Q[0]) % p
    return (x, (l * (P[0] - x) - P[1]) % p)
def mul(k, P):
    R = None
    while k:
        if k & 1: R = add(R, P)
        P = add(P, P); k >>= 1
    return R
def on_curve(P): return (P[1] * P[1] - P[0] ** 3 + 3 * P[0] - b) % p == 0
def tpm2b(d, o):
    l = struct.unpack(">H", d[o:o + 2])[0]; return d[o + 2:o + 2 + l], o + 2 + l
def point(f):   # TPM2B_ECC_POINT file
    d = open(f, "rb").read(); x, o = tpm2b(d, 2); y, o = tpm2b(d, o)
    return (int.from_bytes(x, "big"), int.from_bytes(y, "big"))
def put_point(f, P):
    x, y = P[0].to_bytes(32, "big"), P[1].to_bytes(32, "big")
    open(f, "wb").write(struct.pack(">HH", 68, 32) + x + struct.pack(">H", 32) + y)
def sig(f):     # TPMT_SIGNATURE, ECDAA
    d = open(f, "rb").read(); alg, h = struct.unpack(">HH", d[:4])
    assert (alg, h) == (0x001A, 0x000B), (hex(alg), hex(h))
    r, o = tpm2b(d, 4); s, o = tpm2b(d, o); return r, int.from_bytes(s, "big")
def pub(f):     # "x: .." / "y: .." of tpm2_readpublic
    v = dict(l.split(":", 1) for l in open(f) if l[:2] in ("x:", "y:"))
    return (int(v["x"], 16), int(v["y"], 16))
cmd = sys.argv[1]
if cmd == "daa":     # E-or-L point file, key public, signature, message [base point file]
    E = point(sys.argv[2]); Q = pub(sys.argv[3]); R, s = sig(sys.argv[4])
    digest = hashlib.sha256(open(sys.argv[5], "rb").read()).digest()
    c = int.from_bytes(hashlib.sha256(R + digest).digest(), "big") % n
    B = point(sys.argv[6]) if len(sys.argv) > 6 else G
    K = point(sys.argv[7]) if len(sys.argv) > 7 else Q
    assert mul(s, B) == add(E, mul(c, K)), "ECDAA equation"
elif cmd == "base":  # s2 and y2 for a point B on the curve; B as a point file
    i = 0
    while True:
        s2 = b"tessera basepoint %d" % i
        x = int.from_bytes(hashlib.sha256(s2).digest(), "big") % p
        y = pow((x ** 3 - 3 * x + b) % p, (p + 1) // 4, p)
        if on_curve((x, y)): break
        i += 1
    open("s2.bin", "wb").write(struct.pack(">H", len(s2)) + s2); open("y2.bin", "wb").write(struct.pack(">H", 32) + y.to_bytes(32, "big"))
    put_point("B.bin", (x, y))
elif cmd == "pubpoint":  # readpublic text -> point file
    put_point(sys.argv[3], pub(sys.argv[2]))
elif cmd == "eq":
    assert point(sys.argv[2]) == point(sys.argv[3]), "points differ"
elif cmd == "oncurve":
    P = point(sys.argv[2]); assert on_curve(P), "not on the curve"
PY
ec() { /usr/bin/python3 ec.py "$@" || fail "check: $*"; }

# the algorithm and the commands are reported
tpm2_getcap algorithms | grep -q "^ecdaa:" || fail "ECDAA not in TPM_CAP_ALGS"
tpm2_getcap commands > cmds.txt || fail "getcap commands"
for cc in Commit EC_Ephemeral ZGen_2Phase; do
    grep -q "TPM2_CC_$cc:" cmds.txt || fail "$cc not in TPM_CAP_COMMANDS"
done

# --- an ECDAA signing key, Commit without inputs (E = [r]G), Sign
tpm2_create -C p.ctx -G ecc256:ecdaa -u d.pub -r d.priv -Q || fail "create ecc256:ecdaa"
tpm2_load -C p.ctx -u d.pub -r d.priv -c d.ctx -Q || fail "load ecdaa key"
tpm2_readpublic -c d.ctx > d.txt || fail readpublic
tpm2_commit -c d.ctx -t c0.bin --eccpoint-K K0.bin --eccpoint-L L0.bin -u E0.bin || fail "commit"
ec oncurve E0.bin
c0=$((16#$(xxd -p c0.bin)))
echo "to be signed" > msg
tpm2_sign -c d.ctx -g sha256 -s ecdaa --commit-index=$c0 -o s0.sig msg || fail "ECDAA sign"
ec daa E0.bin d.txt s0.sig msg
# the counter is spent (TPM_RC_VALUE, parameter 2)
expect_rc 0x2c4 tpm2_sign -c d.ctx -g sha256 -s ecdaa --commit-index=$c0 -o s1.sig msg
# a counter never handed out
expect_rc 0x2c4 tpm2_sign -c d.ctx -g sha256 -s ecdaa --commit-index=999 -o s1.sig msg

# --- Commit with s2, y2 and P1 = B: K = [d]B, L = [r]B, E = [r]P1 = L.
# tpm2_commit 5.4 never sends s2 (it reads the file into a zero-sized
# buffer), so this one is a raw command on the persistent key.
tpm2_evictcontrol -C o -c d.ctx 0x81000060 >/dev/null || fail evictcontrol
ec base
/usr/bin/python3 - "$PORT" <<'PY' || fail "raw Commit with s2, y2, P1"
import socket, struct, sys
port = int(sys.argv[1])
def tpm(body, cc):
    cmd = struct.pack(">HII", 0x8002, 10 + len(body), cc) + body
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(cmd)
    data = b""
    while len(data) < 10 or len(data) < struct.unpack(">I", data[2:6])[0]:
        chunk = s.recv(8192)
        if not chunk: break
        data += chunk
    s.close()
    return struct.unpack(">I", data[6:10])[0], data[10:]
def b2(x): return struct.pack(">H", len(x)) + x
pw = struct.pack(">IHBH", 0x40000009, 0, 0, 0)
B = open("B.bin", "rb").read()
s2 = open("s2.bin", "rb").read()[2:]
y2 = open("y2.bin", "rb").read()[2:]
def commit(y):
    body = struct.pack(">I", 0x81000060) + struct.pack(">I", len(pw)) + pw + B + b2(s2) + b2(y)
    return tpm(body, 0x18B)
rc, out = commit(y2)
assert rc == 0, "Commit: %#x" % rc
o = 4  # parameterSize
pts = []
for name in ("K1.bin", "L1.bin", "E1.bin"):
    n = struct.unpack(">H", out[o:o + 2])[0]
    open(name, "wb").write(out[o:o + 2 + n]); o += 2 + n
    pts.append(n)
assert pts == [68, 68, 68], pts
open("c1.bin", "wb").write(out[o:o + 2])
# B off the curve: TPM_RC_ECC_POINT on s2 (parameter 2)
rc, _ = commit(b"\x01" * 32)
assert rc == 0x2E7, "Commit with B off the curve: %#x" % rc
# y2 without s2: TPM_RC_SIZE on s2 (parameter 2)
body = struct.pack(">I", 0x81000060) + struct.pack(">I", len(pw)) + pw + struct.pack(">H", 0) + b2(b"") + b2(y2)
rc, _ = tpm(body, 0x18B)
assert rc == 0x2D5, "Commit with y2 alone: %#x" % rc
PY
ec eq L1.bin E1.bin
c1=$((16#$(xxd -p c1.bin)))
tpm2_sign -c 0x81000060 -g sha256 -s ecdaa --commit-index=$c1 -o s2.sig msg || fail "ECDAA sign 2"
ec daa L1.bin d.txt s2.sig msg B.bin K1.bin

# --- EC_Ephemeral + ZGen_2Phase (ECDH, full unified model)
A="decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth"
tpm2_create -C p.ctx -G ecc256:ecdh -a "$A" -u a.pub -r a.priv -Q || fail "create A"
tpm2_load -C p.ctx -u a.pub -r a.priv -c a.ctx -Q || fail "load A"
tpm2_create -C p.ctx -G ecc256:ecdh -a "$A" -u c.pub -r c.priv -Q || fail "create C"
tpm2_load -C p.ctx -u c.pub -r c.priv -c c.ctx -Q || fail "load C"
# B's static key: an ECDH ephemeral of ECDH_KeyGen against A (its Z is B's view of Z1)
tpm2_ecdhkeygen -c a.ctx -u QsB.bin -o Z1want.bin || fail ecdhkeygen
# B's ephemeral key: C's public key (C computes B's view of Z2 by ECDH_ZGen)
tpm2_readpublic -c c.ctx > c.txt && ec pubpoint c.txt QeB.bin
tpm2_ecephemeral -u QeA.bin -t ce.bin ecc256 || fail "EC_Ephemeral"
ec oncurve QeA.bin
ce=$((16#$(xxd -p ce.bin)))
tpm2_zgen2phase -c a.ctx -t $ce --static-public QsB.bin --ephemeral-public QeB.bin \
    --output-Z1 Z1.bin --output-Z2 Z2.bin || fail "ZGen_2Phase"
ec eq Z1.bin Z1want.bin
tpm2_ecdhzgen -c c.ctx -u QeA.bin -o Z2want.bin || fail ecdhzgen
ec eq Z2.bin Z2want.bin
# the counter is spent: TPM_RC_VALUE on counter (parameter 4)
expect_rc 0x4c4 tpm2_zgen2phase -c a.ctx -t $ce --static-public QsB.bin --ephemeral-public QeB.bin \
    --output-Z1 x1.bin --output-Z2 x2.bin
# a point off the curve: TPM_RC_ECC_POINT (parameter 1)
tpm2_ecephemeral -u Q2.bin -t ce2.bin ecc256 || fail "EC_Ephemeral 2"
ce2=$((16#$(xxd -p ce2.bin)))
cp QsB.bin bad.bin && printf '\x00' | dd of=bad.bin bs=1 seek=10 conv=notrunc 2>/dev/null
expect_rc 0x1e7 tpm2_zgen2phase -c a.ctx -t $ce2 --static-public bad.bin --ephemeral-public QeB.bin \
    --output-Z1 x1.bin --output-Z2 x2.bin
# a signing key is no key-exchange key (TPM_RC_ATTRIBUTES, handle 1)
expect_rc 0x182 tpm2_zgen2phase -c d.ctx -t $ce2 --static-public QsB.bin --ephemeral-public QeB.bin \
    --output-Z1 x1.bin --output-Z2 x2.bin
# the counter survived the failures
tpm2_zgen2phase -c a.ctx -t $ce2 --static-public QsB.bin --ephemeral-public QeB.bin \
    --output-Z1 x1.bin --output-Z2 x2.bin || fail "ZGen_2Phase with the second counter"
# ECMQV (raw command: tpm2_zgen2phase takes only signature schemes for -s):
# Z1 is the MQV point, which B computes from its own keys; Z2 is empty
tpm2_create -C p.ctx -G ecc256 -a "$A" -u m.pub -r m.priv -Q || fail "create a NULL-scheme ECC key"
tpm2_load -C p.ctx -u m.pub -r m.priv -c m.ctx -Q || fail "load it"
tpm2_evictcontrol -C o -c m.ctx 0x81000061 >/dev/null || fail "evictcontrol"
tpm2_readpublic -c 0x81000061 > m.txt || fail readpublic
tpm2_ecephemeral -u QeM.bin -t cm.bin ecc256 || fail "EC_Ephemeral for MQV"
/usr/bin/python3 - "$PORT" $((16#$(xxd -p cm.bin))) <<'PY' || fail "ECMQV"
import secrets, socket, struct, sys
sys.argv = [sys.argv[0], "-"] + sys.argv[1:]
exec(open("ec.py").read().split("cmd = sys.argv[1]")[0])
port, count = int(sys.argv[2]), int(sys.argv[3])
def avf(P):
    t = (n.bit_length() + 1) // 2
    return (P[0] % (1 << t)) + (1 << t)
dsB, deB = secrets.randbelow(n - 1) + 1, secrets.randbelow(n - 1) + 1
QsB, QeB = mul(dsB, G), mul(deB, G)
QsA, QeA = pub("m.txt"), point("QeM.bin")
sB = (deB + avf(QeB) * dsB) % n
want = mul(sB, add(QeA, mul(avf(QeA), QsA)))
def pt(P):
    x, y = P[0].to_bytes(32, "big"), P[1].to_bytes(32, "big")
    return struct.pack(">HH", 68, 32) + x + struct.pack(">H", 32) + y
pw = struct.pack(">IHBH", 0x40000009, 0, 0, 0)
def zgen(scheme, cnt):
    body = (struct.pack(">I", 0x81000061) + struct.pack(">I", len(pw)) + pw + pt(QsB) + pt(QeB) +
            struct.pack(">HH", scheme, cnt))
    cmd = struct.pack(">HII", 0x8002, 10 + len(body), 0x18D) + body
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(cmd); data = b""
    while len(data) < 10 or len(data) < struct.unpack(">I", data[2:6])[0]:
        c = s.recv(8192)
        if not c: break
        data += c
    s.close()
    return struct.unpack(">I", data[6:10])[0], data[10:]
rc, _ = zgen(0x001B, count)   # SM2: not offered (TPM_RC_SCHEME, parameter 3)
assert rc == 0x3D2, "SM2: %#x" % rc
rc, out = zgen(0x001D, count)
assert rc == 0, "ZGen_2Phase ECMQV: %#x" % rc
o = 4
n1 = struct.unpack(">H", out[o:o + 2])[0]
x, o2 = tpm2b(out, o + 2); y, _ = tpm2b(out, o2)
assert (int.from_bytes(x, "big"), int.from_bytes(y, "big")) == want, "MQV point differs"
assert out[o + 2 + n1:o + 2 + n1 + 6] == b"\x00\x04\x00\x00\x00\x00", out[o + 2 + n1:]
rc, _ = zgen(0x001D, count)   # spent
assert rc == 0x4C4, "ECMQV counter reuse: %#x" % rc
PY
# a TPM Reset ends every outstanding counter
tpm2_ecephemeral -u Q3.bin -t ce3.bin ecc256 || fail "EC_Ephemeral 3"
ce3=$((16#$(xxd -p ce3.bin)))
power_cycle
tpm2_startup -c || fail "startup after reset"
tpm2_load -C p.ctx -u a.pub -r a.priv -c a.ctx -Q 2>/dev/null || {
    tpm2_createprimary -C o -c p.ctx -Q && tpm2_load -C p.ctx -u a.pub -r a.priv -c a.ctx -Q; } || fail "reload A"
expect_rc 0x4c4 tpm2_zgen2phase -c a.ctx -t $ce3 --static-public QsB.bin --ephemeral-public QeB.bin \
    --output-Z1 x1.bin --output-Z2 x2.bin
echo OK
