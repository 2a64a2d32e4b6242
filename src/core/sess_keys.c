/*
 * Key management of sessions (PKCS#11 3.0 §5.14) and random numbers
 * (§5.15). The mechanisms are mech_keys.c's (tcore_mech_*); each request
 * builds its objects with tcore_obj_new and makes them live with one
 * tcore_session_add_objects call, so it commits once: a key pair is two
 * objects in one store transaction, or neither.
 */
#include <string.h>

#include "core/core_int.h"


/* Which argument a failure of a mechanism function is about. */
static tcore_arg mech_arg(CK_RV rv, tcore_arg dflt)
{
    switch (rv) {
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
        return TCORE_ARG_MECHANISM;
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_ATTRIBUTE_READ_ONLY:
        return TCORE_ARG_TEMPLATE;
    case CKR_BUFFER_TOO_SMALL:
        return TCORE_ARG_OUTPUT;
    default:
        return dflt;
    }
}

/* One secret-key object from generated/derived material, added. */
static CK_RV add_secret(tcore_session *s, tcore_origin origin, CK_KEY_TYPE kt,
                        const CK_ATTRIBUTE *tmpl, CK_ULONG n, const uint8_t *secret, size_t len,
                        CK_MECHANISM_TYPE mech, const tcore_obj *base, CK_OBJECT_HANDLE *ph)
{
    tcore_obj *obj = NULL;
    tcore_keymat km;
    memset(&km, 0, sizeof(km));
    km.secret = secret;
    km.secret_len = len;
    tcore_caller cx = tcore_session_caller(s, TCORE_ARG_TEMPLATE);
    CK_RV rv = tcore_obj_new(s->token, &cx, origin, CKO_SECRET_KEY, kt, tmpl, n, &km, mech, base,
                             &obj);
    if (rv != CKR_OK) {
        return rv;
    }
    return tcore_session_add_objects(s, &obj, 1, ph);
}

CK_RV tcore_generate_key(tcore_session *s, const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl,
                         CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    uint8_t *secret = NULL;
    size_t len = 0;
    CK_KEY_TYPE kt = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    if (mech == NULL || out == NULL || (tmpl == NULL && n != 0)) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, mech == NULL ? TCORE_ARG_MECHANISM
                                                                     : TCORE_ARG_TEMPLATE);
    }
    CK_RV rv = tcore_mech_generate_secret(mech, tmpl, n, &kt, &secret, &len);
    if (rv == CKR_OK) {
        rv = add_secret(s, TCORE_ORIGIN_GENERATE, kt, tmpl, n, secret, len, mech->mechanism, NULL,
                        &h);
    }
    if (rv == CKR_OK) {
        *out = h;
    }
    if (secret != NULL) {
        tcrypto_secure_free(secret, len);
    }
    return tcore_session_fail(s, rv, mech_arg(rv, TCORE_ARG_TEMPLATE));
}

CK_RV tcore_generate_key_pair(tcore_session *s, const CK_MECHANISM *mech,
                              const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                              CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    tcrypto_pkey *kpub = NULL, *kpriv = NULL;
    tcore_obj *objs[2] = {NULL, NULL};
    CK_OBJECT_HANDLE handles[2];
    CK_KEY_TYPE kt = 0;
    tcore_keymat km;
    tcore_arg arg = TCORE_ARG_TEMPLATE;
    CK_RV rv;
    if (mech == NULL || hpub == NULL || hpriv == NULL || (pub == NULL && npub != 0) ||
        (priv == NULL && npriv != 0)) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_NONE);
    }
    rv = tcore_mech_generate_pair(mech, pub, npub, &kt, &kpub, &kpriv);
    if (rv != CKR_OK) {
        arg = mech_arg(rv, TCORE_ARG_MECHANISM);
        goto done;
    }
    memset(&km, 0, sizeof(km));
    km.pkey = kpub;
    tcore_caller cx = tcore_session_caller(s, TCORE_ARG_TEMPLATE);
    rv = tcore_obj_new(s->token, &cx, TCORE_ORIGIN_GENERATE, CKO_PUBLIC_KEY, kt, pub, npub, &km,
                       mech->mechanism, NULL, &objs[0]);
    if (rv != CKR_OK) {
        goto done;
    }
    km.pkey = kpriv;
    cx.tmpl_arg = TCORE_ARG_TEMPLATE2;
    arg = TCORE_ARG_TEMPLATE2;
    rv = tcore_obj_new(s->token, &cx, TCORE_ORIGIN_GENERATE, CKO_PRIVATE_KEY, kt, priv, npriv,
                       &km, mech->mechanism, NULL, &objs[1]);
    if (rv != CKR_OK) {
        goto done;
    }
    /* both halves in one call: one durable commit, or neither is added */
    arg = TCORE_ARG_NONE;
    rv = tcore_session_add_objects(s, objs, 2, handles);
    objs[0] = objs[1] = NULL;
    if (rv == CKR_OK) {
        *hpub = handles[0];
        *hpriv = handles[1];
    }
done:
    for (int i = 0; i < 2; i++) {
        tcore_obj_unref(objs[i]);
    }
    tcrypto_pkey_free(kpub);
    tcrypto_pkey_free(kpriv);
    return tcore_session_fail(s, rv, arg);
}

