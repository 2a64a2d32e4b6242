/*
 * A file anchor (tcore_anchor): each token's metadata generation kept in a
 * small file outside the store, so that an embedded installation that can
 * put it where the store's writers cannot roll it back (another volume,
 * another owner, a directory only root may write) detects a rollback of the
 * whole store file. The TPM NV counter and the etcd revision are the
 * anchors of the daemon; this one has no hardware behind it.
 *
 * File: lines "<token id, 16 hex> <generation, decimal>\n", at most
 * ANCHOR_MAX_TOKENS of them. Updates take an exclusive flock on PATH.lock,
 * write PATH.tmp, fsync it and rename it over PATH, so a crash leaves the
 * old or the new file (the store commits before the anchor advances, so the
 * anchor may only lag).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_int.h"

#define ANCHOR_MAX_TOKENS 4096
#define ANCHOR_LINE 64

typedef struct {
    char *path;
} file_anchor;

typedef struct {
    char id[17];
    uint64_t gen;
} anchor_ent;

/* Read every entry; a missing file is an empty anchor. */
static CK_RV anchor_load(const char *path, anchor_ent **out, size_t *n)
{
    FILE *fp;
    char line[ANCHOR_LINE];
    anchor_ent *v = NULL;
    size_t cnt = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    *out = NULL;
    *n = 0;
    if (fd < 0) {
        return errno == ENOENT ? CKR_OK : CKR_DEVICE_ERROR;
    }
    fp = fdopen(fd, "r");
    if (fp == NULL) {
        close(fd);
        return CKR_DEVICE_ERROR;
    }
    v = calloc(ANCHOR_MAX_TOKENS, sizeof(*v));
    if (v == NULL) {
        fclose(fp);
        return CKR_HOST_MEMORY;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        char id[17];
        uint64_t gen;
        char nl;
        if (cnt == ANCHOR_MAX_TOKENS ||
            sscanf(line, "%16[0-9a-f] %" SCNu64 "%c", id, &gen, &nl) != 3 || nl != '\n' ||
            strlen(id) != 16) {
            fclose(fp);
            free(v);
            TC_ERROR(TCORE_LOG, "the anchor file is damaged");
            return CKR_DEVICE_ERROR;
        }
        memcpy(v[cnt].id, id, sizeof(id));
        v[cnt].gen = gen;
        cnt++;
    }
    fclose(fp);
    *out = v;
    *n = cnt;
    return CKR_OK;
}

static CK_RV fa_read(void *ctx, const char *tokid, uint64_t *gen)
{
    file_anchor *a = ctx;
    anchor_ent *v;
    size_t n;
    CK_RV rv = anchor_load(a->path, &v, &n);
    if (rv != CKR_OK) {
        return rv;
    }
    *gen = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].id, tokid) == 0) {
            *gen = v[i].gen;
        }
    }
    free(v);
    return CKR_OK;
}

static CK_RV fa_advance(void *ctx, const char *tokid, uint64_t gen)
{
    file_anchor *a = ctx;
    size_t plen = strlen(a->path);
    char *lock = malloc(plen + 6), *tmp = malloc(plen + 5);
    anchor_ent *v = NULL;
    size_t n = 0, i;
    int lfd = -1, fd = -1;
    FILE *fp = NULL;
    CK_RV rv = CKR_HOST_MEMORY;

    if (lock == NULL || tmp == NULL) {
        goto out;
    }
    snprintf(lock, plen + 6, "%s.lock", a->path);
    snprintf(tmp, plen + 5, "%s.tmp", a->path);
    rv = CKR_DEVICE_ERROR;
    lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
        goto out;
    }
    rv = anchor_load(a->path, &v, &n);
    if (rv != CKR_OK) {
        goto out;
    }
    rv = CKR_DEVICE_ERROR;
    for (i = 0; i < n && strcmp(v[i].id, tokid) != 0; i++) {
    }
    if (i < n && v[i].gen >= gen) {
        rv = CKR_OK; /* never lowered */
        goto out;
    }
    if (i == n) {
        if (v == NULL) {
            v = calloc(ANCHOR_MAX_TOKENS, sizeof(*v)); /* no file yet */
        }
        if (v == NULL || n == ANCHOR_MAX_TOKENS || strlen(tokid) != 16) {
            goto out;
        }
        snprintf(v[n].id, sizeof(v[n].id), "%s", tokid);
        n++;
    }
    v[i].gen = gen;
    (void)unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fp == NULL) {
        goto out;
    }
    fd = -1;
    for (i = 0; i < n; i++) {
        fprintf(fp, "%s %" PRIu64 "\n", v[i].id, v[i].gen);
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        goto out;
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        goto out;
    }
    fp = NULL;
    if (rename(tmp, a->path) != 0) {
        goto out;
    }
    rv = CKR_OK;
out:
    if (fp != NULL) {
        fclose(fp);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (lfd >= 0) {
        close(lfd); /* releases the lock */
    }
    free(v);
    free(lock);
    free(tmp);
    return rv;
}

static void fa_destroy(void *ctx)
{
    file_anchor *a = ctx;
    if (a != NULL) {
        free(a->path);
        free(a);
    }
}

CK_RV tcore_anchor_file(const char *path, tcore_anchor *out)
{
    if (path == NULL || *path == '\0' || out == NULL) {
        return CKR_ARGUMENTS_BAD;
    }
    file_anchor *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return CKR_HOST_MEMORY;
    }
    a->path = strdup(path);
    if (a->path == NULL) {
        free(a);
        return CKR_HOST_MEMORY;
    }
    out->read = fa_read;
    out->advance = fa_advance;
    out->destroy = fa_destroy;
    out->ctx = a;
    return CKR_OK;
}
