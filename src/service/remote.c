/*
 * The remote channel (svc_int.h): tsvc calls sent to tesserad, with
 * failover between endpoints and session handles bound to the endpoint
 * they were opened on.
 *
 * Connections. In the default mode each calling thread has its own
 * connection (a pthread key per channel), so the daemon, which answers one
 * connection's requests in order, runs two threads' requests side by side.
 * Every connection's HELLO carries the channel's random application id,
 * which joins them into one application on the server (one login state;
 * a session opened on one connection is usable on the others). In shared
 * mode one connection carries every thread's calls, one at a time.
 *
 * Generations. The channel uses one endpoint at a time. Each time it moves
 * (an endpoint failed during a call, or refused and another one accepted)
 * the generation counter grows. A connection belongs to the generation it
 * was opened in; a thread that finds its connection of an older generation
 * drops it. A client session handle is (generation << 32) | server handle:
 * the core's handles are below 2^32 (core/session.c: a 24-bit index and an
 * 8-bit entry generation), so the server's handle fits in the low half. A
 * handle of another generation names a session of a server (or of a
 * connection set) that is gone: CKR_SESSION_HANDLE_INVALID, and nothing is
 * sent (PKCS#11 3.0 §5.6: a session does not survive its device).
 *
 * Lifetimes. A connection is held by two references, the channel's list
 * and its thread's key (or the shared slot); the channel itself by its
 * owner and by each connection. So a thread that exits while another one
 * closes the channel never touches freed memory: whichever lets go last
 * frees.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto/tcrypto_tls.h"
#include "service/svc_int.h"

#define LOG "remote"
#define MAX_ENDPOINTS 16
#define DEFAULT_TIMEOUT_S 30
#define MAX_TIMEOUT_S 86400

_Static_assert(sizeof(CK_ULONG) >= 8,
               "client session handles carry the endpoint generation in bits 32..63");

typedef struct rconn rconn;
struct rconn {
    tsvc_conn io;
    tsvc_remote *r;
    rconn *prev, *next; /* r->conns, under r->lock */
    bool linked;        /* in r->conns; its socket is open */
    int refs;           /* under r->lock */
    pid_t pid;          /* the process that opened it */
    uint32_t gen;       /* the generation it belongs to */
    size_t ep;          /* its endpoint */
    bool shut;          /* shut down by another thread, under r->lock */
};

struct tsvc_remote {
    tsvc_remote_ep eps[MAX_ENDPOINTS];
    size_t neps;
    int timeout_ms; /* 0: none */
    bool shared;
    uint8_t app_id[TPROTO_APP_ID_LEN];

    pthread_mutex_t lock; /* everything below but the shared slot */
    _Atomic size_t cur;   /* the endpoint in use */
    _Atomic uint32_t gen; /* starts at 1; 0 is never a generation */
    rconn *conns;
    int refs; /* the owner's and one per connection */
    pthread_key_t key; /* per-thread mode: this thread's connection */
    bool key_ok;

    pthread_mutex_t xlock; /* shared mode: one exchange at a time */
    rconn *shared_conn;    /* under xlock */
};

/* ---- the process id, without a system call per request ----------------------------
 * A forked child must never use its parent's connections (their TLS state
 * and the daemon's view of the stream are the parent's). The pid is cached
 * and refreshed by a fork handler, as the PKCS#11 module does; without the
 * handler, getpid() on each call. */
static _Atomic pid_t g_pid;
static _Atomic bool g_atfork_ok;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void child_after_fork(void)
{
    atomic_store(&g_pid, getpid());
}

static void register_atfork(void)
{
    atomic_store(&g_pid, getpid());
    if (pthread_atfork(NULL, NULL, child_after_fork) == 0) {
        atomic_store(&g_atfork_ok, true);
    } else {
        TC_WARN(LOG, "cannot register the fork handler");
    }
}

static pid_t current_pid(void)
{
    if (atomic_load_explicit(&g_atfork_ok, memory_order_relaxed)) {
        return atomic_load_explicit(&g_pid, memory_order_relaxed);
    }
    return getpid();
}

/* ---- lifetimes ------------------------------------------------------------------------ */

static void remote_free(tsvc_remote *r)
{
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->xlock);
    free(r);
}

/* Take c out of the list and close its socket (r->lock held). Graceful
 * (close_notify) only for a healthy connection of this process. */
