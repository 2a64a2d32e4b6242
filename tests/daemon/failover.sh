#!/usr/bin/env bash
# Acceptance 7, second half: a client lists several endpoints.
#  * TESSERA_URL=tls://127.0.0.1:DEAD,127.0.0.1:LIVE: the CLI and
#    pkcs11-tool work (through the second endpoint);
#  * two live daemons (two stores, each with a token "fo" with the same
#    PINs and an EC key "sig"): a client signs in a loop through the first;
#    that daemon is killed (-9) mid-run. At most the call in flight fails
#    with CKR_DEVICE_ERROR (0x30), calls on the old session then fail with
#    CKR_SESSION_HANDLE_INVALID (0xB3), and after a new session and login
#    the client signs on through the other daemon (its signatures verify
#    with that daemon's public key, and that daemon logged the connection).
T_NAME=failover
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"
d_need_binaries

PKI="$T_TMP/pki"
d_pki "$PKI"
pa=$(d_free_port)
pb=$(d_free_port)
while [ "$pb" = "$pa" ]; do pb=$(d_free_port); done
dead=$(d_free_port)
while [ "$dead" = "$pa" ] || [ "$dead" = "$pb" ]; do dead=$(d_free_port); done
for n in a b; do
    port=$pa
    [ $n = b ] && port=$pb
    d_write_conf "$T_TMP/$n.conf" "$T_TMP/$n.db" "" "127.0.0.1:$port" "$PKI"
    d_start $n
    d_wait_ready $n "tls://127.0.0.1:$port" "$PKI"
    d_url_env "tls://127.0.0.1:$port" "$PKI"
    t_check "token fo on daemon $n" "$D_CLI" token init --label fo --so-pin "$T_SO_PIN" --pin "$T_PIN"
    t_check "key sig on daemon $n" "$D_CLI" key gen --token fo --type ec:p256 --label sig --pin "$T_PIN"
done

# ---- a dead endpoint first ----
d_url_env "tls://127.0.0.1:$dead,127.0.0.1:$pb" "$PKI"
t_check "the CLI skips the dead endpoint" "$D_CLI" key list --token fo --pin "$T_PIN"
t_grep "and lists the live daemon's key" "^private-key +ec:p256 .* sig$" "$T_TMP/last.out"
t_check "pkcs11-tool skips the dead endpoint" ptool --token-label fo --login --pin "$T_PIN" --list-objects
t_grep "and lists the key" "label: +sig" "$T_TMP/last.out"
d_url_env "tls://127.0.0.1:$dead" "$PKI"
t_must_fail "with the dead endpoint alone the CLI fails" "CKR_DEVICE_ERROR|connect|refused" \
    "$D_CLI" token list

# ---- the daemon in use dies ----
d_url_env "tls://127.0.0.1:$pa,127.0.0.1:$pb" "$PKI"
a_opened=$(d_count a 'event=conn_open')
b_opened=$(d_count b 'event=conn_open')
mkdir -p "$T_TMP/fo"
p11 "$D_PY" "$D_DIR/p11client.py" failover "$T_MODULE" fo "$T_PIN" sig 200 100 "$T_TMP/fo" \
    >"$T_TMP/fo.out" 2>"$T_TMP/fo.err" &
cpid=$!
trap 'rc=$?; kill -9 "$cpid" 2>/dev/null || true; t_finish $rc' EXIT
for _ in $(seq 1 1200); do
    [ -e "$T_TMP/fo/killme" ] && break
    kill -0 "$cpid" 2>/dev/null || { cat "$T_TMP/fo.out" "$T_TMP/fo.err" >&2; t_fail "the client exited before it signed 200 times"; }
    sleep 0.1
done
[ -e "$T_TMP/fo/killme" ] || t_fail "the client did not sign 200 times in 120 s"
[ "$(d_count a 'event=conn_open')" -gt "$a_opened" ] || t_fail "the client is not on the first endpoint"
d_kill9 a
t_log "daemon a killed while the client signs"
rc=0
wait "$cpid" || rc=$?
cat "$T_TMP/fo.out" >&2
[ $rc -eq 0 ] || { cat "$T_TMP/fo.err" >&2; t_fail "the failover client failed (status $rc)"; }
errors=$(sed -n 's/^errors: //p' "$T_TMP/fo.out")
# 0x30 at most once (the call in flight), then 0xB3 on the old session.
echo "$errors" | grep -Eq '^(0x30|0xb3) 0xb3 0xb3 0xb3$' ||
    t_fail "failure sequence '$errors' (want at most one 0x30, then 0xb3 for the old session)"
t_log "ok: old session: $errors"
t_grep "the client signed 100 times after the failover, every signature verified" \
    "^signed after the failover: 100$" "$T_TMP/fo.out"
[ "$(d_count b 'event=conn_open')" -gt "$b_opened" ] || t_fail "the second daemon saw no connection"
t_log "ok: the second daemon served the client after the failover"
d_stop b
exit 0
