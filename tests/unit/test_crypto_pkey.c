/*
 * Crypto layer: asymmetric keys, signatures, RSA encryption, key agreement.
 * Known answers: RFC 8032 (Ed25519/Ed448), RFC 7748 (X25519/X448), and
 * signatures made by the openssl command line (test_crypto_vectors.h).
 */
#include <pthread.h>

#include "test_crypto_util.h"
#include "test_crypto_vectors.h"

/* P-256 group order n (SEC 2 §2.4.2) */
#define P256_N "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"

static tcrypto_pkey *g_rsa;  /* generated RSA-2048 */
static tcrypto_pkey *g_ec[3]; /* generated P-256/384/521 */

static int setup(void **state)
{
    (void)state;
    if (tcrypto_init() != TCRYPTO_OK)
        return -1;
    if (tcrypto_rsa_generate(2048, NULL, 0, &g_rsa) != TCRYPTO_OK)
        return -1;
    tcrypto_curve curves[3] = {TCRYPTO_CURVE_P256, TCRYPTO_CURVE_P384, TCRYPTO_CURVE_P521};
    for (int i = 0; i < 3; i++)
        if (tcrypto_ec_generate(curves[i], &g_ec[i]) != TCRYPTO_OK)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tcrypto_pkey_free(g_rsa);
    for (int i = 0; i < 3; i++)
        tcrypto_pkey_free(g_ec[i]);
    return 0;
}

static void sha256(const void *in, size_t n, uint8_t out[32])
{
    size_t len = 32;
    assert_rc(tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, in, n, out, &len), TCRYPTO_OK);
}

/* Sign, verify, then the must-fail cases every scheme shares: flipped bit,
 * other message, truncated and extended signature. */
static void sign_verify_cycle(const tcrypto_pkey *k, const tcrypto_sig_params *p,
                              const uint8_t *in, size_t inlen)
{
    uint8_t sig[1024], other[1024];
    size_t need = tcrypto_sig_size(k, p), len = 0;
    assert_true(need > 0 && need <= sizeof(sig));
    assert_rc(tcrypto_sign(k, p, in, inlen, NULL, &len), TCRYPTO_OK);
    assert_int_equal(len, need);
    len = need - 1;
    memset(sig, 0xee, sizeof(sig));
    assert_rc(tcrypto_sign(k, p, in, inlen, sig, &len), TCRYPTO_ERR_BUFFER);
    assert_int_equal(len, need);
    assert_int_equal(sig[0], 0xee);
    len = sizeof(sig);
    assert_rc(tcrypto_sign(k, p, in, inlen, sig, &len), TCRYPTO_OK);
    assert_int_equal(len, need);
    assert_rc(tcrypto_verify(k, p, in, inlen, sig, len), TCRYPTO_OK);
    sig[len / 3] ^= 0x04;
    assert_rc(tcrypto_verify(k, p, in, inlen, sig, len), TCRYPTO_ERR_VERIFY);
    sig[len / 3] ^= 0x04;
    assert_rc(tcrypto_verify(k, p, in, inlen, sig, len - 1), TCRYPTO_ERR_VERIFY);
    sig[len] = 0;
    assert_rc(tcrypto_verify(k, p, in, inlen, sig, len + 1), TCRYPTO_ERR_VERIFY);
    memcpy(other, in, inlen);
    other[0] ^= 0x01;
    assert_rc(tcrypto_verify(k, p, other, inlen, sig, len), TCRYPTO_ERR_VERIFY);
}

/* ---- RSA ----------------------------------------------------------------------- */

static void test_rsa_generate_args(void **state)
{
    (void)state;
    tcrypto_pkey *k = NULL;
    assert_rc(tcrypto_rsa_generate(1000, NULL, 0, &k), TCRYPTO_ERR_UNSUPPORTED);
    assert_rc(tcrypto_rsa_generate(2047, NULL, 0, &k), TCRYPTO_ERR_UNSUPPORTED);
    assert_rc(tcrypto_rsa_generate(8200, NULL, 0, &k), TCRYPTO_ERR_UNSUPPORTED);
    static const uint8_t even[] = {0x01, 0x00, 0x00};
    static const uint8_t one[] = {0x00, 0x01};
    assert_rc(tcrypto_rsa_generate(2048, even, 3, &k), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_rsa_generate(2048, one, 2, &k), TCRYPTO_ERR_ARG);
    assert_null(k);
    /* e = 3 given with a leading zero byte */
    static const uint8_t three[] = {0x00, 0x03};
    assert_rc(tcrypto_rsa_generate(1024, three, 2, &k), TCRYPTO_OK);
    uint8_t e[8];
    size_t len = sizeof(e);
    assert_rc(tcrypto_pkey_get_part(k, TCRYPTO_PART_RSA_E, e, &len), TCRYPTO_OK);
    assert_int_equal(len, 1);
    assert_int_equal(e[0], 3);
    assert_int_equal(tcrypto_pkey_bits(k), 1024);
    tcrypto_pkey_free(k);
}

static void test_rsa_props(void **state)
{
    (void)state;
    assert_int_equal(tcrypto_pkey_type(g_rsa), TCRYPTO_KEY_RSA);
    assert_true(tcrypto_pkey_has_private(g_rsa));
    assert_int_equal(tcrypto_pkey_bits(g_rsa), 2048);
    assert_int_equal(tcrypto_pkey_curve(g_rsa), TCRYPTO_CURVE_NONE);
    uint8_t e[8];
    size_t len = sizeof(e);
    assert_rc(tcrypto_pkey_get_part(g_rsa, TCRYPTO_PART_RSA_E, e, &len), TCRYPTO_OK);
    assert_hex(e, len, "010001");
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_RSA_PSS, .md = TCRYPTO_MD_SHA256};
    assert_int_equal(tcrypto_sig_size(g_rsa, &p), 256);
    p.scheme = TCRYPTO_SIG_ECDSA;
    assert_int_equal(tcrypto_sig_size(g_rsa, &p), 0);
    assert_rc(tcrypto_sign(g_rsa, &p, e, 3, e, &len), TCRYPTO_ERR_KEY);
}

static void test_rsa_pkcs1(void **state)
{
    (void)state;
    uint8_t h[32];
    sha256("hello", 5, h);
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_RSA_PKCS1, .md = TCRYPTO_MD_SHA256};
    sign_verify_cycle(g_rsa, &p, h, 32);
    /* md given: input must be a digest of that size */
    uint8_t sig[256];
    size_t len = sizeof(sig);
    assert_rc(tcrypto_sign(g_rsa, &p, h, 31, sig, &len), TCRYPTO_ERR_INPUT);
    /* md NONE: caller supplies the DigestInfo (RFC 8017 §9.2 note 1); the
     * result equals the md=SHA-256 signature. */
    uint8_t di[19 + 32];
    size_t n;
    uint8_t *prefix = unhex("3031300d060960864801650304020105000420", &n);
    memcpy(di, prefix, 19);
    memcpy(di + 19, h, 32);
    free(prefix);
    uint8_t sig2[256];
    size_t len2 = sizeof(sig2);
    assert_rc(tcrypto_sign(g_rsa, &p, h, 32, sig, &len), TCRYPTO_OK);
    tcrypto_sig_params raw = {.scheme = TCRYPTO_SIG_RSA_PKCS1, .md = TCRYPTO_MD_NONE};
    assert_rc(tcrypto_sign(g_rsa, &raw, di, sizeof(di), sig2, &len2), TCRYPTO_OK);
    assert_memory_equal(sig, sig2, 256); /* v1.5 is deterministic */
    assert_rc(tcrypto_verify(g_rsa, &p, h, 32, sig2, len2), TCRYPTO_OK);
    sign_verify_cycle(g_rsa, &raw, di, sizeof(di));
    /* k - 11 is the limit */
    uint8_t big[246] = {1};
    len2 = sizeof(sig2);
    assert_rc(tcrypto_sign(g_rsa, &raw, big, 245, sig2, &len2), TCRYPTO_OK);
    assert_rc(tcrypto_sign(g_rsa, &raw, big, 246, sig2, &len2), TCRYPTO_ERR_INPUT);
}

