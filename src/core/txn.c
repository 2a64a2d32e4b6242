/*
 * The one commit seam of the core (API in core_int.h): every write to a
 * token's keys is built here and committed by tcore_txn_commit, which adds
 * to it what every write carries — the token's metadata with its generation
 * advanced and its counts adjusted, the metadata's witness, the check that
 * the sealing key is still the token's key, the anchor — so that no write
 * path can forget one of them.
 *
 * The metadata key is compared in every commit, so commits to one token are
 * serialised through it: in this process by txn_lock, across processes by
 * the store's compare-and-swap (a commit that lost the race re-reads the
 * metadata and tries again; the caller's own comparisons decide whether the
 * request itself is still valid).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"

#define TXN_ATTEMPTS 200

typedef struct {
    char *key;
    uint64_t mod_rev;
} txn_cmp;

typedef struct {
    tstore_op_type type;
    char *key;
    uint8_t *value;
    size_t len;
} txn_op;

struct tcore_txn {
    tcore_token *t;
    bool failed; /* an allocation failed while building */
    txn_cmp *cmps;
    size_t ncmp, capc;
    txn_op *ops;
    size_t nops, capo;
    int64_t dobj, dix;
    bool have_key_id;
    uint8_t key_id[TCORE_KEY_ID_LEN];
    CK_RV (*meta_fn)(tcore_meta *m, void *ctx);
    void *meta_ctx;
    bool clear;
    bool replace;
    char rtokid[17];
    tcore_meta rmeta;
    uint64_t expect_rev;
};

tcore_txn *tcore_txn_new(tcore_token *t)
{
    tcore_txn *x = calloc(1, sizeof(*x));
    if (x != NULL) {
        x->t = t;
    }
    return x;
}

void tcore_txn_free(tcore_txn *x)
{
    if (x == NULL) {
        return;
    }
    for (size_t i = 0; i < x->ncmp; i++) {
        free(x->cmps[i].key);
    }
    for (size_t i = 0; i < x->nops; i++) {
        free(x->ops[i].key);
        if (x->ops[i].value != NULL) {
            tc_wipe(x->ops[i].value, x->ops[i].len);
            free(x->ops[i].value);
        }
    }
    free(x->cmps);
    free(x->ops);
    tcore_meta_free(&x->rmeta);
    tc_wipe(x, sizeof(*x));
    free(x);
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) {
        return true;
    }
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(*v, nc * size);
    if (p == NULL) {
        return false;
    }
    *v = p;
    *cap = nc;
    return true;
}

void tcore_txn_cmp(tcore_txn *x, const char *key, uint64_t mod_rev)
{
    if (x->failed || !grow((void **)&x->cmps, &x->capc, x->ncmp, sizeof(*x->cmps))) {
        x->failed = true;
        return;
    }
    char *k = strdup(key);
    if (k == NULL) {
        x->failed = true;
        return;
    }
    x->cmps[x->ncmp++] = (txn_cmp){k, mod_rev};
}

static void add_op(tcore_txn *x, tstore_op_type type, const char *key, const void *value,
                   size_t len)
{
    if (x->failed || !grow((void **)&x->ops, &x->capo, x->nops, sizeof(*x->ops))) {
        x->failed = true;
        return;
    }
    char *k = strdup(key);
    uint8_t *v = NULL;
    if (type == TSTORE_OP_PUT) {
        v = malloc(len ? len : 1);
        if (v != NULL && len > 0) {
            memcpy(v, value, len);
        }
    }
    if (k == NULL || (type == TSTORE_OP_PUT && v == NULL)) {
        free(k);
        free(v);
        x->failed = true;
        return;
    }
    x->ops[x->nops++] = (txn_op){type, k, v, len};
}

void tcore_txn_put(tcore_txn *x, const char *key, const void *value, size_t len)
{
    add_op(x, TSTORE_OP_PUT, key, value, len);
}

void tcore_txn_del(tcore_txn *x, const char *key)
{
    add_op(x, TSTORE_OP_DELETE, key, NULL, 0);
}

void tcore_txn_count(tcore_txn *x, int64_t d_objects, int64_t d_index_rows)
{
    x->dobj += d_objects;
    x->dix += d_index_rows;
}

void tcore_txn_key(tcore_txn *x, const uint8_t *token_key)
{
    if (token_key == NULL) {
        return;
    }
    if (tcore_key_id(token_key, x->key_id) != CKR_OK) {
        x->failed = true;
        return;
    }
    x->have_key_id = true;
}

void tcore_txn_meta(tcore_txn *x, CK_RV (*fn)(tcore_meta *m, void *ctx), void *ctx)
{
    x->meta_fn = fn;
    x->meta_ctx = ctx;
}

void tcore_txn_clear_token(tcore_txn *x)
{
    x->clear = true;
}

