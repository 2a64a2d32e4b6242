/*
 * Mechanisms through the PKCS#11 function list: for each mechanism a round
 * trip and the must-fail cases (forged signature, wrong tag, wrong label,
 * bad padding, bad parameters, wrong key type), the §5.2 call rules
 * (two-call convention, CKR_BUFFER_TOO_SMALL keeps the operation, errors end
 * it), key generation for every key type, wrap/unwrap and derivation.
 */
#include "test_p11_util.h"

static CK_SESSION_HANDLE S;
static CK_BBOOL T = CK_TRUE, F = CK_FALSE;

#define OK(x) assert_int_equal((x), CKR_OK)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define RV(x, r) assert_int_equal((x), (r))

static int group_setup(void **state)
{
    (void)state;
    t_env_setup();
    CK_SLOT_ID slot;
    return t_user_session("mech", &slot, &S);
}

/* ---- helpers -------------------------------------------------------------------- */

/* A session secret key with every usage and extractable (test material). */
static CK_OBJECT_HANDLE secret_import(CK_KEY_TYPE kt, const uint8_t *v, CK_ULONG n)
{
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)},     {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE, (void *)v, n},      {CKA_TOKEN, &F, 1},
        {CKA_ENCRYPT, &T, 1},           {CKA_DECRYPT, &T, 1},
        {CKA_SIGN, &T, 1},              {CKA_VERIFY, &T, 1},
        {CKA_WRAP, &T, 1},              {CKA_UNWRAP, &T, 1},
        {CKA_DERIVE, &T, 1},            {CKA_EXTRACTABLE, &T, 1},
        {CKA_SENSITIVE, &F, 1},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    OK(f->C_CreateObject(S, t, ARRAY_LEN(t), &h));
    return h;
}

static CK_OBJECT_HANDLE aes_gen(CK_ULONG len, CK_BBOOL extractable, CK_BBOOL wrap)
{
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ATTRIBUTE t[] = {
        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &F, 1},       {CKA_ENCRYPT, &T, 1},
        {CKA_DECRYPT, &T, 1},               {CKA_SIGN, &T, 1},        {CKA_VERIFY, &T, 1},
        {CKA_WRAP, &wrap, 1},               {CKA_UNWRAP, &T, 1},      {CKA_EXTRACTABLE, &extractable, 1},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    OK(f->C_GenerateKey(S, &m, t, ARRAY_LEN(t), &h));
    return h;
}

static const uint8_t OID_P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t OID_P384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t OID_P521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
static const uint8_t OID_ED25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t OID_ED448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
static const uint8_t OID_X25519[] = {0x06, 0x03, 0x2b, 0x65, 0x6e};
static const uint8_t OID_X448[] = {0x06, 0x03, 0x2b, 0x65, 0x6f};
static const uint8_t OID_SECP256K1[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};

