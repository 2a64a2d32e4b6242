/*
 * tesserad: the command line and the start-up order —
 *   harden the process; read the configuration; take the store's lock;
 *   open the core (self-tests, store); bind the listeners; write the pid
 *   file; drop privileges; serve until SIGTERM; close the core.
 * Always in the foreground (systemd Type=simple); logs go to stderr or
 * syslog, stdout is used only by --dev for the block it prints.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tesserad [--config FILE] [--foreground]\n"
            "       tesserad --dev [--data-dir DIR]\n"
            "       tesserad --version | --help\n"
            "\n"
            "  --config FILE   configuration (default " DAEMON_DEFAULT_CONFIG ")\n"
            "  --foreground    accepted for compatibility: tesserad never daemonises\n"
            "  --dev           a development server: fresh store and token, PINs printed,\n"
            "                  Unix socket only; stopped with Ctrl-C\n"
            "  --data-dir DIR  with --dev: keep the store in DIR (not removed on exit)\n");
}

typedef struct {
    const char *config;
    bool dev;
    const char *data_dir;
} args;

/* 0: go on; 1: error; 2: done (help, version). */
static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--config") == 0 && i + 1 < argc) {
            a->config = argv[++i];
        } else if (strncmp(o, "--config=", 9) == 0) {
            a->config = o + 9;
        } else if (strcmp(o, "--foreground") == 0) {
            /* the only mode */
        } else if (strcmp(o, "--dev") == 0) {
            a->dev = true;
        } else if (strcmp(o, "--data-dir") == 0 && i + 1 < argc) {
            a->data_dir = argv[++i];
        } else if (strncmp(o, "--data-dir=", 11) == 0) {
            a->data_dir = o + 11;
        } else if (strcmp(o, "--version") == 0) {
            printf("tesserad %s\n", TESSERAD_VERSION);
            return 2;
        } else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            usage(stdout);
            return 2;
        } else {
            fprintf(stderr, "tesserad: unknown or incomplete option '%s'\n", o);
            usage(stderr);
            return 1;
        }
    }
    if (a->data_dir != NULL && !a->dev) {
        fprintf(stderr, "tesserad: --data-dir goes with --dev\n");
        return 1;
    }
    if (a->dev && a->config != NULL) {
        fprintf(stderr, "tesserad: --dev takes no --config\n");
        return 1;
    }
    return 0;
}

/* The configuration of a dev server in dir. */
static tc_conf *dev_conf(const char *dir)
{
    char path[PATH_MAX];
    tc_conf *c = tc_conf_dup(NULL);
    if (c == NULL)
        return NULL;
    bool ok = snprintf(path, sizeof(path), "%s/tessera.db", dir) < (int)sizeof(path) &&
              tc_conf_set(c, "store", path);
    ok = ok && snprintf(path, sizeof(path), "%s/tesserad.sock", dir) < (int)sizeof(path) &&
         tc_conf_set(c, "listen_unix", path);
    ok = ok && tc_conf_set(c, "log_level", "info") && tc_conf_set(c, "unix_mode", "0660");
    if (!ok) {
        tc_conf_free(c);
        return NULL;
    }
    return c;
}

static void log_secure_heap(void)
{
    tcrypto_secure_heap_info hi;
    tcrypto_secure_heap_stats(&hi);
    dlog_line l;
    if (dlog_begin(&l, hi.available && hi.locked ? TC_LOG_INFO : TC_LOG_WARN, "secure_heap")) {
        dlog_bool(&l, "available", hi.available);
        dlog_bool(&l, "locked", hi.locked);
        dlog_u64(&l, "size_kib", hi.size / 1024);
        dlog_end(&l);
    }
}

