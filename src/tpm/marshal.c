/*
 * Bounded codec for TPM 2.0 structures (Part 2). Every read checks the
 * remaining length first (tc_reader); a truncated structure is
 * TPM_RC_INSUFFICIENT, an oversized TPM2B TPM_RC_SIZE, a bad selector
 * TPM_RC_TYPE/HASH/SCHEME/SYMMETRIC/VALUE as Part 2 names them. Decoded
 * structures are written to the caller's struct; on failure its content is
 * unspecified but nothing beyond it is touched.
 */
#include <string.h>

#include "tpm/ttpm.h"

ttpm_rc ttpm_get_u8(tc_reader *r, uint8_t *v)
{
    return tc_read_u8(r, v) ? TPM_RC_SUCCESS : TPM_RC_INSUFFICIENT;
}

ttpm_rc ttpm_get_u16(tc_reader *r, uint16_t *v)
{
    return tc_read_u16(r, v) ? TPM_RC_SUCCESS : TPM_RC_INSUFFICIENT;
}

ttpm_rc ttpm_get_u32(tc_reader *r, uint32_t *v)
{
    return tc_read_u32(r, v) ? TPM_RC_SUCCESS : TPM_RC_INSUFFICIENT;
}

ttpm_rc ttpm_get_u64(tc_reader *r, uint64_t *v)
{
    return tc_read_u64(r, v) ? TPM_RC_SUCCESS : TPM_RC_INSUFFICIENT;
}

ttpm_rc ttpm_get_2b(tc_reader *r, uint16_t max, ttpm_ref *out)
{
    uint16_t n;
    const uint8_t *p;
    size_t save = r->off;
    if (!tc_read_u16(r, &n))
        return TPM_RC_INSUFFICIENT;
    if (n > max) {
        r->off = save;
        return TPM_RC_SIZE;
    }
    if (!tc_read_ref(r, n, &p)) {
        r->off = save;
        return TPM_RC_INSUFFICIENT;
    }
    out->b = p;
    out->size = n;
    return TPM_RC_SUCCESS;
}

ttpm_rc ttpm_get_2b_copy(tc_reader *r, uint8_t *buf, uint16_t max, uint16_t *len)
{
    ttpm_ref ref;
    ttpm_rc rc = ttpm_get_2b(r, max, &ref);
    if (rc != TPM_RC_SUCCESS)
        return rc;
    if (ref.size)
        memcpy(buf, ref.b, ref.size);
    *len = ref.size;
    return TPM_RC_SUCCESS;
}

void ttpm_put_2b(tc_buf *b, const void *p, uint16_t n)
{
    tc_buf_put_u16(b, n);
    if (n)
        tc_buf_put(b, p, n);
}

ttpm_rc ttpm_check_hash(uint16_t alg, bool null_ok)
{
    if (alg == TPM_ALG_NULL)
        return null_ok ? TPM_RC_SUCCESS : TPM_RC_HASH;
    return tcrypto_tpm_hash_size(alg) ? TPM_RC_SUCCESS : TPM_RC_HASH;
}

int ttpm_bank_index(uint16_t alg)
{
    switch (alg) {
    case TPM_ALG_SHA1: return 0;
    case TPM_ALG_SHA256: return 1;
    case TPM_ALG_SHA384: return 2;
    default: return -1;
    }
}

uint16_t ttpm_bank_alg(int i)
{
    static const uint16_t algs[TTPM_NUM_BANKS] = { TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384 };
    return i >= 0 && i < TTPM_NUM_BANKS ? algs[i] : TPM_ALG_NULL;
}

