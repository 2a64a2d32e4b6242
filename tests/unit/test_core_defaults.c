/*
 * Usage-flag defaults (PKCS#11 3.0 §4.7-4.10 leave them to the token): a
 * flag the template does not give is true only when the key type can be used
 * for it here, for keys generated, created, derived and unwrapped alike. An
 * explicit template value always wins, even one the key type cannot use
 * (mechanisms refuse it at use).
 */
#include "test_core_util.h"

#include "core/core_int.h"

#define N(t) TC_ARRAY_LEN(t)

/* One bit per usage attribute, to state a key's expected flags compactly. */
enum {
    F_ENC = 1u << 0,
    F_DEC = 1u << 1,
    F_SIGN = 1u << 2,
    F_VER = 1u << 3,
    F_WRAP = 1u << 4,
    F_UNWRAP = 1u << 5,
    F_DERIVE = 1u << 6,
    F_SREC = 1u << 7,
    F_VREC = 1u << 8,
};

static const struct {
    CK_ATTRIBUTE_TYPE type;
    unsigned bit;
} usage_attrs[] = {
    {CKA_ENCRYPT, F_ENC},   {CKA_DECRYPT, F_DEC},         {CKA_SIGN, F_SIGN},
    {CKA_VERIFY, F_VER},    {CKA_WRAP, F_WRAP},           {CKA_UNWRAP, F_UNWRAP},
    {CKA_DERIVE, F_DERIVE}, {CKA_SIGN_RECOVER, F_SREC},   {CKA_VERIFY_RECOVER, F_VREC},
};

static CK_OBJECT_CLASS c_pub = CKO_PUBLIC_KEY, c_priv = CKO_PRIVATE_KEY, c_sec = CKO_SECRET_KEY;
static CK_KEY_TYPE k_rsa = CKK_RSA, k_ec = CKK_EC, k_ed = CKK_EC_EDWARDS, k_x = CKK_EC_MONTGOMERY,
                   k_aes = CKK_AES, k_gen = CKK_GENERIC_SECRET, k_hkdf = CKK_HKDF;
static const uint8_t key16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Every usage attribute the object's class has must be present with the
 * expected value; the others must be absent (CKR_ATTRIBUTE_TYPE_INVALID). */
static void expect_usage(tcore_obj *o, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, unsigned want)
{
    for (size_t i = 0; i < N(usage_attrs); i++) {
        CK_BBOOL b = 0xAA;
        CK_ULONG len = sizeof(b);
        CK_RV rv = tcore_obj_attr_get(o, usage_attrs[i].type, &b, &len);
        if (tcore_attr_rule_for(cls, kt, usage_attrs[i].type) == NULL) {
            assert_int_equal(rv, CKR_ATTRIBUTE_TYPE_INVALID);
            assert_int_equal(want & usage_attrs[i].bit, 0);
            continue;
        }
        assert_int_equal(rv, CKR_OK);
        assert_int_equal(len, sizeof(CK_BBOOL));
        if (b != ((want & usage_attrs[i].bit) ? CK_TRUE : CK_FALSE)) {
            fail_msg("class %lu key type %lu attribute 0x%lx: got %u", (unsigned long)cls,
                     (unsigned long)kt, (unsigned long)usage_attrs[i].type, (unsigned)b);
        }
    }
}

static uint8_t *part(const tcrypto_pkey *k, tcrypto_part p, size_t *len)
{
    *len = 0;
    assert_int_equal(tcrypto_pkey_get_part(k, p, NULL, len), TCRYPTO_OK);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    assert_int_equal(tcrypto_pkey_get_part(k, p, b, len), TCRYPTO_OK);
    return b;
}

/* Objects are made for a caller logged in as the normal user (as_user). */
static tcore_obj *create(tc_env *e, CK_ATTRIBUTE *t, CK_ULONG n)
{
    tcore_obj *o = NULL;
    assert_int_equal(
        tcore_obj_new(e->t, as_user(), TCORE_ORIGIN_CREATE, 0, 0, t, n, NULL, 0, NULL, &o), CKR_OK);
    assert_non_null(o);
    return o;
}

