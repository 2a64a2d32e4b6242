/*
 * Tokens: slots, C_InitToken, PINs, key availability, lockout,
 * re-initialisation, persistence (PKCS#11 3.0 §5.5-5.6 semantics as
 * implemented by core/token.c). The login rules (who may log in when) are
 * the sessions' and are tested through them.
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
    /* a PIN on an uninitialised token */
    assert_int_equal(tcore_token_unlock(t, CKU_SO, P(SO_PIN)), CKR_TOKEN_NOT_RECOGNIZED);
    assert_int_equal(tcore_token_verify_pin(t, CKU_SO, P(SO_PIN)), CKR_TOKEN_NOT_RECOGNIZED);
    assert_false(tcore_token_key_available(t));
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
    assert_int_equal(tcore_token_unlock(t, CKU_USER, P(USER_PIN)), CKR_USER_PIN_NOT_INITIALIZED);
    assert_false(tcore_token_key_available(t));
}

static void test_unlock_release_states(void **state)
{
    tc_env *e = *state;
    assert_false(tcore_token_key_available(e->t));
    /* a release without a hold changes nothing (no hold is owed later) */
    tcore_token_release(e->t);
    assert_false(tcore_token_key_available(e->t));
    login_user(e);
    assert_true(tcore_token_key_available(e->t));
    tcore_token_release(e->t);
    assert_false(tcore_token_key_available(e->t));
    assert_int_equal(tcore_token_unlock(e->t, 42, P(USER_PIN)), CKR_USER_TYPE_INVALID);
    assert_int_equal(tcore_token_unlock(e->t, CKU_CONTEXT_SPECIFIC, P(USER_PIN)),
                     CKR_USER_TYPE_INVALID);
    assert_false(tcore_token_key_available(e->t));
}

/* Every holder keeps the key: two applications logged in (here as the user
 * and as the SO; the sessions decide whether that is allowed) hold it until
 * the last one lets go. */
static void test_holders(void **state)
{
    tc_env *e = *state;
    login_user(e);
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    login_user(e);
    tcore_token_release(e->t);
    tcore_token_release(e->t);
    assert_true(tcore_token_key_available(e->t));
    /* a failed unlock takes no hold */
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("wrong-pin")), CKR_PIN_INCORRECT);
    tcore_token_release(e->t);
    assert_false(tcore_token_key_available(e->t));
}

static void test_wrong_pin(void **state)
{
    tc_env *e = *state;
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("wrong-pin")), CKR_PIN_INCORRECT);
    assert_false(tcore_token_key_available(e->t));
    assert_true(flags_of(e->t) & CKF_USER_PIN_COUNT_LOW);
    /* a PIN outside the length range is just wrong at login */
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("1")), CKR_PIN_INCORRECT);
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
        assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("bad-pin!")), CKR_PIN_INCORRECT);
    }
    assert_true(flags_of(e->t) & CKF_USER_PIN_LOCKED);
    /* the right PIN no longer helps, nor does a context-specific check */
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
    assert_int_equal(tcore_token_verify_pin(e->t, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
    assert_false(tcore_token_key_available(e->t));
    /* the lock is in the store: another token set (process) sees it */
    tcore_tokens *ts2 = env_open_set(e->dir);
    tcore_token *t2;
    assert_int_equal(tcore_tokens_get(ts2, 0, &t2), CKR_OK);
    assert_int_equal(tcore_token_unlock(t2, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
    tcore_tokens_close(ts2);
    /* C_InitPIN by the SO unlocks */
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, P("new-user-pin")), CKR_OK);
    tcore_token_release(e->t);
    assert_int_equal(flags_of(e->t) & CKF_USER_PIN_LOCKED, 0);
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("new-user-pin")), CKR_OK);
}

static void test_so_lockout(void **state)
{
    tc_env *e = *state;
    for (int i = 0; i < TCORE_PIN_MAX_TRIES; i++) {
        assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P("bad-so-pin")), CKR_PIN_INCORRECT);
    }
    assert_true(flags_of(e->t) & CKF_SO_PIN_LOCKED);
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_PIN_LOCKED);
    /* the user is not affected */
    login_user(e);
}

/* C_InitPIN's work needs the token key (that the caller is the SO is the
 * sessions' check). */
static void test_init_pin_needs_key(void **state)
{
    tc_env *e = *state;
    assert_int_equal(tcore_token_init_pin(e->t, P("another-pin")), CKR_USER_NOT_LOGGED_IN);
    /* the user PIN is unchanged */
    login_user(e);
    tcore_token_release(e->t);
}

