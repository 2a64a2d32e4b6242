/*
 * Command dispatch (Part 3 §5 "Command Processing" and Part 1 §18): header
 * checks, the command table, the handle area, the authorisation area, the
 * call to a pure handler, and the response with its authorisation area.
 * NV state is committed exactly once, after the handler succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "tpm/ttpm.h"

#define E(cc, nh, na, r0, r1, oh, ei, eo, fn) \
    { cc, nh, na, { r0, r1, 0 }, oh, ei, eo, ttpm_cmd_##fn }

/* Sorted by command code (bsearch). handles, auths, roles (0 USER, 1 ADMIN,
 * 2 DUP), response handle, first command / response parameter is a TPM2B
 * that parameter encryption may cover. */
static const ttpm_cmd_info cmd_table[] = {
    E(0x11F, 2, 2, 1, 0, false, false, false, NV_UndefineSpace), /* Special: via same handler */
    E(0x120, 2, 1, 0, 0, false, false, false, EvictControl),
    E(0x121, 1, 1, 0, 0, false, false, false, HierarchyControl),
    E(0x122, 2, 1, 0, 0, false, false, false, NV_UndefineSpace),
    E(0x124, 1, 1, 0, 0, false, false, false, ChangeEPS),
    E(0x125, 1, 1, 0, 0, false, false, false, ChangePPS),
    E(0x126, 1, 1, 0, 0, false, false, false, Clear),
    E(0x127, 1, 1, 0, 0, false, false, false, ClearControl),
    E(0x128, 1, 1, 0, 0, false, false, false, ClockSet),
    E(0x129, 1, 1, 0, 0, false, true, false, HierarchyChangeAuth),
    E(0x12A, 1, 1, 0, 0, false, true, false, NV_DefineSpace),
    E(0x12B, 1, 1, 0, 0, false, false, false, PCR_Allocate),
    E(0x12C, 1, 1, 0, 0, false, true, false, PCR_SetAuthPolicy),
    E(0x12E, 1, 1, 0, 0, false, true, false, SetPrimaryPolicy),
    E(0x130, 1, 1, 0, 0, false, false, false, ClockRateAdjust),
    E(0x131, 1, 1, 0, 0, true, true, true, CreatePrimary),
    E(0x132, 1, 1, 0, 0, false, false, false, NV_GlobalWriteLock),
    E(0x133, 2, 2, 0, 0, false, true, true, GetCommandAuditDigest),
    E(0x134, 2, 1, 0, 0, false, false, false, NV_Increment),
    E(0x135, 2, 1, 0, 0, false, false, false, NV_SetBits),
    E(0x136, 2, 1, 0, 0, false, true, false, NV_Extend),
    E(0x137, 2, 1, 0, 0, false, true, false, NV_Write),
    E(0x138, 2, 1, 0, 0, false, false, false, NV_WriteLock),
    E(0x139, 1, 1, 0, 0, false, false, false, DictionaryAttackLockReset),
    E(0x13A, 1, 1, 0, 0, false, false, false, DictionaryAttackParameters),
    E(0x13B, 1, 1, 1, 0, false, true, false, NV_ChangeAuth),
    E(0x13C, 1, 1, 0, 0, false, true, false, PCR_Event),
    E(0x13D, 1, 1, 0, 0, false, false, false, PCR_Reset),
    E(0x13E, 1, 1, 0, 0, false, true, true, SequenceComplete),
    E(0x140, 1, 1, 0, 0, false, false, false, SetCommandCodeAuditStatus),
    E(0x142, 0, 0, 0, 0, false, false, false, IncrementalSelfTest),
    E(0x143, 0, 0, 0, 0, false, false, false, SelfTest),
    E(0x144, 0, 0, 0, 0, false, false, false, Startup),
    E(0x145, 0, 0, 0, 0, false, false, false, Shutdown),
    E(0x146, 0, 0, 0, 0, false, true, false, StirRandom),
    E(0x147, 2, 2, 1, 0, false, true, true, ActivateCredential),
    E(0x148, 2, 2, 1, 0, false, true, true, Certify),
    E(0x149, 3, 1, 0, 0, false, true, false, PolicyNV),
    E(0x14A, 2, 1, 0, 0, false, true, true, CertifyCreation),
    E(0x14B, 2, 1, 2, 0, false, true, true, Duplicate),
    E(0x14C, 2, 2, 0, 0, false, true, true, GetTime),
    E(0x14D, 3, 2, 0, 0, false, true, true, GetSessionAuditDigest),
    E(0x14E, 2, 1, 0, 0, false, false, true, NV_Read),
    E(0x14F, 2, 1, 0, 0, false, false, false, NV_ReadLock),
    E(0x150, 2, 1, 1, 0, false, true, true, ObjectChangeAuth),
    E(0x151, 2, 1, 0, 0, false, true, true, PolicySecret),
    E(0x153, 1, 1, 0, 0, false, true, true, Create),
    E(0x154, 1, 1, 0, 0, false, true, true, ECDH_ZGen),
    E(0x155, 1, 1, 0, 0, false, true, true, HMAC),
    E(0x156, 1, 1, 0, 0, false, true, true, Import),
    E(0x157, 1, 1, 0, 0, true, true, true, Load),
    E(0x158, 1, 1, 0, 0, false, true, true, Quote),
    E(0x159, 1, 1, 0, 0, false, true, true, RSA_Decrypt),
    E(0x15B, 1, 1, 0, 0, true, true, false, HMAC_Start),
    E(0x15C, 1, 1, 0, 0, false, true, false, SequenceUpdate),
    E(0x15D, 1, 1, 0, 0, false, true, false, Sign),
    E(0x15E, 1, 1, 0, 0, false, false, true, Unseal),
    E(0x160, 2, 0, 0, 0, false, true, true, PolicySigned),
    E(0x161, 0, 0, 0, 0, true, false, false, ContextLoad),
    E(0x162, 1, 0, 0, 0, false, false, false, ContextSave),
    E(0x163, 1, 0, 0, 0, false, false, true, ECDH_KeyGen),
    E(0x164, 1, 1, 0, 0, false, false, true, EncryptDecrypt),
    E(0x165, 0, 0, 0, 0, false, false, false, FlushContext),
    E(0x167, 0, 0, 0, 0, true, true, true, LoadExternal),
    E(0x168, 1, 0, 0, 0, false, true, true, MakeCredential),
    E(0x169, 1, 0, 0, 0, false, false, false, NV_ReadPublic),
    E(0x16A, 1, 0, 0, 0, false, true, false, PolicyAuthorize),
    E(0x16B, 1, 0, 0, 0, false, false, false, PolicyAuthValue),
    E(0x16C, 1, 0, 0, 0, false, false, false, PolicyCommandCode),
    E(0x16D, 1, 0, 0, 0, false, true, false, PolicyCounterTimer),
    E(0x16E, 1, 0, 0, 0, false, true, false, PolicyCpHash),
    E(0x16F, 1, 0, 0, 0, false, false, false, PolicyLocality),
    E(0x170, 1, 0, 0, 0, false, true, false, PolicyNameHash),
    E(0x171, 1, 0, 0, 0, false, false, false, PolicyOR),
    E(0x172, 1, 0, 0, 0, false, true, false, PolicyTicket),
    E(0x173, 1, 0, 0, 0, false, false, true, ReadPublic),
    E(0x174, 1, 0, 0, 0, false, true, true, RSA_Encrypt),
    E(0x176, 2, 0, 0, 0, true, true, true, StartAuthSession),
    E(0x177, 1, 0, 0, 0, false, true, false, VerifySignature),
    E(0x178, 0, 0, 0, 0, false, false, false, ECC_Parameters),
    E(0x17A, 0, 0, 0, 0, false, false, false, GetCapability),
    E(0x17B, 0, 0, 0, 0, false, false, true, GetRandom),
    E(0x17C, 0, 0, 0, 0, false, false, true, GetTestResult),
    E(0x17D, 0, 0, 0, 0, false, true, true, Hash),
    E(0x17E, 0, 0, 0, 0, false, false, false, PCR_Read),
    E(0x17F, 1, 0, 0, 0, false, true, false, PolicyPCR),
    E(0x180, 1, 0, 0, 0, false, false, false, PolicyRestart),
    E(0x181, 0, 0, 0, 0, false, false, false, ReadClock),
    E(0x182, 1, 1, 0, 0, false, false, false, PCR_Extend),
    E(0x183, 1, 1, 0, 0, false, true, false, PCR_SetAuthValue),
    E(0x184, 3, 2, 0, 0, false, true, true, NV_Certify),
    E(0x185, 2, 2, 0, 0, false, true, false, EventSequenceComplete),
    E(0x186, 0, 0, 0, 0, true, true, false, HashSequenceStart),
    E(0x187, 1, 0, 0, 0, false, false, false, PolicyPhysicalPresence),
    E(0x188, 1, 0, 0, 0, false, true, false, PolicyDuplicationSelect),
    E(0x189, 1, 0, 0, 0, false, false, true, PolicyGetDigest),
    E(0x18A, 0, 0, 0, 0, false, false, false, TestParms),
    E(0x18B, 1, 1, 0, 0, false, true, true, Commit),
    E(0x18C, 1, 0, 0, 0, false, false, false, PolicyPassword),
    E(0x18D, 1, 1, 0, 0, false, true, true, ZGen_2Phase),
    E(0x18E, 0, 0, 0, 0, false, false, true, EC_Ephemeral),
    E(0x18F, 1, 0, 0, 0, false, false, false, PolicyNvWritten),
    E(0x190, 1, 0, 0, 0, false, true, false, PolicyTemplate),
    E(0x191, 1, 1, 0, 0, true, true, true, CreateLoaded),
    E(0x192, 3, 1, 0, 0, false, false, false, PolicyAuthorizeNV),
    E(0x193, 1, 1, 0, 0, false, true, true, EncryptDecrypt2),
};

