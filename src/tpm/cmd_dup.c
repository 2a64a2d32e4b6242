/*
 * Duplication (Part 3 §13, Part 1 §23.3): Duplicate and Import with the
 * optional inner wrapper (symmetric key + integrity digest) and the outer
 * wrapper (seed protected to the new parent, label "DUPLICATE").
 */
#include <stdlib.h>
#include <string.h>

#include "tpm/ttpm.h"

static ttpm_rc outer_keys(ttpm_object *p, const uint8_t *seed, size_t sl, const uint8_t *name,
                          size_t nl, uint8_t *sym, size_t *symlen, uint8_t *hk, size_t *hl)
{
    uint16_t alg = p->pub.name_alg;
    uint16_t bits = p->pub.sym_bits ? p->pub.sym_bits : 128;
    *symlen = bits / 8u;
    *hl = tcrypto_tpm_hash_size(alg);
    if (tcrypto_tpm_kdfa(alg, seed, sl, "STORAGE", name, nl, NULL, 0, bits, sym) != TCRYPTO_OK ||
        tcrypto_tpm_kdfa(alg, seed, sl, "INTEGRITY", NULL, 0, NULL, 0, (uint32_t)*hl * 8, hk) !=
            TCRYPTO_OK)
        return TPM_RC_FAILURE;
    return TPM_RC_SUCCESS;
}

