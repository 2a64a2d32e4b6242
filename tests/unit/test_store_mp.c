/*
 * Unit tests for store/ (sqlite backend) across threads and processes:
 * compare-and-swap from several threads and processes with no lost update,
 * a second process seeing writes without reopening, concurrent first opens,
 * a handle refused after fork(), and kill -9 in the middle of a write loop.
 *
 * Child processes report through their exit status (and pipes) and leave
 * with _exit(): cmocka's state belongs to the parent.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

#include "store/tstore.h"

typedef struct {
    char dir[256];
    char path[300];
} fx;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/tstore-mp-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static bool read_full(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        b += r;
        n -= (size_t)r;
    }
    return true;
}

static bool write_full(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t r = write(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        b += r;
        n -= (size_t)r;
    }
    return true;
}

static int wait_child(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* One compare-and-swap increment of the decimal counter at key.
 * Returns TSTORE_OK, or the first error other than a conflict. */
static tstore_rc cas_increment(tstore *s, const char *key, unsigned *conflicts)
{
    for (;;) {
        tstore_kv kv;
        uint64_t val = 0, mod = 0;
        tstore_rc rc = tstore_get(s, key, strlen(key), &kv);
        if (rc == TSTORE_OK) {
            char buf[32] = {0};
            if (kv.value_len >= sizeof(buf)) {
                tstore_kv_free(&kv);
                return TSTORE_CORRUPT;
            }
            memcpy(buf, kv.value, kv.value_len);
            val = strtoull(buf, NULL, 10);
            mod = kv.mod_rev;
            tstore_kv_free(&kv);
        } else if (rc != TSTORE_NOT_FOUND) {
            return rc;
        }
        char next[32];
        snprintf(next, sizeof(next), "%" PRIu64, val + 1);
        tstore_cmp cmp = {.key = key, .key_len = strlen(key), .mod_rev = mod};
        tstore_op op = {.type = TSTORE_OP_PUT, .key = key, .key_len = strlen(key),
                        .value = next, .value_len = strlen(next)};
        rc = tstore_txn(s, &cmp, 1, &op, 1, NULL);
        if (rc != TSTORE_CONFLICT)
            return rc;
        if (conflicts != NULL)
            (*conflicts)++;
    }
}

static uint64_t counter_value(tstore *s, const char *key, uint64_t *mod_rev)
{
    tstore_kv kv;
    assert_int_equal(tstore_get(s, key, strlen(key), &kv), TSTORE_OK);
    char buf[32] = {0};
    assert_true(kv.value_len < sizeof(buf));
    memcpy(buf, kv.value, kv.value_len);
    if (mod_rev != NULL)
        *mod_rev = kv.mod_rev;
    tstore_kv_free(&kv);
    return strtoull(buf, NULL, 10);
}

/* ---- threads ------------------------------------------------------------ */

enum { NWRITERS = 4, NINCR = 40, NREADERS = 6 };

typedef struct {
    tstore *s;
    tstore_rc rc;
    unsigned conflicts;
    volatile int *stop;
    unsigned reads;
    bool monotonic;
} thr_arg;

static void *writer_thread(void *p)
{
    thr_arg *a = p;
    a->rc = TSTORE_OK;
    for (int i = 0; i < NINCR && a->rc == TSTORE_OK; i++)
        a->rc = cas_increment(a->s, "counter", &a->conflicts);
    return NULL;
}

/* Readers run beside the writers (more of them than the pool has
 * connections) and must see the counter only ever go up. */
static void *reader_thread(void *p)
{
    thr_arg *a = p;
    uint64_t last = 0, last_rev = 0;
    a->rc = TSTORE_OK;
    a->monotonic = true;
    while (!__atomic_load_n(a->stop, __ATOMIC_ACQUIRE) && a->rc == TSTORE_OK) {
        tstore_kv *kvs = NULL;
        size_t n = 0;
        a->rc = tstore_range(a->s, "count", 5, 0, &kvs, &n);
        if (a->rc != TSTORE_OK)
            break;
        if (n == 1) {
            char buf[32] = {0};
            memcpy(buf, kvs[0].value, kvs[0].value_len < 31 ? kvs[0].value_len : 31);
            uint64_t v = strtoull(buf, NULL, 10);
            if (v < last || kvs[0].mod_rev < last_rev)
                a->monotonic = false;
            last = v;
            last_rev = kvs[0].mod_rev;
        }
        tstore_kvs_free(kvs, n);
        uint64_t r = 0;
        a->rc = tstore_revision(a->s, &r);
        if (r < last_rev)
            a->monotonic = false;
        a->reads++;
    }
    return NULL;
}

