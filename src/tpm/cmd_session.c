/*
 * StartAuthSession (Part 3 §11.1) and the policy commands (Part 3 §23).
 * A policy command extends policyDigest as
 *   policyDigest' = H(policyDigest || TPM_CC || arguments)
 * and records the conditions to check when the session authorises.
 */
#include <string.h>

#include "tpm/ttpm.h"

static ttpm_rc decrypt_salt(ttpm_object *k, const ttpm_ref *enc, uint8_t *salt,
                            uint16_t *salt_len)
{
    if (!(k->pub.attrs & TPMA_OBJECT_DECRYPT) || !k->has_sens ||
        (k->pub.type != TPM_ALG_RSA && k->pub.type != TPM_ALG_ECC))
        return TPM_RC_KEY | TTPM_RC_H(1);
    /* Part 1 §B.10.3 / §C.6.4: label "SECRET", nameAlg hash. */
    size_t sl = 0;
    ttpm_rc rc = ttpm_secret_recover(k, "SECRET", enc, salt, &sl);
    if (rc == TPM_RC_KEY)
        return TPM_RC_KEY | TTPM_RC_H(1);
    if (rc)
        return ttpm_rc_param(rc, 2);
    *salt_len = (uint16_t)sl;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(StartAuthSession)
{
    ttpm *t = c->t;
    ttpm_ref nonce, salt_enc;
    uint8_t type;
    uint16_t sym_alg, sym_bits, sym_mode, hash;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &nonce)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_RSA_BYTES, &salt_enc)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u8(&c->in, &type)) != 0)
        return ttpm_rc_param(rc, 3);
    if (type != TPM_SE_HMAC && type != TPM_SE_POLICY && type != TPM_SE_TRIAL)
        return TPM_RC_VALUE | TTPM_RC_P(3);
    if ((rc = ttpm_get_sym_def(&c->in, false, &sym_alg, &sym_bits, &sym_mode)) != 0)
        return ttpm_rc_param(rc, 4);
    if (sym_alg == TPM_ALG_AES && sym_mode != TPM_ALG_CFB)
        return TPM_RC_MODE | TTPM_RC_P(4);
    if ((rc = ttpm_get_u16(&c->in, &hash)) != 0)
        return ttpm_rc_param(rc, 5);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = ttpm_check_hash(hash, false)) != 0)
        return ttpm_rc_param(rc, 5);
    size_t hs = tcrypto_tpm_hash_size(hash);
    if (nonce.size < 16 || nonce.size > hs)
        return TPM_RC_SIZE | TTPM_RC_P(1);

    /* the salt and the key material are wiped at out on every path */
    uint8_t salt[TTPM_MAX_DIGEST], keyin[2 * TTPM_MAX_DIGEST + TTPM_MAX_DIGEST];
    uint16_t salt_len = 0;
    ttpm_session *s = NULL;
    if (c->h[0] != TPM_RH_NULL) {
        ttpm_object *k = ttpm_obj_get(t, c->h[0]);
        rc = TPM_RC_HANDLE | TTPM_RC_H(1);
        if (k == NULL)
            goto out;
        rc = TPM_RC_VALUE | TTPM_RC_P(2);
        if (salt_enc.size == 0)
            goto out;
        if ((rc = decrypt_salt(k, &salt_enc, salt, &salt_len)) != 0)
            goto out;
    } else if (salt_enc.size != 0) {
        rc = TPM_RC_VALUE | TTPM_RC_P(2);
        goto out;
    }
    /* a PIN index cannot be a bind entity: its uses must be counted */
    rc = TPM_RC_HANDLE | TTPM_RC_H(2);
    if (ttpm_nv_pin_index(t, c->h[1]))
        goto out;

    if ((rc = ttpm_sess_room(t, true)) != 0)
        goto out;
    int idx = -1;
    for (int i = 0; i < TTPM_MAX_SESSIONS; i++)
        if (!t->sess[i].used) {
            idx = i;
            break;
        }
    if (idx < 0) {
        /* Tools without a resource manager leave sessions behind when they
         * fail; the least recently used loaded session makes room, else the
         * oldest saved one (a chip would answer TPM_RC_SESSION_HANDLES). */
        int lru_loaded = -1, lru_saved = -1;
        for (int i = 0; i < TTPM_MAX_SESSIONS; i++) {
            int *lru = t->sess[i].loaded ? &lru_loaded : &lru_saved;
            if (*lru < 0 || t->sess[i].age < t->sess[*lru].age)
                *lru = i;
        }
        idx = lru_loaded >= 0 ? lru_loaded : lru_saved;
        rc = TPM_RC_SESSION_HANDLES;
        if (idx < 0)
            goto out;
        ttpm_sess_flush(&t->sess[idx]);
    }
    s = &t->sess[idx];
    memset(s, 0, sizeof(*s));
    s->type = type;
    s->is_trial = type == TPM_SE_TRIAL;
    s->start_time = t->time_ms;
    s->hash = hash;
    s->sym_alg = sym_alg;
    s->sym_bits = sym_bits;
    s->sym_mode = sym_mode;
    s->handle = (type == TPM_SE_HMAC ? TTPM_HMAC_FIRST : TTPM_POLICY_FIRST) + (uint32_t)idx;
    memcpy(s->nonce_caller, nonce.b, nonce.size);
    s->nonce_caller_len = nonce.size;
    s->nonce_tpm_len = (uint16_t)hs;
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_random(s->nonce_tpm, hs) != TCRYPTO_OK)
        goto out;
    /* sessionKey = KDFa(authHash, bindAuth || salt, "ATH", nonceTPM,
     * nonceCaller, digest bits) when bound or salted (Part 1 §19.6.8). */
    size_t kl = 0;
    if (c->h[1] != TPM_RH_NULL) {
        const uint8_t *a = NULL;
        uint16_t al = 0;
        if (!ttpm_entity_auth(t, c->h[1], &a, &al))
            al = 0;
        while (al > 0 && a[al - 1] == 0)
            al--;
        if (al > 0)
            memcpy(keyin, a, al);
        kl = al;
        s->bound = true;
        if ((rc = ttpm_entity_name(t, c->h[1], s->bind_name, &s->bind_name_len)) != 0)
            goto out;
    }
    if (salt_len > 0)
        memcpy(keyin + kl, salt, salt_len);
    kl += salt_len;
    if (c->h[1] != TPM_RH_NULL || c->h[0] != TPM_RH_NULL) {
        rc = TPM_RC_FAILURE;
        if (tcrypto_tpm_kdfa(hash, keyin, kl, "ATH", s->nonce_tpm, s->nonce_tpm_len, nonce.b,
                             nonce.size, (uint32_t)hs * 8, s->session_key) != TCRYPTO_OK)
            goto out;
        s->key_len = (uint16_t)hs;
    }
    s->used = true;
    s->loaded = true;
    s->age = ++t->obj_age;
    c->has_out_handle = true;
    c->out_handle = s->handle;
    ttpm_put_2b(c->out, s->nonce_tpm, s->nonce_tpm_len);
    s = NULL;
    rc = TPM_RC_SUCCESS;