static tcore_obj *generate(tc_env *e, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, CK_ATTRIBUTE *t,
                           CK_ULONG n, const tcore_keymat *m, CK_MECHANISM_TYPE mech)
{
    tcore_obj *o = NULL;
    assert_int_equal(
        tcore_obj_new(e->t, as_user(), TCORE_ORIGIN_GENERATE, cls, kt, t, n, m, mech, NULL, &o),
        CKR_OK);
    assert_non_null(o);
    return o;
}

static tcrypto_pkey *rsa_key;

static int group_setup(void **state)
{
    (void)state;
    if (tcrypto_init() != TCRYPTO_OK || tcrypto_rsa_generate(2048, NULL, 0, &rsa_key) != TCRYPTO_OK) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tcrypto_pkey_free(rsa_key);
    return 0;
}

#define RSA_PRIV (F_SIGN | F_DEC | F_UNWRAP)
#define RSA_PUB (F_VER | F_ENC | F_WRAP)
#define EC_PRIV (F_SIGN | F_DERIVE)
#define EC_PUB F_VER
#define ED_PRIV F_SIGN
#define ED_PUB F_VER
#define X_PRIV F_DERIVE
#define X_PUB 0u
#define AES_DFL (F_ENC | F_DEC | F_WRAP | F_UNWRAP | F_SIGN | F_VER)
#define GEN_DFL (F_SIGN | F_VER | F_DERIVE)
#define HKDF_DFL F_DERIVE

/* ---- the table itself --------------------------------------------------- */

static void test_usage_default_table(void **state)
{
    (void)state;
    assert_true(tcore_attr_usage_default(CKO_PRIVATE_KEY, CKK_RSA, CKA_SIGN));
    assert_true(tcore_attr_usage_default(CKO_SECRET_KEY, CKK_DES3, CKA_ENCRYPT));
    assert_false(tcore_attr_usage_default(CKO_PRIVATE_KEY, CKK_RSA, CKA_SIGN_RECOVER));
    assert_false(tcore_attr_usage_default(CKO_PUBLIC_KEY, CKK_RSA, CKA_VERIFY_RECOVER));
    assert_false(tcore_attr_usage_default(CKO_PRIVATE_KEY, CKK_EC, CKA_DECRYPT));
    assert_false(tcore_attr_usage_default(CKO_PUBLIC_KEY, CKK_EC, CKA_DERIVE));
    assert_false(tcore_attr_usage_default(CKO_PRIVATE_KEY, CKK_EC_EDWARDS, CKA_DERIVE));
    assert_false(tcore_attr_usage_default(CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY, CKA_SIGN));
    assert_false(tcore_attr_usage_default(CKO_SECRET_KEY, CKK_AES, CKA_DERIVE));
    assert_false(tcore_attr_usage_default(CKO_SECRET_KEY, CKK_HKDF, CKA_SIGN));
    /* not a usage attribute, not a key, unknown key type: nothing is on */
    assert_false(tcore_attr_usage_default(CKO_SECRET_KEY, CKK_AES, CKA_SENSITIVE));
    assert_false(tcore_attr_usage_default(CKO_DATA, CK_UNAVAILABLE_INFORMATION, CKA_SIGN));
    assert_false(tcore_attr_usage_default(CKO_CERTIFICATE, CKK_RSA, CKA_VERIFY));
    assert_false(tcore_attr_usage_default(CKO_SECRET_KEY, CKK_BLOWFISH, CKA_ENCRYPT));
    assert_false(tcore_attr_usage_default(CKO_PRIVATE_KEY, CKK_DSA, CKA_SIGN));
    assert_false(tcore_attr_usage_default(CKO_PUBLIC_KEY, CKK_EC_MONTGOMERY, CKA_VERIFY));
}

/* ---- generated keys ----------------------------------------------------- */

