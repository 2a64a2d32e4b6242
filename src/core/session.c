/*
 * Applications, sessions and login (PKCS#11 3.0 §5.6), for every front end.
 *
 * An application's session table is an array indexed by the handle's low 24
 * bits, under a read-write lock: lookups (every call) take the read side and
 * are O(1); opening and closing take the write side. The handle's next 8
 * bits are the entry's generation, so a closed session's handle does not
 * name the next session that reuses the entry. Sessions are reference
 * counted: a lookup takes a reference under the table lock, so a session
 * closed by another thread stays valid memory until the last user lets go,
 * and its own lock then tells the late user that it is closed.
 *
 * Login state is the application's, per token (tcore_tlogin); the rules that
 * tie it to sessions (R/O sessions vs. SO login, logout with the last
 * session) run under the application's state lock, so they cannot race.
 * The token key's availability is the token's (tcore_token_unlock/release).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#define IDX_BITS 24u
#define IDX_MAX ((1u << IDX_BITS) - 1u) /* entries 0 .. IDX_MAX - 1 */
#define GEN_MASK 0xFFu
#define NO_FREE UINT32_MAX

/* ---- errors ---------------------------------------------------------------- */

const char *tcore_arg_name(tcore_arg arg)
{
    static const char *const names[] = {
        [TCORE_ARG_NONE] = "none",           [TCORE_ARG_SLOT] = "slot",
        [TCORE_ARG_SESSION] = "session",     [TCORE_ARG_USER_TYPE] = "user type",
        [TCORE_ARG_USERNAME] = "user name",  [TCORE_ARG_PIN] = "PIN",
        [TCORE_ARG_NEW_PIN] = "new PIN",     [TCORE_ARG_LABEL] = "label",
        [TCORE_ARG_OBJECT] = "object",       [TCORE_ARG_KEY] = "key",
        [TCORE_ARG_KEY2] = "second key",     [TCORE_ARG_MECHANISM] = "mechanism",
        [TCORE_ARG_TEMPLATE] = "template",   [TCORE_ARG_TEMPLATE2] = "private key template",
        [TCORE_ARG_DATA] = "data",           [TCORE_ARG_OUTPUT] = "output",
    };
    if ((unsigned)arg >= TC_ARRAY_LEN(names) || names[arg] == NULL) {
        return "?";
    }
    return names[arg];
}

void tcore_err_describe(const tcore_err *e, char *buf, size_t len)
{
    if (e->index >= 0) {
        snprintf(buf, len, "%s entry %ld (attribute 0x%lx)", tcore_arg_name(e->arg), e->index,
                 (unsigned long)e->attr);
    } else if (e->attr != 0) {
        snprintf(buf, len, "%s lacks attribute 0x%lx", tcore_arg_name(e->arg),
                 (unsigned long)e->attr);
    } else {
        snprintf(buf, len, "%s", tcore_arg_name(e->arg));
    }
}

CK_RV tcore_session_fail(tcore_session *s, CK_RV rv, tcore_arg arg)
{
    /* a template entry already named by the object code stays */
    if (rv != CKR_OK && s->err.rv == rv && (s->err.index >= 0 || s->err.attr != 0)) {
        return rv;
    }
    s->err.rv = rv;
    s->err.arg = rv == CKR_OK ? TCORE_ARG_NONE : arg;
    s->err.index = -1;
    s->err.attr = 0;
    return rv;
}

const tcore_err *tcore_session_error(const tcore_session *s)
{
    return &s->err;
}

/* ---- applications ------------------------------------------------------------ */

CK_RV tcore_app_new(tcore *c, const char *principal, tcore_app **out)
{
    if (c == NULL || out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    tcore_app *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return CKR_HOST_MEMORY;
    }
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&a->state, &ma);
    pthread_mutexattr_destroy(&ma);
    for (unsigned i = 0; i < TCORE_TAB_STRIPES; i++) {
        pthread_rwlock_init(&a->tab_lock[i].l, NULL);
    }
    pthread_rwlock_init(&a->obj_lock, NULL);
    a->tab_free = NO_FREE;
    atomic_init(&a->next_obj_handle, 1);
    a->core = c;
    snprintf(a->principal, sizeof(a->principal), "%s", principal != NULL ? principal : "?");
    pthread_mutex_lock(&c->lock);
    a->next = c->apps;
    c->apps = a;
    pthread_mutex_unlock(&c->lock);
    *out = a;
    return CKR_OK;
}

