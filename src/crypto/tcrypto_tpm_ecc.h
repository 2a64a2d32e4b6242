/*
 * Elliptic-curve arithmetic for the TPM's two-phase and anonymous schemes
 * (TPM 2.0 Part 1 §C.4 and Part 3 §14.7, §14.8, §19.2: EC_Ephemeral,
 * ZGen_2Phase, Commit and ECDAA signing). Curves are named by TPM_ECC_CURVE
 * (P256 0x0003, P384 0x0004, P521 0x0005); scalars and coordinates are
 * big-endian and, on output, exactly tcrypto_tpm_ecc_size(curve) bytes.
 * Inputs may be shorter (leading zeros dropped) but never longer.
 *
 * As everywhere in the layer: nothing is written to an output on failure,
 * secrets are wiped on every path, and every function refuses with
 * TCRYPTO_ERR_STATE once the module is in its error state.
 */
#ifndef TESSERA_CRYPTO_TPM_ECC_H
#define TESSERA_CRYPTO_TPM_ECC_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/tcrypto.h"

/* A scalar in [1, n-1] from arbitrary bytes: (in mod (n-1)) + 1. The input
 * should be at least 8 bytes longer than the order to keep the bias small. */
tcrypto_rc tcrypto_tpm_ecc_scalar(uint16_t curve, const uint8_t *in, size_t inlen,
                                  uint8_t *out) TC_MUST_CHECK;

/* in mod p, the curve's prime (an x coordinate from a hash, Part 3 §19.2). */
tcrypto_rc tcrypto_tpm_ecc_mod_p(uint16_t curve, const uint8_t *in, size_t inlen,
                                 uint8_t *out) TC_MUST_CHECK;

/* TCRYPTO_OK when (x, y) is a point of the curve, TCRYPTO_ERR_KEY when not. */
tcrypto_rc tcrypto_tpm_ecc_on_curve(uint16_t curve, const uint8_t *x, size_t xlen,
                                    const uint8_t *y, size_t ylen) TC_MUST_CHECK;

/* [k]P, or [k]G when px is NULL. TCRYPTO_ERR_KEY: P is not on the curve;
 * TCRYPTO_ERR_INPUT: k is zero or not below the order, or the result is the
 * point at infinity. */
tcrypto_rc tcrypto_tpm_ecc_mul(uint16_t curve, const uint8_t *k, size_t klen, const uint8_t *px,
                               size_t pxlen, const uint8_t *py, size_t pylen, uint8_t *ox,
                               uint8_t *oy) TC_MUST_CHECK;

/* s = (r + c * d) mod n, with c (a digest) first reduced mod n: the ECDAA
 * signature value (Part 1 §C.4). */
tcrypto_rc tcrypto_tpm_ecc_daa_s(uint16_t curve, const uint8_t *r, size_t rlen, const uint8_t *c,
                                 size_t clen, const uint8_t *d, size_t dlen,
                                 uint8_t *out) TC_MUST_CHECK;

/* The ECC MQV point (the ECC MQV primitive of SP 800-56A, cofactor 1): P = implicitSig * (QeB + avf(QeB) * QsB) with implicitSig = (deA +
 * avf([deA]G) * dsA) mod n and avf(Q) = (x mod 2^ceil(f/2)) + 2^ceil(f/2),
 * f the bit length of n. TCRYPTO_ERR_KEY: a point not on the curve;
 * TCRYPTO_ERR_INPUT: P is the point at infinity or a scalar is out of range. */
tcrypto_rc tcrypto_tpm_ecc_mqv(uint16_t curve, const uint8_t *ds, size_t dslen, const uint8_t *de,
                               size_t delen, const uint8_t *qsx, size_t qsxlen, const uint8_t *qsy,
                               size_t qsylen, const uint8_t *qex, size_t qexlen, const uint8_t *qey,
                               size_t qeylen, uint8_t *ox, uint8_t *oy) TC_MUST_CHECK;

#endif
