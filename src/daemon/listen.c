/*
 * Start-up work that touches the system: process hardening, the store's
 * lock file, binding the listeners and dropping privileges.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon.h"

void dsys_harden(void)
{
    /* No core dumps, no ptrace by the same uid, no /proc/pid/mem reads:
     * the process holds unsealed keys. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit rl = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &rl);
    umask(077);
    signal(SIGPIPE, SIG_IGN);
    /* One descriptor per connection: take all the hard limit allows. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void dsys_memlock(unsigned secure_heap_mib)
{
    if (geteuid() != 0)
        return;
    /* The crypto layer sizes its heap from a quarter of RLIMIT_MEMLOCK
     * (crypto/module.c); leave room for that share and what else is locked. */
    rlim_t want = (rlim_t)secure_heap_mib * 4u * 1024u * 1024u;
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
            rl.rlim_max = want;
        if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
            dlog_msg(TC_LOG_WARN, "memlock", "could not raise RLIMIT_MEMLOCK");
    }
}

bool dsys_store_path(const tc_conf *conf, char *out, size_t outlen)
{
    const char *s = tc_conf_get(conf, "store", NULL);
    char dflt[PATH_MAX];
    if (s == NULL) {
        /* as the core resolves it (core/core.c) */
        char dir[PATH_MAX - 16];
        if (!tc_default_data_dir(dir, sizeof(dir)))
            return false;
        snprintf(dflt, sizeof(dflt), "%s/tessera.db", dir);
        s = dflt;
    }
    const char *path = s;
    size_t len = strlen(s);
    const char *colon = strchr(s, ':');
    const char *slash = strchr(s, '/');
    if (colon != NULL && (slash == NULL || colon < slash)) {
        /* a URI: only sqlite has a file of ours to lock */
        if (strncmp(s, "sqlite:", 7) != 0)
            return false;
        path = s + 7;
        const char *q = strchr(path, '?');
        len = q != NULL ? (size_t)(q - path) : strlen(path);
    }
    if (len == 0 || len >= outlen)
        return false;
    memcpy(out, path, len);
    out[len] = '\0';
    return true;
}

int dsys_store_lock(const char *store_path)
{
    char lock[PATH_MAX];
    if (snprintf(lock, sizeof(lock), "%s.lock", store_path) >= (int)sizeof(lock)) {
        fprintf(stderr, "tesserad: store path too long\n");
        return -1;
    }
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == ENOENT) {
        /* the store's directory does not exist yet: the core would make it */
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", store_path);
        char *sl = strrchr(dir, '/');
        if (sl != NULL && sl != dir) {
            *sl = '\0';
            (void)tc_mkdirs(dir, 0700);
        }
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    if (fd < 0) {
        fprintf(stderr, "tesserad: cannot open %s: %s\n", lock, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char buf[32] = "";
            ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
            buf[n > 0 ? n : 0] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            fprintf(stderr, "tesserad: the store %s is in use by another tesserad (pid %s)\n",
                    store_path, buf[0] != '\0' ? buf : "?");
        } else {
            fprintf(stderr, "tesserad: cannot lock %s: %s\n", lock, strerror(e));
        }
        dlog_line l;
        if (dlog_begin(&l, TC_LOG_ERROR, "store_lock_failed")) {
            dlog_str(&l, "store", store_path);
            dlog_str(&l, "reason", e == EWOULDBLOCK ? "in use by another tesserad" : strerror(e));
            dlog_end(&l);
        }
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        dlog_msg(TC_LOG_WARN, "store_lock", "could not write the pid into the lock file");
    return fd;
}

/* Whether a daemon answers on the socket at path. */
static bool unix_answers(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool up = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN;
    close(fd);
    return up;
}

int dsys_listen_unix(const dconf *d)
{
    const char *path = d->listen_unix;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        dlog_msg(TC_LOG_ERROR, "listen_failed", "listen_unix: path too long");
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path));

    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl != NULL && sl != dir) {
        *sl = '\0';
        mode_t old = umask(022);
        bool ok = tc_mkdirs(dir, 0755);
        umask(old);
        if (!ok) {
            dlog_line l;
            if (dlog_begin(&l, TC_LOG_ERROR, "listen_failed")) {
                dlog_str(&l, "listen", path);
                dlog_str(&l, "reason", "cannot create the socket's directory");
                dlog_end(&l);
            }
            return -1;
        }
    }

    struct stat st;
    if (lstat(path, &st) == 0) {
        const char *why = NULL;
        if (!S_ISSOCK(st.st_mode))
            why = "the path exists and is not a socket";
        else if (unix_answers(&sa))
            why = "another daemon answers on the socket";
        else if (unlink(path) != 0)
            why = "cannot remove the stale socket";
        if (why != NULL) {
            dlog_line l;
            if (dlog_begin(&l, TC_LOG_ERROR, "listen_failed")) {
                dlog_str(&l, "listen", path);
                dlog_str(&l, "reason", why);
                dlog_end(&l);
            }
            return -1;
        }
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    /* The mode is right from the first moment the socket exists. */
    mode_t old = umask((mode_t)(~d->unix_mode & 0777));
    int r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r != 0)
        goto fail;
    if (chmod(path, (mode_t)d->unix_mode) != 0)
        goto fail;
    if (d->unix_group != NULL) {
        struct group *g = getgrnam(d->unix_group);
        if (g == NULL || chown(path, (uid_t)-1, g->gr_gid) != 0) {
            dlog_line l;
            if (dlog_begin(&l, TC_LOG_ERROR, "listen_failed")) {
                dlog_str(&l, "listen", path);
                dlog_str(&l, "reason", g == NULL ? "unknown unix_group" : strerror(errno));
                dlog_end(&l);
            }
            unlink(path);
            close(fd);
            return -1;
        }
    }
    if (listen(fd, SOMAXCONN) != 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    dlog_line l;
    if (dlog_begin(&l, TC_LOG_ERROR, "listen_failed")) {
        dlog_str(&l, "listen", path);
        dlog_str(&l, "reason", strerror(e));
        dlog_end(&l);
    }
    if (fd >= 0)
        close(fd);
    return -1;
}