/* The application's login record for a token (created on demand when create
 * is true; NULL on allocation failure). app->state held. */
static tcore_tlogin *app_login(tcore_app *a, tcore_token *t, bool create)
{
    for (tcore_tlogin *l = a->logins; l != NULL; l = l->next) {
        if (l->t == t) {
            return l;
        }
    }
    if (!create) {
        return NULL;
    }
    tcore_tlogin *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return NULL;
    }
    l->t = t;
    l->who = TCORE_NOBODY;
    l->next = a->logins;
    a->logins = l;
    return l;
}

/* Leave the token: the application's sessions lose the login, the token
 * one holder of its key. app->state held. */
static void logout_locked(tcore_tlogin *l)
{
    if (l->who == TCORE_NOBODY) {
        return;
    }
    l->who = TCORE_NOBODY;
    atomic_fetch_add(&l->serial, 1);
    tcore_token_release(l->t);
}

static void session_unref(tcore_session *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- the session table --------------------------------------------------------- */

static CK_SESSION_HANDLE make_handle(uint32_t idx, uint32_t gen)
{
    return ((CK_SESSION_HANDLE)(gen & GEN_MASK) << IDX_BITS) | (CK_SESSION_HANDLE)(idx + 1);
}

static bool handle_index(CK_SESSION_HANDLE h, uint32_t *idx, uint32_t *gen)
{
    if (h == 0 || (h >> (IDX_BITS + 8)) != 0) {
        return false;
    }
    uint32_t i = (uint32_t)(h & IDX_MAX);
    if (i == 0) {
        return false;
    }
    *idx = i - 1;
    *gen = (uint32_t)(h >> IDX_BITS) & GEN_MASK;
    return true;
}

/* The session table's lock (core_int.h). A reader takes one stripe, its
 * thread's (given out round-robin on the thread's first lookup), so two
 * threads looking up their sessions do not bounce one lock's cache line
 * between CPUs on every call; a writer takes every stripe, in order. */
static pthread_rwlock_t *tab_rdlock(tcore_app *a)
{
    static atomic_uint next_stripe;
    static _Thread_local unsigned t_stripe; /* 0: none chosen yet */
    if (t_stripe == 0) {
        t_stripe = atomic_fetch_add(&next_stripe, 1) % TCORE_TAB_STRIPES + 1;
    }
    pthread_rwlock_t *l = &a->tab_lock[t_stripe - 1].l;
    pthread_rwlock_rdlock(l);
    return l;
}

static void tab_wrlock(tcore_app *a)
{
    for (unsigned i = 0; i < TCORE_TAB_STRIPES; i++) {
        pthread_rwlock_wrlock(&a->tab_lock[i].l);
    }
}

static void tab_wrunlock(tcore_app *a)
{
    for (unsigned i = TCORE_TAB_STRIPES; i-- > 0;) {
        pthread_rwlock_unlock(&a->tab_lock[i].l);
    }
}

/* Insert s (the table takes one reference) and set s->handle. */
static CK_RV table_insert(tcore_app *a, tcore_session *s)
{
    CK_RV rv = CKR_OK;
    tab_wrlock(a);
    if (a->tab_free == NO_FREE) {
        if (a->tab_cap >= IDX_MAX) {
            rv = CKR_SESSION_COUNT;
            goto out;
        }
        uint32_t ncap = a->tab_cap == 0 ? 64 : a->tab_cap * 2;
        if (ncap > IDX_MAX) {
            ncap = IDX_MAX;
        }
        struct tcore_sentry *v = realloc(a->tab, (size_t)ncap * sizeof(*v));
        if (v == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        for (uint32_t i = a->tab_cap; i < ncap; i++) {
            v[i].s = NULL;
            v[i].gen = 0;
            v[i].next_free = i + 1 < ncap ? i + 1 : NO_FREE;
        }
        a->tab_free = a->tab_cap;
        a->tab = v;
        a->tab_cap = ncap;
    }
    uint32_t idx = a->tab_free;
    struct tcore_sentry *e = &a->tab[idx];
    a->tab_free = e->next_free;
    e->next_free = NO_FREE;
    e->s = s;
    atomic_fetch_add(&s->refs, 1);
    s->handle = make_handle(idx, e->gen);
out:
    tab_wrunlock(a);
    return rv;
}

static bool table_remove(tcore_app *a, tcore_session *s)
{
    uint32_t idx, gen;
    bool found = false;
    if (!handle_index(s->handle, &idx, &gen)) {
        return false;
    }
    tab_wrlock(a);
    if (idx < a->tab_cap && a->tab[idx].s == s) {
        struct tcore_sentry *e = &a->tab[idx];
        e->s = NULL;
        e->gen = (e->gen + 1) & GEN_MASK;
        e->next_free = a->tab_free;
        a->tab_free = idx;
        found = true;
    }
    tab_wrunlock(a);
    return found;
}

static tcore_session *table_lookup(tcore_app *a, CK_SESSION_HANDLE h)
{
    uint32_t idx, gen;
    tcore_session *s = NULL;
    if (!handle_index(h, &idx, &gen)) {
        return NULL;
    }
    pthread_rwlock_t *l = tab_rdlock(a);
    if (idx < a->tab_cap && a->tab[idx].s != NULL && a->tab[idx].gen == gen) {
        s = a->tab[idx].s;
        atomic_fetch_add(&s->refs, 1);
    }
    pthread_rwlock_unlock(l);
    return s;
}

/* References to the application's live sessions (on `slot`, or all when
 * all_slots), for closing outside the table lock. NULL + *n 0 when none;
 * false on allocation failure. */
static bool table_snapshot(tcore_app *a, bool all_slots, CK_SLOT_ID slot, tcore_session ***out,
                           size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_rwlock_t *l = tab_rdlock(a);
    tcore_session **list = a->tab_cap != 0 ? calloc(a->tab_cap, sizeof(*list)) : NULL;
    if (list == NULL && a->tab_cap != 0) {
        pthread_rwlock_unlock(l);
        return false;
    }
    for (uint32_t i = 0; i < a->tab_cap; i++) {
        tcore_session *c = a->tab[i].s;
        if (c != NULL && (all_slots || c->slot == slot)) {
            atomic_fetch_add(&c->refs, 1);
            list[(*n)++] = c;
        }
    }
    pthread_rwlock_unlock(l);
    *out = list;
    return true;
}

/* ---- open / close ------------------------------------------------------------------ */

CK_RV tcore_session_open(tcore_app *a, CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *out)
{
    tcore_token *t = NULL;
    if (a == NULL || out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    CK_RV rv = tcore_tokens_get(a->core->tokens, slot, &t);
    if (rv != CKR_OK) {
        return rv;
    }
    if (!tcore_token_initialized(t)) {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    tcore_session *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CKR_HOST_MEMORY;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->refs, 1);
    s->app = a;
    s->token = t;
    s->slot = slot;
    s->rw = rw;
    s->err.index = -1;

    pthread_mutex_lock(&a->state);
    tcore_tlogin *l = app_login(a, t, true);
    if (l == NULL) {
        rv = CKR_HOST_MEMORY;
    } else if (!rw && l->who == CKU_SO) {
        /* PKCS#11 3.0 §5.6: no R/O session while the SO is logged in */
        rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
    } else {
        s->login = l;
        rv = table_insert(a, s);
        if (rv == CKR_OK) {
            l->all++;
            atomic_fetch_add(&t->nsessions, 1);
            if (rw) {
                l->rw++;
                atomic_fetch_add(&t->nrw, 1);
            }
        }
    }
    pthread_mutex_unlock(&a->state);
    if (rv == CKR_OK) {
        *out = s->handle;
    }
    session_unref(s); /* ours; the table keeps its own on success */
    return rv;
}

/* Close a locked, live session: end its operations, destroy its session
 * objects, take it out of the table and, when it was the application's last
 * session on the token, log the application out of it (PKCS#11 3.0 §5.6). */
static void close_locked(tcore_session *s)
{
    tcore_app *a = s->app;
    s->closed = true;
    s->context_auth = false;
    tcore_crypt_end_all(s);
    tcore_find_end(s);
    tcore_app_drop_objects(a, false, s->handle);

    pthread_mutex_lock(&a->state);
    bool removed = table_remove(a, s);
    tcore_tlogin *l = s->login;
    if (removed) {
        l->all--;
        atomic_fetch_sub(&s->token->nsessions, 1);
        if (s->rw) {
            l->rw--;
            atomic_fetch_sub(&s->token->nrw, 1);
        }
        if (l->all == 0) {
            logout_locked(l);
        }
    }
    pthread_mutex_unlock(&a->state);
    if (removed) {
        session_unref(s); /* the table's reference; the caller holds one */
    }
}

/* Lock a session the caller holds a reference to; CKR_SESSION_HANDLE_INVALID
 * (and the reference dropped) if it was closed meanwhile. */
static CK_RV lock_live(tcore_session *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        pthread_mutex_unlock(&s->lock);
        session_unref(s);
        return CKR_SESSION_HANDLE_INVALID;
    }
    return CKR_OK;
}

CK_RV tcore_session_get(tcore_app *a, CK_SESSION_HANDLE h, tcore_session **out)
{
    tcore_session *s = a != NULL ? table_lookup(a, h) : NULL;
    if (s == NULL) {
        return CKR_SESSION_HANDLE_INVALID;
    }
    CK_RV rv = lock_live(s);
    if (rv != CKR_OK) {
        return rv;
    }
    s->err.rv = CKR_OK;
    s->err.arg = TCORE_ARG_NONE;
    s->err.index = -1;
    s->err.attr = 0;
    *out = s;
    return CKR_OK;
}

void tcore_session_put(tcore_session *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_unlock(&s->lock);
    session_unref(s);
}

CK_RV tcore_session_close(tcore_app *a, CK_SESSION_HANDLE h)
{
    tcore_session *s;
    CK_RV rv = tcore_session_get(a, h, &s);
    if (rv != CKR_OK) {
        return rv;
    }
    close_locked(s);
    tcore_session_put(s);
    return CKR_OK;
}

static void close_list(tcore_session **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lock_live(list[i]) != CKR_OK) {
            continue; /* closed meanwhile; lock_live dropped our reference */
        }
        close_locked(list[i]);
        pthread_mutex_unlock(&list[i]->lock);
        session_unref(list[i]);
    }
}

