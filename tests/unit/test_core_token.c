/*
 * Tokens: slots, C_InitToken, PINs, login state, lockout, re-initialisation,
 * persistence (PKCS#11 3.0 §5.5-5.6 semantics as implemented by core/token.c).
 */
#include "test_core_util.h"

#define P(s) (const uint8_t *)(s), strlen(s)

static CK_FLAGS flags_of(tcore_token *t)
{
    CK_TOKEN_INFO ti;
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_OK);
    return ti.flags;
}

static void test_fresh_store_has_one_free_slot(void **state)
{
    (void)state;
    char dir[] = "/tmp/tcore-fresh-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tcore_tokens *ts = env_open_set(dir);
    CK_SLOT_ID slots[4];
    CK_ULONG n = 0;
    tcore_token *t;
    assert_int_equal(tcore_tokens_slots(ts, NULL, &n), CKR_OK);
    assert_int_equal(n, 1);
    n = 4;
    assert_int_equal(tcore_tokens_slots(ts, slots, &n), CKR_OK);
    assert_int_equal(slots[0], 0);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    assert_false(tcore_token_initialized(t));
    assert_int_equal(flags_of(t) & CKF_TOKEN_INITIALIZED, 0);
    assert_int_equal(tcore_tokens_get(ts, 7, &t), CKR_SLOT_ID_INVALID);
    /* login on an uninitialised token */
    assert_int_equal(tcore_token_login(t, CKU_SO, P(SO_PIN)), CKR_TOKEN_NOT_RECOGNIZED);
    tcore_tokens_close(ts);
    env_rmdir(dir);
}

static void test_init_token_makes_new_free_slot(void **state)
{
    tc_env *e = *state;
    CK_SLOT_ID slots[4];
    CK_ULONG n = 1;
    CK_TOKEN_INFO ti;
    assert_true(tcore_token_initialized(e->t));
    assert_int_equal(tcore_tokens_slots(e->ts, slots, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 2);
    assert_int_equal(tcore_tokens_slots(e->ts, slots, &n), CKR_OK);
    assert_int_equal(slots[0], 0);
    assert_int_equal(slots[1], 1);
    assert_int_equal(tcore_token_get_info(e->t, &ti), CKR_OK);
    assert_memory_equal(ti.label, "test token", 10);
    assert_true(ti.flags & CKF_TOKEN_INITIALIZED);
    assert_true(ti.flags & CKF_LOGIN_REQUIRED);
    assert_true(ti.flags & CKF_USER_PIN_INITIALIZED);
    assert_true(ti.flags & CKF_RNG);
    assert_memory_equal(ti.serialNumber, tcore_token_id(e->t), 16);
    assert_int_equal(strlen(tcore_token_id(e->t)), 16);
}

static void test_init_token_pin_len_range(void **state)
{
    tc_env *e = *state;
    tcore_token *free_slot;
    uint8_t label[32];
    label32(label, "x");
    assert_int_equal(tcore_tokens_get(e->ts, 1, &free_slot), CKR_OK);
    assert_int_equal(tcore_token_init(free_slot, P("12"), label), CKR_PIN_LEN_RANGE);
    assert_false(tcore_token_initialized(free_slot));
}

static void test_user_pin_not_initialized(void **state)
{
    tc_env *e = *state;
    tcore_token *t;
    uint8_t label[32];
    label32(label, "second");
    assert_int_equal(tcore_tokens_get(e->ts, 1, &t), CKR_OK);
    assert_int_equal(tcore_token_init(t, P(SO_PIN), label), CKR_OK);
    assert_int_equal(flags_of(t) & CKF_USER_PIN_INITIALIZED, 0);
    assert_int_equal(tcore_token_login(t, CKU_USER, P(USER_PIN)), CKR_USER_PIN_NOT_INITIALIZED);
}

static void test_login_logout_states(void **state)
{
    tc_env *e = *state;
    assert_int_equal(tcore_token_login_state(e->t), TCORE_NOBODY);
    assert_int_equal(tcore_token_logout(e->t), CKR_USER_NOT_LOGGED_IN);
    login_user(e);
    assert_int_equal(tcore_token_login_state(e->t), CKU_USER);
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P(USER_PIN)), CKR_USER_ALREADY_LOGGED_IN);
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
    assert_int_equal(tcore_token_login_state(e->t), TCORE_NOBODY);
    assert_int_equal(tcore_token_login(e->t, 42, P(USER_PIN)), CKR_USER_TYPE_INVALID);
}

