/* TPM-specific crypto: KDFa/KDFe known answers (computed with Python's
 * hmac/hashlib from the Part 1 §11.4.10 definitions), CFB, deterministic
 * key generation, signatures with must-fail cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/tcrypto.h"
#include "crypto/tcrypto_tpm.h"

static void unhex(const char *h, uint8_t *out, size_t *n)
{
    size_t l = strlen(h) / 2;
    for (size_t i = 0; i < l; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    *n = l;
}

static void test_kdfa_kat(void **state)
{
    (void)state;
    uint8_t u[34], out[64], want[64];
    size_t wl;
    u[0] = 0x00;
    u[1] = 0x0b;
    memset(u + 2, 0x11, 32);
    assert_int_equal(tcrypto_tpm_kdfa(0x000B, "secret key", 10, "STORAGE", u, 34, NULL, 0, 128, out),
                     TCRYPTO_OK);
    unhex("9f5d06f8a822e79ffb07aa50b3544101", want, &wl);
    assert_memory_equal(out, want, wl);

    uint8_t n1[32], n2[16];
    memset(n1, 0x22, 32);
    memset(n2, 0x33, 16);
    assert_int_equal(tcrypto_tpm_kdfa(0x000B, NULL, 0, "ATH", n1, 32, n2, 16, 384, out), TCRYPTO_OK);
    unhex("f9ddfcc9f4952b38454336c0733d6737d0f45827e0b8d87a639317f1db4a8351"
          "5456008034e7a3d6116adc69b8dbab1b", want, &wl);
    assert_memory_equal(out, want, wl);

    /* a bit count that is not a multiple of 8 masks the top byte */
    assert_int_equal(tcrypto_tpm_kdfa(0x0004, "k", 1, "CFB", "a", 1, "b", 1, 13, out), TCRYPTO_OK);
    unhex("1d20", want, &wl);
    assert_memory_equal(out, want, wl);

    /* must fail: unknown hash */
    assert_int_equal(tcrypto_tpm_kdfa(0x0099, "k", 1, "X", NULL, 0, NULL, 0, 128, out),
                     TCRYPTO_ERR_UNSUPPORTED);
}

static void test_kdfe_kat(void **state)
{
    (void)state;
    uint8_t z[32], u[32], v[32], out[32], want[32];
    size_t wl;
    memset(z, 0x44, 32);
    memset(u, 0x55, 32);
    memset(v, 0x66, 32);
    assert_int_equal(tcrypto_tpm_kdfe(0x000B, z, 32, "SECRET", u, 32, v, 32, 256, out), TCRYPTO_OK);
    unhex("65ee4f844924c07e309c42a52651137f91db771090eead45111d1f9937d8e8ce", want, &wl);
    assert_memory_equal(out, want, wl);
    /* a different label gives a different key */
    assert_int_equal(tcrypto_tpm_kdfe(0x000B, z, 32, "IDENTITY", u, 32, v, 32, 256, out), TCRYPTO_OK);
    assert_memory_not_equal(out, want, wl);
}

static void test_cfb_roundtrip(void **state)
{
    (void)state;
    uint8_t key[16] = { 1, 2, 3 }, iv[16] = { 9 }, iv2[16] = { 9 };
    uint8_t msg[37], ct[37], pt[37];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(tcrypto_tpm_aes_cfb(true, key, 16, iv, msg, sizeof(msg), ct), TCRYPTO_OK);
    assert_memory_not_equal(ct, msg, sizeof(msg));
    assert_int_equal(tcrypto_tpm_aes_cfb(false, key, 16, iv2, ct, sizeof(ct), pt), TCRYPTO_OK);
    assert_memory_equal(pt, msg, sizeof(msg));
    assert_memory_equal(iv, iv2, 16); /* chaining values agree */
    /* must fail: bad key length, CBC with a partial block */
    assert_int_equal(tcrypto_tpm_aes_cfb(true, key, 15, iv, msg, 16, ct), TCRYPTO_ERR_UNSUPPORTED);
    assert_int_equal(tcrypto_tpm_aes_mode(0x0042, true, key, 16, iv, msg, 17, ct), TCRYPTO_ERR_INPUT);
}

