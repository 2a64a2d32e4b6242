/*
 * Unit tests for store/ (sqlite backend): single-process behaviour —
 * open/URI handling, put/get/delete, revisions, prefix ranges, count,
 * transactions, changes(), compaction and error paths.
 * test_store_mp.c covers threads, several processes and crashes.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store_int.h"
#include "store/tstore.h"

/* ---- fixture: a fresh directory and store per test ---------------------- */

typedef struct {
    char dir[256];
    char path[300];
    tstore *s;
} fx;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int fx_setup_noopen(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/tstore-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    *state = f;
    return 0;
}

static int fx_setup(void **state)
{
    if (fx_setup_noopen(state) != 0)
        return -1;
    fx *f = *state;
    return tstore_open(f->path, &f->s) == TSTORE_OK ? 0 : -1;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    tstore_close(f->s);
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void put_str(tstore *s, const char *k, const char *v, uint64_t *rev)
{
    assert_int_equal(tstore_put(s, k, strlen(k), v, strlen(v), rev), TSTORE_OK);
}

static uint64_t rev_of(tstore *s)
{
    uint64_t r = UINT64_MAX;
    assert_int_equal(tstore_revision(s, &r), TSTORE_OK);
    return r;
}

static void assert_kv(const tstore_kv *kv, const void *k, size_t klen, const char *v)
{
    assert_int_equal(kv->key_len, klen);
    assert_memory_equal(kv->key, k, klen);
    assert_int_equal(kv->value_len, strlen(v));
    assert_non_null(kv->value);
    if (kv->value_len > 0)
        assert_memory_equal(kv->value, v, kv->value_len);
}

/* ---- rc strings, successor --------------------------------------------- */

static void test_rc_str(void **state)
{
    (void)state;
    const tstore_rc all[] = {TSTORE_OK,    TSTORE_NOT_FOUND, TSTORE_CONFLICT, TSTORE_ARG,
                             TSTORE_NOMEM, TSTORE_IO,        TSTORE_CORRUPT,  TSTORE_COMPACTED, TSTORE_BUSY};
    for (size_t i = 0; i < TC_ARRAY_LEN(all); i++) {
        assert_non_null(tstore_rc_str(all[i]));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(tstore_rc_str(all[i]), tstore_rc_str(all[j]));
    }
    assert_string_equal(tstore_rc_str((tstore_rc)99), "unknown store error");
}

static void test_prefix_successor(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 0;
    const uint8_t a[] = {'a', 'b'};
    assert_true(tstore_prefix_successor(a, 2, out, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 'a');
    assert_int_equal(out[1], 'c');
    const uint8_t b[] = {0x01, 0xff, 0xff};
    assert_true(tstore_prefix_successor(b, 3, out, &n));
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 0x02);
    const uint8_t c[] = {0xfe, 0xff};
    assert_true(tstore_prefix_successor(c, 2, out, &n));
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 0xff);
    const uint8_t d[] = {0xff, 0xff, 0xff};
    assert_false(tstore_prefix_successor(d, 3, out, &n));
    assert_false(tstore_prefix_successor(d, 0, out, &n));
}

/* ---- open --------------------------------------------------------------- */

static void test_open_creates_dir_and_file(void **state)
{
    fx *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/a/b/store.db", f->dir);
    tstore *s = NULL;
    assert_int_equal(tstore_open(path, &s), TSTORE_OK);
    assert_non_null(s);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/a/b", f->dir);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(dir, sizeof(dir), "%s/a", f->dir);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(rev_of(s), 0);
    tstore_close(s);

    /* The file is left in WAL mode. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_open_uri_forms(void **state)
{
    fx *f = *state;
    char uri[400];
    tstore *a = NULL, *b = NULL;
    snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
    assert_int_equal(tstore_open(uri, &a), TSTORE_OK);
    assert_int_equal(tstore_open(f->path, &b), TSTORE_OK);
    put_str(a, "k", "v", NULL);
    tstore_kv kv;
    assert_int_equal(tstore_get(b, "k", 1, &kv), TSTORE_OK);
    assert_kv(&kv, "k", 1, "v");
    tstore_kv_free(&kv);
    tstore_close(a);
    tstore_close(b);

    /* An option after '?' in the sqlite: form. */
    snprintf(uri, sizeof(uri), "sqlite:%s?deletion_log=5", f->path);
    assert_int_equal(tstore_open(uri, &a), TSTORE_OK);
    tstore_close(a);
}

static void test_open_bad_uri(void **state)
{
    fx *f = *state;
    tstore *s = (tstore *)&s; /* must stay untouched */
    tstore *const sentinel = s;
    char uri[400];
    assert_int_equal(tstore_open(NULL, &s), TSTORE_ARG);
    assert_int_equal(tstore_open(f->path, NULL), TSTORE_ARG);
    assert_int_equal(tstore_open("", &s), TSTORE_ARG);
    assert_int_equal(tstore_open("sqlite:", &s), TSTORE_ARG);
    assert_int_equal(tstore_open("bogus:/tmp/x.db", &s), TSTORE_ARG);
    assert_int_equal(tstore_open("etcd:http://127.0.0.1:2379", &s), TSTORE_ARG);
    snprintf(uri, sizeof(uri), "sqlite:%s?nosuch=1", f->path);
    assert_int_equal(tstore_open(uri, &s), TSTORE_ARG);
    snprintf(uri, sizeof(uri), "sqlite:%s?deletion_log=12x", f->path);
    assert_int_equal(tstore_open(uri, &s), TSTORE_ARG);
    snprintf(uri, sizeof(uri), "sqlite:%s?deletion_log=0", f->path);
    assert_int_equal(tstore_open(uri, &s), TSTORE_ARG);
    snprintf(uri, sizeof(uri), "sqlite:%s?deletion_log=99999999999999999999999", f->path);
    assert_int_equal(tstore_open(uri, &s), TSTORE_ARG);
    snprintf(uri, sizeof(uri), "sqlite:?deletion_log=3");
    assert_int_equal(tstore_open(uri, &s), TSTORE_ARG);
    assert_ptr_equal(s, sentinel);
    /* None of the refused URIs created the file. */
    struct stat sb;
    assert_int_not_equal(stat(f->path, &sb), 0);
}

static void test_open_plain_path_with_question_mark(void **state)
{
    fx *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/odd?name.db", f->dir);
    tstore *s = NULL;
    assert_int_equal(tstore_open(path, &s), TSTORE_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    tstore_close(s);
}

static void test_open_directory_is_io(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->dir, &s), TSTORE_IO);
    assert_null(s);
}