static ttpm_rc parent_ok(ttpm_object *p)
{
    if (p == NULL || p->kind != TTPM_OBJ_KEY)
        return TPM_RC_HANDLE;
    if ((p->pub.type != TPM_ALG_RSA && p->pub.type != TPM_ALG_ECC) ||
        !(p->pub.attrs & TPMA_OBJECT_RESTRICTED) || !(p->pub.attrs & TPMA_OBJECT_DECRYPT))
        return TPM_RC_TYPE;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(Duplicate)
{
    ttpm *t = c->t;
    ttpm_ref ekey;
    uint16_t salg, sbits, smode;
    ttpm_rc rc;
    ttpm_object *o = ttpm_obj_get(t, c->h[0]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY || !o->has_sens)
        return TPM_RC_HANDLE | TTPM_RC_H(1);
    if ((rc = ttpm_get_2b(&c->in, 32, &ekey)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_sym_def(&c->in, true, &salg, &sbits, &smode)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* DUP role: a policy session only (Part 1 §19.7.?), and fixedParent clear */
    if (c->auth[0].s == NULL || c->auth[0].s->type == TPM_SE_HMAC)
        return TPM_RC_AUTH_UNAVAILABLE;
    if (o->pub.attrs & TPMA_OBJECT_FIXEDPARENT)
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    ttpm_object *np = NULL;
    if (c->h[1] != TPM_RH_NULL) {
        np = ttpm_obj_get(t, c->h[1]);
        if ((rc = parent_ok(np)) != 0)
            return rc | TTPM_RC_H(2);
    }
    if (o->pub.attrs & TPMA_OBJECT_ENCRYPTEDDUPLICATION) {
        if (salg == TPM_ALG_NULL)
            return TPM_RC_SYMMETRIC | TTPM_RC_P(2);
        if (np == NULL)
            return TPM_RC_HIERARCHY | TTPM_RC_H(2);
    }
    if (salg != TPM_ALG_NULL && smode != TPM_ALG_CFB)
        return TPM_RC_MODE | TTPM_RC_P(2);
    if (salg != TPM_ALG_NULL && ekey.size != 0 && ekey.size != sbits / 8u)
        return TPM_RC_SIZE | TTPM_RC_P(1);

    tc_buf sens, dup, seedbuf;
    tc_buf_init(&sens);
    tc_buf_init(&dup);
    tc_buf_init(&seedbuf);
    uint8_t key[32] = { 0 }, seed[TTPM_MAX_DIGEST], sym[32], hk[TTPM_MAX_DIGEST], mac[TTPM_MAX_DIGEST];
    size_t sl = 0, symlen, hl;
    uint16_t klen = 0;
    /* TPM2B_SENSITIVE */
    tc_buf_put_u16(&sens, 0);
    ttpm_put_sensitive(&sens, &o->sens);
    rc = TPM_RC_MEMORY;
    if (sens.failed)
        goto out;
    tc_store_u16(sens.p, (uint16_t)(sens.len - 2));
    if (salg != TPM_ALG_NULL) {
        /* inner wrapper: innerIntegrity = H(TPM2B_SENSITIVE || name), then CFB */
        klen = (uint16_t)(sbits / 8u);
        if (ekey.size)
            memcpy(key, ekey.b, klen);
        else if (tcrypto_tpm_random(key, klen) != TCRYPTO_OK) {
            rc = TPM_RC_FAILURE;
            goto out;
        }
        uint8_t ii[TTPM_MAX_DIGEST], iv[16] = { 0 };
        size_t hs = tcrypto_tpm_hash_size(o->pub.name_alg);
        tcrypto_tpm_iov v[2] = { { sens.p, sens.len }, { o->name, o->name_len } };
        rc = TPM_RC_FAILURE;
        if (tcrypto_tpm_hash(o->pub.name_alg, v, 2, ii) != TCRYPTO_OK)
            goto out;
        tc_buf inner;
        tc_buf_init(&inner);
        ttpm_put_2b(&inner, ii, (uint16_t)hs);
        tc_buf_put(&inner, sens.p, sens.len);
        bool ok = !inner.failed &&
                  tcrypto_tpm_aes_cfb(true, key, klen, iv, inner.p, inner.len, inner.p) == TCRYPTO_OK;
        tc_buf_free(&sens);
        sens = inner;
        if (!ok)
            goto out;
    }
    if (np != NULL) {
        if ((rc = ttpm_secret_make(np, "DUPLICATE", seed, &sl, &seedbuf)) != 0)
            goto out;
        if ((rc = outer_keys(np, seed, sl, o->name, o->name_len, sym, &symlen, hk, &hl)) != 0)
            goto out;
        uint8_t iv[16] = { 0 };
        rc = TPM_RC_FAILURE;
        if (tcrypto_tpm_aes_cfb(true, sym, symlen, iv, sens.p, sens.len, sens.p) != TCRYPTO_OK)
            goto out;
        tcrypto_tpm_iov v[2] = { { sens.p, sens.len }, { o->name, o->name_len } };
        if (tcrypto_tpm_hmac(np->pub.name_alg, hk, hl, v, 2, mac) != TCRYPTO_OK)
            goto out;
        ttpm_put_2b(&dup, mac, (uint16_t)hl);
    }
    tc_buf_put(&dup, sens.p, sens.len);
    rc = TPM_RC_MEMORY;
    if (dup.failed || seedbuf.failed)
        goto out;
    ttpm_put_2b(c->out, ekey.size ? NULL : key, ekey.size ? 0 : klen);
    ttpm_put_2b(c->out, dup.p, (uint16_t)dup.len);
    if (np != NULL)
        tc_buf_put(c->out, seedbuf.p, seedbuf.len);
    else
        ttpm_put_2b(c->out, NULL, 0);
    rc = TPM_RC_SUCCESS;
out:
    tc_wipe(key, sizeof(key));
    tc_wipe(seed, sizeof(seed));
    tc_wipe(sym, sizeof(sym));
    tc_wipe(hk, sizeof(hk));
    tc_buf_free(&sens);
    tc_buf_free(&dup);
    tc_buf_free(&seedbuf);
    return rc;
}

TTPM_HANDLER(Import)
{
    ttpm *t = c->t;
    ttpm_ref ekey, dup, symseed;
    ttpm_public pub;
    uint16_t salg, sbits, smode;
    ttpm_rc rc;
    ttpm_object *p = ttpm_obj_get(t, c->h[0]);
    if ((rc = parent_ok(p)) != 0 || !p->has_sens)
        return (rc ? rc : TPM_RC_TYPE) | TTPM_RC_H(1);
    if ((rc = ttpm_get_2b(&c->in, 32, &ekey)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_public_2b(&c->in, &pub)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, 0xFFFF, &dup)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_RSA_BYTES, &symseed)) != 0)
        return ttpm_rc_param(rc, 4);
    if ((rc = ttpm_get_sym_def(&c->in, true, &salg, &sbits, &smode)) != 0)
        return ttpm_rc_param(rc, 5);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (pub.attrs & (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT))
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    if ((pub.attrs & TPMA_OBJECT_ENCRYPTEDDUPLICATION) && (salg == TPM_ALG_NULL || symseed.size == 0))
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    if (pub.name_alg == TPM_ALG_NULL)
        return TPM_RC_HASH | TTPM_RC_P(2);
    ttpm_object *o = calloc(1, sizeof(*o));
    uint8_t *buf = malloc(dup.size ? dup.size : 1);
    uint8_t seed[TTPM_MAX_DIGEST], sym[32], hk[TTPM_MAX_DIGEST], mac[TTPM_MAX_DIGEST];
    size_t sl, symlen, hl, blen = dup.size;
    rc = TPM_RC_MEMORY;
    if (o == NULL || buf == NULL)
        goto out;
    memcpy(buf, dup.b, dup.size);
    o->used = true;
    o->pub = pub;
    o->has_sens = true;
    o->hierarchy = p->hierarchy;
    if ((rc = ttpm_obj_set_name(o)) != 0)
        goto out;
    const uint8_t *cur = buf;
    size_t clen = blen;
    if (symseed.size > 0) {
        if ((rc = ttpm_secret_recover(p, "DUPLICATE", &symseed, seed, &sl)) != 0) {
            rc = ttpm_rc_param(rc, 4);
            goto out;
        }
        if ((rc = outer_keys(p, seed, sl, o->name, o->name_len, sym, &symlen, hk, &hl)) != 0)
            goto out;
        tc_reader r;
        ttpm_ref integ;
        tc_reader_init(&r, buf, blen);
        rc = TPM_RC_SIZE | TTPM_RC_P(3);
        if (ttpm_get_2b(&r, TTPM_MAX_DIGEST, &integ) || integ.size != hl)
            goto out;
        cur = buf + r.off;
        clen = tc_reader_left(&r);
        tcrypto_tpm_iov v[2] = { { cur, clen }, { o->name, o->name_len } };
        rc = TPM_RC_FAILURE;
        if (tcrypto_tpm_hmac(p->pub.name_alg, hk, hl, v, 2, mac) != TCRYPTO_OK)
            goto out;
        rc = TPM_RC_INTEGRITY | TTPM_RC_P(3);
        if (!tcrypto_memeq(mac, integ.b, hl))
            goto out;
        uint8_t iv[16] = { 0 };
        rc = TPM_RC_FAILURE;
        if (tcrypto_tpm_aes_cfb(false, sym, symlen, iv, cur, clen, (uint8_t *)cur) != TCRYPTO_OK)
            goto out;
    }
    if (salg != TPM_ALG_NULL) {
        uint8_t iv[16] = { 0 };
        rc = TPM_RC_MODE | TTPM_RC_P(5);
        if (smode != TPM_ALG_CFB)
            goto out;
        rc = TPM_RC_SIZE | TTPM_RC_P(1);
        if (ekey.size != sbits / 8u)
            goto out;
        rc = TPM_RC_FAILURE;
        if (tcrypto_tpm_aes_cfb(false, ekey.b, ekey.size, iv, cur, clen, (uint8_t *)cur) != TCRYPTO_OK)
            goto out;
        tc_reader r;
        ttpm_ref ii;
        tc_reader_init(&r, cur, clen);
        size_t hs = tcrypto_tpm_hash_size(pub.name_alg);
        rc = TPM_RC_INTEGRITY | TTPM_RC_P(3);
        if (ttpm_get_2b(&r, TTPM_MAX_DIGEST, &ii) || ii.size != hs)
            goto out;
        const uint8_t *s2b = cur + r.off;
        size_t s2l = tc_reader_left(&r);
        uint8_t d[TTPM_MAX_DIGEST];
        tcrypto_tpm_iov v[2] = { { s2b, s2l }, { o->name, o->name_len } };
        if (tcrypto_tpm_hash(pub.name_alg, v, 2, d) != TCRYPTO_OK || !tcrypto_memeq(d, ii.b, hs))
            goto out;
        cur = s2b;
        clen = s2l;
    }
    {
        tc_reader r;
        ttpm_ref s2;
        tc_reader_init(&r, cur, clen);
        rc = TPM_RC_INTEGRITY | TTPM_RC_P(3);
        if (ttpm_get_2b(&r, 0xFFFF, &s2) || tc_reader_left(&r))
            goto out;
        tc_reader sr;
        tc_reader_init(&sr, s2.b, s2.size);
        if (ttpm_get_sensitive(&sr, &o->sens) != 0 || tc_reader_left(&sr) != 0)
            goto out;
    }
    if (o->sens.type != pub.type) {
        rc = TPM_RC_TYPE | TTPM_RC_P(3);
        goto out;
    }
    /* the private part must match the public one (TPM_RC_BINDING) */
    {
        tcrypto_tpm_key *k = NULL;
        if (pub.type == TPM_ALG_RSA || pub.type == TPM_ALG_ECC) {
            rc = ttpm_obj_key(o, &k);
            if (rc) {
                rc = TPM_RC_BINDING | TTPM_RC_P(2);
                goto out;
            }
        }
    }
    rc = ttpm_wrap_sensitive(p, &o->sens, o->name, o->name_len, c->out);
out:
    tc_wipe(seed, sizeof(seed));
    tc_wipe(sym, sizeof(sym));
    tc_wipe(hk, sizeof(hk));
    if (buf)
        tc_freezero(buf, blen ? blen : 1);
    if (o) {
        ttpm_obj_free(o);
        free(o);
    }
    return rc;
}

TTPM_HANDLER(PolicyDuplicationSelect)
{
    ttpm_ref on, pn;
    uint8_t include;
    ttpm_rc rc;
    ttpm_session *s = ttpm_sess_get(c->t, c->h[0]);
    if (s == NULL || s->type == TPM_SE_HMAC)
        return TPM_RC_AUTH_TYPE | TTPM_RC_H(1);
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, &on)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, &pn)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u8(&c->in, &include)) != 0 || include > 1)
        return TPM_RC_VALUE | TTPM_RC_P(3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (s->name_hash_len || (s->command_code && s->command_code != 0x14B))
        return TPM_RC_CPHASH;
    size_t hs = tcrypto_tpm_hash_size(s->hash);
    /* nameHash = H(objectName || newParentName); the policy covers the
     * object name only with includeObject (Part 3 §23.15). */
    tcrypto_tpm_iov v[2] = { { on.b, on.size }, { pn.b, pn.size } };
    if (tcrypto_tpm_hash(s->hash, v, 2, s->name_hash) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    s->name_hash_len = (uint16_t)hs;
    uint8_t ccb[4], d[TTPM_MAX_DIGEST];
    tc_store_u32(ccb, 0x188);
    tcrypto_tpm_iov w[5] = { { s->policy, hs }, { ccb, 4 }, { include ? on.b : NULL, include ? on.size : 0 },
                             { pn.b, pn.size }, { &include, 1 } };
    if (tcrypto_tpm_hash(s->hash, w, 5, d) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    memcpy(s->policy, d, hs);
    s->command_code = 0x14B;
    return TPM_RC_SUCCESS;
}
