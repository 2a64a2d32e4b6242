/*
 * Token objects in the store: find through the indexes, persistence, two
 * token sets / two processes on one directory, encryption at rest and
 * tamper detection (a flipped ciphertext byte, an edited protected attribute,
 * a record moved under another object's key), malformed records, threads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "test_core_util.h"
#include "core/core_int.h"

static CK_OBJECT_CLASS c_data = CKO_DATA, c_sec = CKO_SECRET_KEY;
static CK_KEY_TYPE k_aes = CKK_AES;
static const uint8_t key16[16] = "0123456789abcdef";

#define N(t) TC_ARRAY_LEN(t)
#define P(s) (const uint8_t *)(s), strlen(s)

static void reopen(tc_env *e);

static tcore_obj *new_data(tc_env *e, const char *label, const char *id, bool priv)
{
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data), ATTR(CKA_TOKEN, &ck_true),
                        ATTR(CKA_PRIVATE, priv ? &ck_true : &ck_false),
                        {CKA_LABEL, (void *)label, strlen(label)},
                        {CKA_OBJECT_ID, (void *)id, strlen(id)}, ATTR_STR(CKA_VALUE, "v")};
    tcore_obj *o = NULL;
    assert_int_equal(tcore_obj_new(e->t, NULL, TCORE_ORIGIN_CREATE, 0, 0, t, N(t), NULL, 0, NULL, &o), CKR_OK);
    return o;
}

static tcore_obj *new_key(tc_env *e, const char *label, const char *id, bool priv)
{
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes), ATTR(CKA_TOKEN, &ck_true),
                        ATTR(CKA_PRIVATE, priv ? &ck_true : &ck_false),
                        {CKA_LABEL, (void *)label, strlen(label)}, {CKA_ID, (void *)id, strlen(id)},
                        {CKA_VALUE, (void *)key16, 16}};
    tcore_obj *o = NULL;
    assert_int_equal(tcore_obj_new(e->t, NULL, TCORE_ORIGIN_CREATE, 0, 0, t, N(t), NULL, 0, NULL, &o), CKR_OK);
    return o;
}

static CK_OBJECT_HANDLE store1(tc_env *e, tcore_obj *o)
{
    CK_OBJECT_HANDLE h = 0;
    assert_int_equal(tcore_token_store_objects(e->t, &o, 1, &h), CKR_OK);
    assert_true(tcore_handle_is_token(h));
    tcore_obj_unref(o);
    return h;
}

static CK_ULONG find_n(tcore_token *t, CK_ATTRIBUTE *q, CK_ULONG n, CK_OBJECT_HANDLE *first)
{
    CK_OBJECT_HANDLE *hs = NULL;
    CK_ULONG cnt = 0;
    assert_int_equal(tcore_token_find(t, tcore_token_key_available(t), q, n, &hs, &cnt), CKR_OK);
    if (first != NULL && cnt > 0) {
        *first = hs[0];
    }
    free(hs);
    return cnt;
}

static CK_ULONG find_label(tcore_token *t, const char *label, CK_OBJECT_HANDLE *first)
{
    CK_ATTRIBUTE q[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    return find_n(t, q, 1, first);
}

static void secret_ok(tcore_token *t, CK_OBJECT_HANDLE h)
{
    tcore_obj *o = NULL;
    uint8_t *k = NULL;
    size_t kl = 0;
    assert_int_equal(tcore_token_object(t, h, tcore_token_key_available(t), &o), CKR_OK);
    assert_int_equal(tcore_obj_secret(o, &k, &kl), CKR_OK);
    assert_int_equal(kl, 16);
    assert_memory_equal(k, key16, 16);
    tcrypto_secure_free(k, kl);
    tcore_obj_unref(o);
}

/* ---- find ------------------------------------------------------------------------ */

static void test_find_by_label_id_class(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE hk = store1(e, new_key(e, "alpha", "id-1", true));
    CK_OBJECT_HANDLE hd = store1(e, new_data(e, "alpha", "oid", false));
    store1(e, new_key(e, "beta", "id-2", false));
    CK_OBJECT_HANDLE h = 0;
    assert_int_equal(find_label(e->t, "alpha", NULL), 2);
    assert_int_equal(find_label(e->t, "beta", NULL), 1);
    assert_int_equal(find_label(e->t, "gamma", NULL), 0);
    CK_ATTRIBUTE qid[] = {ATTR_STR(CKA_ID, "id-1")};
    assert_int_equal(find_n(e->t, qid, 1, &h), 1);
    assert_int_equal(h, hk);
    CK_ATTRIBUTE qcls[] = {ATTR(CKA_CLASS, &c_data)};
    assert_int_equal(find_n(e->t, qcls, 1, &h), 1);
    assert_int_equal(h, hd);
    CK_ATTRIBUTE qboth[] = {ATTR_STR(CKA_LABEL, "alpha"), ATTR(CKA_CLASS, &c_sec)};
    assert_int_equal(find_n(e->t, qboth, 2, &h), 1);
    assert_int_equal(h, hk);
    assert_int_equal(find_n(e->t, NULL, 0, NULL), 3);
    /* sensitive attributes never match */
    CK_ATTRIBUTE qval[] = {ATTR_STR(CKA_LABEL, "beta"), {CKA_VALUE, (void *)key16, 16}};
    assert_int_equal(find_n(e->t, qval, 2, NULL), 0);
    /* logged out: the private key disappears */
    tcore_token_release(e->t);
    assert_int_equal(find_label(e->t, "alpha", NULL), 1);
    assert_int_equal(find_n(e->t, qid, 1, NULL), 0);
    assert_int_equal(find_n(e->t, NULL, 0, NULL), 2);
}

