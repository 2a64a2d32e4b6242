/*
 * Object commands (Part 3 §12) and context management (Part 3 §28):
 * CreatePrimary, Create, CreateLoaded, Load, LoadExternal, ReadPublic,
 * ObjectChangeAuth, Unseal, FlushContext, ContextSave, ContextLoad,
 * EvictControl.
 */
#include <stdlib.h>
#include <string.h>

#include "tpm/ttpm.h"

/* ---- deterministic stream for primary keys --------------------------------
 * Bytes i.. come from KDFa(SHA-256, seed, "TESSERA PRIMARY", templateHash,
 * counter): the same seed and template give the same key (Part 1 §27.5). */
typedef struct {
    const uint8_t *seed;
    uint8_t ctx[32];
    uint32_t counter;
} primary_stream;

static tcrypto_rc primary_next(void *p, uint8_t *out, size_t n)
{
    primary_stream *s = p;
    uint8_t cnt[4];
    tc_store_u32(cnt, s->counter++);
    return tcrypto_tpm_kdfa(TPM_ALG_SHA256, s->seed, TTPM_SEED_SIZE, "TESSERA PRIMARY", s->ctx,
                            sizeof(s->ctx), cnt, 4, (uint32_t)n * 8, out);
}

/* ---- derived objects --------------------------------------------------------
 * A child of a derivation parent (a restricted decrypt keyed-hash object with
 * the XOR scheme) takes its key from KDFa(parent's XOR hash, the parent's
 * secret, label, context) with label and context from the template's unique
 * field (TPMS_DERIVE), so the same parent and template always give the same
 * object (Part 1, Derived Objects; Part 3, TPM2_CreateLoaded). The stream is one KDFa
 * output of TTPM_DERIVE_BITS bits read in order. */
#define TTPM_DERIVE_BITS 8192u
typedef struct {
    uint16_t alg;
    const uint8_t *key;
    size_t keylen;
    ttpm_ref label, context;
    uint32_t counter;  /* next KDFa block */
    uint8_t block[TTPM_MAX_DIGEST];
    size_t have, pos;  /* bytes of block not yet used start at pos */
} derive_stream;

static tcrypto_rc derive_next(void *p, uint8_t *out, size_t n)
{
    derive_stream *s = p;
    size_t hs = tcrypto_tpm_hash_size(s->alg);
    while (n > 0) {
        if (s->pos == s->have) {
            /* K(i) = HMAC(key, [i]32 || Label || 0x00 (unless Label ends in
             * one) || Context || [L]32)  (Part 1 §11.4.10.2) */
            if ((uint64_t)s->counter * hs * 8 >= TTPM_DERIVE_BITS)
                return TCRYPTO_ERR_INPUT;
            uint8_t cnt[4], bits[4], zero = 0;
            tc_store_u32(cnt, ++s->counter);
            tc_store_u32(bits, TTPM_DERIVE_BITS);
            bool nul = s->label.size == 0 || s->label.b[s->label.size - 1] != 0;
            tcrypto_tpm_iov v[5] = { { cnt, 4 }, { s->label.b, s->label.size }, { &zero, nul ? 1u : 0u },
                                     { s->context.b, s->context.size }, { bits, 4 } };
            tcrypto_rc rc = tcrypto_tpm_hmac(s->alg, s->key, s->keylen, v, 5, s->block);
            if (rc != TCRYPTO_OK)
                return rc;
            s->have = hs;
            s->pos = 0;
        }
        size_t k = s->have - s->pos < n ? s->have - s->pos : n;
        memcpy(out, s->block + s->pos, k);
        s->pos += k;
        out += k;
        n -= k;
    }
    return TCRYPTO_OK;
}

static bool is_derivation_parent(const ttpm_object *o)
{
    return o->kind == TTPM_OBJ_KEY && o->has_sens && o->pub.type == TPM_ALG_KEYEDHASH &&
           (o->pub.attrs & TPMA_OBJECT_RESTRICTED) && (o->pub.attrs & TPMA_OBJECT_DECRYPT) &&
           o->pub.scheme == TPM_ALG_XOR;
}

static const uint8_t *hierarchy_seed(ttpm *t, uint32_t h)
{
    switch (h) {
    case TPM_RH_OWNER: return t->perm.sps;
    case TPM_RH_ENDORSEMENT: return t->perm.eps;
    case TPM_RH_PLATFORM: return t->perm.pps;
    case TPM_RH_NULL: return t->perm.null_proof;
    default: return NULL;
    }
}

typedef struct {
    ttpm_ref auth, data;
} sens_create;

static ttpm_rc get_sens_create(tc_reader *r, sens_create *sc)
{
    ttpm_ref outer;
    ttpm_rc rc = ttpm_get_2b(r, 0xFFFF, &outer);
    if (rc)
        return rc;
    tc_reader in;
    tc_reader_init(&in, outer.b, outer.size);
    if ((rc = ttpm_get_2b(&in, TTPM_MAX_DIGEST, &sc->auth)) != 0)
        return rc;
    if ((rc = ttpm_get_2b(&in, 128, &sc->data)) != 0)
        return rc;
    return tc_reader_left(&in) == 0 ? TPM_RC_SUCCESS : TPM_RC_SIZE;
}

