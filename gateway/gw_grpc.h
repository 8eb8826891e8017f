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
#include "cm_krecord.h"
#include "gw.h"
#include "gw_session.h"
#include "streaming/v1/streaming.pb-c.h"

typedef struct gw_grpc gw_grpc_t;
typedef struct gw_gcall gw_gcall_t;

/* A gRPC status code (grpc_status_code) with our names. */
typedef grpc_status_code gw_gstatus_t;

/** A completion the gRPC thread received for a call (its tag). */
typedef struct gw_gtag gw_gtag_t;
struct gw_gtag {
    gw_gcall_t *call;
    void (*on)(gw_gtag_t *t, bool ok);
};

/** A worker's method to run when an operation on its call completed (`ok`: it succeeded). */
typedef void (*gw_gop_fn)(gw_gcall_t *c, bool ok);

/**
 * An operation a worker started on its call: the gRPC thread hands its completion back to
 * the call's worker, which runs `done`. A call has at most one of each in flight.
 */
typedef struct gw_gop {
    gw_gtag_t tag;
    h2o_multithread_message_t msg;
    bool ok;
    gw_gop_fn done;
} gw_gop_t;

/*
 * A call's life on its worker: the method answers exactly once (gw_grpc_reply,
 * gw_grpc_fail, gw_grpc_end), after every broker or control-plane call it made has come
 * back, and touches nothing of the call afterwards; the call is freed, on the worker, once
 * the answer and every other operation in flight have completed. When the client cancels
 * or goes away (or the deadline passes, or the gateway stops), `on_cancel` runs, if the
 * method set one: a streaming method then stops and answers once its calls are back.
 */
struct gw_gcall {
    gw_grpc_t *srv;
    int method; /* index in the method table */
    grpc_call *call;
    grpc_metadata_array md;
    grpc_call_details details; /* the method's name, for calls of unknown methods */
    gpr_timespec deadline;
    grpc_byte_buffer *payload; /* the request message, for methods with one request */
    char peer[64];             /* the client's address, for the auth failure limiter */
    char conn[96];             /* "address:port": its HTTP/2 connection */
    bool conn_counted;         /* against the tenant's connection cap (gw_grpc.c) */
    h2o_multithread_message_t msg;
    gw_worker_t *w;
    gw_snap_t *snap;
    gw_session_t ss;
    gw_cred_t cred; /* the credentials the call came with (streams check them again) */
    cm_arena_t arena;
    void *state; /* the method's */
    void (*state_free)(void *state);
    void (*on_cancel)(gw_gcall_t *c);
    gw_gtag_t t_new, t_done;
    gw_gop_t op_close, op_send, op_recv, op_end;
    int ops;               /* operations in flight (worker) */
    int cancelled;         /* RECV_CLOSE_ON_SERVER */
    bool gone;             /* the client cancelled or went away */
    bool md_sent;          /* initial metadata went out */
    grpc_byte_buffer *in;  /* gw_grpc_recv's message; NULL at the end of the client's stream */
    grpc_byte_buffer *out; /* the message being sent */
    grpc_byte_buffer *answer;
    grpc_slice status_details;
    grpc_metadata trailer;
    char retry_after[16];
    bool answered;
    /* A throttled call is answered only once its retry time is up (gw_grpc_throttle). */
    h2o_timeout_entry_t hold;
    int hold_s;
    gw_gstatus_t hold_code;
    char hold_msg[512];
};

/** Starts the gRPC server (grpc_listen, and grpc_tls_listen with the TLS certificate). */
gw_grpc_t *gw_grpc_start(gw_t *gw);

/** Stops accepting, cancels calls in progress, waits for them to end, frees everything. */
void gw_grpc_stop(gw_grpc_t *g);

/** Worker receivers: calls handed over by the gRPC thread, and their completed operations. */
void gw_grpc_on_calls(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages);
void gw_grpc_on_ops(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages);

/** Answers a unary call with `msg` (a protobuf-c message). */
void gw_grpc_reply(gw_gcall_t *c, const ProtobufCMessage *msg);

/** The same with a message packed already (gw_grpc_pack; owned). */
void gw_grpc_reply_packed(gw_gcall_t *c, grpc_byte_buffer *msg);

