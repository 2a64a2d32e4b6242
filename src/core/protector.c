/*
 * The embedded key protector: the token key wrapped with AES-256-GCM under
 * keys derived from the SO PIN and from the user PIN (Argon2id through
 * tcrypto_pin_kdf, a fresh random salt per PIN and per change).
 *
 * Blob (big-endian):
 *   "TPP1" | u32 t_cost | u32 m_cost | u32 parallel | u8 count |
 *   count x { u32 who | salt[16] | iv[12] | wrapped key[32] | tag[16] }
 * `who` names the verifier: CKU_SO and CKU_USER for the token's default
 * users, other values for further (named) users, up to PP_MAX_ENTRIES.
 * The associated data of each entry binds it to the token and the verifier,
 * so an entry cannot be moved to another token or from one user to another.
 * A wrong PIN fails the GCM tag: CKR_PIN_INCORRECT.
 *
 * Login cache (opt-in, login_cache_seconds > 0; user PIN only): after a
 * user login that went through Argon2id, the token key is wrapped again,
 * under a key derived from the PIN with a cheap Argon2id (lc_kdf) and a
 * fresh salt, and kept in the caller's kernel user keyring (key type
 * "user", possessor-only permissions, a kernel timeout) as
 *   "TLC1" | u64 expiry (Unix time) | salt[16] | iv[12] | wrapped key[32] | tag[16]
 * with associated data binding it to the token, the user role, the expiry
 * and a SHA-256 of the protector blob (a PIN change or a re-initialised
 * token makes old entries useless). A later login of the same uid within
 * the expiry unwraps the key with the cheap KDF. Anything but a clean
 * unwrap (no entry, expired, damaged, wrong PIN) falls through to the
 * Argon2id path above, so only that path can answer CKR_PIN_INCORRECT and a
 * wrong PIN is counted as before. docs/decisions.md states the threat model.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/core_int.h"

#define PP_MAGIC "TPP1"
#define PP_SALT 16
#define PP_IV 12
#define PP_TAG 16
#define PP_ENTRY (4 + PP_SALT + PP_IV + TCORE_TOKEN_KEY_LEN + PP_TAG)
#define PP_HDR (4 + 12 + 1)
#define PP_MAX_ENTRIES 64

typedef struct {
    uint32_t who;
    const uint8_t *salt, *iv, *ct, *tag;
} pp_entry;

/* The protector's context: the cost of new PIN hashes, the login cache. */
typedef struct {
    tcrypto_pin_kdf_params params;
    uint32_t cache_seconds; /* 0: no login cache */
} pp_ctx;

typedef struct {
    tcrypto_pin_kdf_params params;
    size_t n;
    pp_entry e[PP_MAX_ENTRIES];
} pp_blob;

/* Parameters bounds: refuse blobs that would make the KDF absurdly costly
 * (a tampered blob must not turn C_Login into a denial of service). */
#define PP_MAX_T 64u
#define PP_MAX_M (4u * 1024u * 1024u) /* KiB: 4 GiB */
#define PP_MAX_P 64u

static bool pp_parse(const uint8_t *blob, size_t len, pp_blob *out)
{
    tc_reader r;
    const uint8_t *magic;
    uint8_t count;
    pp_blob b;

    memset(&b, 0, sizeof(b));
    tc_reader_init(&r, blob, len);
    if (!tc_read_ref(&r, 4, &magic) || memcmp(magic, PP_MAGIC, 4) != 0 ||
        !tc_read_u32(&r, &b.params.t_cost) || !tc_read_u32(&r, &b.params.m_cost) ||
        !tc_read_u32(&r, &b.params.parallel) || !tc_read_u8(&r, &count)) {
        return false;
    }
    if (b.params.t_cost == 0 || b.params.t_cost > PP_MAX_T || b.params.m_cost == 0 ||
        b.params.m_cost > PP_MAX_M || b.params.parallel == 0 || b.params.parallel > PP_MAX_P ||
        count > PP_MAX_ENTRIES) {
        return false;
    }
    for (uint8_t i = 0; i < count; i++) {
        pp_entry *e = &b.e[i];
        if (!tc_read_u32(&r, &e->who) || !tc_read_ref(&r, PP_SALT, &e->salt) ||
            !tc_read_ref(&r, PP_IV, &e->iv) || !tc_read_ref(&r, TCORE_TOKEN_KEY_LEN, &e->ct) ||
            !tc_read_ref(&r, PP_TAG, &e->tag)) {
            return false;
        }
        for (uint8_t j = 0; j < i; j++) {
            if (b.e[j].who == e->who) {
                return false;
            }
        }
    }
    if (tc_reader_left(&r) != 0) {
        return false;
    }
    b.n = count;
    *out = b;
    return true;
}

