/*
 * Mechanism parameters and data through the PKCS#11 functions: each input
 * picks a function (encrypt, decrypt, sign, verify, digest, derive, wrap,
 * unwrap), an advertised mechanism and a key, then builds the mechanism's
 * parameter structure from the input — pointers always point into the
 * input with lengths that fit it, since a PKCS#11 caller's pointers are
 * trusted — and runs single- and multi-part calls on the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "tessera/pkcs11.h"

static CK_FUNCTION_LIST_3_0 *f;
static CK_SESSION_HANDLE S;
static CK_MECHANISM_TYPE mechs[256];
static CK_ULONG nmechs;
static CK_OBJECT_HANDLE keys[12];
static CK_ULONG nkeys;
static CK_BBOOL T = CK_TRUE, F = CK_FALSE;

typedef struct {
    const uint8_t *p;
    size_t len, off;
} rd;

static uint8_t u8(rd *r)
{
    return r->off < r->len ? r->p[r->off++] : 0;
}

static CK_ULONG ul(rd *r)
{
    CK_ULONG v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | u8(r);
    return v;
}

/* A pointer into the input and a length that fits what is left. */
static CK_BYTE_PTR bytes(rd *r, CK_ULONG *n)
{
    size_t want = u8(r);
    if (want == 255)
        want = (size_t)u8(r) << 4;
    if (want > r->len - r->off)
        want = r->len - r->off;
    *n = (CK_ULONG)want;
    CK_BYTE_PTR p = (CK_BYTE_PTR)(r->p + r->off);
    r->off += want;
    return want ? p : (u8(r) & 1 ? NULL : p);
}

static char g_dir[] = "/tmp/tessera-fuzz-mech-XXXXXX";

/* Remove the temporary store when the fuzzer exits. */
static void cleanup(void)
{
    DIR *d = opendir(g_dir);
    if (d != NULL) {
        struct dirent *e;
        char path[256];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", g_dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(g_dir);
}

static void fatal(const char *what)
{
    fprintf(stderr, "fuzz_mech_params setup: %s\n", what);
    abort();
}

static CK_OBJECT_HANDLE secret(CK_KEY_TYPE kt, CK_ULONG len)
{
    CK_MECHANISM m = {kt == CKK_AES ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
    CK_ATTRIBUTE t[] = {
        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &F, 1},   {CKA_ENCRYPT, &T, 1},
        {CKA_DECRYPT, &T, 1},               {CKA_SIGN, &T, 1},    {CKA_VERIFY, &T, 1},
        {CKA_WRAP, &T, 1},                  {CKA_UNWRAP, &T, 1},  {CKA_DERIVE, &T, 1},
        {CKA_EXTRACTABLE, &T, 1},
    };
    CK_OBJECT_HANDLE h;
    if (f->C_GenerateKey(S, &m, t, sizeof(t) / sizeof(t[0]), &h) != CKR_OK)
        fatal("secret key");
    return h;
}

static void pair(CK_MECHANISM_TYPE mt, const uint8_t *oid, size_t oidlen)
{
    CK_MECHANISM m = {mt, NULL, 0};
    CK_ULONG bits = 2048;
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &F, 1},
                         oid ? (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid, oidlen}
                             : (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)},
                         {CKA_VERIFY, &T, 1}, {CKA_ENCRYPT, &T, 1}, {CKA_WRAP, &T, 1}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &F, 1}, {CKA_SIGN, &T, 1},   {CKA_DECRYPT, &T, 1},
                         {CKA_UNWRAP, &T, 1}, {CKA_DERIVE, &T, 1}, {CKA_EXTRACTABLE, &T, 1}};
    CK_ULONG np = 5, nk = 6;
    if (mt != CKM_RSA_PKCS_KEY_PAIR_GEN) {
        np = mt == CKM_EC_MONTGOMERY_KEY_PAIR_GEN ? 2 : 3;
        kt[2] = kt[3] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &T, 1};
        if (mt == CKM_EC_MONTGOMERY_KEY_PAIR_GEN)
            kt[1] = kt[4];
        if (mt == CKM_EC_EDWARDS_KEY_PAIR_GEN)
            kt[4] = kt[5];
    }
    if (f->C_GenerateKeyPair(S, &m, pt, np, kt, nk, &keys[nkeys], &keys[nkeys + 1]) != CKR_OK)
        fatal("key pair");
    nkeys += 2;
}