/** Answers with a status other than OK; the message is shown to the caller. */
void gw_grpc_fail(gw_gcall_t *c, gw_gstatus_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The same with a `retry-after` trailer (seconds): RESOURCE_EXHAUSTED, UNAVAILABLE. */
void gw_grpc_fail_retry(gw_gcall_t *c, gw_gstatus_t code, int retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * A call over one of the tenant's quotas (requests, produce bytes, storage): answered
 * RESOURCE_EXHAUSTED with its `retry-after` only once that time is up, as Kafka mutes a
 * throttled channel, so a client ignoring it gains nothing. Refusals that are not
 * throttling (caps, limits) use gw_grpc_fail_retry and are answered at once.
 */
void gw_grpc_throttle(gw_gcall_t *c, int retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Unpacks the call's request message; NULL when malformed (INVALID_ARGUMENT was sent). */
void *gw_grpc_request(gw_gcall_t *c, const ProtobufCMessageDescriptor *d);

/** Unpacks `bb` into `a` (which keeps it); NULL when it is not a valid message. */
void *gw_grpc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d, cm_arena_t *a);

/** Packs `msg` for gw_grpc_send. */
grpc_byte_buffer *gw_grpc_pack(const ProtobufCMessage *msg);

/**
 * Streams: sends one message (owned: destroyed once sent); `done` runs when it went out,
 * or failed (the client is gone). One send at a time.
 */
void gw_grpc_send(gw_gcall_t *c, grpc_byte_buffer *msg, gw_gop_fn done);

/** Streams: reads the client's next message into c->in (NULL: it closed its side); `done`
 * runs then (not ok: the client is gone). One read at a time; the reader owns c->in. */
void gw_grpc_recv(gw_gcall_t *c, gw_gop_fn done);

/** Ends the call with `code` (OK or not) after the messages sent: the answer of streams. */
void gw_grpc_end(gw_gcall_t *c, gw_gstatus_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** A stream's session, checked again as it goes (gw_grpc_recheck). */
typedef struct gw_gsess {
    gw_session_t ss;
    gw_snap_t *snap; /* the snapshot `ss` is from: a reference (gw_snap_release) */
    int64_t checked_ms;
} gw_gsess_t;

/**
 * Streams: checks the call's credentials again, when the snapshot changed or a second has
 * passed, against the worker's newest snapshot, into `au` (first: the call's own session).
 * A revoked key, an expired JWT, a suspended tenant or a removed ACL so reaches long
 * streams. OK, or the status the stream must end with (`msg` says why).
 */
gw_gstatus_t gw_grpc_recheck(gw_gcall_t *c, gw_gsess_t *au, char *msg, size_t cap);

/**
 * The caller's topic `name` for `op` (CM_ACL_OP_DESCRIBE, READ, WRITE, DELETE), or NULL with
 * *code and `msg` set: NOT_FOUND when it is missing, another tenant's or not DESCRIBE-able
 * (the same answer), PERMISSION_DENIED when `op` is not allowed.
 */
const gw_topic_t *gw_grpc_topic(const gw_session_t *ss, const char *name, cm_acl_op_t op,
                                gw_gstatus_t *code, char *msg, size_t cap);

/** The gRPC status that stands for a tenant-facing HTTP status (gw_rest's answers). */
gw_gstatus_t gw_grpc_status_of_http(int http);

/* Method handlers (gw_grpc_topics.c). */
void gw_grpc_create_topic(gw_gcall_t *c);
void gw_grpc_list_topics(gw_gcall_t *c);
void gw_grpc_describe_topic(gw_gcall_t *c);
void gw_grpc_delete_topic(gw_gcall_t *c);

/* Method handlers (gw_grpc_records.c). */
void gw_grpc_produce(gw_gcall_t *c);
void gw_grpc_produce_stream(gw_gcall_t *c);
void gw_grpc_consume(gw_gcall_t *c);
void gw_grpc_list_offsets(gw_gcall_t *c);

/** A record as the API shows it, in `a` (its bytes point into `rec`'s); NULL: out of memory. */
Streaming__V1__Record *gw_grpc_record(cm_arena_t *a, int32_t partition, int64_t offset,
                                      int64_t timestamp_ms, const cm_record_t *rec);

/* Method handlers (gw_grpc_group.c). */
void gw_grpc_consume_group(gw_gcall_t *c, const Streaming__V1__ConsumeRequest *rq);
void gw_grpc_commit_offsets(gw_gcall_t *c);
void gw_grpc_committed_offsets(gw_gcall_t *c);

#endif
