/*
 * Store integrity at the core's level. The whole-store anchor (core/meta.c):
 * a rollback of the entire store file to an older copy is accepted without
 * an anchor (the limit of embedded mode) and refused with one; the anchor
 * advances with every commit; a running process refuses an older generation
 * than one it has seen even without an anchor. The PIN protector refuses a
 * KDF cost beyond what the configuration allows, for an attacker who could
 * also re-MAC the metadata.
 */
#include "test_core_util.h"

#define SO "so-pin-1234"

static char dir[256], db[300];

/* The anchor under test: one counter per token id, in memory. */
typedef struct {
    char tokid[17];
    uint64_t gen;
    int advances;
} mem_anchor;

static CK_RV a_read(void *ctx, const char *tokid, uint64_t *gen)
{
    mem_anchor *a = ctx;
    *gen = strcmp(a->tokid, tokid) == 0 ? a->gen : 0;
    return CKR_OK;
}

static CK_RV a_advance(void *ctx, const char *tokid, uint64_t gen)
{
    mem_anchor *a = ctx;
    if (strcmp(a->tokid, tokid) != 0) {
        snprintf(a->tokid, sizeof(a->tokid), "%s", tokid);
        a->gen = 0;
    }
    if (gen > a->gen) {
        a->gen = gen;
    }
    a->advances++;
    return CKR_OK;
}

static tcore_tokens *open_set(mem_anchor *a)
{
    static const tcrypto_pin_kdf_params cheap = {1, 64, 1};
    tcore_protector p;
    tstore *s = NULL;
    tcore_tokens *ts = NULL;
    assert_int_equal(tcore_protector_pin(&cheap, &p), CKR_OK);
    assert_int_equal(tstore_open(db, &s), TSTORE_OK);
    assert_int_equal(tcore_tokens_open_store(s, true, &p, &ts), CKR_OK);
    if (a != NULL) {
        tcore_anchor an = {a_read, a_advance, NULL, a};
        tcore_tokens_set_anchor(ts, &an);
    }
    return ts;
}

static void sh(const char *cmd)
{
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tessera-anchor-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/t.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_whole_store_rollback(void **state)
{
    (void)state;
    mem_anchor a;
    memset(&a, 0, sizeof(a));
    uint8_t label[32];
    tcore_token *t = NULL;
    CK_TOKEN_INFO ti;

    tcore_tokens *ts = open_set(&a);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    label32(label, "first");
    assert_int_equal(tcore_token_init(t, (const uint8_t *)SO, strlen(SO), label), CKR_OK);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_OK);
    assert_int_equal(a.gen, 1);
    tcore_tokens_close(ts);
    /* the old copy: the whole file (its key file stays as it is) */
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cp '%s/t.db' '%s/old.db'", dir, dir);
    sh(cmd);

    ts = open_set(&a);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    label32(label, "second");
    assert_int_equal(tcore_token_init(t, (const uint8_t *)SO, strlen(SO), label), CKR_OK);
    assert_int_equal(a.gen, 2);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_OK);
    assert_memory_equal(ti.label, label, 32);
    tcore_tokens_close(ts);

    snprintf(cmd, sizeof(cmd), "cp '%s/old.db' '%s/t.db' && rm -f '%s/t.db-wal' '%s/t.db-shm'",
             dir, dir, dir, dir);
    sh(cmd);
    /* without an anchor the older copy is accepted: embedded mode's limit */
    ts = open_set(NULL);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_OK);
    label32(label, "first");
    assert_memory_equal(ti.label, label, 32);
    tcore_tokens_close(ts);
    /* with it, refused */
    ts = open_set(&a);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_DEVICE_ERROR);
    assert_int_equal(tcore_token_init(t, (const uint8_t *)SO, strlen(SO), label),
                     CKR_DEVICE_ERROR);
    tcore_tokens_close(ts);
}

/* One process sees generation 2, then the file goes back to generation 1
 * under it: refused, anchor or not. */
