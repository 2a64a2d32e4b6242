/*
 * PKCS#11 cryptographic functions: mechanism queries (§5.5), encryption
 * (§5.8), decryption (§5.9), digests (§5.10), signatures and MACs (§5.11,
 * §5.12). The work is done by the core's operation contexts (tcore_op_*);
 * this file keeps the session's operation slots and the call rules of §5.2:
 *  - an Init while one of the same kind is active: CKR_OPERATION_ACTIVE;
 *  - a data call without Init: CKR_OPERATION_NOT_INITIALIZED;
 *  - a length query (NULL output) or CKR_BUFFER_TOO_SMALL leaves the
 *    operation active; a call that produced its output, and any other
 *    error, ends it.
 */
#include <stdlib.h>

#include "pkcs11/p11.h"

/* What the session's operation slot holds. */
typedef struct {
    tcore_op *op;
    bool need_auth; /* CKA_ALWAYS_AUTHENTICATE: a context login is still due */
} fn_op;

static void fn_op_free(void *p)
{
    fn_op *o = p;
    if (o == NULL)
        return;
    tcore_op_free(o->op);
    free(o);
}

static CK_RV key_get(p11_session *s, CK_OBJECT_HANDLE h, tcore_obj **out)
{
    CK_RV rv = p11_object_get(s, h, out);
    return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
}

/* Private keys are used only by a logged-in normal user, whatever their
 * CKA_PRIVATE says (the SO manages keys, it does not use them). */
static CK_RV check_user(p11_session *s, tcore_obj *key)
{
    if (key == NULL || tcore_obj_class(key) != CKO_PRIVATE_KEY)
        return CKR_OK;
    CK_STATE st = p11_session_state(s);
    return st == CKS_RO_USER_FUNCTIONS || st == CKS_RW_USER_FUNCTIONS ? CKR_OK
                                                                      : CKR_USER_NOT_LOGGED_IN;
}

static CK_RV op_init(CK_SESSION_HANDLE h, p11_op_kind pk, tcore_op_kind tk,
                     CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE hKey)
{
    p11_session *s = NULL;
    tcore_obj *key = NULL;
    tcore_op *op = NULL;
    fn_op *o = NULL;
    CK_RV rv = p11_session_get(h, &s);
    if (rv != CKR_OK)
        return rv;
    p11_op *slot = p11_session_op(s, pk);
    if (mech == NULL) {
        /* PKCS#11 3.0 §5.8-§5.12: an Init with a NULL mechanism ends the
         * active operation of its kind. */
        if (slot->ctx != NULL)
            p11_session_op_end(s, pk);
        else
            rv = CKR_ARGUMENTS_BAD;
        goto done;
    }
    if (slot->ctx != NULL) {
        rv = CKR_OPERATION_ACTIVE;
        goto done;
    }
    if (tk != TCORE_OP_DIGEST) {
        rv = key_get(s, hKey, &key);
        if (rv != CKR_OK)
            goto done;
        rv = check_user(s, key);
        if (rv != CKR_OK)
            goto done;
    }
    rv = tcore_op_init(tk, mech, key, &op);
    if (rv != CKR_OK)
        goto done;
    o = calloc(1, sizeof(*o));
    if (o == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }
    o->op = op;
    op = NULL;
    o->need_auth = tcore_op_always_auth(o->op);
    /* A context login made before this Init does not count (p11.h). */
    (void)p11_session_take_context_auth(s);
    slot->ctx = o;
    slot->free_ctx = fn_op_free;
    o = NULL;
done:
    tcore_op_free(op);
    if (key != NULL)
        tcore_obj_unref(key);
    if (s != NULL)
        p11_session_put(s);
    return rv;
}

/* The active operation of a kind, with the context-specific login checked
 * (PKCS#11 3.0 §5.6: CKR_USER_NOT_LOGGED_IN until C_Login(CKU_CONTEXT_SPECIFIC);
 * the operation stays active so the application can log in and retry). */