out:
    if (s != NULL)
        ttpm_sess_flush(s); /* a slot half filled in */
    tc_wipe(keyin, sizeof(keyin));
    tc_wipe(salt, sizeof(salt));
    return rc;
}

static ttpm_rc policy_session(ttpm_cmd *c, unsigned hidx, ttpm_session **out)
{
    ttpm_session *s = ttpm_sess_get(c->t, c->h[hidx]);
    if (s == NULL || s->type == TPM_SE_HMAC)
        return TPM_RC_AUTH_TYPE | TTPM_RC_H(hidx + 1);
    *out = s;
    return TPM_RC_SUCCESS;
}

static void policy_reset(ttpm_session *s)
{
    memset(s->policy, 0, sizeof(s->policy));
    s->need_auth_value = s->need_password = false;
    s->command_code = 0;
    s->cp_hash_len = s->name_hash_len = 0;
    s->locality = 0;
    s->pcr_checked = false;
    s->nv_written = 0;
    s->template_len = 0;
    s->timeout = 0;
}

/* The hierarchy whose proof signs a policy ticket for an entity. */
static uint32_t ticket_hierarchy(ttpm *t, uint32_t h)
{
    switch (h) {
    case TPM_RH_OWNER: case TPM_RH_ENDORSEMENT: case TPM_RH_PLATFORM: case TPM_RH_NULL:
        return h;
    default:
        break;
    }
    ttpm_object *o = ttpm_obj_get(t, h);
    return o ? o->hierarchy : TPM_RH_OWNER;
}

