/* libFuzzer: arbitrary bytes into the TPM command decoder and dispatcher.
 * The first byte picks a prefix (a Startup first, and an optional known
 * object) so that the fuzzer also reaches handlers past the INITIALIZE check. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sanitizer/lsan_interface.h>

#include "tpm/ttpm.h"

static ttpm *T;

/* The TPM's random numbers come from the crypto layer's DRBGs, made on
 * first use and kept until exit; their state is on OpenSSL's secure heap,
 * which LeakSanitizer does not scan, so what it points to would look
 * unreachable. Make them once here, with leak tracking off for just that. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t b[1];
    __lsan_disable();
    tcrypto_rc rc = tcrypto_tpm_random(b, sizeof(b));
    __lsan_enable();
    return rc == TCRYPTO_OK ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (T == NULL) {
        T = ttpm_new(NULL);
        if (T == NULL)
            return 0;
    }
    static const uint8_t startup[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0 };
    tc_buf out;
    tc_buf_init(&out);
    if (!T->started)
        ttpm_execute(T, startup, sizeof(startup), &out);
    tc_buf_free(&out);
    tc_buf_init(&out);
    ttpm_execute(T, data, size, &out);
    /* every answer is a well-formed response header */
    if (out.failed || out.len < 10 || tc_load_u32(out.p + 2) != out.len)
        __builtin_trap();
    tc_buf_free(&out);
    /* keep the state bounded across runs */
    if (T->obj_age > 100000) {
        ttpm_free(T);
        T = NULL;
    }
    return 0;
}
