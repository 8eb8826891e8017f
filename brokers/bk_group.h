/*
 * The group coordinator's state machine: Kafka's classic rebalance protocol (client-side
 * assignment), without I/O. The Kafka handlers decode a request, call in here with the
 * current time and a `waiter` (their pending answer), and answer from the callbacks, which
 * may run at once or later; the server's timer calls bk_gcoord_tick. Committed offsets are
 * stored here once they are durable (bk_gcoord_offset_put), which is also what replaying
 * the offsets log at start does.
 *
 * A group's states, as Kafka names them:
 *   Empty                no members (it may hold committed offsets);
 *   PreparingRebalance   members (re)join; the join phase ends when every member has
 *                        rejoined, or at the longest rebalance timeout, when those that
 *                        have not are removed. A group that was empty first waits
 *                        initial_rebalance_delay_ms for more members;
 *   CompletingRebalance  joined: the leader's assignment (SyncGroup) is awaited;
 *   Stable               assigned; heartbeats keep members in;
 *   Dead                 deleted.
 * A member that sends no heartbeat (or JoinGroup, SyncGroup, OffsetCommit) within its
 * session timeout is removed, which starts a rebalance; one waiting for a JoinGroup or
 * SyncGroup answer is not.
 *
 * Loop thread only.
 */
#ifndef BK_GROUP_H
#define BK_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk_gcoord bk_gcoord_t;
typedef struct bk_group bk_group_t;

typedef enum bk_gstate {
    BK_GROUP_EMPTY,
    BK_GROUP_PREPARING,
    BK_GROUP_COMPLETING,
    BK_GROUP_STABLE,
    BK_GROUP_DEAD,
} bk_gstate_t;

/** A protocol a member supports (a consumer's assignor) and its metadata. */
typedef struct bk_gproto {
    const char *name;
    const uint8_t *meta;
    size_t meta_len;
} bk_gproto_t;

/** A member as the leader's JoinGroup answer lists it, and as DescribeGroups shows it. */
typedef struct bk_gmember_view {
    const char *id;
    const char *instance_id; /* NULL: dynamic member */
    const char *client_id;
    const char *client_host;
    const uint8_t *meta; /* for the group's protocol */
    size_t meta_len;
    const uint8_t *assignment;
    size_t assignment_len;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
} bk_gmember_view_t;

typedef struct bk_gjoin_req {
    const char *group_id;
    const char *member_id;   /* "" for a new member */
    const char *instance_id; /* NULL or "": dynamic membership */
    const char *client_id;
    const char *client_host;
    const char *protocol_type;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* -1 (JoinGroup v0): the session timeout */
    const bk_gproto_t *protos;
    int n_protos;
    bool member_id_required; /* v4+: a new member first gets MEMBER_ID_REQUIRED and its id */
} bk_gjoin_req_t;

typedef struct bk_gjoin_res {
    int16_t error;
    int32_t generation;
    const char *protocol_type;
    const char *protocol;
    const char *leader;
    const char *member_id;
    const bk_gmember_view_t *members; /* the leader's answer only */
    int n_members;
} bk_gjoin_res_t;

typedef struct bk_gassign {
    const char *member_id;
    const uint8_t *data;
    size_t len;
} bk_gassign_t;

typedef struct bk_gsync_req {
    const char *group_id;
    const char *member_id;
    const char *instance_id;
    int32_t generation;
    const char *protocol_type; /* NULL: not checked (SyncGroup before v5) */
    const char *protocol;
    const bk_gassign_t *assignments; /* the leader's */
    int n_assignments;
} bk_gsync_req_t;

typedef struct bk_gsync_res {
    int16_t error;
    const char *protocol_type;
    const char *protocol;
    const uint8_t *assignment;
    size_t assignment_len;
} bk_gsync_res_t;

/** Where answers go. A waiter is answered exactly once. */
typedef struct bk_gops {
    void (*join_done)(void *ud, void *waiter, const bk_gjoin_res_t *res);
    void (*sync_done)(void *ud, void *waiter, const bk_gsync_res_t *res);
    /**
     * Optional: the group's membership settled (Stable with an assignment, or Empty after
     * its members left) and is worth storing, so that a restarted coordinator knows its
     * members (bk_gcoord_restore).
     */
    void (*settled)(void *ud, const bk_group_t *g);
    void *ud;
} bk_gops_t;

/** A group's membership as stored, and given back to bk_gcoord_restore. */
typedef struct bk_gsaved {
    int32_t generation;
    const char *protocol_type;        /* "" when none */
    const char *protocol;             /* "" unless one was chosen */
    const char *leader;               /* "" when none */
    bool rebalancing;                 /* stored mid-rebalance: the members must join again */
    const bk_gmember_view_t *members; /* their metadata is for `protocol` */
    int n_members;
} bk_gsaved_t;