/* Results come in creation order, also after a restart. */
static void test_find_creation_order(void **state)
{
    tc_env *e = *state;
    CK_OBJECT_HANDLE hs[6];
    login_user(e);
    for (int i = 0; i < 6; i++) {
        hs[i] = store1(e, i % 2 ? new_key(e, "same", "x", true) : new_data(e, "same", "x", false));
    }
    for (int pass = 0; pass < 2; pass++) {
        CK_ATTRIBUTE q[] = {ATTR_STR(CKA_LABEL, "same")};
        CK_OBJECT_HANDLE *got = NULL;
        CK_ULONG n = 0;
        assert_int_equal(tcore_token_find(e->t, tcore_token_key_available(e->t), q, 1, &got, &n), CKR_OK);
        assert_int_equal(n, 6);
        assert_memory_equal(got, hs, sizeof(hs));
        free(got);
        assert_int_equal(tcore_token_find(e->t, tcore_token_key_available(e->t), NULL, 0, &got, &n), CKR_OK);
        assert_int_equal(n, 6);
        assert_memory_equal(got, hs, sizeof(hs));
        free(got);
        reopen(e);
    }
}

/* Find by label must not load every object: after a restart, a find by
 * label loads only the matching object into the cache. */
static void test_find_uses_index_not_scan(void **state)
{
    tc_env *e = *state;
    enum { COUNT = 300 };
    tcore_obj *objs[COUNT];
    CK_OBJECT_HANDLE hs[COUNT];
    char label[32];
    login_user(e);
    for (int i = 0; i < COUNT; i++) {
        snprintf(label, sizeof(label), "obj-%d", i);
        objs[i] = new_data(e, label, "x", i % 2 == 0);
    }
    assert_int_equal(tcore_token_store_objects(e->t, objs, COUNT, hs), CKR_OK);
    for (int i = 0; i < COUNT; i++) {
        tcore_obj_unref(objs[i]);
    }
    tcore_tokens_close(e->ts);
    e->ts = env_open_set(e->dir);
    assert_int_equal(tcore_tokens_get(e->ts, 0, &e->t), CKR_OK);
    login_user(e);
    CK_OBJECT_HANDLE h = 0;
    assert_int_equal(find_label(e->t, "obj-123", &h), 1);
    assert_int_equal(h, hs[123]);
    assert_int_equal(find_label(e->t, "obj-124", &h), 1);
    assert_int_equal(h, hs[124]);
    assert_int_equal(e->t->ncached, 2);
    /* the index entries exist, one per indexed attribute per object */
    char prefix[64];
    uint64_t n = 0;
    snprintf(prefix, sizeof(prefix), "t/%s/ix/", tcore_token_id(e->t));
    assert_int_equal(tstore_count(tcore_token_store(e->t), prefix, strlen(prefix), &n), TSTORE_OK);
    assert_int_equal(n, 2 * COUNT); /* CKA_CLASS and CKA_LABEL (data objects have no CKA_ID) */
}

/* A private object's label is not in the store in clear. */
static void test_private_label_not_in_clear(void **state)
{
    tc_env *e = *state;
    login_user(e);
    store1(e, new_key(e, "top-secret-label", "id-9", true));
    tstore_kv *kvs = NULL;
    size_t n = 0;
    assert_int_equal(tstore_range(tcore_token_store(e->t), "t/", 2, 0, &kvs, &n), TSTORE_OK);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_null(memmem(kvs[i].key, kvs[i].key_len, "top-secret", 10));
        assert_null(memmem(kvs[i].key, kvs[i].key_len, "746f702d736563726574", 20)); /* hex */
        if (kvs[i].value != NULL) {
            assert_null(memmem(kvs[i].value, kvs[i].value_len, "top-secret", 10));
            assert_null(memmem(kvs[i].value, kvs[i].value_len, key16, 16));
        }
    }
    tstore_kvs_free(kvs, n);
    assert_int_equal(find_label(e->t, "top-secret-label", NULL), 1);
}

