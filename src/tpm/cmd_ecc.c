/*
 * Two-phase key exchange (ECDH, ECMQV) and anonymous signing (Part 3 §14.7
 * ZGen_2Phase, §14.8 EC_Ephemeral, §19.2 Commit; ECDAA signing for
 * TPM2_Sign, Part 1 §C.4). EC_Ephemeral and Commit hand out a one-time random value r under a
 * 16-bit counter; ZGen_2Phase and an ECDAA signature use r once and the
 * counter is spent. r is recomputed from a per-boot key and the full
 * counter, so nothing secret is kept per commit: only a bit per counter in
 * a window of the last 128, like the reference implementation's commit
 * array. A TPM Reset makes every outstanding counter invalid.
 */
#include <string.h>

#include "crypto/tcrypto_tpm_ecc.h"
#include "tpm/ttpm.h"

#define COMMIT_WINDOW 128u

static ttpm_rc commit_init(ttpm *t)
{
    if (t->commit_ready)
        return TPM_RC_SUCCESS;
    if (tcrypto_tpm_random(t->commit_key, sizeof(t->commit_key)) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    t->commit_counter = 0;
    memset(t->commit_bits, 0, sizeof(t->commit_bits));
    t->commit_ready = true;
    return TPM_RC_SUCCESS;
}

/* r for a full counter value, bound to the curve and to the Name of the key
 * it was committed for (empty for EC_Ephemeral). */
static ttpm_rc commit_r(ttpm *t, uint16_t curve, const uint8_t *name, uint16_t nl, uint64_t counter,
                        uint8_t *r)
{
    size_t fs = tcrypto_tpm_ecc_size(curve);
    uint8_t u[2 + 2 + TTPM_MAX_DIGEST], v[8], raw[TTPM_MAX_ECC_BYTES + 8];
    tc_store_u16(u, curve);
    tc_store_u16(u + 2, nl);
    if (nl != 0)
        memcpy(u + 4, name, nl);
    tc_store_u64(v, counter);
    ttpm_rc rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_kdfa(TPM_ALG_SHA256, t->commit_key, sizeof(t->commit_key), "TESSERA COMMIT", u,
                         4u + nl, v, 8, (uint32_t)(fs + 8) * 8, raw) == TCRYPTO_OK &&
        tcrypto_tpm_ecc_scalar(curve, raw, fs + 8, r) == TCRYPTO_OK)
        rc = TPM_RC_SUCCESS;
    tc_wipe(raw, sizeof(raw));
    return rc;
}

/* The full counter of an outstanding 16-bit count, or false. */
static bool commit_find(const ttpm *t, uint16_t count, uint64_t *full)
{
    if (!t->commit_ready || t->commit_counter == 0)
        return false;
    uint64_t c = (t->commit_counter & ~(uint64_t)0xFFFF) | count;
    if (c >= t->commit_counter) {
        if (c < 0x10000)
            return false;
        c -= 0x10000;
    }
    if (t->commit_counter - c > COMMIT_WINDOW)
        return false;
    unsigned bit = (unsigned)(c % COMMIT_WINDOW);
    if (!(t->commit_bits[bit / 8] & (1u << (bit % 8))))
        return false;
    *full = c;
    return true;
}

