/*
 * The core as a service boundary, driven directly (no PKCS#11 module):
 * applications and sessions, the login rules, R/W rules, the operation life
 * cycle, context-specific login, session objects, compound requests and the
 * errors that name the bad argument. Two applications in one process stand
 * for two callers of the daemon.
 */
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
#define P(s) (const uint8_t *)(s), strlen(s)

static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

typedef struct {
    char dir[64];
    tcore *core;
    tcore_app *a, *b; /* two callers */
    CK_SLOT_ID slot;
    /* sessions a test holds locked, released by the teardown after a failed
     * assertion (which leaves the test early) */
    tcore_session *held[8];
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    char path[128];
    uint8_t label[32];
    if (e == NULL) {
        return -1;
    }
    snprintf(e->dir, sizeof(e->dir), "/tmp/tcore-sess-XXXXXX");
    if (mkdtemp(e->dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/store.db", e->dir);
    tc_conf *conf = tc_conf_dup(NULL);
    assert_non_null(conf);
    assert_true(tc_conf_set(conf, "store", path));
    assert_true(tc_conf_set(conf, "pin_kdf_t_cost", "1"));
    assert_true(tc_conf_set(conf, "pin_kdf_m_cost", "8"));
    assert_int_equal(tcore_open(conf, &e->core), CKR_OK);
    tc_conf_free(conf);
    assert_int_equal(tcore_app_new(e->core, "caller A", &e->a), CKR_OK);
    assert_int_equal(tcore_app_new(e->core, "caller B", &e->b), CKR_OK);

    /* a token on the free slot, user PIN set by the SO of application A */
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    assert_int_equal(tcore_slot_list(e->core, slots, &n), CKR_OK);
    assert_int_equal(n, 1);
    e->slot = slots[0];
    memset(label, ' ', sizeof(label));
    memcpy(label, "sessions", 8);
    assert_int_equal(tcore_init_token(e->core, e->slot, P(SO_PIN), label, NULL), CKR_OK);
    CK_SESSION_HANDLE h;
    tcore_session *s;
    assert_int_equal(tcore_session_open(e->a, e->slot, true, &h), CKR_OK);
    assert_int_equal(tcore_session_get(e->a, h, &s), CKR_OK);
    assert_int_equal(tcore_login(s, CKU_SO, NULL, 0, P(SO_PIN)), CKR_OK);
    assert_int_equal(tcore_init_pin(s, P(USER_PIN)), CKR_OK);
    tcore_session_put(s);
    assert_int_equal(tcore_session_close(e->a, h), CKR_OK);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    char cmd[128];
    for (size_t i = 0; i < 8; i++) {
        tcore_session_put(e->held[i]);
    }
    tcore_app_free(e->a);
    tcore_app_free(e->b);
    tcore_close(e->core);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of %s failed\n", e->dir);
    }
    free(e);
    return 0;
}

/* Open a session and lock it for the test's calls. */
static tcore_session *open_s(env *e, tcore_app *app, bool rw, CK_SESSION_HANDLE *h)
{
    tcore_session *s;
    assert_int_equal(tcore_session_open(app, e->slot, rw, h), CKR_OK);
    assert_int_equal(tcore_session_get(app, *h, &s), CKR_OK);
    for (size_t i = 0; i < 8; i++) {
        if (e->held[i] == NULL) {
            e->held[i] = s;
            break;
        }
    }
    return s;
}

static void put_s(env *e, tcore_session *s)
{
    for (size_t i = 0; i < 8; i++) {
        if (e->held[i] == s) {
            e->held[i] = NULL;
        }
    }
    tcore_session_put(s);
}

static CK_STATE state_of(tcore_session *s)
{
    CK_SESSION_INFO info;
    assert_int_equal(tcore_session_info(s, &info), CKR_OK);
    return info.state;
}

/* An EC P-256 token key pair; private key per `priv`. */
static void gen_pair(tcore_session *s, bool token, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL tok = token ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256)},
                         {CKA_TOKEN, &tok, sizeof(tok)}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &tok, sizeof(tok)}, {CKA_SIGN, (void *)&yes, sizeof(yes)}};
    assert_int_equal(tcore_generate_key_pair(s, &m, pt, 2, kt, 2, pub, priv), CKR_OK);
}

