/*
 * The typed front-end functions: each builds the argument array of one
 * operation (the order of tproto_schema) and makes the call.
 */
#include <stdlib.h>
#include <string.h>

#include "service/svc_int.h"

static tproto_arg ul(CK_ULONG v)
{
    return (tproto_arg){.kind = TPROTO_ULONG, .u.ul = v};
}

static tproto_arg bytes(const void *p, CK_ULONG len)
{
    return (tproto_arg){.kind = TPROTO_BYTES, .u.bytes = {p, len}};
}

static tproto_arg ul_out(CK_ULONG *p)
{
    return (tproto_arg){.kind = TPROTO_ULONG_OUT, .u.ul_out = p};
}

static tproto_arg out(void *p, CK_ULONG *plen)
{
    return (tproto_arg){.kind = TPROTO_OUT, .u.out = {p, plen}};
}

/* A list output: capacity *count (when count is given). */
static tproto_arg ulongs(CK_ULONG *p, CK_ULONG cap, CK_ULONG *count)
{
    return (tproto_arg){.kind = TPROTO_ULONGS_OUT, .u.ulongs = {p, cap, count}};
}

/* The core never writes through a template it only reads; the argument
 * type is shared with C_GetAttributeValue's, which it does write. */
static tproto_arg tmpl(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    return (tproto_arg){.kind = TPROTO_TEMPLATE, .u.tmpl = {(CK_ATTRIBUTE *)t, n}};
}

static tproto_arg mech(const CK_MECHANISM *m)
{
    return (tproto_arg){.kind = TPROTO_MECH, .u.mech = m};
}

/* ---- slots, tokens, mechanisms ---------------------------------------------------------- */

CK_RV tsvc_slot_list(tsvc *v, CK_SLOT_ID *p, CK_ULONG *count)
{
    tproto_arg a[] = {ulongs(p, count != NULL ? *count : 0, count)};
    return tsvc_call(v, TPROTO_OP_SLOT_LIST, a);
}

CK_RV tsvc_slot_check(tsvc *v, CK_SLOT_ID slot)
{
    tproto_arg a[] = {ul(slot)};
    return tsvc_call(v, TPROTO_OP_SLOT_CHECK, a);
}

CK_RV tsvc_token_info(tsvc *v, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    tproto_arg a[] = {ul(slot), {.kind = TPROTO_TOKEN_INFO, .u.token_info = info}};
    return tsvc_call(v, TPROTO_OP_TOKEN_INFO, a);
}

CK_RV tsvc_init_token(tsvc *v, CK_SLOT_ID slot, const uint8_t *so_pin, CK_ULONG so_pin_len,
                      const uint8_t label[32])
{
    tproto_arg a[] = {ul(slot), bytes(so_pin, so_pin_len), bytes(label, label != NULL ? 32 : 0)};
    return tsvc_call(v, TPROTO_OP_INIT_TOKEN, a);
}

CK_RV tsvc_mech_list(tsvc *v, CK_SLOT_ID slot, CK_MECHANISM_TYPE *p, CK_ULONG *count)
{
    tproto_arg a[] = {ul(slot), ulongs(p, count != NULL ? *count : 0, count)};
    return tsvc_call(v, TPROTO_OP_MECH_LIST, a);
}

CK_RV tsvc_mech_info(tsvc *v, CK_SLOT_ID slot, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *info)
{
    tproto_arg a[] = {ul(slot), ul(m), {.kind = TPROTO_MECH_INFO, .u.mech_info = info}};
    return tsvc_call(v, TPROTO_OP_MECH_INFO, a);
}

/* ---- sessions ------------------------------------------------------------------------------ */

CK_RV tsvc_session_open(tsvc *v, CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *h)
{
    tproto_arg a[] = {ul(slot), ul(rw ? 1 : 0), ul_out(h)};
    return tsvc_call(v, TPROTO_OP_SESSION_OPEN, a);
}

CK_RV tsvc_session_close(tsvc *v, CK_SESSION_HANDLE h)
{
    tproto_arg a[] = {ul(h)};
    return tsvc_call(v, TPROTO_OP_SESSION_CLOSE, a);
}

CK_RV tsvc_session_close_all(tsvc *v, CK_SLOT_ID slot)
{
    tproto_arg a[] = {ul(slot)};
    return tsvc_call(v, TPROTO_OP_SESSION_CLOSE_ALL, a);
}

CK_RV tsvc_session_info(tsvc *v, CK_SESSION_HANDLE h, CK_SESSION_INFO *info)
{
    tproto_arg a[] = {ul(h), {.kind = TPROTO_SESSION_INFO, .u.session_info = info}};
    return tsvc_call(v, TPROTO_OP_SESSION_INFO, a);
}

