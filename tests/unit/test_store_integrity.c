/*
 * Store format v2 through the PKCS#11 module: the v1 fixture is migrated in
 * place and its keys sign; and the store is attacked as someone with access
 * to the file would, editing it with the sqlite3 command line between two
 * runs of the module: rolled-back records and metadata, a destroyed key put
 * back, a public key rewritten unsealed, an edited certificate, deleted
 * index rows, a tampered PIN KDF header, a zeroed failure counter, and a
 * re-initialisation under a logged-in second process. Each refusal is also
 * looked for in the module's log, which must name what was found.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test_p11_util.h"

#define FIX_SO "87654321"
#define FIX_PIN "123456"

static char db[400], logpath[400];

/* A fresh store (a copy of the v1 fixture if `fixture`) logged at info
 * level to logpath, the module not yet initialised. */
static void env_prepare(bool fixture)
{
    char line[1000];
    t_env_setup();
    snprintf(db, sizeof(db), "%s/tessera.db", t_dir);
    snprintf(logpath, sizeof(logpath), "%s/log", t_dir);
    /* a key given again overrides t_env_setup's line */
    snprintf(line, sizeof(line), "log_level = info\nlog_file = %s\n", logpath);
    t_env_conf_add(line);
    if (fixture) {
        char cmd[1200];
        const char *src = getenv("TESSERA_SRC_DIR");
        snprintf(cmd, sizeof(cmd), "cp '%s/tests/fixtures/store-v1.db' '%s' && chmod 600 '%s'",
                 src != NULL ? src : "../..", db, db);
        assert_int_equal(system(cmd), 0);
    }
}

static void env_up(bool fixture)
{
    env_prepare(fixture);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
}

static int setup(void **state)
{
    (void)state;
    env_up(false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)f->C_Finalize(NULL);
    if (getenv("T_KEEP") == NULL) {
        t_env_teardown();
    }
    return 0;
}

/* Run SQL on the store file with the sqlite3 program (the module stopped:
 * offline()). Returns the program's output (static). */
static const char *sql_out(const char *sql)
{
    static char out[65536];
    char cmd[70000];
    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"%s\"", db, sql);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) {
        out[--n] = '\0';
    }
    return out;
}

static void offline(void)
{
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

static void online(void)
{
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
}

static void save_row(const char *key, char *hex, size_t cap)
{
    char q[300];
    snprintf(q, sizeof(q), "select hex(value) from kv where key = cast('%s' as blob)", key);
    snprintf(hex, cap, "%s", sql_out(q));
    assert_true(strlen(hex) > 0);
}

static void put_row(const char *key, const char *hex)
{
    static char q[70000];
    snprintf(q, sizeof(q),
             "insert into kv(key, value, create_rev, mod_rev) values (cast('%s' as blob), X'%s', "
             "(select rev from meta), (select rev from meta)) on conflict(key) do update set "
             "value = excluded.value",
             key, hex);
    (void)sql_out(q);
}

/* save_row and put_row with the module stopped around them. */
static void save_row_offline(const char *key, char *hex, size_t cap)
{
    offline();
    save_row(key, hex, cap);
    online();
}

static void put_row_offline(const char *key, const char *hex)
{
    offline();
    put_row(key, hex);
    online();
}

static bool log_has(const char *what)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "grep -q -- '%s' '%s'", what, logpath);
    return system(cmd) == 0;
}

static void tok_id(CK_SLOT_ID slot, char out[17])
{
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    memcpy(out, ti.serialNumber, 16);
    out[16] = '\0';
}

static uint64_t obj_id(CK_OBJECT_HANDLE h)
{
    return (uint64_t)h & ((1ull << 62) - 1);
}

/* The store key of the record of token object h. */
static void obj_key(char out[64], const char *tid, CK_OBJECT_HANDLE h)
{
    snprintf(out, 64, "t/%s/o/%016llx", tid, (unsigned long long)obj_id(h));
}

static CK_SLOT_ID slot_by_label(const char *name)
{
    CK_SLOT_ID s[16];
    CK_ULONG n = t_slots(s);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(s[i], &ti) == CKR_OK && memcmp(ti.label, name, strlen(name)) == 0) {
            return s[i];
        }
    }
    fail_msg("no token %s", name);
    return 0;
}

static CK_ULONG find(CK_SESSION_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_HANDLE hs[16];
    CK_ULONG cnt = 0;
    assert_int_equal(f->C_FindObjectsInit(h, t, n), CKR_OK);
    assert_int_equal(f->C_FindObjects(h, hs, 16, &cnt), CKR_OK);
    assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
    if (out != NULL && cnt > 0) {
        *out = hs[0];
    }
    return cnt;
}

static CK_ULONG find_label(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label,
                           CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, strlen(label)}};
    return find(h, t, 2, out);
}

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static CK_OBJECT_HANDLE gen_aes(CK_SESSION_HANDLE h, const char *label, bool extractable)
{
    CK_ULONG len = 32;
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ATTRIBUTE t[] = {{CKA_TOKEN, &yes, 1},
                        {CKA_LABEL, (void *)label, strlen(label)},
                        {CKA_VALUE_LEN, &len, sizeof(len)},
                        {CKA_SENSITIVE, extractable ? &no : &yes, 1},
                        {CKA_EXTRACTABLE, extractable ? &yes : &no, 1}};
    CK_OBJECT_HANDLE k = 0;
    assert_int_equal(f->C_GenerateKey(h, &m, t, 5, &k), CKR_OK);
    return k;
}

