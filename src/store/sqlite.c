/*
 * store/sqlite.c — the embedded backend: one SQLite file in WAL mode.
 *
 * Schema (version 1):
 *   meta(id = 1, schema_version, rev, compact_rev, ndel)  the store revision;
 *       compact_rev is the newest revision whose deletions were pruned from the
 *       log, ndel the number of deletions the log holds
 *   kv(key, value, create_rev, mod_rev)                   the live keys
 *   deleted(rev, key)                                     the deletion log that
 *       tstore_changes reads; pruned to the newest `deletion_log` entries
 *
 * Concurrency: one writer connection behind a mutex; every write is one
 * BEGIN IMMEDIATE transaction that takes the database's write lock, so writers
 * in other processes wait (busy timeout) instead of failing, and bumps meta.rev
 * by exactly one. Readers take a connection from a small pool and run in WAL
 * snapshots, concurrently with each other and with the writer. Each connection
 * is used by one thread at a time and caches its prepared statements.
 * synchronous=FULL makes a commit durable before the call returns.
 *
 * Choices the interface leaves open:
 *  - a transaction whose operations change nothing (only comparisons, or
 *    deletes of missing keys) commits no revision, as in etcd; *rev_out is
 *    then the current revision;
 *  - tstore_changes lists each key's latest state once (a live key as a put
 *    at its mod_rev, else its newest deletion), not every intermediate write:
 *    enough for a cache to converge; since_rev 0 is never TSTORE_COMPACTED:
 *    with no earlier state, the live keys are a complete answer (the re-read
 *    a follower does after TSTORE_COMPACTED);
 *  - URI "sqlite:PATH?deletion_log=N" sets how many deletions are kept
 *    (default TSTORE_DEFAULT_DELETION_LOG);
 *  - a database that holds other tables but not ours, or a newer schema
 *    version, is refused as TSTORE_CORRUPT; the file itself must not be a
 *    symbolic link (TSTORE_IO).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

#define SQ_SCHEMA_VERSION 1
#define SQ_MAX_READERS 4
#define SQ_BUSY_TIMEOUT_MS TSTORE_WRITE_WAIT_MS
#define SQ_COMPONENT "store"

enum sq_stmt {
    ST_BEGIN_WRITE,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_META,
    ST_GET,
    ST_MODREV,
    ST_RANGE_B,
    ST_RANGE_U,
    ST_COUNT_B,
    ST_COUNT_U,
    ST_CHANGES_KB,
    ST_CHANGES_KU,
    ST_CHANGES_RB,
    ST_CHANGES_RU,
    ST_UPSERT,
    ST_DELETE,
    ST_LOG_DELETE,
    ST_SET_META,
    ST_PRUNE_CUT,
    ST_PRUNE,
    ST_DEL_COUNT,
    ST_COUNT_
};

/* Prefix bounds: ?1 = prefix (inclusive), ?2 = its successor (exclusive);
 * the _U variants have no upper bound (the prefix is empty or all 0xff).
 * Both use the primary key's order, never a full scan. */
#define CHANGES_SQL(kv_index, kv_upper, del_upper)                                          \
    "SELECT key, value, create_rev, mod_rev, 0 FROM kv" kv_index                             \
    " WHERE mod_rev > ?3 AND key >= ?1" kv_upper                                             \
    " UNION ALL"                                                                             \
    " SELECT d.key, NULL, 0, max(d.rev), 1 FROM deleted AS d"                                \
    " WHERE d.rev > ?3 AND d.key >= ?1" del_upper                                            \
    " AND NOT EXISTS (SELECT 1 FROM kv WHERE kv.key = d.key)"                                \
    " GROUP BY d.key ORDER BY 4, 1"

/* How far behind (in revisions) a changes() caller may be for the mod_rev
 * index to be the cheaper walk; since_rev 0 (a first load) walks keys. */
#define SQ_CHANGES_RECENT 4096

static const char *const sq_sql[ST_COUNT_] = {
    [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_META] = "SELECT rev, compact_rev, ndel FROM meta WHERE id = 1",
    [ST_GET] = "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?1",
    [ST_MODREV] = "SELECT mod_rev FROM kv WHERE key = ?1",
    [ST_RANGE_B] = "SELECT key, value, create_rev, mod_rev FROM kv"
                   " WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3",
    [ST_RANGE_U] = "SELECT key, value, create_rev, mod_rev FROM kv"
                   " WHERE key >= ?1 ORDER BY key LIMIT ?3",
    [ST_COUNT_B] = "SELECT count(*) FROM kv WHERE key >= ?1 AND key < ?2",
    [ST_COUNT_U] = "SELECT count(*) FROM kv WHERE key >= ?1",
    /* A key's latest state only: a live key as a put, else its newest
     * deletion. ?3 = since_rev. The _K variants walk the prefix in key order
     * (a first load, or a follower far behind); the _R variants walk the
     * mod_rev index (a follower that is nearly current, the common case). */
    [ST_CHANGES_KB] = CHANGES_SQL("", " AND key < ?2", " AND d.key < ?2"),
    [ST_CHANGES_KU] = CHANGES_SQL("", "", ""),
    [ST_CHANGES_RB] = CHANGES_SQL(" INDEXED BY kv_mod_rev", " AND key < ?2", " AND d.key < ?2"),
    [ST_CHANGES_RU] = CHANGES_SQL(" INDEXED BY kv_mod_rev", "", ""),
    [ST_UPSERT] = "INSERT INTO kv (key, value, create_rev, mod_rev) VALUES (?1, ?2, ?3, ?3)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                  " mod_rev = excluded.mod_rev",
    [ST_DELETE] = "DELETE FROM kv WHERE key = ?1",
    [ST_LOG_DELETE] = "INSERT OR IGNORE INTO deleted (rev, key) VALUES (?1, ?2)",
    [ST_SET_META] = "UPDATE meta SET rev = ?1, ndel = ?2, compact_rev = ?3 WHERE id = 1",
    [ST_PRUNE_CUT] = "SELECT rev FROM deleted ORDER BY rev DESC LIMIT 1 OFFSET ?1",
    [ST_PRUNE] = "DELETE FROM deleted WHERE rev <= ?1",
    [ST_DEL_COUNT] = "SELECT count(*) FROM deleted",
};

