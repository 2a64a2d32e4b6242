/*
 * Helpers shared by the PKCS#11 module's unit tests (test_p11_*.c,
 * test_wycheproof.c, test_store_integrity.c): a temporary store configured
 * through TESSERA_CONF, the function list through C_GetInterface, a token
 * made ready for use (SO PIN, user PIN) and a session logged in on it.
 */
#ifndef TESSERA_TEST_P11_UTIL_H
#define TESSERA_TEST_P11_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tessera/pkcs11.h"

#define SO_PIN "so-secret-1"
#define USER_PIN "user-secret-1"
#define PIN_ARGS(p) (CK_UTF8CHAR_PTR)(p), (CK_ULONG)strlen(p)

static char t_dir[256];
static CK_FUNCTION_LIST_3_0 *f;

/* A fresh temporary directory with a configuration file pointing the store
 * into it and a cheap PIN KDF (the tests log in hundreds of times). */
static __attribute__((unused)) void t_env_setup(void)
{
    snprintf(t_dir, sizeof(t_dir), "/tmp/tessera-p11-test-XXXXXX");
    assert_non_null(mkdtemp(t_dir));
    char conf[320], line[600];
    snprintf(conf, sizeof(conf), "%s/tessera.conf", t_dir);
    FILE *fp = fopen(conf, "w");
    assert_non_null(fp);
    snprintf(line, sizeof(line),
             "store = %s/tessera.db\nlog_level = error\npin_kdf_t_cost = 1\n"
             "pin_kdf_m_cost = 64\npin_kdf_lanes = 1\n",
             t_dir);
    fputs(line, fp);
    fclose(fp);
    setenv("TESSERA_CONF", conf, 1);
    CK_INTERFACE_PTR iface = NULL;
    CK_VERSION v = {3, 0};
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v, &iface, 0), CKR_OK);
    f = (CK_FUNCTION_LIST_3_0 *)iface->pFunctionList;
}

/* More lines for the configuration t_env_setup wrote (before C_Initialize). */
static __attribute__((unused)) void t_env_conf_add(const char *lines)
{
    char conf[320];
    snprintf(conf, sizeof(conf), "%s/tessera.conf", t_dir);
    FILE *fp = fopen(conf, "a");
    assert_non_null(fp);
    fputs(lines, fp);
    fclose(fp);
}

static __attribute__((unused)) void t_env_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t_dir);
}

/* A cmocka teardown: the module finalised (whether or not it was
 * initialised) and the temporary store removed. */
static __attribute__((unused)) int t_teardown(void **state)
{
    (void)state;
    f->C_Finalize(NULL);
    t_env_teardown();
    return 0;
}

/* Hex digits into bytes; *len is the number of bytes. */
static __attribute__((unused)) void t_unhex(const char *h, uint8_t *out, size_t *len)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *len = n;
}

/* The slot list (at most 16 slots). */
static __attribute__((unused)) CK_ULONG t_slots(CK_SLOT_ID *out)
{
    CK_ULONG n = 0;
    assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    assert_true(n >= 1 && n <= 16);
    assert_int_equal(f->C_GetSlotList(CK_FALSE, out, &n), CKR_OK);
    return n;
}

/* The free slot: the one whose token is not initialised. */
static __attribute__((unused)) CK_SLOT_ID t_free_slot(void)
{
    CK_SLOT_ID s[16];
    CK_ULONG n = t_slots(s);
    CK_ULONG nfree = 0;
    CK_SLOT_ID res = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        assert_int_equal(f->C_GetTokenInfo(s[i], &ti), CKR_OK);
        if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            res = s[i];
            nfree++;
        }
    }
    assert_int_equal(nfree, 1);
    return res;
}

static __attribute__((unused)) void t_label(CK_UTF8CHAR label[32], const char *s)
{
    memset(label, ' ', 32);
    memcpy(label, s, strlen(s));
}

/* Initialise the free slot's token with SO_PIN; returns its slot. */
static __attribute__((unused)) CK_SLOT_ID t_init_token(const char *name)
{
    CK_SLOT_ID slot = t_free_slot();
    CK_UTF8CHAR label[32];
    t_label(label, name);
    assert_int_equal(f->C_InitToken(slot, PIN_ARGS(SO_PIN), label), CKR_OK);
    return slot;
}

static __attribute__((unused)) CK_SESSION_HANDLE t_open(CK_SLOT_ID slot, bool rw)
{
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_FLAGS fl = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    assert_int_equal(f->C_OpenSession(slot, fl, NULL, NULL, &h), CKR_OK);
    assert_true(h != CK_INVALID_HANDLE);
    return h;
}

/* A token with SO and user PIN set, no session open. */
static __attribute__((unused)) CK_SLOT_ID t_ready_token(const char *name)
{
    CK_SLOT_ID slot = t_init_token(name);
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)), CKR_OK);
    assert_int_equal(f->C_InitPIN(h, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
    return slot;
}

/* The group set-up of the mechanism tests, after t_env_setup: the module
 * initialised, a ready token `name` on *slot and a R/W session *s logged in
 * as the user. 0, or -1 (a failed set-up) as cmocka wants it. */
static __attribute__((unused)) int t_user_session(const char *name, CK_SLOT_ID *slot,
                                                  CK_SESSION_HANDLE *s)
{
    if (f->C_Initialize(NULL) != CKR_OK)
        return -1;
    *slot = t_ready_token(name);
    *s = t_open(*slot, true);
    return f->C_Login(*s, CKU_USER, PIN_ARGS(USER_PIN)) == CKR_OK ? 0 : -1;
}

static __attribute__((unused)) CK_STATE t_state(CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO si;
    assert_int_equal(f->C_GetSessionInfo(h, &si), CKR_OK);
    return si.state;
}

#endif
