/*
 * crypto/ internal declarations shared by the crypto layer's files. Nothing
 * outside src/crypto includes this header (it pulls in OpenSSL).
 */
#ifndef TESSERA_CRYPTO_INT_H
#define TESSERA_CRYPTO_INT_H

#include <stdatomic.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "crypto/tcrypto.h"

#define TCX_SIGNER_SLOTS 4
struct tcx_signer;

/* The immutable key object handed out by the layer. The EVP_PKEY is never
 * modified after construction, so it is shared by concurrent operations. */
struct tcrypto_pkey {
    atomic_uint refs;
    EVP_PKEY *pk;
    tcrypto_key_type type;
    tcrypto_curve curve;
    size_t bits;     /* modulus bits (RSA), field bits (EC, Ed, X) */
    size_t bytes;    /* modulus bytes (RSA), field bytes (EC), raw key length (Ed/X) */
    bool priv;
    /* Initialised signing contexts over pk, taken and given back by
     * tcrypto_sign (sign.c); a cache, not part of the key's value. */
    _Atomic(struct tcx_signer *) signers[TCX_SIGNER_SLOTS];
};
/* Free the signing contexts k keeps (when the key itself goes). */
void tcx_signers_free(tcrypto_pkey *k);

/* Returns TCRYPTO_OK when crypto may run: performs the one-time start-up
 * (algorithm fetch, secure heap, self-tests) on first use and refuses with
 * TCRYPTO_ERR_STATE once the module is in the error state. */
tcrypto_rc tcx_ready(void);
/* Enter the permanent error state (self-test or pairwise-test failure). */
void tcx_enter_error(void);

/* Size of the secure heap set up under this RLIMIT_MEMLOCK soft limit
 * (RLIM_INFINITY for none) when `locked` bytes are locked already: a
 * quarter of what is left, as a power of two in [64 KiB, 8 MiB]. */
size_t tcx_secure_heap_size_for(uint64_t memlock_limit, size_t locked);

/* rc for a failed key load or generation: TCRYPTO_ERR_NOMEM when the
 * secure heap is exhausted (OpenSSL reports that like malformed input). */
tcrypto_rc tcx_load_failure(tcrypto_rc rc);

/* The layer's private library context: the "default" provider loaded
 * explicitly, no configuration file, no inherited default properties.
 * Every fetch, key and operation in the layer (and the TPM crypto files)
 * goes through it so a host program's OpenSSL configuration, providers or
 * property queries never apply to our crypto. Valid at any time (created on
 * first use); NULL only when it could not be created, in which case
 * tcx_ready() reports the error state. */
OSSL_LIB_CTX *tcx_libctx(void);
/* The passphrase callback for reading PEM keys (tls.c, cert.c): never
 * prompts, so an encrypted key is refused instead of hanging a daemon on
 * its terminal. */
int tcx_no_passphrase(char *buf, int size, int rwflag, void *u);

/* Provider key-type name for EVP_PKEY_CTX_new_from_name() and raw-key
 * constructors. These are the OID aliases of the default provider's key
 * managers: OpenSSL 3.0 maps the short names ("RSA", "EC", ...) to legacy
 * NIDs and then prefers any ENGINE registered for that NID over providers
 * (int_ctx_new in crypto/evp/pmeth_lib.c); an OID string maps to no NID,
 * so the provider in our library context is used. NULL for NONE. */
const char *tcx_keytype_name(tcrypto_key_type type);

/* Algorithm objects fetched once at start-up; NULL for NONE/unknown. */
const EVP_MD *tcx_md(tcrypto_md md);
const char *tcx_md_name(tcrypto_md md);