static void gen_ec(CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE *pub,
                   CK_OBJECT_HANDLE *priv)
{
    static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_LABEL, (void *)label, strlen(label)},
                         {CKA_EC_PARAMS, p256, sizeof(p256)},
                         {CKA_VERIFY, &yes, 1}};
    CK_ATTRIBUTE st[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_LABEL, (void *)label, strlen(label)},
                         {CKA_SIGN, &yes, 1}};
    assert_int_equal(f->C_GenerateKeyPair(h, &m, pt, 4, st, 3, pub, priv), CKR_OK);
}

static CK_SESSION_HANDLE user_session(CK_SLOT_ID slot, const char *pin)
{
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(pin)), CKR_OK);
    return h;
}

static void sign_verify(CK_SESSION_HANDLE h, CK_MECHANISM_TYPE mt, CK_OBJECT_HANDLE priv,
                        CK_OBJECT_HANDLE pub)
{
    CK_MECHANISM m = {mt, NULL, 0};
    CK_BYTE data[] = "fixture data", sig[512];
    CK_ULONG slen = sizeof(sig);
    assert_int_equal(f->C_SignInit(h, &m, priv), CKR_OK);
    assert_int_equal(f->C_Sign(h, data, sizeof(data), sig, &slen), CKR_OK);
    assert_int_equal(f->C_VerifyInit(h, &m, pub), CKR_OK);
    assert_int_equal(f->C_Verify(h, data, sizeof(data), sig, slen), CKR_OK);
}

/* ---- the v1 fixture --------------------------------------------------------------- */

static void test_fixture_migrates_and_signs(void **state)
{
    (void)state;
    (void)f->C_Finalize(NULL);
    t_env_teardown();
    env_up(true);
    CK_SLOT_ID slot = slot_by_label("fixture");
    char tid[17];
    tok_id(slot, tid);

    /* before any login: public objects are found through the rewritten
     * (big-endian) class index, and served */
    CK_SESSION_HANDLE h = t_open(slot, true);
    CK_OBJECT_CLASS cert = CKO_CERTIFICATE, data = CKO_DATA;
    CK_ATTRIBUTE qc[] = {{CKA_CLASS, &cert, sizeof(cert)}};
    assert_int_equal(find(h, qc, 1, NULL), 1);
    CK_OBJECT_HANDLE o;
    assert_int_equal(find_label(h, data, "pubdata", &o), 1);
    char val[64];
    CK_ATTRIBUTE av = {CKA_VALUE, val, sizeof(val)};
    assert_int_equal(f->C_GetAttributeValue(h, o, &av, 1), CKR_OK);
    assert_int_equal(av.ulValueLen, 12);
    assert_memory_equal(val, "public data\n", 12);
    assert_int_equal(find_label(h, data, "pubsealed", NULL), 1);
    assert_int_equal(find_label(h, data, "privdata", NULL), 0);
    assert_true(log_has("migrated to format v2"));
    assert_string_equal(sql_out("select count(*) from kv where cast(key as text) like "
                                "'t/%/ix/00000000/p/0400000000000000/%'"),
                        "0");

    /* the first login rewrites the sealed records; the keys sign */
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(FIX_PIN)), CKR_OK);
    assert_true(log_has("sealed records migrated to format v2"));
    CK_OBJECT_CLASS pk = CKO_PRIVATE_KEY, pub = CKO_PUBLIC_KEY, sk = CKO_SECRET_KEY;
    CK_OBJECT_HANDLE rsa, rsapub, ec, ecpub, aes;
    assert_int_equal(find_label(h, pk, "rsa1", &rsa), 1);
    assert_int_equal(find_label(h, pub, "rsa1", &rsapub), 1);
    assert_int_equal(find_label(h, pk, "ec1", &ec), 1);
    assert_int_equal(find_label(h, pub, "ec1", &ecpub), 1);
    assert_int_equal(find_label(h, sk, "aes1", &aes), 1);
    sign_verify(h, CKM_SHA256_RSA_PKCS, rsa, rsapub);
    sign_verify(h, CKM_ECDSA_SHA256, ec, ecpub);
    CK_MECHANISM gcm = {CKM_AES_ECB, NULL, 0};
    CK_BYTE blk[16] = {1}, ct[16];
    CK_ULONG clen = sizeof(ct);
    assert_int_equal(f->C_EncryptInit(h, &gcm, aes), CKR_OK);
    assert_int_equal(f->C_Encrypt(h, blk, 16, ct, &clen), CKR_OK);
    assert_int_equal(find_label(h, data, "privdata", &o), 1);
    av.ulValueLen = sizeof(val);
    assert_int_equal(f->C_GetAttributeValue(h, o, &av, 1), CKR_OK);
    assert_memory_equal(val, "private data\n", 13);
    /* a new key is written in the new format */
    gen_aes(h, "newkey", false);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
    offline();
    /* no record, metadata or index row in host byte order is left */
    char q[400];
    snprintf(q, sizeof(q), "select count(*) from kv where cast(key as text) like 't/%s/o/%%' and "
                           "hex(substr(value,1,4)) <> hex('TSO2')", tid);
    assert_string_equal(sql_out(q), "0");
    snprintf(q, sizeof(q), "select substr(value,1,4) from kv where key = cast('t/%s/meta' as blob)", tid);
    assert_string_equal(sql_out(q), "TTM2");
    /* the secret key's class in its record: u64 type 0, u32 length 8,
     * then 4 as a big-endian u64 */
    snprintf(q, sizeof(q), "select count(*) from kv where cast(key as text) like 't/%s/o/%%' and "
                           "instr(hex(value), '00000000000000000000000800000000" "00000004') > 0",
             tid);
    assert_string_equal(sql_out(q), "2");
    /* and it all opens again */
    online();
    h = user_session(slot, FIX_PIN);
    assert_int_equal(find_label(h, pk, "ec1", &ec), 1);
    assert_int_equal(find_label(h, pub, "ec1", &ecpub), 1);
    sign_verify(h, CKM_ECDSA_SHA256, ec, ecpub);
    /* the migrated certificate (stored unsealed, logged out, by v1) is
     * protected now: another record put in its place is refused */
    CK_OBJECT_HANDLE crt, pd;
    assert_int_equal(find_label(h, cert, "cert1", &crt), 1);
    assert_int_equal(find_label(h, data, "pubdata", &pd), 1);
    offline();
    static char hex[20000];
    char k1[64], k2[64];
    obj_key(k1, tid, crt);
    obj_key(k2, tid, pd);
    save_row(k2, hex, sizeof(hex));
    put_row(k1, hex);
    online();
    h = t_open(slot, true);
    assert_int_equal(find_label(h, cert, "cert1", NULL), 0);
    CK_ATTRIBUTE cv = {CKA_VALUE, val, sizeof(val)};
    assert_int_equal(f->C_GetAttributeValue(h, crt, &cv, 1), CKR_DEVICE_ERROR);
}