/* ---- storing ---------------------------------------------------------------------- */

static void test_store_rejects_session_object(void **state)
{
    tc_env *e = *state;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_data)};
    tcore_obj *o = NULL;
    CK_OBJECT_HANDLE h = 0;
    assert_int_equal(tcore_obj_new(e->t, NULL, TCORE_ORIGIN_CREATE, 0, 0, t, 1, NULL, 0, NULL, &o), CKR_OK);
    assert_int_equal(tcore_token_store_objects(e->t, &o, 1, &h), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(tcore_obj_handle(o), 0);
    tcore_obj_unref(o);
}

static void test_store_secret_needs_login(void **state)
{
    tc_env *e = *state;
    CK_OBJECT_HANDLE h = 0;
    tcore_obj *k = new_key(e, "k", "i", false);
    assert_int_equal(tcore_token_store_objects(e->t, &k, 1, &h), CKR_USER_NOT_LOGGED_IN);
    tcore_obj_unref(k);
    /* a public data object needs no key */
    h = store1(e, new_data(e, "public", "o", false));
    assert_int_equal(find_label(e->t, "public", NULL), 1);
}

static void test_store_is_atomic(void **state)
{
    tc_env *e = *state;
    /* the second object cannot be stored (secret, logged out): neither is */
    tcore_obj *objs[2] = {new_data(e, "first", "o", false), new_key(e, "second", "i", false)};
    CK_OBJECT_HANDLE hs[2];
    assert_int_equal(tcore_token_store_objects(e->t, objs, 2, hs), CKR_USER_NOT_LOGGED_IN);
    tcore_obj_unref(objs[0]);
    tcore_obj_unref(objs[1]);
    assert_int_equal(find_label(e->t, "first", NULL), 0);
}

static void test_set_attrs_persisted_and_reindexed(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE h = store1(e, new_key(e, "old-name", "id", true));
    tcore_obj *o = NULL;
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OK);
    CK_ATTRIBUTE t[] = {ATTR_STR(CKA_LABEL, "new-name"), ATTR(CKA_ENCRYPT, &ck_false)};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, N(t)), CKR_OK);
    tcore_obj_unref(o);
    tcore_tokens_close(e->ts);
    e->ts = env_open_set(e->dir);
    assert_int_equal(tcore_tokens_get(e->ts, 0, &e->t), CKR_OK);
    login_user(e);
    assert_int_equal(find_label(e->t, "old-name", NULL), 0);
    assert_int_equal(find_label(e->t, "new-name", NULL), 1);
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OK);
    assert_false(tcore_obj_bool(o, CKA_ENCRYPT, true));
    assert_int_equal(tcore_obj_check_use(o, CKM_AES_GCM, CKA_ENCRYPT), CKR_KEY_FUNCTION_NOT_PERMITTED);
    tcore_obj_unref(o);
    secret_ok(e->t, h);
}

static void test_set_attrs_sealed_needs_login(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE h = store1(e, new_data(e, "sealed-public", "o", false));
    tcore_token_release(e->t);
    tcore_obj *o = NULL;
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OK);
    CK_ATTRIBUTE t[] = {ATTR_STR(CKA_LABEL, "renamed")};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, 1), CKR_USER_NOT_LOGGED_IN);
    tcore_obj_unref(o);
}

static void test_destroy_token_object(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE h = store1(e, new_key(e, "bye", "id", true));
    CK_OBJECT_HANDLE keep = store1(e, new_key(e, "stay", "id2", true));
    tcore_obj *o = NULL;
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OK);
    assert_int_equal(tcore_obj_destroy(o), CKR_OK);
    tcore_obj_unref(o);
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(find_label(e->t, "bye", NULL), 0);
    /* gone from the store, index included */
    tcore_tokens *ts2 = env_open_set(e->dir);
    tcore_token *t2;
    assert_int_equal(tcore_tokens_get(ts2, 0, &t2), CKR_OK);
    assert_int_equal(tcore_token_unlock(t2, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(find_label(t2, "bye", NULL), 0);
    assert_int_equal(tcore_token_object(t2, h, tcore_token_key_available(t2), &o), CKR_OBJECT_HANDLE_INVALID);
    secret_ok(t2, keep);
    tcore_tokens_close(ts2);
}

static void test_destroy_private_needs_login(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE h = store1(e, new_key(e, "p", "id", true));
    tcore_obj *o = NULL;
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OK);
    tcore_token_release(e->t);
    assert_int_equal(tcore_obj_destroy(o), CKR_USER_NOT_LOGGED_IN);
    tcore_obj_unref(o);
}

/* ---- several token sets / processes --------------------------------------------- */

