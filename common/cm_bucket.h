/*
 * A token bucket for per-tenant quotas (bytes/s, requests/s): `rate` tokens per second,
 * holding at most `burst`. A request takes what it costs, or learns how long to wait; it
 * is never silently dropped. A request larger than the burst passes when the bucket is
 * full and leaves it in debt, so it is throttled afterwards rather than refused forever.
 * Not thread-safe: one bucket per owner thread.
 */
#ifndef CM_BUCKET_H
#define CM_BUCKET_H

#include <stdint.h>

typedef struct cm_bucket {
    double rate;     /* tokens per second; <= 0: no limit */
    double burst;    /* capacity */
    double tokens;   /* may go below 0 after an oversize take */
    int64_t last_us; /* monotonic time of the last refill */
} cm_bucket_t;

/** A full bucket. rate <= 0 means unlimited. */
void cm_bucket_init(cm_bucket_t *b, double rate, double burst, int64_t now_us);

/** Changes the limits (a quota change) keeping the tokens, capped at the new burst. */
void cm_bucket_set(cm_bucket_t *b, double rate, double burst, int64_t now_us);

/**
 * Takes `cost` tokens at `now_us`. Returns 0 when taken, else the microseconds until the
 * take would succeed (nothing is taken).
 */
int64_t cm_bucket_take(cm_bucket_t *b, double cost, int64_t now_us);

#endif
