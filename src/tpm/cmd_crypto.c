/*
 * Asymmetric and symmetric primitives (Part 3 §14, §15, §20): RSA_Encrypt,
 * RSA_Decrypt, ECDH_KeyGen, ECDH_ZGen, ECC_Parameters, EncryptDecrypt(2),
 * Sign, VerifySignature.
 */
#include <string.h>

#include "tpm/ttpm.h"

static ttpm_rc key_object(ttpm_cmd *c, unsigned hidx, ttpm_object **out)
{
    ttpm_object *o = ttpm_obj_get(c->t, c->h[hidx]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY)
        return TPM_RC_HANDLE | TTPM_RC_H(hidx + 1);
    *out = o;
    return TPM_RC_SUCCESS;
}

/* TPMT_SIG_SCHEME: scheme and, except for NULL, a hash; ECDAA adds the
 * commit count. */
static ttpm_rc get_sig_scheme(tc_reader *r, uint16_t *scheme, uint16_t *hash, uint16_t *count)
{
    ttpm_rc rc;
    *hash = TPM_ALG_NULL;
    *count = 0;
    if ((rc = ttpm_get_u16(r, scheme)) != 0)
        return rc;
    switch (*scheme) {
    case TPM_ALG_NULL:
        return TPM_RC_SUCCESS;
    case TPM_ALG_RSASSA: case TPM_ALG_RSAPSS: case TPM_ALG_ECDSA: case TPM_ALG_HMAC:
    case TPM_ALG_ECDAA:
        if ((rc = ttpm_get_u16(r, hash)) != 0)
            return rc;
        if (*scheme == TPM_ALG_ECDAA && (rc = ttpm_get_u16(r, count)) != 0)
            return rc;
        return ttpm_check_hash(*hash, false);
    default:
        return TPM_RC_SCHEME;
    }
}

/* Choose the scheme: the key's own, or the caller's when the key has none
 * (Part 1 §C.4: TPM_RC_SCHEME for a conflict). */
static ttpm_rc pick_scheme(const ttpm_object *o, uint16_t *scheme, uint16_t *hash)
{
    uint16_t ks = o->pub.scheme, kh = o->pub.scheme_hash;
    if (ks != TPM_ALG_NULL) {
        if (*scheme != TPM_ALG_NULL && (*scheme != ks || *hash != kh))
            return TPM_RC_SCHEME;
        *scheme = ks;
        *hash = kh;
        return TPM_RC_SUCCESS;
    }
    return *scheme == TPM_ALG_NULL ? TPM_RC_SCHEME : TPM_RC_SUCCESS;
}

