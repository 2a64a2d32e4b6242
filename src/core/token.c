/*
 * Tokens: the slot registry, token metadata, PINs and login state.
 *
 * Token metadata (t/<tokid>/meta, format v2 in core_int.h and meta.c): slot,
 * label, generation, key id, PIN failure counters, the protector blob, all
 * under one MAC. Every change commits through tcore_txn (txn.c), so
 * processes sharing the store share the lockout (PKCS#11 3.0 §5.6 C_Login,
 * CKF_*_PIN_LOCKED) and an edited or rolled-back counter is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"

#define CAS_RETRIES 16

uint64_t tcore_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void slot_key(char *out, size_t outlen, CK_SLOT_ID slot)
{
    snprintf(out, outlen, "slot/%08lx", (unsigned long)slot);
}

/* Edits of the metadata inside a commit (tcore_txn_meta). A new protector
 * blob is made outside the commit from the blob then stored; the commit
 * applies it only if that blob is still the stored one. */
static bool blob_same(const tcore_meta *m, const tcore_meta *base)
{
    return m->blob_len == base->blob_len && memcmp(m->blob, base->blob, m->blob_len) == 0;
}

static bool blob_replace(tcore_meta *m, const uint8_t *blob, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    if (b == NULL) {
        return false;
    }
    memcpy(b, blob, len);
    free(m->blob);
    m->blob = b;
    m->blob_len = len;
    return true;
}

typedef struct {
    CK_USER_TYPE who;
    bool failed;
} count_req;

static CK_RV count_fn(tcore_meta *m, void *ctx)
{
    const count_req *q = ctx;
    uint8_t *c = q->who == CKU_SO ? &m->so_fail : &m->user_fail;
    if (q->failed) {
        if (*c < 255) {
            (*c)++;
        }
    } else {
        *c = 0;
    }
    return CKR_OK;
}

/* Count a PIN failure (failed) or clear the counter for `who`: one commit. */
static CK_RV meta_count(tcore_token *t, CK_USER_TYPE who, bool failed)
{
    count_req q = {who, failed};
    tcore_txn *x = tcore_txn_new(t);
    if (x == NULL) {
        return CKR_HOST_MEMORY;
    }
    tcore_txn_meta(x, count_fn, &q);
    CK_RV rv = tcore_txn_commit(x, NULL);
    tcore_txn_free(x);
    return rv;
}

/* ---- token objects in memory ----------------------------------------------- */

static tcore_token *token_new(tcore_tokens *ts, CK_SLOT_ID slot, const char *id)
{
    tcore_token *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (t->buckets == NULL) {
        free(t);
        return NULL;
    }
    t->set = ts;
    t->slot = slot;
    snprintf(t->id, sizeof(t->id), "%s", id);
    pthread_mutex_init(&t->lock, NULL);
    atomic_init(&t->epoch, 1);
    atomic_init(&t->meta_gen, 0);
    atomic_init(&t->fmt, 0);
    atomic_init(&t->ix_checked_ms, 0);
    atomic_init(&t->ix_bad, false);
    /* the cache follows the store from here on (objstore.c token_sync);
     * reading the revision before any object is loaded misses nothing */
    if (tstore_revision(ts->store, &t->synced_rev) != TSTORE_OK) {
        t->synced_rev = 0;
    }
    t->synced_ms = tcore_now_ms();
    return t;
}

/* Wipe the key and log out, under t->lock. */
static void token_logout_locked(tcore_token *t)
{
    if (t->key != NULL) {
        tcrypto_secure_free(t->key, TCORE_TOKEN_KEY_LEN);
        t->key = NULL;
    }
    t->holders = 0;
    atomic_fetch_add(&t->epoch, 1);
}

