/*
 * PCRs (Part 3 §22) and hashing: Hash, HMAC and the sequences (Part 3 §15, §17).
 */
#include <string.h>

#include "tpm/ttpm.h"

#define TPM_GENERATED_VALUE 0xFF544347u

static bool bank_on(ttpm *t, int b)
{
    return b >= 0 && (t->perm.pcr_banks & (1u << b));
}

static ttpm_rc extend(ttpm *t, uint32_t pcr, int bank, const uint8_t *d)
{
    uint16_t alg = ttpm_bank_alg(bank);
    size_t hs = tcrypto_tpm_hash_size(alg);
    tcrypto_tpm_iov v[2] = { { t->pcr[bank][pcr], hs }, { d, hs } };
    uint8_t out[TTPM_MAX_DIGEST];
    if (tcrypto_tpm_hash(alg, v, 2, out) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    memcpy(t->pcr[bank][pcr], out, hs);
    return TPM_RC_SUCCESS;
}

static ttpm_rc check_pcr_handle(uint32_t h)
{
    if (h == TPM_RH_NULL || h < TTPM_NUM_PCRS)
        return TPM_RC_SUCCESS;
    return TPM_RC_VALUE | TTPM_RC_H(1);
}

TTPM_HANDLER(PCR_Read)
{
    ttpm *t = c->t;
    ttpm_pcr_sel in, out;
    ttpm_rc rc = ttpm_get_pcr_sel(&c->in, &in);
    if (rc)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    memset(&out, 0, sizeof(out));
    tc_buf digests;
    tc_buf_init(&digests);
    unsigned nd = 0;
    for (unsigned i = 0; i < in.count; i++) {
        int b = ttpm_bank_index(in.sel[i].hash);
        out.sel[out.count].hash = in.sel[i].hash;
        out.sel[out.count].size = in.sel[i].size;
        if (bank_on(t, b)) {
            for (uint32_t p = 0; p < TTPM_NUM_PCRS && p < 8u * in.sel[i].size; p++) {
                if (!(in.sel[i].bits[p / 8] & (1u << (p % 8))))
                    continue;
                if (nd == 8)
                    break;
                size_t hs = tcrypto_tpm_hash_size(in.sel[i].hash);
                ttpm_put_2b(&digests, t->pcr[b][p], (uint16_t)hs);
                out.sel[out.count].bits[p / 8] |= (uint8_t)(1u << (p % 8));
                nd++;
            }
        }
        out.count++;
    }
    tc_buf_put_u32(c->out, t->pcr_counter);
    ttpm_put_pcr_sel(c->out, &out);
    tc_buf_put_u32(c->out, nd);
    tc_buf_put(c->out, digests.p, digests.len);
    rc = digests.failed ? TPM_RC_MEMORY : TPM_RC_SUCCESS;
    tc_buf_free(&digests);
    return rc;
}

TTPM_HANDLER(PCR_Extend)
{
    ttpm *t = c->t;
    ttpm_rc rc = check_pcr_handle(c->h[0]);
    if (rc)
        return rc;
    uint32_t count;
    if (ttpm_get_u32(&c->in, &count) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (count > 8)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    uint16_t algs[8];
    const uint8_t *ds[8];
    for (uint32_t i = 0; i < count; i++) {
        if (ttpm_get_u16(&c->in, &algs[i]) != 0)
            return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
        size_t hs = tcrypto_tpm_hash_size(algs[i]);
        if (hs == 0)
            return TPM_RC_HASH | TTPM_RC_P(1);
        if (!tc_read_ref(&c->in, hs, &ds[i]))
            return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    }
    if (tc_reader_left(&c->in))
        return TPM_RC_SIZE | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (c->h[0] == TPM_RH_NULL)
        return TPM_RC_SUCCESS;
    for (uint32_t i = 0; i < count; i++) {
        int b = ttpm_bank_index(algs[i]);
        if (!bank_on(t, b))
            continue;
        if ((rc = extend(t, c->h[0], b, ds[i])) != 0)
            return rc;
    }
    t->pcr_counter++;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PCR_Event)
{
    ttpm *t = c->t;
    ttpm_rc rc = check_pcr_handle(c->h[0]);
    if (rc)
        return rc;
    ttpm_ref ev;
    if ((rc = ttpm_get_2b(&c->in, 1024, &ev)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint8_t d[TTPM_NUM_BANKS][TTPM_MAX_DIGEST];
    uint32_t n = 0;
    for (int b = 0; b < TTPM_NUM_BANKS; b++)
        n += bank_on(t, b);
    tc_buf_put_u32(c->out, n);
    for (int b = 0; b < TTPM_NUM_BANKS; b++) {
        if (!bank_on(t, b))
            continue;
        uint16_t alg = ttpm_bank_alg(b);
        tcrypto_tpm_iov v = { ev.b, ev.size };
        if (tcrypto_tpm_hash(alg, &v, 1, d[b]) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        tc_buf_put_u16(c->out, alg);
        tc_buf_put(c->out, d[b], tcrypto_tpm_hash_size(alg));
    }
    if (c->h[0] != TPM_RH_NULL) {
        for (int b = 0; b < TTPM_NUM_BANKS; b++)
            if (bank_on(t, b) && (rc = extend(t, c->h[0], b, d[b])) != 0)
                return rc;
        t->pcr_counter++;
    }
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PCR_Reset)
{
    ttpm *t = c->t;
    uint32_t h = c->h[0];
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (h >= TTPM_NUM_PCRS)
        return TPM_RC_VALUE | TTPM_RC_H(1);
    /* PC Client profile: PCR 16 and 23 are resettable from locality 0;
     * PCR 17..22 need the DRTM localities. */
    if (h != 16 && h != 23) {
        if (h < 17 || h > 22 || t->locality < 2)
            return TPM_RC_LOCALITY;
    }
    for (int b = 0; b < TTPM_NUM_BANKS; b++)
        memset(t->pcr[b][h], 0, TTPM_MAX_DIGEST);
    t->pcr_counter++;
    return TPM_RC_SUCCESS;
}

/* Part 3, TPM2_PCR_SetAuthPolicy: the platform sets the authPolicy of a PCR policy group;
 * hashAlg NULL with an empty digest removes it. */
TTPM_HANDLER(PCR_SetAuthPolicy)
{
    ttpm_perm *p = &c->t->perm;
    ttpm_ref pol;
    uint16_t alg;
    uint32_t pcr;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &pol)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &alg)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u32(&c->in, &pcr)) != 0)
        return ttpm_rc_param(rc, 3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if ((rc = ttpm_check_hash(alg, true)) != 0)
        return ttpm_rc_param(rc, 2);
    if (pol.size != tcrypto_tpm_hash_size(alg))
        return TPM_RC_SIZE | TTPM_RC_P(1);
    if (pcr >= TTPM_NUM_PCRS || !ttpm_pcr_in_auth_group(pcr))
        return TPM_RC_VALUE | TTPM_RC_P(3);
    memset(p->pcr_policy, 0, sizeof(p->pcr_policy));
    memcpy(p->pcr_policy, pol.b, pol.size);
    p->pcr_policy_len = pol.size;
    p->pcr_policy_alg = alg;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

/* Part 3, TPM2_PCR_SetAuthValue: the authValue of a PCR authorization group, kept until the
 * next Startup(CLEAR). */
TTPM_HANDLER(PCR_SetAuthValue)
{
    ttpm *t = c->t;
    ttpm_ref auth;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &auth)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (c->h[0] >= TTPM_NUM_PCRS || !ttpm_pcr_in_auth_group(c->h[0]))
        return TPM_RC_VALUE | TTPM_RC_H(1);
    tc_wipe(t->pcr_auth, sizeof(t->pcr_auth));
    memcpy(t->pcr_auth, auth.b, auth.size);
    t->pcr_auth_len = auth.size;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PCR_Allocate)
{
    ttpm *t = c->t;
    if (c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    ttpm_pcr_sel s;
    ttpm_rc rc = ttpm_get_pcr_sel(&c->in, &s);
    if (rc)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint8_t banks = t->perm.pcr_banks;
    for (unsigned i = 0; i < s.count; i++) {
        int b = ttpm_bank_index(s.sel[i].hash);
        if (b < 0)
            return TPM_RC_HASH | TTPM_RC_P(1);
        bool any = false;
        for (unsigned k = 0; k < s.sel[i].size; k++)
            any |= s.sel[i].bits[k] != 0;
        if (any)
            banks |= (uint8_t)(1u << b);
        else
            banks &= (uint8_t)~(1u << b);
    }
    /* Takes effect at the next TPM Reset (Part 3 §22.5); kept in NV now. */
    t->perm.pcr_banks = banks;
    t->dirty = true;
    tc_buf_put_u8(c->out, 1);
    tc_buf_put_u32(c->out, TTPM_NUM_PCRS);
    tc_buf_put_u32(c->out, 0);
    tc_buf_put_u32(c->out, 0);
    return TPM_RC_SUCCESS;
}

/* TPMT_TK_HASHCHECK for a digest of data (Part 3 §15.4): a NULL ticket when
 * the data could be a TPM-generated structure or the hierarchy is NULL. */
static ttpm_rc hashcheck_ticket(ttpm_cmd *c, uint32_t hierarchy, const uint8_t *data,
                                size_t dlen, const uint8_t *digest, size_t hs)
{
    tc_buf_put_u16(c->out, TPM_ST_HASHCHECK);
    if (hierarchy == TPM_RH_NULL || (dlen >= 4 && tc_load_u32(data) == TPM_GENERATED_VALUE)) {
        tc_buf_put_u32(c->out, TPM_RH_NULL);
        ttpm_put_2b(c->out, NULL, 0);
        return TPM_RC_SUCCESS;
    }
    uint8_t tk[32];
    tcrypto_tpm_iov v = { digest, hs };
    ttpm_rc rc = ttpm_ticket(c->t, TPM_ST_HASHCHECK, hierarchy, &v, 1, tk);
    if (rc)
        return rc;
    tc_buf_put_u32(c->out, hierarchy);
    ttpm_put_2b(c->out, tk, 32);
    return TPM_RC_SUCCESS;
}

static ttpm_rc check_hierarchy(ttpm *t, uint32_t h, unsigned param)
{
    if (h != TPM_RH_OWNER && h != TPM_RH_ENDORSEMENT && h != TPM_RH_PLATFORM && h != TPM_RH_NULL)
        return TPM_RC_VALUE | TTPM_RC_P(param);
    if (!ttpm_hierarchy_enabled(t, h))
        return TPM_RC_HIERARCHY | TTPM_RC_P(param);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(Hash)
{
    ttpm_ref data;
    uint16_t alg;
    uint32_t hier;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, 1024, &data)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &alg)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_check_hash(alg, false)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u32(&c->in, &hier)) != 0)
        return ttpm_rc_param(rc, 3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = check_hierarchy(c->t, hier, 3)) != 0)
        return rc;
    uint8_t d[TTPM_MAX_DIGEST];
    size_t hs = tcrypto_tpm_hash_size(alg);
    tcrypto_tpm_iov v = { data.b, data.size };
    if (tcrypto_tpm_hash(alg, &v, 1, d) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_put_2b(c->out, d, (uint16_t)hs);
    return hashcheck_ticket(c, hier, data.b, data.size, d, hs);
}

