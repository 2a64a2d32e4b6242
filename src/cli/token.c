#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `tessera token init --label L --so-pin P --pin P`: initialises the token in
 * the free slot (PKCS#11 3.0 §5.6 C_InitToken), then sets the user PIN as the
 * SO (C_InitPIN). */
int cli_token_init(tcore *c, tcore_app *app, const cli_args *a)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    tcore_session *s = NULL;
    CK_UTF8CHAR label[32];
    tcore_err err;
    int status = 1;
    CK_RV rv;

    if (strlen(a->label) > sizeof(label)) {
        fprintf(stderr, "tessera: a token label has at most 32 bytes\n");
        return 2;
    }
    if (tcore_slot_by_label(c, a->label, &slot) == CKR_OK) {
        fprintf(stderr, "tessera: a token labelled \"%s\" exists already\n", a->label);
        return 1;
    }
    rv = tcore_slot_free(c, &slot);
    if (rv != CKR_OK) {
        fprintf(stderr, "tessera: no free slot for a new token\n");
        return 1;
    }
    tc_pad(label, sizeof(label), a->label);
    rv = tcore_init_token(c, slot, (const uint8_t *)a->so_pin, strlen(a->so_pin), label, &err);
    if (rv != CKR_OK) {
        cli_error("initialise token", rv, &err);
        goto out;
    }
    /* Slot numbers may change once a token is initialised: look it up again. */
    rv = tcore_slot_by_label(c, a->label, &slot);
    if (rv != CKR_OK) {
        cli_error("find the new token", rv, NULL);
        goto out;
    }
    rv = tcore_session_open(app, slot, true, &h);
    if (rv == CKR_OK)
        rv = tcore_session_get(app, h, &s);
    if (rv != CKR_OK) {
        cli_error("open session", rv, NULL);
        goto out;
    }
    rv = tcore_login(s, CKU_SO, NULL, 0, (const uint8_t *)a->so_pin, strlen(a->so_pin));
    if (rv != CKR_OK) {
        cli_error("log in as SO", rv, tcore_session_error(s));
        goto out;
    }
    rv = tcore_init_pin(s, (const uint8_t *)a->pin, strlen(a->pin));
    if (rv != CKR_OK) {
        cli_error("set the user PIN", rv, tcore_session_error(s));
        goto out;
    }
    tcore_logout(s);
    printf("token \"%s\" initialised in slot %lu\n", a->label, (unsigned long)slot);
    status = 0;
out:
    if (s != NULL)
        tcore_session_put(s);
    if (h != CK_INVALID_HANDLE)
        tcore_session_close(app, h);
    return status;
}

/* `tessera token list`: every slot with its token, initialised or free. */
int cli_token_list(tcore *c, tcore_app *app, const cli_args *a)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    int status = 1;
    (void)app;
    (void)a;
    CK_RV rv = tcore_slot_list_alloc(c, &slots, &n);
    if (rv != CKR_OK) {
        cli_error("list slots", rv, NULL);
        goto out;
    }
    printf("%-6s %-32s %-16s %s\n", "slot", "label", "serial", "state");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char label[33], serial[17];
        rv = tcore_token_info(c, slots[i], &ti);
        if (rv != CKR_OK) {
            cli_error("token info", rv, NULL);
            goto out;
        }
        if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            printf("%-6lu %-32s %-16s %s\n", (unsigned long)slots[i], "-", "-", "free");
            continue;
        }
        cli_unpad(label, sizeof(label), ti.label, sizeof(ti.label));
        cli_unpad(serial, sizeof(serial), ti.serialNumber, sizeof(ti.serialNumber));
        printf("%-6lu %-32s %-16s initialised%s%s\n", (unsigned long)slots[i], label, serial,
               (ti.flags & CKF_USER_PIN_INITIALIZED) ? ", user PIN set" : ", no user PIN",
               (ti.flags & CKF_USER_PIN_LOCKED) ? ", user PIN locked" : "");
    }
    status = 0;
out:
    free(slots);
    return status;
}
