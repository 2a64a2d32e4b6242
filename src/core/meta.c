/*
 * Store format v2, the authenticated parts: token metadata and its witness
 * row, the per-object manifest, the store's integrity key and the
 * whole-store anchor. Formats are described in core_int.h.
 *
 * What authenticates what:
 *  - the integrity key (the store's local key, tstore_local_key) MACs the
 *    metadata, its witness and the manifest: these are written without a
 *    login (PIN failure counters, public objects made while logged out), so
 *    the token key cannot be what protects them;
 *  - the token key seals records (record.c); a record is accepted only when
 *    its manifest entry vouches for its exact bytes;
 *  - the metadata generation grows with every commit; manifest entries carry
 *    the generation they were written at, the witness carries the
 *    metadata's, and an anchor outside the store can hold it too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#define META_V1_MAGIC "TTM1"
#define META_V2_MAGIC "TTM2"
#define HEAD_MAGIC "TTH2"
#define MF_MAGIC "TSM2"
#define MAC_LEN 32
#define HASH_LEN 32
#define HEAD_LEN (4 + 8 + HASH_LEN + MAC_LEN)

void tcore_key_meta(char *out, size_t outlen, const char *tokid)
{
    snprintf(out, outlen, "t/%s/meta", tokid);
}

void tcore_key_head(char *out, size_t outlen, const char *tokid)
{
    snprintf(out, outlen, "t/%s/head", tokid);
}

void tcore_key_mf(char *out, size_t outlen, const char *tokid, uint64_t id)
{
    snprintf(out, outlen, "t/%s/m/%016llx", tokid, (unsigned long long)id);
}

/* HMAC-SHA-256 under ik over label | token id (16 bytes, zero padded) |
 * id (8 bytes) | data. */
static CK_RV mac_of(const uint8_t *ik, const char *label, const char *tokid, uint64_t id,
                    const uint8_t *data, size_t len, uint8_t out[MAC_LEN])
{
    uint8_t tid[16], idb[8];
    size_t tl = strlen(tokid), outlen = MAC_LEN;
    tcrypto_mac *m = NULL;
    CK_RV rv = CKR_FUNCTION_FAILED;

    memset(tid, 0, sizeof(tid));
    memcpy(tid, tokid, tl < sizeof(tid) ? tl : sizeof(tid));
    tc_store_u64(idb, id);
    if (tcrypto_hmac_new(TCRYPTO_MD_SHA256, ik, TCORE_IK_LEN, &m) == TCRYPTO_OK &&
        tcrypto_mac_update(m, label, strlen(label) + 1) == TCRYPTO_OK &&
        tcrypto_mac_update(m, tid, sizeof(tid)) == TCRYPTO_OK &&
        tcrypto_mac_update(m, idb, sizeof(idb)) == TCRYPTO_OK &&
        tcrypto_mac_update(m, data, len) == TCRYPTO_OK &&
        tcrypto_mac_final(m, out, &outlen) == TCRYPTO_OK && outlen == MAC_LEN) {
        rv = CKR_OK;
    }
    tcrypto_mac_free(m);
    return rv;
}

static CK_RV hash_of(const uint8_t *data, size_t len, uint8_t out[HASH_LEN])
{
    size_t outlen = HASH_LEN;
    return tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, data, len, out, &outlen) == TCRYPTO_OK &&
                   outlen == HASH_LEN
               ? CKR_OK
               : CKR_FUNCTION_FAILED;
}

CK_RV tcore_key_id(const uint8_t *token_key, uint8_t out[TCORE_KEY_ID_LEN])
{
    static const char label[] = "tessera token key id v2";
    uint8_t mac[MAC_LEN];
    size_t outlen = sizeof(mac);
    CK_RV rv = CKR_FUNCTION_FAILED;
    if (tcrypto_hmac_oneshot(TCRYPTO_MD_SHA256, token_key, TCORE_TOKEN_KEY_LEN, label,
                             sizeof(label) - 1, mac, &outlen) == TCRYPTO_OK) {
        memcpy(out, mac, TCORE_KEY_ID_LEN);
        rv = CKR_OK;
    }
    /* the half not published as the key id is still derived from the key */
    tc_wipe(mac, sizeof(mac));
    return rv;
}

