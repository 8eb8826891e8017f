#include "cm_log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CM_LOG__LINE_MAX 2048

static const char *cm_log__names[] = { "debug", "info", "warn", "error" };

static struct {
    const char *component;
    cm_log_level_t level;
    pthread_mutex_t lock;
    /* The last error or warning line, to collapse identical repeats. */
    char last[CM_LOG__LINE_MAX];
    size_t last_len;
    cm_log_level_t last_level;
    struct timespec last_ts;
    unsigned long suppressed;
} cm_log__state = {
    .component = "-",
    .level = CM_LOG_INFO,
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

void cm_log_init(const char *component, cm_log_level_t level)
{
    cm_log__state.component = component;
    cm_log__state.level = level;
}

int cm_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, cm_log__names[i]) == 0)
            return i;
    return -1;
}

int cm_log_enabled(cm_log_level_t level)
{
    return level >= cm_log__state.level;
}

static size_t cm_log__prefix(char *buf, size_t cap, cm_log_level_t level)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(buf, cap, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, cm_log__names[level], cm_log__state.component);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void cm_log__emit(const char *line, size_t len)
{
    /* One write per line keeps lines whole across threads; a short write is not retried
     * because logging must never block the event loop for long. */
    ssize_t r = write(STDERR_FILENO, line, len);
    (void)r;
}

/* Emits the "repeated" summary for the collapsed line. Caller holds the lock. */
static void cm_log__flush_suppressed(void)
{
    if (cm_log__state.suppressed == 0)
        return;
    char buf[CM_LOG__LINE_MAX];
    size_t n = cm_log__prefix(buf, sizeof(buf), cm_log__state.last_level);
    int k = snprintf(buf + n, sizeof(buf) - n, "msg=\"previous message repeated\" count=%lu\n",
                     cm_log__state.suppressed);
    if (k > 0)
        cm_log__emit(buf, n + ((size_t)k < sizeof(buf) - n ? (size_t)k : sizeof(buf) - n - 1));
    cm_log__state.suppressed = 0;
}

void cm_log_write(cm_log_level_t level, const char *msg, const char *fmt, ...)
{
    if (level < cm_log__state.level)
        return;

    /* The body (message and context) decides whether a line repeats the previous one. */
    char body[CM_LOG__LINE_MAX];
    int n = snprintf(body, sizeof(body), "msg=\"%s\"", msg);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (fmt[0] != '\0' && len < sizeof(body) - 2) {
        body[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(body + len, sizeof(body) - len, fmt, ap);
        va_end(ap);
        if (k > 0)
            len += (size_t)k;
    }
    if (len > sizeof(body) - 2)
        len = sizeof(body) - 2;
    body[len++] = '\n';

    pthread_mutex_lock(&cm_log__state.lock);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (level >= CM_LOG_WARN && len == cm_log__state.last_len &&
        level == cm_log__state.last_level && memcmp(body, cm_log__state.last, len) == 0 &&
        now.tv_sec - cm_log__state.last_ts.tv_sec < 1) {
        cm_log__state.suppressed++;
        pthread_mutex_unlock(&cm_log__state.lock);
        return;
    }
    cm_log__flush_suppressed();
    if (level >= CM_LOG_WARN) {
        memcpy(cm_log__state.last, body, len);
        cm_log__state.last_len = len;
        cm_log__state.last_level = level;
        cm_log__state.last_ts = now;
    } else {
        cm_log__state.last_len = 0;
    }

    char line[CM_LOG__LINE_MAX + 128];
    size_t p = cm_log__prefix(line, sizeof(line), level);
    memcpy(line + p, body, len);
    cm_log__emit(line, p + len);
    pthread_mutex_unlock(&cm_log__state.lock);
}
