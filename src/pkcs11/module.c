/*
 * The library as a whole: C_Initialize / C_Finalize, C_GetInfo, the function
 * lists and the PKCS#11 3.0 interfaces (PKCS#11 3.0 §5.4).
 *
 * State: PKCS#11 is a process-global API, so the library's state is global,
 * but it is reached only through this file's functions. Every entry point
 * "enters" the library (p11_lib_enter: read side of g_api) for its duration,
 * so C_Finalize (write side) waits for calls in flight and nothing runs on a
 * half-torn-down library.
 *
 * Fork: the library records the PID that initialised it. In a child process
 * (PID differs) every call behaves as before C_Initialize
 * (CKR_CRYPTOKI_NOT_INITIALIZED) and C_Initialize starts afresh, abandoning
 * the parent's state without touching it: its locks may be held by threads
 * that do not exist in the child, and an sqlite connection must not be used
 * across fork(). We do not offer CKF_INTERFACE_FORK_SAFE (PKCS#11 3.0 §5.4:
 * that flag promises that sessions, logins and objects survive into the
 * child, which this design does not do).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/p11.h"

#define P11_LIB_MAJOR 0
#define P11_LIB_MINOR 1

static pthread_rwlock_t g_api = PTHREAD_RWLOCK_INITIALIZER;
/* Serialises C_Initialize / C_Finalize against each other. */
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
/* PID of the process that initialised the library; 0 when not initialised. */
static _Atomic pid_t g_pid;

static struct {
    tsvc *svc;
} g_lib;

/* ---- entering the library --------------------------------------------- */

/* True once the fork handler is registered: then a forked child learns of
 * the fork from the handler, and the hot path needs no getpid() system call
 * (it is called on every entry point, so it showed in AES-GCM benchmarks). */
static _Atomic bool g_atfork_ok;

CK_RV p11_check_initialized(void)
{
    pid_t pid = atomic_load_explicit(&g_pid, memory_order_acquire);
    if (pid <= 0)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (!atomic_load_explicit(&g_atfork_ok, memory_order_relaxed) && pid != getpid())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    return CKR_OK;
}

