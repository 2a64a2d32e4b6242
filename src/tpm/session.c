/*
 * Authorisation sessions (Part 1 §19): password, HMAC and policy sessions,
 * the command/response HMACs, parameter encryption (§21), dictionary-attack
 * accounting (§19.8.6). StartAuthSession and the policy commands live in
 * cmd_session.c.
 */
#include <stdlib.h>
#include <string.h>

#include "tpm/ttpm.h"

ttpm_session *ttpm_sess_get(ttpm *t, uint32_t handle)
{
    uint8_t ht = ttpm_handle_type(handle);
    if (ht != TPM_HT_HMAC_SESSION && ht != TPM_HT_POLICY_SESSION)
        return NULL;
    uint32_t idx = handle & 0xFFFFFF;
    if (idx >= TTPM_MAX_SESSIONS)
        return NULL;
    ttpm_session *s = &t->sess[idx];
    if (!s->used || s->handle != handle)
        return NULL;
    s->age = ++t->obj_age;
    return s;
}

ttpm_rc ttpm_sess_room(ttpm *t, bool new_slot)
{
    if (!t->strict_capacity)
        return TPM_RC_SUCCESS;
    unsigned used = 0, loaded = 0;
    for (unsigned i = 0; i < TTPM_MAX_SESSIONS; i++) {
        used += t->sess[i].used;
        loaded += t->sess[i].used && t->sess[i].loaded;
    }
    if (loaded >= t->max_loaded_sessions)
        return TPM_RC_SESSION_MEMORY;
    if (new_slot && used >= TTPM_MAX_SESSIONS)
        return TPM_RC_SESSION_HANDLES;
    return TPM_RC_SUCCESS;
}

void ttpm_sess_flush(ttpm_session *s)
{
    tc_wipe(s, sizeof(*s));
}

/* Authorisation values are used with trailing zeros removed (Part 1 §19.6.4.3). */
static uint16_t trim(const uint8_t *a, uint16_t n)
{
    while (n > 0 && a[n - 1] == 0)
        n--;
    return n;
}

ttpm_rc ttpm_cphash(uint16_t alg, ttpm_cmd *c, uint8_t *out)
{
    uint8_t ccb[4];
    uint8_t names[TTPM_MAX_HANDLES][2 + TTPM_MAX_DIGEST];
    uint16_t nlen[TTPM_MAX_HANDLES];
    tcrypto_tpm_iov v[2 + TTPM_MAX_HANDLES];
    size_t nv = 0;
    tc_store_u32(ccb, c->cc);
    v[nv++] = (tcrypto_tpm_iov){ ccb, 4 };
    for (unsigned i = 0; i < c->nh; i++) {
        ttpm_rc rc = ttpm_entity_name(c->t, c->h[i], names[i], &nlen[i]);
        if (rc)
            return rc;
        v[nv++] = (tcrypto_tpm_iov){ names[i], nlen[i] };
    }
    v[nv++] = (tcrypto_tpm_iov){ c->cp, c->cp_len };
    return tcrypto_tpm_hash(alg, v, nv, out) == TCRYPTO_OK ? TPM_RC_SUCCESS : TPM_RC_FAILURE;
}

bool ttpm_da_protected(ttpm *t, uint32_t h)
{
    switch (ttpm_handle_type(h)) {
    case TPM_HT_TRANSIENT:
    case TPM_HT_PERSISTENT: {
        ttpm_object *o = ttpm_obj_get(t, h);
        return o && !(o->pub.attrs & TPMA_OBJECT_NODA);
    }
    case TPM_HT_NV_INDEX:
        for (unsigned k = 0; k < TTPM_MAX_NV; k++)
            if (t->perm.nv[k].used && t->perm.nv[k].index == h)
                return !(t->perm.nv[k].attrs & TPMA_NV_NO_DA);
        return false;
    case TPM_HT_PERMANENT:
        return h == TPM_RH_LOCKOUT;
    default:
        return false;
    }
}

void ttpm_da_failure(ttpm *t)
{
    /* Part 1 §19.8.6: each failure counts; at maxTries the TPM is in lockout.
     * The counter is non-volatile so that a reset does not clear it. */
    if (t->perm.failed_tries < UINT32_MAX)
        t->perm.failed_tries++;
    if (t->perm.failed_tries >= t->perm.max_tries)
        t->perm.in_lockout = true;
    t->dirty = true;
}

