/* The state file (state.c): round trip of every field, every truncation,
 * each bad field refused with its reason, and files of another format or
 * version refused without being overwritten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tpm/ttpm.h"

#define HDR 12
#define SUM 32

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

/* A state with every kind of field and record set. */
static ttpm_perm *sample(void)
{
    ttpm_perm *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    fill(p->eps, sizeof(p->eps), 1);
    fill(p->sps, sizeof(p->sps), 2);
    fill(p->pps, sizeof(p->pps), 3);
    fill(p->null_proof, sizeof(p->null_proof), 4);
    p->owner_auth_len = 5;
    fill(p->owner_auth, 5, 5);
    p->lockout_auth_len = 64;
    fill(p->lockout_auth, 64, 6);
    p->endorsement_policy_alg = TPM_ALG_SHA256;
    p->endorsement_policy_len = 32;
    fill(p->endorsement_policy, 32, 7);
    p->owner_policy_alg = p->lockout_policy_alg = p->platform_policy_alg = TPM_ALG_NULL;
    p->disable_clear = true;
    p->in_lockout = true;
    p->lockout_fail_clock = 0x0102030405060708ull;
    p->last_da_decrement = 99;
    p->failed_tries = 3;
    p->max_tries = 32;
    p->recovery_time = 600;
    p->lockout_recovery = 1000;
    p->clock = 0x1122334455667788ull;
    p->reset_count = 7;
    p->restart_count = 9;
    p->orderly = true;
    p->pcr_banks = 0x5;
    p->audit_counter = 42;
    p->nv_counter_max = 0x0A0B0C0D0E0F1011ull;
    p->pcr_policy_alg = TPM_ALG_SHA384;
    p->pcr_policy_len = 48;
    fill(p->pcr_policy, 48, 12);
    p->saved_pcr_auth_len = 7;
    fill(p->saved_pcr_auth, 7, 13);
    p->audit_hash = TPM_ALG_SHA384;
    fill(p->audit_cc, sizeof(p->audit_cc), 8);
    p->nv[3].used = true;
    p->nv[3].index = 0x01500020;
    p->nv[3].name_alg = TPM_ALG_SHA256;
    p->nv[3].attrs = TPMA_NV_OWNERREAD | TPMA_NV_OWNERWRITE | TPMA_NV_WRITTEN;
    p->nv[3].size = TTPM_NV_MAX_SIZE;
    fill(p->nv[3].data, TTPM_NV_MAX_SIZE, 9);
    p->nv[3].auth_len = 3;
    fill(p->nv[3].auth, 3, 10);
    p->nv[40].used = true;
    p->nv[40].index = 0x01500021;
    p->nv[40].size = 8;
    p->persist[0].used = true;
    p->persist[0].handle = 0x81000010;
    p->persist[0].hierarchy = TPM_RH_OWNER;
    p->persist[0].pub.type = TPM_ALG_RSA;
    p->persist[0].pub.name_alg = TPM_ALG_SHA256;
    p->persist[0].pub.attrs = 0x00030072;
    p->persist[0].pub.sym_alg = TPM_ALG_AES;
    p->persist[0].pub.sym_bits = 128;
    p->persist[0].pub.sym_mode = TPM_ALG_CFB;
    p->persist[0].pub.key_bits = 2048;
    p->persist[0].pub.scheme = TPM_ALG_NULL;
    p->persist[0].pub.x_len = 256;
    fill(p->persist[0].pub.x, 256, 11);
    p->persist[0].sens.type = TPM_ALG_RSA;
    p->persist[0].sens.sens_len = 128;
    fill(p->persist[0].sens.sens, 128, 12);
    p->persist[0].sens.seed_len = 32;
    fill(p->persist[0].sens.seed, 32, 13);
    p->persist[0].qname_len = 34;
    fill(p->persist[0].qname, 34, 14);
    p->persist[63].used = true;
    p->persist[63].pub.type = TPM_ALG_ECC;
    p->persist[63].pub.curve = TPM_ECC_NIST_P521;
    p->persist[63].pub.x_len = p->persist[63].pub.y_len = 66;
    p->saved_valid = true;
    p->saved_pcr_counter = 77;
    fill(&p->saved_pcr[0][0][0], sizeof(p->saved_pcr), 15);
    fill(p->saved_context_key, 32, 16);
    p->saved_context_seq = 1234;
    ttpm_session *s = &p->saved_sess[5];
    s->used = true;
    s->type = TPM_SE_POLICY;
    s->handle = 0x03000005;
    s->hash = TPM_ALG_SHA256;
    s->sym_alg = TPM_ALG_AES;
    s->sym_bits = 128;
    s->sym_mode = TPM_ALG_CFB;
    s->nonce_tpm_len = 32;
    fill(s->nonce_tpm, 32, 17);
    s->nonce_caller_len = 16;
    fill(s->nonce_caller, 16, 18);
    s->key_len = 32;
    fill(s->session_key, 32, 19);
    s->bound = true;
    s->bind_name_len = 34;
    fill(s->bind_name, 34, 20);
    fill(s->policy, sizeof(s->policy), 21);
    s->need_auth_value = true;
    s->command_code = 0x153;
    s->cp_hash_len = 32;
    fill(s->cp_hash, 32, 22);
    s->locality = 1;
    s->pcr_counter = 8;
    s->nv_written = 2;
    s->template_len = 48;
    fill(s->template_hash, 48, 23);
    s->context_seq = 5;
    s->audit_started = true;
    fill(s->audit_digest, sizeof(s->audit_digest), 24);
    s->age = 3;
    s->start_time = 1000;
    s->timeout = 2000;
    p->saved_sess[63].used = true;
    p->saved_sess[63].type = TPM_SE_HMAC;
    return p;
}

