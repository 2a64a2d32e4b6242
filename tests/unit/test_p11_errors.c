/*
 * PKCS#11 module: the error paths of the general-purpose, slot/token,
 * session and object functions — before C_Initialize, with dead or bogus
 * session/object/slot handles, and with NULL pointers (PKCS#11 3.0 §5.1,
 * §5.4-§5.7). None of these may crash the host.
 */
#include "test_p11_util.h"

static int setup_env(void **state)
{
    (void)state;
    t_env_setup();
    return 0;
}

#define NI CKR_CRYPTOKI_NOT_INITIALIZED

static void expect_not_initialized(void)
{
    CK_INFO info;
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    CK_SESSION_INFO sinfo;
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE a = {CKA_LABEL, NULL, 0};
    CK_UTF8CHAR label[32];
    memset(label, ' ', sizeof(label));

    assert_int_equal(f->C_Finalize(NULL), NI);
    assert_int_equal(f->C_GetInfo(&info), NI);
    assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), NI);
    assert_int_equal(f->C_GetSlotInfo(0, &si), NI);
    assert_int_equal(f->C_GetTokenInfo(0, &ti), NI);
    assert_int_equal(f->C_InitToken(0, PIN_ARGS(SO_PIN), label), NI);
    assert_int_equal(f->C_InitPIN(1, PIN_ARGS(USER_PIN)), NI);
    assert_int_equal(f->C_SetPIN(1, PIN_ARGS(USER_PIN), PIN_ARGS(USER_PIN)), NI);
    assert_int_equal(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), NI);
    assert_int_equal(f->C_CloseSession(1), NI);
    assert_int_equal(f->C_CloseAllSessions(0), NI);
    assert_int_equal(f->C_GetSessionInfo(1, &sinfo), NI);
    assert_int_equal(f->C_GetOperationState(1, NULL, &n), NI);
    assert_int_equal(f->C_SetOperationState(1, label, 4, 0, 0), NI);
    assert_int_equal(f->C_Login(1, CKU_USER, PIN_ARGS(USER_PIN)), NI);
    assert_int_equal(f->C_LoginUser(1, CKU_USER, PIN_ARGS(USER_PIN), (CK_UTF8CHAR_PTR) "user", 4),
                     NI);
    assert_int_equal(f->C_Logout(1), NI);
    assert_int_equal(f->C_SessionCancel(1, CKF_FIND_OBJECTS), NI);
    assert_int_equal(f->C_CreateObject(1, &a, 1, &o), NI);
    assert_int_equal(f->C_CopyObject(1, 1, &a, 1, &o), NI);
    assert_int_equal(f->C_DestroyObject(1, 1), NI);
    assert_int_equal(f->C_GetObjectSize(1, 1, &n), NI);
    assert_int_equal(f->C_GetAttributeValue(1, 1, &a, 1), NI);
    assert_int_equal(f->C_SetAttributeValue(1, 1, &a, 1), NI);
    assert_int_equal(f->C_FindObjectsInit(1, &a, 1), NI);
    assert_int_equal(f->C_FindObjects(1, &o, 1, &n), NI);
    assert_int_equal(f->C_FindObjectsFinal(1), NI);
    assert_int_equal(f->C_GetFunctionStatus(1), NI);
    assert_int_equal(f->C_CancelFunction(1), NI);
    assert_int_equal(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, slots, NULL), NI);
}

static void test_not_initialized(void **state)
{
    (void)state;
    expect_not_initialized();
    /* And again after a C_Finalize. */
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    expect_not_initialized();
    /* The interface functions work without initialisation. */
    CK_ULONG n = 0;
    assert_int_equal(f->C_GetInterfaceList(NULL, &n), CKR_OK);
    CK_FUNCTION_LIST_PTR fl;
    assert_int_equal(f->C_GetFunctionList(&fl), CKR_OK);
}

/* Every session function with a handle that never existed, one that was
 * closed, and one of a session closed by C_Finalize. */
