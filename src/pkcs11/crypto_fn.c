/*
 * PKCS#11 cryptographic functions: encryption (§5.8), decryption (§5.9),
 * digests (§5.10), signatures and MACs (§5.11, §5.12). Marshalling onto the
 * core's operations (core/sess_crypt.c keeps the operation slots and the
 * call rules of §5.2).
 */
#include "pkcs11/p11.h"

P11_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_init(p11_svc(), hSession, TCORE_OP_DIGEST, pMechanism, CK_INVALID_HANDLE), __func__);
}

P11_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                   CK_OBJECT_HANDLE hKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_init(p11_svc(), hSession, TCORE_OP_SIGN, pMechanism, hKey), __func__);
}

P11_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                   CK_OBJECT_HANDLE hKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_init(p11_svc(), hSession, TCORE_OP_VERIFY, pMechanism, hKey), __func__);
}

P11_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                   CK_OBJECT_HANDLE hKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_init(p11_svc(), hSession, TCORE_OP_ENCRYPT, pMechanism, hKey), __func__);
}

P11_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                   CK_OBJECT_HANDLE hKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_init(p11_svc(), hSession, TCORE_OP_DECRYPT, pMechanism, hKey), __func__);
}

P11_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                          CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt(p11_svc(), hSession, TCORE_OP_DIGEST, pData, ulDataLen, pDigest, pulDigestLen), __func__);
}

P11_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_update(p11_svc(), hSession, TCORE_OP_DIGEST, pPart, ulPartLen, NULL, NULL), __func__);
}

P11_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_digest_key(p11_svc(), hSession, hKey), __func__);
}

P11_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                               CK_ULONG_PTR pulDigestLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_final(p11_svc(), hSession, TCORE_OP_DIGEST, pDigest, pulDigestLen), __func__);
}

P11_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt(p11_svc(), hSession, TCORE_OP_SIGN, pData, ulDataLen, pSignature, pulSignatureLen), __func__);
}

P11_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_update(p11_svc(), hSession, TCORE_OP_SIGN, pPart, ulPartLen, NULL, NULL), __func__);
}

P11_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                             CK_ULONG_PTR pulSignatureLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_final(p11_svc(), hSession, TCORE_OP_SIGN, pSignature, pulSignatureLen), __func__);
}

P11_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                          CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_verify(p11_svc(), hSession, pData, ulDataLen, pSignature, ulSignatureLen), __func__);
}

P11_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_update(p11_svc(), hSession, TCORE_OP_VERIFY, pPart, ulPartLen, NULL, NULL), __func__);
}

P11_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                               CK_ULONG ulSignatureLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_verify_final(p11_svc(), hSession, pSignature, ulSignatureLen), __func__);
}

P11_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                   CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt(p11_svc(), hSession, TCORE_OP_ENCRYPT, pIn, ulInLen, pOut, pulOutLen), __func__);
}

P11_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                   CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_update(p11_svc(), hSession, TCORE_OP_ENCRYPT, pIn, ulInLen, pOut, pulOutLen), __func__);
}

P11_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_final(p11_svc(), hSession, TCORE_OP_ENCRYPT, pOut, pulOutLen), __func__);
}

P11_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                   CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt(p11_svc(), hSession, TCORE_OP_DECRYPT, pIn, ulInLen, pOut, pulOutLen), __func__);
}

P11_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                   CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_update(p11_svc(), hSession, TCORE_OP_DECRYPT, pIn, ulInLen, pOut, pulOutLen), __func__);
}

P11_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_crypt_final(p11_svc(), hSession, TCORE_OP_DECRYPT, pOut, pulOutLen), __func__);
}
