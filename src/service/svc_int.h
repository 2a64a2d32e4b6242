/*
 * service/ internal interface: the channels under tsvc_call.
 */
#ifndef TESSERA_SERVICE_INT_H
#define TESSERA_SERVICE_INT_H

#include "service/tsvc.h"

/* ---- remote channel (remote.c) --------------------------------------------------
 * A set of tesserad endpoints (one for unix://, one or more for tls://),
 * one connection per thread to the endpoint in use, every connection
 * announcing the same application id in its HELLO. */
typedef struct tsvc_remote tsvc_remote;

/* Parse url and load the TLS files (conf keys tls_cert, tls_key, tls_ca; the
 * environment's TESSERA_TLS_CERT/_KEY/_CA win). Connects lazily.
 * CKR_ARGUMENTS_BAD for a malformed URL, CKR_FUNCTION_FAILED for TLS files
 * that cannot be loaded (logged, with why). */
CK_RV tsvc_remote_open(const tc_conf *conf, const char *url, tsvc_remote **out);
void tsvc_remote_close(tsvc_remote *r);
void tsvc_remote_abandon(tsvc_remote *r);
const char *tsvc_remote_endpoint(const tsvc_remote *r);
/* Send one request on this thread's connection and decode the answer into
 * args. Session handles are translated (a client handle carries the
 * endpoint generation it was opened on). CKR_DEVICE_ERROR when the
 * endpoint fails during the call (the next call moves to the next healthy
 * endpoint); CKR_SESSION_HANDLE_INVALID for a handle of an earlier
 * endpoint generation. err receives the server's error detail. */
CK_RV tsvc_remote_call(tsvc_remote *r, uint16_t op, tproto_arg *args, tproto_err *err);

#endif
