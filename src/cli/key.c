#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_RV find_label(const cli_session *s, const char *label, CK_OBJECT_HANDLE **h, CK_ULONG *n)
{
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &t, sizeof(t)}, {CKA_LABEL, (void *)label, strlen(label)}};
    return cli_find(s, tmpl, 2, h, n);
}

/* `tessera key gen --token T --type TYPE --label X`: a token key (pair),
 * private and sensitive, with a random CKA_ID shared by both halves. The
 * core turns TYPE into the mechanism and its size or curve attribute. */
int cli_key_gen(tsvc *v, const cli_args *a)
{
    tcore_keyspec ks;
    cli_session cs = {v, CK_INVALID_HANDLE};
    CK_OBJECT_HANDLE *found = NULL, pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_ULONG nfound = 0;
    unsigned char id[8], exp[] = {1, 0, 1};
    CK_BBOOL t = CK_TRUE, fl = CK_FALSE;
    int status = 1;
    CK_RV rv;

    if (tcore_keyspec_parse(a->type, &ks) != CKR_OK) {
        fprintf(stderr, "tessera: unknown key type \"%s\"; one of: ", a->type);
        for (const char *p = tcore_keyspec_names(); *p != '\0'; p++)
            fputc(*p == '|' ? ' ' : *p, stderr);
        fputc('\n', stderr);
        return 2;
    }
    if (!cli_session_open(v, a->token, a->pin, &cs))
        goto out;
    rv = find_label(&cs, a->label, &found, &nfound);
    if (rv != CKR_OK) {
        cli_error("search", rv, tsvc_last_error());
        goto out;
    }
    if (nfound > 0) {
        fprintf(stderr, "tessera: token \"%s\" already holds a key labelled \"%s\"\n", a->token, a->label);
        goto out;
    }
    rv = tsvc_random(cs.v, cs.h, id, sizeof(id));
    if (rv != CKR_OK) {
        cli_error("random", rv, tsvc_last_error());
        goto out;
    }
    CK_ULONG label_len = strlen(a->label);
    CK_MECHANISM mech = {ks.mech, NULL, 0};
    if (!ks.pair) {
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_ATTRIBUTE at[] = {
            {CKA_CLASS, &cls, sizeof(cls)},         {CKA_TOKEN, &t, sizeof(t)},
            {CKA_PRIVATE, &t, sizeof(t)},           {CKA_SENSITIVE, &t, sizeof(t)},
            {CKA_EXTRACTABLE, &fl, sizeof(fl)},     {CKA_ENCRYPT, &t, sizeof(t)},
            {CKA_DECRYPT, &t, sizeof(t)},           {CKA_WRAP, &t, sizeof(t)},
            {CKA_UNWRAP, &t, sizeof(t)},            ks.attr,
            {CKA_LABEL, (void *)a->label, label_len}, {CKA_ID, id, sizeof(id)},
        };
        rv = tsvc_generate_key(cs.v, cs.h, &mech, at, TC_ARRAY_LEN(at), &priv);
    } else {
        CK_ATTRIBUTE pt[8] = {{CKA_TOKEN, &t, sizeof(t)},
                              {CKA_PRIVATE, &fl, sizeof(fl)},
                              {CKA_VERIFY, &t, sizeof(t)},
                              {CKA_LABEL, (void *)a->label, label_len},
                              {CKA_ID, id, sizeof(id)},
                              ks.attr};
        CK_ATTRIBUTE kt[8] = {{CKA_TOKEN, &t, sizeof(t)},
                              {CKA_PRIVATE, &t, sizeof(t)},
                              {CKA_SIGN, &t, sizeof(t)},
                              {CKA_SENSITIVE, &t, sizeof(t)},
                              {CKA_EXTRACTABLE, &fl, sizeof(fl)},
                              {CKA_LABEL, (void *)a->label, label_len},
                              {CKA_ID, id, sizeof(id)}};
        CK_ULONG np = 6, nk = 7;
        if (ks.key_type == CKK_RSA) {
            pt[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exp, sizeof(exp)};
            pt[np++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &t, sizeof(t)};
            kt[nk++] = (CK_ATTRIBUTE){CKA_DECRYPT, &t, sizeof(t)};
        }
        rv = tsvc_generate_key_pair(cs.v, cs.h, &mech, pt, np, kt, nk, &pub, &priv);
    }
    if (rv != CKR_OK) {
        cli_error("generate key", rv, tsvc_last_error());
        goto out;
    }
    printf("generated %s key \"%s\" on token \"%s\" (id ", a->type, a->label, a->token);
    for (size_t i = 0; i < sizeof(id); i++)
        printf("%02x", id[i]);
    printf(")\n");
    status = 0;
out:
    free(found);
    cli_session_close(&cs);
    return status;
}

