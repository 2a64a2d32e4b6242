/*
 * p11bench: a PKCS#11 benchmark that loads any module by path.
 *
 * Throughput mode (default): sign with RSA-2048 (CKM_SHA256_RSA_PKCS), ECDSA
 * P-256 (CKM_ECDSA_SHA256), Ed25519 (CKM_EDDSA) and encrypt 4 KiB with
 * AES-256-GCM, each with 1 and 2 threads (one session per thread), for every
 * module given, next to raw OpenSSL doing the same operations through EVP in
 * the same run. Prints ops/s and the ratio to OpenSSL.
 *
 * Scale mode (--scale N): makes sure the token "p11scale" holds N token key
 * pairs (created once, then reused from the module's store), then measures
 * module start-up (C_Initialize + C_OpenSession + C_Login), finding one key by
 * label, and one token key-pair generation.
 *
 * Latency mode (--latency): single-threaded, N calls each (--calls), the
 * median and 99th percentile of one C_GenerateRandom of 32 bytes (one round
 * trip through the module, the cheapest call that reaches the token) and of
 * one ECDSA P-256 signature (C_SignInit + C_Sign), next to RAND_bytes and an
 * EVP ECDSA signature in the same process.
 *
 * Loops are time-bounded; nothing here asserts a timing. The module's store is
 * chosen by its own environment (TESSERA_CONF for Tessera, SOFTHSM2_CONF for
 * SoftHSMv2), so several modules can be compared in one run. The environment
 * is process-wide, so configurations that differ only in it (the same module
 * embedded and remote, say) run in one process each; --results adds one
 * line per figure for a script to merge:
 *     RESULT config=NAME mode=ops row=ec threads=2 ops=12345.6
 *     RESULT config=NAME mode=latency row=random calls=5000 median_us=21.3 p99_us=40.2 mean_us=23.0
 * NAME is the module's NAME (--module NAME=PATH), "openssl" for the baseline;
 * a failed figure has error=0x... instead of its numbers.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "tessera/pkcs11.h"

#define MAX_MODULES 4
#define MAX_THREADS 16
#define MSG_LEN 256
#define AES_DATA_LEN 4096

enum row { ROW_RSA, ROW_EC, ROW_ED, ROW_AES, NROWS };
static const char *const row_id[NROWS] = {"rsa", "ec", "ed", "aes"};
static const char *const row_name[NROWS] = {
    "RSA-2048 sign (SHA256_RSA_PKCS)",
    "ECDSA P-256 sign (ECDSA_SHA256)",
    "Ed25519 sign (EDDSA)",
    "AES-256-GCM encrypt 4 KiB",
};

struct opts {
    double seconds;
    int threads[4];
    int nthreads;
    const char *pin;
    const char *so_pin;
    const char *token;
    bool openssl;
    bool rows[NROWS];
    long scale;
    int create_threads;
    bool latency;
    long calls;
    bool results;
    int speed_seconds; /* > 0: also run `openssl speed` for that long */
};

struct module {
    const char *name;
    const char *path;
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key[NROWS];
    CK_MECHANISM_TYPE ecdsa_mech; /* CKM_ECDSA_SHA256, or CKM_ECDSA over a digest */
    double ops[NROWS][4];         /* ops/s; < 0: not available */
    CK_RV err[NROWS][4];
    /* scale mode results, seconds */
    double create_per_key, startup, find_first, find_median, keygen_median;
    long have_before;
    /* latency mode results, seconds per call; rv != CKR_OK: failed */
    double lat_med[2], lat_p99[2], lat_mean[2];
    CK_RV lat_err[2];
};

static unsigned char g_msg[MSG_LEN];
static unsigned char g_digest[32];
static unsigned char g_aes_data[AES_DATA_LEN];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pad_label(CK_UTF8CHAR out[32], const char *label)
{
    size_t n = strlen(label);
    memset(out, ' ', 32);
    memcpy(out, label, n > 32 ? 32 : n);
}

/* ---- module loading and token set-up ----------------------------------- */

static int module_load(struct module *m)
{
    CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
    m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
    if (m->dl == NULL) {
        fprintf(stderr, "p11bench: %s: %s\n", m->path, dlerror());
        return -1;
    }
    *(void **)(&get) = dlsym(m->dl, "C_GetFunctionList");
    if (get == NULL || get(&m->f) != CKR_OK) {
        fprintf(stderr, "p11bench: %s: no usable C_GetFunctionList\n", m->path);
        return -1;
    }
    return 0;
}

static CK_RV module_init(struct module *m)
{
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    return m->f->C_Initialize(&args);
}

/* Finds the slot whose token is LABEL; *free_slot gets an uninitialised one. */
static CK_RV find_token(struct module *m, const char *label, bool *found, CK_SLOT_ID *free_slot, bool *have_free)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_UTF8CHAR want[32];
    CK_RV rv = m->f->C_GetSlotList(CK_TRUE, slots, &n);
    *found = false;
    *have_free = false;
    if (rv != CKR_OK)
        return rv;
    pad_label(want, label);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            if (!*have_free) {
                *free_slot = slots[i];
                *have_free = true;
            }
            continue;
        }
        if (memcmp(ti.label, want, 32) == 0) {
            m->slot = slots[i];
            *found = true;
            return CKR_OK;
        }
    }
    return CKR_OK;
}

static CK_RV open_login(struct module *m, const struct opts *o)
{
    CK_RV rv = m->f->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &m->s);
    if (rv != CKR_OK)
        return rv;
    rv = m->f->C_Login(m->s, CKU_USER, (CK_UTF8CHAR_PTR)o->pin, strlen(o->pin));
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        rv = CKR_OK;
    return rv;
}

/* Uses token LABEL, initialising the free slot as LABEL when it is missing. */
static int token_setup(struct module *m, const struct opts *o, const char *label)
{
    bool found, have_free;
    CK_SLOT_ID free_slot = 0;
    CK_RV rv = find_token(m, label, &found, &free_slot, &have_free);
    if (rv == CKR_OK && !found) {
        CK_UTF8CHAR lab[32];
        CK_SESSION_HANDLE s;
        if (!have_free) {
            fprintf(stderr, "p11bench: %s: no token %s and no free slot\n", m->name, label);
            return -1;
        }
        pad_label(lab, label);
        rv = m->f->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)o->so_pin, strlen(o->so_pin), lab);
        if (rv != CKR_OK) {
            fprintf(stderr, "p11bench: %s: C_InitToken: 0x%lx\n", m->name, (unsigned long)rv);
            return -1;
        }
        /* Some modules renumber slots after C_InitToken: look it up again. */
        rv = find_token(m, label, &found, &free_slot, &have_free);
        if (rv != CKR_OK || !found) {
            fprintf(stderr, "p11bench: %s: new token %s not found\n", m->name, label);
            return -1;
        }
        rv = m->f->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
        if (rv == CKR_OK)
            rv = m->f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)o->so_pin, strlen(o->so_pin));
        if (rv == CKR_OK)
            rv = m->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)o->pin, strlen(o->pin));
        if (rv == CKR_OK)
            rv = m->f->C_Logout(s);
        m->f->C_CloseSession(s);
    }
    if (rv == CKR_OK)
        rv = open_login(m, o);
    if (rv != CKR_OK) {
        fprintf(stderr, "p11bench: %s: token set-up: 0x%lx\n", m->name, (unsigned long)rv);
        return -1;
    }
    return 0;
}

