/*
 * Operation contexts: digest, sign/verify (MAC), encrypt/decrypt over the
 * crypto layer. PKCS#11 3.0 §5.8-§5.12 for the call sequences, §5.2 for the
 * output-length convention, and the Current Mechanisms specification for
 * each mechanism's parameters and input lengths.
 *
 * Single-part calls are idempotent: they build fresh crypto contexts from
 * the key the operation holds, so a length query or CKR_BUFFER_TOO_SMALL can
 * be followed by the real call. Multi-part calls use a streaming context
 * (digest, MAC, cipher) or, for mechanisms that have none (RSA, EdDSA, GCM,
 * key wrap, raw-hash signatures), accumulate the input and run the
 * single-part code at Final.
 */
#include "core/mech_int.h"

/* Upper bound for input a multi-part operation accumulates. */
#define OP_MAX_ACC ((size_t)64 * 1024 * 1024)

struct tcore_op {
    tcore_op_kind kind;
    const tcore_mech_def *def;
    bool always_auth;
    bool multipart;    /* an Update was made: single-part calls now fail */
    bool final_done;   /* CBC_PAD decrypt: tail below is the final output */
    tcrypto_pkey *pkey;
    tcore_secret *sec; /* AES / HMAC key: a reference to the object's opened value */
    const uint8_t *key; /* sec's value (borrowed; checked live by op_live) */
    size_t keylen;
    tcrypto_gcm *gcm;  /* AES-GCM: keyed once per operation, this thread only */
    tcrypto_digest *dg;
    tcrypto_mac *mac;
    size_t mac_len;    /* output length (the _GENERAL mechanisms shorten it) */
    tcrypto_cipher *cipher;
    size_t pending;    /* bytes the cipher holds back */
    uint8_t iv[16];
    unsigned __int128 ctr_left; /* AES-CTR: blocks left before the counter wraps */
    unsigned __int128 ctr_used; /* bytes processed */
    bool ctr_unbounded;
    uint8_t tail[16];
    size_t tail_len;
    tcrypto_sig_params sp;
    tcrypto_rsa_enc_params ep;
    uint8_t *param_copy; /* EdDSA context, OAEP label, GCM IV||AAD */
    size_t param_copy_len;
    uint8_t param_inline[64]; /* param_copy when it fits (no allocation) */
    const uint8_t *gcm_iv, *gcm_aad;
    size_t gcm_ivlen, gcm_aadlen, gcm_taglen;
    tc_buf acc;
};

/* ---- scratch buffers --------------------------------------------------------- */

/* Temporary output (plaintext, unwrapped keys): small ones on the secure
 * heap, large ones (bulk data would exhaust its 1 MiB) from malloc; wiped
 * on free either way. */
typedef struct {
    uint8_t *p;
    size_t n;
    bool secure;
} scratch;

#define SCRATCH_SECURE_MAX 4096

static bool scratch_alloc(scratch *b, size_t n)
{
    b->n = n ? n : 1;
    b->secure = b->n <= SCRATCH_SECURE_MAX;
    /* a small temporary that may hold plaintext never falls back to the
     * ordinary heap: a full secure heap is CKR_HOST_MEMORY for the caller */
    b->p = b->secure ? tcrypto_secure_alloc(b->n) : malloc(b->n);
    return b->p != NULL;
}

static void scratch_free(scratch *b)
{
    if (b->p == NULL)
        return;
    if (b->secure)
        tcrypto_secure_free(b->p, b->n);
    else
        tc_freezero(b->p, b->n);
    b->p = NULL;
}

/* ---- key checks ----------------------------------------------------------- */

static bool key_type_fits(const tcore_mech_def *d, CK_KEY_TYPE kt)
{
    switch (d->fam) {
    case MF_RSA_PKCS: case MF_RSA_PSS: case MF_RSA_OAEP: case MF_RSA_X509:
        return kt == CKK_RSA;
    case MF_ECDSA:
        return kt == CKK_EC;
    case MF_EDDSA:
        return kt == CKK_EC_EDWARDS;
    case MF_ECDH:
        return kt == CKK_EC || kt == CKK_EC_MONTGOMERY;
    case MF_ECB: case MF_CBC: case MF_CBC_PAD: case MF_CMAC: case MF_CMAC_GENERAL:
        if (d->blk == TCORE_BLK_DES3)
            return kt == CKK_DES2 || kt == CKK_DES3;
        if (d->blk == TCORE_BLK_DES)
            return kt == CKK_DES;
        return kt == CKK_AES;
    case MF_AES_CTR: case MF_AES_GCM: case MF_AES_KW: case MF_AES_KWP:
        return kt == CKK_AES;
    case MF_HMAC: case MF_HMAC_GENERAL:
        return kt == CKK_GENERIC_SECRET;
    case MF_HKDF:
        return kt == CKK_GENERIC_SECRET || kt == CKK_HKDF;
    default:
        return false;
    }
}

CK_RV tcore_mech_check_key(const tcore_mech_def *d, tcore_obj *key, CK_OBJECT_CLASS want_cls,
                           CK_ATTRIBUTE_TYPE usage)
{
    if (tcore_obj_class(key) != want_cls || !key_type_fits(d, tcore_obj_key_type(key)))
        return CKR_KEY_TYPE_INCONSISTENT;
    return tcore_obj_check_use(key, d->type, usage);
}

/* A secret key's length fits the mechanism's range and its own type: AES
 * 16/24/32, DES 8, DES2 16, DES3 24. */
static bool secret_len_fits(const tcore_mech_def *d, CK_KEY_TYPE kt, size_t n)
{
    if (n < d->min || n > d->max)
        return false;
    if (kt == CKK_AES)
        return n == 16 || n == 24 || n == 32;
    size_t des = tcore_des_key_len(kt);
    return des == 0 || n == des;
}

CK_RV tcore_mech_secret(const tcore_mech_def *d, tcore_obj *key, uint8_t **val, size_t *len)
{
    uint8_t *v = NULL;
    size_t n = 0;
    CK_RV rv = tcore_obj_secret(key, &v, &n);
    if (rv != CKR_OK)
        return rv;
    if (!secret_len_fits(d, tcore_obj_key_type(key), n)) {
        tcrypto_secure_free(v, n);
        return CKR_KEY_SIZE_RANGE;
    }
    *val = v;
    *len = n;
    return CKR_OK;
}

static bool pkey_type_fits(tcore_mech_family fam, tcrypto_key_type t)
{
    switch (fam) {
    case MF_RSA_PKCS: case MF_RSA_PSS: case MF_RSA_OAEP: case MF_RSA_X509:
        return t == TCRYPTO_KEY_RSA;
    case MF_ECDSA:
        return t == TCRYPTO_KEY_EC;
    case MF_EDDSA:
        return t == TCRYPTO_KEY_ED25519 || t == TCRYPTO_KEY_ED448;
    case MF_ECDH:
        return t == TCRYPTO_KEY_EC || t == TCRYPTO_KEY_X25519 || t == TCRYPTO_KEY_X448;
    default:
        return false;
    }
}

