/*
 * Asymmetric key objects: an immutable, reference-counted wrapper around an
 * EVP_PKEY; generation (with the pairwise-consistency test), import from
 * components, component export, PKCS#8 / SubjectPublicKeyInfo, and the
 * CKA_EC_PARAMS encodings.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "crypto/crypto_int.h"

/* Bounds for imported RSA moduli (generation is stricter). */
#define RSA_IMPORT_MIN_BITS 512
#define RSA_IMPORT_MAX_BITS 16384
#define RSA_GEN_MIN_BITS 1024
#define RSA_GEN_MAX_BITS 8192
/* Public exponents above 2^256 are refused (SP 800-56B §6.2 wants < 2^256). */
#define RSA_MAX_PUBEXP_BYTES 32

/* ---- curves and CKA_EC_PARAMS --------------------------------------------- */

const char *tcx_curve_group(tcrypto_curve curve)
{
    switch (curve) {
    case TCRYPTO_CURVE_P256: return "P-256";
    case TCRYPTO_CURVE_P384: return "P-384";
    case TCRYPTO_CURVE_P521: return "P-521";
    case TCRYPTO_CURVE_NONE: break;
    }
    return NULL;
}

size_t tcx_curve_bytes(tcrypto_curve curve)
{
    return (tcrypto_curve_bits(curve) + 7) / 8;
}

size_t tcrypto_curve_bits(tcrypto_curve curve)
{
    switch (curve) {
    case TCRYPTO_CURVE_P256: return 256;
    case TCRYPTO_CURVE_P384: return 384;
    case TCRYPTO_CURVE_P521: return 521;
    case TCRYPTO_CURVE_NONE: break;
    }
    return 0;
}

EC_GROUP *tcx_curve_ec_group(tcrypto_curve curve)
{
    int nid = NID_undef;
    switch (curve) {
    case TCRYPTO_CURVE_P256: nid = NID_X9_62_prime256v1; break;
    case TCRYPTO_CURVE_P384: nid = NID_secp384r1; break;
    case TCRYPTO_CURVE_P521: nid = NID_secp521r1; break;
    case TCRYPTO_CURVE_NONE: break;
    }
    return nid == NID_undef ? NULL : EC_GROUP_new_by_curve_name_ex(tcx_libctx(), NULL, nid);
}

const char *tcx_raw_alg_name(tcrypto_key_type type)
{
    switch (type) {
    case TCRYPTO_KEY_ED25519: return "ED25519";
    case TCRYPTO_KEY_ED448: return "ED448";
    case TCRYPTO_KEY_X25519: return "X25519";
    case TCRYPTO_KEY_X448: return "X448";
    default: return NULL;
    }
}

const char *tcx_keytype_name(tcrypto_key_type type)
{
    switch (type) {
    case TCRYPTO_KEY_RSA: return "1.2.840.113549.1.1.1"; /* RFC 8017 A.1 rsaEncryption */
    case TCRYPTO_KEY_EC: return "1.2.840.10045.2.1";     /* RFC 5480 id-ecPublicKey */
    case TCRYPTO_KEY_ED25519: return "1.3.101.112";      /* RFC 8410 §3 */
    case TCRYPTO_KEY_ED448: return "1.3.101.113";
    case TCRYPTO_KEY_X25519: return "1.3.101.110";
    case TCRYPTO_KEY_X448: return "1.3.101.111";
    default: return NULL;
    }
}

/* Key generation in our library context (EVP_PKEY_Q_keygen() would go by
 * the short name, see tcx_keytype_name()). group: EC curve or NULL. */
static EVP_PKEY *keygen_named(tcrypto_key_type type, const char *group)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(tcx_libctx(), tcx_keytype_name(type), NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
        (group != NULL && EVP_PKEY_CTX_set_group_name(ctx, group) != 1) ||
        EVP_PKEY_generate(ctx, &pk) != 1) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

/* RFC 8032 §5.1.5/§5.2.5, RFC 7748 §5. */
size_t tcx_raw_key_len(tcrypto_key_type type)
{
    switch (type) {
    case TCRYPTO_KEY_ED25519: return 32;
    case TCRYPTO_KEY_ED448: return 57;
    case TCRYPTO_KEY_X25519: return 32;
    case TCRYPTO_KEY_X448: return 56;
    default: return 0;
    }
}

typedef struct {
    tcrypto_key_type type;
    tcrypto_curve curve;
    const uint8_t *der;
    size_t len;
} ec_params_entry;

/* DER OBJECT IDENTIFIERs: SEC 2 §2.4.2/§2.5.1/§2.6.1 (NIST curves), RFC 8410
 * §3 (id-X25519 1.3.101.110, id-X448 .111, id-Ed25519 .112, id-Ed448 .113);
 * PrintableString curve names: PKCS#11 3.0 §2.3.5/§2.3.7. */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
static const uint8_t oid_x25519[] = {0x06, 0x03, 0x2b, 0x65, 0x6e};
static const uint8_t oid_x448[] = {0x06, 0x03, 0x2b, 0x65, 0x6f};
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t oid_ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
static const uint8_t str_ed25519[] = "\x13\x0c" "edwards25519";
static const uint8_t str_ed448[] = "\x13\x0a" "edwards448";
static const uint8_t str_x25519[] = "\x13\x0a" "curve25519";
static const uint8_t str_x448[] = "\x13\x08" "curve448";

#define ENTRY(t, c, a) {t, c, a, sizeof(a)}
#define SENTRY(t, a) {t, TCRYPTO_CURVE_NONE, a, sizeof(a) - 1}
static const ec_params_entry g_ec_params[] = {
    ENTRY(TCRYPTO_KEY_EC, TCRYPTO_CURVE_P256, oid_p256),
    ENTRY(TCRYPTO_KEY_EC, TCRYPTO_CURVE_P384, oid_p384),
    ENTRY(TCRYPTO_KEY_EC, TCRYPTO_CURVE_P521, oid_p521),
    ENTRY(TCRYPTO_KEY_ED25519, TCRYPTO_CURVE_NONE, oid_ed25519),
    ENTRY(TCRYPTO_KEY_ED448, TCRYPTO_CURVE_NONE, oid_ed448),
    ENTRY(TCRYPTO_KEY_X25519, TCRYPTO_CURVE_NONE, oid_x25519),
    ENTRY(TCRYPTO_KEY_X448, TCRYPTO_CURVE_NONE, oid_x448),
    /* Printable forms come after the OIDs: lookups by type return OIDs. */
    SENTRY(TCRYPTO_KEY_ED25519, str_ed25519),
    SENTRY(TCRYPTO_KEY_ED448, str_ed448),
    SENTRY(TCRYPTO_KEY_X25519, str_x25519),
    SENTRY(TCRYPTO_KEY_X448, str_x448),
};

