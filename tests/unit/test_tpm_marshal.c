/* TPM codec: round trips and must-fail decodes with the Part 2 codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tpm/ttpm.h"

static ttpm_public rsa_template(void)
{
    ttpm_public p;
    memset(&p, 0, sizeof(p));
    p.type = TPM_ALG_RSA;
    p.name_alg = TPM_ALG_SHA256;
    p.attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_RESTRICTED |
              TPMA_OBJECT_DECRYPT | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SENSITIVEDATAORIGIN;
    p.sym_alg = TPM_ALG_AES;
    p.sym_bits = 128;
    p.sym_mode = TPM_ALG_CFB;
    p.scheme = TPM_ALG_NULL;
    p.key_bits = 2048;
    p.x_len = 256;
    memset(p.x, 0xA5, 256);
    return p;
}

static ttpm_public ecc_template(void)
{
    ttpm_public p;
    memset(&p, 0, sizeof(p));
    p.type = TPM_ALG_ECC;
    p.name_alg = TPM_ALG_SHA256;
    p.attrs = TPMA_OBJECT_SIGN | TPMA_OBJECT_USERWITHAUTH;
    p.policy_len = 32;
    memset(p.policy, 7, 32);
    p.sym_alg = TPM_ALG_NULL;
    p.scheme = TPM_ALG_ECDSA;
    p.scheme_hash = TPM_ALG_SHA384;
    p.curve = TPM_ECC_NIST_P384;
    p.kdf = TPM_ALG_NULL;
    p.x_len = p.y_len = 48;
    memset(p.x, 1, 48);
    memset(p.y, 2, 48);
    return p;
}

static void roundtrip(const ttpm_public *p)
{
    tc_buf b;
    tc_buf_init(&b);
    ttpm_put_public_2b(&b, p);
    assert_false(b.failed);
    tc_reader r;
    ttpm_public q;
    tc_reader_init(&r, b.p, b.len);
    assert_int_equal(ttpm_get_public_2b(&r, &q), TPM_RC_SUCCESS);
    assert_int_equal(tc_reader_left(&r), 0);
    tc_buf b2;
    tc_buf_init(&b2);
    ttpm_put_public_2b(&b2, &q);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.p, b2.p, b.len);
    /* every truncation is TPM_RC_INSUFFICIENT (inner) or SIZE (outer) */
    for (size_t n = 0; n + 1 < b.len; n++) {
        tc_reader_init(&r, b.p, n);
        ttpm_rc rc = ttpm_get_public_2b(&r, &q);
        assert_true(rc == TPM_RC_INSUFFICIENT || rc == TPM_RC_SIZE);
    }
    tc_buf_free(&b);
    tc_buf_free(&b2);
}

static void test_public_roundtrip(void **state)
{
    (void)state;
    ttpm_public p = rsa_template();
    roundtrip(&p);
    p = ecc_template();
    roundtrip(&p);
    memset(&p, 0, sizeof(p));
    p.type = TPM_ALG_KEYEDHASH;
    p.name_alg = TPM_ALG_SHA1;
    p.scheme = TPM_ALG_XOR;
    p.scheme_hash = TPM_ALG_SHA256;
    p.kdf_hash = TPM_ALG_KDF1_SP800_108;
    p.x_len = 20;
    roundtrip(&p);
    memset(&p, 0, sizeof(p));
    p.type = TPM_ALG_SYMCIPHER;
    p.name_alg = TPM_ALG_SHA256;
    p.sym_alg = TPM_ALG_AES;
    p.sym_bits = 256;
    p.sym_mode = TPM_ALG_CBC;
    p.x_len = 32;
    roundtrip(&p);
}

/* Patch a byte of a marshalled public area and expect rc. */
static void expect_public_rc(const ttpm_public *p, size_t off, uint8_t hi, uint8_t lo, ttpm_rc want)
{
    tc_buf b;
    tc_buf_init(&b);
    ttpm_put_public(&b, p);
    b.p[off] = hi;
    b.p[off + 1] = lo;
    tc_reader r;
    ttpm_public q;
    tc_reader_init(&r, b.p, b.len);
    assert_int_equal(ttpm_get_public(&r, &q), want);
    tc_buf_free(&b);
}

