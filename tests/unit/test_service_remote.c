/*
 * The remote channel (service/remote.c) against an in-test server: a thread
 * per connection that reads frames, answers HELLO, joins connections into
 * applications by their id (as tesserad does), decodes each request and
 * runs it through tsvc_dispatch on an in-process core. Everything is driven
 * through the public tsvc API with unix:// and tls:// URLs.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/tcrypto_tls.h"
#include "service/tsvc.h"

#define SO_PIN "so-secret-1"
#define USER_PIN "user-secret-1"
#define P(s) (const uint8_t *)(s), (CK_ULONG)strlen(s)
#define MAX_CONNS 64

/* ---- the in-test server ------------------------------------------------------- */

typedef struct srv srv;

typedef struct {
    srv *s;
    int fd;
    tcrypto_tls *tls;
    pthread_t th;
    bool done;
} sconn;

typedef struct {
    uint8_t id[TPROTO_APP_ID_LEN];
    tcore_app *app;
    int conns;
} sapp;

struct srv {
    char dir[64];
    char url[160];
    tcore *core;
    tcrypto_tls_ctx *tls; /* NULL: a Unix socket */
    int lfd;
    pthread_t acceptor;
    pthread_mutex_t lock;
    sconn *conns[MAX_CONNS];
    size_t nconns;
    sapp apps[MAX_CONNS];
    size_t napps;
    bool killed;
    atomic_bool refuse; /* answer HELLO with an error */
    atomic_bool stall;  /* read requests, never answer */
    atomic_int stalled; /* requests left unanswered */
    atomic_int accepted;
};

static bool s_wait(sconn *k, tcrypto_tls_rc rc)
{
    if (rc != TCRYPTO_TLS_WANT_READ && rc != TCRYPTO_TLS_WANT_WRITE) {
        return false;
    }
    struct pollfd p = {.fd = k->fd, .events = rc == TCRYPTO_TLS_WANT_READ ? POLLIN : POLLOUT};
    return poll(&p, 1, -1) >= 0 || errno == EINTR;
}

static bool s_read(sconn *k, uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t got = 0;
        if (k->tls != NULL) {
            tcrypto_tls_rc rc = tcrypto_tls_read(k->tls, p, n, &got);
            if (rc != TCRYPTO_TLS_OK) {
                if (!s_wait(k, rc)) {
                    return false;
                }
                continue;
            }
        } else {
            ssize_t r = recv(k->fd, p, n, 0);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                return false;
            }
            got = (size_t)r;
        }
        p += got;
        n -= got;
    }
    return true;
}

static bool s_write(sconn *k, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t put = 0;
        if (k->tls != NULL) {
            tcrypto_tls_rc rc = tcrypto_tls_write(k->tls, p, n, &put);
            if (rc != TCRYPTO_TLS_OK) {
                if (!s_wait(k, rc)) {
                    return false;
                }
                continue;
            }
        } else {
            ssize_t r = send(k->fd, p, n, MSG_NOSIGNAL);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                return false;
            }
            put = (size_t)r;
        }
        p += put;
        n -= put;
    }
    return true;
}

/* The application of id (all-zero: one of this connection alone). */
static sapp *app_join(srv *s, const uint8_t id[TPROTO_APP_ID_LEN])
{
    static const uint8_t zero[TPROTO_APP_ID_LEN];
    bool alone = memcmp(id, zero, sizeof(zero)) == 0;
    sapp *a = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->napps && !alone && a == NULL; i++) {
        if (s->apps[i].app != NULL && memcmp(s->apps[i].id, id, TPROTO_APP_ID_LEN) == 0) {
            a = &s->apps[i];
        }
    }
    for (size_t i = 0; i < MAX_CONNS && a == NULL; i++) {
        if (s->apps[i].app == NULL) {
            if (tcore_app_new(s->core, "test client", &s->apps[i].app) != CKR_OK) {
                break;
            }
            a = &s->apps[i];
            memcpy(a->id, id, TPROTO_APP_ID_LEN);
            a->conns = 0;
            if (i >= s->napps) {
                s->napps = i + 1;
            }
        }
    }
    if (a != NULL) {
        a->conns++;
    }
    pthread_mutex_unlock(&s->lock);
    return a;
}

