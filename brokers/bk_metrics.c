#include "bk_metrics.h"

#include "bk_broker.h"
#include "bk_dispatch.h"
#include "bk_group.h"
#include "bk_partition.h"
#include "bk_topic.h"
#include "cm_kproto.h"

#include <stdio.h>

static double bk_metrics__load(atomic_ullong *c)
{
    return (double)atomic_load_explicit(c, memory_order_relaxed);
}

void bk_metrics_render(bk_broker_t *b, cm_sbuf_t *out)
{
    bk_metrics_t *m = &b->metrics;
    cm_sbuf_printf(out, "# HELP streamd_broker_requests_total Kafka requests received, by API.\n"
                        "# TYPE streamd_broker_requests_total counter\n");
    for (size_t i = 0; i < bk_apis_n; i++) {
        const cm_kapi_info_t *api = cm_kapi_info(bk_apis[i].key);
        cm_sbuf_printf(out, "streamd_broker_requests_total{api=\"%s\"} %llu\n",
                       api ? api->name : "?", (unsigned long long)m->requests[bk_apis[i].key]);
    }
    for (size_t i = 0; i < bk_apis_n; i++) {
        const cm_kapi_info_t *api = cm_kapi_info(bk_apis[i].key);
        char name[128];
        snprintf(name, sizeof(name), "streamd_broker_request_seconds_%s", api ? api->name : "x");
        cm_metrics_hist(out, name, "Time from request arrival to its answer being sent.",
                        &m->request_latency[bk_apis[i].key]);
    }
#define COUNTER(field, name, help)                                                                 \
    cm_metrics_value(out, "streamd_broker_" name, "counter", help, bk_metrics__load(&m->field))
    COUNTER(requests_rejected, "requests_rejected_total",
            "Malformed, unknown or unsupported requests; each closed its connection.");
    COUNTER(requests_unauthenticated, "requests_unauthenticated_total",
            "Requests other than ApiVersions and SASL before authentication (internal_auth=scram); "
            "each closed its connection.");
    COUNTER(replica_fetches_refused, "replica_fetches_refused_total",
            "Fetches with a replica id from a connection not authenticated as that broker of the "
            "pool (nothing was read).");
    COUNTER(replica_fetch_errors, "replica_fetch_errors_total",
            "This broker's fetches as a follower that failed (connection, refusal, bad answer).");
    COUNTER(isr_shrinks, "isr_shrinks_total",
            "Changes this broker proposed to remove replicas from a partition's in-sync replicas.");
    COUNTER(isr_expands, "isr_expands_total",
            "Changes this broker proposed to add a caught-up replica to the in-sync replicas.");
    COUNTER(auth_succeeded, "auth_succeeded_total", "SASL exchanges that authenticated a client.");
    COUNTER(auth_failed, "auth_failed_total",
            "SASL exchanges that failed; each closed its connection.");
    COUNTER(bytes_in, "bytes_in_total", "Request bytes received.");
    COUNTER(bytes_out, "bytes_out_total", "Response bytes sent.");
    COUNTER(produce_batches, "produce_batches_total", "Record batches appended.");
    COUNTER(produce_records, "produce_records_total", "Records appended.");
    COUNTER(produce_bytes, "produce_bytes_total", "Record batch bytes appended.");
    COUNTER(produce_rejected_batches, "produce_rejected_batches_total",
            "Partition writes refused (invalid batch, unknown partition, too large).");
    COUNTER(fetch_bytes, "fetch_bytes_total", "Record bytes sent to consumers.");
    COUNTER(fsyncs, "fsyncs_total", "fdatasync calls by the flusher (group commits).");
    COUNTER(connections_accepted, "connections_accepted_total", "Connections accepted.");
    COUNTER(connections_rejected, "connections_rejected_total",
            "Connections refused at connections_max.");
    COUNTER(segments_rolled, "segments_rolled_total", "Segments sealed and rolled.");
    COUNTER(cluster_snapshots, "cluster_snapshots_total",
            "Managed: snapshots of the pool read from the control plane and applied.");
    COUNTER(admin_forwarded, "admin_forwarded_total",
            "Managed: calls to the control plane carrying Kafka admin requests.");
    COUNTER(admin_forward_errors, "admin_forward_errors_total",
            "Managed: forwarded calls that got no answer or a 5xx.");
    COUNTER(segments_deleted, "segments_deleted_total", "Segments deleted by retention.");
    COUNTER(recovery_truncated_bytes, "recovery_truncated_bytes_total",
            "Bytes cut off torn or corrupt segment tails at start.");
    COUNTER(groups_refused, "groups_refused_total",
            "New consumer groups refused at groups_per_tenant_max or groups_max.");
    COUNTER(offsets_expired, "offsets_expired_total",
            "Committed offsets of empty groups expired (offsets_retention_ms).");
    COUNTER(groups_expired, "groups_expired_total",
            "Empty consumer groups removed once their last offset expired.");
    COUNTER(groups_tenant_gone, "groups_tenant_gone_total",
            "Managed: consumer groups removed because their tenant was deleted, made again "
            "under the same name, or moved to another pool.");
#undef COUNTER
    cm_metrics_hist(out, "streamd_broker_fsync_seconds", "Duration of each group-commit fsync.",
                    &m->fsync_latency);
    cm_metrics_value(out, "streamd_broker_connections", "gauge", "Open client connections.",
                     (double)atomic_load(&m->connections_open));
    int64_t bytes = 0, led = 0, under = 0, at_min = 0, below_min = 0, lag = 0;
    size_t it = 0;
    bk_topic_t *t;
    while ((t = cm_strmap_next(&b->topics, &it, NULL, NULL)) != NULL)
        for (int32_t i = 0; i < t->n_parts; i++) {
            const bk_partition_t *p = t->parts[i];
            if (p == NULL)
                continue;
            bytes += p->log_bytes;
            if (p->led_epoch < 0 || p->cfg == NULL)
                continue;
            led++;
            under += p->n_isr < p->n_followers + 1;
            at_min += p->n_isr == p->cfg->min_insync_replicas;
            below_min += p->n_isr < p->cfg->min_insync_replicas;
            for (int32_t k = 0; k < p->n_followers; k++)
                if (p->followers[k].leo >= 0 && p->leo - p->followers[k].leo > lag)
                    lag = p->leo - p->followers[k].leo;
        }
    cm_metrics_value(out, "streamd_broker_partitions_led", "gauge",
                     "Partitions this broker leads (managed).", (double)led);
    cm_metrics_value(out, "streamd_broker_partitions_under_replicated", "gauge",
                     "Partitions led here whose in-sync replicas are fewer than their replicas.",
                     (double)under);
    cm_metrics_value(out, "streamd_broker_partitions_at_min_isr", "gauge",
                     "Partitions led here with exactly min.insync.replicas in sync: one more "
                     "loss stops acks=all.",
                     (double)at_min);
    cm_metrics_value(out, "streamd_broker_partitions_under_min_isr", "gauge",
                     "Partitions led here with fewer in-sync replicas than min.insync.replicas: "
                     "acks=all refused, the high watermark held.",
                     (double)below_min);
    cm_metrics_value(out, "streamd_broker_replica_max_lag_records", "gauge",
                     "The largest gap, in offsets, between a partition led here and a follower's "
                     "durable log end as of its last fetch.",
                     (double)lag);
    cm_metrics_value(out, "streamd_broker_topics", "gauge", "Topics.", (double)b->topics.size);
    cm_metrics_value(out, "streamd_broker_partitions", "gauge", "Partitions.",
                     (double)b->n_partitions);
    cm_metrics_value(out, "streamd_broker_log_bytes", "gauge", "Bytes stored in segments.",
                     (double)bytes);
    cm_metrics_value(out, "streamd_broker_request_buffer_bytes", "gauge",
                     "request bytes buffered beyond each connection's first 16 KiB "
                     "(bounded by queued_request_bytes_max)",
                     (double)b->rbuf_held);
    cm_metrics_value(out, "streamd_broker_requests_starved_total", "counter",
                     "times a connection stopped being read: its request did not fit "
                     "queued_request_bytes_max",
                     bk_metrics__load(&m->requests_starved));
    cm_metrics_value(out, "streamd_broker_disk_free_bytes", "gauge",
                     "free space in data_dir for the broker, as last measured",
                     (double)b->disk_free);
    cm_metrics_value(out, "streamd_broker_disk_full", "gauge",
                     "1 while free space is under disk_free_min_bytes and produce is refused",
                     b->disk_full ? 1 : 0);
    cm_metrics_value(out, "streamd_broker_segment_files_open", "gauge",
                     "segment log files open (bounded by open_segments_max when idle)",
                     (double)b->fdcache.n);
    cm_metrics_value(out, "streamd_broker_segment_files_reopened_total", "counter",
                     "segment log files opened again after their cache closed them",
                     (double)b->fdcache.opens);
    cm_metrics_value(out, "streamd_broker_segment_files_closed_total", "counter",
                     "idle segment log files closed to stay within open_segments_max",
                     (double)b->fdcache.closes);
    cm_metrics_value(out, "streamd_broker_partitions_offline", "gauge",
                     "Partitions recovery kept offline: a damaged segment with acknowledged data "
                     "after it (the log says which).",
                     (double)bk_metrics__load(&m->partitions_offline));
    cm_metrics_value(out, "streamd_broker_groups", "gauge", "Consumer groups this broker holds.",
                     b->groups != NULL ? (double)bk_gcoord_size(b->groups) : 0);
    cm_metrics_value(out, "streamd_broker_ready", "gauge", "1 once recovery is done.",
                     b->ready ? 1 : 0);
}
