/*
 * The mechanism table (C_GetMechanismList / C_GetMechanismInfo) and the
 * lookup the operation code uses. PKCS#11 3.0 §5.5 (C_GetMechanismInfo) and
 * the Current Mechanisms specification for each entry's key sizes and flags.
 *
 * Key sizes: bits for RSA and EC-family keys, bytes for AES and generic
 * secrets (HMAC, HKDF), as the mechanisms specification states per mechanism.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "core/mech_int.h"

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define SV (CKF_SIGN | CKF_VERIFY)
#define ED (CKF_ENCRYPT | CKF_DECRYPT)
#define WU (CKF_WRAP | CKF_UNWRAP)

static const tcore_mech_def mech_table[] = {
    /* digests */
    {CKM_SHA_1, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA1},
    {CKM_SHA224, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA224},
    {CKM_SHA256, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA256},
    {CKM_SHA384, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA384},
    {CKM_SHA512, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA512},
    {CKM_SHA3_224, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA3_224},
    {CKM_SHA3_256, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA3_256},
    {CKM_SHA3_384, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA3_384},
    {CKM_SHA3_512, 0, 0, CKF_DIGEST, MF_DIGEST, TCRYPTO_MD_SHA3_512},
    /* RSA */
    {CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 4096, CKF_GENERATE_KEY_PAIR, MF_RSA_GEN, TCRYPTO_MD_NONE},
    {CKM_RSA_PKCS, 2048, 8192, ED | SV | WU, MF_RSA_PKCS, TCRYPTO_MD_NONE},
    {CKM_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_NONE},
    {CKM_RSA_PKCS_OAEP, 2048, 8192, ED | WU, MF_RSA_OAEP, TCRYPTO_MD_NONE},
    {CKM_RSA_X_509, 2048, 8192, ED | SV, MF_RSA_X509, TCRYPTO_MD_NONE},
    {CKM_SHA1_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA1},
    {CKM_SHA224_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA224},
    {CKM_SHA256_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA256},
    {CKM_SHA384_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA384},
    {CKM_SHA512_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA512},
    {CKM_SHA1_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA1},
    {CKM_SHA224_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA224},
    {CKM_SHA256_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA256},
    {CKM_SHA384_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA384},
    {CKM_SHA512_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA512},
    {CKM_SHA3_224_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA3_224},
    {CKM_SHA3_256_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA3_256},
    {CKM_SHA3_384_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA3_384},
    {CKM_SHA3_512_RSA_PKCS, 2048, 8192, SV, MF_RSA_PKCS, TCRYPTO_MD_SHA3_512},
    {CKM_SHA3_224_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA3_224},
    {CKM_SHA3_256_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA3_256},
    {CKM_SHA3_384_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA3_384},
    {CKM_SHA3_512_RSA_PKCS_PSS, 2048, 8192, SV, MF_RSA_PSS, TCRYPTO_MD_SHA3_512},
    /* EC (NIST curves) */
    {CKM_EC_KEY_PAIR_GEN, 256, 521, CKF_GENERATE_KEY_PAIR | EC_FLAGS, MF_EC_GEN, TCRYPTO_MD_NONE},
    {CKM_ECDSA, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_NONE},
    {CKM_ECDSA_SHA1, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA1},
    {CKM_ECDSA_SHA224, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA224},
    {CKM_ECDSA_SHA256, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA256},
    {CKM_ECDSA_SHA384, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA384},
    {CKM_ECDSA_SHA512, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA512},
    {CKM_ECDSA_SHA3_224, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA3_224},
    {CKM_ECDSA_SHA3_256, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA3_256},
    {CKM_ECDSA_SHA3_384, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA3_384},
    {CKM_ECDSA_SHA3_512, 256, 521, SV | EC_FLAGS, MF_ECDSA, TCRYPTO_MD_SHA3_512},
    {CKM_ECDH1_DERIVE, 255, 521, CKF_DERIVE | EC_FLAGS, MF_ECDH, TCRYPTO_MD_NONE},
    /* Edwards / Montgomery (RFC 8032 / RFC 7748) */
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 448, CKF_GENERATE_KEY_PAIR, MF_ED_GEN, TCRYPTO_MD_NONE},
    {CKM_EDDSA, 255, 448, SV, MF_EDDSA, TCRYPTO_MD_NONE},
    {CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 255, 448, CKF_GENERATE_KEY_PAIR, MF_X_GEN, TCRYPTO_MD_NONE},
    /* AES */
    {CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE, MF_AES_GEN, TCRYPTO_MD_NONE},
    {CKM_AES_ECB, 16, 32, ED, MF_ECB, TCRYPTO_MD_NONE},
    {CKM_AES_CBC, 16, 32, ED, MF_CBC, TCRYPTO_MD_NONE},
    {CKM_AES_CBC_PAD, 16, 32, ED, MF_CBC_PAD, TCRYPTO_MD_NONE},
    {CKM_AES_CTR, 16, 32, ED, MF_AES_CTR, TCRYPTO_MD_NONE},
    {CKM_AES_GCM, 16, 32, ED, MF_AES_GCM, TCRYPTO_MD_NONE},
    {CKM_AES_CMAC, 16, 32, SV, MF_CMAC, TCRYPTO_MD_NONE},
    {CKM_AES_CMAC_GENERAL, 16, 32, SV, MF_CMAC_GENERAL, TCRYPTO_MD_NONE},
    {CKM_AES_KEY_WRAP, 16, 32, ED | WU, MF_AES_KW, TCRYPTO_MD_NONE},
    /* RFC 5649 under both codes: 0x210a is what p11-kit's header, OpenSC and
     * SoftHSM call it, 0x210b (KWP) is the 3.0 specification's name. */
    {CKM_AES_KEY_WRAP_PAD, 16, 32, ED | WU, MF_AES_KWP, TCRYPTO_MD_NONE},
    {CKM_AES_KEY_WRAP_KWP, 16, 32, ED | WU, MF_AES_KWP, TCRYPTO_MD_NONE},
    /* Triple DES (SP 800-67), key sizes in bytes: two-key 16, three-key 24.
     * DES2 keys work with every DES3 mechanism (Current Mechanisms 3.0,
     * "Triple-DES"). The unpadded modes wrap secret keys whose length is a
     * multiple of 8. */
    {CKM_DES2_KEY_GEN, 16, 16, CKF_GENERATE, MF_DES_GEN, TCRYPTO_MD_NONE, TCORE_BLK_DES3, false},
    {CKM_DES3_KEY_GEN, 24, 24, CKF_GENERATE, MF_DES_GEN, TCRYPTO_MD_NONE, TCORE_BLK_DES3, false},
    {CKM_DES3_ECB, 16, 24, ED | WU, MF_ECB, TCRYPTO_MD_NONE, TCORE_BLK_DES3, false},
    {CKM_DES3_CBC, 16, 24, ED | WU, MF_CBC, TCRYPTO_MD_NONE, TCORE_BLK_DES3, false},
    {CKM_DES3_CBC_PAD, 16, 24, ED | WU, MF_CBC_PAD, TCRYPTO_MD_NONE, TCORE_BLK_DES3, false},
    {CKM_DES3_CMAC, 16, 24, SV, MF_CMAC, TCRYPTO_MD_NONE, TCORE_BLK_DES3, false},
    {CKM_DES3_CMAC_GENERAL, 16, 24, SV, MF_CMAC_GENERAL, TCRYPTO_MD_NONE, TCORE_BLK_DES3, false},
    /* single DES (FIPS 46-3, withdrawn): only with legacy_algorithms on,
     * through OpenSSL's legacy provider */
    {CKM_DES_KEY_GEN, 8, 8, CKF_GENERATE, MF_DES_GEN, TCRYPTO_MD_NONE, TCORE_BLK_DES, true},
    {CKM_DES_ECB, 8, 8, ED | WU, MF_ECB, TCRYPTO_MD_NONE, TCORE_BLK_DES, true},
    {CKM_DES_CBC, 8, 8, ED | WU, MF_CBC, TCRYPTO_MD_NONE, TCORE_BLK_DES, true},
    {CKM_DES_CBC_PAD, 8, 8, ED | WU, MF_CBC_PAD, TCRYPTO_MD_NONE, TCORE_BLK_DES, true},
    /* generic secrets, HMAC, HKDF */
    {CKM_GENERIC_SECRET_KEY_GEN, 1, 512, CKF_GENERATE, MF_SECRET_GEN, TCRYPTO_MD_NONE},
    {CKM_SHA_1_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA1},
    {CKM_SHA224_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA224},
    {CKM_SHA256_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA256},
    {CKM_SHA384_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA384},
    {CKM_SHA512_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA512},
    {CKM_SHA3_224_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA3_224},
    {CKM_SHA3_256_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA3_256},
    {CKM_SHA3_384_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA3_384},
    {CKM_SHA3_512_HMAC, 1, 512, SV, MF_HMAC, TCRYPTO_MD_SHA3_512},
    {CKM_SHA_1_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA1},
    {CKM_SHA224_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA224},
    {CKM_SHA256_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA256},
    {CKM_SHA384_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA384},
    {CKM_SHA512_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA512},
    {CKM_SHA3_224_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA3_224},
    {CKM_SHA3_256_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA3_256},
    {CKM_SHA3_384_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA3_384},
    {CKM_SHA3_512_HMAC_GENERAL, 1, 512, SV, MF_HMAC_GENERAL, TCRYPTO_MD_SHA3_512},
    {CKM_HKDF_DERIVE, 1, 512, CKF_DERIVE, MF_HKDF, TCRYPTO_MD_NONE},
    {CKM_HKDF_KEY_GEN, 1, 512, CKF_GENERATE, MF_SECRET_GEN, TCRYPTO_MD_NONE},
};

