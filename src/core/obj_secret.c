/*
 * Key material of objects: opening the sealed part of a stored object,
 * private and public keys as crypto keys, and shared references to a secret
 * key's value with a small pool of keyed AES-GCM contexts.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "core/mech_int.h"


/* Keyed AES-GCM contexts kept with a secret for the next operation. */
#define SECRET_GCM_POOL 4


/* The header lives on the ordinary heap, the value on the secure heap. The
 * pooled contexts are pointed to from here, where the leak checker can see
 * them (it does not scan the secure heap). */
struct tcore_secret {
    atomic_uint refs;
    tcore_token *token; /* NULL: not bound to a login (session objects) */
    uint64_t epoch;
    size_t len;
    /* Each slot is taken with an atomic exchange, so a context is only ever
     * used by the one operation that took it. A slot per cache line, and
     * each thread starts at its own slot: threads using one key do not
     * fight over a line. */
    struct {
        _Atomic(tcrypto_gcm *) p;
        uint8_t pad[64 - sizeof(tcrypto_gcm *)];
    } gcm[SECRET_GCM_POOL];
    uint8_t *val; /* secure heap */
};

/* This thread's first pool slot. */
static size_t pool_start(void)
{
    static atomic_uint next;
    static _Thread_local unsigned slot = UINT_MAX;
    if (slot == UINT_MAX) {
        slot = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) % SECRET_GCM_POOL;
    }
    return slot;
}

void tcore_secret_unref(tcore_secret *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < SECRET_GCM_POOL; i++) {
        tcrypto_gcm_free(atomic_exchange(&s->gcm[i].p, NULL));
    }
    tcrypto_secure_free(s->val, s->len); /* wipes */
    free(s);
}

tcrypto_gcm *tcore_secret_gcm_take(tcore_secret *s)
{
    size_t first = pool_start();
    for (size_t k = 0; k < SECRET_GCM_POOL; k++) {
        size_t i = (first + k) % SECRET_GCM_POOL;
        if (atomic_load_explicit(&s->gcm[i].p, memory_order_relaxed) == NULL) {
            continue;
        }
        tcrypto_gcm *g = atomic_exchange_explicit(&s->gcm[i].p, NULL, memory_order_acquire);
        if (g != NULL) {
            return g;
        }
    }
    return NULL;
}

void tcore_secret_gcm_give(tcore_secret *s, tcrypto_gcm *g)
{
    size_t n;
    if (g == NULL) {
        return;
    }
    /* After a logout the key schedule is not kept for anyone. */
    if (tcore_secret_value(s, &n) != NULL) {
        size_t first = pool_start();
        for (size_t k = 0; k < SECRET_GCM_POOL; k++) {
            size_t i = (first + k) % SECRET_GCM_POOL;
            tcrypto_gcm *expect = NULL;
            if (atomic_compare_exchange_strong_explicit(&s->gcm[i].p, &expect, g,
                                                        memory_order_release,
                                                        memory_order_relaxed)) {
                return;
            }
        }
    }
    tcrypto_gcm_free(g);
}

const uint8_t *tcore_secret_value(const tcore_secret *s, size_t *len)
{
    if (s->token != NULL && !tcore_token_epoch_valid(s->token, s->epoch)) {
        return NULL;
    }
    *len = s->len;
    return s->val;
}

void tcore_obj_wipe_secret_locked(tcore_obj *o)
{
    tcore_secret_unref(o->sref);
    o->sref = NULL;
    if (o->secret != NULL) {
        tcrypto_secure_free(o->secret, o->secret_len);
        o->secret = NULL;
        o->secret_len = 0;
    }
}

/* ---- key material ---------------------------------------------------------- */

/* Private-key material: PKCS#8 DER, or TCORE_TCORE_RSA_NED_MAGIC (core_int.h). */

