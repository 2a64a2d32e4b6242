#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `tessera token init --label L --so-pin P --pin P`: initialises the token in
 * the free slot (PKCS#11 3.0 §5.6 C_InitToken), then sets the user PIN as the
 * SO (C_InitPIN). */
int cli_token_init(tsvc *v, const cli_args *a)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_UTF8CHAR label[32];
    int status = 1;
    CK_RV rv;

    if (strlen(a->label) > sizeof(label)) {
        fprintf(stderr, "tessera: a token label has at most 32 bytes\n");
        return 2;
    }
    if (tsvc_slot_by_label(v, a->label, &slot) == CKR_OK) {
        fprintf(stderr, "tessera: a token labelled \"%s\" exists already\n", a->label);
        return 1;
    }
    rv = tsvc_slot_free(v, &slot);
    if (rv != CKR_OK) {
        fprintf(stderr, "tessera: no free slot for a new token\n");
        return 1;
    }
    tc_pad(label, sizeof(label), a->label);
    rv = tsvc_init_token(v, slot, (const uint8_t *)a->so_pin, strlen(a->so_pin), label);
    if (rv != CKR_OK) {
        cli_error("initialise token", rv, tsvc_last_error());
        goto out;
    }
    /* Slot numbers may change once a token is initialised: look it up again. */
    rv = tsvc_slot_by_label(v, a->label, &slot);
    if (rv != CKR_OK) {
        cli_error("find the new token", rv, NULL);
        goto out;
    }
    rv = tsvc_session_open(v, slot, true, &h);
    if (rv != CKR_OK) {
        cli_error("open session", rv, NULL);
        goto out;
    }
    rv = tsvc_login(v, h, CKU_SO, NULL, 0, (const uint8_t *)a->so_pin, strlen(a->so_pin));
    if (rv != CKR_OK) {
        cli_error("log in as SO", rv, tsvc_last_error());
        goto out;
    }
    rv = tsvc_init_pin(v, h, (const uint8_t *)a->pin, strlen(a->pin));
    if (rv != CKR_OK) {
        cli_error("set the user PIN", rv, tsvc_last_error());
        goto out;
    }
    tsvc_logout(v, h);
    printf("token \"%s\" initialised in slot %lu\n", a->label, (unsigned long)slot);
    status = 0;
out:
    if (h != CK_INVALID_HANDLE)
        tsvc_session_close(v, h);
    return status;
}

/* `tessera token list`: every slot with its token, initialised or free. */
int cli_token_list(tsvc *v, const cli_args *a)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    int status = 1;
    (void)a;
    CK_RV rv = tsvc_slot_list_alloc(v, &slots, &n);
    if (rv != CKR_OK) {
        cli_error("list slots", rv, NULL);
        goto out;
    }
    printf("%-6s %-32s %-16s %s\n", "slot", "label", "serial", "state");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char label[33], serial[17];
        rv = tsvc_token_info(v, slots[i], &ti);
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
