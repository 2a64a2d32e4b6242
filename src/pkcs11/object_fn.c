/*
 * Object management functions (PKCS#11 3.0 §5.7) and the module's table of
 * session objects.
 *
 * Token objects live in the core (tcore_token_*): their handles lie in the
 * core's range [2^62, 2^63) and are the same in every process. Session
 * objects live here, in a hash table keyed by handle (handles from a counter
 * in [1, 2^62), never reused): they are visible to every session of the
 * application on the same token, and destroyed with the session that made
 * them (PKCS#11 3.0 §4.4). Private objects, of either kind, are visible only
 * while the normal user is logged in.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/p11.h"

struct oentry {
    CK_OBJECT_HANDLE h;
    tcore_obj *o; /* one reference, the table's */
    const tcore_token *t;
    CK_SESSION_HANDLE owner;
    struct oentry *next;
};

static struct {
    pthread_rwlock_t lock;
    struct oentry **b;
    size_t nb; /* power of two, or 0 */
    size_t n;
} g_objs = {PTHREAD_RWLOCK_INITIALIZER, NULL, 0, 0};

static atomic_ullong g_next_handle = 1;

static size_t bucket(CK_OBJECT_HANDLE h, size_t nb)
{
    uint64_t x = (uint64_t)h * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32) & (nb - 1);
}

/* Caller holds the write lock. Best effort: a failed grow keeps the
 * table as it is (chains just get longer). */
