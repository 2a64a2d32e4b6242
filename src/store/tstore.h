/*
 * store/ — the storage engine interface (DESIGN.md "Storage").
 *
 * A flat, ordered map of byte-string keys to byte-string values with etcd's
 * semantics, so that the etcd backend can follow without changing callers:
 *  - every successful write increments the store's revision; each key records
 *    the revision that created it and the one that last modified it;
 *  - a transaction compares the mod revisions of some keys and, if all match,
 *    applies a list of puts and deletes atomically (compare-and-swap);
 *  - changes since a revision can be listed (the basis of a watch), deletions
 *    included, so caches in several processes can follow each other.
 *
 * A store handle may be used from many threads. The sqlite backend serialises
 * writers and lets readers run concurrently (WAL, synchronous=FULL); several
 * processes may open the same file.
 */
#ifndef TESSERA_STORE_H
#define TESSERA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tcommon.h"

typedef enum {
    TSTORE_OK = 0,
    TSTORE_NOT_FOUND,
    TSTORE_CONFLICT, /* a transaction's comparison failed; nothing was applied */
    TSTORE_ARG,      /* invalid argument (empty key, bad URI) */
    TSTORE_NOMEM,
    TSTORE_IO,       /* the backend failed (disk, database, network) */
    TSTORE_CORRUPT,  /* the backend's own data is damaged */
    TSTORE_COMPACTED, /* changes since that revision are no longer known: re-read */
    TSTORE_BUSY,     /* a write waited longer than TSTORE_WRITE_WAIT_MS for the
                        store's write lock (another writer holds it): nothing
                        was applied; not a device failure */
} tstore_rc;

/* The write ceiling: how long a write waits for another process's write to
 * finish before it gives up with TSTORE_BUSY. A write holds the lock for one
 * durable commit (milliseconds), so reaching this means a writer is stuck. */
#define TSTORE_WRITE_WAIT_MS 8000

const char *tstore_rc_str(tstore_rc rc);

typedef struct tstore tstore;

/* Open a store. uri: "sqlite:PATH" or a plain PATH (sqlite), later "etcd:..."
 * The file and its directory are created if missing (mode 0600/0700). */
tstore_rc tstore_open(const char *uri, tstore **out);
void tstore_close(tstore *s);

/* A key-value pair returned by reads. Values are malloc'd and may hold
 * secrets (sealed records): release with tstore_kv_free / tstore_kvs_free. */
typedef struct {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    uint64_t create_rev;
    uint64_t mod_rev;
} tstore_kv;

void tstore_kv_free(tstore_kv *kv); /* frees the members, not kv itself */
void tstore_kvs_free(tstore_kv *kvs, size_t n);

/* The current revision of the whole store (0 for an empty new store). */
tstore_rc tstore_revision(tstore *s, uint64_t *rev);

tstore_rc tstore_get(tstore *s, const void *key, size_t key_len, tstore_kv *out);
/* rev_out (optional) receives the new revision. */
tstore_rc tstore_put(tstore *s, const void *key, size_t key_len, const void *value,
                     size_t value_len, uint64_t *rev_out);
/* TSTORE_NOT_FOUND if the key did not exist. */
tstore_rc tstore_delete(tstore *s, const void *key, size_t key_len, uint64_t *rev_out);

/* All keys starting with prefix, in key order, at most `limit` (0 = no limit).
 * *out is a malloc'd array of *n entries (NULL when n is 0). */
tstore_rc tstore_range(tstore *s, const void *prefix, size_t prefix_len, size_t limit,
                       tstore_kv **out, size_t *n);
/* Number of keys starting with prefix. */
tstore_rc tstore_count(tstore *s, const void *prefix, size_t prefix_len, uint64_t *n);

typedef struct {
    const void *key;
    size_t key_len;
    /* Expected mod revision of key; 0 means "key must not exist". */
    uint64_t mod_rev;
} tstore_cmp;

typedef enum { TSTORE_OP_PUT, TSTORE_OP_DELETE } tstore_op_type;

typedef struct {
    tstore_op_type type;
    const void *key;
    size_t key_len;
    const void *value; /* PUT only */
    size_t value_len;
} tstore_op;

/* Atomically: if every comparison holds, apply every op (one new revision for
 * the whole transaction) and return TSTORE_OK; else TSTORE_CONFLICT and
 * nothing changes. A DELETE of a missing key is not an error inside a txn.
 * Durable (fsync'd) when it returns TSTORE_OK. */
tstore_rc tstore_txn(tstore *s, const tstore_cmp *cmps, size_t ncmp, const tstore_op *ops,
                     size_t nops, uint64_t *rev_out);

/* Changes to keys under prefix with mod revision > since_rev, in revision
 * order. For a deleted key `value` is NULL and `deleted` true. *rev_out is the
 * store revision the listing is complete up to (pass it as since_rev next
 * time). TSTORE_COMPACTED if deletions that old are no longer recorded. */
typedef struct {
    tstore_kv kv;
    bool deleted;
} tstore_event;
tstore_rc tstore_changes(tstore *s, const void *prefix, size_t prefix_len, uint64_t since_rev,
                         tstore_event **out, size_t *n, uint64_t *rev_out);
void tstore_events_free(tstore_event *ev, size_t n);

/* The store's local integrity key: TSTORE_LOCAL_KEY_LEN random bytes kept
 * beside the store but outside it (sqlite: the file PATH.key, mode 0600,
 * never rewritten), so that someone who can edit or replace the store file
 * alone cannot forge what the core authenticates with it. With create, a
 * missing key is made (and linked into place atomically: processes racing
 * agree on one); without, a missing key is TSTORE_NOT_FOUND. Also
 * TSTORE_NOT_FOUND for a backend without one (etcd: the daemon's domain key
 * takes its place); TSTORE_CORRUPT / TSTORE_IO if the file is unusable. */
#define TSTORE_LOCAL_KEY_LEN 32
tstore_rc tstore_local_key(tstore *s, bool create, uint8_t out[TSTORE_LOCAL_KEY_LEN]);

#endif
