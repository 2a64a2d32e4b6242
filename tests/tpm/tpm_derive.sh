#!/bin/bash
# Derivation parents (Part 1, Derived Objects; Part 3 TPM2_CreateLoaded): a
# restricted decrypt keyed-hash object with the XOR scheme
# (tpm2_createprimary -G xor) derives children through CreateLoaded: the key
# comes from KDFa(parent's XOR hash, the parent's secret, label, context)
# with label and context from the template's unique field (TPMS_DERIVE), so
# the same parent and template always give the same key, and another label
# or context another key. Checked against an independent KDFa (Python) with
# a parent whose secret is known (LoadExternal).
source "$(dirname "$0")/common.bash"
pkg-config --exists tss2-esys tss2-tctildr tss2-mu 2>/dev/null || { echo "no libtss2-dev" >&2; exit 77; }
start_tpm
tpm2_startup -c || fail startup

# --- with tpm2-tools: tpm2_create -c runs CreateLoaded (label and context empty)
tpm2_createprimary -C o -G xor -c dp.ctx -Q || fail "createprimary -G xor"
tpm2_readpublic -c dp.ctx > dp.txt || fail readpublic
grep -q "restricted|decrypt" dp.txt && grep -q "value: xor" dp.txt || fail "derivation parent template"
A="fixedtpm|fixedparent|userwithauth|sign"
tpm2_create -C dp.ctx -G ecc -a "$A" -c k1.ctx -Q || fail "derive an ECC key"
tpm2_create -C dp.ctx -G ecc -a "$A" -c k2.ctx -Q || fail "derive it again"
tpm2_readpublic -c k1.ctx -f pem -o k1.pem -Q && tpm2_readpublic -c k2.ctx -f pem -o k2.pem -Q
cmp -s k1.pem k2.pem || fail "the same template derived two different keys"
echo "derived" > m
tpm2_sign -c k1.ctx -g sha256 -f plain -o m.sig m || fail "sign with the derived key"
openssl dgst -sha256 -verify k1.pem -signature m.sig m >/dev/null || fail "derived key's signature"
tpm2_create -C dp.ctx -G rsa2048 -a "$A" -c r1.ctx -Q || fail "derive an RSA key"
# another derivation parent, another key
tpm2_createprimary -C e -G xor -c dp2.ctx -Q || fail "second derivation parent"
tpm2_create -C dp2.ctx -G ecc -a "$A" -c k3.ctx -Q || fail "derive under the second parent"
tpm2_readpublic -c k3.ctx -f pem -o k3.pem -Q
cmp -s k1.pem k3.pem && fail "two parents derived the same key"
# a derived key does not come from the RNG: sensitiveDataOrigin is refused
# (TPM_RC_ATTRIBUTES, parameter 2)
expect_rc 0x2c2 tpm2_create -C dp.ctx -G ecc -c k4.ctx
# a derivation parent is not a storage parent: Create and Load refuse it
# (TPM_RC_TYPE, handle 1)
expect_rc 0x18a tpm2_create -C dp.ctx -G ecc -a "$A" -u x.pub -r x.priv
# a derivation parent must use the XOR scheme (TPM_RC_SCHEME, parameter 2)
expect_rc 0x2d2 tpm2_createprimary -C o -G keyedhash -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt" -c x.ctx

# --- through the ESAPI: label and context, and a known answer
cat > derive.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

static ESYS_CONTEXT *ctx;
#define CHECK(x, what) do { TSS2_RC r_ = (x); if (r_ != TSS2_RC_SUCCESS) { \
    fprintf(stderr, "%s failed: 0x%x\n", what, r_); exit(1); } } while (0)