static void test_rsa_pss(void **state)
{
    (void)state;
    uint8_t h[64];
    size_t hl = sizeof(h);
    assert_rc(tcrypto_digest_oneshot(TCRYPTO_MD_SHA384, "x", 1, h, &hl), TCRYPTO_OK);
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_RSA_PSS,
                            .md = TCRYPTO_MD_SHA384,
                            .mgf1_md = TCRYPTO_MD_SHA1,
                            .salt_len = 48};
    sign_verify_cycle(g_rsa, &p, h, hl);
    /* PSS is randomised: two signatures differ, both verify */
    uint8_t s1[256], s2[256];
    size_t l1 = sizeof(s1), l2 = sizeof(s2);
    assert_rc(tcrypto_sign(g_rsa, &p, h, hl, s1, &l1), TCRYPTO_OK);
    assert_rc(tcrypto_sign(g_rsa, &p, h, hl, s2, &l2), TCRYPTO_OK);
    assert_memory_not_equal(s1, s2, 256);
    /* Verification is bound to the parameters: other salt length or MGF1 hash */
    tcrypto_sig_params q = p;
    q.salt_len = 32;
    assert_rc(tcrypto_verify(g_rsa, &q, h, hl, s1, l1), TCRYPTO_ERR_VERIFY);
    q = p;
    q.mgf1_md = TCRYPTO_MD_NONE; /* = SHA-384 */
    assert_rc(tcrypto_verify(g_rsa, &q, h, hl, s1, l1), TCRYPTO_ERR_VERIFY);
    /* Salt too long for the modulus: emLen = 256 < 48 + 207 + 2 */
    q = p;
    q.salt_len = 207;
    assert_rc(tcrypto_sign(g_rsa, &q, h, hl, s1, &l1), TCRYPTO_ERR_ARG);
    q.md = TCRYPTO_MD_NONE;
    assert_rc(tcrypto_sign(g_rsa, &q, h, hl, s1, &l1), TCRYPTO_ERR_ARG);
    /* Salt length 0 is deterministic and fine */
    q = p;
    q.salt_len = 0;
    sign_verify_cycle(g_rsa, &q, h, hl);
}

static void test_rsa_raw(void **state)
{
    (void)state;
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_RSA_RAW};
    uint8_t in[20] = {0x12, 0x34};
    sign_verify_cycle(g_rsa, &p, in, sizeof(in));
    /* Raw signing = raw decryption; raw encryption of the signature returns
     * the left-padded input. */
    uint8_t sig[256], back[256];
    size_t len = sizeof(sig), blen = sizeof(back);
    assert_rc(tcrypto_sign(g_rsa, &p, in, sizeof(in), sig, &len), TCRYPTO_OK);
    tcrypto_rsa_enc_params ep = {.pad = TCRYPTO_RSA_PAD_NONE};
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &ep, sig, len, back, &blen), TCRYPTO_OK);
    assert_int_equal(blen, 256);
    for (size_t i = 0; i < 236; i++)
        assert_int_equal(back[i], 0);
    assert_memory_equal(back + 236, in, 20);
    /* Input >= n is refused */
    uint8_t n[256];
    size_t nl = sizeof(n);
    assert_rc(tcrypto_pkey_get_part(g_rsa, TCRYPTO_PART_RSA_N, n, &nl), TCRYPTO_OK);
    assert_int_equal(nl, 256);
    len = sizeof(sig);
    assert_rc(tcrypto_sign(g_rsa, &p, n, nl, sig, &len), TCRYPTO_ERR_INPUT);
    uint8_t big[257] = {0};
    assert_rc(tcrypto_sign(g_rsa, &p, big, 257, sig, &len), TCRYPTO_ERR_INPUT);
    /* Empty input signs as zero */
    len = sizeof(sig);
    assert_rc(tcrypto_sign(g_rsa, &p, NULL, 0, sig, &len), TCRYPTO_OK);
}

static void test_rsa_cli_vectors(void **state)
{
    (void)state;
    size_t l8, ls, lsig, lpss;
    uint8_t *p8 = unhex(cli_rsa_pkcs8, &l8);
    uint8_t *spki = unhex(cli_rsa_spki, &ls);
    uint8_t *sig = unhex(cli_rsa_pkcs1_sig, &lsig);
    uint8_t *pss = unhex(cli_rsa_pss_sig, &lpss);
    uint8_t h[32], out[256];
    sha256(cli_msg, sizeof(cli_msg) - 1, h);
    tcrypto_pkey *priv = NULL, *pub = NULL;
    assert_rc(tcrypto_pkey_from_pkcs8(p8, l8, &priv), TCRYPTO_OK);
    assert_rc(tcrypto_pkey_from_spki(spki, ls, &pub), TCRYPTO_OK);
    assert_false(tcrypto_pkey_has_private(pub));
    /* PKCS#1 v1.5 is deterministic: same bytes as openssl dgst -sign */
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_RSA_PKCS1, .md = TCRYPTO_MD_SHA256};
    size_t len = sizeof(out);
    assert_rc(tcrypto_sign(priv, &p, h, 32, out, &len), TCRYPTO_OK);
    assert_int_equal(len, lsig);
    assert_memory_equal(out, sig, lsig);
    assert_rc(tcrypto_verify(pub, &p, h, 32, sig, lsig), TCRYPTO_OK);
    tcrypto_sig_params ps = {
        .scheme = TCRYPTO_SIG_RSA_PSS, .md = TCRYPTO_MD_SHA256, .salt_len = 32};
    assert_rc(tcrypto_verify(pub, &ps, h, 32, pss, lpss), TCRYPTO_OK);
    pss[10] ^= 1;
    assert_rc(tcrypto_verify(pub, &ps, h, 32, pss, lpss), TCRYPTO_ERR_VERIFY);
    /* Encodings round-trip byte for byte */
    uint8_t der[2048];
    len = sizeof(der);
    assert_rc(tcrypto_pkey_to_pkcs8(priv, der, &len), TCRYPTO_OK);
    assert_int_equal(len, l8);
    assert_memory_equal(der, p8, l8);
    len = sizeof(der);
    assert_rc(tcrypto_pkey_to_spki(priv, der, &len), TCRYPTO_OK);
    assert_int_equal(len, ls);
    assert_memory_equal(der, spki, ls);
    /* Public key cannot sign, export private parts or PKCS#8 */
    len = sizeof(out);
    assert_rc(tcrypto_sign(pub, &p, h, 32, out, &len), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_pkey_get_part(pub, TCRYPTO_PART_RSA_D, out, &len), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_pkey_to_pkcs8(pub, der, &len), TCRYPTO_ERR_KEY);
    /* Malformed DER, trailing bytes */
    assert_rc(tcrypto_pkey_from_pkcs8(p8, l8 - 1, &pub), TCRYPTO_ERR_KEY);
    uint8_t *p8x = malloc(l8 + 1);
    memcpy(p8x, p8, l8);
    p8x[l8] = 0;
    tcrypto_pkey *bad = NULL;
    assert_rc(tcrypto_pkey_from_pkcs8(p8x, l8 + 1, &bad), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_pkey_from_spki(spki, ls - 1, &bad), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_pkey_from_spki(p8, l8, &bad), TCRYPTO_ERR_KEY);
    assert_null(bad);
    free(p8x);
    tcrypto_pkey_free(priv);
    tcrypto_pkey_free(pub);
    free(p8);
    free(spki);
    free(sig);
    free(pss);
}

