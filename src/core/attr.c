/*
 * Attribute rules and attribute lists.
 *
 * The rule tables follow the per-class attribute tables of PKCS#11 3.0 §4
 * (storage objects §4.4, data §4.5, certificates §4.6 / X.509 §4.6.3, keys
 * §4.7, public keys §4.8, private keys §4.9, secret keys §4.10) and the
 * mechanism sections for the key types (RSA §6.1.2-3, EC §6.3.3-4, EdDSA /
 * Montgomery §6.3.5-8, generic secret §6.6.2, AES §6.7.2, HKDF §6.44).
 * Flags are named after the table footnotes (see core_int.h).
 *
 * Certificates: the spec marks only some X.509 attributes as modifiable
 * (footnote 8); like most tokens we also let CKA_ID, CKA_ISSUER and
 * CKA_SERIAL_NUMBER change so applications can fix up imported certificates.
 * Data objects: CKA_APPLICATION, CKA_OBJECT_ID and CKA_VALUE are modifiable.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

#define B TCORE_AK_BOOL
#define U TCORE_AK_ULONG
#define Y TCORE_AK_BYTES
#define D TCORE_AK_DATE
#define M TCORE_AK_MECHS

#define C_REQ TCORE_R_CREATE_REQ
#define C_NO TCORE_R_CREATE_NO
#define G_REQ TCORE_R_GEN_REQ
#define G_NO TCORE_R_GEN_NO
#define UW_NO TCORE_R_UNWRAP_NO
#define SENS TCORE_R_SENSITIVE
#define MOD TCORE_R_MODIFIABLE
#define SO TCORE_R_SO_ONLY
#define ONLY_T TCORE_R_ONLY_TRUE
#define ONLY_F TCORE_R_ONLY_FALSE
#define SEC TCORE_R_SECURITY
#define CPY TCORE_R_COPY

/* §4.4 Table 23 (storage objects) + §4.2 (CKA_CLASS). */
static const tcore_attr_rule common_rules[] = {
    {CKA_CLASS, U, SEC},
    {CKA_TOKEN, B, SEC | CPY},
    {CKA_PRIVATE, B, SEC | CPY},
    {CKA_MODIFIABLE, B, SEC | CPY},
    {CKA_LABEL, Y, MOD},
    {CKA_COPYABLE, B, SEC | CPY},
    {CKA_DESTROYABLE, B, SEC | CPY},
    {CKA_UNIQUE_ID, Y, C_NO | G_NO | UW_NO},
};

/* §4.5 Table 26. */
static const tcore_attr_rule data_rules[] = {
    {CKA_APPLICATION, Y, MOD},
    {CKA_OBJECT_ID, Y, MOD},
    {CKA_VALUE, Y, MOD},
};

/* §4.6.2 Table 27 + §4.6.3 Table 29 (X.509 public key certificates). */
static const tcore_attr_rule cert_rules[] = {
    {CKA_CERTIFICATE_TYPE, U, C_REQ | SEC},
    {CKA_TRUSTED, B, SO | SEC},
    {CKA_CERTIFICATE_CATEGORY, U, SEC},
    {CKA_CHECK_VALUE, Y, 0},
    {CKA_START_DATE, D, SEC},
    {CKA_END_DATE, D, SEC},
    {CKA_PUBLIC_KEY_INFO, Y, 0},
    {CKA_SUBJECT, Y, C_REQ},
    {CKA_ID, Y, MOD},
    {CKA_ISSUER, Y, MOD},
    {CKA_SERIAL_NUMBER, Y, MOD},
    {CKA_VALUE, Y, C_REQ},
    {CKA_URL, Y, 0},
    {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, Y, 0},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, Y, 0},
    {CKA_JAVA_MIDP_SECURITY_DOMAIN, U, 0},
    {CKA_NAME_HASH_ALGORITHM, U, 0},
};

/* §4.7 Table 31 (common key attributes). */
static const tcore_attr_rule key_rules[] = {
    {CKA_KEY_TYPE, U, C_REQ | SEC},
    {CKA_ID, Y, MOD},
    {CKA_START_DATE, D, MOD | SEC},
    {CKA_END_DATE, D, MOD | SEC},
    {CKA_DERIVE, B, MOD | SEC},
    {CKA_LOCAL, B, C_NO | G_NO | UW_NO | SEC},
    {CKA_KEY_GEN_MECHANISM, U, C_NO | G_NO | UW_NO | SEC},
    {CKA_ALLOWED_MECHANISMS, M, SEC},
};

