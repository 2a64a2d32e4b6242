/* Dispatch: response codes for malformed commands, authorisation failures
 * and the command table, on an in-memory TPM (no state directory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tpm/ttpm.h"

static ttpm *T;

static uint32_t run(const uint8_t *cmd, size_t len, tc_buf *resp)
{
    tc_buf_init(resp);
    ttpm_execute(T, cmd, len, resp);
    assert_false(resp->failed);
    assert_true(resp->len >= 10);
    assert_int_equal(tc_load_u32(resp->p + 2), resp->len);
    return tc_load_u32(resp->p + 6);
}

/* Build tag/size/cc + body. */
static uint32_t cmd(uint16_t tag, uint32_t cc, const uint8_t *body, size_t n, tc_buf *resp)
{
    tc_buf b;
    tc_buf_init(&b);
    tc_buf_put_u16(&b, tag);
    tc_buf_put_u32(&b, (uint32_t)(10 + n));
    tc_buf_put_u32(&b, cc);
    tc_buf_put(&b, body, n);
    uint32_t rc = run(b.p, b.len, resp);
    tc_buf_free(&b);
    return rc;
}

static uint32_t simple(uint16_t tag, uint32_t cc, const uint8_t *body, size_t n)
{
    tc_buf r;
    uint32_t rc = cmd(tag, cc, body, n, &r);
    tc_buf_free(&r);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    T = ttpm_new(NULL);
    return T ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ttpm_free(T);
    return 0;
}

static void test_table_sorted(void **state)
{
    (void)state;
    size_t n;
    const ttpm_cmd_info *t = ttpm_cmd_table(&n);
    assert_true(n > 60);
    for (size_t i = 1; i < n; i++)
        assert_true(t[i - 1].cc < t[i].cc);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(ttpm_cmd_lookup(t[i].cc), &t[i]);
        assert_true(t[i].auths <= t[i].handles);
    }
    assert_null(ttpm_cmd_lookup(0x1FF));
}

static void test_startup_rules(void **state)
{
    (void)state;
    uint8_t clear[2] = { 0, 0 }, state_su[2] = { 0, 1 }, bad[2] = { 0, 7 }, n8[2] = { 0, 8 };
    /* nothing before Startup */
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x17B, n8, 2), TPM_RC_INITIALIZE);
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x144, bad, 2), TPM_RC_VALUE | TTPM_RC_P(1));
    /* Startup(STATE) without a saved state */
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x144, state_su, 2), TPM_RC_VALUE | TTPM_RC_P(1));
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x144, clear, 2), TPM_RC_SUCCESS);
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x144, clear, 2), TPM_RC_INITIALIZE);
    tc_buf r;
    assert_int_equal(cmd(TPM_ST_NO_SESSIONS, 0x17B, n8, 2, &r), TPM_RC_SUCCESS);
    assert_int_equal(r.len, 10 + 2 + 8);
    tc_buf_free(&r);
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t c[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8 };
    tc_buf r;
    /* size field disagrees with the length */
    c[5] = 13;
    assert_int_equal(run(c, sizeof(c), &r), TPM_RC_COMMAND_SIZE);
    tc_buf_free(&r);
    c[5] = 12;
    /* bad tag */
    c[1] = 0x03;
    assert_int_equal(run(c, sizeof(c), &r), TPM_RC_BAD_TAG);
    tc_buf_free(&r);
    c[1] = 0x01;
    /* shorter than a header */
    assert_int_equal(run(c, 6, &r), TPM_RC_COMMAND_SIZE);
    tc_buf_free(&r);
    /* unknown command code */
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x1234, NULL, 0), TPM_RC_COMMAND_CODE);
    /* truncated parameter */
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x17B, c, 1), TPM_RC_INSUFFICIENT | TTPM_RC_P(1));
    /* missing handle */
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x173, NULL, 0), TPM_RC_INSUFFICIENT);
    /* handle of an object that is not loaded */
    uint8_t h[4] = { 0x80, 0, 0, 5 };
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x173, h, 4), TPM_RC_REFERENCE_H0);
    /* a command that needs authorisation, sent without sessions */
    uint8_t owner[4] = { 0x40, 0, 0, 1 };
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x131, owner, 4), TPM_RC_AUTH_MISSING);
    /* authorization area larger than the rest of the command */
    uint8_t big[8] = { 0x40, 0, 0, 1, 0, 0, 0x10, 0 };
    assert_int_equal(simple(TPM_ST_SESSIONS, 0x131, big, 8), TPM_RC_AUTHSIZE);
    /* octets after the last parameter (Part 3 §5.2) */
    uint8_t extra[3] = { 0, 8, 0 };
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x17B, extra, 3), TPM_RC_SIZE);
    uint8_t stir[4] = { 0, 1, 0xAA, 0xBB };
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x146, stir, 4), TPM_RC_SIZE);
    /* unknown capability */
    uint8_t cap[12] = { 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 1 };
    assert_int_equal(simple(TPM_ST_NO_SESSIONS, 0x17A, cap, 12), TPM_RC_VALUE | TTPM_RC_P(1));
}

