/*
 * Private keys live on the secure heap. Whatever way a private key is made
 * (generated, decoded from PKCS#8, built from components), opening it must
 * grow the secure heap by at least the size of its private components, and
 * closing it must give that back. A key whose private bignums sat in the
 * ordinary heap would leave the secure heap untouched. (OpenSSL is called
 * directly only to make reference encodings.)
 */
#include "test_crypto_util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

static size_t secure_used(void)
{
    tcrypto_secure_heap_info h;
    tcrypto_secure_heap_stats(&h);
    assert_true(h.available);
    return h.used;
}

/* Opens a key with open_expr, checks the secure-heap growth, frees it.
 * Once before measuring: OpenSSL sets up some state of its own on the
 * secure heap on first use (the private DRBG, per-curve data). */
#define EXPECT_SECURE(open_expr, key, min_bytes)                                         \
    do {                                                                                 \
        assert_rc((open_expr), TCRYPTO_OK);                                              \
        tcrypto_pkey_free(key);                                                          \
        (key) = NULL;                                                                    \
        size_t before_ = secure_used();                                                  \
        assert_rc((open_expr), TCRYPTO_OK);                                              \
        size_t grown_ = secure_used() - before_;                                         \
        print_message("%-48s +%zu secure bytes\n", #open_expr, grown_);                  \
        assert_true(grown_ >= (min_bytes));                                              \
        tcrypto_pkey_free(key);                                                          \
        (key) = NULL;                                                                    \
        assert_int_equal(secure_used(), before_);                                        \
    } while (0)

typedef struct {
    uint8_t v[8][1100];
    size_t len[8];
} rsa_comp;

static void rsa_export(const tcrypto_pkey *k, rsa_comp *c, tcrypto_rsa_parts *p, bool crt)
{
    static const tcrypto_part parts[8] = {TCRYPTO_PART_RSA_N,  TCRYPTO_PART_RSA_E,
                                          TCRYPTO_PART_RSA_D,  TCRYPTO_PART_RSA_P,
                                          TCRYPTO_PART_RSA_Q,  TCRYPTO_PART_RSA_DP,
                                          TCRYPTO_PART_RSA_DQ, TCRYPTO_PART_RSA_QINV};
    for (int i = 0; i < 8; i++) {
        c->len[i] = sizeof(c->v[i]);
        assert_rc(tcrypto_pkey_get_part(k, parts[i], c->v[i], &c->len[i]), TCRYPTO_OK);
    }
    memset(p, 0, sizeof(*p));
    p->n = c->v[0], p->n_len = c->len[0];
    p->e = c->v[1], p->e_len = c->len[1];
    p->d = c->v[2], p->d_len = c->len[2];
    if (crt) {
        p->p = c->v[3], p->p_len = c->len[3];
        p->q = c->v[4], p->q_len = c->len[4];
        p->dp = c->v[5], p->dp_len = c->len[5];
        p->dq = c->v[6], p->dq_len = c->len[6];
        p->qinv = c->v[7], p->qinv_len = c->len[7];
    }
}

static void test_rsa_private_on_secure_heap(void **state)
{
    (void)state;
    static const unsigned sizes[] = {2048, 3072};
    for (size_t s = 0; s < TC_ARRAY_LEN(sizes); s++) {
        unsigned bits = sizes[s];
        /* d plus five CRT values of half the modulus each */
        size_t min = bits / 8 + 5 * (bits / 16);
        tcrypto_pkey *gen = NULL, *k = NULL;
        EXPECT_SECURE(tcrypto_rsa_generate(bits, NULL, 0, &k), k, min);
        assert_rc(tcrypto_rsa_generate(bits, NULL, 0, &gen), TCRYPTO_OK);
        static uint8_t der[4096];
        size_t len = sizeof(der);
        assert_rc(tcrypto_pkey_to_pkcs8(gen, der, &len), TCRYPTO_OK);
        EXPECT_SECURE(tcrypto_pkey_from_pkcs8(der, len, &k), k, min);
        static rsa_comp c;
        tcrypto_rsa_parts p;
        rsa_export(gen, &c, &p, true);
        EXPECT_SECURE(tcrypto_rsa_from_parts(&p, &k), k, min);
        rsa_export(gen, &c, &p, false); /* n, e, d only: CRT values recovered */
        EXPECT_SECURE(tcrypto_rsa_from_parts(&p, &k), k, min);
        /* The rebuilt key is the same key: it signs, the original verifies. */
        rsa_export(gen, &c, &p, true);
        assert_rc(tcrypto_rsa_from_parts(&p, &k), TCRYPTO_OK);
        tcrypto_sig_params sp = {.scheme = TCRYPTO_SIG_RSA_PSS, .md = TCRYPTO_MD_SHA256,
                                 .salt_len = 32};
        uint8_t h[32] = {1, 2, 3}, sig[512];
        size_t sl = sizeof(sig);
        assert_rc(tcrypto_sign(k, &sp, h, sizeof(h), sig, &sl), TCRYPTO_OK);
        assert_rc(tcrypto_verify(gen, &sp, h, sizeof(h), sig, sl), TCRYPTO_OK);
        sig[3] ^= 1;
        assert_rc(tcrypto_verify(gen, &sp, h, sizeof(h), sig, sl), TCRYPTO_ERR_VERIFY);
        tcrypto_pkey_free(k);
        OPENSSL_cleanse(&c, sizeof(c));
        tcrypto_pkey_free(gen);
    }
}

static void test_ec_private_on_secure_heap(void **state)
{
    (void)state;
    static const tcrypto_curve curves[] = {TCRYPTO_CURVE_P256, TCRYPTO_CURVE_P384,
                                           TCRYPTO_CURVE_P521};
    for (size_t i = 0; i < TC_ARRAY_LEN(curves); i++) {
        size_t fl = (tcrypto_curve_bits(curves[i]) + 7) / 8;
        tcrypto_pkey *gen = NULL, *k = NULL;
        EXPECT_SECURE(tcrypto_ec_generate(curves[i], &k), k, fl);
        assert_rc(tcrypto_ec_generate(curves[i], &gen), TCRYPTO_OK);
        uint8_t der[512], d[66], pt[133];
        size_t len = sizeof(der), dl = sizeof(d), pl = sizeof(pt);
        assert_rc(tcrypto_pkey_to_pkcs8(gen, der, &len), TCRYPTO_OK);
        EXPECT_SECURE(tcrypto_pkey_from_pkcs8(der, len, &k), k, fl);
        assert_rc(tcrypto_pkey_get_part(gen, TCRYPTO_PART_EC_PRIV, d, &dl), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_get_part(gen, TCRYPTO_PART_EC_POINT, pt, &pl), TCRYPTO_OK);
        EXPECT_SECURE(tcrypto_ec_from_parts(curves[i], NULL, 0, d, dl, &k), k, fl);
        EXPECT_SECURE(tcrypto_ec_from_parts(curves[i], pt, pl, d, dl, &k), k, fl);
        /* Same key: signs, and the original verifies; halves that do not
         * match are still refused. */
        assert_rc(tcrypto_ec_from_parts(curves[i], NULL, 0, d, dl, &k), TCRYPTO_OK);
        tcrypto_sig_params sp = {.scheme = TCRYPTO_SIG_ECDSA};
        uint8_t h[32] = {9}, sig[132];
        size_t sl = sizeof(sig);
        assert_rc(tcrypto_sign(k, &sp, h, sizeof(h), sig, &sl), TCRYPTO_OK);
        assert_rc(tcrypto_verify(gen, &sp, h, sizeof(h), sig, sl), TCRYPTO_OK);
        uint8_t pub[133];
        size_t publ = sizeof(pub);
        assert_rc(tcrypto_pkey_get_part(k, TCRYPTO_PART_EC_POINT, pub, &publ), TCRYPTO_OK);
        assert_memory_equal(pub, pt, pl);
        tcrypto_pkey_free(k);
        k = NULL;
        d[dl - 1] ^= 1;
        assert_rc(tcrypto_ec_from_parts(curves[i], pt, pl, d, dl, &k), TCRYPTO_ERR_KEY);
        assert_null(k);
        OPENSSL_cleanse(d, sizeof(d));
        tcrypto_pkey_free(gen);
    }
}

static void test_raw_private_on_secure_heap(void **state)
{
    (void)state;
    static const tcrypto_key_type types[] = {TCRYPTO_KEY_ED25519, TCRYPTO_KEY_ED448,
                                             TCRYPTO_KEY_X25519, TCRYPTO_KEY_X448};
    for (size_t i = 0; i < TC_ARRAY_LEN(types); i++) {
        tcrypto_pkey *gen = NULL, *k = NULL;
        uint8_t priv[64], der[256];
        size_t pl = sizeof(priv), len = sizeof(der);
        assert_rc(tcrypto_raw_generate(types[i], &gen), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_get_part(gen, TCRYPTO_PART_EC_PRIV, priv, &pl), TCRYPTO_OK);
        EXPECT_SECURE(tcrypto_raw_generate(types[i], &k), k, pl);
        EXPECT_SECURE(tcrypto_raw_from_parts(types[i], NULL, 0, priv, pl, &k), k, pl);
        assert_rc(tcrypto_pkey_to_pkcs8(gen, der, &len), TCRYPTO_OK);
        EXPECT_SECURE(tcrypto_pkey_from_pkcs8(der, len, &k), k, pl);
        OPENSSL_cleanse(priv, sizeof(priv));
        tcrypto_pkey_free(gen);
    }
}

/* The PKCS#8 the layer writes itself is the one OpenSSL writes: a key
 * encoded by OpenSSL, decoded and encoded again, comes out byte for byte. */
static void test_pkcs8_matches_openssl(void **state)
{
    (void)state;
    static const struct {
        const char *alg, *param;
    } kinds[] = {{"RSA", NULL},    {"EC", "P-256"},   {"EC", "P-384"}, {"EC", "P-521"},
                 {"ED25519", NULL}, {"ED448", NULL}, {"X25519", NULL}, {"X448", NULL}};
    for (size_t i = 0; i < TC_ARRAY_LEN(kinds); i++) {
        EVP_PKEY *pk = kinds[i].param != NULL
                           ? EVP_PKEY_Q_keygen(NULL, NULL, kinds[i].alg, kinds[i].param)
                       : strcmp(kinds[i].alg, "RSA") == 0
                           ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                           : EVP_PKEY_Q_keygen(NULL, NULL, kinds[i].alg);
        assert_non_null(pk);
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pk);
        assert_non_null(p8);
        unsigned char *ref = NULL;
        int rl = i2d_PKCS8_PRIV_KEY_INFO(p8, &ref);
        assert_true(rl > 0);
        tcrypto_pkey *k = NULL;
        assert_rc(tcrypto_pkey_from_pkcs8(ref, (size_t)rl, &k), TCRYPTO_OK);
        uint8_t der[2048];
        size_t len = 0;
        assert_rc(tcrypto_pkey_to_pkcs8(k, NULL, &len), TCRYPTO_OK);
        assert_int_equal(len, (size_t)rl);
        len = (size_t)rl - 1;
        assert_rc(tcrypto_pkey_to_pkcs8(k, der, &len), TCRYPTO_ERR_BUFFER);
        assert_int_equal(len, (size_t)rl);
        len = sizeof(der);
        assert_rc(tcrypto_pkey_to_pkcs8(k, der, &len), TCRYPTO_OK);
        assert_int_equal(len, (size_t)rl);
        assert_memory_equal(der, ref, len);
        OPENSSL_cleanse(der, sizeof(der));
        OPENSSL_clear_free(ref, (size_t)rl);
        PKCS8_PRIV_KEY_INFO_free(p8);
        EVP_PKEY_free(pk);
        tcrypto_pkey_free(k);
    }
}

/* Public keys take nothing from the secure heap. */
static void test_public_keys_stay_out(void **state)
{
    (void)state;
    tcrypto_pkey *gen = NULL, *pub = NULL;
    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &gen), TCRYPTO_OK);
    size_t before = secure_used();
    assert_rc(tcrypto_pkey_public(gen, &pub), TCRYPTO_OK);
    assert_int_equal(secure_used(), before);
    tcrypto_pkey_free(pub);
    tcrypto_pkey_free(gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_private_on_secure_heap),
        cmocka_unit_test(test_ec_private_on_secure_heap),
        cmocka_unit_test(test_raw_private_on_secure_heap),
        cmocka_unit_test(test_pkcs8_matches_openssl),
        cmocka_unit_test(test_public_keys_stay_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
