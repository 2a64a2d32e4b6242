/*
 * AES: block and stream modes (NIST SP 800-38A), GCM (SP 800-38D) and key
 * wrap (RFC 3394 / RFC 5649). Triple DES (SP 800-67) and, behind the legacy
 * switch, single DES in ECB and CBC with the same block bookkeeping.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>

#include "crypto/crypto_int.h"

#define AES_BLOCK 16

struct tcrypto_cipher {
    EVP_CIPHER_CTX *ctx;
    tcrypto_cipher_mode mode;
    size_t block;
    bool enc;
    bool done;
    /* Bytes OpenSSL holds back between updates (block modes), tracked so
     * that the exact output length of each update is known beforehand. */
    size_t held;
};

static bool mode_is_block(tcrypto_cipher_mode m)
{
    return m == TCRYPTO_AES_ECB || m == TCRYPTO_AES_CBC || m == TCRYPTO_AES_CBC_PAD ||
           m == TCRYPTO_DES3_ECB || m == TCRYPTO_DES3_CBC || m == TCRYPTO_DES3_CBC_PAD ||
           m == TCRYPTO_DES_ECB || m == TCRYPTO_DES_CBC || m == TCRYPTO_DES_CBC_PAD;
}

static bool mode_is_ecb(tcrypto_cipher_mode m)
{
    return m == TCRYPTO_AES_ECB || m == TCRYPTO_DES3_ECB || m == TCRYPTO_DES_ECB;
}

static bool mode_pads(tcrypto_cipher_mode m)
{
    return m == TCRYPTO_AES_CBC_PAD || m == TCRYPTO_DES3_CBC_PAD || m == TCRYPTO_DES_CBC_PAD;
}

static bool mode_is_des(tcrypto_cipher_mode m)
{
    return m >= TCRYPTO_DES3_ECB && m <= TCRYPTO_DES_CBC_PAD;
}

size_t tcrypto_cipher_block(tcrypto_cipher_mode mode)
{
    return mode_is_des(mode) ? 8 : AES_BLOCK;
}

/* EVP_CipherUpdate takes an int length: feed large inputs in pieces. */
static bool update_chunked(EVP_CIPHER_CTX *ctx, uint8_t *out, size_t *outlen,
                           const uint8_t *in, size_t inlen)
{
    size_t total = 0;
    const size_t step = (size_t)1 << 30;
    while (inlen > 0) {
        int chunk = (int)(inlen > step ? step : inlen);
        int n = 0;
        if (EVP_CipherUpdate(ctx, out ? out + total : NULL, &n, in, chunk) != 1 || n < 0)
            return false;
        total += (size_t)n;
        in += chunk;
        inlen -= (size_t)chunk;
    }
    if (outlen)
        *outlen = total;
    return true;
}

