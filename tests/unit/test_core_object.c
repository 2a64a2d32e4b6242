/*
 * Objects: creation per class, the attribute-table rules (required /
 * forbidden / read-only / sensitive; PKCS#11 3.0 §4 footnotes), get/set/copy/
 * destroy semantics, computed attributes, usage checks. One test per error
 * path of core/object.c's template checks.
 */
#include "test_core_util.h"

static CK_OBJECT_CLASS c_data = CKO_DATA, c_cert = CKO_CERTIFICATE, c_pub = CKO_PUBLIC_KEY,
                       c_priv = CKO_PRIVATE_KEY, c_sec = CKO_SECRET_KEY, c_bogus = 0x1234;
static CK_KEY_TYPE k_rsa = CKK_RSA, k_ec = CKK_EC, k_ed = CKK_EC_EDWARDS, k_x = CKK_EC_MONTGOMERY,
                   k_aes = CKK_AES, k_gen = CKK_GENERIC_SECRET, k_hkdf = CKK_HKDF;
static CK_CERTIFICATE_TYPE x509 = CKC_X_509, wtls = CKC_WTLS;
static const uint8_t aes16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

#define N(t) TC_ARRAY_LEN(t)

static CK_RV create_as(tc_env *e, const tcore_caller *cx, CK_ATTRIBUTE *t, CK_ULONG n,
                       tcore_obj **o)
{
    *o = NULL;
    return tcore_obj_new(e->t, cx, TCORE_ORIGIN_CREATE, 0, 0, t, n, NULL, 0, NULL, o);
}

static CK_RV create(tc_env *e, CK_ATTRIBUTE *t, CK_ULONG n, tcore_obj **o)
{
    return create_as(e, as_user(), t, n, o);
}

/* tcore_obj_new for a non-CREATE origin, as the normal user. */
static CK_RV new_obj(tc_env *e, tcore_origin origin, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                     const CK_ATTRIBUTE *t, CK_ULONG n, const tcore_keymat *m,
                     CK_MECHANISM_TYPE mech, const tcore_obj *base, tcore_obj **o)
{
    return tcore_obj_new(e->t, as_user(), origin, cls, kt, t, n, m, mech, base, o);
}

static tcore_obj *must_create(tc_env *e, CK_ATTRIBUTE *t, CK_ULONG n)
{
    tcore_obj *o;
    assert_int_equal(create(e, t, n, &o), CKR_OK);
    assert_non_null(o);
    return o;
}

static tcore_obj *aes_obj(tc_env *e, bool sensitive, bool extractable)
{
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                        {CKA_VALUE, (void *)aes16, 16},
                        ATTR(CKA_SENSITIVE, sensitive ? &ck_true : &ck_false),
                        ATTR(CKA_EXTRACTABLE, extractable ? &ck_true : &ck_false)};
    return must_create(e, t, N(t));
}

static bool get_bool(tcore_obj *o, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = 0xAA;
    CK_ULONG len = sizeof(b);
    assert_int_equal(tcore_obj_attr_get(o, type, &b, &len), CKR_OK);
    return b == CK_TRUE;
}

static CK_ULONG get_ulong(tcore_obj *o, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = 0, len = sizeof(v);
    assert_int_equal(tcore_obj_attr_get(o, type, &v, &len), CKR_OK);
    return v;
}

/* ---- creation per class ----------------------------------------------------- */

static void test_create_data(void **state)
{
    tc_env *e = *state;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data), ATTR_STR(CKA_LABEL, "d"),
                        ATTR_STR(CKA_APPLICATION, "app"), ATTR_STR(CKA_VALUE, "v")};
    tcore_obj *o = must_create(e, t, N(t));
    assert_int_equal(tcore_obj_class(o), CKO_DATA);
    assert_false(get_bool(o, CKA_TOKEN));
    assert_false(get_bool(o, CKA_PRIVATE));
    assert_true(get_bool(o, CKA_MODIFIABLE));
    CK_ULONG len = 0;
    assert_int_equal(tcore_obj_attr_get(o, CKA_UNIQUE_ID, NULL, &len), CKR_OK);
    assert_true(len > 0);
    tcore_obj_unref(o);
}

static void test_create_certificate(void **state)
{
    tc_env *e = *state;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_cert), ATTR(CKA_CERTIFICATE_TYPE, &x509),
                        ATTR_STR(CKA_SUBJECT, "\x30\x00"), ATTR_STR(CKA_VALUE, "\x30\x03\x02\x01\x01"),
                        ATTR_STR(CKA_ISSUER, "\x30\x00"), ATTR_STR(CKA_SERIAL_NUMBER, "\x02\x01\x01"),
                        ATTR_STR(CKA_ID, "id1")};
    tcore_obj *o = must_create(e, t, N(t));
    assert_int_equal(get_ulong(o, CKA_CERTIFICATE_TYPE), CKC_X_509);
    assert_false(get_bool(o, CKA_TRUSTED));
    tcore_obj_unref(o);
}

static void test_create_cert_missing_subject(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_cert), ATTR(CKA_CERTIFICATE_TYPE, &x509),
                        ATTR_STR(CKA_VALUE, "\x30\x00")};
    assert_int_equal(create(e, t, N(t), &o), CKR_TEMPLATE_INCOMPLETE);
    assert_null(o);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCOMPLETE, -1, CKA_SUBJECT);
}

static void test_create_cert_wrong_type(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_cert), ATTR(CKA_CERTIFICATE_TYPE, &wtls),
                        ATTR_STR(CKA_SUBJECT, "s"), ATTR_STR(CKA_VALUE, "v")};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 1, CKA_CERTIFICATE_TYPE);
}

static void test_create_trusted_needs_so(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_cert), ATTR(CKA_CERTIFICATE_TYPE, &x509),
                        ATTR_STR(CKA_SUBJECT, "s"), ATTR_STR(CKA_VALUE, "v"),
                        ATTR(CKA_TRUSTED, &ck_true)};
    assert_int_equal(create_as(e, NULL, t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 4, CKA_TRUSTED);
    assert_int_equal(create_as(e, as_so(), t, N(t), &o), CKR_OK);
    assert_true(get_bool(o, CKA_TRUSTED));
    tcore_obj_unref(o);
}