CK_RV tsvc_login(tsvc *v, CK_SESSION_HANDLE h, CK_USER_TYPE who, const uint8_t *name,
                 CK_ULONG name_len, const uint8_t *pin, CK_ULONG pin_len)
{
    tproto_arg a[] = {ul(h), ul(who), bytes(name, name_len), bytes(pin, pin_len)};
    return tsvc_call(v, TPROTO_OP_LOGIN, a);
}

CK_RV tsvc_logout(tsvc *v, CK_SESSION_HANDLE h)
{
    tproto_arg a[] = {ul(h)};
    return tsvc_call(v, TPROTO_OP_LOGOUT, a);
}

CK_RV tsvc_init_pin(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *pin, CK_ULONG pin_len)
{
    tproto_arg a[] = {ul(h), bytes(pin, pin_len)};
    return tsvc_call(v, TPROTO_OP_INIT_PIN, a);
}

CK_RV tsvc_set_pin(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *old_pin, CK_ULONG old_len,
                   const uint8_t *new_pin, CK_ULONG new_len)
{
    tproto_arg a[] = {ul(h), bytes(old_pin, old_len), bytes(new_pin, new_len)};
    return tsvc_call(v, TPROTO_OP_SET_PIN, a);
}

/* ---- objects --------------------------------------------------------------------------------- */

CK_RV tsvc_object_create(tsvc *v, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n,
                         CK_OBJECT_HANDLE *o)
{
    tproto_arg a[] = {ul(h), tmpl(t, n), ul_out(o)};
    return tsvc_call(v, TPROTO_OP_OBJECT_CREATE, a);
}

CK_RV tsvc_object_copy(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *t,
                       CK_ULONG n, CK_OBJECT_HANDLE *o)
{
    tproto_arg a[] = {ul(h), ul(obj), tmpl(t, n), ul_out(o)};
    return tsvc_call(v, TPROTO_OP_OBJECT_COPY, a);
}

CK_RV tsvc_object_destroy(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
    tproto_arg a[] = {ul(h), ul(obj)};
    return tsvc_call(v, TPROTO_OP_OBJECT_DESTROY, a);
}

CK_RV tsvc_object_get_attrs(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *t,
                            CK_ULONG n)
{
    tproto_arg a[] = {ul(h), ul(obj), {.kind = TPROTO_ATTRS, .u.tmpl = {t, n}}};
    return tsvc_call(v, TPROTO_OP_OBJECT_GET_ATTRS, a);
}

CK_RV tsvc_object_set_attrs(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                            const CK_ATTRIBUTE *t, CK_ULONG n)
{
    tproto_arg a[] = {ul(h), ul(obj), tmpl(t, n)};
    return tsvc_call(v, TPROTO_OP_OBJECT_SET_ATTRS, a);
}

CK_RV tsvc_object_size(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG *size)
{
    tproto_arg a[] = {ul(h), ul(obj), ul_out(size)};
    return tsvc_call(v, TPROTO_OP_OBJECT_SIZE, a);
}

CK_RV tsvc_find_init(tsvc *v, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    tproto_arg a[] = {ul(h), tmpl(t, n)};
    return tsvc_call(v, TPROTO_OP_FIND_INIT, a);
}

CK_RV tsvc_find(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *o, CK_ULONG max, CK_ULONG *count)
{
    tproto_arg a[] = {ul(h), ulongs(o, max, count)};
    return tsvc_call(v, TPROTO_OP_FIND, a);
}

CK_RV tsvc_find_final(tsvc *v, CK_SESSION_HANDLE h)
{
    tproto_arg a[] = {ul(h)};
    return tsvc_call(v, TPROTO_OP_FIND_FINAL, a);
}

/* ---- cryptographic operations ------------------------------------------------------------------ */

/* The most data one remote call carries: a request must fit a frame. */
#define REMOTE_MAX_DATA (TPROTO_MAX_OUT - 8192)

/* A remote call whose data cannot fit a frame is answered here: the
 * operation ends, as any failure other than a length query ends it in
 * process (so the session is left as the core would leave it), and the
 * caller learns the input is too long for one call: CKR_DATA_LEN_RANGE
 * (split it into *Update calls). In process there is no such limit. */
static bool too_long(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, CK_ULONG len,
                     CK_RV *rv)
{
    if (!tsvc_is_remote(v) || len <= REMOTE_MAX_DATA)
        return false;
    (void)tsvc_crypt_cancel(v, h, 1u << kind, false);
    tcore_err e = {CKR_DATA_LEN_RANGE, TCORE_ARG_DATA, -1, 0};
    tsvc_set_last_error(&e);
    *rv = CKR_DATA_LEN_RANGE;
    return true;
}

