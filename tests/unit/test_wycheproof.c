/*
 * Project Wycheproof vectors run through the PKCS#11 function list: keys
 * are imported with C_CreateObject, then C_Verify / C_Decrypt / C_DeriveKey
 * must accept every `valid` case (with the expected output) and reject every
 * `invalid` one; `acceptable` cases may go either way. Cases whose
 * parameters PKCS#11 cannot express (a GCM IV of 0 or more than 256 bytes,
 * a tag length outside SP 800-38D's set) are counted as not applicable and
 * reported, never as passes.
 *
 * Vectors: $TESSERA_VECTORS_DIR/wycheproof (see ../shared/vectors/README.md).
 */
#include <jansson.h>

#include "test_p11_util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static CK_SESSION_HANDLE S;
static CK_BBOOL T = CK_TRUE, F = CK_FALSE;

typedef struct {
    const char *file;
    unsigned valid, invalid, acceptable, na, failures;
    unsigned na_der; /* ECDSA: invalid DER sent to the module unconverted */
} tally;

static int group_setup(void **state)
{
    (void)state;
    t_env_setup();
    CK_SLOT_ID slot;
    return t_user_session("wycheproof", &slot, &S);
}

/* ---- JSON / hex helpers ------------------------------------------------------------ */

static json_t *load(const char *name)
{
    const char *dir = getenv("TESSERA_VECTORS_DIR");
    char path[1024];
    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/wycheproof/%s", dir, name);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (root == NULL)
        fail_msg("%s: %s (line %d)", path, err.text, err.line);
    return root;
}

/* Hex string field -> malloc'd bytes (at least 1 byte allocated). */
static uint8_t *hexf(json_t *obj, const char *key, size_t *len)
{
    const char *h = json_string_value(json_object_get(obj, key));
    assert_non_null(h);
    size_t n = strlen(h);
    assert_int_equal(n % 2, 0);
    uint8_t *b = malloc(n / 2 + 1);
    assert_non_null(b);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        b[i] = (uint8_t)v;
    }
    *len = n / 2;
    return b;
}

/* Strip leading zero bytes of a big-endian integer (keeps at least one). */
static const uint8_t *strip(const uint8_t *p, size_t *n)
{
    while (*n > 1 && p[0] == 0) {
        p++;
        (*n)--;
    }
    return p;
}

static const char *result_of(json_t *t)
{
    return json_string_value(json_object_get(t, "result"));
}

static int tc_id(json_t *t)
{
    return (int)json_integer_value(json_object_get(t, "tcId"));
}

/* Score one case: ok = the module accepted it (and gave the right output). */
static void score(tally *y, json_t *t, bool ok, CK_RV rv)
{
    const char *r = result_of(t);
    if (strcmp(r, "acceptable") == 0) {
        y->acceptable++;
        return;
    }
    bool want = strcmp(r, "valid") == 0;
    if (want)
        y->valid++;
    else
        y->invalid++;
    if (ok != want) {
        y->failures++;
        if (y->failures <= 10)
            fprintf(stderr, "%s: tcId %d (%s) expected %s, got %s (rv 0x%lx)\n", y->file,
                    tc_id(t), json_string_value(json_object_get(t, "comment")), r,
                    ok ? "accepted" : "rejected", (unsigned long)rv);
    }
}

/* A rejection must come with one of the codes PKCS#11 gives for it. */
static void reject_code(tally *y, json_t *t, CK_RV rv, const CK_RV *ok_codes, size_t n)
{
    if (rv == CKR_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (rv == ok_codes[i])
            return;
    }
    y->failures++;
    fprintf(stderr, "%s: tcId %d rejected with unexpected rv 0x%lx\n", y->file, tc_id(t),
            (unsigned long)rv);
}

static const CK_RV DEC_CODES[] = {CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE};
static const CK_RV MAC_CODES[] = {CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE,
                                  CKR_ATTRIBUTE_VALUE_INVALID, CKR_MECHANISM_PARAM_INVALID};
static const CK_RV DERIVE_CODES[] = {CKR_MECHANISM_PARAM_INVALID, CKR_ATTRIBUTE_VALUE_INVALID,
                                     CKR_TEMPLATE_INCONSISTENT};

static void report(tally *y)
{
    fprintf(stderr, "%-45s valid %4u invalid %4u acceptable %3u n/a %3u failures %u\n", y->file,
            y->valid, y->invalid, y->acceptable, y->na, y->failures);
    if (y->na_der != 0)
        fprintf(stderr, "%-45s of the invalid: %u not DER, sent unconverted\n", y->file,
                y->na_der);
    assert_int_equal(y->failures, 0);
    assert_true(y->valid + y->invalid > 0);
}

