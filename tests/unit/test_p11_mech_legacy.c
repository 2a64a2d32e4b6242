/*
 * The legacy switch (legacy_algorithms = true): single DES through OpenSSL's
 * legacy provider and RSA key generation from 1024 bits, listed and working.
 * Known answers: FIPS 81 (the DES modes of operation) Appendix B/C, which
 * `openssl enc -provider legacy -des-ecb/-des-cbc` reproduces. With the
 * switch off (the default) test_p11_mech checks that none of it is offered.
 */
#include "test_p11_util.h"

static CK_SESSION_HANDLE S;
static CK_SLOT_ID SLOT;
static CK_BBOOL T = CK_TRUE, F = CK_FALSE;

#define OK(x) assert_int_equal((x), CKR_OK)
#define RV(x, r) assert_int_equal((x), (r))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define DES_KEY "0123456789abcdef"
#define DES_IV "1234567890abcdef"
#define FIPS81_PT "Now is the time for all "

static int group_setup(void **state)
{
    (void)state;
    t_env_setup();
    t_env_conf_add("legacy_algorithms = true\n");
    return t_user_session("legacy", &SLOT, &S);
}

static CK_RV des_create(const uint8_t *v, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_DES;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &F, 1},
        {CKA_VALUE, (void *)v, n},  {CKA_ENCRYPT, &T, 1},            {CKA_DECRYPT, &T, 1},
        {CKA_WRAP, &T, 1},          {CKA_UNWRAP, &T, 1},             {CKA_EXTRACTABLE, &T, 1},
    };
    return f->C_CreateObject(S, t, ARRAY_LEN(t), h);
}

static CK_OBJECT_HANDLE des_key(void)
{
    uint8_t v[8];
    size_t n;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    t_unhex(DES_KEY, v, &n);
    OK(des_create(v, n, &h));
    return h;
}

static CK_RV p11crypt(bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k, const uint8_t *in, size_t n,
                   uint8_t *out, CK_ULONG *outlen)
{
    if (enc) {
        OK(f->C_EncryptInit(S, m, k));
        return f->C_Encrypt(S, (CK_BYTE_PTR)in, n, out, outlen);
    }
    OK(f->C_DecryptInit(S, m, k));
    return f->C_Decrypt(S, (CK_BYTE_PTR)in, n, out, outlen);
}

static bool listed(CK_MECHANISM_TYPE want)
{
    CK_MECHANISM_TYPE list[256];
    CK_ULONG n = ARRAY_LEN(list);
    OK(f->C_GetMechanismList(SLOT, list, &n));
    for (CK_ULONG i = 0; i < n; i++)
        if (list[i] == want)
            return true;
    return false;
}

static void test_listed(void **state)
{
    (void)state;
    static const CK_MECHANISM_TYPE des[] = {CKM_DES_KEY_GEN, CKM_DES_ECB, CKM_DES_CBC,
                                            CKM_DES_CBC_PAD};
    for (size_t i = 0; i < ARRAY_LEN(des); i++) {
        assert_true(listed(des[i]));
        CK_MECHANISM_INFO mi;
        OK(f->C_GetMechanismInfo(SLOT, des[i], &mi));
        assert_int_equal(mi.ulMinKeySize, 8);
        assert_int_equal(mi.ulMaxKeySize, 8);
    }
    assert_true(listed(CKM_DES3_CBC));
    CK_MECHANISM_INFO mi;
    OK(f->C_GetMechanismInfo(SLOT, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi));
    assert_int_equal(mi.ulMinKeySize, 1024);
    OK(f->C_GetMechanismInfo(SLOT, CKM_SHA256_RSA_PKCS, &mi));
    assert_int_equal(mi.ulMinKeySize, 1024);
    /* nothing else legacy appears: no DES MAC, no DES-based PBE */
    assert_false(listed(CKM_DES_MAC));
    RV(f->C_GetMechanismInfo(SLOT, CKM_DES_MAC, &mi), CKR_MECHANISM_INVALID);
}

