/*
 * TPM-specific cryptography over OpenSSL 3 EVP (see tcrypto_tpm.h). Like the
 * rest of the layer it works only in the layer's private library context
 * (tcx_libctx), with the algorithms fetched once at start-up, and refuses
 * to run once the module is in its error state (tcx_ready).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "crypto/crypto_int.h"
#include "crypto/tcrypto_tpm.h"

struct tcrypto_tpm_key {
    EVP_PKEY *pkey;
    bool is_ec;
    size_t size; /* modulus bytes or field bytes */
};

struct tcrypto_tpm_md {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
};

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

/* The digest fetched at start-up for a TPM hash alg; NULL if unsupported. */
static const EVP_MD *md_fetched(uint16_t alg)
{
    tcrypto_md m = md_of(alg);
    return m == TCRYPTO_MD_NONE ? NULL : tcx_md(m);
}

size_t tcrypto_tpm_hash_size(uint16_t alg)
{
    switch (alg) {
    case 0x0004: return 20;
    case 0x000B: return 32;
    case 0x000C: return 48;
    case 0x000D: return 64;
    default: return 0;
    }
}

tcrypto_rc tcrypto_tpm_random(void *out, size_t n)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK || n == 0)
        return rc;
    /* Seeds and keys come from the private DRBG of our library context,
     * called directly so that no host RAND_METHOD or ENGINE applies. */
    EVP_RAND_CTX *drbg = RAND_get0_private(tcx_libctx());
    if (drbg == NULL || EVP_RAND_generate(drbg, out, n, 0, 0, NULL, 0) != 1)
        return TCRYPTO_ERR_INTERNAL;
    return TCRYPTO_OK;
}

void tcrypto_tpm_random_stir(const void *in, size_t n)
{
    /* Mixed into our primary DRBG without entropy credit (Part 3 §16.2). */
    if (n > 0)
        (void)tcrypto_random_seed(in, n);
}

tcrypto_rc tcrypto_tpm_hash(uint16_t alg, const tcrypto_tpm_iov *v, size_t nv, uint8_t *out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    const EVP_MD *md = md_fetched(alg);
    if (md == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    rc = TCRYPTO_ERR_INTERNAL;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (md == NULL || c == NULL || EVP_DigestInit_ex(c, md, NULL) != 1)
        goto out;
    for (size_t i = 0; i < nv; i++)
        if (v[i].n > 0 && EVP_DigestUpdate(c, v[i].p, v[i].n) != 1)
            goto out;
    if (EVP_DigestFinal_ex(c, out, NULL) != 1)
        goto out;
    rc = TCRYPTO_OK;
out:
    EVP_MD_CTX_free(c);
    return rc;
}

static EVP_MAC_CTX *hmac_ctx(uint16_t alg, const void *key, size_t keylen)
{
    const char *name = tcx_md_name(md_of(alg));
    EVP_MAC *mac = tcx_mac_hmac();
    if (name == NULL || mac == NULL)
        return NULL;
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
    if (c == NULL)
        return NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0);
    params[1] = OSSL_PARAM_construct_end();
    /* An empty HMAC key is legal in the TPM (empty authValue): give OpenSSL a
     * one-byte buffer with length zero. */
    static const uint8_t empty = 0;
    if (EVP_MAC_init(c, keylen ? key : &empty, keylen, params) != 1) {
        EVP_MAC_CTX_free(c);
        return NULL;
    }
    return c;
}