static bool has_mechanism(struct module *m, CK_MECHANISM_TYPE t)
{
    CK_MECHANISM_INFO mi;
    return m->f->C_GetMechanismInfo(m->slot, t, &mi) == CKR_OK;
}

/* ---- key generation ---------------------------------------------------- */

static const unsigned char oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const unsigned char name_ed25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};

static CK_RV gen_pair(struct module *m, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech, const void *params,
                      size_t params_len, CK_BBOOL token, const char *label, CK_OBJECT_HANDLE *pub,
                      CK_OBJECT_HANDLE *priv)
{
    CK_BBOOL t = CK_TRUE;
    CK_ULONG bits = 2048;
    unsigned char e[] = {1, 0, 1};
    CK_MECHANISM mm = {mech, NULL, 0};
    CK_ATTRIBUTE pt[5] = {{CKA_TOKEN, &token, sizeof(token)}, {CKA_VERIFY, &t, sizeof(t)}};
    CK_ATTRIBUTE kt[6] = {{CKA_TOKEN, &token, sizeof(token)},
                          {CKA_SIGN, &t, sizeof(t)},
                          {CKA_PRIVATE, &t, sizeof(t)},
                          {CKA_SENSITIVE, &t, sizeof(t)}};
    CK_ULONG np = 2, nk = 4;
    if (mech == CKM_RSA_PKCS_KEY_PAIR_GEN) {
        pt[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
        pt[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, e, sizeof(e)};
    } else {
        pt[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)params, params_len};
    }
    if (label != NULL) {
        pt[np++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
        kt[nk++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    }
    return m->f->C_GenerateKeyPair(s, &mm, pt, np, kt, nk, pub, priv);
}

static int module_keys(struct module *m, const struct opts *o)
{
    CK_OBJECT_HANDLE pub;
    CK_RV rv = CKR_OK;
    for (int r = 0; r < NROWS; r++)
        m->key[r] = CK_INVALID_HANDLE;
    if (o->rows[ROW_RSA] && (rv = gen_pair(m, m->s, CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0, CK_FALSE, NULL, &pub,
                                           &m->key[ROW_RSA])) != CKR_OK)
        fprintf(stderr, "p11bench: %s: RSA key generation: 0x%lx\n", m->name, (unsigned long)rv);
    if (o->rows[ROW_EC] && (rv = gen_pair(m, m->s, CKM_EC_KEY_PAIR_GEN, oid_p256, sizeof(oid_p256), CK_FALSE,
                                          NULL, &pub, &m->key[ROW_EC])) != CKR_OK)
        fprintf(stderr, "p11bench: %s: EC key generation: 0x%lx\n", m->name, (unsigned long)rv);
    if (o->rows[ROW_ED]) {
        /* PKCS#11 3.0 §2.3.10: CKA_EC_PARAMS is an OID or a curve name. */
        rv = gen_pair(m, m->s, CKM_EC_EDWARDS_KEY_PAIR_GEN, oid_ed25519, sizeof(oid_ed25519), CK_FALSE, NULL,
                      &pub, &m->key[ROW_ED]);
        if (rv != CKR_OK)
            rv = gen_pair(m, m->s, CKM_EC_EDWARDS_KEY_PAIR_GEN, name_ed25519, sizeof(name_ed25519), CK_FALSE,
                          NULL, &pub, &m->key[ROW_ED]);
        if (rv != CKR_OK)
            fprintf(stderr, "p11bench: %s: Ed25519 key generation: 0x%lx\n", m->name, (unsigned long)rv);
    }
    if (o->rows[ROW_AES]) {
        CK_BBOOL f = CK_FALSE, t = CK_TRUE;
        CK_ULONG len = 32;
        CK_MECHANISM mm = {CKM_AES_KEY_GEN, NULL, 0};
        CK_ATTRIBUTE at[] = {{CKA_TOKEN, &f, sizeof(f)},
                             {CKA_ENCRYPT, &t, sizeof(t)},
                             {CKA_DECRYPT, &t, sizeof(t)},
                             {CKA_VALUE_LEN, &len, sizeof(len)}};
        rv = m->f->C_GenerateKey(m->s, &mm, at, 4, &m->key[ROW_AES]);
        if (rv != CKR_OK)
            fprintf(stderr, "p11bench: %s: AES key generation: 0x%lx\n", m->name, (unsigned long)rv);
    }
    m->ecdsa_mech = has_mechanism(m, CKM_ECDSA_SHA256) ? CKM_ECDSA_SHA256 : CKM_ECDSA;
    return 0;
}

/* ---- timed workers ------------------------------------------------------ */

struct job {
    pthread_barrier_t *bar;
    double seconds;
    int row;
    struct module *m;  /* NULL: raw OpenSSL */
    EVP_PKEY *pkey;    /* OpenSSL key for the row */
    const unsigned char *aes_key;
    unsigned tid;
    /* results */
    unsigned long count;
    double elapsed;
    CK_RV rv;
};

static CK_RV p11_one(struct job *j, CK_SESSION_HANDLE s, uint64_t n)
{
    struct module *m = j->m;
    unsigned char out[AES_DATA_LEN + 64];
    CK_ULONG outlen = sizeof(out);
    CK_RV rv;
    if (j->row == ROW_AES) {
        unsigned char iv[12] = {0};
        CK_GCM_PARAMS gp;
        memcpy(iv, &n, sizeof(n));
        iv[8] = (unsigned char)j->tid;
        memset(&gp, 0, sizeof(gp));
        gp.pIv = iv;
        gp.ulIvLen = sizeof(iv);
        gp.ulIvBits = 8 * sizeof(iv);
        gp.ulTagBits = 128;
        CK_MECHANISM mm = {CKM_AES_GCM, &gp, sizeof(gp)};
        rv = m->f->C_EncryptInit(s, &mm, m->key[ROW_AES]);
        if (rv == CKR_OK)
            rv = m->f->C_Encrypt(s, g_aes_data, sizeof(g_aes_data), out, &outlen);
        return rv;
    }
    CK_MECHANISM mm = {CKM_SHA256_RSA_PKCS, NULL, 0};
    unsigned char *msg = g_msg;
    CK_ULONG msglen = sizeof(g_msg);
    if (j->row == ROW_EC) {
        mm.mechanism = m->ecdsa_mech;
        if (m->ecdsa_mech == CKM_ECDSA) {
            msg = g_digest;
            msglen = sizeof(g_digest);
        }
    } else if (j->row == ROW_ED) {
        mm.mechanism = CKM_EDDSA;
    }
    rv = m->f->C_SignInit(s, &mm, m->key[j->row]);
    if (rv == CKR_OK)
        rv = m->f->C_Sign(s, msg, msglen, out, &outlen);
    return rv;
}

/*
 * The raw OpenSSL baseline. Each thread has its own copy of the key and its
 * own contexts, all set up once before the clock starts, as `openssl speed`
 * does (nothing shared between threads, so no reference count or lock is
 * contended). Per operation it does what the PKCS#11 mechanism asks for and
 * no more:
 *  - RSA / ECDSA: SHA-256 of the 256-byte message (CKM_SHA256_RSA_PKCS and
 *    CKM_ECDSA_SHA256 hash inside the module), then EVP_PKEY_sign of the
 *    digest on an EVP_PKEY_CTX initialised once (openssl speed: the same
 *    call, over 36 or 20 bytes it never hashes);
 *  - Ed25519: EVP_DigestSign on an EVP_MD_CTX initialised once (as
 *    openssl speed);
 *  - AES-256-GCM: a new IV on a keyed EVP_CIPHER_CTX, 4 KiB, final, tag
 *    (openssl speed -evp only streams EVP_EncryptUpdate on one context).
 * OSSL_CHOICES says the same in the output.
 */
#define OSSL_CHOICES                                                                                      \
    "raw OpenSSL: per thread its own EVP_PKEY copy and contexts, set up once; per operation\n"           \
    "  RSA/ECDSA: SHA-256 of the message + EVP_PKEY_sign on a reused EVP_PKEY_CTX\n"                      \
    "  Ed25519: EVP_DigestSign on a reused EVP_MD_CTX; AES-GCM: new IV on a keyed context, 4 KiB, tag\n"

struct ossl_thr {
    EVP_PKEY *pk;
    EVP_PKEY_CTX *pctx;
    EVP_MD_CTX *mctx;
    EVP_MD *md;
    EVP_CIPHER *gcm;
    EVP_CIPHER_CTX *cctx;
};

static void ossl_thr_free(struct ossl_thr *x)
{
    EVP_PKEY_CTX_free(x->pctx);
    EVP_MD_CTX_free(x->mctx);
    EVP_MD_free(x->md);
    EVP_CIPHER_CTX_free(x->cctx);
    EVP_CIPHER_free(x->gcm);
    EVP_PKEY_free(x->pk);
    memset(x, 0, sizeof(*x));
}

static int ossl_thr_setup(struct job *j, struct ossl_thr *x)
{
    memset(x, 0, sizeof(*x));
    if (j->row == ROW_AES) {
        x->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
        x->cctx = EVP_CIPHER_CTX_new();
        if (x->gcm == NULL || x->cctx == NULL || EVP_EncryptInit_ex2(x->cctx, x->gcm, j->aes_key, NULL, NULL) != 1)
            return -1;
        return 0;
    }
    x->pk = EVP_PKEY_dup(j->pkey);
    x->mctx = EVP_MD_CTX_new();
    if (x->pk == NULL || x->mctx == NULL)
        return -1;
    if (j->row == ROW_ED)
        return EVP_DigestSignInit_ex(x->mctx, NULL, NULL, NULL, NULL, x->pk, NULL) == 1 ? 0 : -1;
    x->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    x->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, x->pk, NULL);
    if (x->md == NULL || x->pctx == NULL || EVP_PKEY_sign_init(x->pctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(x->pctx, x->md) != 1)
        return -1;
    if (j->row == ROW_RSA && EVP_PKEY_CTX_set_rsa_padding(x->pctx, RSA_PKCS1_PADDING) != 1)
        return -1;
    return 0;
}

static int ossl_one(struct job *j, struct ossl_thr *x, uint64_t n)
{
    unsigned char out[AES_DATA_LEN + 64];
    size_t outlen = sizeof(out);
    if (j->row == ROW_AES) {
        unsigned char iv[12] = {0}, tag[16];
        int l1 = 0, l2 = 0;
        memcpy(iv, &n, sizeof(n));
        iv[8] = (unsigned char)j->tid;
        if (EVP_EncryptInit_ex2(x->cctx, NULL, NULL, iv, NULL) != 1 ||
            EVP_EncryptUpdate(x->cctx, out, &l1, g_aes_data, sizeof(g_aes_data)) != 1 ||
            EVP_EncryptFinal_ex(x->cctx, out + l1, &l2) != 1 ||
            EVP_CIPHER_CTX_ctrl(x->cctx, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag) != 1)
            return -1;
        return 0;
    }
    if (j->row == ROW_ED)
        return EVP_DigestSign(x->mctx, out, &outlen, g_msg, sizeof(g_msg)) == 1 ? 0 : -1;
    unsigned char hash[32];
    unsigned int hlen = 0;
    if (EVP_DigestInit_ex2(x->mctx, x->md, NULL) != 1 || EVP_DigestUpdate(x->mctx, g_msg, sizeof(g_msg)) != 1 ||
        EVP_DigestFinal_ex(x->mctx, hash, &hlen) != 1 ||
        EVP_PKEY_sign(x->pctx, out, &outlen, hash, hlen) != 1)
        return -1;
    return 0;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    struct ossl_thr x;
    uint64_t n = 0;
    memset(&x, 0, sizeof(x));
    j->rv = CKR_OK;
    if (j->m != NULL)
        j->rv = j->m->f->C_OpenSession(j->m->slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    else if (ossl_thr_setup(j, &x) != 0)
        j->rv = CKR_FUNCTION_FAILED;
    pthread_barrier_wait(j->bar);
    double t0 = now(), t = t0;
    while (j->rv == CKR_OK && t - t0 < j->seconds) {
        if (j->m != NULL)
            j->rv = p11_one(j, s, n);
        else if (ossl_one(j, &x, n) != 0)
            j->rv = CKR_FUNCTION_FAILED;
        n++;
        t = now();
    }
    j->count = j->rv == CKR_OK ? n : 0;
    j->elapsed = t - t0;
    if (s != CK_INVALID_HANDLE)
        j->m->f->C_CloseSession(s);
    ossl_thr_free(&x);
    return NULL;
}

/* Runs ROW with THREADS threads; returns ops/s, or -1 with *rv set. */
static double run_row(struct job *tmpl, int threads, CK_RV *rv)
{
    pthread_t th[MAX_THREADS];
    struct job jobs[MAX_THREADS];
    pthread_barrier_t bar;
    double rate = 0;
    pthread_barrier_init(&bar, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        jobs[i] = *tmpl;
        jobs[i].bar = &bar;
        jobs[i].tid = (unsigned)i;
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    *rv = CKR_OK;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].rv != CKR_OK)
            *rv = jobs[i].rv;
        else if (jobs[i].elapsed > 0)
            rate += (double)jobs[i].count / jobs[i].elapsed;
    }
    pthread_barrier_destroy(&bar);
    return *rv == CKR_OK ? rate : -1;
}

/* ---- throughput mode --------------------------------------------------- */

/*
 * `openssl speed`'s figures, the physical limit of this machine, for the same
 * rows: `openssl speed -seconds N [-multi T] rsa2048 ecdsap256 ed25519`
 * (sign/s) and `openssl speed -seconds N [-multi T] -evp aes-256-gcm -bytes
 * 4096` (4 KiB operations/s). T threads map to -multi T processes. The
 * binary is $OPENSSL, else "openssl" on the PATH. Rows it did not print stay
 * at -1.
 */
static void speed_parse(FILE *f, double out[NROWS])
{
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        char *tok[16];
        int nt = 0;
        int row = -1;
        if (strncmp(line, "rsa 2048 bits", 13) == 0)
            row = ROW_RSA;
        else if (strstr(line, "ecdsa (nistp256)") != NULL)
            row = ROW_EC;
        else if (strstr(line, "EdDSA (Ed25519)") != NULL)
            row = ROW_ED;
        else if (strncasecmp(line, "aes-256-gcm ", 12) == 0)
            row = ROW_AES;
        if (row < 0)
            continue;
        for (char *save = NULL, *t = strtok_r(line, " \t\n", &save); t != NULL && nt < 16;
             t = strtok_r(NULL, " \t\n", &save))
            tok[nt++] = t;
        char *end;
        if (row == ROW_AES) {
            /* "AES-256-GCM 2973885.96k": 1000s of bytes per second */
            double kb = strtod(tok[nt - 1], &end);
            if (end != tok[nt - 1] && *end == 'k' && kb > 0)
                out[row] = kb * 1000.0 / AES_DATA_LEN;
        } else if (nt >= 4) {
            /* "... sign verify sign/s verify/s" */
            double v = strtod(tok[nt - 2], &end);
            if (end != tok[nt - 2] && *end == '\0' && v > 0)
                out[row] = v;
        }
    }
}

