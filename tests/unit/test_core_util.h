/*
 * Shared helpers of the test_core_* programs: a fresh data directory, a
 * token set with cheap Argon2id parameters (the tests run the KDF hundreds
 * of times), an initialised token with SO and user PINs.
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

#include "core/tcore.h"

#define SO_PIN "so-secret-1"
#define USER_PIN "user-1234"

static const tcrypto_pin_kdf_params test_kdf = {1, 8, 1};

typedef struct {
    char dir[256];
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

static inline tcore_tokens *env_open_set(const char *dir)
{
    tcore_protector p;
    tcore_tokens *ts = NULL;
    assert_int_equal(tcore_protector_pin(&test_kdf, &p), CKR_OK);
    assert_int_equal(tcore_tokens_open(dir, &p, &ts), CKR_OK);
    return ts;
}

static inline void label32(uint8_t out[32], const char *s)
{
    memset(out, ' ', 32);
    memcpy(out, s, strlen(s) < 32 ? strlen(s) : 32);
}

/* A token set with one token in slot 0, user PIN set, nobody logged in. */
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
    e->ts = env_open_set(e->dir);
    assert_int_equal(tcore_tokens_get(e->ts, 0, &e->t), CKR_OK);
    label32(label, "test token");
    assert_int_equal(tcore_token_init(e->t, (const uint8_t *)SO_PIN, strlen(SO_PIN), label), CKR_OK);
    assert_int_equal(tcore_token_login(e->t, CKU_SO, (const uint8_t *)SO_PIN, strlen(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_token_init_pin(e->t, (const uint8_t *)USER_PIN, strlen(USER_PIN)), CKR_OK);
    assert_int_equal(tcore_token_logout(e->t), CKR_OK);
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

static inline void login_user(tc_env *e)
{
    assert_int_equal(tcore_token_login(e->t, CKU_USER, (const uint8_t *)USER_PIN, strlen(USER_PIN)),
                     CKR_OK);
}

static const CK_BBOOL ck_true = CK_TRUE;
static const CK_BBOOL ck_false = CK_FALSE;

#define ATTR(t, v) {(t), (void *)(v), sizeof(*(v))}
#define ATTR_STR(t, s) {(t), (void *)(s), sizeof(s) - 1}

#endif
