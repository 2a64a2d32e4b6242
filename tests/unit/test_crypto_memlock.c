/*
 * Secure heap against RLIMIT_MEMLOCK. The heap is sized from the memlock
 * budget the process has left when the crypto layer starts, so the host
 * application keeps most of it; when it cannot be locked, that is logged at
 * error level. Each case runs in a forked child (the heap is set up once per
 * process) whose limit is lowered with setrlimit() before crypto starts; the
 * parent never starts the crypto layer.
 */
#include "test_crypto_util.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto_int.h"

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

typedef struct {
    int stage;          /* how far the child got; 99 = done */
    int init_rc;
    int gen_rc;
    tcrypto_secure_heap_info heap;
    int host_lock_errno; /* mlock() by the "host" after start-up; 0 = it worked */
    char log[512];
} child_result;

/* mlock() through the system call: AddressSanitizer turns the libc call
 * into a no-op (OpenSSL locks its heap with the mlock2 system call, which
 * it does not intercept). */
static int lock_now(void *p, size_t n)
{
    return (int)syscall(SYS_mlock2, p, n, 0);
}

/* Without CAP_IPC_LOCK (root has it) RLIMIT_MEMLOCK does not bind. */
static bool drop_ipc_lock(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0)
        return false;
    d[0].effective &= ~(1u << CAP_IPC_LOCK);
    d[0].permitted &= ~(1u << CAP_IPC_LOCK);
    d[0].inheritable &= ~(1u << CAP_IPC_LOCK);
    return syscall(SYS_capset, &h, d) == 0;
}

/* In a child: lower RLIMIT_MEMLOCK to `limit`, lock `prelock` bytes as a
 * host would, start the crypto layer, then try to lock `host_after` more. */
static child_result run_child(size_t limit, size_t prelock, size_t host_after)
{
    child_result res;
    int fd[2];
    char logpath[] = "/tmp/tessera-memlock-XXXXXX";
    memset(&res, 0, sizeof(res));
    int lfd = mkstemp(logpath);
    assert_true(lfd >= 0);
    close(lfd);
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_result r;
        memset(&r, 0, sizeof(r));
        close(fd[0]);
        struct rlimit rl;
        if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
            goto out;
        rl.rlim_cur = limit;
        if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0 || !drop_ipc_lock())
            goto out;
        r.stage = 1;
        if (prelock != 0) {
            void *m = mmap(NULL, prelock, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
            if (m == MAP_FAILED || lock_now(m, prelock) != 0)
                goto out;
        }
        r.stage = 2;
        if (!tc_log_set_file(logpath))
            goto out;
        tc_log_set_level(TC_LOG_ERROR);
        r.init_rc = (int)tcrypto_init();
        tcrypto_secure_heap_stats(&r.heap);
        tcrypto_pkey *k = NULL;
        r.gen_rc = (int)tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k);
        tcrypto_pkey_free(k);
        r.stage = 3;
        if (host_after != 0) {
            void *m = mmap(NULL, host_after, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED)
                goto out;
            r.host_lock_errno = lock_now(m, host_after) == 0 ? 0 : errno;
        }
        r.stage = 99;
    out:
        if (write(fd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
            _exit(2);
        _exit(0); /* no exit handlers, no leak report for the half-used child */
    }
    close(fd[1]);
    assert_int_equal(read(fd[0], &res, sizeof(res)), (ssize_t)sizeof(res));
    close(fd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    FILE *f = fopen(logpath, "r");
    assert_non_null(f);
    size_t n = fread(res.log, 1, sizeof(res.log) - 1, f);
    res.log[n] = '\0';
    fclose(f);
    unlink(logpath);
    print_message("limit %zu KiB, prelocked %zu KiB: heap %zu KiB, %s\n", limit / KiB,
                  prelock / KiB, res.heap.size / KiB, res.heap.locked ? "locked" : "NOT locked");
    return res;
}

static void test_size_from_limit(void **state)
{
    (void)state;
    assert_int_equal(tcx_secure_heap_size_for((uint64_t)RLIM_INFINITY, 0), 8 * MiB);
    assert_int_equal(tcx_secure_heap_size_for(64 * MiB, 0), 8 * MiB);
    assert_int_equal(tcx_secure_heap_size_for(8 * MiB, 0), 2 * MiB);
    assert_int_equal(tcx_secure_heap_size_for(8 * MiB, 6 * MiB), 512 * KiB);
    assert_int_equal(tcx_secure_heap_size_for(1 * MiB, 0), 256 * KiB);
    /* Below the floor: the smallest heap, which will not lock. */
    assert_int_equal(tcx_secure_heap_size_for(64 * KiB, 0), 64 * KiB);
    assert_int_equal(tcx_secure_heap_size_for(8 * MiB, 9 * MiB), 64 * KiB);
}

/* The default limit of an unprivileged process: the module takes a quarter
 * and the host can still lock half of the limit after it started. */
static void test_default_limit_leaves_host_room(void **state)
{
    (void)state;
    child_result r = run_child(8 * MiB, 0, 4 * MiB);
    assert_int_equal(r.stage, 99);
    assert_rc(r.init_rc, TCRYPTO_OK);
    assert_rc(r.gen_rc, TCRYPTO_OK);
    assert_true(r.heap.available);
    assert_true(r.heap.locked);
    assert_int_equal(r.heap.size, 2 * MiB);
    assert_int_equal(r.host_lock_errno, 0);
    assert_null(strstr(r.log, "NOT locked"));
}

static void test_small_limit_small_heap(void **state)
{
    (void)state;
    child_result r = run_child(1 * MiB, 0, 0);
    assert_int_equal(r.stage, 99);
    assert_rc(r.init_rc, TCRYPTO_OK);
    assert_rc(r.gen_rc, TCRYPTO_OK);
    assert_true(r.heap.locked);
    assert_int_equal(r.heap.size, 256 * KiB);
}

/* A host that locked memory before the module started: the heap is sized
 * from what is left and still gets locked. */
static void test_host_locked_first(void **state)
{
    (void)state;
    child_result r = run_child(8 * MiB, 6 * MiB, 0);
    assert_int_equal(r.stage, 99);
    assert_rc(r.init_rc, TCRYPTO_OK);
    assert_true(r.heap.locked);
    assert_int_equal(r.heap.size, 512 * KiB);
    assert_null(strstr(r.log, "NOT locked"));
}

/* No budget left: the heap is used unlocked (still wiped, not dumped) and
 * that is an error-level log line, not a warning. */
static void test_unlocked_heap_logged_as_error(void **state)
{
    (void)state;
    child_result r = run_child(8 * MiB, 8 * MiB, 0);
    assert_int_equal(r.stage, 99);
    assert_rc(r.init_rc, TCRYPTO_OK);
    assert_rc(r.gen_rc, TCRYPTO_OK);
    assert_true(r.heap.available);
    assert_false(r.heap.locked);
    assert_int_equal(r.heap.size, 64 * KiB);
    assert_non_null(strstr(r.log, " error crypto: secure heap (64 KiB) NOT locked in memory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_from_limit),
        cmocka_unit_test(test_default_limit_leaves_host_room),
        cmocka_unit_test(test_small_limit_small_heap),
        cmocka_unit_test(test_host_locked_first),
        cmocka_unit_test(test_unlocked_heap_logged_as_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