static void test_create_missing_class(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR_STR(CKA_LABEL, "x")};
    assert_int_equal(create(e, t, N(t), &o), CKR_TEMPLATE_INCOMPLETE);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCOMPLETE, -1, CKA_CLASS);
}

static void test_create_bad_class(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_bogus)};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 0, CKA_CLASS);
}

static void test_create_missing_key_type(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), {CKA_VALUE, (void *)aes16, 16}};
    assert_int_equal(create(e, t, N(t), &o), CKR_TEMPLATE_INCOMPLETE);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCOMPLETE, -1, CKA_KEY_TYPE);
}

static void test_create_key_type_wrong_for_class(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_rsa),
                        {CKA_VALUE, (void *)aes16, 16}};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 1, CKA_KEY_TYPE);
}

static void test_create_attr_invalid_for_class(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data), ATTR_STR(CKA_MODULUS, "\x01")};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_TYPE_INVALID, 1, CKA_MODULUS);
}

static void test_create_bad_bool_length(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ULONG big = 1;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data), {CKA_TOKEN, &big, sizeof(big)}};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 1, CKA_TOKEN);
}

static void test_create_bad_date(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                        {CKA_VALUE, (void *)aes16, 16}, ATTR_STR(CKA_END_DATE, "2024AB01")};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 3, CKA_END_DATE);
}

static void test_create_forbidden_local(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                        {CKA_VALUE, (void *)aes16, 16}, ATTR(CKA_LOCAL, &ck_true)};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 3, CKA_LOCAL);
}

static void test_create_forbidden_value_len(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ULONG vl = 16;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                        {CKA_VALUE, (void *)aes16, 16}, ATTR(CKA_VALUE_LEN, &vl)};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 3, CKA_VALUE_LEN);
}

static void test_create_forbidden_unique_id(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data), ATTR_STR(CKA_UNIQUE_ID, "mine")};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 1, CKA_UNIQUE_ID);
}

static void test_create_inconsistent_duplicates(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data), ATTR_STR(CKA_LABEL, "a"), ATTR_STR(CKA_LABEL, "b")};
    assert_int_equal(create(e, t, N(t), &o), CKR_TEMPLATE_INCONSISTENT);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCONSISTENT, 2, CKA_LABEL);
}

static void test_create_aes_bad_length(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                        {CKA_VALUE, (void *)aes16, 15}};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 2, CKA_VALUE);
}

static void test_create_secret_missing_value(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_gen)};
    assert_int_equal(create(e, t, N(t), &o), CKR_TEMPLATE_INCOMPLETE);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCOMPLETE, -1, CKA_VALUE);
}

static void test_create_secret_keys(void **state)
{
    tc_env *e = *state;
    CK_KEY_TYPE types[] = {k_aes, k_gen, k_hkdf};
    for (size_t i = 0; i < N(types); i++) {
        CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &types[i]),
                            {CKA_VALUE, (void *)aes16, 16}};
        tcore_obj *o = must_create(e, t, N(t));
        uint8_t *k = NULL;
        size_t klen = 0;
        assert_int_equal(get_ulong(o, CKA_VALUE_LEN), 16);
        assert_true(get_bool(o, CKA_PRIVATE));  /* default for secret keys */
        assert_true(get_bool(o, CKA_SENSITIVE));
        assert_false(get_bool(o, CKA_EXTRACTABLE));
        assert_false(get_bool(o, CKA_LOCAL));
        assert_false(get_bool(o, CKA_ALWAYS_SENSITIVE));
        assert_false(get_bool(o, CKA_NEVER_EXTRACTABLE));
        assert_int_equal(get_ulong(o, CKA_KEY_GEN_MECHANISM), CK_UNAVAILABLE_INFORMATION);
        assert_int_equal(tcore_obj_secret(o, &k, &klen), CKR_OK);
        assert_int_equal(klen, 16);
        assert_memory_equal(k, aes16, 16);
        tcrypto_secure_free(k, klen);
        tcore_obj_unref(o);
    }
}