static void unlink_locked(rconn *c, bool graceful)
{
    if (!c->linked) {
        return;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        c->r->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    c->linked = false;
    tsvc_conn_close(&c->io, graceful && !c->shut && c->pid == current_pid());
}

/* Drop one reference (r->lock held); true if r lost its last reference and
 * must be freed once the lock is released. */
static bool unref_locked_n(rconn *c, unsigned n)
{
    c->refs -= (int)n;
    if (c->refs > 0) {
        return false;
    }
    tsvc_remote *r = c->r;
    free(c);
    return --r->refs == 0;
}

/* The holder (thread key or shared slot) lets go of c: it leaves the list
 * if it is still there (gracefully or not), and the holder's reference goes. */
static void conn_discard(rconn *c, bool graceful)
{
    tsvc_remote *r = c->r;
    bool free_r = false;
    pthread_mutex_lock(&r->lock);
    /* The list's reference (if still linked) and the holder's go together:
     * c may be freed only by the last of them. */
    unsigned drop = 1;
    if (c->linked) {
        unlink_locked(c, graceful);
        drop = 2;
    }
    free_r = unref_locked_n(c, drop);
    pthread_mutex_unlock(&r->lock);
    if (free_r) {
        remote_free(r);
    }
}

/* The key's destructor: a thread with a connection exits. */
static void thread_conn_exit(void *p)
{
    rconn *c = p;
    if (c->pid != current_pid()) {
        return; /* a parent's connection in a forked child: not ours */
    }
    conn_discard(c, true);
}

/* ---- connecting and failing over ---------------------------------------------------- */

/* The channel moves to endpoint ep in a new generation (r->lock held). The
 * connections of the old one are shut down: a thread waiting on one wakes
 * with an error, one that is idle drops it on its next call, and the daemon
 * behind them frees the application (its sessions and logins) instead of
 * keeping it for connections nobody will use again. */
static void move_locked(tsvc_remote *r, size_t ep)
{
    uint32_t old = atomic_load(&r->gen);
    atomic_store(&r->cur, ep);
    atomic_store(&r->gen, old + 1 == 0 ? 1 : old + 1);
    pid_t pid = current_pid();
    for (rconn *o = r->conns; o != NULL; o = o->next) {
        if (o->gen == old && o->pid == pid && !o->shut) {
            tsvc_conn_shutdown(&o->io);
            o->shut = true;
        }
    }
}

/* A connection to the first endpoint that accepts, trying each once from
 * the current one; it joins the list with two references (the list's and
 * the caller's). */
static CK_RV conn_connect(tsvc_remote *r, pid_t pid, rconn **out)
{
    /* A generation may move while this thread connects (another thread's
     * call failed): then the endpoint just reached may no longer be the
     * current one; a second round starts from the new current one. */
    for (int round = 0; round < 3; round++) {
        pthread_mutex_lock(&r->lock);
        uint32_t gen0 = atomic_load(&r->gen);
        size_t start = atomic_load(&r->cur);
        pthread_mutex_unlock(&r->lock);

        rconn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            return CKR_HOST_MEMORY;
        }
        size_t i = 0;
        bool ok = false;
        for (size_t k = 0; k < r->neps && !ok; k++) {
            i = (start + k) % r->neps;
            tsvc_conn_rc rc = tsvc_conn_open(&c->io, &r->eps[i], r->app_id, r->timeout_ms);
            if (rc == TSVC_CONN_OK) {
                ok = true;
                break;
            }
            if (rc == TSVC_CONN_IO) {
                TC_WARN(LOG, "%s: %s", r->eps[i].url, c->io.why);
            }
            tsvc_conn_close(&c->io, false);
        }
        if (!ok) {
            free(c);
            TC_ERROR(LOG, "no tesserad endpoint reachable (%zu tried)", r->neps);
            return CKR_DEVICE_ERROR;
        }

        pthread_mutex_lock(&r->lock);
        uint32_t gen = atomic_load(&r->gen);
        if (gen == gen0 && i != atomic_load(&r->cur)) {
            TC_WARN(LOG, "moving to %s", r->eps[i].url);
            move_locked(r, i);
        } else if (gen != gen0 && i != atomic_load(&r->cur)) {
            pthread_mutex_unlock(&r->lock);
            tsvc_conn_close(&c->io, true);
            free(c);
            continue;
        }
        c->r = r;
        c->pid = pid;
        c->gen = atomic_load(&r->gen);
        c->ep = i;
        c->refs = 2;
        c->linked = true;
        c->next = r->conns;
        if (r->conns != NULL) {
            r->conns->prev = c;
        }
        r->conns = c;
        r->refs++;
        pthread_mutex_unlock(&r->lock);
        *out = c;
        return CKR_OK;
    }
    TC_ERROR(LOG, "the endpoint kept changing while connecting");
    return CKR_DEVICE_ERROR;
}

