#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/tcrypto.h"

/* Key types `tessera key gen --type` accepts. */
static const unsigned char oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const unsigned char oid_p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
static const unsigned char oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const unsigned char oid_ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};

static const struct key_type {
    const char *name;
    CK_MECHANISM_TYPE mech;
    CK_KEY_TYPE type;
    CK_ULONG bits; /* RSA modulus bits or secret-key bits */
    const unsigned char *params;
    size_t params_len;
} key_types[] = {
    {"rsa:2048", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 2048, NULL, 0},
    {"rsa:3072", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 3072, NULL, 0},
    {"rsa:4096", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 4096, NULL, 0},
    {"ec:p256", CKM_EC_KEY_PAIR_GEN, CKK_EC, 0, oid_p256, sizeof(oid_p256)},
    {"ec:p384", CKM_EC_KEY_PAIR_GEN, CKK_EC, 0, oid_p384, sizeof(oid_p384)},
    {"ec:p521", CKM_EC_KEY_PAIR_GEN, CKK_EC, 0, oid_p521, sizeof(oid_p521)},
    {"ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, 0, oid_ed25519, sizeof(oid_ed25519)},
    {"ed448", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, 0, oid_ed448, sizeof(oid_ed448)},
    {"aes:128", CKM_AES_KEY_GEN, CKK_AES, 128, NULL, 0},
    {"aes:192", CKM_AES_KEY_GEN, CKK_AES, 192, NULL, 0},
    {"aes:256", CKM_AES_KEY_GEN, CKK_AES, 256, NULL, 0},
};

static const struct key_type *key_type_find(const char *name)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strcmp(key_types[i].name, name) == 0)
            return &key_types[i];
    return NULL;
}

static CK_RV find_label(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE **h,
                        CK_ULONG *n)
{
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &t, sizeof(t)}, {CKA_LABEL, (void *)label, strlen(label)}};
    return cli_find(f, s, tmpl, 2, h, n);
}

/* `tessera key gen --token T --type TYPE --label X`: a token key (pair),
 * private and sensitive, with a random CKA_ID shared by both halves. */