static void test_check_value(void **state)
{
    tc_env *e = *state;
    /* AES-128 key 000102..0f: ECB(0^128) starts c6 a1 3b (FIPS 197 style KAT
     * computed independently with openssl enc) */
    static const uint8_t k[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const uint8_t expect[3] = {0xc6, 0xa1, 0x3b};
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes), {CKA_VALUE, (void *)k, 16}};
    tcore_obj *o = must_create(e, t, N(t));
    uint8_t cv[8];
    CK_ULONG len = sizeof(cv);
    assert_int_equal(tcore_obj_attr_get(o, CKA_CHECK_VALUE, cv, &len), CKR_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(cv, expect, 3);
    tcore_obj_unref(o);
    /* a matching check value is accepted, a wrong one refused */
    CK_ATTRIBUTE good[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                           {CKA_VALUE, (void *)k, 16}, {CKA_CHECK_VALUE, (void *)expect, 3}};
    o = must_create(e, good, N(good));
    tcore_obj_unref(o);
    static const uint8_t wrong[3] = {0xc6, 0xa1, 0x3c};
    CK_ATTRIBUTE bad[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                          {CKA_VALUE, (void *)k, 16}, {CKA_CHECK_VALUE, (void *)wrong, 3}};
    assert_int_equal(create(e, bad, N(bad), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 3, CKA_CHECK_VALUE);
}

/* ---- asymmetric keys -------------------------------------------------------- */

static uint8_t *part(const tcrypto_pkey *k, tcrypto_part p, size_t *len)
{
    *len = 0;
    assert_int_equal(tcrypto_pkey_get_part(k, p, NULL, len), TCRYPTO_OK);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    assert_int_equal(tcrypto_pkey_get_part(k, p, b, len), TCRYPTO_OK);
    return b;
}

static tcrypto_pkey *rsa_key;

static int rsa_group_setup(void **state)
{
    (void)state;
    if (tcrypto_init() != TCRYPTO_OK || tcrypto_rsa_generate(2048, NULL, 0, &rsa_key) != TCRYPTO_OK) {
        return -1;
    }
    return 0;
}

static int rsa_group_teardown(void **state)
{
    (void)state;
    tcrypto_pkey_free(rsa_key);
    return 0;
}

static void test_create_rsa_pair(void **state)
{
    tc_env *e = *state;
    size_t nl, el, dl, pl, ql, dpl, dql, qil;
    uint8_t *n = part(rsa_key, TCRYPTO_PART_RSA_N, &nl), *ex = part(rsa_key, TCRYPTO_PART_RSA_E, &el),
            *d = part(rsa_key, TCRYPTO_PART_RSA_D, &dl), *p = part(rsa_key, TCRYPTO_PART_RSA_P, &pl),
            *q = part(rsa_key, TCRYPTO_PART_RSA_Q, &ql), *dp = part(rsa_key, TCRYPTO_PART_RSA_DP, &dpl),
            *dq = part(rsa_key, TCRYPTO_PART_RSA_DQ, &dql),
            *qi = part(rsa_key, TCRYPTO_PART_RSA_QINV, &qil);
    CK_ATTRIBUTE pt[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_rsa), {CKA_MODULUS, n, nl},
                         {CKA_PUBLIC_EXPONENT, ex, el}, ATTR(CKA_VERIFY, &ck_true)};
    tcore_obj *pub = must_create(e, pt, N(pt));
    assert_int_equal(get_ulong(pub, CKA_MODULUS_BITS), 2048);
    CK_ULONG len = 0;
    assert_int_equal(tcore_obj_attr_get(pub, CKA_PUBLIC_KEY_INFO, NULL, &len), CKR_OK);
    assert_true(len > 256);
    tcrypto_pkey *k = NULL;
    assert_int_equal(tcore_obj_pkey(pub, &k), CKR_OK);
    assert_false(tcrypto_pkey_has_private(k));
    tcrypto_pkey_free(k);

    CK_ATTRIBUTE kt[] = {ATTR(CKA_CLASS, &c_priv), ATTR(CKA_KEY_TYPE, &k_rsa), {CKA_MODULUS, n, nl},
                         {CKA_PUBLIC_EXPONENT, ex, el}, {CKA_PRIVATE_EXPONENT, d, dl},
                         {CKA_PRIME_1, p, pl}, {CKA_PRIME_2, q, ql}, {CKA_EXPONENT_1, dp, dpl},
                         {CKA_EXPONENT_2, dq, dql}, {CKA_COEFFICIENT, qi, qil}};
    tcore_obj *priv = must_create(e, kt, N(kt));
    assert_int_equal(tcore_obj_pkey(priv, &k), CKR_OK);
    assert_true(tcrypto_pkey_has_private(k));
    assert_int_equal(tcrypto_pkey_bits(k), 2048);
    tcrypto_pkey_free(k);
    /* the private exponent is sensitive */
    uint8_t buf[512];
    len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(priv, CKA_PRIVATE_EXPONENT, buf, &len),
                     CKR_ATTRIBUTE_SENSITIVE);
    /* no modulus bits on a private key */
    len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(priv, CKA_MODULUS_BITS, buf, &len),
                     CKR_ATTRIBUTE_TYPE_INVALID);
    tcore_obj_unref(pub);
    tcore_obj_unref(priv);
    free(n), free(ex), free(d), free(p), free(q), free(dp), free(dq), free(qi);
}

static void test_create_rsa_extractable_reveals_parts(void **state)
{
    tc_env *e = *state;
    size_t nl, el, dl;
    uint8_t *n = part(rsa_key, TCRYPTO_PART_RSA_N, &nl), *ex = part(rsa_key, TCRYPTO_PART_RSA_E, &el),
            *d = part(rsa_key, TCRYPTO_PART_RSA_D, &dl);
    CK_ATTRIBUTE kt[] = {ATTR(CKA_CLASS, &c_priv), ATTR(CKA_KEY_TYPE, &k_rsa), {CKA_MODULUS, n, nl},
                         {CKA_PUBLIC_EXPONENT, ex, el}, {CKA_PRIVATE_EXPONENT, d, dl},
                         ATTR(CKA_SENSITIVE, &ck_false), ATTR(CKA_EXTRACTABLE, &ck_true)};
    tcore_obj *priv = must_create(e, kt, N(kt));
    uint8_t buf[512];
    CK_ULONG len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(priv, CKA_PRIVATE_EXPONENT, buf, &len), CKR_OK);
    assert_int_equal(len, dl);
    assert_memory_equal(buf, d, dl);
    tcore_obj_unref(priv);
    free(n), free(ex), free(d);
}

static void test_create_rsa_missing_modulus(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_rsa),
                        ATTR_STR(CKA_PUBLIC_EXPONENT, "\x01\x00\x01")};
    assert_int_equal(create(e, t, N(t), &o), CKR_TEMPLATE_INCOMPLETE);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCOMPLETE, -1, CKA_MODULUS);
}

static void test_create_rsa_modulus_bits_forbidden(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ULONG bits = 2048;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_rsa),
                        ATTR_STR(CKA_MODULUS, "\xc3\x01"), ATTR_STR(CKA_PUBLIC_EXPONENT, "\x03"),
                        ATTR(CKA_MODULUS_BITS, &bits)};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 4, CKA_MODULUS_BITS);
}

static void test_create_rsa_garbage_modulus(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_rsa),
                        ATTR_STR(CKA_MODULUS, "\x00"), ATTR_STR(CKA_PUBLIC_EXPONENT, "\x00")};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 2, CKA_MODULUS);
}

