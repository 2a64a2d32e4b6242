/*
 * Module state: one-time start-up (algorithm fetch, secure heap, known-answer
 * self-tests), the permanent error state, random numbers, constant-time
 * comparison and secure memory.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "crypto/crypto_int.h"

/* Secure heap size: every private key OpenSSL loads keeps its secret
 * bignums here, so it bounds how many private keys can be in memory at once
 * (~2.5 KiB per RSA-4096 key). 1 MiB, power of two as OpenSSL requires. */
#define TCX_SECURE_HEAP_SIZE (1u << 20)
#define TCX_SECURE_HEAP_MINSIZE 16

enum { TCX_STATE_UNINIT = 0, TCX_STATE_OK = 1, TCX_STATE_ERROR = 2 };

static atomic_int g_state = TCX_STATE_UNINIT;
static atomic_bool g_forced_error = false;
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static pthread_once_t g_heap_once = PTHREAD_ONCE_INIT;
/* Set on the thread running the self-tests, whose crypto calls must not wait
 * for the start-up they are part of. */
static _Thread_local bool tls_in_selftest = false;

static EVP_MD *g_md[TCRYPTO_MD_SHA3_512 + 1];
static EVP_CIPHER *g_aes[TCX_AES_KIND_COUNT][3];
static EVP_MAC *g_hmac;
static EVP_MAC *g_cmac;
static EVP_KDF *g_hkdf;

static const char *const g_md_names[TCRYPTO_MD_SHA3_512 + 1] = {
    [TCRYPTO_MD_NONE] = NULL,
    [TCRYPTO_MD_SHA1] = "SHA1",
    [TCRYPTO_MD_SHA224] = "SHA2-224",
    [TCRYPTO_MD_SHA256] = "SHA2-256",
    [TCRYPTO_MD_SHA384] = "SHA2-384",
    [TCRYPTO_MD_SHA512] = "SHA2-512",
    [TCRYPTO_MD_SHA3_224] = "SHA3-224",
    [TCRYPTO_MD_SHA3_256] = "SHA3-256",
    [TCRYPTO_MD_SHA3_384] = "SHA3-384",
    [TCRYPTO_MD_SHA3_512] = "SHA3-512",
};

static const char *const g_aes_modes[TCX_AES_KIND_COUNT] = {
    [TCX_AES_ECB] = "ECB",  [TCX_AES_CBC] = "CBC",   [TCX_AES_CTR] = "CTR",
    [TCX_AES_CFB] = "CFB",  [TCX_AES_OFB] = "OFB",   [TCX_AES_GCM] = "GCM",
    [TCX_AES_WRAP] = "WRAP", [TCX_AES_WRAP_PAD] = "WRAP-PAD",
};

const char *tcrypto_rc_str(tcrypto_rc rc)
{
    switch (rc) {
    case TCRYPTO_OK: return "ok";
    case TCRYPTO_ERR_ARG: return "invalid argument";
    case TCRYPTO_ERR_NOMEM: return "out of memory";
    case TCRYPTO_ERR_BUFFER: return "output buffer too small";
    case TCRYPTO_ERR_UNSUPPORTED: return "unsupported algorithm or size";
    case TCRYPTO_ERR_KEY: return "invalid key";
    case TCRYPTO_ERR_VERIFY: return "verification failed";
    case TCRYPTO_ERR_DECRYPT: return "decryption failed";
    case TCRYPTO_ERR_INPUT: return "invalid input data";
    case TCRYPTO_ERR_STATE: return "crypto module in error state";
    case TCRYPTO_ERR_INTERNAL: return "internal crypto error";
    }
    return "unknown error";
}

static void heap_init(void)
{
    if (CRYPTO_secure_malloc_initialized())
        return;
    /* 0 = failed (we fall back to wiped malloc); 2 = heap works but could
     * not be mlocked (RLIMIT_MEMLOCK): still used, still wiped. */
    int r = CRYPTO_secure_malloc_init(TCX_SECURE_HEAP_SIZE, TCX_SECURE_HEAP_MINSIZE);
    if (r == 0)
        TC_WARN("crypto", "secure heap unavailable, using wiped malloc");
    else if (r == 2)
        TC_WARN("crypto", "secure heap could not be locked in memory");
}

static bool fetch_all(void)
{
    for (int i = TCRYPTO_MD_SHA1; i <= TCRYPTO_MD_SHA3_512; i++) {
        g_md[i] = EVP_MD_fetch(NULL, g_md_names[i], NULL);
        if (g_md[i] == NULL)
            return false;
    }
    static const int bits[3] = {128, 192, 256};
    for (int k = 0; k < TCX_AES_KIND_COUNT; k++) {
        for (int b = 0; b < 3; b++) {
            char name[32];
            snprintf(name, sizeof(name), "AES-%d-%s", bits[b], g_aes_modes[k]);
            g_aes[k][b] = EVP_CIPHER_fetch(NULL, name, NULL);
            if (g_aes[k][b] == NULL)
                return false;
        }
    }
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    g_cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    g_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    return g_hmac != NULL && g_cmac != NULL && g_hkdf != NULL;
}

