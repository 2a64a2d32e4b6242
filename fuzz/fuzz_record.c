/*
 * libFuzzer target for the stored object record decoders (core/record.c):
 * the record itself (v2, and v1 as still read for migration), the
 * plaintext of a sealed part in both encodings, and the PIN protector blob
 * kept in token metadata. All of them parse bytes read from the store,
 * which an attacker with write access to the database controls.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/core_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tcore_record rec;
    uint8_t *secret = NULL;
    size_t secret_len = 0;
    tcore_attr *attrs = NULL;
    size_t nattrs = 0;

    if (tcore_record_decode(data, size, &rec) == CKR_OK) {
        /* every attribute must lie inside what was allocated for it */
        for (size_t i = 0; i < rec.nattrs; i++) {
            volatile uint8_t sink = 0;
            for (CK_ULONG j = 0; j < rec.attrs[i].len; j++) {
                sink ^= rec.attrs[i].value[j];
            }
            (void)sink;
        }
        tcore_record_free(&rec);
    }
    if (tcore_record_decode_sealed(data, size, &secret, &secret_len, &attrs, &nattrs) == CKR_OK) {
        tcrypto_secure_free(secret, secret_len);
        tcore_attrs_free(attrs, nattrs);
    }
    if (size >= 16) {
        /* the portable (v2) attribute encoding depends on class and key type */
        CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)(tc_load_u64(data) % 8);
        CK_KEY_TYPE kt = (CK_KEY_TYPE)(tc_load_u64(data + 8) % 0x50);
        if (tcore_record_decode_sealed_v2(data + 16, size - 16, cls, kt, &secret, &secret_len,
                                          &attrs, &nattrs) == CKR_OK) {
            tcrypto_secure_free(secret, secret_len);
            tcore_attrs_free(attrs, nattrs);
        }
    }
    (void)tcore_protector_pin_blob_check(data, size);
    return 0;
}
