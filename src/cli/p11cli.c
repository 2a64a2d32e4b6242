#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tcommon.h"
#include "crypto/tcrypto.h"

static const struct {
    CK_RV rv;
    const char *name;
} rv_names[] = {
    {CKR_OK, "CKR_OK"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID"},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
    {CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED"},
};

const char *cli_rv_name(CK_RV rv)
{
    for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
        if (rv_names[i].rv == rv)
            return rv_names[i].name;
    return "CKR_?";
}

void cli_p11_error(const char *what, CK_RV rv)
{
    fprintf(stderr, "tessera: %s: %s (0x%lx)\n", what, cli_rv_name(rv), (unsigned long)rv);
}

void cli_pad(CK_UTF8CHAR *out, size_t outlen, const char *s)
{
    size_t n = strlen(s);
    memset(out, ' ', outlen);
    memcpy(out, s, n < outlen ? n : outlen);
}

void cli_unpad(char *out, size_t outlen, const CK_UTF8CHAR *in, size_t inlen)
{
    size_t n = inlen;
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\0'))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

/* Calls FN(slot, token info, arg) for each slot with a token; stops when FN
 * returns true and reports that slot. */
static CK_RV each_token(CK_FUNCTION_LIST_PTR f, bool (*fn)(const CK_TOKEN_INFO *, const void *), const void *arg,
                        CK_SLOT_ID *slot)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK)
        goto out;
    slots = calloc(n ? n : 1, sizeof(*slots));
    if (slots == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        goto out;
    rv = CKR_TOKEN_NOT_PRESENT;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (fn(&ti, arg)) {
            *slot = slots[i];
            rv = CKR_OK;
            break;
        }
    }
out:
    free(slots);
    return rv;
}

static bool is_label(const CK_TOKEN_INFO *ti, const void *arg)
{
    CK_UTF8CHAR want[32];
    cli_pad(want, sizeof(want), arg);
    return (ti->flags & CKF_TOKEN_INITIALIZED) && memcmp(ti->label, want, sizeof(want)) == 0;
}

static bool is_free(const CK_TOKEN_INFO *ti, const void *arg)
{
    (void)arg;
    return !(ti->flags & CKF_TOKEN_INITIALIZED);
}

CK_RV cli_find_token(CK_FUNCTION_LIST_PTR f, const char *label, CK_SLOT_ID *slot)
{
    return each_token(f, is_label, label, slot);
}

CK_RV cli_find_free_slot(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID *slot)
{
    return each_token(f, is_free, NULL, slot);
}

CK_RV cli_open_token(CK_FUNCTION_LIST_PTR f, const char *label, const char *pin, CK_SESSION_HANDLE *out)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv = cli_find_token(f, label, &slot);
    if (rv != CKR_OK) {
        fprintf(stderr, "tessera: no token labelled \"%s\"\n", label);
        goto out;
    }
    rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        cli_p11_error("open session", rv);
        goto out;
    }
    if (pin != NULL) {
        rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
        if (rv != CKR_OK) {
            cli_p11_error("login", rv);
            f->C_CloseSession(s);
            goto out;
        }
    }
    *out = s;
out:
    return rv;
}

CK_RV cli_find(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
               CK_OBJECT_HANDLE **out, CK_ULONG *count)
{
    CK_OBJECT_HANDLE *h = NULL;
    CK_ULONG have = 0, cap = 0;
    CK_RV rv = f->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK)
        return rv;
    for (;;) {
        CK_ULONG got = 0;
        if (have == cap) {
            CK_OBJECT_HANDLE *nh = realloc(h, (cap + 64) * sizeof(*h));
            if (nh == NULL) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            h = nh;
            cap += 64;
        }
        rv = f->C_FindObjects(s, h + have, cap - have, &got);
        if (rv != CKR_OK || got == 0)
            break;
        have += got;
    }
    CK_RV rv2 = f->C_FindObjectsFinal(s);
    if (rv == CKR_OK)
        rv = rv2;
    if (rv != CKR_OK) {
        free(h);
        return rv;
    }
    *out = h;
    *count = have;
    return CKR_OK;
}

CK_RV cli_get_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
                   unsigned char **val, CK_ULONG *len)
{
    CK_ATTRIBUTE a = {t, NULL, 0};
    unsigned char *v;
    CK_RV rv = f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return CKR_ATTRIBUTE_SENSITIVE;
    v = malloc(a.ulValueLen + 1);
    if (v == NULL)
        return CKR_HOST_MEMORY;
    a.pValue = v;
    rv = f->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK) {
        free(v);
        return rv;
    }
    v[a.ulValueLen] = '\0';
    *val = v;
    *len = a.ulValueLen;
    return CKR_OK;
}

