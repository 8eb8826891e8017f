/*
 * Structured logging shared by every daemon.
 *
 * One line per event in logfmt: `ts=... level=info comp=broker msg="..." key=value ...`.
 * The message is printf-formatted and checked by the compiler. Context (tenant, topic,
 * partition, connection) goes in as `key=value` pairs inside the format, e.g.
 *
 *     cm_log_warn("recovery truncated tail", "topic=%s partition=%d at=%lld", ...);
 *
 * Identical consecutive errors within one second are collapsed into a count, so a
 * misbehaving client cannot flood the log.
 *
 * Thread-safe: lines are written with a single write(2) each.
 */
#ifndef CM_LOG_H
#define CM_LOG_H

#include <stdarg.h>

typedef enum cm_log_level {
    CM_LOG_DEBUG = 0,
    CM_LOG_INFO = 1,
    CM_LOG_WARN = 2,
    CM_LOG_ERROR = 3,
} cm_log_level_t;

/** Sets the component name printed as `comp=` and the lowest level printed. */
void cm_log_init(const char *component, cm_log_level_t level);

/** Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int cm_log_level_parse(const char *s);

/** True when lines at `level` would be printed; for skipping costly formatting. */
int cm_log_enabled(cm_log_level_t level);

/**
 * Writes one line. `msg` is a fixed human sentence (quoted in the output); `fmt` formats
 * the `key=value` context that follows it and may be "".
 */
void cm_log_write(cm_log_level_t level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cm_log_debug(msg, ...)                                                                     \
    do {                                                                                           \
        if (cm_log_enabled(CM_LOG_DEBUG))                                                          \
            cm_log_write(CM_LOG_DEBUG, msg, __VA_ARGS__);                                          \
    } while (0)
#define cm_log_info(msg, ...)  cm_log_write(CM_LOG_INFO, msg, __VA_ARGS__)
#define cm_log_warn(msg, ...)  cm_log_write(CM_LOG_WARN, msg, __VA_ARGS__)
#define cm_log_error(msg, ...) cm_log_write(CM_LOG_ERROR, msg, __VA_ARGS__)

#endif
