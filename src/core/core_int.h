/*
 * core/ internal declarations shared by token.c, protector.c, object.c,
 * attr.c, record.c and objstore.c. Not for other layers: they use tcore.h.
 */
#ifndef TESSERA_CORE_INT_H
#define TESSERA_CORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/tcore.h"
#include "crypto/tcrypto.h"
#include "store/tstore.h"

/* ######################################################################## */
/* The object, token and mechanism layer under the session API of tcore.h.  */
/* ######################################################################## */

/* ======================================================================== */
/* Tokens                                                                    */
/* ======================================================================== */

typedef struct tcore_token tcore_token;
typedef struct tcore_obj tcore_obj;

/* ---- the caller of an object function ---------------------------------------
 * Object functions that judge by role (CKA_TRUSTED is the SO's) or validate a
 * caller's template get the caller: its role on the token and where to say
 * which template entry was wrong. NULL: nobody logged in, nothing reported. */
typedef struct {
    CK_USER_TYPE who;   /* CKU_SO, CKU_USER or TCORE_NOBODY */
    tcore_err *err;     /* may be NULL */
    tcore_arg tmpl_arg; /* which template of the call: TCORE_ARG_TEMPLATE(2) */
} tcore_caller;
/* Note that template entry `index` (of type `type`) was wrong; returns rv. */
CK_RV tcore_caller_bad(const tcore_caller *cx, CK_RV rv, CK_ULONG index, CK_ATTRIBUTE_TYPE type);
/* Note that a required attribute was missing from the template. */
void tcore_caller_missing(const tcore_caller *cx, CK_ATTRIBUTE_TYPE type);

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
 * `who` names a verifier: CKU_SO and CKU_USER are the token's default
 * users; a protector holds further verifiers (named users) under other
 * values (the PIN protector up to 64, CKR_DEVICE_MEMORY beyond).
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
    /* Drop whatever the protector keeps outside the blob for `who` (the PIN
     * protector's login cache entry), so the next unlock takes the full
     * path. May be NULL. */
    void (*forget)(void *ctx, const char *token_id, CK_USER_TYPE who);
    /* Release ctx (called by tcore_tokens_close). May be NULL. */
    void (*destroy)(void *ctx);
    void *ctx;
} tcore_protector;

/* The embedded protector (PIN-derived keys). params NULL = the crypto layer's
 * default Argon2id parameters (tests pass cheap ones). Copies *params. */
CK_RV tcore_protector_pin(const tcrypto_pin_kdf_params *params, tcore_protector *out);
/* The same with the opt-in login cache (protector.c's comment): user logins
 * of the same uid within cache_seconds (1..86400; 0 = off) of a full one
 * skip the Argon2id. CKR_ARGUMENTS_BAD beyond 86400. */
CK_RV tcore_protector_pin_cached(const tcrypto_pin_kdf_params *params, uint32_t cache_seconds,
                                 tcore_protector *out);
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
 *   t/<tokid>/meta                       -> token metadata + protector blob (meta.c)
 *   t/<tokid>/head                       -> the metadata's witness (meta.c)
 *   t/<tokid>/o/<objid>                  -> object record (record.c)
 *   t/<tokid>/m/<objid>                  -> the record's manifest entry (meta.c)
 *   t/<tokid>/ix/<attr 8 hex>/p/<hex>/<objid>  -> "" (index of a public object)
 *   t/<tokid>/ix/<attr 8 hex>/h/<hmac>/<objid> -> "" (index of a private object:
 *        the value is a keyed hash, so private labels/ids stay secret)
 * Indexed attributes: CKA_CLASS (its value as a big-endian u64), CKA_LABEL,
 * CKA_ID.
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

/* Open (create if missing, with its directory) the token set in the store at
 * `path` (a tstore_open location: a file path, or a store URI); the caller
 * chooses the file, the core names none. protector: how token keys are
 * protected; the set takes ownership of protector->ctx (NULL =
 * tcore_protector_pin defaults), on failure too. CKR_ARGUMENTS_BAD for a
 * NULL or empty path, CKR_DEVICE_ERROR if the store cannot be opened. */
