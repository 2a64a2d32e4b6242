/*
 * Key-producing mechanisms: generation, wrap/unwrap, derivation.
 * PKCS#11 3.0 §5.14 (C_GenerateKey ... C_DeriveKey) and the Current
 * Mechanisms specification for each mechanism.
 */
#include "core/mech_int.h"

/* ---- generation ----------------------------------------------------------- */

/* CKM_DES_KEY_GEN, CKM_DES2_KEY_GEN, CKM_DES3_KEY_GEN (Current Mechanisms
 * 3.0): fixed-length keys with odd parity in every byte. A template may name
 * the fixed length only. The key parts of a DES2/DES3 key are all different
 * (equal parts would make it single DES). */
static CK_RV generate_des(const tcore_mech_def *d, bool len_given, CK_ULONG vlen,
                          CK_KEY_TYPE *key_type, uint8_t **secret, size_t *len)
{
    CK_KEY_TYPE kt = d->type == CKM_DES_KEY_GEN    ? CKK_DES
                     : d->type == CKM_DES2_KEY_GEN ? CKK_DES2
                                                   : CKK_DES3;
    size_t n = tcore_des_key_len(kt);
    CK_RV rv = CKR_OK;
    if (len_given && vlen != n)
        return CKR_TEMPLATE_INCONSISTENT;
    uint8_t *v = tcrypto_secure_alloc(n);
    if (v == NULL)
        return CKR_HOST_MEMORY;
    for (;;) {
        rv = tcore_rv_from_crypto(tcrypto_random(v, n));
        if (rv != CKR_OK)
            break;
        tcore_des_set_parity(v, n);
        bool distinct = true;
        for (size_t i = 0; i + 8 < n; i += 8)
            distinct &= !tcrypto_memeq(v + i, v + i + 8, 8);
        if (n == 24)
            distinct &= !tcrypto_memeq(v, v + 16, 8);
        if (distinct)
            break;
    }
    if (rv != CKR_OK) {
        tcrypto_secure_free(v, n);
        return rv;
    }
    *key_type = kt;
    *secret = v;
    *len = n;
    return CKR_OK;
}

CK_RV tcore_mech_generate_secret(const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl,
                                 CK_ULONG n, CK_KEY_TYPE *key_type, uint8_t **secret,
                                 size_t *len)
{
    CK_ULONG vlen = 0;
    bool found;
    uint8_t *v = NULL;
    if (mech == NULL || key_type == NULL || secret == NULL || len == NULL)
        return CKR_ARGUMENTS_BAD;
    const tcore_mech_def *d = tcore_mech_find(mech->mechanism);
    if (d == NULL || !(d->flags & CKF_GENERATE))
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = tcore_tmpl_ulong(tmpl, n, CKA_VALUE_LEN, &vlen, &found);
    if (rv != CKR_OK)
        return rv;
    if (d->fam == MF_DES_GEN)
        return generate_des(d, found, vlen, key_type, secret, len);
    /* §6.7.3 / §6.6.3: CKA_VALUE_LEN is required in the template. */
    if (!found)
        return CKR_TEMPLATE_INCOMPLETE;
    if (vlen < d->min || vlen > d->max)
        return CKR_KEY_SIZE_RANGE;
    if (d->fam == MF_AES_GEN && vlen != 16 && vlen != 24 && vlen != 32)
        return CKR_KEY_SIZE_RANGE;
    v = tcrypto_secure_alloc(vlen);
    if (v == NULL)
        return CKR_HOST_MEMORY;
    rv = tcore_rv_from_crypto(tcrypto_random(v, vlen));
    if (rv != CKR_OK) {
        tcrypto_secure_free(v, vlen);
        return rv;
    }
    *key_type = d->fam == MF_AES_GEN                  ? CKK_AES
                : mech->mechanism == CKM_HKDF_KEY_GEN ? CKK_HKDF
                                                      : CKK_GENERIC_SECRET;
    *secret = v;
    *len = vlen;
    return CKR_OK;
}

