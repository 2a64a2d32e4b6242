#!/bin/bash
# One local client cannot freeze the server:
# 1. a client that pipelines thousands of commands with large responses and
#    reads none of them does not stop another client from being served, and
#    still gets every answer, in order, once it reads;
# 2. a client that never reads is dropped after the write timeout;
# 3. more idle connections than the limit: a new client is still served (the
#    idlest connection is evicted, not the newcomer refused);
# 4. an incomplete message is dropped after the read timeout, an idle
#    connection after the idle timeout.
source "$(dirname "$0")/common.bash"

# Every check in the Python below prints what failed and exits non-zero.
run_py() {
    /usr/bin/python3 - "$PORT" "$@" <<'PY'
import socket, struct, subprocess, sys, threading, time
port = int(sys.argv[1])
what = sys.argv[2]

# GetCapability(TPM_CAP_COMMANDS, first command, 256): 22 bytes in, about
# 500 bytes out, so the responses of a pipelined burst overflow every
# socket buffer on the way back.
GETCAP = struct.pack(">HIIIII", 0x8001, 22, 0x17A, 2, 0x11F, 256)

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed after %d of %d bytes" % (len(b), n))
        b += c
    return b

def read_response(s):
    hdr = recv_exact(s, 10)
    size = struct.unpack(">I", hdr[2:6])[0]
    body = recv_exact(s, size - 10)
    return hdr, body

def getrandom_tool():
    t0 = time.monotonic()
    r = subprocess.run(["tpm2_getrandom", "--hex", "8"], capture_output=True, timeout=30)
    if r.returncode != 0 or len(r.stdout.strip()) != 16:
        sys.exit("tpm2_getrandom failed: rc %d %r %r" % (r.returncode, r.stdout, r.stderr))
    return time.monotonic() - t0

def closed_within(s, seconds):
    """True when the server closes s within the time (reading what it sent)."""
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if s.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False

if what == "pipeline":
    N = 40000
    a = socket.socket()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.connect(("127.0.0.1", port))
    sent = [0]
    def writer():
        for i in range(N // 1000):
            a.sendall(GETCAP * 1000)
            sent[0] += 1000
    th = threading.Thread(target=writer, daemon=True)
    th.start()
    time.sleep(1.0)
    # The pipelining client is stuck in send(); the server is not.
    for i in range(5):
        took = getrandom_tool()
        if took > 5:
            sys.exit("another client waited %.1f s" % took)
    # Now read: every command is answered, in order, nothing dropped.
    first = None
    for i in range(N):
        try:
            hdr, body = read_response(a)
        except EOFError as e:
            sys.exit("response %d: %s" % (i, e))
        rc = struct.unpack(">I", hdr[6:10])[0]
        if rc != 0:
            sys.exit("response %d: rc 0x%x" % (i, rc))
        if first is None:
            first = body
        elif body != first:
            sys.exit("response %d differs" % i)
    th.join(10)
    if sent[0] != N:
        sys.exit("only %d commands sent" % sent[0])
    print("pipeline: %d answers after another client was served 5 times" % N)

elif what == "nonreader":
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", port))
    c.settimeout(0.5)
    try:
        while True:
            c.send(GETCAP * 100)
    except (socket.timeout, BlockingIOError):
        pass
    t0 = time.monotonic()
    getrandom_tool()
    # write timeout is 2 s: the server gives up on it (reading earlier
    # would make it a reader); then what is in flight drains to the end
    time.sleep(4)
    if not closed_within(c, 15):
        sys.exit("a client that never reads was not dropped")
    print("nonreader: dropped after %.1f s" % (time.monotonic() - t0))

elif what == "limit":
    # limit 4: ten idle connections, then a real client needs two more
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    time.sleep(0.5)
    getrandom_tool()
    getrandom_tool()
    if not closed_within(idle[0], 3):
        sys.exit("the idlest connection was not evicted")
    # the newest idle connection may still be served
    last = idle[-1]
    if closed_within(last, 0.5) is True:
        # evicted by the tools' connections: a fresh one must then work
        last = socket.create_connection(("127.0.0.1", port))
    last.settimeout(5)
    last.sendall(GETCAP)
    hdr, _ = read_response(last)
    if struct.unpack(">I", hdr[6:10])[0] != 0:
        sys.exit("a connection within the limit was not served")
    print("limit: served past %d idle connections" % len(idle))

elif what == "timeouts":
    # read timeout 1 s: half a command, then silence
    p = socket.create_connection(("127.0.0.1", port))
    p.sendall(GETCAP[:7])
    t0 = time.monotonic()
    if not closed_within(p, 6):
        sys.exit("an incomplete message was kept past the read timeout")
    took = time.monotonic() - t0
    if took < 0.8:
        sys.exit("closed before the read timeout (%.1f s)" % took)
    # idle timeout 2 s: a connection that sends nothing
    q = socket.create_connection(("127.0.0.1", port))
    q.sendall(GETCAP)
    read_response(q)
    t0 = time.monotonic()
    if not closed_within(q, 8):
        sys.exit("an idle connection was kept past the idle timeout")
    if time.monotonic() - t0 < 1.5:
        sys.exit("closed before the idle timeout")
    print("timeouts: partial message and idle connection closed")
PY
}

TPM_ARGS="--write-timeout 30"
start_tpm
tpm2_startup -c || fail startup
run_py pipeline || fail "pipelining client"
stop_tpm

TPM_ARGS="--write-timeout 2"
start_tpm
tpm2_startup -c || fail startup
run_py nonreader || fail "client that never reads"
stop_tpm

TPM_ARGS="--max-connections 4"
start_tpm
tpm2_startup -c || fail startup
run_py limit || fail "connection limit"
stop_tpm

TPM_ARGS="--read-timeout 1 --idle-timeout 2"
start_tpm
tpm2_startup -c || fail startup
run_py timeouts || fail "timeouts"
stop_tpm

# bad limits are refused with a usage error (status 2) that names them
rc=0; "$TPM_BIN" --state "$STATE" --port 1 --max-connections 0 2>err.txt || rc=$?
[ "$rc" -eq 2 ] && grep -q "bad connection limit" err.txt || fail "--max-connections 0: status $rc"
rc=0; "$TPM_BIN" --state "$STATE" --port 1 --idle-timeout -1 2>err.txt || rc=$?
[ "$rc" -eq 2 ] && grep -q "bad timeout" err.txt || fail "--idle-timeout -1: status $rc"
echo ok