static void test_create_ec_keys(void **state)
{
    tc_env *e = *state;
    tcrypto_pkey *k = NULL, *got = NULL;
    size_t pl, sl, plen;
    assert_int_equal(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_OK);
    uint8_t *pt = part(k, TCRYPTO_PART_EC_POINT, &pl), *sc = part(k, TCRYPTO_PART_EC_PRIV, &sl);
    const uint8_t *params = tcrypto_ec_params_der(TCRYPTO_KEY_EC, TCRYPTO_CURVE_P256, &plen);
    uint8_t der[80];
    der[0] = 0x04;
    der[1] = (uint8_t)pl;
    memcpy(der + 2, pt, pl);
    /* DER-wrapped point */
    CK_ATTRIBUTE t1[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_ec),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_EC_POINT, der, pl + 2}};
    tcore_obj *pub = must_create(e, t1, N(t1));
    uint8_t buf[128];
    CK_ULONG len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(pub, CKA_EC_POINT, buf, &len), CKR_OK);
    assert_int_equal(len, pl + 2);
    assert_memory_equal(buf, der, pl + 2);
    tcore_obj_unref(pub);
    /* raw point is accepted and stored DER-wrapped */
    CK_ATTRIBUTE t2[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_ec),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_EC_POINT, pt, pl}};
    pub = must_create(e, t2, N(t2));
    len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(pub, CKA_EC_POINT, buf, &len), CKR_OK);
    assert_memory_equal(buf, der, pl + 2);
    tcore_obj_unref(pub);
    /* private */
    CK_ATTRIBUTE t3[] = {ATTR(CKA_CLASS, &c_priv), ATTR(CKA_KEY_TYPE, &k_ec),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_VALUE, sc, sl}};
    tcore_obj *priv = must_create(e, t3, N(t3));
    assert_int_equal(tcore_obj_pkey(priv, &got), CKR_OK);
    assert_int_equal(tcrypto_pkey_curve(got), TCRYPTO_CURVE_P256);
    tcrypto_pkey_free(got);
    len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(priv, CKA_VALUE, buf, &len), CKR_ATTRIBUTE_SENSITIVE);
    tcore_obj_unref(priv);
    /* a P-256 point on an Edwards key type is inconsistent */
    CK_ATTRIBUTE t4[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_ed),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_EC_POINT, der, pl + 2}};
    tcore_obj *bad;
    assert_int_equal(create(e, t4, N(t4), &bad), CKR_TEMPLATE_INCONSISTENT);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCONSISTENT, 2, CKA_EC_PARAMS);
    /* a point of the wrong length */
    CK_ATTRIBUTE t5[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_ec),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_EC_POINT, pt, pl - 1}};
    assert_int_equal(create(e, t5, N(t5), &bad), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 3, CKA_EC_POINT);
    tcrypto_pkey_free(k);
    free(pt), free(sc);
}

static void test_create_spki_mismatch(void **state)
{
    tc_env *e = *state;
    tcrypto_pkey *k = NULL;
    size_t pl, plen;
    assert_int_equal(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_OK);
    uint8_t *pt = part(k, TCRYPTO_PART_EC_POINT, &pl);
    const uint8_t *params = tcrypto_ec_params_der(TCRYPTO_KEY_EC, TCRYPTO_CURVE_P256, &plen);
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_ec),
                        {CKA_EC_PARAMS, (void *)params, plen}, {CKA_EC_POINT, pt, pl},
                        ATTR_STR(CKA_PUBLIC_KEY_INFO, "\x30\x03\x02\x01\x00")};
    tcore_obj *o = NULL;
    assert_int_equal(create(e, t, N(t), &o), CKR_TEMPLATE_INCONSISTENT);
    assert_null(o);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCONSISTENT, 4, CKA_PUBLIC_KEY_INFO);
    tcrypto_pkey_free(k);
    free(pt);
}

static void test_create_ec_bad_params(void **state)
{
    tc_env *e = *state;
    tcore_obj *o;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_ec),
                        ATTR_STR(CKA_EC_PARAMS, "\x06\x01\x00"), ATTR_STR(CKA_EC_POINT, "\x04")};
    assert_int_equal(create(e, t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 2, CKA_EC_PARAMS);
}

static void test_create_edwards_montgomery(void **state)
{
    tc_env *e = *state;
    struct {
        tcrypto_key_type type;
        CK_KEY_TYPE *kt;
    } cases[] = {{TCRYPTO_KEY_ED25519, &k_ed}, {TCRYPTO_KEY_X25519, &k_x}};
    for (size_t i = 0; i < N(cases); i++) {
        tcrypto_pkey *k = NULL, *got = NULL;
        size_t pl, sl, plen;
        assert_int_equal(tcrypto_raw_generate(cases[i].type, &k), TCRYPTO_OK);
        uint8_t *pt = part(k, TCRYPTO_PART_EC_POINT, &pl), *sc = part(k, TCRYPTO_PART_EC_PRIV, &sl);
        const uint8_t *params = tcrypto_ec_params_der(cases[i].type, TCRYPTO_CURVE_NONE, &plen);
        assert_non_null(params);
        CK_ATTRIBUTE tp[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, cases[i].kt),
                             {CKA_EC_PARAMS, (void *)params, plen}, {CKA_EC_POINT, pt, pl}};
        tcore_obj *pub = must_create(e, tp, N(tp));
        uint8_t buf[64];
        CK_ULONG len = sizeof(buf);
        assert_int_equal(tcore_obj_attr_get(pub, CKA_EC_POINT, buf, &len), CKR_OK);
        assert_int_equal(len, pl + 2);
        assert_int_equal(buf[0], 0x04);
        assert_memory_equal(buf + 2, pt, pl);
        tcore_obj_unref(pub);
        CK_ATTRIBUTE tk[] = {ATTR(CKA_CLASS, &c_priv), ATTR(CKA_KEY_TYPE, cases[i].kt),
                             {CKA_EC_PARAMS, (void *)params, plen}, {CKA_VALUE, sc, sl}};
        tcore_obj *priv = must_create(e, tk, N(tk));
        assert_int_equal(tcore_obj_pkey(priv, &got), CKR_OK);
        assert_int_equal(tcrypto_pkey_type(got), cases[i].type);
        tcrypto_pkey_free(got);
        tcore_obj_unref(priv);
        tcrypto_pkey_free(k);
        free(pt), free(sc);
    }
}

/* ---- GENERATE / UNWRAP / DERIVE origins ---------------------------------------- */

