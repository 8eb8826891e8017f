/*
 * The tenant REST API: Kafka REST Proxy v3 resource paths under
 * /kafka/v3/clusters/{cluster_id}, where {cluster_id} is the caller's logical cluster
 * ("lkc-..."). Every call goes through the session core (gw_session.h) before any
 * handler runs; a handler only ever sees the caller's own tenant, so another tenant's names
 * cannot be reached: a cluster or topic that is not the caller's is "not found", exactly
 * like one that does not exist.
 *
 * The routes and their shapes are in docs/api/gateway-openapi.json (tests/e2e/0015 checks that
 * they match).
 *
 * Worker threads.
 */
#ifndef GW_REST_H
#define GW_REST_H

#include <stdio.h>

#include "cm_json.h"
#include "cm_krecord.h"
#include "cm_sbuf.h"
#include "gw.h"
#include "gw_admin.h"
#include "gw_session.h"

/* A request in progress. It may outlive the HTTP request (the client left while a broker
 * or the control plane was answering): `req` is NULL then and answers are dropped. */
typedef struct gw_rreq {
    gw_worker_t *w;
    h2o_req_t *req;
    int refs;         /* the HTTP request's, plus one per call in progress */
    cm_arena_t arena; /* request-scoped memory */
    const char *seg[CM_HTTP_SEGMENTS_MAX];
    int nseg;
    gw_snap_t *snap; /* a reference held for the request */
    gw_session_t ss;
    const gw_topic_t *topic; /* the topic named by the path, when there is one */
    int status;              /* what was sent */
    int64_t t0_us;
    cm_sbuf_t out;  /* a JSON answer being written (gw_rest_json) */
    cm_sbuf_t sent; /* the answer h2o sends from, kept until the request is disposed */
    cm_jw_t jw;
    void *state;            /* the handler's */
    const char *admin_what; /* what an operator API call was for, to begin its errors */
    void (*state_free)(void *state);
} gw_rreq_t;

/** Serves one HTTP request (the worker's cm_http handler). */
int gw_rest_handle(void *worker, h2o_req_t *req);

/**
 * The admin listener's handler (operators, never tenants): GET /healthz, /readyz and
 * /metrics. Worker thread; `worker` is the gw_worker_t that owns the listener.
 */
int gw_rest_admin_handle(void *worker, h2o_req_t *req);

/** Prints the route table, one "METHOD /path" per line, "*" for a path parameter. */
void gw_rest_routes_print(FILE *out);

/** Takes and drops a reference on a request (for asynchronous calls). */
void gw_rest_ref(gw_rreq_t *r);
void gw_rest_unref(gw_rreq_t *r);

/**
 * Bytes of JSON answers this worker may still hold (answer_buffer_bytes less what answers
 * sent and not yet read by their clients hold); a consume cuts its answer to it.
 */
size_t gw_rest_answer_room(const gw_rreq_t *r);

/** Answers with a JSON body. Dropped when the client has left. */
void gw_rest_reply(gw_rreq_t *r, int status, const cm_sbuf_t *body);

/* How often a broker that does not know a topic of the gateway's metadata yet (a topic
 * just created) is asked again, every 10 ms. */
#define GW_REST_TOPIC_WAIT_TRIES 100

/**
 * After a broker answered UNKNOWN_TOPIC_OR_PARTITION for a topic the gateway knows: links
 * `timer` (poll_timeout, 10 ms) to call again, keeping the request's reference. False when
 * the caller should answer the error instead (tries used up, client gone, stopping).
 */
bool gw_rest_retry_soon(gw_rreq_t *r, int *attempts, h2o_timeout_entry_t *timer);

/** True when broker calls can be made; else answers 503 (the gateway is stopping). */
bool gw_rest_can_call(gw_rreq_t *r);

/** Starts the JSON answer in the request's own buffer. */
cm_jw_t *gw_rest_json(gw_rreq_t *r);

/** Sends the JSON answer started with gw_rest_json. */
void gw_rest_json_reply(gw_rreq_t *r, int status);

/** Opens a list resource {"kind", "metadata" (NULL path: none), "data": [ for its items. */
void gw_rest_list_begin(gw_rreq_t *r, cm_jw_t *jw, const char *kind, const char *path);

/** Closes a list resource. */
void gw_rest_list_end(cm_jw_t *jw);