/* HMAC("message") with an HMAC key derived under parent with label/context */
static void derive_hmac(ESYS_TR parent, const char *label, const char *context, BYTE out[32])
{
    TPMT_PUBLIC t = {
        .type = TPM2_ALG_KEYEDHASH, .nameAlg = TPM2_ALG_SHA256,
        /* not fixedTPM: the parent was loaded from outside */
        .objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH |
                            TPMA_OBJECT_FIXEDPARENT,
        .parameters.keyedHashDetail.scheme = { .scheme = TPM2_ALG_HMAC,
                                               .details.hmac.hashAlg = TPM2_ALG_SHA256 } };
    TPM2B_TEMPLATE tmpl = { 0 };
    size_t off = 0;
    /* TPMS_DERIVE in the unique field: the TPMT_PUBLIC up to the unique,
     * then label and context, each a TPM2B */
    CHECK(Tss2_MU_UINT16_Marshal(t.type, tmpl.buffer, sizeof(tmpl.buffer), &off), "mu");
    CHECK(Tss2_MU_UINT16_Marshal(t.nameAlg, tmpl.buffer, sizeof(tmpl.buffer), &off), "mu");
    CHECK(Tss2_MU_UINT32_Marshal(t.objectAttributes, tmpl.buffer, sizeof(tmpl.buffer), &off), "mu");
    CHECK(Tss2_MU_TPM2B_DIGEST_Marshal(&t.authPolicy, tmpl.buffer, sizeof(tmpl.buffer), &off), "mu");
    CHECK(Tss2_MU_TPMS_KEYEDHASH_PARMS_Marshal(&t.parameters.keyedHashDetail, tmpl.buffer,
                                               sizeof(tmpl.buffer), &off), "mu");
    const char *parts[2] = { label, context };
    for (int i = 0; i < 2; i++) {
        CHECK(Tss2_MU_UINT16_Marshal((UINT16)strlen(parts[i]), tmpl.buffer, sizeof(tmpl.buffer), &off),
              "mu");
        memcpy(tmpl.buffer + off, parts[i], strlen(parts[i]));
        off += strlen(parts[i]);
    }
    tmpl.size = (UINT16)off;
    TPM2B_SENSITIVE_CREATE sens = { 0 };
    ESYS_TR k;
    CHECK(Esys_CreateLoaded(ctx, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                            &k, NULL, NULL), "CreateLoaded");
    TPM2B_MAX_BUFFER msg = { .size = 7, .buffer = "message" };
    TPM2B_DIGEST *mac;
    CHECK(Esys_HMAC(ctx, k, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &msg, TPM2_ALG_SHA256, &mac),
          "HMAC");
    memcpy(out, mac->buffer, 32);
    Esys_Free(mac);
    Esys_FlushContext(ctx, k);
}

static void print(const BYTE *b)
{
    for (int i = 0; i < 32; i++)
        printf("%02x", b[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    TSS2_TCTI_CONTEXT *tcti;
    (void)argc;
    CHECK(Tss2_TctiLdr_Initialize(argv[1], &tcti), "tcti");
    CHECK(Esys_Initialize(&ctx, tcti, NULL), "init");
    /* a derivation parent whose secret is 32 bytes of 0x11 */
    TPM2B_PUBLIC pub = { .publicArea = {
        .type = TPM2_ALG_KEYEDHASH, .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_USERWITHAUTH,
        .parameters.keyedHashDetail.scheme = { .scheme = TPM2_ALG_XOR,
            .details.exclusiveOr = { .hashAlg = TPM2_ALG_SHA256, .kdf = TPM2_ALG_KDF1_SP800_108 } } } };
    TPM2B_SENSITIVE priv = { .sensitiveArea = { .sensitiveType = TPM2_ALG_KEYEDHASH } };
    priv.sensitiveArea.sensitive.bits.size = 32;
    memset(priv.sensitiveArea.sensitive.bits.buffer, 0x11, 32);
    priv.sensitiveArea.seedValue.size = 32;
    memset(priv.sensitiveArea.seedValue.buffer, 0x22, 32);
    /* unique = H(seedValue || secret) */
    pub.publicArea.unique.keyedHash.size = 32;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(argv[2] + 2 * i, "%2x", &v);
        pub.publicArea.unique.keyedHash.buffer[i] = (BYTE)v;
    }
    ESYS_TR known;
    CHECK(Esys_LoadExternal(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
                            ESYS_TR_RH_NULL, &known), "LoadExternal");
    BYTE a[32], b[32], l2[32], c2[32];
    derive_hmac(known, "L1", "C1", a);
    derive_hmac(known, "L1", "C1", b);
    derive_hmac(known, "L2", "C1", l2);
    derive_hmac(known, "L1", "C2", c2);
    if (memcmp(a, b, 32) != 0 || memcmp(a, l2, 32) == 0 || memcmp(a, c2, 32) == 0 ||
        memcmp(l2, c2, 32) == 0) {
        fprintf(stderr, "label/context do not select the key\n");
        return 1;
    }
    print(a);
    Esys_Finalize(&ctx);
    Tss2_TctiLdr_Finalize(&tcti);
    return 0;
}
C
cc -std=c11 -Wall -Werror -o derive derive.c $(pkg-config --cflags --libs tss2-esys tss2-tctildr tss2-mu) \
    || fail "compile the ESAPI program"
/usr/bin/python3 - > expect.txt <<'PY'
import hashlib, hmac, struct
secret = b"\x11" * 32
# KDFa(SHA-256, secret, "L1", "C1", 8192): K(i) = HMAC(secret, [i] || "L1" || 00 || "C1" || [8192])
k = hmac.new(secret, struct.pack(">I", 1) + b"L1\0" + b"C1" + struct.pack(">I", 8192), hashlib.sha256).digest()
print(hashlib.sha256(b"\x22" * 32 + secret).hexdigest())
print(hmac.new(k, b"message", hashlib.sha256).hexdigest())
PY
unique=$(sed -n 1p expect.txt)
got=$(./derive "mssim:host=127.0.0.1,port=$PORT" "$unique") || fail "ESAPI derivation"
[ "$got" = "$(sed -n 2p expect.txt)" ] || fail "derived HMAC key: got $got, want $(sed -n 2p expect.txt)"
echo OK