static void test_open_parent_is_file_is_io(void **state)
{
    fx *f = *state;
    char file[400], path[500];
    snprintf(file, sizeof(file), "%s/plain", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/sub/store.db", file);
    tstore *s = NULL;
    assert_int_equal(tstore_open(path, &s), TSTORE_IO);
    assert_null(s);
}

static void test_open_symlink_is_io(void **state)
{
    fx *f = *state;
    char target[400], link[400];
    snprintf(target, sizeof(target), "%s/real.db", f->dir);
    snprintf(link, sizeof(link), "%s/link.db", f->dir);
    tstore *s = NULL;
    assert_int_equal(tstore_open(target, &s), TSTORE_OK);
    tstore_close(s);
    s = NULL;
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(tstore_open(link, &s), TSTORE_IO);
    assert_null(s);
}

/* Links among the directories are fine: only the file itself may not be one. */
static void test_open_symlinked_dir_ok(void **state)
{
    fx *f = *state;
    char real[400], link[400], path[500];
    snprintf(real, sizeof(real), "%s/realdir", f->dir);
    snprintf(link, sizeof(link), "%s/linkdir", f->dir);
    assert_int_equal(mkdir(real, 0700), 0);
    assert_int_equal(symlink(real, link), 0);
    snprintf(path, sizeof(path), "%s/store.db", link);
    tstore *s = NULL;
    assert_int_equal(tstore_open(path, &s), TSTORE_OK);
    put_str(s, "k", "v", NULL);
    tstore_close(s);
    snprintf(path, sizeof(path), "%s/store.db", real);
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
}

/* A file the process may not read: TSTORE_IO. root reads any file whatever
 * its mode, so the attempt runs in a child that drops to an unprivileged uid
 * when started as root. */
static void test_open_unreadable_is_io(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    put_str(s, "k", "v", NULL);
    tstore_close(s);
    assert_int_equal(chmod(f->path, 0), 0);
    assert_int_equal(chmod(f->dir, 0755), 0); /* the file, not the directory, is closed */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(20);
        if (geteuid() == 0)
            _exit(21);
        tstore *c = NULL;
        tstore_rc rc = tstore_open(f->path, &c);
        _exit(rc == TSTORE_IO && c == NULL ? 0 : 30 + (int)rc);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(chmod(f->dir, 0700), 0);
}

static void test_open_garbage_file(void **state)
{
    fx *f = *state;
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
    fclose(fp);
    tstore *s = NULL;
    tstore_rc rc = tstore_open(f->path, &s);
    assert_int_equal(rc, TSTORE_CORRUPT);
    assert_null(s);
}

static void test_open_foreign_database(void **state)
{
    fx *f = *state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE other (x); INSERT INTO other VALUES (1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_CORRUPT);
    assert_null(s);
}

static void test_open_future_schema(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    tstore_close(s);
    s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET schema_version = 2", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(tstore_open(f->path, &s), TSTORE_CORRUPT);
    assert_null(s);
}

/* Run SQL on the store's file behind the store's back (a tampered file). */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_open_missing_meta_row(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    put_str(s, "k", "v", NULL);
    tstore_close(s);
    s = NULL;
    raw_exec(f->path, "DELETE FROM meta");
    /* Refused, not silently re-created at revision 0. */
    assert_int_equal(tstore_open(f->path, &s), TSTORE_CORRUPT);
    assert_null(s);
}

static void test_open_incomplete_schema(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    tstore_close(s);
    s = NULL;
    raw_exec(f->path, "DROP INDEX kv_mod_rev");
    assert_int_equal(tstore_open(f->path, &s), TSTORE_CORRUPT);
    assert_null(s);
}

/* A file another process may read but not write: TSTORE_IO (run as an
 * unprivileged uid, as in test_open_unreadable_is_io). */
static void test_open_readonly_file_is_io(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    put_str(s, "k", "v", NULL);
    tstore_close(s);
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(20);
        if (geteuid() == 0 || access(f->path, W_OK) == 0)
            _exit(21);
        tstore *c = NULL;
        tstore_rc rc = tstore_open(f->path, &c);
        _exit(rc == TSTORE_IO && c == NULL ? 0 : 30 + (int)rc);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(chmod(f->dir, 0700), 0);
}

/* Damage found while the store is open is reported, not acted on. */
static void test_tampered_meta_while_open(void **state)
{
    fx *f = *state;
    put_str(f->s, "k", "v", NULL);
    raw_exec(f->path, "DELETE FROM meta");
    uint64_t r = 0;
    assert_int_equal(tstore_revision(f->s, &r), TSTORE_CORRUPT);
    assert_int_equal(tstore_put(f->s, "k2", 2, "v", 1, NULL), TSTORE_CORRUPT);
    tstore_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(tstore_changes(f->s, NULL, 0, 0, &ev, &n, &r), TSTORE_CORRUPT);
    /* Nothing was written by the refused put. */
    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, "k2", 2, &kv), TSTORE_NOT_FOUND);
}

static void test_tampered_revisions(void **state)
{
    fx *f = *state;
    put_str(f->s, "k", "v", NULL);
    put_str(f->s, "l", "v", NULL);
    raw_exec(f->path, "UPDATE kv SET mod_rev = -5 WHERE key = x'6b'");
    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, "k", 1, &kv), TSTORE_CORRUPT);
    tstore_kv *kvs = NULL;
    size_t n = 0;
    assert_int_equal(tstore_range(f->s, NULL, 0, 0, &kvs, &n), TSTORE_CORRUPT);
    assert_null(kvs);
    tstore_cmp cmp = {.key = "k", .key_len = 1, .mod_rev = 1};
    assert_int_equal(tstore_txn(f->s, &cmp, 1, NULL, 0, NULL), TSTORE_CORRUPT);
    /* The other key still reads. */
    assert_int_equal(tstore_get(f->s, "l", 1, &kv), TSTORE_OK);
    tstore_kv_free(&kv);
    raw_exec(f->path, "UPDATE meta SET rev = 'abc'");
    uint64_t r = 0;
    assert_int_equal(tstore_revision(f->s, &r), TSTORE_CORRUPT);
}

static void test_revision_exhausted(void **state)
{
    fx *f = *state;
    put_str(f->s, "k", "v", NULL);
    raw_exec(f->path, "UPDATE meta SET rev = 9223372036854775807");
    assert_int_equal(tstore_put(f->s, "k", 1, "w", 1, NULL), TSTORE_CORRUPT);
    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, "k", 1, &kv), TSTORE_OK);
    assert_kv(&kv, "k", 1, "v");
    tstore_kv_free(&kv);
}

/* Damage data pages of a store with many keys: reads report TSTORE_CORRUPT
 * (or the open does), and nothing crashes. */
