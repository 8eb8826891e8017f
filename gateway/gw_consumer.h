/*
 * Consumer instances for REST clients: the Kafka REST Proxy v2 consumer API under
 * /kafka/v2/clusters/{cluster_id}/consumers/{group}. An instance is a member of the
 * tenant's consumer group "<tenant>.<group>" on the brokers, played by the gateway: it
 * joins with the classic protocol (range assignment when it leads), heartbeats, rejoins
 * when the coordinator rebalances, keeps its positions, commits, and leaves when deleted
 * or after consumer_instance_timeout_ms without a call.
 *
 * Ownership: an instance lives on one worker thread, chosen by hashing (tenant, group,
 * instance name), so every call for it, on whichever worker its HTTP request arrived,
 * reaches the same state. A call becomes a job: the worker that received it (the origin)
 * checks the caller and posts the job to the owner; the owner runs the instance's jobs one
 * at a time and posts each answer back; the origin sends it. Nothing of an instance is
 * touched by any other thread.
 *
 * gw_consumer.c: jobs, instances, routes; gw_consumer_calls.c: poll, commit, seek,
 * subscription; gw_member.c: the group membership.
 */
#ifndef GW_CONSUMER_H
#define GW_CONSUMER_H

#include "cm_kmsg.h"
#include "gw_kafka.h"
#include "gw_rest.h"

/*
 * A coordinator refuses a new group at the brokers' limits with GROUP_AUTHORIZATION_FAILED
 * (brokers/bk_group_registry.c). The gateway checks group ACLs itself and never sends a
 * call its ACLs refuse, so from a coordinator that error means the limit: 429 with
 * Retry-After over REST, RESOURCE_EXHAUSTED over gRPC, with this message.
 */
#define GW_GROUP_LIMIT_RETRY_S 30
#define GW_GROUP_LIMIT_MSG                                                                         \
    "this tenant has its maximum number of consumer groups (groups_per_tenant_max, or the "       \
    "coordinating broker's groups_max); delete groups it no longer uses (an empty group also "    \
    "goes once its offsets expire), then retry"

/* gw_cpart_t.position before it is known. */
enum {
    GW_CPOS_COMMITTED = -1, /* ask the group for its committed offset */
    GW_CPOS_RESET = -2,     /* no usable offset: auto.offset.reset decides */
    GW_CPOS_EARLIEST = -3,  /* seek to the beginning */
    GW_CPOS_LATEST = -4,    /* seek to the end */
};

/* An assigned partition. */
typedef struct gw_cpart {
    char *topic; /* the tenant's name */
    char *full;  /* the brokers' name */
    int32_t partition;
    int64_t position; /* the next offset to fetch, or a GW_CPOS_ */
    int64_t consumed; /* the offset after the last record handed out; -1: none yet */
} gw_cpart_t;

typedef enum gw_cstate {
    GW_CS_IDLE,      /* not subscribed */
    GW_CS_JOINING,   /* finding the coordinator, joining, syncing */
    GW_CS_POSITIONS, /* assigned; positions being resolved */
    GW_CS_STABLE,    /* assigned, every position known */
} gw_cstate_t;

typedef struct gw_cjob gw_cjob_t;

typedef struct gw_cinst {
    gw_worker_t *w;
    char *key; /* "<tenant id>/<group>/<name>" in the worker's map */
    char tenant_id[40];
    gw_tenant_rt_t *rt; /* its tenant's runtime state (counts the instance) */
    char principal[65]; /* the creator's: only it may use the instance */
    char *group, *full_group, *name;
    int format; /* GW_CFMT_ */
    bool reset_latest;
    bool auto_commit;
    char **topics; /* the subscription (tenant names) */
    int n_topics;
    /* membership (gw_member.c) */
    gw_cstate_t state;
    bool busy;         /* a membership call is in flight */
    uint64_t call_seq; /* tags the calls; the busy step's is the latest */
    bool rejoin;       /* the coordinator started a rebalance */
    bool refused;      /* the coordinator refused to make the group: a limit (gw_member.c) */
    int32_t coordinator;
    char *member_id;
    int32_t generation;
    int64_t retry_at_ms; /* a failed step is tried again then */
    int64_t next_hb_ms;
    bool hb_busy;
    gw_cpart_t *parts;
    int n_parts;
    /* calls */
    gw_cjob_t *jobs; /* queued; the first one runs */
    int64_t last_used_ms;
    int refs; /* broker calls in flight, and the worker's map */
    bool closed;
    /* an instance driven by a gRPC Consume stream (gw_cons_open) rather than by jobs */
    void (*on_kick)(struct gw_cinst *i); /* the membership became stable */
    void *driver;
} gw_cinst_t;