static void test_wrong_pin(void **state)
{
    tc_env *e = *state;
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P("wrong-pin")), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_login_state(e->t), TCORE_NOBODY);
    assert_true(flags_of(e->t) & CKF_USER_PIN_COUNT_LOW);
    /* a PIN outside the length range is just wrong at login */
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P("1")), CKR_PIN_INCORRECT);
    /* success clears the counter */
    login_user(e);
    assert_int_equal(flags_of(e->t) & CKF_USER_PIN_COUNT_LOW, 0);
}

static void test_lockout_and_reset_by_so(void **state)
{
    tc_env *e = *state;
    for (int i = 0; i < TCORE_PIN_MAX_TRIES; i++) {
        if (i == TCORE_PIN_MAX_TRIES - 1) {
            assert_true(flags_of(e->t) & CKF_USER_PIN_FINAL_TRY);
        }
        assert_int_equal(tcore_token_login(e->t, CKU_USER, P("bad-pin!")), CKR_PIN_INCORRECT);
    }
    assert_true(flags_of(e->t) & CKF_USER_PIN_LOCKED);
    /* the right PIN no longer helps */
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
    /* the lock is in the store: another token set (process) sees it */
    tcore_tokens *ts2 = env_open_set(e->dir);
    tcore_token *t2;
    assert_int_equal(tcore_tokens_get(ts2, 0, &t2), CKR_OK);
    assert_int_equal(tcore_token_login(t2, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
    tcore_tokens_close(ts2);
    /* C_InitPIN by the SO unlocks */
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, P("new-user-pin")), CKR_OK);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
    assert_int_equal(flags_of(e->t) & CKF_USER_PIN_LOCKED, 0);
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P("new-user-pin")), CKR_OK);
}

static void test_so_lockout(void **state)
{
    tc_env *e = *state;
    for (int i = 0; i < TCORE_PIN_MAX_TRIES; i++) {
        assert_int_equal(tcore_token_login(e->t, CKU_SO, P("bad-so-pin")), CKR_PIN_INCORRECT);
    }
    assert_true(flags_of(e->t) & CKF_SO_PIN_LOCKED);
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_PIN_LOCKED);
    /* the user is not affected */
    login_user(e);
}

static void test_init_pin_requires_so(void **state)
{
    tc_env *e = *state;
    assert_int_equal(tcore_token_init_pin(e->t, P("another-pin")), CKR_USER_NOT_LOGGED_IN);
    login_user(e);
    assert_int_equal(tcore_token_init_pin(e->t, P("another-pin")), CKR_USER_NOT_LOGGED_IN);
}

static void test_init_pin_len_range(void **state)
{
    tc_env *e = *state;
    char longpin[TCORE_PIN_MAX_LEN + 2];
    memset(longpin, 'a', sizeof(longpin) - 1);
    longpin[sizeof(longpin) - 1] = '\0';
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, P("123")), CKR_PIN_LEN_RANGE);
    assert_int_equal(tcore_token_init_pin(e->t, P(longpin)), CKR_PIN_LEN_RANGE);
}

static void test_set_user_pin(void **state)
{
    tc_env *e = *state;
    /* not logged in: changes the user PIN (§5.6 C_SetPIN in a public session) */
    assert_int_equal(tcore_token_set_pin(e->t, P("wrong-old"), P("newpin-1")), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_set_pin(e->t, P(USER_PIN), P("ab")), CKR_PIN_LEN_RANGE);
    assert_int_equal(tcore_token_set_pin(e->t, P(USER_PIN), P("newpin-1")), CKR_OK);
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P(USER_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P("newpin-1")), CKR_OK);
    /* logged in as user: still the user PIN */
    assert_int_equal(tcore_token_set_pin(e->t, P("newpin-1"), P("newpin-2")), CKR_OK);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P("newpin-2")), CKR_OK);
}

static void test_set_so_pin(void **state)
{
    tc_env *e = *state;
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_set_pin(e->t, P(SO_PIN), P("new-so-pin")), CKR_OK);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P("new-so-pin")), CKR_OK);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
    /* the user PIN was kept */
    login_user(e);
}

