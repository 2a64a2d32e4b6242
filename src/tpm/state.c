/*
 * The state file DIR/tpm-state: an explicit, versioned encoding of ttpm_perm
 * that does not depend on the struct's layout, the compiler or the ABI.
 *
 *   magic "TSRTPMST" | u16 major | u16 minor | records... | SHA-256(all before)
 *   record: u16 tag | u32 length | value (length bytes)
 *
 * All integers are big-endian; booleans are one byte 0 or 1; variable-size
 * values are u16 length + bytes. Records come in tag order; NV, persistent
 * and saved-session records repeat, one per used slot, and carry their slot
 * number (saved sessions must return to the slot of their handle). A file
 * with another major version, a newer minor version or an unknown record is
 * refused: the TPM enters failure mode and the file is left as it is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tpm/ttpm.h"

#define STATE_MAGIC "TSRTPMST"
#define STATE_MAGIC_V0 "TSRTPM01" /* earlier raw-image format */
#define STATE_MAJOR 1
#define STATE_MINOR 0
#define STATE_HDR (8 + 2 + 2)
#define STATE_SUM 32
/* Upper bound of a valid file: far above what 64 NV indices and 64
 * persistent objects and sessions need, and it bounds the read. */
#define STATE_MAX_FILE (4u * 1024 * 1024)

enum {
    REC_SEEDS = 1,
    REC_HIERARCHY = 2,
    REC_DA = 3,
    REC_CLOCK = 4,
    REC_PCR_CONF = 5,
    REC_AUDIT = 6,
    REC_NV = 7,
    REC_PERSISTENT = 8,
    REC_SAVED = 9,
    REC_SAVED_SESSION = 10,
    REC_NV_COUNTER = 11, /* optional: present only when not zero */
    REC_PCR_POLICY = 12, /* optional: present only when a PCR policy is set */
    REC_SAVED_PCR_AUTH = 13, /* optional: a PCR authValue saved by Shutdown(STATE) */
    REC_LAST = REC_SAVED_PCR_AUTH,
};

/* ---- encoding ------------------------------------------------------------ */

static void put_bytes(tc_buf *b, const uint8_t *p, uint16_t n)
{
    tc_buf_put_u16(b, n);
    tc_buf_put(b, p, n);
}

static void put_bool(tc_buf *b, bool v) { tc_buf_put_u8(b, v ? 1 : 0); }

/* Start a record; returns the offset of its length field, patched by rec_end. */
static size_t rec_begin(tc_buf *b, uint16_t tag)
{
    tc_buf_put_u16(b, tag);
    size_t at = b->len;
    tc_buf_put_u32(b, 0);
    return at;
}

static void rec_end(tc_buf *b, size_t at)
{
    if (!b->failed)
        tc_store_u32(b->p + at, (uint32_t)(b->len - at - 4));
}

static void put_public(tc_buf *b, const ttpm_public *p)
{
    tc_buf_put_u16(b, p->type);
    tc_buf_put_u16(b, p->name_alg);
    tc_buf_put_u32(b, p->attrs);
    put_bytes(b, p->policy, p->policy_len);
    tc_buf_put_u16(b, p->sym_alg);
    tc_buf_put_u16(b, p->sym_bits);
    tc_buf_put_u16(b, p->sym_mode);
    tc_buf_put_u16(b, p->scheme);
    tc_buf_put_u16(b, p->scheme_hash);
    tc_buf_put_u16(b, p->kdf);
    tc_buf_put_u16(b, p->kdf_hash);
    tc_buf_put_u16(b, p->key_bits);
    tc_buf_put_u32(b, p->exponent);
    tc_buf_put_u16(b, p->curve);
    put_bytes(b, p->x, p->x_len);
    put_bytes(b, p->y, p->y_len);
}