CK_RV tcore_secret_to_pkey(const uint8_t *secret, size_t len, tcrypto_pkey **out)
{
    if (len >= 4 && memcmp(secret, TCORE_RSA_NED_MAGIC, 4) == 0) {
        tc_reader r;
        uint32_t nl, el, dl;
        tcrypto_rsa_parts p;
        const uint8_t *magic;
        memset(&p, 0, sizeof(p));
        tc_reader_init(&r, secret, len);
        if (!tc_read_ref(&r, 4, &magic) || !tc_read_u32(&r, &nl) || !tc_read_ref(&r, nl, &p.n) ||
            !tc_read_u32(&r, &el) || !tc_read_ref(&r, el, &p.e) || !tc_read_u32(&r, &dl) ||
            !tc_read_ref(&r, dl, &p.d) || tc_reader_left(&r) != 0) {
            return CKR_DEVICE_ERROR;
        }
        p.n_len = nl;
        p.e_len = el;
        p.d_len = dl;
        tcrypto_rc rc = tcrypto_rsa_from_parts(&p, out);
        if (rc == TCRYPTO_ERR_NOMEM) {
            return CKR_HOST_MEMORY;
        }
        return rc == TCRYPTO_OK ? CKR_OK : CKR_DEVICE_ERROR;
    }
    tcrypto_rc rc = tcrypto_pkey_from_pkcs8(secret, len, out);
    if (rc == TCRYPTO_ERR_NOMEM) {
        return CKR_HOST_MEMORY; /* the secure heap is full: not the key's fault */
    }
    return rc == TCRYPTO_OK ? CKR_OK : CKR_DEVICE_ERROR;
}

/* Make sure a stored object's sealed part is open at the current epoch. */
CK_RV tcore_obj_ensure_open_locked(tcore_obj *o)
{
    if (!o->stored) {
        return CKR_OK;
    }
    if (o->opened && !tcore_token_epoch_valid(o->token, o->epoch)) {
        tcore_obj_wipe_secret_locked(o);
        if (o->pkey != NULL && o->cls == CKO_PRIVATE_KEY) {
            tcrypto_pkey_free(o->pkey);
            o->pkey = NULL;
        }
        o->opened = false;
    }
    return tcore_obj_open_locked(o);
}

CK_RV tcore_obj_public_pkey(tcore_obj *o)
{
    const tcore_attr *spki = tcore_attrs_cfind(o->attrs, o->nattrs, CKA_PUBLIC_KEY_INFO);
    tcrypto_pkey *k = NULL;
    if (spki == NULL || spki->len == 0) {
        return CKR_KEY_HANDLE_INVALID;
    }
    if (tcrypto_pkey_from_spki(spki->value, spki->len, &k) != TCRYPTO_OK) {
        TC_ERROR(TCORE_LOG, "object %016llx: stored public key is malformed",
                 (unsigned long long)o->id);
        return CKR_DEVICE_ERROR;
    }
    o->pkey = k;
    return CKR_OK;
}

static CK_RV obj_pkey_once(tcore_obj *o, tcrypto_pkey **out)
{
    CK_RV rv = CKR_OK;
    if (o->cls != CKO_PUBLIC_KEY && o->cls != CKO_PRIVATE_KEY) {
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    tcore_obj_lock(o);
    if (o->destroyed) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        goto out;
    }
    if (o->broken) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (o->cls == CKO_PUBLIC_KEY) {
        /* verify a sealed public key when the key is at hand */
        if (o->stored && o->sealed != NULL) {
            CK_RV orv = tcore_obj_ensure_open_locked(o);
            if (orv != CKR_OK && orv != CKR_USER_NOT_LOGGED_IN) {
                rv = orv;
                goto out;
            }
        }
        if (o->pkey == NULL) {
            rv = tcore_obj_public_pkey(o);
            if (rv != CKR_OK) {
                goto out;
            }
        }
    } else {
        rv = tcore_obj_ensure_open_locked(o);
        if (rv != CKR_OK) {
            goto out;
        }
        if (o->pkey == NULL) {
            tcrypto_pkey *k = NULL;
            rv = o->secret == NULL ? CKR_DEVICE_ERROR
                                   : tcore_secret_to_pkey(o->secret, o->secret_len, &k);
            if (rv == CKR_DEVICE_ERROR) {
                TC_ERROR(TCORE_LOG, "object %016llx: key material is unusable",
                         (unsigned long long)o->id);
            }
            if (rv != CKR_OK) {
                goto out;
            }
            o->pkey = k;
        }
    }
    tcrypto_pkey_ref(o->pkey);
    *out = o->pkey;
out:
    tcore_obj_unlock(o);
    return rv;
}