static void test_context_specific(void **state)
{
    tc_env *e = *state;
    assert_int_equal(tcore_token_login(e->t, CKU_CONTEXT_SPECIFIC, P(USER_PIN)),
                     CKR_USER_NOT_LOGGED_IN);
    login_user(e);
    assert_int_equal(tcore_token_login(e->t, CKU_CONTEXT_SPECIFIC, P(USER_PIN)), CKR_OK);
    assert_int_equal(tcore_token_login(e->t, CKU_CONTEXT_SPECIFIC, P("wrong-pin")),
                     CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_login_state(e->t), CKU_USER);
}

static tcore_obj *make_data(tc_env *e, const char *label, bool priv)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {
        ATTR(CKA_CLASS, &cls),
        ATTR(CKA_TOKEN, &ck_true),
        ATTR(CKA_PRIVATE, priv ? &ck_true : &ck_false),
        {CKA_LABEL, (void *)label, strlen(label)},
        ATTR_STR(CKA_VALUE, "payload"),
    };
    tcore_obj *o = NULL;
    assert_int_equal(tcore_obj_new(e->t, TCORE_ORIGIN_CREATE, 0, 0, tmpl, TC_ARRAY_LEN(tmpl), NULL,
                                   0, NULL, &o),
                     CKR_OK);
    return o;
}

static CK_ULONG count_label(tcore_token *t, const char *label)
{
    CK_ATTRIBUTE q[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE *hs = NULL;
    CK_ULONG n = 99;
    assert_int_equal(tcore_token_find(t, q, 1, &hs, &n), CKR_OK);
    free(hs);
    return n;
}

static void test_reinit_destroys_objects(void **state)
{
    tc_env *e = *state;
    uint8_t label[32];
    CK_OBJECT_HANDLE h;
    login_user(e);
    tcore_obj *o = make_data(e, "doomed", true);
    assert_int_equal(tcore_token_store_objects(e->t, &o, 1, &h), CKR_OK);
    tcore_obj_unref(o);
    assert_int_equal(count_label(e->t, "doomed"), 1);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);

    label32(label, "renewed");
    assert_int_equal(tcore_token_init(e->t, P("wrong-so-pin"), label), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_init(e->t, P(SO_PIN), label), CKR_OK);
    CK_TOKEN_INFO ti;
    assert_int_equal(tcore_token_get_info(e->t, &ti), CKR_OK);
    assert_memory_equal(ti.label, "renewed ", 8);
    assert_int_equal(ti.flags & CKF_USER_PIN_INITIALIZED, 0);
    /* objects are gone, the old handle is dead */
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, P(USER_PIN)), CKR_OK);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
    login_user(e);
    assert_int_equal(count_label(e->t, "doomed"), 0);
    tcore_obj *gone = NULL;
    assert_int_equal(tcore_token_object(e->t, h, &gone), CKR_OBJECT_HANDLE_INVALID);
    /* slot id unchanged */
    assert_int_equal(tcore_token_slot(e->t), 0);
}

static void test_persistence_across_reopen(void **state)
{
    tc_env *e = *state;
    CK_OBJECT_HANDLE h;
    char id[17];
    login_user(e);
    tcore_obj *o = make_data(e, "kept", true);
    assert_int_equal(tcore_token_store_objects(e->t, &o, 1, &h), CKR_OK);
    tcore_obj_unref(o);
    snprintf(id, sizeof(id), "%s", tcore_token_id(e->t));
    tcore_tokens_close(e->ts);

    e->ts = env_open_set(e->dir);
    assert_int_equal(tcore_tokens_get(e->ts, 0, &e->t), CKR_OK);
    assert_true(tcore_token_initialized(e->t));
    assert_string_equal(tcore_token_id(e->t), id);
    /* private object invisible until login, same handle after */
    tcore_obj *x = NULL;
    assert_int_equal(tcore_token_object(e->t, h, &x), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(count_label(e->t, "kept"), 0);
    login_user(e);
    assert_int_equal(count_label(e->t, "kept"), 1);
    assert_int_equal(tcore_token_object(e->t, h, &x), CKR_OK);
    CK_BYTE buf[16];
    CK_ULONG len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(x, CKA_VALUE, buf, &len), CKR_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "payload", 7);
    tcore_obj_unref(x);
}

static void test_logout_hides_private_objects(void **state)
{
    tc_env *e = *state;
    CK_OBJECT_HANDLE h[2];
    tcore_obj *objs[2];
    login_user(e);
    objs[0] = make_data(e, "priv", true);
    objs[1] = make_data(e, "pub", false);
    assert_int_equal(tcore_token_store_objects(e->t, objs, 2, h), CKR_OK);
    tcore_obj_unref(objs[0]);
    tcore_obj_unref(objs[1]);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
    tcore_obj *x = NULL;
    assert_int_equal(tcore_token_object(e->t, h[0], &x), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_token_object(e->t, h[1], &x), CKR_OK);
    tcore_obj_unref(x);
    assert_int_equal(count_label(e->t, "priv"), 0);
    assert_int_equal(count_label(e->t, "pub"), 1);
}