CK_RV tcore_session_close_all(tcore_app *a, CK_SLOT_ID slot)
{
    tcore_token *t;
    tcore_session **list;
    size_t n;
    CK_RV rv = tcore_tokens_get(a->core->tokens, slot, &t);
    if (rv != CKR_OK) {
        return rv;
    }
    /* Sessions opened meanwhile stay open, as if opened afterwards. */
    if (!table_snapshot(a, false, slot, &list, &n)) {
        return CKR_HOST_MEMORY;
    }
    close_list(list, n);
    free(list);
    /* The last close logged out; make sure of it even without sessions. */
    pthread_mutex_lock(&a->state);
    tcore_tlogin *l = app_login(a, t, false);
    if (l != NULL && l->all == 0) {
        logout_locked(l);
    }
    pthread_mutex_unlock(&a->state);
    return CKR_OK;
}

void tcore_app_free(tcore_app *a)
{
    if (a == NULL) {
        return;
    }
    tcore_session **list = NULL;
    size_t n = 0;
    /* Without memory for the list, close them one at a time. */
    while (!table_snapshot(a, true, 0, &list, &n)) {
        tcore_session *s = NULL;
        pthread_rwlock_t *l = tab_rdlock(a);
        for (uint32_t i = 0; i < a->tab_cap && s == NULL; i++) {
            s = a->tab[i].s;
            if (s != NULL) {
                atomic_fetch_add(&s->refs, 1);
            }
        }
        pthread_rwlock_unlock(l);
        if (s == NULL) {
            break;
        }
        close_list(&s, 1);
    }
    close_list(list, n);
    free(list);
    tcore_app_drop_objects(a, true, 0);

    tcore *c = a->core;
    pthread_mutex_lock(&c->lock);
    for (tcore_app **pp = &c->apps; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&a->state);
    while (a->logins != NULL) {
        tcore_tlogin *l = a->logins;
        a->logins = l->next;
        logout_locked(l);
        free(l);
    }
    pthread_mutex_unlock(&a->state);
    free(a->tab);
    free(a->objs);
    for (unsigned i = 0; i < TCORE_TAB_STRIPES; i++) {
        pthread_rwlock_destroy(&a->tab_lock[i].l);
    }
    pthread_rwlock_destroy(&a->obj_lock);
    pthread_mutex_destroy(&a->state);
    free(a);
}

