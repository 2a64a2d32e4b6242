/*
 * tesserad's event loop: accepting, reading and framing, the epoll
 * interest of every connection (backpressure), flushing what workers could
 * not write, timeouts, signals and reload, and closing. See daemon.h for
 * the threads and locks.
 *
 * epoll is used directly, level-triggered: one loop, no dependency, and
 * the edge cases (a hung-up peer, a TLS record decrypted but not read,
 * EMFILE on accept) stay in this file (docs/decisions.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"

#define RBUF_MIN 4096u
#define SCRATCH_LEN (64u * 1024u)
#define WBUF_KEEP (64u * 1024u)   /* a write buffer larger than this is freed once empty */
#define READ_ROUNDS 16
#define DRAIN_MS 30000u
#define MAX_EVENTS 256

/* epoll tags for the fds that are not connections (pointers are larger) */
enum { TAG_UNIX = 1, TAG_TLS, TAG_SIGNAL, TAG_WAKE };

struct dserver {
    tcore *core;
    tc_conf *conf;
    const char *conf_path;
    dconf d;
    char *unix_path;      /* the socket to unlink at the end */
    dlimits lim;
    dapps *apps;
    dworkers *workers;
    int ep, sig_fd, wake_fd, unix_fd, tls_fd, spare_fd;
    tcrypto_tls_ctx *tls_ctx;
    dconn *conns;
    dconn *graveyard;     /* closed during this epoll batch, freed after it */
    unsigned nconns;
    uint64_t next_id;
    pthread_mutex_t inbox_mu;
    dconn *inbox;
    bool stopping, forced;
    uint64_t drain_deadline;
    uint8_t *scratch;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

tcore *dserver_core(dserver *s)
{
    return s->core;
}

dapps *dserver_apps(dserver *s)
{
    return s->apps;
}

const dlimits *dserver_limits(const dserver *s)
{
    return &s->lim;
}

static void limits_apply(dlimits *l, const dconf *d)
{
    atomic_store(&l->max_connections, d->max_connections);
    atomic_store(&l->max_sessions, d->max_sessions);
    atomic_store(&l->max_inflight, d->max_inflight);
    atomic_store(&l->idle_timeout, d->idle_timeout);
    atomic_store(&l->read_timeout, d->read_timeout);
    atomic_store(&l->handshake_timeout, d->handshake_timeout);
}

/* ---- the write side (shared with the workers, under c->mu) ------------------------ */

size_t dconn_pending_locked(const dconn *c)
{
    return (c->wbuf.len - c->woff) + c->wmore.len;
}

bool dconn_write_full_locked(const dconn *c)
{
    return dconn_pending_locked(c) > 2u * TPROTO_MAX_FRAME;
}

bool dconn_full_locked(const dconn *c)
{
    return c->nq >= atomic_load(&c->srv->lim.max_inflight) || dconn_write_full_locked(c);
}

static void mark_dead_locked(dconn *c, const char *reason)
{
    if (!c->dead && c->close_reason == NULL)
        c->close_reason = reason;
    c->dead = true;
    c->rd_stop = true;
    c->discard = true;
}

bool dconn_flush_locked(dconn *c)
{
    if (c->dead)
        return false;
    for (;;) {
        if (c->woff == c->wbuf.len) {
            /* responses can hold key material (wrapped keys, random bytes) */
            tc_wipe(c->wbuf.p, c->wbuf.len);
            c->wbuf.len = 0;
            c->woff = 0;
            if (c->wmore.len == 0)
                break;
            tc_buf t = c->wbuf;
            c->wbuf = c->wmore;
            c->wmore = t;
            continue;
        }
        size_t n = c->wbuf.len - c->woff, k = 0;
        if (c->tp == DT_TLS) {
            /* A TLS write that wanted the socket is retried with the same
             * bytes (OpenSSL requires it); later responses wait in wmore. */
            if (c->tls_wpend != 0)
                n = c->tls_wpend;
            tcrypto_tls_rc rc = tcrypto_tls_write(c->tls, c->wbuf.p + c->woff, n, &k);
            if (rc == TCRYPTO_TLS_WANT_WRITE || rc == TCRYPTO_TLS_WANT_READ) {
                c->tls_wpend = n;
                c->wr_want_read = rc == TCRYPTO_TLS_WANT_READ;
                break;
            }
            if (rc != TCRYPTO_TLS_OK) {
                mark_dead_locked(c, "write_error");
                return false;
            }
            c->tls_wpend = 0;
            c->wr_want_read = false;
        } else {
            ssize_t w = send(c->fd, c->wbuf.p + c->woff, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                mark_dead_locked(c, "write_error");
                return false;
            }
            k = (size_t)w;
        }
        c->woff += k;
        c->t_active = now_ms();
    }
    if (c->wbuf.len == 0 && c->wbuf.cap > WBUF_KEEP) {
        tc_buf_free(&c->wbuf);
        tc_buf_init(&c->wbuf);
    }
    if (c->wmore.len == 0 && c->wmore.cap > WBUF_KEEP) {
        tc_buf_free(&c->wmore);
        tc_buf_init(&c->wmore);
    }
    return true;
}

void dserver_notify_locked(dserver *s, dconn *c)
{
    if (c->in_inbox)
        return;
    c->in_inbox = true;
    pthread_mutex_lock(&s->inbox_mu);
    bool was_empty = s->inbox == NULL;
    c->inbox_next = s->inbox;
    s->inbox = c;
    pthread_mutex_unlock(&s->inbox_mu);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w = write(s->wake_fd, &one, sizeof(one));
        (void)w; /* a full counter still wakes the loop */
    }
}

