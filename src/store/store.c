/*
 * store/store.c — URI dispatch, argument checks, result helpers.
 *
 * Every public entry point checks its arguments here, once, so a backend sees
 * only well-formed requests. A handle remembers the process that opened it:
 * database connections (sqlite's locks, an etcd client's sockets) do not
 * survive fork(), so a child must open its own handle.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

struct tstore {
    const tstore_backend *be;
    void *impl;
    pid_t pid;
};

static const tstore_backend *const backends[] = {
    &tstore_sqlite_backend,
};

const char *tstore_rc_str(tstore_rc rc)
{
    switch (rc) {
    case TSTORE_OK:
        return "ok";
    case TSTORE_NOT_FOUND:
        return "not found";
    case TSTORE_CONFLICT:
        return "transaction comparison failed";
    case TSTORE_ARG:
        return "invalid argument";
    case TSTORE_NOMEM:
        return "out of memory";
    case TSTORE_IO:
        return "storage backend failure";
    case TSTORE_CORRUPT:
        return "store data is damaged";
    case TSTORE_COMPACTED:
        return "revision compacted";
    case TSTORE_BUSY:
        return "store write lock busy";
    }
    return "unknown store error";
}

bool tstore_prefix_successor(const uint8_t *prefix, size_t prefix_len, uint8_t *succ,
                             size_t *succ_len)
{
    size_t n = prefix_len;
    while (n > 0 && prefix[n - 1] == 0xff)
        n--;
    if (n == 0)
        return false;
    memcpy(succ, prefix, n);
    succ[n - 1]++;
    *succ_len = n;
    return true;
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). A URI
 * without one is a plain sqlite path. Returns the scheme's length, 0 if none. */
static size_t uri_scheme_len(const char *uri)
{
    if (!isalpha((unsigned char)uri[0]))
        return 0;
    size_t i = 1;
    while (isalnum((unsigned char)uri[i]) || uri[i] == '+' || uri[i] == '-' || uri[i] == '.')
        i++;
    return uri[i] == ':' ? i : 0;
}

tstore_rc tstore_open(const char *uri, tstore **out)
{
    tstore_rc rc = TSTORE_ARG;
    tstore *s = NULL;
    const tstore_backend *be = NULL;
    char *location = NULL;
    const char *options = NULL;

    if (uri == NULL || uri[0] == '\0' || out == NULL)
        goto done;
    size_t slen = uri_scheme_len(uri);
    if (slen == 0) {
        /* A plain path is taken literally: no options, '?' is a file name byte. */
        be = &tstore_sqlite_backend;
        location = strdup(uri);
    } else {
        for (size_t i = 0; i < TC_ARRAY_LEN(backends); i++) {
            if (strlen(backends[i]->scheme) == slen &&
                strncmp(backends[i]->scheme, uri, slen) == 0)
                be = backends[i];
        }
        if (be == NULL)
            goto done;
        const char *rest = uri + slen + 1;
        const char *q = strchr(rest, '?');
        if (q != NULL) {
            options = q + 1;
            location = strndup(rest, (size_t)(q - rest));
        } else {
            location = strdup(rest);
        }
    }
    if (location == NULL) {
        rc = TSTORE_NOMEM;
        goto done;
    }
    if (location[0] == '\0')
        goto done;

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = TSTORE_NOMEM;
        goto done;
    }
    s->be = be;
    s->pid = getpid();
    rc = be->open(location, options, &s->impl);
    if (rc != TSTORE_OK)
        goto done;
    *out = s;
    s = NULL;
done:
    free(location);
    free(s);
    return rc;
}

void tstore_close(tstore *s)
{
    if (s == NULL)
        return;
    /* In a forked child the backend's state (connections, and mutexes another
     * thread may have held at fork time) belongs to the parent: leave it. */
    if (s->pid == getpid())
        s->be->close(s->impl);
    free(s);
}

/* A handle is usable only in the process that opened it (see the top). */
static bool handle_ok(const tstore *s)
{
    return s != NULL && s->pid == getpid();
}

static bool key_ok(const void *key, size_t key_len)
{
    return key != NULL && key_len > 0;
}

/* (pointer, length) pairs where an empty byte string may be passed as NULL. */
static bool bytes_ok(const void *p, size_t len)
{
    return p != NULL || len == 0;
}