static void test_second_set_sees_changes(void **state)
{
    tc_env *e = *state;
    tcore_tokens *ts2 = env_open_set(e->dir);
    tcore_token *t2;
    CK_OBJECT_HANDLE h2 = 0;
    assert_int_equal(tcore_tokens_get(ts2, 0, &t2), CKR_OK);
    login_user(e);
    assert_int_equal(tcore_token_unlock(t2, CKU_USER, P(USER_PIN)), CKR_OK);
    /* B looks first (and caches nothing), A creates, B finds without restart */
    assert_int_equal(find_label(t2, "shared", NULL), 0);
    CK_OBJECT_HANDLE h = store1(e, new_key(e, "shared", "id", true));
    assert_int_equal(find_label(t2, "shared", &h2), 1);
    assert_int_equal(h2, h); /* same handle in both */
    secret_ok(t2, h);
    /* B renames it; A sees it at its next find */
    tcore_obj *o = NULL;
    assert_int_equal(tcore_token_object(t2, h, tcore_token_key_available(t2), &o), CKR_OK);
    CK_ATTRIBUTE t[] = {ATTR_STR(CKA_LABEL, "renamed")};
    assert_int_equal(tcore_obj_set_attrs(o, as_user(), t, 1), CKR_OK);
    tcore_obj_unref(o);
    assert_int_equal(find_label(e->t, "renamed", &h2), 1);
    assert_int_equal(h2, h);
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OK);
    char buf[16];
    CK_ULONG len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(o, CKA_LABEL, buf, &len), CKR_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "renamed", 7);
    tcore_obj_unref(o);
    /* a token initialised by A appears in B's slot list */
    tcore_token *free_slot;
    uint8_t label[32];
    label32(label, "second");
    assert_int_equal(tcore_tokens_get(e->ts, 1, &free_slot), CKR_OK);
    assert_int_equal(tcore_token_init(free_slot, P(SO_PIN), label), CKR_OK);
    CK_ULONG n = 0;
    assert_int_equal(tcore_tokens_slots(ts2, NULL, &n), CKR_OK);
    assert_int_equal(n, 3);
    tcore_token *t2b;
    assert_int_equal(tcore_tokens_get(ts2, 1, &t2b), CKR_OK);
    assert_true(tcore_token_initialized(t2b));
    tcore_tokens_close(ts2);
}

static void test_fork_processes(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE parent_h = store1(e, new_key(e, "from-parent", "p", true));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child: its own token set on the same directory */
        tcore_protector p;
        tcore_tokens *ts = NULL;
        tcore_token *t = NULL;
        CK_OBJECT_HANDLE h = 0;
        tcore_obj *o = NULL;
        uint8_t *k = NULL;
        size_t kl = 0;
        int rc = 1;
        if (tcore_protector_pin(&test_kdf, &p) != CKR_OK || tcore_tokens_open(e->db, &p, &ts) != CKR_OK ||
            tcore_tokens_get(ts, 0, &t) != CKR_OK ||
            tcore_token_unlock(t, CKU_USER, P(USER_PIN)) != CKR_OK) {
            _exit(2);
        }
        /* use the parent's key */
        if (tcore_token_object(t, parent_h, tcore_token_key_available(t), &o) != CKR_OK || tcore_obj_secret(o, &k, &kl) != CKR_OK ||
            kl != 16 || memcmp(k, key16, 16) != 0) {
            _exit(3);
        }
        tcrypto_secure_free(k, kl);
        tcore_obj_unref(o);
        CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, &c_sec), ATTR(CKA_KEY_TYPE, &k_aes),
                               ATTR(CKA_TOKEN, &ck_true), ATTR_STR(CKA_LABEL, "from-child"),
                               {CKA_VALUE, (void *)key16, 16}};
        if (tcore_obj_new(t, NULL, TCORE_ORIGIN_CREATE, 0, 0, tmpl, N(tmpl), NULL, 0, NULL, &o) == CKR_OK &&
            tcore_token_store_objects(t, &o, 1, &h) == CKR_OK) {
            rc = 0;
        }
        tcore_obj_unref(o);
        tcore_tokens_close(ts);
        _exit(rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    CK_OBJECT_HANDLE h = 0;
    assert_int_equal(find_label(e->t, "from-child", &h), 1);
    secret_ok(e->t, h);
}

/* ---- tampering --------------------------------------------------------------------- */

static tstore *raw_store(tc_env *e)
{
    char path[300];
    tstore *s = NULL;
    snprintf(path, sizeof(path), "%s/tessera.db", e->dir);
    assert_int_equal(tstore_open(path, &s), TSTORE_OK);
    return s;
}

static void obj_key(tc_env *e, CK_OBJECT_HANDLE h, char *out, size_t outlen)
{
    tcore_key_obj(out, outlen, tcore_token_id(e->t), (uint64_t)(h & TCORE_TOKEN_HANDLE_MASK));
}