CK_RV tcore_protector_pin_blob_check(const uint8_t *blob, size_t len)
{
    pp_blob b;
    return pp_parse(blob, len, &b) ? CKR_OK : CKR_DEVICE_ERROR;
}

/* The head both AADs share: a label naming the format, the token id (at most
 * 16 bytes) and the user type; returns its length. */
static size_t aad_head(uint8_t *aad, const char *label, const char *token_id, uint32_t who)
{
    size_t n = strlen(label), idlen = strlen(token_id);
    if (idlen > 16) {
        idlen = 16;
    }
    memcpy(aad, label, n);
    memcpy(aad + n, token_id, idlen);
    n += idlen;
    tc_store_u32(aad + n, who);
    return n + 4;
}

static void pp_aad(uint8_t *aad, size_t *aadlen, const char *token_id, uint32_t who)
{
    *aadlen = aad_head(aad, "tessera pin protector v1", token_id, who);
}

#define PP_AAD_MAX 64

/* ---- login cache (kernel keyring) ---------------------------------------- */

#define LC_MAGIC "TLC1"
#define LC_SALT 16
#define LC_LEN (4 + 8 + LC_SALT + PP_IV + TCORE_TOKEN_KEY_LEN + PP_TAG)
#define LC_MAX_SECONDS 86400u
#define LC_AAD_MAX (32 + 16 + 4 + 32 + 8)

/* The cheap PIN KDF of a cache entry: ~1 ms, still memory-hard (1 MiB).
 * It guards the entry only against a reader of the keyring, who is the
 * same uid or root (docs/decisions.md). */
static const tcrypto_pin_kdf_params lc_kdf = {.t_cost = 1, .m_cost = 1024, .parallel = 1};

/* keyutils.h's permission bits (not in linux/keyctl.h) */
#define LC_POS_ALL 0x3f000000u /* possessor: view read write search link setattr */
#define LC_USR_VIEW 0x00010000u

static long lc_keyctl(int op, unsigned long a, unsigned long b, unsigned long c, unsigned long d)
{
    return syscall(SYS_keyctl, op, a, b, c, d);
}

static bool lc_desc(char *out, size_t len, const char *token_id)
{
    int n = snprintf(out, len, "tessera:login:v1:%s", token_id);
    return n > 0 && (size_t)n < len;
}

/* The entry's serial in the user keyring, or -1. */
static long lc_find(const char *token_id)
{
    char desc[64];
    if (!lc_desc(desc, sizeof(desc), token_id)) {
        return -1;
    }
    return lc_keyctl(KEYCTL_SEARCH, (unsigned long)KEY_SPEC_USER_KEYRING, (unsigned long)"user",
                     (unsigned long)desc, 0);
}

static void lc_drop(const char *token_id)
{
    long id = lc_find(token_id);
    if (id >= 0) {
        (void)lc_keyctl(KEYCTL_UNLINK, (unsigned long)id, (unsigned long)KEY_SPEC_USER_KEYRING, 0,
                        0);
    }
}

static bool lc_aad(uint8_t *aad, size_t *aadlen, const char *token_id, const uint8_t *blob,
                   size_t blob_len, uint64_t expiry)
{
    size_t n = aad_head(aad, "tessera login cache v1", token_id, (uint32_t)CKU_USER);
    size_t hlen = 32;
    if (tcrypto_digest_oneshot(TCRYPTO_MD_SHA256, blob, blob_len, aad + n, &hlen) != TCRYPTO_OK ||
        hlen != 32) {
        return false;
    }
    n += 32;
    tc_store_u64(aad + n, expiry);
    n += 8;
    *aadlen = n;
    return true;
}

