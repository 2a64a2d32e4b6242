/*
 * A token's objects in the store: the object cache, handle lookup, the
 * CKA_CLASS / CKA_LABEL / CKA_ID indexes, C_FindObjects over the store,
 * storing, rewriting and deleting records, and following other processes'
 * changes (tstore_changes).
 *
 * Index keys (see tcore.h "token set"):
 *   t/<tokid>/ix/<attr 8 hex>/p/<hex value>/<objid>   public objects
 *   t/<tokid>/ix/<attr 8 hex>/h/<hex mac>/<objid>     private objects
 * The mac is HMAC-SHA-256 (first 16 bytes) of the attribute type and value
 * under a key derived from the token key with HKDF, so a private object's
 * label or id does not appear in the store in clear. CKA_CLASS values are
 * written as big-endian u64 (portable across machines).
 *
 * Every record is read together with its manifest entry (meta.c) and served
 * only if the entry vouches for it; writes commit through tcore_txn with
 * the record, its index rows and its entry in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#define OBJID_HEX 16
#define IX_MAC_LEN 16
#define ID_RETRIES 4
#define TCORE_CACHE_MAX 20000u

static const CK_ATTRIBUTE_TYPE indexed[] = {CKA_CLASS, CKA_LABEL, CKA_ID};

static void hex_encode(char *out, const uint8_t *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void tcore_key_obj(char *out, size_t outlen, const char *tokid, uint64_t id)
{
    snprintf(out, outlen, "t/%s/o/%016llx", tokid, (unsigned long long)id);
}

bool tcore_key_obj_id(const uint8_t *key, size_t len, uint64_t *id)
{
    uint64_t v = 0;
    if (len < OBJID_HEX) {
        return false;
    }
    for (size_t i = len - OBJID_HEX; i < len; i++) {
        uint8_t c = key[i];
        if (c >= '0' && c <= '9') {
            v = v << 4 | (uint64_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        } else {
            return false;
        }
    }
    *id = v;
    return v != 0;
}

static CK_RV index_mac_key(const uint8_t *token_key, uint8_t out[32])
{
    static const char info[] = "tessera index v1";
    return tcrypto_hkdf(TCRYPTO_MD_SHA256, TCRYPTO_HKDF_EXTRACT_EXPAND, token_key,
                        TCORE_TOKEN_KEY_LEN, NULL, 0, info, sizeof(info) - 1, out,
                        32) == TCRYPTO_OK
               ? CKR_OK
               : CKR_FUNCTION_FAILED;
}

/* The prefix of the index entries for (type, value): "t/<tok>/ix/<type>/p/<hex>/"
 * or the h/ form when mac_key is given. malloc'd. */
static CK_RV index_prefix(const char *tokid, CK_ATTRIBUTE_TYPE type, const void *value,
                          size_t len, const uint8_t *mac_key, char **out)
{
    uint8_t be[8];
    /* bounded before any size arithmetic: a search value comes from the
     * caller and its length could be anything */
    if (len > TCORE_ATTR_VALUE_MAX || (value == NULL && len > 0)) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (type == CKA_CLASS && len == sizeof(CK_ULONG)) {
        /* portable: the class as an 8-byte big-endian number */
        CK_ULONG v;
        memcpy(&v, value, sizeof(v));
        tc_store_u64(be, (uint64_t)v);
        value = be;
        len = sizeof(be);
    }
    size_t cap = 64 + 2 * (len > IX_MAC_LEN ? len : IX_MAC_LEN);
    char *s = malloc(cap);
    int n;
    if (s == NULL) {
        return CKR_HOST_MEMORY;
    }
    n = snprintf(s, cap, "t/%s/ix/%08lx/%c/", tokid, (unsigned long)type,
                 mac_key != NULL ? 'h' : 'p');
    if (mac_key != NULL) {
        uint8_t msg[8], mac[TCRYPTO_MAX_MD_SIZE];
        size_t maclen = sizeof(mac);
        tcrypto_mac *m = NULL;
        tc_store_u64(msg, (uint64_t)type);
        if (tcrypto_hmac_new(TCRYPTO_MD_SHA256, mac_key, 32, &m) != TCRYPTO_OK ||
            tcrypto_mac_update(m, msg, sizeof(msg)) != TCRYPTO_OK ||
            tcrypto_mac_update(m, value, len) != TCRYPTO_OK ||
            tcrypto_mac_final(m, mac, &maclen) != TCRYPTO_OK) {
            tcrypto_mac_free(m);
            free(s);
            return CKR_FUNCTION_FAILED;
        }
        tcrypto_mac_free(m);
        hex_encode(s + n, mac, IX_MAC_LEN);
        n += 2 * IX_MAC_LEN;
    } else {
        hex_encode(s + n, value, len);
        n += (int)(2 * len);
    }
    s[n++] = '/';
    s[n] = '\0';
    *out = s;
    return CKR_OK;
}

void tcore_index_keys_free(char **keys, size_t n)
{
    if (keys == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
    }
    free(keys);
}

