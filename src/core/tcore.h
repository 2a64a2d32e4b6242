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
typedef struct tcore_obj tcore_obj;

/* ---- object handles -------------------------------------------------------
 * Token objects have the same handle in every process: the handle is derived
 * from the object's id (62 random bits, assigned when the object is stored;
 * a collision is caught by the store transaction and retried):
 *     handle = TCORE_TOKEN_HANDLE_BIT | (id & TCORE_TOKEN_HANDLE_MASK)
 * so token-object handles lie in [2^62, 2^63). Session objects (owned by the
 * PKCS#11 module) must use handles in [1, 2^62): tcore_handle_is_token()
 * tells the two ranges apart. Bit 63 stays clear so that front ends holding
 * handles in signed 64-bit integers (Java) see positive values. */
#define TCORE_TOKEN_HANDLE_BIT ((CK_OBJECT_HANDLE)1 << 62)
#define TCORE_TOKEN_HANDLE_MASK (TCORE_TOKEN_HANDLE_BIT - 1)
static inline bool tcore_handle_is_token(CK_OBJECT_HANDLE h)
{
    return (h & ~TCORE_TOKEN_HANDLE_MASK) == TCORE_TOKEN_HANDLE_BIT;
}

/* ---- key protector ---------------------------------------------------------
 * Hands the object code the token's 256-bit key (TCORE_TOKEN_KEY_LEN), which
 * seals every object record of the token. A protector keeps its state as an
 * opaque blob stored in the token's metadata; the functions are pure over the
 * blob (they never touch the store), so the token code commits a new blob in
 * the same compare-and-swap as the rest of the metadata.
 *
 * The embedded protector (tcore_protector_pin) wraps the token key with
 * AES-256-GCM under keys derived from the SO PIN and from the user PIN with
 * tcrypto_pin_kdf (Argon2id, a random salt per PIN, parameters kept in the
 * blob). The daemon's master-key hierarchy plugs in as another protector.
 *
 * Every `key` buffer is TCORE_TOKEN_KEY_LEN bytes, owned by the caller (who
 * keeps it on the secure heap); blobs returned in *blob are malloc'd and
 * released by the caller with free(). Nothing is written on failure. */
#define TCORE_TOKEN_KEY_LEN 32

typedef struct tcore_protector {
    /* A new token (C_InitToken): make a fresh random token key, protect it
     * for the SO with so_pin; the user PIN is not initialised yet. */
    CK_RV (*create)(void *ctx, const char *token_id, const uint8_t *so_pin, size_t so_pin_len,
                    uint8_t key[TCORE_TOKEN_KEY_LEN], uint8_t **blob, size_t *blob_len);
    /* Recover the token key for `who` (CKU_SO or CKU_USER) with that role's
     * PIN: CKR_PIN_INCORRECT if the PIN is wrong, CKR_USER_PIN_NOT_INITIALIZED
     * if the role has no PIN, CKR_DEVICE_ERROR if the blob is damaged. */
    CK_RV (*unlock)(void *ctx, const char *token_id, const uint8_t *blob, size_t blob_len,
                    CK_USER_TYPE who, const uint8_t *pin, size_t pin_len,
                    uint8_t key[TCORE_TOKEN_KEY_LEN]);
    /* Protect `key` for `who` under a new PIN (C_InitPIN, C_SetPIN), returning
     * the new blob; the other role's entry is kept. */
    CK_RV (*set_pin)(void *ctx, const char *token_id, const uint8_t *blob, size_t blob_len,
                     CK_USER_TYPE who, const uint8_t key[TCORE_TOKEN_KEY_LEN],
                     const uint8_t *pin, size_t pin_len, uint8_t **new_blob,
                     size_t *new_blob_len);
    /* Does the blob hold an entry for `who`? */
    bool (*has_pin)(void *ctx, const uint8_t *blob, size_t blob_len, CK_USER_TYPE who);
    /* Release ctx (called by tcore_tokens_close). May be NULL. */
    void (*destroy)(void *ctx);
    void *ctx;
} tcore_protector;

/* The embedded protector (PIN-derived keys). params NULL = the crypto layer's
 * default Argon2id parameters (tests pass cheap ones). Copies *params. */
