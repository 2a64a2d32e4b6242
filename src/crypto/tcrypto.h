/*
 * crypto/ — the one layer that includes <openssl/...>. Everything above it
 * speaks in these types. All functions are thread-safe; key objects are
 * immutable after creation and may be used from many threads at once.
 *
 * Conventions:
 *  - Output buffers: `out` with capacity `*outlen`; on TCRYPTO_OK `*outlen` is
 *    the length written. If out is NULL, *outlen receives the length needed
 *    (an upper bound for decryption) and TCRYPTO_OK is returned. If out is
 *    too small, TCRYPTO_ERR_BUFFER and *outlen = the length needed.
 *  - Nothing is written to an output on failure; secrets are wiped on every path.
 *  - When the module is in the error state (a self-test failed) every
 *    function that does crypto returns TCRYPTO_ERR_STATE.
 */
#ifndef TESSERA_CRYPTO_H
#define TESSERA_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tcommon.h"

typedef enum {
    TCRYPTO_OK = 0,
    TCRYPTO_ERR_ARG,         /* a parameter is invalid (length, combination) */
    TCRYPTO_ERR_NOMEM,
    TCRYPTO_ERR_BUFFER,      /* output buffer too small; *outlen = needed */
    TCRYPTO_ERR_UNSUPPORTED, /* algorithm / size / curve not supported */
    TCRYPTO_ERR_KEY,         /* key material malformed or wrong type for the op */
    TCRYPTO_ERR_VERIFY,      /* signature or MAC does not verify */
    TCRYPTO_ERR_DECRYPT,     /* authentication tag, padding or unwrap check failed */
    TCRYPTO_ERR_INPUT,       /* input data invalid (length, range, e.g. m >= n) */
    TCRYPTO_ERR_STATE,       /* module in the self-test error state */
    TCRYPTO_ERR_INTERNAL,    /* OpenSSL failed unexpectedly */
} tcrypto_rc;

const char *tcrypto_rc_str(tcrypto_rc rc);

/* ---- module ------------------------------------------------------------- */

/* Runs the known-answer self-tests once per process (later calls return the
 * stored result). On failure the module enters the error state for good. */
tcrypto_rc tcrypto_init(void) TC_MUST_CHECK;
bool tcrypto_in_error(void);
/* Test hook: force the error state (used by tests of the error path). */
void tcrypto_force_error(void);

tcrypto_rc tcrypto_random(void *out, size_t n) TC_MUST_CHECK;
/* Mix caller-provided bytes into the RNG (PKCS#11 C_SeedRandom, TPM StirRandom). */
tcrypto_rc tcrypto_random_seed(const void *in, size_t n);

/* Constant-time equality: true when the n bytes are equal. */
bool tcrypto_memeq(const void *a, const void *b, size_t n) TC_MUST_CHECK;

/* Zeroed memory on OpenSSL's secure heap (mlocked, not dumped). Never falls
 * back to the ordinary heap: NULL when the heap is full or could not be set
 * up (each refusal is counted, the first is logged). free wipes. */
void *tcrypto_secure_alloc(size_t n);
void tcrypto_secure_free(void *p, size_t n);

typedef struct {
    bool available;   /* a secure heap exists (else the module is in error) */
    bool locked;      /* mlocked; false: still wiped and not dumped, but swappable */
    size_t size;      /* bytes; 0 when the host process set it up first */
    size_t used;      /* bytes allocated now */
    unsigned long refused; /* tcrypto_secure_alloc calls answered NULL */
} tcrypto_secure_heap_info;
/* Sets the heap up if that has not happened yet. */
void tcrypto_secure_heap_stats(tcrypto_secure_heap_info *out);

/* ---- digests ------------------------------------------------------------ */