tcrypto_rc tcrypto_ec_params_parse(const uint8_t *der, size_t len, tcrypto_key_type *type,
                                   tcrypto_curve *curve)
{
    if (der == NULL || type == NULL || curve == NULL)
        return TCRYPTO_ERR_ARG;
    /* One DER TLV with a short-form length that covers the rest exactly:
     * an OBJECT IDENTIFIER or a PrintableString. */
    if (len < 2 || (der[0] != 0x06 && der[0] != 0x13) || der[1] >= 0x80 ||
        (size_t)der[1] != len - 2)
        return TCRYPTO_ERR_ARG;
    for (size_t i = 0; i < TC_ARRAY_LEN(g_ec_params); i++) {
        const ec_params_entry *e = &g_ec_params[i];
        if (e->len == len && memcmp(e->der, der, len) == 0) {
            *type = e->type;
            *curve = e->curve;
            return TCRYPTO_OK;
        }
    }
    return TCRYPTO_ERR_UNSUPPORTED;
}

const uint8_t *tcrypto_ec_params_der(tcrypto_key_type type, tcrypto_curve curve, size_t *len)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(g_ec_params); i++) {
        const ec_params_entry *e = &g_ec_params[i];
        if (e->type == type && (type != TCRYPTO_KEY_EC || e->curve == curve)) {
            if (len)
                *len = e->len;
            return e->der;
        }
    }
    if (len)
        *len = 0;
    return NULL;
}

/* ---- key object ------------------------------------------------------------ */

static tcrypto_curve curve_from_group(const char *name)
{
    if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0 ||
        strcmp(name, "secp256r1") == 0)
        return TCRYPTO_CURVE_P256;
    if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
        return TCRYPTO_CURVE_P384;
    if (strcmp(name, "secp521r1") == 0 || strcmp(name, "P-521") == 0)
        return TCRYPTO_CURVE_P521;
    return TCRYPTO_CURVE_NONE;
}

tcrypto_rc tcx_pkey_wrap(EVP_PKEY *pk, bool priv, tcrypto_pkey **out)
{
    tcrypto_rc rc = TCRYPTO_OK;
    tcrypto_pkey *k = NULL;
    if (pk == NULL)
        return TCRYPTO_ERR_ARG;
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA: {
        k->type = TCRYPTO_KEY_RSA;
        int bits = EVP_PKEY_get_bits(pk);
        if (bits < RSA_IMPORT_MIN_BITS || bits > RSA_IMPORT_MAX_BITS) {
            rc = TCRYPTO_ERR_UNSUPPORTED;
            goto done;
        }
        k->bits = (size_t)bits;
        k->bytes = ((size_t)bits + 7) / 8;
        break;
    }
    case EVP_PKEY_EC: {
        char name[64];
        size_t nlen = 0;
        k->type = TCRYPTO_KEY_EC;
        if (EVP_PKEY_get_group_name(pk, name, sizeof(name), &nlen) != 1) {
            rc = TCRYPTO_ERR_UNSUPPORTED;
            goto done;
        }
        k->curve = curve_from_group(name);
        if (k->curve == TCRYPTO_CURVE_NONE) {
            rc = TCRYPTO_ERR_UNSUPPORTED;
            goto done;
        }
        k->bits = tcrypto_curve_bits(k->curve);
        k->bytes = tcx_curve_bytes(k->curve);
        /* Encode points uncompressed and curves by name whatever the input
         * used (PKCS#11 CKA_EC_POINT, RFC 5480 §2.1.1 named curves). */
        if (EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           "uncompressed") != 1 ||
            EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_ENCODING,
                                           "named_curve") != 1) {
            rc = TCRYPTO_ERR_INTERNAL;
            goto done;
        }
        break;
    }
    case EVP_PKEY_ED25519:
        k->type = TCRYPTO_KEY_ED25519;
        k->bits = 255;
        break;
    case EVP_PKEY_ED448:
        k->type = TCRYPTO_KEY_ED448;
        k->bits = 448;
        break;
    case EVP_PKEY_X25519:
        k->type = TCRYPTO_KEY_X25519;
        k->bits = 255;
        break;
    case EVP_PKEY_X448:
        k->type = TCRYPTO_KEY_X448;
        k->bits = 448;
        break;
    default:
        rc = TCRYPTO_ERR_UNSUPPORTED;
        goto done;
    }
    if (k->bytes == 0)
        k->bytes = tcx_raw_key_len(k->type);
    k->pk = pk;
    pk = NULL;
    k->priv = priv;
    atomic_init(&k->refs, 1);
    *out = k;
    k = NULL;
done:
    free(k);
    EVP_PKEY_free(pk);
    return rc;
}

void tcrypto_pkey_ref(tcrypto_pkey *k)
{
    if (k != NULL)
        atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
}

void tcrypto_pkey_free(tcrypto_pkey *k)
{
    if (k == NULL)
        return;
    if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
        return;
    tcx_signers_free(k);
    EVP_PKEY_free(k->pk); /* clears private bignums / raw keys */
    free(k);
}

tcrypto_key_type tcrypto_pkey_type(const tcrypto_pkey *k) { return k ? k->type : 0; }
bool tcrypto_pkey_has_private(const tcrypto_pkey *k) { return k ? k->priv : false; }
size_t tcrypto_pkey_bits(const tcrypto_pkey *k) { return k ? k->bits : 0; }
tcrypto_curve tcrypto_pkey_curve(const tcrypto_pkey *k)
{
    return k ? k->curve : TCRYPTO_CURVE_NONE;
}

/* ---- pairwise-consistency test ------------------------------------------------ */

