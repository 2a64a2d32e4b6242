/*
 * Sessions and login (PKCS#11 3.0 §5.6).
 *
 * The session table is an array indexed by the handle's low 24 bits, under a
 * read-write lock: lookups (every call) take the read side and are O(1);
 * opening and closing take the write side. The handle's next 8 bits are the
 * entry's generation, so a closed session's handle does not name the next
 * session that reuses the entry. Sessions are reference counted: a lookup
 * takes a reference under the table lock, so a session closed by another
 * thread stays valid memory until the last user lets go, and then its own
 * lock tells the late user that it is closed.
 *
 * Login state belongs to the token (the core keeps it, shared by all
 * sessions of the process, PKCS#11 3.0 §5.6); this file enforces the rules
 * that involve sessions (R/O sessions vs. SO login, logout when the last
 * session closes) under one state lock, so they cannot race.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/p11.h"

struct p11_session {
    pthread_mutex_t lock;
    atomic_uint refs;
    bool closed; /* under lock */
    bool context_auth;
    /* Immutable after C_OpenSession: */
    CK_SESSION_HANDLE handle;
    CK_SLOT_ID slot;
    tcore_token *token;
    CK_FLAGS flags;
    p11_op ops[P11_OP_KINDS];
};

#define IDX_BITS 24u
#define IDX_MAX ((1u << IDX_BITS) - 1u) /* entries 0 .. IDX_MAX - 1 */
#define GEN_MASK 0xFFu
#define NO_FREE UINT32_MAX

struct entry {
    p11_session *s;
    uint32_t gen;
    uint32_t next_free;
};

/* Sessions per token, for C_GetTokenInfo, SO login and logout-on-last-close. */
struct token_count {
    const tcore_token *t;
    CK_ULONG all;
    CK_ULONG rw;
};

static struct {
    pthread_rwlock_t lock;
    struct entry *v;
    uint32_t cap;
    uint32_t free_head;
} g_tab = {PTHREAD_RWLOCK_INITIALIZER, NULL, 0, NO_FREE};

/* Recursive: p11_sessions_count may be called with it held (C_InitToken). */
static pthread_mutex_t g_state = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct token_count *g_counts; /* under g_state */
static size_t g_ncounts;

void p11_state_lock(void)
{
    pthread_mutex_lock(&g_state);
}

void p11_state_unlock(void)
{
    pthread_mutex_unlock(&g_state);
}

/* ---- reference counting -------------------------------------------------- */