typedef struct bk_gcoord_cfg {
    int32_t session_timeout_min_ms;
    int32_t session_timeout_max_ms;
    int32_t initial_rebalance_delay_ms;
    int32_t group_size_max;
} bk_gcoord_cfg_t;

bk_gcoord_t *bk_gcoord_new(const bk_gcoord_cfg_t *cfg, const bk_gops_t *ops);

/** Answers every waiter with NOT_COORDINATOR, then frees everything. */
void bk_gcoord_free(bk_gcoord_t *gc);

void bk_gcoord_join(bk_gcoord_t *gc, const bk_gjoin_req_t *req, int64_t now_ms, void *waiter);
void bk_gcoord_sync(bk_gcoord_t *gc, const bk_gsync_req_t *req, int64_t now_ms, void *waiter);

/** Returns the Heartbeat's error code. */
int16_t bk_gcoord_heartbeat(bk_gcoord_t *gc, const char *group_id, const char *member_id,
                            const char *instance_id, int32_t generation, int64_t now_ms);

/** One member of a LeaveGroup; by instance id alone when member_id is "". */
int16_t bk_gcoord_leave(bk_gcoord_t *gc, const char *group_id, const char *member_id,
                        const char *instance_id, int64_t now_ms);

/**
 * Whether an OffsetCommit may be written: generation -1 with no member id is a commit by a
 * consumer outside the group protocol, allowed while the group has no members (the group
 * is created if it does not exist). A member's commit refreshes its session.
 */
int16_t bk_gcoord_commit_check(bk_gcoord_t *gc, const char *group_id, int32_t generation,
                               const char *member_id, const char *instance_id, int64_t now_ms);

/** Stores a committed offset (durable by now); creates the group (Empty) if needed. */
void bk_gcoord_offset_put(bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition, int64_t offset, int32_t leader_epoch,
                          const char *metadata, int64_t commit_ms);

/** Forgets a committed offset (a tombstone replayed, or a topic deleted). */
void bk_gcoord_offset_del(bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition);

/** A committed offset: false when there is none. `metadata` stays valid until the next change. */
bool bk_gcoord_offset_get(const bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition, int64_t *offset, int32_t *leader_epoch,
                          const char **metadata);

/** Calls fn for each committed offset of a group, in no particular order. */
void bk_gcoord_offsets_each(const bk_gcoord_t *gc, const char *group_id,
                            void (*fn)(void *ud, const char *topic, int32_t partition,
                                       int64_t offset, int32_t leader_epoch, const char *metadata),
                            void *ud);

/**
 * Gives a group back the membership it had when it was stored (replaying the log at
 * start), replacing what it has: Stable with its members, their assignments and a fresh
 * session each, so that they go on heartbeating as if nothing happened; Empty when none;
 * PreparingRebalance when it was stored mid-rebalance. Values out of range are clamped.
 */
void bk_gcoord_restore(bk_gcoord_t *gc, const char *group_id, const bk_gsaved_t *s, int64_t now_ms);

/** The group as bk_gcoord_restore takes it back; members[] (allocated, n_members long) must
 * be freed by the caller, the strings point into the group. */
bk_gsaved_t bk_group_saved(const bk_group_t *g, bk_gmember_view_t **members);

/** Removes an Empty group and its offsets: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP or NONE. */
int16_t bk_gcoord_delete(bk_gcoord_t *gc, const char *group_id);

/**
 * Expires sessions and ends join phases that are due. Returns the time of the next thing
 * due (INT64_MAX: nothing).
 */
int64_t bk_gcoord_tick(bk_gcoord_t *gc, int64_t now_ms);

/* ---- reading groups (ListGroups, DescribeGroups) ---- */

/** Iteration: `*it` starts at 0; NULL at the end. */
const bk_group_t *bk_gcoord_next(const bk_gcoord_t *gc, size_t *it);
const bk_group_t *bk_gcoord_find(const bk_gcoord_t *gc, const char *group_id);

const char *bk_group_id(const bk_group_t *g);
bk_gstate_t bk_group_state(const bk_group_t *g);
/** "Empty", "PreparingRebalance", "CompletingRebalance", "Stable" or "Dead". */
const char *bk_gstate_name(bk_gstate_t s);
int32_t bk_group_generation(const bk_group_t *g);
const char *bk_group_protocol_type(const bk_group_t *g); /* "" when none */
const char *bk_group_protocol(const bk_group_t *g);      /* "" unless joined */
const char *bk_group_leader(const bk_group_t *g);        /* "" when none */
int bk_group_members_n(const bk_group_t *g);
/** Member i; its `meta` is for the group's protocol (empty before one is chosen). */
bk_gmember_view_t bk_group_member(const bk_group_t *g, int i);

#endif
