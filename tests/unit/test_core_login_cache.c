/*
 * The PIN hash default and the opt-in login cache (core/protector.c):
 * - the default Argon2id cost is the OWASP one (19 MiB, t=2, 1 lane), and a
 *   blob made with the former default (64 MiB) still opens;
 * - a user login within login_cache_seconds of a full one is answered from
 *   the kernel user keyring, and nothing else is: a wrong PIN with a warm
 *   entry fails and counts, an expired or damaged entry is not used, an
 *   entry that unwraps to another key is refused by the token, a PIN change
 *   drops it, the SO is never cached.
 *
 * Whether an unlock was a cache hit is read from the keyring: a full login
 * always rewrites the entry with a fresh salt, a hit leaves it as it was.
 */
#include <time.h>

#include <linux/keyctl.h>
#include <sys/syscall.h>

#include "test_core_util.h"

#define P(s) (const uint8_t *)(s), strlen(s)

/* the entry layout of protector.c */
#define LC_LEN (4 + 8 + 16 + 12 + 32 + 16)

static void random_id(char out[17])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[8];
    assert_int_equal(tcrypto_random(raw, sizeof(raw)), TCRYPTO_OK);
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[16] = '\0';
}

static long entry_find(const char *token_id)
{
    char desc[64];
    snprintf(desc, sizeof(desc), "tessera:login:v1:%s", token_id);
    return syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0);
}

/* The entry's bytes (LC_LEN) or false when there is none. */
static bool entry_read(const char *token_id, uint8_t out[LC_LEN])
{
    long id = entry_find(token_id);
    if (id < 0) {
        return false;
    }
    return syscall(SYS_keyctl, KEYCTL_READ, id, out, LC_LEN) == LC_LEN;
}

static void entry_write(const char *token_id, const uint8_t in[LC_LEN])
{
    long id = entry_find(token_id);
    assert_true(id >= 0);
    assert_int_equal(syscall(SYS_keyctl, KEYCTL_UPDATE, id, in, LC_LEN), 0);
}

static void entry_drop(const char *token_id)
{
    long id = entry_find(token_id);
    if (id >= 0) {
        (void)syscall(SYS_keyctl, KEYCTL_UNLINK, id, KEY_SPEC_USER_KEYRING);
    }
}

static bool keyring_usable(void)
{
    long id = syscall(SYS_add_key, "user", "tessera:login:probe", "x", 1, KEY_SPEC_USER_KEYRING);
    if (id < 0) {
        return false;
    }
    (void)syscall(SYS_keyctl, KEYCTL_UNLINK, id, KEY_SPEC_USER_KEYRING);
    return true;
}

