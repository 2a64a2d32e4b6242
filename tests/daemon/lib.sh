# Helpers that run tesserad for a test (sourced, not run). Sourced by
# tests/integration/lib.sh, so the remote mode of the integration scripts
# (TESSERA_TEST_REMOTE=unix|tls), tests/remote/run.sh and tests/daemon/*.sh
# start and stop daemons the same way. Needs T_TMP, t_log and t_fail from
# that file; defines functions and a few variables only.
#
# A daemon has a NAME: its configuration is $T_TMP/NAME.conf, its stderr
# (the event log, one key=value line per event) $T_TMP/NAME.log, its pid
# ${D_PID[NAME]}. Daemons still running when the script ends are stopped
# by d_stop_all (t_finish calls it), and their log tails printed on failure.

D_PY=/usr/bin/python3
D_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D_TESSERAD="${TESSERA_BUILD_DIR:-}/src/daemon/tesserad"
D_CLI="${TESSERA_BUILD_DIR:-}/src/cli/tessera"
declare -A D_PID=()
D_NAMES=()

# d_need_binaries: the daemon and the CLI (for certificates) are built.
d_need_binaries() {
    [ -x "$D_TESSERAD" ] || t_fail "tesserad not built: $D_TESSERAD"
    [ -x "$D_CLI" ] || t_fail "tessera CLI not built: $D_CLI"
}

# d_free_port: a TCP port of 127.0.0.1 nobody listens on right now.
d_free_port() {
    "$D_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# d_pki DIR: a CA (DIR/ca.pem), a server certificate for localhost and
# 127.0.0.1 (DIR/server.pem, .key) and a client certificate
# (DIR/client.pem, .key), made by the built CLI. Made once per DIR.
d_pki() {
    local dir=$1
    [ -f "$dir/client.pem" ] && return 0
    "$D_CLI" cert ca --out "$dir" >"$T_TMP/pki.out" 2>&1 &&
        "$D_CLI" cert server --ca "$dir" --out "$dir" --name localhost --name 127.0.0.1 \
            >>"$T_TMP/pki.out" 2>&1 &&
        "$D_CLI" cert client --ca "$dir" --out "$dir" --cn client >>"$T_TMP/pki.out" 2>&1 ||
        { cat "$T_TMP/pki.out" >&2; t_fail "tessera cert could not make the test PKI in $dir"; }
    local f
    for f in ca.pem server.pem server.key client.pem client.key; do
        [ -s "$dir/$f" ] || t_fail "tessera cert made no $dir/$f"
    done
}

# d_write_conf FILE STORE UNIX_PATH [TLS_ADDR [PKI_DIR]]: a daemon
# configuration. UNIX_PATH "" disables the Unix listener; TLS_ADDR
# (host:port) adds the TLS listener with PKI_DIR's server certificate.
# Lines appended to FILE afterwards override these (the last key wins).
d_write_conf() {
    local file=$1 store=$2 sock=$3 tls=${4:-} pki=${5:-$T_TMP/pki}
    {
        echo "store = $store"
        echo "listen_unix = $sock"
        if [ -n "$tls" ]; then
            echo "listen_tls = $tls"
            echo "tls_cert = $pki/server.pem"
            echo "tls_key = $pki/server.key"
            echo "tls_ca = $pki/ca.pem"
        fi
        echo "log_level = ${TESSERA_TEST_DAEMON_LOG_LEVEL:-info}"
        echo "workers = 2"
        # Cheap PIN KDF for tests only (every tool invocation logs in again).
        echo "pin_kdf_t_cost = 1"
        echo "pin_kdf_m_cost = 1024"
        echo "pin_kdf_lanes = 1"
    } >"$file"
}

# d_start NAME [ARGS...]: start tesserad --config $T_TMP/NAME.conf ARGS in
# the background (stdout and stderr to $T_TMP/NAME.log, appended, so a
# restarted daemon's lines follow its predecessor's).
d_start() {
    local name=$1
    shift
    "$D_TESSERAD" --config "$T_TMP/$name.conf" "$@" >>"$T_TMP/$name.log" 2>&1 &
    D_PID[$name]=$!
    D_NAMES+=("$name")
}

# d_url_env URL [PKI_DIR [CERT_NAME]]: the client environment for URL:
# TESSERA_URL, and for tls:// the client certificate CERT_NAME (default
# client) of PKI_DIR and its CA.
d_url_env() {
    local url=$1 pki=${2:-$T_TMP/pki} cert=${3:-client}
    export TESSERA_URL="$url"
    case "$url" in
        tls://*)
            export TESSERA_TLS_CERT="$pki/$cert.pem" TESSERA_TLS_KEY="$pki/$cert.key"
            export TESSERA_TLS_CA="$pki/ca.pem"
            ;;
        *) unset TESSERA_TLS_CERT TESSERA_TLS_KEY TESSERA_TLS_CA ;;
    esac
}

# d_probe URL [PKI_DIR]: one connection that says HELLO and gets rv CKR_OK.
d_probe() {
    local url=$1 pki=${2:-$T_TMP/pki}
    "$D_PY" "$D_DIR/tproto.py" probe "$url" "$pki/client.pem" "$pki/client.key" "$pki/ca.pem"
}