static void app_leave(srv *s, sapp *a)
{
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    tcore_app *free_it = NULL;
    if (--a->conns == 0) {
        free_it = a->app;
        a->app = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    tcore_app_free(free_it);
}

static void *worker(void *p)
{
    sconn *k = p;
    srv *s = k->s;
    tproto_arena ar;
    uint8_t *frame = malloc(TPROTO_MAX_FRAME);
    bool have_ar = tproto_arena_init(&ar, tproto_arena_size());
    tc_buf out;
    tc_buf_init(&out);
    sapp *app = NULL;
    if (frame == NULL || !have_ar) {
        goto done;
    }
    if (k->tls != NULL) {
        tcrypto_tls_rc rc;
        while ((rc = tcrypto_tls_handshake(k->tls)) != TCRYPTO_TLS_OK) {
            if (!s_wait(k, rc)) {
                goto done;
            }
        }
    }
    for (;;) {
        tproto_header h;
        size_t flen = 0;
        if (!s_read(k, frame, TPROTO_HEADER_LEN) ||
            tproto_header_parse(frame, TPROTO_HEADER_LEN, &h, &flen) != TPROTO_OK ||
            !s_read(k, frame + TPROTO_HEADER_LEN, flen - TPROTO_HEADER_LEN)) {
            break;
        }
        const uint8_t *body = frame + TPROTO_HEADER_LEN;
        size_t blen = flen - TPROTO_HEADER_LEN;
        bool ok, last = false;
        tc_wipe(out.p, out.len);
        out.len = 0;
        tproto_frame_begin(&out, TPROTO_RESPONSE, h.op, h.id);
        if (app == NULL) {
            tproto_hello hello;
            tproto_hello_reply rep;
            memset(&rep, 0, sizeof(rep));
            if (h.op != TPROTO_OP_HELLO || tproto_hello_decode(body, blen, &hello) != TPROTO_OK) {
                break;
            }
            rep.rv = atomic_load(&s->refuse) || hello.ulong_size != sizeof(CK_ULONG)
                         ? CKR_GENERAL_ERROR
                         : CKR_OK;
            rep.version = TPROTO_VERSION;
            rep.max_frame = TPROTO_MAX_FRAME;
            snprintf(rep.server, sizeof(rep.server), "test server");
            if (rep.rv == CKR_OK && (app = app_join(s, hello.app_id)) == NULL) {
                rep.rv = CKR_HOST_MEMORY;
            }
            last = rep.rv != CKR_OK;
            ok = tproto_hello_reply_encode(&out, &rep);
        } else {
            if (atomic_load(&s->stall)) {
                uint8_t b;
                atomic_fetch_add(&s->stalled, 1);
                (void)s_read(k, &b, 1); /* until the client gives up */
                break;
            }
            tproto_arg args[TPROTO_MAX_ARGS];
            tproto_err pe = {CKR_OK, 0, -1, 0};
            memset(args, 0, sizeof(args));
            tproto_arena_reset(&ar);
            if (tproto_request_decode(body, blen, h.op, &ar, args) != TPROTO_OK) {
                pe.rv = CKR_ARGUMENTS_BAD;
                ok = tproto_response_encode(&out, h.op, &pe, NULL);
            } else {
                tcore_err te;
                pe.rv = tsvc_dispatch(s->core, app->app, h.op, args, &te);
                if (te.rv == pe.rv) {
                    pe.arg = te.arg;
                    pe.index = te.index;
                    pe.attr = te.attr;
                }
                ok = tproto_response_encode(&out, h.op, &pe, args);
            }
        }
        tc_wipe(frame, flen);
        ok = tproto_frame_end(&out, 0) && ok;
        if (!ok || !s_write(k, out.p, out.len) || last) {
            break;
        }
    }
done:
    app_leave(s, app);
    tc_buf_free(&out);
    free(frame);
    if (have_ar) {
        tproto_arena_free(&ar);
    }
    pthread_mutex_lock(&s->lock);
    tcrypto_tls_free(k->tls);
    k->tls = NULL;
    close(k->fd);
    k->fd = -1;
    k->done = true;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void *acceptor(void *p)
{
    srv *s = p;
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0 && errno == EINTR) {
            continue;
        }
        pthread_mutex_lock(&s->lock);
        if (fd < 0 || s->killed || s->nconns == MAX_CONNS) {
            pthread_mutex_unlock(&s->lock);
            if (fd >= 0) {
                close(fd);
            }
            break;
        }
        sconn *k = calloc(1, sizeof(*k));
        assert_non_null(k);
        k->s = s;
        k->fd = fd;
        if (s->tls != NULL) {
            k->tls = tcrypto_tls_new(s->tls, fd);
            assert_non_null(k->tls);
        }
        s->conns[s->nconns++] = k;
        atomic_fetch_add(&s->accepted, 1);
        assert_int_equal(pthread_create(&k->th, NULL, worker, k), 0);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

static void make_cert(const char *dir, tcrypto_cert_kind kind, const char *name, bool ca)
{
    static const char *const names[] = {"127.0.0.1", "localhost", NULL};
    char cert[128], key[128], ca_cert[128], ca_key[128];
    snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    snprintf(ca_cert, sizeof(ca_cert), "%s/ca.pem", dir);
    snprintf(ca_key, sizeof(ca_key), "%s/ca.key", dir);
    tcrypto_cert_req req = {
        .kind = kind,
        .common_name = name,
        .names = names,
        .days = 1,
        .ca_cert_file = ca ? NULL : ca_cert,
        .ca_key_file = ca ? NULL : ca_key,
        .cert_out = cert,
        .key_out = key,
    };
    const char *why = NULL;
    assert_int_equal(tcrypto_cert_make(&req, &why), TCRYPTO_OK);
}

/* The certificates of the TLS tests, once per run, in dir. */
static char g_pki[64];

static void pki_make(void)
{
    if (g_pki[0] != '\0') {
        return;
    }
    snprintf(g_pki, sizeof(g_pki), "/tmp/tsvc-pki-XXXXXX");
    assert_non_null(mkdtemp(g_pki));
    make_cert(g_pki, TCRYPTO_CERT_CA, "ca", true);
    make_cert(g_pki, TCRYPTO_CERT_SERVER, "server", false);
    make_cert(g_pki, TCRYPTO_CERT_CLIENT, "client", false);
}

/* A server on a Unix socket (tls false) or on 127.0.0.1 with TLS, with
 * its own store. */
static srv *srv_start(bool tls)
{
    srv *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->dir, sizeof(s->dir), "/tmp/tsvc-remote-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    char store[128];
    snprintf(store, sizeof(store), "%s/store.db", s->dir);
    tc_conf *conf = tc_conf_dup(NULL);
    assert_non_null(conf);
    assert_true(tc_conf_set(conf, "store", store));
    assert_true(tc_conf_set(conf, "pin_kdf_t_cost", "1"));
    assert_true(tc_conf_set(conf, "pin_kdf_m_cost", "8"));
    assert_true(tc_conf_set(conf, "pin_kdf_lanes", "1"));
    assert_true(tc_conf_set(conf, "log_level", "error"));
    assert_int_equal(tcore_open(conf, &s->core), CKR_OK);
    tc_conf_free(conf);
    tcore_set_keys_outside_caller(s->core, true);

    if (!tls) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/tesserad.sock", s->dir);
        snprintf(s->url, sizeof(s->url), "unix://%s", sa.sun_path);
        s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->lfd >= 0);
        assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    } else {
        char cert[128], key[128], ca[128];
        pki_make();
        snprintf(cert, sizeof(cert), "%s/server.pem", g_pki);
        snprintf(key, sizeof(key), "%s/server.key", g_pki);
        snprintf(ca, sizeof(ca), "%s/ca.pem", g_pki);
        tcrypto_tls_conf tc = {.cert_file = cert, .key_file = key, .ca_file = ca};
        const char *why = NULL;
        s->tls = tcrypto_tls_server_new(&tc, &why);
        assert_non_null(s->tls);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t slen = sizeof(sa);
        s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->lfd >= 0);
        assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &slen), 0);
        snprintf(s->url, sizeof(s->url), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    }
    assert_int_equal(listen(s->lfd, 16), 0);
    assert_int_equal(pthread_create(&s->acceptor, NULL, acceptor, s), 0);
    return s;
}