static void test_des_kat(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE k = des_key();
    uint8_t iv[8], exp[32], out[32], back[32];
    size_t il, el;
    CK_ULONG ol, bl;
    t_unhex(DES_IV, iv, &il);
    /* FIPS 81 Appendix B, ECB */
    CK_MECHANISM ecb = {CKM_DES_ECB, NULL, 0};
    t_unhex("3fa40e8a984d48156a271787ab8883f9893d51ec4b563b53", exp, &el);
    ol = sizeof(out);
    OK(p11crypt(true, &ecb, k, (const uint8_t *)FIPS81_PT, 24, out, &ol));
    assert_int_equal(ol, 24);
    assert_memory_equal(out, exp, 24);
    bl = sizeof(back);
    OK(p11crypt(false, &ecb, k, exp, 24, back, &bl));
    assert_memory_equal(back, FIPS81_PT, 24);
    /* FIPS 81 Appendix C, CBC, also in two parts */
    CK_MECHANISM cbc = {CKM_DES_CBC, iv, 8};
    t_unhex("e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6", exp, &el);
    ol = sizeof(out);
    OK(p11crypt(true, &cbc, k, (const uint8_t *)FIPS81_PT, 24, out, &ol));
    assert_memory_equal(out, exp, 24);
    OK(f->C_DecryptInit(S, &cbc, k));
    CK_ULONG a = sizeof(back), b;
    OK(f->C_DecryptUpdate(S, exp, 13, back, &a));
    assert_int_equal(a, 8);
    b = sizeof(back) - a;
    OK(f->C_DecryptUpdate(S, exp + 13, 11, back + a, &b));
    CK_ULONG c = sizeof(back) - a - b;
    OK(f->C_DecryptFinal(S, back + a + b, &c));
    assert_int_equal(a + b + c, 24);
    assert_memory_equal(back, FIPS81_PT, 24);
    /* CBC_PAD: `openssl enc -des-cbc` of "seven!!" (one padding byte) */
    CK_MECHANISM pad = {CKM_DES_CBC_PAD, iv, 8};
    t_unhex("eb416958703d79e3", exp, &el);
    ol = sizeof(out);
    OK(p11crypt(true, &pad, k, (const uint8_t *)"seven!!", 7, out, &ol));
    assert_int_equal(ol, 8);
    assert_memory_equal(out, exp, 8);
    bl = sizeof(back);
    OK(p11crypt(false, &pad, k, exp, 8, back, &bl));
    assert_int_equal(bl, 7);
    exp[7] ^= 0x01;
    bl = sizeof(back);
    RV(p11crypt(false, &pad, k, exp, 8, back, &bl), CKR_ENCRYPTED_DATA_INVALID);
    /* must-fail: IV length, partial blocks, key type */
    uint8_t iv16[16] = {0};
    CK_MECHANISM cbc16 = {CKM_DES_CBC, iv16, 16};
    RV(f->C_EncryptInit(S, &cbc16, k), CKR_MECHANISM_PARAM_INVALID);
    ol = sizeof(out);
    RV(p11crypt(true, &ecb, k, (const uint8_t *)FIPS81_PT, 20, out, &ol), CKR_DATA_LEN_RANGE);
    bl = sizeof(back);
    RV(p11crypt(false, &pad, k, out, 12, back, &bl), CKR_ENCRYPTED_DATA_LEN_RANGE);
    CK_MECHANISM ecb3 = {CKM_DES3_ECB, NULL, 0};
    RV(f->C_EncryptInit(S, &ecb3, k), CKR_KEY_TYPE_INCONSISTENT);
}

