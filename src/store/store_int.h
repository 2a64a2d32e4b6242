/*
 * store/ internal declarations: the backend table that tstore.h dispatches to.
 *
 * store.c validates every argument once, then calls the backend named by the
 * URI's scheme; a backend can therefore assume non-NULL handles, non-empty keys
 * and consistent (pointer, length) pairs. Adding a backend (etcd) means one new
 * table and one line in store.c's scheme list; callers do not change.
 */
#ifndef TESSERA_STORE_INT_H
#define TESSERA_STORE_INT_H

#include "store/tstore.h"

typedef struct tstore_backend {
    const char *scheme; /* URI scheme without the ':' */
    /* location: the URI after "scheme:" up to an optional '?'; options: what
     * follows the '?' ("name=value" pairs joined by '&'), NULL if none. A plain
     * path (no scheme) is passed whole, with no options. */
    tstore_rc (*open)(const char *location, const char *options, void **impl);
    void (*close)(void *impl);
    tstore_rc (*revision)(void *impl, uint64_t *rev);
    tstore_rc (*get)(void *impl, const void *key, size_t key_len, tstore_kv *out);
    tstore_rc (*put)(void *impl, const void *key, size_t key_len, const void *value,
                     size_t value_len, uint64_t *rev_out);
    tstore_rc (*del)(void *impl, const void *key, size_t key_len, uint64_t *rev_out);
    tstore_rc (*range)(void *impl, const void *prefix, size_t prefix_len, size_t limit,
                       tstore_kv **out, size_t *n);
    tstore_rc (*count)(void *impl, const void *prefix, size_t prefix_len, uint64_t *n);
    tstore_rc (*txn)(void *impl, const tstore_cmp *cmps, size_t ncmp, const tstore_op *ops,
                     size_t nops, uint64_t *rev_out);
    tstore_rc (*changes)(void *impl, const void *prefix, size_t prefix_len, uint64_t since_rev,
                         tstore_event **out, size_t *n, uint64_t *rev_out);
    /* NULL: the backend keeps no local key (tstore_local_key: NOT_FOUND). */
    tstore_rc (*local_key)(void *impl, bool create, uint8_t out[TSTORE_LOCAL_KEY_LEN]);
} tstore_backend;

extern const tstore_backend tstore_sqlite_backend;

/* The smallest byte string greater than every string that starts with
 * prefix: drop trailing 0xff bytes, then increment the last byte. Writes it to
 * succ (prefix_len bytes available) and its length to *succ_len. Returns false
 * when no such string exists (prefix empty or all 0xff): the range then has
 * no upper bound. */
bool tstore_prefix_successor(const uint8_t *prefix, size_t prefix_len, uint8_t *succ,
                             size_t *succ_len);

/* Default number of deletions kept for tstore_changes (sqlite option
 * "deletion_log=N" overrides it). */
#define TSTORE_DEFAULT_DELETION_LOG 100000u

#endif