tcrypto_rc tcrypto_tpm_hmac(uint16_t alg, const void *key, size_t keylen,
                            const tcrypto_tpm_iov *v, size_t nv, uint8_t *out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    size_t hs = tcrypto_tpm_hash_size(alg);
    if (hs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    rc = TCRYPTO_ERR_INTERNAL;
    size_t olen = 0;
    EVP_MAC_CTX *c = hmac_ctx(alg, key, keylen);
    if (c == NULL)
        goto out;
    for (size_t i = 0; i < nv; i++)
        if (v[i].n > 0 && EVP_MAC_update(c, v[i].p, v[i].n) != 1)
            goto out;
    if (EVP_MAC_final(c, out, &olen, hs) != 1 || olen != hs)
        goto out;
    rc = TCRYPTO_OK;
out:
    EVP_MAC_CTX_free(c);
    return rc;
}

tcrypto_rc tcrypto_tpm_md_new(uint16_t alg, const void *key, size_t keylen, tcrypto_tpm_md **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    const EVP_MD *md = md_fetched(alg);
    if (md == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    tcrypto_tpm_md *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (key != NULL) {
        m->mac = hmac_ctx(alg, key, keylen);
        if (m->mac == NULL)
            goto fail;
    } else {
        m->md = EVP_MD_CTX_new();
        if (m->md == NULL || EVP_DigestInit_ex(m->md, md, NULL) != 1)
            goto fail;
    }
    *out = m;
    return TCRYPTO_OK;
fail:
    tcrypto_tpm_md_free(m);
    return TCRYPTO_ERR_INTERNAL;
}

tcrypto_rc tcrypto_tpm_md_update(tcrypto_tpm_md *m, const void *p, size_t n)
{
    if (n == 0)
        return TCRYPTO_OK;
    int ok = m->mac ? EVP_MAC_update(m->mac, p, n) : EVP_DigestUpdate(m->md, p, n);
    return ok == 1 ? TCRYPTO_OK : TCRYPTO_ERR_INTERNAL;
}

tcrypto_rc tcrypto_tpm_md_final(tcrypto_tpm_md *m, uint8_t *out)
{
    if (m->mac) {
        size_t olen = 0;
        return EVP_MAC_final(m->mac, out, &olen, EVP_MAX_MD_SIZE) == 1 ? TCRYPTO_OK
                                                                        : TCRYPTO_ERR_INTERNAL;
    }
    return EVP_DigestFinal_ex(m->md, out, NULL) == 1 ? TCRYPTO_OK : TCRYPTO_ERR_INTERNAL;
}

tcrypto_rc tcrypto_tpm_md_dup(const tcrypto_tpm_md *m, tcrypto_tpm_md **out)
{
    tcrypto_tpm_md *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (m->mac) {
        d->mac = EVP_MAC_CTX_dup(m->mac);
        if (d->mac == NULL)
            goto fail;
    } else {
        d->md = EVP_MD_CTX_new();
        if (d->md == NULL || EVP_MD_CTX_copy_ex(d->md, m->md) != 1)
            goto fail;
    }
    *out = d;
    return TCRYPTO_OK;
fail:
    tcrypto_tpm_md_free(d);
    return TCRYPTO_ERR_INTERNAL;
}

void tcrypto_tpm_md_free(tcrypto_tpm_md *m)
{
    if (m == NULL)
        return;
    EVP_MD_CTX_free(m->md);
    EVP_MAC_CTX_free(m->mac);
    free(m);
}

tcrypto_rc tcrypto_tpm_kdfa(uint16_t alg, const void *key, size_t keylen, const char *label,
                            const void *ctx_u, size_t ulen, const void *ctx_v, size_t vlen,
                            uint32_t bits, uint8_t *out)
{
    size_t hs = tcrypto_tpm_hash_size(alg);
    if (hs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    size_t bytes = (bits + 7) / 8;
    uint8_t blk[64], cnt[4], be_bits[4];
    tc_store_u32(be_bits, bits);
    size_t labellen = label ? strlen(label) + 1 : 0;
    tcrypto_rc rc = TCRYPTO_OK;
    size_t done = 0;
    for (uint32_t i = 1; done < bytes; i++) {
        tc_store_u32(cnt, i);
        tcrypto_tpm_iov v[5] = {
            { cnt, 4 }, { label, labellen }, { ctx_u, ulen }, { ctx_v, vlen }, { be_bits, 4 },
        };
        rc = tcrypto_tpm_hmac(alg, key, keylen, v, 5, blk);
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

tcrypto_rc tcrypto_tpm_kdfe(uint16_t alg, const void *z, size_t zlen, const char *label,
                            const void *party_u, size_t ulen, const void *party_v, size_t vlen,
                            uint32_t bits, uint8_t *out)
{
    size_t hs = tcrypto_tpm_hash_size(alg);
    if (hs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    size_t bytes = (bits + 7) / 8;
    uint8_t blk[64], cnt[4];
    size_t labellen = label ? strlen(label) + 1 : 0;
    tcrypto_rc rc = TCRYPTO_OK;
    size_t done = 0;
    for (uint32_t i = 1; done < bytes; i++) {
        tc_store_u32(cnt, i);
        tcrypto_tpm_iov v[5] = {
            { cnt, 4 }, { z, zlen }, { label, labellen }, { party_u, ulen }, { party_v, vlen },
        };
        rc = tcrypto_tpm_hash(alg, v, 5, blk);
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
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
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
    BIGNUM *pm1 = BN_new(), *g = BN_new(), *be = BN_new();
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
    BN_free(pm1);
    BN_free(g);
    BN_free(be);
    return rc;
}

static tcrypto_rc rsa_build(const BIGNUM *n, uint32_t e, const BIGNUM *p, tcrypto_tpm_key **out)
{
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    BN_CTX *bnctx = BN_CTX_secure_new_ex(tcx_libctx());
    BIGNUM *q = BN_secure_new(), *d = BN_secure_new(), *dp = BN_secure_new(),
           *dq = BN_secure_new(), *qi = BN_secure_new(), *rem = BN_new(), *pm1 = BN_secure_new(),
           *qm1 = BN_secure_new(), *phi = BN_secure_new(), *be = BN_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(tcx_libctx(), tcx_keytype_name(TCRYPTO_KEY_RSA), NULL);
    EVP_PKEY *pkey = NULL;
    if (bnctx == NULL || q == NULL || d == NULL || dp == NULL || dq == NULL || qi == NULL ||
        rem == NULL || pm1 == NULL || qm1 == NULL || phi == NULL || be == NULL || bld == NULL ||
        pc == NULL || BN_set_word(be, e) != 1)
        goto out;
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
        goto out;
    if (p != NULL) {
        if (BN_is_zero(p) || BN_div(q, rem, n, p, bnctx) != 1) {
            rc = TCRYPTO_ERR_KEY;
            goto out;
        }
        if (!BN_is_zero(rem) || BN_is_one(q) || BN_is_one(p)) {
            rc = TCRYPTO_ERR_KEY;
            goto out;
        }
        if (BN_sub(pm1, p, BN_value_one()) != 1 || BN_sub(qm1, q, BN_value_one()) != 1 ||
            BN_mul(phi, pm1, qm1, bnctx) != 1)
            goto out;
        if (BN_mod_inverse(d, be, phi, bnctx) == NULL) {
            rc = TCRYPTO_ERR_KEY;
            goto out;
        }
        if (BN_mod(dp, d, pm1, bnctx) != 1 || BN_mod(dq, d, qm1, bnctx) != 1 ||
            BN_mod_inverse(qi, q, p, bnctx) == NULL)
            goto out;
        if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi) != 1)
            goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL || EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, &pkey, p ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = TCRYPTO_ERR_KEY;
        goto out;
    }
    tcrypto_tpm_key *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto out;
    }
    k->pkey = pkey;
    pkey = NULL;
    k->size = (size_t)BN_num_bytes(n);
    *out = k;
    rc = TCRYPTO_OK;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pc);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(q);
    BN_clear_free(d);
    BN_clear_free(dp);
    BN_clear_free(dq);
    BN_clear_free(qi);
    BN_clear_free(pm1);
    BN_clear_free(qm1);
    BN_clear_free(phi);
    BN_free(rem);
    BN_free(be);
    BN_CTX_free(bnctx);
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
    /* Pairwise consistency: the key must be buildable (d exists). */
    rc = rsa_build(n, e, p, &k);
    if (rc != TCRYPTO_OK)
        goto out;
    if (BN_bn2binpad(n, n_out, (int)(bits / 8)) < 0 || BN_bn2binpad(p, p_out, (int)(bits / 16)) < 0) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto out;
    }
    rc = TCRYPTO_OK;
out:
    tcrypto_tpm_key_free(k);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_free(n);
    BN_CTX_free(bnctx);
    return rc;
}

tcrypto_rc tcrypto_tpm_rsa_key(const uint8_t *n, size_t nlen, uint32_t e, const uint8_t *p,
                               size_t plen, tcrypto_tpm_key **out)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    if (e == 0)
        e = 65537;
    if (nlen == 0 || nlen > 512)
        return TCRYPTO_ERR_KEY;
    tcrypto_rc rc = TCRYPTO_ERR_NOMEM;
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *bp = p ? BN_secure_new() : NULL;
    if (bn == NULL || (p && (bp == NULL || BN_bin2bn(p, (int)plen, bp) == NULL)))
        goto out;
    rc = rsa_build(bn, e, bp, out);
out:
    BN_free(bn);
    BN_clear_free(bp);
    return rc;
}

static const char *curve_name(uint16_t curve)
{
    switch (curve) {
    case 0x0003: return "P-256";
    case 0x0004: return "P-384";
    case 0x0005: return "P-521";
    default: return NULL;
    }
}

size_t tcrypto_tpm_ecc_size(uint16_t curve)
{
    switch (curve) {
    case 0x0003: return 32;
    case 0x0004: return 48;
    case 0x0005: return 66;
    default: return 0;
    }
}

static EC_GROUP *group_of(uint16_t curve)
{
    int nid = curve == 0x0003 ? NID_X9_62_prime256v1 : curve == 0x0004 ? NID_secp384r1
            : curve == 0x0005 ? NID_secp521r1 : NID_undef;
    return nid == NID_undef ? NULL : EC_GROUP_new_by_curve_name_ex(tcx_libctx(), NULL, nid);
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
    EC_GROUP *g = group_of(curve);
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
    EC_GROUP *g = group_of(curve);
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

tcrypto_rc tcrypto_tpm_ecc_key(uint16_t curve, const uint8_t *x, size_t xlen, const uint8_t *y,
                               size_t ylen, const uint8_t *d, size_t dlen, tcrypto_tpm_key **out)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    size_t fs = tcrypto_tpm_ecc_size(curve);
    if (fs == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    if (xlen > fs || ylen > fs || dlen > fs)
        return TCRYPTO_ERR_KEY;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    uint8_t pt[1 + 2 * 66];
    pt[0] = 0x04;
    memset(pt + 1, 0, 2 * fs);
    memcpy(pt + 1 + fs - xlen, x, xlen);
    memcpy(pt + 1 + 2 * fs - ylen, y, ylen);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    BIGNUM *bd = d ? BN_bin2bn(d, (int)dlen, BN_secure_new()) : NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(tcx_libctx(), tcx_keytype_name(TCRYPTO_KEY_EC), NULL);
    EVP_PKEY *pkey = NULL;
    EC_GROUP *g = group_of(curve);
    EC_POINT *p = g ? EC_POINT_new(g) : NULL;
    if (bld == NULL || pc == NULL || g == NULL || p == NULL || (d && bd == NULL))
        goto out;
    /* Reject points off the curve before OpenSSL sees them (Part 1 §C.x: TPM_RC_ECC_POINT). */
    if (EC_POINT_oct2point(g, p, pt, 1 + 2 * fs, NULL) != 1 ||
        EC_POINT_is_on_curve(g, p, NULL) != 1) {
        rc = TCRYPTO_ERR_KEY;
        goto out;
    }
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve_name(curve), 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * fs) != 1 ||
        (bd && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd) != 1))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL || EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, &pkey, bd ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = TCRYPTO_ERR_KEY;
        goto out;
    }
    tcrypto_tpm_key *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto out;
    }
    k->pkey = pkey;
    pkey = NULL;
    k->is_ec = true;
    k->size = fs;
    *out = k;
    rc = TCRYPTO_OK;