static void test_generated_rsa(void **state)
{
    tc_env *e = *state;
    CK_ULONG bits = 2048;
    tcore_keymat m = {.pkey = rsa_key};
    CK_ATTRIBUTE pt[] = {ATTR(CKA_MODULUS_BITS, &bits)};
    tcore_obj *pub = generate(e, CKO_PUBLIC_KEY, CKK_RSA, pt, N(pt), &m, CKM_RSA_PKCS_KEY_PAIR_GEN);
    tcore_obj *priv = generate(e, CKO_PRIVATE_KEY, CKK_RSA, NULL, 0, &m, CKM_RSA_PKCS_KEY_PAIR_GEN);
    expect_usage(pub, CKO_PUBLIC_KEY, CKK_RSA, RSA_PUB);
    expect_usage(priv, CKO_PRIVATE_KEY, CKK_RSA, RSA_PRIV);
    tcore_obj_unref(pub);
    tcore_obj_unref(priv);
}

static void generated_pair(tc_env *e, tcrypto_key_type type, tcrypto_curve curve, CK_KEY_TYPE kt,
                           CK_MECHANISM_TYPE mech, unsigned want_pub, unsigned want_priv)
{
    tcrypto_pkey *k = NULL;
    size_t plen;
    if (type == TCRYPTO_KEY_EC) {
        assert_int_equal(tcrypto_ec_generate(curve, &k), TCRYPTO_OK);
    } else {
        assert_int_equal(tcrypto_raw_generate(type, &k), TCRYPTO_OK);
    }
    const uint8_t *params = tcrypto_ec_params_der(type, curve, &plen);
    assert_non_null(params);
    tcore_keymat m = {.pkey = k};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)params, plen}};
    tcore_obj *pub = generate(e, CKO_PUBLIC_KEY, kt, pt, N(pt), &m, mech);
    tcore_obj *priv = generate(e, CKO_PRIVATE_KEY, kt, NULL, 0, &m, mech);
    expect_usage(pub, CKO_PUBLIC_KEY, kt, want_pub);
    expect_usage(priv, CKO_PRIVATE_KEY, kt, want_priv);
    tcore_obj_unref(pub);
    tcore_obj_unref(priv);
    tcrypto_pkey_free(k);
}

static void test_generated_ec(void **state)
{
    generated_pair(*state, TCRYPTO_KEY_EC, TCRYPTO_CURVE_P256, CKK_EC, CKM_EC_KEY_PAIR_GEN, EC_PUB,
                   EC_PRIV);
}

static void test_generated_ed25519(void **state)
{
    generated_pair(*state, TCRYPTO_KEY_ED25519, TCRYPTO_CURVE_NONE, CKK_EC_EDWARDS,
                   CKM_EC_EDWARDS_KEY_PAIR_GEN, ED_PUB, ED_PRIV);
}

static void test_generated_x25519(void **state)
{
    generated_pair(*state, TCRYPTO_KEY_X25519, TCRYPTO_CURVE_NONE, CKK_EC_MONTGOMERY,
                   CKM_EC_MONTGOMERY_KEY_PAIR_GEN, X_PUB, X_PRIV);
}

static void generated_secret(tc_env *e, CK_KEY_TYPE kt, CK_MECHANISM_TYPE mech, unsigned want)
{
    CK_ULONG vl = sizeof(key16);
    tcore_keymat m = {.secret = key16, .secret_len = sizeof(key16)};
    CK_ATTRIBUTE t[] = {ATTR(CKA_VALUE_LEN, &vl)};
    tcore_obj *o = generate(e, CKO_SECRET_KEY, kt, t, N(t), &m, mech);
    expect_usage(o, CKO_SECRET_KEY, kt, want);
    tcore_obj_unref(o);
}

static void test_generated_aes(void **state)
{
    generated_secret(*state, CKK_AES, CKM_AES_KEY_GEN, AES_DFL);
}

static void test_generated_generic_secret(void **state)
{
    generated_secret(*state, CKK_GENERIC_SECRET, CKM_GENERIC_SECRET_KEY_GEN, GEN_DFL);
}

static void test_generated_hkdf(void **state)
{
    generated_secret(*state, CKK_HKDF, CKM_HKDF_KEY_GEN, HKDF_DFL);
}

/* ---- created keys (C_CreateObject) --------------------------------------- */

