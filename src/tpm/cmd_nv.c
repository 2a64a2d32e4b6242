/*
 * NV indices (Part 3 §31): DefineSpace, UndefineSpace(Special), ReadPublic,
 * Write, Read, Increment, Extend, SetBits, WriteLock, ReadLock, ChangeAuth.
 * Every change marks the permanent state dirty; dispatch commits it once.
 */
#include <string.h>

#include "tpm/ttpm.h"

static ttpm_nv *nv_get(ttpm *t, uint32_t h)
{
    for (unsigned k = 0; k < TTPM_MAX_NV; k++)
        if (t->perm.nv[k].used && t->perm.nv[k].index == h)
            return &t->perm.nv[k];
    return NULL;
}

static unsigned nv_type(const ttpm_nv *nv)
{
    return (nv->attrs & TPMA_NV_TPM_NT_MASK) >> 4;
}

static bool nv_is_pin(const ttpm_nv *nv)
{
    return nv_type(nv) == TPM_NT_PIN_PASS || nv_type(nv) == TPM_NT_PIN_FAIL;
}

/* PIN indices (Part 1, PIN Pass and PIN Fail Indices): the data is
 * TPMS_NV_PIN_COUNTER_PARAMETERS, pinCount then pinLimit, big-endian. */
bool ttpm_nv_pin_index(ttpm *t, uint32_t h)
{
    const ttpm_nv *nv = ttpm_handle_type(h) == TPM_HT_NV_INDEX ? nv_get(t, h) : NULL;
    return nv != NULL && nv_is_pin(nv);
}

bool ttpm_nv_pin_pass_index(ttpm *t, uint32_t h)
{
    const ttpm_nv *nv = ttpm_handle_type(h) == TPM_HT_NV_INDEX ? nv_get(t, h) : NULL;
    return nv != NULL && nv_type(nv) == TPM_NT_PIN_PASS;
}

ttpm_rc ttpm_nv_pin_available(ttpm *t, uint32_t h)
{
    const ttpm_nv *nv = nv_get(t, h);
    if (nv == NULL || !nv_is_pin(nv))
        return TPM_RC_SUCCESS;
    if (!(nv->attrs & TPMA_NV_WRITTEN) || tc_load_u32(nv->data) >= tc_load_u32(nv->data + 4))
        return TPM_RC_AUTH_UNAVAILABLE;
    return TPM_RC_SUCCESS;
}

void ttpm_nv_pin_record(ttpm *t, uint32_t h, bool ok)
{
    ttpm_nv *nv = nv_get(t, h);
    if (nv == NULL || !nv_is_pin(nv) || !(nv->attrs & TPMA_NV_WRITTEN))
        return;
    uint32_t count = tc_load_u32(nv->data);
    if (nv_type(nv) == TPM_NT_PIN_FAIL)
        count = ok ? 0 : (count == UINT32_MAX ? count : count + 1);
    else if (ok && count != UINT32_MAX)
        count++;
    else
        return;
    tc_store_u32(nv->data, count);
    t->dirty = true;
}

static void put_nv_public(tc_buf *b, const ttpm_nv *nv)
{
    size_t at = b->len;
    tc_buf_put_u16(b, 0);
    tc_buf_put_u32(b, nv->index);
    tc_buf_put_u16(b, nv->name_alg);
    tc_buf_put_u32(b, nv->attrs);
    ttpm_put_2b(b, nv->policy, nv->policy_len);
    tc_buf_put_u16(b, nv->size);
    if (!b->failed)
        tc_store_u16(b->p + at, (uint16_t)(b->len - at - 2));
}

/* Part 3 §31.3.1: who may read or write through the authHandle at handle
 * index ai (authorised by session ai). */
