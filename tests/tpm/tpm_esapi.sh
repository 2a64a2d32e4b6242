#!/bin/bash
# A tpm2-tss ESAPI program: primary key, signing key, sign + verify, quote,
# seal to a PCR policy and unseal, over the mssim TCTI, with HMAC sessions
# and parameter encryption.
source "$(dirname "$0")/common.bash"
pkg-config --exists tss2-esys tss2-tctildr 2>/dev/null || { echo "no libtss2-dev" >&2; exit 77; }
start_tpm
tpm2_startup -c || fail startup

cat > flow.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#define CHECK(x, what) do { TSS2_RC r_ = (x); if (r_ != TSS2_RC_SUCCESS) { \
    fprintf(stderr, "%s failed: 0x%x\n", what, r_); exit(1); } } while (0)

int main(int argc, char **argv)
{
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *ctx;
    (void)argc;
    CHECK(Tss2_TctiLdr_Initialize(argv[1], &tcti), "tcti");
    CHECK(Esys_Initialize(&ctx, tcti, NULL), "init");

    /* salted, encrypting HMAC session keyed to a primary */
    TPM2B_SENSITIVE_CREATE in_sens = { 0 };
    TPM2B_PUBLIC tmpl = { .publicArea = {
        .type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
            TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH,
        .parameters.eccDetail = { .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
            .mode.aes = TPM2_ALG_CFB }, .scheme = { .scheme = TPM2_ALG_NULL },
            .curveID = TPM2_ECC_NIST_P256, .kdf = { .scheme = TPM2_ALG_NULL } } } };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION none = { 0 };
    ESYS_TR primary;
    CHECK(Esys_CreatePrimary(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &in_sens, &tmpl, &outside, &none, &primary, NULL, NULL, NULL, NULL),
          "CreatePrimary");
    TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB };
    ESYS_TR sess;
    CHECK(Esys_StartAuthSession(ctx, primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &sess), "StartAuthSession");
    CHECK(Esys_TRSess_SetAttributes(ctx, sess, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT |
                                    TPMA_SESSION_ENCRYPT, 0xff), "SetAttributes");

    /* signing key under the primary, created and loaded in one go */
    TPM2B_SENSITIVE_CREATE ks = { .sensitive.userAuth = { .size = 4, .buffer = "pass" } };
    TPM2B_TEMPLATE kt = { 0 };
    TPMT_PUBLIC kp = { .type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH,
        .parameters.eccDetail = { .symmetric = { .algorithm = TPM2_ALG_NULL },
            .scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
            .curveID = TPM2_ECC_NIST_P256, .kdf = { .scheme = TPM2_ALG_NULL } } };
    size_t off = 0;
    extern TSS2_RC Tss2_MU_TPMT_PUBLIC_Marshal(const TPMT_PUBLIC *, uint8_t *, size_t, size_t *);
    CHECK(Tss2_MU_TPMT_PUBLIC_Marshal(&kp, kt.buffer, sizeof(kt.buffer), &off), "marshal");
    kt.size = (UINT16)off;
    ESYS_TR key;
    CHECK(Esys_CreateLoaded(ctx, primary, sess, ESYS_TR_NONE, ESYS_TR_NONE, &ks, &kt, &key, NULL,
                            NULL), "CreateLoaded");
    TPM2B_AUTH pass = { .size = 4, .buffer = "pass" };
    CHECK(Esys_TR_SetAuth(ctx, key, &pass), "SetAuth");

    TPM2B_DIGEST digest = { .size = 32 };
    memset(digest.buffer, 0x5a, 32);
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
    TPMT_TK_HASHCHECK tk = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
    TPMT_SIGNATURE *sig;
    CHECK(Esys_Sign(ctx, key, sess, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme, &tk, &sig), "Sign");
    TPMT_TK_VERIFIED *vt;
    CHECK(Esys_VerifySignature(ctx, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest, sig, &vt),
          "VerifySignature");
    free(vt);
    digest.buffer[0] ^= 1;
    if (Esys_VerifySignature(ctx, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest, sig, &vt) ==
        TSS2_RC_SUCCESS) {
        fprintf(stderr, "forged digest verified\n");
        return 1;
    }
    free(sig);

    /* quote PCR 0..2 with the signing key */
    TPML_PCR_SELECTION sel = { .count = 1, .pcrSelections = { { .hash = TPM2_ALG_SHA256,
        .sizeofSelect = 3, .pcrSelect = { 0x07, 0, 0 } } } };
    TPM2B_DATA nonce = { .size = 8, .buffer = "12345678" };
    TPM2B_ATTEST *quoted;
    CHECK(Esys_Quote(ctx, key, sess, ESYS_TR_NONE, ESYS_TR_NONE, &nonce, &scheme, &sel, &quoted, &sig),
          "Quote");
    if (quoted->size < 60 || memcmp(quoted->attestationData, "\xff\x54\x43\x47\x80\x18", 6) != 0) {
        fprintf(stderr, "bad quote structure\n");
        return 1;
    }
    free(quoted);
    free(sig);

    /* seal to a PCR policy computed in a trial session, unseal with a policy session */
    ESYS_TR trial, pol;
    TPMT_SYM_DEF nosym = { .algorithm = TPM2_ALG_NULL };
    CHECK(Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                ESYS_TR_NONE, NULL, TPM2_SE_TRIAL, &nosym, TPM2_ALG_SHA256, &trial),
          "trial");
    TPM2B_DIGEST empty = { 0 };
    TPML_PCR_SELECTION p0 = { .count = 1, .pcrSelections = { { .hash = TPM2_ALG_SHA256,
        .sizeofSelect = 3, .pcrSelect = { 0x01, 0, 0 } } } };
    CHECK(Esys_PolicyPCR(ctx, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &p0), "PolicyPCR");
    TPM2B_DIGEST *pd;
    CHECK(Esys_PolicyGetDigest(ctx, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pd), "GetDigest");
    CHECK(Esys_FlushContext(ctx, trial), "flush trial");
    TPM2B_SENSITIVE_CREATE ss = { .sensitive.data = { .size = 6, .buffer = "sealed" } };
    TPM2B_PUBLIC st = { .publicArea = { .type = TPM2_ALG_KEYEDHASH, .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT,
        .authPolicy = *pd, .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL } };
    free(pd);
    TPM2B_PRIVATE *priv;
    TPM2B_PUBLIC *pub;
    CHECK(Esys_Create(ctx, primary, sess, ESYS_TR_NONE, ESYS_TR_NONE, &ss, &st, &outside, &none,
                      &priv, &pub, NULL, NULL, NULL), "Create sealed");
    ESYS_TR sealed;
    CHECK(Esys_Load(ctx, primary, sess, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &sealed), "Load");
    free(priv);
    free(pub);
    CHECK(Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &nosym, TPM2_ALG_SHA256, &pol),
          "policy session");
    CHECK(Esys_PolicyPCR(ctx, pol, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &p0), "PolicyPCR");
    TPM2B_SENSITIVE_DATA *out;
    CHECK(Esys_Unseal(ctx, sealed, pol, ESYS_TR_NONE, ESYS_TR_NONE, &out), "Unseal");
    if (out->size != 6 || memcmp(out->buffer, "sealed", 6) != 0) {
        fprintf(stderr, "unsealed wrong data\n");
        return 1;
    }
    free(out);
    /* XOR parameter encryption (Part 1 §21.3) on a bound, salted session */
    ESYS_TR xs;
    TPMT_SYM_DEF xsym = { .algorithm = TPM2_ALG_XOR, .keyBits.exclusiveOr = TPM2_ALG_SHA256 };
    CHECK(Esys_StartAuthSession(ctx, primary, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
                                TPM2_SE_HMAC, &xsym, TPM2_ALG_SHA256, &xs), "XOR session");
    CHECK(Esys_TRSess_SetAttributes(ctx, xs, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT |
                                    TPMA_SESSION_ENCRYPT, 0xff), "XOR attrs");
    TPM2B_DIGEST *rnd;
    CHECK(Esys_GetRandom(ctx, xs, ESYS_TR_NONE, ESYS_TR_NONE, 16, &rnd), "GetRandom XOR");
    if (rnd->size != 16) {
        fprintf(stderr, "bad random size\n");
        return 1;
    }
    free(rnd);
    TPM2B_DIGEST d2 = { .size = 32 };
    memset(d2.buffer, 0x33, 32);
    CHECK(Esys_Sign(ctx, key, xs, ESYS_TR_NONE, ESYS_TR_NONE, &d2, &scheme, &tk, &sig), "Sign XOR");
    CHECK(Esys_VerifySignature(ctx, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d2, sig, &vt),
          "Verify XOR");
    free(vt);
    free(sig);
    TPM2B_SENSITIVE_CREATE xsens = { .sensitive.data = { .size = 9, .buffer = "xorsecret" } };
    TPM2B_PUBLIC xst = { .publicArea = { .type = TPM2_ALG_KEYEDHASH, .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH,
        .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL } };
    TPM2B_PRIVATE *xpriv;
    TPM2B_PUBLIC *xpub;
    CHECK(Esys_Create(ctx, primary, xs, ESYS_TR_NONE, ESYS_TR_NONE, &xsens, &xst, &outside, &none,
                      &xpriv, &xpub, NULL, NULL, NULL), "Create XOR");
    ESYS_TR xobj;
    CHECK(Esys_Load(ctx, primary, xs, ESYS_TR_NONE, ESYS_TR_NONE, xpriv, xpub, &xobj), "Load XOR");
    free(xpriv);
    free(xpub);
    CHECK(Esys_Unseal(ctx, xobj, xs, ESYS_TR_NONE, ESYS_TR_NONE, &out), "Unseal XOR");
    if (out->size != 9 || memcmp(out->buffer, "xorsecret", 9) != 0) {
        fprintf(stderr, "XOR-encrypted unseal returned wrong data\n");
        return 1;
    }
    free(out);
    Esys_FlushContext(ctx, xobj);
    Esys_FlushContext(ctx, xs);

    /* after an extend the same policy no longer opens it */
    TPML_DIGEST_VALUES dv = { .count = 1, .digests = { { .hashAlg = TPM2_ALG_SHA256 } } };
    CHECK(Esys_PCR_Extend(ctx, 0, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &dv), "PCR_Extend");
    CHECK(Esys_PolicyPCR(ctx, pol, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &p0), "PolicyPCR 2");
    if (Esys_Unseal(ctx, sealed, pol, ESYS_TR_NONE, ESYS_TR_NONE, &out) == TSS2_RC_SUCCESS) {
        fprintf(stderr, "unsealed after extend\n");
        return 1;
    }
    Esys_FlushContext(ctx, pol);
    Esys_FlushContext(ctx, sess);
    Esys_FlushContext(ctx, sealed);
    Esys_FlushContext(ctx, key);
    Esys_FlushContext(ctx, primary);
    Esys_Finalize(&ctx);
    Tss2_TctiLdr_Finalize(&tcti);
    printf("esapi flow ok\n");
    return 0;
}
C
cc -std=c11 -Wall -Werror -o flow flow.c $(pkg-config --cflags --libs tss2-esys tss2-tctildr tss2-mu) \
    || fail "compile ESAPI program"