static void test_created_rsa(void **state)
{
    tc_env *e = *state;
    size_t nl, el, dl;
    uint8_t *n = part(rsa_key, TCRYPTO_PART_RSA_N, &nl), *ex = part(rsa_key, TCRYPTO_PART_RSA_E, &el),
            *d = part(rsa_key, TCRYPTO_PART_RSA_D, &dl);
    CK_ATTRIBUTE pt[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_rsa), {CKA_MODULUS, n, nl},
                         {CKA_PUBLIC_EXPONENT, ex, el}};
    CK_ATTRIBUTE kt[] = {ATTR(CKA_CLASS, &c_priv), ATTR(CKA_KEY_TYPE, &k_rsa), {CKA_MODULUS, n, nl},
                         {CKA_PUBLIC_EXPONENT, ex, el}, {CKA_PRIVATE_EXPONENT, d, dl}};
    tcore_obj *pub = create(e, pt, N(pt));
    tcore_obj *priv = create(e, kt, N(kt));
    expect_usage(pub, CKO_PUBLIC_KEY, CKK_RSA, RSA_PUB);
    expect_usage(priv, CKO_PRIVATE_KEY, CKK_RSA, RSA_PRIV);
    tcore_obj_unref(pub);
    tcore_obj_unref(priv);
    free(n), free(ex), free(d);
}

static void created_pair(tc_env *e, tcrypto_key_type type, tcrypto_curve curve, CK_KEY_TYPE *kt,
                         unsigned want_pub, unsigned want_priv)
{
    tcrypto_pkey *k = NULL;
    size_t pl, sl, plen;
    if (type == TCRYPTO_KEY_EC) {
        assert_int_equal(tcrypto_ec_generate(curve, &k), TCRYPTO_OK);
    } else {
        assert_int_equal(tcrypto_raw_generate(type, &k), TCRYPTO_OK);
    }
    uint8_t *pt = part(k, TCRYPTO_PART_EC_POINT, &pl), *sc = part(k, TCRYPTO_PART_EC_PRIV, &sl);
    const uint8_t *params = tcrypto_ec_params_der(type, curve, &plen);
    assert_non_null(params);
    CK_ATTRIBUTE tp[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, kt),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_EC_POINT, pt, pl}};
    CK_ATTRIBUTE tk[] = {ATTR(CKA_CLASS, &c_priv), ATTR(CKA_KEY_TYPE, kt),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_VALUE, sc, sl}};
    tcore_obj *pub = create(e, tp, N(tp));
    tcore_obj *priv = create(e, tk, N(tk));
    expect_usage(pub, CKO_PUBLIC_KEY, *kt, want_pub);
    expect_usage(priv, CKO_PRIVATE_KEY, *kt, want_priv);
    tcore_obj_unref(pub);
    tcore_obj_unref(priv);
    tcrypto_pkey_free(k);
    free(pt), free(sc);
}

static void test_created_ec(void **state)
{
    created_pair(*state, TCRYPTO_KEY_EC, TCRYPTO_CURVE_P256, &k_ec, EC_PUB, EC_PRIV);
}

static void test_created_ed25519(void **state)
{
    created_pair(*state, TCRYPTO_KEY_ED25519, TCRYPTO_CURVE_NONE, &k_ed, ED_PUB, ED_PRIV);
}

static void test_created_x25519(void **state)
{
    created_pair(*state, TCRYPTO_KEY_X25519, TCRYPTO_CURVE_NONE, &k_x, X_PUB, X_PRIV);
}

static void created_secret(tc_env *e, CK_KEY_TYPE *kt, unsigned want)
{
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, kt),
                        {CKA_VALUE, (void *)key16, sizeof(key16)}};
    tcore_obj *o = create(e, t, N(t));
    expect_usage(o, CKO_SECRET_KEY, *kt, want);
    tcore_obj_unref(o);
}

static void test_created_aes(void **state)
{
    created_secret(*state, &k_aes, AES_DFL);
}

static void test_created_generic_secret(void **state)
{
    created_secret(*state, &k_gen, GEN_DFL);
}

static void test_created_hkdf(void **state)
{
    created_secret(*state, &k_hkdf, HKDF_DFL);
}