void tcore_txn_meta_replace(tcore_txn *x, const char *tokid, const tcore_meta *m,
                            uint64_t expect_rev)
{
    tcore_meta_free(&x->rmeta);
    x->rmeta = *m;
    x->rmeta.blob = malloc(m->blob_len ? m->blob_len : 1);
    if (x->rmeta.blob == NULL) {
        x->failed = true;
        return;
    }
    memcpy(x->rmeta.blob, m->blob, m->blob_len);
    snprintf(x->rtokid, sizeof(x->rtokid), "%s", tokid);
    x->expect_rev = expect_rev;
    x->replace = true;
}

static bool is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

static bool op_has_key(const tcore_txn *x, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < x->nops; i++) {
        if (strlen(x->ops[i].key) == len && memcmp(x->ops[i].key, key, len) == 0) {
            return true;
        }
    }
    return false;
}

/* A short random pause before retrying a lost race with another process. */
static void backoff(int attempt)
{
    uint8_t r = 0;
    if (attempt < 2 || tcrypto_random(&r, 1) != TCRYPTO_OK) {
        return;
    }
    struct timespec ts = {0, (long)(r % 32 + 1) * 50000L * (attempt < 20 ? 1 : 4)};
    nanosleep(&ts, NULL);
}

/* One attempt; CKR_FUNCTION_REJECTED with *meta_moved when the metadata
 * changed under us (retry). */