/* §4.8 Table 33. */
static const tcore_attr_rule pub_rules[] = {
    {CKA_SUBJECT, Y, MOD},
    {CKA_ENCRYPT, B, MOD | SEC},
    {CKA_VERIFY, B, MOD | SEC},
    {CKA_VERIFY_RECOVER, B, MOD | SEC},
    {CKA_WRAP, B, MOD | SEC},
    {CKA_TRUSTED, B, SO | SEC},
    {CKA_PUBLIC_KEY_INFO, Y, 0},
};

/* §4.9 Table 35. */
static const tcore_attr_rule priv_rules[] = {
    {CKA_SUBJECT, Y, MOD},
    {CKA_SENSITIVE, B, MOD | ONLY_T | SEC},
    {CKA_DECRYPT, B, MOD | SEC},
    {CKA_SIGN, B, MOD | SEC},
    {CKA_SIGN_RECOVER, B, MOD | SEC},
    {CKA_UNWRAP, B, MOD | SEC},
    {CKA_EXTRACTABLE, B, MOD | ONLY_F | SEC},
    {CKA_ALWAYS_SENSITIVE, B, C_NO | G_NO | UW_NO | SEC},
    {CKA_NEVER_EXTRACTABLE, B, C_NO | G_NO | UW_NO | SEC},
    {CKA_WRAP_WITH_TRUSTED, B, MOD | ONLY_T | SEC},
    {CKA_ALWAYS_AUTHENTICATE, B, SEC},
    {CKA_PUBLIC_KEY_INFO, Y, 0},
};

/* §4.10 Table 37. */
static const tcore_attr_rule secret_rules[] = {
    {CKA_SENSITIVE, B, MOD | ONLY_T | SEC},
    {CKA_ENCRYPT, B, MOD | SEC},
    {CKA_DECRYPT, B, MOD | SEC},
    {CKA_SIGN, B, MOD | SEC},
    {CKA_VERIFY, B, MOD | SEC},
    {CKA_WRAP, B, MOD | SEC},
    {CKA_UNWRAP, B, MOD | SEC},
    {CKA_EXTRACTABLE, B, MOD | ONLY_F | SEC},
    {CKA_ALWAYS_SENSITIVE, B, C_NO | G_NO | UW_NO | SEC},
    {CKA_NEVER_EXTRACTABLE, B, C_NO | G_NO | UW_NO | SEC},
    {CKA_CHECK_VALUE, Y, 0},
    {CKA_WRAP_WITH_TRUSTED, B, MOD | ONLY_T | SEC},
    {CKA_TRUSTED, B, SO | SEC},
};

/* RSA §6.1.2 Table 2 / §6.1.3 Table 3. */
static const tcore_attr_rule rsa_pub_rules[] = {
    {CKA_MODULUS, Y, C_REQ | G_NO},
    {CKA_MODULUS_BITS, U, C_NO | G_REQ},
    {CKA_PUBLIC_EXPONENT, Y, C_REQ},
};
static const tcore_attr_rule rsa_priv_rules[] = {
    {CKA_MODULUS, Y, C_REQ | G_NO | UW_NO},
    {CKA_PUBLIC_EXPONENT, Y, G_NO | UW_NO},
    {CKA_PRIVATE_EXPONENT, Y, C_REQ | G_NO | UW_NO | SENS},
    {CKA_PRIME_1, Y, G_NO | UW_NO | SENS},
    {CKA_PRIME_2, Y, G_NO | UW_NO | SENS},
    {CKA_EXPONENT_1, Y, G_NO | UW_NO | SENS},
    {CKA_EXPONENT_2, Y, G_NO | UW_NO | SENS},
    {CKA_COEFFICIENT, Y, G_NO | UW_NO | SENS},
};
/* EC §6.3.3 Table 21 / §6.3.4 Table 22; the Edwards and Montgomery tables
 * (§6.3.5-8) have the same shape. */
static const tcore_attr_rule ec_pub_rules[] = {
    {CKA_EC_PARAMS, Y, C_REQ | G_REQ},
    {CKA_EC_POINT, Y, C_REQ | G_NO},
};
static const tcore_attr_rule ec_priv_rules[] = {
    {CKA_EC_PARAMS, Y, C_REQ | G_NO | UW_NO},
    {CKA_VALUE, Y, C_REQ | G_NO | UW_NO | SENS},
};
/* Generic secret §6.6.2, AES §6.7.2, HKDF §6.44 keys. */
static const tcore_attr_rule sym_rules[] = {
    {CKA_VALUE, Y, C_REQ | G_NO | UW_NO | SENS},
    {CKA_VALUE_LEN, U, C_NO | G_REQ},
};

