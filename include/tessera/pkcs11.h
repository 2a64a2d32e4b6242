/*
 * PKCS#11 3.0 types and constants used by Tessera.
 *
 * The 2.40 base comes from the system's p11-kit header (Debian libp11-kit-dev),
 * which applications built against p11-kit use too, so the ABI is the one they
 * expect. What PKCS#11 3.0 added and that header lacks is defined here from the
 * OASIS PKCS#11 3.0 specification (pkcs11t.h / pkcs11f.h values and layouts).
 */
#ifndef TESSERA_PKCS11_H
#define TESSERA_PKCS11_H

#include <p11-kit/pkcs11.h>

/* ---- 3.0 key types, mechanisms, attributes, return values ---------------- */
#ifndef CKK_EC_MONTGOMERY
#define CKK_EC_MONTGOMERY (0x41UL)
#endif
#ifndef CKK_HKDF
#define CKK_HKDF (0x42UL)
#endif
#ifndef CKM_EC_MONTGOMERY_KEY_PAIR_GEN
#define CKM_EC_MONTGOMERY_KEY_PAIR_GEN (0x1056UL)
#endif
#ifndef CKM_SHA3_256
#define CKM_SHA3_256 (0x2b0UL)
#define CKM_SHA3_256_HMAC (0x2b1UL)
#define CKM_SHA3_256_HMAC_GENERAL (0x2b2UL)
#define CKM_SHA3_256_KEY_GEN (0x2b3UL)
#define CKM_SHA3_224 (0x2b5UL)
#define CKM_SHA3_224_HMAC (0x2b6UL)
#define CKM_SHA3_224_HMAC_GENERAL (0x2b7UL)
#define CKM_SHA3_224_KEY_GEN (0x2b8UL)
#define CKM_SHA3_384 (0x2c0UL)
#define CKM_SHA3_384_HMAC (0x2c1UL)
#define CKM_SHA3_384_HMAC_GENERAL (0x2c2UL)
#define CKM_SHA3_384_KEY_GEN (0x2c3UL)
#define CKM_SHA3_512 (0x2d0UL)
#define CKM_SHA3_512_HMAC (0x2d1UL)
#define CKM_SHA3_512_HMAC_GENERAL (0x2d2UL)
#define CKM_SHA3_512_KEY_GEN (0x2d3UL)
#endif
/* SHA-3 with RSA and ECDSA, and the SHA-3 MGF1 functions (PKCS#11 3.0
 * pkcs11t.h). */
#ifndef CKM_SHA3_256_RSA_PKCS
#define CKM_SHA3_256_RSA_PKCS (0x60UL)
#define CKM_SHA3_384_RSA_PKCS (0x61UL)
#define CKM_SHA3_512_RSA_PKCS (0x62UL)
#define CKM_SHA3_256_RSA_PKCS_PSS (0x63UL)
#define CKM_SHA3_384_RSA_PKCS_PSS (0x64UL)
#define CKM_SHA3_512_RSA_PKCS_PSS (0x65UL)
#define CKM_SHA3_224_RSA_PKCS (0x66UL)
#define CKM_SHA3_224_RSA_PKCS_PSS (0x67UL)
#endif
#ifndef CKM_ECDSA_SHA3_224
#define CKM_ECDSA_SHA3_224 (0x1047UL)
#define CKM_ECDSA_SHA3_256 (0x1048UL)
#define CKM_ECDSA_SHA3_384 (0x1049UL)
#define CKM_ECDSA_SHA3_512 (0x104aUL)
#endif
#ifndef CKG_MGF1_SHA3_224
#define CKG_MGF1_SHA3_224 (0x00000006UL)
#define CKG_MGF1_SHA3_256 (0x00000007UL)
#define CKG_MGF1_SHA3_384 (0x00000008UL)
#define CKG_MGF1_SHA3_512 (0x00000009UL)
#endif
#ifndef CKM_HKDF_DERIVE
#define CKM_HKDF_DERIVE (0x402aUL)
#define CKM_HKDF_DATA (0x402bUL)
#define CKM_HKDF_KEY_GEN (0x402cUL)
#endif
#ifndef CKF_HKDF_SALT_NULL
#define CKF_HKDF_SALT_NULL (0x00000001UL)
#define CKF_HKDF_SALT_DATA (0x00000002UL)
#define CKF_HKDF_SALT_KEY (0x00000004UL)
#endif
/* RFC 5649 key wrap with padding as PKCS#11 3.0 numbers it (p11-kit 2.40
 * only has CKM_AES_KEY_WRAP_PAD, 0x210a). */
