/*
 * Consumer groups over the Kafka protocol: FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetFetch, ListGroups, DescribeGroups and DeleteGroups, on the
 * coordinator's state machine (bk_group.h).
 *
 * A group's coordinator is the same broker whoever asks: unmanaged, this one; managed, the
 * pool's live broker at (murmur2(group) mod live brokers) in id order. A group request
 * that reaches another broker gets NOT_COORDINATOR, and the client asks FindCoordinator
 * again.
 *
 * OffsetFetch and OffsetCommit are in bk_groups_offsets.c.
 *
 * Managed, a group belongs to a tenant of the cluster snapshot, by id (bk_group.h:
 * owners): each snapshot applied removes the groups of tenants gone or made again, and
 * until the first one is applied no group is served (COORDINATOR_LOAD_IN_PROGRESS). The
 * server's tick and each applied commit run a bounded step of the offsets expiry sweep
 * (offsets_retention_ms, every offsets_retention_check_ms); removals are recorded in the
 * log so that a restart does not bring them back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_group.h"
#include "bk_groups_internal.h"
#include "bk_offsets.h"
#include "bk_topic.h"
#include "cm_kmsg.h"
#include "cm_log.h"
#include "cm_murmur2.h"
#include "cm_time.h"

#define BK_GROUPS__EXPIRE_WORK 1000 /* groups and offsets looked at per expiry step */

typedef struct bk_groups__waiter {
    bk_resp_t *resp;
    int16_t version;
} bk_groups__waiter_t;

/* A C string copy of `s` in the response's arena ("" for null). */
const char *bk_groups_str(bk_req_t *req, cm_kstr_t s)
{
    if (s.len <= 0)
        return "";
    const char *p = cm_arena_strndup(&req->resp->arena, s.ptr, (size_t)s.len);
    return p != NULL ? p : "";
}

/* The broker coordinating `group`; true when it is this one. */
static bool bk_groups__coordinator(const bk_broker_t *b, cm_kstr_t group, int32_t *id,
                                   cm_kstr_t *host, int32_t *port)
{
    const bk_cluster_t *c = b->cluster;
    int32_t n_up = 0;
    for (int32_t i = 0; c != NULL && i < c->n_brokers; i++)
        n_up += c->brokers[i].up;
    if (n_up == 0) {
        *id = (int32_t)b->cfg.node_id;
        *host = cm_kstr_c(b->adv_host);
        *port = b->adv_port;
        return true;
    }
    uint32_t h =
        (uint32_t)cm_murmur2(group.ptr, group.len > 0 ? (size_t)group.len : 0) & 0x7fffffffu;
    int32_t want = (int32_t)(h % (uint32_t)n_up);
    for (int32_t i = 0; i < c->n_brokers; i++) {
        if (!c->brokers[i].up)
            continue;
        int32_t rank = 0; /* live brokers with a lower id */
        for (int32_t k = 0; k < c->n_brokers; k++)
            rank += c->brokers[k].up && c->brokers[k].id < c->brokers[i].id;
        if (rank == want) {
            *id = c->brokers[i].id;
            *host = cm_kstr_c(c->brokers[i].host);
            *port = c->brokers[i].port;
            return *id == (int32_t)b->cfg.node_id;
        }
    }
    return false;
}

/* True while a managed broker has no cluster snapshot yet (a start while Postgres is away):
 * it cannot tell which tenant owns a group, so it serves none. */
static bool bk_groups__loading(const bk_broker_t *b)
{
    return b->cfg.database_url[0] != '\0' && b->cluster == NULL;
}

/* NONE when this broker serves `group` now: NOT_COORDINATOR when another broker coordinates
 * it or the coordinator has stopped (shutting down), COORDINATOR_LOAD_IN_PROGRESS (clients
 * retry) while loading. */
int16_t bk_groups_serve(const bk_broker_t *b, cm_kstr_t group)
{
    if (b->groups == NULL)
        return CM_KERR_NOT_COORDINATOR;
    int32_t id, port;
    cm_kstr_t host;
    if (!bk_groups__coordinator(b, group, &id, &host, &port))
        return CM_KERR_NOT_COORDINATOR;
    return bk_groups__loading(b) ? CM_KERR_COORDINATOR_LOAD_IN_PROGRESS : CM_KERR_NONE;
}