bool cli_get_ulong(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
                   CK_ULONG *v)
{
    CK_ATTRIBUTE a = {t, v, sizeof(*v)};
    return f->C_GetAttributeValue(s, o, &a, 1) == CKR_OK && a.ulValueLen == sizeof(*v);
}

int cli_get_bool(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t)
{
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE a = {t, &b, sizeof(b)};
    if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen != sizeof(b))
        return -1;
    return b == CK_TRUE;
}

void cli_print_pem(const char *label, const unsigned char *der, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t col = 0;
    printf("-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)der[i] << 16;
        if (len - i > 1)
            v |= (unsigned)der[i + 1] << 8;
        if (len - i > 2)
            v |= der[i + 2];
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], len - i > 1 ? b64[(v >> 6) & 63] : '=',
                     len - i > 2 ? b64[v & 63] : '='};
        fwrite(q, 1, 4, stdout);
        col += 4;
        if (col == 64) {
            putchar('\n');
            col = 0;
        }
    }
    if (col != 0)
        putchar('\n');
    printf("-----END %s-----\n", label);
}

/* CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 3.0 §2.3.3);
 * returns the point inside, or the bytes as they are when not so wrapped. */
static void ec_point_unwrap(const unsigned char *p, size_t len, const unsigned char **pt, size_t *ptlen)
{
    tc_reader r;
    uint8_t tag, l0;
    *pt = p;
    *ptlen = len;
    tc_reader_init(&r, p, len);
    if (!tc_read_u8(&r, &tag) || tag != 0x04 || !tc_read_u8(&r, &l0))
        return;
    size_t n = l0;
    if (l0 == 0x81) {
        uint8_t l1;
        if (!tc_read_u8(&r, &l1))
            return;
        n = l1;
    } else if (l0 > 0x81) {
        return;
    }
    if (tc_reader_left(&r) != n)
        return;
    *pt = p + r.off;
    *ptlen = n;
}

bool cli_public_spki(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, unsigned char **der,
                     size_t *len)
{
    CK_ULONG kt;
    unsigned char *a = NULL, *b = NULL, *out = NULL;
    CK_ULONG alen = 0, blen = 0;
    tcrypto_pkey *k = NULL;
    bool ok = false;
    size_t outlen = 0;
    if (!cli_get_ulong(f, s, pub, CKA_KEY_TYPE, &kt))
        goto out;
    if (kt == CKK_RSA) {
        if (cli_get_attr(f, s, pub, CKA_MODULUS, &a, &alen) != CKR_OK ||
            cli_get_attr(f, s, pub, CKA_PUBLIC_EXPONENT, &b, &blen) != CKR_OK)
            goto out;
        tcrypto_rsa_parts parts = {.n = a, .n_len = alen, .e = b, .e_len = blen};
        if (tcrypto_rsa_from_parts(&parts, &k) != TCRYPTO_OK)
            goto out;
    } else if (kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_EC_MONTGOMERY) {
        tcrypto_key_type type;
        tcrypto_curve curve;
        const unsigned char *pt;
        size_t ptlen;
        if (cli_get_attr(f, s, pub, CKA_EC_PARAMS, &a, &alen) != CKR_OK ||
            cli_get_attr(f, s, pub, CKA_EC_POINT, &b, &blen) != CKR_OK ||
            tcrypto_ec_params_parse(a, alen, &type, &curve) != TCRYPTO_OK)
            goto out;
        ec_point_unwrap(b, blen, &pt, &ptlen);
        tcrypto_rc rc = type == TCRYPTO_KEY_EC ? tcrypto_ec_from_parts(curve, pt, ptlen, NULL, 0, &k)
                                               : tcrypto_raw_from_parts(type, pt, ptlen, NULL, 0, &k);
        if (rc != TCRYPTO_OK)
            goto out;
    } else {
        goto out;
    }
    if (tcrypto_pkey_to_spki(k, NULL, &outlen) != TCRYPTO_OK || (out = malloc(outlen)) == NULL ||
        tcrypto_pkey_to_spki(k, out, &outlen) != TCRYPTO_OK)
        goto out;
    *der = out;
    *len = outlen;
    out = NULL;
    ok = true;
out:
    free(out);
    free(a);
    free(b);
    if (k != NULL)
        tcrypto_pkey_free(k);
    return ok;
}
