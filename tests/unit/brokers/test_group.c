/*
 * The group coordinator's state machine (bk_group.c), driven with a fake clock: join and
 * sync, MEMBER_ID_REQUIRED, heartbeat expiry, the rebalance timeout, leave, stale
 * generations, commits during a rebalance, the initial delay, protocol choice, static
 * members, offsets and group deletion, and a membership stored and restored.
 */
#include "cmocka_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_group.h"
#include "cm_kproto.h"

#define W(n)        ((void *)(intptr_t)(n)) /* waiter n */
#define ANSWERS_MAX 64

typedef struct answer {
    int times; /* answered how often (must end at 1) */
    int16_t error;
    int32_t generation;
    char member[256];
    char leader[256];
    char protocol[64];
    int n_members;
    char members[4][256];
    char assignment[64];
} answer_t;

static answer_t ans[ANSWERS_MAX];
static int settled_n;             /* times bk_gops_t.settled was called */
static bk_gstate_t settled_state; /* the group's state then */

static void on_settled(void *ud, const bk_group_t *g)
{
    settled_n++;
    settled_state = bk_group_state(g);
    (void)ud;
}

static void on_join(void *ud, void *waiter, const bk_gjoin_res_t *res)
{
    answer_t *a = &ans[(intptr_t)waiter];
    a->times++;
    a->error = res->error;
    a->generation = res->generation;
    snprintf(a->member, sizeof(a->member), "%s", res->member_id);
    snprintf(a->leader, sizeof(a->leader), "%s", res->leader);
    snprintf(a->protocol, sizeof(a->protocol), "%s", res->protocol);
    a->n_members = res->n_members;
    for (int i = 0; i < res->n_members && i < 4; i++)
        snprintf(a->members[i], sizeof(a->members[i]), "%s", res->members[i].id);
    (void)ud;
}

static void on_sync(void *ud, void *waiter, const bk_gsync_res_t *res)
{
    answer_t *a = &ans[(intptr_t)waiter];
    a->times++;
    a->error = res->error;
    snprintf(a->protocol, sizeof(a->protocol), "%s", res->protocol);
    snprintf(a->assignment, sizeof(a->assignment), "%.*s", (int)res->assignment_len,
             res->assignment != NULL ? (const char *)res->assignment : "");
    (void)ud;
}

static bk_gcoord_t *coord(int32_t initial_delay_ms)
{
    memset(ans, 0, sizeof(ans));
    settled_n = 0;
    bk_gcoord_cfg_t cfg = { .session_timeout_min_ms = 1000,
                            .session_timeout_max_ms = 300000,
                            .initial_rebalance_delay_ms = initial_delay_ms,
                            .group_size_max = 4 };
    bk_gops_t ops = { .join_done = on_join, .sync_done = on_sync, .settled = on_settled };
    return bk_gcoord_new(&cfg, &ops);
}

static const bk_gproto_t RANGE[] = { { "range", (const uint8_t *)"r", 1 } };

/* A JoinGroup of a consumer with the "range" assignor: 10 s session, 20 s rebalance. */
static void join(bk_gcoord_t *gc, const char *member, int n, int64_t now)
{
    bk_gjoin_req_t req = { .group_id = "g",
                           .member_id = member,
                           .client_id = "c",
                           .client_host = "/127.0.0.1",
                           .protocol_type = "consumer",
                           .session_timeout_ms = 10000,
                           .rebalance_timeout_ms = 20000,
                           .protos = RANGE,
                           .n_protos = 1,
                           .member_id_required = true };
    bk_gcoord_join(gc, &req, now, W(n));
}

static void sync_(bk_gcoord_t *gc, const char *member, int32_t gen, int n, int64_t now,
                  const bk_gassign_t *as, int n_as)
{
    bk_gsync_req_t req = { .group_id = "g",
                           .member_id = member,
                           .generation = gen,
                           .protocol_type = "consumer",
                           .protocol = "range",
                           .assignments = as,
                           .n_assignments = n_as };
    bk_gcoord_sync(gc, &req, now, W(n));
}

