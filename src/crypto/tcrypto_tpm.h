/*
 * TPM-specific cryptography (TPM 2.0 Library spec Part 1 §11.4): KDFa/KDFe,
 * CFB parameter encryption, deterministic key derivation from a hierarchy
 * seed, keys from TPM-format key material. The hash, HMAC, random, signature,
 * RSA encryption and ECDH entry points below only map TPM identifiers and
 * formats onto the generic API of tcrypto.h, which does the work. Hash algorithms are
 * named by their TPM_ALG_ID (SHA1 0x0004, SHA256 0x000B, SHA384 0x000C,
 * SHA512 0x000D); curves by TPM_ECC_CURVE (P256 0x0003, P384 0x0004, P521 0x0005).
 *
 * The rule of tcrypto.h holds: nothing is written to an output on failure and
 * secrets are wiped on every path.
 */
#ifndef TESSERA_CRYPTO_TPM_H
#define TESSERA_CRYPTO_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/tcrypto.h"

/* A piece of a message hashed or MACed in one call. */
typedef struct {
    const void *p;
    size_t n;
} tcrypto_tpm_iov;

/* Digest size of a TPM hash algorithm; 0 when unsupported. */
size_t tcrypto_tpm_hash_size(uint16_t alg);

tcrypto_rc tcrypto_tpm_hash(uint16_t alg, const tcrypto_tpm_iov *v, size_t nv, uint8_t *out)
    TC_MUST_CHECK;
tcrypto_rc tcrypto_tpm_hmac(uint16_t alg, const void *key, size_t keylen,
                            const tcrypto_tpm_iov *v, size_t nv, uint8_t *out) TC_MUST_CHECK;

/* Streaming hash or HMAC (key NULL = plain hash) for the sequence commands. */
typedef struct tcrypto_tpm_md tcrypto_tpm_md;
tcrypto_rc tcrypto_tpm_md_new(uint16_t alg, const void *key, size_t keylen, tcrypto_tpm_md **out)
    TC_MUST_CHECK;
tcrypto_rc tcrypto_tpm_md_update(tcrypto_tpm_md *m, const void *p, size_t n) TC_MUST_CHECK;
/* out holds tcrypto_tpm_hash_size(alg) bytes; m stays usable only for free. */
tcrypto_rc tcrypto_tpm_md_final(tcrypto_tpm_md *m, uint8_t *out) TC_MUST_CHECK;
void tcrypto_tpm_md_free(tcrypto_tpm_md *m);
/* An independent copy of the running state. */
tcrypto_rc tcrypto_tpm_md_dup(const tcrypto_tpm_md *m, tcrypto_tpm_md **out) TC_MUST_CHECK;
/* A hash or HMAC (key non-NULL) whose running state can be exported, for
 * the sequence objects: a saved sequence context carries its state (Part 1
 * §30). SHA-1, SHA-256, SHA-384, SHA-512. */
tcrypto_rc tcrypto_tpm_md_new_saveable(uint16_t alg, const void *key, size_t keylen,
                                       tcrypto_tpm_md **out) TC_MUST_CHECK;
/* The running state (secret for HMAC: it holds the key's outer pad) into
 * out; its length, or 0 when m is not saveable or cap is too small
 * (TCRYPTO_TPM_MD_STATE_MAX always suffices). */
#define TCRYPTO_TPM_MD_STATE_MAX 512
size_t tcrypto_tpm_md_export(const tcrypto_tpm_md *m, uint8_t *out, size_t cap);
/* A saveable digest from an exported state; TCRYPTO_ERR_INPUT when the
 * bytes are not one. */
tcrypto_rc tcrypto_tpm_md_import(const uint8_t *in, size_t len, tcrypto_tpm_md **out)
    TC_MUST_CHECK;

/* KDFa (Part 1 §11.4.10.2, SP 800-108 counter mode with HMAC): label is a
 * NUL-terminated string whose terminating zero is part of the input. */
tcrypto_rc tcrypto_tpm_kdfa(uint16_t alg, const void *key, size_t keylen, const char *label,
                            const void *ctx_u, size_t ulen, const void *ctx_v, size_t vlen,
                            uint32_t bits, uint8_t *out) TC_MUST_CHECK;
/* KDFe (Part 1 §11.4.10.3, SP 800-56A concatenation KDF). */
tcrypto_rc tcrypto_tpm_kdfe(uint16_t alg, const void *z, size_t zlen, const char *label,
                            const void *party_u, size_t ulen, const void *party_v, size_t vlen,
                            uint32_t bits, uint8_t *out) TC_MUST_CHECK;

/* AES-CFB (full-block feedback) in place or out of place; iv (16 bytes) is
 * updated to the chaining value at the end so EncryptDecrypt can return it. */
tcrypto_rc tcrypto_tpm_aes_cfb(bool encrypt, const void *key, size_t keylen, uint8_t iv[16],
                               const uint8_t *in, size_t len, uint8_t *out) TC_MUST_CHECK;
/* AES in CBC/ECB/CTR/OFB mode without padding for EncryptDecrypt;
 * mode is the TPM_ALG_ID of the mode. */