static void test_corrupt_pages(void **state)
{
    fx *f = *state;
    char val[200];
    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    tstore_op ops[100];
    char keys[100][16];
    for (int batch = 0; batch < 20; batch++) {
        for (int i = 0; i < 100; i++) {
            snprintf(keys[i], sizeof(keys[i]), "k%06d", batch * 100 + i);
            ops[i] = (tstore_op){.type = TSTORE_OP_PUT, .key = keys[i],
                                 .key_len = strlen(keys[i]), .value = val,
                                 .value_len = strlen(val)};
        }
        assert_int_equal(tstore_txn(f->s, NULL, 0, ops, 100, NULL), TSTORE_OK);
    }
    tstore_close(f->s);
    f->s = NULL;

    int fd = open(f->path, O_RDWR);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    assert_true(sb.st_size > 16 * 4096);
    uint8_t junk[4096];
    memset(junk, 0x5a, sizeof(junk));
    for (off_t pg = 2; pg * 4096 < sb.st_size; pg++)
        assert_int_equal(pwrite(fd, junk, sizeof(junk), pg * 4096), (ssize_t)sizeof(junk));
    close(fd);

    tstore_rc rc = tstore_open(f->path, &f->s);
    if (rc == TSTORE_OK) {
        tstore_kv *kvs = NULL;
        size_t n = 0;
        rc = tstore_range(f->s, "k", 1, 0, &kvs, &n);
        assert_int_equal(rc, TSTORE_CORRUPT);
        tstore_kv kv;
        assert_int_equal(tstore_get(f->s, "k001000", 7, &kv), TSTORE_CORRUPT);
        assert_int_equal(tstore_put(f->s, "k001000", 7, "x", 1, NULL), TSTORE_CORRUPT);
    } else {
        assert_int_equal(rc, TSTORE_CORRUPT);
    }
}

/* ---- put / get / delete ------------------------------------------------- */

static void test_put_get_delete(void **state)
{
    fx *f = *state;
    uint64_t r1 = 0, r2 = 0, r3 = 0;
    put_str(f->s, "alpha", "one", &r1);
    assert_int_equal(r1, 1);

    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, "alpha", 5, &kv), TSTORE_OK);
    assert_kv(&kv, "alpha", 5, "one");
    assert_int_equal(kv.create_rev, 1);
    assert_int_equal(kv.mod_rev, 1);
    tstore_kv_free(&kv);
    assert_null(kv.key);
    assert_null(kv.value);

    put_str(f->s, "beta", "two", &r2);
    put_str(f->s, "alpha", "uno", &r3);
    assert_int_equal(r2, 2);
    assert_int_equal(r3, 3);
    assert_int_equal(tstore_get(f->s, "alpha", 5, &kv), TSTORE_OK);
    assert_kv(&kv, "alpha", 5, "uno");
    assert_int_equal(kv.create_rev, 1);
    assert_int_equal(kv.mod_rev, 3);
    tstore_kv_free(&kv);

    uint64_t rd = 0;
    assert_int_equal(tstore_delete(f->s, "alpha", 5, &rd), TSTORE_OK);
    assert_int_equal(rd, 4);
    assert_int_equal(tstore_get(f->s, "alpha", 5, &kv), TSTORE_NOT_FOUND);
    /* Re-creating a deleted key starts a new life: new create_rev. */
    put_str(f->s, "alpha", "again", NULL);
    assert_int_equal(tstore_get(f->s, "alpha", 5, &kv), TSTORE_OK);
    assert_int_equal(kv.create_rev, 5);
    assert_int_equal(kv.mod_rev, 5);
    tstore_kv_free(&kv);
}

static void test_delete_missing(void **state)
{
    fx *f = *state;
    put_str(f->s, "x", "1", NULL);
    uint64_t rd = 77;
    assert_int_equal(tstore_delete(f->s, "nope", 4, &rd), TSTORE_NOT_FOUND);
    assert_int_equal(rd, 77);
    assert_int_equal(rev_of(f->s), 1);
    assert_int_equal(tstore_delete(f->s, "x", 1, NULL), TSTORE_OK);
    assert_int_equal(tstore_delete(f->s, "x", 1, NULL), TSTORE_NOT_FOUND);
    assert_int_equal(rev_of(f->s), 2);
}

static void test_get_not_found_leaves_output(void **state)
{
    fx *f = *state;
    tstore_kv kv;
    memset(&kv, 0xa5, sizeof(kv));
    tstore_kv before = kv;
    assert_int_equal(tstore_get(f->s, "missing", 7, &kv), TSTORE_NOT_FOUND);
    assert_memory_equal(&kv, &before, sizeof(kv));
}

static void test_binary_and_empty_values(void **state)
{
    fx *f = *state;
    const uint8_t key[] = {0x00, 0x01, 0x00, 0xff};
    const uint8_t val[] = {0x00, 0x00, 0x7f, 0x80, 0xff, 0x00};
    assert_int_equal(tstore_put(f->s, key, sizeof(key), val, sizeof(val), NULL), TSTORE_OK);
    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, key, sizeof(key), &kv), TSTORE_OK);
    assert_int_equal(kv.value_len, sizeof(val));
    assert_memory_equal(kv.value, val, sizeof(val));
    tstore_kv_free(&kv);
    /* A key that differs only after a NUL byte is a different key. */
    assert_int_equal(tstore_get(f->s, key, 2, &kv), TSTORE_NOT_FOUND);

    assert_int_equal(tstore_put(f->s, "empty", 5, NULL, 0, NULL), TSTORE_OK);
    assert_int_equal(tstore_get(f->s, "empty", 5, &kv), TSTORE_OK);
    assert_int_equal(kv.value_len, 0);
    assert_non_null(kv.value); /* present, unlike a deletion event's value */
    tstore_kv_free(&kv);
}

/* A deleted value does not linger in the database file (secure_delete). */
static void test_deleted_value_wiped_from_file(void **state)
{
    fx *f = *state;
    static const char marker[] = "SECRET-0123456789-abcdefghijklmnopqrstuvwxyz-MARKER";
    put_str(f->s, "keep1", "some other value", NULL);
    put_str(f->s, "secret", marker, NULL);
    put_str(f->s, "keep2", "another value", NULL);
    /* Once in the main file (closing checkpoints), then deleted. */
    tstore_close(f->s);
    f->s = NULL;
    assert_int_equal(tstore_open(f->path, &f->s), TSTORE_OK);
    assert_int_equal(tstore_delete(f->s, "secret", 6, NULL), TSTORE_OK);
    tstore_close(f->s); /* checkpoints the WAL into the file */
    f->s = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_true(tc_read_file(f->path, 1u << 24, &buf, &len));
    assert_true(len > 0);
    assert_null(memmem(buf, len, marker, strlen(marker)));
    assert_non_null(memmem(buf, len, "another value", 13)); /* the scan can see values */
    free(buf);
}