CK_RV tcore_mech_pkey(const tcore_mech_def *d, tcore_obj *key, tcrypto_pkey **out)
{
    tcrypto_pkey *k = NULL;
    CK_RV rv = tcore_obj_pkey(key, &k);
    if (rv != CKR_OK)
        return rv;
    tcrypto_key_type t = tcrypto_pkey_type(k);
    if (!pkey_type_fits(d->fam, t)) {
        tcrypto_pkey_free(k);
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    if (t == TCRYPTO_KEY_RSA || t == TCRYPTO_KEY_EC) {
        size_t bits = tcrypto_pkey_bits(k);
        if (bits < tcore_mech_min(d) || bits > d->max) {
            tcrypto_pkey_free(k);
            return CKR_KEY_SIZE_RANGE;
        }
    }
    *out = k;
    return CKR_OK;
}

/* ---- parameters ------------------------------------------------------------ */

static bool param_is(const CK_MECHANISM *m, size_t size)
{
    return m->pParameter != NULL && m->ulParameterLen == size;
}

CK_RV tcore_mech_oaep_params(const CK_MECHANISM *m, tcrypto_rsa_enc_params *ep)
{
    CK_RSA_PKCS_OAEP_PARAMS p;
    if (!param_is(m, sizeof(p)))
        return CKR_MECHANISM_PARAM_INVALID;
    memcpy(&p, m->pParameter, sizeof(p));
    tcrypto_md md = tcore_mech_md(p.hashAlg);
    tcrypto_md mgf = tcore_mech_mgf(p.mgf);
    /* Current Mechanisms 3.0 §2.1.8: any hash of the token's digests, SHA-3
     * included, and any CKG_MGF1_* (the two may differ). */
    if (md == TCRYPTO_MD_NONE || mgf == TCRYPTO_MD_NONE)
        return CKR_MECHANISM_PARAM_INVALID;
    if (p.source != 0 && p.source != CKZ_DATA_SPECIFIED)
        return CKR_MECHANISM_PARAM_INVALID;
    if (p.ulSourceDataLen != 0 && (p.source != CKZ_DATA_SPECIFIED || p.pSourceData == NULL))
        return CKR_MECHANISM_PARAM_INVALID;
    memset(ep, 0, sizeof(*ep));
    ep->pad = TCRYPTO_RSA_PAD_OAEP;
    ep->md = md;
    ep->mgf1_md = mgf;
    ep->label = p.ulSourceDataLen ? (const uint8_t *)p.pSourceData : NULL;
    ep->label_len = p.ulSourceDataLen;
    return CKR_OK;
}

static CK_RV copy_param(tcore_op *op, const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen + blen;
    if (n == 0)
        return CKR_OK;
    op->param_copy = n <= sizeof(op->param_inline) ? op->param_inline : malloc(n);
    if (op->param_copy == NULL)
        return CKR_HOST_MEMORY;
    if (alen)
        memcpy(op->param_copy, a, alen);
    if (blen)
        memcpy(op->param_copy + alen, b, blen);
    op->param_copy_len = n;
    return CKR_OK;
}

static CK_RV parse_sig_params(tcore_op *op, const CK_MECHANISM *m)
{
    const tcore_mech_def *d = op->def;
    memset(&op->sp, 0, sizeof(op->sp));
    op->sp.md = d->md;
    /* Mechanisms without a parameter refuse one (PKCS#11 3.0 §5.11: a
     * parameter the mechanism does not take is CKR_MECHANISM_PARAM_INVALID). */
    bool none = d->fam == MF_RSA_PKCS || d->fam == MF_RSA_X509 || d->fam == MF_ECDSA ||
                d->fam == MF_HMAC || d->fam == MF_CMAC;
    if (none && m->ulParameterLen != 0) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    switch (d->fam) {
    case MF_RSA_PKCS:
        op->sp.scheme = TCRYPTO_SIG_RSA_PKCS1;
        return CKR_OK;
    case MF_RSA_X509:
        op->sp.scheme = TCRYPTO_SIG_RSA_RAW;
        return CKR_OK;
    case MF_ECDSA:
        op->sp.scheme = TCRYPTO_SIG_ECDSA;
        return CKR_OK;
    case MF_RSA_PSS: {
        CK_RSA_PKCS_PSS_PARAMS p;
        if (!param_is(m, sizeof(p)))
            return CKR_MECHANISM_PARAM_INVALID;
        memcpy(&p, m->pParameter, sizeof(p));
        tcrypto_md md = tcore_mech_md(p.hashAlg);
        tcrypto_md mgf = tcore_mech_mgf(p.mgf);
        if (md == TCRYPTO_MD_NONE || mgf == TCRYPTO_MD_NONE)
            return CKR_MECHANISM_PARAM_INVALID;
        /* The combined mechanisms hash with their own digest; a different
         * hashAlg would make the signature claim another hash. */
        if (d->md != TCRYPTO_MD_NONE && d->md != md)
            return CKR_MECHANISM_PARAM_INVALID;
        op->sp.scheme = TCRYPTO_SIG_RSA_PSS;
        op->sp.md = md;
        op->sp.mgf1_md = mgf;
        op->sp.salt_len = p.sLen;
        return CKR_OK;
    }
    case MF_EDDSA: {
        op->sp.scheme = TCRYPTO_SIG_EDDSA;
        if (m->pParameter == NULL && m->ulParameterLen == 0)
            return CKR_OK;
        CK_EDDSA_PARAMS p;
        if (!param_is(m, sizeof(p)))
            return CKR_MECHANISM_PARAM_INVALID;
        memcpy(&p, m->pParameter, sizeof(p));
        /* RFC 8032 §5.1: contexts are at most 255 bytes. */
        if (p.ulContextDataLen > 255 || (p.ulContextDataLen && p.pContextData == NULL))
            return CKR_MECHANISM_PARAM_INVALID;
        CK_RV rv = copy_param(op, p.pContextData, p.ulContextDataLen, NULL, 0);
        if (rv != CKR_OK)
            return rv;
        op->sp.eddsa_ph = p.phFlag != CK_FALSE;
        op->sp.context = op->param_copy;
        op->sp.context_len = p.ulContextDataLen;
        return CKR_OK;
    }
    case MF_HMAC:
    case MF_CMAC:
        return CKR_OK;
    case MF_HMAC_GENERAL:
    case MF_CMAC_GENERAL: {
        CK_ULONG l;
        if (!param_is(m, sizeof(l)))
            return CKR_MECHANISM_PARAM_INVALID;
        memcpy(&l, m->pParameter, sizeof(l));
        size_t full = d->fam == MF_CMAC_GENERAL ? tcore_mech_block(d) : tcrypto_md_size(d->md);
        if (l < 1 || l > full)
            return CKR_MECHANISM_PARAM_INVALID;
        op->mac_len = l;
        return CKR_OK;
    }
    default:
        return CKR_MECHANISM_INVALID;
    }
}


static CK_RV parse_enc_params(tcore_op *op, const CK_MECHANISM *m)
{
    switch (op->def->fam) {
    case MF_ECB:
    case MF_AES_KW:
    case MF_AES_KWP:
        /* The optional alternative initial value of RFC 3394/5649 is not
         * supported: only the default IV. */
        if (m->pParameter != NULL || m->ulParameterLen != 0) {
            if (op->def->fam != MF_ECB)
                return CKR_MECHANISM_PARAM_INVALID;
        }
        return CKR_OK;
    case MF_CBC:
    case MF_CBC_PAD: {
        /* The IV is one block: 16 bytes for AES, 8 for DES and Triple DES. */
        size_t bl = tcore_mech_block(op->def);
        if (!param_is(m, bl))
            return CKR_MECHANISM_PARAM_INVALID;
        memcpy(op->iv, m->pParameter, bl);
        return CKR_OK;
    }
    case MF_AES_CTR: {
        CK_AES_CTR_PARAMS p;
        if (!param_is(m, sizeof(p)))
            return CKR_MECHANISM_PARAM_INVALID;
        memcpy(&p, m->pParameter, sizeof(p));
        if (p.ulCounterBits < 1 || p.ulCounterBits > 128)
            return CKR_MECHANISM_PARAM_INVALID;
        memcpy(op->iv, p.cb, 16);
        if (p.ulCounterBits >= 127) {
            op->ctr_unbounded = true; /* 2^127 blocks: not reachable */
        } else {
            unsigned __int128 ctr = 0;
            for (int i = 0; i < 16; i++)
                ctr = (ctr << 8) | p.cb[i];
            unsigned __int128 modulus = (unsigned __int128)1 << p.ulCounterBits;
            op->ctr_left = modulus - (ctr & (modulus - 1));
        }
        return CKR_OK;
    }
    case MF_AES_GCM: {
        CK_GCM_PARAMS p;
        if (param_is(m, sizeof(TESSERA_GCM_PARAMS_240))) {
            /* The PKCS#11 2.40 errata layout without ulIvBits, which some
             * applications (older OpenSC, SunPKCS11) still pass. */
            TESSERA_GCM_PARAMS_240 q;
            memcpy(&q, m->pParameter, sizeof(q));
            p.pIv = q.pIv;
            p.ulIvLen = q.ulIvLen;
            p.ulIvBits = q.ulIvLen * 8;
            p.pAAD = q.pAAD;
            p.ulAADLen = q.ulAADLen;
            p.ulTagBits = q.ulTagBits;
        } else if (param_is(m, sizeof(p))) {
            memcpy(&p, m->pParameter, sizeof(p));
        } else {
            return CKR_MECHANISM_PARAM_INVALID;
        }
        /* Current Mechanisms §2.12.3: ulIvLen 1..256 bytes; tag lengths per
         * NIST SP 800-38D §5.2.1.2 (128,120,112,104,96, and 64/32). */
        if (p.ulIvLen < 1 || p.ulIvLen > 256 || p.pIv == NULL)
            return CKR_MECHANISM_PARAM_INVALID;
        if (p.ulAADLen != 0 && p.pAAD == NULL)
            return CKR_MECHANISM_PARAM_INVALID;
        if (p.ulAADLen > OP_MAX_ACC)
            return CKR_MECHANISM_PARAM_INVALID;
        switch (p.ulTagBits) {
        case 32: case 64: case 96: case 104: case 112: case 120: case 128:
            break;
        default:
            return CKR_MECHANISM_PARAM_INVALID;
        }
        CK_RV rv = copy_param(op, p.pIv, p.ulIvLen, p.pAAD, p.ulAADLen);
        if (rv != CKR_OK)
            return rv;
        op->gcm_iv = op->param_copy;
        op->gcm_ivlen = p.ulIvLen;
        op->gcm_aad = op->param_copy + p.ulIvLen;
        op->gcm_aadlen = p.ulAADLen;
        op->gcm_taglen = p.ulTagBits / 8;
        return CKR_OK;
    }
    case MF_RSA_PKCS:
        memset(&op->ep, 0, sizeof(op->ep));
        op->ep.pad = TCRYPTO_RSA_PAD_PKCS1;
        return CKR_OK;
    case MF_RSA_X509:
        memset(&op->ep, 0, sizeof(op->ep));
        op->ep.pad = TCRYPTO_RSA_PAD_NONE;
        return CKR_OK;
    case MF_RSA_OAEP: {
        CK_RV rv = tcore_mech_oaep_params(m, &op->ep);
        if (rv != CKR_OK)
            return rv;
        rv = copy_param(op, op->ep.label, op->ep.label_len, NULL, 0);
        if (rv != CKR_OK)
            return rv;
        op->ep.label = op->param_copy;
        return CKR_OK;
    }
    default:
        return CKR_MECHANISM_INVALID;
    }
}

/* ---- init / free ------------------------------------------------------------ */

void tcore_op_free(tcore_op *op)
{
    if (op == NULL)
        return;
    tcrypto_pkey_free(op->pkey);
    if (op->sec != NULL)
        tcore_secret_gcm_give(op->sec, op->gcm);
    else
        tcrypto_gcm_free(op->gcm);
    tcore_secret_unref(op->sec);
    tcrypto_digest_free(op->dg);
    tcrypto_mac_free(op->mac);
    tcrypto_cipher_free(op->cipher);
    if (op->param_copy != op->param_inline)
        tc_freezero(op->param_copy, op->param_copy_len);
    tc_buf_free(&op->acc);
    /* The key lives on the secure heap (released above); what the struct itself
     * may hold of value is the CBC_PAD tail and the inline parameters. */
    tc_wipe(op->tail, sizeof(op->tail));
    tc_wipe(op->param_inline, sizeof(op->param_inline));
    free(op);
}

bool tcore_op_always_auth(const tcore_op *op)
{
    return op->always_auth;
}

static bool family_allows(tcore_op_kind kind, const tcore_mech_def *d)
{
    switch (kind) {
    case TCORE_OP_DIGEST: return (d->flags & CKF_DIGEST) != 0;
    case TCORE_OP_SIGN: return (d->flags & CKF_SIGN) != 0;
    case TCORE_OP_VERIFY: return (d->flags & CKF_VERIFY) != 0;
    case TCORE_OP_ENCRYPT: return (d->flags & CKF_ENCRYPT) != 0;
    case TCORE_OP_DECRYPT: return (d->flags & CKF_DECRYPT) != 0;
    case TCORE_OP_KINDS: break;
    }
    return false;
}

static bool family_is_secret(tcore_mech_family f)
{
    return f == MF_ECB || f == MF_CBC || f == MF_CBC_PAD || f == MF_AES_CTR ||
           f == MF_AES_GCM || f == MF_CMAC || f == MF_CMAC_GENERAL || f == MF_AES_KW ||
           f == MF_AES_KWP || f == MF_HMAC || f == MF_HMAC_GENERAL;
}

static bool family_is_mac(tcore_mech_family f)
{
    return f == MF_CMAC || f == MF_CMAC_GENERAL || f == MF_HMAC || f == MF_HMAC_GENERAL;
}

static CK_RV new_mac(tcore_op *op, tcrypto_mac **out)
{
    tcrypto_rc rc;
    if ((op->def->fam == MF_CMAC || op->def->fam == MF_CMAC_GENERAL) &&
        op->def->blk == TCORE_BLK_DES3)
        rc = tcrypto_cmac_des3_new(op->key, op->keylen, out);
    else if (op->def->fam == MF_CMAC || op->def->fam == MF_CMAC_GENERAL)
        rc = tcrypto_cmac_new(op->key, op->keylen, out);
    else
        rc = tcrypto_hmac_new(op->def->md, op->key, op->keylen, out);
    return tcore_rv_from_crypto(rc);
}

/* The key's opened value, borrowed by reference (op->sec, taken at Init;
 * no copy per operation), with the mechanism's size range checked. */
static CK_RV op_secret(tcore_op *op, tcore_obj *key)
{
    const tcore_mech_def *d = op->def;
    size_t n = 0;
    op->key = tcore_secret_value(op->sec, &n);
    if (op->key == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    if (!secret_len_fits(d, tcore_obj_key_type(key), n))
        return CKR_KEY_SIZE_RANGE;
    op->keylen = n;
    return CKR_OK;
}

/* A token key's value stays usable only under the login it was opened in
 * (the object drops it at logout; an operation still holding a reference
 * must not go on using it). */
static CK_RV op_live(const tcore_op *op)
{
    size_t n;
    if (op->sec != NULL && tcore_secret_value(op->sec, &n) == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    return CKR_OK;
}

CK_RV tcore_op_init(tcore_op_kind kind, const CK_MECHANISM *mech, tcore_obj *key, tcore_op **out)
{
    static const CK_ATTRIBUTE_TYPE usage[] = {0, CKA_SIGN, CKA_VERIFY, CKA_ENCRYPT, CKA_DECRYPT};
    return tcore_op_init_usage(kind, mech, key, usage[kind], out);
}

CK_RV tcore_op_init_usage(tcore_op_kind kind, const CK_MECHANISM *mech, tcore_obj *key,
                          CK_ATTRIBUTE_TYPE usage, tcore_op **out)
{
    CK_RV rv;
    tcore_op *op = NULL;
    if (mech == NULL || out == NULL)
        return CKR_ARGUMENTS_BAD;
    const tcore_mech_def *d = tcore_mech_find(mech->mechanism);
    if (d == NULL)
        return CKR_MECHANISM_INVALID;
    if (usage == CKA_WRAP || usage == CKA_UNWRAP) {
        if (!(d->flags & (usage == CKA_WRAP ? CKF_WRAP : CKF_UNWRAP)))
            return CKR_MECHANISM_INVALID;
    } else if (!family_allows(kind, d)) {
        return CKR_MECHANISM_INVALID;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL)
        return CKR_HOST_MEMORY;
    op->kind = kind;
    op->def = d;
    tc_buf_init(&op->acc);

    if (kind == TCORE_OP_DIGEST) {
        rv = tcore_rv_from_crypto(tcrypto_digest_new(d->md, &op->dg));
        goto done;
    }
    if (key == NULL) {
        rv = CKR_KEY_HANDLE_INVALID;
        goto done;
    }
    bool secret = family_is_secret(d->fam);
    CK_OBJECT_CLASS cls = secret ? CKO_SECRET_KEY
                          : (kind == TCORE_OP_SIGN || kind == TCORE_OP_DECRYPT) ? CKO_PRIVATE_KEY
                                                                                : CKO_PUBLIC_KEY;
    if (secret) {
        /* The usage checks and the reference to the opened value under one
         * lock of the key object (shared by every session using the key). */
        if (tcore_obj_class(key) != cls || !key_type_fits(d, tcore_obj_key_type(key)))
            rv = CKR_KEY_TYPE_INCONSISTENT;
        else
            rv = tcore_obj_secret_ref_use(key, d->type, usage, &op->sec);
    } else {
        rv = tcore_mech_check_key(d, key, cls, usage);
    }
    if (rv != CKR_OK)
        goto done;
    rv = (kind == TCORE_OP_SIGN || kind == TCORE_OP_VERIFY) ? parse_sig_params(op, mech)
                                                            : parse_enc_params(op, mech);
    if (rv != CKR_OK)
        goto done;
    if (secret) {
        rv = op_secret(op, key);
        if (rv != CKR_OK)
            goto done;
        if (family_is_mac(d->fam)) {
            if (op->mac_len == 0)
                op->mac_len = d->fam == MF_CMAC ? tcore_mech_block(d) : tcrypto_md_size(d->md);
        }
    } else {
        rv = tcore_mech_pkey(d, key, &op->pkey);
        if (rv != CKR_OK)
            goto done;
        if (d->fam == MF_RSA_PSS) {
            /* RFC 8017 §9.1.1: emLen >= hLen + sLen + 2. */
            size_t em_len = (tcrypto_pkey_bits(op->pkey) - 1 + 7) / 8;
            size_t hlen = tcrypto_md_size(op->sp.md);
            if (op->sp.salt_len > em_len || em_len - op->sp.salt_len < hlen + 2) {
                rv = CKR_MECHANISM_PARAM_INVALID;
                goto done;
            }
        }
        if (d->fam == MF_EDDSA && (op->sp.eddsa_ph || op->sp.context_len != 0)) {
            /* Ed25519ph/ctx and Ed448 contexts (RFC 8032 §5.1, §5.2) need
             * OpenSSL 3.2; the crypto layer offers pure EdDSA only. Explicit
             * parameters {phFlag false, no context} select pure EdDSA. */
            rv = CKR_MECHANISM_PARAM_INVALID;
            goto done;
        }
    }
    op->always_auth = cls == CKO_PRIVATE_KEY && tcore_obj_bool(key, CKA_ALWAYS_AUTHENTICATE, false);
    rv = CKR_OK;
done:
    if (rv != CKR_OK) {
        tcore_op_free(op);
        return rv;
    }
    *out = op;
    return CKR_OK;
}

/* ---- output helper ------------------------------------------------------------ */

/* The two-call convention for an output whose length is known in advance:
 * CKR_OK with *outlen set and *go false for a query; CKR_BUFFER_TOO_SMALL;
 * or CKR_OK with *go true when out can take `need` bytes. */
static CK_RV out_check(uint8_t *out, CK_ULONG *outlen, size_t need, bool *go)
{
    *go = false;
    if (outlen == NULL)
        return CKR_ARGUMENTS_BAD;
    if (out == NULL) {
        *outlen = need;
        return CKR_OK;
    }
    if (*outlen < need) {
        *outlen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    *go = true;
    return CKR_OK;
}

/* Copy a computed result (length data-dependent) to the caller's buffer. */
static CK_RV out_copy(uint8_t *out, CK_ULONG *outlen, const uint8_t *res, size_t n)
{
    if (*outlen < n) {
        *outlen = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (n)
        memcpy(out, res, n);
    *outlen = n;
    return CKR_OK;
}

static size_t rsa_k(const tcore_op *op)
{
    return (tcrypto_pkey_bits(op->pkey) + 7) / 8;
}

/* ---- digest ------------------------------------------------------------------- */

static CK_RV digest_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                            CK_ULONG *outlen)
{
    bool go;
    size_t n = tcrypto_md_size(op->def->md);
    CK_RV rv = out_check(out, outlen, n, &go);
    if (rv != CKR_OK || !go)
        return rv;
    rv = tcore_rv_from_crypto(tcrypto_digest_oneshot(op->def->md, in, inlen, out, &n));
    if (rv == CKR_OK)
        *outlen = n;
    return rv;
}

/* ---- sign / verify --------------------------------------------------------------- */

static size_t sig_size(const tcore_op *op)
{
    if (family_is_mac(op->def->fam))
        return op->mac_len;
    return tcrypto_sig_size(op->pkey, &op->sp);
}

/* The input length rules of the raw (single-part, no hashing) mechanisms. */
static CK_RV sig_input_check(const tcore_op *op, size_t inlen)
{
    switch (op->def->fam) {
    case MF_RSA_PKCS:
        if (op->def->md == TCRYPTO_MD_NONE && inlen > rsa_k(op) - 11)
            return CKR_DATA_LEN_RANGE;
        return CKR_OK;
    case MF_RSA_X509:
        return inlen > rsa_k(op) ? CKR_DATA_LEN_RANGE : CKR_OK;
    case MF_RSA_PSS:
        if (op->def->md == TCRYPTO_MD_NONE && inlen != tcrypto_md_size(op->sp.md))
            return CKR_DATA_LEN_RANGE;
        return CKR_OK;
    case MF_ECDSA:
        if (op->def->md == TCRYPTO_MD_NONE && (inlen < 1 || inlen > TCRYPTO_MAX_MD_SIZE))
            return CKR_DATA_LEN_RANGE;
        return CKR_OK;
    default:
        return CKR_OK;
    }
}

/* Compute the MAC over in (single-part) into out (mac_len bytes). */
static CK_RV mac_compute(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out)
{
    uint8_t full[TCRYPTO_MAX_MD_SIZE];
    size_t n = sizeof(full);
    tcrypto_mac *m = NULL;
    CK_RV rv = new_mac(op, &m);
    if (rv != CKR_OK)
        goto done;
    rv = tcore_rv_from_crypto(tcrypto_mac_update(m, in, inlen));
    if (rv != CKR_OK)
        goto done;
    rv = tcore_rv_from_crypto(tcrypto_mac_final(m, full, &n));
    if (rv != CKR_OK)
        goto done;
    if (n < op->mac_len) {
        rv = CKR_FUNCTION_FAILED;
        goto done;
    }
    memcpy(out, full, op->mac_len);
done:
    tcrypto_mac_free(m);
    tc_wipe(full, sizeof(full));
    return rv;
}

/* What the signature scheme is applied to: the digest for the combined
 * mechanisms (hashed here from `in`), else `in` itself. */
static CK_RV sig_prepare(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *hash,
                         const uint8_t **tbs, size_t *tbslen)
{
    if (op->def->md != TCRYPTO_MD_NONE && !family_is_mac(op->def->fam)) {
        size_t n = TCRYPTO_MAX_MD_SIZE;
        CK_RV rv = tcore_rv_from_crypto(tcrypto_digest_oneshot(op->def->md, in, inlen, hash, &n));
        if (rv != CKR_OK)
            return rv;
        *tbs = hash;
        *tbslen = n;
        return CKR_OK;
    }
    CK_RV rv = sig_input_check(op, inlen);
    if (rv != CKR_OK)
        return rv;
    *tbs = in;
    *tbslen = inlen;
    return CKR_OK;
}

static CK_RV sign_tbs(tcore_op *op, const uint8_t *tbs, size_t tbslen, uint8_t *out,
                      CK_ULONG *outlen)
{
    size_t n = *outlen;
    tcrypto_rc rc = tcrypto_sign(op->pkey, &op->sp, tbs, tbslen, out, &n);
    if (rc == TCRYPTO_ERR_INPUT)
        return op->def->fam == MF_RSA_X509 ? CKR_DATA_INVALID : CKR_DATA_LEN_RANGE;
    if (rc != TCRYPTO_OK)
        return tcore_rv_from_crypto(rc);
    *outlen = n;
    return CKR_OK;
}

static CK_RV sign_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                          CK_ULONG *outlen)
{
    bool go;
    uint8_t hash[TCRYPTO_MAX_MD_SIZE];
    const uint8_t *tbs;
    size_t tbslen;
    size_t need = sig_size(op);
    CK_RV rv = out_check(out, outlen, need, &go);
    if (rv != CKR_OK || !go)
        return rv;
    if (family_is_mac(op->def->fam)) {
        rv = mac_compute(op, in, inlen, out);
        if (rv == CKR_OK)
            *outlen = op->mac_len;
        return rv;
    }
    rv = sig_prepare(op, in, inlen, hash, &tbs, &tbslen);
    if (rv == CKR_OK)
        rv = sign_tbs(op, tbs, tbslen, out, outlen);
    tc_wipe(hash, sizeof(hash));
    return rv;
}

static CK_RV verify_tbs(tcore_op *op, const uint8_t *tbs, size_t tbslen, const uint8_t *sig,
                        size_t siglen)
{
    tcrypto_rc rc = tcrypto_verify(op->pkey, &op->sp, tbs, tbslen, sig, siglen);
    if (rc == TCRYPTO_ERR_VERIFY)
        return CKR_SIGNATURE_INVALID;
    if (rc == TCRYPTO_ERR_INPUT)
        return op->def->fam == MF_RSA_X509 ? CKR_SIGNATURE_INVALID : CKR_DATA_LEN_RANGE;
    return tcore_rv_from_crypto(rc);
}

CK_RV tcore_op_verify(tcore_op *op, const uint8_t *in, size_t inlen, const uint8_t *sig,
                      size_t siglen)
{
    uint8_t hash[TCRYPTO_MAX_MD_SIZE];
    uint8_t mac[TCRYPTO_MAX_MD_SIZE];
    const uint8_t *tbs;
    size_t tbslen;
    CK_RV rv;
    if (op->kind != TCORE_OP_VERIFY)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (op->multipart)
        return CKR_OPERATION_ACTIVE;
    rv = op_live(op);
    if (rv != CKR_OK)
        return rv;
    if (in == NULL && inlen != 0)
        return CKR_ARGUMENTS_BAD;
    if (sig == NULL)
        return CKR_ARGUMENTS_BAD;
    /* A signature of the wrong length is reported as such (§5.13 C_Verify). */
    if (siglen != sig_size(op))
        return CKR_SIGNATURE_LEN_RANGE;
    if (family_is_mac(op->def->fam)) {
        rv = mac_compute(op, in, inlen, mac);
        if (rv == CKR_OK && !tcrypto_memeq(mac, sig, siglen))
            rv = CKR_SIGNATURE_INVALID;
        tc_wipe(mac, sizeof(mac));
        return rv;
    }
    rv = sig_prepare(op, in, inlen, hash, &tbs, &tbslen);
    if (rv == CKR_OK)
        rv = verify_tbs(op, tbs, tbslen, sig, siglen);
    return rv;
}

/* ---- encrypt / decrypt --------------------------------------------------------------- */

static bool enc(const tcore_op *op)
{
    return op->kind == TCORE_OP_ENCRYPT;
}

static CK_RV len_err(const tcore_op *op)
{
    return enc(op) ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
}

static tcrypto_cipher_mode cipher_mode(const tcore_mech_def *d)
{
    static const tcrypto_cipher_mode modes[3][3] = {
        [TCORE_BLK_AES] = {TCRYPTO_AES_ECB, TCRYPTO_AES_CBC, TCRYPTO_AES_CBC_PAD},
        [TCORE_BLK_DES3] = {TCRYPTO_DES3_ECB, TCRYPTO_DES3_CBC, TCRYPTO_DES3_CBC_PAD},
        [TCORE_BLK_DES] = {TCRYPTO_DES_ECB, TCRYPTO_DES_CBC, TCRYPTO_DES_CBC_PAD},
    };
    switch (d->fam) {
    case MF_ECB: return modes[d->blk][0];
    case MF_CBC: return modes[d->blk][1];
    case MF_CBC_PAD: return modes[d->blk][2];
    default: return TCRYPTO_AES_CTR;
    }
}

static CK_RV new_cipher(tcore_op *op, tcrypto_cipher **c)
{
    bool ecb = op->def->fam == MF_ECB;
    return tcore_rv_from_crypto(tcrypto_cipher_new(cipher_mode(op->def), enc(op), op->key,
                                                   op->keylen, ecb ? NULL : op->iv,
                                                   ecb ? 0 : tcore_mech_block(op->def), c));
}

/* CTR: refuse input that would make the counter wrap (Current Mechanisms
 * §2.12.5: the counter block must not repeat). */
static CK_RV ctr_consume(tcore_op *op, size_t inlen)
{
    if (op->ctr_unbounded)
        return CKR_OK;
    unsigned __int128 total = op->ctr_used + inlen;
    unsigned __int128 blocks = (total + 15) / 16;
    if (blocks > op->ctr_left)
        return len_err(op);
    op->ctr_used = total;
    return CKR_OK;
}

/* Block-cipher modes, single part, fresh context. */
static CK_RV cipher_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                            CK_ULONG *outlen)
{
    tcore_mech_family f = op->def->fam;
    size_t bl = tcore_mech_block(op->def);
    size_t need;
    scratch tmp = {NULL, 0, false};
    tcrypto_cipher *c = NULL;
    bool go;
    CK_RV rv;

    if ((f == MF_ECB || f == MF_CBC) && inlen % bl != 0)
        return len_err(op);
    if (f == MF_CBC_PAD && !enc(op) && (inlen == 0 || inlen % bl != 0))
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    if (f == MF_AES_CTR && !op->ctr_unbounded && (((unsigned __int128)inlen + 15) / 16) > op->ctr_left)
        return len_err(op);
    need = (f == MF_CBC_PAD && enc(op)) ? (inlen / bl + 1) * bl : inlen;
    CK_ULONG cap = *outlen;
    rv = out_check(out, outlen, need, &go);
    if (rv != CKR_OK || !go) {
        /* CBC_PAD decryption: `need` is an upper bound; a smaller buffer may
         * still hold the plaintext, so decrypt to find out. */
        if (!(rv == CKR_BUFFER_TOO_SMALL && f == MF_CBC_PAD && !enc(op)))
            return rv;
    }
    uint8_t *dst = out;
    /* CBC_PAD decryption goes through a temporary so that nothing reaches
     * the caller's buffer when the padding turns out wrong. */
    if (rv == CKR_BUFFER_TOO_SMALL || (f == MF_CBC_PAD && !enc(op))) {
        if (!scratch_alloc(&tmp, need + bl)) {
            rv = CKR_HOST_MEMORY;
            goto done;
        }
        dst = tmp.p;
    }
    rv = new_cipher(op, &c);
    if (rv != CKR_OK)
        goto done;
    size_t dcap = tmp.p != NULL ? tmp.n : cap;
    size_t n1 = dcap, n2 = 0;
    tcrypto_rc rc = tcrypto_cipher_update(c, in, inlen, dst, &n1);
    if (rc == TCRYPTO_OK) {
        n2 = dcap - n1;
        rc = tcrypto_cipher_final(c, dst + n1, &n2);
    }
    if (rc == TCRYPTO_ERR_DECRYPT) {
        rv = CKR_ENCRYPTED_DATA_INVALID;
        goto done;
    }
    if (rc == TCRYPTO_ERR_INPUT) {
        rv = len_err(op);
        goto done;
    }
    rv = tcore_rv_from_crypto(rc);
    if (rv != CKR_OK)
        goto done;
    if (tmp.p != NULL) {
        *outlen = cap;
        rv = out_copy(out, outlen, tmp.p, n1 + n2);
    } else {
        *outlen = n1 + n2;
    }
done:
    tcrypto_cipher_free(c);
    scratch_free(&tmp);
    return rv;
}

/* The keyed GCM context, taken from the key's pool or made on first use: a
 * length query costs nothing, and the next operation under the same key
 * skips the context set-up and key schedule. The operation owns it alone
 * (it belongs to one session, which one thread uses at a time, p11.h) and
 * gives it back when it ends. */
static CK_RV gcm_ctx(tcore_op *op)
{
    if (op->gcm != NULL)
        return CKR_OK;
    op->gcm = tcore_secret_gcm_take(op->sec);
    if (op->gcm != NULL)
        return CKR_OK;
    return tcore_rv_from_crypto(tcrypto_gcm_new(op->key, op->keylen, &op->gcm));
}

static CK_RV gcm_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                         CK_ULONG *outlen)
{
    bool go;
    size_t tl = op->gcm_taglen;
    CK_RV rv;
    if (enc(op)) {
        rv = out_check(out, outlen, inlen + tl, &go);
        if (rv != CKR_OK || !go)
            return rv;
        rv = gcm_ctx(op);
        if (rv != CKR_OK)
            return rv;
        rv = tcore_rv_from_crypto(tcrypto_gcm_seal(op->gcm, op->gcm_iv, op->gcm_ivlen,
                                                   op->gcm_aad, op->gcm_aadlen, in, inlen, out,
                                                   out + inlen, tl));
        if (rv == CKR_OK)
            *outlen = inlen + tl;
        return rv;
    }
    if (inlen < tl)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    rv = out_check(out, outlen, inlen - tl, &go);
    if (rv != CKR_OK || !go)
        return rv;
    /* The tag is checked before any plaintext is released (tcrypto writes
     * nothing on a bad tag). */
    rv = gcm_ctx(op);
    if (rv != CKR_OK)
        return rv;
    rv = tcore_rv_from_crypto(tcrypto_gcm_open(op->gcm, op->gcm_iv, op->gcm_ivlen, op->gcm_aad,
                                               op->gcm_aadlen, in, inlen - tl, in + inlen - tl,
                                               tl, out));
    if (rv == CKR_OK)
        *outlen = inlen - tl;
    return rv;
}

static CK_RV kw_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                        CK_ULONG *outlen)
{
    bool pad = op->def->fam == MF_AES_KWP;
    bool go;
    CK_RV rv;
    if (enc(op)) {
        /* RFC 3394 §2: at least two 64-bit blocks; RFC 5649: 1 byte or more. */
        if (pad ? (inlen < 1 || inlen > 0xffffffffu) : (inlen < 16 || inlen % 8 != 0))
            return CKR_DATA_LEN_RANGE;
        size_t need = pad ? ((inlen + 7) / 8) * 8 + 8 : inlen + 8;
        rv = out_check(out, outlen, need, &go);
        if (rv != CKR_OK || !go)
            return rv;
        size_t n = *outlen;
        rv = tcore_rv_from_crypto(tcrypto_aes_wrap(pad, op->key, op->keylen, in, inlen, out, &n));
        if (rv == CKR_OK)
            *outlen = n;
        return rv;
    }
    if (inlen < (pad ? 16u : 24u) || inlen % 8 != 0)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    size_t need = inlen - 8;
    CK_ULONG cap = *outlen;
    rv = out_check(out, outlen, need, &go);
    if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
        return rv;
    if (rv == CKR_OK && !go)
        return rv;
    /* The exact plaintext length of KWP is known only after unwrapping. */
    scratch tmp;
    if (!scratch_alloc(&tmp, need))
        return CKR_HOST_MEMORY;
    size_t n = need;
    tcrypto_rc rc = tcrypto_aes_unwrap(pad, op->key, op->keylen, in, inlen, tmp.p, &n);
    if (rc == TCRYPTO_ERR_DECRYPT || rc == TCRYPTO_ERR_INPUT)
        rv = CKR_ENCRYPTED_DATA_INVALID;
    else
        rv = tcore_rv_from_crypto(rc);
    if (rv == CKR_OK) {
        *outlen = cap;
        rv = out_copy(out, outlen, tmp.p, n);
    }
    scratch_free(&tmp);
    return rv;
}