static CK_RV curve_from_template(const CK_ATTRIBUTE *tmpl, CK_ULONG n, tcrypto_key_type *type,
                                 tcrypto_curve *curve)
{
    const CK_ATTRIBUTE *a = tcore_tmpl_find(tmpl, n, CKA_EC_PARAMS);
    if (a == NULL)
        return CKR_TEMPLATE_INCOMPLETE;
    if (a->pValue == NULL || a->ulValueLen == 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    tcrypto_rc rc = tcrypto_ec_params_parse(a->pValue, a->ulValueLen, type, curve);
    if (rc == TCRYPTO_ERR_UNSUPPORTED)
        return CKR_CURVE_NOT_SUPPORTED;
    if (rc != TCRYPTO_OK)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

CK_RV tcore_mech_generate_pair(const CK_MECHANISM *mech, const CK_ATTRIBUTE *pub_tmpl,
                               CK_ULONG pub_count, CK_KEY_TYPE *key_type, tcrypto_pkey **pub,
                               tcrypto_pkey **priv)
{
    tcrypto_pkey *k = NULL, *p = NULL;
    tcrypto_key_type type = 0;
    tcrypto_curve curve = TCRYPTO_CURVE_NONE;
    tcrypto_rc rc;
    CK_RV rv;
    if (mech == NULL || key_type == NULL || pub == NULL || priv == NULL)
        return CKR_ARGUMENTS_BAD;
    const tcore_mech_def *d = tcore_mech_find(mech->mechanism);
    if (d == NULL || !(d->flags & CKF_GENERATE_KEY_PAIR))
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    switch (d->fam) {
    case MF_RSA_GEN: {
        CK_ULONG bits = 0;
        bool found;
        rv = tcore_tmpl_ulong(pub_tmpl, pub_count, CKA_MODULUS_BITS, &bits, &found);
        if (rv != CKR_OK)
            return rv;
        if (!found)
            return CKR_TEMPLATE_INCOMPLETE;
        if (bits < tcore_mech_min(d) || bits > d->max)
            return CKR_KEY_SIZE_RANGE;
        const CK_ATTRIBUTE *e = tcore_tmpl_find(pub_tmpl, pub_count, CKA_PUBLIC_EXPONENT);
        if (e != NULL && (e->pValue == NULL || e->ulValueLen == 0 || e->ulValueLen > 8))
            return CKR_ATTRIBUTE_VALUE_INVALID;
        rc = tcrypto_rsa_generate((unsigned)bits, e ? e->pValue : NULL, e ? e->ulValueLen : 0, &k);
        if (rc == TCRYPTO_ERR_ARG || rc == TCRYPTO_ERR_INPUT || rc == TCRYPTO_ERR_KEY)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        break;
    }
    case MF_EC_GEN:
        rv = curve_from_template(pub_tmpl, pub_count, &type, &curve);
        if (rv != CKR_OK)
            return rv;
        if (type != TCRYPTO_KEY_EC)
            return CKR_CURVE_NOT_SUPPORTED;
        rc = tcrypto_ec_generate(curve, &k);
        break;
    case MF_ED_GEN:
    case MF_X_GEN:
        rv = curve_from_template(pub_tmpl, pub_count, &type, &curve);
        if (rv != CKR_OK)
            return rv;
        if (d->fam == MF_ED_GEN ? (type != TCRYPTO_KEY_ED25519 && type != TCRYPTO_KEY_ED448)
                                : (type != TCRYPTO_KEY_X25519 && type != TCRYPTO_KEY_X448))
            return CKR_CURVE_NOT_SUPPORTED;
        rc = tcrypto_raw_generate(type, &k);
        break;
    default:
        return CKR_MECHANISM_INVALID;
    }
    if (rc == TCRYPTO_ERR_UNSUPPORTED)
        return CKR_CURVE_NOT_SUPPORTED;
    if (rc != TCRYPTO_OK)
        return tcore_rv_from_crypto(rc);
    rc = tcrypto_pkey_public(k, &p);
    if (rc != TCRYPTO_OK) {
        tcrypto_pkey_free(k);
        return tcore_rv_from_crypto(rc);
    }
    *key_type = tcore_ckk_from_crypto(tcrypto_pkey_type(k));
    *pub = p;
    *priv = k;
    return CKR_OK;
}

/* ---- wrap / unwrap ---------------------------------------------------------- */

static CK_RV map_wrapping_rv(CK_RV rv, bool unwrap)
{
    switch (rv) {
    case CKR_KEY_TYPE_INCONSISTENT:
        return unwrap ? CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT : CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
    case CKR_KEY_SIZE_RANGE:
        return unwrap ? CKR_UNWRAPPING_KEY_SIZE_RANGE : CKR_WRAPPING_KEY_SIZE_RANGE;
    default:
        return rv;
    }
}

CK_RV tcore_mech_wrap(const CK_MECHANISM *mech, tcore_obj *wrapping, tcore_obj *key,
                      uint8_t *out, CK_ULONG *outlen)
{
    tcore_op *op = NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    bool plain_secure = false;
    tcrypto_pkey *pk = NULL;
    CK_RV rv;
    if (mech == NULL || outlen == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = tcore_op_init_usage(TCORE_OP_ENCRYPT, mech, wrapping, CKA_WRAP, &op);
    if (rv != CKR_OK) {
        rv = map_wrapping_rv(rv, false);
        goto done;
    }
    /* §5.14 C_WrapKey: the key must be extractable, and a key marked
     * CKA_WRAP_WITH_TRUSTED only goes under a CKA_TRUSTED wrapping key. */
    if (!tcore_obj_bool(key, CKA_EXTRACTABLE, false)) {
        rv = CKR_KEY_UNEXTRACTABLE;
        goto done;
    }
    if (tcore_obj_bool(key, CKA_WRAP_WITH_TRUSTED, false) &&
        !tcore_obj_bool(wrapping, CKA_TRUSTED, false)) {
        rv = CKR_KEY_NOT_WRAPPABLE;
        goto done;
    }
    CK_OBJECT_CLASS cls = tcore_obj_class(key);
    CK_MECHANISM_TYPE mt = mech->mechanism;
    if (cls == CKO_SECRET_KEY) {
        rv = tcore_obj_secret(key, &plain, &plain_len);
        if (rv != CKR_OK)
            goto done;
        plain_secure = true;
    } else if (cls == CKO_PRIVATE_KEY &&
               (mt == CKM_AES_KEY_WRAP_PAD || mt == CKM_AES_KEY_WRAP_KWP)) {
        /* Private keys travel as PKCS#8 PrivateKeyInfo (§2.1.x "wrapping
         * private keys"); only the padded AES wrap fits their lengths. */
        size_t n = 0;
        rv = tcore_obj_pkey(key, &pk);
        if (rv != CKR_OK)
            goto done;
        rv = tcore_rv_from_crypto(tcrypto_pkey_to_pkcs8(pk, NULL, &n));
        if (rv != CKR_OK)
            goto done;
        plain = tcrypto_secure_alloc(n);
        if (plain == NULL) {
            rv = CKR_HOST_MEMORY;
            goto done;
        }
        plain_secure = true;
        plain_len = n;
        rv = tcore_rv_from_crypto(tcrypto_pkey_to_pkcs8(pk, plain, &n));
        if (rv != CKR_OK)
            goto done;
        plain_len = n;
    } else {
        rv = CKR_KEY_NOT_WRAPPABLE;
        goto done;
    }
    rv = tcore_op_oneshot(op, plain, plain_len, out, outlen);
    if (rv == CKR_DATA_LEN_RANGE)
        rv = CKR_KEY_SIZE_RANGE;
done:
    if (plain_secure)
        tcrypto_secure_free(plain, plain_len);
    tcrypto_pkey_free(pk);
    tcore_op_free(op);
    return rv;
}

CK_RV tcore_mech_unwrap(const CK_MECHANISM *mech, tcore_obj *unwrapping, const uint8_t *in,
                        size_t inlen, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        CK_OBJECT_CLASS *cls, CK_KEY_TYPE *key_type, tcore_keymat *material)
{
    tcore_op *op = NULL;
    uint8_t *plain = NULL;
    size_t cap = 0;
    CK_ULONG plain_len = 0;
    CK_OBJECT_CLASS c = 0;
    CK_KEY_TYPE kt = 0;
    bool found, kt_found;
    tcrypto_pkey *pk = NULL;
    CK_RV rv;
    if (mech == NULL || cls == NULL || key_type == NULL || material == NULL ||
        (in == NULL && inlen != 0))
        return CKR_ARGUMENTS_BAD;
    rv = tcore_op_init_usage(TCORE_OP_DECRYPT, mech, unwrapping, CKA_UNWRAP, &op);
    if (rv != CKR_OK) {
        rv = map_wrapping_rv(rv, true);
        goto done;
    }
    rv = tcore_tmpl_ulong(tmpl, n, CKA_CLASS, &c, &found);
    if (rv != CKR_OK)
        goto done;
    if (!found) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        goto done;
    }
    rv = tcore_tmpl_ulong(tmpl, n, CKA_KEY_TYPE, &kt, &kt_found);
    if (rv != CKR_OK)
        goto done;
    if (c != CKO_SECRET_KEY && c != CKO_PRIVATE_KEY) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        goto done;
    }
    if (c == CKO_SECRET_KEY && !kt_found) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        goto done;
    }
    rv = tcore_op_oneshot(op, in, inlen, NULL, &plain_len);
    if (rv != CKR_OK)
        goto done;
    cap = plain_len;
    plain = tcrypto_secure_alloc(cap ? cap : 1);
    if (plain == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }
    rv = tcore_op_oneshot(op, in, inlen, plain, &plain_len);
    if (rv != CKR_OK)
        goto done;
    if (c == CKO_PRIVATE_KEY) {
        if (tcrypto_pkey_from_pkcs8(plain, plain_len, &pk) != TCRYPTO_OK ||
            !tcrypto_pkey_has_private(pk)) {
            rv = CKR_WRAPPED_KEY_INVALID;
            goto done;
        }
        CK_KEY_TYPE got = tcore_ckk_from_crypto(tcrypto_pkey_type(pk));
        if (kt_found && kt != got) {
            rv = CKR_TEMPLATE_INCONSISTENT;
            goto done;
        }
        memset(material, 0, sizeof(*material));
        material->pkey = pk;
        pk = NULL;
        *cls = c;
        *key_type = got;
        rv = CKR_OK;
        goto done;
    }
    if (kt == CKK_AES && plain_len != 16 && plain_len != 24 && plain_len != 32) {
        rv = CKR_WRAPPED_KEY_INVALID;
        goto done;
    }
    /* A DES-family key of another length, or with a byte of even parity, is
     * not a DES key (Current Mechanisms 3.0: unwrapping such a key is an
     * error). */
    if (tcore_des_key_len(kt) != 0 &&
        (plain_len != tcore_des_key_len(kt) || !tcore_des_parity_ok(plain, plain_len))) {
        rv = CKR_WRAPPED_KEY_INVALID;
        goto done;
    }
    if (plain_len == 0) {
        rv = CKR_WRAPPED_KEY_INVALID;
        goto done;
    }
    memset(material, 0, sizeof(*material));
    material->secret = plain;
    material->secret_len = plain_len;
    /* The secure buffer now belongs to the caller; its size for freeing is
     * secret_len, so shrink our record of it. */
    if (cap != plain_len) {
        uint8_t *exact = tcrypto_secure_alloc(plain_len);
        if (exact == NULL) {
            rv = CKR_HOST_MEMORY;
            memset(material, 0, sizeof(*material));
            goto done;
        }
        memcpy(exact, plain, plain_len);
        tcrypto_secure_free(plain, cap);
        material->secret = exact;
    }
    plain = NULL;
    *cls = c;
    *key_type = kt;
    rv = CKR_OK;
done:
    /* §5.14 C_UnwrapKey names the decryption failures after the wrapped key. */
    if (rv == CKR_ENCRYPTED_DATA_INVALID)
        rv = CKR_WRAPPED_KEY_INVALID;
    else if (rv == CKR_ENCRYPTED_DATA_LEN_RANGE)
        rv = CKR_WRAPPED_KEY_LEN_RANGE;
    if (plain != NULL)
        tcrypto_secure_free(plain, cap ? cap : 1);
    tcrypto_pkey_free(pk);
    tcore_op_free(op);
    return rv;
}

