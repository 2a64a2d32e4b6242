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
#include <sys/resource.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "crypto/crypto_int.h"

/* Secure heap size: every private key OpenSSL loads keeps its secret
 * bignums here, so it bounds how many private keys can be in memory at once
 * (896 bytes per RSA-2048 key, 1,792 per RSA-4096, 32 per P-256 key). OpenSSL allows one heap per process, set up once, of a power-of-two
 * size; it cannot grow. We take a quarter of the RLIMIT_MEMLOCK budget left
 * when we start (the rest is the host application's), between 64 KiB and
 * 8 MiB: 2 MiB under the 8 MiB default limit of an unprivileged process. */
#define TCX_SECURE_HEAP_MAX ((size_t)1 << 23)
#define TCX_SECURE_HEAP_MIN ((size_t)1 << 16)
#define TCX_SECURE_HEAP_SHARE 4
#define TCX_SECURE_HEAP_MINSIZE 16
/* Additional input per DRBG reseed; well under every DRBG's limit. */
#define TCX_SEED_CHUNK 1024u

enum { TCX_STATE_UNINIT = 0, TCX_STATE_OK = 1, TCX_STATE_ERROR = 2 };

static atomic_int g_state = TCX_STATE_UNINIT;
static atomic_bool g_forced_error = false;
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static pthread_once_t g_heap_once = PTHREAD_ONCE_INIT;
static pthread_once_t g_libctx_once = PTHREAD_ONCE_INIT;
/* Set on the thread running the self-tests, whose crypto calls must not wait
 * for the start-up they are part of. */
static _Thread_local bool tls_in_selftest = false;

static OSSL_LIB_CTX *g_libctx;
static OSSL_PROVIDER *g_default_prov;
static EVP_MD *g_md[TCRYPTO_MD_SHA3_512 + 1];
static EVP_CIPHER *g_aes[TCX_AES_KIND_COUNT][3];
/* [cbc][two-key] Triple DES; single DES ([cbc]) only once the legacy
 * provider is loaded. */
static EVP_CIPHER *g_des3[2][2];
static EVP_CIPHER *g_des1[2];
static OSSL_PROVIDER *g_legacy_prov;
static pthread_mutex_t g_legacy_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool g_legacy_on = false;
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

/* The secure heap as set up by heap_init(); written once, under g_heap_once. */
static size_t g_heap_size;
static bool g_heap_locked;

/* Bytes this process has locked already (VmLck), 0 when unknown. */
static size_t locked_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long kib = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmLck: %lu kB", &kib) == 1)
            break;
    fclose(f);
    return kib > SIZE_MAX / 1024 ? SIZE_MAX : (size_t)kib * 1024;
}

size_t tcx_secure_heap_size_for(uint64_t memlock_limit, size_t locked)
{
    if (memlock_limit == (uint64_t)RLIM_INFINITY)
        return TCX_SECURE_HEAP_MAX;
    uint64_t left = memlock_limit > locked ? memlock_limit - locked : 0;
    uint64_t budget = left / TCX_SECURE_HEAP_SHARE;
    size_t size = TCX_SECURE_HEAP_MAX;
    while (size > TCX_SECURE_HEAP_MIN && size > budget)
        size >>= 1;
    return size;
}

static void heap_init(void)
{
    if (CRYPTO_secure_malloc_initialized()) {
        /* The host set it up first; its size is not ours to know. */
        TC_INFO("crypto", "using the secure heap the host process set up");
        g_heap_locked = true;
        return;
    }
    /* 0 = failed: nothing secret can be held (tcrypto_secure_alloc refuses,
     * start-up enters the error state); 2 = works but could not be mlocked
     * (RLIMIT_MEMLOCK): still used, still wiped and excluded from dumps. */
    struct rlimit rl;
    uint64_t limit = (uint64_t)RLIM_INFINITY;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0)
        limit = (uint64_t)rl.rlim_cur;
    size_t locked = locked_bytes();
    size_t size = tcx_secure_heap_size_for(limit, locked);
    int r = CRYPTO_secure_malloc_init(size, TCX_SECURE_HEAP_MINSIZE);
    if (r == 0) {
        TC_ERROR("crypto", "secure heap of %zu bytes could not be created", size);
        return;
    }
    g_heap_size = size;
    g_heap_locked = r == 1;
    if (r == 2)
        TC_ERROR("crypto", "secure heap (%zu KiB) NOT locked in memory: keys may be "
                 "swapped out (RLIMIT_MEMLOCK %llu KiB, %zu KiB already locked); "
                 "raise the limit", size / 1024, (unsigned long long)(limit / 1024),
                 locked / 1024);
    else
        TC_DEBUG("crypto", "secure heap: %zu KiB locked", size / 1024);
}