/* ---- rollback and replacement ------------------------------------------------------- */

static void test_record_rollback_refused(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("rb");
    char tid[17], okey[64];
    static char old[20000];
    tok_id(slot, tid);
    CK_SESSION_HANDLE h = user_session(slot, USER_PIN);
    CK_OBJECT_HANDLE k = gen_aes(h, "ratchet", true);
    obj_key(okey, tid, k);
    save_row_offline(okey, old, sizeof(old));
    h = user_session(slot, USER_PIN);
    CK_ATTRIBUTE t[] = {{CKA_EXTRACTABLE, &no, 1}};
    assert_int_equal(f->C_SetAttributeValue(h, k, t, 1), CKR_OK);
    put_row_offline(okey, old); /* the record from before the change */
    h = user_session(slot, USER_PIN);
    CK_BBOOL ex = CK_TRUE;
    CK_BYTE v[32];
    CK_ATTRIBUTE ge[] = {{CKA_EXTRACTABLE, &ex, 1}};
    CK_ATTRIBUTE gv[] = {{CKA_VALUE, v, sizeof(v)}};
    assert_int_equal(f->C_GetAttributeValue(h, k, ge, 1), CKR_DEVICE_ERROR);
    assert_int_equal(f->C_GetAttributeValue(h, k, gv, 1), CKR_DEVICE_ERROR);
    CK_MECHANISM m = {CKM_AES_ECB, NULL, 0};
    assert_int_equal(f->C_EncryptInit(h, &m, k), CKR_DEVICE_ERROR);
    assert_true(log_has("rolled back (record serial 1, the manifest names serial 2)"));
}

static void test_destroyed_record_put_back_refused(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("dp");
    char tid[17], okey[64];
    static char old[20000];
    tok_id(slot, tid);
    CK_SESSION_HANDLE h = user_session(slot, USER_PIN);
    CK_OBJECT_HANDLE k = gen_aes(h, "gone", false);
    obj_key(okey, tid, k);
    save_row_offline(okey, old, sizeof(old));
    h = user_session(slot, USER_PIN);
    assert_int_equal(f->C_DestroyObject(h, k), CKR_OK);
    put_row_offline(okey, old);
    h = user_session(slot, USER_PIN);
    CK_BYTE lbl[16];
    CK_ATTRIBUTE ga[] = {{CKA_LABEL, lbl, sizeof(lbl)}};
    assert_int_equal(f->C_GetAttributeValue(h, k, ga, 1), CKR_OBJECT_HANDLE_INVALID);
    CK_MECHANISM m = {CKM_AES_ECB, NULL, 0};
    assert_int_equal(f->C_EncryptInit(h, &m, k), CKR_KEY_HANDLE_INVALID);
    CK_ATTRIBUTE q[] = {{CKA_LABEL, "gone", 4}};
    assert_int_equal(find(h, q, 1, NULL), 0);
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
    CK_ATTRIBUTE qc[] = {{CKA_CLASS, &sk, sizeof(sk)}};
    assert_int_equal(find(h, qc, 1, NULL), 0);
    assert_true(log_has("has no manifest entry (a deleted object put back"));
}

static void test_meta_rollback_old_pin_refused(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("pin");
    char tid[17], mkey[64];
    static char old[4000];
    tok_id(slot, tid);
    snprintf(mkey, sizeof(mkey), "t/%s/meta", tid);
    save_row_offline(mkey, old, sizeof(old));
    CK_SESSION_HANDLE h = user_session(slot, USER_PIN);
    assert_int_equal(f->C_SetPIN(h, PIN_ARGS(USER_PIN), PIN_ARGS("changed-1")), CKR_OK);
    put_row_offline(mkey, old); /* the metadata from before the PIN change */
    h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_DEVICE_ERROR);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS("changed-1")), CKR_DEVICE_ERROR);
    assert_true(log_has("metadata rolled back or replaced"));
}