ttpm_rc ttpm_get_pcr_sel(tc_reader *r, ttpm_pcr_sel *out)
{
    uint32_t count;
    ttpm_rc rc = ttpm_get_u32(r, &count);
    if (rc)
        return rc;
    /* Part 2 §10.9.7: count > HASH_COUNT is TPM_RC_SIZE. */
    if (count > 8)
        return TPM_RC_SIZE;
    out->count = (uint16_t)count;
    for (uint32_t i = 0; i < count; i++) {
        if ((rc = ttpm_get_u16(r, &out->sel[i].hash)) != 0)
            return rc;
        if ((rc = ttpm_check_hash(out->sel[i].hash, false)) != 0)
            return rc;
        if ((rc = ttpm_get_u8(r, &out->sel[i].size)) != 0)
            return rc;
        /* sizeofSelect above PCR_SELECT_MAX is TPM_RC_VALUE (Part 2 §10.6.2). */
        if (out->sel[i].size > 4)
            return TPM_RC_VALUE;
        memset(out->sel[i].bits, 0, sizeof(out->sel[i].bits));
        if (!tc_read_copy(r, out->sel[i].bits, out->sel[i].size))
            return TPM_RC_INSUFFICIENT;
    }
    return TPM_RC_SUCCESS;
}

void ttpm_put_pcr_sel(tc_buf *b, const ttpm_pcr_sel *s)
{
    tc_buf_put_u32(b, s->count);
    for (unsigned i = 0; i < s->count; i++) {
        tc_buf_put_u16(b, s->sel[i].hash);
        tc_buf_put_u8(b, s->sel[i].size);
        tc_buf_put(b, s->sel[i].bits, s->sel[i].size);
    }
}

ttpm_rc ttpm_get_sym_def(tc_reader *r, bool object, uint16_t *alg, uint16_t *bits, uint16_t *mode)
{
    ttpm_rc rc;
    if ((rc = ttpm_get_u16(r, alg)) != 0)
        return rc;
    *bits = 0;
    *mode = TPM_ALG_NULL;
    switch (*alg) {
    case TPM_ALG_NULL:
        return TPM_RC_SUCCESS;
    case TPM_ALG_XOR:
        /* keyBits is a hash algorithm and there is no mode (Part 2 §11.1.3);
         * XOR is not allowed in TPMT_SYM_DEF_OBJECT. */
        if (object)
            return TPM_RC_SYMMETRIC;
        if ((rc = ttpm_get_u16(r, bits)) != 0)
            return rc;
        return ttpm_check_hash(*bits, false);
    case TPM_ALG_AES:
        if ((rc = ttpm_get_u16(r, bits)) != 0)
            return rc;
        if (*bits != 128 && *bits != 192 && *bits != 256)
            return TPM_RC_KEY_SIZE;
        if ((rc = ttpm_get_u16(r, mode)) != 0)
            return rc;
        switch (*mode) {
        case TPM_ALG_CFB: case TPM_ALG_CBC: case TPM_ALG_CTR: case TPM_ALG_OFB:
        case TPM_ALG_ECB: case TPM_ALG_NULL:
            return TPM_RC_SUCCESS;
        default:
            return TPM_RC_MODE;
        }
    default:
        return TPM_RC_SYMMETRIC;
    }
}

static void put_sym_def(tc_buf *b, uint16_t alg, uint16_t bits, uint16_t mode)
{
    tc_buf_put_u16(b, alg);
    if (alg == TPM_ALG_NULL)
        return;
    tc_buf_put_u16(b, bits);
    if (alg != TPM_ALG_XOR)
        tc_buf_put_u16(b, mode);
}