CK_RV tcore_protector_pin(const tcrypto_pin_kdf_params *params, tcore_protector *out);
/* Parse a PIN protector blob (bounded reader); used by the fuzz target. */
CK_RV tcore_protector_pin_blob_check(const uint8_t *blob, size_t len);

/* ---- token set ---------------------------------------------------------------
 * All tokens of one store. In embedded mode one sqlite file in the data
 * directory (<dir>/tessera.db) holds every token; slot ids are stable: a
 * token keeps the slot id it was given when initialised. There is always
 * exactly one free (uninitialised) slot, with the next unused slot id;
 * C_InitToken on it turns it into a token and a new free slot appears.
 *
 * Store layout (keys are ASCII, <tokid> = 16 lowercase hex digits,
 * <objid> = 16 hex digits, <hex> = hex of the value bytes):
 *   slot/<slotid, 8 hex>                 -> token id (the slot registry)
 *   t/<tokid>/meta                       -> token metadata + protector blob
 *   t/<tokid>/o/<objid>                  -> object record (record.c)
 *   t/<tokid>/ix/<attr 8 hex>/p/<hex>/<objid>  -> "" (index of a public object)
 *   t/<tokid>/ix/<attr 8 hex>/h/<hmac>/<objid> -> "" (index of a private object:
 *        the value is a keyed hash, so private labels/ids stay secret)
 * Indexed attributes: CKA_CLASS, CKA_LABEL, CKA_ID.
 *
 * Thread-safe. Objects are cached per token; other processes' changes are
 * picked up from the store (tstore_changes) at tcore_token_find and at least
 * every TCORE_SYNC_INTERVAL_MS on handle lookups, and a handle lookup that
 * misses the cache reads the store directly. */
typedef struct tcore_tokens tcore_tokens;

#define TCORE_SYNC_INTERVAL_MS 500
#define TCORE_PIN_MIN_LEN 4
#define TCORE_PIN_MAX_LEN 64
/* Consecutive wrong PINs after which a role is locked (CKR_PIN_LOCKED). A
 * locked user PIN is reset by the SO with C_InitPIN; a locked SO PIN only by
 * re-creating the token store. The counters live in the store, so all
 * processes share them. */
#define TCORE_PIN_MAX_TRIES 5

/* Open (create if missing) the token set in data_dir: store file
 * <data_dir>/tessera.db. protector: how token keys are protected; the set
 * takes ownership of protector->ctx (NULL = tcore_protector_pin defaults).
 * CKR_DEVICE_ERROR if the store cannot be opened. */
CK_RV tcore_tokens_open(const char *data_dir, const tcore_protector *protector,
                        tcore_tokens **out);
/* Same over a store opened by the caller (own: close it with the set). */
CK_RV tcore_tokens_open_store(tstore *store, bool own, const tcore_protector *protector,
                              tcore_tokens **out);
/* Wipes every token key and cached secret, releases all tokens. Objects
 * still referenced by the caller stay valid memory but yield no secrets. */
void tcore_tokens_close(tcore_tokens *ts);
/* Slot ids, in ascending order, including the free slot (PKCS#11 two-call
 * convention on out and *count; CKR_BUFFER_TOO_SMALL). Re-reads the slot
 * registry, so tokens initialised by other processes appear. */
CK_RV tcore_tokens_slots(tcore_tokens *ts, CK_SLOT_ID *out, CK_ULONG *count);
/* The token in a slot (borrowed: valid until tcore_tokens_close), or
 * CKR_SLOT_ID_INVALID. The free slot returns an uninitialised token. */
CK_RV tcore_tokens_get(tcore_tokens *ts, CK_SLOT_ID slot, tcore_token **out);

/* ---- one token ---------------------------------------------------------------- */

CK_SLOT_ID tcore_token_slot(const tcore_token *t);
bool tcore_token_initialized(tcore_token *t);
/* The token id (16 hex digits + NUL; "" for the free slot). */
const char *tcore_token_id(const tcore_token *t);