static tc_buf encode(const ttpm_perm *p)
{
    tc_buf b;
    assert_true(ttpm_state_encode(p, &b));
    return b;
}

/* Replace the checksum of a file built in b (body + 32 bytes of anything). */
static void resum(uint8_t *f, size_t len)
{
    tcrypto_tpm_iov v = { f, len - SUM };
    assert_int_equal(tcrypto_tpm_hash(TPM_ALG_SHA256, &v, 1, f + len - SUM), TCRYPTO_OK);
}

static ttpm_state_err decode(const uint8_t *f, size_t len)
{
    ttpm_perm *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    memset(p, 0xA5, sizeof(*p));
    ttpm_state_err e = ttpm_state_decode(f, len, p);
    if (e != TTPM_STATE_OK) {
        /* the output is written only on success */
        uint8_t *ref = malloc(sizeof(*p));
        assert_non_null(ref);
        memset(ref, 0xA5, sizeof(*p));
        assert_memory_equal(p, ref, sizeof(*p));
        free(ref);
    }
    free(p);
    return e;
}

/* Offset of the value of the nth record with this tag, and its length. */
static size_t find_rec(const tc_buf *b, uint16_t tag, unsigned nth, uint32_t *len)
{
    size_t off = HDR;
    while (off < b->len - SUM) {
        uint16_t t = tc_load_u16(b->p + off);
        uint32_t n = tc_load_u32(b->p + off + 2);
        if (t == tag && nth-- == 0) {
            *len = n;
            return off + 6;
        }
        off += 6 + n;
    }
    fail_msg("record %u not found", tag);
    return 0;
}

/* A copy of b's body with [at, at+del) replaced by ins, checksum fixed. */
static ttpm_state_err splice(const tc_buf *b, size_t at, size_t del, const void *ins, size_t n)
{
    tc_buf f;
    tc_buf_init(&f);
    tc_buf_put(&f, b->p, at);
    tc_buf_put(&f, ins, n);
    tc_buf_put(&f, b->p + at + del, b->len - at - del);
    assert_false(f.failed);
    resum(f.p, f.len);
    ttpm_state_err e = decode(f.p, f.len);
    tc_buf_free(&f);
    return e;
}

/* Overwrite bytes at off (checksum fixed) and decode. */
static ttpm_state_err patch(const tc_buf *b, size_t off, const void *v, size_t n)
{
    return splice(b, off, n, v, n);
}

static void test_round_trip(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    tc_buf b = encode(p);
    assert_memory_equal(b.p, "TSRTPMST\x00\x01\x00\x00", HDR);
    ttpm_perm *q = calloc(1, sizeof(*q));
    assert_non_null(q);
    assert_int_equal(ttpm_state_decode(b.p, b.len, q), TTPM_STATE_OK);
    /* sample() leaves every byte it does not set at zero, as decode does */
    assert_memory_equal(p, q, sizeof(*p));
    tc_buf c = encode(q);
    assert_int_equal(b.len, c.len);
    assert_memory_equal(b.p, c.p, b.len);
    /* the empty state too */
    memset(q, 0, sizeof(*q));
    tc_buf e = encode(q);
    memset(q, 0xFF, sizeof(*q));
    assert_int_equal(ttpm_state_decode(e.p, e.len, q), TTPM_STATE_OK);
    assert_false(q->nv[0].used);
    assert_false(q->saved_sess[0].used);
    tc_buf_free(&b);
    tc_buf_free(&c);
    tc_buf_free(&e);
    free(p);
    free(q);
}

