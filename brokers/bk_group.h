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
 * Owners. A group belongs to the tenant that owned its name ("<tenant>.<group>") when it was
 * created, told by id (bk_gops_t.owner): once the name's owner is another tenant (one
 * deleted and re-created under the same name) or none, the group is absent to every call,
 * as if it had never existed, and bk_gcoord_reown removes it. Without an owner callback
 * (an unmanaged broker) ownership is not checked.
 *
 * Limits. A new group is refused (nothing is created) with GROUP_AUTHORIZATION_FAILED
 * when the coordinator holds groups_max groups, or its tenant groups_per_tenant_max; a
 * name no tenant owns with INVALID_GROUP_ID. Committed offsets of an Empty group expire
 * (bk_gcoord_expire) offsets retention after they were committed or the group became
 * Empty, whichever is later (Kafka's KIP-211); an Empty group left with none is removed.
 *
 * Two clocks: `now_ms` arguments are monotonic (sessions, rebalances); the times stored with
 * offsets and empty groups are wall-clock milliseconds (bk_gops_t.wall_ms), since they must
 * mean the same after a restart.
 *
 * Loop thread only.
 */
#ifndef BK_GROUP_H
#define BK_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_kbuf.h"

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

/** Who owns a group's name now (bk_gops_t.owner). */
typedef enum bk_gowner {
    BK_GOWNER_UNCHECKED, /* ownership is not checked: every group is its own */
    BK_GOWNER_NONE,      /* no tenant: a group of that name is absent and cannot be made */
    BK_GOWNER_TENANT,    /* the tenant whose id the callback wrote */
} bk_gowner_t;

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
    /** Optional (NULL: BK_GOWNER_UNCHECKED): who owns `group_id` now; sets *id for a tenant. */
    bk_gowner_t (*owner)(void *ud, const char *group_id, cm_kuuid_t *id);
    /** Optional: a new group was refused at a limit (tenant: groups_per_tenant_max). */
    void (*refused)(void *ud, const char *group_id, bool tenant);
    /** Optional (NULL: cm_now_ms): the wall clock, milliseconds since the epoch. */
    int64_t (*wall_ms)(void *ud);
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
    int64_t empty_since_ms; /* wall clock: when it last became Empty; -1: not known */
    cm_kuuid_t tenant;      /* its owner's id; zero: not recorded */
} bk_gsaved_t;

typedef struct bk_gcoord_cfg {
    int32_t session_timeout_min_ms;
    int32_t session_timeout_max_ms;
    int32_t initial_rebalance_delay_ms;
    int32_t group_size_max;
    int32_t groups_max;            /* groups in all; 0: no limit */
    int32_t groups_per_tenant_max; /* groups of one tenant (BK_GOWNER_TENANT); 0: no limit */
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
 * is created if it does not exist and the limits allow). A member's commit refreshes its
 * session.
 */
int16_t bk_gcoord_commit_check(bk_gcoord_t *gc, const char *group_id, int32_t generation,
                               const char *member_id, const char *instance_id, int64_t now_ms);

/**
 * Stores a committed offset (durable by now), committed at `commit_ms` (wall clock) in the
 * group owned by `tenant` (NULL or zero: not recorded); creates the group (Empty) if needed,
 * beyond the limits (the commit was checked before it was written, and a replay must give
 * back what was stored). A group of another recorded owner is replaced by a new one: its
 * offsets are forgotten. Nothing is stored for an owner that no longer owns the name.
 */
void bk_gcoord_offset_put(bk_gcoord_t *gc, const char *group_id, const cm_kuuid_t *tenant,
                          const char *topic, int32_t partition, int64_t offset,
                          int32_t leader_epoch, const char *metadata, int64_t commit_ms);

/** Forgets a committed offset (a tombstone replayed, or a topic deleted). */
void bk_gcoord_offset_del(bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition);

