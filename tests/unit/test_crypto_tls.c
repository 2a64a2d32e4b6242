/*
 * TLS 1.3 with mutual authentication (crypto/tcrypto_tls.h) and the quick
 * start certificates. Both ends run in this thread over a non-blocking
 * socketpair, driven in turn. The must-fail cases name the refusal: a
 * client without a certificate, with one from another CA, with an expired
 * one, a server whose name does not match, a TLS 1.2 client.
 *
 * tcrypto_init() is deliberately never called: TLS and certificate making
 * must start the module themselves.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "test_crypto_util.h"
#include "crypto/tcrypto_tls.h"

#define DRIVE_ROUNDS 200

static char g_dir[64];

static void path_of(char *out, size_t outlen, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", g_dir, name);
    assert_true(n > 0 && (size_t)n < outlen);
}

/* NAME.pem and NAME.key in the test folder, issued by ISSUER (NULL: a CA). */
static tcrypto_rc make(tcrypto_cert_kind kind, const char *name, const char *cn,
                       const char *const *names, int days, const char *issuer,
                       const char **why)
{
    char cert[256], key[256], ca_cert[256], ca_key[256], tmp[128];
    snprintf(tmp, sizeof(tmp), "%s.pem", name);
    path_of(cert, sizeof(cert), tmp);
    snprintf(tmp, sizeof(tmp), "%s.key", name);
    path_of(key, sizeof(key), tmp);
    if (issuer != NULL) {
        snprintf(tmp, sizeof(tmp), "%s.pem", issuer);
        path_of(ca_cert, sizeof(ca_cert), tmp);
        snprintf(tmp, sizeof(tmp), "%s.key", issuer);
        path_of(ca_key, sizeof(ca_key), tmp);
    }
    tcrypto_cert_req req = {
        .kind = kind,
        .common_name = cn,
        .names = names,
        .days = days,
        .ca_cert_file = issuer != NULL ? ca_cert : NULL,
        .ca_key_file = issuer != NULL ? ca_key : NULL,
        .cert_out = cert,
        .key_out = key,
    };
    return tcrypto_cert_make(&req, why);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static const char *const g_server_names[] = {"localhost", "127.0.0.1", "::1", NULL};
static const char *const g_other_names[] = {"other.example", NULL};

static int setup(void **state)
{
    (void)state;
    const char *why = NULL;
    snprintf(g_dir, sizeof(g_dir), "/tmp/tessera-tls-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    if (make(TCRYPTO_CERT_CA, "ca", "Test CA", NULL, 30, NULL, &why) != TCRYPTO_OK ||
        make(TCRYPTO_CERT_CA, "ca2", "Other CA", NULL, 30, NULL, &why) != TCRYPTO_OK ||
        make(TCRYPTO_CERT_SERVER, "server", "localhost", g_server_names, 30, "ca", &why) !=
            TCRYPTO_OK ||
        make(TCRYPTO_CERT_SERVER, "other", "other.example", g_other_names, 30, "ca", &why) !=
            TCRYPTO_OK ||
        make(TCRYPTO_CERT_CLIENT, "client", "app1", NULL, 30, "ca", &why) != TCRYPTO_OK ||
        make(TCRYPTO_CERT_CLIENT, "client2", "app2", NULL, 30, "ca2", &why) != TCRYPTO_OK ||
        make(TCRYPTO_CERT_CLIENT, "expired", "old-app", NULL, 0, "ca", &why) != TCRYPTO_OK) {
        fprintf(stderr, "certificate set-up failed: %s\n", why != NULL ? why : "?");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(g_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ------------------------------------------------------------- */

static tcrypto_tls_ctx *server_ctx(const char *cert, const char *ca)
{
    char c[256], k[256], a[256], tmp[128];
    snprintf(tmp, sizeof(tmp), "%s.pem", cert);
    path_of(c, sizeof(c), tmp);
    snprintf(tmp, sizeof(tmp), "%s.key", cert);
    path_of(k, sizeof(k), tmp);
    snprintf(tmp, sizeof(tmp), "%s.pem", ca);
    path_of(a, sizeof(a), tmp);
    tcrypto_tls_conf conf = {.cert_file = c, .key_file = k, .ca_file = a};
    const char *why = NULL;
    tcrypto_tls_ctx *ctx = tcrypto_tls_server_new(&conf, &why);
    if (ctx == NULL)
        fprintf(stderr, "server context: %s\n", why);
    assert_non_null(ctx);
    return ctx;
}

static tcrypto_tls_ctx *client_ctx(const char *cert, const char *ca, const char *server_name)
{
    char c[256], k[256], a[256], tmp[128];
    snprintf(tmp, sizeof(tmp), "%s.pem", cert);
    path_of(c, sizeof(c), tmp);
    snprintf(tmp, sizeof(tmp), "%s.key", cert);
    path_of(k, sizeof(k), tmp);
    snprintf(tmp, sizeof(tmp), "%s.pem", ca);
    path_of(a, sizeof(a), tmp);
    tcrypto_tls_conf conf = {.cert_file = c, .key_file = k, .ca_file = a,
                             .server_name = server_name};
    const char *why = NULL;
    tcrypto_tls_ctx *ctx = tcrypto_tls_client_new(&conf, &why);
    if (ctx == NULL)
        fprintf(stderr, "client context: %s\n", why);
    assert_non_null(ctx);
    return ctx;
}

static void nb_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK), 0);
}

static bool pending_rc(tcrypto_tls_rc rc)
{
    return rc == TCRYPTO_TLS_WANT_READ || rc == TCRYPTO_TLS_WANT_WRITE;
}

/* Both handshakes, in turn, until both are done or one fails. */
static void drive(tcrypto_tls *srv, tcrypto_tls *cli, tcrypto_tls_rc *rs, tcrypto_tls_rc *rc)
{
    *rs = *rc = TCRYPTO_TLS_WANT_READ;
    for (int i = 0; i < DRIVE_ROUNDS; i++) {
        if (pending_rc(*rc))
            *rc = tcrypto_tls_handshake(cli);
        if (pending_rc(*rs))
            *rs = tcrypto_tls_handshake(srv);
        if ((*rs == TCRYPTO_TLS_OK && *rc == TCRYPTO_TLS_OK) || *rs == TCRYPTO_TLS_ERROR ||
            *rc == TCRYPTO_TLS_ERROR)
            return;
    }
    fail_msg("handshake did not finish in %d rounds", DRIVE_ROUNDS);
}

/* Read until len bytes arrived (the peer wrote them already). */
static void read_exact(tcrypto_tls *t, char *buf, size_t len)
{
    size_t got = 0;
    for (int i = 0; i < DRIVE_ROUNDS && got < len; i++) {
        size_t n = 0;
        tcrypto_tls_rc r = tcrypto_tls_read(t, buf + got, len - got, &n);
        if (r == TCRYPTO_TLS_OK)
            got += n;
        else if (!pending_rc(r))
            fail_msg("read failed: %s", tcrypto_tls_error(t));
    }
    assert_int_equal(got, len);
}

static void write_all(tcrypto_tls *t, const char *buf, size_t len)
{
    size_t put = 0;
    for (int i = 0; i < DRIVE_ROUNDS && put < len; i++) {
        size_t n = 0;
        tcrypto_tls_rc r = tcrypto_tls_write(t, buf + put, len - put, &n);
        if (r == TCRYPTO_TLS_OK)
            put += n;
        else if (!pending_rc(r))
            fail_msg("write failed: %s", tcrypto_tls_error(t));
    }
    assert_int_equal(put, len);
}

static void echo_both_ways(tcrypto_tls *srv, tcrypto_tls *cli)
{
    char buf[64];
    write_all(cli, "ping from the client", 20);
    read_exact(srv, buf, 20);
    assert_memory_equal(buf, "ping from the client", 20);
    write_all(srv, "pong from the server", 20);
    read_exact(cli, buf, 20);
    assert_memory_equal(buf, "pong from the server", 20);
    assert_int_equal(tcrypto_tls_pending(cli), 0);
}

/* A read after a failed handshake on the other side: the alert arrives. */
static tcrypto_tls_rc read_after(tcrypto_tls *t)
{
    char buf[16];
    size_t n = 0;
    tcrypto_tls_rc r = TCRYPTO_TLS_WANT_READ;
    for (int i = 0; i < DRIVE_ROUNDS && pending_rc(r); i++)
        r = tcrypto_tls_read(t, buf, sizeof(buf), &n);
    return r;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strcasestr(hay, needle) == NULL)
        fail_msg("\"%s\" does not mention \"%s\"", hay, needle);
}

