/*
 * daemon/ internal interface: tesserad, the network HSM.
 *
 * Threads. A pool of `workers` server threads (server.c) all wait on one
 * epoll set. Connections are registered with EPOLLONESHOT, so a ready
 * connection is handed to exactly one thread, which owns it until it
 * re-arms it: that thread reads what the socket has (never blocking),
 * answers every complete frame in order right there (decode into its
 * arena, tsvc_dispatch, encode: worker.c), writes the answer, and re-arms
 * the connection for reading, or for writing when output is left over or
 * it stopped early. No hand-off between threads in the common request.
 * The listeners, the signalfd and the once-a-second timerfd are one-shot
 * too: whichever thread gets one handles it and re-arms it.
 *
 * Locks: a connection's mutex guards only its ownership (`owned`) and the
 * requests other threads leave for its owner (events that came while it
 * was owned, a stop or a kill from the timer or a signal); every other
 * field belongs to the owning thread. The server's mutex guards the
 * connection list, the listeners, the TLS context and the configuration.
 * Lock order: server, then connection. A closed connection is freed once
 * every thread has been back to epoll_wait since (an event taken before
 * the close may still name it).
 */
#ifndef TESSERA_DAEMON_H
#define TESSERA_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/tcrypto_tls.h"
#include "service/tsvc.h"

#ifndef TESSERAD_VERSION
#define TESSERAD_VERSION "0.0.0"
#endif

#define DAEMON_DEFAULT_CONFIG "/etc/tessera/tesserad.conf"
#define DAEMON_DEFAULT_SOCKET "/run/tessera/tesserad.sock"
#define DAEMON_DEFAULT_STORE "/var/lib/tessera/tessera.db"

/* ---- settings (conf.c) ------------------------------------------------------------ */

typedef enum { DLOG_KV = 0, DLOG_JSON } dlog_format;
typedef enum { DLOG_STDERR = 0, DLOG_SYSLOG } dlog_target;

/* The daemon's own keys of the configuration. Strings point into the
 * tc_conf they were parsed from (NULL when unset, "" kept as ""). */
typedef struct {
    const char *listen_unix;    /* NULL or "": no Unix listener */
    unsigned unix_mode;
    const char *unix_group;
    const char *listen_tls;     /* host:port */
    const char *tls_cert, *tls_key, *tls_ca;
    unsigned workers;           /* resolved: never 0 */
    unsigned max_connections;
    unsigned max_sessions;      /* per application */
    unsigned max_inflight;      /* per connection */
    unsigned idle_timeout;      /* seconds, 0: none */
    unsigned read_timeout;
    unsigned handshake_timeout;
    bool have_log_level;
    tc_log_level log_level;
    dlog_format log_format;
    dlog_target log_target;
    const char *user;
    const char *pid_file;
    unsigned secure_heap_mib;
} dconf;

/* Parse and check the daemon's keys; false with a message in err. */
bool dconf_parse(const tc_conf *conf, dconf *out, char *err, size_t errlen);

/* ---- logging (log.c) -------------------------------------------------------------
 * One line per event: key=value pairs (values quoted when they need it) or
 * one JSON object, to stderr or syslog. Build a line with dlog_begin, add
 * fields, emit with dlog_end. The level filter is the core's (tc_log), so
 * log_level governs both. Never add PINs, key material or request bytes. */
typedef struct {
    char buf[1024];
    size_t len;
    tc_log_level level;
    bool on;
    bool truncated;
} dlog_line;

void dlog_setup(dlog_format fmt, dlog_target target);
bool dlog_begin(dlog_line *l, tc_log_level level, const char *event);
void dlog_str(dlog_line *l, const char *key, const char *value);
void dlog_u64(dlog_line *l, const char *key, uint64_t value);
void dlog_i64(dlog_line *l, const char *key, int64_t value);
void dlog_bool(dlog_line *l, const char *key, bool value);
void dlog_hex(dlog_line *l, const char *key, unsigned long value);
void dlog_end(dlog_line *l);
/* A one-field message event, for start-up failures and warnings. */
void dlog_msg(tc_log_level level, const char *event, const char *msg);
const char *dlog_rv_name(CK_RV rv);

/* ---- applications (apps.c) -----------------------------------------------------------
 * The core applications of the connections: connections announcing the same
 * non-zero application id with the same principal share one; a zero id is
 * an application of its own. The application is freed (its sessions
 * closed, its logins ended) when its last connection lets go. */
typedef struct dapp dapp;
typedef struct dapps dapps;

dapps *dapps_new(tcore *core);
/* Free the map (every application must have been released). */
void dapps_free(dapps *m);
CK_RV dapps_join(dapps *m, const uint8_t id[TPROTO_APP_ID_LEN], const char *principal,
                 dapp **out);
void dapps_release(dapps *m, dapp *a);
tcore_app *dapp_core_app(dapp *a);
/* Run a C_OpenSession with the per-application limit: CKR_SESSION_COUNT
 * when the application has max sessions already. Serialised per
 * application so two connections cannot both take the last place. */
CK_RV dapp_session_open(dapp *a, tcore *core, unsigned max, tproto_arg *args, tcore_err *err);

/* ---- connections and the server (server.c, worker.c) ----------------------------------- */

