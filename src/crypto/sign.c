/*
 * Signatures: RSA PKCS#1 v1.5 and PSS (RFC 8017 §8), raw RSA (X.509 mode),
 * ECDSA (FIPS 186-5 §6) with r||s encoding (PKCS#11 3.0 §2.3.1) and the DER
 * form (RFC 3279 §2.2.3), pure EdDSA (RFC 8032).
 *
 * Contexts over the shared, immutable EVP_PKEY: the key is never re-parsed.
 * Signing keeps initialised contexts with the key (see "ready signing
 * contexts" below); verification makes one per call.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "crypto/crypto_int.h"

#define RSA_MAX_BYTES (16384 / 8)
#define ECDSA_MAX_FIELD 66
/* SEQUENCE { INTEGER r, INTEGER s } for a 66-byte field: 3 + 2 * (2 + 67). */
#define ECDSA_MAX_DER 141
#define ECDSA_MAX_DIGEST (1u << 16)

size_t tcrypto_sig_size(const tcrypto_pkey *k, const tcrypto_sig_params *p)
{
    if (k == NULL || p == NULL)
        return 0;
    switch (p->scheme) {
    case TCRYPTO_SIG_RSA_PKCS1:
    case TCRYPTO_SIG_RSA_PSS:
    case TCRYPTO_SIG_RSA_RAW:
        return k->type == TCRYPTO_KEY_RSA ? k->bytes : 0;
    case TCRYPTO_SIG_ECDSA:
        return k->type == TCRYPTO_KEY_EC ? 2 * k->bytes : 0;
    case TCRYPTO_SIG_EDDSA:
        /* RFC 8032 §5.1.6 / §5.2.6 */
        if (k->type == TCRYPTO_KEY_ED25519)
            return 64;
        if (k->type == TCRYPTO_KEY_ED448)
            return 114;
        return 0;
    }
    return 0;
}

/* ---- ECDSA DER <-> r||s ------------------------------------------------------ */

/* One DER INTEGER holding a non-negative value in minimal form (X.690
 * §8.3.2); *v / *vlen get its magnitude without the sign octet. */
static bool der_read_uint(tc_reader *r, const uint8_t **v, size_t *vlen)
{
    uint8_t tag, len;
    const uint8_t *p;
    if (!tc_read_u8(r, &tag) || tag != 0x02 || !tc_read_u8(r, &len) || len == 0 ||
        len >= 0x80 || !tc_read_ref(r, len, &p))
        return false;
    if (p[0] & 0x80)
        return false; /* negative */
    if (len > 1 && p[0] == 0 && (p[1] & 0x80) == 0)
        return false; /* non-minimal */
    if (p[0] == 0) {
        p++;
        len--;
    }
    *v = p;
    *vlen = len;
    return true;
}

tcrypto_rc tcrypto_ecdsa_sig_from_der(const uint8_t *der, size_t derlen, size_t field_len,
                                      uint8_t *rs, size_t *rslen)
{
    tcrypto_rc rc = TCRYPTO_OK;
    tc_reader r;
    uint8_t tag, b;
    size_t seqlen;
    const uint8_t *rv, *sv;
    size_t rl, sl;
    if (der == NULL || rslen == NULL || field_len == 0 || field_len > ECDSA_MAX_FIELD)
        return TCRYPTO_ERR_ARG;
    tc_reader_init(&r, der, derlen);
    if (!tc_read_u8(&r, &tag) || tag != 0x30 || !tc_read_u8(&r, &b))
        return TCRYPTO_ERR_INPUT;
    if (b < 0x80) {
        seqlen = b;
    } else if (b == 0x81) { /* X.690 §10.1: long form only when needed */
        if (!tc_read_u8(&r, &b) || b < 0x80)
            return TCRYPTO_ERR_INPUT;
        seqlen = b;
    } else {
        return TCRYPTO_ERR_INPUT;
    }
    if (tc_reader_left(&r) != seqlen)
        return TCRYPTO_ERR_INPUT; /* truncated or trailing bytes */
    if (!der_read_uint(&r, &rv, &rl) || !der_read_uint(&r, &sv, &sl) || tc_reader_left(&r) != 0)
        return TCRYPTO_ERR_INPUT;
    if (rl > field_len || sl > field_len)
        return TCRYPTO_ERR_INPUT;
    if (tcx_out_precheck(rs, rslen, 2 * field_len, &rc))
        return rc;
    memset(rs, 0, 2 * field_len);
    memcpy(rs + field_len - rl, rv, rl);
    memcpy(rs + 2 * field_len - sl, sv, sl);
    *rslen = 2 * field_len;
    return TCRYPTO_OK;
}