static void test_public_must_fail(void **state)
{
    (void)state;
    ttpm_public p = rsa_template();
    expect_public_rc(&p, 0, 0x00, 0x99, TPM_RC_TYPE);       /* type */
    expect_public_rc(&p, 2, 0x00, 0x99, TPM_RC_HASH);       /* nameAlg */
    expect_public_rc(&p, 8, 0x00, 0x41, TPM_RC_SIZE);       /* authPolicy > 64 */
    expect_public_rc(&p, 10, 0x00, 0x30, TPM_RC_SYMMETRIC); /* symmetric alg */
    expect_public_rc(&p, 12, 0x00, 0x50, TPM_RC_KEY_SIZE);  /* AES key bits */
    expect_public_rc(&p, 14, 0x00, 0x99, TPM_RC_MODE);      /* mode */
    expect_public_rc(&p, 16, 0x00, 0x18, TPM_RC_SCHEME);    /* ECDSA on RSA */
    expect_public_rc(&p, 24, 0x02, 0x01, TPM_RC_SIZE);      /* modulus > 512 */
    ttpm_public e = ecc_template();
    /* ECC: type 0, nameAlg 2, attrs 4, policy 8 (2+32), sym 42, scheme 44 (+hash), curve 48 */
    expect_public_rc(&e, 48, 0x00, 0x01, TPM_RC_CURVE);
    expect_public_rc(&e, 50, 0x00, 0x77, TPM_RC_KDF);

    /* a TPM2B_PUBLIC whose size covers trailing bytes is TPM_RC_SIZE */
    tc_buf b;
    tc_buf_init(&b);
    ttpm_put_public_2b(&b, &p);
    tc_buf_put_u8(&b, 0);
    tc_store_u16(b.p, (uint16_t)(b.len - 2));
    tc_reader r;
    ttpm_public q;
    tc_reader_init(&r, b.p, b.len);
    assert_int_equal(ttpm_get_public_2b(&r, &q), TPM_RC_SIZE);
    tc_buf_free(&b);
    /* empty TPM2B_PUBLIC */
    uint8_t z[2] = { 0, 0 };
    tc_reader_init(&r, z, 2);
    assert_int_equal(ttpm_get_public_2b(&r, &q), TPM_RC_SIZE);
}

static void test_template_rules(void **state)
{
    (void)state;
    ttpm_public p = rsa_template();
    assert_int_equal(ttpm_check_template(&p, true, false), TPM_RC_SUCCESS);
    p.attrs |= TPMA_OBJECT_SIGN; /* restricted sign + decrypt */
    assert_int_equal(ttpm_check_template(&p, true, false), TPM_RC_ATTRIBUTES);
    p = rsa_template();
    p.sym_alg = TPM_ALG_NULL; /* storage key without symmetric */
    assert_int_equal(ttpm_check_template(&p, true, false), TPM_RC_SYMMETRIC);
    p = rsa_template();
    p.attrs |= 0x1; /* reserved bit */
    assert_int_equal(ttpm_check_template(&p, true, false), TPM_RC_RESERVED_BITS);
    p = rsa_template();
    p.attrs &= ~TPMA_OBJECT_FIXEDPARENT; /* fixedTPM without fixedParent */
    assert_int_equal(ttpm_check_template(&p, true, false), TPM_RC_ATTRIBUTES);
    p = rsa_template();
    p.key_bits = 1000;
    assert_int_equal(ttpm_check_template(&p, true, false), TPM_RC_KEY_SIZE);
    ttpm_public e = ecc_template();
    assert_int_equal(ttpm_check_template(&e, false, false), TPM_RC_SUCCESS);
    e.attrs = TPMA_OBJECT_DECRYPT | TPMA_OBJECT_USERWITHAUTH; /* ECDSA without sign */
    assert_int_equal(ttpm_check_template(&e, false, false), TPM_RC_SCHEME);
}

