#!/usr/bin/env bash
# SIGHUP and SIGTERM.
#  * SIGHUP after the TLS server certificate was replaced: new connections
#    get the new certificate, a connection made before keeps working with
#    the old one; a SIGHUP with a certificate file that does not parse keeps
#    the daemon serving with the certificate it had.
#  * SIGTERM while a slow request (RSA-4096 key generation) is in flight:
#    the client gets its answer (CKR_OK), then the daemon exits 0.
T_NAME=signals
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"
d_need_binaries

PKI="$T_TMP/pki"
d_pki "$PKI"
port=$(d_free_port)
URL="tls://127.0.0.1:$port"
d_write_conf "$T_TMP/d.conf" "$T_TMP/d.db" "$T_TMP/d.sock" "127.0.0.1:$port" "$PKI"
d_start d
d_wait_ready d "$URL" "$PKI"

fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
old_fp=$(fingerprint "$PKI/server.pem")

# A connection made before the reload, held open by a helper that answers
# commands on a FIFO: "cert" prints the peer certificate's SHA-256, "info"
# a token-info request's rv.
mkfifo "$T_TMP/cmd"
cat >"$T_TMP/held.py" <<'PY'
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import tproto
url, pki = sys.argv[2], sys.argv[3]
c = tproto.Conn(url, pki + "/client.pem", pki + "/client.key", pki + "/ca.pem")
assert c.hello()[0] == 0
rv, slots = c.slot_list()
for line in sys.stdin:
    if line.strip() == "cert":
        print("cert " + hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest(), flush=True)
    elif line.strip() == "info":
        print("info rv 0x%x" % c.token_info(slots[0])[0], flush=True)
PY
"$D_PY" "$T_TMP/held.py" "$D_DIR" "$URL" "$PKI" <"$T_TMP/cmd" >"$T_TMP/held.out" 2>&1 &
held=$!
exec 7>"$T_TMP/cmd"
trap 'rc=$?; exec 7>&-; kill "$held" 2>/dev/null || true; t_finish $rc' EXIT
ask() {
    local n
    n=$(wc -l <"$T_TMP/held.out")
    echo "$1" >&7
    for _ in $(seq 1 300); do
        [ "$(wc -l <"$T_TMP/held.out")" -gt "$n" ] && { tail -n 1 "$T_TMP/held.out"; return 0; }
        sleep 0.1
    done
    cat "$T_TMP/held.out" >&2
    t_fail "the held connection did not answer '$1'"
}
# peer_fp: the server certificate a new connection gets.
peer_fp() {
    "$D_PY" - "$D_DIR" "$URL" "$PKI" <<'PY'
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import tproto
pki = sys.argv[3]
c = tproto.Conn(sys.argv[2], pki + "/client.pem", pki + "/client.key", pki + "/ca.pem")
assert c.hello()[0] == 0
print(hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest())
PY
}
[ "$(ask cert)" = "cert $old_fp" ] || t_fail "the held connection does not have the configured certificate"
[ "$(peer_fp)" = "$old_fp" ] || t_fail "a new connection does not get the configured certificate"

# A new server certificate (tessera cert never overwrites: made elsewhere,
# then moved over the configured files).
t_check "a new server certificate" "$D_CLI" cert server --ca "$PKI" --out "$T_TMP/new" --name localhost --name 127.0.0.1
new_fp=$(fingerprint "$T_TMP/new/server.pem")
[ "$new_fp" != "$old_fp" ] || t_fail "the new certificate is the old one"
old_serial=$(openssl x509 -in "$PKI/server.pem" -noout -serial)
new_serial=$(openssl x509 -in "$T_TMP/new/server.pem" -noout -serial)
[ "$old_serial" != "$new_serial" ] || t_fail "the new certificate has the old serial"
cp -p "$PKI/server.pem" "$T_TMP/old-server.pem"
mv -f "$T_TMP/new/server.pem" "$PKI/server.pem"
mv -f "$T_TMP/new/server.key" "$PKI/server.key"
reloads=$(d_count d 'event=reload')
kill -HUP "${D_PID[d]}"
for _ in $(seq 1 100); do [ "$(d_count d 'event=reload')" -gt "$reloads" ] && break; sleep 0.1; done
[ "$(d_count d 'event=reload')" -gt "$reloads" ] || t_fail "no event=reload after SIGHUP"
fp=$(peer_fp) || t_fail "a new connection after the reload failed"
[ "$fp" = "$new_fp" ] || t_fail "a new connection after SIGHUP got certificate $fp (want the new $new_fp)"
t_log "ok: after SIGHUP a new connection gets the new certificate ($new_serial)"
[ "$(ask cert)" = "cert $old_fp" ] || t_fail "the held connection's certificate changed"
[ "$(ask info)" = "info rv 0x0" ] || t_fail "the connection made before the reload stopped working"
t_log "ok: the connection made before the reload still works"