tcrypto_rc tcrypto_ecdsa_sig_to_der(const uint8_t *rs, size_t rslen, uint8_t *der,
                                    size_t *derlen)
{
    tcrypto_rc rc = TCRYPTO_OK;
    if (rs == NULL || derlen == NULL || rslen == 0 || rslen % 2 != 0 ||
        rslen > 2 * ECDSA_MAX_FIELD)
        return TCRYPTO_ERR_ARG;
    size_t fl = rslen / 2;
    tcx_derw body = {NULL, 0}, w = {NULL, 0};
    tcx_derw_uint(&body, rs, fl);
    tcx_derw_uint(&body, rs + fl, fl);
    tcx_derw_hdr(&w, 0x30, body.len);
    if (tcx_out_precheck(der, derlen, w.len + body.len, &rc))
        return rc;
    w = (tcx_derw){der, 0};
    tcx_derw_hdr(&w, 0x30, body.len);
    tcx_derw_uint(&w, rs, fl);
    tcx_derw_uint(&w, rs + fl, fl);
    *derlen = w.len;
    return TCRYPTO_OK;
}

/* ---- RSA ------------------------------------------------------------------------ */

/* in >= n? Only public values are compared. */
static tcrypto_rc rsa_below_modulus(const tcrypto_pkey *k, const uint8_t *m, size_t mlen)
{
    BIGNUM *n = NULL, *x = NULL;
    tcrypto_rc rc = TCRYPTO_OK;
    if (EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    x = BN_bin2bn(m, (int)mlen, NULL);
    if (x == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (BN_ucmp(x, n) >= 0)
        rc = TCRYPTO_ERR_INPUT;
done:
    BN_free(n);
    BN_clear_free(x);
    return rc;
}

/* Configure ctx (after sign/verify init) for the RSA scheme in p and point
 * *tbs at what OpenSSL must process (the left-padded block for raw RSA). */
static tcrypto_rc rsa_setup(EVP_PKEY_CTX *ctx, const tcrypto_pkey *k,
                            const tcrypto_sig_params *p, const uint8_t *in, size_t inlen,
                            uint8_t *block, const uint8_t **tbs, size_t *tbslen)
{
    const EVP_MD *md = NULL;
    *tbs = in;
    *tbslen = inlen;
    switch (p->scheme) {
    case TCRYPTO_SIG_RSA_PKCS1:
        if (p->md == TCRYPTO_MD_NONE) {
            /* RFC 8017 §9.2 step 3: tLen <= emLen - 11 */
            if (inlen > k->bytes - 11)
                return TCRYPTO_ERR_INPUT;
        } else {
            md = tcx_md(p->md);
            if (md == NULL)
                return TCRYPTO_ERR_UNSUPPORTED;
            if (inlen != tcrypto_md_size(p->md))
                return TCRYPTO_ERR_INPUT;
        }
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
            (md != NULL && EVP_PKEY_CTX_set_signature_md(ctx, md) != 1))
            return TCRYPTO_ERR_INTERNAL;
        return TCRYPTO_OK;
    case TCRYPTO_SIG_RSA_PSS: {
        md = tcx_md(p->md);
        if (p->md == TCRYPTO_MD_NONE)
            return TCRYPTO_ERR_ARG;
        if (md == NULL)
            return TCRYPTO_ERR_UNSUPPORTED;
        const EVP_MD *mgf = p->mgf1_md == TCRYPTO_MD_NONE ? md : tcx_md(p->mgf1_md);
        if (mgf == NULL)
            return TCRYPTO_ERR_UNSUPPORTED;
        size_t hlen = tcrypto_md_size(p->md);
        if (inlen != hlen)
            return TCRYPTO_ERR_INPUT;
        /* RFC 8017 §9.1.1: emLen >= hLen + sLen + 2, emLen = ceil((modBits-1)/8) */
        size_t emlen = (k->bits - 1 + 7) / 8;
        bool any = p->salt_len == TCRYPTO_PSS_SALT_ANY;
        if (!any && (p->salt_len > emlen || emlen - p->salt_len < hlen + 2))
            return TCRYPTO_ERR_ARG;
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_signature_md(ctx, md) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, any ? RSA_PSS_SALTLEN_AUTO
                                                      : (int)p->salt_len) != 1)
            return TCRYPTO_ERR_INTERNAL;
        return TCRYPTO_OK;
    }
    case TCRYPTO_SIG_RSA_RAW: {
        /* X.509 raw RSA (PKCS#11 3.0 §2.1.8): zero-extend on the left to
         * the modulus length; the value must be below n. */
        if (inlen > k->bytes)
            return TCRYPTO_ERR_INPUT;
        memset(block, 0, k->bytes - inlen);
        if (inlen > 0)
            memcpy(block + (k->bytes - inlen), in, inlen);
        tcrypto_rc rc = rsa_below_modulus(k, block, k->bytes);
        if (rc != TCRYPTO_OK)
            return rc;
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) != 1)
            return TCRYPTO_ERR_INTERNAL;
        *tbs = block;
        *tbslen = k->bytes;
        return TCRYPTO_OK;
    }
    default:
        return TCRYPTO_ERR_ARG;
    }
}