/* ---- success ------------------------------------------------------------- */

static void test_mutual_handshake_and_echo(void **state)
{
    (void)state;
    tcrypto_tls_ctx *sc = server_ctx("server", "ca");
    tcrypto_tls_ctx *cc = client_ctx("client", "ca", "localhost");
    int sv[2];
    nb_pair(sv);
    tcrypto_tls *srv = tcrypto_tls_new(sc, sv[0]);
    tcrypto_tls *cli = tcrypto_tls_new(cc, sv[1]);
    assert_non_null(srv);
    assert_non_null(cli);
    char subj[128];
    assert_false(tcrypto_tls_peer_subject(srv, subj, sizeof(subj)));
    tcrypto_tls_rc rs, rc;
    drive(srv, cli, &rs, &rc);
    assert_int_equal(rs, TCRYPTO_TLS_OK);
    assert_int_equal(rc, TCRYPTO_TLS_OK);
    echo_both_ways(srv, cli);

    assert_true(tcrypto_tls_peer_subject(srv, subj, sizeof(subj)));
    assert_string_equal(subj, "CN=app1");
    assert_true(tcrypto_tls_peer_subject(cli, subj, sizeof(subj)));
    assert_string_equal(subj, "CN=localhost");
    /* too small: nothing written, false */
    char tiny[4] = "xyz";
    assert_false(tcrypto_tls_peer_subject(cli, tiny, sizeof(tiny)));
    assert_string_equal(tiny, "xyz");

    /* A clean close reaches the peer as CLOSED. */
    tcrypto_tls_shutdown(cli);
    assert_int_equal(read_after(srv), TCRYPTO_TLS_CLOSED);
    assert_int_equal(ERR_peek_error(), 0);

    tcrypto_tls_free(srv);
    tcrypto_tls_free(cli);
    tcrypto_tls_ctx_free(sc);
    tcrypto_tls_ctx_free(cc);
    close(sv[0]);
    close(sv[1]);
}