tcrypto_rc tcrypto_cipher_new(tcrypto_cipher_mode mode, bool encrypt, const void *key,
                              size_t keylen, const void *iv, size_t ivlen,
                              tcrypto_cipher **out)
{
    tcrypto_rc rc = tcx_ready();
    tcrypto_cipher *c = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL || key == NULL)
        return TCRYPTO_ERR_ARG;
    tcx_aes_kind kind = TCX_AES_ECB;
    switch (mode) {
    case TCRYPTO_AES_ECB: kind = TCX_AES_ECB; break;
    case TCRYPTO_AES_CBC: case TCRYPTO_AES_CBC_PAD: kind = TCX_AES_CBC; break;
    case TCRYPTO_AES_CTR: kind = TCX_AES_CTR; break;
    case TCRYPTO_AES_CFB: kind = TCX_AES_CFB; break;
    case TCRYPTO_AES_OFB: kind = TCX_AES_OFB; break;
    case TCRYPTO_DES3_ECB: case TCRYPTO_DES3_CBC: case TCRYPTO_DES3_CBC_PAD:
    case TCRYPTO_DES_ECB: case TCRYPTO_DES_CBC: case TCRYPTO_DES_CBC_PAD: break;
    default: return TCRYPTO_ERR_UNSUPPORTED;
    }
    size_t block = tcrypto_cipher_block(mode);
    if (mode_is_ecb(mode)) {
        if (ivlen != 0)
            return TCRYPTO_ERR_ARG;
    } else if (iv == NULL || ivlen != block) {
        return TCRYPTO_ERR_ARG;
    }
    const EVP_CIPHER *alg;
    if (mode_is_des(mode)) {
        bool single = mode >= TCRYPTO_DES_ECB;
        if (single ? keylen != 8 : (keylen != 16 && keylen != 24))
            return TCRYPTO_ERR_KEY;
        alg = tcx_des(!mode_is_ecb(mode), keylen);
        if (alg == NULL) /* single DES without the legacy provider */
            return TCRYPTO_ERR_UNSUPPORTED;
    } else {
        alg = tcx_aes(kind, keylen);
    }
    if (alg == NULL)
        return TCRYPTO_ERR_KEY;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return TCRYPTO_ERR_NOMEM;
    c->mode = mode;
    c->block = block;
    c->enc = encrypt;
    c->ctx = EVP_CIPHER_CTX_new();
    if (c->ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_CipherInit_ex2(c->ctx, alg, key, mode_is_ecb(mode) ? NULL : iv,
                           encrypt ? 1 : 0, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(c->ctx, mode_pads(mode)) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    *out = c;
    c = NULL;
done:
    tcrypto_cipher_free(c);
    return rc;
}

/* Output of an update over inlen more bytes, and the bytes held after it.
 * With padding, decryption keeps the last full block back in case it is the
 * final (padded) one (what EVP_DecryptUpdate does). */
static size_t update_out_len(const tcrypto_cipher *c, size_t inlen, size_t *held_after)
{
    if (!mode_is_block(c->mode)) {
        *held_after = 0;
        return inlen;
    }
    size_t n = c->held + inlen;
    size_t rem = n % c->block;
    if (!c->enc && mode_pads(c->mode) && rem == 0 && n > 0) {
        *held_after = c->block;
        return n - c->block;
    }
    *held_after = rem;
    return n - rem;
}

tcrypto_rc tcrypto_cipher_update(tcrypto_cipher *c, const void *in, size_t inlen, uint8_t *out,
                                 size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (c == NULL || c->done || outlen == NULL || (in == NULL && inlen != 0))
        return TCRYPTO_ERR_ARG;
    if (inlen > SIZE_MAX - AES_BLOCK)
        return TCRYPTO_ERR_INPUT;
    size_t held_after = 0;
    size_t need = update_out_len(c, inlen, &held_after);
    if (tcx_out_precheck(out, outlen, need, &rc))
        return rc;
    size_t got = 0;
    if (inlen > 0 && !update_chunked(c->ctx, out, &got, in, inlen))
        return TCRYPTO_ERR_INTERNAL;
    if (got != need)
        return TCRYPTO_ERR_INTERNAL;
    c->held = held_after;
    *outlen = got;
    return TCRYPTO_OK;
}

tcrypto_rc tcrypto_cipher_final(tcrypto_cipher *c, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    uint8_t tmp[AES_BLOCK];
    int n = 0;
    if (rc != TCRYPTO_OK)
        return rc;
    if (c == NULL || c->done || outlen == NULL)
        return TCRYPTO_ERR_ARG;
    if (!mode_is_block(c->mode)) {
        if (tcx_out_precheck(out, outlen, 0, &rc))
            return rc;
        c->done = true;
        *outlen = 0;
        return TCRYPTO_OK;
    }
    bool pads = mode_pads(c->mode);
    if (!pads || !c->enc) {
        /* Unpadded modes need whole blocks; padded decryption needs at least
         * one whole block and nothing more (PKCS#7, RFC 5652 §6.3). */
        size_t want = pads ? c->block : 0;
        if (c->held != want)
            return TCRYPTO_ERR_INPUT;
    }
    if (!pads) {
        if (tcx_out_precheck(out, outlen, 0, &rc))
            return rc;
        if (EVP_CipherFinal_ex(c->ctx, tmp, &n) != 1 || n != 0)
            return TCRYPTO_ERR_INTERNAL;
        c->done = true;
        *outlen = 0;
        return TCRYPTO_OK;
    }
    if (c->enc) {
        if (tcx_out_precheck(out, outlen, c->block, &rc))
            return rc;
        if (EVP_CipherFinal_ex(c->ctx, out, &n) != 1 || (size_t)n != c->block)
            return TCRYPTO_ERR_INTERNAL;
        c->done = true;
        *outlen = (size_t)n;
        return TCRYPTO_OK;
    }
    /* Padded decryption: the length is only known after unpadding, so the
     * final block is unpadded on a copy of the context; the real context is
     * finished only once the caller's buffer is known to be large enough. */
    EVP_CIPHER_CTX *copy = EVP_CIPHER_CTX_new();
    if (copy == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (EVP_CIPHER_CTX_copy(copy, c->ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    if (EVP_CipherFinal_ex(copy, tmp, &n) != 1 || n < 0 || (size_t)n >= c->block) {
        rc = TCRYPTO_ERR_DECRYPT;
        goto done;
    }
    if (tcx_out_precheck(out, outlen, (size_t)n, &rc))
        goto done;
    memcpy(out, tmp, (size_t)n);
    *outlen = (size_t)n;
    c->done = true;
done:
    OPENSSL_cleanse(tmp, sizeof(tmp));
    EVP_CIPHER_CTX_free(copy);
    return rc;
}

tcrypto_rc tcrypto_cipher_get_iv(const tcrypto_cipher *c, uint8_t *iv, size_t ivlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (c == NULL || iv == NULL || ivlen != c->block || mode_is_ecb(c->mode))
        return TCRYPTO_ERR_ARG;
    if (EVP_CIPHER_CTX_get_updated_iv(c->ctx, iv, ivlen) != 1)
        return TCRYPTO_ERR_INTERNAL;
    return TCRYPTO_OK;
}

void tcrypto_cipher_free(tcrypto_cipher *c)
{
    if (c == NULL)
        return;
    EVP_CIPHER_CTX_free(c->ctx); /* cleanses the key schedule */
    free(c);
}

/* ---- GCM ------------------------------------------------------------------ */

static tcrypto_rc gcm_check(size_t keylen, const void *iv, size_t ivlen, const void *aad,
                            size_t aadlen, const void *in, size_t inlen, const void *out,
                            const void *tag, size_t taglen)
{
    if (iv == NULL || ivlen == 0 || ivlen > INT_MAX || tag == NULL)
        return TCRYPTO_ERR_ARG;
    if ((aad == NULL && aadlen != 0) || (in == NULL && inlen != 0) ||
        (out == NULL && inlen != 0))
        return TCRYPTO_ERR_ARG;
    /* SP 800-38D §5.2.1.2: tags of 4..16 bytes (the header's contract). */
    if (taglen < 4 || taglen > 16)
        return TCRYPTO_ERR_ARG;
    /* SP 800-38D §5.2.1.1: plaintext at most 2^39 - 256 bits. */
    if (inlen > (((uint64_t)1 << 36) - 32))
        return TCRYPTO_ERR_INPUT;
    if (tcx_aes(TCX_AES_GCM, keylen) == NULL)
        return TCRYPTO_ERR_KEY;
    return TCRYPTO_OK;
}

/* SP 800-38D §8.2.1: 96-bit IVs are the default length of OpenSSL's GCM,
 * which then needs no separate IV-length step. */
#define GCM_DEFAULT_IVLEN 12
/* Decryption output up to this size is staged on the stack. */
#define GCM_STACK_SCRATCH 4096

/* Set direction, key (NULL: keep the context's) and IV on ctx, whose IV
 * length is currently *cur_ivlen (updated). One init call for the common
 * 96-bit IV; any other length must be set before the IV itself. */
static bool gcm_start(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *alg, bool enc, const void *key,
                      const void *iv, size_t ivlen, size_t *cur_ivlen)
{
    if (ivlen == *cur_ivlen)
        return EVP_CipherInit_ex2(ctx, alg, key, iv, enc, NULL) == 1;
    if (EVP_CipherInit_ex2(ctx, alg, key, NULL, enc, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)ivlen, NULL) != 1)
        return false;
    *cur_ivlen = ivlen;
    return EVP_CipherInit_ex2(ctx, NULL, NULL, iv, enc, NULL) == 1;
}

/* AAD, plaintext, tag on a started encryption context. */
static tcrypto_rc gcm_seal(EVP_CIPHER_CTX *ctx, const void *aad, size_t aadlen, const void *in,
                           size_t inlen, uint8_t *out, uint8_t *tag, size_t taglen)
{
    uint8_t fin[AES_BLOCK];
    size_t got = 0;
    int n = 0;
    if ((aadlen > 0 && !update_chunked(ctx, NULL, NULL, aad, aadlen)) ||
        (inlen > 0 && !update_chunked(ctx, out, &got, in, inlen)) || got != inlen ||
        EVP_CipherFinal_ex(ctx, fin, &n) != 1 || n != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)taglen, tag) != 1)
        return TCRYPTO_ERR_INTERNAL;
    return TCRYPTO_OK;
}

/* AAD, ciphertext, tag check on a started decryption context. The
 * plaintext is released only after the tag checks: it goes to a scratch
 * buffer and is copied out on success. */
static tcrypto_rc gcm_open(EVP_CIPHER_CTX *ctx, const void *aad, size_t aadlen, const void *in,
                           size_t inlen, const uint8_t *tag, size_t taglen, uint8_t *out)
{
    tcrypto_rc rc = TCRYPTO_OK;
    uint8_t stack[GCM_STACK_SCRATCH];
    uint8_t *tmp = stack;
    uint8_t fin[AES_BLOCK];
    uint8_t t[16];
    size_t got = 0;
    int n = 0;
    if (inlen > sizeof(stack)) {
        tmp = malloc(inlen);
        if (tmp == NULL)
            return TCRYPTO_ERR_NOMEM;
    }
    memcpy(t, tag, taglen); /* SET_TAG takes a non-const pointer */
    if ((aadlen > 0 && !update_chunked(ctx, NULL, NULL, aad, aadlen)) ||
        (inlen > 0 && !update_chunked(ctx, tmp, &got, in, inlen)) || got != inlen ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)taglen, t) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    if (EVP_CipherFinal_ex(ctx, fin, &n) != 1 || n != 0) {
        rc = TCRYPTO_ERR_DECRYPT;
        goto done;
    }
    if (inlen > 0)
        memcpy(out, tmp, inlen);
done:
    OPENSSL_cleanse(tmp, inlen);
    if (tmp != stack)
        free(tmp);
    return rc;
}

