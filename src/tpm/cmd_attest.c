/*
 * Attestation (Part 3 §18): Quote, Certify, CertifyCreation, GetTime;
 * credentials (Part 3 §12.5/§12.6, Part 1 §24): MakeCredential,
 * ActivateCredential; ECC (Part 3 §14.5-§14.7): ECDH_KeyGen, ECDH_ZGen,
 * ECC_Parameters.
 */
#include <string.h>

#include "tpm/ttpm.h"

#define TPM_GENERATED_VALUE 0xFF544347u

ttpm_rc ttpm_get_sig_scheme(tc_reader *r, uint16_t *scheme, uint16_t *hash)
{
    ttpm_rc rc;
    *hash = TPM_ALG_NULL;
    if ((rc = ttpm_get_u16(r, scheme)) != 0)
        return rc;
    if (*scheme == TPM_ALG_NULL)
        return TPM_RC_SUCCESS;
    if (*scheme != TPM_ALG_RSASSA && *scheme != TPM_ALG_RSAPSS && *scheme != TPM_ALG_ECDSA &&
        *scheme != TPM_ALG_HMAC)
        return TPM_RC_SCHEME;
    if ((rc = ttpm_get_u16(r, hash)) != 0)
        return rc;
    return ttpm_check_hash(*hash, false);
}

ttpm_rc ttpm_signer_setup(ttpm_cmd *c, unsigned hidx, uint16_t scheme, uint16_t hash,
                            unsigned pscheme, ttpm_signer *s)
{
    memset(s, 0, sizeof(*s));
    if (c->h[hidx] == TPM_RH_NULL) {
        s->scheme = TPM_ALG_NULL;
        s->hash = TPM_ALG_SHA256;
        return TPM_RC_SUCCESS;
    }
    ttpm_object *o = ttpm_obj_get(c->t, c->h[hidx]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY || !o->has_sens)
        return TPM_RC_HANDLE | TTPM_RC_H(hidx + 1);
    if (!(o->pub.attrs & TPMA_OBJECT_SIGN) ||
        (o->pub.type != TPM_ALG_RSA && o->pub.type != TPM_ALG_ECC &&
         o->pub.type != TPM_ALG_KEYEDHASH))
        return TPM_RC_KEY | TTPM_RC_H(hidx + 1);
    if (o->pub.scheme != TPM_ALG_NULL) {
        if (scheme != TPM_ALG_NULL && (scheme != o->pub.scheme || hash != o->pub.scheme_hash))
            return TPM_RC_SCHEME | TTPM_RC_P(pscheme);
        scheme = o->pub.scheme;
        hash = o->pub.scheme_hash;
    } else if (scheme == TPM_ALG_NULL) {
        return TPM_RC_SCHEME | TTPM_RC_P(pscheme);
    }
    /* the scheme must suit the key: an HMAC key signs with HMAC (the
     * TPMT_SIGNATURE HMAC form, Part 2 TPMU_SIGNATURE) */
    bool fits;
    switch (o->pub.type) {
    case TPM_ALG_RSA: fits = scheme == TPM_ALG_RSASSA || scheme == TPM_ALG_RSAPSS; break;
    case TPM_ALG_ECC: fits = scheme == TPM_ALG_ECDSA; break;
    default: fits = scheme == TPM_ALG_HMAC; break;
    }
    if (!fits)
        return TPM_RC_SCHEME | TTPM_RC_P(pscheme);
    s->key = o;
    s->scheme = scheme;
    s->hash = hash;
    return TPM_RC_SUCCESS;
}

/* Header of TPMS_ATTEST up to the type-specific part. */
void ttpm_attest_header(ttpm_cmd *c, tc_buf *a, uint16_t type, const ttpm_signer *s,
                          const ttpm_ref *extra)
{
    ttpm *t = c->t;
    tc_buf_put_u32(a, TPM_GENERATED_VALUE);
    tc_buf_put_u16(a, type);
    if (s->key)
        ttpm_put_2b(a, s->key->qname, s->key->qname_len);
    else
        ttpm_put_2b(a, NULL, 0);
    ttpm_put_2b(a, extra->b, extra->size);
    tc_buf_put_u64(a, t->perm.clock);
    tc_buf_put_u32(a, t->perm.reset_count);
    tc_buf_put_u32(a, t->perm.restart_count);
    tc_buf_put_u8(a, 1);
    tc_buf_put_u64(a, 0x0000000100000000ull); /* firmwareVersion */
}

