/*
 * A small DER writer (X.690) for what the layer encodes itself: PKCS#8
 * private keys written straight into secure memory (pkey.c) and ECDSA
 * signatures (sign.c).
 */
#include <string.h>

#include <openssl/bn.h>

#include "crypto/crypto_int.h"

void tcx_derw_raw(tcx_derw *w, const void *b, size_t n)
{
    if (w->p != NULL)
        memcpy(w->p + w->len, b, n);
    w->len += n;
}

/* X.690 §8.1.3: definite length, short or long form (contents < 16 MiB). */
void tcx_derw_hdr(tcx_derw *w, uint8_t tag, size_t n)
{
    uint8_t h[5];
    size_t k = 0;
    h[k++] = tag;
    if (n < 0x80) {
        h[k++] = (uint8_t)n;
    } else if (n <= 0xff) {
        h[k++] = 0x81;
        h[k++] = (uint8_t)n;
    } else if (n <= 0xffff) {
        h[k++] = 0x82;
        h[k++] = (uint8_t)(n >> 8);
        h[k++] = (uint8_t)n;
    } else {
        h[k++] = 0x83;
        h[k++] = (uint8_t)(n >> 16);
        h[k++] = (uint8_t)(n >> 8);
        h[k++] = (uint8_t)n;
    }
    tcx_derw_raw(w, h, k);
}

/* Non-negative INTEGER (X.690 §8.3): minimal, a 0x00 in front when the top
 * bit is set. */
void tcx_derw_bn(tcx_derw *w, const BIGNUM *bn)
{
    int nb = BN_num_bytes(bn);
    size_t n = nb == 0 ? 1 : (size_t)nb + (BN_is_bit_set(bn, nb * 8 - 1) ? 1 : 0);
    tcx_derw_hdr(w, 0x02, n);
    if (w->p != NULL)
        BN_bn2binpad(bn, w->p + w->len, (int)n);
    w->len += n;
}

void tcx_derw_uint(tcx_derw *w, const uint8_t *v, size_t len)
{
    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    size_t pad = (v[0] & 0x80) ? 1 : 0;
    static const uint8_t zero = 0;
    tcx_derw_hdr(w, 0x02, len + pad);
    if (pad)
        tcx_derw_raw(w, &zero, 1);
    tcx_derw_raw(w, v, len);
}