/* Fill what the core knows of CK_TOKEN_INFO (PKCS#11 3.0 §5.5 C_GetTokenInfo):
 * label, manufacturerID, model, serialNumber (from the token id), flags
 * (CKF_RNG, CKF_LOGIN_REQUIRED, CKF_TOKEN_INITIALIZED,
 * CKF_USER_PIN_INITIALIZED, CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED,
 * CKF_SO_PIN_* likewise), PIN lengths, versions; memory fields are
 * CK_UNAVAILABLE_INFORMATION and the session counts CK_EFFECTIVELY_INFINITE /
 * CK_UNAVAILABLE_INFORMATION for the module to overwrite. Re-reads the
 * token's metadata from the store. */
CK_RV tcore_token_get_info(tcore_token *t, CK_TOKEN_INFO *info);

/* C_InitToken (PKCS#11 3.0 §5.6). label: 32 bytes, blank padded.
 * On the free slot: creates the token (new token id and key, SO PIN set, user
 * PIN not initialised). On an initialised token: the SO PIN must be right
 * (CKR_PIN_INCORRECT, counted towards the lockout; CKR_PIN_LOCKED); then all
 * its objects are destroyed, a new token key is made, the user PIN becomes
 * uninitialised and the label is replaced — one store transaction. The caller
 * checks for open sessions (CKR_SESSION_EXISTS). Logs every role out.
 * CKR_PIN_LEN_RANGE for an SO PIN outside [TCORE_PIN_MIN_LEN, TCORE_PIN_MAX_LEN]. */
CK_RV tcore_token_init(tcore_token *t, const uint8_t *so_pin, size_t so_pin_len,
                       const uint8_t label[32]);

/* Who is logged in to the token, shared by all sessions of this process:
 * CKU_SO, CKU_USER, or TCORE_NOBODY. */
#define TCORE_NOBODY ((CK_USER_TYPE)0xFFFFFFFFUL)
CK_USER_TYPE tcore_token_login_state(tcore_token *t);

/* C_Login (PKCS#11 3.0 §5.6). who: CKU_SO, CKU_USER, CKU_CONTEXT_SPECIFIC.
 *  - CKU_SO / CKU_USER: CKR_USER_ALREADY_LOGGED_IN (same role),
 *    CKR_USER_ANOTHER_ALREADY_LOGGED_IN, CKR_USER_PIN_NOT_INITIALIZED,
 *    CKR_PIN_INCORRECT (a failure is counted; TCORE_PIN_MAX_TRIES in a row
 *    lock the role), CKR_PIN_LOCKED, CKR_TOKEN_NOT_RECOGNIZED (free slot).
 *    On success the token key is unlocked for every session.
 *  - CKU_CONTEXT_SPECIFIC: re-checks the PIN of the role logged in (for
 *    CKA_ALWAYS_AUTHENTICATE keys); CKR_USER_NOT_LOGGED_IN if nobody is;
 *    the caller tracks which operation it authorises.
 * The module checks session states (CKR_SESSION_READ_ONLY_EXISTS). */
CK_RV tcore_token_login(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin, size_t pin_len);
/* C_Logout: CKR_USER_NOT_LOGGED_IN if nobody is. Wipes the token key and every
 * decrypted secret of the token's objects, and drops private objects from
 * the cache (their handles resolve again only after a new login). */
CK_RV tcore_token_logout(tcore_token *t);
/* C_InitPIN: the SO must be logged in (CKR_USER_NOT_LOGGED_IN). Sets the user
 * PIN and clears the user's failure counter / lock. CKR_PIN_LEN_RANGE. */
CK_RV tcore_token_init_pin(tcore_token *t, const uint8_t *pin, size_t pin_len);
/* C_SetPIN: changes the SO PIN when the SO is logged in, else the user PIN
 * (logged in as user or not logged in, PKCS#11 3.0 §5.6). old_pin must be
 * right: CKR_PIN_INCORRECT (counted), CKR_PIN_LOCKED; CKR_PIN_LEN_RANGE for
 * new_pin; CKR_USER_PIN_NOT_INITIALIZED. */
CK_RV tcore_token_set_pin(tcore_token *t, const uint8_t *old_pin, size_t old_len,
                          const uint8_t *new_pin, size_t new_len);

/* ---- the token's objects ---------------------------------------------------- */

