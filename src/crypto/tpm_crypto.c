/*
 * The TPM-specific half of the crypto layer (see tcrypto_tpm.h): KDFa/KDFe,
 * AES modes with the TPM's chaining, deterministic key generation from a
 * stream, keys from the TPM's marshalled form (an RSA key from n and one
 * prime, an ECC key from x, y, d), ECC domain parameters and the ECDH point.
 * Hashing, HMAC, random numbers, signatures, RSA encryption and ECDH run
 * through the layer's generic API (tcrypto.h); this file only maps TPM
 * algorithm identifiers and formats onto it. Like the rest of the layer it
 * works only in the private library context (tcx_libctx) and refuses to run
 * once the module is in its error state (tcx_ready).
 *
 * The one exception is the saveable hash sequence: OpenSSL 3.0's EVP
 * interface cannot export a running digest, which a saved sequence context
 * must carry (Part 1 §30), so those sequences run on OpenSSL's SHA-1/SHA-2
 * context structures (<openssl/sha.h>, deprecated in 3.0 but the same
 * block functions the default provider uses), whose fields are exported
 * and imported below.
 */
/* SHA1_Init and friends are deprecated in OpenSSL 3.0; see above. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "crypto/crypto_int.h"
#include "crypto/tcrypto_tpm.h"

/* A saveable sequence: the SHA state, and for HMAC the outer pad
 * (RFC 2104 §2: HMAC = H((K0 ^ opad) || H((K0 ^ ipad) || text))). */
typedef struct {
    uint16_t alg;
    bool hmac;
    union {
        SHA_CTX s1;
        SHA256_CTX s256;
        SHA512_CTX s512;
    } c;
    uint8_t opad[128];
} tpm_seq;

struct tcrypto_tpm_md {
    tcrypto_digest *md;
    tcrypto_mac *mac;
    tpm_seq *seq; /* secure heap */
};

/* TPM_ALG_ID of a hash (Part 2 §6.3) to the layer's digest. */
static tcrypto_md md_of(uint16_t alg)
{
    switch (alg) {
    case 0x0004: return TCRYPTO_MD_SHA1;
    case 0x000B: return TCRYPTO_MD_SHA256;
    case 0x000C: return TCRYPTO_MD_SHA384;
    case 0x000D: return TCRYPTO_MD_SHA512;
    default: return TCRYPTO_MD_NONE;
    }
}

tcrypto_curve tcx_tpm_curve(uint16_t curve)
{
    switch (curve) {
    case 0x0003: return TCRYPTO_CURVE_P256;
    case 0x0004: return TCRYPTO_CURVE_P384;
    case 0x0005: return TCRYPTO_CURVE_P521;
    default: return TCRYPTO_CURVE_NONE;
    }
}

size_t tcrypto_tpm_hash_size(uint16_t alg)
{
    return tcrypto_md_size(md_of(alg));
}

tcrypto_rc tcrypto_tpm_hash(uint16_t alg, const tcrypto_tpm_iov *v, size_t nv, uint8_t *out)
{
    tcrypto_tpm_md *m = NULL;
    tcrypto_rc rc = tcrypto_tpm_md_new(alg, NULL, 0, &m);
    for (size_t i = 0; rc == TCRYPTO_OK && i < nv; i++)
        rc = tcrypto_tpm_md_update(m, v[i].p, v[i].n);
    if (rc == TCRYPTO_OK)
        rc = tcrypto_tpm_md_final(m, out);
    tcrypto_tpm_md_free(m);
    return rc;
}

tcrypto_rc tcrypto_tpm_hmac(uint16_t alg, const void *key, size_t keylen,
                            const tcrypto_tpm_iov *v, size_t nv, uint8_t *out)
{
    static const uint8_t empty;
    tcrypto_tpm_md *m = NULL;
    /* An empty authValue is a legal HMAC key. */
    tcrypto_rc rc = tcrypto_tpm_md_new(alg, keylen ? key : &empty, keylen, &m);
    for (size_t i = 0; rc == TCRYPTO_OK && i < nv; i++)
        rc = tcrypto_tpm_md_update(m, v[i].p, v[i].n);
    if (rc == TCRYPTO_OK)
        rc = tcrypto_tpm_md_final(m, out);
    tcrypto_tpm_md_free(m);
    return rc;
}

tcrypto_rc tcrypto_tpm_md_new(uint16_t alg, const void *key, size_t keylen, tcrypto_tpm_md **out)
{
    tcrypto_md md = md_of(alg);
    if (md == TCRYPTO_MD_NONE)
        return TCRYPTO_ERR_UNSUPPORTED;
    tcrypto_tpm_md *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return TCRYPTO_ERR_NOMEM;
    tcrypto_rc rc = key != NULL ? tcrypto_hmac_new(md, key, keylen, &m->mac)
                                : tcrypto_digest_new(md, &m->md);
    if (rc != TCRYPTO_OK) {
        tcrypto_tpm_md_free(m);
        return rc;
    }
    *out = m;
    return TCRYPTO_OK;
}

/* ---- saveable sequences ----------------------------------------------- */

static size_t seq_block(uint16_t alg)
{
    return alg == 0x000C || alg == 0x000D ? 128 : 64;
}

static bool seq_init(tpm_seq *s)
{
    switch (s->alg) {
    case 0x0004: return SHA1_Init(&s->c.s1) == 1;
    case 0x000B: return SHA256_Init(&s->c.s256) == 1;
    case 0x000C: return SHA384_Init(&s->c.s512) == 1;
    case 0x000D: return SHA512_Init(&s->c.s512) == 1;
    default: return false;
    }
}

static bool seq_update(tpm_seq *s, const void *p, size_t n)
{
    switch (s->alg) {
    case 0x0004: return SHA1_Update(&s->c.s1, p, n) == 1;
    case 0x000B: return SHA256_Update(&s->c.s256, p, n) == 1;
    case 0x000C: return SHA384_Update(&s->c.s512, p, n) == 1;
    case 0x000D: return SHA512_Update(&s->c.s512, p, n) == 1;
    default: return false;
    }
}

