#!/usr/bin/env bash
# Acceptance 6: an acknowledged object survives a crash of the daemon.
# A client creates AES token keys k0, k1, ... through the daemon, printing
# each label only after C_GenerateKey returned CKR_OK. The daemon is killed
# (-9) in the middle of the run, three times, at different moments (after
# 40, 250 and 600 more acknowledged keys); the call in flight fails. After
# each crash the daemon restarts on the same store, which must open, and
# every label acknowledged so far names exactly one key; no key beyond the
# acknowledged ones exists but for at most the one in flight at each crash.
# Then the run completes (2,000 labels in all, less the three in flight),
# and after a clean restart every acknowledged key is there once; the
# store passes SQLite's integrity check.
T_NAME=durability
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"
d_need_binaries

TOTAL=2000
URL="unix://$T_TMP/d.sock"
d_write_conf "$T_TMP/d.conf" "$T_TMP/d.db" "$T_TMP/d.sock"
d_start d
d_wait_ready d "$URL"
d_url_env "$URL"
t_check "token init" "$D_CLI" token init --label dur --so-pin "$T_SO_PIN" --pin "$T_PIN"
client() { p11 "$D_PY" "$D_DIR/p11client.py" "$@"; }
cpid=
trap 'rc=$?; [ -z "$cpid" ] || kill -9 "$cpid" 2>/dev/null || true; t_finish $rc' EXIT

: >"$T_TMP/acked"
next=0
round=0
for more in 40 250 600; do
    round=$((round + 1))
    client gen "$T_MODULE" dur "$T_PIN" "$next" "$TOTAL" >"$T_TMP/gen.$round.out" 2>"$T_TMP/gen.$round.err" &
    cpid=$!
    for i in $(seq 1 3000); do
        n=$(grep -c '^k[0-9]*$' "$T_TMP/gen.$round.out" || true)
        [ "$n" -ge "$more" ] && break
        kill -0 "$cpid" 2>/dev/null || { cat "$T_TMP/gen.$round.err" >&2; t_fail "round $round: the client exited early"; }
        sleep 0.1
    done
    [ "$n" -ge "$more" ] || t_fail "round $round: only $n keys in 300 s"
    d_kill9 d
    crc=0
    wait "$cpid" || crc=$?
    cpid=
    acked=$(grep -c '^k[0-9]*$' "$T_TMP/gen.$round.out" || true)
    t_log "round $round: daemon killed after $acked acknowledged keys; client status $crc"
    [ $((next + acked)) -lt $TOTAL ] || t_fail "round $round: the run finished before the crash"
    # The call in flight failed, and the client said so.
    [ "$crc" -eq 3 ] || { cat "$T_TMP/gen.$round.err" >&2; t_fail "round $round: client status $crc (want 3: a failed call)"; }
    t_grep "round $round: the in-flight call failed with CKR_DEVICE_ERROR" '^error k[0-9]+ 0x30$' "$T_TMP/gen.$round.out"
    grep '^k[0-9]*$' "$T_TMP/gen.$round.out" >>"$T_TMP/acked"
    next=$((next + acked + 1)) # the in-flight label is never reused

    d_start d
    d_wait_ready d "$URL"
    t_log "round $round: daemon restarted on the same store"
    if ! client check "$T_MODULE" dur "$T_PIN" "$T_TMP/acked" >"$T_TMP/check.out" 2>"$T_TMP/check.err"; then
        cat "$T_TMP/check.err" >&2
        t_fail "round $round: the check client failed"
    fi
    want=$(wc -l <"$T_TMP/acked")
    read -r missing dup total < <(sed -E 's/missing=([0-9]+) duplicated=([0-9]+) total=([0-9]+)/\1 \2 \3/' "$T_TMP/check.out")
    [ "$missing" -eq 0 ] || { head "$T_TMP/check.err" >&2; t_fail "round $round: $missing of $want acknowledged keys lost"; }
    [ "$dup" -eq 0 ] || t_fail "round $round: $dup labels name more than one key"
    [ "$total" -ge "$want" ] && [ "$total" -le $((want + round)) ] ||
        t_fail "round $round: $total keys in the store for $want acknowledged (+ at most $round in flight)"
    t_log "ok: round $round: all $want acknowledged keys there ($total keys in the store)"
done
# The run completes after the crashes: the client creates the remaining keys.
t_check "the client creates k$next..k$((TOTAL - 1)) after the crashes" \
    client gen "$T_MODULE" dur "$T_PIN" "$next" "$TOTAL"
grep '^k[0-9]*$' "$T_TMP/last.out" >>"$T_TMP/acked"
d_stop d
d_start d
d_wait_ready d "$URL"
client check "$T_MODULE" dur "$T_PIN" "$T_TMP/acked" >"$T_TMP/check.out" 2>"$T_TMP/check.err" ||
    { cat "$T_TMP/check.err" >&2; t_fail "the final check client failed"; }
want=$(wc -l <"$T_TMP/acked")
t_grep "after a clean restart all $want acknowledged keys are there once" \
    "^missing=0 duplicated=0 total=($want|$((want + 1))|$((want + 2))|$((want + 3)))$" "$T_TMP/check.out"
d_stop d
t_check "the store passes SQLite's integrity check" sqlite3 "$T_TMP/d.db" "PRAGMA integrity_check"
t_grep "integrity_check says ok" '^ok$' "$T_TMP/last.out"
exit 0
