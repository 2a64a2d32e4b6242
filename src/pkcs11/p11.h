/*
 * pkcs11/ internal interface: what the module's entry points share.
 *
 *   module.c / slot.c / session.c / object_fn.c  — library state, slots and
 *       tokens, sessions and login, object functions (one owner)
 *   crypto_fn.c / keys_fn.c                       — digest/sign/verify/encrypt/
 *       decrypt, key generation, wrap/unwrap/derive, random (another owner)
 *
 * Locking: the module keeps a table of sessions; p11_session_get returns the
 * session with its own lock held, so one session is never used by two threads
 * at once (PKCS#11 lets applications do that; we serialise it). Release with
 * p11_session_put. Different sessions run in parallel.
 */
#ifndef TESSERA_P11_H
#define TESSERA_P11_H

#include "core/tcore.h"
#include "tessera/pkcs11.h"

/* Exported entry points carry this (the build hides everything else). */
#define P11_EXPORT __attribute__((visibility("default")))

typedef struct p11_session p11_session;

/* The kinds of active operation a session can hold; at most one of each
 * (PKCS#11 3.0 §5.x: an active operation of a kind makes a new Init of that
 * kind fail with CKR_OPERATION_ACTIVE). */
typedef enum {
    P11_OP_FIND = 0,
    P11_OP_DIGEST,
    P11_OP_SIGN,
    P11_OP_VERIFY,
    P11_OP_ENCRYPT,
    P11_OP_DECRYPT,
    P11_OP_KINDS,
} p11_op_kind;

/* Per-operation state of the crypto functions: opaque to the session code,
 * which only frees it (through the free callback) on C_CloseSession,
 * C_Logout-on-close and C_Finalize. */
typedef struct p11_op {
    void *ctx;
    void (*free_ctx)(void *ctx);
} p11_op;

/* CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize. */
CK_RV p11_check_initialized(void);

/* Look up and lock a session. CKR_CRYPTOKI_NOT_INITIALIZED,
 * CKR_SESSION_HANDLE_INVALID. */
CK_RV p11_session_get(CK_SESSION_HANDLE h, p11_session **out);
void p11_session_put(p11_session *s);

/* Accessors on a locked session. */
tcore_token *p11_session_token(p11_session *s);
bool p11_session_rw(const p11_session *s);
CK_STATE p11_session_state(const p11_session *s); /* CKS_RO_PUBLIC_SESSION ... */
/* The operation slot of a kind; ctx == NULL when none is active. */
p11_op *p11_session_op(p11_session *s, p11_op_kind kind);
/* End (free) the operation of a kind, if any. */
void p11_session_op_end(p11_session *s, p11_op_kind kind);

/* PKCS#11 3.0 §5.6 C_Login with CKU_CONTEXT_SPECIFIC: C_Login sets this
 * flag on the session once the PIN of the logged-in user was checked again.
 * The crypto functions, for an operation whose key has
 * CKA_ALWAYS_AUTHENTICATE (tcore_op_always_auth), read and clear it: true
 * means the operation is authorised. Any new *Init should clear it first so a
 * stale authorisation never carries over. */
bool p11_session_take_context_auth(p11_session *s);

/* Resolve an object handle visible to this session (token objects of its
 * token, session objects of the application; private objects only when
 * logged in) and return a new reference. CKR_OBJECT_HANDLE_INVALID, or for
 * key handles used by crypto functions the caller maps to CKR_KEY_HANDLE_INVALID. */
CK_RV p11_object_get(p11_session *s, CK_OBJECT_HANDLE h, tcore_obj **out);

/* Make new objects (from tcore_obj_new) live: token objects (CKA_TOKEN true)
 * are persisted — all of them in one durable store transaction — and session
 * objects are registered with the session. Checks that a token object needs a
 * R/W session (CKR_SESSION_READ_ONLY) and a private object needs a logged-in
 * user (CKR_USER_NOT_LOGGED_IN). On success handles[i] is set for each; on
 * failure nothing was added. Takes over the references in objs either way. */
CK_RV p11_objects_add(p11_session *s, tcore_obj **objs, CK_ULONG n, CK_OBJECT_HANDLE *handles);


/* ======================================================================== */
/* Module-internal: shared by module.c, slot.c, session.c, object_fn.c only. */
/* ======================================================================== */

/* Enter the library for the duration of an entry point (C_Finalize waits for
 * calls in flight): CKR_CRYPTOKI_NOT_INITIALIZED, or CKR_OK and the caller
 * must p11_lib_leave(). p11_session_get/put do this themselves. */
CK_RV p11_lib_enter(void);
void p11_lib_leave(void);
tstore *p11_lib_store(void);
const tc_conf *p11_lib_conf(void);
/* Copy src into a blank-padded, not NUL-terminated field (CK_INFO etc.). */
void p11_pad(CK_UTF8CHAR *dst, size_t len, const char *src);

/* slot.c: the token set and the slot ids that name its tokens. */
CK_RV p11_slots_open(tstore *store, const tc_conf *conf);
void p11_slots_close(void);
void p11_slots_abandon(void);
/* The token in a slot (no new reference; valid until C_Finalize).
 * CKR_SLOT_ID_INVALID; CKR_TOKEN_NOT_PRESENT never (the free slot holds an
 * uninitialised token). */
CK_RV p11_slot_token(CK_SLOT_ID id, tcore_token **out);
CK_SLOT_ID p11_token_slot(const tcore_token *t);

/* session.c */
CK_RV p11_sessions_init(void);
void p11_sessions_close_all(void);
void p11_sessions_abandon(void);
/* Sessions open on a token: all, and how many of them are R/W. */
void p11_sessions_count(const tcore_token *t, CK_ULONG *all, CK_ULONG *rw);
CK_SESSION_HANDLE p11_session_handle(const p11_session *s);
CK_SLOT_ID p11_session_slot(const p11_session *s);
/* Serialises changes of the login/session state (open, close, login, logout,
 * init token); recursive. Lock order: a session's lock, then this, then the
 * tables. */
void p11_state_lock(void);
void p11_state_unlock(void);

/* object_fn.c: the object handle table. */
void p11_objects_close_all(void);
void p11_objects_abandon(void);
/* Destroy the session objects a session created (C_CloseSession). */
void p11_objects_drop_session(CK_SESSION_HANDLE h);

#endif
