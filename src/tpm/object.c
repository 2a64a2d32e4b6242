/*
 * Objects and entities: slots for loaded objects, names (Part 1 §16),
 * authValues and policies of every entity type, key generation for a
 * template, and the protection of a sensitive area under a storage parent
 * (Part 1 §23: TPM2B_PRIVATE = integrity HMAC || CFB-encrypted sensitive).
 */
#include <stdlib.h>
#include <string.h>

#include "tpm/ttpm.h"

ttpm_object *ttpm_obj_get(ttpm *t, uint32_t h)
{
    if (ttpm_handle_type(h) == TPM_HT_TRANSIENT) {
        uint32_t i = h - TTPM_TRANSIENT_FIRST;
        if (i < TTPM_MAX_OBJECTS && t->obj[i].used && t->obj[i].handle == h) {
            t->obj[i].age = ++t->obj_age;
            return &t->obj[i];
        }
        return NULL;
    }
    if (ttpm_handle_type(h) == TPM_HT_PERSISTENT) {
        for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++)
            if (t->pobj[i].used && t->pobj[i].handle == h)
                return &t->pobj[i];
    }
    return NULL;
}

ttpm_object *ttpm_obj_alloc(ttpm *t)
{
    /* Without a resource manager tpm2-tools never flush what they load, so
     * when every slot is taken the least recently used object is evicted
     * (its saved contexts stay valid); a chip, and the strict profile,
     * answer TPM_RC_OBJECT_MEMORY instead (the caller, on NULL). */
    unsigned max = t->max_objects < TTPM_MAX_OBJECTS ? t->max_objects : TTPM_MAX_OBJECTS;
    bool full = true;
    unsigned lru = 0;
    for (unsigned i = 0; i < max; i++) {
        if (!t->obj[i].used) {
            full = false;
            break;
        }
        if (t->obj[i].age < t->obj[lru].age)
            lru = i;
    }
    if (full && t->strict_capacity)
        return NULL;
    if (full)
        ttpm_obj_free(&t->obj[lru]);
    for (unsigned i = 0; i < max; i++) {
        if (!t->obj[i].used) {
            ttpm_object *o = &t->obj[i];
            memset(o, 0, sizeof(*o));
            o->used = true;
            o->handle = TTPM_TRANSIENT_FIRST + i;
            o->age = ++t->obj_age;
            return o;
        }
    }
    return NULL;
}

void ttpm_obj_free(ttpm_object *o)
{
    tcrypto_tpm_key_free(o->key);
    for (unsigned i = 0; i < TTPM_NUM_BANKS; i++)
        tcrypto_tpm_md_free(o->md[i]);
    tc_wipe(o, sizeof(*o));
}

ttpm_rc ttpm_obj_set_name(ttpm_object *o)
{
    uint8_t buf[1024];
    size_t len;
    /* An object whose nameAlg is TPM_ALG_NULL (sequence objects, some
     * LoadExternal keys) has the Empty Buffer as its Name (Part 1 §16), and
     * callers compute the cpHash of sequence commands with it. */
    if (o->pub.name_alg == TPM_ALG_NULL) {
        o->name_len = 0;
        return TPM_RC_SUCCESS;
    }
    if (!ttpm_public_bytes(&o->pub, buf, sizeof(buf), &len))
        return TPM_RC_SIZE;
    tcrypto_tpm_iov v = { buf, len };
    tc_store_u16(o->name, o->pub.name_alg);
    if (tcrypto_tpm_hash(o->pub.name_alg, &v, 1, o->name + 2) != TCRYPTO_OK)
        return TPM_RC_HASH;
    o->name_len = (uint16_t)(2 + tcrypto_tpm_hash_size(o->pub.name_alg));
    return TPM_RC_SUCCESS;
}

static ttpm_nv *nv_find(ttpm *t, uint32_t h)
{
    for (unsigned k = 0; k < TTPM_MAX_NV; k++)
        if (t->perm.nv[k].used && t->perm.nv[k].index == h)
            return &t->perm.nv[k];
    return NULL;
}