static void test_large_value(void **state)
{
    fx *f = *state;
    size_t n = 1u << 20;
    uint8_t *v = malloc(n);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint8_t)(i ^ (i >> 8));
    assert_int_equal(tstore_put(f->s, "big", 3, v, n, NULL), TSTORE_OK);
    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, "big", 3, &kv), TSTORE_OK);
    assert_int_equal(kv.value_len, n);
    assert_memory_equal(kv.value, v, n);
    tstore_kv_free(&kv);
    free(v);
}

/* ---- revisions ---------------------------------------------------------- */

static void test_revision_monotonic_and_persistent(void **state)
{
    fx *f = *state;
    assert_int_equal(rev_of(f->s), 0);
    uint64_t last = 0;
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i % 5);
        uint64_t r = 0;
        put_str(f->s, k, "v", &r);
        assert_int_equal(r, last + 1);
        assert_int_equal(rev_of(f->s), r);
        last = r;
    }
    tstore_close(f->s);
    f->s = NULL;
    assert_int_equal(tstore_open(f->path, &f->s), TSTORE_OK);
    assert_int_equal(rev_of(f->s), 20);
    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, "k4", 2, &kv), TSTORE_OK);
    assert_int_equal(kv.create_rev, 5);
    assert_int_equal(kv.mod_rev, 20);
    tstore_kv_free(&kv);
}

/* ---- range / count ------------------------------------------------------ */

static void test_range_prefix(void **state)
{
    fx *f = *state;
    const char *keys[] = {"b", "a/2", "a0", "a", "a/1", "a/10", "c/x"};
    for (size_t i = 0; i < TC_ARRAY_LEN(keys); i++)
        put_str(f->s, keys[i], keys[i], NULL);

    tstore_kv *kvs = NULL;
    size_t n = 0;
    assert_int_equal(tstore_range(f->s, "a/", 2, 0, &kvs, &n), TSTORE_OK);
    assert_int_equal(n, 3);
    assert_kv(&kvs[0], "a/1", 3, "a/1");
    assert_kv(&kvs[1], "a/10", 4, "a/10");
    assert_kv(&kvs[2], "a/2", 3, "a/2");
    assert_int_equal(kvs[2].mod_rev, 2);
    tstore_kvs_free(kvs, n);

    assert_int_equal(tstore_range(f->s, "a", 1, 0, &kvs, &n), TSTORE_OK);
    assert_int_equal(n, 5);
    assert_kv(&kvs[0], "a", 1, "a");
    assert_kv(&kvs[4], "a0", 2, "a0");
    tstore_kvs_free(kvs, n);

    /* Limit: the first entries in key order. */
    assert_int_equal(tstore_range(f->s, "a", 1, 2, &kvs, &n), TSTORE_OK);
    assert_int_equal(n, 2);
    assert_kv(&kvs[0], "a", 1, "a");
    assert_kv(&kvs[1], "a/1", 3, "a/1");
    tstore_kvs_free(kvs, n);

    /* Empty prefix: everything. */
    assert_int_equal(tstore_range(f->s, NULL, 0, 0, &kvs, &n), TSTORE_OK);
    assert_int_equal(n, TC_ARRAY_LEN(keys));
    assert_kv(&kvs[n - 1], "c/x", 3, "c/x");
    tstore_kvs_free(kvs, n);

    /* No match: n = 0, out = NULL. */
    kvs = (tstore_kv *)&n;
    assert_int_equal(tstore_range(f->s, "zz", 2, 0, &kvs, &n), TSTORE_OK);
    assert_int_equal(n, 0);
    assert_null(kvs);

    uint64_t cnt = 0;
    assert_int_equal(tstore_count(f->s, "a/", 2, &cnt), TSTORE_OK);
    assert_int_equal(cnt, 3);
    assert_int_equal(tstore_count(f->s, "", 0, &cnt), TSTORE_OK);
    assert_int_equal(cnt, TC_ARRAY_LEN(keys));
    assert_int_equal(tstore_count(f->s, "zz", 2, &cnt), TSTORE_OK);
    assert_int_equal(cnt, 0);
}

static void test_range_ff_edges(void **state)
{
    fx *f = *state;
    static const struct {
        uint8_t b[4];
        size_t n;
    } keys[] = {
        {{0xff}, 1},       {{0xff, 0xff}, 2}, {{0xff, 0xff, 0x00}, 3}, {{0xff, 0xff, 0xff}, 3},
        {{0xfe, 0xff}, 2}, {{0xfe, 0xff, 0x01}, 3}, {{0xff, 0x00}, 2}, {{0x01, 0xff}, 2},
        {{0x02}, 1},       {{0x01, 0xff, 0xff, 0xff}, 4}, {{0xfe}, 1},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(keys); i++)
        assert_int_equal(tstore_put(f->s, keys[i].b, keys[i].n, "v", 1, NULL), TSTORE_OK);

    static const struct {
        uint8_t p[3];
        size_t n;
        size_t expect;
        uint8_t first[4];
        size_t first_n;
    } cases[] = {
        /* prefix ff: no successor, every key >= ff starts with ff */
        {{0xff}, 1, 5, {0xff}, 1},
        {{0xff, 0xff}, 2, 3, {0xff, 0xff}, 2},
        {{0xff, 0xff, 0xff}, 3, 1, {0xff, 0xff, 0xff}, 3},
        /* successor of fe ff is ff: ff itself must not be included */
        {{0xfe, 0xff}, 2, 2, {0xfe, 0xff}, 2},
        {{0xfe}, 1, 3, {0xfe}, 1},
        /* successor of 01 ff is 02: 02 must not be included */
        {{0x01, 0xff}, 2, 2, {0x01, 0xff}, 2},
        {{0x01}, 1, 2, {0x01, 0xff}, 2},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        tstore_kv *kvs = NULL;
        size_t n = 0;
        assert_int_equal(tstore_range(f->s, cases[i].p, cases[i].n, 0, &kvs, &n), TSTORE_OK);
        assert_int_equal(n, cases[i].expect);
        assert_int_equal(kvs[0].key_len, cases[i].first_n);
        assert_memory_equal(kvs[0].key, cases[i].first, cases[i].first_n);
        for (size_t j = 0; j < n; j++) {
            assert_true(kvs[j].key_len >= cases[i].n);
            assert_memory_equal(kvs[j].key, cases[i].p, cases[i].n);
            if (j > 0) { /* strictly increasing in byte order */
                size_t m = kvs[j].key_len < kvs[j - 1].key_len ? kvs[j].key_len
                                                                 : kvs[j - 1].key_len;
                int c = memcmp(kvs[j - 1].key, kvs[j].key, m);
                assert_true(c < 0 || (c == 0 && kvs[j - 1].key_len < kvs[j].key_len));
            }
        }
        tstore_kvs_free(kvs, n);
        uint64_t cnt = 0;
        assert_int_equal(tstore_count(f->s, cases[i].p, cases[i].n, &cnt), TSTORE_OK);
        assert_int_equal(cnt, cases[i].expect);
    }
}