tcrypto_rc tcrypto_gcm_encrypt(const void *key, size_t keylen, const void *iv, size_t ivlen,
                               const void *aad, size_t aadlen, const void *in, size_t inlen,
                               uint8_t *out, uint8_t *tag, size_t taglen)
{
    tcrypto_rc rc = tcx_ready();
    EVP_CIPHER_CTX *ctx = NULL;
    size_t cur = GCM_DEFAULT_IVLEN;
    if (rc != TCRYPTO_OK)
        return rc;
    if (key == NULL)
        return TCRYPTO_ERR_ARG;
    rc = gcm_check(keylen, iv, ivlen, aad, aadlen, in, inlen, out, tag, taglen);
    if (rc != TCRYPTO_OK)
        return rc;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (!gcm_start(ctx, tcx_aes(TCX_AES_GCM, keylen), true, key, iv, ivlen, &cur))
        rc = TCRYPTO_ERR_INTERNAL;
    else
        rc = gcm_seal(ctx, aad, aadlen, in, inlen, out, tag, taglen);
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return rc;
}

tcrypto_rc tcrypto_gcm_decrypt(const void *key, size_t keylen, const void *iv, size_t ivlen,
                               const void *aad, size_t aadlen, const void *in, size_t inlen,
                               const uint8_t *tag, size_t taglen, uint8_t *out)
{
    tcrypto_rc rc = tcx_ready();
    EVP_CIPHER_CTX *ctx = NULL;
    size_t cur = GCM_DEFAULT_IVLEN;
    if (rc != TCRYPTO_OK)
        return rc;
    if (key == NULL)
        return TCRYPTO_ERR_ARG;
    rc = gcm_check(keylen, iv, ivlen, aad, aadlen, in, inlen, out, tag, taglen);
    if (rc != TCRYPTO_OK)
        return rc;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (!gcm_start(ctx, tcx_aes(TCX_AES_GCM, keylen), false, key, iv, ivlen, &cur))
        rc = TCRYPTO_ERR_INTERNAL;
    else
        rc = gcm_open(ctx, aad, aadlen, in, inlen, tag, taglen, out);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* ---- keyed GCM context ---------------------------------------------------- */

struct tcrypto_gcm {
    EVP_CIPHER_CTX *ctx; /* holds the key schedule; IV and direction per call */
    size_t keylen;
    size_t ivlen;        /* the context's current IV length */
};

tcrypto_rc tcrypto_gcm_new(const void *key, size_t keylen, tcrypto_gcm **out)
{
    tcrypto_rc rc = tcx_ready();
    tcrypto_gcm *g = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (key == NULL || out == NULL)
        return TCRYPTO_ERR_ARG;
    const EVP_CIPHER *alg = tcx_aes(TCX_AES_GCM, keylen);
    if (alg == NULL)
        return TCRYPTO_ERR_KEY;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return TCRYPTO_ERR_NOMEM;
    g->keylen = keylen;
    g->ivlen = GCM_DEFAULT_IVLEN;
    g->ctx = EVP_CIPHER_CTX_new();
    if (g->ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_CipherInit_ex2(g->ctx, alg, key, NULL, 1, NULL) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    *out = g;
    g = NULL;
done:
    tcrypto_gcm_free(g);
    return rc;
}

tcrypto_rc tcrypto_gcm_seal(tcrypto_gcm *g, const void *iv, size_t ivlen, const void *aad,
                            size_t aadlen, const void *in, size_t inlen, uint8_t *out,
                            uint8_t *tag, size_t taglen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (g == NULL)
        return TCRYPTO_ERR_ARG;
    rc = gcm_check(g->keylen, iv, ivlen, aad, aadlen, in, inlen, out, tag, taglen);
    if (rc != TCRYPTO_OK)
        return rc;
    if (!gcm_start(g->ctx, NULL, true, NULL, iv, ivlen, &g->ivlen))
        return TCRYPTO_ERR_INTERNAL;
    return gcm_seal(g->ctx, aad, aadlen, in, inlen, out, tag, taglen);
}

tcrypto_rc tcrypto_gcm_open(tcrypto_gcm *g, const void *iv, size_t ivlen, const void *aad,
                            size_t aadlen, const void *in, size_t inlen, const uint8_t *tag,
                            size_t taglen, uint8_t *out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (g == NULL)
        return TCRYPTO_ERR_ARG;
    rc = gcm_check(g->keylen, iv, ivlen, aad, aadlen, in, inlen, out, tag, taglen);
    if (rc != TCRYPTO_OK)
        return rc;
    if (!gcm_start(g->ctx, NULL, false, NULL, iv, ivlen, &g->ivlen))
        return TCRYPTO_ERR_INTERNAL;
    return gcm_open(g->ctx, aad, aadlen, in, inlen, tag, taglen, out);
}

void tcrypto_gcm_free(tcrypto_gcm *g)
{
    if (g == NULL)
        return;
    EVP_CIPHER_CTX_free(g->ctx); /* cleanses the key schedule */
    free(g);
}

/* ---- key wrap --------------------------------------------------------------- */

static tcrypto_rc wrap_run(bool pad, bool enc, const void *kek, size_t keklen,
                           const uint8_t *in, size_t inlen, uint8_t *out, size_t *got)
{
    const EVP_CIPHER *alg = tcx_aes(pad ? TCX_AES_WRAP_PAD : TCX_AES_WRAP, keklen);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    tcrypto_rc rc = TCRYPTO_OK;
    uint8_t fin[AES_BLOCK];
    int n = 0, m = 0;
    if (ctx == NULL)
        return TCRYPTO_ERR_NOMEM;
    /* OpenSSL refuses wrap modes unless the caller opts in. */
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex2(ctx, alg, kek, NULL, enc ? 1 : 0, NULL) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    if (EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1 || n <= 0 ||
        EVP_CipherFinal_ex(ctx, fin, &m) != 1 || m != 0) {
        /* For unwrap the only expected failure is the integrity check
         * (RFC 3394 §2.2.3, RFC 5649 §3). */
        rc = enc ? TCRYPTO_ERR_INTERNAL : TCRYPTO_ERR_DECRYPT;
        goto done;
    }
    *got = (size_t)n;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* Inputs above this are not keys; also keeps lengths inside int. */
#define WRAP_MAX_INPUT (1u << 24)

tcrypto_rc tcrypto_aes_wrap(bool pad, const void *kek, size_t keklen, const void *in,
                            size_t inlen, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (kek == NULL || outlen == NULL || (in == NULL && inlen != 0))
        return TCRYPTO_ERR_ARG;
    if (tcx_aes(TCX_AES_WRAP, keklen) == NULL)
        return TCRYPTO_ERR_KEY;
    if (inlen > WRAP_MAX_INPUT)
        return TCRYPTO_ERR_INPUT;
    size_t need;
    if (pad) {
        if (inlen == 0) /* RFC 5649 §4.1: 1 <= MLI */
            return TCRYPTO_ERR_INPUT;
        need = (inlen + 7) / 8 * 8 + 8;
    } else {
        if (inlen < 16 || inlen % 8 != 0) /* RFC 3394 §2: n >= 2 blocks */
            return TCRYPTO_ERR_INPUT;
        need = inlen + 8;
    }
    if (tcx_out_precheck(out, outlen, need, &rc))
        return rc;
    size_t got = 0;
    rc = wrap_run(pad, true, kek, keklen, in, inlen, out, &got);
    if (rc == TCRYPTO_OK && got != need)
        rc = TCRYPTO_ERR_INTERNAL;
    if (rc == TCRYPTO_OK)
        *outlen = got;
    return rc;
}

tcrypto_rc tcrypto_aes_unwrap(bool pad, const void *kek, size_t keklen, const void *in,
                              size_t inlen, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    uint8_t *tmp = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (kek == NULL || outlen == NULL || in == NULL)
        return TCRYPTO_ERR_ARG;
    if (tcx_aes(TCX_AES_WRAP, keklen) == NULL)
        return TCRYPTO_ERR_KEY;
    if (inlen > WRAP_MAX_INPUT + 16 || inlen % 8 != 0 || inlen < (pad ? 16u : 24u))
        return TCRYPTO_ERR_INPUT;
    size_t bound = inlen - 8;
    if (out == NULL) {
        *outlen = bound;
        return TCRYPTO_OK;
    }
    /* The unwrapped key is released only after the integrity check. */
    tmp = tcrypto_secure_alloc(inlen + AES_BLOCK);
    if (tmp == NULL)
        return TCRYPTO_ERR_NOMEM;
    size_t got = 0;
    rc = wrap_run(pad, false, kek, keklen, in, inlen, tmp, &got);
    if (rc != TCRYPTO_OK)
        goto done;
    if (got > bound) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    if (*outlen < got) {
        *outlen = got;
        rc = TCRYPTO_ERR_BUFFER;
        goto done;
    }
    memcpy(out, tmp, got);
    *outlen = got;
done:
    tcrypto_secure_free(tmp, inlen + AES_BLOCK);
    return rc;
}
