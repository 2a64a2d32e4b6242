#include "cli/cli.h"

#include <stdio.h>

/* Base64 (RFC 4648 §4) of at most 48 bytes: one 64-column PEM line. Only
 * public data is encoded here, so the table lookup need not be constant-time. */
static void b64_line(const unsigned char *in, size_t len, char out[65])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        unsigned v = (unsigned)in[i] << 16;
        if (left > 1)
            v |= (unsigned)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = left > 1 ? b64[(v >> 6) & 63] : '=';
        out[o++] = left > 2 ? b64[v & 63] : '=';
    }
    out[o] = '\0';
}

void cli_print_pem(const char *label, const unsigned char *der, size_t len)
{
    char line[65];
    printf("-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < len; i += 48) {
        b64_line(der + i, len - i < 48 ? len - i : 48, line);
        printf("%s\n", line);
    }
    printf("-----END %s-----\n", label);
}
