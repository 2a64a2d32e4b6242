#!/bin/bash
# HMAC keys as signers of attestations: Quote, Certify, CertifyCreation,
# GetTime, NV_Certify and GetCommandAuditDigest return the TPMT_SIGNATURE
# HMAC form, an HMAC with the key over the digest of the TPMS_ATTEST (as
# TPM2_Sign computes it). The key is imported so the HMAC is checked here.
source "$(dirname "$0")/common.bash"
start_tpm_primary
import_hmac_key
# a keyed-hash key with no scheme of its own signs too (scheme chosen by the caller)
tpm2_create -C p.ctx -G keyedhash -u kn.pub -r kn.priv -Q || fail "create NULL-scheme keyed-hash key"
tpm2_load -C p.ctx -u kn.pub -r kn.priv -c kn.ctx -Q || fail "load NULL-scheme key"

# check ATTEST SIG: SIG is a TPMT_SIGNATURE (HMAC, SHA-256, 32 bytes) equal
# to HMAC-SHA256(key, SHA256(ATTEST))
check() {
    /usr/bin/python3 - "$1" "$2" key.bin <<'PY' || fail "HMAC signature of $1"
import hashlib, hmac, struct, sys
att, sig, key = (open(f, "rb").read() for f in sys.argv[1:4])
alg, h = struct.unpack(">HH", sig[:4])
assert (alg, h) == (0x0005, 0x000B), (hex(alg), hex(h))
assert len(sig) == 4 + 32, len(sig)
assert att[:4] == b"\xffTCG", att[:4]
want = hmac.new(key, hashlib.sha256(att).digest(), hashlib.sha256).digest()
assert sig[4:] == want, "HMAC mismatch"
PY
}

tpm2_quote -c k.ctx -l sha256:0,1 -q 0102 -m q.att -s q.sig -g sha256 >/dev/null || fail "quote with an HMAC key"
check q.att q.sig
tpm2_verifysignature -c k.ctx -g sha256 -m q.att -s q.sig || fail "TPM verifies the quote's HMAC"

tpm2_create -C p.ctx -G ecc -u o.pub -r o.priv --creation-data cd.bin --creation-ticket tk.bin \
    --creation-hash ch.bin -Q || fail "create object"
tpm2_load -C p.ctx -u o.pub -r o.priv -c o.ctx -Q || fail "load object"
tpm2_certify -C k.ctx -c o.ctx -g sha256 -o c.att -s c.sig >/dev/null || fail "certify with an HMAC key"
check c.att c.sig
tpm2_certifycreation -C k.ctx -c o.ctx -d ch.bin -t tk.bin -g sha256 -o cc.sig --attestation cc.att \
    >/dev/null || fail "certifycreation with an HMAC key"
check cc.att cc.sig
tpm2_gettime -c k.ctx -g sha256 -o t.sig --attestation t.att >/dev/null || fail "gettime with an HMAC key"
check t.att t.sig
tpm2_nvdefine 0x1500050 -C o -s 8 -a "ownerread|ownerwrite|authread|authwrite" || fail nvdefine
echo -n 12345678 | tpm2_nvwrite 0x1500050 -C o -i - || fail nvwrite
tpm2_nvcertify -C k.ctx -g sha256 -o n.sig --attestation n.att --size 8 0x1500050 >/dev/null \
    || fail "nvcertify with an HMAC key"
check n.att n.sig
tpm2_setcommandauditstatus -g sha256 TPM2_CC_GetRandom || fail setcommandauditstatus
tpm2_getrandom 8 >/dev/null
tpm2_getcommandauditdigest -c k.ctx -g sha256 -m a.att -s a.sig || fail "getcommandauditdigest with an HMAC key"
check a.att a.sig
tpm2_gettime -c kn.ctx -g sha256 -o tn.sig --attestation tn.att >/dev/null || fail "gettime with a NULL-scheme key"
tpm2_verifysignature -c kn.ctx -g sha256 -m tn.att -s tn.sig || fail "verify NULL-scheme key's HMAC"

# a changed attestation does not verify
printf '\x00' | dd of=q.att bs=1 seek=30 conv=notrunc 2>/dev/null
expect_rc 0x2db tpm2_verifysignature -c k.ctx -g sha256 -m q.att -s q.sig
echo OK