/* ---- FindCoordinator ------------------------------------------------------------------- */

static int16_t bk_groups__find(const bk_broker_t *b, int8_t key_type, cm_kstr_t key, int32_t *id,
                               cm_kstr_t *host, int32_t *port)
{
    *id = -1;
    *host = CM_KSTR("");
    *port = -1;
    if (key_type != 0)
        return CM_KERR_COORDINATOR_NOT_AVAILABLE; /* transactions: not served */
    if (key.len <= 0)
        return CM_KERR_INVALID_GROUP_ID;
    bk_groups__coordinator(b, key, id, host, port);
    return CM_KERR_NONE;
}

int bk_handle_find_coordinator(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_find_coordinator_req_t r;
    if (cm_find_coordinator_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_find_coordinator_resp_t resp;
    cm_find_coordinator_resp_init(&resp);
    if (v < 4) {
        resp.error_code = bk_groups__find(req->b, v >= 1 ? r.key_type : 0, r.key, &resp.node_id,
                                          &resp.host, &resp.port);
    } else {
        int32_t n = r.coordinator_keys_n > 0 ? r.coordinator_keys_n : 0;
        resp.coordinators = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp.coordinators));
        if (resp.coordinators == NULL)
            return BK_CLOSE;
        resp.coordinators_n = n;
        for (int32_t i = 0; i < n; i++) {
            cm_find_coordinator_resp_coordinator_t *x = &resp.coordinators[i];
            cm_find_coordinator_resp_coordinator_init(x);
            x->key = r.coordinator_keys[i];
            x->error_code = bk_groups__find(req->b, r.key_type, r.coordinator_keys[i], &x->node_id,
                                            &x->host, &x->port);
        }
    }
    cm_find_coordinator_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}

/* ---- JoinGroup, SyncGroup -------------------------------------------------------------- */

static void bk_groups__join_done(void *ud, void *waiter, const bk_gjoin_res_t *res)
{
    bk_groups__waiter_t *w = waiter;
    cm_join_group_resp_t resp;
    cm_join_group_resp_init(&resp);
    resp.error_code = res->error;
    resp.generation_id = res->generation;
    resp.protocol_type = cm_kstr_c(res->protocol_type);
    resp.protocol_name = cm_kstr_c(res->protocol);
    if (w->version >= 7 && res->protocol[0] == '\0')
        resp.protocol_name = resp.protocol_type = CM_KSTR_NULL;
    resp.leader = cm_kstr_c(res->leader);
    resp.member_id = cm_kstr_c(res->member_id);
    cm_join_group_resp_member_t *ms = cm_arena_calloc(
        &w->resp->arena, (size_t)(res->n_members ? res->n_members : 1), sizeof(*ms));
    resp.members = ms;
    resp.members_n = ms != NULL ? res->n_members : 0;
    for (int i = 0; ms != NULL && i < res->n_members; i++) {
        cm_join_group_resp_member_init(&ms[i]);
        ms[i].member_id = cm_kstr_c(res->members[i].id);
        ms[i].group_instance_id = res->members[i].instance_id != NULL
                                      ? cm_kstr_c(res->members[i].instance_id)
                                      : CM_KSTR_NULL;
        ms[i].metadata = (cm_kbytes_t){ res->members[i].meta, (int32_t)res->members[i].meta_len };
    }
    cm_join_group_resp_encode(&w->resp->w, w->version, &resp);
    bk_resp_t *r = w->resp;
    bk_resp_ready(r);
    bk_resp_unref(r);
    (void)ud;
}

