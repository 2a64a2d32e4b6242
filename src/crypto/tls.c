/*
 * TLS 1.3 with mutual authentication over a non-blocking socket (libssl).
 *
 * Every SSL_CTX is made in the layer's private library context, so the host
 * program's OpenSSL configuration and providers do not apply to our TLS
 * either, and the module's start-up (self-tests, secure heap) runs first: a
 * module in the error state makes no TLS context.
 *
 * The socket is reached through a small BIO of our own rather than
 * BIO_s_socket: OpenSSL's writes use write(2), which raises SIGPIPE when the
 * peer has gone, and a library must not kill the process it lives in (the
 * PKCS#11 module runs inside applications). Ours uses send(MSG_NOSIGNAL).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/crypto_int.h"
#include "crypto/tcrypto_tls.h"

/* TLS 1.3 suites, AEADs only by construction; listed so that a system
 * configuration (openssl.cnf "system_default") cannot change them. */
#define TLS_SUITES "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"
/* Our chains are CA -> leaf; room for intermediates a deployment adds. */
#define TLS_VERIFY_DEPTH 8
#define TLS_ERR_LEN 256
#define TLS_PEM_MAX (64 * 1024)

struct tcrypto_tls_ctx {
    atomic_uint refs;
    SSL_CTX *ssl_ctx;
    bool server;
    /* client: the DNS name sent as SNI; NULL when none or an IP address
     * (RFC 6066 §3: literal addresses are not sent in server_name). */
    char *sni;
};

/* What our BIO needs: the fd, and whether recv() saw the end of the stream
 * (libssl asks BIO_eof() to tell a truncated connection from a retry). */
typedef struct {
    int fd;
    bool eof;
} tls_sock;

struct tcrypto_tls {
    tcrypto_tls_ctx *ctx;
    SSL *ssl;
    tls_sock sock;
    bool failed; /* a fatal error: no close_notify may follow (SSL_shutdown(3)) */
    char err[TLS_ERR_LEN];
};

/* ---- one-time set-up ------------------------------------------------------ */

static pthread_once_t g_tls_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *g_sock_method;
static bool g_tls_init_ok;

static int sock_write_ex(BIO *b, const char *buf, size_t len, size_t *written)
{
    tls_sock *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (r >= 0) {
            *written = (size_t)r;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        return 0;
    }
}

static int sock_read_ex(BIO *b, char *buf, size_t len, size_t *readbytes)
{
    tls_sock *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = recv(s->fd, buf, len, 0);
        if (r > 0) {
            *readbytes = (size_t)r;
            return 1;
        }
        if (r == 0) {
            s->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        return 0;
    }
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    tls_sock *s = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* nothing buffered here */
    case BIO_CTRL_EOF:
        return s != NULL && s->eof;
    default:
        return 0;
    }
}

static int sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void tls_init(void)
{
    /* What SSL_CTX_new_ex() would call on first use; done here once so a
     * failure is reported as such. */
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL) != 1)
        return;
    int idx = BIO_get_new_index();
    if (idx == -1)
        return;
    BIO_METHOD *m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "tessera socket");
    if (m == NULL)
        return;
    if (BIO_meth_set_write_ex(m, sock_write_ex) != 1 ||
        BIO_meth_set_read_ex(m, sock_read_ex) != 1 || BIO_meth_set_ctrl(m, sock_ctrl) != 1 ||
        BIO_meth_set_create(m, sock_create) != 1) {
        BIO_meth_free(m);
        return;
    }
    g_sock_method = m;
    g_tls_init_ok = true;
}

/* The first error's reason, for the log (the library name and code add
 * nothing there). */
static void describe_err_queue(char *out, size_t outlen, const char *dflt)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (reason != NULL)
        snprintf(out, outlen, "%s", reason);
    else if (e != 0)
        ERR_error_string_n(e, out, outlen);
    else
        snprintf(out, outlen, "%s", dflt);
}

/* ---- contexts --------------------------------------------------------------- */

static bool is_ip_literal(const char *name)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* Never prompt on the terminal for a passphrase (OpenSSL's default without
 * a callback would, and a daemon would hang): an encrypted key is refused. */