/* scheme + hash for the schemes that carry one */
static ttpm_rc get_scheme(tc_reader *r, uint16_t type, uint16_t *scheme, uint16_t *hash,
                          uint16_t *kdf)
{
    ttpm_rc rc;
    if ((rc = ttpm_get_u16(r, scheme)) != 0)
        return rc;
    *hash = TPM_ALG_NULL;
    *kdf = TPM_ALG_NULL;
    bool ok;
    switch (type) {
    case TPM_ALG_RSA:
        ok = *scheme == TPM_ALG_NULL || *scheme == TPM_ALG_RSASSA || *scheme == TPM_ALG_RSAPSS ||
             *scheme == TPM_ALG_OAEP || *scheme == TPM_ALG_RSAES;
        break;
    case TPM_ALG_ECC:
        ok = *scheme == TPM_ALG_NULL || *scheme == TPM_ALG_ECDSA || *scheme == TPM_ALG_ECDH ||
             *scheme == TPM_ALG_ECDAA || *scheme == TPM_ALG_ECMQV;
        break;
    case TPM_ALG_KEYEDHASH:
        ok = *scheme == TPM_ALG_NULL || *scheme == TPM_ALG_HMAC || *scheme == TPM_ALG_XOR;
        break;
    default:
        ok = false;
    }
    if (!ok)
        return TPM_RC_SCHEME;
    if (*scheme == TPM_ALG_NULL || *scheme == TPM_ALG_RSAES)
        return TPM_RC_SUCCESS;
    if ((rc = ttpm_get_u16(r, hash)) != 0)
        return rc;
    if ((rc = ttpm_check_hash(*hash, false)) != 0)
        return rc;
    if (*scheme == TPM_ALG_ECDAA) {
        /* TPMS_SCHEME_ECDAA's count belongs to a Commit, not to a key: a
         * template carries 0 (kept as such, so it is not stored) */
        uint16_t count;
        if ((rc = ttpm_get_u16(r, &count)) != 0)
            return rc;
        if (count != 0)
            return TPM_RC_VALUE;
    }
    if (*scheme == TPM_ALG_XOR) {
        if ((rc = ttpm_get_u16(r, kdf)) != 0)
            return rc;
        if (*kdf != TPM_ALG_KDF1_SP800_108 && *kdf != TPM_ALG_NULL)
            return TPM_RC_KDF;
    }
    return TPM_RC_SUCCESS;
}

/* TPMT_PUBLIC up to its unique field. */
static ttpm_rc get_public_head(tc_reader *r, ttpm_public *p)
{
    ttpm_rc rc;
    memset(p, 0, sizeof(*p));
    if ((rc = ttpm_get_u16(r, &p->type)) != 0)
        return rc;
    if (p->type != TPM_ALG_RSA && p->type != TPM_ALG_ECC && p->type != TPM_ALG_KEYEDHASH &&
        p->type != TPM_ALG_SYMCIPHER)
        return TPM_RC_TYPE;
    if ((rc = ttpm_get_u16(r, &p->name_alg)) != 0)
        return rc;
    if ((rc = ttpm_check_hash(p->name_alg, true)) != 0)
        return rc;
    if ((rc = ttpm_get_u32(r, &p->attrs)) != 0)
        return rc;
    if ((rc = ttpm_get_2b_copy(r, p->policy, TTPM_MAX_DIGEST, &p->policy_len)) != 0)
        return rc;
    return ttpm_get_public_parms(r, p);
}

/* The largest first field of a type's unique: RSA n, ECC x, or a digest. */
static uint16_t unique_max(uint16_t type)
{
    switch (type) {
    case TPM_ALG_RSA: return TTPM_MAX_RSA_BYTES;
    case TPM_ALG_ECC: return TTPM_MAX_ECC_BYTES;
    default: return TTPM_MAX_DIGEST;
    }
}

ttpm_rc ttpm_get_public(tc_reader *r, ttpm_public *p)
{
    ttpm_rc rc;
    if ((rc = get_public_head(r, p)) != 0)
        return rc;
    if ((rc = ttpm_get_2b_copy(r, p->x, unique_max(p->type), &p->x_len)) != 0)
        return rc;
    if (p->type == TPM_ALG_ECC)
        return ttpm_get_2b_copy(r, p->y, TTPM_MAX_ECC_BYTES, &p->y_len);
    return TPM_RC_SUCCESS;
}

