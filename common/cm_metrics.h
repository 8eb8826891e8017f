/*
 * Prometheus metric helpers: a latency histogram with fixed buckets that any thread may
 * observe into (atomics, no locks), and writers of the text exposition format.
 */
#ifndef CM_METRICS_H
#define CM_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "cm_sbuf.h"

#define CM_HIST_BUCKETS 14

/** Bucket upper bounds in microseconds (the last is +Inf). */
extern const int64_t cm_hist_bounds_us[CM_HIST_BUCKETS];

typedef struct cm_hist {
    atomic_ullong buckets[CM_HIST_BUCKETS]; /* not cumulative; rendered cumulatively */
    atomic_ullong count;
    atomic_ullong sum_us;
} cm_hist_t;

/** Records one duration. Thread-safe. */
void cm_hist_observe(cm_hist_t *h, int64_t us);

/** Appends `# HELP`, `# TYPE` and the series of a histogram in seconds. */
void cm_metrics_hist(cm_sbuf_t *out, const char *name, const char *help, cm_hist_t *h);

/** Appends a counter or gauge with its HELP and TYPE lines. */
void cm_metrics_value(cm_sbuf_t *out, const char *name, const char *type, const char *help,
                      double value);

#endif