/* ---- sign / verify --------------------------------------------------------------- */

static tcrypto_rc check_eddsa_params(const tcrypto_sig_params *p)
{
    if (p->context == NULL && p->context_len != 0)
        return TCRYPTO_ERR_ARG;
    if (p->context_len > 255) /* RFC 8032 §5.1: context is at most 255 bytes */
        return TCRYPTO_ERR_ARG;
    /* OpenSSL 3.0 implements only pure Ed25519/Ed448 (no instance or
     * context-string parameters; those arrived in 3.2). */
    if (p->eddsa_ph || p->context_len != 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    return TCRYPTO_OK;
}

/* Pure EdDSA verification (signing keeps its contexts: sign_kept). */
static tcrypto_rc eddsa_verify(const tcrypto_pkey *k, const uint8_t *in, size_t inlen,
                               const uint8_t *sig, size_t siglen)
{
    static const uint8_t empty;
    tcrypto_rc rc = TCRYPTO_OK;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (inlen == 0)
        in = &empty;
    if (EVP_DigestVerifyInit_ex(mctx, NULL, NULL, tcx_libctx(), NULL, k->pk, NULL) != 1)
        rc = TCRYPTO_ERR_INTERNAL;
    else if (EVP_DigestVerify(mctx, sig, siglen, in, inlen) != 1)
        rc = TCRYPTO_ERR_VERIFY;
    EVP_MD_CTX_free(mctx);
    return rc;
}

static tcrypto_rc check_common(const tcrypto_pkey *k, const tcrypto_sig_params *p,
                               const uint8_t *in, size_t inlen, size_t *need)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (k == NULL || p == NULL || (in == NULL && inlen != 0))
        return TCRYPTO_ERR_ARG;
    *need = tcrypto_sig_size(k, p);
    if (*need == 0)
        return TCRYPTO_ERR_KEY; /* scheme does not fit the key type */
    if (p->scheme == TCRYPTO_SIG_EDDSA)
        return check_eddsa_params(p);
    if (p->scheme == TCRYPTO_SIG_ECDSA && (inlen == 0 || inlen > ECDSA_MAX_DIGEST))
        return TCRYPTO_ERR_INPUT;
    return TCRYPTO_OK;
}

/* ---- ready signing contexts ------------------------------------------------------- */

/*
 * OpenSSL 3.0 fetches the signature algorithm (a lookup under the library's
 * method-store lock) and allocates a provider context every time an
 * EVP_PKEY_CTX is made and initialised: about 4 us, an eighth of an ECDSA
 * P-256 signature here, and a lock every signing thread takes. The key keeps up to
 * TCX_SIGNER_SLOTS initialised contexts instead: a signature takes one,
 * signs and gives it back; more concurrent signers than slots make and free
 * their own, as before. Only schemes whose context holds nothing that
 * changes from call to call are kept: ECDSA (no digest set), pure EdDSA and
 * RSA PKCS#1 v1.5 (padding and digest). A context holds a reference to the
 * key, no copy of it, and goes with the key (tcx_signers_free).
 */
struct tcx_signer {
    EVP_PKEY_CTX *pctx; /* ECDSA, RSA PKCS#1 v1.5 */
    EVP_MD_CTX *mctx;   /* EdDSA */
    tcrypto_sig_scheme scheme;
    tcrypto_md md;
};

static bool signer_fits(const tcrypto_sig_params *p)
{
    return p->scheme == TCRYPTO_SIG_ECDSA || p->scheme == TCRYPTO_SIG_EDDSA ||
           p->scheme == TCRYPTO_SIG_RSA_PKCS1;
}

static void signer_free(struct tcx_signer *s)
{
    if (s == NULL)
        return;
    EVP_PKEY_CTX_free(s->pctx);
    EVP_MD_CTX_free(s->mctx);
    free(s);
}

