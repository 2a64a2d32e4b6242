/*
 * service/ — the core's operations as requests, and the way to them.
 *
 * Front ends (the PKCS#11 module, the CLI) call the functions below; each
 * builds the argument array of one protocol operation (proto/tproto.h) and
 * sends it down a *channel*:
 *
 *  - in process (embedded mode): the request goes straight to the
 *    dispatcher, with arguments pointing at the caller's memory;
 *  - remote: the request is encoded, sent to tesserad over a Unix socket or
 *    TLS, and the answer decoded into the caller's memory.
 *
 * The dispatcher (tsvc_dispatch) is the one place that turns an operation
 * into a core call; tesserad calls it for every request it decodes. So the
 * embedded and the remote module run the same server-side code path, and
 * behave alike by construction.
 *
 * The functions mirror core/tcore.h with the session named by its handle;
 * their errors are those of the core, plus, in remote mode,
 * CKR_DEVICE_ERROR for a call whose endpoint failed while it was in flight
 * and CKR_SESSION_HANDLE_INVALID for a session of an endpoint that has
 * since failed (PKCS#11 3.0 §5.6: a session does not survive its device).
 *
 * Threads: a tsvc is shared by the threads of a process. In remote mode,
 * each thread gets its own connection; the connections of one tsvc share
 * one application (login state) on the server.
 */
#ifndef TESSERA_SERVICE_H
#define TESSERA_SERVICE_H

#include "core/tcore.h"
#include "proto/tproto.h"

typedef struct tsvc tsvc;

/* Open the channel the configuration names: TESSERA_URL in the environment
 * wins over the `url` key of conf; without either, the core is opened in
 * process (tcore_open(conf)). url forms:
 *     unix:///run/tessera/tesserad.sock
 *     tls://host:port[,host:port...]   (conf keys tls_cert, tls_key, tls_ca,
 *                                       or TESSERA_TLS_CERT/_KEY/_CA)
 * principal names the caller in the core's logs for the embedded mode
 * ("pid 1234"); the daemon names remote callers itself. A remote channel
 * connects lazily: tsvc_open fails only for a malformed URL or TLS files
 * that cannot be loaded (CKR_ARGUMENTS_BAD / CKR_FUNCTION_FAILED), and the
 * first call reports an unreachable daemon (CKR_DEVICE_ERROR). */
CK_RV tsvc_open(const tc_conf *conf, const char *principal, tsvc **out);
/* As tsvc_open with an explicit URL (NULL: as tsvc_open). */
CK_RV tsvc_open_url(const tc_conf *conf, const char *url, const char *principal, tsvc **out);
/* An in-process channel over a core the caller keeps open (tesserad's dev
 * mode sets up its token through it): the channel has its own application,
 * and tsvc_close frees that application but not the core. */
CK_RV tsvc_open_core(tcore *c, const char *principal, tsvc **out);
/* Closes the sessions of this application (server side too) and every
 * connection. */
void tsvc_close(tsvc *v);
/* In a forked child: forget the parent's connections and core without
 * touching them (no shutdown is sent on a socket the parent still uses). */
void tsvc_abandon(tsvc *v);

bool tsvc_is_remote(const tsvc *v);
/* The URL of the endpoint in use (remote), or NULL. */
const char *tsvc_endpoint(const tsvc *v);
/* The in-process core (embedded mode), or NULL when remote. */
tcore *tsvc_core(tsvc *v);

/* What was wrong with this thread's last failed call (rv CKR_OK after a
 * success): the argument, and for templates the entry. */
const tcore_err *tsvc_last_error(void);

/* The generic call every function below makes: op's arguments in the order
 * of tproto_schema(op). Front ends use the typed functions. */
CK_RV tsvc_call(tsvc *v, uint16_t op, tproto_arg *args);

/* The dispatcher: run one decoded operation against the core, as app. For
 * operations on a session it looks the session up (CKR_SESSION_HANDLE_INVALID),
 * locks it for the call and fills err from tcore_session_error. HELLO is not
 * an operation here. Unknown op: CKR_FUNCTION_NOT_SUPPORTED. */
CK_RV tsvc_dispatch(tcore *c, tcore_app *a, uint16_t op, tproto_arg *args, tcore_err *err);

/* ---- the operations (see core/tcore.h for each) -------------------------------- */
CK_RV tsvc_slot_list(tsvc *v, CK_SLOT_ID *out, CK_ULONG *count);
CK_RV tsvc_slot_check(tsvc *v, CK_SLOT_ID slot);
CK_RV tsvc_token_info(tsvc *v, CK_SLOT_ID slot, CK_TOKEN_INFO *info);
CK_RV tsvc_init_token(tsvc *v, CK_SLOT_ID slot, const uint8_t *so_pin, CK_ULONG so_pin_len,
                      const uint8_t label[32]);
