#include "cm_bucket.h"

static void cm_bucket__refill(cm_bucket_t *b, int64_t now_us)
{
    if (now_us > b->last_us) {
        b->tokens += b->rate * (double)(now_us - b->last_us) / 1e6;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
    }
    b->last_us = now_us;
}

void cm_bucket_init(cm_bucket_t *b, double rate, double burst, int64_t now_us)
{
    b->rate = rate;
    b->burst = burst > 0 ? burst : rate;
    b->tokens = b->burst;
    b->last_us = now_us;
}

void cm_bucket_set(cm_bucket_t *b, double rate, double burst, int64_t now_us)
{
    cm_bucket__refill(b, now_us);
    b->rate = rate;
    b->burst = burst > 0 ? burst : rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

int64_t cm_bucket_take(cm_bucket_t *b, double cost, int64_t now_us)
{
    if (b->rate <= 0)
        return 0;
    cm_bucket__refill(b, now_us);
    /* An oversize cost needs a full bucket, then leaves it in debt. */
    double need = cost <= b->burst ? cost : b->burst;
    if (b->tokens >= need) {
        b->tokens -= cost;
        return 0;
    }
    double w = (need - b->tokens) / b->rate * 1e6;
    int64_t wait = (int64_t)w;
    if ((double)wait < w)
        wait++; /* round up: waking early would be refused again */
    return wait > 0 ? wait : 1;
}
