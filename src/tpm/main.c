/*
 * tessera-tpm: the software TPM 2.0 server.
 *   tessera-tpm --state DIR --port N [--address A] [--log-level L] [limits]
 *   tessera-tpm measure ...   (measured boot, see measure.c)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpm/ttpm.h"

static volatile int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tessera-tpm --state DIR {--port N | --ctrl unix:PATH} [--address A]\n"
               "                   [--log-level L]\n"
               "                   [--max-connections N] [--idle-timeout S] [--read-timeout S]\n"
               "                   [--write-timeout S] [--profile default|small]\n"
               "       tessera-tpm measure --port N [--address A] --pcr P --log FILE "
               "[--swtpm] FILE...\n");
}

/* A non-negative count (seconds, connections) up to max; false if malformed. */
static bool parse_count(const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    if (*v < '0' || *v > '9')
        return false;
    unsigned long x = strtoul(v, &end, 10);
    if (*end || x > max)
        return false;
    *out = x;
    return true;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "measure") == 0)
        return ttpm_measure_main(argc - 1, argv + 1);
    const char *state = NULL, *addr = "127.0.0.1", *profile = "default";
    long port = -1;
    ttpm_server_limits lim = ttpm_server_defaults;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (v == NULL) {
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--state") == 0) {
            state = v;
        } else if (strcmp(a, "--port") == 0) {
            char *end;
            port = strtol(v, &end, 10);
            if (*end || port < 1 || port > 65534) {
                fprintf(stderr, "tessera-tpm: bad port %s\n", v);
                return 2;
            }
        } else if (strcmp(a, "--max-connections") == 0) {
            unsigned long x;
            if (!parse_count(v, 4096, &x) || x < 1) {
                fprintf(stderr, "tessera-tpm: bad connection limit %s\n", v);
                return 2;
            }
            lim.max_conns = (unsigned)x;
        } else if (strcmp(a, "--idle-timeout") == 0 || strcmp(a, "--read-timeout") == 0 ||
                   strcmp(a, "--write-timeout") == 0) {
            unsigned long x;
            if (!parse_count(v, 86400 * 7, &x)) {
                fprintf(stderr, "tessera-tpm: bad timeout %s (seconds, 0 = none)\n", v);
                return 2;
            }
            uint32_t ms = (uint32_t)x * 1000u;
            if (a[2] == 'i')
                lim.idle_timeout_ms = ms;
            else if (a[2] == 'r')
                lim.read_timeout_ms = ms;
            else
                lim.write_timeout_ms = ms;
        } else if (strcmp(a, "--ctrl") == 0) {
            /* the swtpm control channel on a Unix socket (QEMU) */
            if (strncmp(v, "unix:", 5) != 0 || v[5] == '\0') {
                fprintf(stderr, "tessera-tpm: --ctrl takes unix:PATH\n");
                return 2;
            }
            lim.ctrl_unix = v + 5;
        } else if (strcmp(a, "--profile") == 0) {
            if (strcmp(v, "default") != 0 && strcmp(v, "small") != 0) {
                fprintf(stderr, "tessera-tpm: unknown profile %s (default, small)\n", v);
                return 2;
            }
            profile = v;
        } else if (strcmp(a, "--address") == 0) {
            addr = v;
        } else if (strcmp(a, "--log-level") == 0) {
            tc_log_level l;
            if (!tc_log_level_parse(v, &l)) {
                fprintf(stderr, "tessera-tpm: bad log level %s\n", v);
                return 2;
            }
            tc_log_set_level(l);
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (state == NULL || (port < 0 && lim.ctrl_unix == NULL)) {
        usage(stderr);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    ttpm *t = ttpm_new(state);
    if (t == NULL) {
        fprintf(stderr, "tessera-tpm: cannot open state in %s\n", state);
        return 1;
    }
    (void)ttpm_set_profile(t, profile);
    int rc = ttpm_server_run(t, addr, port < 0 ? 0 : (uint16_t)port, &lim, &g_stop);
    ttpm_free(t);
    return rc == 0 ? 0 : 1;
}