/* ---- connections --------------------------------------------------------------------- */

static void frame_free(dframe *f)
{
    if (f == NULL)
        return;
    tc_freezero(f->data, f->cap);
    free(f);
}

static void drop_frames_locked(dconn *c)
{
    while (c->qhead != NULL) {
        dframe *f = c->qhead;
        c->qhead = f->next;
        frame_free(f);
    }
    c->qtail = NULL;
    c->nq = 0;
}

static const char *transport_name(dtransport t)
{
    return t == DT_TLS ? "tls" : "unix";
}

static void ep_set(dserver *s, dconn *c, uint32_t ev)
{
    if (ev == c->ev)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (c->ev == 0)
        (void)epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &e);
    else if (ev == 0)
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    else
        (void)epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->ev = ev;
}

/* Free a connection no worker holds. */
static void conn_close(dserver *s, dconn *c)
{
    ep_set(s, c, 0);
    if (c->opened_logged) {
        dlog_line l;
        if (dlog_begin(&l, TC_LOG_INFO, "conn_close")) {
            dlog_u64(&l, "conn", c->id);
            dlog_str(&l, "transport", transport_name(c->tp));
            dlog_str(&l, "reason", c->close_reason != NULL ? c->close_reason : "closed");
            dlog_u64(&l, "requests", c->served);
            dlog_end(&l);
        }
    }
    if (c->tls != NULL) {
        if (!c->dead && c->hs_done)
            tcrypto_tls_shutdown(c->tls);
        tcrypto_tls_free(c->tls);
    }
    close(c->fd);
    /* The last connection of an application frees it: its sessions close,
     * its logins end (a killed client's state goes with it). */
    dapps_release(s->apps, c->app);
    drop_frames_locked(c);
    tc_freezero(c->rbuf, c->rcap);
    tc_buf_free(&c->wbuf);
    tc_buf_free(&c->wmore);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    c->closed = true;
    c->prev = NULL;
    c->next = s->graveyard;
    s->graveyard = c;
}

