/*
 * streamd-gateway: the tenant edge. Tenants call the REST API (HTTP/1.1, h2c, h2 over
 * TLS); the gateway authenticates them, keeps them inside their namespace, checks ACLs,
 * charges quotas, and forwards to the partition leaders of the tenant's broker pool over
 * pooled Kafka-protocol connections. Topic changes go to the control plane's operator API.
 *
 * Threads:
 *   - `threads` workers, each an h2o event loop with its own listening sockets (one
 *     SO_REUSEPORT group per address, so the kernel spreads the connections; a second
 *     gateway on the same address is refused), its own Kafka connections to the brokers and
 *     its own caches;
 *   - the metadata thread (gw_meta.c): Postgres LISTEN/NOTIFY and snapshots;
 *   - the admin thread (gw_admin.c): blocking calls to the operator API.
 *
 * Shared between threads: the current snapshot (reference counted, never changed once
 * published) and each tenant's runtime state (quota buckets, connection count, meters).
 */
#ifndef GW_H
#define GW_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cm_acl.h"
#include "cm_arena.h"
#include "cm_bucket.h"
#include "cm_http.h"
#include "cm_limiter.h"
#include "cm_metrics.h"
#include "cm_strmap.h"

#define GW_THREADS_MAX 64

typedef struct gw_config {
    char *listen;              /* plain HTTP (HTTP/1.1 and h2c) */
    char *admin_listen;        /* operators: /healthz, /readyz, /metrics; "" disables */
    char *tls_listen;          /* HTTPS (HTTP/1.1 and h2 by ALPN); "" disables */
    char *tls_cert;            /* PEM certificate chain */
    char *tls_key;             /* PEM private key */
    char *grpc_listen;         /* the gRPC API, plaintext (h2c); "" disables */
    char *grpc_tls_listen;     /* the gRPC API over TLS (tls_cert, tls_key); "" disables */
    char *database_url;        /* the control plane's database (read only) */
    char *control_plane_url;   /* the operator API, for topic and ACL changes */
    char *control_plane_token; /* the gateway's operator token */
    char *credential;          /* "<name>.<secret>": SASL/SCRAM to the brokers; "" none */
    char *log_level;
    int64_t threads;             /* event loops; 0: one per core */
    int64_t body_bytes_max;      /* request body limit */
    int64_t request_arena_bytes; /* memory one REST request may use (its parsed body too) */
    int64_t preauth_bytes_max;   /* held for connections not authenticated yet, in total */
    int64_t db_timeout_ms;       /* statement and connect timeout of the metadata thread */
    int64_t resync_ms;           /* full re-read of the metadata even without notifications */
    int64_t storage_poll_ms;     /* re-read of tenants' measured storage */
    int64_t auth_cache_ms;       /* how long a verified API secret is trusted without a re-check */
    int64_t auth_fail_rate;      /* failed authentications per second allowed per source */
    int64_t auth_fail_burst;     /* ... and in a burst */
    int64_t auth_fail_sources_max; /* sources and key ids counted at most */
    int64_t jwt_bytes_max;         /* longest bearer token accepted */
    int64_t jwt_skew_ms;           /* clock skew allowed on exp and nbf (at most 60 s) */
    int64_t request_timeout_ms;    /* a broker call, and a produce's wait for acks */
    int64_t fetch_wait_max_ms;     /* longest long-poll of a consume */
    int64_t fetch_bytes_max;       /* largest max_bytes of a consume */
    int64_t answer_buffer_bytes;   /* per worker: JSON answers held while clients read them */
    int64_t produce_records_max;   /* records in one produce request */
    int64_t grpc_streams_max;      /* calls in progress on one gRPC connection */
    int64_t grpc_stream_window;    /* messages of a produce stream in flight */
    int64_t grpc_stream_window_bytes;
    int64_t consumer_instance_timeout_ms;  /* idle REST consumer instances are deleted */
    int64_t consumer_session_timeout_ms;   /* ... and their session timeout in the group */
    int64_t consumer_instances_max;        /* REST consumer instances held at most */
    int64_t consumer_instances_per_tenant; /* ... and of one tenant */
} gw_config_t;