static void token_free(tcore_token *t)
{
    pthread_mutex_lock(&t->lock);
    token_logout_locked(t);
    pthread_mutex_unlock(&t->lock);
    tcore_cache_drop_all(t);
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

CK_RV tcore_token_key_copy(tcore_token *t, uint8_t **key, uint64_t *epoch)
{
    CK_RV rv = CKR_USER_NOT_LOGGED_IN;
    uint8_t *k = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    if (k == NULL) {
        return CKR_HOST_MEMORY;
    }
    pthread_mutex_lock(&t->lock);
    if (t->key != NULL) {
        memcpy(k, t->key, TCORE_TOKEN_KEY_LEN);
        if (epoch != NULL) {
            *epoch = atomic_load(&t->epoch);
        }
        rv = CKR_OK;
    }
    pthread_mutex_unlock(&t->lock);
    if (rv != CKR_OK) {
        tcrypto_secure_free(k, TCORE_TOKEN_KEY_LEN);
        return rv;
    }
    *key = k;
    return CKR_OK;
}

bool tcore_token_epoch_valid(tcore_token *t, uint64_t epoch)
{
    return atomic_load(&t->epoch) == epoch;
}

tstore *tcore_token_store(tcore_token *t)
{
    return t->set->store;
}

/* ---- token set ----------------------------------------------------------- */

/* Read the slot registry and bring the in-memory list up to date: new
 * tokens appear (initialised by other processes), the free slot follows.
 * Called with ts->lock held. */
static CK_RV tokens_reload_locked(tcore_tokens *ts)
{
    tstore_kv *kvs = NULL;
    size_t n = 0;
    CK_SLOT_ID next_free = 0;
    CK_RV rv = CKR_OK;
    tstore_rc src = tstore_range(ts->store, "slot/", 5, 0, &kvs, &n);

    if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "reading the slot registry: %s", tstore_rc_str(src));
        return CKR_DEVICE_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        char idbuf[17];
        unsigned long slot;
        char tail;
        if (kvs[i].key_len != 13 || kvs[i].value_len != 16) {
            continue;
        }
        char kbuf[14];
        memcpy(kbuf, kvs[i].key, 13);
        kbuf[13] = '\0';
        if (sscanf(kbuf, "slot/%8lx%c", &slot, &tail) != 1) {
            continue;
        }
        memcpy(idbuf, kvs[i].value, 16);
        idbuf[16] = '\0';
        if (slot + 1 > next_free) {
            next_free = slot + 1;
        }
        tcore_token *t;
        for (t = ts->tokens; t != NULL; t = t->next) {
            if (t->slot == slot) {
                break;
            }
        }
        if (t == NULL) {
            t = token_new(ts, slot, idbuf);
            if (t == NULL) {
                rv = CKR_HOST_MEMORY;
                goto out;
            }
            t->next = ts->tokens;
            ts->tokens = t;
        } else if (t->id[0] == '\0') {
            /* our free slot was initialised by another process */
            pthread_mutex_lock(&t->lock);
            snprintf(t->id, sizeof(t->id), "%s", idbuf);
            pthread_mutex_unlock(&t->lock);
        }
    }
    /* exactly one free slot, at next_free */
    bool have_free = false;
    for (tcore_token *t = ts->tokens; t != NULL; t = t->next) {
        if (t->id[0] == '\0') {
            if (t->slot == next_free) {
                have_free = true;
            } else if (t->slot < next_free) {
                /* an old free slot that is still uninitialised: keep it
                 * pointing at the same id space by moving it forward */
                t->slot = next_free;
                have_free = true;
            }
        }
    }
    if (!have_free) {
        tcore_token *t = token_new(ts, next_free, "");
        if (t == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        t->next = ts->tokens;
        ts->tokens = t;
    }
out:
    tstore_kvs_free(kvs, n);
    return rv;
}

CK_RV tcore_tokens_open_store(tstore *store, bool own, const tcore_protector *protector,
                              tcore_tokens **out)
{
    CK_RV rv;
    tcore_tokens *ts = calloc(1, sizeof(*ts));
    if (ts == NULL) {
        if (own) {
            tstore_close(store);
        }
        if (protector != NULL && protector->destroy != NULL) {
            protector->destroy(protector->ctx);
        }
        return CKR_HOST_MEMORY;
    }
    ts->store = store;
    ts->own_store = own;
    pthread_mutex_init(&ts->lock, NULL);
    pthread_mutex_init(&ts->txn_lock, NULL);
    if (protector != NULL) {
        ts->prot = *protector;
    } else {
        rv = tcore_protector_pin(NULL, &ts->prot);
        if (rv != CKR_OK) {
            tcore_tokens_close(ts);
            return rv;
        }
    }
    rv = tcore_integrity_init(ts);
    if (rv != CKR_OK) {
        tcore_tokens_close(ts);
        return rv;
    }
    pthread_mutex_lock(&ts->lock);
    rv = tokens_reload_locked(ts);
    pthread_mutex_unlock(&ts->lock);
    if (rv != CKR_OK) {
        tcore_tokens_close(ts);
        return rv;
    }
    *out = ts;
    return CKR_OK;
}