out:
    EC_POINT_free(p);
    EC_GROUP_free(g);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pc);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(bd);
    return rc;
}

tcrypto_rc tcrypto_tpm_ecdh(const tcrypto_tpm_key *priv, const uint8_t *x, size_t xlen,
                            const uint8_t *y, size_t ylen, uint8_t *zx, uint8_t *zy)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    if (!priv->is_ec)
        return TCRYPTO_ERR_KEY;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    char gname[32];
    size_t fs = priv->size;
    uint8_t pt[1 + 2 * 66];
    EC_GROUP *g = NULL;
    EC_POINT *q = NULL, *r = NULL;
    BIGNUM *d = NULL, *bx = BN_new(), *by = BN_new();
    BN_CTX *bnctx = BN_CTX_secure_new_ex(tcx_libctx());
    if (xlen > fs || ylen > fs || bx == NULL || by == NULL || bnctx == NULL)
        goto out;
    if (EVP_PKEY_get_utf8_string_param(priv->pkey, OSSL_PKEY_PARAM_GROUP_NAME, gname,
                                       sizeof(gname), NULL) != 1)
        goto out;
    g = EC_GROUP_new_by_curve_name_ex(tcx_libctx(), NULL,
                                      OBJ_sn2nid(gname) != NID_undef ? OBJ_sn2nid(gname)
                                                                     : EC_curve_nist2nid(gname));
    if (g == NULL)
        goto out;
    if (EVP_PKEY_get_bn_param(priv->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
        goto out;
    pt[0] = 0x04;
    memset(pt + 1, 0, 2 * fs);
    memcpy(pt + 1 + fs - xlen, x, xlen);
    memcpy(pt + 1 + 2 * fs - ylen, y, ylen);
    q = EC_POINT_new(g);
    r = EC_POINT_new(g);
    if (q == NULL || r == NULL)
        goto out;
    if (EC_POINT_oct2point(g, q, pt, 1 + 2 * fs, bnctx) != 1 ||
        EC_POINT_is_on_curve(g, q, bnctx) != 1) {
        rc = TCRYPTO_ERR_KEY;
        goto out;
    }
    if (EC_POINT_mul(g, r, NULL, q, d, bnctx) != 1 || EC_POINT_is_at_infinity(g, r) ||
        EC_POINT_get_affine_coordinates(g, r, bx, by, bnctx) != 1)
        goto out;
    if (BN_bn2binpad(bx, zx, (int)fs) < 0 || (zy && BN_bn2binpad(by, zy, (int)fs) < 0))
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

static int sign_setup(EVP_PKEY_CTX *pc, bool is_ec, uint16_t scheme, uint16_t hash)
{
    const EVP_MD *md = md_fetched(hash);
    int ok = md != NULL;
    if (ok && !is_ec) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, scheme == 0x0016 ? RSA_PKCS1_PSS_PADDING
                                                               : RSA_PKCS1_PADDING) == 1;
    }
    if (ok)
        ok = EVP_PKEY_CTX_set_signature_md(pc, md) == 1;
    return ok;
}