#ifndef CKM_AES_KEY_WRAP_KWP
#define CKM_AES_KEY_WRAP_KWP (0x210bUL)
#endif
#ifndef CKA_UNIQUE_ID
#define CKA_UNIQUE_ID (0x4UL)
#endif
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED (0x202UL)
#endif
#ifndef CKF_INTERFACE_FORK_SAFE
#define CKF_INTERFACE_FORK_SAFE (0x00000001UL)
#endif
/* 3.0 mechanism-info flags for the message-based API. */
#ifndef CKF_MESSAGE_ENCRYPT
#define CKF_MESSAGE_ENCRYPT (0x00000002UL)
#define CKF_MESSAGE_DECRYPT (0x00000004UL)
#define CKF_MESSAGE_SIGN (0x00000008UL)
#define CKF_MESSAGE_VERIFY (0x00000010UL)
#define CKF_MULTI_MESSAGE (0x00000020UL)
#endif
/* 3.0 C_SessionCancel: cancel an active object search. */
#ifndef CKF_FIND_OBJECTS
#define CKF_FIND_OBJECTS (0x00000040UL)
#endif

typedef struct CK_HKDF_PARAMS {
    CK_BBOOL bExtract;
    CK_BBOOL bExpand;
    CK_MECHANISM_TYPE prfHashMechanism;
    CK_ULONG ulSaltType;
    CK_BYTE_PTR pSalt;
    CK_ULONG ulSaltLen;
    CK_OBJECT_HANDLE hSaltKey;
    CK_BYTE_PTR pInfo;
    CK_ULONG ulInfoLen;
} CK_HKDF_PARAMS;
typedef CK_HKDF_PARAMS *CK_HKDF_PARAMS_PTR;

typedef struct CK_EDDSA_PARAMS {
    CK_BBOOL phFlag;
    CK_ULONG ulContextDataLen;
    CK_BYTE_PTR pContextData;
} CK_EDDSA_PARAMS;
typedef CK_EDDSA_PARAMS *CK_EDDSA_PARAMS_PTR;

/* CK_GCM_PARAMS as PKCS#11 2.40 (errata) laid it out, without ulIvBits.
 * Applications built against 2.40 headers pass this; the core accepts it
 * beside the 3.0 layout, and the wire protocol carries both. Not a PKCS#11
 * name: Tessera's own. */
typedef struct TESSERA_GCM_PARAMS_240 {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
} TESSERA_GCM_PARAMS_240;