/* ---- the metadata snapshot (gw_meta.c) ---------------------------------------------- */

typedef struct gw_tenant_rt gw_tenant_rt_t;

typedef struct gw_part {
    int32_t leader; /* broker id; -1: none */
    int32_t epoch;
    const char *unavailable; /* why the leader cannot serve it (its report), or NULL */
} gw_part_t;

typedef struct gw_tenant gw_tenant_t;

typedef struct gw_topic {
    const char *name; /* the tenant's name for it */
    const char *full; /* the brokers' name: "<tenant>.<name>" */
    const char *id;   /* uuid text */
    const gw_tenant_t *tenant;
    int32_t n_parts;
    int32_t replication_factor;
    gw_part_t *parts;
    const char *configs; /* JSON object of overrides */
} gw_topic_t;

typedef struct gw_quota {
    int64_t produce_bps; /* 0: no limit */
    int64_t consume_bps;
    int64_t requests_ps;
    int64_t connections;
    int64_t storage_bytes; /* 0: no limit; else on the bytes brokers measure (all replicas) */
} gw_quota_t;

typedef struct gw_principal {
    const char *name;
    bool admin;
    bool service_account; /* authenticates with API keys only, never as a JWT's principal */
} gw_principal_t;

struct gw_tenant {
    const char *id;
    const char *name;
    char cluster_id[24]; /* the tenant's logical cluster: "lkc-" + 10 hex digits */
    bool active;
    int64_t pool_id;
    gw_quota_t quota;
    gw_tenant_rt_t *rt;
    cm_strmap_t topics;     /* name -> gw_topic_t */
    cm_strmap_t principals; /* name -> gw_principal_t */
    cm_acl_t *acls;         /* the tenant's rules that this gateway can read */
    int n_acls;
    bool acls_unreadable; /* a row it cannot read (a newer type or operation): deny all */
};

typedef struct gw_key {
    const char *key_id;
    const gw_tenant_t *tenant;
    const gw_principal_t *principal;
    const char *secret_hash;
} gw_key_t;

typedef struct gw_issuer {
    const gw_tenant_t *tenant;
    const char *issuer;
    const char *audience;
    const char *alg;
    const char *public_keys; /* one or more PEM public keys */
    const char *principal_claim;
} gw_issuer_t;

typedef struct gw_broker {
    int32_t id;
    int64_t pool_id;
    const char *host;
    int port;
    bool up;
} gw_broker_t;

typedef struct gw_snap {
    cm_arena_t arena;
    atomic_int refs;
    uint64_t ticket;     /* answers cm_pgwatch_want tickets up to this */
    cm_strmap_t tenants; /* id -> gw_tenant_t */
    cm_strmap_t keys;    /* key id -> gw_key_t */
    gw_issuer_t *issuers;
    int n_issuers;
    gw_broker_t *brokers;
    int n_brokers;
} gw_snap_t;

/* Runtime state of a tenant, shared by every thread and kept across snapshots. */
struct gw_tenant_rt {
    pthread_mutex_t mu; /* guards the buckets */
    cm_bucket_t produce;
    cm_bucket_t consume;
    cm_bucket_t requests;
    atomic_llong connections;
    atomic_ullong bytes_in;
    atomic_ullong bytes_out;
    atomic_ullong records_in;
    atomic_ullong records_out;
    atomic_ullong requests_total;
    atomic_ullong throttled;
    atomic_int consumer_instances; /* REST consumer instances */
    atomic_llong storage_used;     /* bytes its replicas hold, as brokers last reported */
    uint64_t storage_poll;         /* the metadata thread's read that set it */
    char name[48];
};

typedef struct gw_meta gw_meta_t;