static CK_RV op_get(CK_SESSION_HANDLE h, p11_op_kind pk, p11_session **s, fn_op **o)
{
    CK_RV rv = p11_session_get(h, s);
    if (rv != CKR_OK)
        return rv;
    p11_op *slot = p11_session_op(*s, pk);
    if (slot->ctx == NULL) {
        p11_session_put(*s);
        *s = NULL;
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    *o = slot->ctx;
    if ((*o)->need_auth) {
        if (!p11_session_take_context_auth(*s)) {
            p11_session_put(*s);
            *s = NULL;
            return CKR_USER_NOT_LOGGED_IN;
        }
        (*o)->need_auth = false;
    }
    return CKR_OK;
}

/* End the operation unless the call was a length query, too small a
 * buffer, or (for Update calls) a success. */
static void op_after(p11_session *s, p11_op_kind pk, CK_RV rv, bool keep_on_ok)
{
    if (rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && keep_on_ok))
        return;
    p11_session_op_end(s, pk);
}

static CK_RV op_out(CK_SESSION_HANDLE h, p11_op_kind pk, const CK_BYTE *in, CK_ULONG inlen,
                    CK_BYTE_PTR out, CK_ULONG_PTR outlen, bool final)
{
    p11_session *s = NULL;
    fn_op *o = NULL;
    CK_RV rv = op_get(h, pk, &s, &o);
    if (rv != CKR_OK)
        return rv;
    if (outlen == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else if (final)
        rv = tcore_op_final(o->op, out, outlen);
    else
        rv = tcore_op_oneshot(o->op, in, inlen, out, outlen);
    op_after(s, pk, rv, out == NULL);
    p11_session_put(s);
    return rv;
}

static CK_RV op_update(CK_SESSION_HANDLE h, p11_op_kind pk, const CK_BYTE *in, CK_ULONG inlen,
                       CK_BYTE_PTR out, CK_ULONG_PTR outlen, bool has_out)
{
    p11_session *s = NULL;
    fn_op *o = NULL;
    CK_RV rv = op_get(h, pk, &s, &o);
    if (rv != CKR_OK)
        return rv;
    if (has_out && outlen == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = tcore_op_update(o->op, in, inlen, out, outlen);
    op_after(s, pk, rv, true);
    p11_session_put(s);
    return rv;
}

/* ---- mechanisms (§5.5) ----------------------------------------------------------- */

static CK_RV slot_check(CK_SLOT_ID slotID)
{
    tcore_token *t = NULL;
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    rv = p11_slot_token(slotID, &t);
    p11_lib_leave();
    return rv;
}

P11_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                                    CK_ULONG_PTR pulCount)
{
    CK_RV rv = slot_check(slotID);
    if (rv != CKR_OK)
        return rv;
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    return tcore_mech_list(pMechanismList, pulCount);
}

P11_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                    CK_MECHANISM_INFO_PTR pInfo)
{
    CK_RV rv = slot_check(slotID);
    if (rv != CKR_OK)
        return rv;
    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    return tcore_mech_info(type, pInfo);
}

/* ---- digest (§5.10) ---------------------------------------------------------------- */

P11_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    return op_init(hSession, P11_OP_DIGEST, TCORE_OP_DIGEST, pMechanism, CK_INVALID_HANDLE);
}

P11_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                          CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    return op_out(hSession, P11_OP_DIGEST, pData, ulDataLen, pDigest, pulDigestLen, false);
}

P11_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    return op_update(hSession, P11_OP_DIGEST, pPart, ulPartLen, NULL, NULL, false);
}

P11_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    p11_session *s = NULL;
    fn_op *o = NULL;
    tcore_obj *key = NULL;
    CK_RV rv = op_get(hSession, P11_OP_DIGEST, &s, &o);
    if (rv != CKR_OK)
        return rv;
    rv = key_get(s, hKey, &key);
    if (rv == CKR_OK) {
        rv = tcore_op_digest_key(o->op, key);
        tcore_obj_unref(key);
    }
    op_after(s, P11_OP_DIGEST, rv, true);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                               CK_ULONG_PTR pulDigestLen)
{
    return op_out(hSession, P11_OP_DIGEST, NULL, 0, pDigest, pulDigestLen, true);
}

