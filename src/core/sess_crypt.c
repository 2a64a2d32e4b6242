/*
 * Cryptographic operations of sessions (PKCS#11 3.0 §5.2, §5.8-§5.12): the
 * operation slots and their life cycle. The work itself is done by the
 * operation contexts of mech_op.c (tcore_op_*). The rules:
 *  - an Init while one of the same kind is active: CKR_OPERATION_ACTIVE;
 *  - a data call without Init: CKR_OPERATION_NOT_INITIALIZED;
 *  - an operation used single-part refuses multi-part calls and the reverse
 *    (CKR_OPERATION_ACTIVE, which ends it), even after a mere length query;
 *  - a length query (NULL output) or CKR_BUFFER_TOO_SMALL leaves the
 *    operation active; a call that produced its output, and any other
 *    error, ends it;
 *  - private keys are used only by the logged-in normal user, and an
 *    operation on a key that needs the application's login ends when the
 *    application logs out;
 *  - a key with CKA_ALWAYS_AUTHENTICATE needs a context-specific login
 *    before its use (CKR_USER_NOT_LOGGED_IN until then; the operation stays
 *    so the application can log in and retry).
 */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

void tcore_crypt_end(tcore_session *s, tcore_op_kind kind)
{
    if ((unsigned)kind >= TCORE_OP_KINDS) {
        return;
    }
    tcore_opslot *o = &s->ops[kind];
    tcore_op_free(o->op);
    memset(o, 0, sizeof(*o));
}

void tcore_crypt_end_all(tcore_session *s)
{
    for (unsigned k = 0; k < TCORE_OP_KINDS; k++) {
        tcore_crypt_end(s, (tcore_op_kind)k);
    }
}

void tcore_crypt_cancel(tcore_session *s, unsigned kinds, bool find)
{
    for (unsigned k = 0; k < TCORE_OP_KINDS; k++) {
        if (kinds & (1u << k)) {
            tcore_crypt_end(s, (tcore_op_kind)k);
        }
    }
    if (find) {
        tcore_find_end(s);
    }
}



/* Does using this key depend on the application's login? */
static bool key_needs_login(const tcore_obj *key)
{
    return key != NULL &&
           (tcore_obj_class(key) == CKO_PRIVATE_KEY || tcore_obj_is_private(key));
}

CK_RV tcore_crypt_init(tcore_session *s, tcore_op_kind kind, const CK_MECHANISM *mech,
                       CK_OBJECT_HANDLE hkey)
{
    tcore_obj *key = NULL;
    tcore_op *op = NULL;
    CK_RV rv;
    tcore_arg arg = TCORE_ARG_MECHANISM;
    if ((unsigned)kind >= TCORE_OP_KINDS) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_NONE);
    }
    tcore_opslot *slot = &s->ops[kind];
    if (mech == NULL) {
        /* PKCS#11 3.0 §5.8-§5.12: an Init with a NULL mechanism ends the
         * active operation of its kind. */
        if (slot->op == NULL) {
            return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_MECHANISM);
        }
        tcore_crypt_end(s, kind);
        return CKR_OK;
    }
    if (slot->op != NULL) {
        return tcore_session_fail(s, CKR_OPERATION_ACTIVE, TCORE_ARG_SESSION);
    }
    if (kind != TCORE_OP_DIGEST) {
        arg = TCORE_ARG_KEY;
        rv = tcore_session_key(s, hkey, CKR_KEY_HANDLE_INVALID, &key);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    rv = tcore_op_init(kind, mech, key, &op);
    if (rv != CKR_OK) {
        arg = rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID
                  ? TCORE_ARG_MECHANISM
                  : TCORE_ARG_KEY;
        goto out;
    }
    slot->op = op;
    op = NULL;
    slot->mode = TCORE_MODE_FRESH;
    slot->need_auth = tcore_op_always_auth(slot->op);
    slot->needs_login = key_needs_login(key);
    slot->login_serial = atomic_load(&s->login->serial);
    /* A context login made before this Init does not count. */
    s->context_auth = false;
out:
    tcore_op_free(op);
    tcore_obj_unref(key);
    return tcore_session_fail(s, rv, arg);
}

/* The active operation of a kind, checked for a call in `mode`. */
static CK_RV op_get(tcore_session *s, tcore_op_kind kind, uint8_t mode, tcore_opslot **out)
{
    if ((unsigned)kind >= TCORE_OP_KINDS) {
        return CKR_ARGUMENTS_BAD;
    }
    tcore_opslot *o = &s->ops[kind];
    if (o->op == NULL) {
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (o->mode != TCORE_MODE_FRESH && o->mode != mode) {
        /* PKCS#11 3.0 §5.2: single-part and multi-part never mixed; like
         * any error but a short buffer, the refusal ends the operation */
        tcore_crypt_end(s, kind);
        return CKR_OPERATION_ACTIVE;
    }
    if (o->needs_login && atomic_load(&s->login->serial) != o->login_serial) {
        /* the application logged out (and perhaps in again) since Init */
        tcore_crypt_end(s, kind);
        return CKR_USER_NOT_LOGGED_IN;
    }
    if (o->need_auth) {
        if (!s->context_auth) {
            return CKR_USER_NOT_LOGGED_IN;
        }
        s->context_auth = false;
        o->need_auth = false;
    }
    o->mode = mode;
    *out = o;
    return CKR_OK;
}

/* End the operation unless the call was a length query, too small a buffer,
 * or (keep_on_ok) a successful Update. */
static void op_after(tcore_session *s, tcore_op_kind kind, CK_RV rv, bool keep_on_ok)
{
    if (rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && keep_on_ok)) {
        return;
    }
    tcore_crypt_end(s, kind);
}