static CK_RV pair_gen(CK_MECHANISM_TYPE mt, const uint8_t *oid, size_t oidlen, CK_ULONG bits,
                      CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = {mt, NULL, 0};
    bool rsa = mt == CKM_RSA_PKCS_KEY_PAIR_GEN;
    bool x = mt == CKM_EC_MONTGOMERY_KEY_PAIR_GEN;
    bool ec = mt == CKM_EC_KEY_PAIR_GEN;
    CK_ATTRIBUTE pt[6];
    CK_ATTRIBUTE kt[8];
    CK_ULONG np = 0, nk = 0;
    pt[np++] = (CK_ATTRIBUTE){CKA_TOKEN, &F, 1};
    if (rsa) {
        pt[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
        pt[np++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &T, 1};
        pt[np++] = (CK_ATTRIBUTE){CKA_WRAP, &T, 1};
    } else {
        pt[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid, oidlen};
    }
    if (!x)
        pt[np++] = (CK_ATTRIBUTE){CKA_VERIFY, &T, 1};
    kt[nk++] = (CK_ATTRIBUTE){CKA_TOKEN, &F, 1};
    kt[nk++] = (CK_ATTRIBUTE){CKA_PRIVATE, &T, 1};
    kt[nk++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &T, 1};
    kt[nk++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &T, 1};
    if (!x)
        kt[nk++] = (CK_ATTRIBUTE){CKA_SIGN, &T, 1};
    if (x || ec)
        kt[nk++] = (CK_ATTRIBUTE){CKA_DERIVE, &T, 1};
    if (rsa) {
        kt[nk++] = (CK_ATTRIBUTE){CKA_DECRYPT, &T, 1};
        kt[nk++] = (CK_ATTRIBUTE){CKA_UNWRAP, &T, 1};
    }
    return f->C_GenerateKeyPair(S, &m, pt, np, kt, nk, pub, priv);
}

static size_t sign(CK_MECHANISM *m, CK_OBJECT_HANDLE k, const uint8_t *msg, size_t n, uint8_t *sig)
{
    CK_ULONG sl = 0;
    OK(f->C_SignInit(S, m, k));
    OK(f->C_Sign(S, (CK_BYTE_PTR)msg, n, NULL, &sl));
    assert_true(sl > 0 && sl <= 1024);
    OK(f->C_Sign(S, (CK_BYTE_PTR)msg, n, sig, &sl));
    return sl;
}

static CK_RV verify(CK_MECHANISM *m, CK_OBJECT_HANDLE k, const uint8_t *msg, size_t n,
                    const uint8_t *sig, size_t sl)
{
    OK(f->C_VerifyInit(S, m, k));
    return f->C_Verify(S, (CK_BYTE_PTR)msg, n, (CK_BYTE_PTR)sig, sl);
}

/* sign / verify round trip, multi-part too, and a forged signature. */
static void sig_roundtrip(CK_MECHANISM *m, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                          size_t msglen, bool multipart)
{
    uint8_t msg[256], sig[1024], sig2[1024];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    size_t sl = sign(m, priv, msg, msglen, sig);
    OK(verify(m, pub, msg, msglen, sig, sl));
    sig[sl / 2] ^= 0x01;
    RV(verify(m, pub, msg, msglen, sig, sl), CKR_SIGNATURE_INVALID);
    sig[sl / 2] ^= 0x01;
    /* wrong length */
    RV(verify(m, pub, msg, msglen, sig, sl - 1), CKR_SIGNATURE_LEN_RANGE);
    /* other message */
    msg[0] ^= 0x80;
    RV(verify(m, pub, msg, msglen, sig, sl), CKR_SIGNATURE_INVALID);
    msg[0] ^= 0x80;
    if (multipart) {
        CK_ULONG l2 = sizeof(sig2);
        OK(f->C_SignInit(S, m, priv));
        OK(f->C_SignUpdate(S, msg, 10));
        OK(f->C_SignUpdate(S, msg + 10, msglen - 10));
        OK(f->C_SignFinal(S, sig2, &l2));
        OK(f->C_VerifyInit(S, m, pub));
        OK(f->C_VerifyUpdate(S, msg, 3));
        OK(f->C_VerifyUpdate(S, msg + 3, msglen - 3));
        OK(f->C_VerifyFinal(S, sig2, l2));
        /* the single-part signature verifies multi-part */
        OK(f->C_VerifyInit(S, m, pub));
        OK(f->C_VerifyUpdate(S, msg, msglen));
        sig[0] ^= 0x40;
        RV(f->C_VerifyFinal(S, sig, sl), CKR_SIGNATURE_INVALID);
        sig[0] ^= 0x40;
    }
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

/* ---- mechanism table ------------------------------------------------------------------- */

/* Run by tests/remote/run.sh against tesserad (TESSERA_URL set)? */
static bool remote_mode(void)
{
    const char *u = getenv("TESSERA_URL");
    return u != NULL && u[0] != '\0';
}

static void test_mech_list_info(void **state)
{
    (void)state;
    CK_SLOT_ID slots[16];
    t_slots(slots);
    CK_ULONG n = 0;
    OK(f->C_GetMechanismList(slots[0], NULL, &n));
    assert_true(n >= 60);
    CK_MECHANISM_TYPE list[256];
    CK_ULONG small = 2;
    RV(f->C_GetMechanismList(slots[0], list, &small), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(small, n);
    OK(f->C_GetMechanismList(slots[0], list, &n));
    for (CK_ULONG i = 0; i < n; i++) {
        CK_MECHANISM_INFO mi;
        OK(f->C_GetMechanismInfo(slots[0], list[i], &mi));
        assert_int_equal(mi.flags & (CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER | CKF_MESSAGE_ENCRYPT |
                                     CKF_MESSAGE_DECRYPT | CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY),
                         0);
        assert_true(mi.ulMinKeySize <= mi.ulMaxKeySize);
        /* single DES only with legacy_algorithms = true (off here) */
        assert_true(list[i] < CKM_DES_KEY_GEN || list[i] > CKM_DES_CBC_PAD);
        /* the embedded module runs in the caller's process: software, and
         * it says so (PKCS#11 3.0 §5.5 CKF_HW); remote (TESSERA_URL, see
         * tests/remote/run.sh) the keys are in tesserad and every
         * mechanism is performed by that device */
        if (remote_mode())
            assert_true(mi.flags & CKF_HW);
        else
            assert_false(mi.flags & CKF_HW);
    }
    CK_MECHANISM_INFO mi;
    OK(f->C_GetMechanismInfo(slots[0], CKM_RSA_PKCS_KEY_PAIR_GEN, &mi));
    assert_int_equal(mi.ulMinKeySize, 2048);
    assert_int_equal(mi.ulMaxKeySize, 4096);
    assert_true(mi.flags & CKF_GENERATE_KEY_PAIR);
    OK(f->C_GetMechanismInfo(slots[0], CKM_AES_GCM, &mi));
    assert_int_equal(mi.ulMinKeySize, 16);
    assert_int_equal(mi.ulMaxKeySize, 32);
    assert_int_equal(mi.flags & ~(CK_FLAGS)CKF_HW, CKF_ENCRYPT | CKF_DECRYPT);
    OK(f->C_GetMechanismInfo(slots[0], CKM_ECDSA, &mi));
    assert_int_equal(mi.ulMinKeySize, 256);
    assert_int_equal(mi.ulMaxKeySize, 521);
    OK(f->C_GetMechanismInfo(slots[0], CKM_DES3_CBC, &mi));
    assert_int_equal(mi.ulMinKeySize, 16);
    assert_int_equal(mi.ulMaxKeySize, 24);
    assert_int_equal(mi.flags & ~(CK_FLAGS)CKF_HW, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP);
    /* single DES and RSA-1024 only behind legacy_algorithms (off here) */
    RV(f->C_GetMechanismInfo(slots[0], CKM_DES_CBC, &mi), CKR_MECHANISM_INVALID);
    RV(f->C_GetMechanismInfo(slots[0], CKM_DES_KEY_GEN, &mi), CKR_MECHANISM_INVALID);
    OK(f->C_GetMechanismInfo(slots[0], CKM_SHA256_RSA_PKCS, &mi));
    assert_int_equal(mi.ulMinKeySize, 2048);
    RV(f->C_GetMechanismInfo(9999, CKM_AES_GCM, &mi), CKR_SLOT_ID_INVALID);
    RV(f->C_GetMechanismList(9999, NULL, &n), CKR_SLOT_ID_INVALID);
}

static void test_not_supported(void **state)
{
    (void)state;
    CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
    CK_ULONG l = 0;
    RV(f->C_SignRecoverInit(S, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
    RV(f->C_VerifyRecoverInit(S, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
    RV(f->C_DigestEncryptUpdate(S, NULL, 0, NULL, &l), CKR_FUNCTION_NOT_SUPPORTED);
    RV(f->C_MessageEncryptInit(S, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
    RV(f->C_MessageVerifyFinal(S), CKR_FUNCTION_NOT_SUPPORTED);
}

/* ---- digests ---------------------------------------------------------------------------- */

static void test_digest(void **state)
{
    (void)state;
    uint8_t exp[64], out[64];
    size_t el;
    CK_ULONG ol;
    CK_MECHANISM m = {CKM_SHA256, NULL, 0};
    /* FIPS 180-4 example "abc". */
    t_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", exp, &el);
    OK(f->C_DigestInit(S, &m));
    RV(f->C_DigestInit(S, &m), CKR_OPERATION_ACTIVE);
    ol = 0;
    OK(f->C_Digest(S, (CK_BYTE_PTR) "abc", 3, NULL, &ol));
    assert_int_equal(ol, 32);
    ol = 31;
    RV(f->C_Digest(S, (CK_BYTE_PTR) "abc", 3, out, &ol), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(ol, 32);
    OK(f->C_Digest(S, (CK_BYTE_PTR) "abc", 3, out, &ol));
    assert_memory_equal(out, exp, 32);
    /* the operation ended */
    RV(f->C_DigestUpdate(S, (CK_BYTE_PTR) "a", 1), CKR_OPERATION_NOT_INITIALIZED);
    RV(f->C_DigestFinal(S, out, &ol), CKR_OPERATION_NOT_INITIALIZED);
    /* multi-part */
    OK(f->C_DigestInit(S, &m));
    OK(f->C_DigestUpdate(S, (CK_BYTE_PTR) "a", 1));
    OK(f->C_DigestUpdate(S, (CK_BYTE_PTR) "bc", 2));
    ol = sizeof(out);
    OK(f->C_DigestFinal(S, out, &ol));
    assert_memory_equal(out, exp, 32);
    /* single-part after Update fails and ends the operation */
    OK(f->C_DigestInit(S, &m));
    OK(f->C_DigestUpdate(S, (CK_BYTE_PTR) "a", 1));
    ol = sizeof(out);
    RV(f->C_Digest(S, (CK_BYTE_PTR) "abc", 3, out, &ol), CKR_OPERATION_ACTIVE);
    RV(f->C_DigestFinal(S, out, &ol), CKR_OPERATION_NOT_INITIALIZED);
    /* SHA3-256("abc"), FIPS 202 example */
    CK_MECHANISM m3 = {CKM_SHA3_256, NULL, 0};
    t_unhex("3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532", exp, &el);
    OK(f->C_DigestInit(S, &m3));
    ol = sizeof(out);
    OK(f->C_Digest(S, (CK_BYTE_PTR) "abc", 3, out, &ol));
    assert_int_equal(ol, 32);
    assert_memory_equal(out, exp, 32);
    /* unknown mechanism */
    CK_MECHANISM bad = {CKM_MD5, NULL, 0};
    RV(f->C_DigestInit(S, &bad), CKR_MECHANISM_INVALID);
    CK_MECHANISM notdigest = {CKM_AES_GCM, NULL, 0};
    RV(f->C_DigestInit(S, &notdigest), CKR_MECHANISM_INVALID);
}

static void test_digest_key(void **state)
{
    (void)state;
    uint8_t kv[16], exp[32], out[32];
    size_t el;
    CK_ULONG ol = sizeof(out);
    memset(kv, 0x61, sizeof(kv));
    CK_OBJECT_HANDLE k = secret_import(CKK_AES, kv, sizeof(kv));
    CK_MECHANISM m = {CKM_SHA256, NULL, 0};
    /* SHA-256 of sixteen 'a' */
    OK(f->C_DigestInit(S, &m));
    OK(f->C_DigestKey(S, k));
    OK(f->C_DigestFinal(S, out, &ol));
    t_unhex("0c0beacef8877bbf2416eb00f2b5dc96354e26dd1df5517320459b1236860f8c", exp, &el);
    assert_memory_equal(out, exp, 32);
    /* an unextractable key is not digested; a bogus handle is refused */
    CK_OBJECT_HANDLE ku = aes_gen(16, CK_FALSE, CK_TRUE);
    OK(f->C_DigestInit(S, &m));
    RV(f->C_DigestKey(S, ku), CKR_KEY_INDIGESTIBLE);
    OK(f->C_DigestInit(S, &m));
    RV(f->C_DigestKey(S, 0x7777777), CKR_KEY_HANDLE_INVALID);
}

/* ---- RSA ---------------------------------------------------------------------------------- */

static CK_OBJECT_HANDLE rsa_pub, rsa_priv;

static void test_rsa_generate(void **state)
{
    (void)state;
    OK(pair_gen(CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0, 2048, &rsa_pub, &rsa_priv));
    CK_ULONG bits = 0;
    CK_ATTRIBUTE a = {CKA_MODULUS_BITS, &bits, sizeof(bits)};
    OK(f->C_GetAttributeValue(S, rsa_pub, &a, 1));
    assert_int_equal(bits, 2048);
    CK_OBJECT_HANDLE p, q;
    RV(pair_gen(CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0, 1024, &p, &q), CKR_KEY_SIZE_RANGE);
    RV(pair_gen(CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0, 8192, &p, &q), CKR_KEY_SIZE_RANGE);
}

static void test_rsa_pkcs1_sign(void **state)
{
    (void)state;
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    sig_roundtrip(&m, rsa_pub, rsa_priv, 100, true);
    CK_MECHANISM m1 = {CKM_SHA1_RSA_PKCS, NULL, 0};
    sig_roundtrip(&m1, rsa_pub, rsa_priv, 50, true);
    CK_MECHANISM m5 = {CKM_SHA512_RSA_PKCS, NULL, 0};
    sig_roundtrip(&m5, rsa_pub, rsa_priv, 50, false);
    /* raw PKCS#1 with a caller DigestInfo; too long input */
    CK_MECHANISM raw = {CKM_RSA_PKCS, NULL, 0};
    sig_roundtrip(&raw, rsa_pub, rsa_priv, 51, false);
    uint8_t big[256] = {0}, sig[256];
    CK_ULONG sl = sizeof(sig);
    OK(f->C_SignInit(S, &raw, rsa_priv));
    RV(f->C_Sign(S, big, 246, sig, &sl), CKR_DATA_LEN_RANGE);
    RV(f->C_SignFinal(S, sig, &sl), CKR_OPERATION_NOT_INITIALIZED);
    /* buffer too small keeps the operation */
    OK(f->C_SignInit(S, &m, rsa_priv));
    sl = 10;
    RV(f->C_Sign(S, big, 20, sig, &sl), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(sl, 256);
    OK(f->C_Sign(S, big, 20, sig, &sl));
    /* sign with the public key / verify with the private key */
    RV(f->C_SignInit(S, &m, rsa_pub), CKR_KEY_TYPE_INCONSISTENT);
    RV(f->C_VerifyInit(S, &m, rsa_priv), CKR_KEY_TYPE_INCONSISTENT);
    RV(f->C_SignInit(S, &m, 0x7777777), CKR_KEY_HANDLE_INVALID);
    /* X.509 raw */
    CK_MECHANISM x = {CKM_RSA_X_509, NULL, 0};
    sig_roundtrip(&x, rsa_pub, rsa_priv, 200, false);
}

static void test_rsa_pss(void **state)
{
    (void)state;
    CK_RSA_PKCS_PSS_PARAMS p = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS_PSS, &p, sizeof(p)};
    sig_roundtrip(&m, rsa_pub, rsa_priv, 77, true);
    CK_MECHANISM raw = {CKM_RSA_PKCS_PSS, &p, sizeof(p)};
    sig_roundtrip(&raw, rsa_pub, rsa_priv, 32, false);
    uint8_t h[33] = {0}, sig[256];
    CK_ULONG sl = sizeof(sig);
    OK(f->C_SignInit(S, &raw, rsa_priv));
    RV(f->C_Sign(S, h, 33, sig, &sl), CKR_DATA_LEN_RANGE);
    /* parameters: missing, wrong size, hash mismatch, salt too long */
    CK_MECHANISM none = {CKM_SHA256_RSA_PKCS_PSS, NULL, 0};
    RV(f->C_SignInit(S, &none, rsa_priv), CKR_MECHANISM_PARAM_INVALID);
    CK_MECHANISM shortp = {CKM_SHA256_RSA_PKCS_PSS, &p, sizeof(p) - 1};
    RV(f->C_SignInit(S, &shortp, rsa_priv), CKR_MECHANISM_PARAM_INVALID);
    CK_RSA_PKCS_PSS_PARAMS p2 = {CKM_SHA384, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mism = {CKM_SHA256_RSA_PKCS_PSS, &p2, sizeof(p2)};
    RV(f->C_SignInit(S, &mism, rsa_priv), CKR_MECHANISM_PARAM_INVALID);
    CK_RSA_PKCS_PSS_PARAMS p3 = {CKM_SHA256, CKG_MGF1_SHA256, 300};
    CK_MECHANISM salt = {CKM_SHA256_RSA_PKCS_PSS, &p3, sizeof(p3)};
    RV(f->C_SignInit(S, &salt, rsa_priv), CKR_MECHANISM_PARAM_INVALID);
    CK_RSA_PKCS_PSS_PARAMS p4 = {CKM_SHA256, 0x99, 32};
    CK_MECHANISM mgf = {CKM_SHA256_RSA_PKCS_PSS, &p4, sizeof(p4)};
    RV(f->C_VerifyInit(S, &mgf, rsa_pub), CKR_MECHANISM_PARAM_INVALID);
}

static void test_rsa_encrypt(void **state)
{
    (void)state;
    uint8_t msg[32], ct[256], pt[256];
    CK_ULONG cl = sizeof(ct), pl = sizeof(pt);
    memset(msg, 0x5a, sizeof(msg));
    char label[] = "label";
    CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label, 5};
    CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
    OK(p11crypt(true, &m, rsa_pub, msg, sizeof(msg), ct, &cl));
    assert_int_equal(cl, 256);
    OK(p11crypt(false, &m, rsa_priv, ct, cl, pt, &pl));
    assert_int_equal(pl, sizeof(msg));
    assert_memory_equal(pt, msg, sizeof(msg));
    /* exact-size buffer smaller than the modulus works; too small says how much */
    OK(f->C_DecryptInit(S, &m, rsa_priv));
    pl = 5;
    RV(f->C_Decrypt(S, ct, cl, pt, &pl), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(pl, 32);
    OK(f->C_Decrypt(S, ct, cl, pt, &pl));
    /* wrong label */
    op.pSourceData = "lab3l";
    pl = sizeof(pt);
    RV(p11crypt(false, &m, rsa_priv, ct, cl, pt, &pl), CKR_ENCRYPTED_DATA_INVALID);
    RV(f->C_DecryptFinal(S, pt, &pl), CKR_OPERATION_NOT_INITIALIZED);
    /* SHA-1 OAEP, no label */
    CK_RSA_PKCS_OAEP_PARAMS o1 = {CKM_SHA_1, CKG_MGF1_SHA1, 0, NULL, 0};
    CK_MECHANISM m1 = {CKM_RSA_PKCS_OAEP, &o1, sizeof(o1)};
    cl = sizeof(ct);
    pl = sizeof(pt);
    OK(p11crypt(true, &m1, rsa_pub, msg, sizeof(msg), ct, &cl));
    OK(p11crypt(false, &m1, rsa_priv, ct, cl, pt, &pl));
    assert_memory_equal(pt, msg, sizeof(msg));
    /* bad params */
    CK_RSA_PKCS_OAEP_PARAMS ob = {CKM_SHA256, CKG_MGF1_SHA256, 7, NULL, 0};
    CK_MECHANISM mb = {CKM_RSA_PKCS_OAEP, &ob, sizeof(ob)};
    RV(f->C_EncryptInit(S, &mb, rsa_pub), CKR_MECHANISM_PARAM_INVALID);
    CK_RSA_PKCS_OAEP_PARAMS ol = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 4};
    CK_MECHANISM ml = {CKM_RSA_PKCS_OAEP, &ol, sizeof(ol)};
    RV(f->C_EncryptInit(S, &ml, rsa_pub), CKR_MECHANISM_PARAM_INVALID);
    /* too long for OAEP-SHA256: k - 2*32 - 2 = 190 */
    uint8_t big[200] = {0};
    cl = sizeof(ct);
    op.pSourceData = label;
    RV(p11crypt(true, &m, rsa_pub, big, 191, ct, &cl), CKR_DATA_LEN_RANGE);
    /* PKCS#1 v1.5 encryption; a modified ciphertext fails */
    CK_MECHANISM p1 = {CKM_RSA_PKCS, NULL, 0};
    cl = sizeof(ct);
    pl = sizeof(pt);
    OK(p11crypt(true, &p1, rsa_pub, msg, sizeof(msg), ct, &cl));
    OK(p11crypt(false, &p1, rsa_priv, ct, cl, pt, &pl));
    assert_memory_equal(pt, msg, sizeof(msg));
    pl = sizeof(pt);
    RV(p11crypt(false, &p1, rsa_priv, ct, cl - 1, pt, &pl), CKR_ENCRYPTED_DATA_LEN_RANGE);
    /* multi-part accumulation works for OAEP */
    cl = sizeof(ct);
    OK(f->C_EncryptInit(S, &m, rsa_pub));
    CK_ULONG z = sizeof(ct);
    OK(f->C_EncryptUpdate(S, msg, 10, ct, &z));
    assert_int_equal(z, 0);
    z = sizeof(ct);
    OK(f->C_EncryptUpdate(S, msg + 10, 22, ct, &z));
    OK(f->C_EncryptFinal(S, ct, &cl));
    pl = sizeof(pt);
    OK(p11crypt(false, &m, rsa_priv, ct, cl, pt, &pl));
    assert_memory_equal(pt, msg, sizeof(msg));
}

/* ---- SHA-3 with RSA and ECDSA ------------------------------------------------------------ */

/* Made with the OpenSSL 3.0 command line: an RSA-2048 key (openssl genpkey);
 * "abc" signed with `openssl dgst -sha3-256 -sign` (PKCS#1 v1.5) and with
 * -sha3-384 PSS (salt 48, MGF1 SHA3-384); "oaep sha3 plaintext" encrypted
 * with `openssl pkeyutl` OAEP SHA3-256, MGF1 SHA3-256, label "label"; a P-256
 * key and "abc" signed with -sha3-256 (DER turned into r || s). */
static const char RSA3_N[] =
    "bed536f5ca8d08cffbfbe0c3319bfc4c9527c2eee81cee89d2ab956ee7436902c0554cc7456b3f70c952cd70"
    "d9c9408b565ee67404e145a643bdd42047a697d48cae87c80da57aec17272f0b274d949ef367f73c420f4ff4"
    "e4b01c7249f35dda82fa6bbe77771212cff84500dc054d414485975c601ac9fe184c864b88118b3e71528a13"
    "b403df131f75672bcc0ea40743a8cd137b091d9a90af0fe790e8fff1e551ba6c0909037e72763c6486c45d77"
    "cde5aec320c054509baeb33a165e4c96bfc51c329875dc97d6c7a1db2c836e7308619819b45fca5556637760"
    "39730f7e4a77b6302d77bcaf4d559b3c03e972617ad0cbd8a36d7507ca6a2c0448825de7";

static const char RSA3_E[] =
    "010001";

static const char RSA3_D[] =
    "17f584b323029baecd32c850897678473f2f764c70ccf7c54b08c0380e860aa04df887ad647c521892d6380a"
    "93f558b55b1b3570d9e4a9f8cad181aea9d59dd8bc444a07911b0bcdff718123b3d96185a6b16610e53459f4"
    "0e65995f5f59d4433e7ae55dccf9a09b1c61a326e2a38719b62f80464349ff13f80607930d1add71e4f08637"
    "6ff60ad8182da887d755d739d4b5bf4886a671ac48597ca09a8d0bf1e38a0341b6046fcb2f3a81cf4d8724a1"
    "d05999a0226842f69482c9885f353cc76b8c124d177571b7b6f84c4a5275ffc49156f515a196a276830bb284"
    "0df2c51069d524a8bb232e455cbbf7cc178a4430abaf123f2cedfe1e26fae0ac8fb22165";

static const char RSA3_P[] =
    "f3db283ec2ee6cc0ff564de89fe64b678850463a7817216aa6ebbf58a1bae823c957bd552ea13efefd3c6211"
    "bff61293d20549e3d8dddb5fc3a59e9680a7c03c163fa64a15843f54285e8d6665284992145c131c30d116e9"
    "80e2b44ee807ee024db104fa15944e4d560211db38a5d71a01536e1b88f59bf7e997ec14926cc343";

static const char RSA3_Q[] =
    "c85614e2e13e2dd7c23dd8d6a7e06573dc1c3469545e334bd0b6cd8cf156738eecd95f95be228996671d99f2"
    "63b5646b798db52ff71946b438c2287297295eafaed234629837f306d05e98e37991d2956dda4a744becc8ad"
    "4e1ac87fd4cd6102b95279f58bcd21a70295813c2f465fa4b673dd0897bcebf2b50231d97447c68d";

static const char RSA3_DP[] =
    "8f8b686b596fe410cfbd4beb2d84f0ca2711a9e56d1fa08a196c189ce1c716334aa81d49714375c3bfe9b588"
    "e148c6b2c1245fd481aa47225e16b5fdbe0a013cdd93e61d2201510e071d717adefd1221ad5e6dd9605b1473"
    "ab6cc7dad2f72801af1e0ee1efa5f759cad13915a488eacfe20bec7ac4ea5f3f560019f61a236fe5";

static const char RSA3_DQ[] =
    "bb2ba1cbef4196b714659027cd24dbe4896b5894681cb2b44cc5ddf9a6a96cc1c60bb940402a287dfacd2f3d"
    "c5667df1e3d93fc51689e9030c5c6a49d56cf368145f944de185b46b53566e6568f992d3c594c32730a08345"
    "57c9b235ac6e4e0aab76a137866c1adadc912df33afff6effefef52dc806dc332066728886196129";

static const char RSA3_QI[] =
    "eeb3933bbb3dadf4f8e1129ebc60c2913187f3392ba5d7cb817410b90c9d125f74da3e097f60963ac5d70a3d"
    "bb880a8092ffe0e3776a33c8de86e6c7e56c9dafda3a508e171a3614dcf66c76ed5d7775d493a1e985be9f01"
    "9d2cb2f866cf16f8b9918a2126c8d101c0f86cd74c0508a9a7b0f6518392cef4a4c58ca6cee62179";

static const char RSA3_SIG_PKCS1_SHA3_256[] =
    "67e88af59ae25bae94d2344d897d8ae990f18320716a3baa0e0c8ab0ed8f26955c06440aa630353890c60212"
    "6cbf7f4a19c844058c6f6fd6a041c06b76ea9cd410122189beba018c8ab4430e579e5d1f16e9af6ccf2e04c1"
    "94843dd1c918cc6c36f5945b422b59373a9b41cab29daa6721c8e2c4a2884e2955665bf3df4570c7c015dfcd"
    "b0dd11cfc51c6259dc3f54cb8f05ea0f6ad61abe8fc5dcf3b2cb9eed194e93d257a14b43f11dad4559c20c77"
    "a513b46f979119a64a165e5a5bddb579c985e502984eb8f7b5e93bd63fa19c2588467d0503da4c844b10f7d9"
    "2d786af2be56e84692a0969987e765772b27ad3f32ddac071caa98e38ac8902fb8d57c1b";

static const char RSA3_SIG_PSS_SHA3_384[] =
    "769f24d57a6107ce2d2570d2eb642d1d9669db63baa6b17b7bf8ba9b8a37e1099ba7e0033b9eeae832d3a9e6"
    "74f1b6b157ad09d4a6f3212a4a2935172e0230d0e03a6a50e1c0ef593781158014f020de7c4062493b8cdbab"
    "0b6d9c1de931812e49494199d668d4a8e9b3850a072f635a8e7289d54b8d72ea7c24316e4fba7849fef0a79c"
    "39aa8e195f2089e34922a78ca0323c7098028fb83952ae6e852d5dc07f22dfaebe6d5a1b77cf58424bbc8756"
    "19fb7269b8eeef2f74ad405ce9c96b778f01f7921dc722904be64481e43edcefd8e9cdf8f6f77311de8569b2"
    "6a527b13d7ae01ee89583f931b52a899d75c997b612552842b49be8b40f46b6728eae646";

static const char RSA3_OAEP_SHA3_256_CT[] =
    "8a282842b2f537aab4ea95307df9917afa4f4b634c3f0cafb30e4335ecd9e42b95a9f40396001bff8426a4ab"
    "d6ab397472dcd42919fb4a86d48baf5729276253ca24fe7411375c50333656a7b36ad29cdb79d20049719b87"
    "bfc1afcf0da009098adbfb20f5f47e4fff393167d0e16028fa7671ce822ff57dd025e6306b0904ebca8a804a"
    "f64b9a0e42f6056286dd7fbeaf603241bdb5ee22692da48f1822cc40d8724771bb08139b69eeeb569757531d"
    "888437d7b1d29bbcd77529e6b7c36c0be3b5746a01d80375d2bf7ee3fa95ae1729a0df741b526ba2c4fc2eda"
    "6d24470b2d7e60f64c8748e5d89f139e979b6eb62c28247490047e7f1079c5d73d5ba489";

static const char EC3_POINT[] =
    "04b618d0a19421a29864ea676322edda8933d36f55fa56a5419267b6c6927945d3ad4efed19f019dec4fd12f"
    "ba4d8c55a45b585f42281edbf323ce0e57c45167ec";

static const char EC3_SIG_SHA3_256[] =
    "ccf026f59e645d0efe0efdf93d8df69da83a2138cb83ee72836c65208cc2c92217b41e97b735a04cb562710e"
    "6ab954227f53f7cdfc181c833ecac47e0f3b0eeb";


static void rsa3_import(CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    static uint8_t n[256], e[8], d[256], p[128], q[128], dp[128], dq[128], qi[128];
    size_t nl, el, dl, pl, ql, dpl, dql, qil;
    t_unhex(RSA3_N, n, &nl);
    t_unhex(RSA3_E, e, &el);
    t_unhex(RSA3_D, d, &dl);
    t_unhex(RSA3_P, p, &pl);
    t_unhex(RSA3_Q, q, &ql);
    t_unhex(RSA3_DP, dp, &dpl);
    t_unhex(RSA3_DQ, dq, &dql);
    t_unhex(RSA3_QI, qi, &qil);
    CK_OBJECT_CLASS cpub = CKO_PUBLIC_KEY, cpriv = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE pt[] = {
        {CKA_CLASS, &cpub, sizeof(cpub)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &F, 1},
        {CKA_MODULUS, n, nl},             {CKA_PUBLIC_EXPONENT, e, el},    {CKA_VERIFY, &T, 1},
        {CKA_ENCRYPT, &T, 1},
    };
    CK_ATTRIBUTE kt2[] = {
        {CKA_CLASS, &cpriv, sizeof(cpriv)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &F, 1},                 {CKA_MODULUS, n, nl},
        {CKA_PUBLIC_EXPONENT, e, el},       {CKA_PRIVATE_EXPONENT, d, dl},
        {CKA_PRIME_1, p, pl},               {CKA_PRIME_2, q, ql},
        {CKA_EXPONENT_1, dp, dpl},          {CKA_EXPONENT_2, dq, dql},
        {CKA_COEFFICIENT, qi, qil},         {CKA_SIGN, &T, 1},
        {CKA_DECRYPT, &T, 1},
    };
    OK(f->C_CreateObject(S, pt, ARRAY_LEN(pt), pub));
    OK(f->C_CreateObject(S, kt2, ARRAY_LEN(kt2), priv));
}

static void test_sha3_rsa(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE pub, priv;
    uint8_t exp[512], sig[512], ct[512], pt[512];
    size_t el, cl;
    CK_ULONG pl;
    rsa3_import(&pub, &priv);
    /* PKCS#1 v1.5 is deterministic: the same signature as OpenSSL's */
    CK_MECHANISM m1 = {CKM_SHA3_256_RSA_PKCS, NULL, 0};
    t_unhex(RSA3_SIG_PKCS1_SHA3_256, exp, &el);
    assert_int_equal(sign(&m1, priv, (const uint8_t *)"abc", 3, sig), 256);
    assert_memory_equal(sig, exp, 256);
    OK(verify(&m1, pub, (const uint8_t *)"abc", 3, exp, el));
    /* the same signature does not pass as SHA-256 or SHA3-384 */
    CK_MECHANISM m256 = {CKM_SHA256_RSA_PKCS, NULL, 0};
    RV(verify(&m256, pub, (const uint8_t *)"abc", 3, exp, el), CKR_SIGNATURE_INVALID);
    CK_MECHANISM m384 = {CKM_SHA3_384_RSA_PKCS, NULL, 0};
    RV(verify(&m384, pub, (const uint8_t *)"abc", 3, exp, el), CKR_SIGNATURE_INVALID);
    /* OpenSSL's PSS signature verifies, combined and over the digest */
    CK_RSA_PKCS_PSS_PARAMS pp = {CKM_SHA3_384, CKG_MGF1_SHA3_384, 48};
    CK_MECHANISM mp = {CKM_SHA3_384_RSA_PKCS_PSS, &pp, sizeof(pp)};
    t_unhex(RSA3_SIG_PSS_SHA3_384, exp, &el);
    OK(verify(&mp, pub, (const uint8_t *)"abc", 3, exp, el));
    uint8_t h[48];
    CK_ULONG hl = sizeof(h);
    CK_MECHANISM d384 = {CKM_SHA3_384, NULL, 0};
    OK(f->C_DigestInit(S, &d384));
    OK(f->C_Digest(S, (CK_BYTE_PTR) "abc", 3, h, &hl));
    CK_MECHANISM raw = {CKM_RSA_PKCS_PSS, &pp, sizeof(pp)};
    OK(verify(&raw, pub, h, hl, exp, el));
    exp[100] ^= 0x10;
    RV(verify(&mp, pub, (const uint8_t *)"abc", 3, exp, el), CKR_SIGNATURE_INVALID);
    exp[100] ^= 0x10;
    /* MGF1 with another hash than the one OpenSSL used */
    pp.mgf = CKG_MGF1_SHA384;
    RV(verify(&mp, pub, (const uint8_t *)"abc", 3, exp, el), CKR_SIGNATURE_INVALID);
    pp.mgf = CKG_MGF1_SHA3_384;
    /* OAEP: OpenSSL's ciphertext decrypts; wrong label or MGF fails */
    char label[] = "label";
    CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA3_256, CKG_MGF1_SHA3_256, CKZ_DATA_SPECIFIED, label, 5};
    CK_MECHANISM mo = {CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
    t_unhex(RSA3_OAEP_SHA3_256_CT, ct, &cl);
    pl = sizeof(pt);
    OK(p11crypt(false, &mo, priv, ct, cl, pt, &pl));
    assert_int_equal(pl, 19);
    assert_memory_equal(pt, "oaep sha3 plaintext", 19);
    op.ulSourceDataLen = 4;
    pl = sizeof(pt);
    RV(p11crypt(false, &mo, priv, ct, cl, pt, &pl), CKR_ENCRYPTED_DATA_INVALID);
    op.ulSourceDataLen = 5;
    op.mgf = CKG_MGF1_SHA256;
    pl = sizeof(pt);
    RV(p11crypt(false, &mo, priv, ct, cl, pt, &pl), CKR_ENCRYPTED_DATA_INVALID);
    /* OAEP SHA3-512 round trip; its limit is k - 2 * 64 - 2 = 126 bytes */
    CK_RSA_PKCS_OAEP_PARAMS o5 = {CKM_SHA3_512, CKG_MGF1_SHA3_512, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM m5 = {CKM_RSA_PKCS_OAEP, &o5, sizeof(o5)};
    uint8_t msg[127];
    memset(msg, 0x3c, sizeof(msg));
    CK_ULONG cl2 = sizeof(ct);
    OK(p11crypt(true, &m5, pub, msg, 126, ct, &cl2));
    pl = sizeof(pt);
    OK(p11crypt(false, &m5, priv, ct, cl2, pt, &pl));
    assert_int_equal(pl, 126);
    assert_memory_equal(pt, msg, 126);
    cl2 = sizeof(ct);
    RV(p11crypt(true, &m5, pub, msg, 127, ct, &cl2), CKR_DATA_LEN_RANGE);
    /* every SHA-3 RSA mechanism, round trip with the generated key */
    static const struct {
        CK_MECHANISM_TYPE pkcs, pss, hash;
        CK_RSA_PKCS_MGF_TYPE mgf;
        CK_ULONG hlen;
    } all[] = {
        {CKM_SHA3_224_RSA_PKCS, CKM_SHA3_224_RSA_PKCS_PSS, CKM_SHA3_224, CKG_MGF1_SHA3_224, 28},
        {CKM_SHA3_256_RSA_PKCS, CKM_SHA3_256_RSA_PKCS_PSS, CKM_SHA3_256, CKG_MGF1_SHA3_256, 32},
        {CKM_SHA3_384_RSA_PKCS, CKM_SHA3_384_RSA_PKCS_PSS, CKM_SHA3_384, CKG_MGF1_SHA3_384, 48},
        {CKM_SHA3_512_RSA_PKCS, CKM_SHA3_512_RSA_PKCS_PSS, CKM_SHA3_512, CKG_MGF1_SHA3_512, 64},
    };
    for (size_t i = 0; i < ARRAY_LEN(all); i++) {
        CK_MECHANISM a = {all[i].pkcs, NULL, 0};
        sig_roundtrip(&a, rsa_pub, rsa_priv, 60, true);
        CK_RSA_PKCS_PSS_PARAMS q = {all[i].hash, all[i].mgf, all[i].hlen};
        CK_MECHANISM b = {all[i].pss, &q, sizeof(q)};
        sig_roundtrip(&b, rsa_pub, rsa_priv, 60, true);
        /* a SHA-3 hash with a SHA-2 MGF1 is a valid combination */
        q.mgf = CKG_MGF1_SHA256;
        sig_roundtrip(&b, rsa_pub, rsa_priv, 20, false);
        /* hashAlg must be the mechanism's own hash */
        q.hashAlg = CKM_SHA256;
        RV(f->C_SignInit(S, &b, rsa_priv), CKR_MECHANISM_PARAM_INVALID);
        CK_RSA_PKCS_OAEP_PARAMS o = {all[i].hash, all[i].mgf, 0, NULL, 0};
        CK_MECHANISM c = {CKM_RSA_PKCS_OAEP, &o, sizeof(o)};
        cl2 = sizeof(ct);
        OK(p11crypt(true, &c, rsa_pub, msg, 50, ct, &cl2));
        pl = sizeof(pt);
        OK(p11crypt(false, &c, rsa_priv, ct, cl2, pt, &pl));
        assert_int_equal(pl, 50);
    }
    /* an MGF1 code past the SHA-3 ones */
    CK_RSA_PKCS_PSS_PARAMS bad = {CKM_SHA3_256, 0x0a, 32};
    CK_MECHANISM mb = {CKM_SHA3_256_RSA_PKCS_PSS, &bad, sizeof(bad)};
    RV(f->C_SignInit(S, &mb, rsa_priv), CKR_MECHANISM_PARAM_INVALID);
    CK_RSA_PKCS_OAEP_PARAMS ob = {CKM_SHA3_256, 0x0a, 0, NULL, 0};
    CK_MECHANISM mob = {CKM_RSA_PKCS_OAEP, &ob, sizeof(ob)};
    RV(f->C_EncryptInit(S, &mob, rsa_pub), CKR_MECHANISM_PARAM_INVALID);
}

static void test_sha3_ecdsa(void **state)
{
    (void)state;
    uint8_t point[65], der[67], sig[64];
    size_t ptl, sgl;
    t_unhex(EC3_POINT, point, &ptl);
    t_unhex(EC3_SIG_SHA3_256, sig, &sgl);
    der[0] = 0x04;
    der[1] = (uint8_t)ptl;
    memcpy(der + 2, point, ptl);
    CK_OBJECT_CLASS c = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &F, 1},         {CKA_EC_PARAMS, (void *)OID_P256, sizeof(OID_P256)},
        {CKA_EC_POINT, der, ptl + 2}, {CKA_VERIFY, &T, 1},
    };
    CK_OBJECT_HANDLE pub;
    OK(f->C_CreateObject(S, t, ARRAY_LEN(t), &pub));
    CK_MECHANISM m = {CKM_ECDSA_SHA3_256, NULL, 0};
    OK(verify(&m, pub, (const uint8_t *)"abc", 3, sig, sgl));
    CK_MECHANISM m2 = {CKM_ECDSA_SHA256, NULL, 0};
    RV(verify(&m2, pub, (const uint8_t *)"abc", 3, sig, sgl), CKR_SIGNATURE_INVALID);
    CK_MECHANISM m3 = {CKM_ECDSA_SHA3_384, NULL, 0};
    RV(verify(&m3, pub, (const uint8_t *)"abc", 3, sig, sgl), CKR_SIGNATURE_INVALID);
    sig[40] ^= 1;
    RV(verify(&m, pub, (const uint8_t *)"abc", 3, sig, sgl), CKR_SIGNATURE_INVALID);
    sig[40] ^= 1;
    /* multi-part over the same message */
    OK(f->C_VerifyInit(S, &m, pub));
    OK(f->C_VerifyUpdate(S, (CK_BYTE_PTR) "a", 1));
    OK(f->C_VerifyUpdate(S, (CK_BYTE_PTR) "bc", 2));
    OK(f->C_VerifyFinal(S, sig, sgl));
    static const CK_MECHANISM_TYPE all[] = {CKM_ECDSA_SHA3_224, CKM_ECDSA_SHA3_256,
                                            CKM_ECDSA_SHA3_384, CKM_ECDSA_SHA3_512};
    CK_OBJECT_HANDLE p384, k384;
    OK(pair_gen(CKM_EC_KEY_PAIR_GEN, OID_P384, sizeof(OID_P384), 0, &p384, &k384));
    for (size_t i = 0; i < ARRAY_LEN(all); i++) {
        CK_MECHANISM a = {all[i], NULL, 0};
        sig_roundtrip(&a, p384, k384, 90, true);
    }
    /* an ECDSA mechanism with an RSA key */
    RV(f->C_SignInit(S, &m, rsa_priv), CKR_KEY_TYPE_INCONSISTENT);
}

/* ---- EC ---------------------------------------------------------------------------------- */

static void test_ecdsa(void **state)
{
    (void)state;
    const uint8_t *oids[] = {OID_P256, OID_P384, OID_P521};
    size_t lens[] = {sizeof(OID_P256), sizeof(OID_P384), sizeof(OID_P521)};
    for (int i = 0; i < 3; i++) {
        CK_OBJECT_HANDLE pub, priv;
        OK(pair_gen(CKM_EC_KEY_PAIR_GEN, oids[i], lens[i], 0, &pub, &priv));
        CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
        sig_roundtrip(&m, pub, priv, 100, true);
        CK_MECHANISM m5 = {CKM_ECDSA_SHA512, NULL, 0};
        sig_roundtrip(&m5, pub, priv, 30, true);
        CK_MECHANISM raw = {CKM_ECDSA, NULL, 0};
        sig_roundtrip(&raw, pub, priv, 32, false);
        uint8_t sig[200];
        CK_ULONG sl = sizeof(sig);
        OK(f->C_SignInit(S, &raw, priv));
        RV(f->C_Sign(S, sig, 65, sig, &sl), CKR_DATA_LEN_RANGE);
        CK_MECHANISM rsa = {CKM_SHA256_RSA_PKCS, NULL, 0};
        RV(f->C_SignInit(S, &rsa, priv), CKR_KEY_TYPE_INCONSISTENT);
    }
    CK_OBJECT_HANDLE p, q;
    RV(pair_gen(CKM_EC_KEY_PAIR_GEN, OID_SECP256K1, sizeof(OID_SECP256K1), 0, &p, &q),
       CKR_CURVE_NOT_SUPPORTED);
    RV(pair_gen(CKM_EC_KEY_PAIR_GEN, OID_ED25519, sizeof(OID_ED25519), 0, &p, &q),
       CKR_CURVE_NOT_SUPPORTED);
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE none[] = {{CKA_TOKEN, &F, 1}};
    RV(f->C_GenerateKeyPair(S, &m, none, 1, none, 1, &p, &q), CKR_TEMPLATE_INCOMPLETE);
}

static void test_eddsa(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE pub, priv;
    OK(pair_gen(CKM_EC_EDWARDS_KEY_PAIR_GEN, OID_ED25519, sizeof(OID_ED25519), 0, &pub, &priv));
    CK_MECHANISM m = {CKM_EDDSA, NULL, 0};
    sig_roundtrip(&m, pub, priv, 100, true);
    /* explicit parameters without prehash or context: pure EdDSA */
    CK_EDDSA_PARAMS pure = {CK_FALSE, 0, NULL};
    CK_MECHANISM mp = {CKM_EDDSA, &pure, sizeof(pure)};
    sig_roundtrip(&mp, pub, priv, 40, false);
    /* Ed25519ph / contexts are refused (the crypto layer has pure EdDSA only) */
    CK_EDDSA_PARAMS ep = {CK_TRUE, 3, (CK_BYTE_PTR) "ctx"};
    CK_MECHANISM mph = {CKM_EDDSA, &ep, sizeof(ep)};
    RV(f->C_SignInit(S, &mph, priv), CKR_MECHANISM_PARAM_INVALID);
    ep.phFlag = CK_FALSE;
    RV(f->C_VerifyInit(S, &mph, pub), CKR_MECHANISM_PARAM_INVALID);
    /* A context longer than RFC 8032's 255 bytes. The buffer is as long as
     * the parameter says: a remote module copies what the caller declares. */
    uint8_t long_ctx[300] = {0};
    CK_EDDSA_PARAMS bad = {CK_FALSE, sizeof(long_ctx), long_ctx};
    CK_MECHANISM mb = {CKM_EDDSA, &bad, sizeof(bad)};
    RV(f->C_SignInit(S, &mb, priv), CKR_MECHANISM_PARAM_INVALID);
    CK_MECHANISM mb2 = {CKM_EDDSA, &bad, 3};
    RV(f->C_SignInit(S, &mb2, priv), CKR_MECHANISM_PARAM_INVALID);

    OK(pair_gen(CKM_EC_EDWARDS_KEY_PAIR_GEN, OID_ED448, sizeof(OID_ED448), 0, &pub, &priv));
    sig_roundtrip(&m, pub, priv, 100, true);
    CK_OBJECT_HANDLE p, q;
    RV(pair_gen(CKM_EC_EDWARDS_KEY_PAIR_GEN, OID_P256, sizeof(OID_P256), 0, &p, &q),
       CKR_CURVE_NOT_SUPPORTED);
}

/* Derive an AES-256 key from priv and the peer's public point. */
static CK_RV ecdh_aes(CK_OBJECT_HANDLE priv, CK_ULONG kdf, const uint8_t *pt, size_t ptlen,
                      CK_OBJECT_HANDLE *out)
{
    CK_ECDH1_DERIVE_PARAMS p = {kdf, 0, NULL, ptlen, (CK_BYTE_PTR)pt};
    if (kdf != CKD_NULL) {
        p.pSharedData = (CK_BYTE_PTR) "shared";
        p.ulSharedDataLen = 6;
    }
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_VALUE_LEN, &len, sizeof(len)},
        {CKA_TOKEN, &F, 1},        {CKA_ENCRYPT, &T, 1},            {CKA_DECRYPT, &T, 1},
    };
    return f->C_DeriveKey(S, &m, priv, t, ARRAY_LEN(t), out);
}

static void same_aes_key(CK_OBJECT_HANDLE a, CK_OBJECT_HANDLE b, bool same)
{
    uint8_t msg[16] = "sixteen byte msg", ct[16], pt[16];
    CK_ULONG cl = sizeof(ct), pl = sizeof(pt);
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    OK(p11crypt(true, &ecb, a, msg, 16, ct, &cl));
    OK(p11crypt(false, &ecb, b, ct, 16, pt, &pl));
    if (same)
        assert_memory_equal(pt, msg, 16);
    else
        assert_memory_not_equal(pt, msg, 16);
}

static void point_of(CK_OBJECT_HANDLE pub, uint8_t *der, CK_ULONG *len)
{
    CK_ATTRIBUTE a = {CKA_EC_POINT, der, *len};
    OK(f->C_GetAttributeValue(S, pub, &a, 1));
    *len = a.ulValueLen;
}

static void ecdh_pair_check(const uint8_t *oid, size_t oidlen, CK_MECHANISM_TYPE gen)
{
    CK_OBJECT_HANDLE apub, apriv, bpub, bpriv, ka, kb, kc;
    OK(pair_gen(gen, oid, oidlen, 0, &apub, &apriv));
    OK(pair_gen(gen, oid, oidlen, 0, &bpub, &bpriv));
    uint8_t pa[200], pb[200];
    CK_ULONG la = sizeof(pa), lb = sizeof(pb);
    point_of(apub, pa, &la);
    point_of(bpub, pb, &lb);
    /* CKA_EC_POINT is a DER OCTET STRING; take the raw value too. */
    size_t hdr = pb[1] == 0x81 ? 3 : 2;
    OK(ecdh_aes(apriv, CKD_SHA256_KDF, pb, lb, &ka));          /* DER form */
    OK(ecdh_aes(bpriv, CKD_SHA256_KDF, pa + hdr, la - hdr, &kb)); /* raw form */
    same_aes_key(ka, kb, true);
    OK(ecdh_aes(apriv, CKD_SHA1_KDF, pb, lb, &kc));
    same_aes_key(ka, kc, false);
    /* a damaged point, a wrong-length point, shared data with CKD_NULL */
    uint8_t bad[200];
    memcpy(bad, pb + hdr, lb - hdr);
    RV(ecdh_aes(apriv, CKD_SHA256_KDF, bad, lb - hdr - 1, &kc), CKR_MECHANISM_PARAM_INVALID);
    CK_ECDH1_DERIVE_PARAMS p = {CKD_NULL, 3, (CK_BYTE_PTR) "abc", lb, pb};
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    CK_ATTRIBUTE t[] = {{CKA_TOKEN, &F, 1}};
    RV(f->C_DeriveKey(S, &m, apriv, t, 1, &kc), CKR_MECHANISM_PARAM_INVALID);
    p.kdf = 0x77;
    p.ulSharedDataLen = 0;
    RV(f->C_DeriveKey(S, &m, apriv, t, 1, &kc), CKR_MECHANISM_PARAM_INVALID);
    CK_MECHANISM ms = {CKM_ECDH1_DERIVE, &p, sizeof(p) - 1};
    RV(f->C_DeriveKey(S, &ms, apriv, t, 1, &kc), CKR_MECHANISM_PARAM_INVALID);
    /* deriving from a public key */
    p.kdf = CKD_NULL;
    RV(f->C_DeriveKey(S, &m, apub, t, 1, &kc), CKR_KEY_TYPE_INCONSISTENT);
}

static void test_ecdh(void **state)
{
    (void)state;
    ecdh_pair_check(OID_P256, sizeof(OID_P256), CKM_EC_KEY_PAIR_GEN);
    ecdh_pair_check(OID_P384, sizeof(OID_P384), CKM_EC_KEY_PAIR_GEN);
    ecdh_pair_check(OID_X25519, sizeof(OID_X25519), CKM_EC_MONTGOMERY_KEY_PAIR_GEN);
    ecdh_pair_check(OID_X448, sizeof(OID_X448), CKM_EC_MONTGOMERY_KEY_PAIR_GEN);
    CK_OBJECT_HANDLE p, q;
    RV(pair_gen(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, OID_ED25519, sizeof(OID_ED25519), 0, &p, &q),
       CKR_CURVE_NOT_SUPPORTED);
}

/* ---- AES ---------------------------------------------------------------------------------- */

static void test_aes_keygen(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE k;
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 20;
    CK_ATTRIBUTE t[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &F, 1}};
    RV(f->C_GenerateKey(S, &m, t, 2, &k), CKR_KEY_SIZE_RANGE);
    RV(f->C_GenerateKey(S, &m, t + 1, 1, &k), CKR_TEMPLATE_INCOMPLETE);
    len = 24;
    OK(f->C_GenerateKey(S, &m, t, 2, &k));
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};
    OK(f->C_GetAttributeValue(S, k, &a, 1));
    assert_int_equal(kt, CKK_AES);
    CK_MECHANISM g = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
    len = 40;
    OK(f->C_GenerateKey(S, &g, t, 2, &k));
    OK(f->C_GetAttributeValue(S, k, &a, 1));
    assert_int_equal(kt, CKK_GENERIC_SECRET);
    CK_MECHANISM bad = {CKM_AES_KEY_GEN, &len, sizeof(len)};
    RV(f->C_GenerateKey(S, &bad, t, 2, &k), CKR_MECHANISM_PARAM_INVALID);
}

/* NIST SP 800-38A F.2.1 (CBC-AES128) first blocks, key 2b7e...; F.5.1 CTR. */
static void test_aes_kat(void **state)
{
    (void)state;
    uint8_t key[16], iv[16], pt[64], exp[64], out[80];
    size_t kl, il, pl, el;
    t_unhex("2b7e151628aed2a6abf7158809cf4f3c", key, &kl);
    t_unhex("000102030405060708090a0b0c0d0e0f", iv, &il);
    t_unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51", pt, &pl);
    t_unhex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2", exp, &el);
    CK_OBJECT_HANDLE k = secret_import(CKK_AES, key, kl);
    CK_MECHANISM cbc = {CKM_AES_CBC, iv, 16};
    CK_ULONG ol = sizeof(out);
    OK(p11crypt(true, &cbc, k, pt, pl, out, &ol));
    assert_int_equal(ol, 32);
    assert_memory_equal(out, exp, 32);
    /* multi-part with odd split: 5 + 27 bytes */
    OK(f->C_EncryptInit(S, &cbc, k));
    CK_ULONG o1 = sizeof(out);
    OK(f->C_EncryptUpdate(S, pt, 5, out, &o1));
    assert_int_equal(o1, 0);
    CK_ULONG o2 = 0;
    OK(f->C_EncryptUpdate(S, pt + 5, 27, NULL, &o2));
    assert_int_equal(o2, 32);
    o2 = 16;
    RV(f->C_EncryptUpdate(S, pt + 5, 27, out, &o2), CKR_BUFFER_TOO_SMALL);
    o2 = sizeof(out);
    OK(f->C_EncryptUpdate(S, pt + 5, 27, out, &o2));
    assert_int_equal(o2, 32);
    assert_memory_equal(out, exp, 32);
    CK_ULONG o3 = sizeof(out);
    OK(f->C_EncryptFinal(S, out, &o3));
    assert_int_equal(o3, 0);
    /* not a multiple of the block size */
    ol = sizeof(out);
    RV(p11crypt(true, &cbc, k, pt, 17, out, &ol), CKR_DATA_LEN_RANGE);
    ol = sizeof(out);
    RV(p11crypt(false, &cbc, k, exp, 31, out, &ol), CKR_ENCRYPTED_DATA_LEN_RANGE);
    OK(f->C_EncryptInit(S, &cbc, k));
    o1 = sizeof(out);
    OK(f->C_EncryptUpdate(S, pt, 17, out, &o1));
    o1 = sizeof(out);
    RV(f->C_EncryptFinal(S, out, &o1), CKR_DATA_LEN_RANGE);
    /* wrong IV length */
    CK_MECHANISM cbc15 = {CKM_AES_CBC, iv, 15};
    RV(f->C_EncryptInit(S, &cbc15, k), CKR_MECHANISM_PARAM_INVALID);
    /* ECB, F.1.1 */
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    t_unhex("3ad77bb40d7a3660a89ecaf32466ef97", exp, &el);
    ol = sizeof(out);
    OK(p11crypt(true, &ecb, k, pt, 16, out, &ol));
    assert_memory_equal(out, exp, 16);
    /* CTR, F.5.1 */
    CK_AES_CTR_PARAMS cp;
    cp.ulCounterBits = 128;
    t_unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", cp.cb, &il);
    CK_MECHANISM ctr = {CKM_AES_CTR, &cp, sizeof(cp)};
    t_unhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff", exp, &el);
    ol = sizeof(out);
    OK(p11crypt(true, &ctr, k, pt, 32, out, &ol));
    assert_memory_equal(out, exp, 32);
    OK(f->C_DecryptInit(S, &ctr, k));
    o1 = sizeof(out);
    OK(f->C_DecryptUpdate(S, exp, 7, out, &o1));
    assert_int_equal(o1, 7);
    o2 = sizeof(out) - 7;
    OK(f->C_DecryptUpdate(S, exp + 7, 25, out + 7, &o2));
    assert_int_equal(o2, 25);
    o3 = 0;
    OK(f->C_DecryptFinal(S, NULL, &o3));
    o3 = 0;
    OK(f->C_DecryptFinal(S, out, &o3));
    assert_memory_equal(out, pt, 32);
    /* CTR counter wrap: 2 counter bits at value 3 -> one block left */
    cp.ulCounterBits = 2;
    memset(cp.cb, 0, 16);
    cp.cb[15] = 3;
    ol = sizeof(out);
    OK(p11crypt(true, &ctr, k, pt, 16, out, &ol));
    ol = sizeof(out);
    RV(p11crypt(true, &ctr, k, pt, 17, out, &ol), CKR_DATA_LEN_RANGE);
    OK(f->C_EncryptInit(S, &ctr, k));
    o1 = sizeof(out);
    OK(f->C_EncryptUpdate(S, pt, 10, out, &o1));
    o1 = sizeof(out);
    RV(f->C_EncryptUpdate(S, pt, 10, out, &o1), CKR_DATA_LEN_RANGE);
    RV(f->C_EncryptFinal(S, out, &o1), CKR_OPERATION_NOT_INITIALIZED);
    cp.ulCounterBits = 0;
    RV(f->C_EncryptInit(S, &ctr, k), CKR_MECHANISM_PARAM_INVALID);
    cp.ulCounterBits = 129;
    RV(f->C_EncryptInit(S, &ctr, k), CKR_MECHANISM_PARAM_INVALID);
}

static void test_aes_cbc_pad(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE k = aes_gen(32, CK_TRUE, CK_TRUE);
    uint8_t iv[16] = {1, 2, 3}, msg[100], ct[128], pt[128];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    CK_MECHANISM m = {CKM_AES_CBC_PAD, iv, 16};
    for (size_t n = 0; n <= 33; n += 11) {
        CK_ULONG cl = sizeof(ct), pl = sizeof(pt);
        OK(p11crypt(true, &m, k, msg, n, ct, &cl));
        assert_int_equal(cl, (n / 16 + 1) * 16);
        OK(p11crypt(false, &m, k, ct, cl, pt, &pl));
        assert_int_equal(pl, n);
        assert_memory_equal(pt, msg, n);
    }
    /* multi-part decrypt holds back the last block until Final */
    CK_ULONG cl = sizeof(ct);
    OK(p11crypt(true, &m, k, msg, 100, ct, &cl));
    assert_int_equal(cl, 112);
    OK(f->C_DecryptInit(S, &m, k));
    CK_ULONG a = sizeof(pt);
    OK(f->C_DecryptUpdate(S, ct, 32, pt, &a));
    assert_int_equal(a, 16);
    CK_ULONG b = sizeof(pt) - a;
    OK(f->C_DecryptUpdate(S, ct + 32, 80, pt + a, &b));
    assert_int_equal(b, 80);
    CK_ULONG c = 1;
    RV(f->C_DecryptFinal(S, pt + a + b, &c), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(c, 4);
    OK(f->C_DecryptFinal(S, pt + a + b, &c));
    assert_int_equal(a + b + c, 100);
    assert_memory_equal(pt, msg, 100);
    /* single-part decrypt into an exact buffer smaller than the input */
    CK_ULONG pl = 100;
    OK(p11crypt(false, &m, k, ct, cl, pt, &pl));
    assert_int_equal(pl, 100);
    /* bad padding: decrypting with another IV changes only the first block,
     * so damage the next-to-last ciphertext block instead */
    ct[cl - 17] ^= 0x01;
    pl = sizeof(pt);
    RV(p11crypt(false, &m, k, ct, cl, pt, &pl), CKR_ENCRYPTED_DATA_INVALID);
    pl = sizeof(pt);
    RV(p11crypt(false, &m, k, ct, cl - 1, pt, &pl), CKR_ENCRYPTED_DATA_LEN_RANGE);
    /* bulk data larger than the secure heap */
    size_t bn = 3u << 20;
    uint8_t *bin = malloc(bn), *bct = malloc(bn + 16), *bpt = malloc(bn + 16);
    assert_non_null(bin);
    assert_non_null(bct);
    assert_non_null(bpt);
    memset(bin, 0x3c, bn);
    cl = bn + 16;
    if (remote_mode()) {
        /* One remote call carries at most a frame of data: the call is
         * refused as too long and the operation ends, so the next Init
         * works (multi-part calls carry larger data in pieces). */
        RV(p11crypt(true, &m, k, bin, bn, bct, &cl), CKR_DATA_LEN_RANGE);
        cl = bn + 16;
        CK_ULONG part = cl, done = 0;
        OK(f->C_EncryptInit(S, &m, k));
        for (size_t off = 0; off < bn; off += 1u << 18) {
            part = bn + 16 - done;
            OK(f->C_EncryptUpdate(S, bin + off, 1u << 18, bct + done, &part));
            done += part;
        }
        part = bn + 16 - done;
        OK(f->C_EncryptFinal(S, bct + done, &part));
        cl = done + part;
    } else {
        OK(p11crypt(true, &m, k, bin, bn, bct, &cl));
    }
    assert_int_equal(cl, bn + 16);
    pl = bn;
    if (remote_mode()) {
        CK_ULONG part, done = 0;
        OK(f->C_DecryptInit(S, &m, k));
        for (size_t off = 0; off < cl; off += 1u << 18) {
            size_t n = cl - off < (1u << 18) ? cl - off : (1u << 18);
            part = bn - done;
            OK(f->C_DecryptUpdate(S, bct + off, n, bpt + done, &part));
            done += part;
        }
        part = bn - done;
        OK(f->C_DecryptFinal(S, bpt + done, &part));
        pl = done + part;
    } else {
        OK(p11crypt(false, &m, k, bct, cl, bpt, &pl));
    }
    assert_int_equal(pl, bn);
    assert_memory_equal(bpt, bin, bn);
    free(bin);
    free(bct);
    free(bpt);
}

static void test_aes_gcm(void **state)
{
    (void)state;
    /* McGrew-Viega test case 4 (AES-128, 60-byte message, 20-byte AAD). */
    uint8_t key[16], iv[260] = {0}, aad[20], pt[64], ct[64], tag[16], out[96];
    size_t kl, il, al, pl, cl, tl;
    t_unhex("feffe9928665731c6d6a8f9467308308", key, &kl);
    t_unhex("cafebabefacedbaddecaf888", iv, &il);
    t_unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, &al);
    t_unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
            "49a6b525b16aedf5aa0de657ba637b39",
            pt, &pl);
    t_unhex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5a"
            "ac84aa051ba30b396a0aac973d58e091",
            ct, &cl);
    t_unhex("5bc94fbc3221a5db94fae95ae7121a47", tag, &tl);
    CK_OBJECT_HANDLE k = secret_import(CKK_AES, key, kl);
    CK_GCM_PARAMS gp = {iv, il, il * 8, aad, al, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
    CK_ULONG ol = 0;
    OK(f->C_EncryptInit(S, &m, k));
    OK(f->C_Encrypt(S, pt, pl, NULL, &ol));
    assert_int_equal(ol, pl + 16);
    OK(f->C_Encrypt(S, pt, pl, out, &ol));
    assert_memory_equal(out, ct, cl);
    assert_memory_equal(out + cl, tag, 16);
    /* decrypt, single and multi-part (output only at Final, after the tag) */
    uint8_t dec[96];
    CK_ULONG dl = sizeof(dec);
    OK(p11crypt(false, &m, k, out, ol, dec, &dl));
    assert_int_equal(dl, pl);
    assert_memory_equal(dec, pt, pl);
    OK(f->C_DecryptInit(S, &m, k));
    CK_ULONG u = sizeof(dec);
    OK(f->C_DecryptUpdate(S, out, 30, dec, &u));
    assert_int_equal(u, 0);
    u = sizeof(dec);
    OK(f->C_DecryptUpdate(S, out + 30, ol - 30, dec, &u));
    assert_int_equal(u, 0);
    dl = sizeof(dec);
    OK(f->C_DecryptFinal(S, dec, &dl));
    assert_int_equal(dl, pl);
    assert_memory_equal(dec, pt, pl);
    /* multi-part encrypt gives the same */
    OK(f->C_EncryptInit(S, &m, k));
    u = sizeof(dec);
    OK(f->C_EncryptUpdate(S, pt, 7, dec, &u));
    u = sizeof(dec);
    OK(f->C_EncryptUpdate(S, pt + 7, pl - 7, dec, &u));
    dl = sizeof(dec);
    OK(f->C_EncryptFinal(S, dec, &dl));
    assert_int_equal(dl, ol);
    assert_memory_equal(dec, out, ol);
    /* wrong tag, wrong AAD, truncated */
    out[ol - 1] ^= 1;
    dl = sizeof(dec);
    memset(dec, 0, sizeof(dec));
    RV(p11crypt(false, &m, k, out, ol, dec, &dl), CKR_ENCRYPTED_DATA_INVALID);
    uint8_t zero[96] = {0};
    assert_memory_equal(dec, zero, sizeof(dec)); /* nothing released */
    out[ol - 1] ^= 1;
    aad[0] ^= 1;
    dl = sizeof(dec);
    RV(p11crypt(false, &m, k, out, ol, dec, &dl), CKR_ENCRYPTED_DATA_INVALID);
    aad[0] ^= 1;
    dl = sizeof(dec);
    RV(p11crypt(false, &m, k, out, 15, dec, &dl), CKR_ENCRYPTED_DATA_LEN_RANGE);
    /* the 2.40 errata layout without ulIvBits gives the same */
    struct {
        CK_BYTE_PTR pIv;
        CK_ULONG ulIvLen;
        CK_BYTE_PTR pAAD;
        CK_ULONG ulAADLen;
        CK_ULONG ulTagBits;
    } old = {iv, il, aad, al, 128};
    CK_MECHANISM mo = {CKM_AES_GCM, &old, sizeof(old)};
    dl = sizeof(dec);
    OK(p11crypt(true, &mo, k, pt, pl, dec, &dl));
    assert_int_equal(dl, pl + 16);
    assert_memory_equal(dec, ct, cl);
    assert_memory_equal(dec + cl, tag, 16);
    /* 96-bit tag */
    gp.ulTagBits = 96;
    ol = sizeof(out);
    OK(p11crypt(true, &m, k, pt, pl, out, &ol));
    assert_int_equal(ol, pl + 12);
    assert_memory_equal(out + pl, tag, 12);
    dl = sizeof(dec);
    OK(p11crypt(false, &m, k, out, ol, dec, &dl));
    /* bad parameters */
    gp.ulTagBits = 100;
    RV(f->C_EncryptInit(S, &m, k), CKR_MECHANISM_PARAM_INVALID);
    gp.ulTagBits = 136;
    RV(f->C_EncryptInit(S, &m, k), CKR_MECHANISM_PARAM_INVALID);
    gp.ulTagBits = 128;
    gp.ulIvLen = 0;
    RV(f->C_EncryptInit(S, &m, k), CKR_MECHANISM_PARAM_INVALID);
    gp.ulIvLen = 257;
    RV(f->C_EncryptInit(S, &m, k), CKR_MECHANISM_PARAM_INVALID);
    gp.ulIvLen = 12;
    gp.pAAD = NULL;
    RV(f->C_EncryptInit(S, &m, k), CKR_MECHANISM_PARAM_INVALID);
    gp.pAAD = aad;
    CK_MECHANISM ms = {CKM_AES_GCM, &gp, sizeof(gp) - 4};
    RV(f->C_EncryptInit(S, &ms, k), CKR_MECHANISM_PARAM_INVALID);
    /* empty message, multi-part without any Update: just the tag */
    OK(f->C_EncryptInit(S, &m, k));
    ol = sizeof(out);
    OK(f->C_EncryptFinal(S, out, &ol));
    assert_int_equal(ol, 16);
    dl = sizeof(dec);
    OK(p11crypt(false, &m, k, out, ol, dec, &dl));
    assert_int_equal(dl, 0);
    /* wrong key type */
    RV(f->C_EncryptInit(S, &m, rsa_pub), CKR_KEY_TYPE_INCONSISTENT);
}

/* RFC 4493 §4 examples. */
static void test_aes_cmac(void **state)
{
    (void)state;
    uint8_t key[16], msg[64], exp[16], mac[16];
    size_t kl, ml, el;
    t_unhex("2b7e151628aed2a6abf7158809cf4f3c", key, &kl);
    t_unhex("6bc1bee22e409f96e93d7e117393172a", msg, &ml);
    t_unhex("070a16b46b4d4144f79bdd9dd04a287c", exp, &el);
    CK_OBJECT_HANDLE k = secret_import(CKK_AES, key, kl);
    CK_MECHANISM m = {CKM_AES_CMAC, NULL, 0};
    size_t n = sign(&m, k, msg, ml, mac);
    assert_int_equal(n, 16);
    assert_memory_equal(mac, exp, 16);
    sig_roundtrip(&m, k, k, 64, true);
    CK_ULONG l8 = 8;
    CK_MECHANISM g = {CKM_AES_CMAC_GENERAL, &l8, sizeof(l8)};
    n = sign(&g, k, msg, ml, mac);
    assert_int_equal(n, 8);
    assert_memory_equal(mac, exp, 8);
    OK(verify(&g, k, msg, ml, exp, 8));
    RV(verify(&g, k, msg, ml, exp, 16), CKR_SIGNATURE_LEN_RANGE);
    l8 = 17;
    RV(f->C_SignInit(S, &g, k), CKR_MECHANISM_PARAM_INVALID);
}

/* RFC 4231 test case 2 (key "Jefe") for HMAC-SHA-256; SHA3 round trip. */
static void test_hmac(void **state)
{
    (void)state;
    uint8_t exp[32], mac[64];
    size_t el;
    const char *data = "what do ya want for nothing?";
    t_unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", exp, &el);
    CK_OBJECT_HANDLE k = secret_import(CKK_GENERIC_SECRET, (const uint8_t *)"Jefe", 4);
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    size_t n = sign(&m, k, (const uint8_t *)data, strlen(data), mac);
    assert_int_equal(n, 32);
    assert_memory_equal(mac, exp, 32);
    sig_roundtrip(&m, k, k, 120, true);
    CK_MECHANISM m3 = {CKM_SHA3_512_HMAC, NULL, 0};
    sig_roundtrip(&m3, k, k, 120, true);
    CK_ULONG l16 = 16;
    CK_MECHANISM g = {CKM_SHA256_HMAC_GENERAL, &l16, sizeof(l16)};
    OK(verify(&g, k, (const uint8_t *)data, strlen(data), exp, 16));
    exp[3] ^= 1;
    RV(verify(&g, k, (const uint8_t *)data, strlen(data), exp, 16), CKR_SIGNATURE_INVALID);
    /* an AES key is not an HMAC key */
    CK_OBJECT_HANDLE ak = aes_gen(16, CK_TRUE, CK_TRUE);
    RV(f->C_SignInit(S, &m, ak), CKR_KEY_TYPE_INCONSISTENT);
}

/* ---- Triple DES ------------------------------------------------------------------------------- */

/* Keys with odd parity in every byte; the vectors are `openssl enc
 * -des-ede3[-cbc]` / `-des-ede[-cbc]` and `openssl mac -cipher DES-EDE3-CBC
 * CMAC` (OpenSSL 3.0) over the messages below. */
#define DES3_K3 "0123456789abcdef23456789abcdef01456789abcdef0123"
#define DES3_K2 "0123456789abcdeffedcba9876543210"
#define DES3_IV "1234567890abcdef"
#define MSG24 "The quick brown fox jump"
#define MSG32 "Now is the time for all good men"
#define MSG20 "twenty byte message!"

static CK_OBJECT_HANDLE des_import(CK_KEY_TYPE kt, const char *hex)
{
    uint8_t v[32];
    size_t n;
    t_unhex(hex, v, &n);
    return secret_import(kt, v, n);
}

static CK_RV des_create(CK_KEY_TYPE kt, const uint8_t *v, CK_ULONG n, const uint8_t *kcv,
                        CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)},   {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &F, 1},
        {CKA_VALUE, (void *)v, n},    {CKA_CHECK_VALUE, (void *)kcv, 3},
    };
    return f->C_CreateObject(S, t, kcv != NULL ? ARRAY_LEN(t) : ARRAY_LEN(t) - 1, h);
}

static bool odd_parity_all(const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (__builtin_popcount(v[i]) % 2 == 0)
            return false;
    return true;
}

static void test_des3_keys(void **state)
{
    (void)state;
    CK_MECHANISM g3 = {CKM_DES3_KEY_GEN, NULL, 0}, g2 = {CKM_DES2_KEY_GEN, NULL, 0};
    CK_ATTRIBUTE t[] = {{CKA_TOKEN, &F, 1}, {CKA_EXTRACTABLE, &T, 1}, {CKA_SENSITIVE, &F, 1}};
    for (int round = 0; round < 8; round++) {
        CK_OBJECT_HANDLE k;
        OK(f->C_GenerateKey(S, round % 2 ? &g2 : &g3, t, ARRAY_LEN(t), &k));
        uint8_t v[32], kcv[3], zero[8] = {0}, ct[8];
        CK_KEY_TYPE kt = 0;
        CK_ATTRIBUTE a[] = {{CKA_VALUE, v, sizeof(v)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                            {CKA_CHECK_VALUE, kcv, sizeof(kcv)}};
        OK(f->C_GetAttributeValue(S, k, a, ARRAY_LEN(a)));
        size_t want = round % 2 ? 16 : 24;
        assert_int_equal(kt, round % 2 ? CKK_DES2 : CKK_DES3);
        assert_int_equal(a[0].ulValueLen, want);
        /* generated keys have odd parity and distinct parts */
        assert_true(odd_parity_all(v, want));
        assert_memory_not_equal(v, v + 8, 8);
        /* §4.10: the check value is the start of the ECB encryption of a zero block */
        CK_MECHANISM ecb = {CKM_DES3_ECB, NULL, 0};
        CK_ULONG cl = sizeof(ct);
        OK(p11crypt(true, &ecb, k, zero, 8, ct, &cl));
        assert_int_equal(a[2].ulValueLen, 3);
        assert_memory_equal(kcv, ct, 3);
    }
    /* a template may name the fixed length, not another */
    CK_ULONG len = 24;
    CK_ATTRIBUTE tl[] = {{CKA_TOKEN, &F, 1}, {CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_OBJECT_HANDLE k;
    OK(f->C_GenerateKey(S, &g3, tl, ARRAY_LEN(tl), &k));
    len = 16;
    RV(f->C_GenerateKey(S, &g3, tl, ARRAY_LEN(tl), &k), CKR_TEMPLATE_INCONSISTENT);
    OK(f->C_GenerateKey(S, &g2, tl, ARRAY_LEN(tl), &k));
    CK_MECHANISM gp = {CKM_DES3_KEY_GEN, &len, sizeof(len)};
    RV(f->C_GenerateKey(S, &gp, t, ARRAY_LEN(t), &k), CKR_MECHANISM_PARAM_INVALID);
    /* imported keys: the check values OpenSSL computes (first three bytes
     * of `openssl enc -des-ede3 -nopad` over eight zero bytes) */
    uint8_t v3[24], v2[16], kcv[3];
    size_t n3, n2, kl;
    t_unhex(DES3_K3, v3, &n3);
    t_unhex(DES3_K2, v2, &n2);
    t_unhex("4eba73", kcv, &kl);
    OK(des_create(CKK_DES3, v3, n3, kcv, &k));
    t_unhex("08d7b4", kcv, &kl);
    OK(des_create(CKK_DES2, v2, n2, kcv, &k));
    uint8_t got[3];
    CK_ATTRIBUTE ga = {CKA_CHECK_VALUE, got, sizeof(got)};
    OK(f->C_GetAttributeValue(S, k, &ga, 1));
    assert_memory_equal(got, kcv, 3);
    /* a check value that does not match the key */
    kcv[0] ^= 1;
    RV(des_create(CKK_DES2, v2, n2, kcv, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    /* wrong parity in one byte is refused (Current Mechanisms 3.0, DES3
     * secret key objects) */
    v3[5] ^= 0x01;
    RV(des_create(CKK_DES3, v3, n3, NULL, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    v3[5] ^= 0x01;
    v2[15] ^= 0x01;
    RV(des_create(CKK_DES2, v2, n2, NULL, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    v2[15] ^= 0x01;
    /* wrong lengths for the type */
    RV(des_create(CKK_DES3, v3, 16, NULL, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    RV(des_create(CKK_DES3, v3, 23, NULL, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    RV(des_create(CKK_DES2, v3, 24, NULL, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    OK(des_create(CKK_DES3, v3, 24, NULL, &k));
    /* single DES is not there with legacy_algorithms off: neither its key
     * type nor its mechanisms */
    RV(des_create(CKK_DES, v3, 8, NULL, &k), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_MECHANISM g1 = {CKM_DES_KEY_GEN, NULL, 0};
    RV(f->C_GenerateKey(S, &g1, t, ARRAY_LEN(t), &k), CKR_MECHANISM_INVALID);
    CK_MECHANISM e1 = {CKM_DES_ECB, NULL, 0};
    CK_OBJECT_HANDLE k3 = des_import(CKK_DES3, DES3_K3);
    RV(f->C_EncryptInit(S, &e1, k3), CKR_MECHANISM_INVALID);
}

static void des_kat(CK_MECHANISM_TYPE mt, CK_OBJECT_HANDLE k, const char *msg, const char *hex)
{
    uint8_t iv[8], exp[64], out[64], back[64];
    size_t il, el, ml = strlen(msg);
    t_unhex(DES3_IV, iv, &il);
    t_unhex(hex, exp, &el);
    CK_MECHANISM m = {mt, mt == CKM_DES3_ECB ? NULL : iv, mt == CKM_DES3_ECB ? 0 : 8};
    CK_ULONG ol = 0;
    OK(f->C_EncryptInit(S, &m, k));
    OK(f->C_Encrypt(S, (CK_BYTE_PTR)msg, ml, NULL, &ol));
    assert_int_equal(ol, el);
    OK(f->C_Encrypt(S, (CK_BYTE_PTR)msg, ml, out, &ol));
    assert_int_equal(ol, el);
    assert_memory_equal(out, exp, el);
    CK_ULONG bl = sizeof(back);
    OK(p11crypt(false, &m, k, exp, el, back, &bl));
    assert_int_equal(bl, ml);
    assert_memory_equal(back, msg, ml);
    /* multi-part, split off the block boundary */
    OK(f->C_EncryptInit(S, &m, k));
    CK_ULONG a = sizeof(out);
    OK(f->C_EncryptUpdate(S, (CK_BYTE_PTR)msg, 5, out, &a));
    assert_int_equal(a, 0);
    CK_ULONG b = sizeof(out) - a;
    OK(f->C_EncryptUpdate(S, (CK_BYTE_PTR)msg + 5, ml - 5, out + a, &b));
    CK_ULONG c = sizeof(out) - a - b;
    OK(f->C_EncryptFinal(S, out + a + b, &c));
    assert_int_equal(a + b + c, el);
    assert_memory_equal(out, exp, el);
    OK(f->C_DecryptInit(S, &m, k));
    a = sizeof(back);
    OK(f->C_DecryptUpdate(S, exp, 11, back, &a));
    b = sizeof(back) - a;
    OK(f->C_DecryptUpdate(S, exp + 11, el - 11, back + a, &b));
    c = sizeof(back) - a - b;
    OK(f->C_DecryptFinal(S, back + a + b, &c));
    assert_int_equal(a + b + c, ml);
    assert_memory_equal(back, msg, ml);
}

static void test_des3_kat(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE k3 = des_import(CKK_DES3, DES3_K3), k2 = des_import(CKK_DES2, DES3_K2);
    des_kat(CKM_DES3_ECB, k3, MSG24, "1ccf23869d09333ecce21c8112256fe668d5c05dd9b6b900");
    des_kat(CKM_DES3_CBC, k3, MSG32,
            "f3c0ff026c023089656fbb169def7edb30ba36075d6f017615c82ad93fca176c");
    des_kat(CKM_DES3_CBC_PAD, k3, MSG20, "cfc816bd78ad6733f1162b72c1123e422d48d3294ef8d9ea");
    des_kat(CKM_DES3_ECB, k2, MSG24, "ae904afd69fe1c514be1efd932e34fac4bbc5fdd3ab5e1b2");
    des_kat(CKM_DES3_CBC, k2, MSG32,
            "f85d4ab92066789e1d0430671f28ae7ab9627d35385d2e24df8601c589c28436");
    /* IV: one 8-byte block, nothing else */
    uint8_t iv[16] = {0}, buf[64];
    CK_MECHANISM cbc16 = {CKM_DES3_CBC, iv, 16}, cbc7 = {CKM_DES3_CBC, iv, 7},
                 cbcn = {CKM_DES3_CBC, NULL, 0}, pad16 = {CKM_DES3_CBC_PAD, iv, 16};
    RV(f->C_EncryptInit(S, &cbc16, k3), CKR_MECHANISM_PARAM_INVALID);
    RV(f->C_EncryptInit(S, &cbc7, k3), CKR_MECHANISM_PARAM_INVALID);
    RV(f->C_DecryptInit(S, &cbcn, k3), CKR_MECHANISM_PARAM_INVALID);
    RV(f->C_DecryptInit(S, &pad16, k3), CKR_MECHANISM_PARAM_INVALID);
    /* input lengths: whole 8-byte blocks without padding */
    CK_MECHANISM ecb = {CKM_DES3_ECB, NULL, 0}, cbc = {CKM_DES3_CBC, iv, 8},
                 pad = {CKM_DES3_CBC_PAD, iv, 8};
    CK_ULONG ol = sizeof(buf);
    RV(p11crypt(true, &ecb, k3, (const uint8_t *)MSG24, 23, buf, &ol), CKR_DATA_LEN_RANGE);
    ol = sizeof(buf);
    RV(p11crypt(false, &cbc, k3, (const uint8_t *)MSG24, 12, buf, &ol),
       CKR_ENCRYPTED_DATA_LEN_RANGE);
    ol = sizeof(buf);
    RV(p11crypt(false, &pad, k3, (const uint8_t *)MSG24, 20, buf, &ol),
       CKR_ENCRYPTED_DATA_LEN_RANGE);
    /* bad padding: the last block decrypted under the wrong key part */
    uint8_t ct[24];
    size_t cl;
    t_unhex("cfc816bd78ad6733f1162b72c1123e422d48d3294ef8d9ea", ct, &cl);
    ct[cl - 9] ^= 0x01;
    ol = sizeof(buf);
    RV(p11crypt(false, &pad, k3, ct, cl, buf, &ol), CKR_ENCRYPTED_DATA_INVALID);
    /* key types: AES mechanisms refuse DES3 keys and the reverse */
    CK_OBJECT_HANDLE aes = aes_gen(24, CK_TRUE, CK_TRUE);
    RV(f->C_EncryptInit(S, &ecb, aes), CKR_KEY_TYPE_INCONSISTENT);
    CK_MECHANISM aecb = {CKM_AES_ECB, NULL, 0};
    RV(f->C_EncryptInit(S, &aecb, k3), CKR_KEY_TYPE_INCONSISTENT);
    CK_MECHANISM acmac = {CKM_AES_CMAC, NULL, 0};
    RV(f->C_SignInit(S, &acmac, k3), CKR_KEY_TYPE_INCONSISTENT);
    RV(f->C_EncryptInit(S, &ecb, rsa_pub), CKR_KEY_TYPE_INCONSISTENT);
}

/* SP 800-38B with the 64-bit block; vectors from `openssl mac -cipher
 * DES-EDE3-CBC` / `DES-EDE-CBC` ... CMAC. */
static void test_des3_cmac(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE k3 = des_import(CKK_DES3, DES3_K3), k2 = des_import(CKK_DES2, DES3_K2);
    uint8_t exp[8], mac[16];
    size_t el;
    CK_MECHANISM m = {CKM_DES3_CMAC, NULL, 0};
    t_unhex("b1e1d8b5efbd0761", exp, &el);
    assert_int_equal(sign(&m, k3, (const uint8_t *)MSG32, 32, mac), 8);
    assert_memory_equal(mac, exp, 8);
    OK(verify(&m, k3, (const uint8_t *)MSG32, 32, exp, 8));
    t_unhex("7db0d37df936c550", exp, &el);
    assert_int_equal(sign(&m, k3, (const uint8_t *)"", 0, mac), 8);
    assert_memory_equal(mac, exp, 8);
    t_unhex("4a8d865628dcc29a", exp, &el);
    assert_int_equal(sign(&m, k2, (const uint8_t *)MSG20, 20, mac), 8);
    assert_memory_equal(mac, exp, 8);
    sig_roundtrip(&m, k3, k3, 100, true);
    /* _GENERAL: a prefix of 1..8 bytes */
    CK_ULONG l4 = 4;
    CK_MECHANISM g = {CKM_DES3_CMAC_GENERAL, &l4, sizeof(l4)};
    assert_int_equal(sign(&g, k2, (const uint8_t *)MSG20, 20, mac), 4);
    assert_memory_equal(mac, exp, 4);
    OK(verify(&g, k2, (const uint8_t *)MSG20, 20, exp, 4));
    RV(verify(&g, k2, (const uint8_t *)MSG20, 20, exp, 8), CKR_SIGNATURE_LEN_RANGE);
    exp[0] ^= 1;
    RV(verify(&g, k2, (const uint8_t *)MSG20, 20, exp, 4), CKR_SIGNATURE_INVALID);
    l4 = 9;
    RV(f->C_SignInit(S, &g, k3), CKR_MECHANISM_PARAM_INVALID);
    l4 = 0;
    RV(f->C_SignInit(S, &g, k3), CKR_MECHANISM_PARAM_INVALID);
    CK_MECHANISM gn = {CKM_DES3_CMAC_GENERAL, NULL, 0};
    RV(f->C_SignInit(S, &gn, k3), CKR_MECHANISM_PARAM_INVALID);
}

/* Keys wrapped under Triple DES, and Triple DES keys wrapped under AES. */
static void test_des3_wrap(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE kek = des_import(CKK_DES3, DES3_K3);
    CK_OBJECT_HANDLE key = aes_gen(16, CK_TRUE, CK_TRUE);
    uint8_t iv[8] = {9, 8, 7, 6, 5, 4, 3, 2}, w[128];
    CK_MECHANISM mechs[] = {{CKM_DES3_ECB, NULL, 0}, {CKM_DES3_CBC, iv, 8},
                            {CKM_DES3_CBC_PAD, iv, 8}};
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_KEY_TYPE kta = CKK_AES, kt3 = CKK_DES3, kt2 = CKK_DES2;
    CK_ATTRIBUTE ta[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kta, sizeof(kta)},
                         {CKA_TOKEN, &F, 1},         {CKA_ENCRYPT, &T, 1},
                         {CKA_DECRYPT, &T, 1}};
    for (size_t i = 0; i < ARRAY_LEN(mechs); i++) {
        CK_ULONG wl = 0;
        OK(f->C_WrapKey(S, &mechs[i], kek, key, NULL, &wl));
        assert_int_equal(wl, i == 2 ? 24 : 16);
        wl = sizeof(w);
        OK(f->C_WrapKey(S, &mechs[i], kek, key, w, &wl));
        CK_OBJECT_HANDLE u;
        OK(f->C_UnwrapKey(S, &mechs[i], kek, w, wl, ta, ARRAY_LEN(ta), &u));
        same_aes_key(key, u, true);
        RV(f->C_UnwrapKey(S, &mechs[i], kek, w, wl - 3, ta, ARRAY_LEN(ta), &u),
           CKR_WRAPPED_KEY_LEN_RANGE);
    }
    /* CBC_PAD: a damaged padding block */
    CK_ULONG wl = sizeof(w);
    OK(f->C_WrapKey(S, &mechs[2], kek, key, w, &wl));
    w[wl - 9] ^= 0x01;
    CK_OBJECT_HANDLE u;
    RV(f->C_UnwrapKey(S, &mechs[2], kek, w, wl, ta, ARRAY_LEN(ta), &u), CKR_WRAPPED_KEY_INVALID);
    /* unpadded modes wrap only whole blocks */
    uint8_t g20[20];
    memset(g20, 0x42, sizeof(g20));
    CK_OBJECT_HANDLE gs = secret_import(CKK_GENERIC_SECRET, g20, sizeof(g20));
    wl = sizeof(w);
    RV(f->C_WrapKey(S, &mechs[1], kek, gs, w, &wl), CKR_KEY_SIZE_RANGE);
    wl = sizeof(w);
    OK(f->C_WrapKey(S, &mechs[2], kek, gs, w, &wl));
    assert_int_equal(wl, 24);
    /* DES3 and DES2 keys under AES key wrap and under DES3 */
    CK_OBJECT_HANDLE akek = aes_gen(32, CK_TRUE, CK_TRUE);
    CK_OBJECT_HANDLE d3 = des_import(CKK_DES3, DES3_K3), d2 = des_import(CKK_DES2, DES3_K2);
    CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
    CK_ATTRIBUTE t3[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt3, sizeof(kt3)},
                         {CKA_TOKEN, &F, 1},         {CKA_ENCRYPT, &T, 1},
                         {CKA_DECRYPT, &T, 1}};
    CK_ATTRIBUTE t2[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt2, sizeof(kt2)},
                         {CKA_TOKEN, &F, 1},         {CKA_ENCRYPT, &T, 1},
                         {CKA_DECRYPT, &T, 1}};
    uint8_t exp[24], out[24];
    size_t el;
    CK_ULONG ol;
    wl = sizeof(w);
    OK(f->C_WrapKey(S, &kw, akek, d3, w, &wl));
    assert_int_equal(wl, 32);
    OK(f->C_UnwrapKey(S, &kw, akek, w, wl, t3, ARRAY_LEN(t3), &u));
    t_unhex("1ccf23869d09333ecce21c8112256fe668d5c05dd9b6b900", exp, &el);
    ol = sizeof(out);
    OK(p11crypt(true, &mechs[0], u, (const uint8_t *)MSG24, 24, out, &ol));
    assert_memory_equal(out, exp, 24);
    /* the same bytes are not a DES2 key */
    RV(f->C_UnwrapKey(S, &kw, akek, w, wl, t2, ARRAY_LEN(t2), &u), CKR_WRAPPED_KEY_INVALID);
    wl = sizeof(w);
    OK(f->C_WrapKey(S, &mechs[1], kek, d2, w, &wl));
    assert_int_equal(wl, 16);
    OK(f->C_UnwrapKey(S, &mechs[1], kek, w, wl, t2, ARRAY_LEN(t2), &u));
    t_unhex("ae904afd69fe1c514be1efd932e34fac4bbc5fdd3ab5e1b2", exp, &el);
    ol = sizeof(out);
    OK(p11crypt(true, &mechs[0], u, (const uint8_t *)MSG24, 24, out, &ol));
    assert_memory_equal(out, exp, 24);
    /* 24 bytes of even parity unwrapped as a DES3 key are refused */
    uint8_t z24[24] = {0};
    CK_OBJECT_HANDLE zk = secret_import(CKK_GENERIC_SECRET, z24, sizeof(z24));
    wl = sizeof(w);
    OK(f->C_WrapKey(S, &kw, akek, zk, w, &wl));
    RV(f->C_UnwrapKey(S, &kw, akek, w, wl, t3, ARRAY_LEN(t3), &u), CKR_WRAPPED_KEY_INVALID);
    /* a DES3 key cannot wrap with an AES mechanism */
    wl = sizeof(w);
    RV(f->C_WrapKey(S, &kw, kek, key, w, &wl), CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
}

/* ---- wrap / unwrap --------------------------------------------------------------------------- */

static void test_wrap_aes(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE kek = aes_gen(32, CK_TRUE, CK_TRUE);
    CK_OBJECT_HANDLE key = aes_gen(16, CK_TRUE, CK_TRUE);
    CK_MECHANISM mechs[] = {{CKM_AES_KEY_WRAP, NULL, 0}, {CKM_AES_KEY_WRAP_PAD, NULL, 0},
                            {CKM_AES_KEY_WRAP_KWP, NULL, 0}};
    for (size_t i = 0; i < 3; i++) {
        uint8_t w[64];
        CK_ULONG wl = 0;
        OK(f->C_WrapKey(S, &mechs[i], kek, key, NULL, &wl));
        assert_int_equal(wl, 24);
        wl = 10;
        RV(f->C_WrapKey(S, &mechs[i], kek, key, w, &wl), CKR_BUFFER_TOO_SMALL);
        wl = sizeof(w);
        OK(f->C_WrapKey(S, &mechs[i], kek, key, w, &wl));
        CK_OBJECT_CLASS c = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_AES;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                            {CKA_TOKEN, &F, 1},         {CKA_ENCRYPT, &T, 1},
                            {CKA_DECRYPT, &T, 1}};
        CK_OBJECT_HANDLE u;
        OK(f->C_UnwrapKey(S, &mechs[i], kek, w, wl, t, ARRAY_LEN(t), &u));
        same_aes_key(key, u, true);
        w[5] ^= 1;
        RV(f->C_UnwrapKey(S, &mechs[i], kek, w, wl, t, ARRAY_LEN(t), &u),
           CKR_WRAPPED_KEY_INVALID);
        RV(f->C_UnwrapKey(S, &mechs[i], kek, w, wl - 3, t, ARRAY_LEN(t), &u),
           CKR_WRAPPED_KEY_LEN_RANGE);
        RV(f->C_UnwrapKey(S, &mechs[i], kek, w, wl, t + 1, ARRAY_LEN(t) - 1, &u),
           CKR_TEMPLATE_INCOMPLETE);
    }
    uint8_t w[64];
    CK_ULONG wl = sizeof(w);
    /* unextractable key; wrapping key without CKA_WRAP; bogus handles */
    CK_OBJECT_HANDLE ku = aes_gen(16, CK_FALSE, CK_TRUE);
    RV(f->C_WrapKey(S, &mechs[0], kek, ku, w, &wl), CKR_KEY_UNEXTRACTABLE);
    CK_OBJECT_HANDLE knw = aes_gen(16, CK_TRUE, CK_FALSE);
    RV(f->C_WrapKey(S, &mechs[0], knw, key, w, &wl), CKR_KEY_FUNCTION_NOT_PERMITTED);
    RV(f->C_WrapKey(S, &mechs[0], 0x7777777, key, w, &wl), CKR_WRAPPING_KEY_HANDLE_INVALID);
    RV(f->C_WrapKey(S, &mechs[0], kek, 0x7777777, w, &wl), CKR_KEY_HANDLE_INVALID);
    RV(f->C_WrapKey(S, &mechs[0], rsa_pub, key, w, &wl), CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
    CK_MECHANISM gcm = {CKM_AES_GCM, NULL, 0};
    RV(f->C_WrapKey(S, &gcm, kek, key, w, &wl), CKR_MECHANISM_INVALID);
    /* CKA_WRAP_WITH_TRUSTED under an untrusted wrapping key */
    CK_MECHANISM g = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 16;
    CK_ATTRIBUTE tt[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &F, 1},
                         {CKA_EXTRACTABLE, &T, 1},          {CKA_WRAP_WITH_TRUSTED, &T, 1}};
    CK_OBJECT_HANDLE kt;
    OK(f->C_GenerateKey(S, &g, tt, ARRAY_LEN(tt), &kt));
    RV(f->C_WrapKey(S, &mechs[0], kek, kt, w, &wl), CKR_KEY_NOT_WRAPPABLE);
    /* a private key under RFC 3394 without padding is not wrappable */
    RV(f->C_WrapKey(S, &mechs[0], kek, rsa_priv, w, &wl), CKR_KEY_NOT_WRAPPABLE);
}

static void test_wrap_pkcs8(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE kek = aes_gen(32, CK_TRUE, CK_TRUE);
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    CK_OBJECT_HANDLE pubs[3], privs[3];
    OK(pair_gen(CKM_EC_KEY_PAIR_GEN, OID_P256, sizeof(OID_P256), 0, &pubs[0], &privs[0]));
    OK(pair_gen(CKM_EC_EDWARDS_KEY_PAIR_GEN, OID_ED25519, sizeof(OID_ED25519), 0, &pubs[1],
                &privs[1]));
    pubs[2] = rsa_pub;
    privs[2] = rsa_priv;
    CK_MECHANISM sm[3] = {{CKM_ECDSA_SHA256, NULL, 0}, {CKM_EDDSA, NULL, 0},
                          {CKM_SHA256_RSA_PKCS, NULL, 0}};
    for (int i = 0; i < 3; i++) {
        uint8_t w[4096];
        CK_ULONG wl = sizeof(w);
        OK(f->C_WrapKey(S, &kwp, kek, privs[i], w, &wl));
        CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_TOKEN, &F, 1}, {CKA_SIGN, &T, 1},
                            {CKA_PRIVATE, &T, 1}};
        CK_OBJECT_HANDLE u;
        OK(f->C_UnwrapKey(S, &kwp, kek, w, wl, t, ARRAY_LEN(t), &u));
        uint8_t sig[512];
        size_t sl = sign(&sm[i], u, (const uint8_t *)"unwrapped", 9, sig);
        OK(verify(&sm[i], pubs[i], (const uint8_t *)"unwrapped", 9, sig, sl));
        /* the wrong class for the material */
        CK_OBJECT_CLASS sc = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_AES;
        CK_ATTRIBUTE ts[] = {{CKA_CLASS, &sc, sizeof(sc)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                             {CKA_TOKEN, &F, 1}};
        RV(f->C_UnwrapKey(S, &kwp, kek, w, wl, ts, ARRAY_LEN(ts), &u), CKR_WRAPPED_KEY_INVALID);
    }
    /* a secret under padded wrap that is not PKCS#8 when unwrapped as private */
    CK_OBJECT_HANDLE key = aes_gen(16, CK_TRUE, CK_TRUE);
    uint8_t w[64];
    CK_ULONG wl = sizeof(w);
    OK(f->C_WrapKey(S, &kwp, kek, key, w, &wl));
    CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_TOKEN, &F, 1}};
    CK_OBJECT_HANDLE u;
    RV(f->C_UnwrapKey(S, &kwp, kek, w, wl, t, 2, &u), CKR_WRAPPED_KEY_INVALID);
}

static void test_wrap_rsa(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE key = aes_gen(32, CK_TRUE, CK_TRUE);
    CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA256, CKG_MGF1_SHA256, 0, NULL, 0};
    CK_MECHANISM m[2] = {{CKM_RSA_PKCS_OAEP, &op, sizeof(op)}, {CKM_RSA_PKCS, NULL, 0}};
    for (int i = 0; i < 2; i++) {
        uint8_t w[256];
        CK_ULONG wl = sizeof(w);
        OK(f->C_WrapKey(S, &m[i], rsa_pub, key, w, &wl));
        assert_int_equal(wl, 256);
        CK_OBJECT_CLASS c = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_AES;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                            {CKA_TOKEN, &F, 1},         {CKA_ENCRYPT, &T, 1},
                            {CKA_DECRYPT, &T, 1}};
        CK_OBJECT_HANDLE u;
        OK(f->C_UnwrapKey(S, &m[i], rsa_priv, w, wl, t, ARRAY_LEN(t), &u));
        same_aes_key(key, u, true);
        w[100] ^= 1;
        RV(f->C_UnwrapKey(S, &m[i], rsa_priv, w, wl, t, ARRAY_LEN(t), &u),
           CKR_WRAPPED_KEY_INVALID);
        RV(f->C_UnwrapKey(S, &m[i], rsa_pub, w, wl, t, ARRAY_LEN(t), &u),
           CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT);
    }
}

/* ---- HKDF: RFC 5869 test case 1 ----------------------------------------------------------- */

static void test_hkdf(void **state)
{
    (void)state;
    uint8_t ikm[22], salt[13], info[10], okm[42], out[64];
    size_t il, sl, nl, ol;
    t_unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", ikm, &il);
    t_unhex("000102030405060708090a0b0c", salt, &sl);
    t_unhex("f0f1f2f3f4f5f6f7f8f9", info, &nl);
    t_unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            okm, &ol);
    CK_OBJECT_HANDLE base = secret_import(CKK_GENERIC_SECRET, ikm, il);
    CK_HKDF_PARAMS p = {CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_DATA, salt, sl, 0, info, nl};
    CK_MECHANISM m = {CKM_HKDF_DERIVE, &p, sizeof(p)};
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG len = 42;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &F, 1},
                        {CKA_SENSITIVE, &F, 1},    {CKA_EXTRACTABLE, &T, 1}};
    CK_OBJECT_HANDLE d;
    OK(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d));
    CK_ATTRIBUTE a = {CKA_VALUE, out, sizeof(out)};
    OK(f->C_GetAttributeValue(S, d, &a, 1));
    assert_int_equal(a.ulValueLen, 42);
    assert_memory_equal(out, okm, 42);
    /* salt from a key gives the same */
    CK_OBJECT_HANDLE sk = secret_import(CKK_GENERIC_SECRET, salt, sl);
    p.ulSaltType = CKF_HKDF_SALT_KEY;
    p.hSaltKey = sk;
    OK(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d));
    a.ulValueLen = sizeof(out);
    OK(f->C_GetAttributeValue(S, d, &a, 1));
    assert_memory_equal(out, okm, 42);
    p.hSaltKey = 0x7777777;
    RV(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d), CKR_KEY_HANDLE_INVALID);
    /* extract only: PRK (RFC 5869 A.1) */
    p.ulSaltType = CKF_HKDF_SALT_DATA;
    p.bExpand = CK_FALSE;
    len = 32;
    OK(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d));
    a.ulValueLen = sizeof(out);
    OK(f->C_GetAttributeValue(S, d, &a, 1));
    t_unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", okm, &ol);
    assert_memory_equal(out, okm, 32);
    /* bad parameters */
    p.bExtract = CK_FALSE;
    RV(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d), CKR_MECHANISM_PARAM_INVALID);
    p.bExtract = p.bExpand = CK_TRUE;
    p.prfHashMechanism = CKM_MD5;
    RV(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d), CKR_MECHANISM_PARAM_INVALID);
    p.prfHashMechanism = CKM_SHA256;
    p.ulSaltType = 8;
    RV(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d), CKR_MECHANISM_PARAM_INVALID);
    p.ulSaltType = CKF_HKDF_SALT_NULL;
    len = 255 * 32 + 1;
    RV(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d), CKR_TEMPLATE_INCONSISTENT);
    len = 255 * 64 + 1;
    RV(f->C_DeriveKey(S, &m, base, t, ARRAY_LEN(t), &d), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE nolen[] = {{CKA_TOKEN, &F, 1}};
    RV(f->C_DeriveKey(S, &m, base, nolen, 1, &d), CKR_TEMPLATE_INCOMPLETE);
    CK_MECHANISM ms = {CKM_HKDF_DERIVE, &p, sizeof(p) - 1};
    RV(f->C_DeriveKey(S, &ms, base, t, ARRAY_LEN(t), &d), CKR_MECHANISM_PARAM_INVALID);
    /* a CKK_HKDF key from CKM_HKDF_KEY_GEN is a base key too */
    CK_MECHANISM hg = {CKM_HKDF_KEY_GEN, NULL, 0};
    CK_ULONG hlen = 32;
    CK_ATTRIBUTE ht[] = {{CKA_VALUE_LEN, &hlen, sizeof(hlen)}, {CKA_TOKEN, &F, 1},
                         {CKA_DERIVE, &T, 1}};
    CK_OBJECT_HANDLE hk;
    OK(f->C_GenerateKey(S, &hg, ht, ARRAY_LEN(ht), &hk));
    CK_KEY_TYPE hkt = 0;
    CK_ATTRIBUTE hka = {CKA_KEY_TYPE, &hkt, sizeof(hkt)};
    OK(f->C_GetAttributeValue(S, hk, &hka, 1));
    assert_int_equal(hkt, CKK_HKDF);
    len = 16;
    OK(f->C_DeriveKey(S, &m, hk, t, ARRAY_LEN(t), &d));
    /* an AES key is not an HKDF base key */
    CK_OBJECT_HANDLE ak = aes_gen(16, CK_TRUE, CK_TRUE);
    len = 16;
    RV(f->C_DeriveKey(S, &m, ak, t, ARRAY_LEN(t), &d), CKR_KEY_TYPE_INCONSISTENT);
}

