#!/usr/bin/env bash
# The `tessera` CLI (issue 2: tessera token init|list, key gen|list|show|delete),
# cross-checked with real tools on the same store: keys it makes are seen and
# used by pkcs11-tool, and the public key PEM it prints verifies pkcs11-tool's
# signatures with OpenSSL. Every refusal path of the CLI has a must-fail check.
T_NAME=cli
T_ONLY_TESSERA=1
. "$(dirname "$0")/lib.sh"

CLI="$TESSERA_BUILD_DIR/src/cli/tessera"
[ -x "$CLI" ] || t_fail "CLI not built: $CLI"
tcli() { "$CLI" "$@"; }

t_check "token list on a fresh store shows a free slot" tcli token list
t_grep "free slot listed" "free" "$T_TMP/last.out"
t_check "token init" tcli token init --label clitok --so-pin "$T_SO_PIN" --pin "$T_PIN"
t_must_fail "token init with a label in use" 'token labelled "clitok" exists already' tcli token init --label clitok --so-pin "$T_SO_PIN" --pin "$T_PIN"
t_must_fail "token init without --so-pin" "missing --so-pin" tcli token init --label other --pin "$T_PIN"
t_check "token list" tcli token list
t_grep "token listed as initialised" "clitok +[^ ]+ +initialised, user PIN set" "$T_TMP/last.out"
t_check "pkcs11-tool sees the CLI's token" ptool -L
t_grep "pkcs11-tool lists clitok" "token label +: clitok" "$T_TMP/last.out"

