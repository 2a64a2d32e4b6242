/*
 * Start-up, testing, random numbers and the clock (Part 3 §9, §10, §16, §29).
 */
#include <string.h>

#include "tpm/ttpm.h"

static void pcr_init(ttpm *t)
{
    memset(t->pcr, 0, sizeof(t->pcr));
    /* PC Client profile: the DRTM PCRs 17..22 start as all ones. */
    for (int b = 0; b < TTPM_NUM_BANKS; b++)
        for (int i = 17; i <= 22; i++)
            memset(t->pcr[b][i], 0xFF, TTPM_MAX_DIGEST);
    t->pcr_counter = 0;
}

TTPM_HANDLER(Startup)
{
    ttpm *t = c->t;
    uint16_t type;
    if (t->started)
        return TPM_RC_INITIALIZE;
    if (ttpm_get_u16(&c->in, &type) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (type != TPM_SU_CLEAR && type != TPM_SU_STATE)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    ttpm_perm *p = &t->perm;
    if (type == TPM_SU_STATE) {
        /* TPM Resume needs a preceding Shutdown(STATE) (Part 1 §12.2.3). */
        if (!p->saved_valid)
            return TPM_RC_VALUE | TTPM_RC_P(1);
        memcpy(t->pcr, p->saved_pcr, sizeof(t->pcr));
        t->pcr_counter = p->saved_pcr_counter;
        /* PCR authValues come back on Resume only (Part 1, PCR authorization) */
        memcpy(t->pcr_auth, p->saved_pcr_auth, sizeof(t->pcr_auth));
        t->pcr_auth_len = p->saved_pcr_auth_len;
        /* the saved sessions come back, also after a process restart */
        for (unsigned i = 0; i < TTPM_MAX_SESSIONS; i++)
            if (p->saved_sess[i].used && !t->sess[i].used)
                t->sess[i] = p->saved_sess[i];
        memcpy(t->context_key, p->saved_context_key, sizeof(t->context_key));
        if (p->saved_context_seq > t->context_seq)
            t->context_seq = p->saved_context_seq;
        p->restart_count++;
    } else if (p->saved_valid) {
        /* TPM Restart: PCRs start over, saved contexts of objects stay valid. */
        pcr_init(t);
        p->restart_count++;
    } else {
        /* TPM Reset: new nullProof, all saved session contexts die. */
        pcr_init(t);
        p->reset_count++;
        p->restart_count = 0;
        if (tcrypto_tpm_random(p->null_proof, sizeof(p->null_proof)) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        for (unsigned i = 0; i < TTPM_MAX_SESSIONS; i++)
            if (t->sess[i].used)
                ttpm_sess_flush(&t->sess[i]);
        if (tcrypto_tpm_random(t->context_key, sizeof(t->context_key)) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        t->time_ms = 0;
        /* outstanding Commit / EC_Ephemeral counters die with the boot */
        t->commit_ready = false;
        tc_wipe(t->commit_key, sizeof(t->commit_key));
    }
    if (type == TPM_SU_CLEAR) {
        /* Saved session contexts are kept only across a Resume. */
        for (unsigned i = 0; i < TTPM_MAX_SESSIONS; i++)
            if (t->sess[i].used && !t->sess[i].loaded && p->saved_valid)
                ttpm_sess_flush(&t->sess[i]);
    }
    if (type == TPM_SU_CLEAR) {
        tc_wipe(t->pcr_auth, sizeof(t->pcr_auth));
        t->pcr_auth_len = 0;
    }
    p->saved_valid = false;
    tc_wipe(p->saved_sess, sizeof(p->saved_sess));
    tc_wipe(p->saved_pcr_auth, sizeof(p->saved_pcr_auth));
    p->saved_pcr_auth_len = 0;
    p->orderly = false;
    t->sh_enable = t->eh_enable = t->ph_enable = t->ph_enable_nv = true;
    /* Counters marked orderly/clear-on-start lose their read/write locks. */
    for (unsigned i = 0; i < TTPM_MAX_NV; i++) {
        ttpm_nv *nv = &p->nv[i];
        if (!nv->used)
            continue;
        if (nv->attrs & TPMA_NV_READ_STCLEAR)
            nv->attrs &= ~TPMA_NV_READLOCKED;
        if (nv->attrs & TPMA_NV_WRITE_STCLEAR)
            nv->attrs &= ~TPMA_NV_WRITELOCKED;
        if ((nv->attrs & TPMA_NV_CLEAR_STCLEAR) && type == TPM_SU_CLEAR)
            nv->attrs &= ~TPMA_NV_WRITTEN;
    }
    t->global_lock = false;
    t->started = true;
    t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(ClockRateAdjust)
{
    uint8_t speed;
    if (c->h[0] != TPM_RH_OWNER && c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if (ttpm_get_u8(&c->in, &speed) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* TPM_CLOCK_ADJUST is -3..3; the clock follows the host clock, so the
     * rate is accepted and left unchanged (Part 3 §29.3 allows coarse steps). */
    int8_t v = (int8_t)speed;
    if (v < -3 || v > 3)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(Shutdown)
{
    ttpm *t = c->t;
    uint16_t type;
    if (ttpm_get_u16(&c->in, &type) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (type != TPM_SU_CLEAR && type != TPM_SU_STATE)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    if (type == TPM_SU_STATE) {
        memcpy(t->perm.saved_pcr, t->pcr, sizeof(t->pcr));
        t->perm.saved_pcr_counter = t->pcr_counter;
        memcpy(t->perm.saved_pcr_auth, t->pcr_auth, sizeof(t->pcr_auth));
        t->perm.saved_pcr_auth_len = t->pcr_auth_len;
        /* only saved session contexts survive (loaded ones end with power) */
        memset(t->perm.saved_sess, 0, sizeof(t->perm.saved_sess));
        for (unsigned i = 0; i < TTPM_MAX_SESSIONS; i++)
            if (t->sess[i].used && !t->sess[i].loaded)
                t->perm.saved_sess[i] = t->sess[i];
        memcpy(t->perm.saved_context_key, t->context_key, sizeof(t->context_key));
        t->perm.saved_context_seq = t->context_seq;
        t->perm.saved_valid = true;
    } else {
        t->perm.saved_valid = false;
        tc_wipe(t->perm.saved_sess, sizeof(t->perm.saved_sess));
        tc_wipe(t->perm.saved_pcr_auth, sizeof(t->perm.saved_pcr_auth));
        t->perm.saved_pcr_auth_len = 0;
    }
    t->perm.orderly = true;
    t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(SelfTest)
{
    uint8_t full;
    if (ttpm_get_u8(&c->in, &full) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (full > 1)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    return tcrypto_in_error() ? TPM_RC_FAILURE : TPM_RC_SUCCESS;
}

TTPM_HANDLER(IncrementalSelfTest)
{
    uint32_t n;
    if (ttpm_get_u32(&c->in, &n) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (n > 64)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    for (uint32_t i = 0; i < n; i++) {
        uint16_t alg;
        if (ttpm_get_u16(&c->in, &alg) != 0)
            return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    }
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* Everything was tested at start-up: nothing left to do. */
    tc_buf_put_u32(c->out, 0);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(GetTestResult)
{
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    ttpm_put_2b(c->out, NULL, 0);
    tc_buf_put_u32(c->out, c->t->in_failure ? TPM_RC_FAILURE : TPM_RC_SUCCESS);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(GetRandom)
{
    uint16_t n;
    uint8_t buf[TTPM_MAX_DIGEST];
    if (ttpm_get_u16(&c->in, &n) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* Part 3 §16.1: at most sizeof(TPMU_HA) bytes per call. */
    if (n > sizeof(buf))
        n = sizeof(buf);
    if (tcrypto_tpm_random(buf, n) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_put_2b(c->out, buf, n);
    tc_wipe(buf, sizeof(buf));
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(StirRandom)
{
    ttpm_ref in;
    ttpm_rc rc = ttpm_get_2b(&c->in, 128, &in);
    if (rc)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    tcrypto_tpm_random_stir(in.b, in.size);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(TestParms)
{
    ttpm_public p;
    memset(&p, 0, sizeof(p));
    ttpm_rc rc = ttpm_get_u16(&c->in, &p.type);
    if (rc)
        return ttpm_rc_param(rc, 1);
    if (p.type != TPM_ALG_RSA && p.type != TPM_ALG_ECC && p.type != TPM_ALG_KEYEDHASH &&
        p.type != TPM_ALG_SYMCIPHER)
        return TPM_RC_TYPE | TTPM_RC_P(1);
    if ((rc = ttpm_get_public_parms(&c->in, &p)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (p.type == TPM_ALG_RSA && p.key_bits != 1024 && p.key_bits != 2048 &&
        p.key_bits != 3072 && p.key_bits != 4096)
        return TPM_RC_KEY_SIZE | TTPM_RC_P(1);
    return TPM_RC_SUCCESS;
}

static void put_time_info(ttpm_cmd *c)
{
    tc_buf_put_u64(c->out, c->t->time_ms);
    tc_buf_put_u64(c->out, c->t->perm.clock);
    tc_buf_put_u32(c->out, c->t->perm.reset_count);
    tc_buf_put_u32(c->out, c->t->perm.restart_count);
    tc_buf_put_u8(c->out, 1);
}

TTPM_HANDLER(ReadClock)
{
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    put_time_info(c);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(ClockSet)
{
    uint64_t nt;
    if (c->h[0] != TPM_RH_OWNER && c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if (ttpm_get_u64(&c->in, &nt) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* The clock never goes backwards (Part 3 §29.2). */
    if (nt < c->t->perm.clock || nt > 0xFFFF000000000000ull)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    c->t->perm.clock = nt;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}