static int speed_run(const struct opts *o, int threads, double out[NROWS])
{
    const char *bin = getenv("OPENSSL") != NULL ? getenv("OPENSSL") : "openssl";
    char multi[32] = "", cmd[1024];
    for (int r = 0; r < NROWS; r++)
        out[r] = -1;
    if (threads > 1)
        snprintf(multi, sizeof(multi), " -multi %d", threads);
    for (int pass = 0; pass < 2; pass++) {
        char algs[64] = "";
        if (pass == 0) {
            static const char *const names[] = {" rsa2048", " ecdsap256", " ed25519"};
            for (int r = ROW_RSA; r <= ROW_ED; r++)
                if (o->rows[r])
                    strcat(algs, names[r]);
            if (algs[0] == '\0')
                continue;
        } else {
            if (!o->rows[ROW_AES])
                continue;
            snprintf(algs, sizeof(algs), " -evp aes-256-gcm -bytes %d", AES_DATA_LEN);
        }
        snprintf(cmd, sizeof(cmd), "'%s' speed -seconds %d%s%s 2>/dev/null", bin, o->speed_seconds, multi, algs);
        FILE *f = popen(cmd, "r");
        if (f == NULL) {
            fprintf(stderr, "p11bench: %s: %s\n", cmd, strerror(errno));
            return -1;
        }
        speed_parse(f, out);
        if (pclose(f) != 0)
            fprintf(stderr, "p11bench: %s failed\n", cmd);
    }
    return 0;
}