/* ---- state -------------------------------------------------------------------------- */

CK_USER_TYPE tcore_session_who(tcore_session *s)
{
    return atomic_load(&s->login->who);
}

tcore_caller tcore_session_caller(tcore_session *s, tcore_arg tmpl_arg)
{
    tcore_caller cx = {tcore_session_who(s), &s->err, tmpl_arg};
    return cx;
}

/* PKCS#11 3.0 §5.6, the session states. */
CK_RV tcore_session_info(tcore_session *s, CK_SESSION_INFO *info)
{
    if (info == NULL) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_OUTPUT);
    }
    CK_USER_TYPE who = tcore_session_who(s);
    memset(info, 0, sizeof(*info));
    info->slotID = s->slot;
    if (who == CKU_SO) {
        info->state = CKS_RW_SO_FUNCTIONS;
    } else if (who == CKU_USER) {
        info->state = s->rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    } else {
        info->state = s->rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    }
    info->flags = CKF_SERIAL_SESSION | (s->rw ? CKF_RW_SESSION : 0);
    info->ulDeviceError = 0;
    return CKR_OK;
}

/* ---- login ------------------------------------------------------------------------------ */

/* The embedded token has one user per role; C_LoginUser names them "so" and
 * "user" (DESIGN.md: C_Login maps to the partition's default users). */