static void test_init_pin_len_range(void **state)
{
    tc_env *e = *state;
    char longpin[TCORE_PIN_MAX_LEN + 2];
    memset(longpin, 'a', sizeof(longpin) - 1);
    longpin[sizeof(longpin) - 1] = '\0';
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, P("123")), CKR_PIN_LEN_RANGE);
    assert_int_equal(tcore_token_init_pin(e->t, P(longpin)), CKR_PIN_LEN_RANGE);
}

static void test_set_user_pin(void **state)
{
    tc_env *e = *state;
    /* the key not held (§5.6 C_SetPIN in a public session changes the user PIN) */
    assert_int_equal(tcore_token_set_pin(e->t, CKU_USER, P("wrong-old"), P("newpin-1")),
                     CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_set_pin(e->t, CKU_USER, P(USER_PIN), P("ab")), CKR_PIN_LEN_RANGE);
    assert_int_equal(tcore_token_set_pin(e->t, CKU_USER, P(USER_PIN), P("newpin-1")), CKR_OK);
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P(USER_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("newpin-1")), CKR_OK);
    /* the key held: the same */
    assert_int_equal(tcore_token_set_pin(e->t, CKU_USER, P("newpin-1"), P("newpin-2")), CKR_OK);
    tcore_token_release(e->t);
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("newpin-2")), CKR_OK);
    /* the SO PIN was kept */
    assert_int_equal(tcore_token_verify_pin(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
}

static void test_set_so_pin(void **state)
{
    tc_env *e = *state;
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_set_pin(e->t, CKU_SO, P(SO_PIN), P("new-so-pin")), CKR_OK);
    tcore_token_release(e->t);
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P("new-so-pin")), CKR_OK);
    tcore_token_release(e->t);
    /* the user PIN was kept */
    login_user(e);
}