static ttpm_rc nv_access_at(ttpm_cmd *c, unsigned ai, const ttpm_nv *nv, bool write)
{
    uint32_t ah = c->h[ai];
    bool policy = c->na > ai && c->auth[ai].s != NULL && c->auth[ai].s->type != TPM_SE_HMAC;
    uint32_t need;
    if (ah == TPM_RH_OWNER)
        need = write ? TPMA_NV_OWNERWRITE : TPMA_NV_OWNERREAD;
    else if (ah == TPM_RH_PLATFORM)
        need = write ? TPMA_NV_PPWRITE : TPMA_NV_PPREAD;
    else if (ah == nv->index)
        need = policy ? (write ? TPMA_NV_POLICYWRITE : TPMA_NV_POLICYREAD)
                      : (write ? TPMA_NV_AUTHWRITE : TPMA_NV_AUTHREAD);
    else
        return TPM_RC_NV_AUTHORIZATION;
    if (!(nv->attrs & need))
        return TPM_RC_NV_AUTHORIZATION;
    if (write && (nv->attrs & TPMA_NV_WRITELOCKED))
        return TPM_RC_NV_LOCKED;
    if (write && (nv->attrs & TPMA_NV_GLOBALLOCK) && c->t->global_lock)
        return TPM_RC_NV_LOCKED;
    if (!write && (nv->attrs & TPMA_NV_READLOCKED))
        return TPM_RC_NV_LOCKED;
    return TPM_RC_SUCCESS;
}

static ttpm_rc nv_access(ttpm_cmd *c, const ttpm_nv *nv, bool write)
{
    return nv_access_at(c, 0, nv, write);
}

