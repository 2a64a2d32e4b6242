/*
 * The channel: in process or remote (svc_int.h), chosen once at open.
 */
#include <stdlib.h>
#include <string.h>

#include "service/svc_int.h"

struct tsvc {
    tcore *core;        /* embedded mode */
    tcore_app *app;
    tsvc_remote *remote; /* remote mode */
    bool owns_core;      /* false for tsvc_open_core */
};

/* The failure of this thread's last call (tsvc_last_error). */
static _Thread_local tcore_err t_last = {CKR_OK, TCORE_ARG_NONE, -1, 0};

const tcore_err *tsvc_last_error(void)
{
    return &t_last;
}

static const char *url_of(const tc_conf *conf)
{
    const char *env = getenv("TESSERA_URL");
    if (env != NULL && env[0] != '\0')
        return env;
    const char *u = tc_conf_get(conf, "url", NULL);
    return u != NULL && u[0] != '\0' ? u : NULL;
}

CK_RV tsvc_open_url(const tc_conf *conf, const char *url, const char *principal, tsvc **out)
{
    tsvc *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return CKR_HOST_MEMORY;
    tc_conf *loaded = NULL;
    if (conf == NULL) {
        const char *why = NULL;
        loaded = tc_conf_load(NULL, &why);
        if (loaded == NULL) {
            TC_ERROR("service", "configuration: %s", why != NULL ? why : "unreadable");
            free(v);
            return CKR_FUNCTION_FAILED;
        }
        conf = loaded;
    }
    if (url == NULL)
        url = url_of(conf);
    CK_RV rv;
    if (url != NULL) {
        /* no core here to read the logging settings: the channel does */
        tc_log_configure(conf);
        rv = tsvc_remote_open(conf, url, &v->remote);
    } else {
        rv = tcore_open(conf, &v->core);
        v->owns_core = true;
        if (rv == CKR_OK)
            rv = tcore_app_new(v->core, principal != NULL ? principal : "local", &v->app);
    }
    tc_conf_free(loaded);
    if (rv != CKR_OK) {
        tsvc_close(v);
        return rv;
    }
    *out = v;
    return CKR_OK;
}

CK_RV tsvc_open_core(tcore *c, const char *principal, tsvc **out)
{
    tsvc *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return CKR_HOST_MEMORY;
    v->core = c;
    CK_RV rv = tcore_app_new(c, principal, &v->app);
    if (rv != CKR_OK) {
        free(v);
        return rv;
    }
    *out = v;
    return CKR_OK;
}

CK_RV tsvc_open(const tc_conf *conf, const char *principal, tsvc **out)
{
    return tsvc_open_url(conf, NULL, principal, out);
}

void tsvc_close(tsvc *v)
{
    if (v == NULL)
        return;
    if (v->remote != NULL)
        tsvc_remote_close(v->remote);
    tcore_app_free(v->app);
    if (v->owns_core)
        tcore_close(v->core);
    free(v);
}

void tsvc_abandon(tsvc *v)
{
    if (v == NULL)
        return;
    /* The parent's core and its locks are not ours; only the remote
     * connections' descriptors are closed (the parent keeps its own). */
    if (v->remote != NULL)
        tsvc_remote_abandon(v->remote);
}

bool tsvc_is_remote(const tsvc *v)
{
    return v->remote != NULL;
}

const char *tsvc_endpoint(const tsvc *v)
{
    return v->remote != NULL ? tsvc_remote_endpoint(v->remote) : NULL;
}

tcore *tsvc_core(tsvc *v)
{
    return v->core;
}

void tsvc_set_last_error(const tcore_err *e)
{
    t_last = *e;
}

CK_RV tsvc_call(tsvc *v, uint16_t op, tproto_arg *args)
{
    CK_RV rv;
    if (v->remote == NULL) {
        rv = tsvc_dispatch(v->core, v->app, op, args, &t_last);
        return rv;
    }
    tproto_err e = {CKR_OK, TCORE_ARG_NONE, -1, 0};
    rv = tsvc_remote_call(v->remote, op, args, &e);
    t_last.rv = rv;
    t_last.arg = rv == e.rv ? (tcore_arg)e.arg : TCORE_ARG_NONE;
    t_last.index = rv == e.rv ? (long)e.index : -1;
    t_last.attr = rv == e.rv ? e.attr : 0;
    return rv;
}