static bool raw_agree(EVP_PKEY *a, EVP_PKEY *b, uint8_t *out, size_t *outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), a, NULL);
    bool ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
              EVP_PKEY_derive_set_peer_ex(ctx, b, 1) == 1 &&
              EVP_PKEY_derive(ctx, out, outlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

tcrypto_rc tcx_pairwise_test(const tcrypto_pkey *k)
{
    static const uint8_t msg[32] = "Tessera pairwise consistency...";
    uint8_t sig[RSA_GEN_MAX_BITS / 8];
    size_t siglen = sizeof(sig);
    bool ok = false;
    tcrypto_sig_params sp = {0};

    switch (k->type) {
    case TCRYPTO_KEY_RSA:
        sp.scheme = TCRYPTO_SIG_RSA_PKCS1;
        sp.md = TCRYPTO_MD_SHA256;
        break;
    case TCRYPTO_KEY_EC:
        sp.scheme = TCRYPTO_SIG_ECDSA;
        break;
    case TCRYPTO_KEY_ED25519:
    case TCRYPTO_KEY_ED448:
        sp.scheme = TCRYPTO_SIG_EDDSA;
        break;
    case TCRYPTO_KEY_X25519:
    case TCRYPTO_KEY_X448: {
        /* Agreement with a fresh peer must give the same secret both ways. */
        EVP_PKEY *peer = keygen_named(k->type, NULL);
        uint8_t s1[64], s2[64];
        size_t l1 = sizeof(s1), l2 = sizeof(s2);
        ok = peer != NULL && raw_agree(k->pk, peer, s1, &l1) && raw_agree(peer, k->pk, s2, &l2) &&
             l1 == l2 && CRYPTO_memcmp(s1, s2, l1) == 0;
        OPENSSL_cleanse(s1, sizeof(s1));
        OPENSSL_cleanse(s2, sizeof(s2));
        EVP_PKEY_free(peer);
        goto done;
    }
    default:
        goto done;
    }
    if (tcrypto_sign(k, &sp, msg, sizeof(msg), sig, &siglen) != TCRYPTO_OK)
        goto done;
    if (tcrypto_verify(k, &sp, msg, sizeof(msg), sig, siglen) != TCRYPTO_OK)
        goto done;
    /* The check must be able to fail: a flipped bit must not verify. */
    sig[siglen / 2] ^= 0x01;
    ok = tcrypto_verify(k, &sp, msg, sizeof(msg), sig, siglen) == TCRYPTO_ERR_VERIFY;
done:
    if (!ok) {
        const char *file = NULL, *func = NULL;
        int line = 0;
        unsigned long e;
        bool out_of_memory = false;
        while ((e = ERR_get_error_all(&file, &line, &func, NULL, NULL)) != 0) {
            char why[256];
            ERR_error_string_n(e, why, sizeof(why));
            TC_DEBUG("crypto", "pairwise-consistency test: %s (%s:%d %s)", why, file, line, func);
            if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
                out_of_memory = true;
        }
        /* Running out of (secure) memory says nothing about the key or the
         * implementation: refuse this key, but do not disable the module. */
        if (out_of_memory) {
            TC_WARN("crypto", "pairwise-consistency test ran out of memory; key refused");
            return TCRYPTO_ERR_NOMEM;
        }
        TC_ERROR("crypto", "pairwise-consistency test failed: entering error state");
        tcx_enter_error();
        return TCRYPTO_ERR_INTERNAL;
    }
    return TCRYPTO_OK;
}

/* ---- generation -------------------------------------------------------------- */

static tcrypto_rc finish_generated(EVP_PKEY *pk, tcrypto_pkey **out)
{
    tcrypto_pkey *k = NULL;
    tcrypto_rc rc = tcx_pkey_wrap(pk, true, &k);
    if (rc != TCRYPTO_OK)
        return rc;
    rc = tcx_pairwise_test(k);
    if (rc != TCRYPTO_OK) {
        tcrypto_pkey_free(k);
        return rc;
    }
    *out = k;
    return TCRYPTO_OK;
}

/* Strip leading zero bytes of a big-endian integer. */
static void be_trim(const uint8_t **p, size_t *len)
{
    while (*len > 0 && (*p)[0] == 0) {
        (*p)++;
        (*len)--;
    }
}

tcrypto_rc tcrypto_rsa_generate(unsigned bits, const uint8_t *pub_exp, size_t pub_exp_len,
                                tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *e = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL || (pub_exp == NULL && pub_exp_len != 0))
        return TCRYPTO_ERR_ARG;
    if (bits < RSA_GEN_MIN_BITS || bits > RSA_GEN_MAX_BITS || bits % 8 != 0)
        return TCRYPTO_ERR_UNSUPPORTED;
    if (pub_exp != NULL) {
        const uint8_t *p = pub_exp;
        size_t len = pub_exp_len;
        be_trim(&p, &len);
        /* FIPS 186-5 §A.1.1 wants an odd e; 1 is never valid. */
        if (len == 0 || len > RSA_MAX_PUBEXP_BYTES || (p[len - 1] & 1) == 0 ||
            (len == 1 && p[0] == 1))
            return TCRYPTO_ERR_ARG;
        e = BN_bin2bn(p, (int)len, NULL);
    } else {
        e = BN_new();
        if (e != NULL && BN_set_word(e, 65537) != 1) {
            BN_free(e);
            e = NULL;
        }
    }
    if (e == NULL)
        return TCRYPTO_ERR_NOMEM;
    ctx = EVP_PKEY_CTX_new_from_name(tcx_libctx(), tcx_keytype_name(TCRYPTO_KEY_RSA), NULL);
    if (ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) != 1 || EVP_PKEY_generate(ctx, &pk) != 1) {
        rc = tcx_load_failure(TCRYPTO_ERR_INTERNAL);
        goto done;
    }
    rc = finish_generated(pk, out);
    pk = NULL;
done:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    BN_free(e);
    return rc;
}

tcrypto_rc tcrypto_ec_generate(tcrypto_curve curve, tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL)
        return TCRYPTO_ERR_ARG;
    const char *group = tcx_curve_group(curve);
    if (group == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    EVP_PKEY *pk = keygen_named(TCRYPTO_KEY_EC, group);
    if (pk == NULL)
        return tcx_load_failure(TCRYPTO_ERR_INTERNAL);
    return finish_generated(pk, out);
}

tcrypto_rc tcrypto_raw_generate(tcrypto_key_type type, tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL)
        return TCRYPTO_ERR_ARG;
    if (tcx_raw_alg_name(type) == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    EVP_PKEY *pk = keygen_named(type, NULL);
    if (pk == NULL)
        return tcx_load_failure(TCRYPTO_ERR_INTERNAL);
    return finish_generated(pk, out);
}

/* ---- import from components ----------------------------------------------- */

/* Recover p and q from (n, e, d) (NIST SP 800-56B Rev. 2 Appendix C.2) and
 * compute the CRT values, so that a key imported without them can still be
 * encoded as PKCS#8 and signs at CRT speed. Failing to factor means d does
 * not belong to (n, e): TCRYPTO_ERR_KEY. out[0..4] = p, q, dp, dq, qinv. */