static bool username_ok(CK_USER_TYPE who, const uint8_t *name, size_t len)
{
    const char *want = who == CKU_SO ? "so" : "user";
    size_t n = strlen(want);
    return len == n && memcmp(name, want, n) == 0;
}

/* Does an active operation wait for a context-specific login? */
static bool op_needs_auth(const tcore_session *s)
{
    for (unsigned k = 0; k < TCORE_OP_KINDS; k++) {
        if (s->ops[k].op != NULL && s->ops[k].need_auth) {
            return true;
        }
    }
    return false;
}

CK_RV tcore_login(tcore_session *s, CK_USER_TYPE who, const uint8_t *name, size_t name_len,
                  const uint8_t *pin, size_t pin_len)
{
    tcore_app *a = s->app;
    CK_RV rv;
    /* No protected authentication path: the PIN comes from the caller. */
    if (pin == NULL || (name == NULL && name_len != 0)) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_PIN);
    }
    if (who != CKU_SO && who != CKU_USER && who != CKU_CONTEXT_SPECIFIC) {
        return tcore_session_fail(s, CKR_USER_TYPE_INVALID, TCORE_ARG_USER_TYPE);
    }
    pthread_mutex_lock(&a->state);
    tcore_tlogin *l = s->login;
    if (who == CKU_CONTEXT_SPECIFIC) {
        /* PKCS#11 3.0 §5.6: the PIN of the role logged in, again, for the
         * active operation whose key has CKA_ALWAYS_AUTHENTICATE. */
        s->context_auth = false;
        if (l->who == TCORE_NOBODY) {
            rv = CKR_USER_NOT_LOGGED_IN;
            goto out;
        }
        if (!op_needs_auth(s)) {
            rv = CKR_OPERATION_NOT_INITIALIZED;
            goto out;
        }
        rv = tcore_token_verify_pin(s->token, l->who, pin, pin_len);
        if (rv == CKR_OK) {
            s->context_auth = true;
        }
        goto out;
    }
    if (l->who == who) {
        rv = CKR_USER_ALREADY_LOGGED_IN;
        goto out;
    }
    if (l->who != TCORE_NOBODY) {
        rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
        goto out;
    }
    if (who == CKU_SO && l->all > l->rw) {
        rv = CKR_SESSION_READ_ONLY_EXISTS;
        goto out;
    }
    if (name != NULL && !username_ok(who, name, name_len)) {
        /* Same answer as a wrong PIN, so names cannot be probed; not counted
         * towards the lockout since no PIN was tried. */
        TC_WARN(TCORE_LOG, "token %s: login refused for an unknown user name (%s)",
                tcore_token_id(s->token), a->principal);
        rv = CKR_PIN_INCORRECT;
        goto out;
    }
    rv = tcore_token_unlock(s->token, who, pin, pin_len);
    if (rv == CKR_OK) {
        l->who = who;
        atomic_fetch_add(&l->serial, 1);
    }