/* c failed during a call. If it is of the current generation, its endpoint
 * has failed: the channel moves on, to the next endpoint in a new
 * generation (the next call connects there, or further on). A failure on a
 * connection of an earlier generation moves nothing: the channel has
 * already left that endpoint. The holder still has to let go of c. */
static void conn_failed(rconn *c)
{
    tsvc_remote *r = c->r;
    pthread_mutex_lock(&r->lock);
    c->shut = true; /* no close_notify on a failed connection */
    if (c->gen == atomic_load(&r->gen)) {
        TC_WARN(LOG, "%s failed: %s; its sessions are lost", r->eps[c->ep].url, c->io.why);
        move_locked(r, (c->ep + 1) % r->neps);
    } else {
        TC_DEBUG(LOG, "%s: a connection of an earlier generation failed: %s",
                 r->eps[c->ep].url, c->io.why);
    }
    pthread_mutex_unlock(&r->lock);
}

/* This thread's usable connection, connecting if needed. The holder's
 * reference stays with the key (per-thread) or the shared slot. */
static CK_RV conn_get(tsvc_remote *r, pid_t pid, rconn **out)
{
    rconn *c = r->shared ? r->shared_conn : pthread_getspecific(r->key);
    if (c != NULL && c->pid != pid) {
        c = NULL; /* the parent's, in a forked child: never used, never touched */
    } else if (c != NULL && c->gen != atomic_load(&r->gen)) {
        conn_discard(c, true);
        c = NULL;
    }
    if (c == NULL) {
        if (r->shared) {
            r->shared_conn = NULL;
        } else if (pthread_setspecific(r->key, NULL) != 0) {
            return CKR_GENERAL_ERROR;
        }
        CK_RV rv = conn_connect(r, pid, &c);
        if (rv != CKR_OK) {
            return rv;
        }
        if (r->shared) {
            r->shared_conn = c;
        } else if (pthread_setspecific(r->key, c) != 0) {
            conn_discard(c, true);
            return CKR_HOST_MEMORY;
        }
    }
    *out = c;
    return CKR_OK;
}

static void conn_drop_holder(tsvc_remote *r, rconn *c)
{
    if (r->shared) {
        r->shared_conn = NULL;
    } else {
        pthread_setspecific(r->key, NULL);
    }
    conn_discard(c, false);
}

/* ---- calls ------------------------------------------------------------------------------ */

static CK_RV fail(tproto_err *err, CK_RV rv, uint32_t arg)
{
    err->rv = rv;
    err->arg = arg;
    err->index = -1;
    err->attr = 0;
    return rv;
}

/* The argument of op that receives a new session handle (SESSION_OPEN), or -1. */
static int session_out_arg(uint16_t op)
{
    if (op != TPROTO_OP_SESSION_OPEN) {
        return -1;
    }
    const tproto_kind *k = tproto_schema(op);
    for (int i = 0; k != NULL && k[i] != 0 && i < TPROTO_MAX_ARGS; i++) {
        if (k[i] == TPROTO_ULONG_OUT) {
            return i;
        }
    }
    return -1;
}

static bool handle_gen_ok(CK_ULONG h, uint32_t gen)
{
    return (uint32_t)(h >> 32) == gen && (h & 0xFFFFFFFFu) != 0;
}

static CK_RV call_on(tsvc_remote *r, rconn *c, uint16_t op, tproto_arg *args, tproto_err *err)
{
    bool has_session = tproto_op_has_session(op);
    CK_ULONG client_h = 0;
    if (has_session) {
        client_h = args[0].u.ul;
        if (!handle_gen_ok(client_h, c->gen)) {
            return fail(err, CKR_SESSION_HANDLE_INVALID, TCORE_ARG_SESSION);
        }
        args[0].u.ul = client_h & 0xFFFFFFFFu;
    }
    CK_RV rv = CKR_OK;
    tsvc_conn_rc rc = tsvc_conn_exchange(&c->io, op, args, err, r->timeout_ms, &rv);
    if (has_session) {
        args[0].u.ul = client_h;
    }
    if (rc == TSVC_CONN_LOCAL) {
        return fail(err, rv, TCORE_ARG_NONE);
    }
    int out = rc == TSVC_CONN_OK && err->rv == CKR_OK ? session_out_arg(op) : -1;
    if (out >= 0 && args[out].u.ul_out != NULL) {
        CK_ULONG h = *args[out].u.ul_out;
        if (h == 0 || (h >> 32) != 0) {
            snprintf(c->io.why, sizeof(c->io.why), "session handle 0x%lx out of range",
                     (unsigned long)h);
            rc = TSVC_CONN_IO;
        } else {
            *args[out].u.ul_out = ((CK_ULONG)c->gen << 32) | h;
        }
    }
    if (rc != TSVC_CONN_OK) {
        conn_failed(c);
        conn_drop_holder(r, c);
        return fail(err, CKR_DEVICE_ERROR, TCORE_ARG_NONE);
    }
    return err->rv;
}