# A certificate file that does not parse: the reload keeps the old settings.
cp "$PKI/server.pem" "$T_TMP/good-server.pem"
echo "not a certificate" >"$PKI/server.pem"
reloads=$(d_count d 'event=reload')
kill -HUP "${D_PID[d]}"
for _ in $(seq 1 100); do [ "$(d_count d 'event=reload')" -gt "$reloads" ] && break; sleep 0.1; done
sleep 0.5
kill -0 "${D_PID[d]}" || t_fail "the daemon died on a reload with a broken certificate"
fp=$(peer_fp) || t_fail "no new connection after a failed reload"
[ "$fp" = "$new_fp" ] || t_fail "after a failed reload a new connection got $fp (want $new_fp, kept)"
[ "$(ask info)" = "info rv 0x0" ] || t_fail "the held connection stopped after a failed reload"
t_log "ok: a reload with a broken certificate keeps the one in use"
cp "$T_TMP/good-server.pem" "$PKI/server.pem"
exec 7>&-
wait "$held" || true

# ---- SIGTERM with a slow request in flight ----
d_url_env "unix://$T_TMP/d.sock"
t_check "token init" "$D_CLI" token init --label sig --so-pin "$T_SO_PIN" --pin "$T_PIN"
mkdir -p "$T_TMP/kg"
p11 "$D_PY" "$D_DIR/p11client.py" keygen "$T_MODULE" sig "$T_PIN" "$T_TMP/kg" >"$T_TMP/kg.out" 2>"$T_TMP/kg.err" &
kpid=$!
trap 'rc=$?; kill -9 "$kpid" 2>/dev/null || true; t_finish $rc' EXIT
# Wait until a key generation has been running for a while (a sanitized
# RSA-4096 generation takes seconds; one that ends first is not in flight,
# so the next one is waited for).
inflight=
for _ in $(seq 1 600); do
    last=$(tail -n 1 "$T_TMP/kg.out")
    case "$last" in
        start\ *)
            sleep 0.3
            if [ "$(tail -n 1 "$T_TMP/kg.out")" = "$last" ]; then
                touch "$T_TMP/kg/stop"
                kill -TERM "${D_PID[d]}"
                inflight=${last#start }
                break
            fi
            ;;
        done\ *\ 0x0 | "") ;;
        *) cat "$T_TMP/kg.out" "$T_TMP/kg.err" >&2; t_fail "key generation failed before SIGTERM: $last" ;;
    esac
    kill -0 "$kpid" 2>/dev/null || { cat "$T_TMP/kg.err" >&2; t_fail "the key generation client exited"; }
    sleep 0.05
done
[ -n "$inflight" ] || t_fail "no key generation was in flight long enough to send SIGTERM"
t_log "SIGTERM sent during key generation $inflight"
d_wait_exit d 90
crc=0
wait "$kpid" || crc=$?
cat "$T_TMP/kg.out" >&2
grep -qx "done $inflight 0x0" "$T_TMP/kg.out" ||
    t_fail "the key generation in flight at SIGTERM did not get its answer (want 'done $inflight 0x0')"
t_log "ok: the request in flight was answered with CKR_OK"
[ "$D_RC" = 0 ] || t_fail "tesserad exited with $D_RC after SIGTERM (want 0)"
t_log "ok: then the daemon exited 0"
[ $crc -eq 0 ] || t_fail "the key generation client exited with $crc"
exit 0