typedef enum {
    TCRYPTO_MD_NONE = 0,
    TCRYPTO_MD_SHA1,
    TCRYPTO_MD_SHA224,
    TCRYPTO_MD_SHA256,
    TCRYPTO_MD_SHA384,
    TCRYPTO_MD_SHA512,
    TCRYPTO_MD_SHA3_224,
    TCRYPTO_MD_SHA3_256,
    TCRYPTO_MD_SHA3_384,
    TCRYPTO_MD_SHA3_512,
} tcrypto_md;

#define TCRYPTO_MAX_MD_SIZE 64

size_t tcrypto_md_size(tcrypto_md md);       /* 0 for NONE/unknown */
size_t tcrypto_md_block_size(tcrypto_md md); /* 0 for NONE/unknown */

typedef struct tcrypto_digest tcrypto_digest;
tcrypto_rc tcrypto_digest_new(tcrypto_md md, tcrypto_digest **out);
tcrypto_rc tcrypto_digest_update(tcrypto_digest *d, const void *in, size_t n);
/* out must hold tcrypto_md_size(md) bytes. The context can't be updated after. */
tcrypto_rc tcrypto_digest_final(tcrypto_digest *d, uint8_t *out, size_t *outlen);
tcrypto_rc tcrypto_digest_dup(const tcrypto_digest *d, tcrypto_digest **out);
void tcrypto_digest_free(tcrypto_digest *d);
tcrypto_rc tcrypto_digest_oneshot(tcrypto_md md, const void *in, size_t n, uint8_t *out,
                                  size_t *outlen);

/* ---- MACs (HMAC with any digest above, AES-CMAC, TDES-CMAC) ------------- */

typedef struct tcrypto_mac tcrypto_mac;
tcrypto_rc tcrypto_hmac_new(tcrypto_md md, const void *key, size_t keylen, tcrypto_mac **out);
/* keylen 16, 24 or 32 */
tcrypto_rc tcrypto_cmac_new(const void *key, size_t keylen, tcrypto_mac **out);
/* CMAC over Triple DES (SP 800-38B, 64-bit block): keylen 16 (two-key) or
 * 24 (three-key); the MAC is 8 bytes. */
tcrypto_rc tcrypto_cmac_des3_new(const void *key, size_t keylen, tcrypto_mac **out);
tcrypto_rc tcrypto_mac_update(tcrypto_mac *m, const void *in, size_t n);
/* out holds at least tcrypto_mac_size(m) bytes. */
tcrypto_rc tcrypto_mac_final(tcrypto_mac *m, uint8_t *out, size_t *outlen);
size_t tcrypto_mac_size(const tcrypto_mac *m);
void tcrypto_mac_free(tcrypto_mac *m);
tcrypto_rc tcrypto_hmac_oneshot(tcrypto_md md, const void *key, size_t keylen, const void *in,
                                size_t n, uint8_t *out, size_t *outlen);

/* ---- symmetric ciphers (AES, Triple DES, DES) ---------------------------- */

typedef enum {
    TCRYPTO_AES_ECB,     /* no padding: input multiple of 16 */
    TCRYPTO_AES_CBC,     /* no padding: input multiple of 16 */
    TCRYPTO_AES_CBC_PAD, /* PKCS#7 padding */
    TCRYPTO_AES_CTR,     /* 128-bit big-endian counter block in iv */
    TCRYPTO_AES_CFB,     /* CFB-128 (the TPM's parameter encryption and EncryptDecrypt) */
    TCRYPTO_AES_OFB,
    /* Triple DES (SP 800-67), 64-bit blocks, 8-byte IV: keylen 24 (three
     * keys) or 16 (two keys, K3 = K1); the same padding rules as AES. */
    TCRYPTO_DES3_ECB,
    TCRYPTO_DES3_CBC,
    TCRYPTO_DES3_CBC_PAD,
    /* Single DES, keylen 8: only after tcrypto_legacy_enable() succeeded
     * (TCRYPTO_ERR_UNSUPPORTED otherwise). */
    TCRYPTO_DES_ECB,
    TCRYPTO_DES_CBC,
    TCRYPTO_DES_CBC_PAD,
} tcrypto_cipher_mode;

