/*
 * core/mech*.c internal declarations: the mechanism table entries and the
 * helpers the operation, key-generation, wrap and derive code share.
 */
#ifndef TESSERA_CORE_MECH_INT_H
#define TESSERA_CORE_MECH_INT_H

#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

/* What a table entry does. */
typedef enum {
    MF_DIGEST = 1,
    MF_RSA_GEN,
    MF_RSA_PKCS,
    MF_RSA_PSS,
    MF_RSA_OAEP,
    MF_RSA_X509,
    MF_EC_GEN,
    MF_ECDSA,
    MF_ECDH,
    MF_ED_GEN,
    MF_EDDSA,
    MF_X_GEN,
    MF_AES_GEN,
    MF_DES_GEN,   /* DES, DES2, DES3 by mechanism: fixed length, odd parity */
    MF_ECB,       /* the block modes and CMAC take the entry's cipher (blk) */
    MF_CBC,
    MF_CBC_PAD,
    MF_AES_CTR,
    MF_AES_GCM,
    MF_CMAC,
    MF_CMAC_GENERAL,
    MF_AES_KW,
    MF_AES_KWP,
    MF_SECRET_GEN,
    MF_HMAC,
    MF_HMAC_GENERAL,
    MF_HKDF,
} tcore_mech_family;

/* The block cipher of the ECB/CBC/CBC_PAD/CMAC families. */
typedef enum {
    TCORE_BLK_AES = 0,
    TCORE_BLK_DES3, /* CKK_DES2 and CKK_DES3 keys */
    TCORE_BLK_DES,  /* CKK_DES keys (legacy) */
} tcore_blk;

typedef struct {
    CK_MECHANISM_TYPE type;
    CK_ULONG min, max;
    CK_FLAGS flags;
    tcore_mech_family fam;
    tcrypto_md md; /* the hash a combined mechanism applies, or HMAC's */
    tcore_blk blk;
    bool legacy;   /* offered only with legacy_algorithms on */
} tcore_mech_def;

/* The smallest key an entry takes: min, or 1024 bits for the RSA entries
 * with legacy_algorithms on. */
CK_ULONG tcore_mech_min(const tcore_mech_def *d);
/* Block size in bytes of an entry's cipher (8 for DES and Triple DES). */
size_t tcore_mech_block(const tcore_mech_def *d);

/* The entry of an offered mechanism (a legacy one only with the switch on),
 * or NULL. */
const tcore_mech_def *tcore_mech_find(CK_MECHANISM_TYPE type);
bool tcore_mech_offered(const tcore_mech_def *d);
/* CKM_SHA* digest mechanism -> md (NONE if not a supported hash). */
tcrypto_md tcore_mech_md(CK_MECHANISM_TYPE hash);
/* CKG_MGF1_* -> md (NONE if unknown). */
tcrypto_md tcore_mech_mgf(CK_RSA_PKCS_MGF_TYPE mgf);
CK_KEY_TYPE tcore_ckk_from_crypto(tcrypto_key_type t);

const CK_ATTRIBUTE *tcore_tmpl_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type);
/* A CK_ULONG attribute of a template: *found false when absent;
 * CKR_ATTRIBUTE_VALUE_INVALID when it has the wrong size. */
CK_RV tcore_tmpl_ulong(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
                       CK_ULONG *v, bool *found);

/* Key checks shared by operations, wrap, unwrap and derive: the object's
 * class and key type fit the family (CKR_KEY_TYPE_INCONSISTENT), then
 * tcore_obj_check_use for `usage`. */
CK_RV tcore_mech_check_key(const tcore_mech_def *d, tcore_obj *key, CK_OBJECT_CLASS want_cls,
                           CK_ATTRIBUTE_TYPE usage);
/* An AES key of the object, with the mechanism's size range checked
 * (CKR_KEY_SIZE_RANGE). Free with tcrypto_secure_free. */
CK_RV tcore_mech_secret(const tcore_mech_def *d, tcore_obj *key, uint8_t **val, size_t *len);
/* The opened value of a secret key, shared by reference instead of copied
 * per operation: one block on the secure heap per opened object, immutable,
 * freed (wiped) when the object and every operation have let go of it. A
 * token object's reference is bound to the login it was opened under: after
 * a logout tcore_secret_value answers NULL, whoever still holds it. */
typedef struct tcore_secret tcore_secret;
/* A new reference; the same errors as tcore_obj_secret. */
CK_RV tcore_obj_secret_ref(tcore_obj *o, tcore_secret **out);
/* The same after tcore_obj_check_use(o, mech, usage), under one lock of the
 * object (the operation's Init path). */
CK_RV tcore_obj_secret_ref_use(tcore_obj *o, CK_MECHANISM_TYPE mech, CK_ATTRIBUTE_TYPE usage,
                               tcore_secret **out);
/* The value and its length, or NULL once the login it belongs to ended. */
const uint8_t *tcore_secret_value(const tcore_secret *s, size_t *len);
void tcore_secret_unref(tcore_secret *s);
/* A keyed AES-GCM context for s's value kept from an earlier operation, or
 * NULL (make one). The caller owns it alone until it gives it back. */
tcrypto_gcm *tcore_secret_gcm_take(tcore_secret *s);
/* Return a context keyed with s's value for reuse (freed if the pool is full
 * or the login it belongs to ended). */
void tcore_secret_gcm_give(tcore_secret *s, tcrypto_gcm *g);

/* The asymmetric key, type and size checked against the entry. */
CK_RV tcore_mech_pkey(const tcore_mech_def *d, tcore_obj *key, tcrypto_pkey **out);

/* tcore_op_init with the usage attribute to check given: CKA_WRAP /
 * CKA_UNWRAP make an encrypt / decrypt operation for C_WrapKey/C_UnwrapKey. */
CK_RV tcore_op_init_usage(tcore_op_kind kind, const CK_MECHANISM *mech, tcore_obj *key,
                          CK_ATTRIBUTE_TYPE usage, tcore_op **out);

/* The parsed parameters of RSA OAEP (label copied by reference). */
CK_RV tcore_mech_oaep_params(const CK_MECHANISM *m, tcrypto_rsa_enc_params *ep);

#endif