static void test_zeroed_failure_counter_refused(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("cnt");
    char tid[17], q[400];
    tok_id(slot, tid);
    CK_SESSION_HANDLE h = t_open(slot, true);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS("wrong-pin")), CKR_PIN_INCORRECT);
    }
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_FINAL_TRY);
    offline();
    /* user_fail is the byte at offset 69 of the v2 metadata */
    snprintf(q, sizeof(q), "select hex(substr(value, 70, 1)) from kv where key = cast('t/%s/meta' as blob)",
             tid);
    assert_string_equal(sql_out(q), "04");
    snprintf(q, sizeof(q),
             "update kv set value = substr(value, 1, 69) || X'00' || substr(value, 71) where "
             "key = cast('t/%s/meta' as blob)",
             tid);
    (void)sql_out(q);
    online();
    h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS("wrong-pin")), CKR_DEVICE_ERROR);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_DEVICE_ERROR);
    assert_true(log_has("metadata fails its integrity check"));
}

/* A public key made while logged in (sealed) rewritten by the attacker in
 * the unsealed form, with another key's point: refused, so no signature of
 * the attacker's verifies. */
static void test_unsealed_rewrite_refused(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("swap");
    char tid[17], key1[64], key2[64];
    static char hex1[20000], hex2[20000];
    tok_id(slot, tid);
    CK_SESSION_HANDLE h = user_session(slot, USER_PIN);
    CK_OBJECT_HANDLE pub1, priv1, pub2, priv2;
    gen_ec(h, "victim", &pub1, &priv1);
    gen_ec(h, "attacker", &pub2, &priv2);
    obj_key(key1, tid, pub1);
    obj_key(key2, tid, pub2);
    offline();
    save_row(key1, hex1, sizeof(hex1));
    save_row(key2, hex2, sizeof(hex2));
    /* the attacker's public part, re-labelled under the victim's id and
     * stored unsealed: header flags 0, no sealed part */
    size_t n = strlen(hex2) / 2;
    uint8_t *r = malloc(n);
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        sscanf(hex2 + 2 * i, "%2x", &x);
        r[i] = (uint8_t)x;
    }
    uint64_t id1 = obj_id(pub1);
    for (int i = 0; i < 8; i++) {
        r[4 + i] = (uint8_t)(id1 >> (56 - 8 * i));
    }
    memset(r + 28, 0, 4);
    /* the sealed part is the last iv+ct+tag; its length sits before it */
    size_t off = 40; /* after the serial: public attributes, then u32 sealed_len */
    uint32_t cnt = (uint32_t)r[off] << 24 | (uint32_t)r[off + 1] << 16 | r[off + 2] << 8 | r[off + 3];
    off += 4;
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t l = (uint32_t)r[off + 8] << 24 | (uint32_t)r[off + 9] << 16 |
                     (uint32_t)r[off + 10] << 8 | r[off + 11];
        off += 12 + l;
    }
    memset(r + off, 0, 4);
    n = off + 4;
    static char forged[20000];
    for (size_t i = 0; i < n; i++) {
        sprintf(forged + 2 * i, "%02X", r[i]);
    }
    free(r);
    put_row(key1, forged);
    online();
    h = t_open(slot, true);
    CK_BYTE pt[128];
    CK_ATTRIBUTE ga[] = {{CKA_EC_POINT, pt, sizeof(pt)}};
    assert_int_equal(f->C_GetAttributeValue(h, pub1, ga, 1), CKR_DEVICE_ERROR);
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    assert_int_equal(f->C_VerifyInit(h, &m, pub1), CKR_DEVICE_ERROR);
    assert_true(log_has("does not match its manifest entry (replaced)"));
}

/* A certificate stored while logged out (unsealed), its value edited in the
 * file: not served, before or after a login. */
static void test_logged_out_certificate_edit_refused(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("cert");
    char tid[17], q[600];
    tok_id(slot, tid);
    CK_SESSION_HANDLE h = t_open(slot, true);
    CK_OBJECT_CLASS c = CKO_DATA;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &c, sizeof(c)},
                        {CKA_TOKEN, &yes, 1},
                        {CKA_LABEL, "trust-anchor", 12},
                        {CKA_VALUE, "GOOD-VALUE-0123456789", 21}};
    CK_OBJECT_HANDLE o;
    assert_int_equal(f->C_CreateObject(h, t, 4, &o), CKR_OK);
    offline();
    static char hex[20000];
    obj_key(q, tid, o);
    save_row(q, hex, sizeof(hex));
    /* "GOOD" -> "EVIL" in the stored value */
    char *p = strstr(hex, "474F4F44");
    assert_non_null(p);
    memcpy(p, "4556494C", 8);
    put_row(q, hex);
    online();
    h = t_open(slot, true);
    char v[64];
    CK_ATTRIBUTE gv[] = {{CKA_VALUE, v, sizeof(v)}};
    assert_int_equal(f->C_GetAttributeValue(h, o, gv, 1), CKR_DEVICE_ERROR);
    CK_ATTRIBUTE ql[] = {{CKA_LABEL, "trust-anchor", 12}};
    assert_int_equal(find(h, ql, 1, NULL), 0);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_GetAttributeValue(h, o, gv, 1), CKR_DEVICE_ERROR);
    assert_true(log_has("does not match its manifest entry"));
}