static ttpm_rc pcr_digest(ttpm *t, uint16_t alg, const ttpm_pcr_sel *sel, uint8_t *out)
{
    tcrypto_tpm_md *md = NULL;
    if (tcrypto_tpm_md_new(alg, NULL, 0, &md) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_rc rc = TPM_RC_SUCCESS;
    for (unsigned i = 0; i < sel->count && rc == TPM_RC_SUCCESS; i++) {
        int b = ttpm_bank_index(sel->sel[i].hash);
        if (b < 0)
            continue;
        size_t hs = tcrypto_tpm_hash_size(sel->sel[i].hash);
        for (uint32_t p = 0; p < TTPM_NUM_PCRS && p < 8u * sel->sel[i].size; p++)
            if ((sel->sel[i].bits[p / 8] & (1u << (p % 8))) &&
                tcrypto_tpm_md_update(md, t->pcr[b][p], hs) != TCRYPTO_OK)
                rc = TPM_RC_FAILURE;
    }
    if (rc == TPM_RC_SUCCESS && tcrypto_tpm_md_final(md, out) != TCRYPTO_OK)
        rc = TPM_RC_FAILURE;
    tcrypto_tpm_md_free(md);
    return rc;
}

/* creationData, creationHash, creationTicket (Part 3 §12.1 and Part 2 §15.1). */
static ttpm_rc put_creation(ttpm_cmd *c, ttpm_object *o, const uint8_t *pname, uint16_t pname_len,
                            const uint8_t *pqn, uint16_t pqn_len, uint16_t palg,
                            const ttpm_ref *outside, const ttpm_pcr_sel *sel)
{
    ttpm *t = c->t;
    uint16_t alg = o->pub.name_alg;
    size_t hs = tcrypto_tpm_hash_size(alg);
    uint8_t pd[TTPM_MAX_DIGEST], ch[TTPM_MAX_DIGEST], tk[32];
    ttpm_rc rc = pcr_digest(t, alg, sel, pd);
    if (rc)
        return rc;
    tc_buf cd;
    tc_buf_init(&cd);
    ttpm_put_pcr_sel(&cd, sel);
    ttpm_put_2b(&cd, pd, (uint16_t)hs);
    tc_buf_put_u8(&cd, (uint8_t)(1u << t->locality));
    tc_buf_put_u16(&cd, palg);
    ttpm_put_2b(&cd, pname, pname_len);
    ttpm_put_2b(&cd, pqn, pqn_len);
    ttpm_put_2b(&cd, outside->b, outside->size);
    rc = TPM_RC_MEMORY;
    if (cd.failed)
        goto out;
    tcrypto_tpm_iov v = { cd.p, cd.len };
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_hash(alg, &v, 1, ch) != TCRYPTO_OK)
        goto out;
    tcrypto_tpm_iov tv[2] = { { o->name, o->name_len }, { ch, hs } };
    if ((rc = ttpm_ticket(t, TPM_ST_CREATION, o->hierarchy, tv, 2, tk)) != 0)
        goto out;
    ttpm_put_2b(c->out, cd.p, (uint16_t)cd.len);
    ttpm_put_2b(c->out, ch, (uint16_t)hs);
    tc_buf_put_u16(c->out, TPM_ST_CREATION);
    tc_buf_put_u32(c->out, o->hierarchy);
    ttpm_put_2b(c->out, tk, 32);
    rc = TPM_RC_SUCCESS;
out:
    tc_buf_free(&cd);
    return rc;
}