static tcrypto_rc rsa_recover_crt(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
                                  BIGNUM *out[5])
{
    tcrypto_rc rc = TCRYPTO_ERR_KEY;
    BN_CTX *ctx = BN_CTX_secure_new_ex(tcx_libctx());
    BIGNUM *k, *r, *g, *y, *x, *nm1, *pm1, *qm1, *p = NULL, *q = NULL;
    if (ctx == NULL)
        return TCRYPTO_ERR_NOMEM;
    BN_CTX_start(ctx);
    k = BN_CTX_get(ctx);
    r = BN_CTX_get(ctx);
    g = BN_CTX_get(ctx);
    y = BN_CTX_get(ctx);
    x = BN_CTX_get(ctx);
    nm1 = BN_CTX_get(ctx);
    pm1 = BN_CTX_get(ctx);
    qm1 = BN_CTX_get(ctx);
    p = BN_secure_new();
    q = BN_secure_new();
    if (qm1 == NULL || p == NULL || q == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    BN_set_flags(r, BN_FLG_CONSTTIME);
    /* k = d*e - 1 = 2^t * r with r odd; k is a multiple of lambda(n). */
    if (BN_mul(k, d, e, ctx) != 1 || BN_sub_word(k, 1) != 1 || BN_is_zero(k) ||
        BN_is_odd(k) || BN_copy(nm1, n) == NULL || BN_sub_word(nm1, 1) != 1)
        goto done;
    int t = 0;
    while (!BN_is_bit_set(k, t))
        t++;
    if (BN_rshift(r, k, t) != 1)
        goto done;
    bool found = false;
    for (int tries = 0; tries < 100 && !found; tries++) {
        /* Appendix C.2 step 3: g random in [2, n-2] */
        if (BN_priv_rand_range_ex(g, nm1, 0, ctx) != 1)
            goto done;
        if (BN_cmp(g, BN_value_one()) <= 0)
            continue;
        if (BN_mod_exp_mont_consttime(y, g, r, n, ctx, NULL) != 1)
            goto done;
        if (BN_is_one(y) || BN_cmp(y, nm1) == 0)
            continue;
        for (int i = 1; i <= t && !found; i++) {
            if (BN_mod_sqr(x, y, n, ctx) != 1)
                goto done;
            if (BN_is_one(x)) {
                /* y is a non-trivial square root of 1: gcd(y - 1, n) = p */
                if (BN_sub_word(y, 1) != 1 || BN_gcd(p, y, n, ctx) != 1)
                    goto done;
                found = true;
            } else if (BN_cmp(x, nm1) == 0) {
                break;
            } else if (BN_copy(y, x) == NULL) {
                goto done;
            }
        }
    }
    if (!found || BN_is_one(p) || BN_cmp(p, n) == 0)
        goto done;
    if (BN_div(q, x, n, p, ctx) != 1 || !BN_is_zero(x))
        goto done;
    if (BN_cmp(p, q) < 0) /* p > q, as generated keys have it */
        BN_swap(p, q);
    BN_set_flags(p, BN_FLG_CONSTTIME);
    BN_set_flags(q, BN_FLG_CONSTTIME);
    out[2] = BN_secure_new();
    out[3] = BN_secure_new();
    out[4] = BN_secure_new();
    if (out[2] == NULL || out[3] == NULL || out[4] == NULL || BN_copy(pm1, p) == NULL ||
        BN_sub_word(pm1, 1) != 1 || BN_copy(qm1, q) == NULL || BN_sub_word(qm1, 1) != 1 ||
        BN_mod(out[2], d, pm1, ctx) != 1 || BN_mod(out[3], d, qm1, ctx) != 1 ||
        BN_mod_inverse(out[4], q, p, ctx) == NULL) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    out[0] = p;
    out[1] = q;
    p = q = NULL;
    rc = TCRYPTO_OK;
done:
    BN_clear_free(p);
    BN_clear_free(q);
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return rc;
}

/* Push a big-endian integer; secret ones go through a secure-heap BIGNUM so
 * the parameter builder keeps them in secure memory too. The builder keeps
 * a pointer to the BIGNUM until OSSL_PARAM_BLD_to_param(), so the caller
 * owns *keep and frees it after that. */
static bool push_bn(OSSL_PARAM_BLD *bld, const char *key, const uint8_t *p, size_t len,
                    bool secret, BIGNUM **keep)
{
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();
    *keep = bn;
    return bn != NULL && BN_bin2bn(p, (int)len, bn) != NULL &&
           OSSL_PARAM_BLD_push_BN(bld, key, bn) == 1;
}

static tcrypto_rc from_params(const char *alg, int selection, OSSL_PARAM_BLD *bld,
                              EVP_PKEY **pk)
{
    tcrypto_rc rc = TCRYPTO_OK;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(tcx_libctx(), alg, NULL);
    if (params == NULL || ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_PKEY_fromdata_init(ctx) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    if (EVP_PKEY_fromdata(ctx, pk, selection, params) != 1) {
        rc = tcx_load_failure(TCRYPTO_ERR_KEY);
        goto done;
    }
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* wipes the secure block holding secrets */
    return rc;
}

/* ---- private keys on the secure heap ---------------------------------------
 *
 * EVP_PKEY_fromdata() in OpenSSL 3.0 reads every BIGNUM parameter into a
 * new ordinary-heap BIGNUM (OSSL_PARAM_get_BN), so a key built from
 * components would keep d, p, q and the CRT values in dumpable memory for
 * as long as it is open. The DER decoders, by contrast, read private
 * integers into secure-heap BIGNUMs. So private keys built from components
 * are written as a PKCS#8 PrivateKeyInfo into a secure-heap buffer and
 * decoded: the same path as a stored key. */

static EVP_PKEY *decode_key(const uint8_t *der, size_t len, const char *structure,
                            int selection);

/* RFC 8017 A.1.2 RSAPrivateKey, two-prime: v = n, e, d, p, q, dp, dq, qinv. */
static void derw_rsa_fields(tcx_derw *w, BIGNUM *const v[8])
{
    static const uint8_t version0[] = {0x02, 0x01, 0x00};
    tcx_derw_raw(w, version0, sizeof(version0));
    for (int i = 0; i < 8; i++)
        tcx_derw_bn(w, v[i]);
}

static void derw_rsa_body(tcx_derw *w, BIGNUM *const v[8])
{
    tcx_derw c = {NULL, 0};
    derw_rsa_fields(&c, v);
    tcx_derw_hdr(w, 0x30, c.len);
    derw_rsa_fields(w, v);
}

typedef struct {
    const BIGNUM *d;     /* EC private scalar */
    size_t field_len;
    const uint8_t *point; /* uncompressed SEC1 point */
    size_t point_len;
} ec_priv_in;

/* RFC 5915 §3 ECPrivateKey without the [0] parameters (they are in the
 * PKCS#8 AlgorithmIdentifier, RFC 5915 §3 allows that). */
static void derw_ec_fields(tcx_derw *w, const ec_priv_in *in);

static void derw_ec_body(tcx_derw *w, const ec_priv_in *in)
{
    tcx_derw c = {NULL, 0};
    derw_ec_fields(&c, in);
    tcx_derw_hdr(w, 0x30, c.len);
    derw_ec_fields(w, in);
}

static void derw_ec_fields(tcx_derw *w, const ec_priv_in *in)
{
    static const uint8_t version1[] = {0x02, 0x01, 0x01};
    tcx_derw_raw(w, version1, sizeof(version1));
    tcx_derw_hdr(w, 0x04, in->field_len);
    if (w->p != NULL)
        BN_bn2binpad(in->d, w->p + w->len, (int)in->field_len);
    w->len += in->field_len;
    /* [1] EXPLICIT BIT STRING (no unused bits) */
    size_t bits = 1 + in->point_len;
    tcx_derw c = {NULL, 0};
    tcx_derw_hdr(&c, 0x03, bits);
    tcx_derw_hdr(w, 0xa1, c.len + bits);
    static const uint8_t no_unused_bits = 0;
    tcx_derw_hdr(w, 0x03, bits);
    tcx_derw_raw(w, &no_unused_bits, 1);
    tcx_derw_raw(w, in->point, in->point_len);
}

typedef struct {
    const uint8_t *priv;
    size_t len;
} raw_priv_in;

/* RFC 8410 §7 CurvePrivateKey: an OCTET STRING of the raw key. */
static void derw_raw_body(tcx_derw *w, const raw_priv_in *in)
{
    tcx_derw_hdr(w, 0x04, in->len);
    tcx_derw_raw(w, in->priv, in->len);
}

typedef void (*derw_body_fn)(tcx_derw *w, const void *arg);

static void rsa_body_cb(tcx_derw *w, const void *arg) { derw_rsa_body(w, arg); }
static void ec_body_cb(tcx_derw *w, const void *arg) { derw_ec_body(w, arg); }
static void raw_body_cb(tcx_derw *w, const void *arg) { derw_raw_body(w, arg); }

/* RFC 5208 §5 PrivateKeyInfo around a key body (the whole encoded private
 * key). algid: the DER AlgorithmIdentifier SEQUENCE, whole. */
static void derw_pkcs8(tcx_derw *w, const uint8_t *algid, size_t algid_len, derw_body_fn body,
                       const void *arg)
{
    static const uint8_t version0[] = {0x02, 0x01, 0x00};
    tcx_derw k = {NULL, 0}, os = {NULL, 0};
    body(&k, arg);
    tcx_derw_hdr(&os, 0x04, k.len);
    size_t content = sizeof(version0) + algid_len + os.len + k.len;
    tcx_derw_hdr(w, 0x30, content);
    tcx_derw_raw(w, version0, sizeof(version0));
    tcx_derw_raw(w, algid, algid_len);
    tcx_derw_hdr(w, 0x04, k.len);
    body(w, arg);
}

/* RFC 8017 A.1: rsaEncryption with NULL parameters. */
static const uint8_t algid_rsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                    0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
/* RFC 5480 §2.1.1: id-ecPublicKey. */
static const uint8_t oid_id_ec[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
#define ALGID_MAX (2 + sizeof(oid_id_ec) + 12)

/* The PKCS#8 AlgorithmIdentifier of a private key into out: rsaEncryption,
 * id-ecPublicKey with the named curve (RFC 5480 §2.1.1), or the Ed/X
 * algorithm's OID alone (RFC 8410 §3). Its length; 0 for an unknown type
 * or curve. */
static size_t algid_of(tcrypto_key_type type, tcrypto_curve curve, uint8_t out[ALGID_MAX])
{
    if (type == TCRYPTO_KEY_RSA) {
        memcpy(out, algid_rsa, sizeof(algid_rsa));
        return sizeof(algid_rsa);
    }
    bool ec = type == TCRYPTO_KEY_EC;
    size_t oid_len = 0, pre = ec ? sizeof(oid_id_ec) : 0;
    const uint8_t *oid = tcrypto_ec_params_der(type, ec ? curve : TCRYPTO_CURVE_NONE, &oid_len);
    if (oid == NULL || oid_len > ALGID_MAX - 2 - pre)
        return 0;
    out[0] = 0x30;
    out[1] = (uint8_t)(pre + oid_len);
    memcpy(out + 2, oid_id_ec, pre);
    memcpy(out + 2 + pre, oid, oid_len);
    return 2 + pre + oid_len;
}

/* Build the PrivateKeyInfo in a secure-heap buffer and decode it. */
static tcrypto_rc private_from_der(tcrypto_key_type type, tcrypto_curve curve,
                                   derw_body_fn body, const void *arg, EVP_PKEY **pk)
{
    uint8_t algid[ALGID_MAX];
    size_t algid_len = algid_of(type, curve, algid);
    if (algid_len == 0)
        return TCRYPTO_ERR_INTERNAL;
    tcx_derw w = {NULL, 0};
    derw_pkcs8(&w, algid, algid_len, body, arg);
    size_t len = w.len;
    w.p = tcrypto_secure_alloc(len);
    if (w.p == NULL)
        return TCRYPTO_ERR_NOMEM;
    w.len = 0;
    derw_pkcs8(&w, algid, algid_len, body, arg);
    *pk = decode_key(w.p, len, "PrivateKeyInfo", EVP_PKEY_KEYPAIR);
    tcrypto_secure_free(w.p, len);
    return *pk != NULL ? TCRYPTO_OK : tcx_load_failure(TCRYPTO_ERR_KEY);
}

static bool int_ok(const uint8_t *p, size_t len)
{
    return p != NULL && len > 0 && len <= RSA_IMPORT_MAX_BITS / 8 + 1;
}

tcrypto_rc tcrypto_rsa_from_parts(const tcrypto_rsa_parts *parts, tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *bns[8] = {NULL};
    if (rc != TCRYPTO_OK)
        return rc;
    if (parts == NULL || out == NULL)
        return TCRYPTO_ERR_ARG;
    const uint8_t *n = parts->n, *e = parts->e;
    size_t n_len = parts->n_len, e_len = parts->e_len;
    if (!int_ok(n, n_len) || !int_ok(e, e_len))
        return TCRYPTO_ERR_KEY;
    be_trim(&n, &n_len);
    be_trim(&e, &e_len);
    /* An RSA modulus is odd and in range; e is odd, > 1 and shorter than n. */
    if (n_len == 0 || (n[n_len - 1] & 1) == 0 || e_len == 0 || (e[e_len - 1] & 1) == 0 ||
        (e_len == 1 && e[0] == 1) || e_len > RSA_MAX_PUBEXP_BYTES || e_len >= n_len)
        return TCRYPTO_ERR_KEY;
    size_t nbits = n_len * 8;
    for (uint8_t top = n[0]; (top & 0x80) == 0; top <<= 1)
        nbits--;
    if (nbits < RSA_IMPORT_MIN_BITS || nbits > RSA_IMPORT_MAX_BITS)
        return TCRYPTO_ERR_UNSUPPORTED;
    bool priv = parts->d != NULL;
    const uint8_t *crt[5] = {parts->p, parts->q, parts->dp, parts->dq, parts->qinv};
    const size_t crt_len[5] = {parts->p_len, parts->q_len, parts->dp_len, parts->dq_len,
                               parts->qinv_len};
    static const char *const crt_names[5] = {
        OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    size_t ncrt = 0;
    for (int i = 0; i < 5; i++)
        ncrt += crt[i] != NULL;
    /* CRT components: all five or none, and only with d. */
    if ((ncrt != 0 && ncrt != 5) || (!priv && ncrt != 0))
        return TCRYPTO_ERR_ARG;
    if (priv && !int_ok(parts->d, parts->d_len))
        return TCRYPTO_ERR_KEY;
    for (int i = 0; i < 5 && ncrt; i++)
        if (!int_ok(crt[i], crt_len[i]))
            return TCRYPTO_ERR_KEY;

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return TCRYPTO_ERR_NOMEM;
    bool ok = push_bn(bld, OSSL_PKEY_PARAM_RSA_N, n, n_len, false, &bns[0]) &&
              push_bn(bld, OSSL_PKEY_PARAM_RSA_E, e, e_len, false, &bns[1]);
    if (ok && priv)
        ok = push_bn(bld, OSSL_PKEY_PARAM_RSA_D, parts->d, parts->d_len, true, &bns[2]);
    for (int i = 0; ok && i < 5 && ncrt; i++)
        ok = push_bn(bld, crt_names[i], crt[i], crt_len[i], true, &bns[3 + i]);
    if (!ok) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (priv && ncrt == 0) {
        /* PKCS#11 allows a private key without its CRT attributes. */
        BN_set_flags(bns[2], BN_FLG_CONSTTIME);
        rc = rsa_recover_crt(bns[0], bns[1], bns[2], &bns[3]);
        if (rc != TCRYPTO_OK)
            goto done;
        for (int i = 0; i < 5; i++) {
            if (OSSL_PARAM_BLD_push_BN(bld, crt_names[i], bns[3 + i]) != 1) {
                rc = TCRYPTO_ERR_NOMEM;
                goto done;
            }
        }
    } else if (ncrt != 0) {
        /* Cheap consistency check of the factors: p * q = n. */
        BN_CTX *bnctx = BN_CTX_secure_new_ex(tcx_libctx());
        BIGNUM *pq = BN_secure_new();
        bool match = bnctx != NULL && pq != NULL && BN_mul(pq, bns[3], bns[4], bnctx) == 1 &&
                     BN_cmp(pq, bns[0]) == 0;
        BN_clear_free(pq);
        BN_CTX_free(bnctx);
        if (!match) {
            rc = TCRYPTO_ERR_KEY;
            goto done;
        }
    }
    if (priv)
        rc = private_from_der(TCRYPTO_KEY_RSA, TCRYPTO_CURVE_NONE, rsa_body_cb, bns, &pk);
    else
        rc = from_params(tcx_keytype_name(TCRYPTO_KEY_RSA), EVP_PKEY_PUBLIC_KEY, bld, &pk);
    if (rc != TCRYPTO_OK)
        goto done;
    rc = tcx_pkey_wrap(pk, priv, out);
    pk = NULL;
done:
    EVP_PKEY_free(pk);
    OSSL_PARAM_BLD_free(bld);
    for (size_t i = 0; i < TC_ARRAY_LEN(bns); i++)
        BN_clear_free(bns[i]);
    return rc;
}

/* Uncompressed SEC1 point (SEC 1 §2.3.3) of priv * G on the curve. */
static tcrypto_rc ec_point_from_priv(const EC_GROUP *g, const BIGNUM *priv, uint8_t *pt,
                                     size_t ptlen)
{
    tcrypto_rc rc = TCRYPTO_OK;
    EC_POINT *q = EC_POINT_new(g);
    BN_CTX *bnctx = BN_CTX_secure_new_ex(tcx_libctx());
    if (q == NULL || bnctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EC_POINT_mul(g, q, priv, NULL, NULL, bnctx) != 1 ||
        EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pt, ptlen, bnctx) != ptlen) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
done:
    EC_POINT_free(q);
    BN_CTX_free(bnctx);
    return rc;
}

tcrypto_rc tcrypto_ec_from_parts(tcrypto_curve curve, const uint8_t *point, size_t point_len,
                                 const uint8_t *priv, size_t priv_len, tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    EC_GROUP *g = NULL;
    EC_POINT *q = NULL;
    BIGNUM *d = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pk = NULL;
    uint8_t derived[1 + 2 * 66];
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL || (point == NULL && priv == NULL))
        return TCRYPTO_ERR_ARG;
    const char *group = tcx_curve_group(curve);
    if (group == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    size_t fl = tcx_curve_bytes(curve), ptlen = 1 + 2 * fl;
    if (point != NULL && (point_len != ptlen || point[0] != 0x04))
        return TCRYPTO_ERR_KEY;
    g = tcx_curve_ec_group(curve);
    if (g == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (point != NULL) {
        /* SEC 1 §3.2.2.1: the public point must lie on the curve. */
        q = EC_POINT_new(g);
        if (q == NULL) {
            rc = TCRYPTO_ERR_NOMEM;
            goto done;
        }
        if (EC_POINT_oct2point(g, q, point, point_len, NULL) != 1 ||
            EC_POINT_is_on_curve(g, q, NULL) != 1) {
            rc = TCRYPTO_ERR_KEY;
            goto done;
        }
    }
    if (priv != NULL) {
        be_trim(&priv, &priv_len);
        /* SEC 1 §3.2.1: 1 <= d <= n - 1. */
        if (priv_len == 0 || priv_len > fl) {
            rc = TCRYPTO_ERR_KEY;
            goto done;
        }
        d = BN_secure_new();
        if (d == NULL || BN_bin2bn(priv, (int)priv_len, d) == NULL) {
            rc = TCRYPTO_ERR_NOMEM;
            goto done;
        }
        if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0) {
            rc = TCRYPTO_ERR_KEY;
            goto done;
        }
        rc = ec_point_from_priv(g, d, derived, ptlen);
        if (rc != TCRYPTO_OK)
            goto done;
        if (point != NULL && memcmp(derived, point, ptlen) != 0) {
            rc = TCRYPTO_ERR_KEY; /* public and private halves do not match */
            goto done;
        }
        point = derived;
    }
    if (d != NULL) {
        ec_priv_in in = {d, fl, point, ptlen};
        rc = private_from_der(TCRYPTO_KEY_EC, curve, ec_body_cb, &in, &pk);
    } else {
        bld = OSSL_PARAM_BLD_new();
        if (bld == NULL ||
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, ptlen) != 1) {
            rc = TCRYPTO_ERR_NOMEM;
            goto done;
        }
        rc = from_params(tcx_keytype_name(TCRYPTO_KEY_EC), EVP_PKEY_PUBLIC_KEY, bld, &pk);
    }
    if (rc != TCRYPTO_OK)
        goto done;
    rc = tcx_pkey_wrap(pk, d != NULL, out);
    pk = NULL;
done:
    EVP_PKEY_free(pk);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return rc;
}

tcrypto_rc tcrypto_raw_from_parts(tcrypto_key_type type, const uint8_t *pub, size_t pub_len,
                                  const uint8_t *priv, size_t priv_len, tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    EVP_PKEY *pk = NULL;
    uint8_t derived[64];
    size_t dlen = sizeof(derived);
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL || (pub == NULL && priv == NULL))
        return TCRYPTO_ERR_ARG;
    const char *name = tcx_raw_alg_name(type) != NULL ? tcx_keytype_name(type) : NULL;
    size_t klen = tcx_raw_key_len(type);
    if (name == NULL)
        return TCRYPTO_ERR_UNSUPPORTED;
    if ((pub != NULL && pub_len != klen) || (priv != NULL && priv_len != klen))
        return TCRYPTO_ERR_KEY;
    if (priv != NULL) {
        /* EVP_PKEY_new_raw_private_key_ex() copies the key to the ordinary
         * heap (OSSL_PARAM_get_octet_string); the decoder does not. */
        raw_priv_in in = {priv, priv_len};
        rc = private_from_der(type, TCRYPTO_CURVE_NONE, raw_body_cb, &in, &pk);
        if (rc != TCRYPTO_OK)
            return rc;
        if (pub != NULL) {
            if (EVP_PKEY_get_raw_public_key(pk, derived, &dlen) != 1 || dlen != klen) {
                rc = TCRYPTO_ERR_INTERNAL;
                goto done;
            }
            if (memcmp(derived, pub, klen) != 0) {
                rc = TCRYPTO_ERR_KEY; /* halves do not match */
                goto done;
            }
        }
    } else {
        pk = EVP_PKEY_new_raw_public_key_ex(tcx_libctx(), name, NULL, pub, pub_len);
        if (pk == NULL)
            return TCRYPTO_ERR_KEY;
    }
    rc = tcx_pkey_wrap(pk, priv != NULL, out);
    pk = NULL;
done:
    EVP_PKEY_free(pk);
    return rc;
}

/* ---- export ---------------------------------------------------------------- */

static tcrypto_rc bn_out(const EVP_PKEY *pk, const char *name, size_t pad, bool secret,
                         uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = TCRYPTO_OK;
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();
    if (bn == NULL)
        return TCRYPTO_ERR_NOMEM;
    if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1) {
        rc = TCRYPTO_ERR_KEY; /* component not present in this key */
        goto done;
    }
    size_t need = (size_t)BN_num_bytes(bn);
    if (pad != 0) {
        if (need > pad) {
            rc = TCRYPTO_ERR_INTERNAL;
            goto done;
        }
        need = pad;
    }
    if (tcx_out_precheck(out, outlen, need, &rc))
        goto done;
    if (BN_bn2binpad(bn, out, (int)need) != (int)need) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    *outlen = need;
done:
    BN_clear_free(bn);
    return rc;
}

