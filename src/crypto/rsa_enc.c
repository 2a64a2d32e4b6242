/*
 * RSA encryption: RSAES-PKCS1-v1_5 and RSAES-OAEP (RFC 8017 §7) and raw RSA
 * (X.509 mode, PKCS#11 3.0 §2.1.8).
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "crypto/crypto_int.h"

/* Largest message for k and p (RFC 8017 §7.1.1 / §7.2.1), 0 if none. */
static tcrypto_rc max_plain(const tcrypto_pkey *k, const tcrypto_rsa_enc_params *p,
                            size_t *max)
{
    switch (p->pad) {
    case TCRYPTO_RSA_PAD_PKCS1:
        *max = k->bytes - 11;
        return TCRYPTO_OK;
    case TCRYPTO_RSA_PAD_NONE:
        *max = k->bytes;
        return TCRYPTO_OK;
    case TCRYPTO_RSA_PAD_OAEP: {
        if (tcx_md(p->md) == NULL)
            return p->md == TCRYPTO_MD_NONE ? TCRYPTO_ERR_ARG : TCRYPTO_ERR_UNSUPPORTED;
        if (p->mgf1_md != TCRYPTO_MD_NONE && tcx_md(p->mgf1_md) == NULL)
            return TCRYPTO_ERR_UNSUPPORTED;
        size_t h = tcrypto_md_size(p->md);
        if (k->bytes < 2 * h + 2)
            return TCRYPTO_ERR_KEY; /* modulus too short for this hash */
        *max = k->bytes - 2 * h - 2;
        return TCRYPTO_OK;
    }
    }
    return TCRYPTO_ERR_ARG;
}

static tcrypto_rc setup(EVP_PKEY_CTX *ctx, const tcrypto_rsa_enc_params *p)
{
    int pad = p->pad == TCRYPTO_RSA_PAD_PKCS1  ? RSA_PKCS1_PADDING
              : p->pad == TCRYPTO_RSA_PAD_OAEP ? RSA_PKCS1_OAEP_PADDING
                                               : RSA_NO_PADDING;
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, pad) != 1)
        return TCRYPTO_ERR_INTERNAL;
    if (p->pad == TCRYPTO_RSA_PAD_PKCS1) {
        /* OpenSSL >= 3.2 answers a bad v1.5 padding with a synthetic
         * plaintext ("implicit rejection"); this interface promises
         * TCRYPTO_ERR_DECRYPT instead (PKCS#11 CKR_ENCRYPTED_DATA_INVALID),
         * so ask for explicit rejection. Providers without the parameter
         * (3.0) ignore it. */
        unsigned int implicit = 0;
        OSSL_PARAM params[2] = {
            OSSL_PARAM_construct_uint("implicit-rejection", &implicit),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_PKEY_CTX_set_params(ctx, params) != 1)
            return TCRYPTO_ERR_INTERNAL;
    }
    if (p->pad != TCRYPTO_RSA_PAD_OAEP)
        return TCRYPTO_OK;
    const EVP_MD *md = tcx_md(p->md);
    const EVP_MD *mgf = p->mgf1_md == TCRYPTO_MD_NONE ? md : tcx_md(p->mgf1_md);
    if (EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) != 1)
        return TCRYPTO_ERR_INTERNAL;
    if (p->label_len > 0) {
        /* OpenSSL takes ownership of the label buffer. */
        void *label = OPENSSL_memdup(p->label, p->label_len);
        if (label == NULL)
            return TCRYPTO_ERR_NOMEM;
        if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, (int)p->label_len) != 1) {
            OPENSSL_free(label);
            return TCRYPTO_ERR_INTERNAL;
        }
    }
    return TCRYPTO_OK;
}

static tcrypto_rc check(const tcrypto_pkey *k, const tcrypto_rsa_enc_params *p,
                        const uint8_t *in, size_t inlen, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (k == NULL || p == NULL || outlen == NULL || (in == NULL && inlen != 0) ||
        (p->label == NULL && p->label_len != 0) || p->label_len > (1u << 20))
        return TCRYPTO_ERR_ARG;
    if (k->type != TCRYPTO_KEY_RSA)
        return TCRYPTO_ERR_KEY;
    return TCRYPTO_OK;
}