static void test_generate_keypair_attrs(void **state)
{
    tc_env *e = *state;
    CK_ULONG bits = 2048;
    tcore_keymat m = {.pkey = rsa_key};
    CK_ATTRIBUTE pt[] = {ATTR(CKA_MODULUS_BITS, &bits), ATTR_STR(CKA_PUBLIC_EXPONENT, "\x01\x00\x01")};
    CK_ATTRIBUTE kt[] = {ATTR(CKA_SENSITIVE, &ck_true), ATTR(CKA_EXTRACTABLE, &ck_false)};
    tcore_obj *pub = NULL, *priv = NULL;
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_RSA, pt, N(pt), &m,
                             CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, &pub),
                     CKR_OK);
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_PRIVATE_KEY, CKK_RSA, kt, N(kt), &m,
                             CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, &priv),
                     CKR_OK);
    assert_true(get_bool(priv, CKA_LOCAL));
    assert_true(get_bool(priv, CKA_ALWAYS_SENSITIVE));
    assert_true(get_bool(priv, CKA_NEVER_EXTRACTABLE));
    assert_int_equal(get_ulong(priv, CKA_KEY_GEN_MECHANISM), CKM_RSA_PKCS_KEY_PAIR_GEN);
    assert_int_equal(get_ulong(pub, CKA_MODULUS_BITS), 2048);
    CK_ULONG l1 = 0, l2 = 0;
    assert_int_equal(tcore_obj_attr_get(pub, CKA_MODULUS, NULL, &l1), CKR_OK);
    assert_int_equal(tcore_obj_attr_get(priv, CKA_MODULUS, NULL, &l2), CKR_OK);
    assert_int_equal(l1, 256);
    assert_int_equal(l2, 256);
    assert_int_equal(tcore_obj_attr_get(priv, CKA_PUBLIC_KEY_INFO, NULL, &l2), CKR_OK);
    assert_true(l2 > 0);
    tcrypto_pkey *k = NULL;
    assert_int_equal(tcore_obj_pkey(pub, &k), CKR_OK);
    assert_false(tcrypto_pkey_has_private(k));
    tcrypto_pkey_free(k);
    tcore_obj_unref(pub);
    tcore_obj_unref(priv);
}

static void test_generate_modulus_forbidden(void **state)
{
    tc_env *e = *state;
    tcore_keymat m = {.pkey = rsa_key};
    CK_ATTRIBUTE pt[] = {ATTR_STR(CKA_MODULUS, "\x01"), ATTR_STR(CKA_PUBLIC_EXPONENT, "\x01\x00\x01")};
    tcore_obj *o;
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_RSA, pt, N(pt), &m,
                             CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, &o),
                     CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_MODULUS);
}

static void test_generate_bits_missing(void **state)
{
    tc_env *e = *state;
    tcore_keymat m = {.pkey = rsa_key};
    CK_ATTRIBUTE pt[] = {ATTR(CKA_VERIFY, &ck_true)};
    tcore_obj *o;
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_RSA, pt, N(pt), &m,
                             CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, &o),
                     CKR_TEMPLATE_INCOMPLETE);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCOMPLETE, -1, CKA_MODULUS_BITS);
}

static void test_generate_bits_mismatch(void **state)
{
    tc_env *e = *state;
    CK_ULONG bits = 3072;
    tcore_keymat m = {.pkey = rsa_key};
    CK_ATTRIBUTE pt[] = {ATTR(CKA_MODULUS_BITS, &bits)};
    tcore_obj *o;
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_RSA, pt, N(pt), &m,
                             CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, &o),
                     CKR_TEMPLATE_INCONSISTENT);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCONSISTENT, 0, CKA_MODULUS_BITS);
}

static void test_generate_class_mismatch(void **state)
{
    tc_env *e = *state;
    CK_ULONG vl = 16;
    tcore_keymat m = {.secret = aes16, .secret_len = 16};
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_VALUE_LEN, &vl)};
    tcore_obj *o;
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, t, N(t), &m,
                             CKM_AES_KEY_GEN, NULL, &o),
                     CKR_TEMPLATE_INCONSISTENT);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCONSISTENT, 0, CKA_CLASS);
}

static void test_generate_secret(void **state)
{
    tc_env *e = *state;
    CK_ULONG vl = 16, bad = 32;
    tcore_keymat m = {.secret = aes16, .secret_len = 16};
    CK_ATTRIBUTE t[] = {ATTR(CKA_VALUE_LEN, &vl), ATTR(CKA_SENSITIVE, &ck_false)};
    CK_ATTRIBUTE none[] = {ATTR(CKA_SENSITIVE, &ck_false)};
    CK_ATTRIBUTE wrong[] = {ATTR(CKA_VALUE_LEN, &bad)};
    tcore_obj *o = NULL;
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, none, N(none), &m,
                             CKM_AES_KEY_GEN, NULL, &o),
                     CKR_TEMPLATE_INCOMPLETE);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCOMPLETE, -1, CKA_VALUE_LEN);
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, wrong, N(wrong), &m,
                             CKM_AES_KEY_GEN, NULL, &o),
                     CKR_TEMPLATE_INCONSISTENT);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCONSISTENT, 0, CKA_VALUE_LEN);
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, t, N(t), &m,
                             CKM_AES_KEY_GEN, NULL, &o),
                     CKR_OK);
    assert_true(get_bool(o, CKA_LOCAL));
    assert_false(get_bool(o, CKA_ALWAYS_SENSITIVE));
    assert_true(get_bool(o, CKA_NEVER_EXTRACTABLE));
    /* derive from it: ALWAYS_SENSITIVE false carries over even if sensitive now */
    tcore_obj *d = NULL;
    CK_ATTRIBUTE dt[] = {ATTR(CKA_SENSITIVE, &ck_true)};
    assert_int_equal(new_obj(e, TCORE_ORIGIN_DERIVE, CKO_SECRET_KEY, CKK_GENERIC_SECRET, dt, N(dt),
                             &m, CKM_HKDF_DERIVE, o, &d),
                     CKR_OK);
    assert_false(get_bool(d, CKA_ALWAYS_SENSITIVE));
    assert_true(get_bool(d, CKA_NEVER_EXTRACTABLE));
    assert_false(get_bool(d, CKA_LOCAL));
    tcore_obj_unref(d);
    tcore_obj_unref(o);
}

static void test_unwrap_forbids_value(void **state)
{
    tc_env *e = *state;
    tcore_keymat m = {.secret = aes16, .secret_len = 16};
    CK_ATTRIBUTE t[] = {{CKA_VALUE, (void *)aes16, 16}};
    tcore_obj *o;
    assert_int_equal(new_obj(e, TCORE_ORIGIN_UNWRAP, CKO_SECRET_KEY, CKK_AES, t, N(t), &m,
                             CKM_AES_KEY_WRAP, NULL, &o),
                     CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_VALUE);
}

