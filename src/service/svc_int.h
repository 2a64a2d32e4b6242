/*
 * service/ internal interface: the channels under tsvc_call.
 */
#ifndef TESSERA_SERVICE_INT_H
#define TESSERA_SERVICE_INT_H

#include "service/tsvc.h"

/* Restore this thread's last error (after a clean-up call of a helper). */
void tsvc_set_last_error(const tcore_err *e);

/* ---- remote channel (remote.c) --------------------------------------------------
 * A set of tesserad endpoints (one for unix://, one or more for tls://),
 * one connection per thread to the endpoint in use (or one shared
 * connection), every connection announcing the same application id in its
 * HELLO. */
typedef struct tsvc_remote tsvc_remote;

/* Parse url (unix:///abs/path; tls://host:port[,host:port...], IPv6 as
 * [addr]:port) and the settings: `timeout` (seconds per call and per
 * connection attempt, default 30, 0 none), `connections` (per-thread, the
 * default, or shared), for tls:// `tls_cert`, `tls_key`, `tls_ca` (the
 * environment's TESSERA_TLS_CERT/_KEY/_CA win) and `tls_server_name`
 * (default: each endpoint's host). Connects lazily. CKR_ARGUMENTS_BAD for
 * a malformed URL, a bad setting or a missing TLS file setting;
 * CKR_FUNCTION_FAILED for TLS files that cannot be loaded (each logged,
 * with why). */
CK_RV tsvc_remote_open(const tc_conf *conf, const char *url, tsvc_remote **out);
/* Closes every connection (the daemon then frees the application: its
 * sessions and logins). No call may be in flight. */
void tsvc_remote_close(tsvc_remote *r);
/* In a forked child: closes the child's copies of the sockets and sends
 * nothing; takes no lock and frees nothing (the parent's threads may have
 * held them at the fork). The child opens a new channel. */
void tsvc_remote_abandon(tsvc_remote *r);
/* The URL of the endpoint in use ("tls://host:port"). */
const char *tsvc_remote_endpoint(const tsvc_remote *r);
/* Send one request on this thread's connection and decode the answer into
 * args. Session handles are translated (a client handle carries the
 * endpoint generation it was opened on). CKR_DEVICE_ERROR when the
 * endpoint fails during the call (the next call moves to the next healthy
 * endpoint); CKR_SESSION_HANDLE_INVALID for a handle of an earlier
 * endpoint generation. err receives the server's error detail. */
CK_RV tsvc_remote_call(tsvc_remote *r, uint16_t op, tproto_arg *args, tproto_err *err);

/* ---- one connection to one endpoint (remote_conn.c, for remote.c) ----------------
 * Blocking-style calls over a non-blocking socket: every wait is a poll()
 * bounded by the call's timeout, so a daemon that stops answering costs a
 * caller at most the timeout. A connection is used by one thread at a time;
 * tsvc_conn_shutdown is the one call another thread may make on it. */
struct tcrypto_tls_ctx;
struct tcrypto_tls;

typedef struct {
    char *url;  /* "unix:///path" or "tls://host:port", for logs */
    char *host; /* unix: the socket path; tls: the host, without brackets */
    char *port; /* NULL for unix */
    struct tcrypto_tls_ctx *tls; /* NULL for unix */
    bool owns_tls; /* endpoints with one server name share a context */
} tsvc_remote_ep;

typedef struct {
    int fd; /* -1 when closed */
    struct tcrypto_tls *tls;
    uint32_t next_id;
    tc_buf out;    /* the request being sent, wiped after each */
    uint8_t *in;   /* the response being read, wiped after each */
    size_t in_cap;
    char why[128]; /* why the last call failed, for the log */
} tsvc_conn;

typedef enum {
    TSVC_CONN_OK = 0,
    TSVC_CONN_IO,      /* the connection failed (reset, EOF, timeout, malformed
                        * answer): c->why says how; the connection is unusable */
    TSVC_CONN_REFUSED, /* the daemon refused the HELLO (logged) */
    TSVC_CONN_LOCAL,   /* nothing was sent: the request cannot be encoded */
} tsvc_conn_rc;

/* Connect to e (timeout_ms for the connect, the TLS handshake and the HELLO
 * each; 0: none), announcing app_id. c is initialised whatever the result;
 * tsvc_conn_close it afterwards. */
tsvc_conn_rc tsvc_conn_open(tsvc_conn *c, const tsvc_remote_ep *e,
                            const uint8_t app_id[TPROTO_APP_ID_LEN], int timeout_ms);
/* One request and its response (op and id checked), decoded into args and
 * err. TSVC_CONN_LOCAL sets *rv (CKR_HOST_MEMORY, CKR_ARGUMENTS_BAD for a
 * request beyond the frame limit). The bytes sent and received are wiped. */
tsvc_conn_rc tsvc_conn_exchange(tsvc_conn *c, uint16_t op, tproto_arg *args, tproto_err *err,
                                int timeout_ms, CK_RV *rv);
/* Close: a TLS close_notify first when graceful (never on a connection that
 * failed or was shut down), then the socket; buffers wiped and freed. */
void tsvc_conn_close(tsvc_conn *c, bool graceful);
/* shutdown(2) of the socket, from any thread: the owner's next or pending
 * I/O fails, the daemon sees the connection end; the fd stays the owner's
 * to close, so its number cannot be reused under the owner. */
void tsvc_conn_shutdown(tsvc_conn *c);
/* In a forked child: close this process's copy of the fd, nothing else (no
 * TLS record is sent, no memory freed: the parent's state may be locked). */
void tsvc_conn_forget(tsvc_conn *c);

#endif