export TESSERA_PIN="$T_PIN"
for spec in rsa:2048:rsa ec:p256:ec ed25519:ed aes:256:aes; do
    type=${spec%:*} label=${spec##*:}
    t_check "key gen $type" tcli key gen --token clitok --type "$type" --label "$label"
done
t_must_fail "key gen with a label in use" 'already holds a key labelled "ec"' tcli key gen --token clitok --type ec:p256 --label ec
t_must_fail "key gen of an unknown type" 'unknown key type "rsa:1000"' tcli key gen --token clitok --type rsa:1000 --label x
t_must_fail "key gen on a missing token" 'no token labelled "nosuch"' tcli key gen --token nosuch --type ec:p256 --label x
t_must_fail "key gen without --label" "missing --label" tcli key gen --token clitok --type ec:p256
t_must_fail "key gen with a wrong PIN" "CKR_PIN_INCORRECT" tcli key gen --token clitok --type ec:p256 --label x --pin 000000
t_must_fail "unknown subcommand" 'unknown command "key frobnicate"' tcli key frobnicate --token clitok
t_must_fail "unknown option" "unrecognized option '--bogus'" tcli key list --token clitok --bogus

t_check "key list" tcli key list --token clitok
cp "$T_TMP/last.out" "$T_TMP/list.txt"
t_grep "lists the RSA private key" "^private-key +rsa:2048 .* rsa$" "$T_TMP/list.txt"
t_grep "lists the RSA public key" "^public-key +rsa:2048 .* rsa$" "$T_TMP/list.txt"
t_grep "lists the EC private key" "^private-key +ec:p256 .* ec$" "$T_TMP/list.txt"
t_grep "lists the Ed25519 private key" "^private-key +ed25519 .* ed$" "$T_TMP/list.txt"
t_grep "lists the AES key" "^secret-key +aes:256 .* aes$" "$T_TMP/list.txt"
unset TESSERA_PIN
t_must_fail "key list without a PIN" "missing --pin" tcli key list --token clitok
t_check "key list with --pin" tcli key list --token clitok --pin "$T_PIN"

# pkcs11-tool uses the CLI's keys; the CLI's PEM verifies the signatures.
head -c 2000 /dev/urandom >"$T_TMP/data"
for k in rsa ec; do
    t_check "key show $k" tcli key show --token clitok --label "$k" --pin "$T_PIN"
    cp "$T_TMP/last.out" "$T_TMP/$k.show"
    t_grep "$k shows sensitive, never-extractable private key" \
        "flags:.*sensitive.*never-extractable" "$T_TMP/$k.show"
    sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' "$T_TMP/$k.show" >"$T_TMP/$k.pem"
    # pkcs11-tool --sign selects the key by CKA_ID (it does not filter on --label).
    awk '/^private-key/ {p = 1} p && $1 == "id:" {print $2; exit}' "$T_TMP/$k.show" >"$T_TMP/$k.id"
    [ -s "$T_TMP/$k.id" ] || t_fail "key show printed no id for $k"
    t_check "$k PEM parses" openssl pkey -pubin -in "$T_TMP/$k.pem" -noout
    t_export_pubkey clitok "$k" "$T_TMP/$k.p11tool"
    openssl pkey -pubin -in "$T_TMP/$k.pem" -outform DER -out "$T_TMP/$k.pem.der"
    cmp -s "$T_TMP/$k.p11tool.der" "$T_TMP/$k.pem.der" || t_fail "CLI PEM of $k differs from p11tool's export"
    t_log "ok: CLI PEM of $k equals p11tool's export"
done
t_check "pkcs11-tool signs with the CLI's RSA key" ptool --token-label clitok --login --pin "$T_PIN" \
    --sign --mechanism SHA256-RSA-PKCS --id "$(cat "$T_TMP/rsa.id")" -i "$T_TMP/data" -o "$T_TMP/rsa.sig"
t_check "OpenSSL verifies it with the CLI's PEM" \
    openssl dgst -sha256 -verify "$T_TMP/rsa.pem" -signature "$T_TMP/rsa.sig" "$T_TMP/data"
t_check "pkcs11-tool signs with the CLI's EC key" ptool --token-label clitok --login --pin "$T_PIN" \
    --sign --mechanism ECDSA-SHA256 --signature-format openssl --id "$(cat "$T_TMP/ec.id")" -i "$T_TMP/data" -o "$T_TMP/ec.sig"
t_check "OpenSSL verifies it with the CLI's PEM" \
    openssl dgst -sha256 -verify "$T_TMP/ec.pem" -signature "$T_TMP/ec.sig" "$T_TMP/data"
t_must_fail "EC signature does not verify with the RSA PEM" "^Verification [Ff]ailure" \
    openssl dgst -sha256 -verify "$T_TMP/rsa.pem" -signature "$T_TMP/ec.sig" "$T_TMP/data"
t_check "key show ed" tcli key show --token clitok --label ed --pin "$T_PIN"
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' "$T_TMP/last.out" >"$T_TMP/ed.pem"
openssl pkey -pubin -in "$T_TMP/ed.pem" -noout -text >"$T_TMP/ed.txt" 2>&1 || t_fail "Ed25519 PEM does not parse"
t_grep "Ed25519 PEM is an ED25519 key" "ED25519 Public-Key" "$T_TMP/ed.txt"
t_check "key show aes" tcli key show --token clitok --label aes --pin "$T_PIN"
if grep -q "BEGIN" "$T_TMP/last.out"; then t_fail "key show printed key material for a secret key"; fi
t_must_fail "key show of a missing label" 'no key labelled "nosuch" on token "clitok"' tcli key show --token clitok --label nosuch --pin "$T_PIN"

t_check "key delete ec" tcli key delete --token clitok --label ec --pin "$T_PIN"
t_grep "deleted both halves" "deleted 2 object" "$T_TMP/last.out"
t_must_fail "key show after delete" 'no key labelled "ec" on token "clitok"' tcli key show --token clitok --label ec --pin "$T_PIN"
t_must_fail "key delete of a missing label" 'no key labelled "ec" on token "clitok"' tcli key delete --token clitok --label ec --pin "$T_PIN"
t_check "pkcs11-tool no longer sees ec" ptool --token-label clitok --login --pin "$T_PIN" --list-objects
if grep -Eq "label: +ec$" "$T_TMP/last.out"; then t_fail "deleted key still listed by pkcs11-tool"; fi
t_log "ok: deleted key gone for pkcs11-tool too"
exit 0
