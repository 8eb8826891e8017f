/*
 * The broker's configuration: one defaults table (bk_config.c) for file, environment
 * (BROKER_*) and flags. Every limit the broker enforces is named here.
 */
#ifndef BK_CONFIG_H
#define BK_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "cm_tconfig.h"

typedef struct bk_config {
    char *listen;            /* Kafka listener, host:port */
    char *advertised_host;   /* host clients are told to connect to ("" = listen host) */
    int64_t advertised_port; /* 0 = the listen port */
    char *admin_listen;      /* /healthz, /readyz, /metrics: host:port ("" = off) */
    int64_t node_id;
    char *data_dir;
    char *log_level;

    /* Control plane (managed mode when database_url is set). */
    char *database_url;               /* the control plane's Postgres ("": unmanaged, standalone) */
    char *pool;                       /* the broker pool this broker serves */
    char *rack;                       /* placement spreads replicas across racks */
    int64_t lease_ms;                 /* registration lease; renewed every lease_ms / 3 */
    int64_t resync_ms;                /* full re-read of the cluster even without notifications */
    int64_t usage_report_ms;          /* replica sizes and errors to the control plane */
    char *internal_auth;              /* auto | none | scram */
    char *credential;                 /* component credential for the control plane */
    char *scram_verifiers_file;       /* internal_auth=scram: name and verifier per line */
    int64_t auth_timeout_ms;          /* to authenticate after connecting */
    char *control_plane_url;          /* operator API, for forwarded Kafka admin requests */
    char *control_plane_token;        /* operator token for it ("": admin requests refused) */
    int64_t control_plane_timeout_ms; /* per forwarded call */

    /* Replication, as a follower (bk_replica.h). */
    int64_t replica_fetch_wait_ms;         /* the long poll at the leader */
    int64_t replica_fetch_bytes;           /* one fetch, all partitions */
    int64_t replica_fetch_partition_bytes; /* one fetch, per partition */
    int64_t replica_fetch_backoff_ms;      /* after a failed fetch */
    int64_t replica_lag_time_max_ms;       /* as a leader: a follower this far behind leaves */

    /* Limits. */
    int64_t request_bytes_max;        /* largest request frame; bigger closes the connection */
    int64_t connections_max;          /* open client connections */
    int64_t conn_inflight_max;        /* pipelined requests per connection before reads pause */
    int64_t conn_output_bytes_max;    /* queued response bytes per connection before reads pause */
    int64_t conn_idle_ms;             /* idle connections are closed after this */
    int64_t topics_max;               /* topics on this broker */
    int64_t partitions_max;           /* partitions per topic */
    int64_t partitions_total_max;     /* partitions on this broker */
    int64_t fetch_wait_max_ms;        /* cap on a Fetch's max_wait_ms */
    int64_t fetch_response_bytes_max; /* cap on a Fetch's max_bytes */

    /* Topics. */
    bool auto_create_topics;
    int64_t default_partitions;
    int64_t index_interval_bytes;
    int64_t open_segments_max;          /* bk_fdcache_t bound */
    int64_t segments_per_partition_max; /* past it, no roll by age */
    int64_t segment_preallocate_bytes;  /* fallocate step ahead of the active segment's end */
    bool sync_in_loop;    /* the loop runs fsync rounds itself when the flusher is idle */
    int64_t sync_threads; /* fdatasyncs of one round run at once */
    int64_t retention_check_ms;
    int64_t disk_free_min_bytes;      /* produce refused below this much free space */
    int64_t queued_request_bytes_max; /* bk_broker_t.rbuf_held bound */
    int64_t request_read_timeout_ms;  /* a partial request held this long without progress */

    /* Consumer groups. */
    int64_t group_min_session_timeout_ms;
    int64_t group_max_session_timeout_ms;
    int64_t group_initial_rebalance_delay_ms;
    int64_t group_max_size;
    int64_t group_offsets_compact_bytes;
    int64_t groups_max;                 /* groups this broker coordinates */
    int64_t groups_per_tenant_max;      /* groups of one tenant (managed) */
    int64_t offsets_retention_ms;       /* an Empty group's offsets expire after this */
    int64_t offsets_retention_check_ms; /* how often the expiry sweep runs */

    /* Topic config defaults (each topic may override them). */
    cm_tconfig_t topic_defaults;
} bk_config_t;

/**
 * Loads the configuration from defaults, file, environment and argv. Returns 0, 1 after
 * --help, -1 on error (already printed).
 */
int bk_config_load(bk_config_t *cfg, int argc, char **argv);

/** Frees strings held by `cfg`. */
void bk_config_free(bk_config_t *cfg);

#endif