static void test_threads_cas_no_lost_update(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    volatile int stop = 0;
    pthread_t w[NWRITERS], r[NREADERS];
    thr_arg wa[NWRITERS], ra[NREADERS];
    for (int i = 0; i < NREADERS; i++) {
        ra[i] = (thr_arg){.s = s, .stop = &stop};
        assert_int_equal(pthread_create(&r[i], NULL, reader_thread, &ra[i]), 0);
    }
    for (int i = 0; i < NWRITERS; i++) {
        wa[i] = (thr_arg){.s = s, .stop = &stop};
        assert_int_equal(pthread_create(&w[i], NULL, writer_thread, &wa[i]), 0);
    }
    unsigned conflicts = 0;
    for (int i = 0; i < NWRITERS; i++) {
        assert_int_equal(pthread_join(w[i], NULL), 0);
        assert_int_equal(wa[i].rc, TSTORE_OK);
        conflicts += wa[i].conflicts;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    unsigned reads = 0;
    for (int i = 0; i < NREADERS; i++) {
        assert_int_equal(pthread_join(r[i], NULL), 0);
        assert_int_equal(ra[i].rc, TSTORE_OK);
        assert_true(ra[i].monotonic);
        reads += ra[i].reads;
    }
    uint64_t mod = 0;
    assert_int_equal(counter_value(s, "counter", &mod), NWRITERS * NINCR);
    /* Each successful increment is exactly one revision; conflicts none. */
    uint64_t rev = 0;
    assert_int_equal(tstore_revision(s, &rev), TSTORE_OK);
    assert_int_equal(rev, NWRITERS * NINCR);
    assert_int_equal(mod, rev);
    print_message("threads: %u conflicts retried, %u reads\n", conflicts, reads);
    assert_true(reads > 0);
    tstore_close(s);
}

/* ---- processes ---------------------------------------------------------- */

/* The parent's handle, opened and used before the child writes, sees the
 * child's write through get, range and changes without reopening; and the
 * child sees the parent's. */
static void test_second_process_sees_writes(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    tstore_kv kv;
    assert_int_equal(tstore_get(s, "mp/a", 4, &kv), TSTORE_NOT_FOUND);
    tstore_kv *kvs = NULL;
    size_t n = 0;
    assert_int_equal(tstore_range(s, "mp/", 3, 0, &kvs, &n), TSTORE_OK);
    assert_int_equal(n, 0);

    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        tstore *c = NULL;
        if (tstore_open(f->path, &c) != TSTORE_OK)
            _exit(10);
        uint64_t rev = 0;
        if (tstore_put(c, "mp/a", 4, "from-child", 10, &rev) != TSTORE_OK)
            _exit(11);
        if (!write_full(up[1], &rev, sizeof(rev)))
            _exit(12);
        uint64_t prev = 0;
        if (!read_full(down[0], &prev, sizeof(prev)))
            _exit(13);
        tstore_kv ckv;
        if (tstore_get(c, "mp/b", 4, &ckv) != TSTORE_OK)
            _exit(14);
        int bad = ckv.value_len != 11 || memcmp(ckv.value, "from-parent", 11) != 0 ||
                  ckv.mod_rev != prev;
        tstore_kv_free(&ckv);
        tstore_close(c);
        _exit(bad ? 15 : 0);
    }
    close(up[1]);
    close(down[0]);
    uint64_t crev = 0;
    assert_true(read_full(up[0], &crev, sizeof(crev)));
    assert_int_equal(crev, 1);

    assert_int_equal(tstore_get(s, "mp/a", 4, &kv), TSTORE_OK);
    assert_int_equal(kv.value_len, 10);
    assert_memory_equal(kv.value, "from-child", 10);
    assert_int_equal(kv.mod_rev, crev);
    tstore_kv_free(&kv);
    assert_int_equal(tstore_range(s, "mp/", 3, 0, &kvs, &n), TSTORE_OK);
    assert_int_equal(n, 1);
    tstore_kvs_free(kvs, n);
    tstore_event *ev = NULL;
    uint64_t upto = 0;
    assert_int_equal(tstore_changes(s, "mp/", 3, 0, &ev, &n, &upto), TSTORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(upto, crev);
    assert_false(ev[0].deleted);
    tstore_events_free(ev, n);
    uint64_t rev = 0;
    assert_int_equal(tstore_revision(s, &rev), TSTORE_OK);
    assert_int_equal(rev, crev);

    uint64_t prev = 0;
    assert_int_equal(tstore_put(s, "mp/b", 4, "from-parent", 11, &prev), TSTORE_OK);
    assert_int_equal(prev, 2);
    assert_true(write_full(down[1], &prev, sizeof(prev)));
    assert_int_equal(wait_child(pid), 0);
    close(up[0]);
    close(down[1]);
    tstore_close(s);
}

/* Two processes increment one counter at the same time: the second writer
 * waits for the first (busy timeout) instead of failing, and no update is
 * lost. */
static void test_two_processes_cas(void **state)
{
    fx *f = *state;
    enum { NPROC = 3, N = 40 };
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(go[1]);
            tstore *c = NULL;
            if (tstore_open(f->path, &c) != TSTORE_OK)
                _exit(10);
            char b;
            (void)read_full(go[0], &b, 1); /* returns at EOF: the start signal */
            for (int i = 0; i < N; i++) {
                if (cas_increment(c, "counter", NULL) != TSTORE_OK)
                    _exit(12);
            }
            tstore_close(c);
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]); /* EOF releases every child at once */
    for (int i = 0; i < N; i++)
        assert_int_equal(cas_increment(s, "counter", NULL), TSTORE_OK);
    for (int p = 0; p < NPROC; p++)
        assert_int_equal(wait_child(pids[p]), 0);
    uint64_t mod = 0;
    assert_int_equal(counter_value(s, "counter", &mod), (NPROC + 1) * N);
    uint64_t rev = 0;
    assert_int_equal(tstore_revision(s, &rev), TSTORE_OK);
    assert_int_equal(rev, (NPROC + 1) * N);
    assert_int_equal(mod, rev);
    tstore_close(s);
}