static void expect_session_invalid(CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO si;
    CK_ULONG n = 0;
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE a = {CKA_LABEL, NULL, 0};
    CK_BYTE b[4] = {0};
    const CK_RV I = CKR_SESSION_HANDLE_INVALID;
    assert_int_equal(f->C_CloseSession(h), I);
    assert_int_equal(f->C_GetSessionInfo(h, &si), I);
    assert_int_equal(f->C_GetOperationState(h, NULL, &n), I);
    assert_int_equal(f->C_SetOperationState(h, b, 4, 0, 0), I);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), I);
    assert_int_equal(f->C_LoginUser(h, CKU_USER, PIN_ARGS(USER_PIN), (CK_UTF8CHAR_PTR) "user", 4),
                     I);
    assert_int_equal(f->C_Logout(h), I);
    assert_int_equal(f->C_InitPIN(h, PIN_ARGS(USER_PIN)), I);
    assert_int_equal(f->C_SetPIN(h, PIN_ARGS(USER_PIN), PIN_ARGS(USER_PIN)), I);
    assert_int_equal(f->C_SessionCancel(h, CKF_FIND_OBJECTS), I);
    assert_int_equal(f->C_CreateObject(h, &a, 1, &o), I);
    assert_int_equal(f->C_CopyObject(h, 1, &a, 1, &o), I);
    assert_int_equal(f->C_DestroyObject(h, 1), I);
    assert_int_equal(f->C_GetObjectSize(h, 1, &n), I);
    assert_int_equal(f->C_GetAttributeValue(h, 1, &a, 1), I);
    assert_int_equal(f->C_SetAttributeValue(h, 1, &a, 1), I);
    assert_int_equal(f->C_FindObjectsInit(h, &a, 1), I);
    assert_int_equal(f->C_FindObjects(h, &o, 1, &n), I);
    assert_int_equal(f->C_FindObjectsFinal(h), I);
    assert_int_equal(f->C_GetFunctionStatus(h), I);
    assert_int_equal(f->C_CancelFunction(h), I);
}

static void test_session_handle_invalid(void **state)
{
    (void)state;
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = t_ready_token("errors");
    expect_session_invalid(CK_INVALID_HANDLE);
    expect_session_invalid(12345);
    expect_session_invalid((CK_SESSION_HANDLE)1 << 40);
    expect_session_invalid((CK_SESSION_HANDLE)-1);
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
    expect_session_invalid(h);
    /* A handle from before C_Finalize is dead afterwards. */
    h = t_open(slot, true);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    expect_session_invalid(h);
}

static void test_object_handle_invalid(void **state)
{
    (void)state;
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = t_ready_token("objerr");
    CK_SESSION_HANDLE h = t_open(slot, true);
    CK_ATTRIBUTE a = {CKA_LABEL, NULL, 0};
    CK_OBJECT_HANDLE o;
    CK_ULONG n;
    const CK_OBJECT_HANDLE bogus[] = {CK_INVALID_HANDLE, 77, (CK_OBJECT_HANDLE)1 << 62,
                                      ((CK_OBJECT_HANDLE)1 << 62) | 12345,
                                      (CK_OBJECT_HANDLE)-1};
    for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
        const CK_RV I = CKR_OBJECT_HANDLE_INVALID;
        assert_int_equal(f->C_GetAttributeValue(h, bogus[i], &a, 1), I);
        assert_int_equal(f->C_SetAttributeValue(h, bogus[i], &a, 1), I);
        assert_int_equal(f->C_DestroyObject(h, bogus[i]), I);
        assert_int_equal(f->C_CopyObject(h, bogus[i], &a, 1, &o), I);
        assert_int_equal(f->C_GetObjectSize(h, bogus[i], &n), I);
    }
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_null_arguments(void **state)
{
    (void)state;
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = t_ready_token("nulls");
    CK_SESSION_HANDLE h = t_open(slot, true);
    const CK_RV B = CKR_ARGUMENTS_BAD;
    assert_int_equal(f->C_GetInfo(NULL), B);
    assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, NULL), B);
    assert_int_equal(f->C_GetSlotInfo(slot, NULL), B);
    assert_int_equal(f->C_GetTokenInfo(slot, NULL), B);
    assert_int_equal(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL), B);
    assert_int_equal(f->C_GetSessionInfo(h, NULL), B);
    assert_int_equal(f->C_Login(h, CKU_USER, NULL, 0), B);
    assert_int_equal(f->C_LoginUser(h, CKU_USER, NULL, 0, (CK_UTF8CHAR_PTR) "user", 4), B);
    assert_int_equal(f->C_LoginUser(h, CKU_USER, PIN_ARGS(USER_PIN), NULL, 4), B);
    assert_int_equal(f->C_InitPIN(h, NULL, 0), B);
    assert_int_equal(f->C_SetPIN(h, NULL, 0, NULL, 0), B);
    assert_int_equal(f->C_CreateObject(h, NULL, 1, NULL), B);
    assert_int_equal(f->C_GetAttributeValue(h, 1, NULL, 1), B);
    assert_int_equal(f->C_SetAttributeValue(h, 1, NULL, 1), B);
    assert_int_equal(f->C_GetObjectSize(h, 1, NULL), B);
    assert_int_equal(f->C_FindObjectsInit(h, NULL, 2), B);
    assert_int_equal(f->C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(f->C_FindObjects(h, NULL, 1, NULL), B);
    assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(f->C_GetOperationState(h, NULL, NULL), B);
    assert_int_equal(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), B);
    CK_UTF8CHAR label[32];
    memset(label, ' ', sizeof(label));
    assert_int_equal(f->C_InitToken(slot, NULL, 0, label), B);
    assert_int_equal(f->C_InitToken(slot, PIN_ARGS(SO_PIN), NULL), B);
    assert_int_equal(f->C_Finalize((CK_VOID_PTR)label), B);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_slot_id_invalid(void **state)
{
    (void)state;
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID bad = 0xDEAD;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    CK_UTF8CHAR label[32];
    memset(label, ' ', sizeof(label));
    const CK_RV I = CKR_SLOT_ID_INVALID;
    assert_int_equal(f->C_GetSlotInfo(bad, &si), I);
    assert_int_equal(f->C_GetTokenInfo(bad, &ti), I);
    assert_int_equal(f->C_InitToken(bad, PIN_ARGS(SO_PIN), label), I);
    assert_int_equal(f->C_OpenSession(bad, CKF_SERIAL_SESSION, NULL, NULL, &h), I);
    assert_int_equal(f->C_CloseAllSessions(bad), I);
    assert_int_equal(f->C_GetSlotInfo((CK_SLOT_ID)-1, &si), I);
}

