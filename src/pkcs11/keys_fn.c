/*
 * PKCS#11 key management (§5.14: C_GenerateKey, C_GenerateKeyPair,
 * C_WrapKey, C_UnwrapKey, C_DeriveKey) and random numbers (§5.15).
 * The mechanisms are the core's (tcore_mech_*); objects are built with
 * tcore_obj_new and made live with one p11_objects_add call per request, so
 * a key pair is committed to the store in one transaction.
 */
#include <string.h>

#include "pkcs11/p11.h"

static CK_RV handle_get(p11_session *s, CK_OBJECT_HANDLE h, CK_RV invalid, tcore_obj **out)
{
    CK_RV rv = p11_object_get(s, h, out);
    return rv == CKR_OBJECT_HANDLE_INVALID ? invalid : rv;
}

/* Private keys are used (unwrap, derive) and exported (wrap) only by a
 * logged-in normal user, whatever their CKA_PRIVATE says. */
static CK_RV check_user(p11_session *s, const tcore_obj *key)
{
    if (key == NULL || tcore_obj_class(key) != CKO_PRIVATE_KEY)
        return CKR_OK;
    CK_STATE st = p11_session_state(s);
    return st == CKS_RO_USER_FUNCTIONS || st == CKS_RW_USER_FUNCTIONS ? CKR_OK
                                                                      : CKR_USER_NOT_LOGGED_IN;
}

/* Build one secret-key object from generated/derived material and add it. */
static CK_RV add_secret(p11_session *s, tcore_origin origin, CK_KEY_TYPE kt,
                        const CK_ATTRIBUTE *tmpl, CK_ULONG n, const uint8_t *secret, size_t len,
                        CK_MECHANISM_TYPE mech, const tcore_obj *base, CK_OBJECT_HANDLE *ph)
{
    tcore_obj *obj = NULL;
    tcore_keymat km;
    memset(&km, 0, sizeof(km));
    km.secret = secret;
    km.secret_len = len;
    CK_RV rv = tcore_obj_new(p11_session_token(s), origin, CKO_SECRET_KEY, kt, tmpl, n, &km, mech,
                             base, &obj);
    if (rv != CKR_OK)
        return rv;
    return p11_objects_add(s, &obj, 1, ph);
}

P11_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                               CK_OBJECT_HANDLE_PTR phKey)
{
    p11_session *s = NULL;
    uint8_t *secret = NULL;
    size_t len = 0;
    CK_KEY_TYPE kt = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pMechanism == NULL || phKey == NULL || (pTemplate == NULL && ulCount != 0)) {
        rv = CKR_ARGUMENTS_BAD;
        goto done;
    }
    rv = tcore_mech_generate_secret(pMechanism, pTemplate, ulCount, &kt, &secret, &len);
    if (rv != CKR_OK)
        goto done;
    rv = add_secret(s, TCORE_ORIGIN_GENERATE, kt, pTemplate, ulCount, secret, len,
                    pMechanism->mechanism, NULL, &h);
    if (rv == CKR_OK)
        *phKey = h;
done:
    if (secret != NULL)
        tcrypto_secure_free(secret, len);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                   CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                                   CK_ULONG ulPublicKeyAttributeCount,
                                   CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                                   CK_ULONG ulPrivateKeyAttributeCount,
                                   CK_OBJECT_HANDLE_PTR phPublicKey,
                                   CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    p11_session *s = NULL;
    tcrypto_pkey *pub = NULL, *priv = NULL;
    tcore_obj *objs[2] = {NULL, NULL};
    CK_OBJECT_HANDLE handles[2];
    CK_KEY_TYPE kt = 0;
    tcore_keymat km;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pMechanism == NULL || phPublicKey == NULL || phPrivateKey == NULL ||
        (pPublicKeyTemplate == NULL && ulPublicKeyAttributeCount != 0) ||
        (pPrivateKeyTemplate == NULL && ulPrivateKeyAttributeCount != 0)) {
        rv = CKR_ARGUMENTS_BAD;
        goto done;
    }
    rv = tcore_mech_generate_pair(pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount, &kt,
                                  &pub, &priv);
    if (rv != CKR_OK)
        goto done;
    tcore_token *t = p11_session_token(s);
    memset(&km, 0, sizeof(km));
    km.pkey = pub;
    rv = tcore_obj_new(t, TCORE_ORIGIN_GENERATE, CKO_PUBLIC_KEY, kt, pPublicKeyTemplate,
                       ulPublicKeyAttributeCount, &km, pMechanism->mechanism, NULL, &objs[0]);
    if (rv != CKR_OK)
        goto done;
    km.pkey = priv;
    rv = tcore_obj_new(t, TCORE_ORIGIN_GENERATE, CKO_PRIVATE_KEY, kt, pPrivateKeyTemplate,
                       ulPrivateKeyAttributeCount, &km, pMechanism->mechanism, NULL, &objs[1]);
    if (rv != CKR_OK)
        goto done;
    /* Both halves in one call: one durable commit, or neither is added. */
    rv = p11_objects_add(s, objs, 2, handles);
    objs[0] = objs[1] = NULL;
    if (rv == CKR_OK) {
        *phPublicKey = handles[0];
        *phPrivateKey = handles[1];
    }
