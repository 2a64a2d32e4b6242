/*
 * Reading attributes (PKCS#11 3.0 §5.7 C_GetAttributeValue) and matching
 * C_FindObjects templates.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "core/mech_int.h"

/* ---- reading attributes ---------------------------------------------------- */

static const struct {
    CK_ATTRIBUTE_TYPE type;
    tcrypto_part part;
} sens_parts[] = {
    {CKA_PRIVATE_EXPONENT, TCRYPTO_PART_RSA_D}, {CKA_PRIME_1, TCRYPTO_PART_RSA_P},
    {CKA_PRIME_2, TCRYPTO_PART_RSA_Q},          {CKA_EXPONENT_1, TCRYPTO_PART_RSA_DP},
    {CKA_EXPONENT_2, TCRYPTO_PART_RSA_DQ},      {CKA_COEFFICIENT, TCRYPTO_PART_RSA_QINV},
};

/* Read a sensitive attribute's value (o->lock held; o may reveal it). The
 * value is copied to *val on the secure heap. */
static CK_RV sensitive_value_locked(tcore_obj *o, CK_ATTRIBUTE_TYPE type, uint8_t **val,
                                    size_t *len)
{
    CK_RV rv = tcore_obj_ensure_open_locked(o);
    uint8_t *buf = NULL;
    size_t n = 0;
    if (rv != CKR_OK) {
        return rv;
    }
    if (o->cls == CKO_SECRET_KEY) {
        if (o->secret == NULL) {
            return CKR_DEVICE_ERROR;
        }
        buf = tcrypto_secure_alloc(o->secret_len);
        if (buf == NULL) {
            return CKR_HOST_MEMORY;
        }
        memcpy(buf, o->secret, o->secret_len);
        *val = buf;
        *len = o->secret_len;
        return CKR_OK;
    }
    if (o->pkey == NULL) {
        tcrypto_pkey *k = NULL;
        if (o->secret == NULL || tcore_secret_to_pkey(o->secret, o->secret_len, &k) != CKR_OK) {
            return CKR_DEVICE_ERROR;
        }
        o->pkey = k;
    }
    tcrypto_part part = TCRYPTO_PART_EC_PRIV;
    for (size_t i = 0; i < TC_ARRAY_LEN(sens_parts); i++) {
        if (sens_parts[i].type == type) {
            part = sens_parts[i].part;
        }
    }
    if (tcrypto_pkey_get_part(o->pkey, part, NULL, &n) != TCRYPTO_OK) {
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    buf = tcrypto_secure_alloc(n ? n : 1);
    if (buf == NULL) {
        return CKR_HOST_MEMORY;
    }
    if (tcrypto_pkey_get_part(o->pkey, part, buf, &n) != TCRYPTO_OK) {
        tcrypto_secure_free(buf, n ? n : 1);
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    *val = buf;
    *len = n;
    return CKR_OK;
}

/* One attribute, two-call convention. o->lock held. */
static CK_RV get_one_locked(tcore_obj *o, CK_ATTRIBUTE_TYPE type, void *out, CK_ULONG *len)
{
    if (tcore_attr_is_sensitive_type(o->cls, o->kt, type)) {
        uint8_t *val = NULL;
        size_t n = 0;
        CK_RV rv;
        if (!tcore_obj_may_reveal_locked(o)) {
            return CKR_ATTRIBUTE_SENSITIVE;
        }
        rv = sensitive_value_locked(o, type, &val, &n);
        if (rv != CKR_OK) {
            return rv;
        }
        if (out == NULL) {
            *len = n;
        } else if (*len < n) {
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(out, val, n);
            *len = n;
        }
        tcrypto_secure_free(val, n ? n : 1);
        return rv;
    }
    const tcore_attr *a = tcore_attrs_cfind(o->attrs, o->nattrs, type);
    if (a == NULL) {
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    if (out == NULL) {
        *len = a->len;
        return CKR_OK;
    }
    if (*len < a->len) {
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(out, a->value, a->len);
    *len = a->len;
    return CKR_OK;
}

CK_RV tcore_obj_attr_get(const tcore_obj *o, CK_ATTRIBUTE_TYPE type, void *out, CK_ULONG *len)
{
    CK_RV rv;
    tcore_obj_lock(o);
    rv = o->broken ? CKR_DEVICE_ERROR : get_one_locked((tcore_obj *)o, type, out, len);
    tcore_obj_unlock(o);
    return rv;
}

CK_RV tcore_obj_get_attrs(tcore_obj *o, CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    CK_RV rv = CKR_OK;
    tcore_obj_lock(o);
    if (o->broken) {
        /* never show attributes that failed their integrity check */
        tcore_obj_unlock(o);
        return CKR_DEVICE_ERROR;
    }
    for (CK_ULONG i = 0; i < count; i++) {
        CK_ULONG len = tmpl[i].ulValueLen;
        CK_RV r = get_one_locked(o, tmpl[i].type, tmpl[i].pValue, &len);
        if (r == CKR_OK) {
            tmpl[i].ulValueLen = len;
            continue;
        }
        tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
        if (r == CKR_ATTRIBUTE_SENSITIVE || r == CKR_ATTRIBUTE_TYPE_INVALID ||
            r == CKR_BUFFER_TOO_SMALL) {
            /* §5.7: report one of them; sensitivity first */
            if (rv == CKR_OK || r == CKR_ATTRIBUTE_SENSITIVE) {
                rv = r;
            }
        } else {
            rv = r;
            break;
        }
    }
    tcore_obj_unlock(o);
    return rv;
}

bool tcore_obj_match(tcore_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    bool ok = true;
    tcore_obj_lock(o);
    if (o->destroyed || o->broken) {
        ok = false;
    }
    for (CK_ULONG i = 0; ok && i < count; i++) {
        if (tcore_attr_is_sensitive_type(o->cls, o->kt, tmpl[i].type)) {
            ok = false;
            break;
        }
        const tcore_attr *a = tcore_attrs_cfind(o->attrs, o->nattrs, tmpl[i].type);
        if (a == NULL || a->len != tmpl[i].ulValueLen ||
            (a->len > 0 && (tmpl[i].pValue == NULL || memcmp(a->value, tmpl[i].pValue, a->len) != 0))) {
            ok = false;
        }
    }
    tcore_obj_unlock(o);
    return ok;
}