int tcx_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* The private key, read through a buffer of ours that is wiped (a FILE
 * BIO would leave the PEM in stdio's buffer), decoded in our context. */
static EVP_PKEY *read_key(const char *path)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    EVP_PKEY *k = NULL;
    if (!tc_read_file(path, TLS_PEM_MAX, &pem, &len))
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio != NULL)
        k = PEM_read_bio_PrivateKey_ex(bio, NULL, tcx_no_passphrase, NULL, tcx_libctx(), NULL);
    BIO_free(bio);
    tc_freezero(pem, len);
    return k;
}

static tcrypto_tls_ctx *ctx_new(const tcrypto_tls_conf *conf, bool server, const char **why)
{
    const char *msg = NULL;
    tcrypto_tls_ctx *c = NULL;
    SSL_CTX *sc = NULL;
    EVP_PKEY *key = NULL;

    if (conf == NULL || conf->cert_file == NULL || conf->key_file == NULL ||
        conf->ca_file == NULL) {
        msg = "certificate, key and CA files are required";
        goto fail;
    }
    if (conf->server_name != NULL && (server || conf->server_name[0] == '\0')) {
        msg = server ? "server_name is for clients only" : "empty server name";
        goto fail;
    }
    if (tcx_ready() != TCRYPTO_OK) {
        msg = "crypto module in error state";
        goto fail;
    }
    pthread_once(&g_tls_once, tls_init);
    if (!g_tls_init_ok) {
        msg = "TLS library could not be initialised";
        goto fail;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        msg = "out of memory";
        goto fail;
    }
    sc = SSL_CTX_new_ex(tcx_libctx(), NULL, server ? TLS_server_method() : TLS_client_method());
    if (sc == NULL) {
        msg = "TLS context could not be created";
        goto fail;
    }
    /* TLS 1.3 only: no downgrade to suites and key exchanges without
     * forward secrecy, and no renegotiation (1.3 has none; the option also
     * covers a misconfigured older peer) or compression (CRIME). */
    SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_set_min_proto_version(sc, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(sc, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(sc, TLS_SUITES) != 1 ||
        SSL_CTX_set1_groups_list(sc, TLS_GROUPS) != 1) {
        msg = "TLS 1.3 parameters could not be set";
        goto fail;
    }
    /* Partial writes: tcrypto_tls_write reports what went, the caller keeps
     * the rest and may hand it over from another address. */
    SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* No resumption at all: every connection is a full handshake in which
     * the client's certificate is verified against the CA of the moment
     * (a reload with a new CA file applies to the next connection). */
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
    if (server) {
        SSL_CTX_set_options(sc, SSL_OP_NO_TICKET);
        if (SSL_CTX_set_num_tickets(sc, 0) != 1) {
            msg = "TLS session tickets could not be turned off";
            goto fail;
        }
    }

    if (SSL_CTX_use_certificate_chain_file(sc, conf->cert_file) != 1) {
        msg = "certificate file could not be loaded";
        goto fail;
    }
    key = read_key(conf->key_file);
    if (key == NULL) {
        msg = "private key file could not be loaded";
        goto fail;
    }
    if (X509_check_private_key(SSL_CTX_get0_certificate(sc), key) != 1) {
        msg = "private key does not match the certificate";
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey(sc, key) != 1) {
        msg = "private key could not be used";
        goto fail;
    }
    EVP_PKEY_free(key); /* the SSL_CTX holds its own reference */
    key = NULL;
    if (SSL_CTX_load_verify_file(sc, conf->ca_file) != 1) {
        msg = "CA file could not be loaded";
        goto fail;
    }
    SSL_CTX_set_verify_depth(sc, TLS_VERIFY_DEPTH);
    if (server) {
        /* The CA names are sent in the CertificateRequest
         * (certificate_authorities, RFC 8446 §4.2.4) so that a client
         * holding several certificates picks the right one. */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file_ex(conf->ca_file, tcx_libctx(),
                                                                NULL);
        if (names == NULL) {
            msg = "CA file could not be loaded";
            goto fail;
        }
        SSL_CTX_set_client_CA_list(sc, names);
        SSL_CTX_set_verify(sc, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    } else {
        SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
        const char *name = conf->server_name;
        if (name != NULL) {
            X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(sc);
            int ok;
            if (is_ip_literal(name)) {
                ok = X509_VERIFY_PARAM_set1_ip_asc(vp, name);
            } else {
                X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                ok = X509_VERIFY_PARAM_set1_host(vp, name, 0);
                if (ok == 1 && (c->sni = strdup(name)) == NULL) {
                    msg = "out of memory";
                    goto fail;
                }
            }
            if (ok != 1) {
                msg = "invalid server name";
                goto fail;
            }
        }
    }
    atomic_init(&c->refs, 1);
    c->ssl_ctx = sc;
    c->server = server;
    ERR_clear_error();
    return c;

fail:
    if (why != NULL)
        *why = msg;
    EVP_PKEY_free(key);
    SSL_CTX_free(sc);
    if (c != NULL)
        free(c->sni);
    free(c);
    /* Nothing of ours stays on the thread's queue for another layer. */
    ERR_clear_error();
    return NULL;
}

tcrypto_tls_ctx *tcrypto_tls_server_new(const tcrypto_tls_conf *conf, const char **why)
{
    return ctx_new(conf, true, why);
}

tcrypto_tls_ctx *tcrypto_tls_client_new(const tcrypto_tls_conf *conf, const char **why)
{
    return ctx_new(conf, false, why);
}

void tcrypto_tls_ctx_free(tcrypto_tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (atomic_fetch_sub(&ctx->refs, 1) != 1)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx->sni);
    free(ctx);
}

/* ---- connections ---------------------------------------------------------- */

tcrypto_tls *tcrypto_tls_new(tcrypto_tls_ctx *ctx, int fd)
{
    if (ctx == NULL || fd < 0)
        return NULL;
    tcrypto_tls *t = calloc(1, sizeof(*t));
    BIO *bio = NULL;
    if (t == NULL)
        return NULL;
    t->sock.fd = fd;
    t->ssl = SSL_new(ctx->ssl_ctx);
    if (t->ssl == NULL)
        goto fail;
    bio = BIO_new(g_sock_method);
    if (bio == NULL)
        goto fail;
    BIO_set_data(bio, &t->sock);
    SSL_set_bio(t->ssl, bio, bio); /* the SSL owns the BIO from here */
    if (ctx->server) {
        SSL_set_accept_state(t->ssl);
    } else {
        if (ctx->sni != NULL && SSL_set_tlsext_host_name(t->ssl, ctx->sni) != 1)
            goto fail;
        SSL_set_connect_state(t->ssl);
    }
    atomic_fetch_add(&ctx->refs, 1);
    t->ctx = ctx;
    snprintf(t->err, sizeof(t->err), "no error");
    return t;

fail:
    SSL_free(t->ssl);
    free(t);
    ERR_clear_error();
    return NULL;
}

void tcrypto_tls_free(tcrypto_tls *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    tcrypto_tls_ctx_free(t->ctx);
    free(t);
}

/* Why a handshake failed, in the words an operator reads in the log. The
 * verify result is kept by the SSL object: it says which check of the peer's
 * chain failed where the queue only says "certificate verify failed". */
static void describe_failure(tcrypto_tls *t)
{
    char reason[TLS_ERR_LEN / 2];
    describe_err_queue(reason, sizeof(reason), "TLS protocol error");
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK)
        snprintf(t->err, sizeof(t->err), "%s: %s", reason, X509_verify_cert_error_string(vr));
    else
        snprintf(t->err, sizeof(t->err), "%s", reason);
}

