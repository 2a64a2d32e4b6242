/*
 * One connection of the remote channel to one tesserad endpoint: connect,
 * TLS handshake, HELLO, and request/response exchanges (svc_int.h).
 *
 * The socket is non-blocking and every wait is a poll() against the call's
 * deadline, so one timeout covers a connect that hangs, a handshake that
 * stalls and a daemon that never answers. TLS (crypto/tcrypto_tls.h) is
 * non-blocking too: its WANT_READ / WANT_WRITE say which way to poll.
 * Nothing here raises SIGPIPE in the host application: plain sockets are
 * written with MSG_NOSIGNAL, and so are TLS records (crypto/tls.c's BIO).
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto/tcrypto_tls.h"
#include "service/svc_int.h"

#define LOG "remote"

/* Bytes taken by the first read of a response: a common answer whole. */
#define RESPONSE_FIRST_READ 4096u

/* ---- deadlines --------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1: no deadline */
static int64_t deadline_in(int timeout_ms)
{
    return timeout_ms > 0 ? now_ms() + timeout_ms : -1;
}

static void set_why(tsvc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(tsvc_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
}

static void set_why_errno(tsvc_conn *c, const char *what, int err)
{
    char eb[64];
    set_why(c, "%s: %s", what, strerror_r(err, eb, sizeof(eb)));
}

/* Wait until fd is ready for events or the deadline passes. Readiness
 * includes POLLHUP/POLLERR: the I/O call that follows reports them. */
static bool wait_fd(tsvc_conn *c, short events, int64_t deadline)
{
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                set_why(c, "timed out");
                return false;
            }
            ms = left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd p = {.fd = c->fd, .events = events};
        int n = poll(&p, 1, ms);
        if (n > 0) {
            return true;
        }
        if (n < 0 && errno != EINTR) {
            set_why_errno(c, "poll", errno);
            return false;
        }
    }
}

/* ---- reading and writing ------------------------------------------------------- */

static bool tls_wait(tsvc_conn *c, tcrypto_tls_rc rc, int64_t deadline, const char *what)
{
    switch (rc) {
    case TCRYPTO_TLS_WANT_READ:
        return wait_fd(c, POLLIN, deadline);
    case TCRYPTO_TLS_WANT_WRITE:
        return wait_fd(c, POLLOUT, deadline);
    case TCRYPTO_TLS_CLOSED:
        set_why(c, "%s: connection closed by the server", what);
        return false;
    default:
        set_why(c, "%s: %s", what, tcrypto_tls_error(c->tls));
        return false;
    }
}

static bool write_all(tsvc_conn *c, const uint8_t *p, size_t len, int64_t deadline)
{
    while (len > 0) {
        if (c->tls != NULL) {
            size_t n = 0;
            tcrypto_tls_rc rc = tcrypto_tls_write(c->tls, p, len, &n);
            if (rc == TCRYPTO_TLS_OK) {
                p += n;
                len -= n;
            } else if (!tls_wait(c, rc, deadline, "send")) {
                return false;
            }
            continue;
        }
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(c, POLLOUT, deadline)) {
                return false;
            }
        } else if (n < 0 && errno != EINTR) {
            set_why_errno(c, "send", errno);
            return false;
        }
    }
    return true;
}

/* Exactly len bytes. */
static bool read_exact(tsvc_conn *c, uint8_t *p, size_t len, int64_t deadline)
{
    while (len > 0) {
        if (c->tls != NULL) {
            size_t n = 0;
            tcrypto_tls_rc rc = tcrypto_tls_read(c->tls, p, len, &n);
            if (rc == TCRYPTO_TLS_OK) {
                p += n;
                len -= n;
            } else if (!tls_wait(c, rc, deadline, "receive")) {
                return false;
            }
            continue;
        }
        ssize_t n = recv(c->fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n == 0) {
            set_why(c, "connection closed by the server");
            return false;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_fd(c, POLLIN, deadline)) {
                return false;
            }
        } else if (errno != EINTR) {
            set_why_errno(c, "receive", errno);
            return false;
        }
    }
    return true;
}