/* TPMT_TK_AUTH digest (Part 3 §23.3/§23.4 tickets): bound to resetCount, the
 * timeout, cpHashA, policyRef and the authorising entity's name. */
static ttpm_rc auth_ticket(ttpm *t, uint16_t tag, uint32_t hier, uint64_t timeout,
                           const uint8_t *cph, size_t cphl, const ttpm_ref *ref,
                           const uint8_t *name, size_t nl, uint8_t out[32])
{
    uint8_t rt[12];
    tc_store_u32(rt, t->perm.reset_count);
    tc_store_u64(rt + 4, timeout);
    tcrypto_tpm_iov v[4] = { { rt, 12 }, { cph, cphl }, { ref->b, ref->size }, { name, nl } };
    return ttpm_ticket(t, tag, hier, v, 4, out);
}

/* timeout and ticket outputs of PolicySigned/PolicySecret: an expiration
 * sets the session's timeout; a negative one also earns a ticket. */
static ttpm_rc policy_expiry(ttpm_cmd *c, ttpm_session *s, int32_t exp, uint16_t tag, uint32_t hier,
                             const ttpm_ref *cph, const ttpm_ref *ref, const uint8_t *name,
                             size_t nl)
{
    uint64_t timeout = 0;
    if (exp != 0) {
        uint64_t secs = exp < 0 ? (uint64_t)(-(int64_t)exp) : (uint64_t)exp;
        timeout = s->start_time + secs * 1000u;
        if (c->t->time_ms > timeout)
            return TPM_RC_EXPIRED | TTPM_RC_P(4);
        if (!s->timeout || timeout < s->timeout)
            s->timeout = timeout;
        uint8_t tb[8];
        tc_store_u64(tb, timeout);
        ttpm_put_2b(c->out, tb, 8);
    } else {
        ttpm_put_2b(c->out, NULL, 0);
    }
    tc_buf_put_u16(c->out, tag);
    if (exp < 0 && !s->is_trial && hier != TPM_RH_NULL) {
        uint8_t tk[32];
        ttpm_rc rc = auth_ticket(c->t, tag, hier, timeout, cph->b, cph->size, ref, name, nl, tk);
        if (rc)
            return rc;
        tc_buf_put_u32(c->out, hier);
        ttpm_put_2b(c->out, tk, 32);
    } else {
        tc_buf_put_u32(c->out, TPM_RH_NULL);
        ttpm_put_2b(c->out, NULL, 0);
    }
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyRestart)
{
    ttpm_session *s;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    policy_reset(s);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyGetDigest)
{
    ttpm_session *s;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    ttpm_put_2b(c->out, s->policy, (uint16_t)tcrypto_tpm_hash_size(s->hash));
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyPCR)
{
    ttpm *t = c->t;
    ttpm_session *s;
    ttpm_ref pd;
    ttpm_pcr_sel sel;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &pd)) != 0)
        return ttpm_rc_param(rc, 1);
    size_t sel_at = c->in.off;
    if ((rc = ttpm_get_pcr_sel(&c->in, &sel)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    const uint8_t *sel_bytes = c->in.p + sel_at;
    size_t sel_len = c->in.off - sel_at;
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    /* digestTPM = H(selected PCR values in selection order) (Part 3 §23.7). */
    tcrypto_tpm_md *md = NULL;
    uint8_t dig[TTPM_MAX_DIGEST];
    if (tcrypto_tpm_md_new(s->hash, NULL, 0, &md) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    bool md_ok = true;
    for (unsigned i = 0; i < sel.count; i++) {
        int b = ttpm_bank_index(sel.sel[i].hash);
        if (b < 0 || !(t->perm.pcr_banks & (1u << b)))
            continue;
        size_t bs = tcrypto_tpm_hash_size(sel.sel[i].hash);
        for (uint32_t p = 0; p < TTPM_NUM_PCRS && p < 8u * sel.sel[i].size; p++)
            if (sel.sel[i].bits[p / 8] & (1u << (p % 8)))
                md_ok &= tcrypto_tpm_md_update(md, t->pcr[b][p], bs) == TCRYPTO_OK;
    }
    tcrypto_rc cr = md_ok ? tcrypto_tpm_md_final(md, dig) : TCRYPTO_ERR_INTERNAL;
    tcrypto_tpm_md_free(md);
    if (cr != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    if (!s->is_trial) {
        if (pd.size != 0 && (pd.size != hs || memcmp(pd.b, dig, hs) != 0))
            return TPM_RC_VALUE | TTPM_RC_P(1);
        s->pcr_checked = true;
        s->pcr_counter = t->pcr_counter;
    } else if (pd.size != 0) {
        if (pd.size != hs)
            return TPM_RC_SIZE | TTPM_RC_P(1);
        memcpy(dig, pd.b, hs);
    }
    ttpm_policy_update(s, TPM_CC_PolicyPCR, sel_bytes, sel_len, dig, hs);
    return TPM_RC_SUCCESS;
}

/* PolicyPassword and PolicyAuthValue extend the same digest (Part 3 §23.18,
 * §23.17); they differ in how the authValue is later proven: in the clear
 * (password) or in the session HMAC. The last one given wins. */
static ttpm_rc policy_auth(ttpm_cmd *c, bool password)
{
    ttpm_session *s;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    ttpm_policy_update(s, TPM_CC_PolicyAuthValue, NULL, 0, NULL, 0);
    s->need_password = password;
    s->need_auth_value = !password;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyPassword) { return policy_auth(c, true); }

TTPM_HANDLER(PolicyAuthValue) { return policy_auth(c, false); }

TTPM_HANDLER(PolicyCommandCode)
{
    ttpm_session *s;
    uint32_t code;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if (ttpm_get_u32(&c->in, &code) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (ttpm_cmd_lookup(code) == NULL)
        return TPM_RC_POLICY_CC | TTPM_RC_P(1);
    if (s->command_code && s->command_code != code)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    uint8_t b[4];
    tc_store_u32(b, code);
    ttpm_policy_update(s, TPM_CC_PolicyCommandCode, b, 4, NULL, 0);
    s->command_code = code;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyOR)
{
    ttpm_session *s;
    uint32_t n;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if (ttpm_get_u32(&c->in, &n) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    /* Part 3 §23.6: two to eight digests. */
    if (n < 2 || n > 8)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    uint8_t all[8 * TTPM_MAX_DIGEST];
    size_t len = 0;
    bool match = false;
    for (uint32_t i = 0; i < n; i++) {
        ttpm_ref d;
        if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &d)) != 0)
            return ttpm_rc_param(rc, 1);
        if (d.size != hs)
            return TPM_RC_SIZE | TTPM_RC_P(1);
        if (memcmp(d.b, s->policy, hs) == 0)
            match = true;
        memcpy(all + len, d.b, hs);
        len += hs;
    }
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (!s->is_trial && !match)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    memset(s->policy, 0, sizeof(s->policy));
    ttpm_policy_update(s, TPM_CC_PolicyOR, all, len, NULL, 0);
    return TPM_RC_SUCCESS;
}

/* policyRef step shared by PolicySecret/PolicySigned/PolicyAuthorize. */
static void policy_ref(ttpm_session *s, uint32_t cc, const uint8_t *name, size_t nl,
                       const ttpm_ref *ref)
{
    ttpm_policy_update(s, cc, name, nl, NULL, 0);
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    tcrypto_tpm_iov v[2] = { { s->policy, hs }, { ref->b, ref->size } };
    uint8_t d[TTPM_MAX_DIGEST];
    if (tcrypto_tpm_hash(s->hash, v, 2, d) == TCRYPTO_OK)
        memcpy(s->policy, d, hs);
}

TTPM_HANDLER(PolicySecret)
{
    ttpm_session *s;
    ttpm_ref nonce, cph, ref;
    uint32_t exp;
    ttpm_rc rc = policy_session(c, 1, &s);
    if (rc)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &nonce)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &cph)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &ref)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_u32(&c->in, &exp)) != 0)
        return ttpm_rc_param(rc, 4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if (nonce.size && (nonce.size != s->nonce_tpm_len || memcmp(nonce.b, s->nonce_tpm, nonce.size)))
        return TPM_RC_NONCE | TTPM_RC_P(1);
    if (cph.size) {
        if (cph.size != hs)
            return TPM_RC_SIZE | TTPM_RC_P(2);
        if (s->cp_hash_len && memcmp(s->cp_hash, cph.b, hs))
            return TPM_RC_CPHASH;
        memcpy(s->cp_hash, cph.b, hs);
        s->cp_hash_len = (uint16_t)hs;
    }
    uint8_t name[2 + TTPM_MAX_DIGEST];
    uint16_t nl;
    if ((rc = ttpm_entity_name(c->t, c->h[0], name, &nl)) != 0)
        return rc;
    policy_ref(s, TPM_CC_PolicySecret, name, nl, &ref);
    /* a ticket would let a PIN Pass index's PIN be used without being
     * counted: none is given for one (as in the reference) */
    uint32_t hier = ttpm_nv_pin_pass_index(c->t, c->h[0]) ? TPM_RH_NULL
                                                            : ticket_hierarchy(c->t, c->h[0]);
    return policy_expiry(c, s, (int32_t)exp, TPM_ST_AUTH_SECRET, hier, &cph, &ref, name, nl);
}

