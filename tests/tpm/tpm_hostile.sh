#!/bin/bash
# Hostile input: truncated, oversized and garbage commands each get a TPM
# response code and the server keeps serving (both framings).
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
/usr/bin/python3 - "$PORT" <<'PY' || fail "hostile input"
import os, random, socket, struct, sys
port = int(sys.argv[1])

def raw(cmd, expect_reply=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(cmd)
    data = b""
    try:
        while True:
            chunk = s.recv(8192)
            if not chunk:
                break
            data += chunk
            if len(data) >= 10 and len(data) >= struct.unpack(">I", data[2:6])[0]:
                break
    except socket.timeout:
        pass
    s.close()
    return data

def rc_of(resp):
    assert len(resp) >= 10, resp
    return struct.unpack(">I", resp[6:10])[0]

def cmd(cc, body=b"", tag=0x8001, size=None):
    n = 10 + len(body) if size is None else size
    return struct.pack(">HII", tag, n, cc) + body

def alive():
    r = raw(cmd(0x17B, struct.pack(">H", 8)))
    assert rc_of(r) == 0 and len(r) == 10 + 2 + 8, r

checks = [
    # (bytes, expected rc or None for "any error")
    (cmd(0x17B, struct.pack(">H", 8), tag=0x1234), 0x01E),           # bad tag
    (cmd(0x17B, struct.pack(">H", 8), size=9), 0x142),               # size < header
    (cmd(0x17B, struct.pack(">H", 8), size=5000), 0x142),            # oversized
    (cmd(0x17B, b""), 0x09A | 0x140),                                  # truncated parameter
    (cmd(0x1FFF, b""), 0x143),                                        # unknown command
    (cmd(0x17A, struct.pack(">II", 6, 0x100)), 0x09A | 0x340),        # GetCapability missing count
    (cmd(0x17A, struct.pack(">III", 99, 0, 1)), 0x084 | 0x140),        # bad capability
    (cmd(0x17E, struct.pack(">I", 100)), 0x095 | 0x140),              # PCR_Read count too big
    (cmd(0x17E, struct.pack(">IHB", 1, 0x0B, 200)), 0x084 | 0x140),   # sizeofSelect too big
    (cmd(0x17E, struct.pack(">IHB", 1, 0x99, 3) + b"\xff\xff\xff"), 0x083 | 0x140),  # bad hash
    (cmd(0x173, struct.pack(">I", 0x80001234)), 0x910),               # ReadPublic unloaded handle
    (cmd(0x173, struct.pack(">I", 0x81FFFFFF)), 0x08B | 0x100),        # no such persistent
    (cmd(0x131, struct.pack(">I", 0x40000001)), 0x125),               # CreatePrimary without auth
    (cmd(0x131, struct.pack(">II", 0x40000001, 0xFFFF), tag=0x8002), 0x144),  # authSize too large
    (cmd(0x17D, struct.pack(">H", 0xFFFF)), 0x095 | 0x140),            # TPM2B larger than max
    (cmd(0x144, struct.pack(">H", 0)), 0x100),                        # Startup twice
    (cmd(0x17B, struct.pack(">HB", 8, 0)), 0x095),                    # trailing octet
    (cmd(0x17A, struct.pack(">IIII", 6, 0x100, 1, 0)), 0x095),         # trailing word
]
for data, want in checks:
    resp = raw(data)
    got = rc_of(resp)
    assert got == want, "command %s: rc 0x%x, want 0x%x" % (data[:16].hex(), got, want)
    alive()

# random garbage with a valid header, many command codes
rnd = random.Random(1234)
ccs = [0x11F + i for i in range(0x80)]
for i in range(600):
    body = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 80)))
    tag = rnd.choice([0x8001, 0x8002])
    r = raw(cmd(rnd.choice(ccs), body, tag=tag))
    assert len(r) >= 10
    if i % 50 == 0:
        alive()

# mssim framing: a garbage command inside TPM_SEND_COMMAND still answers
s = socket.create_connection(("127.0.0.1", port), timeout=5)
junk = os.urandom(30)
s.sendall(struct.pack(">IBI", 8, 0, len(junk)) + junk)
n = struct.unpack(">I", s.recv(4))[0]
body = b""
while len(body) < n + 4:
    body += s.recv(n + 4 - len(body))
assert rc_of(body[:n]) != 0 and body[n:] == b"\0\0\0\0"
s.close()
alive()
# a client that disconnects mid-command does not hurt the server
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(cmd(0x17B, struct.pack(">H", 8))[:7])
s.close()
alive()
print("hostile ok")
PY
tpm2_getrandom --hex 8 >/dev/null || fail "server stopped serving"

# Sessions and objects leaked by clients (no resource manager) do not wedge
# the TPM: 80 sessions and 40 loaded primaries, then everything still works.
tpm2_createprimary -C o -c p.ctx -Q || fail createprimary
for i in $(seq 80); do tpm2_startauthsession -S "s$i.ctx" >/dev/null 2>&1 || fail "session $i"; done
for i in $(seq 40); do tpm2_createprimary -C o -G ecc -c "o$i.ctx" -Q || fail "object $i"; done
tpm2_getcap handles-loaded-session | grep -c 0x0 | { read n; [ "$n" -le 64 ] || fail "$n sessions"; }
tpm2_create -C p.ctx -G ecc -u k.pub -r k.priv -Q || fail "create after leaks"
tpm2_load -C p.ctx -u k.pub -r k.priv -c k.ctx -Q || fail "load after leaks"
kill -0 "$SRV_PID" || fail "server died"
echo OK
