/*
 * PKCS#11 module: object functions (PKCS#11 3.0 §5.7) through the function
 * list: create/copy/destroy, attributes (with the mixed-error rules of
 * C_GetAttributeValue), search, session vs. token objects, R/O vs. R/W and
 * public vs. private rules, concurrency.
 */
#include <pthread.h>

#include "test_p11_util.h"

static CK_SLOT_ID g_slot;

static int setup(void **state)
{
    (void)state;
    t_env_setup();
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    g_slot = t_ready_token("objects");
    return 0;
}

static CK_OBJECT_CLASS c_data = CKO_DATA;
static CK_OBJECT_CLASS c_secret = CKO_SECRET_KEY;
static CK_KEY_TYPE k_aes = CKK_AES;
static CK_BBOOL yes = CK_TRUE;
static CK_BBOOL no = CK_FALSE;

/* A data object with the given label. */
static CK_RV make_data(CK_SESSION_HANDLE h, const char *label, CK_BBOOL token, CK_BBOOL priv,
                       CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c_data, sizeof(c_data)},
        {CKA_TOKEN, &token, sizeof(token)},
        {CKA_PRIVATE, &priv, sizeof(priv)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE, "payload", 7},
    };
    return f->C_CreateObject(h, t, 5, out);
}

/* A sensitive AES key with an allowed-mechanisms list. */
static CK_RV make_aes(CK_SESSION_HANDLE h, const char *label, CK_BBOOL token,
                      CK_OBJECT_HANDLE *out)
{
    static CK_BYTE value[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    static CK_MECHANISM_TYPE mechs[] = {CKM_AES_GCM, CKM_AES_CBC_PAD};
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c_secret, sizeof(c_secret)},
        {CKA_KEY_TYPE, &k_aes, sizeof(k_aes)},
        {CKA_TOKEN, &token, sizeof(token)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE, value, sizeof(value)},
        {CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs)},
    };
    return f->C_CreateObject(h, t, 9, out);
}

/* Run a search and return how many objects it found (at most 64). */
static CK_ULONG find(CK_SESSION_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_HANDLE buf[64];
    CK_ULONG total = 0, got = 0;
    assert_int_equal(f->C_FindObjectsInit(h, t, n), CKR_OK);
    /* In small steps, to exercise the cursor. */
    do {
        assert_int_equal(f->C_FindObjects(h, buf + total, 3, &got), CKR_OK);
        total += got;
        assert_true(total <= 60);
    } while (got != 0);
    assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
    if (out != NULL)
        memcpy(out, buf, total * sizeof(*buf));
    return total;
}

static CK_ULONG find_label(CK_SESSION_HANDLE h, const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    return find(h, t, 1, NULL);
}