static void put_sensitive(tc_buf *b, const ttpm_sensitive *s)
{
    tc_buf_put_u16(b, s->type);
    put_bytes(b, s->auth, s->auth_len);
    put_bytes(b, s->seed, s->seed_len);
    put_bytes(b, s->sens, s->sens_len);
}

static void put_session(tc_buf *b, const ttpm_session *s)
{
    put_bool(b, s->loaded);
    tc_buf_put_u8(b, s->type);
    tc_buf_put_u32(b, s->handle);
    tc_buf_put_u16(b, s->hash);
    tc_buf_put_u16(b, s->sym_alg);
    tc_buf_put_u16(b, s->sym_bits);
    tc_buf_put_u16(b, s->sym_mode);
    put_bytes(b, s->nonce_tpm, s->nonce_tpm_len);
    put_bytes(b, s->nonce_caller, s->nonce_caller_len);
    put_bytes(b, s->session_key, s->key_len);
    put_bool(b, s->bound);
    put_bytes(b, s->bind_name, s->bind_name_len);
    put_bytes(b, s->policy, sizeof(s->policy));
    put_bool(b, s->need_auth_value);
    put_bool(b, s->need_password);
    tc_buf_put_u32(b, s->command_code);
    put_bytes(b, s->cp_hash, s->cp_hash_len);
    put_bytes(b, s->name_hash, s->name_hash_len);
    tc_buf_put_u8(b, s->locality);
    tc_buf_put_u32(b, s->pcr_counter);
    put_bool(b, s->pcr_checked);
    tc_buf_put_u8(b, s->nv_written);
    put_bytes(b, s->template_hash, s->template_len);
    put_bool(b, s->is_trial);
    tc_buf_put_u64(b, s->context_seq);
    put_bool(b, s->audit_started);
    put_bytes(b, s->audit_digest, sizeof(s->audit_digest));
    tc_buf_put_u64(b, s->age);
    tc_buf_put_u64(b, s->start_time);
    tc_buf_put_u64(b, s->timeout);
}

static void put_hierarchy(tc_buf *b, const uint8_t *auth, uint16_t auth_len, uint16_t pol_alg,
                          const uint8_t *pol, uint16_t pol_len)
{
    put_bytes(b, auth, auth_len);
    tc_buf_put_u16(b, pol_alg);
    put_bytes(b, pol, pol_len);
}

