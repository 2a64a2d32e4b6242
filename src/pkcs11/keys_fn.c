/*
 * PKCS#11 key management (§5.14: C_GenerateKey, C_GenerateKeyPair,
 * C_WrapKey, C_UnwrapKey, C_DeriveKey) and random numbers (§5.15):
 * marshalling onto core/sess_keys.c.
 */
#include "pkcs11/p11.h"

P11_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                               CK_OBJECT_HANDLE_PTR phKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_generate_key(p11_svc(), hSession, pMechanism, pTemplate, ulCount, phKey), __func__);
}

P11_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                   CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                                   CK_ULONG ulPublicKeyAttributeCount,
                                   CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                                   CK_ULONG ulPrivateKeyAttributeCount,
                                   CK_OBJECT_HANDLE_PTR phPublicKey,
                                   CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_generate_key_pair(p11_svc(), hSession, pMechanism, pPublicKeyTemplate,
                                            ulPublicKeyAttributeCount, pPrivateKeyTemplate,
                                            ulPrivateKeyAttributeCount, phPublicKey,
                                            phPrivateKey), __func__);
}

P11_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                           CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_wrap_key(p11_svc(), hSession, pMechanism, hWrappingKey, hKey, pWrappedKey,
                                   pulWrappedKeyLen), __func__);
}

P11_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                             CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                             CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_unwrap_key(p11_svc(), hSession, pMechanism, hUnwrappingKey, pWrappedKey,
                                     ulWrappedKeyLen, pTemplate, ulAttributeCount, phKey), __func__);
}

P11_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                             CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_derive_key(p11_svc(), hSession, pMechanism, hBaseKey, pTemplate, ulAttributeCount,
                                     phKey), __func__);
}

P11_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_seed_random(p11_svc(), hSession, pSeed, ulSeedLen), __func__);
}

P11_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
                                  CK_ULONG ulRandomLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_random(p11_svc(), hSession, RandomData, ulRandomLen), __func__);
}