/* The daemon goes away: no more connections, and every connection ends. */
static void srv_kill(srv *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->killed) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    s->killed = true;
    shutdown(s->lfd, SHUT_RDWR); /* wakes accept() */
    for (size_t i = 0; i < s->nconns; i++) {
        if (!s->conns[i]->done) {
            shutdown(s->conns[i]->fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
    if (s->tls == NULL) {
        unlink(s->url + strlen("unix://"));
    }
}

static void srv_stop(srv *s)
{
    if (s == NULL) {
        return;
    }
    srv_kill(s);
    for (size_t i = 0; i < s->nconns; i++) {
        pthread_join(s->conns[i]->th, NULL);
        free(s->conns[i]);
    }
    tcore_close(s->core);
    tcrypto_tls_ctx_free(s->tls);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", s->dir);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Connections open at the server, and applications. */
static void srv_counts(srv *s, int *conns, int *apps)
{
    *conns = 0;
    *apps = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nconns; i++) {
        *conns += !s->conns[i]->done;
    }
    for (size_t i = 0; i < s->napps; i++) {
        *apps += s->apps[i].app != NULL;
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- clients ------------------------------------------------------------------------ */

static tc_conf *client_conf(const char *connections, const char *timeout, bool tls)
{
    tc_conf *c = tc_conf_dup(NULL);
    assert_non_null(c);
    if (connections != NULL) {
        assert_true(tc_conf_set(c, "connections", connections));
    }
    if (timeout != NULL) {
        assert_true(tc_conf_set(c, "timeout", timeout));
    }
    if (tls) {
        char path[128];
        pki_make();
        snprintf(path, sizeof(path), "%s/client.pem", g_pki);
        assert_true(tc_conf_set(c, "tls_cert", path));
        snprintf(path, sizeof(path), "%s/client.key", g_pki);
        assert_true(tc_conf_set(c, "tls_key", path));
        snprintf(path, sizeof(path), "%s/ca.pem", g_pki);
        assert_true(tc_conf_set(c, "tls_ca", path));
    }
    return c;
}

static tsvc *client_open(const char *url, const char *connections, const char *timeout,
                         bool tls)
{
    tc_conf *c = client_conf(connections, timeout, tls);
    tsvc *v = NULL;
    assert_int_equal(tsvc_open_url(c, url, "test", &v), CKR_OK);
    tc_conf_free(c);
    assert_true(tsvc_is_remote(v));
    return v;
}

/* An initialised token with a user PIN; its slot. */
static CK_SLOT_ID token_ready(tsvc *v)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE h;
    uint8_t label[32];
    memset(label, ' ', sizeof(label));
    memcpy(label, "remote", 6);
    assert_int_equal(tsvc_slot_free(v, &slot), CKR_OK);
    assert_int_equal(tsvc_init_token(v, slot, P(SO_PIN), label), CKR_OK);
    assert_int_equal(tsvc_session_open(v, slot, true, &h), CKR_OK);
    assert_int_equal(tsvc_login(v, h, CKU_SO, NULL, 0, P(SO_PIN)), CKR_OK);
    assert_int_equal(tsvc_init_pin(v, h, P(USER_PIN)), CKR_OK);
    assert_int_equal(tsvc_logout(v, h), CKR_OK);
    assert_int_equal(tsvc_session_close(v, h), CKR_OK);
    return slot;
}

static CK_SESSION_HANDLE user_session(tsvc *v, CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE h;
    assert_int_equal(tsvc_session_open(v, slot, true, &h), CKR_OK);
    assert_int_equal(tsvc_login(v, h, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    return h;
}

static const uint8_t p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static CK_BBOOL yes = CK_TRUE;

static void ec_pair(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
                         {CKA_VERIFY, &yes, sizeof(yes)}};
    CK_ATTRIBUTE kt[] = {{CKA_SIGN, &yes, sizeof(yes)}, {CKA_SENSITIVE, &yes, sizeof(yes)}};
    assert_int_equal(tsvc_generate_key_pair(v, h, &m, pt, 2, kt, 2, pub, priv), CKR_OK);
}

static void sign_verify(tsvc *v, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub,
                        CK_OBJECT_HANDLE priv)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    uint8_t hash[32], sig[128];
    CK_ULONG siglen = sizeof(sig);
    memset(hash, 0x5a, sizeof(hash));
    assert_int_equal(tsvc_crypt_init(v, h, TCORE_OP_SIGN, &m, priv), CKR_OK);
    assert_int_equal(tsvc_crypt(v, h, TCORE_OP_SIGN, hash, sizeof(hash), sig, &siglen), CKR_OK);
    assert_int_equal(siglen, 64);
    assert_int_equal(tsvc_crypt_init(v, h, TCORE_OP_VERIFY, &m, pub), CKR_OK);
    assert_int_equal(tsvc_verify(v, h, hash, sizeof(hash), sig, siglen), CKR_OK);
    sig[10] ^= 1;
    assert_int_equal(tsvc_crypt_init(v, h, TCORE_OP_VERIFY, &m, pub), CKR_OK);
    assert_int_equal(tsvc_verify(v, h, hash, sizeof(hash), sig, siglen), CKR_SIGNATURE_INVALID);
}

/* ---- tests ---------------------------------------------------------------------------- */

static int setup_env(void **state)
{
    (void)state;
    unsetenv("TESSERA_URL");
    unsetenv("TESSERA_TLS_CERT");
    unsetenv("TESSERA_TLS_KEY");
    unsetenv("TESSERA_TLS_CA");
    return tcrypto_init() == TCRYPTO_OK ? 0 : -1;
}

static int teardown_env(void **state)
{
    (void)state;
    if (g_pki[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_pki);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", g_pki);
        }
    }
    return 0;
}

static void test_url_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "unix://relative/path", "unix://", "http://host:1", "tls://host", "tls://host:",
        "tls://host:0", "tls://host:65536", "tls://host:12a", "tls://:443", "tls://::1:443",
        "tls://[::1]", "tls://[::1]443", "tls://[]:443", "tls://a:1,", "tls://a:1,,b:2",
        "tls://a b:1", "TLS://a:1", "",
    };
    tc_conf *c = client_conf(NULL, NULL, true);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tsvc *v = NULL;
        CK_RV rv = tsvc_open_url(c, bad[i], "test", &v);
        if (rv != CKR_ARGUMENTS_BAD) {
            fail_msg("%s: 0x%lx", bad[i], (unsigned long)rv);
        }
        assert_null(v);
    }
    /* settings */
    tsvc *v = NULL;
    assert_true(tc_conf_set(c, "timeout", "-1"));
    assert_int_equal(tsvc_open_url(c, "unix:///tmp/x.sock", "test", &v), CKR_ARGUMENTS_BAD);
    assert_true(tc_conf_set(c, "timeout", "5"));
    assert_true(tc_conf_set(c, "connections", "pooled"));
    assert_int_equal(tsvc_open_url(c, "unix:///tmp/x.sock", "test", &v), CKR_ARGUMENTS_BAD);
    assert_true(tc_conf_set(c, "connections", "shared"));
    /* accepted forms (nothing connects yet) */
    static const char *const good[] = {
        "unix:///tmp/x.sock",
        "tls://127.0.0.1:7443",
        "tls://localhost:7443,[::1]:7443,127.0.0.1:7444",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(tsvc_open_url(c, good[i], "test", &v), CKR_OK);
        if (i == 2) {
            assert_string_equal(tsvc_endpoint(v), "tls://localhost:7443");
        }
        tsvc_close(v);
    }
    tc_conf_free(c);
}