/* A token object by handle: a new reference (tcore_obj_unref). Private objects
 * only while the user is logged in. Served from the cache; a miss reads the
 * store (objects created by other processes). CKR_OBJECT_HANDLE_INVALID. */
CK_RV tcore_token_object(tcore_token *t, CK_OBJECT_HANDLE h, tcore_obj **out);

/* C_FindObjectsInit over the token objects: the handles of every object
 * matching the template (PKCS#11 3.0 §5.7), as a malloc'd array (free()).
 * Private objects are included only while the user is logged in. Uses the
 * CKA_LABEL / CKA_ID / CKA_CLASS indexes when the template has one of them
 * (no full scan); reads the store, so other processes' objects are found.
 * A template holding a sensitive attribute never matches by its value. */
CK_RV tcore_token_find(tcore_token *t, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                       CK_OBJECT_HANDLE **handles, CK_ULONG *n);

/* Persist new objects (from tcore_obj_new / tcore_obj_copy, CKA_TOKEN true)
 * in ONE durable store transaction: ids are assigned, records sealed under the
 * token key, index keys written. On success handles[i] is each object's handle
 * and the objects are in the cache; on failure nothing was stored. The caller
 * keeps its references. CKR_USER_NOT_LOGGED_IN if a private object or any
 * object with secret material is stored while the token key is locked;
 * CKR_TEMPLATE_INCONSISTENT if an object is not a token object or is stored
 * already; CKR_DEVICE_ERROR on store failure. */
CK_RV tcore_token_store_objects(tcore_token *t, tcore_obj **objs, CK_ULONG n,
                                CK_OBJECT_HANDLE *handles);

/* ======================================================================== */
/* Objects                                                                   */
/* ======================================================================== */

/* An object: its attributes in memory plus, for keys, the sealed secret
 * material that is opened (decrypted, integrity-checked) on first use.
 * Reference counted; attributes are read under the object's own lock, so
 * objects may be shared by sessions in several threads. */
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

/* CKA_TOKEN / CKA_PRIVATE of the object. */
bool tcore_obj_is_token(const tcore_obj *o);
bool tcore_obj_is_private(const tcore_obj *o);
/* The handle of a stored token object (0 for session objects). */
CK_OBJECT_HANDLE tcore_obj_handle(const tcore_obj *o);

/* C_GetAttributeValue (PKCS#11 3.0 §5.7) over a whole template: fills each
 * entry (ulValueLen = CK_UNAVAILABLE_INFORMATION for entries that fail) and
 * returns CKR_ATTRIBUTE_SENSITIVE / CKR_ATTRIBUTE_TYPE_INVALID /
 * CKR_BUFFER_TOO_SMALL as the spec orders them, else CKR_OK. Sensitive
 * values (private key parts, CKA_VALUE of private/secret keys) are returned
 * only when CKA_SENSITIVE is false and CKA_EXTRACTABLE true; reading them
 * opens the sealed record (CKR_USER_NOT_LOGGED_IN, CKR_DEVICE_ERROR). An
 * object whose record failed its integrity check shows nothing:
 * CKR_DEVICE_ERROR (also from tcore_obj_attr_get). */