/* Free the connections closed during an epoll batch. */
static void bury(dserver *s)
{
    while (s->graveyard != NULL) {
        dconn *c = s->graveyard;
        s->graveyard = c->next;
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
}

static void conn_read(dserver *s, dconn *c);

/* One pass of conn_update; *read_more: there are bytes to take that
 * epoll will not announce. */
static bool conn_update_once(dserver *s, dconn *c, bool *read_more_out)
{
    pthread_mutex_lock(&c->mu);
    if (c->discard)
        drop_frames_locked(c);
    size_t pending = dconn_pending_locked(c);
    if (!c->scheduled && !c->in_inbox &&
        (c->dead || (c->rd_stop && c->nq == 0 && pending == 0))) {
        pthread_mutex_unlock(&c->mu);
        conn_close(s, c);
        return false;
    }
    if (!c->scheduled && c->nq > 0 && !c->dead && !dconn_write_full_locked(c)) {
        /* a worker stopped on a full write buffer: it has drained */
        c->scheduled = true;
        dworkers_submit(s->workers, c);
    }
    uint32_t ev = 0;
    bool read_more = false;
    if (!c->dead) {
        if (c->tp == DT_TLS && !c->hs_done) {
            ev = c->hs_want_write ? EPOLLOUT : EPOLLIN;
        } else {
            bool full = dconn_full_locked(c);
            c->paused = full && !c->rd_stop;
            bool in = !c->rd_stop && !full;
            if (in || (pending > 0 && c->wr_want_read))
                ev |= EPOLLIN;
            if (pending > 0 || c->rd_want_write)
                ev |= EPOLLOUT;
            /* frames held back in the read buffer, and decrypted bytes:
             * epoll will not announce either */
            read_more = in && (c->rheld || (c->tls != NULL && tcrypto_tls_pending(c->tls) > 0));
        }
    }
    c->out_armed = (ev & EPOLLOUT) != 0;
    pthread_mutex_unlock(&c->mu);
    /* A dead connection leaves epoll at once: a hung-up socket would wake
     * the loop until the worker that holds it lets go. */
    ep_set(s, c, ev);
    *read_more_out = read_more;
    return true;
}

/* Bring c's epoll interest and its pause in line with its state, or close
 * it once nothing is left to do. Returns false when c was freed. Reading
 * held-back frames changes the state again, so the pass is repeated: the
 * pause a worker looks at must be the one computed last. */
static bool conn_update(dserver *s, dconn *c)
{
    for (int pass = 0; pass < 8; pass++) {
        bool read_more = false;
        if (!conn_update_once(s, c, &read_more))
            return false;
        if (!read_more)
            return true;
        conn_read(s, c);
    }
    bool read_more;
    return conn_update_once(s, c, &read_more);
}

/* The bytes at buf hold complete frames and maybe the start of one: queue
 * the complete ones. Returns the bytes consumed, or -1 for a malformed
 * header (logged). from_rbuf: buf is c->rbuf, which a frame filling it
 * exactly takes over instead of copying. */
static long take_frames(dserver *s, dconn *c, uint8_t *buf, size_t len, bool from_rbuf,
                        bool *held)
{
    size_t off = 0;
    dframe *head = NULL, *tail = NULL;
    unsigned n = 0;
    tproto_status st = TPROTO_OK;
    /* Queue no more than max_inflight: the rest stays in the read buffer
     * (at most one scratch read of it) until the workers catch up. */
    pthread_mutex_lock(&c->mu);
    unsigned max = atomic_load(&s->lim.max_inflight);
    unsigned room = c->nq < max ? max - c->nq : 0;
    pthread_mutex_unlock(&c->mu);
    *held = false;
    while (len - off >= TPROTO_HEADER_LEN) {
        tproto_header h;
        size_t flen = 0;
        st = tproto_header_parse(buf + off, len - off, &h, &flen);
        if (st == TPROTO_NEED_MORE) {
            st = TPROTO_OK;
            break;
        }
        if (st == TPROTO_OK && h.kind != TPROTO_REQUEST)
            st = TPROTO_EMALFORMED;
        if (st != TPROTO_OK)
            break;
        if (len - off < flen)
            break;
        if (n >= room) {
            *held = true;
            break;
        }
        dframe *f = calloc(1, sizeof(*f));
        if (f == NULL) {
            st = TPROTO_ENOMEM;
            break;
        }
        f->h = h;
        f->len = flen;
        if (from_rbuf && off == 0 && flen == len) {
            f->data = c->rbuf;
            f->cap = c->rcap;
            c->rbuf = NULL;
            c->rcap = 0;
            c->rlen = 0;
        } else {
            f->data = malloc(flen);
            if (f->data == NULL) {
                free(f);
                st = TPROTO_ENOMEM;
                break;
            }
            f->cap = flen;
            memcpy(f->data, buf + off, flen);
        }
        if (tail != NULL)
            tail->next = f;
        else
            head = f;
        tail = f;
        n++;
        off += flen;
    }
    if (head != NULL) {
        pthread_mutex_lock(&c->mu);
        if (c->discard) {
            pthread_mutex_unlock(&c->mu);
            while (head != NULL) {
                dframe *f = head;
                head = f->next;
                frame_free(f);
            }
        } else {
            if (c->qtail != NULL)
                c->qtail->next = head;
            else
                c->qhead = head;
            c->qtail = tail;
            c->nq += n;
            c->t_active = now_ms();
            if (!c->scheduled) {
                c->scheduled = true;
                dworkers_submit(s->workers, c);
            }
            pthread_mutex_unlock(&c->mu);
        }
    }
    if (st != TPROTO_OK) {
        dlog_line l;
        if (dlog_begin(&l, TC_LOG_WARN, "bad_frame")) {
            dlog_u64(&l, "conn", c->id);
            dlog_str(&l, "principal", c->principal);
            dlog_str(&l, "reason", tproto_status_name(st));
            dlog_end(&l);
        }
        pthread_mutex_lock(&c->mu);
        mark_dead_locked(c, st == TPROTO_ENOMEM ? "out_of_memory" : "bad_frame");
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    return (long)off;
}

typedef enum { RD_DATA, RD_AGAIN, RD_EOF, RD_ERROR } rd_rc;

/* *more: TLS bytes already decrypted wait behind this read. */
static rd_rc conn_recv(dconn *c, uint8_t *dst, size_t room, size_t *got, bool *more)
{
    *more = false;
    if (c->tp == DT_TLS) {
        pthread_mutex_lock(&c->mu);
        tcrypto_tls_rc rc = tcrypto_tls_read(c->tls, dst, room, got);
        c->rd_want_write = rc == TCRYPTO_TLS_WANT_WRITE;
        *more = rc == TCRYPTO_TLS_OK && tcrypto_tls_pending(c->tls) > 0;
        pthread_mutex_unlock(&c->mu);
        switch (rc) {
        case TCRYPTO_TLS_OK: return *got > 0 ? RD_DATA : RD_AGAIN;
        case TCRYPTO_TLS_WANT_READ:
        case TCRYPTO_TLS_WANT_WRITE: return RD_AGAIN;
        case TCRYPTO_TLS_CLOSED: return RD_EOF;
        default: return RD_ERROR;
        }
    }
    for (;;) {
        ssize_t n = recv(c->fd, dst, room, MSG_DONTWAIT);
        if (n > 0) {
            *got = (size_t)n;
            return RD_DATA;
        }
        if (n == 0)
            return RD_EOF;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? RD_AGAIN : RD_ERROR;
    }
}

/* Queue the complete frames held in the read buffer; false when the
 * connection failed. */
static bool parse_rbuf(dserver *s, dconn *c)
{
    bool held = false;
    long used = take_frames(s, c, c->rbuf, c->rlen, true, &held);
    if (used < 0)
        return false;
    if (used > 0 && c->rbuf != NULL) {
        size_t left = c->rlen - (size_t)used;
        memmove(c->rbuf, c->rbuf + used, left);
        tc_wipe(c->rbuf + left, (size_t)used);
        c->rlen = left;
    }
    if (c->rlen == 0 && c->rbuf != NULL) {
        tc_freezero(c->rbuf, c->rcap);
        c->rbuf = NULL;
        c->rcap = 0;
    }
    c->rheld = held;
    /* the read timeout runs only while the peer owes the rest of a frame */
    if (c->rlen == 0 || held)
        c->t_partial = 0;
    else if (used > 0 || c->t_partial == 0)
        c->t_partial = now_ms();
    return true;
}

/* Read what the socket has (a bounded number of rounds: level-triggered
 * epoll calls again) and queue the complete frames. The read buffer holds
 * a partial frame (and, under backpressure, frames not queued yet) and
 * grows only as bytes arrive, never from the length a header declares;
 * an idle connection holds none. */
static void conn_read(dserver *s, dconn *c)
{
    if (c->rlen > 0 && !parse_rbuf(s, c))
        return;
    for (int round = 0; round < READ_ROUNDS; round++) {
        pthread_mutex_lock(&c->mu);
        bool stop = c->rd_stop || c->dead || dconn_full_locked(c);
        pthread_mutex_unlock(&c->mu);
        if (stop)
            return;

        uint8_t *dst;
        size_t room;
        if (c->rlen > 0) {
            if (c->rlen == c->rcap) {
                size_t ncap = c->rcap * 2 < TPROTO_MAX_FRAME ? c->rcap * 2 : TPROTO_MAX_FRAME;
                if (ncap <= c->rcap)
                    return; /* frames held back fill it: the workers will drain them */
                uint8_t *p = malloc(ncap);
                if (p == NULL) {
                    pthread_mutex_lock(&c->mu);
                    mark_dead_locked(c, "out_of_memory");
                    pthread_mutex_unlock(&c->mu);
                    return;
                }
                memcpy(p, c->rbuf, c->rlen);
                tc_freezero(c->rbuf, c->rcap);
                c->rbuf = p;
                c->rcap = ncap;
            }
            dst = c->rbuf + c->rlen;
            room = c->rcap - c->rlen;
        } else {
            dst = s->scratch;
            room = SCRATCH_LEN;
        }

        size_t got = 0;
        bool more = false;
        rd_rc rc = conn_recv(c, dst, room, &got, &more);
        if (rc == RD_AGAIN)
            return;
        if (rc != RD_DATA) {
            pthread_mutex_lock(&c->mu);
            if (rc == RD_EOF) {
                c->rd_stop = true;
                if (c->close_reason == NULL)
                    c->close_reason = "peer_closed";
            } else {
                mark_dead_locked(c, "read_error");
            }
            pthread_mutex_unlock(&c->mu);
            /* a partial frame will never complete; frames held back for
             * backpressure are dropped with it */
            tc_freezero(c->rbuf, c->rcap);
            c->rbuf = NULL;
            c->rcap = c->rlen = 0;
            c->rheld = false;
            c->t_partial = 0;
            return;
        }

        if (dst == s->scratch) {
            /* only the bytes that are not queued now are kept */
            bool held = false;
            long used = take_frames(s, c, s->scratch, got, false, &held);
            if (used >= 0 && (size_t)used < got) {
                size_t left = got - (size_t)used;
                size_t cap = left > RBUF_MIN ? left : RBUF_MIN;
                c->rbuf = malloc(cap);
                if (c->rbuf == NULL) {
                    pthread_mutex_lock(&c->mu);
                    mark_dead_locked(c, "out_of_memory");
                    pthread_mutex_unlock(&c->mu);
                    used = -1;
                } else {
                    c->rcap = cap;
                    memcpy(c->rbuf, s->scratch + used, left);
                    c->rlen = left;
                    c->rheld = held;
                    c->t_partial = held ? 0 : now_ms();
                }
            } else if (used >= 0) {
                c->t_partial = 0;
            }
            tc_wipe(s->scratch, got);
            if (used < 0)
                return;
        } else {
            c->rlen += got;
            if (!parse_rbuf(s, c))
                return;
        }

        if (got < room && !more)
            return;
    }
}

static void log_conn_open(dconn *c)
{
    c->opened_logged = true;
    dlog_line l;
    if (dlog_begin(&l, TC_LOG_INFO, "conn_open")) {
        dlog_u64(&l, "conn", c->id);
        dlog_str(&l, "transport", transport_name(c->tp));
        if (c->tp == DT_TLS)
            dlog_str(&l, "peer", c->peer);
        dlog_str(&l, "principal", c->principal);
        dlog_end(&l);
    }
}

static void tls_handshake(dserver *s, dconn *c)
{
    pthread_mutex_lock(&c->mu);
    tcrypto_tls_rc rc = tcrypto_tls_handshake(c->tls);
    pthread_mutex_unlock(&c->mu);
    if (rc == TCRYPTO_TLS_WANT_READ || rc == TCRYPTO_TLS_WANT_WRITE) {
        c->hs_want_write = rc == TCRYPTO_TLS_WANT_WRITE;
        return;
    }
    const char *why = NULL;
    if (rc != TCRYPTO_TLS_OK)
        why = tcrypto_tls_error(c->tls);
    else if (!tcrypto_tls_peer_subject(c->tls, c->principal, sizeof(c->principal)) ||
             c->principal[0] == '\0')
        why = "client certificate without a subject";
    if (why != NULL) {
        dlog_line l;
        if (dlog_begin(&l, TC_LOG_WARN, "tls_refused")) {
            dlog_str(&l, "peer", c->peer);
            dlog_str(&l, "reason", why);
            dlog_end(&l);
        }
        pthread_mutex_lock(&c->mu);
        mark_dead_locked(c, "tls_refused");
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->hs_done = true;
    c->hs_want_write = false;
    c->t_active = now_ms();
    log_conn_open(c);
    conn_read(s, c); /* the first request may have come with the handshake */
}

static void conn_event(dserver *s, dconn *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP)) {
        /* the peer is gone: answers could not be delivered */
        pthread_mutex_lock(&c->mu);
        mark_dead_locked(c, "peer_closed");
        pthread_mutex_unlock(&c->mu);
    } else if (c->tp == DT_TLS && !c->hs_done) {
        tls_handshake(s, c);
    } else {
        bool read_now = (events & EPOLLIN) != 0;
        if (events & EPOLLOUT) {
            read_now = read_now || c->rd_want_write;
        }
        pthread_mutex_lock(&c->mu);
        if (dconn_pending_locked(c) > 0 &&
            ((events & EPOLLOUT) || ((events & EPOLLIN) && c->wr_want_read)))
            (void)dconn_flush_locked(c);
        pthread_mutex_unlock(&c->mu);
        if (read_now)
            conn_read(s, c);
    }
    (void)conn_update(s, c);
}

static dconn *conn_new(dserver *s, int fd, dtransport tp)
{
    dconn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->srv = s;
    c->id = ++s->next_id;
    c->fd = fd;
    c->tp = tp;
    c->hs_done = tp == DT_UNIX;
    pthread_mutex_init(&c->mu, NULL);
    tc_buf_init(&c->wbuf);
    tc_buf_init(&c->wmore);
    c->t_open = c->t_active = now_ms();
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    return c;
}

static void peer_name(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t outlen)
{
    char host[64], serv[16]; /* numeric: an IPv6 address with a scope, a port */
    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, outlen, "?");
        return;
    }
    if (ss->ss_family == AF_INET6)
        snprintf(out, outlen, "[%s]:%s", host, serv);
    else
        snprintf(out, outlen, "%s:%s", host, serv);
}

