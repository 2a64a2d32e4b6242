/*
 * The dispatcher: one protocol operation → one core call. The embedded
 * channel calls it with arguments pointing at the application's memory;
 * tesserad with arguments decoded from a request. The argument order of each
 * operation is tproto_schema(op).
 */
#include "service/tsvc.h"

/* An operation on a session: the session is looked up and locked by the
 * dispatcher; x[0] is its handle. */
typedef CK_RV (*sess_fn)(tcore_session *s, tproto_arg *x);
/* An operation of the application or the core. */
typedef CK_RV (*app_fn)(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err);

/* ---- slots, tokens, mechanisms ---------------------------------------------------- */

/* The two-call list convention over ULONGS_OUT: capacity in, count out. */
static CK_RV slot_list(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)a;
    (void)err;
    if (x[0].u.ulongs.count == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_ULONG n = x[0].u.ulongs.cap;
    CK_RV rv = tcore_slot_list(c, x[0].u.ulongs.p, &n);
    *x[0].u.ulongs.count = n;
    return rv;
}

static CK_RV slot_check(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)a;
    (void)err;
    return tcore_slot_check(c, x[0].u.ul);
}

static CK_RV token_info(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)a;
    (void)err;
    return tcore_token_info(c, x[0].u.ul, x[1].u.token_info);
}

static CK_RV init_token(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)a;
    const tproto_arg *label = &x[2];
    /* The label is 32 bytes, blank padded (PKCS#11 3.0 §5.5); a shorter
     * buffer is not one. */
    if (label->u.bytes.p != NULL && label->u.bytes.len != 32)
        return CKR_ARGUMENTS_BAD;
    return tcore_init_token(c, x[0].u.ul, x[1].u.bytes.p, x[1].u.bytes.len, label->u.bytes.p,
                            err);
}

static CK_RV mech_list(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)a;
    (void)err;
    CK_RV rv = tcore_slot_check(c, x[0].u.ul);
    if (rv != CKR_OK)
        return rv;
    if (x[1].u.ulongs.count == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_ULONG n = x[1].u.ulongs.cap;
    rv = tcore_mech_list(c, x[1].u.ulongs.p, &n);
    *x[1].u.ulongs.count = n;
    return rv;
}

static CK_RV mech_info(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)a;
    (void)err;
    CK_RV rv = tcore_slot_check(c, x[0].u.ul);
    if (rv != CKR_OK)
        return rv;
    if (x[2].u.mech_info == NULL)
        return CKR_ARGUMENTS_BAD;
    return tcore_mech_info(c, x[1].u.ul, x[2].u.mech_info);
}

/* ---- sessions ------------------------------------------------------------------------ */

static CK_RV session_open(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)c;
    (void)err;
    if (x[2].u.ul_out == NULL)
        return CKR_ARGUMENTS_BAD;
    return tcore_session_open(a, x[0].u.ul, x[1].u.ul != 0, x[2].u.ul_out);
}

static CK_RV session_close(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)c;
    (void)err;
    return tcore_session_close(a, x[0].u.ul);
}

static CK_RV session_close_all(tcore *c, tcore_app *a, tproto_arg *x, tcore_err *err)
{
    (void)c;
    (void)err;
    return tcore_session_close_all(a, x[0].u.ul);
}

static CK_RV session_info(tcore_session *s, tproto_arg *x)
{
    if (x[1].u.session_info == NULL)
        return CKR_ARGUMENTS_BAD;
    return tcore_session_info(s, x[1].u.session_info);
}

static CK_RV login(tcore_session *s, tproto_arg *x)
{
    return tcore_login(s, x[1].u.ul, x[2].u.bytes.p, x[2].u.bytes.len, x[3].u.bytes.p,
                       x[3].u.bytes.len);
}

static CK_RV logout(tcore_session *s, tproto_arg *x)
{
    (void)x;
    return tcore_logout(s);
}

