/*
 * Elliptic-curve arithmetic for the TPM (tcrypto_tpm_ecc.h): the point and
 * scalar operations that EC_Ephemeral, ZGen_2Phase, Commit and ECDAA signing
 * need and that no EVP operation offers. OpenSSL's EC_POINT / BIGNUM
 * arithmetic in the layer's private library context does the work; scalars
 * live in secure-heap BIGNUMs and are cleared when freed.
 */
#include <stdbool.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>

#include "crypto/crypto_int.h"
#include "crypto/tcrypto_tpm.h"
#include "crypto/tcrypto_tpm_ecc.h"

/* The group of a TPM curve with a BN_CTX, and the field size. */
typedef struct {
    EC_GROUP *g;
    BN_CTX *bn;
    size_t fs;
} ecc_ctx;

static tcrypto_rc ecc_open(uint16_t curve, ecc_ctx *e)
{
    memset(e, 0, sizeof(*e));
    tcrypto_rc rc = tcx_ready();
    if (rc != TCRYPTO_OK)
        return rc;
    tcrypto_curve c = tcx_tpm_curve(curve);
    if (c == TCRYPTO_CURVE_NONE)
        return TCRYPTO_ERR_UNSUPPORTED;
    e->fs = tcx_curve_bytes(c);
    e->g = tcx_curve_ec_group(c);
    e->bn = BN_CTX_secure_new_ex(tcx_libctx());
    if (e->g == NULL || e->bn == NULL) {
        EC_GROUP_free(e->g);
        BN_CTX_free(e->bn);
        return TCRYPTO_ERR_NOMEM;
    }
    return TCRYPTO_OK;
}

static void ecc_close(ecc_ctx *e)
{
    EC_GROUP_free(e->g);
    BN_CTX_free(e->bn);
}

/* A point from its coordinates, on the curve; NULL otherwise. */
static EC_POINT *point_of(ecc_ctx *e, const uint8_t *x, size_t xlen, const uint8_t *y,
                          size_t ylen, tcrypto_rc *rc)
{
    *rc = TCRYPTO_ERR_KEY;
    if (xlen > e->fs || ylen > e->fs)
        return NULL;
    EC_POINT *p = EC_POINT_new(e->g);
    BIGNUM *bx = BN_bin2bn(x, (int)xlen, NULL), *by = BN_bin2bn(y, (int)ylen, NULL);
    if (p == NULL || bx == NULL || by == NULL) {
        *rc = TCRYPTO_ERR_NOMEM;
    } else if (EC_POINT_set_affine_coordinates(e->g, p, bx, by, e->bn) == 1 &&
               EC_POINT_is_on_curve(e->g, p, e->bn) == 1) {
        *rc = TCRYPTO_OK;
    }
    BN_free(bx);
    BN_free(by);
    if (*rc != TCRYPTO_OK) {
        EC_POINT_free(p);
        return NULL;
    }
    return p;
}

/* The affine coordinates of p, e->fs bytes each, into ox and oy; nothing is
 * written on failure. TCRYPTO_ERR_INPUT: p is the point at infinity. The
 * point may be a shared secret (ZGen_2Phase), so the copies are wiped. */
static tcrypto_rc point_out(ecc_ctx *e, const EC_POINT *p, uint8_t *ox, uint8_t *oy)
{
    if (EC_POINT_is_at_infinity(e->g, p))
        return TCRYPTO_ERR_INPUT;
    tcrypto_rc rc = TCRYPTO_ERR_INTERNAL;
    BIGNUM *x = BN_new(), *y = BN_new();
    uint8_t tx[66], ty[66];
    if (x == NULL || y == NULL || EC_POINT_get_affine_coordinates(e->g, p, x, y, e->bn) != 1 ||
        BN_bn2binpad(x, tx, (int)e->fs) < 0 || BN_bn2binpad(y, ty, (int)e->fs) < 0)
        goto out;
    memcpy(ox, tx, e->fs);
    memcpy(oy, ty, e->fs);
    rc = TCRYPTO_OK;
out:
    OPENSSL_cleanse(tx, sizeof(tx));
    OPENSSL_cleanse(ty, sizeof(ty));
    BN_clear_free(x);
    BN_clear_free(y);
    return rc;
}

/* in mod (n - 1) + 1 for a scalar, in mod p otherwise, as e.fs bytes. The
 * value may be a private scalar: it stays on the secure heap. */