static const bk_group_t *group(bk_gcoord_t *gc)
{
    const bk_group_t *g = bk_gcoord_find(gc, "g");
    assert_non_null(g);
    return g;
}

/* A new member: MEMBER_ID_REQUIRED with its id, then the join with it. Returns its id. */
static const char *member_in(bk_gcoord_t *gc, int n1, int n2, int64_t now)
{
    join(gc, "", n1, now);
    assert_int_equal(ans[n1].times, 1);
    assert_int_equal(ans[n1].error, CM_KERR_MEMBER_ID_REQUIRED);
    assert_true(strncmp(ans[n1].member, "c-", 2) == 0);
    join(gc, ans[n1].member, n2, now);
    return ans[n1].member;
}

/* A and B in generation 2, Stable, A the leader with "a" assigned, B with "b". */
static void two_stable(bk_gcoord_t *gc, char a[256], char b[256])
{
    snprintf(a, 256, "%s", member_in(gc, 1, 2, 0));
    assert_int_equal(ans[2].times, 1);
    assert_int_equal(ans[2].error, 0);
    assert_int_equal(ans[2].generation, 1);
    assert_string_equal(ans[2].leader, a);
    assert_int_equal(ans[2].n_members, 1);
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_COMPLETING);

    /* B arrives before A synced: a new join phase that waits for A. */
    snprintf(b, 256, "%s", member_in(gc, 3, 4, 10));
    assert_int_equal(ans[4].times, 0);
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_PREPARING);
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", a, NULL, 1, 20), CM_KERR_REBALANCE_IN_PROGRESS);
    join(gc, a, 5, 30);
    assert_int_equal(ans[5].times, 1);
    assert_int_equal(ans[4].times, 1);
    assert_int_equal(ans[5].generation, 2);
    assert_int_equal(ans[4].generation, 2);
    assert_string_equal(ans[5].leader, a);
    assert_string_equal(ans[4].leader, a);
    assert_int_equal(ans[5].n_members, 2); /* the leader sees the members */
    assert_int_equal(ans[4].n_members, 0);
    assert_string_equal(ans[5].protocol, "range");

    /* B's SyncGroup waits for the leader's. */
    sync_(gc, b, 2, 6, 40, NULL, 0);
    assert_int_equal(ans[6].times, 0);
    bk_gassign_t as[] = { { a, (const uint8_t *)"a", 1 }, { b, (const uint8_t *)"b", 1 } };
    sync_(gc, a, 2, 7, 50, as, 2);
    assert_int_equal(ans[7].times, 1);
    assert_int_equal(ans[6].times, 1);
    assert_string_equal(ans[7].assignment, "a");
    assert_string_equal(ans[6].assignment, "b");
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_STABLE);
}

static void test_group__join_sync_and_rejoin(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    /* A late SyncGroup of a member of a stable group gets its assignment again. */
    sync_(gc, b, 2, 8, 60, NULL, 0);
    assert_int_equal(ans[8].error, 0);
    assert_string_equal(ans[8].assignment, "b");
    /* A follower rejoining with the same metadata gets the current generation back, no
     * rebalance. */
    join(gc, b, 9, 70);
    assert_int_equal(ans[9].times, 1);
    assert_int_equal(ans[9].generation, 2);
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_STABLE);
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", a, NULL, 2, 80), 0);
    bk_gcoord_free(gc);
    (void)state;
}

static void test_group__session_expiry(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    /* A heartbeats; B goes silent. */
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", a, NULL, 2, 9000), 0);
    int64_t next = bk_gcoord_tick(gc, 9000);
    assert_true(next == 10050); /* B's session: its SyncGroup at 40 + 10 s */
    bk_gcoord_tick(gc, 10050);
    assert_int_equal(bk_group_members_n(group(gc)), 1);
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_PREPARING);
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", b, NULL, 2, 10060), CM_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", a, NULL, 2, 10060),
                     CM_KERR_REBALANCE_IN_PROGRESS);
    join(gc, a, 10, 10070);
    assert_int_equal(ans[10].generation, 3);
    assert_int_equal(ans[10].n_members, 1);
    bk_gcoord_free(gc);
    (void)state;
}