bool ttpm_state_encode(const ttpm_perm *p, tc_buf *out)
{
    tc_buf b;
    tc_buf_init(&b);
    size_t at;
    tc_buf_put(&b, STATE_MAGIC, 8);
    tc_buf_put_u16(&b, STATE_MAJOR);
    tc_buf_put_u16(&b, STATE_MINOR);

    at = rec_begin(&b, REC_SEEDS);
    put_bytes(&b, p->eps, sizeof(p->eps));
    put_bytes(&b, p->sps, sizeof(p->sps));
    put_bytes(&b, p->pps, sizeof(p->pps));
    put_bytes(&b, p->null_proof, sizeof(p->null_proof));
    rec_end(&b, at);

    at = rec_begin(&b, REC_HIERARCHY);
    put_hierarchy(&b, p->owner_auth, p->owner_auth_len, p->owner_policy_alg, p->owner_policy,
                  p->owner_policy_len);
    put_hierarchy(&b, p->endorsement_auth, p->endorsement_auth_len, p->endorsement_policy_alg,
                  p->endorsement_policy, p->endorsement_policy_len);
    put_hierarchy(&b, p->lockout_auth, p->lockout_auth_len, p->lockout_policy_alg,
                  p->lockout_policy, p->lockout_policy_len);
    put_hierarchy(&b, p->platform_auth, p->platform_auth_len, p->platform_policy_alg,
                  p->platform_policy, p->platform_policy_len);
    put_bool(&b, p->disable_clear);
    rec_end(&b, at);

    at = rec_begin(&b, REC_DA);
    put_bool(&b, p->in_lockout);
    put_bool(&b, p->lockout_auth_failed);
    tc_buf_put_u64(&b, p->lockout_fail_clock);
    tc_buf_put_u64(&b, p->last_da_decrement);
    tc_buf_put_u32(&b, p->failed_tries);
    tc_buf_put_u32(&b, p->max_tries);
    tc_buf_put_u32(&b, p->recovery_time);
    tc_buf_put_u32(&b, p->lockout_recovery);
    rec_end(&b, at);

    at = rec_begin(&b, REC_CLOCK);
    tc_buf_put_u64(&b, p->clock);
    tc_buf_put_u32(&b, p->reset_count);
    tc_buf_put_u32(&b, p->restart_count);
    put_bool(&b, p->orderly);
    rec_end(&b, at);

    at = rec_begin(&b, REC_PCR_CONF);
    tc_buf_put_u8(&b, p->pcr_banks);
    rec_end(&b, at);

    at = rec_begin(&b, REC_AUDIT);
    tc_buf_put_u64(&b, p->audit_counter);
    tc_buf_put_u16(&b, p->audit_hash);
    put_bytes(&b, p->audit_cc, sizeof(p->audit_cc));
    rec_end(&b, at);

    for (unsigned i = 0; i < TTPM_MAX_NV; i++) {
        const ttpm_nv *nv = &p->nv[i];
        if (!nv->used)
            continue;
        at = rec_begin(&b, REC_NV);
        tc_buf_put_u16(&b, (uint16_t)i);
        tc_buf_put_u32(&b, nv->index);
        tc_buf_put_u16(&b, nv->name_alg);
        tc_buf_put_u32(&b, nv->attrs);
        put_bytes(&b, nv->policy, nv->policy_len);
        put_bytes(&b, nv->auth, nv->auth_len);
        put_bytes(&b, nv->data, nv->size);
        rec_end(&b, at);
    }
    for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++) {
        const ttpm_persistent *ps = &p->persist[i];
        if (!ps->used)
            continue;
        at = rec_begin(&b, REC_PERSISTENT);
        tc_buf_put_u16(&b, (uint16_t)i);
        tc_buf_put_u32(&b, ps->handle);
        tc_buf_put_u32(&b, ps->hierarchy);
        put_public(&b, &ps->pub);
        put_sensitive(&b, &ps->sens);
        put_bytes(&b, ps->qname, ps->qname_len);
        rec_end(&b, at);
    }

    at = rec_begin(&b, REC_SAVED);
    put_bool(&b, p->saved_valid);
    tc_buf_put_u32(&b, p->saved_pcr_counter);
    tc_buf_put_u8(&b, TTPM_NUM_BANKS);
    tc_buf_put_u8(&b, TTPM_NUM_PCRS);
    tc_buf_put_u8(&b, TTPM_MAX_DIGEST);
    for (unsigned k = 0; k < TTPM_NUM_BANKS; k++)
        for (unsigned i = 0; i < TTPM_NUM_PCRS; i++)
            tc_buf_put(&b, p->saved_pcr[k][i], TTPM_MAX_DIGEST);
    put_bytes(&b, p->saved_context_key, sizeof(p->saved_context_key));
    tc_buf_put_u64(&b, p->saved_context_seq);
    rec_end(&b, at);

    for (unsigned i = 0; i < TTPM_MAX_SESSIONS; i++) {
        if (!p->saved_sess[i].used)
            continue;
        at = rec_begin(&b, REC_SAVED_SESSION);
        tc_buf_put_u16(&b, (uint16_t)i);
        put_session(&b, &p->saved_sess[i]);
        rec_end(&b, at);
    }

    /* Optional records are written only when they differ from their default
     * (and refused when they do not), so an older file reads unchanged and
     * every state still has exactly one encoding. */
    if (p->nv_counter_max != 0) {
        at = rec_begin(&b, REC_NV_COUNTER);
        tc_buf_put_u64(&b, p->nv_counter_max);
        rec_end(&b, at);
    }
    if (p->pcr_policy_len != 0) {
        at = rec_begin(&b, REC_PCR_POLICY);
        tc_buf_put_u16(&b, p->pcr_policy_alg);
        put_bytes(&b, p->pcr_policy, p->pcr_policy_len);
        rec_end(&b, at);
    }
    if (p->saved_pcr_auth_len != 0) {
        at = rec_begin(&b, REC_SAVED_PCR_AUTH);
        put_bytes(&b, p->saved_pcr_auth, p->saved_pcr_auth_len);
        rec_end(&b, at);
    }

    bool ok = false;
    uint8_t sum[STATE_SUM];
    if (!b.failed) {
        tcrypto_tpm_iov v = { b.p, b.len };
        if (tcrypto_tpm_hash(TPM_ALG_SHA256, &v, 1, sum) == TCRYPTO_OK) {
            tc_buf_put(&b, sum, sizeof(sum));
            ok = !b.failed;
        }
    }
    if (ok)
        *out = b;
    else
        tc_buf_free(&b);
    return ok;
}