int main(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc == 2 ? 0 : 1;

    /* Signals wait for the loop's signalfd: a Ctrl-C during start-up (the
     * dev token's PIN hashing takes a while) still cleans up. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    dsys_harden();

    int ret = 1;
    tc_conf *conf = NULL;
    tcore *core = NULL;
    tcrypto_tls_ctx *tls_ctx = NULL;
    int lock_fd = -1, unix_fd = -1, tls_fd = -1;
    char dev_dir[PATH_MAX] = "";
    bool dev_temp = false;
    char pid_path[PATH_MAX] = ""; /* set once the pid file is written */
    dconf d;
    char err[160];

    if (a.dev) {
        if (a.data_dir != NULL) {
            if (snprintf(dev_dir, sizeof(dev_dir), "%s", a.data_dir) >= (int)sizeof(dev_dir) ||
                !tc_mkdirs(dev_dir, 0700)) {
                fprintf(stderr, "tesserad: cannot use the data directory %s\n", a.data_dir);
                goto out;
            }
        } else {
            /* under $TMPDIR when it names a directory, as mktemp(1) does */
            const char *tmp = getenv("TMPDIR");
            if (tmp == NULL || tmp[0] != '/')
                tmp = "/tmp";
            if (snprintf(dev_dir, sizeof(dev_dir), "%s/tesserad-dev.XXXXXX", tmp) >=
                    (int)sizeof(dev_dir) ||
                mkdtemp(dev_dir) == NULL) {
                fprintf(stderr, "tesserad: cannot make a dev directory: %s\n", strerror(errno));
                dev_dir[0] = '\0';
                goto out;
            }
            dev_temp = true;
            /* the group may reach the socket (mode 0660), not list the files */
            (void)chmod(dev_dir, 0710);
        }
        conf = dev_conf(dev_dir);
        if (conf == NULL) {
            fprintf(stderr, "tesserad: out of memory\n");
            goto out;
        }
    } else {
        const char *path = a.config != NULL ? a.config : DAEMON_DEFAULT_CONFIG;
        struct stat st;
        if (stat(path, &st) != 0) {
            fprintf(stderr, "tesserad: cannot read the configuration %s: %s\n", path,
                    strerror(errno));
            goto out;
        }
        const char *why = NULL;
        conf = tc_conf_load(path, &why);
        if (conf == NULL) {
            fprintf(stderr, "tesserad: %s: %s\n", path, why != NULL ? why : "cannot load");
            goto out;
        }
        a.config = path;
        /* A system daemon's store is the system's, not the per-user
         * default the embedded module uses (tesserad(8), FILES). */
        if (tc_conf_get(conf, "store", NULL) == NULL &&
            !tc_conf_set(conf, "store", DAEMON_DEFAULT_STORE)) {
            fprintf(stderr, "tesserad: out of memory\n");
            goto out;
        }
    }
    if (!dconf_parse(conf, &d, err, sizeof(err))) {
        fprintf(stderr, "tesserad: configuration: %s\n", err);
        goto out;
    }
    dlog_setup(d.log_format, d.log_target);
    if (d.have_log_level)
        tc_log_set_level(d.log_level);
    dsys_memlock(d.secure_heap_mib);

    /* One daemon per store. */
    char store[PATH_MAX];
    if (dsys_store_path(conf, store, sizeof(store))) {
        lock_fd = dsys_store_lock(store);
        if (lock_fd < 0)
            goto out;
    } else {
        dlog_msg(TC_LOG_INFO, "store_lock", "the store is not a local file: no lock taken");
    }

    CK_RV crv = tcore_open(conf, &core);
    if (crv != CKR_OK) {
        dlog_line l;
        if (dlog_begin(&l, TC_LOG_ERROR, "start_failed")) {
            dlog_str(&l, "reason", crv == CKR_GENERAL_ERROR ? "self-tests failed"
                                                            : "cannot open the core");
            dlog_hex(&l, "rv", (unsigned long)crv);
            dlog_end(&l);
        }
        core = NULL;
        goto out;
    }
    /* our callers are other processes (PKCS#11 3.0 §5.5, CKF_HW) */
    tcore_set_keys_outside_caller(core, true);
    log_secure_heap();

    if (d.listen_unix != NULL && d.listen_unix[0] != '\0') {
        unix_fd = dsys_listen_unix(&d);
        if (unix_fd < 0)
            goto out;
    }
    if (d.listen_tls != NULL) {
        tcrypto_tls_conf tc = {.cert_file = d.tls_cert, .key_file = d.tls_key,
                               .ca_file = d.tls_ca};
        const char *why = NULL;
        tls_ctx = tcrypto_tls_server_new(&tc, &why);
        if (tls_ctx == NULL) {
            dlog_line l;
            if (dlog_begin(&l, TC_LOG_ERROR, "start_failed")) {
                dlog_str(&l, "reason", "TLS");
                dlog_str(&l, "detail", why != NULL ? why : "cannot load");
                dlog_end(&l);
            }
            goto out;
        }
        tls_fd = dsys_listen_tcp(d.listen_tls);
        if (tls_fd < 0)
            goto out;
    }
    if (d.pid_file != NULL) {
        if (strlen(d.pid_file) >= sizeof(pid_path) || !dsys_write_pid_file(d.pid_file))
            goto out;
        snprintf(pid_path, sizeof(pid_path), "%s", d.pid_file);
    }
    if (!dsys_drop_privileges(&d))
        goto out;
    if (a.dev && !ddev_init_token(core, dev_dir, d.listen_unix, dev_temp))
        goto out;

    dserver_setup setup = {
        .core = core,
        .conf = conf,
        .conf_path = a.dev ? NULL : a.config,
        .d = d,
        .unix_fd = unix_fd,
        .tls_fd = tls_fd,
        .tls_ctx = tls_ctx,
    };
    conf = NULL;    /* the server owns them now */
    tls_ctx = NULL;
    unix_fd = tls_fd = -1;
    ret = dserver_run(&setup);

out:
    if (unix_fd >= 0) {
        close(unix_fd);
        (void)unlink(d.listen_unix);
    }
    if (tls_fd >= 0)
        close(tls_fd);
    tcrypto_tls_ctx_free(tls_ctx);
    tcore_close(core);
    if (pid_path[0] != '\0')
        (void)unlink(pid_path);
    if (lock_fd >= 0)
        close(lock_fd);
    tc_conf_free(conf);
    if (dev_temp && dev_dir[0] != '\0')
        ddev_remove_dir(dev_dir);
    return ret;
}