/* The key spec name ("ec:p256", "ed25519", ...) whose curve is PARAMS, the
 * DER of CKA_EC_PARAMS; false when no spec has this curve. */
static bool spec_of_curve(const unsigned char *params, size_t len, char *out, size_t outlen)
{
    const char *names = tcore_keyspec_names();
    while (*names != '\0') {
        size_t n = strcspn(names, "|");
        char name[32];
        tcore_keyspec ks;
        if (n < sizeof(name)) {
            memcpy(name, names, n);
            name[n] = '\0';
            if (tcore_keyspec_parse(name, &ks) == CKR_OK && ks.attr.type == CKA_EC_PARAMS &&
                ks.attr.ulValueLen == len && memcmp(ks.attr.pValue, params, len) == 0) {
                snprintf(out, outlen, "%s", name);
                return true;
            }
        }
        names += n;
        if (*names == '|')
            names++;
    }
    return false;
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
static void describe_key(const cli_session *s, CK_OBJECT_HANDLE o, char *out, size_t outlen)
{
    CK_ULONG kt, v;
    unsigned char *p = NULL;
    CK_ULONG len = 0;
    snprintf(out, outlen, "-");
    if (!cli_get_ulong(s, o, CKA_KEY_TYPE, &kt))
        return;
    if (kt == CKK_RSA) {
        if (cli_get_ulong(s, o, CKA_MODULUS_BITS, &v))
            snprintf(out, outlen, "rsa:%lu", (unsigned long)v);
        else if (cli_get_attr(s, o, CKA_MODULUS, &p, &len) == CKR_OK)
            snprintf(out, outlen, "rsa:%lu", (unsigned long)len * 8);
        else
            snprintf(out, outlen, "rsa");
    } else if (kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_EC_MONTGOMERY) {
        /* the curves the CLI can name are those of the key specs */
        if (cli_get_attr(s, o, CKA_EC_PARAMS, &p, &len) != CKR_OK || !spec_of_curve(p, len, out, outlen))
            snprintf(out, outlen, "%s",
                     kt == CKK_EC ? "ec" : kt == CKK_EC_EDWARDS ? "ec-edwards" : "ec-montgomery");
    } else if (kt == CKK_AES) {
        if (cli_get_ulong(s, o, CKA_VALUE_LEN, &v))
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

static void print_hex_attr(const cli_session *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, int width)
{
    unsigned char *p = NULL;
    CK_ULONG len = 0;
    int n = 0;
    if (cli_get_attr(s, o, t, &p, &len) == CKR_OK)
        for (CK_ULONG i = 0; i < len; i++)
            n += printf("%02x", p[i]);
    if (n == 0)
        n = printf("-");
    printf("%*s", width > n ? width - n : 0, "");
    free(p);
}

/* `tessera key list --token T`: every token object the user can see. */
int cli_key_list(tsvc *v, const cli_args *a)
{
    cli_session cs = {v, CK_INVALID_HANDLE};
    CK_OBJECT_HANDLE *h = NULL;
    CK_ULONG n = 0;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &t, sizeof(t)}};
    int status = 1;
    if (!cli_session_open(v, a->token, a->pin, &cs))
        goto out;
    const cli_session *s = &cs;
    CK_RV rv = cli_find(s, tmpl, 1, &h, &n);
    if (rv != CKR_OK) {
        cli_error("search", rv, tsvc_last_error());
        goto out;
    }
    printf("%-12s %-10s %-18s %s\n", "class", "type", "id", "label");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ULONG cls = (CK_ULONG)-1;
        unsigned char *label = NULL;
        CK_ULONG llen = 0;
        char type[32];
        cli_get_ulong(s, h[i], CKA_CLASS, &cls);
        describe_key(s, h[i], type, sizeof(type));
        printf("%-12s %-10s ", class_name(cls), type);
        print_hex_attr(s, h[i], CKA_ID, 18);
        if (cli_get_attr(s, h[i], CKA_LABEL, &label, &llen) == CKR_OK)
            printf(" %s\n", (char *)label);
        else
            printf(" -\n");
        free(label);
    }
    status = 0;
out:
    free(h);
    cli_session_close(&cs);
    return status;
}