/* The name check accepts an IP address in subjectAltName. */
static void test_ip_server_name(void **state)
{
    (void)state;
    static const char *const names[] = {"127.0.0.1", "::1", NULL};
    for (size_t i = 0; names[i] != NULL; i++) {
        tcrypto_tls_ctx *sc = server_ctx("server", "ca");
        tcrypto_tls_ctx *cc = client_ctx("client", "ca", names[i]);
        int sv[2];
        nb_pair(sv);
        tcrypto_tls *srv = tcrypto_tls_new(sc, sv[0]);
        tcrypto_tls *cli = tcrypto_tls_new(cc, sv[1]);
        tcrypto_tls_rc rs, rc;
        drive(srv, cli, &rs, &rc);
        assert_int_equal(rs, TCRYPTO_TLS_OK);
        assert_int_equal(rc, TCRYPTO_TLS_OK);
        tcrypto_tls_free(srv);
        tcrypto_tls_free(cli);
        tcrypto_tls_ctx_free(sc);
        tcrypto_tls_ctx_free(cc);
        close(sv[0]);
        close(sv[1]);
    }
}

/* A reload frees the old context while its connections still run. */
static void test_ctx_freed_while_connection_lives(void **state)
{
    (void)state;
    tcrypto_tls_ctx *sc = server_ctx("server", "ca");
    tcrypto_tls_ctx *cc = client_ctx("client", "ca", "localhost");
    int sv[2];
    nb_pair(sv);
    tcrypto_tls *srv = tcrypto_tls_new(sc, sv[0]);
    tcrypto_tls *cli = tcrypto_tls_new(cc, sv[1]);
    tcrypto_tls_ctx_free(sc);
    tcrypto_tls_ctx_free(cc);
    tcrypto_tls_rc rs, rc;
    drive(srv, cli, &rs, &rc);
    assert_int_equal(rs, TCRYPTO_TLS_OK);
    assert_int_equal(rc, TCRYPTO_TLS_OK);
    echo_both_ways(srv, cli);
    tcrypto_tls_free(srv);
    tcrypto_tls_free(cli);
    close(sv[0]);
    close(sv[1]);
}

