/*
 * tessera cert ca|server|client: the certificates of a quick start of the
 * TLS listener, made by the core (tcore_cert_make). No token, no store.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

#define CERT_DAYS_CA 3650
#define CERT_DAYS_LEAF 825
#define CERT_DAYS_MAX 36500
#define CERT_NAMES_MAX 64

static void cert_usage(FILE *out)
{
    fprintf(out,
            "usage:\n"
            "  tessera cert ca     --out DIR [--cn NAME] [--days N]\n"
            "        writes DIR/ca.pem and DIR/ca.key (default CN \"Tessera CA\", %d days)\n"
            "  tessera cert server --ca DIR --out DIR [--cn NAME] [--name N]... [--days N]\n"
            "        writes DIR/server.pem and DIR/server.key; --name adds a subjectAltName\n"
            "        (host name or IP address; default localhost and 127.0.0.1), the CN\n"
            "        defaults to the first name (%d days)\n"
            "  tessera cert client --ca DIR --out DIR --cn NAME [--days N]\n"
            "        writes DIR/NAME.pem and DIR/NAME.key; NAME of A-Z a-z 0-9 . _ - (%d days)\n"
            "--ca DIR is the folder holding ca.pem and ca.key. --out DIR is created (mode 0700)\n"
            "if missing. Existing files are never overwritten. Keys are ECDSA P-256; key files\n"
            "are written with mode 0600.\n",
            CERT_DAYS_CA, CERT_DAYS_LEAF, CERT_DAYS_LEAF);
}

/* A client's name becomes a file name: no '/', no hidden or dot names. */
static bool file_name_ok(const char *s)
{
    if (s[0] == '\0' || s[0] == '.' || strlen(s) > 64)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool parse_days(const char *s, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > CERT_DAYS_MAX)
        return false;
    *out = (int)v;
    return true;
}

static bool join(char *out, size_t outlen, const char *dir, const char *name, const char *ext)
{
    int n = snprintf(out, outlen, "%s/%s%s", dir, name, ext);
    if (n < 0 || (size_t)n >= outlen) {
        fprintf(stderr, "tessera: cert: path too long: %s/%s%s\n", dir, name, ext);
        return false;
    }
    return true;
}

static bool refuse_existing(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 || errno != ENOENT) {
        fprintf(stderr, "tessera: cert: %s exists; not overwritten\n", path);
        return true;
    }
    return false;
}

int cli_cert_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'}, {"ca", required_argument, NULL, 'a'},
        {"cn", required_argument, NULL, 'c'},  {"name", required_argument, NULL, 'n'},
        {"days", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cert_usage(stdout);
        return 0;
    }
    if (argc < 2) {
        cert_usage(stderr);
        return 2;
    }
    tcore_cert_kind kind;
    const char *verb = argv[1];
    if (strcmp(verb, "ca") == 0)
        kind = TCORE_CERT_CA;
    else if (strcmp(verb, "server") == 0)
        kind = TCORE_CERT_SERVER;
    else if (strcmp(verb, "client") == 0)
        kind = TCORE_CERT_CLIENT;
    else {
        fprintf(stderr, "tessera: cert: unknown kind '%s' (ca, server or client)\n", verb);
        cert_usage(stderr);
        return 2;
    }

    const char *out_dir = NULL, *ca_dir = NULL, *cn = NULL;
    const char *names[CERT_NAMES_MAX + 1];
    size_t nnames = 0;
    int days = kind == TCORE_CERT_CA ? CERT_DAYS_CA : CERT_DAYS_LEAF;
    /* Parse after the kind; optind 0 resets getopt fully (main() may have
     * used it already). */
    optind = 0;
    opterr = 1;
    int ch;
    while ((ch = getopt_long(argc - 1, argv + 1, "+h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': out_dir = optarg; break;
        case 'a': ca_dir = optarg; break;
        case 'c': cn = optarg; break;
        case 'n':
            if (nnames == CERT_NAMES_MAX) {
                fprintf(stderr, "tessera: cert: at most %d --name\n", CERT_NAMES_MAX);
                return 2;
            }
            names[nnames++] = optarg;
            break;
        case 'd':
            if (!parse_days(optarg, &days)) {
                fprintf(stderr, "tessera: cert: --days must be 1 to %d\n", CERT_DAYS_MAX);
                return 2;
            }
            break;
        case 'h': cert_usage(stdout); return 0;
        default: cert_usage(stderr); return 2;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "tessera: cert: unexpected argument '%s'\n", argv[1 + optind]);
        return 2;
    }
    if (out_dir == NULL || (kind != TCORE_CERT_CA && ca_dir == NULL) ||
        (kind == TCORE_CERT_CLIENT && cn == NULL)) {
        fprintf(stderr, "tessera: cert %s: %s required\n", verb,
                kind == TCORE_CERT_CA       ? "--out is"
                : kind == TCORE_CERT_SERVER ? "--ca and --out are"
                                            : "--ca, --out and --cn are");
        cert_usage(stderr);
        return 2;
    }
    if (kind == TCORE_CERT_CA && ca_dir != NULL) {
        fprintf(stderr, "tessera: cert ca: a CA is self-signed; --ca is not accepted\n");
        return 2;
    }
    if (kind != TCORE_CERT_SERVER && nnames > 0) {
        fprintf(stderr, "tessera: cert %s: --name is for server certificates\n", verb);
        return 2;
    }
    if (kind == TCORE_CERT_CLIENT && !file_name_ok(cn)) {
        fprintf(stderr, "tessera: cert client: --cn must be 1 to 64 of A-Z a-z 0-9 . _ - "
                        "(not starting with '.')\n");
        return 2;
    }
    if (kind == TCORE_CERT_SERVER && nnames == 0) {
        names[nnames++] = "localhost";
        names[nnames++] = "127.0.0.1";
    }
    names[nnames] = NULL;
    if (cn == NULL)
        cn = kind == TCORE_CERT_CA ? "Tessera CA" : names[0];

    const char *base = kind == TCORE_CERT_CA ? "ca" : kind == TCORE_CERT_SERVER ? "server" : cn;
    char cert_out[PATH_MAX], key_out[PATH_MAX], ca_cert[PATH_MAX], ca_key[PATH_MAX];
    if (!join(cert_out, sizeof(cert_out), out_dir, base, ".pem") ||
        !join(key_out, sizeof(key_out), out_dir, base, ".key"))
        return 1;
    if (ca_dir != NULL && (!join(ca_cert, sizeof(ca_cert), ca_dir, "ca", ".pem") ||
                           !join(ca_key, sizeof(ca_key), ca_dir, "ca", ".key")))
        return 1;
    if (refuse_existing(cert_out) || refuse_existing(key_out))
        return 1;
    if (!tc_mkdirs(out_dir, 0700)) {
        fprintf(stderr, "tessera: cert: cannot create %s: %s\n", out_dir, strerror(errno));
        return 1;
    }

    tcore_cert_req req = {
        .kind = kind,
        .common_name = cn,
        .names = kind == TCORE_CERT_SERVER ? names : NULL,
        .days = days,
        .ca_cert_file = ca_dir != NULL ? ca_cert : NULL,
        .ca_key_file = ca_dir != NULL ? ca_key : NULL,
        .cert_out = cert_out,
        .key_out = key_out,
    };
    const char *why = NULL;
    CK_RV rv = tcore_cert_make(&req, &why);
    if (rv != CKR_OK) {
        fprintf(stderr, "tessera: cert %s: %s\n", verb, why != NULL ? why : cli_rv_name(rv));
        return 1;
    }
    printf("%s\n%s\n", cert_out, key_out);
    return 0;
}
