/* Helpers shared by the crypto unit tests. */
#ifndef TEST_CRYPTO_UTIL_H
#define TEST_CRYPTO_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/tcrypto.h"

static inline int t_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode hex into a malloc'd buffer (at least 1 byte); *len gets the size. */
static inline uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    assert_int_equal(n % 2, 0);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = t_hexval(hex[2 * i]), lo = t_hexval(hex[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

static inline void assert_hex(const uint8_t *got, size_t gotlen, const char *hex)
{
    size_t n;
    uint8_t *want = unhex(hex, &n);
    assert_int_equal(gotlen, n);
    assert_memory_equal(got, want, n);
    free(want);
}

#define assert_rc(expr, rc) assert_int_equal((int)(expr), (int)(rc))

#endif