static void on_accept(dserver *s, int lfd, dtransport tp)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
                /* Out of descriptors: take the connection with the spare
                 * one and close it, or level-triggered epoll would spin. */
                close(s->spare_fd);
                int t = accept(lfd, NULL, NULL);
                if (t >= 0)
                    close(t);
                s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                dlog_msg(TC_LOG_WARN, "conn_refused", "out of file descriptors");
                continue;
            }
            return;
        }
        if (s->nconns >= atomic_load(&s->lim.max_connections)) {
            dlog_line l;
            if (dlog_begin(&l, TC_LOG_WARN, "conn_refused")) {
                dlog_str(&l, "transport", transport_name(tp));
                dlog_str(&l, "reason", "max_connections");
                dlog_end(&l);
            }
            close(fd);
            continue;
        }
        dconn *c = conn_new(s, fd, tp);
        if (c == NULL) {
            close(fd);
            continue;
        }
        if (tp == DT_UNIX) {
            struct ucred cr;
            socklen_t cl = sizeof(cr);
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
                snprintf(c->principal, sizeof(c->principal), "uid=%u gid=%u pid=%d",
                         (unsigned)cr.uid, (unsigned)cr.gid, (int)cr.pid);
            else
                snprintf(c->principal, sizeof(c->principal), "uid=? gid=? pid=?");
            snprintf(c->peer, sizeof(c->peer), "local");
            log_conn_open(c);
            (void)conn_update(s, c);
        } else {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            peer_name(&ss, sl, c->peer, sizeof(c->peer));
            c->tls = tcrypto_tls_new(s->tls_ctx, fd);
            if (c->tls == NULL) {
                c->dead = true;
                c->close_reason = "out_of_memory";
                conn_close(s, c);
                continue;
            }
            tls_handshake(s, c);
            (void)conn_update(s, c);
        }
    }
}

