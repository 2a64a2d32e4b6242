/*
 * pkcs11/ internal interface: what the module's entry points share.
 *
 * The module is a front end of the core (core/tcore.h): it checks the
 * library state, marshals PKCS#11 arguments, calls the core with the
 * session and passes the CK_RV back. Every rule about who may do what, the
 * sessions, their operations and session objects live in the core. The
 * process is one core *application* (PKCS#11 3.0 §5.6: login state is
 * shared by the application's sessions).
 */
#ifndef TESSERA_P11_H
#define TESSERA_P11_H

#include "core/tcore.h"
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
/* The core and this process's application (valid between enter and leave). */
tcore *p11_core(void);
tcore_app *p11_app(void);

/* The prologue and epilogue of an entry point that names a session: enter
 * the library and lock the session (CKR_CRYPTOKI_NOT_INITIALIZED,
 * CKR_SESSION_HANDLE_INVALID); p11_end logs what the core said was wrong
 * (at debug level), unlocks, leaves and returns rv. */
CK_RV p11_begin(CK_SESSION_HANDLE h, tcore_session **s);
CK_RV p11_end(tcore_session *s, CK_RV rv, const char *fn);

/* Log a core error at debug level (which argument, which template entry). */
void p11_log_error(const char *fn, const tcore_err *e);

#endif