static void session_unref(p11_session *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- the table ------------------------------------------------------------ */

static CK_SESSION_HANDLE make_handle(uint32_t idx, uint32_t gen)
{
    return ((CK_SESSION_HANDLE)(gen & GEN_MASK) << IDX_BITS) | (CK_SESSION_HANDLE)(idx + 1);
}

/* Decode a handle to an entry index; false if it cannot be one. */
static bool handle_index(CK_SESSION_HANDLE h, uint32_t *idx, uint32_t *gen)
{
    if (h == 0 || (h >> (IDX_BITS + 8)) != 0)
        return false;
    uint32_t i = (uint32_t)(h & IDX_MAX);
    if (i == 0)
        return false;
    *idx = i - 1;
    *gen = (uint32_t)(h >> IDX_BITS) & GEN_MASK;
    return true;
}

/* Insert s (the table takes one reference) and set s->handle. Caller holds
 * the state lock. */
static CK_RV table_insert(p11_session *s)
{
    CK_RV rv = CKR_OK;
    pthread_rwlock_wrlock(&g_tab.lock);
    if (g_tab.free_head == NO_FREE) {
        if (g_tab.cap >= IDX_MAX) {
            rv = CKR_SESSION_COUNT;
            goto out;
        }
        uint32_t ncap = g_tab.cap == 0 ? 64 : g_tab.cap * 2;
        if (ncap > IDX_MAX)
            ncap = IDX_MAX;
        struct entry *v = realloc(g_tab.v, (size_t)ncap * sizeof(*v));
        if (v == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        /* Chain the new entries into the free list, lowest index first. */
        for (uint32_t i = g_tab.cap; i < ncap; i++) {
            v[i].s = NULL;
            v[i].gen = 0;
            v[i].next_free = i + 1 < ncap ? i + 1 : NO_FREE;
        }
        g_tab.free_head = g_tab.cap;
        g_tab.v = v;
        g_tab.cap = ncap;
    }
    uint32_t idx = g_tab.free_head;
    struct entry *e = &g_tab.v[idx];
    g_tab.free_head = e->next_free;
    e->next_free = NO_FREE;
    e->s = s;
    atomic_fetch_add(&s->refs, 1);
    s->handle = make_handle(idx, e->gen);
out:
    pthread_rwlock_unlock(&g_tab.lock);
    return rv;
}

/* Remove s from the table; returns whether it was there (the caller then
 * drops the table's reference). */
static bool table_remove(p11_session *s)
{
    uint32_t idx, gen;
    bool found = false;
    if (!handle_index(s->handle, &idx, &gen))
        return false;
    pthread_rwlock_wrlock(&g_tab.lock);
    if (idx < g_tab.cap && g_tab.v[idx].s == s) {
        struct entry *e = &g_tab.v[idx];
        e->s = NULL;
        e->gen = (e->gen + 1) & GEN_MASK;
        e->next_free = g_tab.free_head;
        g_tab.free_head = idx;
        found = true;
    }
    pthread_rwlock_unlock(&g_tab.lock);
    return found;
}

/* A new reference to the session named by h, or NULL. */
static p11_session *table_lookup(CK_SESSION_HANDLE h)
{
    uint32_t idx, gen;
    p11_session *s = NULL;
    if (!handle_index(h, &idx, &gen))
        return NULL;
    pthread_rwlock_rdlock(&g_tab.lock);
    if (idx < g_tab.cap && g_tab.v[idx].s != NULL && g_tab.v[idx].gen == gen) {
        s = g_tab.v[idx].s;
        atomic_fetch_add(&s->refs, 1);
    }
    pthread_rwlock_unlock(&g_tab.lock);
    return s;
}

/* ---- per-token counts (under g_state) -------------------------------------- */

static struct token_count *count_slot(const tcore_token *t, bool create)
{
    for (size_t i = 0; i < g_ncounts; i++)
        if (g_counts[i].t == t)
            return &g_counts[i];
    if (!create)
        return NULL;
    struct token_count *c = realloc(g_counts, (g_ncounts + 1) * sizeof(*c));
    if (c == NULL)
        return NULL;
    g_counts = c;
    c = &g_counts[g_ncounts++];
    c->t = t;
    c->all = 0;
    c->rw = 0;
    return c;
}

void p11_sessions_count(const tcore_token *t, CK_ULONG *all, CK_ULONG *rw)
{
    p11_state_lock();
    struct token_count *c = count_slot(t, false);
    *all = c != NULL ? c->all : 0;
    *rw = c != NULL ? c->rw : 0;
    p11_state_unlock();
}

/* ---- the p11.h session interface -------------------------------------------- */

/* Lock a session the caller holds a reference to; CKR_SESSION_HANDLE_INVALID
 * (and the reference dropped) if it was closed meanwhile. */
static CK_RV lock_live(p11_session *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        pthread_mutex_unlock(&s->lock);
        session_unref(s);
        return CKR_SESSION_HANDLE_INVALID;
    }
    return CKR_OK;
}

CK_RV p11_session_get(CK_SESSION_HANDLE h, p11_session **out)
{
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    p11_session *s = table_lookup(h);
    if (s == NULL) {
        p11_lib_leave();
        return CKR_SESSION_HANDLE_INVALID;
    }
    rv = lock_live(s);
    if (rv != CKR_OK) {
        p11_lib_leave();
        return rv;
    }
    *out = s;
    return CKR_OK;
}

void p11_session_put(p11_session *s)
{
    if (s == NULL)
        return;
    pthread_mutex_unlock(&s->lock);
    session_unref(s);
    p11_lib_leave();
}

tcore_token *p11_session_token(p11_session *s)
{
    return s->token;
}

bool p11_session_rw(const p11_session *s)
{
    return (s->flags & CKF_RW_SESSION) != 0;
}

CK_SESSION_HANDLE p11_session_handle(const p11_session *s)
{
    return s->handle;
}

CK_SLOT_ID p11_session_slot(const p11_session *s)
{
    return s->slot;
}

/* PKCS#11 3.0 §5.6, the session states: the token's login state and the
 * session's R/W flag. */
CK_STATE p11_session_state(const p11_session *s)
{
    CK_USER_TYPE who = tcore_token_login_state(s->token);
    bool rw = p11_session_rw(s);
    if (who == CKU_SO)
        return CKS_RW_SO_FUNCTIONS;
    if (who == CKU_USER)
        return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

p11_op *p11_session_op(p11_session *s, p11_op_kind kind)
{
    if ((unsigned)kind >= P11_OP_KINDS)
        return NULL;
    return &s->ops[kind];
}

void p11_session_op_end(p11_session *s, p11_op_kind kind)
{
    if ((unsigned)kind >= P11_OP_KINDS)
        return;
    p11_op *op = &s->ops[kind];
    if (op->ctx != NULL && op->free_ctx != NULL)
        op->free_ctx(op->ctx);
    op->ctx = NULL;
    op->free_ctx = NULL;
}

bool p11_session_take_context_auth(p11_session *s)
{
    bool v = s->context_auth;
    s->context_auth = false;
    return v;
}

/* ---- closing ------------------------------------------------------------------ */

/* Close a locked, live session: end its operations, destroy its session
 * objects, take it out of the table and, when it was the token's last
 * session, log the token out (PKCS#11 3.0 §5.6 C_CloseSession). The caller
 * still holds (and later drops) its own reference and the lock. */
static void session_close_locked(p11_session *s)
{
    s->closed = true;
    s->context_auth = false;
    for (unsigned k = 0; k < P11_OP_KINDS; k++)
        p11_session_op_end(s, (p11_op_kind)k);
    p11_objects_drop_session(s->handle);

    p11_state_lock();
    bool removed = table_remove(s);
    struct token_count *c = count_slot(s->token, false);
    if (removed && c != NULL) {
        c->all--;
        if (p11_session_rw(s))
            c->rw--;
        if (c->all == 0 && tcore_token_login_state(s->token) != TCORE_NOBODY)
            (void)tcore_token_logout(s->token);
    }
    p11_state_unlock();
    if (removed)
        session_unref(s); /* the table's reference; the caller still holds one */
}

CK_RV p11_sessions_init(void)
{
    return CKR_OK;
}

/* C_Finalize (called with every other call excluded). */
void p11_sessions_close_all(void)
{
    pthread_rwlock_rdlock(&g_tab.lock);
    uint32_t cap = g_tab.cap;
    p11_session **all = cap != 0 ? calloc(cap, sizeof(*all)) : NULL;
    uint32_t n = 0;
    for (uint32_t i = 0; i < cap && all != NULL; i++) {
        p11_session *s = g_tab.v[i].s;
        if (s != NULL) {
            atomic_fetch_add(&s->refs, 1);
            all[n++] = s;
        }
    }
    pthread_rwlock_unlock(&g_tab.lock);
    if (all == NULL && cap != 0) {
        /* No memory for the list: close them one at a time by scanning. */
        for (;;) {
            p11_session *s = NULL;
            pthread_rwlock_rdlock(&g_tab.lock);
            for (uint32_t i = 0; i < g_tab.cap && s == NULL; i++) {
                s = g_tab.v[i].s;
                if (s != NULL)
                    atomic_fetch_add(&s->refs, 1);
            }
            pthread_rwlock_unlock(&g_tab.lock);
            if (s == NULL)
                break;
            pthread_mutex_lock(&s->lock);
            if (!s->closed)
                session_close_locked(s);
            pthread_mutex_unlock(&s->lock);
            session_unref(s);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        pthread_mutex_lock(&all[i]->lock);
        if (!all[i]->closed)
            session_close_locked(all[i]);
        pthread_mutex_unlock(&all[i]->lock);
        session_unref(all[i]);
    }
    free(all);

    pthread_rwlock_wrlock(&g_tab.lock);
    free(g_tab.v);
    g_tab.v = NULL;
    g_tab.cap = 0;
    g_tab.free_head = NO_FREE;
    pthread_rwlock_unlock(&g_tab.lock);
    p11_state_lock();
    free(g_counts);
    g_counts = NULL;
    g_ncounts = 0;
    p11_state_unlock();
}

/* In a forked child: forget the parent's sessions without touching their
 * locks (a parent thread may have held them at fork time). */
void p11_sessions_abandon(void)
{
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    pthread_mutex_t mx = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    memcpy(&g_tab.lock, &rw, sizeof(rw));
    memcpy(&g_state, &mx, sizeof(mx));
    g_tab.v = NULL;
    g_tab.cap = 0;
    g_tab.free_head = NO_FREE;
    g_counts = NULL;
    g_ncounts = 0;
}

/* ---- C_OpenSession / C_CloseSession / C_CloseAllSessions ---------------------- */

P11_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                               CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    /* Notify callbacks are optional for the library (PKCS#11 3.0 §5.6): we
     * never call them. */
    (void)pApplication;
    (void)Notify;
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    p11_session *s = NULL;
    tcore_token *t = NULL;
    if (phSession == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    /* PKCS#11 3.0 §5.6: CKF_SERIAL_SESSION must always be set (legacy). */
    if (!(flags & CKF_SERIAL_SESSION)) {
        rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED;
        goto out;
    }
    rv = p11_slot_token(slotID, &t);
    if (rv != CKR_OK)
        goto out;
    if (!tcore_token_initialized(t)) {
        rv = CKR_TOKEN_NOT_RECOGNIZED;
        goto out;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        s = NULL;
        rv = CKR_GENERAL_ERROR;
        goto out;
    }
    atomic_init(&s->refs, 1);
    s->slot = slotID;
    s->token = t;
    s->flags = CKF_SERIAL_SESSION | (flags & CKF_RW_SESSION);

    p11_state_lock();
    /* PKCS#11 3.0 §5.6: no R/O session while the SO is logged in. */
    if (!(flags & CKF_RW_SESSION) && tcore_token_login_state(t) == CKU_SO) {
        rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
    } else {
        struct token_count *c = count_slot(t, true);
        if (c == NULL) {
            rv = CKR_HOST_MEMORY;
        } else {
            rv = table_insert(s);
            if (rv == CKR_OK) {
                c->all++;
                if (flags & CKF_RW_SESSION)
                    c->rw++;
            }
        }
    }
    p11_state_unlock();
    if (rv == CKR_OK)
        *phSession = s->handle;
out:
    if (s != NULL)
        session_unref(s); /* ours; the table keeps its own on success */
    p11_lib_leave();
    return rv;
}

P11_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    session_close_locked(s);
    p11_session_put(s);
    return CKR_OK;
}

P11_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    tcore_token *t;
    rv = p11_slot_token(slotID, &t);
    if (rv != CKR_OK)
        goto out;
    /* Take references to this slot's sessions under the table lock, then
     * close them outside it (closing takes the table lock for writing).
     * Sessions opened meanwhile stay open, as if opened afterwards. */
    p11_session **list = NULL;
    size_t n = 0;
    bool nomem = false;
    pthread_rwlock_rdlock(&g_tab.lock);
    if (g_tab.cap != 0) {
        list = calloc(g_tab.cap, sizeof(*list));
        nomem = list == NULL;
    }
    for (uint32_t i = 0; i < g_tab.cap && list != NULL; i++) {
        p11_session *c = g_tab.v[i].s;
        if (c != NULL && c->slot == slotID) {
            atomic_fetch_add(&c->refs, 1);
            list[n++] = c;
        }
    }
    pthread_rwlock_unlock(&g_tab.lock);
    if (nomem) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (lock_live(list[i]) != CKR_OK)
            continue; /* closed meanwhile; lock_live dropped our reference */
        session_close_locked(list[i]);
        pthread_mutex_unlock(&list[i]->lock);
        session_unref(list[i]);
    }
    free(list);
    /* The last close logged the token out; make sure of it even when there
     * were no sessions (PKCS#11 3.0 §5.6). */
    p11_state_lock();
    CK_ULONG all = 0;
    struct token_count *c = count_slot(t, false);
    if (c != NULL)
        all = c->all;
    if (all == 0 && tcore_token_login_state(t) != TCORE_NOBODY)
        (void)tcore_token_logout(t);
    p11_state_unlock();
out:
    p11_lib_leave();
    return rv;
}