/* Block size of a mode's cipher in bytes (16 for AES, 8 for DES/TDES). */
size_t tcrypto_cipher_block(tcrypto_cipher_mode mode);

/* Loads OpenSSL's legacy provider into the layer's private library context
 * (never the process's default context), for single DES. Idempotent;
 * TCRYPTO_ERR_UNSUPPORTED when the provider cannot be loaded. Until it is
 * called nothing legacy is reachable. */
tcrypto_rc tcrypto_legacy_enable(void) TC_MUST_CHECK;
bool tcrypto_legacy_enabled(void);

typedef struct tcrypto_cipher tcrypto_cipher;
/* AES: keylen 16/24/32, iv 16 bytes; DES3: keylen 16/24, DES: 8, iv 8
 * bytes; iv NULL for ECB. */
tcrypto_rc tcrypto_cipher_new(tcrypto_cipher_mode mode, bool encrypt, const void *key,
                              size_t keylen, const void *iv, size_t ivlen,
                              tcrypto_cipher **out);
/* Output may be up to inlen + block - 1 bytes (block buffering). */
tcrypto_rc tcrypto_cipher_update(tcrypto_cipher *c, const void *in, size_t inlen, uint8_t *out,
                                 size_t *outlen);
/* Wrong padding on CBC_PAD decrypt or a partial block: TCRYPTO_ERR_DECRYPT /
 * TCRYPTO_ERR_INPUT. Output up to one block. */
tcrypto_rc tcrypto_cipher_final(tcrypto_cipher *c, uint8_t *out, size_t *outlen);
/* Copy the current IV / counter state out (TPM EncryptDecrypt returns ivOut). */
tcrypto_rc tcrypto_cipher_get_iv(const tcrypto_cipher *c, uint8_t *iv, size_t ivlen);
void tcrypto_cipher_free(tcrypto_cipher *c);

/* AES-GCM, one shot. iv any length >= 1; tag 4..16 bytes (12..16 recommended).
 * Decrypt returns TCRYPTO_ERR_DECRYPT on a bad tag and writes nothing. */
tcrypto_rc tcrypto_gcm_encrypt(const void *key, size_t keylen, const void *iv, size_t ivlen,
                               const void *aad, size_t aadlen, const void *in, size_t inlen,
                               uint8_t *out, uint8_t *tag, size_t taglen);
tcrypto_rc tcrypto_gcm_decrypt(const void *key, size_t keylen, const void *iv, size_t ivlen,
                               const void *aad, size_t aadlen, const void *in, size_t inlen,
                               const uint8_t *tag, size_t taglen, uint8_t *out);

/* AES-GCM with the key expanded once, for many messages under one key:
 * the same checks and results as the one-shot calls above, without the
 * per-call context set-up and key schedule. A context is used by one thread
 * at a time; the caller never repeats an IV under one key (SP 800-38D §8). */
typedef struct tcrypto_gcm tcrypto_gcm;
tcrypto_rc tcrypto_gcm_new(const void *key, size_t keylen, tcrypto_gcm **out);
tcrypto_rc tcrypto_gcm_seal(tcrypto_gcm *g, const void *iv, size_t ivlen, const void *aad,
                            size_t aadlen, const void *in, size_t inlen, uint8_t *out,
                            uint8_t *tag, size_t taglen);
tcrypto_rc tcrypto_gcm_open(tcrypto_gcm *g, const void *iv, size_t ivlen, const void *aad,
                            size_t aadlen, const void *in, size_t inlen, const uint8_t *tag,
                            size_t taglen, uint8_t *out);
void tcrypto_gcm_free(tcrypto_gcm *g);

/* AES key wrap: RFC 3394 (pad = false, input multiple of 8, >= 16) and
 * RFC 5649 (pad = true). Output = input + 8 (wrap) or - 8 at most (unwrap). */
tcrypto_rc tcrypto_aes_wrap(bool pad, const void *kek, size_t keklen, const void *in,
                            size_t inlen, uint8_t *out, size_t *outlen);
