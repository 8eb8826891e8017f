/*
 * Request dispatch: the table of Kafka APIs this broker implements (exactly the versions
 * it advertises in ApiVersions), and the handler contract.
 *
 * A handler decodes req->body (the message after the header) into req->resp->arena,
 * writes its response body into req->resp->w (the header is already there), and returns:
 *   BK_DONE   the response is complete;
 *   BK_DEFER  it keeps a ref on req->resp and calls bk_resp_ready() later;
 *   BK_NONE   no response is sent (Produce with acks=0);
 *   BK_CLOSE  the request is malformed: the connection is closed, as Kafka brokers do;
 *   BK_DONE_CLOSE  the response is complete, and the connection closes once it is out
 *             (a failed SASL exchange).
 */
#ifndef BK_DISPATCH_H
#define BK_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "bk_broker.h"
#include "bk_conn.h"
#include "cm_kproto.h"

enum { BK_DONE = 0, BK_DEFER = 1, BK_NONE = 2, BK_CLOSE = -1, BK_DONE_CLOSE = 3 };

typedef struct bk_req {
    bk_conn_t *conn;
    bk_broker_t *b;
    cm_kreq_hdr_t hdr;
    cm_kr_t body;
    uint8_t *frame; /* the request bytes, writable (Produce assigns offsets in place) */
    size_t frame_len;
    bk_resp_t *resp;
} bk_req_t;

typedef int (*bk_handler_fn)(bk_req_t *req);

typedef struct bk_api {
    int16_t key;
    int16_t min_version;
    int16_t max_version;
    bk_handler_fn fn;
} bk_api_t;

extern const bk_api_t bk_apis[];
extern const size_t bk_apis_n;

/** Routes a request to its handler; unknown keys and versions close the connection. */
int bk_dispatch(bk_req_t *req);

/* Handlers, one file each. */
int bk_handle_api_versions(bk_req_t *req);
int bk_handle_sasl_handshake(bk_req_t *req);
int bk_handle_sasl_authenticate(bk_req_t *req);
int bk_handle_metadata(bk_req_t *req);
int bk_handle_produce(bk_req_t *req);
int bk_handle_fetch(bk_req_t *req);
int bk_handle_list_offsets(bk_req_t *req);
int bk_handle_offset_for_leader_epoch(bk_req_t *req);
int bk_handle_create_topics(bk_req_t *req);
int bk_handle_delete_topics(bk_req_t *req);
int bk_handle_create_partitions(bk_req_t *req);
int bk_handle_describe_configs(bk_req_t *req);
int bk_handle_alter_configs(bk_req_t *req);
int bk_handle_incremental_alter_configs(bk_req_t *req);
int bk_handle_find_coordinator(bk_req_t *req); /* bk_groups.c: the group APIs */
int bk_handle_join_group(bk_req_t *req);
int bk_handle_sync_group(bk_req_t *req);
int bk_handle_heartbeat(bk_req_t *req);
int bk_handle_leave_group(bk_req_t *req);
int bk_handle_offset_fetch(bk_req_t *req);
int bk_handle_offset_commit(bk_req_t *req);
int bk_handle_list_groups(bk_req_t *req);
int bk_handle_describe_groups(bk_req_t *req);
int bk_handle_delete_groups(bk_req_t *req);

/**
 * The group coordinator (bk_groups.c): made at start with its offsets log replayed (-1:
 * the log cannot be read), ticked by the server; stopped at shutdown (waiting members are
 * answered), closed with the server.
 */
int bk_groups_start(bk_broker_t *b);
void bk_groups_tick(bk_broker_t *b);
/** A new cluster snapshot is installed (bk_cluster_apply): groups of tenants gone or made
 * again are removed. */
void bk_groups_cluster_applied(bk_broker_t *b);
void bk_groups_stop(bk_broker_t *b);
void bk_groups_close(bk_broker_t *b);

/** Shutdown: every waiting long-poll fetch answers with what it has now. */
void bk_fetch_release_all(bk_broker_t *b);

/** Copies a string view into the response arena (views into the frame die with it). */
cm_kstr_t bk_req_keep(bk_req_t *req, cm_kstr_t s);

/** Copies a C string (an error message) into the response arena. */
cm_kstr_t bk_req_msg(bk_req_t *req, const char *msg);

/** The same, for a response answered later (no request at hand). NULL or "": null. */
cm_kstr_t bk_resp_msg(bk_resp_t *r, const char *msg);

#endif
