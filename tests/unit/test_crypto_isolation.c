/*
 * The crypto layer runs in its own OpenSSL library context: whatever the
 * host process did to OpenSSL's default context (here: a default property
 * query no provider matches, so every implicit fetch fails) must not reach
 * our self-tests, key handling, signatures, ciphers or random numbers. And
 * the start-up must leave nothing on the host thread's OpenSSL error queue.
 */
#include <openssl/err.h>
#include <openssl/evp.h>

#include "test_crypto_util.h"

static int break_default_context(void **state)
{
    (void)state;
    /* Set before the module's first use: tcrypto_init() runs after it. */
    if (EVP_set_default_properties(NULL, "provider=nonexistent") != 1)
        return -1;
    return 0;
}

static void test_default_context_is_broken(void **state)
{
    (void)state;
    /* The precondition the other tests rely on: global fetching fails. */
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    assert_null(md);
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_null(pk);
    ERR_clear_error();
}

static void test_init_and_selftests(void **state)
{
    (void)state;
    ERR_clear_error();
    assert_rc(tcrypto_init(), TCRYPTO_OK);
    assert_false(tcrypto_in_error());
    /* The self-tests provoke failures on purpose; none may leak out. */
    assert_int_equal(ERR_peek_error(), 0);
}

static void sign_verify(tcrypto_pkey *k, const tcrypto_sig_params *sp, const uint8_t *in,
                        size_t inlen)
{
    uint8_t sig[512];
    size_t siglen = sizeof(sig);
    assert_rc(tcrypto_sign(k, sp, in, inlen, sig, &siglen), TCRYPTO_OK);
    assert_rc(tcrypto_verify(k, sp, in, inlen, sig, siglen), TCRYPTO_OK);
    sig[siglen / 2] ^= 0x40;
    assert_rc(tcrypto_verify(k, sp, in, inlen, sig, siglen), TCRYPTO_ERR_VERIFY);
}

static void test_sign_verify(void **state)
{
    (void)state;
    static const uint8_t digest[32] = "0123456789abcdef0123456789abcde";
    tcrypto_pkey *k = NULL;

    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_OK);
    tcrypto_sig_params ep = {.scheme = TCRYPTO_SIG_ECDSA};
    sign_verify(k, &ep, digest, sizeof(digest));
    tcrypto_pkey_free(k);

    assert_rc(tcrypto_rsa_generate(2048, NULL, 0, &k), TCRYPTO_OK);
    tcrypto_sig_params rp = {.scheme = TCRYPTO_SIG_RSA_PKCS1, .md = TCRYPTO_MD_SHA256};
    sign_verify(k, &rp, digest, sizeof(digest));
    tcrypto_pkey_free(k);

    assert_rc(tcrypto_raw_generate(TCRYPTO_KEY_ED25519, &k), TCRYPTO_OK);
    tcrypto_sig_params dp = {.scheme = TCRYPTO_SIG_EDDSA};
    sign_verify(k, &dp, (const uint8_t *)"message", 7);
    tcrypto_pkey_free(k);
}

static void test_encodings(void **state)
{
    (void)state;
    tcrypto_pkey *k = NULL, *pub = NULL, *back = NULL;
    uint8_t der[2048];
    size_t len = sizeof(der);
    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_P384, &k), TCRYPTO_OK);

    assert_rc(tcrypto_pkey_to_spki(k, der, &len), TCRYPTO_OK);
    assert_rc(tcrypto_pkey_from_spki(der, len, &pub), TCRYPTO_OK);
    /* A trailing byte is refused by the decoder path too. */
    der[len] = 0;
    assert_rc(tcrypto_pkey_from_spki(der, len + 1, &back), TCRYPTO_ERR_KEY);
    assert_null(back);

    len = sizeof(der);
    assert_rc(tcrypto_pkey_to_pkcs8(k, der, &len), TCRYPTO_OK);
    assert_rc(tcrypto_pkey_from_pkcs8(der, len, &back), TCRYPTO_OK);

    /* The re-imported private key signs what the public key verifies. */
    static const uint8_t digest[48] = "0123456789abcdef0123456789abcdef0123456789abcde";
    uint8_t sig[128];
    size_t siglen = sizeof(sig);
    tcrypto_sig_params ep = {.scheme = TCRYPTO_SIG_ECDSA};
    assert_rc(tcrypto_sign(back, &ep, digest, sizeof(digest), sig, &siglen), TCRYPTO_OK);
    assert_rc(tcrypto_verify(pub, &ep, digest, sizeof(digest), sig, siglen), TCRYPTO_OK);
    memset(der, 0, sizeof(der));
    tcrypto_pkey_free(k);
    tcrypto_pkey_free(pub);
    tcrypto_pkey_free(back);
}

static void test_symmetric_and_random(void **state)
{
    (void)state;
    uint8_t key[32] = {1}, iv[12] = {2}, pt[64] = {3}, ct[64], tag[16], back[64];
    assert_rc(tcrypto_gcm_encrypt(key, 32, iv, 12, NULL, 0, pt, 64, ct, tag, 16), TCRYPTO_OK);
    assert_rc(tcrypto_gcm_decrypt(key, 32, iv, 12, NULL, 0, ct, 64, tag, 16, back), TCRYPTO_OK);
    assert_memory_equal(back, pt, 64);

    uint8_t d[32];
    size_t dlen = sizeof(d);
    assert_rc(tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, "abc", 3, d, &dlen), TCRYPTO_OK);
    assert_int_equal(dlen, 32);

    uint8_t r1[32] = {0}, r2[32] = {0};
    assert_rc(tcrypto_random(r1, sizeof(r1)), TCRYPTO_OK);
    assert_rc(tcrypto_random_seed("more", 4), TCRYPTO_OK);
    assert_rc(tcrypto_random(r2, sizeof(r2)), TCRYPTO_OK);
    assert_memory_not_equal(r1, r2, sizeof(r1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_context_is_broken),
        cmocka_unit_test(test_init_and_selftests),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_symmetric_and_random),
    };
    return cmocka_run_group_tests(tests, break_default_context, NULL);
}