/* Reopen the token set (a fresh process view) and log in. */
static void reopen(tc_env *e)
{
    tcore_tokens_close(e->ts);
    e->ts = env_open_set(e->dir);
    assert_int_equal(tcore_tokens_get(e->ts, 0, &e->t), CKR_OK);
    login_user(e);
}

static void expect_device_error(tc_env *e, CK_OBJECT_HANDLE h)
{
    tcore_obj *o = NULL;
    uint8_t *k = NULL;
    size_t kl = 0;
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OK);
    assert_int_equal(tcore_obj_secret(o, &k, &kl), CKR_DEVICE_ERROR);
    assert_null(k);
    tcore_obj_unref(o);
}

static void tamper_ciphertext(void **state, bool priv)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE bad = store1(e, new_key(e, "victim", "v", priv));
    CK_OBJECT_HANDLE good = store1(e, new_key(e, "bystander", "b", priv));
    char key[64];
    tstore_kv kv;
    tstore *s = raw_store(e);
    obj_key(e, bad, key, sizeof(key));
    assert_int_equal(tstore_get(s, key, strlen(key), &kv), TSTORE_OK);
    kv.value[kv.value_len - 20] ^= 0x01; /* inside the ciphertext */
    assert_int_equal(tstore_put(s, key, strlen(key), kv.value, kv.value_len, NULL), TSTORE_OK);
    tstore_kv_free(&kv);
    tstore_close(s);
    reopen(e);
    expect_device_error(e, bad);
    secret_ok(e->t, good);
}

static void test_tamper_ciphertext_private(void **state)
{
    tamper_ciphertext(state, true);
}

static void test_tamper_ciphertext_public(void **state)
{
    tamper_ciphertext(state, false);
}

/* Flip a protected attribute in the public part: CKA_EXTRACTABLE false->true
 * (u64 type, u32 length 1, value). */
static void test_tamper_protected_attribute(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE bad = store1(e, new_key(e, "victim", "v", true));
    CK_OBJECT_HANDLE good = store1(e, new_key(e, "bystander", "b", true));
    uint8_t pat[13];
    char key[64];
    tstore_kv kv;
    tc_store_u64(pat, CKA_EXTRACTABLE);
    tc_store_u32(pat + 8, 1);
    pat[12] = CK_FALSE;
    tstore *s = raw_store(e);
    obj_key(e, bad, key, sizeof(key));
    assert_int_equal(tstore_get(s, key, strlen(key), &kv), TSTORE_OK);
    uint8_t *at = memmem(kv.value, kv.value_len, pat, sizeof(pat));
    assert_non_null(at);
    at[12] = CK_TRUE;
    assert_int_equal(tstore_put(s, key, strlen(key), kv.value, kv.value_len, NULL), TSTORE_OK);
    tstore_kv_free(&kv);
    tstore_close(s);
    reopen(e);
    expect_device_error(e, bad);
    secret_ok(e->t, good);
    /* and the object never shows the forged value as usable material */
    tcore_obj *o = NULL;
    uint8_t buf[32];
    CK_ULONG len = sizeof(buf);
    assert_int_equal(tcore_token_object(e->t, bad, tcore_token_key_available(e->t), &o), CKR_OK);
    assert_int_equal(tcore_obj_attr_get(o, CKA_VALUE, buf, &len), CKR_DEVICE_ERROR);
    len = sizeof(buf);
    assert_int_equal(tcore_obj_attr_get(o, CKA_EXTRACTABLE, buf, &len), CKR_DEVICE_ERROR);
    tcore_obj_unref(o);
}

/* Edit a non-private key's usage flag while the process already holds it. */
static void test_tamper_seen_by_running_process(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE bad = store1(e, new_key(e, "victim", "v", false));
    uint8_t pat[13];
    char key[64];
    tstore_kv kv;
    tc_store_u64(pat, CKA_SIGN);
    tc_store_u32(pat + 8, 1);
    pat[12] = CK_TRUE;
    tstore *s = raw_store(e);
    obj_key(e, bad, key, sizeof(key));
    assert_int_equal(tstore_get(s, key, strlen(key), &kv), TSTORE_OK);
    uint8_t *at = memmem(kv.value, kv.value_len, pat, sizeof(pat));
    assert_non_null(at);
    at[12] = CK_FALSE;
    assert_int_equal(tstore_put(s, key, strlen(key), kv.value, kv.value_len, NULL), TSTORE_OK);
    tstore_kv_free(&kv);
    tstore_close(s);
    /* a find re-reads the store: the forged object is no longer offered */
    assert_int_equal(find_label(e->t, "victim", NULL), 0);
    expect_device_error(e, bad);
    tcore_obj *o = NULL;
    CK_BBOOL b;
    CK_ATTRIBUTE q[] = {{CKA_SIGN, &b, sizeof(b)}};
    assert_int_equal(tcore_token_object(e->t, bad, tcore_token_key_available(e->t), &o), CKR_OK);
    assert_int_equal(tcore_obj_get_attrs(o, q, 1), CKR_DEVICE_ERROR);
    tcore_obj_unref(o);
}