static void destroy(CK_OBJECT_HANDLE h)
{
    if (h != CK_INVALID_HANDLE)
        assert_int_equal(f->C_DestroyObject(S, h), CKR_OK);
}

/* ---- objects ------------------------------------------------------------------------ */

static CK_RV secret_obj(CK_KEY_TYPE kt, const uint8_t *v, size_t n, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_VALUE, (void *)v, n},
        {CKA_TOKEN, &F, 1},         {CKA_ENCRYPT, &T, 1},            {CKA_DECRYPT, &T, 1},
        {CKA_SIGN, &T, 1},          {CKA_VERIFY, &T, 1},             {CKA_DERIVE, &T, 1},
    };
    return f->C_CreateObject(S, t, ARRAY_LEN(t), h);
}

static const uint8_t OID_P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t OID_P384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t OID_P521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
static const uint8_t OID_ED25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t OID_ED448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
static const uint8_t OID_X25519[] = {0x06, 0x03, 0x2b, 0x65, 0x6e};
static const uint8_t OID_X448[] = {0x06, 0x03, 0x2b, 0x65, 0x6f};

static CK_RV ec_pub_obj(CK_KEY_TYPE kt, const uint8_t *oid, size_t oidlen, const uint8_t *pt,
                        size_t ptlen, CK_OBJECT_HANDLE *h)
{
    uint8_t der[300];
    size_t dl = 0;
    der[dl++] = 0x04;
    if (ptlen >= 128)
        der[dl++] = 0x81;
    der[dl++] = (uint8_t)ptlen;
    memcpy(der + dl, pt, ptlen);
    dl += ptlen;
    CK_OBJECT_CLASS c = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)},        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_EC_PARAMS, (void *)oid, oidlen}, {CKA_EC_POINT, der, dl},
        {CKA_TOKEN, &F, 1},                {CKA_VERIFY, &T, 1},
    };
    return f->C_CreateObject(S, t, ARRAY_LEN(t), h);
}

static CK_RV ec_priv_obj(CK_KEY_TYPE kt, const uint8_t *oid, size_t oidlen, const uint8_t *v,
                         size_t vlen, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)},           {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_EC_PARAMS, (void *)oid, oidlen}, {CKA_VALUE, (void *)v, vlen},
        {CKA_TOKEN, &F, 1},                   {CKA_DERIVE, &T, 1},
        {CKA_PRIVATE, &T, 1},
    };
    return f->C_CreateObject(S, t, ARRAY_LEN(t), h);
}

/* RSA public or private key from the group's publicKey / privateKey. */
static CK_OBJECT_HANDLE rsa_obj(json_t *key, bool priv)
{
    static const struct {
        const char *name;
        CK_ATTRIBUTE_TYPE type;
    } parts[] = {
        {"modulus", CKA_MODULUS},      {"publicExponent", CKA_PUBLIC_EXPONENT},
        {"privateExponent", CKA_PRIVATE_EXPONENT}, {"prime1", CKA_PRIME_1},
        {"prime2", CKA_PRIME_2},       {"exponent1", CKA_EXPONENT_1},
        {"exponent2", CKA_EXPONENT_2}, {"coefficient", CKA_COEFFICIENT},
    };
    uint8_t *bufs[8] = {0};
    CK_OBJECT_CLASS c = priv ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE t[16] = {
        {CKA_CLASS, &c, sizeof(c)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_TOKEN, &F, 1},
    };
    CK_ULONG n = 3;
    if (priv) {
        t[n++] = (CK_ATTRIBUTE){CKA_DECRYPT, &T, 1};
        t[n++] = (CK_ATTRIBUTE){CKA_PRIVATE, &T, 1};
    } else {
        t[n++] = (CK_ATTRIBUTE){CKA_VERIFY, &T, 1};
    }
    for (size_t i = 0; i < (priv ? 8u : 2u); i++) {
        size_t len;
        bufs[i] = hexf(key, parts[i].name, &len);
        const uint8_t *p = strip(bufs[i], &len);
        t[n++] = (CK_ATTRIBUTE){parts[i].type, (void *)p, len};
    }
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = f->C_CreateObject(S, t, n, &h);
    for (size_t i = 0; i < 8; i++)
        free(bufs[i]);
    assert_int_equal(rv, CKR_OK);
    return h;
}

