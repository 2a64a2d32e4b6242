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