/* ---- decoding ------------------------------------------------------------ */

static bool get_bool(tc_reader *r, bool *v)
{
    uint8_t x;
    if (!tc_read_u8(r, &x) || x > 1)
        return false;
    *v = x != 0;
    return true;
}

/* u16 length + bytes, the length at most cap. */
static bool get_bytes(tc_reader *r, uint8_t *buf, size_t cap, uint16_t *len)
{
    uint16_t n;
    tc_reader save = *r;
    if (!tc_read_u16(r, &n) || n > cap || !tc_read_copy(r, buf, n)) {
        *r = save;
        return false;
    }
    *len = n;
    return true;
}

/* u16 length + exactly n bytes. */
static bool get_fixed(tc_reader *r, uint8_t *buf, size_t n)
{
    uint16_t len;
    return get_bytes(r, buf, n, &len) && len == n;
}

static bool get_public(tc_reader *r, ttpm_public *p)
{
    return tc_read_u16(r, &p->type) && tc_read_u16(r, &p->name_alg) &&
           tc_read_u32(r, &p->attrs) &&
           get_bytes(r, p->policy, sizeof(p->policy), &p->policy_len) &&
           tc_read_u16(r, &p->sym_alg) && tc_read_u16(r, &p->sym_bits) &&
           tc_read_u16(r, &p->sym_mode) && tc_read_u16(r, &p->scheme) &&
           tc_read_u16(r, &p->scheme_hash) && tc_read_u16(r, &p->kdf) &&
           tc_read_u16(r, &p->kdf_hash) && tc_read_u16(r, &p->key_bits) &&
           tc_read_u32(r, &p->exponent) && tc_read_u16(r, &p->curve) &&
           get_bytes(r, p->x, sizeof(p->x), &p->x_len) &&
           get_bytes(r, p->y, sizeof(p->y), &p->y_len);
}

static bool get_sensitive(tc_reader *r, ttpm_sensitive *s)
{
    return tc_read_u16(r, &s->type) && get_bytes(r, s->auth, sizeof(s->auth), &s->auth_len) &&
           get_bytes(r, s->seed, sizeof(s->seed), &s->seed_len) &&
           get_bytes(r, s->sens, sizeof(s->sens), &s->sens_len);
}