TTPM_HANDLER(Sign)
{
    ttpm *t = c->t;
    ttpm_object *o;
    ttpm_ref digest, tkd;
    uint16_t scheme, hash, tag, count;
    uint32_t hier;
    ttpm_rc rc;
    if ((rc = key_object(c, 0, &o)) != 0)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &digest)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = get_sig_scheme(&c->in, &scheme, &hash, &count)) != 0)
        return ttpm_rc_param(rc, 2);
    if (ttpm_get_u16(&c->in, &tag) || ttpm_get_u32(&c->in, &hier) ||
        ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &tkd))
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (!(o->pub.attrs & TPMA_OBJECT_SIGN) || !o->has_sens)
        return TPM_RC_KEY | TTPM_RC_H(1);
    if ((rc = pick_scheme(o, &scheme, &hash)) != 0)
        return rc | TTPM_RC_P(2);
    if (digest.size != tcrypto_tpm_hash_size(hash))
        return TPM_RC_SIZE | TTPM_RC_P(1);
    if (o->pub.attrs & TPMA_OBJECT_RESTRICTED) {
        /* A restricted key signs only digests the TPM computed over data
         * that does not start with TPM_GENERATED (Part 3 §20.2). */
        uint8_t tk[32];
        tcrypto_tpm_iov v = { digest.b, digest.size };
        if (tag != TPM_ST_HASHCHECK || hier == TPM_RH_NULL || tkd.size != 32 ||
            ttpm_ticket(t, TPM_ST_HASHCHECK, hier, &v, 1, tk) != 0 || !tcrypto_memeq(tk, tkd.b, 32))
            return TPM_RC_TICKET | TTPM_RC_P(3);
    }
    ttpm_signature sig;
    memset(&sig, 0, sizeof(sig));
    sig.alg = scheme;
    sig.hash = hash;
    if (o->pub.type == TPM_ALG_KEYEDHASH) {
        if (scheme != TPM_ALG_HMAC)
            return TPM_RC_SCHEME | TTPM_RC_P(2);
        tcrypto_tpm_iov v = { digest.b, digest.size };
        if (tcrypto_tpm_hmac(hash, o->sens.sens, o->sens.sens_len, &v, 1, sig.a) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        sig.a_len = (uint16_t)tcrypto_tpm_hash_size(hash);
    } else if (scheme == TPM_ALG_ECDAA) {
        if (o->pub.type != TPM_ALG_ECC)
            return TPM_RC_SCHEME | TTPM_RC_P(2);
        if ((rc = ttpm_ecdaa_sign(c->t, o, hash, count, digest.b, digest.size, &sig)) != 0)
            return rc;
    } else {
        if ((o->pub.type == TPM_ALG_RSA) != (scheme == TPM_ALG_RSASSA || scheme == TPM_ALG_RSAPSS))
            return TPM_RC_SCHEME | TTPM_RC_P(2);
        tcrypto_tpm_key *k;
        if ((rc = ttpm_obj_key(o, &k)) != 0)
            return rc;
        size_t sl = sizeof(sig.a);
        if (tcrypto_tpm_sign(k, scheme, hash, digest.b, digest.size, sig.a, &sl, sig.b) !=
            TCRYPTO_OK)
            return TPM_RC_FAILURE;
        sig.a_len = (uint16_t)sl;
        if (scheme == TPM_ALG_ECDSA)
            sig.b_len = (uint16_t)sl;
    }
    ttpm_put_signature(c->out, &sig);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(VerifySignature)
{
    ttpm *t = c->t;
    ttpm_object *o;
    ttpm_ref digest;
    ttpm_signature sig;
    ttpm_rc rc;
    if ((rc = key_object(c, 0, &o)) != 0)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &digest)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_signature(&c->in, &sig)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (!(o->pub.attrs & TPMA_OBJECT_SIGN))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    bool ok;
    if (o->pub.type == TPM_ALG_KEYEDHASH) {
        uint8_t m[TTPM_MAX_DIGEST];
        tcrypto_tpm_iov v = { digest.b, digest.size };
        if (sig.alg != TPM_ALG_HMAC || !o->has_sens)
            return TPM_RC_SCHEME | TTPM_RC_P(2);
        if (tcrypto_tpm_hmac(sig.hash, o->sens.sens, o->sens.sens_len, &v, 1, m) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        ok = sig.a_len == tcrypto_tpm_hash_size(sig.hash) && tcrypto_memeq(m, sig.a, sig.a_len);
    } else {
        bool rsa = sig.alg == TPM_ALG_RSASSA || sig.alg == TPM_ALG_RSAPSS;
        if ((o->pub.type == TPM_ALG_RSA) != rsa || (!rsa && sig.alg != TPM_ALG_ECDSA))
            return TPM_RC_SCHEME | TTPM_RC_P(2);
        tcrypto_tpm_key *k;
        if ((rc = ttpm_obj_key(o, &k)) != 0)
            return rc;
        ok = tcrypto_tpm_verify(k, sig.alg, sig.hash, digest.b, digest.size, sig.a, sig.a_len,
                                sig.b, sig.b_len) == TCRYPTO_OK;
    }
    if (!ok)
        return TPM_RC_SIGNATURE | TTPM_RC_P(2);
    tc_buf_put_u16(c->out, TPM_ST_VERIFIED);
    if (o->hierarchy == TPM_RH_NULL) {
        tc_buf_put_u32(c->out, TPM_RH_NULL);
        ttpm_put_2b(c->out, NULL, 0);
        return TPM_RC_SUCCESS;
    }
    uint8_t tk[32];
    tcrypto_tpm_iov tv[2] = { { digest.b, digest.size }, { o->name, o->name_len } };
    if ((rc = ttpm_ticket(t, TPM_ST_VERIFIED, o->hierarchy, tv, 2, tk)) != 0)
        return rc;
    tc_buf_put_u32(c->out, o->hierarchy);
    ttpm_put_2b(c->out, tk, 32);
    return TPM_RC_SUCCESS;
}

/* TPMT_RSA_DECRYPT + key scheme (Part 3 §14.2). */
static ttpm_rc rsa_params(ttpm_cmd *c, ttpm_object *o, uint16_t *scheme, uint16_t *hash,
                          ttpm_ref *label, uint8_t *lbuf, size_t *llen)
{
    ttpm_rc rc;
    if ((rc = ttpm_get_u16(&c->in, scheme)) != 0)
        return ttpm_rc_param(rc, 2);
    *hash = TPM_ALG_NULL;
    if (*scheme == TPM_ALG_OAEP) {
        if ((rc = ttpm_get_u16(&c->in, hash)) != 0 || (rc = ttpm_check_hash(*hash, false)) != 0)
            return ttpm_rc_param(rc, 2);
    } else if (*scheme != TPM_ALG_RSAES && *scheme != TPM_ALG_NULL) {
        return TPM_RC_SCHEME | TTPM_RC_P(2);
    }
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, label)) != 0)
        return ttpm_rc_param(rc, 3);
    if (o->pub.type != TPM_ALG_RSA)
        return TPM_RC_KEY | TTPM_RC_H(1);
    if (!(o->pub.attrs & TPMA_OBJECT_DECRYPT) || (o->pub.attrs & TPMA_OBJECT_RESTRICTED))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    if (o->pub.scheme != TPM_ALG_NULL) {
        if (*scheme != TPM_ALG_NULL && (*scheme != o->pub.scheme || *hash != o->pub.scheme_hash))
            return TPM_RC_SCHEME | TTPM_RC_P(2);
        *scheme = o->pub.scheme;
        *hash = o->pub.scheme_hash;
    }
    /* A label is a zero-terminated string and is used as sent, zero
     * included (Part 1 §B.4); one without the zero is refused rather than
     * completed, as the reference implementation does. */
    if (label->size && label->b[label->size - 1] != 0)
        return TPM_RC_VALUE | TTPM_RC_P(3);
    *llen = label->size;
    memcpy(lbuf, label->b, label->size);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(RSA_Encrypt)
{
    ttpm_object *o;
    ttpm_ref msg, label;
    uint16_t scheme, hash;
    uint8_t lbuf[TTPM_MAX_DIGEST + 1], out[TTPM_MAX_RSA_BYTES];
    size_t llen, outlen = sizeof(out);
    ttpm_rc rc;
    if ((rc = key_object(c, 0, &o)) != 0)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_RSA_BYTES, &msg)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = rsa_params(c, o, &scheme, &hash, &label, lbuf, &llen)) != 0)
        return rc;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    tcrypto_tpm_key *k;
    if ((rc = ttpm_obj_key(o, &k)) != 0)
        return rc;
    if (tcrypto_tpm_rsa_encrypt(k, scheme, hash, lbuf, llen, msg.b, msg.size, out, &outlen) !=
        TCRYPTO_OK)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    ttpm_put_2b(c->out, out, (uint16_t)outlen);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(RSA_Decrypt)
{
    ttpm_object *o;
    ttpm_ref ct, label;
    uint16_t scheme, hash;
    uint8_t lbuf[TTPM_MAX_DIGEST + 1], out[TTPM_MAX_RSA_BYTES];
    size_t llen, outlen = sizeof(out);
    ttpm_rc rc;
    if ((rc = key_object(c, 0, &o)) != 0)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_RSA_BYTES, &ct)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = rsa_params(c, o, &scheme, &hash, &label, lbuf, &llen)) != 0)
        return rc;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (!o->has_sens)
        return TPM_RC_KEY | TTPM_RC_H(1);
    tcrypto_tpm_key *k;
    if ((rc = ttpm_obj_key(o, &k)) != 0)
        return rc;
    tcrypto_rc cr = tcrypto_tpm_rsa_decrypt(k, scheme, hash, lbuf, llen, ct.b, ct.size, out, &outlen);
    if (cr != TCRYPTO_OK) {
        tc_wipe(out, sizeof(out));
        return cr == TCRYPTO_ERR_INPUT ? TPM_RC_SIZE | TTPM_RC_P(1) : TPM_RC_VALUE | TTPM_RC_P(1);
    }
    ttpm_put_2b(c->out, out, (uint16_t)outlen);
    tc_wipe(out, sizeof(out));
    return TPM_RC_SUCCESS;
}

