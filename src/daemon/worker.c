/*
 * Answering requests: the HELLO first, then every request as
 * decode → tsvc_dispatch → encode. Each server thread has one dworker:
 * its own decoding arena and response buffer, wiped after each request.
 * The thread that owns a connection (server.c) calls it for each complete
 * frame in order and writes the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

struct dworker {
    dserver *srv;
    tproto_arena arena;
    tc_buf out;
};

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
static void handle_hello(dworker *w, dconn *c, const tproto_header *fh, const uint8_t *frame,
                         size_t flen, dapp **app, bool *refuse)
{
    dserver *s = w->srv;
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

    tproto_status st = tproto_hello_decode(frame + TPROTO_HEADER_LEN, flen - TPROTO_HEADER_LEN,
                                           &hh);
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
    tproto_frame_begin(&w->out, TPROTO_RESPONSE, TPROTO_OP_HELLO, fh->id);
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
static void handle_request(dworker *w, dconn *c, const tproto_header *h, const uint8_t *frame,
                           size_t flen, dapp *app, bool *refuse)
{
    dserver *s = w->srv;
    const uint8_t *body = frame + TPROTO_HEADER_LEN;
    size_t blen = flen - TPROTO_HEADER_LEN;
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

void dworker_answer(dworker *w, dconn *c, const tproto_header *h, const uint8_t *frame,
                    size_t flen)
{
    bool refuse = false;
    dapp *joined = NULL;
    const char *reason = NULL;
    w->out.len = 0;
    if (!c->hello) {
        if (h->op != TPROTO_OP_HELLO) {
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
            handle_hello(w, c, h, frame, flen, &joined, &refuse);
            reason = "hello_refused";
            if (joined != NULL) {
                c->app = joined;
                c->hello = true;
            }
        }
    } else {
        handle_request(w, c, h, frame, flen, c->app, &refuse);
        reason = "encode_failed";
        c->served++;
    }
    tproto_arena_reset(&w->arena);
    if (refuse) {
        /* the answer (if any) goes out, then the connection closes */
        c->rd_stop = true;
        c->discard = true;
        if (c->close_reason == NULL)
            c->close_reason = reason;
    }
}

const tc_buf *dworker_out(const dworker *w)
{
    return &w->out;
}

void dworker_out_done(dworker *w)
{
    /* responses can hold key material (wrapped keys, random bytes) */
    tc_wipe(w->out.p, w->out.len);
    w->out.len = 0;
}

dworker *dworker_new(dserver *s)
{
    dworker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->srv = s;
    tc_buf_init(&w->out);
    if (!tproto_arena_init(&w->arena, tproto_arena_size())) {
        free(w);
        return NULL;
    }
    return w;
}

void dworker_free(dworker *w)
{
    if (w == NULL)
        return;
    tproto_arena_free(&w->arena);
    tc_buf_free(&w->out);
    free(w);
}