static CK_MECHANISM_TYPE hash_mech(const char *sha)
{
    if (strcmp(sha, "SHA-1") == 0)
        return CKM_SHA_1;
    if (strcmp(sha, "SHA-224") == 0)
        return CKM_SHA224;
    if (strcmp(sha, "SHA-256") == 0)
        return CKM_SHA256;
    if (strcmp(sha, "SHA-384") == 0)
        return CKM_SHA384;
    if (strcmp(sha, "SHA-512") == 0)
        return CKM_SHA512;
    fail_msg("unknown hash %s", sha);
    return 0;
}

static CK_RSA_PKCS_MGF_TYPE mgf_of(const char *sha)
{
    switch (hash_mech(sha)) {
    case CKM_SHA_1: return CKG_MGF1_SHA1;
    case CKM_SHA224: return CKG_MGF1_SHA224;
    case CKM_SHA256: return CKG_MGF1_SHA256;
    case CKM_SHA384: return CKG_MGF1_SHA384;
    default: return CKG_MGF1_SHA512;
    }
}

/* ---- signature verification ------------------------------------------------------------ */

static CK_RV do_verify(CK_MECHANISM *m, CK_OBJECT_HANDLE k, const uint8_t *msg, size_t ml,
                       const uint8_t *sig, size_t sl)
{
    CK_RV rv = f->C_VerifyInit(S, m, k);
    if (rv != CKR_OK)
        return rv;
    return f->C_Verify(S, (CK_BYTE_PTR)msg, ml, (CK_BYTE_PTR)sig, sl);
}

/* A DER length, minimal encoding only (X.690 §10.1). */
static bool der_len(const uint8_t *p, size_t n, size_t *off, size_t *len)
{
    if (*off >= n)
        return false;
    uint8_t b = p[(*off)++];
    if (b < 0x80) {
        *len = b;
        return true;
    }
    if (b == 0x81) {
        if (*off >= n || p[*off] < 0x80)
            return false;
        *len = p[(*off)++];
        return true;
    }
    if (b == 0x82) {
        if (n - *off < 2 || p[*off] == 0)
            return false;
        *len = ((size_t)p[*off] << 8) | p[*off + 1];
        *off += 2;
        return *len >= 256;
    }
    return false;
}

/* One DER INTEGER, positive, minimally encoded, into out (flen bytes). */
static bool der_int(const uint8_t *p, size_t n, size_t *off, uint8_t *out, size_t flen)
{
    size_t len;
    if (*off >= n || p[(*off)++] != 0x02 || !der_len(p, n, off, &len) || len == 0 ||
        n - *off < len)
        return false;
    const uint8_t *v = p + *off;
    *off += len;
    if (v[0] & 0x80)
        return false; /* negative */
    if (len > 1 && v[0] == 0 && !(v[1] & 0x80))
        return false; /* non-minimal */
    if (v[0] == 0) {
        v++;
        len--;
    }
    if (len > flen)
        return false;
    memset(out, 0, flen - len);
    memcpy(out + flen - len, v, len);
    return true;
}

/* ECDSA-Sig-Value (SEC 1 §C.8) -> r||s, strict DER. */
static bool der_to_rs(const uint8_t *p, size_t n, size_t flen, uint8_t *rs)
{
    size_t off = 0, len;
    if (n < 2 || p[off++] != 0x30 || !der_len(p, n, &off, &len) || n - off != len)
        return false;
    if (!der_int(p, n, &off, rs, flen) || !der_int(p, n, &off, rs + flen, flen))
        return false;
    return off == n;
}

