/*
 * The group coordinator's state machine (bk_group.c), driven with a fake clock: join and
 * sync, MEMBER_ID_REQUIRED, heartbeat expiry, the rebalance timeout, leave, stale
 * generations, commits during a rebalance, the initial delay, protocol choice, static
 * members, offsets and group deletion, a membership stored and restored; groups of a
 * tenant made again under the same name, owners replayed and adopted, offsets expiry on a
 * fake wall clock, and the group limits.
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

/* The owners of group names: unchecked (an unmanaged broker) unless a test sets some. */
static bool owners_on;
static struct {
    const char *tenant;
    cm_kuuid_t id;
} owners[4];
static int refused_n, refused_tenant_n; /* bk_gops_t.refused calls, for the tenant limit */
static int64_t wall_now;                /* the fake wall clock */

static bk_gowner_t on_owner(void *ud, const char *group, cm_kuuid_t *id)
{
    (void)ud;
    if (!owners_on)
        return BK_GOWNER_UNCHECKED;
    const char *dot = strchr(group, '.');
    for (int i = 0; dot != NULL && i < 4; i++)
        if (owners[i].tenant != NULL && strlen(owners[i].tenant) == (size_t)(dot - group) &&
            strncmp(owners[i].tenant, group, (size_t)(dot - group)) == 0) {
            *id = owners[i].id;
            return BK_GOWNER_TENANT;
        }
    return BK_GOWNER_NONE;
}

static void on_refused(void *ud, const char *group, bool tenant)
{
    refused_n++;
    refused_tenant_n += tenant;
    (void)ud;
    (void)group;
}

static int64_t on_wall(void *ud)
{
    (void)ud;
    return wall_now;
}

static cm_kuuid_t uuid(uint8_t n)
{
    cm_kuuid_t u = { { 0 } };
    u.b[15] = n;
    return u;
}

static bk_gcoord_t *coord_limited(int32_t initial_delay_ms, int32_t groups_max,
                                  int32_t per_tenant_max)
{
    memset(ans, 0, sizeof(ans));
    settled_n = refused_n = refused_tenant_n = 0;
    owners_on = false;
    memset(owners, 0, sizeof(owners));
    wall_now = 0;
    bk_gcoord_cfg_t cfg = { .session_timeout_min_ms = 1000,
                            .session_timeout_max_ms = 300000,
                            .initial_rebalance_delay_ms = initial_delay_ms,
                            .group_size_max = 4,
                            .groups_max = groups_max,
                            .groups_per_tenant_max = per_tenant_max };
    bk_gops_t ops = { .join_done = on_join,
                      .sync_done = on_sync,
                      .settled = on_settled,
                      .owner = on_owner,
                      .refused = on_refused,
                      .wall_ms = on_wall };
    return bk_gcoord_new(&cfg, &ops);
}

static bk_gcoord_t *coord(int32_t initial_delay_ms)
{
    return coord_limited(initial_delay_ms, 0, 0);
}

static const bk_gproto_t RANGE[] = { { "range", (const uint8_t *)"r", 1 } };

/* A JoinGroup of a consumer of group `group` with the "range" assignor: 10 s session, 20 s
 * rebalance. */