tcrypto_rc tcrypto_aes_unwrap(bool pad, const void *kek, size_t keklen, const void *in,
                              size_t inlen, uint8_t *out, size_t *outlen);

/* ---- key derivation ------------------------------------------------------ */

/* RFC 5869. mode: extract+expand, extract only (out = PRK, outlen = md size),
 * expand only (ikm is the PRK). */
typedef enum {
    TCRYPTO_HKDF_EXTRACT_EXPAND,
    TCRYPTO_HKDF_EXTRACT,
    TCRYPTO_HKDF_EXPAND,
} tcrypto_hkdf_mode;
tcrypto_rc tcrypto_hkdf(tcrypto_md md, tcrypto_hkdf_mode mode, const void *ikm, size_t ikmlen,
                        const void *salt, size_t saltlen, const void *info, size_t infolen,
                        uint8_t *out, size_t outlen);

/* Memory-hard PIN KDF (Argon2id). Parameters are stored with what they protect
 * so they can be raised later. */
typedef struct {
    uint32_t t_cost;   /* iterations */
    uint32_t m_cost;   /* KiB */
    uint32_t parallel; /* lanes */
} tcrypto_pin_kdf_params;
extern const tcrypto_pin_kdf_params tcrypto_pin_kdf_default;
tcrypto_rc tcrypto_pin_kdf(const tcrypto_pin_kdf_params *p, const void *pin, size_t pinlen,
                           const void *salt, size_t saltlen, uint8_t *out, size_t outlen);

/* ---- asymmetric keys ------------------------------------------------------ */

typedef enum {
    TCRYPTO_KEY_RSA = 1,
    TCRYPTO_KEY_EC,      /* NIST P-256/384/521 */
    TCRYPTO_KEY_ED25519,
    TCRYPTO_KEY_ED448,
    TCRYPTO_KEY_X25519,
    TCRYPTO_KEY_X448,
} tcrypto_key_type;

typedef enum {
    TCRYPTO_CURVE_NONE = 0,
    TCRYPTO_CURVE_P256,
    TCRYPTO_CURVE_P384,
    TCRYPTO_CURVE_P521,
} tcrypto_curve;

/* Curve from / to the DER OID encoding (what CKA_EC_PARAMS holds; also accepts
 * the printable-string curve names "edwards25519", "curve25519", ... for
 * Edwards/Montgomery keys, returned through *type). */
tcrypto_rc tcrypto_ec_params_parse(const uint8_t *der, size_t len, tcrypto_key_type *type,
                                   tcrypto_curve *curve);
/* DER OID for a key type / curve (the OID form for Ed/X keys). Static data. */
const uint8_t *tcrypto_ec_params_der(tcrypto_key_type type, tcrypto_curve curve, size_t *len);
size_t tcrypto_curve_bits(tcrypto_curve curve);

/* Reference-counted, immutable after creation. */
typedef struct tcrypto_pkey tcrypto_pkey;
void tcrypto_pkey_ref(tcrypto_pkey *k);
void tcrypto_pkey_free(tcrypto_pkey *k); /* drops a reference */
tcrypto_key_type tcrypto_pkey_type(const tcrypto_pkey *k);
bool tcrypto_pkey_has_private(const tcrypto_pkey *k);
size_t tcrypto_pkey_bits(const tcrypto_pkey *k);   /* modulus / field size */
tcrypto_curve tcrypto_pkey_curve(const tcrypto_pkey *k);

/* Generation; every key pair generated passes a pairwise-consistency test
 * (sign/verify or encrypt/decrypt or agreement) before it is returned; a
 * failure puts the module in the error state. pub_exp NULL means 65537. */
tcrypto_rc tcrypto_rsa_generate(unsigned bits, const uint8_t *pub_exp, size_t pub_exp_len,
                                tcrypto_pkey **out);