CK_RV tsvc_crypt_init(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE key)
{
    tproto_arg a[] = {ul(h), ul(kind), mech(m), ul(key)};
    return tsvc_call(v, TPROTO_OP_CRYPT_INIT, a);
}

CK_RV tsvc_crypt(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, const uint8_t *in,
                 CK_ULONG inlen, uint8_t *o, CK_ULONG *olen)
{
    CK_RV rv;
    if (too_long(v, h, kind, inlen, &rv))
        return rv;
    tproto_arg a[] = {ul(h), ul(kind), bytes(in, inlen), out(o, olen)};
    return tsvc_call(v, TPROTO_OP_CRYPT, a);
}

CK_RV tsvc_crypt_update(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, const uint8_t *in,
                        CK_ULONG inlen, uint8_t *o, CK_ULONG *olen)
{
    CK_RV rv;
    if (too_long(v, h, kind, inlen, &rv))
        return rv;
    tproto_arg a[] = {ul(h), ul(kind), bytes(in, inlen), out(o, olen)};
    return tsvc_call(v, TPROTO_OP_CRYPT_UPDATE, a);
}

CK_RV tsvc_crypt_final(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, uint8_t *o,
                       CK_ULONG *olen)
{
    tproto_arg a[] = {ul(h), ul(kind), out(o, olen)};
    return tsvc_call(v, TPROTO_OP_CRYPT_FINAL, a);
}

CK_RV tsvc_verify(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *in, CK_ULONG inlen,
                  const uint8_t *sig, CK_ULONG siglen)
{
    CK_RV rv;
    if (too_long(v, h, TCORE_OP_VERIFY, inlen + siglen, &rv))
        return rv;
    tproto_arg a[] = {ul(h), bytes(in, inlen), bytes(sig, siglen)};
    return tsvc_call(v, TPROTO_OP_VERIFY, a);
}

CK_RV tsvc_verify_final(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *sig, CK_ULONG siglen)
{
    tproto_arg a[] = {ul(h), bytes(sig, siglen)};
    return tsvc_call(v, TPROTO_OP_VERIFY_FINAL, a);
}

CK_RV tsvc_digest_key(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
    tproto_arg a[] = {ul(h), ul(key)};
    return tsvc_call(v, TPROTO_OP_DIGEST_KEY, a);
}

CK_RV tsvc_crypt_cancel(tsvc *v, CK_SESSION_HANDLE h, unsigned kinds, bool find)
{
    tproto_arg a[] = {ul(h), ul(kinds), ul(find ? 1 : 0)};
    return tsvc_call(v, TPROTO_OP_CRYPT_CANCEL, a);
}

/* ---- keys and random numbers ---------------------------------------------------------------------- */

CK_RV tsvc_generate_key(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *o)
{
    tproto_arg a[] = {ul(h), mech(m), tmpl(t, n), ul_out(o)};
    return tsvc_call(v, TPROTO_OP_GENERATE_KEY, a);
}

CK_RV tsvc_generate_key_pair(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                             const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                             CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    tproto_arg a[] = {ul(h), mech(m), tmpl(pub, npub), tmpl(priv, npriv), ul_out(hpub),
                      ul_out(hpriv)};
    return tsvc_call(v, TPROTO_OP_GENERATE_KEY_PAIR, a);
}

CK_RV tsvc_wrap_key(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                    CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, uint8_t *o, CK_ULONG *olen)
{
    tproto_arg a[] = {ul(h), mech(m), ul(wrapping), ul(key), out(o, olen)};
    return tsvc_call(v, TPROTO_OP_WRAP_KEY, a);
}

CK_RV tsvc_unwrap_key(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE unwrapping, const uint8_t *in, CK_ULONG inlen,
                      const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *o)
{
    tproto_arg a[] = {ul(h), mech(m), ul(unwrapping), bytes(in, inlen), tmpl(t, n), ul_out(o)};
    return tsvc_call(v, TPROTO_OP_UNWRAP_KEY, a);
}

CK_RV tsvc_derive_key(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                      const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *o)
{
    tproto_arg a[] = {ul(h), mech(m), ul(base), tmpl(t, n), ul_out(o)};
    return tsvc_call(v, TPROTO_OP_DERIVE_KEY, a);
}

/* A response carries at most TPROTO_MAX_OUT bytes: larger requests are
 * made in parts (the same parts in process, so both modes behave alike). */
#define RANDOM_PART (TPROTO_MAX_OUT / 2)

CK_RV tsvc_random(tsvc *v, CK_SESSION_HANDLE h, uint8_t *o, CK_ULONG len)
{
    CK_ULONG done = 0;
    do {
        CK_ULONG n = len - done < RANDOM_PART ? len - done : RANDOM_PART;
        tproto_arg a[] = {ul(h), out(o != NULL ? o + done : NULL, &n)};
        CK_RV rv = tsvc_call(v, TPROTO_OP_RANDOM, a);
        if (rv != CKR_OK)
            return rv;
        /* a part that came back empty would loop for ever (only a
         * misbehaving daemon answers so) */
        if (n == 0 && done < len)
            return CKR_DEVICE_ERROR;
        done += n;
    } while (done < len);
    return CKR_OK;
}

