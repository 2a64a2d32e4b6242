/*
 * The core as a whole: start-up for every front end (tcore_open), the slots
 * and tokens seen without a session, and the key specs of the CLI.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"

/* ---- start-up ------------------------------------------------------------- */

/* A positive integer setting; absent keys keep *v. */
static bool conf_u32(const tc_conf *conf, const char *key, uint32_t *v)
{
    const char *s = tc_conf_get(conf, key, NULL);
    if (s == NULL) {
        return true;
    }
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n == 0 || n > UINT32_MAX) {
        return false;
    }
    *v = (uint32_t)n;
    return true;
}

/* The store: `store` from the configuration, else <default data dir>/tessera.db. */
static bool store_uri(const tc_conf *conf, char *buf, size_t len)
{
    const char *s = tc_conf_get(conf, "store", NULL);
    if (s != NULL) {
        int n = snprintf(buf, len, "%s", s);
        return n > 0 && (size_t)n < len;
    }
    char dir[PATH_MAX];
    if (!tc_default_data_dir(dir, sizeof(dir))) {
        return false;
    }
    int n = snprintf(buf, len, "%s/tessera.db", dir);
    return n > 0 && (size_t)n < len;
}

CK_RV tcore_open(const tc_conf *conf, tcore **out)
{
    CK_RV rv = CKR_OK;
    tc_conf *own = NULL;
    tstore *store = NULL;
    tcore *c = NULL;

    if (out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    /* Known-answer self-tests (DESIGN.md "Crypto"): a failure leaves the
     * crypto layer in its error state, which refuses every operation. */
    if (tcrypto_init() != TCRYPTO_OK || tcrypto_in_error()) {
        TC_ERROR(TCORE_LOG, "cryptographic self-tests failed; module in error state");
        return CKR_GENERAL_ERROR;
    }
    if (conf == NULL) {
        const char *err = NULL;
        own = tc_conf_load(NULL, &err);
        if (own == NULL) {
            TC_ERROR(TCORE_LOG, "configuration: %s", err != NULL ? err : "cannot load");
            return CKR_FUNCTION_FAILED;
        }
        conf = own;
    }
    tc_log_configure(conf);

    tcrypto_pin_kdf_params kdf = tcrypto_pin_kdf_default;
    if (!conf_u32(conf, "pin_kdf_t_cost", &kdf.t_cost) ||
        !conf_u32(conf, "pin_kdf_m_cost", &kdf.m_cost) ||
        !conf_u32(conf, "pin_kdf_lanes", &kdf.parallel)) {
        TC_ERROR(TCORE_LOG, "configuration: pin_kdf_* must be positive integers");
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    /* login_cache_seconds: 0 (off, the default) or the lifetime of a user
     * login cache entry in the kernel keyring (protector.c) */
    uint32_t login_cache = 0;
    const char *lcs = tc_conf_get(conf, "login_cache_seconds", "0");
    if (strcmp(lcs, "0") != 0 && (!conf_u32(conf, "login_cache_seconds", &login_cache) ||
                                  login_cache > 86400)) {
        TC_ERROR(TCORE_LOG, "configuration: login_cache_seconds must be 0 to 86400");
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    /* legacy_algorithms (off by default): single DES and RSA key generation
     * from 1024 bits; single DES comes from OpenSSL's legacy provider,
     * loaded into the crypto layer's private context only now. */
    const char *legacy = tc_conf_get(conf, "legacy_algorithms", "false");
    if (strcmp(legacy, "true") == 0) {
        if (tcrypto_legacy_enable() != TCRYPTO_OK) {
            TC_ERROR(TCORE_LOG, "legacy_algorithms: OpenSSL's legacy provider is not available");
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
        tcore_legacy_set();
    } else if (strcmp(legacy, "false") != 0) {
        TC_ERROR(TCORE_LOG, "configuration: legacy_algorithms must be true or false");
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    char uri[PATH_MAX + 16];
    if (!store_uri(conf, uri, sizeof(uri))) {
        TC_ERROR(TCORE_LOG, "store location too long or undeterminable");
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->conf = tc_conf_dup(conf);
    if (c->conf == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    tstore_rc src = tstore_open(uri, &store);
    if (src != TSTORE_OK) {
        /* Not the URI itself: a remote store's URI may carry credentials. */
        TC_ERROR(TCORE_LOG, "cannot open the store: %s", tstore_rc_str(src));
        rv = src == TSTORE_NOMEM ? CKR_HOST_MEMORY : CKR_FUNCTION_FAILED;
        goto out;
    }
    tcore_protector prot;
    rv = tcore_protector_pin_cached(&kdf, login_cache, &prot);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = tcore_tokens_open_store(store, true, &prot, &c->tokens);
    store = NULL; /* the token set owns it now, even on failure */
    if (rv != CKR_OK) {
        TC_ERROR(TCORE_LOG, "cannot open the token set (0x%lx)", (unsigned long)rv);
        rv = rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
        goto out;
    }
    /* optional whole-store rollback check (docs/decisions.md, anchor) */
    const char *anchor = tc_conf_get(conf, "anchor_file", NULL);
    if (anchor != NULL) {
        tcore_anchor an;
        rv = tcore_anchor_file(anchor, &an);
        if (rv != CKR_OK) {
            goto out;
        }
        tcore_tokens_set_anchor(c->tokens, &an);
    }
    *out = c;
    c = NULL;
out:
    if (store != NULL) {
        tstore_close(store);
    }
    tcore_close(c);
    tc_conf_free(own);
    return rv;
}

void tcore_close(tcore *c)
{
    if (c == NULL) {
        return;
    }
    while (c->apps != NULL) {
        tcore_app_free(c->apps);
    }
    tcore_tokens_close(c->tokens);
    tc_conf_free(c->conf);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const char *tcore_conf_get(const tcore *c, const char *key, const char *dflt)
{
    return c != NULL ? tc_conf_get(c->conf, key, dflt) : dflt;
}

/* ---- slots and tokens ------------------------------------------------------- */

CK_RV tcore_slot_list(tcore *c, CK_SLOT_ID *out, CK_ULONG *count)
{
    if (count == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    return tcore_tokens_slots(c->tokens, out, count);
}

CK_RV tcore_slot_check(tcore *c, CK_SLOT_ID slot)
{
    tcore_token *t;
    return tcore_tokens_get(c->tokens, slot, &t);
}

CK_RV tcore_token_info(tcore *c, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    tcore_token *t;
    if (info == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    CK_RV rv = tcore_tokens_get(c->tokens, slot, &t);
    if (rv != CKR_OK) {
        return rv;
    }
    CK_TOKEN_INFO ti;
    memset(&ti, 0, sizeof(ti));
    rv = tcore_token_get_info(t, &ti);
    if (rv != CKR_OK) {
        return rv;
    }
    ti.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    ti.ulSessionCount = atomic_load(&t->nsessions);
    ti.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    ti.ulRwSessionCount = atomic_load(&t->nrw);
    ti.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    ti.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    ti.ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    ti.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    /* PKCS#11 3.0 §3.2 CK_TOKEN_INFO.utcTime: "YYYYMMDDhhmmss00" when the
     * token has a clock (CKF_CLOCK_ON_TOKEN); ours is the host's. */
    time_t now = time(NULL);
    struct tm tm;
    char utc[17];
    if (gmtime_r(&now, &tm) != NULL && strftime(utc, sizeof(utc), "%Y%m%d%H%M%S00", &tm) == 16) {
        memcpy(ti.utcTime, utc, 16);
        ti.flags |= CKF_CLOCK_ON_TOKEN;
    } else {
        memset(ti.utcTime, ' ', sizeof(ti.utcTime));
        ti.flags &= ~(CK_FLAGS)CKF_CLOCK_ON_TOKEN;
    }
    *info = ti;
    return CKR_OK;
}

CK_RV tcore_init_token(tcore *c, CK_SLOT_ID slot, const uint8_t *so_pin, size_t so_pin_len,
                       const uint8_t label[32], tcore_err *err)
{
    tcore_token *t;
    tcore_arg arg = TCORE_ARG_NONE;
    CK_RV rv;
    if (so_pin == NULL || label == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        arg = so_pin == NULL ? TCORE_ARG_PIN : TCORE_ARG_LABEL;
        goto out;
    }
    rv = tcore_tokens_get(c->tokens, slot, &t);
    if (rv != CKR_OK) {
        arg = TCORE_ARG_SLOT;
        goto out;
    }
    /* PKCS#11 3.0 §5.6: not while any session is open with the token, in
     * any application of this core. */
    if (atomic_load(&t->nsessions) != 0) {
        rv = CKR_SESSION_EXISTS;
        arg = TCORE_ARG_SLOT;
        goto out;
    }
    rv = tcore_token_init(t, so_pin, so_pin_len, label);
    arg = TCORE_ARG_PIN;
out:
    if (err != NULL) {
        err->rv = rv;
        err->arg = rv == CKR_OK ? TCORE_ARG_NONE : arg;
        err->index = -1;
        err->attr = 0;
    }
    return rv;
}

/* ---- key specs ----------------------------------------------------------------- */

static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t oid_ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
static const CK_ULONG bits2048 = 2048, bits3072 = 3072, bits4096 = 4096;
static const CK_ULONG bytes16 = 16, bytes24 = 24, bytes32 = 32;

static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
    CK_KEY_TYPE kt;
    CK_ATTRIBUTE_TYPE attr;
    const void *val;
    CK_ULONG len;
} keyspecs[] = {
    {"rsa:2048", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, CKA_MODULUS_BITS, &bits2048, sizeof(CK_ULONG)},
    {"rsa:3072", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, CKA_MODULUS_BITS, &bits3072, sizeof(CK_ULONG)},
    {"rsa:4096", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, CKA_MODULUS_BITS, &bits4096, sizeof(CK_ULONG)},
    {"ec:p256", CKM_EC_KEY_PAIR_GEN, CKK_EC, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256)},
    {"ec:p384", CKM_EC_KEY_PAIR_GEN, CKK_EC, CKA_EC_PARAMS, oid_p384, sizeof(oid_p384)},
    {"ec:p521", CKM_EC_KEY_PAIR_GEN, CKK_EC, CKA_EC_PARAMS, oid_p521, sizeof(oid_p521)},
    {"ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, CKA_EC_PARAMS, oid_ed25519,
     sizeof(oid_ed25519)},
    {"ed448", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, CKA_EC_PARAMS, oid_ed448,
     sizeof(oid_ed448)},
    {"aes:128", CKM_AES_KEY_GEN, CKK_AES, CKA_VALUE_LEN, &bytes16, sizeof(CK_ULONG)},
    {"aes:192", CKM_AES_KEY_GEN, CKK_AES, CKA_VALUE_LEN, &bytes24, sizeof(CK_ULONG)},
    {"aes:256", CKM_AES_KEY_GEN, CKK_AES, CKA_VALUE_LEN, &bytes32, sizeof(CK_ULONG)},
};

CK_RV tcore_keyspec_parse(const char *spec, tcore_keyspec *out)
{
    if (spec == NULL || out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    for (size_t i = 0; i < TC_ARRAY_LEN(keyspecs); i++) {
        if (strcmp(keyspecs[i].name, spec) != 0) {
            continue;
        }
        out->mech = keyspecs[i].mech;
        out->pair = keyspecs[i].mech != CKM_AES_KEY_GEN;
        out->key_type = keyspecs[i].kt;
        out->attr.type = keyspecs[i].attr;
        out->attr.pValue = (void *)keyspecs[i].val;
        out->attr.ulValueLen = keyspecs[i].len;
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}

const char *tcore_keyspec_names(void)
{
    return "rsa:2048|rsa:3072|rsa:4096|ec:p256|ec:p384|ec:p521|ed25519|ed448|aes:128|aes:192|"
           "aes:256";
}
