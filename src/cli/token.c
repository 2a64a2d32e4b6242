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
    const char *step;

    if (strlen(a->label) > 32) {
        fprintf(stderr, "tessera: a token label has at most 32 bytes\n");
        return 2;
    }
    if (tsvc_slot_by_label(v, a->label, &slot) == CKR_OK) {
        fprintf(stderr, "tessera: a token labelled \"%s\" exists already\n", a->label);
        return 1;
    }
    CK_RV rv = tsvc_token_create(v, a->label, a->so_pin, a->pin, &slot, &step);
    if (rv == CKR_TOKEN_NOT_PRESENT && strcmp(step, "find the free slot") == 0) {
        fprintf(stderr, "tessera: no free slot for a new token\n");
        return 1;
    }
    if (rv != CKR_OK) {
        cli_error(step, rv, tsvc_last_error());
        return 1;
    }
    printf("token \"%s\" initialised in slot %lu\n", a->label, (unsigned long)slot);
    return 0;
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