static void maybe_grow(void)
{
    if (g_objs.nb != 0 && g_objs.n < g_objs.nb)
        return;
    size_t nb = g_objs.nb == 0 ? 256 : g_objs.nb * 2;
    struct oentry **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return;
    for (size_t i = 0; i < g_objs.nb; i++) {
        struct oentry *e = g_objs.b[i];
        while (e != NULL) {
            struct oentry *next = e->next;
            size_t k = bucket(e->h, nb);
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(g_objs.b);
    g_objs.b = b;
    g_objs.nb = nb;
}

/* Make sure the table has buckets, so that table_insert cannot fail. */
static bool table_reserve(void)
{
    pthread_rwlock_wrlock(&g_objs.lock);
    maybe_grow();
    bool ok = g_objs.nb != 0;
    pthread_rwlock_unlock(&g_objs.lock);
    return ok;
}

/* Insert prepared entries (h and o set); the table takes them and their
 * references (es[i] is set to NULL). Needs table_reserve() first. */
static void table_insert(struct oentry **es, CK_ULONG n)
{
    pthread_rwlock_wrlock(&g_objs.lock);
    for (CK_ULONG i = 0; i < n; i++) {
        maybe_grow();
        size_t k = bucket(es[i]->h, g_objs.nb);
        es[i]->next = g_objs.b[k];
        g_objs.b[k] = es[i];
        g_objs.n++;
        es[i] = NULL;
    }
    pthread_rwlock_unlock(&g_objs.lock);
}

/* Unlink the entry of handle h; returns it (or NULL). */
static struct oentry *table_remove(CK_OBJECT_HANDLE h)
{
    struct oentry *found = NULL;
    pthread_rwlock_wrlock(&g_objs.lock);
    if (g_objs.nb != 0) {
        struct oentry **pp = &g_objs.b[bucket(h, g_objs.nb)];
        for (; *pp != NULL; pp = &(*pp)->next) {
            if ((*pp)->h == h) {
                found = *pp;
                *pp = found->next;
                g_objs.n--;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&g_objs.lock);
    return found;
}

static bool user_logged_in(p11_session *s)
{
    return tcore_token_login_state(p11_session_token(s)) == CKU_USER;
}

/* ---- p11.h object interface ------------------------------------------------------ */

CK_RV p11_object_get(p11_session *s, CK_OBJECT_HANDLE h, tcore_obj **out)
{
    tcore_token *t = p11_session_token(s);
    if (h == CK_INVALID_HANDLE)
        return CKR_OBJECT_HANDLE_INVALID;
    if (tcore_handle_is_token(h))
        return tcore_token_object(t, h, out);
    tcore_obj *o = NULL;
    pthread_rwlock_rdlock(&g_objs.lock);
    if (g_objs.nb != 0) {
        for (struct oentry *e = g_objs.b[bucket(h, g_objs.nb)]; e != NULL; e = e->next) {
            if (e->h == h) {
                if (e->t == t)
                    o = e->o;
                break;
            }
        }
    }
    if (o != NULL)
        tcore_obj_ref(o);
    pthread_rwlock_unlock(&g_objs.lock);
    if (o == NULL)
        return CKR_OBJECT_HANDLE_INVALID;
    if (tcore_obj_is_private(o) && !user_logged_in(s)) {
        tcore_obj_unref(o);
        return CKR_OBJECT_HANDLE_INVALID;
    }
    *out = o;
    return CKR_OK;
}

CK_RV p11_objects_add(p11_session *s, tcore_obj **objs, CK_ULONG n, CK_OBJECT_HANDLE *handles)
{
    CK_RV rv = CKR_OK;
    tcore_token *t = p11_session_token(s);
    tcore_obj **tok = NULL;
    CK_OBJECT_HANDLE *tokh = NULL;
    struct oentry **es = NULL;
    CK_OBJECT_HANDLE *res = NULL;
    CK_ULONG ntok = 0, nses = 0;

    if (n == 0)
        return CKR_OK;
    bool user = user_logged_in(s);
    for (CK_ULONG i = 0; i < n; i++) {
        /* PKCS#11 3.0 §5.7 / §4.4: token objects need a R/W session,
         * private objects a logged-in user. */
        if (tcore_obj_is_token(objs[i]) && !p11_session_rw(s)) {
            rv = CKR_SESSION_READ_ONLY;
            goto out;
        }
        if (tcore_obj_is_private(objs[i]) && !user) {
            rv = CKR_USER_NOT_LOGGED_IN;
            goto out;
        }
        if (tcore_obj_is_token(objs[i]))
            ntok++;
        else
            nses++;
    }
    tok = calloc(ntok + 1, sizeof(*tok));
    tokh = calloc(ntok + 1, sizeof(*tokh));
    es = calloc(nses + 1, sizeof(*es));
    res = calloc(n, sizeof(*res));
    if (tok == NULL || tokh == NULL || es == NULL || res == NULL || !table_reserve()) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    /* Everything that can fail comes before the store commit, so a failure
     * leaves nothing behind. */
    for (CK_ULONG i = 0, k = 0; i < n; i++) {
        if (tcore_obj_is_token(objs[i]))
            continue;
        es[k] = calloc(1, sizeof(**es));
        if (es[k] == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        k++;
    }
    for (CK_ULONG i = 0, k = 0; i < n; i++)
        if (tcore_obj_is_token(objs[i]))
            tok[k++] = objs[i];
    if (ntok != 0) {
        rv = tcore_token_store_objects(t, tok, ntok, tokh);
        if (rv != CKR_OK)
            goto out;
    }
    for (CK_ULONG i = 0, kt = 0, ks = 0; i < n; i++) {
        if (tcore_obj_is_token(objs[i])) {
            res[i] = tokh[kt++];
            continue;
        }
        struct oentry *e = es[ks++];
        e->h = (CK_OBJECT_HANDLE)atomic_fetch_add(&g_next_handle, 1);
        e->o = objs[i];
        tcore_obj_ref(objs[i]);
        e->t = t;
        e->owner = p11_session_handle(s);
        res[i] = e->h;
    }
    table_insert(es, nses);
    memcpy(handles, res, n * sizeof(*res));
out:
    if (es != NULL) {
        for (CK_ULONG i = 0; i < nses; i++) {
            if (es[i] != NULL && es[i]->o != NULL)
                tcore_obj_unref(es[i]->o);
            free(es[i]);
        }
    }
    free(es);
    free(tok);
    free(tokh);
    free(res);
    for (CK_ULONG i = 0; i < n; i++)
        tcore_obj_unref(objs[i]);
    return rv;
}

void p11_objects_drop_session(CK_SESSION_HANDLE h)
{
    struct oentry *dead = NULL;
    pthread_rwlock_wrlock(&g_objs.lock);
    for (size_t i = 0; i < g_objs.nb; i++) {
        struct oentry **pp = &g_objs.b[i];
        while (*pp != NULL) {
            struct oentry *e = *pp;
            if (e->owner == h) {
                *pp = e->next;
                e->next = dead;
                dead = e;
                g_objs.n--;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_rwlock_unlock(&g_objs.lock);
    /* Release outside the lock: the last reference wipes the object. */
    while (dead != NULL) {
        struct oentry *next = dead->next;
        tcore_obj_unref(dead->o);
        free(dead);
        dead = next;
    }
}

void p11_objects_close_all(void)
{
    pthread_rwlock_wrlock(&g_objs.lock);
    for (size_t i = 0; i < g_objs.nb; i++) {
        struct oentry *e = g_objs.b[i];
        while (e != NULL) {
            struct oentry *next = e->next;
            tcore_obj_unref(e->o);
            free(e);
            e = next;
        }
    }
    free(g_objs.b);
    g_objs.b = NULL;
    g_objs.nb = 0;
    g_objs.n = 0;
    pthread_rwlock_unlock(&g_objs.lock);
}

void p11_objects_abandon(void)
{
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    memcpy(&g_objs.lock, &rw, sizeof(rw));
    g_objs.b = NULL;
    g_objs.nb = 0;
    g_objs.n = 0;
}

/* ---- C_CreateObject / C_CopyObject / C_DestroyObject ------------------------------- */

P11_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    tcore_obj *o = NULL;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    if ((pTemplate == NULL && ulCount != 0) || phObject == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = tcore_obj_new(p11_session_token(s), TCORE_ORIGIN_CREATE, 0, 0, pTemplate, ulCount, NULL,
                       CK_UNAVAILABLE_INFORMATION, NULL, &o);
    if (rv != CKR_OK)
        goto out;
    rv = p11_objects_add(s, &o, 1, &h);
    if (rv == CKR_OK)
        *phObject = h;
out:
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                              CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                              CK_OBJECT_HANDLE_PTR phNewObject)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    tcore_obj *o = NULL, *copy = NULL;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    if ((pTemplate == NULL && ulCount != 0) || phNewObject == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = p11_object_get(s, hObject, &o);
    if (rv != CKR_OK)
        goto out;
    rv = tcore_obj_copy(o, pTemplate, ulCount, &copy);
    if (rv != CKR_OK)
        goto out;
    rv = p11_objects_add(s, &copy, 1, &h);
    if (rv == CKR_OK)
        *phNewObject = h;
out:
    if (o != NULL)
        tcore_obj_unref(o);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    tcore_obj *o = NULL;
    rv = p11_object_get(s, hObject, &o);
    if (rv != CKR_OK)
        goto out;
    if (tcore_obj_is_token(o) && !p11_session_rw(s)) {
        rv = CKR_SESSION_READ_ONLY;
        goto out;
    }
    rv = tcore_obj_destroy(o);
    if (rv != CKR_OK)
        goto out;
    if (!tcore_obj_is_token(o)) {
        struct oentry *e = table_remove(hObject);
        if (e != NULL) {
            tcore_obj_unref(e->o);
            free(e);
        }
    }
out:
    if (o != NULL)
        tcore_obj_unref(o);
    p11_session_put(s);
    return rv;
}

/* ---- attributes ---------------------------------------------------------------------- */

/* PKCS#11 3.0 §5.7 C_GetAttributeValue: every entry is processed; failing
 * entries get ulValueLen = CK_UNAVAILABLE_INFORMATION and the function
 * returns the error (the core orders them as the spec does). */
P11_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                     CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    tcore_obj *o = NULL;
    if (pTemplate == NULL && ulCount != 0) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = p11_object_get(s, hObject, &o);
    if (rv != CKR_OK)
        goto out;
    rv = tcore_obj_get_attrs(o, pTemplate, ulCount);
out:
    if (o != NULL)
        tcore_obj_unref(o);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                     CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    tcore_obj *o = NULL;
    if (pTemplate == NULL && ulCount != 0) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = p11_object_get(s, hObject, &o);
    if (rv != CKR_OK)
        goto out;
    if (tcore_obj_is_token(o) && !p11_session_rw(s)) {
        rv = CKR_SESSION_READ_ONLY;
        goto out;
    }
    rv = tcore_obj_set_attrs(o, pTemplate, ulCount);
out:
    if (o != NULL)
        tcore_obj_unref(o);
    p11_session_put(s);
    return rv;
}

/* PKCS#11 3.0 §5.7 C_GetObjectSize: the size is "undefined" by the spec and
 * may be reported as CK_UNAVAILABLE_INFORMATION, which we do: the stored
 * form is sealed and its length says nothing useful to applications. */
P11_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ULONG_PTR pulSize)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    tcore_obj *o = NULL;
    if (pulSize == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    rv = p11_object_get(s, hObject, &o);
    if (rv != CKR_OK)
        goto out;
    *pulSize = CK_UNAVAILABLE_INFORMATION;
out:
    if (o != NULL)
        tcore_obj_unref(o);
    p11_session_put(s);
    return rv;
}

/* ---- searching --------------------------------------------------------------------------- */

/* The result set of C_FindObjectsInit, taken once (PKCS#11 3.0 §5.7: objects
 * created or destroyed later need not be reflected). */
typedef struct {
    CK_OBJECT_HANDLE *h;
    CK_ULONG n;
    CK_ULONG pos;
} find_ctx;

static void find_free(void *p)
{
    find_ctx *f = p;
    if (f == NULL)
        return;
    free(f->h);
    free(f);
}

P11_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                   CK_ULONG ulCount)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    find_ctx *f = NULL;
    CK_OBJECT_HANDLE *th = NULL;
    CK_ULONG tn = 0;
    if (pTemplate == NULL && ulCount != 0) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    p11_op *op = p11_session_op(s, P11_OP_FIND);
    if (op->ctx != NULL) {
        rv = CKR_OPERATION_ACTIVE;
        goto out;
    }
    tcore_token *t = p11_session_token(s);
    rv = tcore_token_find(t, pTemplate, ulCount, &th, &tn);
    if (rv != CKR_OK)
        goto out;
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    bool user = user_logged_in(s);
    pthread_rwlock_rdlock(&g_objs.lock);
    size_t cap = tn + g_objs.n;
    f->h = malloc((cap + 1) * sizeof(*f->h));
    if (f->h == NULL) {
        pthread_rwlock_unlock(&g_objs.lock);
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (tn != 0)
        memcpy(f->h, th, tn * sizeof(*th));
    f->n = tn;
    for (size_t i = 0; i < g_objs.nb; i++) {
        for (struct oentry *e = g_objs.b[i]; e != NULL; e = e->next) {
            if (e->t != t)
                continue;
            if (tcore_obj_is_private(e->o) && !user)
                continue;
            if (tcore_obj_match(e->o, pTemplate, ulCount))
                f->h[f->n++] = e->h;
        }
    }
    pthread_rwlock_unlock(&g_objs.lock);
    op->ctx = f;
    op->free_ctx = find_free;
    f = NULL;
out:
    find_free(f);
    free(th);
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                               CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if ((phObject == NULL && ulMaxObjectCount != 0) || pulObjectCount == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    p11_op *op = p11_session_op(s, P11_OP_FIND);
    find_ctx *f = op->ctx;
    if (f == NULL) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
        goto out;
    }
    CK_ULONG k = f->n - f->pos;
    if (k > ulMaxObjectCount)
        k = ulMaxObjectCount;
    if (k != 0)
        memcpy(phObject, f->h + f->pos, k * sizeof(*phObject));
    f->pos += k;
    *pulObjectCount = k;
out:
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (p11_session_op(s, P11_OP_FIND)->ctx == NULL)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        p11_session_op_end(s, P11_OP_FIND);
    p11_session_put(s);
    return rv;
}
