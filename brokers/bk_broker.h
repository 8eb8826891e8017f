/*
 * The broker instance: configuration, the topic registry, the event loop, the flusher and
 * the metrics. One per process; every field is owned by the event-loop thread unless
 * marked otherwise.
 */
#ifndef BK_BROKER_H
#define BK_BROKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bk_config.h"
#include "bk_metrics.h"
#include "bk_segment.h"
#include "cm_strmap.h"

typedef struct bk_loop bk_loop_t;
typedef struct bk_flusher bk_flusher_t;
typedef struct bk_topic bk_topic_t;
typedef struct bk_server bk_server_t;

typedef struct bk_broker {
    bk_config_t cfg;
    char cluster_id[64];
    char *topics_dir;  /* <data_dir>/topics */
    char *deleted_dir; /* <data_dir>/deleted: topics on their way out */
    char adv_host[256];
    int adv_port;

    bk_loop_t *loop;
    bk_flusher_t *flusher;
    bk_server_t *server;

    cm_strmap_t topics;       /* name -> bk_topic_t* */
    cm_strmap_t topics_by_id; /* 16-byte topic id -> bk_topic_t* */
    int64_t n_partitions;

    bk_metrics_t metrics; /* counters are atomics: the flusher adds to some */
    bk_fdcache_t fdcache; /* open segment log files (bk_segment.h), open_segments_max */
    bool disk_full;       /* free space under disk_free_min_bytes: appends refused */
    bool loading;         /* bk_topics_load is opening the topics found on disk */
    bool load_unsynced;   /* ... and left their durability to one syncfs at its end */
    int64_t rbuf_held;    /* request buffer bytes beyond each connection's first (bk_conn.c) */
    struct bk_conn *starved, *starved_tail; /* waiting for rbuf_held to fall, oldest first */
    struct bk_conn *holders, *holders_tail; /* holding request bytes, oldest first */
    int64_t disk_free; /* bytes free for the broker in data_dir, last measured */
    bool ready;    /* recovery finished, listening and, when managed, the first snapshot applied */
    bool stopping; /* SIGTERM: long polls answer now */
    struct bk_fetch_op *fetches;  /* long-poll fetches waiting (bk_fetch.c) */
    struct bk_cluster *cluster;   /* managed: the control plane's view (NULL: none yet) */
    struct bk_cplane *cplane;     /* managed: the control-plane thread (NULL: unmanaged) */
    struct bk_fwd *fwd;           /* managed: admin requests to the control plane (bk_forward.h) */
    struct bk_gcoord *groups;     /* the consumer groups this broker coordinates (bk_group.h) */
    struct bk_offsets *offsets;   /* their offsets and memberships, durable (bk_offsets.h) */
    int64_t offsets_sweep_at_ms;  /* monotonic: the next offsets expiry sweep starts then */
    struct bk_auth *auth;         /* internal_auth=scram: who may connect (bk_sasl.h); else NULL */
    struct bk_replica *replica;   /* managed: the follower's fetchers (bk_replica.h) */
    _Atomic int64_t broker_epoch; /* managed: this start's registration epoch; -1 before */
} bk_broker_t;

#endif