static CK_RV sign_once(tcore_session *s, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    uint8_t digest[32] = {1, 2, 3}, sig[128];
    CK_ULONG siglen = sizeof(sig);
    CK_RV rv = tcore_crypt_init(s, TCORE_OP_SIGN, &m, key);
    if (rv != CKR_OK) {
        return rv;
    }
    return tcore_crypt(s, TCORE_OP_SIGN, digest, sizeof(digest), sig, &siglen);
}

static CK_ULONG count_found(tcore_session *s, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_HANDLE hs[64];
    CK_ULONG got = 0;
    assert_int_equal(tcore_find_init(s, t, n), CKR_OK);
    assert_int_equal(tcore_find(s, hs, 64, &got), CKR_OK);
    assert_int_equal(tcore_find_final(s), CKR_OK);
    return got;
}

/* Acceptance: two callers on one token in one process; one's login does not
 * authorise the other; each has its own operations and session objects. */
static void test_two_callers(void **state)
{
    env *e = *state;
    CK_SESSION_HANDLE ha, hb;
    tcore_session *sa = open_s(e, e->a, true, &ha);
    tcore_session *sb = open_s(e, e->b, true, &hb);
    CK_OBJECT_HANDLE pub, priv;

    assert_int_equal(tcore_login(sa, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    assert_int_equal(state_of(sa), CKS_RW_USER_FUNCTIONS);
    assert_int_equal(state_of(sb), CKS_RW_PUBLIC_SESSION);
    gen_pair(sa, true, &pub, &priv);

    /* B sees the public half but not the private key, though the token key
     * is unlocked by A in this very process */
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    assert_int_equal(count_found(sa, q, 1), 1);
    assert_int_equal(count_found(sb, q, 1), 0);
    assert_int_equal(sign_once(sb, priv), CKR_KEY_HANDLE_INVALID);
    CK_ATTRIBUTE ga[] = {{CKA_SIGN, NULL, 0}};
    assert_int_equal(tcore_object_get_attrs(sb, priv, ga, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_object_destroy(sb, priv), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(sign_once(sa, priv), CKR_OK);

    /* B may log in as SO while A is the user: logins are per application */
    assert_int_equal(tcore_login(sb, CKU_SO, NULL, 0, P(SO_PIN)), CKR_OK);
    assert_int_equal(state_of(sb), CKS_RW_SO_FUNCTIONS);
    /* ... and the SO does not use private keys */
    assert_int_equal(sign_once(sb, priv), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(tcore_logout(sb), CKR_OK);

    /* operations are per session: B's digest does not block A's */
    CK_MECHANISM dm = {CKM_SHA256, NULL, 0};
    assert_int_equal(tcore_crypt_init(sb, TCORE_OP_DIGEST, &dm, 0), CKR_OK);
    assert_int_equal(tcore_crypt_init(sa, TCORE_OP_DIGEST, &dm, 0), CKR_OK);
    assert_int_equal(tcore_crypt_init(sa, TCORE_OP_DIGEST, &dm, 0), CKR_OPERATION_ACTIVE);
    tcore_crypt_cancel(sa, 1u << TCORE_OP_DIGEST, false);
    tcore_crypt_cancel(sb, 1u << TCORE_OP_DIGEST, false);

    /* session objects belong to their application */
    CK_OBJECT_CLASS dc = CKO_DATA;
    CK_ATTRIBUTE dt[] = {{CKA_CLASS, &dc, sizeof(dc)}, {CKA_LABEL, "mine", 4}};
    CK_OBJECT_HANDLE da1, da2, db;
    assert_int_equal(tcore_object_create(sa, dt, 2, &da1), CKR_OK);
    assert_int_equal(tcore_object_create(sa, dt, 2, &da2), CKR_OK);
    assert_int_equal(tcore_object_create(sb, dt, 2, &db), CKR_OK);
    CK_ATTRIBUTE lq[] = {{CKA_LABEL, "mine", 4}};
    assert_int_equal(count_found(sa, lq, 1), 2);
    assert_int_equal(count_found(sb, lq, 1), 1);
    /* handles of session objects are the application's own namespace: A's
     * second object has no counterpart in B */
    assert_true(da2 != db);
    assert_int_equal(tcore_object_get_attrs(sb, da2, ga, 0), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_object_destroy(sb, da2), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_object_get_attrs(sa, da2, ga, 0), CKR_OK);

    /* A logs out: its key handle stops working for A too */
    assert_int_equal(tcore_logout(sa), CKR_OK);
    assert_int_equal(sign_once(sa, priv), CKR_KEY_HANDLE_INVALID);
    put_s(e, sa);
    put_s(e, sb);
}

/* PKCS#11 3.0 §5.6 login rules, per application. */
static void test_login_rules(void **state)
{
    env *e = *state;
    CK_SESSION_HANDLE h1, h2, h3;
    tcore_session *ro = open_s(e, e->a, false, &h1);
    tcore_session *rw = open_s(e, e->a, true, &h2);

    assert_int_equal(tcore_logout(rw), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(tcore_login(rw, 42, NULL, 0, P(USER_PIN)), CKR_USER_TYPE_INVALID);
    assert_int_equal(tcore_session_error(rw)->arg, TCORE_ARG_USER_TYPE);
    /* no SO while the application has a R/O session */
    assert_int_equal(tcore_login(rw, CKU_SO, NULL, 0, P(SO_PIN)), CKR_SESSION_READ_ONLY_EXISTS);
    assert_int_equal(tcore_login(rw, CKU_USER, NULL, 0, P("wrong-pin")), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_session_error(rw)->arg, TCORE_ARG_PIN);
    /* an unknown user name answers as a wrong PIN */
    assert_int_equal(tcore_login(rw, CKU_USER, (const uint8_t *)"bob", 3, P(USER_PIN)),
                     CKR_PIN_INCORRECT);
    assert_int_equal(tcore_login(ro, CKU_USER, (const uint8_t *)"user", 4, P(USER_PIN)), CKR_OK);
    /* one login serves every session of the application */
    assert_int_equal(state_of(ro), CKS_RO_USER_FUNCTIONS);
    assert_int_equal(state_of(rw), CKS_RW_USER_FUNCTIONS);
    assert_int_equal(tcore_login(rw, CKU_USER, NULL, 0, P(USER_PIN)), CKR_USER_ALREADY_LOGGED_IN);
    assert_int_equal(tcore_login(rw, CKU_SO, NULL, 0, P(SO_PIN)),
                     CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    /* a context-specific login with no operation that needs one */
    assert_int_equal(tcore_login(rw, CKU_CONTEXT_SPECIFIC, NULL, 0, P(USER_PIN)),
                     CKR_OPERATION_NOT_INITIALIZED);
    put_s(e, ro);
    put_s(e, rw);

    /* the last session closed logs the application out */
    assert_int_equal(tcore_session_close(e->a, h1), CKR_OK);
    rw = open_s(e, e->a, true, &h3);
    assert_int_equal(state_of(rw), CKS_RW_USER_FUNCTIONS);
    put_s(e, rw);
    assert_int_equal(tcore_session_close(e->a, h2), CKR_OK);
    assert_int_equal(tcore_session_close(e->a, h3), CKR_OK);
    rw = open_s(e, e->a, true, &h1);
    assert_int_equal(state_of(rw), CKS_RW_PUBLIC_SESSION);

    /* SO: no R/O session may open meanwhile */
    assert_int_equal(tcore_login(rw, CKU_SO, NULL, 0, P(SO_PIN)), CKR_OK);
    CK_SESSION_HANDLE hx;
    assert_int_equal(tcore_session_open(e->a, e->slot, false, &hx),
                     CKR_SESSION_READ_WRITE_SO_EXISTS);
    /* ... but another application may */
    assert_int_equal(tcore_session_open(e->b, e->slot, false, &hx), CKR_OK);
    put_s(e, rw);
    assert_int_equal(tcore_session_close_all(e->a, e->slot), CKR_OK);
    assert_int_equal(tcore_session_get(e->a, h1, &rw), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(tcore_session_close(e->b, hx), CKR_OK);
    assert_int_equal(tcore_session_close(e->b, hx), CKR_SESSION_HANDLE_INVALID);
}

/* R/W rules: token objects, PINs, and no InitToken while sessions exist. */
static void test_rw_rules(void **state)
{
    env *e = *state;
    CK_SESSION_HANDLE h;
    tcore_session *ro = open_s(e, e->a, false, &h);
    assert_int_equal(tcore_login(ro, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    CK_OBJECT_CLASS dc = CKO_DATA;
    CK_ATTRIBUTE tok[] = {{CKA_CLASS, &dc, sizeof(dc)}, {CKA_TOKEN, (void *)&yes, sizeof(yes)}};
    CK_OBJECT_HANDLE o;
    assert_int_equal(tcore_object_create(ro, tok, 2, &o), CKR_SESSION_READ_ONLY);
    tok[1].pValue = (void *)&no;
    assert_int_equal(tcore_object_create(ro, tok, 2, &o), CKR_OK); /* a session object */
    assert_int_equal(tcore_set_pin(ro, P(USER_PIN), P("another-pin")), CKR_SESSION_READ_ONLY);

    uint8_t label[32];
    memset(label, ' ', sizeof(label));
    tcore_err err;
    assert_int_equal(tcore_init_token(e->core, e->slot, P(SO_PIN), label, &err),
                     CKR_SESSION_EXISTS);
    assert_int_equal(err.rv, CKR_SESSION_EXISTS);
    /* a session of another application counts too */
    put_s(e, ro);
    assert_int_equal(tcore_session_close(e->a, h), CKR_OK);
    CK_SESSION_HANDLE hb;
    assert_int_equal(tcore_session_open(e->b, e->slot, false, &hb), CKR_OK);
    assert_int_equal(tcore_init_token(e->core, e->slot, P(SO_PIN), label, NULL),
                     CKR_SESSION_EXISTS);
    assert_int_equal(tcore_session_close(e->b, hb), CKR_OK);

    /* InitPIN: only the SO, only R/W */
    tcore_session *rw = open_s(e, e->a, true, &h);
    assert_int_equal(tcore_init_pin(rw, P(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(tcore_login(rw, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    assert_int_equal(tcore_init_pin(rw, P(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    /* SetPIN of the user while logged in, and the old PIN stops working */
    assert_int_equal(tcore_set_pin(rw, P(USER_PIN), P("second-pin")), CKR_OK);
    assert_int_equal(tcore_logout(rw), CKR_OK);
    assert_int_equal(tcore_login(rw, CKU_USER, NULL, 0, P(USER_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(tcore_login(rw, CKU_USER, NULL, 0, P("second-pin")), CKR_OK);
    put_s(e, rw);
}

/* Operation life cycle (PKCS#11 3.0 §5.2). */
static void test_operation_rules(void **state)
{
    env *e = *state;
    CK_SESSION_HANDLE h;
    tcore_session *s = open_s(e, e->a, true, &h);
    assert_int_equal(tcore_login(s, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    CK_MECHANISM dm = {CKM_SHA256, NULL, 0};
    uint8_t out[64];
    CK_ULONG outlen = sizeof(out);
    const uint8_t data[] = "abc";

    assert_int_equal(tcore_crypt(s, TCORE_OP_DIGEST, data, 3, out, &outlen),
                     CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_DIGEST, NULL, 0), CKR_ARGUMENTS_BAD);
    /* a length query keeps it, and makes it single-part */
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_DIGEST, &dm, 0), CKR_OK);
    outlen = 0;
    assert_int_equal(tcore_crypt(s, TCORE_OP_DIGEST, data, 3, NULL, &outlen), CKR_OK);
    assert_int_equal(outlen, 32);
    assert_int_equal(tcore_crypt_update(s, TCORE_OP_DIGEST, data, 3, NULL, NULL),
                     CKR_OPERATION_ACTIVE);
    /* the refusal ended it; too small a buffer keeps it */
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_DIGEST, &dm, 0), CKR_OK);
    outlen = 4;
    assert_int_equal(tcore_crypt(s, TCORE_OP_DIGEST, data, 3, out, &outlen),
                     CKR_BUFFER_TOO_SMALL);
    assert_int_equal(tcore_session_error(s)->arg, TCORE_ARG_OUTPUT);
    outlen = sizeof(out);
    assert_int_equal(tcore_crypt(s, TCORE_OP_DIGEST, data, 3, out, &outlen), CKR_OK);
    /* done: ended */
    assert_int_equal(tcore_crypt(s, TCORE_OP_DIGEST, data, 3, out, &outlen),
                     CKR_OPERATION_NOT_INITIALIZED);

    /* multi-part refuses single-part */
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_DIGEST, &dm, 0), CKR_OK);
    assert_int_equal(tcore_crypt_update(s, TCORE_OP_DIGEST, data, 3, NULL, NULL), CKR_OK);
    assert_int_equal(tcore_crypt(s, TCORE_OP_DIGEST, data, 3, out, &outlen), CKR_OPERATION_ACTIVE);
    outlen = sizeof(out);
    assert_int_equal(tcore_crypt_final(s, TCORE_OP_DIGEST, out, &outlen),
                     CKR_OPERATION_NOT_INITIALIZED);

    /* an error other than a short buffer ends the operation */
    CK_OBJECT_CLASS sc = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    uint8_t kv[16] = {0};
    CK_ATTRIBUTE at[] = {{CKA_CLASS, &sc, sizeof(sc)},
                         {CKA_KEY_TYPE, &kt, sizeof(kt)},
                         {CKA_VALUE, kv, sizeof(kv)},
                         {CKA_ENCRYPT, (void *)&yes, sizeof(yes)},
                         {CKA_DECRYPT, (void *)&no, sizeof(no)}};
    CK_OBJECT_HANDLE aes;
    assert_int_equal(tcore_object_create(s, at, 5, &aes), CKR_OK);
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_ENCRYPT, &ecb, aes), CKR_OK);
    outlen = sizeof(out);
    assert_int_equal(tcore_crypt(s, TCORE_OP_ENCRYPT, data, 3, out, &outlen),
                     CKR_DATA_LEN_RANGE);
    assert_int_equal(tcore_crypt(s, TCORE_OP_ENCRYPT, out, 16, out, &outlen),
                     CKR_OPERATION_NOT_INITIALIZED);
    /* a key that does not allow the use: the Init fails, naming the key */
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_DECRYPT, &ecb, aes),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(tcore_session_error(s)->arg, TCORE_ARG_KEY);
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_SIGN, &ecb, 12345), CKR_KEY_HANDLE_INVALID);
    put_s(e, s);
}

/* CKA_ALWAYS_AUTHENTICATE: a context-specific login before each use. */
static void test_context_login(void **state)
{
    env *e = *state;
    CK_SESSION_HANDLE h;
    tcore_session *s = open_s(e, e->a, true, &h);
    assert_int_equal(tcore_login(s, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256)}};
    CK_ATTRIBUTE kt[] = {{CKA_SIGN, (void *)&yes, sizeof(yes)},
                         {CKA_ALWAYS_AUTHENTICATE, (void *)&yes, sizeof(yes)}};
    CK_OBJECT_HANDLE pub, priv;
    assert_int_equal(tcore_generate_key_pair(s, &m, pt, 1, kt, 2, &pub, &priv), CKR_OK);
    CK_MECHANISM sm = {CKM_ECDSA, NULL, 0};
    uint8_t digest[32] = {9}, sig[128];
    CK_ULONG siglen = sizeof(sig);
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_SIGN, &sm, priv), CKR_OK);
    assert_int_equal(tcore_crypt(s, TCORE_OP_SIGN, digest, 32, sig, &siglen),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(tcore_login(s, CKU_CONTEXT_SPECIFIC, NULL, 0, P("wrong-pin")),
                     CKR_PIN_INCORRECT);
    assert_int_equal(tcore_crypt(s, TCORE_OP_SIGN, digest, 32, sig, &siglen),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(tcore_login(s, CKU_CONTEXT_SPECIFIC, NULL, 0, P(USER_PIN)), CKR_OK);
    assert_int_equal(tcore_crypt(s, TCORE_OP_SIGN, digest, 32, sig, &siglen), CKR_OK);
    /* the next use needs it again */
    assert_int_equal(tcore_crypt_init(s, TCORE_OP_SIGN, &sm, priv), CKR_OK);
    siglen = sizeof(sig);
    assert_int_equal(tcore_crypt(s, TCORE_OP_SIGN, digest, 32, sig, &siglen),
                     CKR_USER_NOT_LOGGED_IN);
    put_s(e, s);
}

/* Session objects: destroyed with their session, private ones hidden when
 * logged out, merged into find results. */
static void test_session_objects(void **state)
{
    env *e = *state;
    CK_SESSION_HANDLE h1, h2;
    tcore_session *s1 = open_s(e, e->a, true, &h1);
    tcore_session *s2 = open_s(e, e->a, true, &h2);
    assert_int_equal(tcore_login(s1, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    CK_OBJECT_CLASS dc = CKO_DATA;
    CK_ATTRIBUTE pub[] = {{CKA_CLASS, &dc, sizeof(dc)}, {CKA_LABEL, "x", 1}};
    CK_ATTRIBUTE prv[] = {{CKA_CLASS, &dc, sizeof(dc)},
                          {CKA_LABEL, "x", 1},
                          {CKA_PRIVATE, (void *)&yes, sizeof(yes)}};
    CK_ATTRIBUTE tok[] = {{CKA_CLASS, &dc, sizeof(dc)},
                          {CKA_LABEL, "x", 1},
                          {CKA_TOKEN, (void *)&yes, sizeof(yes)}};
    CK_OBJECT_HANDLE o1, o2, o3;
    assert_int_equal(tcore_object_create(s1, pub, 2, &o1), CKR_OK);
    assert_int_equal(tcore_object_create(s1, prv, 3, &o2), CKR_OK);
    assert_int_equal(tcore_object_create(s2, tok, 3, &o3), CKR_OK);
    CK_ATTRIBUTE q[] = {{CKA_LABEL, "x", 1}};
    assert_int_equal(count_found(s2, q, 1), 3); /* token + both session objects */
    assert_int_equal(tcore_logout(s2), CKR_OK);
    assert_int_equal(count_found(s1, q, 1), 2); /* the private one is hidden */
    CK_ATTRIBUTE ga[] = {{CKA_LABEL, NULL, 0}};
    assert_int_equal(tcore_object_get_attrs(s1, o2, ga, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_object_create(s1, prv, 3, &o2), CKR_USER_NOT_LOGGED_IN);
    /* closing s1 destroys its session objects, not the token object */
    put_s(e, s1);
    assert_int_equal(tcore_session_close(e->a, h1), CKR_OK);
    assert_int_equal(count_found(s2, q, 1), 1);
    assert_int_equal(tcore_object_get_attrs(s2, o1, ga, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tcore_object_destroy(s2, o3), CKR_OK);
    put_s(e, s2);
}

/* A pair is one request: a bad private template stores neither half; the
 * error names the template and the entry. */
static void test_compound_and_errors(void **state)
{
    env *e = *state;
    CK_SESSION_HANDLE h;
    tcore_session *s = open_s(e, e->a, true, &h);
    assert_int_equal(tcore_login(s, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256)},
                         {CKA_TOKEN, (void *)&yes, sizeof(yes)},
                         {CKA_LABEL, "pair", 4}};
    CK_ULONG bogus = 7;
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, (void *)&yes, sizeof(yes)},
                         {CKA_LABEL, "pair", 4},
                         {CKA_MODULUS_BITS, &bogus, sizeof(bogus)}};
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    assert_int_equal(tcore_generate_key_pair(s, &m, pt, 3, kt, 3, &pub, &priv),
                     CKR_ATTRIBUTE_TYPE_INVALID);
    const tcore_err *err = tcore_session_error(s);
    assert_int_equal(err->arg, TCORE_ARG_TEMPLATE2);
    assert_int_equal(err->index, 2);
    assert_int_equal(err->attr, CKA_MODULUS_BITS);
    CK_ATTRIBUTE q[] = {{CKA_LABEL, "pair", 4}};
    assert_int_equal(count_found(s, q, 1), 0);
    assert_int_equal(tcore_generate_key_pair(s, &m, pt, 3, kt, 2, &pub, &priv), CKR_OK);
    assert_int_equal(count_found(s, q, 1), 2);
    /* a success clears the report */
    assert_int_equal(tcore_session_error(s)->rv, CKR_OK);

    /* C_CreateObject without a class: the missing attribute is named */
    CK_ATTRIBUTE nc[] = {{CKA_LABEL, "no class", 8}};
    CK_OBJECT_HANDLE o;
    assert_int_equal(tcore_object_create(s, nc, 1, &o), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(tcore_session_error(s)->arg, TCORE_ARG_TEMPLATE);
    assert_int_equal(tcore_session_error(s)->index, -1);
    assert_int_equal(tcore_session_error(s)->attr, CKA_CLASS);
    /* a read-only attribute in a C_SetAttributeValue template, at entry 1 */
    CK_ATTRIBUTE st[] = {{CKA_LABEL, "renamed", 7}, {CKA_LOCAL, (void *)&no, sizeof(no)}};
    assert_int_equal(tcore_object_set_attrs(s, priv, st, 2), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(tcore_session_error(s)->index, 1);
    assert_int_equal(tcore_session_error(s)->attr, CKA_LOCAL);
    put_s(e, s);
}

/* HKDF's salt key is a handle inside the mechanism parameter: resolved like
 * any other handle of the session, so another caller's key is not found. */
static void test_hkdf_salt_handle(void **state)
{
    env *e = *state;
    CK_SESSION_HANDLE ha, hb;
    tcore_session *sa = open_s(e, e->a, true, &ha);
    tcore_session *sb = open_s(e, e->b, true, &hb);
    assert_int_equal(tcore_login(sa, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    assert_int_equal(tcore_login(sb, CKU_USER, NULL, 0, P(USER_PIN)), CKR_OK);
    CK_OBJECT_CLASS sc = CKO_SECRET_KEY;
    CK_KEY_TYPE gk = CKK_GENERIC_SECRET;
    uint8_t v1[32], v2[32];
    memset(v1, 0x11, sizeof(v1));
    memset(v2, 0x22, sizeof(v2));
    CK_ATTRIBUTE bt[] = {{CKA_CLASS, &sc, sizeof(sc)},
                         {CKA_KEY_TYPE, &gk, sizeof(gk)},
                         {CKA_VALUE, v1, sizeof(v1)},
                         {CKA_DERIVE, (void *)&yes, sizeof(yes)}};
    CK_OBJECT_HANDLE base_b, salt_a, salt_b, pad;
    assert_int_equal(tcore_object_create(sb, bt, 4, &base_b), CKR_OK);
    bt[2].pValue = v2;
    /* A's key gets a handle B has not issued (handles are per application) */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tcore_object_create(sa, bt, 4, &pad), CKR_OK);
    }
    assert_int_equal(tcore_object_create(sa, bt, 4, &salt_a), CKR_OK);
    assert_int_equal(tcore_object_create(sb, bt, 4, &salt_b), CKR_OK);
    CK_HKDF_PARAMS p;
    memset(&p, 0, sizeof(p));
    p.bExtract = CK_TRUE;
    p.bExpand = CK_TRUE;
    p.prfHashMechanism = CKM_SHA256;
    p.ulSaltType = CKF_HKDF_SALT_KEY;
    p.hSaltKey = salt_a; /* A's key, named by B */
    CK_MECHANISM m = {CKM_HKDF_DERIVE, &p, sizeof(p)};
    CK_ULONG len = 32;
    CK_ATTRIBUTE dt[] = {{CKA_CLASS, &sc, sizeof(sc)},
                         {CKA_KEY_TYPE, &gk, sizeof(gk)},
                         {CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_OBJECT_HANDLE out;
    assert_int_equal(tcore_derive_key(sb, &m, base_b, dt, 3, &out), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(tcore_session_error(sb)->arg, TCORE_ARG_KEY2);
    p.hSaltKey = salt_b;
    assert_int_equal(tcore_derive_key(sb, &m, base_b, dt, 3, &out), CKR_OK);
    put_s(e, sa);
    put_s(e, sb);
}

/* CKF_HW is the core's to report: off for a core in the caller's process,
 * on once the core says its keys live in another one (PKCS#11 3.0 §5.5). */
static void test_mech_hw_flag(void **state)
{
    env *e = *state;
    CK_MECHANISM_INFO mi;
    assert_int_equal(tcore_mech_info(e->core, CKM_SHA256_RSA_PKCS, &mi), CKR_OK);
    assert_false(mi.flags & CKF_HW);
    assert_true(mi.flags & CKF_SIGN);
    tcore_set_keys_outside_caller(e->core, true);
    assert_int_equal(tcore_mech_info(e->core, CKM_SHA256_RSA_PKCS, &mi), CKR_OK);
    assert_true(mi.flags & CKF_HW);
    assert_true(mi.flags & CKF_SIGN);
    tcore_set_keys_outside_caller(e->core, false);
    assert_int_equal(tcore_mech_info(e->core, CKM_AES_GCM, &mi), CKR_OK);
    assert_false(mi.flags & CKF_HW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_callers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rw_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operation_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compound_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hkdf_salt_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mech_hw_flag, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
