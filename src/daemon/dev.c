/*
 * tesserad --dev: a development server in one command. The token is made
 * in process through the core, as `tessera init` would over the wire, with
 * random PINs that are printed — which is why dev mode says so loudly.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "daemon/daemon.h"

#define DEV_LABEL "dev"
#define SO_PIN_LEN 8
#define USER_PIN_LEN 6

/* n random decimal digits (uniform: bytes of 250 and above are redrawn). */
static bool random_digits(char *out, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b[16];
        ssize_t got = getrandom(b, sizeof(b), 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        for (ssize_t k = 0; k < got && i < n; k++) {
            if (b[k] < 250)
                out[i++] = (char)('0' + b[k] % 10);
        }
        tc_wipe(b, sizeof(b));
    }
    out[n] = '\0';
    return true;
}

/* Whether --data-dir holds the dev token of an earlier run. */
static bool dev_token_exists(tcore *core)
{
    tsvc *v = NULL;
    CK_SLOT_ID slot;
    bool found = tsvc_open_core(core, "tesserad --dev", &v) == CKR_OK &&
                 tsvc_slot_by_label(v, DEV_LABEL, &slot) == CKR_OK;
    tsvc_close(v);
    return found;
}

static bool make_token(tcore *core, const char *so, const char *user)
{
    tsvc *v = NULL;
    CK_SLOT_ID slot;
    const char *step = "open a channel to the core";
    CK_RV rv = tsvc_open_core(core, "tesserad --dev", &v);
    if (rv == CKR_OK)
        rv = tsvc_token_create(v, DEV_LABEL, so, user, &slot, &step);
    if (rv != CKR_OK) {
        const char *name = dlog_rv_name(rv);
        fprintf(stderr, "tesserad: dev mode: cannot %s (%s, 0x%lx)\n", step,
                name != NULL ? name : "error", (unsigned long)rv);
    }
    tsvc_close(v);
    return rv == CKR_OK;
}

bool ddev_init_token(tcore *core, const char *dir, const char *socket_path, bool temporary)
{
    char so[SO_PIN_LEN + 1], user[USER_PIN_LEN + 1];
    bool fresh = true;
    bool ok = false;

    if (dev_token_exists(core)) {
        /* --data-dir of an earlier run: the token and its PINs stay */
        fresh = false;
    } else {
        if (!random_digits(so, SO_PIN_LEN) || !random_digits(user, USER_PIN_LEN)) {
            fprintf(stderr, "tesserad: dev mode: no random numbers\n");
            goto out;
        }
        if (!make_token(core, so, user))
            goto out;
    }
    printf("WARNING: dev mode. Keys live in %s%s, PINs are printed\n"
           "below and the socket is open to every local user of this uid's group. "
           "Never use dev mode in production.\n",
           dir, temporary ? " (deleted on exit)" : "");
    printf("Token:        %s\n", DEV_LABEL);
    if (fresh) {
        printf("User PIN:     %s\n", user);
        printf("SO PIN:       %s\n", so);
    } else {
        printf("User PIN:     (unchanged: the token was made by an earlier run)\n");
        printf("SO PIN:       (unchanged)\n");
    }
    printf("Socket:       %s\n", socket_path);
    printf("Export this in the shell that runs clients:\n");
    printf("    export TESSERA_URL=unix://%s\n", socket_path);
    fflush(stdout);
    ok = true;
out:
    tc_wipe(so, sizeof(so));
    tc_wipe(user, sizeof(user));
    return ok;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "tesserad: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

void ddev_remove_dir(const char *dir)
{
    (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
