/*
 * core/ — the HSM, as front ends see it: the PKCS#11 module (embedded
 * mode), the daemon and the CLI call these functions and nothing below them.
 *
 * The core's model is PKCS#11's (slots, tokens, sessions, objects,
 * attributes, mechanisms), so its errors are CK_RVs; beside the CK_RV every
 * call leaves in the session which argument — and for templates which entry
 * — was wrong (tcore_session_error), for a wire protocol, KMIP or REST to
 * carry.
 *
 * Callers. Every call that authorises takes a session. A session belongs to
 * an *application* (tcore_app): the set of sessions that share a login, as
 * PKCS#11 3.0 §5.6 defines it. The embedded module has one application per
 * process; the daemon one per client connection. Login state is kept per
 * (application, token); whether a token's key is *available* (unlocked by a
 * PIN here, by the domain master key in an unsealed daemon) is a separate
 * fact kept by the token, and is never taken as permission: an application
 * that did not log in cannot use private objects even while another one has
 * the token key unlocked.
 *
 * Threads: the core is thread-safe. A session is used by one thread at a
 * time (tcore_session_get locks it); different sessions run in parallel.
 */
#ifndef TESSERA_CORE_H
#define TESSERA_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tcommon.h"
#include "tessera/pkcs11.h"

typedef struct tcore tcore;
typedef struct tcore_app tcore_app;
typedef struct tcore_session tcore_session;

/* ---- what was wrong ---------------------------------------------------------
 * The argument of a call a failure is about. Templates also name the entry
 * (its index in the caller's array, and its attribute type). */
typedef enum {
    TCORE_ARG_NONE = 0,
    TCORE_ARG_SLOT,
    TCORE_ARG_SESSION,
    TCORE_ARG_USER_TYPE,
    TCORE_ARG_USERNAME,
    TCORE_ARG_PIN,
    TCORE_ARG_NEW_PIN,
    TCORE_ARG_LABEL,
    TCORE_ARG_OBJECT,    /* the object handle of the call */
    TCORE_ARG_KEY,       /* the key handle of the call (or the base key) */
    TCORE_ARG_KEY2,      /* the second key: wrapping/unwrapping key, HKDF salt key */
    TCORE_ARG_MECHANISM, /* the mechanism type or its parameter */
    TCORE_ARG_TEMPLATE,  /* the template (of a public key for a pair) */
    TCORE_ARG_TEMPLATE2, /* the private key's template of a pair */
    TCORE_ARG_DATA,      /* input data, signature, wrapped key */
    TCORE_ARG_OUTPUT,
} tcore_arg;

typedef struct {
    CK_RV rv;
    tcore_arg arg;
    /* for TCORE_ARG_TEMPLATE(2): the entry and its type; else index -1 */
    long index;
    CK_ATTRIBUTE_TYPE attr;
} tcore_err;

/* Name of an argument kind, for logs ("template", "mechanism", ...). */
const char *tcore_arg_name(tcore_arg arg);
/* What was wrong, in words, into buf (always NUL-terminated): "template
 * entry 2 (attribute 0x121)", "template lacks attribute 0x0", "PIN". */
void tcore_err_describe(const tcore_err *e, char *buf, size_t len);

/* ---- the core ------------------------------------------------------------------
 * tcore_open does every front end's start-up: the known-answer self-tests,
 * logging from the configuration (log_level, log_file), the PIN KDF cost
 * (pin_kdf_t_cost, pin_kdf_m_cost, pin_kdf_lanes), the store (`store`, else
 * <tc_default_data_dir>/tessera.db) and the key protector. conf may be NULL
 * (the configuration is then read with tc_conf_load). The core keeps its own
 * copy of what it needs. CKR_GENERAL_ERROR when the self-tests fail (the
 * crypto layer is then in its error state), CKR_FUNCTION_FAILED for a bad
 * configuration or a store that cannot be opened. */
CK_RV tcore_open(const tc_conf *conf, tcore **out);
/* Closes every application still open, wipes every key and secret. */
void tcore_close(tcore *c);
/* A configuration value the core was opened with (front ends read their own
 * settings from it), or dflt. */
const char *tcore_conf_get(const tcore *c, const char *key, const char *dflt);

/* ---- slots, tokens and mechanisms (no session needed) -------------------------- */

/* Slot ids, ascending, including the free slot that holds an uninitialised
 * token (two-call convention on out and *count; CKR_BUFFER_TOO_SMALL). */