/* The protector blob lives in the metadata record: a damaged blob is a
 * device error, a flipped wrapped-key byte fails like a wrong PIN. */
static void test_meta_tamper(void **state)
{
    tc_env *e = *state;
    char path[300], key[64];
    tstore *s = NULL;
    tstore_kv kv;
    snprintf(path, sizeof(path), "%s/tessera.db", e->dir);
    snprintf(key, sizeof(key), "t/%s/meta", tcore_token_id(e->t));
    assert_int_equal(tstore_open(path, &s), TSTORE_OK);
    assert_int_equal(tstore_get(s, key, strlen(key), &kv), TSTORE_OK);
    uint8_t *blob = memmem(kv.value, kv.value_len, "TPP1", 4);
    assert_non_null(blob);
    size_t blob_len = kv.value_len - (size_t)(blob - kv.value);
    assert_int_equal(tcore_protector_pin_blob_check(blob, blob_len), CKR_OK);
    assert_int_equal(tcore_protector_pin_blob_check(blob, blob_len - 1), CKR_DEVICE_ERROR);
    /* the last byte is in the last entry's tag */
    kv.value[kv.value_len - 1] ^= 1;
    assert_int_equal(tstore_put(s, key, strlen(key), kv.value, kv.value_len, NULL), TSTORE_OK);
    kv.value[kv.value_len - 1] ^= 1;
    /* user entry is last: the user PIN no longer opens it */
    assert_int_equal(tcore_token_login(e->t, CKU_USER, P(USER_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
    /* a damaged blob header */
    blob[0] = 'X';
    assert_int_equal(tstore_put(s, key, strlen(key), kv.value, kv.value_len, NULL), TSTORE_OK);
    assert_int_equal(tcore_token_login(e->t, CKU_SO, P(SO_PIN)), CKR_DEVICE_ERROR);
    tstore_kv_free(&kv);
    tstore_close(s);
}

static void test_open_errors(void **state)
{
    (void)state;
    tcore_protector p;
    tcore_tokens *ts = NULL;
    CK_ULONG n;
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open(NULL, &p, &ts), CKR_ARGUMENTS_BAD);
    assert_null(ts);
    /* a data directory that is a regular file */
    char file[] = "/tmp/tcore-file-XXXXXX";
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open(file, &p, &ts), CKR_DEVICE_ERROR);
    assert_null(ts);
    unlink(file);
    char dir[] = "/tmp/tcore-err-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ts = env_open_set(dir);
    assert_int_equal(tcore_tokens_slots(ts, NULL, NULL), CKR_ARGUMENTS_BAD);
    n = 0;
    CK_SLOT_ID one;
    assert_int_equal(tcore_tokens_slots(ts, &one, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 1);
    tcore_token *t;
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    assert_int_equal(tcore_token_set_pin(t, P(SO_PIN), P("newpin-1")), CKR_TOKEN_NOT_RECOGNIZED);
    assert_int_equal(tcore_token_init(t, P(SO_PIN), NULL), CKR_ARGUMENTS_BAD);
    tcore_tokens_close(ts);
    env_rmdir(dir);
}

static void test_reinit_wrong_length_pin(void **state)
{
    tc_env *e = *state;
    uint8_t label[32];
    label32(label, "x");
    /* on an initialised token an out-of-range SO PIN is simply wrong, and counted */
    assert_int_equal(tcore_token_init(e->t, P("1"), label), CKR_PIN_INCORRECT);
    assert_true(flags_of(e->t) & CKF_SO_PIN_COUNT_LOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_store_has_one_free_slot),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_reinit_wrong_length_pin, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_init_token_makes_new_free_slot, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_init_token_pin_len_range, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_user_pin_not_initialized, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_login_logout_states, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_pin, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_lockout_and_reset_by_so, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_so_lockout, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_init_pin_requires_so, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_init_pin_len_range, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_set_user_pin, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_set_so_pin, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_context_specific, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_reinit_destroys_objects, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_persistence_across_reopen, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_logout_hides_private_objects, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_meta_tamper, env_setup, env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