static void run_ecdsa(const char *file, bool p1363)
{
    tally y = {file, 0, 0, 0, 0, 0};
    json_t *root = load(file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        json_t *pk = json_object_get(g, "publicKey");
        const char *curve = json_string_value(json_object_get(pk, "curve"));
        const uint8_t *oid = OID_P256;
        size_t oidlen = sizeof(OID_P256), flen = 32;
        if (strcmp(curve, "secp384r1") == 0)
            oid = OID_P384, oidlen = sizeof(OID_P384), flen = 48;
        else if (strcmp(curve, "secp521r1") == 0)
            oid = OID_P521, oidlen = sizeof(OID_P521), flen = 66;
        size_t ptl;
        uint8_t *pt = hexf(pk, "uncompressed", &ptl);
        CK_OBJECT_HANDLE h;
        assert_int_equal(ec_pub_obj(CKK_EC, oid, oidlen, pt, ptl, &h), CKR_OK);
        free(pt);
        CK_MECHANISM_TYPE hm = hash_mech(json_string_value(json_object_get(g, "sha")));
        CK_MECHANISM m = {hm == CKM_SHA256   ? CKM_ECDSA_SHA256
                          : hm == CKM_SHA384 ? CKM_ECDSA_SHA384
                          : hm == CKM_SHA512 ? CKM_ECDSA_SHA512
                          : hm == CKM_SHA224 ? CKM_ECDSA_SHA224
                                             : CKM_ECDSA_SHA1,
                          NULL, 0};
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t ml, sl;
            uint8_t *msg = hexf(t, "msg", &ml), *sig = hexf(t, "sig", &sl);
            uint8_t rs[132];
            CK_RV rv;
            /* Every case reaches the module; the test never answers for it.
             * PKCS#11 takes r||s, so a DER signature is converted when it
             * is strict DER. One that is not (all of them `invalid`) goes
             * to the module as it is, as an application that forgot the
             * conversion would pass it, and must be refused. */
            if (p1363) {
                rv = do_verify(&m, h, msg, ml, sig, sl);
            } else if (der_to_rs(sig, sl, flen, rs)) {
                rv = do_verify(&m, h, msg, ml, rs, 2 * flen);
                /* The DER form itself is never a valid r||s. */
                CK_RV raw = do_verify(&m, h, msg, ml, sig, sl);
                if (raw != CKR_SIGNATURE_INVALID && raw != CKR_SIGNATURE_LEN_RANGE)
                    fail_msg("%s tcId %d: DER bytes as r||s gave rv 0x%lx", file, tc_id(t),
                             (unsigned long)raw);
            } else {
                if (strcmp(result_of(t), "invalid") != 0)
                    fail_msg("%s tcId %d: %s case is not strict DER: the test's parser is wrong",
                             file, tc_id(t), result_of(t));
                rv = do_verify(&m, h, msg, ml, sig, sl);
                y.na_der++;
            }
            if (rv != CKR_OK && rv != CKR_SIGNATURE_INVALID && rv != CKR_SIGNATURE_LEN_RANGE)
                fail_msg("%s tcId %d: unexpected rv 0x%lx", file, tc_id(t), (unsigned long)rv);
            score(&y, t, rv == CKR_OK, rv);
            free(msg);
            free(sig);
        }
        destroy(h);
    }
    json_decref(root);
    report(&y);
}

static void test_ecdsa_p256_p1363(void **state)
{
    (void)state;
    run_ecdsa("ecdsa_secp256r1_sha256_p1363_test.json", true);
}

static void test_ecdsa_p256(void **state)
{
    (void)state;
    run_ecdsa("ecdsa_secp256r1_sha256_test.json", false);
}

static void test_ecdsa_p384(void **state)
{
    (void)state;
    run_ecdsa("ecdsa_secp384r1_sha384_test.json", false);
}

static void test_ecdsa_p521(void **state)
{
    (void)state;
    run_ecdsa("ecdsa_secp521r1_sha512_test.json", false);
}

static void run_eddsa(const char *file, const uint8_t *oid, size_t oidlen)
{
    tally y = {file, 0, 0, 0, 0, 0};
    json_t *root = load(file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        size_t pl;
        uint8_t *pk = hexf(json_object_get(g, "publicKey"), "pk", &pl);
        CK_OBJECT_HANDLE h;
        assert_int_equal(ec_pub_obj(CKK_EC_EDWARDS, oid, oidlen, pk, pl, &h), CKR_OK);
        free(pk);
        CK_MECHANISM m = {CKM_EDDSA, NULL, 0};
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t ml, sl;
            uint8_t *msg = hexf(t, "msg", &ml), *sig = hexf(t, "sig", &sl);
            CK_RV rv = do_verify(&m, h, msg, ml, sig, sl);
            if (rv != CKR_OK && rv != CKR_SIGNATURE_INVALID && rv != CKR_SIGNATURE_LEN_RANGE)
                fail_msg("%s tcId %d: unexpected rv 0x%lx", file, tc_id(t), (unsigned long)rv);
            score(&y, t, rv == CKR_OK, rv);
            free(msg);
            free(sig);
        }
        destroy(h);
    }
    json_decref(root);
    report(&y);
}

static void test_ed25519(void **state)
{
    (void)state;
    run_eddsa("ed25519_test.json", OID_ED25519, sizeof(OID_ED25519));
}

static void test_ed448(void **state)
{
    (void)state;
    run_eddsa("ed448_test.json", OID_ED448, sizeof(OID_ED448));
}

