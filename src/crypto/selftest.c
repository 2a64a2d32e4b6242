/*
 * Known-answer self-tests run once at start-up (FIPS 140-3 IG 10.3.A style):
 * any mismatch puts the module in the error state. Vectors come from the
 * standards that define each primitive; the RSA and ECDSA verification
 * vectors were generated once with the openssl command line and embedded.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "crypto/crypto_int.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a hex string into out (capacity cap); returns the length or 0. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap)
        return 0;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return n / 2;
}

/* Compare a result with an expected hex string. */
static bool eq_hex(const uint8_t *got, size_t gotlen, const char *hex)
{
    uint8_t want[512];
    size_t n = unhex(hex, want, sizeof(want));
    return n != 0 && n == gotlen && memcmp(got, want, n) == 0;
}

static bool kat_digests(void)
{
    static const struct {
        tcrypto_md md;
        const char *out;
    } v[] = {
        /* FIPS 180-2 Appendix A/B/C and FIPS 202 examples: "abc" */
        {TCRYPTO_MD_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {TCRYPTO_MD_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {TCRYPTO_MD_SHA512,
         "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
        {TCRYPTO_MD_SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(v); i++) {
        uint8_t out[TCRYPTO_MAX_MD_SIZE];
        size_t len = sizeof(out);
        if (tcrypto_digest_oneshot(v[i].md, "abc", 3, out, &len) != TCRYPTO_OK ||
            !eq_hex(out, len, v[i].out))
            return false;
    }
    return true;
}

static bool kat_hmac(void)
{
    /* RFC 4231 §4.3, test case 2 */
    static const char data[] = "what do ya want for nothing?";
    uint8_t out[32];
    size_t len = sizeof(out);
    return tcrypto_hmac_oneshot(TCRYPTO_MD_SHA256, "Jefe", 4, data, sizeof(data) - 1, out,
                                &len) == TCRYPTO_OK &&
           eq_hex(out, len, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static bool kat_gcm(void)
{
    /* GCM specification (McGrew & Viega), test case 4: AES-128 with AAD. */
    uint8_t key[16], iv[12], aad[20], pt[60], ct[60], tag[16], back[60];
    bool ok = false;
    unhex("feffe9928665731c6d6a8f9467308308", key, sizeof(key));
    unhex("cafebabefacedbaddecaf888", iv, sizeof(iv));
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, sizeof(aad));
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
          pt, sizeof(pt));
    if (tcrypto_gcm_encrypt(key, 16, iv, 12, aad, 20, pt, 60, ct, tag, 16) != TCRYPTO_OK)
        goto done;
    if (!eq_hex(ct, 60,
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091") ||
        !eq_hex(tag, 16, "5bc94fbc3221a5db94fae95ae7121a47"))
        goto done;
    if (tcrypto_gcm_decrypt(key, 16, iv, 12, aad, 20, ct, 60, tag, 16, back) != TCRYPTO_OK ||
        memcmp(back, pt, 60) != 0)
        goto done;
    /* The tag check must be able to fail. */
    tag[0] ^= 1;
    ok = tcrypto_gcm_decrypt(key, 16, iv, 12, aad, 20, ct, 60, tag, 16, back) ==
         TCRYPTO_ERR_DECRYPT;
done:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(back, sizeof(back));
    return ok;
}

static bool kat_wrap(void)
{
    /* RFC 3394 §4.1: 128-bit key data with a 128-bit KEK. */
    uint8_t kek[16], data[16], out[24], back[16];
    size_t len = sizeof(out), blen = sizeof(back);
    bool ok;
    unhex("000102030405060708090a0b0c0d0e0f", kek, sizeof(kek));
    unhex("00112233445566778899aabbccddeeff", data, sizeof(data));
    ok = tcrypto_aes_wrap(false, kek, 16, data, 16, out, &len) == TCRYPTO_OK &&
         eq_hex(out, len, "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5") &&
         tcrypto_aes_unwrap(false, kek, 16, out, len, back, &blen) == TCRYPTO_OK &&
         blen == 16 && memcmp(back, data, 16) == 0;
    OPENSSL_cleanse(kek, sizeof(kek));
    OPENSSL_cleanse(back, sizeof(back));
    return ok;
}

static bool kat_tdes(void)
{
    /* Three-key TDES-CBC, one block each way; vector from `openssl enc
     * -des-ede3-cbc -nopad` (the key has odd parity). */
    uint8_t key[24], iv[8], out[16], back[16];
    size_t n = sizeof(out), m = sizeof(back);
    tcrypto_cipher *c = NULL;
    bool ok;
    unhex("0123456789abcdef23456789abcdef01456789abcdef0123", key, sizeof(key));
    unhex("1234567890abcdef", iv, sizeof(iv));
    ok = tcrypto_cipher_new(TCRYPTO_DES3_CBC, true, key, 24, iv, 8, &c) == TCRYPTO_OK &&
         tcrypto_cipher_update(c, "Now is the time for all ", 16, out, &n) == TCRYPTO_OK &&
         eq_hex(out, n, "f3c0ff026c023089656fbb169def7edb");
    tcrypto_cipher_free(c);
    c = NULL;
    ok = ok && tcrypto_cipher_new(TCRYPTO_DES3_CBC, false, key, 24, iv, 8, &c) == TCRYPTO_OK &&
         tcrypto_cipher_update(c, out, 16, back, &m) == TCRYPTO_OK && m == 16 &&
         memcmp(back, "Now is the time ", 16) == 0;
    tcrypto_cipher_free(c);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(back, sizeof(back));
    return ok;
}

static bool kat_hkdf(void)
{
    /* RFC 5869 Appendix A.1 */
    uint8_t ikm[22], salt[13], info[10], okm[42];
    memset(ikm, 0x0b, sizeof(ikm));
    unhex("000102030405060708090a0b0c", salt, sizeof(salt));
    unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
    return tcrypto_hkdf(TCRYPTO_MD_SHA256, TCRYPTO_HKDF_EXTRACT_EXPAND, ikm, sizeof(ikm), salt,
                        sizeof(salt), info, sizeof(info), okm, sizeof(okm)) == TCRYPTO_OK &&
           eq_hex(okm, sizeof(okm),
                  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                  "34007208d5b887185865");
}

/* "Tessera self-test message", SHA-256 signed with a fixed RSA-2048 key
 * (PKCS#1 v1.5) and a fixed P-256 key (ECDSA), made with openssl dgst. */
static const char st_msg[] = "Tessera self-test message";

static const char st_rsa_spki[] =
    "30820122300d06092a864886f70d01010105000382010f003082010a02820101"
    "00d1448a5dddef57c14eb51dfc99e86ac19fbcc4157a836325e3050f065b6d45"
    "70add6d629803d0830a0b9485a168275211ccf8d6e65aee5704525e332bca8cf"
    "56f5a37beb004f03835da2cb5a3e38fa886d04d21fc66606f96ee58e97e87bc0"
    "2a9d31b2c733db204a410c8cf677c10af2526a2eab548a985611aa64145086f0"
    "5c990ae922ca76d1f4eefab6742a9005ae4b991cd85b86a03e21da428d9589ea"
    "2191b020c2d131a594275a86bdc667527efe4f181a8a11dea31ab5671b036fec"
    "f4c160752d705211b8f54ab6c1f532a4221b48b1782b4c0437dc54c54ad7ef4e"
    "40259cb9045236641ef0d020cdf6683cbe87fd693e39d761c6c969d258437e1b"
    "170203010001";
static const char st_rsa_sig[] =
    "548c40ba50579c765150228adfc0d189d0bcec562e7a08a7ecffb0865800f11b"
    "09f39d2dadbd0280fe39f88b57a3d38c8fc4895f54308d0dd194703c555c5f79"
    "d6c126b829661ddb762969f64c24dda6211f4eed1ce46ec0ecf39dc2bd53e1c0"
    "1c64ce758c712bfd44f988a971d378685dd636ff083b8e93960c0dbd61450ed8"
    "d1837538d693874bd742c148b67326eed198f8402122283398fcbd5f47044f0d"
    "e3b7de4ca33a5e1a41839b968a395bf44acb175bac81591d5df19be268018a15"
    "7032ac77545d2845759a198603d675f41dde8961e804f195472a9a90c394f4d9"
    "500801df967fabbf12d8c756fdc98730ccc1fe483d5d0b6134f2c3460549b755";
static const char st_ec_point[] =
    "0448c17eac3b3ae120adf8a28f5bc02091f1c9f1946adad7ce4bb7c20320305280"
    "7411f4b64761ecd74af68515f5bee92b807cb160a7a7ba6ac69b25c04e5f708c";
static const char st_ec_sig[] =
    "477a18297a9a9d86a13df44578850967aaac44bf38aeaad23a42ce3b1d415542"
    "b60e0642dcb8eaf6ab8c86ee21b52ef94459cf336f903dca99e627eceb72b992";

static bool verify_then_tamper(const tcrypto_pkey *k, const tcrypto_sig_params *sp,
                               const uint8_t *in, size_t inlen, uint8_t *sig, size_t siglen)
{
    if (tcrypto_verify(k, sp, in, inlen, sig, siglen) != TCRYPTO_OK)
        return false;
    sig[siglen - 1] ^= 0x01;
    bool ok = tcrypto_verify(k, sp, in, inlen, sig, siglen) == TCRYPTO_ERR_VERIFY;
    sig[siglen - 1] ^= 0x01;
    return ok;
}

static bool kat_rsa_ecdsa(void)
{
    uint8_t buf[512], sig[256], digest[32];
    size_t len, dlen = sizeof(digest);
    tcrypto_pkey *rsa = NULL, *ec = NULL;
    bool ok = false;
    if (tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, st_msg, sizeof(st_msg) - 1, digest, &dlen) !=
        TCRYPTO_OK)
        goto done;

    len = unhex(st_rsa_spki, buf, sizeof(buf));
    if (tcrypto_pkey_from_spki(buf, len, &rsa) != TCRYPTO_OK)
        goto done;
    len = unhex(st_rsa_sig, sig, sizeof(sig));
    tcrypto_sig_params rp = {.scheme = TCRYPTO_SIG_RSA_PKCS1, .md = TCRYPTO_MD_SHA256};
    if (!verify_then_tamper(rsa, &rp, digest, dlen, sig, len))
        goto done;

    len = unhex(st_ec_point, buf, sizeof(buf));
    if (tcrypto_ec_from_parts(TCRYPTO_CURVE_P256, buf, len, NULL, 0, &ec) != TCRYPTO_OK)
        goto done;
    len = unhex(st_ec_sig, sig, sizeof(sig));
    tcrypto_sig_params ep = {.scheme = TCRYPTO_SIG_ECDSA};
    if (!verify_then_tamper(ec, &ep, digest, dlen, sig, len))
        goto done;
    ok = true;
done:
    tcrypto_pkey_free(rsa);
    tcrypto_pkey_free(ec);
    return ok;
}

static bool kat_ed25519(void)
{
    /* RFC 8032 §7.1, TEST 2: sign (deterministic) and verify. */
    uint8_t priv[32], pub[32], msg[1], sig[64];
    size_t siglen = sizeof(sig);
    tcrypto_pkey *k = NULL;
    bool ok = false;
    unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", priv, 32);
    unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", pub, 32);
    msg[0] = 0x72;
    if (tcrypto_raw_from_parts(TCRYPTO_KEY_ED25519, pub, 32, priv, 32, &k) != TCRYPTO_OK)
        goto done;
    tcrypto_sig_params sp = {.scheme = TCRYPTO_SIG_EDDSA};
    if (tcrypto_sign(k, &sp, msg, 1, sig, &siglen) != TCRYPTO_OK ||
        !eq_hex(sig, siglen,
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"))
        goto done;
    ok = verify_then_tamper(k, &sp, msg, 1, sig, siglen);
done:
    OPENSSL_cleanse(priv, sizeof(priv));
    tcrypto_pkey_free(k);
    return ok;
}

bool tcx_selftest_run(void)
{
    static const struct {
        const char *name;
        bool (*fn)(void);
    } tests[] = {
        {"digests", kat_digests}, {"hmac", kat_hmac},         {"aes-gcm", kat_gcm},
        {"aes-wrap", kat_wrap},   {"hkdf", kat_hkdf},         {"rsa/ecdsa", kat_rsa_ecdsa},
        {"ed25519", kat_ed25519}, {"tdes-cbc", kat_tdes},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(tests); i++) {
        if (!tests[i].fn()) {
            /* OpenSSL's reason for the failure (no key material in it);
             * the tamper checks leave expected errors too, so this names
             * the most recent one. */
            char why[256] = "no OpenSSL error";
            unsigned long e = ERR_peek_last_error();
            if (e != 0)
                ERR_error_string_n(e, why, sizeof(why));
            TC_DEBUG("crypto", "self-test %s failed: %s", tests[i].name, why);
            TC_ERROR("crypto", "self-test %s failed", tests[i].name);
            return false;
        }
    }
    return true;
}
