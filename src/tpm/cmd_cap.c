/*
 * TPM2_GetCapability (Part 3 §30.2) for every TPM_CAP.
 */
#include <stdlib.h>
#include <string.h>

#include "tpm/ttpm.h"

#define TPM_CAP_ALGS 0
#define TPM_CAP_HANDLES 1
#define TPM_CAP_COMMANDS 2
#define TPM_CAP_PP_COMMANDS 3
#define TPM_CAP_AUDIT_COMMANDS 4
#define TPM_CAP_PCRS 5
#define TPM_CAP_TPM_PROPERTIES 6
#define TPM_CAP_PCR_PROPERTIES 7
#define TPM_CAP_ECC_CURVES 8
#define TPM_CAP_AUTH_POLICIES 9
#define TPM_CAP_ACT 10

/* Keeps a TPMS_CAPABILITY_DATA within TPM_PT_MAX_CAP_BUFFER. */
#define MAX_CAP_BUFFER 1024

static const struct {
    uint16_t alg;
    uint32_t attrs;
} algs[] = {
    { TPM_ALG_RSA, 0x009 },     { TPM_ALG_SHA1, 0x004 },      { TPM_ALG_HMAC, 0x104 },
    { TPM_ALG_AES, 0x002 },     { TPM_ALG_MGF1, 0x404 },      { TPM_ALG_KEYEDHASH, 0x308 },
    { TPM_ALG_XOR, 0x006 },     { TPM_ALG_SHA256, 0x004 },    { TPM_ALG_SHA384, 0x004 },
    { TPM_ALG_SHA512, 0x004 },  { TPM_ALG_NULL, 0x000 },      { TPM_ALG_RSASSA, 0x101 },
    { TPM_ALG_RSAES, 0x201 },   { TPM_ALG_RSAPSS, 0x101 },    { TPM_ALG_OAEP, 0x201 },
    { TPM_ALG_ECDSA, 0x101 },   { TPM_ALG_ECDH, 0x401 },      { TPM_ALG_ECDAA, 0x101 },
    { TPM_ALG_KDF1_SP800_56A, 0x404 },
    { TPM_ALG_KDF2, 0x404 },    { TPM_ALG_KDF1_SP800_108, 0x404 }, { TPM_ALG_ECC, 0x009 },
    { TPM_ALG_SYMCIPHER, 0x008 }, { TPM_ALG_CTR, 0x202 },     { TPM_ALG_OFB, 0x202 },
    { TPM_ALG_CBC, 0x202 },     { TPM_ALG_CFB, 0x202 },       { TPM_ALG_ECB, 0x202 },
};

static bool cc_writes_nv(uint32_t cc)
{
    switch (cc) {
    case 0x11F: case 0x120: case 0x121: case 0x122: case 0x126: case 0x127: case 0x128:
    case 0x129: case 0x12A: case 0x12B: case 0x12E: case 0x134: case 0x135: case 0x136:
    case 0x137: case 0x138: case 0x139: case 0x13A: case 0x13B: case 0x144: case 0x145:
        return true;
    default:
        return false;
    }
}

typedef struct {
    uint32_t prop, value;
} tagged;