static CK_RV attempt_once(tcore_txn *x, const char *tokid, uint64_t *rev, uint64_t *gen_out,
                          bool *meta_moved)
{
    tcore_token *t = x->t;
    tstore *st = t->set->store;
    tcore_meta m;
    char mkey[64], hkey[64], prefix[64];
    tc_buf mb, hb;
    tstore_kv *kvs = NULL;
    size_t nkv = 0;
    tstore_op *ops = NULL;
    tstore_cmp *cmps = NULL;
    uint64_t meta_rev;
    CK_RV rv;

    *meta_moved = false;
    memset(&m, 0, sizeof(m));
    tc_buf_init(&mb);
    tc_buf_init(&hb);
    tcore_key_meta(mkey, sizeof(mkey), tokid);
    tcore_key_head(hkey, sizeof(hkey), tokid);
    if (x->replace) {
        m = x->rmeta; /* borrowed: not freed below */
        meta_rev = x->expect_rev;
    } else {
        rv = tcore_meta_fetch(t, &m);
        if (rv != CKR_OK) {
            return rv;
        }
        meta_rev = m.mod_rev;
        if (x->have_key_id && !is_zero(m.key_id, TCORE_KEY_ID_LEN) &&
            !tcrypto_memeq(m.key_id, x->key_id, TCORE_KEY_ID_LEN)) {
            TC_ERROR(TCORE_LOG,
                     "token %s: re-initialised since this process unlocked its key; nothing "
                     "written",
                     tokid);
            rv = CKR_TOKEN_NOT_RECOGNIZED;
            goto out;
        }
        int64_t nobj = (int64_t)m.nobj + x->dobj, nix = (int64_t)m.nix + x->dix;
        if (nobj < 0 || nix < 0) {
            TC_ERROR(TCORE_LOG, "token %s: object or index counts would fall below zero", tokid);
            nobj = nobj < 0 ? 0 : nobj;
            nix = nix < 0 ? 0 : nix;
        }
        m.nobj = (uint64_t)nobj;
        m.nix = (uint64_t)nix;
        if (x->meta_fn != NULL) {
            rv = x->meta_fn(&m, x->meta_ctx);
            if (rv != CKR_OK) {
                goto out;
            }
        }
        m.gen++;
    }
    rv = tcore_meta_encode(&m, tokid, t->set->ik, &mb);
    if (rv == CKR_OK) {
        rv = tcore_head_encode(tokid, t->set->ik, m.gen, mb.p, mb.len, &hb);
    }
    if (rv != CKR_OK) {
        goto out;
    }
    if (x->clear) {
        snprintf(prefix, sizeof(prefix), "t/%s/", tokid);
        tstore_rc src = tstore_range(st, prefix, strlen(prefix), 0, &kvs, &nkv);
        if (src != TSTORE_OK) {
            TC_ERROR(TCORE_LOG, "token %s: listing its keys: %s", tokid, tstore_rc_str(src));
            rv = CKR_DEVICE_ERROR;
            goto out;
        }
    }
    ops = calloc(x->nops + nkv + 2, sizeof(*ops));
    cmps = calloc(x->ncmp + 1, sizeof(*cmps));
    if (ops == NULL || cmps == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    size_t nops = 0, ncmp = 0;
    for (size_t i = 0; i < nkv; i++) {
        if ((kvs[i].key_len == strlen(mkey) && memcmp(kvs[i].key, mkey, kvs[i].key_len) == 0) ||
            (kvs[i].key_len == strlen(hkey) && memcmp(kvs[i].key, hkey, kvs[i].key_len) == 0) ||
            op_has_key(x, kvs[i].key, kvs[i].key_len)) {
            continue;
        }
        ops[nops++] = (tstore_op){TSTORE_OP_DELETE, kvs[i].key, kvs[i].key_len, NULL, 0};
    }
    for (size_t i = 0; i < x->nops; i++) {
        ops[nops++] = (tstore_op){x->ops[i].type, x->ops[i].key, strlen(x->ops[i].key),
                                  x->ops[i].value, x->ops[i].len};
    }
    ops[nops++] = (tstore_op){TSTORE_OP_PUT, mkey, strlen(mkey), mb.p, mb.len};
    ops[nops++] = (tstore_op){TSTORE_OP_PUT, hkey, strlen(hkey), hb.p, hb.len};
    for (size_t i = 0; i < x->ncmp; i++) {
        cmps[ncmp++] = (tstore_cmp){x->cmps[i].key, strlen(x->cmps[i].key), x->cmps[i].mod_rev};
    }
    cmps[ncmp++] = (tstore_cmp){mkey, strlen(mkey), meta_rev};

    tstore_rc src = tstore_txn(st, cmps, ncmp, ops, nops, rev);
    switch (src) {
    case TSTORE_OK:
        *gen_out = m.gen;
        rv = CKR_OK;
        break;
    case TSTORE_CONFLICT: {
        /* whose comparison failed: the metadata's (retry) or the caller's */
        tstore_kv kv;
        tstore_rc g = tstore_get(st, mkey, strlen(mkey), &kv);
        uint64_t now = g == TSTORE_OK ? kv.mod_rev : 0;
        if (g == TSTORE_OK) {
            tstore_kv_free(&kv);
        }
        *meta_moved = !x->replace && (g == TSTORE_OK || g == TSTORE_NOT_FOUND) &&
                      now != meta_rev;
        rv = CKR_FUNCTION_REJECTED;
        break;
    }
    case TSTORE_BUSY:
        TC_ERROR(TCORE_LOG, "token %s: the store stayed locked by another writer for more "
                            "than %d ms; nothing written",
                 tokid, TSTORE_WRITE_WAIT_MS);
        rv = CKR_FUNCTION_FAILED;
        break;
    default:
        TC_ERROR(TCORE_LOG, "token %s: commit: %s", tokid, tstore_rc_str(src));
        rv = CKR_DEVICE_ERROR;
        break;
    }
out:
    free(ops);
    free(cmps);
    tstore_kvs_free(kvs, nkv);
    tc_buf_free(&mb);
    tc_buf_free(&hb);
    if (!x->replace) {
        tcore_meta_free(&m);
    }
    return rv;
}

CK_RV tcore_txn_commit(tcore_txn *x, uint64_t *rev)
{
    tcore_token *t = x->t;
    tcore_tokens *ts = t->set;
    const char *tokid = x->replace ? x->rtokid : t->id;
    uint64_t r = 0, gen = 0;
    CK_RV rv = CKR_OK;

    if (x->failed) {
        return CKR_HOST_MEMORY;
    }
    if (tokid[0] == '\0') {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    if (!x->replace) {
        rv = tcore_meta_ensure_v2(t);
        if (rv != CKR_OK) {
            return rv;
        }
    }
    pthread_mutex_lock(&ts->txn_lock);
    for (int i = 0; i < TXN_ATTEMPTS; i++) {
        bool moved = false;
        backoff(i);
        rv = attempt_once(x, tokid, &r, &gen, &moved);
        if (rv != CKR_FUNCTION_REJECTED || !moved) {
            break;
        }
    }
    if (rv == CKR_FUNCTION_REJECTED) {
        TC_INFO(TCORE_LOG, "token %s: commit lost a race (a compared key changed)", tokid);
    }
    if (rv == CKR_OK && ts->anchor != NULL &&
        ts->anchor->advance(ts->anchor->ctx, tokid, gen) != CKR_OK) {
        /* committed; the anchor lags, which a later check tolerates (it
         * only refuses metadata older than the anchor) */
        TC_ERROR(TCORE_LOG, "token %s: the anchor could not be advanced to %llu", tokid,
                 (unsigned long long)gen);
    }
    pthread_mutex_unlock(&ts->txn_lock);
    if (rv == CKR_OK) {
        if (strcmp(tokid, t->id) == 0) {
            tcore_meta_note_gen(t, gen);
            atomic_store(&t->fmt, 2);
        }
        if (rev != NULL) {
            *rev = r;
        }
    }
    return rv;
}
