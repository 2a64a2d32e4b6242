#include "common/tcommon.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static tc_log_level log_level = TC_LOG_WARN;
static FILE *log_file; /* NULL: stderr */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tc_log_set_level(tc_log_level level)
{
    log_level = level;
}

tc_log_level tc_log_get_level(void)
{
    return log_level;
}

bool tc_log_level_parse(const char *s, tc_log_level *out)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (tc_log_level)i;
            return true;
        }
    }
    return false;
}

bool tc_log_set_file(const char *path)
{
    FILE *f = fopen(path, "ae");
    if (f == NULL)
        return false;
    pthread_mutex_lock(&log_lock);
    if (log_file != NULL)
        fclose(log_file);
    log_file = f;
    pthread_mutex_unlock(&log_lock);
    return true;
}

void tc_log(tc_log_level level, const char *component, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    struct tm tm;
    char when[32] = "";
    clock_gettime(CLOCK_REALTIME, &ts);
    if (gmtime_r(&ts.tv_sec, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

    pthread_mutex_lock(&log_lock);
    FILE *f = log_file != NULL ? log_file : stderr;
    fprintf(f, "%s tessera[%ld] %s %s: %s\n", when, (long)getpid(), level_names[level],
            component, msg);
    fflush(f);
    pthread_mutex_unlock(&log_lock);
}

void tc_log_configure(const tc_conf *conf)
{
    const char *lvl = tc_conf_get(conf, "log_level", NULL);
    tc_log_level level;
    if (lvl != NULL) {
        if (tc_log_level_parse(lvl, &level))
            tc_log_set_level(level);
        else
            TC_WARN("log", "unknown log_level in configuration; keeping the default");
    }
    const char *file = tc_conf_get(conf, "log_file", NULL);
    if (file != NULL && !tc_log_set_file(file))
        TC_WARN("log", "cannot open log_file; logging to stderr");
}