done:
    for (int i = 0; i < 2; i++) {
        if (objs[i] != NULL)
            tcore_obj_unref(objs[i]);
    }
    tcrypto_pkey_free(pub);
    tcrypto_pkey_free(priv);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                           CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
    p11_session *s = NULL;
    tcore_obj *wrapping = NULL, *key = NULL;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pMechanism == NULL || pulWrappedKeyLen == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto done;
    }
    rv = handle_get(s, hWrappingKey, CKR_WRAPPING_KEY_HANDLE_INVALID, &wrapping);
    if (rv != CKR_OK)
        goto done;
    rv = handle_get(s, hKey, CKR_KEY_HANDLE_INVALID, &key);
    if (rv != CKR_OK)
        goto done;
    rv = check_user(s, key);
    if (rv != CKR_OK)
        goto done;
    rv = tcore_mech_wrap(pMechanism, wrapping, key, pWrappedKey, pulWrappedKeyLen);
done:
    if (wrapping != NULL)
        tcore_obj_unref(wrapping);
    if (key != NULL)
        tcore_obj_unref(key);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                             CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                             CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    p11_session *s = NULL;
    tcore_obj *unwrapping = NULL, *obj = NULL;
    tcore_keymat km;
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    memset(&km, 0, sizeof(km));
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pMechanism == NULL || phKey == NULL || pWrappedKey == NULL ||
        (pTemplate == NULL && ulAttributeCount != 0)) {
        rv = CKR_ARGUMENTS_BAD;
        goto done;
    }
    rv = handle_get(s, hUnwrappingKey, CKR_UNWRAPPING_KEY_HANDLE_INVALID, &unwrapping);
    if (rv != CKR_OK)
        goto done;
    rv = check_user(s, unwrapping);
    if (rv != CKR_OK)
        goto done;
    rv = tcore_mech_unwrap(pMechanism, unwrapping, pWrappedKey, ulWrappedKeyLen, pTemplate,
                           ulAttributeCount, &cls, &kt, &km);
    if (rv != CKR_OK)
        goto done;
    rv = tcore_obj_new(p11_session_token(s), TCORE_ORIGIN_UNWRAP, cls, kt, pTemplate,
                       ulAttributeCount, &km, pMechanism->mechanism, NULL, &obj);
    if (rv != CKR_OK)
        goto done;
    rv = p11_objects_add(s, &obj, 1, &h);
    obj = NULL;
    if (rv == CKR_OK)
        *phKey = h;
done:
    if (obj != NULL)
        tcore_obj_unref(obj);
    if (unwrapping != NULL)
        tcore_obj_unref(unwrapping);
    tcrypto_pkey_free(km.pkey);
    if (km.secret != NULL)
        tcrypto_secure_free((void *)km.secret, km.secret_len);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                             CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    p11_session *s = NULL;
    tcore_obj *base = NULL, *salt_key = NULL;
    uint8_t *secret = NULL;
    size_t len = 0;
    CK_KEY_TYPE kt = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pMechanism == NULL || phKey == NULL || (pTemplate == NULL && ulAttributeCount != 0)) {
        rv = CKR_ARGUMENTS_BAD;
        goto done;
    }
    rv = handle_get(s, hBaseKey, CKR_KEY_HANDLE_INVALID, &base);
    if (rv != CKR_OK)
        goto done;
    rv = check_user(s, base);
    if (rv != CKR_OK)
        goto done;
    /* HKDF may take its salt from another key (PKCS#11 3.0 §2.43.2). */
    if (pMechanism->mechanism == CKM_HKDF_DERIVE && pMechanism->pParameter != NULL &&
        pMechanism->ulParameterLen == sizeof(CK_HKDF_PARAMS)) {
        CK_HKDF_PARAMS p;
        memcpy(&p, pMechanism->pParameter, sizeof(p));
        if (p.bExtract && p.ulSaltType == CKF_HKDF_SALT_KEY) {
            rv = handle_get(s, p.hSaltKey, CKR_KEY_HANDLE_INVALID, &salt_key);
            if (rv != CKR_OK)
                goto done;
        }
    }
    rv = tcore_mech_derive(pMechanism, base, salt_key, pTemplate, ulAttributeCount, &kt, &secret,
                           &len);
    if (rv != CKR_OK)
        goto done;
    rv = add_secret(s, TCORE_ORIGIN_DERIVE, kt, pTemplate, ulAttributeCount, secret, len,
                    pMechanism->mechanism, base, &h);
    if (rv == CKR_OK)
        *phKey = h;
done:
    if (secret != NULL)
        tcrypto_secure_free(secret, len);
    if (base != NULL)
        tcore_obj_unref(base);
    if (salt_key != NULL)
        tcore_obj_unref(salt_key);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
    p11_session *s = NULL;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pSeed == NULL && ulSeedLen != 0)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = tcore_rv_from_crypto(tcrypto_random_seed(pSeed, ulSeedLen));
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
                                  CK_ULONG ulRandomLen)
{
    p11_session *s = NULL;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (RandomData == NULL && ulRandomLen != 0)
        rv = CKR_ARGUMENTS_BAD;
    else if (ulRandomLen != 0)
        rv = tcore_rv_from_crypto(tcrypto_random(RandomData, ulRandomLen));
    p11_session_put(s);
    return rv;
}