static bool get_session(tc_reader *r, ttpm_session *s)
{
    s->used = true;
    return get_bool(r, &s->loaded) && tc_read_u8(r, &s->type) && tc_read_u32(r, &s->handle) &&
           tc_read_u16(r, &s->hash) && tc_read_u16(r, &s->sym_alg) &&
           tc_read_u16(r, &s->sym_bits) && tc_read_u16(r, &s->sym_mode) &&
           get_bytes(r, s->nonce_tpm, sizeof(s->nonce_tpm), &s->nonce_tpm_len) &&
           get_bytes(r, s->nonce_caller, sizeof(s->nonce_caller), &s->nonce_caller_len) &&
           get_bytes(r, s->session_key, sizeof(s->session_key), &s->key_len) &&
           get_bool(r, &s->bound) &&
           get_bytes(r, s->bind_name, sizeof(s->bind_name), &s->bind_name_len) &&
           get_fixed(r, s->policy, sizeof(s->policy)) && get_bool(r, &s->need_auth_value) &&
           get_bool(r, &s->need_password) && tc_read_u32(r, &s->command_code) &&
           get_bytes(r, s->cp_hash, sizeof(s->cp_hash), &s->cp_hash_len) &&
           get_bytes(r, s->name_hash, sizeof(s->name_hash), &s->name_hash_len) &&
           tc_read_u8(r, &s->locality) && tc_read_u32(r, &s->pcr_counter) &&
           get_bool(r, &s->pcr_checked) && tc_read_u8(r, &s->nv_written) &&
           get_bytes(r, s->template_hash, sizeof(s->template_hash), &s->template_len) &&
           get_bool(r, &s->is_trial) && tc_read_u64(r, &s->context_seq) &&
           get_bool(r, &s->audit_started) &&
           get_fixed(r, s->audit_digest, sizeof(s->audit_digest)) && tc_read_u64(r, &s->age) &&
           tc_read_u64(r, &s->start_time) && tc_read_u64(r, &s->timeout);
}

static bool get_hierarchy(tc_reader *r, uint8_t *auth, uint16_t *auth_len, uint16_t *pol_alg,
                          uint8_t *pol, uint16_t *pol_len)
{
    return get_bytes(r, auth, TTPM_MAX_DIGEST, auth_len) && tc_read_u16(r, pol_alg) &&
           get_bytes(r, pol, TTPM_MAX_DIGEST, pol_len);
}

/* Slot number of a repeated record: in range and above every slot seen so
 * far (ascending, as written: one encoding per state). */
static bool get_slot(tc_reader *r, unsigned max, const bool *used, unsigned *slot)
{
    uint16_t i;
    if (!tc_read_u16(r, &i) || i >= max)
        return false;
    for (unsigned k = i; k < max; k++)
        if (used[k])
            return false;
    *slot = i;
    return true;
}