/* The second table (--speed): each row against `openssl speed`. */
static void speed_print(struct module *mods, int nmods, const struct opts *o, double base[NROWS][4],
                        double speed[NROWS][4])
{
    printf("\nagainst `openssl speed -seconds %d [-multi THR]` (sign/s; AES: -evp aes-256-gcm -bytes %d, "
           "4 KiB ops/s)\n",
           o->speed_seconds, AES_DATA_LEN);
    printf("%-34s %3s %12s %12s %6s", "operation", "thr", "speed", "raw", "/speed");
    for (int i = 0; i < nmods; i++)
        printf(" | %12s %6s", mods[i].name, "/speed");
    printf("\n");
    for (int r = 0; r < NROWS; r++) {
        if (!o->rows[r])
            continue;
        for (int t = 0; t < o->nthreads; t++) {
            char sp[32] = "-", b[32] = "-", q[16] = "";
            double ref = speed[r][t];
            if (ref > 0)
                snprintf(sp, sizeof(sp), "%.1f", ref);
            if (base[r][t] >= 0) {
                snprintf(b, sizeof(b), "%.1f", base[r][t]);
                if (ref > 0)
                    snprintf(q, sizeof(q), "%.2fx", base[r][t] / ref);
            }
            printf("%-34s %3d %12s %12s %6s", row_name[r], o->threads[t], sp, b, q);
            for (int i = 0; i < nmods; i++) {
                char v[32] = "-", mq[16] = "";
                if (mods[i].ops[r][t] >= 0) {
                    snprintf(v, sizeof(v), "%.1f", mods[i].ops[r][t]);
                    if (ref > 0)
                        snprintf(mq, sizeof(mq), "%.2fx", mods[i].ops[r][t] / ref);
                }
                printf(" | %12s %6s", v, mq);
            }
            printf("\n");
        }
    }
}

