/*
 * The daemon's event log: one line per event, key=value or JSON, on stderr
 * or syslog. The core's own messages keep going through tc_log (stderr);
 * both obey the one log level tc_log keeps.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"

static _Atomic int g_format = DLOG_KV;
static _Atomic int g_target = DLOG_STDERR;
static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;
static bool g_syslog_open;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void dlog_setup(dlog_format fmt, dlog_target target)
{
    pthread_mutex_lock(&g_out);
    if (target == DLOG_SYSLOG && !g_syslog_open) {
        openlog("tesserad", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        g_syslog_open = true;
    }
    atomic_store(&g_format, (int)fmt);
    atomic_store(&g_target, (int)target);
    pthread_mutex_unlock(&g_out);
}

static void put_raw(dlog_line *l, const char *s, size_t n)
{
    /* keep one byte for the NUL */
    if (sizeof(l->buf) - 1 - l->len < n) {
        n = sizeof(l->buf) - 1 - l->len;
        l->truncated = true;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

static void put_c(dlog_line *l, char ch)
{
    put_raw(l, &ch, 1);
}

/* A value as a JSON string, or as a kv value (quoted when it holds a
 * blank, a quote, '=' or nothing). Control bytes are escaped in both, so a
 * peer's certificate subject cannot forge a log line. */
static void put_value(dlog_line *l, const char *v, bool json)
{
    bool quote = json || v[0] == '\0' || strpbrk(v, " \"=\\\t") != NULL;
    if (quote)
        put_c(l, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            put_c(l, '\\');
            put_c(l, (char)*p);
        } else if (*p < 0x20 || *p == 0x7f) {
            char esc[8];
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            put_raw(l, esc, strlen(esc));
        } else {
            put_c(l, (char)*p);
        }
    }
    if (quote)
        put_c(l, '"');
}

static void put_key(dlog_line *l, const char *key)
{
    bool json = atomic_load(&g_format) == DLOG_JSON;
    if (json) {
        put_raw(l, ",\"", 2);
        put_raw(l, key, strlen(key));
        put_raw(l, "\":", 2);
    } else {
        put_c(l, ' ');
        put_raw(l, key, strlen(key));
        put_c(l, '=');
    }
}

bool dlog_begin(dlog_line *l, tc_log_level level, const char *event)
{
    l->len = 0;
    l->buf[0] = '\0';
    l->level = level;
    l->truncated = false;
    l->on = level <= tc_log_get_level();
    if (!l->on)
        return false;
    bool json = atomic_load(&g_format) == DLOG_JSON;
    bool sys = atomic_load(&g_target) == DLOG_SYSLOG;
    char when[40] = "";
    if (!sys) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (gmtime_r(&ts.tv_sec, &tm) != NULL) {
            char sec[24];
            strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(when, sizeof(when), "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
        }
    }
    if (json) {
        put_c(l, '{');
        if (!sys) {
            put_raw(l, "\"ts\":", 5);
            put_value(l, when, true);
            put_c(l, ',');
        }
        put_raw(l, "\"level\":", 8);
        put_value(l, level_names[level], true);
        put_raw(l, ",\"event\":", 9);
        put_value(l, event, true);
    } else {
        if (!sys) {
            put_raw(l, "ts=", 3);
            put_raw(l, when, strlen(when));
            put_c(l, ' ');
        }
        put_raw(l, "level=", 6);
        put_raw(l, level_names[level], strlen(level_names[level]));
        put_raw(l, " event=", 7);
        put_value(l, event, false);
    }
    return true;
}

void dlog_str(dlog_line *l, const char *key, const char *value)
{
    if (!l->on)
        return;
    put_key(l, key);
    put_value(l, value != NULL ? value : "", atomic_load(&g_format) == DLOG_JSON);
}

void dlog_u64(dlog_line *l, const char *key, uint64_t value)
{
    if (!l->on)
        return;
    char v[24];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)value);
    put_key(l, key);
    put_raw(l, v, strlen(v));
}

void dlog_i64(dlog_line *l, const char *key, int64_t value)
{
    if (!l->on)
        return;
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)value);
    put_key(l, key);
    put_raw(l, v, strlen(v));
}

void dlog_bool(dlog_line *l, const char *key, bool value)
{
    if (!l->on)
        return;
    put_key(l, key);
    put_raw(l, value ? "true" : "false", value ? 4 : 5);
}

void dlog_hex(dlog_line *l, const char *key, unsigned long value)
{
    if (!l->on)
        return;
    char v[24];
    snprintf(v, sizeof(v), "0x%lx", value);
    put_key(l, key);
    put_value(l, v, atomic_load(&g_format) == DLOG_JSON);
}

void dlog_end(dlog_line *l)
{
    if (!l->on)
        return;
    bool json = atomic_load(&g_format) == DLOG_JSON;
    if (json) {
        /* a truncated line still closes its object */
        if (l->truncated && l->len > sizeof(l->buf) - 3)
            l->len = sizeof(l->buf) - 3;
        l->buf[l->len++] = '}';
        l->buf[l->len] = '\0';
    }
    pthread_mutex_lock(&g_out);
    if (atomic_load(&g_target) == DLOG_SYSLOG) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[l->level], "%s", l->buf);
    } else {
        l->buf[l->len] = '\n';
        ssize_t off = 0, n = (ssize_t)l->len + 1;
        while (off < n) {
            ssize_t w = write(STDERR_FILENO, l->buf + off, (size_t)(n - off));
            if (w <= 0)
                break;
            off += w;
        }
        l->buf[l->len] = '\0';
    }
    pthread_mutex_unlock(&g_out);
}

void dlog_msg(tc_log_level level, const char *event, const char *msg)
{
    dlog_line l;
    if (dlog_begin(&l, level, event)) {
        dlog_str(&l, "msg", msg);
        dlog_end(&l);
    }
}

const char *dlog_rv_name(CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
    case CKR_ATTRIBUTE_READ_ONLY: return "CKR_ATTRIBUTE_READ_ONLY";
    case CKR_ATTRIBUTE_SENSITIVE: return "CKR_ATTRIBUTE_SENSITIVE";
    case CKR_ATTRIBUTE_TYPE_INVALID: return "CKR_ATTRIBUTE_TYPE_INVALID";
    case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
    case CKR_DATA_INVALID: return "CKR_DATA_INVALID";
    case CKR_DATA_LEN_RANGE: return "CKR_DATA_LEN_RANGE";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_FUNCTION_NOT_SUPPORTED: return "CKR_FUNCTION_NOT_SUPPORTED";
    case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_OPERATION_ACTIVE: return "CKR_OPERATION_ACTIVE";
    case CKR_OPERATION_NOT_INITIALIZED: return "CKR_OPERATION_NOT_INITIALIZED";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_SESSION_COUNT: return "CKR_SESSION_COUNT";
    case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SESSION_READ_ONLY: return "CKR_SESSION_READ_ONLY";
    case CKR_SIGNATURE_INVALID: return "CKR_SIGNATURE_INVALID";
    case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
    case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
    case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
    case CKR_USER_ALREADY_LOGGED_IN: return "CKR_USER_ALREADY_LOGGED_IN";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
    default: return NULL;
    }
}