tcrypto_rc tcrypto_ec_generate(tcrypto_curve curve, tcrypto_pkey **out);
/* ED25519, ED448, X25519, X448 */
tcrypto_rc tcrypto_raw_generate(tcrypto_key_type type, tcrypto_pkey **out);

/* Components are big-endian unsigned integers. Private parts optional: pass
 * d = NULL for a public key. p, q, dp, dq, qinv may be NULL with d given. */
typedef struct {
    const uint8_t *n, *e, *d, *p, *q, *dp, *dq, *qinv;
    size_t n_len, e_len, d_len, p_len, q_len, dp_len, dq_len, qinv_len;
} tcrypto_rsa_parts;
tcrypto_rc tcrypto_rsa_from_parts(const tcrypto_rsa_parts *parts, tcrypto_pkey **out);
/* point: uncompressed SEC1 (04||X||Y), or NULL with priv given (derived);
 * priv: big-endian scalar or NULL. */
tcrypto_rc tcrypto_ec_from_parts(tcrypto_curve curve, const uint8_t *point, size_t point_len,
                                 const uint8_t *priv, size_t priv_len, tcrypto_pkey **out);
/* Ed/X keys: raw public (32/57/32/56 bytes) and/or raw private. */
tcrypto_rc tcrypto_raw_from_parts(tcrypto_key_type type, const uint8_t *pub, size_t pub_len,
                                  const uint8_t *priv, size_t priv_len, tcrypto_pkey **out);

/* Which component to export. Private components are refused for a public key. */
typedef enum {
    TCRYPTO_PART_RSA_N, TCRYPTO_PART_RSA_E, TCRYPTO_PART_RSA_D, TCRYPTO_PART_RSA_P,
    TCRYPTO_PART_RSA_Q, TCRYPTO_PART_RSA_DP, TCRYPTO_PART_RSA_DQ, TCRYPTO_PART_RSA_QINV,
    TCRYPTO_PART_EC_POINT,   /* uncompressed SEC1 point; raw public for Ed/X */
    TCRYPTO_PART_EC_PRIV,    /* big-endian scalar, padded to field size; raw private for Ed/X */
} tcrypto_part;
tcrypto_rc tcrypto_pkey_get_part(const tcrypto_pkey *k, tcrypto_part part, uint8_t *out,
                                 size_t *outlen);

/* DER encodings: PKCS#8 PrivateKeyInfo (private keys) and SubjectPublicKeyInfo. */
tcrypto_rc tcrypto_pkey_to_pkcs8(const tcrypto_pkey *k, uint8_t *out, size_t *outlen);
tcrypto_rc tcrypto_pkey_from_pkcs8(const uint8_t *der, size_t len, tcrypto_pkey **out);
tcrypto_rc tcrypto_pkey_to_spki(const tcrypto_pkey *k, uint8_t *out, size_t *outlen);
tcrypto_rc tcrypto_pkey_from_spki(const uint8_t *der, size_t len, tcrypto_pkey **out);
/* A new public-only key with the same public part. */
tcrypto_rc tcrypto_pkey_public(const tcrypto_pkey *k, tcrypto_pkey **out);

/* ---- signatures ------------------------------------------------------------ */

typedef enum {
    TCRYPTO_SIG_RSA_PKCS1, /* EMSA-PKCS1-v1_5. md NONE: `in` is signed as given
                            * (caller supplies DigestInfo), up to k - 11 bytes */
    TCRYPTO_SIG_RSA_PSS,   /* md required; `in` is the digest */
    TCRYPTO_SIG_RSA_RAW,   /* X.509 raw RSA: in left-padded with zeros to k bytes, in < n */
    TCRYPTO_SIG_ECDSA,     /* `in` is the digest (any length, truncated per FIPS 186);
                            * signature is r || s, each padded to the field size */
    TCRYPTO_SIG_EDDSA,     /* pure EdDSA over the whole message `in` (Ed25519/Ed448) */
} tcrypto_sig_scheme;