# d_wait_ready NAME URL [PKI_DIR]: wait (up to 120 s: a sanitized daemon
# runs its self-tests first) until daemon NAME answers a HELLO at URL;
# fails at once if it exits.
d_wait_ready() {
    local name=$1 url=$2 pki=${3:-$T_TMP/pki} i
    for i in $(seq 1 600); do
        if ! kill -0 "${D_PID[$name]}" 2>/dev/null; then
            tail -n 30 "$T_TMP/$name.log" >&2
            t_fail "tesserad $name exited before it served $url"
        fi
        d_probe "$url" "$pki" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tail -n 30 "$T_TMP/$name.log" >&2
    t_fail "tesserad $name does not answer at $url after 120 s"
}

# d_wait_exit NAME [SECONDS]: wait for daemon NAME to exit (default 60 s);
# its exit status in D_RC. Kills it (-9) and fails when it does not exit.
# (Not run in $(...): only this shell can wait for its child.)
D_RC=
d_wait_exit() {
    local name=$1 secs=${2:-60} pid=${D_PID[$1]} i
    for i in $(seq 1 $((secs * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        D_PID[$name]=
        t_fail "tesserad $name did not exit within $secs s"
    fi
    D_RC=0
    wait "$pid" || D_RC=$?
    D_PID[$name]=
}

# d_stop NAME: SIGTERM, then the exit status must be 0 (a sanitizer report
# at exit, a leak included, makes it non-zero).
d_stop() {
    local name=$1
    [ -n "${D_PID[$name]:-}" ] || t_fail "tesserad $name is not running"
    kill -TERM "${D_PID[$name]}" 2>/dev/null || t_fail "tesserad $name was gone before SIGTERM"
    d_wait_exit "$name" 60
    if [ "$D_RC" != 0 ]; then
        tail -n 40 "$T_TMP/$name.log" >&2
        t_fail "tesserad $name exited with status $D_RC after SIGTERM (want 0)"
    fi
    t_log "ok: tesserad $name stopped by SIGTERM, status 0"
}

# d_kill9 NAME: kill -9 and reap.
d_kill9() {
    local name=$1
    kill -9 "${D_PID[$name]}" 2>/dev/null || true
    wait "${D_PID[$name]}" 2>/dev/null || true
    D_PID[$name]=
}

# d_stop_all STATUS: stop the daemons still running (at the end of a
# script); with a non-zero STATUS print the tail of each daemon's log.
# Returns 1 when a daemon that was still running did not exit with 0.
d_stop_all() {
    local status=$1 name pid rc bad=0
    for name in "${D_NAMES[@]}"; do
        pid=${D_PID[$name]:-}
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true
            rc=0
            timeout 60 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || rc=$?
            D_PID[$name]=
            if [ "$rc" != 0 ]; then
                t_log "tesserad $name exited with status $rc after SIGTERM (want 0)"
                bad=1
            fi
        fi
    done
    if [ "$status" != 0 ] || [ $bad = 1 ]; then
        for name in $(printf '%s\n' "${D_NAMES[@]}" | sort -u); do
            [ -s "$T_TMP/$name.log" ] || continue
            t_log "last lines of tesserad $name's log:"
            tail -n 30 "$T_TMP/$name.log" >&2 || true
        done
    fi
    return $bad
}

# d_rss NAME: resident set of daemon NAME in KiB.
d_rss() {
    awk '/^VmRSS:/ {print $2}' "/proc/${D_PID[$1]}/status"
}

# d_fds NAME: open file descriptors of daemon NAME.
d_fds() {
    ls "/proc/${D_PID[$1]}/fd" | wc -l
}

# d_count NAME REGEX: lines of daemon NAME's log matching REGEX.
d_count() {
    grep -Ec -- "$2" "$T_TMP/$1.log" || true
}

# d_remote_setup MODE: what the integration scripts' remote mode does after
# writing TESSERA_CONF: one tesserad on $T_TMP/tessera.db, listening on the
# Unix socket $T_TMP/d.sock (MODE unix) or TLS on 127.0.0.1 with a client
# certificate (MODE tls, the Unix listener off), and the client environment
# pointing at it. Named "remote"; d_stop_all stops it.
d_remote_setup() {
    local mode=$1 url
    d_need_binaries
    case "$mode" in
        unix)
            d_write_conf "$T_TMP/remote.conf" "$T_TMP/tessera.db" "$T_TMP/d.sock"
            url="unix://$T_TMP/d.sock"
            ;;
        tls)
            d_pki "$T_TMP/pki"
            local port
            port=$(d_free_port)
            d_write_conf "$T_TMP/remote.conf" "$T_TMP/tessera.db" "" "127.0.0.1:$port"
            url="tls://127.0.0.1:$port"
            ;;
        *) t_fail "TESSERA_TEST_REMOTE must be unix or tls, not '$mode'" ;;
    esac
    d_start remote
    d_wait_ready remote "$url"
    d_url_env "$url"
    t_log "remote mode: tesserad (pid ${D_PID[remote]}) at $url"
}