static void commit_end(ttpm *t, uint64_t full)
{
    unsigned bit = (unsigned)(full % COMMIT_WINDOW);
    t->commit_bits[bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

/* Mark the next counter outstanding and return its 16-bit form. */
static uint16_t commit_take(ttpm *t)
{
    uint64_t c = t->commit_counter++;
    unsigned bit = (unsigned)(c % COMMIT_WINDOW);
    t->commit_bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
    return (uint16_t)c;
}

/* TPM2B_ECC_POINT: the Empty Point (size 0) or x and y, exactly. */
static ttpm_rc get_point(tc_reader *r, ttpm_ref *x, ttpm_ref *y, bool *empty)
{
    ttpm_ref p;
    ttpm_rc rc = ttpm_get_2b(r, 4 + 2 * TTPM_MAX_ECC_BYTES, &p);
    if (rc)
        return rc;
    *empty = p.size == 0;
    *x = *y = (ttpm_ref){ NULL, 0 };
    if (*empty)
        return TPM_RC_SUCCESS;
    tc_reader sub;
    tc_reader_init(&sub, p.b, p.size);
    if ((rc = ttpm_get_2b(&sub, TTPM_MAX_ECC_BYTES, x)) != 0 ||
        (rc = ttpm_get_2b(&sub, TTPM_MAX_ECC_BYTES, y)) != 0)
        return rc;
    if (tc_reader_left(&sub) != 0)
        return TPM_RC_SIZE;
    /* two empty coordinates (what tpm2-tools sends for "no P1") are the
     * Empty Point too */
    *empty = x->size == 0 && y->size == 0;
    return TPM_RC_SUCCESS;
}

/* TPM2B_ECC_POINT from fs-byte coordinates; fs 0: a point with two empty
 * coordinates, as the reference implementation returns an unused K, L or E
 * (the ESAPI does not take a zero-sized point). */
static void put_point(tc_buf *b, const uint8_t *x, const uint8_t *y, size_t fs)
{
    if (fs == 0) {
        tc_buf_put_u16(b, 4);
        tc_buf_put_u32(b, 0);
        return;
    }
    tc_buf_put_u16(b, (uint16_t)(4 + 2 * fs));
    ttpm_put_2b(b, x, (uint16_t)fs);
    ttpm_put_2b(b, y, (uint16_t)fs);
}

static ttpm_rc point_rc(tcrypto_rc cr, unsigned param)
{
    if (cr == TCRYPTO_ERR_KEY)
        return TPM_RC_ECC_POINT | TTPM_RC_P(param);
    if (cr == TCRYPTO_ERR_INPUT)
        return TPM_RC_NO_RESULT;
    return TPM_RC_FAILURE;
}

TTPM_HANDLER(EC_Ephemeral)
{
    ttpm *t = c->t;
    uint16_t curve;
    ttpm_rc rc;
    if ((rc = ttpm_get_u16(&c->in, &curve)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    size_t fs = tcrypto_tpm_ecc_size(curve);
    if (fs == 0)
        return TPM_RC_CURVE | TTPM_RC_P(1);
    if ((rc = commit_init(t)) != 0)
        return rc;
    uint8_t r[TTPM_MAX_ECC_BYTES], qx[TTPM_MAX_ECC_BYTES], qy[TTPM_MAX_ECC_BYTES];
    if ((rc = commit_r(t, curve, NULL, 0, t->commit_counter, r)) == 0 &&
        tcrypto_tpm_ecc_mul(curve, r, fs, NULL, 0, NULL, 0, qx, qy) != TCRYPTO_OK)
        rc = TPM_RC_FAILURE;
    tc_wipe(r, sizeof(r));
    if (rc)
        return rc;
    put_point(c->out, qx, qy, fs);
    tc_buf_put_u16(c->out, commit_take(t));
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(Commit)
{
    ttpm *t = c->t;
    ttpm_ref p1x, p1y, s2, y2;
    bool p1_empty;
    ttpm_rc rc;
    if ((rc = get_point(&c->in, &p1x, &p1y, &p1_empty)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_SENS, &s2)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_ECC_BYTES, &y2)) != 0)
        return ttpm_rc_param(rc, 3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    ttpm_object *o = ttpm_obj_get(t, c->h[0]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY || o->pub.type != TPM_ALG_ECC || !o->has_sens)
        return TPM_RC_KEY | TTPM_RC_H(1);
    if (!(o->pub.attrs & TPMA_OBJECT_SIGN))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    /* r is for an anonymous signature: a key with another scheme has no use for it */
    if (o->pub.scheme != TPM_ALG_NULL && o->pub.scheme != TPM_ALG_ECDAA)
        return TPM_RC_SCHEME | TTPM_RC_H(1);
    /* s2 and y2 come together (B = (H(s2) mod p, y2)) */
    if ((s2.size == 0) != (y2.size == 0))
        return TPM_RC_SIZE | TTPM_RC_P(s2.size == 0 ? 2 : 3);
    uint16_t curve = o->pub.curve;
    size_t fs = tcrypto_tpm_ecc_size(curve);
    if ((rc = commit_init(t)) != 0)
        return rc;
    uint8_t r[TTPM_MAX_ECC_BYTES], x2[TTPM_MAX_ECC_BYTES], hs2[TTPM_MAX_DIGEST];
    uint8_t k[2][TTPM_MAX_ECC_BYTES], l[2][TTPM_MAX_ECC_BYTES], e[2][TTPM_MAX_ECC_BYTES];
    bool have_kl = s2.size != 0, have_e = !p1_empty || !have_kl;
    tcrypto_rc cr;
    if ((rc = commit_r(t, curve, o->name, o->name_len, t->commit_counter, r)) != 0)
        goto out;
    if (have_kl) {
        tcrypto_tpm_iov v = { s2.b, s2.size };
        if (tcrypto_tpm_hash(o->pub.name_alg, &v, 1, hs2) != TCRYPTO_OK ||
            tcrypto_tpm_ecc_mod_p(curve, hs2, tcrypto_tpm_hash_size(o->pub.name_alg), x2) !=
                TCRYPTO_OK) {
            rc = TPM_RC_FAILURE;
            goto out;
        }
        if (tcrypto_tpm_ecc_on_curve(curve, x2, fs, y2.b, y2.size) != TCRYPTO_OK) {
            rc = TPM_RC_ECC_POINT | TTPM_RC_P(2);
            goto out;
        }
        if ((cr = tcrypto_tpm_ecc_mul(curve, o->sens.sens, o->sens.sens_len, x2, fs, y2.b, y2.size,
                                      k[0], k[1])) != TCRYPTO_OK ||
            (cr = tcrypto_tpm_ecc_mul(curve, r, fs, x2, fs, y2.b, y2.size, l[0], l[1])) !=
                TCRYPTO_OK) {
            rc = point_rc(cr, 2);
            goto out;
        }
    }
    if (have_e) {
        /* E = [r]P1, or [r]G when neither P1 nor B is given */
        cr = p1_empty ? tcrypto_tpm_ecc_mul(curve, r, fs, NULL, 0, NULL, 0, e[0], e[1])
                      : tcrypto_tpm_ecc_mul(curve, r, fs, p1x.b, p1x.size, p1y.b, p1y.size, e[0],
                                            e[1]);
        if (cr != TCRYPTO_OK) {
            rc = point_rc(cr, 1);
            goto out;
        }
    }
    put_point(c->out, k[0], k[1], have_kl ? fs : 0);
    put_point(c->out, l[0], l[1], have_kl ? fs : 0);
    put_point(c->out, e[0], e[1], have_e ? fs : 0);
    tc_buf_put_u16(c->out, commit_take(t));
    rc = TPM_RC_SUCCESS;
out:
    tc_wipe(r, sizeof(r));
    return rc;
}

TTPM_HANDLER(ZGen_2Phase)
{
    ttpm *t = c->t;
    ttpm_ref qsx, qsy, qex, qey;
    bool empty_s, empty_e;
    uint16_t scheme, count;
    ttpm_rc rc;
    if ((rc = get_point(&c->in, &qsx, &qsy, &empty_s)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = get_point(&c->in, &qex, &qey, &empty_e)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u16(&c->in, &scheme)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_u16(&c->in, &count)) != 0)
        return ttpm_rc_param(rc, 4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    ttpm_object *o = ttpm_obj_get(t, c->h[0]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY || o->pub.type != TPM_ALG_ECC || !o->has_sens)
        return TPM_RC_KEY | TTPM_RC_H(1);
    if ((o->pub.attrs & TPMA_OBJECT_RESTRICTED) || !(o->pub.attrs & TPMA_OBJECT_DECRYPT))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    /* the key's scheme, or the caller's when the key has none; of the key
     * exchange schemes ECDH (the full unified model: Z1 = [dsA]QsB,
     * Z2 = [deA]QeB) and ECMQV (Z1 = the MQV point, Z2 empty) are offered,
     * not SM2 */
    if (o->pub.scheme != TPM_ALG_NULL && o->pub.scheme != scheme)
        return TPM_RC_SCHEME | TTPM_RC_P(3);
    if (scheme != TPM_ALG_ECDH && scheme != TPM_ALG_ECMQV)
        return TPM_RC_SCHEME | TTPM_RC_P(3);
    uint16_t curve = o->pub.curve;
    size_t fs = tcrypto_tpm_ecc_size(curve);
    if (empty_s || tcrypto_tpm_ecc_on_curve(curve, qsx.b, qsx.size, qsy.b, qsy.size) != TCRYPTO_OK)
        return TPM_RC_ECC_POINT | TTPM_RC_P(1);
    if (empty_e || tcrypto_tpm_ecc_on_curve(curve, qex.b, qex.size, qey.b, qey.size) != TCRYPTO_OK)
        return TPM_RC_ECC_POINT | TTPM_RC_P(2);
    uint64_t full;
    if (!commit_find(t, count, &full))
        return TPM_RC_VALUE | TTPM_RC_P(4);
    uint8_t r[TTPM_MAX_ECC_BYTES], z[4][TTPM_MAX_ECC_BYTES];
    tcrypto_rc cr;
    if ((rc = commit_r(t, curve, NULL, 0, full, r)) != 0)
        goto out;
    if (scheme == TPM_ALG_ECMQV) {
        cr = tcrypto_tpm_ecc_mqv(curve, o->sens.sens, o->sens.sens_len, r, fs, qsx.b, qsx.size,
                                 qsy.b, qsy.size, qex.b, qex.size, qey.b, qey.size, z[0], z[1]);
        if (cr != TCRYPTO_OK) {
            rc = point_rc(cr, 1);
            goto out;
        }
        commit_end(t, full);
        put_point(c->out, z[0], z[1], fs);
        put_point(c->out, NULL, NULL, 0);
        rc = TPM_RC_SUCCESS;
        goto out;
    }
    if ((cr = tcrypto_tpm_ecc_mul(curve, o->sens.sens, o->sens.sens_len, qsx.b, qsx.size, qsy.b,
                                  qsy.size, z[0], z[1])) != TCRYPTO_OK) {
        rc = point_rc(cr, 1);
        goto out;
    }
    if ((cr = tcrypto_tpm_ecc_mul(curve, r, fs, qex.b, qex.size, qey.b, qey.size, z[2], z[3])) !=
        TCRYPTO_OK) {
        rc = point_rc(cr, 2);
        goto out;
    }
    commit_end(t, full);
    put_point(c->out, z[0], z[1], fs);
    put_point(c->out, z[2], z[3], fs);
    rc = TPM_RC_SUCCESS;
out:
    tc_wipe(r, sizeof(r));
    tc_wipe(z, sizeof(z));
    return rc;
}

ttpm_rc ttpm_ecdaa_sign(ttpm *t, ttpm_object *o, uint16_t hash, uint16_t count,
                        const uint8_t *digest, size_t dlen, ttpm_signature *sig)
{
    uint16_t curve = o->pub.curve;
    size_t fs = tcrypto_tpm_ecc_size(curve), hs = tcrypto_tpm_hash_size(hash);
    uint64_t full;
    if (!commit_find(t, count, &full))
        return TPM_RC_VALUE | TTPM_RC_P(2);
    uint8_t r[TTPM_MAX_ECC_BYTES], nonce[TTPM_MAX_DIGEST], cdig[TTPM_MAX_DIGEST];
    ttpm_rc rc = commit_r(t, curve, o->name, o->name_len, full, r);
    if (rc == 0) {
        /* c = H(nonce || digest); S = r + c * d mod n; R carries the nonce */
        tcrypto_tpm_iov v[2] = { { nonce, hs }, { digest, dlen } };
        if (tcrypto_tpm_random(nonce, hs) != TCRYPTO_OK ||
            tcrypto_tpm_hash(hash, v, 2, cdig) != TCRYPTO_OK ||
            tcrypto_tpm_ecc_daa_s(curve, r, fs, cdig, hs, o->sens.sens, o->sens.sens_len, sig->b) !=
                TCRYPTO_OK)
            rc = TPM_RC_FAILURE;
    }
    tc_wipe(r, sizeof(r));
    if (rc)
        return rc;
    commit_end(t, full);
    memcpy(sig->a, nonce, hs);
    sig->a_len = (uint16_t)hs;
    sig->b_len = (uint16_t)fs;
    sig->alg = TPM_ALG_ECDAA;
    sig->hash = hash;
    return TPM_RC_SUCCESS;
}