CK_RV tcore_integrity_init(tcore_tokens *ts)
{
    tstore_rc src = tstore_local_key(ts->store, false, ts->ik);
    if (src == TSTORE_NOT_FOUND) {
        /* made only for a store that has no v2 token yet (new, or v1 to be
         * migrated): a v2 token's key missing means a store copied without
         * it, and a new key would only make every check fail */
        uint64_t n = 1;
        tstore_kv *kvs = NULL;
        size_t nk = 0;
        src = tstore_range(ts->store, "t/", 2, 0, &kvs, &nk);
        if (src == TSTORE_OK) {
            n = 0;
            for (size_t i = 0; i < nk; i++) {
                size_t kl = kvs[i].key_len;
                if (kl > 5 && memcmp(kvs[i].key + kl - 5, "/head", 5) == 0) {
                    n++;
                }
            }
            tstore_kvs_free(kvs, nk);
        }
        if (src == TSTORE_OK && n == 0) {
            src = tstore_local_key(ts->store, true, ts->ik);
        } else if (src == TSTORE_OK) {
            TC_ERROR(TCORE_LOG, "the store's integrity key file is missing (a store must be "
                                "copied with it)");
            return CKR_DEVICE_ERROR;
        }
    }
    if (src == TSTORE_OK) {
        return CKR_OK;
    }
    TC_ERROR(TCORE_LOG, "the store's integrity key is not available: %s", tstore_rc_str(src));
    return CKR_DEVICE_ERROR;
}

void tcore_tokens_set_anchor(tcore_tokens *ts, const tcore_anchor *anchor)
{
    tcore_anchor *a = NULL;
    if (anchor != NULL) {
        a = malloc(sizeof(*a));
        if (a == NULL) {
            if (anchor->destroy != NULL) {
                anchor->destroy(anchor->ctx);
            }
            return;
        }
        *a = *anchor;
    }
    pthread_mutex_lock(&ts->txn_lock);
    tcore_anchor *old = ts->anchor;
    ts->anchor = a;
    pthread_mutex_unlock(&ts->txn_lock);
    if (old != NULL) {
        if (old->destroy != NULL) {
            old->destroy(old->ctx);
        }
        free(old);
    }
}

/* ---- metadata --------------------------------------------------------------- */

void tcore_meta_free(tcore_meta *m)
{
    if (m == NULL) {
        return;
    }
    free(m->blob);
    m->blob = NULL;
    m->blob_len = 0;
}