typedef struct {
    uint8_t seed;
    uint32_t ctr;
} test_stream;

static tcrypto_rc stream_fn(void *p, uint8_t *out, size_t n)
{
    test_stream *s = p;
    uint8_t c[4] = { (uint8_t)(s->ctr >> 24), (uint8_t)(s->ctr >> 16), (uint8_t)(s->ctr >> 8),
                     (uint8_t)s->ctr };
    s->ctr++;
    return tcrypto_tpm_kdfa(0x000B, &s->seed, 1, "TEST", c, 4, NULL, 0, (uint32_t)n * 8, out);
}

static void test_deterministic_keys(void **state)
{
    (void)state;
    uint8_t n1[256], p1[128], n2[256], p2[128];
    test_stream a = { 1, 0 }, b = { 1, 0 }, c = { 2, 0 };
    assert_int_equal(tcrypto_tpm_rsa_generate(2048, 0, stream_fn, &a, n1, p1), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_generate(2048, 0, stream_fn, &b, n2, p2), TCRYPTO_OK);
    assert_memory_equal(n1, n2, 256);
    assert_memory_equal(p1, p2, 128);
    assert_int_equal(tcrypto_tpm_rsa_generate(2048, 0, stream_fn, &c, n2, p2), TCRYPTO_OK);
    assert_memory_not_equal(n1, n2, 256);

    uint8_t d1[32], x1[32], y1[32], d2[32], x2[32], y2[32];
    test_stream e = { 7, 0 }, f = { 7, 0 };
    assert_int_equal(tcrypto_tpm_ecc_generate(0x0003, stream_fn, &e, d1, x1, y1), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_ecc_generate(0x0003, stream_fn, &f, d2, x2, y2), TCRYPTO_OK);
    assert_memory_equal(x1, x2, 32);
    assert_memory_equal(y1, y2, 32);

    /* must fail: unsupported sizes and curves */
    assert_int_equal(tcrypto_tpm_rsa_generate(1000, 0, NULL, NULL, n1, p1), TCRYPTO_ERR_UNSUPPORTED);
    assert_int_equal(tcrypto_tpm_ecc_generate(0x0001, NULL, NULL, d1, x1, y1),
                     TCRYPTO_ERR_UNSUPPORTED);
}

static void test_sign_verify(void **state)
{
    (void)state;
    uint8_t n[256], p[128], d[32], x[32], y[32], dig[32], sig[256], s2[66];
    size_t sl = sizeof(sig);
    tcrypto_tpm_key *rsa = NULL, *rsapub = NULL, *ec = NULL;
    memset(dig, 0xAB, sizeof(dig));
    assert_int_equal(tcrypto_tpm_rsa_generate(2048, 0, NULL, NULL, n, p), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_key(n, 256, 0, p, 128, &rsa), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_key(n, 256, 0, NULL, 0, &rsapub), TCRYPTO_OK);
    for (uint16_t scheme = 0x0014; scheme <= 0x0016; scheme += 2) {
        sl = sizeof(sig);
        assert_int_equal(tcrypto_tpm_sign(rsa, scheme, 0x000B, dig, 32, sig, &sl, NULL), TCRYPTO_OK);
        assert_int_equal(sl, 256);
        assert_int_equal(tcrypto_tpm_verify(rsapub, scheme, 0x000B, dig, 32, sig, sl, NULL, 0),
                         TCRYPTO_OK);
        sig[10] ^= 1;
        assert_int_equal(tcrypto_tpm_verify(rsapub, scheme, 0x000B, dig, 32, sig, sl, NULL, 0),
                         TCRYPTO_ERR_VERIFY);
    }
    /* a wrong prime is refused */
    p[127] ^= 2;
    tcrypto_tpm_key *bad = NULL;
    assert_int_equal(tcrypto_tpm_rsa_key(n, 256, 0, p, 128, &bad), TCRYPTO_ERR_KEY);

    assert_int_equal(tcrypto_tpm_ecc_generate(0x0003, NULL, NULL, d, x, y), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_ecc_key(0x0003, x, 32, y, 32, d, 32, &ec), TCRYPTO_OK);
    sl = sizeof(sig);
    assert_int_equal(tcrypto_tpm_sign(ec, 0x0018, 0x000B, dig, 32, sig, &sl, s2), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_verify(ec, 0x0018, 0x000B, dig, 32, sig, sl, s2, sl), TCRYPTO_OK);
    dig[0] ^= 1;
    assert_int_equal(tcrypto_tpm_verify(ec, 0x0018, 0x000B, dig, 32, sig, sl, s2, sl),
                     TCRYPTO_ERR_VERIFY);
    /* a point off the curve is refused */
    y[31] ^= 1;
    tcrypto_tpm_key *off = NULL;
    assert_int_equal(tcrypto_tpm_ecc_key(0x0003, x, 32, y, 32, NULL, 0, &off), TCRYPTO_ERR_KEY);
    uint8_t z[32];
    assert_int_equal(tcrypto_tpm_ecdh(ec, x, 32, y, 32, z, NULL), TCRYPTO_ERR_KEY);
    tcrypto_tpm_key_free(rsa);
    tcrypto_tpm_key_free(rsapub);
    tcrypto_tpm_key_free(ec);
}