/*
 * Our library context. OSSL_LIB_CTX_new() reads no configuration file, so
 * neither the host's openssl.cnf nor its default property query
 * (EVP_set_default_properties) nor the providers it loaded apply to it.
 *
 * That alone is not enough in OpenSSL 3.0: EVP_PKEY_CTX_new_from_pkey()
 * turns the key manager's name ("RSA", "EC") into a legacy NID and then
 * asks the global ENGINE table for a pkey method for that NID before it
 * considers the key's provider (int_ctx_new, crypto/evp/pmeth_lib.c). A
 * host that made an engine the default (`openssl req -engine pkcs11` makes
 * libengine-pkcs11 the default for RSA and EC, and that engine calls back
 * into this very module) thus gets every RSA/EC operation on our own keys.
 * The library context cannot turn that off, so the algorithms reach it
 * through a thin built-in provider: it hands out the "default" provider's
 * implementations unchanged (from a second private context, with the
 * default provider's own provider context, so no call needs translating)
 * but lists each key manager under its OID alias first. The first name is
 * what EVP_KEYMGMT_get0_name() reports; an OID maps to no NID, so the
 * engine lookup never happens and the provider does the work.
 */
#define TCX_PROVIDER_NAME "tessera-default"

static OSSL_LIB_CTX *g_inner_libctx;
static OSSL_PROVIDER *g_inner_prov;
/* Renamed copy of the inner key managers; freed by libctx_cleanup(). The
 * names we allocated are kept apart (the others belong to the provider). */
static OSSL_ALGORITHM *g_keymgmt_algs;
static char **g_keymgmt_names;
static size_t g_keymgmt_count;

static bool name_is_oid(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || p[i] == '.'))
            return false;
    return true;
}

/* "RSA:rsaEncryption:1.2.840.113549.1.1.1" -> "1.2.840.113549.1.1.1:RSA:
 * rsaEncryption"; NULL when the list holds no OID (kept as it is). */
static char *oid_first(const char *names)
{
    const char *p = names;
    while (*p != '\0') {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (name_is_oid(p, n)) {
            size_t total = strlen(names);
            char *out = malloc(total + 2);
            if (out == NULL)
                return NULL;
            memcpy(out, p, n);
            size_t o = n;
            /* the other names, in order, without the OID */
            if (p != names) {
                out[o++] = ':';
                memcpy(out + o, names, (size_t)(p - names) - 1);
                o += (size_t)(p - names) - 1;
            }
            if (end != NULL) {
                size_t rest = strlen(end + 1);
                out[o++] = ':';
                memcpy(out + o, end + 1, rest);
                o += rest;
            }
            out[o] = '\0';
            return out;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return NULL;
}

static bool build_keymgmt_algs(void)
{
    int no_cache = 0;
    const OSSL_ALGORITHM *in = OSSL_PROVIDER_query_operation(g_inner_prov, OSSL_OP_KEYMGMT,
                                                             &no_cache);
    size_t n = 0;
    if (in == NULL)
        return false;
    while (in[n].algorithm_names != NULL)
        n++;
    OSSL_ALGORITHM *out = calloc(n + 1, sizeof(*out));
    char **names = calloc(n + 1, sizeof(*names));
    if (out == NULL || names == NULL) {
        free(out);
        free(names);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = in[i];
        names[i] = oid_first(in[i].algorithm_names);
        if (names[i] != NULL)
            out[i].algorithm_names = names[i];
    }
    g_keymgmt_algs = out;
    g_keymgmt_names = names;
    g_keymgmt_count = n;
    return true;
}

static const OSSL_ALGORITHM *prov_query(void *provctx, int op, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    if (op == OSSL_OP_KEYMGMT)
        return g_keymgmt_algs;
    return OSSL_PROVIDER_query_operation(g_inner_prov, op, no_cache);
}

static int prov_get_capabilities(void *provctx, const char *capability, OSSL_CALLBACK *cb,
                                 void *arg)
{
    (void)provctx;
    return OSSL_PROVIDER_get_capabilities(g_inner_prov, capability, cb, arg);
}

static void prov_teardown(void *provctx)
{
    (void)provctx; /* the inner provider lives as long as the process */
}

static const OSSL_DISPATCH g_prov_dispatch[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))prov_get_capabilities},
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))prov_teardown},
    {0, NULL},
};

