#include "cm_metrics.h"

const int64_t cm_hist_bounds_us[CM_HIST_BUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, INT64_MAX,
};

void cm_hist_observe(cm_hist_t *h, int64_t us)
{
    int i = 0;
    while (i < CM_HIST_BUCKETS - 1 && us > cm_hist_bounds_us[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)(us < 0 ? 0 : us),
                              memory_order_relaxed);
}

void cm_metrics_hist(cm_sbuf_t *out, const char *name, const char *help, cm_hist_t *h)
{
    cm_sbuf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cum = 0;
    for (int i = 0; i < CM_HIST_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i == CM_HIST_BUCKETS - 1)
            cm_sbuf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
        else
            cm_sbuf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
                           (double)cm_hist_bounds_us[i] / 1e6, cum);
    }
    cm_sbuf_printf(out, "%s_sum %g\n%s_count %llu\n", name,
                   (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6, name,
                   (unsigned long long)atomic_load_explicit(&h->count, memory_order_relaxed));
}

void cm_metrics_value(cm_sbuf_t *out, const char *name, const char *type, const char *help,
                      double value)
{
    cm_sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name,
                   value);
}