CK_RV tcore_tokens_open(const char *path, const tcore_protector *protector, tcore_tokens **out);
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

/* No role: an application that is not logged in. */
#define TCORE_NOBODY ((CK_USER_TYPE)0xFFFFFFFFUL)

/* ---- key availability ----------------------------------------------------------
 * Whether the token key is available (unlocked) is the token's fact, apart
 * from who may do what (the sessions' business, session.c). Here a PIN
 * unlocks it: every application logged in to the token holds it, and when
 * the last holder lets go the key and every decrypted secret of the token's
 * objects are wiped (the epoch changes, so references opened under the old
 * key stop working). */

/* Check `who`'s PIN (CKU_SO or CKU_USER) and hold the token key:
 * CKR_PIN_INCORRECT (counted; TCORE_PIN_MAX_TRIES in a row lock the role),
 * CKR_PIN_LOCKED, CKR_USER_PIN_NOT_INITIALIZED, CKR_TOKEN_NOT_RECOGNIZED
 * (free slot). Failed logins and lockouts are logged (token, role; never
 * the PIN). */
CK_RV tcore_token_unlock(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin, size_t pin_len);
/* Give up one hold; the last one wipes the key and the token's secrets. */
void tcore_token_release(tcore_token *t);
/* Check `who`'s PIN again without taking a hold (context-specific login). */
CK_RV tcore_token_verify_pin(tcore_token *t, CK_USER_TYPE who, const uint8_t *pin,
                             size_t pin_len);
/* Is the token key available now? */
bool tcore_token_key_available(tcore_token *t);
/* C_InitPIN's work (the caller checked the SO is logged in): sets the user
 * PIN under the available token key, clears the user's failure counter.
 * CKR_PIN_LEN_RANGE; CKR_USER_NOT_LOGGED_IN if the key is not available. */
CK_RV tcore_token_init_pin(tcore_token *t, const uint8_t *pin, size_t pin_len);
/* C_SetPIN's work for `who` (CKU_SO or CKU_USER): old_pin must be right
 * (CKR_PIN_INCORRECT, counted; CKR_PIN_LOCKED); CKR_PIN_LEN_RANGE for
 * new_pin; CKR_USER_PIN_NOT_INITIALIZED. */
CK_RV tcore_token_set_pin(tcore_token *t, CK_USER_TYPE who, const uint8_t *old_pin,
                          size_t old_len, const uint8_t *new_pin, size_t new_len);

/* ---- the token's objects ---------------------------------------------------- */

/* A token object by handle: a new reference (tcore_obj_unref). Private objects
 * only for a caller logged in as the normal user (`user`; the sessions
 * decide it). Served from the cache; a miss reads the
 * store (objects created by other processes). CKR_OBJECT_HANDLE_INVALID. */
CK_RV tcore_token_object(tcore_token *t, CK_OBJECT_HANDLE h, bool user, tcore_obj **out);

/* C_FindObjectsInit over the token objects: the handles of every object
 * matching the template (PKCS#11 3.0 §5.7), as a malloc'd array (free()).
 * Private objects are included only for `user` (as above). Uses the
 * CKA_LABEL / CKA_ID / CKA_CLASS indexes when the template has one of them
 * (no full scan); reads the store, so other processes' objects are found.
 * A template holding a sensitive attribute never matches by its value. */
