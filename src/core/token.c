/*
 * Tokens: the slot registry, token metadata, PINs and login state.
 *
 * Metadata record t/<tokid>/meta (big-endian):
 *   "TTM1" | u64 slot | label[32] | u8 so_failures | u8 user_failures |
 *   u32 blob_len | protector blob
 * The failure counters live in the store and every change goes through a
 * compare-and-swap on the record, so processes sharing the token directory
 * share the lockout (PKCS#11 3.0 §5.6 C_Login, CKF_*_PIN_LOCKED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"

#define META_MAGIC "TTM1"
#define CAS_RETRIES 16

typedef struct {
    CK_SLOT_ID slot;
    uint8_t label[32];
    uint8_t so_fail;
    uint8_t user_fail;
    uint8_t *blob;
    size_t blob_len;
    uint64_t mod_rev;
} tmeta;

uint64_t tcore_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void meta_free(tmeta *m)
{
    free(m->blob);
    m->blob = NULL;
}

static void meta_key(char *out, size_t outlen, const char *tokid)
{
    snprintf(out, outlen, "t/%s/meta", tokid);
}

static void slot_key(char *out, size_t outlen, CK_SLOT_ID slot)
{
    snprintf(out, outlen, "slot/%08lx", (unsigned long)slot);
}

static bool meta_decode(const uint8_t *buf, size_t len, tmeta *m)
{
    tc_reader r;
    const uint8_t *magic, *blob;
    uint64_t slot;
    uint32_t blen;
    tmeta t;

    memset(&t, 0, sizeof(t));
    tc_reader_init(&r, buf, len);
    if (!tc_read_ref(&r, 4, &magic) || memcmp(magic, META_MAGIC, 4) != 0 ||
        !tc_read_u64(&r, &slot) || !tc_read_copy(&r, t.label, 32) ||
        !tc_read_u8(&r, &t.so_fail) || !tc_read_u8(&r, &t.user_fail) ||
        !tc_read_u32(&r, &blen) || !tc_read_ref(&r, blen, &blob) || tc_reader_left(&r) != 0) {
        return false;
    }
    t.slot = (CK_SLOT_ID)slot;
    t.blob = malloc(blen ? blen : 1);
    if (t.blob == NULL) {
        return false;
    }
    memcpy(t.blob, blob, blen);
    t.blob_len = blen;
    *m = t;
    return true;
}

static void meta_encode(const tmeta *m, tc_buf *b)
{
    tc_buf_put(b, META_MAGIC, 4);
    tc_buf_put_u64(b, (uint64_t)m->slot);
    tc_buf_put(b, m->label, 32);
    tc_buf_put_u8(b, m->so_fail);
    tc_buf_put_u8(b, m->user_fail);
    tc_buf_put_u32(b, (uint32_t)m->blob_len);
    tc_buf_put(b, m->blob, m->blob_len);
}

static CK_RV meta_read(tcore_token *t, tmeta *m)
{
    char key[64];
    tstore_kv kv;
    tstore_rc src;

    meta_key(key, sizeof(key), t->id);
    src = tstore_get(t->set->store, key, strlen(key), &kv);
    if (src == TSTORE_NOT_FOUND) {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "token %s: reading metadata: %s", t->id, tstore_rc_str(src));
        return CKR_DEVICE_ERROR;
    }
    if (!meta_decode(kv.value, kv.value_len, m)) {
        TC_ERROR(TCORE_LOG, "token %s: metadata record is malformed", t->id);
        tstore_kv_free(&kv);
        return CKR_DEVICE_ERROR;
    }
    m->mod_rev = kv.mod_rev;
    tstore_kv_free(&kv);
    return CKR_OK;
}

/* Write m if the record is still at m->mod_rev. CKR_FUNCTION_REJECTED on a
 * lost race (the caller re-reads and retries). */
static CK_RV meta_write(tcore_token *t, const tmeta *m)
{
    char key[64];
    tc_buf b;
    tstore_rc src;
    CK_RV rv = CKR_OK;

    meta_key(key, sizeof(key), t->id);
    tc_buf_init(&b);
    meta_encode(m, &b);
    if (b.failed) {
        tc_buf_free(&b);
        return CKR_HOST_MEMORY;
    }
    tstore_cmp cmp = {key, strlen(key), m->mod_rev};
    tstore_op op = {TSTORE_OP_PUT, key, strlen(key), b.p, b.len};
    src = tstore_txn(t->set->store, &cmp, 1, &op, 1, NULL);
    if (src == TSTORE_CONFLICT) {
        rv = CKR_FUNCTION_REJECTED;
    } else if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "token %s: writing metadata: %s", t->id, tstore_rc_str(src));
        rv = CKR_DEVICE_ERROR;
    }
    tc_buf_free(&b);
    return rv;
}

