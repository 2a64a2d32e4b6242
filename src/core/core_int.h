/*
 * core/ internal declarations shared by token.c, protector.c, object.c,
 * attr.c, record.c and objstore.c. Not for other layers: they use tcore.h.
 */
#ifndef TESSERA_CORE_INT_H
#define TESSERA_CORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/tcore.h"

#define TCORE_LOG "core"

/* ---- attribute rules (attr.c) ------------------------------------------ */

/* Value kinds, checked on every template entry. */
enum {
    TCORE_AK_BYTES = 1, /* any length */
    TCORE_AK_BOOL,      /* sizeof(CK_BBOOL), CK_TRUE or CK_FALSE */
    TCORE_AK_ULONG,     /* sizeof(CK_ULONG) */
    TCORE_AK_DATE,      /* empty or sizeof(CK_DATE) of digits */
    TCORE_AK_MECHS,     /* array of CK_MECHANISM_TYPE */
};

/* Rule flags, named after the footnotes of the PKCS#11 3.0 attribute tables
 * (§4.2 Table 10 "Common footnotes for object attribute tables"). */
#define TCORE_R_CREATE_REQ 0x0001u   /* 1: required on C_CreateObject */
#define TCORE_R_CREATE_NO 0x0002u    /* 2: must not be given on C_CreateObject */
#define TCORE_R_GEN_REQ 0x0004u      /* 3: required on C_GenerateKey(Pair) */
#define TCORE_R_GEN_NO 0x0008u       /* 4: must not be given on C_GenerateKey(Pair) */
#define TCORE_R_UNWRAP_NO 0x0010u    /* 6: must not be given on C_UnwrapKey */
#define TCORE_R_SENSITIVE 0x0020u    /* 7: secret material, never stored as an attribute */
#define TCORE_R_MODIFIABLE 0x0040u   /* 8: C_SetAttributeValue may change it */
#define TCORE_R_SO_ONLY 0x0080u      /* 10: only the SO may set it true */
#define TCORE_R_ONLY_TRUE 0x0100u    /* 11: may only change false -> true */
#define TCORE_R_ONLY_FALSE 0x0200u   /* 12: may only change true -> false */
#define TCORE_R_SECURITY 0x0400u     /* security relevant: always in the public part */
#define TCORE_R_COPY 0x0800u         /* C_CopyObject may change it (besides 8) */

typedef struct {
    CK_ATTRIBUTE_TYPE type;
    uint8_t kind;
    uint16_t flags;
} tcore_attr_rule;

/* The rule for an attribute of an object of this class / key type (key_type
 * CK_UNAVAILABLE_INFORMATION for non-keys; certificates are X.509), or NULL
 * if the attribute is not valid for such an object. */
const tcore_attr_rule *tcore_attr_rule_for(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                                           CK_ATTRIBUTE_TYPE type);
/* Is the value well-formed for the kind? */
bool tcore_attr_value_ok(uint8_t kind, const void *value, CK_ULONG len);
bool tcore_key_type_valid(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt);
/* Default of a usage flag (CKA_ENCRYPT, _DECRYPT, _SIGN, _VERIFY, _WRAP,
 * _UNWRAP, _DERIVE, _SIGN_RECOVER, _VERIFY_RECOVER) that a template leaves
 * out: true only for what the class and key type can be used for here. */
bool tcore_attr_usage_default(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE type);

/* Attribute lists: small arrays, linear search (objects have < 40). */
tcore_attr *tcore_attrs_find(tcore_attr *a, size_t n, CK_ATTRIBUTE_TYPE type);
const tcore_attr *tcore_attrs_cfind(const tcore_attr *a, size_t n, CK_ATTRIBUTE_TYPE type);
/* Replace or append a copy of the value. false on allocation failure (list
 * unchanged). */
bool tcore_attrs_set(tcore_attr **a, size_t *n, CK_ATTRIBUTE_TYPE type, const void *value,
                     CK_ULONG len);