static void run_rsa_sig(const char *file, bool pss)
{
    tally y = {file, 0, 0, 0, 0, 0};
    json_t *root = load(file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        CK_OBJECT_HANDLE h = rsa_obj(json_object_get(g, "publicKey"), false);
        const char *sha = json_string_value(json_object_get(g, "sha"));
        CK_MECHANISM_TYPE hm = hash_mech(sha);
        CK_RSA_PKCS_PSS_PARAMS pp;
        CK_MECHANISM m = {0, NULL, 0};
        if (pss) {
            pp.hashAlg = hm;
            pp.mgf = mgf_of(json_string_value(json_object_get(g, "mgfSha")));
            pp.sLen = (CK_ULONG)json_integer_value(json_object_get(g, "sLen"));
            m.mechanism = hm == CKM_SHA256 ? CKM_SHA256_RSA_PKCS_PSS
                          : hm == CKM_SHA384 ? CKM_SHA384_RSA_PKCS_PSS
                          : hm == CKM_SHA512 ? CKM_SHA512_RSA_PKCS_PSS
                                             : CKM_SHA1_RSA_PKCS_PSS;
            m.pParameter = &pp;
            m.ulParameterLen = sizeof(pp);
        } else {
            m.mechanism = hm == CKM_SHA256   ? CKM_SHA256_RSA_PKCS
                          : hm == CKM_SHA384 ? CKM_SHA384_RSA_PKCS
                          : hm == CKM_SHA512 ? CKM_SHA512_RSA_PKCS
                                             : CKM_SHA1_RSA_PKCS;
        }
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t ml, sl;
            uint8_t *msg = hexf(t, "msg", &ml), *sig = hexf(t, "sig", &sl);
            CK_RV rv = do_verify(&m, h, msg, ml, sig, sl);
            if (rv != CKR_OK && rv != CKR_SIGNATURE_INVALID && rv != CKR_SIGNATURE_LEN_RANGE)
                fail_msg("%s tcId %d: unexpected rv 0x%lx", file, tc_id(t), (unsigned long)rv);
            score(&y, t, rv == CKR_OK, rv);
            free(msg);
            free(sig);
        }
        destroy(h);
    }
    json_decref(root);
    report(&y);
}

static void test_rsa_pkcs1_sig(void **state)
{
    (void)state;
    run_rsa_sig("rsa_signature_2048_sha256_test.json", false);
}

static void test_rsa_pss_sig(void **state)
{
    (void)state;
    run_rsa_sig("rsa_pss_2048_sha256_mgf1_32_test.json", true);
}

/* ---- decryption ---------------------------------------------------------------------------- */

/* Decrypt and compare: accepted = CKR_OK and the expected plaintext. */
static bool decrypt_is(CK_MECHANISM *m, CK_OBJECT_HANDLE k, const uint8_t *ct, size_t cl,
                       const uint8_t *exp, size_t el, CK_RV *rvp)
{
    uint8_t *out = malloc(cl + 64);
    assert_non_null(out);
    CK_ULONG ol = cl + 64;
    CK_RV rv = f->C_DecryptInit(S, m, k);
    if (rv == CKR_OK)
        rv = f->C_Decrypt(S, (CK_BYTE_PTR)ct, cl, out, &ol);
    bool ok = rv == CKR_OK && ol == el && (el == 0 || memcmp(out, exp, el) == 0);
    if (rv == CKR_OK && !ok)
        fprintf(stderr, "decryption gave other plaintext (%lu bytes)\n", (unsigned long)ol);
    free(out);
    *rvp = rv;
    return ok;
}

static bool encrypt_is(CK_MECHANISM *m, CK_OBJECT_HANDLE k, const uint8_t *pt, size_t pl,
                       const uint8_t *exp, size_t el)
{
    uint8_t *out = malloc(pl + 64);
    assert_non_null(out);
    CK_ULONG ol = pl + 64;
    CK_RV rv = f->C_EncryptInit(S, m, k);
    if (rv == CKR_OK)
        rv = f->C_Encrypt(S, (CK_BYTE_PTR)pt, pl, out, &ol);
    bool ok = rv == CKR_OK && ol == el && memcmp(out, exp, el) == 0;
    free(out);
    return ok;
}