static const char sq_schema[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " schema_version INTEGER NOT NULL,"
    " rev INTEGER NOT NULL,"
    " compact_rev INTEGER NOT NULL,"
    " ndel INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta (id, schema_version, rev, compact_rev, ndel)"
    " VALUES (1, 1, 0, 0, 0);"
    "CREATE TABLE IF NOT EXISTS kv ("
    " key BLOB PRIMARY KEY,"
    " value BLOB NOT NULL,"
    " create_rev INTEGER NOT NULL,"
    " mod_rev INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS kv_mod_rev ON kv (mod_rev);"
    "CREATE TABLE IF NOT EXISTS deleted ("
    " rev INTEGER NOT NULL,"
    " key BLOB NOT NULL,"
    " PRIMARY KEY (rev, key)) WITHOUT ROWID;";

typedef struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT_];
    struct sq_conn *next; /* free list of the reader pool */
} sq_conn;

typedef struct {
    char *path;
    uint64_t deletion_log; /* deletions kept for tstore_changes */

    pthread_mutex_t wlock; /* serialises writers of this handle */
    sq_conn *writer;       /* NULL after a failure left it unusable */

    pthread_mutex_t plock; /* guards the reader pool */
    pthread_cond_t pcond;
    sq_conn *free_readers;
    unsigned nreaders; /* open reader connections, in use or free */
} sq_store;

typedef struct {
    uint64_t rev;
    uint64_t compact_rev;
    uint64_t ndel;
} sq_meta;

/* A non-NULL pointer for empty blobs: binding NULL would store SQL NULL. */
static const uint8_t sq_empty[1];

static tstore_rc sq_map(sqlite3 *db, int rc, const char *what)
{
    tstore_rc out;
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return TSTORE_OK;
    case SQLITE_NOMEM:
        out = TSTORE_NOMEM;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        out = TSTORE_CORRUPT;
        break;
    case SQLITE_TOOBIG:
        out = TSTORE_ARG;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        /* the busy timeout ran out: another writer held the lock */
        TC_ERROR(SQ_COMPONENT, "sqlite %s: waited more than %d ms for the write lock",
                 what, TSTORE_WRITE_WAIT_MS);
        return TSTORE_BUSY;
    default:
        out = TSTORE_IO;
        break;
    }
    /* SQLite's messages name tables and columns, never bound values. */
    TC_WARN(SQ_COMPONENT, "sqlite %s: %s (%d)", what,
            db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    return out;
}

/* ---- connections -------------------------------------------------------- */

static void conn_close(sq_conn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

static tstore_rc conn_exec(sq_conn *c, const char *sql, const char *what)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? TSTORE_OK : sq_map(c->db, rc, what);
}

static tstore_rc conn_open(const sq_store *st, bool reader, sq_conn **out)
{
    tstore_rc rc = TSTORE_NOMEM;
    sq_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto done;
    /* NOMUTEX: a connection is only ever used by one thread at a time.
     * Not SQLITE_OPEN_NOFOLLOW: it also refuses symbolic links among the
     * directories (/var/run, a relocated home); prepare_file refuses a
     * database file that is itself a link. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
    int src = sqlite3_open_v2(st->path, &c->db, flags, NULL);
    if (src != SQLITE_OK) {
        rc = sq_map(c->db, src, "open");
        goto done;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, SQ_BUSY_TIMEOUT_MS);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    /* secure_delete: freed pages are zeroed, so deleted values do not linger
     * in the file. */
    rc = conn_exec(c, "PRAGMA foreign_keys = OFF; PRAGMA synchronous = FULL;"
                      " PRAGMA secure_delete = ON;",
                   "pragma");
    if (rc != TSTORE_OK)
        goto done;
    if (reader) {
        rc = conn_exec(c, "PRAGMA query_only = ON;", "pragma");
        if (rc != TSTORE_OK)
            goto done;
    }
    *out = c;
    c = NULL;
    rc = TSTORE_OK;
done:
    conn_close(c);
    return rc;
}

static tstore_rc conn_stmt(sq_conn *c, enum sq_stmt id, sqlite3_stmt **out)
{
    if (c->st[id] == NULL) {
        int rc = sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->st[id], NULL);
        if (rc != SQLITE_OK) {
            c->st[id] = NULL;
            return sq_map(c->db, rc, "prepare");
        }
    }
    *out = c->st[id];
    return TSTORE_OK;
}

