#!/usr/bin/env bash
# Acceptance 7 (issue 2): PyKCS11 (Debian python3-pykcs11, /usr/bin/python3)
# drives two tokens through pykcs11_flow.py: generate, sign, verify, encrypt,
# decrypt, wrap a private key under AES, unwrap it into the second token, sign
# with the copy and verify with the original public key.
T_NAME=pykcs11
. "$(dirname "$0")/lib.sh"

t_init_token py1
t_init_token py2
rc=0
T_MODULE_KIND=$T_MODULE_KIND p11 /usr/bin/python3 "$(dirname "$0")/pykcs11_flow.py" "$T_MODULE" py1 py2 "$T_PIN" || rc=$?
[ $rc -eq 0 ] || t_fail "pykcs11_flow.py exited $rc"
# The unwrapped copies are token objects of the second token: visible to a
# fresh process.
t_check "list py2 objects" ptool --token-label py2 --login --pin "$T_PIN" --list-objects --type privkey
t_grep "py2 holds ec-copy" "label:[[:space:]]+ec-copy" "$T_TMP/last.out"
t_grep "py2 holds rsa-copy" "label:[[:space:]]+rsa-copy" "$T_TMP/last.out"
exit 0