/* ---- C_GetSessionInfo ------------------------------------------------------------ */

P11_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pInfo == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    CK_SESSION_INFO info;
    memset(&info, 0, sizeof(info));
    info.slotID = s->slot;
    info.state = p11_session_state(s);
    info.flags = s->flags;
    info.ulDeviceError = 0;
    *pInfo = info;
out:
    p11_session_put(s);
    return rv;
}

/* ---- login ------------------------------------------------------------------------ */

/* Embedded tokens have one user per role; C_LoginUser names them "so" and
 * "user" (DESIGN.md: C_Login maps to the partition's default users). */
static bool username_ok(CK_USER_TYPE who, const CK_UTF8CHAR *name, CK_ULONG len)
{
    const char *want = who == CKU_SO ? "so" : "user";
    size_t n = strlen(want);
    return len == n && memcmp(name, want, n) == 0;
}

/* C_Login / C_LoginUser (PKCS#11 3.0 §5.6). name NULL for C_Login. */
static CK_RV login(CK_SESSION_HANDLE hSession, CK_USER_TYPE who, const CK_UTF8CHAR *pin,
                   CK_ULONG pin_len, bool with_name, const CK_UTF8CHAR *name,
                   CK_ULONG name_len)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    bool locked = false;
    /* No protected authentication path: the PIN comes from the caller. */
    if (pin == NULL || (with_name && name == NULL)) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    if (who != CKU_SO && who != CKU_USER && who != CKU_CONTEXT_SPECIFIC) {
        rv = CKR_USER_TYPE_INVALID;
        goto out;
    }
    p11_state_lock();
    locked = true;
    CK_USER_TYPE cur = tcore_token_login_state(s->token);
    if (who == CKU_CONTEXT_SPECIFIC) {
        /* Re-authentication for a CKA_ALWAYS_AUTHENTICATE key: the PIN of the
         * role logged in, checked again; the crypto functions consume the
         * flag (p11_session_take_context_auth). */
        s->context_auth = false;
        if (cur == TCORE_NOBODY) {
            rv = CKR_USER_NOT_LOGGED_IN;
            goto out;
        }
        rv = tcore_token_login(s->token, CKU_CONTEXT_SPECIFIC, pin, pin_len);
        if (rv == CKR_OK)
            s->context_auth = true;
        goto out;
    }
    if (cur == who) {
        rv = CKR_USER_ALREADY_LOGGED_IN;
        goto out;
    }
    if (cur != TCORE_NOBODY) {
        rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
        goto out;
    }
    if (who == CKU_SO) {
        /* PKCS#11 3.0 §5.6: the SO cannot log in while R/O sessions exist. */
        struct token_count *c = count_slot(s->token, false);
        if (c != NULL && c->all > c->rw) {
            rv = CKR_SESSION_READ_ONLY_EXISTS;
            goto out;
        }
    }
    if (with_name && !username_ok(who, name, name_len)) {
        /* Same answer as a wrong PIN, so names cannot be probed; not counted
         * towards the lockout since no PIN was tried. */
        rv = CKR_PIN_INCORRECT;
        goto out;
    }
    rv = tcore_token_login(s->token, who, pin, pin_len);