int cli_key_gen(CK_FUNCTION_LIST_PTR f, const cli_args *a)
{
    const struct key_type *kt = key_type_find(a->type);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE *found = NULL, pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_ULONG nfound = 0;
    unsigned char id[8], exp[] = {1, 0, 1};
    CK_BBOOL t = CK_TRUE, fl = CK_FALSE;
    int status = 1;
    CK_RV rv;

    if (kt == NULL) {
        fprintf(stderr, "tessera: unknown key type \"%s\"; one of:", a->type);
        for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
            fprintf(stderr, " %s", key_types[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    if (cli_open_token(f, a->token, a->pin, &s) != CKR_OK)
        goto out;
    rv = find_label(f, s, a->label, &found, &nfound);
    if (rv != CKR_OK) {
        cli_p11_error("search", rv);
        goto out;
    }
    if (nfound > 0) {
        fprintf(stderr, "tessera: token \"%s\" already holds a key labelled \"%s\"\n", a->token, a->label);
        goto out;
    }
    rv = f->C_GenerateRandom(s, id, sizeof(id));
    if (rv != CKR_OK) {
        cli_p11_error("random", rv);
        goto out;
    }
    CK_ULONG label_len = strlen(a->label);
    CK_MECHANISM mech = {kt->mech, NULL, 0};
    if (kt->type == CKK_AES) {
        CK_ULONG bytes = kt->bits / 8;
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_ATTRIBUTE at[] = {
            {CKA_CLASS, &cls, sizeof(cls)},         {CKA_TOKEN, &t, sizeof(t)},
            {CKA_PRIVATE, &t, sizeof(t)},           {CKA_SENSITIVE, &t, sizeof(t)},
            {CKA_EXTRACTABLE, &fl, sizeof(fl)},     {CKA_ENCRYPT, &t, sizeof(t)},
            {CKA_DECRYPT, &t, sizeof(t)},           {CKA_WRAP, &t, sizeof(t)},
            {CKA_UNWRAP, &t, sizeof(t)},            {CKA_VALUE_LEN, &bytes, sizeof(bytes)},
            {CKA_LABEL, (void *)a->label, label_len}, {CKA_ID, id, sizeof(id)},
        };
        rv = f->C_GenerateKey(s, &mech, at, sizeof(at) / sizeof(at[0]), &priv);
    } else {
        CK_ULONG bits = kt->bits;
        bool rsa = kt->type == CKK_RSA;
        CK_ATTRIBUTE pt[8] = {{CKA_TOKEN, &t, sizeof(t)},
                              {CKA_PRIVATE, &fl, sizeof(fl)},
                              {CKA_VERIFY, &t, sizeof(t)},
                              {CKA_LABEL, (void *)a->label, label_len},
                              {CKA_ID, id, sizeof(id)}};
        CK_ATTRIBUTE kt_[8] = {{CKA_TOKEN, &t, sizeof(t)},
                               {CKA_PRIVATE, &t, sizeof(t)},
                               {CKA_SIGN, &t, sizeof(t)},
                               {CKA_SENSITIVE, &t, sizeof(t)},
                               {CKA_EXTRACTABLE, &fl, sizeof(fl)},
                               {CKA_LABEL, (void *)a->label, label_len},
                               {CKA_ID, id, sizeof(id)}};
        CK_ULONG np = 5, nk = 7;
        if (rsa) {
            pt[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
            pt[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exp, sizeof(exp)};
            pt[np++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &t, sizeof(t)};
            kt_[nk++] = (CK_ATTRIBUTE){CKA_DECRYPT, &t, sizeof(t)};
        } else {
            pt[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)kt->params, kt->params_len};
        }
        rv = f->C_GenerateKeyPair(s, &mech, pt, np, kt_, nk, &pub, &priv);
    }
    if (rv != CKR_OK) {
        cli_p11_error("generate key", rv);
        goto out;
    }
    printf("generated %s key \"%s\" on token \"%s\" (id ", kt->name, a->label, a->token);
    for (size_t i = 0; i < sizeof(id); i++)
        printf("%02x", id[i]);
    printf(")\n");
    status = 0;
out:
    free(found);
    if (s != CK_INVALID_HANDLE)
        f->C_CloseSession(s);
    return status;
}

static const char *class_name(CK_ULONG c)
{
    switch (c) {
    case CKO_PRIVATE_KEY: return "private-key";
    case CKO_PUBLIC_KEY: return "public-key";
    case CKO_SECRET_KEY: return "secret-key";
    case CKO_CERTIFICATE: return "certificate";
    case CKO_DATA: return "data";
    default: return "other";
    }
}

/* "rsa:2048", "ec:p256", "ed25519", "aes:256", ... for a key object. */
static void describe_key(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, char *out,
                         size_t outlen)
{
    CK_ULONG kt, v;
    unsigned char *p = NULL;
    CK_ULONG len = 0;
    snprintf(out, outlen, "-");
    if (!cli_get_ulong(f, s, o, CKA_KEY_TYPE, &kt))
        return;
    if (kt == CKK_RSA) {
        if (cli_get_ulong(f, s, o, CKA_MODULUS_BITS, &v))
            snprintf(out, outlen, "rsa:%lu", (unsigned long)v);
        else if (cli_get_attr(f, s, o, CKA_MODULUS, &p, &len) == CKR_OK)
            snprintf(out, outlen, "rsa:%lu", (unsigned long)len * 8);
        else
            snprintf(out, outlen, "rsa");
    } else if (kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_EC_MONTGOMERY) {
        tcrypto_key_type type;
        tcrypto_curve curve;
        static const char *const curves[] = {"?", "p256", "p384", "p521"};
        static const char *const raw[] = {"?", "rsa", "ec", "ed25519", "ed448", "x25519", "x448"};
        if (cli_get_attr(f, s, o, CKA_EC_PARAMS, &p, &len) == CKR_OK &&
            tcrypto_ec_params_parse(p, len, &type, &curve) == TCRYPTO_OK) {
            if (type == TCRYPTO_KEY_EC && (size_t)curve < sizeof(curves) / sizeof(curves[0]))
                snprintf(out, outlen, "ec:%s", curves[curve]);
            else if ((size_t)type < sizeof(raw) / sizeof(raw[0]))
                snprintf(out, outlen, "%s", raw[type]);
        } else {
            snprintf(out, outlen, kt == CKK_EC ? "ec" : "ec-edwards");
        }
    } else if (kt == CKK_AES) {
        if (cli_get_ulong(f, s, o, CKA_VALUE_LEN, &v))
            snprintf(out, outlen, "aes:%lu", (unsigned long)v * 8);
        else
            snprintf(out, outlen, "aes");
    } else if (kt == CKK_GENERIC_SECRET) {
        snprintf(out, outlen, "generic-secret");
    } else {
        snprintf(out, outlen, "key-type-0x%lx", (unsigned long)kt);
    }
    free(p);
}

static void print_hex_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
                           int width)
{
    unsigned char *p = NULL;
    CK_ULONG len = 0;
    int n = 0;
    if (cli_get_attr(f, s, o, t, &p, &len) == CKR_OK)
        for (CK_ULONG i = 0; i < len; i++)
            n += printf("%02x", p[i]);
    if (n == 0)
        n = printf("-");
    printf("%*s", width > n ? width - n : 0, "");
    free(p);
}

/* `tessera key list --token T`: every token object the user can see. */
int cli_key_list(CK_FUNCTION_LIST_PTR f, const cli_args *a)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE *h = NULL;
    CK_ULONG n = 0;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &t, sizeof(t)}};
    int status = 1;
    if (cli_open_token(f, a->token, a->pin, &s) != CKR_OK)
        goto out;
    CK_RV rv = cli_find(f, s, tmpl, 1, &h, &n);
    if (rv != CKR_OK) {
        cli_p11_error("search", rv);
        goto out;
    }
    printf("%-12s %-10s %-18s %s\n", "class", "type", "id", "label");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ULONG cls = (CK_ULONG)-1;
        unsigned char *label = NULL;
        CK_ULONG llen = 0;
        char type[32];
        cli_get_ulong(f, s, h[i], CKA_CLASS, &cls);
        describe_key(f, s, h[i], type, sizeof(type));
        printf("%-12s %-10s ", class_name(cls), type);
        print_hex_attr(f, s, h[i], CKA_ID, 18);
        if (cli_get_attr(f, s, h[i], CKA_LABEL, &label, &llen) == CKR_OK)
            printf(" %s\n", (char *)label);
        else
            printf(" -\n");
        free(label);
    }
    status = 0;