CK_RV tsvc_seed_random(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *seed, CK_ULONG len)
{
    tproto_arg a[] = {ul(h), bytes(seed, len)};
    return tsvc_call(v, TPROTO_OP_SEED_RANDOM, a);
}

/* ---- helpers for the CLI ---------------------------------------------------------------------------- */

CK_RV tsvc_slot_list_alloc(tsvc *v, CK_SLOT_ID **outp, CK_ULONG *count)
{
    /* A token may appear between counting and listing: retry a few times. */
    for (int tries = 0; tries < 8; tries++) {
        CK_ULONG n = 0;
        CK_RV rv = tsvc_slot_list(v, NULL, &n);
        if (rv != CKR_OK)
            return rv;
        CK_SLOT_ID *list = calloc(n + 1, sizeof(*list));
        if (list == NULL)
            return CKR_HOST_MEMORY;
        rv = tsvc_slot_list(v, list, &n);
        if (rv == CKR_OK) {
            *outp = list;
            *count = n;
            return CKR_OK;
        }
        free(list);
        if (rv != CKR_BUFFER_TOO_SMALL)
            return rv;
    }
    return CKR_GENERAL_ERROR;
}

static CK_RV find_slot(tsvc *v, bool want_free, const char *label, CK_SLOT_ID *slot)
{
    CK_SLOT_ID *list;
    CK_ULONG n;
    CK_RV rv = tsvc_slot_list_alloc(v, &list, &n);
    if (rv != CKR_OK)
        return rv;
    uint8_t padded[32];
    if (label != NULL)
        tc_pad(padded, sizeof(padded), label);
    rv = CKR_TOKEN_NOT_PRESENT;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        if (tsvc_token_info(v, list[i], &info) != CKR_OK)
            continue;
        bool initialised = (info.flags & CKF_TOKEN_INITIALIZED) != 0;
        if (want_free ? !initialised
                      : initialised && memcmp(info.label, padded, sizeof(padded)) == 0) {
            *slot = list[i];
            rv = CKR_OK;
            break;
        }
    }
    free(list);
    return rv;
}

CK_RV tsvc_slot_free(tsvc *v, CK_SLOT_ID *slot)
{
    return find_slot(v, true, NULL, slot);
}

CK_RV tsvc_slot_by_label(tsvc *v, const char *label, CK_SLOT_ID *slot)
{
    /* A label is at most 32 bytes; a longer one names no token. */
    if (strlen(label) > 32)
        return CKR_TOKEN_NOT_PRESENT;
    return find_slot(v, false, label, slot);
}

CK_RV tsvc_token_create(tsvc *v, const char *label, const char *so_pin, const char *user_pin,
                        CK_SLOT_ID *slot, const char **step)
{
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    const char *what = "find the free slot";
    uint8_t padded[32];
    CK_RV rv = CKR_ARGUMENTS_BAD;
    if (strlen(label) > sizeof(padded))
        goto out;
    tc_pad(padded, sizeof(padded), label);
    rv = tsvc_slot_free(v, slot);
    if (rv != CKR_OK)
        goto out;
    what = "initialise token";
    rv = tsvc_init_token(v, *slot, (const uint8_t *)so_pin, strlen(so_pin), padded);
    if (rv != CKR_OK)
        goto out;
    /* Slot numbers may change once a token is initialised: look it up again. */
    what = "find the new token";
    rv = tsvc_slot_by_label(v, label, slot);
    if (rv != CKR_OK)
        goto out;
    what = "open session";
    rv = tsvc_session_open(v, *slot, true, &h);
    if (rv != CKR_OK)
        goto out;
    what = "log in as SO";
    rv = tsvc_login(v, h, CKU_SO, NULL, 0, (const uint8_t *)so_pin, strlen(so_pin));
    if (rv != CKR_OK)
        goto out;
    what = "set the user PIN";
    rv = tsvc_init_pin(v, h, (const uint8_t *)user_pin, strlen(user_pin));
    if (rv != CKR_OK)
        goto out;
    what = "log out";
    rv = tsvc_logout(v, h);
out:
    if (h != CK_INVALID_HANDLE) {
        /* the failure reported is the step's, not the clean-up's */
        tcore_err e = *tsvc_last_error();
        (void)tsvc_session_close(v, h);
        tsvc_set_last_error(&e);
    }
    if (step != NULL)
        *step = what;
    return rv;
}