/* ---- random, operation rules ------------------------------------------------------------------ */

static void test_random(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0};
    OK(f->C_GenerateRandom(S, a, sizeof(a)));
    OK(f->C_GenerateRandom(S, b, sizeof(b)));
    assert_memory_not_equal(a, b, sizeof(a));
    OK(f->C_SeedRandom(S, a, sizeof(a)));
    RV(f->C_GenerateRandom(S, NULL, 4), CKR_ARGUMENTS_BAD);
    RV(f->C_GenerateRandom(0x7777777, a, 4), CKR_SESSION_HANDLE_INVALID);
}

static void test_operation_rules(void **state)
{
    (void)state;
    CK_OBJECT_HANDLE k = aes_gen(16, CK_TRUE, CK_TRUE);
    uint8_t iv[16] = {0}, buf[64] = {0};
    CK_ULONG l = sizeof(buf);
    CK_MECHANISM m = {CKM_AES_CBC, iv, 16};
    RV(f->C_Encrypt(S, buf, 16, buf, &l), CKR_OPERATION_NOT_INITIALIZED);
    RV(f->C_EncryptUpdate(S, buf, 16, buf, &l), CKR_OPERATION_NOT_INITIALIZED);
    RV(f->C_Sign(S, buf, 16, buf, &l), CKR_OPERATION_NOT_INITIALIZED);
    RV(f->C_Verify(S, buf, 16, buf, 16), CKR_OPERATION_NOT_INITIALIZED);
    OK(f->C_EncryptInit(S, &m, k));
    RV(f->C_EncryptInit(S, &m, k), CKR_OPERATION_ACTIVE);
    /* encrypt and decrypt can be active together (different kinds) */
    OK(f->C_DecryptInit(S, &m, k));
    /* an error ends the operation */
    l = sizeof(buf);
    RV(f->C_Encrypt(S, buf, 15, buf, &l), CKR_DATA_LEN_RANGE);
    RV(f->C_Encrypt(S, buf, 16, buf, &l), CKR_OPERATION_NOT_INITIALIZED);
    /* a length query keeps it */
    l = sizeof(buf);
    OK(f->C_Decrypt(S, buf, 16, NULL, &l));
    OK(f->C_Decrypt(S, buf, 16, buf, &l));
    RV(f->C_Decrypt(S, buf, 16, buf, &l), CKR_OPERATION_NOT_INITIALIZED);
    /* mechanism/usage mismatches */
    CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
    RV(f->C_EncryptInit(S, &sha, k), CKR_MECHANISM_INVALID);
    CK_MECHANISM cmac = {CKM_AES_CMAC, NULL, 0};
    RV(f->C_EncryptInit(S, &cmac, k), CKR_MECHANISM_INVALID);
    RV(f->C_EncryptInit(S, NULL, k), CKR_ARGUMENTS_BAD);
    /* usage attribute off */
    CK_MECHANISM g = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 16;
    CK_ATTRIBUTE t[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &F, 1},
                        {CKA_ENCRYPT, &F, 1}, {CKA_SIGN, &F, 1}};
    CK_OBJECT_HANDLE kn;
    OK(f->C_GenerateKey(S, &g, t, ARRAY_LEN(t), &kn));
    RV(f->C_EncryptInit(S, &m, kn), CKR_KEY_FUNCTION_NOT_PERMITTED);
    RV(f->C_SignInit(S, &cmac, kn), CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* C_Verify ends the operation even on success */
    OK(f->C_SignInit(S, &cmac, k));
    uint8_t mac[16];
    CK_ULONG ml = sizeof(mac);
    OK(f->C_Sign(S, buf, 10, mac, &ml));
    OK(f->C_VerifyInit(S, &cmac, k));
    OK(f->C_Verify(S, buf, 10, mac, ml));
    RV(f->C_VerifyFinal(S, mac, ml), CKR_OPERATION_NOT_INITIALIZED);
}

