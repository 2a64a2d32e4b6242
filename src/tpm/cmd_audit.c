/*
 * Command audit and session audit (Part 1 §32, Part 3 §18.5, §18.6, §21.2).
 * The command audit digest is extended in dispatch.c after every audited
 * command; these handlers set the list and report signed digests.
 */
#include <string.h>

#include "tpm/ttpm.h"

#define AUDIT_FIRST 0x11Fu
#define AUDIT_BITS (8u * sizeof(((ttpm_perm *)0)->audit_cc))

bool ttpm_cc_audited(const ttpm *t, uint32_t cc)
{
    /* SetCommandCodeAuditStatus is always audited (Part 3 §21.2). */
    if (cc == 0x140)
        return true;
    if (cc < AUDIT_FIRST || cc - AUDIT_FIRST >= AUDIT_BITS)
        return false;
    uint32_t b = cc - AUDIT_FIRST;
    return (t->perm.audit_cc[b / 8] & (1u << (b % 8))) != 0;
}

static ttpm_rc read_cc_list(tc_reader *r, uint32_t *cc, uint32_t *n, unsigned p)
{
    if (ttpm_get_u32(r, n) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(p);
    if (*n > 256)
        return TPM_RC_SIZE | TTPM_RC_P(p);
    for (uint32_t i = 0; i < *n; i++)
        if (ttpm_get_u32(r, &cc[i]) != 0)
            return TPM_RC_INSUFFICIENT | TTPM_RC_P(p);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(SetCommandCodeAuditStatus)
{
    ttpm *t = c->t;
    uint16_t alg;
    uint32_t set[256], clr[256], ns, nc;
    ttpm_rc rc;
    if (c->h[0] != TPM_RH_OWNER && c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if ((rc = ttpm_get_u16(&c->in, &alg)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_check_hash(alg, true)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = read_cc_list(&c->in, set, &ns, 2)) != 0)
        return rc;
    if ((rc = read_cc_list(&c->in, clr, &nc, 3)) != 0)
        return rc;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (alg != TPM_ALG_NULL && alg != t->perm.audit_hash) {
        /* A new digest algorithm: lists must be empty; the digest restarts. */
        if (ns || nc)
            return TPM_RC_VALUE | TTPM_RC_P(2);
        t->perm.audit_hash = alg;
        t->audit_started = false;
        memset(t->audit_digest, 0, sizeof(t->audit_digest));
        t->dirty = true;
        return TPM_RC_SUCCESS;
    }
    for (uint32_t i = 0; i < ns; i++) {
        if (ttpm_cmd_lookup(set[i]) == NULL || set[i] - AUDIT_FIRST >= AUDIT_BITS)
            continue; /* unimplemented codes are ignored (Part 3 §21.2) */
        uint32_t b = set[i] - AUDIT_FIRST;
        t->perm.audit_cc[b / 8] |= (uint8_t)(1u << (b % 8));
    }
    for (uint32_t i = 0; i < nc; i++) {
        if (clr[i] == 0x140 || clr[i] < AUDIT_FIRST || clr[i] - AUDIT_FIRST >= AUDIT_BITS)
            continue;
        uint32_t b = clr[i] - AUDIT_FIRST;
        t->perm.audit_cc[b / 8] &= (uint8_t)~(1u << (b % 8));
    }
    if (t->perm.audit_hash == TPM_ALG_NULL)
        t->perm.audit_hash = TPM_ALG_SHA256;
    t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(GetCommandAuditDigest)
{
    ttpm *t = c->t;
    ttpm_ref extra;
    ttpm_signer sg;
    ttpm_rc rc;
    if (c->h[0] != TPM_RH_ENDORSEMENT)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if ((rc = ttpm_attest_simple_params(c, &extra, &sg)) != 0)
        return rc;
    uint16_t alg = t->perm.audit_hash == TPM_ALG_NULL ? TPM_ALG_SHA256 : t->perm.audit_hash;
    size_t hs = tcrypto_tpm_hash_size(alg);
    /* commandDigest = H(list of audited command codes, ascending) */
    tcrypto_tpm_md *md;
    uint8_t cd[TTPM_MAX_DIGEST];
    if (tcrypto_tpm_md_new(alg, NULL, 0, &md) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    bool ok = true;
    for (uint32_t cc = AUDIT_FIRST; cc < AUDIT_FIRST + AUDIT_BITS; cc++) {
        if (!ttpm_cc_audited(t, cc))
            continue;
        uint8_t b[4];
        tc_store_u32(b, cc);
        ok &= tcrypto_tpm_md_update(md, b, 4) == TCRYPTO_OK;
    }
    ok &= tcrypto_tpm_md_final(md, cd) == TCRYPTO_OK;
    tcrypto_tpm_md_free(md);
    if (!ok)
        return TPM_RC_FAILURE;
    tc_buf a;
    tc_buf_init(&a);
    ttpm_attest_header(c, &a, 0x8015 /* TPM_ST_ATTEST_COMMAND_AUDIT */, &sg, &extra);
    tc_buf_put_u64(&a, t->perm.audit_counter);
    tc_buf_put_u16(&a, alg);
    ttpm_put_2b(&a, t->audit_digest, (uint16_t)hs);
    ttpm_put_2b(&a, cd, (uint16_t)hs);
    rc = ttpm_attest_finish(c, &a, &sg);
    tc_buf_free(&a);
    if (rc == TPM_RC_SUCCESS) {
        /* reading the digest starts a new one (Part 3 §18.5) */
        t->audit_started = false;
        memset(t->audit_digest, 0, sizeof(t->audit_digest));
    }
    return rc;
}

TTPM_HANDLER(GetSessionAuditDigest)
{
    ttpm_ref extra;
    ttpm_signer sg;
    ttpm_rc rc;
    if (c->h[0] != TPM_RH_ENDORSEMENT)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    ttpm_session *s = ttpm_sess_get(c->t, c->h[2]);
    if (s == NULL || s->type != TPM_SE_HMAC)
        return TPM_RC_TYPE | TTPM_RC_H(3);
    if ((rc = ttpm_attest_simple_params(c, &extra, &sg)) != 0)
        return rc;
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    tc_buf a;
    tc_buf_init(&a);
    ttpm_attest_header(c, &a, 0x8016 /* TPM_ST_ATTEST_SESSION_AUDIT */, &sg, &extra);
    tc_buf_put_u8(&a, 0); /* exclusiveSession */
    ttpm_put_2b(&a, s->audit_digest, (uint16_t)hs);
    rc = ttpm_attest_finish(c, &a, &sg);
    tc_buf_free(&a);
    return rc;
}