static void setup(void)
{
    static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const uint8_t ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    static const uint8_t x25519[] = {0x06, 0x03, 0x2b, 0x65, 0x6e};
    char conf[128], line[400];
    if (mkdtemp(g_dir) == NULL)
        fatal("mkdtemp");
    atexit(cleanup);
    const char *dir = g_dir;
    snprintf(conf, sizeof(conf), "%s/tessera.conf", dir);
    FILE *fp = fopen(conf, "w");
    if (fp == NULL)
        fatal("conf");
    snprintf(line, sizeof(line),
             "store = %s/tessera.db\nlog_level = error\npin_kdf_t_cost = 1\npin_kdf_m_cost = 64\n"
             "pin_kdf_lanes = 1\n",
             dir);
    fputs(line, fp);
    fclose(fp);
    setenv("TESSERA_CONF", conf, 1);
    CK_INTERFACE_PTR iface = NULL;
    CK_VERSION v = {3, 0};
    if (C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v, &iface, 0) != CKR_OK)
        fatal("interface");
    f = iface->pFunctionList;
    if (f->C_Initialize(NULL) != CKR_OK)
        fatal("initialize");
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    if (f->C_GetSlotList(CK_FALSE, slots, &n) != CKR_OK || n == 0)
        fatal("slots");
    CK_UTF8CHAR label[32];
    memset(label, ' ', sizeof(label));
    if (f->C_InitToken(slots[0], (CK_UTF8CHAR_PTR) "so-pin-123", 10, label) != CKR_OK ||
        f->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &S) != CKR_OK ||
        f->C_Login(S, CKU_SO, (CK_UTF8CHAR_PTR) "so-pin-123", 10) != CKR_OK ||
        f->C_InitPIN(S, (CK_UTF8CHAR_PTR) "user-pin-1", 10) != CKR_OK ||
        f->C_Logout(S) != CKR_OK ||
        f->C_Login(S, CKU_USER, (CK_UTF8CHAR_PTR) "user-pin-1", 10) != CKR_OK)
        fatal("token");
    nmechs = 256;
    if (f->C_GetMechanismList(slots[0], mechs, &nmechs) != CKR_OK)
        fatal("mechanisms");
    keys[nkeys++] = secret(CKK_AES, 32);
    keys[nkeys++] = secret(CKK_AES, 16);
    keys[nkeys++] = secret(CKK_GENERIC_SECRET, 32);
    pair(CKM_EC_KEY_PAIR_GEN, p256, sizeof(p256));
    pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, ed25519, sizeof(ed25519));
    pair(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, x25519, sizeof(x25519));
    pair(CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0);
}

static const CK_MECHANISM_TYPE hashes[] = {CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384,
                                           CKM_SHA512, CKM_SHA3_256, CKM_MD5, 0x7777};