static void test_deleted_index_rows_detected(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("ix");
    char tid[17], q[400];
    tok_id(slot, tid);
    CK_SESSION_HANDLE h = user_session(slot, USER_PIN);
    gen_aes(h, "hidden", false);
    gen_aes(h, "other", false);
    offline();
    /* every label and class row of the token */
    snprintf(q, sizeof(q),
             "delete from kv where cast(key as text) like 't/%s/ix/00000003/%%' or cast(key as text) like "
             "'t/%s/ix/00000000/%%'",
             tid, tid);
    (void)sql_out(q);
    online();
    h = user_session(slot, USER_PIN);
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
    assert_int_equal(find_label(h, sk, "hidden", NULL), 1);
    CK_ATTRIBUTE qc[] = {{CKA_CLASS, &sk, sizeof(sk)}};
    assert_int_equal(find(h, qc, 1, NULL), 2);
    assert_true(log_has("index rows where the metadata counts"));
}

/* The KDF cost in the protector blob raised in the file: the correct PIN is
 * refused as a damaged store, quickly, and not counted against the user. */
static void test_kdf_header_tamper_not_counted(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("kdf");
    char tid[17], mkey[64], q[500];
    static char orig[4000];
    tok_id(slot, tid);
    snprintf(mkey, sizeof(mkey), "t/%s/meta", tid);
    offline();
    save_row(mkey, orig, sizeof(orig));
    /* the blob starts at offset 94: "TPP1", then t_cost */
    snprintf(q, sizeof(q),
             "update kv set value = substr(value, 1, 98) || X'00000040' || substr(value, 103) "
             "where key = cast('%s' as blob)",
             mkey);
    (void)sql_out(q);
    online();
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_DEVICE_ERROR);
    put_row_offline(mkey, orig);
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_false(ti.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED));
    h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
}

/* Process B re-initialises the token while process A is logged in and
 * creating keys: A never gets CKR_OK for a key sealed under the lost key,
 * and nothing of the old token survives. */
static void test_reinit_under_logged_in_process(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("ri");
    char tid[17], q[300];
    tok_id(slot, tid);
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    offline();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A */
        char c;
        int rc = 1;
        if (f->C_Initialize(NULL) == CKR_OK) {
            CK_SESSION_HANDLE h;
            CK_OBJECT_HANDLE k;
            CK_ULONG len = 32;
            CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
            CK_ATTRIBUTE t[] = {{CKA_TOKEN, &yes, 1}, {CKA_VALUE_LEN, &len, sizeof(len)}};
            if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) ==
                    CKR_OK &&
                f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)) == CKR_OK &&
                f->C_GenerateKey(h, &m, t, 2, &k) == CKR_OK) {
                (void)!write(go[1], "g", 1);
                if (read(done[0], &c, 1) == 1) {
                    CK_RV rv = f->C_GenerateKey(h, &m, t, 2, &k);
                    rc = rv == CKR_OK ? 2 : 0;
                    /* the new token's key, made by B: A's stale key opens
                     * nothing, and that is no tamper alarm */
                    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
                    /* by class: the label index of a private object is
                     * keyed by the token key, the class index is not */
                    CK_ATTRIBUTE qa[] = {{CKA_CLASS, &sk, sizeof(sk)}};
                    CK_OBJECT_HANDLE hs[4];
                    CK_ULONG n = 0;
                    if (f->C_FindObjectsInit(h, qa, 1) == CKR_OK &&
                        f->C_FindObjects(h, hs, 4, &n) == CKR_OK) {
                        (void)f->C_FindObjectsFinal(h);
                        CK_MECHANISM e = {CKM_AES_ECB, NULL, 0};
                        if (n > 0 && f->C_EncryptInit(h, &e, hs[0]) == CKR_OK) {
                            rc = 3;
                        }
                    }
                }
            }
            f->C_Finalize(NULL);
        }
        _exit(rc);
    }
    char c;
    assert_int_equal(read(go[0], &c, 1), 1);
    online();
    CK_UTF8CHAR label[32];
    t_label(label, "ri2");
    assert_int_equal(f->C_InitToken(slot, PIN_ARGS(SO_PIN), label), CKR_OK);
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)), CKR_OK);
    assert_int_equal(f->C_InitPIN(h, PIN_ARGS(USER_PIN)), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
    gen_aes(h, "after", false);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    assert_int_equal(f->C_CloseSession(h), CKR_OK);
    assert_int_equal(write(done[1], "d", 1), 1);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    snprintf(q, sizeof(q), "select count(*) from kv where cast(key as text) like 't/%s/o/%%'", tid);
    offline();
    assert_string_equal(sql_out(q), "1"); /* only the new token's key */
    online();
    assert_true(log_has("re-initialised since this process unlocked its key"));
    assert_false(log_has("failed its integrity check"));
    assert_true(log_has("no longer the token"));
}

/* Lengths from the caller are bounded before anything is computed from
 * them. */
