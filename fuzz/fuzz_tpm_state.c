/* libFuzzer: the state file decoder (the file is untrusted input).
 * Input byte 0 even: the bytes are the whole file. Odd: the rest is the
 * body after the magic, and the fuzzer's bytes get a valid checksum, so the
 * record parser is reached past the integrity check. A file that decodes
 * must encode back to exactly the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tpm/ttpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    tc_buf f;
    tc_buf_init(&f);
    if (data[0] & 1) {
        uint8_t sum[32];
        tc_buf_put(&f, "TSRTPMST", 8);
        tc_buf_put(&f, data + 1, size - 1);
        tcrypto_tpm_iov v = { f.p, f.len };
        if (f.failed || tcrypto_tpm_hash(TPM_ALG_SHA256, &v, 1, sum) != TCRYPTO_OK) {
            tc_buf_free(&f);
            return 0;
        }
        tc_buf_put(&f, sum, sizeof(sum));
    } else {
        tc_buf_put(&f, data + 1, size - 1);
    }
    if (f.failed) {
        tc_buf_free(&f);
        return 0;
    }
    ttpm_perm *p = calloc(1, sizeof(*p));
    if (p != NULL && ttpm_state_decode(f.p, f.len, p) == TTPM_STATE_OK) {
        tc_buf g;
        if (!ttpm_state_encode(p, &g))
            __builtin_trap();
        if (g.len != f.len || memcmp(g.p, f.p, f.len) != 0)
            __builtin_trap();
        tc_buf_free(&g);
    }
    free(p);
    tc_buf_free(&f);
    return 0;
}