/* An attribute injected into a private object's public part (where the
 * AAD would not cover it) makes the object broken. */
static void test_injected_public_attribute(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE h = store1(e, new_key(e, "inj", "i", true));
    char key[64];
    tstore_kv kv;
    tcore_record rec;
    tstore *s = raw_store(e);
    obj_key(e, h, key, sizeof(key));
    assert_int_equal(tstore_get(s, key, strlen(key), &kv), TSTORE_OK);
    assert_int_equal(tcore_record_decode(kv.value, kv.value_len, &rec), CKR_OK);
    /* re-encode with one more public attribute */
    tc_buf b;
    tc_buf_init(&b);
    tc_buf_put(&b, "TSO1", 4);
    tc_buf_put_u64(&b, rec.obj_id);
    tc_buf_put_u64(&b, rec.cls);
    tc_buf_put_u64(&b, rec.key_type);
    tc_buf_put_u32(&b, rec.flags);
    assert_true(tcore_attrs_set(&rec.attrs, &rec.nattrs, CKA_APPLICATION, "evil", 4));
    tcore_attrs_encode(&b, rec.attrs, rec.nattrs);
    tc_buf_put_u32(&b, (uint32_t)rec.sealed_len);
    tc_buf_put(&b, rec.sealed, rec.sealed_len);
    assert_false(b.failed);
    assert_int_equal(tstore_put(s, key, strlen(key), b.p, b.len, NULL), TSTORE_OK);
    tc_buf_free(&b);
    tcore_record_free(&rec);
    tstore_kv_free(&kv);
    tstore_close(s);
    reopen(e);
    expect_device_error(e, h);
}

/* A record stripped of its seal cannot claim CKA_TRUSTED. */
static void test_unsealed_trusted_refused(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = NULL;
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    CK_OBJECT_CLASS c_cert = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE x509 = CKC_X_509;
    CK_ATTRIBUTE t[] = {ATTR(CKA_CLASS, &c_cert), ATTR(CKA_CERTIFICATE_TYPE, &x509),
                        ATTR(CKA_TOKEN, &ck_true), ATTR_STR(CKA_LABEL, "ca"),
                        ATTR_STR(CKA_SUBJECT, "s"), ATTR_STR(CKA_VALUE, "v"), ATTR(CKA_TRUSTED, &ck_true)};
    assert_int_equal(tcore_obj_new(e->t, as_so(), TCORE_ORIGIN_CREATE, 0, 0, t, N(t), NULL, 0, NULL, &o), CKR_OK);
    CK_OBJECT_HANDLE h = store1(e, o);
    char key[64];
    tstore_kv kv;
    tcore_record rec;
    tstore *s = raw_store(e);
    obj_key(e, h, key, sizeof(key));
    assert_int_equal(tstore_get(s, key, strlen(key), &kv), TSTORE_OK);
    assert_int_equal(tcore_record_decode(kv.value, kv.value_len, &rec), CKR_OK);
    tc_buf b;
    tc_buf_init(&b);
    tc_buf_put(&b, "TSO2", 4);
    tc_buf_put_u64(&b, rec.obj_id);
    tc_buf_put_u64(&b, rec.cls);
    tc_buf_put_u64(&b, rec.key_type);
    tc_buf_put_u32(&b, 0); /* no seal */
    tc_buf_put_u64(&b, rec.serial + 1);
    tcore_attrs_encode_portable(&b, rec.cls, rec.key_type, rec.attrs, rec.nattrs);
    tc_buf_put_u32(&b, 0);
    assert_int_equal(tstore_put(s, key, strlen(key), b.p, b.len, NULL), TSTORE_OK);
    tc_buf_free(&b);
    tcore_record_free(&rec);
    tstore_kv_free(&kv);
    tstore_close(s);
    tcore_tokens_close(e->ts);
    e->ts = env_open_set(e->dir);
    assert_int_equal(tcore_tokens_get(e->ts, 0, &e->t), CKR_OK);
    assert_int_equal(find_label(e->t, "ca", NULL), 0);
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OK);
    CK_BBOOL tr;
    CK_ATTRIBUTE q[] = {{CKA_TRUSTED, &tr, sizeof(tr)}};
    assert_int_equal(tcore_obj_get_attrs(o, q, 1), CKR_DEVICE_ERROR);
    tcore_obj_unref(o);
}