static ttpm_rc set_qname(ttpm_object *o, const uint8_t *pqn, uint16_t pqn_len)
{
    /* QN = nameAlg || H(QN(parent) || Name) (Part 1 §16.4). */
    if (o->pub.name_alg == TPM_ALG_NULL) {
        memcpy(o->qname, o->name, o->name_len);
        o->qname_len = o->name_len;
        return TPM_RC_SUCCESS;
    }
    tcrypto_tpm_iov v[2] = { { pqn, pqn_len }, { o->name, o->name_len } };
    tc_store_u16(o->qname, o->pub.name_alg);
    if (tcrypto_tpm_hash(o->pub.name_alg, v, 2, o->qname + 2) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    o->qname_len = (uint16_t)(2 + tcrypto_tpm_hash_size(o->pub.name_alg));
    return TPM_RC_SUCCESS;
}

static ttpm_rc make_primary(ttpm_cmd *c, uint32_t hier, const sens_create *sc, ttpm_public *pub,
                            const uint8_t *tmpl, size_t tmpl_len, ttpm_object **out)
{
    ttpm *t = c->t;
    if (!ttpm_hierarchy_enabled(t, hier))
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    const uint8_t *seed = hierarchy_seed(t, hier);
    if (seed == NULL)
        return TPM_RC_VALUE | TTPM_RC_H(1);
    ttpm_rc rc = ttpm_check_template(pub, true, sc->data.size > 0);
    if (rc)
        return ttpm_rc_param(rc, 2);
    primary_stream ps = { .seed = seed, .counter = 1 };
    tcrypto_tpm_iov v[2] = { { tmpl, tmpl_len }, { sc->data.b, sc->data.size } };
    if (tcrypto_tpm_hash(TPM_ALG_SHA256, v, 2, ps.ctx) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    ttpm_object *o = ttpm_obj_alloc(t);
    if (o == NULL)
        return TPM_RC_OBJECT_MEMORY;
    o->pub = *pub;
    o->has_sens = true;
    o->primary = true;
    o->hierarchy = hier;
    rc = TPM_RC_SUCCESS;
    if (!ttpm_pcache_get(t, seed, ps.ctx, &o->pub, &o->sens)) {
        rc = ttpm_generate(&o->pub, &o->sens, primary_next, &ps, sc->data.b, sc->data.size);
        if (rc == TPM_RC_SUCCESS)
            ttpm_pcache_put(t, seed, ps.ctx, &o->pub, &o->sens);
    }
    tc_wipe(&ps, sizeof(ps));
    if (rc) {
        ttpm_obj_free(o);
        return ttpm_rc_param(rc, 2);
    }
    memcpy(o->sens.auth, sc->auth.b, sc->auth.size);
    o->sens.auth_len = sc->auth.size;
    uint8_t hq[4];
    tc_store_u32(hq, hier);
    if ((rc = ttpm_obj_set_name(o)) != 0 || (rc = set_qname(o, hq, 4)) != 0) {
        ttpm_obj_free(o);
        return rc;
    }
    *out = o;
    return TPM_RC_SUCCESS;
}

static ttpm_rc read_template(tc_reader *r, ttpm_public *pub, const uint8_t **tmpl, size_t *len)
{
    size_t start = r->off + 2;
    ttpm_rc rc = ttpm_get_public_2b(r, pub);
    if (rc)
        return rc;
    *tmpl = r->p + start;
    *len = r->off - start;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(CreatePrimary)
{
    sens_create sc;
    ttpm_public pub;
    ttpm_ref outside;
    ttpm_pcr_sel sel;
    const uint8_t *tmpl;
    size_t tlen;
    ttpm_rc rc;
    uint32_t hier = c->h[0];
    if ((rc = get_sens_create(&c->in, &sc)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = read_template(&c->in, &pub, &tmpl, &tlen)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &outside)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_pcr_sel(&c->in, &sel)) != 0)
        return ttpm_rc_param(rc, 4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (hier != TPM_RH_OWNER && hier != TPM_RH_ENDORSEMENT && hier != TPM_RH_PLATFORM &&
        hier != TPM_RH_NULL)
        return TPM_RC_VALUE | TTPM_RC_H(1);
    ttpm_object *o;
    if ((rc = make_primary(c, hier, &sc, &pub, tmpl, tlen, &o)) != 0)
        return rc;
    uint8_t hq[4];
    tc_store_u32(hq, hier);
    ttpm_put_public_2b(c->out, &o->pub);
    if ((rc = put_creation(c, o, hq, 4, hq, 4, TPM_ALG_NULL, &outside, &sel)) != 0) {
        ttpm_obj_free(o);
        return rc;
    }
    ttpm_put_2b(c->out, o->name, o->name_len);
    c->has_out_handle = true;
    c->out_handle = o->handle;
    return TPM_RC_SUCCESS;
}

static ttpm_rc storage_parent(ttpm_cmd *c, ttpm_object **out)
{
    ttpm_object *p = ttpm_obj_get(c->t, c->h[0]);
    if (p == NULL || p->kind != TTPM_OBJ_KEY || !p->has_sens)
        return TPM_RC_TYPE | TTPM_RC_H(1);
    if (!(p->pub.attrs & TPMA_OBJECT_RESTRICTED) || !(p->pub.attrs & TPMA_OBJECT_DECRYPT) ||
        (p->pub.type != TPM_ALG_RSA && p->pub.type != TPM_ALG_ECC))
        return TPM_RC_TYPE | TTPM_RC_H(1);
    *out = p;
    return TPM_RC_SUCCESS;
}

/* An ordinary object under a storage parent: generated, named, wrapped. */
static ttpm_rc make_child(ttpm_cmd *c, ttpm_object *parent, const sens_create *sc,
                          ttpm_public *pub, ttpm_object *o, tc_buf *priv)
{
    ttpm_rc rc = ttpm_check_template(pub, false, sc->data.size > 0);
    if (rc)
        return ttpm_rc_param(rc, 2);
    /* fixedTPM children need a fixedTPM parent (Part 1 §27.2.2). */
    if ((pub->attrs & TPMA_OBJECT_FIXEDTPM) && !(parent->pub.attrs & TPMA_OBJECT_FIXEDTPM))
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    o->pub = *pub;
    o->has_sens = true;
    o->hierarchy = parent->hierarchy;
    if ((rc = ttpm_generate(&o->pub, &o->sens, NULL, NULL, sc->data.b, sc->data.size)) != 0)
        return ttpm_rc_param(rc, 2);
    memcpy(o->sens.auth, sc->auth.b, sc->auth.size);
    o->sens.auth_len = sc->auth.size;
    if ((rc = ttpm_obj_set_name(o)) != 0 || (rc = set_qname(o, parent->qname, parent->qname_len)) != 0)
        return rc;
    (void)c;
    return ttpm_wrap_sensitive(parent, &o->sens, o->name, o->name_len, priv);
}

TTPM_HANDLER(Create)
{
    sens_create sc;
    ttpm_public pub;
    ttpm_ref outside;
    ttpm_pcr_sel sel;
    ttpm_object *parent;
    ttpm_rc rc;
    if ((rc = get_sens_create(&c->in, &sc)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_public_2b(&c->in, &pub)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &outside)) != 0)
        return ttpm_rc_param(rc, 3);
    if ((rc = ttpm_get_pcr_sel(&c->in, &sel)) != 0)
        return ttpm_rc_param(rc, 4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = storage_parent(c, &parent)) != 0)
        return rc;
    ttpm_object *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return TPM_RC_MEMORY;
    o->used = true;
    rc = make_child(c, parent, &sc, &pub, o, c->out);
    if (rc == TPM_RC_SUCCESS) {
        ttpm_put_public_2b(c->out, &o->pub);
        rc = put_creation(c, o, parent->name, parent->name_len, parent->qname, parent->qname_len,
                          parent->pub.name_alg, &outside, &sel);
    }
    ttpm_obj_free(o);
    free(o);
    return rc;
}

/* A child of a derivation parent, loaded; outPrivate is empty, since the
 * same template re-derives it. */
static ttpm_rc make_derived(ttpm_cmd *c, ttpm_object *parent, const sens_create *sc,
                            ttpm_public *pub, const ttpm_ref *label, const ttpm_ref *context,
                            ttpm_object **out)
{
    /* the key comes from the parent, not from the caller's data nor from
     * the RNG (sensitiveDataOrigin clear, as the reference requires) */
    if (sc->data.size != 0)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    if (pub->attrs & TPMA_OBJECT_SENSITIVEDATAORIGIN)
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    ttpm_rc rc = ttpm_check_template(pub, false, false);
    if (rc)
        return ttpm_rc_param(rc, 2);
    if ((pub->attrs & TPMA_OBJECT_FIXEDTPM) && !(parent->pub.attrs & TPMA_OBJECT_FIXEDTPM))
        return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    ttpm_object *o = ttpm_obj_alloc(c->t);
    if (o == NULL)
        return TPM_RC_OBJECT_MEMORY;
    o->pub = *pub;
    o->has_sens = true;
    o->hierarchy = parent->hierarchy;
    derive_stream ds = { .alg = parent->pub.scheme_hash, .key = parent->sens.sens,
                         .keylen = parent->sens.sens_len, .label = *label, .context = *context };
    rc = ttpm_generate(&o->pub, &o->sens, derive_next, &ds, NULL, 0);
    tc_wipe(&ds, sizeof(ds));
    if (rc) {
        ttpm_obj_free(o);
        return ttpm_rc_param(rc, 2);
    }
    memcpy(o->sens.auth, sc->auth.b, sc->auth.size);
    o->sens.auth_len = sc->auth.size;
    if ((rc = ttpm_obj_set_name(o)) != 0 ||
        (rc = set_qname(o, parent->qname, parent->qname_len)) != 0) {
        ttpm_obj_free(o);
        return rc;
    }
    *out = o;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(CreateLoaded)
{
    sens_create sc;
    ttpm_public pub;
    const uint8_t *tmpl;
    size_t tlen;
    ttpm_rc rc;
    ttpm_object *dparent = NULL;
    ttpm_ref label = { NULL, 0 }, context = { NULL, 0 };
    if (ttpm_handle_type(c->h[0]) != TPM_HT_PERMANENT) {
        ttpm_object *p = ttpm_obj_get(c->t, c->h[0]);
        if (p != NULL && is_derivation_parent(p))
            dparent = p;
    }
    if ((rc = get_sens_create(&c->in, &sc)) != 0)
        return ttpm_rc_param(rc, 1);
    if (dparent != NULL)
        rc = ttpm_get_derive_template(&c->in, &pub, &label, &context);
    else
        rc = read_template(&c->in, &pub, &tmpl, &tlen);
    if (rc)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    ttpm_object *o;
    if (dparent != NULL) {
        if ((rc = make_derived(c, dparent, &sc, &pub, &label, &context, &o)) != 0)
            return rc;
        ttpm_put_2b(c->out, NULL, 0);
    } else if (ttpm_handle_type(c->h[0]) == TPM_HT_PERMANENT) {
        if ((rc = make_primary(c, c->h[0], &sc, &pub, tmpl, tlen, &o)) != 0)
            return rc;
        ttpm_put_2b(c->out, NULL, 0);
    } else {
        ttpm_object *parent;
        if ((rc = storage_parent(c, &parent)) != 0)
            return rc;
        o = ttpm_obj_alloc(c->t);
        if (o == NULL)
            return TPM_RC_OBJECT_MEMORY;
        if ((rc = make_child(c, parent, &sc, &pub, o, c->out)) != 0) {
            ttpm_obj_free(o);
            return rc;
        }
    }
    ttpm_put_public_2b(c->out, &o->pub);
    ttpm_put_2b(c->out, o->name, o->name_len);
    c->has_out_handle = true;
    c->out_handle = o->handle;
    return TPM_RC_SUCCESS;
}

/* Public and private parts belong together (Part 3 §12.2: TPM_RC_BINDING). */
typedef struct {
    const uint8_t *d;
    size_t n;
} fixed_stream;

static tcrypto_rc fixed_next(void *p, uint8_t *out, size_t n)
{
    fixed_stream *s = p;
    if (n != s->n)
        return TCRYPTO_ERR_ARG;
    memcpy(out, s->d, n);
    return TCRYPTO_OK;
}

static ttpm_rc check_binding(ttpm_object *o)
{
    ttpm_public *p = &o->pub;
    ttpm_sensitive *s = &o->sens;
    if (s->type != p->type)
        return TPM_RC_TYPE;
    switch (p->type) {
    case TPM_ALG_RSA: {
        tcrypto_tpm_key *k = NULL;
        if (p->x_len != p->key_bits / 8 || s->sens_len == 0)
            return TPM_RC_BINDING;
        tcrypto_rc cr = tcrypto_tpm_rsa_key(p->x, p->x_len, p->exponent, s->sens, s->sens_len, &k);
        if (cr != TCRYPTO_OK)
            return TPM_RC_BINDING;
        o->key = k;
        return TPM_RC_SUCCESS;
    }
    case TPM_ALG_ECC: {
        size_t fs = tcrypto_tpm_ecc_size(p->curve);
        uint8_t d[TTPM_MAX_ECC_BYTES], x[TTPM_MAX_ECC_BYTES], y[TTPM_MAX_ECC_BYTES];
        if (s->sens_len > fs || p->x_len > fs || p->y_len > fs)
            return TPM_RC_BINDING;
        memset(d, 0, fs);
        memcpy(d + fs - s->sens_len, s->sens, s->sens_len);
        fixed_stream fsx = { d, fs };
        tcrypto_rc cr = tcrypto_tpm_ecc_generate(p->curve, fixed_next, &fsx, d, x, y);
        uint8_t px[TTPM_MAX_ECC_BYTES] = { 0 }, py[TTPM_MAX_ECC_BYTES] = { 0 };
        memcpy(px + fs - p->x_len, p->x, p->x_len);
        memcpy(py + fs - p->y_len, p->y, p->y_len);
        bool ok = cr == TCRYPTO_OK && memcmp(px, x, fs) == 0 && memcmp(py, y, fs) == 0;
        tc_wipe(d, sizeof(d));
        return ok ? TPM_RC_SUCCESS : TPM_RC_BINDING;
    }
    default: {
        size_t hs = tcrypto_tpm_hash_size(p->name_alg);
        uint8_t u[TTPM_MAX_DIGEST];
        tcrypto_tpm_iov v[2] = { { s->seed, s->seed_len }, { s->sens, s->sens_len } };
        if (tcrypto_tpm_hash(p->name_alg, v, 2, u) != TCRYPTO_OK)
            return TPM_RC_FAILURE;
        return p->x_len == hs && memcmp(u, p->x, hs) == 0 ? TPM_RC_SUCCESS : TPM_RC_BINDING;
    }
    }
}

TTPM_HANDLER(Load)
{
    ttpm_ref priv;
    ttpm_public pub;
    ttpm_object *parent;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, 0xFFFF, &priv)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_public_2b(&c->in, &pub)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = storage_parent(c, &parent)) != 0)
        return rc;
    if (pub.name_alg == TPM_ALG_NULL)
        return TPM_RC_HASH | TTPM_RC_P(2);
    ttpm_object *o = ttpm_obj_alloc(c->t);
    if (o == NULL)
        return TPM_RC_OBJECT_MEMORY;
    o->pub = pub;
    o->has_sens = true;
    o->hierarchy = parent->hierarchy;
    if ((rc = ttpm_obj_set_name(o)) != 0)
        goto fail;
    if ((rc = ttpm_unwrap_sensitive(parent, priv.b, priv.size, o->name, o->name_len, &o->sens)) != 0) {
        rc = ttpm_rc_param(rc, 1);
        goto fail;
    }
    if ((rc = check_binding(o)) != 0) {
        rc = ttpm_rc_param(rc, 2);
        goto fail;
    }
    if ((rc = set_qname(o, parent->qname, parent->qname_len)) != 0)
        goto fail;
    ttpm_put_2b(c->out, o->name, o->name_len);
    c->has_out_handle = true;
    c->out_handle = o->handle;
    return TPM_RC_SUCCESS;