const ttpm_cmd_info *ttpm_cmd_table(size_t *n)
{
    *n = TC_ARRAY_LEN(cmd_table);
    return cmd_table;
}

const ttpm_cmd_info *ttpm_cmd_lookup(uint32_t cc)
{
    size_t lo = 0, hi = TC_ARRAY_LEN(cmd_table);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmd_table[mid].cc == cc)
            return &cmd_table[mid];
        if (cmd_table[mid].cc < cc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void put_error(tc_buf *out, ttpm_rc rc)
{
    tc_buf_put_u16(out, TPM_ST_NO_SESSIONS);
    tc_buf_put_u32(out, 10);
    tc_buf_put_u32(out, rc);
}

/* Part 1 §15 / Part 3 §5.4: does the handle refer to something that exists? */
static ttpm_rc check_handle(ttpm *t, uint32_t h, unsigned i)
{
    switch (ttpm_handle_type(h)) {
    case TPM_HT_TRANSIENT:
        return ttpm_obj_get(t, h) ? TPM_RC_SUCCESS : (ttpm_rc)(TPM_RC_REFERENCE_H0 + i);
    case TPM_HT_PERSISTENT:
        return ttpm_obj_get(t, h) ? TPM_RC_SUCCESS : ttpm_rc_handle(TPM_RC_HANDLE, i + 1);
    case TPM_HT_NV_INDEX:
        for (unsigned k = 0; k < TTPM_MAX_NV; k++)
            if (t->perm.nv[k].used && t->perm.nv[k].index == h)
                return TPM_RC_SUCCESS;
        return ttpm_rc_handle(TPM_RC_HANDLE, i + 1);
    case TPM_HT_HMAC_SESSION:
    case TPM_HT_POLICY_SESSION: {
        ttpm_session *s = ttpm_sess_get(t, h);
        return s && s->loaded ? TPM_RC_SUCCESS : (ttpm_rc)(TPM_RC_REFERENCE_H0 + i);
    }
    case TPM_HT_PCR:
        return h < TTPM_NUM_PCRS ? TPM_RC_SUCCESS : ttpm_rc_handle(TPM_RC_VALUE, i + 1);
    case TPM_HT_PERMANENT:
        switch (h) {
        case TPM_RH_OWNER: case TPM_RH_NULL: case TPM_RH_LOCKOUT: case TPM_RH_ENDORSEMENT:
        case TPM_RH_PLATFORM: case TPM_RH_PLATFORM_NV:
            return TPM_RC_SUCCESS;
        default:
            return ttpm_rc_handle(TPM_RC_VALUE, i + 1);
        }
    default:
        return ttpm_rc_handle(TPM_RC_VALUE, i + 1);
    }
}

static ttpm_rc parse_auths(ttpm_cmd *c, tc_reader *r)
{
    uint32_t auth_size;
    if (!tc_read_u32(r, &auth_size))
        return TPM_RC_AUTHSIZE;
    /* Part 3 §5.6.3: authSize must leave room and hold at least one session. */
    if (auth_size > tc_reader_left(r) || auth_size < 9)
        return TPM_RC_AUTHSIZE;
    tc_reader a;
    tc_reader_init(&a, r->p + r->off, auth_size);
    r->off += auth_size;
    while (tc_reader_left(&a) > 0) {
        if (c->na == TTPM_MAX_AUTHS)
            return TPM_RC_AUTHSIZE;
        ttpm_auth *au = &c->auth[c->na];
        unsigned sn = c->na + 1;
        ttpm_rc rc;
        if (!tc_read_u32(&a, &au->handle))
            return TPM_RC_AUTHSIZE;
        if ((rc = ttpm_get_2b_copy(&a, au->nonce, TTPM_MAX_DIGEST, &au->nonce_len)) != 0)
            return rc == TPM_RC_SIZE ? ttpm_rc_session(TPM_RC_SIZE, sn) : TPM_RC_AUTHSIZE;
        if (!tc_read_u8(&a, &au->attrs))
            return TPM_RC_AUTHSIZE;
        if ((rc = ttpm_get_2b_copy(&a, au->hmac, TTPM_MAX_DIGEST, &au->hmac_len)) != 0)
            return rc == TPM_RC_SIZE ? ttpm_rc_session(TPM_RC_SIZE, sn) : TPM_RC_AUTHSIZE;
        c->na++;
        if (au->attrs & 0x18)
            return ttpm_rc_session(TPM_RC_RESERVED_BITS, sn);
        if (au->handle == TPM_RS_PW) {
            au->s = NULL;
            /* Part 1 §19.8.4: the password session has an empty nonce and only
             * continueSession may be set. */
            if (au->nonce_len != 0)
                return ttpm_rc_session(TPM_RC_NONCE, sn);
            if (au->attrs & ~TPMA_SESSION_CONTINUE)
                return ttpm_rc_session(TPM_RC_ATTRIBUTES, sn);
            continue;
        }
        uint8_t ht = ttpm_handle_type(au->handle);
        if (ht != TPM_HT_HMAC_SESSION && ht != TPM_HT_POLICY_SESSION)
            return ttpm_rc_session(TPM_RC_HANDLE, sn);
        au->s = ttpm_sess_get(c->t, au->handle);
        if (au->s == NULL || !au->s->loaded)
            return (ttpm_rc)(TPM_RC_REFERENCE_S0 + c->na - 1);
        for (unsigned k = 0; k + 1 < c->na; k++)
            if (c->auth[k].handle == au->handle)
                return ttpm_rc_session(TPM_RC_HANDLE, sn);
    }
    return TPM_RC_SUCCESS;
}

static ttpm_rc run(ttpm *t, const uint8_t *cmd, size_t len, tc_buf *params, ttpm_cmd *c,
                   const ttpm_cmd_info **cip)
{
    tc_reader r;
    uint16_t tag;
    uint32_t size, cc;
    ttpm_rc rc;
    tc_reader_init(&r, cmd, len);
    if (!tc_read_u16(&r, &tag) || !tc_read_u32(&r, &size) || !tc_read_u32(&r, &cc))
        return TPM_RC_COMMAND_SIZE;
    if (tag != TPM_ST_NO_SESSIONS && tag != TPM_ST_SESSIONS)
        return TPM_RC_BAD_TAG;
    if (size != len || len > TTPM_MAX_COMMAND)
        return TPM_RC_COMMAND_SIZE;
    if (t->in_failure && cc != 0x17C && cc != 0x17A)
        return TPM_RC_FAILURE;
    const ttpm_cmd_info *ci = ttpm_cmd_lookup(cc);
    if (!t->started && cc != TPM_CC_Startup)
        return TPM_RC_INITIALIZE;
    if (ci == NULL)
        return TPM_RC_COMMAND_CODE;
    *cip = ci;
    c->t = t;
    c->cc = cc;
    c->tag = tag;
    c->nh = ci->handles;
    c->out = params;
    for (unsigned i = 0; i < ci->handles; i++) {
        if (!tc_read_u32(&r, &c->h[i]))
            return TPM_RC_INSUFFICIENT;
    }
    for (unsigned i = 0; i < ci->handles; i++) {
        if ((rc = check_handle(t, c->h[i], i)) != 0)
            return rc;
    }
    if (tag == TPM_ST_SESSIONS) {
        if ((rc = parse_auths(c, &r)) != 0)
            return rc;
    } else if (ci->auths > 0) {
        return TPM_RC_AUTH_MISSING;
    }
    if (c->na < ci->auths)
        return TPM_RC_AUTH_MISSING;
    c->cp = r.p + r.off;
    c->cp_len = tc_reader_left(&r);
    tc_reader_init(&c->in, c->cp, c->cp_len);

    /* Sessions that are only there for encryption/audit must not be the
     * password session (Part 1 §19.1). */
    int dec = -1, enc = -1;
    for (unsigned i = 0; i < c->na; i++) {
        if (i >= ci->auths && c->auth[i].s == NULL)
            return ttpm_rc_session(TPM_RC_VALUE, i + 1);
        if (c->auth[i].attrs & TPMA_SESSION_DECRYPT) {
            if (dec >= 0 || !ci->enc_in)
                return ttpm_rc_session(TPM_RC_ATTRIBUTES, i + 1);
            dec = (int)i;
        }
        if (c->auth[i].attrs & TPMA_SESSION_ENCRYPT) {
            if (enc >= 0 || !ci->enc_out)
                return ttpm_rc_session(TPM_RC_ATTRIBUTES, i + 1);
            enc = (int)i;
        }
    }
    for (unsigned i = 0; i < c->na; i++)
        if ((rc = ttpm_sess_authorize(c, i, ci)) != 0)
            return rc;
    return TPM_RC_SUCCESS;
}

void ttpm_execute(ttpm *t, const uint8_t *cmd, size_t len, tc_buf *out)
{
    tc_buf params, rauth;
    tc_buf_init(&params);
    tc_buf_init(&rauth);
    ttpm_cmd *c = calloc(1, sizeof(*c));
    const ttpm_cmd_info *ci = NULL;
    uint8_t *plain = NULL;
    ttpm_rc rc;
    if (c == NULL) {
        put_error(out, TPM_RC_MEMORY);
        goto done;
    }
    ttpm_clock_update(t);
    t->dirty = false;
    rc = run(t, cmd, len, &params, c, &ci);
    if (rc == TPM_RC_SUCCESS) {
        /* Decrypt the first parameter in a private copy (Part 1 §21). */
        int dec = -1;
        for (unsigned i = 0; i < c->na; i++)
            if (c->auth[i].attrs & TPMA_SESSION_DECRYPT)
                dec = (int)i;
        if (dec >= 0) {
            plain = malloc(c->cp_len ? c->cp_len : 1);
            if (plain == NULL) {
                rc = TPM_RC_MEMORY;
            } else {
                memcpy(plain, c->cp, c->cp_len);
                if (c->cp_len < 2 || tc_load_u16(plain) > c->cp_len - 2)
                    rc = TPM_RC_SIZE | TTPM_RC_P(1);
                else
                    rc = ttpm_sess_param_crypt(c, false, plain + 2, tc_load_u16(plain));
                tc_reader_init(&c->in, plain, c->cp_len);
            }
        }
    }
    /* Audit (Part 1 §32): cpHash before the handler runs, since a command
     * may change the names of its handles. */
    if (rc == TPM_RC_SUCCESS) {
        c->cmd_audit = ttpm_cc_audited(t, c->cc) && t->perm.audit_hash != TPM_ALG_NULL;
        if (c->cmd_audit)
            rc = ttpm_cphash(t->perm.audit_hash, c, c->audit_cp);
        for (unsigned i = 0; i < c->na && rc == TPM_RC_SUCCESS; i++)
            if (c->auth[i].s && (c->auth[i].attrs & TPMA_SESSION_AUDIT))
                rc = ttpm_cphash(c->auth[i].s->hash, c, c->sess_cp[i]);
    }
    if (rc == TPM_RC_SUCCESS)
        rc = ci->fn(c);
    if (rc == TPM_RC_SUCCESS && params.failed)
        rc = TPM_RC_MEMORY;
    /* The audit counter counts digests started (Part 1 §32.2); it is part
     * of this command's single commit. */
    if (rc == TPM_RC_SUCCESS && c->cmd_audit && !t->audit_started) {
        t->perm.audit_counter++;
        t->dirty = true;
    }
    if (rc == TPM_RC_SUCCESS && t->dirty)
        rc = ttpm_state_commit(t);
    TC_DEBUG("tpm", "cc 0x%x handles %08x %08x -> rc 0x%x%s", c->cc, c->nh > 0 ? c->h[0] : 0,
             c->nh > 1 ? c->h[1] : 0, rc, c->has_out_handle && rc == 0 ? " (out handle)" : "");
    if (rc == TPM_RC_SUCCESS && c->has_out_handle)
        TC_DEBUG("tpm", "  out handle %08x", c->out_handle);
    if (rc != TPM_RC_SUCCESS) {
        /* A failed authorisation may have changed DA state: keep it. */
        if (t->dirty)
            (void)ttpm_state_commit(t);
        put_error(out, rc);
        goto done;
    }
    /* Audit digests cover the response parameters before encryption:
     * digest' = H(digest || cpHash || rpHash). */
    if (c->cmd_audit || c->na > 0) {
        uint8_t hdr[8];
        tc_store_u32(hdr, TPM_RC_SUCCESS);
        tc_store_u32(hdr + 4, c->cc);
        tcrypto_tpm_iov rv[2] = { { hdr, 8 }, { params.p, params.len } };
        if (c->cmd_audit) {
            uint16_t alg = t->perm.audit_hash;
            size_t hs = tcrypto_tpm_hash_size(alg);
            uint8_t rph[TTPM_MAX_DIGEST], nd[TTPM_MAX_DIGEST];
            if (!t->audit_started) {
                memset(t->audit_digest, 0, sizeof(t->audit_digest));
                t->audit_started = true;
            }
            tcrypto_tpm_iov v[3] = { { t->audit_digest, hs }, { c->audit_cp, hs }, { rph, hs } };
            if (tcrypto_tpm_hash(alg, rv, 2, rph) == TCRYPTO_OK &&
                tcrypto_tpm_hash(alg, v, 3, nd) == TCRYPTO_OK)
                memcpy(t->audit_digest, nd, hs);
        }
        for (unsigned i = 0; i < c->na; i++) {
            ttpm_session *s = c->auth[i].s;
            if (s == NULL || !(c->auth[i].attrs & TPMA_SESSION_AUDIT))
                continue;
            size_t hs = tcrypto_tpm_hash_size(s->hash);
            uint8_t rph[TTPM_MAX_DIGEST], nd[TTPM_MAX_DIGEST];
            if ((c->auth[i].attrs & TPMA_SESSION_AUDITRESET) || !s->audit_started) {
                memset(s->audit_digest, 0, sizeof(s->audit_digest));
                s->audit_started = true;
            }
            tcrypto_tpm_iov v[3] = { { s->audit_digest, hs }, { c->sess_cp[i], hs }, { rph, hs } };
            if (tcrypto_tpm_hash(s->hash, rv, 2, rph) == TCRYPTO_OK &&
                tcrypto_tpm_hash(s->hash, v, 3, nd) == TCRYPTO_OK)
                memcpy(s->audit_digest, nd, hs);
        }
    }
    /* New nonces, response parameter encryption, then response HMACs. */
    rc = ttpm_sess_next_nonces(c);
    if (rc != TPM_RC_SUCCESS) {
        put_error(out, rc);
        goto done;
    }
    for (unsigned i = 0; i < c->na; i++) {
        if ((c->auth[i].attrs & TPMA_SESSION_ENCRYPT) && params.len >= 2) {
            uint16_t n = tc_load_u16(params.p);
            if (n <= params.len - 2)
                (void)ttpm_sess_param_crypt(c, true, params.p + 2, n);
        }
    }
    for (unsigned i = 0; i < c->na; i++) {
        rc = ttpm_sess_response_hmac(c, i, params.p, params.len, &rauth);
        if (rc != TPM_RC_SUCCESS) {
            put_error(out, rc);
            goto done;
        }
    }
    size_t total = 10 + (c->has_out_handle ? 4 : 0) + (c->tag == TPM_ST_SESSIONS ? 4 : 0) +
                   params.len + rauth.len;
    tc_buf_put_u16(out, c->tag);
    tc_buf_put_u32(out, (uint32_t)total);
    tc_buf_put_u32(out, TPM_RC_SUCCESS);
    if (c->has_out_handle)
        tc_buf_put_u32(out, c->out_handle);
    if (c->tag == TPM_ST_SESSIONS)
        tc_buf_put_u32(out, (uint32_t)params.len);
    tc_buf_put(out, params.p, params.len);
    tc_buf_put(out, rauth.p, rauth.len);
    /* Sessions without continueSession end with the command (Part 1 §19.6.3). */
    for (unsigned i = 0; i < c->na; i++) {
        if (c->auth[i].s && (!(c->auth[i].attrs & TPMA_SESSION_CONTINUE) || c->flush_auth[i]))
            ttpm_sess_flush(c->auth[i].s);
    }
done:
    if (plain) {
        tc_wipe(plain, c->cp_len);
        free(plain);
    }
    if (c) {
        tc_wipe(c, sizeof(*c));
        free(c);
    }
    tc_buf_free(&params);
    tc_buf_free(&rauth);
}
