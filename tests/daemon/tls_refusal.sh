#!/usr/bin/env bash
# Acceptance 4: the TLS listener refuses, before reading any request, a
# client without a certificate, one whose certificate another CA signed, one
# with an expired certificate, and a TLS 1.2 client: the handshake fails or
# the connection is closed without a response to the HELLO sent after it,
# and the daemon logs one event=tls_refused line with a reason for each.
# A client with a good certificate works (the CLI and pkcs11-tool through
# the module with TESSERA_URL=tls://...), and the module refuses a daemon
# whose certificate its CA did not sign.
T_NAME=tls_refusal
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"
d_need_binaries

PKI="$T_TMP/pki"
d_pki "$PKI"
t_check "a CA of another deployment" "$D_CLI" cert ca --out "$T_TMP/other"
t_check "a client certificate of that CA" "$D_CLI" cert client --ca "$T_TMP/other" --out "$T_TMP/other" --cn intruder
# An expired client certificate of our CA. `tessera cert` makes
# certificates of 1 day and more only (--days 0 is refused), so OpenSSL
# signs this one with the CA's key, valid for January 2020.
mkdir -p "$T_TMP/expired"
cat >"$T_TMP/expired/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $T_TMP/expired/index.txt
new_certs_dir = $T_TMP/expired
serial = $T_TMP/expired/serial
default_md = sha256
policy = p
x509_extensions = ext
unique_subject = no
[p]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
: >"$T_TMP/expired/index.txt"
echo 1000 >"$T_TMP/expired/serial"
t_check "a key and request for the expired certificate" openssl req -new -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_TMP/expired/expired.key" \
    -subj /CN=expired -out "$T_TMP/expired/expired.csr"
t_check "our CA signs it for January 2020" openssl ca -batch -config "$T_TMP/expired/ca.cnf" \
    -cert "$PKI/ca.pem" -keyfile "$PKI/ca.key" -in "$T_TMP/expired/expired.csr" \
    -out "$T_TMP/expired/expired.pem" -startdate 20200101000000Z -enddate 20200201000000Z -notext
t_must_fail "the expired certificate is expired (control)" "certificate has expired" \
    openssl verify -CAfile "$PKI/ca.pem" "$T_TMP/expired/expired.pem"
t_must_fail "the foreign client certificate does not verify under our CA (control)" \
    "unable to get local issuer certificate" \
    openssl verify -CAfile "$PKI/ca.pem" "$T_TMP/other/intruder.pem"

port=$(d_free_port)
URL="tls://127.0.0.1:$port"
d_write_conf "$T_TMP/d.conf" "$T_TMP/d.db" "" "127.0.0.1:$port" "$PKI"
d_start d
d_wait_ready d "$URL" "$PKI"

# attempt WHAT CERT KEY [MAXVER]: a TLS client (our CA trusted) with
# CERT/KEY ("" for none) that sends a valid HELLO after the handshake.
# Prints "refused: ..." when the handshake failed or the connection closed
# without a response; "answered" when a response frame came back.
attempt() {
    "$D_PY" - "$D_DIR" "$URL" "$PKI/ca.pem" "$2" "$3" "${4:-}" <<'PY'
import ssl, sys, socket
sys.path.insert(0, sys.argv[1])
import tproto
url, ca, cert, key, maxver = sys.argv[2:7]
ctx = tproto.tls_context(cert or None, key or None, ca,
                         ssl.TLSVersion.TLSv1_2 if maxver == "1.2" else None)
try:
    c = tproto.Conn(url, ctx=ctx, timeout=20)
except (ssl.SSLError, ConnectionError) as e:
    print("refused: handshake: %s" % e)
    sys.exit(0)
try:
    c.send(tproto.frame(tproto.OP_HELLO, tproto.hello_body()))
    f = c.recv_frame()
except (tproto.Closed, ssl.SSLError, ConnectionError) as e:
    print("refused: after the handshake: %s" % e)
    sys.exit(0)
except socket.timeout:
    print("neither answered nor closed within 20 s")
    sys.exit(1)
print("answered: %r" % (f[:4],))
PY
}

# refusal WHAT REASON CERT KEY [MAXVER]: the attempt is refused and logged
# once with a reason matching REASON.
refusal() {
    local what=$1 reason=$2 before after out
    shift 2
    before=$(d_count d 'event=tls_refused')
    out=$(attempt "$what" "$@") || t_fail "$what: $out"
    case "$out" in
        refused:*) t_log "ok: $what: $out" ;;
        *) t_fail "$what: the daemon answered a HELLO ($out)" ;;
    esac
    # The refusal is logged once the daemon has seen it fail.
    for _ in $(seq 1 50); do
        after=$(d_count d 'event=tls_refused')
        [ "$after" -gt "$before" ] && break
        sleep 0.1
    done
    [ "$after" -eq $((before + 1)) ] ||
        t_fail "$what: $((after - before)) event=tls_refused lines (want 1)"
    grep 'event=tls_refused' "$T_TMP/d.log" | tail -n 1 >"$T_TMP/refused.line"
    t_grep "$what: the refusal is logged with its reason" "reason=\"?[^ ].*($reason)" "$T_TMP/refused.line"
    kill -0 "${D_PID[d]}" || t_fail "$what: the daemon died"
}

hellos=$(d_count d 'event=hello')
refusal "a client without a certificate" "certificate" "" ""
refusal "a client certificate of another CA" "issuer|unknown ca" \
    "$T_TMP/other/intruder.pem" "$T_TMP/other/intruder.key"
refusal "an expired client certificate" "expired" "$T_TMP/expired/expired.pem" "$T_TMP/expired/expired.key"
refusal "a TLS 1.2 client with a good certificate" "protocol|version" "$PKI/client.pem" "$PKI/client.key" 1.2
# Not one request of these was read: no hello event came with them.
[ "$(d_count d 'event=hello')" -eq "$hellos" ] || t_fail "a refused client's HELLO was read"

# The good client: the raw protocol, the CLI and pkcs11-tool.
out=$(attempt "good" "$PKI/client.pem" "$PKI/client.key") || t_fail "good client: $out"
case "$out" in answered:*) t_log "ok: a good client's HELLO is answered" ;; *) t_fail "good client refused: $out" ;; esac
# (The readiness probe's HELLO logged one when the daemon logs them.)
[ "$hellos" -eq 0 ] || [ "$(d_count d 'event=hello')" -gt "$hellos" ] ||
    t_fail "the good client's HELLO left no hello event"
d_url_env "$URL" "$PKI"
t_check "tessera token list over TLS" "$D_CLI" token list
t_grep "the CLI lists the daemon's free slot" "free" "$T_TMP/last.out"
t_check "tessera token init over TLS" "$D_CLI" token init --label tlstok --so-pin "$T_SO_PIN" --pin "$T_PIN"
t_check "pkcs11-tool --list-slots over TLS" ptool --list-slots
t_grep "pkcs11-tool sees the token made over TLS" "token label +: tlstok" "$T_TMP/last.out"
# The module checks the daemon too: a CA that did not sign its certificate.
export TESSERA_TLS_CA="$T_TMP/other/ca.pem"
t_must_fail "the CLI refuses a daemon its CA did not sign" "CKR_|refused|certificate|verify" \
    "$D_CLI" token list
export TESSERA_TLS_CA="$PKI/ca.pem"
# Refused clients left the daemon serving.
t_check "still serving after the refusals" "$D_CLI" token list
d_stop d
exit 0