static CK_RV rsa_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                         CK_ULONG *outlen)
{
    size_t k = rsa_k(op);
    bool go;
    CK_RV rv;
    if (enc(op)) {
        size_t max = k;
        if (op->ep.pad == TCRYPTO_RSA_PAD_PKCS1)
            max = k - 11;
        else if (op->ep.pad == TCRYPTO_RSA_PAD_OAEP)
            max = k >= 2 * tcrypto_md_size(op->ep.md) + 2 ? k - 2 * tcrypto_md_size(op->ep.md) - 2 : 0;
        if (inlen > max)
            return CKR_DATA_LEN_RANGE;
        rv = out_check(out, outlen, k, &go);
        if (rv != CKR_OK || !go)
            return rv;
        size_t n = *outlen;
        tcrypto_rc rc = tcrypto_rsa_encrypt(op->pkey, &op->ep, in, inlen, out, &n);
        if (rc == TCRYPTO_ERR_INPUT)
            return CKR_DATA_INVALID;
        rv = tcore_rv_from_crypto(rc);
        if (rv == CKR_OK)
            *outlen = n;
        return rv;
    }
    if (inlen != k)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    CK_ULONG cap = *outlen;
    rv = out_check(out, outlen, k, &go);
    if (rv == CKR_OK && !go)
        return rv;
    if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
        return rv;
    scratch tmp;
    if (!scratch_alloc(&tmp, k))
        return CKR_HOST_MEMORY;
    size_t n = k;
    tcrypto_rc rc = tcrypto_rsa_decrypt(op->pkey, &op->ep, in, inlen, tmp.p, &n);
    if (rc == TCRYPTO_ERR_INPUT || rc == TCRYPTO_ERR_DECRYPT)
        rv = CKR_ENCRYPTED_DATA_INVALID;
    else
        rv = tcore_rv_from_crypto(rc);
    if (rv == CKR_OK) {
        *outlen = cap;
        rv = out_copy(out, outlen, tmp.p, n);
    }
    scratch_free(&tmp);
    return rv;
}

