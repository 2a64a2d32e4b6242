/*
 * Key agreement: ECDH (SEC 1 §3.3.1, standard — not cofactor — Diffie-Hellman
 * primitive; the NIST curves have cofactor 1) and X25519/X448 (RFC 7748 §5).
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "crypto/crypto_int.h"

/* Peer public key from an uncompressed point; a point not on the curve is
 * refused here (the decoder checks it). */
static tcrypto_rc ec_peer(const tcrypto_pkey *k, const uint8_t *peer, size_t peer_len,
                          EVP_PKEY **out)
{
    tcrypto_rc rc = TCRYPTO_OK;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (peer_len != 1 + 2 * k->bytes || peer[0] != 0x04)
        return TCRYPTO_ERR_KEY;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        tcx_curve_group(k->curve), 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, peer, peer_len) != 1 ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(tcx_libctx(), tcx_keytype_name(TCRYPTO_KEY_EC), NULL)) == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_PKEY_fromdata_init(ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    if (EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
        rc = TCRYPTO_ERR_KEY;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

tcrypto_rc tcrypto_derive(const tcrypto_pkey *priv, const uint8_t *peer, size_t peer_len,
                          uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    EVP_PKEY *pp = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t secret[66];
    size_t slen = sizeof(secret);
    if (rc != TCRYPTO_OK)
        return rc;
    if (priv == NULL || peer == NULL || outlen == NULL)
        return TCRYPTO_ERR_ARG;
    if (!priv->priv)
        return TCRYPTO_ERR_KEY;
    switch (priv->type) {
    case TCRYPTO_KEY_EC:
        rc = ec_peer(priv, peer, peer_len, &pp);
        break;
    case TCRYPTO_KEY_X25519:
    case TCRYPTO_KEY_X448:
        if (peer_len != priv->bytes)
            return TCRYPTO_ERR_KEY;
        pp = EVP_PKEY_new_raw_public_key_ex(tcx_libctx(), tcx_keytype_name(priv->type), NULL, peer,
                                            peer_len);
        rc = pp ? TCRYPTO_OK : TCRYPTO_ERR_KEY;
        break;
    default:
        return TCRYPTO_ERR_KEY;
    }
    if (rc != TCRYPTO_OK)
        goto done;
    size_t need = priv->bytes; /* field size: x coordinate / u coordinate */
    if (tcx_out_precheck(out, outlen, need, &rc))
        goto done;
    ctx = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), priv->pk, NULL);
    if (ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_PKEY_derive_init(ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    /* validate_peer = 1: public key check of the peer (SP 800-56A
     * §5.6.2.3). */
    if (EVP_PKEY_derive_set_peer_ex(ctx, pp, 1) != 1) {
        rc = TCRYPTO_ERR_KEY;
        goto done;
    }
    if (EVP_PKEY_derive(ctx, secret, &slen) != 1) {
        /* X25519/X448: an all-zero result means a small-order peer point
         * (RFC 7748 §6.1), which OpenSSL refuses. */
        rc = priv->type == TCRYPTO_KEY_EC ? TCRYPTO_ERR_INTERNAL : TCRYPTO_ERR_KEY;
        goto done;
    }
    if (slen != need) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    memcpy(out, secret, slen);
    *outlen = slen;
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pp);
    return rc;
}