static tcrypto_rc ec_point_out(const tcrypto_pkey *k, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = TCRYPTO_OK;
    BIGNUM *x = NULL, *y = NULL;
    size_t fl = k->bytes, need = 1 + 2 * fl;
    if (tcx_out_precheck(out, outlen, need, &rc))
        return rc;
    if (EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
        EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
        BN_num_bytes(x) > (int)fl || BN_num_bytes(y) > (int)fl) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    out[0] = 0x04;
    BN_bn2binpad(x, out + 1, (int)fl);
    BN_bn2binpad(y, out + 1 + fl, (int)fl);
    *outlen = need;
done:
    BN_free(x);
    BN_free(y);
    return rc;
}

static tcrypto_rc raw_out(const tcrypto_pkey *k, bool secret, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = TCRYPTO_OK;
    uint8_t tmp[64];
    size_t len = sizeof(tmp);
    int r = secret ? EVP_PKEY_get_raw_private_key(k->pk, tmp, &len)
                   : EVP_PKEY_get_raw_public_key(k->pk, tmp, &len);
    if (r != 1 || len != k->bytes) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    if (tcx_out_precheck(out, outlen, len, &rc))
        goto done;
    memcpy(out, tmp, len);
    *outlen = len;
done:
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return rc;
}

tcrypto_rc tcrypto_pkey_get_part(const tcrypto_pkey *k, tcrypto_part part, uint8_t *out,
                                 size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (k == NULL || outlen == NULL)
        return TCRYPTO_ERR_ARG;
    bool secret = part != TCRYPTO_PART_RSA_N && part != TCRYPTO_PART_RSA_E &&
                  part != TCRYPTO_PART_EC_POINT;
    if (secret && !k->priv)
        return TCRYPTO_ERR_KEY;
    const char *name = NULL;
    switch (part) {
    case TCRYPTO_PART_RSA_N: name = OSSL_PKEY_PARAM_RSA_N; break;
    case TCRYPTO_PART_RSA_E: name = OSSL_PKEY_PARAM_RSA_E; break;
    case TCRYPTO_PART_RSA_D: name = OSSL_PKEY_PARAM_RSA_D; break;
    case TCRYPTO_PART_RSA_P: name = OSSL_PKEY_PARAM_RSA_FACTOR1; break;
    case TCRYPTO_PART_RSA_Q: name = OSSL_PKEY_PARAM_RSA_FACTOR2; break;
    case TCRYPTO_PART_RSA_DP: name = OSSL_PKEY_PARAM_RSA_EXPONENT1; break;
    case TCRYPTO_PART_RSA_DQ: name = OSSL_PKEY_PARAM_RSA_EXPONENT2; break;
    case TCRYPTO_PART_RSA_QINV: name = OSSL_PKEY_PARAM_RSA_COEFFICIENT1; break;
    case TCRYPTO_PART_EC_POINT:
        if (k->type == TCRYPTO_KEY_EC)
            return ec_point_out(k, out, outlen);
        if (k->type == TCRYPTO_KEY_RSA)
            return TCRYPTO_ERR_KEY;
        return raw_out(k, false, out, outlen);
    case TCRYPTO_PART_EC_PRIV:
        if (k->type == TCRYPTO_KEY_EC)
            return bn_out(k->pk, OSSL_PKEY_PARAM_PRIV_KEY, k->bytes, true, out, outlen);
        if (k->type == TCRYPTO_KEY_RSA)
            return TCRYPTO_ERR_KEY;
        return raw_out(k, true, out, outlen);
    default:
        return TCRYPTO_ERR_ARG;
    }
    if (k->type != TCRYPTO_KEY_RSA)
        return TCRYPTO_ERR_KEY;
    return bn_out(k->pk, name, 0, secret, out, outlen);
}