/* Reset a statement and drop its bindings, which point into callers' buffers. */
static void stmt_done(sqlite3_stmt *s)
{
    if (s == NULL)
        return;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static int bind_bytes(sqlite3_stmt *s, int idx, const void *p, size_t len)
{
    return sqlite3_bind_blob64(s, idx, len > 0 ? p : sq_empty, (sqlite3_uint64)len,
                               SQLITE_STATIC);
}

static int bind_u64(sqlite3_stmt *s, int idx, uint64_t v)
{
    if (v > INT64_MAX)
        return SQLITE_RANGE;
    return sqlite3_bind_int64(s, idx, (sqlite3_int64)v);
}

/* Revisions are never negative; one that is means the file was altered. */
static tstore_rc col_u64(sqlite3_stmt *s, int col, uint64_t *out)
{
    sqlite3_int64 v = sqlite3_column_int64(s, col);
    if (v < 0 || sqlite3_column_type(s, col) != SQLITE_INTEGER)
        return TSTORE_CORRUPT;
    *out = (uint64_t)v;
    return TSTORE_OK;
}

/* A malloc'd copy of column col; at least one byte is allocated so a present
 * empty value is never NULL (NULL marks a deletion in tstore_event). */
static tstore_rc col_dup(sqlite3_stmt *s, int col, uint8_t **out, size_t *out_len)
{
    const void *p = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (n < 0 || (p == NULL && n > 0))
        return TSTORE_NOMEM;
    uint8_t *copy = malloc(n > 0 ? (size_t)n : 1);
    if (copy == NULL)
        return TSTORE_NOMEM;
    if (n > 0)
        memcpy(copy, p, (size_t)n);
    *out = copy;
    *out_len = (size_t)n;
    return TSTORE_OK;
}

/* ---- reader pool -------------------------------------------------------- */

static tstore_rc reader_get(sq_store *st, sq_conn **out)
{
    pthread_mutex_lock(&st->plock);
    while (st->free_readers == NULL && st->nreaders >= SQ_MAX_READERS)
        pthread_cond_wait(&st->pcond, &st->plock);
    sq_conn *c = st->free_readers;
    if (c != NULL) {
        st->free_readers = c->next;
        c->next = NULL;
        pthread_mutex_unlock(&st->plock);
        *out = c;
        return TSTORE_OK;
    }
    st->nreaders++;
    pthread_mutex_unlock(&st->plock);

    tstore_rc rc = conn_open(st, true, &c);
    if (rc != TSTORE_OK) {
        pthread_mutex_lock(&st->plock);
        st->nreaders--;
        pthread_cond_signal(&st->pcond);
        pthread_mutex_unlock(&st->plock);
        return rc;
    }
    *out = c;
    return TSTORE_OK;
}

static void reader_put(sq_store *st, sq_conn *c)
{
    /* A reader left inside a transaction would pin an old snapshot. */
    bool broken = !sqlite3_get_autocommit(c->db);
    pthread_mutex_lock(&st->plock);
    if (broken) {
        st->nreaders--;
    } else {
        c->next = st->free_readers;
        st->free_readers = c;
    }
    pthread_cond_signal(&st->pcond);
    pthread_mutex_unlock(&st->plock);
    if (broken)
        conn_close(c);
}

/* ---- meta --------------------------------------------------------------- */

static tstore_rc meta_read(sq_conn *c, sq_meta *m)
{
    sqlite3_stmt *s = NULL;
    tstore_rc rc = conn_stmt(c, ST_META, &s);
    if (rc != TSTORE_OK)
        goto done;
    int src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        rc = TSTORE_CORRUPT; /* the one meta row is missing */
        goto done;
    }
    if (src != SQLITE_ROW) {
        rc = sq_map(c->db, src, "read meta");
        goto done;
    }
    sq_meta tmp;
    if ((rc = col_u64(s, 0, &tmp.rev)) != TSTORE_OK ||
        (rc = col_u64(s, 1, &tmp.compact_rev)) != TSTORE_OK ||
        (rc = col_u64(s, 2, &tmp.ndel)) != TSTORE_OK)
        goto done;
    *m = tmp;
done:
    stmt_done(s);
    return rc;
}

static tstore_rc run_simple(sq_conn *c, enum sq_stmt id)
{
    sqlite3_stmt *s = NULL;
    tstore_rc rc = conn_stmt(c, id, &s);
    if (rc != TSTORE_OK)
        return rc;
    int src = sqlite3_step(s);
    rc = src == SQLITE_DONE ? TSTORE_OK : sq_map(c->db, src, sq_sql[id]);
    stmt_done(s);
    return rc;
}

/* ---- open / close ------------------------------------------------------- */

static tstore_rc parse_options(const char *options, sq_store *st)
{
    if (options == NULL)
        return TSTORE_OK;
    const char *p = options;
    while (*p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        static const char dl[] = "deletion_log=";
        if (len > sizeof(dl) - 1 && strncmp(p, dl, sizeof(dl) - 1) == 0) {
            uint64_t v = 0;
            for (size_t i = sizeof(dl) - 1; i < len; i++) {
                if (p[i] < '0' || p[i] > '9' || v > (INT64_MAX - 9) / 10)
                    return TSTORE_ARG;
                v = v * 10 + (uint64_t)(p[i] - '0');
            }
            if (v == 0)
                return TSTORE_ARG;
            st->deletion_log = v;
        } else {
            return TSTORE_ARG;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return TSTORE_OK;
}

/* Make the parent directory (0700) and the file (0600) when missing, so the
 * file never exists with looser permissions than those. */
static tstore_rc prepare_file(const char *path)
{
    tstore_rc rc = TSTORE_IO;
    char *dir = strdup(path);
    if (dir == NULL)
        return TSTORE_NOMEM;
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (!tc_mkdirs(dir, 0700)) {
            TC_WARN(SQ_COMPONENT, "cannot create directory %s: %s", dir, strerror(errno));
            goto done;
        }
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        dir[0] = '.';
        dir[1] = '\0';
    }

    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        bool ok = fsync(fd) == 0;
        close(fd);
        /* Make the new directory entry durable too. */
        ok = tc_fsync_dir_of(path) && ok;
        if (!ok) {
            TC_WARN(SQ_COMPONENT, "cannot sync %s: %s", path, strerror(errno));
            goto done;
        }
    } else if (errno != EEXIST) {
        TC_WARN(SQ_COMPONENT, "cannot create %s: %s", path, strerror(errno));
        goto done;
    }

    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        TC_WARN(SQ_COMPONENT, "%s is not a regular file", path);
        goto done;
    }
    rc = TSTORE_OK;
