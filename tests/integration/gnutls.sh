#!/usr/bin/env bash
# Acceptance 4 (issue 2): GnuTLS.
#  * `p11tool --provider M --login --list-all` lists the token's objects,
#    private ones included, and without login does not list private keys;
#  * `certtool --generate-self-signed --load-privkey 'pkcs11:…'` makes a
#    certificate whose signature verifies and that holds the token's key.
T_NAME=gnutls
. "$(dirname "$0")/lib.sh"

t_init_token gt
P=(--token-label gt --login --pin "$T_PIN")
t_check "RSA-2048 key pair" ptool "${P[@]}" --keypairgen --key-type rsa:2048 --label rsa --id 21
t_check "EC P-256 key pair" ptool "${P[@]}" --keypairgen --key-type EC:prime256v1 --label ec --id 22
t_check "AES-256 key" ptool "${P[@]}" --keygen --key-type AES:32 --label aes --id 23

export GNUTLS_PIN="$T_PIN"
t_check "p11tool --list-all with login" \
    p11 p11tool --provider "$T_MODULE" --login --list-all "pkcs11:token=gt"
cp "$T_TMP/last.out" "$T_TMP/all.txt"
for k in rsa ec; do
    t_grep "lists private key $k" "URL: pkcs11:.*object=$k;.*type=private" "$T_TMP/all.txt"
    t_grep "lists public key $k" "URL: pkcs11:.*object=$k;.*type=public" "$T_TMP/all.txt"
done
t_grep "lists secret key aes" "URL: pkcs11:.*object=aes;.*type=secret-key" "$T_TMP/all.txt"
t_grep "shows RSA private key type" "Type: Private key \(RSA-2048\)" "$T_TMP/all.txt"
t_grep "shows EC private key type" "Type: Private key \((EC/ECDSA|ECDSA)-SECP256R1\)" "$T_TMP/all.txt"

# Must-fail: without login, private and secret objects stay hidden (CKA_PRIVATE).
unset GNUTLS_PIN
t_check "p11tool --list-all without login" \
    p11 p11tool --provider "$T_MODULE" --list-all "pkcs11:token=gt"
cp "$T_TMP/last.out" "$T_TMP/public.txt"
t_grep "public key listed without login" "object=rsa;.*type=public" "$T_TMP/public.txt"
if grep -Eq "type=private" "$T_TMP/public.txt"; then
    cat "$T_TMP/public.txt" >&2
    t_fail "private keys listed without login"
fi
t_log "ok: no private key listed without login"
export GNUTLS_PIN="$T_PIN"

# certtool itself deadlocks at exit (in p11-kit's destructor, freelocale)
# whenever the ASan runtime is preloaded into it, module or not. With a
# sanitized module, certtool therefore reaches the module through p11-kit's
# RPC: `p11-kit server` (preloaded) loads the module and certtool uses the
# p11-kit client module; the module receives the same PKCS#11 calls.
CT_PROVIDER="$T_MODULE"
CT=(certtool)
if [ ${#T_PRELOAD_ENV[@]} -gt 0 ] || [ "${T_CERTTOOL_REMOTE:-0}" = 1 ]; then
    client=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
    [ -f "$client" ] || t_fail "p11-kit client module missing: $client"
    env "${T_PRELOAD_ENV[@]}" p11-kit server -f --provider "$T_MODULE" -n "$T_TMP/p11kit.sock" "pkcs11:token=gt" \
        >"$T_TMP/p11kit-server.log" 2>&1 &
    server=$!
    trap 'rc=$?; kill "$server" 2>/dev/null || true; sleep 0.5; kill -9 "$server" 2>/dev/null || true; t_finish $rc' EXIT
    for _ in $(seq 1 100); do [ -S "$T_TMP/p11kit.sock" ] && break; sleep 0.1; done
    [ -S "$T_TMP/p11kit.sock" ] || { cat "$T_TMP/p11kit-server.log" >&2; t_fail "p11-kit server did not start"; }
    CT_PROVIDER="$client"
    CT=(env P11_KIT_SERVER_ADDRESS="unix:path=$T_TMP/p11kit.sock" certtool)
    t_log "certtool goes through p11-kit server (pid $server) to the module"
fi

cat >"$T_TMP/cert.tmpl" <<TMPL
cn = "tessera gnutls test"
serial = 7
expiration_days = 30
signing_key
cert_signing_key
ca
TMPL
for k in rsa ec; do
    t_check "certtool --generate-self-signed with $k" \
        "${CT[@]}" --provider "$CT_PROVIDER" --generate-self-signed \
        --load-privkey "pkcs11:token=gt;object=$k;type=private" \
        --template "$T_TMP/cert.tmpl" --outfile "$T_TMP/$k.crt"
    t_export_pubkey gt "$k" "$T_TMP/$k.pub"
    t_self_signed_cert "$k" "$T_TMP/$k.crt" "$T_TMP/$k.pub.der"
done
# Same subject, other key: not taken as the issuer, the chain ends untrusted.
t_must_fail "RSA certificate does not verify under the EC certificate" \
    "error 18 at 0 depth lookup: self-signed certificate" \
    openssl verify -check_ss_sig -CAfile "$T_TMP/ec.crt" "$T_TMP/rsa.crt"
t_must_fail "certtool with a key that does not exist" \
    "object=nosuchkey;type=private: The requested data were not available" \
    "${CT[@]}" --provider "$CT_PROVIDER" --generate-self-signed \
    --load-privkey "pkcs11:token=gt;object=nosuchkey;type=private" \
    --template "$T_TMP/cert.tmpl" --outfile "$T_TMP/none.crt"
exit 0