/* ---- sign (§5.11) -------------------------------------------------------------------- */

P11_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                            CK_OBJECT_HANDLE hKey)
{
    return op_init(hSession, P11_OP_SIGN, TCORE_OP_SIGN, pMechanism, hKey);
}

P11_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    return op_out(hSession, P11_OP_SIGN, pData, ulDataLen, pSignature, pulSignatureLen, false);
}

P11_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    return op_update(hSession, P11_OP_SIGN, pPart, ulPartLen, NULL, NULL, false);
}

P11_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                             CK_ULONG_PTR pulSignatureLen)
{
    return op_out(hSession, P11_OP_SIGN, NULL, 0, pSignature, pulSignatureLen, true);
}

/* ---- verify (§5.12) ------------------------------------------------------------------- */

P11_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                              CK_OBJECT_HANDLE hKey)
{
    return op_init(hSession, P11_OP_VERIFY, TCORE_OP_VERIFY, pMechanism, hKey);
}

P11_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                          CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    p11_session *s = NULL;
    fn_op *o = NULL;
    CK_RV rv = op_get(hSession, P11_OP_VERIFY, &s, &o);
    if (rv != CKR_OK)
        return rv;
    rv = tcore_op_verify(o->op, pData, ulDataLen, pSignature, ulSignatureLen);
    /* C_Verify always ends the operation (§5.12). */
    p11_session_op_end(s, P11_OP_VERIFY);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    return op_update(hSession, P11_OP_VERIFY, pPart, ulPartLen, NULL, NULL, false);
}

P11_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                               CK_ULONG ulSignatureLen)
{
    p11_session *s = NULL;
    fn_op *o = NULL;
    CK_RV rv = op_get(hSession, P11_OP_VERIFY, &s, &o);
    if (rv != CKR_OK)
        return rv;
    rv = tcore_op_verify_final(o->op, pSignature, ulSignatureLen);
    p11_session_op_end(s, P11_OP_VERIFY);
    p11_session_put(s);
    return rv;
}

/* ---- encrypt (§5.8) / decrypt (§5.9) --------------------------------------------------- */

P11_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_OBJECT_HANDLE hKey)
{
    return op_init(hSession, P11_OP_ENCRYPT, TCORE_OP_ENCRYPT, pMechanism, hKey);
}

P11_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                           CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen)
{
    return op_out(hSession, P11_OP_ENCRYPT, pData, ulDataLen, pEncryptedData,
                  pulEncryptedDataLen, false);
}

P11_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                                 CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
    return op_update(hSession, P11_OP_ENCRYPT, pPart, ulPartLen, pEncryptedPart,
                     pulEncryptedPartLen, true);
}

P11_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                                CK_ULONG_PTR pulLastEncryptedPartLen)
{
    return op_out(hSession, P11_OP_ENCRYPT, NULL, 0, pLastEncryptedPart, pulLastEncryptedPartLen,
                  true);
}

P11_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_OBJECT_HANDLE hKey)
{
    return op_init(hSession, P11_OP_DECRYPT, TCORE_OP_DECRYPT, pMechanism, hKey);
}

P11_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
                           CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
    return op_out(hSession, P11_OP_DECRYPT, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen,
                  false);
}

P11_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                 CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                 CK_ULONG_PTR pulPartLen)
{
    return op_update(hSession, P11_OP_DECRYPT, pEncryptedPart, ulEncryptedPartLen, pPart,
                     pulPartLen, true);
}

P11_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
                                CK_ULONG_PTR pulLastPartLen)
{
    return op_out(hSession, P11_OP_DECRYPT, NULL, 0, pLastPart, pulLastPartLen, true);
}