/* A record copied under another object's key is refused. */
static void test_swapped_record(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE a = store1(e, new_key(e, "a", "a", true));
    CK_OBJECT_HANDLE b = store1(e, new_key(e, "b", "b", true));
    char ka[64], kb[64];
    tstore_kv kv;
    tstore *s = raw_store(e);
    obj_key(e, a, ka, sizeof(ka));
    obj_key(e, b, kb, sizeof(kb));
    assert_int_equal(tstore_get(s, ka, strlen(ka), &kv), TSTORE_OK);
    assert_int_equal(tstore_put(s, kb, strlen(kb), kv.value, kv.value_len, NULL), TSTORE_OK);
    tstore_kv_free(&kv);
    tstore_close(s);
    reopen(e);
    expect_device_error(e, b);
    secret_ok(e->t, a);
}

static void test_malformed_record(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE h = store1(e, new_key(e, "m", "m", true));
    CK_OBJECT_HANDLE good = store1(e, new_key(e, "ok", "ok", true));
    char key[64];
    tstore *s = raw_store(e);
    obj_key(e, h, key, sizeof(key));
    assert_int_equal(tstore_put(s, key, strlen(key), "TSO1garbage", 11, NULL), TSTORE_OK);
    tstore_close(s);
    reopen(e);
    tcore_obj *o = NULL;
    assert_int_equal(tcore_token_object(e->t, h, tcore_token_key_available(e->t), &o), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(find_label(e->t, "m", NULL), 0);
    assert_int_equal(find_n(e->t, NULL, 0, NULL), 1);
    secret_ok(e->t, good);
}

static void test_record_decoder_rejects(void **state)
{
    (void)state;
    tcore_record r;
    uint8_t buf[64];
    /* "TSO1" | id @4 | class @12 | key type @20 | flags @28 | nattrs @32 | sealed_len @36 */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, "TSO1", 4);
    assert_int_equal(tcore_record_decode(buf, 40, &r), CKR_DEVICE_ERROR); /* id 0 */
    buf[11] = 1;
    assert_int_equal(tcore_record_decode(buf, 40, &r), CKR_OK);
    assert_int_equal(r.obj_id, 1);
    assert_int_equal(r.nattrs, 0);
    assert_null(r.sealed);
    tcore_record_free(&r);
    assert_int_equal(tcore_record_decode(buf, 41, &r), CKR_DEVICE_ERROR); /* trailing byte */
    assert_int_equal(tcore_record_decode(buf, 39, &r), CKR_DEVICE_ERROR); /* truncated */
    tc_store_u32(buf + 32, 0xFFFFFFFFu);
    assert_int_equal(tcore_record_decode(buf, 40, &r), CKR_DEVICE_ERROR); /* count lies */
    tc_store_u32(buf + 32, 0);
    buf[31] = 0x80;
    assert_int_equal(tcore_record_decode(buf, 40, &r), CKR_DEVICE_ERROR); /* unknown flag */
    buf[31] = TCORE_REC_PRIVATE;
    assert_int_equal(tcore_record_decode(buf, 40, &r), CKR_DEVICE_ERROR); /* private, unsealed */
    buf[31] = TCORE_REC_SEALED;
    assert_int_equal(tcore_record_decode(buf, 40, &r), CKR_DEVICE_ERROR); /* sealed, no part */
    buf[31] = 0;
    memcpy(buf, "TSO2", 4);
    assert_int_equal(tcore_record_decode(buf, 40, &r), CKR_DEVICE_ERROR); /* magic */
}

/* ---- threads ------------------------------------------------------------------------ */

typedef struct {
    tcore_token *t;
    CK_OBJECT_HANDLE h;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < 300; i++) {
        tcore_obj *o = NULL;
        uint8_t *k = NULL;
        size_t kl = 0;
        if (tcore_token_object(a->t, a->h, tcore_token_key_available(a->t), &o) != CKR_OK || tcore_obj_secret(o, &k, &kl) != CKR_OK ||
            kl != 16 || memcmp(k, key16, 16) != 0) {
            a->failures++;
        }
        tcrypto_secure_free(k, kl);
        tcore_obj_unref(o);
    }
    return NULL;
}

static void test_threads_share_objects(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE h = store1(e, new_key(e, "hot", "h", true));
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){e->t, h, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

typedef struct {
    tcore_token *t;
    CK_OBJECT_HANDLE h;
    int bad;
    atomic_int *stop;
} churn_arg;

static void *churn_worker(void *p)
{
    churn_arg *a = p;
    while (!atomic_load(a->stop)) {
        tcore_obj *o = NULL;
        uint8_t *k = NULL;
        size_t kl = 0;
        CK_RV rv = tcore_token_object(a->t, a->h, tcore_token_key_available(a->t), &o);
        if (rv == CKR_OK) {
            rv = tcore_obj_secret(o, &k, &kl);
            if (rv == CKR_OK && (kl != 16 || memcmp(k, key16, 16) != 0)) {
                a->bad++; /* a wrong key must never come out */
            }
            if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) {
                a->bad++;
            }
            tcrypto_secure_free(k, kl);
            tcore_obj_unref(o);
        } else if (rv != CKR_OBJECT_HANDLE_INVALID) {
            a->bad++;
        }
    }
    return NULL;
}