static void test_des_keys(void **state)
{
    (void)state;
    CK_MECHANISM g = {CKM_DES_KEY_GEN, NULL, 0};
    CK_ATTRIBUTE t[] = {{CKA_TOKEN, &F, 1}, {CKA_EXTRACTABLE, &T, 1}, {CKA_SENSITIVE, &F, 1}};
    for (int i = 0; i < 8; i++) {
        CK_OBJECT_HANDLE k;
        OK(f->C_GenerateKey(S, &g, t, ARRAY_LEN(t), &k));
        uint8_t v[16];
        CK_KEY_TYPE kt = 0;
        CK_ATTRIBUTE a[] = {{CKA_VALUE, v, sizeof(v)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
        OK(f->C_GetAttributeValue(S, k, a, 2));
        assert_int_equal(kt, CKK_DES);
        assert_int_equal(a[0].ulValueLen, 8);
        for (int j = 0; j < 8; j++)
            assert_int_equal(__builtin_popcount(v[j]) % 2, 1); /* odd parity */
    }
    CK_ULONG len = 16;
    CK_ATTRIBUTE tl[] = {{CKA_TOKEN, &F, 1}, {CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_OBJECT_HANDLE k;
    RV(f->C_GenerateKey(S, &g, tl, ARRAY_LEN(tl), &k), CKR_TEMPLATE_INCONSISTENT);
    /* check value: `openssl enc -des-ecb` of a zero block, first three bytes */
    k = des_key();
    uint8_t kcv[3], want[3];
    size_t wl;
    t_unhex("d5d44f", want, &wl);
    CK_ATTRIBUTE ca = {CKA_CHECK_VALUE, kcv, sizeof(kcv)};
    OK(f->C_GetAttributeValue(S, k, &ca, 1));
    assert_memory_equal(kcv, want, 3);
    /* wrong parity, wrong length */
    uint8_t v[16];
    size_t n;
    t_unhex(DES_KEY, v, &n);
    v[3] ^= 0x01;
    RV(des_create(v, 8, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    v[3] ^= 0x01;
    RV(des_create(v, 7, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    t_unhex(DES_KEY DES_KEY, v, &n);
    RV(des_create(v, 16, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    /* an AES key wrapped under DES-CBC comes back */
    CK_MECHANISM ag = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG l16 = 16;
    CK_ATTRIBUTE at[] = {{CKA_TOKEN, &F, 1}, {CKA_VALUE_LEN, &l16, sizeof(l16)},
                         {CKA_EXTRACTABLE, &T, 1}, {CKA_ENCRYPT, &T, 1}};
    CK_OBJECT_HANDLE aes, u, kek = des_key();
    OK(f->C_GenerateKey(S, &ag, at, ARRAY_LEN(at), &aes));
    uint8_t iv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w[64];
    CK_MECHANISM cbc = {CKM_DES_CBC, iv, 8};
    CK_ULONG wl2 = sizeof(w);
    OK(f->C_WrapKey(S, &cbc, kek, aes, w, &wl2));
    assert_int_equal(wl2, 16);
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_KEY_TYPE kta = CKK_AES;
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kta, sizeof(kta)},
                         {CKA_TOKEN, &F, 1}, {CKA_ENCRYPT, &T, 1}};
    OK(f->C_UnwrapKey(S, &cbc, kek, w, wl2, ut, ARRAY_LEN(ut), &u));
    uint8_t blk[16] = {0}, c1[16], c2[16];
    CK_ULONG l1 = sizeof(c1), l2 = sizeof(c2);
    CK_MECHANISM aecb = {CKM_AES_ECB, NULL, 0};
    OK(p11crypt(true, &aecb, aes, blk, 16, c1, &l1));
    OK(p11crypt(true, &aecb, u, blk, 16, c2, &l2));
    assert_memory_equal(c1, c2, 16);
}

static void test_rsa_1024(void **state)
{
    (void)state;
    CK_MECHANISM g = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG bits = 1024;
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &F, 1}, {CKA_MODULUS_BITS, &bits, sizeof(bits)},
                         {CKA_VERIFY, &T, 1}, {CKA_ENCRYPT, &T, 1}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &F, 1}, {CKA_PRIVATE, &T, 1}, {CKA_SIGN, &T, 1},
                         {CKA_DECRYPT, &T, 1}};
    CK_OBJECT_HANDLE pub, priv;
    OK(f->C_GenerateKeyPair(S, &g, pt, ARRAY_LEN(pt), kt, ARRAY_LEN(kt), &pub, &priv));
    CK_ULONG got = 0;
    CK_ATTRIBUTE a = {CKA_MODULUS_BITS, &got, sizeof(got)};
    OK(f->C_GetAttributeValue(S, pub, &a, 1));
    assert_int_equal(got, 1024);
    /* the key works: a signature, and OAEP (SHA-256: at most 62 bytes) */
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    uint8_t sig[128], ct[128], back[128];
    CK_ULONG sl = sizeof(sig);
    OK(f->C_SignInit(S, &m, priv));
    OK(f->C_Sign(S, (CK_BYTE_PTR) "legacy", 6, sig, &sl));
    assert_int_equal(sl, 128);
    OK(f->C_VerifyInit(S, &m, pub));
    OK(f->C_Verify(S, (CK_BYTE_PTR) "legacy", 6, sig, sl));
    sig[9] ^= 1;
    OK(f->C_VerifyInit(S, &m, pub));
    RV(f->C_Verify(S, (CK_BYTE_PTR) "legacy", 6, sig, sl), CKR_SIGNATURE_INVALID);
    CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA256, CKG_MGF1_SHA256, 0, NULL, 0};
    CK_MECHANISM mo = {CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
    uint8_t msg[63] = {0};
    CK_ULONG cl = sizeof(ct), bl = sizeof(back);
    OK(p11crypt(true, &mo, pub, msg, 62, ct, &cl));
    OK(p11crypt(false, &mo, priv, ct, cl, back, &bl));
    assert_int_equal(bl, 62);
    cl = sizeof(ct);
    RV(p11crypt(true, &mo, pub, msg, 63, ct, &cl), CKR_DATA_LEN_RANGE);
    /* PSS with SHA-512 and a 64-byte salt does not fit a 1024-bit key */
    CK_RSA_PKCS_PSS_PARAMS pp = {CKM_SHA512, CKG_MGF1_SHA512, 64};
    CK_MECHANISM mp = {CKM_SHA512_RSA_PKCS_PSS, &pp, sizeof(pp)};
    RV(f->C_SignInit(S, &mp, priv), CKR_MECHANISM_PARAM_INVALID);
    /* still nothing below 1024 bits */
    bits = 768;
    RV(f->C_GenerateKeyPair(S, &g, pt, ARRAY_LEN(pt), kt, ARRAY_LEN(kt), &pub, &priv),
       CKR_KEY_SIZE_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed),
        cmocka_unit_test(test_des_kat),
        cmocka_unit_test(test_des_keys),
        cmocka_unit_test(test_rsa_1024),
    };
    return cmocka_run_group_tests(tests, group_setup, t_teardown);
}
