/*
 * core/ — the HSM: tokens, objects with PKCS#11 semantics, encryption at rest,
 * and the cryptographic operations on objects. The embedded PKCS#11 module,
 * the daemon and the CLI all call these functions.
 *
 * Return type: CK_RV. The core's model *is* PKCS#11's (attributes, classes,
 * mechanisms), so its errors are PKCS#11's errors; front ends pass them on.
 *
 * This header is split in sections owned by different files:
 *   token.c / protector.c : tokens, PINs, login state, the key protector
 *   object.c / attr.c     : objects, attribute rules, templates, records
 *   mech*.c               : the mechanism table and operations
 */
#ifndef TESSERA_CORE_H
#define TESSERA_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tcommon.h"
#include "crypto/tcrypto.h"
#include "store/tstore.h"
#include "tessera/pkcs11.h"

/* ======================================================================== */
/* Tokens                                                                    */
/* ======================================================================== */

typedef struct tcore_token tcore_token;

/* ======================================================================== */
/* Objects                                                                   */
/* ======================================================================== */

/* An object: its attributes in memory plus, for keys, the sealed secret
 * material that is opened (decrypted, integrity-checked) on first use.
 * Reference counted; attributes are read under the object's own lock, so
 * objects may be shared by sessions in several threads. */
typedef struct tcore_obj tcore_obj;

void tcore_obj_ref(tcore_obj *o);
void tcore_obj_unref(tcore_obj *o);

CK_OBJECT_CLASS tcore_obj_class(const tcore_obj *o);
CK_KEY_TYPE tcore_obj_key_type(const tcore_obj *o); /* CK_UNAVAILABLE_INFORMATION if none */
bool tcore_obj_bool(const tcore_obj *o, CK_ATTRIBUTE_TYPE type, bool dflt);
CK_ULONG tcore_obj_ulong(const tcore_obj *o, CK_ATTRIBUTE_TYPE type, CK_ULONG dflt);
/* Copy a non-sensitive attribute's value (the PKCS#11 two-call convention:
 * out NULL -> *len = size). CKR_ATTRIBUTE_TYPE_INVALID if absent,
 * CKR_ATTRIBUTE_SENSITIVE for sensitive ones, CKR_BUFFER_TOO_SMALL. */
CK_RV tcore_obj_attr_get(const tcore_obj *o, CK_ATTRIBUTE_TYPE type, void *out, CK_ULONG *len);

/* May this key be used for `usage` (CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN,
 * CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE) with `mech`? Checks the usage
 * attribute (CKR_KEY_FUNCTION_NOT_PERMITTED), CKA_ALLOWED_MECHANISMS
 * (CKR_MECHANISM_INVALID), CKA_START_DATE/CKA_END_DATE against today
 * (CKR_KEY_FUNCTION_NOT_PERMITTED), and the object class/key type being a key
 * (CKR_KEY_TYPE_INCONSISTENT). */
CK_RV tcore_obj_check_use(const tcore_obj *o, CK_MECHANISM_TYPE mech, CK_ATTRIBUTE_TYPE usage);

/* The key material of a private/public key object as a crypto key (a new
 * reference: release with tcrypto_pkey_free). Opening a sealed record checks
 * its integrity: a tampered record gives CKR_DEVICE_ERROR (and a log line
 * naming the object, never its contents); private objects need the token to
 * be logged in (CKR_USER_NOT_LOGGED_IN). */
CK_RV tcore_obj_pkey(tcore_obj *o, tcrypto_pkey **out);
/* The value of a secret key object, copied to the secure heap. Release with
 * tcrypto_secure_free(*key, *len). Same errors as tcore_obj_pkey. */
CK_RV tcore_obj_secret(tcore_obj *o, uint8_t **key, size_t *len);

/* How an object comes into being; decides which template attributes are
 * required/forbidden (PKCS#11 3.0 §4.x attribute table footnotes) and the
 * defaults of CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
 * CKA_KEY_GEN_MECHANISM. */
typedef enum {
    TCORE_ORIGIN_CREATE,   /* C_CreateObject: material from the template */
    TCORE_ORIGIN_GENERATE, /* C_GenerateKey(Pair) */
    TCORE_ORIGIN_UNWRAP,   /* C_UnwrapKey */
    TCORE_ORIGIN_DERIVE,   /* C_DeriveKey */
} tcore_origin;

/* Key material handed to tcore_obj_new for non-CREATE origins; exactly one
 * of pkey / secret is set. The object keeps its own copy / reference. */
typedef struct {
    tcrypto_pkey *pkey;    /* key pair halves: public or private object */
    const uint8_t *secret; /* secret key value */
    size_t secret_len;
} tcore_keymat;

/* Build a new object (not yet stored) from a caller template.
 *  - cls / key_type: what the mechanism produces (for CREATE they come from
 *    the template and these are ignored; a template value that conflicts with
 *    what the mechanism produces is CKR_TEMPLATE_INCONSISTENT).
 *  - material: NULL for CREATE.
 *  - mech: the generating / unwrapping / deriving mechanism (CKA_KEY_GEN_MECHANISM).
 *  - base: for DERIVE the base key (its CKA_ALWAYS_SENSITIVE/NEVER_EXTRACTABLE
 *    carry over), else NULL.
 * Errors follow PKCS#11: CKR_TEMPLATE_INCOMPLETE, CKR_TEMPLATE_INCONSISTENT,
 * CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_VALUE_INVALID, CKR_ATTRIBUTE_READ_ONLY. */
CK_RV tcore_obj_new(tcore_token *t, tcore_origin origin, CK_OBJECT_CLASS cls,
                    CK_KEY_TYPE key_type, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                    const tcore_keymat *material, CK_MECHANISM_TYPE mech,
                    const tcore_obj *base, tcore_obj **out);

/* The token an object belongs to. */
tcore_token *tcore_obj_token(const tcore_obj *o);

/* ======================================================================== */
/* Mechanisms and operations (mech*.c)                                       */
/* ======================================================================== */

/* The mechanisms this module implements, for C_GetMechanismList/Info.
 * Every listed mechanism works. */
CK_RV tcore_mech_list(CK_MECHANISM_TYPE *out, CK_ULONG *count);
CK_RV tcore_mech_info(CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info);

#endif