out:
    free(h);
    if (s != CK_INVALID_HANDLE)
        f->C_CloseSession(s);
    return status;
}

/* `tessera key show --token T --label X`: public attributes of each object
 * labelled X, and the public key as PEM. Secret values are never shown. */
int cli_key_show(CK_FUNCTION_LIST_PTR f, const cli_args *a)
{
    static const struct {
        CK_ATTRIBUTE_TYPE t;
        const char *name;
    } flags[] = {
        {CKA_PRIVATE, "private"},         {CKA_SENSITIVE, "sensitive"},
        {CKA_EXTRACTABLE, "extractable"}, {CKA_ALWAYS_SENSITIVE, "always-sensitive"},
        {CKA_NEVER_EXTRACTABLE, "never-extractable"}, {CKA_LOCAL, "local"},
        {CKA_MODIFIABLE, "modifiable"},   {CKA_SIGN, "sign"},
        {CKA_VERIFY, "verify"},           {CKA_ENCRYPT, "encrypt"},
        {CKA_DECRYPT, "decrypt"},         {CKA_WRAP, "wrap"},
        {CKA_UNWRAP, "unwrap"},           {CKA_DERIVE, "derive"},
    };
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE *h = NULL;
    CK_ULONG n = 0;
    int status = 1;
    if (cli_open_token(f, a->token, a->pin, &s) != CKR_OK)
        goto out;
    CK_RV rv = find_label(f, s, a->label, &h, &n);
    if (rv != CKR_OK) {
        cli_p11_error("search", rv);
        goto out;
    }
    if (n == 0) {
        fprintf(stderr, "tessera: no key labelled \"%s\" on token \"%s\"\n", a->label, a->token);
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ULONG cls = (CK_ULONG)-1;
        char type[32];
        cli_get_ulong(f, s, h[i], CKA_CLASS, &cls);
        describe_key(f, s, h[i], type, sizeof(type));
        printf("%s \"%s\"\n  type:  %s\n  id:    ", class_name(cls), a->label, type);
        print_hex_attr(f, s, h[i], CKA_ID, 0);
        printf("\n  flags:");
        for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            if (cli_get_bool(f, s, h[i], flags[k].t) == 1)
                printf(" %s", flags[k].name);
        printf("\n");
        if (cls == CKO_PUBLIC_KEY) {
            unsigned char *der = NULL;
            size_t dlen = 0;
            if (!cli_public_spki(f, s, h[i], &der, &dlen)) {
                fprintf(stderr, "tessera: cannot encode the public key of \"%s\"\n", a->label);
                goto out;
            }
            cli_print_pem("PUBLIC KEY", der, dlen);
            free(der);
        }
    }
    status = 0;
out:
    free(h);
    if (s != CK_INVALID_HANDLE)
        f->C_CloseSession(s);
    return status;
}

/* `tessera key delete --token T --label X`: destroys every object labelled X. */
int cli_key_delete(CK_FUNCTION_LIST_PTR f, const cli_args *a)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE *h = NULL;
    CK_ULONG n = 0;
    int status = 1;
    if (cli_open_token(f, a->token, a->pin, &s) != CKR_OK)
        goto out;
    CK_RV rv = find_label(f, s, a->label, &h, &n);
    if (rv != CKR_OK) {
        cli_p11_error("search", rv);
        goto out;
    }
    if (n == 0) {
        fprintf(stderr, "tessera: no key labelled \"%s\" on token \"%s\"\n", a->label, a->token);
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        rv = f->C_DestroyObject(s, h[i]);
        if (rv != CKR_OK) {
            cli_p11_error("destroy object", rv);
            goto out;
        }
    }
    printf("deleted %lu object(s) labelled \"%s\" from token \"%s\"\n", (unsigned long)n, a->label, a->token);
    status = 0;
out:
    free(h);
    if (s != CK_INVALID_HANDLE)
        f->C_CloseSession(s);
    return status;
}