bool tcore_meta_decode(const uint8_t *buf, size_t len, tcore_meta *m, size_t *signed_len)
{
    tc_reader r;
    const uint8_t *magic, *blob, *mac;
    uint64_t slot;
    uint32_t blen;
    tcore_meta t;

    memset(&t, 0, sizeof(t));
    tc_reader_init(&r, buf, len);
    if (!tc_read_ref(&r, 4, &magic)) {
        return false;
    }
    if (memcmp(magic, META_V1_MAGIC, 4) == 0) {
        t.version = 1;
        if (!tc_read_u64(&r, &slot) || !tc_read_copy(&r, t.label, 32) ||
            !tc_read_u8(&r, &t.so_fail) || !tc_read_u8(&r, &t.user_fail)) {
            return false;
        }
    } else if (memcmp(magic, META_V2_MAGIC, 4) == 0) {
        t.version = 2;
        if (!tc_read_u64(&r, &slot) || !tc_read_copy(&r, t.label, 32) ||
            !tc_read_u64(&r, &t.gen) || !tc_read_copy(&r, t.key_id, TCORE_KEY_ID_LEN) ||
            !tc_read_u8(&r, &t.so_fail) || !tc_read_u8(&r, &t.user_fail) ||
            !tc_read_u32(&r, &t.flags) || !tc_read_u64(&r, &t.nobj) ||
            !tc_read_u64(&r, &t.nix)) {
            return false;
        }
        if ((t.flags & ~TCORE_META_V1_SEALED) != 0) {
            return false;
        }
    } else {
        return false;
    }
    if (slot != (CK_SLOT_ID)slot || !tc_read_u32(&r, &blen) || !tc_read_ref(&r, blen, &blob)) {
        return false;
    }
    if (t.version == 2) {
        if (signed_len != NULL) {
            *signed_len = len - tc_reader_left(&r);
        }
        if (!tc_read_ref(&r, MAC_LEN, &mac)) {
            return false;
        }
    }
    if (tc_reader_left(&r) != 0) {
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

CK_RV tcore_meta_encode(const tcore_meta *m, const char *tokid, const uint8_t *ik, tc_buf *out)
{
    uint8_t mac[MAC_LEN];
    tc_buf b;
    CK_RV rv;

    if (m->blob_len > UINT32_MAX) {
        return CKR_GENERAL_ERROR;
    }
    tc_buf_init(&b);
    tc_buf_put(&b, META_V2_MAGIC, 4);
    tc_buf_put_u64(&b, (uint64_t)m->slot);
    tc_buf_put(&b, m->label, 32);
    tc_buf_put_u64(&b, m->gen);
    tc_buf_put(&b, m->key_id, TCORE_KEY_ID_LEN);
    tc_buf_put_u8(&b, m->so_fail);
    tc_buf_put_u8(&b, m->user_fail);
    tc_buf_put_u32(&b, m->flags);
    tc_buf_put_u64(&b, m->nobj);
    tc_buf_put_u64(&b, m->nix);
    tc_buf_put_u32(&b, (uint32_t)m->blob_len);
    tc_buf_put(&b, m->blob, m->blob_len);
    if (b.failed) {
        tc_buf_free(&b);
        return CKR_HOST_MEMORY;
    }
    rv = mac_of(ik, "tessera meta v2", tokid, 0, b.p, b.len, mac);
    if (rv != CKR_OK) {
        tc_buf_free(&b);
        return rv;
    }
    tc_buf_put(&b, mac, sizeof(mac));
    if (b.failed) {
        tc_buf_free(&b);
        return CKR_HOST_MEMORY;
    }
    *out = b;
    return CKR_OK;
}

CK_RV tcore_head_encode(const char *tokid, const uint8_t *ik, uint64_t gen,
                        const uint8_t *meta, size_t meta_len, tc_buf *out)
{
    uint8_t body[4 + 8 + HASH_LEN], mac[MAC_LEN];
    CK_RV rv;

    memcpy(body, HEAD_MAGIC, 4);
    tc_store_u64(body + 4, gen);
    rv = hash_of(meta, meta_len, body + 12);
    if (rv == CKR_OK) {
        rv = mac_of(ik, "tessera head v2", tokid, 0, body, sizeof(body), mac);
    }
    if (rv != CKR_OK) {
        return rv;
    }
    tc_buf_init(out);
    tc_buf_put(out, body, sizeof(body));
    tc_buf_put(out, mac, sizeof(mac));
    if (out->failed) {
        tc_buf_free(out);
        return CKR_HOST_MEMORY;
    }
    return CKR_OK;
}

/* The witness must be exactly the one written with this metadata record. */
static CK_RV head_check(tcore_token *t, const uint8_t *head, size_t head_len, uint64_t gen,
                        const uint8_t *meta, size_t meta_len, bool log)
{
    uint8_t mac[MAC_LEN], hash[HASH_LEN];
    if (head_len != HEAD_LEN || memcmp(head, HEAD_MAGIC, 4) != 0 ||
        mac_of(t->set->ik, "tessera head v2", t->id, 0, head, HEAD_LEN - MAC_LEN, mac) != CKR_OK ||
        !tcrypto_memeq(mac, head + HEAD_LEN - MAC_LEN, MAC_LEN)) {
        if (log) {
            TC_ERROR(TCORE_LOG, "token %s: the metadata's witness record fails its integrity "
                                "check",
                     t->id);
        }
        return CKR_DEVICE_ERROR;
    }
    uint64_t hgen = tc_load_u64(head + 4);
    if (hash_of(meta, meta_len, hash) != CKR_OK) {
        return CKR_FUNCTION_FAILED;
    }
    if (hgen != gen || !tcrypto_memeq(hash, head + 12, HASH_LEN)) {
        if (log) {
            TC_ERROR(TCORE_LOG,
                     "token %s: metadata rolled back or replaced (generation %llu, its witness "
                     "names generation %llu)",
                     t->id, (unsigned long long)gen, (unsigned long long)hgen);
        }
        return CKR_DEVICE_ERROR;
    }
    return CKR_OK;
}

void tcore_meta_note_gen(tcore_token *t, uint64_t gen)
{
    uint64_t cur = atomic_load(&t->meta_gen);
    while (cur < gen && !atomic_compare_exchange_weak(&t->meta_gen, &cur, gen)) {
    }
}

/* Read and check the v2 metadata; *v1 set (and nothing else done) when the
 * record is still v1. CKR_FUNCTION_REJECTED: a commit raced the reads. */
static CK_RV meta_fetch_once(tcore_token *t, tcore_meta *m, bool *v1)
{
    char key[64], hkey[64];
    tstore_kv kv, hv;
    tstore_rc src;
    size_t signed_len = 0;
    uint8_t mac[MAC_LEN];
    CK_RV rv = CKR_DEVICE_ERROR;
    tcore_meta r;

    /* taken before the read: a commit noted after this point may be newer
     * than what the read returns without anything being wrong */
    uint64_t seen = atomic_load(&t->meta_gen);
    *v1 = false;
    memset(&r, 0, sizeof(r));
    memset(&hv, 0, sizeof(hv));
    tcore_key_meta(key, sizeof(key), t->id);
    src = tstore_get(t->set->store, key, strlen(key), &kv);
    if (src == TSTORE_NOT_FOUND) {
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    if (src != TSTORE_OK) {
        TC_ERROR(TCORE_LOG, "token %s: reading metadata: %s", t->id, tstore_rc_str(src));
        return src == TSTORE_BUSY ? CKR_FUNCTION_FAILED : CKR_DEVICE_ERROR;
    }
    if (!tcore_meta_decode(kv.value, kv.value_len, &r, &signed_len)) {
        TC_ERROR(TCORE_LOG, "token %s: metadata record is malformed", t->id);
        goto out;
    }
    if (r.version == 1) {
        *v1 = true;
        rv = CKR_OK;
        goto out;
    }
    if (mac_of(t->set->ik, "tessera meta v2", t->id, 0, kv.value, signed_len, mac) != CKR_OK) {
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    if (!tcrypto_memeq(mac, kv.value + signed_len, MAC_LEN)) {
        TC_ERROR(TCORE_LOG, "token %s: metadata fails its integrity check (edited, or the "
                            "store's key file replaced)",
                 t->id);
        goto out;
    }
    tcore_key_head(hkey, sizeof(hkey), t->id);
    src = tstore_get(t->set->store, hkey, strlen(hkey), &hv);
    if (src != TSTORE_OK && src != TSTORE_NOT_FOUND) {
        TC_ERROR(TCORE_LOG, "token %s: reading metadata: %s", t->id, tstore_rc_str(src));
        goto out;
    }
    rv = src == TSTORE_OK
             ? head_check(t, hv.value, hv.value_len, r.gen, kv.value, kv.value_len, false)
             : CKR_DEVICE_ERROR;
    if (rv == CKR_DEVICE_ERROR) {
        /* two reads: a commit between them moves both records; only a
         * mismatch that stays is reported */
        tstore_kv again;
        if (tstore_get(t->set->store, key, strlen(key), &again) == TSTORE_OK) {
            bool moved = again.mod_rev != kv.mod_rev;
            tstore_kv_free(&again);
            if (moved) {
                rv = CKR_FUNCTION_REJECTED;
                goto out;
            }
        }
        if (src == TSTORE_NOT_FOUND) {
            TC_ERROR(TCORE_LOG, "token %s: the metadata's witness record is missing", t->id);
        } else {
            (void)head_check(t, hv.value, hv.value_len, r.gen, kv.value, kv.value_len, true);
        }
        goto out;
    }
    if (rv != CKR_OK) {
        goto out;
    }
    if (seen > r.gen) {
        /* this process saw a newer generation of the same token */
        TC_ERROR(TCORE_LOG, "token %s: metadata rolled back (generation %llu, seen %llu)", t->id,
                 (unsigned long long)r.gen, (unsigned long long)seen);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (t->set->anchor != NULL) {
        uint64_t ag = 0;
        rv = t->set->anchor->read(t->set->anchor->ctx, t->id, &ag);
        if (rv != CKR_OK) {
            TC_ERROR(TCORE_LOG, "token %s: the anchor cannot be read", t->id);
            goto out;
        }
        if (ag > r.gen) {
            TC_ERROR(TCORE_LOG,
                     "token %s: store rolled back (generation %llu, the anchor holds %llu)",
                     t->id, (unsigned long long)r.gen, (unsigned long long)ag);
            rv = CKR_DEVICE_ERROR;
            goto out;
        }
    }
    if (r.slot != t->slot) {
        /* the slot registry (unauthenticated) names this token under a
         * slot its metadata does not claim: rows moved between slots */
        TC_ERROR(TCORE_LOG, "token %s: found under slot %lu, its metadata names slot %lu",
                 t->id, (unsigned long)t->slot, (unsigned long)r.slot);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    r.mod_rev = kv.mod_rev;
    tcore_meta_note_gen(t, r.gen);
    *m = r;
    memset(&r, 0, sizeof(r));
    rv = CKR_OK;
out:
    tcore_meta_free(&r);
    tstore_kv_free(&kv);
    tstore_kv_free(&hv);
    return rv;
}

static CK_RV meta_fetch(tcore_token *t, tcore_meta *m, bool *v1)
{
    CK_RV rv = CKR_FUNCTION_REJECTED;
    for (int i = 0; i < 8 && rv == CKR_FUNCTION_REJECTED; i++) {
        rv = meta_fetch_once(t, m, v1);
    }
    return rv == CKR_FUNCTION_REJECTED ? CKR_DEVICE_ERROR : rv;
}

CK_RV tcore_meta_fetch(tcore_token *t, tcore_meta *m)
{
    bool v1 = false;
    CK_RV rv = meta_fetch(t, m, &v1);
    if (rv == CKR_OK && v1) {
        TC_ERROR(TCORE_LOG, "token %s: metadata still in format v1", t->id);
        return CKR_DEVICE_ERROR;
    }
    return rv;
}

CK_RV tcore_meta_load(tcore_token *t, tcore_meta *m)
{
    for (int i = 0; i < 3; i++) {
        bool v1 = false;
        CK_RV rv = meta_fetch(t, m, &v1);
        if (rv != CKR_OK || !v1) {
            if (rv == CKR_OK) {
                atomic_store(&t->fmt, 2);
            }
            return rv;
        }
        rv = tcore_migrate_open(t);
        if (rv != CKR_OK && rv != CKR_FUNCTION_REJECTED) {
            return rv;
        }
    }
    return CKR_DEVICE_ERROR;
}

CK_RV tcore_meta_ensure_v2(tcore_token *t)
{
    if (atomic_load(&t->fmt) == 2) {
        return CKR_OK;
    }
    tcore_meta m;
    CK_RV rv = tcore_meta_load(t, &m);
    if (rv == CKR_OK) {
        tcore_meta_free(&m);
    }
    return rv;
}

/* ---- manifest ------------------------------------------------------------------ */

static CK_RV mf_encode(const char *tokid, const uint8_t *ik, uint64_t id, const tcore_mf *e,
                       const uint8_t *rec, size_t rec_len, uint8_t out[TCORE_MF_LEN])
{
    uint8_t *p = out;
    CK_RV rv;

    memcpy(p, MF_MAGIC, 4);
    p[4] = e->version;
    tc_store_u64(p + 5, e->serial);
    tc_store_u64(p + 13, e->gen);
    tc_store_u32(p + 21, e->nix);
    rv = hash_of(rec, rec_len, p + 25);
    if (rv != CKR_OK) {
        return rv;
    }
    return mac_of(ik, "tessera manifest v2", tokid, id, out, TCORE_MF_LEN - MAC_LEN,
                  out + TCORE_MF_LEN - MAC_LEN);
}

CK_RV tcore_mf_put(tcore_txn *x, tcore_token *t, uint64_t id, const tcore_mf *e,
                   const uint8_t *rec, size_t rec_len)
{
    char key[64];
    uint8_t ent[TCORE_MF_LEN];
    CK_RV rv = mf_encode(t->id, t->set->ik, id, e, rec, rec_len, ent);
    if (rv != CKR_OK) {
        return rv;
    }
    tcore_key_mf(key, sizeof(key), t->id, id);
    tcore_txn_put(x, key, ent, sizeof(ent));
    return CKR_OK;
}

/* A record its manifest entry does not vouch for: an older copy is told
 * from a replacement when the record says which serial it is (its own
 * header; only a hint for the log). */
static void log_mismatch(const tcore_token *t, uint64_t id, const uint8_t *rec, size_t rec_len,
                         uint64_t serial)
{
    uint64_t rs = 0;
    if (rec_len >= 48 && memcmp(rec, "TSO2", 4) == 0) {
        rs = tc_load_u64(rec + 4 + 8 + 8 + 8 + 4);
    }
    if (rs != 0 && rs < serial) {
        TC_ERROR(TCORE_LOG,
                 "token %s: object %016llx rolled back (record serial %llu, the manifest names "
                 "serial %llu): refused",
                 t->id, (unsigned long long)id, (unsigned long long)rs,
                 (unsigned long long)serial);
    } else {
        TC_ERROR(TCORE_LOG,
                 "token %s: object %016llx: its record does not match its manifest entry "
                 "(replaced): refused",
                 t->id, (unsigned long long)id);
    }
}

static CK_RV mf_check(tcore_token *t, uint64_t id, const uint8_t *ent, size_t ent_len,
                      const uint8_t *rec, size_t rec_len, tcore_mf *e, bool log)
{
    uint8_t mac[MAC_LEN], hash[HASH_LEN];
    tcore_mf r;

    if (ent == NULL) {
        if (log) {
            TC_ERROR(TCORE_LOG,
                     "token %s: object %016llx has no manifest entry (a deleted object put back, "
                     "or a record injected): refused",
                     t->id, (unsigned long long)id);
        }
        return CKR_DEVICE_ERROR;
    }
    if (ent_len != TCORE_MF_LEN || memcmp(ent, MF_MAGIC, 4) != 0 ||
        mac_of(t->set->ik, "tessera manifest v2", t->id, id, ent, TCORE_MF_LEN - MAC_LEN,
               mac) != CKR_OK ||
        !tcrypto_memeq(mac, ent + TCORE_MF_LEN - MAC_LEN, MAC_LEN)) {
        if (log) {
            TC_ERROR(TCORE_LOG, "token %s: object %016llx: its manifest entry fails its integrity "
                                "check: refused",
                     t->id, (unsigned long long)id);
        }
        return CKR_DEVICE_ERROR;
    }
    r.version = ent[4];
    r.serial = tc_load_u64(ent + 5);
    r.gen = tc_load_u64(ent + 13);
    r.nix = tc_load_u32(ent + 21);
    memcpy(r.hash, ent + 25, HASH_LEN);
    if (hash_of(rec, rec_len, hash) != CKR_OK) {
        return CKR_FUNCTION_FAILED;
    }
    if (!tcrypto_memeq(hash, r.hash, HASH_LEN)) {
        if (log) {
            log_mismatch(t, id, rec, rec_len, r.serial);
        }
        return CKR_DEVICE_ERROR;
    }
    if (r.gen > atomic_load(&t->meta_gen)) {
        /* written after the metadata we know: re-read it */
        tcore_meta m;
        CK_RV rv = tcore_meta_load(t, &m);
        if (rv != CKR_OK) {
            return rv;
        }
        uint64_t mg = m.gen;
        tcore_meta_free(&m);
        if (r.gen > mg) {
            if (log) {
                TC_ERROR(TCORE_LOG,
                         "token %s: metadata rolled back (generation %llu, object %016llx was "
                         "written at %llu)",
                         t->id, (unsigned long long)mg, (unsigned long long)id,
                         (unsigned long long)r.gen);
            }
            return CKR_DEVICE_ERROR;
        }
    }
    *e = r;
    return CKR_OK;
}

CK_RV tcore_mf_check(tcore_token *t, uint64_t id, const uint8_t *ent, size_t ent_len,
                     const uint8_t *rec, size_t rec_len, tcore_mf *e)
{
    return mf_check(t, id, ent, ent_len, rec, rec_len, e, true);
}

CK_RV tcore_mf_verify(tcore_token *t, uint64_t id, const uint8_t *ent, size_t ent_len,
                      const uint8_t *rec, size_t rec_len, tcore_mf *e)
{
    return mf_check(t, id, ent, ent_len, rec, rec_len, e, false);
}
