/*
 * tesserad's server threads: accepting, reading and framing, answering in
 * the thread that read (worker.c does the request), writing, the epoll
 * interest of every connection (backpressure), timeouts, signals and
 * reload, and closing. See daemon.h for the threads and locks.
 *
 * epoll is used directly, level-triggered and one-shot: no dependency,
 * and the edge cases (a hung-up peer, a TLS record decrypted but not read,
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
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"

#define RBUF_MIN 4096u
#define SCRATCH_LEN (64u * 1024u)
#define WBUF_KEEP (64u * 1024u)   /* a write buffer larger than this is freed once empty */
#define READ_ROUNDS 16
#define ACCEPT_BATCH 64
#define DRAIN_MS 30000u
#define MAX_EVENTS 64
#define WAIT_MS 1000              /* every thread passes its loop top this often */

/* epoll tags for the fds that are not connections (pointers are larger) */
enum { TAG_UNIX = 1, TAG_TLS, TAG_SIGNAL, TAG_TIMER, TAG_QUIT };

typedef struct {
    dserver *srv;
    pthread_t th;
    bool started;
    dworker *w;
    uint8_t *scratch;
    _Atomic uint64_t seen;  /* the close epoch read before its last epoll_wait */
} dthread;

struct dserver {
    tcore *core;
    const char *conf_path;
    dlimits lim;
    dapps *apps;
    int ep, sig_fd, timer_fd, quit_fd, spare_fd;
    atomic_bool quit;
    _Atomic uint64_t epoch;   /* closes so far */
    atomic_uint ngrave;       /* connections in the graveyard */
    unsigned nthreads;
    dthread *th;

    /* under mu */
    pthread_mutex_t mu;
    tc_conf *conf;
    dconf d;
    char *unix_path;      /* the socket to unlink at the end */
    int unix_fd, tls_fd;
    tcrypto_tls_ctx *tls_ctx;
    dconn *conns;
    dconn *graveyard;     /* closed, freed once no thread can name them */
    unsigned nconns;
    uint64_t next_id;
    bool stopping, forced;
    uint64_t drain_deadline;
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

static const char *transport_name(dtransport t)
{
    return t == DT_TLS ? "tls" : "unix";
}

static void mark_dead(dconn *c, const char *reason)
{
    if (!c->dead && c->close_reason == NULL)
        c->close_reason = reason;
    c->dead = true;
    c->rd_stop = true;
    c->discard = true;
}

/* ---- the write side (owner only) ------------------------------------------------- */

static size_t pending(const dconn *c)
{
    return (c->wbuf.len - c->woff) + c->wmore.len;
}

/* Answers wait for the peer to read (backpressure). */
static bool write_full(const dconn *c)
{
    return pending(c) > 2u * TPROTO_MAX_FRAME;
}

/* Write what is pending without blocking. False on an I/O error (c is then
 * dead). */
static bool flush(dconn *c)
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
                mark_dead(c, "write_error");
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
                mark_dead(c, "write_error");
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

/* Send an answer: a Unix connection with nothing pending is written from
 * the thread's buffer, without a copy; what the socket does not take
 * waits in the write buffer. */
static void conn_send(dconn *c, const uint8_t *p, size_t len)
{
    if (c->dead || len == 0)
        return;
    if (c->tp == DT_UNIX && pending(c) == 0) {
        while (len > 0) {
            ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                mark_dead(c, "write_error");
                return;
            }
            p += w;
            len -= (size_t)w;
        }
        if (len == 0)
            return;
    }
    tc_buf *b = c->tp == DT_TLS && c->tls_wpend != 0 ? &c->wmore : &c->wbuf;
    tc_buf_put(b, p, len);
    if (b->failed) {
        mark_dead(c, "out_of_memory");
        return;
    }
    (void)flush(c);
}

/* ---- connections ------------------------------------------------------------------ */

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

static void wake_all(dserver *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->quit_fd, &one, sizeof(one));
    (void)w; /* a full counter still wakes every thread */
}

