/*
 * Creating objects from templates: the attribute rules of PKCS#11 3.0 §4,
 * the defaults, and key material from the template or from a mechanism
 * (C_CreateObject, C_GenerateKey(Pair), C_UnwrapKey, C_DeriveKey).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "core/mech_int.h"

/* ---- creation ------------------------------------------------------------ */

static const CK_ATTRIBUTE *tmpl_find(const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                     CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *found = NULL;
    for (CK_ULONG i = 0; i < count; i++) {
        if (tmpl[i].type == type) {
            found = &tmpl[i];
        }
    }
    return found;
}

static bool tmpl_ulong(const CK_ATTRIBUTE *a, CK_ULONG *v)
{
    if (a == NULL || a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG)) {
        return false;
    }
    memcpy(v, a->pValue, sizeof(*v));
    return true;
}

bool tcore_tmpl_bool(const CK_ATTRIBUTE *a)
{
    return a->pValue != NULL && a->ulValueLen == sizeof(CK_BBOOL) &&
           *(const CK_BBOOL *)a->pValue == CK_TRUE;
}

/* Big-endian integers compare equal ignoring leading zeros. */
static bool int_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    while (alen > 0 && a[0] == 0) {
        a++;
        alen--;
    }
    while (blen > 0 && b[0] == 0) {
        b++;
        blen--;
    }
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool kt_matches(CK_KEY_TYPE kt, tcrypto_key_type t)
{
    switch (kt) {
    case CKK_RSA:
        return t == TCRYPTO_KEY_RSA;
    case CKK_EC:
        return t == TCRYPTO_KEY_EC;
    case CKK_EC_EDWARDS:
        return t == TCRYPTO_KEY_ED25519 || t == TCRYPTO_KEY_ED448;
    case CKK_EC_MONTGOMERY:
        return t == TCRYPTO_KEY_X25519 || t == TCRYPTO_KEY_X448;
    default:
        return false;
    }
}

static size_t raw_pub_len(tcrypto_key_type t)
{
    switch (t) {
    case TCRYPTO_KEY_ED25519:
    case TCRYPTO_KEY_X25519:
        return 32;
    case TCRYPTO_KEY_ED448:
        return 57;
    case TCRYPTO_KEY_X448:
        return 56;
    default:
        return 0;
    }
}

/* DER OCTET STRING around a point (PKCS#11 3.0 §6.3.3: CKA_EC_POINT is the
 * DER encoding of an ANSI X9.62 ECPoint, i.e. an OCTET STRING). */
static bool der_octet_wrap(const uint8_t *in, size_t len, tc_buf *out)
{
    tc_buf_put_u8(out, 0x04);
    if (len < 128) {
        tc_buf_put_u8(out, (uint8_t)len);
    } else if (len < 256) {
        tc_buf_put_u8(out, 0x81);
        tc_buf_put_u8(out, (uint8_t)len);
    } else {
        return false;
    }
    tc_buf_put(out, in, len);
    return !out->failed;
}

bool tcore_ec_point_unwrap(const uint8_t *in, size_t len, size_t expected, const uint8_t **pt,
                            size_t *ptlen)
{
    if (len >= 2 && in[0] == 0x04) {
        size_t hdr = 0, clen = 0;
        if (in[1] < 0x80) {
            hdr = 2;
            clen = in[1];
        } else if (in[1] == 0x81 && len >= 3 && in[2] >= 0x80) {
            hdr = 3;
            clen = in[2];
        }
        if (hdr != 0 && len - hdr == clen && (expected == 0 || clen == expected)) {
            *pt = in + hdr;
            *ptlen = clen;
            return true;
        }
    }
    if (expected == 0 || len == expected) {
        *pt = in;
        *ptlen = len;
        return true;
    }
    return false;
}

static size_t ec_point_len(tcrypto_curve c)
{
    size_t bits = tcrypto_curve_bits(c);
    return bits ? 1 + 2 * ((bits + 7) / 8) : 0;
}

/* The template attribute a failure of the key-material code below is about,
 * reported by tcore_obj_new to its caller. Per thread: one object is built
 * by one thread, start to end. */
static _Thread_local CK_ATTRIBUTE_TYPE t_blamed;

static CK_RV blame(CK_ATTRIBUTE_TYPE type, CK_RV rv)
{
    t_blamed = type;
    return rv;
}

