/* The TPM's crypto runs in the crypto layer's private OpenSSL library
 * context: with the host's default context broken (a default property query
 * that no provider matches, so every implicit fetch fails) hashing, HMAC,
 * AES modes, RSA/ECC keys, signatures, OAEP, ECDH and the RNG still work,
 * and so does a whole TPM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/tcrypto_tpm.h"
#include "tpm/ttpm.h"

static int break_default_context(void **state)
{
    (void)state;
    return EVP_set_default_properties(NULL, "provider=nonexistent") == 1 ? 0 : -1;
}

static void test_default_context_is_broken(void **state)
{
    (void)state;
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    assert_null(md);
    ERR_clear_error();
}

static void test_symmetric(void **state)
{
    (void)state;
    uint8_t out[64], key[32] = { 1 }, iv[16] = { 2 }, iv2[16] = { 2 }, in[32] = { 3 }, ct[32];
    tcrypto_tpm_iov v = { "abc", 3 };
    static const uint8_t sha256_abc[4] = { 0xba, 0x78, 0x16, 0xbf };
    assert_int_equal(tcrypto_tpm_hash(TPM_ALG_SHA256, &v, 1, out), TCRYPTO_OK);
    assert_memory_equal(out, sha256_abc, 4);
    for (uint16_t h = TPM_ALG_SHA256; h <= TPM_ALG_SHA512; h++)
        assert_int_equal(tcrypto_tpm_hmac(h, key, 32, &v, 1, out), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_hash(TPM_ALG_SHA1, &v, 1, out), TCRYPTO_OK);
    tcrypto_tpm_md *m = NULL;
    assert_int_equal(tcrypto_tpm_md_new(TPM_ALG_SHA384, NULL, 0, &m), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_update(m, "abc", 3), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_final(m, out), TCRYPTO_OK);
    tcrypto_tpm_md_free(m);
    static const uint16_t modes[] = { TPM_ALG_CFB, TPM_ALG_CBC, TPM_ALG_CTR, TPM_ALG_OFB,
                                      TPM_ALG_ECB };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        memcpy(iv, iv2, 16);
        assert_int_equal(tcrypto_tpm_aes_mode(modes[i], true, key, 16, iv, in, 32, ct),
                         TCRYPTO_OK);
        memcpy(iv, iv2, 16);
        assert_int_equal(tcrypto_tpm_aes_mode(modes[i], false, key, 16, iv, ct, 32, out),
                         TCRYPTO_OK);
        assert_memory_equal(out, in, 32);
    }
    assert_int_equal(tcrypto_tpm_random(out, 32), TCRYPTO_OK);
}

static void test_asymmetric(void **state)
{
    (void)state;
    uint8_t n[128], p[64], d[32], x[32], y[32], dig[32] = { 9 }, sig[128], s2[32];
    uint8_t ct[128], pt[128], zx[32], zy[32];
    size_t sl = sizeof(sig), cl = sizeof(ct), pl = sizeof(pt);
    tcrypto_tpm_key *rk = NULL, *ek = NULL;
    assert_int_equal(tcrypto_tpm_rsa_generate(1024, 0, NULL, NULL, n, p), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_key(n, 128, 0, p, 64, &rk), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_sign(rk, TPM_ALG_RSAPSS, TPM_ALG_SHA256, dig, 32, sig, &sl, NULL),
                     TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_verify(rk, TPM_ALG_RSAPSS, TPM_ALG_SHA256, dig, 32, sig, sl,
                                        NULL, 0),
                     TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_encrypt(rk, TPM_ALG_OAEP, TPM_ALG_SHA256, NULL, 0,
                                             (const uint8_t *)"secret", 6, ct, &cl),
                     TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_decrypt(rk, TPM_ALG_OAEP, TPM_ALG_SHA256, NULL, 0, ct, cl,
                                             pt, &pl),
                     TCRYPTO_OK);
    assert_int_equal(pl, 6);
    assert_memory_equal(pt, "secret", 6);
    assert_int_equal(tcrypto_tpm_ecc_generate(TPM_ECC_NIST_P256, NULL, NULL, d, x, y), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_ecc_key(TPM_ECC_NIST_P256, x, 32, y, 32, d, 32, &ek), TCRYPTO_OK);
    sl = sizeof(sig);
    assert_int_equal(tcrypto_tpm_sign(ek, TPM_ALG_ECDSA, TPM_ALG_SHA256, dig, 32, sig, &sl, s2),
                     TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_verify(ek, TPM_ALG_ECDSA, TPM_ALG_SHA256, dig, 32, sig, sl, s2,
                                        32),
                     TCRYPTO_OK);
    dig[0] ^= 1;
    assert_int_equal(tcrypto_tpm_verify(ek, TPM_ALG_ECDSA, TPM_ALG_SHA256, dig, 32, sig, sl, s2,
                                        32),
                     TCRYPTO_ERR_VERIFY);
    assert_int_equal(tcrypto_tpm_ecdh(ek, x, 32, y, 32, zx, zy), TCRYPTO_OK);
    tcrypto_tpm_key_free(rk);
    tcrypto_tpm_key_free(ek);
}

static void test_whole_tpm(void **state)
{
    (void)state;
    ttpm *t = ttpm_new(NULL);
    assert_non_null(t);
    assert_false(t->in_failure);
    static const uint8_t startup[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0 };
    static const uint8_t getrandom[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 16 };
    tc_buf out;
    tc_buf_init(&out);
    ttpm_execute(t, startup, sizeof(startup), &out);
    assert_int_equal(tc_load_u32(out.p + 6), TPM_RC_SUCCESS);
    tc_buf_free(&out);
    tc_buf_init(&out);
    ttpm_execute(t, getrandom, sizeof(getrandom), &out);
    assert_int_equal(tc_load_u32(out.p + 6), TPM_RC_SUCCESS);
    assert_int_equal(out.len, 10 + 2 + 16);
    tc_buf_free(&out);
    ttpm_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_context_is_broken),
        cmocka_unit_test(test_symmetric),
        cmocka_unit_test(test_asymmetric),
        cmocka_unit_test(test_whole_tpm),
    };
    return cmocka_run_group_tests(tests, break_default_context, NULL);
}