static bool in_reserve(tsvc_conn *c, size_t need)
{
    if (c->in_cap >= need) {
        return true;
    }
    size_t cap = c->in_cap ? c->in_cap : 4096;
    while (cap < need) {
        cap *= 2;
    }
    /* The old block was wiped after its last use: free() is enough. */
    uint8_t *p = malloc(cap);
    if (p == NULL) {
        return false;
    }
    free(c->in);
    c->in = p;
    c->in_cap = cap;
    return true;
}

/* Plain socket: wait for the answer, then take with one recv() as much of
 * it as the buffer holds (a common answer whole). *got: bytes read. */
static bool recv_first(tsvc_conn *c, int64_t deadline, size_t *got)
{
    for (;;) {
        /* The answer is rarely there right after the request went out:
         * wait first rather than spend a recv() on EAGAIN. */
        if (!wait_fd(c, POLLIN, deadline)) {
            return false;
        }
        ssize_t n = recv(c->fd, c->in, c->in_cap, 0);
        if (n > 0) {
            *got = (size_t)n;
            return true;
        }
        if (n == 0) {
            set_why(c, "connection closed by the server");
            return false;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            set_why_errno(c, "receive", errno);
            return false;
        }
    }
}

/* Read one response frame for (op, id) into c->in; *frame_len its size.
 * The daemon answers one request at a time, so nothing may follow the
 * frame: bytes after it are a protocol error. */
static bool read_response(tsvc_conn *c, uint16_t op, uint32_t id, size_t *frame_len,
                          int64_t deadline)
{
    tproto_header h;
    size_t flen = 0, got = 0;
    if (!in_reserve(c, RESPONSE_FIRST_READ)) {
        set_why(c, "out of memory");
        return false;
    }
    if (c->tls == NULL) {
        if (!recv_first(c, deadline, &got)) {
            return false;
        }
        if (got < TPROTO_HEADER_LEN &&
            !read_exact(c, c->in + got, TPROTO_HEADER_LEN - got, deadline)) {
            tc_wipe(c->in, got);
            return false;
        }
        if (got < TPROTO_HEADER_LEN) {
            got = TPROTO_HEADER_LEN;
        }
    } else {
        /* TLS may hold decrypted bytes the fd does not show: read first */
        if (!read_exact(c, c->in, TPROTO_HEADER_LEN, deadline)) {
            return false;
        }
        got = TPROTO_HEADER_LEN;
    }
    tproto_status st = tproto_header_parse(c->in, TPROTO_HEADER_LEN, &h, &flen);
    if (st != TPROTO_OK) {
        set_why(c, "malformed response header (%s)", tproto_status_name(st));
        tc_wipe(c->in, got);
        return false;
    }
    if (h.kind != TPROTO_RESPONSE || h.op != op || h.id != id) {
        set_why(c, "response to another request (op %u id %u, expected op %u id %u)",
                (unsigned)h.op, (unsigned)h.id, (unsigned)op, (unsigned)id);
        tc_wipe(c->in, got);
        return false;
    }
    if (got > flen) {
        set_why(c, "%zu unexpected bytes after the response", got - flen);
        tc_wipe(c->in, got);
        return false;
    }
    if (flen > c->in_cap) {
        /* a long answer: keep what came, read the rest */
        uint8_t *old = c->in;
        size_t old_cap = c->in_cap;
        c->in = NULL;
        c->in_cap = 0;
        if (!in_reserve(c, flen)) {
            c->in = old;
            c->in_cap = old_cap;
            tc_wipe(c->in, got);
            set_why(c, "out of memory");
            return false;
        }
        memcpy(c->in, old, got);
        tc_freezero(old, old_cap);
    }
    if (!read_exact(c, c->in + got, flen - got, deadline)) {
        tc_wipe(c->in, flen);
        return false;
    }
    *frame_len = flen;
    return true;
}

/* Start a request frame in c->out (emptied first). */
static uint32_t begin_request(tsvc_conn *c, uint16_t op)
{
    if (c->out.failed) {
        tc_buf_free(&c->out);
    }
    c->out.len = 0;
    uint32_t id = c->next_id++;
    tproto_frame_begin(&c->out, TPROTO_REQUEST, op, id);
    return id;
}

