/*
 * Changing objects: C_SetAttributeValue, C_CopyObject and C_DestroyObject
 * (PKCS#11 3.0 §5.7).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "core/mech_int.h"

/* ---- C_SetAttributeValue ---------------------------------------------------- */

/* Validate one change against the rules; cur is the current list. */
static CK_RV check_change(const tcore_obj *o, const CK_ATTRIBUTE *a, bool copying, bool is_so)
{
    const tcore_attr_rule *r = tcore_attr_rule_for(o->cls, o->kt, a->type);
    if (r == NULL) {
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    if (!tcore_attr_value_ok(r->kind, a->pValue, a->ulValueLen)) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    bool allowed = (r->flags & TCORE_R_MODIFIABLE) != 0 ||
                   ((r->flags & TCORE_R_SO_ONLY) != 0) ||
                   (copying && (r->flags & TCORE_R_COPY) != 0);
    if (!allowed || (r->flags & TCORE_R_SENSITIVE) != 0) {
        return CKR_ATTRIBUTE_READ_ONLY;
    }
    if (r->kind == TCORE_AK_BOOL) {
        bool nv = tcore_tmpl_bool(a);
        bool cv = tcore_attr_bool(o->attrs, o->nattrs, a->type, false);
        if ((r->flags & TCORE_R_ONLY_TRUE) != 0 && cv && !nv) {
            return CKR_ATTRIBUTE_READ_ONLY;
        }
        if ((r->flags & TCORE_R_ONLY_FALSE) != 0 && !cv && nv) {
            return CKR_ATTRIBUTE_READ_ONLY;
        }
        if ((r->flags & TCORE_R_SO_ONLY) != 0 && nv != cv && !is_so) {
            return CKR_ATTRIBUTE_READ_ONLY;
        }
        /* §4.4: copies may turn MODIFIABLE/COPYABLE/DESTROYABLE off only */
        if (copying && (a->type == CKA_MODIFIABLE || a->type == CKA_COPYABLE ||
                        a->type == CKA_DESTROYABLE) &&
            !cv && nv) {
            return CKR_ATTRIBUTE_READ_ONLY;
        }
    }
    return CKR_OK;
}

CK_RV tcore_obj_set_attrs(tcore_obj *o, const tcore_caller *cx, const CK_ATTRIBUTE *tmpl,
                          CK_ULONG count)
{
    CK_RV rv = CKR_OK;
    tcore_attr *na = NULL;
    size_t nn = 0;
    bool is_so = cx != NULL && cx->who == CKU_SO;

    if (tmpl == NULL && count > 0) {
        return CKR_ARGUMENTS_BAD;
    }
    tcore_obj_lock(o);
    if (o->destroyed) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        goto out;
    }
    if (!tcore_attr_bool(o->attrs, o->nattrs, CKA_MODIFIABLE, true)) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    if (o->stored && o->sealed != NULL) {
        /* the record is resealed: its private attributes and secret must be
         * at hand, and its integrity checked before we build on it */
        rv = tcore_obj_ensure_open_locked(o);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    for (CK_ULONG i = 0; i < count; i++) {
        rv = check_change(o, &tmpl[i], false, is_so);
        if (rv != CKR_OK) {
            tcore_caller_bad(cx, rv, i, tmpl[i].type);
            goto out;
        }
    }
    if (!tcore_attrs_dup(o->attrs, o->nattrs, &na, &nn)) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (CK_ULONG i = 0; i < count; i++) {
        if (!tcore_attrs_set(&na, &nn, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen)) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
    }
    if (o->stored) {
        rv = tcore_objstore_rewrite(o, na, nn);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    tcore_attrs_free(o->attrs, o->nattrs);
    o->attrs = na;
    o->nattrs = nn;
    na = NULL;
out:
    tcore_attrs_free(na, nn);
    tcore_obj_unlock(o);
    return rv;
}

/* ---- C_CopyObject ------------------------------------------------------------- */

CK_RV tcore_obj_copy(tcore_obj *o, const tcore_caller *cx, const CK_ATTRIBUTE *tmpl,
                     CK_ULONG count, tcore_obj **out)
{
    CK_RV rv = CKR_OK;
    tcore_obj *c = NULL;
    bool is_so = cx != NULL && cx->who == CKU_SO;

    if ((tmpl == NULL && count > 0) || out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    tcore_obj_lock(o);
    if (o->destroyed) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        goto out;
    }
    if (!tcore_attr_bool(o->attrs, o->nattrs, CKA_COPYABLE, true)) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    bool modifiable = tcore_attr_bool(o->attrs, o->nattrs, CKA_MODIFIABLE, true);
    for (CK_ULONG i = 0; i < count; i++) {
        rv = check_change(o, &tmpl[i], true, is_so);
        if (rv != CKR_OK) {
            tcore_caller_bad(cx, rv, i, tmpl[i].type);
            goto out;
        }
        const tcore_attr_rule *r = tcore_attr_rule_for(o->cls, o->kt, tmpl[i].type);
        if (!modifiable && (r->flags & TCORE_R_COPY) == 0) {
            rv = tcore_caller_bad(cx, CKR_ATTRIBUTE_READ_ONLY, i, tmpl[i].type);
            goto out;
        }
    }
    if (o->has_secret) {
        rv = tcore_obj_ensure_open_locked(o);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    if (o->broken) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    c = tcore_obj_alloc(o->token, o->cls, o->kt);
    if (c == NULL || !tcore_attrs_dup(o->attrs, o->nattrs, &c->attrs, &c->nattrs)) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (CK_ULONG i = 0; i < count; i++) {
        if (!tcore_attrs_set(&c->attrs, &c->nattrs, tmpl[i].type, tmpl[i].pValue,
                             tmpl[i].ulValueLen)) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
    }
    if (!tcore_obj_new_unique_id(c)) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (o->has_secret) {
        c->secret = tcrypto_secure_alloc(o->secret_len);
        if (c->secret == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        memcpy(c->secret, o->secret, o->secret_len);
        c->secret_len = o->secret_len;
        c->has_secret = true;
    }
    if (o->pkey != NULL) {
        tcrypto_pkey_ref(o->pkey);
        c->pkey = o->pkey;
    }
    *out = c;
    c = NULL;
out:
    tcore_obj_unlock(o);
    tcore_obj_unref(c);
    return rv;
}

/* ---- C_DestroyObject ---------------------------------------------------------- */

CK_RV tcore_obj_destroy(tcore_obj *o)
{
    CK_RV rv = CKR_OK;
    tcore_obj_lock(o);
    if (o->destroyed) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        goto out;
    }
    if (!tcore_attr_bool(o->attrs, o->nattrs, CKA_DESTROYABLE, true)) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    if (o->stored) {
        rv = tcore_objstore_delete(o);
        if (rv != CKR_OK) {
            goto out;
        }
    }
    o->destroyed = true;
    tcore_obj_wipe_secret_locked(o);
    if (o->pkey != NULL) {
        tcrypto_pkey_free(o->pkey);
        o->pkey = NULL;
    }
out:
    tcore_obj_unlock(o);
    if (rv == CKR_OK && o->stored) {
        tcore_cache_remove(o->token, o->id);
    }
    return rv;
}
