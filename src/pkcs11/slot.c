/*
 * Slots and tokens (PKCS#11 3.0 §5.5): every initialised token of the store
 * has a slot, and there is always exactly one more slot holding a fresh,
 * uninitialised token, so C_InitToken can create a new one (the core keeps
 * the slot registry, tcore_tokens_*).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkcs11/p11.h"

static tcore_tokens *g_tokens;

/* PIN KDF parameters from the configuration (pin_kdf_t_cost, pin_kdf_m_cost
 * in KiB, pin_kdf_lanes); absent keys keep the crypto layer's defaults.
 * Tests set cheap values; production keeps the defaults. */
static bool read_u32(const tc_conf *conf, const char *key, uint32_t *v)
{
    const char *s = tc_conf_get(conf, key, NULL);
    if (s == NULL)
        return true;
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n == 0 || n > UINT32_MAX)
        return false;
    *v = (uint32_t)n;
    return true;
}

CK_RV p11_slots_open(tstore *store, const tc_conf *conf)
{
    tcrypto_pin_kdf_params kdf = tcrypto_pin_kdf_default;
    if (!read_u32(conf, "pin_kdf_t_cost", &kdf.t_cost) ||
        !read_u32(conf, "pin_kdf_m_cost", &kdf.m_cost) ||
        !read_u32(conf, "pin_kdf_lanes", &kdf.parallel)) {
        TC_ERROR("p11", "configuration: pin_kdf_* must be positive integers");
        return CKR_FUNCTION_FAILED;
    }
    tcore_protector prot;
    CK_RV rv = tcore_protector_pin(&kdf, &prot);
    if (rv != CKR_OK)
        return rv;
    tcore_tokens *ts = NULL;
    rv = tcore_tokens_open_store(store, false, &prot, &ts);
    if (rv != CKR_OK) {
        TC_ERROR("p11", "cannot open the token set (0x%lx)", (unsigned long)rv);
        /* C_Initialize's allowed codes (PKCS#11 3.0 §5.4). */
        return rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
    }
    g_tokens = ts;
    return CKR_OK;
}

void p11_slots_close(void)
{
    tcore_tokens_close(g_tokens);
    g_tokens = NULL;
}

void p11_slots_abandon(void)
{
    g_tokens = NULL;
}

CK_RV p11_slot_token(CK_SLOT_ID id, tcore_token **out)
{
    if (g_tokens == NULL)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    return tcore_tokens_get(g_tokens, id, out);
}

CK_SLOT_ID p11_token_slot(const tcore_token *t)
{
    return tcore_token_slot(t);
}

/* ---- C_GetSlotList / C_GetSlotInfo ------------------------------------------------ */

P11_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                               CK_ULONG_PTR pulCount)
{
    /* Every slot holds a token (the free slot an uninitialised one), so
     * tokenPresent selects the same list. */
    (void)tokenPresent;
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    if (pulCount == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = tcore_tokens_slots(g_tokens, pSlotList, pulCount);
out:
    p11_lib_leave();
    return rv;
}

P11_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    tcore_token *t;
    if (pInfo == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = p11_slot_token(slotID, &t);
    if (rv != CKR_OK)
        goto out;
    CK_SLOT_INFO info;
    memset(&info, 0, sizeof(info));
    char desc[64];
    snprintf(desc, sizeof(desc), "Tessera slot %lu", (unsigned long)slotID);
    p11_pad(info.slotDescription, sizeof(info.slotDescription), desc);
    p11_pad(info.manufacturerID, sizeof(info.manufacturerID), "Tessera");
    /* A software token: always present, not removable, not hardware. */
    info.flags = CKF_TOKEN_PRESENT;
    info.hardwareVersion.major = 0;
    info.hardwareVersion.minor = 1;
    info.firmwareVersion.major = 0;
    info.firmwareVersion.minor = 1;
    *pInfo = info;
out:
    p11_lib_leave();
    return rv;
}

/* ---- C_GetTokenInfo ------------------------------------------------------------------ */

P11_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    tcore_token *t;
    if (pInfo == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = p11_slot_token(slotID, &t);
    if (rv != CKR_OK)
        goto out;
    CK_TOKEN_INFO info;
    memset(&info, 0, sizeof(info));
    rv = tcore_token_get_info(t, &info);
    if (rv != CKR_OK)
        goto out;
    CK_ULONG all, rw;
    p11_sessions_count(t, &all, &rw);
    info.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info.ulSessionCount = all;
    info.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info.ulRwSessionCount = rw;
    info.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info.ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    /* PKCS#11 3.0 §3.2 CK_TOKEN_INFO.utcTime: "YYYYMMDDhhmmss00" when the
     * token has a clock (CKF_CLOCK_ON_TOKEN); ours is the host's. */
    time_t now = time(NULL);
    struct tm tm;
    char utc[17];
    if (gmtime_r(&now, &tm) != NULL &&
        strftime(utc, sizeof(utc), "%Y%m%d%H%M%S00", &tm) == 16) {
        memcpy(info.utcTime, utc, 16);
        info.flags |= CKF_CLOCK_ON_TOKEN;
    } else {
        memset(info.utcTime, ' ', sizeof(info.utcTime));
        info.flags &= ~(CK_FLAGS)CKF_CLOCK_ON_TOKEN;
    }
    *pInfo = info;
out:
    p11_lib_leave();
    return rv;
}

/* ---- C_InitToken / C_InitPIN / C_SetPIN (PKCS#11 3.0 §5.5, §5.6) ---------------------- */

P11_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                             CK_UTF8CHAR_PTR pLabel)
{
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    tcore_token *t;
    if (pPin == NULL || pLabel == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = p11_slot_token(slotID, &t);
    if (rv != CKR_OK)
        goto out;
    /* The state lock keeps sessions from opening while the token is
     * re-initialised; with sessions open the spec says CKR_SESSION_EXISTS. */
    p11_state_lock();
    CK_ULONG all, rw;
    p11_sessions_count(t, &all, &rw);
    if (all != 0) {
        rv = CKR_SESSION_EXISTS;
    } else {
        rv = tcore_token_init(t, pPin, ulPinLen, pLabel);
    }
    p11_state_unlock();
out:
    p11_lib_leave();
    return rv;
}

P11_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pPin == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    /* PKCS#11 3.0 §5.6: only in the "R/W SO Functions" state. */
    if (p11_session_state(s) != CKS_RW_SO_FUNCTIONS) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    rv = tcore_token_init_pin(p11_session_token(s), pPin, ulPinLen);
out:
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
                          CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pOldPin == NULL || pNewPin == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    /* PKCS#11 3.0 §5.6: C_SetPIN works in the R/W public, R/W user and
     * R/W SO states; in a R/O session it fails. */
    if (!p11_session_rw(s)) {
        rv = CKR_SESSION_READ_ONLY;
        goto out;
    }
    rv = tcore_token_set_pin(p11_session_token(s), pOldPin, ulOldLen, pNewPin, ulNewLen);
out:
    p11_session_put(s);
    return rv;
}

/* ---- C_WaitForSlotEvent ---------------------------------------------------------------- */

/* Slots never change on their own here except by C_InitToken (which the
 * application itself calls), so there is never an event to report. Blocking
 * waits are not supported (PKCS#11 3.0 §5.5 allows CKR_FUNCTION_NOT_SUPPORTED). */
P11_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    if (pSlot == NULL || pReserved != NULL)
        rv = CKR_ARGUMENTS_BAD;
    else if (flags & CKF_DONT_BLOCK)
        rv = CKR_NO_EVENT;
    else
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    p11_lib_leave();
    return rv;
}