/* A context-specific login checks the role's PIN again and takes no hold. */
static void test_context_specific(void **state)
{
    tc_env *e = *state;
    login_user(e);
    assert_int_equal(tcore_token_verify_pin(e->t, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(tcore_token_verify_pin(e->t, CKU_USER, P("wrong-pin")), CKR_PIN_INCORRECT);
    assert_true(flags_of(e->t) & CKF_USER_PIN_COUNT_LOW);
    assert_int_equal(tcore_token_verify_pin(e->t, CKU_SO, P(USER_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_verify_pin(e->t, CKU_CONTEXT_SPECIFIC, P(USER_PIN)),
                     CKR_USER_TYPE_INVALID);
    /* the key is still held, by the one hold taken */
    assert_true(tcore_token_key_available(e->t));
    assert_int_equal(tcore_token_verify_pin(e->t, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(flags_of(e->t) & CKF_USER_PIN_COUNT_LOW, 0);
    tcore_token_release(e->t);
    assert_false(tcore_token_key_available(e->t));
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
    assert_int_equal(tcore_obj_new(e->t, as_user(), TCORE_ORIGIN_CREATE, 0, 0, tmpl,
                                   TC_ARRAY_LEN(tmpl), NULL, 0, NULL, &o),
                     CKR_OK);
    return o;
}

/* Objects labelled so, as the normal user (`user`) or anyone else sees them. */
static CK_ULONG count_label(tcore_token *t, bool user, const char *label)
{
    CK_ATTRIBUTE q[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE *hs = NULL;
    CK_ULONG n = 99;
    assert_int_equal(tcore_token_find(t, user, q, 1, &hs, &n), CKR_OK);
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
    assert_int_equal(count_label(e->t, true, "doomed"), 1);
    tcore_token_release(e->t);

    label32(label, "renewed");
    assert_int_equal(tcore_token_init(e->t, P("wrong-so-pin"), label), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_token_init(e->t, P(SO_PIN), label), CKR_OK);
    CK_TOKEN_INFO ti;
    assert_int_equal(tcore_token_get_info(e->t, &ti), CKR_OK);
    assert_memory_equal(ti.label, "renewed ", 8);
    assert_int_equal(ti.flags & CKF_USER_PIN_INITIALIZED, 0);
    /* objects are gone, the old handle is dead */
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, P(USER_PIN)), CKR_OK);
    tcore_token_release(e->t);
    login_user(e);
    assert_int_equal(count_label(e->t, true, "doomed"), 0);
    tcore_obj *gone = NULL;
    assert_int_equal(tcore_token_object(e->t, h, true, &gone), CKR_OBJECT_HANDLE_INVALID);
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
    /* private object invisible until login, same handle after; the user's
     * role alone does not show it while the token key is not held */
    tcore_obj *x = NULL;
    assert_int_equal(tcore_token_object(e->t, h, false, &x), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_token_object(e->t, h, true, &x), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(count_label(e->t, false, "kept"), 0);
    assert_int_equal(count_label(e->t, true, "kept"), 0);
    login_user(e);
    assert_int_equal(count_label(e->t, true, "kept"), 1);
    assert_int_equal(tcore_token_object(e->t, h, true, &x), CKR_OK);
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
    tcore_obj *x = NULL;
    /* an available key is no permission: not the user, no private objects */
    assert_true(tcore_token_key_available(e->t));
    assert_int_equal(tcore_token_object(e->t, h[0], false, &x), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(count_label(e->t, false, "priv"), 0);
    assert_int_equal(count_label(e->t, true, "priv"), 1);
    tcore_token_release(e->t);
    assert_int_equal(tcore_token_object(e->t, h[0], false, &x), CKR_OBJECT_HANDLE_INVALID);
    /* nor for the user once the key is gone */
    assert_int_equal(tcore_token_object(e->t, h[0], true, &x), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_token_object(e->t, h[1], false, &x), CKR_OK);
    tcore_obj_unref(x);
    assert_int_equal(count_label(e->t, false, "priv"), 0);
    assert_int_equal(count_label(e->t, true, "priv"), 0);
    assert_int_equal(count_label(e->t, false, "pub"), 1);
}

/* The PIN protector holds more verifiers than the two default users (the
 * named users of a partition): each opens the same key with its own PIN,
 * none with another's, and replacing one keeps the others. */
static void test_protector_many_verifiers(void **state)
{
    (void)state;
    tcore_protector p;
    uint8_t key[TCORE_TOKEN_KEY_LEN], got[TCORE_TOKEN_KEY_LEN];
    uint8_t *blob = NULL, *nb = NULL;
    size_t len = 0, nlen = 0;
    char pin[32];
    const char *id = "0123456789abcdef";
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(p.create(p.ctx, id, P(SO_PIN), key, &blob, &len), CKR_OK);
    for (uint32_t who = 1; who < 64; who++) {
        snprintf(pin, sizeof(pin), "pin-of-%u", (unsigned)who);
        assert_int_equal(p.set_pin(p.ctx, id, blob, len, who, key, P(pin), &nb, &nlen), CKR_OK);
        free(blob);
        blob = nb;
        len = nlen;
    }
    assert_int_equal(tcore_protector_pin_blob_check(blob, len), CKR_OK);
    for (uint32_t who = 1; who < 64; who += 7) {
        snprintf(pin, sizeof(pin), "pin-of-%u", (unsigned)who);
        assert_true(p.has_pin(p.ctx, blob, len, who));
        assert_int_equal(p.unlock(p.ctx, id, blob, len, who, P(pin), got), CKR_OK);
        assert_memory_equal(got, key, sizeof(key));
        assert_int_equal(p.unlock(p.ctx, id, blob, len, who + 1, P(pin), got), CKR_PIN_INCORRECT);
    }
    assert_int_equal(p.unlock(p.ctx, id, blob, len, CKU_SO, P(SO_PIN), got), CKR_OK);
    /* a 65th verifier does not fit; replacing an existing one does */
    assert_int_equal(p.set_pin(p.ctx, id, blob, len, 64, key, P("one-too-many"), &nb, &nlen),
                     CKR_DEVICE_MEMORY);
    assert_int_equal(p.set_pin(p.ctx, id, blob, len, 5, key, P("new-pin-5"), &nb, &nlen), CKR_OK);
    assert_int_equal(p.unlock(p.ctx, id, nb, nlen, 5, P("pin-of-5"), got), CKR_PIN_INCORRECT);
    assert_int_equal(p.unlock(p.ctx, id, nb, nlen, 5, P("new-pin-5"), got), CKR_OK);
    assert_int_equal(p.unlock(p.ctx, id, nb, nlen, 6, P("pin-of-6"), got), CKR_OK);
    free(nb);
    free(blob);
    tc_wipe(key, sizeof(key));
    tc_wipe(got, sizeof(got));
    if (p.destroy != NULL) {
        p.destroy(p.ctx);
    }
}

/* The protector blob lives in the metadata record. The protector itself
 * tells a damaged blob (device error) from a flipped wrapped-key byte (fails
 * like a wrong PIN); through the token, any edit of the record fails its MAC
 * before the protector sees it. */
static void test_meta_tamper(void **state)
{
    tc_env *e = *state;
    char key[64];
    tstore *s = NULL;
    tstore_kv kv;
    tcore_meta m;
    tcore_protector p;
    uint8_t tk[TCORE_TOKEN_KEY_LEN];
    const char *id = tcore_token_id(e->t);
    snprintf(key, sizeof(key), "t/%s/meta", id);
    assert_int_equal(tstore_open(e->db, &s), TSTORE_OK);
    assert_int_equal(tstore_get(s, key, strlen(key), &kv), TSTORE_OK);
    assert_true(tcore_meta_decode(kv.value, kv.value_len, &m, NULL));
    assert_int_equal(tcore_protector_pin_blob_check(m.blob, m.blob_len), CKR_OK);
    assert_int_equal(tcore_protector_pin_blob_check(m.blob, m.blob_len - 1), CKR_DEVICE_ERROR);

    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(p.unlock(p.ctx, id, m.blob, m.blob_len, CKU_USER, P(USER_PIN), tk), CKR_OK);
    /* the last byte is in the last entry's tag; the user entry is last: the
     * user PIN no longer opens it, the SO's still does */
    m.blob[m.blob_len - 1] ^= 1;
    assert_int_equal(p.unlock(p.ctx, id, m.blob, m.blob_len, CKU_USER, P(USER_PIN), tk),
                     CKR_PIN_INCORRECT);
    assert_int_equal(p.unlock(p.ctx, id, m.blob, m.blob_len, CKU_SO, P(SO_PIN), tk), CKR_OK);
    m.blob[m.blob_len - 1] ^= 1;
    /* a damaged blob header */
    m.blob[0] = 'X';
    assert_int_equal(tcore_protector_pin_blob_check(m.blob, m.blob_len), CKR_DEVICE_ERROR);
    assert_int_equal(p.unlock(p.ctx, id, m.blob, m.blob_len, CKU_SO, P(SO_PIN), tk),
                     CKR_DEVICE_ERROR);
    tc_wipe(tk, sizeof(tk));
    if (p.destroy != NULL) {
        p.destroy(p.ctx);
    }
    tcore_meta_free(&m);

    /* the stored blob's last byte (the record's 32-byte MAC follows it)
     * flipped: the record is refused for both roles, and nothing is held */
    kv.value[kv.value_len - 32 - 1] ^= 1;
    assert_int_equal(tstore_put(s, key, strlen(key), kv.value, kv.value_len, NULL), TSTORE_OK);
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P(USER_PIN)), CKR_DEVICE_ERROR);
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_DEVICE_ERROR);
    assert_false(tcore_token_key_available(e->t));
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
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open("", &p, &ts), CKR_ARGUMENTS_BAD);
    assert_null(ts);
    /* a store whose directory is a regular file */
    char file[] = "/tmp/tcore-file-XXXXXX";
    char path[64];
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/%s", file, STORE_FILE);
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open(path, &p, &ts), CKR_DEVICE_ERROR);
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
    assert_int_equal(tcore_token_set_pin(t, CKU_SO, P(SO_PIN), P("newpin-1")),
                     CKR_TOKEN_NOT_RECOGNIZED);
    assert_int_equal(tcore_token_init(t, P(SO_PIN), NULL), CKR_ARGUMENTS_BAD);
    tcore_tokens_close(ts);
    env_rmdir(dir);
}

/* The caller names the store file; the core adds no name of its own, and
 * makes the missing directories. */
static void test_open_store_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/tcore-path-XXXXXX";
    char path[128], other[128];
    tcore_protector p;
    tcore_tokens *ts = NULL;
    tcore_token *t;
    uint8_t label[32];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sub/dir/tokens.sqlite", dir);
    snprintf(other, sizeof(other), "%s/%s", dir, STORE_FILE);
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open(path, &p, &ts), CKR_OK);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    label32(label, "named store");
    assert_int_equal(tcore_token_init(t, P(SO_PIN), label), CKR_OK);
    tcore_tokens_close(ts);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_not_equal(access(other, F_OK), 0);
    /* the token is in that file */
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open(path, &p, &ts), CKR_OK);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    assert_true(tcore_token_initialized(t));
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
        cmocka_unit_test(test_open_store_path),
        cmocka_unit_test_setup_teardown(test_reinit_wrong_length_pin, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_init_token_makes_new_free_slot, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_init_token_pin_len_range, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_user_pin_not_initialized, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_unlock_release_states, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_holders, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_pin, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_lockout_and_reset_by_so, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_so_lockout, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_init_pin_needs_key, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_init_pin_len_range, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_set_user_pin, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_set_so_pin, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_context_specific, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_reinit_destroys_objects, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_persistence_across_reopen, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_logout_hides_private_objects, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_meta_tamper, env_setup, env_teardown),
        cmocka_unit_test(test_protector_many_verifiers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