static void test_new_origin_errors(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = NULL;
    tcrypto_pkey *ec = NULL, *ecpub = NULL;
    CK_ULONG vl = 16;
    CK_ATTRIBUTE t[] = {ATTR(CKA_VALUE_LEN, &vl)};
    /* no material */
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_AES, t, 1, NULL,
                             CKM_AES_KEY_GEN, NULL, &o),
                     CKR_ARGUMENTS_BAD);
    /* a class/key type pair that does not exist */
    tcore_keymat m = {.secret = aes16, .secret_len = 16};
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_SECRET_KEY, CKK_RSA, t, 1, &m,
                             CKM_AES_KEY_GEN, NULL, &o),
                     CKR_ARGUMENTS_BAD);
    /* material of the wrong key type */
    assert_int_equal(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &ec), TCRYPTO_OK);
    tcore_keymat km = {.pkey = ec};
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_PRIVATE_KEY, CKK_RSA, NULL, 0, &km,
                             CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, &o),
                     CKR_TEMPLATE_INCONSISTENT);
    /* a private object from a public-only key */
    assert_int_equal(tcrypto_pkey_public(ec, &ecpub), TCRYPTO_OK);
    tcore_keymat kp = {.pkey = ecpub};
    assert_int_equal(new_obj(e, TCORE_ORIGIN_UNWRAP, CKO_PRIVATE_KEY, CKK_EC, NULL, 0, &kp,
                             CKM_AES_KEY_WRAP_PAD, NULL, &o),
                     CKR_ARGUMENTS_BAD);
    /* EC params in the template that name another curve */
    size_t plen;
    const uint8_t *p384 = tcrypto_ec_params_der(TCRYPTO_KEY_EC, TCRYPTO_CURVE_P384, &plen);
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p384, plen}};
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_EC, pt, 1, &km,
                             CKM_EC_KEY_PAIR_GEN, NULL, &o),
                     CKR_TEMPLATE_INCONSISTENT);
    assert_null(o);
    assert_bad_entry(env_err, CKR_TEMPLATE_INCONSISTENT, 0, CKA_EC_PARAMS);
    /* the right ones work, and the public half has a DER OCTET STRING point */
    size_t p256len;
    const uint8_t *p256 = tcrypto_ec_params_der(TCRYPTO_KEY_EC, TCRYPTO_CURVE_P256, &p256len);
    CK_ATTRIBUTE pt2[] = {{CKA_EC_PARAMS, (void *)p256, p256len}};
    assert_int_equal(new_obj(e, TCORE_ORIGIN_GENERATE, CKO_PUBLIC_KEY, CKK_EC, pt2, 1, &km,
                             CKM_EC_KEY_PAIR_GEN, NULL, &o),
                     CKR_OK);
    uint8_t buf[80];
    CK_ULONG len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(o, CKA_EC_POINT, buf, &len), CKR_OK);
    assert_int_equal(len, 67);
    assert_int_equal(buf[0], 0x04);
    assert_int_equal(buf[1], 65);
    assert_int_equal(buf[2], 0x04);
    /* wrong accessor for the class */
    uint8_t *sk = NULL;
    size_t skl;
    assert_int_equal(tcore_obj_secret(o, &sk, &skl), CKR_KEY_TYPE_INCONSISTENT);
    tcore_obj_unref(o);
    o = aes_obj(e, true, false);
    tcrypto_pkey *pk = NULL;
    assert_int_equal(tcore_obj_pkey(o, &pk), CKR_KEY_TYPE_INCONSISTENT);
    tcore_obj_unref(o);
    tcrypto_pkey_free(ecpub);
    tcrypto_pkey_free(ec);
}

static void test_create_misc_values(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = NULL;
    /* CKA_ALLOWED_MECHANISMS must be a whole number of mechanism types */
    uint8_t three[3] = {1, 2, 3};
    CK_ATTRIBUTE t1[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                         {CKA_VALUE, (void *)aes16, 16}, {CKA_ALLOWED_MECHANISMS, three, 3}};
    assert_int_equal(create(e, t1, N(t1), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 3, CKA_ALLOWED_MECHANISMS);
    /* a bool that is neither CK_TRUE nor CK_FALSE */
    CK_BBOOL two = 2;
    CK_ATTRIBUTE t2[] = {ATTR(CKA_CLASS, &c_data), {CKA_PRIVATE, &two, 1}};
    assert_int_equal(create(e, t2, N(t2), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 1, CKA_PRIVATE);
    /* a certificate by URL needs no CKA_VALUE (PKCS#11 3.0 §4.6.3) */
    CK_ATTRIBUTE t3[] = {ATTR(CKA_CLASS, &c_cert), ATTR(CKA_CERTIFICATE_TYPE, &x509),
                         ATTR_STR(CKA_SUBJECT, "s"), ATTR_STR(CKA_URL, "http://example.invalid/c")};
    assert_int_equal(create(e, t3, N(t3), &o), CKR_OK);
    tcore_obj_unref(o);
    /* a NULL value with a length */
    CK_ATTRIBUTE t4[] = {ATTR(CKA_CLASS, &c_data), {CKA_LABEL, NULL, 4}};
    assert_int_equal(create(e, t4, N(t4), &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 1, CKA_LABEL);
}

/* ---- reading ---------------------------------------------------------------------- */

static void test_sensitive_rules(void **state)
{
    tc_env *e = *state;
    uint8_t buf[32];
    CK_ULONG len = sizeof(buf);
    tcore_obj *o = aes_obj(e, true, true);
    assert_int_equal(tcore_obj_attr_get(o, CKA_VALUE, buf, &len), CKR_ATTRIBUTE_SENSITIVE);
    tcore_obj_unref(o);
    o = aes_obj(e, false, false);
    len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(o, CKA_VALUE, buf, &len), CKR_ATTRIBUTE_SENSITIVE);
    tcore_obj_unref(o);
    o = aes_obj(e, false, true);
    len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(o, CKA_VALUE, buf, &len), CKR_OK);
    assert_int_equal(len, 16);
    assert_memory_equal(buf, aes16, 16);
    /* a sensitive attribute never matches a search */
    CK_ATTRIBUTE q[] = {{CKA_VALUE, (void *)aes16, 16}};
    assert_false(tcore_obj_match(o, q, 1));
    tcore_obj_unref(o);
}

static void test_get_attrs_template(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false);
    uint8_t small[2], val[32];
    CK_BBOOL sens;
    CK_ATTRIBUTE t[] = {{CKA_SENSITIVE, &sens, sizeof(sens)}, {CKA_VALUE, val, sizeof(val)},
                        {CKA_MODULUS, val, sizeof(val)}};
    assert_int_equal(tcore_obj_get_attrs(o, t, N(t)), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(t[0].ulValueLen, 1);
    assert_int_equal(sens, CK_TRUE);
    assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CK_ATTRIBUTE t2[] = {{CKA_UNIQUE_ID, small, sizeof(small)}};
    assert_int_equal(tcore_obj_get_attrs(o, t2, 1), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(t2[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CK_ATTRIBUTE t3[] = {{CKA_MODULUS, NULL, 0}};
    assert_int_equal(tcore_obj_get_attrs(o, t3, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    tcore_obj_unref(o);
}

/* ---- C_SetAttributeValue ------------------------------------------------------------ */

static void test_set_label_and_sensitive_up(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, false, true);
    CK_ATTRIBUTE t[] = {ATTR_STR(CKA_LABEL, "renamed"), ATTR(CKA_SENSITIVE, &ck_true),
                        ATTR(CKA_EXTRACTABLE, &ck_false)};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, N(t)), CKR_OK);
    assert_true(get_bool(o, CKA_SENSITIVE));
    assert_false(get_bool(o, CKA_EXTRACTABLE));
    /* ALWAYS_SENSITIVE stays false: it was not always sensitive */
    assert_false(get_bool(o, CKA_ALWAYS_SENSITIVE));
    char buf[16];
    CK_ULONG len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(o, CKA_LABEL, buf, &len), CKR_OK);
    assert_int_equal(len, 7);
    tcore_obj_unref(o);
}

static void test_set_sensitive_down_refused(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, true);
    CK_ATTRIBUTE t[] = {ATTR(CKA_SENSITIVE, &ck_false)};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_SENSITIVE);
    assert_true(get_bool(o, CKA_SENSITIVE));
    tcore_obj_unref(o);
}