static bool get_record(uint16_t tag, tc_reader *r, ttpm_perm *p)
{
    unsigned i;
    bool used[TTPM_MAX_SESSIONS > TTPM_MAX_NV ? TTPM_MAX_SESSIONS : TTPM_MAX_NV];
    switch (tag) {
    case REC_SEEDS:
        return get_fixed(r, p->eps, sizeof(p->eps)) && get_fixed(r, p->sps, sizeof(p->sps)) &&
               get_fixed(r, p->pps, sizeof(p->pps)) &&
               get_fixed(r, p->null_proof, sizeof(p->null_proof));
    case REC_HIERARCHY:
        return get_hierarchy(r, p->owner_auth, &p->owner_auth_len, &p->owner_policy_alg,
                             p->owner_policy, &p->owner_policy_len) &&
               get_hierarchy(r, p->endorsement_auth, &p->endorsement_auth_len,
                             &p->endorsement_policy_alg, p->endorsement_policy,
                             &p->endorsement_policy_len) &&
               get_hierarchy(r, p->lockout_auth, &p->lockout_auth_len, &p->lockout_policy_alg,
                             p->lockout_policy, &p->lockout_policy_len) &&
               get_hierarchy(r, p->platform_auth, &p->platform_auth_len,
                             &p->platform_policy_alg, p->platform_policy,
                             &p->platform_policy_len) &&
               get_bool(r, &p->disable_clear);
    case REC_DA:
        return get_bool(r, &p->in_lockout) && get_bool(r, &p->lockout_auth_failed) &&
               tc_read_u64(r, &p->lockout_fail_clock) && tc_read_u64(r, &p->last_da_decrement) &&
               tc_read_u32(r, &p->failed_tries) && tc_read_u32(r, &p->max_tries) &&
               tc_read_u32(r, &p->recovery_time) && tc_read_u32(r, &p->lockout_recovery);
    case REC_CLOCK:
        return tc_read_u64(r, &p->clock) && tc_read_u32(r, &p->reset_count) &&
               tc_read_u32(r, &p->restart_count) && get_bool(r, &p->orderly);
    case REC_PCR_CONF:
        /* only the three banks this TPM has may be allocated */
        return tc_read_u8(r, &p->pcr_banks) && (p->pcr_banks & ~0x7u) == 0;
    case REC_AUDIT: {
        uint16_t n;
        return tc_read_u64(r, &p->audit_counter) && tc_read_u16(r, &p->audit_hash) &&
               get_bytes(r, p->audit_cc, sizeof(p->audit_cc), &n) && n == sizeof(p->audit_cc);
    }
    case REC_NV: {
        for (i = 0; i < TTPM_MAX_NV; i++)
            used[i] = p->nv[i].used;
        if (!get_slot(r, TTPM_MAX_NV, used, &i))
            return false;
        ttpm_nv *nv = &p->nv[i];
        nv->used = true;
        return tc_read_u32(r, &nv->index) && tc_read_u16(r, &nv->name_alg) &&
               tc_read_u32(r, &nv->attrs) &&
               get_bytes(r, nv->policy, sizeof(nv->policy), &nv->policy_len) &&
               get_bytes(r, nv->auth, sizeof(nv->auth), &nv->auth_len) &&
               get_bytes(r, nv->data, sizeof(nv->data), &nv->size);
    }
    case REC_PERSISTENT: {
        for (i = 0; i < TTPM_MAX_PERSISTENT; i++)
            used[i] = p->persist[i].used;
        if (!get_slot(r, TTPM_MAX_PERSISTENT, used, &i))
            return false;
        ttpm_persistent *ps = &p->persist[i];
        ps->used = true;
        return tc_read_u32(r, &ps->handle) && tc_read_u32(r, &ps->hierarchy) &&
               get_public(r, &ps->pub) && get_sensitive(r, &ps->sens) &&
               get_bytes(r, ps->qname, sizeof(ps->qname), &ps->qname_len);
    }
    case REC_SAVED: {
        uint8_t nb, np, nd;
        uint16_t n;
        if (!get_bool(r, &p->saved_valid) || !tc_read_u32(r, &p->saved_pcr_counter) ||
            !tc_read_u8(r, &nb) || !tc_read_u8(r, &np) || !tc_read_u8(r, &nd) ||
            nb != TTPM_NUM_BANKS || np != TTPM_NUM_PCRS || nd != TTPM_MAX_DIGEST)
            return false;
        for (unsigned k = 0; k < TTPM_NUM_BANKS; k++)
            for (i = 0; i < TTPM_NUM_PCRS; i++)
                if (!tc_read_copy(r, p->saved_pcr[k][i], TTPM_MAX_DIGEST))
                    return false;
        return get_bytes(r, p->saved_context_key, sizeof(p->saved_context_key), &n) &&
               n == sizeof(p->saved_context_key) && tc_read_u64(r, &p->saved_context_seq);
    }
    case REC_SAVED_SESSION:
        for (i = 0; i < TTPM_MAX_SESSIONS; i++)
            used[i] = p->saved_sess[i].used;
        if (!get_slot(r, TTPM_MAX_SESSIONS, used, &i))
            return false;
        return get_session(r, &p->saved_sess[i]);
    case REC_NV_COUNTER:
        return tc_read_u64(r, &p->nv_counter_max) && p->nv_counter_max != 0;
    case REC_PCR_POLICY:
        return tc_read_u16(r, &p->pcr_policy_alg) && p->pcr_policy_alg != TPM_ALG_NULL &&
               get_bytes(r, p->pcr_policy, sizeof(p->pcr_policy), &p->pcr_policy_len) &&
               p->pcr_policy_len != 0 &&
               p->pcr_policy_len == tcrypto_tpm_hash_size(p->pcr_policy_alg);
    case REC_SAVED_PCR_AUTH:
        return get_bytes(r, p->saved_pcr_auth, sizeof(p->saved_pcr_auth), &p->saved_pcr_auth_len) &&
               p->saved_pcr_auth_len != 0;
    default:
        return false;
    }
}