static CK_RV crypt_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                           CK_ULONG *outlen)
{
    switch (op->def->fam) {
    case MF_AES_GCM: return gcm_oneshot(op, in, inlen, out, outlen);
    case MF_AES_KW:
    case MF_AES_KWP: return kw_oneshot(op, in, inlen, out, outlen);
    case MF_RSA_PKCS:
    case MF_RSA_OAEP:
    case MF_RSA_X509: return rsa_oneshot(op, in, inlen, out, outlen);
    default: return cipher_oneshot(op, in, inlen, out, outlen);
    }
}

/* ---- the public data functions ------------------------------------------------------ */

CK_RV tcore_op_oneshot(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                       CK_ULONG *outlen)
{
    if (outlen == NULL || (in == NULL && inlen != 0))
        return CKR_ARGUMENTS_BAD;
    if (op->multipart)
        return CKR_OPERATION_ACTIVE;
    CK_RV rv = op_live(op);
    if (rv != CKR_OK)
        return rv;
    switch (op->kind) {
    case TCORE_OP_DIGEST: return digest_oneshot(op, in, inlen, out, outlen);
    case TCORE_OP_SIGN: return sign_oneshot(op, in, inlen, out, outlen);
    case TCORE_OP_ENCRYPT:
    case TCORE_OP_DECRYPT: return crypt_oneshot(op, in, inlen, out, outlen);
    default: return CKR_OPERATION_NOT_INITIALIZED;
    }
}