fail:
    ttpm_obj_free(o);
    return rc;
}

TTPM_HANDLER(LoadExternal)
{
    ttpm_ref sens2b;
    ttpm_public pub;
    uint32_t hier;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, 0xFFFF, &sens2b)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_public_2b(&c->in, &pub)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_u32(&c->in, &hier)) != 0)
        return ttpm_rc_param(rc, 3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (hier != TPM_RH_OWNER && hier != TPM_RH_ENDORSEMENT && hier != TPM_RH_PLATFORM &&
        hier != TPM_RH_NULL)
        return TPM_RC_VALUE | TTPM_RC_P(3);
    if (!ttpm_hierarchy_enabled(c->t, hier))
        return TPM_RC_HIERARCHY | TTPM_RC_P(3);
    /* Part 3 §12.3: an external private key only in the NULL hierarchy and
     * never with fixedTPM/fixedParent. */
    if (sens2b.size > 0) {
        if (hier != TPM_RH_NULL)
            return TPM_RC_HIERARCHY | TTPM_RC_P(3);
        if (pub.attrs & (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT))
            return TPM_RC_ATTRIBUTES | TTPM_RC_P(2);
    }
    ttpm_object *o = ttpm_obj_alloc(c->t);
    if (o == NULL)
        return TPM_RC_OBJECT_MEMORY;
    o->pub = pub;
    o->hierarchy = hier;
    if (sens2b.size > 0) {
        tc_reader r;
        tc_reader_init(&r, sens2b.b, sens2b.size);
        if ((rc = ttpm_get_sensitive(&r, &o->sens)) != 0 || tc_reader_left(&r) != 0) {
            rc = ttpm_rc_param(rc ? rc : TPM_RC_SIZE, 1);
            goto fail;
        }
        o->has_sens = true;
        if ((rc = check_binding(o)) != 0) {
            rc = ttpm_rc_param(rc, 2);
            goto fail;
        }
    } else {
        tcrypto_tpm_key *k;
        if (pub.type == TPM_ALG_RSA || pub.type == TPM_ALG_ECC) {
            if ((rc = ttpm_obj_key(o, &k)) != 0) {
                rc = ttpm_rc_param(rc, 2);
                goto fail;
            }
        }
    }
    uint8_t hq[4];
    tc_store_u32(hq, hier);
    if ((rc = ttpm_obj_set_name(o)) != 0 || (rc = set_qname(o, hq, 4)) != 0)
        goto fail;
    ttpm_put_2b(c->out, o->name, o->name_len);
    c->has_out_handle = true;
    c->out_handle = o->handle;
    return TPM_RC_SUCCESS;
fail:
    ttpm_obj_free(o);
    return rc;
}