enum { GW_CFMT_BINARY, GW_CFMT_JSON };

typedef enum gw_cjob_kind {
    GW_CJ_CREATE,
    GW_CJ_DELETE,
    GW_CJ_SUBSCRIBE,
    GW_CJ_SUBSCRIPTION,
    GW_CJ_UNSUBSCRIBE,
    GW_CJ_ASSIGNMENTS,
    GW_CJ_COMMIT,
    GW_CJ_COMMITTED,
    GW_CJ_SEEK,
    GW_CJ_SEEK_BEGIN,
    GW_CJ_SEEK_END,
    GW_CJ_POLL,
} gw_cjob_kind_t;

/* A call on an instance (see above). */
struct gw_cjob {
    h2o_multithread_message_t msg;
    gw_cjob_t *next; /* in the instance's queue */
    gw_rreq_t *r;    /* the origin's; the owner reads only its session and body */
    gw_worker_t *origin, *owner;
    gw_cinst_t *inst;
    gw_cjob_kind_t kind;
    const cm_json_t *in; /* the request body, or NULL */
    const char *group, *name, *base_uri;
    gw_session_t ss;
    int64_t timeout_ms, max_bytes;
    int64_t deadline_ms; /* a job waiting for the membership to be stable gives up then */
    bool waiting;
    int phase;
    int pending; /* broker calls in flight */
    /* the answer */
    int status, code, retry_after;
    char msg_text[300];
    cm_sbuf_t out;
    cm_jw_t jw;
    bool first; /* poll: no record written yet */
};