static int prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx)
{
    (void)handle;
    (void)in;
    *out = g_prov_dispatch;
    /* The implementations are the inner default provider's: they expect
     * its provider context, and get it. */
    *provctx = OSSL_PROVIDER_get0_provider_ctx(g_inner_prov);
    return *provctx != NULL;
}

/* Run when this module is unloaded (dlclose) or the process exits. An
 * atexit() handler registered from a shared object runs at its dlclose
 * too, and at exit before OPENSSL_cleanup(), whose own handler was
 * registered earlier (libctx_init initialises OpenSSL first).
 * OPENSSL_atexit() would be wrong here: on Linux it does not keep the
 * registering module mapped. OpenSSL tears down only the default context
 * itself: the per-thread DRBGs of ours would otherwise be left behind. Everything
 * fetched from our contexts goes first, then the contexts, outer first
 * (its objects call into the inner provider). The module stays in the
 * error state afterwards. */
static void libctx_cleanup(void)
{
    atomic_store(&g_state, TCX_STATE_ERROR);
    for (size_t i = 0; i < TC_ARRAY_LEN(g_md); i++) {
        EVP_MD_free(g_md[i]);
        g_md[i] = NULL;
    }
    for (size_t k = 0; k < TCX_AES_KIND_COUNT; k++) {
        for (size_t b = 0; b < 3; b++) {
            EVP_CIPHER_free(g_aes[k][b]);
            g_aes[k][b] = NULL;
        }
    }
    for (size_t m = 0; m < 2; m++) {
        for (size_t k = 0; k < 2; k++) {
            EVP_CIPHER_free(g_des3[m][k]);
            g_des3[m][k] = NULL;
        }
        EVP_CIPHER_free(g_des1[m]);
        g_des1[m] = NULL;
    }
    atomic_store(&g_legacy_on, false);
    OSSL_PROVIDER_unload(g_legacy_prov);
    g_legacy_prov = NULL;
    EVP_MAC_free(g_hmac);
    EVP_MAC_free(g_cmac);
    EVP_KDF_free(g_hkdf);
    g_hmac = g_cmac = NULL;
    g_hkdf = NULL;
    OSSL_PROVIDER_unload(g_default_prov);
    OSSL_LIB_CTX_free(g_libctx);
    g_default_prov = NULL;
    g_libctx = NULL;
    OSSL_PROVIDER_unload(g_inner_prov);
    OSSL_LIB_CTX_free(g_inner_libctx);
    g_inner_prov = NULL;
    g_inner_libctx = NULL;
    /* Only now: the outer provider handed these out until its context went.
     * A module loaded and unloaded again (dlopen/dlclose) must not leave
     * them behind each time. */
    for (size_t i = 0; g_keymgmt_names != NULL && i < g_keymgmt_count; i++)
        free(g_keymgmt_names[i]);
    free(g_keymgmt_names);
    free(g_keymgmt_algs);
    g_keymgmt_names = NULL;
    g_keymgmt_algs = NULL;
    g_keymgmt_count = 0;
}

