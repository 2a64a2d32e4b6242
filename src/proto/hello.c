/*
 * HELLO: the first exchange on a connection (versions, ABI, application id).
 *
 * Request body (20 bytes): u8 min_version, u8 max_version, u8 ulong_size,
 * u8 big_endian, app_id[16].
 * Reply body: u64 rv, u8 version, u32 max_frame, u8 name length (< 64),
 * the name bytes.
 */
#include <string.h>

#include "proto/proto_int.h"

void tproto_hello_init(tproto_hello *h, const uint8_t app_id[TPROTO_APP_ID_LEN])
{
    const uint16_t probe = 1;
    uint8_t first;
    memcpy(&first, &probe, 1);
    memset(h, 0, sizeof(*h));
    h->min_version = TPROTO_VERSION;
    h->max_version = TPROTO_VERSION;
    h->ulong_size = (uint8_t)sizeof(CK_ULONG);
    h->big_endian = first == 0;
    if (app_id != NULL)
        memcpy(h->app_id, app_id, TPROTO_APP_ID_LEN);
}

bool tproto_hello_encode(tc_buf *b, const tproto_hello *h)
{
    tc_buf_put_u8(b, h->min_version);
    tc_buf_put_u8(b, h->max_version);
    tc_buf_put_u8(b, h->ulong_size);
    tc_buf_put_u8(b, h->big_endian);
    tc_buf_put(b, h->app_id, TPROTO_APP_ID_LEN);
    return !b->failed;
}

tproto_status tproto_hello_decode(const uint8_t *body, size_t len, tproto_hello *h)
{
    tc_reader r;
    tproto_hello t;
    if (body == NULL && len != 0)
        return TPROTO_EMALFORMED;
    tc_reader_init(&r, body, len);
    if (!tc_read_u8(&r, &t.min_version) || !tc_read_u8(&r, &t.max_version) ||
        !tc_read_u8(&r, &t.ulong_size) || !tc_read_u8(&r, &t.big_endian) ||
        !tc_read_copy(&r, t.app_id, TPROTO_APP_ID_LEN) || tc_reader_left(&r) != 0)
        return TPROTO_EMALFORMED;
    if (t.min_version > t.max_version || t.big_endian > 1)
        return TPROTO_EMALFORMED;
    *h = t;
    return TPROTO_OK;
}

bool tproto_hello_reply_encode(tc_buf *b, const tproto_hello_reply *r)
{
    size_t n = strnlen(r->server, sizeof(r->server));
    if (n >= sizeof(r->server))
        return false;
    tc_buf_put_u64(b, r->rv);
    tc_buf_put_u8(b, r->version);
    tc_buf_put_u32(b, r->max_frame);
    tc_buf_put_u8(b, (uint8_t)n);
    tc_buf_put(b, r->server, n);
    return !b->failed;
}

tproto_status tproto_hello_reply_decode(const uint8_t *body, size_t len, tproto_hello_reply *r)
{
    tc_reader rd;
    tproto_hello_reply t;
    uint8_t n;
    if (body == NULL && len != 0)
        return TPROTO_EMALFORMED;
    memset(&t, 0, sizeof(t));
    tc_reader_init(&rd, body, len);
    if (!tproto_read_ulong(&rd, &t.rv) || !tc_read_u8(&rd, &t.version) ||
        !tc_read_u32(&rd, &t.max_frame) || !tc_read_u8(&rd, &n) || n >= sizeof(t.server) ||
        !tc_read_copy(&rd, t.server, n) || tc_reader_left(&rd) != 0)
        return TPROTO_EMALFORMED;
    /* A name is text: an embedded NUL would hide what follows it. */
    if (memchr(t.server, 0, n) != NULL)
        return TPROTO_EMALFORMED;
    *r = t;
    return TPROTO_OK;
}