static void test_rsa_parts(void **state)
{
    (void)state;
    static const tcrypto_part parts[8] = {
        TCRYPTO_PART_RSA_N,  TCRYPTO_PART_RSA_E,  TCRYPTO_PART_RSA_D,  TCRYPTO_PART_RSA_P,
        TCRYPTO_PART_RSA_Q,  TCRYPTO_PART_RSA_DP, TCRYPTO_PART_RSA_DQ, TCRYPTO_PART_RSA_QINV};
    uint8_t buf[8][256];
    size_t len[8];
    for (int i = 0; i < 8; i++) {
        len[i] = 0;
        assert_rc(tcrypto_pkey_get_part(g_rsa, parts[i], NULL, &len[i]), TCRYPTO_OK);
        size_t want = len[i];
        len[i] = want - 1;
        assert_rc(tcrypto_pkey_get_part(g_rsa, parts[i], buf[i], &len[i]), TCRYPTO_ERR_BUFFER);
        assert_int_equal(len[i], want);
        assert_rc(tcrypto_pkey_get_part(g_rsa, parts[i], buf[i], &len[i]), TCRYPTO_OK);
    }
    assert_int_equal(len[0], 256);
    assert_int_equal(len[3], 128);
    tcrypto_rsa_parts rp = {
        .n = buf[0], .e = buf[1], .d = buf[2], .p = buf[3], .q = buf[4],
        .dp = buf[5], .dq = buf[6], .qinv = buf[7],
        .n_len = len[0], .e_len = len[1], .d_len = len[2], .p_len = len[3], .q_len = len[4],
        .dp_len = len[5], .dq_len = len[6], .qinv_len = len[7]};
    tcrypto_pkey *k = NULL, *pub = NULL, *nocrt = NULL;
    assert_rc(tcrypto_rsa_from_parts(&rp, &k), TCRYPTO_OK);
    assert_true(tcrypto_pkey_has_private(k));
    uint8_t h[32];
    sha256("parts", 5, h);
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_RSA_PKCS1, .md = TCRYPTO_MD_SHA256};
    uint8_t s1[256], s2[256];
    size_t l1 = sizeof(s1), l2 = sizeof(s2);
    assert_rc(tcrypto_sign(k, &p, h, 32, s1, &l1), TCRYPTO_OK);
    assert_rc(tcrypto_sign(g_rsa, &p, h, 32, s2, &l2), TCRYPTO_OK);
    assert_memory_equal(s1, s2, 256);
    /* n, e, d only (no CRT) still signs identically */
    tcrypto_rsa_parts nd = {.n = buf[0], .e = buf[1], .d = buf[2],
                            .n_len = len[0], .e_len = len[1], .d_len = len[2]};
    assert_rc(tcrypto_rsa_from_parts(&nd, &nocrt), TCRYPTO_OK);
    l1 = sizeof(s1);
    assert_rc(tcrypto_sign(nocrt, &p, h, 32, s1, &l1), TCRYPTO_OK);
    assert_memory_equal(s1, s2, 256);
    /* the CRT values are recovered (SP 800-56B Appendix C): same key */
    for (int i = 3; i < 8; i++) {
        uint8_t v[256];
        size_t vl = sizeof(v);
        assert_rc(tcrypto_pkey_get_part(nocrt, parts[i], v, &vl), TCRYPTO_OK);
        assert_int_equal(vl, len[i]);
        assert_memory_equal(v, buf[i], vl);
    }
    uint8_t der1[2048], der2[2048];
    size_t d1 = sizeof(der1), d2 = sizeof(der2);
    assert_rc(tcrypto_pkey_to_pkcs8(nocrt, der1, &d1), TCRYPTO_OK);
    assert_rc(tcrypto_pkey_to_pkcs8(g_rsa, der2, &d2), TCRYPTO_OK);
    assert_int_equal(d1, d2);
    assert_memory_equal(der1, der2, d1);
    /* d that does not belong to (n, e): cannot factor, refused */
    tcrypto_pkey *bad = NULL;
    uint8_t dbad[256];
    memcpy(dbad, buf[2], len[2]);
    dbad[len[2] - 1] ^= 0x02;
    tcrypto_rsa_parts wrongd = nd;
    wrongd.d = dbad;
    assert_rc(tcrypto_rsa_from_parts(&wrongd, &bad), TCRYPTO_ERR_KEY);
    /* factors whose product is not n */
    tcrypto_rsa_parts swapped = rp;
    uint8_t pbad[128];
    memcpy(pbad, buf[3], len[3]);
    pbad[len[3] - 1] ^= 0x02;
    swapped.p = pbad;
    assert_rc(tcrypto_rsa_from_parts(&swapped, &bad), TCRYPTO_ERR_KEY);
    /* Public only */
    tcrypto_rsa_parts pp = {.n = buf[0], .e = buf[1], .n_len = len[0], .e_len = len[1]};
    assert_rc(tcrypto_rsa_from_parts(&pp, &pub), TCRYPTO_OK);
    assert_false(tcrypto_pkey_has_private(pub));
    assert_rc(tcrypto_verify(pub, &p, h, 32, s2, l2), TCRYPTO_OK);
    /* Some CRT parts but not all; even modulus; even exponent */
    tcrypto_rsa_parts part = rp;
    part.qinv = NULL;
    assert_rc(tcrypto_rsa_from_parts(&part, &bad), TCRYPTO_ERR_ARG);
    uint8_t n2[256];
    memcpy(n2, buf[0], 256);
    n2[255] &= 0xfe;
    tcrypto_rsa_parts evn = pp;
    evn.n = n2;
    assert_rc(tcrypto_rsa_from_parts(&evn, &bad), TCRYPTO_ERR_KEY);
    static const uint8_t e2[] = {0x01, 0x00, 0x00};
    tcrypto_rsa_parts eve = pp;
    eve.e = e2;
    eve.e_len = 3;
    assert_rc(tcrypto_rsa_from_parts(&eve, &bad), TCRYPTO_ERR_KEY);
    tcrypto_rsa_parts small = pp;
    small.n_len = 32; /* 256-bit "modulus" */
    small.n = buf[0] + 224;
    n2[0] = 0;
    assert_rc(tcrypto_rsa_from_parts(&small, &bad), TCRYPTO_ERR_UNSUPPORTED);
    assert_null(bad);
    /* tcrypto_pkey_public drops the private half */
    tcrypto_pkey *pub2 = NULL;
    assert_rc(tcrypto_pkey_public(k, &pub2), TCRYPTO_OK);
    assert_false(tcrypto_pkey_has_private(pub2));
    assert_rc(tcrypto_verify(pub2, &p, h, 32, s2, l2), TCRYPTO_OK);
    l1 = sizeof(s1);
    assert_rc(tcrypto_sign(pub2, &p, h, 32, s1, &l1), TCRYPTO_ERR_KEY);
    /* Reference counting: an extra reference keeps the key alive */
    tcrypto_pkey_ref(k);
    tcrypto_pkey_free(k);
    l1 = sizeof(s1);
    assert_rc(tcrypto_sign(k, &p, h, 32, s1, &l1), TCRYPTO_OK);
    tcrypto_pkey_free(k);
    tcrypto_pkey_free(pub);
    tcrypto_pkey_free(pub2);
    tcrypto_pkey_free(nocrt);
}

/* ---- RSA encryption -------------------------------------------------------------- */

static void test_rsa_oaep(void **state)
{
    (void)state;
    static const uint8_t label[] = "tessera-label";
    tcrypto_rsa_enc_params p = {.pad = TCRYPTO_RSA_PAD_OAEP,
                                .md = TCRYPTO_MD_SHA256,
                                .label = label,
                                .label_len = sizeof(label) - 1};
    uint8_t msg[190], ct[256], back[256];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7);
    size_t len = 0;
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &p, msg, 190, NULL, &len), TCRYPTO_OK);
    assert_int_equal(len, 256);
    len = sizeof(ct);
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &p, msg, 191, ct, &len), TCRYPTO_ERR_INPUT);
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &p, msg, 190, ct, &len), TCRYPTO_OK);
    size_t blen = 0;
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &p, ct, len, NULL, &blen), TCRYPTO_OK);
    assert_int_equal(blen, 190); /* upper bound k - 2h - 2 */
    blen = 189;
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &p, ct, len, back, &blen), TCRYPTO_ERR_BUFFER);
    assert_int_equal(blen, 190);
    blen = sizeof(back);
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &p, ct, len, back, &blen), TCRYPTO_OK);
    assert_int_equal(blen, 190);
    assert_memory_equal(back, msg, 190);
    /* Wrong label, wrong hash, modified ciphertext: one error, nothing written */
    memset(back, 0xee, sizeof(back));
    tcrypto_rsa_enc_params q = p;
    q.label_len--;
    blen = sizeof(back);
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &q, ct, len, back, &blen), TCRYPTO_ERR_DECRYPT);
    q = p;
    q.label = NULL;
    q.label_len = 0;
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &q, ct, len, back, &blen), TCRYPTO_ERR_DECRYPT);
    q = p;
    q.mgf1_md = TCRYPTO_MD_SHA1;
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &q, ct, len, back, &blen), TCRYPTO_ERR_DECRYPT);
    ct[100] ^= 1;
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &p, ct, len, back, &blen), TCRYPTO_ERR_DECRYPT);
    assert_int_equal(back[0], 0xee);
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &p, ct, len - 1, back, &blen), TCRYPTO_ERR_INPUT);
    /* Empty message, SHA-1 with MGF1-SHA-1 */
    tcrypto_rsa_enc_params s1 = {.pad = TCRYPTO_RSA_PAD_OAEP, .md = TCRYPTO_MD_SHA1};
    len = sizeof(ct);
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &s1, NULL, 0, ct, &len), TCRYPTO_OK);
    blen = sizeof(back);
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &s1, ct, len, back, &blen), TCRYPTO_OK);
    assert_int_equal(blen, 0);
    s1.md = TCRYPTO_MD_NONE;
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &s1, msg, 1, ct, &len), TCRYPTO_ERR_ARG);
}