static bool da_locked(ttpm *t, uint32_t h)
{
    if (h == TPM_RH_LOCKOUT)
        return t->perm.lockout_auth_failed;
    return t->perm.max_tries == 0 || t->perm.failed_tries >= t->perm.max_tries;
}

static ttpm_rc auth_failed(ttpm_cmd *c, uint32_t h, unsigned sn)
{
    if (!ttpm_da_protected(c->t, h))
        return ttpm_rc_session(TPM_RC_BAD_AUTH, sn);
    if (h == TPM_RH_LOCKOUT) {
        /* lockoutAuth: one failure blocks it for lockoutRecovery (§19.8.6). */
        c->t->perm.lockout_auth_failed = true;
        c->t->perm.lockout_fail_clock = c->t->perm.clock;
        c->t->dirty = true;
    } else {
        ttpm_da_failure(c->t);
    }
    return ttpm_rc_session(TPM_RC_AUTH_FAIL, sn);
}

/* Is this session bound to the entity it authorises (Part 1 §19.6.11)? */
static bool bound_to(ttpm_cmd *c, ttpm_session *s, uint32_t h)
{
    if (!s->bound)
        return false;
    uint8_t name[2 + TTPM_MAX_DIGEST];
    uint16_t nl;
    if (ttpm_entity_name(c->t, h, name, &nl) != TPM_RC_SUCCESS)
        return false;
    return nl == s->bind_name_len && memcmp(name, s->bind_name, nl) == 0;
}

static ttpm_rc make_key(ttpm_cmd *c, ttpm_auth *au)
{
    ttpm_session *s = au->s;
    memcpy(au->key, s->session_key, s->key_len);
    au->key_len = s->key_len;
    if (au->with_auth) {
        const uint8_t *a = NULL;
        uint16_t al = 0;
        if (!ttpm_entity_auth(c->t, au->entity, &a, &al))
            al = 0;
        al = trim(a, al);
        if (al > 0)
            memcpy(au->key + au->key_len, a, al);
        au->key_len = (uint16_t)(au->key_len + al);
    }
    return TPM_RC_SUCCESS;
}

static ttpm_rc session_hmac(ttpm_cmd *c, unsigned i, const uint8_t *phash, size_t plen,
                            const uint8_t *n1, size_t n1len, const uint8_t *n2, size_t n2len,
                            uint8_t attrs, uint8_t *out)
{
    ttpm_auth *au = &c->auth[i];
    tcrypto_tpm_iov v[6];
    size_t nv = 0;
    v[nv++] = (tcrypto_tpm_iov){ phash, plen };
    v[nv++] = (tcrypto_tpm_iov){ n1, n1len };
    v[nv++] = (tcrypto_tpm_iov){ n2, n2len };
    /* Part 1 §19.6.5: the first session's HMAC covers the nonceTPM of a
     * different session used for decryption and then encryption. */
    uint8_t attrsb = attrs;
    if (i == 0 && n1 == au->nonce) {
        int dec = -1, enc = -1;
        for (unsigned k = 1; k < c->na; k++) {
            if (c->auth[k].attrs & TPMA_SESSION_DECRYPT)
                dec = (int)k;
            if (c->auth[k].attrs & TPMA_SESSION_ENCRYPT)
                enc = (int)k;
        }
        if (dec > 0)
            v[nv++] = (tcrypto_tpm_iov){ c->auth[dec].s->nonce_tpm, c->auth[dec].s->nonce_tpm_len };
        if (enc > 0 && enc != dec)
            v[nv++] = (tcrypto_tpm_iov){ c->auth[enc].s->nonce_tpm, c->auth[enc].s->nonce_tpm_len };
    }
    v[nv++] = (tcrypto_tpm_iov){ &attrsb, 1 };
    return tcrypto_tpm_hmac(au->s->hash, au->key, au->key_len, v, nv, out) == TCRYPTO_OK
               ? TPM_RC_SUCCESS
               : TPM_RC_FAILURE;
}