/* ---- timers --------------------------------------------------------------------------- */

static void timeout_close(dserver *s, dconn *c, const char *kind)
{
    dlog_line l;
    if (dlog_begin(&l, TC_LOG_INFO, "timeout")) {
        dlog_u64(&l, "conn", c->id);
        dlog_str(&l, "kind", kind);
        if (c->tp == DT_TLS)
            dlog_str(&l, "peer", c->peer);
        dlog_end(&l);
    }
    pthread_mutex_lock(&c->mu);
    mark_dead_locked(c, "timeout");
    pthread_mutex_unlock(&c->mu);
    (void)conn_update(s, c);
}

static void timer_scan(dserver *s, uint64_t now)
{
    uint64_t idle = (uint64_t)atomic_load(&s->lim.idle_timeout) * 1000u;
    uint64_t rd = (uint64_t)atomic_load(&s->lim.read_timeout) * 1000u;
    uint64_t hs = (uint64_t)atomic_load(&s->lim.handshake_timeout) * 1000u;
    dconn *next;
    for (dconn *c = s->conns; c != NULL; c = next) {
        next = c->next;
        if (c->tp == DT_TLS && !c->hs_done) {
            if (now > c->t_open && now - c->t_open > hs)
                timeout_close(s, c, "handshake");
            continue;
        }
        pthread_mutex_lock(&c->mu);
        bool busy = c->scheduled || c->nq > 0;
        bool writing = dconn_pending_locked(c) > 0;
        /* a worker may have stamped it after `now` was read */
        uint64_t quiet = c->t_active < now ? now - c->t_active : 0;
        bool dead = c->dead;
        pthread_mutex_unlock(&c->mu);
        if (dead) {
            (void)conn_update(s, c);
        } else if (c->t_partial != 0 && now > c->t_partial && now - c->t_partial > rd) {
            timeout_close(s, c, "read");
        } else if (writing && !busy && quiet > rd) {
            /* a peer that stopped reading its answers */
            timeout_close(s, c, "write");
        } else if (idle != 0 && !busy && !writing && c->rlen == 0 && quiet > idle) {
            timeout_close(s, c, "idle");
        }
    }
}