out:
    if (locked)
        p11_state_unlock();
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                         CK_ULONG ulPinLen)
{
    return login(hSession, userType, pPin, ulPinLen, false, NULL, 0);
}

P11_EXPORT CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                             CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
                             CK_ULONG ulUsernameLen)
{
    /* PKCS#11 3.0 §5.6 C_LoginUser: for CKU_CONTEXT_SPECIFIC it behaves as
     * C_Login (the user is the one logged in). */
    if (userType == CKU_CONTEXT_SPECIFIC)
        return login(hSession, userType, pPin, ulPinLen, false, NULL, 0);
    return login(hSession, userType, pPin, ulPinLen, true, pUsername, ulUsernameLen);
}

P11_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    p11_state_lock();
    if (tcore_token_login_state(s->token) == TCORE_NOBODY)
        rv = CKR_USER_NOT_LOGGED_IN;
    else
        rv = tcore_token_logout(s->token);
    p11_state_unlock();
    s->context_auth = false;
    p11_session_put(s);
    return rv;
}

/* ---- operation state, cancellation, legacy parallel functions ------------------ */

/* PKCS#11 3.0 §5.6 C_SessionCancel: end the operations named by flags. The
 * message-based operations (CKF_MESSAGE_*) are kept by the crypto functions,
 * not in the session's operation slots; they are ended by their own *Final. */
