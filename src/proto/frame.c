/*
 * Frames, the operation table and the server's arena.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/proto_int.h"

/* ---- the operation table ----------------------------------------------------------- */

#define K_UL TPROTO_ULONG
#define K_BY TPROTO_BYTES
#define K_UO TPROTO_ULONG_OUT
#define K_OU TPROTO_OUT
#define K_LS TPROTO_ULONGS_OUT
#define K_TM TPROTO_TEMPLATE
#define K_AT TPROTO_ATTRS
#define K_ME TPROTO_MECH

typedef struct {
    const char *name;
    bool session; /* the first argument is a session handle */
    tproto_kind kinds[TPROTO_MAX_ARGS + 1];
} op_def;

/* Kinds in the order of the core call of each operation (core/tcore.h). */
static const op_def ops[TPROTO_OP_END] = {
    [TPROTO_OP_HELLO] = {"hello", false, {0}},
    [TPROTO_OP_SLOT_LIST] = {"slot_list", false, {K_LS}},
    [TPROTO_OP_SLOT_CHECK] = {"slot_check", false, {K_UL}},
    [TPROTO_OP_TOKEN_INFO] = {"token_info", false, {K_UL, TPROTO_TOKEN_INFO}},
    [TPROTO_OP_INIT_TOKEN] = {"init_token", false, {K_UL, K_BY, K_BY}},
    [TPROTO_OP_MECH_LIST] = {"mech_list", false, {K_UL, K_LS}},
    [TPROTO_OP_MECH_INFO] = {"mech_info", false, {K_UL, K_UL, TPROTO_MECH_INFO}},
    [TPROTO_OP_SESSION_OPEN] = {"session_open", false, {K_UL, K_UL, K_UO}},
    /* The handle names the session, though the core closes it by handle
     * rather than through a session it looked up. */
    [TPROTO_OP_SESSION_CLOSE] = {"session_close", true, {K_UL}},
    [TPROTO_OP_SESSION_CLOSE_ALL] = {"session_close_all", false, {K_UL}},
    [TPROTO_OP_SESSION_INFO] = {"session_info", true, {K_UL, TPROTO_SESSION_INFO}},
    [TPROTO_OP_LOGIN] = {"login", true, {K_UL, K_UL, K_BY, K_BY}},
    [TPROTO_OP_LOGOUT] = {"logout", true, {K_UL}},
    [TPROTO_OP_INIT_PIN] = {"init_pin", true, {K_UL, K_BY}},
    [TPROTO_OP_SET_PIN] = {"set_pin", true, {K_UL, K_BY, K_BY}},
    [TPROTO_OP_OBJECT_CREATE] = {"object_create", true, {K_UL, K_TM, K_UO}},
    [TPROTO_OP_OBJECT_COPY] = {"object_copy", true, {K_UL, K_UL, K_TM, K_UO}},
    [TPROTO_OP_OBJECT_DESTROY] = {"object_destroy", true, {K_UL, K_UL}},
    [TPROTO_OP_OBJECT_GET_ATTRS] = {"object_get_attrs", true, {K_UL, K_UL, K_AT}},
    [TPROTO_OP_OBJECT_SET_ATTRS] = {"object_set_attrs", true, {K_UL, K_UL, K_TM}},
    [TPROTO_OP_OBJECT_SIZE] = {"object_size", true, {K_UL, K_UL, K_UO}},
    [TPROTO_OP_FIND_INIT] = {"find_init", true, {K_UL, K_TM}},
    [TPROTO_OP_FIND] = {"find", true, {K_UL, K_LS}},
    [TPROTO_OP_FIND_FINAL] = {"find_final", true, {K_UL}},
    [TPROTO_OP_CRYPT_INIT] = {"crypt_init", true, {K_UL, K_UL, K_ME, K_UL}},
    [TPROTO_OP_CRYPT] = {"crypt", true, {K_UL, K_UL, K_BY, K_OU}},
    [TPROTO_OP_CRYPT_UPDATE] = {"crypt_update", true, {K_UL, K_UL, K_BY, K_OU}},
    [TPROTO_OP_CRYPT_FINAL] = {"crypt_final", true, {K_UL, K_UL, K_OU}},
    [TPROTO_OP_VERIFY] = {"verify", true, {K_UL, K_BY, K_BY}},
    [TPROTO_OP_VERIFY_FINAL] = {"verify_final", true, {K_UL, K_BY}},
    [TPROTO_OP_DIGEST_KEY] = {"digest_key", true, {K_UL, K_UL}},
    [TPROTO_OP_CRYPT_CANCEL] = {"crypt_cancel", true, {K_UL, K_UL, K_UL}},
    [TPROTO_OP_GENERATE_KEY] = {"generate_key", true, {K_UL, K_ME, K_TM, K_UO}},
    [TPROTO_OP_GENERATE_KEY_PAIR] = {"generate_key_pair", true,
                                     {K_UL, K_ME, K_TM, K_TM, K_UO, K_UO}},
    [TPROTO_OP_WRAP_KEY] = {"wrap_key", true, {K_UL, K_ME, K_UL, K_UL, K_OU}},
    [TPROTO_OP_UNWRAP_KEY] = {"unwrap_key", true, {K_UL, K_ME, K_UL, K_BY, K_TM, K_UO}},
    [TPROTO_OP_DERIVE_KEY] = {"derive_key", true, {K_UL, K_ME, K_UL, K_TM, K_UO}},
    [TPROTO_OP_RANDOM] = {"random", true, {K_UL, K_OU}},
    [TPROTO_OP_SEED_RANDOM] = {"seed_random", true, {K_UL, K_BY}},
};

