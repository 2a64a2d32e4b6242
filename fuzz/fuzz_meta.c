/*
 * libFuzzer target for the token metadata decoder (core/meta.c): the v2
 * record and the v1 record it migrates from, the protector blob inside it,
 * and the MAC and witness checks over what decoded. The metadata is read
 * from the store before any login, so whoever can write the database file
 * controls these bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t ik[TCORE_IK_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const char tokid[] = "0123456789abcdef";
    tcore_meta m;
    size_t signed_len = 0;

    if (!tcore_meta_decode(data, size, &m, &signed_len)) {
        return 0;
    }
    if (m.version == 2 && (signed_len > size || size - signed_len != 32)) {
        __builtin_trap(); /* the MAC must be exactly what follows */
    }
    (void)tcore_protector_pin_blob_check(m.blob, m.blob_len);
    /* what decodes encodes again, and the encoding decodes to the same */
    m.version = 2;
    tc_buf b, h;
    if (tcore_meta_encode(&m, tokid, ik, &b) == CKR_OK) {
        tcore_meta m2;
        size_t sl = 0;
        if (!tcore_meta_decode(b.p, b.len, &m2, &sl) || m2.version != 2 || m2.gen != m.gen ||
            m2.nobj != m.nobj || m2.nix != m.nix || m2.so_fail != m.so_fail ||
            m2.user_fail != m.user_fail || m2.blob_len != m.blob_len ||
            memcmp(m2.blob, m.blob, m.blob_len) != 0 || sl + 32 != b.len) {
            __builtin_trap();
        }
        tcore_meta_free(&m2);
        if (tcore_head_encode(tokid, ik, m.gen, b.p, b.len, &h) == CKR_OK) {
            tc_buf_free(&h);
        }
        tc_buf_free(&b);
    }
    tcore_meta_free(&m);
    return 0;
}