static void wipe_out(tsvc_conn *c)
{
    if (c->out.p != NULL) {
        tc_wipe(c->out.p, c->out.len);
    }
    c->out.len = 0;
}

/* ---- connecting -------------------------------------------------------------------- */

/* A non-blocking connect finished by poll: true once connected. */
static bool finish_connect(tsvc_conn *c, int64_t deadline)
{
    if (!wait_fd(c, POLLOUT, deadline)) {
        return false;
    }
    int err = 0;
    socklen_t elen = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
        err = errno;
    }
    if (err != 0) {
        set_why_errno(c, "connect", err);
        return false;
    }
    return true;
}

static bool connect_unix(tsvc_conn *c, const tsvc_remote_ep *e, int64_t deadline)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t n = strlen(e->host);
    if (n >= sizeof(sa.sun_path)) {
        set_why(c, "socket path too long");
        return false;
    }
    memcpy(sa.sun_path, e->host, n + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        set_why_errno(c, "socket", errno);
        return false;
    }
    for (;;) {
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return true;
        }
        if (errno == EINPROGRESS || errno == EINTR) {
            return finish_connect(c, deadline);
        }
        /* A Unix socket with a full backlog says EAGAIN, and poll cannot
         * tell when it has room: retry a little later until the deadline. */
        if (errno == EAGAIN && (deadline < 0 || now_ms() + 10 < deadline)) {
            poll(NULL, 0, 10);
            continue;
        }
        set_why_errno(c, "connect", errno);
        return false;
    }
}

static bool connect_tcp(tsvc_conn *c, const tsvc_remote_ep *e, int64_t deadline)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    /* getaddrinfo has no timeout of its own; a name that takes the resolver
     * long is rare next to a daemon that stops answering. */
    int gai = getaddrinfo(e->host, e->port, &hints, &res);
    if (gai != 0) {
        set_why(c, "cannot resolve %s: %s", e->host, gai_strerror(gai));
        return false;
    }
    bool ok = false;
    for (struct addrinfo *ai = res; ai != NULL && !ok; ai = ai->ai_next) {
        if (c->fd >= 0) {
            close(c->fd);
        }
        c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai->ai_protocol);
        if (c->fd < 0) {
            set_why_errno(c, "socket", errno);
            continue;
        }
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ok = true;
        } else if (errno == EINPROGRESS || errno == EINTR) {
            ok = finish_connect(c, deadline);
        } else {
            set_why_errno(c, "connect", errno);
        }
    }
    freeaddrinfo(res);
    if (ok) {
        int one = 1;
        /* Requests are small and answered one by one: Nagle would hold each
         * back for the previous one's acknowledgement. */
        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
            TC_DEBUG(LOG, "%s: TCP_NODELAY not set", e->url);
        }
    }
    return ok;
}

static bool handshake(tsvc_conn *c, const tsvc_remote_ep *e, int64_t deadline)
{
    c->tls = tcrypto_tls_new(e->tls, c->fd);
    if (c->tls == NULL) {
        set_why(c, "TLS: out of memory");
        return false;
    }
    for (;;) {
        tcrypto_tls_rc rc = tcrypto_tls_handshake(c->tls);
        if (rc == TCRYPTO_TLS_OK) {
            return true;
        }
        if (!tls_wait(c, rc, deadline, "TLS handshake")) {
            return false;
        }
    }
}

