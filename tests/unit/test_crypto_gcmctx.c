/*
 * Keyed AES-GCM context (tcrypto_gcm_new/seal/open): known answers from the
 * GCM specification (McGrew & Viega, test cases 4 and 6: 96-bit and 480-bit
 * IVs), agreement with the one-shot calls, IV-length changes between
 * messages, and the refusals.
 */
#include "test_crypto_util.h"

#define TC_KEY "feffe9928665731c6d6a8f9467308308"
#define TC_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define TC_PT                                                                                  \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                         \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define TC4_IV "cafebabefacedbaddecaf888"
#define TC4_CT                                                                                 \
    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"                         \
    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
#define TC4_TAG "5bc94fbc3221a5db94fae95ae7121a47"
#define TC6_IV                                                                                 \
    "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"                         \
    "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b"
#define TC6_CT                                                                                 \
    "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7"                         \
    "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5"
#define TC6_TAG "619cc5aefffe0bfa462af43c1699d050"

struct vec {
    uint8_t *key, *aad, *pt, *iv4, *ct4, *tag4, *iv6, *ct6, *tag6;
    size_t keylen, aadlen, ptlen, iv4len, iv6len, n;
};

static void load(struct vec *v)
{
    v->key = unhex(TC_KEY, &v->keylen);
    v->aad = unhex(TC_AAD, &v->aadlen);
    v->pt = unhex(TC_PT, &v->ptlen);
    v->iv4 = unhex(TC4_IV, &v->iv4len);
    v->ct4 = unhex(TC4_CT, &v->n);
    v->tag4 = unhex(TC4_TAG, &v->n);
    v->iv6 = unhex(TC6_IV, &v->iv6len);
    v->ct6 = unhex(TC6_CT, &v->n);
    v->tag6 = unhex(TC6_TAG, &v->n);
}

static void unload(struct vec *v)
{
    free(v->key), free(v->aad), free(v->pt), free(v->iv4), free(v->ct4);
    free(v->tag4), free(v->iv6), free(v->ct6), free(v->tag6);
}

static void test_known_answers_and_iv_switch(void **state)
{
    (void)state;
    struct vec v;
    load(&v);
    tcrypto_gcm *g = NULL;
    uint8_t ct[60], tag[16], back[60];
    assert_rc(tcrypto_gcm_new(v.key, v.keylen, &g), TCRYPTO_OK);
    /* 96-bit, then 480-bit, then 96-bit again: the context must follow the
     * IV length each time. */
    for (int round = 0; round < 2; round++) {
        assert_rc(tcrypto_gcm_seal(g, v.iv4, v.iv4len, v.aad, v.aadlen, v.pt, v.ptlen, ct, tag,
                                   16),
                  TCRYPTO_OK);
        assert_memory_equal(ct, v.ct4, 60);
        assert_memory_equal(tag, v.tag4, 16);
        assert_rc(tcrypto_gcm_seal(g, v.iv6, v.iv6len, v.aad, v.aadlen, v.pt, v.ptlen, ct, tag,
                                   16),
                  TCRYPTO_OK);
        assert_memory_equal(ct, v.ct6, 60);
        assert_memory_equal(tag, v.tag6, 16);
        assert_rc(tcrypto_gcm_open(g, v.iv6, v.iv6len, v.aad, v.aadlen, v.ct6, 60, v.tag6, 16,
                                   back),
                  TCRYPTO_OK);
        assert_memory_equal(back, v.pt, 60);
        assert_rc(tcrypto_gcm_open(g, v.iv4, v.iv4len, v.aad, v.aadlen, v.ct4, 60, v.tag4, 16,
                                   back),
                  TCRYPTO_OK);
        assert_memory_equal(back, v.pt, 60);
    }
    /* Truncated tag (SP 800-38D §5.2.1.2) is the prefix of the full one. */
    assert_rc(tcrypto_gcm_seal(g, v.iv4, v.iv4len, v.aad, v.aadlen, v.pt, v.ptlen, ct, tag, 12),
              TCRYPTO_OK);
    assert_memory_equal(tag, v.tag4, 12);
    tcrypto_gcm_free(g);
    unload(&v);
}