/* `tessera key show --token T --label X`: public attributes of each object
 * labelled X, and the public key as PEM. Secret values are never shown. */
int cli_key_show(tsvc *v, const cli_args *a)
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
    cli_session cs = {v, CK_INVALID_HANDLE};
    CK_OBJECT_HANDLE *h = NULL;
    CK_ULONG n = 0;
    int status = 1;
    if (!cli_session_open(v, a->token, a->pin, &cs))
        goto out;
    const cli_session *s = &cs;
    CK_RV rv = find_label(s, a->label, &h, &n);
    if (rv != CKR_OK) {
        cli_error("search", rv, tsvc_last_error());
        goto out;
    }
    if (n == 0) {
        fprintf(stderr, "tessera: no key labelled \"%s\" on token \"%s\"\n", a->label, a->token);
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ULONG cls = (CK_ULONG)-1;
        char type[32];
        cli_get_ulong(s, h[i], CKA_CLASS, &cls);
        describe_key(s, h[i], type, sizeof(type));
        printf("%s \"%s\"\n  type:  %s\n  id:    ", class_name(cls), a->label, type);
        print_hex_attr(s, h[i], CKA_ID, 0);
        printf("\n  flags:");
        for (size_t k = 0; k < TC_ARRAY_LEN(flags); k++)
            if (cli_get_bool(s, h[i], flags[k].t) == 1)
                printf(" %s", flags[k].name);
        printf("\n");
        if (cls == CKO_PUBLIC_KEY) {
            /* DER SubjectPublicKeyInfo, kept by the core on every key pair */
            unsigned char *der = NULL;
            CK_ULONG dlen = 0;
            rv = cli_get_attr(s, h[i], CKA_PUBLIC_KEY_INFO, &der, &dlen);
            if (rv != CKR_OK || dlen == 0) {
                if (rv != CKR_OK)
                    cli_error("read the public key", rv, tsvc_last_error());
                else
                    fprintf(stderr, "tessera: no public key stored for \"%s\"\n", a->label);
                free(der);
                goto out;
            }
            cli_print_pem("PUBLIC KEY", der, dlen);
            free(der);
        }
    }
    status = 0;
out:
    free(h);
    cli_session_close(&cs);
    return status;
}

/* `tessera key delete --token T --label X`: destroys every object labelled X. */
int cli_key_delete(tsvc *v, const cli_args *a)
{
    cli_session cs = {v, CK_INVALID_HANDLE};
    CK_OBJECT_HANDLE *h = NULL;
    CK_ULONG n = 0;
    int status = 1;
    if (!cli_session_open(v, a->token, a->pin, &cs))
        goto out;
    const cli_session *s = &cs;
    CK_RV rv = find_label(s, a->label, &h, &n);
    if (rv != CKR_OK) {
        cli_error("search", rv, tsvc_last_error());
        goto out;
    }
    if (n == 0) {
        fprintf(stderr, "tessera: no key labelled \"%s\" on token \"%s\"\n", a->label, a->token);
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        rv = tsvc_object_destroy(s->v, s->h, h[i]);
        if (rv != CKR_OK) {
            cli_error("destroy object", rv, tsvc_last_error());
            goto out;
        }
    }
    printf("deleted %lu object(s) labelled \"%s\" from token \"%s\"\n", (unsigned long)n, a->label, a->token);
    status = 0;
out:
    free(h);
    cli_session_close(&cs);
    return status;
}