/* Object attribute rules for USER and ADMIN roles (Part 1 §19.7). */
static ttpm_rc role_check(ttpm_cmd *c, uint32_t h, uint8_t role, bool policy)
{
    uint8_t ht = ttpm_handle_type(h);
    /* A PCR whose group has an authPolicy is authorised by policy only, as
     * in the reference implementation. */
    if (ht == TPM_HT_PCR && !policy && ttpm_pcr_in_auth_group(h) && c->t->perm.pcr_policy_len != 0)
        return TPM_RC_AUTH_TYPE;
    if (ht != TPM_HT_TRANSIENT && ht != TPM_HT_PERSISTENT)
        return TPM_RC_SUCCESS;
    ttpm_object *o = ttpm_obj_get(c->t, h);
    if (o == NULL)
        return TPM_RC_SUCCESS;
    if (policy)
        return TPM_RC_SUCCESS;
    if (role == 0 && !(o->pub.attrs & TPMA_OBJECT_USERWITHAUTH))
        return TPM_RC_AUTH_UNAVAILABLE;
    if (role == 1 && (o->pub.attrs & TPMA_OBJECT_ADMINWITHPOLICY))
        return TPM_RC_AUTH_UNAVAILABLE;
    return TPM_RC_SUCCESS;
}

static ttpm_rc check_policy(ttpm_cmd *c, ttpm_session *s, uint32_t h, unsigned sn)
{
    const uint8_t *pol = NULL;
    uint16_t plen = 0, palg = 0;
    if (!ttpm_entity_policy(c->t, h, &pol, &plen, &palg) || plen == 0)
        return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if (palg != s->hash || plen != hs || !tcrypto_memeq(pol, s->policy, hs))
        return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
    if (s->command_code && s->command_code != c->cc)
        return ttpm_rc_session(TPM_RC_POLICY_CC, sn);
    if (s->pcr_checked && s->pcr_counter != c->t->pcr_counter)
        return TPM_RC_PCR_CHANGED;
    if (s->nv_written) {
        /* PolicyNvWritten applies to an NV index being authorised (Part 3 §23.24) */
        if (ttpm_handle_type(h) != TPM_HT_NV_INDEX)
            return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
        bool written = false;
        for (unsigned k = 0; k < TTPM_MAX_NV; k++)
            if (c->t->perm.nv[k].used && c->t->perm.nv[k].index == h)
                written = (c->t->perm.nv[k].attrs & TPMA_NV_WRITTEN) != 0;
        if (written != (s->nv_written == 1))
            return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
    }
    if (s->template_len) {
        /* PolicyTemplate: H(inPublic) of the object being created (Part 3 §23.21) */
        if (c->cc != 0x131 && c->cc != 0x153 && c->cc != 0x191)
            return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
        tc_reader r;
        tc_reader_init(&r, c->cp, c->cp_len);
        ttpm_ref sens, pub;
        uint8_t th[TTPM_MAX_DIGEST];
        if (ttpm_get_2b(&r, 0xFFFF, &sens) || ttpm_get_2b(&r, 0xFFFF, &pub))
            return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
        tcrypto_tpm_iov tv = { pub.b, pub.size };
        if (tcrypto_tpm_hash(s->hash, &tv, 1, th) != TCRYPTO_OK || !tcrypto_memeq(th, s->template_hash, hs))
            return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
    }
    if (s->timeout && c->t->time_ms > s->timeout)
        return ttpm_rc_session(TPM_RC_EXPIRED, sn);
    if (s->locality && !(s->locality & (1u << c->t->locality)))
        return TPM_RC_LOCALITY;
    if (s->cp_hash_len) {
        uint8_t cph[TTPM_MAX_DIGEST];
        ttpm_rc rc = ttpm_cphash(s->hash, c, cph);
        if (rc)
            return rc;
        if (!tcrypto_memeq(cph, s->cp_hash, hs))
            return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
    }
    if (s->name_hash_len) {
        uint8_t names[TTPM_MAX_HANDLES][2 + TTPM_MAX_DIGEST];
        uint16_t nl[TTPM_MAX_HANDLES];
        tcrypto_tpm_iov v[TTPM_MAX_HANDLES];
        for (unsigned k = 0; k < c->nh; k++) {
            ttpm_rc rc = ttpm_entity_name(c->t, c->h[k], names[k], &nl[k]);
            if (rc)
                return rc;
            v[k] = (tcrypto_tpm_iov){ names[k], nl[k] };
        }
        uint8_t nh[TTPM_MAX_DIGEST];
        if (tcrypto_tpm_hash(s->hash, v, c->nh, nh) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        if (!tcrypto_memeq(nh, s->name_hash, hs))
            return ttpm_rc_session(TPM_RC_POLICY_FAIL, sn);
    }
    return TPM_RC_SUCCESS;
}

static ttpm_rc authorize(ttpm_cmd *c, unsigned i, const ttpm_cmd_info *ci)
{
    ttpm_auth *au = &c->auth[i];
    unsigned sn = i + 1;
    bool is_auth = i < ci->auths;
    au->entity = is_auth ? c->h[i] : 0;
    au->is_auth = is_auth;
    uint8_t role = is_auth ? ci->auth_role[i] : 0;
    ttpm *t = c->t;
    ttpm_rc rc;

    if (is_auth && ttpm_da_protected(t, au->entity) && da_locked(t, au->entity))
        return TPM_RC_LOCKOUT;

    if (au->s == NULL) {
        /* Password (Part 1 §19.6.5): compare in constant time. */
        if ((rc = role_check(c, au->entity, role, false)) != 0)
            return rc;
        const uint8_t *a = NULL;
        uint16_t al = 0;
        if (!ttpm_entity_auth(t, au->entity, &a, &al))
            al = 0;
        al = trim(a, al);
        uint16_t hl = trim(au->hmac, au->hmac_len);
        bool ok = hl == al && (al == 0 || tcrypto_memeq(a, au->hmac, al));
        if (!ok)
            return auth_failed(c, au->entity, sn);
        return TPM_RC_SUCCESS;
    }

    ttpm_session *s = au->s;
    /* nonceCaller is 16 octets up to the digest size; an empty one is
     * accepted as reference implementations do (tpm2-tss sends it with
     * PolicyPassword sessions). */
    if ((au->nonce_len != 0 && au->nonce_len < 16) ||
        au->nonce_len > tcrypto_tpm_hash_size(s->hash))
        return ttpm_rc_session(TPM_RC_SIZE, sn);
    if (s->is_trial && is_auth)
        return ttpm_rc_session(TPM_RC_ATTRIBUTES, sn);
    memcpy(s->nonce_caller, au->nonce, au->nonce_len);
    s->nonce_caller_len = au->nonce_len;
    bool policy = s->type != TPM_SE_HMAC;
    if (is_auth) {
        if ((rc = role_check(c, au->entity, role, policy)) != 0)
            return rc;
    }
    if (!is_auth)
        au->with_auth = false;
    else if (policy)
        au->with_auth = s->need_auth_value;
    else
        au->with_auth = !bound_to(c, s, au->entity);
    if ((rc = make_key(c, au)) != 0)
        return rc;

    if (is_auth && policy) {
        if ((rc = check_policy(c, s, au->entity, sn)) != 0)
            return rc;
        if (s->need_password) {
            const uint8_t *a = NULL;
            uint16_t al = 0;
            if (!ttpm_entity_auth(t, au->entity, &a, &al))
                al = 0;
            al = trim(a, al);
            uint16_t hl = trim(au->hmac, au->hmac_len);
            if (!(hl == al && (al == 0 || tcrypto_memeq(a, au->hmac, al))))
                return auth_failed(c, au->entity, sn);
            return TPM_RC_SUCCESS;
        }
    }
    uint8_t cph[TTPM_MAX_DIGEST], expect[TTPM_MAX_DIGEST];
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    if ((rc = ttpm_cphash(s->hash, c, cph)) != 0)
        return rc;
    if ((rc = session_hmac(c, i, cph, hs, au->nonce, au->nonce_len, s->nonce_tpm,
                           s->nonce_tpm_len, au->attrs, expect)) != 0)
        return rc;
    /* A policy session without authValue or a session used only for
     * encryption may carry an empty HMAC when its key is empty. */
    if (au->hmac_len == 0 && au->key_len == 0 && (!is_auth || policy))
        return TPM_RC_SUCCESS;
    if (au->hmac_len != hs || !tcrypto_memeq(expect, au->hmac, hs)) {
        if (!is_auth)
            return ttpm_rc_session(TPM_RC_AUTH_FAIL, sn);
        return auth_failed(c, au->entity, sn);
    }
    return TPM_RC_SUCCESS;
}

ttpm_rc ttpm_sess_authorize(ttpm_cmd *c, unsigned i, const ttpm_cmd_info *ci)
{
    if (i >= ci->auths || !ttpm_nv_pin_index(c->t, c->h[i]))
        return authorize(c, i, ci);
    /* A PIN index's authValue is available only while pinCount <
     * pinLimit, and each use is counted: a PIN Pass index counts
     * successes, a PIN Fail index failures (a success clears it). The
     * authValue is used by a password, an HMAC session, and a policy
     * session that asserted PolicyAuthValue or PolicyPassword; all of
     * them are checked and counted alike (Part 1, PIN Pass and PIN Fail
     * Indices; the reference checks them in IsAuthValueAvailable). */
    uint32_t h = c->h[i];
    ttpm_session *s = c->auth[i].s;
    bool with_value = s == NULL || s->type == TPM_SE_HMAC || s->need_auth_value || s->need_password;
    if (!with_value)
        return authorize(c, i, ci);
    ttpm_rc rc = ttpm_nv_pin_available(c->t, h);
    if (rc != 0)
        return rc;
    rc = authorize(c, i, ci);
    ttpm_rc base = rc & ~(ttpm_rc)0xF00;
    if (rc == TPM_RC_SUCCESS || base == TPM_RC_BAD_AUTH || base == TPM_RC_AUTH_FAIL)
        ttpm_nv_pin_record(c->t, h, rc == TPM_RC_SUCCESS);
    return rc;
}

ttpm_rc ttpm_sess_next_nonces(ttpm_cmd *c)
{
    for (unsigned i = 0; i < c->na; i++) {
        ttpm_session *s = c->auth[i].s;
        if (s == NULL)
            continue;
        s->nonce_tpm_len = (uint16_t)tcrypto_tpm_hash_size(s->hash);
        if (tcrypto_tpm_random(s->nonce_tpm, s->nonce_tpm_len) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
    }
    return TPM_RC_SUCCESS;
}

/* Part 1 §21.2/§21.3: CFB with key and IV from KDFa(..."CFB"...), or XOR with
 * a KDFa mask. Command: nonceNewer = nonceCaller; response: nonceTPM. */
ttpm_rc ttpm_sess_param_crypt(ttpm_cmd *c, bool response, uint8_t *p, size_t n)
{
    int idx = -1;
    for (unsigned i = 0; i < c->na; i++)
        if (c->auth[i].attrs & (response ? TPMA_SESSION_ENCRYPT : TPMA_SESSION_DECRYPT))
            idx = (int)i;
    if (idx < 0)
        return TPM_RC_SUCCESS;
    ttpm_auth *au = &c->auth[idx];
    ttpm_session *s = au->s;
    const uint8_t *newer = response ? s->nonce_tpm : s->nonce_caller;
    size_t newer_len = response ? s->nonce_tpm_len : s->nonce_caller_len;
    const uint8_t *older = response ? s->nonce_caller : s->nonce_tpm;
    size_t older_len = response ? s->nonce_caller_len : s->nonce_tpm_len;
    /* sessionValue for encryption (Part 1 §21.1): sessionKey || authValue of
     * the authorised entity, also when the session is bound to it (only the
     * HMAC leaves it out then, §19.6.11). */
    uint8_t key[2 * TTPM_MAX_DIGEST];
    uint16_t kl = s->key_len;
    memcpy(key, s->session_key, kl);
    if (au->is_auth && (s->type == TPM_SE_HMAC || s->need_auth_value)) {
        const uint8_t *a = NULL;
        uint16_t al = 0;
        if (!ttpm_entity_auth(c->t, au->entity, &a, &al))
            al = 0;
        al = trim(a, al);
        if (al > 0)
            memcpy(key + kl, a, al);
        kl = (uint16_t)(kl + al);
    }
    ttpm_rc rc = TPM_RC_FAILURE;
    if (s->sym_alg == TPM_ALG_AES && s->sym_mode == TPM_ALG_CFB) {
        uint8_t kiv[32 + 16];
        uint32_t bits = s->sym_bits + 128u;
        if (tcrypto_tpm_kdfa(s->hash, key, kl, "CFB", newer, newer_len, older,
                             older_len, bits, kiv) == TCRYPTO_OK) {
            uint8_t iv[16];
            memcpy(iv, kiv + s->sym_bits / 8, 16);
            if (tcrypto_tpm_aes_cfb(response, kiv, s->sym_bits / 8, iv, p, n, p) == TCRYPTO_OK)
                rc = TPM_RC_SUCCESS;
        }
        tc_wipe(kiv, sizeof(kiv));
    } else if (s->sym_alg == TPM_ALG_XOR) {
        uint8_t *mask = malloc(n ? n : 1);
        if (mask && tcrypto_tpm_kdfa(s->sym_bits, key, kl, "XOR", newer, newer_len,
                                     older, older_len, (uint32_t)n * 8, mask) == TCRYPTO_OK) {
            for (size_t k = 0; k < n; k++)
                p[k] ^= mask[k];
            rc = TPM_RC_SUCCESS;
        }
        tc_freezero(mask, n ? n : 1);
    } else {
        rc = ttpm_rc_session(TPM_RC_SYMMETRIC, (unsigned)idx + 1);
    }
    tc_wipe(key, sizeof(key));
    return rc;
}

ttpm_rc ttpm_sess_response_hmac(ttpm_cmd *c, unsigned i, const uint8_t *rp, size_t rplen,
                                tc_buf *out)
{
    ttpm_auth *au = &c->auth[i];
    ttpm_session *s = au->s;
    if (s == NULL) {
        ttpm_put_2b(out, NULL, 0);
        tc_buf_put_u8(out, TPMA_SESSION_CONTINUE);
        ttpm_put_2b(out, NULL, 0);
        return TPM_RC_SUCCESS;
    }
    /* The key is taken again: a command may have changed the authValue
     * (HierarchyChangeAuth, NV_ChangeAuth) and the response uses the new one. */
    (void)make_key(c, au);
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    uint8_t rph[TTPM_MAX_DIGEST], hmac[TTPM_MAX_DIGEST], hdr[8];
    tc_store_u32(hdr, TPM_RC_SUCCESS);
    tc_store_u32(hdr + 4, c->cc);
    tcrypto_tpm_iov v[2] = { { hdr, 8 }, { rp, rplen } };
    if (tcrypto_tpm_hash(s->hash, v, 2, rph) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    uint8_t attrs = au->attrs;
    tcrypto_tpm_iov w[4] = { { rph, hs }, { s->nonce_tpm, s->nonce_tpm_len },
                             { s->nonce_caller, s->nonce_caller_len }, { &attrs, 1 } };
    if (tcrypto_tpm_hmac(s->hash, au->key, au->key_len, w, 4, hmac) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_put_2b(out, s->nonce_tpm, s->nonce_tpm_len);
    tc_buf_put_u8(out, attrs);
    if (s->type != TPM_SE_HMAC && s->need_password)
        ttpm_put_2b(out, NULL, 0);
    else
        ttpm_put_2b(out, hmac, (uint16_t)hs);
    /* A policy session that authorised a command starts over (Part 1 §19.7.1). */
    if (s->type != TPM_SE_HMAC && au->is_auth) {
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
    return TPM_RC_SUCCESS;
}

void ttpm_policy_update(ttpm_session *s, uint32_t cc, const uint8_t *arg1, size_t l1,
                        const uint8_t *arg2, size_t l2)
{
    /* policyDigest_new = H(policyDigest_old || cc || arg1 || arg2) (Part 3 §23.1). */
    uint8_t ccb[4], d[TTPM_MAX_DIGEST];
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    tc_store_u32(ccb, cc);
    tcrypto_tpm_iov v[4] = { { s->policy, hs }, { ccb, 4 }, { arg1, l1 }, { arg2, l2 } };
    if (tcrypto_tpm_hash(s->hash, v, 4, d) == TCRYPTO_OK)
        memcpy(s->policy, d, hs);
}