static void test_matches_oneshot(void **state)
{
    (void)state;
    uint8_t key[32], iv[12], aad[13], pt[5000], c1[5000], c2[5000], t1[16], t2[16];
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 7);
    memset(key, 0x42, sizeof(key));
    memset(iv, 0x24, sizeof(iv));
    memset(aad, 0x11, sizeof(aad));
    tcrypto_gcm *g = NULL;
    assert_rc(tcrypto_gcm_new(key, 32, &g), TCRYPTO_OK);
    assert_rc(tcrypto_gcm_encrypt(key, 32, iv, 12, aad, 13, pt, sizeof(pt), c1, t1, 16),
              TCRYPTO_OK);
    assert_rc(tcrypto_gcm_seal(g, iv, 12, aad, 13, pt, sizeof(pt), c2, t2, 16), TCRYPTO_OK);
    assert_memory_equal(c1, c2, sizeof(c1));
    assert_memory_equal(t1, t2, 16);
    /* Larger than the stack scratch of the decryption path. */
    uint8_t back[5000];
    assert_rc(tcrypto_gcm_decrypt(key, 32, iv, 12, aad, 13, c1, sizeof(c1), t1, 16, back),
              TCRYPTO_OK);
    assert_memory_equal(back, pt, sizeof(pt));
    tcrypto_gcm_free(g);
}

static void test_bad_tag_writes_nothing(void **state)
{
    (void)state;
    uint8_t key[16] = {9}, iv[12] = {8}, pt[32] = {7}, ct[32], tag[16], out[32];
    tcrypto_gcm *g = NULL;
    assert_rc(tcrypto_gcm_new(key, 16, &g), TCRYPTO_OK);
    assert_rc(tcrypto_gcm_seal(g, iv, 12, NULL, 0, pt, 32, ct, tag, 16), TCRYPTO_OK);
    tag[15] ^= 1;
    memset(out, 0xee, sizeof(out));
    assert_rc(tcrypto_gcm_open(g, iv, 12, NULL, 0, ct, 32, tag, 16, out), TCRYPTO_ERR_DECRYPT);
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], 0xee);
    tag[15] ^= 1;
    ct[0] ^= 1; /* tampered ciphertext */
    assert_rc(tcrypto_gcm_open(g, iv, 12, NULL, 0, ct, 32, tag, 16, out), TCRYPTO_ERR_DECRYPT);
    ct[0] ^= 1;
    /* The context still works after a failed open. */
    assert_rc(tcrypto_gcm_open(g, iv, 12, NULL, 0, ct, 32, tag, 16, out), TCRYPTO_OK);
    assert_memory_equal(out, pt, 32);
    tcrypto_gcm_free(g);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t key[32] = {0}, iv[12] = {0}, buf[16], tag[16] = {0};
    tcrypto_gcm *g = NULL;
    assert_rc(tcrypto_gcm_new(key, 20, &g), TCRYPTO_ERR_KEY);
    assert_null(g);
    assert_rc(tcrypto_gcm_new(NULL, 32, &g), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_gcm_new(key, 32, NULL), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_gcm_seal(NULL, iv, 12, NULL, 0, buf, 16, buf, tag, 16), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_gcm_open(NULL, iv, 12, NULL, 0, buf, 16, tag, 16, buf), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_gcm_new(key, 32, &g), TCRYPTO_OK);
    assert_rc(tcrypto_gcm_seal(g, iv, 0, NULL, 0, buf, 16, buf, tag, 16), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_gcm_seal(g, iv, 12, NULL, 0, buf, 16, buf, tag, 3), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_gcm_seal(g, iv, 12, NULL, 4, buf, 16, buf, tag, 16), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_gcm_open(g, iv, 12, NULL, 0, buf, 16, tag, 17, buf), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_gcm_open(g, NULL, 12, NULL, 0, buf, 16, tag, 16, buf), TCRYPTO_ERR_ARG);
    tcrypto_gcm_free(g);
    tcrypto_gcm_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers_and_iv_switch),
        cmocka_unit_test(test_matches_oneshot),
        cmocka_unit_test(test_bad_tag_writes_nothing),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