tcrypto_rc tcrypto_tpm_sign(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                            const uint8_t *digest, size_t dlen, uint8_t *sig, size_t *siglen,
                            uint8_t *s_out)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    bool ec_scheme = scheme == 0x0018;
    if (ec_scheme != k->is_ec || (!k->is_ec && scheme != 0x0014 && scheme != 0x0016))
        return TCRYPTO_ERR_UNSUPPORTED;
    if (dlen != tcrypto_tpm_hash_size(hash))
        return TCRYPTO_ERR_INPUT;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    uint8_t der[160];
    size_t derlen = sizeof(der);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pkey, NULL);
    ECDSA_SIG *es = NULL;
    if (pc == NULL || EVP_PKEY_sign_init(pc) != 1 || !sign_setup(pc, k->is_ec, scheme, hash))
        goto out;
    if (scheme == 0x0016 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, (int)dlen) != 1)
        goto out;
    if (!k->is_ec) {
        size_t l = *siglen;
        if (l < k->size) {
            rc = TCRYPTO_ERR_BUFFER;
            goto out;
        }
        if (EVP_PKEY_sign(pc, sig, &l, digest, dlen) != 1)
            goto out;
        *siglen = l;
        rc = TCRYPTO_OK;
        goto out;
    }
    if (EVP_PKEY_sign(pc, der, &derlen, digest, dlen) != 1)
        goto out;
    const unsigned char *dp = der;
    es = d2i_ECDSA_SIG(NULL, &dp, (long)derlen);
    if (es == NULL || *siglen < k->size)
        goto out;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)k->size) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), s_out, (int)k->size) < 0)
        goto out;
    *siglen = k->size;
    rc = TCRYPTO_OK;
