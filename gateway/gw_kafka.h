/*
 * The gateway's Kafka-protocol client to the brokers' internal listeners: per worker, one
 * connection per broker, pipelined (the requests made during one pass of the worker's
 * event loop are written together at its end, by gw_kpool_flush; responses come back in
 * order and are matched by correlation id), on the worker's h2o event loop. Requests are encoded
 * and responses decoded with the shared codec (kmsg/).
 *
 * A call ends exactly once in its callback: with the response body, or with a transport
 * error (connection refused or lost, timeout). A call whose request may have reached the
 * broker before the connection failed is reported as GW_KCALL_UNKNOWN: the caller must not
 * retry a produce then, or records could be written twice.
 *
 * Worker thread only.
 */
#ifndef GW_KAFKA_H
#define GW_KAFKA_H

#include "cm_kbuf.h"
#include "gw.h"

typedef enum gw_kcall_status {
    GW_KCALL_OK = 0,
    GW_KCALL_NOT_SENT, /* nothing reached the broker: safe to retry */
    GW_KCALL_UNKNOWN,  /* sent, no answer: the broker may or may not have acted */
} gw_kcall_status_t;

typedef struct gw_kcall gw_kcall_t;

/** `body` reads the response after its header (status GW_KCALL_OK), else NULL. */
typedef void (*gw_kcall_fn)(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body);

struct gw_kcall {
    gw_kcall_t *next;
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    int64_t deadline_ms; /* monotonic; past it the connection is deemed stuck */
    cm_kw_t w;           /* the request frame */
    size_t frame_start;
    gw_kcall_fn cb;
    void *ud;
    int32_t broker_id; /* the broker it was sent to */
    uint64_t tag;      /* the caller's, to tell its calls apart */
    bool held;         /* the broker may hold the answer (a long poll, a group join): the
                          call goes on a connection of its own, holding no other call up */
    char why[160];     /* a transport error, for logs and answers */
    bool refused;      /* NOT_SENT because the broker refused the gateway's credential:
                          retrying soon is no use */
};

/** Creates a worker's pool. */
gw_kpool_t *gw_kpool_new(gw_worker_t *w);

/** Closes every connection, failing their calls (GW_KCALL_UNKNOWN or NOT_SENT). */
void gw_kpool_free(gw_kpool_t *p);

/**
 * Starts a call: the request header is written into c->w; the caller then encodes the body
 * with the kmsg encoder for (api_key, api_version) and calls gw_kcall_send.
 * `wait_ms` is how long the broker may legitimately hold the request (a produce's timeout,
 * a fetch's max wait), added to request_timeout_ms for the deadline.
 */
gw_kcall_t *gw_kcall_new(gw_kpool_t *p, int16_t api_key, int16_t api_version, int64_t wait_ms,
                         gw_kcall_fn cb, void *ud);

/** Queues the call for `broker` (connecting first when needed). */
void gw_kcall_send(gw_kpool_t *p, const gw_broker_t *broker, gw_kcall_t *c);

/**
 * Writes the calls queued on every connection, one write per broker. The worker calls it
 * after every pass of its event loop, so the requests that one pass made (from many client
 * connections) reach a broker in one write, and the broker reads them in one go.
 */
void gw_kpool_flush(gw_kpool_t *p);

/* The Fetch version the gateway speaks. */
#define GW_FETCH_VERSION 11

/**
 * Sends a Fetch of one partition from `offset`, up to `max_bytes`, which the broker may
 * hold up to `wait_ms` for a record to arrive (a long poll); `cb` gets the answer.
 */
void gw_fetch_one(gw_kpool_t *p, const gw_broker_t *broker, const char *full, int32_t partition,
                  int64_t offset, int32_t max_bytes, int64_t wait_ms, gw_kcall_fn cb, void *ud);

/** Frees a call (after its callback, or one never sent). */
void gw_kcall_free(gw_kcall_t *c);

#endif