CK_RV tcore_tokens_open(const char *path, const tcore_protector *protector, tcore_tokens **out)
{
    tstore *s = NULL;
    tstore_rc src;

    if (path == NULL || *path == '\0' || out == NULL) {
        if (protector != NULL && protector->destroy != NULL) {
            protector->destroy(protector->ctx);
        }
        return CKR_ARGUMENTS_BAD;
    }
    src = tstore_open(path, &s);
    if (src != TSTORE_OK) {
        /* not the path itself: a remote store's URI may carry credentials */
        TC_ERROR(TCORE_LOG, "cannot open the token store: %s", tstore_rc_str(src));
        if (protector != NULL && protector->destroy != NULL) {
            protector->destroy(protector->ctx);
        }
        return CKR_DEVICE_ERROR;
    }
    return tcore_tokens_open_store(s, true, protector, out);
}

void tcore_tokens_close(tcore_tokens *ts)
{
    if (ts == NULL) {
        return;
    }
    tcore_token *t = ts->tokens;
    while (t != NULL) {
        tcore_token *next = t->next;
        token_free(t);
        t = next;
    }
    if (ts->prot.destroy != NULL) {
        ts->prot.destroy(ts->prot.ctx);
    }
    if (ts->own_store && ts->store != NULL) {
        tstore_close(ts->store);
    }
    tcore_tokens_set_anchor(ts, NULL);
    tc_wipe(ts->ik, sizeof(ts->ik));
    pthread_mutex_destroy(&ts->txn_lock);
    pthread_mutex_destroy(&ts->lock);
    free(ts);
}