static void libctx_init(void)
{
    OSSL_LIB_CTX *ctx = NULL;
    /* Registers OpenSSL's exit handler before ours; loads no configuration. */
    if (OPENSSL_init_crypto(0, NULL) != 1) {
        TC_ERROR("crypto", "could not initialise OpenSSL");
        return;
    }
    g_inner_libctx = OSSL_LIB_CTX_new();
    if (g_inner_libctx == NULL ||
        (g_inner_prov = OSSL_PROVIDER_load(g_inner_libctx, "default")) == NULL ||
        !build_keymgmt_algs()) {
        TC_ERROR("crypto", "could not load the default provider");
        return;
    }
    ctx = OSSL_LIB_CTX_new();
    if (ctx == NULL || OSSL_PROVIDER_add_builtin(ctx, TCX_PROVIDER_NAME, prov_init) != 1 ||
        (g_default_prov = OSSL_PROVIDER_load(ctx, TCX_PROVIDER_NAME)) == NULL) {
        TC_ERROR("crypto", "could not create the library context");
        OSSL_LIB_CTX_free(ctx);
        return;
    }
    g_libctx = ctx;
    if (atexit(libctx_cleanup) != 0)
        TC_WARN("crypto", "could not register the library context clean-up");
}

OSSL_LIB_CTX *tcx_libctx(void)
{
    pthread_once(&g_libctx_once, libctx_init);
    return g_libctx;
}

static bool fetch_all(void)
{
    OSSL_LIB_CTX *lc = tcx_libctx();
    if (lc == NULL)
        return false;
    for (int i = TCRYPTO_MD_SHA1; i <= TCRYPTO_MD_SHA3_512; i++) {
        g_md[i] = EVP_MD_fetch(lc, g_md_names[i], NULL);
        if (g_md[i] == NULL)
            return false;
    }
    static const int bits[3] = {128, 192, 256};
    for (int k = 0; k < TCX_AES_KIND_COUNT; k++) {
        for (int b = 0; b < 3; b++) {
            char name[32];
            snprintf(name, sizeof(name), "AES-%d-%s", bits[b], g_aes_modes[k]);
            g_aes[k][b] = EVP_CIPHER_fetch(lc, name, NULL);
            if (g_aes[k][b] == NULL)
                return false;
        }
    }
    /* Triple DES is in the default provider (SP 800-67); two-key TDES is
     * DES-EDE. */
    static const char *const des3_names[2][2] = {{"DES-EDE3-ECB", "DES-EDE-ECB"},
                                                 {"DES-EDE3-CBC", "DES-EDE-CBC"}};
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < 2; k++) {
            g_des3[m][k] = EVP_CIPHER_fetch(lc, des3_names[m][k], NULL);
            if (g_des3[m][k] == NULL)
                return false;
        }
    }
    g_hmac = EVP_MAC_fetch(lc, "HMAC", NULL);
    g_cmac = EVP_MAC_fetch(lc, "CMAC", NULL);
    g_hkdf = EVP_KDF_fetch(lc, "HKDF", NULL);
    return g_hmac != NULL && g_cmac != NULL && g_hkdf != NULL;
}

static void module_init(void)
{
    pthread_once(&g_heap_once, heap_init);
    if (!CRYPTO_secure_malloc_initialized()) {
        /* Keys would land on the ordinary heap (OpenSSL falls back to it
         * silently when there is no secure heap): refuse instead. */
        TC_ERROR("crypto", "no secure heap: entering error state");
        atomic_store(&g_state, TCX_STATE_ERROR);
        return;
    }
    /* Our crypto must leave nothing on the host thread's OpenSSL error
     * queue (the self-tests provoke failures on purpose). */
    ERR_set_mark();
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
    ERR_pop_to_mark();
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
    if (CRYPTO_secure_malloc_initialized() && g_heap_size != 0 &&
        CRYPTO_secure_used() + 16384 > g_heap_size) {
        TC_WARN("crypto", "secure heap exhausted (%zu bytes in use)", CRYPTO_secure_used());
        return TCRYPTO_ERR_NOMEM;
    }
    return rc;
}

const EVP_CIPHER *tcx_des(bool cbc, size_t keylen)
{
    switch (keylen) {
    case 24: return g_des3[cbc][0];
    case 16: return g_des3[cbc][1];
    case 8: return atomic_load(&g_legacy_on) ? g_des1[cbc] : NULL;
    default: return NULL;
    }
}

