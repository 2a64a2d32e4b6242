/*
 * PKCS#11 module: library, interfaces, slots, tokens, sessions and login
 * (PKCS#11 3.0 §5.4-§5.6), through the function list from C_GetInterface.
 */
#include <pthread.h>
#include <sys/wait.h>

#include <sys/stat.h>

#include "test_p11_util.h"
#include "crypto/tcrypto.h"
#include "pkcs11/p11.h"

static int setup(void **state)
{
    (void)state;
    t_env_setup();
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    return 0;
}

static int setup_env_only(void **state)
{
    (void)state;
    t_env_setup();
    return 0;
}

static int teardown_env_only(void **state)
{
    (void)state;
    t_env_teardown();
    return 0;
}

/* ---- C_Initialize / C_Finalize ------------------------------------------------ */

static CK_RV cb_create(CK_VOID_PTR_PTR m) { *m = NULL; return CKR_OK; }
static CK_RV cb_other(CK_VOID_PTR m) { (void)m; return CKR_OK; }

static void test_initialize_rules(void **state)
{
    (void)state;
    CK_INFO info;
    assert_int_equal(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);

    CK_C_INITIALIZE_ARGS a;
    memset(&a, 0, sizeof(a));
    a.pReserved = &a;
    assert_int_equal(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);

    /* Some callbacks but not all. */
    memset(&a, 0, sizeof(a));
    a.CreateMutex = cb_create;
    a.DestroyMutex = cb_other;
    a.flags = CKF_OS_LOCKING_OK;
    assert_int_equal(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);

    /* All callbacks, no OS locking allowed: we cannot lock only through them. */
    a.LockMutex = cb_other;
    a.UnlockMutex = cb_other;
    a.flags = 0;
    assert_int_equal(f->C_Initialize(&a), CKR_CANT_LOCK);
    assert_int_equal(f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);

    /* All callbacks and OS locking: fine (we use the OS primitives). */
    a.flags = CKF_OS_LOCKING_OK;
    assert_int_equal(f->C_Initialize(&a), CKR_OK);
    assert_int_equal(f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    assert_int_equal(f->C_Finalize(&a), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

    memset(&a, 0, sizeof(a));
    a.flags = CKF_OS_LOCKING_OK;
    assert_int_equal(f->C_Initialize(&a), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

/* A bad configuration value makes C_Initialize fail, not crash. */
static void test_initialize_bad_config(void **state)
{
    (void)state;
    char conf[320];
    snprintf(conf, sizeof(conf), "%s/bad.conf", t_dir);
    FILE *fp = fopen(conf, "w");
    assert_non_null(fp);
    fprintf(fp, "store = %s/x.db\npin_kdf_t_cost = zero\n", t_dir);
    fclose(fp);
    const char *old = getenv("TESSERA_CONF");
    char keep[320];
    snprintf(keep, sizeof(keep), "%s", old);
    setenv("TESSERA_CONF", conf, 1);
    assert_int_equal(f->C_Initialize(NULL), CKR_FUNCTION_FAILED);
    assert_int_equal(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    setenv("TESSERA_CONF", keep, 1);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

/* Write a configuration file in the test directory and point TESSERA_CONF at
 * it; returns the previous value (static buffer) to restore. */
static const char *use_conf(const char *name, const char *text)
{
    static char keep[320];
    char path[320];
    snprintf(keep, sizeof(keep), "%s", getenv("TESSERA_CONF"));
    snprintf(path, sizeof(path), "%s/%s", t_dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    setenv("TESSERA_CONF", path, 1);
    return keep;
}

static void test_initialize_config_errors(void **state)
{
    (void)state;
    /* A malformed file. */
    char keep[320];
    snprintf(keep, sizeof(keep), "%s", use_conf("c1.conf", "store\n"));
    assert_int_equal(f->C_Initialize(NULL), CKR_FUNCTION_FAILED);
    /* A file that does not exist. */
    char missing[320];
    snprintf(missing, sizeof(missing), "%s/none.conf", t_dir);
    setenv("TESSERA_CONF", missing, 1);
    assert_int_equal(f->C_Initialize(NULL), CKR_FUNCTION_FAILED);
    /* A store the store layer cannot open (unknown scheme). */
    use_conf("c2.conf", "store = bogus:whatever\n");
    assert_int_equal(f->C_Initialize(NULL), CKR_FUNCTION_FAILED);
    /* No store key and a data directory name too long for a path. */
    use_conf("c3.conf", "log_level = error\n");
    char *longhome = malloc(5000);
    assert_non_null(longhome);
    memset(longhome, 'a', 4999);
    longhome[0] = '/';
    longhome[4999] = '\0';
    setenv("TESSERA_HOME", longhome, 1);
    free(longhome);
    assert_int_equal(f->C_Initialize(NULL), CKR_FUNCTION_FAILED);
    unsetenv("TESSERA_HOME");
    assert_int_equal(f->C_GetInfo(&(CK_INFO){0}), CKR_CRYPTOKI_NOT_INITIALIZED);
    setenv("TESSERA_CONF", keep, 1);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

/* Without `store`, the store is <data dir>/tessera.db ($TESSERA_HOME first). */
static void test_default_store_location(void **state)
{
    (void)state;
    const char *keep = use_conf("c4.conf", "log_level = error\npin_kdf_t_cost = 1\n"
                                           "pin_kdf_m_cost = 64\npin_kdf_lanes = 1\n");
    char home[320], db[360];
    snprintf(home, sizeof(home), "%s/home", t_dir);
    snprintf(db, sizeof(db), "%s/tessera.db", home);
    setenv("TESSERA_HOME", home, 1);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    (void)t_init_token("default");
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    unsetenv("TESSERA_HOME");
    setenv("TESSERA_CONF", keep, 1);
}

/* ---- the p11.h session interface (used by the crypto functions) ------------------- */

/* C_SessionCancel ends exactly the kinds named (PKCS#11 3.0 §5.6); what is
 * left active is ended by C_CloseSession and C_Finalize (the leak checker
 * sees any operation context left behind). */
static void test_session_cancel(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_init_token("ops");
    CK_SESSION_HANDLE h = t_open(slot, false);
    CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
    CK_OBJECT_HANDLE found[4];
    CK_ULONG n = 0;
    assert_int_equal(f->C_SessionCancel(h + 99, CKF_SIGN), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_DigestInit(h, &sha), CKR_OK);
    assert_int_equal(f->C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(f->C_SessionCancel(h, CKF_SIGN | CKF_DECRYPT), CKR_OK);
    assert_int_equal(f->C_DigestInit(h, &sha), CKR_OPERATION_ACTIVE);
    assert_int_equal(f->C_FindObjects(h, found, 4, &n), CKR_OK);
    assert_int_equal(f->C_SessionCancel(h, CKF_DIGEST | CKF_FIND_OBJECTS), CKR_OK);
    assert_int_equal(f->C_FindObjects(h, found, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_DigestInit(h, &sha), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
    h = t_open(slot, false);
    assert_int_equal(f->C_DigestInit(h, &sha), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    assert_int_equal(f->C_SessionCancel(h, CKF_DIGEST), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
}

/* PKCS#11 3.0 §5.6: a context-specific login is for an operation that needs
 * one; without it there is nothing to authorise. */
static void test_context_login_without_operation(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("ctx");
    CK_SESSION_HANDLE h = t_open(slot, false);
    CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
    assert_int_equal(f->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN_ARGS(USER_PIN)),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN_ARGS(USER_PIN)),
                     CKR_OPERATION_NOT_INITIALIZED);
    /* an operation on a key without CKA_ALWAYS_AUTHENTICATE needs none */
    assert_int_equal(f->C_DigestInit(h, &sha), CKR_OK);
    assert_int_equal(f->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN_ARGS(USER_PIN)),
                     CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_get_info(void **state)
{
    (void)state;
    CK_INFO info;
    assert_int_equal(f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_GetInfo(&info), CKR_OK);
    assert_int_equal(info.cryptokiVersion.major, 3);
    assert_int_equal(info.cryptokiVersion.minor, 0);
    assert_memory_equal(info.manufacturerID, "Tessera ", 8);
    for (size_t i = 7; i < sizeof(info.manufacturerID); i++)
        assert_int_equal(info.manufacturerID[i], ' ');
    assert_int_equal(info.flags, 0);
    assert_int_equal(info.libraryDescription[sizeof(info.libraryDescription) - 1], ' ');
}

/* ---- interfaces (PKCS#11 3.0 §5.4) ----------------------------------------------- */

static void test_interfaces(void **state)
{
    (void)state;
    CK_ULONG n = 0;
    assert_int_equal(C_GetInterfaceList(NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetInterfaceList(NULL, &n), CKR_OK);
    assert_int_equal(n, 2);
    CK_INTERFACE list[2];
    n = 1;
    assert_int_equal(C_GetInterfaceList(list, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 2);
    assert_int_equal(C_GetInterfaceList(list, &n), CKR_OK);
    bool saw30 = false, saw240 = false;
    for (int i = 0; i < 2; i++) {
        assert_string_equal((char *)list[i].pInterfaceName, "PKCS 11");
        CK_VERSION *v = list[i].pFunctionList;
        if (v->major == 3 && v->minor == 0)
            saw30 = true;
        if (v->major == 2 && v->minor == 40)
            saw240 = true;
        /* We do not promise fork-safe semantics. */
        assert_int_equal(list[i].flags & CKF_INTERFACE_FORK_SAFE, 0);
    }
    assert_true(saw30 && saw240);

    CK_INTERFACE_PTR it = NULL;
    assert_int_equal(C_GetInterface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
    /* NULL name and version: the default, which is 3.0. */
    assert_int_equal(C_GetInterface(NULL, NULL, &it, 0), CKR_OK);
    CK_VERSION *v = it->pFunctionList;
    assert_int_equal(v->major, 3);
    CK_FUNCTION_LIST_3_0 *l30 = it->pFunctionList;
    assert_ptr_equal(l30->C_LoginUser, C_LoginUser);
    assert_ptr_equal(l30->C_SessionCancel, C_SessionCancel);
    assert_ptr_equal(l30->C_GetInterface, C_GetInterface);

    CK_VERSION want = {2, 40};
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &want, &it, 0), CKR_OK);
    CK_FUNCTION_LIST *l240 = it->pFunctionList;
    assert_int_equal(l240->version.major, 2);
    assert_int_equal(l240->version.minor, 40);
    assert_ptr_equal(l240->C_WaitForSlotEvent, C_WaitForSlotEvent);
    assert_ptr_equal(l240->C_OpenSession, C_OpenSession);

    /* Name only: the default version of that interface (3.0). */
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &it, 0), CKR_OK);
    assert_int_equal(((CK_VERSION *)it->pFunctionList)->major, 3);

    CK_VERSION bad = {9, 9};
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &bad, &it, 0),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR) "Vendor X", NULL, &it, 0),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetInterface(NULL, NULL, &it, CKF_INTERFACE_FORK_SAFE),
                     CKR_ARGUMENTS_BAD);

    CK_FUNCTION_LIST_PTR fl = NULL;
    assert_int_equal(C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetFunctionList(&fl), CKR_OK);
    assert_int_equal(fl->version.major, 2);
    assert_int_equal(fl->version.minor, 40);
    assert_ptr_equal(fl->C_Initialize, C_Initialize);
    assert_ptr_equal(fl->C_FindObjectsFinal, C_FindObjectsFinal);
}

/* ---- slots and tokens ---------------------------------------------------------------- */

static void test_slot_list_free_slot(void **state)
{
    (void)state;
    CK_SLOT_ID s[16];
    assert_int_equal(f->C_GetSlotList(CK_TRUE, s, NULL), CKR_ARGUMENTS_BAD);
    CK_ULONG n = t_slots(s);
    assert_int_equal(n, 1); /* a fresh store: only the free slot */
    CK_SLOT_ID free0 = t_free_slot();

    CK_SLOT_INFO si;
    assert_int_equal(f->C_GetSlotInfo(free0, &si), CKR_OK);
    assert_true(si.flags & CKF_TOKEN_PRESENT);
    assert_false(si.flags & CKF_HW_SLOT);
    assert_int_equal(f->C_GetSlotInfo(free0, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_GetSlotInfo(free0 + 1000, &si), CKR_SLOT_ID_INVALID);

    CK_SLOT_ID a = t_init_token("alpha");
    assert_int_equal(a, free0);
    n = 0;
    assert_int_equal(f->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 2);
    CK_ULONG small = 1;
    assert_int_equal(f->C_GetSlotList(CK_TRUE, s, &small), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(small, 2);
    CK_SLOT_ID free1 = t_free_slot();
    assert_true(free1 != a);

    CK_SLOT_ID b = t_init_token("beta");
    assert_int_equal(b, free1);
    assert_int_equal(t_slots(s), 3);
    assert_true(t_free_slot() != a && t_free_slot() != b);

    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(b, &ti), CKR_OK);
    assert_memory_equal(ti.label, "beta ", 5);
    assert_int_equal(f->C_GetTokenInfo(b, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_GetTokenInfo(free1 + 1000, &ti), CKR_SLOT_ID_INVALID);
}

static void test_token_info_flags(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_init_token("flags");
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_true(ti.flags & CKF_TOKEN_INITIALIZED);
    assert_true(ti.flags & CKF_LOGIN_REQUIRED);
    assert_true(ti.flags & CKF_RNG);
    assert_false(ti.flags & CKF_USER_PIN_INITIALIZED);
    assert_int_equal(ti.ulTotalPublicMemory, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(ti.ulFreePrivateMemory, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(ti.ulSessionCount, 0);
    assert_true(ti.ulMinPinLen >= 1 && ti.ulMinPinLen <= ti.ulMaxPinLen);
    assert_true(ti.flags & CKF_CLOCK_ON_TOKEN);
    assert_memory_equal(ti.utcTime, "20", 2);
    assert_memory_equal(ti.utcTime + 14, "00", 2);

    CK_SESSION_HANDLE ro = t_open(slot, false);
    CK_SESSION_HANDLE rw = t_open(slot, true);
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_int_equal(ti.ulSessionCount, 2);
    assert_int_equal(ti.ulRwSessionCount, 1);
    assert_int_equal(f->C_CloseSession(ro), CKR_OK);
    assert_int_equal(f->C_Login(rw, CKU_SO, PIN_ARGS(SO_PIN)), CKR_OK);
    assert_int_equal(f->C_InitPIN(rw, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_INITIALIZED);
    assert_int_equal(ti.ulSessionCount, 1);
    assert_int_equal(f->C_CloseSession(rw), CKR_OK);
}

static void test_open_session_rules(void **state)
{
    (void)state;
    CK_SLOT_ID free0 = t_free_slot();
    CK_SESSION_HANDLE h;
    /* The free slot's token is not initialised yet. */
    assert_int_equal(f->C_OpenSession(free0, CKF_SERIAL_SESSION, NULL, NULL, &h),
                     CKR_TOKEN_NOT_RECOGNIZED);
    CK_SLOT_ID slot = t_init_token("open");
    assert_int_equal(f->C_OpenSession(slot, CKF_RW_SESSION, NULL, NULL, &h),
                     CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    assert_int_equal(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_OpenSession(slot + 1000, CKF_SERIAL_SESSION, NULL, NULL, &h),
                     CKR_SLOT_ID_INVALID);
    h = t_open(slot, false);
    CK_SESSION_INFO si;
    assert_int_equal(f->C_GetSessionInfo(h, &si), CKR_OK);
    assert_int_equal(si.slotID, slot);
    assert_int_equal(si.state, CKS_RO_PUBLIC_SESSION);
    assert_int_equal(si.flags, CKF_SERIAL_SESSION);
    assert_int_equal(f->C_GetSessionInfo(h, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
    /* A closed session's handle is dead, and is not the next session's. */
    assert_int_equal(f->C_GetSessionInfo(h, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
    CK_SESSION_HANDLE h2 = t_open(slot, true);
    assert_true(h2 != h);
    assert_int_equal(f->C_GetSessionInfo(h, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_GetSessionInfo(CK_INVALID_HANDLE, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_GetSessionInfo((CK_SESSION_HANDLE)-1, &si),
                     CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_CloseSession(h2), CKR_OK);
}

static void test_init_token_session_exists(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_init_token("busy");
    CK_SESSION_HANDLE h = t_open(slot, false);
    CK_UTF8CHAR label[32];
    t_label(label, "again");
    assert_int_equal(f->C_InitToken(slot, PIN_ARGS(SO_PIN), label), CKR_SESSION_EXISTS);
    assert_int_equal(f->C_InitToken(slot, PIN_ARGS(SO_PIN), NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_InitToken(slot, NULL, 4, label), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_InitToken(slot + 1000, PIN_ARGS(SO_PIN), label), CKR_SLOT_ID_INVALID);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
    /* Re-initialising needs the right SO PIN. */
    assert_int_equal(f->C_InitToken(slot, PIN_ARGS("wrong-pin"), label), CKR_PIN_INCORRECT);
    assert_int_equal(f->C_InitToken(slot, PIN_ARGS(SO_PIN), label), CKR_OK);
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_memory_equal(ti.label, "again ", 6);
}

/* ---- login ------------------------------------------------------------------------ */

static void test_login_logout(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_init_token("login");
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_Logout(h), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_USER_PIN_NOT_INITIALIZED);
    assert_int_equal(f->C_Login(h, 7, PIN_ARGS(USER_PIN)), CKR_USER_TYPE_INVALID);
    assert_int_equal(f->C_Login(h, CKU_SO, NULL, 4), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS("wrong-pin")), CKR_PIN_INCORRECT);
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)), CKR_OK);
    assert_int_equal(t_state(h), CKS_RW_SO_FUNCTIONS);
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)), CKR_USER_ALREADY_LOGGED_IN);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)),
                     CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    assert_int_equal(f->C_InitPIN(h, NULL, 3), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_InitPIN(h, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(t_state(h), CKS_RW_PUBLIC_SESSION);
    /* InitPIN outside an SO session. */
    assert_int_equal(f->C_InitPIN(h, PIN_ARGS(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(t_state(h), CKS_RW_USER_FUNCTIONS);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_USER_ALREADY_LOGGED_IN);
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)),
                     CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_pin_lockout(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("lockout");
    CK_SESSION_HANDLE h = t_open(slot, true);
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS("bad-pin-0")), CKR_PIN_INCORRECT);
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_COUNT_LOW);
    /* A right PIN resets the counter. */
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_false(ti.flags & CKF_USER_PIN_COUNT_LOW);
    CK_RV rv = CKR_OK;
    int tries = 0;
    while ((rv = f->C_Login(h, CKU_USER, PIN_ARGS("bad-pin-1"))) == CKR_PIN_INCORRECT)
        assert_true(++tries < 20);
    assert_int_equal(rv, CKR_PIN_LOCKED);
    assert_true(tries >= 1);
    /* Locked: even the right PIN is refused. */
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_PIN_LOCKED);
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_LOCKED);
    /* The SO resets the user PIN. */
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)), CKR_OK);
    assert_int_equal(f->C_InitPIN(h, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_login_user_and_context(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("named");
    CK_SESSION_HANDLE h = t_open(slot, false);
    /* CKU_CONTEXT_SPECIFIC needs someone logged in. */
    assert_int_equal(f->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN_ARGS(USER_PIN)),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(f->C_LoginUser(h, CKU_USER, PIN_ARGS(USER_PIN), NULL, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_LoginUser(h, CKU_USER, PIN_ARGS(USER_PIN), (CK_UTF8CHAR_PTR) "bob", 3),
                     CKR_PIN_INCORRECT);
    assert_int_equal(f->C_LoginUser(h, CKU_USER, PIN_ARGS(USER_PIN), (CK_UTF8CHAR_PTR) "user", 4),
                     CKR_OK);
    assert_int_equal(t_state(h), CKS_RO_USER_FUNCTIONS);
    /* With no operation that needs it, a context-specific login has nothing
     * to authorise (test_p11_mech covers it with a CKA_ALWAYS_AUTHENTICATE
     * key); C_LoginUser behaves as C_Login for it. */
    assert_int_equal(f->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN_ARGS(USER_PIN)),
                     CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_LoginUser(h, CKU_CONTEXT_SPECIFIC, PIN_ARGS(USER_PIN), NULL, 0),
                     CKR_OPERATION_NOT_INITIALIZED);
    /* Still the user (no change of state). */
    assert_int_equal(t_state(h), CKS_RO_USER_FUNCTIONS);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_session_states(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("states");
    CK_SESSION_HANDLE ro = t_open(slot, false);
    CK_SESSION_HANDLE rw = t_open(slot, true);
    assert_int_equal(t_state(ro), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(t_state(rw), CKS_RW_PUBLIC_SESSION);
    /* Login is per token: every session sees it. */
    assert_int_equal(f->C_Login(ro, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(t_state(ro), CKS_RO_USER_FUNCTIONS);
    assert_int_equal(t_state(rw), CKS_RW_USER_FUNCTIONS);
    CK_SESSION_HANDLE ro2 = t_open(slot, false);
    assert_int_equal(t_state(ro2), CKS_RO_USER_FUNCTIONS);
    assert_int_equal(f->C_Logout(rw), CKR_OK);
    assert_int_equal(t_state(ro), CKS_RO_PUBLIC_SESSION);
    /* The SO cannot log in while R/O sessions exist. */
    assert_int_equal(f->C_Login(rw, CKU_SO, PIN_ARGS(SO_PIN)), CKR_SESSION_READ_ONLY_EXISTS);
    assert_int_equal(f->C_CloseSession(ro), CKR_OK);
    assert_int_equal(f->C_CloseSession(ro2), CKR_OK);
    assert_int_equal(f->C_Login(rw, CKU_SO, PIN_ARGS(SO_PIN)), CKR_OK);
    assert_int_equal(t_state(rw), CKS_RW_SO_FUNCTIONS);
    /* And no R/O session can open while the SO is logged in. */
    CK_SESSION_HANDLE h;
    assert_int_equal(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h),
                     CKR_SESSION_READ_WRITE_SO_EXISTS);
    CK_SESSION_HANDLE rw2 = t_open(slot, true);
    assert_int_equal(t_state(rw2), CKS_RW_SO_FUNCTIONS);
    /* Closing every session logs the token out. */
    assert_int_equal(f->C_CloseAllSessions(slot + 1000), CKR_SLOT_ID_INVALID);
    assert_int_equal(f->C_CloseAllSessions(slot), CKR_OK);
    assert_int_equal(f->C_GetSessionInfo(rw, NULL), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_GetSessionInfo(rw2, NULL), CKR_SESSION_HANDLE_INVALID);
    h = t_open(slot, false);
    assert_int_equal(t_state(h), CKS_RO_PUBLIC_SESSION);
    /* Closing the last session (not CloseAll) logs out too. */
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
    h = t_open(slot, false);
    assert_int_equal(t_state(h), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_set_pin(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("setpin");
    CK_SESSION_HANDLE ro = t_open(slot, false);
    assert_int_equal(f->C_SetPIN(ro, PIN_ARGS(USER_PIN), PIN_ARGS("new-user-pin")),
                     CKR_SESSION_READ_ONLY);
    assert_int_equal(f->C_CloseSession(ro), CKR_OK);
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_SetPIN(h, NULL, 0, PIN_ARGS("new-user-pin")), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_SetPIN(h, PIN_ARGS(USER_PIN), NULL, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_SetPIN(h, PIN_ARGS("not-the-pin"), PIN_ARGS("new-user-pin")),
                     CKR_PIN_INCORRECT);
    assert_int_equal(f->C_SetPIN(h, PIN_ARGS(USER_PIN), PIN_ARGS("x")), CKR_PIN_LEN_RANGE);
    /* Public R/W session: changes the user PIN. */
    assert_int_equal(f->C_SetPIN(h, PIN_ARGS(USER_PIN), PIN_ARGS("new-user-pin")), CKR_OK);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS("new-user-pin")), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    /* SO session: changes the SO PIN. */
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)), CKR_OK);
    assert_int_equal(f->C_SetPIN(h, PIN_ARGS(SO_PIN), PIN_ARGS("new-so-pin")), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS("new-so-pin")), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

/* ---- misc session functions -------------------------------------------------------- */

static void test_legacy_and_state_functions(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_init_token("legacy");
    CK_SESSION_HANDLE h = t_open(slot, false);
    CK_ULONG len = 0;
    CK_BYTE buf[8];
    assert_int_equal(f->C_GetOperationState(h, NULL, &len), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_GetOperationState(h, NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_SetOperationState(h, buf, sizeof(buf), 0, 0), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_SetOperationState(h, NULL, 0, 0, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_GetFunctionStatus(h), CKR_FUNCTION_NOT_PARALLEL);
    assert_int_equal(f->C_CancelFunction(h), CKR_FUNCTION_NOT_PARALLEL);
    assert_int_equal(f->C_GetFunctionStatus(h + 77), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_CancelFunction(h + 77), CKR_SESSION_HANDLE_INVALID);

    CK_SLOT_ID ev;
    assert_int_equal(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL), CKR_NO_EVENT);
    assert_int_equal(f->C_WaitForSlotEvent(0, &ev, NULL), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, &ev), CKR_ARGUMENTS_BAD);

    /* SessionCancel ends an active search. */
    assert_int_equal(f->C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(f->C_FindObjectsInit(h, NULL, 0), CKR_OPERATION_ACTIVE);
    assert_int_equal(f->C_SessionCancel(h, CKF_FIND_OBJECTS), CKR_OK);
    assert_int_equal(f->C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(f->C_SessionCancel(h, CKF_SIGN), CKR_OK);
    assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(f->C_SessionCancel(h + 77, CKF_FIND_OBJECTS), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

/* ---- fork ---------------------------------------------------------------------------- */

static void test_fork_child_not_initialized(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_init_token("fork");
    CK_SESSION_HANDLE h = t_open(slot, false);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int code = 0;
        CK_INFO info;
        CK_SESSION_INFO si;
        if (f->C_GetInfo(&info) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 1;
        if (f->C_GetSessionInfo(h, &si) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 2;
        if (f->C_Finalize(NULL) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 4;
        if (f->C_Initialize(NULL) != CKR_OK)
            code |= 8;
        if (f->C_GetInfo(&info) != CKR_OK)
            code |= 16;
        /* The parent's session is not the child's. */
        if (f->C_GetSessionInfo(h, &si) != CKR_SESSION_HANDLE_INVALID)
            code |= 32;
        if (f->C_Finalize(NULL) != CKR_OK)
            code |= 64;
        _exit(code);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* The parent is unaffected. */
    assert_int_equal(t_state(h), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

/* A failed self-test refuses C_Initialize (run in a child: the error state
 * is permanent for the process). */
static void test_selftest_failure(void **state)
{
    (void)state;
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tcrypto_force_error();
        int code = 0;
        if (f->C_Initialize(NULL) != CKR_GENERAL_ERROR)
            code |= 1;
        CK_INFO info;
        if (f->C_GetInfo(&info) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 2;
        _exit(code);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
}

/* ---- many threads --------------------------------------------------------------------- */

#define NTHREADS 8
#define NROUNDS 40

static CK_SLOT_ID g_thread_slot;

static void *session_worker(void *arg)
{
    intptr_t fail = 0;
    (void)arg;
    for (int i = 0; i < NROUNDS && !fail; i++) {
        CK_SESSION_HANDLE h[4];
        for (int k = 0; k < 4; k++) {
            if (f->C_OpenSession(g_thread_slot, CKF_SERIAL_SESSION | (k & 1 ? CKF_RW_SESSION : 0),
                                 NULL, NULL, &h[k]) != CKR_OK)
                fail = 1;
        }
        for (int k = 0; k < 4 && !fail; k++) {
            CK_SESSION_INFO si;
            if (f->C_GetSessionInfo(h[k], &si) != CKR_OK || si.slotID != g_thread_slot)
                fail = 2;
            CK_OBJECT_HANDLE objs[8];
            CK_ULONG n = 0;
            if (f->C_FindObjectsInit(h[k], NULL, 0) != CKR_OK ||
                f->C_FindObjects(h[k], objs, 8, &n) != CKR_OK ||
                f->C_FindObjectsFinal(h[k]) != CKR_OK)
                fail = 3;
        }
        for (int k = 0; k < 4; k++)
            if (!fail && f->C_CloseSession(h[k]) != CKR_OK)
                fail = 4;
    }
    return (void *)fail;
}

static void test_threads_sessions(void **state)
{
    (void)state;
    g_thread_slot = t_ready_token("threads");
    /* One session stays open and logged in: the others see the user state. */
    CK_SESSION_HANDLE keep = t_open(g_thread_slot, true);
    assert_int_equal(f->C_Login(keep, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, session_worker, NULL), 0);
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_int_equal((intptr_t)r, 0);
    }
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(g_thread_slot, &ti), CKR_OK);
    assert_int_equal(ti.ulSessionCount, 1);
    assert_int_equal(t_state(keep), CKS_RW_USER_FUNCTIONS);
    assert_int_equal(f->C_CloseSession(keep), CKR_OK);
}

/* SO logins race R/O session opens: a R/O session never coexists with an SO
 * login (PKCS#11 3.0 §5.6), whatever the interleaving. */
#define RACE_ROUNDS 60

static void *so_worker(void *arg)
{
    (void)arg;
    intptr_t fail = 0;
    for (int i = 0; i < RACE_ROUNDS && !fail; i++) {
        CK_SESSION_HANDLE h;
        if (f->C_OpenSession(g_thread_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) !=
            CKR_OK)
            return (void *)1;
        CK_RV rv = f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN && rv != CKR_SESSION_READ_ONLY_EXISTS)
            fail = 2;
        rv = f->C_Logout(h);
        if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
            fail = 3;
        if (f->C_CloseSession(h) != CKR_OK)
            fail = 4;
    }
    return (void *)fail;
}

static void *ro_worker(void *arg)
{
    (void)arg;
    intptr_t fail = 0;
    for (int i = 0; i < RACE_ROUNDS && !fail; i++) {
        CK_SESSION_HANDLE h;
        CK_RV rv = f->C_OpenSession(g_thread_slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
        if (rv == CKR_SESSION_READ_WRITE_SO_EXISTS)
            continue;
        if (rv != CKR_OK)
            return (void *)5;
        CK_SESSION_INFO si;
        if (f->C_GetSessionInfo(h, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION)
            fail = 6;
        if (f->C_CloseSession(h) != CKR_OK)
            fail = 7;
    }
    return (void *)fail;
}

static void test_threads_login_race(void **state)
{
    (void)state;
    g_thread_slot = t_ready_token("race");
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, i < 2 ? so_worker : ro_worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_int_equal((intptr_t)r, 0);
    }
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(g_thread_slot, &ti), CKR_OK);
    assert_int_equal(ti.ulSessionCount, 0);
}

/* Many threads closing the same sessions: each closes exactly once. */
#define NCLOSE 64
static CK_SESSION_HANDLE g_close_h[NCLOSE];

static void *close_worker(void *arg)
{
    (void)arg;
    intptr_t ok = 0;
    for (int i = 0; i < NCLOSE; i++) {
        CK_RV rv = f->C_CloseSession(g_close_h[i]);
        if (rv == CKR_OK)
            ok++;
        else if (rv != CKR_SESSION_HANDLE_INVALID)
            return (void *)-1;
    }
    return (void *)ok;
}

static void test_threads_close_same(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_init_token("closing");
    for (int i = 0; i < NCLOSE; i++)
        g_close_h[i] = t_open(slot, i & 1);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, close_worker, NULL), 0);
    intptr_t total = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_true((intptr_t)r >= 0);
        total += (intptr_t)r;
    }
    assert_int_equal(total, NCLOSE);
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_int_equal(ti.ulSessionCount, 0);
    assert_int_equal(ti.ulRwSessionCount, 0);
}

/* The table grows past its first allocation and reuses closed entries under
 * new handles. */
#define NMANY 3000
static void test_many_sessions(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_init_token("many");
    CK_SESSION_HANDLE *h = calloc(NMANY, sizeof(*h));
    CK_SESSION_HANDLE *old = calloc(NMANY, sizeof(*old));
    assert_non_null(h);
    assert_non_null(old);
    for (int i = 0; i < NMANY; i++)
        h[i] = t_open(slot, i % 3 == 0);
    for (int i = 0; i < NMANY; i += 2) {
        assert_int_equal(f->C_CloseSession(h[i]), CKR_OK);
        old[i] = h[i];
    }
    for (int i = 0; i < NMANY; i += 2)
        h[i] = t_open(slot, false);
    for (int i = 0; i < NMANY; i += 2) {
        /* A reused entry gets a handle the closed session never had. */
        assert_int_not_equal(h[i], old[i]);
        CK_SESSION_INFO si;
        assert_int_equal(f->C_GetSessionInfo(old[i], &si), CKR_SESSION_HANDLE_INVALID);
    }
    for (int i = 0; i < NMANY; i++) {
        CK_SESSION_INFO si;
        assert_int_equal(f->C_GetSessionInfo(h[i], &si), CKR_OK);
        assert_int_equal(si.slotID, slot);
    }
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_int_equal(ti.ulSessionCount, NMANY);
    assert_int_equal(f->C_CloseAllSessions(slot), CKR_OK);
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_int_equal(ti.ulSessionCount, 0);
    free(h);
    free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initialize_rules, setup_env_only, teardown_env_only),
        cmocka_unit_test_setup_teardown(test_initialize_bad_config, setup_env_only,
                                        teardown_env_only),
        cmocka_unit_test_setup_teardown(test_initialize_config_errors, setup_env_only,
                                        teardown_env_only),
        cmocka_unit_test_setup_teardown(test_default_store_location, setup_env_only,
                                        teardown_env_only),
        cmocka_unit_test_setup_teardown(test_get_info, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_session_cancel, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_context_login_without_operation, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_interfaces, setup_env_only, teardown_env_only),
        cmocka_unit_test_setup_teardown(test_slot_list_free_slot, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_token_info_flags, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_open_session_rules, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_init_token_session_exists, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_login_logout, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_pin_lockout, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_login_user_and_context, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_session_states, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_set_pin, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_and_state_functions, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_fork_child_not_initialized, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_selftest_failure, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_threads_sessions, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_threads_login_race, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_threads_close_same, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_many_sessions, setup, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