static void test_pcr_selection(void **state)
{
    (void)state;
    ttpm_pcr_sel s, t;
    memset(&s, 0, sizeof(s));
    s.count = 2;
    s.sel[0].hash = TPM_ALG_SHA256;
    s.sel[0].size = 3;
    s.sel[0].bits[0] = 0x81;
    s.sel[1].hash = TPM_ALG_SHA1;
    s.sel[1].size = 3;
    s.sel[1].bits[2] = 0x80;
    tc_buf b;
    tc_buf_init(&b);
    ttpm_put_pcr_sel(&b, &s);
    tc_reader r;
    tc_reader_init(&r, b.p, b.len);
    assert_int_equal(ttpm_get_pcr_sel(&r, &t), TPM_RC_SUCCESS);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.sel[0].bits[0], 0x81);
    assert_int_equal(t.sel[1].bits[2], 0x80);
    /* count above HASH_COUNT, sizeofSelect above PCR_SELECT_MAX, unknown hash */
    uint8_t big[] = { 0, 0, 0, 9 };
    tc_reader_init(&r, big, sizeof(big));
    assert_int_equal(ttpm_get_pcr_sel(&r, &t), TPM_RC_SIZE);
    uint8_t wide[] = { 0, 0, 0, 1, 0, 0x0B, 5, 0, 0, 0, 0, 0 };
    tc_reader_init(&r, wide, sizeof(wide));
    assert_int_equal(ttpm_get_pcr_sel(&r, &t), TPM_RC_VALUE);
    uint8_t hash[] = { 0, 0, 0, 1, 0, 0x42, 3, 0, 0, 0 };
    tc_reader_init(&r, hash, sizeof(hash));
    assert_int_equal(ttpm_get_pcr_sel(&r, &t), TPM_RC_HASH);
    uint8_t shortb[] = { 0, 0, 0, 1, 0, 0x0B, 3, 0 };
    tc_reader_init(&r, shortb, sizeof(shortb));
    assert_int_equal(ttpm_get_pcr_sel(&r, &t), TPM_RC_INSUFFICIENT);
    tc_buf_free(&b);
}

static void test_sensitive_and_signature(void **state)
{
    (void)state;
    ttpm_sensitive s, t;
    memset(&s, 0, sizeof(s));
    s.type = TPM_ALG_ECC;
    s.auth_len = 5;
    memcpy(s.auth, "hello", 5);
    s.sens_len = 32;
    memset(s.sens, 9, 32);
    tc_buf b;
    tc_buf_init(&b);
    ttpm_put_sensitive(&b, &s);
    tc_reader r;
    tc_reader_init(&r, b.p, b.len);
    assert_int_equal(ttpm_get_sensitive(&r, &t), TPM_RC_SUCCESS);
    assert_int_equal(t.auth_len, 5);
    assert_memory_equal(t.sens, s.sens, 32);
    b.p[1] = 0x99; /* type */
    tc_reader_init(&r, b.p, b.len);
    assert_int_equal(ttpm_get_sensitive(&r, &t), TPM_RC_TYPE);
    tc_buf_free(&b);

    ttpm_signature g, h;
    memset(&g, 0, sizeof(g));
    g.alg = TPM_ALG_ECDSA;
    g.hash = TPM_ALG_SHA256;
    g.a_len = g.b_len = 32;
    memset(g.a, 1, 32);
    memset(g.b, 2, 32);
    tc_buf_init(&b);
    ttpm_put_signature(&b, &g);
    tc_reader_init(&r, b.p, b.len);
    assert_int_equal(ttpm_get_signature(&r, &h), TPM_RC_SUCCESS);
    assert_memory_equal(h.b, g.b, 32);
    b.p[1] = 0x55; /* unknown scheme */
    tc_reader_init(&r, b.p, b.len);
    assert_int_equal(ttpm_get_signature(&r, &h), TPM_RC_SCHEME);
    tc_buf_free(&b);
}

static void test_2b_bounds(void **state)
{
    (void)state;
    uint8_t buf[] = { 0x00, 0x05, 1, 2, 3 };
    tc_reader r;
    ttpm_ref ref;
    tc_reader_init(&r, buf, sizeof(buf));
    assert_int_equal(ttpm_get_2b(&r, 64, &ref), TPM_RC_INSUFFICIENT);
    assert_int_equal(r.off, 0); /* reader unchanged on failure */
    buf[1] = 3;
    tc_reader_init(&r, buf, sizeof(buf));
    assert_int_equal(ttpm_get_2b(&r, 2, &ref), TPM_RC_SIZE);
    tc_reader_init(&r, buf, sizeof(buf));
    assert_int_equal(ttpm_get_2b(&r, 3, &ref), TPM_RC_SUCCESS);
    assert_int_equal(ref.size, 3);
    /* response-code helpers */
    assert_int_equal(ttpm_rc_param(TPM_RC_SIZE, 2), 0x2D5);
    assert_int_equal(ttpm_rc_handle(TPM_RC_HANDLE, 1), 0x18B);
    assert_int_equal(ttpm_rc_session(TPM_RC_AUTH_FAIL, 1), 0x98E);
    assert_int_equal(ttpm_rc_param(TPM_RC_INITIALIZE, 1), TPM_RC_INITIALIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_roundtrip),       cmocka_unit_test(test_public_must_fail),
        cmocka_unit_test(test_template_rules),         cmocka_unit_test(test_pcr_selection),
        cmocka_unit_test(test_sensitive_and_signature), cmocka_unit_test(test_2b_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