static void test_search_value_bounds(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("bounds");
    CK_SESSION_HANDLE h = t_open(slot, false);
    static CK_BYTE big[(64 << 10) + 1];
    CK_ATTRIBUTE t1[] = {{CKA_LABEL, big, sizeof(big)}};
    assert_int_equal(f->C_FindObjectsInit(h, t1, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_BYTE small[4] = {0};
    CK_ATTRIBUTE t2[] = {{CKA_LABEL, small, (CK_ULONG)1 << 62}};
    assert_int_equal(f->C_FindObjectsInit(h, t2, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE t3[] = {{CKA_ID, small, ~(CK_ULONG)0 / 2 + 1}};
    assert_int_equal(f->C_FindObjectsInit(h, t3, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE t4[] = {{CKA_LABEL, big, 64 << 10}};
    assert_int_equal(f->C_FindObjectsInit(h, t4, 1), CKR_OK);
    assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
}

/* kill -9 while another process creates and destroys keys and changes its
 * PIN: every acknowledged key is there and works, every acknowledged
 * destruction holds, and the counts the metadata keeps still agree with
 * the store (no false alarm after the crash). */
static void test_kill_during_writes(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("crash");
    int p[2];
    assert_int_equal(pipe(p), 0);
    offline();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (f->C_Initialize(NULL) != CKR_OK) {
            _exit(1);
        }
        CK_SESSION_HANDLE h;
        if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) !=
                CKR_OK ||
            f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)) != CKR_OK) {
            _exit(1);
        }
        const char *pins[2] = {USER_PIN, "other-pin-2"};
        for (unsigned i = 0;; i++) {
            char label[32];
            CK_ULONG len = 32;
            CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
            snprintf(label, sizeof(label), "k%u", i);
            CK_ATTRIBUTE t[] = {{CKA_TOKEN, &yes, 1},
                                {CKA_LABEL, label, strlen(label)},
                                {CKA_VALUE_LEN, &len, sizeof(len)}};
            CK_OBJECT_HANDLE k;
            uint64_t rec[2] = {0, 0};
            if (f->C_GenerateKey(h, &m, t, 3, &k) == CKR_OK) {
                rec[0] = 1;
                rec[1] = i;
                (void)!write(p[1], rec, sizeof(rec));
            }
            if (i % 3 == 2 && rec[0] == 1) {
                /* about to destroy: gone or not if killed before the answer */
                rec[0] = 4;
                (void)!write(p[1], rec, sizeof(rec));
                if (f->C_DestroyObject(h, k) == CKR_OK) {
                    rec[0] = 2;
                    (void)!write(p[1], rec, sizeof(rec));
                }
            }
            if (i % 7 == 6 &&
                f->C_SetPIN(h, PIN_ARGS(pins[(i / 7) % 2]), PIN_ARGS(pins[(i / 7 + 1) % 2])) ==
                    CKR_OK) {
                rec[0] = 3;
                rec[1] = (i / 7 + 1) % 2;
                (void)!write(p[1], rec, sizeof(rec));
            }
        }
    }
    close(p[1]);
    usleep(1500 * 1000);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    static uint8_t live[100000];
    unsigned maxi = 0, pin = 0;
    uint64_t rec[2];
    while (read(p[0], rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
        if (rec[0] == 1 && rec[1] < sizeof(live)) {
            live[rec[1]] = 1;
            maxi = (unsigned)rec[1] + 1;
        } else if (rec[0] == 2 && rec[1] < sizeof(live)) {
            live[rec[1]] = 2;
        } else if (rec[0] == 4 && rec[1] < sizeof(live)) {
            live[rec[1]] = 4; /* either */
        } else if (rec[0] == 3) {
            pin = (unsigned)rec[1];
        }
    }
    close(p[0]);
    assert_true(maxi > 3);
    online();
    CK_SESSION_HANDLE h = t_open(slot, true);
    /* the acknowledged PIN, or the next one if the kill came after the
     * commit but before the acknowledgement */
    const char *pins[2] = {USER_PIN, "other-pin-2"};
    if (f->C_Login(h, CKU_USER, PIN_ARGS(pins[pin])) != CKR_OK) {
        assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(pins[1 - pin])), CKR_OK);
    }
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
    for (unsigned i = 0; i < maxi; i++) {
        char label[32];
        CK_OBJECT_HANDLE k;
        snprintf(label, sizeof(label), "k%u", i);
        CK_ULONG n = find_label(h, sk, label, &k);
        if (live[i] == 1) {
            assert_int_equal(n, 1);
            CK_MECHANISM m = {CKM_AES_ECB, NULL, 0};
            assert_int_equal(f->C_EncryptInit(h, &m, k), CKR_OK);
            CK_BYTE b[16] = {0}, c[16];
            CK_ULONG cl = sizeof(c);
            assert_int_equal(f->C_Encrypt(h, b, 16, c, &cl), CKR_OK);
        } else if (live[i] == 2) {
            assert_int_equal(n, 0);
        }
    }
    assert_false(log_has("index rows where the metadata counts"));
    assert_false(log_has("rolled back"));
    assert_false(log_has("integrity check"));
}

/* Readers in one process while another process commits: the two reads of
 * record and manifest entry (and of metadata and witness) race the
 * commits, and that must never be mistaken for tampering. */