CK_RV p11_lib_enter(void)
{
    if (p11_check_initialized() != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (pthread_rwlock_rdlock(&g_api) != 0)
        return CKR_GENERAL_ERROR;
    /* C_Finalize may have run between the check and the lock. */
    if (p11_check_initialized() != CKR_OK) {
        pthread_rwlock_unlock(&g_api);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    return CKR_OK;
}

void p11_lib_leave(void)
{
    pthread_rwlock_unlock(&g_api);
}

tsvc *p11_svc(void)
{
    return g_lib.svc;
}

CK_RV p11_begin(void)
{
    return p11_lib_enter();
}

CK_RV p11_session_check(CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO info;
    return tsvc_session_info(g_lib.svc, h, &info);
}

void p11_log_error(const char *fn, const tcore_err *e)
{
    if (e->rv == CKR_OK || tc_log_get_level() < TC_LOG_DEBUG)
        return;
    char what[96];
    tcore_err_describe(e, what, sizeof(what));
    TC_DEBUG("p11", "%s: 0x%lx: %s", fn, (unsigned long)e->rv, what);
}

CK_RV p11_end(CK_RV rv, const char *fn)
{
    if (rv != CKR_OK) {
        const tcore_err *e = tsvc_last_error();
        if (e->rv == rv)
            p11_log_error(fn, e);
    }
    p11_lib_leave();
    return rv;
}

/* ---- C_Initialize ------------------------------------------------------- */

/* PKCS#11 3.0 §5.4.1 (CK_C_INITIALIZE_ARGS): the four mutex callbacks are all
 * supplied or all NULL; with CKF_OS_LOCKING_OK we use the OS primitives
 * (pthreads) whether or not callbacks are given; callbacks without that flag
 * would oblige us to lock only through them, which we don't: CKR_CANT_LOCK. */
static CK_RV check_init_args(const CK_C_INITIALIZE_ARGS *a)
{
    if (a == NULL)
        return CKR_OK;
    if (a->pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    int n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
            (a->UnlockMutex != NULL);
    if (n != 0 && n != 4)
        return CKR_ARGUMENTS_BAD;
    if (n == 4 && !(a->flags & CKF_OS_LOCKING_OK))
        return CKR_CANT_LOCK;
    return CKR_OK;
}

/* Forget a parent's state in a forked child (see the top of this file). */
static void abandon_after_fork(void)
{
    pthread_rwlock_t fresh_rw = PTHREAD_RWLOCK_INITIALIZER;
    memcpy(&g_api, &fresh_rw, sizeof(g_api));
    /* The parent's core and its locks are not ours: left untouched; a remote
     * channel's sockets are closed in the child only (never shared). */
    tsvc_abandon(g_lib.svc);
    g_lib.svc = NULL;
    atomic_store(&g_pid, 0);
}

/* A fork() while another thread held g_init_lock would leave it locked
 * forever in the child; the child gets a fresh one. (glibc unregisters the
 * handler if the module is unloaded.) */
static void child_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&g_init_lock, &fresh, sizeof(fresh));
    /* The parent's state is not ours: -1 marks it abandoned (not 0, so that
     * C_Initialize still knows to drop it without touching it). */
    if (atomic_load(&g_pid) != 0)
        atomic_store(&g_pid, (pid_t)-1);
}

static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork(void)
{
    if (pthread_atfork(NULL, NULL, child_after_fork) != 0)
        TC_WARN("p11", "cannot register the fork handler");
    else
        atomic_store(&g_atfork_ok, true);
}

P11_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    CK_RV rv = check_init_args((const CK_C_INITIALIZE_ARGS *)pInitArgs);
    if (rv != CKR_OK)
        return rv;
    pthread_once(&g_atfork_once, register_atfork);

    if (pthread_mutex_lock(&g_init_lock) != 0)
        return CKR_GENERAL_ERROR;
    tsvc *svc = NULL;

    pid_t pid = atomic_load(&g_pid);
    if (pid != 0 && pid != getpid())
        abandon_after_fork();
    if (atomic_load(&g_pid) != 0) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
        goto out;
    }

    /* One way in: self-tests, configuration, store and protector in
     * process, or the connection settings of tesserad. A failed self-test
     * is CKR_GENERAL_ERROR (the module then refuses crypto). */
    char principal[32];
    snprintf(principal, sizeof(principal), "pid %ld", (long)getpid());
    rv = tsvc_open(NULL, principal, &svc);
    if (rv != CKR_OK)
        goto out;
    g_lib.svc = svc;
    svc = NULL;
    atomic_store(&g_pid, getpid());
    TC_DEBUG("p11", "initialised (%s)", tsvc_is_remote(g_lib.svc) ? "remote" : "embedded");

out:
    tsvc_close(svc); /* on failure */
    pthread_mutex_unlock(&g_init_lock);
    return rv;
}

/* ---- C_Finalize --------------------------------------------------------- */

P11_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    if (pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    if (p11_check_initialized() != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (pthread_mutex_lock(&g_init_lock) != 0)
        return CKR_GENERAL_ERROR;
    CK_RV rv = CKR_OK;
    if (p11_check_initialized() != CKR_OK) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        goto out;
    }
    /* Wait for every call in flight, then refuse new ones. */
    if (pthread_rwlock_wrlock(&g_api) != 0) {
        rv = CKR_GENERAL_ERROR;
        goto out;
    }
    atomic_store(&g_pid, 0);
    /* Closing the application ends operations, destroys session objects
     * and logs the tokens out (which wipes their keys); in remote mode the
     * daemon does so when the connections close. */
    tsvc_close(g_lib.svc);
    g_lib.svc = NULL;
    pthread_rwlock_unlock(&g_api);
    TC_DEBUG("p11", "finalised");
out:
    pthread_mutex_unlock(&g_init_lock);
    return rv;
}

/* ---- C_GetInfo ---------------------------------------------------------- */