static struct tcx_signer *signer_new(const tcrypto_pkey *k, const tcrypto_sig_params *p)
{
    struct tcx_signer *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->scheme = p->scheme;
    s->md = p->md;
    if (p->scheme == TCRYPTO_SIG_EDDSA) {
        s->mctx = EVP_MD_CTX_new();
        if (s->mctx == NULL ||
            EVP_DigestSignInit_ex(s->mctx, NULL, NULL, tcx_libctx(), NULL, k->pk, NULL) != 1)
            goto fail;
        return s;
    }
    s->pctx = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pk, NULL);
    if (s->pctx == NULL || EVP_PKEY_sign_init(s->pctx) != 1)
        goto fail;
    if (p->scheme == TCRYPTO_SIG_RSA_PKCS1) {
        const EVP_MD *md = p->md == TCRYPTO_MD_NONE ? NULL : tcx_md(p->md);
        if ((p->md != TCRYPTO_MD_NONE && md == NULL) ||
            EVP_PKEY_CTX_set_rsa_padding(s->pctx, RSA_PKCS1_PADDING) != 1 ||
            (md != NULL && EVP_PKEY_CTX_set_signature_md(s->pctx, md) != 1))
            goto fail;
    }
    return s;
fail:
    signer_free(s);
    return NULL;
}

/* A context for p over k: a kept one when one fits, else a new one. The
 * slots are a cache beside the immutable key, hence the cast. */
static struct tcx_signer *signer_take(const tcrypto_pkey *k, const tcrypto_sig_params *p)
{
    tcrypto_pkey *mk = (tcrypto_pkey *)k;
    for (unsigned i = 0; i < TCX_SIGNER_SLOTS; i++) {
        if (atomic_load_explicit(&mk->signers[i], memory_order_relaxed) == NULL)
            continue;
        struct tcx_signer *s = atomic_exchange(&mk->signers[i], NULL);
        if (s == NULL)
            continue;
        if (s->scheme == p->scheme && s->md == p->md)
            return s;
        struct tcx_signer *none = NULL;
        if (!atomic_compare_exchange_strong(&mk->signers[i], &none, s))
            signer_free(s);
    }
    return signer_new(k, p);
}

/* Back to k's slots after a successful signature; freed after a failure
 * (OpenSSL's state after an error is not relied on) or when all are taken. */
static void signer_give(const tcrypto_pkey *k, struct tcx_signer *s, bool ok)
{
    tcrypto_pkey *mk = (tcrypto_pkey *)k;
    for (unsigned i = 0; ok && i < TCX_SIGNER_SLOTS; i++) {
        struct tcx_signer *none = NULL;
        if (atomic_compare_exchange_strong(&mk->signers[i], &none, s))
            return;
    }
    signer_free(s);
}

void tcx_signers_free(tcrypto_pkey *k)
{
    for (unsigned i = 0; i < TCX_SIGNER_SLOTS; i++)
        signer_free(atomic_exchange(&k->signers[i], NULL));
}

