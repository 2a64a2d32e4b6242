/*
 * cli/ internal interface: the `tessera` command line.
 *
 *   main.c     — argument parsing and the subcommand table
 *   p11cli.c   — PKCS#11 helpers (the module's code linked in, reached through
 *                C_GetFunctionList like any application would)
 *   token.c    — `tessera token init|list`
 *   key.c      — `tessera key gen|list|show|delete`
 *
 * Handlers return a process exit status (0 success, 1 failure, 2 usage) and
 * print their own diagnostics; PINs are wiped by main() before it returns.
 */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/pkcs11.h"

/* Options every subcommand may use; which are required is in the table. */
typedef struct cli_args {
    const char *label;
    const char *token;
    const char *type;
    char *pin;    /* --pin or $TESSERA_PIN (a copy; wiped at exit) */
    char *so_pin; /* --so-pin (a copy; wiped at exit) */
} cli_args;

enum {
    CLI_OPT_LABEL = 1u << 0,
    CLI_OPT_TOKEN = 1u << 1,
    CLI_OPT_TYPE = 1u << 2,
    CLI_OPT_PIN = 1u << 3,
    CLI_OPT_SO_PIN = 1u << 4,
};

typedef int (*cli_handler)(CK_FUNCTION_LIST_PTR f, const cli_args *a);

/* ---- p11cli.c ------------------------------------------------------------ */

/* Prints "tessera: WHAT: CKR_NAME (0x..)" to stderr. */
void cli_p11_error(const char *what, CK_RV rv);
const char *cli_rv_name(CK_RV rv);

/* Blank-padded 32-byte label <-> C string. */
void cli_pad(CK_UTF8CHAR *out, size_t outlen, const char *s);
void cli_unpad(char *out, size_t outlen, const CK_UTF8CHAR *in, size_t inlen);

/* Slot whose initialised token is LABEL. CKR_TOKEN_NOT_PRESENT when none. */
CK_RV cli_find_token(CK_FUNCTION_LIST_PTR f, const char *label, CK_SLOT_ID *slot);
/* First slot with an uninitialised token. CKR_TOKEN_NOT_PRESENT when none. */
CK_RV cli_find_free_slot(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID *slot);
/* R/W session on token LABEL, logged in as the user with PIN (skipped when
 * PIN is NULL: public session). */
CK_RV cli_open_token(CK_FUNCTION_LIST_PTR f, const char *label, const char *pin, CK_SESSION_HANDLE *s);

/* Objects on the session's token matching TEMPLATE; *out is malloc'ed. */
CK_RV cli_find(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
               CK_OBJECT_HANDLE **out, CK_ULONG *count);
/* One attribute, malloc'ed (NUL-terminated for convenience); CKR_ATTRIBUTE_*
 * when absent or sensitive. */
CK_RV cli_get_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
                   unsigned char **val, CK_ULONG *len);
bool cli_get_ulong(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
                   CK_ULONG *v);
/* -1 when absent, else 0/1. */
int cli_get_bool(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t);

/* Writes DER as PEM with the given label ("PUBLIC KEY") to stdout. */
void cli_print_pem(const char *label, const unsigned char *der, size_t len);
/* SubjectPublicKeyInfo DER of a public key object; *der malloc'ed. */
bool cli_public_spki(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, unsigned char **der,
                     size_t *len);

/* ---- token.c / key.c ------------------------------------------------------- */
int cli_token_init(CK_FUNCTION_LIST_PTR f, const cli_args *a);
int cli_token_list(CK_FUNCTION_LIST_PTR f, const cli_args *a);
int cli_key_gen(CK_FUNCTION_LIST_PTR f, const cli_args *a);
int cli_key_list(CK_FUNCTION_LIST_PTR f, const cli_args *a);
int cli_key_show(CK_FUNCTION_LIST_PTR f, const cli_args *a);
int cli_key_delete(CK_FUNCTION_LIST_PTR f, const cli_args *a);

#endif