done:
    free(dir);
    return rc;
}

/* WAL mode is a property of the file; set it once, under the busy timeout,
 * and refuse to run in any other mode (durability and reader concurrency
 * depend on it). */
static tstore_rc set_wal(sq_conn *c)
{
    sqlite3_stmt *s = NULL;
    tstore_rc rc = TSTORE_OK;
    int src = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = sq_map(c->db, src, "journal_mode");
        goto done;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = sq_map(c->db, src, "journal_mode");
        goto done;
    }
    const unsigned char *mode = sqlite3_column_text(s, 0);
    if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
        TC_WARN(SQ_COMPONENT, "the database refused WAL mode");
        rc = TSTORE_IO;
    }
done:
    sqlite3_finalize(s);
    return rc;
}

static tstore_rc query_int(sq_conn *c, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    tstore_rc rc;
    int src = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = sq_map(c->db, src, "schema query");
        goto done;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = TSTORE_OK;
    } else if (src == SQLITE_DONE) {
        rc = TSTORE_NOT_FOUND;
    } else {
        rc = sq_map(c->db, src, "schema query");
    }
done:
    sqlite3_finalize(s);
    return rc;
}

/* Create the schema in a new (empty) file; check it in an existing one. A
 * database with other tables but not ours is not a Tessera store; one with
 * only part of ours, or without its meta row, is damaged: both are refused
 * rather than repaired, since re-creating meta would silently reset the
 * revision that caches and the audit chain depend on. */
static tstore_rc schema_init(sq_conn *c)
{
    int64_t nobj = 0, ours = 0, version = 0;
    tstore_rc rc = run_simple(c, ST_BEGIN_WRITE);
    if (rc != TSTORE_OK)
        return rc;
    if ((rc = query_int(c, "SELECT count(*) FROM sqlite_schema", &nobj)) != TSTORE_OK)
        goto done;
    if (nobj == 0) {
        if ((rc = conn_exec(c, sq_schema, "create schema")) != TSTORE_OK)
            goto done;
    } else {
        rc = query_int(c, "SELECT count(*) FROM sqlite_schema WHERE"
                          " (type = 'table' AND name IN ('meta', 'kv', 'deleted'))"
                          " OR (type = 'index' AND name = 'kv_mod_rev')",
                       &ours);
        if (rc != TSTORE_OK)
            goto done;
        if (ours != 4) {
            TC_WARN(SQ_COMPONENT, ours == 0 ? "the database is not a Tessera store"
                                            : "the store's schema is incomplete");
            rc = TSTORE_CORRUPT;
            goto done;
        }
    }
    rc = query_int(c, "SELECT schema_version FROM meta WHERE id = 1", &version);
    if (rc == TSTORE_NOT_FOUND) {
        TC_WARN(SQ_COMPONENT, "the store's meta record is missing");
        rc = TSTORE_CORRUPT;
    }
    if (rc != TSTORE_OK)
        goto done;
    if (version != SQ_SCHEMA_VERSION) {
        TC_WARN(SQ_COMPONENT, "unsupported store schema version %" PRId64, version);
        rc = TSTORE_CORRUPT;
        goto done;
    }
    rc = run_simple(c, ST_COMMIT);
done:
    if (rc != TSTORE_OK && !sqlite3_get_autocommit(c->db))
        (void)run_simple(c, ST_ROLLBACK);
    return rc;
}

static void sq_close(void *impl)
{
    sq_store *st = impl;
    if (st == NULL)
        return;
    conn_close(st->writer);
    while (st->free_readers != NULL) {
        sq_conn *c = st->free_readers;
        st->free_readers = c->next;
        conn_close(c);
    }
    pthread_cond_destroy(&st->pcond);
    pthread_mutex_destroy(&st->plock);
    pthread_mutex_destroy(&st->wlock);
    free(st->path);
    free(st);
}