static bool der_len_ok(size_t len)
{
    return len > 0 && len <= (1u << 20);
}

/* Decode one DER structure (PrivateKeyInfo / SubjectPublicKeyInfo) with
 * the decoders of our library context; NULL on failure or trailing bytes. */
static EVP_PKEY *decode_key(const uint8_t *der, size_t len, const char *structure,
                            int selection)
{
    EVP_PKEY *pk = NULL;
    const unsigned char *p = der;
    size_t left = len;
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pk, "DER", structure, NULL,
                                                         selection, tcx_libctx(), NULL);
    if (dctx == NULL)
        return NULL;
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || left != 0) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pk;
}

/* DER SubjectPublicKeyInfo through the encoders of the key's provider
 * (ours); out == NULL: allocate. Returns the length or 0. */
static size_t encode_spki(const EVP_PKEY *pk, uint8_t **data)
{
    size_t dlen = 0;
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(pk, EVP_PKEY_PUBLIC_KEY, "DER",
                                                         "SubjectPublicKeyInfo", NULL);
    if (ectx == NULL || OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0 ||
        OSSL_ENCODER_to_data(ectx, data, &dlen) != 1)
        dlen = 0;
    OSSL_ENCODER_CTX_free(ectx);
    return dlen;
}

BIGNUM *tcx_secure_bn_param(const EVP_PKEY *pk, const char *name)
{
    BIGNUM *bn = BN_secure_new();
    if (bn != NULL && EVP_PKEY_get_bn_param(pk, name, &bn) != 1) {
        BN_clear_free(bn);
        bn = NULL;
    }
    return bn;
}