static int throughput(struct module *mods, int nmods, const struct opts *o)
{
    double base[NROWS][4], speed[NROWS][4];
    EVP_PKEY *pk[NROWS] = {NULL};
    unsigned char aes_key[32];
    int failed = 0;

    if (RAND_bytes(aes_key, sizeof(aes_key)) != 1) {
        fprintf(stderr, "p11bench: OpenSSL set-up failed\n");
        return 1;
    }
    if (o->openssl) {
        pk[ROW_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        pk[ROW_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        pk[ROW_ED] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
    for (int i = 0; i < nmods; i++) {
        if (module_keys(&mods[i], o) != 0)
            failed = 1;
    }
    for (int t = 0; t < o->nthreads; t++) {
        double one[NROWS];
        for (int r = 0; r < NROWS; r++)
            speed[r][t] = -1;
        if (o->speed_seconds > 0 && speed_run(o, o->threads[t], one) == 0)
            for (int r = 0; r < NROWS; r++)
                speed[r][t] = one[r];
    }

    for (int r = 0; r < NROWS; r++) {
        if (!o->rows[r])
            continue;
        for (int t = 0; t < o->nthreads; t++) {
            struct job j;
            CK_RV rv;
            memset(&j, 0, sizeof(j));
            j.seconds = o->seconds;
            j.row = r;
            j.aes_key = aes_key;
            base[r][t] = -1;
            if (o->openssl && (r == ROW_AES || pk[r] != NULL)) {
                j.pkey = pk[r];
                base[r][t] = run_row(&j, o->threads[t], &rv);
                if (rv != CKR_OK) {
                    fprintf(stderr, "p11bench: OpenSSL %s failed\n", row_name[r]);
                    failed = 1;
                }
            }
            for (int i = 0; i < nmods; i++) {
                struct module *m = &mods[i];
                m->ops[r][t] = -1;
                m->err[r][t] = CKR_OK;
                if (m->key[r] == CK_INVALID_HANDLE) {
                    m->err[r][t] = CKR_KEY_HANDLE_INVALID;
                    failed = 1;
                    continue;
                }
                j.m = m;
                m->ops[r][t] = run_row(&j, o->threads[t], &m->err[r][t]);
                if (m->err[r][t] != CKR_OK)
                    failed = 1;
            }
        }
    }

    printf("\np11bench: %.2f s per row; ops/s (ratio to raw OpenSSL EVP in the same run)\n", o->seconds);
    if (o->openssl)
        printf("%s", OSSL_CHOICES);
    printf("%-34s %3s %12s", "operation", "thr", o->openssl ? "OpenSSL" : "");
    for (int i = 0; i < nmods; i++)
        printf(" | %12s %6s", mods[i].name, "ratio");
    printf("\n");
    for (int r = 0; r < NROWS; r++) {
        if (!o->rows[r])
            continue;
        for (int t = 0; t < o->nthreads; t++) {
            char b[32] = "";
            if (base[r][t] >= 0)
                snprintf(b, sizeof(b), "%.1f", base[r][t]);
            printf("%-34s %3d %12s", row_name[r], o->threads[t], b);
            for (int i = 0; i < nmods; i++) {
                struct module *m = &mods[i];
                char v[32], q[16] = "";
                const char *mark = (r == ROW_EC && m->ecdsa_mech == CKM_ECDSA) ? "*" : "";
                if (m->ops[r][t] >= 0) {
                    snprintf(v, sizeof(v), "%s%.1f", mark, m->ops[r][t]);
                    if (base[r][t] > 0)
                        snprintf(q, sizeof(q), "%.2fx", m->ops[r][t] / base[r][t]);
                } else {
                    snprintf(v, sizeof(v), "ERR 0x%lx", (unsigned long)m->err[r][t]);
                }
                printf(" | %12s %6s", v, q);
            }
            printf("\n");
        }
    }
    for (int i = 0; i < nmods; i++)
        if (mods[i].ecdsa_mech == CKM_ECDSA)
            printf("* %s has no CKM_ECDSA_SHA256: CKM_ECDSA over a SHA-256 digest made outside the module\n",
                   mods[i].name);
    if (o->speed_seconds > 0)
        speed_print(mods, nmods, o, base, speed);
    if (o->results) {
        for (int r = 0; r < NROWS; r++) {
            if (!o->rows[r])
                continue;
            for (int t = 0; t < o->nthreads; t++) {
                if (speed[r][t] > 0)
                    printf("RESULT config=openssl-speed mode=ops row=%s threads=%d ops=%.1f\n", row_id[r],
                           o->threads[t], speed[r][t]);
                if (base[r][t] >= 0)
                    printf("RESULT config=openssl mode=ops row=%s threads=%d ops=%.1f\n", row_id[r], o->threads[t],
                           base[r][t]);
                for (int i = 0; i < nmods; i++) {
                    struct module *m = &mods[i];
                    printf("RESULT config=%s mode=ops row=%s threads=%d", m->name, row_id[r], o->threads[t]);
                    if (m->ops[r][t] >= 0)
                        printf(" ops=%.1f%s\n", m->ops[r][t],
                               r == ROW_EC && m->ecdsa_mech == CKM_ECDSA ? " mech=CKM_ECDSA" : "");
                    else
                        printf(" error=0x%lx\n", (unsigned long)m->err[r][t]);
                }
            }
        }
    }
    for (int r = 0; r < NROWS; r++)
        EVP_PKEY_free(pk[r]);
    return failed;
}

/* ---- latency mode ------------------------------------------------------ */

enum { LAT_RANDOM, LAT_ECDSA, NLAT };
static const char *const lat_id[NLAT] = {"random", "ecdsa"};
static const char *const lat_name[NLAT] = {
    "random 32 bytes (C_GenerateRandom)",
    "ECDSA P-256 sign (SignInit+Sign)",
};

static int cmp_double(const void *a, const void *b);

/* One timed call of KIND: through module m (its login session), or raw
 * OpenSSL when m is NULL. */
static CK_RV lat_one(struct module *m, int kind, EVP_PKEY *pk, EVP_MD_CTX *mctx, const EVP_MD *sha256)
{
    unsigned char out[256];
    if (m == NULL) {
        size_t outlen = sizeof(out);
        if (kind == LAT_RANDOM)
            return RAND_bytes(out, 32) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
        if (EVP_DigestSignInit(mctx, NULL, sha256, NULL, pk) != 1 ||
            EVP_DigestSign(mctx, out, &outlen, g_msg, sizeof(g_msg)) != 1)
            return CKR_FUNCTION_FAILED;
        return CKR_OK;
    }
    if (kind == LAT_RANDOM)
        return m->f->C_GenerateRandom(m->s, out, 32);
    CK_MECHANISM mm = {m->ecdsa_mech, NULL, 0};
    unsigned char *msg = g_msg;
    CK_ULONG msglen = sizeof(g_msg), outlen = sizeof(out);
    if (m->ecdsa_mech == CKM_ECDSA) {
        msg = g_digest;
        msglen = sizeof(g_digest);
    }
    CK_RV rv = m->f->C_SignInit(m->s, &mm, m->key[ROW_EC]);
    if (rv == CKR_OK)
        rv = m->f->C_Sign(m->s, msg, msglen, out, &outlen);
    return rv;
}

/* Times n calls (after a warm-up of n/10, at least 20); fills median, p99
 * and mean in seconds. */
static CK_RV lat_measure(struct module *m, int kind, long n, EVP_PKEY *pk, EVP_MD_CTX *mctx, const EVP_MD *sha256,
                         double *med, double *p99, double *mean)
{
    double *t = malloc((size_t)n * sizeof(*t)), sum = 0;
    long warm = n / 10 < 20 ? 20 : n / 10;
    CK_RV rv = CKR_OK;
    if (t == NULL)
        return CKR_HOST_MEMORY;
    for (long i = 0; rv == CKR_OK && i < warm; i++)
        rv = lat_one(m, kind, pk, mctx, sha256);
    for (long i = 0; rv == CKR_OK && i < n; i++) {
        double t0 = now();
        rv = lat_one(m, kind, pk, mctx, sha256);
        t[i] = now() - t0;
        sum += t[i];
    }
    if (rv == CKR_OK) {
        qsort(t, (size_t)n, sizeof(*t), cmp_double);
        *med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
        *p99 = t[(n * 99 + 99) / 100 - 1]; /* nearest rank: ceil(0.99 n) */
        *mean = sum / (double)n;
    }
    free(t);
    return rv;
}

static int latency(struct module *mods, int nmods, const struct opts *o)
{
    double base_med[NLAT], base_p99[NLAT], base_mean[NLAT];
    CK_RV base_err[NLAT];
    EVP_PKEY *pk = NULL;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    int failed = 0;
    struct opts ko = *o;

    if (mctx == NULL || sha256 == NULL) {
        fprintf(stderr, "p11bench: OpenSSL set-up failed\n");
        return 1;
    }
    /* One session EC key per module: the ECDSA row's. */
    memset(ko.rows, 0, sizeof(ko.rows));
    ko.rows[ROW_EC] = true;
    for (int i = 0; i < nmods; i++)
        module_keys(&mods[i], &ko);
    if (o->openssl && (pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
        fprintf(stderr, "p11bench: OpenSSL EC key generation failed\n");
        failed = 1;
    }
    for (int k = 0; k < NLAT; k++) {
        base_err[k] = CKR_FUNCTION_FAILED;
        if (o->openssl && (k == LAT_RANDOM || pk != NULL)) {
            base_err[k] = lat_measure(NULL, k, o->calls, pk, mctx, sha256, &base_med[k], &base_p99[k], &base_mean[k]);
            if (base_err[k] != CKR_OK)
                failed = 1;
        }
        for (int i = 0; i < nmods; i++) {
            struct module *m = &mods[i];
            if (k == LAT_ECDSA && m->key[ROW_EC] == CK_INVALID_HANDLE)
                m->lat_err[k] = CKR_KEY_HANDLE_INVALID;
            else
                m->lat_err[k] = lat_measure(m, k, o->calls, NULL, NULL, NULL, &m->lat_med[k], &m->lat_p99[k],
                                            &m->lat_mean[k]);
            if (m->lat_err[k] != CKR_OK)
                failed = 1;
        }
    }

    printf("\np11bench latency: %ld calls each, one thread; microseconds per call, median / p99\n", o->calls);
    printf("%-34s", "operation");
    if (o->openssl)
        printf(" | %17s", "OpenSSL");
    for (int i = 0; i < nmods; i++)
        printf(" | %17s", mods[i].name);
    printf("\n");
    for (int k = 0; k < NLAT; k++) {
        char v[48];
        printf("%-34s", lat_name[k]);
        if (o->openssl) {
            if (base_err[k] == CKR_OK)
                snprintf(v, sizeof(v), "%.1f / %.1f", base_med[k] * 1e6, base_p99[k] * 1e6);
            else
                snprintf(v, sizeof(v), "ERR");
            printf(" | %17s", v);
        }
        for (int i = 0; i < nmods; i++) {
            struct module *m = &mods[i];
            if (m->lat_err[k] == CKR_OK)
                snprintf(v, sizeof(v), "%.1f / %.1f", m->lat_med[k] * 1e6, m->lat_p99[k] * 1e6);
            else
                snprintf(v, sizeof(v), "ERR 0x%lx", (unsigned long)m->lat_err[k]);
            printf(" | %17s", v);
        }
        printf("\n");
    }
    if (o->results) {
        for (int k = 0; k < NLAT; k++) {
            if (o->openssl && base_err[k] == CKR_OK)
                printf("RESULT config=openssl mode=latency row=%s calls=%ld median_us=%.2f p99_us=%.2f mean_us=%.2f\n",
                       lat_id[k], o->calls, base_med[k] * 1e6, base_p99[k] * 1e6, base_mean[k] * 1e6);
            for (int i = 0; i < nmods; i++) {
                struct module *m = &mods[i];
                printf("RESULT config=%s mode=latency row=%s calls=%ld", m->name, lat_id[k], o->calls);
                if (m->lat_err[k] == CKR_OK)
                    printf(" median_us=%.2f p99_us=%.2f mean_us=%.2f\n", m->lat_med[k] * 1e6,
                           m->lat_p99[k] * 1e6, m->lat_mean[k] * 1e6);
                else
                    printf(" error=0x%lx\n", (unsigned long)m->lat_err[k]);
            }
        }
    }
    EVP_PKEY_free(pk);
    EVP_MD_CTX_free(mctx);
    EVP_MD_free(sha256);
    return failed;
}

/* ---- scale mode -------------------------------------------------------- */

#define SCALE_TOKEN "p11scale"
#define SCALE_BATCH 1000

static void scale_label(char *out, size_t outlen, long i)
{
    snprintf(out, outlen, "scale-%07ld", i);
}

/* Number of private keys labelled LABEL (0, 1, ...). */
static long count_label(struct module *m, CK_SESSION_HANDLE s, const char *label, CK_RV *rv)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h[4];
    CK_ULONG n = 0;
    *rv = m->f->C_FindObjectsInit(s, t, 2);
    if (*rv != CKR_OK)
        return -1;
    *rv = m->f->C_FindObjects(s, h, 4, &n);
    CK_RV rv2 = m->f->C_FindObjectsFinal(s);
    if (*rv == CKR_OK)
        *rv = rv2;
    return *rv == CKR_OK ? (long)n : -1;
}

struct creator {
    struct module *m;
    long from, to, step;
    CK_RV rv;
};

static void *create_keys(void *arg)
{
    struct creator *c = arg;
    CK_SESSION_HANDLE s;
    char label[32];
    CK_OBJECT_HANDLE pub, priv;
    c->rv = c->m->f->C_OpenSession(c->m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    for (long i = c->from; c->rv == CKR_OK && i < c->to; i += c->step) {
        scale_label(label, sizeof(label), i);
        c->rv = gen_pair(c->m, s, CKM_EC_KEY_PAIR_GEN, oid_p256, sizeof(oid_p256), CK_TRUE, label, &pub, &priv);
    }
    if (c->rv == CKR_OK)
        c->m->f->C_CloseSession(s);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int scale_module(struct module *m, const struct opts *o)
{
    CK_RV rv;
    char label[32];
    long lo = 0, hi = o->scale;

    if (module_init(m) != CKR_OK || token_setup(m, o, SCALE_TOKEN) != 0)
        return -1;
    /* Keys are made in label order, so the first missing label is found by
     * bisection: everything below it exists. */
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        scale_label(label, sizeof(label), mid);
        long n = count_label(m, m->s, label, &rv);
        if (n < 0) {
            fprintf(stderr, "p11bench: %s: find: 0x%lx\n", m->name, (unsigned long)rv);
            return -1;
        }
        if (n > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    m->have_before = lo;
    if (lo < o->scale) {
        int nt = o->create_threads < 1 ? 1 : (o->create_threads > MAX_THREADS ? MAX_THREADS : o->create_threads);
        pthread_t th[MAX_THREADS];
        struct creator c[MAX_THREADS];
        fprintf(stderr, "p11bench: %s: creating %ld token key pairs (%ld exist)\n", m->name, o->scale - lo, lo);
        double t0 = now();
        /* In batches, restarting the module between them, so that what a
         * module keeps per object it created in this process does not
         * accumulate over the whole creation. Thread k makes the labels
         * from+k, from+k+nt, ...; bisection stays valid once all finished. */
        for (long from = lo; from < o->scale; from += SCALE_BATCH) {
            long to = from + SCALE_BATCH < o->scale ? from + SCALE_BATCH : o->scale;
            for (int k = 0; k < nt; k++) {
                c[k] = (struct creator){m, from + k, to, nt, CKR_OK};
                pthread_create(&th[k], NULL, create_keys, &c[k]);
            }
            for (int k = 0; k < nt; k++) {
                pthread_join(th[k], NULL);
                if (c[k].rv != CKR_OK) {
                    fprintf(stderr, "p11bench: %s: key creation: 0x%lx\n", m->name, (unsigned long)c[k].rv);
                    return -1;
                }
            }
            fprintf(stderr, "p11bench: %s: %ld keys\n", m->name, to);
            m->f->C_Finalize(NULL);
            if (module_init(m) != CKR_OK || token_setup(m, o, SCALE_TOKEN) != 0)
                return -1;
        }
        m->create_per_key = (now() - t0) / (double)(o->scale - lo);
    } else {
        m->create_per_key = -1;
    }
    m->f->C_Finalize(NULL);

    /* Start-up: a fresh C_Initialize, finding the token, a session, login. */
    double t0 = now();
    bool found, have_free;
    CK_SLOT_ID fs;
    rv = module_init(m);
    if (rv == CKR_OK)
        rv = find_token(m, SCALE_TOKEN, &found, &fs, &have_free);
    if (rv == CKR_OK && !found)
        rv = CKR_TOKEN_NOT_PRESENT;
    if (rv == CKR_OK)
        rv = open_login(m, o);
    m->startup = now() - t0;
    if (rv != CKR_OK) {
        fprintf(stderr, "p11bench: %s: start-up: 0x%lx\n", m->name, (unsigned long)rv);
        return -1;
    }

    /* Find one key by label: the first search after login, then a median. */
    double ft[9];
    unsigned seed = (unsigned)time(NULL);
    for (int k = 0; k < 9; k++) {
        scale_label(label, sizeof(label), (long)(rand_r(&seed) % (unsigned)o->scale));
        double s0 = now();
        long n = count_label(m, m->s, label, &rv);
        ft[k] = now() - s0;
        if (n != 1) {
            fprintf(stderr, "p11bench: %s: found %ld keys labelled %s (0x%lx)\n", m->name, n, label,
                    (unsigned long)rv);
            return -1;
        }
    }
    m->find_first = ft[0];
    qsort(ft, 9, sizeof(ft[0]), cmp_double);
    m->find_median = ft[4];

    /* One token key pair (each destroyed again, untimed, so N stays N). */
    double gt[5];
    for (int k = 0; k < 5; k++) {
        CK_OBJECT_HANDLE pub, priv;
        snprintf(label, sizeof(label), "scale-extra-%d", k);
        double s0 = now();
        rv = gen_pair(m, m->s, CKM_EC_KEY_PAIR_GEN, oid_p256, sizeof(oid_p256), CK_TRUE, label, &pub, &priv);
        gt[k] = now() - s0;
        if (rv != CKR_OK) {
            fprintf(stderr, "p11bench: %s: token key-pair generation: 0x%lx\n", m->name, (unsigned long)rv);
            return -1;
        }
        m->f->C_DestroyObject(m->s, priv);
        m->f->C_DestroyObject(m->s, pub);
    }
    qsort(gt, 5, sizeof(gt[0]), cmp_double);
    m->keygen_median = gt[2];
    m->f->C_Logout(m->s);
    m->f->C_CloseSession(m->s);
    m->f->C_Finalize(NULL);
    return 0;
}

static void print_ms(double s)
{
    char b[32];
    if (s < 0)
        snprintf(b, sizeof(b), "(reused)");
    else
        snprintf(b, sizeof(b), "%.3f ms", s * 1e3);
    printf(" | %14s", b);
}

static int scale(struct module *mods, int nmods, const struct opts *o)
{
    int failed = 0;
    for (int i = 0; i < nmods; i++) {
        if (scale_module(&mods[i], o) != 0) {
            fprintf(stderr, "p11bench: %s: scale run failed\n", mods[i].name);
            failed = 1;
            mods[i].startup = mods[i].find_first = mods[i].find_median = mods[i].keygen_median = -2;
        }
    }
    printf("\np11bench scale: %ld token EC P-256 key pairs in token \"%s\"\n", o->scale, SCALE_TOKEN);
    printf("%-40s", "measure");
    for (int i = 0; i < nmods; i++)
        printf(" | %14s", mods[i].name);
    printf("\n");
    static const char *const names[] = {"create, per key pair (one-time)", "start-up (init+session+login)",
                                        "find one key by label (first)", "find one key by label (median of 9)",
                                        "token key-pair generation (median 5)"};
    for (int r = 0; r < 5; r++) {
        printf("%-40s", names[r]);
        for (int i = 0; i < nmods; i++) {
            struct module *m = &mods[i];
            double v[] = {m->create_per_key, m->startup, m->find_first, m->find_median, m->keygen_median};
            if (v[r] == -2)
                printf(" | %14s", "FAILED");
            else
                print_ms(v[r]);
        }
        printf("\n");
    }
    return failed;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: p11bench [options] --module [NAME=]PATH [--module ...]\n"
            "  --time SECONDS       time per row (default 2)\n"
            "  --threads LIST       thread counts, e.g. 1,2 (default 1,2; at most 4 values)\n"
            "  --rows LIST          any of rsa,ec,ed,aes (default all)\n"
            "  --no-openssl         skip the raw OpenSSL baseline\n"
            "  --pin PIN            user PIN (default 123456)\n"
            "  --so-pin PIN         SO PIN for a token it initialises (default 12345678)\n"
            "  --token LABEL        token to use, initialised on the free slot if missing (default p11bench)\n"
            "  --scale N            scale mode: N token key pairs in token \"" SCALE_TOKEN "\", created once\n"
            "  --create-threads N   threads creating the scale keys (default 2)\n"
            "  --latency            latency mode: median and p99 of C_GenerateRandom (32 bytes) and of\n"
            "                       an ECDSA P-256 signature, one thread\n"
            "  --calls N            calls per latency figure (default 5000; a tenth more as warm-up)\n"
            "  --results            also print one machine-readable RESULT line per figure\n"
            "  --speed SECONDS      also run `openssl speed -seconds SECONDS [-multi THR]` for each thread\n"
            "                       count and print a table against it ($OPENSSL, else openssl on the PATH)\n"
            "Each module's store comes from its environment (TESSERA_CONF, SOFTHSM2_CONF).\n");
}

static bool parse_list_ints(const char *s, int *out, int max, int *n)
{
    char *end;
    *n = 0;
    while (*s != '\0') {
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > MAX_THREADS || *n == max)
            return false;
        out[(*n)++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return false;
    }
    return *n > 0;
}

static bool parse_rows(const char *s, bool rows[NROWS])
{
    static const char *const ids[NROWS] = {"rsa", "ec", "ed", "aes"};
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    memset(rows, 0, NROWS * sizeof(bool));
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        int r;
        for (r = 0; r < NROWS && strcmp(tok, ids[r]) != 0; r++)
            ;
        if (r == NROWS)
            return false;
        rows[r] = true;
    }
    return true;
}

int main(int argc, char **argv)
{
    struct opts o = {.seconds = 2.0, .threads = {1, 2}, .nthreads = 2, .pin = "123456",
                     .so_pin = "12345678", .token = "p11bench", .openssl = true,
                     .rows = {true, true, true, true}, .scale = 0, .create_threads = 2,
                     .latency = false, .calls = 5000, .results = false, .speed_seconds = 0};
    struct module mods[MAX_MODULES];
    int nmods = 0, rc = 0;
    static const struct option lo[] = {
        {"module", required_argument, NULL, 'm'}, {"time", required_argument, NULL, 't'},
        {"threads", required_argument, NULL, 'T'}, {"rows", required_argument, NULL, 'r'},
        {"no-openssl", no_argument, NULL, 'N'},    {"pin", required_argument, NULL, 'p'},
        {"so-pin", required_argument, NULL, 'S'},  {"token", required_argument, NULL, 'k'},
        {"scale", required_argument, NULL, 's'},   {"create-threads", required_argument, NULL, 'c'},
        {"latency", no_argument, NULL, 'L'},       {"calls", required_argument, NULL, 'n'},
        {"results", no_argument, NULL, 'R'},       {"help", no_argument, NULL, 'h'},
        {"speed", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0}};
    int c;
    memset(mods, 0, sizeof(mods));
    while ((c = getopt_long(argc, argv, "m:t:T:r:Np:S:k:s:c:Ln:RhP:", lo, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'm': {
            if (nmods == MAX_MODULES) {
                fprintf(stderr, "p11bench: at most %d modules\n", MAX_MODULES);
                return 2;
            }
            char *eq = strchr(optarg, '=');
            if (eq != NULL) {
                *eq = '\0';
                mods[nmods].name = optarg;
                mods[nmods].path = eq + 1;
            } else {
                const char *b = strrchr(optarg, '/');
                mods[nmods].name = b != NULL ? b + 1 : optarg;
                mods[nmods].path = optarg;
            }
            nmods++;
            break;
        }
        case 't':
            o.seconds = strtod(optarg, &end);
            if (*end != '\0' || !(o.seconds > 0)) {
                fprintf(stderr, "p11bench: bad --time\n");
                return 2;
            }
            break;
        case 'T':
            if (!parse_list_ints(optarg, o.threads, 4, &o.nthreads)) {
                fprintf(stderr, "p11bench: bad --threads\n");
                return 2;
            }
            break;
        case 'r':
            if (!parse_rows(optarg, o.rows)) {
                fprintf(stderr, "p11bench: bad --rows\n");
                return 2;
            }
            break;
        case 'N':
            o.openssl = false;
            break;
        case 'p':
            o.pin = optarg;
            break;
        case 'S':
            o.so_pin = optarg;
            break;
        case 'k':
            o.token = optarg;
            break;
        case 's':
            o.scale = strtol(optarg, &end, 10);
            if (*end != '\0' || o.scale < 1) {
                fprintf(stderr, "p11bench: bad --scale\n");
                return 2;
            }
            break;
        case 'c':
            o.create_threads = atoi(optarg);
            break;
        case 'L':
            o.latency = true;
            break;
        case 'n':
            o.calls = strtol(optarg, &end, 10);
            if (*end != '\0' || o.calls < 1 || o.calls > 100000000) {
                fprintf(stderr, "p11bench: bad --calls\n");
                return 2;
            }
            break;
        case 'R':
            o.results = true;
            break;
        case 'P':
            o.speed_seconds = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || o.speed_seconds < 1 || o.speed_seconds > 600) {
                fprintf(stderr, "p11bench: bad --speed\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (nmods == 0 && (o.scale > 0 || !o.openssl)) || (o.latency && o.scale > 0)) {
        usage(stderr);
        return 2;
    }
    if (RAND_bytes(g_msg, sizeof(g_msg)) != 1 || RAND_bytes(g_aes_data, sizeof(g_aes_data)) != 1 ||
        EVP_Digest(g_msg, sizeof(g_msg), g_digest, NULL, EVP_sha256(), NULL) != 1)
        return 1;

    for (int i = 0; i < nmods; i++)
        if (module_load(&mods[i]) != 0)
            return 1;
    if (o.scale > 0) {
        rc = scale(mods, nmods, &o);
    } else {
        for (int i = 0; i < nmods; i++) {
            CK_RV rv = module_init(&mods[i]);
            if (rv != CKR_OK) {
                fprintf(stderr, "p11bench: %s: C_Initialize: 0x%lx\n", mods[i].name, (unsigned long)rv);
                return 1;
            }
            if (token_setup(&mods[i], &o, o.token) != 0)
                return 1;
        }
        rc = o.latency ? latency(mods, nmods, &o) : throughput(mods, nmods, &o);
        for (int i = 0; i < nmods; i++) {
            mods[i].f->C_Logout(mods[i].s);
            mods[i].f->C_CloseSession(mods[i].s);
            mods[i].f->C_Finalize(NULL);
        }
    }
    /* Modules stay loaded: some register atexit handlers. */
    return rc != 0 ? 1 : 0;
}
