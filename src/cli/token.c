#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `tessera token init --label L --so-pin P --pin P`: initialises the token in
 * the free slot (PKCS#11 3.0 §5.6 C_InitToken), then sets the user PIN as the
 * SO (C_InitPIN). */
int cli_token_init(CK_FUNCTION_LIST_PTR f, const cli_args *a)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_UTF8CHAR label[32];
    int status = 1;
    CK_RV rv;

    if (strlen(a->label) > sizeof(label)) {
        fprintf(stderr, "tessera: a token label has at most 32 bytes\n");
        return 2;
    }
    if (cli_find_token(f, a->label, &slot) == CKR_OK) {
        fprintf(stderr, "tessera: a token labelled \"%s\" exists already\n", a->label);
        return 1;
    }
    rv = cli_find_free_slot(f, &slot);
    if (rv != CKR_OK) {
        fprintf(stderr, "tessera: no free slot for a new token\n");
        return 1;
    }
    cli_pad(label, sizeof(label), a->label);
    rv = f->C_InitToken(slot, (CK_UTF8CHAR_PTR)a->so_pin, strlen(a->so_pin), label);
    if (rv != CKR_OK) {
        cli_p11_error("initialise token", rv);
        goto out;
    }
    /* Slot numbers may change once a token is initialised: look it up again. */
    rv = cli_find_token(f, a->label, &slot);
    if (rv != CKR_OK) {
        cli_p11_error("find the new token", rv);
        goto out;
    }
    rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv == CKR_OK)
        rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)a->so_pin, strlen(a->so_pin));
    if (rv != CKR_OK) {
        cli_p11_error("log in as SO", rv);
        goto out;
    }
    rv = f->C_InitPIN(s, (CK_UTF8CHAR_PTR)a->pin, strlen(a->pin));
    if (rv != CKR_OK) {
        cli_p11_error("set the user PIN", rv);
        goto out;
    }
    f->C_Logout(s);
    printf("token \"%s\" initialised in slot %lu\n", a->label, (unsigned long)slot);
    status = 0;
out:
    if (s != CK_INVALID_HANDLE)
        f->C_CloseSession(s);
    return status;
}

/* `tessera token list`: every slot with its token, initialised or free. */
int cli_token_list(CK_FUNCTION_LIST_PTR f, const cli_args *a)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    int status = 1;
    (void)a;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv == CKR_OK && (slots = calloc(n ? n : 1, sizeof(*slots))) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        cli_p11_error("list slots", rv);
        goto out;
    }
    printf("%-6s %-32s %-16s %s\n", "slot", "label", "serial", "state");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char label[33], serial[17];
        rv = f->C_GetTokenInfo(slots[i], &ti);
        if (rv != CKR_OK) {
            cli_p11_error("token info", rv);
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