/* ---- derivation ------------------------------------------------------------------ */

/* ANSI X9.63 KDF (SEC 1 §3.6.1), as CKD_SHA*_KDF specifies. */
static CK_RV x963_kdf(tcrypto_md md, const uint8_t *z, size_t zlen, const uint8_t *info,
                      size_t infolen, uint8_t *out, size_t outlen)
{
    uint8_t block[TCRYPTO_MAX_MD_SIZE];
    size_t hl = tcrypto_md_size(md);
    uint32_t counter = 1;
    size_t off = 0;
    CK_RV rv = CKR_OK;
    while (off < outlen) {
        tcrypto_digest *dg = NULL;
        uint8_t cb[4];
        size_t n = sizeof(block);
        tc_store_u32(cb, counter++);
        rv = tcore_rv_from_crypto(tcrypto_digest_new(md, &dg));
        if (rv == CKR_OK)
            rv = tcore_rv_from_crypto(tcrypto_digest_update(dg, z, zlen));
        if (rv == CKR_OK)
            rv = tcore_rv_from_crypto(tcrypto_digest_update(dg, cb, 4));
        if (rv == CKR_OK && infolen)
            rv = tcore_rv_from_crypto(tcrypto_digest_update(dg, info, infolen));
        if (rv == CKR_OK)
            rv = tcore_rv_from_crypto(tcrypto_digest_final(dg, block, &n));
        tcrypto_digest_free(dg);
        if (rv != CKR_OK)
            break;
        size_t take = outlen - off < hl ? outlen - off : hl;
        memcpy(out + off, block, take);
        off += take;
    }
    tc_wipe(block, sizeof(block));
    return rv;
}