/* ---- derived and unwrapped keys get the same defaults --------------------- */

static void test_derived_and_unwrapped(void **state)
{
    tc_env *e = *state;
    CK_ULONG vl = sizeof(key16);
    tcore_keymat m = {.secret = key16, .secret_len = sizeof(key16)};
    CK_ATTRIBUTE gt[] = {ATTR(CKA_VALUE_LEN, &vl)};
    tcore_obj *base = generate(e, CKO_SECRET_KEY, CKK_GENERIC_SECRET, gt, N(gt), &m,
                               CKM_GENERIC_SECRET_KEY_GEN);
    tcore_obj *d = NULL;
    assert_int_equal(tcore_obj_new(e->t, as_user(), TCORE_ORIGIN_DERIVE, CKO_SECRET_KEY, CKK_AES,
                                   NULL, 0, &m, CKM_HKDF_DERIVE, base, &d),
                     CKR_OK);
    expect_usage(d, CKO_SECRET_KEY, CKK_AES, AES_DFL);
    tcore_obj_unref(d);
    d = NULL;
    assert_int_equal(tcore_obj_new(e->t, as_user(), TCORE_ORIGIN_DERIVE, CKO_SECRET_KEY,
                                   CKK_GENERIC_SECRET, NULL, 0, &m, CKM_ECDH1_DERIVE, base, &d),
                     CKR_OK);
    expect_usage(d, CKO_SECRET_KEY, CKK_GENERIC_SECRET, GEN_DFL);
    tcore_obj_unref(d);
    tcore_obj_unref(base);

    /* an unwrapped Ed25519 private key: sign only, no decrypt/unwrap */
    tcrypto_pkey *k = NULL;
    assert_int_equal(tcrypto_raw_generate(TCRYPTO_KEY_ED25519, &k), TCRYPTO_OK);
    tcore_keymat km = {.pkey = k};
    tcore_obj *u = NULL;
    assert_int_equal(tcore_obj_new(e->t, as_user(), TCORE_ORIGIN_UNWRAP, CKO_PRIVATE_KEY,
                                   CKK_EC_EDWARDS, NULL, 0, &km, CKM_AES_KEY_WRAP_PAD, NULL, &u),
                     CKR_OK);
    expect_usage(u, CKO_PRIVATE_KEY, CKK_EC_EDWARDS, ED_PRIV);
    tcore_obj_unref(u);
    tcrypto_pkey_free(k);
}

/* ---- the defaults decide tcore_obj_check_use ------------------------------ */