/* A peer that vanishes without close_notify is an ERROR, not CLOSED, and
 * writing to it neither raises SIGPIPE nor succeeds. */
static void test_peer_vanishes(void **state)
{
    (void)state;
    tcrypto_tls_ctx *sc = server_ctx("server", "ca");
    tcrypto_tls_ctx *cc = client_ctx("client", "ca", "localhost");
    int sv[2];
    nb_pair(sv);
    tcrypto_tls *srv = tcrypto_tls_new(sc, sv[0]);
    tcrypto_tls *cli = tcrypto_tls_new(cc, sv[1]);
    tcrypto_tls_rc rs, rc;
    drive(srv, cli, &rs, &rc);
    assert_int_equal(rs, TCRYPTO_TLS_OK);
    tcrypto_tls_free(cli);
    close(sv[1]);
    assert_int_equal(read_after(srv), TCRYPTO_TLS_ERROR);
    size_t n = 0;
    assert_int_equal(tcrypto_tls_write(srv, "x", 1, &n), TCRYPTO_TLS_ERROR);
    assert_int_equal(ERR_peek_error(), 0);
    tcrypto_tls_shutdown(srv); /* after a fatal error: nothing sent, no crash */
    tcrypto_tls_free(srv);
    tcrypto_tls_ctx_free(sc);
    tcrypto_tls_ctx_free(cc);
    close(sv[0]);
}

/* ---- refusals -------------------------------------------------------------- */

/* The server refuses the client: its error names why; the client learns of
 * it from the alert, at the latest on its first read. */
static void expect_server_refuses(const char *client_cert, const char *client_ca,
                                  const char *reason)
{
    tcrypto_tls_ctx *sc = server_ctx("server", "ca");
    tcrypto_tls_ctx *cc = client_ctx(client_cert, client_ca, "localhost");
    int sv[2];
    nb_pair(sv);
    tcrypto_tls *srv = tcrypto_tls_new(sc, sv[0]);
    tcrypto_tls *cli = tcrypto_tls_new(cc, sv[1]);
    tcrypto_tls_rc rs, rc;
    drive(srv, cli, &rs, &rc);
    assert_int_equal(rs, TCRYPTO_TLS_ERROR);
    assert_contains(tcrypto_tls_error(srv), reason);
    if (rc != TCRYPTO_TLS_ERROR)
        assert_int_equal(read_after(cli), TCRYPTO_TLS_ERROR);
    assert_contains(tcrypto_tls_error(cli), "alert");
    assert_false(tcrypto_tls_peer_subject(srv, (char[64]){0}, 64));
    assert_int_equal(ERR_peek_error(), 0);
    tcrypto_tls_free(srv);
    tcrypto_tls_free(cli);
    tcrypto_tls_ctx_free(sc);
    tcrypto_tls_ctx_free(cc);
    close(sv[0]);
    close(sv[1]);
}

static void test_client_from_other_ca_refused(void **state)
{
    (void)state;
    expect_server_refuses("client2", "ca", "unable to get local issuer certificate");
}

static void test_expired_client_refused(void **state)
{
    (void)state;
    expect_server_refuses("expired", "ca", "certificate has expired");
}

static void test_server_name_mismatch_refused(void **state)
{
    (void)state;
    static const struct {
        const char *cert;
        const char *name;
        const char *reason;
    } cases[] = {
        {"other", "localhost", "hostname mismatch"},
        {"server", "db.example", "hostname mismatch"},
        {"server", "127.0.0.2", "IP address mismatch"},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        tcrypto_tls_ctx *sc = server_ctx(cases[i].cert, "ca");
        tcrypto_tls_ctx *cc = client_ctx("client", "ca", cases[i].name);
        int sv[2];
        nb_pair(sv);
        tcrypto_tls *srv = tcrypto_tls_new(sc, sv[0]);
        tcrypto_tls *cli = tcrypto_tls_new(cc, sv[1]);
        tcrypto_tls_rc rs, rc;
        drive(srv, cli, &rs, &rc);
        assert_int_equal(rc, TCRYPTO_TLS_ERROR);
        assert_contains(tcrypto_tls_error(cli), cases[i].reason);
        if (rs != TCRYPTO_TLS_ERROR)
            assert_int_equal(read_after(srv), TCRYPTO_TLS_ERROR);
        tcrypto_tls_free(srv);
        tcrypto_tls_free(cli);
        tcrypto_tls_ctx_free(sc);
        tcrypto_tls_ctx_free(cc);
        close(sv[0]);
        close(sv[1]);
    }
}