static atomic_bool legacy_on = false;

bool tcore_legacy_on(void)
{
    return atomic_load_explicit(&legacy_on, memory_order_relaxed);
}

void tcore_legacy_set(void)
{
    atomic_store(&legacy_on, true);
}

/* Lookups (one per operation) go through an index sorted by type, built
 * once; the table itself keeps its reading order for C_GetMechanismList. */
#define MECH_COUNT TC_ARRAY_LEN(mech_table)
static const tcore_mech_def *mech_index[MECH_COUNT];
static pthread_once_t mech_index_once = PTHREAD_ONCE_INIT;

static int mech_cmp(const void *a, const void *b)
{
    CK_MECHANISM_TYPE x = (*(const tcore_mech_def *const *)a)->type;
    CK_MECHANISM_TYPE y = (*(const tcore_mech_def *const *)b)->type;
    return x < y ? -1 : x > y;
}

static void mech_index_build(void)
{
    for (size_t i = 0; i < MECH_COUNT; i++)
        mech_index[i] = &mech_table[i];
    qsort(mech_index, MECH_COUNT, sizeof(mech_index[0]), mech_cmp);
}

bool tcore_mech_offered(const tcore_mech_def *d)
{
    return !d->legacy || tcore_legacy_on();
}

const tcore_mech_def *tcore_mech_find(CK_MECHANISM_TYPE type)
{
    pthread_once(&mech_index_once, mech_index_build);
    size_t lo = 0, hi = MECH_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        CK_MECHANISM_TYPE t = mech_index[mid]->type;
        if (t == type)
            return tcore_mech_offered(mech_index[mid]) ? mech_index[mid] : NULL;
        if (t < type)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

CK_RV tcore_mech_list(const tcore *c, CK_MECHANISM_TYPE *out, CK_ULONG *count_io)
{
    (void)c;
    CK_ULONG n = 0;
    if (count_io == NULL)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < MECH_COUNT; i++)
        n += tcore_mech_offered(&mech_table[i]);
    if (out == NULL) {
        *count_io = n;
        return CKR_OK;
    }
    if (*count_io < n) {
        *count_io = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    CK_ULONG k = 0;
    for (size_t i = 0; i < MECH_COUNT; i++)
        if (tcore_mech_offered(&mech_table[i]))
            out[k++] = mech_table[i].type;
    *count_io = n;
    return CKR_OK;
}

CK_RV tcore_mech_info(const tcore *c, CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info)
{
    const tcore_mech_def *d = tcore_mech_find(mech);
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    if (d == NULL)
        return CKR_MECHANISM_INVALID;
    info->ulMinKeySize = tcore_mech_min(d);
    info->ulMaxKeySize = d->max;
    /* PKCS#11 3.0 §5.5: CKF_HW means the device performs the operation.
     * Embedded, the core and its keys are inside the caller's process:
     * software, and said so. */
    info->flags = d->flags | (c != NULL && c->keys_outside_caller ? CKF_HW : 0);
    return CKR_OK;
}

void tcore_set_keys_outside_caller(tcore *c, bool outside)
{
    if (c != NULL)
        c->keys_outside_caller = outside;
}

/* RSA mechanisms reach down to 1024-bit keys with the legacy switch on
 * (SP 800-131A disallows them for new signatures; old systems still need
 * them). */
#define RSA_LEGACY_MIN_BITS 1024

CK_ULONG tcore_mech_min(const tcore_mech_def *d)
{
    bool rsa = d->fam == MF_RSA_GEN || d->fam == MF_RSA_PKCS || d->fam == MF_RSA_PSS ||
               d->fam == MF_RSA_OAEP || d->fam == MF_RSA_X509;
    return rsa && tcore_legacy_on() ? RSA_LEGACY_MIN_BITS : d->min;
}

size_t tcore_mech_block(const tcore_mech_def *d)
{
    return d->blk == TCORE_BLK_AES ? 16 : 8;
}

tcrypto_md tcore_mech_md(CK_MECHANISM_TYPE hash)
{
    switch (hash) {
    case CKM_SHA_1: return TCRYPTO_MD_SHA1;
    case CKM_SHA224: return TCRYPTO_MD_SHA224;
    case CKM_SHA256: return TCRYPTO_MD_SHA256;
    case CKM_SHA384: return TCRYPTO_MD_SHA384;
    case CKM_SHA512: return TCRYPTO_MD_SHA512;
    case CKM_SHA3_224: return TCRYPTO_MD_SHA3_224;
    case CKM_SHA3_256: return TCRYPTO_MD_SHA3_256;
    case CKM_SHA3_384: return TCRYPTO_MD_SHA3_384;
    case CKM_SHA3_512: return TCRYPTO_MD_SHA3_512;
    default: return TCRYPTO_MD_NONE;
    }
}

tcrypto_md tcore_mech_mgf(CK_RSA_PKCS_MGF_TYPE mgf)
{
    switch (mgf) {
    case CKG_MGF1_SHA1: return TCRYPTO_MD_SHA1;
    case CKG_MGF1_SHA224: return TCRYPTO_MD_SHA224;
    case CKG_MGF1_SHA256: return TCRYPTO_MD_SHA256;
    case CKG_MGF1_SHA384: return TCRYPTO_MD_SHA384;
    case CKG_MGF1_SHA512: return TCRYPTO_MD_SHA512;
    case CKG_MGF1_SHA3_224: return TCRYPTO_MD_SHA3_224;
    case CKG_MGF1_SHA3_256: return TCRYPTO_MD_SHA3_256;
    case CKG_MGF1_SHA3_384: return TCRYPTO_MD_SHA3_384;
    case CKG_MGF1_SHA3_512: return TCRYPTO_MD_SHA3_512;
    default: return TCRYPTO_MD_NONE;
    }
}

CK_RV tcore_rv_from_crypto(tcrypto_rc rc)
{
    switch (rc) {
    case TCRYPTO_OK: return CKR_OK;
    case TCRYPTO_ERR_ARG: return CKR_ARGUMENTS_BAD;
    case TCRYPTO_ERR_NOMEM: return CKR_HOST_MEMORY;
    case TCRYPTO_ERR_BUFFER: return CKR_BUFFER_TOO_SMALL;
    case TCRYPTO_ERR_UNSUPPORTED: return CKR_MECHANISM_INVALID;
    case TCRYPTO_ERR_KEY: return CKR_KEY_TYPE_INCONSISTENT;
    case TCRYPTO_ERR_VERIFY: return CKR_SIGNATURE_INVALID;
    case TCRYPTO_ERR_DECRYPT: return CKR_ENCRYPTED_DATA_INVALID;
    case TCRYPTO_ERR_INPUT: return CKR_DATA_INVALID;
    case TCRYPTO_ERR_STATE: return CKR_DEVICE_ERROR;
    case TCRYPTO_ERR_INTERNAL: return CKR_FUNCTION_FAILED;
    }
    return CKR_GENERAL_ERROR;
}

const CK_ATTRIBUTE *tcore_tmpl_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
    if (tmpl == NULL)
        return NULL;
    for (CK_ULONG i = 0; i < n; i++) {
        if (tmpl[i].type == type)
            return &tmpl[i];
    }
    return NULL;
}

CK_RV tcore_tmpl_ulong(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
                       CK_ULONG *v, bool *found)
{
    const CK_ATTRIBUTE *a = tcore_tmpl_find(tmpl, n, type);
    *found = false;
    if (a == NULL)
        return CKR_OK;
    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    memcpy(v, a->pValue, sizeof(CK_ULONG));
    *found = true;
    return CKR_OK;
}

CK_KEY_TYPE tcore_ckk_from_crypto(tcrypto_key_type t)
{
    switch (t) {
    case TCRYPTO_KEY_RSA: return CKK_RSA;
    case TCRYPTO_KEY_EC: return CKK_EC;
    case TCRYPTO_KEY_ED25519:
    case TCRYPTO_KEY_ED448: return CKK_EC_EDWARDS;
    case TCRYPTO_KEY_X25519:
    case TCRYPTO_KEY_X448: return CKK_EC_MONTGOMERY;
    }
    return CK_UNAVAILABLE_INFORMATION;
}