/* HierarchyChangeAuth(owner) with a password session, then a wrong password. */
static uint32_t change_owner_auth(const char *pw, const char *newpw)
{
    tc_buf b;
    tc_buf_init(&b);
    tc_buf_put_u32(&b, TPM_RH_OWNER);
    tc_buf_put_u32(&b, (uint32_t)(9 + strlen(pw)));
    tc_buf_put_u32(&b, TPM_RS_PW);
    tc_buf_put_u16(&b, 0);
    tc_buf_put_u8(&b, 1);
    ttpm_put_2b(&b, pw, (uint16_t)strlen(pw));
    ttpm_put_2b(&b, newpw, (uint16_t)strlen(newpw));
    uint32_t rc = simple(TPM_ST_SESSIONS, 0x129, b.p, b.len);
    tc_buf_free(&b);
    return rc;
}

static void test_password_auth(void **state)
{
    (void)state;
    assert_int_equal(change_owner_auth("", "abc"), TPM_RC_SUCCESS);
    /* ownerAuth is not DA protected: TPM_RC_BAD_AUTH for session 1 */
    assert_int_equal(change_owner_auth("wrong", "x"), TPM_RC_BAD_AUTH | TTPM_RC_S(1));
    assert_int_equal(change_owner_auth("abc", ""), TPM_RC_SUCCESS);
    /* a password session with a nonce is malformed */
    tc_buf b;
    tc_buf_init(&b);
    tc_buf_put_u32(&b, TPM_RH_OWNER);
    tc_buf_put_u32(&b, 10);
    tc_buf_put_u32(&b, TPM_RS_PW);
    tc_buf_put_u16(&b, 1);
    tc_buf_put_u8(&b, 0xAA);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u16(&b, 0);
    tc_buf_put_u16(&b, 0);
    assert_int_equal(simple(TPM_ST_SESSIONS, 0x129, b.p, b.len), TPM_RC_NONCE | TTPM_RC_S(1));
    tc_buf_free(&b);
    /* a session handle that does not exist */
    tc_buf_init(&b);
    tc_buf_put_u32(&b, TPM_RH_OWNER);
    tc_buf_put_u32(&b, 9);
    tc_buf_put_u32(&b, 0x02000011);
    tc_buf_put_u16(&b, 0);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u16(&b, 0);
    tc_buf_put_u16(&b, 0);
    assert_int_equal(simple(TPM_ST_SESSIONS, 0x129, b.p, b.len), TPM_RC_REFERENCE_S0);
    tc_buf_free(&b);
}

static void test_pcr_extend_and_read(void **state)
{
    (void)state;
    tc_buf b;
    tc_buf_init(&b);
    tc_buf_put_u32(&b, 16);
    tc_buf_put_u32(&b, 9);
    tc_buf_put_u32(&b, TPM_RS_PW);
    tc_buf_put_u16(&b, 0);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u16(&b, 0);
    tc_buf_put_u32(&b, 1);
    tc_buf_put_u16(&b, TPM_ALG_SHA256);
    uint8_t d[32] = { 0 };
    d[31] = 1;
    tc_buf_put(&b, d, 32);
    assert_int_equal(simple(TPM_ST_SESSIONS, 0x182, b.p, b.len), TPM_RC_SUCCESS);
    /* a digest of the wrong hash is TPM_RC_HASH on parameter 1 */
    b.p[b.len - 34] = 0x00;
    b.p[b.len - 33] = 0x55;
    assert_int_equal(simple(TPM_ST_SESSIONS, 0x182, b.p, b.len), TPM_RC_HASH | TTPM_RC_P(1));
    tc_buf_free(&b);
    /* read it back */
    uint8_t sel[] = { 0, 0, 0, 1, 0, 0x0B, 3, 0, 0, 1 };
    tc_buf r;
    assert_int_equal(cmd(TPM_ST_NO_SESSIONS, 0x17E, sel, sizeof(sel), &r), TPM_RC_SUCCESS);
    uint8_t want[32], zero[64] = { 0 };
    tcrypto_tpm_iov v[2] = { { zero, 32 }, { d, 32 } };
    assert_int_equal(tcrypto_tpm_hash(TPM_ALG_SHA256, v, 2, want), TCRYPTO_OK);
    assert_memory_equal(r.p + r.len - 32, want, 32);
    tc_buf_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sorted),      cmocka_unit_test(test_startup_rules),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_password_auth),
        cmocka_unit_test(test_pcr_extend_and_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