/* A client made with OpenSSL directly: no certificate, or TLS 1.2 only.
 * Our server must refuse both. */
static void raw_client_refused(bool with_tls12_only, const char *reason)
{
    tcrypto_tls_ctx *sc = server_ctx("server", "ca");
    char ca[256];
    path_of(ca, sizeof(ca), "ca.pem");
    SSL_CTX *rctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(rctx);
    assert_int_equal(SSL_CTX_load_verify_file(rctx, ca), 1);
    SSL_CTX_set_verify(rctx, SSL_VERIFY_PEER, NULL);
    if (with_tls12_only) {
        char cert[256], key[256];
        path_of(cert, sizeof(cert), "client.pem");
        path_of(key, sizeof(key), "client.key");
        assert_int_equal(SSL_CTX_use_certificate_file(rctx, cert, SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(rctx, key, SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_set_max_proto_version(rctx, TLS1_2_VERSION), 1);
    }
    int sv[2];
    nb_pair(sv);
    tcrypto_tls *srv = tcrypto_tls_new(sc, sv[0]);
    SSL *cli = SSL_new(rctx);
    assert_non_null(cli);
    assert_int_equal(SSL_set_fd(cli, sv[1]), 1);
    SSL_set_connect_state(cli);

    tcrypto_tls_rc rs = TCRYPTO_TLS_WANT_READ;
    int cret = -1;
    bool cdone = false;
    for (int i = 0; i < DRIVE_ROUNDS && rs != TCRYPTO_TLS_ERROR; i++) {
        if (!cdone) {
            cret = SSL_do_handshake(cli);
            int e = SSL_get_error(cli, cret);
            cdone = cret == 1 || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE);
        }
        if (pending_rc(rs))
            rs = tcrypto_tls_handshake(srv);
        if (rs == TCRYPTO_TLS_OK)
            fail_msg("server accepted a client it must refuse");
    }
    assert_int_equal(rs, TCRYPTO_TLS_ERROR);
    assert_contains(tcrypto_tls_error(srv), reason);
    ERR_clear_error();
    SSL_free(cli);
    SSL_CTX_free(rctx);
    tcrypto_tls_free(srv);
    tcrypto_tls_ctx_free(sc);
    close(sv[0]);
    close(sv[1]);
}

static void test_client_without_certificate_refused(void **state)
{
    (void)state;
    raw_client_refused(false, "peer did not return a certificate");
}

static void test_tls12_client_refused(void **state)
{
    (void)state;
    raw_client_refused(true, "unsupported protocol");
}

static void test_ctx_load_errors(void **state)
{
    (void)state;
    char c[256], k[256], k2[256], a[256];
    path_of(c, sizeof(c), "server.pem");
    path_of(k, sizeof(k), "server.key");
    path_of(k2, sizeof(k2), "client.key");
    path_of(a, sizeof(a), "ca.pem");
    const char *why = NULL;
    tcrypto_tls_conf bad_key = {.cert_file = c, .key_file = k2, .ca_file = a};
    assert_null(tcrypto_tls_server_new(&bad_key, &why));
    assert_string_equal(why, "private key does not match the certificate");
    tcrypto_tls_conf no_ca = {.cert_file = c, .key_file = k, .ca_file = "/nonexistent/ca.pem"};
    assert_null(tcrypto_tls_client_new(&no_ca, &why));
    assert_contains(why, "CA file");
    tcrypto_tls_conf no_cert = {.cert_file = "/nonexistent", .key_file = k, .ca_file = a};
    assert_null(tcrypto_tls_server_new(&no_cert, &why));
    assert_contains(why, "certificate file");
    assert_null(tcrypto_tls_server_new(NULL, NULL));
    assert_int_equal(ERR_peek_error(), 0);
    tcrypto_tls_ctx_free(NULL);
    assert_string_equal(tcrypto_tls_error(NULL), "no connection");
}

/* ---- certificate files ------------------------------------------------------ */

static void test_key_file_mode(void **state)
{
    (void)state;
    static const char *const keys[] = {"ca.key", "server.key", "client.key"};
    for (size_t i = 0; i < TC_ARRAY_LEN(keys); i++) {
        char p[256];
        struct stat st;
        path_of(p, sizeof(p), keys[i]);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
    }
    /* no staging or temporary files left behind */
    char p[256];
    path_of(p, sizeof(p), "ca.key.new");
    assert_int_not_equal(access(p, F_OK), 0);
}

static void test_existing_files_not_overwritten(void **state)
{
    (void)state;
    char p[256];
    uint8_t *before = NULL, *after = NULL;
    size_t blen = 0, alen = 0;
    path_of(p, sizeof(p), "client.key");
    assert_true(tc_read_file(p, 1 << 16, &before, &blen));
    const char *why = NULL;
    assert_rc(make(TCRYPTO_CERT_CLIENT, "client", "app1", NULL, 30, "ca", &why),
              TCRYPTO_ERR_ARG);
    assert_contains(why, "exists");
    assert_true(tc_read_file(p, 1 << 16, &after, &alen));
    assert_int_equal(alen, blen);
    assert_memory_equal(after, before, blen);
    tc_freezero(before, blen);
    tc_freezero(after, alen);
    /* only the certificate exists: the key is not written either */
    char cert[256], key[256];
    path_of(cert, sizeof(cert), "lonely.pem");
    path_of(key, sizeof(key), "lonely.key");
    assert_true(tc_write_file_atomic(cert, "x", 1, 0644));
    assert_rc(make(TCRYPTO_CERT_CLIENT, "lonely", "lonely", NULL, 30, "ca", &why),
              TCRYPTO_ERR_ARG);
    assert_int_not_equal(access(key, F_OK), 0);
}

static void test_cert_make_bad_input(void **state)
{
    (void)state;
    const char *why = NULL;
    static const char *const bad_names[] = {"ok.example", "bad,name", NULL};
    static const char *const no_names[] = {NULL};
    assert_rc(make(TCRYPTO_CERT_SERVER, "s1", "s1", bad_names, 30, "ca", &why),
              TCRYPTO_ERR_ARG);
    assert_rc(make(TCRYPTO_CERT_SERVER, "s2", "s2", no_names, 30, "ca", &why), TCRYPTO_ERR_ARG);
    assert_rc(make(TCRYPTO_CERT_CLIENT, "c1", "", NULL, 30, "ca", &why), TCRYPTO_ERR_ARG);
    /* a leaf is not an issuer */
    assert_rc(make(TCRYPTO_CERT_CLIENT, "c2", "c2", NULL, 30, "client", &why), TCRYPTO_ERR_ARG);
    assert_contains(why, "not a CA");
    /* a CA key that is not the CA certificate's */
    char cert[256], key[256], out_c[256], out_k[256];
    path_of(cert, sizeof(cert), "ca.pem");
    path_of(key, sizeof(key), "ca2.key");
    path_of(out_c, sizeof(out_c), "c3.pem");
    path_of(out_k, sizeof(out_k), "c3.key");
    tcrypto_cert_req req = {.kind = TCRYPTO_CERT_CLIENT, .common_name = "c3", .days = 1,
                            .ca_cert_file = cert, .ca_key_file = key, .cert_out = out_c,
                            .key_out = out_k};
    assert_rc(tcrypto_cert_make(&req, &why), TCRYPTO_ERR_ARG);
    assert_contains(why, "does not match");
    assert_int_not_equal(access(out_k, F_OK), 0);
    assert_rc(tcrypto_cert_make(NULL, &why), TCRYPTO_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_handshake_and_echo),
        cmocka_unit_test(test_ip_server_name),
        cmocka_unit_test(test_ctx_freed_while_connection_lives),
        cmocka_unit_test(test_peer_vanishes),
        cmocka_unit_test(test_client_without_certificate_refused),
        cmocka_unit_test(test_client_from_other_ca_refused),
        cmocka_unit_test(test_expired_client_refused),
        cmocka_unit_test(test_server_name_mismatch_refused),
        cmocka_unit_test(test_tls12_client_refused),
        cmocka_unit_test(test_ctx_load_errors),
        cmocka_unit_test(test_key_file_mode),
        cmocka_unit_test(test_existing_files_not_overwritten),
        cmocka_unit_test(test_cert_make_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