int dsys_listen_tcp(const char *hostport)
{
    char host[256];
    const char *port;
    const char *why = NULL;
    int fd = -1;
    struct addrinfo *res = NULL;

    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - hostport - 1) >= sizeof(host)) {
            why = "listen_tls must be host:port";
            goto out;
        }
        memcpy(host, hostport + 1, (size_t)(end - hostport - 1));
        host[end - hostport - 1] = '\0';
        port = end + 2;
    } else {
        const char *c = strrchr(hostport, ':');
        if (c == NULL || (size_t)(c - hostport) >= sizeof(host)) {
            why = "listen_tls must be host:port";
            goto out;
        }
        memcpy(host, hostport, (size_t)(c - hostport));
        host[c - hostport] = '\0';
        port = c + 1;
    }
    if (port[0] == '\0') {
        why = "listen_tls must be host:port";
        goto out;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gr = getaddrinfo(host[0] != '\0' && strcmp(host, "*") != 0 ? host : NULL, port, &hints,
                         &res);
    if (gr != 0) {
        why = gai_strerror(gr);
        goto out;
    }
    why = "no usable address";
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
            why = NULL;
            break;
        }
        why = strerror(errno);
        close(fd);
        fd = -1;
    }
out:
    if (res != NULL)
        freeaddrinfo(res);
    if (why != NULL) {
        dlog_line l;
        if (dlog_begin(&l, TC_LOG_ERROR, "listen_failed")) {
            dlog_str(&l, "listen", hostport);
            dlog_str(&l, "reason", why);
            dlog_end(&l);
        }
        return -1;
    }
    return fd;
}

bool dsys_drop_privileges(const dconf *d)
{
    if (d->user == NULL) {
        if (geteuid() == 0)
            dlog_msg(TC_LOG_WARN, "privileges",
                     "running as root: set `user` to drop privileges after start-up");
        return true;
    }
    struct passwd *pw = getpwnam(d->user);
    if (pw == NULL) {
        dlog_msg(TC_LOG_ERROR, "privileges", "unknown user");
        return false;
    }
    if (geteuid() != 0) {
        if (pw->pw_uid == geteuid())
            return true;
        dlog_msg(TC_LOG_ERROR, "privileges", "`user` is set but tesserad is not root");
        return false;
    }
    gid_t gid = pw->pw_gid;
    if (d->listen_unix != NULL && d->listen_unix[0] != '\0') {
        gid_t sock_gid = gid;
        if (d->unix_group != NULL) {
            struct group *g = getgrnam(d->unix_group);
            if (g != NULL)
                sock_gid = g->gr_gid;
        }
        if (chown(d->listen_unix, pw->pw_uid, sock_gid) != 0) {
            dlog_msg(TC_LOG_ERROR, "privileges", "cannot chown the socket to `user`");
            return false;
        }
    }
    if (initgroups(d->user, gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
        dlog_msg(TC_LOG_ERROR, "privileges", "cannot become `user`");
        return false;
    }
    if (setuid(0) == 0) {
        dlog_msg(TC_LOG_ERROR, "privileges", "root could be regained after setuid");
        return false;
    }
    /* setuid made the process dumpable again */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    dlog_line l;
    if (dlog_begin(&l, TC_LOG_INFO, "privileges")) {
        dlog_str(&l, "user", d->user);
        dlog_u64(&l, "uid", pw->pw_uid);
        dlog_u64(&l, "gid", gid);
        dlog_end(&l);
    }
    return true;
}

bool dsys_write_pid_file(const char *path)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    /* readable by the tools that signal the daemon (umask is 077) */
    mode_t old = umask(022);
    bool ok = tc_write_file_atomic(path, buf, (size_t)n, 0644);
    umask(old);
    if (!ok) {
        dlog_msg(TC_LOG_ERROR, "pid_file", "cannot write the pid file");
        return false;
    }
    return true;
}