bool tcore_attrs_set_bool(tcore_attr **a, size_t *n, CK_ATTRIBUTE_TYPE type, bool v);
bool tcore_attrs_set_ulong(tcore_attr **a, size_t *n, CK_ATTRIBUTE_TYPE type, CK_ULONG v);
void tcore_attrs_remove(tcore_attr *a, size_t *n, CK_ATTRIBUTE_TYPE type);
/* Deep copy; false on allocation failure. */
bool tcore_attrs_dup(const tcore_attr *a, size_t n, tcore_attr **out, size_t *nout);
void tcore_attrs_sort(tcore_attr *a, size_t n);
bool tcore_attr_bool(const tcore_attr *a, size_t n, CK_ATTRIBUTE_TYPE type, bool dflt);
CK_ULONG tcore_attr_ulong(const tcore_attr *a, size_t n, CK_ATTRIBUTE_TYPE type, CK_ULONG dflt);

/* Encoding of an attribute list (sorted by the caller if order matters):
 * u32 count, then per entry u64 type, u32 len, bytes. */
void tcore_attrs_encode(tc_buf *b, const tcore_attr *a, size_t n);
/* Bounded decoder of the same; rejects duplicate types and counts larger
 * than what the input could hold. */
bool tcore_attrs_decode(tc_reader *r, tcore_attr **out, size_t *nout);

/* ---- tokens (token.c) -------------------------------------------------- */

typedef struct tcore_cache_ent {
    uint64_t id;
    tcore_obj *obj;
    struct tcore_cache_ent *next;
} tcore_cache_ent;

struct tcore_token {
    tcore_tokens *set;
    CK_SLOT_ID slot;
    char id[17];             /* "" for the free slot */
    pthread_mutex_t lock;    /* login state, key, cache; held briefly */
    CK_USER_TYPE who;        /* TCORE_NOBODY, CKU_SO, CKU_USER */
    uint8_t *key;            /* TCORE_TOKEN_KEY_LEN on the secure heap, or NULL */
    atomic_uint_fast64_t epoch; /* bumped on every logout/re-init */
    /* object cache: id -> object */
    tcore_cache_ent **buckets;
    size_t nbuckets;
    size_t ncached;
    uint64_t synced_rev;     /* store revision the cache follows */
    uint64_t synced_ms;      /* monotonic time of the last sync */
    struct tcore_token *next;
};

struct tcore_tokens {
    tstore *store;
    bool own_store;
    tcore_protector prot;
    pthread_mutex_t lock; /* the slot list */
    tcore_token *tokens;  /* initialised tokens and the free slot */
};

/* A copy of the token key (secure heap, TCORE_TOKEN_KEY_LEN) and the epoch
 * it belongs to; CKR_USER_NOT_LOGGED_IN when locked. */
CK_RV tcore_token_key_copy(tcore_token *t, uint8_t **key, uint64_t *epoch);
/* Whether the token key is unlocked now at this epoch. */
bool tcore_token_epoch_valid(tcore_token *t, uint64_t epoch);
tstore *tcore_token_store(tcore_token *t);
uint64_t tcore_now_ms(void);

/* ---- objects (object.c) ------------------------------------------------- */

struct tcore_obj {
    atomic_int refs;
    pthread_mutex_t lock;
    tcore_token *token;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    /* every non-secret attribute (public and private ones) */
    tcore_attr *attrs;
    size_t nattrs;
    /* secret material: PKCS#8 DER (private keys) or the value (secret keys) */
    bool has_secret;
    uint8_t *secret; /* secure heap, NULL while sealed / locked */
    size_t secret_len;
    tcrypto_pkey *pkey; /* cached key for private/public keys */
    struct tcore_secret *sref; /* shared opened value of a secret key (object.c) */
    /* token objects */
    bool stored;
    bool destroyed;
    uint64_t id;
    uint64_t mod_rev;
    uint64_t create_rev; /* store revision that created the record: find order */
    uint8_t *sealed; /* stored sealed part, for opening later */
    size_t sealed_len;
    bool opened;        /* sealed part verified and decoded at `epoch` */
    uint64_t epoch;
    bool broken;        /* sealed part failed its integrity check */
    bool attrs_loaded;  /* private attributes present (private objects) */
};

tcore_obj *tcore_obj_alloc(tcore_token *t, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt);
/* Open the sealed part under o->lock (held by the caller). */
CK_RV tcore_obj_open_locked(tcore_obj *o);
/* Wipe decrypted secrets (logout); takes o->lock. */
void tcore_obj_forget_secrets(tcore_obj *o);
/* Secure-heap pressure: drop the opened keys of cached objects nobody else
 * holds (objstore.c), so another key can be opened. */