TTPM_HANDLER(PolicyAuthorize)
{
    ttpm_session *s;
    ttpm_ref approved, ref, keyname, tkd;
    uint16_t tag;
    uint32_t hier;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &approved)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &ref)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, &keyname)) != 0)
        return ttpm_rc_param(rc, 3);
    if (ttpm_get_u16(&c->in, &tag) || ttpm_get_u32(&c->in, &hier) ||
        ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &tkd))
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (keyname.size < 2 || tcrypto_tpm_hash_size(tc_load_u16(keyname.b)) + 2 != keyname.size)
        return TPM_RC_SIZE | TTPM_RC_P(3);
    if (!s->is_trial) {
        size_t hs = tcrypto_tpm_hash_size(s->hash);
        if (approved.size != hs || memcmp(approved.b, s->policy, hs) != 0)
            return TPM_RC_VALUE | TTPM_RC_P(1);
        /* aHash = H_keyAlg(approvedPolicy || policyRef); the ticket from
         * VerifySignature binds aHash to the key's name (Part 3 §23.16). */
        uint16_t kalg = tc_load_u16(keyname.b);
        uint8_t ah[TTPM_MAX_DIGEST], tk[32];
        tcrypto_tpm_iov v[2] = { { approved.b, approved.size }, { ref.b, ref.size } };
        if (tcrypto_tpm_hash(kalg, v, 2, ah) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        if (tag != TPM_ST_VERIFIED || hier == TPM_RH_NULL)
            return TPM_RC_TICKET | TTPM_RC_P(4);
        tcrypto_tpm_iov tv[2] = { { ah, tcrypto_tpm_hash_size(kalg) }, { keyname.b, keyname.size } };
        if ((rc = ttpm_ticket(c->t, TPM_ST_VERIFIED, hier, tv, 2, tk)) != 0)
            return TPM_RC_TICKET | TTPM_RC_P(4);
        if (tkd.size != 32 || !tcrypto_memeq(tk, tkd.b, 32))
            return TPM_RC_TICKET | TTPM_RC_P(4);
    }
    memset(s->policy, 0, sizeof(s->policy));
    policy_ref(s, TPM_CC_PolicyAuthorize, keyname.b, keyname.size, &ref);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyCpHash)
{
    ttpm_session *s;
    ttpm_ref d;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &d)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if (d.size != hs)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    if (s->cp_hash_len && memcmp(s->cp_hash, d.b, hs) != 0)
        return TPM_RC_CPHASH;
    memcpy(s->cp_hash, d.b, hs);
    s->cp_hash_len = (uint16_t)hs;
    ttpm_policy_update(s, TPM_CC_PolicyCpHash, d.b, hs, NULL, 0);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyNameHash)
{
    ttpm_session *s;
    ttpm_ref d;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &d)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if (d.size != hs)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    if (s->name_hash_len)
        return TPM_RC_CPHASH;
    memcpy(s->name_hash, d.b, hs);
    s->name_hash_len = (uint16_t)hs;
    ttpm_policy_update(s, TPM_CC_PolicyNameHash, d.b, hs, NULL, 0);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyLocality)
{
    ttpm_session *s;
    uint8_t loc;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if (ttpm_get_u8(&c->in, &loc) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (loc == 0 || loc > 0x1F)
        return TPM_RC_RANGE | TTPM_RC_P(1); /* extended localities not supported */
    if (s->locality && s->locality != loc)
        return TPM_RC_RANGE | TTPM_RC_P(1);
    ttpm_policy_update(s, TPM_CC_PolicyLocality, &loc, 1, NULL, 0);
    s->locality = loc;
    return TPM_RC_SUCCESS;
}

/* PolicySigned (Part 3 §23.3): aHash = H(nonceTPM || expiration || cpHashA
 * || policyRef) signed by authObject. */
TTPM_HANDLER(PolicySigned)
{
    ttpm_session *s;
    ttpm_ref nonce, cph, ref;
    uint32_t exp;
    ttpm_signature sig;
    ttpm_rc rc = policy_session(c, 1, &s);
    if (rc)
        return rc;
    ttpm_object *k = ttpm_obj_get(c->t, c->h[0]);
    if (k == NULL || k->kind != TTPM_OBJ_KEY || !(k->pub.attrs & TPMA_OBJECT_SIGN))
        return TPM_RC_KEY | TTPM_RC_H(1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &nonce)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &cph)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &ref)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_u32(&c->in, &exp)) != 0)
        return ttpm_rc_param(rc, 4);
    if ((rc = ttpm_get_signature(&c->in, &sig)) != 0)
        return ttpm_rc_param(rc, 5);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if (nonce.size && (nonce.size != s->nonce_tpm_len || memcmp(nonce.b, s->nonce_tpm, nonce.size)))
        return TPM_RC_NONCE | TTPM_RC_P(1);
    if (cph.size && cph.size != hs)
        return TPM_RC_SIZE | TTPM_RC_P(2);
    if (!s->is_trial) {
        if (sig.alg == TPM_ALG_NULL || tcrypto_tpm_hash_size(sig.hash) == 0)
            return TPM_RC_SCHEME | TTPM_RC_P(5);
        uint8_t eb[4], ah[TTPM_MAX_DIGEST];
        tc_store_u32(eb, exp);
        tcrypto_tpm_iov v[4] = { { nonce.b, nonce.size }, { eb, 4 }, { cph.b, cph.size },
                                 { ref.b, ref.size } };
        if (tcrypto_tpm_hash(sig.hash, v, 4, ah) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        size_t ahl = tcrypto_tpm_hash_size(sig.hash);
        bool ok;
        if (sig.alg == TPM_ALG_HMAC) {
            uint8_t m[TTPM_MAX_DIGEST];
            tcrypto_tpm_iov w = { ah, ahl };
            ok = k->has_sens && k->pub.type == TPM_ALG_KEYEDHASH &&
                 tcrypto_tpm_hmac(sig.hash, k->sens.sens, k->sens.sens_len, &w, 1, m) == TCRYPTO_OK &&
                 sig.a_len == ahl && tcrypto_memeq(m, sig.a, ahl);
        } else {
            tcrypto_tpm_key *key;
            if ((rc = ttpm_obj_key(k, &key)) != 0)
                return rc;
            ok = tcrypto_tpm_verify(key, sig.alg, sig.hash, ah, ahl, sig.a, sig.a_len, sig.b,
                                    sig.b_len) == TCRYPTO_OK;
        }
        if (!ok)
            return TPM_RC_SIGNATURE | TTPM_RC_P(5);
    }
    if (cph.size) {
        if (s->cp_hash_len && memcmp(s->cp_hash, cph.b, hs))
            return TPM_RC_CPHASH;
        memcpy(s->cp_hash, cph.b, hs);
        s->cp_hash_len = (uint16_t)hs;
    }
    policy_ref(s, TPM_CC_PolicySigned, k->name, k->name_len, &ref);
    return policy_expiry(c, s, (int32_t)exp, TPM_ST_AUTH_SIGNED, k->hierarchy, &cph, &ref, k->name,
                         k->name_len);
}