tcrypto_rc tcrypto_legacy_enable(void)
{
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    pthread_mutex_lock(&g_legacy_lock);
    if (atomic_load(&g_legacy_on))
        goto done;
    /* Into our own library context only: the host's default context, and
     * so its own DES, stay as the host configured them. */
    ERR_set_mark();
    g_legacy_prov = OSSL_PROVIDER_load(tcx_libctx(), "legacy");
    if (g_legacy_prov != NULL) {
        g_des1[0] = EVP_CIPHER_fetch(tcx_libctx(), "DES-ECB", "provider=legacy");
        g_des1[1] = EVP_CIPHER_fetch(tcx_libctx(), "DES-CBC", "provider=legacy");
    }
    ERR_pop_to_mark();
    if (g_des1[0] == NULL || g_des1[1] == NULL) {
        EVP_CIPHER_free(g_des1[0]);
        EVP_CIPHER_free(g_des1[1]);
        g_des1[0] = g_des1[1] = NULL;
        OSSL_PROVIDER_unload(g_legacy_prov);
        g_legacy_prov = NULL;
        TC_ERROR("crypto", "OpenSSL's legacy provider could not be loaded: no single DES");
        rc = TCRYPTO_ERR_UNSUPPORTED;
        goto done;
    }
    atomic_store(&g_legacy_on, true);
    TC_INFO("crypto", "legacy algorithms enabled (OpenSSL legacy provider loaded)");
done:
    pthread_mutex_unlock(&g_legacy_lock);
    return rc;
}

bool tcrypto_legacy_enabled(void)
{
    return atomic_load(&g_legacy_on);
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
    if (n == 0)
        return TCRYPTO_OK;
    /* The DRBG of our library context, called directly: RAND_bytes() and
     * RAND_bytes_ex() both defer to a RAND_METHOD a host ENGINE may have
     * installed as the default. EVP_RAND_generate() splits requests larger
     * than the DRBG's maximum itself. */
    EVP_RAND_CTX *drbg = RAND_get0_public(tcx_libctx());
    if (drbg == NULL || EVP_RAND_generate(drbg, out, n, 0, 0, NULL, 0) != 1)
        return TCRYPTO_ERR_INTERNAL;
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
    /* Mixed in as additional input of a reseed of our primary DRBG, without
     * entropy credit: caller bytes are not trusted to be random (PKCS#11
     * C_SeedRandom, TPM2_StirRandom). The children (public/private DRBGs)
     * reseed from it on their next request. */
    EVP_RAND_CTX *drbg = RAND_get0_primary(tcx_libctx());
    if (drbg == NULL)
        return TCRYPTO_ERR_INTERNAL;
    while (n > 0) {
        size_t chunk = n > TCX_SEED_CHUNK ? TCX_SEED_CHUNK : n;
        if (EVP_RAND_reseed(drbg, 0, NULL, 0, p, chunk) != 1)
            return TCRYPTO_ERR_INTERNAL;
        p += chunk;
        n -= chunk;
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

/* Allocations refused because the secure heap was full or absent. */
static atomic_ulong g_secure_refused;
static atomic_bool g_secure_refusal_logged;

void *tcrypto_secure_alloc(size_t n)
{
    pthread_once(&g_heap_once, heap_init);
    if (n == 0)
        n = 1;
    /* Never the ordinary heap: OPENSSL_secure_zalloc() itself falls back to
     * malloc when no secure heap exists, so that case is refused here, and
     * a full heap makes the caller fail (the core evicts cached keys and
     * retries, or answers CKR_HOST_MEMORY). */
    void *p = CRYPTO_secure_malloc_initialized() ? OPENSSL_secure_zalloc(n) : NULL;
    if (p == NULL) {
        atomic_fetch_add(&g_secure_refused, 1);
        if (!atomic_exchange(&g_secure_refusal_logged, true))
            TC_ERROR("crypto", "secure heap %s: allocation of %zu bytes refused "
                     "(logged once; see the refusal count)",
                     CRYPTO_secure_malloc_initialized() ? "full" : "unavailable", n);
    }
    return p;
}

void tcrypto_secure_heap_stats(tcrypto_secure_heap_info *out)
{
    pthread_once(&g_heap_once, heap_init);
    memset(out, 0, sizeof(*out));
    out->available = CRYPTO_secure_malloc_initialized() != 0;
    out->size = g_heap_size;
    out->used = out->available ? CRYPTO_secure_used() : 0;
    out->locked = out->available && g_heap_locked;
    out->refused = atomic_load(&g_secure_refused);
}

void tcrypto_secure_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    /* Wipes n bytes first. */
    OPENSSL_secure_clear_free(p, n);
}