/** Sets a job's error answer. */
void gw_cons_error(gw_cjob_t *j, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Ends the instance's running job: its answer goes back, the next job starts. */
void gw_cons_done(gw_cjob_t *j);

/**
 * True when the instance is a stable member; else the job waits (until it is, then runs
 * again from the start, or until `wait_ms` passed, gw_cons_kick) and false.
 */
bool gw_cons_stable(gw_cjob_t *j, int64_t wait_ms);

/** A copy of `s` (aborts when out of memory). */
char *gw_cons_dup(const char *s);

/** The calls in gw_consumer_calls.c. */
void gw_cons_poll(gw_cjob_t *j);
void gw_cons_offsets(gw_cjob_t *j);
void gw_cons_seek(gw_cjob_t *j);
void gw_cons_subscribe(gw_cjob_t *j);
void gw_cons_show(gw_cjob_t *j);
void gw_cons_topics_free(gw_cinst_t *i);

/** The snapshot and the instance's tenant in it (NULL when the tenant is gone). */
const gw_tenant_t *gw_cons_tenant(gw_cinst_t *i);

/** True when broker calls can be made (the worker has its pool and is not stopping). */
bool gw_cons_can_call(gw_cinst_t *i);

/** Takes and drops a reference (a broker call in flight); the last one frees it. */
void gw_cons_ref(gw_cinst_t *i);
void gw_cons_unref(gw_cinst_t *i);

/** Membership reached GW_CS_STABLE, or failed: lets a waiting job (or the driver) go on. */
void gw_cons_kick(gw_cinst_t *i);

/**
 * An instance for a stream on this worker (a gRPC group Consume): a member of `group` of
 * the session's tenant subscribed to `topic`, which commits only when told, never expires
 * while driven, and calls `on_kick` when its membership becomes stable. NULL when the
 * tenant or the gateway has its maximum of instances.
 */
gw_cinst_t *gw_cons_open(gw_worker_t *w, const gw_session_t *ss, const char *group,
                         const char *topic, bool reset_latest, void (*on_kick)(gw_cinst_t *i),
                         void *driver);

/** Ends a driven instance: it leaves the group (it is freed once its calls are back). The
 * driver holds its instance until then; `closed` says the gateway closed it (stopping). */
void gw_cons_drop(gw_cinst_t *i);

/* ---- gw_member.c ----------------------------------------------------------------------- */

/** Moves the membership on: joins, syncs, resolves positions, as far as it can now. */
void gw_member_step(gw_cinst_t *i);

/** Heartbeats and retries that are due (the worker's consumer tick). */
void gw_member_tick(gw_cinst_t *i, int64_t now_ms);

/** (Re)joins with the current subscription. */
void gw_member_subscribe(gw_cinst_t *i);

/** Leaves the group (LeaveGroup, not awaited) and forgets the assignment. */
void gw_member_leave(gw_cinst_t *i);

/** Commits the consumed positions (not awaited), when there are any. */
void gw_member_commit_consumed(gw_cinst_t *i);

/** A Kafka error that means the membership is stale: rejoin (and forget the member id for
 * UNKNOWN_MEMBER_ID). True when it was one. */
bool gw_member_stale(gw_cinst_t *i, int16_t err);

/** The broker a call for the group goes to, or NULL (the coordinator is looked up again). */
const gw_broker_t *gw_member_coordinator(gw_cinst_t *i);

/** An assigned partition by the brokers' topic name, or NULL. */
gw_cpart_t *gw_member_part(gw_cinst_t *i, cm_kstr_t full, int32_t partition);

/** A partition (by the brokers' topic name) and an offset, for gw_member_encode_offsets. */
typedef struct gw_member_tp {
    const char *full;
    int32_t partition;
    int64_t offset;
    const char *metadata; /* a commit's, or NULL */
} gw_member_tp_t;

/* The versions gw_member_encode_offsets encodes. */
#define GW_MEMBER_OFFSET_COMMIT_VERSION 7
#define GW_MEMBER_OFFSET_FETCH_VERSION  7

/** Encodes group `full_group`'s OffsetCommit (commit: of these offsets, as this member of
 * this generation; -1 and NULL: outside the group) or OffsetFetch (of these partitions)
 * request into `w`. */
void gw_member_encode_offsets(const char *full_group, int32_t generation, const char *member_id,
                              cm_kw_t *w, const gw_member_tp_t *tps, int n, bool commit);

/** An instance's own OffsetCommit or OffsetFetch. */
#define GW_MEMBER_ENCODE_OFFSETS(i, w, tps, n, commit)                                             \
    gw_member_encode_offsets((i)->full_group, (i)->generation, (i)->member_id, (w), (tps), (n),    \
                             (commit))

/** Frees the assignment. */
void gw_member_parts_free(gw_cinst_t *i);

/* ---- fetching for a member (gw_consumer_calls.c) ---------------------------------------- */

/**
 * Sends one Fetch per leader for the assigned partitions whose position is known and whose
 * topic the session may read, holding up to `wait_ms` (a long poll). Returns how many
 * were sent; `cb` runs once for each.
 */
int gw_member_fetch(gw_cinst_t *i, const gw_session_t *ss, int64_t wait_ms, int32_t max_bytes,
                    gw_kcall_fn cb, void *ud);

/** A record of an assigned partition, at offset `off`; false: no more now. */
typedef bool (*gw_member_record_fn)(void *ud, const gw_cpart_t *part, int64_t off,
                                    int64_t timestamp_ms, const cm_record_t *rec);

/**
 * Takes a Fetch answer: each assigned partition's records from its position go to `fn`,
 * and its position moves past what `fn` took; a partition whose position is out of range
 * is reset (auto.offset.reset). Adds the key and value bytes and the records taken.
 */
void gw_member_take(gw_cinst_t *i, const cm_fetch_resp_t *resp, gw_member_record_fn fn, void *ud,
                    uint64_t *bytes, uint64_t *count);

#endif