const char *tproto_op_name(uint16_t op)
{
    if (op == 0 || op >= TPROTO_OP_END)
        return NULL;
    return ops[op].name;
}

const tproto_kind *tproto_schema(uint16_t op)
{
    if (op <= TPROTO_OP_HELLO || op >= TPROTO_OP_END)
        return NULL;
    return ops[op].kinds;
}

bool tproto_op_has_session(uint16_t op)
{
    if (op <= TPROTO_OP_HELLO || op >= TPROTO_OP_END)
        return false;
    return ops[op].session;
}

const char *tproto_status_name(tproto_status st)
{
    switch (st) {
    case TPROTO_OK: return "ok";
    case TPROTO_NEED_MORE: return "need more bytes";
    case TPROTO_EMALFORMED: return "malformed";
    case TPROTO_ETOOBIG: return "frame too big";
    case TPROTO_EVERSION: return "unsupported version";
    case TPROTO_EUNKNOWN_OP: return "unknown operation";
    case TPROTO_ENOMEM: return "out of memory";
    }
    return "unknown status";
}

/* ---- frames ------------------------------------------------------------------------ */

tproto_status tproto_header_parse(const uint8_t *buf, size_t len, tproto_header *h,
                                  size_t *frame_len)
{
    if (buf == NULL || len < TPROTO_HEADER_LEN)
        return TPROTO_NEED_MORE;
    tproto_header t;
    t.length = tc_load_u32(buf);
    t.version = buf[4];
    t.kind = buf[5];
    t.op = tc_load_u16(buf + 6);
    t.id = tc_load_u32(buf + 8);
    if (t.length > TPROTO_MAX_FRAME - 4)
        return TPROTO_ETOOBIG;
    if (t.length < TPROTO_HEADER_LEN - 4)
        return TPROTO_EMALFORMED;
    if (t.version != TPROTO_VERSION)
        return TPROTO_EVERSION;
    if (t.kind != TPROTO_REQUEST && t.kind != TPROTO_RESPONSE)
        return TPROTO_EMALFORMED;
    *h = t;
    if (frame_len != NULL)
        *frame_len = (size_t)t.length + 4;
    return TPROTO_OK;
}

void tproto_frame_begin(tc_buf *b, uint8_t kind, uint16_t op, uint32_t id)
{
    tc_buf_put_u32(b, 0);
    tc_buf_put_u8(b, TPROTO_VERSION);
    tc_buf_put_u8(b, kind);
    tc_buf_put_u16(b, op);
    tc_buf_put_u32(b, id);
}

bool tproto_frame_end(tc_buf *b, size_t start)
{
    if (b->failed || start > b->len || b->len - start < TPROTO_HEADER_LEN)
        return false;
    size_t total = b->len - start;
    if (total > TPROTO_MAX_FRAME)
        return false;
    tc_store_u32(b->p + start, (uint32_t)(total - 4));
    return true;
}

/* ---- the arena --------------------------------------------------------------------- */

#define ARENA_ALIGN 16

bool tproto_arena_init(tproto_arena *a, size_t cap)
{
    a->used = 0;
    a->cap = 0;
    /* Zeroed now and wiped on every reset: what lies beyond `used` is
     * always zero, so allocations need no memset. */
    a->p = calloc(1, cap ? cap : 1);
    if (a->p == NULL)
        return false;
    a->cap = cap;
    return true;
}

void tproto_arena_reset(tproto_arena *a)
{
    if (a->p != NULL)
        tc_wipe(a->p, a->used);
    a->used = 0;
}

void tproto_arena_free(tproto_arena *a)
{
    if (a->p != NULL)
        tc_freezero(a->p, a->cap ? a->cap : 1);
    a->p = NULL;
    a->cap = a->used = 0;
}

void *tproto_arena_alloc(tproto_arena *a, size_t n)
{
    if (a == NULL || a->p == NULL)
        return NULL;
    /* Empty allocations take a slot of their own, so that two present
     * empty arguments never share an address. */
    size_t need = n ? n : 1;
    size_t start = (a->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (start > a->cap || a->cap - start < need)
        return NULL;
    a->used = start + need;
    return a->p + start;
}

size_t tproto_arena_size(void)
{
    /* One request holds at most: one large output (an OUT buffer, the
     * values of an ATTRS template, or a list, all capped at
     * TPROTO_MAX_OUT in total), two templates' arrays, one more for ATTRS,
     * the alignment of every allocation (one per attribute value and a
     * few per argument), and small structs (mechanism, its parameter,
     * CK_ULONGs, an info struct). Values are not copied: they point into
     * the request body. */
    return TPROTO_MAX_OUT + 3 * TPROTO_MAX_ATTRS * sizeof(CK_ATTRIBUTE) +
           (TPROTO_MAX_ATTRS + 4 * TPROTO_MAX_ARGS) * ARENA_ALIGN + 4096;
}

/* ---- reading helpers ---------------------------------------------------------------- */

bool tproto_read_ulong(tc_reader *r, CK_ULONG *v)
{
    uint64_t x;
    size_t off = r->off;
    if (!tc_read_u64(r, &x))
        return false;
    if (!tproto_fits_ulong(x)) {
        r->off = off;
        return false;
    }
    *v = (CK_ULONG)x;
    return true;
}

bool tproto_read_flag(tc_reader *r, bool *v)
{
    uint8_t x;
    size_t off = r->off;
    if (!tc_read_u8(r, &x))
        return false;
    if (x > 1) {
        r->off = off;
        return false;
    }
    *v = x != 0;
    return true;
}
