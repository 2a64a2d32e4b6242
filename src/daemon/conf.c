/*
 * The daemon's configuration keys (the core reads its own from the same
 * file: store, pin_kdf_*, anchor_file, log_level, ...).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"

/* An unsigned setting in [min, max]; absent keys keep *v. */
static bool conf_uint(const tc_conf *conf, const char *key, int base, unsigned min,
                      unsigned max, unsigned *v, char *err, size_t errlen)
{
    const char *s = tc_conf_get(conf, key, NULL);
    if (s == NULL)
        return true;
    char *end;
    unsigned long n = strtoul(s, &end, base);
    if (*s == '\0' || *s == '-' || *end != '\0' || n < min || n > max) {
        snprintf(err, errlen, "%s must be %s between %u and %u", key,
                 base == 8 ? "an octal number" : "a number", min, max);
        return false;
    }
    *v = (unsigned)n;
    return true;
}

bool dconf_parse(const tc_conf *conf, dconf *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    d->listen_unix = tc_conf_get(conf, "listen_unix", DAEMON_DEFAULT_SOCKET);
    d->unix_mode = 0660;
    d->unix_group = tc_conf_get(conf, "unix_group", NULL);
    d->listen_tls = tc_conf_get(conf, "listen_tls", NULL);
    d->tls_cert = tc_conf_get(conf, "tls_cert", NULL);
    d->tls_key = tc_conf_get(conf, "tls_key", NULL);
    d->tls_ca = tc_conf_get(conf, "tls_ca", NULL);
    d->max_connections = 4096;
    d->max_sessions = 1024;
    d->max_inflight = 64;
    d->idle_timeout = 600;
    d->read_timeout = 15;
    d->handshake_timeout = 10;
    d->secure_heap_mib = 32;
    d->user = tc_conf_get(conf, "user", NULL);
    d->pid_file = tc_conf_get(conf, "pid_file", NULL);

    if (!conf_uint(conf, "unix_mode", 8, 0, 0777, &d->unix_mode, err, errlen) ||
        !conf_uint(conf, "workers", 10, 0, 1024, &d->workers, err, errlen) ||
        !conf_uint(conf, "max_connections", 10, 1, 1000000, &d->max_connections, err, errlen) ||
        !conf_uint(conf, "max_sessions", 10, 1, 1u << 23, &d->max_sessions, err, errlen) ||
        !conf_uint(conf, "max_inflight", 10, 1, 65536, &d->max_inflight, err, errlen) ||
        !conf_uint(conf, "idle_timeout", 10, 0, 86400 * 365, &d->idle_timeout, err, errlen) ||
        !conf_uint(conf, "read_timeout", 10, 1, 3600, &d->read_timeout, err, errlen) ||
        !conf_uint(conf, "handshake_timeout", 10, 1, 3600, &d->handshake_timeout, err,
                   errlen) ||
        !conf_uint(conf, "secure_heap_mib", 10, 1, 1024, &d->secure_heap_mib, err, errlen))
        return false;
    if (d->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        d->workers = n > 0 ? (unsigned)n : 1;
    }
    if (d->unix_group != NULL && d->unix_group[0] == '\0')
        d->unix_group = NULL;
    if (d->user != NULL && d->user[0] == '\0')
        d->user = NULL;
    if (d->pid_file != NULL && d->pid_file[0] == '\0')
        d->pid_file = NULL;
    if (d->listen_tls != NULL && d->listen_tls[0] == '\0')
        d->listen_tls = NULL;
    if (d->listen_tls != NULL &&
        (d->tls_cert == NULL || d->tls_key == NULL || d->tls_ca == NULL)) {
        snprintf(err, errlen, "listen_tls needs tls_cert, tls_key and tls_ca");
        return false;
    }
    if ((d->listen_unix == NULL || d->listen_unix[0] == '\0') && d->listen_tls == NULL) {
        snprintf(err, errlen, "no listener: listen_unix is empty and listen_tls unset");
        return false;
    }

    const char *lvl = tc_conf_get(conf, "log_level", NULL);
    if (lvl != NULL) {
        if (!tc_log_level_parse(lvl, &d->log_level)) {
            snprintf(err, errlen, "log_level must be error, warn, info or debug");
            return false;
        }
        d->have_log_level = true;
    }
    const char *fmt = tc_conf_get(conf, "log_format", "kv");
    if (strcmp(fmt, "kv") == 0) {
        d->log_format = DLOG_KV;
    } else if (strcmp(fmt, "json") == 0) {
        d->log_format = DLOG_JSON;
    } else {
        snprintf(err, errlen, "log_format must be kv or json");
        return false;
    }
    const char *target = tc_conf_get(conf, "log_target", "stderr");
    if (strcmp(target, "stderr") == 0) {
        d->log_target = DLOG_STDERR;
    } else if (strcmp(target, "syslog") == 0) {
        d->log_target = DLOG_SYSLOG;
    } else {
        snprintf(err, errlen, "log_target must be stderr or syslog");
        return false;
    }
    return true;
}
