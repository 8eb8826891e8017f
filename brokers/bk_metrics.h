/*
 * The broker's counters, rendered on the admin listener's /metrics in Prometheus text
 * format. Counters are atomics so the flusher thread can add to them.
 */
#ifndef BK_METRICS_H
#define BK_METRICS_H

#include <stdatomic.h>

#include "cm_metrics.h"
#include "cm_sbuf.h"

#define BK_METRICS_API_MAX 64

typedef struct bk_metrics {
    atomic_ullong requests[BK_METRICS_API_MAX]; /* by API key */
    cm_hist_t request_latency[BK_METRICS_API_MAX];
    atomic_ullong requests_rejected; /* malformed, unknown or unsupported: connection closed */
    atomic_ullong requests_unauthenticated; /* before SASL authentication: connection closed */
    atomic_ullong replica_fetches_refused;  /* a replica id from a client not that broker */
    atomic_ullong replica_fetch_errors;     /* this follower's fetches that failed */
    atomic_ullong isr_shrinks;              /* proposals to remove in-sync replicas */
    atomic_ullong isr_expands;              /* proposals to add in-sync replicas */
    atomic_ullong auth_succeeded;           /* SASL exchanges that authenticated a client */
    atomic_ullong auth_failed;              /* ... that failed (the connection closed) */
    atomic_ullong bytes_in;
    atomic_ullong bytes_out;
    atomic_ullong produce_batches;
    atomic_ullong produce_records;
    atomic_ullong produce_bytes;
    atomic_ullong produce_rejected_batches;
    atomic_ullong fetch_bytes;
    atomic_ullong fsyncs;
    cm_hist_t fsync_latency;
    atomic_ullong connections_accepted;
    atomic_ullong cluster_snapshots;    /* managed: control-plane snapshots applied */
    atomic_ullong admin_forwarded;      /* managed: admin calls made to the control plane */
    atomic_ullong admin_forward_errors; /* ... of which got no answer or a 5xx */
    atomic_ullong connections_rejected;
    atomic_llong connections_open;
    atomic_ullong segments_rolled;
    atomic_ullong segments_deleted;
    atomic_ullong recovery_truncated_bytes;
    atomic_ullong requests_starved;   /* a connection waited for queued_request_bytes_max */
    atomic_ullong partitions_offline; /* kept offline by recovery (bk_partition.h) */
    atomic_ullong groups_refused;     /* new consumer groups refused at a limit */
    atomic_ullong offsets_expired;    /* committed offsets expired */
    atomic_ullong groups_expired;     /* empty groups removed once their offsets expired */
    atomic_ullong groups_tenant_gone; /* groups removed with their tenant */
} bk_metrics_t;

struct bk_broker;

/** Appends every broker metric to `out`. Event-loop thread. */
void bk_metrics_render(struct bk_broker *b, cm_sbuf_t *out);

static inline void bk_metrics_add(atomic_ullong *c, unsigned long long n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

#endif