/* ---- signals: stop and reload ------------------------------------------------------------- */

static void close_listeners(dserver *s)
{
    if (s->unix_fd >= 0) {
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, s->unix_fd, NULL);
        close(s->unix_fd);
        s->unix_fd = -1;
        if (s->unix_path != NULL)
            (void)unlink(s->unix_path);
    }
    if (s->tls_fd >= 0) {
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, s->tls_fd, NULL);
        close(s->tls_fd);
        s->tls_fd = -1;
    }
}

static void begin_stop(dserver *s, int signo)
{
    if (s->stopping) {
        /* a second signal: do not wait for answers any longer */
        s->drain_deadline = 0;
        return;
    }
    s->stopping = true;
    s->drain_deadline = now_ms() + DRAIN_MS;
    close_listeners(s);
    dlog_line l;
    if (dlog_begin(&l, TC_LOG_INFO, "drain")) {
        dlog_str(&l, "signal", signo == SIGINT ? "SIGINT" : "SIGTERM");
        dlog_u64(&l, "conns", s->nconns);
        dlog_end(&l);
    }
    dconn *next;
    for (dconn *c = s->conns; c != NULL; c = next) {
        next = c->next;
        pthread_mutex_lock(&c->mu);
        c->rd_stop = true;
        if (c->close_reason == NULL)
            c->close_reason = "shutdown";
        if (c->tp == DT_TLS && !c->hs_done)
            mark_dead_locked(c, "shutdown");
        pthread_mutex_unlock(&c->mu);
        (void)conn_update(s, c);
    }
}