/* Big-endian, layout-independent: a field lands where the format says. */
static void test_encoding_is_explicit(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    tc_buf b = encode(p);
    uint32_t n;
    size_t v = find_rec(&b, 4 /* clock */, 0, &n);
    assert_int_equal(n, 8 + 4 + 4 + 1);
    assert_memory_equal(b.p + v, "\x11\x22\x33\x44\x55\x66\x77\x88\x00\x00\x00\x07", 12);
    v = find_rec(&b, 7 /* NV */, 1, &n);
    assert_memory_equal(b.p + v, "\x00\x28\x01\x50\x00\x21", 6); /* slot 40, index */
    tc_buf_free(&b);
    free(p);
}

static void test_truncation(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    tc_buf b = encode(p);
    /* cut anywhere, checksum as it was: refused */
    for (size_t len = 0; len < b.len; len += (len < 64 ? 1 : 97))
        assert_int_not_equal(decode(b.p, len), TTPM_STATE_OK);
    /* cut anywhere in the body, checksum made to match: refused by the parser */
    size_t body = b.len - SUM;
    for (size_t cut = HDR; cut < body; cut += (cut < 200 ? 1 : 61)) {
        ttpm_state_err e = splice(&b, cut, body - cut, NULL, 0);
        assert_true(e == TTPM_STATE_TRUNCATED || e == TTPM_STATE_MISSING ||
                    e == TTPM_STATE_FIELD);
    }
    /* shorter than header + checksum */
    assert_int_equal(decode(b.p, HDR + SUM - 1), TTPM_STATE_TRUNCATED);
    assert_int_equal(decode(b.p, 10), TTPM_STATE_TRUNCATED);
    tc_buf_free(&b);
    free(p);
}

static void test_header_and_checksum(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    tc_buf b = encode(p);
    assert_int_equal(patch(&b, 0, "X", 1), TTPM_STATE_MAGIC);
    assert_int_equal(patch(&b, 0, "TSRTPM01", 8), TTPM_STATE_OLD_FORMAT);
    assert_int_equal(patch(&b, 8, "\x00\x02", 2), TTPM_STATE_VERSION);  /* major 2 */
    assert_int_equal(patch(&b, 8, "\x00\x00", 2), TTPM_STATE_VERSION);  /* major 0 */
    assert_int_equal(patch(&b, 10, "\x00\x01", 2), TTPM_STATE_VERSION); /* newer minor */
    /* one flipped bit anywhere: the checksum */
    uint8_t *f = malloc(b.len);
    assert_non_null(f);
    for (size_t i = 0; i < b.len; i += 131) {
        memcpy(f, b.p, b.len);
        f[i] ^= 0x10;
        ttpm_state_err e = decode(f, b.len);
        assert_true(e == TTPM_STATE_CHECKSUM || (i < 8 && e == TTPM_STATE_MAGIC));
    }
    free(f);
    tc_buf_free(&b);
    free(p);
}

/* The optional records (NV counter high-water mark, PCR policy, saved PCR
 * authValue): absent when they hold their default, refused when present
 * with it or with a bad field, and not allowed twice. */