CK_RV tsvc_remote_call(tsvc_remote *r, uint16_t op, tproto_arg *args, tproto_err *err)
{
    if (op == TPROTO_OP_HELLO || tproto_schema(op) == NULL) {
        return fail(err, CKR_FUNCTION_NOT_SUPPORTED, TCORE_ARG_NONE);
    }
    /* A handle of an earlier generation fails before any connecting. */
    if (tproto_op_has_session(op) && !handle_gen_ok(args[0].u.ul, atomic_load(&r->gen))) {
        return fail(err, CKR_SESSION_HANDLE_INVALID, TCORE_ARG_SESSION);
    }
    pid_t pid = current_pid();
    rconn *c = NULL;
    CK_RV rv;
    if (r->shared) {
        pthread_mutex_lock(&r->xlock);
        rv = conn_get(r, pid, &c);
        rv = rv == CKR_OK ? call_on(r, c, op, args, err) : fail(err, rv, TCORE_ARG_NONE);
        pthread_mutex_unlock(&r->xlock);
    } else {
        rv = conn_get(r, pid, &c);
        rv = rv == CKR_OK ? call_on(r, c, op, args, err) : fail(err, rv, TCORE_ARG_NONE);
    }
    return rv;
}

/* ---- the URL and the settings ------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* host:port or [v6]:port, n bytes at s, into e. */
static CK_RV parse_hostport(const char *s, size_t n, tsvc_remote_ep *e)
{
    const char *host, *colon;
    size_t hlen;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || (size_t)(close - s) + 1 >= n || close[1] != ':') {
            return CKR_ARGUMENTS_BAD;
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
        if (hlen == 0 || memchr(host, ':', hlen) == NULL) {
            return CKR_ARGUMENTS_BAD; /* brackets are for IPv6 addresses */
        }
    } else {
        colon = memrchr(s, ':', n);
        if (colon == NULL) {
            return CKR_ARGUMENTS_BAD;
        }
        host = s;
        hlen = (size_t)(colon - s);
        if (hlen == 0 || memchr(host, ':', hlen) != NULL) {
            return CKR_ARGUMENTS_BAD; /* an IPv6 address needs brackets */
        }
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char ch = (unsigned char)host[i];
        if (ch <= ' ' || ch == '/' || ch == '@' || ch == '[' || ch == ']' || ch >= 0x7f) {
            return CKR_ARGUMENTS_BAD;
        }
    }
    const char *port = colon + 1;
    size_t plen = n - (size_t)(port - s);
    unsigned long pv = 0;
    if (plen == 0 || plen > 5) {
        return CKR_ARGUMENTS_BAD;
    }
    for (size_t i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9') {
            return CKR_ARGUMENTS_BAD;
        }
        pv = pv * 10 + (unsigned long)(port[i] - '0');
    }
    if (pv == 0 || pv > 65535) {
        return CKR_ARGUMENTS_BAD;
    }
    e->host = dup_n(host, hlen);
    e->port = dup_n(port, plen);
    e->url = malloc(n + 7);
    if (e->host == NULL || e->port == NULL || e->url == NULL) {
        return CKR_HOST_MEMORY;
    }
    snprintf(e->url, n + 7, "tls://%.*s", (int)n, s);
    return CKR_OK;
}