static bool streams(const tcore_op *op)
{
    tcore_mech_family f = op->def->fam;
    if (op->kind == TCORE_OP_DIGEST)
        return true;
    if (op->kind == TCORE_OP_SIGN || op->kind == TCORE_OP_VERIFY)
        return family_is_mac(f) || (op->def->md != TCRYPTO_MD_NONE);
    return f == MF_ECB || f == MF_CBC || f == MF_CBC_PAD || f == MF_AES_CTR;
}

/* The accumulated input; never NULL, so the crypto layer sees a valid
 * pointer for an empty message. */
static const uint8_t *acc_data(const tcore_op *op)
{
    static const uint8_t empty[1];
    return op->acc.p != NULL ? op->acc.p : empty;
}

static CK_RV acc_add(tcore_op *op, const uint8_t *in, size_t inlen)
{
    if (inlen > OP_MAX_ACC || op->acc.len > OP_MAX_ACC - inlen)
        return op->kind == TCORE_OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
    tc_buf_put(&op->acc, in, inlen);
    return op->acc.failed ? CKR_HOST_MEMORY : CKR_OK;
}

/* Output of a streaming cipher update, computed from the block bookkeeping
 * (OpenSSL holds back the last full block when it removes padding). */
static size_t cipher_update_len(const tcore_op *op, size_t inlen, size_t *new_pending)
{
    if (op->def->fam == MF_AES_CTR) {
        *new_pending = 0;
        return inlen;
    }
    size_t bl = tcore_mech_block(op->def);
    size_t total = op->pending + inlen;
    size_t outn = total / bl * bl;
    if (op->def->fam == MF_CBC_PAD && !enc(op) && total % bl == 0 && outn > 0)
        outn -= bl;
    *new_pending = total - outn;
    return outn;
}