CK_RV tcore_slot_list(tcore *c, CK_SLOT_ID *out, CK_ULONG *count);
/* CKR_SLOT_ID_INVALID unless the slot exists. */
CK_RV tcore_slot_check(tcore *c, CK_SLOT_ID slot);
/* C_GetTokenInfo (PKCS#11 3.0 §5.5), session counts included (over every
 * application of this core). */
CK_RV tcore_token_info(tcore *c, CK_SLOT_ID slot, CK_TOKEN_INFO *info);
/* C_InitToken (PKCS#11 3.0 §5.6): CKR_SESSION_EXISTS while any session of
 * any application is open on the token; then as the token layer says
 * (CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_PIN_LEN_RANGE). label: 32 bytes,
 * blank padded. err (may be NULL) receives what was wrong. */
CK_RV tcore_init_token(tcore *c, CK_SLOT_ID slot, const uint8_t *so_pin, size_t so_pin_len,
                       const uint8_t label[32], tcore_err *err);

/* The mechanisms this module implements, for C_GetMechanismList/Info. Every
 * listed mechanism works. CKF_HW is reported only when the core says the
 * keys live outside the caller's process. */
CK_RV tcore_mech_list(const tcore *c, CK_MECHANISM_TYPE *out, CK_ULONG *count);
CK_RV tcore_mech_info(const tcore *c, CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info);
/* Whether the keys this core uses live in another process than its callers
 * (PKCS#11 3.0 §5.5 CKF_HW: "performed by the device"). False by default:
 * the embedded module runs the core inside the application, in software.
 * The daemon, serving clients in other processes, sets it to true. */
void tcore_set_keys_outside_caller(tcore *c, bool outside);

/* ---- applications ------------------------------------------------------------------
 * principal: who the caller is, for logs and (later) the audit trail: "pid
 * 1234" in embedded mode, the uid or certificate subject in the daemon.
 * Freeing an application closes its sessions (as C_CloseAllSessions on every
 * slot), which logs it out of every token. */
CK_RV tcore_app_new(tcore *c, const char *principal, tcore_app **out);
void tcore_app_free(tcore_app *a);

/* ---- sessions (PKCS#11 3.0 §5.6) ---------------------------------------------------- */

/* C_OpenSession. CKR_TOKEN_NOT_RECOGNIZED on the free slot,
 * CKR_SESSION_READ_WRITE_SO_EXISTS for a R/O session while this application
 * is logged in as SO, CKR_SESSION_COUNT. */
CK_RV tcore_session_open(tcore_app *a, CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *out);
/* C_CloseSession: ends its operations, destroys its session objects; the
 * application's last session on a token logs it out of that token. */
CK_RV tcore_session_close(tcore_app *a, CK_SESSION_HANDLE h);
/* C_CloseAllSessions, and the logout that comes with it. */
CK_RV tcore_session_close_all(tcore_app *a, CK_SLOT_ID slot);

/* Look up and lock a session of this application for one call:
 * CKR_SESSION_HANDLE_INVALID. Release with tcore_session_put. */
CK_RV tcore_session_get(tcore_app *a, CK_SESSION_HANDLE h, tcore_session **out);
void tcore_session_put(tcore_session *s);
/* The failure of the last call on this session (rv CKR_OK after a success). */
const tcore_err *tcore_session_error(const tcore_session *s);

/* C_GetSessionInfo: slot, state (CKS_*), flags. */
CK_RV tcore_session_info(tcore_session *s, CK_SESSION_INFO *info);

/* C_Login / C_LoginUser. name NULL for C_Login; with a name, the partition's
 * users ("so" and "user" for the embedded token's default users) — an
 * unknown name answers CKR_PIN_INCORRECT so names cannot be probed.
 *  - CKU_SO / CKU_USER: CKR_USER_ALREADY_LOGGED_IN,
 *    CKR_USER_ANOTHER_ALREADY_LOGGED_IN, CKR_SESSION_READ_ONLY_EXISTS (SO
 *    while this application has R/O sessions), CKR_USER_PIN_NOT_INITIALIZED,
 *    CKR_PIN_INCORRECT, CKR_PIN_LOCKED.
 *  - CKU_CONTEXT_SPECIFIC: the PIN of the role logged in, again, for the
 *    session's active operation whose key has CKA_ALWAYS_AUTHENTICATE;
 *    CKR_OPERATION_NOT_INITIALIZED when no operation needs it. */
