/*
 * Key derivation: HKDF (RFC 5869) through EVP_KDF, and the memory-hard PIN
 * KDF (Argon2id, RFC 9106) through libargon2.
 */
#include <string.h>

#include <argon2.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "crypto/crypto_int.h"

/* Argon2id with 19 MiB, 2 passes, 1 lane: OWASP's Password Storage Cheat
 * Sheet minimum (m=19 MiB, t=2, p=1), ~45-60 ms per derivation on the
 * 2-vCPU build machine. The former default (64 MiB, t=2) measured 200-300 ms
 * there (not the 135 ms once quoted), outside the 50-150 ms login budget, and
 * every process that logs in pays it (pkcs11-tool, ssh, openssl run one
 * process per operation). The cost: an offline guess costs an attacker
 * ~3.4x less memory x time than before; docs/decisions.md ("PIN hashing and
 * per-process start-up") weighs it. Memory per concurrent login is bounded
 * by m_cost, which the login path must take into account. Parameters are
 * stored with each hash, so tokens made with the former default keep
 * verifying with theirs, and the default can be raised again later. */
const tcrypto_pin_kdf_params tcrypto_pin_kdf_default = {
    .t_cost = 2,
    .m_cost = 19456,
    .parallel = 1,
};

tcrypto_rc tcrypto_hkdf(tcrypto_md md, tcrypto_hkdf_mode mode, const void *ikm, size_t ikmlen,
                        const void *salt, size_t saltlen, const void *info, size_t infolen,
                        uint8_t *out, size_t outlen)
{
    tcrypto_rc rc = tcx_ready();
    EVP_KDF_CTX *ctx = NULL;
    uint8_t *tmp = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL || outlen == 0 || (ikm == NULL && ikmlen != 0) ||
        (salt == NULL && saltlen != 0) || (info == NULL && infolen != 0))
        return TCRYPTO_ERR_ARG;
    const char *name = tcx_md_name(md);
    size_t hlen = tcrypto_md_size(md);
    if (name == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    int kmode;
    switch (mode) {
    case TCRYPTO_HKDF_EXTRACT_EXPAND:
        kmode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
        break;
    case TCRYPTO_HKDF_EXTRACT:
        kmode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
        break;
    case TCRYPTO_HKDF_EXPAND:
        kmode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
        break;
    default:
        return TCRYPTO_ERR_ARG;
    }
    /* RFC 5869 §2.2: PRK is HashLen bytes; §2.3: L <= 255 * HashLen. */
    if (mode == TCRYPTO_HKDF_EXTRACT && outlen != hlen)
        return TCRYPTO_ERR_ARG;
    if (mode != TCRYPTO_HKDF_EXTRACT && outlen > 255 * hlen)
        return TCRYPTO_ERR_ARG;
    /* RFC 5869 §2.3: expand takes a PRK of at least HashLen bytes. */
    if (mode == TCRYPTO_HKDF_EXPAND && ikmlen < hlen)
        return TCRYPTO_ERR_ARG;
    /* RFC 5869 allows an empty IKM but OpenSSL's HKDF refuses an empty key;
     * refuse it here as an argument error rather than fail inside. */
    if (ikmlen == 0)
        return TCRYPTO_ERR_ARG;

    OSSL_PARAM params[6];
    size_t i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)name, 0);
    params[i++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &kmode);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    if (saltlen > 0) /* RFC 5869 §2.2: absent salt = HashLen zeros (OpenSSL default) */
        params[i++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    if (infolen > 0)
        params[i++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    params[i] = OSSL_PARAM_construct_end();

    ctx = EVP_KDF_CTX_new(tcx_kdf_hkdf());
    tmp = tcrypto_secure_alloc(outlen);
    if (ctx == NULL || tmp == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_KDF_derive(ctx, tmp, outlen, params) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    memcpy(out, tmp, outlen);
done:
    tcrypto_secure_free(tmp, outlen);
    EVP_KDF_CTX_free(ctx);
    return rc;
}

tcrypto_rc tcrypto_pin_kdf(const tcrypto_pin_kdf_params *p, const void *pin, size_t pinlen,
                           const void *salt, size_t saltlen, uint8_t *out, size_t outlen)
{
    tcrypto_rc rc = tcx_ready();
    uint8_t *tmp = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (p == NULL || out == NULL || salt == NULL || (pin == NULL && pinlen != 0))
        return TCRYPTO_ERR_ARG;
    /* RFC 9106 §3.1 limits; libargon2's own minimums (8-byte salt, 4-byte
     * tag, m >= 8 * lanes) are checked here so misuse is ARG, not INTERNAL. */
    if (saltlen < ARGON2_MIN_SALT_LENGTH || saltlen > 1024 || outlen < ARGON2_MIN_OUTLEN ||
        outlen > 1024 || pinlen > 4096)
        return TCRYPTO_ERR_ARG;
    if (p->t_cost < 1 || p->parallel < 1 || p->parallel > 64 ||
        p->m_cost < 8 * p->parallel || p->m_cost > (4u << 20) /* 4 GiB */)
        return TCRYPTO_ERR_ARG;
    tmp = tcrypto_secure_alloc(outlen);
    if (tmp == NULL)
        return TCRYPTO_ERR_NOMEM;
    static const uint8_t empty;
    int r = argon2id_hash_raw(p->t_cost, p->m_cost, p->parallel, pinlen ? pin : &empty, pinlen,
                              salt, saltlen, tmp, outlen);
    if (r == ARGON2_MEMORY_ALLOCATION_ERROR) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (r != ARGON2_OK) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    memcpy(out, tmp, outlen);
done:
    tcrypto_secure_free(tmp, outlen);
    return rc;
}