static tsvc_conn_rc hello(tsvc_conn *c, const tsvc_remote_ep *e,
                          const uint8_t app_id[TPROTO_APP_ID_LEN], int64_t deadline)
{
    tproto_hello h;
    tproto_hello_reply reply;
    size_t flen = 0;
    tproto_hello_init(&h, app_id);
    uint32_t id = begin_request(c, TPROTO_OP_HELLO);
    bool ok = tproto_hello_encode(&c->out, &h);
    ok = tproto_frame_end(&c->out, 0) && ok;
    if (!ok) {
        wipe_out(c);
        set_why(c, "out of memory");
        return TSVC_CONN_IO;
    }
    ok = write_all(c, c->out.p, c->out.len, deadline);
    wipe_out(c);
    if (!ok || !read_response(c, TPROTO_OP_HELLO, id, &flen, deadline)) {
        return TSVC_CONN_IO;
    }
    memset(&reply, 0, sizeof(reply));
    tproto_status st = tproto_hello_reply_decode(c->in + TPROTO_HEADER_LEN,
                                                 flen - TPROTO_HEADER_LEN, &reply);
    tc_wipe(c->in, flen);
    if (st != TPROTO_OK) {
        set_why(c, "malformed HELLO reply (%s)", tproto_status_name(st));
        return TSVC_CONN_IO;
    }
    reply.server[sizeof(reply.server) - 1] = '\0';
    if (reply.rv != CKR_OK) {
        TC_ERROR(LOG, "%s refused the connection: 0x%lx (%s)", e->url,
                 (unsigned long)reply.rv, reply.server[0] ? reply.server : "no server name");
        set_why(c, "HELLO refused: 0x%lx", (unsigned long)reply.rv);
        return TSVC_CONN_REFUSED;
    }
    TC_DEBUG(LOG, "%s: connected to %s, protocol %u", e->url,
             reply.server[0] ? reply.server : "tesserad", (unsigned)reply.version);
    return TSVC_CONN_OK;
}

tsvc_conn_rc tsvc_conn_open(tsvc_conn *c, const tsvc_remote_ep *e,
                            const uint8_t app_id[TPROTO_APP_ID_LEN], int timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->next_id = 1;
    tc_buf_init(&c->out);

    tsvc_conn_rc rc = TSVC_CONN_IO;
    bool ok = e->port == NULL ? connect_unix(c, e, deadline_in(timeout_ms))
                              : connect_tcp(c, e, deadline_in(timeout_ms));
    if (ok && e->tls != NULL) {
        ok = handshake(c, e, deadline_in(timeout_ms));
    }
    if (ok) {
        rc = hello(c, e, app_id, deadline_in(timeout_ms));
    }
    return rc;
}

/* ---- requests ---------------------------------------------------------------------- */

tsvc_conn_rc tsvc_conn_exchange(tsvc_conn *c, uint16_t op, tproto_arg *args, tproto_err *err,
                                int timeout_ms, CK_RV *rv)
{
    int64_t deadline = deadline_in(timeout_ms);
    size_t flen = 0;
    if (c->fd < 0) {
        set_why(c, "not connected");
        return TSVC_CONN_IO;
    }
    uint32_t id = begin_request(c, op);
    bool ok = tproto_request_encode(&c->out, op, args);
    ok = tproto_frame_end(&c->out, 0) && ok;
    if (!ok) {
        *rv = c->out.failed ? CKR_HOST_MEMORY : CKR_ARGUMENTS_BAD;
        wipe_out(c);
        /* the id was not used: the next request may take it */
        c->next_id = id;
        return TSVC_CONN_LOCAL;
    }

    ok = write_all(c, c->out.p, c->out.len, deadline);
    wipe_out(c);
    ok = ok && read_response(c, op, id, &flen, deadline);
    if (!ok) {
        return TSVC_CONN_IO;
    }
    tproto_status st = tproto_response_decode(c->in + TPROTO_HEADER_LEN,
                                              flen - TPROTO_HEADER_LEN, op, err, args);
    tc_wipe(c->in, flen);
    if (st != TPROTO_OK) {
        set_why(c, "malformed response (%s)", tproto_status_name(st));
        return TSVC_CONN_IO;
    }
    return TSVC_CONN_OK;
}

/* ---- closing ----------------------------------------------------------------------- */

void tsvc_conn_close(tsvc_conn *c, bool graceful)
{
    if (c->tls != NULL) {
        if (graceful && c->fd >= 0) {
            tcrypto_tls_shutdown(c->tls);
        }
        tcrypto_tls_free(c->tls);
        c->tls = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    tc_buf_free(&c->out);
    tc_freezero(c->in, c->in_cap);
    c->in = NULL;
    c->in_cap = 0;
}

void tsvc_conn_shutdown(tsvc_conn *c)
{
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_RDWR);
    }
}

void tsvc_conn_forget(tsvc_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}