ttpm_rc ttpm_attest_finish(ttpm_cmd *c, tc_buf *a, const ttpm_signer *s)
{
    if (a->failed)
        return TPM_RC_MEMORY;
    ttpm_put_2b(c->out, a->p, (uint16_t)a->len);
    ttpm_signature sig;
    memset(&sig, 0, sizeof(sig));
    sig.alg = s->scheme;
    if (s->key == NULL) {
        ttpm_put_signature(c->out, &sig);
        return TPM_RC_SUCCESS;
    }
    uint8_t d[TTPM_MAX_DIGEST];
    tcrypto_tpm_iov v = { a->p, a->len };
    if (tcrypto_tpm_hash(s->hash, &v, 1, d) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    if (s->key->pub.type == TPM_ALG_KEYEDHASH) {
        /* HMAC of the digest of the attestation, as TPM2_Sign computes it */
        tcrypto_tpm_iov dv = { d, tcrypto_tpm_hash_size(s->hash) };
        if (tcrypto_tpm_hmac(s->hash, s->key->sens.sens, s->key->sens.sens_len, &dv, 1, sig.a) !=
            TCRYPTO_OK)
            return TPM_RC_FAILURE;
        sig.hash = s->hash;
        sig.a_len = (uint16_t)tcrypto_tpm_hash_size(s->hash);
        ttpm_put_signature(c->out, &sig);
        return TPM_RC_SUCCESS;
    }
    tcrypto_tpm_key *k;
    ttpm_rc rc = ttpm_obj_key(s->key, &k);
    if (rc)
        return rc;
    size_t sl = sizeof(sig.a);
    if (tcrypto_tpm_sign(k, s->scheme, s->hash, d, tcrypto_tpm_hash_size(s->hash), sig.a, &sl,
                         sig.b) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    sig.hash = s->hash;
    sig.a_len = (uint16_t)sl;
    if (s->scheme == TPM_ALG_ECDSA)
        sig.b_len = (uint16_t)sl;
    ttpm_put_signature(c->out, &sig);
    return TPM_RC_SUCCESS;
}

ttpm_rc ttpm_attest_simple_params(ttpm_cmd *c, ttpm_ref *extra, ttpm_signer *s)
{
    uint16_t scheme, hash;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, extra)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_sig_scheme(&c->in, &scheme, &hash)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    return ttpm_signer_setup(c, 1, scheme, hash, 2, s);
}

TTPM_HANDLER(Quote)
{
    ttpm *t = c->t;
    ttpm_ref extra;
    uint16_t scheme, hash;
    ttpm_pcr_sel sel;
    ttpm_signer s;
    ttpm_rc rc;
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, &extra)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_sig_scheme(&c->in, &scheme, &hash)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_pcr_sel(&c->in, &sel)) != 0)
        return ttpm_rc_param(rc, 3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if ((rc = ttpm_signer_setup(c, 0, scheme, hash, 2, &s)) != 0)
        return rc;
    /* pcrDigest = H_signHash(selected PCRs in selection order) (Part 3 §18.4) */
    tcrypto_tpm_md *md;
    uint8_t pd[TTPM_MAX_DIGEST];
    if (tcrypto_tpm_md_new(s.hash, NULL, 0, &md) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    bool ok = true;
    for (unsigned i = 0; i < sel.count; i++) {
        int b = ttpm_bank_index(sel.sel[i].hash);
        if (b < 0 || !(t->perm.pcr_banks & (1u << b)))
            continue;
        size_t bs = tcrypto_tpm_hash_size(sel.sel[i].hash);
        for (uint32_t p = 0; p < TTPM_NUM_PCRS && p < 8u * sel.sel[i].size; p++)
            if (sel.sel[i].bits[p / 8] & (1u << (p % 8)))
                ok &= tcrypto_tpm_md_update(md, t->pcr[b][p], bs) == TCRYPTO_OK;
    }
    ok &= tcrypto_tpm_md_final(md, pd) == TCRYPTO_OK;
    tcrypto_tpm_md_free(md);
    if (!ok)
        return TPM_RC_FAILURE;
    tc_buf a;
    tc_buf_init(&a);
    ttpm_attest_header(c, &a, TPM_ST_ATTEST_QUOTE, &s, &extra);
    ttpm_put_pcr_sel(&a, &sel);
    ttpm_put_2b(&a, pd, (uint16_t)tcrypto_tpm_hash_size(s.hash));
    rc = ttpm_attest_finish(c, &a, &s);
    tc_buf_free(&a);
    return rc;
}

TTPM_HANDLER(GetTime)
{
    ttpm *t = c->t;
    ttpm_ref extra;
    ttpm_signer s;
    ttpm_rc rc;
    if (c->h[0] != TPM_RH_ENDORSEMENT)
        return TPM_RC_HIERARCHY | TTPM_RC_H(1);
    if ((rc = ttpm_attest_simple_params(c, &extra, &s)) != 0)
        return rc;
    tc_buf a;
    tc_buf_init(&a);
    ttpm_attest_header(c, &a, TPM_ST_ATTEST_TIME, &s, &extra);
    tc_buf_put_u64(&a, t->time_ms);
    tc_buf_put_u64(&a, t->perm.clock);
    tc_buf_put_u32(&a, t->perm.reset_count);
    tc_buf_put_u32(&a, t->perm.restart_count);
    tc_buf_put_u8(&a, 1);
    tc_buf_put_u64(&a, 0x0000000100000000ull);
    rc = ttpm_attest_finish(c, &a, &s);
    tc_buf_free(&a);
    return rc;
}

TTPM_HANDLER(Certify)
{
    ttpm_ref extra;
    ttpm_signer s;
    ttpm_rc rc;
    ttpm_object *o = ttpm_obj_get(c->t, c->h[0]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY)
        return TPM_RC_HANDLE | TTPM_RC_H(1);
    if ((rc = ttpm_attest_simple_params(c, &extra, &s)) != 0)
        return rc;
    tc_buf a;
    tc_buf_init(&a);
    ttpm_attest_header(c, &a, TPM_ST_ATTEST_CERTIFY, &s, &extra);
    ttpm_put_2b(&a, o->name, o->name_len);
    ttpm_put_2b(&a, o->qname, o->qname_len);
    rc = ttpm_attest_finish(c, &a, &s);
    tc_buf_free(&a);
    return rc;
}

TTPM_HANDLER(CertifyCreation)
{
    ttpm_ref extra, chash, tkd;
    uint16_t scheme, hash, tag;
    uint32_t hier;
    ttpm_signer s;
    ttpm_rc rc;
    ttpm_object *o = ttpm_obj_get(c->t, c->h[1]);
    if (o == NULL || o->kind != TTPM_OBJ_KEY)
        return TPM_RC_HANDLE | TTPM_RC_H(2);
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, &extra)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &chash)) != 0)
        return ttpm_rc_param(rc, 2);
    if ((rc = ttpm_get_sig_scheme(&c->in, &scheme, &hash)) != 0)
        return ttpm_rc_param(rc, 3);
    if (ttpm_get_u16(&c->in, &tag) || ttpm_get_u32(&c->in, &hier) ||
        ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &tkd))
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(4);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    /* the creation ticket binds name and creationHash (Part 3 §18.3) */
    uint8_t tk[32];
    tcrypto_tpm_iov tv[2] = { { o->name, o->name_len }, { chash.b, chash.size } };
    if (tag != TPM_ST_CREATION || tkd.size != 32 ||
        ttpm_ticket(c->t, TPM_ST_CREATION, hier, tv, 2, tk) != 0 || !tcrypto_memeq(tk, tkd.b, 32))
        return TPM_RC_TICKET | TTPM_RC_P(4);
    if ((rc = ttpm_signer_setup(c, 0, scheme, hash, 3, &s)) != 0)
        return rc;
    tc_buf a;
    tc_buf_init(&a);
    ttpm_attest_header(c, &a, 0x801A /* TPM_ST_ATTEST_CREATION */, &s, &extra);
    ttpm_put_2b(&a, o->name, o->name_len);
    ttpm_put_2b(&a, chash.b, chash.size);
    rc = ttpm_attest_finish(c, &a, &s);
    tc_buf_free(&a);
    return rc;
}