./flow "mssim:host=127.0.0.1,port=$PORT" || fail "ESAPI flow (mssim)"
./flow "swtpm:host=127.0.0.1,port=$PORT" || fail "ESAPI flow (swtpm)"
# parameter encryption (CFB and XOR) on salted/unsalted, bound/unbound
# sessions: a signature over the decrypted digest must verify
cat > combos.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_mu.h>
#define CHECK(x, what) do { TSS2_RC r_ = (x); if (r_ != TSS2_RC_SUCCESS) { fprintf(stderr, "%s failed: 0x%x\n", what, r_); return 1; } } while (0)
static int run(ESYS_CONTEXT *ctx, ESYS_TR primary, ESYS_TR key, int salted, int bound, int xor)
{
    TPMT_SYM_DEF xsym = { .algorithm = TPM2_ALG_XOR, .keyBits.exclusiveOr = TPM2_ALG_SHA256 };
    TPMT_SYM_DEF csym = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB };
    ESYS_TR s;
    CHECK(Esys_StartAuthSession(ctx, salted ? primary : ESYS_TR_NONE, bound ? key : ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
                                TPM2_SE_HMAC, xor ? &xsym : &csym, TPM2_ALG_SHA256, &s), "session");
    CHECK(Esys_TRSess_SetAttributes(ctx, s, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT, 0xff), "attrs");
    TPM2B_DIGEST d = { .size = 32 }; memset(d.buffer, 0x33, 32);
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
    TPMT_TK_HASHCHECK tk = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
    TPMT_SIGNATURE *sig; TPMT_TK_VERIFIED *vt;
    CHECK(Esys_Sign(ctx, key, s, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme, &tk, &sig), "Sign");
    TSS2_RC rc = Esys_VerifySignature(ctx, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d, sig, &vt);
    printf("salted=%d bound=%d xor=%d verify=%s\n", salted, bound, xor, rc ? "FAIL" : "ok");
    if (rc) exit(1);
    Esys_FlushContext(ctx, s);
    return 0;
}
int main(int argc, char **argv) {
    TSS2_TCTI_CONTEXT *tcti; ESYS_CONTEXT *ctx;
    (void)argc;
    CHECK(Tss2_TctiLdr_Initialize(argv[1], &tcti), "tcti");
    CHECK(Esys_Initialize(&ctx, tcti, NULL), "init");
    TPM2B_SENSITIVE_CREATE in_sens = { 0 };
    TPM2B_PUBLIC tmpl = { .publicArea = { .type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH,
        .parameters.eccDetail = { .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB }, .scheme = { .scheme = TPM2_ALG_NULL }, .curveID = TPM2_ECC_NIST_P256, .kdf = { .scheme = TPM2_ALG_NULL } } } };
    TPM2B_DATA outside = { 0 }; TPML_PCR_SELECTION none = { 0 };
    ESYS_TR primary;
    CHECK(Esys_CreatePrimary(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in_sens, &tmpl, &outside, &none, &primary, NULL, NULL, NULL, NULL), "CP");
    TPM2B_SENSITIVE_CREATE ks = { .sensitive.userAuth = { .size = 4, .buffer = "pass" } };
    TPM2B_TEMPLATE kt = { 0 };
    TPMT_PUBLIC kp = { .type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH,
        .parameters.eccDetail = { .symmetric = { .algorithm = TPM2_ALG_NULL }, .scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 }, .curveID = TPM2_ECC_NIST_P256, .kdf = { .scheme = TPM2_ALG_NULL } } };
    size_t off = 0;
    Tss2_MU_TPMT_PUBLIC_Marshal(&kp, kt.buffer, sizeof(kt.buffer), &off); kt.size = off;
    ESYS_TR key;
    CHECK(Esys_CreateLoaded(ctx, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &ks, &kt, &key, NULL, NULL), "CL");
    TPM2B_AUTH pass = { .size = 4, .buffer = "pass" };
    Esys_TR_SetAuth(ctx, key, &pass);
    for (int m = 0; m < 8; m++) run(ctx, primary, key, m & 1, (m >> 1) & 1, (m >> 2) & 1);
    return 0;
}
C
cc -std=c11 -Wall -Werror -o combos combos.c $(pkg-config --cflags --libs tss2-esys tss2-tctildr tss2-mu) \
    || fail "compile combos"
./combos "mssim:host=127.0.0.1,port=$PORT" || fail "session combinations"
echo OK