static tcrypto_md kdf_md(CK_ULONG kdf)
{
    switch (kdf) {
    case CKD_SHA1_KDF: return TCRYPTO_MD_SHA1;
    case CKD_SHA224_KDF: return TCRYPTO_MD_SHA224;
    case CKD_SHA256_KDF: return TCRYPTO_MD_SHA256;
    case CKD_SHA384_KDF: return TCRYPTO_MD_SHA384;
    case CKD_SHA512_KDF: return TCRYPTO_MD_SHA512;
    default: return TCRYPTO_MD_NONE;
    }
}

/* The length the template asks for (CKA_VALUE_LEN), checked against the key
 * type; dflt when absent (0: required). */
static CK_RV derived_len(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_KEY_TYPE kt, size_t dflt,
                         size_t *out)
{
    CK_ULONG v = 0;
    bool found;
    CK_RV rv = tcore_tmpl_ulong(tmpl, n, CKA_VALUE_LEN, &v, &found);
    if (rv != CKR_OK)
        return rv;
    if (!found) {
        if (kt == CKK_AES && dflt != 16 && dflt != 24 && dflt != 32)
            return CKR_TEMPLATE_INCOMPLETE;
        if (dflt == 0)
            return CKR_TEMPLATE_INCOMPLETE;
        *out = dflt;
        return CKR_OK;
    }
    /* Up to HKDF's own limit with SHA-512 (RFC 5869 §2.3: 255 * HashLen). */
    if (v < 1 || v > 255 * TCRYPTO_MAX_MD_SIZE)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (kt == CKK_AES && v != 16 && v != 24 && v != 32)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = v;
    return CKR_OK;
}

