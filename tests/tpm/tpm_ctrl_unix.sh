#!/bin/bash
# The swtpm control channel on a Unix socket, as QEMU's tpm-emulator backend
# drives it: capabilities (those QEMU requires for a TPM 2.0), the data
# channel handed over with CMD_SET_DATAFD (SCM_RIGHTS), CMD_STOP,
# CMD_SET_BUFFERSIZE, CMD_INIT, localities, the establishment bit; TPM
# commands on the passed socket; the same TPM on TCP at the same time; the
# DRTM hash commands.
source "$(dirname "$0")/common.bash"
SOCK="$WORK/ctrl.sock"
TPM_ARGS="--ctrl unix:$SOCK"
start_tpm
[ -S "$SOCK" ] || fail "no control socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "control socket mode $(stat -c %a "$SOCK")"

/usr/bin/python3 - "$SOCK" "$PORT" <<'PY' || fail "control channel"
import array, socket, struct, sys
path, port = sys.argv[1], int(sys.argv[2])
ctrl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ctrl.settimeout(10)
ctrl.connect(path)

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("connection closed")
        b += c
    return b

def ctrl_cmd(code, payload=b"", out=4, fds=None):
    msg = struct.pack(">I", code) + payload
    if fds:
        ctrl.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        ctrl.sendall(msg)
    return recv_exact(ctrl, out)

def result(r):
    return struct.unpack(">I", r[:4])[0]

# QEMU requires INIT, SHUTDOWN, GET_TPMESTABLISHED, SET_LOCALITY,
# RESET_TPMESTABLISHED, SET_DATAFD, STOP and SET_BUFFERSIZE for a TPM 2.0
caps = struct.unpack(">Q", ctrl_cmd(1, out=8))[0]
need = 0x1 | 0x2 | 0x4 | 0x8 | 0x80 | 0x1000 | 0x400 | 0x2000
if caps & need != need:
    sys.exit("capabilities 0x%x lack 0x%x" % (caps, need & ~caps))
if caps & (0x100 | 0x200):
    sys.exit("state blobs claimed but not implemented: 0x%x" % caps)

# without a descriptor, SET_DATAFD fails
if result(ctrl_cmd(16)) == 0:
    sys.exit("SET_DATAFD without a descriptor succeeded")
mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
if result(ctrl_cmd(16, fds=[theirs.fileno()])) != 0:
    sys.exit("SET_DATAFD failed")
theirs.close()
if result(ctrl_cmd(14)) != 0:                       # STOP
    sys.exit("STOP failed")
r = ctrl_cmd(17, struct.pack(">I", 4096), out=16)   # SET_BUFFERSIZE
res, size, lo, hi = struct.unpack(">IIII", r)
if res != 0 or not lo <= size <= hi:
    sys.exit("SET_BUFFERSIZE: %r" % (r,))
if result(ctrl_cmd(2, struct.pack(">I", 0))) != 0:  # INIT
    sys.exit("INIT failed")
if result(ctrl_cmd(5, b"\x00" * 4)) != 0:           # SET_LOCALITY 0 (ptm_loc)
    sys.exit("SET_LOCALITY failed")

mine.settimeout(10)
def tpm(cmd):
    mine.sendall(cmd)
    hdr = recv_exact(mine, 10)
    return hdr + recv_exact(mine, struct.unpack(">I", hdr[2:6])[0] - 10)

r = tpm(struct.pack(">HIIH", 0x8001, 12, 0x144, 0))          # Startup(CLEAR)
if struct.unpack(">I", r[6:10])[0] != 0:
    sys.exit("Startup over the passed socket: %r" % r)
r = tpm(struct.pack(">HIIH", 0x8001, 12, 0x17B, 16))         # GetRandom(16)
if struct.unpack(">I", r[6:10])[0] != 0 or len(r) != 10 + 2 + 16:
    sys.exit("GetRandom over the passed socket: %r" % r)
# extend PCR 0 on the passed socket, so
# that a TCP client can see it is the same TPM
digest = b"\x11" * 32
auth = struct.pack(">IHBH", 0x40000009, 0, 0, 0)
body = struct.pack(">I", 0) + struct.pack(">I", len(auth)) + auth + \
       struct.pack(">IH", 1, 0x000B) + digest
r = tpm(struct.pack(">HII", 0x8002, 10 + len(body), 0x182) + body)
if struct.unpack(">I", r[6:10])[0] != 0:
    sys.exit("PCR_Extend over the passed socket: %r" % r)
r = ctrl_cmd(4, out=8)                               # GET_TPMESTABLISHED
if result(r) != 0:
    sys.exit("GET_TPMESTABLISHED: %r" % r)
if result(ctrl_cmd(11, b"\x03" + b"\x00" * 3)) != 0:  # RESET_TPMESTABLISHED
    sys.exit("RESET_TPMESTABLISHED failed")
import hashlib
open("pcr0.expect", "w").write(hashlib.sha256(b"\0" * 32 + digest).hexdigest().upper())
# DRTM: HASH_START resets PCR 17-22 to zero, HASH_END extends PCR 17 with
# the digest of what HASH_DATA sent (Part 1, _TPM_Hash_Start/_Data/_End)
if caps & 0x10 == 0:
    sys.exit("HASHING not offered")
if result(ctrl_cmd(8)) == 0:
    sys.exit("HASH_END without HASH_START succeeded")
measured = b"a measured launch environment" * 10
if result(ctrl_cmd(6)) != 0 or \
   result(ctrl_cmd(7, struct.pack(">I", len(measured)) + measured)) != 0 or \
   result(ctrl_cmd(8)) != 0:
    sys.exit("HASH_START/DATA/END failed")
open("pcr17.expect", "w").write(
    hashlib.sha256(b"\0" * 32 + hashlib.sha256(measured).digest()).hexdigest().upper())
print("control channel: caps 0x%x, data channel over SCM_RIGHTS" % caps)
PY

# the same TPM over TCP: PCR 0 holds the extend made on the passed socket
tpm2_pcrread sha256:0 -o pcr0.bin >/dev/null || fail "pcrread over TCP"
[ "$(od -An -v -tx1 pcr0.bin | tr -d ' \n' | tr a-f A-F)" = "$(cat pcr0.expect)" ] ||
    fail "PCR 0 over TCP differs from the extend over the passed socket"

hexof() { od -An -v -tx1 "$1" | tr -d ' \n' | tr a-f A-F; }
tpm2_pcrread sha256:17 -o pcr17.bin >/dev/null || fail "pcrread 17"
[ "$(hexof pcr17.bin)" = "$(cat pcr17.expect)" ] || fail "PCR 17 does not hold the DRTM digest"
tpm2_pcrread sha256:18 -o pcr18.bin >/dev/null || fail "pcrread 18"
[ "$(hexof pcr18.bin)" = "$(printf "%064d" 0)" ] || fail "PCR 18 was not reset to zero: $(hexof pcr18.bin)"

# a file that is not a socket is never replaced
stop_tpm
echo keep > "$WORK/notasocket"
rc=0; "$TPM_BIN" --state "$STATE" --ctrl "unix:$WORK/notasocket" 2>err.txt || rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot listen" err.txt || fail "a regular file as control socket: status $rc"
[ "$(cat "$WORK/notasocket")" = keep ] || fail "the file was replaced"
rc=0; "$TPM_BIN" --state "$STATE" --ctrl "tcp:1" 2>err.txt || rc=$?
[ "$rc" -eq 2 ] && grep -q "unix:PATH" err.txt || fail "--ctrl tcp:1: status $rc"
echo ok