TTPM_HANDLER(PolicyNvWritten)
{
    ttpm_session *s;
    uint8_t set;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if (ttpm_get_u8(&c->in, &set) != 0 || set > 1)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint8_t want = set ? 1 : 2;
    if (s->nv_written && s->nv_written != want)
        return TPM_RC_VALUE | TTPM_RC_P(1);
    s->nv_written = want;
    ttpm_policy_update(s, 0x18F, &set, 1, NULL, 0);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyTemplate)
{
    ttpm_session *s;
    ttpm_ref d;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &d)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if (d.size != hs)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    if (s->cp_hash_len || s->name_hash_len ||
        (s->template_len && memcmp(s->template_hash, d.b, hs) != 0))
        return TPM_RC_CPHASH;
    memcpy(s->template_hash, d.b, hs);
    s->template_len = (uint16_t)hs;
    ttpm_policy_update(s, 0x190, d.b, hs, NULL, 0);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(PolicyPhysicalPresence)
{
    ttpm_session *s;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* There is no physical presence signal to assert: the digest is
     * extended (trial sessions use it) and the condition always holds. */
    ttpm_policy_update(s, 0x187, NULL, 0, NULL, 0);
    return TPM_RC_SUCCESS;
}

/* PolicyCounterTimer (Part 3 §23.10): compare with TPMS_TIME_INFO. */
TTPM_HANDLER(PolicyCounterTimer)
{
    ttpm_session *s;
    ttpm_ref op;
    uint16_t off, operation;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
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
        uint8_t ti[25];
        tc_store_u64(ti, c->t->time_ms);
        tc_store_u64(ti + 8, c->t->perm.clock);
        tc_store_u32(ti + 16, c->t->perm.reset_count);
        tc_store_u32(ti + 20, c->t->perm.restart_count);
        ti[24] = 1;
        if ((uint32_t)off + op.size > sizeof(ti))
            return TPM_RC_RANGE | TTPM_RC_P(2);
        if (!ttpm_policy_compare(operation, ti + off, op.b, op.size))
            return TPM_RC_POLICY;
    }
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    uint8_t tail[4], args[TTPM_MAX_DIGEST];
    tc_store_u16(tail, off);
    tc_store_u16(tail + 2, operation);
    tcrypto_tpm_iov v[2] = { { op.b, op.size }, { tail, 4 } };
    if (tcrypto_tpm_hash(s->hash, v, 2, args) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_policy_update(s, 0x16D, args, hs, NULL, 0);
    return TPM_RC_SUCCESS;
}