ttpm_rc ttpm_get_public_parms(tc_reader *r, ttpm_public *p)
{
    ttpm_rc rc;
    uint16_t dummy;
    switch (p->type) {
    case TPM_ALG_KEYEDHASH:
        return get_scheme(r, p->type, &p->scheme, &p->scheme_hash, &p->kdf_hash);
    case TPM_ALG_SYMCIPHER:
        if ((rc = ttpm_get_sym_def(r, true, &p->sym_alg, &p->sym_bits, &p->sym_mode)) != 0)
            return rc;
        return p->sym_alg == TPM_ALG_NULL ? TPM_RC_SYMMETRIC : TPM_RC_SUCCESS;
    case TPM_ALG_RSA:
        if ((rc = ttpm_get_sym_def(r, true, &p->sym_alg, &p->sym_bits, &p->sym_mode)) != 0)
            return rc;
        if ((rc = get_scheme(r, p->type, &p->scheme, &p->scheme_hash, &dummy)) != 0)
            return rc;
        if ((rc = ttpm_get_u16(r, &p->key_bits)) != 0)
            return rc;
        return ttpm_get_u32(r, &p->exponent);
    case TPM_ALG_ECC:
        if ((rc = ttpm_get_sym_def(r, true, &p->sym_alg, &p->sym_bits, &p->sym_mode)) != 0)
            return rc;
        if ((rc = get_scheme(r, p->type, &p->scheme, &p->scheme_hash, &dummy)) != 0)
            return rc;
        if ((rc = ttpm_get_u16(r, &p->curve)) != 0)
            return rc;
        if (tcrypto_tpm_ecc_size(p->curve) == 0)
            return TPM_RC_CURVE;
        if ((rc = ttpm_get_u16(r, &p->kdf)) != 0)
            return rc;
        if (p->kdf != TPM_ALG_NULL) {
            if (p->kdf != TPM_ALG_KDF1_SP800_56A && p->kdf != TPM_ALG_KDF2 &&
                p->kdf != TPM_ALG_KDF1_SP800_108)
                return TPM_RC_KDF;
            if ((rc = ttpm_get_u16(r, &p->kdf_hash)) != 0)
                return rc;
            if ((rc = ttpm_check_hash(p->kdf_hash, false)) != 0)
                return rc;
        }
        return TPM_RC_SUCCESS;
    default:
        return TPM_RC_TYPE;
    }
}

/* A TPM2B that holds a structure: a reader over its bytes, which may not
 * be empty. */
static ttpm_rc get_2b_struct(tc_reader *r, tc_reader *sub)
{
    ttpm_ref ref;
    ttpm_rc rc = ttpm_get_2b(r, 0xFFFF, &ref);
    if (rc)
        return rc;
    if (ref.size == 0)
        return TPM_RC_SIZE;
    tc_reader_init(sub, ref.b, ref.size);
    return TPM_RC_SUCCESS;
}

ttpm_rc ttpm_get_public_2b(tc_reader *r, ttpm_public *p)
{
    tc_reader sub;
    ttpm_rc rc;
    if ((rc = get_2b_struct(r, &sub)) != 0 || (rc = ttpm_get_public(&sub, p)) != 0)
        return rc;
    /* The size must cover the structure exactly (Part 2 §12.2.5). */
    return tc_reader_left(&sub) == 0 ? TPM_RC_SUCCESS : TPM_RC_SIZE;
}

