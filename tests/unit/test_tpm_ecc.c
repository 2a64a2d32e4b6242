/* EC arithmetic of the crypto layer for EC_Ephemeral, Commit, ECDAA and
 * ZGen_2Phase (src/crypto/tpm_ecc.c): P-256 known answers (G, 2G from the
 * curve's definition; reductions computed with Python integers) and the
 * must-fail cases (scalar 0 or n, points off the curve, long inputs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/tcrypto.h"
#include "crypto/tcrypto_tpm.h"
#include "crypto/tcrypto_tpm_ecc.h"

#define P256 0x0003

static void unhex(const char *h, uint8_t *out)
{
    size_t l = strlen(h) / 2;
    for (size_t i = 0; i < l; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static const char *GX = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
static const char *GY = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
static const char *N = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

static int setup(void **state)
{
    (void)state;
    return tcrypto_init() == TCRYPTO_OK ? 0 : -1;
}

static void test_mul(void **state)
{
    (void)state;
    uint8_t gx[32], gy[32], k[32] = { 0 }, x[32], y[32], want[32], n[32];
    unhex(GX, gx);
    unhex(GY, gy);
    unhex(N, n);
    k[31] = 1;
    assert_int_equal(tcrypto_tpm_ecc_mul(P256, k, 32, NULL, 0, NULL, 0, x, y), TCRYPTO_OK);
    assert_memory_equal(x, gx, 32);
    assert_memory_equal(y, gy, 32);
    k[31] = 2;
    assert_int_equal(tcrypto_tpm_ecc_mul(P256, k, 32, NULL, 0, NULL, 0, x, y), TCRYPTO_OK);
    unhex("7cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc47669978", want);
    assert_memory_equal(x, want, 32);
    unhex("07775510db8ed040293d9ac69f7430dbba7dade63ce982299e04b79d227873d1", want);
    assert_memory_equal(y, want, 32);
    /* [2]G through an explicit point and a one-octet scalar */
    uint8_t two = 2, x2[32], y2[32];
    assert_int_equal(tcrypto_tpm_ecc_mul(P256, &two, 1, gx, 32, gy, 32, x2, y2), TCRYPTO_OK);
    assert_memory_equal(x2, x, 32);
    assert_memory_equal(y2, y, 32);
    /* must fail: scalar 0 or n, a point off the curve, oversized input */
    memset(k, 0, sizeof(k));
    memset(x2, 0xAA, sizeof(x2));
    assert_int_equal(tcrypto_tpm_ecc_mul(P256, k, 32, NULL, 0, NULL, 0, x2, y2), TCRYPTO_ERR_INPUT);
    assert_int_equal(x2[0], 0xAA); /* nothing written */
    assert_int_equal(tcrypto_tpm_ecc_mul(P256, n, 32, NULL, 0, NULL, 0, x2, y2), TCRYPTO_ERR_INPUT);
    gy[31] ^= 1;
    assert_int_equal(tcrypto_tpm_ecc_mul(P256, &two, 1, gx, 32, gy, 32, x2, y2), TCRYPTO_ERR_KEY);
    uint8_t big[33] = { 0 };
    big[32] = 1;
    assert_int_equal(tcrypto_tpm_ecc_mul(P256, big, 33, NULL, 0, NULL, 0, x2, y2), TCRYPTO_ERR_INPUT);
    assert_int_equal(tcrypto_tpm_ecc_mul(0x0099, &two, 1, NULL, 0, NULL, 0, x2, y2),
                     TCRYPTO_ERR_UNSUPPORTED);
}

static void test_on_curve(void **state)
{
    (void)state;
    uint8_t gx[32], gy[32];
    unhex(GX, gx);
    unhex(GY, gy);
    assert_int_equal(tcrypto_tpm_ecc_on_curve(P256, gx, 32, gy, 32), TCRYPTO_OK);
    gy[0] ^= 0x80;
    assert_int_equal(tcrypto_tpm_ecc_on_curve(P256, gx, 32, gy, 32), TCRYPTO_ERR_KEY);
    assert_int_equal(tcrypto_tpm_ecc_on_curve(P256, gx, 0, gy, 0), TCRYPTO_ERR_KEY);
}

static void test_reductions(void **state)
{
    (void)state;
    uint8_t in[40], out[32], want[32];
    memset(in, 0xFF, sizeof(in));
    assert_int_equal(tcrypto_tpm_ecc_scalar(P256, in, sizeof(in), out), TCRYPTO_OK);
    unhex("fffffffe00000001431905529c0166cd22159165b6faae71f756a572fc632550", want);
    assert_memory_equal(out, want, 32);
    /* zero maps to 1: never the invalid scalar 0 */
    memset(in, 0, sizeof(in));
    assert_int_equal(tcrypto_tpm_ecc_scalar(P256, in, sizeof(in), out), TCRYPTO_OK);
    memset(want, 0, 32);
    want[31] = 1;
    assert_memory_equal(out, want, 32);
    /* (p + 5) mod p = 5 */
    uint8_t p5[33];
    unhex("00ffffffff00000001000000000000000000000001000000000000000000000004", p5);
    assert_int_equal(tcrypto_tpm_ecc_mod_p(P256, p5, 33, out), TCRYPTO_OK);
    memset(want, 0, 32);
    want[31] = 5;
    assert_memory_equal(out, want, 32);
}

static void test_daa_s(void **state)
{
    (void)state;
    uint8_t r = 1, c = 2, d = 3, out[32], want[32] = { 0 }, n[32];
    assert_int_equal(tcrypto_tpm_ecc_daa_s(P256, &r, 1, &c, 1, &d, 1, out), TCRYPTO_OK);
    want[31] = 7;
    assert_memory_equal(out, want, 32);
    /* c is reduced mod n first: c = n + 2 gives the same s */
    unhex(N, n);
    uint8_t cn[33] = { 0 };
    memcpy(cn + 1, n, 32);
    cn[32] = (uint8_t)(cn[32] + 2); /* n ends in 0x51: no carry */
    assert_int_equal(tcrypto_tpm_ecc_daa_s(P256, &r, 1, cn, 33, &d, 1, out), TCRYPTO_OK);
    assert_memory_equal(out, want, 32);
    /* (n - 1) + 1 * 1 = 0 mod n */
    uint8_t nm1[32];
    memcpy(nm1, n, 32);
    nm1[31]--;
    uint8_t one = 1;
    assert_int_equal(tcrypto_tpm_ecc_daa_s(P256, nm1, 32, &one, 1, &one, 1, out), TCRYPTO_OK);
    memset(want, 0, 32);
    assert_memory_equal(out, want, 32);
    /* an oversized scalar is refused */
    uint8_t big[33] = { 1 };
    assert_int_equal(tcrypto_tpm_ecc_daa_s(P256, big, 33, &one, 1, &one, 1, out), TCRYPTO_ERR_INPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mul),
        cmocka_unit_test(test_on_curve),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_daa_s),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