static void test_range_count_args(void **state)
{
    fx *f = *state;
    tstore_kv *kvs = NULL;
    size_t n = 0;
    uint64_t cnt = 0;
    assert_int_equal(tstore_range(NULL, "a", 1, 0, &kvs, &n), TSTORE_ARG);
    assert_int_equal(tstore_range(f->s, NULL, 1, 0, &kvs, &n), TSTORE_ARG);
    assert_int_equal(tstore_range(f->s, "a", 1, 0, NULL, &n), TSTORE_ARG);
    assert_int_equal(tstore_range(f->s, "a", 1, 0, &kvs, NULL), TSTORE_ARG);
    assert_int_equal(tstore_count(NULL, "a", 1, &cnt), TSTORE_ARG);
    assert_int_equal(tstore_count(f->s, NULL, 1, &cnt), TSTORE_ARG);
    assert_int_equal(tstore_count(f->s, "a", 1, NULL), TSTORE_ARG);
}

/* ---- transactions ------------------------------------------------------- */

static void test_txn_success_one_revision(void **state)
{
    fx *f = *state;
    put_str(f->s, "old", "x", NULL);
    tstore_cmp cmps[] = {
        {.key = "old", .key_len = 3, .mod_rev = 1},
        {.key = "new1", .key_len = 4, .mod_rev = 0},
    };
    tstore_op ops[] = {
        {.type = TSTORE_OP_PUT, .key = "new1", .key_len = 4, .value = "a", .value_len = 1},
        {.type = TSTORE_OP_PUT, .key = "new2", .key_len = 4, .value = "b", .value_len = 1},
        {.type = TSTORE_OP_DELETE, .key = "old", .key_len = 3},
        {.type = TSTORE_OP_DELETE, .key = "never", .key_len = 5},
    };
    uint64_t r = 0;
    assert_int_equal(tstore_txn(f->s, cmps, 2, ops, 4, &r), TSTORE_OK);
    assert_int_equal(r, 2);
    assert_int_equal(rev_of(f->s), 2);
    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, "new1", 4, &kv), TSTORE_OK);
    assert_int_equal(kv.mod_rev, 2);
    assert_int_equal(kv.create_rev, 2);
    tstore_kv_free(&kv);
    assert_int_equal(tstore_get(f->s, "new2", 4, &kv), TSTORE_OK);
    assert_int_equal(kv.mod_rev, 2);
    tstore_kv_free(&kv);
    assert_int_equal(tstore_get(f->s, "old", 3, &kv), TSTORE_NOT_FOUND);

    /* Two puts of one key in a txn: the last wins, created at this rev. */
    tstore_op twice[] = {
        {.type = TSTORE_OP_PUT, .key = "t", .key_len = 1, .value = "1", .value_len = 1},
        {.type = TSTORE_OP_PUT, .key = "t", .key_len = 1, .value = "2", .value_len = 1},
    };
    assert_int_equal(tstore_txn(f->s, NULL, 0, twice, 2, &r), TSTORE_OK);
    assert_int_equal(r, 3);
    assert_int_equal(tstore_get(f->s, "t", 1, &kv), TSTORE_OK);
    assert_kv(&kv, "t", 1, "2");
    assert_int_equal(kv.create_rev, 3);
    tstore_kv_free(&kv);
}

static void test_txn_conflict_applies_nothing(void **state)
{
    fx *f = *state;
    put_str(f->s, "a", "1", NULL); /* rev 1 */
    put_str(f->s, "b", "1", NULL); /* rev 2 */
    tstore_op ops[] = {
        {.type = TSTORE_OP_PUT, .key = "a", .key_len = 1, .value = "X", .value_len = 1},
        {.type = TSTORE_OP_PUT, .key = "c", .key_len = 1, .value = "X", .value_len = 1},
        {.type = TSTORE_OP_DELETE, .key = "b", .key_len = 1},
    };
    uint64_t r = 99;

    /* Wrong mod_rev. */
    tstore_cmp wrong = {.key = "a", .key_len = 1, .mod_rev = 2};
    assert_int_equal(tstore_txn(f->s, &wrong, 1, ops, 3, &r), TSTORE_CONFLICT);
    /* mod_rev 0 = must not exist, but it does. */
    tstore_cmp absent = {.key = "b", .key_len = 1, .mod_rev = 0};
    assert_int_equal(tstore_txn(f->s, &absent, 1, ops, 3, &r), TSTORE_CONFLICT);
    /* Expected a revision for a key that does not exist. */
    tstore_cmp missing = {.key = "zz", .key_len = 2, .mod_rev = 1};
    assert_int_equal(tstore_txn(f->s, &missing, 1, ops, 3, &r), TSTORE_CONFLICT);
    /* The first comparison holds, the second fails. */
    tstore_cmp mixed[] = {{.key = "a", .key_len = 1, .mod_rev = 1},
                          {.key = "b", .key_len = 1, .mod_rev = 1}};
    assert_int_equal(tstore_txn(f->s, mixed, 2, ops, 3, &r), TSTORE_CONFLICT);
    assert_int_equal(r, 99);

    assert_int_equal(rev_of(f->s), 2);
    tstore_kv kv;
    assert_int_equal(tstore_get(f->s, "a", 1, &kv), TSTORE_OK);
    assert_kv(&kv, "a", 1, "1");
    assert_int_equal(kv.mod_rev, 1);
    tstore_kv_free(&kv);
    assert_int_equal(tstore_get(f->s, "b", 1, &kv), TSTORE_OK);
    tstore_kv_free(&kv);
    assert_int_equal(tstore_get(f->s, "c", 1, &kv), TSTORE_NOT_FOUND);

    /* And with the right expectations, it applies. */
    tstore_cmp right[] = {{.key = "a", .key_len = 1, .mod_rev = 1},
                          {.key = "b", .key_len = 1, .mod_rev = 2},
                          {.key = "c", .key_len = 1, .mod_rev = 0}};
    assert_int_equal(tstore_txn(f->s, right, 3, ops, 3, &r), TSTORE_OK);
    assert_int_equal(r, 3);
}

static void test_txn_no_change_keeps_revision(void **state)
{
    fx *f = *state;
    put_str(f->s, "a", "1", NULL);
    uint64_t r = 0;
    /* Compare only. */
    tstore_cmp c = {.key = "a", .key_len = 1, .mod_rev = 1};
    assert_int_equal(tstore_txn(f->s, &c, 1, NULL, 0, &r), TSTORE_OK);
    assert_int_equal(r, 1);
    /* Deleting a missing key is not an error, and changes nothing. */
    tstore_op del = {.type = TSTORE_OP_DELETE, .key = "none", .key_len = 4};
    assert_int_equal(tstore_txn(f->s, NULL, 0, &del, 1, &r), TSTORE_OK);
    assert_int_equal(r, 1);
    assert_int_equal(rev_of(f->s), 1);
}