/* DES, DES2, DES3 keys (Current Mechanisms 3.0, the DES/DES2/DES3 secret key
 * objects): a fixed-length CKA_VALUE and no CKA_VALUE_LEN of their own; a
 * template may still name the fixed length (some applications always send
 * CKA_VALUE_LEN), and any other length is refused. */
static const tcore_attr_rule des_rules[] = {
    {CKA_VALUE, Y, C_REQ | G_NO | UW_NO | SENS},
    {CKA_VALUE_LEN, U, C_NO},
};

static const tcore_attr_rule *search(const tcore_attr_rule *t, size_t n, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].type == type) {
            return &t[i];
        }
    }
    return NULL;
}

#define SEARCH(tbl, type) search(tbl, TC_ARRAY_LEN(tbl), type)

bool tcore_key_type_valid(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt)
{
    switch (cls) {
    case CKO_PUBLIC_KEY:
    case CKO_PRIVATE_KEY:
        return kt == CKK_RSA || kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_EC_MONTGOMERY;
    case CKO_SECRET_KEY:
        return kt == CKK_AES || kt == CKK_GENERIC_SECRET || kt == CKK_HKDF ||
               kt == CKK_DES2 || kt == CKK_DES3 || (kt == CKK_DES && tcore_legacy_on());
    default:
        return false;
    }
}

size_t tcore_des_key_len(CK_KEY_TYPE kt)
{
    switch (kt) {
    case CKK_DES: return 8;
    case CKK_DES2: return 16;
    case CKK_DES3: return 24;
    default: return 0;
    }
}

static bool odd_parity(uint8_t b)
{
    b ^= b >> 4;
    b ^= b >> 2;
    b ^= b >> 1;
    return (b & 1) != 0;
}

bool tcore_des_parity_ok(const uint8_t *v, size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok &= odd_parity(v[i]);
    return ok;
}

void tcore_des_set_parity(uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!odd_parity(v[i]))
            v[i] ^= 0x01;
}

const tcore_attr_rule *tcore_attr_rule_for(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                                           CK_ATTRIBUTE_TYPE type)
{
    const tcore_attr_rule *r = SEARCH(common_rules, type);
    if (r != NULL) {
        return r;
    }
    switch (cls) {
    case CKO_DATA:
        return SEARCH(data_rules, type);
    case CKO_CERTIFICATE:
        return SEARCH(cert_rules, type);
    case CKO_PUBLIC_KEY:
    case CKO_PRIVATE_KEY:
    case CKO_SECRET_KEY:
        break;
    default:
        return NULL;
    }
    if ((r = SEARCH(key_rules, type)) != NULL) {
        return r;
    }
    if (cls == CKO_PUBLIC_KEY) {
        if ((r = SEARCH(pub_rules, type)) != NULL) {
            return r;
        }
        if (kt == CKK_RSA) {
            return SEARCH(rsa_pub_rules, type);
        }
        if (kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_EC_MONTGOMERY) {
            return SEARCH(ec_pub_rules, type);
        }
        return NULL;
    }
    if (cls == CKO_PRIVATE_KEY) {
        if ((r = SEARCH(priv_rules, type)) != NULL) {
            return r;
        }
        if (kt == CKK_RSA) {
            return SEARCH(rsa_priv_rules, type);
        }
        if (kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_EC_MONTGOMERY) {
            return SEARCH(ec_priv_rules, type);
        }
        return NULL;
    }
    if ((r = SEARCH(secret_rules, type)) != NULL) {
        return r;
    }
    if (kt == CKK_AES || kt == CKK_GENERIC_SECRET || kt == CKK_HKDF) {
        return SEARCH(sym_rules, type);
    }
    if (tcore_des_key_len(kt) != 0) {
        return SEARCH(des_rules, type);
    }
    return NULL;
}

/* Token-chosen defaults of the usage flags (PKCS#11 3.0 §4.7-4.10 leave
 * them to the token): a flag the template omits is true only when the key
 * type has a mechanism here that uses it. Recovery (CKA_SIGN_RECOVER /
 * CKA_VERIFY_RECOVER) is not offered, so it is never on by default. An
 * explicit template value is kept as given (mechanisms then refuse use
 * through their own checks). */