/* RFC 8017 §9.2 step 3 (no digest: tLen <= emLen - 11), or the digest's size. */
static tcrypto_rc pkcs1_input_check(const tcrypto_pkey *k, const tcrypto_sig_params *p,
                                    size_t inlen)
{
    if (p->md == TCRYPTO_MD_NONE)
        return inlen > k->bytes - 11 ? TCRYPTO_ERR_INPUT : TCRYPTO_OK;
    if (tcx_md(p->md) == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    return inlen != tcrypto_md_size(p->md) ? TCRYPTO_ERR_INPUT : TCRYPTO_OK;
}

/* ECDSA, EdDSA or RSA PKCS#1 v1.5 with a kept context; need is the
 * signature's size, which *siglen (checked) can hold. */
static tcrypto_rc sign_kept(const tcrypto_pkey *k, const tcrypto_sig_params *p,
                            const uint8_t *in, size_t inlen, uint8_t *sig, size_t *siglen,
                            size_t need)
{
    static const uint8_t empty;
    uint8_t der[ECDSA_MAX_DER];
    tcrypto_rc rc = TCRYPTO_OK;
    if (p->scheme == TCRYPTO_SIG_RSA_PKCS1 && (rc = pkcs1_input_check(k, p, inlen)) != TCRYPTO_OK)
        return rc;
    struct tcx_signer *s = signer_take(k, p);
    if (s == NULL)
        return TCRYPTO_ERR_NOMEM;
    size_t len = need;
    if (p->scheme == TCRYPTO_SIG_EDDSA) {
        if (EVP_DigestSign(s->mctx, sig, &len, inlen != 0 ? in : &empty, inlen) != 1)
            rc = TCRYPTO_ERR_INTERNAL;
    } else if (p->scheme == TCRYPTO_SIG_ECDSA) {
        /* No digest set: `in` is the hash, truncated per FIPS 186-5 §6.4.1. */
        size_t dlen = sizeof(der);
        if (EVP_PKEY_sign(s->pctx, der, &dlen, in, inlen) != 1 ||
            tcrypto_ecdsa_sig_from_der(der, dlen, k->bytes, sig, &len) != TCRYPTO_OK)
            rc = TCRYPTO_ERR_INTERNAL;
    } else if (EVP_PKEY_sign(s->pctx, sig, &len, in, inlen) != 1 || len != need) {
        /* RSA writes the signature only once it is complete. */
        rc = TCRYPTO_ERR_INTERNAL;
    }
    signer_give(k, s, rc == TCRYPTO_OK);
    if (rc == TCRYPTO_OK)
        *siglen = len;
    return rc;
}

tcrypto_rc tcrypto_sign(const tcrypto_pkey *k, const tcrypto_sig_params *p, const uint8_t *in,
                        size_t inlen, uint8_t *sig, size_t *siglen)
{
    size_t need = 0;
    tcrypto_rc rc = check_common(k, p, in, inlen, &need);
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t block[RSA_MAX_BYTES];
    if (rc != TCRYPTO_OK)
        return rc;
    if (siglen == NULL)
        return TCRYPTO_ERR_ARG;
    if (!k->priv)
        return TCRYPTO_ERR_KEY;
    if (tcx_out_precheck(sig, siglen, need, &rc))
        return rc;
    if (signer_fits(p))
        return sign_kept(k, p, in, inlen, sig, siglen, need);
    ctx = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pk, NULL);
    if (ctx == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (EVP_PKEY_sign_init(ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    const uint8_t *tbs;
    size_t tbslen;
    rc = rsa_setup(ctx, k, p, in, inlen, block, &tbs, &tbslen);
    if (rc != TCRYPTO_OK)
        goto done;
    /* RSA writes the signature only once it is complete. */
    size_t len = need;
    if (EVP_PKEY_sign(ctx, sig, &len, tbs, tbslen) != 1 || len != need) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    *siglen = len;
done:
    if (p->scheme == TCRYPTO_SIG_RSA_RAW)
        OPENSSL_cleanse(block, sizeof(block));
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

tcrypto_rc tcrypto_verify(const tcrypto_pkey *k, const tcrypto_sig_params *p,
                          const uint8_t *in, size_t inlen, const uint8_t *sig, size_t siglen)
{
    size_t need = 0;
    tcrypto_rc rc = check_common(k, p, in, inlen, &need);
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t block[RSA_MAX_BYTES];
    uint8_t der[ECDSA_MAX_DER];
    if (rc != TCRYPTO_OK)
        return rc;
    if (sig == NULL && siglen != 0)
        return TCRYPTO_ERR_ARG;
    if (siglen != need)
        return TCRYPTO_ERR_VERIFY;
    if (p->scheme == TCRYPTO_SIG_EDDSA)
        return eddsa_verify(k, in, inlen, sig, siglen);
    ctx = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pk, NULL);
    if (ctx == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (EVP_PKEY_verify_init(ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    if (p->scheme == TCRYPTO_SIG_ECDSA) {
        /* FIPS 186-5 §6.4.2 step 1: r and s in [1, n-1]. Zero is refused
         * here; OpenSSL refuses values >= n. */
        if (all_zero(sig, k->bytes) || all_zero(sig + k->bytes, k->bytes)) {
            rc = TCRYPTO_ERR_VERIFY;
            goto done;
        }
        size_t dlen = sizeof(der);
        if (tcrypto_ecdsa_sig_to_der(sig, siglen, der, &dlen) != TCRYPTO_OK) {
            rc = TCRYPTO_ERR_INTERNAL;
            goto done;
        }
        if (EVP_PKEY_verify(ctx, der, dlen, in, inlen) != 1)
            rc = TCRYPTO_ERR_VERIFY;
        goto done;
    }
    const uint8_t *tbs;
    size_t tbslen;
    rc = rsa_setup(ctx, k, p, in, inlen, block, &tbs, &tbslen);
    if (rc == TCRYPTO_ERR_INPUT) {
        rc = TCRYPTO_ERR_VERIFY; /* no valid signature exists for such input */
        goto done;
    }
    if (rc != TCRYPTO_OK)
        goto done;
    if (EVP_PKEY_verify(ctx, sig, siglen, tbs, tbslen) != 1)
        rc = TCRYPTO_ERR_VERIFY;
done:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
