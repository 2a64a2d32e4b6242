/*
 * Usage policy of keys: the usage attribute, CKA_ALLOWED_MECHANISMS and
 * CKA_START_DATE / CKA_END_DATE (PKCS#11 3.0 §4.7).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "core/mech_int.h"

/* ---- usage checks -------------------------------------------------------- */

/* Today as CK_DATE digits "YYYYMMDD" (UTC). */
static void today(char out[8])
{
    time_t now = time(NULL);
    struct tm tm;
    char buf[16];
    gmtime_r(&now, &tm);
    strftime(buf, sizeof(buf), "%Y%m%d", &tm);
    memcpy(out, buf, 8);
}

/* The checks of tcore_obj_check_use that read attributes (o->lock held). */
CK_RV tcore_obj_check_use_locked(const tcore_obj *o, CK_MECHANISM_TYPE mech, CK_ATTRIBUTE_TYPE usage)
{
    char now[8];
    if (!tcore_attr_bool(o->attrs, o->nattrs, usage, false)) {
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    const tcore_attr *am = tcore_attrs_cfind(o->attrs, o->nattrs, CKA_ALLOWED_MECHANISMS);
    if (am != NULL && am->len > 0) {
        bool found = false;
        for (size_t i = 0; i + sizeof(CK_MECHANISM_TYPE) <= am->len; i += sizeof(CK_MECHANISM_TYPE)) {
            CK_MECHANISM_TYPE m;
            memcpy(&m, am->value + i, sizeof(m));
            if (m == mech) {
                found = true;
                break;
            }
        }
        if (!found) {
            return CKR_MECHANISM_INVALID;
        }
    }
    const tcore_attr *sd = tcore_attrs_cfind(o->attrs, o->nattrs, CKA_START_DATE);
    const tcore_attr *ed = tcore_attrs_cfind(o->attrs, o->nattrs, CKA_END_DATE);
    /* Reading the clock and formatting a date is most of an AES-GCM Init's
     * cost: only keys that carry dates pay it. */
    if ((sd != NULL && sd->len == 8) || (ed != NULL && ed->len == 8))
        today(now);
    if (sd != NULL && sd->len == 8 && memcmp(now, sd->value, 8) < 0) {
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    if (ed != NULL && ed->len == 8 && memcmp(now, ed->value, 8) > 0) {
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    return CKR_OK;
}

CK_RV tcore_obj_check_use_pre(const tcore_obj *o, CK_ATTRIBUTE_TYPE usage)
{
    if (o->cls != CKO_PUBLIC_KEY && o->cls != CKO_PRIVATE_KEY && o->cls != CKO_SECRET_KEY) {
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    if (tcore_attr_rule_for(o->cls, o->kt, usage) == NULL) {
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    return CKR_OK;
}

CK_RV tcore_obj_check_use(const tcore_obj *o, CK_MECHANISM_TYPE mech, CK_ATTRIBUTE_TYPE usage)
{
    CK_RV rv = tcore_obj_check_use_pre(o, usage);
    if (rv != CKR_OK) {
        return rv;
    }
    tcore_obj_lock(o);
    rv = tcore_obj_check_use_locked(o, mech, usage);
    tcore_obj_unlock(o);
    return rv;
}
