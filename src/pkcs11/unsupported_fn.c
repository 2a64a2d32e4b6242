/*
 * The PKCS#11 functions this module does not offer. Each answers
 * CKR_FUNCTION_NOT_SUPPORTED, which the specification allows for them, and
 * no mechanism advertises the flags that would lead an application here
 * (CKF_SIGN_RECOVER, CKF_VERIFY_RECOVER, CKF_MESSAGE_*; test_p11_mech checks).
 *   - signatures with message recovery (PKCS#11 3.0 §5.13, §5.15)
 *   - dual-function operations (§5.17)
 *   - the 3.0 message-based encryption and signing API (§5.10, §5.11, §5.14, §5.16)
 */
#include "pkcs11/p11.h"

/* The parameters are what the ABI prescribes; none is looked at. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

static CK_RV not_offered(void)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

P11_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                   CK_OBJECT_HANDLE hKey) { return not_offered(); }
P11_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                               CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{ return not_offered(); }
P11_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                     CK_OBJECT_HANDLE hKey) { return not_offered(); }
P11_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                 CK_ULONG ulSignatureLen, CK_BYTE_PTR pData,
                                 CK_ULONG_PTR pulDataLen) { return not_offered(); }

P11_EXPORT CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                       CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                       CK_ULONG_PTR pulEncryptedPartLen) { return not_offered(); }
P11_EXPORT CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                       CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                       CK_ULONG_PTR pulPartLen) { return not_offered(); }
P11_EXPORT CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                     CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                     CK_ULONG_PTR pulEncryptedPartLen) { return not_offered(); }
P11_EXPORT CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                       CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                       CK_ULONG_PTR pulPartLen) { return not_offered(); }

P11_EXPORT CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                      CK_OBJECT_HANDLE hKey) { return not_offered(); }
P11_EXPORT CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                  CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                  CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
                                  CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
                                  CK_ULONG_PTR pulCiphertextLen) { return not_offered(); }
P11_EXPORT CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                       CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                       CK_ULONG ulAssociatedDataLen) { return not_offered(); }
P11_EXPORT CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                      CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,
                                      CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,
                                      CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags)
{ return not_offered(); }
P11_EXPORT CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hSession) { return not_offered(); }

P11_EXPORT CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                      CK_OBJECT_HANDLE hKey) { return not_offered(); }
P11_EXPORT CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                  CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                  CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
                                  CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
                                  CK_ULONG_PTR pulPlaintextLen) { return not_offered(); }
P11_EXPORT CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                       CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                       CK_ULONG ulAssociatedDataLen) { return not_offered(); }
P11_EXPORT CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                      CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,
                                      CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,
                                      CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags)
{ return not_offered(); }
P11_EXPORT CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hSession) { return not_offered(); }

P11_EXPORT CK_RV C_MessageSignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                   CK_OBJECT_HANDLE hKey) { return not_offered(); }
P11_EXPORT CK_RV C_SignMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                               CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                               CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{ return not_offered(); }
P11_EXPORT CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                    CK_ULONG ulParameterLen) { return not_offered(); }
P11_EXPORT CK_RV C_SignMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                   CK_ULONG ulParameterLen, CK_BYTE_PTR pDataPart,
                                   CK_ULONG ulDataPartLen, CK_BYTE_PTR pSignature,
                                   CK_ULONG_PTR pulSignatureLen) { return not_offered(); }
P11_EXPORT CK_RV C_MessageSignFinal(CK_SESSION_HANDLE hSession) { return not_offered(); }

P11_EXPORT CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                     CK_OBJECT_HANDLE hKey) { return not_offered(); }
P11_EXPORT CK_RV C_VerifyMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                 CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                                 CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{ return not_offered(); }
P11_EXPORT CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                      CK_ULONG ulParameterLen) { return not_offered(); }
P11_EXPORT CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                     CK_ULONG ulParameterLen, CK_BYTE_PTR pDataPart,
                                     CK_ULONG ulDataPartLen, CK_BYTE_PTR pSignature,
                                     CK_ULONG ulSignatureLen) { return not_offered(); }
P11_EXPORT CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE hSession) { return not_offered(); }
