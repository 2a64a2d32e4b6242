/*
 * Hierarchy and dictionary-attack commands (Part 3 §24, §25):
 * HierarchyChangeAuth, HierarchyControl, SetPrimaryPolicy, Clear,
 * ClearControl, DictionaryAttackLockReset, DictionaryAttackParameters.
 */
#include <string.h>

#include "tpm/ttpm.h"

TTPM_HANDLER(HierarchyChangeAuth)
{
    ttpm_perm *p = &c->t->perm;
    ttpm_ref na;
    ttpm_rc rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &na);
    if (rc)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint8_t *dst;
    uint16_t *len;
    switch (c->h[0]) {
    case TPM_RH_OWNER: dst = p->owner_auth; len = &p->owner_auth_len; break;
    case TPM_RH_ENDORSEMENT: dst = p->endorsement_auth; len = &p->endorsement_auth_len; break;
    case TPM_RH_LOCKOUT: dst = p->lockout_auth; len = &p->lockout_auth_len; break;
    case TPM_RH_PLATFORM: dst = p->platform_auth; len = &p->platform_auth_len; break;
    default: return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    }
    tc_wipe(dst, TTPM_MAX_DIGEST);
    memcpy(dst, na.b, na.size);
    *len = na.size;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(HierarchyControl)
{
    ttpm *t = c->t;
    uint32_t which;
    uint8_t state;
    if (ttpm_get_u32(&c->in, &which) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (ttpm_get_u8(&c->in, &state) != 0 || state > 1)
        return TPM_RC_VALUE | TTPM_RC_P(2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint32_t ah = c->h[0];
    if (ah != TPM_RH_PLATFORM && ah != TPM_RH_OWNER && ah != TPM_RH_ENDORSEMENT)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    /* Part 3 §24.2: only the platform enables; owner/endorsement may only
     * disable their own hierarchy. */
    if (ah != TPM_RH_PLATFORM && (state == 1 || which != ah))
        return TPM_RC_AUTH_TYPE;
    bool *flag;
    switch (which) {
    case TPM_RH_OWNER: flag = &t->sh_enable; break;
    case TPM_RH_ENDORSEMENT: flag = &t->eh_enable; break;
    case TPM_RH_PLATFORM: flag = &t->ph_enable; break;
    case TPM_RH_PLATFORM_NV: flag = &t->ph_enable_nv; break;
    default: return TPM_RC_VALUE | TTPM_RC_P(1);
    }
    *flag = state == 1;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(SetPrimaryPolicy)
{
    ttpm_perm *p = &c->t->perm;
    ttpm_ref pol;
    uint16_t alg;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &pol)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &alg)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = ttpm_check_hash(alg, true)) != 0)
        return ttpm_rc_param(rc, 2);
    size_t hs = alg == TPM_ALG_NULL ? 0 : tcrypto_tpm_hash_size(alg);
    if (pol.size != hs)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    uint8_t *dst;
    uint16_t *len, *palg;
    switch (c->h[0]) {
    case TPM_RH_OWNER:
        dst = p->owner_policy; len = &p->owner_policy_len; palg = &p->owner_policy_alg; break;
    case TPM_RH_ENDORSEMENT:
        dst = p->endorsement_policy; len = &p->endorsement_policy_len;
        palg = &p->endorsement_policy_alg; break;
    case TPM_RH_LOCKOUT:
        dst = p->lockout_policy; len = &p->lockout_policy_len; palg = &p->lockout_policy_alg; break;
    case TPM_RH_PLATFORM:
        dst = p->platform_policy; len = &p->platform_policy_len;
        palg = &p->platform_policy_alg; break;
    default:
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    }
    memset(dst, 0, TTPM_MAX_DIGEST);
    memcpy(dst, pol.b, pol.size);
    *len = pol.size;
    *palg = alg;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(Clear)
{
    ttpm *t = c->t;
    ttpm_perm *p = &t->perm;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (c->h[0] != TPM_RH_LOCKOUT && c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if (p->disable_clear)
        return TPM_RC_DISABLED;
    /* Part 3 §24.6: new SPS, owner/endorsement/lockout auths and policies
     * reset, their objects and the owner's NV indices gone. */
    if (tcrypto_tpm_random(p->sps, sizeof(p->sps)) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    tc_wipe(p->owner_auth, sizeof(p->owner_auth));
    tc_wipe(p->endorsement_auth, sizeof(p->endorsement_auth));
    tc_wipe(p->lockout_auth, sizeof(p->lockout_auth));
    p->owner_auth_len = p->endorsement_auth_len = p->lockout_auth_len = 0;
    memset(p->owner_policy, 0, sizeof(p->owner_policy));
    memset(p->endorsement_policy, 0, sizeof(p->endorsement_policy));
    memset(p->lockout_policy, 0, sizeof(p->lockout_policy));
    p->owner_policy_len = p->endorsement_policy_len = p->lockout_policy_len = 0;
    p->owner_policy_alg = p->endorsement_policy_alg = p->lockout_policy_alg = TPM_ALG_NULL;
    p->failed_tries = 0;
    p->lockout_auth_failed = false;
    for (unsigned i = 0; i < TTPM_MAX_NV; i++)
        if (p->nv[i].used && !(p->nv[i].attrs & TPMA_NV_PLATFORMCREATE))
            tc_wipe(&p->nv[i], sizeof(p->nv[i]));
    for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++)
        if (p->persist[i].used && p->persist[i].hierarchy != TPM_RH_PLATFORM)
            tc_wipe(&p->persist[i], sizeof(p->persist[i]));
    ttpm_persist_sync(t);
    for (unsigned i = 0; i < TTPM_MAX_OBJECTS; i++)
        if (t->obj[i].used && (t->obj[i].hierarchy == TPM_RH_OWNER ||
                               t->obj[i].hierarchy == TPM_RH_ENDORSEMENT))
            ttpm_obj_free(&t->obj[i]);
    t->sh_enable = t->eh_enable = true;
    /* Part 2 TPMS_CLOCK_INFO, Part 3 §24.6: Clock, resetCount and
     * restartCount start again from zero and Safe is YES (Clock is never
     * reported unsafe here); the DA timers follow Clock. Every PCR-based
     * policy is invalidated (pcrUpdateCounter). */
    /* the PCR authValues go back to the Empty Buffer (their policies are the
     * platform's and stay) */
    tc_wipe(t->pcr_auth, sizeof(t->pcr_auth));
    t->pcr_auth_len = 0;
    ttpm_clock_update(t);
    p->clock = 0;
    t->clock_saved = 0;
    p->last_da_decrement = 0;
    p->lockout_fail_clock = 0;
    p->reset_count = 0;
    p->restart_count = 0;
    t->pcr_counter++;
    t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(ClearControl)
{
    uint8_t disable;
    if (c->h[0] != TPM_RH_LOCKOUT && c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if (ttpm_get_u8(&c->in, &disable) != 0 || disable > 1)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* lockoutAuth may only disable (Part 3 §24.7). */
    if (c->h[0] == TPM_RH_LOCKOUT && !disable)
        return TPM_RC_AUTH_FAIL;
    c->t->perm.disable_clear = disable;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(DictionaryAttackLockReset)
{
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (c->h[0] != TPM_RH_LOCKOUT)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    c->t->perm.failed_tries = 0;
    c->t->perm.in_lockout = false;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(DictionaryAttackParameters)
{
    uint32_t mt, rt, lr;
    if (c->h[0] != TPM_RH_LOCKOUT)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if (ttpm_get_u32(&c->in, &mt) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (ttpm_get_u32(&c->in, &rt) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(2);
    if (ttpm_get_u32(&c->in, &lr) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    ttpm_perm *p = &c->t->perm;
    p->max_tries = mt;
    p->recovery_time = rt;
    p->lockout_recovery = lr;
    if (p->failed_tries > mt)
        p->failed_tries = mt;
    p->last_da_decrement = p->clock;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

/* ChangeEPS / ChangePPS (Part 3 §24.4, §24.5): a new seed; objects of the
 * hierarchy (loaded and persistent) become unusable and are removed. */
static ttpm_rc change_seed(ttpm_cmd *c, uint8_t *seed, uint32_t hier)
{
    ttpm *t = c->t;
    if (c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if (tcrypto_tpm_random(seed, TTPM_SEED_SIZE) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++)
        if (t->perm.persist[i].used && t->perm.persist[i].hierarchy == hier)
            tc_wipe(&t->perm.persist[i], sizeof(t->perm.persist[i]));
    ttpm_persist_sync(t);
    for (unsigned i = 0; i < TTPM_MAX_OBJECTS; i++)
        if (t->obj[i].used && t->obj[i].hierarchy == hier)
            ttpm_obj_free(&t->obj[i]);
    t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(ChangeEPS)
{
    ttpm_perm *p = &c->t->perm;
    ttpm_rc rc = change_seed(c, p->eps, TPM_RH_ENDORSEMENT);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (rc == TPM_RC_SUCCESS) {
        tc_wipe(p->endorsement_auth, sizeof(p->endorsement_auth));
        p->endorsement_auth_len = 0;
        memset(p->endorsement_policy, 0, sizeof(p->endorsement_policy));
        p->endorsement_policy_len = 0;
        p->endorsement_policy_alg = TPM_ALG_NULL;
    }
    return rc;
}

TTPM_HANDLER(ChangePPS)
{
    ttpm_perm *p = &c->t->perm;
    ttpm_rc rc = change_seed(c, p->pps, TPM_RH_PLATFORM);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (rc == TPM_RC_SUCCESS) {
        memset(p->platform_policy, 0, sizeof(p->platform_policy));
        p->platform_policy_len = 0;
        p->platform_policy_alg = TPM_ALG_NULL;
    }
    return rc;
}
