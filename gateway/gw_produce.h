/*
 * Producing records, for every protocol of the gateway (REST records, gRPC Produce and
 * ProduceStream). The protocol reads its records into gw_prec_t (placing each on a
 * partition with gw_produce_partition) after the session core's checks; the engine groups
 * them per partition into one RecordBatch each (request order kept), groups partitions per
 * leader into one Produce request (acks=all), and gives each record its own outcome.
 *
 * A partition whose leader moved (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, or a broker
 * that could not be reached before anything was sent) is retried on a fresh snapshot; one
 * whose request may have reached the broker is never retried: its records are reported as
 * not known to be written.
 *
 * Worker thread only.
 */
#ifndef GW_PRODUCE_H
#define GW_PRODUCE_H

#include "cm_kbuf.h"
#include "cm_krecord.h"
#include "gw.h"
#include "gw_session.h"

/* A record to produce. */
typedef struct gw_prec {
    int32_t partition;
    int64_t timestamp;
    cm_kbytes_t key, value;
    const char *key_type, *value_type; /* the protocol's (REST's data types) */
    cm_record_header_t *headers;
    int32_t n_headers;
    int part;      /* its partition's index in gw_produce_t.parts */
    int32_t delta; /* position in its partition's batch */
} gw_prec_t;

/* A partition's batch and its outcome. */
typedef struct gw_ppart {
    int32_t partition;
    cm_kw_t batch;
    int n_records;
    bool done, retry;
    int http;     /* the outcome as an HTTP status: 200 written, else why not */
    int16_t kerr; /* Kafka error, when there was one */
    char msg[200];
    int64_t base_offset;
} gw_ppart_t;

typedef struct gw_produce gw_produce_t;

struct gw_produce {
    /* the caller's */
    gw_worker_t *w;
    const gw_session_t *ss;
    const gw_topic_t *topic; /* from the snapshot the caller holds */
    cm_arena_t *arena;       /* lives until `done` */
    gw_prec_t *recs;
    int n_recs;
    void (*done)(gw_produce_t *p);   /* every record has its outcome (metered already) */
    bool (*wanted)(gw_produce_t *p); /* false: the caller is gone, no retry is worth it */
    void *ud;
    /* the engine's */
    gw_ppart_t *parts;
    int n_parts;
    int calls; /* Produce requests in flight */
    int attempts;
    uint64_t ticket;
    int64_t retry_until_ms;
    int64_t retry_at_ms; /* not before */
    h2o_timeout_entry_t timer;
};

/** Where a record goes without an explicit partition: by key as Kafka's default partitioner
 * (murmur2), else `sticky` (one partition for the keyless records of a request). */
int32_t gw_produce_partition(cm_kbytes_t key, int32_t n_parts, int32_t sticky);

/**
 * Builds the batches of p->recs. 0, or the HTTP status of why not (413: a partition's
 * records do not fit one batch), with `why` set.
 */
int gw_produce_build(gw_produce_t *p, char *why, size_t cap);

/** Sends the batches; p->done runs once every record has its outcome (maybe at once). */
void gw_produce_start(gw_produce_t *p);

/** Frees the batches (after `done`, or when never started). */
void gw_produce_free(gw_produce_t *p);

/** The tenant-facing HTTP status for a Kafka error of a produce or fetch. */
int gw_produce_kerr_http(int16_t e);

#endif