TTPM_HANDLER(NV_DefineSpace)
{
    ttpm *t = c->t;
    ttpm_ref auth, pub;
    ttpm_rc rc;
    uint32_t ah = c->h[0];
    if (ah != TPM_RH_OWNER && ah != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &auth)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, 0xFFFF, &pub)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (pub.size == 0)
        return TPM_RC_SIZE | TTPM_RC_P(2);
    ttpm_nv nv;
    memset(&nv, 0, sizeof(nv));
    tc_reader r;
    tc_reader_init(&r, pub.b, pub.size);
    if (ttpm_get_u32(&r, &nv.index) || ttpm_get_u16(&r, &nv.name_alg) ||
        ttpm_get_u32(&r, &nv.attrs) ||
        ttpm_get_2b_copy(&r, nv.policy, TTPM_MAX_DIGEST, &nv.policy_len) ||
        ttpm_get_u16(&r, &nv.size) || tc_reader_left(&r))
        return TPM_RC_SIZE | TTPM_RC_P(2);
    if (ttpm_handle_type(nv.index) != TPM_HT_NV_INDEX)
        return TPM_RC_HANDLE | TTPM_RC_P(2);
    if ((rc = ttpm_check_hash(nv.name_alg, false)) != 0)
        return rc | TTPM_RC_P(2);
    size_t hs = tcrypto_tpm_hash_size(nv.name_alg);
    if (auth.size > hs)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    if (nv.policy_len != 0 && nv.policy_len != hs)
        return TPM_RC_SIZE | TTPM_RC_P(2);
    uint32_t a = nv.attrs;
    /* Part 3 §31.3.1 attribute rules */
    if (a & (TPMA_NV_WRITTEN | TPMA_NV_READLOCKED | TPMA_NV_WRITELOCKED))
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    if (!(a & (TPMA_NV_PPWRITE | TPMA_NV_OWNERWRITE | TPMA_NV_AUTHWRITE | TPMA_NV_POLICYWRITE)) ||
        !(a & (TPMA_NV_PPREAD | TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD | TPMA_NV_POLICYREAD)))
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    if (((a & TPMA_NV_PLATFORMCREATE) != 0) != (ah == TPM_RH_PLATFORM))
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    if ((a & TPMA_NV_POLICY_DELETE) && ah != TPM_RH_PLATFORM)
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    unsigned type = (a & TPMA_NV_TPM_NT_MASK) >> 4;
    switch (type) {
    case TPM_NT_ORDINARY:
        if (nv.size > TTPM_NV_MAX_SIZE)
            return TPM_RC_SIZE | TTPM_RC_P(2);
        break;
    case TPM_NT_COUNTER:
    case TPM_NT_BITS:
        if (nv.size != 8)
            return TPM_RC_SIZE | TTPM_RC_P(2);
        if (type == TPM_NT_COUNTER && (a & TPMA_NV_CLEAR_STCLEAR))
            return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
        break;
    case TPM_NT_EXTEND:
        if (nv.size != hs)
            return TPM_RC_SIZE | TTPM_RC_P(2);
        break;
    case TPM_NT_PIN_FAIL:
    case TPM_NT_PIN_PASS:
        /* The authValue of a PIN index is usable only once the index holds
         * its pinCount/pinLimit, so it cannot be what writes it (no
         * AUTHWRITE), nor can a global lock or WRITEDEFINE freeze that
         * state; a PIN Fail index counts failures itself and is not under
         * dictionary-attack protection (Part 2 TPMA_NV, TPM_NT). */
        if (nv.size != 8)
            return TPM_RC_SIZE | TTPM_RC_P(2);
        if (a & (TPMA_NV_AUTHWRITE | TPMA_NV_GLOBALLOCK | TPMA_NV_WRITEDEFINE))
            return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
        if (type == TPM_NT_PIN_FAIL && !(a & TPMA_NV_NO_DA))
            return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
        break;
    default:
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    }
    if (nv_get(t, nv.index))
        return TPM_RC_NV_DEFINED;
    ttpm_nv *slot = NULL;
    for (unsigned k = 0; k < TTPM_MAX_NV; k++)
        if (!t->perm.nv[k].used) {
            slot = &t->perm.nv[k];
            break;
        }
    if (slot == NULL)
        return TPM_RC_NV_SPACE;
    memcpy(nv.auth, auth.b, auth.size);
    nv.auth_len = auth.size;
    nv.used = true;
    *slot = nv;
    t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_UndefineSpace)
{
    ttpm *t = c->t;
    bool special = c->cc == 0x11F;
    uint32_t ah = special ? c->h[1] : c->h[0];
    uint32_t ih = special ? c->h[0] : c->h[1];
    ttpm_nv *nv = nv_get(t, ih);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(special ? 1 : 2);
    if (special) {
        /* needs POLICY_DELETE and a policy session for the index (ADMIN) */
        if (!(nv->attrs & TPMA_NV_POLICY_DELETE))
            return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
        if (c->auth[0].s == NULL || c->auth[0].s->type == TPM_SE_HMAC)
            return TPM_RC_AUTH_TYPE | TTPM_RC_S(1);
        if (ah != TPM_RH_PLATFORM)
            return TPM_RC_HIERARCHY | TTPM_RC_H(2);
    } else {
        if (ah != TPM_RH_OWNER && ah != TPM_RH_PLATFORM)
            return TPM_RC_HIERARCHY | TTPM_RC_H(1);
        if (nv->attrs & TPMA_NV_POLICY_DELETE)
            return TPM_RC_ATTRIBUTES | TTPM_RC_H(2);
        if ((nv->attrs & TPMA_NV_PLATFORMCREATE) && ah != TPM_RH_PLATFORM)
            return TPM_RC_NV_AUTHORIZATION;
    }
    tc_wipe(nv, sizeof(*nv));
    t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_ReadPublic)
{
    ttpm_nv *nv = nv_get(c->t, c->h[0]);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(1);
    uint8_t name[2 + TTPM_MAX_DIGEST];
    uint16_t nl;
    ttpm_rc rc = ttpm_entity_name(c->t, nv->index, name, &nl);
    if (rc)
        return rc;
    put_nv_public(c->out, nv);
    ttpm_put_2b(c->out, name, nl);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_Write)
{
    ttpm_ref data;
    uint16_t off;
    ttpm_rc rc;
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    if ((rc = ttpm_get_2b(&c->in, 1024, &data)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &off)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = nv_access(c, nv, true)) != 0)
        return rc;
    if (nv_type(nv) != TPM_NT_ORDINARY && !nv_is_pin(nv))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(2);
    if ((uint32_t)off + data.size > nv->size)
        return TPM_RC_NV_RANGE;
    if ((nv->attrs & TPMA_NV_WRITEALL) && (off != 0 || data.size != nv->size))
        return TPM_RC_NV_RANGE;
    memcpy(nv->data + off, data.b, data.size);
    nv->attrs |= TPMA_NV_WRITTEN;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_Read)
{
    uint16_t size, off;
    ttpm_rc rc;
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    if ((rc = ttpm_get_u16(&c->in, &size)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &off)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = nv_access(c, nv, false)) != 0)
        return rc;
    if (!(nv->attrs & TPMA_NV_WRITTEN))
        return TPM_RC_NV_UNINITIALIZED;
    if (size > 1024)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    if ((uint32_t)off + size > nv->size)
        return TPM_RC_NV_RANGE;
    ttpm_put_2b(c->out, nv->data + off, size);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_Increment)
{
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    ttpm_rc rc = nv_access(c, nv, true);
    if (rc)
        return rc;
    if (nv_type(nv) != TPM_NT_COUNTER)
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(2);
    /* A counter's first increment starts from the highest value any counter
     * on this TPM has held, so that a counter deleted and defined again never
     * repeats a value (Part 1, Counter Index; Part 3 §31.8). */
    ttpm_perm *p = &c->t->perm;
    uint64_t v;
    if (nv->attrs & TPMA_NV_WRITTEN) {
        v = tc_load_u64(nv->data);
    } else {
        /* the live counters count too (state written before the high-water
         * mark was kept) */
        v = p->nv_counter_max;
        for (unsigned i = 0; i < TTPM_MAX_NV; i++) {
            const ttpm_nv *o = &p->nv[i];
            if (o->used && nv_type(o) == TPM_NT_COUNTER && (o->attrs & TPMA_NV_WRITTEN) &&
                tc_load_u64(o->data) > v)
                v = tc_load_u64(o->data);
        }
    }
    if (v == UINT64_MAX)
        return TPM_RC_NV_RANGE; /* a counter never wraps */
    tc_store_u64(nv->data, v + 1);
    nv->attrs |= TPMA_NV_WRITTEN;
    if (v + 1 > p->nv_counter_max)
        p->nv_counter_max = v + 1;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_Extend)
{
    ttpm_ref data;
    ttpm_rc rc;
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    if ((rc = ttpm_get_2b(&c->in, 1024, &data)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = nv_access(c, nv, true)) != 0)
        return rc;
    if (nv_type(nv) != TPM_NT_EXTEND)
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(2);
    size_t hs = tcrypto_tpm_hash_size(nv->name_alg);
    uint8_t d[TTPM_MAX_DIGEST];
    if (!(nv->attrs & TPMA_NV_WRITTEN))
        memset(nv->data, 0, hs);
    tcrypto_tpm_iov v[2] = { { nv->data, hs }, { data.b, data.size } };
    if (tcrypto_tpm_hash(nv->name_alg, v, 2, d) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    memcpy(nv->data, d, hs);
    nv->attrs |= TPMA_NV_WRITTEN;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_SetBits)
{
    uint64_t bits;
    ttpm_rc rc;
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    if ((rc = ttpm_get_u64(&c->in, &bits)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = nv_access(c, nv, true)) != 0)
        return rc;
    if (nv_type(nv) != TPM_NT_BITS)
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(2);
    uint64_t v = (nv->attrs & TPMA_NV_WRITTEN) ? tc_load_u64(nv->data) : 0;
    tc_store_u64(nv->data, v | bits);
    nv->attrs |= TPMA_NV_WRITTEN;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_WriteLock)
{
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    if (!(nv->attrs & (TPMA_NV_WRITEDEFINE | TPMA_NV_WRITE_STCLEAR)))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(2);
    ttpm_rc rc = nv_access(c, nv, true);
    if (rc == TPM_RC_NV_LOCKED)
        return TPM_RC_SUCCESS; /* already locked */
    if (rc)
        return rc;
    nv->attrs |= TPMA_NV_WRITELOCKED;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_ReadLock)
{
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    if (!(nv->attrs & TPMA_NV_READ_STCLEAR))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(2);
    ttpm_rc rc = nv_access(c, nv, false);
    if (rc == TPM_RC_NV_LOCKED)
        return TPM_RC_SUCCESS;
    if (rc)
        return rc;
    nv->attrs |= TPMA_NV_READLOCKED;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(NV_ChangeAuth)
{
    ttpm_ref na;
    ttpm_rc rc;
    ttpm_nv *nv = nv_get(c->t, c->h[0]);
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(1);
    /* ADMIN role of an index: policy only (Part 1 §19.7) */
    if (c->auth[0].s == NULL || c->auth[0].s->type == TPM_SE_HMAC)
        return TPM_RC_AUTH_TYPE | TTPM_RC_S(1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &na)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (na.size > tcrypto_tpm_hash_size(nv->name_alg))
        return TPM_RC_SIZE | TTPM_RC_P(1);
    memcpy(nv->auth, na.b, na.size);
    nv->auth_len = na.size;
    c->t->dirty = true;
    return TPM_RC_SUCCESS;
}

/* PolicyNV (Part 3 §23.9): compare NV contents with operandB. */
bool ttpm_policy_compare(uint16_t operation, const uint8_t *a, const uint8_t *b, size_t n)
{
    int ucmp = n > 0 ? memcmp(a, b, n) : 0;
    /* Signed operands are two's-complement integers (Part 2 TPM_EO): when the
     * signs differ the negative one is smaller, otherwise the unsigned order
     * is the signed order. Earlier reference code reversed the order of two
     * negative operands; docs/tpm.md records why the spec is followed. */
    int scmp = ucmp;
    if (n > 0 && ((a[0] ^ b[0]) & 0x80))
        scmp = (a[0] & 0x80) ? -1 : 1;
    bool ok = true;
    switch (operation) {
    case 0: return ucmp == 0;   /* TPM_EO_EQ */
    case 1: return ucmp != 0;   /* TPM_EO_NEQ */
    case 2: return scmp > 0;    /* TPM_EO_SIGNED_GT */
    case 3: return ucmp > 0;    /* TPM_EO_UNSIGNED_GT */
    case 4: return scmp < 0;    /* TPM_EO_SIGNED_LT */
    case 5: return ucmp < 0;    /* TPM_EO_UNSIGNED_LT */
    case 6: return scmp >= 0;   /* TPM_EO_SIGNED_GE */
    case 7: return ucmp >= 0;   /* TPM_EO_UNSIGNED_GE */
    case 8: return scmp <= 0;   /* TPM_EO_SIGNED_LE */
    case 9: return ucmp <= 0;   /* TPM_EO_UNSIGNED_LE */
    case 10:                    /* TPM_EO_BITSET: all bits of B set in A */
        for (size_t i = 0; i < n; i++)
            ok &= (a[i] & b[i]) == b[i];
        return ok;
    default:                    /* TPM_EO_BITCLEAR: all bits of B clear in A */
        for (size_t i = 0; i < n; i++)
            ok &= (a[i] & b[i]) == 0;
        return ok;
    }
}

TTPM_HANDLER(PolicyNV)
{
    ttpm_ref op;
    uint16_t off, operation;
    ttpm_rc rc;
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    ttpm_session *s = ttpm_sess_get(c->t, c->h[2]);
    if (s == NULL || s->type == TPM_SE_HMAC)
        return TPM_RC_AUTH_TYPE | TTPM_RC_H(3);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &op)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_u16(&c->in, &off)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u16(&c->in, &operation)) != 0)
        return ttpm_rc_param(rc, 3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (operation > 11)
        return TPM_RC_VALUE | TTPM_RC_P(3);
    if (!s->is_trial) {
        if ((rc = nv_access(c, nv, false)) != 0)
            return rc;
        if (!(nv->attrs & TPMA_NV_WRITTEN))
            return TPM_RC_NV_UNINITIALIZED;
        if ((uint32_t)off + op.size > nv->size)
            return TPM_RC_NV_RANGE;
        if (!ttpm_policy_compare(operation, nv->data + off, op.b, op.size))
            return TPM_RC_POLICY;
    }
    /* args = H(operandB || offset || operation); policy extended with the
     * index name */
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    uint8_t tail[4], args[TTPM_MAX_DIGEST], name[2 + TTPM_MAX_DIGEST];
    uint16_t nl;
    tc_store_u16(tail, off);
    tc_store_u16(tail + 2, operation);
    tcrypto_tpm_iov v[2] = { { op.b, op.size }, { tail, 4 } };
    if (tcrypto_tpm_hash(s->hash, v, 2, args) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    if ((rc = ttpm_entity_name(c->t, nv->index, name, &nl)) != 0)
        return rc;
    ttpm_policy_update(s, TPM_CC_PolicyNV, args, hs, name, nl);
    return TPM_RC_SUCCESS;
}

/* NV_Certify (Part 3 §31.16): an attestation of NV contents. */
TTPM_HANDLER(NV_Certify)
{
    ttpm_ref extra;
    uint16_t scheme, hash, size, off;
    ttpm_signer sg;
    ttpm_rc rc;
    ttpm_nv *nv = nv_get(c->t, c->h[2]);
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(3);
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, &extra)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_sig_scheme(&c->in, &scheme, &hash)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u16(&c->in, &size)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_u16(&c->in, &off)) != 0)
        return ttpm_rc_param(rc, 4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = nv_access_at(c, 1, nv, false)) != 0)
        return rc;
    if (!(nv->attrs & TPMA_NV_WRITTEN))
        return TPM_RC_NV_UNINITIALIZED;
    if ((uint32_t)off + size > nv->size || size > 1024)
        return TPM_RC_NV_RANGE;
    if ((rc = ttpm_signer_setup(c, 0, scheme, hash, 2, &sg)) != 0)
        return rc;
    uint8_t name[2 + TTPM_MAX_DIGEST];
    uint16_t nl;
    if ((rc = ttpm_entity_name(c->t, nv->index, name, &nl)) != 0)
        return rc;
    tc_buf a;
    tc_buf_init(&a);
    ttpm_attest_header(c, &a, 0x8014 /* TPM_ST_ATTEST_NV */, &sg, &extra);
    ttpm_put_2b(&a, name, nl);
    tc_buf_put_u16(&a, off);
    ttpm_put_2b(&a, nv->data + off, size);
    rc = ttpm_attest_finish(c, &a, &sg);
    tc_buf_free(&a);
    return rc;
}