CK_RV tcore_wrap_key(tcore_session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE hwrapping,
                     CK_OBJECT_HANDLE hkey, uint8_t *out, CK_ULONG *outlen)
{
    tcore_obj *wrapping = NULL, *key = NULL;
    tcore_arg arg = TCORE_ARG_KEY2;
    CK_RV rv;
    if (mech == NULL || outlen == NULL) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, mech == NULL ? TCORE_ARG_MECHANISM
                                                                     : TCORE_ARG_OUTPUT);
    }
    rv = tcore_session_key(s, hwrapping, CKR_WRAPPING_KEY_HANDLE_INVALID, &wrapping);
    if (rv != CKR_OK) {
        goto done;
    }
    arg = TCORE_ARG_KEY;
    rv = tcore_session_key(s, hkey, CKR_KEY_HANDLE_INVALID, &key);
    if (rv != CKR_OK) {
        goto done;
    }
    rv = tcore_mech_wrap(mech, wrapping, key, out, outlen);
    arg = mech_arg(rv, TCORE_ARG_KEY);
done:
    tcore_obj_unref(wrapping);
    tcore_obj_unref(key);
    return tcore_session_fail(s, rv, arg);
}

CK_RV tcore_unwrap_key(tcore_session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE hunwrapping,
                       const uint8_t *in, size_t inlen, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       CK_OBJECT_HANDLE *out)
{
    tcore_obj *unwrapping = NULL, *obj = NULL;
    tcore_keymat km;
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    tcore_arg arg = TCORE_ARG_KEY2;
    CK_RV rv;
    memset(&km, 0, sizeof(km));
    if (mech == NULL || out == NULL || in == NULL || (tmpl == NULL && n != 0)) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_NONE);
    }
    rv = tcore_session_key(s, hunwrapping, CKR_UNWRAPPING_KEY_HANDLE_INVALID, &unwrapping);
    if (rv != CKR_OK) {
        goto done;
    }
    rv = tcore_mech_unwrap(mech, unwrapping, in, inlen, tmpl, n, &cls, &kt, &km);
    if (rv != CKR_OK) {
        arg = mech_arg(rv, TCORE_ARG_DATA);
        goto done;
    }
    arg = TCORE_ARG_TEMPLATE;
    tcore_caller cx = tcore_session_caller(s, TCORE_ARG_TEMPLATE);
    rv = tcore_obj_new(s->token, &cx, TCORE_ORIGIN_UNWRAP, cls, kt, tmpl, n, &km,
                       mech->mechanism, NULL, &obj);
    if (rv != CKR_OK) {
        goto done;
    }
    rv = tcore_session_add_objects(s, &obj, 1, &h);
    obj = NULL;
    if (rv == CKR_OK) {
        *out = h;
    }
done:
    tcore_obj_unref(obj);
    tcore_obj_unref(unwrapping);
    tcrypto_pkey_free(km.pkey);
    if (km.secret != NULL) {
        tcrypto_secure_free((void *)km.secret, km.secret_len);
    }
    return tcore_session_fail(s, rv, arg);
}

CK_RV tcore_derive_key(tcore_session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE hbase,
                       const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    tcore_obj *base = NULL, *salt_key = NULL;
    uint8_t *secret = NULL;
    size_t len = 0;
    CK_KEY_TYPE kt = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    tcore_arg arg = TCORE_ARG_KEY;
    CK_RV rv;
    if (mech == NULL || out == NULL || (tmpl == NULL && n != 0)) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_NONE);
    }
    rv = tcore_session_key(s, hbase, CKR_KEY_HANDLE_INVALID, &base);
    if (rv != CKR_OK) {
        goto done;
    }
    /* HKDF may take its salt from another key (PKCS#11 3.0 §2.43.2): the
     * handle inside the parameter is resolved like any other. */
    if (mech->mechanism == CKM_HKDF_DERIVE && mech->pParameter != NULL &&
        mech->ulParameterLen == sizeof(CK_HKDF_PARAMS)) {
        CK_HKDF_PARAMS p;
        memcpy(&p, mech->pParameter, sizeof(p));
        if (p.bExtract && p.ulSaltType == CKF_HKDF_SALT_KEY) {
            arg = TCORE_ARG_KEY2;
            rv = tcore_session_key(s, p.hSaltKey, CKR_KEY_HANDLE_INVALID, &salt_key);
            if (rv != CKR_OK) {
                goto done;
            }
        }
    }
    rv = tcore_mech_derive(mech, base, salt_key, tmpl, n, &kt, &secret, &len);
    if (rv != CKR_OK) {
        arg = mech_arg(rv, TCORE_ARG_KEY);
        goto done;
    }
    arg = TCORE_ARG_TEMPLATE;
    rv = add_secret(s, TCORE_ORIGIN_DERIVE, kt, tmpl, n, secret, len, mech->mechanism, base, &h);
    if (rv == CKR_OK) {
        *out = h;
    }
done:
    if (secret != NULL) {
        tcrypto_secure_free(secret, len);
    }
    tcore_obj_unref(base);
    tcore_obj_unref(salt_key);
    return tcore_session_fail(s, rv, arg);
}

CK_RV tcore_random(tcore_session *s, uint8_t *out, size_t len)
{
    if (out == NULL && len != 0) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_OUTPUT);
    }
    if (len == 0) {
        return CKR_OK;
    }
    return tcore_session_fail(s, tcore_rv_from_crypto(tcrypto_random(out, len)),
                              TCORE_ARG_OUTPUT);
}

CK_RV tcore_seed_random(tcore_session *s, const uint8_t *seed, size_t len)
{
    if (seed == NULL && len != 0) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_DATA);
    }
    return tcore_session_fail(s, tcore_rv_from_crypto(tcrypto_random_seed(seed, len)),
                              TCORE_ARG_DATA);
}
