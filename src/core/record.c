/*
 * Records: the stored, encrypted-at-rest form of a token object
 * (DESIGN.md "Key hierarchy": secret material sealed with AES-256-GCM under
 * the token key, the object's id, token and security-relevant attributes as
 * associated data).
 *
 * Record v2 (big-endian):
 *   "TSO2" | u64 obj_id | u64 class | u64 key_type | u32 flags | u64 serial |
 *   public attributes (u32 n, n x {u64 type, u32 len, bytes}, sorted) |
 *   u32 sealed_len | sealed = iv[12] || ciphertext || tag[16]
 * Sealed plaintext:
 *   u32 secret_len | secret | private attributes (same encoding)
 * Associated data:
 *   "TSO-AAD2" | token id[16] | u64 obj_id | u64 class | u64 key_type |
 *   u32 flags | u64 serial | key id[16] | the public attributes as encoded
 * Attribute values are portable: CK_ULONG values and mechanism lists as
 * 8-byte big-endian numbers (tcore_attrs_encode_portable), so a store moves
 * between machines. serial grows by one with every rewrite of the object;
 * the key id names the token key (re-initialisation makes a new one). Each
 * record is vouched for by its manifest entry (meta.c), which also protects
 * unsealed records (public objects stored while the token key is locked).
 *
 * For a non-private object every non-secret attribute is public, so every
 * attribute is covered by the tag; a private object keeps only its
 * security-relevant attributes (usage flags, SENSITIVE, EXTRACTABLE,
 * ALLOWED_MECHANISMS, dates, ...) public, the rest sealed.
 *
 * Record v1 ("TSO1", no serial, values in host byte order, "TSO-AAD1"
 * without serial and key id) is still read, for stores written before v2,
 * until migrate.c rewrites it; it is never written.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#define REC_MAGIC_V1 "TSO1"
#define REC_MAGIC "TSO2"
#define AAD_LABEL_V1 "TSO-AAD1"
#define AAD_LABEL "TSO-AAD2"
#define REC_IV 12
#define REC_TAG 16
#define REC_FLAGS_ALL (TCORE_REC_SEALED | TCORE_REC_PRIVATE | TCORE_REC_SECRET)
#define SECRET_MAX (1u << 20)

void tcore_record_free(tcore_record *r)
{
    if (r == NULL) {
        return;
    }
    tcore_attrs_free(r->attrs, r->nattrs);
    free(r->sealed);
    memset(r, 0, sizeof(*r));
}

CK_RV tcore_record_decode(const uint8_t *buf, size_t len, tcore_record *out)
{
    tc_reader r;
    const uint8_t *magic, *sealed;
    uint64_t id, cls, kt, serial = 0;
    uint32_t flags, slen, version;
    tcore_record rec;
    bool ok;

    memset(&rec, 0, sizeof(rec));
    tc_reader_init(&r, buf, len);
    if (!tc_read_ref(&r, 4, &magic)) {
        goto bad;
    }
    if (memcmp(magic, REC_MAGIC, 4) == 0) {
        version = 2;
    } else if (memcmp(magic, REC_MAGIC_V1, 4) == 0) {
        version = 1;
    } else {
        goto bad;
    }
    if (!tc_read_u64(&r, &id) || !tc_read_u64(&r, &cls) || !tc_read_u64(&r, &kt) ||
        !tc_read_u32(&r, &flags) || (version == 2 && !tc_read_u64(&r, &serial))) {
        goto bad;
    }
    if ((flags & ~REC_FLAGS_ALL) != 0 || cls != (CK_OBJECT_CLASS)cls ||
        kt != (CK_KEY_TYPE)kt || id == 0) {
        goto bad;
    }
    if (((flags & (TCORE_REC_PRIVATE | TCORE_REC_SECRET)) != 0) &&
        (flags & TCORE_REC_SEALED) == 0) {
        goto bad;
    }
    if (version == 2) {
        ok = tcore_attrs_decode_portable(&r, (CK_OBJECT_CLASS)cls, (CK_KEY_TYPE)kt, &rec.attrs,
                                         &rec.nattrs);
    } else {
        ok = tcore_attrs_decode(&r, &rec.attrs, &rec.nattrs);
    }
    if (!ok) {
        goto bad;
    }
    if (!tc_read_u32(&r, &slen) || !tc_read_ref(&r, slen, &sealed) || tc_reader_left(&r) != 0) {
        goto bad;
    }
    if ((flags & TCORE_REC_SEALED) != 0) {
        if (slen < REC_IV + REC_TAG + 4) {
            goto bad;
        }
        rec.sealed = malloc(slen);
        if (rec.sealed == NULL) {
            goto bad;
        }
        memcpy(rec.sealed, sealed, slen);
        rec.sealed_len = slen;
    } else if (slen != 0) {
        goto bad;
    }
    rec.obj_id = id;
    rec.cls = (CK_OBJECT_CLASS)cls;
    rec.key_type = (CK_KEY_TYPE)kt;
    rec.flags = flags;
    rec.version = version;
    rec.serial = serial;
    *out = rec;
    return CKR_OK;
bad:
    tcore_record_free(&rec);
    return CKR_DEVICE_ERROR;
}

static CK_RV decode_sealed(const uint8_t *buf, size_t len, bool portable, CK_OBJECT_CLASS cls,
                           CK_KEY_TYPE kt, uint8_t **secret, size_t *secret_len,
                           tcore_attr **attrs, size_t *nattrs)
{
    tc_reader r;
    uint32_t slen;
    const uint8_t *s;
    uint8_t *sec = NULL;
    tcore_attr *a = NULL;
    size_t n = 0;

    tc_reader_init(&r, buf, len);
    if (!tc_read_u32(&r, &slen) || slen > SECRET_MAX || !tc_read_ref(&r, slen, &s)) {
        return CKR_DEVICE_ERROR;
    }
    if (slen > 0) {
        sec = tcrypto_secure_alloc(slen);
        if (sec == NULL) {
            return CKR_HOST_MEMORY;
        }
        memcpy(sec, s, slen);
    }
    bool ok = portable ? tcore_attrs_decode_portable(&r, cls, kt, &a, &n)
                       : tcore_attrs_decode(&r, &a, &n);
    if (!ok || tc_reader_left(&r) != 0) {
        tcore_attrs_free(a, n);
        tcrypto_secure_free(sec, slen);
        return CKR_DEVICE_ERROR;
    }
    *secret = sec;
    *secret_len = slen;
    *attrs = a;
    *nattrs = n;
    return CKR_OK;
}

CK_RV tcore_record_decode_sealed(const uint8_t *buf, size_t len, uint8_t **secret,
                                 size_t *secret_len, tcore_attr **attrs, size_t *nattrs)
{
    return decode_sealed(buf, len, false, 0, 0, secret, secret_len, attrs, nattrs);
}

CK_RV tcore_record_decode_sealed_v2(const uint8_t *buf, size_t len, CK_OBJECT_CLASS cls,
                                    CK_KEY_TYPE kt, uint8_t **secret, size_t *secret_len,
                                    tcore_attr **attrs, size_t *nattrs)
{
    return decode_sealed(buf, len, true, cls, kt, secret, secret_len, attrs, nattrs);
}

/* The associated data of a record of `version` (key_id: v2 only). */
static void build_aad(tc_buf *b, uint32_t version, const char *token_id, uint64_t id,
                      CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, uint32_t flags, uint64_t serial,
                      const uint8_t *key_id, const tcore_attr *pub, size_t npub)
{
    uint8_t tid[16];
    size_t tl = strlen(token_id);
    memset(tid, 0, sizeof(tid));
    memcpy(tid, token_id, tl < 16 ? tl : 16);
    tc_buf_put(b, version == 2 ? AAD_LABEL : AAD_LABEL_V1, 8);
    tc_buf_put(b, tid, 16);
    tc_buf_put_u64(b, id);
    tc_buf_put_u64(b, (uint64_t)cls);
    tc_buf_put_u64(b, (uint64_t)kt);
    tc_buf_put_u32(b, flags);
    if (version == 2) {
        tc_buf_put_u64(b, serial);
        tc_buf_put(b, key_id, TCORE_KEY_ID_LEN);
        tcore_attrs_encode_portable(b, cls, kt, pub, npub);
    } else {
        tcore_attrs_encode(b, pub, npub);
    }
}

