/*
 * common/ — the bottom layer: wiping, bounded readers and growable writers for
 * untrusted bytes, logging, configuration. No OpenSSL here (crypto/ owns it).
 */
#ifndef TESSERA_COMMON_H
#define TESSERA_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TC_EXPORT __attribute__((visibility("default")))
#define TC_MUST_CHECK __attribute__((warn_unused_result))
#define TC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- wiping ------------------------------------------------------------ */

/* Overwrite n bytes at p with zeros in a way the compiler cannot elide. */
void tc_wipe(void *p, size_t n);
/* Wipe n bytes at p, then free(p). NULL is allowed. */
void tc_freezero(void *p, size_t n);

/* ---- bounded reader (big-endian, as both wire formats use) ---------------
 * Every read checks `len - off < need`, never `off + need > len`. On failure
 * the reader is left unchanged and the call returns false. */
typedef struct tc_reader {
    const uint8_t *p;
    size_t len;
    size_t off;
} tc_reader;

static inline void tc_reader_init(tc_reader *r, const void *p, size_t len)
{
    r->p = (const uint8_t *)p;
    r->len = len;
    r->off = 0;
}
static inline size_t tc_reader_left(const tc_reader *r) { return r->len - r->off; }
bool tc_read_u8(tc_reader *r, uint8_t *v) TC_MUST_CHECK;
bool tc_read_u16(tc_reader *r, uint16_t *v) TC_MUST_CHECK;
bool tc_read_u32(tc_reader *r, uint32_t *v) TC_MUST_CHECK;
bool tc_read_u64(tc_reader *r, uint64_t *v) TC_MUST_CHECK;
/* Point *out at the next n bytes (no copy) and advance. */
bool tc_read_ref(tc_reader *r, size_t n, const uint8_t **out) TC_MUST_CHECK;
/* Copy the next n bytes into out and advance. */
bool tc_read_copy(tc_reader *r, void *out, size_t n) TC_MUST_CHECK;

/* ---- growable writer ----------------------------------------------------
 * Appends never fail silently: the first allocation failure sets `failed`
 * and later appends are no-ops, so a caller checks once at the end. */
typedef struct tc_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    bool failed;
} tc_buf;

void tc_buf_init(tc_buf *b);
/* Wipes the contents before freeing: buffers often hold secrets. */
void tc_buf_free(tc_buf *b);
bool tc_buf_reserve(tc_buf *b, size_t extra);
void tc_buf_put(tc_buf *b, const void *p, size_t n);
void tc_buf_put_u8(tc_buf *b, uint8_t v);
void tc_buf_put_u16(tc_buf *b, uint16_t v);
void tc_buf_put_u32(tc_buf *b, uint32_t v);
void tc_buf_put_u64(tc_buf *b, uint64_t v);

static inline void tc_store_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void tc_store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void tc_store_u64(uint8_t *p, uint64_t v)
{
    tc_store_u32(p, (uint32_t)(v >> 32));
    tc_store_u32(p + 4, (uint32_t)v);
}
static inline uint16_t tc_load_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t tc_load_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t tc_load_u64(const uint8_t *p)
{
    return ((uint64_t)tc_load_u32(p) << 32) | tc_load_u32(p + 4);
}

/* ---- text fields ----------------------------------------------------------
 * PKCS#11's fixed-width text fields (labels, manufacturer ids) are blank
 * padded, not NUL-terminated: copy src into dst[len] that way (truncating). */
void tc_pad(uint8_t *dst, size_t len, const char *src);

/* ---- logging ------------------------------------------------------------
 * To stderr (or the file set by tc_log_set_file), never stdout: the PKCS#11
 * module lives inside other programs. Never pass key material, PINs or shares. */
typedef enum {
    TC_LOG_ERROR = 0,
    TC_LOG_WARN = 1,
    TC_LOG_INFO = 2,
    TC_LOG_DEBUG = 3,
} tc_log_level;

void tc_log_set_level(tc_log_level level);
tc_log_level tc_log_get_level(void);
/* Returns false if the file could not be opened (logging stays on stderr). */
bool tc_log_set_file(const char *path);
bool tc_log_level_parse(const char *s, tc_log_level *out);
/* log_level and log_file from a configuration (every front end's start-up:
 * the core's, and the remote channel's, which opens no core). */
typedef struct tc_conf tc_conf;
void tc_log_configure(const tc_conf *conf);
void tc_log(tc_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TC_ERROR(comp, ...) tc_log(TC_LOG_ERROR, comp, __VA_ARGS__)
#define TC_WARN(comp, ...) tc_log(TC_LOG_WARN, comp, __VA_ARGS__)
#define TC_INFO(comp, ...) tc_log(TC_LOG_INFO, comp, __VA_ARGS__)
#define TC_DEBUG(comp, ...) tc_log(TC_LOG_DEBUG, comp, __VA_ARGS__)

/* ---- configuration ------------------------------------------------------
 * A file of `key = value` lines; `#` starts a comment. Unknown keys are kept
 * (a later layer may read them) but reported at debug level. */

/* Parse the file at path. NULL path means: the file named by $TESSERA_CONF,
 * else the installed system-wide file (<sysconfdir>/tessera/tessera.conf)
 * when it exists, else an empty configuration. Returns NULL and sets *err
 * (a static message) on a malformed file or allocation failure. */
tc_conf *tc_conf_load(const char *path, const char **err);
void tc_conf_free(tc_conf *c);
/* A deep copy (NULL src: an empty configuration); NULL on allocation failure. */
tc_conf *tc_conf_dup(const tc_conf *src);
/* The value of key, or dflt if absent. The string lives as long as c. */
const char *tc_conf_get(const tc_conf *c, const char *key, const char *dflt);
/* Set or replace a key (used by callers that apply defaults/overrides). */
bool tc_conf_set(tc_conf *c, const char *key, const char *value);

/* The default store location for the embedded token:
 * $TESSERA_HOME, else $XDG_DATA_HOME/tessera, else $HOME/.local/share/tessera,
 * else /var/lib/tessera. Written into out (NUL-terminated); false if too long. */
bool tc_default_data_dir(char *out, size_t outlen);

/* mkdir -p with mode for each created component. */
bool tc_mkdirs(const char *path, unsigned mode);

/* Write data to path atomically: temporary file (O_CREAT|O_EXCL|O_NOFOLLOW,
 * mode), fsync, rename over path, fsync of the directory. */
bool tc_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* fsync the directory that holds path (a rename or a new entry in it is
 * then durable); false if it cannot be opened or synced. */
bool tc_fsync_dir_of(const char *path);
/* Read a whole file (up to max bytes) into a malloc'd buffer. */
bool tc_read_file(const char *path, size_t max, uint8_t **out, size_t *outlen);

#endif