/* Key from a C_CreateObject template (material in the template). */
static CK_RV key_from_template(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, const CK_ATTRIBUTE *tmpl,
                               CK_ULONG count, tcrypto_pkey **out)
{
    tcrypto_rc crc;
    if (kt == CKK_RSA) {
        tcrypto_rsa_parts p;
        const CK_ATTRIBUTE *a;
        memset(&p, 0, sizeof(p));
#define PART(attr, f)                                       \
    if ((a = tmpl_find(tmpl, count, attr)) != NULL) {       \
        p.f = a->pValue;                                    \
        p.f##_len = a->ulValueLen;                          \
    }
        PART(CKA_MODULUS, n)
        PART(CKA_PUBLIC_EXPONENT, e)
        if (cls == CKO_PRIVATE_KEY) {
            PART(CKA_PRIVATE_EXPONENT, d)
            PART(CKA_PRIME_1, p)
            PART(CKA_PRIME_2, q)
            PART(CKA_EXPONENT_1, dp)
            PART(CKA_EXPONENT_2, dq)
            PART(CKA_COEFFICIENT, qinv)
        }
#undef PART
        if (p.n == NULL || p.n_len == 0) {
            return blame(CKA_MODULUS, CKR_TEMPLATE_INCOMPLETE);
        }
        if (p.e == NULL || p.e_len == 0) {
            return blame(CKA_PUBLIC_EXPONENT, CKR_TEMPLATE_INCOMPLETE);
        }
        crc = tcrypto_rsa_from_parts(&p, out);
        return crc == TCRYPTO_OK          ? CKR_OK
               : crc == TCRYPTO_ERR_NOMEM ? CKR_HOST_MEMORY
                                          : blame(CKA_MODULUS, CKR_ATTRIBUTE_VALUE_INVALID);
    }
    const CK_ATTRIBUTE *params = tmpl_find(tmpl, count, CKA_EC_PARAMS);
    tcrypto_key_type type;
    tcrypto_curve curve = TCRYPTO_CURVE_NONE;
    if (params == NULL || params->pValue == NULL) {
        return blame(CKA_EC_PARAMS, CKR_TEMPLATE_INCOMPLETE);
    }
    if (tcrypto_ec_params_parse(params->pValue, params->ulValueLen, &type, &curve) != TCRYPTO_OK) {
        return blame(CKA_EC_PARAMS, CKR_ATTRIBUTE_VALUE_INVALID);
    }
    if (!kt_matches(kt, type)) {
        return blame(CKA_EC_PARAMS, CKR_TEMPLATE_INCONSISTENT);
    }
    if (cls == CKO_PRIVATE_KEY) {
        const CK_ATTRIBUTE *v = tmpl_find(tmpl, count, CKA_VALUE);
        if (v == NULL || v->pValue == NULL || v->ulValueLen == 0) {
            return blame(CKA_VALUE, CKR_TEMPLATE_INCOMPLETE);
        }
        crc = type == TCRYPTO_KEY_EC
                  ? tcrypto_ec_from_parts(curve, NULL, 0, v->pValue, v->ulValueLen, out)
                  : tcrypto_raw_from_parts(type, NULL, 0, v->pValue, v->ulValueLen, out);
    } else {
        const CK_ATTRIBUTE *pt = tmpl_find(tmpl, count, CKA_EC_POINT);
        const uint8_t *raw;
        size_t rawlen;
        size_t expected = type == TCRYPTO_KEY_EC ? ec_point_len(curve) : raw_pub_len(type);
        if (pt == NULL || pt->pValue == NULL) {
            return blame(CKA_EC_POINT, CKR_TEMPLATE_INCOMPLETE);
        }
        if (!tcore_ec_point_unwrap(pt->pValue, pt->ulValueLen, expected, &raw, &rawlen)) {
            return blame(CKA_EC_POINT, CKR_ATTRIBUTE_VALUE_INVALID);
        }
        crc = type == TCRYPTO_KEY_EC ? tcrypto_ec_from_parts(curve, raw, rawlen, NULL, 0, out)
                                     : tcrypto_raw_from_parts(type, raw, rawlen, NULL, 0, out);
    }
    return crc == TCRYPTO_OK          ? CKR_OK
           : crc == TCRYPTO_ERR_NOMEM ? CKR_HOST_MEMORY
                                      : blame(cls == CKO_PRIVATE_KEY ? CKA_VALUE : CKA_EC_POINT,
                                              CKR_ATTRIBUTE_VALUE_INVALID);
}

/* Export a part into a fresh malloc'd buffer. */
static CK_RV get_part(const tcrypto_pkey *k, tcrypto_part part, uint8_t **out, size_t *len)
{
    size_t n = 0;
    uint8_t *b;
    if (tcrypto_pkey_get_part(k, part, NULL, &n) != TCRYPTO_OK) {
        return CKR_FUNCTION_FAILED;
    }
    b = malloc(n ? n : 1);
    if (b == NULL) {
        return CKR_HOST_MEMORY;
    }
    if (tcrypto_pkey_get_part(k, part, b, &n) != TCRYPTO_OK) {
        free(b);
        return CKR_FUNCTION_FAILED;
    }
    *out = b;
    *len = n;
    return CKR_OK;
}

/* Set the attribute computed from the key, or check the template's value
 * against it (CKR_TEMPLATE_INCONSISTENT). */