/* C_GetMechanismList / Info for slot (CKR_SLOT_ID_INVALID first). */
CK_RV tsvc_mech_list(tsvc *v, CK_SLOT_ID slot, CK_MECHANISM_TYPE *out, CK_ULONG *count);
CK_RV tsvc_mech_info(tsvc *v, CK_SLOT_ID slot, CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info);

CK_RV tsvc_session_open(tsvc *v, CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *out);
CK_RV tsvc_session_close(tsvc *v, CK_SESSION_HANDLE h);
CK_RV tsvc_session_close_all(tsvc *v, CK_SLOT_ID slot);
CK_RV tsvc_session_info(tsvc *v, CK_SESSION_HANDLE h, CK_SESSION_INFO *info);
CK_RV tsvc_login(tsvc *v, CK_SESSION_HANDLE h, CK_USER_TYPE who, const uint8_t *name,
                 CK_ULONG name_len, const uint8_t *pin, CK_ULONG pin_len);
CK_RV tsvc_logout(tsvc *v, CK_SESSION_HANDLE h);
CK_RV tsvc_init_pin(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *pin, CK_ULONG pin_len);
CK_RV tsvc_set_pin(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *old_pin, CK_ULONG old_len,
                   const uint8_t *new_pin, CK_ULONG new_len);

CK_RV tsvc_object_create(tsvc *v, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_OBJECT_HANDLE *out);
CK_RV tsvc_object_copy(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                       const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV tsvc_object_destroy(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj);
CK_RV tsvc_object_get_attrs(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                            CK_ATTRIBUTE *tmpl, CK_ULONG n);
CK_RV tsvc_object_set_attrs(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                            const CK_ATTRIBUTE *tmpl, CK_ULONG n);
CK_RV tsvc_object_size(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG *size);
CK_RV tsvc_find_init(tsvc *v, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *tmpl, CK_ULONG n);
CK_RV tsvc_find(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out, CK_ULONG max,
                CK_ULONG *count);
CK_RV tsvc_find_final(tsvc *v, CK_SESSION_HANDLE h);

CK_RV tsvc_crypt_init(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, const CK_MECHANISM *mech,
                      CK_OBJECT_HANDLE key);
CK_RV tsvc_crypt(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, const uint8_t *in,
                 CK_ULONG inlen, uint8_t *out, CK_ULONG *outlen);
CK_RV tsvc_crypt_update(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, const uint8_t *in,
                        CK_ULONG inlen, uint8_t *out, CK_ULONG *outlen);
CK_RV tsvc_crypt_final(tsvc *v, CK_SESSION_HANDLE h, tcore_op_kind kind, uint8_t *out,
                       CK_ULONG *outlen);
CK_RV tsvc_verify(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *in, CK_ULONG inlen,
                  const uint8_t *sig, CK_ULONG siglen);
CK_RV tsvc_verify_final(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *sig, CK_ULONG siglen);
CK_RV tsvc_digest_key(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key);
CK_RV tsvc_crypt_cancel(tsvc *v, CK_SESSION_HANDLE h, unsigned kinds, bool find);

CK_RV tsvc_generate_key(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                        const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV tsvc_generate_key_pair(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                             const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                             CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv);
CK_RV tsvc_wrap_key(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                    CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, uint8_t *out,
                    CK_ULONG *outlen);
CK_RV tsvc_unwrap_key(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                      CK_OBJECT_HANDLE unwrapping, const uint8_t *in, CK_ULONG inlen,
                      const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV tsvc_derive_key(tsvc *v, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                      CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                      CK_OBJECT_HANDLE *out);
CK_RV tsvc_random(tsvc *v, CK_SESSION_HANDLE h, uint8_t *out, CK_ULONG len);
CK_RV tsvc_seed_random(tsvc *v, CK_SESSION_HANDLE h, const uint8_t *seed, CK_ULONG len);

/* Helpers over the calls above (CLI): the free slot (CKR_TOKEN_NOT_PRESENT
 * if none), the slot of an initialised token by label, every slot id in a
 * malloc'd array. */
CK_RV tsvc_slot_free(tsvc *v, CK_SLOT_ID *slot);
CK_RV tsvc_slot_by_label(tsvc *v, const char *label, CK_SLOT_ID *slot);
CK_RV tsvc_slot_list_alloc(tsvc *v, CK_SLOT_ID **out, CK_ULONG *count);
/* A new token labelled label: C_InitToken in the free slot, then the SO
 * sets the user PIN (C_InitPIN) and logs out, as `tessera token init` and
 * `tesserad --dev` do. CKR_TOKEN_NOT_PRESENT when there is no free slot;
 * on failure *step (may be NULL) names what failed ("initialise token",
 * "log in as SO", ...) and tsvc_last_error() says which argument. */
CK_RV tsvc_token_create(tsvc *v, const char *label, const char *so_pin, const char *user_pin,
                        CK_SLOT_ID *slot, const char **step);

#endif