out:
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(pc);
    return rc;
}

tcrypto_rc tcrypto_tpm_verify(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                              const uint8_t *digest, size_t dlen, const uint8_t *sig,
                              size_t siglen, const uint8_t *s2, size_t s2len)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    bool ec_scheme = scheme == 0x0018;
    if (ec_scheme != k->is_ec || (!k->is_ec && scheme != 0x0014 && scheme != 0x0016))
        return TCRYPTO_ERR_UNSUPPORTED;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pkey, NULL);
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    if (pc == NULL || EVP_PKEY_verify_init(pc) != 1 || !sign_setup(pc, k->is_ec, scheme, hash))
        goto out;
    if (scheme == 0x0016 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_AUTO) != 1)
        goto out;
    if (!k->is_ec) {
        rc = EVP_PKEY_verify(pc, sig, siglen, digest, dlen) == 1 ? TCRYPTO_OK : TCRYPTO_ERR_VERIFY;
        goto out;
    }
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, (int)siglen, NULL);
    s = BN_bin2bn(s2, (int)s2len, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    if (derlen <= 0)
        goto out;
    rc = EVP_PKEY_verify(pc, der, (size_t)derlen, digest, dlen) == 1 ? TCRYPTO_OK
                                                                      : TCRYPTO_ERR_VERIFY;
out:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(pc);
    return rc;
}

