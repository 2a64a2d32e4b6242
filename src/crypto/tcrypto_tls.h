/*
 * TLS 1.3 with mutual authentication, for tesserad's listener and its
 * clients, and the X.509 certificates of a quick start (tessera cert).
 * Only TLS 1.3 is offered; both sides present a certificate, and each
 * verifies the other against the CA file it was given (a client without a
 * certificate, with one from another CA, or with an expired one is refused
 * in the handshake, before any request is read).
 *
 * Connections are non-blocking: every I/O call answers TCRYPTO_TLS_WANT_READ
 * or _WANT_WRITE when the socket would block, and the caller retries when
 * poll/epoll says the fd is ready. A connection is used by one thread at a
 * time. No session resumption (the server issues no tickets, neither side
 * caches sessions): every connection is a full handshake, so a client
 * certificate is checked against the CA file of the moment. Writing to a
 * peer that has gone never raises SIGPIPE.
 *
 * TLS works whether or not tcrypto_init() ran: making a context starts the
 * crypto module (self-tests, secure heap) if needed, and a module in the
 * error state makes none. Failing calls leave nothing on the thread's
 * OpenSSL error queue.
 */
#ifndef TESSERA_CRYPTO_TLS_H
#define TESSERA_CRYPTO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/tcrypto.h"

typedef struct tcrypto_tls_ctx tcrypto_tls_ctx;
typedef struct tcrypto_tls tcrypto_tls;

typedef struct {
    const char *cert_file; /* PEM: this side's certificate (chain) */
    const char *key_file;  /* PEM: its private key */
    const char *ca_file;   /* PEM: the CA(s) the peer's certificate must chain to */
    /* client only: the name the server's certificate must carry (DNS name or
     * IP address in its subjectAltName); NULL: the chain is checked, not the
     * name */
    const char *server_name;
} tcrypto_tls_conf;

/* A server or client context. On failure *why (may be NULL) gets a static
 * message naming what could not be loaded ("certificate file could not be
 * loaded", "private key does not match the certificate", ...), and the
 * result is NULL. An encrypted private key is refused (nothing prompts). */
tcrypto_tls_ctx *tcrypto_tls_server_new(const tcrypto_tls_conf *conf, const char **why);
tcrypto_tls_ctx *tcrypto_tls_client_new(const tcrypto_tls_conf *conf, const char **why);
/* Contexts are reference counted: a connection keeps its context alive, so a
 * reload (SIGHUP) may swap in a new context while old connections finish. */
void tcrypto_tls_ctx_free(tcrypto_tls_ctx *ctx);

typedef enum {
    TCRYPTO_TLS_OK = 0,
    TCRYPTO_TLS_WANT_READ,
    TCRYPTO_TLS_WANT_WRITE,
    TCRYPTO_TLS_CLOSED, /* the peer closed the connection cleanly */
    TCRYPTO_TLS_ERROR,  /* handshake refused, protocol error, I/O error */
} tcrypto_tls_rc;

/* A connection over a connected socket fd (the caller keeps owning fd). */
tcrypto_tls *tcrypto_tls_new(tcrypto_tls_ctx *ctx, int fd);
void tcrypto_tls_free(tcrypto_tls *t);
/* Drive the handshake. After TCRYPTO_TLS_ERROR, tcrypto_tls_error says why
 * (for the log: "peer did not return a certificate", "certificate has
 * expired", "unable to get local issuer certificate", ...). */
tcrypto_tls_rc tcrypto_tls_handshake(tcrypto_tls *t);
/* *n: bytes read/written when TCRYPTO_TLS_OK; len must be > 0. A write may
 * take fewer than len bytes: the caller passes the rest again (from any
 * address). TCRYPTO_TLS_CLOSED: close_notify received; a peer that vanished
 * without one is TCRYPTO_TLS_ERROR. */
tcrypto_tls_rc tcrypto_tls_read(tcrypto_tls *t, void *buf, size_t len, size_t *n);
tcrypto_tls_rc tcrypto_tls_write(tcrypto_tls *t, const void *buf, size_t len, size_t *n);
/* Bytes already decrypted and waiting in the TLS layer (epoll will not say
 * the fd is readable for them). */
size_t tcrypto_tls_pending(const tcrypto_tls *t);
/* Send close_notify (best effort, non-blocking; nothing after an ERROR). */
void tcrypto_tls_shutdown(tcrypto_tls *t);
/* Why the last call failed, as text (always a string). */
const char *tcrypto_tls_error(const tcrypto_tls *t);
/* The peer certificate's subject, one line in RFC 2253 form
 * ("CN=app1,O=Example"), after a successful handshake; false if none or if
 * it does not fit in outlen (out is then untouched). */
bool tcrypto_tls_peer_subject(const tcrypto_tls *t, char *out, size_t outlen);

/* ---- certificates for a quick start (tessera cert ca|server|client) ----
 * Keys are ECDSA P-256, signatures ECDSA with SHA-256, serials 128 random
 * bits. days > 0: valid from a minute ago (clock skew) for `days` days.
 * days <= 0: a certificate that has already expired (notBefore |days| + 2
 * days ago, notAfter a day ago), for tests of the refusal. |days| <= 36500.
 * CA: basicConstraints CA:TRUE, keyCertSign + cRLSign. Server: CA:FALSE,
 * digitalSignature, serverAuth, subjectAltName. Client: CA:FALSE,
 * digitalSignature, clientAuth.
 * The private key file is written 0600 and the certificate 0644, each
 * durably (O_EXCL temporary, fsync, link); an existing file is never
 * replaced (TCRYPTO_ERR_ARG, "output file exists"), and no key is left
 * without its certificate. names: for a server certificate, its
 * subjectAltNames ("localhost", "127.0.0.1", ...; IPv4/IPv6 addresses
 * become IP entries, the rest DNS names), NULL-terminated, 1 to 64;
 * ignored otherwise. */
typedef enum {
    TCRYPTO_CERT_CA = 0,
    TCRYPTO_CERT_SERVER,
    TCRYPTO_CERT_CLIENT,
} tcrypto_cert_kind;

typedef struct {
    tcrypto_cert_kind kind;
    const char *common_name;
    const char *const *names;  /* server: subjectAltNames */
    int days;
    const char *ca_cert_file;  /* issuer (NULL for a CA: self-signed) */
    const char *ca_key_file;
    const char *cert_out;      /* PEM files written */
    const char *key_out;
} tcrypto_cert_req;

/* TCRYPTO_OK, or an error with *why (may be NULL) a static message:
 * TCRYPTO_ERR_ARG for bad input (name, days, paths, an issuer that is not a
 * CA or whose key does not match, an output that exists), another code when
 * generating or writing failed. */
tcrypto_rc tcrypto_cert_make(const tcrypto_cert_req *req, const char **why) TC_MUST_CHECK;

#endif