CK_RV tcore_index_keys(tcore_obj *o, const uint8_t *key, char ***out, size_t *nout)
{
    bool priv = tcore_attr_bool(o->attrs, o->nattrs, CKA_PRIVATE, false);
    uint8_t mk[32];
    char **keys = calloc(TC_ARRAY_LEN(indexed), sizeof(*keys));
    size_t n = 0;
    CK_RV rv = CKR_OK;

    if (keys == NULL) {
        return CKR_HOST_MEMORY;
    }
    if (priv) {
        if (key == NULL) {
            free(keys);
            return CKR_USER_NOT_LOGGED_IN;
        }
        rv = index_mac_key(key, mk);
        if (rv != CKR_OK) {
            tc_wipe(mk, sizeof(mk));
            free(keys);
            return rv;
        }
    }
    for (size_t i = 0; i < TC_ARRAY_LEN(indexed); i++) {
        const tcore_attr *a = tcore_attrs_cfind(o->attrs, o->nattrs, indexed[i]);
        char *prefix = NULL;
        if (a == NULL) {
            continue;
        }
        /* the class is in the clear in the record header anyway */
        rv = index_prefix(tcore_token_id(o->token), a->type, a->value, a->len,
                          priv && indexed[i] != CKA_CLASS ? mk : NULL, &prefix);
        if (rv != CKR_OK) {
            goto out;
        }
        size_t plen = strlen(prefix);
        keys[n] = malloc(plen + OBJID_HEX + 1);
        if (keys[n] == NULL) {
            free(prefix);
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        snprintf(keys[n], plen + OBJID_HEX + 1, "%s%016llx", prefix, (unsigned long long)o->id);
        free(prefix);
        n++;
    }
out:
    tc_wipe(mk, sizeof(mk));
    if (rv != CKR_OK) {
        tcore_index_keys_free(keys, n);
        return rv;
    }
    *out = keys;
    *nout = n;
    return CKR_OK;
}

/* ---- cache ---------------------------------------------------------------- */

static size_t bucket_of(const tcore_token *t, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) % t->nbuckets;
}

/* t->lock held. Returns a new reference or NULL. */
static tcore_obj *cache_get_locked(tcore_token *t, uint64_t id)
{
    for (tcore_cache_ent *e = t->buckets[bucket_of(t, id)]; e != NULL; e = e->next) {
        if (e->id == id) {
            tcore_obj_ref(e->obj);
            return e->obj;
        }
    }
    return NULL;
}

/* Insert (taking a new reference) unless present; returns the cached object
 * (new reference). t->lock held. */
static tcore_obj *cache_put_locked(tcore_token *t, tcore_obj *o)
{
    tcore_obj *cur = cache_get_locked(t, o->id);
    if (cur != NULL) {
        return cur;
    }
    /* bounded memory: past the cap, objects are served uncached (each
     * lookup reads the store) rather than evicting hot entries */
    tcore_cache_ent *e = t->ncached < TCORE_CACHE_MAX ? malloc(sizeof(*e)) : NULL;
    if (e == NULL) {
        tcore_obj_ref(o);
        return o; /* uncached but usable */
    }
    size_t b = bucket_of(t, o->id);
    tcore_obj_ref(o);
    e->id = o->id;
    e->obj = o;
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->ncached++;
    tcore_obj_ref(o);
    return o;
}

/* Unlink an entry; returns its object (the cache's reference) or NULL. */
static tcore_obj *cache_unlink_locked(tcore_token *t, uint64_t id)
{
    tcore_cache_ent **pp = &t->buckets[bucket_of(t, id)];
    while (*pp != NULL) {
        if ((*pp)->id == id) {
            tcore_cache_ent *e = *pp;
            tcore_obj *o = e->obj;
            *pp = e->next;
            free(e);
            t->ncached--;
            return o;
        }
        pp = &(*pp)->next;
    }
    return NULL;
}

void tcore_cache_remove(tcore_token *t, uint64_t id)
{
    pthread_mutex_lock(&t->lock);
    tcore_obj *o = cache_unlink_locked(t, id);
    pthread_mutex_unlock(&t->lock);
    tcore_obj_unref(o);
}

void tcore_cache_drop_all(tcore_token *t)
{
    tcore_cache_ent *all = NULL;
    pthread_mutex_lock(&t->lock);
    for (size_t b = 0; b < t->nbuckets; b++) {
        while (t->buckets[b] != NULL) {
            tcore_cache_ent *e = t->buckets[b];
            t->buckets[b] = e->next;
            e->next = all;
            all = e;
        }
    }
    t->ncached = 0;
    pthread_mutex_unlock(&t->lock);
    /* objects may still be held by sessions: their secrets go now */
    while (all != NULL) {
        tcore_cache_ent *e = all;
        all = e->next;
        tcore_obj_forget_secrets(e->obj);
        tcore_obj_unref(e->obj);
        free(e);
    }
}