/** A committed offset: false when there is none. `metadata` stays valid until the next change. */
bool bk_gcoord_offset_get(const bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition, int64_t *offset, int32_t *leader_epoch,
                          const char **metadata);

/** A committed offset as bk_gcoord_offsets_each shows it. */
typedef struct bk_goffset_view {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata;
    int64_t commit_ms; /* wall clock */
} bk_goffset_view_t;

/** Calls fn for each committed offset of a group, in no particular order. */
void bk_gcoord_offsets_each(const bk_gcoord_t *gc, const char *group_id,
                            void (*fn)(void *ud, const bk_goffset_view_t *o), void *ud);

/**
 * Gives a group back the membership it had when it was stored (replaying the log at
 * start), replacing what it has: Stable with its members, their assignments and a fresh
 * session each, so that they go on heartbeating as if nothing happened; Empty when none;
 * PreparingRebalance when it was stored mid-rebalance. Values out of range are clamped. A
 * group of another recorded owner is replaced, as in bk_gcoord_offset_put.
 */
void bk_gcoord_restore(bk_gcoord_t *gc, const char *group_id, const bk_gsaved_t *s, int64_t now_ms);

/** The group as bk_gcoord_restore takes it back; members[] (allocated, n_members long) must
 * be freed by the caller, the strings point into the group. */
bk_gsaved_t bk_group_saved(const bk_group_t *g, bk_gmember_view_t **members);

/** Removes an Empty group and its offsets: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP or NONE. */
int16_t bk_gcoord_delete(bk_gcoord_t *gc, const char *group_id);

/** Removes a group whatever its state or owner (a deletion replayed); waiting members are
 * answered COORDINATOR_NOT_AVAILABLE. */
void bk_gcoord_forget(bk_gcoord_t *gc, const char *group_id);

/**
 * Brings every group in line with its name's owner (the owners changed: a new cluster
 * snapshot): a group the owner callback no longer gives to its recorded tenant is removed,
 * `gone` being called with its id first (to record the removal); one recorded without an
 * owner (stored before owners were) takes the name's current owner. Returns how many were
 * removed; *adopted (may be NULL) gets how many took an owner. O(groups).
 */
int bk_gcoord_reown(bk_gcoord_t *gc, void (*gone)(void *ud, const char *group_id), void *ud,
                    int *adopted);

/**
 * One step of the offsets expiry sweep: looks at groups from where the last step stopped
 * until about `work_max` groups and offsets were looked at. In an Empty group, each offset
 * for which `wall_ms` - max(its commit time, the time the group became Empty) >=
 * `retention_ms` is removed, `expired` being called with it; then a group left with no
 * offsets is removed, `expired` being called with topic NULL. Returns true when the step
 * reached the last group (the sweep is over; the next one starts from the first).
 */
bool bk_gcoord_expire(bk_gcoord_t *gc, int64_t wall_ms, int64_t retention_ms, int work_max,
                      void (*expired)(void *ud, const char *group_id, const char *topic,
                                      int32_t partition),
                      void *ud);

/** The groups held, owned by their name's owner or not (removed ones are not held). */
size_t bk_gcoord_size(const bk_gcoord_t *gc);

/**
 * Expires sessions and ends join phases that are due. Returns the time of the next thing
 * due (INT64_MAX: nothing).
 */
int64_t bk_gcoord_tick(bk_gcoord_t *gc, int64_t now_ms);

/* ---- reading groups (ListGroups, DescribeGroups) ---- */

/** Iteration over the groups their names' owners own: `*it` starts at 0; NULL at the end. */
const bk_group_t *bk_gcoord_next(const bk_gcoord_t *gc, size_t *it);
/** The group, when its name's owner owns it; else NULL. */
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
/** The id of the tenant that owned the group's name when it was made (zero: not recorded). */
cm_kuuid_t bk_group_tenant(const bk_group_t *g);
/** Wall clock: when the group last became Empty (-1: not since it was made or stored). */
int64_t bk_group_empty_since(const bk_group_t *g);

#endif
