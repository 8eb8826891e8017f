/*
 * Changes a tenant makes to its topics and ACLs go to the control plane's operator API,
 * which validates them, enforces the partition and storage quotas, places partitions and
 * records them in the audit log. The calls are blocking (libcurl), so they run on the admin
 * thread; the answer comes back on the worker that asked, after the worker's metadata
 * shows the change (at most GW_ADMIN_SNAPSHOT_WAIT_MS), so the tenant's next call sees it.
 */
#ifndef GW_ADMIN_H
#define GW_ADMIN_H

#include "cm_sbuf.h"
#include "gw.h"

#define GW_ADMIN_SNAPSHOT_WAIT_MS 5000
#define GW_ADMIN_QUEUE_MAX        256

typedef struct gw_admin_call gw_admin_call_t;

struct gw_admin_call {
    h2o_multithread_message_t msg; /* first: the worker's receiver gets this */
    gw_worker_t *w;
    const char *method;
    cm_sbuf_t path;                   /* "/v1/tenants/<tenant>/topics..." */
    cm_sbuf_t body;                   /* JSON, or empty */
    void (*done)(gw_admin_call_t *c); /* on the worker, once answered */
    void *ud;
    /* Filled on the admin thread. */
    long status; /* HTTP status; 0: no answer (see why) */
    cm_sbuf_t answer;
    char why[256];
    uint64_t ticket; /* the snapshot that shows the change */
    int64_t wait_until_ms;
    h2o_timeout_entry_t timer;
};

/** Starts the admin thread. */
gw_admin_t *gw_admin_start(gw_t *gw);

/** Stops it; calls still queued are answered "stopping". Workers must still run their loops. */
void gw_admin_stop(gw_admin_t *a);

/** A call for worker `w` (caller fills path and body). */
gw_admin_call_t *gw_admin_call_new(gw_worker_t *w, const char *method,
                                   void (*done)(gw_admin_call_t *), void *ud);

/** Queues the call; when the queue is full, answers at once with status 0. */
void gw_admin_send(gw_admin_t *a, gw_admin_call_t *c);

/**
 * The tenant-facing outcome of an answered call: its HTTP status (2xx: success), with
 * `code` (the answer's error_code) and `msg` (beginning with `what`) for a failure. The
 * control plane's own 401/403/5xx, and no answer at all, become 503: they concern the
 * gateway's credential or the service, never the tenant.
 */
int gw_admin_result(const gw_admin_call_t *c, const char *what, int *code, char *msg, size_t cap);

/** Frees a call (in its `done`). */
void gw_admin_call_free(gw_admin_call_t *c);

/** The worker's receiver callback for answered calls (registered by the worker). */
void gw_admin_on_answers(h2o_multithread_receiver_t *r, h2o_linklist_t *messages);

#endif
