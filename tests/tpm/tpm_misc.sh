#!/bin/bash
# ECDH, CertifyCreation, HierarchyControl, SetPrimaryPolicy, ClockSet,
# CreateLoaded, PCR_Allocate, ECC_Parameters; the key flow over swtpm.
source "$(dirname "$0")/common.bash"
start_tpm_primary

# ECDH: KeyGen's Z equals ZGen's Z computed with the private key
tpm2_create -C p.ctx -G ecc256:ecdh -a "decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth" \
    -u ecdh.pub -r ecdh.priv -Q || fail "create ecdh key"
tpm2_load -C p.ctx -u ecdh.pub -r ecdh.priv -c ecdh.ctx -Q || fail "load ecdh"
tpm2_ecdhkeygen -c ecdh.ctx -u Q.pub -o Z1.bin || fail ecdhkeygen
tpm2_ecdhzgen -c ecdh.ctx -u Q.pub -o Z2.bin || fail ecdhzgen
cmp -s Z1.bin Z2.bin || fail "ECDH secrets differ"
tpm2_geteccparameters ecc256 -o params.bin || fail geteccparameters
xxd -p -c 1000 params.bin | grep -q ffffffff00000001000000000000000000000000ffffffffffffffffffffffff \
    || fail "P-256 prime missing from ECC_Parameters"
xxd -p -c 1000 params.bin | grep -q ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551 \
    || fail "P-256 order missing from ECC_Parameters"
tpm2_geteccparameters ecc384 -o p384.bin || fail "geteccparameters p384"
[ "$(stat -c %s p384.bin)" -gt "$(stat -c %s params.bin)" ] || fail "P-384 parameters size"

# CreateLoaded (tpm2_create -c) and CertifyCreation with the creation ticket
tpm2_create -C p.ctx -G ecc -c cl.ctx -u cl.pub -r cl.priv --creation-data cd.bin \
    --creation-ticket tk.bin --creation-hash ch.bin -Q 2>/dev/null ||
tpm2_create -C p.ctx -G ecc -u cl.pub -r cl.priv --creation-data cd.bin --creation-ticket tk.bin \
    --creation-hash ch.bin -Q || fail "create with creation data"
tpm2_load -C p.ctx -u cl.pub -r cl.priv -c cl2.ctx -Q || fail load
tpm2_create -C p.ctx -G ecc -u sk.pub -r sk.priv -Q || fail "create signer"
tpm2_load -C p.ctx -u sk.pub -r sk.priv -c sk.ctx -Q || fail "load signer"
tpm2_readpublic -c sk.ctx -f pem -o sk.pem -Q
tpm2_certifycreation -C sk.ctx -c cl2.ctx -d ch.bin -t tk.bin -g sha256 -o cc.sig \
    --attestation cc.att -f plain || fail certifycreation
openssl dgst -sha256 -verify sk.pem -signature cc.sig cc.att >/dev/null || fail "certifycreation signature"
printf '\x01' | dd of=ch.bin bs=1 seek=5 conv=notrunc 2>/dev/null
expect_rc 0x4e0 tpm2_certifycreation -C sk.ctx -c cl2.ctx -d ch.bin -t tk.bin -g sha256 -o cc.sig \
    --attestation cc.att

# SetPrimaryPolicy and HierarchyControl
head -c 32 /dev/zero > zero.pol
tpm2_setprimarypolicy -C o -L zero.pol -g sha256 || fail setprimarypolicy
tpm2_hierarchycontrol -C p shEnable clear || fail "hierarchycontrol disable owner"
expect_rc 0x185 tpm2_createprimary -C o -c x.ctx
tpm2_getcap properties-variable | grep -A0 "shEnable" | grep -q 0 || fail "shEnable still set"
tpm2_hierarchycontrol -C p shEnable set || fail "hierarchycontrol enable owner"
tpm2_createprimary -C o -c x.ctx -Q || fail "createprimary after enable"
# the owner may not re-enable by itself
tpm2_hierarchycontrol -C o shEnable clear || fail "owner disables itself"
# refused by tpm2_hierarchycontrol itself before it reaches the TPM
expect_fail "Only platform hierarchy handle can be specified for SET .shEnable. bit" \
    tpm2_hierarchycontrol -C o shEnable set
tpm2_hierarchycontrol -C p shEnable set || fail "platform re-enables"

# clock: set forward works, backwards fails
c0=$(tpm2_readclock | awk '/clock:/ {print $2; exit}')
tpm2_setclock $((c0 + 100000)) || fail "clockset forward"
c1=$(tpm2_readclock | awk '/clock:/ {print $2; exit}')
[ "$c1" -ge $((c0 + 100000)) ] || fail "clock not advanced ($c0 -> $c1)"
expect_rc 0x1c4 tpm2_setclock 1

# ClearControl: with disableClear set, Clear is refused until the platform
# clears the flag; lockoutAuth may set it but not clear it
tpm2_clearcontrol -C l s || fail "clearcontrol set"
expect_rc 0x120 tpm2_clear -c p
# refused by tpm2_clearcontrol itself before it reaches the TPM
expect_fail "Only platform hierarchy handle can be specified for CLEAR operation" tpm2_clearcontrol -C l c
tpm2_clearcontrol -C p c || fail "clearcontrol clear (platform)"
tpm2_clear -c p || fail "clear after clearcontrol"

# PCR_Allocate (takes effect at the next reset)
tpm2_pcrallocate sha1:all+sha256:all+sha384:all >/dev/null || fail pcrallocate

# the key flow over the swtpm transport
use_swtpm
tpm2_createprimary -C o -G ecc -c sp.ctx -Q || fail "swtpm createprimary"
tpm2_create -C sp.ctx -G rsa2048 -u r.pub -r r.priv -Q || fail "swtpm create"
tpm2_load -C sp.ctx -u r.pub -r r.priv -c r.ctx -Q || fail "swtpm load"
echo data > d
tpm2_sign -c r.ctx -g sha256 -f plain -o r.sig d || fail "swtpm sign"
tpm2_readpublic -c r.ctx -f pem -o r.pem -Q
openssl dgst -sha256 -verify r.pem -signature r.sig d >/dev/null || fail "swtpm signature"
echo OK