static void test_txn_args(void **state)
{
    fx *f = *state;
    tstore_cmp badc = {.key = "", .key_len = 0, .mod_rev = 0};
    tstore_op good = {.type = TSTORE_OP_PUT, .key = "k", .key_len = 1, .value = "v",
                      .value_len = 1};
    tstore_op nokey = {.type = TSTORE_OP_PUT, .key = NULL, .key_len = 1, .value = "v",
                       .value_len = 1};
    tstore_op noval = {.type = TSTORE_OP_PUT, .key = "k", .key_len = 1, .value = NULL,
                       .value_len = 3};
    tstore_op badtype = {.type = (tstore_op_type)7, .key = "k", .key_len = 1};
    assert_int_equal(tstore_txn(NULL, NULL, 0, &good, 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_txn(f->s, NULL, 1, &good, 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_txn(f->s, NULL, 0, NULL, 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_txn(f->s, &badc, 1, &good, 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_txn(f->s, NULL, 0, &nokey, 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_txn(f->s, NULL, 0, &noval, 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_txn(f->s, NULL, 0, &badtype, 1, NULL), TSTORE_ARG);
    tstore_op both[] = {good, badtype};
    assert_int_equal(tstore_txn(f->s, NULL, 0, both, 2, NULL), TSTORE_ARG);
    assert_int_equal(rev_of(f->s), 0);
}

static void test_kv_args(void **state)
{
    fx *f = *state;
    tstore_kv kv;
    uint64_t r;
    assert_int_equal(tstore_get(NULL, "k", 1, &kv), TSTORE_ARG);
    assert_int_equal(tstore_get(f->s, NULL, 1, &kv), TSTORE_ARG);
    assert_int_equal(tstore_get(f->s, "k", 0, &kv), TSTORE_ARG);
    assert_int_equal(tstore_get(f->s, "k", 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_put(NULL, "k", 1, "v", 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_put(f->s, NULL, 1, "v", 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_put(f->s, "k", 0, "v", 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_put(f->s, "k", 1, NULL, 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_delete(NULL, "k", 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_delete(f->s, NULL, 1, NULL), TSTORE_ARG);
    assert_int_equal(tstore_delete(f->s, "k", 0, NULL), TSTORE_ARG);
    assert_int_equal(tstore_revision(NULL, &r), TSTORE_ARG);
    assert_int_equal(tstore_revision(f->s, NULL), TSTORE_ARG);
    tstore_event *ev;
    size_t n;
    assert_int_equal(tstore_changes(NULL, NULL, 0, 0, &ev, &n, &r), TSTORE_ARG);
    assert_int_equal(tstore_changes(f->s, NULL, 1, 0, &ev, &n, &r), TSTORE_ARG);
    assert_int_equal(tstore_changes(f->s, NULL, 0, 0, NULL, &n, &r), TSTORE_ARG);
    assert_int_equal(tstore_changes(f->s, NULL, 0, 0, &ev, NULL, &r), TSTORE_ARG);
    assert_int_equal(tstore_changes(f->s, NULL, 0, 0, &ev, &n, NULL), TSTORE_ARG);
    /* Freeing helpers accept NULL. */
    tstore_kv_free(NULL);
    tstore_kvs_free(NULL, 3);
    tstore_events_free(NULL, 3);
    tstore_close(NULL);
    assert_int_equal(rev_of(f->s), 0);
}

/* ---- changes ------------------------------------------------------------ */

static const tstore_event *find_ev(const tstore_event *ev, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kv.key_len == strlen(k) && memcmp(ev[i].kv.key, k, strlen(k)) == 0)
            return &ev[i];
    }
    return NULL;
}

static void test_changes_puts_deletes_continuation(void **state)
{
    fx *f = *state;
    put_str(f->s, "p/a", "1", NULL);  /* 1 */
    put_str(f->s, "p/b", "1", NULL);  /* 2 */
    put_str(f->s, "q/x", "1", NULL);  /* 3 */
    put_str(f->s, "p/a", "2", NULL);  /* 4 */
    assert_int_equal(tstore_delete(f->s, "p/b", 3, NULL), TSTORE_OK); /* 5 */

    tstore_event *ev = NULL;
    size_t n = 0;
    uint64_t upto = 0;
    assert_int_equal(tstore_changes(f->s, "p/", 2, 0, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(upto, 5);
    assert_int_equal(n, 2);
    /* revision order: p/a@4, then the deletion of p/b@5 */
    assert_kv(&ev[0].kv, "p/a", 3, "2");
    assert_false(ev[0].deleted);
    assert_int_equal(ev[0].kv.mod_rev, 4);
    assert_int_equal(ev[0].kv.create_rev, 1);
    assert_memory_equal(ev[1].kv.key, "p/b", 3);
    assert_true(ev[1].deleted);
    assert_null(ev[1].kv.value);
    assert_int_equal(ev[1].kv.value_len, 0);
    assert_int_equal(ev[1].kv.mod_rev, 5);
    tstore_events_free(ev, n);

    /* Continue from where we were: nothing new. */
    assert_int_equal(tstore_changes(f->s, "p/", 2, upto, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 0);
    assert_null(ev);
    assert_int_equal(upto, 5);

    put_str(f->s, "q/y", "1", NULL); /* 6: outside the prefix */
    put_str(f->s, "p/c", "1", NULL); /* 7 */
    put_str(f->s, "p/b", "back", NULL); /* 8: deleted key re-created */
    assert_int_equal(tstore_changes(f->s, "p/", 2, 5, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(upto, 8);
    assert_int_equal(n, 2);
    assert_kv(&ev[0].kv, "p/c", 3, "1");
    assert_kv(&ev[1].kv, "p/b", 3, "back");
    assert_false(ev[1].deleted);
    tstore_events_free(ev, n);

    /* From the start, the re-created key appears once, as a put. */
    assert_int_equal(tstore_changes(f->s, "p/", 2, 0, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 3);
    const tstore_event *b = find_ev(ev, n, "p/b");
    assert_non_null(b);
    assert_false(b->deleted);
    assert_int_equal(b->kv.mod_rev, 8);
    for (size_t i = 1; i < n; i++)
        assert_true(ev[i - 1].kv.mod_rev <= ev[i].kv.mod_rev);
    tstore_events_free(ev, n);

    /* Empty prefix sees the other keys too. */
    assert_int_equal(tstore_changes(f->s, NULL, 0, 2, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 5); /* q/x@3 p/a@4 q/y@6 p/c@7 p/b@8 */
    assert_memory_equal(ev[0].kv.key, "q/x", 3);
    tstore_events_free(ev, n);
}

static void test_changes_txn_delete_then_put_and_repeat_delete(void **state)
{
    fx *f = *state;
    put_str(f->s, "k", "1", NULL); /* 1 */
    tstore_op ops[] = {
        {.type = TSTORE_OP_DELETE, .key = "k", .key_len = 1},
        {.type = TSTORE_OP_PUT, .key = "k", .key_len = 1, .value = "2", .value_len = 1},
        {.type = TSTORE_OP_DELETE, .key = "k", .key_len = 1},
    };
    assert_int_equal(tstore_txn(f->s, NULL, 0, ops, 3, NULL), TSTORE_OK); /* 2 */
    put_str(f->s, "k", "3", NULL); /* 3 */
    assert_int_equal(tstore_delete(f->s, "k", 1, NULL), TSTORE_OK); /* 4 */
    tstore_event *ev = NULL;
    size_t n = 0;
    uint64_t upto = 0;
    assert_int_equal(tstore_changes(f->s, "k", 1, 0, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 1); /* the latest state only */
    assert_true(ev[0].deleted);
    assert_int_equal(ev[0].kv.mod_rev, 4);
    assert_int_equal(upto, 4);
    tstore_events_free(ev, n);
}

static void test_changes_compacted(void **state)
{
    fx *f = *state;
    char uri[400];
    tstore_close(f->s);
    f->s = NULL;
    snprintf(uri, sizeof(uri), "sqlite:%s?deletion_log=4", f->path);
    assert_int_equal(tstore_open(uri, &f->s), TSTORE_OK);

    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof(k), "d%d", i);
        put_str(f->s, k, "v", NULL); /* rev 1..10 */
    }
    tstore_event *ev = (tstore_event *)&uri;
    size_t n = 1234;
    uint64_t upto = 4321;
    /* Before any deletion, everything is known. */
    assert_int_equal(tstore_changes(f->s, NULL, 0, 0, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 10);
    tstore_events_free(ev, n);

    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof(k), "d%d", i);
        assert_int_equal(tstore_delete(f->s, k, strlen(k), NULL), TSTORE_OK); /* 11..20 */
    }
    ev = (tstore_event *)&uri;
    n = 1234;
    upto = 4321;
    assert_int_equal(tstore_changes(f->s, NULL, 0, 1, &ev, &n, &upto), TSTORE_COMPACTED);
    /* Outputs untouched on failure. */
    assert_ptr_equal(ev, (tstore_event *)&uri);
    assert_int_equal(n, 1234);
    assert_int_equal(upto, 4321);
    assert_int_equal(tstore_changes(f->s, NULL, 0, 12, &ev, &n, &upto), TSTORE_COMPACTED);
    assert_int_equal(tstore_changes(f->s, NULL, 0, 15, &ev, &n, &upto), TSTORE_COMPACTED);

    /* The re-read: since 0 (no earlier state) is always complete: the live
     * keys, plus whatever deletions are still logged. */
    put_str(f->s, "live", "1", NULL); /* 21 */
    assert_int_equal(tstore_changes(f->s, NULL, 0, 0, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(upto, 21);
    assert_non_null(find_ev(ev, n, "live"));
    assert_false(find_ev(ev, n, "live")->deleted);
    for (size_t i = 0; i < n; i++)
        assert_true(ev[i].deleted == (ev[i].kv.key_len != 4));
    tstore_events_free(ev, n);

    /* The newest 4 deletions (17..20) are always kept. */
    assert_int_equal(tstore_changes(f->s, NULL, 0, 16, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 5);
    assert_int_equal(upto, 21);
    for (size_t i = 0; i < 4; i++) {
        assert_true(ev[i].deleted);
        assert_int_equal(ev[i].kv.mod_rev, 17 + i);
    }
    assert_false(ev[4].deleted);
    tstore_events_free(ev, n);
    assert_int_equal(tstore_changes(f->s, NULL, 0, 21, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 0);

    /* Compaction survives reopening with the default log size. */
    tstore_close(f->s);
    f->s = NULL;
    assert_int_equal(tstore_open(f->path, &f->s), TSTORE_OK);
    assert_int_equal(tstore_changes(f->s, NULL, 0, 1, &ev, &n, &upto), TSTORE_COMPACTED);
}

/* The deletion count in meta is only a trigger: if it overstates the log,
 * pruning finds too few entries and compacts nothing. */
static void test_changes_overstated_deletion_count(void **state)
{
    fx *f = *state;
    char uri[400];
    tstore_close(f->s);
    f->s = NULL;
    snprintf(uri, sizeof(uri), "sqlite:%s?deletion_log=4", f->path);
    assert_int_equal(tstore_open(uri, &f->s), TSTORE_OK);
    put_str(f->s, "a", "1", NULL);
    put_str(f->s, "b", "1", NULL);
    raw_exec(f->path, "UPDATE meta SET ndel = 100");
    assert_int_equal(tstore_delete(f->s, "a", 1, NULL), TSTORE_OK); /* 3 */
    assert_int_equal(raw_int(f->path, "SELECT ndel FROM meta"), 1); /* recounted */
    assert_int_equal(raw_int(f->path, "SELECT compact_rev FROM meta"), 0);
    tstore_event *ev = NULL;
    size_t n = 0;
    uint64_t upto = 0;
    assert_int_equal(tstore_changes(f->s, NULL, 0, 1, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 2);
    assert_true(find_ev(ev, n, "a")->deleted);
    tstore_events_free(ev, n);
}

static void test_changes_since_future(void **state)
{
    fx *f = *state;
    put_str(f->s, "a", "1", NULL);
    tstore_event *ev = (tstore_event *)f;
    size_t n = 9;
    uint64_t upto = 0;
    assert_int_equal(tstore_changes(f->s, NULL, 0, UINT64_MAX, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 0);
    assert_null(ev);
    assert_int_equal(upto, 1);
}

/* ---- 100,000 keys ------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Gets and prefix ranges use the key index: 2,000 of each at 100,000 keys take
 * milliseconds; a full scan per call would take tens of seconds. */
static void test_scale_100k(void **state)
{
    fx *f = *state;
    enum { NKEYS = 100000, BATCH = 2000 };
    static char keys[BATCH][24];
    tstore_op *ops = calloc(BATCH, sizeof(*ops));
    assert_non_null(ops);
    for (int b = 0; b < NKEYS / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            int k = b * BATCH + i;
            /* 1,000 groups of 100 keys: "g0042/k00042xx" */
            snprintf(keys[i], sizeof(keys[i]), "g%04d/k%06d", k / 100, k);
            ops[i] = (tstore_op){.type = TSTORE_OP_PUT, .key = keys[i],
                                 .key_len = strlen(keys[i]), .value = keys[i],
                                 .value_len = strlen(keys[i])};
        }
        assert_int_equal(tstore_txn(f->s, NULL, 0, ops, BATCH, NULL), TSTORE_OK);
    }
    free(ops);
    assert_int_equal(rev_of(f->s), NKEYS / BATCH);
    uint64_t cnt = 0;
    assert_int_equal(tstore_count(f->s, NULL, 0, &cnt), TSTORE_OK);
    assert_int_equal(cnt, NKEYS);

    double t0 = now_s();
    for (int i = 0; i < 2000; i++) {
        int k = (int)(((unsigned)i * 7919u) % NKEYS);
        char key[24];
        snprintf(key, sizeof(key), "g%04d/k%06d", k / 100, k);
        tstore_kv kv;
        assert_int_equal(tstore_get(f->s, key, strlen(key), &kv), TSTORE_OK);
        assert_memory_equal(kv.value, key, strlen(key));
        tstore_kv_free(&kv);
    }
    double t_get = now_s() - t0;

    t0 = now_s();
    for (int i = 0; i < 2000; i++) {
        int g = (i * 37) % 1000;
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "g%04d/", g);
        tstore_kv *kvs = NULL;
        size_t n = 0;
        assert_int_equal(tstore_range(f->s, prefix, strlen(prefix), 0, &kvs, &n), TSTORE_OK);
        assert_int_equal(n, 100);
        assert_memory_equal(kvs[0].key, prefix, strlen(prefix));
        tstore_kvs_free(kvs, n);
    }
    double t_range = now_s() - t0;
    /* changes(): a first load of one group walks the key index, a follower
     * one revision behind walks the mod_rev index; neither scans the table. */
    tstore_event *ev = NULL;
    size_t n = 0;
    uint64_t upto = 0;
    t0 = now_s();
    for (int i = 0; i < 200; i++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "g%04d/", (i * 37) % 1000);
        assert_int_equal(tstore_changes(f->s, prefix, strlen(prefix), 0, &ev, &n, &upto),
                         TSTORE_OK);
        assert_int_equal(n, 100);
        tstore_events_free(ev, n);
    }
    uint64_t last = rev_of(f->s);
    assert_int_equal(tstore_put(f->s, "g0003/new", 9, "v", 1, NULL), TSTORE_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(tstore_changes(f->s, NULL, 0, last, &ev, &n, &upto), TSTORE_OK);
        assert_int_equal(n, 1);
        assert_int_equal(upto, last + 1);
        tstore_events_free(ev, n);
    }
    double t_changes = now_s() - t0;
    print_message("100k keys: 2000 gets %.3fs, 2000 prefix ranges of 100 %.3fs, "
                  "400 changes %.3fs\n",
                  t_get, t_range, t_changes);
    assert_true(t_get < 5.0);
    assert_true(t_range < 10.0);
    assert_true(t_changes < 5.0);
}

/* ---- the local key and the write ceiling ----------------------------------- */

static void test_local_key(void **state)
{
    fx *f = *state;
    uint8_t k1[TSTORE_LOCAL_KEY_LEN], k2[TSTORE_LOCAL_KEY_LEN], zero[TSTORE_LOCAL_KEY_LEN];
    char kpath[320];
    struct stat sb;
    memset(zero, 0, sizeof(zero));
    assert_int_equal(tstore_local_key(f->s, false, k1), TSTORE_NOT_FOUND);
    assert_int_equal(tstore_local_key(f->s, true, k1), TSTORE_OK);
    assert_memory_not_equal(k1, zero, sizeof(zero));
    snprintf(kpath, sizeof(kpath), "%s.key", f->path);
    assert_int_equal(lstat(kpath, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, TSTORE_LOCAL_KEY_LEN);
    /* the same key again, and from another handle */
    assert_int_equal(tstore_local_key(f->s, false, k2), TSTORE_OK);
    assert_memory_equal(k1, k2, sizeof(k1));
    tstore *s2 = NULL;
    assert_int_equal(tstore_open(f->path, &s2), TSTORE_OK);
    assert_int_equal(tstore_local_key(s2, true, k2), TSTORE_OK);
    assert_memory_equal(k1, k2, sizeof(k1));
    /* a damaged key file is not silently replaced */
    FILE *fp = fopen(kpath, "a");
    assert_non_null(fp);
    fputc('x', fp);
    fclose(fp);
    assert_int_equal(tstore_local_key(s2, true, k2), TSTORE_CORRUPT);
    /* a symbolic link in its place is refused */
    assert_int_equal(unlink(kpath), 0);
    assert_int_equal(symlink("/dev/null", kpath), 0);
    assert_int_not_equal(tstore_local_key(s2, true, k2), TSTORE_OK);
    tstore_close(s2);
    assert_int_equal(tstore_local_key(NULL, true, k2), TSTORE_ARG);
}

/* Another process holds the write lock past the ceiling: the write gives
 * up with TSTORE_BUSY, not a device error, and applies nothing. */
static void test_write_lock_busy(void **state)
{
    fx *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        if (sqlite3_open(f->path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            _exit(1);
        }
        (void)!write(p[1], "l", 1);
        sleep(TSTORE_WRITE_WAIT_MS / 1000 + 3);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    uint64_t rev = 0;
    assert_int_equal(tstore_revision(f->s, &rev), TSTORE_OK);
    assert_int_equal(tstore_put(f->s, "k", 1, "v", 1, NULL), TSTORE_BUSY);
    assert_string_equal(tstore_rc_str(TSTORE_BUSY), "store write lock busy");
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    uint64_t rev2 = 0;
    assert_int_equal(tstore_revision(f->s, &rev2), TSTORE_OK);
    assert_int_equal(rev, rev2);
    assert_int_equal(tstore_put(f->s, "k", 1, "v", 1, NULL), TSTORE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rc_str),
        cmocka_unit_test(test_prefix_successor),
        cmocka_unit_test_setup_teardown(test_open_creates_dir_and_file, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_uri_forms, fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_uri, fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_plain_path_with_question_mark,
                                        fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_directory_is_io, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_parent_is_file_is_io, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_symlink_is_io, fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_symlinked_dir_ok, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_unreadable_is_io, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_garbage_file, fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_foreign_database, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_future_schema, fx_setup_noopen, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_missing_meta_row, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_incomplete_schema, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_readonly_file_is_io, fx_setup_noopen,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_tampered_meta_while_open, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tampered_revisions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_revision_exhausted, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_pages, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_put_get_delete, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_missing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_get_not_found_leaves_output, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_binary_and_empty_values, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deleted_value_wiped_from_file, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_large_value, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_revision_monotonic_and_persistent, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_range_prefix, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_range_ff_edges, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_range_count_args, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_success_one_revision, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_conflict_applies_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_no_change_keeps_revision, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_args, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kv_args, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changes_puts_deletes_continuation, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_changes_txn_delete_then_put_and_repeat_delete,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changes_compacted, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changes_overstated_deletion_count, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_changes_since_future, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_scale_100k, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_local_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_write_lock_busy, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