static void test_defaults_drive_check_use(void **state)
{
    tc_env *e = *state;
    tcrypto_pkey *k = NULL;
    size_t plen;
    assert_int_equal(tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k), TCRYPTO_OK);
    const uint8_t *params = tcrypto_ec_params_der(TCRYPTO_KEY_EC, TCRYPTO_CURVE_P256, &plen);
    tcore_keymat m = {.pkey = k};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)params, plen}};
    tcore_obj *pub = generate(e, CKO_PUBLIC_KEY, CKK_EC, pt, N(pt), &m, CKM_EC_KEY_PAIR_GEN);
    tcore_obj *priv = generate(e, CKO_PRIVATE_KEY, CKK_EC, NULL, 0, &m, CKM_EC_KEY_PAIR_GEN);
    assert_int_equal(tcore_obj_check_use(priv, CKM_ECDSA, CKA_SIGN), CKR_OK);
    assert_int_equal(tcore_obj_check_use(priv, CKM_ECDH1_DERIVE, CKA_DERIVE), CKR_OK);
    assert_int_equal(tcore_obj_check_use(pub, CKM_ECDSA, CKA_VERIFY), CKR_OK);
    /* what an EC key cannot do is off unless asked for */
    assert_int_equal(tcore_obj_check_use(priv, CKM_RSA_PKCS, CKA_DECRYPT),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(tcore_obj_check_use(priv, CKM_AES_KEY_WRAP_PAD, CKA_UNWRAP),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(tcore_obj_check_use(pub, CKM_RSA_PKCS, CKA_ENCRYPT),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(tcore_obj_check_use(pub, CKM_AES_KEY_WRAP_PAD, CKA_WRAP),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    tcore_obj_unref(pub);
    tcore_obj_unref(priv);
    tcrypto_pkey_free(k);

    /* an AES key does not derive by default */
    CK_ATTRIBUTE at[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                         {CKA_VALUE, (void *)key16, sizeof(key16)}};
    tcore_obj *aes = create(e, at, N(at));
    assert_int_equal(tcore_obj_check_use(aes, CKM_AES_CMAC, CKA_SIGN), CKR_OK);
    assert_int_equal(tcore_obj_check_use(aes, CKM_AES_ECB_ENCRYPT_DATA, CKA_DERIVE),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    tcore_obj_unref(aes);
}

/* ---- explicit template values win ----------------------------------------- */

static void test_explicit_values_win_created(void **state)
{
    tc_env *e = *state;
    /* default-true flags turned off, default-false flags turned on */
    CK_ATTRIBUTE at[] = {ATTR(CKA_CLASS, &c_sec),        ATTR(CKA_KEY_TYPE, &k_aes),
                         {CKA_VALUE, (void *)key16, 16}, ATTR(CKA_ENCRYPT, &ck_false),
                         ATTR(CKA_WRAP, &ck_false),      ATTR(CKA_DERIVE, &ck_true)};
    tcore_obj *o = create(e, at, N(at));
    expect_usage(o, CKO_SECRET_KEY, CKK_AES, (AES_DFL & ~(unsigned)(F_ENC | F_WRAP)) | F_DERIVE);
    tcore_obj_unref(o);

    CK_ATTRIBUTE ht[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_hkdf),
                         {CKA_VALUE, (void *)key16, 16}, ATTR(CKA_SIGN, &ck_true),
                         ATTR(CKA_DERIVE, &ck_false)};
    o = create(e, ht, N(ht));
    expect_usage(o, CKO_SECRET_KEY, CKK_HKDF, F_SIGN);
    tcore_obj_unref(o);

    /* an X25519 private key told it may sign keeps the flag (the mechanism
     * refuses the key type at use) */
    tcrypto_pkey *k = NULL;
    size_t pl, sl, plen;
    assert_int_equal(tcrypto_raw_generate(TCRYPTO_KEY_X25519, &k), TCRYPTO_OK);
    uint8_t *pt = part(k, TCRYPTO_PART_EC_POINT, &pl), *sc = part(k, TCRYPTO_PART_EC_PRIV, &sl);
    const uint8_t *params = tcrypto_ec_params_der(TCRYPTO_KEY_X25519, TCRYPTO_CURVE_NONE, &plen);
    CK_ATTRIBUTE xk[] = {ATTR(CKA_CLASS, &c_priv), ATTR(CKA_KEY_TYPE, &k_x),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_VALUE, sc, sl},
                         ATTR(CKA_SIGN, &ck_true), ATTR(CKA_DERIVE, &ck_false),
                         ATTR(CKA_SIGN_RECOVER, &ck_true)};
    o = create(e, xk, N(xk));
    expect_usage(o, CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY, F_SIGN | F_SREC);
    assert_int_equal(tcore_obj_check_use(o, CKM_ECDH1_DERIVE, CKA_DERIVE),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    tcore_obj_unref(o);
    CK_ATTRIBUTE xp[] = {ATTR(CKA_CLASS, &c_pub), ATTR(CKA_KEY_TYPE, &k_x),
                         {CKA_EC_PARAMS, (void *)params, plen}, {CKA_EC_POINT, pt, pl},
                         ATTR(CKA_VERIFY, &ck_true), ATTR(CKA_ENCRYPT, &ck_true)};
    o = create(e, xp, N(xp));
    expect_usage(o, CKO_PUBLIC_KEY, CKK_EC_MONTGOMERY, F_VER | F_ENC);
    tcore_obj_unref(o);
    tcrypto_pkey_free(k);
    free(pt), free(sc);
}

static void test_explicit_values_win_generated(void **state)
{
    tc_env *e = *state;
    tcrypto_pkey *k = NULL;
    size_t plen;
    assert_int_equal(tcrypto_raw_generate(TCRYPTO_KEY_ED25519, &k), TCRYPTO_OK);
    const uint8_t *params = tcrypto_ec_params_der(TCRYPTO_KEY_ED25519, TCRYPTO_CURVE_NONE, &plen);
    tcore_keymat m = {.pkey = k};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)params, plen}, ATTR(CKA_VERIFY, &ck_false),
                         ATTR(CKA_WRAP, &ck_true), ATTR(CKA_DERIVE, &ck_true)};
    CK_ATTRIBUTE kt[] = {ATTR(CKA_DECRYPT, &ck_true), ATTR(CKA_UNWRAP, &ck_true),
                         ATTR(CKA_DERIVE, &ck_true), ATTR(CKA_SIGN, &ck_false)};
    tcore_obj *pub = generate(e, CKO_PUBLIC_KEY, CKK_EC_EDWARDS, pt, N(pt), &m,
                              CKM_EC_EDWARDS_KEY_PAIR_GEN);
    tcore_obj *priv = generate(e, CKO_PRIVATE_KEY, CKK_EC_EDWARDS, kt, N(kt), &m,
                               CKM_EC_EDWARDS_KEY_PAIR_GEN);
    expect_usage(pub, CKO_PUBLIC_KEY, CKK_EC_EDWARDS, F_WRAP | F_DERIVE);
    expect_usage(priv, CKO_PRIVATE_KEY, CKK_EC_EDWARDS, F_DEC | F_UNWRAP | F_DERIVE);
    assert_int_equal(tcore_obj_check_use(priv, CKM_EDDSA, CKA_SIGN), CKR_KEY_FUNCTION_NOT_PERMITTED);
    tcore_obj_unref(pub);
    tcore_obj_unref(priv);
    tcrypto_pkey_free(k);

    CK_ULONG vl = sizeof(key16);
    tcore_keymat sm = {.secret = key16, .secret_len = sizeof(key16)};
    CK_ATTRIBUTE st[] = {ATTR(CKA_VALUE_LEN, &vl), ATTR(CKA_DERIVE, &ck_false),
                         ATTR(CKA_ENCRYPT, &ck_true)};
    tcore_obj *o = generate(e, CKO_SECRET_KEY, CKK_GENERIC_SECRET, st, N(st), &sm,
                            CKM_GENERIC_SECRET_KEY_GEN);
    expect_usage(o, CKO_SECRET_KEY, CKK_GENERIC_SECRET, F_SIGN | F_VER | F_ENC);
    tcore_obj_unref(o);
}