#define NEED_KEYRING()                                                                             \
    do {                                                                                           \
        if (!keyring_usable()) {                                                                   \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* A protector (cache_seconds) and a blob with SO and user PINs. */
typedef struct {
    tcore_protector p;
    char id[17];
    uint8_t key[TCORE_TOKEN_KEY_LEN];
    uint8_t *blob;
    size_t len;
} pp_env;

static void pp_up(pp_env *e, const tcrypto_pin_kdf_params *kdf, uint32_t cache_seconds)
{
    uint8_t *nb;
    size_t nlen;
    random_id(e->id);
    assert_int_equal(tcore_protector_pin_cached(kdf, cache_seconds, &e->p), CKR_OK);
    assert_int_equal(e->p.create(e->p.ctx, e->id, P(SO_PIN), e->key, &e->blob, &e->len), CKR_OK);
    assert_int_equal(e->p.set_pin(e->p.ctx, e->id, e->blob, e->len, CKU_USER, e->key, P(USER_PIN),
                                  &nb, &nlen),
                     CKR_OK);
    free(e->blob);
    e->blob = nb;
    e->len = nlen;
}

static void pp_down(pp_env *e)
{
    entry_drop(e->id);
    e->p.destroy(e->p.ctx);
    free(e->blob);
}

static CK_RV pp_unlock(pp_env *e, CK_USER_TYPE who, const char *pin, uint8_t *got)
{
    return e->p.unlock(e->p.ctx, e->id, e->blob, e->len, who, P(pin), got);
}

static void test_default_is_owasp(void **state)
{
    (void)state;
    tcore_protector p;
    uint8_t key[TCORE_TOKEN_KEY_LEN], *blob;
    size_t len;
    assert_int_equal(tcrypto_pin_kdf_default.t_cost, 2);
    assert_int_equal(tcrypto_pin_kdf_default.m_cost, 19456);
    assert_int_equal(tcrypto_pin_kdf_default.parallel, 1);
    /* a new token's blob records the default */
    assert_int_equal(tcore_protector_pin(NULL, &p), CKR_OK);
    assert_int_equal(p.create(p.ctx, "0123456789abcdef", P(SO_PIN), key, &blob, &len), CKR_OK);
    assert_memory_equal(blob, "TPP1", 4);
    assert_int_equal(tc_load_u32(blob + 4), 2);
    assert_int_equal(tc_load_u32(blob + 8), 19456);
    assert_int_equal(tc_load_u32(blob + 12), 1);
    free(blob);
    p.destroy(p.ctx);
    assert_int_equal(tcore_protector_pin_cached(NULL, 86401, &p), CKR_ARGUMENTS_BAD);
}

/* A token made with the former default (t=2, 64 MiB) keeps opening with
 * its own parameters under the new default. */
static void test_former_default_still_opens(void **state)
{
    (void)state;
    static const tcrypto_pin_kdf_params old = {2, 65536, 1};
    pp_env e;
    tcore_protector now;
    uint8_t got[TCORE_TOKEN_KEY_LEN];
    pp_up(&e, &old, 0);
    assert_int_equal(tc_load_u32(e.blob + 8), 65536);
    assert_int_equal(tcore_protector_pin(NULL, &now), CKR_OK);
    assert_int_equal(now.unlock(now.ctx, e.id, e.blob, e.len, CKU_USER, P(USER_PIN), got), CKR_OK);
    assert_memory_equal(got, e.key, sizeof(got));
    assert_int_equal(now.unlock(now.ctx, e.id, e.blob, e.len, CKU_SO, P(SO_PIN), got), CKR_OK);
    assert_int_equal(now.unlock(now.ctx, e.id, e.blob, e.len, CKU_USER, P("user-1235"), got),
                     CKR_PIN_INCORRECT);
    now.destroy(now.ctx);
    pp_down(&e);
}

static void test_cache_off_writes_nothing(void **state)
{
    (void)state;
    pp_env e;
    uint8_t got[TCORE_TOKEN_KEY_LEN], ent[LC_LEN];
    pp_up(&e, &test_kdf, 0);
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_false(entry_read(e.id, ent));
    pp_down(&e);
}

static void test_cache_hit(void **state)
{
    (void)state;
    NEED_KEYRING();
    pp_env e;
    uint8_t got[TCORE_TOKEN_KEY_LEN], a[LC_LEN], b[LC_LEN];
    pp_up(&e, &test_kdf, 60);
    assert_false(entry_read(e.id, a));
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_memory_equal(got, e.key, sizeof(got));
    assert_true(entry_read(e.id, a));
    /* never the PIN or the key in clear */
    assert_null(memmem(a, LC_LEN, e.key, sizeof(e.key)));
    assert_null(memmem(a, LC_LEN, USER_PIN, strlen(USER_PIN)));
    memset(got, 0, sizeof(got));
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_memory_equal(got, e.key, sizeof(got));
    assert_true(entry_read(e.id, b));
    assert_memory_equal(a, b, LC_LEN); /* a hit: not rewritten */
    /* the SO is never cached */
    entry_drop(e.id);
    assert_int_equal(pp_unlock(&e, CKU_SO, SO_PIN, got), CKR_OK);
    assert_false(entry_read(e.id, a));
    pp_down(&e);
}

/* A wrong PIN against a warm entry takes the full path and fails there. */
static void test_cache_wrong_pin(void **state)
{
    (void)state;
    NEED_KEYRING();
    pp_env e;
    uint8_t got[TCORE_TOKEN_KEY_LEN], a[LC_LEN], b[LC_LEN];
    pp_up(&e, &test_kdf, 60);
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_true(entry_read(e.id, a));
    assert_int_equal(pp_unlock(&e, CKU_USER, "user-1235", got), CKR_PIN_INCORRECT);
    assert_int_equal(pp_unlock(&e, CKU_USER, "", got), CKR_PIN_INCORRECT);
    assert_int_equal(pp_unlock(&e, CKU_USER, SO_PIN, got), CKR_PIN_INCORRECT);
    /* the entry stays as it was and still serves the right PIN */
    assert_true(entry_read(e.id, b));
    assert_memory_equal(a, b, LC_LEN);
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_memory_equal(got, e.key, sizeof(got));
    pp_down(&e);
}

static void test_cache_expired(void **state)
{
    (void)state;
    NEED_KEYRING();
    pp_env e;
    tcore_protector shorter;
    uint8_t got[TCORE_TOKEN_KEY_LEN], a[LC_LEN], b[LC_LEN];
    pp_up(&e, &test_kdf, 60);
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_true(entry_read(e.id, a));
    /* an entry that outlives what this configuration allows is not used
     * (and is rewritten by the full login) */
    assert_int_equal(tcore_protector_pin_cached(&test_kdf, 5, &shorter), CKR_OK);
    assert_int_equal(
        shorter.unlock(shorter.ctx, e.id, e.blob, e.len, CKU_USER, P(USER_PIN), got), CKR_OK);
    assert_true(entry_read(e.id, b));
    assert_memory_not_equal(a, b, LC_LEN);
    shorter.destroy(shorter.ctx);
    pp_down(&e);

    /* an entry past its expiry: the kernel drops it, and the entry's own
     * expiry would refuse it anyway */
    pp_up(&e, &test_kdf, 1);
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_true(entry_read(e.id, a));
    sleep(2);
    assert_false(entry_read(e.id, b));
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_memory_equal(got, e.key, sizeof(got));
    assert_true(entry_read(e.id, b));
    assert_memory_not_equal(a, b, LC_LEN);
    assert_int_equal(pp_unlock(&e, CKU_USER, "user-1235", got), CKR_PIN_INCORRECT);
    pp_down(&e);
}

/* Any byte of the entry changed: not used; the full login replaces it. */
static void test_cache_tampered(void **state)
{
    (void)state;
    NEED_KEYRING();
    pp_env e;
    uint8_t got[TCORE_TOKEN_KEY_LEN], a[LC_LEN], bad[LC_LEN], b[LC_LEN];
    pp_up(&e, &test_kdf, 60);
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    for (size_t off = 0; off < LC_LEN; off += 3) {
        assert_true(entry_read(e.id, a));
        memcpy(bad, a, LC_LEN);
        bad[off] ^= 0x01;
        entry_write(e.id, bad);
        memset(got, 0, sizeof(got));
        assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
        assert_memory_equal(got, e.key, sizeof(got));
        assert_true(entry_read(e.id, b));
        assert_memory_not_equal(b, bad, LC_LEN);
        assert_memory_not_equal(b, a, LC_LEN);
        /* a damaged entry never turns a wrong PIN into a right one */
        entry_write(e.id, bad);
        assert_int_equal(pp_unlock(&e, CKU_USER, "user-1235", got), CKR_PIN_INCORRECT);
    }
    /* a short entry */
    assert_true(entry_read(e.id, a));
    long id = entry_find(e.id);
    assert_int_equal(syscall(SYS_keyctl, KEYCTL_UPDATE, id, a, LC_LEN - 1), 0);
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_memory_equal(got, e.key, sizeof(got));
    pp_down(&e);
}

/* An entry for another blob (the PIN changed) is not used. */
static void test_cache_pin_change(void **state)
{
    (void)state;
    NEED_KEYRING();
    pp_env e;
    uint8_t got[TCORE_TOKEN_KEY_LEN], a[LC_LEN], *nb;
    size_t nlen;
    pp_up(&e, &test_kdf, 60);
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_true(entry_read(e.id, a));
    assert_int_equal(e.p.set_pin(e.p.ctx, e.id, e.blob, e.len, CKU_USER, e.key, P("new-pin-99"),
                                 &nb, &nlen),
                     CKR_OK);
    assert_false(entry_read(e.id, a)); /* dropped */
    assert_int_equal(e.p.unlock(e.p.ctx, e.id, nb, nlen, CKU_USER, P(USER_PIN), got),
                     CKR_PIN_INCORRECT);
    /* even if the old entry is put back, the new blob refuses it */
    assert_int_equal(pp_unlock(&e, CKU_USER, USER_PIN, got), CKR_OK);
    assert_int_equal(e.p.unlock(e.p.ctx, e.id, nb, nlen, CKU_USER, P(USER_PIN), got),
                     CKR_PIN_INCORRECT);
    assert_int_equal(e.p.unlock(e.p.ctx, e.id, nb, nlen, CKU_USER, P("new-pin-99"), got), CKR_OK);
    assert_memory_equal(got, e.key, sizeof(got));
    free(nb);
    pp_down(&e);
}

/* ---- through the token: counting, and a key that is not the token's ---- */

static tc_env *cached_env(uint32_t seconds)
{
    tc_env *e = calloc(1, sizeof(*e));
    tcore_protector p;
    uint8_t label[32];
    assert_non_null(e);
    snprintf(e->dir, sizeof(e->dir), "/tmp/tcore-lcache-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->db, sizeof(e->db), "%s/%s", e->dir, STORE_FILE);
    assert_int_equal(tcore_protector_pin_cached(&test_kdf, seconds, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open(e->db, &p, &e->ts), CKR_OK);
    assert_int_equal(tcore_tokens_get(e->ts, 0, &e->t), CKR_OK);
    label32(label, "cached");
    assert_int_equal(tcore_token_init(e->t, P(SO_PIN), label), CKR_OK);
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, P(USER_PIN)), CKR_OK);
    tcore_token_release(e->t);
    return e;
}

static void cached_env_free(tc_env *e)
{
    entry_drop(tcore_token_id(e->t));
    env_teardown((void **)&e);
}

static CK_FLAGS user_flags(tcore_token *t)
{
    CK_TOKEN_INFO ti;
    assert_int_equal(tcore_token_get_info(t, &ti), CKR_OK);
    return ti.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
}

static void test_token_wrong_pin_counts(void **state)
{
    (void)state;
    NEED_KEYRING();
    tc_env *e = cached_env(60);
    uint8_t a[LC_LEN];
    const char *id = tcore_token_id(e->t);
    login_user(e);
    tcore_token_release(e->t);
    assert_true(entry_read(id, a));
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("user-1235")), CKR_PIN_INCORRECT);
    assert_int_equal(user_flags(e->t), CKF_USER_PIN_COUNT_LOW);
    assert_false(tcore_token_key_available(e->t));
    for (int i = 1; i < TCORE_PIN_MAX_TRIES; i++) {
        assert_int_equal(tcore_token_verify_pin(e->t, CKU_USER, P("user-1235")),
                         CKR_PIN_INCORRECT);
    }
    /* locked: the warm entry does not open a locked role */
    assert_int_equal(user_flags(e->t) & CKF_USER_PIN_LOCKED, CKF_USER_PIN_LOCKED);
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
    assert_false(tcore_token_key_available(e->t));
    cached_env_free(e);

    /* below the limit, a right PIN from the cache clears the count */
    e = cached_env(60);
    id = tcore_token_id(e->t);
    login_user(e);
    tcore_token_release(e->t);
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("user-1235")), CKR_PIN_INCORRECT);
    assert_true(entry_read(id, a));
    login_user(e);
    assert_int_equal(user_flags(e->t), 0);
    tcore_token_release(e->t);
    cached_env_free(e);
}