static void force_stop(dserver *s)
{
    s->forced = true;
    dconn *next;
    for (dconn *c = s->conns; c != NULL; c = next) {
        next = c->next;
        pthread_mutex_lock(&c->mu);
        mark_dead_locked(c, "shutdown");
        pthread_mutex_unlock(&c->mu);
        (void)conn_update(s, c);
    }
}

static void reload(dserver *s)
{
    const char *why = NULL;
    char err[160];
    tc_conf *nc = NULL;
    tcrypto_tls_ctx *nctx = NULL;
    dconf nd;

    if (s->conf_path == NULL) {
        why = "no configuration file to read (dev mode)";
        goto out;
    }
    nc = tc_conf_load(s->conf_path, &why);
    if (nc == NULL)
        goto out;
    if (!dconf_parse(nc, &nd, err, sizeof(err))) {
        why = err;
        goto out;
    }
    if (s->tls_fd >= 0) {
        if (nd.listen_tls == NULL) {
            why = "listen_tls removed: listeners change only at restart";
            goto out;
        }
        tcrypto_tls_conf tc = {
            .cert_file = nd.tls_cert, .key_file = nd.tls_key, .ca_file = nd.tls_ca};
        const char *tw = NULL;
        nctx = tcrypto_tls_server_new(&tc, &tw);
        if (nctx == NULL) {
            snprintf(err, sizeof(err), "TLS: %s", tw != NULL ? tw : "cannot load");
            why = err;
            goto out;
        }
    }
    /* apply: the connections that exist keep their TLS context */
    if (nctx != NULL) {
        tcrypto_tls_ctx_free(s->tls_ctx);
        s->tls_ctx = nctx;
        nctx = NULL;
    }
    limits_apply(&s->lim, &nd);
    if (nd.have_log_level)
        tc_log_set_level(nd.log_level);
    dlog_setup(nd.log_format, nd.log_target);
    tc_conf_free(s->conf);
    s->conf = nc;
    s->d = nd;
    nc = NULL;
out:;
    dlog_line l;
    if (dlog_begin(&l, why == NULL ? TC_LOG_INFO : TC_LOG_ERROR, "reload")) {
        dlog_bool(&l, "ok", why == NULL);
        if (why != NULL)
            dlog_str(&l, "reason", why);
        dlog_end(&l);
    }
    tcrypto_tls_ctx_free(nctx);
    tc_conf_free(nc);
}

static void on_signal(dserver *s)
{
    struct signalfd_siginfo si;
    while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP)
            reload(s);
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            begin_stop(s, (int)si.ssi_signo);
    }
}

static void on_wake(dserver *s)
{
    uint64_t v;
    /* read the counter before taking the list: a notification made after
     * the take writes the eventfd again */
    ssize_t r = read(s->wake_fd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&s->inbox_mu);
    dconn *list = s->inbox;
    s->inbox = NULL;
    pthread_mutex_unlock(&s->inbox_mu);
    while (list != NULL) {
        dconn *c = list;
        list = c->inbox_next;
        pthread_mutex_lock(&c->mu);
        c->in_inbox = false;
        c->inbox_next = NULL;
        pthread_mutex_unlock(&c->mu);
        if (!conn_update(s, c))
            continue;
        /* resumed after backpressure: bytes may already wait */
        pthread_mutex_lock(&c->mu);
        bool can_read = !c->rd_stop && !c->dead && !dconn_full_locked(c);
        pthread_mutex_unlock(&c->mu);
        if (can_read && c->hs_done) {
            conn_read(s, c);
            (void)conn_update(s, c);
        }
    }
}

/* ---- the loop ------------------------------------------------------------------------------- */

static bool ep_add_tag(dserver *s, int fd, uint64_t tag)
{
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) == 0;
}