static CK_RV parse_url(tsvc_remote *r, const char *url)
{
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        size_t n = strlen(path);
        if (path[0] != '/' || n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            return CKR_ARGUMENTS_BAD;
        }
        tsvc_remote_ep *e = &r->eps[0];
        r->neps = 1;
        e->host = dup_n(path, n);
        e->url = dup_n(url, strlen(url));
        return e->host != NULL && e->url != NULL ? CKR_OK : CKR_HOST_MEMORY;
    }
    if (strncmp(url, "tls://", 6) == 0) {
        const char *s = url + 6;
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
            if (r->neps == MAX_ENDPOINTS) {
                TC_ERROR(LOG, "more than %d endpoints in the URL", MAX_ENDPOINTS);
                return CKR_ARGUMENTS_BAD;
            }
            CK_RV rv = parse_hostport(s, n, &r->eps[r->neps++]);
            if (rv != CKR_OK) {
                return rv;
            }
            if (comma == NULL) {
                return CKR_OK;
            }
            s = comma + 1;
        }
    }
    return CKR_ARGUMENTS_BAD;
}

/* The environment wins over the configuration; empty means unset. */
static const char *setting(const tc_conf *conf, const char *key, const char *env)
{
    const char *v = env != NULL ? getenv(env) : NULL;
    if (v == NULL || v[0] == '\0') {
        v = tc_conf_get(conf, key, NULL);
    }
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static CK_RV load_tls(tsvc_remote *r, const tc_conf *conf)
{
    tcrypto_tls_conf tc = {
        .cert_file = setting(conf, "tls_cert", "TESSERA_TLS_CERT"),
        .key_file = setting(conf, "tls_key", "TESSERA_TLS_KEY"),
        .ca_file = setting(conf, "tls_ca", "TESSERA_TLS_CA"),
    };
    const char *name = setting(conf, "tls_server_name", NULL);
    const char *missing[3];
    size_t nmissing = 0;
    if (tc.cert_file == NULL) {
        missing[nmissing++] = "tls_cert (TESSERA_TLS_CERT)";
    }
    if (tc.key_file == NULL) {
        missing[nmissing++] = "tls_key (TESSERA_TLS_KEY)";
    }
    if (tc.ca_file == NULL) {
        missing[nmissing++] = "tls_ca (TESSERA_TLS_CA)";
    }
    if (nmissing > 0) {
        TC_ERROR(LOG, "a tls:// URL needs a client certificate, its key and the CA; missing: "
                      "%s%s%s%s%s",
                 missing[0], nmissing > 1 ? ", " : "", nmissing > 1 ? missing[1] : "",
                 nmissing > 2 ? ", " : "", nmissing > 2 ? missing[2] : "");
        return CKR_ARGUMENTS_BAD;
    }
    for (size_t i = 0; i < r->neps; i++) {
        tsvc_remote_ep *e = &r->eps[i];
        tc.server_name = name != NULL ? name : e->host;
        /* one context per server name */
        for (size_t j = 0; j < i && e->tls == NULL; j++) {
            if (name != NULL || strcmp(r->eps[j].host, e->host) == 0) {
                e->tls = r->eps[j].tls;
            }
        }
        if (e->tls != NULL) {
            continue;
        }
        const char *why = NULL;
        e->tls = tcrypto_tls_client_new(&tc, &why);
        if (e->tls == NULL) {
            TC_ERROR(LOG, "TLS client settings for %s: %s", e->url,
                     why != NULL ? why : "cannot be loaded");
            return CKR_FUNCTION_FAILED;
        }
        e->owns_tls = true;
    }
    return CKR_OK;
}

static CK_RV load_settings(tsvc_remote *r, const tc_conf *conf)
{
    const char *t = tc_conf_get(conf, "timeout", NULL);
    long secs = DEFAULT_TIMEOUT_S;
    if (t != NULL) {
        char *end = NULL;
        errno = 0;
        secs = strtol(t, &end, 10);
        if (errno != 0 || end == t || *end != '\0' || secs < 0 || secs > MAX_TIMEOUT_S) {
            TC_ERROR(LOG, "timeout: seconds from 0 (none) to %d expected", MAX_TIMEOUT_S);
            return CKR_ARGUMENTS_BAD;
        }
    }
    r->timeout_ms = (int)secs * 1000;
    const char *mode = tc_conf_get(conf, "connections", "per-thread");
    if (strcmp(mode, "shared") == 0) {
        r->shared = true;
    } else if (strcmp(mode, "per-thread") != 0) {
        TC_ERROR(LOG, "connections: per-thread or shared expected");
        return CKR_ARGUMENTS_BAD;
    }
    return CKR_OK;
}

static void endpoints_free(tsvc_remote *r)
{
    for (size_t i = 0; i < MAX_ENDPOINTS; i++) {
        tsvc_remote_ep *e = &r->eps[i];
        if (e->owns_tls) {
            tcrypto_tls_ctx_free(e->tls);
        }
        free(e->url);
        free(e->host);
        free(e->port);
        memset(e, 0, sizeof(*e));
    }
    r->neps = 0;
}

/* ---- the channel -------------------------------------------------------------------- */

CK_RV tsvc_remote_open(const tc_conf *conf, const char *url, tsvc_remote **out)
{
    *out = NULL;
    if (url == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    pthread_once(&g_atfork_once, register_atfork);
    tsvc_remote *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return CKR_HOST_MEMORY;
    }
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return CKR_GENERAL_ERROR;
    }
    if (pthread_mutex_init(&r->xlock, NULL) != 0) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return CKR_GENERAL_ERROR;
    }
    r->refs = 1;
    atomic_init(&r->cur, 0);
    atomic_init(&r->gen, 1);

    CK_RV rv = load_settings(r, conf);
    if (rv == CKR_OK) {
        rv = parse_url(r, url);
        if (rv == CKR_ARGUMENTS_BAD) {
            TC_ERROR(LOG, "malformed URL (unix:///path or tls://host:port[,host:port...])");
        }
    }
    if (rv == CKR_OK && r->eps[0].port != NULL) {
        rv = load_tls(r, conf);
    }
    /* The id joins this channel's connections into one application; it is
     * random so that another client cannot guess its way into it (the
     * daemon also requires the same peer identity). */
    if (rv == CKR_OK) {
        bool zero = true;
        if (getrandom(r->app_id, sizeof(r->app_id), 0) != (ssize_t)sizeof(r->app_id)) {
            TC_ERROR(LOG, "no randomness for the application id");
            rv = CKR_FUNCTION_FAILED;
        }
        for (size_t i = 0; i < sizeof(r->app_id); i++) {
            zero = zero && r->app_id[i] == 0;
        }
        if (zero) {
            r->app_id[0] = 1; /* all-zero asks for a connection-only application */
        }
    }
    if (rv == CKR_OK && !r->shared) {
        if (pthread_key_create(&r->key, thread_conn_exit) != 0) {
            rv = CKR_HOST_MEMORY;
        } else {
            r->key_ok = true;
        }
    }
    if (rv != CKR_OK) {
        endpoints_free(r);
        remote_free(r);
        return rv;
    }
    *out = r;
    return CKR_OK;
}

