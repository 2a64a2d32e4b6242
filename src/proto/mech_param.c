/*
 * Mechanism parameters on the wire. A parameter that is a C struct with a
 * layout below travels field by field; the server rebuilds the struct in its
 * arena, with pointers into the request body, so no pointer ever comes from
 * the wire. Any other parameter (an IV, nothing, a struct of a size no
 * layout has) travels as raw bytes; raw bytes whose (mechanism, length)
 * match a layout that holds pointers are refused.
 *
 * Wire form of a TPROTO_MECH argument:
 *   u8 present
 *   u64 mechanism
 *   u8 form: 0 no parameter pointer (then u64 ulParameterLen)
 *            1 raw (u64 length, the bytes)
 *            2 struct (u8 layout id, then each field in order)
 */
#include <stddef.h>
#include <string.h>

#include "proto/proto_int.h"

enum { FORM_NONE = 0, FORM_RAW = 1, FORM_STRUCT = 2 };


#define F_UL(T, f) {TPROTO_F_ULONG, offsetof(T, f), 0, 0}
#define F_BY(T, f) {TPROTO_F_BYTE, offsetof(T, f), 0, 0}
#define F_AR(T, f) {TPROTO_F_ARRAY, offsetof(T, f), 0, sizeof(((T *)0)->f)}
#define F_PL(T, p, l) {TPROTO_F_PTR_LEN, offsetof(T, p), offsetof(T, l), 0}

enum {
    L_GCM = 1,
    L_GCM240,
    L_OAEP,
    L_PSS,
    L_EDDSA,
    L_ECDH1,
    L_HKDF,
    L_CTR,
    L_MAC_GENERAL,
};

static const tproto_mech_layout layouts[] = {
    {L_GCM, "CK_GCM_PARAMS", sizeof(CK_GCM_PARAMS), true, 4,
     {F_PL(CK_GCM_PARAMS, pIv, ulIvLen), F_UL(CK_GCM_PARAMS, ulIvBits),
      F_PL(CK_GCM_PARAMS, pAAD, ulAADLen), F_UL(CK_GCM_PARAMS, ulTagBits)}},
    {L_GCM240, "CK_GCM_PARAMS (2.40)", sizeof(TESSERA_GCM_PARAMS_240), true, 3,
     {F_PL(TESSERA_GCM_PARAMS_240, pIv, ulIvLen), F_PL(TESSERA_GCM_PARAMS_240, pAAD, ulAADLen),
      F_UL(TESSERA_GCM_PARAMS_240, ulTagBits)}},
    {L_OAEP, "CK_RSA_PKCS_OAEP_PARAMS", sizeof(CK_RSA_PKCS_OAEP_PARAMS), true, 4,
     {F_UL(CK_RSA_PKCS_OAEP_PARAMS, hashAlg), F_UL(CK_RSA_PKCS_OAEP_PARAMS, mgf),
      F_UL(CK_RSA_PKCS_OAEP_PARAMS, source),
      F_PL(CK_RSA_PKCS_OAEP_PARAMS, pSourceData, ulSourceDataLen)}},
    {L_PSS, "CK_RSA_PKCS_PSS_PARAMS", sizeof(CK_RSA_PKCS_PSS_PARAMS), false, 3,
     {F_UL(CK_RSA_PKCS_PSS_PARAMS, hashAlg), F_UL(CK_RSA_PKCS_PSS_PARAMS, mgf),
      F_UL(CK_RSA_PKCS_PSS_PARAMS, sLen)}},
    {L_EDDSA, "CK_EDDSA_PARAMS", sizeof(CK_EDDSA_PARAMS), true, 2,
     {F_BY(CK_EDDSA_PARAMS, phFlag),
      F_PL(CK_EDDSA_PARAMS, pContextData, ulContextDataLen)}},
    {L_ECDH1, "CK_ECDH1_DERIVE_PARAMS", sizeof(CK_ECDH1_DERIVE_PARAMS), true, 3,
     {F_UL(CK_ECDH1_DERIVE_PARAMS, kdf),
      F_PL(CK_ECDH1_DERIVE_PARAMS, pSharedData, ulSharedDataLen),
      F_PL(CK_ECDH1_DERIVE_PARAMS, pPublicData, ulPublicDataLen)}},
    {L_HKDF, "CK_HKDF_PARAMS", sizeof(CK_HKDF_PARAMS), true, 7,
     {F_BY(CK_HKDF_PARAMS, bExtract), F_BY(CK_HKDF_PARAMS, bExpand),
      F_UL(CK_HKDF_PARAMS, prfHashMechanism), F_UL(CK_HKDF_PARAMS, ulSaltType),
      F_PL(CK_HKDF_PARAMS, pSalt, ulSaltLen), F_UL(CK_HKDF_PARAMS, hSaltKey),
      F_PL(CK_HKDF_PARAMS, pInfo, ulInfoLen)}},
    {L_CTR, "CK_AES_CTR_PARAMS", sizeof(CK_AES_CTR_PARAMS), false, 2,
     {F_UL(CK_AES_CTR_PARAMS, ulCounterBits), F_AR(CK_AES_CTR_PARAMS, cb)}},
    /* CK_MAC_GENERAL_PARAMS is a CK_ULONG: the output length. */
    {L_MAC_GENERAL, "CK_MAC_GENERAL_PARAMS", sizeof(CK_ULONG), false, 1,
     {{TPROTO_F_ULONG, 0, 0, 0}}},
};