static void log_start(dserver *s)
{
    char listeners[600] = "";
    if (s->unix_fd >= 0)
        snprintf(listeners, sizeof(listeners), "unix:%s", s->unix_path);
    if (s->tls_fd >= 0) {
        size_t n = strlen(listeners);
        snprintf(listeners + n, sizeof(listeners) - n, "%stls:%s", n != 0 ? "," : "",
                 s->d.listen_tls);
    }
    dlog_line l;
    if (dlog_begin(&l, TC_LOG_INFO, "start")) {
        dlog_str(&l, "version", TESSERAD_VERSION);
        dlog_str(&l, "listeners", listeners);
        dlog_u64(&l, "workers", s->d.workers);
        dlog_u64(&l, "pid", (uint64_t)getpid());
        dlog_end(&l);
    }
}

int dserver_run(dserver_setup *setup)
{
    int ret = 1;
    dserver *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return 1;
    s->core = setup->core;
    s->conf = setup->conf;
    setup->conf = NULL;
    s->conf_path = setup->conf_path;
    s->d = setup->d;
    s->unix_fd = setup->unix_fd;
    s->tls_fd = setup->tls_fd;
    s->tls_ctx = setup->tls_ctx;
    setup->tls_ctx = NULL;
    s->ep = s->sig_fd = s->wake_fd = -1;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&s->inbox_mu, NULL);
    limits_apply(&s->lim, &s->d);
    if (s->unix_fd >= 0)
        s->unix_path = strdup(s->d.listen_unix);
    s->scratch = malloc(SCRATCH_LEN);
    s->apps = dapps_new(s->core);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->scratch == NULL || s->apps == NULL || s->ep < 0 || s->sig_fd < 0 ||
        s->wake_fd < 0 || (s->unix_fd >= 0 && s->unix_path == NULL) ||
        !ep_add_tag(s, s->sig_fd, TAG_SIGNAL) || !ep_add_tag(s, s->wake_fd, TAG_WAKE) ||
        (s->unix_fd >= 0 && !ep_add_tag(s, s->unix_fd, TAG_UNIX)) ||
        (s->tls_fd >= 0 && !ep_add_tag(s, s->tls_fd, TAG_TLS))) {
        dlog_msg(TC_LOG_ERROR, "start_failed", "cannot set up the event loop");
        goto out;
    }
    s->workers = dworkers_start(s, s->d.workers);
    if (s->workers == NULL) {
        dlog_msg(TC_LOG_ERROR, "start_failed", "cannot start the workers");
        goto out;
    }
    log_start(s);

    uint64_t next_tick = now_ms() + 1000;
    struct epoll_event evs[MAX_EVENTS];
    while (!(s->stopping && s->nconns == 0)) {
        uint64_t now = now_ms();
        int timeout = next_tick > now ? (int)(next_tick - now) : 0;
        int n = epoll_wait(s->ep, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            dlog_msg(TC_LOG_ERROR, "loop", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == TAG_UNIX) {
                on_accept(s, s->unix_fd, DT_UNIX);
            } else if (tag == TAG_TLS) {
                on_accept(s, s->tls_fd, DT_TLS);
            } else if (tag == TAG_SIGNAL) {
                on_signal(s);
            } else if (tag == TAG_WAKE) {
                on_wake(s);
            } else {
                dconn *c = evs[i].data.ptr;
                /* closed by an earlier event of this batch: its memory
                 * waits in the graveyard until the batch is done */
                if (!c->closed)
                    conn_event(s, c, evs[i].events);
            }
        }
        bury(s);
        now = now_ms();
        if (now >= next_tick) {
            timer_scan(s, now);
            next_tick = now + 1000;
        }
        if (s->stopping && !s->forced && now >= s->drain_deadline)
            force_stop(s);
        bury(s);
    }
    ret = 0;
    dlog_msg(TC_LOG_INFO, "stop", "connections closed, stopping");
out:
    dworkers_stop(s->workers);
    s->workers = NULL;
    /* with the workers gone nothing holds a connection any more */
    while (s->conns != NULL) {
        pthread_mutex_lock(&s->conns->mu);
        mark_dead_locked(s->conns, "shutdown");
        s->conns->scheduled = false;
        s->conns->in_inbox = false;
        pthread_mutex_unlock(&s->conns->mu);
        conn_close(s, s->conns);
    }
    bury(s);
    close_listeners(s);
    if (s->ep >= 0)
        close(s->ep);
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    tcrypto_tls_ctx_free(s->tls_ctx);
    dapps_free(s->apps);
    tc_conf_free(s->conf);
    free(s->unix_path);
    if (s->scratch != NULL)
        tc_freezero(s->scratch, SCRATCH_LEN);
    pthread_mutex_destroy(&s->inbox_mu);
    free(s);
    return ret;
}