static void bk_groups__sync_done(void *ud, void *waiter, const bk_gsync_res_t *res)
{
    bk_groups__waiter_t *w = waiter;
    cm_sync_group_resp_t resp;
    cm_sync_group_resp_init(&resp);
    resp.error_code = res->error;
    resp.protocol_type = res->protocol_type[0] ? cm_kstr_c(res->protocol_type) : CM_KSTR_NULL;
    resp.protocol_name = res->protocol[0] ? cm_kstr_c(res->protocol) : CM_KSTR_NULL;
    resp.assignment = (cm_kbytes_t){ res->assignment, (int32_t)res->assignment_len };
    if (res->assignment == NULL)
        resp.assignment = (cm_kbytes_t){ (const uint8_t *)"", 0 };
    cm_sync_group_resp_encode(&w->resp->w, w->version, &resp);
    bk_resp_t *r = w->resp;
    bk_resp_ready(r);
    bk_resp_unref(r);
    (void)ud;
}

static bk_groups__waiter_t *bk_groups__waiter(bk_req_t *req)
{
    bk_groups__waiter_t *w = cm_arena_alloc(&req->resp->arena, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->resp = bk_resp_ref(req->resp);
    w->version = req->hdr.api_version;
    return w;
}

int bk_handle_join_group(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_join_group_req_t r;
    if (cm_join_group_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    bk_groups__waiter_t *w = bk_groups__waiter(req);
    if (w == NULL)
        return BK_CLOSE;
    int16_t err = bk_groups_serve(req->b, r.group_id);
    if (err != CM_KERR_NONE) {
        bk_gjoin_res_t res = { .error = err,
                               .generation = -1,
                               .protocol_type = "",
                               .protocol = "",
                               .leader = "",
                               .member_id = bk_groups_str(req, r.member_id) };
        bk_groups__join_done(NULL, w, &res);
        return BK_DEFER;
    }
    int32_t np = r.protocols_n > 0 ? r.protocols_n : 0;
    bk_gproto_t *protos = cm_arena_calloc(a, (size_t)(np ? np : 1), sizeof(*protos));
    if (protos == NULL) {
        bk_resp_unref(w->resp);
        return BK_CLOSE;
    }
    for (int32_t i = 0; i < np; i++)
        protos[i] =
            (bk_gproto_t){ bk_groups_str(req, r.protocols[i].name), r.protocols[i].metadata.ptr,
                           r.protocols[i].metadata.len > 0 ? (size_t)r.protocols[i].metadata.len
                                                           : 0 };
    /* The client's address as Kafka shows it: "/ip". */
    char host[72];
    const char *colon = strrchr(req->conn->peer, ':');
    int hn = colon != NULL ? (int)(colon - req->conn->peer) : (int)strlen(req->conn->peer);
    snprintf(host, sizeof(host), "/%.*s", hn, req->conn->peer);
    bk_gjoin_req_t j = { .group_id = bk_groups_str(req, r.group_id),
                         .member_id = bk_groups_str(req, r.member_id),
                         .instance_id = bk_groups_str(req, r.group_instance_id),
                         .client_id = bk_groups_str(req, req->hdr.client_id),
                         .client_host = host,
                         .protocol_type = bk_groups_str(req, r.protocol_type),
                         .session_timeout_ms = r.session_timeout_ms,
                         .rebalance_timeout_ms = v >= 1 ? r.rebalance_timeout_ms : -1,
                         .protos = protos,
                         .n_protos = np,
                         .member_id_required = v >= 4 };
    bk_gcoord_join(req->b->groups, &j, cm_mono_ms(), w);
    return BK_DEFER;
}

int bk_handle_sync_group(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_sync_group_req_t r;
    if (cm_sync_group_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    bk_groups__waiter_t *w = bk_groups__waiter(req);
    if (w == NULL)
        return BK_CLOSE;
    int16_t err = bk_groups_serve(req->b, r.group_id);
    if (err != CM_KERR_NONE) {
        bk_gsync_res_t res = { .error = err, .protocol_type = "", .protocol = "" };
        bk_groups__sync_done(NULL, w, &res);
        return BK_DEFER;
    }
    int32_t n = r.assignments_n > 0 ? r.assignments_n : 0;
    bk_gassign_t *as = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*as));
    if (as == NULL) {
        bk_resp_unref(w->resp);
        return BK_CLOSE;
    }
    for (int32_t i = 0; i < n; i++)
        as[i] = (bk_gassign_t){
            bk_groups_str(req, r.assignments[i].member_id), r.assignments[i].assignment.ptr,
            r.assignments[i].assignment.len > 0 ? (size_t)r.assignments[i].assignment.len : 0
        };
    bk_gsync_req_t s = { .group_id = bk_groups_str(req, r.group_id),
                         .member_id = bk_groups_str(req, r.member_id),
                         .instance_id = bk_groups_str(req, r.group_instance_id),
                         .generation = r.generation_id,
                         .protocol_type =
                             r.protocol_type.len > 0 ? bk_groups_str(req, r.protocol_type) : NULL,
                         .protocol =
                             r.protocol_name.len > 0 ? bk_groups_str(req, r.protocol_name) : NULL,
                         .assignments = as,
                         .n_assignments = n };
    bk_gcoord_sync(req->b->groups, &s, cm_mono_ms(), w);
    return BK_DEFER;
}

/* ---- Heartbeat, LeaveGroup ------------------------------------------------------------- */

int bk_handle_heartbeat(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_heartbeat_req_t r;
    if (cm_heartbeat_req_decode(&req->body, v, &req->resp->arena, &r) != 0)
        return BK_CLOSE;
    cm_heartbeat_resp_t resp;
    cm_heartbeat_resp_init(&resp);
    resp.error_code = bk_groups_serve(req->b, r.group_id);
    if (resp.error_code == CM_KERR_NONE)
        resp.error_code = bk_gcoord_heartbeat(
            req->b->groups, bk_groups_str(req, r.group_id), bk_groups_str(req, r.member_id),
            bk_groups_str(req, r.group_instance_id), r.generation_id, cm_mono_ms());
    cm_heartbeat_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}

int bk_handle_leave_group(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_leave_group_req_t r;
    if (cm_leave_group_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_leave_group_resp_t resp;
    cm_leave_group_resp_init(&resp);
    const char *group = bk_groups_str(req, r.group_id);
    int16_t err = bk_groups_serve(req->b, r.group_id);
    if (v < 3) {
        resp.error_code = err == CM_KERR_NONE
                              ? bk_gcoord_leave(req->b->groups, group,
                                                bk_groups_str(req, r.member_id), NULL, cm_mono_ms())
                              : err;
    } else if (err != CM_KERR_NONE) {
        resp.error_code = err;
        resp.members_n = 0;
    } else {
        int32_t n = r.members_n > 0 ? r.members_n : 0;
        resp.members = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp.members));
        if (resp.members == NULL)
            return BK_CLOSE;
        resp.members_n = n;
        for (int32_t i = 0; i < n; i++) {
            cm_leave_group_resp_member_response_t *x = &resp.members[i];
            cm_leave_group_resp_member_response_init(x);
            x->member_id = r.members[i].member_id;
            x->group_instance_id = r.members[i].group_instance_id;
            x->error_code =
                bk_gcoord_leave(req->b->groups, group, bk_groups_str(req, r.members[i].member_id),
                                bk_groups_str(req, r.members[i].group_instance_id), cm_mono_ms());
        }
    }
    cm_leave_group_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}