static tstore_rc sq_open(const char *location, const char *options, void **impl)
{
    tstore_rc rc = TSTORE_NOMEM;
    sq_store *st = NULL;
    bool locks = false;

    if (sqlite3_threadsafe() == 0) {
        TC_ERROR(SQ_COMPONENT, "sqlite is built without thread support");
        rc = TSTORE_IO;
        goto done;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        goto done;
    st->deletion_log = TSTORE_DEFAULT_DELETION_LOG;
    if ((rc = parse_options(options, st)) != TSTORE_OK)
        goto done;
    st->path = strdup(location);
    if (st->path == NULL) {
        rc = TSTORE_NOMEM;
        goto done;
    }
    if (pthread_mutex_init(&st->wlock, NULL) != 0) {
        rc = TSTORE_NOMEM;
        goto done;
    }
    if (pthread_mutex_init(&st->plock, NULL) != 0) {
        pthread_mutex_destroy(&st->wlock);
        rc = TSTORE_NOMEM;
        goto done;
    }
    if (pthread_cond_init(&st->pcond, NULL) != 0) {
        pthread_mutex_destroy(&st->plock);
        pthread_mutex_destroy(&st->wlock);
        rc = TSTORE_NOMEM;
        goto done;
    }
    locks = true;
    if ((rc = prepare_file(st->path)) != TSTORE_OK)
        goto done;
    if ((rc = conn_open(st, false, &st->writer)) != TSTORE_OK)
        goto done;
    if ((rc = set_wal(st->writer)) != TSTORE_OK)
        goto done;
    if ((rc = schema_init(st->writer)) != TSTORE_OK)
        goto done;
    *impl = st;
    st = NULL;
done:
    if (st != NULL) {
        if (locks) {
            sq_close(st);
        } else {
            free(st->path);
            free(st);
        }
    }
    return rc;
}

/* ---- reads -------------------------------------------------------------- */

static tstore_rc sq_revision(void *impl, uint64_t *rev)
{
    sq_store *st = impl;
    sq_conn *c = NULL;
    sq_meta m;
    tstore_rc rc = reader_get(st, &c);
    if (rc != TSTORE_OK)
        return rc;
    rc = meta_read(c, &m);
    if (rc == TSTORE_OK)
        *rev = m.rev;
    reader_put(st, c);
    return rc;
}

static tstore_rc sq_get(void *impl, const void *key, size_t key_len, tstore_kv *out)
{
    sq_store *st = impl;
    sq_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    tstore_kv kv = {0};
    tstore_rc rc = reader_get(st, &c);
    if (rc != TSTORE_OK)
        return rc;
    if ((rc = conn_stmt(c, ST_GET, &s)) != TSTORE_OK)
        goto done;
    int src = bind_bytes(s, 1, key, key_len);
    if (src != SQLITE_OK) {
        rc = sq_map(c->db, src, "bind");
        goto done;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        rc = TSTORE_NOT_FOUND;
        goto done;
    }
    if (src != SQLITE_ROW) {
        rc = sq_map(c->db, src, "get");
        goto done;
    }
    if ((rc = col_dup(s, 0, &kv.value, &kv.value_len)) != TSTORE_OK ||
        (rc = col_u64(s, 1, &kv.create_rev)) != TSTORE_OK ||
        (rc = col_u64(s, 2, &kv.mod_rev)) != TSTORE_OK)
        goto done;
    kv.key = malloc(key_len);
    if (kv.key == NULL) {
        rc = TSTORE_NOMEM;
        goto done;
    }
    memcpy(kv.key, key, key_len);
    kv.key_len = key_len;
    *out = kv;
    kv = (tstore_kv){0};
done:
    stmt_done(s);
    reader_put(st, c);
    tstore_kv_free(&kv);
    return rc;
}

/* Bind ?1 (and ?2 when bounded) for a prefix; *bounded tells which statement
 * variant applies. succ must hold prefix_len bytes. */
static void prefix_bounds(const void *prefix, size_t prefix_len, uint8_t *succ,
                          size_t *succ_len, bool *bounded)
{
    *succ_len = 0;
    *bounded = prefix_len > 0 && tstore_prefix_successor(prefix, prefix_len, succ, succ_len);
}

static int bind_prefix(sqlite3_stmt *s, const void *prefix, size_t prefix_len,
                       const uint8_t *succ, size_t succ_len, bool bounded)
{
    int src = bind_bytes(s, 1, prefix, prefix_len);
    if (src == SQLITE_OK && bounded)
        src = bind_bytes(s, 2, succ, succ_len);
    return src;
}

static tstore_rc sq_range(void *impl, const void *prefix, size_t prefix_len, size_t limit,
                          tstore_kv **out, size_t *n)
{
    sq_store *st = impl;
    sq_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    tstore_kv *kvs = NULL;
    size_t cnt = 0, cap = 0, succ_len;
    bool bounded;
    tstore_rc rc = TSTORE_NOMEM;
    uint8_t *succ = malloc(prefix_len > 0 ? prefix_len : 1);
    if (succ == NULL)
        return TSTORE_NOMEM;
    prefix_bounds(prefix, prefix_len, succ, &succ_len, &bounded);

    if ((rc = reader_get(st, &c)) != TSTORE_OK) {
        free(succ);
        return rc;
    }
    if ((rc = conn_stmt(c, bounded ? ST_RANGE_B : ST_RANGE_U, &s)) != TSTORE_OK)
        goto done;
    int src = bind_prefix(s, prefix, prefix_len, succ, succ_len, bounded);
    if (src == SQLITE_OK)
        src = sqlite3_bind_int64(s, 3, limit == 0 || limit > INT64_MAX ? -1
                                                                       : (sqlite3_int64)limit);
    if (src != SQLITE_OK) {
        rc = sq_map(c->db, src, "bind");
        goto done;
    }
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            tstore_kv *grown = ncap > SIZE_MAX / sizeof(*kvs)
                                   ? NULL
                                   : realloc(kvs, ncap * sizeof(*kvs));
            if (grown == NULL) {
                rc = TSTORE_NOMEM;
                goto done;
            }
            kvs = grown;
            cap = ncap;
        }
        tstore_kv *kv = &kvs[cnt];
        *kv = (tstore_kv){0};
        cnt++;
        if ((rc = col_dup(s, 0, &kv->key, &kv->key_len)) != TSTORE_OK ||
            (rc = col_dup(s, 1, &kv->value, &kv->value_len)) != TSTORE_OK ||
            (rc = col_u64(s, 2, &kv->create_rev)) != TSTORE_OK ||
            (rc = col_u64(s, 3, &kv->mod_rev)) != TSTORE_OK)
            goto done;
    }
    if (src != SQLITE_DONE) {
        rc = sq_map(c->db, src, "range");
        goto done;
    }
    if (cnt == 0) {
        free(kvs);
        kvs = NULL;
    }
    *out = kvs;
    *n = cnt;
    kvs = NULL;
    cnt = 0;
    rc = TSTORE_OK;
done:
    stmt_done(s);
    reader_put(st, c);
    tstore_kvs_free(kvs, cnt);
    free(succ);
    return rc;
}