static void test_group__rebalance_timeout(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    /* A leaves and rejoins at once; B keeps heartbeating but never rejoins. */
    join(gc, a, 10, 100); /* the leader rejoining starts a rebalance */
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_PREPARING);
    assert_int_equal(ans[10].times, 0);
    for (int64_t t = 1000; t < 20100; t += 3000)
        assert_int_equal(bk_gcoord_heartbeat(gc, "g", b, NULL, 2, t),
                         CM_KERR_REBALANCE_IN_PROGRESS);
    bk_gcoord_tick(gc, 20099);
    assert_int_equal(ans[10].times, 0);
    bk_gcoord_tick(gc, 20100); /* 100 + the 20 s rebalance timeout */
    assert_int_equal(ans[10].times, 1);
    assert_int_equal(ans[10].generation, 3);
    assert_int_equal(ans[10].n_members, 1);
    assert_int_equal(bk_group_members_n(group(gc)), 1);
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", b, NULL, 3, 20200), CM_KERR_UNKNOWN_MEMBER_ID);
    bk_gcoord_free(gc);
    (void)state;
}

static void test_group__leave(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    assert_int_equal(bk_gcoord_leave(gc, "g", b, NULL, 100), 0);
    assert_int_equal(bk_gcoord_leave(gc, "g", b, NULL, 101), CM_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_PREPARING);
    join(gc, a, 10, 110);
    assert_int_equal(ans[10].generation, 3);
    assert_int_equal(bk_gcoord_leave(gc, "g", a, NULL, 120), 0);
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_EMPTY);
    assert_int_equal(bk_group_generation(group(gc)), 4);
    /* An empty group with no offsets is forgotten. */
    bk_gcoord_tick(gc, 130);
    assert_null(bk_gcoord_find(gc, "g"));
    bk_gcoord_free(gc);
    (void)state;
}

