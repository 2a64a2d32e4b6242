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

cleanup() {
    if [ -n "$SRV_PID" ]; then
        kill "$SRV_PID" 2>/dev/null
        wait "$SRV_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 - <<'PY'
import socket
for _ in range(50):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 1)); t.close(); print(p); break
    except OSError:
        t.close()
PY
}

start_tpm() {
    PORT=${PORT:-$(free_port)}
    "$TPM_BIN" --state "$STATE" --port "$PORT" 2>>"$WORK/server.log" &
    SRV_PID=$!
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
        sleep 0.1
    done
    export TPM2TOOLS_TCTI="mssim:host=127.0.0.1,port=$PORT"
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

# expect_fail CMD...: the command must fail
expect_fail() {
    if "$@" >/dev/null 2>&1; then fail "expected failure: $*"; fi
}

cd "$WORK" || exit 1