static size_t properties(ttpm *t, tagged *p)
{
    size_t n = 0, ncmd;
    ttpm_perm *pm = &t->perm;
    (void)ttpm_cmd_table(&ncmd);
    unsigned nv = 0, counters = 0, persist = 0, loaded_obj = 0, sess_loaded = 0, sess_all = 0;
    for (unsigned i = 0; i < TTPM_MAX_NV; i++) {
        if (pm->nv[i].used) {
            nv++;
            if (((pm->nv[i].attrs & TPMA_NV_TPM_NT_MASK) >> 4) == TPM_NT_COUNTER)
                counters++;
        }
    }
    for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++)
        persist += pm->persist[i].used;
    for (unsigned i = 0; i < TTPM_MAX_OBJECTS; i++)
        loaded_obj += t->obj[i].used;
    for (unsigned i = 0; i < TTPM_MAX_SESSIONS; i++) {
        sess_all += t->sess[i].used;
        sess_loaded += t->sess[i].used && t->sess[i].loaded;
    }
    uint32_t permanent = (pm->owner_auth_len ? 1u : 0) | (pm->endorsement_auth_len ? 2u : 0) |
                         (pm->lockout_auth_len ? 4u : 0) | (pm->disable_clear ? 0x100u : 0) |
                         (pm->failed_tries >= pm->max_tries ? 0x200u : 0) | 0x400u;
    uint32_t startup = (t->ph_enable ? 1u : 0) | (t->sh_enable ? 2u : 0) |
                       (t->eh_enable ? 4u : 0) | (t->ph_enable_nv ? 8u : 0) |
                       (pm->orderly ? 0x80000000u : 0);
    const tagged fixed[] = {
        { 0x100, 0x322E3000 },          /* FAMILY_INDICATOR "2.0" */
        { 0x101, 0 },                   /* LEVEL */
        { 0x102, 159 },                 /* REVISION 1.59 */
        { 0x103, 1 },                   /* DAY_OF_YEAR */
        { 0x104, 2026 },                /* YEAR */
        { 0x105, 0x54535241 },          /* MANUFACTURER "TSRA" */
        { 0x106, 0x54455353 },          /* VENDOR_STRING_1 "TESS" */
        { 0x107, 0x45524100 },          /* "ERA" */
        { 0x108, 0 },
        { 0x109, 0 },
        { 0x10A, 1 },                   /* VENDOR_TPM_TYPE */
        { 0x10B, 0x00000001 },          /* FIRMWARE_VERSION_1 */
        { 0x10C, 0 },
        { 0x10D, 1024 },                /* INPUT_BUFFER */
        { 0x10E, t->max_objects },      /* HR_TRANSIENT_MIN */
        { 0x10F, TTPM_MAX_PERSISTENT }, /* HR_PERSISTENT_MIN */
        { 0x110, t->max_loaded_sessions }, /* HR_LOADED_MIN */
        { 0x111, TTPM_MAX_SESSIONS },   /* ACTIVE_SESSIONS_MAX */
        { 0x112, TTPM_NUM_PCRS },       /* PCR_COUNT */
        { 0x113, 3 },                   /* PCR_SELECT_MIN */
        { 0x114, 0xFFFF },              /* CONTEXT_GAP_MAX */
        { 0x116, TTPM_MAX_NV },         /* NV_COUNTERS_MAX */
        { 0x117, TTPM_NV_MAX_SIZE },    /* NV_INDEX_MAX */
        { 0x118, 0x6 },                 /* MEMORY: sharedNV | objectCopiedToRam */
        { 0x119, 0x400000 },            /* CLOCK_UPDATE */
        { 0x11A, TPM_ALG_SHA256 },      /* CONTEXT_HASH */
        { 0x11B, TPM_ALG_AES },         /* CONTEXT_SYM */
        { 0x11C, 256 },                 /* CONTEXT_SYM_SIZE */
        { 0x11D, 255 },                 /* ORDERLY_COUNT */
        { 0x11E, TTPM_MAX_COMMAND },    /* MAX_COMMAND_SIZE */
        { 0x11F, TTPM_MAX_COMMAND },    /* MAX_RESPONSE_SIZE */
        { 0x120, TTPM_MAX_DIGEST },     /* MAX_DIGEST */
        { 0x121, 2560 },                /* MAX_OBJECT_CONTEXT */
        { 0x122, 512 },                 /* MAX_SESSION_CONTEXT */
        { 0x123, 1 },                   /* PS_FAMILY_INDICATOR: PC Client */
        { 0x124, 0 },
        { 0x125, 0x105 },
        { 0x126, 0 },
        { 0x127, 0 },
        { 0x128, 128 },                 /* SPLIT_MAX */
        { 0x129, (uint32_t)ncmd },      /* TOTAL_COMMANDS */
        { 0x12A, (uint32_t)ncmd },      /* LIBRARY_COMMANDS */
        { 0x12B, 0 },                   /* VENDOR_COMMANDS */
        { 0x12C, 1024 },                /* NV_BUFFER_MAX */
        { 0x12D, 0 },                   /* MODES */
        { 0x12E, MAX_CAP_BUFFER },      /* MAX_CAP_BUFFER */
        { 0x200, permanent },
        { 0x201, startup },
        { 0x202, nv },
        { 0x203, sess_loaded },
        { 0x204, TTPM_MAX_SESSIONS - sess_all },
        { 0x205, sess_all - sess_loaded },
        { 0x206, t->max_loaded_sessions - sess_loaded < TTPM_MAX_SESSIONS - sess_all
                     ? t->max_loaded_sessions - sess_loaded : TTPM_MAX_SESSIONS - sess_all },
        { 0x207, t->max_objects - loaded_obj },
        { 0x208, persist },
        { 0x209, TTPM_MAX_PERSISTENT - persist },
        { 0x20A, counters },
        { 0x20B, TTPM_MAX_NV - nv },
        { 0x20C, 0 },
        { 0x20D, 3 },
        { 0x20E, pm->failed_tries },
        { 0x20F, pm->max_tries },
        { 0x210, pm->recovery_time },
        { 0x211, pm->lockout_recovery },
        { 0x212, 0 },
        { 0x213, (uint32_t)(pm->audit_counter >> 32) },
        { 0x214, (uint32_t)pm->audit_counter },
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(fixed); i++)
        p[n++] = fixed[i];
    return n;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static size_t handles(ttpm *t, uint32_t start, uint32_t *out, size_t cap)
{
    size_t n = 0;
    uint8_t ht = ttpm_handle_type(start);
    switch (ht) {
    case TPM_HT_PCR:
        for (uint32_t i = 0; i < TTPM_NUM_PCRS && n < cap; i++)
            out[n++] = i;
        break;
    case TPM_HT_NV_INDEX:
        for (unsigned i = 0; i < TTPM_MAX_NV && n < cap; i++)
            if (t->perm.nv[i].used)
                out[n++] = t->perm.nv[i].index;
        break;
    case TPM_HT_HMAC_SESSION: /* TPM_HT_LOADED_SESSION */
    case TPM_HT_POLICY_SESSION: /* TPM_HT_SAVED_SESSION */
        for (unsigned i = 0; i < TTPM_MAX_SESSIONS && n < cap; i++)
            if (t->sess[i].used && t->sess[i].loaded == (ht == TPM_HT_HMAC_SESSION))
                out[n++] = t->sess[i].handle;
        break;
    case TPM_HT_PERMANENT: {
        static const uint32_t perm[] = { TPM_RH_OWNER, TPM_RH_NULL, TPM_RS_PW, TPM_RH_LOCKOUT,
                                         TPM_RH_ENDORSEMENT, TPM_RH_PLATFORM, TPM_RH_PLATFORM_NV };
        for (size_t i = 0; i < TC_ARRAY_LEN(perm) && n < cap; i++)
            out[n++] = perm[i];
        break;
    }
    case TPM_HT_TRANSIENT:
        for (unsigned i = 0; i < TTPM_MAX_OBJECTS && n < cap; i++)
            if (t->obj[i].used)
                out[n++] = t->obj[i].handle;
        break;
    case TPM_HT_PERSISTENT:
        for (unsigned i = 0; i < TTPM_MAX_PERSISTENT && n < cap; i++)
            if (t->perm.persist[i].used)
                out[n++] = t->perm.persist[i].handle;
        break;
    default:
        break;
    }
    qsort(out, n, sizeof(*out), cmp_u32);
    return n;
}

