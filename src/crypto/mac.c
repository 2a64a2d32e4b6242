/*
 * HMAC (RFC 2104) with any supported digest, AES-CMAC and TDES-CMAC (NIST
 * SP 800-38B),
 * through EVP_MAC objects fetched once at start-up.
 */
#include <stdlib.h>

#include <openssl/core_names.h>

#include "crypto/crypto_int.h"

struct tcrypto_mac {
    EVP_MAC_CTX *ctx;
    size_t size;
    bool done;
};

static tcrypto_rc mac_new(EVP_MAC *alg, const OSSL_PARAM *params, const void *key,
                          size_t keylen, tcrypto_mac **out)
{
    tcrypto_rc rc = TCRYPTO_OK;
    tcrypto_mac *m = calloc(1, sizeof(*m));
    static const uint8_t empty;
    if (m == NULL)
        return TCRYPTO_ERR_NOMEM;
    m->ctx = EVP_MAC_CTX_new(alg);
    if (m->ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    /* A zero-length HMAC key is legal (RFC 2104 pads it with zeros); OpenSSL
     * needs a non-NULL pointer to treat it as a key rather than "no key". */
    if (EVP_MAC_init(m->ctx, keylen ? key : &empty, keylen, params) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    m->size = EVP_MAC_CTX_get_mac_size(m->ctx);
    *out = m;
    m = NULL;
done:
    tcrypto_mac_free(m);
    return rc;
}

tcrypto_rc tcrypto_hmac_new(tcrypto_md md, const void *key, size_t keylen, tcrypto_mac **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL || (key == NULL && keylen != 0))
        return TCRYPTO_ERR_ARG;
    const char *name = tcx_md_name(md);
    if (name == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0),
        OSSL_PARAM_construct_end(),
    };
    return mac_new(tcx_mac_hmac(), params, key, keylen, out);
}

/* CMAC over a CBC cipher (AES or Triple DES) chosen for the key length. */
static tcrypto_rc cmac_new(bool des3, const void *key, size_t keylen, tcrypto_mac **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL || key == NULL)
        return TCRYPTO_ERR_ARG;
    if (des3 && keylen != 16 && keylen != 24)
        return TCRYPTO_ERR_KEY;
    const EVP_CIPHER *c = des3 ? tcx_des(true, keylen) : tcx_aes(TCX_AES_CBC, keylen);
    if (c == NULL)
        return TCRYPTO_ERR_KEY;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
                                         (char *)EVP_CIPHER_get0_name(c), 0),
        OSSL_PARAM_construct_end(),
    };
    return mac_new(tcx_mac_cmac(), params, key, keylen, out);
}

tcrypto_rc tcrypto_cmac_new(const void *key, size_t keylen, tcrypto_mac **out)
{
    return cmac_new(false, key, keylen, out);
}

tcrypto_rc tcrypto_cmac_des3_new(const void *key, size_t keylen, tcrypto_mac **out)
{
    return cmac_new(true, key, keylen, out);
}

tcrypto_rc tcrypto_mac_update(tcrypto_mac *m, const void *in, size_t n)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (m == NULL || m->done || (in == NULL && n != 0))
        return TCRYPTO_ERR_ARG;
    if (n == 0)
        return TCRYPTO_OK;
    if (EVP_MAC_update(m->ctx, in, n) != 1)
        return TCRYPTO_ERR_INTERNAL;
    return TCRYPTO_OK;
}

tcrypto_rc tcrypto_mac_final(tcrypto_mac *m, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (m == NULL || m->done || outlen == NULL)
        return TCRYPTO_ERR_ARG;
    if (tcx_out_precheck(out, outlen, m->size, &rc))
        return rc;
    size_t len = 0;
    if (EVP_MAC_final(m->ctx, out, &len, m->size) != 1)
        return TCRYPTO_ERR_INTERNAL;
    m->done = true;
    *outlen = len;
    return TCRYPTO_OK;
}

size_t tcrypto_mac_size(const tcrypto_mac *m)
{
    return m ? m->size : 0;
}

tcrypto_rc tcrypto_mac_dup(const tcrypto_mac *m, tcrypto_mac **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (m == NULL || out == NULL || m->done)
        return TCRYPTO_ERR_ARG;
    tcrypto_mac *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return TCRYPTO_ERR_NOMEM;
    c->ctx = EVP_MAC_CTX_dup(m->ctx);
    if (c->ctx == NULL) {
        free(c);
        return TCRYPTO_ERR_NOMEM;
    }
    c->size = m->size;
    *out = c;
    return TCRYPTO_OK;
}

void tcrypto_mac_free(tcrypto_mac *m)
{
    if (m == NULL)
        return;
    EVP_MAC_CTX_free(m->ctx); /* the HMAC/CMAC providers cleanse key state */
    free(m);
}

tcrypto_rc tcrypto_hmac_oneshot(tcrypto_md md, const void *key, size_t keylen, const void *in,
                                size_t n, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    tcrypto_mac *m = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (outlen == NULL)
        return TCRYPTO_ERR_ARG;
    size_t need = tcrypto_md_size(md);
    if (need == 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    if (tcx_out_precheck(out, outlen, need, &rc))
        return rc;
    rc = tcrypto_hmac_new(md, key, keylen, &m);
    if (rc == TCRYPTO_OK)
        rc = tcrypto_mac_update(m, in, n);
    if (rc == TCRYPTO_OK)
        rc = tcrypto_mac_final(m, out, outlen);
    tcrypto_mac_free(m);
    return rc;
}