static CK_RV derive_ecdh(const tcore_mech_def *d, const CK_MECHANISM *mech, tcore_obj *base,
                         CK_KEY_TYPE kt, const CK_ATTRIBUTE *tmpl, CK_ULONG n, uint8_t **secret,
                         size_t *len)
{
    CK_ECDH1_DERIVE_PARAMS p;
    tcrypto_pkey *k = NULL;
    uint8_t z[132];
    size_t zlen = sizeof(z), olen = 0;
    const uint8_t *pt = NULL;
    uint8_t *v = NULL;
    CK_RV rv;
    if (mech->pParameter == NULL || mech->ulParameterLen != sizeof(p))
        return CKR_MECHANISM_PARAM_INVALID;
    memcpy(&p, mech->pParameter, sizeof(p));
    tcrypto_md md = TCRYPTO_MD_NONE;
    if (p.kdf != CKD_NULL) {
        md = kdf_md(p.kdf);
        if (md == TCRYPTO_MD_NONE)
            return CKR_MECHANISM_PARAM_INVALID;
    } else if (p.ulSharedDataLen != 0) {
        /* §2.3.x: with CKD_NULL there is no shared data. */
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if ((p.ulSharedDataLen && p.pSharedData == NULL) || p.pPublicData == NULL ||
        p.ulPublicDataLen == 0)
        return CKR_MECHANISM_PARAM_INVALID;
    rv = tcore_mech_check_key(d, base, CKO_PRIVATE_KEY, CKA_DERIVE);
    if (rv != CKR_OK)
        return rv;
    rv = tcore_mech_pkey(d, base, &k);
    if (rv != CKR_OK)
        return rv;
    size_t raw_len;
    switch (tcrypto_pkey_type(k)) {
    case TCRYPTO_KEY_X25519: raw_len = 32; break;
    case TCRYPTO_KEY_X448: raw_len = 56; break;
    default: raw_len = 1 + 2 * ((tcrypto_pkey_bits(k) + 7) / 8); break;
    }
    /* Current Mechanisms §2.3.x: pPublicData may be the raw point or the
     * DER-encoding of CKA_EC_POINT */
    size_t ptlen;
    if (!tcore_ec_point_unwrap(p.pPublicData, p.ulPublicDataLen, raw_len, &pt, &ptlen)) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        goto done;
    }
    tcrypto_rc rc = tcrypto_derive(k, pt, raw_len, z, &zlen);
    if (rc == TCRYPTO_ERR_KEY || rc == TCRYPTO_ERR_INPUT || rc == TCRYPTO_ERR_ARG) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        goto done;
    }
    rv = tcore_rv_from_crypto(rc);
    if (rv != CKR_OK)
        goto done;
    rv = derived_len(tmpl, n, kt, zlen, &olen);
    if (rv != CKR_OK)
        goto done;
    if (md == TCRYPTO_MD_NONE && olen > zlen) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        goto done;
    }
    v = tcrypto_secure_alloc(olen);
    if (v == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }
    if (md == TCRYPTO_MD_NONE) {
        /* A shorter key takes the leading bytes of Z. */
        memcpy(v, z, olen);
    } else {
        rv = x963_kdf(md, z, zlen, p.pSharedData, p.ulSharedDataLen, v, olen);
        if (rv != CKR_OK)
            goto done;
    }
    *secret = v;
    *len = olen;
    v = NULL;