/** Answers {"error_code": code, "message": ...}; a 429 carries Retry-After. */
void gw_rest_error(gw_rreq_t *r, int status, int code, int retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/**
 * The caller is over a quota for `wait_s` seconds: its connection is not read until then
 * (cm_http_conn_mute), so a client that ignores Retry-After costs the gateway nothing more
 * meanwhile. Answer the request with 429 as well.
 */
void gw_rest_throttled(gw_rreq_t *r, int wait_s);

/**
 * Reads query parameter `name` as an integer in [lo, hi] into *v (left as is when absent).
 * False when it is not one: 400 was sent.
 */
bool gw_rest_query_int(gw_rreq_t *r, const char *name, int64_t lo, int64_t hi, int64_t *v);

/** The request body as a JSON object; NULL when it is not one (400 or 413 was sent). */
const cm_json_t *gw_rest_json_body(gw_rreq_t *r);

/** Writes the "metadata" member of a resource: {"self": ".../<path>", "resource_name": ...}. */
void gw_rest_metadata(gw_rreq_t *r, cm_jw_t *jw, const char *path_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Writes {"related": "<base>/<path>"} under key `key`. */
void gw_rest_related(gw_rreq_t *r, cm_jw_t *jw, const char *key, const char *path_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * Maps the operator API's answer to a call to a tenant-facing one: true on success, else
 * the error is sent (`what` begins its message). The control plane's own 401/403/5xx become
 * 503: they concern the gateway's credential or the service, never the tenant.
 */
bool gw_rest_admin_outcome(gw_rreq_t *r, gw_admin_call_t *c, const char *what);

/** Sends an operator API call for the request (holding a reference until it is answered). */
void gw_rest_admin_send(gw_rreq_t *r, gw_admin_call_t *c);

/** An admin call's `done` that answers 204 on success (errors begin with r->admin_what). */
void gw_rest_admin_no_content(gw_admin_call_t *c);

/** Route handlers in gw_configs.c. */
void gw_configs_list(gw_rreq_t *r);
void gw_configs_get(gw_rreq_t *r);
void gw_configs_set(gw_rreq_t *r);
void gw_configs_reset(gw_rreq_t *r);
void gw_configs_alter(gw_rreq_t *r);

/**
 * Calls `fn` for each record at offset `from` or later in fetched record batches, in order,
 * until it returns false (*stopped is set then, and the offset of the record it refused is
 * returned). Else returns the offset after the last batch read. Control batches are skipped;
 * a partial batch at the end is left for the next fetch.
 */
typedef bool (*gw_records_fn)(void *ud, int64_t offset, int64_t timestamp_ms,
                              const cm_record_t *rec);
int64_t gw_records_each(cm_krecords_t recs, int64_t from, gw_records_fn fn, void *ud,
                        bool *stopped);

/** Route handlers in gw_records.c. */
void gw_records_produce(gw_rreq_t *r);
void gw_records_consume(gw_rreq_t *r);

/** Route handlers in gw_groups.c. */
void gw_groups_list(gw_rreq_t *r);
void gw_groups_get(gw_rreq_t *r);
void gw_groups_consumers(gw_rreq_t *r);
void gw_groups_lags(gw_rreq_t *r);

/** True when `s` may name a consumer group: 1 to 249 printable ASCII characters. */
bool gw_group_name_ok(const char *s);

/** True when the bytes are UTF-8 text that JSON can carry as a string. */
bool gw_records_utf8_ok(const uint8_t *s, size_t n);

/** Route handler in gw_consumer.c (every /kafka/v2/.../consumers route). */
void gw_consumers_handle(gw_rreq_t *r);

/** A worker's consumer instances: start (its thread), stop (answers and frees them all). */
void gw_consumers_start(gw_worker_t *w);
void gw_consumers_stop(gw_worker_t *w);

/** The receivers of jobs and of their answers (registered on each worker's queue). */
void gw_consumers_on_jobs(h2o_multithread_receiver_t *r, h2o_linklist_t *messages);
void gw_consumers_on_done(h2o_multithread_receiver_t *r, h2o_linklist_t *messages);

/** Route handlers in gw_acls.c. */
void gw_acls_list(gw_rreq_t *r);
void gw_acls_create(gw_rreq_t *r);
void gw_acls_delete(gw_rreq_t *r);

#endif
