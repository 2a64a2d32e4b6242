/*
 * Crypto layer error state (DESIGN.md "Crypto"): once entered, every
 * function that does crypto refuses with TCRYPTO_ERR_STATE until restart.
 * Its own program, because the state is permanent for the process.
 */
#include "test_crypto_util.h"

static tcrypto_pkey *g_ec;
static tcrypto_pkey *g_ed;

static void test_works_before(void **state)
{
    (void)state;
    assert_rc(tcrypto_init(), TCRYPTO_OK);
    assert_false(tcrypto_in_error());
    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &g_ec), TCRYPTO_OK);
    assert_rc(tcrypto_raw_generate(TCRYPTO_KEY_ED25519, &g_ed), TCRYPTO_OK);
    uint8_t out[32];
    size_t len = sizeof(out);
    assert_rc(tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, "a", 1, out, &len), TCRYPTO_OK);
}

static void test_refuses_after(void **state)
{
    (void)state;
    tcrypto_force_error();
    assert_true(tcrypto_in_error());
    assert_rc(tcrypto_init(), TCRYPTO_ERR_STATE);

    uint8_t buf[256], tag[16], key[32] = {0}, iv[16] = {0};
    size_t len = sizeof(buf);
    memset(buf, 0xee, sizeof(buf));
    assert_rc(tcrypto_random(buf, 16), TCRYPTO_ERR_STATE);
    assert_int_equal(buf[0], 0xee); /* nothing produced */
    assert_rc(tcrypto_random_seed("x", 1), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, "a", 1, buf, &len), TCRYPTO_ERR_STATE);
    tcrypto_digest *d = NULL;
    assert_rc(tcrypto_digest_new(TCRYPTO_MD_SHA256, &d), TCRYPTO_ERR_STATE);
    assert_null(d);
    len = sizeof(buf);
    assert_rc(tcrypto_hmac_oneshot(TCRYPTO_MD_SHA256, key, 32, "a", 1, buf, &len),
              TCRYPTO_ERR_STATE);
    tcrypto_mac *m = NULL;
    assert_rc(tcrypto_cmac_new(key, 16, &m), TCRYPTO_ERR_STATE);
    tcrypto_cipher *c = NULL;
    assert_rc(tcrypto_cipher_new(TCRYPTO_AES_CBC, true, key, 16, iv, 16, &c),
              TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_gcm_encrypt(key, 16, iv, 12, NULL, 0, buf, 16, buf, tag, 16),
              TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_gcm_decrypt(key, 16, iv, 12, NULL, 0, buf, 16, tag, 16, buf),
              TCRYPTO_ERR_STATE);
    len = sizeof(buf);
    assert_rc(tcrypto_aes_wrap(false, key, 16, key, 16, buf, &len), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_aes_unwrap(false, key, 16, buf, 24, buf, &len), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_hkdf(TCRYPTO_MD_SHA256, TCRYPTO_HKDF_EXTRACT_EXPAND, key, 32, NULL, 0,
                           NULL, 0, buf, 32),
              TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_pin_kdf(&tcrypto_pin_kdf_default, "1234", 4, "saltsalt", 8, buf, 32),
              TCRYPTO_ERR_STATE);
    tcrypto_pkey *k = NULL;
    assert_rc(tcrypto_rsa_generate(2048, NULL, 0, &k), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_raw_generate(TCRYPTO_KEY_X25519, &k), TCRYPTO_ERR_STATE);
    assert_null(k);
    /* Existing keys can no longer be used */
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_ECDSA};
    len = sizeof(buf);
    assert_rc(tcrypto_sign(g_ec, &p, key, 32, buf, &len), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_verify(g_ec, &p, key, 32, buf, 64), TCRYPTO_ERR_STATE);
    tcrypto_sig_params e = {.scheme = TCRYPTO_SIG_EDDSA};
    assert_rc(tcrypto_sign(g_ed, &e, key, 32, buf, &len), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_pkey_get_part(g_ec, TCRYPTO_PART_EC_PRIV, buf, &len), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_pkey_to_pkcs8(g_ec, buf, &len), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_pkey_public(g_ec, &k), TCRYPTO_ERR_STATE);
    assert_rc(tcrypto_derive(g_ec, buf, 65, buf, &len), TCRYPTO_ERR_STATE);
    tcrypto_rsa_enc_params ep = {.pad = TCRYPTO_RSA_PAD_PKCS1};
    assert_rc(tcrypto_rsa_encrypt(g_ec, &ep, buf, 1, buf, &len), TCRYPTO_ERR_STATE);
    /* Key objects can still be released */
    tcrypto_pkey_free(g_ec);
    tcrypto_pkey_free(g_ed);
}

int main(void)
{
    /* Order matters: the second test makes the state permanent. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_works_before),
        cmocka_unit_test(test_refuses_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
