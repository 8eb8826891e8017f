/*
 * The cluster as the control plane describes it, for a managed broker (one started with a
 * database_url): the pool's brokers, its tenants, and every topic of the pool with its
 * partitions' replicas, leader and leader epoch.
 *
 * bk_cplane.c reads a whole snapshot from Postgres on its own thread and hands it over;
 * the event loop applies it (bk_cluster_apply): local topics are created, reconfigured or
 * deleted to match, and Metadata, Produce and Fetch consult it for leadership. Until the
 * first snapshot arrives (a start while Postgres is away) the broker serves its local
 * topics as their leader, as an unmanaged broker does.
 */
#ifndef BK_CLUSTER_H
#define BK_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "bk_broker.h"
#include "cm_arena.h"
#include "cm_kbuf.h"
#include "cm_strmap.h"
#include "cm_tconfig.h"

typedef struct bk_cluster_broker {
    int32_t id;
    const char *host;
    int32_t port;
    const char *rack;
    bool up;
    int64_t epoch; /* grows with each start of the broker (KIP-903) */
} bk_cluster_broker_t;

typedef struct bk_cluster_part {
    int32_t leader; /* -1: none */
    int32_t epoch;
    int32_t *replicas;
    int32_t n_replicas;
    int32_t *isr;
    int32_t n_isr;
    int32_t isr_version; /* moves with every change of the ISR (compare-and-set) */
} bk_cluster_part_t;

typedef struct bk_cluster_topic {
    const char *name; /* "<tenant>.<topic>" */
    cm_kuuid_t id;
    int32_t n_parts;
    bk_cluster_part_t *parts; /* n_parts entries */
    cm_tconfig_t cfg;
    bool hosted;            /* this broker holds a replica of some partition */
    bool *mine;             /* n_parts entries: this broker holds a replica of partition i */
    const char *create_err; /* why applying this snapshot could not create or open it here */
} bk_cluster_topic_t;

/** A tenant placed on the pool. A tenant deleted and re-created under the same name has a
 * new id: the group coordinator tells its groups apart by it (bk_groups.c). */
typedef struct bk_cluster_tenant {
    const char *name; /* the prefix of its topics and groups: "<name>.<topic>" */
    cm_kuuid_t id;
} bk_cluster_tenant_t;

typedef struct bk_cluster {
    cm_arena_t arena;       /* everything below */
    uint64_t ticket;        /* bk_cplane_want_sync() requests this snapshot answers */
    const char *cluster_id; /* the pool's, the same on each of its brokers */
    bk_cluster_broker_t *brokers;
    int32_t n_brokers;
    bk_cluster_topic_t *topics;
    int32_t n_topics;
    cm_strmap_t by_name; /* name -> bk_cluster_topic_t* */
    bk_cluster_tenant_t *tenants;
    int32_t n_tenants;
    cm_strmap_t tenants_by_name; /* name -> bk_cluster_tenant_t* */
    /* internal_auth=scram without a verifiers file: who may connect, from `components`
     * (gateways, tools, and this pool's brokers); NULL when not read. */
    const char **auth_names;
    const char **auth_verifiers;
    int32_t *auth_broker_ids; /* the broker a name is (a broker of this pool), else -1 */
    int32_t n_auth;
    bool auth_read;
} bk_cluster_t;

/** An empty snapshot. */
bk_cluster_t *bk_cluster_new(void);

/** Frees a snapshot. */
void bk_cluster_free(bk_cluster_t *c);

/**
 * Indexes topics and tenants by name and marks the topics and partitions this broker (`node_id`)
 * hosts. False when the snapshot is too large for its arena.
 */
bool bk_cluster_index(bk_cluster_t *c, int32_t node_id);

/**
 * Makes the local topics match `c` and installs it as b->cluster (taking ownership).
 * Event-loop thread.
 */
void bk_cluster_apply(bk_broker_t *b, bk_cluster_t *c);

/** The tenant named by the first `len` bytes of `name` in the installed snapshot, or NULL
 * (also when there is no snapshot). */
const bk_cluster_tenant_t *bk_cluster_tenant(const bk_broker_t *b, const char *name, size_t len);

/** The topic named `name` in the installed snapshot, or NULL. */
const bk_cluster_topic_t *bk_cluster_topic(const bk_broker_t *b, cm_kstr_t name);

/**
 * The local partition a Produce, Fetch or ListOffsets may use: this broker must lead it
 * when managed. `t` is the local topic or NULL, `name` the name asked for (for topics not
 * hosted here). Returns NULL with the Kafka error in *err: UNKNOWN_TOPIC_OR_PARTITION,
 * NOT_LEADER_OR_FOLLOWER (another broker leads; clients refresh metadata),
 * LEADER_NOT_AVAILABLE (no leader right now) or KAFKA_STORAGE_ERROR (led here, but the
 * broker could not open it).
 */
struct bk_partition *bk_cluster_led(const bk_broker_t *b, struct bk_topic *t, cm_kstr_t name,
                                    int32_t partition, int16_t *err);

/** Parses Postgres' text form of an integer array ("{1,2,3}") into the arena. */
int bk_cluster_parse_ints(cm_arena_t *a, const char *s, int32_t **out, int32_t *n);

/** Parses a UUID's text form into 16 bytes; false if malformed. */
bool bk_cluster_parse_uuid(const char *s, cm_kuuid_t *out);

#endif