/* PKCS#8 written by our DER writer, straight from secure-heap copies of
 * the components into the caller's buffer. OpenSSL's encoders would do it
 * too, but they free an intermediate copy of the DER (with d, p, q in it)
 * without wiping it (ASN1_item_i2d_bio), which then lingers in freed
 * ordinary memory. */
tcrypto_rc tcrypto_pkey_to_pkcs8(const tcrypto_pkey *k, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    BIGNUM *bns[8] = {NULL};
    uint8_t point[1 + 2 * 66], raw[64];
    uint8_t algid[ALGID_MAX];
    size_t algid_len = 0;
    ec_priv_in ec;
    raw_priv_in rw;
    derw_body_fn body = NULL;
    const void *arg = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (k == NULL || outlen == NULL)
        return TCRYPTO_ERR_ARG;
    if (!k->priv)
        return TCRYPTO_ERR_KEY;
    algid_len = algid_of(k->type, k->curve, algid);
    if (algid_len == 0)
        return TCRYPTO_ERR_INTERNAL;
    switch (k->type) {
    case TCRYPTO_KEY_RSA: {
        static const char *const names[8] = {
            OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
            OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
            OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
            OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
        for (int i = 0; i < 8; i++) {
            bns[i] = tcx_secure_bn_param(k->pk, names[i]);
            if (bns[i] == NULL) {
                rc = TCRYPTO_ERR_INTERNAL;
                goto done;
            }
        }
        body = rsa_body_cb;
        arg = bns;
        break;
    }
    case TCRYPTO_KEY_EC: {
        size_t plen = sizeof(point);
        bns[0] = tcx_secure_bn_param(k->pk, OSSL_PKEY_PARAM_PRIV_KEY);
        if (bns[0] == NULL || BN_num_bytes(bns[0]) > (int)k->bytes ||
            ec_point_out(k, point, &plen) != TCRYPTO_OK) {
            rc = TCRYPTO_ERR_INTERNAL;
            goto done;
        }
        ec = (ec_priv_in){bns[0], k->bytes, point, plen};
        body = ec_body_cb;
        arg = &ec;
        break;
    }
    default: {
        size_t rlen = sizeof(raw);
        if (EVP_PKEY_get_raw_private_key(k->pk, raw, &rlen) != 1 || rlen != k->bytes) {
            rc = TCRYPTO_ERR_INTERNAL;
            goto done;
        }
        rw = (raw_priv_in){raw, rlen};
        body = raw_body_cb;
        arg = &rw;
        break;
    }
    }
    tcx_derw w = {NULL, 0};
    derw_pkcs8(&w, algid, algid_len, body, arg);
    if (tcx_out_precheck(out, outlen, w.len, &rc))
        goto done;
    size_t need = w.len;
    w = (tcx_derw){out, 0};
    derw_pkcs8(&w, algid, algid_len, body, arg);
    if (w.len != need) {
        OPENSSL_cleanse(out, *outlen);
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    *outlen = need;
done:
    for (size_t i = 0; i < TC_ARRAY_LEN(bns); i++)
        BN_clear_free(bns[i]);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

tcrypto_rc tcrypto_pkey_from_pkcs8(const uint8_t *der, size_t len, tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (der == NULL || out == NULL)
        return TCRYPTO_ERR_ARG;
    if (!der_len_ok(len))
        return TCRYPTO_ERR_KEY;
    const unsigned char *p = der;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 == NULL || p != der + len) { /* no trailing bytes */
        rc = TCRYPTO_ERR_KEY;
        goto done;
    }
    /* The structure is checked above; the key itself is decoded by the
     * provider in our library context (EVP_PKCS82PKEY() falls back to the
     * legacy decoders, whose RSA/EC objects pick up a host ENGINE). */
    pk = decode_key(der, len, "PrivateKeyInfo", EVP_PKEY_KEYPAIR);
    if (pk == NULL) {
        rc = tcx_load_failure(TCRYPTO_ERR_KEY);
        goto done;
    }
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        /* The encoded public point is optional and not checked by the
         * decoder: make sure it belongs to the private scalar. */
        ctx = EVP_PKEY_CTX_new_from_pkey(tcx_libctx(), pk, NULL);
        if (ctx == NULL || EVP_PKEY_pairwise_check(ctx) != 1) {
            rc = TCRYPTO_ERR_KEY;
            goto done;
        }
    }
    rc = tcx_pkey_wrap(pk, true, out);
    pk = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return rc;
}

tcrypto_rc tcrypto_pkey_to_spki(const tcrypto_pkey *k, uint8_t *out, size_t *outlen)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (k == NULL || outlen == NULL)
        return TCRYPTO_ERR_ARG;
    uint8_t *data = NULL;
    size_t n = encode_spki(k->pk, &data);
    if (n == 0)
        return TCRYPTO_ERR_INTERNAL;
    if (!tcx_out_precheck(out, outlen, n, &rc)) {
        memcpy(out, data, n);
        *outlen = n;
    }
    OPENSSL_free(data);
    return rc;
}