static CK_RV init_pin(tcore_session *s, tproto_arg *x)
{
    return tcore_init_pin(s, x[1].u.bytes.p, x[1].u.bytes.len);
}

static CK_RV set_pin(tcore_session *s, tproto_arg *x)
{
    return tcore_set_pin(s, x[1].u.bytes.p, x[1].u.bytes.len, x[2].u.bytes.p, x[2].u.bytes.len);
}

/* ---- objects --------------------------------------------------------------------------- */

static CK_RV object_create(tcore_session *s, tproto_arg *x)
{
    return tcore_object_create(s, x[1].u.tmpl.p, x[1].u.tmpl.n, x[2].u.ul_out);
}

static CK_RV object_copy(tcore_session *s, tproto_arg *x)
{
    return tcore_object_copy(s, x[1].u.ul, x[2].u.tmpl.p, x[2].u.tmpl.n, x[3].u.ul_out);
}

static CK_RV object_destroy(tcore_session *s, tproto_arg *x)
{
    return tcore_object_destroy(s, x[1].u.ul);
}

static CK_RV object_get_attrs(tcore_session *s, tproto_arg *x)
{
    return tcore_object_get_attrs(s, x[1].u.ul, x[2].u.tmpl.p, x[2].u.tmpl.n);
}

static CK_RV object_set_attrs(tcore_session *s, tproto_arg *x)
{
    return tcore_object_set_attrs(s, x[1].u.ul, x[2].u.tmpl.p, x[2].u.tmpl.n);
}

static CK_RV object_size(tcore_session *s, tproto_arg *x)
{
    return tcore_object_size(s, x[1].u.ul, x[2].u.ul_out);
}

static CK_RV find_init(tcore_session *s, tproto_arg *x)
{
    return tcore_find_init(s, x[1].u.tmpl.p, x[1].u.tmpl.n);
}

static CK_RV find(tcore_session *s, tproto_arg *x)
{
    return tcore_find(s, x[1].u.ulongs.p, x[1].u.ulongs.cap, x[1].u.ulongs.count);
}

static CK_RV find_final(tcore_session *s, tproto_arg *x)
{
    (void)x;
    return tcore_find_final(s);
}

/* ---- cryptographic operations ------------------------------------------------------------ */

/* The operation kind of a request (a number from the wire). */
static bool op_kind(const tproto_arg *a, tcore_op_kind *out)
{
    if (a->u.ul >= TCORE_OP_KINDS)
        return false;
    *out = (tcore_op_kind)a->u.ul;
    return true;
}

static CK_RV crypt_init(tcore_session *s, tproto_arg *x)
{
    tcore_op_kind k;
    if (!op_kind(&x[1], &k))
        return CKR_ARGUMENTS_BAD;
    return tcore_crypt_init(s, k, x[2].u.mech, x[3].u.ul);
}

static CK_RV crypt(tcore_session *s, tproto_arg *x)
{
    tcore_op_kind k;
    if (!op_kind(&x[1], &k))
        return CKR_ARGUMENTS_BAD;
    return tcore_crypt(s, k, x[2].u.bytes.p, x[2].u.bytes.len, x[3].u.out.p, x[3].u.out.plen);
}

static CK_RV crypt_update(tcore_session *s, tproto_arg *x)
{
    tcore_op_kind k;
    if (!op_kind(&x[1], &k))
        return CKR_ARGUMENTS_BAD;
    return tcore_crypt_update(s, k, x[2].u.bytes.p, x[2].u.bytes.len, x[3].u.out.p,
                              x[3].u.out.plen);
}

static CK_RV crypt_final(tcore_session *s, tproto_arg *x)
{
    tcore_op_kind k;
    if (!op_kind(&x[1], &k))
        return CKR_ARGUMENTS_BAD;
    return tcore_crypt_final(s, k, x[2].u.out.p, x[2].u.out.plen);
}