/* A cache hit: the token key in key. Anything else (no entry, expired,
 * damaged, a wrong PIN) is a miss, never an answer about the PIN. */
static bool lc_get(const pp_ctx *c, const char *token_id, const uint8_t *blob, size_t blob_len,
                   const uint8_t *pin, size_t pin_len, uint8_t key[TCORE_TOKEN_KEY_LEN])
{
    uint8_t ent[LC_LEN + 1], aad[LC_AAD_MAX];
    size_t aadlen;
    uint8_t *kek = NULL, *k = NULL;
    bool hit = false;
    long id = lc_find(token_id);
    if (id < 0) {
        return false;
    }
    long n = lc_keyctl(KEYCTL_READ, (unsigned long)id, (unsigned long)ent, sizeof(ent), 0);
    if (n != (long)LC_LEN || memcmp(ent, LC_MAGIC, 4) != 0) {
        goto out;
    }
    const uint8_t *salt = ent + 12, *iv = salt + LC_SALT, *ct = iv + PP_IV,
                  *tag = ct + TCORE_TOKEN_KEY_LEN;
    uint64_t expiry = tc_load_u64(ent + 4);
    time_t now = time(NULL);
    /* expired, or further away than this configuration would have set */
    if (now < 0 || expiry <= (uint64_t)now || expiry - (uint64_t)now > c->cache_seconds) {
        (void)lc_keyctl(KEYCTL_UNLINK, (unsigned long)id, (unsigned long)KEY_SPEC_USER_KEYRING, 0,
                        0);
        goto out;
    }
    kek = tcrypto_secure_alloc(32);
    k = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    if (kek == NULL || k == NULL || !lc_aad(aad, &aadlen, token_id, blob, blob_len, expiry) ||
        tcrypto_pin_kdf(&lc_kdf, pin, pin_len, salt, LC_SALT, kek, 32) != TCRYPTO_OK ||
        tcrypto_gcm_decrypt(kek, 32, iv, PP_IV, aad, aadlen, ct, TCORE_TOKEN_KEY_LEN, tag, PP_TAG,
                            k) != TCRYPTO_OK) {
        goto out;
    }
    memcpy(key, k, TCORE_TOKEN_KEY_LEN);
    hit = true;
out:
    tcrypto_secure_free(kek, 32);
    tcrypto_secure_free(k, TCORE_TOKEN_KEY_LEN);
    tc_wipe(ent, sizeof(ent));
    return hit;
}

/* After a full (Argon2id) user login: (re)place the entry. Best effort: a
 * kernel without keyrings, a seccomp filter or a full quota only cost the
 * next login its Argon2id. */
static void lc_put(const pp_ctx *c, const char *token_id, const uint8_t *blob, size_t blob_len,
                   const uint8_t *pin, size_t pin_len, const uint8_t key[TCORE_TOKEN_KEY_LEN])
{
    uint8_t ent[LC_LEN], aad[LC_AAD_MAX];
    size_t aadlen;
    char desc[64];
    uint8_t *kek = tcrypto_secure_alloc(32);
    uint8_t *salt = ent + 12, *iv = salt + LC_SALT, *ct = iv + PP_IV, *tag = ct + TCORE_TOKEN_KEY_LEN;
    time_t now = time(NULL);
    uint64_t expiry = (uint64_t)now + c->cache_seconds;

    if (kek == NULL || now < 0 || !lc_desc(desc, sizeof(desc), token_id)) {
        goto out;
    }
    memcpy(ent, LC_MAGIC, 4);
    tc_store_u64(ent + 4, expiry);
    if (tcrypto_random(salt, LC_SALT) != TCRYPTO_OK || tcrypto_random(iv, PP_IV) != TCRYPTO_OK ||
        !lc_aad(aad, &aadlen, token_id, blob, blob_len, expiry) ||
        tcrypto_pin_kdf(&lc_kdf, pin, pin_len, salt, LC_SALT, kek, 32) != TCRYPTO_OK ||
        tcrypto_gcm_encrypt(kek, 32, iv, PP_IV, aad, aadlen, key, TCORE_TOKEN_KEY_LEN, ct, tag,
                            PP_TAG) != TCRYPTO_OK) {
        goto out;
    }
    long id = syscall(SYS_add_key, "user", desc, ent, sizeof(ent), KEY_SPEC_USER_KEYRING);
    if (id < 0) {
        TC_DEBUG(TCORE_LOG, "token %s: login cache not written (errno %d)", token_id, errno);
        goto out;
    }
    if (lc_keyctl(KEYCTL_SETPERM, (unsigned long)id, LC_POS_ALL | LC_USR_VIEW, 0, 0) != 0 ||
        lc_keyctl(KEYCTL_SET_TIMEOUT, (unsigned long)id, c->cache_seconds, 0, 0) != 0) {
        /* the expiry inside the entry still bounds it; do not leave it */
        (void)lc_keyctl(KEYCTL_UNLINK, (unsigned long)id, (unsigned long)KEY_SPEC_USER_KEYRING, 0,
                        0);
    }
out:
    tcrypto_secure_free(kek, 32);
    tc_wipe(ent, sizeof(ent));
}

