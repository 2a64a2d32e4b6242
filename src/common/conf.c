#include "common/tcommon.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tc_conf_entry {
    char *key;
    char *value;
};

struct tc_conf {
    struct tc_conf_entry *e;
    size_t n;
};

void tc_conf_free(tc_conf *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].key);
        free(c->e[i].value);
    }
    free(c->e);
    free(c);
}

bool tc_conf_set(tc_conf *c, const char *key, const char *value)
{
    char *v = strdup(value);
    if (v == NULL)
        return false;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].key, key) == 0) {
            free(c->e[i].value);
            c->e[i].value = v;
            return true;
        }
    }
    char *k = strdup(key);
    struct tc_conf_entry *e = realloc(c->e, (c->n + 1) * sizeof(*e));
    if (k == NULL || e == NULL) {
        free(k);
        free(v);
        if (e != NULL)
            c->e = e;
        return false;
    }
    c->e = e;
    c->e[c->n].key = k;
    c->e[c->n].value = v;
    c->n++;
    return true;
}

tc_conf *tc_conf_dup(const tc_conf *src)
{
    tc_conf *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    for (size_t i = 0; src != NULL && i < src->n; i++) {
        if (!tc_conf_set(c, src->e[i].key, src->e[i].value)) {
            tc_conf_free(c);
            return NULL;
        }
    }
    return c;
}

const char *tc_conf_get(const tc_conf *c, const char *key, const char *dflt)
{
    if (c != NULL) {
        for (size_t i = 0; i < c->n; i++)
            if (strcmp(c->e[i].key, key) == 0)
                return c->e[i].value;
    }
    return dflt;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

tc_conf *tc_conf_load(const char *path, const char **err)
{
    *err = NULL;
    tc_conf *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        *err = "out of memory";
        return NULL;
    }
    if (path == NULL) {
        path = getenv("TESSERA_CONF");
        if (path == NULL || *path == '\0') {
            /* The installed system-wide file, so that applications loading
             * the module through p11-kit find tesserad without their own
             * environment; absent (the usual case in a build tree): an
             * empty configuration. */
            if (access(TESSERA_SYSTEM_CONF, R_OK) != 0)
                return c;
            path = TESSERA_SYSTEM_CONF;
        }
    }
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        *err = "cannot open configuration file";
        tc_conf_free(c);
        return NULL;
    }
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strchr(line, '\n') == NULL && !feof(f)) {
            *err = "configuration line too long";
            goto fail;
        }
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            *err = "configuration line without '='";
            goto fail;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        if (*key == '\0') {
            *err = "configuration line without a key";
            goto fail;
        }
        if (!tc_conf_set(c, key, value)) {
            *err = "out of memory";
            goto fail;
        }
    }
    fclose(f);
    return c;
fail:
    fclose(f);
    tc_conf_free(c);
    return NULL;
}

bool tc_default_data_dir(char *out, size_t outlen)
{
    const char *v;
    int n;
    if ((v = getenv("TESSERA_HOME")) != NULL && *v != '\0')
        n = snprintf(out, outlen, "%s", v);
    else if ((v = getenv("XDG_DATA_HOME")) != NULL && *v != '\0')
        n = snprintf(out, outlen, "%s/tessera", v);
    else if ((v = getenv("HOME")) != NULL && *v != '\0')
        n = snprintf(out, outlen, "%s/.local/share/tessera", v);
    else
        n = snprintf(out, outlen, "/var/lib/tessera");
    return n > 0 && (size_t)n < outlen;
}

bool tc_mkdirs(const char *path, unsigned mode)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return mkdir(tmp, mode) == 0 || errno == EEXIST;
}

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

bool tc_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return false;
    unlink(tmp); /* a stale temporary from a crashed writer with our pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return false;
    bool ok = write_all(fd, data, len) && fsync(fd) == 0;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return false;
    }
    return tc_fsync_dir_of(path);
}

bool tc_fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof(dir), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return false;
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return false;
    bool ok = fsync(dfd) == 0;
    close(dfd);
    return ok;
}

bool tc_read_file(const char *path, size_t max, uint8_t **out, size_t *outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > max) {
        close(fd);
        return false;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *p = malloc(len ? len : 1);
    size_t got = 0;
    while (p != NULL && got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            tc_freezero(p, len);
            p = NULL;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (p == NULL)
        return false;
    *out = p;
    *outlen = len;
    return true;
}
