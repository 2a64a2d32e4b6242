/*
 * Secure heap exhaustion: private keys live in OpenSSL's secure heap, which
 * has a fixed size. When it is full, loading another private key must fail
 * with TCRYPTO_ERR_NOMEM (not "bad key"), and releasing keys must make room
 * again. Own program: it fills the process-wide heap.
 */
#include "test_crypto_util.h"

#include <openssl/crypto.h>

#define MAX_KEYS 20000

static void test_exhaustion_is_nomem(void **state)
{
    (void)state;
    tcrypto_pkey *k = NULL;
    assert_rc(tcrypto_rsa_generate(2048, NULL, 0, &k), TCRYPTO_OK);
    static uint8_t der[4096];
    size_t len = sizeof(der);
    assert_rc(tcrypto_pkey_to_pkcs8(k, der, &len), TCRYPTO_OK);
    tcrypto_pkey **ks = calloc(MAX_KEYS, sizeof(*ks));
    assert_non_null(ks);
    int n = 0;
    tcrypto_rc rc = TCRYPTO_OK;
    for (; n < MAX_KEYS; n++) {
        rc = tcrypto_pkey_from_pkcs8(der, len, &ks[n]);
        if (rc != TCRYPTO_OK)
            break;
    }
    print_message("private RSA-2048 keys held at once: %d\n", n);
    assert_true(n > 100 && n < MAX_KEYS);
    assert_rc(rc, TCRYPTO_ERR_NOMEM);
    /* Public keys do not use the secure heap */
    uint8_t spki[512];
    size_t sl = sizeof(spki);
    tcrypto_pkey *pub = NULL;
    assert_rc(tcrypto_pkey_to_spki(k, spki, &sl), TCRYPTO_OK);
    assert_rc(tcrypto_pkey_from_spki(spki, sl, &pub), TCRYPTO_OK);
    tcrypto_pkey_free(pub);
    /* Releasing keys makes room */
    for (int i = 0; i < 10; i++)
        tcrypto_pkey_free(ks[--n]);
    assert_rc(tcrypto_pkey_from_pkcs8(der, len, &ks[n]), TCRYPTO_OK);
    n++;
    for (int i = 0; i < n; i++)
        tcrypto_pkey_free(ks[i]);
    free(ks);
    tcrypto_pkey_free(k);
    assert_false(tcrypto_in_error());
}

/* A full secure heap makes tcrypto_secure_alloc fail: it never hands out
 * ordinary heap memory instead, and each refusal is counted. */
static void test_secure_alloc_never_falls_back(void **state)
{
    (void)state;
    enum { BLOCK = 4096 };
    tcrypto_secure_heap_info before, after;
    tcrypto_secure_heap_stats(&before);
    assert_true(before.available);
    assert_true(before.size >= BLOCK);
    size_t max = before.size / BLOCK + 1;
    void **blocks = calloc(max, sizeof(*blocks));
    assert_non_null(blocks);
    size_t n = 0;
    for (; n < max; n++) {
        blocks[n] = tcrypto_secure_alloc(BLOCK);
        if (blocks[n] == NULL)
            break;
        assert_true(CRYPTO_secure_allocated(blocks[n]));
    }
    print_message("4 KiB secure blocks before refusal: %zu (heap %zu bytes)\n", n,
                  before.size);
    assert_true(n > 0 && n < max);
    assert_null(blocks[n]);
    tcrypto_secure_heap_stats(&after);
    assert_int_equal(after.refused, before.refused + 1);
    /* A small request still fits in what is left; a block-sized one does not. */
    assert_null(tcrypto_secure_alloc(BLOCK));
    tcrypto_secure_heap_stats(&after);
    assert_int_equal(after.refused, before.refused + 2);
    /* Freeing makes room again, on the secure heap. */
    tcrypto_secure_free(blocks[--n], BLOCK);
    blocks[n] = tcrypto_secure_alloc(BLOCK);
    assert_non_null(blocks[n]);
    assert_true(CRYPTO_secure_allocated(blocks[n]));
    n++;
    for (size_t i = 0; i < n; i++)
        tcrypto_secure_free(blocks[i], BLOCK);
    free(blocks);
    tcrypto_secure_heap_stats(&after);
    assert_int_equal(after.used, before.used);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustion_is_nomem),
        cmocka_unit_test(test_secure_alloc_never_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
