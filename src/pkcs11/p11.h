/*
 * pkcs11/ internal interface: what the module's entry points share.
 *
 * The module is a front end of the core: it checks the library state,
 * calls the service (service/tsvc.h) with the PKCS#11 arguments and passes
 * the CK_RV back. The service channel is the core in process (embedded
 * mode) or tesserad (remote mode, chosen by TESSERA_URL or the `url` key of
 * the configuration). Every rule about who may do what, the sessions, their
 * operations and session objects live in the core. The process is one core
 * *application* (PKCS#11 3.0 §5.6: login state is shared by the
 * application's sessions).
 */
#ifndef TESSERA_P11_H
#define TESSERA_P11_H

#include "service/tsvc.h"
#include "tessera/pkcs11.h"

/* Exported entry points carry this (the build hides everything else). */
#define P11_EXPORT __attribute__((visibility("default")))

/* CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize. */
CK_RV p11_check_initialized(void);

/* Enter the library for the duration of an entry point (C_Finalize waits for
 * calls in flight): CKR_CRYPTOKI_NOT_INITIALIZED, or CKR_OK and the caller
 * must p11_lib_leave(). */
CK_RV p11_lib_enter(void);
void p11_lib_leave(void);
/* This process's service channel (valid between enter and leave). */
tsvc *p11_svc(void);

/* The prologue and epilogue of an entry point: p11_begin enters the
 * library (CKR_CRYPTOKI_NOT_INITIALIZED); p11_end logs what the core said
 * was wrong with a failed call (at debug level), leaves and returns rv. */
CK_RV p11_begin(void);
CK_RV p11_end(CK_RV rv, const char *fn);
/* CKR_OK when h names a session of this process, for the entry points that
 * only answer "not supported" for a valid session. */
CK_RV p11_session_check(CK_SESSION_HANDLE h);

/* Log a core error at debug level (which argument, which template entry). */
void p11_log_error(const char *fn, const tcore_err *e);

#endif