CK_RV tcore_obj_get_attrs(tcore_obj *o, CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* Does the object match a C_FindObjects template (every attribute present
 * with an equal value)? Sensitive attributes never match, nor do objects
 * that failed their integrity check or were destroyed. For session objects;
 * token objects are searched with tcore_token_find. */
bool tcore_obj_match(tcore_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* C_SetAttributeValue (PKCS#11 3.0 §4.1.2, the per-class tables): all or
 * nothing. CKR_ACTION_PROHIBITED if CKA_MODIFIABLE is false,
 * CKR_ATTRIBUTE_READ_ONLY, CKR_ATTRIBUTE_TYPE_INVALID,
 * CKR_ATTRIBUTE_VALUE_INVALID (bad length or value), CKR_ATTRIBUTE_READ_ONLY
 * also for SENSITIVE true->false, EXTRACTABLE false->true, WRAP_WITH_TRUSTED
 * true->false (the footnotes say the attribute becomes read-only) and for
 * CKA_TRUSTED set by anyone but the SO, CKR_USER_NOT_LOGGED_IN (token key
 * locked for a sealed record).
 * A token object is rewritten in the store (compare-and-swap on its record:
 * CKR_FUNCTION_FAILED if another process changed it meanwhile, CKR_DEVICE_ERROR
 * if the store fails) before the in-memory copy changes. */
CK_RV tcore_obj_set_attrs(tcore_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* C_CopyObject: a new, not yet stored object with o's attributes and
 * material, changed by tmpl (only attributes C_SetAttributeValue could
 * change, plus CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_COPYABLE,
 * CKA_DESTROYABLE false; PKCS#11 3.0 §5.7). CKR_ACTION_PROHIBITED if
 * CKA_COPYABLE is false. CKA_UNIQUE_ID is fresh. Store a token copy with
 * tcore_token_store_objects. */
CK_RV tcore_obj_copy(tcore_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG count, tcore_obj **out);

/* C_DestroyObject: CKR_ACTION_PROHIBITED if CKA_DESTROYABLE is false. A token
 * object is deleted from the store with its index keys and dropped from the
 * cache (CKR_USER_NOT_LOGGED_IN for a private one while logged out); a
 * session object only gets the check and its secrets wiped. The caller
 * still drops its own reference. */
CK_RV tcore_obj_destroy(tcore_obj *o);

/* ---- records (record.c): the stored form of a token object ---------------- */

/* A decoded record: the public part parsed, the sealed part still encrypted.
 * Pointers refer into the decoded buffer's copies (owned by the record). */
typedef struct {
    CK_ATTRIBUTE_TYPE type;
    uint8_t *value;
    CK_ULONG len;
} tcore_attr;

typedef struct {
    uint64_t obj_id;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE key_type;
    uint32_t flags;         /* TCORE_REC_* */
    tcore_attr *attrs;      /* public attributes */
    size_t nattrs;
    uint8_t *sealed;        /* iv || ciphertext || tag, or NULL */
    size_t sealed_len;
} tcore_record;

#define TCORE_REC_SEALED 0x1u   /* has a sealed part (integrity + secrets) */
#define TCORE_REC_PRIVATE 0x2u  /* CKA_PRIVATE: attributes are in the sealed part */
#define TCORE_REC_SECRET 0x4u   /* sealed part holds key material */

/* Decode a record from untrusted bytes (bounded reader; rejects trailing
 * bytes, duplicate attributes, counts larger than the input). On success
 * *out owns its memory: tcore_record_free. CKR_DEVICE_ERROR when malformed. */
CK_RV tcore_record_decode(const uint8_t *buf, size_t len, tcore_record *out);
void tcore_record_free(tcore_record *r);
/* Decode the plaintext of a sealed part: key material + attributes. *secret
 * is on the secure heap (tcrypto_secure_free). CKR_DEVICE_ERROR if malformed. */
CK_RV tcore_record_decode_sealed(const uint8_t *buf, size_t len, uint8_t **secret,
                                 size_t *secret_len, tcore_attr **attrs, size_t *nattrs);
void tcore_attrs_free(tcore_attr *attrs, size_t n);

/* ======================================================================== */
/* Mechanisms and operations (mech*.c)                                       */
/* ======================================================================== */

/* The mechanisms this module implements, for C_GetMechanismList/Info.
 * Every listed mechanism works. */
CK_RV tcore_mech_list(CK_MECHANISM_TYPE *out, CK_ULONG *count);
CK_RV tcore_mech_info(CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info);

/* The kinds of data operation (PKCS#11 3.0 §5.8-§5.12). */
typedef enum {
    TCORE_OP_DIGEST = 0,
    TCORE_OP_SIGN,
    TCORE_OP_VERIFY,
    TCORE_OP_ENCRYPT,
    TCORE_OP_DECRYPT,
} tcore_op_kind;

/* An active digest/sign/verify/encrypt/decrypt operation over one key.
 * Owns a reference to the key material (not to the object). */
typedef struct tcore_op tcore_op;

/* Start an operation: checks the mechanism is known and allowed for `kind`
 * (CKR_MECHANISM_INVALID), its parameters (CKR_MECHANISM_PARAM_INVALID), the
 * key's class and type (CKR_KEY_TYPE_INCONSISTENT), size (CKR_KEY_SIZE_RANGE)
 * and usage (tcore_obj_check_use). key is NULL for digests.
 * PKCS#11 3.0 §5.8-§5.12 (the *Init functions). */
CK_RV tcore_op_init(tcore_op_kind kind, const CK_MECHANISM *mech, tcore_obj *key,
                    tcore_op **out);
void tcore_op_free(tcore_op *op);
/* The key has CKA_ALWAYS_AUTHENTICATE (a context-specific login is due). */
bool tcore_op_always_auth(const tcore_op *op);

/* The data functions. Output follows the two-call convention: out NULL ->
 * *outlen = the length needed and CKR_OK; too small -> CKR_BUFFER_TOO_SMALL
 * with *outlen = needed. After any other error the caller ends the op
 * (PKCS#11 3.0 §5.2); the op stays usable after CKR_BUFFER_TOO_SMALL and
 * after a length query. */
CK_RV tcore_op_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                       CK_ULONG *outlen);
/* Digest/sign/verify ignore out/outlen (may be NULL). */
CK_RV tcore_op_update(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                      CK_ULONG *outlen);
CK_RV tcore_op_final(tcore_op *op, uint8_t *out, CK_ULONG *outlen);
CK_RV tcore_op_verify(tcore_op *op, const uint8_t *in, size_t inlen, const uint8_t *sig,
                      size_t siglen);
CK_RV tcore_op_verify_final(tcore_op *op, const uint8_t *sig, size_t siglen);
/* C_DigestKey: feed a secret key's value (CKR_KEY_INDIGESTIBLE if not allowed). */
CK_RV tcore_op_digest_key(tcore_op *op, tcore_obj *key);

/* Key generation (PKCS#11 3.0 §5.14): the material for C_GenerateKey /
 * C_GenerateKeyPair from the mechanism and templates. Secret: *secret is on
 * the secure heap (tcrypto_secure_free(*secret, *len)), *key_type what the
 * object gets. Pair: *pub is a public-only key, *priv the full key. */
CK_RV tcore_mech_generate_secret(const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl,
                                 CK_ULONG count, CK_KEY_TYPE *key_type, uint8_t **secret,
                                 size_t *len);
CK_RV tcore_mech_generate_pair(const CK_MECHANISM *mech, const CK_ATTRIBUTE *pub_tmpl,
                               CK_ULONG pub_count, CK_KEY_TYPE *key_type, tcrypto_pkey **pub,
                               tcrypto_pkey **priv);

/* C_WrapKey (§5.14): encrypt `key` (secret value or private key as PKCS#8)
 * under `wrapping`. Checks CKA_WRAP, CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED.
 * Two-call convention on out. */
CK_RV tcore_mech_wrap(const CK_MECHANISM *mech, tcore_obj *wrapping, tcore_obj *key,
                      uint8_t *out, CK_ULONG *outlen);
/* C_UnwrapKey: decrypt and interpret per the template's CKA_CLASS (secret
 * value or PKCS#8). On success exactly one of material->pkey (caller frees
 * with tcrypto_pkey_free) / material->secret (tcrypto_secure_free with
 * secret_len) is set, and *cls / *key_type say what it is. */
CK_RV tcore_mech_unwrap(const CK_MECHANISM *mech, tcore_obj *unwrapping, const uint8_t *in,
                        size_t inlen, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                        CK_OBJECT_CLASS *cls, CK_KEY_TYPE *key_type, tcore_keymat *material);
/* C_DeriveKey: ECDH1 (CK_ECDH1_DERIVE_PARAMS) and HKDF (CK_HKDF_PARAMS).
 * salt_key: the resolved CKF_HKDF_SALT_KEY object or NULL. The derived
 * secret is on the secure heap (tcrypto_secure_free(*secret, *len)). */
CK_RV tcore_mech_derive(const CK_MECHANISM *mech, tcore_obj *base, tcore_obj *salt_key,
                        const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_KEY_TYPE *key_type,
                        uint8_t **secret, size_t *len);
/* Map a tcrypto result to the PKCS#11 return value for the common cases. */
CK_RV tcore_rv_from_crypto(tcrypto_rc rc);

#endif
