/*
 * Migration of a token from store format v1 to v2, in place.
 *
 * v1: metadata "TTM1" without a MAC, records "TSO1" with CK_ULONG values in
 * host byte order, CKA_CLASS index keys in host byte order, no manifest.
 *
 * Step 1 (tcore_migrate_open, on the first use of the token, no key needed),
 * one commit: the v2 metadata (generation 1, counts), its witness, a
 * manifest entry for every record, the CKA_CLASS index keys rewritten
 * big-endian, and every unsealed record rewritten as v2. Sealed records
 * (private objects, keys, public objects stored while logged in) need the
 * token key: their manifest entries vouch for the v1 bytes as found, and
 * the metadata is flagged TCORE_META_V1_SEALED.
 * Step 2 (tcore_migrate_sealed, after the first successful PIN check), one
 * commit: every sealed v1 record opened with the key and rewritten as v2,
 * new manifest entries, the key id recorded, the flag cleared.
 *
 * The state found at step 1 is trusted as it is (v1 offers nothing to check
 * it against); from then on nothing unvouched is served. A store left half
 * way (a crash) is either still v1 or v2 with the flag set: each step is one
 * commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#define OBJID_HEX 16

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* How many of the sorted ids equal id. */
static uint32_t count_of(const uint64_t *ids, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    uint32_t c = 0;
    while (lo < n && ids[lo] == id) {
        c++;
        lo++;
    }
    return c;
}

/* A v1 CKA_CLASS index key "t/<tok>/ix/00000000/p/<host-order hex>/<objid>"
 * as its v2 form, or NULL when the key is not one. malloc'd. */
static char *class_key_v2(const char *tokid, const uint8_t *key, size_t len)
{
    char prefix[64];
    size_t hexlen = 2 * sizeof(CK_ULONG);
    int pl = snprintf(prefix, sizeof(prefix), "t/%s/ix/%08lx/p/", tokid,
                      (unsigned long)CKA_CLASS);
    if (pl <= 0 || len != (size_t)pl + hexlen + 1 + OBJID_HEX ||
        memcmp(key, prefix, (size_t)pl) != 0) {
        return NULL;
    }
    uint8_t raw[sizeof(CK_ULONG)];
    for (size_t i = 0; i < sizeof(raw); i++) {
        char h[3] = {(char)key[pl + 2 * i], (char)key[pl + 2 * i + 1], 0};
        char *end;
        raw[i] = (uint8_t)strtoul(h, &end, 16);
        if (*end != '\0') {
            return NULL;
        }
    }
    CK_ULONG v;
    memcpy(&v, raw, sizeof(v));
    char *out = malloc(len + 32);
    if (out == NULL) {
        return NULL;
    }
    snprintf(out, len + 32, "%s%016llx/%.*s", prefix, (unsigned long long)v, OBJID_HEX,
             (const char *)key + len - OBJID_HEX);
    return out;
}

static CK_RV put_entry(tcore_txn *x, tcore_token *t, uint64_t id, uint8_t version,
                       uint64_t serial, uint64_t gen, uint32_t nix, const uint8_t *rec,
                       size_t rec_len)
{
    tcore_mf e = {version, serial, gen, nix, {0}};
    return tcore_mf_put(x, t, id, &e, rec, rec_len);
}

/* The loaded v1 object o rewritten as a v2 record (serial 1, sealed under
 * key if given) in place of the one at kv, with its manifest entry. */
static CK_RV put_rewritten(tcore_txn *x, tcore_obj *o, const uint8_t *key, const tstore_kv *kv,
                           uint64_t gen, uint32_t nix)
{
    tc_buf b;
    tc_buf_init(&b);
    o->rec_serial = 1;
    CK_RV rv = tcore_record_build(o, key, &b);
    if (rv == CKR_OK) {
        char *k = strndup((const char *)kv->key, kv->key_len);
        if (k == NULL) {
            rv = CKR_HOST_MEMORY;
        } else {
            tcore_txn_put(x, k, b.p, b.len);
            tcore_txn_cmp(x, k, kv->mod_rev);
            rv = put_entry(x, o->token, o->id, 2, 1, gen, nix, b.p, b.len);
            free(k);
        }
    }
    tc_buf_free(&b);
    return rv;
}