static void test_tls_settings(void **state)
{
    (void)state;
    tc_conf *c = client_conf(NULL, NULL, false);
    tsvc *v = NULL;
    /* none, then the key missing */
    assert_int_equal(tsvc_open_url(c, "tls://127.0.0.1:7443", "test", &v), CKR_ARGUMENTS_BAD);
    char path[128];
    pki_make();
    snprintf(path, sizeof(path), "%s/client.pem", g_pki);
    assert_true(tc_conf_set(c, "tls_cert", path));
    snprintf(path, sizeof(path), "%s/ca.pem", g_pki);
    assert_true(tc_conf_set(c, "tls_ca", path));
    assert_int_equal(tsvc_open_url(c, "tls://127.0.0.1:7443", "test", &v), CKR_ARGUMENTS_BAD);
    /* the environment fills it in */
    snprintf(path, sizeof(path), "%s/client.key", g_pki);
    setenv("TESSERA_TLS_KEY", path, 1);
    assert_int_equal(tsvc_open_url(c, "tls://127.0.0.1:7443", "test", &v), CKR_OK);
    tsvc_close(v);
    /* and wins over the configuration: a file that is not there */
    setenv("TESSERA_TLS_CA", "/nonexistent/ca.pem", 1);
    assert_int_equal(tsvc_open_url(c, "tls://127.0.0.1:7443", "test", &v), CKR_FUNCTION_FAILED);
    unsetenv("TESSERA_TLS_KEY");
    unsetenv("TESSERA_TLS_CA");
    tc_conf_free(c);
}