tcrypto_rc tcrypto_pkey_from_spki(const uint8_t *der, size_t len, tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (der == NULL || out == NULL)
        return TCRYPTO_ERR_ARG;
    if (!der_len_ok(len))
        return TCRYPTO_ERR_KEY;
    /* Not d2i_PUBKEY(): in OpenSSL 3.0 it decodes with the legacy method
     * whenever an ENGINE registered one for the key's NID. */
    EVP_PKEY *pk = decode_key(der, len, "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY);
    if (pk == NULL)
        return TCRYPTO_ERR_KEY;
    return tcx_pkey_wrap(pk, false, out);
}

tcrypto_rc tcrypto_pkey_public(const tcrypto_pkey *k, tcrypto_pkey **out)
{
    tcrypto_rc rc = tcx_ready();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    if (rc != TCRYPTO_OK)
        return rc;
    if (k == NULL || out == NULL)
        return TCRYPTO_ERR_ARG;
    ctx = EVP_PKEY_CTX_new_from_name(tcx_libctx(), tcx_keytype_name(k->type), NULL);
    if (ctx == NULL) {
        rc = TCRYPTO_ERR_NOMEM;
        goto done;
    }
    if (EVP_PKEY_todata(k->pk, EVP_PKEY_PUBLIC_KEY, &params) != 1 ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = TCRYPTO_ERR_INTERNAL;
        goto done;
    }
    rc = tcx_pkey_wrap(pk, false, out);
    pk = NULL;
done:
    EVP_PKEY_free(pk);
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