/* ---- the daemon ----------------------------------------------------------------------- */

typedef struct gw gw_t;
typedef struct gw_worker gw_worker_t;
typedef struct gw_kpool gw_kpool_t;
typedef struct gw_admin gw_admin_t;

typedef struct gw_metrics {
    atomic_ullong requests;
    atomic_ullong errors_4xx;
    atomic_ullong errors_5xx;
    atomic_ullong auth_failures;
    atomic_ullong auth_limited;
    atomic_ullong broker_calls;
    atomic_ullong broker_errors;
    atomic_ullong broker_auth_failures; /* brokers that refused the gateway's credential */
    atomic_ullong snapshots;
    atomic_ullong consume_cut;       /* consume answers cut short by answer_buffer_bytes */
    atomic_ullong grpc_calls;        /* gRPC calls taken */
    atomic_ullong grpc_errors;       /* ... answered with a status other than OK */
    atomic_llong grpc_active;        /* gRPC calls not ended yet */
    atomic_ullong connections_muted; /* REST connections not read until a quota's retry time */
    atomic_ullong grpc_held;         /* gRPC calls answered only at their retry time */
    atomic_llong preauth_bytes;      /* read by connections not authenticated yet */
    atomic_ullong preauth_paused;    /* ... times one was stopped for the budget */
    cm_hist_t request_latency;
} gw_metrics_t;

struct gw_worker {
    gw_t *gw;
    pthread_t thread;
    h2o_evloop_t *loop;
    cm_http_server_t *http;
    cm_http_server_t *admin_http;          /* the admin listener, on the first worker only */
    h2o_multithread_receiver_t admin_done; /* admin calls finished on the admin thread */
    h2o_multithread_queue_t *queue;
    h2o_timeout_t poll_timeout; /* 10 ms: waits for a snapshot to show a change */
    gw_snap_t *snap;            /* this thread's reference to the snapshot in use */
    uint64_t snap_gen;
    gw_kpool_t *kpool;
    cm_strmap_t verified;      /* API key id -> gw_verified_t (auth cache) */
    uint32_t rr;               /* round robin for records without key or partition */
    atomic_llong answer_bytes; /* JSON answers sent or being sent from their own buffers */
    /* REST consumer instances this thread owns (gw_consumer.h) */
    cm_strmap_t consumers;                /* "<tenant id>/<group>/<name>" -> gw_cinst_t */
    h2o_multithread_receiver_t cons_jobs; /* calls for them, from every worker */
    h2o_multithread_receiver_t cons_done; /* answers to calls received here */
    h2o_timeout_t cons_timeout;           /* their tick: heartbeats, retries, expiry */
    h2o_timeout_entry_t cons_tick;
    h2o_multithread_receiver_t grpc_calls; /* gRPC calls handed over by the gRPC thread */
    h2o_multithread_receiver_t grpc_ops;   /* ... and their operations that completed */
    h2o_timeout_t grpc_hold_timeout;       /* 1 s: throttled gRPC calls held (gw_grpc.c) */
};

struct gw {
    gw_config_t cfg;
    SSL_CTX *ssl;
    gw_meta_t *meta;
    gw_admin_t *admin;
    int n_workers;
    gw_worker_t workers[GW_THREADS_MAX];
    atomic_bool stopping;
    gw_metrics_t metrics;
    /* Failed authentications per source prefix (IPv4 address, IPv6 /64) and per API key id,
     * in bounded memory (gw_session.c). */
    cm_limiter_t *auth_failures;
    atomic_bool any_failures;       /* something failed once: a request needs to look it up */
    atomic_int consumer_instances;  /* REST consumer instances, on every worker */
    pthread_barrier_t workers_done; /* no worker posts to another past it */
};

/** Loads the configuration; 0, 1 after --help, -1 on error (printed). */
int gw_config_load(gw_config_t *cfg, int argc, char **argv);
void gw_config_free(gw_config_t *cfg);

#endif
