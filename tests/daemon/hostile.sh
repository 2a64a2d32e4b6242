#!/usr/bin/env bash
# Acceptance 5: hostile peers on the Unix socket (hostile.py): partial
# frames then a close, a length of 0xFFFFFFFF, a wrong version, a response
# frame from a client, a request before HELLO, an unknown operation after
# HELLO (CKR_FUNCTION_NOT_SUPPORTED or a close), garbage after a valid
# frame, 1,000 idle connections (twice), a slowloris client sending one
# byte a second. After each, and during the idle connections and the
# slowloris client, a well-behaved client's 200 requests complete; the
# daemon's RSS stays within the bounds hostile.py states and its memory and
# descriptors come back after the connections close; read_timeout (2 s)
# closes the slowloris connection with an event=timeout line; the daemon
# logs bad_frame for the malformed frames and exits 0 on SIGTERM.
T_NAME=hostile
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"
d_need_binaries

# 2 x 1,000 connections of ours at once at most, plus the daemon's side.
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 4096 ] ||
    t_fail "the hard limit of open files ($(ulimit -Hn)) is below the 4096 this test needs"
[ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ] && ulimit -n 4096

d_write_conf "$T_TMP/d.conf" "$T_TMP/d.db" "$T_TMP/d.sock"
cat >>"$T_TMP/d.conf" <<EOF
read_timeout = 2
max_connections = 4096
EOF
# A small ASan quarantine in a sanitized build: freed memory is then reused
# as it is without the sanitizer, so the RSS checks measure what the daemon
# holds rather than ASan's 256 MiB quarantine.
if [ -n "${TESSERA_ASAN_LIB:-}" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
fi
d_start d
d_wait_ready d "unix://$T_TMP/d.sock"
d_url_env "unix://$T_TMP/d.sock"
t_check "a token to ask about" "$D_CLI" token init --label hostile --so-pin "$T_SO_PIN" --pin "$T_PIN"

rc=0
"$D_PY" "$D_DIR/hostile.py" "$T_TMP/d.sock" "${D_PID[d]}" 2>&1 | tee "$T_TMP/hostile.out" >&2 || rc=$?
[ $rc -eq 0 ] || t_fail "hostile.py failed (status $rc)"
t_grep "hostile.py ran to its end" "^ok: after the slowloris client" "$T_TMP/hostile.out"
t_grep "the slowloris connection timed out in the log" "event=timeout" "$T_TMP/d.log"
t_grep "malformed frames are logged" "event=bad_frame" "$T_TMP/d.log"
t_check "the CLI still works" "$D_CLI" token list
t_grep "the CLI still sees the token" "hostile" "$T_TMP/last.out"
d_stop d
exit 0
