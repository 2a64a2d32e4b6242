/* libFuzzer: arbitrary bytes into the TPM command decoder and dispatcher.
 * The first byte picks a prefix (a Startup first, and an optional known
 * object) so that the fuzzer also reaches handlers past the INITIALIZE check. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sanitizer/lsan_interface.h>

#include "tpm/ttpm.h"

static ttpm *T;

/* OpenSSL's secure heap is an arena it maps itself, outside the allocator,
 * so LeakSanitizer does not scan it: whatever only an object there points
 * to looks unreachable. Each DRBG of the crypto layer keeps its state there
 * and its cipher contexts on the ordinary heap, and OpenSSL makes a DRBG on
 * first use, whichever input that is (the private one at the first blinded
 * EC scalar multiplication, EC_Ephemeral or Commit): the next input that
 * triggers a leak check would report its three AES contexts. So the arena
 * is scanned as a root region, like a global. */
static int lsan_scan_secure_heap(void)
{
    void *probe = tcrypto_secure_alloc(1);
    FILE *f = fopen("/proc/self/maps", "r");
    int rc = -1;
    char line[512];
    while (probe != NULL && f != NULL && fgets(line, sizeof(line), f) != NULL) {
        uintptr_t lo, hi;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 && lo <= (uintptr_t)probe &&
            (uintptr_t)probe < hi) {
            __lsan_register_root_region((void *)lo, hi - lo);
            rc = 0;
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    tcrypto_secure_free(probe, 1);
    return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return lsan_scan_secure_heap();
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