static bool seq_digest(tpm_seq *s, uint8_t *out)
{
    switch (s->alg) {
    case 0x0004: return SHA1_Final(out, &s->c.s1) == 1;
    case 0x000B: return SHA256_Final(out, &s->c.s256) == 1;
    case 0x000C: return SHA384_Final(out, &s->c.s512) == 1;
    case 0x000D: return SHA512_Final(out, &s->c.s512) == 1;
    default: return false;
    }
}

static void seq_free(tpm_seq *s)
{
    if (s != NULL)
        tcrypto_secure_free(s, sizeof(*s));
}

static tcrypto_rc seq_new(uint16_t alg, const void *key, size_t keylen, tpm_seq **out)
{
    size_t bs = seq_block(alg), hs = tcrypto_tpm_hash_size(alg);
    if (hs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    tpm_seq *s = tcrypto_secure_alloc(sizeof(*s));
    if (s == NULL)
        return TCRYPTO_ERR_NOMEM;
    memset(s, 0, sizeof(*s));
    s->alg = alg;
    s->hmac = key != NULL;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    uint8_t k0[128] = { 0 }, ipad[128];
    if (!seq_init(s))
        goto out;
    if (s->hmac) {
        /* RFC 2104 §2: K0 is the key, or its digest when longer than a block */
        if (keylen > bs) {
            tcrypto_tpm_iov v = { key, keylen };
            if ((rc = tcrypto_tpm_hash(alg, &v, 1, k0)) != TCRYPTO_OK)
                goto out;
            rc = TCRYPTO_ERR_INTERNAL;
        } else if (keylen > 0) {
            memcpy(k0, key, keylen);
        }
        for (size_t i = 0; i < bs; i++) {
            ipad[i] = k0[i] ^ 0x36;
            s->opad[i] = k0[i] ^ 0x5c;
        }
        if (!seq_update(s, ipad, bs))
            goto out;
    }
    *out = s;
    s = NULL;
    rc = TCRYPTO_OK;
out:
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(ipad, sizeof(ipad));
    seq_free(s);
    return rc;
}

static tcrypto_rc seq_final(tpm_seq *s, uint8_t *out)
{
    uint8_t inner[64];
    if (!seq_digest(s, inner))
        return TCRYPTO_ERR_INTERNAL;
    bool ok = true;
    if (s->hmac) {
        ok = seq_init(s) && seq_update(s, s->opad, seq_block(s->alg)) &&
             seq_update(s, inner, tcrypto_tpm_hash_size(s->alg)) && seq_digest(s, inner);
    }
    if (ok)
        memcpy(out, inner, tcrypto_tpm_hash_size(s->alg));
    OPENSSL_cleanse(inner, sizeof(inner));
    return ok ? TCRYPTO_OK : TCRYPTO_ERR_INTERNAL;
}

tcrypto_rc tcrypto_tpm_md_new_saveable(uint16_t alg, const void *key, size_t keylen,
                                       tcrypto_tpm_md **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    static const uint8_t empty;
    tcrypto_tpm_md *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return TCRYPTO_ERR_NOMEM;
    rc = seq_new(alg, key != NULL && keylen == 0 ? &empty : key, keylen, &m->seq);
    if (rc != TCRYPTO_OK) {
        free(m);
        return rc;
    }
    *out = m;
    return TCRYPTO_OK;
}

/* Export format, version 1: u8 1, u16 alg, u8 hmac, the chaining value
 * (5 or 8 words, 32-bit for SHA-1/SHA-256, 64-bit for SHA-384/512), the
 * bit count (Nl, Nh in the same word size), u8 num and the num buffered
 * bytes, then for HMAC the outer pad (one block). All big-endian. */
static void put_word(uint8_t **p, uint64_t v, size_t w)
{
    for (size_t i = 0; i < w; i++)
        (*p)[i] = (uint8_t)(v >> (8 * (w - 1 - i)));
    *p += w;
}

static uint64_t get_word(const uint8_t **p, size_t w)
{
    uint64_t v = 0;
    for (size_t i = 0; i < w; i++)
        v = v << 8 | (*p)[i];
    *p += w;
    return v;
}

/* Words of the chaining value and their size. */
static void seq_shape(uint16_t alg, size_t *nh, size_t *w)
{
    *nh = alg == 0x0004 ? 5 : 8;
    *w = alg == 0x000C || alg == 0x000D ? 8 : 4;
}

/* Word i of the chaining value. */
static uint64_t seq_word(const tpm_seq *s, size_t i)
{
    if (s->alg == 0x0004)
        return i == 0 ? s->c.s1.h0 : i == 1 ? s->c.s1.h1 : i == 2 ? s->c.s1.h2
             : i == 3 ? s->c.s1.h3 : s->c.s1.h4;
    if (s->alg == 0x000B)
        return s->c.s256.h[i];
    return s->c.s512.h[i];
}

size_t tcrypto_tpm_md_export(const tcrypto_tpm_md *m, uint8_t *out, size_t cap)
{
    if (m == NULL || m->seq == NULL)
        return 0;
    const tpm_seq *s = m->seq;
    size_t nh, w, bs = seq_block(s->alg);
    seq_shape(s->alg, &nh, &w);
    unsigned num;
    const uint8_t *buf;
    uint64_t nl, nhi;
    if (s->alg == 0x0004) {
        nl = s->c.s1.Nl, nhi = s->c.s1.Nh, num = s->c.s1.num;
        buf = (const uint8_t *)s->c.s1.data;
    } else if (w == 4) {
        nl = s->c.s256.Nl, nhi = s->c.s256.Nh, num = s->c.s256.num;
        buf = (const uint8_t *)s->c.s256.data;
    } else {
        nl = s->c.s512.Nl, nhi = s->c.s512.Nh, num = s->c.s512.num;
        buf = s->c.s512.u.p;
    }
    size_t need = 4 + (nh + 2) * w + 1 + num + (s->hmac ? bs : 0);
    if (num >= bs || need > cap)
        return 0;
    /* Straight from the secure-heap state into out: for HMAC the chaining
     * value stands in for the key, so no copy of it is left on the stack. */
    uint8_t *p = out;
    *p++ = 1;
    put_word(&p, s->alg, 2);
    *p++ = s->hmac ? 1 : 0;
    for (size_t i = 0; i < nh; i++)
        put_word(&p, seq_word(s, i), w);
    put_word(&p, nl, w);
    put_word(&p, nhi, w);
    *p++ = (uint8_t)num;
    memcpy(p, buf, num);
    p += num;
    if (s->hmac) {
        memcpy(p, s->opad, bs);
        p += bs;
    }
    return (size_t)(p - out);
}

tcrypto_rc tcrypto_tpm_md_import(const uint8_t *in, size_t len, tcrypto_tpm_md **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (len < 5 || in[0] != 1 || in[3] > 1)
        return TCRYPTO_ERR_INPUT;
    uint16_t alg = (uint16_t)(in[1] << 8 | in[2]);
    bool hmac = in[3] == 1;
    if (tcrypto_tpm_hash_size(alg) == 0)
        return TCRYPTO_ERR_INPUT;
    size_t nh, w, bs = seq_block(alg);
    seq_shape(alg, &nh, &w);
    size_t fixed = 4 + (nh + 2) * w + 1;
    if (len < fixed)
        return TCRYPTO_ERR_INPUT;
    size_t num = in[fixed - 1];
    if (num >= bs || len != fixed + num + (hmac ? bs : 0))
        return TCRYPTO_ERR_INPUT;
    /* The bit count (after the chaining value) must agree with the
     * buffered bytes. */
    const uint8_t *p = in + 4 + nh * w;
    uint64_t nl = get_word(&p, w), nhi = get_word(&p, w);
    p++;
    if ((nl / 8) % bs != num)
        return TCRYPTO_ERR_INPUT;
    tcrypto_tpm_md *m = calloc(1, sizeof(*m));
    tpm_seq *s = tcrypto_secure_alloc(sizeof(*s));
    if (m == NULL || s == NULL) {
        free(m);
        seq_free(s);
        return TCRYPTO_ERR_NOMEM;
    }
    memset(s, 0, sizeof(*s));
    s->alg = alg;
    s->hmac = hmac;
    if (!seq_init(s)) { /* sets md_len and the constants not carried */
        free(m);
        seq_free(s);
        return TCRYPTO_ERR_INTERNAL;
    }
    /* The chaining value goes straight into the secure-heap state. */
    const uint8_t *h = in + 4;
    if (alg == 0x0004) {
        SHA_CTX *c = &s->c.s1;
        c->h0 = (SHA_LONG)get_word(&h, w), c->h1 = (SHA_LONG)get_word(&h, w);
        c->h2 = (SHA_LONG)get_word(&h, w), c->h3 = (SHA_LONG)get_word(&h, w);
        c->h4 = (SHA_LONG)get_word(&h, w);
        c->Nl = (SHA_LONG)nl, c->Nh = (SHA_LONG)nhi, c->num = (unsigned)num;
        memcpy(c->data, p, num);
    } else if (w == 4) {
        SHA256_CTX *c = &s->c.s256;
        for (size_t i = 0; i < 8; i++)
            c->h[i] = (SHA_LONG)get_word(&h, w);
        c->Nl = (SHA_LONG)nl, c->Nh = (SHA_LONG)nhi, c->num = (unsigned)num;
        memcpy(c->data, p, num);
    } else {
        SHA512_CTX *c = &s->c.s512;
        for (size_t i = 0; i < 8; i++)
            c->h[i] = get_word(&h, w);
        c->Nl = nl, c->Nh = nhi, c->num = (unsigned)num;
        memcpy(c->u.p, p, num);
    }
    p += num;
    if (hmac)
        memcpy(s->opad, p, bs);
    m->seq = s;
    *out = m;
    return TCRYPTO_OK;
}

/* ---- running digests ----------------------------------------------------- */

tcrypto_rc tcrypto_tpm_md_update(tcrypto_tpm_md *m, const void *p, size_t n)
{
    if (n == 0)
        return TCRYPTO_OK;
    if (m->seq)
        return seq_update(m->seq, p, n) ? TCRYPTO_OK : TCRYPTO_ERR_INTERNAL;
    return m->mac ? tcrypto_mac_update(m->mac, p, n) : tcrypto_digest_update(m->md, p, n);
}

tcrypto_rc tcrypto_tpm_md_final(tcrypto_tpm_md *m, uint8_t *out)
{
    size_t len = TCRYPTO_MAX_MD_SIZE;
    if (m->seq)
        return seq_final(m->seq, out);
    return m->mac ? tcrypto_mac_final(m->mac, out, &len) : tcrypto_digest_final(m->md, out, &len);
}

tcrypto_rc tcrypto_tpm_md_dup(const tcrypto_tpm_md *m, tcrypto_tpm_md **out)
{
    tcrypto_tpm_md *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return TCRYPTO_ERR_NOMEM;
    tcrypto_rc rc = TCRYPTO_OK;
    if (m->seq) {
        d->seq = tcrypto_secure_alloc(sizeof(*d->seq));
        if (d->seq == NULL)
            rc = TCRYPTO_ERR_NOMEM;
        else
            memcpy(d->seq, m->seq, sizeof(*d->seq));
    } else {
        rc = m->mac ? tcrypto_mac_dup(m->mac, &d->mac) : tcrypto_digest_dup(m->md, &d->md);
    }
    if (rc != TCRYPTO_OK) {
        tcrypto_tpm_md_free(d);
        return rc;
    }
    *out = d;
    return TCRYPTO_OK;
}

void tcrypto_tpm_md_free(tcrypto_tpm_md *m)
{
    if (m == NULL)
        return;
    tcrypto_digest_free(m->md);
    tcrypto_mac_free(m->mac);
    seq_free(m->seq);
    free(m);
}

tcrypto_rc tcrypto_tpm_random(void *out, size_t n)
{
    return tcrypto_random(out, n);
}

void tcrypto_tpm_random_stir(const void *in, size_t n)
{
    /* Mixed into the DRBG without entropy credit (Part 3 §16.2). */
    if (n > 0)
        (void)tcrypto_random_seed(in, n);
}

/* The counter loop KDFa and KDFe share: block i is HMAC(key, v) (KDFa) or
 * H(v) (KDFe), v[0] being the 32-bit big-endian counter i, filled in here;
 * the blocks are concatenated and cut to bits, whose excess high-order
 * bits in out[0] are cleared (Part 1 §11.4.10.1). */
static tcrypto_rc kdf_counter(uint16_t alg, bool hmac, const void *key, size_t keylen,
                              tcrypto_tpm_iov *v, size_t nv, uint32_t bits, uint8_t *out)
{
    size_t hs = tcrypto_tpm_hash_size(alg);
    if (hs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    size_t bytes = (bits + 7) / 8;
    uint8_t blk[64], cnt[4];
    v[0] = (tcrypto_tpm_iov){ cnt, sizeof(cnt) };
    tcrypto_rc rc = TCRYPTO_OK;
    size_t done = 0;
    for (uint32_t i = 1; done < bytes; i++) {
        tc_store_u32(cnt, i);
        rc = hmac ? tcrypto_tpm_hmac(alg, key, keylen, v, nv, blk)
                  : tcrypto_tpm_hash(alg, v, nv, blk);
        if (rc != TCRYPTO_OK)
            break;
        size_t take = bytes - done < hs ? bytes - done : hs;
        memcpy(out + done, blk, take);
        done += take;
    }
    if (rc == TCRYPTO_OK && bits % 8)
        out[0] &= (uint8_t)((1u << (bits % 8)) - 1);
    if (rc != TCRYPTO_OK)
        OPENSSL_cleanse(out, bytes);
    OPENSSL_cleanse(blk, sizeof(blk));
    return rc;
}

tcrypto_rc tcrypto_tpm_kdfa(uint16_t alg, const void *key, size_t keylen, const char *label,
                            const void *ctx_u, size_t ulen, const void *ctx_v, size_t vlen,
                            uint32_t bits, uint8_t *out)
{
    uint8_t be_bits[4];
    tc_store_u32(be_bits, bits);
    size_t labellen = label ? strlen(label) + 1 : 0;
    tcrypto_tpm_iov v[5] = {
        { NULL, 0 }, { label, labellen }, { ctx_u, ulen }, { ctx_v, vlen }, { be_bits, 4 },
    };
    return kdf_counter(alg, true, key, keylen, v, 5, bits, out);
}

tcrypto_rc tcrypto_tpm_kdfe(uint16_t alg, const void *z, size_t zlen, const char *label,
                            const void *party_u, size_t ulen, const void *party_v, size_t vlen,
                            uint32_t bits, uint8_t *out)
{
    size_t labellen = label ? strlen(label) + 1 : 0;
    tcrypto_tpm_iov v[5] = {
        { NULL, 0 }, { z, zlen }, { label, labellen }, { party_u, ulen }, { party_v, vlen },
    };
    return kdf_counter(alg, false, NULL, 0, v, 5, bits, out);
}

/* The AES cipher fetched at start-up for a TPM mode (Part 2 §6.3). */
static const EVP_CIPHER *aes_cipher(uint16_t mode, size_t keylen)
{
    switch (mode) {
    case 0x0043: return tcx_aes(TCX_AES_CFB, keylen);
    case 0x0040: return tcx_aes(TCX_AES_CTR, keylen);
    case 0x0041: return tcx_aes(TCX_AES_OFB, keylen);
    case 0x0042: return tcx_aes(TCX_AES_CBC, keylen);
    case 0x0044: return tcx_aes(TCX_AES_ECB, keylen);
    default: return NULL;
    }
}

tcrypto_rc tcrypto_tpm_aes_mode(uint16_t mode, bool encrypt, const void *key, size_t keylen,
                                uint8_t iv[16], const uint8_t *in, size_t len, uint8_t *out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    const EVP_CIPHER *ciph = aes_cipher(mode, keylen);
    if (ciph == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    if ((mode == 0x0042 || mode == 0x0044) && len % 16)
        return TCRYPTO_ERR_INPUT;
    if (len == 0)
        return TCRYPTO_OK;
    rc = TCRYPTO_ERR_INTERNAL;
    int ol = 0, fl = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c == NULL || EVP_CipherInit_ex(c, ciph, NULL, key, mode == 0x0044 ? NULL : iv,
                                       encrypt ? 1 : 0) != 1)
        goto out;
    EVP_CIPHER_CTX_set_padding(c, 0);
    if (EVP_CipherUpdate(c, out, &ol, in, (int)len) != 1 ||
        EVP_CipherFinal_ex(c, out + ol, &fl) != 1 || (size_t)(ol + fl) != len)
        goto out;
    if (mode != 0x0044) {
        /* The chaining value for the next call (Part 3 §15.2 ivOut). */
        if (EVP_CIPHER_CTX_get_updated_iv(c, iv, 16) != 1)
            goto out;
    }
    rc = TCRYPTO_OK;
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

tcrypto_rc tcrypto_tpm_aes_cfb(bool encrypt, const void *key, size_t keylen, uint8_t iv[16],
                               const uint8_t *in, size_t len, uint8_t *out)
{
    return tcrypto_tpm_aes_mode(0x0043, encrypt, key, keylen, iv, in, len, out);
}

/* ---- keys ------------------------------------------------------------- */

void tcrypto_tpm_key_free(tcrypto_tpm_key *k)
{
    tcrypto_pkey_free(k);
}

static tcrypto_rc bn_from_stream(tcrypto_tpm_stream stream, void *sctx, BIGNUM *bn, size_t bytes)
{
    uint8_t buf[512];
    if (bytes > sizeof(buf))
        return TCRYPTO_ERR_ARG;
    tcrypto_rc rc = stream ? stream(sctx, buf, bytes) : tcrypto_tpm_random(buf, bytes);
    if (rc == TCRYPTO_OK && BN_bin2bn(buf, (int)bytes, bn) == NULL)
        rc = TCRYPTO_ERR_INTERNAL;
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* One prime of `bits` bits: candidate from the stream with the top two bits
 * set (so p*q has the full length) and the low bit set, then the next
 * probable prime p with gcd(p-1, e) = 1 found by stepping by two. */
static tcrypto_rc find_prime(unsigned bits, uint32_t e, tcrypto_tpm_stream stream, void *sctx,
                             BIGNUM *p, BN_CTX *bnctx)
{
    tcrypto_rc rc;
    /* p - 1 gives p away: secure heap, cleared when freed. */
    BIGNUM *pm1 = BN_secure_new(), *g = BN_new(), *be = BN_new();
    if (pm1 == NULL || g == NULL || be == NULL || BN_set_word(be, e) != 1) {
        rc = TCRYPTO_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        rc = bn_from_stream(stream, sctx, p, bits / 8);
        if (rc != TCRYPTO_OK)
            goto out;
        if (BN_set_bit(p, (int)bits - 1) != 1 || BN_set_bit(p, (int)bits - 2) != 1 ||
            BN_set_bit(p, 0) != 1) {
            rc = TCRYPTO_ERR_INTERNAL;
            goto out;
        }
        for (int step = 0; step < 4096; step++) {
            if (BN_num_bits(p) != (int)bits)
                break;
            int r = BN_check_prime(p, bnctx, NULL);
            if (r < 0) {
                rc = TCRYPTO_ERR_INTERNAL;
                goto out;
            }
            if (r == 1) {
                if (BN_sub(pm1, p, BN_value_one()) != 1 || BN_gcd(g, pm1, be, bnctx) != 1) {
                    rc = TCRYPTO_ERR_INTERNAL;
                    goto out;
                }
                if (BN_is_one(g)) {
                    rc = TCRYPTO_OK;
                    goto out;
                }
            }
            if (BN_add_word(p, 2) != 1) {
                rc = TCRYPTO_ERR_INTERNAL;
                goto out;
            }
        }
    }
out:
    BN_clear_free(pm1);
    BN_free(g);
    BN_free(be);
    return rc;
}

tcrypto_rc tcrypto_tpm_rsa_generate(unsigned bits, uint32_t e, tcrypto_tpm_stream stream,
                                    void *sctx, uint8_t *n_out, uint8_t *p_out)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    if (bits != 1024 && bits != 2048 && bits != 3072 && bits != 4096)
        return TCRYPTO_ERR_UNSUPPORTED;
    if (e == 0)
        e = 65537;
    if (e < 3 || (e & 1) == 0)
        return TCRYPTO_ERR_ARG;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    BN_CTX *bnctx = BN_CTX_secure_new_ex(tcx_libctx());
    BIGNUM *p = BN_secure_new(), *q = BN_secure_new(), *n = BN_new();
    uint8_t nb[512];
    tcrypto_tpm_key *k = NULL;
    if (bnctx == NULL || p == NULL || q == NULL || n == NULL)
        goto out;
    for (int tries = 0; tries < 16; tries++) {
        rc = find_prime(bits / 2, e, stream, sctx, p, bnctx);
        if (rc != TCRYPTO_OK)
            goto out;
        rc = find_prime(bits / 2, e, stream, sctx, q, bnctx);
        if (rc != TCRYPTO_OK)
            goto out;
        if (BN_cmp(p, q) == 0)
            continue;
        if (BN_mul(n, p, q, bnctx) != 1) {
            rc = TCRYPTO_ERR_INTERNAL;
            goto out;
        }
        if (BN_num_bits(n) == (int)bits)
            break;
    }
    if (BN_num_bits(n) != (int)bits) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto out;
    }
    if (BN_bn2binpad(n, nb, (int)(bits / 8)) < 0 || BN_bn2binpad(p, p_out, (int)(bits / 16)) < 0) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto out;
    }
    /* Pairwise consistency: the key must be buildable (d exists). */
    rc = tcrypto_tpm_rsa_key(nb, bits / 8, e, p_out, bits / 16, &k);
    if (rc != TCRYPTO_OK) {
        OPENSSL_cleanse(p_out, bits / 16);
        goto out;
    }
    memcpy(n_out, nb, bits / 8);
out:
    tcrypto_tpm_key_free(k);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_free(n);
    BN_CTX_free(bnctx);
    return rc;
}

/* The TPM keeps an RSA private key as one prime (Part 2 §11.3.2): q, d and
 * the CRT values follow from n, e and p. */
tcrypto_rc tcrypto_tpm_rsa_key(const uint8_t *n, size_t nlen, uint32_t e, const uint8_t *p,
                               size_t plen, tcrypto_tpm_key **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (e == 0)
        e = 65537;
    if (nlen == 0 || nlen > 512 || (p != NULL && (plen == 0 || plen > 512)))
        return TCRYPTO_ERR_KEY;
    uint8_t eb[4];
    tc_store_u32(eb, e);
    tcrypto_rsa_parts parts = { .n = n, .n_len = nlen, .e = eb, .e_len = 4 };
    if (p == NULL)
        return tcrypto_rsa_from_parts(&parts, out);

    enum { D, Q, DP, DQ, QI, NPART };
    const size_t cap = 512;
    uint8_t *buf = tcrypto_secure_alloc(NPART * cap);
    size_t len[NPART] = { 0 };
    BN_CTX *bnctx = BN_CTX_secure_new_ex(tcx_libctx());
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_new(), *rem = BN_new();
    BIGNUM *bp = BN_secure_new(), *v[NPART] = { NULL }, *pm1 = BN_secure_new(),
           *qm1 = BN_secure_new(), *phi = BN_secure_new();
    for (int i = 0; i < NPART; i++)
        v[i] = BN_secure_new();
    rc = TCRYPTO_ERR_NOMEM;
    if (buf == NULL || bnctx == NULL || bn == NULL || be == NULL || rem == NULL || bp == NULL ||
        pm1 == NULL || qm1 == NULL || phi == NULL || v[D] == NULL || v[Q] == NULL ||
        v[DP] == NULL || v[DQ] == NULL || v[QI] == NULL || BN_set_word(be, e) != 1 ||
        BN_bin2bn(p, (int)plen, bp) == NULL)
        goto out;
    rc = TCRYPTO_ERR_KEY;
    if (BN_is_zero(bp) || BN_is_one(bp) || BN_div(v[Q], rem, bn, bp, bnctx) != 1 ||
        !BN_is_zero(rem) || BN_is_one(v[Q]))
        goto out;
    if (BN_sub(pm1, bp, BN_value_one()) != 1 || BN_sub(qm1, v[Q], BN_value_one()) != 1 ||
        BN_mul(phi, pm1, qm1, bnctx) != 1 || BN_mod_inverse(v[D], be, phi, bnctx) == NULL)
        goto out;
    rc = TCRYPTO_ERR_INTERNAL;
    if (BN_mod(v[DP], v[D], pm1, bnctx) != 1 || BN_mod(v[DQ], v[D], qm1, bnctx) != 1 ||
        BN_mod_inverse(v[QI], v[Q], bp, bnctx) == NULL)
        goto out;
    for (int i = 0; i < NPART; i++) {
        if (BN_num_bytes(v[i]) > (int)cap)
            goto out;
        len[i] = (size_t)BN_bn2bin(v[i], buf + i * cap);
    }
    parts.d = buf + D * cap, parts.d_len = len[D];
    parts.p = p, parts.p_len = plen;
    parts.q = buf + Q * cap, parts.q_len = len[Q];
    parts.dp = buf + DP * cap, parts.dp_len = len[DP];
    parts.dq = buf + DQ * cap, parts.dq_len = len[DQ];
    parts.qinv = buf + QI * cap, parts.qinv_len = len[QI];
    rc = tcrypto_rsa_from_parts(&parts, out);
out:
    tcrypto_secure_free(buf, NPART * cap);
    for (int i = 0; i < NPART; i++)
        BN_clear_free(v[i]);
    BN_clear_free(bp);
    BN_clear_free(pm1);
    BN_clear_free(qm1);
    BN_clear_free(phi);
    BN_free(bn);
    BN_free(be);
    BN_free(rem);
    BN_CTX_free(bnctx);
    return rc;
}

size_t tcrypto_tpm_ecc_size(uint16_t curve)
{
    return tcx_curve_bytes(tcx_tpm_curve(curve));
}

tcrypto_rc tcrypto_tpm_ecc_params(uint16_t curve, uint8_t *p, uint8_t *a, uint8_t *b, uint8_t *gx,
                                  uint8_t *gy, uint8_t *n)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    size_t fs = tcrypto_tpm_ecc_size(curve);
    if (fs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    EC_GROUP *g = tcx_curve_ec_group(tcx_tpm_curve(curve));
    BIGNUM *bp = BN_new(), *ba = BN_new(), *bb = BN_new(), *x = BN_new(), *y = BN_new();
    if (g == NULL || bp == NULL || ba == NULL || bb == NULL || x == NULL || y == NULL)
        goto out;
    if (EC_GROUP_get_curve(g, bp, ba, bb, NULL) != 1 ||
        EC_POINT_get_affine_coordinates(g, EC_GROUP_get0_generator(g), x, y, NULL) != 1)
        goto out;
    if (BN_bn2binpad(bp, p, (int)fs) < 0 || BN_bn2binpad(ba, a, (int)fs) < 0 ||
        BN_bn2binpad(bb, b, (int)fs) < 0 || BN_bn2binpad(x, gx, (int)fs) < 0 ||
        BN_bn2binpad(y, gy, (int)fs) < 0 ||
        BN_bn2binpad(EC_GROUP_get0_order(g), n, (int)fs) < 0)
        goto out;
    rc = TCRYPTO_OK;
out:
    EC_GROUP_free(g);
    BN_free(bp);
    BN_free(ba);
    BN_free(bb);
    BN_free(x);
    BN_free(y);
    return rc;
}

tcrypto_rc tcrypto_tpm_ecc_generate(uint16_t curve, tcrypto_tpm_stream stream, void *sctx,
                                    uint8_t *d_out, uint8_t *x_out, uint8_t *y_out)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    size_t fs = tcrypto_tpm_ecc_size(curve);
    if (fs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    EC_GROUP *g = tcx_curve_ec_group(tcx_tpm_curve(curve));
    BN_CTX *bnctx = BN_CTX_secure_new_ex(tcx_libctx());
    BIGNUM *d = BN_secure_new(), *x = BN_new(), *y = BN_new();
    EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
    if (g == NULL || bnctx == NULL || d == NULL || x == NULL || y == NULL || pt == NULL)
        goto out;
    const BIGNUM *order = EC_GROUP_get0_order(g);
    for (int tries = 0;; tries++) {
        if (tries > 64)
            goto out;
        rc = bn_from_stream(stream, sctx, d, fs);
        if (rc != TCRYPTO_OK)
            goto out;
        rc = TCRYPTO_ERR_INTERNAL;
        if (curve == 0x0005 && BN_mask_bits(d, 521) != 1)
            goto out;
        if (!BN_is_zero(d) && BN_cmp(d, order) < 0)
            break;
    }
    if (EC_POINT_mul(g, pt, d, NULL, NULL, bnctx) != 1 ||
        EC_POINT_get_affine_coordinates(g, pt, x, y, bnctx) != 1)
        goto out;
    if (BN_bn2binpad(d, d_out, (int)fs) < 0 || BN_bn2binpad(x, x_out, (int)fs) < 0 ||
        BN_bn2binpad(y, y_out, (int)fs) < 0)
        goto out;
    rc = TCRYPTO_OK;
out:
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    BN_clear_free(d);
    BN_free(x);
    BN_free(y);
    BN_CTX_free(bnctx);
    return rc;
}

/* Uncompressed SEC1 point 04 || x || y with each coordinate left-padded to
 * the field size fs; false when a coordinate is longer. */
static bool sec1_point(size_t fs, const uint8_t *x, size_t xlen, const uint8_t *y, size_t ylen,
                       uint8_t *pt)
{
    if (xlen > fs || ylen > fs)
        return false;
    pt[0] = 0x04;
    memset(pt + 1, 0, 2 * fs);
    memcpy(pt + 1 + fs - xlen, x, xlen);
    memcpy(pt + 1 + 2 * fs - ylen, y, ylen);
    return true;
}

tcrypto_rc tcrypto_tpm_ecc_key(uint16_t curve, const uint8_t *x, size_t xlen, const uint8_t *y,
                               size_t ylen, const uint8_t *d, size_t dlen, tcrypto_tpm_key **out)
{
    size_t fs = tcrypto_tpm_ecc_size(curve);
    if (fs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    uint8_t pt[1 + 2 * 66];
    if (dlen > fs || !sec1_point(fs, x, xlen, y, ylen, pt))
        return TCRYPTO_ERR_KEY;
    /* A point off the curve is TCRYPTO_ERR_KEY (TPM_RC_ECC_POINT above). */
    return tcrypto_ec_from_parts(tcx_tpm_curve(curve), pt, 1 + 2 * fs, d, d ? dlen : 0, out);
}

/* The whole point d*Q, for ECDH_ZGen and ECDH_KeyGen (Part 3 §14.4, §14.5),
 * which return both coordinates where ECDH gives only x. */
static tcrypto_rc ecdh_point(const tcrypto_tpm_key *priv, const uint8_t *pt, size_t ptlen,
                             uint8_t *zx, uint8_t *zy)
{
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    size_t fs = priv->bytes;
    EC_GROUP *g = tcx_curve_ec_group(priv->curve);
    EC_POINT *q = g ? EC_POINT_new(g) : NULL, *r = g ? EC_POINT_new(g) : NULL;
    BIGNUM *d = tcx_secure_bn_param(priv->pk, OSSL_PKEY_PARAM_PRIV_KEY);
    BIGNUM *bx = BN_secure_new(), *by = BN_secure_new();
    BN_CTX *bnctx = BN_CTX_secure_new_ex(tcx_libctx());
    if (g == NULL || q == NULL || r == NULL || d == NULL || bx == NULL || by == NULL ||
        bnctx == NULL)
        goto out;
    if (EC_POINT_oct2point(g, q, pt, ptlen, bnctx) != 1 || EC_POINT_is_on_curve(g, q, bnctx) != 1) {
        rc = TCRYPTO_ERR_KEY;
        goto out;
    }
    if (EC_POINT_mul(g, r, NULL, q, d, bnctx) != 1 || EC_POINT_is_at_infinity(g, r) ||
        EC_POINT_get_affine_coordinates(g, r, bx, by, bnctx) != 1)
        goto out;
    if (BN_bn2binpad(bx, zx, (int)fs) < 0 || BN_bn2binpad(by, zy, (int)fs) < 0)
        goto out;
    rc = TCRYPTO_OK;
out:
    EC_POINT_clear_free(r);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    BN_clear_free(d);
    BN_clear_free(bx);
    BN_clear_free(by);
    BN_CTX_free(bnctx);
    return rc;
}

tcrypto_rc tcrypto_tpm_ecdh(const tcrypto_tpm_key *priv, const uint8_t *x, size_t xlen,
                            const uint8_t *y, size_t ylen, uint8_t *zx, uint8_t *zy)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (priv->type != TCRYPTO_KEY_EC || !priv->priv)
        return TCRYPTO_ERR_KEY;
    size_t fs = priv->bytes;
    uint8_t pt[1 + 2 * 66];
    if (!sec1_point(fs, x, xlen, y, ylen, pt))
        return TCRYPTO_ERR_KEY;
    if (zy != NULL)
        return ecdh_point(priv, pt, 1 + 2 * fs, zx, zy);
    size_t zl = fs;
    return tcrypto_derive(priv, pt, 1 + 2 * fs, zx, &zl);
}

static bool scheme_fits(const tcrypto_tpm_key *k, uint16_t scheme)
{
    if (scheme == 0x0018)
        return k->type == TCRYPTO_KEY_EC;
    return k->type == TCRYPTO_KEY_RSA && (scheme == 0x0014 || scheme == 0x0016);
}

/* Signature schemes: RSASSA 0x0014 (PKCS#1 v1.5 over the digest), RSAPSS
 * 0x0016 (salt as long as the digest to sign, any to verify), ECDSA 0x0018. */
static tcrypto_sig_params sig_params(uint16_t scheme, uint16_t hash, bool verify)
{
    tcrypto_sig_params sp = { .md = md_of(hash) };
    if (scheme == 0x0018) {
        sp.scheme = TCRYPTO_SIG_ECDSA;
        sp.md = TCRYPTO_MD_NONE;
    } else if (scheme == 0x0016) {
        sp.scheme = TCRYPTO_SIG_RSA_PSS;
        sp.salt_len = verify ? TCRYPTO_PSS_SALT_ANY : tcrypto_md_size(sp.md);
    } else {
        sp.scheme = TCRYPTO_SIG_RSA_PKCS1;
    }
    return sp;
}

tcrypto_rc tcrypto_tpm_sign(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                            const uint8_t *digest, size_t dlen, uint8_t *sig, size_t *siglen,
                            uint8_t *s_out)
{
    if (!scheme_fits(k, scheme))
        return TCRYPTO_ERR_UNSUPPORTED;
    if (md_of(hash) == TCRYPTO_MD_NONE)
        return TCRYPTO_ERR_UNSUPPORTED;
    if (dlen != tcrypto_tpm_hash_size(hash))
        return TCRYPTO_ERR_INPUT;
    tcrypto_sig_params sp = sig_params(scheme, hash, false);
    if (k->type == TCRYPTO_KEY_RSA) {
        if (*siglen < k->bytes)
            return TCRYPTO_ERR_BUFFER;
        return tcrypto_sign(k, &sp, digest, dlen, sig, siglen);
    }
    /* ECDSA: the layer gives r || s; the TPM wants them apart. */
    uint8_t rs[2 * 66];
    size_t rl = sizeof(rs);
    if (*siglen < k->bytes)
        return TCRYPTO_ERR_INTERNAL;
    tcrypto_rc rc = tcrypto_sign(k, &sp, digest, dlen, rs, &rl);
    if (rc == TCRYPTO_OK && rl != 2 * k->bytes)
        rc = TCRYPTO_ERR_INTERNAL;
    if (rc == TCRYPTO_OK) {
        memcpy(sig, rs, k->bytes);
        memcpy(s_out, rs + k->bytes, k->bytes);
        *siglen = k->bytes;
    }
    return rc;
}

tcrypto_rc tcrypto_tpm_verify(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                              const uint8_t *digest, size_t dlen, const uint8_t *sig,
                              size_t siglen, const uint8_t *s2, size_t s2len)
{
    if (!scheme_fits(k, scheme))
        return TCRYPTO_ERR_UNSUPPORTED;
    if (md_of(hash) == TCRYPTO_MD_NONE)
        return TCRYPTO_ERR_UNSUPPORTED;
    tcrypto_sig_params sp = sig_params(scheme, hash, true);
    if (k->type == TCRYPTO_KEY_RSA)
        return tcrypto_verify(k, &sp, digest, dlen, sig, siglen);
    /* r and s as TPM2Bs: leading zeros may be missing, never extra bytes. */
    size_t fs = k->bytes;
    uint8_t rs[2 * 66];
    while (siglen > fs && sig[0] == 0)
        sig++, siglen--;
    while (s2len > fs && s2[0] == 0)
        s2++, s2len--;
    if (siglen > fs || s2len > fs)
        return TCRYPTO_ERR_VERIFY;
    memset(rs, 0, 2 * fs);
    memcpy(rs + fs - siglen, sig, siglen);
    memcpy(rs + 2 * fs - s2len, s2, s2len);
    return tcrypto_verify(k, &sp, digest, dlen, rs, 2 * fs);
}

/* RSA encryption schemes: RSAES 0x0015, OAEP 0x0017, NULL 0x0010 (raw). */
static bool enc_params(uint16_t scheme, uint16_t hash, const uint8_t *label, size_t label_len,
                       tcrypto_rsa_enc_params *ep)
{
    *ep = (tcrypto_rsa_enc_params){ .pad = TCRYPTO_RSA_PAD_NONE };
    switch (scheme) {
    case 0x0015: ep->pad = TCRYPTO_RSA_PAD_PKCS1; return true;
    case 0x0010: return true;
    case 0x0017:
        ep->pad = TCRYPTO_RSA_PAD_OAEP;
        ep->md = md_of(hash);
        ep->label = label_len ? label : NULL;
        ep->label_len = label_len;
        return ep->md != TCRYPTO_MD_NONE;
    default: return false;
    }
}

tcrypto_rc tcrypto_tpm_rsa_encrypt(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                                   const uint8_t *label, size_t label_len, const uint8_t *in,
                                   size_t inlen, uint8_t *out, size_t *outlen)
{
    tcrypto_rsa_enc_params ep;
    if (k->type != TCRYPTO_KEY_RSA)
        return TCRYPTO_ERR_KEY;
    if (!enc_params(scheme, hash, label, label_len, &ep))
        return TCRYPTO_ERR_INTERNAL;
    if (*outlen < k->bytes)
        return TCRYPTO_ERR_BUFFER;
    tcrypto_rc rc = tcrypto_rsa_encrypt(k, &ep, in, inlen, out, outlen);
    /* A message too long for the padding is bad input, not a failure. */
    return rc == TCRYPTO_ERR_ARG ? TCRYPTO_ERR_INPUT : rc;
}

tcrypto_rc tcrypto_tpm_rsa_decrypt(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                                   const uint8_t *label, size_t label_len, const uint8_t *in,
                                   size_t inlen, uint8_t *out, size_t *outlen)
{
    tcrypto_rsa_enc_params ep;
    if (k->type != TCRYPTO_KEY_RSA)
        return TCRYPTO_ERR_KEY;
    if (!enc_params(scheme, hash, label, label_len, &ep))
        return TCRYPTO_ERR_INTERNAL;
    if (inlen != k->bytes)
        return TCRYPTO_ERR_INPUT;
    tcrypto_rc rc = tcrypto_rsa_decrypt(k, &ep, in, inlen, out, outlen);
    return rc == TCRYPTO_ERR_INPUT ? TCRYPTO_ERR_DECRYPT : rc;
}