ttpm_rc ttpm_entity_name(ttpm *t, uint32_t h, uint8_t *name, uint16_t *len)
{
    uint8_t ht = ttpm_handle_type(h);
    if (ht == TPM_HT_TRANSIENT || ht == TPM_HT_PERSISTENT) {
        ttpm_object *o = ttpm_obj_get(t, h);
        if (o == NULL)
            return TPM_RC_HANDLE;
        memcpy(name, o->name, o->name_len);
        *len = o->name_len;
        return TPM_RC_SUCCESS;
    }
    if (ht == TPM_HT_NV_INDEX) {
        ttpm_nv *nv = nv_find(t, h);
        if (nv == NULL)
            return TPM_RC_HANDLE;
        /* Part 1 §16: nameAlg || H(TPMS_NV_PUBLIC) */
        tc_buf b;
        tc_buf_init(&b);
        tc_buf_put_u32(&b, nv->index);
        tc_buf_put_u16(&b, nv->name_alg);
        tc_buf_put_u32(&b, nv->attrs);
        ttpm_put_2b(&b, nv->policy, nv->policy_len);
        tc_buf_put_u16(&b, nv->size);
        ttpm_rc rc = TPM_RC_FAILURE;
        tcrypto_tpm_iov v = { b.p, b.len };
        if (!b.failed && tcrypto_tpm_hash(nv->name_alg, &v, 1, name + 2) == TCRYPTO_OK) {
            tc_store_u16(name, nv->name_alg);
            *len = (uint16_t)(2 + tcrypto_tpm_hash_size(nv->name_alg));
            rc = TPM_RC_SUCCESS;
        }
        tc_buf_free(&b);
        return rc;
    }
    tc_store_u32(name, h);
    *len = 4;
    return TPM_RC_SUCCESS;
}

bool ttpm_entity_auth(ttpm *t, uint32_t h, const uint8_t **auth, uint16_t *len)
{
    ttpm_perm *p = &t->perm;
    switch (h) {
    case TPM_RH_OWNER: *auth = p->owner_auth; *len = p->owner_auth_len; return true;
    case TPM_RH_ENDORSEMENT: *auth = p->endorsement_auth; *len = p->endorsement_auth_len; return true;
    case TPM_RH_LOCKOUT: *auth = p->lockout_auth; *len = p->lockout_auth_len; return true;
    case TPM_RH_PLATFORM:
    case TPM_RH_PLATFORM_NV: *auth = p->platform_auth; *len = p->platform_auth_len; return true;
    default: break;
    }
    uint8_t ht = ttpm_handle_type(h);
    if (ht == TPM_HT_TRANSIENT || ht == TPM_HT_PERSISTENT) {
        ttpm_object *o = ttpm_obj_get(t, h);
        if (o == NULL)
            return false;
        *auth = o->sens.auth;
        *len = o->sens.auth_len;
        return true;
    }
    if (ht == TPM_HT_NV_INDEX) {
        ttpm_nv *nv = nv_find(t, h);
        if (nv == NULL)
            return false;
        *auth = nv->auth;
        *len = nv->auth_len;
        return true;
    }
    if (ht == TPM_HT_PCR && ttpm_pcr_in_auth_group(h)) {
        *auth = t->pcr_auth;
        *len = t->pcr_auth_len;
        return true;
    }
    *auth = NULL;
    *len = 0;
    return true;
}

bool ttpm_entity_policy(ttpm *t, uint32_t h, const uint8_t **pol, uint16_t *len, uint16_t *alg)
{
    ttpm_perm *p = &t->perm;
    switch (h) {
    case TPM_RH_OWNER:
        *pol = p->owner_policy; *len = p->owner_policy_len; *alg = p->owner_policy_alg; return true;
    case TPM_RH_ENDORSEMENT:
        *pol = p->endorsement_policy; *len = p->endorsement_policy_len;
        *alg = p->endorsement_policy_alg; return true;
    case TPM_RH_LOCKOUT:
        *pol = p->lockout_policy; *len = p->lockout_policy_len; *alg = p->lockout_policy_alg;
        return true;
    case TPM_RH_PLATFORM:
        *pol = p->platform_policy; *len = p->platform_policy_len; *alg = p->platform_policy_alg;
        return true;
    default: break;
    }
    uint8_t ht = ttpm_handle_type(h);
    if (ht == TPM_HT_TRANSIENT || ht == TPM_HT_PERSISTENT) {
        ttpm_object *o = ttpm_obj_get(t, h);
        if (o == NULL)
            return false;
        *pol = o->pub.policy;
        *len = o->pub.policy_len;
        *alg = o->pub.name_alg;
        return true;
    }
    if (ht == TPM_HT_NV_INDEX) {
        ttpm_nv *nv = nv_find(t, h);
        if (nv == NULL)
            return false;
        *pol = nv->policy;
        *len = nv->policy_len;
        *alg = nv->name_alg;
        return true;
    }
    if (ht == TPM_HT_PCR && ttpm_pcr_in_auth_group(h) && p->pcr_policy_len != 0) {
        *pol = p->pcr_policy;
        *len = p->pcr_policy_len;
        *alg = p->pcr_policy_alg;
        return true;
    }
    return false;
}