static void test_set_extractable_up_refused(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false);
    CK_ATTRIBUTE t[] = {ATTR(CKA_EXTRACTABLE, &ck_true)};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_EXTRACTABLE);
    assert_false(get_bool(o, CKA_EXTRACTABLE));
    tcore_obj_unref(o);
}

static void test_set_wrap_with_trusted_down_refused(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false);
    CK_ATTRIBUTE up[] = {ATTR(CKA_WRAP_WITH_TRUSTED, &ck_true)};
    CK_ATTRIBUTE down[] = {ATTR(CKA_WRAP_WITH_TRUSTED, &ck_false)};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), up, 1), CKR_OK);
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), down, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_WRAP_WITH_TRUSTED);
    assert_true(get_bool(o, CKA_WRAP_WITH_TRUSTED));
    tcore_obj_unref(o);
}

static void test_set_trusted_needs_so(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false);
    CK_ATTRIBUTE t[] = {ATTR(CKA_TRUSTED, &ck_true)};
    assert_int_equal(tcore_obj_set_attrs(o, NULL, t, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_TRUSTED);
    assert_false(get_bool(o, CKA_TRUSTED));
    assert_int_equal(tcore_obj_set_attrs(o, as_so(), t, 1), CKR_OK);
    assert_true(get_bool(o, CKA_TRUSTED));
    tcore_obj_unref(o);
}

static void test_set_read_only_attr(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false);
    CK_ATTRIBUTE t1[] = {ATTR(CKA_KEY_TYPE, &k_gen)};
    CK_ATTRIBUTE t2[] = {ATTR_STR(CKA_UNIQUE_ID, "x")};
    CK_ATTRIBUTE t3[] = {ATTR(CKA_LOCAL, &ck_true)};
    CK_ATTRIBUTE t4[] = {{CKA_VALUE, (void *)aes16, 16}};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t1, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_KEY_TYPE);
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t2, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_UNIQUE_ID);
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t3, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_LOCAL);
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t4, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_VALUE);
    tcore_obj_unref(o);
}

static void test_set_type_invalid(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false);
    CK_ATTRIBUTE t[] = {ATTR_STR(CKA_MODULUS, "\x01")};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_TYPE_INVALID, 0, CKA_MODULUS);
    tcore_obj_unref(o);
}

static void test_set_value_invalid(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false);
    CK_ULONG v = 1;
    CK_ATTRIBUTE t[] = {{CKA_SIGN, &v, sizeof(v)}};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_VALUE_INVALID, 0, CKA_SIGN);
    tcore_obj_unref(o);
}

static void test_set_all_or_nothing(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false);
    CK_ATTRIBUTE t[] = {ATTR(CKA_ENCRYPT, &ck_false), ATTR(CKA_KEY_TYPE, &k_gen)};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, N(t)), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 1, CKA_KEY_TYPE);
    assert_true(get_bool(o, CKA_ENCRYPT));
    tcore_obj_unref(o);
}

static void test_not_modifiable(void **state)
{
    tc_env *e = *state;
    CK_ATTRIBUTE c[] = {ATTR(CKA_CLASS, &c_data), ATTR(CKA_MODIFIABLE, &ck_false)};
    tcore_obj *o = must_create(e, c, N(c));
    CK_ATTRIBUTE t[] = {ATTR_STR(CKA_LABEL, "nope")};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, 1), CKR_ACTION_PROHIBITED);
    tcore_obj_unref(o);
}

/* ---- copy / destroy ----------------------------------------------------------------- */

static void test_copy(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = aes_obj(e, true, false), *c = NULL;
    CK_ATTRIBUTE t[] = {ATTR_STR(CKA_LABEL, "copy"), ATTR(CKA_MODIFIABLE, &ck_false)};
    assert_int_equal(tcore_obj_copy(o, as_user(), t, N(t), &c), CKR_OK);
    assert_false(get_bool(c, CKA_MODIFIABLE));
    uint8_t *k = NULL;
    size_t kl = 0;
    assert_int_equal(tcore_obj_secret(c, &k, &kl), CKR_OK);
    assert_memory_equal(k, aes16, 16);
    tcrypto_secure_free(k, kl);
    char u1[64], u2[64];
    CK_ULONG l1 = sizeof(u1), l2 = sizeof(u2);
    assert_int_equal(tcore_obj_attr_get(o, CKA_UNIQUE_ID, u1, &l1), CKR_OK);
    assert_int_equal(tcore_obj_attr_get(c, CKA_UNIQUE_ID, u2, &l2), CKR_OK);
    assert_false(l1 == l2 && memcmp(u1, u2, l1) == 0);
    /* a copy cannot turn MODIFIABLE back on */
    tcore_obj *c2 = NULL;
    CK_ATTRIBUTE t2[] = {ATTR(CKA_MODIFIABLE, &ck_true)};
    assert_int_equal(tcore_obj_copy(c, as_user(), t2, 1, &c2), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_MODIFIABLE);
    /* nor SENSITIVE off */
    CK_ATTRIBUTE t3[] = {ATTR(CKA_SENSITIVE, &ck_false)};
    assert_int_equal(tcore_obj_copy(o, as_user(), t3, 1, &c2), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_SENSITIVE);
    /* read-only attributes are read-only in copies too */
    CK_ATTRIBUTE t4[] = {ATTR(CKA_KEY_TYPE, &k_gen)};
    assert_int_equal(tcore_obj_copy(o, as_user(), t4, 1, &c2), CKR_ATTRIBUTE_READ_ONLY);
    assert_bad_entry(env_err, CKR_ATTRIBUTE_READ_ONLY, 0, CKA_KEY_TYPE);
    tcore_obj_unref(c);
    tcore_obj_unref(o);
}