done:
    if (v != NULL)
        tcrypto_secure_free(v, olen);
    tc_wipe(z, sizeof(z));
    tcrypto_pkey_free(k);
    return rv;
}

static CK_RV derive_hkdf(const tcore_mech_def *d, const CK_MECHANISM *mech, tcore_obj *base,
                         tcore_obj *salt_key, CK_KEY_TYPE kt, const CK_ATTRIBUTE *tmpl,
                         CK_ULONG n, uint8_t **secret, size_t *len)
{
    CK_HKDF_PARAMS p;
    uint8_t *ikm = NULL, *skey = NULL, *v = NULL;
    size_t ikmlen = 0, skeylen = 0, olen = 0;
    const uint8_t *salt = NULL;
    size_t saltlen = 0;
    CK_RV rv;
    if (mech->pParameter == NULL || mech->ulParameterLen != sizeof(p))
        return CKR_MECHANISM_PARAM_INVALID;
    memcpy(&p, mech->pParameter, sizeof(p));
    tcrypto_md md = tcore_mech_md(p.prfHashMechanism);
    if (md == TCRYPTO_MD_NONE || (!p.bExtract && !p.bExpand))
        return CKR_MECHANISM_PARAM_INVALID;
    if (p.ulInfoLen && p.pInfo == NULL)
        return CKR_MECHANISM_PARAM_INVALID;
    /* PKCS#11 3.0 §2.43.2: exactly one salt type. */
    switch (p.ulSaltType) {
    case CKF_HKDF_SALT_NULL:
        break;
    case CKF_HKDF_SALT_DATA:
        if (p.pSalt == NULL || p.ulSaltLen == 0)
            return CKR_MECHANISM_PARAM_INVALID;
        salt = p.pSalt;
        saltlen = p.ulSaltLen;
        break;
    case CKF_HKDF_SALT_KEY:
        if (salt_key == NULL)
            return CKR_KEY_HANDLE_INVALID;
        if (tcore_obj_class(salt_key) != CKO_SECRET_KEY)
            return CKR_KEY_TYPE_INCONSISTENT;
        break;
    default:
        if (p.bExtract)
            return CKR_MECHANISM_PARAM_INVALID;
        break;
    }
    rv = tcore_mech_check_key(d, base, CKO_SECRET_KEY, CKA_DERIVE);
    if (rv != CKR_OK)
        return rv;
    size_t hl = tcrypto_md_size(md);
    if (p.bExpand) {
        rv = derived_len(tmpl, n, kt, 0, &olen);
        if (rv == CKR_OK && olen > 255 * hl)
            rv = CKR_TEMPLATE_INCONSISTENT;
    } else {
        rv = derived_len(tmpl, n, kt, hl, &olen);
        if (rv == CKR_OK && olen != hl)
            rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv != CKR_OK)
        return rv;
    rv = tcore_obj_secret(base, &ikm, &ikmlen);
    if (rv != CKR_OK)
        return rv;
    if (p.bExtract && p.ulSaltType == CKF_HKDF_SALT_KEY) {
        rv = tcore_obj_secret(salt_key, &skey, &skeylen);
        if (rv != CKR_OK)
            goto done;
        salt = skey;
        saltlen = skeylen;
    }
    v = tcrypto_secure_alloc(olen);
    if (v == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }
    tcrypto_hkdf_mode mode = p.bExtract && p.bExpand ? TCRYPTO_HKDF_EXTRACT_EXPAND
                             : p.bExtract            ? TCRYPTO_HKDF_EXTRACT
                                                     : TCRYPTO_HKDF_EXPAND;
    rv = tcore_rv_from_crypto(tcrypto_hkdf(md, mode, ikm, ikmlen, salt, saltlen,
                                           p.bExpand ? p.pInfo : NULL, p.bExpand ? p.ulInfoLen : 0,
                                           v, olen));
    if (rv != CKR_OK)
        goto done;
    *secret = v;
    *len = olen;
    v = NULL;
done:
    if (v != NULL)
        tcrypto_secure_free(v, olen);
    if (ikm != NULL)
        tcrypto_secure_free(ikm, ikmlen);
    if (skey != NULL)
        tcrypto_secure_free(skey, skeylen);
    return rv;
}