/* CKA_ALWAYS_AUTHENTICATE: each operation needs C_Login(CKU_CONTEXT_SPECIFIC)
 * after its Init (PKCS#11 3.0 §5.6); the operation waits for it. */
static void test_always_authenticate(void **state)
{
    (void)state;
    CK_MECHANISM g = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &F, 1}, {CKA_EC_PARAMS, (void *)OID_P256, sizeof(OID_P256)},
                         {CKA_VERIFY, &T, 1}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &F, 1}, {CKA_PRIVATE, &T, 1}, {CKA_SIGN, &T, 1},
                         {CKA_ALWAYS_AUTHENTICATE, &T, 1}};
    CK_OBJECT_HANDLE pub, priv;
    OK(f->C_GenerateKeyPair(S, &g, pt, ARRAY_LEN(pt), kt, ARRAY_LEN(kt), &pub, &priv));
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    uint8_t sig[64];
    CK_ULONG sl = sizeof(sig);
    OK(f->C_SignInit(S, &m, priv));
    RV(f->C_Sign(S, (CK_BYTE_PTR) "msg", 3, sig, &sl), CKR_USER_NOT_LOGGED_IN);
    RV(f->C_Login(S, CKU_CONTEXT_SPECIFIC, PIN_ARGS("wrong-pin")), CKR_PIN_INCORRECT);
    RV(f->C_Sign(S, (CK_BYTE_PTR) "msg", 3, sig, &sl), CKR_USER_NOT_LOGGED_IN);
    OK(f->C_Login(S, CKU_CONTEXT_SPECIFIC, PIN_ARGS(USER_PIN)));
    OK(f->C_Sign(S, (CK_BYTE_PTR) "msg", 3, sig, &sl));
    OK(verify(&m, pub, (const uint8_t *)"msg", 3, sig, sl));
    /* the authorisation was for that operation only */
    OK(f->C_SignInit(S, &m, priv));
    sl = sizeof(sig);
    RV(f->C_Sign(S, (CK_BYTE_PTR) "msg", 3, sig, &sl), CKR_USER_NOT_LOGGED_IN);
    /* still active: a NULL mechanism ends it (PKCS#11 3.0 §5.11) */
    RV(f->C_SignInit(S, &m, priv), CKR_OPERATION_ACTIVE);
    OK(f->C_SignInit(S, NULL, CK_INVALID_HANDLE));
    RV(f->C_SignFinal(S, sig, &sl), CKR_OPERATION_NOT_INITIALIZED);
    /* a context login made before the Init is refused (no operation needs
     * it), and does not count */
    RV(f->C_Login(S, CKU_CONTEXT_SPECIFIC, PIN_ARGS(USER_PIN)), CKR_OPERATION_NOT_INITIALIZED);
    OK(f->C_SignInit(S, &m, priv));
    sl = sizeof(sig);
    RV(f->C_Sign(S, (CK_BYTE_PTR) "msg", 3, sig, &sl), CKR_USER_NOT_LOGGED_IN);
    OK(f->C_SignInit(S, NULL, CK_INVALID_HANDLE));
}