static tstore_rc sq_count(void *impl, const void *prefix, size_t prefix_len, uint64_t *n)
{
    sq_store *st = impl;
    sq_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    size_t succ_len;
    bool bounded;
    tstore_rc rc;
    uint8_t *succ = malloc(prefix_len > 0 ? prefix_len : 1);
    if (succ == NULL)
        return TSTORE_NOMEM;
    prefix_bounds(prefix, prefix_len, succ, &succ_len, &bounded);

    if ((rc = reader_get(st, &c)) != TSTORE_OK) {
        free(succ);
        return rc;
    }
    if ((rc = conn_stmt(c, bounded ? ST_COUNT_B : ST_COUNT_U, &s)) != TSTORE_OK)
        goto done;
    int src = bind_prefix(s, prefix, prefix_len, succ, succ_len, bounded);
    if (src != SQLITE_OK) {
        rc = sq_map(c->db, src, "bind");
        goto done;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = sq_map(c->db, src, "count");
        goto done;
    }
    uint64_t v;
    if ((rc = col_u64(s, 0, &v)) != TSTORE_OK)
        goto done;
    *n = v;
done:
    stmt_done(s);
    reader_put(st, c);
    free(succ);
    return rc;
}

static tstore_rc sq_changes(void *impl, const void *prefix, size_t prefix_len,
                            uint64_t since_rev, tstore_event **out, size_t *n,
                            uint64_t *rev_out)
{
    sq_store *st = impl;
    sq_conn *c = NULL;
    sqlite3_stmt *s = NULL;
    tstore_event *ev = NULL;
    size_t cnt = 0, cap = 0, succ_len;
    bool bounded, in_txn = false;
    sq_meta m;
    tstore_rc rc;
    uint8_t *succ = malloc(prefix_len > 0 ? prefix_len : 1);
    if (succ == NULL)
        return TSTORE_NOMEM;
    prefix_bounds(prefix, prefix_len, succ, &succ_len, &bounded);

    if ((rc = reader_get(st, &c)) != TSTORE_OK) {
        free(succ);
        return rc;
    }
    /* One snapshot for the revision and the listing, so *rev_out is exactly
     * the revision the listing is complete up to. */
    if ((rc = run_simple(c, ST_BEGIN_READ)) != TSTORE_OK)
        goto done;
    in_txn = true;
    if ((rc = meta_read(c, &m)) != TSTORE_OK)
        goto done;
    /* since_rev 0 means "no earlier state": the live keys alone are then a
     * complete answer (the way to re-read after TSTORE_COMPACTED). */
    if (since_rev > 0 && since_rev < m.compact_rev) {
        rc = TSTORE_COMPACTED;
        goto done;
    }
    enum sq_stmt id;
    if (since_rev > 0 && since_rev < m.rev && m.rev - since_rev <= SQ_CHANGES_RECENT)
        id = bounded ? ST_CHANGES_RB : ST_CHANGES_RU;
    else
        id = bounded ? ST_CHANGES_KB : ST_CHANGES_KU;
    if ((rc = conn_stmt(c, id, &s)) != TSTORE_OK)
        goto done;
    int src = bind_prefix(s, prefix, prefix_len, succ, succ_len, bounded);
    if (src == SQLITE_OK)
        src = bind_u64(s, 3, since_rev > INT64_MAX ? INT64_MAX : since_rev);
    if (src != SQLITE_OK) {
        rc = sq_map(c->db, src, "bind");
        goto done;
    }
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            tstore_event *grown = ncap > SIZE_MAX / sizeof(*ev)
                                      ? NULL
                                      : realloc(ev, ncap * sizeof(*ev));
            if (grown == NULL) {
                rc = TSTORE_NOMEM;
                goto done;
            }
            ev = grown;
            cap = ncap;
        }
        tstore_event *e = &ev[cnt];
        *e = (tstore_event){0};
        cnt++;
        e->deleted = sqlite3_column_int(s, 4) != 0;
        if ((rc = col_dup(s, 0, &e->kv.key, &e->kv.key_len)) != TSTORE_OK ||
            (rc = col_u64(s, 3, &e->kv.mod_rev)) != TSTORE_OK)
            goto done;
        if (!e->deleted &&
            ((rc = col_dup(s, 1, &e->kv.value, &e->kv.value_len)) != TSTORE_OK ||
             (rc = col_u64(s, 2, &e->kv.create_rev)) != TSTORE_OK))
            goto done;
    }
    if (src != SQLITE_DONE) {
        rc = sq_map(c->db, src, "changes");
        goto done;
    }
    stmt_done(s);
    s = NULL;
    in_txn = false;
    if ((rc = run_simple(c, ST_COMMIT)) != TSTORE_OK)
        goto done;
    if (cnt == 0) {
        free(ev);
        ev = NULL;
    }
    *out = ev;
    *n = cnt;
    *rev_out = m.rev;
    ev = NULL;
    cnt = 0;
done:
    stmt_done(s);
    if (in_txn)
        (void)run_simple(c, ST_ROLLBACK);
    reader_put(st, c);
    tstore_events_free(ev, cnt);
    free(succ);
    return rc;
}

/* ---- writes ------------------------------------------------------------- */

/* Drop the oldest deletions once the log is 1/8 over its size, whole
 * revisions at a time, and remember the newest dropped revision: changes
 * since an older revision can no longer be listed. */