typedef enum {
    TCX_AES_ECB,
    TCX_AES_CBC,
    TCX_AES_CTR,
    TCX_AES_CFB,
    TCX_AES_OFB,
    TCX_AES_GCM,
    TCX_AES_WRAP,
    TCX_AES_WRAP_PAD,
    TCX_AES_KIND_COUNT
} tcx_aes_kind;
/* keylen 16/24/32, else NULL. */
const EVP_CIPHER *tcx_aes(tcx_aes_kind kind, size_t keylen);
/* Triple DES: keylen 24 (DES-EDE3) or 16 (DES-EDE, two keys); single DES:
 * keylen 8, NULL until the legacy provider is loaded. cbc selects CBC over
 * ECB. */
const EVP_CIPHER *tcx_des(bool cbc, size_t keylen);
EVP_MAC *tcx_mac_hmac(void);
EVP_MAC *tcx_mac_cmac(void);
EVP_KDF *tcx_kdf_hkdf(void);

/* Wrap an EVP_PKEY (ownership taken, also on failure). priv says whether
 * it carries private material. Rejects unsupported types and curves. */
tcrypto_rc tcx_pkey_wrap(EVP_PKEY *pk, bool priv, tcrypto_pkey **out);
/* A private integer of pk (an OSSL_PKEY_PARAM_* name) in a new
 * secure-heap BIGNUM, for BN_clear_free(); NULL on failure.
 * EVP_PKEY_get_bn_param() into a NULL BIGNUM would allocate it on the
 * ordinary heap (the parameter buffer it uses is wiped by it). */
BIGNUM *tcx_secure_bn_param(const EVP_PKEY *pk, const char *name);
/* Pairwise-consistency test of a freshly generated key pair (FIPS 140-3
 * IG 10.3.A). On failure the module enters the error state. */
tcrypto_rc tcx_pairwise_test(const tcrypto_pkey *k);

/* OpenSSL curve (group) names and field lengths. */
const char *tcx_curve_group(tcrypto_curve curve);
size_t tcx_curve_bytes(tcrypto_curve curve);
/* A new EC_GROUP of the curve in our library context (the caller frees
 * it); NULL for TCRYPTO_CURVE_NONE or when out of memory. */
EC_GROUP *tcx_curve_ec_group(tcrypto_curve curve);
/* The curve of a TPM_ECC_CURVE (TPM 2.0 Part 2 §6.4); TCRYPTO_CURVE_NONE
 * when unsupported. */
tcrypto_curve tcx_tpm_curve(uint16_t tpm_curve);
/* OpenSSL algorithm name for Ed/X key types. */
const char *tcx_raw_alg_name(tcrypto_key_type type);
size_t tcx_raw_key_len(tcrypto_key_type type);

/* A DER writer (der.c) that only counts when p is NULL, so a structure is
 * written twice: once to learn its length, once for real into a buffer of
 * that size. Nothing is allocated, so the output can be secure memory. */
typedef struct {
    uint8_t *p;
    size_t len;
} tcx_derw;
void tcx_derw_raw(tcx_derw *w, const void *b, size_t n);
/* Tag and definite length (X.690 §8.1.3) of n content bytes (< 16 MiB). */
void tcx_derw_hdr(tcx_derw *w, uint8_t tag, size_t n);
/* Non-negative INTEGER, minimal (X.690 §8.3), from a BIGNUM straight into
 * the output (no intermediate copy of a secret). */
void tcx_derw_bn(tcx_derw *w, const BIGNUM *bn);
/* The same from big-endian bytes (len >= 1; leading zeros are dropped). */
void tcx_derw_uint(tcx_derw *w, const uint8_t *v, size_t len);

/* Known-answer self-tests (selftest.c); true when every test passed. */
bool tcx_selftest_run(void);

/* Standard output-buffer convention (see tcrypto.h). Returns true when the
 * caller should return rc immediately (size query or buffer too small). */
static inline bool tcx_out_precheck(const uint8_t *out, size_t *outlen, size_t need,
                                    tcrypto_rc *rc)
{
    if (out == NULL) {
        *outlen = need;
        *rc = TCRYPTO_OK;
        return true;
    }
    if (*outlen < need) {
        *outlen = need;
        *rc = TCRYPTO_ERR_BUFFER;
        return true;
    }
    return false;
}

#endif