/* Map an SSL call's result; called only when it did not succeed. The
 * thread's error queue is empty on return whatever happened. */
static tcrypto_tls_rc map_result(tcrypto_tls *t, int ret)
{
    int saved_errno = errno;
    int e = SSL_get_error(t->ssl, ret);
    tcrypto_tls_rc rc = TCRYPTO_TLS_ERROR;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        rc = TCRYPTO_TLS_WANT_READ;
        break;
    case SSL_ERROR_WANT_WRITE:
        rc = TCRYPTO_TLS_WANT_WRITE;
        break;
    case SSL_ERROR_ZERO_RETURN:
        snprintf(t->err, sizeof(t->err), "peer closed the connection");
        rc = TCRYPTO_TLS_CLOSED;
        break;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() != 0)
            describe_failure(t);
        else if (saved_errno != 0 && !t->sock.eof)
            snprintf(t->err, sizeof(t->err), "connection error: %s", strerror(saved_errno));
        else
            snprintf(t->err, sizeof(t->err), "peer closed the connection without close_notify");
        break;
    case SSL_ERROR_SSL:
        describe_failure(t);
        break;
    default:
        snprintf(t->err, sizeof(t->err), "unexpected TLS state (%d)", e);
        break;
    }
    if (rc == TCRYPTO_TLS_ERROR)
        t->failed = true;
    ERR_clear_error();
    return rc;
}