static void run_rsa_dec(const char *file, bool oaep)
{
    tally y = {file, 0, 0, 0, 0, 0};
    json_t *root = load(file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        CK_OBJECT_HANDLE h = rsa_obj(json_object_get(g, "privateKey"), true);
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t ml, cl, ll = 0;
            uint8_t *msg = hexf(t, "msg", &ml), *ct = hexf(t, "ct", &cl);
            uint8_t *label = oaep ? hexf(t, "label", &ll) : NULL;
            CK_RSA_PKCS_OAEP_PARAMS op;
            CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
            if (oaep) {
                op.hashAlg = hash_mech(json_string_value(json_object_get(g, "sha")));
                op.mgf = mgf_of(json_string_value(json_object_get(g, "mgfSha")));
                op.source = CKZ_DATA_SPECIFIED;
                op.pSourceData = ll ? label : NULL;
                op.ulSourceDataLen = ll;
                m = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
            }
            CK_RV rv;
            bool ok = decrypt_is(&m, h, ct, cl, msg, ml, &rv);
            score(&y, t, ok, rv);
            reject_code(&y, t, rv, DEC_CODES, 2);
            free(msg);
            free(ct);
            free(label);
        }
        destroy(h);
    }
    json_decref(root);
    report(&y);
}

static void test_rsa_oaep_sha1(void **state)
{
    (void)state;
    run_rsa_dec("rsa_oaep_2048_sha1_mgf1sha1_test.json", true);
}

static void test_rsa_oaep_sha256(void **state)
{
    (void)state;
    run_rsa_dec("rsa_oaep_2048_sha256_mgf1sha256_test.json", true);
}

static void test_rsa_pkcs1_dec(void **state)
{
    (void)state;
    run_rsa_dec("rsa_pkcs1_2048_test.json", false);
}

static bool gcm_tag_ok(size_t bits)
{
    return bits == 32 || bits == 64 || (bits >= 96 && bits <= 128 && bits % 8 == 0);
}

static void test_aes_gcm(void **state)
{
    (void)state;
    tally y = {"aes_gcm_test.json", 0, 0, 0, 0, 0};
    json_t *root = load(y.file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t kl, il, al, ml, cl, tl;
            uint8_t *key = hexf(t, "key", &kl), *iv = hexf(t, "iv", &il), *aad = hexf(t, "aad", &al);
            uint8_t *msg = hexf(t, "msg", &ml), *ct = hexf(t, "ct", &cl), *tag = hexf(t, "tag", &tl);
            if (il < 1 || il > 256 || !gcm_tag_ok(tl * 8)) {
                /* Not expressible in CK_GCM_PARAMS; the module must refuse it. */
                CK_OBJECT_HANDLE h;
                assert_int_equal(secret_obj(CKK_AES, key, kl, &h), CKR_OK);
                CK_GCM_PARAMS gp = {iv, il, il * 8, aad, al, tl * 8};
                CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
                assert_int_equal(f->C_DecryptInit(S, &m, h), CKR_MECHANISM_PARAM_INVALID);
                destroy(h);
                y.na++;
            } else {
                CK_OBJECT_HANDLE h;
                assert_int_equal(secret_obj(CKK_AES, key, kl, &h), CKR_OK);
                CK_GCM_PARAMS gp = {iv, il, il * 8, al ? aad : NULL, al, tl * 8};
                CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
                uint8_t *ctt = malloc(cl + tl + 1);
                assert_non_null(ctt);
                memcpy(ctt, ct, cl);
                memcpy(ctt + cl, tag, tl);
                CK_RV rv;
                bool ok = decrypt_is(&m, h, ctt, cl + tl, msg, ml, &rv);
                if (strcmp(result_of(t), "valid") == 0 && ok)
                    ok = encrypt_is(&m, h, msg, ml, ctt, cl + tl);
                score(&y, t, ok, rv);
                reject_code(&y, t, rv, DEC_CODES, 2);
                free(ctt);
                destroy(h);
            }
            free(key); free(iv); free(aad); free(msg); free(ct); free(tag);
        }
    }
    json_decref(root);
    report(&y);
}

static void test_aes_cbc_pkcs5(void **state)
{
    (void)state;
    tally y = {"aes_cbc_pkcs5_test.json", 0, 0, 0, 0, 0};
    json_t *root = load(y.file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t kl, il, ml, cl;
            uint8_t *key = hexf(t, "key", &kl), *iv = hexf(t, "iv", &il);
            uint8_t *msg = hexf(t, "msg", &ml), *ct = hexf(t, "ct", &cl);
            CK_OBJECT_HANDLE h;
            assert_int_equal(secret_obj(CKK_AES, key, kl, &h), CKR_OK);
            CK_MECHANISM m = {CKM_AES_CBC_PAD, iv, il};
            CK_RV rv;
            bool ok = decrypt_is(&m, h, ct, cl, msg, ml, &rv);
            if (strcmp(result_of(t), "valid") == 0 && ok)
                ok = encrypt_is(&m, h, msg, ml, ct, cl);
            score(&y, t, ok, rv);
            reject_code(&y, t, rv, DEC_CODES, 2);
            destroy(h);
            free(key); free(iv); free(msg); free(ct);
        }
    }
    json_decref(root);
    report(&y);
}