static tcrypto_rc ecc_reduce(uint16_t curve, bool scalar, const uint8_t *in, size_t inlen,
                             uint8_t *out)
{
    ecc_ctx e;
    tcrypto_rc rc = ecc_open(curve, &e);
    if (rc != TCRYPTO_OK)
        return rc;
    rc = TCRYPTO_ERR_INTERNAL;
    BIGNUM *v = BN_secure_new(), *m = BN_new();
    if (v == NULL || m == NULL || inlen > 1024 || BN_bin2bn(in, (int)inlen, v) == NULL)
        goto out;
    if (scalar ? (BN_copy(m, EC_GROUP_get0_order(e.g)) == NULL || BN_sub_word(m, 1) != 1)
               : EC_GROUP_get_curve(e.g, m, NULL, NULL, e.bn) != 1)
        goto out;
    if (BN_nnmod(v, v, m, e.bn) != 1 || (scalar && BN_add_word(v, 1) != 1) ||
        BN_bn2binpad(v, out, (int)e.fs) < 0)
        goto out;
    rc = TCRYPTO_OK;
out:
    BN_clear_free(v);
    BN_free(m);
    ecc_close(&e);
    return rc;
}

tcrypto_rc tcrypto_tpm_ecc_scalar(uint16_t curve, const uint8_t *in, size_t inlen, uint8_t *out)
{
    return ecc_reduce(curve, true, in, inlen, out);
}

tcrypto_rc tcrypto_tpm_ecc_mod_p(uint16_t curve, const uint8_t *in, size_t inlen, uint8_t *out)
{
    return ecc_reduce(curve, false, in, inlen, out);
}

tcrypto_rc tcrypto_tpm_ecc_on_curve(uint16_t curve, const uint8_t *x, size_t xlen,
                                    const uint8_t *y, size_t ylen)
{
    ecc_ctx e;
    tcrypto_rc rc = ecc_open(curve, &e);
    if (rc != TCRYPTO_OK)
        return rc;
    EC_POINT *p = point_of(&e, x, xlen, y, ylen, &rc);
    EC_POINT_free(p);
    ecc_close(&e);
    return rc;
}

tcrypto_rc tcrypto_tpm_ecc_mul(uint16_t curve, const uint8_t *k, size_t klen, const uint8_t *px,
                               size_t pxlen, const uint8_t *py, size_t pylen, uint8_t *ox,
                               uint8_t *oy)
{
    ecc_ctx e;
    tcrypto_rc rc = ecc_open(curve, &e);
    if (rc != TCRYPTO_OK)
        return rc;
    EC_POINT *p = NULL, *r = EC_POINT_new(e.g);
    BIGNUM *bk = BN_secure_new();
    if (px != NULL && (p = point_of(&e, px, pxlen, py, pylen, &rc)) == NULL)
        goto out;
    rc = TCRYPTO_ERR_INTERNAL;
    if (r == NULL || bk == NULL)
        goto out;
    rc = TCRYPTO_ERR_INPUT;
    if (klen > e.fs || BN_bin2bn(k, (int)klen, bk) == NULL || BN_is_zero(bk) ||
        BN_cmp(bk, EC_GROUP_get0_order(e.g)) >= 0)
        goto out;
    rc = TCRYPTO_ERR_INTERNAL;
    if ((p ? EC_POINT_mul(e.g, r, NULL, p, bk, e.bn) : EC_POINT_mul(e.g, r, bk, NULL, NULL, e.bn)) != 1)
        goto out;
    rc = point_out(&e, r, ox, oy);
out:
    /* r = [k]P is a shared secret for ZGen_2Phase */
    EC_POINT_free(p);
    EC_POINT_clear_free(r);
    BN_clear_free(bk);
    ecc_close(&e);
    return rc;
}

tcrypto_rc tcrypto_tpm_ecc_daa_s(uint16_t curve, const uint8_t *r, size_t rlen, const uint8_t *c,
                                 size_t clen, const uint8_t *d, size_t dlen, uint8_t *out)
{
    ecc_ctx e;
    tcrypto_rc rc = ecc_open(curve, &e);
    if (rc != TCRYPTO_OK)
        return rc;
    rc = TCRYPTO_ERR_INTERNAL;
    const BIGNUM *n = EC_GROUP_get0_order(e.g);
    BIGNUM *br = BN_secure_new(), *bc = BN_new(), *bd = BN_secure_new(), *s = BN_secure_new();
    if (br == NULL || bc == NULL || bd == NULL || s == NULL)
        goto out;
    rc = TCRYPTO_ERR_INPUT;
    if (rlen > e.fs || dlen > e.fs || clen > 1024 || BN_bin2bn(r, (int)rlen, br) == NULL ||
        BN_bin2bn(c, (int)clen, bc) == NULL || BN_bin2bn(d, (int)dlen, bd) == NULL)
        goto out;
    rc = TCRYPTO_ERR_INTERNAL;
    if (BN_nnmod(bc, bc, n, e.bn) != 1 || BN_mod_mul(s, bc, bd, n, e.bn) != 1 ||
        BN_mod_add(s, s, br, n, e.bn) != 1 || BN_bn2binpad(s, out, (int)e.fs) < 0)
        goto out;
    rc = TCRYPTO_OK;
out:
    BN_clear_free(br);
    BN_free(bc);
    BN_clear_free(bd);
    BN_clear_free(s);
    ecc_close(&e);
    return rc;
}