CK_RV tcore_migrate_open(tcore_token *t)
{
    char prefix[64], mkey[64];
    tstore_kv *kvs = NULL;
    size_t n = 0, nids = 0, nrec = 0, nix = 0;
    uint64_t *ids = NULL;
    tcore_meta m;
    tcore_txn *x = NULL;
    bool sealed_left = false;
    const tstore_kv *meta_kv = NULL;
    CK_RV rv = CKR_OK;

    memset(&m, 0, sizeof(m));
    snprintf(prefix, sizeof(prefix), "t/%s/", t->id);
    tcore_key_meta(mkey, sizeof(mkey), t->id);
    tstore_rc src = tstore_range(t->set->store, prefix, strlen(prefix), 0, &kvs, &n);
    if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "token %s: reading it to migrate: %s", t->id, tstore_rc_str(src));
        return CKR_DEVICE_ERROR;
    }
    size_t ixp = strlen(prefix) + 3; /* "ix/" */
    size_t op = strlen(prefix) + 2;  /* "o/" */
    for (size_t i = 0; i < n; i++) {
        if (kvs[i].key_len == strlen(mkey) && memcmp(kvs[i].key, mkey, kvs[i].key_len) == 0) {
            meta_kv = &kvs[i];
        }
    }
    if (meta_kv == NULL) {
        rv = CKR_TOKEN_NOT_RECOGNIZED;
        goto out;
    }
    if (!tcore_meta_decode(meta_kv->value, meta_kv->value_len, &m, NULL)) {
        TC_ERROR(TCORE_LOG, "token %s: metadata record is malformed", t->id);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (m.version != 1) {
        goto out; /* migrated meanwhile */
    }
    ids = calloc(n + 1, sizeof(*ids));
    x = tcore_txn_new(t);
    if (ids == NULL || x == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    /* index rows: who they belong to, and the class keys to rewrite */
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        if (kvs[i].key_len <= ixp || memcmp(kvs[i].key, prefix, strlen(prefix)) != 0 ||
            memcmp(kvs[i].key + strlen(prefix), "ix/", 3) != 0) {
            continue;
        }
        nix++;
        if (tcore_key_obj_id(kvs[i].key, kvs[i].key_len, &id)) {
            ids[nids++] = id;
        }
        char *nk = class_key_v2(t->id, kvs[i].key, kvs[i].key_len);
        if (nk != NULL) {
            char *ok = strndup((const char *)kvs[i].key, kvs[i].key_len);
            if (ok == NULL) {
                free(nk);
                rv = CKR_HOST_MEMORY;
                goto out;
            }
            if (strcmp(ok, nk) != 0) {
                tcore_txn_del(x, ok);
                tcore_txn_put(x, nk, "", 0);
            }
            free(ok);
            free(nk);
        }
    }
    qsort(ids, nids, sizeof(*ids), cmp_u64);
    /* records */
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        tcore_record rec;
        if (kvs[i].key_len <= op || memcmp(kvs[i].key + strlen(prefix), "o/", 2) != 0 ||
            !tcore_key_obj_id(kvs[i].key, kvs[i].key_len, &id)) {
            continue;
        }
        if (tcore_record_decode(kvs[i].value, kvs[i].value_len, &rec) != CKR_OK) {
            /* left without an entry: refused from now on, as it was unreadable */
            TC_ERROR(TCORE_LOG, "token %s: object %016llx: malformed record not migrated", t->id,
                     (unsigned long long)id);
            continue;
        }
        bool sealed = (rec.flags & TCORE_REC_SEALED) != 0;
        uint32_t version = rec.version;
        tcore_record_free(&rec);
        uint32_t nrows = count_of(ids, nids, id);
        nrec++;
        if (sealed || version == 2) {
            sealed_left = sealed_left || (sealed && version == 1);
            rv = put_entry(x, t, id, (uint8_t)version, 0, 1, nrows, kvs[i].value,
                           kvs[i].value_len);
            if (rv != CKR_OK) {
                goto out;
            }
            continue;
        }
        /* an unsealed v1 record: rewritten as v2 now */
        tcore_obj *o = NULL;
        rv = tcore_record_load(t, kvs[i].value, kvs[i].value_len, kvs[i].mod_rev, id, &o);
        if (rv != CKR_OK || o->broken) {
            TC_ERROR(TCORE_LOG, "token %s: object %016llx: unreadable record not migrated",
                     t->id, (unsigned long long)id);
            if (o != NULL) {
                tcore_obj_unref(o);
            }
            nrec--;
            rv = CKR_OK;
            continue;
        }
        rv = put_rewritten(x, o, NULL, &kvs[i], 1, nrows);
        tcore_obj_unref(o);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    m.version = 2;
    m.gen = 1;
    memset(m.key_id, 0, sizeof(m.key_id));
    m.flags = sealed_left ? TCORE_META_V1_SEALED : 0;
    m.nobj = nrec;
    m.nix = nix;
    tcore_txn_meta_replace(x, t->id, &m, meta_kv->mod_rev);
    rv = tcore_txn_commit(x, NULL);
    if (rv == CKR_OK) {
        TC_INFO(TCORE_LOG, "token %s: store migrated to format v2 (%zu objects%s)", t->id, nrec,
                sealed_left ? ", sealed records at the next login" : "");
    }
out:
    tcore_txn_free(x);
    free(ids);
    tcore_meta_free(&m);
    tstore_kvs_free(kvs, n);
    return rv;
}