TTPM_HANDLER(ReadPublic)
{
    ttpm_object *o = ttpm_obj_get(c->t, c->h[0]);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (o == NULL || o->kind != TTPM_OBJ_KEY)
        return TPM_RC_SEQUENCE;
    ttpm_put_public_2b(c->out, &o->pub);
    ttpm_put_2b(c->out, o->name, o->name_len);
    ttpm_put_2b(c->out, o->qname, o->qname_len);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(ObjectChangeAuth)
{
    ttpm_ref na;
    ttpm_rc rc;
    ttpm_object *o = ttpm_obj_get(c->t, c->h[0]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY)
        return TPM_RC_TYPE | TTPM_RC_H(1);
    if (o->primary || ttpm_handle_type(c->h[0]) != TPM_HT_TRANSIENT)
        return TPM_RC_TYPE | TTPM_RC_H(1);
    ttpm_object *parent = ttpm_obj_get(c->t, c->h[1]);
    if (parent == NULL || parent->kind != TTPM_OBJ_KEY)
        return TPM_RC_TYPE | TTPM_RC_H(2);
    if ((rc = ttpm_get_2b(&c->in, tcrypto_tpm_hash_size(o->pub.name_alg), &na)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* The parent must be the object's parent: its QN extends to the object's. */
    uint8_t qn[2 + TTPM_MAX_DIGEST];
    tcrypto_tpm_iov v[2] = { { parent->qname, parent->qname_len }, { o->name, o->name_len } };
    if (tcrypto_tpm_hash(o->pub.name_alg, v, 2, qn + 2) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    if (memcmp(qn + 2, o->qname + 2, tcrypto_tpm_hash_size(o->pub.name_alg)) != 0)
        return TPM_RC_TYPE | TTPM_RC_H(2);
    ttpm_sensitive s = o->sens;
    memcpy(s.auth, na.b, na.size);
    s.auth_len = na.size;
    rc = ttpm_wrap_sensitive(parent, &s, o->name, o->name_len, c->out);
    tc_wipe(&s, sizeof(s));
    return rc == TPM_RC_TYPE ? TPM_RC_TYPE | TTPM_RC_H(2) : rc;
}

TTPM_HANDLER(Unseal)
{
    ttpm_object *o = ttpm_obj_get(c->t, c->h[0]);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (o == NULL || o->kind != TTPM_OBJ_KEY || o->pub.type != TPM_ALG_KEYEDHASH)
        return TPM_RC_TYPE | TTPM_RC_H(1);
    if (o->pub.attrs & (TPMA_OBJECT_SIGN | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_RESTRICTED))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    ttpm_put_2b(c->out, o->sens.sens, o->sens.sens_len);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(FlushContext)
{
    uint32_t h;
    if (ttpm_get_u32(&c->in, &h) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint8_t ht = ttpm_handle_type(h);
    if (ht == TPM_HT_TRANSIENT) {
        ttpm_object *o = ttpm_obj_get(c->t, h);
        if (o == NULL)
            return TPM_RC_HANDLE | TTPM_RC_P(1);
        ttpm_obj_free(o);
        return TPM_RC_SUCCESS;
    }
    if (ht == TPM_HT_HMAC_SESSION || ht == TPM_HT_POLICY_SESSION) {
        ttpm_session *s = ttpm_sess_get(c->t, h);
        if (s == NULL)
            return TPM_RC_HANDLE | TTPM_RC_P(1);
        ttpm_sess_flush(s);
        return TPM_RC_SUCCESS;
    }
    return TPM_RC_HANDLE | TTPM_RC_P(1);
}

/* ---- saved contexts (Part 1 §30) -------------------------------------------
 * Object blob: HMAC-SHA256(integrity key, sequence || handle || hierarchy ||
 * ciphertext) || AES-256-CFB(serialised object). Keys from KDFa over the
 * hierarchy proof, so contexts of the NULL hierarchy die at TPM Reset.
 * Session blob: HMAC over (sequence || handle) with the per-boot key; the
 * session state itself stays in its slot. */

static ttpm_rc context_keys(ttpm *t, uint32_t hier, uint64_t seq, uint8_t *enc, uint8_t *mac)
{
    uint8_t proof[32], sb[8];
    uint8_t km[64];
    ttpm_rc rc;
    if (hier == 0) {
        memcpy(proof, t->context_key, 32);
    } else if ((rc = ttpm_proof(t, hier, proof)) != 0) {
        return rc;
    }
    tc_store_u64(sb, seq);
    rc = tcrypto_tpm_kdfa(TPM_ALG_SHA256, proof, 32, "CONTEXT", sb, 8, NULL, 0, 512, km) ==
                 TCRYPTO_OK
             ? TPM_RC_SUCCESS
             : TPM_RC_FAILURE;
    if (rc == TPM_RC_SUCCESS) {
        memcpy(enc, km, 32);
        memcpy(mac, km + 32, 32);
    }
    tc_wipe(km, sizeof(km));
    tc_wipe(proof, sizeof(proof));
    return rc;
}

static ttpm_rc context_mac(const uint8_t *mac, uint64_t seq, uint32_t handle, uint32_t hier,
                           const uint8_t *data, size_t n, uint8_t out[32])
{
    uint8_t hdr[16];
    tc_store_u64(hdr, seq);
    tc_store_u32(hdr + 8, handle);
    tc_store_u32(hdr + 12, hier);
    tcrypto_tpm_iov v[2] = { { hdr, 16 }, { data, n } };
    return tcrypto_tpm_hmac(TPM_ALG_SHA256, mac, 32, v, 2, out) == TCRYPTO_OK ? TPM_RC_SUCCESS
                                                                             : TPM_RC_FAILURE;
}

/* The tag of a session context: an HMAC over (sequence, handle) with keys
 * from the per-boot key, wiped here. */
static ttpm_rc session_context_tag(ttpm *t, uint64_t seq, uint32_t h, uint8_t tag[32])
{
    uint8_t keys[64];
    ttpm_rc rc = context_keys(t, 0, seq, keys, keys + 32);
    if (rc == TPM_RC_SUCCESS)
        rc = context_mac(keys + 32, seq, h, TPM_RH_NULL, NULL, 0, tag);
    tc_wipe(keys, sizeof(keys));
    return rc;
}

/* Object and sequence contexts: ser, the serialised state, is encrypted in
 * place and written out as a TPMS_CONTEXT with its integrity tag. The keys
 * derived for it are wiped here on every path. */
static ttpm_rc context_seal(ttpm_cmd *c, uint64_t seq, uint32_t saved, uint32_t hier, tc_buf *ser)
{
    uint8_t keys[64], tag[32], iv[16] = { 0 };
    ttpm_rc rc = context_keys(c->t, hier, seq, keys, keys + 32);
    if (rc != TPM_RC_SUCCESS)
        goto out;
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_aes_cfb(true, keys, 32, iv, ser->p, ser->len, ser->p) != TCRYPTO_OK)
        goto out;
    if ((rc = context_mac(keys + 32, seq, saved, hier, ser->p, ser->len, tag)) != 0)
        goto out;
    tc_buf_put_u64(c->out, seq);
    tc_buf_put_u32(c->out, saved);
    tc_buf_put_u32(c->out, hier);
    tc_buf_put_u16(c->out, (uint16_t)(32 + ser->len));
    tc_buf_put(c->out, tag, 32);
    tc_buf_put(c->out, ser->p, ser->len);
    rc = TPM_RC_SUCCESS;
out:
    tc_wipe(keys, sizeof(keys));
    return rc;
}

/* The plaintext of an object or sequence context blob (tag || ciphertext)
 * once its tag is verified, in a heap copy of *n bytes that the caller
 * frees with tc_freezero(*plain, *n ? *n : 1); the derived keys are wiped
 * here on every path. */
static ttpm_rc context_open(ttpm *t, uint64_t seq, uint32_t saved, uint32_t hier,
                            const ttpm_ref *blob, uint8_t **plain, size_t *n)
{
    uint8_t keys[64], tag[32], iv[16] = { 0 };
    uint8_t *p = NULL;
    if (blob->size < 32)
        return TPM_RC_SIZE | TTPM_RC_P(1);
    size_t len = blob->size - 32u;
    ttpm_rc rc = context_keys(t, hier, seq, keys, keys + 32);
    if (rc != TPM_RC_SUCCESS)
        goto out;
    if ((rc = context_mac(keys + 32, seq, saved, hier, blob->b + 32, len, tag)) != 0)
        goto out;
    rc = TPM_RC_INTEGRITY | TTPM_RC_P(1);
    if (!tcrypto_memeq(tag, blob->b, 32))
        goto out;
    rc = TPM_RC_MEMORY;
    if ((p = malloc(len ? len : 1)) == NULL)
        goto out;
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_aes_cfb(false, keys, 32, iv, blob->b + 32, len, p) != TCRYPTO_OK)
        goto out;
    *plain = p;
    *n = len;
    p = NULL;
    rc = TPM_RC_SUCCESS;
out:
    tc_wipe(keys, sizeof(keys));
    if (p)
        tc_freezero(p, len ? len : 1);
    return rc;
}

/* A hash, HMAC or event sequence (savedHandle 0x80000001, NULL hierarchy)
 * carries its state like an object context carries its sensitive area, so
 * it stays loadable for as long as the NULL hierarchy's proof lasts (until
 * TPM Reset), however many contexts are saved meanwhile. Plaintext: kind,
 * hash, TPM2B auth, a bank mask and one TPM2B running state per bank
 * (tcrypto_tpm_md_export; the HMAC key's pad is part of it). */
static ttpm_rc seq_serialise(const ttpm_object *o, tc_buf *ser)
{
    uint8_t st[TCRYPTO_TPM_MD_STATE_MAX], mask = 0;
    ttpm_rc rc = TPM_RC_SUCCESS;
    tc_buf_put_u8(ser, o->kind);
    tc_buf_put_u16(ser, o->seq_hash);
    ttpm_put_2b(ser, o->sens.auth, o->sens.auth_len);
    for (unsigned i = 0; i < TTPM_NUM_BANKS; i++)
        mask |= o->md[i] ? (uint8_t)(1u << i) : 0;
    tc_buf_put_u8(ser, mask);
    for (unsigned i = 0; i < TTPM_NUM_BANKS && rc == TPM_RC_SUCCESS; i++) {
        if (!o->md[i])
            continue;
        size_t n = tcrypto_tpm_md_export(o->md[i], st, sizeof(st));
        if (n == 0)
            rc = TPM_RC_FAILURE;
        else
            ttpm_put_2b(ser, st, (uint16_t)n);
    }
    tc_wipe(st, sizeof(st));
    return rc;
}

/* Authenticated, so only a bug could make these fail: still checked. */
static ttpm_rc seq_deserialise(tc_reader *r, ttpm_object *o)
{
    uint8_t kind, mask;
    uint16_t hash;
    if (!tc_read_u8(r, &kind) || ttpm_get_u16(r, &hash) != 0 ||
        ttpm_get_2b_copy(r, o->sens.auth, sizeof(o->sens.auth), &o->sens.auth_len) != 0 ||
        !tc_read_u8(r, &mask) ||
        (kind != TTPM_OBJ_HASH_SEQ && kind != TTPM_OBJ_HMAC_SEQ && kind != TTPM_OBJ_EVENT_SEQ))
        return TPM_RC_INTEGRITY | TTPM_RC_P(1);
    for (unsigned i = 0; i < TTPM_NUM_BANKS; i++) {
        ttpm_ref st;
        if (!(mask & (1u << i)))
            continue;
        if (ttpm_get_2b(r, TCRYPTO_TPM_MD_STATE_MAX, &st) != 0 ||
            tcrypto_tpm_md_import(st.b, st.size, &o->md[i]) != TCRYPTO_OK)
            return TPM_RC_INTEGRITY | TTPM_RC_P(1);
    }
    if (tc_reader_left(r) != 0 || mask == 0 || mask >= (1u << TTPM_NUM_BANKS))
        return TPM_RC_INTEGRITY | TTPM_RC_P(1);
    o->kind = kind;
    o->has_sens = true;
    o->seq_hash = hash;
    o->pub.name_alg = TPM_ALG_NULL;
    o->pub.attrs = TPMA_OBJECT_USERWITHAUTH;
    o->hierarchy = TPM_RH_NULL;
    return TPM_RC_SUCCESS;
}

/* An object: kind, flags (1 has a sensitive area, 2 primary), TPM2B public,
 * TPM2B sensitive, TPM2B qualified name. */
static void obj_serialise(const ttpm_object *o, tc_buf *ser)
{
    tc_buf_put_u8(ser, o->kind);
    tc_buf_put_u8(ser, (uint8_t)((o->has_sens ? 1 : 0) | (o->primary ? 2 : 0)));
    ttpm_put_public_2b(ser, &o->pub);
    size_t at = ser->len;
    tc_buf_put_u16(ser, 0);
    ttpm_put_sensitive(ser, &o->sens);
    if (!ser->failed)
        tc_store_u16(ser->p + at, (uint16_t)(ser->len - at - 2));
    ttpm_put_2b(ser, o->qname, o->qname_len);
}

static ttpm_rc obj_deserialise(tc_reader *r, ttpm_object *o, uint32_t hier)
{
    uint8_t kind, flags;
    ttpm_ref s2b;
    if (!tc_read_u8(r, &kind) || !tc_read_u8(r, &flags) || kind != TTPM_OBJ_KEY ||
        ttpm_get_public_2b(r, &o->pub) != 0 || ttpm_get_2b(r, 0xFFFF, &s2b) != 0 ||
        ttpm_get_2b_copy(r, o->qname, sizeof(o->qname), &o->qname_len) != 0 ||
        tc_reader_left(r) != 0)
        return TPM_RC_INTEGRITY | TTPM_RC_P(1);
    tc_reader sr;
    tc_reader_init(&sr, s2b.b, s2b.size);
    if ((flags & 1) && ttpm_get_sensitive(&sr, &o->sens) != 0)
        return TPM_RC_INTEGRITY | TTPM_RC_P(1);
    o->kind = kind;
    o->has_sens = flags & 1;
    o->primary = (flags & 2) != 0;
    o->hierarchy = hier;
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(ContextSave)
{
    ttpm *t = c->t;
    uint32_t h = c->h[0];
    uint8_t ht = ttpm_handle_type(h);
    uint64_t seq = ++t->context_seq;
    ttpm_rc rc;
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (ht == TPM_HT_HMAC_SESSION || ht == TPM_HT_POLICY_SESSION) {
        ttpm_session *s = ttpm_sess_get(t, h);
        uint8_t tag[32];
        if (s == NULL || !s->loaded)
            return TPM_RC_HANDLE | TTPM_RC_H(1);
        if ((rc = session_context_tag(t, seq, h, tag)) != 0)
            return rc;
        s->loaded = false;
        s->context_seq = seq;
        tc_buf_put_u64(c->out, seq);
        tc_buf_put_u32(c->out, h);
        tc_buf_put_u32(c->out, TPM_RH_NULL);
        ttpm_put_2b(c->out, tag, 32);
        return TPM_RC_SUCCESS;
    }
    if (ht != TPM_HT_TRANSIENT)
        return TPM_RC_HANDLE | TTPM_RC_H(1);
    ttpm_object *o = ttpm_obj_get(t, h);
    if (o == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(1);
    tc_buf ser;
    tc_buf_init(&ser);
    uint32_t saved, hier;
    rc = TPM_RC_SUCCESS;
    if (o->kind != TTPM_OBJ_KEY) {
        saved = 0x80000001u;
        hier = TPM_RH_NULL;
        rc = seq_serialise(o, &ser);
    } else {
        saved = (o->pub.attrs & TPMA_OBJECT_STCLEAR) ? 0x80000002u : 0x80000000u;
        hier = o->hierarchy;
        obj_serialise(o, &ser);
    }
    if (rc == TPM_RC_SUCCESS)
        rc = ser.failed ? TPM_RC_MEMORY : context_seal(c, seq, saved, hier, &ser);
    tc_buf_free(&ser);
    return rc;
}

TTPM_HANDLER(ContextLoad)
{
    ttpm *t = c->t;
    uint64_t seq;
    uint32_t saved, hier;
    ttpm_ref blob;
    ttpm_rc rc;
    if (ttpm_get_u64(&c->in, &seq) || ttpm_get_u32(&c->in, &saved) ||
        ttpm_get_u32(&c->in, &hier))
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if ((rc = ttpm_get_2b(&c->in, 4096, &blob)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint8_t ht = ttpm_handle_type(saved);
    if (ht == TPM_HT_HMAC_SESSION || ht == TPM_HT_POLICY_SESSION) {
        ttpm_session *s = ttpm_sess_get(t, saved);
        uint8_t tag[32];
        if (s == NULL || s->loaded || s->context_seq != seq || blob.size != 32)
            return TPM_RC_HANDLE | TTPM_RC_P(1);
        if ((rc = ttpm_sess_room(t, false)) != 0)
            return rc;
        if ((rc = session_context_tag(t, seq, saved, tag)) != 0)
            return rc;
        if (!tcrypto_memeq(tag, blob.b, 32))
            return TPM_RC_INTEGRITY | TTPM_RC_P(1);
        s->loaded = true;
        c->has_out_handle = true;
        c->out_handle = saved;
        return TPM_RC_SUCCESS;
    }
    if (saved == 0x80000001u) {
        if (hier != TPM_RH_NULL)
            return TPM_RC_HIERARCHY | TTPM_RC_P(1);
    } else {
        if (saved != 0x80000000u && saved != 0x80000002u)
            return TPM_RC_HANDLE | TTPM_RC_P(1);
        if (hier != TPM_RH_OWNER && hier != TPM_RH_ENDORSEMENT && hier != TPM_RH_PLATFORM &&
            hier != TPM_RH_NULL)
            return TPM_RC_HIERARCHY | TTPM_RC_P(1);
    }
    uint8_t *plain = NULL;
    size_t n = 0;
    if ((rc = context_open(t, seq, saved, hier, &blob, &plain, &n)) != 0)
        return rc;
    ttpm_object *o = ttpm_obj_alloc(t);
    rc = TPM_RC_OBJECT_MEMORY;
    if (o == NULL)
        goto out;
    tc_reader r;
    tc_reader_init(&r, plain, n);
    rc = saved == 0x80000001u ? seq_deserialise(&r, o) : obj_deserialise(&r, o, hier);
    if (rc != TPM_RC_SUCCESS || (rc = ttpm_obj_set_name(o)) != 0)
        goto out;
    c->has_out_handle = true;
    c->out_handle = o->handle;
    o = NULL;
    rc = TPM_RC_SUCCESS;
out:
    if (o)
        ttpm_obj_free(o);
    tc_freezero(plain, n ? n : 1);
    return rc;
}

TTPM_HANDLER(EvictControl)
{
    ttpm *t = c->t;
    uint32_t auth = c->h[0], oh = c->h[1], ph;
    if (auth != TPM_RH_OWNER && auth != TPM_RH_PLATFORM)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if (ttpm_get_u32(&c->in, &ph) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (ttpm_handle_type(ph) != TPM_HT_PERSISTENT)
        return TPM_RC_RANGE | TTPM_RC_P(1);
    /* Part 3 §28.5: owner range 81000000..817FFFFF, platform 81800000.. */
    bool platform_range = ph >= 0x81800000u;
    if ((auth == TPM_RH_OWNER) == platform_range)
        return TPM_RC_RANGE | TTPM_RC_P(1);
    ttpm_object *o = ttpm_obj_get(t, oh);
    if (o == NULL)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    if (ttpm_handle_type(oh) == TPM_HT_PERSISTENT) {
        if (oh != ph)
            return TPM_RC_HANDLE | TTPM_RC_P(1);
        if ((o->hierarchy == TPM_RH_PLATFORM) != (auth == TPM_RH_PLATFORM))
            return TPM_RC_HIERARCHY | TTPM_RC_H(2);
        for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++) {
            if (t->perm.persist[i].used && t->perm.persist[i].handle == oh)
                tc_wipe(&t->perm.persist[i], sizeof(t->perm.persist[i]));
        }
        ttpm_persist_sync(t);
        t->dirty = true;
        return TPM_RC_SUCCESS;
    }
    if (o->kind != TTPM_OBJ_KEY || !o->has_sens)
        return TPM_RC_TYPE | TTPM_RC_H(2);
    if (o->hierarchy == TPM_RH_NULL || (o->pub.attrs & TPMA_OBJECT_STCLEAR))
        return TPM_RC_HIERARCHY | TTPM_RC_H(2);
    if ((o->hierarchy == TPM_RH_PLATFORM) != (auth == TPM_RH_PLATFORM))
        return TPM_RC_HIERARCHY | TTPM_RC_H(2);
    int free_slot = -1;
    for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++) {
        if (t->perm.persist[i].used && t->perm.persist[i].handle == ph)
            return TPM_RC_NV_DEFINED;
        if (!t->perm.persist[i].used && free_slot < 0)
            free_slot = (int)i;
    }
    if (free_slot < 0)
        return TPM_RC_NV_SPACE;
    ttpm_persistent *ps = &t->perm.persist[free_slot];
    ps->used = true;
    ps->handle = ph;
    ps->hierarchy = o->hierarchy;
    ps->pub = o->pub;
    ps->sens = o->sens;
    memcpy(ps->qname, o->qname, o->qname_len);
    ps->qname_len = o->qname_len;
    ttpm_persist_sync(t);
    t->dirty = true;
    return TPM_RC_SUCCESS;
}