/* Which mechanisms take which layouts: every mechanism of the core's table
 * (core/mech.c) whose parameter is a struct. */
static const struct {
    CK_MECHANISM_TYPE mech;
    uint8_t layout;
} mech_layouts[] = {
    {CKM_AES_GCM, L_GCM},
    {CKM_AES_GCM, L_GCM240},
    {CKM_RSA_PKCS_OAEP, L_OAEP},
    {CKM_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA1_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA224_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA256_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA384_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA512_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA3_224_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA3_256_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA3_384_RSA_PKCS_PSS, L_PSS},
    {CKM_SHA3_512_RSA_PKCS_PSS, L_PSS},
    {CKM_EDDSA, L_EDDSA},
    {CKM_ECDH1_DERIVE, L_ECDH1},
    {CKM_HKDF_DERIVE, L_HKDF},
    {CKM_AES_CTR, L_CTR},
    {CKM_AES_CMAC_GENERAL, L_MAC_GENERAL},
    {CKM_DES3_CMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA_1_HMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA224_HMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA256_HMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA384_HMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA512_HMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA3_224_HMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA3_256_HMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA3_384_HMAC_GENERAL, L_MAC_GENERAL},
    {CKM_SHA3_512_HMAC_GENERAL, L_MAC_GENERAL},
};

static const tproto_mech_layout *layout_of(uint8_t id)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(layouts); i++)
        if (layouts[i].id == id)
            return &layouts[i];
    return NULL;
}

const tproto_mech_layout *tproto_mech_layout_by_id(CK_MECHANISM_TYPE mech, uint8_t id)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(mech_layouts); i++)
        if (mech_layouts[i].mech == mech && mech_layouts[i].layout == id)
            return layout_of(id);
    return NULL;
}

const tproto_mech_layout *tproto_mech_layout_find(CK_MECHANISM_TYPE mech, size_t size)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(mech_layouts); i++) {
        if (mech_layouts[i].mech != mech)
            continue;
        const tproto_mech_layout *l = layout_of(mech_layouts[i].layout);
        if (l != NULL && l->size == size)
            return l;
    }
    return NULL;
}

/* ---- client: encode ---------------------------------------------------------------- */

static CK_ULONG load_ulong(const uint8_t *s, size_t off)
{
    CK_ULONG v;
    memcpy(&v, s + off, sizeof(v));
    return v;
}

static const void *load_ptr(const uint8_t *s, size_t off)
{
    const void *p;
    memcpy(&p, s + off, sizeof(p));
    return p;
}

static bool encode_struct(tc_buf *b, const tproto_mech_layout *l, const uint8_t *s)
{
    tc_buf_put_u8(b, l->id);
    for (size_t i = 0; i < l->nfields; i++) {
        const tproto_field *f = &l->fields[i];
        switch (f->kind) {
        case TPROTO_F_ULONG:
            tc_buf_put_u64(b, load_ulong(s, f->off));
            break;
        case TPROTO_F_BYTE:
            tc_buf_put_u8(b, s[f->off]);
            break;
        case TPROTO_F_ARRAY:
            tc_buf_put(b, s + f->off, f->n);
            break;
        case TPROTO_F_PTR_LEN: {
            const void *p = load_ptr(s, f->off);
            CK_ULONG n = load_ulong(s, f->len_off);
            tc_buf_put_u8(b, p != NULL);
            tc_buf_put_u64(b, n);
            if (p != NULL) {
                /* A length that cannot fit a frame is not read at all: the
                 * caller's memory is never walked past what a frame holds. */
                if (n > TPROTO_MAX_FRAME)
                    return false;
                tc_buf_put(b, p, n);
            }
            break;
        }
        default:
            return false;
        }
    }
    return true;
}