CK_RV tcore_mech_derive(const CK_MECHANISM *mech, tcore_obj *base, tcore_obj *salt_key,
                        const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_KEY_TYPE *key_type,
                        uint8_t **secret, size_t *len)
{
    CK_ULONG kt = CKK_GENERIC_SECRET, cls = CKO_SECRET_KEY;
    bool found;
    CK_RV rv;
    if (mech == NULL || base == NULL || key_type == NULL || secret == NULL || len == NULL)
        return CKR_ARGUMENTS_BAD;
    const tcore_mech_def *d = tcore_mech_find(mech->mechanism);
    if (d == NULL || !(d->flags & CKF_DERIVE))
        return CKR_MECHANISM_INVALID;
    rv = tcore_tmpl_ulong(tmpl, n, CKA_CLASS, &cls, &found);
    if (rv != CKR_OK)
        return rv;
    if (cls != CKO_SECRET_KEY)
        return CKR_TEMPLATE_INCONSISTENT;
    rv = tcore_tmpl_ulong(tmpl, n, CKA_KEY_TYPE, &kt, &found);
    if (rv != CKR_OK)
        return rv;
    if (kt != CKK_GENERIC_SECRET && kt != CKK_AES && kt != CKK_HKDF)
        return CKR_TEMPLATE_INCONSISTENT;
    if (d->fam == MF_ECDH)
        rv = derive_ecdh(d, mech, base, kt, tmpl, n, secret, len);
    else
        rv = derive_hkdf(d, mech, base, salt_key, kt, tmpl, n, secret, len);
    if (rv == CKR_OK)
        *key_type = kt;
    return rv;
}
