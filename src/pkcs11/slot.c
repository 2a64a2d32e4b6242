/*
 * Slots and tokens (PKCS#11 3.0 §5.5): every initialised token of the store
 * has a slot, and there is always exactly one more slot holding a fresh,
 * uninitialised token, so C_InitToken can create a new one (the core keeps
 * the slot registry, tcore_tokens_*; the calls go through the service
 * channel, in process or to tesserad).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkcs11/p11.h"

/* ---- C_GetSlotList / C_GetSlotInfo ------------------------------------------------ */

P11_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                               CK_ULONG_PTR pulCount)
{
    /* Every slot holds a token (the free slot an uninitialised one), so
     * tokenPresent selects the same list. */
    (void)tokenPresent;
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    if (pulCount == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = tsvc_slot_list(p11_svc(), pSlotList, pulCount);
out:
    return p11_end(rv, __func__);
}

P11_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    if (pInfo == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = tsvc_slot_check(p11_svc(), slotID);
    if (rv != CKR_OK)
        goto out;
    CK_SLOT_INFO info;
    memset(&info, 0, sizeof(info));
    char desc[64];
    snprintf(desc, sizeof(desc), "Tessera slot %lu", (unsigned long)slotID);
    tc_pad(info.slotDescription, sizeof(info.slotDescription), desc);
    tc_pad(info.manufacturerID, sizeof(info.manufacturerID), "Tessera");
    /* Always present, not removable. In process it is a soft token; remote,
     * the keys live in tesserad, another process the application cannot
     * reach into, which is what CKF_HW_SLOT tells a caller (as CKF_HW does
     * for the mechanisms, see tcore_set_keys_outside_caller). */
    info.flags = CKF_TOKEN_PRESENT;
    if (tsvc_is_remote(p11_svc()))
        info.flags |= CKF_HW_SLOT;
    info.hardwareVersion.major = 0;
    info.hardwareVersion.minor = 1;
    info.firmwareVersion.major = 0;
    info.firmwareVersion.minor = 1;
    *pInfo = info;
out:
    return p11_end(rv, __func__);
}

/* ---- C_GetTokenInfo ------------------------------------------------------------------ */

P11_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_token_info(p11_svc(), slotID, pInfo), __func__);
}

/* ---- C_InitToken / C_InitPIN / C_SetPIN (PKCS#11 3.0 §5.5, §5.6) ---------------------- */

P11_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                             CK_UTF8CHAR_PTR pLabel)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_init_token(p11_svc(), slotID, pPin, ulPinLen, pLabel), __func__);
}

P11_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_init_pin(p11_svc(), hSession, pPin, ulPinLen), __func__);
}

P11_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
                          CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_set_pin(p11_svc(), hSession, pOldPin, ulOldLen, pNewPin, ulNewLen), __func__);
}

/* ---- mechanisms (§5.5) ------------------------------------------------------------------ */

P11_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                                    CK_ULONG_PTR pulCount)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_mech_list(p11_svc(), slotID, pMechanismList, pulCount), __func__);
}

P11_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                    CK_MECHANISM_INFO_PTR pInfo)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    return p11_end(tsvc_mech_info(p11_svc(), slotID, type, pInfo), __func__);
}

/* ---- C_WaitForSlotEvent ---------------------------------------------------------------- */

/* Slots never change on their own here except by C_InitToken (which the
 * application itself calls), so there is never an event to report. Blocking
 * waits are not supported (PKCS#11 3.0 §5.5 allows CKR_FUNCTION_NOT_SUPPORTED). */
P11_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    CK_RV rv = p11_begin();
    if (rv != CKR_OK)
        return rv;
    if (pSlot == NULL || pReserved != NULL)
        rv = CKR_ARGUMENTS_BAD;
    else if (flags & CKF_DONT_BLOCK)
        rv = CKR_NO_EVENT;
    else
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    return p11_end(rv, __func__);
}