static void join_in(bk_gcoord_t *gc, const char *group, const char *member, int n, int64_t now)
{
    bk_gjoin_req_t req = { .group_id = group,
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

/* The same in group "g". */
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
    bk_gcoord_offset_put(gc, "solo", NULL, "t", 0, 42, -1, "meta", 0);
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

static void count_offsets(void *ud, const bk_goffset_view_t *o)
{
    *(int64_t *)ud += o->offset;
    assert_string_equal(o->topic, "t");
    assert_true(o->partition == 0 || o->partition == 1);
}

static void test_group__offsets_and_delete(void **state)
{
    bk_gcoord_t *gc = coord(0);
    char a[256], b[256];
    two_stable(gc, a, b);
    bk_gcoord_offset_put(gc, "g", NULL, "t", 0, 10, 3, "", 0);
    bk_gcoord_offset_put(gc, "g", NULL, "t", 1, 20, 3, "", 0);
    bk_gcoord_offset_put(gc, "g", NULL, "t", 1, 25, 4, "x", 0);
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
    bk_gcoord_offset_put(gc2, "h", NULL, "t", 0, 1, -1, "", 0);
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

/* ---- owners --------------------------------------------------------------------------- */

static int count_n;
static void count_all(void *ud, const bk_goffset_view_t *o)
{
    count_n++;
    (void)ud;
    (void)o;
}

static int gone_n;
static char gone_last[256];
static void on_gone(void *ud, const char *group)
{
    gone_n++;
    snprintf(gone_last, sizeof(gone_last), "%s", group);
    (void)ud;
}

static int groups_listed(bk_gcoord_t *gc)
{
    size_t it = 0;
    int n = 0;
    while (bk_gcoord_next(gc, &it) != NULL)
        n++;
    return n;
}

/* A tenant deleted and made again under the same name (a new id) finds none of its
 * predecessor's group: every call sees it as absent, and a new one of the same name
 * starts empty. */
static void test_group__owner_made_again_sees_nothing(void **state)
{
    bk_gcoord_t *gc = coord(0);
    owners_on = true;
    owners[0].tenant = "acme";
    owners[0].id = uuid(1);
    const char *a = NULL;
    join_in(gc, "acme.g", "", 1, 0);
    assert_int_equal(ans[1].error, CM_KERR_MEMBER_ID_REQUIRED);
    a = ans[1].member;
    join_in(gc, "acme.g", a, 2, 0);
    assert_int_equal(ans[2].error, 0);
    bk_gassign_t as[] = { { a, (const uint8_t *)"x", 1 } };
    bk_gsync_req_t sr = { .group_id = "acme.g",
                          .member_id = a,
                          .generation = 1,
                          .assignments = as,
                          .n_assignments = 1 };
    bk_gcoord_sync(gc, &sr, 10, W(3));
    assert_int_equal(ans[3].error, 0);
    cm_kuuid_t id1 = uuid(1), id2 = uuid(2);
    bk_gcoord_offset_put(gc, "acme.g", &id1, "acme.t", 0, 7, -1, "old-meta", 5);
    const bk_group_t *g = bk_gcoord_find(gc, "acme.g");
    assert_non_null(g);
    assert_memory_equal(bk_group_tenant(g).b, id1.b, 16);
    int64_t off;
    int32_t epoch;
    const char *meta;
    assert_true(bk_gcoord_offset_get(gc, "acme.g", "acme.t", 0, &off, &epoch, &meta));

    owners[0].id = id2; /* deleted and made again */
    assert_null(bk_gcoord_find(gc, "acme.g"));
    assert_false(bk_gcoord_offset_get(gc, "acme.g", "acme.t", 0, &off, &epoch, &meta));
    count_n = 0;
    bk_gcoord_offsets_each(gc, "acme.g", count_all, NULL);
    assert_int_equal(count_n, 0);
    assert_int_equal(groups_listed(gc), 0);
    assert_int_equal(bk_gcoord_heartbeat(gc, "acme.g", a, NULL, 1, 20), CM_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(bk_gcoord_commit_check(gc, "acme.g", 1, a, NULL, 20),
                     CM_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(bk_gcoord_leave(gc, "acme.g", a, NULL, 20), CM_KERR_UNKNOWN_MEMBER_ID);
    bk_gcoord_sync(gc, &sr, 20, W(4));
    assert_int_equal(ans[4].error, CM_KERR_UNKNOWN_MEMBER_ID);
    join_in(gc, "acme.g", a, 5, 20);
    assert_int_equal(ans[5].error, CM_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(bk_gcoord_delete(gc, "acme.g"), CM_KERR_GROUP_ID_NOT_FOUND);
    /* A commit of the old tenant that becomes durable now brings nothing back. */
    bk_gcoord_offset_put(gc, "acme.g", &id1, "acme.t", 1, 8, -1, "late", 30);
    assert_null(bk_gcoord_find(gc, "acme.g"));
    /* The new acme's group of the same name: a new one, without the old offsets. */
    assert_int_equal(bk_gcoord_commit_check(gc, "acme.g", -1, "", NULL, 40), 0);
    g = bk_gcoord_find(gc, "acme.g");
    assert_non_null(g);
    assert_memory_equal(bk_group_tenant(g).b, id2.b, 16);
    assert_int_equal(bk_group_members_n(g), 0);
    assert_false(bk_gcoord_offset_get(gc, "acme.g", "acme.t", 0, &off, &epoch, &meta));
    assert_int_equal(bk_gcoord_size(gc), 1);
    assert_int_equal(bk_gcoord_reown(gc, on_gone, NULL, NULL), 0);
    /* A name no tenant owns: absent, and not made. */
    join_in(gc, "nobody.g", "", 6, 50);
    assert_int_equal(ans[6].error, CM_KERR_INVALID_GROUP_ID);
    assert_int_equal(bk_gcoord_commit_check(gc, "nobody.g", -1, "", NULL, 50),
                     CM_KERR_INVALID_GROUP_ID);
    assert_int_equal(bk_gcoord_commit_check(gc, "nodot", -1, "", NULL, 50),
                     CM_KERR_INVALID_GROUP_ID);
    assert_int_equal(bk_gcoord_size(gc), 1);
    /* The tenant deleted: its groups go when the owners are applied. */
    owners[0].tenant = NULL;
    gone_n = 0;
    assert_int_equal(bk_gcoord_reown(gc, on_gone, NULL, NULL), 1);
    assert_int_equal(gone_n, 1);
    assert_string_equal(gone_last, "acme.g");
    assert_int_equal(bk_gcoord_size(gc), 0);
    bk_gcoord_free(gc);
    (void)state;
}

/* Replaying the log: a record of another owner replaces the group (the groups of two
 * tenants of one name never merge); one recorded without an owner (written before owners
 * were) is the same group, and takes the owner the cluster shows. */
static void test_group__owners_replayed_and_adopted(void **state)
{
    bk_gcoord_t *gc = coord(0);
    cm_kuuid_t id1 = uuid(1), id2 = uuid(2), none = uuid(0);
    bk_gcoord_offset_put(gc, "acme.g", &id1, "acme.t", 0, 1, -1, "", 0);
    bk_gcoord_offset_put(gc, "acme.g", &id1, "acme.t", 1, 1, -1, "", 0);
    bk_gcoord_offset_put(gc, "acme.g", &id2, "acme.t", 0, 2, -1, "", 0);
    count_n = 0;
    bk_gcoord_offsets_each(gc, "acme.g", count_all, NULL);
    assert_int_equal(count_n, 1);
    assert_memory_equal(bk_group_tenant(bk_gcoord_find(gc, "acme.g")).b, id2.b, 16);
    /* A membership of the old owner replaces it too. */
    bk_gsaved_t old = { .generation = 3,
                        .protocol_type = "consumer",
                        .protocol = "",
                        .leader = "",
                        .empty_since_ms = 77,
                        .tenant = id1 };
    bk_gcoord_restore(gc, "acme.g", &old, 0);
    count_n = 0;
    bk_gcoord_offsets_each(gc, "acme.g", count_all, NULL);
    assert_int_equal(count_n, 0);
    assert_int_equal(bk_group_empty_since(bk_gcoord_find(gc, "acme.g")), 77);
    /* Version 0 records: no owner; a later record's owner is taken, offsets kept. */
    bk_gcoord_offset_put(gc, "acme.h", &none, "acme.t", 0, 1, -1, "", 0);
    bk_gcoord_offset_put(gc, "acme.h", NULL, "acme.t", 1, 1, -1, "", 0);
    bk_gcoord_offset_put(gc, "acme.h", &id2, "acme.t", 2, 1, -1, "", 0);
    count_n = 0;
    bk_gcoord_offsets_each(gc, "acme.h", count_all, NULL);
    assert_int_equal(count_n, 3);
    /* Adopted at the first snapshot: the owner it shows; a name no tenant owns goes. */
    bk_gcoord_offset_put(gc, "acme.i", NULL, "acme.t", 0, 1, -1, "", 0);
    bk_gcoord_offset_put(gc, "gone.i", NULL, "gone.t", 0, 1, -1, "", 0);
    owners_on = true;
    owners[0].tenant = "acme";
    owners[0].id = id2;
    int adopted = 0;
    gone_n = 0;
    /* acme.g is id1's, acme.h and acme.i take id2, gone.i goes. */
    assert_int_equal(bk_gcoord_reown(gc, on_gone, NULL, &adopted), 2);
    assert_int_equal(adopted, 1);
    assert_int_equal(gone_n, 2);
    assert_memory_equal(bk_group_tenant(bk_gcoord_find(gc, "acme.i")).b, id2.b, 16);
    assert_non_null(bk_gcoord_find(gc, "acme.h"));
    assert_null(bk_gcoord_find(gc, "gone.i"));
    bk_gcoord_free(gc);
    (void)state;
}

/* ---- offsets expiry -------------------------------------------------------------------- */

static int expired_n, expired_groups_n;
static char expired_last[256];
static void on_expired(void *ud, const char *group, const char *topic, int32_t partition)
{
    if (topic == NULL) {
        expired_groups_n++;
    } else {
        expired_n++;
        snprintf(expired_last, sizeof(expired_last), "%s/%s/%d", group, topic, partition);
    }
    (void)ud;
}

static void expire(bk_gcoord_t *gc, int64_t wall, int64_t retention_ms)
{
    expired_n = expired_groups_n = 0;
    assert_true(bk_gcoord_expire(gc, wall, retention_ms, 1000, on_expired, NULL));
}

/* Kafka's KIP-211: an Empty group's offsets expire retention after their commit or after the
 * group became Empty, whichever is later; a group with members keeps them all. */
static void test_group__offsets_expire(void **state)
{
    bk_gcoord_t *gc = coord(0);
    /* A group that never had members: by commit time. */
    bk_gcoord_offset_put(gc, "s", NULL, "t", 0, 1, -1, "", 1000);
    bk_gcoord_offset_put(gc, "s", NULL, "t", 1, 1, -1, "", 1500);
    expire(gc, 1999, 1000);
    assert_int_equal(expired_n, 0);
    expire(gc, 2000, 1000);
    assert_int_equal(expired_n, 1);
    assert_string_equal(expired_last, "s/t/0");
    assert_int_equal(expired_groups_n, 0);
    expire(gc, 2500, 1000);
    assert_int_equal(expired_n, 1);
    assert_int_equal(expired_groups_n, 1); /* none left: the group goes */
    assert_null(bk_gcoord_find(gc, "s"));

    /* Members keep their offsets however old. */
    char a[256], b[256];
    two_stable(gc, a, b);
    bk_gcoord_offset_put(gc, "g", NULL, "t", 0, 5, -1, "", 0);
    expire(gc, 1000000000, 1000);
    assert_int_equal(expired_n, 0);
    /* They leave at 5000: the offset committed at 0 lasts until 6000, and one committed
     * after the group became Empty lasts from its commit. */
    wall_now = 5000;
    assert_int_equal(bk_gcoord_leave(gc, "g", a, NULL, 100), 0);
    assert_int_equal(bk_gcoord_leave(gc, "g", b, NULL, 100), 0);
    assert_int_equal(bk_group_state(group(gc)), BK_GROUP_EMPTY);
    assert_int_equal(bk_group_empty_since(group(gc)), 5000);
    bk_gcoord_offset_put(gc, "g", NULL, "t", 1, 5, -1, "", 5500);
    expire(gc, 5999, 1000);
    assert_int_equal(expired_n, 0);
    expire(gc, 6000, 1000);
    assert_int_equal(expired_n, 1);
    assert_string_equal(expired_last, "g/t/0");
    expire(gc, 6499, 1000);
    assert_int_equal(expired_n, 0);
    expire(gc, 6500, 1000);
    assert_int_equal(expired_n, 1);
    assert_int_equal(expired_groups_n, 1);
    assert_null(bk_gcoord_find(gc, "g"));

    /* The work of a step is bounded: 20 groups of 3 offsets take several steps. A group
     * removed in a step may make the sweep pass over another, which the next sweep takes. */
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "m%d", i);
        for (int p = 0; p < 3; p++)
            bk_gcoord_offset_put(gc, name, NULL, "t", p, 1, -1, "", 0);
    }
    expired_n = expired_groups_n = 0;
    int steps = 1;
    while (!bk_gcoord_expire(gc, 10000, 1000, 8, on_expired, NULL))
        steps++;
    assert_true(steps >= 6);
    assert_true(expired_n >= 40);
    while (!bk_gcoord_expire(gc, 10000, 1000, 8, on_expired, NULL))
        ;
    assert_int_equal(expired_n, 60);
    assert_int_equal(expired_groups_n, 20);
    assert_int_equal(bk_gcoord_size(gc), 0);
    bk_gcoord_free(gc);
    (void)state;
}

/* ---- limits ---------------------------------------------------------------------------- */

/* A new group beyond groups_per_tenant_max or groups_max is refused, and nothing is made;
 * the groups that exist go on, and another tenant is not held by one tenant's limit. */
static void test_group__limits(void **state)
{
    bk_gcoord_t *gc = coord_limited(0, 4, 2);
    owners_on = true;
    owners[0].tenant = "acme";
    owners[0].id = uuid(1);
    owners[1].tenant = "globex";
    owners[1].id = uuid(2);
    assert_int_equal(bk_gcoord_commit_check(gc, "acme.a", -1, "", NULL, 0), 0);
    join_in(gc, "acme.b", "", 1, 0);
    assert_int_equal(ans[1].error, CM_KERR_MEMBER_ID_REQUIRED);
    /* acme's third: refused, by JoinGroup and by OffsetCommit. */
    assert_int_equal(bk_gcoord_commit_check(gc, "acme.c", -1, "", NULL, 0),
                     CM_KERR_GROUP_AUTHORIZATION_FAILED);
    join_in(gc, "acme.c", "", 2, 0);
    assert_int_equal(ans[2].error, CM_KERR_GROUP_AUTHORIZATION_FAILED);
    assert_null(bk_gcoord_find(gc, "acme.c"));
    assert_int_equal(bk_gcoord_size(gc), 2);
    assert_int_equal(refused_n, 2);
    assert_int_equal(refused_tenant_n, 2);
    /* Its groups go on. */
    assert_int_equal(bk_gcoord_commit_check(gc, "acme.a", -1, "", NULL, 0), 0);
    join_in(gc, "acme.b", ans[1].member, 3, 0);
    assert_int_equal(ans[3].error, 0);
    /* globex is not held by acme's limit; the broker's is 4 in all. */
    assert_int_equal(bk_gcoord_commit_check(gc, "globex.a", -1, "", NULL, 0), 0);
    assert_int_equal(bk_gcoord_commit_check(gc, "globex.b", -1, "", NULL, 0), 0);
    owners[2].tenant = "initech";
    owners[2].id = uuid(3);
    assert_int_equal(bk_gcoord_commit_check(gc, "initech.a", -1, "", NULL, 0),
                     CM_KERR_GROUP_AUTHORIZATION_FAILED);
    assert_int_equal(refused_n, 3);
    assert_int_equal(refused_tenant_n, 2);
    /* A group deleted makes room. */
    assert_int_equal(bk_gcoord_delete(gc, "acme.a"), 0);
    assert_int_equal(bk_gcoord_commit_check(gc, "initech.a", -1, "", NULL, 0), 0);
    /* A group a former owner left is replaced, not counted as one more: acme made again
     * may make its groups of the old names at its limit. */
    owners[0].id = uuid(4);
    assert_int_equal(bk_gcoord_commit_check(gc, "acme.b", -1, "", NULL, 0), 0);
    assert_int_equal(bk_gcoord_size(gc), 4);
    bk_gcoord_free(gc);

    /* Unmanaged (owners unchecked): only groups_max holds. */
    gc = coord_limited(0, 3, 1);
    assert_int_equal(bk_gcoord_commit_check(gc, "acme.a", -1, "", NULL, 0), 0);
    assert_int_equal(bk_gcoord_commit_check(gc, "acme.b", -1, "", NULL, 0), 0);
    assert_int_equal(bk_gcoord_commit_check(gc, "c", -1, "", NULL, 0), 0);
    assert_int_equal(bk_gcoord_commit_check(gc, "d", -1, "", NULL, 0),
                     CM_KERR_GROUP_AUTHORIZATION_FAILED);
    bk_gcoord_free(gc);
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
        cmocka_unit_test(test_group__owner_made_again_sees_nothing),
        cmocka_unit_test(test_group__owners_replayed_and_adopted),
        cmocka_unit_test(test_group__offsets_expire),
        cmocka_unit_test(test_group__limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