/* Count a PIN failure (delta 1) or clear the counter (delta 0) for `who`. */
static CK_RV meta_count(tcore_token *t, CK_USER_TYPE who, bool failed)
{
    for (int i = 0; i < CAS_RETRIES; i++) {
        tmeta m;
        CK_RV rv = meta_read(t, &m);
        if (rv != CKR_OK) {
            return rv;
        }
        uint8_t *c = who == CKU_SO ? &m.so_fail : &m.user_fail;
        if (!failed && *c == 0) {
            meta_free(&m);
            return CKR_OK;
        }
        if (failed) {
            if (*c < 255) {
                (*c)++;
            }
        } else {
            *c = 0;
        }
        rv = meta_write(t, &m);
        meta_free(&m);
        if (rv != CKR_FUNCTION_REJECTED) {
            return rv;
        }
    }
    return CKR_DEVICE_ERROR;
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
    t->who = TCORE_NOBODY;
    atomic_init(&t->epoch, 1);
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
    t->who = TCORE_NOBODY;
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
    if (protector != NULL) {
        ts->prot = *protector;
    } else {
        rv = tcore_protector_pin(NULL, &ts->prot);
        if (rv != CKR_OK) {
            tcore_tokens_close(ts);
            return rv;
        }
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

CK_RV tcore_tokens_open(const char *data_dir, const tcore_protector *protector,
                        tcore_tokens **out)
{
    char path[4096];
    tstore *s = NULL;
    tstore_rc src;

    if (data_dir == NULL || snprintf(path, sizeof(path), "%s/tessera.db", data_dir) >=
                                (int)sizeof(path)) {
        if (protector != NULL && protector->destroy != NULL) {
            protector->destroy(protector->ctx);
        }
        return CKR_ARGUMENTS_BAD;
    }
    if (!tc_mkdirs(data_dir, 0700)) {
        TC_ERROR(TCORE_LOG, "cannot create the data directory %s", data_dir);
    }
    src = tstore_open(path, &s);
    if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "cannot open the token store %s: %s", path, tstore_rc_str(src));
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

static void pad_copy(CK_UTF8CHAR *dst, size_t dlen, const char *src)
{
    size_t n = strlen(src);
    memset(dst, ' ', dlen);
    memcpy(dst, src, n < dlen ? n : dlen);
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
    tmeta m;
    CK_RV rv;

    memset(&ti, 0, sizeof(ti));
    pad_copy(ti.label, sizeof(ti.label), "");
    pad_copy(ti.manufacturerID, sizeof(ti.manufacturerID), "Tessera");
    pad_copy(ti.model, sizeof(ti.model), "embedded");
    pad_copy(ti.serialNumber, sizeof(ti.serialNumber), "");
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
        rv = meta_read(t, &m);
        if (rv != CKR_OK) {
            return rv;
        }
        memcpy(ti.label, m.label, sizeof(ti.label));
        pad_copy(ti.serialNumber, sizeof(ti.serialNumber), t->id);
        ti.flags |= CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_RESTORE_KEY_NOT_NEEDED;
        if (t->set->prot.has_pin(t->set->prot.ctx, m.blob, m.blob_len, CKU_USER)) {
            ti.flags |= CKF_USER_PIN_INITIALIZED;
        }
        ti.flags |= count_flags(m.user_fail, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                                CKF_USER_PIN_LOCKED);
        ti.flags |= count_flags(m.so_fail, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
                                CKF_SO_PIN_LOCKED);
        meta_free(&m);
    }
    *info = ti;
    return CKR_OK;
}

static bool pin_len_ok(const uint8_t *pin, size_t len)
{
    return (pin != NULL || len == 0) && len >= TCORE_PIN_MIN_LEN && len <= TCORE_PIN_MAX_LEN;
}

/* Check `who`'s PIN against the stored blob, counting the result. On success
 * key (secure, TCORE_TOKEN_KEY_LEN) holds the token key and *m the metadata
 * (meta_free it). */
static CK_RV check_pin(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin, size_t pin_len,
                       uint8_t *key, tmeta *mout)
{
    tmeta m;
    CK_RV rv = meta_read(t, &m);
    if (rv != CKR_OK) {
        return rv;
    }
    if ((who == CKU_SO ? m.so_fail : m.user_fail) >= TCORE_PIN_MAX_TRIES) {
        meta_free(&m);
        return CKR_PIN_LOCKED;
    }
    if (who == CKU_USER && !t->set->prot.has_pin(t->set->prot.ctx, m.blob, m.blob_len, CKU_USER)) {
        meta_free(&m);
        return CKR_USER_PIN_NOT_INITIALIZED;
    }
    if (!pin_len_ok(pin, pin_len)) {
        rv = CKR_PIN_INCORRECT;
    } else {
        rv = t->set->prot.unlock(t->set->prot.ctx, t->id, m.blob, m.blob_len, who, pin, pin_len,
                                 key);
    }
    if (rv == CKR_PIN_INCORRECT) {
        CK_RV crv = meta_count(t, who, true);
        meta_free(&m);
        return crv != CKR_OK ? crv : CKR_PIN_INCORRECT;
    }
    if (rv != CKR_OK) {
        meta_free(&m);
        return rv;
    }
    if ((who == CKU_SO ? m.so_fail : m.user_fail) != 0) {
        rv = meta_count(t, who, false);
        if (rv != CKR_OK) {
            tc_wipe(key, TCORE_TOKEN_KEY_LEN);
            meta_free(&m);
            return rv;
        }
        meta_free(&m);
        rv = meta_read(t, &m);
        if (rv != CKR_OK) {
            tc_wipe(key, TCORE_TOKEN_KEY_LEN);
            return rv;
        }
    }
    if (mout != NULL) {
        *mout = m;
    } else {
        meta_free(&m);
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
    char id[17], skey[32], mkey[64];
    uint8_t *key = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    tmeta m;
    tc_buf b;
    CK_RV rv;
    tstore_rc src;

    memset(&m, 0, sizeof(m));
    tc_buf_init(&b);
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
    m.slot = t->slot;
    memcpy(m.label, label, 32);
    meta_encode(&m, &b);
    if (b.failed) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    slot_key(skey, sizeof(skey), t->slot);
    meta_key(mkey, sizeof(mkey), id);
    tstore_cmp cmp = {skey, strlen(skey), 0};
    tstore_op ops[2] = {
        {TSTORE_OP_PUT, skey, strlen(skey), id, 16},
        {TSTORE_OP_PUT, mkey, strlen(mkey), b.p, b.len},
    };
    src = tstore_txn(ts->store, &cmp, 1, ops, 2, NULL);
    if (src == TSTORE_CONFLICT) {
        TC_WARN(TCORE_LOG, "slot %lu was initialised by another process", (unsigned long)t->slot);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "initialising slot %lu: %s", (unsigned long)t->slot,
                 tstore_rc_str(src));
        rv = CKR_DEVICE_ERROR;
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
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    meta_free(&m);
    tc_buf_free(&b);
    return rv;
}

/* Re-initialise an existing token: PKCS#11 3.0 §5.6 C_InitToken — objects
 * destroyed, user PIN uninitialised, new label. One transaction. */
static CK_RV init_again(tcore_token *t, const uint8_t *so_pin, size_t so_pin_len,
                        const uint8_t label[32])
{
    tcore_tokens *ts = t->set;
    uint8_t *key = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    tmeta m, nm;
    tc_buf b;
    CK_RV rv;
    char prefix[64], mkey[64];
    tstore_kv *kvs = NULL;
    size_t n = 0;
    tstore_op *ops = NULL;
    tstore_rc src;

    memset(&m, 0, sizeof(m));
    memset(&nm, 0, sizeof(nm));
    tc_buf_init(&b);
    if (key == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = check_pin(t, CKU_SO, so_pin, so_pin_len, key, &m);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = ts->prot.create(ts->prot.ctx, t->id, so_pin, so_pin_len, key, &nm.blob, &nm.blob_len);
    if (rv != CKR_OK) {
        goto out;
    }
    nm.slot = t->slot;
    memcpy(nm.label, label, 32);
    meta_encode(&nm, &b);
    if (b.failed) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    /* every key under t/<id>/ except the metadata: objects and indexes */
    snprintf(prefix, sizeof(prefix), "t/%s/", t->id);
    src = tstore_range(ts->store, prefix, strlen(prefix), 0, &kvs, &n);
    if (src != TSTORE_OK) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    ops = calloc(n + 1, sizeof(*ops));
    if (ops == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    meta_key(mkey, sizeof(mkey), t->id);
    size_t nops = 0;
    for (size_t i = 0; i < n; i++) {
        if (kvs[i].key_len == strlen(mkey) && memcmp(kvs[i].key, mkey, kvs[i].key_len) == 0) {
            continue;
        }
        ops[nops].type = TSTORE_OP_DELETE;
        ops[nops].key = kvs[i].key;
        ops[nops].key_len = kvs[i].key_len;
        nops++;
    }
    ops[nops].type = TSTORE_OP_PUT;
    ops[nops].key = mkey;
    ops[nops].key_len = strlen(mkey);
    ops[nops].value = b.p;
    ops[nops].value_len = b.len;
    nops++;
    tstore_cmp cmp = {mkey, strlen(mkey), m.mod_rev};
    src = tstore_txn(ts->store, &cmp, 1, ops, nops, NULL);
    if (src == TSTORE_CONFLICT) {
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "token %s: re-initialising: %s", t->id, tstore_rc_str(src));
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    pthread_mutex_lock(&t->lock);
    token_logout_locked(t);
    pthread_mutex_unlock(&t->lock);
    tcore_cache_drop_all(t);
    TC_INFO(TCORE_LOG, "token %s re-initialised", t->id);
    rv = CKR_OK;
out:
    free(ops);
    tstore_kvs_free(kvs, n);
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    meta_free(&m);
    meta_free(&nm);
    tc_buf_free(&b);
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

CK_USER_TYPE tcore_token_login_state(tcore_token *t)
{
    CK_USER_TYPE who;
    pthread_mutex_lock(&t->lock);
    who = t->who;
    pthread_mutex_unlock(&t->lock);
    return who;
}

CK_RV tcore_token_login(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin, size_t pin_len)
{
    CK_USER_TYPE cur;
    uint8_t *key;
    CK_RV rv;

    if (!tcore_token_initialized(t)) {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    if (who != CKU_SO && who != CKU_USER && who != CKU_CONTEXT_SPECIFIC) {
        return CKR_USER_TYPE_INVALID;
    }
    cur = tcore_token_login_state(t);
    if (who == CKU_CONTEXT_SPECIFIC) {
        if (cur == TCORE_NOBODY) {
            return CKR_USER_NOT_LOGGED_IN;
        }
        who = cur;
    } else if (cur == who) {
        return CKR_USER_ALREADY_LOGGED_IN;
    } else if (cur != TCORE_NOBODY) {
        return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    }
    key = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    if (key == NULL) {
        return CKR_HOST_MEMORY;
    }
    rv = check_pin(t, who, pin, pin_len, key, NULL);
    if (rv != CKR_OK) {
        tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
        return rv;
    }
    pthread_mutex_lock(&t->lock);
    if (t->who == TCORE_NOBODY) {
        t->who = who;
        t->key = key;
        key = NULL;
    } else if (t->who != who) {
        /* another thread logged in as the other role meanwhile */
        rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    }
    pthread_mutex_unlock(&t->lock);
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    return rv;
}

CK_RV tcore_token_logout(tcore_token *t)
{
    pthread_mutex_lock(&t->lock);
    if (t->who == TCORE_NOBODY) {
        pthread_mutex_unlock(&t->lock);
        return CKR_USER_NOT_LOGGED_IN;
    }
    token_logout_locked(t);
    pthread_mutex_unlock(&t->lock);
    tcore_cache_drop_all(t);
    return CKR_OK;
}

/* Store a new protector entry for `who` (PIN change), resetting its counter. */
static CK_RV store_pin(tcore_token *t, CK_USER_TYPE who, const uint8_t *key, const uint8_t *pin,
                       size_t pin_len)
{
    for (int i = 0; i < CAS_RETRIES; i++) {
        tmeta m;
        uint8_t *nb = NULL;
        size_t nlen = 0;
        CK_RV rv = meta_read(t, &m);
        if (rv != CKR_OK) {
            return rv;
        }
        rv = t->set->prot.set_pin(t->set->prot.ctx, t->id, m.blob, m.blob_len, who, key, pin,
                                  pin_len, &nb, &nlen);
        if (rv != CKR_OK) {
            meta_free(&m);
            return rv;
        }
        free(m.blob);
        m.blob = nb;
        m.blob_len = nlen;
        if (who == CKU_SO) {
            m.so_fail = 0;
        } else {
            m.user_fail = 0;
        }
        rv = meta_write(t, &m);
        meta_free(&m);
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

    if (tcore_token_login_state(t) != CKU_SO) {
        return CKR_USER_NOT_LOGGED_IN;
    }
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

CK_RV tcore_token_set_pin(tcore_token *t, const uint8_t *old_pin, size_t old_len,
                          const uint8_t *new_pin, size_t new_len)
{
    CK_USER_TYPE who;
    uint8_t *key;
    CK_RV rv;

    if (!tcore_token_initialized(t)) {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    who = tcore_token_login_state(t) == CKU_SO ? CKU_SO : CKU_USER;
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
