/*
 * Secret key values shared by reference between a key object and the
 * operations that use it: they are bound to the login they were opened
 * under, and the GCM contexts kept for reuse give the same results.
 */
#include "test_core_util.h"

#include "core/mech_int.h"

static const uint8_t aes_key[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
                                    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

static tcore_obj *store_aes_key(tc_env *e)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, &cls), ATTR(CKA_KEY_TYPE, &kt),
                           ATTR(CKA_TOKEN, &ck_true), ATTR(CKA_ENCRYPT, &ck_true),
                           ATTR(CKA_DECRYPT, &ck_true),
                           {CKA_VALUE, (void *)aes_key, sizeof(aes_key)}};
    tcore_obj *o = NULL;
    CK_OBJECT_HANDLE h;
    assert_int_equal(
        tcore_obj_new(e->t, as_user(), TCORE_ORIGIN_CREATE, 0, 0, tmpl, 6, NULL, 0, NULL, &o),
        CKR_OK);
    assert_int_equal(tcore_token_store_objects(e->t, &o, 1, &h), CKR_OK);
    return o;
}

static CK_RV gcm_encrypt(tcore_obj *key, const uint8_t iv[12], uint8_t out[48])
{
    CK_GCM_PARAMS gp = {(CK_BYTE_PTR)iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    tcore_op *op = NULL;
    CK_ULONG n = 48;
    uint8_t pt[32] = {0};
    CK_RV rv = tcore_op_init(TCORE_OP_ENCRYPT, &m, key, &op);
    if (rv != CKR_OK)
        return rv;
    rv = tcore_op_oneshot(op, pt, sizeof(pt), out, &n);
    tcore_op_free(op);
    return rv;
}

/* A reference (and an operation) held across a logout (the last hold of the
 * token key released) no longer gives the key: CKR_USER_NOT_LOGGED_IN, even
 * after a new login. */
static void test_ref_dies_with_logout(void **state)
{
    tc_env *e = *state;
    login_user(e);
    tcore_obj *key = store_aes_key(e);
    tcore_secret *s = NULL;
    size_t len = 0;
    assert_int_equal(tcore_obj_secret_ref(key, &s), CKR_OK);
    const uint8_t *v = tcore_secret_value(s, &len);
    assert_non_null(v);
    assert_int_equal(len, sizeof(aes_key));
    assert_memory_equal(v, aes_key, sizeof(aes_key));

    uint8_t iv[12] = {9};
    CK_GCM_PARAMS gp = {iv, 12, 96, NULL, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    tcore_op *op = NULL;
    assert_int_equal(tcore_op_init(TCORE_OP_ENCRYPT, &m, key, &op), CKR_OK);

    tcore_token_release(e->t);
    login_user(e);
    assert_null(tcore_secret_value(s, &len));
    uint8_t out[48];
    CK_ULONG n = sizeof(out);
    uint8_t pt[32] = {0};
    assert_int_equal(tcore_op_oneshot(op, pt, sizeof(pt), out, &n), CKR_USER_NOT_LOGGED_IN);
    tcore_op_free(op);
    tcore_secret_unref(s);
    /* A new operation opens the key under the new login. */
    assert_int_equal(gcm_encrypt(key, iv, out), CKR_OK);
    tcore_obj_unref(key);
}

/* Operations that reuse a kept GCM context give the one-shot's results. */
static void test_reused_gcm_context(void **state)
{
    tc_env *e = *state;
    login_user(e);
    tcore_obj *key = store_aes_key(e);
    uint8_t pt[32] = {0};
    for (int i = 0; i < 3; i++) {
        uint8_t iv[12] = {(uint8_t)i};
        uint8_t got[48], want[48];
        assert_int_equal(gcm_encrypt(key, iv, got), CKR_OK);
        assert_int_equal(tcrypto_gcm_encrypt(aes_key, sizeof(aes_key), iv, 12, NULL, 0, pt,
                                             sizeof(pt), want, want + 32, 16),
                         TCRYPTO_OK);
        assert_memory_equal(got, want, sizeof(want));
    }
    tcore_obj_unref(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ref_dies_with_logout, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_reused_gcm_context, env_setup, env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