/* Opening a key needs secure memory, which a long-running process that
 * touches many keys fills with keys it no longer uses: when it runs out,
 * drop the opened keys of cached objects nobody holds and try once more.
 * o itself is held by the caller, so it is never among them. */
static bool evict_for_retry(tcore_obj *o, CK_RV rv)
{
    if (rv != CKR_HOST_MEMORY || o->token == NULL) {
        return false;
    }
    tcore_cache_evict_secrets(o->token);
    return true;
}

CK_RV tcore_obj_pkey(tcore_obj *o, tcrypto_pkey **out)
{
    CK_RV rv = obj_pkey_once(o, out);
    if (evict_for_retry(o, rv)) {
        rv = obj_pkey_once(o, out);
    }
    return rv;
}

static CK_RV obj_secret_once(tcore_obj *o, uint8_t **key, size_t *len)
{
    CK_RV rv;
    uint8_t *copy;
    if (o->cls != CKO_SECRET_KEY) {
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    tcore_obj_lock(o);
    if (o->destroyed) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        goto out;
    }
    rv = tcore_obj_ensure_open_locked(o);
    if (rv != CKR_OK) {
        goto out;
    }
    if (o->secret == NULL || o->secret_len == 0) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    copy = tcrypto_secure_alloc(o->secret_len);
    if (copy == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    memcpy(copy, o->secret, o->secret_len);
    *key = copy;
    *len = o->secret_len;
out:
    tcore_obj_unlock(o);
    return rv;
}

CK_RV tcore_obj_secret(tcore_obj *o, uint8_t **key, size_t *len)
{
    CK_RV rv = obj_secret_once(o, key, len);
    if (evict_for_retry(o, rv)) {
        rv = obj_secret_once(o, key, len);
    }
    return rv;
}

/* usage 0: no usage check. */
static CK_RV obj_secret_ref_once(tcore_obj *o, CK_MECHANISM_TYPE mech, CK_ATTRIBUTE_TYPE usage,
                                 tcore_secret **out)
{
    CK_RV rv;
    if (o->cls != CKO_SECRET_KEY) {
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    if (usage != 0) {
        rv = tcore_obj_check_use_pre(o, usage);
        if (rv != CKR_OK) {
            return rv;
        }
    }
    tcore_obj_lock(o);
    if (usage != 0) {
        rv = tcore_obj_check_use_locked(o, mech, usage);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    if (o->destroyed) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        goto out;
    }
    rv = tcore_obj_ensure_open_locked(o);
    if (rv != CKR_OK) {
        goto out;
    }
    if (o->secret == NULL || o->secret_len == 0) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (o->sref == NULL) {
        /* Made once per opening; every operation then borrows it instead of
         * copying the key (a secure-heap allocation takes a global lock). */
        tcore_secret *s = calloc(1, sizeof(*s));
        uint8_t *val = s != NULL ? tcrypto_secure_alloc(o->secret_len) : NULL;
        if (val == NULL) {
            free(s);
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        s->val = val;
        atomic_init(&s->refs, 1);
        for (size_t i = 0; i < SECRET_GCM_POOL; i++) {
            atomic_init(&s->gcm[i].p, NULL);
        }
        s->token = o->stored ? o->token : NULL;
        s->epoch = o->opened ? o->epoch : (o->stored ? atomic_load(&o->token->epoch) : 0);
        s->len = o->secret_len;
        memcpy(s->val, o->secret, o->secret_len);
        o->sref = s;
    }
    atomic_fetch_add(&o->sref->refs, 1);
    *out = o->sref;
out:
    tcore_obj_unlock(o);
    return rv;
}

CK_RV tcore_obj_secret_ref(tcore_obj *o, tcore_secret **out)
{
    CK_RV rv = obj_secret_ref_once(o, 0, 0, out);
    if (evict_for_retry(o, rv)) {
        rv = obj_secret_ref_once(o, 0, 0, out);
    }
    return rv;
}

CK_RV tcore_obj_secret_ref_use(tcore_obj *o, CK_MECHANISM_TYPE mech, CK_ATTRIBUTE_TYPE usage,
                               tcore_secret **out)
{
    CK_RV rv = obj_secret_ref_once(o, mech, usage, out);
    if (evict_for_retry(o, rv)) {
        rv = obj_secret_ref_once(o, mech, usage, out);
    }
    return rv;
}