/* Compare big-endian m (k bytes) with the modulus: raw RSA needs m < n. */
static tcrypto_rc below_n(const tcrypto_pkey *k, const uint8_t *m)
{
    BIGNUM *n = NULL, *x = NULL;
    tcrypto_rc rc = TCRYPTO_OK;
    if (EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1)
        rc = TCRYPTO_ERR_INTERNAL;
    else if ((x = BN_bin2bn(m, (int)k->bytes, NULL)) == NULL)
        rc = TCRYPTO_ERR_NOMEM;
    else if (BN_ucmp(x, n) >= 0)
        rc = TCRYPTO_ERR_INPUT;
    BN_free(n);
    BN_clear_free(x);
    return rc;
}

tcrypto_rc tcrypto_rsa_encrypt(const tcrypto_pkey *k, const tcrypto_rsa_enc_params *p,
                               const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = check(k, p, in, inlen, outlen);
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *block = NULL;
    size_t max = 0;
    if (rc != TCRYPTO_OK)
        return rc;
    rc = max_plain(k, p, &max);
    if (rc != TCRYPTO_OK)
        return rc;
    if (inlen > max)
        return TCRYPTO_ERR_INPUT;
    if (tcx_out_precheck(out, outlen, k->bytes, &rc))
        return rc;
    static const uint8_t empty;
    const uint8_t *src = inlen ? in : &empty;
    size_t srclen = inlen;
    if (p->pad == TCRYPTO_RSA_PAD_NONE) {
        /* Left-pad with zeros to k bytes; the value must be below n. */
        block = tcrypto_secure_alloc(k->bytes);
        if (block == NULL)
            return TCRYPTO_ERR_NOMEM;
        if (inlen > 0)
            memcpy(block + (k->bytes - inlen), in, inlen);
        rc = below_n(k, block);
        if (rc != TCRYPTO_OK)
            goto done;
        src = block;
        srclen = k->bytes;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pk, NULL);
    if (ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_PKEY_encrypt_init(ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    rc = setup(ctx, p);
    if (rc != TCRYPTO_OK)
        goto done;
    size_t len = k->bytes;
    if (EVP_PKEY_encrypt(ctx, out, &len, src, srclen) != 1 || len != k->bytes) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    *outlen = len;
done:
    tcrypto_secure_free(block, k->bytes);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

tcrypto_rc tcrypto_rsa_decrypt(const tcrypto_pkey *k, const tcrypto_rsa_enc_params *p,
                               const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = check(k, p, in, inlen, outlen);
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *tmp = NULL;
    size_t max = 0;
    if (rc != TCRYPTO_OK)
        return rc;
    if (!k->priv)
        return TCRYPTO_ERR_KEY;
    rc = max_plain(k, p, &max);
    if (rc != TCRYPTO_OK)
        return rc;
    /* RFC 8017 §7.1.2 step 1 / §7.2.2 step 1: ciphertext is exactly k bytes. */
    if (inlen != k->bytes)
        return TCRYPTO_ERR_INPUT;
    if (out == NULL) {
        *outlen = max; /* upper bound */
        return TCRYPTO_OK;
    }
    if (p->pad == TCRYPTO_RSA_PAD_NONE) {
        rc = below_n(k, in);
        if (rc != TCRYPTO_OK)
            return rc;
    }
    tmp = tcrypto_secure_alloc(k->bytes);
    if (tmp == NULL)
        return TCRYPTO_ERR_NOMEM;
    ctx = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pk, NULL);
    if (ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_PKEY_decrypt_init(ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    rc = setup(ctx, p);
    if (rc != TCRYPTO_OK)
        goto done;
    size_t len = k->bytes;
    if (EVP_PKEY_decrypt(ctx, tmp, &len, in, inlen) != 1 || len > max) {
        /* One answer for every padding failure (RFC 8017 §7.2.2 note:
         * the causes must not be distinguishable). */
        rc = TCRYPTO_ERR_DECRYPT;
        goto done;
    }
    if (*outlen < len) {
        *outlen = len;
        rc = TCRYPTO_ERR_BUFFER;
        goto done;
    }
    if (len > 0)
        memcpy(out, tmp, len);
    *outlen = len;
done:
    tcrypto_secure_free(tmp, k->bytes);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