static CK_RV verify(tcore_session *s, tproto_arg *x)
{
    return tcore_verify(s, x[1].u.bytes.p, x[1].u.bytes.len, x[2].u.bytes.p, x[2].u.bytes.len);
}

static CK_RV verify_final(tcore_session *s, tproto_arg *x)
{
    return tcore_verify_final(s, x[1].u.bytes.p, x[1].u.bytes.len);
}

static CK_RV digest_key(tcore_session *s, tproto_arg *x)
{
    return tcore_digest_key(s, x[1].u.ul);
}

static CK_RV crypt_cancel(tcore_session *s, tproto_arg *x)
{
    tcore_crypt_cancel(s, (unsigned)(x[1].u.ul & ((1u << TCORE_OP_KINDS) - 1)), x[2].u.ul != 0);
    return CKR_OK;
}

/* ---- keys and random numbers ---------------------------------------------------------------- */

static CK_RV generate_key(tcore_session *s, tproto_arg *x)
{
    return tcore_generate_key(s, x[1].u.mech, x[2].u.tmpl.p, x[2].u.tmpl.n, x[3].u.ul_out);
}

static CK_RV generate_key_pair(tcore_session *s, tproto_arg *x)
{
    return tcore_generate_key_pair(s, x[1].u.mech, x[2].u.tmpl.p, x[2].u.tmpl.n, x[3].u.tmpl.p,
                                   x[3].u.tmpl.n, x[4].u.ul_out, x[5].u.ul_out);
}

static CK_RV wrap_key(tcore_session *s, tproto_arg *x)
{
    return tcore_wrap_key(s, x[1].u.mech, x[2].u.ul, x[3].u.ul, x[4].u.out.p, x[4].u.out.plen);
}

static CK_RV unwrap_key(tcore_session *s, tproto_arg *x)
{
    return tcore_unwrap_key(s, x[1].u.mech, x[2].u.ul, x[3].u.bytes.p, x[3].u.bytes.len,
                            x[4].u.tmpl.p, x[4].u.tmpl.n, x[5].u.ul_out);
}

static CK_RV derive_key(tcore_session *s, tproto_arg *x)
{
    return tcore_derive_key(s, x[1].u.mech, x[2].u.ul, x[3].u.tmpl.p, x[3].u.tmpl.n,
                            x[4].u.ul_out);
}

static CK_RV random_bytes(tcore_session *s, tproto_arg *x)
{
    if (x[1].u.out.plen == NULL)
        return CKR_ARGUMENTS_BAD;
    return tcore_random(s, x[1].u.out.p, *x[1].u.out.plen);
}

static CK_RV seed_random(tcore_session *s, tproto_arg *x)
{
    return tcore_seed_random(s, x[1].u.bytes.p, x[1].u.bytes.len);
}

/* ---- the table ----------------------------------------------------------------------------- */