static void test_optional_records(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    p->nv_counter_max = 0;
    p->pcr_policy_len = 0;
    p->saved_pcr_auth_len = 0;
    tc_buf b = encode(p);
    size_t body = b.len - SUM;
    assert_int_equal(splice(&b, body, 0, "\x00\x0B\x00\x00\x00\x08\0\0\0\0\0\0\0\0", 14),
                     TTPM_STATE_FIELD);
    assert_int_equal(splice(&b, body, 0, "\x00\x0B\x00\x00\x00\x04\0\0\0\1", 10),
                     TTPM_STATE_FIELD);
    assert_int_equal(splice(&b, body, 0, "\x00\x0B\x00\x00\x00\x08\0\0\0\0\0\0\0\5", 14),
                     TTPM_STATE_OK);
    assert_int_equal(splice(&b, body, 0,
                            "\x00\x0B\x00\x00\x00\x08\0\0\0\0\0\0\0\5"
                            "\x00\x0B\x00\x00\x00\x08\0\0\0\0\0\0\0\6", 28),
                     TTPM_STATE_FORMAT);
    /* PCR policy: alg + digest of that alg's size */
    assert_int_equal(splice(&b, body, 0, "\x00\x0C\x00\x00\x00\x04\x00\x0B\x00\x00", 10),
                     TTPM_STATE_FIELD);
    assert_int_equal(splice(&b, body, 0, "\x00\x0C\x00\x00\x00\x06\x00\x0B\x00\x02\1\2", 12),
                     TTPM_STATE_FIELD);
    assert_int_equal(splice(&b, body, 0, "\x00\x0C\x00\x00\x00\x06\x00\x10\x00\x02\1\2", 12),
                     TTPM_STATE_FIELD);
    assert_int_equal(splice(&b, body, 0, "\x00\x0C\x00\x00\x00\x18\x00\x04\x00\x14"
                                         "01234567890123456789", 30),
                     TTPM_STATE_OK);
    /* saved PCR authValue: not empty */
    assert_int_equal(splice(&b, body, 0, "\x00\x0D\x00\x00\x00\x02\x00\x00", 8),
                     TTPM_STATE_FIELD);
    assert_int_equal(splice(&b, body, 0, "\x00\x0D\x00\x00\x00\x03\x00\x01\x41", 9),
                     TTPM_STATE_OK);
    tc_buf_free(&b);
    free(p);
}

