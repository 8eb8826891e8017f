/*
 * The tenant API over gRPC (proto/streaming/v1/streaming.proto), on grpc core.
 *
 * grpc core's completion queue cannot join an h2o loop, so one gRPC thread owns the server
 * and its queue: it accepts calls, reads their messages and hands each call to a worker
 * (round robin) over the worker's h2o multithread queue. On the worker the call goes
 * through the same tenant-session core as REST (gw_session.h: credentials from the
 * `authorization` metadata, ACLs, quotas, metering) and then its method, which answers
 * with grpc_call_start_batch (thread-safe); the completion comes back to the gRPC thread,
 * which frees the call. A method the proto does not have gets UNIMPLEMENTED at once, on
 * the gRPC thread.
 *
 * Calls are counted (streamd_gateway_grpc_calls_active): a cancelled or abandoned call
 * must come back to zero.
 */
#ifndef GW_GRPC_H
#define GW_GRPC_H

#include <grpc/grpc.h>
#include <h2o.h>
#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>

#include "cm_arena.h"
#include "gw.h"
#include "gw_session.h"

typedef struct gw_grpc gw_grpc_t;
typedef struct gw_gcall gw_gcall_t;

/* A gRPC status code (grpc_status_code) with our names. */
typedef grpc_status_code gw_gstatus_t;

/** A completion the gRPC thread received for a call (its tag). */
typedef struct gw_gtag {
    gw_gcall_t *call;
    void (*on)(gw_gcall_t *c, bool ok);
} gw_gtag_t;

struct gw_gcall {
    gw_grpc_t *srv;
    int method; /* index in the method table */
    grpc_call *call;
    grpc_metadata_array md;
    grpc_call_details details; /* the method's name, for calls of unknown methods */
    gpr_timespec deadline;
    grpc_byte_buffer *payload; /* the request message, for unary methods */
    char peer[64];             /* the client's address, for the auth failure limiter */
    h2o_multithread_message_t msg;
    gw_worker_t *w;
    gw_snap_t *snap;
    gw_session_t ss;
    cm_arena_t arena;
    void *state; /* the method's */
    void (*state_free)(void *state);
    gw_gtag_t t_new, t_done;
    int cancelled; /* RECV_CLOSE_ON_SERVER */
    grpc_slice status_details;
    grpc_metadata trailer;
    char retry_after[16];
    bool answered;
};

/** Starts the gRPC server (grpc_listen, and grpc_tls_listen with the TLS certificate). */
gw_grpc_t *gw_grpc_start(gw_t *gw);

/** Stops accepting, cancels calls in progress, waits for them to end, frees everything. */
void gw_grpc_stop(gw_grpc_t *g);

/** Worker receiver: calls handed over by the gRPC thread. */
void gw_grpc_on_calls(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages);

/** Answers a unary call with `msg` (a packed protobuf-c message). */
void gw_grpc_reply(gw_gcall_t *c, const ProtobufCMessage *msg);

/** Answers with a status other than OK; the message is shown to the caller. */
void gw_grpc_fail(gw_gcall_t *c, gw_gstatus_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The same with a `retry-after` trailer (seconds): RESOURCE_EXHAUSTED, UNAVAILABLE. */
void gw_grpc_fail_retry(gw_gcall_t *c, gw_gstatus_t code, int retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Unpacks the call's request message; NULL when malformed (INVALID_ARGUMENT was sent). */
void *gw_grpc_request(gw_gcall_t *c, const ProtobufCMessageDescriptor *d);

/* Method handlers (gw_grpc_topics.c). */
void gw_grpc_create_topic(gw_gcall_t *c);
void gw_grpc_list_topics(gw_gcall_t *c);
void gw_grpc_describe_topic(gw_gcall_t *c);
void gw_grpc_delete_topic(gw_gcall_t *c);

#endif
