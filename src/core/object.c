/*
 * Objects: allocation, reference counting and the simple accessors. The
 * rest of the object code is split by concern:
 *   obj_create.c  creation from templates (PKCS#11 3.0 §4, §5.7, §5.13-5.14)
 *   obj_secret.c  key material: opening sealed parts, secret references, GCM pool
 *   obj_usage.c   usage policy (CKA_SIGN..., allowed mechanisms, dates)
 *   obj_attrs.c   C_GetAttributeValue and template matching
 *   obj_modify.c  C_SetAttributeValue, C_CopyObject, C_DestroyObject
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "core/mech_int.h"

/* ---- life cycle ------------------------------------------------------------ */

tcore_obj *tcore_obj_alloc(tcore_token *t, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt)
{
    tcore_obj *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return NULL;
    }
    atomic_init(&o->refs, 1);
    pthread_mutex_init(&o->lock, NULL);
    o->token = t;
    o->cls = cls;
    o->kt = kt;
    o->attrs_loaded = true;
    return o;
}

void tcore_obj_ref(tcore_obj *o)
{
    atomic_fetch_add(&o->refs, 1);
}
void tcore_obj_unref(tcore_obj *o)
{
    if (o == NULL || atomic_fetch_sub(&o->refs, 1) != 1) {
        return;
    }
    tcore_obj_wipe_secret_locked(o);
    if (o->pkey != NULL) {
        tcrypto_pkey_free(o->pkey);
    }
    tcore_attrs_free(o->attrs, o->nattrs);
    free(o->sealed);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

void tcore_obj_forget_secrets(tcore_obj *o)
{
    pthread_mutex_lock(&o->lock);
    if (o->stored) {
        tcore_obj_wipe_secret_locked(o);
        if (o->pkey != NULL && o->cls == CKO_PRIVATE_KEY) {
            tcrypto_pkey_free(o->pkey);
            o->pkey = NULL;
        }
        o->opened = false;
    }
    pthread_mutex_unlock(&o->lock);
}

/* ---- simple accessors --------------------------------------------------- */

void tcore_obj_lock(const tcore_obj *o)
{
    pthread_mutex_lock(&((tcore_obj *)o)->lock);
}

void tcore_obj_unlock(const tcore_obj *o)
{
    pthread_mutex_unlock(&((tcore_obj *)o)->lock);
}

CK_OBJECT_CLASS tcore_obj_class(const tcore_obj *o)
{
    return o->cls;
}

CK_KEY_TYPE tcore_obj_key_type(const tcore_obj *o)
{
    return o->kt;
}

tcore_token *tcore_obj_token(const tcore_obj *o)
{
    return o->token;
}

bool tcore_obj_bool(const tcore_obj *o, CK_ATTRIBUTE_TYPE type, bool dflt)
{
    bool v;
    tcore_obj_lock(o);
    v = tcore_attr_bool(o->attrs, o->nattrs, type, dflt);
    tcore_obj_unlock(o);
    return v;
}

CK_ULONG tcore_obj_ulong(const tcore_obj *o, CK_ATTRIBUTE_TYPE type, CK_ULONG dflt)
{
    CK_ULONG v;
    tcore_obj_lock(o);
    v = tcore_attr_ulong(o->attrs, o->nattrs, type, dflt);
    tcore_obj_unlock(o);
    return v;
}

bool tcore_obj_is_token(const tcore_obj *o)
{
    return tcore_obj_bool(o, CKA_TOKEN, false);
}

bool tcore_obj_is_private(const tcore_obj *o)
{
    return tcore_obj_bool(o, CKA_PRIVATE, false);
}

CK_OBJECT_HANDLE tcore_obj_handle(const tcore_obj *o)
{
    CK_OBJECT_HANDLE h = 0;
    tcore_obj_lock(o);
    if (o->stored) {
        h = TCORE_TOKEN_HANDLE_BIT | ((CK_OBJECT_HANDLE)o->id & TCORE_TOKEN_HANDLE_MASK);
    }
    tcore_obj_unlock(o);
    return h;
}

/* Attributes whose value is secret material, served from the key itself. */
bool tcore_attr_is_sensitive_type(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE type)
{
    const tcore_attr_rule *r = tcore_attr_rule_for(cls, kt, type);
    return r != NULL && (r->flags & TCORE_R_SENSITIVE) != 0;
}

bool tcore_obj_may_reveal_locked(const tcore_obj *o)
{
    return !tcore_attr_bool(o->attrs, o->nattrs, CKA_SENSITIVE, true) &&
           tcore_attr_bool(o->attrs, o->nattrs, CKA_EXTRACTABLE, false);
}
