/*
 * The core applications of the daemon's connections (PKCS#11 3.0 §5.6: an
 * application is the set of sessions that share a login). A client with
 * several connections (one per thread) names one application id in each
 * HELLO; the connections join only when they also come from the same
 * principal, so an id learnt by another peer joins nothing.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

#define NBUCKETS 4096u

struct dapp {
    uint8_t id[TPROTO_APP_ID_LEN];
    char *principal;
    bool shared;          /* in the map (non-zero id) */
    unsigned refs;        /* under the map's lock */
    tcore_app *app;
    pthread_mutex_t open_lock; /* serialises session opening (the limit) */
    struct dapp *next;
};

struct dapps {
    tcore *core;
    pthread_mutex_t lock;
    dapp *bucket[NBUCKETS];
};

dapps *dapps_new(tcore *core)
{
    dapps *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->core = core;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void dapps_free(dapps *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* FNV-1a over the id and the principal. */
static unsigned bucket_of(const uint8_t id[TPROTO_APP_ID_LEN], const char *principal)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < TPROTO_APP_ID_LEN; i++)
        h = (h ^ id[i]) * 16777619u;
    for (const unsigned char *p = (const unsigned char *)principal; *p != '\0'; p++)
        h = (h ^ *p) * 16777619u;
    return h & (NBUCKETS - 1);
}

static bool id_is_zero(const uint8_t id[TPROTO_APP_ID_LEN])
{
    uint8_t acc = 0;
    for (size_t i = 0; i < TPROTO_APP_ID_LEN; i++)
        acc |= id[i];
    return acc == 0;
}

static void app_destroy(dapp *a)
{
    if (a == NULL)
        return;
    tcore_app_free(a->app);
    pthread_mutex_destroy(&a->open_lock);
    free(a->principal);
    free(a);
}

static CK_RV app_make(dapps *m, const uint8_t id[TPROTO_APP_ID_LEN], const char *principal,
                      bool shared, dapp **out)
{
    dapp *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(&a->open_lock, NULL);
    memcpy(a->id, id, TPROTO_APP_ID_LEN);
    a->shared = shared;
    a->refs = 1;
    a->principal = strdup(principal);
    if (a->principal == NULL) {
        app_destroy(a);
        return CKR_HOST_MEMORY;
    }
    CK_RV rv = tcore_app_new(m->core, principal, &a->app);
    if (rv != CKR_OK) {
        a->app = NULL;
        app_destroy(a);
        return rv;
    }
    *out = a;
    return CKR_OK;
}

CK_RV dapps_join(dapps *m, const uint8_t id[TPROTO_APP_ID_LEN], const char *principal,
                 dapp **out)
{
    if (id_is_zero(id))
        return app_make(m, id, principal, false, out);

    unsigned b = bucket_of(id, principal);
    CK_RV rv = CKR_OK;
    pthread_mutex_lock(&m->lock);
    for (dapp *a = m->bucket[b]; a != NULL; a = a->next) {
        if (memcmp(a->id, id, TPROTO_APP_ID_LEN) == 0 && strcmp(a->principal, principal) == 0) {
            a->refs++;
            *out = a;
            goto out;
        }
    }
    /* Made under the lock so that two connections of one new application
     * cannot each make their own. tcore_app_new only allocates. */
    dapp *a = NULL;
    rv = app_make(m, id, principal, true, &a);
    if (rv == CKR_OK) {
        a->next = m->bucket[b];
        m->bucket[b] = a;
        *out = a;
    }
out:
    pthread_mutex_unlock(&m->lock);
    return rv;
}

void dapps_release(dapps *m, dapp *a)
{
    if (a == NULL)
        return;
    if (a->shared) {
        unsigned b = bucket_of(a->id, a->principal);
        pthread_mutex_lock(&m->lock);
        bool last = --a->refs == 0;
        if (last) {
            for (dapp **pp = &m->bucket[b]; *pp != NULL; pp = &(*pp)->next) {
                if (*pp == a) {
                    *pp = a->next;
                    break;
                }
            }
        }
        pthread_mutex_unlock(&m->lock);
        if (!last)
            return;
    }
    /* Out of the map: a connection arriving now makes a fresh application.
     * Freeing closes the sessions, ends the operations, logs out. */
    app_destroy(a);
}

tcore_app *dapp_core_app(dapp *a)
{
    return a->app;
}

CK_RV dapp_session_open(dapp *a, tcore *core, unsigned max, tproto_arg *args, tcore_err *err)
{
    pthread_mutex_lock(&a->open_lock);
    CK_RV rv;
    if (tcore_app_session_count(a->app) >= max) {
        rv = CKR_SESSION_COUNT;
        err->rv = rv;
        err->arg = TCORE_ARG_NONE;
    } else {
        rv = tsvc_dispatch(core, a->app, TPROTO_OP_SESSION_OPEN, args, err);
    }
    pthread_mutex_unlock(&a->open_lock);
    return rv;
}