void tcore_cache_evict_secrets(tcore_token *t);
/* Build the pkey for a public key from its attributes (SPKI). */
CK_RV tcore_obj_public_pkey(tcore_obj *o);

/* ---- shared by the object files (object.c, obj_*.c) ----------------------- */

void tcore_obj_lock(const tcore_obj *o);
void tcore_obj_unlock(const tcore_obj *o);
/* Attributes whose value is secret material, served from the key itself. */
bool tcore_attr_is_sensitive_type(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ATTRIBUTE_TYPE type);
/* CKA_SENSITIVE false and CKA_EXTRACTABLE true (o->lock held). */
bool tcore_obj_may_reveal_locked(const tcore_obj *o);
/* Open the sealed part if it is not open at the current epoch (o->lock held). */
CK_RV tcore_obj_ensure_open_locked(tcore_obj *o);
/* Wipe the opened secret value and its reference (o->lock held). */
void tcore_obj_wipe_secret_locked(tcore_obj *o);
/* The secret material of a private key is PKCS#8 DER. An RSA key imported
 * without its CRT components (PKCS#11 3.0 §6.1.3 requires only the modulus
 * and the private exponent) cannot be written as PKCS#8, so it is kept as
 *   "TRK1" | u32 len | n | u32 len | e | u32 len | d
 * (DER always starts with 0x30, so the two forms cannot be confused). */
#define TCORE_RSA_NED_MAGIC "TRK1"
/* A crypto key from stored private-key material (PKCS#8 or the RSA n/e/d form). */
CK_RV tcore_secret_to_pkey(const uint8_t *secret, size_t len, tcrypto_pkey **out);
/* The usage checks of tcore_obj_check_use: all of them (o->lock held), and
 * the part that needs no lock (class, key type). */
CK_RV tcore_obj_check_use_locked(const tcore_obj *o, CK_MECHANISM_TYPE mech,
                                 CK_ATTRIBUTE_TYPE usage);
CK_RV tcore_obj_check_use_pre(const tcore_obj *o, CK_ATTRIBUTE_TYPE usage);
/* A fresh random CKA_UNIQUE_ID; false on allocation failure. */
bool tcore_obj_new_unique_id(tcore_obj *o);
/* A template entry's CK_BBOOL value (true for any non-zero byte). */
bool tcore_tmpl_bool(const CK_ATTRIBUTE *a);

/* ---- records (record.c) ------------------------------------------------- */

/* Seal and encode an object (o->id set) with the token key (NULL: only
 * allowed for public objects without secret material, stored unsealed). */
CK_RV tcore_record_build(tcore_obj *o, const uint8_t *key, tc_buf *out);
/* Rebuild an object from the record stored under expected_id; opens the
 * sealed part of a private object if the token key is unlocked. Integrity
 * failures, and a record that names another id (moved under this key), mark
 * the object broken (not an error here: its use reports CKR_DEVICE_ERROR). */
CK_RV tcore_record_load(tcore_token *t, const uint8_t *buf, size_t len, uint64_t mod_rev,
                        uint64_t expected_id, tcore_obj **out);
bool tcore_attr_is_public_part(const tcore_obj *o, CK_ATTRIBUTE_TYPE type);

/* ---- object store (objstore.c) ------------------------------------------ */

void tcore_cache_drop_all(tcore_token *t);
void tcore_key_obj(char *out, size_t outlen, const char *tokid, uint64_t id);
/* Index keys of an object (for puts/deletes). Returns malloc'd keys. */
CK_RV tcore_index_keys(tcore_obj *o, const uint8_t *key, char ***keys, size_t *n);
void tcore_index_keys_free(char **keys, size_t n);
void tcore_cache_remove(tcore_token *t, uint64_t id);
/* Rewrite a stored object with new attributes (o->lock held, sealed part
 * open): record + index changes in one compare-and-swap transaction. */
CK_RV tcore_objstore_rewrite(tcore_obj *o, tcore_attr *attrs, size_t nattrs);
/* Delete a stored object's record and index keys (o->lock held). */
CK_RV tcore_objstore_delete(tcore_obj *o);

#endif