/* Unlink c from the server's connection list (s->mu held). */
static void conn_list_remove_locked(dserver *s, dconn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
}

/* Close a connection its caller owns (c->closing set). Its memory waits in
 * the graveyard until no thread can hold it from an earlier epoll_wait. */
static void conn_close(dserver *s, dconn *c)
{
    if (c->ev != 0)
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->ev = 0;
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
        c->tls = NULL;
    }
    close(c->fd);
    c->fd = -1;
    /* The last connection of an application frees it: its sessions close,
     * its logins end (a killed client's state goes with it). */
    dapps_release(s->apps, c->app);
    c->app = NULL;
    tc_freezero(c->rbuf, c->rcap);
    c->rbuf = NULL;
    c->rcap = c->rlen = 0;
    tc_buf_free(&c->wbuf);
    tc_buf_free(&c->wmore);

    pthread_mutex_lock(&s->mu);
    conn_list_remove_locked(s, c);
    c->prev = NULL;
    c->grave_epoch = atomic_fetch_add(&s->epoch, 1) + 1;
    c->next = s->graveyard;
    s->graveyard = c;
    atomic_fetch_add(&s->ngrave, 1);
    bool done = s->stopping && s->nconns == 0;
    pthread_mutex_unlock(&s->mu);
    if (done) {
        atomic_store(&s->quit, true);
        wake_all(s);
    }
}