static void test_running_process_refuses_older(void **state)
{
    (void)state;
    uint8_t label[32];
    tcore_token *t = NULL;
    CK_TOKEN_INFO ti;

    tcore_tokens *ts = open_set(NULL);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    label32(label, "one");
    assert_int_equal(tcore_token_init(t, (const uint8_t *)SO, strlen(SO), label), CKR_OK);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_OK);
    char q[600];
    snprintf(q, sizeof(q),
             "sqlite3 '%s' \"create table saved as select key, value from kv where "
             "cast(key as text) like 't/%%'\"",
             db);
    assert_int_equal(system(q), 0);
    label32(label, "two");
    assert_int_equal(tcore_token_init(t, (const uint8_t *)SO, strlen(SO), label), CKR_OK);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_OK);
    snprintf(q, sizeof(q),
             "sqlite3 '%s' \"update kv set value = (select value from saved where saved.key = "
             "kv.key) where key in (select key from saved)\"",
             db);
    assert_int_equal(system(q), 0);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_DEVICE_ERROR);
    tcore_tokens_close(ts);
}

/* The integrity key file: a store with tokens whose key file is gone is
 * refused whole (a new key would only make every check fail); a key file
 * swapped for another store's fails every check. */
static void test_key_file_missing_or_swapped(void **state)
{
    (void)state;
    static const tcrypto_pin_kdf_params cheap = {1, 64, 1};
    uint8_t label[32];
    tcore_token *t = NULL;
    CK_TOKEN_INFO ti;
    char cmd[1400];

    tcore_tokens *ts = open_set(NULL);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    label32(label, "keyed");
    assert_int_equal(tcore_token_init(t, (const uint8_t *)SO, strlen(SO), label), CKR_OK);
    tcore_tokens_close(ts);

    snprintf(cmd, sizeof(cmd), "mv '%s/t.db.key' '%s/saved.key'", dir, dir);
    sh(cmd);
    tcore_protector p;
    tstore *s = NULL;
    assert_int_equal(tcore_protector_pin(&cheap, &p), CKR_OK);
    assert_int_equal(tstore_open(db, &s), TSTORE_OK);
    assert_int_equal(tcore_tokens_open_store(s, true, &p, &ts), CKR_DEVICE_ERROR);
    snprintf(cmd, sizeof(cmd), "test ! -e '%s/t.db.key'", dir);
    sh(cmd);

    /* another random key in its place */
    snprintf(cmd, sizeof(cmd), "head -c 32 /dev/urandom > '%s/t.db.key' && chmod 600 '%s/t.db.key'",
             dir, dir);
    sh(cmd);
    ts = open_set(NULL);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_DEVICE_ERROR);
    tcore_tokens_close(ts);

    snprintf(cmd, sizeof(cmd), "mv '%s/saved.key' '%s/t.db.key'", dir, dir);
    sh(cmd);
    ts = open_set(NULL);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_OK);
    tcore_tokens_close(ts);
}

/* The file anchor: whole-store rollback refused across processes (two
 * token sets), the file never lowered, a damaged file refused. */