TTPM_HANDLER(GetCapability)
{
    uint32_t cap, prop, count;
    ttpm *t = c->t;
    if (ttpm_get_u32(&c->in, &cap) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(1);
    if (ttpm_get_u32(&c->in, &prop) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(2);
    if (ttpm_get_u32(&c->in, &count) != 0)
        return TPM_RC_INSUFFICIENT | TTPM_RC_P(3);
    if (!ttpm_params_end(c))
        return TPM_RC_SIZE;
    tc_buf *o = c->out;
    size_t more_at = o->len;
    tc_buf_put_u8(o, 0);
    tc_buf_put_u32(o, cap);
    size_t n = 0;
    bool more = false;
    switch (cap) {
    case TPM_CAP_ALGS: {
        size_t max = (MAX_CAP_BUFFER - 8) / 6;
        if (count > max)
            count = (uint32_t)max;
        size_t at = o->len;
        tc_buf_put_u32(o, 0);
        for (size_t i = 0; i < TC_ARRAY_LEN(algs); i++) {
            if (algs[i].alg < prop)
                continue;
            if (n == count) {
                more = true;
                break;
            }
            tc_buf_put_u16(o, algs[i].alg);
            tc_buf_put_u32(o, algs[i].attrs);
            n++;
        }
        if (!o->failed)
            tc_store_u32(o->p + at, (uint32_t)n);
        break;
    }
    case TPM_CAP_HANDLES: {
        uint32_t hs[TTPM_MAX_NV + TTPM_MAX_SESSIONS + TTPM_MAX_OBJECTS + TTPM_MAX_PERSISTENT];
        size_t total = handles(t, prop, hs, TC_ARRAY_LEN(hs));
        size_t max = (MAX_CAP_BUFFER - 8) / 4;
        if (count > max)
            count = (uint32_t)max;
        size_t at = o->len;
        tc_buf_put_u32(o, 0);
        for (size_t i = 0; i < total; i++) {
            if (hs[i] < prop)
                continue;
            if (n == count) {
                more = true;
                break;
            }
            tc_buf_put_u32(o, hs[i]);
            n++;
        }
        if (!o->failed)
            tc_store_u32(o->p + at, (uint32_t)n);
        break;
    }
    case TPM_CAP_COMMANDS: {
        size_t ncmd;
        const ttpm_cmd_info *tab = ttpm_cmd_table(&ncmd);
        size_t max = (MAX_CAP_BUFFER - 8) / 4;
        if (count > max)
            count = (uint32_t)max;
        size_t at = o->len;
        tc_buf_put_u32(o, 0);
        for (size_t i = 0; i < ncmd; i++) {
            if (tab[i].cc < prop)
                continue;
            if (n == count) {
                more = true;
                break;
            }
            /* TPMA_CC (Part 2 §8.9) */
            uint32_t a = (tab[i].cc & 0xFFFF) | (cc_writes_nv(tab[i].cc) ? 1u << 22 : 0) |
                         ((uint32_t)tab[i].handles << 25) | (tab[i].out_handle ? 1u << 28 : 0);
            if (tab[i].cc == 0x165)
                a |= 1u << 24; /* flushed */
            tc_buf_put_u32(o, a);
            n++;
        }
        if (!o->failed)
            tc_store_u32(o->p + at, (uint32_t)n);
        break;
    }
    case TPM_CAP_PP_COMMANDS:
        tc_buf_put_u32(o, 0);
        break;
    case TPM_CAP_AUDIT_COMMANDS: {
        size_t at = o->len;
        tc_buf_put_u32(o, 0);
        for (uint32_t cc = 0x11F; cc < 0x11F + 8 * sizeof(t->perm.audit_cc); cc++) {
            uint32_t bit = cc - 0x11F;
            if (!(t->perm.audit_cc[bit / 8] & (1u << (bit % 8))) || cc < prop)
                continue;
            if (n == count) {
                more = true;
                break;
            }
            tc_buf_put_u32(o, cc);
            n++;
        }
        if (!o->failed)
            tc_store_u32(o->p + at, (uint32_t)n);
        break;
    }
    case TPM_CAP_PCRS: {
        ttpm_pcr_sel s;
        memset(&s, 0, sizeof(s));
        for (int b = 0; b < TTPM_NUM_BANKS; b++) {
            s.sel[s.count].hash = ttpm_bank_alg(b);
            s.sel[s.count].size = 3;
            if (t->perm.pcr_banks & (1u << b))
                memset(s.sel[s.count].bits, 0xFF, 3);
            s.count++;
        }
        ttpm_put_pcr_sel(o, &s);
        break;
    }
    case TPM_CAP_TPM_PROPERTIES: {
        tagged p[96];
        size_t total = properties(t, p);
        size_t max = (MAX_CAP_BUFFER - 8) / 8;
        if (count > max)
            count = (uint32_t)max;
        size_t at = o->len;
        tc_buf_put_u32(o, 0);
        for (size_t i = 0; i < total; i++) {
            if (p[i].prop < prop)
                continue;
            if (n == count) {
                more = true;
                break;
            }
            tc_buf_put_u32(o, p[i].prop);
            tc_buf_put_u32(o, p[i].value);
            n++;
        }
        if (!o->failed)
            tc_store_u32(o->p + at, (uint32_t)n);
        break;
    }
    case TPM_CAP_PCR_PROPERTIES: {
        static const struct {
            uint32_t tag;
            uint8_t bits[3];
        } pp[] = {
            { 0x00, { 0xFF, 0xFF, 0x00 } }, /* SAVE: 0..15 */
            { 0x01, { 0xFF, 0xFF, 0xFF } }, /* EXTEND_L0 */
            { 0x02, { 0x00, 0x00, 0x81 } }, /* RESET_L0: 16, 23 */
            { 0x03, { 0xFF, 0xFF, 0xFF } }, /* EXTEND_L1 */
            { 0x04, { 0x00, 0x00, 0x81 } }, /* RESET_L1 */
            { 0x05, { 0xFF, 0xFF, 0xFF } }, /* EXTEND_L2 */
            { 0x06, { 0x00, 0x00, 0x81 } }, /* RESET_L2 */
            { 0x07, { 0xFF, 0xFF, 0xFF } }, /* EXTEND_L3 */
            { 0x08, { 0x00, 0x00, 0x81 } }, /* RESET_L3 */
            { 0x09, { 0xFF, 0xFF, 0xFF } }, /* EXTEND_L4 */
            { 0x0A, { 0x00, 0x00, 0x81 } }, /* RESET_L4 */
            { 0x11, { 0x00, 0x00, 0x00 } }, /* NO_INCREMENT */
            { 0x12, { 0x00, 0x00, 0x7E } }, /* DRTM_RESET: 17..22 */
            { 0x13, { 0x00, 0x00, 0x70 } }, /* POLICY: the PCR_SetAuthPolicy group, 20..22 */
            { 0x14, { 0x00, 0x00, 0x70 } }, /* AUTH: the PCR_SetAuthValue group, 20..22 */
        };
        size_t at = o->len;
        tc_buf_put_u32(o, 0);
        for (size_t i = 0; i < TC_ARRAY_LEN(pp); i++) {
            if (pp[i].tag < prop)
                continue;
            if (n == count) {
                more = true;
                break;
            }
            tc_buf_put_u32(o, pp[i].tag);
            tc_buf_put_u8(o, 3);
            tc_buf_put(o, pp[i].bits, 3);
            n++;
        }
        if (!o->failed)
            tc_store_u32(o->p + at, (uint32_t)n);
        break;
    }
    case TPM_CAP_ECC_CURVES: {
        static const uint16_t curves[] = { TPM_ECC_NIST_P256, TPM_ECC_NIST_P384,
                                           TPM_ECC_NIST_P521 };
        size_t at = o->len;
        tc_buf_put_u32(o, 0);
        for (size_t i = 0; i < TC_ARRAY_LEN(curves); i++) {
            if (curves[i] < prop)
                continue;
            if (n == count) {
                more = true;
                break;
            }
            tc_buf_put_u16(o, curves[i]);
            n++;
        }
        if (!o->failed)
            tc_store_u32(o->p + at, (uint32_t)n);
        break;
    }
    case TPM_CAP_AUTH_POLICIES: {
        static const uint32_t hs[] = { TPM_RH_OWNER, TPM_RH_LOCKOUT, TPM_RH_ENDORSEMENT,
                                       TPM_RH_PLATFORM };
        size_t at = o->len;
        tc_buf_put_u32(o, 0);
        for (size_t i = 0; i < TC_ARRAY_LEN(hs); i++) {
            if (hs[i] < prop)
                continue;
            if (n == count) {
                more = true;
                break;
            }
            const uint8_t *pol;
            uint16_t len, alg;
            if (!ttpm_entity_policy(t, hs[i], &pol, &len, &alg))
                continue;
            tc_buf_put_u32(o, hs[i]);
            tc_buf_put_u16(o, alg);
            tc_buf_put(o, pol, tcrypto_tpm_hash_size(alg));
            n++;
        }
        if (!o->failed)
            tc_store_u32(o->p + at, (uint32_t)n);
        break;
    }
    case TPM_CAP_ACT:
        tc_buf_put_u32(o, 0);
        break;
    default:
        return TPM_RC_VALUE | TTPM_RC_P(1);
    }
    if (more && !o->failed)
        o->p[more_at] = 1;
    return TPM_RC_SUCCESS;
}
