/*
 * Message digests (SHA-1, SHA-2, SHA-3) over EVP_MD objects fetched once at
 * start-up.
 */
#include <stdlib.h>

#include "crypto/crypto_int.h"

struct tcrypto_digest {
    EVP_MD_CTX *ctx;
    tcrypto_md md;
    bool done; /* finalised: no more updates */
};

/* FIPS 180-4 §1 and FIPS 202 §7 (rate of each SHA-3 instance). */
size_t tcrypto_md_size(tcrypto_md md)
{
    switch (md) {
    case TCRYPTO_MD_SHA1: return 20;
    case TCRYPTO_MD_SHA224: case TCRYPTO_MD_SHA3_224: return 28;
    case TCRYPTO_MD_SHA256: case TCRYPTO_MD_SHA3_256: return 32;
    case TCRYPTO_MD_SHA384: case TCRYPTO_MD_SHA3_384: return 48;
    case TCRYPTO_MD_SHA512: case TCRYPTO_MD_SHA3_512: return 64;
    case TCRYPTO_MD_NONE: break;
    }
    return 0;
}

size_t tcrypto_md_block_size(tcrypto_md md)
{
    switch (md) {
    case TCRYPTO_MD_SHA1: case TCRYPTO_MD_SHA224: case TCRYPTO_MD_SHA256: return 64;
    case TCRYPTO_MD_SHA384: case TCRYPTO_MD_SHA512: return 128;
    case TCRYPTO_MD_SHA3_224: return 144;
    case TCRYPTO_MD_SHA3_256: return 136;
    case TCRYPTO_MD_SHA3_384: return 104;
    case TCRYPTO_MD_SHA3_512: return 72;
    case TCRYPTO_MD_NONE: break;
    }
    return 0;
}

tcrypto_rc tcrypto_digest_new(tcrypto_md md, tcrypto_digest **out)
{
    tcrypto_rc rc = tcx_ready();
    tcrypto_digest *d = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL)
        return TCRYPTO_ERR_ARG;
    const EVP_MD *m = tcx_md(md);
    if (m == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    d->md = md;
    d->ctx = EVP_MD_CTX_new();
    if (d->ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_DigestInit_ex2(d->ctx, m, NULL) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    *out = d;
    d = NULL;
done:
    tcrypto_digest_free(d);
    return rc;
}

tcrypto_rc tcrypto_digest_update(tcrypto_digest *d, const void *in, size_t n)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (d == NULL || d->done || (in == NULL && n != 0))
        return TCRYPTO_ERR_ARG;
    if (n == 0)
        return TCRYPTO_OK;
    if (EVP_DigestUpdate(d->ctx, in, n) != 1)
        return TCRYPTO_ERR_INTERNAL;
    return TCRYPTO_OK;
}

tcrypto_rc tcrypto_digest_final(tcrypto_digest *d, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (d == NULL || d->done || outlen == NULL)
        return TCRYPTO_ERR_ARG;
    if (tcx_out_precheck(out, outlen, tcrypto_md_size(d->md), &rc))
        return rc;
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(d->ctx, out, &len) != 1)
        return TCRYPTO_ERR_INTERNAL;
    d->done = true;
    *outlen = len;
    return TCRYPTO_OK;
}

tcrypto_rc tcrypto_digest_dup(const tcrypto_digest *d, tcrypto_digest **out)
{
    tcrypto_rc rc = tcx_ready();
    tcrypto_digest *c = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (d == NULL || out == NULL || d->done)
        return TCRYPTO_ERR_ARG;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    c->md = d->md;
    c->ctx = EVP_MD_CTX_new();
    if (c->ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_MD_CTX_copy_ex(c->ctx, d->ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    *out = c;
    c = NULL;
done:
    tcrypto_digest_free(c);
    return rc;
}

void tcrypto_digest_free(tcrypto_digest *d)
{
    if (d == NULL)
        return;
    EVP_MD_CTX_free(d->ctx); /* cleanses the state */
    free(d);
}

tcrypto_rc tcrypto_digest_oneshot(tcrypto_md md, const void *in, size_t n, uint8_t *out,
                                  size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (outlen == NULL || (in == NULL && n != 0))
        return TCRYPTO_ERR_ARG;
    const EVP_MD *m = tcx_md(md);
    if (m == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    if (tcx_out_precheck(out, outlen, tcrypto_md_size(md), &rc))
        return rc;
    unsigned int len = 0;
    static const uint8_t empty;
    if (EVP_Digest(n ? in : &empty, n, out, &len, m, NULL) != 1)
        return TCRYPTO_ERR_INTERNAL;
    *outlen = len;
    return TCRYPTO_OK;
}