bool ttpm_hierarchy_enabled(ttpm *t, uint32_t h)
{
    switch (h) {
    case TPM_RH_OWNER: return t->sh_enable;
    case TPM_RH_ENDORSEMENT: return t->eh_enable;
    case TPM_RH_PLATFORM: return t->ph_enable;
    case TPM_RH_NULL: return true;
    default: return false;
    }
}

ttpm_rc ttpm_obj_key(ttpm_object *o, tcrypto_tpm_key **k)
{
    if (o->key) {
        *k = o->key;
        return TPM_RC_SUCCESS;
    }
    tcrypto_rc rc;
    if (o->pub.type == TPM_ALG_RSA) {
        rc = tcrypto_tpm_rsa_key(o->pub.x, o->pub.x_len, o->pub.exponent,
                                 o->has_sens ? o->sens.sens : NULL,
                                 o->has_sens ? o->sens.sens_len : 0, &o->key);
    } else if (o->pub.type == TPM_ALG_ECC) {
        rc = tcrypto_tpm_ecc_key(o->pub.curve, o->pub.x, o->pub.x_len, o->pub.y, o->pub.y_len,
                                 o->has_sens ? o->sens.sens : NULL,
                                 o->has_sens ? o->sens.sens_len : 0, &o->key);
    } else {
        return TPM_RC_KEY;
    }
    if (rc != TCRYPTO_OK)
        return rc == TCRYPTO_ERR_KEY ? TPM_RC_KEY : TPM_RC_FAILURE;
    *k = o->key;
    return TPM_RC_SUCCESS;
}

/* Part 1 §24 (secret sharing), Annex B.10.3 and C.6.4: a fresh seed of
 * nameAlg size for key k is either RSA-OAEP encrypted with the label (its
 * terminating zero included), or derived with KDFe from an ECDH agreement with
 * an ephemeral key whose point (TPMS_ECC_POINT) is the encrypted secret. */
ttpm_rc ttpm_secret_make(ttpm_object *k, const char *label, uint8_t *seed, size_t *seed_len,
                         tc_buf *secret)
{
    uint16_t alg = k->pub.name_alg;
    size_t hs = tcrypto_tpm_hash_size(alg);
    tcrypto_tpm_key *key;
    ttpm_rc rc = ttpm_obj_key(k, &key);
    if (rc)
        return rc;
    if (k->pub.type == TPM_ALG_RSA) {
        uint8_t ct[TTPM_MAX_RSA_BYTES];
        size_t cl = sizeof(ct);
        rc = TPM_RC_FAILURE;
        if (tcrypto_tpm_random(seed, hs) == TCRYPTO_OK &&
            tcrypto_tpm_rsa_encrypt(key, TPM_ALG_OAEP, alg, (const uint8_t *)label,
                                    strlen(label) + 1, seed, hs, ct, &cl) == TCRYPTO_OK) {
            ttpm_put_2b(secret, ct, (uint16_t)cl);
            *seed_len = hs;
            rc = TPM_RC_SUCCESS;
        }
        if (rc)
            tc_wipe(seed, hs);
        return rc;
    }
    if (k->pub.type != TPM_ALG_ECC)
        return TPM_RC_KEY;
    size_t fs = tcrypto_tpm_ecc_size(k->pub.curve);
    uint8_t d[TTPM_MAX_ECC_BYTES], x[TTPM_MAX_ECC_BYTES], y[TTPM_MAX_ECC_BYTES],
        z[TTPM_MAX_ECC_BYTES];
    tcrypto_tpm_key *eph = NULL;
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_ecc_generate(k->pub.curve, NULL, NULL, d, x, y) == TCRYPTO_OK &&
        tcrypto_tpm_ecc_key(k->pub.curve, x, fs, y, fs, d, fs, &eph) == TCRYPTO_OK &&
        tcrypto_tpm_ecdh(eph, k->pub.x, k->pub.x_len, k->pub.y, k->pub.y_len, z, NULL) ==
            TCRYPTO_OK &&
        tcrypto_tpm_kdfe(alg, z, fs, label, x, fs, k->pub.x, k->pub.x_len, (uint32_t)hs * 8,
                         seed) == TCRYPTO_OK) {
        tc_buf_put_u16(secret, (uint16_t)(4 + 2 * fs));
        ttpm_put_2b(secret, x, (uint16_t)fs);
        ttpm_put_2b(secret, y, (uint16_t)fs);
        *seed_len = hs;
        rc = TPM_RC_SUCCESS;
    }
    tcrypto_tpm_key_free(eph);
    tc_wipe(d, sizeof(d));
    tc_wipe(z, sizeof(z));
    return rc;
}

