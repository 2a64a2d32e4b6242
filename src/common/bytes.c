#include "common/tcommon.h"

#include <stdlib.h>
#include <string.h>

bool tc_read_ref(tc_reader *r, size_t n, const uint8_t **out)
{
    if (r->len - r->off < n)
        return false;
    *out = r->p + r->off;
    r->off += n;
    return true;
}

bool tc_read_copy(tc_reader *r, void *out, size_t n)
{
    const uint8_t *p;
    if (!tc_read_ref(r, n, &p))
        return false;
    if (n > 0)
        memcpy(out, p, n);
    return true;
}

bool tc_read_u8(tc_reader *r, uint8_t *v)
{
    const uint8_t *p;
    if (!tc_read_ref(r, 1, &p))
        return false;
    *v = p[0];
    return true;
}

bool tc_read_u16(tc_reader *r, uint16_t *v)
{
    const uint8_t *p;
    if (!tc_read_ref(r, 2, &p))
        return false;
    *v = tc_load_u16(p);
    return true;
}

bool tc_read_u32(tc_reader *r, uint32_t *v)
{
    const uint8_t *p;
    if (!tc_read_ref(r, 4, &p))
        return false;
    *v = tc_load_u32(p);
    return true;
}

bool tc_read_u64(tc_reader *r, uint64_t *v)
{
    const uint8_t *p;
    if (!tc_read_ref(r, 8, &p))
        return false;
    *v = tc_load_u64(p);
    return true;
}

void tc_buf_init(tc_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void tc_buf_free(tc_buf *b)
{
    tc_freezero(b->p, b->cap);
    tc_buf_init(b);
}

bool tc_buf_reserve(tc_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->cap - b->len >= extra)
        return true;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra)
        cap *= 2;
    /* Not realloc: the old block may hold secrets and must be wiped. */
    uint8_t *p = malloc(cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    if (b->len > 0)
        memcpy(p, b->p, b->len);
    tc_freezero(b->p, b->cap);
    b->p = p;
    b->cap = cap;
    return true;
}

void tc_buf_put(tc_buf *b, const void *p, size_t n)
{
    if (n == 0 || !tc_buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void tc_buf_put_u8(tc_buf *b, uint8_t v)
{
    tc_buf_put(b, &v, 1);
}

void tc_buf_put_u16(tc_buf *b, uint16_t v)
{
    uint8_t t[2];
    tc_store_u16(t, v);
    tc_buf_put(b, t, 2);
}

void tc_buf_put_u32(tc_buf *b, uint32_t v)
{
    uint8_t t[4];
    tc_store_u32(t, v);
    tc_buf_put(b, t, 4);
}

void tc_buf_put_u64(tc_buf *b, uint64_t v)
{
    uint8_t t[8];
    tc_store_u64(t, v);
    tc_buf_put(b, t, 8);
}

void tc_pad(uint8_t *dst, size_t len, const char *src)
{
    size_t n = strlen(src);
    memset(dst, ' ', len);
    memcpy(dst, src, n < len ? n : len);
}
