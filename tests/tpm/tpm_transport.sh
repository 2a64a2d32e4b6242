#!/bin/bash
# Transports: mssim handshake, platform signals and locality; swtpm control
# channel (capabilities, locality, init, buffer size); several clients at once;
# a command written in pieces.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
/usr/bin/python3 - "$PORT" <<'PY' || fail "transport checks"
import socket, struct, sys, time
port = int(sys.argv[1])

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        assert c, "connection closed"
        b += c
    return b

def mssim_cmd(s, cmd, loc=0):
    s.sendall(struct.pack(">IBI", 8, loc, len(cmd)) + cmd)
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    r = recv_exact(s, n)
    assert recv_exact(s, 4) == b"\0\0\0\0"
    return r

def rc(r):
    return struct.unpack(">I", r[6:10])[0]

getrandom = struct.pack(">HIIH", 0x8001, 12, 0x17B, 8)
startup = struct.pack(">HIIH", 0x8001, 12, 0x144, 0)

# mssim: handshake, then a command written byte by byte (no delayed-ACK stall)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(struct.pack(">II", 15, 1))
ver, flags, ack = struct.unpack(">III", recv_exact(s, 12))
assert ver == 1 and ack == 0
msg = struct.pack(">IBI", 8, 0, len(getrandom)) + getrandom
t0 = time.time()
for b in msg:
    s.sendall(bytes([b]))
n = struct.unpack(">I", recv_exact(s, 4))[0]
r = recv_exact(s, n); recv_exact(s, 4)
assert rc(r) == 0 and len(r) == 20 and time.time() - t0 < 0.5

# several clients at once keep their own framing
others = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
for o in others:
    assert rc(mssim_cmd(o, getrandom)) == 0
for o in others:
    o.sendall(struct.pack(">I", 20))  # TPM_SESSION_END
    o.close()

# mssim platform port: power off / on; the TPM then needs TPM2_Startup
p = socket.create_connection(("127.0.0.1", port + 1))
for code in (2, 1, 11):  # power off, power on, NV on
    p.sendall(struct.pack(">I", code))
    assert recv_exact(p, 4) == b"\0\0\0\0"
assert rc(mssim_cmd(s, getrandom)) == 0x100      # TPM_RC_INITIALIZE
assert rc(mssim_cmd(s, startup)) == 0
assert rc(mssim_cmd(s, getrandom)) == 0
p.sendall(struct.pack(">I", 20)); p.close()

# swtpm control channel: set locality (first message decides the protocol),
# capabilities, buffer size, init (a reset), established flag
c = socket.create_connection(("127.0.0.1", port + 1))
c.sendall(struct.pack(">IB", 5, 0))
assert recv_exact(c, 4) == b"\0\0\0\0"
c.sendall(struct.pack(">I", 1))
res, caps = struct.unpack(">II", recv_exact(c, 8))
assert res == 0 and caps & 0x8, hex(caps)   # SET_LOCALITY supported
c.sendall(struct.pack(">II", 17, 0))
res, cur, mn, mx = struct.unpack(">IIII", recv_exact(c, 16))
assert res == 0 and cur >= 4096
c.sendall(struct.pack(">II", 2, 0))           # CMD_INIT
assert recv_exact(c, 4) == b"\0\0\0\0"
c.close()
raw = socket.create_connection(("127.0.0.1", port))
raw.sendall(getrandom)
assert rc(recv_exact(raw, 10)) == 0x100       # INITIALIZE after CMD_INIT
raw.sendall(startup)
assert rc(recv_exact(raw, 10)) == 0
raw.sendall(getrandom)
r = recv_exact(raw, 10); r += recv_exact(raw, struct.unpack(">I", r[2:6])[0] - 10)
assert rc(r) == 0 and len(r) == 20
raw.close()
s.close()
print("transport ok")
PY
tpm2_getrandom 8 -o /dev/null || fail "tools after transport checks"
echo OK