/* ---- ListGroups, DescribeGroups, DeleteGroups ------------------------------------------ */

static bool bk_groups__state_wanted(const cm_list_groups_req_t *r, const char *state)
{
    if (r->states_filter_n <= 0)
        return true;
    for (int32_t i = 0; i < r->states_filter_n; i++)
        if (r->states_filter[i].len == (int32_t)strlen(state) &&
            strncasecmp(r->states_filter[i].ptr, state, strlen(state)) == 0)
            return true;
    return false;
}

int bk_handle_list_groups(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_list_groups_req_t r;
    if (cm_list_groups_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_list_groups_resp_t resp;
    cm_list_groups_resp_init(&resp);
    if (req->b->groups == NULL || bk_groups__loading(req->b)) { /* shutting down, loading */
        resp.error_code = req->b->groups == NULL ? CM_KERR_COORDINATOR_NOT_AVAILABLE
                                                 : CM_KERR_COORDINATOR_LOAD_IN_PROGRESS;
        resp.groups_n = 0;
        cm_list_groups_resp_encode(&req->resp->w, v, &resp);
        return BK_DONE;
    }
    size_t it = 0, n = 0;
    while (bk_gcoord_next(req->b->groups, &it) != NULL)
        n++;
    resp.groups = cm_arena_calloc(a, n ? n : 1, sizeof(*resp.groups));
    if (resp.groups == NULL)
        return BK_CLOSE;
    resp.groups_n = 0;
    it = 0;
    const bk_group_t *g;
    while ((g = bk_gcoord_next(req->b->groups, &it)) != NULL) {
        const char *state = bk_gstate_name(bk_group_state(g));
        if (!bk_groups__state_wanted(&r, state))
            continue;
        cm_list_groups_resp_listed_group_t *x = &resp.groups[resp.groups_n++];
        cm_list_groups_resp_listed_group_init(x);
        x->group_id = cm_kstr_c(bk_group_id(g));
        x->protocol_type = cm_kstr_c(bk_group_protocol_type(g));
        x->group_state = cm_kstr_c(state);
        x->group_type = CM_KSTR("classic");
    }
    cm_list_groups_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}

int bk_handle_describe_groups(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_describe_groups_req_t r;
    if (cm_describe_groups_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_describe_groups_resp_t resp;
    cm_describe_groups_resp_init(&resp);
    int32_t n = r.groups_n > 0 ? r.groups_n : 0;
    resp.groups = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp.groups));
    if (resp.groups == NULL)
        return BK_CLOSE;
    resp.groups_n = n;
    for (int32_t i = 0; i < n; i++) {
        cm_describe_groups_resp_described_group_t *x = &resp.groups[i];
        cm_describe_groups_resp_described_group_init(x);
        x->group_id = r.groups[i];
        x->group_state = CM_KSTR("Dead");
        x->protocol_type = x->protocol_data = CM_KSTR("");
        x->members_n = 0;
        x->error_code = bk_groups_serve(req->b, r.groups[i]);
        if (x->error_code != CM_KERR_NONE)
            continue;
        const bk_group_t *g = bk_gcoord_find(req->b->groups, bk_groups_str(req, r.groups[i]));
        if (g == NULL) {
            if (v >= 6)
                x->error_code = CM_KERR_GROUP_ID_NOT_FOUND;
            continue;
        }
        x->group_state = cm_kstr_c(bk_gstate_name(bk_group_state(g)));
        x->protocol_type = cm_kstr_c(bk_group_protocol_type(g));
        x->protocol_data = cm_kstr_c(bk_group_protocol(g));
        int nm = bk_group_members_n(g);
        x->members = cm_arena_calloc(a, (size_t)(nm ? nm : 1), sizeof(*x->members));
        if (x->members == NULL)
            return BK_CLOSE;
        x->members_n = nm;
        for (int k = 0; k < nm; k++) {
            bk_gmember_view_t m = bk_group_member(g, k);
            cm_describe_groups_resp_described_group_member_t *y = &x->members[k];
            cm_describe_groups_resp_described_group_member_init(y);
            y->member_id = cm_kstr_c(m.id);
            y->group_instance_id = m.instance_id != NULL ? cm_kstr_c(m.instance_id) : CM_KSTR_NULL;
            y->client_id = cm_kstr_c(m.client_id);
            y->client_host = cm_kstr_c(m.client_host);
            y->member_metadata =
                (cm_kbytes_t){ m.meta != NULL ? m.meta : (const uint8_t *)"", (int32_t)m.meta_len };
            y->member_assignment =
                (cm_kbytes_t){ m.assignment != NULL ? m.assignment : (const uint8_t *)"",
                               (int32_t)m.assignment_len };
        }
    }
    cm_describe_groups_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}