/* ---- credentials ---------------------------------------------------------- */

static ttpm_rc credential_keys(ttpm_object *k, const uint8_t *seed, size_t sl, const uint8_t *name,
                               size_t nl, uint8_t *sym, size_t *symlen, uint8_t *hkey, size_t *hlen)
{
    uint16_t alg = k->pub.name_alg;
    uint16_t bits = k->pub.sym_alg == TPM_ALG_AES ? k->pub.sym_bits : 128;
    *symlen = bits / 8u;
    *hlen = tcrypto_tpm_hash_size(alg);
    if (tcrypto_tpm_kdfa(alg, seed, sl, "STORAGE", name, nl, NULL, 0, bits, sym) != TCRYPTO_OK ||
        tcrypto_tpm_kdfa(alg, seed, sl, "INTEGRITY", NULL, 0, NULL, 0, (uint32_t)*hlen * 8, hkey) !=
            TCRYPTO_OK)
        return TPM_RC_FAILURE;
    return TPM_RC_SUCCESS;
}

static ttpm_rc credential_key_ok(ttpm_object *k, unsigned h)
{
    if (k == NULL || k->kind != TTPM_OBJ_KEY)
        return TPM_RC_HANDLE | TTPM_RC_H(h);
    if ((k->pub.type != TPM_ALG_RSA && k->pub.type != TPM_ALG_ECC) ||
        !(k->pub.attrs & TPMA_OBJECT_DECRYPT) || !(k->pub.attrs & TPMA_OBJECT_RESTRICTED))
        return TPM_RC_TYPE | TTPM_RC_H(h);
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(MakeCredential)
{
    ttpm_ref cred, name;
    ttpm_rc rc;
    ttpm_object *k = ttpm_obj_get(c->t, c->h[0]);
    if ((rc = credential_key_ok(k, 1)) != 0)
        return rc;
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_DIGEST, &cred)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, 2 + TTPM_MAX_DIGEST, &name)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint8_t seed[TTPM_MAX_DIGEST], sym[32], hkey[TTPM_MAX_DIGEST], hmac[TTPM_MAX_DIGEST];
    uint8_t plain[2 + TTPM_MAX_DIGEST], iv[16] = { 0 };
    size_t sl, symlen, hlen;
    tc_buf secret;
    tc_buf_init(&secret);
    if ((rc = ttpm_secret_make(k, "IDENTITY", seed, &sl, &secret)) != 0)
        goto out;
    if ((rc = credential_keys(k, seed, sl, name.b, name.size, sym, &symlen, hkey, &hlen)) != 0)
        goto out;
    /* encIdentity = CFB(symKey, 0, TPM2B_DIGEST credential) */
    tc_store_u16(plain, cred.size);
    memcpy(plain + 2, cred.b, cred.size);
    size_t pl = 2u + cred.size;
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_aes_cfb(true, sym, symlen, iv, plain, pl, plain) != TCRYPTO_OK)
        goto out;
    tcrypto_tpm_iov v[2] = { { plain, pl }, { name.b, name.size } };
    if (tcrypto_tpm_hmac(k->pub.name_alg, hkey, hlen, v, 2, hmac) != TCRYPTO_OK)
        goto out;
    tc_buf_put_u16(c->out, (uint16_t)(2 + hlen + pl));
    ttpm_put_2b(c->out, hmac, (uint16_t)hlen);
    tc_buf_put(c->out, plain, pl);
    tc_buf_put(c->out, secret.p, secret.len);
    rc = secret.failed ? TPM_RC_MEMORY : TPM_RC_SUCCESS;
