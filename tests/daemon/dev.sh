#!/usr/bin/env bash
# Acceptance 2: `tesserad --dev` and the README's quick start. The daemon
# prints a block with the token, its PINs, the socket and the export line;
# in a fresh shell (env -i) that export and the PIN it printed are enough
# to make an EC key with the CLI, list it, sign with pkcs11-tool and verify
# the signature with OpenSSL against the PEM `tessera key show` prints (and
# not over other data). SIGTERM ends the daemon with status 0, and its
# temporary data folder is gone.
T_NAME=dev
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"
[ -x "$D_TESSERAD" ] || t_fail "tesserad not built: $D_TESSERAD"

"$D_TESSERAD" --dev >"$T_TMP/dev.out" 2>"$T_TMP/dev.log" &
D_PID[dev]=$!
D_NAMES+=(dev)
for _ in $(seq 1 600); do
    grep -q '^ *export TESSERA_URL=' "$T_TMP/dev.out" && break
    kill -0 "${D_PID[dev]}" 2>/dev/null || { cat "$T_TMP/dev.out" "$T_TMP/dev.log" >&2; t_fail "tesserad --dev exited"; }
    sleep 0.2
done
cat "$T_TMP/dev.out" >&2
user_pin=$(sed -n 's/^User PIN: *\([0-9]\{4,\}\)$/\1/p' "$T_TMP/dev.out")
so_pin=$(sed -n 's/^SO PIN: *\([0-9]\{4,\}\)$/\1/p' "$T_TMP/dev.out")
sock=$(sed -n 's/^Socket: *//p' "$T_TMP/dev.out")
export_line=$(sed -n 's/^ *\(export TESSERA_URL=unix:\/\/.*\)$/\1/p' "$T_TMP/dev.out")
datadir=$(sed -n 's/^WARNING: dev mode\. Keys live in \(.*\) (deleted on exit), PINs are printed$/\1/p' "$T_TMP/dev.out")
[ -n "$user_pin" ] || t_fail "no User PIN in the --dev block"
[ -n "$so_pin" ] || t_fail "no SO PIN in the --dev block"
[ -n "$sock" ] || t_fail "no Socket in the --dev block"
[ "$export_line" = "export TESSERA_URL=unix://$sock" ] || t_fail "export line '$export_line' does not name the socket $sock"
[ -n "$datadir" ] && [ -d "$datadir" ] || t_fail "the --dev block names no existing temporary data folder ('$datadir')"
t_log "ok: --dev block parsed: socket $sock, data $datadir"
d_wait_ready dev "unix://$sock"

# The quick start, in a shell that has nothing of ours but PATH and the
# ASan preload a sanitized module needs in a program we did not build.
preload=""
if [ ${#T_PRELOAD_ENV[@]} -gt 0 ]; then preload="env ${T_PRELOAD_ENV[*]}"; fi
cat >"$T_TMP/quickstart.sh" <<EOF
set -eu
cd "$T_TMP"
$export_line
PATH="$(dirname "$D_CLI"):\$PATH"
tessera key gen --token dev --type ec:p256 --label k1 --pin $user_pin
tessera key list --token dev --pin $user_pin > list.txt
tessera key show --token dev --label k1 --pin $user_pin > show.txt
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' show.txt > k1.pem
id=\$(awk '/^private-key/ {p = 1} p && \$1 == "id:" {print \$2; exit}' show.txt)
head -c 1000 /dev/urandom > data
$preload pkcs11-tool --module "$T_MODULE" --token-label dev --login --pin $user_pin \
    --sign --mechanism ECDSA-SHA256 --signature-format openssl --id "\$id" -i data -o sig
openssl dgst -sha256 -verify k1.pem -signature sig data
EOF
if ! env -i PATH=/usr/bin:/bin HOME="$T_TMP" bash "$T_TMP/quickstart.sh" >"$T_TMP/qs.out" 2>&1; then
    cat "$T_TMP/qs.out" >&2
    t_fail "the quick start failed in a fresh shell"
fi
t_grep "OpenSSL verifies the signature with the PEM of key show" "^Verified OK$" "$T_TMP/qs.out"
t_grep "key list shows k1" "^private-key +ec:p256 .* k1$" "$T_TMP/list.txt"
head -c 1000 /dev/urandom >"$T_TMP/other"
t_must_fail "the signature does not verify over other data" "^Verification [Ff]ailure" \
    openssl dgst -sha256 -verify "$T_TMP/k1.pem" -signature "$T_TMP/sig" "$T_TMP/other"
d_url_env "unix://$sock"
t_must_fail "a wrong PIN is refused" "CKR_PIN_INCORRECT" "$D_CLI" key list --token dev --pin 000000

kill -TERM "${D_PID[dev]}"
d_wait_exit dev 60
[ "$D_RC" = 0 ] || { cat "$T_TMP/dev.log" >&2; t_fail "tesserad --dev exited with $D_RC after SIGTERM (want 0)"; }
t_log "ok: SIGTERM: status 0"
[ ! -e "$datadir" ] || { ls -la "$datadir" >&2; t_fail "the temporary data folder $datadir is still there"; }
[ ! -e "$sock" ] || t_fail "the socket $sock is still there"
t_log "ok: the temporary data folder and the socket are gone"
exit 0