static void bk_groups__forget_waiter(bk_ack_waiter_t *w, int16_t err)
{
    if (err != 0)
        cm_log_warn("a group deletion was not recorded; its offsets return after a restart",
                    "err=%s", cm_kerr_name(err));
    free(w);
}

int bk_handle_delete_groups(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_delete_groups_req_t r;
    if (cm_delete_groups_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_delete_groups_resp_t resp;
    cm_delete_groups_resp_init(&resp);
    int32_t n = r.groups_names_n > 0 ? r.groups_names_n : 0;
    resp.results = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp.results));
    if (resp.results == NULL)
        return BK_CLOSE;
    resp.results_n = n;
    for (int32_t i = 0; i < n; i++) {
        cm_delete_groups_resp_deletable_group_result_t *x = &resp.results[i];
        cm_delete_groups_resp_deletable_group_result_init(x);
        x->group_id = r.groups_names[i];
        const char *group = bk_groups_str(req, r.groups_names[i]);
        x->error_code = bk_groups_serve(req->b, r.groups_names[i]);
        if (x->error_code == CM_KERR_NONE)
            x->error_code = bk_gcoord_delete(req->b->groups, group);
        if (x->error_code == CM_KERR_NONE) {
            /* Recorded so that replay forgets the offsets too; made durable by the next
             * group commit, not awaited. */
            bk_ack_waiter_t *w = calloc(1, sizeof(*w));
            if (w == NULL)
                abort();
            w->done = bk_groups__forget_waiter;
            if (bk_offsets_delete_group(req->b, group, w) != CM_KERR_NONE)
                free(w);
        }
    }
    cm_delete_groups_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}