static tstore_rc prune_deletions(sq_conn *c, uint64_t keep, sq_meta *m)
{
    sqlite3_stmt *s = NULL;
    tstore_rc rc = TSTORE_OK;
    if (m->ndel <= keep + keep / 8)
        return TSTORE_OK;
    if ((rc = conn_stmt(c, ST_PRUNE_CUT, &s)) != TSTORE_OK)
        goto done;
    int src = bind_u64(s, 1, keep);
    if (src != SQLITE_OK) {
        rc = sq_map(c->db, src, "bind");
        goto done;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) { /* ndel overstated the log: count it again */
        stmt_done(s);
        if ((rc = conn_stmt(c, ST_DEL_COUNT, &s)) != TSTORE_OK)
            goto done;
        src = sqlite3_step(s);
        if (src != SQLITE_ROW) {
            rc = sq_map(c->db, src, "count deletions");
            goto done;
        }
        rc = col_u64(s, 0, &m->ndel);
        goto done;
    }
    if (src != SQLITE_ROW) {
        rc = sq_map(c->db, src, "prune");
        goto done;
    }
    uint64_t cut;
    if ((rc = col_u64(s, 0, &cut)) != TSTORE_OK)
        goto done;
    stmt_done(s);
    if ((rc = conn_stmt(c, ST_PRUNE, &s)) != TSTORE_OK)
        goto done;
    src = bind_u64(s, 1, cut);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    if (src != SQLITE_DONE) {
        rc = sq_map(c->db, src, "prune");
        goto done;
    }
    uint64_t removed = (uint64_t)sqlite3_changes64(c->db);
    m->ndel = removed > m->ndel ? 0 : m->ndel - removed;
    if (cut > m->compact_rev)
        m->compact_rev = cut;
done:
    stmt_done(s);
    return rc;
}

static tstore_rc check_cmp(sq_conn *c, const tstore_cmp *cmp, bool *holds)
{
    sqlite3_stmt *s = NULL;
    uint64_t cur = 0;
    tstore_rc rc = conn_stmt(c, ST_MODREV, &s);
    if (rc != TSTORE_OK)
        goto done;
    int src = bind_bytes(s, 1, cmp->key, cmp->key_len);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        if ((rc = col_u64(s, 0, &cur)) != TSTORE_OK)
            goto done;
    } else if (src != SQLITE_DONE) {
        rc = sq_map(c->db, src, "compare");
        goto done;
    }
    *holds = cur == cmp->mod_rev;
done:
    stmt_done(s);
    return rc;
}

static tstore_rc apply_put(sq_conn *c, const tstore_op *op, uint64_t rev)
{
    sqlite3_stmt *s = NULL;
    tstore_rc rc = conn_stmt(c, ST_UPSERT, &s);
    if (rc != TSTORE_OK)
        return rc;
    int src = bind_bytes(s, 1, op->key, op->key_len);
    if (src == SQLITE_OK)
        src = bind_bytes(s, 2, op->value, op->value_len);
    if (src == SQLITE_OK)
        src = bind_u64(s, 3, rev);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    rc = src == SQLITE_DONE ? TSTORE_OK : sq_map(c->db, src, "put");
    stmt_done(s);
    return rc;
}

/* *deleted: whether the key existed (and is now logged as deleted at rev). */
static tstore_rc apply_delete(sq_conn *c, const tstore_op *op, uint64_t rev, bool *deleted,
                              sq_meta *m)
{
    sqlite3_stmt *s = NULL;
    tstore_rc rc = conn_stmt(c, ST_DELETE, &s);
    if (rc != TSTORE_OK)
        goto done;
    int src = bind_bytes(s, 1, op->key, op->key_len);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    if (src != SQLITE_DONE) {
        rc = sq_map(c->db, src, "delete");
        goto done;
    }
    *deleted = sqlite3_changes64(c->db) > 0;
    stmt_done(s);
    s = NULL;
    if (!*deleted)
        goto done;
    if ((rc = conn_stmt(c, ST_LOG_DELETE, &s)) != TSTORE_OK)
        goto done;
    src = bind_u64(s, 1, rev);
    if (src == SQLITE_OK)
        src = bind_bytes(s, 2, op->key, op->key_len);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    if (src != SQLITE_DONE) {
        rc = sq_map(c->db, src, "log delete");
        goto done;
    }
    if (sqlite3_changes64(c->db) > 0)
        m->ndel++;
done:
    stmt_done(s);
    return rc;
}

static tstore_rc write_meta(sq_conn *c, const sq_meta *m)
{
    sqlite3_stmt *s = NULL;
    tstore_rc rc = conn_stmt(c, ST_SET_META, &s);
    if (rc != TSTORE_OK)
        return rc;
    int src = bind_u64(s, 1, m->rev);
    if (src == SQLITE_OK)
        src = bind_u64(s, 2, m->ndel);
    if (src == SQLITE_OK)
        src = bind_u64(s, 3, m->compact_rev);
    if (src == SQLITE_OK)
        src = sqlite3_step(s);
    rc = src == SQLITE_DONE ? TSTORE_OK : sq_map(c->db, src, "write meta");
    stmt_done(s);
    return rc;
}

/* The one place that commits: compare, apply, bump the revision once, commit.
 * must_change: a lone delete reports TSTORE_NOT_FOUND when nothing changed.
 * A transaction that changes nothing leaves the revision as it is. */