static void test_rsa_oaep(void **state)
{
    (void)state;
    uint8_t n[256], p[128], ct[256], pt[256];
    size_t cl = sizeof(ct), pl = sizeof(pt);
    tcrypto_tpm_key *k = NULL;
    assert_int_equal(tcrypto_tpm_rsa_generate(2048, 0, NULL, NULL, n, p), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_key(n, 256, 0, p, 128, &k), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_encrypt(k, 0x0017, 0x000B, (const uint8_t *)"SECRET", 7,
                                             (const uint8_t *)"salt", 4, ct, &cl),
                     TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_decrypt(k, 0x0017, 0x000B, (const uint8_t *)"SECRET", 7, ct,
                                             cl, pt, &pl),
                     TCRYPTO_OK);
    assert_int_equal(pl, 4);
    assert_memory_equal(pt, "salt", 4);
    /* must fail: a different label */
    pl = sizeof(pt);
    assert_int_equal(tcrypto_tpm_rsa_decrypt(k, 0x0017, 0x000B, (const uint8_t *)"IDENTITY", 9, ct,
                                             cl, pt, &pl),
                     TCRYPTO_ERR_DECRYPT);
    tcrypto_tpm_key_free(k);
}

/* The TPM-named entry points run on the generic API: a PSS signature made
 * with another salt length (the largest, as some TPM clients do) verifies
 * (Part 1 §B.7), a tampered one does not; an HMAC sequence copied midway
 * finishes like the original and like the one-shot HMAC. */
static void test_generic_layer(void **state)
{
    (void)state;
    uint8_t n[256], p[128], dig[32], sig[256];
    size_t sl = sizeof(sig);
    tcrypto_tpm_key *k = NULL;
    memset(dig, 0x5C, sizeof(dig));
    assert_int_equal(tcrypto_tpm_rsa_generate(2048, 0, NULL, NULL, n, p), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_rsa_key(n, 256, 0, p, 128, &k), TCRYPTO_OK);
    tcrypto_sig_params sp = { .scheme = TCRYPTO_SIG_RSA_PSS, .md = TCRYPTO_MD_SHA256,
                              .salt_len = 256 - 32 - 2 };
    assert_int_equal(tcrypto_sign(k, &sp, dig, 32, sig, &sl), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_verify(k, 0x0016, 0x000B, dig, 32, sig, sl, NULL, 0), TCRYPTO_OK);
    sig[100] ^= 0x40;
    assert_int_equal(tcrypto_tpm_verify(k, 0x0016, 0x000B, dig, 32, sig, sl, NULL, 0),
                     TCRYPTO_ERR_VERIFY);
    /* an RSA key cannot sign ECDSA */
    sl = sizeof(sig);
    assert_int_equal(tcrypto_tpm_sign(k, 0x0018, 0x000B, dig, 32, sig, &sl, sig),
                     TCRYPTO_ERR_UNSUPPORTED);
    tcrypto_tpm_key_free(k);

    uint8_t a[32], b[32], c[32];
    tcrypto_tpm_md *m = NULL, *d = NULL;
    assert_int_equal(tcrypto_tpm_md_new(0x000B, "key", 3, &m), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_update(m, "abc", 3), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_dup(m, &d), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_update(m, "def", 3), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_update(d, "def", 3), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_final(m, a), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_final(d, b), TCRYPTO_OK);
    tcrypto_tpm_iov v = { "abcdef", 6 };
    assert_int_equal(tcrypto_tpm_hmac(0x000B, "key", 3, &v, 1, c), TCRYPTO_OK);
    assert_memory_equal(a, b, 32);
    assert_memory_equal(a, c, 32);
    tcrypto_tpm_md_free(m);
    tcrypto_tpm_md_free(d);
}