/* ---- the coordinator's life ------------------------------------------------------------ */

static void bk_groups__settled(void *ud, const bk_group_t *g)
{
    bk_offsets_group_settled(ud, g);
}

/* Managed, a group "<tenant>.<name>" belongs to the tenant of that name in the cluster
 * snapshot, by id; a name without a tenant of the pool belongs to nobody. */
static bk_gowner_t bk_groups__owner(void *ud, const char *group, cm_kuuid_t *id)
{
    const bk_broker_t *b = ud;
    if (b->cfg.database_url[0] == '\0' || b->cluster == NULL)
        return BK_GOWNER_UNCHECKED; /* unmanaged; loading: nothing is served then */
    const char *dot = strchr(group, '.');
    const bk_cluster_tenant_t *t =
        dot != NULL ? bk_cluster_tenant(b, group, (size_t)(dot - group)) : NULL;
    if (t == NULL)
        return BK_GOWNER_NONE;
    *id = t->id;
    return BK_GOWNER_TENANT;
}

static void bk_groups__refused(void *ud, const char *group, bool tenant)
{
    bk_broker_t *b = ud;
    bk_metrics_add(&b->metrics.groups_refused, 1);
    /* The tenant, not the group: a client trying name after name makes one line, counted. */
    const char *dot = strchr(group, '.');
    cm_log_warn("a new consumer group was refused at a limit", "tenant=%.*s limit=%s max=%lld",
                dot != NULL ? (int)(dot - group) : 0, group,
                tenant ? "groups_per_tenant_max" : "groups_max",
                (long long)(tenant ? b->cfg.groups_per_tenant_max : b->cfg.groups_max));
}

/* Removed offsets and groups, to be recorded in the offsets log (bk_offsets_forget). */
typedef struct bk_groups__gone {
    bk_offsets_gone_t *items;
    int n, cap;
    int offsets, groups;
} bk_groups__gone_t;

static void bk_groups__gone_add(void *ud, const char *group, const char *topic, int32_t partition)
{
    bk_groups__gone_t *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->items = realloc(g->items, (size_t)g->cap * sizeof(*g->items));
        if (g->items == NULL)
            abort();
    }
    char *gr = strdup(group), *tp = topic != NULL ? strdup(topic) : NULL;
    if (gr == NULL || (topic != NULL && tp == NULL))
        abort();
    g->items[g->n++] = (bk_offsets_gone_t){ gr, tp, partition };
    g->offsets += topic != NULL;
    g->groups += topic == NULL;
}

static void bk_groups__gone_group(void *ud, const char *group)
{
    bk_groups__gone_add(ud, group, NULL, -1);
}

/* Records what was removed (not waited for: lost, it is removed again after a restart) and
 * frees the list. */
static void bk_groups__gone_write(bk_broker_t *b, bk_groups__gone_t *g, const char *why)
{
    if (g->n > 0 && bk_offsets_forget(b, g->items, g->n) != CM_KERR_NONE)
        cm_log_warn("cannot record removed consumer offsets; they go again after a restart",
                    "why=%s offsets=%d groups=%d", why, g->offsets, g->groups);
    for (int i = 0; i < g->n; i++) {
        free((char *)g->items[i].group);
        free((char *)g->items[i].topic);
    }
    free(g->items);
}