/* Several processes creating the same new store at once all succeed and
 * share one schema. */
static void test_concurrent_first_open(void **state)
{
    fx *f = *state;
    enum { NPROC = 4 };
    char path[400];
    snprintf(path, sizeof(path), "%s/new/dir/store.db", f->dir);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(go[1]);
            char b;
            (void)read_full(go[0], &b, 1);
            tstore *c = NULL;
            if (tstore_open(path, &c) != TSTORE_OK)
                _exit(10);
            char k[8];
            snprintf(k, sizeof(k), "p%d", p);
            if (tstore_put(c, k, strlen(k), "v", 1, NULL) != TSTORE_OK)
                _exit(11);
            tstore_close(c);
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int p = 0; p < NPROC; p++)
        assert_int_equal(wait_child(pids[p]), 0);
    tstore *s = NULL;
    assert_int_equal(tstore_open(path, &s), TSTORE_OK);
    uint64_t n = 0, rev = 0;
    assert_int_equal(tstore_count(s, "p", 1, &n), TSTORE_OK);
    assert_int_equal(n, NPROC);
    assert_int_equal(tstore_revision(s, &rev), TSTORE_OK);
    assert_int_equal(rev, NPROC);
    tstore_close(s);
}

/* A handle does not cross fork(): the child's calls are refused, and the
 * parent's handle keeps working. */
static void test_forked_child_refused(void **state)
{
    fx *f = *state;
    tstore *s = NULL;
    assert_int_equal(tstore_open(f->path, &s), TSTORE_OK);
    assert_int_equal(tstore_put(s, "k", 1, "v", 1, NULL), TSTORE_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tstore_kv kv;
        uint64_t r;
        int code = 0;
        if (tstore_get(s, "k", 1, &kv) != TSTORE_ARG)
            code = 10;
        if (tstore_put(s, "k", 1, "w", 1, NULL) != TSTORE_ARG)
            code = 11;
        if (tstore_revision(s, &r) != TSTORE_ARG)
            code = 12;
        tstore_close(s); /* must not close the parent's connections */
        _exit(code);
    }
    assert_int_equal(wait_child(pid), 0);
    tstore_kv kv;
    assert_int_equal(tstore_get(s, "k", 1, &kv), TSTORE_OK);
    assert_int_equal(kv.value[0], 'v');
    tstore_kv_free(&kv);
    tstore_close(s);
}

