/*
 * Kafka admin requests on a managed broker go through the control plane: CreateTopics,
 * DeleteTopics, CreatePartitions, AlterConfigs and IncrementalAlterConfigs become calls to
 * the operator API (control_plane_url, with the broker's control_plane_token), made on a
 * forwarder thread so the event loop never waits on HTTP. The control plane checks quotas,
 * places partitions and records the change; every broker of the pool then learns of it
 * through its snapshot (bk_cplane.h), this one included.
 *
 * A handler builds its whole response first (in the response arena, strings copied out
 * of the request frame), adds one call per entry that needs the control plane, and
 * returns bk_fwd_run(). Each call's outcome is written into its entry's error code and
 * message; then, so that a client's next Metadata or Produce on this broker sees the
 * change, the answer waits until this broker has applied a snapshot taken after the calls
 * (at most BK_FWD_SNAPSHOT_WAIT_MS), and the handler's `encode` writes the response.
 *
 * Event-loop thread, except where marked.
 */
#ifndef BK_FORWARD_H
#define BK_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "bk_dispatch.h"
#include "cm_json.h"
#include "cm_sbuf.h"

#define BK_FWD_SNAPSHOT_WAIT_MS 5000
#define BK_FWD_TIMEOUT_MS       30000 /* Kafka clients' default request.timeout.ms */
#define BK_FWD_QUEUE_MAX        64    /* admin requests waiting; more are refused */

typedef struct bk_fwd bk_fwd_t;
typedef struct bk_fwd_job bk_fwd_job_t;
typedef struct bk_fwd_call bk_fwd_call_t;

/** Reads extra fields from a call's 2xx answer (NULL when the body is not JSON). */
typedef void (*bk_fwd_ok_fn)(bk_fwd_job_t *j, bk_fwd_call_t *c, const cm_json_t *answer);

struct bk_fwd_call {
    bk_fwd_call_t *next;
    const char *method;
    cm_sbuf_t path; /* "/v1/tenants/<tenant>/topics/<topic>..." */
    cm_sbuf_t body; /* JSON, or empty */
    int16_t on_404; /* the Kafka error for "no such tenant or topic" */
    int16_t on_409; /* ... and for a conflict */
    int16_t *err;   /* where the outcome goes: the response entry's error code */
    cm_kstr_t *msg; /* ... and message (response arena) */
    bk_fwd_ok_fn ok;
    void *ok_arg;
    bool validate_only; /* a dry run: nothing changes */
    /* Filled on the forwarder thread. */
    long status; /* HTTP status; 0: no answer */
    cm_sbuf_t answer;
    char why[256]; /* no answer: why */
};

struct bk_fwd_job {
    bk_fwd_job_t *next;
    int64_t deadline_ms; /* monotonic: calls not sent by then answer REQUEST_TIMED_OUT */
    bk_broker_t *b;
    bk_resp_t *resp; /* a reference */
    void *out;       /* the handler's response struct (response arena) */
    void (*encode)(bk_fwd_job_t *j);
    bk_fwd_call_t *calls;
    bk_fwd_call_t **tail;
    uint64_t ticket; /* the snapshot that shows the changes; 0: nothing to wait for */
    bk_timer_t timer;
    bool parked;
};

/** Starts the forwarder thread (managed brokers). */
bk_fwd_t *bk_fwd_start(bk_broker_t *b);

/** Answers every job still queued or waiting (error or result) and stops the thread. */
void bk_fwd_stop(bk_fwd_t *f);

/**
 * A job for `req`; `encode` writes `out` into j->resp->w (a cm_*_resp_encode call).
 * `timeout_ms` is the request's own (<= 0: BK_FWD_TIMEOUT_MS), capped at that.
 */
bk_fwd_job_t *bk_fwd_job(bk_req_t *req, void *out, void (*encode)(bk_fwd_job_t *j),
                         int32_t timeout_ms);

/**
 * Whether the job may carry calls at all, checked before anything is looked up so that a
 * refused client learns nothing of the topics: false with *err and *msg set when this
 * broker has no control-plane token (CLUSTER_AUTHORIZATION_FAILED) or has not applied its
 * first snapshot yet (NOT_CONTROLLER, which clients retry after a metadata refresh).
 */
bool bk_fwd_may(bk_fwd_job_t *j, int16_t *err, cm_kstr_t *msg);

/**
 * Adds a call: `method` on the path "/v1/tenants/<tenant>/topics/<topic><suffix>" with
 * `body` (a JSON text, or NULL), answering into *err / *msg.
 */
bk_fwd_call_t *bk_fwd_add(bk_fwd_job_t *j, const char *method, const char *tenant,
                          const char *topic, const char *suffix, const cm_sbuf_t *body,
                          int16_t *err, cm_kstr_t *msg);

/** Frees a job that will not run (the request turned out malformed). */
void bk_fwd_job_free(bk_fwd_job_t *j);

/**
 * Sends the job: BK_DEFER; or, when it has no calls (all answered here, or a standalone
 * broker), encodes the response at once and returns BK_DONE.
 */
int bk_fwd_run(bk_fwd_job_t *j);

/**
 * Splits a broker-side topic name "<tenant>.<topic>" into its parts. False, with why in
 * `msg`, when the name has no valid tenant prefix or topic part.
 */
bool bk_fwd_split(cm_kstr_t name, char tenant[64], char topic[256], char *msg, size_t cap);

/** A snapshot with `ticket` was applied: answers the jobs that waited for it. */
void bk_fwd_applied(bk_fwd_t *f, uint64_t ticket);

/** Shutdown: answers every job waiting for a snapshot now. NULL is harmless. */
void bk_fwd_release_all(bk_fwd_t *f);

#endif