ttpm_rc ttpm_get_derive_template(tc_reader *r, ttpm_public *p, ttpm_ref *label,
                                 ttpm_ref *context)
{
    tc_reader sub;
    ttpm_rc rc;
    if ((rc = get_2b_struct(r, &sub)) != 0 || (rc = get_public_head(&sub, p)) != 0)
        return rc;
    /* the label stands where the type's unique starts (for ECC, x and y
     * are label and context) */
    if ((rc = ttpm_get_2b(&sub, unique_max(p->type), label)) != 0)
        return rc;
    *context = (ttpm_ref){ NULL, 0 };
    if (p->type == TPM_ALG_ECC)
        rc = ttpm_get_2b(&sub, TTPM_MAX_ECC_BYTES, context);
    else if (tc_reader_left(&sub) != 0)
        /* tpm2-tools marshals an RSA, keyed-hash or symmetric template
         * with its own one-field unique; a template that ends after the
         * label is taken as having an empty context */
        rc = ttpm_get_2b(&sub, TTPM_LABEL_MAX, context);
    if (rc)
        return rc;
    if (tc_reader_left(&sub) != 0)
        return TPM_RC_SIZE;
    if (label->size > TTPM_LABEL_MAX || context->size > TTPM_LABEL_MAX)
        return TPM_RC_SIZE;
    return TPM_RC_SUCCESS;
}

static void put_scheme(tc_buf *b, uint16_t scheme, uint16_t hash, uint16_t kdf)
{
    tc_buf_put_u16(b, scheme);
    if (scheme == TPM_ALG_NULL || scheme == TPM_ALG_RSAES)
        return;
    tc_buf_put_u16(b, hash);
    if (scheme == TPM_ALG_XOR)
        tc_buf_put_u16(b, kdf);
    if (scheme == TPM_ALG_ECDAA)
        tc_buf_put_u16(b, 0); /* count */
}

void ttpm_put_public(tc_buf *b, const ttpm_public *p)
{
    tc_buf_put_u16(b, p->type);
    tc_buf_put_u16(b, p->name_alg);
    tc_buf_put_u32(b, p->attrs);
    ttpm_put_2b(b, p->policy, p->policy_len);
    switch (p->type) {
    case TPM_ALG_KEYEDHASH:
        put_scheme(b, p->scheme, p->scheme_hash, p->kdf_hash);
        ttpm_put_2b(b, p->x, p->x_len);
        break;
    case TPM_ALG_SYMCIPHER:
        put_sym_def(b, p->sym_alg, p->sym_bits, p->sym_mode);
        ttpm_put_2b(b, p->x, p->x_len);
        break;
    case TPM_ALG_RSA:
        put_sym_def(b, p->sym_alg, p->sym_bits, p->sym_mode);
        put_scheme(b, p->scheme, p->scheme_hash, 0);
        tc_buf_put_u16(b, p->key_bits);
        tc_buf_put_u32(b, p->exponent);
        ttpm_put_2b(b, p->x, p->x_len);
        break;
    case TPM_ALG_ECC:
        put_sym_def(b, p->sym_alg, p->sym_bits, p->sym_mode);
        put_scheme(b, p->scheme, p->scheme_hash, 0);
        tc_buf_put_u16(b, p->curve);
        tc_buf_put_u16(b, p->kdf);
        if (p->kdf != TPM_ALG_NULL)
            tc_buf_put_u16(b, p->kdf_hash);
        ttpm_put_2b(b, p->x, p->x_len);
        ttpm_put_2b(b, p->y, p->y_len);
        break;
    }
}

void ttpm_put_public_2b(tc_buf *b, const ttpm_public *p)
{
    size_t at = b->len;
    tc_buf_put_u16(b, 0);
    ttpm_put_public(b, p);
    if (!b->failed)
        tc_store_u16(b->p + at, (uint16_t)(b->len - at - 2));
}

bool ttpm_public_bytes(const ttpm_public *p, uint8_t *buf, size_t cap, size_t *len)
{
    tc_buf b;
    tc_buf_init(&b);
    ttpm_put_public(&b, p);
    bool ok = !b.failed && b.len <= cap;
    if (ok) {
        memcpy(buf, b.p, b.len);
        *len = b.len;
    }
    tc_buf_free(&b);
    return ok;
}