out:
    tc_wipe(seed, sizeof(seed));
    tc_wipe(sym, sizeof(sym));
    tc_wipe(hkey, sizeof(hkey));
    tc_buf_free(&secret);
    return rc;
}

TTPM_HANDLER(ActivateCredential)
{
    ttpm_ref blob, secret;
    ttpm_rc rc;
    ttpm_object *obj = ttpm_obj_get(c->t, c->h[0]);
    ttpm_object *k = ttpm_obj_get(c->t, c->h[1]);
    if (obj == NULL || obj->kind != TTPM_OBJ_KEY)
        return TPM_RC_HANDLE | TTPM_RC_H(1);
    if ((rc = credential_key_ok(k, 2)) != 0)
        return rc;
    if (!k->has_sens)
        return TPM_RC_KEY | TTPM_RC_H(2);
    if ((rc = ttpm_get_2b(&c->in, 0xFFFF, &blob)) != 0)
        return ttpm_rc_param(rc, 1);
    if ((rc = ttpm_get_2b(&c->in, TTPM_MAX_RSA_BYTES, &secret)) != 0)
        return ttpm_rc_param(rc, 2);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    uint8_t seed[TTPM_MAX_DIGEST], sym[32], hkey[TTPM_MAX_DIGEST], hmac[TTPM_MAX_DIGEST];
    uint8_t plain[2 + TTPM_MAX_DIGEST], iv[16] = { 0 };
    size_t sl, symlen, hlen;
    if ((rc = ttpm_secret_recover(k, "IDENTITY", &secret, seed, &sl)) != 0) {
        rc = ttpm_rc_param(rc, 2);
        goto out;
    }
    if ((rc = credential_keys(k, seed, sl, obj->name, obj->name_len, sym, &symlen, hkey, &hlen)) != 0)
        goto out;
    tc_reader r;
    ttpm_ref integ;
    tc_reader_init(&r, blob.b, blob.size);
    rc = TPM_RC_SIZE | TTPM_RC_P(1);
    if (ttpm_get_2b(&r, TTPM_MAX_DIGEST, &integ) || integ.size != hlen)
        goto out;
    size_t el = tc_reader_left(&r);
    const uint8_t *enc = r.p + r.off;
    if (el < 2 || el > sizeof(plain))
        goto out;
    tcrypto_tpm_iov v[2] = { { enc, el }, { obj->name, obj->name_len } };
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_hmac(k->pub.name_alg, hkey, hlen, v, 2, hmac) != TCRYPTO_OK)
        goto out;
    rc = TPM_RC_INTEGRITY | TTPM_RC_P(1);
    if (!tcrypto_memeq(hmac, integ.b, hlen))
        goto out;
    rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_aes_cfb(false, sym, symlen, iv, enc, el, plain) != TCRYPTO_OK)
        goto out;
    rc = TPM_RC_SIZE | TTPM_RC_P(1);
    if (tc_load_u16(plain) != el - 2)
        goto out;
    ttpm_put_2b(c->out, plain + 2, (uint16_t)(el - 2));
    rc = TPM_RC_SUCCESS;