#define UF_ENCRYPT 0x001u
#define UF_DECRYPT 0x002u
#define UF_SIGN 0x004u
#define UF_VERIFY 0x008u
#define UF_WRAP 0x010u
#define UF_UNWRAP 0x020u
#define UF_DERIVE 0x040u

static unsigned usage_defaults(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt)
{
    switch (cls) {
    case CKO_PRIVATE_KEY:
        switch (kt) {
        case CKK_RSA: /* §6.1: PKCS#1 v1.5 / PSS / OAEP */
            return UF_SIGN | UF_DECRYPT | UF_UNWRAP;
        case CKK_EC: /* §6.3: ECDSA, ECDH */
            return UF_SIGN | UF_DERIVE;
        case CKK_EC_EDWARDS: /* §6.3.5: EdDSA */
            return UF_SIGN;
        case CKK_EC_MONTGOMERY: /* §6.3.7: ECDH only */
            return UF_DERIVE;
        default:
            return 0;
        }
    case CKO_PUBLIC_KEY:
        switch (kt) {
        case CKK_RSA:
            return UF_VERIFY | UF_ENCRYPT | UF_WRAP;
        case CKK_EC:
        case CKK_EC_EDWARDS:
            return UF_VERIFY;
        default: /* Montgomery public keys have no use of their own */
            return 0;
        }
    case CKO_SECRET_KEY:
        switch (kt) {
        case CKK_AES: /* §6.7: ECB/CBC/CTR/GCM, key wrap, CMAC */
            return UF_ENCRYPT | UF_DECRYPT | UF_WRAP | UF_UNWRAP | UF_SIGN | UF_VERIFY;
        case CKK_GENERIC_SECRET: /* HMAC, HKDF, key derivation */
            return UF_SIGN | UF_VERIFY | UF_DERIVE;
        case CKK_HKDF: /* §6.44 */
            return UF_DERIVE;
        case CKK_DES:
        case CKK_DES2:
        case CKK_DES3: /* ECB/CBC, key wrap, CMAC (DES3) */
            return UF_ENCRYPT | UF_DECRYPT | UF_WRAP | UF_UNWRAP | UF_SIGN | UF_VERIFY;
        default:
            return 0;
        }
    default:
        return 0;
    }
}

bool tcore_attr_usage_default(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE type)
{
    unsigned f = usage_defaults(cls, kt);
    switch (type) {
    case CKA_ENCRYPT:
        return (f & UF_ENCRYPT) != 0;
    case CKA_DECRYPT:
        return (f & UF_DECRYPT) != 0;
    case CKA_SIGN:
        return (f & UF_SIGN) != 0;
    case CKA_VERIFY:
        return (f & UF_VERIFY) != 0;
    case CKA_WRAP:
        return (f & UF_WRAP) != 0;
    case CKA_UNWRAP:
        return (f & UF_UNWRAP) != 0;
    case CKA_DERIVE:
        return (f & UF_DERIVE) != 0;
    default: /* CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER, anything else */
        return false;
    }
}

bool tcore_attr_value_ok(uint8_t kind, const void *value, CK_ULONG len)
{
    if (len != 0 && value == NULL) {
        return false;
    }
    switch (kind) {
    case TCORE_AK_BOOL:
        return len == sizeof(CK_BBOOL) &&
               (*(const CK_BBOOL *)value == CK_TRUE || *(const CK_BBOOL *)value == CK_FALSE);
    case TCORE_AK_ULONG:
        return len == sizeof(CK_ULONG);
    case TCORE_AK_DATE:
        if (len == 0) {
            return true;
        }
        if (len != sizeof(CK_DATE)) {
            return false;
        }
        for (CK_ULONG i = 0; i < len; i++) {
            uint8_t c = ((const uint8_t *)value)[i];
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    case TCORE_AK_MECHS:
        return len % sizeof(CK_MECHANISM_TYPE) == 0;
    case TCORE_AK_BYTES:
        return true;
    default:
        return false;
    }
}

/* ---- attribute lists ---------------------------------------------------- */

tcore_attr *tcore_attrs_find(tcore_attr *a, size_t n, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].type == type) {
            return &a[i];
        }
    }
    return NULL;
}

const tcore_attr *tcore_attrs_cfind(const tcore_attr *a, size_t n, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].type == type) {
            return &a[i];
        }
    }
    return NULL;
}