/* The HMAC key object: keyedhash, sign, not restricted (Part 3 §15.5). */
static ttpm_rc hmac_key(ttpm_cmd *c, uint16_t *alg, ttpm_object **out)
{
    ttpm_object *o = ttpm_obj_get(c->t, c->h[0]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY || o->pub.type != TPM_ALG_KEYEDHASH)
        return TPM_RC_TYPE | TTPM_RC_H(1);
    if (!(o->pub.attrs & TPMA_OBJECT_SIGN) || (o->pub.attrs & TPMA_OBJECT_RESTRICTED))
        return TPM_RC_KEY | TTPM_RC_H(1);
    if (*alg == TPM_ALG_NULL) {
        if (o->pub.scheme != TPM_ALG_HMAC)
            return TPM_RC_SCHEME | TTPM_RC_P(2);
        *alg = o->pub.scheme_hash;
    } else if (o->pub.scheme == TPM_ALG_HMAC && o->pub.scheme_hash != *alg) {
        return TPM_RC_VALUE | TTPM_RC_P(2);
    }
    *out = o;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(HMAC)
{
    ttpm_ref data;
    uint16_t alg;
    ttpm_rc rc;
    ttpm_object *o;
    if ((rc = ttpm_get_2b(&c->in, 1024, &data)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &alg)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = ttpm_check_hash(alg, true)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = hmac_key(c, &alg, &o)) != 0)
        return rc;
    uint8_t d[TTPM_MAX_DIGEST];
    tcrypto_tpm_iov v = { data.b, data.size };
    if (tcrypto_tpm_hmac(alg, o->sens.sens, o->sens.sens_len, &v, 1, d) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_put_2b(c->out, d, (uint16_t)tcrypto_tpm_hash_size(alg));
    return TPM_RC_SUCCESS;
}

static ttpm_rc seq_start(ttpm_cmd *c, uint8_t kind, uint16_t alg, const ttpm_ref *auth,
                         const uint8_t *key, size_t keylen)
{
    ttpm_object *o = ttpm_obj_alloc(c->t);
    if (o == NULL)
        return TPM_RC_OBJECT_MEMORY;
    o->kind = kind;
    o->has_sens = true;
    o->seq_hash = alg;
    o->pub.name_alg = TPM_ALG_NULL;
    o->pub.attrs = TPMA_OBJECT_USERWITHAUTH;
    o->hierarchy = TPM_RH_NULL;
    memcpy(o->sens.auth, auth->b, auth->size);
    o->sens.auth_len = auth->size;
    tcrypto_rc cr = TCRYPTO_OK;
    if (kind == TTPM_OBJ_EVENT_SEQ) {
        for (int b = 0; b < TTPM_NUM_BANKS && cr == TCRYPTO_OK; b++)
            cr = tcrypto_tpm_md_new_saveable(ttpm_bank_alg(b), NULL, 0, &o->md[b]);
    } else {
        cr = tcrypto_tpm_md_new_saveable(alg, key, keylen, &o->md[0]);
    }
    if (cr != TCRYPTO_OK || ttpm_obj_set_name(o) != TPM_RC_SUCCESS) {
        ttpm_obj_free(o);
        return TPM_RC_FAILURE;
    }
    c->has_out_handle = true;
    c->out_handle = o->handle;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(HashSequenceStart)
{
    ttpm_ref auth;
    uint16_t alg;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &auth)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &alg)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = ttpm_check_hash(alg, true)) != 0)
        return ttpm_rc_param(rc, 2);
    return seq_start(c, alg == TPM_ALG_NULL ? TTPM_OBJ_EVENT_SEQ : TTPM_OBJ_HASH_SEQ, alg, &auth,
                     NULL, 0);
}