/* A parameter given to a mechanism that takes none is refused, not ignored. */
static void test_mechanism_param_refused(void **state)
{
    (void)state;
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = t_ready_token("param");
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p256, sizeof(p256)}};
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE pub, priv;
    assert_int_equal(f->C_GenerateKeyPair(h, &gen, pt, 1, NULL, 0, &pub, &priv), CKR_OK);
    CK_ULONG junk = 1;
    CK_MECHANISM ecdsa = {CKM_ECDSA, &junk, sizeof(junk)};
    assert_int_equal(f->C_SignInit(h, &ecdsa, priv), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(f->C_VerifyInit(h, &ecdsa, pub), CKR_MECHANISM_PARAM_INVALID);
    ecdsa.pParameter = NULL;
    ecdsa.ulParameterLen = 0;
    assert_int_equal(f->C_SignInit(h, &ecdsa, priv), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

/* A template the core refuses: the module logs (debug level) which entry
 * and attribute was wrong, as the core reported it. */
static void test_template_error_logged(void **state)
{
    (void)state;
    char conf[320], log[320], line[900];
    snprintf(conf, sizeof(conf), "%s/debug.conf", t_dir);
    snprintf(log, sizeof(log), "%s/module.log", t_dir);
    FILE *fp = fopen(conf, "w");
    assert_non_null(fp);
    snprintf(line, sizeof(line),
             "store = %s/tessera.db\nlog_level = debug\nlog_file = %s\npin_kdf_t_cost = 1\n"
             "pin_kdf_m_cost = 64\npin_kdf_lanes = 1\n",
             t_dir, log);
    fputs(line, fp);
    fclose(fp);
    setenv("TESSERA_CONF", conf, 1);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = t_init_token("log");
    CK_SESSION_HANDLE h = t_open(slot, true);
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ULONG bits = 2048;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_LABEL, "x", 1},
                        {CKA_MODULUS_BITS, &bits, sizeof(bits)}};
    CK_OBJECT_HANDLE o;
    assert_int_equal(f->C_CreateObject(h, t, 3, &o), CKR_ATTRIBUTE_TYPE_INVALID);
    /* a failed login is logged (token and role), the PIN tried never */
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS("Wrong-PIN-4321")), CKR_PIN_INCORRECT);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    fp = fopen(log, "r");
    assert_non_null(fp);
    bool found = false, login_logged = false, pin_leaked = false;
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (strstr(line, "C_CreateObject: 0x12: template entry 2 (attribute 0x121)") != NULL) {
            found = true;
        }
        if (strstr(line, "failed SO login (wrong PIN)") != NULL) {
            login_logged = true;
        }
        if (strstr(line, "Wrong-PIN-4321") != NULL || strstr(line, SO_PIN) != NULL) {
            pin_leaked = true;
        }
    }
    fclose(fp);
    assert_true(found);
    assert_true(login_logged);
    assert_false(pin_leaked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_initialized, setup_env, t_teardown),
        cmocka_unit_test_setup_teardown(test_session_handle_invalid, setup_env, t_teardown),
        cmocka_unit_test_setup_teardown(test_object_handle_invalid, setup_env, t_teardown),
        cmocka_unit_test_setup_teardown(test_null_arguments, setup_env, t_teardown),
        cmocka_unit_test_setup_teardown(test_slot_id_invalid, setup_env, t_teardown),
        cmocka_unit_test_setup_teardown(test_mechanism_param_refused, setup_env, t_teardown),
        cmocka_unit_test_setup_teardown(test_template_error_logged, setup_env, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
