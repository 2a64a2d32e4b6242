/*
 * Loading and unloading the module leaves nothing behind. A host that
 * dlopens the PKCS#11 module, calls C_Initialize and C_Finalize and
 * dlcloses it again, over and over (a browser or p11-kit probing modules
 * does), must not lose memory on each round: whatever the crypto layer
 * set up for its library contexts is freed when the module is unloaded.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tessera/pkcs11.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LEAK_CHECK 1
/* LeakSanitizer (GCC 12) crashes reading the dynamic TLS of a module that
 * has been unloaded, so thread-local storage is not scanned here; what
 * OpenSSL keeps per thread (reachable only from there) is released before
 * the check instead. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "use_tls=0";
}
#else
#define HAVE_LEAK_CHECK 0
#endif

/* OPENSSL_thread_stop() of the libcrypto the module pulled in (it stays
 * loaded: OpenSSL pins itself). */
static void release_openssl_thread_state(void)
{
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    void (*stop)(void) = NULL;
    *(void **)&stop = dlsym(h, "OPENSSL_thread_stop");
    assert_non_null(stop);
    stop();
    dlclose(h);
}

#define ROUNDS 10

static void load_init_finalize_unload(void)
{
    void *h = dlopen(TESSERA_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        fail_msg("dlopen: %s", dlerror());
    CK_C_GetFunctionList get = NULL;
    *(void **)&get = dlsym(h, "C_GetFunctionList");
    assert_non_null(get);
    CK_FUNCTION_LIST_PTR f = NULL;
    assert_int_equal(get(&f), CKR_OK);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    CK_ULONG n = 0;
    assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    assert_int_equal(dlclose(h), 0);
}

static char home[] = "/tmp/tessera-unload-XXXXXX";

/* The module's default store goes into a directory of its own, removed
 * whatever the test's outcome. */
static int setup(void **state)
{
    (void)state;
    if (mkdtemp(home) == NULL || setenv("TESSERA_HOME", home, 1) != 0)
        return -1;
    unsetenv("TESSERA_CONF");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    return system(cmd) == 0 ? 0 : -1;
}

/* Each round used to lose 995 bytes (the crypto layer's renamed table of
 * key managers, freed nowhere). Memory the unloaded module still owned is
 * unreachable once it is gone, so the leak checker sees it; glibc's and
 * OpenSSL's own bookkeeping stays reachable and does not count. */
static void test_unload_frees_everything(void **state)
{
    (void)state;
    if (!HAVE_LEAK_CHECK)
        skip(); /* needs the AddressSanitizer build (LeakSanitizer) */
    for (int i = 0; i < ROUNDS; i++)
        load_init_finalize_unload();
    release_openssl_thread_state();
#if HAVE_LEAK_CHECK
    /* Non-zero when anything allocated so far is unreachable (the report
     * names the allocation sites). */
    assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unload_frees_everything, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