CK_RV tcore_op_update(tcore_op *op, const uint8_t *in, size_t inlen, uint8_t *out,
                      CK_ULONG *outlen)
{
    CK_RV rv;
    if (in == NULL && inlen != 0)
        return CKR_ARGUMENTS_BAD;
    rv = op_live(op);
    if (rv != CKR_OK)
        return rv;
    if (op->kind == TCORE_OP_ENCRYPT || op->kind == TCORE_OP_DECRYPT) {
        if (outlen == NULL)
            return CKR_ARGUMENTS_BAD;
        if (!streams(op)) {
            bool go;
            rv = out_check(out, outlen, 0, &go);
            if (rv != CKR_OK || !go)
                return rv;
            rv = acc_add(op, in, inlen);
            if (rv == CKR_OK) {
                op->multipart = true;
                *outlen = 0;
            }
            return rv;
        }
        size_t newp, need = cipher_update_len(op, inlen, &newp);
        bool go;
        rv = out_check(out, outlen, need, &go);
        if (rv != CKR_OK || !go)
            return rv;
        if (op->def->fam == MF_AES_CTR) {
            rv = ctr_consume(op, inlen);
            if (rv != CKR_OK)
                return rv;
        }
        if (op->cipher == NULL) {
            rv = new_cipher(op, &op->cipher);
            if (rv != CKR_OK)
                return rv;
        }
        op->multipart = true;
        /* The crypto layer computes the same exact length, so the caller's
         * buffer (at least `need`) is passed as it is. */
        size_t n = *outlen;
        tcrypto_rc rc = tcrypto_cipher_update(op->cipher, in, inlen, out, &n);
        rv = tcore_rv_from_crypto(rc);
        if (rv == CKR_OK && n != need)
            rv = CKR_FUNCTION_FAILED;
        if (rv == CKR_OK) {
            *outlen = n;
            op->pending = newp;
        }
        return rv;
    }
    if (op->kind == TCORE_OP_DIGEST) {
        op->multipart = true;
        return tcore_rv_from_crypto(tcrypto_digest_update(op->dg, in, inlen));
    }
    /* sign / verify */
    op->multipart = true;
    if (family_is_mac(op->def->fam)) {
        if (op->mac == NULL) {
            rv = new_mac(op, &op->mac);
            if (rv != CKR_OK)
                return rv;
        }
        return tcore_rv_from_crypto(tcrypto_mac_update(op->mac, in, inlen));
    }
    if (op->def->md != TCRYPTO_MD_NONE) {
        if (op->dg == NULL) {
            rv = tcore_rv_from_crypto(tcrypto_digest_new(op->def->md, &op->dg));
            if (rv != CKR_OK)
                return rv;
        }
        return tcore_rv_from_crypto(tcrypto_digest_update(op->dg, in, inlen));
    }
    return acc_add(op, in, inlen);
}