static CK_RV put_computed(tcore_obj *o, CK_ATTRIBUTE_TYPE type, const uint8_t *v, size_t len,
                          bool as_int)
{
    tcore_attr *cur = tcore_attrs_find(o->attrs, o->nattrs, type);
    if (cur != NULL) {
        bool eq = as_int ? int_eq(cur->value, cur->len, v, len)
                         : (cur->len == len && memcmp(cur->value, v, len) == 0);
        if (!eq) {
            return blame(type, CKR_TEMPLATE_INCONSISTENT);
        }
    }
    return tcore_attrs_set(&o->attrs, &o->nattrs, type, v, len) ? CKR_OK : CKR_HOST_MEMORY;
}

/* The public attributes computed from a key (PKCS#11 3.0 §4.8-4.9, §6.1, §6.3). */
static CK_RV key_public_attrs(tcore_obj *o, const tcrypto_pkey *k)
{
    CK_RV rv = CKR_OK;
    uint8_t *v = NULL;
    size_t n = 0;
    tc_buf b;

    tc_buf_init(&b);
    if (o->kt == CKK_RSA) {
        if ((rv = get_part(k, TCRYPTO_PART_RSA_N, &v, &n)) != CKR_OK ||
            (rv = put_computed(o, CKA_MODULUS, v, n, true)) != CKR_OK) {
            goto out;
        }
        free(v);
        v = NULL;
        if ((rv = get_part(k, TCRYPTO_PART_RSA_E, &v, &n)) != CKR_OK ||
            (rv = put_computed(o, CKA_PUBLIC_EXPONENT, v, n, true)) != CKR_OK) {
            goto out;
        }
        free(v);
        v = NULL;
        if (o->cls == CKO_PUBLIC_KEY) {
            CK_ULONG bits = (CK_ULONG)tcrypto_pkey_bits(k);
            if ((rv = put_computed(o, CKA_MODULUS_BITS, (const uint8_t *)&bits, sizeof(bits),
                                   false)) != CKR_OK) {
                goto out;
            }
        }
    } else {
        tcrypto_key_type type = tcrypto_pkey_type(k);
        size_t plen = 0;
        const uint8_t *der = tcrypto_ec_params_der(type, tcrypto_pkey_curve(k), &plen);
        tcore_attr *cur = tcore_attrs_find(o->attrs, o->nattrs, CKA_EC_PARAMS);
        if (der == NULL) {
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
        if (cur != NULL) {
            /* the template may name the curve in either accepted form */
            tcrypto_key_type ct;
            tcrypto_curve cc;
            if (tcrypto_ec_params_parse(cur->value, cur->len, &ct, &cc) != TCRYPTO_OK ||
                ct != type || cc != tcrypto_pkey_curve(k)) {
                rv = blame(CKA_EC_PARAMS, CKR_TEMPLATE_INCONSISTENT);
                goto out;
            }
        } else if (!tcore_attrs_set(&o->attrs, &o->nattrs, CKA_EC_PARAMS, der, plen)) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        if (o->cls == CKO_PUBLIC_KEY) {
            if ((rv = get_part(k, TCRYPTO_PART_EC_POINT, &v, &n)) != CKR_OK) {
                goto out;
            }
            if (!der_octet_wrap(v, n, &b)) {
                rv = CKR_HOST_MEMORY;
                goto out;
            }
            tcore_attrs_remove(o->attrs, &o->nattrs, CKA_EC_POINT);
            if (!tcore_attrs_set(&o->attrs, &o->nattrs, CKA_EC_POINT, b.p, b.len)) {
                rv = CKR_HOST_MEMORY;
                goto out;
            }
        }
    }
    free(v);
    v = NULL;
    /* SubjectPublicKeyInfo on both halves (PKCS#11 3.0 §4.8, §4.9) */
    if (tcrypto_pkey_to_spki(k, NULL, &n) != TCRYPTO_OK || (v = malloc(n)) == NULL ||
        tcrypto_pkey_to_spki(k, v, &n) != TCRYPTO_OK) {
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    /* a template value must be this key's SPKI (empty is accepted) */
    tcore_attr *given = tcore_attrs_find(o->attrs, o->nattrs, CKA_PUBLIC_KEY_INFO);
    if (given != NULL && given->len != 0 && (given->len != n || memcmp(given->value, v, n) != 0)) {
        rv = blame(CKA_PUBLIC_KEY_INFO, CKR_TEMPLATE_INCONSISTENT);
        goto out;
    }
    if (!tcore_attrs_set(&o->attrs, &o->nattrs, CKA_PUBLIC_KEY_INFO, v, n)) {
        rv = CKR_HOST_MEMORY;
    }
out:
    free(v);
    tc_buf_free(&b);
    return rv;
}

/* The RSA n/e/d form above, for keys without CRT components. */
static CK_RV set_rsa_ned(tcore_obj *o, const tcrypto_pkey *k)
{
    static const tcrypto_part parts[3] = {TCRYPTO_PART_RSA_N, TCRYPTO_PART_RSA_E,
                                          TCRYPTO_PART_RSA_D};
    size_t lens[3], total = 4;
    uint8_t *buf;
    for (int i = 0; i < 3; i++) {
        lens[i] = 0;
        if (tcrypto_pkey_get_part(k, parts[i], NULL, &lens[i]) != TCRYPTO_OK) {
            return CKR_FUNCTION_FAILED;
        }
        total += 4 + lens[i];
    }
    buf = tcrypto_secure_alloc(total);
    if (buf == NULL) {
        return CKR_HOST_MEMORY;
    }
    size_t off = 4;
    memcpy(buf, TCORE_RSA_NED_MAGIC, 4);
    for (int i = 0; i < 3; i++) {
        size_t n = lens[i];
        if (tcrypto_pkey_get_part(k, parts[i], buf + off + 4, &n) != TCRYPTO_OK || n != lens[i]) {
            tcrypto_secure_free(buf, total);
            return CKR_FUNCTION_FAILED;
        }
        tc_store_u32(buf + off, (uint32_t)n);
        off += 4 + n;
    }
    o->secret = buf;
    o->secret_len = total;
    o->has_secret = true;
    return CKR_OK;
}

static CK_RV set_pkcs8(tcore_obj *o, const tcrypto_pkey *k)
{
    size_t n = 0;
    uint8_t *der;
    if (tcrypto_pkey_to_pkcs8(k, NULL, &n) != TCRYPTO_OK || n == 0) {
        return tcrypto_pkey_type(k) == TCRYPTO_KEY_RSA ? set_rsa_ned(o, k) : CKR_FUNCTION_FAILED;
    }
    der = tcrypto_secure_alloc(n);
    if (der == NULL) {
        return CKR_HOST_MEMORY;
    }
    if (tcrypto_pkey_to_pkcs8(k, der, &n) != TCRYPTO_OK) {
        tcrypto_secure_free(der, n);
        return tcrypto_pkey_type(k) == TCRYPTO_KEY_RSA ? set_rsa_ned(o, k) : CKR_FUNCTION_FAILED;
    }
    o->secret = der;
    o->secret_len = n;
    o->has_secret = true;
    return CKR_OK;
}

/* CKA_CHECK_VALUE of a secret key: AES (PKCS#11 3.0 §6.7.2) and the DES
 * family (§4.10: the key type's default cipher) the first three bytes of the
 * ECB encryption of a zero block; generic secret (§6.6.2) the first three
 * bytes of the SHA-1 of the value. Other types have none. */
static CK_RV check_value(CK_KEY_TYPE kt, const uint8_t *v, size_t len, uint8_t out[3], bool *have)
{
    uint8_t buf[TCRYPTO_MAX_MD_SIZE];
    size_t n = sizeof(buf);
    *have = false;
    if (kt == CKK_AES || tcore_des_key_len(kt) != 0) {
        static const uint8_t zero[16];
        tcrypto_cipher_mode mode = kt == CKK_AES   ? TCRYPTO_AES_ECB
                                   : kt == CKK_DES ? TCRYPTO_DES_ECB
                                                   : TCRYPTO_DES3_ECB;
        size_t bl = tcrypto_cipher_block(mode);
        tcrypto_cipher *c = NULL;
        if (tcrypto_cipher_new(mode, true, v, len, NULL, 0, &c) != TCRYPTO_OK) {
            return CKR_FUNCTION_FAILED;
        }
        n = sizeof(buf);
        bool ok = tcrypto_cipher_update(c, zero, bl, buf, &n) == TCRYPTO_OK && n == bl;
        tcrypto_cipher_free(c);
        if (!ok) {
            tc_wipe(buf, sizeof(buf));
            return CKR_FUNCTION_FAILED;
        }
    } else if (kt == CKK_GENERIC_SECRET) {
        if (tcrypto_digest_oneshot(TCRYPTO_MD_SHA1, v, len, buf, &n) != TCRYPTO_OK) {
            return CKR_FUNCTION_FAILED;
        }
    } else {
        return CKR_OK;
    }
    memcpy(out, buf, 3);
    tc_wipe(buf, sizeof(buf));
    *have = true;
    return CKR_OK;
}

static CK_RV set_secret_value(tcore_obj *o, const uint8_t *v, size_t len, CK_RV bad_len)
{
    size_t des = tcore_des_key_len(o->kt);
    if (len == 0 || (o->kt == CKK_AES && len != 16 && len != 24 && len != 32) ||
        (des != 0 && len != des)) {
        return blame(bad_len == CKR_TEMPLATE_INCONSISTENT ? CKA_VALUE_LEN : CKA_VALUE, bad_len);
    }
    /* Current Mechanisms 3.0, DES/DES2/DES3 secret key objects: a key with
     * the wrong parity is refused on creation and unwrap. */
    if (des != 0 && !tcore_des_parity_ok(v, len)) {
        return blame(CKA_VALUE, CKR_ATTRIBUTE_VALUE_INVALID);
    }
    CK_ULONG vl = (CK_ULONG)len;
    const tcore_attr *given = tcore_attrs_cfind(o->attrs, o->nattrs, CKA_VALUE_LEN);
    if (given != NULL && tcore_attr_ulong(o->attrs, o->nattrs, CKA_VALUE_LEN, 0) != vl) {
        return blame(CKA_VALUE_LEN, CKR_TEMPLATE_INCONSISTENT);
    }
    uint8_t cv[3];
    bool have_cv;
    CK_RV rv = check_value(o->kt, v, len, cv, &have_cv);
    if (rv != CKR_OK) {
        return rv;
    }
    const tcore_attr *gcv = tcore_attrs_cfind(o->attrs, o->nattrs, CKA_CHECK_VALUE);
    if (gcv == NULL && have_cv) {
        if (!tcore_attrs_set(&o->attrs, &o->nattrs, CKA_CHECK_VALUE, cv, sizeof(cv))) {
            return CKR_HOST_MEMORY;
        }
    } else if (gcv != NULL && gcv->len != 0 &&
               (!have_cv || gcv->len != sizeof(cv) || memcmp(gcv->value, cv, sizeof(cv)) != 0)) {
        /* §4.10: a given check value must match the key */
        return blame(CKA_CHECK_VALUE, CKR_ATTRIBUTE_VALUE_INVALID);
    }
    o->secret = tcrypto_secure_alloc(len);
    if (o->secret == NULL) {
        return CKR_HOST_MEMORY;
    }
    memcpy(o->secret, v, len);
    o->secret_len = len;
    o->has_secret = true;
    return tcore_attrs_set_ulong(&o->attrs, &o->nattrs, CKA_VALUE_LEN, vl) ? CKR_OK
                                                                          : CKR_HOST_MEMORY;
}

static bool set_default_bool(tcore_obj *o, CK_ATTRIBUTE_TYPE type, bool v)
{
    if (tcore_attrs_cfind(o->attrs, o->nattrs, type) != NULL) {
        return true;
    }
    return tcore_attrs_set_bool(&o->attrs, &o->nattrs, type, v);
}

static bool set_default_usage(tcore_obj *o, CK_ATTRIBUTE_TYPE type)
{
    return set_default_bool(o, type, tcore_attr_usage_default(o->cls, o->kt, type));
}

static bool set_default_bytes(tcore_obj *o, CK_ATTRIBUTE_TYPE type)
{
    if (tcore_attrs_cfind(o->attrs, o->nattrs, type) != NULL) {
        return true;
    }
    return tcore_attrs_set(&o->attrs, &o->nattrs, type, NULL, 0);
}

bool tcore_obj_new_unique_id(tcore_obj *o)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[16];
    char s[32];
    if (tcrypto_random(raw, sizeof(raw)) != TCRYPTO_OK) {
        return false;
    }
    for (int i = 0; i < 16; i++) {
        s[2 * i] = hex[raw[i] >> 4];
        s[2 * i + 1] = hex[raw[i] & 15];
    }
    tcore_attrs_remove(o->attrs, &o->nattrs, CKA_UNIQUE_ID);
    return tcore_attrs_set(&o->attrs, &o->nattrs, CKA_UNIQUE_ID, s, sizeof(s));
}

/* Defaults (PKCS#11 3.0 §4.4-4.10; the token-specific defaults follow
 * common practice: usage flags only for what the key type can do
 * (tcore_attr_usage_default), keys sensitive and not extractable). */
static bool apply_defaults(tcore_obj *o)
{
    bool key = o->cls == CKO_PUBLIC_KEY || o->cls == CKO_PRIVATE_KEY || o->cls == CKO_SECRET_KEY;
    bool ok = set_default_bool(o, CKA_TOKEN, false) &&
              set_default_bool(o, CKA_PRIVATE, o->cls == CKO_PRIVATE_KEY || o->cls == CKO_SECRET_KEY) &&
              set_default_bool(o, CKA_MODIFIABLE, true) && set_default_bool(o, CKA_COPYABLE, true) &&
              set_default_bool(o, CKA_DESTROYABLE, true) && set_default_bytes(o, CKA_LABEL) &&
              tcore_attrs_set_ulong(&o->attrs, &o->nattrs, CKA_CLASS, o->cls);
    if (!ok) {
        return false;
    }
    switch (o->cls) {
    case CKO_DATA:
        return set_default_bytes(o, CKA_APPLICATION) && set_default_bytes(o, CKA_OBJECT_ID) &&
               set_default_bytes(o, CKA_VALUE);
    case CKO_CERTIFICATE:
        return set_default_bool(o, CKA_TRUSTED, false) &&
               (tcore_attrs_cfind(o->attrs, o->nattrs, CKA_CERTIFICATE_CATEGORY) != NULL ||
                tcore_attrs_set_ulong(&o->attrs, &o->nattrs, CKA_CERTIFICATE_CATEGORY, 0)) &&
               set_default_bytes(o, CKA_ID) && set_default_bytes(o, CKA_ISSUER) &&
               set_default_bytes(o, CKA_SERIAL_NUMBER) && set_default_bytes(o, CKA_START_DATE) &&
               set_default_bytes(o, CKA_END_DATE);
    default:
        break;
    }
    if (!key) {
        return true;
    }
    ok = tcore_attrs_set_ulong(&o->attrs, &o->nattrs, CKA_KEY_TYPE, o->kt) &&
         set_default_bytes(o, CKA_ID) && set_default_bytes(o, CKA_START_DATE) &&
         set_default_bytes(o, CKA_END_DATE) && set_default_usage(o, CKA_DERIVE);
    if (!ok) {
        return false;
    }
    if (o->cls == CKO_PUBLIC_KEY) {
        return set_default_bytes(o, CKA_SUBJECT) && set_default_usage(o, CKA_ENCRYPT) &&
               set_default_usage(o, CKA_VERIFY) && set_default_usage(o, CKA_VERIFY_RECOVER) &&
               set_default_usage(o, CKA_WRAP) && set_default_bool(o, CKA_TRUSTED, false);
    }
    ok = set_default_bool(o, CKA_SENSITIVE, true) && set_default_usage(o, CKA_DECRYPT) &&
         set_default_usage(o, CKA_UNWRAP) && set_default_bool(o, CKA_EXTRACTABLE, false) &&
         set_default_bool(o, CKA_WRAP_WITH_TRUSTED, false) && set_default_usage(o, CKA_SIGN);
    if (!ok) {
        return false;
    }
    if (o->cls == CKO_PRIVATE_KEY) {
        return set_default_bytes(o, CKA_SUBJECT) && set_default_usage(o, CKA_SIGN_RECOVER) &&
               set_default_bool(o, CKA_ALWAYS_AUTHENTICATE, false);
    }
    return set_default_usage(o, CKA_ENCRYPT) && set_default_usage(o, CKA_VERIFY) &&
           set_default_usage(o, CKA_WRAP) && set_default_bool(o, CKA_TRUSTED, false);
}

/* Attributes that must be present after creation (footnotes 1 and 3). */
static const CK_ATTRIBUTE_TYPE maybe_required[] = {
    CKA_CERTIFICATE_TYPE, CKA_SUBJECT,   CKA_VALUE,     CKA_MODULUS,       CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT, CKA_MODULUS_BITS, CKA_EC_PARAMS, CKA_EC_POINT, CKA_VALUE_LEN,
};

static CK_RV check_template(const tcore_caller *cx, tcore_origin origin, CK_OBJECT_CLASS cls,
                            CK_KEY_TYPE kt, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    uint16_t forbidden = origin == TCORE_ORIGIN_CREATE     ? TCORE_R_CREATE_NO
                         : origin == TCORE_ORIGIN_GENERATE ? TCORE_R_GEN_NO
                                                           : TCORE_R_UNWRAP_NO;
    uint16_t required = origin == TCORE_ORIGIN_CREATE     ? TCORE_R_CREATE_REQ
                        : origin == TCORE_ORIGIN_GENERATE ? TCORE_R_GEN_REQ
                                                          : 0;
    for (CK_ULONG i = 0; i < count; i++) {
        const tcore_attr_rule *r = tcore_attr_rule_for(cls, kt, tmpl[i].type);
        if (r == NULL) {
            return tcore_caller_bad(cx, CKR_ATTRIBUTE_TYPE_INVALID, i, tmpl[i].type);
        }
        if (!tcore_attr_value_ok(r->kind, tmpl[i].pValue, tmpl[i].ulValueLen)) {
            return tcore_caller_bad(cx, CKR_ATTRIBUTE_VALUE_INVALID, i, tmpl[i].type);
        }
        /* the length of an unwrapped or derived secret key may be named */
        bool len_ok = tmpl[i].type == CKA_VALUE_LEN && origin != TCORE_ORIGIN_CREATE;
        if ((r->flags & forbidden) != 0 && !len_ok) {
            return tcore_caller_bad(cx, CKR_ATTRIBUTE_READ_ONLY, i, tmpl[i].type);
        }
        if ((r->flags & TCORE_R_SO_ONLY) != 0 && tcore_tmpl_bool(&tmpl[i]) &&
            (cx == NULL || cx->who != CKU_SO)) {
            return tcore_caller_bad(cx, CKR_ATTRIBUTE_READ_ONLY, i, tmpl[i].type);
        }
        if (tmpl[i].type == CKA_CERTIFICATE_TYPE) {
            CK_ULONG ct;
            if (!tmpl_ulong(&tmpl[i], &ct) || ct != CKC_X_509) {
                return tcore_caller_bad(cx, CKR_ATTRIBUTE_VALUE_INVALID, i, tmpl[i].type);
            }
        }
        for (CK_ULONG j = 0; j < i; j++) {
            if (tmpl[j].type == tmpl[i].type &&
                (tmpl[j].ulValueLen != tmpl[i].ulValueLen ||
                 (tmpl[i].ulValueLen > 0 &&
                  memcmp(tmpl[j].pValue, tmpl[i].pValue, tmpl[i].ulValueLen) != 0))) {
                return tcore_caller_bad(cx, CKR_TEMPLATE_INCONSISTENT, i, tmpl[i].type);
            }
        }
    }
    for (size_t i = 0; i < TC_ARRAY_LEN(maybe_required); i++) {
        const tcore_attr_rule *r = tcore_attr_rule_for(cls, kt, maybe_required[i]);
        if (r == NULL || (r->flags & required) == 0 ||
            tmpl_find(tmpl, count, maybe_required[i]) != NULL) {
            continue;
        }
        /* §4.6.3: a certificate's CKA_VALUE may be replaced by CKA_URL */
        if (cls == CKO_CERTIFICATE && maybe_required[i] == CKA_VALUE &&
            tmpl_find(tmpl, count, CKA_URL) != NULL) {
            continue;
        }
        tcore_caller_missing(cx, maybe_required[i]);
        return CKR_TEMPLATE_INCOMPLETE;
    }
    return CKR_OK;
}

CK_RV tcore_obj_new(tcore_token *t, const tcore_caller *cx, tcore_origin origin,
                    CK_OBJECT_CLASS cls, CK_KEY_TYPE key_type, const CK_ATTRIBUTE *tmpl,
                    CK_ULONG count,
                    const tcore_keymat *material, CK_MECHANISM_TYPE mech,
                    const tcore_obj *base, tcore_obj **out)
{
    CK_RV rv;
    tcore_obj *o = NULL;
    tcrypto_pkey *k = NULL;
    CK_ULONG v;

    if ((tmpl == NULL && count > 0) || out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    t_blamed = 0;
    if (origin == TCORE_ORIGIN_CREATE) {
        const CK_ATTRIBUTE *a = tmpl_find(tmpl, count, CKA_CLASS);
        if (a == NULL) {
            tcore_caller_missing(cx, CKA_CLASS);
            return CKR_TEMPLATE_INCOMPLETE;
        }
        if (!tmpl_ulong(a, &cls)) {
            return tcore_caller_bad(cx, CKR_ATTRIBUTE_VALUE_INVALID, (CK_ULONG)(a - tmpl), CKA_CLASS);
        }
        key_type = CK_UNAVAILABLE_INFORMATION;
        if (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) {
            const CK_ATTRIBUTE *ka = tmpl_find(tmpl, count, CKA_KEY_TYPE);
            if (ka == NULL) {
                tcore_caller_missing(cx, CKA_KEY_TYPE);
                return CKR_TEMPLATE_INCOMPLETE;
            }
            if (!tmpl_ulong(ka, &key_type) || !tcore_key_type_valid(cls, key_type)) {
                return tcore_caller_bad(cx, CKR_ATTRIBUTE_VALUE_INVALID, (CK_ULONG)(ka - tmpl), CKA_KEY_TYPE);
            }
        } else if (cls != CKO_DATA && cls != CKO_CERTIFICATE) {
            return tcore_caller_bad(cx, CKR_ATTRIBUTE_VALUE_INVALID, (CK_ULONG)(a - tmpl), CKA_CLASS);
        }
    } else {
        if (!tcore_key_type_valid(cls, key_type) || material == NULL) {
            return CKR_ARGUMENTS_BAD;
        }
        const CK_ATTRIBUTE *a = tmpl_find(tmpl, count, CKA_CLASS);
        if (a != NULL && (!tmpl_ulong(a, &v) || v != cls)) {
            return tcore_caller_bad(cx, CKR_TEMPLATE_INCONSISTENT, (CK_ULONG)(a - tmpl), CKA_CLASS);
        }
        a = tmpl_find(tmpl, count, CKA_KEY_TYPE);
        if (a != NULL && (!tmpl_ulong(a, &v) || v != key_type)) {
            return tcore_caller_bad(cx, CKR_TEMPLATE_INCONSISTENT, (CK_ULONG)(a - tmpl), CKA_KEY_TYPE);
        }
    }
    rv = check_template(cx, origin, cls, key_type, tmpl, count);
    if (rv != CKR_OK) {
        return rv;
    }
    o = tcore_obj_alloc(t, cls, key_type);
    if (o == NULL) {
        return CKR_HOST_MEMORY;
    }
    /* non-secret template attributes, then defaults */
    for (CK_ULONG i = 0; i < count; i++) {
        if (tcore_attr_is_sensitive_type(cls, key_type, tmpl[i].type)) {
            continue;
        }
        if (!tcore_attrs_set(&o->attrs, &o->nattrs, tmpl[i].type, tmpl[i].pValue,
                             tmpl[i].ulValueLen)) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
    }
    if (!apply_defaults(o) || !tcore_obj_new_unique_id(o)) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }

    /* key material */
    if (cls == CKO_SECRET_KEY) {
        if (origin == TCORE_ORIGIN_CREATE) {
            const CK_ATTRIBUTE *val = tmpl_find(tmpl, count, CKA_VALUE);
            rv = set_secret_value(o, val->pValue, val->ulValueLen, CKR_ATTRIBUTE_VALUE_INVALID);
        } else if (material->secret == NULL) {
            rv = CKR_ARGUMENTS_BAD;
        } else {
            rv = set_secret_value(o, material->secret, material->secret_len,
                                  CKR_TEMPLATE_INCONSISTENT);
        }
        if (rv != CKR_OK) {
            goto out;
        }
    } else if (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY) {
        if (origin == TCORE_ORIGIN_CREATE) {
            rv = key_from_template(cls, key_type, tmpl, count, &k);
            if (rv != CKR_OK) {
                goto out;
            }
        } else {
            if (material->pkey == NULL || !kt_matches(key_type, tcrypto_pkey_type(material->pkey))) {
                rv = material->pkey == NULL ? CKR_ARGUMENTS_BAD : CKR_TEMPLATE_INCONSISTENT;
                goto out;
            }
            if (cls == CKO_PRIVATE_KEY) {
                if (!tcrypto_pkey_has_private(material->pkey)) {
                    rv = CKR_ARGUMENTS_BAD;
                    goto out;
                }
                tcrypto_pkey_ref(material->pkey);
                k = material->pkey;
            } else if (tcrypto_pkey_public(material->pkey, &k) != TCRYPTO_OK) {
                rv = CKR_FUNCTION_FAILED;
                goto out;
            }
        }
        /* a created RSA public key: MODULUS_BITS is computed (footnote 2) */
        rv = key_public_attrs(o, k);
        if (rv != CKR_OK) {
            goto out;
        }
        if (cls == CKO_PRIVATE_KEY) {
            rv = set_pkcs8(o, k);
            if (rv != CKR_OK) {
                goto out;
            }
        }
        o->pkey = k;
        k = NULL;
    }

    /* computed key attributes (§4.7, §4.9, §4.10) */
    if (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) {
        bool local = origin == TCORE_ORIGIN_GENERATE;
        CK_ULONG kgm = local ? mech : CK_UNAVAILABLE_INFORMATION;
        if (!tcore_attrs_set_bool(&o->attrs, &o->nattrs, CKA_LOCAL, local) ||
            !tcore_attrs_set_ulong(&o->attrs, &o->nattrs, CKA_KEY_GEN_MECHANISM, kgm)) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        if (cls != CKO_PUBLIC_KEY) {
            bool sens = tcore_attr_bool(o->attrs, o->nattrs, CKA_SENSITIVE, true);
            bool extr = tcore_attr_bool(o->attrs, o->nattrs, CKA_EXTRACTABLE, false);
            bool as = false, ne = false;
            if (origin == TCORE_ORIGIN_GENERATE) {
                as = sens;
                ne = !extr;
            } else if (origin == TCORE_ORIGIN_DERIVE && base != NULL) {
                as = sens && tcore_obj_bool(base, CKA_ALWAYS_SENSITIVE, false);
                ne = !extr && tcore_obj_bool(base, CKA_NEVER_EXTRACTABLE, false);
            }
            if (!tcore_attrs_set_bool(&o->attrs, &o->nattrs, CKA_ALWAYS_SENSITIVE, as) ||
                !tcore_attrs_set_bool(&o->attrs, &o->nattrs, CKA_NEVER_EXTRACTABLE, ne)) {
                rv = CKR_HOST_MEMORY;
                goto out;
            }
        }
    }
    *out = o;
    o = NULL;
    rv = CKR_OK;
out:
    if (k != NULL) {
        tcrypto_pkey_free(k);
    }
    tcore_obj_unref(o);
    if (rv != CKR_OK && t_blamed != 0) {
        /* the key material did not fit the template: name the entry */
        const CK_ATTRIBUTE *a = tmpl_find(tmpl, count, t_blamed);
        if (a != NULL) {
            tcore_caller_bad(cx, rv, (CK_ULONG)(a - tmpl), t_blamed);
        } else {
            tcore_caller_missing(cx, t_blamed);
            if (cx != NULL && cx->err != NULL) {
                cx->err->rv = rv;
            }
        }
    }
    return rv;
}