static void test_file_anchor(void **state)
{
    (void)state;
    char apath[400], cmd[1400];
    uint8_t label[32];
    tcore_token *t = NULL;
    CK_TOKEN_INFO ti;
    tcore_anchor an;
    snprintf(apath, sizeof(apath), "%s/anchor", dir);

    tcore_tokens *ts = open_set(NULL);
    assert_int_equal(tcore_anchor_file(apath, &an), CKR_OK);
    tcore_tokens_set_anchor(ts, &an);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    label32(label, "a1");
    assert_int_equal(tcore_token_init(t, (const uint8_t *)SO, strlen(SO), label), CKR_OK);
    char tokid[17];
    snprintf(tokid, sizeof(tokid), "%s", tcore_token_id(t));
    tcore_tokens_close(ts);
    snprintf(cmd, sizeof(cmd), "cp '%s/t.db' '%s/old.db'", dir, dir);
    sh(cmd);

    ts = open_set(NULL);
    assert_int_equal(tcore_anchor_file(apath, &an), CKR_OK);
    tcore_tokens_set_anchor(ts, &an);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    label32(label, "a2");
    assert_int_equal(tcore_token_init(t, (const uint8_t *)SO, strlen(SO), label), CKR_OK);
    tcore_tokens_close(ts);

    /* the anchor holds generation 2 and is never lowered */
    assert_int_equal(tcore_anchor_file(apath, &an), CKR_OK);
    uint64_t g = 0;
    assert_int_equal(an.read(an.ctx, tokid, &g), CKR_OK);
    assert_int_equal(g, 2);
    assert_int_equal(an.advance(an.ctx, tokid, 1), CKR_OK);
    assert_int_equal(an.read(an.ctx, tokid, &g), CKR_OK);
    assert_int_equal(g, 2);
    assert_int_equal(an.read(an.ctx, "00000000000000aa", &g), CKR_OK);
    assert_int_equal(g, 0);
    an.destroy(an.ctx);

    snprintf(cmd, sizeof(cmd), "cp '%s/old.db' '%s/t.db' && rm -f '%s/t.db-wal' '%s/t.db-shm'",
             dir, dir, dir, dir);
    sh(cmd);
    ts = open_set(NULL);
    assert_int_equal(tcore_anchor_file(apath, &an), CKR_OK);
    tcore_tokens_set_anchor(ts, &an);
    assert_int_equal(tcore_tokens_get(ts, 0, &t), CKR_OK);
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_DEVICE_ERROR);
    tcore_tokens_close(ts);

    /* a damaged anchor file is refused, not taken as empty */
    snprintf(cmd, sizeof(cmd), "echo garbage >> '%s'", apath);
    sh(cmd);
    assert_int_equal(tcore_anchor_file(apath, &an), CKR_OK);
    assert_int_equal(an.read(an.ctx, tokid, &g), CKR_DEVICE_ERROR);
    an.destroy(an.ctx);
}

static void test_kdf_cost_cap(void **state)
{
    (void)state;
    static const tcrypto_pin_kdf_params cheap = {1, 64, 1};
    tcore_protector p;
    uint8_t key[TCORE_TOKEN_KEY_LEN], out[TCORE_TOKEN_KEY_LEN];
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(tcore_protector_pin(&cheap, &p), CKR_OK);
    assert_int_equal(p.create(p.ctx, "0123456789abcdef", (const uint8_t *)SO, strlen(SO), key,
                              &blob, &len),
                     CKR_OK);
    assert_int_equal(p.unlock(p.ctx, "0123456789abcdef", blob, len, CKU_SO, (const uint8_t *)SO,
                              strlen(SO), out),
                     CKR_OK);
    assert_memory_equal(key, out, sizeof(key));
    /* t_cost (offset 4) far above 4 x max(configured, default): refused
     * without running the KDF, and not as a wrong PIN */
    uint32_t cap_t = 4 * (tcrypto_pin_kdf_default.t_cost > 1 ? tcrypto_pin_kdf_default.t_cost : 1);
    tc_store_u32(blob + 4, cap_t + 1);
    assert_int_equal(p.unlock(p.ctx, "0123456789abcdef", blob, len, CKU_SO, (const uint8_t *)SO,
                              strlen(SO), out),
                     CKR_DEVICE_ERROR);
    tc_store_u32(blob + 4, 1);
    /* m_cost (offset 8) likewise */
    uint32_t cap_m = 4 * tcrypto_pin_kdf_default.m_cost;
    tc_store_u32(blob + 8, cap_m + 1);
    assert_int_equal(p.unlock(p.ctx, "0123456789abcdef", blob, len, CKU_SO, (const uint8_t *)SO,
                              strlen(SO), out),
                     CKR_DEVICE_ERROR);
    free(blob);
    p.destroy(p.ctx);
}

int main(void)
{
    tc_log_set_level(TC_LOG_ERROR);
    if (tcrypto_init() != TCRYPTO_OK) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whole_store_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_running_process_refuses_older, setup, teardown),
        cmocka_unit_test(test_kdf_cost_cap),
        cmocka_unit_test_setup_teardown(test_file_anchor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_missing_or_swapped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