bool tcore_attrs_set(tcore_attr **a, size_t *n, CK_ATTRIBUTE_TYPE type, const void *value,
                     CK_ULONG len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        return false;
    }
    if (len) {
        memcpy(copy, value, len);
    }
    tcore_attr *e = tcore_attrs_find(*a, *n, type);
    if (e != NULL) {
        tc_freezero(e->value, e->len);
        e->value = copy;
        e->len = len;
        return true;
    }
    tcore_attr *na = realloc(*a, (*n + 1) * sizeof(**a));
    if (na == NULL) {
        free(copy);
        return false;
    }
    na[*n].type = type;
    na[*n].value = copy;
    na[*n].len = len;
    *a = na;
    (*n)++;
    return true;
}

bool tcore_attrs_set_bool(tcore_attr **a, size_t *n, CK_ATTRIBUTE_TYPE type, bool v)
{
    CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
    return tcore_attrs_set(a, n, type, &b, sizeof(b));
}

bool tcore_attrs_set_ulong(tcore_attr **a, size_t *n, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    return tcore_attrs_set(a, n, type, &v, sizeof(v));
}

void tcore_attrs_remove(tcore_attr *a, size_t *n, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < *n; i++) {
        if (a[i].type == type) {
            tc_freezero(a[i].value, a[i].len);
            a[i] = a[*n - 1];
            (*n)--;
            return;
        }
    }
}

void tcore_attrs_free(tcore_attr *attrs, size_t n)
{
    if (attrs == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        tc_freezero(attrs[i].value, attrs[i].len);
    }
    free(attrs);
}

bool tcore_attrs_dup(const tcore_attr *a, size_t n, tcore_attr **out, size_t *nout)
{
    tcore_attr *c = NULL;
    size_t cn = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tcore_attrs_set(&c, &cn, a[i].type, a[i].value, a[i].len)) {
            tcore_attrs_free(c, cn);
            return false;
        }
    }
    *out = c;
    *nout = cn;
    return true;
}

static int cmp_attr(const void *x, const void *y)
{
    const tcore_attr *a = x, *b = y;
    return a->type < b->type ? -1 : a->type > b->type ? 1 : 0;
}

void tcore_attrs_sort(tcore_attr *a, size_t n)
{
    if (n > 1) {
        qsort(a, n, sizeof(*a), cmp_attr);
    }
}

bool tcore_attr_bool(const tcore_attr *a, size_t n, CK_ATTRIBUTE_TYPE type, bool dflt)
{
    const tcore_attr *e = tcore_attrs_cfind(a, n, type);
    if (e == NULL || e->len != sizeof(CK_BBOOL)) {
        return dflt;
    }
    return *(const CK_BBOOL *)e->value != CK_FALSE;
}

CK_ULONG tcore_attr_ulong(const tcore_attr *a, size_t n, CK_ATTRIBUTE_TYPE type, CK_ULONG dflt)
{
    const tcore_attr *e = tcore_attrs_cfind(a, n, type);
    CK_ULONG v;
    if (e == NULL || e->len != sizeof(CK_ULONG)) {
        return dflt;
    }
    memcpy(&v, e->value, sizeof(v));
    return v;
}

void tcore_attrs_encode(tc_buf *b, const tcore_attr *a, size_t n)
{
    tc_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        tc_buf_put_u64(b, (uint64_t)a[i].type);
        tc_buf_put_u32(b, (uint32_t)a[i].len);
        tc_buf_put(b, a[i].value, a[i].len);
    }
}

/* Each entry takes at least 12 bytes, so a count above left/12 is a lie. */
#define ATTR_MIN_ENC 12u
#define ATTR_MAX_COUNT 1024u

