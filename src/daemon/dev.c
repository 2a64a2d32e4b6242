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

static bool make_token(tcore *core, const char *so, const char *user)
{
    CK_SLOT_ID slot;
    tcore_app *app = NULL;
    tcore_session *s = NULL;
    CK_SESSION_HANDLE h = 0;
    bool ok = false;
    const char *step = "find the free slot";
    uint8_t label[32];
    tc_pad(label, sizeof(label), DEV_LABEL);

    CK_RV rv = tcore_slot_free(core, &slot);
    if (rv != CKR_OK)
        goto out;
    step = "initialise the token";
    rv = tcore_init_token(core, slot, (const uint8_t *)so, SO_PIN_LEN, label, NULL);
    if (rv != CKR_OK)
        goto out;
    step = "find the new token";
    rv = tcore_slot_by_label(core, DEV_LABEL, &slot);
    if (rv != CKR_OK)
        goto out;
    step = "open a session";
    rv = tcore_app_new(core, "tesserad --dev", &app);
    if (rv != CKR_OK)
        goto out;
    rv = tcore_session_open(app, slot, true, &h);
    if (rv != CKR_OK)
        goto out;
    rv = tcore_session_get(app, h, &s);
    if (rv != CKR_OK)
        goto out;
    step = "log in as SO";
    rv = tcore_login(s, CKU_SO, NULL, 0, (const uint8_t *)so, SO_PIN_LEN);
    if (rv != CKR_OK)
        goto out;
    step = "set the user PIN";
    rv = tcore_init_pin(s, (const uint8_t *)user, USER_PIN_LEN);
    if (rv != CKR_OK)
        goto out;
    step = "log out";
    rv = tcore_logout(s);
    if (rv != CKR_OK)
        goto out;
    ok = true;
out:
    if (!ok) {
        const char *name = dlog_rv_name(rv);
        fprintf(stderr, "tesserad: dev mode: cannot %s (%s, 0x%lx)\n", step,
                name != NULL ? name : "error", (unsigned long)rv);
    }
    tcore_session_put(s);
    if (h != 0)
        (void)tcore_session_close(app, h);
    tcore_app_free(app);
    return ok;
}

bool ddev_init_token(tcore *core, const char *dir, const char *socket_path, bool temporary)
{
    char so[SO_PIN_LEN + 1], user[USER_PIN_LEN + 1];
    bool fresh = true;
    bool ok = false;
    CK_SLOT_ID slot;

    if (tcore_slot_by_label(core, DEV_LABEL, &slot) == CKR_OK) {
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