/* avf(Q) = (x mod 2^t) + 2^t with t = ceil(f/2), f the bit length of n */
static int avf(const BIGNUM *x, const BIGNUM *n, BIGNUM *out)
{
    int t = (BN_num_bits(n) + 1) / 2;
    return BN_copy(out, x) != NULL && BN_mask_bits(out, t) == 1 && BN_set_bit(out, t) == 1;
}

tcrypto_rc tcrypto_tpm_ecc_mqv(uint16_t curve, const uint8_t *ds, size_t dslen, const uint8_t *de,
                               size_t delen, const uint8_t *qsx, size_t qsxlen, const uint8_t *qsy,
                               size_t qsylen, const uint8_t *qex, size_t qexlen, const uint8_t *qey,
                               size_t qeylen, uint8_t *ox, uint8_t *oy)
{
    ecc_ctx e;
    tcrypto_rc rc = ecc_open(curve, &e);
    if (rc != TCRYPTO_OK)
        return rc;
    const BIGNUM *n = EC_GROUP_get0_order(e.g);
    EC_POINT *qs = NULL, *qe = NULL, *qea = EC_POINT_new(e.g), *p = EC_POINT_new(e.g);
    BIGNUM *bds = BN_secure_new(), *bde = BN_secure_new(), *sig = BN_secure_new();
    BIGNUM *x = BN_new(), *y = BN_new(), *a = BN_new();
    if ((qs = point_of(&e, qsx, qsxlen, qsy, qsylen, &rc)) == NULL ||
        (qe = point_of(&e, qex, qexlen, qey, qeylen, &rc)) == NULL)
        goto out;
    rc = TCRYPTO_ERR_INTERNAL;
    if (qea == NULL || p == NULL || bds == NULL || bde == NULL || sig == NULL || x == NULL ||
        y == NULL || a == NULL)
        goto out;
    rc = TCRYPTO_ERR_INPUT;
    if (dslen > e.fs || delen > e.fs || BN_bin2bn(ds, (int)dslen, bds) == NULL ||
        BN_bin2bn(de, (int)delen, bde) == NULL || BN_is_zero(bds) || BN_is_zero(bde) ||
        BN_cmp(bds, n) >= 0 || BN_cmp(bde, n) >= 0)
        goto out;
    rc = TCRYPTO_ERR_INTERNAL;
    /* implicitSig = (deA + avf(QeA) * dsA) mod n */
    if (EC_POINT_mul(e.g, qea, bde, NULL, NULL, e.bn) != 1 ||
        EC_POINT_get_affine_coordinates(e.g, qea, x, y, e.bn) != 1 || !avf(x, n, a) ||
        BN_mod_mul(sig, a, bds, n, e.bn) != 1 || BN_mod_add(sig, sig, bde, n, e.bn) != 1)
        goto out;
    /* P = implicitSig * (QeB + avf(QeB) * QsB) */
    if (EC_POINT_get_affine_coordinates(e.g, qe, x, y, e.bn) != 1 || !avf(x, n, a) ||
        EC_POINT_mul(e.g, p, NULL, qs, a, e.bn) != 1 || EC_POINT_add(e.g, p, p, qe, e.bn) != 1 ||
        EC_POINT_mul(e.g, p, NULL, p, sig, e.bn) != 1)
        goto out;
    rc = point_out(&e, p, ox, oy);
out:
    EC_POINT_free(qs);
    EC_POINT_free(qe);
    EC_POINT_clear_free(qea);
    EC_POINT_clear_free(p);
    BN_clear_free(bds);
    BN_clear_free(bde);
    BN_clear_free(sig);
    BN_clear_free(x);
    BN_clear_free(y);
    BN_clear_free(a);
    ecc_close(&e);
    return rc;
}
