/*
 * Pairwise-consistency test failure (DESIGN.md "Crypto"): a key pair whose
 * halves do not match fails the test, and the failure puts the module in the
 * permanent error state. Own program because that state is per process.
 */
#include "test_crypto_util.h"

/* Internal to the crypto layer (crypto_int.h); declared here so the test
 * does not pull OpenSSL headers in. */
tcrypto_rc tcx_pairwise_test(const tcrypto_pkey *k);

static void test_pct_passes_for_real_pair(void **state)
{
    (void)state;
    tcrypto_pkey *k = NULL;
    assert_rc(tcrypto_init(), TCRYPTO_OK);
    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_OK);
    assert_rc(tcx_pairwise_test(k), TCRYPTO_OK);
    tcrypto_pkey_free(k);
    assert_rc(tcrypto_raw_generate(TCRYPTO_KEY_X448, &k), TCRYPTO_OK);
    assert_rc(tcx_pairwise_test(k), TCRYPTO_OK);
    tcrypto_pkey_free(k);
    assert_false(tcrypto_in_error());
}

static void test_pct_failure_enters_error_state(void **state)
{
    (void)state;
    /* A key whose public exponent does not match its private half: e = 3
     * with the factors and d of a key made for e = 65537 (import only
     * checks p * q = n; the pairwise test catches the rest). */
    tcrypto_pkey *a = NULL, *bad = NULL;
    assert_rc(tcrypto_rsa_generate(1024, NULL, 0, &a), TCRYPTO_OK);
    static const tcrypto_part ids[7] = {TCRYPTO_PART_RSA_N,  TCRYPTO_PART_RSA_D,
                                        TCRYPTO_PART_RSA_P,  TCRYPTO_PART_RSA_Q,
                                        TCRYPTO_PART_RSA_DP, TCRYPTO_PART_RSA_DQ,
                                        TCRYPTO_PART_RSA_QINV};
    uint8_t v[7][128];
    size_t l[7];
    for (int i = 0; i < 7; i++) {
        l[i] = sizeof(v[i]);
        assert_rc(tcrypto_pkey_get_part(a, ids[i], v[i], &l[i]), TCRYPTO_OK);
    }
    static const uint8_t three = 3;
    tcrypto_rsa_parts parts = {.n = v[0], .e = &three, .d = v[1], .p = v[2], .q = v[3],
                               .dp = v[4], .dq = v[5], .qinv = v[6],
                               .n_len = l[0], .e_len = 1, .d_len = l[1], .p_len = l[2],
                               .q_len = l[3], .dp_len = l[4], .dq_len = l[5], .qinv_len = l[6]};
    assert_rc(tcrypto_rsa_from_parts(&parts, &bad), TCRYPTO_OK);
    assert_false(tcrypto_in_error());
    assert_rc(tcx_pairwise_test(bad), TCRYPTO_ERR_INTERNAL);
    assert_true(tcrypto_in_error());
    /* and the module now refuses crypto */
    tcrypto_pkey *k = NULL;
    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_ERR_STATE);
    assert_null(k);
    uint8_t out[32];
    size_t len = sizeof(out);
    assert_rc(tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, "x", 1, out, &len), TCRYPTO_ERR_STATE);
    tcrypto_pkey_free(a);
    tcrypto_pkey_free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pct_passes_for_real_pair),
        cmocka_unit_test(test_pct_failure_enters_error_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
