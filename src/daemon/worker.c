/*
 * The workers: each takes a connection from the run queue and answers its
 * queued frames in order — the HELLO first, then every request as
 * decode → tsvc_dispatch → encode — writing each answer straight to the
 * socket when it can. Every worker decodes into its own arena; the
 * request's bytes and the arena are wiped after each request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "daemon/daemon.h"

/* Frames a worker answers on one connection before letting others in. */
#define BATCH 32

typedef struct {
    dworkers *pool;
    pthread_t th;
    bool started;
    tproto_arena arena;
    tc_buf out;
} dworker;

struct dworkers {
    dserver *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dconn *head, *tail;
    unsigned idle;
    bool stop;
    unsigned n;
    dworker *w;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void dworkers_submit(dworkers *p, dconn *c)
{
    pthread_mutex_lock(&p->mu);
    c->runq_next = NULL;
    if (p->tail != NULL)
        p->tail->runq_next = c;
    else
        p->head = c;
    p->tail = c;
    if (p->idle > 0)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Append an answer to the connection and send what the socket takes
 * (c->mu held). A Unix connection with nothing pending is written from
 * the worker's buffer, without a copy. */
static void conn_send_locked(dconn *c, const uint8_t *p, size_t len)
{
    if (c->dead)
        return;
    if (c->tp == DT_UNIX && dconn_pending_locked(c) == 0) {
        while (len > 0) {
            ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                c->dead = c->rd_stop = c->discard = true;
                if (c->close_reason == NULL)
                    c->close_reason = "write_error";
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
        c->dead = c->rd_stop = c->discard = true;
        if (c->close_reason == NULL)
            c->close_reason = "out_of_memory";
        return;
    }
    (void)dconn_flush_locked(c);
}

static void log_request(const dconn *c, const tproto_header *h, CK_RV rv, const tcore_err *e)
{
    dlog_line l;
    if (!dlog_begin(&l, TC_LOG_DEBUG, "request"))
        return;
    dlog_u64(&l, "conn", c->id);
    const char *name = tproto_op_name(h->op);
    if (name != NULL)
        dlog_str(&l, "op", name);
    else
        dlog_u64(&l, "op", h->op);
    dlog_u64(&l, "id", h->id);
    const char *rvn = dlog_rv_name(rv);
    if (rvn != NULL)
        dlog_str(&l, "rv", rvn);
    else
        dlog_hex(&l, "rv", (unsigned long)rv);
    if (rv != CKR_OK && e != NULL && e->arg != TCORE_ARG_NONE) {
        char what[96];
        tcore_err_describe(e, what, sizeof(what));
        dlog_str(&l, "arg", what);
    }
    dlog_end(&l);
}

/* The HELLO (first frame): versions, ABI, application. *refuse: close the
 * connection after the answer. */
static void handle_hello(dworker *w, dconn *c, const dframe *f, dapp **app, bool *refuse)
{
    dserver *s = w->pool->srv;
    tproto_hello hh;
    tproto_hello mine;
    static const uint8_t zero[TPROTO_APP_ID_LEN];
    tproto_hello_init(&mine, zero);
    tproto_hello_reply r;
    memset(&r, 0, sizeof(r));
    r.version = TPROTO_VERSION;
    r.max_frame = TPROTO_MAX_FRAME;
    snprintf(r.server, sizeof(r.server), "tesserad %s", TESSERAD_VERSION);
    const char *why = NULL;

    tproto_status st = tproto_hello_decode(f->data + TPROTO_HEADER_LEN,
                                           f->len - TPROTO_HEADER_LEN, &hh);
    if (st != TPROTO_OK) {
        r.rv = CKR_ARGUMENTS_BAD;
        why = "malformed HELLO";
    } else if (hh.min_version > TPROTO_VERSION || hh.max_version < TPROTO_VERSION) {
        r.rv = CKR_FUNCTION_NOT_SUPPORTED;
        why = "no common protocol version";
    } else if (hh.ulong_size != mine.ulong_size || hh.big_endian != mine.big_endian) {
        /* attribute values travel in the client's ABI (tproto.h) */
        r.rv = CKR_DEVICE_ERROR;
        why = "client ABI differs (CK_ULONG size or byte order)";
    } else {
        r.rv = dapps_join(dserver_apps(s), hh.app_id, c->principal, app);
        if (r.rv != CKR_OK) {
            *app = NULL;
            why = "cannot make the application";
        }
    }
    *refuse = r.rv != CKR_OK;

    size_t start = w->out.len;
    tproto_frame_begin(&w->out, TPROTO_RESPONSE, TPROTO_OP_HELLO, f->h.id);
    if (!tproto_hello_reply_encode(&w->out, &r) || !tproto_frame_end(&w->out, start)) {
        w->out.len = start;
        *refuse = true;
        why = why != NULL ? why : "cannot encode the HELLO reply";
    }
    dlog_line l;
    if (dlog_begin(&l, why != NULL ? TC_LOG_WARN : TC_LOG_DEBUG, "hello")) {
        dlog_u64(&l, "conn", c->id);
        dlog_bool(&l, "ok", why == NULL);
        if (why != NULL)
            dlog_str(&l, "reason", why);
        dlog_end(&l);
    }
}

/* One request: the answer goes to w->out. */
static void handle_request(dworker *w, dconn *c, const dframe *f, dapp *app, bool *refuse)
{
    dserver *s = w->pool->srv;
    const tproto_header *h = &f->h;
    const uint8_t *body = f->data + TPROTO_HEADER_LEN;
    size_t blen = f->len - TPROTO_HEADER_LEN;
    tcore_err e = {CKR_OK, TCORE_ARG_NONE, -1, 0};
    tproto_arg args[TPROTO_MAX_ARGS];
    bool decoded = false;
    CK_RV rv;

    memset(args, 0, sizeof(args));
    if (tproto_schema(h->op) == NULL) {
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    } else {
        tproto_status st = tproto_request_decode(body, blen, h->op, &w->arena, args);
        if (st == TPROTO_OK) {
            decoded = true;
            if (h->op == TPROTO_OP_SESSION_OPEN)
                rv = dapp_session_open(app, dserver_core(s),
                                       atomic_load(&dserver_limits(s)->max_sessions), args, &e);
            else
                rv = tsvc_dispatch(dserver_core(s), dapp_core_app(app), h->op, args, &e);
        } else if (st == TPROTO_EUNKNOWN_OP) {
            rv = CKR_FUNCTION_NOT_SUPPORTED;
        } else if (st == TPROTO_ENOMEM) {
            rv = CKR_HOST_MEMORY;
        } else {
            rv = CKR_ARGUMENTS_BAD;
        }
    }
    tproto_err perr = {.rv = rv, .arg = TCORE_ARG_NONE, .index = -1, .attr = 0};
    if (rv != CKR_OK) {
        perr.arg = (uint32_t)e.arg;
        perr.index = e.index;
        perr.attr = e.attr;
    }
    size_t start = w->out.len;
    tproto_frame_begin(&w->out, TPROTO_RESPONSE, h->op, h->id);
    if (!tproto_response_encode(&w->out, h->op, &perr, decoded ? args : NULL) ||
        !tproto_frame_end(&w->out, start)) {
        /* outputs are capped so that they fit: this is a failed allocation */
        tc_buf_free(&w->out);
        tc_buf_init(&w->out);
        tproto_err derr = {.rv = CKR_DEVICE_ERROR, .arg = TCORE_ARG_NONE, .index = -1};
        tproto_frame_begin(&w->out, TPROTO_RESPONSE, h->op, h->id);
        if (!tproto_response_encode(&w->out, h->op, &derr, NULL) ||
            !tproto_frame_end(&w->out, 0)) {
            tc_buf_free(&w->out);
            tc_buf_init(&w->out);
            *refuse = true;
        }
    }
    log_request(c, h, rv, &e);
}

static void frame_free(dframe *f)
{
    tc_freezero(f->data, f->cap);
    free(f);
}

/* Answer c's queued frames in order, up to BATCH of them. */
static void run_conn(dworker *w, dconn *c)
{
    dserver *s = w->pool->srv;
    for (unsigned done = 0;; done++) {
        pthread_mutex_lock(&c->mu);
        if (c->discard) {
            while (c->qhead != NULL) {
                dframe *f = c->qhead;
                c->qhead = f->next;
                frame_free(f);
            }
            c->qtail = NULL;
            c->nq = 0;
        }
        /* answers wait for the peer to read: the loop reschedules c once
         * it has flushed (conn_update) */
        dframe *f = dconn_write_full_locked(c) ? NULL : c->qhead;
        if (f != NULL && done >= BATCH) {
            /* to the back of the run queue, still scheduled: fairness */
            dworkers_submit(w->pool, c);
            pthread_mutex_unlock(&c->mu);
            return;
        }
        if (f == NULL) {
            c->scheduled = false;
            size_t pending = dconn_pending_locked(c);
            if ((pending > 0 && !c->out_armed) || (c->paused && !dconn_full_locked(c)) ||
                c->dead || c->rd_stop)
                dserver_notify_locked(s, c);
            pthread_mutex_unlock(&c->mu);
            return;
        }
        c->qhead = f->next;
        if (c->qhead == NULL)
            c->qtail = NULL;
        c->nq--;
        bool hello = c->hello;
        dapp *app = c->app;
        pthread_mutex_unlock(&c->mu);

        bool refuse = false;
        dapp *joined = NULL;
        const char *reason = NULL;
        if (!hello) {
            if (f->h.op != TPROTO_OP_HELLO) {
                dlog_line l;
                if (dlog_begin(&l, TC_LOG_WARN, "bad_frame")) {
                    dlog_u64(&l, "conn", c->id);
                    dlog_str(&l, "principal", c->principal);
                    dlog_str(&l, "reason", "request before HELLO");
                    dlog_end(&l);
                }
                refuse = true;
                reason = "no_hello";
            } else {
                handle_hello(w, c, f, &joined, &refuse);
                reason = "hello_refused";
            }
        } else {
            handle_request(w, c, f, app, &refuse);
            reason = "encode_failed";
        }
        frame_free(f);
        tproto_arena_reset(&w->arena);

        pthread_mutex_lock(&c->mu);
        if (joined != NULL) {
            c->app = joined;
            c->hello = true;
        }
        if (w->out.len > 0)
            conn_send_locked(c, w->out.p, w->out.len);
        if (hello)
            c->served++;
        c->t_active = now_ms();
        if (refuse) {
            /* the answer (if any) goes out, then the loop closes */
            c->rd_stop = true;
            c->discard = true;
            if (c->close_reason == NULL)
                c->close_reason = reason;
        }
        pthread_mutex_unlock(&c->mu);
        tc_wipe(w->out.p, w->out.len);
        w->out.len = 0;
    }
}

static void *worker_main(void *arg)
{
    dworker *w = arg;
    dworkers *p = w->pool;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        dconn *c = p->head;
        if (c == NULL) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        p->head = c->runq_next;
        if (p->head == NULL)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        run_conn(w, c);
    }
    return NULL;
}

dworkers *dworkers_start(dserver *s, unsigned n)
{
    dworkers *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->srv = s;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->w = calloc(n, sizeof(*p->w));
    if (p->w == NULL) {
        dworkers_stop(p);
        return NULL;
    }
    p->n = n;
    size_t arena = tproto_arena_size();
    for (unsigned i = 0; i < n; i++) {
        dworker *w = &p->w[i];
        w->pool = p;
        tc_buf_init(&w->out);
        if (!tproto_arena_init(&w->arena, arena) ||
            pthread_create(&w->th, NULL, worker_main, w) != 0) {
            dworkers_stop(p);
            return NULL;
        }
        w->started = true;
    }
    return p;
}

void dworkers_stop(dworkers *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true; /* the queue is worked off first */
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++) {
        dworker *w = &p->w[i];
        if (w->started)
            pthread_join(w->th, NULL);
        tproto_arena_free(&w->arena);
        tc_buf_free(&w->out);
    }
    free(p->w);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