CK_RV tcore_login(tcore_session *s, CK_USER_TYPE who, const uint8_t *name, size_t name_len,
                  const uint8_t *pin, size_t pin_len);
/* C_Logout: the application leaves the token (every session of it). */
CK_RV tcore_logout(tcore_session *s);
/* C_InitPIN: the SO logged in, R/W session. */
CK_RV tcore_init_pin(tcore_session *s, const uint8_t *pin, size_t pin_len);
/* C_SetPIN: R/W session; the SO's PIN when the SO is logged in, else the
 * user's. */
CK_RV tcore_set_pin(tcore_session *s, const uint8_t *old_pin, size_t old_len,
                    const uint8_t *new_pin, size_t new_len);

/* ---- objects (PKCS#11 3.0 §5.7) ------------------------------------------------------
 * Handles name token objects of the session's token (the same handle in every
 * application and process) and the application's session objects. Private
 * objects exist for a session only while its application is logged in as the
 * normal user. Token objects need a R/W session to be created, changed or
 * destroyed. */
CK_RV tcore_object_create(tcore_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                          CK_OBJECT_HANDLE *out);
CK_RV tcore_object_copy(tcore_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl,
                        CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV tcore_object_destroy(tcore_session *s, CK_OBJECT_HANDLE h);
/* C_GetAttributeValue: every entry processed, failing ones get
 * CK_UNAVAILABLE_INFORMATION; the error ordering of the spec. */
CK_RV tcore_object_get_attrs(tcore_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *tmpl,
                             CK_ULONG n);
CK_RV tcore_object_set_attrs(tcore_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl,
                             CK_ULONG n);
/* C_GetObjectSize: CK_UNAVAILABLE_INFORMATION (the spec allows it). */
CK_RV tcore_object_size(tcore_session *s, CK_OBJECT_HANDLE h, CK_ULONG *size);
/* C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal: token objects and
 * the application's session objects, taken once at Init. */
CK_RV tcore_find_init(tcore_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG n);
CK_RV tcore_find(tcore_session *s, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count);
CK_RV tcore_find_final(tcore_session *s);

/* ---- cryptographic operations (PKCS#11 3.0 §5.2, §5.8-§5.12) --------------------------
 * One active operation per kind and session. An Init while one is active:
 * CKR_OPERATION_ACTIVE; a call without Init: CKR_OPERATION_NOT_INITIALIZED.
 * An operation used single-part refuses multi-part calls and the reverse
 * (CKR_OPERATION_ACTIVE, ending it). A length query (out NULL) and CKR_BUFFER_TOO_SMALL
 * keep the operation; a call that produced its result, and any other error,
 * end it. Private keys are used only by the logged-in normal user; a key with
 * CKA_ALWAYS_AUTHENTICATE needs tcore_login(CKU_CONTEXT_SPECIFIC) before
 * each use (CKR_USER_NOT_LOGGED_IN until then, the operation stays). */
typedef enum {
    TCORE_OP_DIGEST = 0,
    TCORE_OP_SIGN,
    TCORE_OP_VERIFY,
    TCORE_OP_ENCRYPT,
    TCORE_OP_DECRYPT,
    TCORE_OP_KINDS,
} tcore_op_kind;

/* *Init. mech NULL ends the active operation of the kind (CKR_ARGUMENTS_BAD
 * when none). key is ignored for digests. */
CK_RV tcore_crypt_init(tcore_session *s, tcore_op_kind kind, const CK_MECHANISM *mech,
                       CK_OBJECT_HANDLE key);
/* C_Digest, C_Sign, C_Encrypt, C_Decrypt (two-call convention on out). */
CK_RV tcore_crypt(tcore_session *s, tcore_op_kind kind, const uint8_t *in, size_t inlen,
                  uint8_t *out, CK_ULONG *outlen);
/* *Update; out/outlen only for encrypt and decrypt. */
CK_RV tcore_crypt_update(tcore_session *s, tcore_op_kind kind, const uint8_t *in,
                         size_t inlen, uint8_t *out, CK_ULONG *outlen);
/* *Final (not verify). */
CK_RV tcore_crypt_final(tcore_session *s, tcore_op_kind kind, uint8_t *out, CK_ULONG *outlen);
/* C_Verify and C_VerifyFinal: always end the operation. */
CK_RV tcore_verify(tcore_session *s, const uint8_t *in, size_t inlen, const uint8_t *sig,
                   size_t siglen);
CK_RV tcore_verify_final(tcore_session *s, const uint8_t *sig, size_t siglen);
/* C_DigestKey. */
CK_RV tcore_digest_key(tcore_session *s, CK_OBJECT_HANDLE key);
/* C_SessionCancel: end the operations of these kinds (a bit per
 * tcore_op_kind: 1u << kind) and, with find true, the search. */
void tcore_crypt_cancel(tcore_session *s, unsigned kinds, bool find);

/* ---- keys (PKCS#11 3.0 §5.14) and random numbers (§5.15) -------------------------------
 * Each request that makes objects commits once: a generated pair is two
 * objects in one store transaction, or neither. */
CK_RV tcore_generate_key(tcore_session *s, const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl,
                         CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV tcore_generate_key_pair(tcore_session *s, const CK_MECHANISM *mech,
                              const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                              CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv);
CK_RV tcore_wrap_key(tcore_session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE wrapping,
                     CK_OBJECT_HANDLE key, uint8_t *out, CK_ULONG *outlen);
CK_RV tcore_unwrap_key(tcore_session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE unwrapping,
                       const uint8_t *in, size_t inlen, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       CK_OBJECT_HANDLE *out);
/* C_DeriveKey; resolves the CKF_HKDF_SALT_KEY handle inside CK_HKDF_PARAMS. */
CK_RV tcore_derive_key(tcore_session *s, const CK_MECHANISM *mech, CK_OBJECT_HANDLE base,
                       const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV tcore_random(tcore_session *s, uint8_t *out, size_t len);
CK_RV tcore_seed_random(tcore_session *s, const uint8_t *seed, size_t len);

/* ---- key specs for the CLI -----------------------------------------------------------
 * "rsa:2048", "ec:p256", "ed25519", "aes:256", ... → the generating mechanism
 * and the key attributes it needs (CKA_MODULUS_BITS, CKA_EC_PARAMS,
 * CKA_VALUE_LEN). *pair tells C_GenerateKeyPair from C_GenerateKey. The
 * template points into static storage. CKR_ARGUMENTS_BAD for an unknown
 * spec. */
typedef struct {
    CK_MECHANISM_TYPE mech;
    bool pair;
    CK_KEY_TYPE key_type;
    CK_ATTRIBUTE attr; /* the one size/curve attribute */
} tcore_keyspec;
CK_RV tcore_keyspec_parse(const char *spec, tcore_keyspec *out);
/* The names tcore_keyspec_parse accepts, '|'-separated, for help texts. */
const char *tcore_keyspec_names(void);

/* ---- certificates for the TLS listener's quick start (tessera cert) ---------------------
 * ECDSA P-256 keys; a self-signed CA, and server and client certificates it
 * issues (see crypto/tcrypto_tls.h for the extensions). The key file is
 * written 0600, the certificate 0644; an existing file is never replaced.
 * days > 0: valid from now for `days` days; days <= 0 makes a certificate
 * that has already expired (for tests). names: a server's subjectAltNames
 * (IP addresses recognised), NULL-terminated; ignored for the other kinds.
 * CKR_ARGUMENTS_BAD for bad input (a name, the validity, a missing or
 * non-CA issuer, an output file that exists), CKR_FUNCTION_FAILED when
 * making or writing failed; either way *why (may be NULL) is a static
 * message for the user. */
typedef enum {
    TCORE_CERT_CA,
    TCORE_CERT_SERVER,
    TCORE_CERT_CLIENT,
} tcore_cert_kind;

typedef struct {
    tcore_cert_kind kind;
    const char *common_name;
    const char *const *names; /* server: subjectAltNames */
    int days;
    const char *ca_cert_file; /* issuer (NULL for a CA: self-signed) */
    const char *ca_key_file;
    const char *cert_out;     /* PEM files written */
    const char *key_out;
} tcore_cert_req;

CK_RV tcore_cert_make(const tcore_cert_req *req, const char **why);

/* ---- limits for servers ----------------------------------------------------------------
 * The number of sessions the application has open, over every token (the
 * daemon bounds it per application; the count is exact at the moment it is
 * read). */
CK_ULONG tcore_app_session_count(tcore_app *a);

#endif