P11_EXPORT CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    static const struct {
        CK_FLAGS flag;
        p11_op_kind kind;
    } map[] = {
        {CKF_DIGEST, P11_OP_DIGEST},   {CKF_SIGN, P11_OP_SIGN},
        {CKF_VERIFY, P11_OP_VERIFY},   {CKF_ENCRYPT, P11_OP_ENCRYPT},
        {CKF_DECRYPT, P11_OP_DECRYPT}, {CKF_FIND_OBJECTS, P11_OP_FIND},
    };
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < TC_ARRAY_LEN(map); i++)
        if (flags & map[i].flag)
            p11_session_op_end(s, map[i].kind);
    p11_session_put(s);
    return CKR_OK;
}

/* PKCS#11 3.0 §5.6: a token need not be able to save operation state;
 * CKR_FUNCTION_NOT_SUPPORTED is an allowed answer and ours (saving would
 * export live key schedules). */
P11_EXPORT CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                     CK_ULONG_PTR pulOperationStateLen)
{
    (void)pOperationState;
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    rv = pulOperationStateLen == NULL ? CKR_ARGUMENTS_BAD : CKR_FUNCTION_NOT_SUPPORTED;
    p11_session_put(s);
    return rv;
}

P11_EXPORT CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                     CK_ULONG ulOperationStateLen,
                                     CK_OBJECT_HANDLE hEncryptionKey,
                                     CK_OBJECT_HANDLE hAuthenticationKey)
{
    (void)ulOperationStateLen;
    (void)hEncryptionKey;
    (void)hAuthenticationKey;
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    rv = pOperationState == NULL ? CKR_ARGUMENTS_BAD : CKR_FUNCTION_NOT_SUPPORTED;
    p11_session_put(s);
    return rv;
}

/* PKCS#11 3.0 §5.20: legacy functions for parallel sessions, which do not
 * exist any more; they always answer CKR_FUNCTION_NOT_PARALLEL. */
P11_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    p11_session_put(s);
    return CKR_FUNCTION_NOT_PARALLEL;
}

P11_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
    p11_session *s;
    CK_RV rv = p11_session_get(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    p11_session_put(s);
    return CKR_FUNCTION_NOT_PARALLEL;
}