static void test_rsa_pkcs1_enc(void **state)
{
    (void)state;
    tcrypto_rsa_enc_params p = {.pad = TCRYPTO_RSA_PAD_PKCS1};
    uint8_t msg[245] = {9, 8, 7}, ct[256], back[256];
    size_t len = sizeof(ct), blen = sizeof(back);
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &p, msg, 246, ct, &len), TCRYPTO_ERR_INPUT);
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &p, msg, 16, ct, &len), TCRYPTO_OK);
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &p, ct, len, back, &blen), TCRYPTO_OK);
    assert_int_equal(blen, 16);
    assert_memory_equal(back, msg, 16);
    /* A ciphertext whose plaintext is not PKCS#1 type 2 padded: raw-encrypt
     * a block starting 00 01 (signature padding). */
    uint8_t em[256] = {0x00, 0x01};
    memset(em + 2, 0xff, 200);
    tcrypto_rsa_enc_params raw = {.pad = TCRYPTO_RSA_PAD_NONE};
    len = sizeof(ct);
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &raw, em, 256, ct, &len), TCRYPTO_OK);
    blen = sizeof(back);
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &p, ct, len, back, &blen), TCRYPTO_ERR_DECRYPT);
    /* raw decrypt gives the block back */
    blen = sizeof(back);
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &raw, ct, len, back, &blen), TCRYPTO_OK);
    assert_int_equal(blen, 256);
    assert_memory_equal(back, em, 256);
    /* raw: input >= n refused */
    uint8_t n[256];
    size_t nl = sizeof(n);
    assert_rc(tcrypto_pkey_get_part(g_rsa, TCRYPTO_PART_RSA_N, n, &nl), TCRYPTO_OK);
    len = sizeof(ct);
    assert_rc(tcrypto_rsa_encrypt(g_rsa, &raw, n, nl, ct, &len), TCRYPTO_ERR_INPUT);
    blen = sizeof(back);
    assert_rc(tcrypto_rsa_decrypt(g_rsa, &raw, n, nl, back, &blen), TCRYPTO_ERR_INPUT);
    /* RSA encryption with an EC key */
    assert_rc(tcrypto_rsa_encrypt(g_ec[0], &p, msg, 16, ct, &len), TCRYPTO_ERR_KEY);
}

/* ---- ECDSA ----------------------------------------------------------------------- */

static void test_ecdsa_curves(void **state)
{
    (void)state;
    static const size_t fl[3] = {32, 48, 66};
    static const size_t bits[3] = {256, 384, 521};
    for (int i = 0; i < 3; i++) {
        tcrypto_pkey *k = g_ec[i];
        assert_int_equal(tcrypto_pkey_type(k), TCRYPTO_KEY_EC);
        assert_int_equal(tcrypto_pkey_bits(k), bits[i]);
        assert_int_equal(tcrypto_curve_bits(tcrypto_pkey_curve(k)), bits[i]);
        tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_ECDSA};
        assert_int_equal(tcrypto_sig_size(k, &p), 2 * fl[i]);
        uint8_t h[64];
        size_t hl = sizeof(h);
        assert_rc(tcrypto_digest_oneshot(TCRYPTO_MD_SHA512, "m", 1, h, &hl), TCRYPTO_OK);
        sign_verify_cycle(k, &p, h, 20);  /* shorter than the order */
        sign_verify_cycle(k, &p, h, 64);  /* longer: truncated (FIPS 186-5 §6.4.1) */
        uint8_t sig[132];
        size_t len = sizeof(sig);
        assert_rc(tcrypto_sign(k, &p, NULL, 0, sig, &len), TCRYPTO_ERR_INPUT);
        /* parts round trip */
        uint8_t pt[133], d[66];
        size_t ptl = sizeof(pt), dl = sizeof(d);
        assert_rc(tcrypto_pkey_get_part(k, TCRYPTO_PART_EC_POINT, pt, &ptl), TCRYPTO_OK);
        assert_int_equal(ptl, 1 + 2 * fl[i]);
        assert_int_equal(pt[0], 0x04);
        assert_rc(tcrypto_pkey_get_part(k, TCRYPTO_PART_EC_PRIV, d, &dl), TCRYPTO_OK);
        assert_int_equal(dl, fl[i]);
        tcrypto_pkey *a = NULL, *b = NULL, *c = NULL;
        tcrypto_curve cv = tcrypto_pkey_curve(k);
        assert_rc(tcrypto_ec_from_parts(cv, pt, ptl, d, dl, &a), TCRYPTO_OK);
        assert_rc(tcrypto_ec_from_parts(cv, NULL, 0, d, dl, &b), TCRYPTO_OK); /* derives Q */
        assert_rc(tcrypto_ec_from_parts(cv, pt, ptl, NULL, 0, &c), TCRYPTO_OK);
        uint8_t pt2[133];
        size_t ptl2 = sizeof(pt2);
        assert_rc(tcrypto_pkey_get_part(b, TCRYPTO_PART_EC_POINT, pt2, &ptl2), TCRYPTO_OK);
        assert_memory_equal(pt, pt2, ptl);
        len = sizeof(sig);
        assert_rc(tcrypto_sign(b, &p, h, 32, sig, &len), TCRYPTO_OK);
        assert_rc(tcrypto_verify(c, &p, h, 32, sig, len), TCRYPTO_OK);
        assert_rc(tcrypto_sign(c, &p, h, 32, sig, &len), TCRYPTO_ERR_KEY);
        dl = sizeof(d);
        assert_rc(tcrypto_pkey_get_part(c, TCRYPTO_PART_EC_PRIV, d, &dl), TCRYPTO_ERR_KEY);
        /* PKCS#8 and SPKI round trips */
        uint8_t der[512];
        size_t derl = sizeof(der);
        tcrypto_pkey *e = NULL;
        assert_rc(tcrypto_pkey_to_pkcs8(a, der, &derl), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_from_pkcs8(der, derl, &e), TCRYPTO_OK);
        assert_int_equal(tcrypto_pkey_curve(e), cv);
        len = sizeof(sig);
        assert_rc(tcrypto_sign(e, &p, h, 32, sig, &len), TCRYPTO_OK);
        assert_rc(tcrypto_verify(k, &p, h, 32, sig, len), TCRYPTO_OK);
        tcrypto_pkey_free(e);
        derl = sizeof(der);
        assert_rc(tcrypto_pkey_to_spki(a, der, &derl), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_from_spki(der, derl, &e), TCRYPTO_OK);
        assert_false(tcrypto_pkey_has_private(e));
        assert_rc(tcrypto_verify(e, &p, h, 32, sig, len), TCRYPTO_OK);
        tcrypto_pkey_free(e);
        tcrypto_pkey_free(a);
        tcrypto_pkey_free(b);
        tcrypto_pkey_free(c);
    }
}