bool tproto_mech_encode(tc_buf *b, const CK_MECHANISM *m)
{
    tc_buf_put_u8(b, m != NULL);
    if (m == NULL)
        return !b->failed;
    tc_buf_put_u64(b, m->mechanism);
    if (m->pParameter == NULL) {
        tc_buf_put_u8(b, FORM_NONE);
        tc_buf_put_u64(b, m->ulParameterLen);
        return !b->failed;
    }
    const tproto_mech_layout *l = tproto_mech_layout_find(m->mechanism, m->ulParameterLen);
    if (l != NULL) {
        tc_buf_put_u8(b, FORM_STRUCT);
        return encode_struct(b, l, m->pParameter) && !b->failed;
    }
    /* No layout for this size: the caller's own bytes, ulParameterLen of
     * them, as the core would read them in process; it checks the size of
     * every struct parameter before reading it, so a wrong size answers
     * CKR_MECHANISM_PARAM_INVALID there as here. */
    if (m->ulParameterLen > TPROTO_MAX_FRAME)
        return false;
    tc_buf_put_u8(b, FORM_RAW);
    tc_buf_put_u64(b, m->ulParameterLen);
    tc_buf_put(b, m->pParameter, m->ulParameterLen);
    return !b->failed;
}

/* ---- server: decode ---------------------------------------------------------------- */

static void store_ulong(uint8_t *s, size_t off, CK_ULONG v)
{
    memcpy(s + off, &v, sizeof(v));
}

static void store_ptr(uint8_t *s, size_t off, const void *p)
{
    memcpy(s + off, &p, sizeof(p));
}

static tproto_status decode_struct(tc_reader *r, const tproto_mech_layout *l, uint8_t *s)
{
    for (size_t i = 0; i < l->nfields; i++) {
        const tproto_field *f = &l->fields[i];
        switch (f->kind) {
        case TPROTO_F_ULONG: {
            CK_ULONG v;
            if (!tproto_read_ulong(r, &v))
                return TPROTO_EMALFORMED;
            store_ulong(s, f->off, v);
            break;
        }
        case TPROTO_F_BYTE:
            if (!tc_read_u8(r, &s[f->off]))
                return TPROTO_EMALFORMED;
            break;
        case TPROTO_F_ARRAY:
            if (!tc_read_copy(r, s + f->off, f->n))
                return TPROTO_EMALFORMED;
            break;
        case TPROTO_F_PTR_LEN: {
            bool present;
            CK_ULONG n;
            const uint8_t *p = NULL;
            if (!tproto_read_flag(r, &present) || !tproto_read_ulong(r, &n))
                return TPROTO_EMALFORMED;
            if (present && !tc_read_ref(r, n, &p))
                return TPROTO_EMALFORMED;
            store_ptr(s, f->off, p);
            store_ulong(s, f->len_off, n);
            break;
        }
        default:
            return TPROTO_EMALFORMED;
        }
    }
    return TPROTO_OK;
}

tproto_status tproto_mech_decode(tc_reader *r, tproto_arena *ar, const CK_MECHANISM **out)
{
    bool present;
    CK_ULONG type, len;
    uint8_t form;
    *out = NULL;
    if (!tproto_read_flag(r, &present))
        return TPROTO_EMALFORMED;
    if (!present)
        return TPROTO_OK;
    if (!tproto_read_ulong(r, &type) || !tc_read_u8(r, &form))
        return TPROTO_EMALFORMED;
    CK_MECHANISM *m = tproto_arena_alloc(ar, sizeof(*m));
    if (m == NULL)
        return TPROTO_ENOMEM;
    m->mechanism = type;
    switch (form) {
    case FORM_NONE:
        if (!tproto_read_ulong(r, &len))
            return TPROTO_EMALFORMED;
        m->pParameter = NULL;
        m->ulParameterLen = len;
        break;
    case FORM_RAW: {
        const uint8_t *p;
        if (!tproto_read_ulong(r, &len) || !tc_read_ref(r, len, &p))
            return TPROTO_EMALFORMED;
        /* Never let raw bytes become a struct the core would read pointers
         * from. */
        const tproto_mech_layout *l = tproto_mech_layout_find(type, len);
        if (l != NULL && l->has_ptr)
            return TPROTO_EMALFORMED;
        m->pParameter = (void *)p;
        m->ulParameterLen = len;
        break;
    }
    case FORM_STRUCT: {
        uint8_t id;
        if (!tc_read_u8(r, &id))
            return TPROTO_EMALFORMED;
        const tproto_mech_layout *l = tproto_mech_layout_by_id(type, id);
        if (l == NULL)
            return TPROTO_EMALFORMED;
        uint8_t *s = tproto_arena_alloc(ar, l->size);
        if (s == NULL)
            return TPROTO_ENOMEM;
        tproto_status st = decode_struct(r, l, s);
        if (st != TPROTO_OK)
            return st;
        m->pParameter = s;
        m->ulParameterLen = l->size;
        break;
    }
    default:
        return TPROTO_EMALFORMED;
    }
    *out = m;
    return TPROTO_OK;
}