static void test_group__stale_generation_and_unknown_member(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", a, NULL, 1, 100), CM_KERR_ILLEGAL_GENERATION);
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", "nobody", NULL, 2, 100),
                     CM_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(bk_gcoord_heartbeat(gc, "other", a, NULL, 2, 100), CM_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(bk_gcoord_heartbeat(gc, "", a, NULL, 2, 100), CM_KERR_INVALID_GROUP_ID);
    sync_(gc, a, 1, 10, 100, NULL, 0);
    assert_int_equal(ans[10].error, CM_KERR_ILLEGAL_GENERATION);
    sync_(gc, "nobody", 2, 11, 100, NULL, 0);
    assert_int_equal(ans[11].error, CM_KERR_UNKNOWN_MEMBER_ID);
    join(gc, "nobody", 12, 100);
    assert_int_equal(ans[12].error, CM_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(bk_gcoord_commit_check(gc, "g", 1, a, NULL, 100), CM_KERR_ILLEGAL_GENERATION);
    assert_int_equal(bk_gcoord_commit_check(gc, "g", 2, "nobody", NULL, 100),
                     CM_KERR_UNKNOWN_MEMBER_ID);
    bk_gcoord_free(gc);
    (void)state;
}

static void test_group__commit_during_rebalance(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    assert_int_equal(bk_gcoord_commit_check(gc, "g", 2, a, NULL, 100), 0);
    /* A rebalance starts (B rejoins with new metadata): commits of the generation that is
     * ending still go through, as Kafka allows, so work done is not lost. */
    bk_gproto_t other[] = { { "range", (const uint8_t *)"r2", 2 } };
    bk_gjoin_req_t req = { .group_id = "g",
                           .member_id = b,
                           .client_id = "c",
                           .protocol_type = "consumer",
                           .session_timeout_ms = 10000,
                           .rebalance_timeout_ms = 20000,
                           .protos = other,
                           .n_protos = 1 };
    bk_gcoord_join(gc, &req, 110, W(10));
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_PREPARING);
    assert_int_equal(bk_gcoord_commit_check(gc, "g", 2, a, NULL, 120), 0);
    /* A commit outside the group protocol is refused while the group has members. */
    assert_int_equal(bk_gcoord_commit_check(gc, "g", -1, "", NULL, 120), CM_KERR_UNKNOWN_MEMBER_ID);
    join(gc, a, 11, 130);
    assert_int_equal(ans[11].generation, 3);
    /* Joined, not yet assigned: a commit waits for the assignment. */
    assert_int_equal(bk_gcoord_commit_check(gc, "g", 3, a, NULL, 140),
                     CM_KERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(bk_gcoord_commit_check(gc, "g", 2, a, NULL, 140), CM_KERR_ILLEGAL_GENERATION);
    /* The SyncGroup B sent before the rebalance started is told to rejoin. */
    bk_gcoord_free(gc);
    /* A group nobody is in takes commits outside the group protocol. */
    gc = coord(0);
    assert_int_equal(bk_gcoord_commit_check(gc, "solo", -1, "", NULL, 0), 0);
    bk_gcoord_offset_put(gc, "solo", "t", 0, 42, -1, "meta", 0);
    int64_t off;
    int32_t epoch;
    const char *meta;
    assert_true(bk_gcoord_offset_get(gc, "solo", "t", 0, &off, &epoch, &meta));
    assert_int_equal(off, 42);
    assert_string_equal(meta, "meta");
    assert_false(bk_gcoord_offset_get(gc, "solo", "t", 1, &off, &epoch, &meta));
    bk_gcoord_free(gc);
    (void)state;
}

static void test_group__sync_voided_by_rebalance(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256];
    snprintf(a, sizeof(a), "%s", member_in(gc, 1, 2, 0));
    char b[256];
    snprintf(b, sizeof(b), "%s", member_in(gc, 3, 4, 10));
    join(gc, a, 5, 20);
    assert_int_equal(ans[4].generation, 2);
    /* B syncs and waits; before the leader assigns, a third member arrives. */
    sync_(gc, b, 2, 6, 30, NULL, 0);
    assert_int_equal(ans[6].times, 0);
    member_in(gc, 7, 8, 40);
    assert_int_equal(ans[6].times, 1);
    assert_int_equal(ans[6].error, CM_KERR_REBALANCE_IN_PROGRESS);
    /* The leader's assignment for the old generation is refused. */
    sync_(gc, a, 2, 9, 50, NULL, 0);
    assert_int_equal(ans[9].error, CM_KERR_REBALANCE_IN_PROGRESS);
    bk_gcoord_free(gc);
    /* Pending waiters are answered when the coordinator goes away. */
    assert_int_equal(ans[8].times, 1);
    assert_int_equal(ans[8].error, CM_KERR_NOT_COORDINATOR);
    (void)state;
}

static void test_group__initial_delay(void **state)
{
    bk_gcoord_t *gc = coord(3000);
    member_in(gc, 1, 2, 0);
    assert_int_equal(ans[2].times, 0);
    member_in(gc, 3, 4, 1000); /* another member: the wait is extended */
    assert_int_equal(bk_gcoord_tick(gc, 2999), 4000);
    bk_gcoord_tick(gc, 3999);
    assert_int_equal(ans[2].times, 0);
    bk_gcoord_tick(gc, 4000);
    assert_int_equal(ans[2].times, 1);
    assert_int_equal(ans[4].times, 1);
    assert_int_equal(ans[2].generation, 1);
    assert_int_equal(ans[2].n_members + ans[4].n_members, 2);
    bk_gcoord_free(gc);
    (void)state;
}

static void test_group__protocols(void **state)
{
    bk_gcoord_t *gc = coord(0);
    bk_gproto_t ab[] = { { "roundrobin", NULL, 0 }, { "range", NULL, 0 } };
    bk_gproto_t ba[] = { { "range", NULL, 0 }, { "roundrobin", NULL, 0 } };
    bk_gproto_t c[] = { { "cooperative", NULL, 0 } };
    bk_gjoin_req_t req = { .group_id = "g",
                           .member_id = "",
                           .client_id = "x",
                           .protocol_type = "consumer",
                           .session_timeout_ms = 10000,
                           .rebalance_timeout_ms = 20000,
                           .protos = ab,
                           .n_protos = 2 };
    bk_gcoord_join(gc, &req, 0, W(1)); /* v3: no MEMBER_ID_REQUIRED */
    assert_int_equal(ans[1].error, 0);
    assert_string_equal(ans[1].protocol, "roundrobin");
    /* Another protocol type, or no protocol in common: refused, nothing changes. */
    req.protocol_type = "connect";
    bk_gcoord_join(gc, &req, 10, W(2));
    assert_int_equal(ans[2].error, CM_KERR_INCONSISTENT_GROUP_PROTOCOL);
    req.protocol_type = "consumer";
    req.protos = c;
    req.n_protos = 1;
    bk_gcoord_join(gc, &req, 10, W(3));
    assert_int_equal(ans[3].error, CM_KERR_INCONSISTENT_GROUP_PROTOCOL);
    assert_int_equal(bk_group_members_n(group(gc)), 1);
    /* Two members preferring range, one roundrobin: range wins the vote. */
    req.protos = ba;
    req.n_protos = 2;
    bk_gcoord_join(gc, &req, 20, W(4));
    bk_gcoord_join(gc, &req, 20, W(5));
    req.member_id = ans[1].member;
    req.protos = ab;
    bk_gcoord_join(gc, &req, 30, W(6));
    assert_int_equal(ans[6].times, 1);
    assert_string_equal(ans[6].protocol, "range");
    /* Bad requests. */
    req.member_id = "";
    req.session_timeout_ms = 10;
    bk_gcoord_join(gc, &req, 40, W(7));
    assert_int_equal(ans[7].error, CM_KERR_INVALID_SESSION_TIMEOUT);
    req.session_timeout_ms = 10000;
    req.group_id = "";
    bk_gcoord_join(gc, &req, 40, W(8));
    assert_int_equal(ans[8].error, CM_KERR_INVALID_GROUP_ID);
    /* The size cap (4): a fourth member fits, a fifth does not. */
    req.group_id = "g";
    bk_gcoord_join(gc, &req, 50, W(9));
    assert_int_equal(bk_group_members_n(group(gc)), 4);
    bk_gcoord_join(gc, &req, 50, W(10));
    assert_int_equal(ans[10].error, CM_KERR_GROUP_MAX_SIZE_REACHED);
    bk_gcoord_free(gc);
    (void)state;
}

static void test_group__static_member(void **state)
{
    bk_gcoord_t *gc = coord(0);
    bk_gjoin_req_t req = { .group_id = "g",
                           .member_id = "",
                           .instance_id = "host-1",
                           .client_id = "c",
                           .protocol_type = "consumer",
                           .session_timeout_ms = 10000,
                           .rebalance_timeout_ms = 20000,
                           .protos = RANGE,
                           .n_protos = 1,
                           .member_id_required = true };
    bk_gcoord_join(gc, &req, 0, W(1)); /* static members get no MEMBER_ID_REQUIRED */
    assert_int_equal(ans[1].error, 0);
    char old[256];
    snprintf(old, sizeof(old), "%s", ans[1].member);
    bk_gassign_t as[] = { { old, (const uint8_t *)"p0", 2 } };
    bk_gsync_req_t s = { .group_id = "g",
                         .member_id = old,
                         .instance_id = "host-1",
                         .generation = 1,
                         .assignments = as,
                         .n_assignments = 1 };
    bk_gcoord_sync(gc, &s, 10, W(2));
    assert_string_equal(ans[2].assignment, "p0");
    /* The instance restarts: a new member id takes its place; the old one is fenced. */
    bk_gcoord_join(gc, &req, 20, W(3));
    assert_int_equal(ans[3].error, 0);
    assert_string_not_equal(ans[3].member, old);
    assert_int_equal(bk_group_members_n(group(gc)), 1);
    assert_int_equal(bk_gcoord_heartbeat(gc, "g", old, "host-1", ans[3].generation, 30),
                     CM_KERR_FENCED_INSTANCE_ID);
    assert_int_equal(bk_gcoord_leave(gc, "g", "", "host-1", 40), 0);
    assert_int_equal(bk_group_members_n(group(gc)), 0);
    bk_gcoord_free(gc);
    (void)state;
}

static void count_offsets(void *ud, const char *topic, int32_t partition, int64_t offset,
                          int32_t epoch, const char *metadata)
{
    *(int64_t *)ud += offset;
    assert_string_equal(topic, "t");
    assert_true(partition == 0 || partition == 1);
    (void)epoch;
    (void)metadata;
}

static void test_group__offsets_and_delete(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    bk_gcoord_offset_put(gc, "g", "t", 0, 10, 3, "", 0);
    bk_gcoord_offset_put(gc, "g", "t", 1, 20, 3, "", 0);
    bk_gcoord_offset_put(gc, "g", "t", 1, 25, 4, "x", 0);
    int64_t sum = 0;
    bk_gcoord_offsets_each(gc, "g", count_offsets, &sum);
    assert_int_equal(sum, 35);
    assert_int_equal(bk_gcoord_delete(gc, "g"), CM_KERR_NON_EMPTY_GROUP);
    assert_int_equal(bk_gcoord_delete(gc, "none"), CM_KERR_GROUP_ID_NOT_FOUND);
    assert_int_equal(bk_gcoord_leave(gc, "g", a, NULL, 10), 0);
    assert_int_equal(bk_gcoord_leave(gc, "g", b, NULL, 10), 0);
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_EMPTY);
    /* Offsets keep an empty group. */
    bk_gcoord_tick(gc, 20);
    assert_non_null(bk_gcoord_find(gc, "g"));
    bk_gcoord_offset_del(gc, "g", "t", 0);
    sum = 0;
    bk_gcoord_offsets_each(gc, "g", count_offsets, &sum);
    assert_int_equal(sum, 25);
    assert_int_equal(bk_gcoord_delete(gc, "g"), 0);
    assert_null(bk_gcoord_find(gc, "g"));
    assert_int_equal(bk_gcoord_delete(gc, "g"), CM_KERR_GROUP_ID_NOT_FOUND);
    bk_gcoord_free(gc);
    (void)state;
}