/* A saveable sequence exported midway and imported (as a saved sequence
 * context carries it) finishes like the generic hash and HMAC over the
 * whole input, for every hash, with keys shorter and longer than a block;
 * damaged states are refused. */
static void test_saveable_sequences(void **state)
{
    (void)state;
    static const uint16_t algs[] = { 0x0004, 0x000B, 0x000C, 0x000D };
    uint8_t msg[300], longkey[200];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    memset(longkey, 0x3C, sizeof(longkey));
    for (size_t a = 0; a < 4; a++) {
        for (int mode = 0; mode < 3; mode++) {
            const uint8_t *key = mode == 0 ? NULL : mode == 1 ? (const uint8_t *)"k3y" : longkey;
            size_t keylen = mode == 0 ? 0 : mode == 1 ? 3 : sizeof(longkey);
            /* split points inside and across blocks */
            for (size_t cut = 0; cut <= sizeof(msg); cut += 131) {
                tcrypto_tpm_md *m = NULL, *r = NULL;
                uint8_t st[TCRYPTO_TPM_MD_STATE_MAX], got[64], want[64];
                assert_int_equal(tcrypto_tpm_md_new_saveable(algs[a], key, keylen, &m),
                                 TCRYPTO_OK);
                assert_int_equal(tcrypto_tpm_md_update(m, msg, cut), TCRYPTO_OK);
                size_t n = tcrypto_tpm_md_export(m, st, sizeof(st));
                assert_true(n > 0);
                tcrypto_tpm_md_free(m);
                assert_int_equal(tcrypto_tpm_md_import(st, n, &r), TCRYPTO_OK);
                assert_int_equal(tcrypto_tpm_md_update(r, msg + cut, sizeof(msg) - cut),
                                 TCRYPTO_OK);
                assert_int_equal(tcrypto_tpm_md_final(r, got), TCRYPTO_OK);
                tcrypto_tpm_md_free(r);
                tcrypto_tpm_iov v = { msg, sizeof(msg) };
                if (key == NULL)
                    assert_int_equal(tcrypto_tpm_hash(algs[a], &v, 1, want), TCRYPTO_OK);
                else
                    assert_int_equal(tcrypto_tpm_hmac(algs[a], key, keylen, &v, 1, want),
                                     TCRYPTO_OK);
                assert_memory_equal(got, want, tcrypto_tpm_hash_size(algs[a]));
            }
        }
    }
    /* must fail: truncated, extended, a buffered count beyond the block or
     * not matching the bit count, an unknown hash, an unknown version */
    tcrypto_tpm_md *m = NULL, *r = NULL;
    uint8_t st[TCRYPTO_TPM_MD_STATE_MAX];
    assert_int_equal(tcrypto_tpm_md_new_saveable(0x000B, NULL, 0, &m), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_update(m, msg, 10), TCRYPTO_OK);
    size_t n = tcrypto_tpm_md_export(m, st, sizeof(st));
    assert_int_equal(n, 4 + 10 * 4 + 1 + 10);
    assert_int_equal(tcrypto_tpm_md_export(m, st, n - 1), 0);
    tcrypto_tpm_md_free(m);
    assert_int_equal(tcrypto_tpm_md_import(st, n - 1, &r), TCRYPTO_ERR_INPUT);
    assert_int_equal(tcrypto_tpm_md_import(st, n + 1, &r), TCRYPTO_ERR_INPUT);
    st[4 + 40] = 11; /* num says 11, the bit count says 10 */
    assert_int_equal(tcrypto_tpm_md_import(st, n + 1, &r), TCRYPTO_ERR_INPUT);
    st[4 + 40] = 10;
    st[2] = 0x0A;
    assert_int_equal(tcrypto_tpm_md_import(st, n, &r), TCRYPTO_ERR_INPUT);
    st[2] = 0x0B;
    st[0] = 2;
    assert_int_equal(tcrypto_tpm_md_import(st, n, &r), TCRYPTO_ERR_INPUT);
    st[0] = 1;
    assert_int_equal(tcrypto_tpm_md_import(st, n, &r), TCRYPTO_OK);
    tcrypto_tpm_md_free(r);
    /* a plain (EVP) digest cannot be exported */
    assert_int_equal(tcrypto_tpm_md_new(0x000B, NULL, 0, &m), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_md_export(m, st, sizeof(st)), 0);
    tcrypto_tpm_md_free(m);
}