static void test_ec_from_parts_invalid(void **state)
{
    (void)state;
    uint8_t pt[65], d[32], pt2[65];
    size_t ptl = sizeof(pt), dl = sizeof(d), ptl2 = sizeof(pt2);
    tcrypto_pkey *k = NULL;
    assert_rc(tcrypto_pkey_get_part(g_ec[0], TCRYPTO_PART_EC_POINT, pt, &ptl), TCRYPTO_OK);
    assert_rc(tcrypto_pkey_get_part(g_ec[0], TCRYPTO_PART_EC_PRIV, d, &dl), TCRYPTO_OK);
    /* point not on the curve */
    pt[64] ^= 1;
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, pt, ptl, NULL, 0, &k), TCRYPTO_ERR_KEY);
    pt[64] ^= 1;
    /* compressed or wrong-length encodings */
    pt[0] = 0x02;
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, pt, 33, NULL, 0, &k), TCRYPTO_ERR_KEY);
    pt[0] = 0x04;
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, pt, 64, NULL, 0, &k), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P384, pt, 65, NULL, 0, &k), TCRYPTO_ERR_KEY);
    /* private scalar 0 and n */
    uint8_t zero[32] = {0};
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, NULL, 0, zero, 32, &k), TCRYPTO_ERR_KEY);
    size_t nl;
    uint8_t *n = unhex(P256_N, &nl);
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, NULL, 0, n, nl, &k), TCRYPTO_ERR_KEY);
    free(n);
    /* halves from different keys */
    assert_rc(tcrypto_pkey_get_part(g_ec[0], TCRYPTO_PART_EC_POINT, pt2, &ptl2), TCRYPTO_OK);
    d[31] ^= 1;
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, pt2, ptl2, d, dl, &k), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_NONE, pt2, ptl2, NULL, 0, &k),
              TCRYPTO_ERR_UNSUPPORTED);
    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_NONE, &k), TCRYPTO_ERR_UNSUPPORTED);
    assert_null(k);
}

static void test_ecdsa_cli_vector(void **state)
{
    (void)state;
    size_t pl, dl;
    uint8_t *pt = unhex(cli_ec_point, &pl);
    uint8_t *der = unhex(cli_ec_sig_der, &dl);
    uint8_t h[32], rs[64], der2[80];
    sha256(cli_msg, sizeof(cli_msg) - 1, h);
    size_t rsl = sizeof(rs), d2l = sizeof(der2);
    assert_rc(tcrypto_ecdsa_sig_from_der(der, dl, 32, rs, &rsl), TCRYPTO_OK);
    assert_int_equal(rsl, 64);
    assert_rc(tcrypto_ecdsa_sig_to_der(rs, rsl, der2, &d2l), TCRYPTO_OK);
    assert_int_equal(d2l, dl);
    assert_memory_equal(der2, der, dl);
    tcrypto_pkey *k = NULL;
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, pt, pl, NULL, 0, &k), TCRYPTO_OK);
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_ECDSA};
    assert_rc(tcrypto_verify(k, &p, h, 32, rs, rsl), TCRYPTO_OK);
    /* r or s = 0, r or s = n, s replaced by n - s is still valid (ECDSA
     * malleability is not an error), r + n is not representable */
    uint8_t bad[64];
    size_t nl;
    uint8_t *n = unhex(P256_N, &nl);
    memcpy(bad, rs, 64);
    memset(bad, 0, 32);
    assert_rc(tcrypto_verify(k, &p, h, 32, bad, 64), TCRYPTO_ERR_VERIFY);
    memcpy(bad, rs, 64);
    memset(bad + 32, 0, 32);
    assert_rc(tcrypto_verify(k, &p, h, 32, bad, 64), TCRYPTO_ERR_VERIFY);
    memcpy(bad, n, 32);
    assert_rc(tcrypto_verify(k, &p, h, 32, bad, 64), TCRYPTO_ERR_VERIFY);
    memcpy(bad, rs, 32);
    memcpy(bad + 32, n, 32);
    assert_rc(tcrypto_verify(k, &p, h, 32, bad, 64), TCRYPTO_ERR_VERIFY);
    memset(bad, 0xff, 64);
    assert_rc(tcrypto_verify(k, &p, h, 32, bad, 64), TCRYPTO_ERR_VERIFY);
    /* wrong lengths, DER given where r||s expected */
    assert_rc(tcrypto_verify(k, &p, h, 32, rs, 63), TCRYPTO_ERR_VERIFY);
    assert_rc(tcrypto_verify(k, &p, h, 32, der, dl), TCRYPTO_ERR_VERIFY);
    /* other digest */
    h[0] ^= 1;
    assert_rc(tcrypto_verify(k, &p, h, 32, rs, rsl), TCRYPTO_ERR_VERIFY);
    free(n);
    free(pt);
    free(der);
    tcrypto_pkey_free(k);
}

static void test_ecdsa_der(void **state)
{
    (void)state;
    uint8_t rs[64], der[80], back[64];
    size_t dl, bl;
    /* small r and s with the top bit set: minimal encoding with 00 pad */
    memset(rs, 0, 64);
    rs[31] = 0x80;
    rs[63] = 0x01;
    dl = sizeof(der);
    assert_rc(tcrypto_ecdsa_sig_to_der(rs, 64, der, &dl), TCRYPTO_OK);
    assert_hex(der, dl, "3007020200800201" "01");
    bl = sizeof(back);
    assert_rc(tcrypto_ecdsa_sig_from_der(der, dl, 32, back, &bl), TCRYPTO_OK);
    assert_memory_equal(back, rs, 64);
    dl = 3;
    assert_rc(tcrypto_ecdsa_sig_to_der(rs, 64, der, &dl), TCRYPTO_ERR_BUFFER);
    assert_int_equal(dl, 9);
    assert_rc(tcrypto_ecdsa_sig_to_der(rs, 63, der, &dl), TCRYPTO_ERR_ARG);
    /* P-521 size needs the long length form */
    uint8_t rs521[132], der521[141], back521[132];
    memset(rs521, 0xff, sizeof(rs521));
    rs521[0] = 0x01;
    rs521[66] = 0x01;
    dl = sizeof(der521);
    assert_rc(tcrypto_ecdsa_sig_to_der(rs521, 132, der521, &dl), TCRYPTO_OK);
    assert_int_equal(der521[1], 0x81);
    bl = sizeof(back521);
    assert_rc(tcrypto_ecdsa_sig_from_der(der521, dl, 66, back521, &bl), TCRYPTO_OK);
    assert_memory_equal(back521, rs521, 132);
    /* malformed: non-minimal integer, negative, trailing byte, bad lengths,
     * value longer than the field */
    static const char *bad[] = {
        "300802030000800201" "01", /* 00 00 80: non-minimal */
        "3006020180020101",       /* r = -128 */
        "30070202008002010100",   /* trailing byte after the sequence */
        "3008020200800201",       /* truncated */
        "3107020200800201" "01",  /* not a SEQUENCE */
        "308107020200800201" "01", /* long length form where the short one is due */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n;
        uint8_t *b = unhex(bad[i], &n);
        bl = sizeof(back);
        assert_rc(tcrypto_ecdsa_sig_from_der(b, n, 32, back, &bl), TCRYPTO_ERR_INPUT);
        free(b);
    }
    /* r of 33 significant bytes for a 32-byte field */
    uint8_t big[40] = {0x30, 0x26, 0x02, 0x21, 0x01};
    big[37] = 0x02;
    big[38] = 0x01;
    big[39] = 0x01;
    bl = sizeof(back);
    assert_rc(tcrypto_ecdsa_sig_from_der(big, 40, 32, back, &bl), TCRYPTO_ERR_INPUT);
}

/* ---- EdDSA ------------------------------------------------------------------------ */

static void ed_vector(tcrypto_key_type type, const char *skhex, const char *pkhex,
                      const char *msghex, const char *sighex)
{
    size_t skl, pkl, ml, sl;
    uint8_t *sk = unhex(skhex, &skl);
    uint8_t *pk = unhex(pkhex, &pkl);
    uint8_t *msg = unhex(msghex, &ml);
    uint8_t *want = unhex(sighex, &sl);
    tcrypto_pkey *k = NULL, *pub = NULL;
    assert_rc(tcrypto_raw_from_parts(type, NULL, 0, sk, skl, &k), TCRYPTO_OK);
    uint8_t out[64];
    size_t outl = sizeof(out);
    assert_rc(tcrypto_pkey_get_part(k, TCRYPTO_PART_EC_POINT, out, &outl), TCRYPTO_OK);
    assert_int_equal(outl, pkl);
    assert_memory_equal(out, pk, pkl); /* public key derived per RFC 8032 */
    tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_EDDSA};
    uint8_t sig[114];
    size_t siglen = sizeof(sig);
    assert_rc(tcrypto_sign(k, &p, ml ? msg : NULL, ml, sig, &siglen), TCRYPTO_OK);
    assert_int_equal(siglen, sl);
    assert_memory_equal(sig, want, sl);
    assert_rc(tcrypto_raw_from_parts(type, pk, pkl, NULL, 0, &pub), TCRYPTO_OK);
    assert_rc(tcrypto_verify(pub, &p, ml ? msg : NULL, ml, want, sl), TCRYPTO_OK);
    want[sl - 1] ^= 0x40;
    assert_rc(tcrypto_verify(pub, &p, ml ? msg : NULL, ml, want, sl), TCRYPTO_ERR_VERIFY);
    assert_rc(tcrypto_verify(pub, &p, ml ? msg : NULL, ml, want, sl - 1), TCRYPTO_ERR_VERIFY);
    tcrypto_pkey_free(k);
    tcrypto_pkey_free(pub);
    free(sk);
    free(pk);
    free(msg);
    free(want);
}