typedef struct {
    uint8_t key_id[TCORE_KEY_ID_LEN];
} sealed_req;

static CK_RV sealed_fn(tcore_meta *m, void *ctx)
{
    const sealed_req *q = ctx;
    m->flags &= ~TCORE_META_V1_SEALED;
    memcpy(m->key_id, q->key_id, TCORE_KEY_ID_LEN);
    return CKR_OK;
}

CK_RV tcore_migrate_sealed(tcore_token *t, const uint8_t *token_key)
{
    char prefix[64];
    tstore_kv *kvs = NULL;
    size_t n = 0, done = 0;
    tcore_txn *x = NULL;
    tcore_meta m;
    sealed_req q;
    CK_RV rv;

    rv = tcore_meta_load(t, &m);
    if (rv != CKR_OK) {
        return rv;
    }
    uint64_t gen = m.gen + 1;
    uint8_t zero[TCORE_KEY_ID_LEN] = {0};
    bool need = (m.flags & TCORE_META_V1_SEALED) != 0 || memcmp(m.key_id, zero, sizeof(zero)) == 0;
    tcore_meta_free(&m);
    if (!need) {
        return CKR_OK;
    }
    rv = tcore_key_id(token_key, q.key_id);
    if (rv != CKR_OK) {
        return rv;
    }
    x = tcore_txn_new(t);
    if (x == NULL) {
        return CKR_HOST_MEMORY;
    }
    snprintf(prefix, sizeof(prefix), "t/%s/o/", t->id);
    tstore_rc src = tstore_range(t->set->store, prefix, strlen(prefix), 0, &kvs, &n);
    if (src != TSTORE_OK) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        char mkey[64];
        tstore_kv mv;
        tcore_mf e;
        tcore_obj *o = NULL;

        if (!tcore_key_obj_id(kvs[i].key, kvs[i].key_len, &id) || kvs[i].value_len < 4 ||
            memcmp(kvs[i].value, "TSO1", 4) != 0) {
            continue;
        }
        /* only what the manifest vouches for is carried over */
        tcore_key_mf(mkey, sizeof(mkey), t->id, id);
        if (tstore_get(t->set->store, mkey, strlen(mkey), &mv) != TSTORE_OK) {
            continue;
        }
        CK_RV crv = tcore_mf_check(t, id, mv.value, mv.value_len, kvs[i].value,
                                   kvs[i].value_len, &e);
        tstore_kv_free(&mv);
        if (crv != CKR_OK) {
            continue;
        }
        rv = tcore_record_load(t, kvs[i].value, kvs[i].value_len, kvs[i].mod_rev, id, &o);
        if (rv != CKR_OK) {
            rv = CKR_OK;
            continue;
        }
        if (o->broken || tcore_record_open_with(o, token_key) != CKR_OK) {
            TC_ERROR(TCORE_LOG, "token %s: object %016llx fails its integrity check: not "
                                "migrated",
                     t->id, (unsigned long long)id);
            tcore_obj_unref(o);
            continue;
        }
        rv = put_rewritten(x, o, token_key, &kvs[i], gen, e.nix);
        tcore_obj_unref(o);
        if (rv != CKR_OK) {
            goto out;
        }
        done++;
    }
    tcore_txn_key(x, token_key);
    tcore_txn_meta(x, sealed_fn, &q);
    rv = tcore_txn_commit(x, NULL);
    if (rv == CKR_OK) {
        tcore_cache_drop_all(t);
        if (done > 0) {
            TC_INFO(TCORE_LOG, "token %s: %zu sealed records migrated to format v2", t->id, done);
        }
    } else if (rv == CKR_FUNCTION_REJECTED) {
        /* another process migrated or changed them meanwhile */
        TC_INFO(TCORE_LOG, "token %s: sealed records migrated elsewhere meanwhile", t->id);
    } else {
        TC_WARN(TCORE_LOG, "token %s: sealed records not migrated this time", t->id);
    }
out:
    tcore_txn_free(x);
    tstore_kvs_free(kvs, n);
    tc_wipe(&q, sizeof(q));
    return rv;
}