/* Token key pairs: one commit for both halves; refused whole in a R/O
 * session; usable after the module restarted (keys reopened from the store). */
static void test_token_keys(void **state)
{
    (void)state;
    CK_SLOT_ID slot;
    CK_SESSION_INFO si;
    OK(f->C_GetSessionInfo(S, &si));
    slot = si.slotID;
    CK_MECHANISM g = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    char label[] = "persist-ec";
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &T, 1}, {CKA_EC_PARAMS, (void *)OID_P256, sizeof(OID_P256)},
                         {CKA_VERIFY, &T, 1}, {CKA_LABEL, label, sizeof(label) - 1}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &T, 1}, {CKA_PRIVATE, &T, 1}, {CKA_SIGN, &T, 1},
                         {CKA_LABEL, label, sizeof(label) - 1}};
    CK_OBJECT_HANDLE pub, priv;
    CK_SESSION_HANDLE ro = t_open(slot, false);
    RV(f->C_GenerateKeyPair(ro, &g, pt, ARRAY_LEN(pt), kt, ARRAY_LEN(kt), &pub, &priv),
       CKR_SESSION_READ_ONLY);
    CK_ATTRIBUTE q = {CKA_LABEL, label, sizeof(label) - 1};
    CK_OBJECT_HANDLE found[4];
    CK_ULONG nf = 0;
    OK(f->C_FindObjectsInit(S, &q, 1));
    OK(f->C_FindObjects(S, found, 4, &nf));
    OK(f->C_FindObjectsFinal(S));
    assert_int_equal(nf, 0);
    OK(f->C_CloseSession(ro));
    OK(f->C_GenerateKeyPair(S, &g, pt, ARRAY_LEN(pt), kt, ARRAY_LEN(kt), &pub, &priv));
    /* restart the module */
    OK(f->C_Finalize(NULL));
    OK(f->C_Initialize(NULL));
    S = t_open(slot, true);
    OK(f->C_Login(S, CKU_USER, PIN_ARGS(USER_PIN)));
    OK(f->C_FindObjectsInit(S, &q, 1));
    OK(f->C_FindObjects(S, found, 4, &nf));
    OK(f->C_FindObjectsFinal(S));
    assert_int_equal(nf, 2);
    CK_OBJECT_CLASS c0 = 0;
    CK_ATTRIBUTE ca = {CKA_CLASS, &c0, sizeof(c0)};
    OK(f->C_GetAttributeValue(S, found[0], &ca, 1));
    pub = c0 == CKO_PUBLIC_KEY ? found[0] : found[1];
    priv = c0 == CKO_PUBLIC_KEY ? found[1] : found[0];
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    sig_roundtrip(&m, pub, priv, 64, true);
}