out:
    tc_wipe(seed, sizeof(seed));
    tc_wipe(sym, sizeof(sym));
    tc_wipe(hkey, sizeof(hkey));
    tc_wipe(plain, sizeof(plain));
    return rc;
}

/* ---- ECC ----------------------------------------------------------------- */

TTPM_HANDLER(ECDH_KeyGen)
{
    ttpm_object *k = ttpm_obj_get(c->t, c->h[0]);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    if (k == NULL || k->kind != TTPM_OBJ_KEY || k->pub.type != TPM_ALG_ECC)
        return TPM_RC_KEY | TTPM_RC_H(1);
    size_t fs = tcrypto_tpm_ecc_size(k->pub.curve);
    uint8_t d[TTPM_MAX_ECC_BYTES], x[TTPM_MAX_ECC_BYTES], y[TTPM_MAX_ECC_BYTES];
    uint8_t zx[TTPM_MAX_ECC_BYTES], zy[TTPM_MAX_ECC_BYTES];
    tcrypto_tpm_key *eph = NULL;
    ttpm_rc rc = TPM_RC_FAILURE;
    if (tcrypto_tpm_ecc_generate(k->pub.curve, NULL, NULL, d, x, y) != TCRYPTO_OK ||
        tcrypto_tpm_ecc_key(k->pub.curve, x, fs, y, fs, d, fs, &eph) != TCRYPTO_OK)
        goto out;
    if (tcrypto_tpm_ecdh(eph, k->pub.x, k->pub.x_len, k->pub.y, k->pub.y_len, zx, zy) != TCRYPTO_OK) {
        rc = TPM_RC_KEY | TTPM_RC_H(1);
        goto out;
    }
    tc_buf_put_u16(c->out, (uint16_t)(4 + 2 * fs));
    ttpm_put_2b(c->out, zx, (uint16_t)fs);
    ttpm_put_2b(c->out, zy, (uint16_t)fs);
    tc_buf_put_u16(c->out, (uint16_t)(4 + 2 * fs));
    ttpm_put_2b(c->out, x, (uint16_t)fs);
    ttpm_put_2b(c->out, y, (uint16_t)fs);
    rc = TPM_RC_SUCCESS;
out:
    tcrypto_tpm_key_free(eph);
    tc_wipe(d, sizeof(d));
    tc_wipe(zx, sizeof(zx));
    tc_wipe(zy, sizeof(zy));
    return rc;
}