static bool rec_repeats(uint16_t tag)
{
    return tag == REC_NV || tag == REC_PERSISTENT || tag == REC_SAVED_SESSION;
}

/* records written only when they hold something other than their default */
static bool rec_optional(uint16_t tag)
{
    return tag == REC_NV_COUNTER || tag == REC_PCR_POLICY || tag == REC_SAVED_PCR_AUTH;
}

ttpm_state_err ttpm_state_decode(const uint8_t *buf, size_t len, ttpm_perm *out)
{
    ttpm_perm *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return TTPM_STATE_MEMORY;
    ttpm_state_err err = TTPM_STATE_FORMAT;
    tc_reader r;
    const uint8_t *magic;
    uint16_t major, minor, last = 0;
    uint8_t sum[STATE_SUM];

    tc_reader_init(&r, buf, len);
    if (!tc_read_ref(&r, 8, &magic) || memcmp(magic, STATE_MAGIC, 8) != 0) {
        err = len >= 8 && memcmp(buf, STATE_MAGIC_V0, 8) == 0 ? TTPM_STATE_OLD_FORMAT
                                                              : TTPM_STATE_MAGIC;
        goto done;
    }
    if (!tc_read_u16(&r, &major) || !tc_read_u16(&r, &minor) || len < STATE_HDR + STATE_SUM) {
        err = TTPM_STATE_TRUNCATED;
        goto done;
    }
    /* The checksum first: nothing below is trusted before it matches. */
    tcrypto_tpm_iov v = { buf, len - STATE_SUM };
    if (tcrypto_tpm_hash(TPM_ALG_SHA256, &v, 1, sum) != TCRYPTO_OK) {
        err = TTPM_STATE_MEMORY;
        goto done;
    }
    if (!tcrypto_memeq(sum, buf + len - STATE_SUM, STATE_SUM)) {
        err = TTPM_STATE_CHECKSUM;
        goto done;
    }
    if (major != STATE_MAJOR || minor > STATE_MINOR) {
        err = TTPM_STATE_VERSION;
        goto done;
    }
    r.len = len - STATE_SUM;
    while (tc_reader_left(&r) > 0) {
        uint16_t tag;
        uint32_t n;
        const uint8_t *val;
        if (!tc_read_u16(&r, &tag) || !tc_read_u32(&r, &n) || !tc_read_ref(&r, n, &val)) {
            err = TTPM_STATE_TRUNCATED;
            goto done;
        }
        if (tag == 0 || tag > REC_LAST) {
            err = TTPM_STATE_UNKNOWN_RECORD;
            goto done;
        }
        /* tag order; only NV, persistent and saved-session records repeat */
        if (tag < last || (tag == last && !rec_repeats(tag))) {
            err = TTPM_STATE_FORMAT;
            goto done;
        }
        /* a record the sequence skipped is missing */
        for (uint16_t k = (uint16_t)(last + 1); k < tag; k++)
            if (!rec_repeats(k) && !rec_optional(k)) {
                err = TTPM_STATE_MISSING;
                goto done;
            }
        tc_reader rec;
        tc_reader_init(&rec, val, n);
        if (!get_record(tag, &rec, p) || tc_reader_left(&rec) != 0) {
            err = TTPM_STATE_FIELD;
            goto done;
        }
        last = tag;
    }
    if (last < REC_SAVED) {
        err = TTPM_STATE_MISSING;
        goto done;
    }
    memcpy(out, p, sizeof(*p));
    err = TTPM_STATE_OK;
done:
    tc_freezero(p, sizeof(*p));
    return err;
}