/* Wrap key for `who` into a new entry written to `ent` (PP_ENTRY bytes). */
static CK_RV pp_wrap(const tcrypto_pin_kdf_params *params, const char *token_id, uint32_t who,
                     const uint8_t *key, const uint8_t *pin, size_t pin_len, uint8_t *ent)
{
    CK_RV rv = CKR_FUNCTION_FAILED;
    uint8_t *kek = tcrypto_secure_alloc(32);
    uint8_t aad[PP_AAD_MAX];
    size_t aadlen;
    uint8_t *salt = ent + 4, *iv = salt + PP_SALT, *ct = iv + PP_IV, *tag = ct + TCORE_TOKEN_KEY_LEN;

    if (kek == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    tc_store_u32(ent, who);
    if (tcrypto_random(salt, PP_SALT) != TCRYPTO_OK || tcrypto_random(iv, PP_IV) != TCRYPTO_OK) {
        goto out;
    }
    if (tcrypto_pin_kdf(params, pin, pin_len, salt, PP_SALT, kek, 32) != TCRYPTO_OK) {
        goto out;
    }
    pp_aad(aad, &aadlen, token_id, who);
    if (tcrypto_gcm_encrypt(kek, 32, iv, PP_IV, aad, aadlen, key, TCORE_TOKEN_KEY_LEN, ct, tag,
                            PP_TAG) != TCRYPTO_OK) {
        goto out;
    }
    rv = CKR_OK;
out:
    tcrypto_secure_free(kek, 32);
    return rv;
}

static CK_RV pp_create(void *ctx, const char *token_id, const uint8_t *so_pin, size_t so_pin_len,
                       uint8_t key[TCORE_TOKEN_KEY_LEN], uint8_t **blob, size_t *blob_len)
{
    const tcrypto_pin_kdf_params *params = &((const pp_ctx *)ctx)->params;
    CK_RV rv = CKR_FUNCTION_FAILED;
    size_t len = PP_HDR + PP_ENTRY;
    uint8_t *b = malloc(len);
    uint8_t *k = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);

    if (b == NULL || k == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (tcrypto_random(k, TCORE_TOKEN_KEY_LEN) != TCRYPTO_OK) {
        goto out;
    }
    memcpy(b, PP_MAGIC, 4);
    tc_store_u32(b + 4, params->t_cost);
    tc_store_u32(b + 8, params->m_cost);
    tc_store_u32(b + 12, params->parallel);
    b[16] = 1;
    rv = pp_wrap(params, token_id, CKU_SO, k, so_pin, so_pin_len, b + PP_HDR);
    if (rv != CKR_OK) {
        goto out;
    }
    memcpy(key, k, TCORE_TOKEN_KEY_LEN);
    *blob = b;
    *blob_len = len;
    b = NULL;
out:
    tcrypto_secure_free(k, TCORE_TOKEN_KEY_LEN);
    free(b);
    return rv;
}

/* The cost a stored entry may ask of a login: up to 4 times the larger of
 * the configured and the default cost, so costs can be raised over time
 * while a header edited by someone who can write the store (and its key
 * file) cannot turn a login into minutes of work and gigabytes of memory. */
static uint32_t cost_cap(uint32_t conf, uint32_t dflt, uint32_t hard)
{
    uint64_t c = (uint64_t)(conf > dflt ? conf : dflt) * 4u;
    return c > hard ? hard : (uint32_t)c;
}

static bool pp_cost_allowed(const tcrypto_pin_kdf_params *conf, const tcrypto_pin_kdf_params *p)
{
    const tcrypto_pin_kdf_params *d = &tcrypto_pin_kdf_default;
    if (conf == NULL) {
        conf = d;
    }
    return p->t_cost <= cost_cap(conf->t_cost, d->t_cost, PP_MAX_T) &&
           p->m_cost <= cost_cap(conf->m_cost, d->m_cost, PP_MAX_M) &&
           p->parallel <= cost_cap(conf->parallel, d->parallel, PP_MAX_P);
}

static CK_RV pp_unlock(void *ctx, const char *token_id, const uint8_t *blob, size_t blob_len,
                       CK_USER_TYPE who, const uint8_t *pin, size_t pin_len,
                       uint8_t key[TCORE_TOKEN_KEY_LEN])
{
    const pp_ctx *c = ctx;
    const tcrypto_pin_kdf_params *conf = &c->params;
    bool cache = c->cache_seconds > 0 && who == CKU_USER;
    pp_blob b;
    const pp_entry *e = NULL;
    CK_RV rv = CKR_FUNCTION_FAILED;
    uint8_t *kek = NULL, *k = NULL;
    uint8_t aad[PP_AAD_MAX];
    size_t aadlen;
    tcrypto_rc crc;

    if (!pp_parse(blob, blob_len, &b)) {
        TC_ERROR(TCORE_LOG, "token %s: PIN protector blob is damaged", token_id);
        return CKR_DEVICE_ERROR;
    }
    for (size_t i = 0; i < b.n; i++) {
        if (b.e[i].who == who) {
            e = &b.e[i];
        }
    }
    if (e == NULL) {
        return who == CKU_USER ? CKR_USER_PIN_NOT_INITIALIZED : CKR_DEVICE_ERROR;
    }
    if (cache && lc_get(c, token_id, blob, blob_len, pin, pin_len, key)) {
        return CKR_OK;
    }
    if (!pp_cost_allowed(conf, &b.params)) {
        /* not the PIN's fault: never counted as a wrong PIN */
        TC_ERROR(TCORE_LOG, "token %s: the stored PIN KDF cost exceeds what this configuration "
                            "allows; login refused",
                 token_id);
        return CKR_DEVICE_ERROR;
    }
    kek = tcrypto_secure_alloc(32);
    k = tcrypto_secure_alloc(TCORE_TOKEN_KEY_LEN);
    if (kek == NULL || k == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (tcrypto_pin_kdf(&b.params, pin, pin_len, e->salt, PP_SALT, kek, 32) != TCRYPTO_OK) {
        goto out;
    }
    pp_aad(aad, &aadlen, token_id, (uint32_t)who);
    crc = tcrypto_gcm_decrypt(kek, 32, e->iv, PP_IV, aad, aadlen, e->ct, TCORE_TOKEN_KEY_LEN,
                              e->tag, PP_TAG, k);
    if (crc == TCRYPTO_ERR_DECRYPT) {
        rv = CKR_PIN_INCORRECT;
        goto out;
    }
    if (crc != TCRYPTO_OK) {
        goto out;
    }
    if (cache) {
        lc_put(c, token_id, blob, blob_len, pin, pin_len, k);
    }
    memcpy(key, k, TCORE_TOKEN_KEY_LEN);
    rv = CKR_OK;
out:
    tcrypto_secure_free(kek, 32);
    tcrypto_secure_free(k, TCORE_TOKEN_KEY_LEN);
    return rv;
}

static CK_RV pp_set_pin(void *ctx, const char *token_id, const uint8_t *blob, size_t blob_len,
                        CK_USER_TYPE who, const uint8_t key[TCORE_TOKEN_KEY_LEN],
                        const uint8_t *pin, size_t pin_len, uint8_t **new_blob,
                        size_t *new_blob_len)
{
    const pp_ctx *c = ctx;
    const tcrypto_pin_kdf_params *params = &c->params;
    pp_blob b;
    CK_RV rv;
    uint8_t *nb;
    size_t nlen, off;
    size_t keep = 0;

    if (!pp_parse(blob, blob_len, &b)) {
        TC_ERROR(TCORE_LOG, "token %s: PIN protector blob is damaged", token_id);
        return CKR_DEVICE_ERROR;
    }
    for (size_t i = 0; i < b.n; i++) {
        keep += b.e[i].who != who;
    }
    if (keep + 1 > PP_MAX_ENTRIES) {
        return CKR_DEVICE_MEMORY;
    }
    if (c->cache_seconds > 0 && who == CKU_USER) {
        lc_drop(token_id); /* the new blob would refuse it anyway */
    }
    nlen = PP_HDR + (keep + 1) * PP_ENTRY;
    nb = malloc(nlen);
    if (nb == NULL) {
        return CKR_HOST_MEMORY;
    }
    /* A changed PIN takes the current default cost, so costs rise over time;
     * kept entries keep theirs only if equal, so re-wrap needs one set. To
     * stay simple and safe, the blob keeps one parameter set: the one the
     * kept entries were made with. */
    memcpy(nb, PP_MAGIC, 4);
    if (keep > 0) {
        params = &b.params;
    }
    tc_store_u32(nb + 4, params->t_cost);
    tc_store_u32(nb + 8, params->m_cost);
    tc_store_u32(nb + 12, params->parallel);
    nb[16] = (uint8_t)(keep + 1);
    off = PP_HDR;
    for (size_t i = 0; i < b.n; i++) {
        if (b.e[i].who == who) {
            continue;
        }
        tc_store_u32(nb + off, b.e[i].who);
        memcpy(nb + off + 4, b.e[i].salt, PP_SALT);
        memcpy(nb + off + 4 + PP_SALT, b.e[i].iv, PP_IV);
        memcpy(nb + off + 4 + PP_SALT + PP_IV, b.e[i].ct, TCORE_TOKEN_KEY_LEN);
        memcpy(nb + off + 4 + PP_SALT + PP_IV + TCORE_TOKEN_KEY_LEN, b.e[i].tag, PP_TAG);
        off += PP_ENTRY;
    }
    rv = pp_wrap(params, token_id, (uint32_t)who, key, pin, pin_len, nb + off);
    if (rv != CKR_OK) {
        free(nb);
        return rv;
    }
    *new_blob = nb;
    *new_blob_len = nlen;
    return CKR_OK;
}

static bool pp_has_pin(void *ctx, const uint8_t *blob, size_t blob_len, CK_USER_TYPE who)
{
    (void)ctx;
    pp_blob b;
    if (!pp_parse(blob, blob_len, &b)) {
        return false;
    }
    for (size_t i = 0; i < b.n; i++) {
        if (b.e[i].who == who) {
            return true;
        }
    }
    return false;
}

static void pp_forget(void *ctx, const char *token_id, CK_USER_TYPE who)
{
    const pp_ctx *c = ctx;
    if (c->cache_seconds > 0 && who == CKU_USER) {
        lc_drop(token_id);
    }
}

static void pp_destroy(void *ctx)
{
    free(ctx);
}

CK_RV tcore_protector_pin(const tcrypto_pin_kdf_params *params, tcore_protector *out)
{
    return tcore_protector_pin_cached(params, 0, out);
}

CK_RV tcore_protector_pin_cached(const tcrypto_pin_kdf_params *params, uint32_t cache_seconds,
                                 tcore_protector *out)
{
    if (cache_seconds > LC_MAX_SECONDS) {
        return CKR_ARGUMENTS_BAD;
    }
    pp_ctx *p = malloc(sizeof(*p));
    if (p == NULL) {
        return CKR_HOST_MEMORY;
    }
    p->params = params != NULL ? *params : tcrypto_pin_kdf_default;
    p->cache_seconds = cache_seconds;
    out->create = pp_create;
    out->unlock = pp_unlock;
    out->set_pin = pp_set_pin;
    out->has_pin = pp_has_pin;
    out->forget = cache_seconds > 0 ? pp_forget : NULL;
    out->destroy = pp_destroy;
    out->ctx = p;
    return CKR_OK;
}