CK_RV tcore_tokens_slots(tcore_tokens *ts, CK_SLOT_ID *out, CK_ULONG *count)
{
    CK_RV rv;
    CK_ULONG n = 0;

    if (count == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    pthread_mutex_lock(&ts->lock);
    rv = tokens_reload_locked(ts);
    if (rv != CKR_OK) {
        goto out;
    }
    for (tcore_token *t = ts->tokens; t != NULL; t = t->next) {
        n++;
    }
    if (out == NULL) {
        *count = n;
        goto out;
    }
    if (*count < n) {
        *count = n;
        rv = CKR_BUFFER_TOO_SMALL;
        goto out;
    }
    /* ascending order: small lists, insertion sort */
    CK_ULONG i = 0;
    for (tcore_token *t = ts->tokens; t != NULL; t = t->next) {
        CK_ULONG j = i++;
        while (j > 0 && out[j - 1] > t->slot) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = t->slot;
    }
    *count = n;
out:
    pthread_mutex_unlock(&ts->lock);
    return rv;
}

CK_RV tcore_tokens_get(tcore_tokens *ts, CK_SLOT_ID slot, tcore_token **out)
{
    CK_RV rv = CKR_SLOT_ID_INVALID;
    pthread_mutex_lock(&ts->lock);
    for (tcore_token *t = ts->tokens; t != NULL; t = t->next) {
        if (t->slot == slot) {
            *out = t;
            rv = CKR_OK;
            break;
        }
    }
    if (rv != CKR_OK && tokens_reload_locked(ts) == CKR_OK) {
        for (tcore_token *t = ts->tokens; t != NULL; t = t->next) {
            if (t->slot == slot) {
                *out = t;
                rv = CKR_OK;
                break;
            }
        }
    }
    pthread_mutex_unlock(&ts->lock);
    return rv;
}

/* ---- one token ------------------------------------------------------------ */

CK_SLOT_ID tcore_token_slot(const tcore_token *t)
{
    return t->slot;
}

bool tcore_token_initialized(tcore_token *t)
{
    bool init;
    pthread_mutex_lock(&t->lock);
    init = t->id[0] != '\0';
    pthread_mutex_unlock(&t->lock);
    return init;
}

const char *tcore_token_id(const tcore_token *t)
{
    return t->id;
}

static CK_FLAGS count_flags(uint8_t fails, CK_FLAGS low, CK_FLAGS final, CK_FLAGS locked)
{
    if (fails >= TCORE_PIN_MAX_TRIES) {
        return locked;
    }
    if (fails == TCORE_PIN_MAX_TRIES - 1) {
        return low | final;
    }
    return fails > 0 ? low : 0;
}

CK_RV tcore_token_get_info(tcore_token *t, CK_TOKEN_INFO *info)
{
    CK_TOKEN_INFO ti;
    tcore_meta m;
    CK_RV rv;

    memset(&ti, 0, sizeof(ti));
    tc_pad(ti.label, sizeof(ti.label), "");
    tc_pad(ti.manufacturerID, sizeof(ti.manufacturerID), "Tessera");
    tc_pad(ti.model, sizeof(ti.model), "embedded");
    tc_pad(ti.serialNumber, sizeof(ti.serialNumber), "");
    ti.flags = CKF_RNG;
    ti.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    ti.ulSessionCount = CK_UNAVAILABLE_INFORMATION;
    ti.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    ti.ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
    ti.ulMaxPinLen = TCORE_PIN_MAX_LEN;
    ti.ulMinPinLen = TCORE_PIN_MIN_LEN;
    ti.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    ti.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    ti.ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    ti.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    ti.hardwareVersion.major = 0;
    ti.hardwareVersion.minor = 1;
    ti.firmwareVersion.major = 0;
    ti.firmwareVersion.minor = 1;
    memset(ti.utcTime, ' ', sizeof(ti.utcTime));

    if (tcore_token_initialized(t)) {
        rv = tcore_meta_load(t, &m);
        if (rv != CKR_OK) {
            return rv;
        }
        memcpy(ti.label, m.label, sizeof(ti.label));
        tc_pad(ti.serialNumber, sizeof(ti.serialNumber), t->id);
        ti.flags |= CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_RESTORE_KEY_NOT_NEEDED;
        if (t->set->prot.has_pin(t->set->prot.ctx, m.blob, m.blob_len, CKU_USER)) {
            ti.flags |= CKF_USER_PIN_INITIALIZED;
        }
        ti.flags |= count_flags(m.user_fail, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                                CKF_USER_PIN_LOCKED);
        ti.flags |= count_flags(m.so_fail, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
                                CKF_SO_PIN_LOCKED);
        tcore_meta_free(&m);
    }
    *info = ti;
    return CKR_OK;
}

static bool pin_len_ok(const uint8_t *pin, size_t len)
{
    return (pin != NULL || len == 0) && len >= TCORE_PIN_MIN_LEN && len <= TCORE_PIN_MAX_LEN;
}

/* Does key match the token's published key id? (Always true for a store
 * from before format v2, which has none.) */
static bool key_matches(const tcore_meta *m, const uint8_t *key)
{
    uint8_t zero[TCORE_KEY_ID_LEN] = {0}, id[TCORE_KEY_ID_LEN];
    if (memcmp(m->key_id, zero, sizeof(zero)) == 0) {
        return true;
    }
    return tcore_key_id(key, id) == CKR_OK && tcrypto_memeq(id, m->key_id, TCORE_KEY_ID_LEN);
}

/* Check `who`'s PIN against the stored blob, counting the result. On success
 * key (secure, TCORE_TOKEN_KEY_LEN) holds the token key and *mout the
 * metadata the PIN was checked against (tcore_meta_free it). */
static CK_RV check_pin(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin, size_t pin_len,
                       uint8_t *key, tcore_meta *mout)
{
    tcore_meta m;
    CK_RV rv = tcore_meta_load(t, &m);
    if (rv != CKR_OK) {
        return rv;
    }
    if ((who == CKU_SO ? m.so_fail : m.user_fail) >= TCORE_PIN_MAX_TRIES) {
        tcore_meta_free(&m);
        return CKR_PIN_LOCKED;
    }
    if (who == CKU_USER && !t->set->prot.has_pin(t->set->prot.ctx, m.blob, m.blob_len, CKU_USER)) {
        tcore_meta_free(&m);
        return CKR_USER_PIN_NOT_INITIALIZED;
    }
    if (!pin_len_ok(pin, pin_len)) {
        rv = CKR_PIN_INCORRECT;
    } else {
        rv = t->set->prot.unlock(t->set->prot.ctx, t->id, m.blob, m.blob_len, who, pin, pin_len,
                                 key);
        if (rv == CKR_OK && !key_matches(&m, key) && t->set->prot.forget != NULL) {
            /* a key that is not this token's (a login cache entry forged by
             * someone who knows the PIN, or stale): drop it, take the full path */
            TC_WARN(TCORE_LOG, "token %s: cached login refused: not this token's key", t->id);
            tc_wipe(key, TCORE_TOKEN_KEY_LEN);
            t->set->prot.forget(t->set->prot.ctx, t->id, who);
            rv = t->set->prot.unlock(t->set->prot.ctx, t->id, m.blob, m.blob_len, who, pin,
                                     pin_len, key);
        }
    }
    if (rv == CKR_PIN_INCORRECT) {
        CK_RV crv = meta_count(t, who, true);
        tcore_meta_free(&m);
        return crv != CKR_OK ? crv : CKR_PIN_INCORRECT;
    }
    if (rv != CKR_OK) {
        tcore_meta_free(&m);
        return rv;
    }
    /* Neither commit below changes the protector blob, the part of *mout
     * its caller relies on, so m is not read again after them. */
    if ((who == CKU_SO ? m.so_fail : m.user_fail) != 0) {
        rv = meta_count(t, who, false);
        if (rv != CKR_OK) {
            tc_wipe(key, TCORE_TOKEN_KEY_LEN);
            tcore_meta_free(&m);
            return rv;
        }
    }
    uint8_t zero[TCORE_KEY_ID_LEN] = {0};
    if ((m.flags & TCORE_META_V1_SEALED) != 0 || memcmp(m.key_id, zero, sizeof(zero)) == 0) {
        /* a store from before format v2: its sealed records are rewritten
         * now that the key is at hand (the login goes on if that fails:
         * the v1 records stay readable) */
        (void)tcore_migrate_sealed(t, key);
    }
    if (mout != NULL) {
        *mout = m;
    } else {
        tcore_meta_free(&m);
    }
    return CKR_OK;
}

static void random_hex_id(char out[17], const uint8_t raw[8])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[16] = '\0';
}