CK_RV tcore_op_digest_key(tcore_op *op, tcore_obj *key)
{
    uint8_t *v = NULL;
    size_t n = 0;
    if (op->kind != TCORE_OP_DIGEST)
        return CKR_OPERATION_NOT_INITIALIZED;
    /* §5.11 C_DigestKey: only secret keys; a key that may never leave the
     * module (CKA_EXTRACTABLE false) is not digested either, since a digest
     * of a low-entropy value is as good as the value. */
    if (tcore_obj_class(key) != CKO_SECRET_KEY || !tcore_obj_bool(key, CKA_EXTRACTABLE, true))
        return CKR_KEY_INDIGESTIBLE;
    CK_RV rv = tcore_obj_secret(key, &v, &n);
    if (rv != CKR_OK)
        return rv;
    op->multipart = true;
    rv = tcore_rv_from_crypto(tcrypto_digest_update(op->dg, v, n));
    tcrypto_secure_free(v, n);
    return rv;
}

/* The finished digest of a hash-then-sign operation, from the stream or
 * (no Update made) the empty message. */
static CK_RV stream_hash(tcore_op *op, uint8_t *hash, size_t *n)
{
    *n = TCRYPTO_MAX_MD_SIZE;
    if (op->dg == NULL)
        return tcore_rv_from_crypto(tcrypto_digest_oneshot(op->def->md, NULL, 0, hash, n));
    CK_RV rv = tcore_rv_from_crypto(tcrypto_digest_final(op->dg, hash, n));
    tcrypto_digest_free(op->dg);
    op->dg = NULL;
    return rv;
}

