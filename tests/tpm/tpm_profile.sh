#!/bin/bash
# --profile small behaves like a chip with 3 object slots and 3 loaded
# sessions: a full table answers TPM_RC_OBJECT_MEMORY (0x902) or
# TPM_RC_SESSION_MEMORY (0x903) instead of evicting, and GetCapability
# reports the small figures. The default profile still evicts.
source "$(dirname "$0")/common.bash"

TPM_ARGS="--profile small"
start_tpm
tpm2_startup -c || fail startup

# tpm2-tools without a resource manager leave each primary loaded
for i in 1 2 3; do
    tpm2_createprimary -C o -G ecc -c p$i.ctx -Q || fail "createprimary $i"
done
if tpm2_createprimary -C o -G ecc -c p4.ctx -Q 2>err.txt; then
    fail "a fourth object was loaded on a 3-object profile"
fi
grep -q "0x902" err.txt || fail "no TPM_RC_OBJECT_MEMORY: $(cat err.txt)"
tpm2_getcap properties-fixed | grep -A1 TPM2_PT_HR_TRANSIENT_MIN | grep -q "0x3" ||
    fail "HR_TRANSIENT_MIN is not 3"
tpm2_getcap properties-variable | grep -A1 TPM2_PT_HR_TRANSIENT_AVAIL | grep -q "0x0" ||
    fail "HR_TRANSIENT_AVAIL is not 0"
tpm2_flushcontext -t || fail flushcontext
tpm2_createprimary -C o -G ecc -c p4.ctx -Q || fail "createprimary after a flush"
tpm2_flushcontext -t || fail flushcontext

/usr/bin/python3 - "$PORT" <<'PY' || fail "session limits"
import socket, struct, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=10)

def cmd(cc, handles=b"", params=b""):
    body = handles + params
    s.sendall(struct.pack(">HII", 0x8001, 10 + len(body), cc) + body)
    hdr = b""
    while len(hdr) < 10:
        hdr += s.recv(10 - len(hdr))
    size = struct.unpack(">I", hdr[2:6])[0]
    rest = b""
    while len(rest) < size - 10:
        rest += s.recv(size - 10 - len(rest))
    return struct.unpack(">I", hdr[6:10])[0], rest

def start_session():
    # StartAuthSession(NULL, NULL, nonce 16, no salt, HMAC, no symmetric, SHA-256)
    params = struct.pack(">H", 16) + b"\x01" * 16 + struct.pack(">H", 0) + b"\x00" + \
             struct.pack(">HH", 0x0010, 0x000B)
    rc, rest = cmd(0x176, struct.pack(">II", 0x40000007, 0x40000007), params)
    return rc, (struct.unpack(">I", rest[:4])[0] if rc == 0 else None)

handles = []
for i in range(3):
    rc, h = start_session()
    if rc != 0:
        sys.exit("session %d: rc 0x%x" % (i, rc))
    handles.append(h)
rc, _ = start_session()
if rc != 0x903:
    sys.exit("fourth loaded session: rc 0x%x, want TPM_RC_SESSION_MEMORY 0x903" % rc)
# a saved session frees its loaded slot; loading it back needs one again
rc, ctx = cmd(0x162, struct.pack(">I", handles[0]))
if rc != 0:
    sys.exit("ContextSave: rc 0x%x" % rc)
rc, h = start_session()
if rc != 0:
    sys.exit("session after a ContextSave: rc 0x%x" % rc)
rc, _ = cmd(0x161, b"", ctx)
if rc != 0x903:
    sys.exit("ContextLoad into a full table: rc 0x%x, want 0x903" % rc)
rc, _ = cmd(0x165, b"", struct.pack(">I", h))
if rc != 0:
    sys.exit("FlushContext: rc 0x%x" % rc)
rc, _ = cmd(0x161, b"", ctx)
if rc != 0:
    sys.exit("ContextLoad after a flush: rc 0x%x" % rc)
print("sessions: 0x903 when three are loaded")
PY
stop_tpm

# the default profile evicts the least recently used object instead
TPM_ARGS=""
start_tpm
tpm2_startup -c || fail startup
for i in $(seq 1 34); do
    tpm2_createprimary -C o -G ecc -c d.ctx -Q || fail "default profile: createprimary $i"
done
rc=0; "$TPM_BIN" --state "$STATE" --port 1 --profile tiny 2>err.txt || rc=$?
[ "$rc" -eq 2 ] && grep -q "unknown profile" err.txt || fail "--profile tiny: status $rc"
echo ok