static void test_copy_not_copyable(void **state)
{
    tc_env *e = *state;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data), ATTR(CKA_COPYABLE, &ck_false)};
    tcore_obj *o = must_create(e, t, N(t)), *c = NULL;
    assert_int_equal(tcore_obj_copy(o, as_user(), NULL, 0, &c), CKR_ACTION_PROHIBITED);
    assert_null(c);
    tcore_obj_unref(o);
}

static void test_destroy_rules(void **state)
{
    tc_env *e = *state;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data), ATTR(CKA_DESTROYABLE, &ck_false)};
    tcore_obj *o = must_create(e, t, N(t));
    assert_int_equal(tcore_obj_destroy(o), CKR_ACTION_PROHIBITED);
    tcore_obj_unref(o);
    o = aes_obj(e, true, false);
    assert_int_equal(tcore_obj_destroy(o), CKR_OK);
    uint8_t *k = NULL;
    size_t kl;
    assert_int_equal(tcore_obj_secret(o, &k, &kl), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_obj_destroy(o), CKR_OBJECT_HANDLE_INVALID);
    tcore_obj_unref(o);
}

/* ---- usage checks -------------------------------------------------------------------- */

static void test_check_use(void **state)
{
    tc_env *e = *state;
    CK_MECHANISM_TYPE allowed[] = {CKM_AES_GCM};
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                        {CKA_VALUE, (void *)aes16, 16}, ATTR(CKA_SIGN, &ck_false),
                        {CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)}};
    tcore_obj *o = must_create(e, t, N(t));
    assert_int_equal(tcore_obj_check_use(o, CKM_AES_GCM, CKA_ENCRYPT), CKR_OK);
    assert_int_equal(tcore_obj_check_use(o, CKM_AES_CBC, CKA_ENCRYPT), CKR_MECHANISM_INVALID);
    assert_int_equal(tcore_obj_check_use(o, CKM_AES_GCM, CKA_SIGN), CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* an end date in the past */
    CK_ATTRIBUTE d[] = {ATTR_STR(CKA_END_DATE, "20000101")};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), d, 1), CKR_OK);
    assert_int_equal(tcore_obj_check_use(o, CKM_AES_GCM, CKA_ENCRYPT), CKR_KEY_FUNCTION_NOT_PERMITTED);
    CK_ATTRIBUTE d2[] = {ATTR_STR(CKA_END_DATE, "99991231"), ATTR_STR(CKA_START_DATE, "99990101")};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), d2, 2), CKR_OK);
    assert_int_equal(tcore_obj_check_use(o, CKM_AES_GCM, CKA_ENCRYPT), CKR_KEY_FUNCTION_NOT_PERMITTED);
    tcore_obj_unref(o);
    /* a data object is no key */
    CK_ATTRIBUTE dt[] = {ATTR(CKA_CLASS, &c_data)};
    o = must_create(e, dt, 1);
    assert_int_equal(tcore_obj_check_use(o, CKM_AES_GCM, CKA_ENCRYPT), CKR_KEY_TYPE_INCONSISTENT);
    tcore_obj_unref(o);
}

#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_create_data),
        T(test_create_certificate),
        T(test_create_cert_missing_subject),
        T(test_create_cert_wrong_type),
        T(test_create_trusted_needs_so),
        T(test_create_missing_class),
        T(test_create_bad_class),
        T(test_create_missing_key_type),
        T(test_create_key_type_wrong_for_class),
        T(test_create_attr_invalid_for_class),
        T(test_create_bad_bool_length),
        T(test_create_bad_date),
        T(test_create_forbidden_local),
        T(test_create_forbidden_value_len),
        T(test_create_forbidden_unique_id),
        T(test_create_inconsistent_duplicates),
        T(test_create_aes_bad_length),
        T(test_create_secret_missing_value),
        T(test_create_secret_keys),
        T(test_check_value),
        T(test_create_rsa_pair),
        T(test_create_rsa_extractable_reveals_parts),
        T(test_create_rsa_missing_modulus),
        T(test_create_rsa_modulus_bits_forbidden),
        T(test_create_rsa_garbage_modulus),
        T(test_create_ec_keys),
        T(test_create_ec_bad_params),
        T(test_create_spki_mismatch),
        T(test_create_edwards_montgomery),
        T(test_generate_keypair_attrs),
        T(test_generate_modulus_forbidden),
        T(test_generate_bits_missing),
        T(test_generate_bits_mismatch),
        T(test_generate_class_mismatch),
        T(test_generate_secret),
        T(test_unwrap_forbids_value),
        T(test_new_origin_errors),
        T(test_create_misc_values),
        T(test_sensitive_rules),
        T(test_get_attrs_template),
        T(test_set_label_and_sensitive_up),
        T(test_set_sensitive_down_refused),
        T(test_set_extractable_up_refused),
        T(test_set_wrap_with_trusted_down_refused),
        T(test_set_trusted_needs_so),
        T(test_set_read_only_attr),
        T(test_set_type_invalid),
        T(test_set_value_invalid),
        T(test_set_all_or_nothing),
        T(test_not_modifiable),
        T(test_copy),
        T(test_copy_not_copyable),
        T(test_destroy_rules),
        T(test_check_use),
    };
    return cmocka_run_group_tests(tests, rsa_group_setup, rsa_group_teardown);
}