/* Decrypt and decode a sealed part with the exact AAD. */
static CK_RV open_sealed(const char *token_id, const tcore_record *rec, const uint8_t *key,
                         uint8_t **secret, size_t *secret_len, tcore_attr **attrs, size_t *nattrs)
{
    tc_buf aad;
    uint8_t *pt = NULL;
    size_t ctlen;
    CK_RV rv = CKR_DEVICE_ERROR;
    tcrypto_rc crc;

    tc_buf_init(&aad);
    if (rec->sealed == NULL || rec->sealed_len < REC_IV + REC_TAG) {
        return CKR_DEVICE_ERROR;
    }
    ctlen = rec->sealed_len - REC_IV - REC_TAG;
    uint8_t key_id[TCORE_KEY_ID_LEN];
    if (rec->version == 2 && tcore_key_id(key, key_id) != CKR_OK) {
        return CKR_FUNCTION_FAILED;
    }
    build_aad(&aad, rec->version, token_id, rec->obj_id, rec->cls, rec->key_type, rec->flags,
              rec->serial, key_id, rec->attrs, rec->nattrs);
    if (aad.failed) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    pt = tcrypto_secure_alloc(ctlen ? ctlen : 1);
    if (pt == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    crc = tcrypto_gcm_decrypt(key, TCORE_TOKEN_KEY_LEN, rec->sealed, REC_IV, aad.p, aad.len,
                              rec->sealed + REC_IV, ctlen, rec->sealed + REC_IV + ctlen, REC_TAG,
                              pt);
    if (crc == TCRYPTO_ERR_DECRYPT) {
        /* logged by the caller, which first asks whether the key is stale */
        rv = CKR_ENCRYPTED_DATA_INVALID;
        goto out;
    }
    if (crc != TCRYPTO_OK) {
        TC_ERROR(TCORE_LOG, "token %s: object %016llx cannot be opened (%s)", token_id,
                 (unsigned long long)rec->obj_id, tcrypto_rc_str(crc));
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    rv = decode_sealed(pt, ctlen, rec->version == 2, rec->cls, rec->key_type, secret,
                       secret_len, attrs, nattrs);
    if (rv == CKR_DEVICE_ERROR) {
        TC_ERROR(TCORE_LOG, "token %s: object %016llx has a malformed sealed part", token_id,
                 (unsigned long long)rec->obj_id);
    }
out:
    tcrypto_secure_free(pt, ctlen ? ctlen : 1);
    tc_buf_free(&aad);
    return rv;
}

bool tcore_attr_is_public_part(const tcore_obj *o, CK_ATTRIBUTE_TYPE type)
{
    if (!tcore_attr_bool(o->attrs, o->nattrs, CKA_PRIVATE, false)) {
        return true;
    }
    const tcore_attr_rule *r = tcore_attr_rule_for(o->cls, o->kt, type);
    return r != NULL && (r->flags & TCORE_R_SECURITY) != 0;
}

CK_RV tcore_record_build(tcore_obj *o, const uint8_t *key, tc_buf *out)
{
    tcore_attr *pub = NULL, *priv = NULL;
    size_t npub = 0, npriv = 0;
    bool is_private = tcore_attr_bool(o->attrs, o->nattrs, CKA_PRIVATE, false);
    uint32_t flags = 0;
    tc_buf pt, aad, rec;
    uint8_t iv[REC_IV], tag[REC_TAG];
    uint8_t *ct = NULL;
    CK_RV rv = CKR_HOST_MEMORY;

    tc_buf_init(&pt);
    tc_buf_init(&aad);
    tc_buf_init(&rec);
    if (is_private) {
        flags |= TCORE_REC_PRIVATE;
    }
    if (o->has_secret) {
        flags |= TCORE_REC_SECRET;
        if (o->secret == NULL) {
            rv = CKR_GENERAL_ERROR;
            goto out;
        }
    }
    if (key != NULL) {
        flags |= TCORE_REC_SEALED;
    } else if (flags != 0) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    for (size_t i = 0; i < o->nattrs; i++) {
        /* the encoding's u32 lengths hold any value the core accepts */
        if (o->attrs[i].len > UINT32_MAX / 2) {
            rv = CKR_ATTRIBUTE_VALUE_INVALID;
            goto out;
        }
    }
    if (o->has_secret && o->secret_len > SECRET_MAX) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    /* split the attributes (shallow: values stay owned by o) */
    pub = calloc(o->nattrs + 1, sizeof(*pub));
    priv = calloc(o->nattrs + 1, sizeof(*priv));
    if (pub == NULL || priv == NULL) {
        goto out;
    }
    for (size_t i = 0; i < o->nattrs; i++) {
        if (tcore_attr_is_public_part(o, o->attrs[i].type)) {
            pub[npub++] = o->attrs[i];
        } else {
            priv[npriv++] = o->attrs[i];
        }
    }
    tcore_attrs_sort(pub, npub);
    tcore_attrs_sort(priv, npriv);

    tc_buf_put(&rec, REC_MAGIC, 4);
    tc_buf_put_u64(&rec, o->id);
    tc_buf_put_u64(&rec, (uint64_t)o->cls);
    tc_buf_put_u64(&rec, (uint64_t)o->kt);
    tc_buf_put_u32(&rec, flags);
    tc_buf_put_u64(&rec, o->rec_serial);
    tcore_attrs_encode_portable(&rec, o->cls, o->kt, pub, npub);
    if (key == NULL) {
        tc_buf_put_u32(&rec, 0);
    } else {
        uint8_t key_id[TCORE_KEY_ID_LEN];
        if (tcore_key_id(key, key_id) != CKR_OK) {
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
        tc_buf_put_u32(&pt, (uint32_t)(o->has_secret ? o->secret_len : 0));
        if (o->has_secret) {
            tc_buf_put(&pt, o->secret, o->secret_len);
        }
        tcore_attrs_encode_portable(&pt, o->cls, o->kt, priv, npriv);
        build_aad(&aad, 2, tcore_token_id(o->token), o->id, o->cls, o->kt, flags, o->rec_serial,
                  key_id, pub, npub);
        if (pt.failed || aad.failed) {
            goto out;
        }
        ct = tcrypto_secure_alloc(pt.len);
        if (ct == NULL) {
            goto out;
        }
        if (tcrypto_random(iv, sizeof(iv)) != TCRYPTO_OK ||
            tcrypto_gcm_encrypt(key, TCORE_TOKEN_KEY_LEN, iv, sizeof(iv), aad.p, aad.len, pt.p,
                                pt.len, ct, tag, sizeof(tag)) != TCRYPTO_OK) {
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
        tc_buf_put_u32(&rec, (uint32_t)(REC_IV + pt.len + REC_TAG));
        tc_buf_put(&rec, iv, sizeof(iv));
        tc_buf_put(&rec, ct, pt.len);
        tc_buf_put(&rec, tag, sizeof(tag));
    }
    if (rec.failed) {
        goto out;
    }
    *out = rec;
    tc_buf_init(&rec);
    rv = CKR_OK;
out:
    if (ct != NULL) {
        tcrypto_secure_free(ct, pt.len);
    }
    free(pub);
    free(priv);
    tc_buf_free(&pt);
    tc_buf_free(&aad);
    tc_buf_free(&rec);
    return rv;
}

/* Merge the sealed part's attributes and secret into o (o->lock held or o
 * not yet shared). */
static CK_RV apply_open(tcore_obj *o, const tcore_record *rec, const uint8_t *key)
{
    uint8_t *secret = NULL;
    size_t secret_len = 0;
    tcore_attr *pa = NULL;
    size_t npa = 0;
    CK_RV rv = open_sealed(tcore_token_id(o->token), rec, key, &secret, &secret_len, &pa, &npa);
    if (rv != CKR_OK) {
        return rv;
    }
    if (((rec->flags & TCORE_REC_SECRET) != 0) != (secret_len > 0)) {
        TC_ERROR(TCORE_LOG, "token %s: object %016llx: sealed part disagrees with its header",
                 tcore_token_id(o->token), (unsigned long long)rec->obj_id);
        tcrypto_secure_free(secret, secret_len);
        tcore_attrs_free(pa, npa);
        return CKR_DEVICE_ERROR;
    }
    if (!o->attrs_loaded) {
        for (size_t i = 0; i < npa; i++) {
            if (tcore_attrs_cfind(o->attrs, o->nattrs, pa[i].type) != NULL ||
                !tcore_attrs_set(&o->attrs, &o->nattrs, pa[i].type, pa[i].value, pa[i].len)) {
                tcrypto_secure_free(secret, secret_len);
                tcore_attrs_free(pa, npa);
                return CKR_DEVICE_ERROR;
            }
        }
        o->attrs_loaded = true;
    }
    tcore_attrs_free(pa, npa);
    if (o->secret != NULL) {
        tcrypto_secure_free(o->secret, o->secret_len);
    }
    o->secret = secret;
    o->secret_len = secret_len;
    return CKR_OK;
}

/* Is `key` not the token's key any more (its key id differs from the one
 * in the metadata)? Asked only when a sealed part fails to open. */
static bool key_is_stale(tcore_token *t, const uint8_t *key)
{
    uint8_t id[TCORE_KEY_ID_LEN], zero[TCORE_KEY_ID_LEN] = {0};
    tcore_meta m;
    bool stale = false;
    if (tcore_key_id(key, id) != CKR_OK || tcore_meta_load(t, &m) != CKR_OK) {
        return false;
    }
    stale = memcmp(m.key_id, zero, sizeof(zero)) != 0 &&
            !tcrypto_memeq(m.key_id, id, TCORE_KEY_ID_LEN);
    tcore_meta_free(&m);
    return stale;
}

/* Open o's sealed part with `key` (o->lock held or o not yet shared). */
static CK_RV open_with(tcore_obj *o, const uint8_t *key)
{
    tcore_record rec;
    CK_RV rv;

    /* Re-decode the header fields from what we hold: the public attributes
     * that remain public form the AAD. */
    memset(&rec, 0, sizeof(rec));
    rec.obj_id = o->id;
    rec.cls = o->cls;
    rec.key_type = o->kt;
    rec.version = o->rec_version == 1 ? 1 : 2;
    rec.serial = o->rec_serial;
    rec.flags = TCORE_REC_SEALED;
    if (tcore_attr_bool(o->attrs, o->nattrs, CKA_PRIVATE, false)) {
        rec.flags |= TCORE_REC_PRIVATE;
    }
    if (o->has_secret) {
        rec.flags |= TCORE_REC_SECRET;
    }
    tcore_attr *pub = calloc(o->nattrs + 1, sizeof(*pub));
    if (pub == NULL) {
        return CKR_HOST_MEMORY;
    }
    size_t npub = 0;
    for (size_t i = 0; i < o->nattrs; i++) {
        if (tcore_attr_is_public_part(o, o->attrs[i].type)) {
            pub[npub++] = o->attrs[i];
        }
    }
    /* only the attributes that came from the public part: the private ones
     * (loaded earlier) are excluded by tcore_attr_is_public_part */
    tcore_attrs_sort(pub, npub);
    rec.attrs = pub;
    rec.nattrs = npub;
    rec.sealed = o->sealed;
    rec.sealed_len = o->sealed_len;
    rv = apply_open(o, &rec, key);
    free(pub);
    if (rv == CKR_ENCRYPTED_DATA_INVALID) {
        if (key_is_stale(o->token, key)) {
            /* the token was re-initialised by another process: this key
             * opens nothing of it, and the object is not to blame */
            TC_WARN(TCORE_LOG, "token %s: the token key held here is no longer the token's "
                               "(re-initialised elsewhere)",
                    tcore_token_id(o->token));
            return CKR_USER_NOT_LOGGED_IN;
        }
        TC_ERROR(TCORE_LOG, "token %s: object %016llx failed its integrity check",
                 tcore_token_id(o->token), (unsigned long long)o->id);
        rv = CKR_DEVICE_ERROR;
    }
    if (rv == CKR_DEVICE_ERROR) {
        o->broken = true;
    }
    return rv;
}

CK_RV tcore_record_open_with(tcore_obj *o, const uint8_t *key)
{
    if (o->broken) {
        return CKR_DEVICE_ERROR;
    }
    if (o->sealed == NULL) {
        return CKR_OK;
    }
    return open_with(o, key);
}

CK_RV tcore_obj_open_locked(tcore_obj *o)
{
    uint8_t *key = NULL;
    uint64_t epoch = 0;
    CK_RV rv;

    if (!o->stored) {
        return CKR_OK; /* session objects and new objects hold everything */
    }
    if (o->broken) {
        return CKR_DEVICE_ERROR;
    }
    if (o->opened && tcore_token_epoch_valid(o->token, o->epoch)) {
        return CKR_OK;
    }
    if (o->sealed == NULL) {
        return CKR_OK; /* unsealed public object: nothing to open */
    }
    rv = tcore_token_key_copy(o->token, &key, &epoch);
    if (rv != CKR_OK) {
        return rv;
    }
    rv = open_with(o, key);
    tcrypto_secure_free(key, TCORE_TOKEN_KEY_LEN);
    if (rv == CKR_OK) {
        o->opened = true;
        o->epoch = epoch;
    }
    return rv;
}

CK_RV tcore_record_load(tcore_token *t, const uint8_t *buf, size_t len, uint64_t mod_rev,
                        uint64_t expected_id, tcore_obj **out)
{
    tcore_record rec;
    tcore_obj *o;
    CK_RV rv = tcore_record_decode(buf, len, &rec);

    if (rv != CKR_OK) {
        TC_ERROR(TCORE_LOG, "token %s: a stored object record is malformed", tcore_token_id(t));
        return rv;
    }
    if (!tcore_key_type_valid(rec.cls, rec.key_type) &&
        !(rec.key_type == CK_UNAVAILABLE_INFORMATION &&
          (rec.cls == CKO_DATA || rec.cls == CKO_CERTIFICATE))) {
        TC_ERROR(TCORE_LOG, "token %s: object %016llx has an invalid class/key type",
                 tcore_token_id(t), (unsigned long long)rec.obj_id);
        tcore_record_free(&rec);
        return CKR_DEVICE_ERROR;
    }
    o = tcore_obj_alloc(t, rec.cls, rec.key_type);
    if (o == NULL) {
        tcore_record_free(&rec);
        return CKR_HOST_MEMORY;
    }
    o->id = rec.obj_id;
    o->mod_rev = mod_rev;
    o->stored = true;
    o->has_secret = (rec.flags & TCORE_REC_SECRET) != 0;
    o->attrs = rec.attrs;
    o->nattrs = rec.nattrs;
    rec.attrs = NULL;
    rec.nattrs = 0;
    o->sealed = rec.sealed;
    o->sealed_len = rec.sealed_len;
    rec.sealed = NULL;
    o->rec_version = (uint8_t)rec.version;
    o->rec_serial = rec.serial;
    /* the header's PRIVATE flag and the attribute must agree */
    if (((rec.flags & TCORE_REC_PRIVATE) != 0) !=
        tcore_attr_bool(o->attrs, o->nattrs, CKA_PRIVATE, false)) {
        o->broken = true;
        TC_ERROR(TCORE_LOG, "token %s: object %016llx: header and attributes disagree",
                 tcore_token_id(t), (unsigned long long)o->id);
    }
    if (o->id != expected_id) {
        /* a record copied under another object's key: the AAD would bind it
         * to its own id, so it must not pass as this object */
        TC_ERROR(TCORE_LOG, "token %s: record under %016llx claims id %016llx",
                 tcore_token_id(t), (unsigned long long)expected_id, (unsigned long long)o->id);
        o->id = expected_id;
        o->broken = true;
    }
    o->attrs_loaded = (rec.flags & TCORE_REC_PRIVATE) == 0;
    /* Only security-relevant attributes may sit in a private object's public
     * part: anything else there would escape the AAD (which covers exactly
     * what tcore_attr_is_public_part selects) and could be injected. */
    for (size_t i = 0; i < o->nattrs && !o->broken; i++) {
        if (!tcore_attr_is_public_part(o, o->attrs[i].type)) {
            TC_ERROR(TCORE_LOG, "token %s: object %016llx has a foreign public attribute",
                     tcore_token_id(t), (unsigned long long)o->id);
            o->broken = true;
        }
    }
    /* An unsealed record was stored without the token key, so it can never
     * legitimately carry what only the SO (who holds the key) may set. */
    if ((rec.flags & TCORE_REC_SEALED) == 0 &&
        tcore_attr_bool(o->attrs, o->nattrs, CKA_TRUSTED, false)) {
        TC_ERROR(TCORE_LOG, "token %s: unsealed object %016llx claims CKA_TRUSTED",
                 tcore_token_id(t), (unsigned long long)o->id);
        o->broken = true;
    }
    tcore_record_free(&rec);
    if (!o->broken && o->sealed != NULL) {
        /* Verify now when the key is at hand: a private object's attributes
         * are needed to find and show it, and a forged attribute must not be
         * matched or shown. The secret is dropped again until it is used. */
        rv = tcore_obj_open_locked(o);
        if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN && rv != CKR_DEVICE_ERROR) {
            tcore_obj_unref(o);
            return rv;
        }
        if (o->secret != NULL) {
            tcrypto_secure_free(o->secret, o->secret_len);
            o->secret = NULL;
            o->secret_len = 0;
        }
        o->opened = false;
    }
    *out = o;
    return CKR_OK;
}
