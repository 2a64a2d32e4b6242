/*
 * libFuzzer target for the crypto layer's decoders of untrusted encodings:
 * CKA_EC_PARAMS (DER OID or curve-name string), ECDSA DER signatures, PKCS#8
 * private keys (what C_UnwrapKey receives after unwrapping) and
 * SubjectPublicKeyInfo. The first byte picks the decoder.
 */
#include <stddef.h>
#include <stdint.h>

#include "crypto/tcrypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (tcrypto_init() != TCRYPTO_OK)
            return 0;
        ready = 1;
    }
    if (size < 1)
        return 0;
    uint8_t which = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (which % 4) {
    case 0: {
        tcrypto_key_type type;
        tcrypto_curve curve;
        (void)tcrypto_ec_params_parse(p, n, &type, &curve);
        break;
    }
    case 1: {
        uint8_t rs[132];
        size_t rslen = sizeof(rs);
        /* field sizes of P-256, P-384, P-521 */
        static const size_t fields[] = {32, 48, 66};
        (void)tcrypto_ecdsa_sig_from_der(p, n, fields[which / 4 % 3], rs, &rslen);
        break;
    }
    case 2: {
        tcrypto_pkey *k = NULL;
        if (tcrypto_pkey_from_pkcs8(p, n, &k) == TCRYPTO_OK)
            tcrypto_pkey_free(k);
        break;
    }
    default: {
        tcrypto_pkey *k = NULL;
        if (tcrypto_pkey_from_spki(p, n, &k) == TCRYPTO_OK)
            tcrypto_pkey_free(k);
        break;
    }
    }
    return 0;
}