static void test_records(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    tc_buf b = encode(p);
    uint32_t n;
    size_t body = b.len - SUM;
    /* unknown record after the last one (a newer minor version's addition) */
    assert_int_equal(splice(&b, body, 0, "\x00\x40\x00\x00\x00\x01\x00", 7),
                     TTPM_STATE_UNKNOWN_RECORD);
    assert_int_equal(splice(&b, body, 0, "\x00\x00\x00\x00\x00\x00", 6),
                     TTPM_STATE_UNKNOWN_RECORD);
    assert_int_equal(splice(&b, body, 0, "\x12\x34\x00\x00\x00\x00", 6),
                     TTPM_STATE_UNKNOWN_RECORD);
    /* a record whose length runs past the end */
    assert_int_equal(splice(&b, body, 0, "\x00\x0A\x00\x00\x10\x00", 6), TTPM_STATE_TRUNCATED);
    /* a single record repeated, records out of order */
    size_t da = find_rec(&b, 3, 0, &n) - 6;
    size_t da_len = 6 + n;
    assert_int_equal(splice(&b, da, 0, b.p + da, da_len), TTPM_STATE_FORMAT);
    size_t clk = find_rec(&b, 4, 0, &n) - 6;
    size_t clk_len = 6 + n;
    assert_int_equal(splice(&b, clk + clk_len, 0, b.p + da, da_len), TTPM_STATE_FORMAT);
    /* a required record missing: in the middle, at the end */
    assert_int_equal(splice(&b, da, da_len, NULL, 0), TTPM_STATE_MISSING);
    size_t seeds = find_rec(&b, 1, 0, &n) - 6;
    assert_int_equal(splice(&b, seeds, 6 + n, NULL, 0), TTPM_STATE_MISSING);
    size_t saved = find_rec(&b, 9, 0, &n) - 6;
    assert_int_equal(splice(&b, saved, body - saved, NULL, 0), TTPM_STATE_MISSING);
    /* optional records absent: fine (no NV, persistent, sessions) */
    size_t nv = find_rec(&b, 7, 0, &n) - 6;
    size_t ps = find_rec(&b, 9, 0, &n) - 6;
    assert_int_equal(splice(&b, nv, ps - nv, NULL, 0), TTPM_STATE_OK);
    /* a byte left over inside a record, a record one byte short */
    size_t pc = find_rec(&b, 5, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(splice(&b, pc - 6, 7, "\x00\x05\x00\x00\x00\x01\x05", 7), TTPM_STATE_OK);
    assert_int_equal(splice(&b, pc - 6, 7, "\x00\x05\x00\x00\x00\x02\x05\x00", 8),
                     TTPM_STATE_FIELD);
    assert_int_equal(splice(&b, pc - 6, 7, "\x00\x05\x00\x00\x00\x00", 6), TTPM_STATE_FIELD);
    tc_buf_free(&b);
    free(p);
}

static void test_bad_fields(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    tc_buf b = encode(p);
    uint32_t n;
    size_t v;
    /* seeds: a seed of the wrong size */
    v = find_rec(&b, 1, 0, &n);
    assert_int_equal(patch(&b, v, "\x00\x3F", 2), TTPM_STATE_FIELD);
    /* hierarchy: an auth longer than a digest; disableClear not a boolean */
    v = find_rec(&b, 2, 0, &n);
    assert_int_equal(patch(&b, v, "\x00\x41", 2), TTPM_STATE_FIELD);
    assert_int_equal(patch(&b, v + n - 1, "\x02", 1), TTPM_STATE_FIELD);
    /* DA: inLockout not a boolean */
    v = find_rec(&b, 3, 0, &n);
    assert_int_equal(patch(&b, v, "\x02", 1), TTPM_STATE_FIELD);
    assert_int_equal(patch(&b, v + 1, "\xFF", 1), TTPM_STATE_FIELD);
    /* clock: orderly not a boolean */
    v = find_rec(&b, 4, 0, &n);
    assert_int_equal(patch(&b, v + n - 1, "\x07", 1), TTPM_STATE_FIELD);
    /* PCR banks: a bank this TPM does not have */
    v = find_rec(&b, 5, 0, &n);
    assert_int_equal(patch(&b, v, "\x08", 1), TTPM_STATE_FIELD);
    /* audit: the command bitmap of the wrong size */
    v = find_rec(&b, 6, 0, &n);
    assert_int_equal(patch(&b, v + 10, "\x00\x3F", 2), TTPM_STATE_FIELD);
    /* NV: slot out of range, slots not ascending, data larger than an index */
    size_t nv0 = find_rec(&b, 7, 0, &n);
    assert_int_equal(patch(&b, nv0, "\x00\x40", 2), TTPM_STATE_FIELD);
    size_t nv1 = find_rec(&b, 7, 1, &n);
    assert_int_equal(patch(&b, nv1, "\x00\x03", 2), TTPM_STATE_FIELD); /* duplicate */
    assert_int_equal(patch(&b, nv1, "\x00\x02", 2), TTPM_STATE_FIELD); /* descending */
    (void)find_rec(&b, 7, 0, &n);
    size_t dlen = nv0 + n - TTPM_NV_MAX_SIZE - 2;
    assert_memory_equal(b.p + dlen, "\x08\x00", 2);
    assert_int_equal(patch(&b, dlen, "\x08\x01", 2), TTPM_STATE_FIELD);
    /* persistent: slot out of range, RSA modulus larger than the maximum */
    v = find_rec(&b, 8, 0, &n);
    assert_int_equal(patch(&b, v, "\xFF\xFF", 2), TTPM_STATE_FIELD);
    /* slot, handle, hierarchy, type..attrs, policy (empty), 8 u16 + u32 + u16 */
    size_t xlen = v + 2 + 4 + 4 + 8 + 2 + 22;
    assert_memory_equal(b.p + xlen, "\x01\x00", 2);
    assert_int_equal(patch(&b, xlen, "\x02\x01", 2), TTPM_STATE_FIELD);
    /* saved state: the PCR shape of another build; saved bool */
    v = find_rec(&b, 9, 0, &n);
    assert_int_equal(patch(&b, v, "\x02", 1), TTPM_STATE_FIELD);
    assert_int_equal(patch(&b, v + 5, "\x04", 1), TTPM_STATE_FIELD);
    assert_int_equal(patch(&b, v + 6, "\x20", 1), TTPM_STATE_FIELD);
    assert_int_equal(patch(&b, v + 7, "\x30", 1), TTPM_STATE_FIELD);
    /* saved session: slot out of range, loaded not a boolean */
    v = find_rec(&b, 10, 0, &n);
    assert_memory_equal(b.p + v, "\x00\x05", 2);
    assert_int_equal(patch(&b, v, "\x00\x40", 2), TTPM_STATE_FIELD);
    assert_int_equal(patch(&b, v + 2, "\x03", 1), TTPM_STATE_FIELD);
    tc_buf_free(&b);
    free(p);
}

/* ---- the file, through ttpm_new ------------------------------------------ */

static char dir[64];
static char path[96];

static int mkdir_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ttpm_state_XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/tpm-state", dir);
    return 0;
}

static int mkdir_teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void write_file(const void *p, size_t n)
{
    assert_true(tc_write_file_atomic(path, p, n, 0600));
}

static tc_buf read_back(void)
{
    uint8_t *p;
    size_t n;
    assert_true(tc_read_file(path, 8u << 20, &p, &n));
    tc_buf b = { p, n, n, false };
    return b;
}

/* A file that is refused: failure mode, and not a byte of it rewritten —
 * neither at start nor by a command nor by an explicit commit. */