/* ---- 3.0 interfaces ------------------------------------------------------ */
typedef struct CK_INTERFACE {
    CK_CHAR *pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR *CK_INTERFACE_PTR_PTR;

/* The 3.0 function list: the 2.40 list, then the functions 3.0 added, in
 * the order of the specification's pkcs11f.h. */
typedef struct CK_FUNCTION_LIST_3_0 CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0_PTR *CK_FUNCTION_LIST_3_0_PTR_PTR;

/* Prototypes of the 3.0 functions (the 2.40 ones are in p11-kit's header). */
#define TESSERA_P11_3_0_FUNCTIONS(X)                                                           \
    X(C_GetInterfaceList, (CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount))          \
    X(C_GetInterface, (CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,               \
                       CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags))                     \
    X(C_LoginUser, (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,  \
                    CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen))    \
    X(C_SessionCancel, (CK_SESSION_HANDLE hSession, CK_FLAGS flags))                          \
    X(C_MessageEncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,         \
                             CK_OBJECT_HANDLE hKey))                                          \
    X(C_EncryptMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,                  \
                         CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,                \
                         CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,                \
                         CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,                    \
                         CK_ULONG_PTR pulCiphertextLen))                                      \
    X(C_EncryptMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,             \
                              CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,           \
                              CK_ULONG ulAssociatedDataLen))                                  \
    X(C_EncryptMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,              \
                             CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,             \
                             CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,        \
                             CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags))              \
    X(C_MessageEncryptFinal, (CK_SESSION_HANDLE hSession))                                    \
    X(C_MessageDecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,         \
                             CK_OBJECT_HANDLE hKey))                                          \
    X(C_DecryptMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,                  \
                         CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,                \
                         CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,               \
                         CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,                    \
                         CK_ULONG_PTR pulPlaintextLen))                                       \
    X(C_DecryptMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,             \
                              CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,           \
                              CK_ULONG ulAssociatedDataLen))                                  \
    X(C_DecryptMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,              \
                             CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,            \
                             CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,        \
                             CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags))               \
    X(C_MessageDecryptFinal, (CK_SESSION_HANDLE hSession))                                    \
    X(C_MessageSignInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,            \
                          CK_OBJECT_HANDLE hKey))                                             \
    X(C_SignMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,                     \
                      CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,         \
                      CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen))                  \
    X(C_SignMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,                \
                           CK_ULONG ulParameterLen))                                          \
    X(C_SignMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,                 \
                          CK_ULONG ulParameterLen, CK_BYTE_PTR pDataPart,                     \
                          CK_ULONG ulDataPartLen, CK_BYTE_PTR pSignature,                     \
                          CK_ULONG_PTR pulSignatureLen))                                      \
    X(C_MessageSignFinal, (CK_SESSION_HANDLE hSession))                                       \
    X(C_MessageVerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,          \
                            CK_OBJECT_HANDLE hKey))                                           \
    X(C_VerifyMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,                   \
                        CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,       \
                        CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen))                     \
    X(C_VerifyMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,              \
                             CK_ULONG ulParameterLen))                                        \
    X(C_VerifyMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,               \
                            CK_ULONG ulParameterLen, CK_BYTE_PTR pDataPart,                   \
                            CK_ULONG ulDataPartLen, CK_BYTE_PTR pSignature,                   \
                            CK_ULONG ulSignatureLen))                                         \
    X(C_MessageVerifyFinal, (CK_SESSION_HANDLE hSession))

#define TESSERA_P11_DECLARE(name, args) CK_RV name args;
TESSERA_P11_3_0_FUNCTIONS(TESSERA_P11_DECLARE)
#undef TESSERA_P11_DECLARE

#define TESSERA_P11_TYPEDEF(name, args) typedef CK_RV (*CK_##name) args;
TESSERA_P11_3_0_FUNCTIONS(TESSERA_P11_TYPEDEF)
#undef TESSERA_P11_TYPEDEF

