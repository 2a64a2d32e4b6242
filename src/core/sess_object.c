/*
 * Objects as sessions see them (PKCS#11 3.0 §5.7, §4.4): token objects of
 * the session's token (kept by the token layer, handles in [2^62, 2^63),
 * the same in every application and process) and the application's session
 * objects, kept here in a hash table by handle (handles from a counter in
 * [1, 2^62), never reused). A session object is visible to every session of
 * its application on its token and destroyed with the session that made it.
 * Private objects, of either kind, exist for a session only while its
 * application is logged in as the normal user; token objects are created,
 * changed and destroyed only from R/W sessions.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

static size_t bucket(CK_OBJECT_HANDLE h, size_t nb)
{
    uint64_t x = (uint64_t)h * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32) & (nb - 1);
}

/* Caller holds the write lock. Best effort: a failed grow keeps the table as
 * it is (chains get longer). */
static void maybe_grow(tcore_app *a)
{
    if (a->nobj_buckets != 0 && a->nobjs < a->nobj_buckets) {
        return;
    }
    size_t nb = a->nobj_buckets == 0 ? 256 : a->nobj_buckets * 2;
    tcore_sobj **b = calloc(nb, sizeof(*b));
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < a->nobj_buckets; i++) {
        tcore_sobj *e = a->objs[i];
        while (e != NULL) {
            tcore_sobj *next = e->next;
            size_t k = bucket(e->h, nb);
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(a->objs);
    a->objs = b;
    a->nobj_buckets = nb;
}

static bool table_reserve(tcore_app *a)
{
    pthread_rwlock_wrlock(&a->obj_lock);
    maybe_grow(a);
    bool ok = a->nobj_buckets != 0;
    pthread_rwlock_unlock(&a->obj_lock);
    return ok;
}

/* Insert prepared entries; the table takes them (es[i] set to NULL). Needs
 * table_reserve() first, so it cannot fail. */
static void table_insert(tcore_app *a, tcore_sobj **es, CK_ULONG n)
{
    pthread_rwlock_wrlock(&a->obj_lock);
    for (CK_ULONG i = 0; i < n; i++) {
        maybe_grow(a);
        size_t k = bucket(es[i]->h, a->nobj_buckets);
        es[i]->next = a->objs[k];
        a->objs[k] = es[i];
        a->nobjs++;
        es[i] = NULL;
    }
    pthread_rwlock_unlock(&a->obj_lock);
}

static tcore_sobj *table_remove(tcore_app *a, CK_OBJECT_HANDLE h)
{
    tcore_sobj *found = NULL;
    pthread_rwlock_wrlock(&a->obj_lock);
    if (a->nobj_buckets != 0) {
        for (tcore_sobj **pp = &a->objs[bucket(h, a->nobj_buckets)]; *pp != NULL;
             pp = &(*pp)->next) {
            if ((*pp)->h == h) {
                found = *pp;
                *pp = found->next;
                a->nobjs--;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&a->obj_lock);
    return found;
}

void tcore_app_drop_objects(tcore_app *a, bool all, CK_SESSION_HANDLE owner)
{
    tcore_sobj *dead = NULL;
    pthread_rwlock_wrlock(&a->obj_lock);
    for (size_t i = 0; i < a->nobj_buckets; i++) {
        tcore_sobj **pp = &a->objs[i];
        while (*pp != NULL) {
            tcore_sobj *e = *pp;
            if (all || e->owner == owner) {
                *pp = e->next;
                e->next = dead;
                dead = e;
                a->nobjs--;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_rwlock_unlock(&a->obj_lock);
    /* Release outside the lock: the last reference wipes the object. */
    while (dead != NULL) {
        tcore_sobj *next = dead->next;
        tcore_obj_unref(dead->o);
        free(dead);
        dead = next;
    }
}

/* ---- resolving and adding --------------------------------------------------- */

CK_RV tcore_session_object(tcore_session *s, CK_OBJECT_HANDLE h, tcore_obj **out)
{
    tcore_app *a = s->app;
    bool user = tcore_session_who(s) == CKU_USER;
    if (h == CK_INVALID_HANDLE) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (tcore_handle_is_token(h)) {
        return tcore_token_object(s->token, h, user, out);
    }
    tcore_obj *o = NULL;
    pthread_rwlock_rdlock(&a->obj_lock);
    if (a->nobj_buckets != 0) {
        for (tcore_sobj *e = a->objs[bucket(h, a->nobj_buckets)]; e != NULL; e = e->next) {
            if (e->h == h) {
                if (e->t == s->token) {
                    o = e->o;
                }
                break;
            }
        }
    }
    if (o != NULL) {
        tcore_obj_ref(o);
    }
    pthread_rwlock_unlock(&a->obj_lock);
    if (o == NULL) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (tcore_obj_is_private(o) && !user) {
        tcore_obj_unref(o);
        return CKR_OBJECT_HANDLE_INVALID;
    }
    *out = o;
    return CKR_OK;
}

CK_RV tcore_session_key(tcore_session *s, CK_OBJECT_HANDLE h, CK_RV invalid, tcore_obj **out)
{
    CK_RV rv = tcore_session_object(s, h, out);
    if (rv == CKR_OBJECT_HANDLE_INVALID) {
        return invalid;
    }
    if (rv == CKR_OK && tcore_obj_class(*out) == CKO_PRIVATE_KEY &&
        tcore_session_who(s) != CKU_USER) {
        tcore_obj_unref(*out);
        *out = NULL;
        return CKR_USER_NOT_LOGGED_IN;
    }
    return rv;
}

CK_RV tcore_session_add_objects(tcore_session *s, tcore_obj **objs, CK_ULONG n,
                                CK_OBJECT_HANDLE *handles)
{
    CK_RV rv = CKR_OK;
    tcore_app *a = s->app;
    tcore_obj **tok = NULL;
    CK_OBJECT_HANDLE *tokh = NULL;
    tcore_sobj **es = NULL;
    CK_OBJECT_HANDLE *res = NULL;
    CK_ULONG ntok = 0, nses = 0;

    if (n == 0) {
        return CKR_OK;
    }
    bool user = tcore_session_who(s) == CKU_USER;
    for (CK_ULONG i = 0; i < n; i++) {
        /* PKCS#11 3.0 §5.7 / §4.4: token objects need a R/W session,
         * private objects a logged-in user. */
        if (tcore_obj_is_token(objs[i]) && !s->rw) {
            rv = CKR_SESSION_READ_ONLY;
            goto out;
        }
        if (tcore_obj_is_private(objs[i]) && !user) {
            rv = CKR_USER_NOT_LOGGED_IN;
            goto out;
        }
        if (tcore_obj_is_token(objs[i])) {
            ntok++;
        } else {
            nses++;
        }
    }
    tok = calloc(ntok + 1, sizeof(*tok));
    tokh = calloc(ntok + 1, sizeof(*tokh));
    es = calloc(nses + 1, sizeof(*es));
    res = calloc(n, sizeof(*res));
    if (tok == NULL || tokh == NULL || es == NULL || res == NULL || !table_reserve(a)) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    /* Everything that can fail comes before the store commit, so a failure
     * leaves nothing behind. */
    for (CK_ULONG i = 0, k = 0; i < n; i++) {
        if (tcore_obj_is_token(objs[i])) {
            continue;
        }
        es[k] = calloc(1, sizeof(**es));
        if (es[k] == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        k++;
    }
    for (CK_ULONG i = 0, k = 0; i < n; i++) {
        if (tcore_obj_is_token(objs[i])) {
            tok[k++] = objs[i];
        }
    }
    /* the request's one commit */
    if (ntok != 0) {
        rv = tcore_token_store_objects(s->token, tok, ntok, tokh);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    for (CK_ULONG i = 0, kt = 0, ks = 0; i < n; i++) {
        if (tcore_obj_is_token(objs[i])) {
            res[i] = tokh[kt++];
            continue;
        }
        tcore_sobj *e = es[ks++];
        e->h = (CK_OBJECT_HANDLE)atomic_fetch_add(&a->next_obj_handle, 1);
        e->o = objs[i];
        tcore_obj_ref(objs[i]);
        e->t = s->token;
        e->owner = s->handle;
        res[i] = e->h;
    }
    table_insert(a, es, nses);
    memcpy(handles, res, n * sizeof(*res));
out:
    if (es != NULL) {
        for (CK_ULONG i = 0; i < nses; i++) {
            if (es[i] != NULL && es[i]->o != NULL) {
                tcore_obj_unref(es[i]->o);
            }
            free(es[i]);
        }
    }
    free(es);
    free(tok);
    free(tokh);
    free(res);
    for (CK_ULONG i = 0; i < n; i++) {
        tcore_obj_unref(objs[i]);
    }
    return rv;
}

/* ---- C_CreateObject / C_CopyObject / C_DestroyObject --------------------------- */

CK_RV tcore_object_create(tcore_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                          CK_OBJECT_HANDLE *out)
{
    tcore_obj *o = NULL;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    if ((tmpl == NULL && n != 0) || out == NULL) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_TEMPLATE);
    }
    tcore_caller cx = tcore_session_caller(s, TCORE_ARG_TEMPLATE);
    CK_RV rv = tcore_obj_new(s->token, &cx, TCORE_ORIGIN_CREATE, 0, 0, tmpl, n, NULL,
                             CK_UNAVAILABLE_INFORMATION, NULL, &o);
    if (rv == CKR_OK) {
        rv = tcore_session_add_objects(s, &o, 1, &h);
    }
    if (rv == CKR_OK) {
        *out = h;
    }
    return tcore_session_fail(s, rv, TCORE_ARG_TEMPLATE);
}

/* A handle's object, the failure naming the argument. */
static CK_RV get_obj(tcore_session *s, CK_OBJECT_HANDLE h, tcore_obj **o)
{
    CK_RV rv = tcore_session_object(s, h, o);
    return rv != CKR_OK ? tcore_session_fail(s, rv, TCORE_ARG_OBJECT) : CKR_OK;
}

CK_RV tcore_object_copy(tcore_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl,
                        CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    tcore_obj *o = NULL, *copy = NULL;
    CK_OBJECT_HANDLE nh = CK_INVALID_HANDLE;
    if ((tmpl == NULL && n != 0) || out == NULL) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_TEMPLATE);
    }
    CK_RV rv = get_obj(s, h, &o);
    if (rv != CKR_OK) {
        return rv;
    }
    tcore_caller cx = tcore_session_caller(s, TCORE_ARG_TEMPLATE);
    rv = tcore_obj_copy(o, &cx, tmpl, n, &copy);
    if (rv == CKR_OK) {
        rv = tcore_session_add_objects(s, &copy, 1, &nh);
    }
    if (rv == CKR_OK) {
        *out = nh;
    }
    tcore_obj_unref(o);
    return tcore_session_fail(s, rv, TCORE_ARG_TEMPLATE);
}

CK_RV tcore_object_destroy(tcore_session *s, CK_OBJECT_HANDLE h)
{
    tcore_obj *o = NULL;
    CK_RV rv = get_obj(s, h, &o);
    if (rv != CKR_OK) {
        return rv;
    }
    if (tcore_obj_is_token(o) && !s->rw) {
        rv = CKR_SESSION_READ_ONLY;
        goto out;
    }
    rv = tcore_obj_destroy(o);
    if (rv == CKR_OK && !tcore_obj_is_token(o)) {
        tcore_sobj *e = table_remove(s->app, h);
        if (e != NULL) {
            tcore_obj_unref(e->o);
            free(e);
        }
    }
out:
    tcore_obj_unref(o);
    return tcore_session_fail(s, rv, TCORE_ARG_OBJECT);
}

/* ---- attributes --------------------------------------------------------------------- */

CK_RV tcore_object_get_attrs(tcore_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *tmpl,
                             CK_ULONG n)
{
    tcore_obj *o = NULL;
    if (tmpl == NULL && n != 0) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_TEMPLATE);
    }
    CK_RV rv = get_obj(s, h, &o);
    if (rv != CKR_OK) {
        return rv;
    }
    rv = tcore_obj_get_attrs(o, tmpl, n);
    tcore_obj_unref(o);
    return tcore_session_fail(s, rv, TCORE_ARG_TEMPLATE);
}

CK_RV tcore_object_set_attrs(tcore_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl,
                             CK_ULONG n)
{
    tcore_obj *o = NULL;
    if (tmpl == NULL && n != 0) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_TEMPLATE);
    }
    CK_RV rv = get_obj(s, h, &o);
    if (rv != CKR_OK) {
        return rv;
    }
    if (tcore_obj_is_token(o) && !s->rw) {
        rv = tcore_session_fail(s, CKR_SESSION_READ_ONLY, TCORE_ARG_SESSION);
    } else {
        tcore_caller cx = tcore_session_caller(s, TCORE_ARG_TEMPLATE);
        rv = tcore_session_fail(s, tcore_obj_set_attrs(o, &cx, tmpl, n), TCORE_ARG_TEMPLATE);
    }
    tcore_obj_unref(o);
    return rv;
}

