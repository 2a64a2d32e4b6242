#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY"},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
    {CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS"},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
    {CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN"},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID"},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
};

const char *cli_rv_name(CK_RV rv)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(rv_names); i++)
        if (rv_names[i].rv == rv)
            return rv_names[i].name;
    return "CKR_?";
}

void cli_error(const char *what, CK_RV rv, const tcore_err *err)
{
    fprintf(stderr, "tessera: %s: %s (0x%lx)", what, cli_rv_name(rv), (unsigned long)rv);
    /* Only a report of this very failure says which argument was wrong. */
    if (err != NULL && err->rv == rv && err->arg != TCORE_ARG_NONE) {
        char bad[96];
        tcore_err_describe(err, bad, sizeof(bad));
        fprintf(stderr, "; bad argument: %s", bad);
    }
    fputc('\n', stderr);
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

bool cli_session_open(tsvc *v, const char *label, const char *pin, cli_session *out)
{
    cli_session cs = {v, CK_INVALID_HANDLE};
    CK_SLOT_ID slot;
    CK_RV rv = tsvc_slot_by_label(v, label, &slot);
    if (rv == CKR_DEVICE_ERROR) {
        cli_error("reach tesserad", rv, NULL);
        return false;
    }
    if (rv != CKR_OK) {
        fprintf(stderr, "tessera: no token labelled \"%s\"\n", label);
        return false;
    }
    rv = tsvc_session_open(v, slot, true, &cs.h);
    if (rv != CKR_OK) {
        cli_error("open session", rv, NULL);
        goto fail;
    }
    if (pin != NULL) {
        rv = tsvc_login(v, cs.h, CKU_USER, NULL, 0, (const uint8_t *)pin, strlen(pin));
        if (rv != CKR_OK) {
            cli_error("login", rv, tsvc_last_error());
            goto fail;
        }
    }
    *out = cs;
    return true;
fail:
    cli_session_close(&cs);
    return false;
}

void cli_session_close(cli_session *cs)
{
    if (cs->h != CK_INVALID_HANDLE)
        tsvc_session_close(cs->v, cs->h);
    cs->h = CK_INVALID_HANDLE;
}

CK_RV cli_find(const cli_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **out,
               CK_ULONG *count)
{
    CK_OBJECT_HANDLE *h = NULL;
    CK_ULONG have = 0, cap = 0;
    CK_RV rv = tsvc_find_init(s->v, s->h, tmpl, n);
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
        rv = tsvc_find(s->v, s->h, h + have, cap - have, &got);
        if (rv != CKR_OK || got == 0)
            break;
        have += got;
    }
    CK_RV rv2 = tsvc_find_final(s->v, s->h);
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

CK_RV cli_get_attr(const cli_session *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, unsigned char **val,
                   CK_ULONG *len)
{
    CK_ATTRIBUTE a = {t, NULL, 0};
    unsigned char *v;
    CK_RV rv = tsvc_object_get_attrs(s->v, s->h, o, &a, 1);
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return CKR_ATTRIBUTE_SENSITIVE;
    v = malloc(a.ulValueLen + 1);
    if (v == NULL)
        return CKR_HOST_MEMORY;
    a.pValue = v;
    rv = tsvc_object_get_attrs(s->v, s->h, o, &a, 1);
    if (rv != CKR_OK) {
        free(v);
        return rv;
    }
    v[a.ulValueLen] = '\0';
    *val = v;
    *len = a.ulValueLen;
    return CKR_OK;
}

bool cli_get_ulong(const cli_session *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_ULONG *v)
{
    CK_ATTRIBUTE a = {t, v, sizeof(*v)};
    return tsvc_object_get_attrs(s->v, s->h, o, &a, 1) == CKR_OK && a.ulValueLen == sizeof(*v);
}

int cli_get_bool(const cli_session *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t)
{
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE a = {t, &b, sizeof(b)};
    if (tsvc_object_get_attrs(s->v, s->h, o, &a, 1) != CKR_OK || a.ulValueLen != sizeof(b))
        return -1;
    return b == CK_TRUE;
}