/* One step of the offsets expiry sweep, when it is due and no commit is in flight (an
 * offset's removal must not be recorded after a commit of it that is not applied yet). */
static void bk_groups__expire(bk_broker_t *b)
{
    int64_t mono = cm_mono_ms();
    if (b->groups == NULL || mono < b->offsets_sweep_at_ms || !bk_offsets_quiet(b))
        return;
    bk_groups__gone_t g = { 0 };
    bool done = bk_gcoord_expire(b->groups, cm_now_ms(), b->cfg.offsets_retention_ms,
                                 BK_GROUPS__EXPIRE_WORK, bk_groups__gone_add, &g);
    if (done)
        b->offsets_sweep_at_ms = mono + b->cfg.offsets_retention_check_ms;
    if (g.n > 0)
        cm_log_info("consumer offsets expired", "offsets=%d groups_removed=%d retention_ms=%lld",
                    g.offsets, g.groups, (long long)b->cfg.offsets_retention_ms);
    bk_metrics_add(&b->metrics.offsets_expired, (unsigned long long)g.offsets);
    bk_metrics_add(&b->metrics.groups_expired, (unsigned long long)g.groups);
    bk_groups__gone_write(b, &g, "expiry");
}

/* What waits for a quiet offsets log: expiry, then compaction. */
void bk_groups_housekeep(bk_broker_t *b)
{
    bk_groups__expire(b);
    bk_offsets_tick(b, cm_now_ms());
}

int bk_groups_start(bk_broker_t *b)
{
    bk_gcoord_cfg_t cfg = {
        .session_timeout_min_ms = (int32_t)b->cfg.group_min_session_timeout_ms,
        .session_timeout_max_ms = (int32_t)b->cfg.group_max_session_timeout_ms,
        .initial_rebalance_delay_ms = (int32_t)b->cfg.group_initial_rebalance_delay_ms,
        .group_size_max = (int32_t)b->cfg.group_max_size,
        .groups_max = (int32_t)b->cfg.groups_max,
        .groups_per_tenant_max = (int32_t)b->cfg.groups_per_tenant_max,
    };
    bk_gops_t ops = { .join_done = bk_groups__join_done,
                      .sync_done = bk_groups__sync_done,
                      .settled = bk_groups__settled,
                      .owner = bk_groups__owner,
                      .refused = bk_groups__refused,
                      .ud = b };
    b->groups = bk_gcoord_new(&cfg, &ops);
    if (bk_offsets_open(b) != 0) {
        bk_gcoord_free(b->groups);
        b->groups = NULL;
        return -1;
    }
    return 0;
}

void bk_groups_tick(bk_broker_t *b)
{
    if (b->groups == NULL)
        return;
    bk_gcoord_tick(b->groups, cm_mono_ms());
    bk_groups_housekeep(b);
}

void bk_groups_cluster_applied(bk_broker_t *b)
{
    if (b->groups == NULL)
        return;
    bk_groups__gone_t g = { 0 };
    int adopted = 0, n = bk_gcoord_reown(b->groups, bk_groups__gone_group, &g, &adopted);
    if (n > 0) {
        cm_log_info("consumer groups removed: their tenant is gone or was made again",
                    "groups=%d first=%s", n, g.items[0].group);
        bk_metrics_add(&b->metrics.groups_tenant_gone, (unsigned long long)n);
    }
    bk_groups__gone_write(b, &g, "tenant");
    if (adopted > 0) {
        /* Stored before owners were: a snapshot of the log records the owners they took
         * now, so that a later snapshot cannot hand them to another tenant of the name. */
        cm_log_info("consumer groups took their tenant's id", "groups=%d", adopted);
        bk_offsets_compact_soon(b);
    }
}

void bk_groups_stop(bk_broker_t *b)
{
    bk_gcoord_free(b->groups);
    b->groups = NULL;
}

void bk_groups_close(bk_broker_t *b)
{
    bk_groups_stop(b);
    bk_offsets_close(b);
}