/* PKCS#11 3.0 §5.7 C_GetObjectSize: the size is "undefined" by the spec and
 * may be CK_UNAVAILABLE_INFORMATION, which it is here: the stored form is
 * sealed and its length says nothing useful to applications. */
CK_RV tcore_object_size(tcore_session *s, CK_OBJECT_HANDLE h, CK_ULONG *size)
{
    tcore_obj *o = NULL;
    if (size == NULL) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_OUTPUT);
    }
    CK_RV rv = get_obj(s, h, &o);
    if (rv != CKR_OK) {
        return rv;
    }
    *size = CK_UNAVAILABLE_INFORMATION;
    tcore_obj_unref(o);
    return CKR_OK;
}

/* ---- searching ---------------------------------------------------------------------------- */

void tcore_find_end(tcore_session *s)
{
    free(s->found);
    s->found = NULL;
    s->nfound = 0;
    s->found_pos = 0;
    s->finding = false;
}

/* The result set is taken once (PKCS#11 3.0 §5.7: objects created or
 * destroyed later need not be reflected). */
CK_RV tcore_find_init(tcore_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    tcore_app *a = s->app;
    CK_OBJECT_HANDLE *th = NULL;
    CK_ULONG tn = 0;
    if (tmpl == NULL && n != 0) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_TEMPLATE);
    }
    if (s->finding) {
        return tcore_session_fail(s, CKR_OPERATION_ACTIVE, TCORE_ARG_SESSION);
    }
    bool user = tcore_session_who(s) == CKU_USER;
    CK_RV rv = tcore_token_find(s->token, user, tmpl, n, &th, &tn);
    if (rv != CKR_OK) {
        return tcore_session_fail(s, rv, TCORE_ARG_TEMPLATE);
    }
    pthread_rwlock_rdlock(&a->obj_lock);
    CK_OBJECT_HANDLE *all = malloc((tn + a->nobjs + 1) * sizeof(*all));
    if (all == NULL) {
        pthread_rwlock_unlock(&a->obj_lock);
        free(th);
        return tcore_session_fail(s, CKR_HOST_MEMORY, TCORE_ARG_NONE);
    }
    if (tn != 0) {
        memcpy(all, th, tn * sizeof(*th));
    }
    CK_ULONG k = tn;
    for (size_t i = 0; i < a->nobj_buckets; i++) {
        for (tcore_sobj *e = a->objs[i]; e != NULL; e = e->next) {
            if (e->t != s->token || (tcore_obj_is_private(e->o) && !user)) {
                continue;
            }
            if (tcore_obj_match(e->o, tmpl, n)) {
                all[k++] = e->h;
            }
        }
    }
    pthread_rwlock_unlock(&a->obj_lock);
    free(th);
    s->found = all;
    s->nfound = k;
    s->found_pos = 0;
    s->finding = true;
    return CKR_OK;
}

CK_RV tcore_find(tcore_session *s, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
    if ((out == NULL && max != 0) || count == NULL) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_OUTPUT);
    }
    if (!s->finding) {
        return tcore_session_fail(s, CKR_OPERATION_NOT_INITIALIZED, TCORE_ARG_SESSION);
    }
    CK_ULONG k = s->nfound - s->found_pos;
    if (k > max) {
        k = max;
    }
    if (k != 0) {
        memcpy(out, s->found + s->found_pos, k * sizeof(*out));
    }
    s->found_pos += k;
    *count = k;
    return CKR_OK;
}

CK_RV tcore_find_final(tcore_session *s)
{
    if (!s->finding) {
        return tcore_session_fail(s, CKR_OPERATION_NOT_INITIALIZED, TCORE_ARG_SESSION);
    }
    tcore_find_end(s);
    return CKR_OK;
}