static void test_concurrent_readers_no_false_alarm(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("race");
    CK_SESSION_HANDLE h = user_session(slot, USER_PIN);
    CK_OBJECT_HANDLE k = gen_aes(h, "shared", true);
    offline();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = 1;
        if (f->C_Initialize(NULL) == CKR_OK) {
            CK_SESSION_HANDLE w;
            if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &w) ==
                    CKR_OK &&
                f->C_Login(w, CKU_USER, PIN_ARGS(USER_PIN)) == CKR_OK) {
                rc = 0;
                for (unsigned i = 0; i < 150 && rc == 0; i++) {
                    char lbl[16];
                    snprintf(lbl, sizeof(lbl), "w%u", i);
                    CK_ATTRIBUTE t[] = {{CKA_LABEL, lbl, strlen(lbl)}};
                    /* the shared key is rewritten, others come and go */
                    if (f->C_SetAttributeValue(w, k, t, 1) != CKR_OK) {
                        rc = 2;
                    }
                    CK_OBJECT_HANDLE x = gen_aes(w, lbl, false);
                    if (i % 2 == 0 && f->C_DestroyObject(w, x) != CKR_OK) {
                        rc = 3;
                    }
                }
            }
            f->C_Finalize(NULL);
        }
        _exit(rc);
    }
    online();
    h = user_session(slot, USER_PIN);
    int st = 0;
    unsigned rounds = 0;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
        CK_ATTRIBUTE qc[] = {{CKA_CLASS, &sk, sizeof(sk)}};
        CK_OBJECT_HANDLE hs[64];
        CK_ULONG n = 0;
        assert_int_equal(f->C_FindObjectsInit(h, qc, 1), CKR_OK);
        assert_int_equal(f->C_FindObjects(h, hs, 64, &n), CKR_OK);
        assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
        char lbl[32];
        CK_ATTRIBUTE gl[] = {{CKA_LABEL, lbl, sizeof(lbl)}};
        CK_RV rv = f->C_GetAttributeValue(h, k, gl, 1);
        assert_true(rv == CKR_OK);
        CK_TOKEN_INFO ti;
        assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
        rounds++;
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(rounds > 0);
    assert_false(log_has("rolled back"));
    assert_false(log_has("integrity check"));
    assert_false(log_has("manifest entry"));
    assert_false(log_has("witness"));
    assert_false(log_has("index rows where"));
}

/* Another process holds the store's write lock (an open write transaction
 * in the sqlite3 program) longer than the write ceiling: the module's write
 * answers CKR_FUNCTION_FAILED, logged as a busy store, not a device error,
 * and works again once the lock is free. */