typedef enum { DT_UNIX = 0, DT_TLS } dtransport;

typedef struct dserver dserver;

typedef struct dconn {
    dserver *srv;
    uint64_t id;
    int fd;
    dtransport tp;
    char principal[256];
    char peer[96];          /* ip:port for TLS, "local" for Unix */

    /* under the server's mutex */
    struct dconn *prev, *next;
    uint64_t grave_epoch;   /* closed at this epoch (graveyard) */

    /* under mu */
    pthread_mutex_t mu;
    bool owned;             /* a thread holds it (the fd is not armed then) */
    bool closing;           /* its owner is closing it: ignore its events */
    uint32_t pend_ev;       /* events that came while another thread owned it */
    bool stop_req;          /* draining: read no more, close once answered */
    const char *kill_req;   /* close now, with this reason */
    struct dconn *scan_next;

    /* the owning thread's (read by the timer while nobody owns it) */
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint64_t t_open, t_partial; /* ms, monotonic; t_partial 0: no partial frame */
    uint64_t t_active;          /* last request answered or bytes written */
    uint32_t ev;                /* epoll interest armed (0: not registered) */
    bool hs_done;               /* TLS handshake done (always true for Unix) */
    bool hs_want_write;
    bool rd_want_write;         /* a TLS read asked for the socket to be writable */
    bool wr_want_read;          /* a TLS write asked for the socket to be readable */
    bool rheld;                 /* rbuf holds complete frames not answered yet */
    bool opened_logged;
    bool rd_stop;       /* read no more (end of stream, refusal, shutdown) */
    bool discard;       /* drop unanswered frames */
    bool dead;          /* I/O failed or killed: close */
    bool hello;         /* HELLO accepted */
    const char *close_reason;
    tc_buf wbuf;        /* bytes to send from woff */
    size_t woff;
    tc_buf wmore;       /* TLS: responses queued behind a write being retried */
    size_t tls_wpend;   /* TLS: length of the write to retry, 0: none */
    tcrypto_tls *tls;
    dapp *app;
    uint64_t served;
} dconn;

/* The limits that a reload may change, read by every thread. */
typedef struct {
    atomic_uint max_connections;
    atomic_uint max_sessions;
    atomic_uint max_inflight;
    atomic_uint idle_timeout;
    atomic_uint read_timeout;
    atomic_uint handshake_timeout;
} dlimits;

/* A server thread's request context (worker.c). */
typedef struct dworker dworker;
dworker *dworker_new(dserver *s);
void dworker_free(dworker *w);
/* Answer one complete request frame of c, owned by the calling thread:
 * the answer is left in dworker_out (empty when there is none); c's HELLO
 * state, application and counters are updated, and a refusal sets
 * rd_stop/discard and the close reason. */
void dworker_answer(dworker *w, dconn *c, const tproto_header *h, const uint8_t *frame,
                    size_t flen);
const tc_buf *dworker_out(const dworker *w);
/* Wipe the answer once it was written or copied. */
void dworker_out_done(dworker *w);

/* What the workers need from the server. */
tcore *dserver_core(dserver *s);
dapps *dserver_apps(dserver *s);
const dlimits *dserver_limits(const dserver *s);

/* ---- start-up (listen.c) ----------------------------------------------------------------- */

/* Process hardening before anything secret exists: not dumpable, no core
 * files, umask 077, SIGPIPE ignored, RLIMIT_NOFILE raised to its hard
 * limit. */
void dsys_harden(void);
/* As root: raise RLIMIT_MEMLOCK so the secure heap can be sized. */
void dsys_memlock(unsigned secure_heap_mib);
/* The sqlite file behind a store URI, or false when it has none (another
 * backend). */
bool dsys_store_path(const tc_conf *conf, char *out, size_t outlen);
/* Take the store's lock file: -1 and a message on stderr when another
 * tesserad holds it. */
int dsys_store_lock(const char *store_path);
/* Bind the Unix listener; -1 on failure (logged). */
int dsys_listen_unix(const dconf *d);
/* Bind the TLS listener (host:port); -1 on failure (logged). */
int dsys_listen_tcp(const char *hostport);
/* Become `user` after binding (chowning the socket to it); false on failure. */
bool dsys_drop_privileges(const dconf *d);
bool dsys_write_pid_file(const char *path);

/* ---- the server (server.c) ------------------------------------------------------------------ */

typedef struct {
    tcore *core;
    tc_conf *conf;          /* the configuration served (the server takes it) */
    const char *conf_path;  /* re-read on SIGHUP; NULL: nothing to reload */
    dconf d;
    int unix_fd;            /* -1: none */
    int tls_fd;             /* -1: none */
    tcrypto_tls_ctx *tls_ctx; /* the server takes it */
} dserver_setup;

/* Run until SIGTERM/SIGINT; 0 on a clean stop. */
int dserver_run(dserver_setup *setup);

/* ---- dev mode (dev.c) ----------------------------------------------------------------------- */

/* Make the dev token (unless the store has one from an earlier run) and
 * print to stdout the block that tells how to reach it. temporary: dir is
 * removed on exit. */
bool ddev_init_token(tcore *core, const char *dir, const char *socket_path, bool temporary);
/* rm -r of the dev data directory. */
void ddev_remove_dir(const char *dir);

#endif