TTPM_HANDLER(NV_GlobalWriteLock)
{
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (c->h[0] != TPM_RH_OWNER && c->h[0] != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    /* indices with TPMA_NV_GLOBALLOCK are read-only until the next
     * TPM2_Startup (Part 3 §31.6) */
    c->t->global_lock = true;
    return TPM_RC_SUCCESS;
}

/* PolicyAuthorizeNV (Part 3 §23.22): the NV index holds the approved policy
 * as a TPMT_HA. */
TTPM_HANDLER(PolicyAuthorizeNV)
{
    ttpm_rc rc;
    ttpm_nv *nv = nv_get(c->t, c->h[1]);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (nv == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    ttpm_session *s = ttpm_sess_get(c->t, c->h[2]);
    if (s == NULL || s->type == TPM_SE_HMAC)
        return TPM_RC_AUTH_TYPE | TTPM_RC_H(3);
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if (!s->is_trial) {
        if ((rc = nv_access(c, nv, false)) != 0)
            return rc;
        if (!(nv->attrs & TPMA_NV_WRITTEN))
            return TPM_RC_NV_UNINITIALIZED;
        if (nv_type(nv) != TPM_NT_ORDINARY || nv->size < 2 + hs)
            return TPM_RC_HANDLE | TTPM_RC_H(2);
        if (tc_load_u16(nv->data) != s->hash || memcmp(nv->data + 2, s->policy, hs) != 0)
            return TPM_RC_VALUE;
    }
    uint8_t name[2 + TTPM_MAX_DIGEST];
    uint16_t nl;
    if ((rc = ttpm_entity_name(c->t, nv->index, name, &nl)) != 0)
        return rc;
    memset(s->policy, 0, sizeof(s->policy));
    ttpm_policy_update(s, 0x192, name, nl, NULL, 0);
    return TPM_RC_SUCCESS;
}