static void test_ed25519_rfc8032(void **state)
{
    (void)state;
    /* RFC 8032 §7.1 TEST 1, 2, 3 */
    ed_vector(TCRYPTO_KEY_ED25519,
              "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
              "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
              "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
              "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    ed_vector(TCRYPTO_KEY_ED25519,
              "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
              "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
              "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
              "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
    ed_vector(TCRYPTO_KEY_ED25519,
              "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
              "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
              "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
              "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a");
}

static void test_ed448_rfc8032(void **state)
{
    (void)state;
    /* RFC 8032 §7.4 -----Blank */
    ed_vector(TCRYPTO_KEY_ED448,
              "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3"
              "528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
              "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778"
              "edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
              "",
              "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f"
              "2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a"
              "9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4db"
              "b61149f05a7363268c71d95808ff2e652600");
}

static void test_eddsa_generated(void **state)
{
    (void)state;
    tcrypto_key_type types[2] = {TCRYPTO_KEY_ED25519, TCRYPTO_KEY_ED448};
    static const size_t siglen[2] = {64, 114}, klen[2] = {32, 57};
    for (int i = 0; i < 2; i++) {
        tcrypto_pkey *k = NULL, *k2 = NULL, *pub = NULL;
        assert_rc(tcrypto_raw_generate(types[i], &k), TCRYPTO_OK);
        assert_int_equal(tcrypto_pkey_type(k), types[i]);
        tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_EDDSA};
        assert_int_equal(tcrypto_sig_size(k, &p), siglen[i]);
        static const uint8_t msg[] = "a message of some length for EdDSA";
        sign_verify_cycle(k, &p, msg, sizeof(msg));
        /* Ed25519ph / context: not available in OpenSSL 3.0 */
        tcrypto_sig_params ph = p;
        ph.eddsa_ph = true;
        uint8_t sig[114];
        size_t sl = sizeof(sig);
        assert_rc(tcrypto_sign(k, &ph, msg, 5, sig, &sl), TCRYPTO_ERR_UNSUPPORTED);
        tcrypto_sig_params ctx = p;
        ctx.context = (const uint8_t *)"ctx";
        ctx.context_len = 3;
        assert_rc(tcrypto_sign(k, &ctx, msg, 5, sig, &sl), TCRYPTO_ERR_UNSUPPORTED);
        ctx.context_len = 256;
        assert_rc(tcrypto_sign(k, &ctx, msg, 5, sig, &sl), TCRYPTO_ERR_ARG);
        /* parts, PKCS#8, SPKI round trips */
        uint8_t pub_raw[57], priv_raw[57];
        size_t pl = sizeof(pub_raw), dl = sizeof(priv_raw);
        assert_rc(tcrypto_pkey_get_part(k, TCRYPTO_PART_EC_POINT, pub_raw, &pl), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_get_part(k, TCRYPTO_PART_EC_PRIV, priv_raw, &dl), TCRYPTO_OK);
        assert_int_equal(pl, klen[i]);
        assert_int_equal(dl, klen[i]);
        assert_rc(tcrypto_raw_from_parts(types[i], pub_raw, pl, priv_raw, dl, &k2), TCRYPTO_OK);
        sl = sizeof(sig);
        assert_rc(tcrypto_sign(k2, &p, msg, 5, sig, &sl), TCRYPTO_OK);
        assert_rc(tcrypto_verify(k, &p, msg, 5, sig, sl), TCRYPTO_OK);
        tcrypto_pkey_free(k2);
        k2 = NULL;
        pub_raw[0] ^= 1; /* halves do not match */
        assert_rc(tcrypto_raw_from_parts(types[i], pub_raw, pl, priv_raw, dl, &k2),
                  TCRYPTO_ERR_KEY);
        assert_rc(tcrypto_raw_from_parts(types[i], pub_raw, pl - 1, NULL, 0, &k2),
                  TCRYPTO_ERR_KEY);
        uint8_t der[256];
        size_t derl = sizeof(der);
        assert_rc(tcrypto_pkey_to_pkcs8(k, der, &derl), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_from_pkcs8(der, derl, &k2), TCRYPTO_OK);
        assert_int_equal(tcrypto_pkey_type(k2), types[i]);
        derl = sizeof(der);
        assert_rc(tcrypto_pkey_to_spki(k, der, &derl), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_from_spki(der, derl, &pub), TCRYPTO_OK);
        sl = sizeof(sig);
        assert_rc(tcrypto_sign(k2, &p, msg, 5, sig, &sl), TCRYPTO_OK);
        assert_rc(tcrypto_verify(pub, &p, msg, 5, sig, sl), TCRYPTO_OK);
        assert_rc(tcrypto_sign(pub, &p, msg, 5, sig, &sl), TCRYPTO_ERR_KEY);
        /* EdDSA with an X25519-type scheme mismatch */
        tcrypto_sig_params e = {.scheme = TCRYPTO_SIG_ECDSA};
        assert_rc(tcrypto_sign(k, &e, msg, 5, sig, &sl), TCRYPTO_ERR_KEY);
        tcrypto_pkey_free(k);
        tcrypto_pkey_free(k2);
        tcrypto_pkey_free(pub);
    }
}

/* ---- key agreement ------------------------------------------------------------------ */

static void x_vector(tcrypto_key_type type, const char *a_priv, const char *a_pub,
                     const char *b_priv, const char *b_pub, const char *shared)
{
    size_t al, apl, bl, bpl, n;
    uint8_t *a = unhex(a_priv, &al), *ap = unhex(a_pub, &apl);
    uint8_t *b = unhex(b_priv, &bl), *bp = unhex(b_pub, &bpl);
    tcrypto_pkey *ka = NULL, *kb = NULL;
    assert_rc(tcrypto_raw_from_parts(type, NULL, 0, a, al, &ka), TCRYPTO_OK);
    assert_rc(tcrypto_raw_from_parts(type, bp, bpl, b, bl, &kb), TCRYPTO_OK);
    uint8_t pub[56], s[56];
    size_t pl = sizeof(pub), sl = 0;
    assert_rc(tcrypto_pkey_get_part(ka, TCRYPTO_PART_EC_POINT, pub, &pl), TCRYPTO_OK);
    assert_memory_equal(pub, ap, apl);
    assert_rc(tcrypto_derive(ka, bp, bpl, NULL, &sl), TCRYPTO_OK);
    assert_int_equal(sl, al);
    sl = al - 1;
    assert_rc(tcrypto_derive(ka, bp, bpl, s, &sl), TCRYPTO_ERR_BUFFER);
    sl = sizeof(s);
    assert_rc(tcrypto_derive(ka, bp, bpl, s, &sl), TCRYPTO_OK);
    assert_hex(s, sl, shared);
    sl = sizeof(s);
    assert_rc(tcrypto_derive(kb, ap, apl, s, &sl), TCRYPTO_OK);
    assert_hex(s, sl, shared);
    /* small-order peer (u = 0): all-zero secret refused (RFC 7748 §6) */
    uint8_t zero[56] = {0};
    sl = sizeof(s);
    assert_rc(tcrypto_derive(ka, zero, apl, s, &sl), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_derive(ka, bp, bpl - 1, s, &sl), TCRYPTO_ERR_KEY);
    (void)n;
    tcrypto_pkey_free(ka);
    tcrypto_pkey_free(kb);
    free(a);
    free(ap);
    free(b);
    free(bp);
}