/* Once the crypto layer is in its error state the TPM primitives refuse,
 * like the rest of the layer (runs last: the state is permanent). */
static void test_error_state(void **state)
{
    (void)state;
    uint8_t d[66], x[66], y[66], buf[64], iv[16] = { 0 }, sig[66], s2[66];
    size_t siglen = sizeof(sig);
    tcrypto_tpm_key *k = NULL;
    assert_int_equal(tcrypto_tpm_ecc_generate(0x0003, NULL, NULL, d, x, y), TCRYPTO_OK);
    assert_int_equal(tcrypto_tpm_ecc_key(0x0003, x, 32, y, 32, d, 32, &k), TCRYPTO_OK);
    tcrypto_tpm_iov v = { "abc", 3 };
    assert_int_equal(tcrypto_tpm_hash(0x000B, &v, 1, buf), TCRYPTO_OK);
    assert_false(tcrypto_in_error());
    tcrypto_force_error();
    assert_int_equal(tcrypto_tpm_random(buf, 16), TCRYPTO_ERR_STATE);
    assert_int_equal(tcrypto_tpm_hash(0x000B, &v, 1, buf), TCRYPTO_ERR_STATE);
    assert_int_equal(tcrypto_tpm_hmac(0x000B, "k", 1, &v, 1, buf), TCRYPTO_ERR_STATE);
    tcrypto_tpm_md *m = NULL;
    assert_int_equal(tcrypto_tpm_md_new(0x000B, NULL, 0, &m), TCRYPTO_ERR_STATE);
    assert_null(m);
    assert_int_equal(tcrypto_tpm_aes_cfb(true, buf, 16, iv, buf, 16, buf), TCRYPTO_ERR_STATE);
    assert_int_equal(tcrypto_tpm_ecc_generate(0x0003, NULL, NULL, d, x, y), TCRYPTO_ERR_STATE);
    assert_int_equal(tcrypto_tpm_sign(k, 0x0018, 0x000B, buf, 32, sig, &siglen, s2),
                     TCRYPTO_ERR_STATE);
    tcrypto_tpm_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdfa_kat),         cmocka_unit_test(test_kdfe_kat),
        cmocka_unit_test(test_cfb_roundtrip),    cmocka_unit_test(test_deterministic_keys),
        cmocka_unit_test(test_sign_verify),      cmocka_unit_test(test_rsa_oaep),
        cmocka_unit_test(test_generic_layer),    cmocka_unit_test(test_saveable_sequences),
        cmocka_unit_test(test_error_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
