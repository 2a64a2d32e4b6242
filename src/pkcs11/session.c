/*
 * Sessions and login (PKCS#11 3.0 §5.6): marshalling onto the core's
 * sessions (core/session.c keeps the rules).
 */
#include <string.h>

#include "pkcs11/p11.h"

P11_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                               CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    /* Notify callbacks are optional for the library (PKCS#11 3.0 §5.6): we
     * never call them. */
    (void)pApplication;
    (void)Notify;
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    if (phSession == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else if (!(flags & CKF_SERIAL_SESSION)) /* §5.6: must always be set (legacy) */
        rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    else
        rv = tsvc_session_open(p11_svc(), slotID, (flags & CKF_RW_SESSION) != 0, phSession);
    return p11_end(rv, __func__);
}

P11_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    rv = tsvc_session_close(p11_svc(), hSession);
    return p11_end(rv, __func__);
}

P11_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    rv = tsvc_session_close_all(p11_svc(), slotID);
    return p11_end(rv, __func__);
}

P11_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_session_info(p11_svc(), hSession, pInfo), __func__);
}

P11_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                         CK_ULONG ulPinLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_login(p11_svc(), hSession, userType, NULL, 0, pPin, ulPinLen), __func__);
}

P11_EXPORT CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                             CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
                             CK_ULONG ulUsernameLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    /* PKCS#11 3.0 §5.6 C_LoginUser: for CKU_CONTEXT_SPECIFIC it behaves as
     * C_Login (the user is the one logged in). */
    if (userType == CKU_CONTEXT_SPECIFIC)
        rv = tsvc_login(p11_svc(), hSession, userType, NULL, 0, pPin, ulPinLen);
    else if (pUsername == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = tsvc_login(p11_svc(), hSession, userType, pUsername, ulUsernameLen, pPin, ulPinLen);
    return p11_end(rv, __func__);
}

P11_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_logout(p11_svc(), hSession), __func__);
}

/* PKCS#11 3.0 §5.6 C_SessionCancel: end the operations named by flags. The
 * message-based operations (CKF_MESSAGE_*) are not offered. */
P11_EXPORT CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    static const struct {
        CK_FLAGS flag;
        tcore_op_kind kind;
    } map[] = {
        {CKF_DIGEST, TCORE_OP_DIGEST},   {CKF_SIGN, TCORE_OP_SIGN},
        {CKF_VERIFY, TCORE_OP_VERIFY},   {CKF_ENCRYPT, TCORE_OP_ENCRYPT},
        {CKF_DECRYPT, TCORE_OP_DECRYPT},
    };
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    unsigned kinds = 0;
    for (size_t i = 0; i < TC_ARRAY_LEN(map); i++)
        if (flags & map[i].flag)
            kinds |= 1u << map[i].kind;
    return p11_end(tsvc_crypt_cancel(p11_svc(), hSession, kinds, (flags & CKF_FIND_OBJECTS) != 0),
                   __func__);
}

/* PKCS#11 3.0 §5.6: a token need not be able to save operation state;
 * CKR_FUNCTION_NOT_SUPPORTED is an allowed answer and ours (saving would
 * export live key schedules). */
P11_EXPORT CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                     CK_ULONG_PTR pulOperationStateLen)
{
    (void)pOperationState;
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    rv = p11_session_check(hSession);
    if (rv == CKR_OK)
        rv = pulOperationStateLen == NULL ? CKR_ARGUMENTS_BAD : CKR_FUNCTION_NOT_SUPPORTED;
    return p11_end(rv, __func__);
}

P11_EXPORT CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                     CK_ULONG ulOperationStateLen,
                                     CK_OBJECT_HANDLE hEncryptionKey,
                                     CK_OBJECT_HANDLE hAuthenticationKey)
{
    (void)ulOperationStateLen;
    (void)hEncryptionKey;
    (void)hAuthenticationKey;
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    rv = p11_session_check(hSession);
    if (rv == CKR_OK)
        rv = pOperationState == NULL ? CKR_ARGUMENTS_BAD : CKR_FUNCTION_NOT_SUPPORTED;
    return p11_end(rv, __func__);
}

/* PKCS#11 3.0 §5.20: legacy functions for parallel sessions, which do not
 * exist any more; they always answer CKR_FUNCTION_NOT_PARALLEL. */
P11_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    rv = p11_session_check(hSession);
    return p11_end(rv == CKR_OK ? CKR_FUNCTION_NOT_PARALLEL : rv, __func__);
}

P11_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    rv = p11_session_check(hSession);
    return p11_end(rv == CKR_OK ? CKR_FUNCTION_NOT_PARALLEL : rv, __func__);
}
