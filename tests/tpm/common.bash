# Sourced by tests/tpm/*.sh: start tessera-tpm on a free 127.0.0.1 port with
# a temporary state directory, point tpm2-tools at it, stop it on exit.
set -u
: "${TESSERA_BUILD_DIR:?TESSERA_BUILD_DIR must be set}"
TPM_BIN="$TESSERA_BUILD_DIR/src/tpm/tessera-tpm"
if ! command -v tpm2_startup >/dev/null 2>&1; then
    echo "tpm2-tools not installed" >&2
    exit 77
fi
[ -x "$TPM_BIN" ] || { echo "no $TPM_BIN" >&2; exit 1; }
# The sanitized build reports leaks at exit; the server is stopped with
# SIGTERM and frees everything, but tpm2-tools are not instrumented.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
WORK=$(mktemp -d)
STATE="$WORK/state"
SRV_PID=""
ALL_PIDS=""

cleanup() {
    for p in $ALL_PIDS; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    # Outside the ephemeral range, so that client sockets never hold it.
    /usr/bin/python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randrange(20000, 32000, 2)
    ok = True
    for q in (p, p + 1):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", q))
        except OSError:
            ok = False
        s.close()
    if ok:
        print(p)
        break
PY
}

start_tpm() {
    local fixed=${PORT:-}
    for _attempt in 1 2 3 4 5; do
        PORT=${fixed:-$(free_port)}
        "$TPM_BIN" --state "$STATE" --port "$PORT" ${TPM_ARGS:-} >/dev/null 2>>"$WORK/server.log" &
        SRV_PID=$!
        ALL_PIDS="$ALL_PIDS $SRV_PID"
        for _ in $(seq 50); do
            if ! kill -0 "$SRV_PID" 2>/dev/null; then break; fi
            if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
            sleep 0.1
        done
        sleep 0.1
        if kill -0 "$SRV_PID" 2>/dev/null; then
            export TPM2TOOLS_TCTI="mssim:host=127.0.0.1,port=$PORT"
            return 0
        fi
        wait "$SRV_PID" 2>/dev/null
        SRV_PID=""
        [ -n "$fixed" ] && sleep 0.5   # a restart on the same port: let it free up
    done
    fail "tessera-tpm did not start"
}

stop_tpm() {
    kill "$SRV_PID"
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=""
}

kill9_tpm() {
    kill -9 "$SRV_PID"
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=""
}

use_mssim() { export TPM2TOOLS_TCTI="mssim:host=127.0.0.1,port=$PORT"; }
use_swtpm() { export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"; }

# power_cycle: on the mssim platform port, power off (2) then on (1), each
# acknowledged by 0, then end the platform session (20): a reboot, as the
# next Startup sees it.
power_cycle() {
    /usr/bin/python3 - "$PORT" <<'PY' || fail "power cycle"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]) + 1))
for cmd in (2, 1):
    s.sendall(struct.pack(">I", cmd))
    assert s.recv(4) == b"\0\0\0\0"
s.sendall(struct.pack(">I", 20))
s.close()
PY
}

# start_tpm_primary: start the server, Startup(CLEAR), and an owner primary
# storage key in p.ctx.
start_tpm_primary() {
    start_tpm
    tpm2_startup -c || fail startup
    tpm2_createprimary -C o -c p.ctx -Q || fail createprimary
}

# import_hmac_key: 32 random bytes in key.bin, imported under p.ctx as an
# HMAC key and loaded as k.ctx, so that MACs can be checked outside the TPM.
import_hmac_key() {
    head -c 32 /dev/urandom > key.bin
    tpm2_import -C p.ctx -G hmac -i key.bin -u k.pub -r k.priv -Q || fail "import hmac key"
    tpm2_load -C p.ctx -u k.pub -r k.priv -c k.ctx -Q || fail "load hmac key"
}