const char *ttpm_state_err_str(ttpm_state_err e)
{
    switch (e) {
    case TTPM_STATE_OK:
        return "ok";
    case TTPM_STATE_MEMORY:
        return "out of memory";
    case TTPM_STATE_MAGIC:
        return "not a tessera-tpm state file";
    case TTPM_STATE_OLD_FORMAT:
        return "raw-image state file of an earlier tessera-tpm that this build cannot read (another layout, or corrupted)";
    case TTPM_STATE_TRUNCATED:
        return "truncated";
    case TTPM_STATE_CHECKSUM:
        return "checksum mismatch (corrupted)";
    case TTPM_STATE_VERSION:
        return "written by another format version";
    case TTPM_STATE_UNKNOWN_RECORD:
        return "unknown record (written by a newer tessera-tpm?)";
    case TTPM_STATE_MISSING:
        return "a required record is missing";
    case TTPM_STATE_FIELD:
        return "a record has a bad field";
    case TTPM_STATE_UNREADABLE:
        return "cannot be read";
    case TTPM_STATE_FORMAT:
    default:
        return "records out of order";
    }
}

/* ---- the file ------------------------------------------------------------ */

ttpm_rc ttpm_state_commit(ttpm *t)
{
    /* a seed may have changed: forget primaries derived from an old one */
    ttpm_pcache_prune(t);
    t->dirty = false;
    t->clock_saved = t->perm.clock;
    if (t->state_path == NULL)
        return TPM_RC_SUCCESS;
    /* A TPM that refused its file never replaces it: the user may recover it. */
    if (t->state_refused)
        return TPM_RC_NV_UNAVAILABLE;
    tc_buf b;
    ttpm_rc rc = TPM_RC_FAILURE;
    if (ttpm_state_encode(&t->perm, &b)) {
        if (tc_write_file_atomic(t->state_path, b.p, b.len, 0600))
            rc = TPM_RC_SUCCESS;
        tc_buf_free(&b);
    }
    if (rc != TPM_RC_SUCCESS)
        TC_ERROR("tpm", "cannot write the state file");
    /* Part 1 §37.3: a failed NV write is reported so that the caller knows
     * the command's effect may not persist. */
    return rc == TPM_RC_SUCCESS ? rc : TPM_RC_NV_UNAVAILABLE;
}

bool ttpm_state_load(ttpm *t)
{
    if (t->state_path == NULL)
        return false;
    struct stat st;
    /* Only a file that is not there makes a new TPM: one that exists but
     * cannot be read (too large, permissions) must not be replaced. */
    if (lstat(t->state_path, &st) != 0 && errno == ENOENT)
        return false;
    uint8_t *buf = NULL;
    size_t n = 0;
    ttpm_state_err e = TTPM_STATE_UNREADABLE;
    unsigned major = 0, minor = 0;
    if (tc_read_file(t->state_path, STATE_MAX_FILE, &buf, &n)) {
        e = ttpm_state_decode(buf, n, &t->perm);
        if (n >= STATE_HDR) {
            major = tc_load_u16(buf + 8);
            minor = tc_load_u16(buf + 10);
        }
        tc_freezero(buf, n);
    }
    if (e != TTPM_STATE_OK) {
        if (e == TTPM_STATE_VERSION)
            TC_ERROR("tpm", "state file %s has format %u.%u; this build reads %u.0 to %u.%u",
                     t->state_path, major, minor, STATE_MAJOR, STATE_MAJOR, STATE_MINOR);
        TC_ERROR("tpm", "state file %s refused: %s; the TPM is in failure mode and the file is "
                 "left unchanged", t->state_path, ttpm_state_err_str(e));
        t->in_failure = true;
        t->state_refused = true;
        return true;
    }
    return true;
}