/* ---- a copy keeps the source's flags, not the defaults --------------------- */

static void test_copy_keeps_flags(void **state)
{
    tc_env *e = *state;
    CK_ATTRIBUTE at[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                         {CKA_VALUE, (void *)key16, 16}, ATTR(CKA_DERIVE, &ck_true),
                         ATTR(CKA_SIGN, &ck_false)};
    tcore_obj *o = create(e, at, N(at));
    tcore_obj *c = NULL;
    assert_int_equal(tcore_obj_copy(o, as_user(), NULL, 0, &c), CKR_OK);
    expect_usage(c, CKO_SECRET_KEY, CKK_AES, (AES_DFL & ~(unsigned)F_SIGN) | F_DERIVE);
    tcore_obj_unref(c);
    tcore_obj_unref(o);
}

#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_default_table),
        T(test_generated_rsa),
        T(test_generated_ec),
        T(test_generated_ed25519),
        T(test_generated_x25519),
        T(test_generated_aes),
        T(test_generated_generic_secret),
        T(test_generated_hkdf),
        T(test_created_rsa),
        T(test_created_ec),
        T(test_created_ed25519),
        T(test_created_x25519),
        T(test_created_aes),
        T(test_created_generic_secret),
        T(test_created_hkdf),
        T(test_derived_and_unwrapped),
        T(test_defaults_drive_check_use),
        T(test_explicit_values_win_created),
        T(test_explicit_values_win_generated),
        T(test_copy_keeps_flags),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