/* What a coordinator stored (bk_group_saved) is what a new one restores: the members go on
 * with their generation and assignments, as after a broker restart. */
static void test_group__restore(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    assert_int_equal(settled_n, 1); /* stored once assigned */
    assert_int_equal(settled_state, BK_GROUP_STABLE);
    bk_gmember_view_t *views;
    bk_gsaved_t saved = bk_group_saved(group(gc), &views);
    assert_int_equal(saved.generation, 2);
    assert_int_equal(saved.n_members, 2);
    assert_false(saved.rebalancing);
    assert_string_equal(saved.leader, a);
    assert_int_equal(views[0].session_timeout_ms, 10000);

    bk_gcoord_t *gc2 = coord(0);
    bk_gcoord_restore(gc2, "g", &saved, 100000);
    free(views);
    bk_gcoord_free(gc);
    assert_int_equal(settled_n, 0); /* restoring stores nothing */
    const bk_group_t *g = group(gc2);
    assert_int_equal(bk_group_state(g), BK_GROUP_STABLE);
    assert_int_equal(bk_group_generation(g), 2);
    assert_string_equal(bk_group_leader(g), a);
    assert_string_equal(bk_group_protocol(g), "range");
    assert_string_equal(bk_group_protocol_type(g), "consumer");
    bk_gmember_view_t m = bk_group_member(g, 1);
    assert_int_equal(m.meta_len, 1);
    assert_memory_equal(m.meta, "r", 1);
    /* Members carry on: heartbeats of their generation, SyncGroup gives the assignment. */
    assert_int_equal(bk_gcoord_heartbeat(gc2, "g", a, NULL, 2, 100010), 0);
    assert_int_equal(bk_gcoord_heartbeat(gc2, "g", b, NULL, 1, 100010), CM_KERR_ILLEGAL_GENERATION);
    assert_int_equal(bk_gcoord_heartbeat(gc2, "g", "x", NULL, 2, 100010),
                     CM_KERR_UNKNOWN_MEMBER_ID);
    sync_(gc2, b, 2, 20, 100020, NULL, 0);
    assert_int_equal(ans[20].error, 0);
    assert_string_equal(ans[20].assignment, "b");
    assert_int_equal(bk_gcoord_commit_check(gc2, "g", 2, a, NULL, 100030), 0);
    /* Sessions start at the restore: B, silent since its sync, is dropped 10 s after it. */
    assert_int_equal(bk_gcoord_heartbeat(gc2, "g", a, NULL, 2, 108000), 0);
    bk_gcoord_tick(gc2, 110019);
    assert_int_equal(bk_group_members_n(group(gc2)), 2);
    bk_gcoord_tick(gc2, 110020);
    assert_int_equal(bk_group_members_n(group(gc2)), 1);
    assert_int_equal(bk_group_state(group(gc2)), BK_GROUP_PREPARING);
    /* The last member leaves: Empty is stored too. */
    join(gc2, a, 21, 110030);
    assert_int_equal(ans[21].generation, 3);
    assert_int_equal(bk_gcoord_leave(gc2, "g", a, NULL, 110040), 0);
    assert_int_equal(settled_n, 1);
    assert_int_equal(settled_state, BK_GROUP_EMPTY);

    /* Stored mid-rebalance: members must join again. Timeouts out of range are clamped. */
    bk_gmember_view_t one = { .id = "m1",
                              .client_id = "c",
                              .client_host = "h",
                              .session_timeout_ms = 1,
                              .rebalance_timeout_ms = 1 };
    bk_gsaved_t mid = { .generation = 7,
                        .protocol_type = "consumer",
                        .protocol = "range",
                        .leader = "gone",
                        .rebalancing = true,
                        .members = &one,
                        .n_members = 1 };
    bk_gcoord_restore(gc2, "h", &mid, 200000);
    const bk_group_t *h = bk_gcoord_find(gc2, "h");
    assert_non_null(h);
    assert_int_equal(bk_group_state(h), BK_GROUP_PREPARING);
    assert_string_equal(bk_group_leader(h), "m1");
    assert_int_equal(bk_gcoord_heartbeat(gc2, "h", "m1", NULL, 7, 200010),
                     CM_KERR_REBALANCE_IN_PROGRESS);
    /* It never rejoins: dropped at the (clamped: 1 s) rebalance timeout, the group Empty
     * (and kept: it has an offset). */
    bk_gcoord_offset_put(gc2, "h", "t", 0, 1, -1, "", 0);
    bk_gcoord_tick(gc2, 200999);
    assert_int_equal(bk_group_state(bk_gcoord_find(gc2, "h")), BK_GROUP_PREPARING);
    bk_gcoord_tick(gc2, 201000);
    assert_int_equal(bk_group_state(bk_gcoord_find(gc2, "h")), BK_GROUP_EMPTY);
    /* A restored empty group keeps its protocol type. */
    bk_gsaved_t empty = {
        .generation = 4, .protocol_type = "consumer", .protocol = "", .leader = ""
    };
    bk_gcoord_restore(gc2, "e", &empty, 200000);
    assert_int_equal(bk_group_state(bk_gcoord_find(gc2, "e")), BK_GROUP_EMPTY);
    assert_string_equal(bk_group_protocol_type(bk_gcoord_find(gc2, "e")), "consumer");
    bk_gcoord_free(gc2);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group__join_sync_and_rejoin),
        cmocka_unit_test(test_group__session_expiry),
        cmocka_unit_test(test_group__rebalance_timeout),
        cmocka_unit_test(test_group__leave),
        cmocka_unit_test(test_group__stale_generation_and_unknown_member),
        cmocka_unit_test(test_group__commit_during_rebalance),
        cmocka_unit_test(test_group__sync_voided_by_rebalance),
        cmocka_unit_test(test_group__initial_delay),
        cmocka_unit_test(test_group__protocols),
        cmocka_unit_test(test_group__static_member),
        cmocka_unit_test(test_group__offsets_and_delete),
        cmocka_unit_test(test_group__restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