TTPM_HANDLER(HMAC_Start)
{
    ttpm_ref auth;
    uint16_t alg;
    ttpm_rc rc;
    ttpm_object *o;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &auth)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &alg)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = ttpm_check_hash(alg, true)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = hmac_key(c, &alg, &o)) != 0)
        return rc;
    uint8_t key[TTPM_MAX_SENS];
    uint16_t kl = o->sens.sens_len;
    memcpy(key, o->sens.sens, kl);
    rc = seq_start(c, TTPM_OBJ_HMAC_SEQ, alg, &auth, key, kl);
    tc_wipe(key, sizeof(key));
    return rc;
}

static ttpm_object *get_seq(ttpm_cmd *c, uint32_t h)
{
    ttpm_object *o = ttpm_obj_get(c->t, h);
    if (o == NULL || o->kind == TTPM_OBJ_KEY)
        return NULL;
    return o;
}

static ttpm_rc seq_update(ttpm_object *o, const ttpm_ref *data)
{
    for (int b = 0; b < TTPM_NUM_BANKS; b++)
        if (o->md[b] && tcrypto_tpm_md_update(o->md[b], data->b, data->size) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(SequenceUpdate)
{
    ttpm_object *o = get_seq(c, c->h[0]);
    if (o == NULL)
        return TPM_RC_MODE | TTPM_RC_H(1);
    ttpm_ref data;
    ttpm_rc rc = ttpm_get_2b(&c->in, 1024, &data);
    if (rc)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    return seq_update(o, &data);
}

TTPM_HANDLER(SequenceComplete)
{
    ttpm_object *o = get_seq(c, c->h[0]);
    if (o == NULL || o->kind == TTPM_OBJ_EVENT_SEQ)
        return TPM_RC_MODE | TTPM_RC_H(1);
    ttpm_ref data;
    uint32_t hier;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, 1024, &data)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u32(&c->in, &hier)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = check_hierarchy(c->t, hier, 2)) != 0)
        return rc;
    if ((rc = seq_update(o, &data)) != 0)
        return rc;
    uint8_t d[TTPM_MAX_DIGEST];
    size_t hs = tcrypto_tpm_hash_size(o->seq_hash);
    if (tcrypto_tpm_md_final(o->md[0], d) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_put_2b(c->out, d, (uint16_t)hs);
    if (o->kind == TTPM_OBJ_HMAC_SEQ) {
        tc_buf_put_u16(c->out, TPM_ST_HASHCHECK);
        tc_buf_put_u32(c->out, TPM_RH_NULL);
        ttpm_put_2b(c->out, NULL, 0);
    } else {
        /* The first bytes of the whole sequence are not kept, so a ticket is
         * only given for non-NULL hierarchies as for Hash. */
        if ((rc = hashcheck_ticket(c, hier, data.b, 0, d, hs)) != 0)
            return rc;
    }
    ttpm_obj_free(o);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(EventSequenceComplete)
{
    ttpm *t = c->t;
    ttpm_rc rc = check_pcr_handle(c->h[0]);
    if (rc)
        return rc;
    ttpm_object *o = get_seq(c, c->h[1]);
    if (o == NULL || o->kind != TTPM_OBJ_EVENT_SEQ)
        return TPM_RC_MODE | TTPM_RC_H(2);
    ttpm_ref data;
    if ((rc = ttpm_get_2b(&c->in, 1024, &data)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = seq_update(o, &data)) != 0)
        return rc;
    uint8_t d[TTPM_NUM_BANKS][TTPM_MAX_DIGEST];
    uint32_t n = 0;
    for (int b = 0; b < TTPM_NUM_BANKS; b++) {
        if (tcrypto_tpm_md_final(o->md[b], d[b]) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        n += bank_on(t, b);
    }
    tc_buf_put_u32(c->out, n);
    for (int b = 0; b < TTPM_NUM_BANKS; b++) {
        if (!bank_on(t, b))
            continue;
        tc_buf_put_u16(c->out, ttpm_bank_alg(b));
        tc_buf_put(c->out, d[b], tcrypto_tpm_hash_size(ttpm_bank_alg(b)));
        if (c->h[0] != TPM_RH_NULL && (rc = extend(t, c->h[0], b, d[b])) != 0)
            return rc;
    }
    if (c->h[0] != TPM_RH_NULL)
        t->pcr_counter++;
    ttpm_obj_free(o);
    return TPM_RC_SUCCESS;
}