static tcore_arg arg_of(CK_RV rv)
{
    switch (rv) {
    case CKR_BUFFER_TOO_SMALL:
        return TCORE_ARG_OUTPUT;
    case CKR_OPERATION_ACTIVE:
    case CKR_OPERATION_NOT_INITIALIZED:
    case CKR_USER_NOT_LOGGED_IN:
        return TCORE_ARG_SESSION;
    case CKR_SIGNATURE_INVALID:
    case CKR_SIGNATURE_LEN_RANGE:
        return TCORE_ARG_DATA;
    default:
        return TCORE_ARG_DATA;
    }
}

CK_RV tcore_crypt(tcore_session *s, tcore_op_kind kind, const uint8_t *in, size_t inlen,
                  uint8_t *out, CK_ULONG *outlen)
{
    tcore_opslot *o;
    CK_RV rv = op_get(s, kind, TCORE_MODE_SINGLE, &o);
    if (rv != CKR_OK) {
        return tcore_session_fail(s, rv, arg_of(rv));
    }
    if (outlen == NULL || (in == NULL && inlen != 0)) {
        rv = CKR_ARGUMENTS_BAD;
    } else {
        rv = tcore_op_oneshot(o->op, in, inlen, out, outlen);
    }
    op_after(s, kind, rv, out == NULL);
    return tcore_session_fail(s, rv, arg_of(rv));
}

CK_RV tcore_crypt_update(tcore_session *s, tcore_op_kind kind, const uint8_t *in,
                         size_t inlen, uint8_t *out, CK_ULONG *outlen)
{
    tcore_opslot *o;
    CK_RV rv = op_get(s, kind, TCORE_MODE_MULTI, &o);
    if (rv != CKR_OK) {
        return tcore_session_fail(s, rv, arg_of(rv));
    }
    bool has_out = kind == TCORE_OP_ENCRYPT || kind == TCORE_OP_DECRYPT;
    if ((has_out && outlen == NULL) || (in == NULL && inlen != 0)) {
        rv = CKR_ARGUMENTS_BAD;
    } else {
        rv = tcore_op_update(o->op, in, inlen, out, outlen);
    }
    op_after(s, kind, rv, true);
    return tcore_session_fail(s, rv, arg_of(rv));
}

CK_RV tcore_crypt_final(tcore_session *s, tcore_op_kind kind, uint8_t *out, CK_ULONG *outlen)
{
    tcore_opslot *o;
    CK_RV rv = op_get(s, kind, TCORE_MODE_MULTI, &o);
    if (rv != CKR_OK) {
        return tcore_session_fail(s, rv, arg_of(rv));
    }
    if (outlen == NULL) {
        rv = CKR_ARGUMENTS_BAD;
    } else {
        rv = tcore_op_final(o->op, out, outlen);
    }
    op_after(s, kind, rv, out == NULL);
    return tcore_session_fail(s, rv, arg_of(rv));
}

CK_RV tcore_verify(tcore_session *s, const uint8_t *in, size_t inlen, const uint8_t *sig,
                   size_t siglen)
{
    tcore_opslot *o;
    CK_RV rv = op_get(s, TCORE_OP_VERIFY, TCORE_MODE_SINGLE, &o);
    if (rv != CKR_OK) {
        return tcore_session_fail(s, rv, arg_of(rv));
    }
    rv = tcore_op_verify(o->op, in, inlen, sig, siglen);
    /* C_Verify always ends the operation (§5.12). */
    tcore_crypt_end(s, TCORE_OP_VERIFY);
    return tcore_session_fail(s, rv, arg_of(rv));
}

CK_RV tcore_verify_final(tcore_session *s, const uint8_t *sig, size_t siglen)
{
    tcore_opslot *o;
    CK_RV rv = op_get(s, TCORE_OP_VERIFY, TCORE_MODE_MULTI, &o);
    if (rv != CKR_OK) {
        return tcore_session_fail(s, rv, arg_of(rv));
    }
    rv = tcore_op_verify_final(o->op, sig, siglen);
    tcore_crypt_end(s, TCORE_OP_VERIFY);
    return tcore_session_fail(s, rv, arg_of(rv));
}

CK_RV tcore_digest_key(tcore_session *s, CK_OBJECT_HANDLE h)
{
    tcore_opslot *o;
    tcore_obj *key = NULL;
    CK_RV rv = op_get(s, TCORE_OP_DIGEST, TCORE_MODE_MULTI, &o);
    if (rv != CKR_OK) {
        return tcore_session_fail(s, rv, arg_of(rv));
    }
    rv = tcore_session_key(s, h, CKR_KEY_HANDLE_INVALID, &key);
    if (rv == CKR_OK) {
        rv = tcore_op_digest_key(o->op, key);
        tcore_obj_unref(key);
    }
    op_after(s, TCORE_OP_DIGEST, rv, true);
    return tcore_session_fail(s, rv, TCORE_ARG_KEY);
}