static void assert_refused_kept(const void *f, size_t n)
{
    write_file(f, n);
    ttpm *t = ttpm_new(dir);
    assert_non_null(t);
    assert_true(t->in_failure);
    static const uint8_t startup[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0 };
    tc_buf out;
    tc_buf_init(&out);
    ttpm_execute(t, startup, sizeof(startup), &out);
    assert_int_equal(tc_load_u32(out.p + 6), TPM_RC_FAILURE);
    tc_buf_free(&out);
    t->dirty = true;
    assert_int_equal(ttpm_state_commit(t), TPM_RC_NV_UNAVAILABLE);
    ttpm_free(t);
    tc_buf b = read_back();
    assert_int_equal(b.len, n);
    assert_memory_equal(b.p, f, n);
    tc_buf_free(&b);
}

static void test_file_new_and_reload(void **state)
{
    (void)state;
    ttpm *t = ttpm_new(dir);
    assert_non_null(t);
    assert_false(t->in_failure);
    tc_buf b = read_back();
    assert_memory_equal(b.p, "TSRTPMST\x00\x01", 10);
    ttpm *u = ttpm_new(dir);
    assert_non_null(u);
    assert_false(u->in_failure);
    assert_memory_equal(t->perm.eps, u->perm.eps, sizeof(t->perm.eps));
    assert_memory_equal(t->perm.null_proof, u->perm.null_proof, sizeof(t->perm.null_proof));
    ttpm_free(t);
    ttpm_free(u);
    tc_buf_free(&b);
}

static void test_file_other_version_refused(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    tc_buf b = encode(p);
    b.p[9] = 2; /* major 2 */
    resum(b.p, b.len);
    assert_refused_kept(b.p, b.len);
    b.p[9] = 1;
    b.p[11] = 1; /* minor 1 */
    resum(b.p, b.len);
    assert_refused_kept(b.p, b.len);
    b.p[11] = 0;
    b.p[b.len - 1] ^= 1; /* corrupted */
    assert_refused_kept(b.p, b.len);
    tc_buf_free(&b);
    free(p);
}

static void test_file_unknown_record_refused(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    tc_buf b = encode(p);
    tc_buf f;
    tc_buf_init(&f);
    tc_buf_put(&f, b.p, b.len - SUM);
    tc_buf_put(&f, "\x00\x40\x00\x00\x00\x02\xAB\xCD", 8);
    tc_buf_put(&f, b.p, SUM);
    resum(f.p, f.len);
    assert_int_equal(decode(f.p, f.len), TTPM_STATE_UNKNOWN_RECORD);
    assert_refused_kept(f.p, f.len);
    tc_buf_free(&f);
    tc_buf_free(&b);
    free(p);
}

/* The raw-image format used during development never shipped: any such
 * file is refused and left as it is, whatever its layout. */
static void test_file_raw_image(void **state)
{
    (void)state;
    ttpm_perm *p = sample();
    size_t n = 8 + 4 + sizeof(*p) + SUM;
    uint8_t *f = calloc(1, n + 16);
    assert_non_null(f);
    memcpy(f, "TSRTPM01", 8);
    tc_store_u32(f + 8, (uint32_t)sizeof(*p) + 16);
    memcpy(f + 12, p, sizeof(*p));
    resum(f, n + 16);
    assert_refused_kept(f, n + 16);
    tc_store_u32(f + 8, (uint32_t)sizeof(*p));
    resum(f, n);
    assert_refused_kept(f, n);
    free(f);
    free(p);
}

/* A file that exists but cannot be read is not replaced by a new TPM. */
static void test_file_unreadable_refused(void **state)
{
    (void)state;
    size_t n = 5u << 20;
    uint8_t *f = calloc(1, n);
    assert_non_null(f);
    assert_refused_kept(f, n);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encoding_is_explicit),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_header_and_checksum),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test_setup_teardown(test_file_new_and_reload, mkdir_setup, mkdir_teardown),
        cmocka_unit_test(test_optional_records),
        cmocka_unit_test_setup_teardown(test_file_other_version_refused, mkdir_setup,
                                        mkdir_teardown),
        cmocka_unit_test_setup_teardown(test_file_unknown_record_refused, mkdir_setup,
                                        mkdir_teardown),
        cmocka_unit_test_setup_teardown(test_file_raw_image, mkdir_setup, mkdir_teardown),
        cmocka_unit_test_setup_teardown(test_file_unreadable_refused, mkdir_setup,
                                        mkdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