void tstore_kv_free(tstore_kv *kv)
{
    if (kv == NULL)
        return;
    tc_freezero(kv->key, kv->key_len);
    tc_freezero(kv->value, kv->value_len);
    tc_wipe(kv, sizeof(*kv));
}

void tstore_kvs_free(tstore_kv *kvs, size_t n)
{
    if (kvs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        tstore_kv_free(&kvs[i]);
    free(kvs);
}

void tstore_events_free(tstore_event *ev, size_t n)
{
    if (ev == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        tstore_kv_free(&ev[i].kv);
    free(ev);
}

tstore_rc tstore_revision(tstore *s, uint64_t *rev)
{
    if (!handle_ok(s) || rev == NULL)
        return TSTORE_ARG;
    return s->be->revision(s->impl, rev);
}

tstore_rc tstore_get(tstore *s, const void *key, size_t key_len, tstore_kv *out)
{
    if (!handle_ok(s) || !key_ok(key, key_len) || out == NULL)
        return TSTORE_ARG;
    return s->be->get(s->impl, key, key_len, out);
}

tstore_rc tstore_put(tstore *s, const void *key, size_t key_len, const void *value,
                     size_t value_len, uint64_t *rev_out)
{
    if (!handle_ok(s) || !key_ok(key, key_len) || !bytes_ok(value, value_len))
        return TSTORE_ARG;
    return s->be->put(s->impl, key, key_len, value, value_len, rev_out);
}

tstore_rc tstore_delete(tstore *s, const void *key, size_t key_len, uint64_t *rev_out)
{
    if (!handle_ok(s) || !key_ok(key, key_len))
        return TSTORE_ARG;
    return s->be->del(s->impl, key, key_len, rev_out);
}

tstore_rc tstore_range(tstore *s, const void *prefix, size_t prefix_len, size_t limit,
                       tstore_kv **out, size_t *n)
{
    if (!handle_ok(s) || !bytes_ok(prefix, prefix_len) || out == NULL || n == NULL)
        return TSTORE_ARG;
    return s->be->range(s->impl, prefix, prefix_len, limit, out, n);
}

tstore_rc tstore_count(tstore *s, const void *prefix, size_t prefix_len, uint64_t *n)
{
    if (!handle_ok(s) || !bytes_ok(prefix, prefix_len) || n == NULL)
        return TSTORE_ARG;
    return s->be->count(s->impl, prefix, prefix_len, n);
}

tstore_rc tstore_txn(tstore *s, const tstore_cmp *cmps, size_t ncmp, const tstore_op *ops,
                     size_t nops, uint64_t *rev_out)
{
    if (!handle_ok(s) || (cmps == NULL && ncmp > 0) || (ops == NULL && nops > 0))
        return TSTORE_ARG;
    for (size_t i = 0; i < ncmp; i++) {
        if (!key_ok(cmps[i].key, cmps[i].key_len))
            return TSTORE_ARG;
    }
    for (size_t i = 0; i < nops; i++) {
        if (!key_ok(ops[i].key, ops[i].key_len))
            return TSTORE_ARG;
        if (ops[i].type == TSTORE_OP_PUT) {
            if (!bytes_ok(ops[i].value, ops[i].value_len))
                return TSTORE_ARG;
        } else if (ops[i].type != TSTORE_OP_DELETE) {
            return TSTORE_ARG;
        }
    }
    return s->be->txn(s->impl, cmps, ncmp, ops, nops, rev_out);
}

tstore_rc tstore_changes(tstore *s, const void *prefix, size_t prefix_len, uint64_t since_rev,
                         tstore_event **out, size_t *n, uint64_t *rev_out)
{
    if (!handle_ok(s) || !bytes_ok(prefix, prefix_len) || out == NULL || n == NULL ||
        rev_out == NULL)
        return TSTORE_ARG;
    return s->be->changes(s->impl, prefix, prefix_len, since_rev, out, n, rev_out);
}

tstore_rc tstore_local_key(tstore *s, bool create, uint8_t out[TSTORE_LOCAL_KEY_LEN])
{
    if (!handle_ok(s) || out == NULL)
        return TSTORE_ARG;
    if (s->be->local_key == NULL)
        return TSTORE_NOT_FOUND;
    return s->be->local_key(s->impl, create, out);
}