/* ---- crash -------------------------------------------------------------- */

/* The child commits transactions {counter = i, log/i = i} (revision i) and
 * reports each revision after its commit returns; it is killed with SIGKILL
 * part-way. The reopened database must pass sqlite's integrity check and hold
 * exactly the committed prefix of the loop: revision = last reported
 * (or one more, if the kill fell between commit and report). */
static void crash_round(const char *path, unsigned kill_after)
{
    int up[2];
    assert_int_equal(pipe(up), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        tstore *c = NULL;
        if (tstore_open(path, &c) != TSTORE_OK)
            _exit(10);
        uint64_t start = 0;
        if (tstore_revision(c, &start) != TSTORE_OK)
            _exit(11);
        char pad[512];
        memset(pad, 'p', sizeof(pad));
        for (uint64_t i = start + 1;; i++) {
            char num[24], logk[32];
            snprintf(num, sizeof(num), "%" PRIu64, i);
            snprintf(logk, sizeof(logk), "log/%08" PRIu64, i);
            tstore_op ops[] = {
                {.type = TSTORE_OP_PUT, .key = "counter", .key_len = 7, .value = num,
                 .value_len = strlen(num)},
                {.type = TSTORE_OP_PUT, .key = logk, .key_len = strlen(logk), .value = pad,
                 .value_len = sizeof(pad)},
            };
            uint64_t rev = 0;
            if (tstore_txn(c, NULL, 0, ops, 2, &rev) != TSTORE_OK || rev != i)
                _exit(12);
            if (!write_full(up[1], &rev, sizeof(rev)))
                _exit(13);
        }
    }
    close(up[1]);
    uint64_t last = 0, r;
    unsigned got = 0;
    while (got < kill_after && read_full(up[0], &r, sizeof(r))) {
        last = r;
        got++;
    }
    assert_int_equal(got, kill_after);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(wait_child(pid), 128 + SIGKILL);
    while (read_full(up[0], &r, sizeof(r)))
        last = r;
    close(up[0]);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);

    tstore *s = NULL;
    assert_int_equal(tstore_open(path, &s), TSTORE_OK);
    uint64_t rev = 0;
    assert_int_equal(tstore_revision(s, &rev), TSTORE_OK);
    print_message("crash: last reported %" PRIu64 ", store at %" PRIu64 "\n", last, rev);
    assert_true(rev == last || rev == last + 1);
    uint64_t mod = 0;
    assert_int_equal(counter_value(s, "counter", &mod), rev);
    assert_int_equal(mod, rev);
    uint64_t n = 0;
    assert_int_equal(tstore_count(s, "log/", 4, &n), TSTORE_OK);
    assert_int_equal(n, rev);
    /* And it is writable again, in step with the loop for the next round. */
    char num[24], logk[32];
    snprintf(num, sizeof(num), "%" PRIu64, rev + 1);
    snprintf(logk, sizeof(logk), "log/%08" PRIu64, rev + 1);
    tstore_op ops[] = {
        {.type = TSTORE_OP_PUT, .key = "counter", .key_len = 7, .value = num,
         .value_len = strlen(num)},
        {.type = TSTORE_OP_PUT, .key = logk, .key_len = strlen(logk), .value = "x",
         .value_len = 1},
    };
    uint64_t next = 0;
    assert_int_equal(tstore_txn(s, NULL, 0, ops, 2, &next), TSTORE_OK);
    assert_int_equal(next, rev + 1);
    tstore_close(s);
}

static void test_kill9_mid_write(void **state)
{
    fx *f = *state;
    /* Three kills on one file (each recovering the previous one's WAL), at
     * different points of the loop. */
    crash_round(f->path, 25);
    crash_round(f->path, 3);
    crash_round(f->path, 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threads_cas_no_lost_update, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_second_process_sees_writes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_processes_cas, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_forked_child_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kill9_mid_write, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("store_mp", tests, NULL, NULL);
}