tcrypto_tls_rc tcrypto_tls_handshake(tcrypto_tls *t)
{
    if (t == NULL)
        return TCRYPTO_TLS_ERROR;
    /* SSL_get_error() reads the queue: it must hold nothing older. */
    ERR_clear_error();
    errno = 0;
    int ret = SSL_do_handshake(t->ssl);
    if (ret == 1)
        return TCRYPTO_TLS_OK;
    return map_result(t, ret);
}

tcrypto_tls_rc tcrypto_tls_read(tcrypto_tls *t, void *buf, size_t len, size_t *n)
{
    if (t == NULL || buf == NULL || n == NULL || len == 0) {
        if (t != NULL)
            snprintf(t->err, sizeof(t->err), "invalid read arguments");
        return TCRYPTO_TLS_ERROR;
    }
    ERR_clear_error();
    errno = 0;
    size_t got = 0;
    int ret = SSL_read_ex(t->ssl, buf, len, &got);
    if (ret == 1) {
        *n = got;
        return TCRYPTO_TLS_OK;
    }
    return map_result(t, ret);
}

tcrypto_tls_rc tcrypto_tls_write(tcrypto_tls *t, const void *buf, size_t len, size_t *n)
{
    if (t == NULL || buf == NULL || n == NULL || len == 0) {
        if (t != NULL)
            snprintf(t->err, sizeof(t->err), "invalid write arguments");
        return TCRYPTO_TLS_ERROR;
    }
    ERR_clear_error();
    errno = 0;
    size_t put = 0;
    int ret = SSL_write_ex(t->ssl, buf, len, &put);
    if (ret == 1) {
        *n = put;
        return TCRYPTO_TLS_OK;
    }
    return map_result(t, ret);
}

size_t tcrypto_tls_pending(const tcrypto_tls *t)
{
    if (t == NULL)
        return 0;
    int p = SSL_pending(t->ssl);
    return p > 0 ? (size_t)p : 0;
}

void tcrypto_tls_shutdown(tcrypto_tls *t)
{
    if (t == NULL || t->failed)
        return;
    /* Only a finished handshake has a close_notify to send; once. */
    if (SSL_is_init_finished(t->ssl) && (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN) == 0) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
}

const char *tcrypto_tls_error(const tcrypto_tls *t)
{
    return t != NULL ? t->err : "no connection";
}

bool tcrypto_tls_peer_subject(const tcrypto_tls *t, char *out, size_t outlen)
{
    if (t == NULL || out == NULL || outlen == 0 || !SSL_is_init_finished(t->ssl))
        return false;
    X509 *peer = SSL_get0_peer_certificate(t->ssl);
    if (peer == NULL)
        return false;
    bool ok = false;
    BIO *mem = BIO_new(BIO_s_mem());
    char *p = NULL;
    if (mem == NULL)
        goto done;
    if (X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0)
        goto done;
    long len = BIO_get_mem_data(mem, &p);
    if (len < 0 || (size_t)len >= outlen)
        goto done;
    memcpy(out, p, (size_t)len);
    out[len] = '\0';
    ok = true;
done:
    BIO_free(mem);
    ERR_clear_error();
    return ok;
}
