#include "bk_config.h"

#include <stddef.h>

#include "cm_config.h"

/* clang-format off */
#define STR(f, def, help) { #f, CM_OPT_STR, def, 0, 0, offsetof(bk_config_t, f), help }
#define INT(f, def, lo, hi, help) { #f, CM_OPT_INT, def, lo, hi, offsetof(bk_config_t, f), help }
#define BOOL(f, def, help) { #f, CM_OPT_BOOL, def, 0, 0, offsetof(bk_config_t, f), help }
#define TOPIC(f, def, lo, hi, help)                                                                \
    { #f, CM_OPT_INT, def, lo, hi, offsetof(bk_config_t, topic_defaults.f), help }
/* clang-format on */

static const cm_opt_t bk_config__opts[] = {
    STR(listen, "127.0.0.1:19092", "Kafka protocol listener (host:port)"),
    STR(advertised_host, "", "host advertised in Metadata (empty: the listen host)"),
    INT(advertised_port, "0", 0, 65535, "port advertised in Metadata (0: the listen port)"),
    STR(admin_listen, "127.0.0.1:19192", "HTTP /healthz, /readyz, /metrics (empty: off)"),
    INT(node_id, "1", 0, 1000000, "this broker's node id"),
    STR(data_dir, "var/broker-1", "directory holding topics, segments and indexes"),
    STR(log_level, "info", "debug, info, warn or error"),
    STR(database_url, "",
        "control-plane Postgres URL; set, the broker is managed by the control plane"),
    STR(pool, "default", "broker pool this broker serves (managed mode)"),
    STR(rack, "", "rack or zone, for replica placement (managed mode)"),
    INT(lease_ms, "10000", 1000, 600000,
        "registration lease; the broker is marked down this long after its last renewal"),
    INT(resync_ms, "30000", 1000, 3600000,
        "full re-read of the cluster from the control plane, besides notifications"),
    INT(usage_report_ms, "10000", 100, 3600000,
        "how often the bytes held per partition (and partitions that cannot be served) are "
        "reported to the control plane; storage quotas are enforced on them (managed mode)"),
    STR(control_plane_url, "http://127.0.0.1:8090",
        "the control plane's operator API; Kafka admin requests (CreateTopics, DeleteTopics, "
        "CreatePartitions, AlterConfigs) are carried out there (managed mode)"),
    STR(control_plane_token, "",
        "operator token for control_plane_url (managed mode; empty: admin requests are "
        "refused); prefer the environment (BROKER_CONTROL_PLANE_TOKEN) or the config file"),
    STR(credential, "",
        "this broker's component credential (POST /v1/components, kind broker): shown to the "
        "control plane for admin requests instead of control_plane_token, and scoped to the "
        "broker's pool; prefer the environment (BROKER_CREDENTIAL) or the config file"),
    INT(control_plane_timeout_ms, "15000", 100, 600000, "time limit of one forwarded admin call"),
    INT(replica_fetch_wait_ms, "500", 10, 30000,
        "a follower's fetch waits this long at its leader for new records (managed mode)"),
    INT(replica_fetch_bytes, "8388608", 65536, 104857600,
        "the most a follower's fetch asks its leader for, all partitions together"),
    INT(replica_fetch_partition_bytes, "1048576", 16384, 104857600,
        "the most a follower's fetch asks for per partition"),
    INT(replica_lag_time_max_ms, "10000", 100, 600000,
        "a leader drops a follower from the in-sync replicas when it has not been caught up "
        "for this long (Kafka's replica.lag.time.max.ms)"),
    INT(replica_fetch_backoff_ms, "200", 10, 60000,
        "a follower waits this long after a failed fetch (connection, refusal) before the next"),

    INT(request_bytes_max, "104857600", 1024, 1073741824,
        "largest request frame in bytes; a bigger one closes the connection"),
    INT(connections_max, "10000", 1, 1000000, "open client connections"),
    INT(conn_inflight_max, "256", 1, 100000,
        "pipelined requests per connection before reading pauses"),
    INT(conn_output_bytes_max, "67108864", 65536, 1073741824,
        "queued response bytes per connection before reading pauses"),
    INT(conn_idle_ms, "600000", 1000, 86400000, "idle connections are closed after this"),
    STR(internal_auth, "auto",
        "none: the Kafka listener is open; scram: clients authenticate with SASL/SCRAM-SHA-256 "
        "before any request but ApiVersions, against scram_verifiers_file or, managed, the "
        "control plane's components; auto: scram when database_url is set, else none"),
    STR(scram_verifiers_file, "",
        "internal_auth=scram: lines \"<name> SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:"
        "<ServerKey>\" (base64), one per client allowed in; no passwords"),
    INT(auth_timeout_ms, "10000", 100, 600000,
        "internal_auth=scram: a connection not authenticated this long after it came is closed"),
    INT(topics_max, "10000", 1, 1000000, "topics on this broker"),
    INT(partitions_max, "1000", 1, 100000, "partitions per topic"),
    INT(partitions_total_max, "20000", 1, 1000000, "partitions on this broker"),
    INT(fetch_wait_max_ms, "30000", 0, 3600000, "cap on a Fetch request's max_wait_ms"),
    INT(fetch_response_bytes_max, "67108864", 1024, 1073741824,
        "cap on a Fetch request's max_bytes"),

    BOOL(auto_create_topics, "false", "create unknown topics on Metadata requests"),
    INT(default_partitions, "1", 1, 100000, "partitions of a topic created without a count"),
    INT(index_interval_bytes, "4096", 64, 1048576, "log bytes between offset-index entries"),
    INT(open_segments_max, "4096", 16, 1000000,
        "segment log files kept open; past it the least recently used idle ones close and "
        "reopen on their next use, so descriptors do not grow with partitions"),
    INT(segments_per_partition_max, "10000", 2, 1000000,
        "segments one partition may have: past it segment.ms no longer rolls (segment.bytes "
        "still does, so what it holds stays bounded by storage)"),
    INT(segment_preallocate_bytes, "1048576", 0, 1073741824,
        "extend the active segment this far ahead with fallocate (0: off); appends into "
        "allocated space make each fsync cheaper"),
    BOOL(sync_in_loop, "true",
         "the event loop runs the group-commit fsync itself when the flusher thread is idle "
         "(lowest ack latency); false: the flusher thread always does"),
    INT(sync_threads, "8", 1, 64,
        "fdatasyncs of one round that run at once (the partitions of a round sync in "
        "parallel; the device commits concurrent syncs together)"),
    INT(retention_check_ms, "300000", 100, 86400000, "how often retention runs"),
    INT(request_read_timeout_ms, "30000", 100, 86400000,
        "a connection that began a request larger than 16 KiB and sent nothing more for this "
        "long is closed, giving back the request-buffer room it holds"),
    INT(queued_request_bytes_max, "268435456", 1048576, INT64_MAX,
        "request bytes all connections together may have the broker buffer (Kafka's "
        "queued.max.request.bytes); past it, connections whose next request does not fit "
        "are not read until others' are processed"),
    INT(disk_free_min_bytes, "268435456", 0, INT64_MAX,
        "below this much free space in data_dir, produce is refused (KAFKA_STORAGE_ERROR, "
        "retriable) before any write can fail; reads go on, and produce resumes once "
        "retention or deletions free space"),
    INT(group_min_session_timeout_ms, "6000", 1, 86400000,
        "shortest session timeout a group member may ask for"),
    INT(group_max_session_timeout_ms, "1800000", 1, 86400000,
        "longest session timeout a group member may ask for"),
    INT(group_initial_rebalance_delay_ms, "3000", 0, 600000,
        "how long a group that was empty waits for more members before its first assignment"),
    INT(group_max_size, "1000", 1, 1000000, "members per consumer group"),
    INT(group_offsets_compact_bytes, "16777216", 4096, INT64_MAX,
        "compact the consumer offsets log once this much (and at least its last snapshot's "
        "size) was written since that snapshot"),
    INT(groups_max, "100000", 1, 10000000,
        "consumer groups this broker coordinates; a new one beyond is refused "
        "(GROUP_AUTHORIZATION_FAILED)"),
    INT(groups_per_tenant_max, "1000", 1, 10000000,
        "consumer groups of one tenant on this broker (managed mode); a new one beyond is "
        "refused (GROUP_AUTHORIZATION_FAILED)"),
    INT(offsets_retention_ms, "604800000", 1000, INT64_MAX,
        "committed offsets of an empty group expire this long after they were committed or "
        "the group became empty, whichever is later (Kafka's offsets.retention.minutes)"),
    INT(offsets_retention_check_ms, "600000", 100, 86400000,
        "how often the offsets expiry sweep starts"),

    TOPIC(retention_ms, "604800000", -1, INT64_MAX,
          "topic default: delete segments older than this (-1: never)"),
    TOPIC(retention_bytes, "-1", -1, INT64_MAX,
          "topic default: delete old segments beyond this size per partition (-1: never)"),
    TOPIC(segment_bytes, "1073741824", 14, 2147483647, "topic default: roll segments at this size"),
    TOPIC(segment_ms, "604800000", 1, INT64_MAX, "topic default: roll segments at this age"),
    TOPIC(flush_ms, "0", 0, INT64_MAX,
          "topic default: 0 = fsync before every ack; N = fsync every N ms (a loss window)"),
    TOPIC(max_message_bytes, "1048588", 0, 1073741824, "topic default: largest record batch"),
    TOPIC(min_insync_replicas, "1", 1, 16,
          "topic default: in-sync replicas an acks=all produce needs (the control plane sets 2 "
          "on topics of 3 or more replicas)"),
};

static const cm_config_spec_t bk_config__spec = {
    .program = "streamd-broker",
    .summary = "the streamd storage broker: a Kafka-protocol broker on a durable segmented log",
    .env_prefix = "BROKER_",
    .opts = bk_config__opts,
    .n_opts = sizeof(bk_config__opts) / sizeof(bk_config__opts[0]),
};

int bk_config_load(bk_config_t *cfg, int argc, char **argv)
{
    return cm_config_load(&bk_config__spec, cfg, argc, argv);
}

void bk_config_free(bk_config_t *cfg)
{
    cm_config_free(&bk_config__spec, cfg);
}
