/*
 * tessera: the Tessera command line.
 *
 *   tessera token init --label L --so-pin P --pin P
 *   tessera token list
 *   tessera key gen    --token L --type TYPE --label X   (TYPE: tcore_keyspec_names)
 *   tessera key list   --token L
 *   tessera key show   --token L --label X
 *   tessera key delete --token L --label X
 *   tessera cert ca|server|client ...
 *   tessera --url URL <command>      (any command, against tesserad)
 *
 * The user PIN comes from --pin or $TESSERA_PIN. The CLI is a front end of
 * the core, like the PKCS#11 module: one application of the core per run,
 * the same rules, and the same store and configuration (TESSERA_CONF,
 * TESSERA_HOME), so other processes see at once what it does. With --url
 * or TESSERA_URL (or `url` in the configuration) every command runs
 * against tesserad instead, with the same output.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/tcommon.h"

static const struct command {
    const char *group;
    const char *verb;
    cli_handler handler;
    unsigned required;
    unsigned allowed;
    const char *usage;
} commands[] = {
    {"token", "init", cli_token_init, CLI_OPT_LABEL | CLI_OPT_SO_PIN | CLI_OPT_PIN,
     CLI_OPT_LABEL | CLI_OPT_SO_PIN | CLI_OPT_PIN, "--label L --so-pin P --pin P"},
    {"token", "list", cli_token_list, 0, 0, ""},
    {"key", "gen", cli_key_gen, CLI_OPT_TOKEN | CLI_OPT_TYPE | CLI_OPT_LABEL | CLI_OPT_PIN,
     CLI_OPT_TOKEN | CLI_OPT_TYPE | CLI_OPT_LABEL | CLI_OPT_PIN,
     "--token L --type TYPE --label X [--pin P]"},
    {"key", "list", cli_key_list, CLI_OPT_TOKEN | CLI_OPT_PIN, CLI_OPT_TOKEN | CLI_OPT_PIN, "--token L [--pin P]"},
    {"key", "show", cli_key_show, CLI_OPT_TOKEN | CLI_OPT_LABEL | CLI_OPT_PIN,
     CLI_OPT_TOKEN | CLI_OPT_LABEL | CLI_OPT_PIN, "--token L --label X [--pin P]"},
    {"key", "delete", cli_key_delete, CLI_OPT_TOKEN | CLI_OPT_LABEL | CLI_OPT_PIN,
     CLI_OPT_TOKEN | CLI_OPT_LABEL | CLI_OPT_PIN, "--token L --label X [--pin P]"},
};

static const struct {
    unsigned bit;
    const char *name;
} opt_names[] = {
    {CLI_OPT_LABEL, "--label"}, {CLI_OPT_TOKEN, "--token"}, {CLI_OPT_TYPE, "--type"},
    {CLI_OPT_PIN, "--pin (or TESSERA_PIN)"}, {CLI_OPT_SO_PIN, "--so-pin"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  tessera %s %s %s\n", commands[i].group, commands[i].verb, commands[i].usage);
    fprintf(out, "  tessera cert ca|server|client ...   (tessera cert --help)\n");
    fprintf(out, "TYPE is one of %s.\n", tcore_keyspec_names());
    fprintf(out, "The user PIN may be given in TESSERA_PIN instead of --pin.\n"
                 "tessera --url URL COMMAND ... runs COMMAND against tesserad (URL: unix:///PATH or\n"
                 "tls://HOST:PORT[,HOST:PORT...]); TESSERA_URL does the same.\n"
                 "Configuration: TESSERA_CONF names a file with `store = PATH`, `log_level`, `log_file`,\n"
                 "`url`, `tls_cert`, `tls_key`, `tls_ca`.\n");
}

static char *dup_secret(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        fprintf(stderr, "tessera: out of memory\n");
    return d;
}

static void free_secret(char *s)
{
    if (s != NULL)
        tc_freezero(s, strlen(s));
}

/* Parses options for CMD into *a; returns 0, or 2 for a usage error. */
static int parse_options(const struct command *cmd, int argc, char **argv, cli_args *a)
{
    static const struct option lo[] = {
        {"label", required_argument, NULL, 'l'}, {"token", required_argument, NULL, 't'},
        {"type", required_argument, NULL, 'y'},  {"pin", required_argument, NULL, 'p'},
        {"so-pin", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    unsigned given = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        unsigned bit = 0;
        switch (c) {
        case 'l': a->label = optarg; bit = CLI_OPT_LABEL; break;
        case 't': a->token = optarg; bit = CLI_OPT_TOKEN; break;
        case 'y': a->type = optarg; bit = CLI_OPT_TYPE; break;
        case 'p':
        case 's': {
            char **dst = c == 'p' ? &a->pin : &a->so_pin;
            free_secret(*dst);
            if ((*dst = dup_secret(optarg)) == NULL)
                return 1;
            /* Keep the PIN out of `ps` output from now on. */
            tc_wipe(optarg, strlen(optarg));
            bit = c == 'p' ? CLI_OPT_PIN : CLI_OPT_SO_PIN;
            break;
        }
        case 'h':
            fprintf(stdout, "usage: tessera %s %s %s\n", cmd->group, cmd->verb, cmd->usage);
            if (cmd->allowed & CLI_OPT_TYPE)
                fprintf(stdout, "TYPE is one of %s.\n", tcore_keyspec_names());
            return -1;
        default:
            return 2;
        }
        if (!(cmd->allowed & bit)) {
            fprintf(stderr, "tessera %s %s: option %s not accepted\n", cmd->group, cmd->verb, argv[optind - 1]);
            return 2;
        }
        given |= bit;
    }
    if (optind != argc) {
        fprintf(stderr, "tessera %s %s: unexpected argument \"%s\"\n", cmd->group, cmd->verb, argv[optind]);
        return 2;
    }
    if ((cmd->allowed & CLI_OPT_PIN) && !(given & CLI_OPT_PIN)) {
        const char *env = getenv("TESSERA_PIN");
        if (env != NULL && *env != '\0') {
            if ((a->pin = dup_secret(env)) == NULL)
                return 1;
            given |= CLI_OPT_PIN;
        }
    }
    for (size_t i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++) {
        if ((cmd->required & opt_names[i].bit) && !(given & opt_names[i].bit)) {
            fprintf(stderr, "tessera %s %s: missing %s\nusage: tessera %s %s %s\n", cmd->group, cmd->verb,
                    opt_names[i].name, cmd->group, cmd->verb, cmd->usage);
            return 2;
        }
    }
    if ((given & CLI_OPT_LABEL) && *a->label == '\0') {
        fprintf(stderr, "tessera: --label must not be empty\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct command *cmd = NULL;
    cli_args a;
    tsvc *v = NULL;
    const char *url = NULL;
    char principal[32];
    int status = 2;

    memset(&a, 0, sizeof(a));
    /* The one option before the command: where the core is. */
    if (argc >= 2 && strncmp(argv[1], "--url", 5) == 0) {
        if (argv[1][5] == '=') {
            url = argv[1] + 6;
            argc -= 1;
            argv += 1;
        } else if (argv[1][5] == '\0' && argc >= 3) {
            url = argv[2];
            argc -= 2;
            argv += 2;
        } else {
            usage(stderr);
            return 2;
        }
        argv[0] = "tessera";
    }
    if (argc >= 2 && strcmp(argv[1], "cert") == 0)
        return cli_cert_main(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; argc >= 3 && i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].group, argv[1]) == 0 && strcmp(commands[i].verb, argv[2]) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "tessera: unknown command \"%s%s%s\"\n", argv[1], argc >= 3 ? " " : "",
                argc >= 3 ? argv[2] : "");
        usage(stderr);
        return 2;
    }
    status = parse_options(cmd, argc - 2, argv + 2, &a);
    if (status != 0) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    status = 1;
    /* The service reads TESSERA_CONF itself; in process it runs the
     * self-tests and opens the store, remote it connects to tesserad. */
    snprintf(principal, sizeof(principal), "cli pid %ld", (long)getpid());
    CK_RV rv = tsvc_open_url(NULL, url, principal, &v);
    if (rv != CKR_OK) {
        cli_error(url != NULL ? "reach tesserad" : "open the core", rv, NULL);
        goto out;
    }
    status = cmd->handler(v, &a);
out:
    tsvc_close(v);
    free_secret(a.pin);
    free_secret(a.so_pin);
    return status;
}