static void test_x25519_x448_rfc7748(void **state)
{
    (void)state;
    /* RFC 7748 §6.1 and §6.2 */
    x_vector(TCRYPTO_KEY_X25519,
             "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
             "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
             "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
             "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
             "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    x_vector(TCRYPTO_KEY_X448,
             "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf5"
             "74a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
             "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bb"
             "c836647241d953d40c5b12da88120d53177f80e532c41fa0",
             "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120"
             "bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
             "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972"
             "fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
             "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56"
             "fd2464c335543936521c24403085d59a449a5037514a879d");
}

static void test_x_generated(void **state)
{
    (void)state;
    tcrypto_key_type types[2] = {TCRYPTO_KEY_X25519, TCRYPTO_KEY_X448};
    for (int i = 0; i < 2; i++) {
        tcrypto_pkey *a = NULL, *b = NULL;
        assert_rc(tcrypto_raw_generate(types[i], &a), TCRYPTO_OK);
        assert_rc(tcrypto_raw_generate(types[i], &b), TCRYPTO_OK);
        uint8_t pa[56], pb[56], s1[56], s2[56];
        size_t la = sizeof(pa), lb = sizeof(pb), l1 = sizeof(s1), l2 = sizeof(s2);
        assert_rc(tcrypto_pkey_get_part(a, TCRYPTO_PART_EC_POINT, pa, &la), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_get_part(b, TCRYPTO_PART_EC_POINT, pb, &lb), TCRYPTO_OK);
        assert_rc(tcrypto_derive(a, pb, lb, s1, &l1), TCRYPTO_OK);
        assert_rc(tcrypto_derive(b, pa, la, s2, &l2), TCRYPTO_OK);
        assert_int_equal(l1, l2);
        assert_memory_equal(s1, s2, l1);
        /* signing with an agreement key is refused */
        tcrypto_sig_params p = {.scheme = TCRYPTO_SIG_EDDSA};
        assert_int_equal(tcrypto_sig_size(a, &p), 0);
        assert_rc(tcrypto_sign(a, &p, s1, 4, s2, &l2), TCRYPTO_ERR_KEY);
        tcrypto_pkey_free(a);
        tcrypto_pkey_free(b);
    }
    tcrypto_pkey *k = NULL;
    assert_rc(tcrypto_raw_generate(TCRYPTO_KEY_RSA, &k), TCRYPTO_ERR_UNSUPPORTED);
}

static void test_ecdh(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        tcrypto_pkey *b = NULL;
        tcrypto_curve cv = tcrypto_pkey_curve(g_ec[i]);
        assert_rc(tcrypto_ec_generate(cv, &b), TCRYPTO_OK);
        uint8_t pa[133], pb[133], s1[66], s2[66];
        size_t la = sizeof(pa), lb = sizeof(pb), l1 = sizeof(s1), l2 = sizeof(s2);
        assert_rc(tcrypto_pkey_get_part(g_ec[i], TCRYPTO_PART_EC_POINT, pa, &la), TCRYPTO_OK);
        assert_rc(tcrypto_pkey_get_part(b, TCRYPTO_PART_EC_POINT, pb, &lb), TCRYPTO_OK);
        assert_rc(tcrypto_derive(g_ec[i], pb, lb, s1, &l1), TCRYPTO_OK);
        assert_rc(tcrypto_derive(b, pa, la, s2, &l2), TCRYPTO_OK);
        assert_int_equal(l1, (tcrypto_curve_bits(cv) + 7) / 8);
        assert_int_equal(l1, l2);
        assert_memory_equal(s1, s2, l1);
        /* invalid peer points: off the curve, wrong length, compressed,
         * another curve's point */
        memset(s1, 0xee, sizeof(s1));
        pb[lb - 1] ^= 1;
        l1 = sizeof(s1);
        assert_rc(tcrypto_derive(g_ec[i], pb, lb, s1, &l1), TCRYPTO_ERR_KEY);
        assert_int_equal(s1[0], 0xee);
        pb[lb - 1] ^= 1;
        assert_rc(tcrypto_derive(g_ec[i], pb, lb - 1, s1, &l1), TCRYPTO_ERR_KEY);
        pb[0] = 0x03;
        assert_rc(tcrypto_derive(g_ec[i], pb, lb, s1, &l1), TCRYPTO_ERR_KEY);
        uint8_t other[133];
        size_t lo = sizeof(other);
        assert_rc(tcrypto_pkey_get_part(g_ec[(i + 1) % 3], TCRYPTO_PART_EC_POINT, other, &lo),
                  TCRYPTO_OK);
        assert_rc(tcrypto_derive(g_ec[i], other, lo, s1, &l1), TCRYPTO_ERR_KEY);
        /* the point at infinity cannot be encoded uncompressed: all-zero
         * coordinates are not on the curve */
        memset(pb + 1, 0, lb - 1);
        pb[0] = 0x04;
        assert_rc(tcrypto_derive(g_ec[i], pb, lb, s1, &l1), TCRYPTO_ERR_KEY);
        tcrypto_pkey_free(b);
    }
    /* derive with an RSA or a public-only key */
    uint8_t s[66], pt[65];
    size_t l = sizeof(s), pl = sizeof(pt);
    assert_rc(tcrypto_pkey_get_part(g_ec[0], TCRYPTO_PART_EC_POINT, pt, &pl), TCRYPTO_OK);
    assert_rc(tcrypto_derive(g_rsa, pt, pl, s, &l), TCRYPTO_ERR_KEY);
    tcrypto_pkey *pub = NULL;
    assert_rc(tcrypto_pkey_public(g_ec[0], &pub), TCRYPTO_OK);
    assert_rc(tcrypto_derive(pub, pt, pl, s, &l), TCRYPTO_ERR_KEY);
    tcrypto_pkey_free(pub);
}

/* ---- CKA_EC_PARAMS ------------------------------------------------------------------ */

static void test_ec_params(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        tcrypto_key_type type;
        tcrypto_curve curve;
        bool oid;
    } v[] = {
        {"06082a8648ce3d030107", TCRYPTO_KEY_EC, TCRYPTO_CURVE_P256, true},
        {"06052b81040022", TCRYPTO_KEY_EC, TCRYPTO_CURVE_P384, true},
        {"06052b81040023", TCRYPTO_KEY_EC, TCRYPTO_CURVE_P521, true},
        {"06032b6570", TCRYPTO_KEY_ED25519, TCRYPTO_CURVE_NONE, true},
        {"06032b6571", TCRYPTO_KEY_ED448, TCRYPTO_CURVE_NONE, true},
        {"06032b656e", TCRYPTO_KEY_X25519, TCRYPTO_CURVE_NONE, true},
        {"06032b656f", TCRYPTO_KEY_X448, TCRYPTO_CURVE_NONE, true},
        /* PrintableString names (PKCS#11 3.0 §2.3.5) */
        {"130c656477617264733235353139", TCRYPTO_KEY_ED25519, TCRYPTO_CURVE_NONE, false},
        {"130a65647761726473343438", TCRYPTO_KEY_ED448, TCRYPTO_CURVE_NONE, false},
        {"130a63757276653235353139", TCRYPTO_KEY_X25519, TCRYPTO_CURVE_NONE, false},
        {"1308637572766534343" "8", TCRYPTO_KEY_X448, TCRYPTO_CURVE_NONE, false},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n;
        uint8_t *der = unhex(v[i].hex, &n);
        tcrypto_key_type t = 0;
        tcrypto_curve c = 99;
        assert_rc(tcrypto_ec_params_parse(der, n, &t, &c), TCRYPTO_OK);
        assert_int_equal(t, v[i].type);
        assert_int_equal(c, v[i].curve);
        if (v[i].oid) {
            size_t l = 0;
            const uint8_t *back = tcrypto_ec_params_der(t, c, &l);
            assert_non_null(back);
            assert_int_equal(l, n);
            assert_memory_equal(back, der, n);
        }
        free(der);
    }
    static const char *unsupported[] = {
        "06082a8648ce3d030101", /* prime192v1 */
        "06052b8104000a",       /* secp256k1 */
        "1305636f727665",       /* PrintableString "corve" */
    };
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        uint8_t *der = unhex(unsupported[i], &n);
        tcrypto_key_type t;
        tcrypto_curve c;
        assert_rc(tcrypto_ec_params_parse(der, n, &t, &c), TCRYPTO_ERR_UNSUPPORTED);
        free(der);
    }
    static const char *malformed[] = {
        "06082a8648ce3d0301",    /* length longer than the data */
        "06082a8648ce3d03010700", /* trailing byte */
        "0408616263646566676" "8", /* OCTET STRING */
        "06",
        "3000", /* explicit parameters (SEQUENCE) are not supported */
    };
    for (size_t i = 0; i < 5; i++) {
        size_t n;
        uint8_t *der = unhex(malformed[i], &n);
        tcrypto_key_type t;
        tcrypto_curve c;
        assert_rc(tcrypto_ec_params_parse(der, n, &t, &c), TCRYPTO_ERR_ARG);
        free(der);
    }
    size_t l = 5;
    assert_null(tcrypto_ec_params_der(TCRYPTO_KEY_EC, TCRYPTO_CURVE_NONE, &l));
    assert_int_equal(l, 0);
    assert_null(tcrypto_ec_params_der(TCRYPTO_KEY_RSA, TCRYPTO_CURVE_NONE, &l));
    assert_int_equal(tcrypto_curve_bits(TCRYPTO_CURVE_P521), 521);
    assert_int_equal(tcrypto_curve_bits(TCRYPTO_CURVE_NONE), 0);
}