/* An entry for the token's blob that unwraps, with the right PIN, to a key
 * that is not the token's (what someone who knows the PIN could plant; made
 * here the way protector.c makes one): the token's key id refuses it, the
 * full login answers with the real key and replaces the entry. */
static void forge_entry(const char *id, const uint8_t *blob, size_t blob_len, const char *pin,
                        const uint8_t *key, uint8_t out[LC_LEN])
{
    static const char label[] = "tessera login cache v1";
    static const tcrypto_pin_kdf_params lc_kdf = {1, 1024, 1};
    uint8_t aad[128], kek[32];
    size_t n = 0, hlen = 32;
    uint64_t expiry = (uint64_t)time(NULL) + 30;
    uint8_t *salt = out + 12, *iv = salt + 16, *ct = iv + 12, *tag = ct + 32;
    memcpy(out, "TLC1", 4);
    tc_store_u64(out + 4, expiry);
    assert_int_equal(tcrypto_random(salt, 16), TCRYPTO_OK);
    assert_int_equal(tcrypto_random(iv, 12), TCRYPTO_OK);
    memcpy(aad, label, sizeof(label) - 1);
    n += sizeof(label) - 1;
    memcpy(aad + n, id, 16);
    n += 16;
    tc_store_u32(aad + n, (uint32_t)CKU_USER);
    n += 4;
    assert_int_equal(tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, blob, blob_len, aad + n, &hlen),
                     TCRYPTO_OK);
    n += 32;
    tc_store_u64(aad + n, expiry);
    n += 8;
    assert_int_equal(tcrypto_pin_kdf(&lc_kdf, pin, strlen(pin), salt, 16, kek, 32), TCRYPTO_OK);
    assert_int_equal(
        tcrypto_gcm_encrypt(kek, 32, iv, 12, aad, n, key, TCORE_TOKEN_KEY_LEN, ct, tag, 16),
        TCRYPTO_OK);
    tc_wipe(kek, sizeof(kek));
}