/* PolicyTicket (Part 3 §23.5): replays a PolicySigned/PolicySecret that
 * earned a ticket. */
TTPM_HANDLER(PolicyTicket)
{
    ttpm_session *s;
    ttpm_ref to, cph, ref, name, tkd;
    uint16_t tag;
    uint32_t hier;
    ttpm_rc rc = policy_session(c, 0, &s);
    if (rc)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, 8, &to)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &cph)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &ref)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, &name)) != 0)
        return ttpm_rc_param(rc, 4);
    if (ttpm_get_u16(&c->in, &tag) || ttpm_get_u32(&c->in, &hier) ||
        ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &tkd))
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(5);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (tag != TPM_ST_AUTH_SIGNED && tag != TPM_ST_AUTH_SECRET)
        return TPM_RC_TAG | TTPM_RC_P(5);
    if (to.size != 8)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    uint64_t timeout = tc_load_u64(to.b);
    if (c->t->time_ms > timeout)
        return TPM_RC_EXPIRED | TTPM_RC_P(1);
    uint8_t tk[32];
    if (hier == TPM_RH_NULL || tkd.size != 32 ||
        auth_ticket(c->t, tag, hier, timeout, cph.b, cph.size, &ref, name.b, name.size, tk) != 0 ||
        !tcrypto_memeq(tk, tkd.b, 32))
        return TPM_RC_TICKET | TTPM_RC_P(5);
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if (cph.size) {
        if (cph.size != hs)
            return TPM_RC_SIZE | TTPM_RC_P(2);
        if (s->cp_hash_len && memcmp(s->cp_hash, cph.b, hs))
            return TPM_RC_CPHASH;
        memcpy(s->cp_hash, cph.b, hs);
        s->cp_hash_len = (uint16_t)hs;
    }
    if (!s->timeout || timeout < s->timeout)
        s->timeout = timeout;
    policy_ref(s, tag == TPM_ST_AUTH_SIGNED ? TPM_CC_PolicySigned : TPM_CC_PolicySecret, name.b,
               name.size, &ref);
    return TPM_RC_SUCCESS;
}
