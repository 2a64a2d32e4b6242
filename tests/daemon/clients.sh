#!/usr/bin/env bash
# Acceptance 3: many clients on one daemon.
#  * 64 client processes (PyKCS11, each its own connection and login) sign
#    with one EC P-256 key for 30 s at once: zero failed calls, and every
#    client signed at least once;
#  * 8 more clients sign; 4 of them are killed (-9) in the middle: the
#    daemon still serves (a fresh client signs), the sessions of the killed
#    clients are freed (the token's session count, seen by a fresh client
#    with one R/O session, comes back to 1 and its R/W count to 0), and the
#    daemon logged a conn_close for every connection it opened.
T_NAME=clients
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"
d_need_binaries

N=${CLIENTS_N:-64}
SECS=${CLIENTS_SECONDS:-30}
d_write_conf "$T_TMP/d.conf" "$T_TMP/d.db" "$T_TMP/d.sock"
# One connection per client plus the probes: well within the default
# limits, said here so that a change of defaults does not break the test.
echo "max_connections = 1024" >>"$T_TMP/d.conf"
d_start d
d_wait_ready d "unix://$T_TMP/d.sock"
d_url_env "unix://$T_TMP/d.sock"

t_check "token init through the daemon" "$D_CLI" token init --label multi --so-pin "$T_SO_PIN" --pin "$T_PIN"
t_check "EC P-256 key through the daemon" "$D_CLI" key gen --token multi --type ec:p256 --label sig --pin "$T_PIN"

client() { p11 "$D_PY" "$D_DIR/p11client.py" "$@"; }

# start_clients PREFIX COUNT SECONDS: COUNT signing clients in the
# background; pids in CPIDS, output in $T_TMP/PREFIX.I.out.
start_clients() {
    local prefix=$1 count=$2 secs=$3 i
    CPIDS=()
    for i in $(seq 1 "$count"); do
        client sign "$T_MODULE" multi "$T_PIN" sig "$secs" "$T_TMP/$prefix.go" \
            >"$T_TMP/$prefix.$i.out" 2>"$T_TMP/$prefix.$i.err" &
        CPIDS+=($!)
    done
}
# wait_ready PREFIX COUNT: every client logged in and found the key.
wait_ready() {
    local prefix=$1 count=$2 i j n=0
    for i in $(seq 1 1800); do
        n=$(cat "$T_TMP/$prefix".*.out 2>/dev/null | grep -c '^ready pid=' || true)
        [ "$n" -eq "$count" ] && return 0
        for j in $(seq 1 "$count"); do
            if ! kill -0 "${CPIDS[$((j - 1))]}" 2>/dev/null && ! grep -qs '^ready pid=' "$T_TMP/$prefix.$j.out"; then
                cat "$T_TMP/$prefix.$j.err" >&2
                t_fail "client $j ($prefix) exited before it was ready"
            fi
        done
        sleep 0.2
    done
    t_fail "only $n of $count clients ($prefix) got ready within 360 s"
}
kill_clients() { for pid in "${CPIDS[@]:-}"; do [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true; done; }
trap 'rc=$?; kill_clients; t_finish $rc' EXIT

# ---- 64 clients, 30 s each ----
start_clients a "$N" "$SECS"
wait_ready a "$N"
t_log "all $N clients ready; signing for $SECS s"
touch "$T_TMP/a.go"
failed_clients=0
for i in $(seq 1 "$N"); do
    wait "${CPIDS[$((i - 1))]}" || { t_log "client $i exited with status $?"; failed_clients=$((failed_clients + 1)); }
done
CPIDS=()
total=0 failures=0 idle=0
for i in $(seq 1 "$N"); do
    line=$(grep -E '^count=[0-9]+ failures=[0-9]+$' "$T_TMP/a.$i.out" || true)
    if [ -z "$line" ]; then
        cat "$T_TMP/a.$i.err" >&2
        t_fail "client $i printed no count"
    fi
    c=${line#count=}; c=${c%% *}; f=${line##*failures=}
    total=$((total + c)) failures=$((failures + f))
    [ "$c" -gt 0 ] || idle=$((idle + 1))
done
t_log "$N clients: $total signatures, $failures failed calls in $SECS s"
if [ "$failures" -ne 0 ]; then
    cat "$T_TMP"/a.*.err | sort | uniq -c | sort -rn | head -n 10 >&2
    t_fail "$failures failed calls among $N clients (want 0)"
fi
[ "$failed_clients" -eq 0 ] || t_fail "$failed_clients clients exited with a non-zero status"
[ "$idle" -eq 0 ] || t_fail "$idle clients never signed in $SECS s"
t_log "ok: $N clients signed $total times for $SECS s, zero failed calls, every client signed"

# ---- 8 more, 4 killed in the middle ----
start_clients b 8 20
wait_ready b 8
touch "$T_TMP/b.go"
# Mid-operation: they sign for 20 s; 2 s in, every one is in its loop.
sleep 2
killed=()
for j in 0 1 2 3; do
    kill -9 "${CPIDS[$j]}" || t_fail "client $((j + 1)) of the 8 was gone before the kill"
    killed+=("${CPIDS[$j]}")
done
for j in 0 1 2 3; do wait "${CPIDS[$j]}" 2>/dev/null || true; done
t_log "killed 4 clients (-9) while signing: ${killed[*]}"
rc=0
for j in 4 5 6 7; do
    wait "${CPIDS[$j]}" || rc=$?
done
CPIDS=()
[ $rc -eq 0 ] || t_fail "a surviving client exited with status $rc"
for j in 5 6 7 8; do
    t_grep "surviving client $j signed without a failure" '^count=[1-9][0-9]* failures=0$' "$T_TMP/b.$j.out"
done

t_check "daemon still serves: a fresh client signs" \
    client sign "$T_MODULE" multi "$T_PIN" sig 1 /dev/null
t_grep "the fresh client signed" '^count=[1-9][0-9]* failures=0$' "$T_TMP/last.out"
if ! client sessions "$T_MODULE" multi 1 30 >"$T_TMP/sessions.out" 2>&1; then
    cat "$T_TMP/sessions.out" >&2
    t_fail "the killed clients' sessions were not freed within 30 s"
fi
t_grep "session count back to the checker's own R/O session" '^sessions=1 rw=0$' "$T_TMP/sessions.out"

# The killed clients' connections were closed (the principal of a Unix
# connection names the client's pid).
for j in 1 2 3 4; do
    pid=$(sed -n 's/^ready pid=//p' "$T_TMP/b.$j.out")
    conn=$(grep -E "event=conn_open .*pid=$pid\"" "$T_TMP/d.log" | sed -E 's/.* conn=([0-9]+) .*/\1/' | head -n 1)
    [ -n "$conn" ] || t_fail "no conn_open for killed client $j (pid $pid)"
    t_grep "conn_close for killed client $j (conn $conn)" "event=conn_close conn=$conn " "$T_TMP/d.log"
done
# Every connection the daemon opened it also closed (the checker's too,
# which has exited), the killed clients' among them.
opened=$(d_count d 'event=conn_open')
closed=0
for i in $(seq 1 100); do
    closed=$(d_count d 'event=conn_close')
    [ "$closed" -ge "$opened" ] && break
    sleep 0.1
done
t_log "daemon log: $opened conn_open, $closed conn_close"
[ "$opened" -ge $((N + 8)) ] || t_fail "only $opened conn_open lines for $((N + 8)) clients"
[ "$closed" -eq "$opened" ] || t_fail "$opened connections opened but $closed closed"
t_log "ok: every connection closed, the killed clients' included"
d_stop d
exit 0
