#!/usr/bin/env bash
# Tessera's main job on the embedded default, end to end:
#   installs the Debian packages it needs (scripts/deps.sh), builds a release
#   build in build/release, creates a token in a fresh TESSERA_HOME with the
#   `tessera` CLI, makes an EC P-256 key, signs a file with OpenSC's
#   pkcs11-tool through the PKCS#11 module, and verifies the signature with
#   OpenSSL against the public key the CLI exported.
# Usage: sudo scripts/demo.sh   (or as root: scripts/demo.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

say() { printf '\n==> %s\n' "$*"; }

say "Installing build and tool dependencies (scripts/deps.sh)"
scripts/deps.sh test

say "Building a release build in build/release"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTESSERA_TESTS=OFF >/dev/null
cmake --build build/release --target tessera-pkcs11 tessera -j"$(nproc)" >/dev/null
MODULE="$root/build/release/src/pkcs11/libtessera-pkcs11.so"
CLI="$root/build/release/src/cli/tessera"
echo "module: $MODULE"
echo "CLI:    $CLI"

export TESSERA_HOME
TESSERA_HOME=$(mktemp -d "${TMPDIR:-/tmp}/tessera-demo.XXXXXX")
export TESSERA_CONF="$TESSERA_HOME/tessera.conf"
cat >"$TESSERA_CONF" <<CONF
store = $TESSERA_HOME/tessera.db
log_level = info
log_file = $TESSERA_HOME/tessera.log
CONF
SO_PIN=87654321
export TESSERA_PIN=246810
say "Creating token \"demo\" in $TESSERA_HOME (TESSERA_CONF=$TESSERA_CONF)"
"$CLI" token init --label demo --so-pin "$SO_PIN" --pin "$TESSERA_PIN"
"$CLI" token list

say "Generating an EC P-256 key \"demo-key\" on the token"
"$CLI" key gen --token demo --type ec:p256 --label demo-key
"$CLI" key list --token demo

say "Exporting the public key with the CLI"
"$CLI" key show --token demo --label demo-key | tee "$TESSERA_HOME/show.txt"
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' "$TESSERA_HOME/show.txt" >"$TESSERA_HOME/demo-key.pub.pem"
KEY_ID=$(awk '/^private-key/ {p = 1} p && $1 == "id:" {print $2; exit}' "$TESSERA_HOME/show.txt")

say "Signing a file with pkcs11-tool (ECDSA-SHA256) through the module"
echo "Tessera demo, $(date -u)" >"$TESSERA_HOME/message.txt"
pkcs11-tool --module "$MODULE" --token-label demo --login --pin "$TESSERA_PIN" \
    --sign --mechanism ECDSA-SHA256 --signature-format openssl --id "$KEY_ID" \
    -i "$TESSERA_HOME/message.txt" -o "$TESSERA_HOME/message.sig"

say "Verifying the signature with OpenSSL against the exported public key"
openssl dgst -sha256 -verify "$TESSERA_HOME/demo-key.pub.pem" \
    -signature "$TESSERA_HOME/message.sig" "$TESSERA_HOME/message.txt"

say "Checking that a changed file does NOT verify"
cp "$TESSERA_HOME/message.txt" "$TESSERA_HOME/changed.txt"
echo "one more line" >>"$TESSERA_HOME/changed.txt"
if openssl dgst -sha256 -verify "$TESSERA_HOME/demo-key.pub.pem" \
    -signature "$TESSERA_HOME/message.sig" "$TESSERA_HOME/changed.txt"; then
    echo "ERROR: a changed file verified" >&2
    exit 1
fi

say "Done"
cat <<DONE
What happened:
  * built the PKCS#11 module and the CLI in build/release;
  * created token "demo" in a new store, $TESSERA_HOME/tessera.db
    (objects encrypted with AES-256-GCM under a token key protected by the PINs);
  * generated the EC P-256 key "demo-key" inside the token (sensitive, not extractable);
  * signed message.txt with pkcs11-tool through the module;
  * verified the signature with OpenSSL using the public key the CLI exported,
    and saw a changed file fail verification.
Files are in $TESSERA_HOME. To use the token yourself:
  export TESSERA_CONF=$TESSERA_CONF
  pkcs11-tool --module $MODULE --token-label demo --login --pin $TESSERA_PIN --list-objects
DONE
