#!/usr/bin/env bash
# Installs the Debian packages Tessera builds with and tests against.
# Usage: scripts/deps.sh [build|test]   (test = build + the real peers)
set -euo pipefail
what=${1:-test}
build_pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev libsqlite3-dev libcurl4-openssl-dev libjansson-dev libargon2-dev
  libtss2-dev libcmocka-dev libp11-kit-dev openssl)
peer_pkgs=(opensc libengine-pkcs11-openssl gnutls-bin p11-kit openssh-client
  default-jdk-headless python3 python3-pykcs11 softhsm2 sqlite3 groff-base
  tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 libtss2-tcti-mssim0 libtss2-tcti-swtpm0 swtpm swtpm-tools dbus
  qemu-system-x86 ovmf)
pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${peer_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