static ttpm_rc sym_crypt(ttpm_cmd *c, uint8_t decrypt, uint16_t mode, const ttpm_ref *iv_in,
                         const ttpm_ref *data, unsigned p_dec, unsigned p_mode, unsigned p_iv,
                         unsigned p_data)
{
    ttpm_object *o;
    ttpm_rc rc;
    if ((rc = key_object(c, 0, &o)) != 0)
        return rc;
    if (o->pub.type != TPM_ALG_SYMCIPHER || !o->has_sens)
        return TPM_RC_KEY | TTPM_RC_H(1);
    if (decrypt > 1)
        return TPM_RC_VALUE | TTPM_RC_P(p_dec);
    /* Part 3 §15.2: decryption needs decrypt, encryption needs sign. */
    if (o->pub.attrs & TPMA_OBJECT_RESTRICTED)
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    if (!(o->pub.attrs & (decrypt ? TPMA_OBJECT_DECRYPT : TPMA_OBJECT_SIGN)))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    if (o->pub.sym_mode != TPM_ALG_NULL) {
        if (mode != TPM_ALG_NULL && mode != o->pub.sym_mode)
            return TPM_RC_MODE | TTPM_RC_P(p_mode);
        mode = o->pub.sym_mode;
    }
    if (mode != TPM_ALG_CFB && mode != TPM_ALG_CBC && mode != TPM_ALG_CTR &&
        mode != TPM_ALG_OFB && mode != TPM_ALG_ECB)
        return TPM_RC_MODE | TTPM_RC_P(p_mode);
    uint8_t iv[16] = { 0 };
    if (mode != TPM_ALG_ECB) {
        if (iv_in->size != 16)
            return TPM_RC_SIZE | TTPM_RC_P(p_iv);
        memcpy(iv, iv_in->b, 16);
    }
    if ((mode == TPM_ALG_CBC || mode == TPM_ALG_ECB) && data->size % 16)
        return TPM_RC_SIZE | TTPM_RC_P(p_data);
    uint8_t out[1024];
    if (tcrypto_tpm_aes_mode(mode, !decrypt, o->sens.sens, o->sens.sens_len, iv, data->b,
                             data->size, out) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_put_2b(c->out, out, data->size);
    ttpm_put_2b(c->out, iv, mode == TPM_ALG_ECB ? 0 : 16);
    tc_wipe(out, sizeof(out));
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(EncryptDecrypt)
{
    uint8_t dec;
    uint16_t mode;
    ttpm_ref iv, data;
    ttpm_rc rc;
    if ((rc = ttpm_get_u8(&c->in, &dec)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &mode)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, 16, &iv)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_2b(&c->in, 1024, &data)) != 0)
        return ttpm_rc_param(rc, 4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    return sym_crypt(c, dec, mode, &iv, &data, 1, 2, 3, 4);
}

TTPM_HANDLER(EncryptDecrypt2)
{
    uint8_t dec;
    uint16_t mode;
    ttpm_ref iv, data;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, 1024, &data)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u8(&c->in, &dec)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u16(&c->in, &mode)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_2b(&c->in, 16, &iv)) != 0)
        return ttpm_rc_param(rc, 4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    return sym_crypt(c, dec, mode, &iv, &data, 2, 3, 4, 1);
}