static void test_token_foreign_key_refused(void **state)
{
    (void)state;
    NEED_KEYRING();
    tc_env *e = cached_env(60);
    const char *id = tcore_token_id(e->t);
    tcore_meta m;
    tcore_protector cached, plain;
    uint8_t bogus[TCORE_TOKEN_KEY_LEN], real[TCORE_TOKEN_KEY_LEN], got[TCORE_TOKEN_KEY_LEN];
    uint8_t forged[LC_LEN], b[LC_LEN];
    uint8_t *held = NULL;
    uint64_t epoch;

    assert_int_equal(tcore_meta_load(e->t, &m), CKR_OK);
    assert_int_equal(tcore_protector_pin(&test_kdf, &plain), CKR_OK);
    assert_int_equal(plain.unlock(plain.ctx, id, m.blob, m.blob_len, CKU_USER, P(USER_PIN), real),
                     CKR_OK);
    memset(bogus, 0x5a, sizeof(bogus));
    login_user(e); /* makes the entry */
    tcore_token_release(e->t);
    forge_entry(id, m.blob, m.blob_len, USER_PIN, bogus, forged);
    entry_write(id, forged);
    /* the protector alone takes it (it cannot know the key) ... */
    assert_int_equal(tcore_protector_pin_cached(&test_kdf, 60, &cached), CKR_OK);
    assert_int_equal(
        cached.unlock(cached.ctx, id, m.blob, m.blob_len, CKU_USER, P(USER_PIN), got), CKR_OK);
    assert_memory_equal(got, bogus, sizeof(got));
    /* ... the token does not */
    login_user(e);
    assert_int_equal(tcore_token_key_copy(e->t, &held, &epoch), CKR_OK);
    assert_memory_equal(held, real, sizeof(real));
    tcrypto_secure_free(held, TCORE_TOKEN_KEY_LEN);
    tcore_token_release(e->t);
    assert_true(entry_read(id, b));
    assert_memory_not_equal(b, forged, LC_LEN);
    /* and the forged entry with a wrong PIN is a wrong PIN */
    entry_write(id, forged);
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, P("user-1235")), CKR_PIN_INCORRECT);
    assert_int_equal(user_flags(e->t), CKF_USER_PIN_COUNT_LOW);
    tc_wipe(real, sizeof(real));
    tc_wipe(got, sizeof(got));
    cached.destroy(cached.ctx);
    plain.destroy(plain.ctx);
    tcore_meta_free(&m);
    cached_env_free(e);
}

int main(void)
{
    if (tcrypto_init() != TCRYPTO_OK) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_owasp),
        cmocka_unit_test(test_former_default_still_opens),
        cmocka_unit_test(test_cache_off_writes_nothing),
        cmocka_unit_test(test_cache_hit),
        cmocka_unit_test(test_cache_wrong_pin),
        cmocka_unit_test(test_cache_expired),
        cmocka_unit_test(test_cache_tampered),
        cmocka_unit_test(test_cache_pin_change),
        cmocka_unit_test(test_token_wrong_pin_counts),
        cmocka_unit_test(test_token_foreign_key_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