static void run_kw(const char *file, CK_MECHANISM_TYPE mt)
{
    tally y = {file, 0, 0, 0, 0, 0};
    json_t *root = load(file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t kl, ml, cl;
            uint8_t *key = hexf(t, "key", &kl), *msg = hexf(t, "msg", &ml), *ct = hexf(t, "ct", &cl);
            CK_OBJECT_HANDLE h;
            assert_int_equal(secret_obj(CKK_AES, key, kl, &h), CKR_OK);
            CK_MECHANISM m = {mt, NULL, 0};
            CK_RV rv;
            bool ok = decrypt_is(&m, h, ct, cl, msg, ml, &rv);
            if (strcmp(result_of(t), "valid") == 0 && ok)
                ok = encrypt_is(&m, h, msg, ml, ct, cl);
            score(&y, t, ok, rv);
            reject_code(&y, t, rv, DEC_CODES, 2);
            destroy(h);
            free(key); free(msg); free(ct);
        }
    }
    json_decref(root);
    report(&y);
}

static void test_aes_kw(void **state)
{
    (void)state;
    run_kw("aes_wrap_test.json", CKM_AES_KEY_WRAP);
}

static void test_aes_kwp(void **state)
{
    (void)state;
    run_kw("aes_kwp_test.json", CKM_AES_KEY_WRAP_KWP);
}

/* ---- MACs ---------------------------------------------------------------------------------- */

static void run_mac(const char *file, CK_MECHANISM_TYPE mt, CK_KEY_TYPE kt)
{
    tally y = {file, 0, 0, 0, 0, 0};
    json_t *root = load(file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        CK_ULONG tag_bytes = (CK_ULONG)json_integer_value(json_object_get(g, "tagSize")) / 8;
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t kl, ml, tl;
            uint8_t *key = hexf(t, "key", &kl), *msg = hexf(t, "msg", &ml), *tag = hexf(t, "tag", &tl);
            CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
            CK_RV rv = secret_obj(kt, key, kl, &h);
            bool ok = false;
            if (rv == CKR_OK) {
                CK_MECHANISM m = {mt, &tag_bytes, sizeof(tag_bytes)};
                rv = do_verify(&m, h, msg, ml, tag, tl);
                ok = rv == CKR_OK;
                destroy(h);
            } else if (kt == CKK_AES && kl != 16 && kl != 24 && kl != 32) {
                /* not an AES key: refused at import, as it must be */
                assert_int_equal(rv, CKR_ATTRIBUTE_VALUE_INVALID);
            }
            score(&y, t, ok, rv);
            reject_code(&y, t, rv, MAC_CODES, 4);
            free(key); free(msg); free(tag);
        }
    }
    json_decref(root);
    report(&y);
}

static void test_aes_cmac(void **state)
{
    (void)state;
    run_mac("aes_cmac_test.json", CKM_AES_CMAC_GENERAL, CKK_AES);
}

static void test_hmac_sha256(void **state)
{
    (void)state;
    run_mac("hmac_sha256_test.json", CKM_SHA256_HMAC_GENERAL, CKK_GENERIC_SECRET);
}

static void test_hmac_sha3_256(void **state)
{
    (void)state;
    run_mac("hmac_sha3_256_test.json", CKM_SHA3_256_HMAC_GENERAL, CKK_GENERIC_SECRET);
}

/* ---- derivation ------------------------------------------------------------------------------ */

/* Derive a generic secret of len bytes and read its value back. */
static CK_RV derive_read(CK_MECHANISM *m, CK_OBJECT_HANDLE base, CK_ULONG len, uint8_t *out)
{
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &c, sizeof(c)},         {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &F, 1},
        {CKA_SENSITIVE, &F, 1},             {CKA_EXTRACTABLE, &T, 1},
    };
    CK_OBJECT_HANDLE d;
    CK_RV rv = f->C_DeriveKey(S, m, base, t, ARRAY_LEN(t), &d);
    if (rv != CKR_OK)
        return rv;
    CK_ATTRIBUTE a = {CKA_VALUE, out, len};
    rv = f->C_GetAttributeValue(S, d, &a, 1);
    destroy(d);
    return rv;
}