void tsvc_remote_close(tsvc_remote *r)
{
    if (r == NULL) {
        return;
    }
    rconn *mine = NULL;
    if (r->key_ok) {
        /* After the delete no thread's exit runs the destructor; one that
         * is running it already is serialised by the lock below. */
        mine = pthread_getspecific(r->key);
        pthread_setspecific(r->key, NULL);
        pthread_key_delete(r->key);
        r->key_ok = false;
    }
    pthread_mutex_lock(&r->xlock);
    rconn *shared = r->shared_conn;
    r->shared_conn = NULL;
    pthread_mutex_unlock(&r->xlock);

    pid_t pid = current_pid();
    pthread_mutex_lock(&r->lock);
    /* Every connection closes: the daemon then frees the application
     * (its sessions and logins) once the last one is gone. The connections
     * of other live threads keep a small shell until those threads let go. */
    bool free_r = false;
    while (r->conns != NULL) {
        rconn *c = r->conns;
        unlink_locked(c, true);
        free_r = unref_locked_n(c, 1) || free_r;
    }
    if (mine != NULL && mine->pid == pid) {
        free_r = unref_locked_n(mine, 1) || free_r;
    }
    if (shared != NULL && shared->pid == pid) {
        free_r = unref_locked_n(shared, 1) || free_r;
    }
    endpoints_free(r);
    free_r = --r->refs == 0 || free_r;
    pthread_mutex_unlock(&r->lock);
    if (free_r) {
        remote_free(r);
    }
}

void tsvc_remote_abandon(tsvc_remote *r)
{
    if (r == NULL) {
        return;
    }
    /* A forked child, one thread: the parent's threads may have held the
     * locks at the fork, so none is taken, and nothing is freed. Only this
     * process's copies of the sockets are closed; no TLS record and no
     * shutdown(2) (which would end the parent's connection too). */
    for (rconn *c = r->conns; c != NULL; c = c->next) {
        tsvc_conn_forget(&c->io);
    }
    if (r->key_ok) {
        pthread_setspecific(r->key, NULL);
    }
}

const char *tsvc_remote_endpoint(const tsvc_remote *r)
{
    return r->eps[atomic_load(&r->cur)].url;
}