void tcore_cache_evict_secrets(tcore_token *t)
{
    tcore_obj **v = NULL;
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    if (t->ncached > 0) {
        v = malloc(t->ncached * sizeof(*v));
    }
    for (size_t b = 0; v != NULL && b < t->nbuckets; b++) {
        for (tcore_cache_ent *e = t->buckets[b]; e != NULL && n < t->ncached; e = e->next) {
            /* Only the cache holds it: no session or operation is using it. */
            if (e->obj->has_secret && atomic_load(&e->obj->refs) == 1) {
                tcore_obj_ref(e->obj);
                v[n++] = e->obj;
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
    /* Outside the token lock: an object's lock is taken before the token's
     * elsewhere (opening reads the token key). The objects stay cached and
     * are opened again on their next use. */
    for (size_t i = 0; i < n; i++) {
        tcore_obj_forget_secrets(v[i]);
        tcore_obj_unref(v[i]);
    }
    free(v);
    if (n > 0) {
        TC_INFO(TCORE_LOG, "token %s: secure memory low, %zu opened keys dropped", t->id, n);
    }
}

/* Follow other processes: drop cached objects whose record changed or was
 * deleted since the last sync. */
static void token_sync(tcore_token *t, bool force)
{
    char prefix[64];
    tstore_event *ev = NULL;
    size_t n = 0;
    uint64_t since, rev = 0;
    tstore_rc src;

    /* Every object lookup comes here: the common case (synced a moment ago)
     * must not take the token's lock, which all its sessions share. The
     * time is written under the lock, and read atomically. */
    if (!force && tcore_now_ms() - __atomic_load_n(&t->synced_ms, __ATOMIC_RELAXED) <
                      TCORE_SYNC_INTERVAL_MS) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    since = t->synced_rev;
    pthread_mutex_unlock(&t->lock);
    /* the common case, nothing written since: one cheap read */
    if (tstore_revision(tcore_token_store(t), &rev) == TSTORE_OK && rev == since) {
        pthread_mutex_lock(&t->lock);
        __atomic_store_n(&t->synced_ms, tcore_now_ms(), __ATOMIC_RELAXED);
        pthread_mutex_unlock(&t->lock);
        return;
    }
    snprintf(prefix, sizeof(prefix), "t/%s/o/", tcore_token_id(t));
    src = tstore_changes(tcore_token_store(t), prefix, strlen(prefix), since, &ev, &n, &rev);
    if (src == TSTORE_COMPACTED) {
        /* too far behind to follow: forget everything and follow from the
         * revision read before the drop (objects loaded after it are new) */
        if (tstore_revision(tcore_token_store(t), &rev) != TSTORE_OK) {
            return;
        }
        tcore_cache_drop_all(t);
        pthread_mutex_lock(&t->lock);
        t->synced_rev = rev;
        __atomic_store_n(&t->synced_ms, tcore_now_ms(), __ATOMIC_RELAXED);
        pthread_mutex_unlock(&t->lock);
        return;
    }
    if (src != TSTORE_OK) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const tstore_kv *kv = &ev[i].kv;
        uint64_t id;
        if (!tcore_key_obj_id(kv->key, kv->key_len, &id)) {
            continue;
        }
        pthread_mutex_lock(&t->lock);
        tcore_obj *o = cache_get_locked(t, id);
        bool stale = o != NULL && (ev[i].deleted || o->mod_rev != kv->mod_rev);
        tcore_obj *dropped = stale ? cache_unlink_locked(t, id) : NULL;
        pthread_mutex_unlock(&t->lock);
        if (dropped != NULL) {
            tcore_obj_forget_secrets(dropped);
            tcore_obj_unref(dropped);
        }
        tcore_obj_unref(o);
    }
    tstore_events_free(ev, n);
    pthread_mutex_lock(&t->lock);
    if (t->synced_rev == since) {
        t->synced_rev = rev;
    }
    __atomic_store_n(&t->synced_ms, tcore_now_ms(), __ATOMIC_RELAXED);
    pthread_mutex_unlock(&t->lock);
}

/* After our own write at revision rev: if nobody else wrote since the last
 * sync, the cache already reflects the store at rev, so follow from there
 * (saves a tstore_changes listing after every local write). */
static void note_own_write(tcore_token *t, uint64_t rev)
{
    pthread_mutex_lock(&t->lock);
    if (rev != 0 && t->synced_rev + 1 == rev) {
        t->synced_rev = rev;
    }
    pthread_mutex_unlock(&t->lock);
}

/* The manifest entry of an object checked against its record bytes:
 * CKR_OBJECT_HANDLE_INVALID when there is none (the object does not exist
 * as far as the token knows), CKR_DEVICE_ERROR when it does not vouch for
 * the record. */
static CK_RV manifest_check(tcore_token *t, uint64_t id, const uint8_t *rec, size_t rec_len,
                            tcore_mf *e, bool quiet)
{
    char key[64];
    tstore_kv kv;
    tcore_key_mf(key, sizeof(key), tcore_token_id(t), id);
    tstore_rc src = tstore_get(tcore_token_store(t), key, strlen(key), &kv);
    if (src == TSTORE_NOT_FOUND) {
        if (!quiet) {
            (void)tcore_mf_check(t, id, NULL, 0, rec, rec_len, e); /* logs */
        }
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "token %s: reading object %016llx: %s", tcore_token_id(t),
                 (unsigned long long)id, tstore_rc_str(src));
        return CKR_DEVICE_ERROR;
    }
    CK_RV rv = quiet ? tcore_mf_verify(t, id, kv.value, kv.value_len, rec, rec_len, e)
                     : tcore_mf_check(t, id, kv.value, kv.value_len, rec, rec_len, e);
    tstore_kv_free(&kv);
    return rv;
}

/* An object by id: cache, else the record `have` (already read), else the
 * store. New reference. */
static CK_RV object_by_id(tcore_token *t, uint64_t id, const tstore_kv *have, tcore_obj **out)
{
    char key[64];
    tstore_kv kv;
    const tstore_kv *rec;
    tstore_rc src;
    tcore_obj *o;
    tcore_mf mf;
    CK_RV rv, mrv;

    pthread_mutex_lock(&t->lock);
    o = cache_get_locked(t, id);
    pthread_mutex_unlock(&t->lock);
    if (o != NULL) {
        *out = o;
        return CKR_OK;
    }
    rv = tcore_meta_ensure_v2(t);
    if (rv != CKR_OK) {
        return rv == CKR_TOKEN_NOT_RECOGNIZED ? CKR_OBJECT_HANDLE_INVALID : rv;
    }
    memset(&kv, 0, sizeof(kv));
    tcore_key_obj(key, sizeof(key), tcore_token_id(t), id);
    for (int attempt = 0;; attempt++) {
        if (have != NULL && attempt == 0) {
            rec = have;
        } else {
            tstore_kv_free(&kv);
            src = tstore_get(tcore_token_store(t), key, strlen(key), &kv);
            if (src == TSTORE_NOT_FOUND) {
                return CKR_OBJECT_HANDLE_INVALID;
            }
            if (src != TSTORE_OK) {
                TC_ERROR(TCORE_LOG, "token %s: reading object %016llx: %s", tcore_token_id(t),
                         (unsigned long long)id, tstore_rc_str(src));
                return CKR_DEVICE_ERROR;
            }
            rec = &kv;
        }
        /* Nothing is served that its manifest entry does not vouch for:
         * this needs no login, so public objects are checked before anyone
         * logs in. The record and its entry are two reads: a commit by
         * another process in between is told from tampering by reading
         * both again. */
        uint64_t seen = rec->mod_rev;
        mrv = manifest_check(t, id, rec->value, rec->value_len, &mf, attempt < 2);
        if (mrv == CKR_OK || attempt >= 2) {
            break;
        }
        tstore_kv again;
        src = tstore_get(tcore_token_store(t), key, strlen(key), &again);
        if (src == TSTORE_OK) {
            bool moved = again.mod_rev != seen;
            tstore_kv_free(&again);
            if (!moved) {
                attempt = 1; /* same record: one last, logged check */
            }
        } else if (src == TSTORE_NOT_FOUND) {
            tstore_kv_free(&kv);
            return CKR_OBJECT_HANDLE_INVALID;
        }
    }
    if (mrv == CKR_OBJECT_HANDLE_INVALID) {
        tstore_kv_free(&kv);
        return mrv;
    }
    rv = tcore_record_load(t, rec->value, rec->value_len, rec->mod_rev, id, &o);
    if (rv == CKR_OK) {
        o->create_rev = rec->create_rev;
        if (mrv != CKR_OK) {
            o->broken = true;
        }
    }
    tstore_kv_free(&kv);
    if (rv == CKR_DEVICE_ERROR) {
        return CKR_OBJECT_HANDLE_INVALID; /* unreadable record: no object */
    }
    if (rv != CKR_OK) {
        return rv;
    }
    if (!o->attrs_loaded && !o->broken) {
        /* private object while the token is locked: invisible, not cached */
        *out = o;
        return CKR_OK;
    }
    pthread_mutex_lock(&t->lock);
    tcore_obj *c = cache_put_locked(t, o);
    pthread_mutex_unlock(&t->lock);
    tcore_obj_unref(o);
    *out = c;
    return CKR_OK;
}

/* Private objects only for the user (PKCS#11 3.0 §4.4: CKA_PRIVATE). A
 * private object whose sealed part failed its check stays reachable by
 * handle so that its use reports CKR_DEVICE_ERROR instead of vanishing. */
static bool visible(bool user, tcore_obj *o)
{
    bool loaded, broken, priv;
    pthread_mutex_lock(&o->lock);
    loaded = o->attrs_loaded;
    broken = o->broken;
    priv = tcore_attr_bool(o->attrs, o->nattrs, CKA_PRIVATE, false);
    pthread_mutex_unlock(&o->lock);
    if (!priv) {
        return loaded || broken;
    }
    return (loaded || broken) && user;
}

CK_RV tcore_token_object(tcore_token *t, CK_OBJECT_HANDLE h, bool user, tcore_obj **out)
{
    tcore_obj *o = NULL;
    CK_RV rv;

    if (!tcore_handle_is_token(h) || !tcore_token_initialized(t)) {
        return CKR_OBJECT_HANDLE_INVALID;
    }
    token_sync(t, false);
    rv = object_by_id(t, (uint64_t)(h & TCORE_TOKEN_HANDLE_MASK), NULL, &o);
    if (rv != CKR_OK) {
        return rv;
    }
    if (!visible(user, o)) {
        tcore_obj_unref(o);
        return CKR_OBJECT_HANDLE_INVALID;
    }
    *out = o;
    return CKR_OK;
}

/* ---- find ------------------------------------------------------------------ */

/* Find results, returned in creation order (the order the objects were
 * stored in), which tools that take "the first match" rely on. */
typedef struct {
    uint64_t rev;
    CK_OBJECT_HANDLE h;
} found_ent;

typedef struct {
    found_ent *v;
    CK_ULONG n, cap;
} found_set;

static bool found_add(found_set *f, uint64_t rev, CK_OBJECT_HANDLE h)
{
    if (f->n == f->cap) {
        CK_ULONG nc = f->cap ? f->cap * 2 : 16;
        found_ent *p = realloc(f->v, nc * sizeof(*p));
        if (p == NULL) {
            return false;
        }
        f->v = p;
        f->cap = nc;
    }
    f->v[f->n].rev = rev;
    f->v[f->n].h = h;
    f->n++;
    return true;
}

static int found_cmp(const void *x, const void *y)
{
    const found_ent *a = x, *b = y;
    if (a->rev != b->rev) {
        return a->rev < b->rev ? -1 : 1;
    }
    return a->h < b->h ? -1 : a->h > b->h ? 1 : 0;
}

/* Candidates from one index range (or the object range when prefix names
 * t/<tok>/o/). */
static CK_RV scan(tcore_token *t, bool user, const char *prefix, bool records,
                  const CK_ATTRIBUTE *tmpl, CK_ULONG count, found_set *f)
{
    tstore_kv *kvs = NULL;
    size_t nk = 0;
    CK_RV rv = CKR_OK;
    tstore_rc src = tstore_range(tcore_token_store(t), prefix, strlen(prefix), 0, &kvs, &nk);
    if (src != TSTORE_OK) {
        return CKR_DEVICE_ERROR;
    }
    for (size_t i = 0; i < nk; i++) {
        tcore_obj *o = NULL;
        uint64_t id;
        if (!tcore_key_obj_id(kvs[i].key, kvs[i].key_len, &id) ||
            object_by_id(t, id, records ? &kvs[i] : NULL, &o) != CKR_OK) {
            continue;
        }
        if (visible(user, o) && tcore_obj_match(o, tmpl, count)) {
            if (!found_add(f, o->create_rev, tcore_obj_handle(o))) {
                rv = CKR_HOST_MEMORY;
            }
        }
        tcore_obj_unref(o);
        if (rv != CKR_OK) {
            break;
        }
    }
    tstore_kvs_free(kvs, nk);
    return rv;
}

/* Index rows carry no integrity of their own: the metadata counts them, so
 * rows deleted (an object hidden from find by label or class) or added are
 * noticed, and find then reads every record instead (a slower answer, never
 * a wrong one). */
#define IX_RECHECK_MS 30000

static bool index_intact(tcore_token *t)
{
    char prefix[64];
    uint64_t n = 0;
    /* Counting reads every index row of the token, so it is done by the
     * first find of a process and then every IX_RECHECK_MS: the rows are
     * edited only behind the store's back (an edit of the file does not
     * move the store revision), and writes through the core keep the count
     * right by construction. */
    uint64_t now = tcore_now_ms();
    uint64_t last = atomic_load(&t->ix_checked_ms);
    if (last != 0 && now - last < IX_RECHECK_MS) {
        return !atomic_load(&t->ix_bad);
    }
    snprintf(prefix, sizeof(prefix), "t/%s/ix/", tcore_token_id(t));
    char mkey[64];
    tcore_key_meta(mkey, sizeof(mkey), tcore_token_id(t));
    for (int i = 0; i < 3; i++) {
        tcore_meta m;
        tstore_kv kv;
        if (tcore_meta_load(t, &m) != CKR_OK) {
            return false;
        }
        tstore_rc src = tstore_count(tcore_token_store(t), prefix, strlen(prefix), &n);
        tstore_rc src2 = tstore_get(tcore_token_store(t), mkey, strlen(mkey), &kv);
        bool same = src2 == TSTORE_OK && kv.mod_rev == m.mod_rev;
        uint64_t want = m.nix;
        tcore_meta_free(&m);
        if (src2 == TSTORE_OK) {
            tstore_kv_free(&kv);
        }
        if (src != TSTORE_OK || src2 != TSTORE_OK) {
            return false;
        }
        if (!same) {
            continue; /* a commit in between: count again */
        }
        atomic_store(&t->ix_bad, n != want);
        atomic_store(&t->ix_checked_ms, now != 0 ? now : 1);
        if (n == want) {
            return true;
        }
        TC_ERROR(TCORE_LOG,
                 "token %s: %llu index rows where the metadata counts %llu (rows deleted or "
                 "added in the store); searching every record",
                 tcore_token_id(t), (unsigned long long)n, (unsigned long long)want);
        return false;
    }
    return false;
}

CK_RV tcore_token_find(tcore_token *t, bool user, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                       CK_OBJECT_HANDLE **handles, CK_ULONG *nout)
{
    found_set f = {NULL, 0, 0};
    CK_OBJECT_HANDLE *hs = NULL;
    CK_ULONG n = 0;
    CK_RV rv = CKR_OK;
    const CK_ATTRIBUTE *ix = NULL;
    char *prefix = NULL;

    if ((tmpl == NULL && count > 0) || handles == NULL || nout == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    for (CK_ULONG i = 0; i < count; i++) {
        if (tmpl[i].ulValueLen > TCORE_ATTR_VALUE_MAX) {
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
    }
    if (!tcore_token_initialized(t)) {
        *handles = NULL;
        *nout = 0;
        return CKR_OK;
    }
    rv = tcore_meta_ensure_v2(t);
    if (rv != CKR_OK) {
        return rv;
    }
    token_sync(t, true);
    /* most selective index first, if the index is whole */
    for (size_t k = TC_ARRAY_LEN(indexed); k-- > 0 && ix == NULL;) {
        for (CK_ULONG i = 0; i < count; i++) {
            if (tmpl[i].type == indexed[k] && (tmpl[i].pValue != NULL || tmpl[i].ulValueLen == 0)) {
                ix = &tmpl[i];
                break;
            }
        }
    }
    if (ix != NULL && !index_intact(t)) {
        ix = NULL;
    }
    if (ix == NULL) {
        char p[64];
        snprintf(p, sizeof(p), "t/%s/o/", tcore_token_id(t));
        rv = scan(t, user, p, true, tmpl, count, &f);
        goto out;
    }
    rv = index_prefix(tcore_token_id(t), ix->type, ix->pValue, ix->ulValueLen, NULL, &prefix);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = scan(t, user, prefix, false, tmpl, count, &f);
    free(prefix);
    prefix = NULL;
    if (rv != CKR_OK || ix->type == CKA_CLASS || !user) {
        goto out;
    }
    /* private objects' entries, under the keyed hash */
    uint8_t *key = NULL;
    uint8_t mk[32];
    if (tcore_token_key_copy(t, &key, NULL) != CKR_OK) {
        goto out;
    }
    rv = index_mac_key(key, mk);
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    if (rv == CKR_OK) {
        rv = index_prefix(tcore_token_id(t), ix->type, ix->pValue, ix->ulValueLen, mk, &prefix);
    }
    tc_wipe(mk, sizeof(mk));
    if (rv == CKR_OK) {
        rv = scan(t, user, prefix, false, tmpl, count, &f);
        free(prefix);
    }
out:
    if (rv == CKR_OK && f.n > 0) {
        qsort(f.v, f.n, sizeof(*f.v), found_cmp);
        hs = malloc(f.n * sizeof(*hs));
        if (hs == NULL) {
            rv = CKR_HOST_MEMORY;
        }
        for (CK_ULONG i = 0; hs != NULL && i < f.n; i++) {
            if (n == 0 || hs[n - 1] != f.v[i].h) {
                hs[n++] = f.v[i].h;
            }
        }
    }
    free(f.v);
    if (rv != CKR_OK) {
        free(hs);
        return rv;
    }
    *handles = hs;
    *nout = n;
    return CKR_OK;
}

/* ---- writing ------------------------------------------------------------------ */

static CK_RV extract_sealed(const tc_buf *rec, uint8_t **sealed, size_t *len)
{
    tcore_record r;
    CK_RV rv = tcore_record_decode(rec->p, rec->len, &r);
    if (rv != CKR_OK) {
        return CKR_GENERAL_ERROR;
    }
    *sealed = r.sealed;
    *len = r.sealed_len;
    r.sealed = NULL;
    tcore_record_free(&r);
    return CKR_OK;
}

static uint64_t new_obj_id(void)
{
    uint64_t id = 0;
    while (id == 0) {
        uint8_t raw[8];
        if (tcrypto_random(raw, sizeof(raw)) != TCRYPTO_OK) {
            return 0;
        }
        id = tc_load_u64(raw) & (uint64_t)TCORE_TOKEN_HANDLE_MASK;
    }
    return id;
}

/* The manifest entry of a record about to be committed (meta.c). */
static CK_RV put_manifest(tcore_txn *x, tcore_token *t, uint64_t id, uint64_t serial,
                          size_t nix, const tc_buf *rec)
{
    /* a lower bound of the commit's generation: the commit adds one to the
     * newest this process has seen or a newer one */
    tcore_mf e = {2, serial, atomic_load(&t->meta_gen) + 1, (uint32_t)nix, {0}};
    return tcore_mf_put(x, t, id, &e, rec->p, rec->len);
}

typedef struct {
    tc_buf rec;
    char okey[64];
    char **ix;
    size_t nix;
} pending;

CK_RV tcore_token_store_objects(tcore_token *t, tcore_obj **objs, CK_ULONG n,
                                CK_OBJECT_HANDLE *handles)
{
    pending *pd = NULL;
    tcore_txn *x = NULL;
    uint8_t *key = NULL;
    uint64_t epoch = 0, rev = 0;
    CK_RV rv = CKR_OK;

    if ((objs == NULL && n > 0) || (handles == NULL && n > 0)) {
        return CKR_ARGUMENTS_BAD;
    }
    if (!tcore_token_initialized(t)) {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    if (n == 0) {
        return CKR_OK;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (objs[i]->token != t || objs[i]->stored || !tcore_obj_is_token(objs[i])) {
            return CKR_TEMPLATE_INCONSISTENT;
        }
    }
    rv = tcore_meta_ensure_v2(t);
    if (rv != CKR_OK) {
        return rv;
    }
    if (tcore_token_key_copy(t, &key, &epoch) != CKR_OK) {
        key = NULL;
    }
    pd = calloc(n, sizeof(*pd));
    if (pd == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (int attempt = 0; attempt < ID_RETRIES; attempt++) {
        tcore_txn_free(x);
        x = tcore_txn_new(t);
        if (x == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        /* sealed under this key: refused if the token was re-initialised
         * since it was unlocked */
        tcore_txn_key(x, key);
        for (CK_ULONG i = 0; i < n; i++) {
            tcore_obj *o = objs[i];
            tc_buf_free(&pd[i].rec);
            tcore_index_keys_free(pd[i].ix, pd[i].nix);
            pd[i].ix = NULL;
            pd[i].nix = 0;
            pthread_mutex_lock(&o->lock);
            o->id = new_obj_id();
            o->rec_serial = 1;
            rv = o->id == 0 ? CKR_FUNCTION_FAILED : tcore_record_build(o, key, &pd[i].rec);
            if (rv == CKR_OK) {
                rv = tcore_index_keys(o, key, &pd[i].ix, &pd[i].nix);
            }
            if (rv != CKR_OK) {
                o->id = 0;
            }
            pthread_mutex_unlock(&o->lock);
            if (rv != CKR_OK) {
                goto out;
            }
            tcore_key_obj(pd[i].okey, sizeof(pd[i].okey), tcore_token_id(t), o->id);
            tcore_txn_cmp(x, pd[i].okey, 0);
            tcore_txn_put(x, pd[i].okey, pd[i].rec.p, pd[i].rec.len);
            for (size_t j = 0; j < pd[i].nix; j++) {
                tcore_txn_put(x, pd[i].ix[j], "", 0);
            }
            rv = put_manifest(x, t, o->id, 1, pd[i].nix, &pd[i].rec);
            if (rv != CKR_OK) {
                goto out;
            }
            tcore_txn_count(x, 1, (int64_t)pd[i].nix);
        }
        rv = tcore_txn_commit(x, &rev);
        if (rv != CKR_FUNCTION_REJECTED) {
            break; /* else an id collided: new ids */
        }
    }
    if (rv == CKR_FUNCTION_REJECTED) {
        rv = CKR_FUNCTION_FAILED;
    }
    if (rv != CKR_OK) {
        for (CK_ULONG i = 0; i < n; i++) {
            objs[i]->id = 0;
        }
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        tcore_obj *o = objs[i];
        uint8_t *sealed = NULL;
        size_t slen = 0;
        (void)extract_sealed(&pd[i].rec, &sealed, &slen);
        pthread_mutex_lock(&o->lock);
        o->stored = true;
        o->mod_rev = rev;
        o->create_rev = rev;
        o->sealed = sealed;
        o->sealed_len = slen;
        o->opened = key != NULL;
        o->epoch = epoch;
        o->attrs_loaded = true;
        o->rec_version = 2;
        pthread_mutex_unlock(&o->lock);
        pthread_mutex_lock(&t->lock);
        tcore_obj *c = cache_put_locked(t, o);
        pthread_mutex_unlock(&t->lock);
        tcore_obj_unref(c);
        handles[i] = tcore_obj_handle(o);
    }
    note_own_write(t, rev);
out:
    if (pd != NULL) {
        for (CK_ULONG i = 0; i < n; i++) {
            tc_buf_free(&pd[i].rec);
            tcore_index_keys_free(pd[i].ix, pd[i].nix);
        }
    }
    free(pd);
    tcore_txn_free(x);
    if (key != NULL) {
        tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    }
    return rv;
}

static bool key_in(char **keys, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i], k) == 0) {
            return true;
        }
    }
    return false;
}

CK_RV tcore_objstore_rewrite(tcore_obj *o, tcore_attr *attrs, size_t nattrs)
{
    tcore_token *t = o->token;
    uint8_t *key = NULL;
    uint64_t epoch = 0, rev = 0;
    char okey[64];
    char **oldix = NULL, **newix = NULL;
    size_t nold = 0, nnew = 0;
    tc_buf rec;
    tcore_txn *x = NULL;
    CK_RV rv;
    tcore_attr *saved_attrs = o->attrs;
    size_t saved_n = o->nattrs;
    uint64_t serial = o->rec_serial + 1;

    tc_buf_init(&rec);
    if (tcore_token_key_copy(t, &key, &epoch) != CKR_OK) {
        key = NULL;
        if (o->sealed != NULL) {
            return CKR_USER_NOT_LOGGED_IN;
        }
    }
    rv = tcore_index_keys(o, key, &oldix, &nold);
    if (rv != CKR_OK) {
        goto out;
    }
    o->attrs = attrs;
    o->nattrs = nattrs;
    o->rec_serial = serial;
    rv = tcore_record_build(o, key, &rec);
    if (rv == CKR_OK) {
        rv = tcore_index_keys(o, key, &newix, &nnew);
    }
    o->attrs = saved_attrs;
    o->nattrs = saved_n;
    o->rec_serial = serial - 1;
    if (rv != CKR_OK) {
        goto out;
    }
    x = tcore_txn_new(t);
    if (x == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    tcore_txn_key(x, key);
    for (size_t i = 0; i < nold; i++) {
        if (!key_in(newix, nnew, oldix[i])) {
            tcore_txn_del(x, oldix[i]);
        }
    }
    for (size_t i = 0; i < nnew; i++) {
        if (!key_in(oldix, nold, newix[i])) {
            tcore_txn_put(x, newix[i], "", 0);
        }
    }
    tcore_key_obj(okey, sizeof(okey), tcore_token_id(t), o->id);
    tcore_txn_put(x, okey, rec.p, rec.len);
    tcore_txn_cmp(x, okey, o->mod_rev);
    rv = put_manifest(x, t, o->id, serial, nnew, &rec);
    if (rv != CKR_OK) {
        goto out;
    }
    tcore_txn_count(x, 0, (int64_t)nnew - (int64_t)nold);
    rv = tcore_txn_commit(x, &rev);
    if (rv == CKR_FUNCTION_REJECTED) {
        /* changed by another process meanwhile: the caller re-reads */
        TC_WARN(TCORE_LOG, "token %s: object %016llx changed concurrently", tcore_token_id(t),
                (unsigned long long)o->id);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    if (rv != CKR_OK) {
        goto out;
    }
    o->rec_serial = serial;
    o->rec_version = 2;
    uint8_t *sealed = NULL;
    size_t slen = 0;
    (void)extract_sealed(&rec, &sealed, &slen);
    free(o->sealed);
    o->sealed = sealed;
    o->sealed_len = slen;
    o->mod_rev = rev;
    if (key != NULL) {
        o->opened = true;
        o->epoch = epoch;
    }
    /* another in-memory instance of this object (loaded concurrently) is
     * stale now; the sync will not report our own write */
    pthread_mutex_lock(&t->lock);
    tcore_obj *other = cache_get_locked(t, o->id);
    tcore_obj *dropped = other != NULL && other != o ? cache_unlink_locked(t, o->id) : NULL;
    pthread_mutex_unlock(&t->lock);
    if (other != NULL) {
        tcore_obj_unref(other);
    }
    /* (no forget_secrets here: that would take a second object lock while
     * o's is held; the instance's secrets go with its last reference) */
    tcore_obj_unref(dropped);
    note_own_write(t, rev);
    rv = CKR_OK;
out:
    tcore_txn_free(x);
    tcore_index_keys_free(oldix, nold);
    tcore_index_keys_free(newix, nnew);
    tc_buf_free(&rec);
    if (key != NULL) {
        tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    }
    return rv;
}

CK_RV tcore_objstore_delete(tcore_obj *o)
{
    tcore_token *t = o->token;
    uint8_t *key = NULL;
    char okey[64], mkey[64];
    char **ix = NULL;
    size_t nix = 0;
    tcore_txn *x = NULL;
    CK_RV rv;

    if (tcore_token_key_copy(t, &key, NULL) != CKR_OK) {
        key = NULL;
    }
    rv = tcore_index_keys(o, key, &ix, &nix);
    if (rv != CKR_OK) {
        goto out;
    }
    x = tcore_txn_new(t);
    if (x == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < nix; i++) {
        tcore_txn_del(x, ix[i]);
    }
    tcore_key_obj(okey, sizeof(okey), tcore_token_id(t), o->id);
    tcore_key_mf(mkey, sizeof(mkey), tcore_token_id(t), o->id);
    tcore_txn_del(x, okey);
    tcore_txn_del(x, mkey);
    /* the counts follow only if the record is the one we hold */
    tcore_txn_cmp(x, okey, o->mod_rev);
    tcore_txn_count(x, -1, -(int64_t)nix);
    uint64_t rev = 0;
    rv = tcore_txn_commit(x, &rev);
    if (rv == CKR_FUNCTION_REJECTED) {
        tstore_kv kv;
        tstore_rc src = tstore_get(tcore_token_store(t), okey, strlen(okey), &kv);
        if (src == TSTORE_NOT_FOUND) {
            rv = CKR_OK; /* destroyed by another process meanwhile */
        } else {
            if (src == TSTORE_OK) {
                tstore_kv_free(&kv);
            }
            TC_WARN(TCORE_LOG, "token %s: object %016llx changed concurrently",
                    tcore_token_id(t), (unsigned long long)o->id);
            rv = CKR_FUNCTION_FAILED;
        }
    } else if (rv == CKR_OK) {
        /* the caller drops it from the cache right after */
        note_own_write(t, rev);
    }
out:
    tcore_txn_free(x);
    tcore_index_keys_free(ix, nix);
    if (key != NULL) {
        tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    }
    return rv;
}