/* ---- concurrency ---------------------------------------------------------------------- */

typedef struct {
    tcrypto_pkey *k;
    tcrypto_sig_params p;
    int failures;
} sign_job;

static void *sign_worker(void *arg)
{
    sign_job *j = arg;
    uint8_t h[32], sig[256];
    for (int i = 0; i < 40; i++) {
        memset(h, i, sizeof(h));
        size_t len = sizeof(sig);
        tcrypto_pkey_ref(j->k); /* references taken and dropped concurrently */
        if (tcrypto_sign(j->k, &j->p, h, 32, sig, &len) != TCRYPTO_OK ||
            tcrypto_verify(j->k, &j->p, h, 32, sig, len) != TCRYPTO_OK)
            j->failures++;
        sig[0] ^= 1;
        if (tcrypto_verify(j->k, &j->p, h, 32, sig, len) != TCRYPTO_ERR_VERIFY)
            j->failures++;
        tcrypto_pkey_free(j->k);
    }
    return NULL;
}

/* One immutable key object shared by several threads at once. */
static void test_concurrent_sign(void **state)
{
    (void)state;
    enum { N = 4 };
    pthread_t th[N];
    sign_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i].k = (i % 2) ? g_ec[0] : g_rsa;
        jobs[i].p = (tcrypto_sig_params){.scheme = (i % 2) ? TCRYPTO_SIG_ECDSA
                                                           : TCRYPTO_SIG_RSA_PSS,
                                         .md = TCRYPTO_MD_SHA256,
                                         .salt_len = 32};
        jobs[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, sign_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
    }
}

/* One check per key/argument error path not covered above. */
static void test_key_errors(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len = sizeof(buf);
    tcrypto_pkey *k = NULL;
    /* component of the wrong key type */
    assert_rc(tcrypto_pkey_get_part(g_ec[0], TCRYPTO_PART_RSA_N, buf, &len), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_pkey_get_part(g_rsa, TCRYPTO_PART_EC_POINT, buf, &len), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_pkey_get_part(g_rsa, TCRYPTO_PART_EC_PRIV, buf, &len), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_pkey_get_part(g_rsa, (tcrypto_part)77, buf, &len), TCRYPTO_ERR_ARG);
    /* missing outputs / inputs */
    assert_rc(tcrypto_rsa_generate(2048, NULL, 0, NULL), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_ec_generate(TCRYPTO_CURVE_P256, NULL), TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_raw_from_parts(TCRYPTO_KEY_ED25519, NULL, 0, NULL, 0, &k),
              TCRYPTO_ERR_ARG);
    assert_rc(tcrypto_raw_from_parts(TCRYPTO_KEY_EC, buf, 32, NULL, 0, &k),
              TCRYPTO_ERR_UNSUPPORTED);
    assert_rc(tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, NULL, 0, NULL, 0, &k), TCRYPTO_ERR_ARG);
    tcrypto_rsa_parts none = {0};
    assert_rc(tcrypto_rsa_from_parts(&none, &k), TCRYPTO_ERR_KEY);
    assert_rc(tcrypto_derive(g_ec[0], NULL, 65, buf, &len), TCRYPTO_ERR_ARG);
    tcrypto_key_type t;
    tcrypto_curve c;
    assert_rc(tcrypto_ec_params_parse(NULL, 0, &t, &c), TCRYPTO_ERR_ARG);
    assert_null(k);
    /* OAEP with a hash too large for the modulus: 1024-bit key, SHA-512 */
    assert_rc(tcrypto_rsa_generate(1024, NULL, 0, &k), TCRYPTO_OK);
    tcrypto_rsa_enc_params ep = {.pad = TCRYPTO_RSA_PAD_OAEP, .md = TCRYPTO_MD_SHA512};
    len = sizeof(buf);
    assert_rc(tcrypto_rsa_encrypt(k, &ep, buf, 1, buf, &len), TCRYPTO_ERR_KEY);
    ep.md = TCRYPTO_MD_SHA256;
    ep.mgf1_md = (tcrypto_md)50;
    assert_rc(tcrypto_rsa_encrypt(k, &ep, buf, 1, buf, &len), TCRYPTO_ERR_UNSUPPORTED);
    ep.mgf1_md = TCRYPTO_MD_NONE;
    ep.label = NULL;
    ep.label_len = 3;
    assert_rc(tcrypto_rsa_encrypt(k, &ep, buf, 1, buf, &len), TCRYPTO_ERR_ARG);
    /* decrypt with a public key */
    tcrypto_pkey *pub = NULL;
    assert_rc(tcrypto_pkey_public(k, &pub), TCRYPTO_OK);
    tcrypto_rsa_enc_params pk1 = {.pad = TCRYPTO_RSA_PAD_PKCS1};
    len = sizeof(buf);
    assert_rc(tcrypto_rsa_decrypt(pub, &pk1, buf, 128, buf, &len), TCRYPTO_ERR_KEY);
    /* PSS with an unsupported MGF1 hash; PKCS#1 with an unknown md */
    tcrypto_sig_params sp = {.scheme = TCRYPTO_SIG_RSA_PSS, .md = TCRYPTO_MD_SHA256,
                             .mgf1_md = (tcrypto_md)50, .salt_len = 32};
    uint8_t h[32] = {0};
    len = sizeof(buf);
    assert_rc(tcrypto_sign(k, &sp, h, 32, buf, &len), TCRYPTO_ERR_UNSUPPORTED);
    tcrypto_sig_params s1 = {.scheme = TCRYPTO_SIG_RSA_PKCS1, .md = (tcrypto_md)50};
    assert_rc(tcrypto_sign(k, &s1, h, 32, buf, &len), TCRYPTO_ERR_UNSUPPORTED);
    tcrypto_sig_params bad = {.scheme = (tcrypto_sig_scheme)9};
    assert_int_equal(tcrypto_sig_size(k, &bad), 0);
    assert_rc(tcrypto_sign(k, &bad, h, 32, buf, &len), TCRYPTO_ERR_KEY);
    tcrypto_pkey_free(pub);
    tcrypto_pkey_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_generate_args),
        cmocka_unit_test(test_rsa_props),
        cmocka_unit_test(test_rsa_pkcs1),
        cmocka_unit_test(test_rsa_pss),
        cmocka_unit_test(test_rsa_raw),
        cmocka_unit_test(test_rsa_cli_vectors),
        cmocka_unit_test(test_rsa_parts),
        cmocka_unit_test(test_rsa_oaep),
        cmocka_unit_test(test_rsa_pkcs1_enc),
        cmocka_unit_test(test_ecdsa_curves),
        cmocka_unit_test(test_ec_from_parts_invalid),
        cmocka_unit_test(test_ecdsa_cli_vector),
        cmocka_unit_test(test_ecdsa_der),
        cmocka_unit_test(test_ed25519_rfc8032),
        cmocka_unit_test(test_ed448_rfc8032),
        cmocka_unit_test(test_eddsa_generated),
        cmocka_unit_test(test_x25519_x448_rfc7748),
        cmocka_unit_test(test_x_generated),
        cmocka_unit_test(test_ecdh),
        cmocka_unit_test(test_ec_params),
        cmocka_unit_test(test_concurrent_sign),
        cmocka_unit_test(test_key_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