/* Initialise the free slot t as a new token. */
static CK_RV init_new(tcore_token *t, const uint8_t *so_pin, size_t so_pin_len,
                      const uint8_t label[32])
{
    tcore_tokens *ts = t->set;
    uint8_t raw[8];
    char id[17], skey[32];
    uint8_t *key = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    tcore_meta m;
    tcore_txn *x = NULL;
    CK_RV rv;

    memset(&m, 0, sizeof(m));
    if (key == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (tcrypto_random(raw, sizeof(raw)) != TCRYPTO_OK) {
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    random_hex_id(id, raw);
    rv = ts->prot.create(ts->prot.ctx, id, so_pin, so_pin_len, key, &m.blob, &m.blob_len);
    if (rv != CKR_OK) {
        goto out;
    }
    m.version = 2;
    m.slot = t->slot;
    memcpy(m.label, label, 32);
    m.gen = 1;
    rv = tcore_key_id(key, m.key_id);
    if (rv != CKR_OK) {
        goto out;
    }
    slot_key(skey, sizeof(skey), t->slot);
    x = tcore_txn_new(t);
    if (x == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    tcore_txn_meta_replace(x, id, &m, 0);
    tcore_txn_cmp(x, skey, 0);
    tcore_txn_put(x, skey, id, 16);
    rv = tcore_txn_commit(x, NULL);
    if (rv == CKR_FUNCTION_REJECTED) {
        TC_WARN(TCORE_LOG, "slot %lu was initialised by another process", (unsigned long)t->slot);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    if (rv != CKR_OK) {
        goto out;
    }
    pthread_mutex_lock(&t->lock);
    snprintf(t->id, sizeof(t->id), "%s", id);
    token_logout_locked(t);
    pthread_mutex_unlock(&t->lock);
    TC_INFO(TCORE_LOG, "slot %lu: token %s initialised", (unsigned long)t->slot, id);
    rv = CKR_OK;
out:
    if (rv == CKR_FUNCTION_FAILED || rv == CKR_OK) {
        pthread_mutex_lock(&ts->lock);
        (void)tokens_reload_locked(ts);
        pthread_mutex_unlock(&ts->lock);
    }
    tcore_txn_free(x);
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    tcore_meta_free(&m);
    return rv;
}

typedef struct {
    const tcore_meta *checked; /* the metadata the SO PIN was checked against */
    const tcore_meta *fresh;   /* blob, label, key id of the new token */
} reinit_req;

static CK_RV reinit_fn(tcore_meta *m, void *ctx)
{
    const reinit_req *q = ctx;
    if (!blob_same(m, q->checked)) {
        /* the SO PIN changed since it was checked */
        return CKR_FUNCTION_FAILED;
    }
    if (!blob_replace(m, q->fresh->blob, q->fresh->blob_len)) {
        return CKR_HOST_MEMORY;
    }
    memcpy(m->label, q->fresh->label, 32);
    memcpy(m->key_id, q->fresh->key_id, TCORE_KEY_ID_LEN);
    m->so_fail = 0;
    m->user_fail = 0;
    m->flags = 0;
    m->nobj = 0;
    m->nix = 0;
    return CKR_OK;
}

/* Re-initialise an existing token: PKCS#11 3.0 §5.6 C_InitToken — objects
 * destroyed, user PIN uninitialised, new label, new token key. One commit,
 * which lists and deletes the token's keys at the metadata revision it
 * compares against (an object committed meanwhile moves the metadata, and
 * the commit then lists again), and after which a process still holding the
 * old key can write nothing (tcore_txn_key). */
static CK_RV init_again(tcore_token *t, const uint8_t *so_pin, size_t so_pin_len,
                        const uint8_t label[32])
{
    tcore_tokens *ts = t->set;
    uint8_t *key = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    tcore_meta m, nm;
    tcore_txn *x = NULL;
    CK_RV rv;

    memset(&m, 0, sizeof(m));
    memset(&nm, 0, sizeof(nm));
    if (key == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = check_pin(t, CKU_SO, so_pin, so_pin_len, key, &m);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = ts->prot.create(ts->prot.ctx, t->id, so_pin, so_pin_len, key, &nm.blob, &nm.blob_len);
    if (rv == CKR_OK) {
        rv = tcore_key_id(key, nm.key_id);
    }
    if (rv != CKR_OK) {
        goto out;
    }
    memcpy(nm.label, label, 32);
    reinit_req q = {&m, &nm};
    x = tcore_txn_new(t);
    if (x == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    tcore_txn_meta(x, reinit_fn, &q);
    tcore_txn_clear_token(x);
    rv = tcore_txn_commit(x, NULL);
    if (rv != CKR_OK) {
        if (rv == CKR_FUNCTION_REJECTED) {
            rv = CKR_FUNCTION_FAILED;
        }
        goto out;
    }
    pthread_mutex_lock(&t->lock);
    token_logout_locked(t);
    pthread_mutex_unlock(&t->lock);
    tcore_cache_drop_all(t);
    TC_INFO(TCORE_LOG, "token %s re-initialised", t->id);
    rv = CKR_OK;
out:
    tcore_txn_free(x);
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    tcore_meta_free(&m);
    tcore_meta_free(&nm);
    return rv;
}

CK_RV tcore_token_init(tcore_token *t, const uint8_t *so_pin, size_t so_pin_len,
                       const uint8_t label[32])
{
    if (label == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    if (!tcore_token_initialized(t)) {
        if (!pin_len_ok(so_pin, so_pin_len)) {
            return CKR_PIN_LEN_RANGE;
        }
        return init_new(t, so_pin, so_pin_len, label);
    }
    /* a re-init with a PIN that cannot be right is a wrong SO PIN, counted
     * like any other (check_pin) */
    return init_again(t, so_pin, so_pin_len, label);
}

bool tcore_token_key_available(tcore_token *t)
{
    pthread_mutex_lock(&t->lock);
    bool v = t->key != NULL;
    pthread_mutex_unlock(&t->lock);
    return v;
}

static const char *role_name(CK_USER_TYPE who)
{
    return who == CKU_SO ? "SO" : "user";
}

/* The PIN check of a login, with the log lines an operator needs (never the
 * PIN itself). key: out, TCORE_TOKEN_KEY_LEN. */
static CK_RV login_check(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin, size_t pin_len,
                        uint8_t *key)
{
    if (!tcore_token_initialized(t)) {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    if (who != CKU_SO && who != CKU_USER) {
        return CKR_USER_TYPE_INVALID;
    }
    CK_RV rv = check_pin(t, who, pin, pin_len, key, NULL);
    if (rv == CKR_PIN_INCORRECT) {
        TC_WARN(TCORE_LOG, "token %s: failed %s login (wrong PIN)", t->id, role_name(who));
    } else if (rv == CKR_PIN_LOCKED) {
        TC_WARN(TCORE_LOG, "token %s: %s login refused: PIN locked", t->id, role_name(who));
    }
    return rv;
}

CK_RV tcore_token_unlock(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin, size_t pin_len)
{
    uint8_t *key = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    if (key == NULL) {
        return CKR_HOST_MEMORY;
    }
    CK_RV rv = login_check(t, who, pin, pin_len, key);
    if (rv == CKR_OK) {
        pthread_mutex_lock(&t->lock);
        if (t->key == NULL) {
            t->key = key;
            key = NULL;
        }
        t->holders++;
        pthread_mutex_unlock(&t->lock);
    }
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    return rv;
}

void tcore_token_release(tcore_token *t)
{
    bool last = false;
    pthread_mutex_lock(&t->lock);
    if (t->holders > 0 && --t->holders == 0) {
        token_logout_locked(t);
        last = true;
    }
    pthread_mutex_unlock(&t->lock);
    if (last) {
        tcore_cache_drop_all(t);
    }
}

CK_RV tcore_token_verify_pin(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin,
                             size_t pin_len)
{
    uint8_t *key = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    if (key == NULL) {
        return CKR_HOST_MEMORY;
    }
    CK_RV rv = login_check(t, who, pin, pin_len, key);
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    return rv;
}

/* Store a new protector entry for `who` (PIN change), resetting its counter. */
typedef struct {
    CK_USER_TYPE who;
    const tcore_meta *base; /* the metadata the new blob was made from */
    uint8_t *blob;
    size_t blob_len;
} pin_req;

static CK_RV pin_fn(tcore_meta *m, void *ctx)
{
    const pin_req *q = ctx;
    if (!blob_same(m, q->base)) {
        return CKR_FUNCTION_REJECTED; /* another PIN change came first: redo */
    }
    if (!blob_replace(m, q->blob, q->blob_len)) {
        return CKR_HOST_MEMORY;
    }
    if (q->who == CKU_SO) {
        m->so_fail = 0;
    } else {
        m->user_fail = 0;
    }
    return CKR_OK;
}

static CK_RV store_pin(tcore_token *t, CK_USER_TYPE who, const uint8_t *key, const uint8_t *pin,
                       size_t pin_len)
{
    for (int i = 0; i < CAS_RETRIES; i++) {
        tcore_meta m;
        pin_req q = {who, &m, NULL, 0};
        CK_RV rv = tcore_meta_load(t, &m);
        if (rv != CKR_OK) {
            return rv;
        }
        /* the KDF runs outside the commit; the commit checks that the blob
         * it was made from is still the stored one */
        rv = t->set->prot.set_pin(t->set->prot.ctx, t->id, m.blob, m.blob_len, who, key, pin,
                                  pin_len, &q.blob, &q.blob_len);
        if (rv == CKR_OK) {
            tcore_txn *x = tcore_txn_new(t);
            if (x == NULL) {
                rv = CKR_HOST_MEMORY;
            } else {
                tcore_txn_key(x, key);
                tcore_txn_meta(x, pin_fn, &q);
                rv = tcore_txn_commit(x, NULL);
                tcore_txn_free(x);
            }
        }
        free(q.blob);
        tcore_meta_free(&m);
        if (rv != CKR_FUNCTION_REJECTED) {
            return rv;
        }
    }
    return CKR_DEVICE_ERROR;
}

CK_RV tcore_token_init_pin(tcore_token *t, const uint8_t *pin, size_t pin_len)
{
    uint8_t *key;
    CK_RV rv;

    if (!pin_len_ok(pin, pin_len)) {
        return CKR_PIN_LEN_RANGE;
    }
    rv = tcore_token_key_copy(t, &key, NULL);
    if (rv != CKR_OK) {
        return rv;
    }
    rv = store_pin(t, CKU_USER, key, pin, pin_len);
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    return rv;
}

CK_RV tcore_token_set_pin(tcore_token *t, CK_USER_TYPE who, const uint8_t *old_pin,
                          size_t old_len, const uint8_t *new_pin, size_t new_len)
{
    uint8_t *key;
    CK_RV rv;

    if (!tcore_token_initialized(t)) {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    key = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    if (key == NULL) {
        return CKR_HOST_MEMORY;
    }
    rv = check_pin(t, who, old_pin, old_len, key, NULL);
    if (rv != CKR_OK) {
        goto out;
    }
    if (!pin_len_ok(new_pin, new_len)) {
        rv = CKR_PIN_LEN_RANGE;
        goto out;
    }
    rv = store_pin(t, who, key, new_pin, new_len);
out:
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    return rv;
}