tcrypto_rc tcrypto_tpm_aes_mode(uint16_t mode, bool encrypt, const void *key, size_t keylen,
                                uint8_t iv[16], const uint8_t *in, size_t len, uint8_t *out)
    TC_MUST_CHECK;

/* ---- asymmetric keys in TPM form ---------------------------------------- */

/* A key of the layer (tcrypto_pkey), built from the TPM's marshalled form. */
typedef struct tcrypto_pkey tcrypto_tpm_key;
void tcrypto_tpm_key_free(tcrypto_tpm_key *k);

/* Deterministic byte stream for key generation (KDFa output). */
typedef tcrypto_rc (*tcrypto_tpm_stream)(void *ctx, uint8_t *out, size_t n);

/* RSA key with modulus bits and exponent e (0 = 65537). With stream NULL the
 * primes come from the RNG, otherwise from the stream by a deterministic
 * candidate search. Writes the modulus (bits/8 bytes) and prime p (bits/16). */
tcrypto_rc tcrypto_tpm_rsa_generate(unsigned bits, uint32_t e, tcrypto_tpm_stream stream,
                                    void *sctx, uint8_t *n_out, uint8_t *p_out) TC_MUST_CHECK;
/* Key from modulus and optional prime p (private when p is given). */
tcrypto_rc tcrypto_tpm_rsa_key(const uint8_t *n, size_t nlen, uint32_t e, const uint8_t *p,
                               size_t plen, tcrypto_tpm_key **out) TC_MUST_CHECK;

/* Field size of a TPM curve in bytes (0 = unsupported). */
size_t tcrypto_tpm_ecc_size(uint16_t curve);
/* ECC key pair: with stream NULL random, otherwise the scalar comes from the
 * stream (retrying while out of range). Writes d, x, y, each ecc_size bytes. */
tcrypto_rc tcrypto_tpm_ecc_generate(uint16_t curve, tcrypto_tpm_stream stream, void *sctx,
                                    uint8_t *d_out, uint8_t *x_out, uint8_t *y_out) TC_MUST_CHECK;
/* Key from a public point and optional private scalar. The point must be on
 * the curve (TCRYPTO_ERR_KEY otherwise). */
tcrypto_rc tcrypto_tpm_ecc_key(uint16_t curve, const uint8_t *x, size_t xlen, const uint8_t *y,
                               size_t ylen, const uint8_t *d, size_t dlen,
                               tcrypto_tpm_key **out) TC_MUST_CHECK;
/* Domain parameters of a curve, each big-endian and ecc_size bytes long:
 * prime p, a, b, generator x and y, order n (TPM2_ECC_Parameters). */
tcrypto_rc tcrypto_tpm_ecc_params(uint16_t curve, uint8_t *p, uint8_t *a, uint8_t *b, uint8_t *gx,
                                  uint8_t *gy, uint8_t *n) TC_MUST_CHECK;
/* ECDH: x coordinate of d*Q (ecc_size bytes) into zx and, if zy is not NULL, y. */
tcrypto_rc tcrypto_tpm_ecdh(const tcrypto_tpm_key *priv, const uint8_t *x, size_t xlen,
                            const uint8_t *y, size_t ylen, uint8_t *zx, uint8_t *zy) TC_MUST_CHECK;

/* Signature schemes by TPM_ALG_ID: RSASSA 0x0014, RSAPSS 0x0016, ECDSA 0x0018.
 * RSA signatures are modulus-sized; ECDSA gives r and s, ecc_size each.
 * For RSAPSS the salt is as long as the digest (Part 1 §B.7 practice,
 * accepted on verify with any salt length). */
tcrypto_rc tcrypto_tpm_sign(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                            const uint8_t *digest, size_t dlen, uint8_t *sig, size_t *siglen,
                            uint8_t *s_out) TC_MUST_CHECK;
/* TCRYPTO_OK when valid, TCRYPTO_ERR_VERIFY when not. For ECDSA sig is r, s2 is s. */
tcrypto_rc tcrypto_tpm_verify(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                              const uint8_t *digest, size_t dlen, const uint8_t *sig,
                              size_t siglen, const uint8_t *s2, size_t s2len) TC_MUST_CHECK;

/* RSA encryption by TPM_ALG_ID: RSAES 0x0015 (PKCS#1 v1.5), OAEP 0x0017,
 * NULL 0x0010 (raw). label is used by OAEP (already NUL-terminated per the
 * spec if the caller wants it so). *outlen: capacity in, length out. */
tcrypto_rc tcrypto_tpm_rsa_encrypt(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                                   const uint8_t *label, size_t label_len, const uint8_t *in,
                                   size_t inlen, uint8_t *out, size_t *outlen) TC_MUST_CHECK;
tcrypto_rc tcrypto_tpm_rsa_decrypt(const tcrypto_tpm_key *k, uint16_t scheme, uint16_t hash,
                                   const uint8_t *label, size_t label_len, const uint8_t *in,
                                   size_t inlen, uint8_t *out, size_t *outlen) TC_MUST_CHECK;

/* Random bytes for the TPM: tcrypto_random. */
tcrypto_rc tcrypto_tpm_random(void *out, size_t n) TC_MUST_CHECK;
void tcrypto_tpm_random_stir(const void *in, size_t n);

#endif