TTPM_HANDLER(ECDH_ZGen)
{
    ttpm_ref pt;
    ttpm_rc rc;
    ttpm_object *k = ttpm_obj_get(c->t, c->h[0]);
    if (k == NULL || k->kind != TTPM_OBJ_KEY || k->pub.type != TPM_ALG_ECC || !k->has_sens)
        return TPM_RC_KEY | TTPM_RC_H(1);
    if (!(k->pub.attrs & TPMA_OBJECT_DECRYPT) || (k->pub.attrs & TPMA_OBJECT_RESTRICTED))
        return TPM_RC_ATTRIBUTES | TTPM_RC_H(1);
    if ((rc = ttpm_get_2b(&c->in, 4 + 2 * TTPM_MAX_ECC_BYTES, &pt)) != 0)
        return ttpm_rc_param(rc, 1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    tc_reader r;
    ttpm_ref x, y;
    tc_reader_init(&r, pt.b, pt.size);
    if (ttpm_get_2b(&r, TTPM_MAX_ECC_BYTES, &x) || ttpm_get_2b(&r, TTPM_MAX_ECC_BYTES, &y) ||
        tc_reader_left(&r))
        return TPM_RC_SIZE | TTPM_RC_P(1);
    tcrypto_tpm_key *key;
    if ((rc = ttpm_obj_key(k, &key)) != 0)
        return rc;
    size_t fs = tcrypto_tpm_ecc_size(k->pub.curve);
    uint8_t zx[TTPM_MAX_ECC_BYTES], zy[TTPM_MAX_ECC_BYTES];
    if (tcrypto_tpm_ecdh(key, x.b, x.size, y.b, y.size, zx, zy) != TCRYPTO_OK)
        return TPM_RC_ECC_POINT | TTPM_RC_P(1);
    tc_buf_put_u16(c->out, (uint16_t)(4 + 2 * fs));
    ttpm_put_2b(c->out, zx, (uint16_t)fs);
    ttpm_put_2b(c->out, zy, (uint16_t)fs);
    tc_wipe(zx, sizeof(zx));
    tc_wipe(zy, sizeof(zy));
    return TPM_RC_SUCCESS;
}

TTPM_HANDLER(ECC_Parameters)
{
    uint16_t id;
    if (ttpm_get_u16(&c->in, &id) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    size_t fs = tcrypto_tpm_ecc_size(id);
    uint8_t v[6][TTPM_MAX_ECC_BYTES];
    if (fs == 0)
        return TPM_RC_CURVE | TTPM_RC_P(1);
    if (tcrypto_tpm_ecc_params(id, v[0], v[1], v[2], v[3], v[4], v[5]) != TCRYPTO_OK)
        return TPM_RC_FAILURE;
    /* TPMS_ALGORITHM_DETAIL_ECC (Part 2 §11.2.5.9) */
    tc_buf_put_u16(c->out, id);
    tc_buf_put_u16(c->out, id == TPM_ECC_NIST_P521 ? 521 : (uint16_t)(fs * 8));
    tc_buf_put_u16(c->out, TPM_ALG_NULL); /* kdf */
    tc_buf_put_u16(c->out, TPM_ALG_NULL); /* sign */
    for (int k = 0; k < 5; k++)
        ttpm_put_2b(c->out, v[k], (uint16_t)fs);
    ttpm_put_2b(c->out, v[5], (uint16_t)fs);
    uint8_t one = 1;
    ttpm_put_2b(c->out, &one, 1); /* cofactor h */
    return TPM_RC_SUCCESS;
}