static void test_write_lock_ceiling(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("busy");
    CK_SESSION_HANDLE h = user_session(slot, USER_PIN);
    char cmd[1200], flag[420];
    snprintf(flag, sizeof(flag), "%s/locked", t_dir);
    snprintf(cmd, sizeof(cmd),
             "printf 'BEGIN IMMEDIATE;\\n.shell touch %s\\n.shell sleep 11\\nROLLBACK;\\n' | "
             "sqlite3 '%s' >/dev/null 2>&1 &",
             flag, db);
    assert_int_equal(system(cmd), 0);
    for (int i = 0; i < 100 && access(flag, F_OK) != 0; i++) {
        usleep(50 * 1000);
    }
    assert_int_equal(access(flag, F_OK), 0);
    CK_ULONG len = 32;
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ATTRIBUTE t[] = {{CKA_TOKEN, &yes, 1}, {CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_OBJECT_HANDLE k;
    assert_int_equal(f->C_GenerateKey(h, &m, t, 2, &k), CKR_FUNCTION_FAILED);
    assert_true(log_has("stayed locked by another writer"));
    assert_false(log_has("commit: storage backend failure"));
    sleep(4);
    assert_int_equal(f->C_GenerateKey(h, &m, t, 2, &k), CKR_OK);
}

/* The slot registry rows of two tokens swapped: each token's metadata names
 * its own slot, so neither is served under the other's. */
static void test_slot_rows_swapped(void **state)
{
    (void)state;
    CK_SLOT_ID s1 = t_ready_token("one");
    CK_SLOT_ID s2 = t_ready_token("two");
    offline();
    char k1[32], k2[32], v1[64], v2[64];
    snprintf(k1, sizeof(k1), "slot/%08lx", (unsigned long)s1);
    snprintf(k2, sizeof(k2), "slot/%08lx", (unsigned long)s2);
    save_row(k1, v1, sizeof(v1));
    save_row(k2, v2, sizeof(v2));
    put_row(k1, v2);
    put_row(k2, v1);
    online();
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(s1, &ti), CKR_DEVICE_ERROR);
    assert_int_equal(f->C_GetTokenInfo(s2, &ti), CKR_DEVICE_ERROR);
    assert_true(log_has("its metadata names slot"));
}

/* kill -9 while another process re-initialises the token again and again
 * (with objects created in between): the token is the one acknowledged or
 * the one in flight, whole, with nothing of an older token left. */
static void test_kill_during_reinit(void **state)
{
    (void)state;
    CK_SLOT_ID slot = t_ready_token("r0");
    char tid[17];
    tok_id(slot, tid);
    int p[2];
    assert_int_equal(pipe(p), 0);
    offline();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (f->C_Initialize(NULL) != CKR_OK) {
            _exit(1);
        }
        for (unsigned i = 1;; i++) {
            CK_UTF8CHAR label[32];
            char name[16];
            snprintf(name, sizeof(name), "r%u", i);
            t_label(label, name);
            CK_SESSION_HANDLE h;
            if (f->C_InitToken(slot, PIN_ARGS(SO_PIN), label) != CKR_OK) {
                _exit(2);
            }
            uint32_t n = i;
            (void)!write(p[1], &n, sizeof(n));
            if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) !=
                    CKR_OK ||
                f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)) != CKR_OK ||
                f->C_InitPIN(h, PIN_ARGS(USER_PIN)) != CKR_OK || f->C_Logout(h) != CKR_OK ||
                f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)) != CKR_OK) {
                _exit(3);
            }
            CK_ULONG len = 32;
            CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
            CK_ATTRIBUTE t[] = {{CKA_TOKEN, &yes, 1}, {CKA_VALUE_LEN, &len, sizeof(len)},
                                {CKA_LABEL, name, strlen(name)}};
            CK_OBJECT_HANDLE k;
            for (int j = 0; j < 3; j++) {
                (void)f->C_GenerateKey(h, &m, t, 3, &k);
            }
            (void)f->C_CloseSession(h);
        }
    }
    close(p[1]);
    usleep(1200 * 1000);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_false(WIFEXITED(st));
    uint32_t n, last = 0;
    while (read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n)) {
        last = n;
    }
    close(p[0]);
    assert_true(last >= 1);
    online();
    CK_TOKEN_INFO ti;
    assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_OK);
    char want1[16], want2[16];
    snprintf(want1, sizeof(want1), "r%u ", last);
    snprintf(want2, sizeof(want2), "r%u ", last + 1);
    assert_true(memcmp(ti.label, want1, strlen(want1)) == 0 ||
                memcmp(ti.label, want2, strlen(want2)) == 0);
    char label[16];
    memcpy(label, ti.label, sizeof(label) - 1);
    label[strcspn(label, " ")] = '\0';
    CK_SESSION_HANDLE h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_SO, PIN_ARGS(SO_PIN)), CKR_OK);
    assert_int_equal(f->C_Logout(h), CKR_OK);
    /* every key left is this token's: found by class, and its label is the
     * token's label */
    if (ti.flags & CKF_USER_PIN_INITIALIZED) {
        assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_OK);
        CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
        CK_ATTRIBUTE qc[] = {{CKA_CLASS, &sk, sizeof(sk)}};
        CK_OBJECT_HANDLE hs[16];
        CK_ULONG cnt = 0;
        assert_int_equal(f->C_FindObjectsInit(h, qc, 1), CKR_OK);
        assert_int_equal(f->C_FindObjects(h, hs, 16, &cnt), CKR_OK);
        assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
        assert_true(cnt <= 3);
        for (CK_ULONG i = 0; i < cnt; i++) {
            char l[16];
            CK_ATTRIBUTE gl = {CKA_LABEL, l, sizeof(l)};
            assert_int_equal(f->C_GetAttributeValue(h, hs[i], &gl, 1), CKR_OK);
            assert_int_equal(gl.ulValueLen, strlen(label));
            assert_memory_equal(l, label, gl.ulValueLen);
        }
    }
    offline();
    char q[300];
    snprintf(q, sizeof(q), "select count(*) from kv where cast(key as text) like 't/%s/o/%%'", tid);
    assert_true(atoi(sql_out(q)) <= 3);
    online();
    assert_false(log_has("index rows where the metadata counts"));
    assert_false(log_has("integrity check"));
    assert_false(log_has("rolled back"));
}

/* With `anchor_file` configured, a rollback of the whole store file (an
 * older copy put back, PIN change undone) is refused. */
static void test_whole_file_rollback_with_anchor(void **state)
{
    (void)state;
    (void)f->C_Finalize(NULL);
    t_env_teardown();
    env_prepare(false);
    /* beside the store, so that the teardown removes it; a copy of the
     * store file alone is put back */
    char extra[600];
    snprintf(extra, sizeof(extra), "anchor_file = %s/anchor\n", t_dir);
    t_env_conf_add(extra);
    online();
    CK_SLOT_ID slot = t_ready_token("anch");
    char cmd[2000];
    offline();
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.old'", db, db);
    assert_int_equal(system(cmd), 0);
    online();
    CK_SESSION_HANDLE h = user_session(slot, USER_PIN);
    assert_int_equal(f->C_SetPIN(h, PIN_ARGS(USER_PIN), PIN_ARGS("changed-2")), CKR_OK);
    offline();
    snprintf(cmd, sizeof(cmd), "cp '%s.old' '%s' && rm -f '%s-wal' '%s-shm'", db, db, db, db);
    assert_int_equal(system(cmd), 0);
    online();
    h = t_open(slot, true);
    assert_int_equal(f->C_Login(h, CKU_USER, PIN_ARGS(USER_PIN)), CKR_DEVICE_ERROR);
    assert_true(log_has("store rolled back"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fixture_migrates_and_signs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_rollback_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroyed_record_put_back_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_rollback_old_pin_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zeroed_failure_counter_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsealed_rewrite_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logged_out_certificate_edit_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_index_rows_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kdf_header_tamper_not_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reinit_under_logged_in_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_value_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_during_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers_no_false_alarm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_during_reinit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_rows_swapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whole_file_rollback_with_anchor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_lock_ceiling, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