static int enc_setup(EVP_PKEY_CTX *pc, uint16_t scheme, uint16_t hash, const uint8_t *label,
                     size_t label_len)
{
    if (scheme == 0x0015)
        return EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1;
    if (scheme == 0x0010)
        return EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) == 1;
    if (scheme != 0x0017)
        return 0;
    const EVP_MD *md = md_fetched(hash);
    int ok = md != NULL && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(pc, md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) == 1;
    if (ok && label_len > 0) {
        uint8_t *l = OPENSSL_memdup(label, label_len);
        ok = l != NULL && EVP_PKEY_CTX_set0_rsa_oaep_label(pc, l, (int)label_len) == 1;
        if (!ok)
            OPENSSL_free(l);
    }
    return ok;
}

tcrypto_rc tcrypto_tpm_rsa_encrypt(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                                   const uint8_t *label, size_t label_len, const uint8_t *in,
                                   size_t inlen, uint8_t *out, size_t *outlen)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    if (k->is_ec)
        return TCRYPTO_ERR_KEY;
    if (*outlen < k->size)
        return TCRYPTO_ERR_BUFFER;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    uint8_t padded[512];
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pkey, NULL);
    if (pc == NULL || EVP_PKEY_encrypt_init(pc) != 1 ||
        !enc_setup(pc, scheme, hash, label, label_len))
        goto out;
    if (scheme == 0x0010) {
        /* Raw RSA: left-pad to the modulus size (Part 1 §B.4 TPM_ALG_NULL). */
        if (inlen > k->size) {
            rc = TCRYPTO_ERR_INPUT;
            goto out;
        }
        memset(padded, 0, k->size - inlen);
        memcpy(padded + k->size - inlen, in, inlen);
        in = padded;
        inlen = k->size;
    }
    size_t l = *outlen;
    if (EVP_PKEY_encrypt(pc, out, &l, in, inlen) != 1) {
        rc = TCRYPTO_ERR_INPUT;
        goto out;
    }
    *outlen = l;
    rc = TCRYPTO_OK;
out:
    EVP_PKEY_CTX_free(pc);
    return rc;
}

tcrypto_rc tcrypto_tpm_rsa_decrypt(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                                   const uint8_t *label, size_t label_len, const uint8_t *in,
                                   size_t inlen, uint8_t *out, size_t *outlen)
{
    tcrypto_rc ready = tcx_ready();
    if (ready != TCRYPTO_OK)
        return ready;
    if (k->is_ec)
        return TCRYPTO_ERR_KEY;
    if (inlen != k->size)
        return TCRYPTO_ERR_INPUT;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    uint8_t tmp[512];
    size_t l = sizeof(tmp);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), k->pkey, NULL);
    if (pc == NULL || EVP_PKEY_decrypt_init(pc) != 1 ||
        !enc_setup(pc, scheme, hash, label, label_len))
        goto out;
    if (EVP_PKEY_decrypt(pc, tmp, &l, in, inlen) != 1) {
        rc = TCRYPTO_ERR_DECRYPT;
        goto out;
    }
    if (l > *outlen) {
        rc = TCRYPTO_ERR_BUFFER;
        goto out;
    }
    memcpy(out, tmp, l);
    *outlen = l;
    rc = TCRYPTO_OK;
out:
    OPENSSL_cleanse(tmp, sizeof(tmp));
    EVP_PKEY_CTX_free(pc);
    return rc;
}
