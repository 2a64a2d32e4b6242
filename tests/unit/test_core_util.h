/*
 * Shared helpers of the test_core_* programs: a fresh data directory, a
 * token set with cheap Argon2id parameters (the tests run the KDF hundreds
 * of times), an initialised token with SO and user PINs, and callers for the
 * object functions.
 *
 * These programs drive the token and object layer under the sessions: a
 * "login" here only makes the token key available (tcore_token_unlock); who
 * may do what is the sessions' business and is tested through them.
 */
#ifndef TEST_CORE_UTIL_H
#define TEST_CORE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core_int.h"

#define SO_PIN "so-secret-1"
#define USER_PIN "user-1234"

static const tcrypto_pin_kdf_params test_kdf = {1, 8, 1};

/* The store file the tests choose inside their data directory. */
#define STORE_FILE "tessera.db"

typedef struct {
    char dir[256];
    char db[300]; /* <dir>/STORE_FILE */
    tcore_tokens *ts;
    tcore_token *t;
} tc_env;

static inline void env_rmdir(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of %s failed\n", dir);
    }
}

/* The token set of the store STORE_FILE in dir. */
static inline tcore_tokens *env_open_set(const char *dir)
{
    char path[300];
    tcore_protector p;
    tcore_tokens *ts = NULL;
    assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE) < sizeof(path));
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open(path, &p, &ts), CKR_OK);
    return ts;
}

static inline void label32(uint8_t out[32], const char *s)
{
    memset(out, ' ', 32);
    memcpy(out, s, strlen(s) < 32 ? strlen(s) : 32);
}

/* A token set with one token in slot 0, user PIN set, the token key not
 * held by anyone. */
static inline int env_setup(void **state)
{
    tc_env *e = calloc(1, sizeof(*e));
    uint8_t label[32];
    if (e == NULL || tcrypto_init() != TCRYPTO_OK) {
        return -1;
    }
    snprintf(e->dir, sizeof(e->dir), "/tmp/tcore-test-XXXXXX");
    if (mkdtemp(e->dir) == NULL) {
        return -1;
    }
    snprintf(e->db, sizeof(e->db), "%s/%s", e->dir, STORE_FILE);
    e->ts = env_open_set(e->dir);
    assert_int_equal(tcore_tokens_get(e->ts, 0, &e->t), CKR_OK);
    label32(label, "test token");
    assert_int_equal(tcore_token_init(e->t, (const uint8_t *)SO_PIN, strlen(SO_PIN), label), CKR_OK);
    assert_int_equal(tcore_token_unlock(e->t, CKU_SO, (const uint8_t *)SO_PIN, strlen(SO_PIN)),
                     CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, (const uint8_t *)USER_PIN, strlen(USER_PIN)), CKR_OK);
    tcore_token_release(e->t);
    assert_false(tcore_token_key_available(e->t));
    *state = e;
    return 0;
}

static inline int env_teardown(void **state)
{
    tc_env *e = *state;
    tcore_tokens_close(e->ts);
    env_rmdir(e->dir);
    free(e);
    return 0;
}

/* Hold the token key with the user PIN (what a user login does to the token). */
static inline void login_user(tc_env *e)
{
    assert_int_equal(tcore_token_unlock(e->t, CKU_USER, (const uint8_t *)USER_PIN, strlen(USER_PIN)),
                     CKR_OK);
}

/* What the core reported about the last call made through as_user() or
 * as_so(): the template entry it refused (index -1 and type 0 until a
 * failure names one). */
static tcore_err env_err;

/* The caller of an object function, logged in as `who`; each call starts a
 * fresh report in env_err. */
static inline const tcore_caller *env_caller(CK_USER_TYPE who)
{
    static tcore_caller cx;
    cx = (tcore_caller){who, &env_err, TCORE_ARG_TEMPLATE};
    env_err.rv = CKR_OK;
    env_err.arg = TCORE_ARG_NONE;
    env_err.index = -1;
    env_err.attr = 0;
    return &cx;
}

static inline const tcore_caller *as_user(void)
{
    return env_caller(CKU_USER);
}

static inline const tcore_caller *as_so(void)
{
    return env_caller(CKU_SO);
}

/* The failure the core reported: template entry `index` (-1: a required
 * attribute that was missing) of type `attr`. */
#define assert_bad_entry(err, want_rv, want_index, want_attr)                                      \
    do {                                                                                           \
        assert_int_equal((err).rv, (want_rv));                                                     \
        assert_int_equal((err).arg, TCORE_ARG_TEMPLATE);                                           \
        assert_int_equal((err).index, (want_index));                                               \
        assert_int_equal((err).attr, (want_attr));                                                 \
    } while (0)

static const CK_BBOOL ck_true = CK_TRUE;
static const CK_BBOOL ck_false = CK_FALSE;

#define ATTR(t, v) {(t), (void *)(v), sizeof(*(v))}
#define ATTR_STR(t, s) {(t), (void *)(s), sizeof(s) - 1}

#endif