static void test_create_get_destroy_session_object(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = t_open(g_slot, false);
    CK_OBJECT_HANDLE o;
    /* Session objects may be made in R/O sessions. */
    assert_int_equal(make_data(h, "d1", CK_FALSE, CK_FALSE, &o), CKR_OK);
    char label[16] = {0};
    CK_ATTRIBUTE g[] = {{CKA_LABEL, NULL, 0}};
    assert_int_equal(f->C_GetAttributeValue(h, o, g, 1), CKR_OK);
    assert_int_equal(g[0].ulValueLen, 2);
    g[0].pValue = label;
    assert_int_equal(f->C_GetAttributeValue(h, o, g, 1), CKR_OK);
    assert_string_equal(label, "d1");
    CK_ULONG size = 0;
    assert_int_equal(f->C_GetObjectSize(h, o, &size), CKR_OK);
    assert_int_equal(f->C_GetObjectSize(h, o, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(find_label(h, "d1"), 1);
    assert_int_equal(f->C_DestroyObject(h, o), CKR_OK);
    assert_int_equal(f->C_GetAttributeValue(h, o, g, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(f->C_DestroyObject(h, o), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(find_label(h, "d1"), 0);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_token_object_rules(void **state)
{
    (void)state;
    CK_SESSION_HANDLE ro = t_open(g_slot, false);
    CK_SESSION_HANDLE rw = t_open(g_slot, true);
    CK_OBJECT_HANDLE o;
    /* Token objects need a R/W session. */
    assert_int_equal(make_data(ro, "tok", CK_TRUE, CK_FALSE, &o), CKR_SESSION_READ_ONLY);
    /* Private objects need the user. */
    assert_int_equal(make_data(rw, "priv", CK_FALSE, CK_TRUE, &o), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(make_data(rw, "priv", CK_TRUE, CK_TRUE, &o), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(make_data(rw, "tok", CK_TRUE, CK_FALSE, &o), CKR_OK);
    assert_int_equal(find_label(ro, "tok"), 1);
    /* Modifying or destroying a token object from a R/O session. */
    CK_ATTRIBUTE set[] = {{CKA_LABEL, "tok2", 4}};
    assert_int_equal(f->C_SetAttributeValue(ro, o, set, 1), CKR_SESSION_READ_ONLY);
    assert_int_equal(f->C_DestroyObject(ro, o), CKR_SESSION_READ_ONLY);
    assert_int_equal(f->C_SetAttributeValue(rw, o, set, 1), CKR_OK);
    assert_int_equal(find_label(ro, "tok2"), 1);
    assert_int_equal(find_label(ro, "tok"), 0);

    /* Token objects outlive the session and the library. */
    assert_int_equal(f->C_CloseSession(ro), CKR_OK);
    assert_int_equal(f->C_CloseSession(rw), CKR_OK);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    rw = t_open(g_slot, true);
    CK_OBJECT_HANDLE found[4];
    CK_ATTRIBUTE t[] = {{CKA_LABEL, "tok2", 4}};
    assert_int_equal(find(rw, t, 1, found), 1);
    assert_int_equal(found[0], o); /* token handles are stable */
    assert_int_equal(f->C_DestroyObject(rw, o), CKR_OK);
    assert_int_equal(find_label(rw, "tok2"), 0);
    assert_int_equal(f->C_CloseSession(rw), CKR_OK);
}

static void test_private_visibility(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = t_open(g_slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    CK_OBJECT_HANDLE ps, pt, pub;
    assert_int_equal(make_data(h, "secret-s", CK_FALSE, CK_TRUE, &ps), CKR_OK);
    assert_int_equal(make_data(h, "secret-t", CK_TRUE, CK_TRUE, &pt), CKR_OK);
    assert_int_equal(make_data(h, "public", CK_FALSE, CK_FALSE, &pub), CKR_OK);
    assert_int_equal(find_label(h, "secret-s"), 1);
    assert_int_equal(find_label(h, "secret-t"), 1);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    /* Logged out: private objects are neither found nor reachable. */
    assert_int_equal(find_label(h, "secret-s"), 0);
    assert_int_equal(find_label(h, "secret-t"), 0);
    assert_int_equal(find_label(h, "public"), 1);
    CK_ATTRIBUTE g[] = {{CKA_LABEL, NULL, 0}};
    assert_int_equal(f->C_GetAttributeValue(h, ps, g, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(f->C_GetAttributeValue(h, pt, g, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(f->C_GetAttributeValue(h, pub, g, 1), CKR_OK);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_GetAttributeValue(h, ps, g, 1), CKR_OK);
    assert_int_equal(f->C_GetAttributeValue(h, pt, g, 1), CKR_OK);
    assert_int_equal(f->C_DestroyObject(h, pt), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_session_objects_shared_and_dropped(void **state)
{
    (void)state;
    CK_SESSION_HANDLE a = t_open(g_slot, false);
    CK_SESSION_HANDLE b = t_open(g_slot, false);
    CK_OBJECT_HANDLE o;
    assert_int_equal(make_data(a, "from-a", CK_FALSE, CK_FALSE, &o), CKR_OK);
    /* Visible to the application's other sessions. */
    assert_int_equal(find_label(b, "from-a"), 1);
    CK_ATTRIBUTE g[] = {{CKA_LABEL, NULL, 0}};
    assert_int_equal(f->C_GetAttributeValue(b, o, g, 1), CKR_OK);
    /* Destroyed with the session that made it. */
    assert_int_equal(f->C_CloseSession(a), CKR_OK);
    assert_int_equal(f->C_GetAttributeValue(b, o, g, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(find_label(b, "from-a"), 0);
    assert_int_equal(f->C_CloseSession(b), CKR_OK);
}

static void test_session_objects_other_token(void **state)
{
    (void)state;
    CK_SLOT_ID other = t_ready_token("other");
    CK_SESSION_HANDLE a = t_open(g_slot, false);
    CK_SESSION_HANDLE b = t_open(other, false);
    CK_OBJECT_HANDLE o;
    assert_int_equal(make_data(a, "on-first", CK_FALSE, CK_FALSE, &o), CKR_OK);
    CK_ATTRIBUTE g[] = {{CKA_LABEL, NULL, 0}};
    assert_int_equal(f->C_GetAttributeValue(b, o, g, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(find_label(b, "on-first"), 0);
    assert_int_equal(f->C_CloseSession(a), CKR_OK);
    assert_int_equal(f->C_CloseSession(b), CKR_OK);
}

static void test_copy_object(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = t_open(g_slot, true);
    CK_OBJECT_HANDLE o, c;
    assert_int_equal(make_data(h, "orig", CK_FALSE, CK_FALSE, &o), CKR_OK);
    CK_ATTRIBUTE ct[] = {{CKA_LABEL, "copy", 4}, {CKA_TOKEN, &yes, sizeof(yes)}};
    assert_int_equal(f->C_CopyObject(h, o, ct, 2, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_CopyObject(h, o, NULL, 2, &c), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_CopyObject(h, o + 1000, ct, 2, &c), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(f->C_CopyObject(h, o, ct, 2, &c), CKR_OK);
    assert_true(c != o);
    assert_int_equal(find_label(h, "copy"), 1);
    assert_int_equal(find_label(h, "orig"), 1);
    CK_BBOOL tok = CK_FALSE;
    CK_ATTRIBUTE g[] = {{CKA_TOKEN, &tok, sizeof(tok)}};
    assert_int_equal(f->C_GetAttributeValue(h, c, g, 1), CKR_OK);
    assert_int_equal(tok, CK_TRUE);
    /* A token copy from a R/O session is refused. */
    CK_SESSION_HANDLE ro = t_open(g_slot, false);
    CK_OBJECT_HANDLE c2;
    assert_int_equal(f->C_CopyObject(ro, o, ct, 2, &c2), CKR_SESSION_READ_ONLY);
    assert_int_equal(f->C_DestroyObject(h, c), CKR_OK);
    assert_int_equal(f->C_CloseSession(ro), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

/* PKCS#11 3.0 §5.7.5: every attribute is processed; failing ones get
 * CK_UNAVAILABLE_INFORMATION, the others are filled, and the function
 * returns one of the errors. */
static void test_get_attribute_mixed_errors(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = t_open(g_slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    CK_OBJECT_HANDLE k;
    assert_int_equal(make_aes(h, "aes", CK_FALSE, &k), CKR_OK);

    CK_BYTE value[32];
    char label[2]; /* too small for "aes" */
    CK_OBJECT_CLASS cls = 0;
    CK_BYTE junk[8];
    CK_ATTRIBUTE t[] = {
        {CKA_VALUE, value, sizeof(value)},       /* sensitive */
        {CKA_CLASS, &cls, sizeof(cls)},          /* fine */
        {CKA_LABEL, label, sizeof(label)},       /* too small */
        {CKA_MODULUS, junk, sizeof(junk)},       /* not an attribute of this object */
    };
    CK_RV rv = f->C_GetAttributeValue(h, k, t, 4);
    assert_true(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
                rv == CKR_BUFFER_TOO_SMALL);
    assert_int_equal(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[1].ulValueLen, sizeof(cls));
    assert_int_equal(cls, CKO_SECRET_KEY);
    assert_int_equal(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);

    /* Each error alone. */
    CK_ATTRIBUTE s1[] = {{CKA_VALUE, value, sizeof(value)}};
    assert_int_equal(f->C_GetAttributeValue(h, k, s1, 1), CKR_ATTRIBUTE_SENSITIVE);
    CK_ATTRIBUTE s2[] = {{CKA_MODULUS, junk, sizeof(junk)}};
    assert_int_equal(f->C_GetAttributeValue(h, k, s2, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    CK_ATTRIBUTE s3[] = {{CKA_LABEL, label, sizeof(label)}};
    assert_int_equal(f->C_GetAttributeValue(h, k, s3, 1), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(s3[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);

    /* NULL pValue: the length, even for a sensitive attribute's neighbour. */
    CK_ATTRIBUTE l[] = {{CKA_LABEL, NULL, 0}, {CKA_ALLOWED_MECHANISMS, NULL, 0}};
    assert_int_equal(f->C_GetAttributeValue(h, k, l, 2), CKR_OK);
    assert_int_equal(l[0].ulValueLen, 3);
    assert_int_equal(l[1].ulValueLen, 2 * sizeof(CK_MECHANISM_TYPE));
    CK_MECHANISM_TYPE mechs[2] = {0, 0};
    l[1].pValue = mechs;
    assert_int_equal(f->C_GetAttributeValue(h, k, &l[1], 1), CKR_OK);
    assert_int_equal(mechs[0], CKM_AES_GCM);
    assert_int_equal(mechs[1], CKM_AES_CBC_PAD);

    assert_int_equal(f->C_GetAttributeValue(h, k, NULL, 1), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_GetAttributeValue(h, CK_INVALID_HANDLE, l, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_set_attribute(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = t_open(g_slot, false);
    CK_OBJECT_HANDLE o;
    assert_int_equal(make_data(h, "before", CK_FALSE, CK_FALSE, &o), CKR_OK);
    CK_ATTRIBUTE s[] = {{CKA_LABEL, "after", 5}};
    assert_int_equal(f->C_SetAttributeValue(h, o, s, 1), CKR_OK);
    assert_int_equal(find_label(h, "after"), 1);
    assert_int_equal(find_label(h, "before"), 0);
    /* CKA_CLASS cannot change. */
    CK_OBJECT_CLASS other = CKO_SECRET_KEY;
    CK_ATTRIBUTE bad[] = {{CKA_CLASS, &other, sizeof(other)}};
    assert_int_not_equal(f->C_SetAttributeValue(h, o, bad, 1), CKR_OK);
    assert_int_equal(f->C_SetAttributeValue(h, o, NULL, 1), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_SetAttributeValue(h, o + 1000, s, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_find_rules(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = t_open(g_slot, true);
    CK_OBJECT_HANDLE o[3], got[8];
    assert_int_equal(make_data(h, "f-a", CK_FALSE, CK_FALSE, &o[0]), CKR_OK);
    assert_int_equal(make_data(h, "f-b", CK_TRUE, CK_FALSE, &o[1]), CKR_OK);
    CK_ATTRIBUTE cls[] = {{CKA_CLASS, &c_data, sizeof(c_data)}};
    CK_ULONG before = find(h, cls, 1, NULL);
    assert_true(before >= 2);

    /* The result set is taken at Init: a later object is not in it. */
    CK_ULONG n = 0;
    assert_int_equal(f->C_FindObjectsInit(h, cls, 1), CKR_OK);
    assert_int_equal(f->C_FindObjectsInit(h, cls, 1), CKR_OPERATION_ACTIVE);
    assert_int_equal(make_data(h, "f-c", CK_FALSE, CK_FALSE, &o[2]), CKR_OK);
    CK_ULONG total = 0;
    do {
        assert_int_equal(f->C_FindObjects(h, got, 8, &n), CKR_OK);
        total += n;
    } while (n != 0);
    assert_int_equal(total, before);
    assert_int_equal(f->C_FindObjects(h, NULL, 8, &n), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_FindObjects(h, got, 8, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(f->C_FindObjects(h, got, 8, &n), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(find(h, cls, 1, NULL), before + 1);
    assert_int_equal(f->C_FindObjectsInit(h, NULL, 1), CKR_ARGUMENTS_BAD);

    /* A template matching nothing; an empty template matching everything. */
    CK_ATTRIBUTE none[] = {{CKA_LABEL, "no-such-label", 13}};
    assert_int_equal(find(h, none, 1, NULL), 0);
    assert_true(find(h, NULL, 0, NULL) >= before + 1);
    assert_int_equal(f->C_DestroyObject(h, o[1]), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

static void test_create_object_errors(void **state)
{
    (void)state;
    CK_SESSION_HANDLE h = t_open(g_slot, true);
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &c_data, sizeof(c_data)}};
    assert_int_equal(f->C_CreateObject(h, NULL, 1, &o), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_CreateObject(h, t, 1, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_CreateObject(h + 1000, t, 1, &o), CKR_SESSION_HANDLE_INVALID);
    /* No class: the core's template rules apply. */
    CK_ATTRIBUTE nocls[] = {{CKA_LABEL, "x", 1}};
    assert_int_equal(f->C_CreateObject(h, nocls, 1, &o), CKR_TEMPLATE_INCOMPLETE);
    /* A secret key without a value. */
    CK_ATTRIBUTE key[] = {{CKA_CLASS, &c_secret, sizeof(c_secret)},
                          {CKA_KEY_TYPE, &k_aes, sizeof(k_aes)}};
    assert_int_equal(f->C_CreateObject(h, key, 2, &o), CKR_TEMPLATE_INCOMPLETE);
    (void)no;
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

/* ---- many threads finding and creating objects ------------------------------------ */

#define NTHREADS 6
#define NROUNDS 25

static void *object_worker(void *arg)
{
    intptr_t id = (intptr_t)arg, fail = 0;
    CK_SESSION_HANDLE h;
    if (f->C_OpenSession(g_slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK)
        return (void *)1;
    char label[32];
    snprintf(label, sizeof(label), "thread-%ld", (long)id);
    for (int i = 0; i < NROUNDS && !fail; i++) {
        CK_OBJECT_HANDLE o;
        if (make_data(h, label, CK_FALSE, CK_FALSE, &o) != CKR_OK) {
            fail = 2;
            break;
        }
        CK_ATTRIBUTE t[] = {{CKA_LABEL, label, strlen(label)}};
        CK_OBJECT_HANDLE got[64];
        CK_ULONG n = 0;
        if (f->C_FindObjectsInit(h, t, 1) != CKR_OK || f->C_FindObjects(h, got, 64, &n) != CKR_OK ||
            f->C_FindObjectsFinal(h) != CKR_OK)
            fail = 3;
        /* Only this thread makes objects with this label. */
        if (n != (CK_ULONG)i + 1)
            fail = 4;
    }
    if (f->C_CloseSession(h) != CKR_OK)
        fail = 5;
    return (void *)fail;
}

static void test_threads_objects(void **state)
{
    (void)state;
    pthread_t th[NTHREADS];
    for (intptr_t i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, object_worker, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_int_equal((intptr_t)r, 0);
    }
    /* Their session objects went with their sessions. */
    CK_SESSION_HANDLE h = t_open(g_slot, false);
    assert_int_equal(find_label(h, "thread-0"), 0);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get_destroy_session_object, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_token_object_rules, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_private_visibility, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_session_objects_shared_and_dropped, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_session_objects_other_token, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_copy_object, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_get_attribute_mixed_errors, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_set_attribute, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_find_rules, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_create_object_errors, setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_threads_objects, setup, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