ttpm_rc ttpm_get_sensitive(tc_reader *r, ttpm_sensitive *s)
{
    ttpm_rc rc;
    memset(s, 0, sizeof(*s));
    if ((rc = ttpm_get_u16(r, &s->type)) != 0)
        return rc;
    if ((rc = ttpm_get_2b_copy(r, s->auth, TTPM_MAX_DIGEST, &s->auth_len)) != 0)
        return rc;
    if ((rc = ttpm_get_2b_copy(r, s->seed, TTPM_MAX_DIGEST, &s->seed_len)) != 0)
        return rc;
    uint16_t max;
    switch (s->type) {
    case TPM_ALG_RSA: max = TTPM_MAX_RSA_BYTES / 2; break;
    case TPM_ALG_ECC: max = TTPM_MAX_ECC_BYTES; break;
    case TPM_ALG_KEYEDHASH: max = 128; break;
    case TPM_ALG_SYMCIPHER: max = 32; break;
    default: return TPM_RC_TYPE;
    }
    return ttpm_get_2b_copy(r, s->sens, max, &s->sens_len);
}

void ttpm_put_sensitive(tc_buf *b, const ttpm_sensitive *s)
{
    tc_buf_put_u16(b, s->type);
    ttpm_put_2b(b, s->auth, s->auth_len);
    ttpm_put_2b(b, s->seed, s->seed_len);
    ttpm_put_2b(b, s->sens, s->sens_len);
}

ttpm_rc ttpm_get_signature(tc_reader *r, ttpm_signature *s)
{
    ttpm_rc rc;
    memset(s, 0, sizeof(*s));
    if ((rc = ttpm_get_u16(r, &s->alg)) != 0)
        return rc;
    switch (s->alg) {
    case TPM_ALG_NULL:
        return TPM_RC_SUCCESS;
    case TPM_ALG_RSASSA:
    case TPM_ALG_RSAPSS:
        if ((rc = ttpm_get_u16(r, &s->hash)) != 0 || (rc = ttpm_check_hash(s->hash, false)) != 0)
            return rc;
        return ttpm_get_2b_copy(r, s->a, TTPM_MAX_RSA_BYTES, &s->a_len);
    case TPM_ALG_ECDSA:
    case TPM_ALG_ECDAA:
        if ((rc = ttpm_get_u16(r, &s->hash)) != 0 || (rc = ttpm_check_hash(s->hash, false)) != 0)
            return rc;
        if ((rc = ttpm_get_2b_copy(r, s->a, TTPM_MAX_ECC_BYTES, &s->a_len)) != 0)
            return rc;
        return ttpm_get_2b_copy(r, s->b, TTPM_MAX_ECC_BYTES, &s->b_len);
    case TPM_ALG_HMAC: {
        if ((rc = ttpm_get_u16(r, &s->hash)) != 0 || (rc = ttpm_check_hash(s->hash, false)) != 0)
            return rc;
        size_t n = tcrypto_tpm_hash_size(s->hash);
        if (!tc_read_copy(r, s->a, n))
            return TPM_RC_INSUFFICIENT;
        s->a_len = (uint16_t)n;
        return TPM_RC_SUCCESS;
    }
    default:
        return TPM_RC_SCHEME;
    }
}

void ttpm_put_signature(tc_buf *b, const ttpm_signature *s)
{
    tc_buf_put_u16(b, s->alg);
    switch (s->alg) {
    case TPM_ALG_RSASSA:
    case TPM_ALG_RSAPSS:
        tc_buf_put_u16(b, s->hash);
        ttpm_put_2b(b, s->a, s->a_len);
        break;
    case TPM_ALG_ECDAA:
    case TPM_ALG_ECDSA:
        tc_buf_put_u16(b, s->hash);
        ttpm_put_2b(b, s->a, s->a_len);
        ttpm_put_2b(b, s->b, s->b_len);
        break;
    case TPM_ALG_HMAC:
        tc_buf_put_u16(b, s->hash);
        tc_buf_put(b, s->a, s->a_len);
        break;
    default:
        break;
    }
}