typedef struct {
    tcrypto_sig_scheme scheme;
    tcrypto_md md;      /* the digest that `in` is (PKCS1 DigestInfo, PSS), or NONE */
    tcrypto_md mgf1_md; /* PSS: MGF1 hash (NONE means same as md) */
    size_t salt_len;    /* PSS */
    /* EdDSA variants (RFC 8032): Ed25519ctx/ph and Ed448 context.
     * OpenSSL 3.0 implements only pure Ed25519/Ed448 (the instance and
     * context-string parameters arrived in 3.2): eddsa_ph = true or a
     * non-empty context returns TCRYPTO_ERR_UNSUPPORTED; context_len > 255
     * is TCRYPTO_ERR_ARG. */
    bool eddsa_ph;
    const uint8_t *context;
    size_t context_len;
} tcrypto_sig_params;

/* Signature length for k with these params (RSA: modulus bytes; ECDSA 2*field). */
size_t tcrypto_sig_size(const tcrypto_pkey *k, const tcrypto_sig_params *p);
tcrypto_rc tcrypto_sign(const tcrypto_pkey *k, const tcrypto_sig_params *p, const uint8_t *in,
                        size_t inlen, uint8_t *sig, size_t *siglen);
/* TCRYPTO_OK if valid, TCRYPTO_ERR_VERIFY if not (including wrong length). */
tcrypto_rc tcrypto_verify(const tcrypto_pkey *k, const tcrypto_sig_params *p,
                          const uint8_t *in, size_t inlen, const uint8_t *sig, size_t siglen);
/* ECDSA r||s <-> DER (TPM and X.509 use DER, PKCS#11 uses r||s). */
tcrypto_rc tcrypto_ecdsa_sig_to_der(const uint8_t *rs, size_t rslen, uint8_t *der,
                                    size_t *derlen);
tcrypto_rc tcrypto_ecdsa_sig_from_der(const uint8_t *der, size_t derlen, size_t field_len,
                                      uint8_t *rs, size_t *rslen);

/* ---- RSA encryption ------------------------------------------------------- */

typedef enum {
    TCRYPTO_RSA_PAD_PKCS1, /* RSAES-PKCS1-v1_5 */
    TCRYPTO_RSA_PAD_OAEP,
    TCRYPTO_RSA_PAD_NONE,  /* raw (X.509) */
} tcrypto_rsa_pad;

typedef struct {
    tcrypto_rsa_pad pad;
    tcrypto_md md;      /* OAEP hash */
    tcrypto_md mgf1_md; /* OAEP MGF1 hash (NONE = md) */
    const uint8_t *label;
    size_t label_len;
} tcrypto_rsa_enc_params;

tcrypto_rc tcrypto_rsa_encrypt(const tcrypto_pkey *k, const tcrypto_rsa_enc_params *p,
                               const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);
/* Padding failures return TCRYPTO_ERR_DECRYPT without saying which check failed. */
tcrypto_rc tcrypto_rsa_decrypt(const tcrypto_pkey *k, const tcrypto_rsa_enc_params *p,
                               const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen);

/* ---- key agreement --------------------------------------------------------- */

/* ECDH / X25519 / X448 with our private key and the peer's public value
 * (uncompressed SEC1 point for EC, raw for X keys). A peer point not on the
 * curve is TCRYPTO_ERR_KEY. Output: the raw shared secret (x coordinate). */
tcrypto_rc tcrypto_derive(const tcrypto_pkey *priv, const uint8_t *peer, size_t peer_len,
                          uint8_t *out, size_t *outlen);

/* ---- additions used by the TPM's crypto (tpm_crypto.c) -------------------- */

/* An independent copy of a running MAC (the TPM saves HMAC sequences). */
tcrypto_rc tcrypto_mac_dup(const tcrypto_mac *m, tcrypto_mac **out);
/* tcrypto_sig_params.salt_len for RSA-PSS: verification accepts any salt
 * length (TPM 2.0 Part 1 §B.7); signing uses the largest one. */
#define TCRYPTO_PSS_SALT_ANY ((size_t)-1)

#endif