P11_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    CK_RV rv = p11_lib_enter();
    if (rv != CKR_OK)
        return rv;
    if (pInfo == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        goto out;
    }
    CK_INFO info;
    memset(&info, 0, sizeof(info));
    info.cryptokiVersion.major = 3;
    info.cryptokiVersion.minor = 0;
    tc_pad(info.manufacturerID, sizeof(info.manufacturerID), "Tessera");
    info.flags = 0;
    tc_pad(info.libraryDescription, sizeof(info.libraryDescription),
            "Tessera PKCS#11 module");
    info.libraryVersion.major = P11_LIB_MAJOR;
    info.libraryVersion.minor = P11_LIB_MINOR;
    *pInfo = info;
out:
    p11_lib_leave();
    return rv;
}

/* ---- function lists and interfaces (PKCS#11 3.0 §5.4) ------------------- */

#define P11_240_FUNCTIONS                                                               \
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,  \
        C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN,   \
        C_SetPIN, C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,    \
        C_GetOperationState, C_SetOperationState, C_Login, C_Logout, C_CreateObject,      \
        C_CopyObject, C_DestroyObject, C_GetObjectSize, C_GetAttributeValue,              \
        C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,        \
        C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit,         \
        C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest,               \
        C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate,     \
        C_SignFinal, C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify,            \
        C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover,              \
        C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate,                \
        C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey,  \
        C_DeriveKey, C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus,                 \
        C_CancelFunction, C_WaitForSlotEvent

static CK_FUNCTION_LIST g_list_240 = {
    {2, 40},
    P11_240_FUNCTIONS,
};

#define P11_30_NAME(name, args) name,
static CK_FUNCTION_LIST_3_0 g_list_30 = {
    {3, 0},
    P11_240_FUNCTIONS,
    TESSERA_P11_3_0_FUNCTIONS(P11_30_NAME)
};
#undef P11_30_NAME

static CK_CHAR g_iface_name[] = "PKCS 11";

/* The default interface comes first: the 3.0 list. Neither claims
 * CKF_INTERFACE_FORK_SAFE (see the top of this file). */
static CK_INTERFACE g_ifaces[] = {
    {g_iface_name, &g_list_30, 0},
    {g_iface_name, &g_list_240, 0},
};

P11_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    /* Callable before C_Initialize (PKCS#11 3.0 §5.4). */
    if (ppFunctionList == NULL)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &g_list_240;
    return CKR_OK;
}

P11_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    /* Callable before C_Initialize; two-call convention (PKCS#11 3.0 §5.2). */
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_ULONG n = TC_ARRAY_LEN(g_ifaces);
    if (pInterfacesList == NULL) {
        *pulCount = n;
        return CKR_OK;
    }
    if (*pulCount < n) {
        *pulCount = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pInterfacesList, g_ifaces, sizeof(g_ifaces));
    *pulCount = n;
    return CKR_OK;
}

static CK_VERSION iface_version(const CK_INTERFACE *i)
{
    /* Every function list begins with its CK_VERSION. */
    return *(const CK_VERSION *)i->pFunctionList;
}

/* PKCS#11 3.0 §5.4 C_GetInterface: a NULL name means the default interface
 * (ours is the first in the list); a NULL version means the default version
 * of the named interface (again the first that matches); the interface must
 * offer every flag requested. Nothing matching: CKR_ARGUMENTS_BAD. */
P11_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                                CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    if (ppInterface == NULL)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < TC_ARRAY_LEN(g_ifaces); i++) {
        CK_INTERFACE *it = &g_ifaces[i];
        if (pInterfaceName != NULL &&
            strcmp((const char *)pInterfaceName, (const char *)it->pInterfaceName) != 0)
            continue;
        if (pVersion != NULL) {
            CK_VERSION v = iface_version(it);
            if (v.major != pVersion->major || v.minor != pVersion->minor)
                continue;
        }
        if ((it->flags & flags) != flags)
            continue;
        *ppInterface = it;
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}