static const struct {
    sess_fn sess;
    app_fn app;
} ops[TPROTO_OP_END] = {
    [TPROTO_OP_SLOT_LIST] = {NULL, slot_list},
    [TPROTO_OP_SLOT_CHECK] = {NULL, slot_check},
    [TPROTO_OP_TOKEN_INFO] = {NULL, token_info},
    [TPROTO_OP_INIT_TOKEN] = {NULL, init_token},
    [TPROTO_OP_MECH_LIST] = {NULL, mech_list},
    [TPROTO_OP_MECH_INFO] = {NULL, mech_info},
    [TPROTO_OP_SESSION_OPEN] = {NULL, session_open},
    [TPROTO_OP_SESSION_CLOSE] = {NULL, session_close},
    [TPROTO_OP_SESSION_CLOSE_ALL] = {NULL, session_close_all},
    [TPROTO_OP_SESSION_INFO] = {session_info, NULL},
    [TPROTO_OP_LOGIN] = {login, NULL},
    [TPROTO_OP_LOGOUT] = {logout, NULL},
    [TPROTO_OP_INIT_PIN] = {init_pin, NULL},
    [TPROTO_OP_SET_PIN] = {set_pin, NULL},
    [TPROTO_OP_OBJECT_CREATE] = {object_create, NULL},
    [TPROTO_OP_OBJECT_COPY] = {object_copy, NULL},
    [TPROTO_OP_OBJECT_DESTROY] = {object_destroy, NULL},
    [TPROTO_OP_OBJECT_GET_ATTRS] = {object_get_attrs, NULL},
    [TPROTO_OP_OBJECT_SET_ATTRS] = {object_set_attrs, NULL},
    [TPROTO_OP_OBJECT_SIZE] = {object_size, NULL},
    [TPROTO_OP_FIND_INIT] = {find_init, NULL},
    [TPROTO_OP_FIND] = {find, NULL},
    [TPROTO_OP_FIND_FINAL] = {find_final, NULL},
    [TPROTO_OP_CRYPT_INIT] = {crypt_init, NULL},
    [TPROTO_OP_CRYPT] = {crypt, NULL},
    [TPROTO_OP_CRYPT_UPDATE] = {crypt_update, NULL},
    [TPROTO_OP_CRYPT_FINAL] = {crypt_final, NULL},
    [TPROTO_OP_VERIFY] = {verify, NULL},
    [TPROTO_OP_VERIFY_FINAL] = {verify_final, NULL},
    [TPROTO_OP_DIGEST_KEY] = {digest_key, NULL},
    [TPROTO_OP_CRYPT_CANCEL] = {crypt_cancel, NULL},
    [TPROTO_OP_GENERATE_KEY] = {generate_key, NULL},
    [TPROTO_OP_GENERATE_KEY_PAIR] = {generate_key_pair, NULL},
    [TPROTO_OP_WRAP_KEY] = {wrap_key, NULL},
    [TPROTO_OP_UNWRAP_KEY] = {unwrap_key, NULL},
    [TPROTO_OP_DERIVE_KEY] = {derive_key, NULL},
    [TPROTO_OP_RANDOM] = {random_bytes, NULL},
    [TPROTO_OP_SEED_RANDOM] = {seed_random, NULL},
};

static void err_set(tcore_err *err, CK_RV rv, tcore_arg arg)
{
    err->rv = rv;
    err->arg = rv == CKR_OK ? TCORE_ARG_NONE : arg;
    err->index = -1;
    err->attr = 0;
}

CK_RV tsvc_dispatch(tcore *c, tcore_app *a, uint16_t op, tproto_arg *args, tcore_err *err)
{
    err_set(err, CKR_OK, TCORE_ARG_NONE);
    if (op >= TPROTO_OP_END || (ops[op].sess == NULL && ops[op].app == NULL)) {
        err_set(err, CKR_FUNCTION_NOT_SUPPORTED, TCORE_ARG_NONE);
        return CKR_FUNCTION_NOT_SUPPORTED;
    }
    CK_RV rv;
    if (ops[op].app != NULL) {
        rv = ops[op].app(c, a, args, err);
        if (rv != CKR_OK && err->rv == CKR_OK)
            err_set(err, rv, TCORE_ARG_NONE);
        if (rv == CKR_OK)
            err_set(err, CKR_OK, TCORE_ARG_NONE);
        return rv;
    }
    tcore_session *s;
    rv = tcore_session_get(a, args[0].u.ul, &s);
    if (rv != CKR_OK) {
        err_set(err, rv, TCORE_ARG_SESSION);
        return rv;
    }
    rv = ops[op].sess(s, args);
    if (rv != CKR_OK) {
        const tcore_err *e = tcore_session_error(s);
        if (e->rv == rv)
            *err = *e;
        else
            err_set(err, rv, TCORE_ARG_NONE);
    }
    tcore_session_put(s);
    return rv;
}
