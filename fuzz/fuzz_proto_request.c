/*
 * The server's side of the wire: a frame header, then the request body of
 * the operation the header names decoded into an arena (HELLO by its own
 * decoder), then a response encoded from the decoded arguments, as the
 * daemon does after the call.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/tproto.h"

static tproto_arena arena;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tproto_header h;
    size_t flen;
    if (arena.p == NULL && !tproto_arena_init(&arena, tproto_arena_size()))
        abort();
    if (tproto_header_parse(data, size, &h, &flen) != TPROTO_OK)
        return 0;
    /* The body as the daemon sees it: what the header announced, or what
     * arrived if that is less (then the decoder sees a short body). */
    const uint8_t *body = data + TPROTO_HEADER_LEN;
    size_t len = (flen <= size ? flen : size) - TPROTO_HEADER_LEN;
    if (h.op == TPROTO_OP_HELLO) {
        tproto_hello hello;
        (void)tproto_hello_decode(body, len, &hello);
        return 0;
    }
    tproto_arg args[TPROTO_MAX_ARGS];
    tproto_err err = {CKR_OK, 0, -1, 0};
    tproto_arena_reset(&arena);
    tproto_status st = tproto_request_decode(body, len, h.op, &arena, args);
    tc_buf out;
    tc_buf_init(&out);
    tproto_frame_begin(&out, TPROTO_RESPONSE, h.op, h.id);
    if (st == TPROTO_OK) {
        /* The outputs as a call that changed nothing leaves them. */
        if (!tproto_response_encode(&out, h.op, &err, args))
            abort();
    } else {
        err.rv = st == TPROTO_EUNKNOWN_OP ? CKR_FUNCTION_NOT_SUPPORTED : CKR_ARGUMENTS_BAD;
        if (!tproto_response_encode(&out, h.op, &err, NULL))
            abort();
    }
    if (!tproto_frame_end(&out, 0))
        abort();
    tc_buf_free(&out);
    tproto_arena_reset(&arena);
    return 0;
}