CK_RV tcore_token_find(tcore_token *t, bool user, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
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
CK_RV tcore_obj_new(tcore_token *t, const tcore_caller *cx, tcore_origin origin,
                    CK_OBJECT_CLASS cls, CK_KEY_TYPE key_type, const CK_ATTRIBUTE *tmpl,
                    CK_ULONG count,
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
CK_RV tcore_obj_set_attrs(tcore_obj *o, const tcore_caller *cx, const CK_ATTRIBUTE *tmpl,
                          CK_ULONG count);

/* C_CopyObject: a new, not yet stored object with o's attributes and
 * material, changed by tmpl (only attributes C_SetAttributeValue could
 * change, plus CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_COPYABLE,
 * CKA_DESTROYABLE false; PKCS#11 3.0 §5.7). CKR_ACTION_PROHIBITED if
 * CKA_COPYABLE is false. CKA_UNIQUE_ID is fresh. Store a token copy with
 * tcore_token_store_objects. */
CK_RV tcore_obj_copy(tcore_obj *o, const tcore_caller *cx, const CK_ATTRIBUTE *tmpl,
                     CK_ULONG count, tcore_obj **out);

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
    uint32_t version;       /* record format: 1 ("TSO1", host order) or 2 */
    uint64_t serial;        /* v2: +1 on every rewrite of the object */
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
/* The same for a v2 record of that class and key type (portable values). */
CK_RV tcore_record_decode_sealed_v2(const uint8_t *buf, size_t len, CK_OBJECT_CLASS cls,
                                    CK_KEY_TYPE kt, uint8_t **secret, size_t *secret_len,
                                    tcore_attr **attrs, size_t *nattrs);
void tcore_attrs_free(tcore_attr *attrs, size_t n);

/* ======================================================================== */
/* Mechanisms and operations (mech*.c)                                       */
/* ======================================================================== */

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


/* ######################################################################## */
/* Internals of the files of core/                                          */
/* ######################################################################## */

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
/* The fixed value length of a DES-family key type (CKK_DES 8, CKK_DES2 16,
 * CKK_DES3 24), 0 for any other type. */
size_t tcore_des_key_len(CK_KEY_TYPE kt);
/* Every byte has odd parity (FIPS 46-3 §3: the low bit of each byte). */
bool tcore_des_parity_ok(const uint8_t *v, size_t n);
/* Sets the low bit of each byte so that it has odd parity. */
void tcore_des_set_parity(uint8_t *v, size_t n);
/* Legacy algorithms (single DES, RSA keys below 2048 bits) are on: set
 * once by tcore_open from legacy_algorithms, for the process (the crypto
 * layer's legacy provider is loaded into its process-wide private library
 * context). */
bool tcore_legacy_on(void);
void tcore_legacy_set(void);
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
    unsigned holders;        /* applications holding the key (tcore_token_unlock) */
    uint8_t *key;            /* TCORE_TOKEN_KEY_LEN on the secure heap, or NULL */
    atomic_ulong nsessions;  /* sessions open on the token, every application */
    atomic_ulong nrw;        /* of which R/W */
    atomic_uint_fast64_t epoch; /* bumped on every logout/re-init */
    /* object cache: id -> object */
    tcore_cache_ent **buckets;
    size_t nbuckets;
    size_t ncached;
    uint64_t synced_rev;     /* store revision the cache follows */
    uint64_t synced_ms;      /* monotonic time of the last sync */
    /* store format v2 (meta.c): newest metadata generation verified, and
     * whether a v1 store was migrated (0 unknown, 2 ready) */
    atomic_uint_fast64_t meta_gen;
    atomic_int fmt;
    /* when the index rows were last counted (objstore.c index_intact) */
    atomic_uint_fast64_t ix_checked_ms;
    atomic_bool ix_bad; /* and found wrong: finds read every record */
    struct tcore_token *next;
};

/* the length of the store's integrity key (meta.c) */
#define TCORE_IK_LEN 32

struct tcore_tokens {
    tstore *store;
    bool own_store;
    tcore_protector prot;
    pthread_mutex_t lock; /* the slot list */
    tcore_token *tokens;  /* initialised tokens and the free slot */
    /* store format v2 (meta.c, txn.c) */
    uint8_t ik[TCORE_IK_LEN]; /* the store's integrity key */
    struct tcore_anchor *anchor; /* NULL: none */
    pthread_mutex_t txn_lock; /* one commit at a time per process */
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
    uint8_t rec_version; /* stored record format (1, 2) */
    uint64_t rec_serial; /* stored record serial: +1 on every rewrite */
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
/* An EC/Edwards/Montgomery public point as PKCS#11 carries it (CKA_EC_POINT,
 * ECDH pPublicData): the DER OCTET STRING form or the raw point. expected is
 * the raw length (0: any, where the curve decides). *pt points into in. */
bool tcore_ec_point_unwrap(const uint8_t *in, size_t len, size_t expected, const uint8_t **pt,
                           size_t *ptlen);
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
/* The object id that ends a record, manifest or index key (16 lowercase hex
 * digits, not zero); false when the key does not end in one. */
bool tcore_key_obj_id(const uint8_t *key, size_t len, uint64_t *id);
/* Index keys of an object (for puts/deletes). Returns malloc'd keys. */
CK_RV tcore_index_keys(tcore_obj *o, const uint8_t *key, char ***keys, size_t *n);
void tcore_index_keys_free(char **keys, size_t n);
void tcore_cache_remove(tcore_token *t, uint64_t id);
/* Rewrite a stored object with new attributes (o->lock held, sealed part
 * open): record + index changes in one compare-and-swap transaction. */
CK_RV tcore_objstore_rewrite(tcore_obj *o, tcore_attr *attrs, size_t nattrs);
/* Delete a stored object's record and index keys (o->lock held). */
CK_RV tcore_objstore_delete(tcore_obj *o);

/* ---- the core, applications and sessions (core.c, session.c, sess_*.c) ---- */

struct tcore {
    tc_conf *conf;          /* a copy of the configuration it was opened with */
    /* the keys live in another process than the caller's (CKF_HW) */
    bool keys_outside_caller;
    tstore *store;
    tcore_tokens *tokens;
    pthread_mutex_t lock;   /* the list of applications */
    tcore_app *apps;
};

/* An application's login on one token (PKCS#11 3.0 §5.6: login state is
 * shared by the application's sessions on the token). Under app->state. */
typedef struct tcore_tlogin {
    tcore_token *t;
    /* CKU_SO, CKU_USER, TCORE_NOBODY: written under app->state, read
     * without it on the hot path */
    _Atomic CK_USER_TYPE who;
    /* changes at every login and logout; read without the lock by the
     * operations started under a login (a record lives as long as its
     * application) */
    atomic_uint_fast64_t serial;
    CK_ULONG all, rw;      /* the application's sessions on the token */
    struct tcore_tlogin *next;
} tcore_tlogin;

/* A session object: visible to every session of its application on its
 * token, destroyed with the session that made it. */
typedef struct tcore_sobj {
    CK_OBJECT_HANDLE h;
    tcore_obj *o;          /* the table's reference */
    const tcore_token *t;
    CK_SESSION_HANDLE owner;
    struct tcore_sobj *next;
} tcore_sobj;

struct tcore_sentry {
    tcore_session *s;
    uint32_t gen;
    uint32_t next_free;
};

#define TCORE_TAB_STRIPES 8

struct tcore_app {
    tcore *core;
    char principal[128];
    /* Serialises changes of login/session state (open, close, login,
     * logout); recursive. Lock order: a session's lock, then this, then the
     * tables. */
    pthread_mutex_t state;
    tcore_tlogin *logins;
    /* sessions: array indexed by the handle's low 24 bits (session.c),
     * under a striped lock: a lookup takes its thread's stripe, a change
     * all of them, so lookups on different threads share no cache line */
    union tcore_tab_stripe {
        pthread_rwlock_t l;
        char line[128];
    } tab_lock[TCORE_TAB_STRIPES];
    struct tcore_sentry *tab;
    uint32_t tab_cap;
    uint32_t tab_free;
    /* session objects: hash table by handle (sess_object.c) */
    pthread_rwlock_t obj_lock;
    tcore_sobj **objs;
    size_t nobj_buckets; /* power of two, or 0 */
    size_t nobjs;
    atomic_ullong next_obj_handle;
    struct tcore_app *next;
};

/* The operation slot of one kind. */
typedef struct {
    tcore_op *op;          /* NULL: none active */
    uint8_t mode;          /* TCORE_MODE_*: how it has been used so far */
    bool need_auth;        /* CKA_ALWAYS_AUTHENTICATE: a context login is due */
    bool needs_login;      /* the key needs the application's login */
    uint64_t login_serial; /* the session's login serial at Init */
} tcore_opslot;

enum { TCORE_MODE_FRESH = 0, TCORE_MODE_SINGLE, TCORE_MODE_MULTI };

struct tcore_session {
    pthread_mutex_t lock;
    atomic_uint refs;
    bool closed;           /* under lock */
    bool context_auth;     /* a context-specific login was made for the op */
    /* immutable after open: */
    tcore_app *app;
    tcore_token *token;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE handle;
    bool rw;
    tcore_tlogin *login;   /* the application's login on the token */
    tcore_opslot ops[TCORE_OP_KINDS];
    /* the search (C_FindObjectsInit) */
    CK_OBJECT_HANDLE *found;
    CK_ULONG nfound, found_pos;
    bool finding;
    tcore_err err;
};

/* The role the session's application is logged in as (TCORE_NOBODY). */
CK_USER_TYPE tcore_session_who(tcore_session *s);
/* The session's caller context for object functions. */
tcore_caller tcore_session_caller(tcore_session *s, tcore_arg tmpl_arg);
/* Report what was wrong with the call (kept in the session). Returns rv. */
CK_RV tcore_session_fail(tcore_session *s, CK_RV rv, tcore_arg arg);

/* sess_object.c */
/* Resolve a handle visible to the session (token objects of its token,
 * session objects of its application; private ones only for the logged-in
 * user): a new reference, or CKR_OBJECT_HANDLE_INVALID. */
CK_RV tcore_session_object(tcore_session *s, CK_OBJECT_HANDLE h, tcore_obj **out);
/* A key named by a handle for use (or export): as tcore_session_object, with
 * `invalid` for an unknown handle (CKR_KEY_HANDLE_INVALID, ...), and private
 * keys only for the logged-in normal user whatever their CKA_PRIVATE says —
 * the SO manages keys, it does not use them (CKR_USER_NOT_LOGGED_IN). */
CK_RV tcore_session_key(tcore_session *s, CK_OBJECT_HANDLE h, CK_RV invalid, tcore_obj **out);
/* Make new objects live, as one request: token objects stored in one
 * transaction, session objects registered; the R/W and login checks first.
 * Takes over the references in objs either way. */
CK_RV tcore_session_add_objects(tcore_session *s, tcore_obj **objs, CK_ULONG n,
                                CK_OBJECT_HANDLE *handles);
/* Destroy the session objects a session made, or all of the application's. */
void tcore_app_drop_objects(tcore_app *a, bool all, CK_SESSION_HANDLE owner);
/* End the search of a session. */
void tcore_find_end(tcore_session *s);

/* sess_crypt.c: end the operation of a kind / every operation. */
void tcore_crypt_end(tcore_session *s, tcore_op_kind kind);
void tcore_crypt_end_all(tcore_session *s);

/* ######################################################################## */
/* Store format v2: one commit seam, authenticated metadata, manifest,      */
/* anchor (txn.c, meta.c, migrate.c)                                        */
/* ######################################################################## */

/* ---- one commit per request (txn.c) ----------------------------------------
 * Every write to a token's part of the store goes through one transaction
 * builder and is committed once, by tcore_txn_commit, which adds what every
 * write must carry: the token's metadata with its generation advanced (and
 * its object and index-row counts adjusted), the metadata's witness row, the
 * check that a sealing key is still the token's key, the whole-store anchor,
 * and later the audit record of the request.
 *
 *     tcore_txn *x = tcore_txn_new(t);               NULL: CKR_HOST_MEMORY
 *     tcore_txn_cmp(x, key, mod_rev);                key unchanged since (0: absent)
 *     tcore_txn_put(x, key, value, len);             copies key and value
 *     tcore_txn_del(x, key);
 *     tcore_txn_count(x, d_objects, d_index_rows);   what the puts/dels add
 *     tcore_txn_key(x, token_key);                   records sealed under this key
 *     rv = tcore_txn_commit(x, &rev);                once; rev: the new revision
 *     tcore_txn_free(x);
 *
 * Keys are C strings (the store's keys are ASCII). Builder calls never fail
 * on their own: an allocation failure is remembered and reported by the
 * commit (CKR_HOST_MEMORY). tcore_txn_commit:
 *   CKR_OK                    applied, durable;
 *   CKR_FUNCTION_REJECTED     one of the caller's comparisons failed (a key
 *                             changed meanwhile): nothing applied, re-read;
 *   CKR_TOKEN_NOT_RECOGNIZED  the token was re-initialised (or removed) since
 *                             the key given to tcore_txn_key was unlocked:
 *                             nothing applied; the caller's key is stale;
 *   CKR_FUNCTION_FAILED       the store's write lock stayed busy past
 *                             TSTORE_WRITE_WAIT_MS (logged as such);
 *   CKR_DEVICE_ERROR          store failure, or metadata that fails its
 *                             integrity check (logged, naming the check).
 * Contention on the metadata with other writers is retried inside.
 * Object records are written only by objstore.c (tcore_token_store_objects,
 * tcore_objstore_rewrite, tcore_objstore_delete), which keep each record's
 * manifest entry, index rows and the counts in the same commit; a request
 * that writes more (the audit record next) adds its keys to that commit
 * rather than making a second one. */
typedef struct tcore_txn tcore_txn;
typedef struct tcore_meta tcore_meta;

tcore_txn *tcore_txn_new(tcore_token *t);
void tcore_txn_cmp(tcore_txn *x, const char *key, uint64_t mod_rev);
void tcore_txn_put(tcore_txn *x, const char *key, const void *value, size_t len);
void tcore_txn_del(tcore_txn *x, const char *key);
void tcore_txn_count(tcore_txn *x, int64_t d_objects, int64_t d_index_rows);
void tcore_txn_key(tcore_txn *x, const uint8_t *token_key);
/* Metadata changes of the request (PIN counters, protector blob, label):
 * fn edits the current metadata, read inside the commit (called again when
 * the commit is retried); an error from fn aborts the commit with it. */
void tcore_txn_meta(tcore_txn *x, CK_RV (*fn)(tcore_meta *m, void *ctx), void *ctx);
/* Re-initialisation: every key under t/<tokid>/ is deleted, listed inside the
 * commit at the metadata revision the commit compares against, so an object
 * committed meanwhile cannot survive it. */
void tcore_txn_clear_token(tcore_txn *x);
/* Token creation / migration: write `m` (generation included) as the
 * metadata of token `tokid`, with the metadata key at `expect_rev` (0: must
 * not exist yet) instead of reading it. */
void tcore_txn_meta_replace(tcore_txn *x, const char *tokid, const tcore_meta *m,
                            uint64_t expect_rev);
CK_RV tcore_txn_commit(tcore_txn *x, uint64_t *rev);
void tcore_txn_free(tcore_txn *x);

/* ---- token metadata v2 (meta.c) --------------------------------------------
 * t/<tokid>/meta (big-endian):
 *   "TTM2" | u64 slot | label[32] | u64 gen | key_id[16] | u8 so_fail |
 *   u8 user_fail | u32 flags | u64 objects | u64 index_rows |
 *   u32 blob_len | protector blob | mac[32]
 * mac = HMAC-SHA-256 under the store's integrity key over "tessera meta v2",
 * the token id and every byte before it: the PIN failure counters and the
 * protector blob (its KDF cost header included) are authenticated.
 * gen advances by one with every commit to the token; key_id identifies the
 * token key (HMAC of a label under it; zero while unknown after migration).
 * t/<tokid>/head is the metadata's witness, written in the same commit:
 *   "TTH2" | u64 gen | SHA-256(metadata record)[32] | mac[32]
 * so an older copy of the metadata alone does not match it.
 * The v1 record ("TTM1", no MAC) is decoded only to migrate it. */
#define TCORE_KEY_ID_LEN 16
#define TCORE_META_V1_SEALED 0x1u /* v1 sealed records wait for the token key */

struct tcore_meta {
    uint32_t version; /* 1 or 2 */
    CK_SLOT_ID slot;
    uint8_t label[32];
    uint64_t gen;
    uint8_t key_id[TCORE_KEY_ID_LEN];
    uint8_t so_fail;
    uint8_t user_fail;
    uint32_t flags;
    uint64_t nobj;
    uint64_t nix;
    uint8_t *blob;
    size_t blob_len;
    uint64_t mod_rev; /* store revision of the record (not encoded) */
};

void tcore_meta_free(tcore_meta *m);
/* Parse a metadata record (v1 or v2) from untrusted bytes, without checking
 * its MAC (bounded reader, no trailing bytes). For v2, *signed_len is the
 * length the MAC covers. false when malformed. */
bool tcore_meta_decode(const uint8_t *buf, size_t len, tcore_meta *m, size_t *signed_len);
/* Encode m as v2 with its MAC. */
CK_RV tcore_meta_encode(const tcore_meta *m, const char *tokid, const uint8_t *ik, tc_buf *out);
/* Encode the witness of an encoded metadata record. */
CK_RV tcore_head_encode(const char *tokid, const uint8_t *ik, uint64_t gen,
                        const uint8_t *meta, size_t meta_len, tc_buf *out);
/* Read and verify the token's metadata (v2: MAC, witness, anchor); a v1
 * store is migrated first (migrate.c). CKR_TOKEN_NOT_RECOGNIZED if absent,
 * CKR_DEVICE_ERROR with a log line naming the failed check. */
CK_RV tcore_meta_load(tcore_token *t, tcore_meta *m);
/* The same without migrating: a v1 record is CKR_DEVICE_ERROR. */
CK_RV tcore_meta_fetch(tcore_token *t, tcore_meta *m);
/* A v1 token migrated (tcore_meta_load) before anything of it is read or
 * written; nothing to do once this process knows it is v2. */
CK_RV tcore_meta_ensure_v2(tcore_token *t);
/* This process has seen the token at generation gen (rollback check). */
void tcore_meta_note_gen(tcore_token *t, uint64_t gen);
/* The key id of a token key. */
CK_RV tcore_key_id(const uint8_t *token_key, uint8_t out[TCORE_KEY_ID_LEN]);
void tcore_key_meta(char *out, size_t outlen, const char *tokid);
void tcore_key_head(char *out, size_t outlen, const char *tokid);
/* The store's integrity key into ts (tcore_tokens_open_store). */
CK_RV tcore_integrity_init(tcore_tokens *ts);

/* ---- manifest (meta.c) -----------------------------------------------------
 * t/<tokid>/m/<objid>, one per stored object, written in the same commit as
 * its record (big-endian):
 *   "TSM2" | u8 record version | u64 serial | u64 gen | u32 index rows |
 *   SHA-256(record)[32] | mac[32]
 * mac = HMAC-SHA-256 under the integrity key over "tessera manifest v2",
 * the token id, the object id and the fields. A record is accepted only with
 * an entry whose hash it matches, so a record replaced (an unsealed public
 * object rewritten, a sealed one swapped for an unsealed one), rolled back
 * (its serial names how far) or put back after deletion is refused without
 * the token key; an entry newer than the metadata names a metadata rollback. */
#define TCORE_MF_LEN (4 + 1 + 8 + 8 + 4 + 32 + 32)
typedef struct {
    uint8_t version; /* format of the record it vouches for: 1 or 2 */
    uint64_t serial;
    uint64_t gen;
    uint32_t nix;
    uint8_t hash[32];
} tcore_mf;
void tcore_key_mf(char *out, size_t outlen, const char *tokid, uint64_t id);
/* Add to x the entry e vouching for the record rec of object id (its hash
 * is computed here; e->hash is ignored). */
CK_RV tcore_mf_put(tcore_txn *x, tcore_token *t, uint64_t id, const tcore_mf *e,
                   const uint8_t *rec, size_t rec_len);
/* Check an entry and the record it vouches for: CKR_DEVICE_ERROR (logged
 * with the object id and what failed) or CKR_OK with *e filled. */
CK_RV tcore_mf_check(tcore_token *t, uint64_t id, const uint8_t *ent, size_t ent_len,
                     const uint8_t *rec, size_t rec_len, tcore_mf *e);
/* The same, without the log lines (a first look that may be retried). */
CK_RV tcore_mf_verify(tcore_token *t, uint64_t id, const uint8_t *ent, size_t ent_len,
                      const uint8_t *rec, size_t rec_len, tcore_mf *e);

/* ---- whole-store anchor (meta.c) -------------------------------------------
 * A monotonic counter kept outside the store (a TPM NV counter, an etcd
 * revision) that remembers each token's metadata generation, so that a
 * rollback of the whole store file is detected: the metadata read must not
 * be older than what the anchor holds. Without an anchor (embedded mode) a
 * consistent older copy of the whole store is accepted (docs/decisions.md). */
typedef struct tcore_anchor {
    /* The generation anchored for the token (0 if none yet). */
    CK_RV (*read)(void *ctx, const char *tokid, uint64_t *gen);
    /* Raise it to gen after a commit (never lowers it). */
    CK_RV (*advance)(void *ctx, const char *tokid, uint64_t gen);
    void (*destroy)(void *ctx); /* may be NULL */
    void *ctx;
} tcore_anchor;
/* The set takes ownership of anchor->ctx. */
void tcore_tokens_set_anchor(tcore_tokens *ts, const tcore_anchor *anchor);
/* An anchor kept in a file outside the store (anchor.c): worth having only
 * where the store's writers cannot write that file. */
CK_RV tcore_anchor_file(const char *path, tcore_anchor *out);

/* ---- migration from format v1 (migrate.c) ----------------------------------
 * On first use of a v1 token: metadata, manifest, index keys and unsealed
 * records become v2 in one commit (no key needed). Sealed v1 records are
 * rewritten as v2 when the token key is at hand: tcore_migrate_sealed, called
 * after every successful PIN check (a no-op once done), one commit. */
CK_RV tcore_migrate_open(tcore_token *t);
CK_RV tcore_migrate_sealed(tcore_token *t, const uint8_t *token_key);
/* Open a loaded object's sealed part with the given token key (record.c;
 * for the migration, which runs before the key is held by the token). */
CK_RV tcore_record_open_with(tcore_obj *o, const uint8_t *key);

/* Record decode/encode of v2 attribute lists: CK_ULONG values (TCORE_AK_ULONG)
 * and mechanism lists (TCORE_AK_MECHS) as 8-byte big-endian, the rest as is
 * (attr.c). */
void tcore_attrs_encode_portable(tc_buf *b, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                                 const tcore_attr *a, size_t n);
bool tcore_attrs_decode_portable(tc_reader *r, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                                 tcore_attr **out, size_t *nout);
/* Longest value accepted in a search template or stored attribute. */
#define TCORE_ATTR_VALUE_MAX (64u * 1024u)

#endif