static void module_init(void)
{
    pthread_once(&g_heap_once, heap_init);
    bool ok = fetch_all();
    if (!ok)
        TC_ERROR("crypto", "could not fetch the required algorithms");
    if (ok) {
        tls_in_selftest = true;
        ok = tcx_selftest_run();
        tls_in_selftest = false;
        if (!ok)
            TC_ERROR("crypto", "known-answer self-test failed: entering error state");
    }
    int expected = TCX_STATE_UNINIT;
    atomic_compare_exchange_strong(&g_state, &expected,
                                   ok && !atomic_load(&g_forced_error) ? TCX_STATE_OK
                                                                       : TCX_STATE_ERROR);
}

tcrypto_rc tcx_ready(void)
{
    int s = atomic_load_explicit(&g_state, memory_order_acquire);
    if (s == TCX_STATE_OK)
        return TCRYPTO_OK;
    if (s == TCX_STATE_ERROR)
        return TCRYPTO_ERR_STATE;
    if (tls_in_selftest)
        return TCRYPTO_OK;
    pthread_once(&g_init_once, module_init);
    return atomic_load(&g_state) == TCX_STATE_OK ? TCRYPTO_OK : TCRYPTO_ERR_STATE;
}

void tcx_enter_error(void)
{
    atomic_store(&g_forced_error, true);
    atomic_store(&g_state, TCX_STATE_ERROR);
}

tcrypto_rc tcrypto_init(void)
{
    return tcx_ready();
}

bool tcrypto_in_error(void)
{
    return atomic_load(&g_state) == TCX_STATE_ERROR;
}

void tcrypto_force_error(void)
{
    TC_WARN("crypto", "error state forced");
    tcx_enter_error();
}

const EVP_MD *tcx_md(tcrypto_md md)
{
    if ((int)md <= TCRYPTO_MD_NONE || (int)md > TCRYPTO_MD_SHA3_512)
        return NULL;
    return g_md[md];
}

const char *tcx_md_name(tcrypto_md md)
{
    if ((int)md <= TCRYPTO_MD_NONE || (int)md > TCRYPTO_MD_SHA3_512)
        return NULL;
    return g_md_names[md];
}

const EVP_CIPHER *tcx_aes(tcx_aes_kind kind, size_t keylen)
{
    if ((int)kind < 0 || kind >= TCX_AES_KIND_COUNT)
        return NULL;
    switch (keylen) {
    case 16: return g_aes[kind][0];
    case 24: return g_aes[kind][1];
    case 32: return g_aes[kind][2];
    default: return NULL;
    }
}

tcrypto_rc tcx_load_failure(tcrypto_rc rc)
{
    /* Private bignums come from the secure heap; when it is (nearly) full
     * OpenSSL's decoders fail like on bad input. Say what really happened. */
    if (CRYPTO_secure_malloc_initialized() &&
        CRYPTO_secure_used() + 16384 > (size_t)TCX_SECURE_HEAP_SIZE) {
        TC_WARN("crypto", "secure heap exhausted (%zu bytes in use)", CRYPTO_secure_used());
        return TCRYPTO_ERR_NOMEM;
    }
    return rc;
}

EVP_MAC *tcx_mac_hmac(void) { return g_hmac; }
EVP_MAC *tcx_mac_cmac(void) { return g_cmac; }
EVP_KDF *tcx_kdf_hkdf(void) { return g_hkdf; }

/* ---- random -------------------------------------------------------------- */

tcrypto_rc tcrypto_random(void *out, size_t n)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (out == NULL && n != 0)
        return TCRYPTO_ERR_ARG;
    uint8_t *p = out;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(p, chunk) != 1)
            return TCRYPTO_ERR_INTERNAL;
        p += chunk;
        n -= (size_t)chunk;
    }
    return TCRYPTO_OK;
}

tcrypto_rc tcrypto_random_seed(const void *in, size_t n)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    if (in == NULL && n != 0)
        return TCRYPTO_ERR_ARG;
    const uint8_t *p = in;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        /* Mixed in without entropy credit: caller bytes are not trusted to
         * be random (PKCS#11 C_SeedRandom, TPM2_StirRandom). */
        RAND_add(p, chunk, 0.0);
        p += chunk;
        n -= (size_t)chunk;
    }
    return TCRYPTO_OK;
}

bool tcrypto_memeq(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return true;
    return CRYPTO_memcmp(a, b, n) == 0;
}

/* ---- secure memory -------------------------------------------------------- */

void *tcrypto_secure_alloc(size_t n)
{
    pthread_once(&g_heap_once, heap_init);
    if (n == 0)
        n = 1;
    void *p = OPENSSL_secure_zalloc(n);
    if (p == NULL)
        p = OPENSSL_zalloc(n); /* secure heap full or absent */
    return p;
}

void tcrypto_secure_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    /* Handles both secure-heap and fallback blocks; wipes n bytes first. */
    OPENSSL_secure_clear_free(p, n);
}
