/*
 * Acceptance 8 (issue 2): 8 threads x 5,000 signatures on one key, each thread
 * in its own session, no error — run under ASan+UBSan in CI. Every 500th
 * signature is verified, so a corrupted result cannot pass unnoticed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/pkcs11.h"

#define THREADS 8
#define SIGNATURES 5000

static CK_FUNCTION_LIST_PTR p11;
static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE priv_key, pub_key;
static char tmpdir[] = "/tmp/tessera-conc-XXXXXX";

static const char so_pin[] = "so-pin-1234";
static const char user_pin[] = "user-pin-1234";

static void setup_token(void)
{
    assert_non_null(mkdtemp(tmpdir));
    char conf[512], line[512];
    snprintf(conf, sizeof(conf), "%s/tessera.conf", tmpdir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    snprintf(line, sizeof(line), "store = %s/tessera.db\nlog_level = error\n", tmpdir);
    fputs(line, f);
    fclose(f);
    setenv("TESSERA_CONF", conf, 1);

    assert_int_equal(C_GetFunctionList(&p11), CKR_OK);
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    assert_int_equal(p11->C_Initialize(&args), CKR_OK);

    CK_ULONG n = 0;
    assert_int_equal(p11->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    assert_true(n >= 1);
    CK_SLOT_ID *slots = calloc(n, sizeof(*slots));
    assert_non_null(slots);
    assert_int_equal(p11->C_GetSlotList(CK_FALSE, slots, &n), CKR_OK);
    slot = slots[0];
    free(slots);

    CK_UTF8CHAR label[32];
    memset(label, ' ', sizeof(label));
    memcpy(label, "concurrency", 11);
    assert_int_equal(p11->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), label),
                     CKR_OK);

    CK_SESSION_HANDLE s;
    assert_int_equal(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
                     CKR_OK);
    assert_int_equal(p11->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin)), CKR_OK);
    assert_int_equal(p11->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin)), CKR_OK);
    assert_int_equal(p11->C_Logout(s), CKR_OK);
    assert_int_equal(p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin)),
                     CKR_OK);

    /* DER OID of prime256v1 */
    static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_EC_PARAMS, p256, sizeof(p256)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_LABEL, "conc", 4},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_LABEL, "conc", 4},
    };
    assert_int_equal(p11->C_GenerateKeyPair(s, &gen, pub_tmpl, 4, priv_tmpl, 5, &pub_key,
                                            &priv_key),
                     CKR_OK);
    /* The login state is the application's: it outlives this session only while
     * another session is open, so keep this one open until the end. */
}

struct worker {
    pthread_t tid;
    CK_RV failure;
    unsigned done;
};

static void *sign_loop(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE s;
    CK_RV rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        w->failure = rv;
        return NULL;
    }
    CK_MECHANISM mech = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BYTE data[64];
    for (unsigned i = 0; i < SIGNATURES; i++) {
        memset(data, (int)(i & 0xff), sizeof(data));
        CK_BYTE sig[64];
        CK_ULONG siglen = sizeof(sig);
        rv = p11->C_SignInit(s, &mech, priv_key);
        if (rv == CKR_OK)
            rv = p11->C_Sign(s, data, sizeof(data), sig, &siglen);
        if (rv == CKR_OK && i % 500 == 0) {
            rv = p11->C_VerifyInit(s, &mech, pub_key);
            if (rv == CKR_OK)
                rv = p11->C_Verify(s, data, sizeof(data), sig, siglen);
        }
        if (rv != CKR_OK) {
            w->failure = rv;
            break;
        }
        w->done++;
    }
    p11->C_CloseSession(s);
    return NULL;
}

static void test_eight_threads_sign(void **state)
{
    (void)state;
    setup_token();
    struct worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&w[i].tid, NULL, sign_loop, &w[i]), 0);
    unsigned total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        if (w[i].failure != CKR_OK)
            fail_msg("thread %d failed after %u signatures: CK_RV 0x%lx", i, w[i].done,
                     (unsigned long)w[i].failure);
        total += w[i].done;
    }
    assert_int_equal(total, THREADS * SIGNATURES);

    /* A forged signature still fails after all that concurrent use. */
    CK_SESSION_HANDLE s;
    assert_int_equal(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    CK_MECHANISM mech = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BYTE data[16] = {1}, sig[64];
    CK_ULONG siglen = sizeof(sig);
    assert_int_equal(p11->C_SignInit(s, &mech, priv_key), CKR_OK);
    assert_int_equal(p11->C_Sign(s, data, sizeof(data), sig, &siglen), CKR_OK);
    sig[5] ^= 0x01;
    assert_int_equal(p11->C_VerifyInit(s, &mech, pub_key), CKR_OK);
    assert_int_equal(p11->C_Verify(s, data, sizeof(data), sig, siglen), CKR_SIGNATURE_INVALID);
    assert_int_equal(p11->C_Finalize(NULL), CKR_OK);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eight_threads_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