/* Build the parameter structure the mechanism takes from the input. */
static void params(rd *r, CK_MECHANISM *m, void *store)
{
    CK_ULONG n;
    switch (m->mechanism) {
    case CKM_AES_GCM: {
        CK_GCM_PARAMS *p = store;
        p->pIv = bytes(r, &p->ulIvLen);
        p->ulIvBits = p->ulIvLen * 8;
        p->pAAD = bytes(r, &p->ulAADLen);
        p->ulTagBits = u8(r);
        m->pParameter = p;
        m->ulParameterLen = sizeof(*p);
        break;
    }
    case CKM_AES_CTR: {
        CK_AES_CTR_PARAMS *p = store;
        p->ulCounterBits = u8(r);
        for (int i = 0; i < 16; i++)
            p->cb[i] = u8(r);
        m->pParameter = p;
        m->ulParameterLen = sizeof(*p);
        break;
    }
    case CKM_RSA_PKCS_OAEP: {
        CK_RSA_PKCS_OAEP_PARAMS *p = store;
        p->hashAlg = hashes[u8(r) % 8];
        p->mgf = u8(r) % 7;
        p->source = u8(r) % 3;
        p->pSourceData = bytes(r, &p->ulSourceDataLen);
        m->pParameter = p;
        m->ulParameterLen = sizeof(*p);
        break;
    }
    case CKM_RSA_PKCS_PSS: case CKM_SHA1_RSA_PKCS_PSS: case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS: case CKM_SHA384_RSA_PKCS_PSS: case CKM_SHA512_RSA_PKCS_PSS: {
        CK_RSA_PKCS_PSS_PARAMS *p = store;
        p->hashAlg = hashes[u8(r) % 8];
        p->mgf = u8(r) % 7;
        p->sLen = ul(r) % 600;
        m->pParameter = p;
        m->ulParameterLen = sizeof(*p);
        break;
    }
    case CKM_EDDSA: {
        if (u8(r) & 1)
            break;
        CK_EDDSA_PARAMS *p = store;
        p->phFlag = u8(r) & 1;
        p->pContextData = bytes(r, &p->ulContextDataLen);
        m->pParameter = p;
        m->ulParameterLen = sizeof(*p);
        break;
    }
    case CKM_ECDH1_DERIVE: {
        CK_ECDH1_DERIVE_PARAMS *p = store;
        p->kdf = u8(r) % 10;
        p->pSharedData = bytes(r, &p->ulSharedDataLen);
        p->pPublicData = bytes(r, &p->ulPublicDataLen);
        m->pParameter = p;
        m->ulParameterLen = sizeof(*p);
        break;
    }
    case CKM_HKDF_DERIVE: {
        CK_HKDF_PARAMS *p = store;
        p->bExtract = u8(r) & 1;
        p->bExpand = u8(r) & 1;
        p->prfHashMechanism = hashes[u8(r) % 8];
        p->ulSaltType = u8(r) % 6;
        p->pSalt = bytes(r, &p->ulSaltLen);
        p->hSaltKey = keys[u8(r) % nkeys];
        p->pInfo = bytes(r, &p->ulInfoLen);
        m->pParameter = p;
        m->ulParameterLen = sizeof(*p);
        break;
    }
    default: {
        /* No parameter, a CK_ULONG (the _GENERAL MACs) or a byte string
         * (CBC IVs): raw bytes of a chosen length. */
        CK_BYTE_PTR p = bytes(r, &n);
        if (u8(r) & 1) {
            memcpy(store, p ? p : (CK_BYTE_PTR) "", n < 64 ? n : 64);
            m->pParameter = n ? store : NULL;
            m->ulParameterLen = n < 64 ? n : 64;
        }
        break;
    }
    }
}