/* One call per remaining error path of the mechanism code. */
static void test_error_paths(void **state)
{
    (void)state;
    CK_SESSION_INFO si;
    OK(f->C_GetSessionInfo(S, &si));
    CK_MECHANISM_INFO mi;
    RV(f->C_GetMechanismList(si.slotID, NULL, NULL), CKR_ARGUMENTS_BAD);
    RV(f->C_GetMechanismInfo(si.slotID, CKM_AES_GCM, NULL), CKR_ARGUMENTS_BAD);
    (void)mi;
    RV(f->C_SeedRandom(S, NULL, 3), CKR_ARGUMENTS_BAD);

    /* OAEP with a hash the token does not offer, PSS/OAEP with an unknown MGF */
    CK_RSA_PKCS_OAEP_PARAMS o3 = {CKM_MD5, CKG_MGF1_SHA256, 0, NULL, 0};
    CK_MECHANISM m3 = {CKM_RSA_PKCS_OAEP, &o3, sizeof(o3)};
    RV(f->C_EncryptInit(S, &m3, rsa_pub), CKR_MECHANISM_PARAM_INVALID);
    o3.hashAlg = CKM_SHA256;
    o3.mgf = 0x55;
    RV(f->C_DecryptInit(S, &m3, rsa_priv), CKR_MECHANISM_PARAM_INVALID);
    /* a _GENERAL MAC of length 0; AES key wrap with an IV parameter */
    CK_OBJECT_HANDLE aes = aes_gen(16, CK_TRUE, CK_TRUE);
    CK_ULONG zero = 0;
    CK_MECHANISM cg = {CKM_AES_CMAC_GENERAL, &zero, sizeof(zero)};
    RV(f->C_SignInit(S, &cg, aes), CKR_MECHANISM_PARAM_INVALID);
    uint8_t iv8[8] = {0};
    CK_MECHANISM kwiv = {CKM_AES_KEY_WRAP, iv8, 8};
    RV(f->C_EncryptInit(S, &kwiv, aes), CKR_MECHANISM_PARAM_INVALID);

    /* an imported 1024-bit RSA key is outside the mechanisms' range */
    uint8_t n1024[128], e[3] = {1, 0, 1};
    memset(n1024, 0xc5, sizeof(n1024));
    n1024[127] |= 1;
    CK_OBJECT_CLASS pc = CKO_PUBLIC_KEY;
    CK_KEY_TYPE rk = CKK_RSA;
    CK_ATTRIBUTE rt[] = {{CKA_CLASS, &pc, sizeof(pc)}, {CKA_KEY_TYPE, &rk, sizeof(rk)},
                         {CKA_MODULUS, n1024, sizeof(n1024)}, {CKA_PUBLIC_EXPONENT, e, 3},
                         {CKA_TOKEN, &F, 1}, {CKA_VERIFY, &T, 1}};
    CK_OBJECT_HANDLE small;
    OK(f->C_CreateObject(S, rt, ARRAY_LEN(rt), &small));
    CK_MECHANISM sm = {CKM_SHA256_RSA_PKCS, NULL, 0};
    RV(f->C_VerifyInit(S, &sm, small), CKR_KEY_SIZE_RANGE);
    /* an HMAC key longer than 512 bytes */
    uint8_t big[600];
    memset(big, 7, sizeof(big));
    CK_OBJECT_HANDLE hbig = secret_import(CKK_GENERIC_SECRET, big, sizeof(big));
    CK_MECHANISM hm = {CKM_SHA256_HMAC, NULL, 0};
    RV(f->C_SignInit(S, &hm, hbig), CKR_KEY_SIZE_RANGE);
    /* RSA X.509 input longer than the modulus */
    CK_MECHANISM x = {CKM_RSA_X_509, NULL, 0};
    uint8_t sig[600];
    CK_ULONG sl = sizeof(sig);
    OK(f->C_SignInit(S, &x, rsa_priv));
    RV(f->C_Sign(S, big, 257, sig, &sl), CKR_DATA_LEN_RANGE);
    /* C_DigestKey of a public key */
    CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
    OK(f->C_DigestInit(S, &sha));
    RV(f->C_DigestKey(S, rsa_pub), CKR_KEY_INDIGESTIBLE);

    /* CBC: a partial block left at DecryptFinal; CBC_PAD: no full last block */
    uint8_t iv[16] = {0}, buf[64] = {0};
    CK_MECHANISM cbc = {CKM_AES_CBC, iv, 16};
    CK_ULONG l = sizeof(buf);
    OK(f->C_DecryptInit(S, &cbc, aes));
    OK(f->C_DecryptUpdate(S, buf, 20, buf, &l));
    assert_int_equal(l, 16);
    l = sizeof(buf);
    RV(f->C_DecryptFinal(S, buf, &l), CKR_ENCRYPTED_DATA_LEN_RANGE);
    CK_MECHANISM pad = {CKM_AES_CBC_PAD, iv, 16};
    OK(f->C_DecryptInit(S, &pad, aes));
    l = sizeof(buf);
    OK(f->C_DecryptUpdate(S, buf, 20, buf, &l));
    l = sizeof(buf);
    RV(f->C_DecryptFinal(S, buf, &l), CKR_ENCRYPTED_DATA_LEN_RANGE);

    /* wrap: a secret too long for RSA-OAEP */
    CK_OBJECT_HANDLE gbig = secret_import(CKK_GENERIC_SECRET, big, 300);
    CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA256, CKG_MGF1_SHA256, 0, NULL, 0};
    CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
    l = sizeof(sig);
    RV(f->C_WrapKey(S, &oaep, rsa_pub, gbig, sig, &l), CKR_KEY_SIZE_RANGE);
    /* unwrap: class not a key, key type not the material's, AES of 40 bytes */
    CK_OBJECT_HANDLE kek = aes_gen(32, CK_TRUE, CK_TRUE);
    CK_OBJECT_HANDLE g40 = secret_import(CKK_GENERIC_SECRET, big, 40);
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    uint8_t w[4096];
    CK_ULONG wl = sizeof(w);
    OK(f->C_WrapKey(S, &kwp, kek, g40, w, &wl));
    CK_OBJECT_CLASS dc = CKO_DATA;
    CK_KEY_TYPE akt = CKK_AES;
    CK_ATTRIBUTE ut[] = {{CKA_CLASS, &dc, sizeof(dc)}, {CKA_KEY_TYPE, &akt, sizeof(akt)},
                         {CKA_TOKEN, &F, 1}};
    CK_OBJECT_HANDLE u;
    RV(f->C_UnwrapKey(S, &kwp, kek, w, wl, ut, ARRAY_LEN(ut), &u), CKR_TEMPLATE_INCONSISTENT);
    dc = CKO_SECRET_KEY;
    RV(f->C_UnwrapKey(S, &kwp, kek, w, wl, ut, ARRAY_LEN(ut), &u), CKR_WRAPPED_KEY_INVALID);
    CK_OBJECT_HANDLE epub, epriv;
    OK(pair_gen(CKM_EC_KEY_PAIR_GEN, OID_P384, sizeof(OID_P384), 0, &epub, &epriv));
    wl = sizeof(w);
    OK(f->C_WrapKey(S, &kwp, kek, epriv, w, &wl));
    dc = CKO_PRIVATE_KEY;
    akt = CKK_RSA;
    RV(f->C_UnwrapKey(S, &kwp, kek, w, wl, ut, ARRAY_LEN(ut), &u), CKR_TEMPLATE_INCONSISTENT);

    /* derive: template class/type, CKD_NULL longer than Z, AES without a
     * length from a 48-byte Z, extract-only HKDF of the wrong length */
    uint8_t pt[200];
    CK_ULONG ptl = sizeof(pt);
    point_of(epub, pt, &ptl);
    CK_ECDH1_DERIVE_PARAMS ep = {CKD_NULL, 0, NULL, ptl, pt};
    CK_MECHANISM ecdh = {CKM_ECDH1_DERIVE, &ep, sizeof(ep)};
    CK_OBJECT_CLASS tc = CKO_PUBLIC_KEY;
    CK_KEY_TYPE tk = CKK_GENERIC_SECRET;
    CK_ULONG tl = 49;
    CK_ATTRIBUTE dt[] = {{CKA_CLASS, &tc, sizeof(tc)}, {CKA_KEY_TYPE, &tk, sizeof(tk)},
                         {CKA_TOKEN, &F, 1}, {CKA_VALUE_LEN, &tl, sizeof(tl)}};
    CK_OBJECT_HANDLE d;
    RV(f->C_DeriveKey(S, &ecdh, epriv, dt, ARRAY_LEN(dt), &d), CKR_TEMPLATE_INCONSISTENT);
    tc = CKO_SECRET_KEY;
    tk = CKK_RSA;
    RV(f->C_DeriveKey(S, &ecdh, epriv, dt, ARRAY_LEN(dt), &d), CKR_TEMPLATE_INCONSISTENT);
    tk = CKK_GENERIC_SECRET;
    RV(f->C_DeriveKey(S, &ecdh, epriv, dt, ARRAY_LEN(dt), &d), CKR_TEMPLATE_INCONSISTENT);
    tk = CKK_AES;
    RV(f->C_DeriveKey(S, &ecdh, epriv, dt, 3, &d), CKR_TEMPLATE_INCOMPLETE);
    tk = CKK_GENERIC_SECRET;
    OK(f->C_DeriveKey(S, &ecdh, epriv, dt, 3, &d)); /* all of Z */
    CK_ULONG dl = 0;
    CK_ATTRIBUTE dla = {CKA_VALUE_LEN, &dl, sizeof(dl)};
    OK(f->C_GetAttributeValue(S, d, &dla, 1));
    assert_int_equal(dl, 48);
    CK_MECHANISM notderive = {CKM_AES_GCM, NULL, 0};
    RV(f->C_DeriveKey(S, &notderive, epriv, dt, 3, &d), CKR_MECHANISM_INVALID);
    uint8_t ikm[32];
    memset(ikm, 1, sizeof(ikm));
    CK_OBJECT_HANDLE base = secret_import(CKK_GENERIC_SECRET, ikm, sizeof(ikm));
    CK_HKDF_PARAMS hp = {CK_TRUE, CK_FALSE, CKM_SHA256, CKF_HKDF_SALT_NULL, NULL, 0, 0, NULL, 0};
    CK_MECHANISM hkdf = {CKM_HKDF_DERIVE, &hp, sizeof(hp)};
    tl = 16;
    RV(f->C_DeriveKey(S, &hkdf, base, dt, ARRAY_LEN(dt), &d), CKR_TEMPLATE_INCONSISTENT);
    hp.bExpand = CK_TRUE;
    hp.ulSaltType = CKF_HKDF_SALT_DATA;
    RV(f->C_DeriveKey(S, &hkdf, base, dt, ARRAY_LEN(dt), &d), CKR_MECHANISM_PARAM_INVALID);
    hp.ulSaltType = CKF_HKDF_SALT_NULL;
    hp.ulInfoLen = 4;
    RV(f->C_DeriveKey(S, &hkdf, base, dt, ARRAY_LEN(dt), &d), CKR_MECHANISM_PARAM_INVALID);
    hp.ulInfoLen = 0;
    hp.ulSaltType = CKF_HKDF_SALT_KEY;
    hp.hSaltKey = rsa_pub;
    RV(f->C_DeriveKey(S, &hkdf, base, dt, ARRAY_LEN(dt), &d), CKR_KEY_TYPE_INCONSISTENT);

    /* generation: no modulus size, a bad exponent, bad EC params, params
     * given, pair and single mechanisms swapped, a malformed CKA_VALUE_LEN */
    CK_OBJECT_HANDLE p, q;
    CK_MECHANISM rg = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE none[] = {{CKA_TOKEN, &F, 1}};
    RV(f->C_GenerateKeyPair(S, &rg, none, 1, none, 1, &p, &q), CKR_TEMPLATE_INCOMPLETE);
    CK_ULONG bits = 2048;
    uint8_t e9[9] = {1, 0, 0, 0, 0, 0, 0, 0, 1};
    CK_ATTRIBUTE re[] = {{CKA_TOKEN, &F, 1}, {CKA_MODULUS_BITS, &bits, sizeof(bits)},
                         {CKA_PUBLIC_EXPONENT, e9, sizeof(e9)}};
    RV(f->C_GenerateKeyPair(S, &rg, re, ARRAY_LEN(re), none, 1, &p, &q), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_MECHANISM eg = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    uint8_t junk[] = {0x30, 0x01, 0x02};
    CK_ATTRIBUTE ej[] = {{CKA_TOKEN, &F, 1}, {CKA_EC_PARAMS, junk, sizeof(junk)}};
    RV(f->C_GenerateKeyPair(S, &eg, ej, ARRAY_LEN(ej), none, 1, &p, &q), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_MECHANISM egp = {CKM_EC_KEY_PAIR_GEN, junk, sizeof(junk)};
    RV(f->C_GenerateKeyPair(S, &egp, ej, ARRAY_LEN(ej), none, 1, &p, &q), CKR_MECHANISM_PARAM_INVALID);
    RV(f->C_GenerateKey(S, &eg, none, 1, &p), CKR_MECHANISM_INVALID);
    CK_MECHANISM ag = {CKM_AES_KEY_GEN, NULL, 0};
    RV(f->C_GenerateKeyPair(S, &ag, none, 1, none, 1, &p, &q), CKR_MECHANISM_INVALID);
    uint32_t short_len = 16;
    CK_ATTRIBUTE bl[] = {{CKA_TOKEN, &F, 1}, {CKA_VALUE_LEN, &short_len, sizeof(short_len)}};
    RV(f->C_GenerateKey(S, &ag, bl, ARRAY_LEN(bl), &p), CKR_ATTRIBUTE_VALUE_INVALID);
}

/* Private-key operations need the user logged in (runs last: logs out). */
static void test_login_required(void **state)
{
    (void)state;
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    /* a private key readable without login (CKA_PRIVATE false) */
    CK_MECHANISM g = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &F, 1}, {CKA_EC_PARAMS, (void *)OID_P256, sizeof(OID_P256)}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &F, 1}, {CKA_PRIVATE, &F, 1}, {CKA_SIGN, &T, 1},
                         {CKA_DERIVE, &T, 1}, {CKA_EXTRACTABLE, &T, 1}};
    CK_OBJECT_HANDLE pub, priv;
    OK(f->C_GenerateKeyPair(S, &g, pt, ARRAY_LEN(pt), kt, ARRAY_LEN(kt), &pub, &priv));
    CK_OBJECT_HANDLE kek = aes_gen(32, CK_TRUE, CK_TRUE);
    OK(f->C_Logout(S));
    CK_RV rv = f->C_SignInit(S, &m, rsa_priv);
    assert_true(rv == CKR_KEY_HANDLE_INVALID || rv == CKR_USER_NOT_LOGGED_IN);
    CK_MECHANISM ec = {CKM_ECDSA_SHA256, NULL, 0};
    RV(f->C_SignInit(S, &ec, priv), CKR_USER_NOT_LOGGED_IN);
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    uint8_t w[512];
    CK_ULONG wl = sizeof(w);
    rv = f->C_WrapKey(S, &kwp, kek, priv, w, &wl);
    assert_true(rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_WRAPPING_KEY_HANDLE_INVALID);
    uint8_t pt2[100];
    CK_ULONG pl = sizeof(pt2);
    point_of(pub, pt2, &pl);
    CK_OBJECT_HANDLE d;
    RV(ecdh_aes(priv, CKD_NULL, pt2, pl, &d), CKR_USER_NOT_LOGGED_IN);
    OK(f->C_Login(S, CKU_USER, PIN_ARGS(USER_PIN)));
    OK(f->C_SignInit(S, &ec, priv));
    OK(f->C_SignInit(S, NULL, CK_INVALID_HANDLE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mech_list_info),
        cmocka_unit_test(test_not_supported),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_digest_key),
        cmocka_unit_test(test_rsa_generate),
        cmocka_unit_test(test_rsa_pkcs1_sign),
        cmocka_unit_test(test_rsa_pss),
        cmocka_unit_test(test_rsa_encrypt),
        cmocka_unit_test(test_sha3_rsa),
        cmocka_unit_test(test_sha3_ecdsa),
        cmocka_unit_test(test_ecdsa),
        cmocka_unit_test(test_eddsa),
        cmocka_unit_test(test_ecdh),
        cmocka_unit_test(test_aes_keygen),
        cmocka_unit_test(test_aes_kat),
        cmocka_unit_test(test_aes_cbc_pad),
        cmocka_unit_test(test_aes_gcm),
        cmocka_unit_test(test_aes_cmac),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_des3_keys),
        cmocka_unit_test(test_des3_kat),
        cmocka_unit_test(test_des3_cmac),
        cmocka_unit_test(test_des3_wrap),
        cmocka_unit_test(test_wrap_aes),
        cmocka_unit_test(test_wrap_pkcs8),
        cmocka_unit_test(test_wrap_rsa),
        cmocka_unit_test(test_hkdf),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_operation_rules),
        cmocka_unit_test(test_always_authenticate),
        cmocka_unit_test(test_error_paths),
        cmocka_unit_test(test_login_required),
        cmocka_unit_test(test_token_keys),
    };
    return cmocka_run_group_tests(tests, group_setup, t_teardown);
}