/* Sessions keep using a key while the application logs out and in. */
static void test_threads_with_logout(void **state)
{
    tc_env *e = *state;
    atomic_int stop;
    atomic_init(&stop, 0);
    login_user(e);
    CK_OBJECT_HANDLE h = store1(e, new_key(e, "churn", "c", true));
    pthread_t th[3];
    churn_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (churn_arg){e->t, h, 0, &stop};
        assert_int_equal(pthread_create(&th[i], NULL, churn_worker, &args[i]), 0);
    }
    for (int i = 0; i < 10; i++) {
        tcore_token_release(e->t);
        login_user(e);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    secret_ok(e->t, h);
}

static void test_key_locked_after_logout(void **state)
{
    tc_env *e = *state;
    login_user(e);
    CK_OBJECT_HANDLE hpub = store1(e, new_key(e, "pubkey", "p", false));
    CK_OBJECT_HANDLE hpriv = store1(e, new_key(e, "privkey", "q", true));
    tcore_obj *a = NULL, *b = NULL;
    assert_int_equal(tcore_token_object(e->t, hpub, tcore_token_key_available(e->t), &a), CKR_OK);
    assert_int_equal(tcore_token_object(e->t, hpriv, tcore_token_key_available(e->t), &b), CKR_OK);
    tcore_token_release(e->t);
    uint8_t *k = NULL;
    size_t kl = 0;
    /* references held across the logout yield nothing */
    assert_int_equal(tcore_obj_secret(a, &k, &kl), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(tcore_obj_secret(b, &k, &kl), CKR_USER_NOT_LOGGED_IN);
    assert_null(k);
    tcore_obj_unref(a);
    tcore_obj_unref(b);
    login_user(e);
    secret_ok(e->t, hpub);
    secret_ok(e->t, hpriv);
}

static void test_lookup_errors(void **state)
{
    tc_env *e = *state;
    tcore_obj *o = NULL;
    login_user(e);
    /* a session-object handle, a token handle that does not exist */
    assert_int_equal(tcore_token_object(e->t, 5, tcore_token_key_available(e->t), &o), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_token_object(e->t, TCORE_TOKEN_HANDLE_BIT | 12345, tcore_token_key_available(e->t), &o),
                     CKR_OBJECT_HANDLE_INVALID);
    assert_null(o);
    /* the free slot has no objects */
    tcore_token *free_slot;
    CK_OBJECT_HANDLE *hs = NULL;
    CK_ULONG n = 9;
    assert_int_equal(tcore_tokens_get(e->ts, 1, &free_slot), CKR_OK);
    assert_int_equal(tcore_token_find(free_slot, tcore_token_key_available(free_slot), NULL, 0, &hs, &n), CKR_OK);
    assert_int_equal(n, 0);
    free(hs);
    assert_int_equal(tcore_token_find(e->t, tcore_token_key_available(e->t), NULL, 0, NULL, &n), CKR_ARGUMENTS_BAD);
    /* storing into the wrong token, or twice */
    tcore_obj *k = new_key(e, "twice", "t", true);
    CK_OBJECT_HANDLE h;
    assert_int_equal(tcore_token_store_objects(free_slot, &k, 1, &h), CKR_TOKEN_NOT_RECOGNIZED);
    assert_int_equal(tcore_token_store_objects(e->t, &k, 1, &h), CKR_OK);
    assert_int_equal(tcore_token_store_objects(e->t, &k, 1, &h), CKR_TEMPLATE_INCONSISTENT);
    tcore_obj_unref(k);
}

#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_find_by_label_id_class),
        T(test_find_uses_index_not_scan),
        T(test_find_creation_order),
        T(test_private_label_not_in_clear),
        T(test_store_rejects_session_object),
        T(test_store_secret_needs_login),
        T(test_store_is_atomic),
        T(test_set_attrs_persisted_and_reindexed),
        T(test_set_attrs_sealed_needs_login),
        T(test_destroy_token_object),
        T(test_destroy_private_needs_login),
        T(test_second_set_sees_changes),
        T(test_fork_processes),
        T(test_tamper_ciphertext_private),
        T(test_tamper_ciphertext_public),
        T(test_tamper_protected_attribute),
        T(test_tamper_seen_by_running_process),
        T(test_swapped_record),
        T(test_injected_public_attribute),
        T(test_unsealed_trusted_refused),
        T(test_malformed_record),
        cmocka_unit_test(test_record_decoder_rejects),
        T(test_threads_share_objects),
        T(test_key_locked_after_logout),
        T(test_lookup_errors),
        T(test_threads_with_logout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