out:
    pthread_mutex_unlock(&a->state);
    tcore_arg arg = rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_LEN_RANGE
                        ? TCORE_ARG_PIN
                        : TCORE_ARG_USER_TYPE;
    return tcore_session_fail(s, rv, arg);
}

CK_RV tcore_logout(tcore_session *s)
{
    tcore_app *a = s->app;
    CK_RV rv = CKR_OK;
    pthread_mutex_lock(&a->state);
    tcore_tlogin *l = s->login;
    if (l->who == TCORE_NOBODY) {
        rv = CKR_USER_NOT_LOGGED_IN;
    } else {
        logout_locked(l);
    }
    pthread_mutex_unlock(&a->state);
    s->context_auth = false;
    return tcore_session_fail(s, rv, TCORE_ARG_SESSION);
}

CK_RV tcore_init_pin(tcore_session *s, const uint8_t *pin, size_t pin_len)
{
    if (pin == NULL) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_PIN);
    }
    /* PKCS#11 3.0 §5.6: "R/W SO Functions" state only. */
    if (tcore_session_who(s) != CKU_SO) {
        return tcore_session_fail(s, CKR_USER_NOT_LOGGED_IN, TCORE_ARG_SESSION);
    }
    if (!s->rw) {
        return tcore_session_fail(s, CKR_SESSION_READ_ONLY, TCORE_ARG_SESSION);
    }
    return tcore_session_fail(s, tcore_token_init_pin(s->token, pin, pin_len), TCORE_ARG_PIN);
}

CK_RV tcore_set_pin(tcore_session *s, const uint8_t *old_pin, size_t old_len,
                    const uint8_t *new_pin, size_t new_len)
{
    if (old_pin == NULL || new_pin == NULL) {
        return tcore_session_fail(s, CKR_ARGUMENTS_BAD, TCORE_ARG_PIN);
    }
    /* PKCS#11 3.0 §5.6: R/W public, R/W user or R/W SO sessions only. */
    if (!s->rw) {
        return tcore_session_fail(s, CKR_SESSION_READ_ONLY, TCORE_ARG_SESSION);
    }
    CK_USER_TYPE who = tcore_session_who(s) == CKU_SO ? CKU_SO : CKU_USER;
    CK_RV rv = tcore_token_set_pin(s->token, who, old_pin, old_len, new_pin, new_len);
    return tcore_session_fail(s, rv, rv == CKR_PIN_LEN_RANGE ? TCORE_ARG_NEW_PIN : TCORE_ARG_PIN);
}

CK_ULONG tcore_app_session_count(tcore_app *a)
{
    CK_ULONG n = 0;
    pthread_mutex_lock(&a->state);
    for (const tcore_tlogin *l = a->logins; l != NULL; l = l->next) {
        n += l->all;
    }
    pthread_mutex_unlock(&a->state);
    return n;
}