static CK_RV stream_mac(tcore_op *op, uint8_t *mac)
{
    uint8_t full[TCRYPTO_MAX_MD_SIZE];
    size_t n = sizeof(full);
    CK_RV rv;
    if (op->mac == NULL)
        return mac_compute(op, NULL, 0, mac);
    rv = tcore_rv_from_crypto(tcrypto_mac_final(op->mac, full, &n));
    if (rv == CKR_OK && n < op->mac_len)
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        memcpy(mac, full, op->mac_len);
    tc_wipe(full, sizeof(full));
    return rv;
}

CK_RV tcore_op_final(tcore_op *op, uint8_t *out, CK_ULONG *outlen)
{
    bool go;
    CK_RV rv;
    if (outlen == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = op_live(op);
    if (rv != CKR_OK)
        return rv;
    switch (op->kind) {
    case TCORE_OP_DIGEST: {
        size_t n = tcrypto_md_size(op->def->md);
        rv = out_check(out, outlen, n, &go);
        if (rv != CKR_OK || !go)
            return rv;
        rv = tcore_rv_from_crypto(tcrypto_digest_final(op->dg, out, &n));
        if (rv == CKR_OK)
            *outlen = n;
        return rv;
    }
    case TCORE_OP_SIGN: {
        if (!streams(op))
            return sign_oneshot(op, acc_data(op), op->acc.len, out, outlen);
        rv = out_check(out, outlen, sig_size(op), &go);
        if (rv != CKR_OK || !go)
            return rv;
        if (family_is_mac(op->def->fam)) {
            rv = stream_mac(op, out);
            if (rv == CKR_OK)
                *outlen = op->mac_len;
            return rv;
        }
        uint8_t hash[TCRYPTO_MAX_MD_SIZE];
        size_t hn;
        rv = stream_hash(op, hash, &hn);
        if (rv == CKR_OK)
            rv = sign_tbs(op, hash, hn, out, outlen);
        return rv;
    }
    case TCORE_OP_ENCRYPT:
    case TCORE_OP_DECRYPT:
        break;
    default:
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    if (!streams(op))
        return crypt_oneshot(op, acc_data(op), op->acc.len, out, outlen);
    tcore_mech_family f = op->def->fam;
    if (f == MF_ECB || f == MF_CBC || f == MF_AES_CTR) {
        if (op->pending != 0)
            return len_err(op);
        rv = out_check(out, outlen, 0, &go);
        if (rv == CKR_OK)
            *outlen = 0;
        return rv;
    }
    /* CBC_PAD */
    size_t bl = tcore_mech_block(op->def);
    if (enc(op)) {
        rv = out_check(out, outlen, bl, &go);
        if (rv != CKR_OK || !go)
            return rv;
        if (op->cipher == NULL && (rv = new_cipher(op, &op->cipher)) != CKR_OK)
            return rv;
        size_t n = *outlen;
        rv = tcore_rv_from_crypto(tcrypto_cipher_final(op->cipher, out, &n));
        if (rv == CKR_OK)
            *outlen = n;
        return rv;
    }
    if (!op->final_done) {
        if (op->pending != bl)
            return CKR_ENCRYPTED_DATA_LEN_RANGE;
        if (out == NULL) {
            *outlen = bl;
            return CKR_OK;
        }
        size_t n = sizeof(op->tail);
        tcrypto_rc rc = tcrypto_cipher_final(op->cipher, op->tail, &n);
        if (rc == TCRYPTO_ERR_DECRYPT || rc == TCRYPTO_ERR_INPUT)
            return CKR_ENCRYPTED_DATA_INVALID;
        if (rc != TCRYPTO_OK)
            return tcore_rv_from_crypto(rc);
        op->tail_len = n;
        op->final_done = true;
    }
    if (out == NULL) {
        *outlen = op->tail_len;
        return CKR_OK;
    }
    return out_copy(out, outlen, op->tail, op->tail_len);
}

CK_RV tcore_op_verify_final(tcore_op *op, const uint8_t *sig, size_t siglen)
{
    uint8_t buf[TCRYPTO_MAX_MD_SIZE];
    CK_RV rv;
    if (op->kind != TCORE_OP_VERIFY)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (sig == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = op_live(op);
    if (rv != CKR_OK)
        return rv;
    if (!streams(op)) {
        op->multipart = false;
        return tcore_op_verify(op, acc_data(op), op->acc.len, sig, siglen);
    }
    if (siglen != sig_size(op))
        return CKR_SIGNATURE_LEN_RANGE;
    if (family_is_mac(op->def->fam)) {
        rv = stream_mac(op, buf);
        if (rv == CKR_OK && !tcrypto_memeq(buf, sig, siglen))
            rv = CKR_SIGNATURE_INVALID;
        tc_wipe(buf, sizeof(buf));
        return rv;
    }
    size_t hn;
    rv = stream_hash(op, buf, &hn);
    if (rv == CKR_OK)
        rv = verify_tbs(op, buf, hn, sig, siglen);
    return rv;
}