/* Free the closed connections no thread can name any more. */
static void bury(dserver *s, bool all)
{
    uint64_t min = UINT64_MAX;
    for (unsigned i = 0; i < s->nthreads && !all; i++) {
        uint64_t v = atomic_load(&s->th[i].seen);
        if (v < min)
            min = v;
    }
    pthread_mutex_lock(&s->mu);
    dconn **pp = &s->graveyard;
    while (*pp != NULL) {
        dconn *c = *pp;
        if (all || c->grave_epoch <= min) {
            *pp = c->next;
            atomic_fetch_sub(&s->ngrave, 1);
            pthread_mutex_destroy(&c->mu);
            free(c);
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- reading and answering (owner only) ---------------------------------------------- */

typedef enum { RD_DATA, RD_AGAIN, RD_EOF, RD_ERROR } rd_rc;

/* *more: TLS bytes already decrypted wait behind this read. */
static rd_rc conn_recv(dconn *c, uint8_t *dst, size_t room, size_t *got, bool *more)
{
    *more = false;
    if (c->tp == DT_TLS) {
        tcrypto_tls_rc rc = tcrypto_tls_read(c->tls, dst, room, got);
        c->rd_want_write = rc == TCRYPTO_TLS_WANT_WRITE;
        *more = rc == TCRYPTO_TLS_OK && tcrypto_tls_pending(c->tls) > 0;
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

/* Answer the complete frames at buf in order, at most *budget of them,
 * stopping early when the answers must wait for the peer to read. Returns
 * the bytes consumed, or -1 for a malformed header (logged, c dead);
 * *held: complete frames are left unanswered. */
static long answer_frames(dthread *t, dconn *c, const uint8_t *buf, size_t len,
                          unsigned *budget, bool *held)
{
    size_t off = 0;
    tproto_status st = TPROTO_OK;
    *held = false;
    while (len - off >= TPROTO_HEADER_LEN) {
        if (c->discard) {
            off = len; /* a refused or dead connection answers nothing more */
            break;
        }
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
        if (*budget == 0 || write_full(c)) {
            *held = true;
            break;
        }
        (*budget)--;
        dworker_answer(t->w, c, &h, buf + off, flen);
        const tc_buf *out = dworker_out(t->w);
        conn_send(c, out->p, out->len);
        dworker_out_done(t->w);
        c->t_active = now_ms();
        off += flen;
    }
    if (st != TPROTO_OK) {
        dlog_line l;
        if (dlog_begin(&l, TC_LOG_WARN, "bad_frame")) {
            dlog_u64(&l, "conn", c->id);
            dlog_str(&l, "principal", c->principal);
            dlog_str(&l, "reason", tproto_status_name(st));
            dlog_end(&l);
        }
        mark_dead(c, st == TPROTO_ENOMEM ? "out_of_memory" : "bad_frame");
        return -1;
    }
    return (long)off;
}

/* Answer what the read buffer holds; false when c failed. */
static bool answer_rbuf(dthread *t, dconn *c, unsigned *budget)
{
    bool held = false;
    long used = answer_frames(t, c, c->rbuf, c->rlen, budget, &held);
    if (used < 0)
        return false;
    if (used > 0) {
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

/* Read what the socket has (a bounded number of rounds) and answer the
 * complete frames. The read buffer holds a partial frame (and frames held
 * back by backpressure or the per-turn budget) and grows only as bytes
 * arrive, never from the length a header declares; an idle connection
 * holds none. */
static void conn_read(dthread *t, dconn *c, unsigned *budget)
{
    if (c->rlen > 0 && !answer_rbuf(t, c, budget))
        return;
    for (int round = 0; round < READ_ROUNDS; round++) {
        if (c->rd_stop || c->dead || c->rheld || write_full(c))
            return;

        uint8_t *dst;
        size_t room;
        if (c->rlen > 0) {
            if (c->rlen == c->rcap) {
                size_t ncap = c->rcap * 2 < TPROTO_MAX_FRAME ? c->rcap * 2 : TPROTO_MAX_FRAME;
                if (ncap <= c->rcap)
                    return; /* cannot happen: a frame fits in TPROTO_MAX_FRAME */
                uint8_t *p = malloc(ncap);
                if (p == NULL) {
                    mark_dead(c, "out_of_memory");
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
            dst = t->scratch;
            room = SCRATCH_LEN;
        }

        size_t got = 0;
        bool more = false;
        rd_rc rc = conn_recv(c, dst, room, &got, &more);
        if (rc == RD_AGAIN)
            return;
        if (rc != RD_DATA) {
            if (rc == RD_EOF) {
                c->rd_stop = true;
                if (c->close_reason == NULL)
                    c->close_reason = "peer_closed";
            } else {
                mark_dead(c, "read_error");
            }
            /* a partial frame will never complete; frames held back are
             * dropped with it */
            tc_freezero(c->rbuf, c->rcap);
            c->rbuf = NULL;
            c->rcap = c->rlen = 0;
            c->rheld = false;
            c->t_partial = 0;
            return;
        }

        if (dst == t->scratch) {
            /* answered straight from the scratch buffer; only the bytes
             * not answered are kept */
            bool held = false;
            long used = answer_frames(t, c, t->scratch, got, budget, &held);
            if (used >= 0 && (size_t)used < got) {
                size_t left = got - (size_t)used;
                size_t cap = left > RBUF_MIN ? left : RBUF_MIN;
                c->rbuf = malloc(cap);
                if (c->rbuf == NULL) {
                    mark_dead(c, "out_of_memory");
                    used = -1;
                } else {
                    c->rcap = cap;
                    memcpy(c->rbuf, t->scratch + used, left);
                    c->rlen = left;
                    c->rheld = held;
                    c->t_partial = held ? 0 : now_ms();
                }
            } else if (used >= 0) {
                c->t_partial = 0;
            }
            tc_wipe(t->scratch, got);
            if (used < 0)
                return;
        } else {
            c->rlen += got;
            if (!answer_rbuf(t, c, budget))
                return;
        }

        if (got < room && !more)
            return;
    }
}

static void tls_handshake(dthread *t, dconn *c, unsigned *budget)
{
    tcrypto_tls_rc rc = tcrypto_tls_handshake(c->tls);
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
        mark_dead(c, "tls_refused");
        return;
    }
    c->hs_done = true;
    c->hs_want_write = false;
    c->t_active = now_ms();
    log_conn_open(c);
    conn_read(t, c, budget); /* the first request may have come with the handshake */
}

/* Take in what other threads asked of c (c->mu held). */
static void take_requests_locked(dconn *c)
{
    if (c->kill_req != NULL) {
        mark_dead(c, c->kill_req);
        c->kill_req = NULL;
    }
    if (c->stop_req) {
        c->stop_req = false;
        c->rd_stop = true;
        if (c->close_reason == NULL)
            c->close_reason = "shutdown";
        if (c->tp == DT_TLS && !c->hs_done)
            mark_dead(c, "shutdown");
    }
}

/* One turn of an owned connection for the epoll events it got. */
static void conn_work(dthread *t, dconn *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP)) {
        /* the peer is gone: answers could not be delivered */
        mark_dead(c, "peer_closed");
        return;
    }
    if (c->dead)
        return;
    unsigned budget = atomic_load(&t->srv->lim.max_inflight);
    if (c->tp == DT_TLS && !c->hs_done) {
        if (events != 0)
            tls_handshake(t, c, &budget);
        return;
    }
    if (pending(c) > 0 && ((events & EPOLLOUT) || ((events & EPOLLIN) && c->wr_want_read)))
        (void)flush(c);
    conn_read(t, c, &budget);
}

/* The interest c needs now; *more: it has work that no socket event will
 * announce (held frames, decrypted TLS bytes). */
static uint32_t conn_interest(dconn *c, bool *more)
{
    *more = false;
    if (c->tp == DT_TLS && !c->hs_done)
        return c->hs_want_write ? EPOLLOUT : EPOLLIN;
    uint32_t ev = 0;
    size_t out = pending(c);
    bool full = write_full(c);
    *more = c->rheld || (!c->rd_stop && c->tls != NULL && tcrypto_tls_pending(c->tls) > 0);
    if (!c->rd_stop && !full && !*more)
        ev |= EPOLLIN;
    if (out > 0 && c->wr_want_read)
        ev |= EPOLLIN;
    /* held work: a writable socket calls the connection back at once,
     * behind the other ready connections (fairness) */
    if (out > 0 || c->rd_want_write || *more)
        ev |= EPOLLOUT;
    return ev;
}

/* Serve c, which the calling thread owns, then hand it back to epoll or
 * close it. */
static void conn_service(dthread *t, dconn *c, uint32_t events)
{
    dserver *s = t->srv;
    for (;;) {
        conn_work(t, c, events);
        pthread_mutex_lock(&c->mu);
        if (c->pend_ev != 0) {
            events = c->pend_ev;
            c->pend_ev = 0;
            pthread_mutex_unlock(&c->mu);
            continue;
        }
        take_requests_locked(c);
        bool more = false;
        uint32_t ev = c->dead ? 0 : conn_interest(c, &more);
        if (c->dead || (c->rd_stop && pending(c) == 0 && !more)) {
            c->closing = true;
            pthread_mutex_unlock(&c->mu);
            conn_close(s, c);
            return;
        }
        /* re-armed under mu: until it is released, a thread that gets
         * its next event waits here, then takes it */
        struct epoll_event e = {.events = ev | EPOLLONESHOT, .data.ptr = c};
        int r = epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &e);
        if (r != 0) {
            mark_dead(c, "epoll_error");
            c->closing = true;
            pthread_mutex_unlock(&c->mu);
            conn_close(s, c);
            return;
        }
        c->ev = ev | EPOLLONESHOT;
        c->owned = false;
        pthread_mutex_unlock(&c->mu);
        return;
    }
}

/* An epoll event for c: serve it, or leave the event to the thread that
 * owns it. */
static void conn_event(dthread *t, dconn *c, uint32_t events)
{
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (c->owned) {
        c->pend_ev |= events;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->owned = true;
    take_requests_locked(c);
    pthread_mutex_unlock(&c->mu);
    conn_service(t, c, events);
}

/* ---- accepting ------------------------------------------------------------------------ */

/* A new connection, on the list (s->mu held), not yet in epoll. */
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

/* Take c off the list again before it was ever armed (s->mu held). */
static void conn_unlist_locked(dserver *s, dconn *c)
{
    conn_list_remove_locked(s, c);
    if (c->tls != NULL)
        tcrypto_tls_free(c->tls);
    close(c->fd);
    tc_buf_free(&c->wbuf);
    tc_buf_free(&c->wmore);
    pthread_mutex_destroy(&c->mu);
    free(c);
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

/* Accept a batch on a listener (its event was one-shot), then re-arm it. */
static void on_accept(dserver *s, dtransport tp)
{
    pthread_mutex_lock(&s->mu);
    int lfd = tp == DT_UNIX ? s->unix_fd : s->tls_fd;
    for (int i = 0; lfd >= 0 && i < ACCEPT_BATCH; i++) {
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
            break;
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
        } else {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            peer_name(&ss, sl, c->peer, sizeof(c->peer));
            c->tls = tcrypto_tls_new(s->tls_ctx, fd);
            if (c->tls == NULL) {
                dlog_msg(TC_LOG_WARN, "conn_refused", "out of memory");
                conn_unlist_locked(s, c);
                continue;
            }
        }
        if (tp == DT_UNIX)
            log_conn_open(c);
        /* from here on any thread may own it; the TLS handshake and the
         * first reads happen on its first event */
        c->ev = EPOLLIN | EPOLLONESHOT;
        struct epoll_event e = {.events = c->ev, .data.ptr = c};
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
            c->opened_logged = false;
            conn_unlist_locked(s, c);
            continue;
        }
    }
    if (lfd >= 0) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT,
                                .data.u64 = tp == DT_UNIX ? TAG_UNIX : TAG_TLS};
        (void)epoll_ctl(s->ep, EPOLL_CTL_MOD, lfd, &e);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- timers, stop, force ----------------------------------------------------------------- */

static void log_timeout(dconn *c, const char *kind)
{
    dlog_line l;
    if (dlog_begin(&l, TC_LOG_INFO, "timeout")) {
        dlog_u64(&l, "conn", c->id);
        dlog_str(&l, "kind", kind);
        if (c->tp == DT_TLS)
            dlog_str(&l, "peer", c->peer);
        dlog_end(&l);
    }
}

/* Serve, as their new owner, the connections a scan took. */
static void serve_taken(dthread *t, dconn *list)
{
    while (list != NULL) {
        dconn *c = list;
        list = c->scan_next;
        c->scan_next = NULL;
        conn_service(t, c, 0);
    }
}

/* The timeout a connection nobody owns has run into, or NULL (c->mu held:
 * its owner's fields were last written before it let go). */
static const char *timed_out_locked(const dconn *c, uint64_t now, uint64_t idle, uint64_t rd,
                                    uint64_t hs)
{
    if (c->tp == DT_TLS && !c->hs_done)
        return now > c->t_open && now - c->t_open > hs ? "handshake" : NULL;
    bool writing = pending(c) > 0;
    uint64_t quiet = c->t_active < now ? now - c->t_active : 0;
    if (c->t_partial != 0 && now > c->t_partial && now - c->t_partial > rd)
        return "read";
    if ((writing || c->rheld) && quiet > rd)
        return "write"; /* a peer that stopped reading its answers */
    if (idle != 0 && !writing && c->rlen == 0 && quiet > idle)
        return "idle";
    return NULL;
}

/* Once a second: timeouts, and the end of the drain. A connection a thread
 * owns is busy (answering): it is not timed out. */
static void on_timer(dthread *t)
{
    dserver *s = t->srv;
    uint64_t v;
    ssize_t r = read(s->timer_fd, &v, sizeof(v));
    (void)r;
    uint64_t now = now_ms();
    uint64_t idle = (uint64_t)atomic_load(&s->lim.idle_timeout) * 1000u;
    uint64_t rd = (uint64_t)atomic_load(&s->lim.read_timeout) * 1000u;
    uint64_t hs = (uint64_t)atomic_load(&s->lim.handshake_timeout) * 1000u;
    dconn *taken = NULL;
    pthread_mutex_lock(&s->mu);
    bool force = s->stopping && !s->forced && now >= s->drain_deadline;
    if (force)
        s->forced = true;
    for (dconn *c = s->conns; c != NULL; c = c->next) {
        pthread_mutex_lock(&c->mu);
        const char *kill = force ? "shutdown" : NULL;
        const char *kind = NULL;
        if (kill == NULL && !c->owned && !c->closing) {
            kind = timed_out_locked(c, now, idle, rd, hs);
            kill = kind != NULL ? "timeout" : NULL;
        }
        if (kill != NULL && !c->closing) {
            if (c->owned) {
                c->kill_req = kill; /* its owner closes it when it lets go */
            } else {
                c->owned = true;
                c->kill_req = kill;
                c->scan_next = taken;
                taken = c;
                if (kind != NULL)
                    log_timeout(c, kind);
            }
        }
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&s->mu);
    serve_taken(t, taken);
    struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG_TIMER};
    (void)epoll_ctl(s->ep, EPOLL_CTL_MOD, s->timer_fd, &e);
}

/* s->mu held. */
static void close_listeners_locked(dserver *s)
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

static void begin_stop(dthread *t, int signo)
{
    dserver *s = t->srv;
    dconn *taken = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        /* a second signal: do not wait for answers any longer (the timer
         * closes them within a second) */
        s->drain_deadline = 0;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->stopping = true;
    s->drain_deadline = now_ms() + DRAIN_MS;
    close_listeners_locked(s);
    dlog_line l;
    if (dlog_begin(&l, TC_LOG_INFO, "drain")) {
        dlog_str(&l, "signal", signo == SIGINT ? "SIGINT" : "SIGTERM");
        dlog_u64(&l, "conns", s->nconns);
        dlog_end(&l);
    }
    for (dconn *c = s->conns; c != NULL; c = c->next) {
        pthread_mutex_lock(&c->mu);
        if (!c->closing) {
            c->stop_req = true;
            if (!c->owned) {
                c->owned = true;
                c->scan_next = taken;
                taken = c;
            }
        }
        pthread_mutex_unlock(&c->mu);
    }
    bool done = s->nconns == 0;
    pthread_mutex_unlock(&s->mu);
    if (done) {
        atomic_store(&s->quit, true);
        wake_all(s);
    }
    serve_taken(t, taken);
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

static void on_signal(dthread *t)
{
    dserver *s = t->srv;
    struct signalfd_siginfo si;
    while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            pthread_mutex_lock(&s->mu);
            reload(s);
            pthread_mutex_unlock(&s->mu);
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            begin_stop(t, (int)si.ssi_signo);
        }
    }
    struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG_SIGNAL};
    (void)epoll_ctl(s->ep, EPOLL_CTL_MOD, s->sig_fd, &e);
}

/* ---- the threads ---------------------------------------------------------------------------- */

static void *thread_main(void *arg)
{
    dthread *t = arg;
    dserver *s = t->srv;
    struct epoll_event evs[MAX_EVENTS];
    while (!atomic_load(&s->quit)) {
        /* Nothing of an earlier batch is held past this point: connections
         * closed before now can be freed once every thread got here. */
        atomic_store(&t->seen, atomic_load(&s->epoch));
        if (atomic_load(&s->ngrave) != 0)
            bury(s, false);
        int n = epoll_wait(s->ep, evs, MAX_EVENTS, WAIT_MS);
        if (n < 0 && errno != EINTR) {
            dlog_msg(TC_LOG_ERROR, "loop", strerror(errno));
            atomic_store(&s->quit, true);
            wake_all(s);
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == TAG_UNIX)
                on_accept(s, DT_UNIX);
            else if (tag == TAG_TLS)
                on_accept(s, DT_TLS);
            else if (tag == TAG_SIGNAL)
                on_signal(t);
            else if (tag == TAG_TIMER)
                on_timer(t);
            else if (tag == TAG_QUIT)
                ; /* the loop condition says it */
            else
                conn_event(t, evs[i].data.ptr, evs[i].events);
        }
    }
    return NULL;
}

static bool ep_add_tag(dserver *s, int fd, uint64_t tag, uint32_t flags)
{
    struct epoll_event e = {.events = EPOLLIN | flags, .data.u64 = tag};
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
    s->ep = s->sig_fd = s->timer_fd = s->quit_fd = -1;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&s->mu, NULL);
    limits_apply(&s->lim, &s->d);
    if (s->unix_fd >= 0)
        s->unix_path = strdup(s->d.listen_unix);
    s->apps = dapps_new(s->core);
    s->nthreads = s->d.workers;
    s->th = calloc(s->nthreads, sizeof(*s->th));

    /* blocked in every thread (they inherit the mask): read by signalfd */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    s->quit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct itimerspec tick = {.it_interval = {1, 0}, .it_value = {1, 0}};
    if (s->th == NULL || s->apps == NULL || s->ep < 0 || s->sig_fd < 0 || s->timer_fd < 0 ||
        s->quit_fd < 0 || (s->unix_fd >= 0 && s->unix_path == NULL) ||
        timerfd_settime(s->timer_fd, 0, &tick, NULL) != 0 ||
        !ep_add_tag(s, s->sig_fd, TAG_SIGNAL, EPOLLONESHOT) ||
        !ep_add_tag(s, s->timer_fd, TAG_TIMER, EPOLLONESHOT) ||
        /* level-triggered and never read: once written, it wakes everyone */
        !ep_add_tag(s, s->quit_fd, TAG_QUIT, 0) ||
        (s->unix_fd >= 0 && !ep_add_tag(s, s->unix_fd, TAG_UNIX, EPOLLONESHOT)) ||
        (s->tls_fd >= 0 && !ep_add_tag(s, s->tls_fd, TAG_TLS, EPOLLONESHOT))) {
        dlog_msg(TC_LOG_ERROR, "start_failed", "cannot set up the event loop");
        goto out;
    }
    log_start(s);
    for (unsigned i = 0; i < s->nthreads; i++) {
        dthread *t = &s->th[i];
        t->srv = s;
        t->w = dworker_new(s);
        t->scratch = malloc(SCRATCH_LEN);
        if (t->w == NULL || t->scratch == NULL ||
            pthread_create(&t->th, NULL, thread_main, t) != 0) {
            dlog_msg(TC_LOG_ERROR, "start_failed", "cannot start the workers");
            atomic_store(&s->quit, true);
            wake_all(s);
            goto out;
        }
        t->started = true;
    }
    ret = 0;
out:
    for (unsigned i = 0; s->th != NULL && i < s->nthreads; i++) {
        if (s->th[i].started)
            pthread_join(s->th[i].th, NULL);
    }
    if (ret == 0)
        dlog_msg(TC_LOG_INFO, "stop", "connections closed, stopping");
    /* with the threads gone nothing owns a connection any more */
    while (s->conns != NULL) {
        dconn *c = s->conns;
        mark_dead(c, "shutdown");
        c->closing = true;
        conn_close(s, c);
    }
    bury(s, true);
    for (unsigned i = 0; s->th != NULL && i < s->nthreads; i++) {
        dworker_free(s->th[i].w);
        if (s->th[i].scratch != NULL)
            tc_freezero(s->th[i].scratch, SCRATCH_LEN);
    }
    free(s->th);
    close_listeners_locked(s);
    if (s->ep >= 0)
        close(s->ep);
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    if (s->quit_fd >= 0)
        close(s->quit_fd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    tcrypto_tls_ctx_free(s->tls_ctx);
    dapps_free(s->apps);
    tc_conf_free(s->conf);
    free(s->unix_path);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return ret;
}