/* OpenSSL keeps its per-thread random generators behind pthread keys, which
 * LeakSanitizer does not scan: they would be reported as leaked whenever an
 * input triggers a leak check. Full unwinding lets the suppression match
 * them by name without hiding any other allocation made through libcrypto. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:RAND_get0_private\nleak:RAND_get0_public\nleak:RAND_get0_primary\n";
}

/* Setup runs once, before libFuzzer starts tracking leaks per input: the
 * token, the keys and OpenSSL's per-thread state live for the whole run. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r = {data, size, 0};
    uint8_t fn = u8(&r) % 8;
    CK_MECHANISM m = {mechs[u8(&r) % nmechs], NULL, 0};
    CK_OBJECT_HANDLE key = keys[u8(&r) % nkeys];
    CK_OBJECT_HANDLE other = keys[u8(&r) % nkeys];
    bool multi = u8(&r) & 1;
    _Alignas(16) uint8_t store[256];
    memset(store, 0, sizeof(store));
    params(&r, &m, store);
    CK_ULONG inlen;
    CK_BYTE_PTR in = bytes(&r, &inlen);
    if (in == NULL)
        in = (CK_BYTE_PTR) "";
    static uint8_t out[1 << 16];
    CK_ULONG outlen = sizeof(out);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG vlen = u8(&r) + 1;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                           {CKA_VALUE_LEN, &vlen, sizeof(vlen)}, {CKA_TOKEN, &F, 1}};
    CK_ULONG half = inlen / 2;
    switch (fn) {
    case 0:
        if (f->C_EncryptInit(S, &m, key) != CKR_OK)
            break;
        if (multi) {
            if (f->C_EncryptUpdate(S, in, half, out, &outlen) == CKR_OK) {
                CK_ULONG l2 = sizeof(out);
                if (f->C_EncryptUpdate(S, in + half, inlen - half, out, &l2) == CKR_OK) {
                    l2 = sizeof(out);
                    f->C_EncryptFinal(S, out, &l2);
                }
            }
        } else {
            f->C_Encrypt(S, in, inlen, NULL, &outlen);
            outlen = sizeof(out);
            f->C_Encrypt(S, in, inlen, out, &outlen);
        }
        f->C_EncryptInit(S, NULL, CK_INVALID_HANDLE);
        break;
    case 1:
        if (f->C_DecryptInit(S, &m, key) != CKR_OK)
            break;
        if (multi) {
            if (f->C_DecryptUpdate(S, in, half, out, &outlen) == CKR_OK) {
                CK_ULONG l2 = sizeof(out);
                if (f->C_DecryptUpdate(S, in + half, inlen - half, out, &l2) == CKR_OK) {
                    l2 = 1;
                    if (f->C_DecryptFinal(S, out, &l2) == CKR_BUFFER_TOO_SMALL) {
                        l2 = sizeof(out);
                        f->C_DecryptFinal(S, out, &l2);
                    }
                }
            }
        } else {
            outlen = inlen / 3;
            if (f->C_Decrypt(S, in, inlen, out, &outlen) == CKR_BUFFER_TOO_SMALL) {
                outlen = sizeof(out);
                f->C_Decrypt(S, in, inlen, out, &outlen);
            }
        }
        f->C_DecryptInit(S, NULL, CK_INVALID_HANDLE);
        break;
    case 2:
        if (f->C_SignInit(S, &m, key) != CKR_OK)
            break;
        if (multi) {
            if (f->C_SignUpdate(S, in, half) == CKR_OK &&
                f->C_SignUpdate(S, in + half, inlen - half) == CKR_OK)
                f->C_SignFinal(S, out, &outlen);
        } else {
            f->C_Sign(S, in, inlen, out, &outlen);
        }
        f->C_SignInit(S, NULL, CK_INVALID_HANDLE);
        break;
    case 3:
        if (f->C_VerifyInit(S, &m, key) != CKR_OK)
            break;
        if (multi) {
            if (f->C_VerifyUpdate(S, in, half) == CKR_OK)
                f->C_VerifyFinal(S, in + half, inlen - half);
        } else {
            f->C_Verify(S, in, half, in + half, inlen - half);
        }
        f->C_VerifyInit(S, NULL, CK_INVALID_HANDLE);
        break;
    case 4:
        if (f->C_DigestInit(S, &m) != CKR_OK)
            break;
        if (multi) {
            f->C_DigestUpdate(S, in, half);
            f->C_DigestKey(S, key);
            f->C_DigestFinal(S, out, &outlen);
        } else {
            f->C_Digest(S, in, inlen, out, &outlen);
        }
        f->C_DigestInit(S, NULL);
        break;
    case 5:
        kt = (u8(&r) & 1) ? CKK_AES : CKK_GENERIC_SECRET;
        if (f->C_DeriveKey(S, &m, key, tmpl, 4, &h) == CKR_OK)
            f->C_DestroyObject(S, h);
        break;
    case 6:
        f->C_WrapKey(S, &m, key, other, multi ? NULL : out, &outlen);
        break;
    case 7:
        cls = (u8(&r) & 1) ? CKO_PRIVATE_KEY : CKO_SECRET_KEY;
        kt = (u8(&r) & 1) ? CKK_AES : CKK_GENERIC_SECRET;
        if (f->C_UnwrapKey(S, &m, key, in, inlen, tmpl, multi ? 2 : 4, &h) == CKR_OK)
            f->C_DestroyObject(S, h);
        break;
    }
    return 0;
}