static void test_unreachable(void **state)
{
    (void)state;
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    tsvc *v = client_open("unix:///nonexistent/tesserad.sock", NULL, "2", false);
    assert_int_equal(tsvc_slot_list(v, slots, &n), CKR_DEVICE_ERROR);
    assert_int_equal(tsvc_last_error()->rv, CKR_DEVICE_ERROR);
    tsvc_close(v);
    /* a TCP port nobody listens on (bound, not listening) */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    char url[64];
    snprintf(url, sizeof(url), "tls://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    v = client_open(url, NULL, "2", true);
    n = 4;
    assert_int_equal(tsvc_slot_list(v, slots, &n), CKR_DEVICE_ERROR);
    tsvc_close(v);
    close(fd);
}

static void test_hello_refused(void **state)
{
    (void)state;
    srv *s = srv_start(false);
    atomic_store(&s->refuse, true);
    tsvc *v = client_open(s->url, NULL, NULL, false);
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    assert_int_equal(tsvc_slot_list(v, slots, &n), CKR_DEVICE_ERROR);
    atomic_store(&s->refuse, false);
    n = 4;
    assert_int_equal(tsvc_slot_list(v, slots, &n), CKR_OK);
    tsvc_close(v);
    srv_stop(s);
}

static void test_basic(void **state)
{
    (void)state;
    srv *s = srv_start(false);
    tsvc *v = client_open(s->url, NULL, NULL, false);
    assert_string_equal(tsvc_endpoint(v), s->url);
    assert_null(tsvc_core(v));

    CK_SLOT_ID slots[4];
    CK_ULONG n = 0;
    assert_int_equal(tsvc_slot_list(v, NULL, &n), CKR_OK);
    assert_int_equal(n, 1);
    n = 4;
    assert_int_equal(tsvc_slot_list(v, slots, &n), CKR_OK);
    CK_SLOT_ID slot = token_ready(v);
    assert_int_equal(slot, slots[0]);
    CK_TOKEN_INFO ti;
    assert_int_equal(tsvc_token_info(v, slot, &ti), CKR_OK);
    assert_true(ti.flags & CKF_TOKEN_INITIALIZED);
    assert_memory_equal(ti.label, "remote ", 7);

    CK_SESSION_HANDLE h;
    assert_int_equal(tsvc_session_open(v, slot, true, &h), CKR_OK);
    /* the client's handle carries the generation (1) above the server's */
    assert_int_equal(h >> 32, 1);
    assert_int_equal(tsvc_login(v, h, CKU_USER, NULL, 0, P("wrong-pin")), CKR_PIN_INCORRECT);
    assert_int_equal(tsvc_last_error()->rv, CKR_PIN_INCORRECT);
    assert_int_equal(tsvc_login(v, h, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    assert_int_equal(tsvc_last_error()->rv, CKR_OK);
    CK_SESSION_INFO si;
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    /* the server's handle alone, or another generation's, is not a session */
    assert_int_equal(tsvc_session_info(v, h & 0xFFFFFFFFu, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(tsvc_session_info(v, h + (1ul << 32), &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(tsvc_last_error()->arg, TCORE_ARG_SESSION);

    CK_OBJECT_HANDLE pub, priv;
    ec_pair(v, h, &pub, &priv);
    sign_verify(v, h, pub, priv);

    /* C_GetAttributeValue's two calls, and a sensitive value */
    uint8_t point[128];
    uint8_t value[64];
    CK_ATTRIBUTE at[] = {{CKA_EC_POINT, NULL, 0}, {CKA_EC_PARAMS, NULL, 0}};
    assert_int_equal(tsvc_object_get_attrs(v, h, pub, at, 2), CKR_OK);
    assert_int_equal(at[0].ulValueLen, 67);
    assert_int_equal(at[1].ulValueLen, sizeof(p256_oid));
    at[0].pValue = point;
    at[1].pValue = value;
    assert_int_equal(tsvc_object_get_attrs(v, h, pub, at, 2), CKR_OK);
    assert_int_equal(point[0], 0x04);
    assert_memory_equal(value, p256_oid, sizeof(p256_oid));
    CK_ATTRIBUTE small[] = {{CKA_EC_POINT, point, 10}};
    assert_int_equal(tsvc_object_get_attrs(v, h, pub, small, 1), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(small[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CK_ATTRIBUTE sens[] = {{CKA_VALUE, value, sizeof(value)}};
    assert_int_equal(tsvc_object_get_attrs(v, h, priv, sens, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(sens[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);

    /* a bad template entry is named */
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG four = 1;
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
                         {CKA_VERIFY, &four, sizeof(four)}};
    CK_ATTRIBUTE kt[] = {{CKA_SIGN, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE p2 = 0, k2 = 0;
    assert_int_equal(tsvc_generate_key_pair(v, h, &m, pt, 2, kt, 1, &p2, &k2),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    const tcore_err *e = tsvc_last_error();
    assert_int_equal(e->rv, CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(e->arg, TCORE_ARG_TEMPLATE);
    assert_int_equal(e->index, 1);
    assert_int_equal(e->attr, CKA_VERIFY);

    /* the random source through the wire, and a closed session */
    uint8_t rnd[48] = {0};
    assert_int_equal(tsvc_random(v, h, rnd, sizeof(rnd)), CKR_OK);
    assert_int_equal(tsvc_session_close(v, h), CKR_OK);
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_SESSION_HANDLE_INVALID);

    /* closing the channel closes the application on the server */
    int conns, apps;
    srv_counts(s, &conns, &apps);
    assert_int_equal(conns, 1);
    assert_int_equal(apps, 1);
    tsvc_close(v);
    for (int i = 0; i < 200 && (conns != 0 || apps != 0); i++) {
        usleep(10000);
        srv_counts(s, &conns, &apps);
    }
    assert_int_equal(conns, 0);
    assert_int_equal(apps, 0);
    srv_stop(s);
}

/* ---- threads: per-thread connections share one login ----------------------------- */

typedef struct {
    tsvc *v;
    CK_SESSION_HANDLE h; /* opened and logged in by the main thread */
    CK_SLOT_ID slot;
    CK_RV rv;
    int rounds;
} thread_arg;

static void *user_thread(void *p)
{
    thread_arg *t = p;
    CK_SESSION_INFO si;
    CK_SESSION_HANDLE own = 0;
    CK_OBJECT_HANDLE pub, priv;
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0}, m = {CKM_ECDSA, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)}};
    CK_ATTRIBUTE kt[] = {{CKA_SIGN, &yes, sizeof(yes)}};
    uint8_t hash[32] = {1}, sig[64];
    CK_ULONG siglen;
    t->rv = tsvc_session_info(t->v, t->h, &si);
    if (t->rv == CKR_OK && si.state != CKS_RW_USER_FUNCTIONS) {
        t->rv = CKR_USER_NOT_LOGGED_IN;
    }
    /* the main thread's session, from this thread's connection */
    if (t->rv == CKR_OK) {
        t->rv = tsvc_generate_key_pair(t->v, t->h, &gen, pt, 1, kt, 1, &pub, &priv);
    }
    /* a session of its own is logged in already (one application) */
    if (t->rv == CKR_OK) {
        t->rv = tsvc_session_open(t->v, t->slot, false, &own);
    }
    if (t->rv == CKR_OK) {
        t->rv = tsvc_session_info(t->v, own, &si);
        if (t->rv == CKR_OK && si.state != CKS_RO_USER_FUNCTIONS) {
            t->rv = CKR_USER_NOT_LOGGED_IN;
        }
    }
    for (int i = 0; i < t->rounds && t->rv == CKR_OK; i++) {
        siglen = sizeof(sig);
        t->rv = tsvc_crypt_init(t->v, own, TCORE_OP_SIGN, &m, priv);
        if (t->rv == CKR_OK) {
            t->rv = tsvc_crypt(t->v, own, TCORE_OP_SIGN, hash, sizeof(hash), sig, &siglen);
        }
    }
    if (own != 0 && t->rv == CKR_OK) {
        t->rv = tsvc_session_close(t->v, own);
    }
    return NULL;
}

static void threads_share_login(const char *mode, int want_conns)
{
    srv *s = srv_start(false);
    tsvc *v = client_open(s->url, mode, NULL, false);
    CK_SLOT_ID slot = token_ready(v);
    CK_SESSION_HANDLE h = user_session(v, slot);
    thread_arg ta[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        ta[i] = (thread_arg){.v = v, .h = h, .slot = slot, .rv = CKR_GENERAL_ERROR, .rounds = 20};
        assert_int_equal(pthread_create(&th[i], NULL, user_thread, &ta[i]), 0);
    }
    /* while they run: the threads' connections are open, one application */
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ta[i].rv, CKR_OK);
    }
    int conns, apps;
    srv_counts(s, &conns, &apps);
    assert_int_equal(apps, 1);
    assert_int_equal(atomic_load(&s->accepted), want_conns);
    /* exited threads' connections are closed (per-thread mode) */
    for (int i = 0; i < 200 && conns != 1; i++) {
        usleep(10000);
        srv_counts(s, &conns, &apps);
    }
    assert_int_equal(conns, 1);
    assert_int_equal(tsvc_logout(v, h), CKR_OK);
    tsvc_close(v);
    srv_stop(s);
}

static void test_threads_per_thread(void **state)
{
    (void)state;
    threads_share_login(NULL, 4);
}

static void test_threads_shared(void **state)
{
    (void)state;
    threads_share_login("shared", 1);
}

/* ---- failures ------------------------------------------------------------------------- */

/* A daemon that stops answering: the call times out, once; the session of
 * that connection is gone; the next call reconnects. */
static void test_timeout(void **state)
{
    (void)state;
    srv *s = srv_start(false);
    tsvc *v = client_open(s->url, NULL, "1", false);
    CK_SLOT_ID slot = token_ready(v);
    CK_SESSION_HANDLE h = user_session(v, slot);
    CK_SESSION_INFO si;
    atomic_store(&s->stall, true);
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_DEVICE_ERROR);
    atomic_store(&s->stall, false);
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_SESSION_HANDLE_INVALID);
    CK_SESSION_HANDLE h2;
    assert_int_equal(tsvc_session_open(v, slot, false, &h2), CKR_OK);
    assert_int_equal(h2 >> 32, 2);
    /* the old connection was closed, so the application (and its login)
     * went with it */
    assert_int_equal(tsvc_session_info(v, h2, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_PUBLIC_SESSION);
    tsvc_close(v);
    srv_stop(s);
}

typedef struct {
    tsvc *v;
    CK_SESSION_HANDLE h;
    CK_RV first, second;
    atomic_bool started;
} idle_arg;

static void *stalled_call(void *p)
{
    idle_arg *a = p;
    CK_SESSION_INFO si;
    a->first = tsvc_session_info(a->v, a->h, &si);
    return NULL;
}

/* Two threads with calls in flight when the daemon stops answering: each
 * call fails once, and the channel moves one generation, not two (the
 * second failure is on a connection of the generation already left). */
static void test_timeout_two_threads(void **state)
{
    (void)state;
    srv *s = srv_start(false);
    tsvc *v = client_open(s->url, NULL, "1", false);
    CK_SLOT_ID slot = token_ready(v);
    CK_SESSION_HANDLE h = user_session(v, slot);
    idle_arg a = {.v = v, .h = h};
    pthread_t th;
    atomic_store(&s->stall, true);
    assert_int_equal(pthread_create(&th, NULL, stalled_call, &a), 0);
    while (atomic_load(&s->stalled) < 1) {
        usleep(1000);
    }
    CK_SESSION_INFO si;
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_DEVICE_ERROR);
    pthread_join(th, NULL);
    assert_int_equal(a.first, CKR_DEVICE_ERROR);
    atomic_store(&s->stall, false);
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_SESSION_HANDLE_INVALID);
    CK_SESSION_HANDLE h2;
    assert_int_equal(tsvc_session_open(v, slot, false, &h2), CKR_OK);
    assert_int_equal(h2 >> 32, 2);
    tsvc_close(v);
    srv_stop(s);
}

/* A thread whose connection is of the failed generation: it learns on its
 * next call, once, and then works on the new endpoint. */
static void *idle_thread(void *p)
{
    idle_arg *a = p;
    CK_SESSION_INFO si;
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    a->first = tsvc_slot_list(a->v, slots, &n);
    atomic_store(&a->started, true);
    while (atomic_load(&a->started)) {
        usleep(1000);
    }
    a->first = tsvc_session_info(a->v, a->h, &si);
    n = 4;
    a->second = tsvc_slot_list(a->v, slots, &n);
    return NULL;
}

static void test_failover(void **state)
{
    (void)state;
    srv *s1 = srv_start(true), *s2 = srv_start(true);
    char url[400];
    /* each server's token, made through a channel of its own */
    for (int i = 0; i < 2; i++) {
        snprintf(url, sizeof(url), "tls://%s", (i == 0 ? s1 : s2)->url);
        tsvc *w = client_open(url, NULL, NULL, true);
        token_ready(w);
        tsvc_close(w);
    }
    snprintf(url, sizeof(url), "tls://%s,%s", s1->url, s2->url);
    tsvc *v = client_open(url, NULL, "5", true);
    CK_SLOT_ID slot;
    assert_int_equal(tsvc_slot_by_label(v, "remote", &slot), CKR_OK);
    CK_SESSION_HANDLE h = user_session(v, slot);
    CK_OBJECT_HANDLE pub, priv;
    ec_pair(v, h, &pub, &priv);
    snprintf(url, sizeof(url), "tls://%s", s1->url);
    assert_string_equal(tsvc_endpoint(v), url);

    idle_arg ia = {.v = v, .h = h};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, idle_thread, &ia), 0);
    while (!atomic_load(&ia.started)) {
        usleep(1000);
    }
    assert_int_equal(ia.first, CKR_OK);

    srv_kill(s1);
    CK_SESSION_INFO si;
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_DEVICE_ERROR);
    assert_int_equal(tsvc_last_error()->rv, CKR_DEVICE_ERROR);
    /* once: from now on the session is of a gone generation */
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(tsvc_object_size(v, h, pub, &(CK_ULONG){0}), CKR_SESSION_HANDLE_INVALID);

    /* the other thread: its old connection is dropped without a failover
     * of its own; its session handle is stale */
    atomic_store(&ia.started, false);
    pthread_join(th, NULL);
    assert_int_equal(ia.first, CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(ia.second, CKR_OK);

    /* new sessions work, on the second endpoint, with its own token */
    CK_SESSION_HANDLE h2 = user_session(v, slot);
    assert_int_equal(h2 >> 32, 2);
    snprintf(url, sizeof(url), "tls://%s", s2->url);
    assert_string_equal(tsvc_endpoint(v), url);
    ec_pair(v, h2, &pub, &priv);
    sign_verify(v, h2, pub, priv);
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_SESSION_HANDLE_INVALID);

    /* the second one fails too: nowhere to go */
    srv_kill(s2);
    assert_int_equal(tsvc_session_info(v, h2, &si), CKR_DEVICE_ERROR);
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    assert_int_equal(tsvc_slot_list(v, slots, &n), CKR_DEVICE_ERROR);
    assert_int_equal(tsvc_session_info(v, h2, &si), CKR_SESSION_HANDLE_INVALID);
    tsvc_close(v);
    srv_stop(s1);
    srv_stop(s2);
}

/* The first endpoint down from the start: the channel moves on when it
 * connects, and handles carry the moved generation. */
static void test_first_endpoint_down(void **state)
{
    (void)state;
    srv *s1 = srv_start(true), *s2 = srv_start(true);
    char url[400];
    snprintf(url, sizeof(url), "tls://%s,%s", s1->url, s2->url);
    srv_kill(s1);
    tsvc *v = client_open(url, NULL, "5", true);
    CK_SLOT_ID slot = token_ready(v);
    CK_SESSION_HANDLE h;
    assert_int_equal(tsvc_session_open(v, slot, false, &h), CKR_OK);
    assert_int_equal(h >> 32, 2);
    snprintf(url, sizeof(url), "tls://%s", s2->url);
    assert_string_equal(tsvc_endpoint(v), url);
    tsvc_close(v);
    srv_stop(s1);
    srv_stop(s2);
}

/* ---- fork ---------------------------------------------------------------------------- */

static int child_run(tsvc *parent, const char *url, CK_SLOT_ID slot)
{
    tsvc_abandon(parent);
    tsvc *v = NULL;
    CK_SESSION_HANDLE h;
    CK_SESSION_INFO si;
    tc_conf *c = tc_conf_dup(NULL);
    if (c == NULL || tsvc_open_url(c, url, "child", &v) != CKR_OK) {
        return 2;
    }
    tc_conf_free(c);
    if (tsvc_session_open(v, slot, false, &h) != CKR_OK) {
        return 3;
    }
    /* a new application: not logged in, whatever the parent did */
    if (tsvc_session_info(v, h, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION) {
        return 4;
    }
    if (tsvc_login(v, h, CKU_USER, NULL, 0, P(USER_PIN)) != CKR_OK) {
        return 5;
    }
    tsvc_close(v);
    return 0;
}

static void test_fork(void **state)
{
    (void)state;
    srv *s = srv_start(false);
    tsvc *v = client_open(s->url, NULL, NULL, false);
    CK_SLOT_ID slot = token_ready(v);
    CK_SESSION_HANDLE h = user_session(v, slot);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(child_run(v, s->url, slot));
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* the parent's connection was not disturbed */
    CK_SESSION_INFO si;
    assert_int_equal(tsvc_session_info(v, h, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    CK_OBJECT_HANDLE pub, priv;
    ec_pair(v, h, &pub, &priv);
    sign_verify(v, h, pub, priv);
    tsvc_close(v);
    srv_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_malformed),
        cmocka_unit_test(test_tls_settings),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_hello_refused),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_threads_per_thread),
        cmocka_unit_test(test_threads_shared),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_two_threads),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_first_endpoint_down),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, setup_env, teardown_env);
}
