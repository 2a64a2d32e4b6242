/*
 * Opened keys under secure-heap pressure: when opening a key fails for lack
 * of secure memory, the core drops the opened keys of cached objects nobody
 * holds and tries once more. Own program: it fills the process-wide heap.
 */
#include "test_core_util.h"

#define NKEYS 32
#define MAX_FILL 100000

static CK_OBJECT_HANDLE store_ec_key(tc_env *e)
{
    tcrypto_pkey *k = NULL;
    tcore_obj *o = NULL;
    CK_OBJECT_HANDLE h = 0;
    assert_int_equal(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_OK);
    tcore_keymat m = {.pkey = k};
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_TOKEN, &ck_true), ATTR(CKA_SIGN, &ck_true)};
    assert_int_equal(tcore_obj_new(e->t, as_user(), TCORE_ORIGIN_GENERATE, CKO_PRIVATE_KEY, CKK_EC,
                                   tmpl, 2, &m, CKM_EC_KEY_PAIR_GEN, NULL, &o),
                     CKR_OK);
    assert_int_equal(tcore_token_store_objects(e->t, &o, 1, &h), CKR_OK);
    tcore_obj_unref(o);
    tcrypto_pkey_free(k);
    return h;
}

static void sign_with(tcore_obj *o)
{
    tcrypto_pkey *k = NULL;
    uint8_t digest[32] = {1, 2, 3};
    uint8_t sig[132];
    size_t siglen = sizeof(sig);
    tcrypto_sig_params sp = {.scheme = TCRYPTO_SIG_ECDSA, .md = TCRYPTO_MD_SHA256};
    assert_int_equal(tcore_obj_pkey(o, &k), CKR_OK);
    assert_int_equal(tcrypto_sign(k, &sp, digest, sizeof(digest), sig, &siglen), TCRYPTO_OK);
    assert_int_equal(tcrypto_verify(k, &sp, digest, sizeof(digest), sig, siglen), TCRYPTO_OK);
    tcrypto_pkey_free(k);
}

/* Load copies of one new key of this type until the heap is full. */
static int fill_with(tcrypto_pkey **fill, int n, tcrypto_key_type type)
{
    tcrypto_pkey *k = NULL;
    static uint8_t der[4096];
    size_t dlen = sizeof(der);
    tcrypto_rc rc = TCRYPTO_OK;
    if (type == TCRYPTO_KEY_RSA)
        assert_int_equal(tcrypto_rsa_generate(2048, NULL, 0, &k), TCRYPTO_OK);
    else
        assert_int_equal(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_OK);
    assert_int_equal(tcrypto_pkey_to_pkcs8(k, der, &dlen), TCRYPTO_OK);
    tcrypto_pkey_free(k);
    for (; n < MAX_FILL; n++) {
        rc = tcrypto_pkey_from_pkcs8(der, dlen, &fill[n]);
        if (rc != TCRYPTO_OK)
            break;
    }
    assert_int_equal(rc, TCRYPTO_ERR_NOMEM);
    return n;
}

static void test_open_after_eviction(void **state)
{
    tc_env *e = *state;
    CK_OBJECT_HANDLE h[NKEYS + 1];
    tcore_obj *held[NKEYS];
    tcore_obj *last = NULL;
    login_user(e);
    for (int i = 0; i <= NKEYS; i++)
        h[i] = store_ec_key(e);
    /* Start from a cache with nothing opened. */
    tcore_token_release(e->t);
    login_user(e);

    /* Open NKEYS keys and keep holding them. */
    for (int i = 0; i < NKEYS; i++) {
        assert_int_equal(tcore_token_object(e->t, h[i], true, &held[i]), CKR_OK);
        sign_with(held[i]);
    }
    assert_int_equal(tcore_token_object(e->t, h[NKEYS], true, &last), CKR_OK);

    /* Fill the secure heap with private keys of our own: RSA keys for
     * the bulk (few of them fill it), then EC keys for the last gaps. */
    tcrypto_pkey **fill = calloc(MAX_FILL, sizeof(*fill));
    assert_non_null(fill);
    int n = fill_with(fill, 0, TCRYPTO_KEY_RSA);
    n = fill_with(fill, n, TCRYPTO_KEY_EC);
    print_message("private keys filling the secure heap: %d\n", n);

    /* Must fail: every opened key is in use, nothing may be dropped. */
    tcrypto_pkey *pk = NULL;
    assert_int_equal(tcore_obj_pkey(last, &pk), CKR_HOST_MEMORY);
    assert_null(pk);
    /* The keys in use were left alone (signing itself needs secure
     * memory, so only the opened key is checked here). */
    assert_int_equal(tcore_obj_pkey(held[0], &pk), CKR_OK);
    tcrypto_pkey_free(pk);

    /* Once only the cache holds them, their opened keys make room. */
    for (int i = 0; i < NKEYS; i++)
        tcore_obj_unref(held[i]);
    sign_with(last);

    for (int i = 0; i < n; i++)
        tcrypto_pkey_free(fill[i]);
    free(fill);
    tcore_obj_unref(last);
    /* The dropped keys open again when used. */
    assert_int_equal(tcore_token_object(e->t, h[0], true, &last), CKR_OK);
    sign_with(last);
    tcore_obj_unref(last);
    tcore_token_release(e->t);
    assert_false(tcore_token_key_available(e->t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_after_eviction, env_setup, env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