ttpm_rc ttpm_secret_recover(ttpm_object *k, const char *label, const ttpm_ref *secret,
                            uint8_t *seed, size_t *seed_len)
{
    uint16_t alg = k->pub.name_alg;
    size_t hs = tcrypto_tpm_hash_size(alg);
    tcrypto_tpm_key *key;
    ttpm_rc rc = ttpm_obj_key(k, &key);
    if (rc)
        return rc;
    if (k->pub.type == TPM_ALG_RSA) {
        size_t ol = TTPM_MAX_DIGEST;
        if (tcrypto_tpm_rsa_decrypt(key, TPM_ALG_OAEP, alg, (const uint8_t *)label,
                                    strlen(label) + 1, secret->b, secret->size, seed, &ol) !=
            TCRYPTO_OK)
            return TPM_RC_VALUE;
        *seed_len = ol;
        return TPM_RC_SUCCESS;
    }
    if (k->pub.type != TPM_ALG_ECC)
        return TPM_RC_KEY;
    tc_reader r;
    ttpm_ref x, y;
    tc_reader_init(&r, secret->b, secret->size);
    if (ttpm_get_2b(&r, TTPM_MAX_ECC_BYTES, &x) || ttpm_get_2b(&r, TTPM_MAX_ECC_BYTES, &y) ||
        tc_reader_left(&r))
        return TPM_RC_SIZE;
    size_t fs = tcrypto_tpm_ecc_size(k->pub.curve);
    uint8_t z[TTPM_MAX_ECC_BYTES];
    if (tcrypto_tpm_ecdh(key, x.b, x.size, y.b, y.size, z, NULL) != TCRYPTO_OK) {
        tc_wipe(z, sizeof(z));
        return TPM_RC_ECC_POINT;
    }
    tcrypto_rc cr = tcrypto_tpm_kdfe(alg, z, fs, label, x.b, x.size, k->pub.x, k->pub.x_len,
                                     (uint32_t)hs * 8, seed);
    tc_wipe(z, sizeof(z));
    if (cr != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    *seed_len = hs;
    return TPM_RC_SUCCESS;
}

/* ---- cache of derived RSA primaries ------------------------------------- */

#define PCACHE_SIZE 8

typedef struct {
    bool used;
    uint64_t age;
    uint8_t seed_fp[32]; /* which seed: a digest of it, never the seed */
    uint8_t ctx[32];
    ttpm_public pub;
    ttpm_sensitive sens;
} pcache_entry;

struct ttpm_pcache {
    uint64_t age;
    pcache_entry e[PCACHE_SIZE];
};

static bool seed_fp(const uint8_t *seed, uint8_t out[32])
{
    static const char tag[] = "TESSERA PRIMARY CACHE";
    tcrypto_tpm_iov v[2] = { { tag, sizeof(tag) }, { seed, TTPM_SEED_SIZE } };
    return tcrypto_tpm_hash(TPM_ALG_SHA256, v, 2, out) == TCRYPTO_OK;
}

void ttpm_pcache_prune(ttpm *t)
{
    struct ttpm_pcache *c = t->pcache;
    if (c == NULL)
        return;
    uint8_t fp[4][32];
    const uint8_t *seeds[4] = { t->perm.sps, t->perm.eps, t->perm.pps, t->perm.null_proof };
    bool ok = true;
    for (int i = 0; i < 4; i++)
        ok &= seed_fp(seeds[i], fp[i]);
    for (unsigned i = 0; i < PCACHE_SIZE; i++) {
        pcache_entry *e = &c->e[i];
        bool live = false;
        for (int k = 0; ok && k < 4 && e->used; k++)
            live |= tcrypto_memeq(e->seed_fp, fp[k], 32);
        if (e->used && !live)
            tc_wipe(e, sizeof(*e));
    }
}

bool ttpm_pcache_get(ttpm *t, const uint8_t *seed, const uint8_t ctx[32], ttpm_public *p,
                     ttpm_sensitive *s)
{
    struct ttpm_pcache *c = t->pcache;
    uint8_t fp[32];
    if (c == NULL || p->type != TPM_ALG_RSA || !seed_fp(seed, fp))
        return false;
    ttpm_pcache_prune(t);
    for (unsigned i = 0; i < PCACHE_SIZE; i++) {
        pcache_entry *e = &c->e[i];
        if (e->used && tcrypto_memeq(e->seed_fp, fp, 32) && tcrypto_memeq(e->ctx, ctx, 32)) {
            e->age = ++c->age;
            *p = e->pub;
            *s = e->sens;
            return true;
        }
    }
    return false;
}

void ttpm_pcache_put(ttpm *t, const uint8_t *seed, const uint8_t ctx[32], const ttpm_public *p,
                     const ttpm_sensitive *s)
{
    if (p->type != TPM_ALG_RSA)
        return; /* ECC and symmetric primaries are derived in microseconds */
    if (t->pcache == NULL) {
        t->pcache = tcrypto_secure_alloc(sizeof(*t->pcache));
        if (t->pcache == NULL)
            return;
        memset(t->pcache, 0, sizeof(*t->pcache));
    }
    struct ttpm_pcache *c = t->pcache;
    pcache_entry *e = &c->e[0];
    for (unsigned i = 0; i < PCACHE_SIZE; i++) {
        if (!c->e[i].used) {
            e = &c->e[i];
            break;
        }
        if (c->e[i].age < e->age)
            e = &c->e[i];
    }
    tc_wipe(e, sizeof(*e));
    if (!seed_fp(seed, e->seed_fp))
        return;
    memcpy(e->ctx, ctx, 32);
    e->pub = *p;
    e->sens = *s;
    e->age = ++c->age;
    e->used = true;
}

void ttpm_pcache_free(ttpm *t)
{
    if (t->pcache != NULL)
        tcrypto_secure_free(t->pcache, sizeof(*t->pcache));
    t->pcache = NULL;
}

ttpm_rc ttpm_check_template(const ttpm_public *p, bool primary, bool has_data)
{
    (void)primary;
    uint32_t a = p->attrs;
    if (a & TPMA_OBJECT_RESERVED)
        return TPM_RC_RESERVED_BITS;
    if (p->name_alg == TPM_ALG_NULL)
        return TPM_RC_HASH;
    bool restricted = a & TPMA_OBJECT_RESTRICTED, decrypt = a & TPMA_OBJECT_DECRYPT,
         sign = a & TPMA_OBJECT_SIGN;
    /* Part 1 §27.2: fixedTPM requires fixedParent. */
    if ((a & TPMA_OBJECT_FIXEDTPM) && !(a & TPMA_OBJECT_FIXEDPARENT))
        return TPM_RC_ATTRIBUTES;
    if (restricted && decrypt && sign)
        return TPM_RC_ATTRIBUTES;
    if (has_data && (a & TPMA_OBJECT_SENSITIVEDATAORIGIN) && p->type == TPM_ALG_KEYEDHASH)
        return TPM_RC_ATTRIBUTES;
    switch (p->type) {
    case TPM_ALG_RSA:
    case TPM_ALG_ECC:
        if (restricted && decrypt) {
            if (p->sym_alg == TPM_ALG_NULL)
                return TPM_RC_SYMMETRIC;
            if (p->sym_mode != TPM_ALG_CFB)
                return TPM_RC_MODE;
            if (p->scheme != TPM_ALG_NULL)
                return TPM_RC_SCHEME;
        } else if (p->sym_alg != TPM_ALG_NULL) {
            return TPM_RC_SYMMETRIC;
        }
        if (restricted && sign && p->scheme == TPM_ALG_NULL)
            return TPM_RC_SCHEME;
        if (p->type == TPM_ALG_RSA) {
            if (p->key_bits != 1024 && p->key_bits != 2048 && p->key_bits != 3072 &&
                p->key_bits != 4096)
                return TPM_RC_KEY_SIZE;
            if (p->scheme == TPM_ALG_RSASSA || p->scheme == TPM_ALG_RSAPSS) {
                if (!sign)
                    return TPM_RC_SCHEME;
            } else if (p->scheme == TPM_ALG_OAEP || p->scheme == TPM_ALG_RSAES) {
                if (!decrypt)
                    return TPM_RC_SCHEME;
            }
        } else {
            if ((p->scheme == TPM_ALG_ECDSA || p->scheme == TPM_ALG_ECDAA) && !sign)
                return TPM_RC_SCHEME;
        }
        break;
    case TPM_ALG_KEYEDHASH:
        /* Part 2, TPMS_KEYEDHASH_PARMS: with both sign and decrypt
         * the scheme is NULL and chosen when the key is used, and such a key
         * cannot be restricted; an HMAC scheme needs sign, an XOR scheme
         * decrypt; a restricted key names its scheme. */
        /* a restricted decrypt keyed-hash object is a derivation parent: its
         * scheme is XOR, whose hash and KDF derive the children (Part 1,
         * Derived Objects) */
        if (restricted && decrypt && !sign && p->scheme != TPM_ALG_XOR)
            return TPM_RC_SCHEME;
        if (sign && decrypt) {
            if (restricted)
                return TPM_RC_ATTRIBUTES;
            if (p->scheme != TPM_ALG_NULL)
                return TPM_RC_SCHEME;
        }
        if (p->scheme == TPM_ALG_HMAC && !sign)
            return TPM_RC_SCHEME;
        if (p->scheme == TPM_ALG_XOR && !decrypt)
            return TPM_RC_SCHEME;
        if (restricted && p->scheme == TPM_ALG_NULL)
            return TPM_RC_SCHEME;
        if (!sign && !decrypt && !has_data && !(a & TPMA_OBJECT_SENSITIVEDATAORIGIN))
            return TPM_RC_ATTRIBUTES; /* a data object with no data */
        break;
    case TPM_ALG_SYMCIPHER:
        /* sign means "may encrypt" for a symmetric key (Part 2 §8.3.3.1.6). */
        if (restricted && sign)
            return TPM_RC_ATTRIBUTES;
        break;
    default:
        return TPM_RC_TYPE;
    }
    return TPM_RC_SUCCESS;
}

static tcrypto_rc stream_or_random(tcrypto_tpm_stream stream, void *sctx, uint8_t *out, size_t n)
{
    return stream ? stream(sctx, out, n) : tcrypto_tpm_random(out, n);
}

ttpm_rc ttpm_generate(ttpm_public *p, ttpm_sensitive *s, tcrypto_tpm_stream stream, void *sctx,
                      const uint8_t *sens_data, uint16_t sens_data_len)
{
    size_t hs = tcrypto_tpm_hash_size(p->name_alg);
    s->type = p->type;
    s->seed_len = 0;
    s->sens_len = 0;
    bool storage = (p->attrs & TPMA_OBJECT_RESTRICTED) && (p->attrs & TPMA_OBJECT_DECRYPT);
    tcrypto_rc rc = TCRYPTO_OK;
    switch (p->type) {
    case TPM_ALG_RSA: {
        rc = tcrypto_tpm_rsa_generate(p->key_bits, p->exponent, stream, sctx, p->x, s->sens);
        if (rc != TCRYPTO_OK)
            return rc == TCRYPTO_ERR_UNSUPPORTED ? TPM_RC_KEY_SIZE : TPM_RC_FAILURE;
        p->x_len = p->key_bits / 8;
        s->sens_len = p->key_bits / 16;
        break;
    }
    case TPM_ALG_ECC: {
        size_t fs = tcrypto_tpm_ecc_size(p->curve);
        rc = tcrypto_tpm_ecc_generate(p->curve, stream, sctx, s->sens, p->x, p->y);
        if (rc != TCRYPTO_OK)
            return rc == TCRYPTO_ERR_UNSUPPORTED ? TPM_RC_CURVE : TPM_RC_FAILURE;
        p->x_len = p->y_len = (uint16_t)fs;
        s->sens_len = (uint16_t)fs;
        break;
    }
    case TPM_ALG_KEYEDHASH:
    case TPM_ALG_SYMCIPHER: {
        if (sens_data_len > 0 && !(p->attrs & TPMA_OBJECT_SENSITIVEDATAORIGIN)) {
            memcpy(s->sens, sens_data, sens_data_len);
            s->sens_len = sens_data_len;
        } else {
            size_t n;
            if (p->type == TPM_ALG_SYMCIPHER)
                n = p->sym_bits / 8u;
            else
                /* the scheme's hash, or nameAlg when the scheme is chosen at use */
                n = tcrypto_tpm_hash_size(p->scheme_hash != TPM_ALG_NULL && p->scheme_hash != 0
                                              ? p->scheme_hash : p->name_alg);
            if (n == 0 || n > sizeof(s->sens))
                return TPM_RC_KEY_SIZE;
            if ((rc = stream_or_random(stream, sctx, s->sens, n)) != TCRYPTO_OK)
                return TPM_RC_FAILURE;
            s->sens_len = (uint16_t)n;
        }
        /* seedValue obfuscates the digest in unique (Part 1 §27.7.3). */
        if ((rc = stream_or_random(stream, sctx, s->seed, hs)) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        s->seed_len = (uint16_t)hs;
        tcrypto_tpm_iov v[2] = { { s->seed, hs }, { s->sens, s->sens_len } };
        if (tcrypto_tpm_hash(p->name_alg, v, 2, p->x) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        p->x_len = (uint16_t)hs;
        break;
    }
    default:
        return TPM_RC_TYPE;
    }
    if (storage && (p->type == TPM_ALG_RSA || p->type == TPM_ALG_ECC)) {
        /* The protection seed of a storage key (Part 1 §27.6). */
        if (stream_or_random(stream, sctx, s->seed, hs) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        s->seed_len = (uint16_t)hs;
    }
    return TPM_RC_SUCCESS;
}

/* symmetric key and HMAC key of a storage parent for an object name. */
static ttpm_rc protect_keys(ttpm_object *parent, const uint8_t *name, uint16_t name_len,
                            uint8_t *sym, size_t *symlen, uint8_t *hkey, size_t *hlen)
{
    ttpm_public *pp = &parent->pub;
    if (!(pp->attrs & TPMA_OBJECT_RESTRICTED) || !(pp->attrs & TPMA_OBJECT_DECRYPT) ||
        pp->sym_alg != TPM_ALG_AES || !parent->has_sens || parent->sens.seed_len == 0)
        return TPM_RC_TYPE;
    *symlen = pp->sym_bits / 8u;
    *hlen = tcrypto_tpm_hash_size(pp->name_alg);
    if (tcrypto_tpm_kdfa(pp->name_alg, parent->sens.seed, parent->sens.seed_len, "STORAGE", name,
                         name_len, NULL, 0, pp->sym_bits, sym) != TCRYPTO_OK ||
        tcrypto_tpm_kdfa(pp->name_alg, parent->sens.seed, parent->sens.seed_len, "INTEGRITY",
                         NULL, 0, NULL, 0, (uint32_t)*hlen * 8, hkey) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    return TPM_RC_SUCCESS;
}

ttpm_rc ttpm_wrap_sensitive(ttpm_object *parent, const ttpm_sensitive *s, const uint8_t *name,
                            uint16_t name_len, tc_buf *out)
{
    uint8_t sym[32], hkey[TTPM_MAX_DIGEST], hmac[TTPM_MAX_DIGEST], iv[16] = { 0 };
    size_t symlen, hlen;
    tc_buf plain;
    tc_buf_init(&plain);
    ttpm_rc rc = protect_keys(parent, name, name_len, sym, &symlen, hkey, &hlen);
    if (rc)
        goto out;
    tc_buf_put_u16(&plain, 0);
    ttpm_put_sensitive(&plain, s);
    rc = TPM_RC_MEMORY;
    if (plain.failed)
        goto out;
    tc_store_u16(plain.p, (uint16_t)(plain.len - 2));
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_aes_cfb(true, sym, symlen, iv, plain.p, plain.len, plain.p) != TCRYPTO_OK)
        goto out;
    tcrypto_tpm_iov v[2] = { { plain.p, plain.len }, { name, name_len } };
    if (tcrypto_tpm_hmac(parent->pub.name_alg, hkey, hlen, v, 2, hmac) != TCRYPTO_OK)
        goto out;
    tc_buf_put_u16(out, (uint16_t)(2 + hlen + plain.len));
    ttpm_put_2b(out, hmac, (uint16_t)hlen);
    tc_buf_put(out, plain.p, plain.len);
    rc = TPM_RC_SUCCESS;
out:
    tc_wipe(sym, sizeof(sym));
    tc_wipe(hkey, sizeof(hkey));
    tc_buf_free(&plain);
    return rc;
}

ttpm_rc ttpm_unwrap_sensitive(ttpm_object *parent, const uint8_t *priv, uint16_t priv_len,
                              const uint8_t *name, uint16_t name_len, ttpm_sensitive *s)
{
    uint8_t sym[32], hkey[TTPM_MAX_DIGEST], hmac[TTPM_MAX_DIGEST], iv[16] = { 0 };
    size_t symlen, hlen;
    uint8_t *plain = NULL;
    tc_reader r;
    ttpm_ref integ;
    ttpm_rc rc = protect_keys(parent, name, name_len, sym, &symlen, hkey, &hlen);
    if (rc)
        goto out;
    tc_reader_init(&r, priv, priv_len);
    rc = TPM_RC_INTEGRITY;
    if (ttpm_get_2b(&r, TTPM_MAX_DIGEST, &integ) != 0 || integ.size != hlen)
        goto out;
    size_t enc_len = tc_reader_left(&r);
    const uint8_t *enc = r.p + r.off;
    tcrypto_tpm_iov v[2] = { { enc, enc_len }, { name, name_len } };
    if (tcrypto_tpm_hmac(parent->pub.name_alg, hkey, hlen, v, 2, hmac) != TCRYPTO_OK) {
        rc = TPM_RC_FAILURE;
        goto out;
    }
    /* Integrity first, before any decryption (Part 1 §23.4). */
    if (!tcrypto_memeq(hmac, integ.b, hlen))
        goto out;
    plain = malloc(enc_len ? enc_len : 1);
    if (plain == NULL) {
        rc = TPM_RC_MEMORY;
        goto out;
    }
    if (tcrypto_tpm_aes_cfb(false, sym, symlen, iv, enc, enc_len, plain) != TCRYPTO_OK) {
        rc = TPM_RC_FAILURE;
        goto out;
    }
    tc_reader sr;
    ttpm_ref inner;
    tc_reader_init(&sr, plain, enc_len);
    if (ttpm_get_2b(&sr, 0xFFFF, &inner) != 0 || tc_reader_left(&sr) != 0)
        goto out;
    tc_reader ir;
    tc_reader_init(&ir, inner.b, inner.size);
    if (ttpm_get_sensitive(&ir, s) != 0 || tc_reader_left(&ir) != 0)
        goto out;
    rc = TPM_RC_SUCCESS;
out:
    tc_wipe(sym, sizeof(sym));
    tc_wipe(hkey, sizeof(hkey));
    if (plain)
        tc_freezero(plain, enc_len ? enc_len : 1);
    return rc;
}

ttpm_rc ttpm_proof(ttpm *t, uint32_t hierarchy, uint8_t out[32])
{
    const uint8_t *seed;
    switch (hierarchy) {
    case TPM_RH_OWNER: seed = t->perm.sps; break;
    case TPM_RH_ENDORSEMENT: seed = t->perm.eps; break;
    case TPM_RH_PLATFORM: seed = t->perm.pps; break;
    case TPM_RH_NULL: seed = t->perm.null_proof; break;
    default: return TPM_RC_HIERARCHY;
    }
    return tcrypto_tpm_kdfa(TPM_ALG_SHA256, seed, TTPM_SEED_SIZE, "PROOF", NULL, 0, NULL, 0, 256,
                            out) == TCRYPTO_OK
               ? TPM_RC_SUCCESS
               : TPM_RC_FAILURE;
}

ttpm_rc ttpm_ticket(ttpm *t, uint16_t tag, uint32_t hierarchy, const tcrypto_tpm_iov *v, size_t nv,
                    uint8_t out[32])
{
    uint8_t proof[32], hdr[6];
    ttpm_rc rc = ttpm_proof(t, hierarchy, proof);
    if (rc)
        return rc;
    tc_store_u16(hdr, tag);
    tc_store_u32(hdr + 2, hierarchy);
    tcrypto_tpm_iov all[8];
    size_t n = 0;
    all[n++] = (tcrypto_tpm_iov){ hdr, 6 };
    for (size_t i = 0; i < nv && n < TC_ARRAY_LEN(all); i++)
        all[n++] = v[i];
    rc = tcrypto_tpm_hmac(TPM_ALG_SHA256, proof, 32, all, n, out) == TCRYPTO_OK ? TPM_RC_SUCCESS
                                                                             : TPM_RC_FAILURE;
    tc_wipe(proof, sizeof(proof));
    return rc;
}
