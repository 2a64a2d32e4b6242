/*
 * cli/ internal interface: the `tessera` command line, a front end of the
 * core like the PKCS#11 module: its commands call the service
 * (service/tsvc.h), so each runs in process on the local store or against
 * tesserad (--url, TESSERA_URL) with the same output.
 *
 *   main.c     — argument parsing, the subcommand table, opening and closing
 *                the service channel (one application per command)
 *   util.c     — error reports, labels, a R/W session on a token, searches and
 *                attribute reads
 *   pem.c      — PEM (base64) output of DER
 *   token.c    — `tessera token init|list`
 *   key.c      — `tessera key gen|list|show|delete`
 *   cert.c     — `tessera cert ca|server|client`
 *
 * Handlers return a process exit status (0 success, 1 failure, 2 usage) and
 * print their own diagnostics; PINs are wiped by main() before it returns.
 */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "common/tcommon.h"
#include "service/tsvc.h"

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

typedef int (*cli_handler)(tsvc *v, const cli_args *a);

/* ---- util.c ---------------------------------------------------------------- */

const char *cli_rv_name(CK_RV rv);
/* Prints "tessera: WHAT: CKR_NAME (0x..)" to stderr, followed by the argument
 * (and template entry) ERR names when it names one; ERR may be NULL. */
void cli_error(const char *what, CK_RV rv, const tcore_err *err);

/* Blank-padded 32-byte label <-> C string. */
void cli_unpad(char *out, size_t outlen, const CK_UTF8CHAR *in, size_t inlen);


/* A session of the CLI's application. */
typedef struct cli_session {
    tsvc *v;
    CK_SESSION_HANDLE h;
} cli_session;

/* R/W session on token LABEL, logged in as the user with PIN (skipped when
 * PIN is NULL: public session). Prints its diagnostics; false on failure. */
bool cli_session_open(tsvc *v, const char *label, const char *pin, cli_session *out);
/* Closes the session (the application's last one logs it out); idempotent. */
void cli_session_close(cli_session *cs);

/* Objects on the session's token matching TEMPLATE; *out is malloc'ed. */
CK_RV cli_find(const cli_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **out,
               CK_ULONG *count);
/* One attribute, malloc'ed (NUL-terminated for convenience); CKR_ATTRIBUTE_*
 * when absent or sensitive. */
CK_RV cli_get_attr(const cli_session *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, unsigned char **val,
                   CK_ULONG *len);
bool cli_get_ulong(const cli_session *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_ULONG *v);
/* -1 when absent, else 0/1. */
int cli_get_bool(const cli_session *s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t);

/* ---- cert.c ------------------------------------------------------------------
 * `tessera cert ca|server|client`: certificates for a quick start of the TLS
 * listener; needs no token (argv[0] is "cert"). */
int cli_cert_main(int argc, char **argv);

/* ---- pem.c ------------------------------------------------------------------- */

/* Writes DER as PEM (RFC 7468: base64, 64-column lines) with the given label
 * ("PUBLIC KEY") to stdout. */
void cli_print_pem(const char *label, const unsigned char *der, size_t len);

/* ---- token.c / key.c ------------------------------------------------------- */
int cli_token_init(tsvc *v, const cli_args *a);
int cli_token_list(tsvc *v, const cli_args *a);
int cli_key_gen(tsvc *v, const cli_args *a);
int cli_key_list(tsvc *v, const cli_args *a);
int cli_key_show(tsvc *v, const cli_args *a);
int cli_key_delete(tsvc *v, const cli_args *a);

#endif