struct CK_FUNCTION_LIST_3_0 {
    CK_VERSION version;
    /* the 2.40 functions, in order */
    CK_C_Initialize C_Initialize;
    CK_C_Finalize C_Finalize;
    CK_C_GetInfo C_GetInfo;
    CK_C_GetFunctionList C_GetFunctionList;
    CK_C_GetSlotList C_GetSlotList;
    CK_C_GetSlotInfo C_GetSlotInfo;
    CK_C_GetTokenInfo C_GetTokenInfo;
    CK_C_GetMechanismList C_GetMechanismList;
    CK_C_GetMechanismInfo C_GetMechanismInfo;
    CK_C_InitToken C_InitToken;
    CK_C_InitPIN C_InitPIN;
    CK_C_SetPIN C_SetPIN;
    CK_C_OpenSession C_OpenSession;
    CK_C_CloseSession C_CloseSession;
    CK_C_CloseAllSessions C_CloseAllSessions;
    CK_C_GetSessionInfo C_GetSessionInfo;
    CK_C_GetOperationState C_GetOperationState;
    CK_C_SetOperationState C_SetOperationState;
    CK_C_Login C_Login;
    CK_C_Logout C_Logout;
    CK_C_CreateObject C_CreateObject;
    CK_C_CopyObject C_CopyObject;
    CK_C_DestroyObject C_DestroyObject;
    CK_C_GetObjectSize C_GetObjectSize;
    CK_C_GetAttributeValue C_GetAttributeValue;
    CK_C_SetAttributeValue C_SetAttributeValue;
    CK_C_FindObjectsInit C_FindObjectsInit;
    CK_C_FindObjects C_FindObjects;
    CK_C_FindObjectsFinal C_FindObjectsFinal;
    CK_C_EncryptInit C_EncryptInit;
    CK_C_Encrypt C_Encrypt;
    CK_C_EncryptUpdate C_EncryptUpdate;
    CK_C_EncryptFinal C_EncryptFinal;
    CK_C_DecryptInit C_DecryptInit;
    CK_C_Decrypt C_Decrypt;
    CK_C_DecryptUpdate C_DecryptUpdate;
    CK_C_DecryptFinal C_DecryptFinal;
    CK_C_DigestInit C_DigestInit;
    CK_C_Digest C_Digest;
    CK_C_DigestUpdate C_DigestUpdate;
    CK_C_DigestKey C_DigestKey;
    CK_C_DigestFinal C_DigestFinal;
    CK_C_SignInit C_SignInit;
    CK_C_Sign C_Sign;
    CK_C_SignUpdate C_SignUpdate;
    CK_C_SignFinal C_SignFinal;
    CK_C_SignRecoverInit C_SignRecoverInit;
    CK_C_SignRecover C_SignRecover;
    CK_C_VerifyInit C_VerifyInit;
    CK_C_Verify C_Verify;
    CK_C_VerifyUpdate C_VerifyUpdate;
    CK_C_VerifyFinal C_VerifyFinal;
    CK_C_VerifyRecoverInit C_VerifyRecoverInit;
    CK_C_VerifyRecover C_VerifyRecover;
    CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
    CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
    CK_C_SignEncryptUpdate C_SignEncryptUpdate;
    CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
    CK_C_GenerateKey C_GenerateKey;
    CK_C_GenerateKeyPair C_GenerateKeyPair;
    CK_C_WrapKey C_WrapKey;
    CK_C_UnwrapKey C_UnwrapKey;
    CK_C_DeriveKey C_DeriveKey;
    CK_C_SeedRandom C_SeedRandom;
    CK_C_GenerateRandom C_GenerateRandom;
    CK_C_GetFunctionStatus C_GetFunctionStatus;
    CK_C_CancelFunction C_CancelFunction;
    CK_C_WaitForSlotEvent C_WaitForSlotEvent;
    /* added by 3.0 */
    CK_C_GetInterfaceList C_GetInterfaceList;
    CK_C_GetInterface C_GetInterface;
    CK_C_LoginUser C_LoginUser;
    CK_C_SessionCancel C_SessionCancel;
    CK_C_MessageEncryptInit C_MessageEncryptInit;
    CK_C_EncryptMessage C_EncryptMessage;
    CK_C_EncryptMessageBegin C_EncryptMessageBegin;
    CK_C_EncryptMessageNext C_EncryptMessageNext;
    CK_C_MessageEncryptFinal C_MessageEncryptFinal;
    CK_C_MessageDecryptInit C_MessageDecryptInit;
    CK_C_DecryptMessage C_DecryptMessage;
    CK_C_DecryptMessageBegin C_DecryptMessageBegin;
    CK_C_DecryptMessageNext C_DecryptMessageNext;
    CK_C_MessageDecryptFinal C_MessageDecryptFinal;
    CK_C_MessageSignInit C_MessageSignInit;
    CK_C_SignMessage C_SignMessage;
    CK_C_SignMessageBegin C_SignMessageBegin;
    CK_C_SignMessageNext C_SignMessageNext;
    CK_C_MessageSignFinal C_MessageSignFinal;
    CK_C_MessageVerifyInit C_MessageVerifyInit;
    CK_C_VerifyMessage C_VerifyMessage;
    CK_C_VerifyMessageBegin C_VerifyMessageBegin;
    CK_C_VerifyMessageNext C_VerifyMessageNext;
    CK_C_MessageVerifyFinal C_MessageVerifyFinal;
};

#endif