bool tcore_attrs_decode(tc_reader *r, tcore_attr **out, size_t *nout)
{
    uint32_t count;
    tc_reader save = *r;
    tcore_attr *a = NULL;
    size_t n = 0;

    if (!tc_read_u32(r, &count) || count > ATTR_MAX_COUNT ||
        count > tc_reader_left(r) / ATTR_MIN_ENC) {
        goto fail;
    }
    if (count > 0) {
        a = calloc(count, sizeof(*a));
        if (a == NULL) {
            goto fail;
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        uint64_t type;
        uint32_t len;
        const uint8_t *v;
        if (!tc_read_u64(r, &type) || !tc_read_u32(r, &len) || !tc_read_ref(r, len, &v)) {
            goto fail;
        }
        if (type != (CK_ATTRIBUTE_TYPE)type || tcore_attrs_cfind(a, n, (CK_ATTRIBUTE_TYPE)type)) {
            goto fail;
        }
        a[n].value = malloc(len ? len : 1);
        if (a[n].value == NULL) {
            goto fail;
        }
        if (len) {
            memcpy(a[n].value, v, len);
        }
        a[n].type = (CK_ATTRIBUTE_TYPE)type;
        a[n].len = len;
        n++;
    }
    *out = a;
    *nout = n;
    return true;
fail:
    tcore_attrs_free(a, n);
    *r = save;
    return false;
}

/* ---- portable attribute lists (store format v2) ---------------------------- */

/* Kind of a stored attribute's value: CK_ULONG-valued ones and mechanism
 * lists are converted; everything else is bytes. */
static uint8_t stored_kind(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE type)
{
    const tcore_attr_rule *r = tcore_attr_rule_for(cls, kt, type);
    if (r == NULL) {
        return TCORE_AK_BYTES;
    }
    return r->kind;
}

void tcore_attrs_encode_portable(tc_buf *b, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                                 const tcore_attr *a, size_t n)
{
    tc_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t kind = stored_kind(cls, kt, a[i].type);
        tc_buf_put_u64(b, (uint64_t)a[i].type);
        if ((kind == TCORE_AK_ULONG && a[i].len == sizeof(CK_ULONG)) ||
            (kind == TCORE_AK_MECHS && a[i].len % sizeof(CK_ULONG) == 0)) {
            size_t cnt = a[i].len / sizeof(CK_ULONG);
            tc_buf_put_u32(b, (uint32_t)(cnt * 8));
            for (size_t j = 0; j < cnt; j++) {
                CK_ULONG v;
                memcpy(&v, a[i].value + j * sizeof(CK_ULONG), sizeof(v));
                tc_buf_put_u64(b, (uint64_t)v);
            }
        } else {
            tc_buf_put_u32(b, (uint32_t)a[i].len);
            tc_buf_put(b, a[i].value, a[i].len);
        }
    }
}

bool tcore_attrs_decode_portable(tc_reader *r, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                                 tcore_attr **out, size_t *nout)
{
    tc_reader save = *r;
    tcore_attr *a = NULL;
    size_t n = 0;

    if (!tcore_attrs_decode(r, &a, &n)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t kind = stored_kind(cls, kt, a[i].type);
        if (kind != TCORE_AK_ULONG && kind != TCORE_AK_MECHS) {
            continue;
        }
        /* stored as 8-byte big-endian values: one for a ULONG, any number
         * for a mechanism list */
        if (a[i].len % 8 != 0 || (kind == TCORE_AK_ULONG && a[i].len != 8)) {
            goto fail;
        }
        size_t cnt = a[i].len / 8;
        uint8_t *v = malloc(cnt > 0 ? cnt * sizeof(CK_ULONG) : 1);
        if (v == NULL) {
            goto fail;
        }
        for (size_t j = 0; j < cnt; j++) {
            uint64_t x = tc_load_u64(a[i].value + j * 8);
            CK_ULONG u = (CK_ULONG)x;
            if ((uint64_t)u != x) {
                free(v);
                goto fail;
            }
            memcpy(v + j * sizeof(CK_ULONG), &u, sizeof(u));
        }
        free(a[i].value);
        a[i].value = v;
        a[i].len = (CK_ULONG)(cnt * sizeof(CK_ULONG));
    }
    *out = a;
    *nout = n;
    return true;
fail:
    tcore_attrs_free(a, n);
    *r = save;
    return false;
}

/* ---- reporting a bad template entry (core_int.h tcore_caller) ---- */

CK_RV tcore_caller_bad(const tcore_caller *cx, CK_RV rv, CK_ULONG index, CK_ATTRIBUTE_TYPE type)
{
    if (cx != NULL && cx->err != NULL) {
        cx->err->rv = rv;
        cx->err->arg = cx->tmpl_arg;
        cx->err->index = (long)index;
        cx->err->attr = type;
    }
    return rv;
}

void tcore_caller_missing(const tcore_caller *cx, CK_ATTRIBUTE_TYPE type)
{
    if (cx != NULL && cx->err != NULL) {
        cx->err->rv = CKR_TEMPLATE_INCOMPLETE;
        cx->err->arg = cx->tmpl_arg;
        cx->err->index = -1;
        cx->err->attr = type;
    }
}