# start_abrmd: tpm2-abrmd on a private D-Bus session bus in front of the
# running server, and the tools pointed at it; both are stopped on exit.
# Skips (77) where tpm2-abrmd, dbus-daemon or the tabrmd TCTI is missing.
ABRMD_PID=""
DBUS_PID=""
start_abrmd() {
    local out
    command -v tpm2-abrmd >/dev/null || { echo "no tpm2-abrmd" >&2; exit 77; }
    command -v dbus-daemon >/dev/null || { echo "no dbus-daemon" >&2; exit 77; }
    ls /usr/lib/*/libtss2-tcti-tabrmd.so* >/dev/null 2>&1 || { echo "no tabrmd TCTI" >&2; exit 77; }
    out=$(dbus-daemon --session --fork --print-address=1 --print-pid=1) || fail "dbus-daemon"
    export DBUS_SESSION_BUS_ADDRESS=$(echo "$out" | sed -n 1p)
    DBUS_PID=$(echo "$out" | sed -n 2p)
    tpm2-abrmd --session --allow-root --tcti="mssim:host=127.0.0.1,port=$PORT" >"$WORK/abrmd.log" 2>&1 &
    ABRMD_PID=$!
    trap stop_abrmd EXIT
    for _ in $(seq 50); do
        TPM2TOOLS_TCTI="tabrmd:bus_type=session" tpm2_getrandom 4 -o /dev/null 2>/dev/null && break
        sleep 0.1
    done
    export TPM2TOOLS_TCTI="tabrmd:bus_type=session"
}

stop_abrmd() {
    kill "$ABRMD_PID" 2>/dev/null; wait "$ABRMD_PID" 2>/dev/null
    kill "$DBUS_PID" 2>/dev/null
    cleanup
}

fail() {
    echo "FAIL: $*" >&2
    echo "--- server log" >&2
    cat "$WORK/server.log" >&2
    exit 1
}

# refused STATUS OUT WHAT PATTERN: the checks behind expect_fail and
# expect_rc. A refusal is a non-zero status that is not a signal, no crash or
# sanitizer report in the output, and output matching the extended regex
# PATTERN. A crash of the client, or of the server (the tools then report an
# I/O error instead of a response code), does not count as the refusal.
refused() {
    local rc=$1 out=$2 what=$3 want=$4
    if [ "$rc" -eq 0 ]; then
        cat "$out" >&2
        fail "expected failure: $what"
    fi
    if { [ "$rc" -gt 128 ] && [ "$rc" -le 192 ]; } ||
        grep -Eq "ERROR: (Address|Leak)Sanitizer|runtime error:|Segmentation fault" "$out"; then
        cat "$out" >&2
        fail "crashed (status $rc) instead of refusing: $what"
    fi
    if ! grep -Eq -- "$want" "$out"; then
        cat "$out" >&2
        fail "refused (status $rc) but without /$want/: $what"
    fi
}

# expect_rc RC CMD...: the command is refused with TPM response code RC
# (hex, e.g. 0x98e), as tpm2-tools print it: "ErrorCode (0x0000098e)" or
# "(0x98E)".
expect_rc() {
    local want=$1 rc=0 hex
    shift
    hex=$(printf '%x' "$want")
    "$@" >"$WORK/expect.out" 2>&1 || rc=$?
    refused "$rc" "$WORK/expect.out" "$*" "\\((0x0*${hex}|0x0*${hex^^})\\)"
}

# expect_fail PATTERN CMD...: the command is refused with an output matching
# the extended regex PATTERN (a tool's own message); use expect_rc for TPM
# response codes.
expect_fail() {
    local want=$1 rc=0
    shift
    if [ $# -eq 0 ] || command -v -- "$want" >/dev/null 2>&1; then
        fail "expect_fail takes the expected error first: expect_fail PATTERN CMD... ($want $*)"
    fi
    "$@" >"$WORK/expect.out" 2>&1 || rc=$?
    refused "$rc" "$WORK/expect.out" "$*" "$want"
}

cd "$WORK" || exit 1