static void test_hkdf_sha256(void **state)
{
    (void)state;
    tally y = {"hkdf_sha256_test.json", 0, 0, 0, 0, 0};
    json_t *root = load(y.file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t il, sl, nl, ol;
            uint8_t *ikm = hexf(t, "ikm", &il), *salt = hexf(t, "salt", &sl);
            uint8_t *info = hexf(t, "info", &nl), *okm = hexf(t, "okm", &ol);
            CK_ULONG size = (CK_ULONG)json_integer_value(json_object_get(t, "size"));
            CK_OBJECT_HANDLE h;
            assert_int_equal(secret_obj(CKK_GENERIC_SECRET, ikm, il, &h), CKR_OK);
            CK_HKDF_PARAMS p = {CK_TRUE, CK_TRUE, CKM_SHA256,
                                sl ? CKF_HKDF_SALT_DATA : CKF_HKDF_SALT_NULL, sl ? salt : NULL, sl,
                                CK_INVALID_HANDLE, nl ? info : NULL, nl};
            CK_MECHANISM m = {CKM_HKDF_DERIVE, &p, sizeof(p)};
            uint8_t *out = malloc(size + 1);
            assert_non_null(out);
            CK_RV rv = derive_read(&m, h, size, out);
            bool ok = rv == CKR_OK && ol == size && memcmp(out, okm, size) == 0;
            score(&y, t, ok, rv);
            free(out);
            destroy(h);
            free(ikm); free(salt); free(info); free(okm);
        }
    }
    json_decref(root);
    report(&y);
}

static void run_xdh(const char *file, CK_KEY_TYPE kt, const uint8_t *oid, size_t oidlen)
{
    tally y = {file, 0, 0, 0, 0, 0};
    json_t *root = load(file);
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        size_t ti;
        json_t *t;
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            size_t pl, kl, sl;
            uint8_t *pub = hexf(t, "public", &pl), *priv = hexf(t, "private", &kl);
            uint8_t *shared = hexf(t, "shared", &sl);
            CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
            const uint8_t *pv = priv;
            size_t pvl = kl;
            if (kt == CKK_EC)
                pv = strip(priv, &pvl);
            CK_RV rv = ec_priv_obj(kt, oid, oidlen, pv, pvl, &h);
            bool ok = false;
            if (rv == CKR_OK) {
                CK_ECDH1_DERIVE_PARAMS p = {CKD_NULL, 0, NULL, pl, pub};
                CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
                uint8_t out[128];
                CK_ULONG want = kt == CKK_EC ? 32 : (kt == CKK_EC_MONTGOMERY && oid == OID_X448 ? 56 : 32);
                rv = derive_read(&m, h, want, out);
                ok = rv == CKR_OK && sl == want && memcmp(out, shared, sl) == 0;
                destroy(h);
            }
            score(&y, t, ok, rv);
            reject_code(&y, t, rv, DERIVE_CODES, 3);
            free(pub); free(priv); free(shared);
        }
    }
    json_decref(root);
    report(&y);
}

static void test_x25519(void **state)
{
    (void)state;
    run_xdh("x25519_test.json", CKK_EC_MONTGOMERY, OID_X25519, sizeof(OID_X25519));
}

static void test_x448(void **state)
{
    (void)state;
    run_xdh("x448_test.json", CKK_EC_MONTGOMERY, OID_X448, sizeof(OID_X448));
}

static void test_ecdh_p256(void **state)
{
    (void)state;
    run_xdh("ecdh_secp256r1_ecpoint_test.json", CKK_EC, OID_P256, sizeof(OID_P256));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecdsa_p256_p1363),
        cmocka_unit_test(test_ecdsa_p256),
        cmocka_unit_test(test_ecdsa_p384),
        cmocka_unit_test(test_ecdsa_p521),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_ed448),
        cmocka_unit_test(test_rsa_pkcs1_sig),
        cmocka_unit_test(test_rsa_pss_sig),
        cmocka_unit_test(test_rsa_oaep_sha1),
        cmocka_unit_test(test_rsa_oaep_sha256),
        cmocka_unit_test(test_rsa_pkcs1_dec),
        cmocka_unit_test(test_aes_gcm),
        cmocka_unit_test(test_aes_cbc_pkcs5),
        cmocka_unit_test(test_aes_kw),
        cmocka_unit_test(test_aes_kwp),
        cmocka_unit_test(test_aes_cmac),
        cmocka_unit_test(test_hmac_sha256),
        cmocka_unit_test(test_hmac_sha3_256),
        cmocka_unit_test(test_hkdf_sha256),
        cmocka_unit_test(test_x25519),
        cmocka_unit_test(test_x448),
        cmocka_unit_test(test_ecdh_p256),
    };
    return cmocka_run_group_tests(tests, group_setup, t_teardown);
}