static tstore_rc sq_write(sq_store *st, const tstore_cmp *cmps, size_t ncmp,
                          const tstore_op *ops, size_t nops, bool must_change,
                          uint64_t *rev_out)
{
    sq_meta m;
    bool in_txn = false, changed = false;
    tstore_rc rc;

    pthread_mutex_lock(&st->wlock);
    if (st->writer == NULL && (rc = conn_open(st, false, &st->writer)) != TSTORE_OK)
        goto done;
    sq_conn *c = st->writer;
    if ((rc = run_simple(c, ST_BEGIN_WRITE)) != TSTORE_OK)
        goto done;
    in_txn = true;
    if ((rc = meta_read(c, &m)) != TSTORE_OK)
        goto done;
    if (m.rev >= INT64_MAX) {
        rc = TSTORE_CORRUPT;
        goto done;
    }
    for (size_t i = 0; i < ncmp; i++) {
        bool holds = false;
        if ((rc = check_cmp(c, &cmps[i], &holds)) != TSTORE_OK)
            goto done;
        if (!holds) {
            rc = TSTORE_CONFLICT;
            goto done;
        }
    }
    uint64_t next = m.rev + 1;
    for (size_t i = 0; i < nops; i++) {
        if (ops[i].type == TSTORE_OP_PUT) {
            if ((rc = apply_put(c, &ops[i], next)) != TSTORE_OK)
                goto done;
            changed = true;
        } else {
            bool deleted = false;
            if ((rc = apply_delete(c, &ops[i], next, &deleted, &m)) != TSTORE_OK)
                goto done;
            changed = changed || deleted;
        }
    }
    if (!changed) {
        if (must_change) {
            rc = TSTORE_NOT_FOUND;
            goto done;
        }
        rc = run_simple(c, ST_ROLLBACK);
        in_txn = false;
        if (rc == TSTORE_OK && rev_out != NULL)
            *rev_out = m.rev;
        goto done;
    }
    m.rev = next;
    if ((rc = prune_deletions(c, st->deletion_log, &m)) != TSTORE_OK)
        goto done;
    if ((rc = write_meta(c, &m)) != TSTORE_OK)
        goto done;
    rc = run_simple(c, ST_COMMIT);
    if (rc != TSTORE_OK)
        goto done;
    in_txn = false;
    if (rev_out != NULL)
        *rev_out = m.rev;
done:
    if (st->writer != NULL && (in_txn || !sqlite3_get_autocommit(st->writer->db))) {
        if (!sqlite3_get_autocommit(st->writer->db))
            (void)run_simple(st->writer, ST_ROLLBACK);
        /* A connection stuck inside a transaction would hold the write lock
         * for every process: drop it; the next write opens a fresh one. */
        if (!sqlite3_get_autocommit(st->writer->db)) {
            conn_close(st->writer);
            st->writer = NULL;
        }
    }
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

static tstore_rc sq_put(void *impl, const void *key, size_t key_len, const void *value,
                        size_t value_len, uint64_t *rev_out)
{
    tstore_op op = {.type = TSTORE_OP_PUT, .key = key, .key_len = key_len,
                    .value = value, .value_len = value_len};
    return sq_write(impl, NULL, 0, &op, 1, false, rev_out);
}

static tstore_rc sq_del(void *impl, const void *key, size_t key_len, uint64_t *rev_out)
{
    tstore_op op = {.type = TSTORE_OP_DELETE, .key = key, .key_len = key_len};
    return sq_write(impl, NULL, 0, &op, 1, true, rev_out);
}

static tstore_rc sq_txn(void *impl, const tstore_cmp *cmps, size_t ncmp, const tstore_op *ops,
                        size_t nops, uint64_t *rev_out)
{
    return sq_write(impl, cmps, ncmp, ops, nops, false, rev_out);
}

/* ---- the local key -------------------------------------------------------- */

static tstore_rc key_read(const char *path, uint8_t out[TSTORE_LOCAL_KEY_LEN])
{
    struct stat sb;
    uint8_t buf[TSTORE_LOCAL_KEY_LEN + 1];
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TSTORE_NOT_FOUND : TSTORE_IO;
    ssize_t n = -1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n != TSTORE_LOCAL_KEY_LEN) {
        tc_wipe(buf, sizeof(buf));
        TC_ERROR(SQ_COMPONENT, "the store's key file is damaged");
        return TSTORE_CORRUPT;
    }
    memcpy(out, buf, TSTORE_LOCAL_KEY_LEN);
    tc_wipe(buf, sizeof(buf));
    return TSTORE_OK;
}

/* PATH.key: written to a temporary, synced, then linked into place, so two
 * processes creating it at once agree on the first one's key (link never
 * replaces an existing file). */
static tstore_rc sq_local_key(void *impl, bool create, uint8_t out[TSTORE_LOCAL_KEY_LEN])
{
    const sq_store *st = impl;
    size_t plen = strlen(st->path);
    char *path = malloc(plen + 5), *tmp = malloc(plen + 16);
    uint8_t k[TSTORE_LOCAL_KEY_LEN];
    tstore_rc rc = TSTORE_NOMEM;
    int fd = -1;

    if (path == NULL || tmp == NULL)
        goto done;
    memcpy(path, st->path, plen);
    memcpy(path + plen, ".key", 5);
    rc = key_read(path, out);
    if (rc != TSTORE_NOT_FOUND || !create)
        goto done;
    memcpy(tmp, path, plen + 4);
    memcpy(tmp + plen + 4, ".tmpXXXXXX", 11);
    rc = TSTORE_IO;
    if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
        goto done;
    fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0)
        goto done;
    if (fchmod(fd, 0600) != 0 || write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) ||
        fsync(fd) != 0) {
        unlink(tmp);
        goto done;
    }
    if (link(tmp, path) != 0 && errno != EEXIST) {
        unlink(tmp);
        goto done;
    }
    unlink(tmp);
    rc = key_read(path, out); /* ours, or the one another process linked first */
    if (rc == TSTORE_OK) {
        /* the new name made durable: a store whose v2 tokens outlive
         * their key file after a crash is refused as a whole */
        (void)tc_fsync_dir_of(st->path);
    }
done:
    if (fd >= 0)
        close(fd);
    if (rc == TSTORE_IO)
        TC_ERROR(SQ_COMPONENT, "cannot create the store's key file: %s", strerror(errno));
    tc_wipe(k, sizeof(k));
    free(path);
    free(tmp);
    return rc;
}

const tstore_backend tstore_sqlite_backend = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .revision = sq_revision,
    .get = sq_get,
    .put = sq_put,
    .del = sq_del,
    .range = sq_range,
    .count = sq_count,
    .txn = sq_txn,
    .changes = sq_changes,
    .local_key = sq_local_key,
};
