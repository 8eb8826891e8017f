#include "bk_group_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cm_kproto.h"
#include "cm_strmap.h"
#include "cm_time.h"

/* ---- memory ---------------------------------------------------------------------------- */

void *bk_group__alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

char *bk_group__strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = bk_group__alloc(n + 1);
    memcpy(p, s, n);
    return p;
}

static uint8_t *bk_group__memdup(const uint8_t *b, size_t n)
{
    uint8_t *p = bk_group__alloc(n);
    if (n > 0)
        memcpy(p, b, n);
    return p;
}

void bk_group__set(char **field, const char *s)
{
    free(*field);
    *field = s != NULL ? bk_group__strdup(s) : NULL;
}

bool bk_group__blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static void bk_group__free_protos(bk_gmember_t *m)
{
    for (int i = 0; i < m->n_protos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    m->protos = NULL;
    m->n_protos = 0;
}

static void bk_group__free_member(bk_gmember_t *m)
{
    bk_group__free_protos(m);
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->assignment);
    free(m);
}

/* ---- answers --------------------------------------------------------------------------- */

static void bk_group__join_error(bk_gcoord_t *gc, void *waiter, int16_t err, const char *member)
{
    bk_gjoin_res_t res = { .error = err,
                           .generation = -1,
                           .protocol_type = "",
                           .protocol = "",
                           .leader = "",
                           .member_id = member != NULL ? member : "" };
    gc->ops.join_done(gc->ops.ud, waiter, &res);
}

static void bk_group__sync_error(bk_gcoord_t *gc, void *waiter, int16_t err)
{
    bk_gsync_res_t res = { .error = err, .protocol_type = "", .protocol = "" };
    gc->ops.sync_done(gc->ops.ud, waiter, &res);
}

static const bk_gproto_own_t *bk_group__proto(const bk_gmember_t *m, const char *name)
{
    for (int i = 0; name != NULL && i < m->n_protos; i++)
        if (strcmp(m->protos[i].name, name) == 0)
            return &m->protos[i];
    return NULL;
}

bk_gmember_view_t bk_group__view(const bk_group_t *g, const bk_gmember_t *m)
{
    const bk_gproto_own_t *p = bk_group__proto(m, g->protocol);
    return (bk_gmember_view_t){ .id = m->id,
                                .instance_id = m->instance_id,
                                .client_id = m->client_id != NULL ? m->client_id : "",
                                .client_host = m->client_host != NULL ? m->client_host : "",
                                .meta = p != NULL ? p->meta : NULL,
                                .meta_len = p != NULL ? p->meta_len : 0,
                                .assignment = m->assignment,
                                .assignment_len = m->assignment_len,
                                .session_timeout_ms = m->session_timeout_ms,
                                .rebalance_timeout_ms = m->rebalance_timeout_ms };
}

int64_t bk_group__wall(const bk_gcoord_t *gc)
{
    return gc->ops.wall_ms != NULL ? gc->ops.wall_ms(gc->ops.ud) : cm_now_ms();
}

static void bk_group__settled(bk_gcoord_t *gc, const bk_group_t *g)
{
    if (gc->ops.settled != NULL)
        gc->ops.settled(gc->ops.ud, g);
}

/* The current generation's JoinGroup answer for `m` (the leader's lists the members). */
static void bk_group__join_answer(bk_gcoord_t *gc, bk_group_t *g, bk_gmember_t *m, void *waiter)
{
    bool leader = g->leader != NULL && strcmp(g->leader, m->id) == 0;
    bk_gmember_view_t *views = NULL;
    if (leader) {
        views = bk_group__alloc((size_t)g->n_members * sizeof(*views));
        for (int i = 0; i < g->n_members; i++)
            views[i] = bk_group__view(g, g->members[i]);
    }
    bk_gjoin_res_t res = { .error = CM_KERR_NONE,
                           .generation = g->generation,
                           .protocol_type = g->protocol_type != NULL ? g->protocol_type : "",
                           .protocol = g->protocol != NULL ? g->protocol : "",
                           .leader = g->leader != NULL ? g->leader : "",
                           .member_id = m->id,
                           .members = views,
                           .n_members = leader ? g->n_members : 0 };
    gc->ops.join_done(gc->ops.ud, waiter, &res);
    free(views);
}

static void bk_group__sync_answer(bk_gcoord_t *gc, bk_group_t *g, bk_gmember_t *m, void *waiter)
{
    bk_gsync_res_t res = { .error = CM_KERR_NONE,
                           .protocol_type = g->protocol_type != NULL ? g->protocol_type : "",
                           .protocol = g->protocol != NULL ? g->protocol : "",
                           .assignment = m->assignment,
                           .assignment_len = m->assignment_len };
    gc->ops.sync_done(gc->ops.ud, waiter, &res);
}

/* ---- members --------------------------------------------------------------------------- */

static bk_gmember_t *bk_group__member(const bk_group_t *g, const char *id)
{
    for (int i = 0; id != NULL && i < g->n_members; i++)
        if (strcmp(g->members[i]->id, id) == 0)
            return g->members[i];
    return NULL;
}

static bk_gmember_t *bk_group__by_instance(const bk_group_t *g, const char *instance)
{
    for (int i = 0; !bk_group__blank(instance) && i < g->n_members; i++)
        if (g->members[i]->instance_id != NULL && strcmp(g->members[i]->instance_id, instance) == 0)
            return g->members[i];
    return NULL;
}

/* A static member whose instance id now belongs to another member id has been replaced:
 * FENCED_INSTANCE_ID. Otherwise the member must exist: UNKNOWN_MEMBER_ID. */
static int16_t bk_group__check_member(const bk_group_t *g, const char *member_id,
                                      const char *instance_id, bk_gmember_t **out)
{
    bk_gmember_t *by_inst = bk_group__by_instance(g, instance_id);
    if (by_inst != NULL && strcmp(by_inst->id, member_id) != 0)
        return CM_KERR_FENCED_INSTANCE_ID;
    *out = bk_group__member(g, member_id);
    return *out != NULL ? CM_KERR_NONE : CM_KERR_UNKNOWN_MEMBER_ID;
}

static void bk_group__new_id(const char *client_id, char *out, size_t cap)
{
    uint8_t r[16];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        abort();
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    snprintf(out, cap, "%.*s-%s", 200, bk_group__blank(client_id) ? "member" : client_id, hex);
}

static void bk_group__set_protos(bk_gmember_t *m, const bk_gjoin_req_t *req)
{
    bk_group__free_protos(m);
    m->protos = bk_group__alloc((size_t)req->n_protos * sizeof(*m->protos));
    m->n_protos = req->n_protos;
    for (int i = 0; i < req->n_protos; i++) {
        m->protos[i].name = bk_group__strdup(req->protos[i].name);
        m->protos[i].meta = bk_group__memdup(req->protos[i].meta, req->protos[i].meta_len);
        m->protos[i].meta_len = req->protos[i].meta_len;
    }
    m->session_timeout_ms = req->session_timeout_ms;
    m->rebalance_timeout_ms =
        req->rebalance_timeout_ms > 0 ? req->rebalance_timeout_ms : req->session_timeout_ms;
    bk_group__set(&m->client_id, req->client_id != NULL ? req->client_id : "");
    bk_group__set(&m->client_host, req->client_host != NULL ? req->client_host : "");
}

static bool bk_group__same_protos(const bk_gmember_t *m, const bk_gjoin_req_t *req)
{
    if (m->n_protos != req->n_protos)
        return false;
    for (int i = 0; i < m->n_protos; i++)
        if (strcmp(m->protos[i].name, req->protos[i].name) != 0 ||
            m->protos[i].meta_len != req->protos[i].meta_len ||
            (m->protos[i].meta_len > 0 &&
             memcmp(m->protos[i].meta, req->protos[i].meta, m->protos[i].meta_len) != 0))
            return false;
    return true;
}

static bk_gmember_t *bk_group__add(bk_group_t *g, const char *id, const bk_gjoin_req_t *req)
{
    bk_gmember_t *m = bk_group__alloc(sizeof(*m));
    m->id = bk_group__strdup(id);
    if (!bk_group__blank(req->instance_id))
        m->instance_id = bk_group__strdup(req->instance_id);
    bk_group__set_protos(m, req);
    g->members = realloc(g->members, (size_t)(g->n_members + 1) * sizeof(*g->members));
    if (g->members == NULL)
        abort();
    g->members[g->n_members++] = m;
    /* The first member sets the group's protocol type; it stays while the group is empty
     * (Kafka describes an empty consumer group as "consumer", not as a simple group). */
    if (g->n_members == 1)
        bk_group__set(&g->protocol_type, req->protocol_type);
    return m;
}

/* Takes `m` out of the group; its waiters are answered UNKNOWN_MEMBER_ID. */
static void bk_group__drop(bk_gcoord_t *gc, bk_group_t *g, bk_gmember_t *m)
{
    for (int i = 0; i < g->n_members; i++)
        if (g->members[i] == m) {
            memmove(&g->members[i], &g->members[i + 1],
                    (size_t)(g->n_members - i - 1) * sizeof(*g->members));
            g->n_members--;
            break;
        }
    if (g->leader != NULL && strcmp(g->leader, m->id) == 0)
        bk_group__set(&g->leader, NULL);
    if (m->join_waiter != NULL)
        bk_group__join_error(gc, m->join_waiter, CM_KERR_UNKNOWN_MEMBER_ID, m->id);
    if (m->sync_waiter != NULL)
        bk_group__sync_error(gc, m->sync_waiter, CM_KERR_UNKNOWN_MEMBER_ID);
    bk_group__free_member(m);
}

/* ---- the rebalance --------------------------------------------------------------------- */

static int32_t bk_group__rebalance_timeout(const bk_group_t *g)
{
    int32_t t = 0;
    for (int i = 0; i < g->n_members; i++)
        if (g->members[i]->rebalance_timeout_ms > t)
            t = g->members[i]->rebalance_timeout_ms;
    return t;
}

/* The protocol every member supports that most members prefer (a member votes for its
 * first choice among those every member supports); ties go to the first member's order. */
static const char *bk_group__choose(const bk_group_t *g)
{
    const bk_gmember_t *first = g->members[0];
    const char *best = NULL;
    int best_votes = -1;
    for (int c = 0; c < first->n_protos; c++) {
        const char *cand = first->protos[c].name;
        bool everyone = true;
        for (int i = 1; i < g->n_members && everyone; i++)
            everyone = bk_group__proto(g->members[i], cand) != NULL;
        if (!everyone)
            continue;
        int votes = 0;
        for (int i = 0; i < g->n_members; i++) {
            const bk_gmember_t *m = g->members[i];
            for (int k = 0; k < m->n_protos; k++) {
                const char *n = m->protos[k].name;
                bool common = true;
                for (int j = 0; j < g->n_members && common; j++)
                    common = bk_group__proto(g->members[j], n) != NULL;
                if (common) {
                    votes += strcmp(n, cand) == 0;
                    break;
                }
            }
        }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

/* True when a joining member's protocols fit the group: same type, and at least one
 * protocol every current member supports. */
static bool bk_group__fits(const bk_group_t *g, const bk_gjoin_req_t *req, const bk_gmember_t *self)
{
    if (g->n_members == 0 || (g->n_members == 1 && g->members[0] == self))
        return true;
    if (g->protocol_type != NULL && strcmp(g->protocol_type, req->protocol_type) != 0)
        return false;
    for (int p = 0; p < req->n_protos; p++) {
        bool everyone = true;
        for (int i = 0; i < g->n_members && everyone; i++)
            if (g->members[i] != self)
                everyone = bk_group__proto(g->members[i], req->protos[p].name) != NULL;
        if (everyone)
            return true;
    }
    return false;
}

/* The join phase ends: members that did not rejoin leave, the generation moves on, and
 * every member that did gets its answer. */
static void bk_group__complete_join(bk_gcoord_t *gc, bk_group_t *g, int64_t now_ms)
{
    for (int i = g->n_members - 1; i >= 0; i--)
        if (g->members[i]->join_waiter == NULL)
            bk_group__drop(gc, g, g->members[i]);
    g->generation++;
    if (g->n_members == 0) {
        g->state = BK_GROUP_EMPTY;
        g->empty_since_ms = bk_group__wall(gc); /* its offsets' retention counts from now */
        bk_group__set(&g->protocol, NULL);
        bk_group__set(&g->leader, NULL);
        bk_group__settled(gc, g);
        return;
    }
    bk_group__set(&g->protocol, bk_group__choose(g));
    if (g->leader == NULL || bk_group__member(g, g->leader) == NULL)
        bk_group__set(&g->leader, g->members[0]->id);
    g->state = BK_GROUP_COMPLETING;
    for (int i = 0; i < g->n_members; i++) {
        bk_gmember_t *m = g->members[i];
        void *w = m->join_waiter;
        m->join_waiter = NULL;
        m->expires_ms = now_ms + m->session_timeout_ms;
        bk_group__join_answer(gc, g, m, w);
    }
}

static void bk_group__maybe_complete_join(bk_gcoord_t *gc, bk_group_t *g, int64_t now_ms)
{
    if (g->state != BK_GROUP_PREPARING || now_ms < g->initial_until_ms)
        return;
    bool all = true;
    for (int i = 0; i < g->n_members && all; i++)
        all = g->members[i]->join_waiter != NULL;
    if (all || now_ms >= g->join_deadline_ms)
        bk_group__complete_join(gc, g, now_ms);
}

/* Answers every waiting SyncGroup: its assignment (err 0) or `err`. */
static void bk_group__answer_syncs(bk_gcoord_t *gc, bk_group_t *g, int64_t now_ms, int16_t err)
{
    for (int i = 0; i < g->n_members; i++) {
        bk_gmember_t *m = g->members[i];
        if (m->sync_waiter == NULL)
            continue;
        void *w = m->sync_waiter;
        m->sync_waiter = NULL;
        m->expires_ms = now_ms + m->session_timeout_ms;
        if (err != CM_KERR_NONE)
            bk_group__sync_error(gc, w, err);
        else
            bk_group__sync_answer(gc, g, m, w);
    }
}

static void bk_group__prepare(bk_gcoord_t *gc, bk_group_t *g, int64_t now_ms)
{
    /* An assignment in progress is void: its SyncGroups are told to rejoin. */
    if (g->state == BK_GROUP_COMPLETING)
        bk_group__answer_syncs(gc, g, now_ms, CM_KERR_REBALANCE_IN_PROGRESS);
    for (int i = 0; i < g->n_members; i++) {
        free(g->members[i]->assignment);
        g->members[i]->assignment = NULL;
        g->members[i]->assignment_len = 0;
    }
    bool was_empty = g->state == BK_GROUP_EMPTY;
    g->state = BK_GROUP_PREPARING;
    g->join_deadline_ms = now_ms + bk_group__rebalance_timeout(g);
    g->initial_until_ms = 0;
    if (was_empty && gc->cfg.initial_rebalance_delay_ms > 0) {
        g->initial_until_ms = now_ms + gc->cfg.initial_rebalance_delay_ms;
        if (g->initial_until_ms > g->join_deadline_ms)
            g->initial_until_ms = g->join_deadline_ms;
    }
}

/* ---- groups ---------------------------------------------------------------------------- */

void bk_group__free(bk_gcoord_t *gc, bk_group_t *g, int16_t err)
{
    for (int i = 0; i < g->n_members; i++) {
        bk_gmember_t *m = g->members[i];
        if (m->join_waiter != NULL)
            bk_group__join_error(gc, m->join_waiter, err, m->id);
        if (m->sync_waiter != NULL)
            bk_group__sync_error(gc, m->sync_waiter, err);
        bk_group__free_member(m);
    }
    for (int i = 0; i < g->n_pending; i++)
        free(g->pending[i].id);
    free(g->pending);
    free(g->members);
    bk_group__free_offsets(g);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g);
}

bk_gcoord_t *bk_gcoord_new(const bk_gcoord_cfg_t *cfg, const bk_gops_t *ops)
{
    bk_gcoord_t *gc = bk_group__alloc(sizeof(*gc));
    gc->cfg = *cfg;
    gc->ops = *ops;
    cm_strmap_init(&gc->groups);
    cm_strmap_init(&gc->per_tenant);
    return gc;
}

void bk_gcoord_free(bk_gcoord_t *gc)
{
    if (gc == NULL)
        return;
    size_t it = 0;
    bk_group_t *g;
    while ((g = cm_strmap_next(&gc->groups, &it, NULL, NULL)) != NULL)
        bk_group__free(gc, g, CM_KERR_NOT_COORDINATOR);
    cm_strmap_free(&gc->groups);
    cm_strmap_free(&gc->per_tenant);
    free(gc);
}

/* ---- stored membership ----------------------------------------------------------------- */

static int32_t bk_group__clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static const char *bk_group__or_null(const char *s)
{
    return bk_group__blank(s) ? NULL : s;
}

void bk_gcoord_restore(bk_gcoord_t *gc, const char *group_id, const bk_gsaved_t *s, int64_t now_ms)
{
    if (bk_group__blank(group_id))
        return;
    bk_group_t *g = bk_group__for_record(gc, group_id, &s->tenant);
    while (g->n_members > 0)
        bk_group__drop(gc, g, g->members[g->n_members - 1]);
    g->generation = s->generation > 0 ? s->generation : 0;
    bk_group__set(&g->protocol_type, bk_group__or_null(s->protocol_type));
    bk_group__set(&g->protocol, s->n_members > 0 ? bk_group__or_null(s->protocol) : NULL);
    bk_group__set(&g->leader, NULL);
    int n = s->n_members < gc->cfg.group_size_max ? s->n_members : gc->cfg.group_size_max;
    for (int i = 0; i < n; i++) {
        const bk_gmember_view_t *v = &s->members[i];
        if (bk_group__blank(v->id) || bk_group__member(g, v->id) != NULL)
            continue;
        bk_gmember_t *m = bk_group__alloc(sizeof(*m));
        m->id = bk_group__strdup(v->id);
        bk_group__set(&m->instance_id, bk_group__or_null(v->instance_id));
        bk_group__set(&m->client_id, v->client_id != NULL ? v->client_id : "");
        bk_group__set(&m->client_host, v->client_host != NULL ? v->client_host : "");
        m->session_timeout_ms = bk_group__clamp(
            v->session_timeout_ms, gc->cfg.session_timeout_min_ms, gc->cfg.session_timeout_max_ms);
        m->rebalance_timeout_ms =
            bk_group__clamp(v->rebalance_timeout_ms, m->session_timeout_ms, INT32_MAX);
        if (g->protocol != NULL) {
            m->protos = bk_group__alloc(sizeof(*m->protos));
            m->n_protos = 1;
            m->protos[0].name = bk_group__strdup(g->protocol);
            m->protos[0].meta = bk_group__memdup(v->meta, v->meta_len);
            m->protos[0].meta_len = v->meta_len;
        }
        if (v->assignment_len > 0) {
            m->assignment = bk_group__memdup(v->assignment, v->assignment_len);
            m->assignment_len = v->assignment_len;
        }
        m->expires_ms = now_ms + m->session_timeout_ms;
        g->members = realloc(g->members, (size_t)(g->n_members + 1) * sizeof(*g->members));
        if (g->members == NULL)
            abort();
        g->members[g->n_members++] = m;
    }
    if (g->n_members == 0) {
        g->state = BK_GROUP_EMPTY;
        g->empty_since_ms = s->empty_since_ms;
        bk_group__set(&g->protocol, NULL);
        return;
    }
    bk_gmember_t *leader = bk_group__member(g, s->leader);
    bk_group__set(&g->leader, leader != NULL ? leader->id : g->members[0]->id);
    g->state = BK_GROUP_STABLE;
    if (s->rebalancing || g->protocol == NULL)
        bk_group__prepare(gc, g, now_ms);
}

bk_gsaved_t bk_group_saved(const bk_group_t *g, bk_gmember_view_t **members)
{
    *members = bk_group__alloc((size_t)(g->n_members > 0 ? g->n_members : 1) * sizeof(**members));
    for (int i = 0; i < g->n_members; i++)
        (*members)[i] = bk_group__view(g, g->members[i]);
    return (bk_gsaved_t){ .generation = g->generation,
                          .protocol_type = g->protocol_type != NULL ? g->protocol_type : "",
                          .protocol = g->protocol != NULL ? g->protocol : "",
                          .leader = g->leader != NULL ? g->leader : "",
                          .rebalancing =
                              g->state == BK_GROUP_PREPARING || g->state == BK_GROUP_COMPLETING,
                          .members = *members,
                          .n_members = g->n_members,
                          .empty_since_ms = g->state == BK_GROUP_EMPTY ? g->empty_since_ms : -1,
                          .tenant = g->tenant };
}

/* ---- JoinGroup ------------------------------------------------------------------------- */

static bool bk_group__take_pending(bk_group_t *g, const char *id)
{
    for (int i = 0; i < g->n_pending; i++)
        if (strcmp(g->pending[i].id, id) == 0) {
            free(g->pending[i].id);
            g->pending[i] = g->pending[--g->n_pending];
            return true;
        }
    return false;
}

/* A known member (re)joins in the group's current state. */
static void bk_group__rejoin(bk_gcoord_t *gc, bk_group_t *g, bk_gmember_t *m,
                             const bk_gjoin_req_t *req, int64_t now_ms, void *waiter)
{
    if (m->join_waiter != NULL) /* a JoinGroup sent again before the first was answered */
        bk_group__join_error(gc, m->join_waiter, CM_KERR_REBALANCE_IN_PROGRESS, m->id);
    bool same = bk_group__same_protos(m, req);
    bool leader = g->leader != NULL && strcmp(g->leader, m->id) == 0;
    m->expires_ms = now_ms + req->session_timeout_ms;
    switch (g->state) {
    case BK_GROUP_COMPLETING:
    case BK_GROUP_STABLE:
        /* Nothing changed for a follower: it gets the current generation again. The leader
         * rejoining (or changed metadata) means the assignment must be made again. */
        if (same && (g->state == BK_GROUP_COMPLETING || !leader)) {
            m->join_waiter = NULL;
            bk_group__join_answer(gc, g, m, waiter);
            return;
        }
        bk_group__set_protos(m, req);
        m->join_waiter = waiter;
        bk_group__prepare(gc, g, now_ms);
        break;
    default:
        bk_group__set_protos(m, req);
        m->join_waiter = waiter;
        break;
    }
    bk_group__maybe_complete_join(gc, g, now_ms);
}

void bk_gcoord_join(bk_gcoord_t *gc, const bk_gjoin_req_t *req, int64_t now_ms, void *waiter)
{
    const char *mid = req->member_id != NULL ? req->member_id : "";
    if (bk_group__blank(req->group_id)) {
        bk_group__join_error(gc, waiter, CM_KERR_INVALID_GROUP_ID, mid);
        return;
    }
    if (req->session_timeout_ms < gc->cfg.session_timeout_min_ms ||
        req->session_timeout_ms > gc->cfg.session_timeout_max_ms) {
        bk_group__join_error(gc, waiter, CM_KERR_INVALID_SESSION_TIMEOUT, mid);
        return;
    }
    if (bk_group__blank(req->protocol_type) || req->n_protos <= 0) {
        bk_group__join_error(gc, waiter, CM_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    bk_group_t *g = bk_group__get(gc, req->group_id);
    if (g == NULL) {
        int16_t err = mid[0] != '\0' ? CM_KERR_UNKNOWN_MEMBER_ID
                                      : bk_group__may_create(gc, req->group_id);
        if (err != CM_KERR_NONE) {
            bk_group__join_error(gc, waiter, err, mid);
            return;
        }
        g = bk_group__create(gc, req->group_id);
    }
    if (g->state == BK_GROUP_DEAD) {
        bk_group__join_error(gc, waiter, CM_KERR_COORDINATOR_NOT_AVAILABLE, mid);
        return;
    }
    bk_gmember_t *m = NULL;
    if (mid[0] != '\0') {
        int16_t err = bk_group__check_member(g, mid, req->instance_id, &m);
        if (err == CM_KERR_UNKNOWN_MEMBER_ID && bk_group__take_pending(g, mid))
            err = CM_KERR_NONE; /* the id handed out with MEMBER_ID_REQUIRED */
        if (err != CM_KERR_NONE) {
            bk_group__join_error(gc, waiter, err, mid);
            return;
        }
    } else if (!bk_group__blank(req->instance_id)) {
        /* A static member restarting: it takes over its instance's place under a new id;
         * a JoinGroup still waiting under the old id is fenced. */
        m = bk_group__by_instance(g, req->instance_id);
        if (m != NULL) {
            char id[256];
            bk_group__new_id(req->client_id, id, sizeof(id));
            if (m->join_waiter != NULL) {
                bk_group__join_error(gc, m->join_waiter, CM_KERR_FENCED_INSTANCE_ID, m->id);
                m->join_waiter = NULL;
            }
            if (m->sync_waiter != NULL) {
                bk_group__sync_error(gc, m->sync_waiter, CM_KERR_FENCED_INSTANCE_ID);
                m->sync_waiter = NULL;
            }
            if (g->leader != NULL && strcmp(g->leader, m->id) == 0)
                bk_group__set(&g->leader, id);
            bk_group__set(&m->id, id);
        }
    }
    if (!bk_group__fits(g, req, m)) {
        bk_group__join_error(gc, waiter, CM_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (m != NULL) {
        bk_group__rejoin(gc, g, m, req, now_ms, waiter);
        return;
    }
    if (g->n_members >= gc->cfg.group_size_max) {
        bk_group__join_error(gc, waiter, CM_KERR_GROUP_MAX_SIZE_REACHED, mid);
        return;
    }
    char id[256];
    if (mid[0] != '\0') {
        snprintf(id, sizeof(id), "%s", mid);
    } else {
        bk_group__new_id(req->client_id, id, sizeof(id));
        if (req->member_id_required && bk_group__blank(req->instance_id)) {
            /* KIP-394: the id first, so that a client that retries a lost answer does not
             * leave a member behind that nobody heartbeats for. */
            g->pending = realloc(g->pending, (size_t)(g->n_pending + 1) * sizeof(*g->pending));
            if (g->pending == NULL)
                abort();
            g->pending[g->n_pending++] =
                (bk_gpending_t){ bk_group__strdup(id), now_ms + req->session_timeout_ms };
            bk_group__join_error(gc, waiter, CM_KERR_MEMBER_ID_REQUIRED, id);
            return;
        }
    }
    m = bk_group__add(g, id, req);
    m->expires_ms = now_ms + req->session_timeout_ms;
    m->join_waiter = waiter;
    if (g->state == BK_GROUP_PREPARING) {
        /* Still gathering the first members: wait a little longer for more, within the
         * rebalance timeout. */
        if (g->initial_until_ms > now_ms) {
            int64_t until = now_ms + gc->cfg.initial_rebalance_delay_ms;
            g->initial_until_ms = until < g->join_deadline_ms ? until : g->join_deadline_ms;
        }
    } else {
        bk_group__prepare(gc, g, now_ms);
    }
    bk_group__maybe_complete_join(gc, g, now_ms);
}

/* ---- SyncGroup ------------------------------------------------------------------------- */

void bk_gcoord_sync(bk_gcoord_t *gc, const bk_gsync_req_t *req, int64_t now_ms, void *waiter)
{
    bk_group_t *g = bk_group__blank(req->group_id) ? NULL : bk_group__get(gc, req->group_id);
    if (bk_group__blank(req->group_id)) {
        bk_group__sync_error(gc, waiter, CM_KERR_INVALID_GROUP_ID);
        return;
    }
    if (g == NULL) {
        bk_group__sync_error(gc, waiter, CM_KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (g->state == BK_GROUP_DEAD) {
        bk_group__sync_error(gc, waiter, CM_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    bk_gmember_t *m = NULL;
    int16_t err = bk_group__check_member(g, req->member_id, req->instance_id, &m);
    if (err == CM_KERR_NONE && req->generation != g->generation)
        err = CM_KERR_ILLEGAL_GENERATION;
    if (err == CM_KERR_NONE &&
        ((req->protocol_type != NULL && g->protocol_type != NULL &&
          strcmp(req->protocol_type, g->protocol_type) != 0) ||
         (req->protocol != NULL && g->protocol != NULL && strcmp(req->protocol, g->protocol) != 0)))
        err = CM_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == CM_KERR_NONE && g->state == BK_GROUP_PREPARING)
        err = CM_KERR_REBALANCE_IN_PROGRESS;
    if (err != CM_KERR_NONE) {
        bk_group__sync_error(gc, waiter, err);
        return;
    }
    m->expires_ms = now_ms + m->session_timeout_ms;
    if (g->state == BK_GROUP_STABLE) {
        bk_group__sync_answer(gc, g, m, waiter);
        return;
    }
    /* CompletingRebalance. */
    if (m->sync_waiter != NULL)
        bk_group__sync_error(gc, m->sync_waiter, CM_KERR_REBALANCE_IN_PROGRESS);
    m->sync_waiter = waiter;
    if (g->leader == NULL || strcmp(g->leader, m->id) != 0)
        return;
    for (int i = 0; i < g->n_members; i++) {
        bk_gmember_t *x = g->members[i];
        free(x->assignment);
        x->assignment = NULL;
        x->assignment_len = 0;
        for (int k = 0; k < req->n_assignments; k++)
            if (req->assignments[k].member_id != NULL &&
                strcmp(req->assignments[k].member_id, x->id) == 0) {
                x->assignment = bk_group__memdup(req->assignments[k].data, req->assignments[k].len);
                x->assignment_len = req->assignments[k].len;
                break;
            }
    }
    g->state = BK_GROUP_STABLE;
    bk_group__answer_syncs(gc, g, now_ms, CM_KERR_NONE);
    bk_group__settled(gc, g);
}

/* ---- Heartbeat, LeaveGroup, OffsetCommit ------------------------------------------------ */

/* The group and member a request names, or its error. */
static int16_t bk_group__lookup(bk_gcoord_t *gc, const char *group_id, const char *member_id,
                                const char *instance_id, bk_group_t **g, bk_gmember_t **m)
{
    if (bk_group__blank(group_id))
        return CM_KERR_INVALID_GROUP_ID;
    *g = bk_group__get(gc, group_id);
    if (*g == NULL)
        return CM_KERR_UNKNOWN_MEMBER_ID;
    if ((*g)->state == BK_GROUP_DEAD)
        return CM_KERR_COORDINATOR_NOT_AVAILABLE;
    return bk_group__check_member(*g, member_id != NULL ? member_id : "", instance_id, m);
}

/* The same, for a member that names its generation: it must be the group's. */
static int16_t bk_group__lookup_gen(bk_gcoord_t *gc, const char *group_id, const char *member_id,
                                    const char *instance_id, int32_t generation, bk_group_t **g,
                                    bk_gmember_t **m)
{
    int16_t err = bk_group__lookup(gc, group_id, member_id, instance_id, g, m);
    if (err == CM_KERR_NONE && generation != (*g)->generation)
        err = CM_KERR_ILLEGAL_GENERATION;
    return err;
}

int16_t bk_gcoord_heartbeat(bk_gcoord_t *gc, const char *group_id, const char *member_id,
                            const char *instance_id, int32_t generation, int64_t now_ms)
{
    bk_group_t *g;
    bk_gmember_t *m;
    int16_t err = bk_group__lookup_gen(gc, group_id, member_id, instance_id, generation, &g, &m);
    if (err != CM_KERR_NONE)
        return err;
    m->expires_ms = now_ms + m->session_timeout_ms;
    return g->state == BK_GROUP_PREPARING ? CM_KERR_REBALANCE_IN_PROGRESS : CM_KERR_NONE;
}

int16_t bk_gcoord_leave(bk_gcoord_t *gc, const char *group_id, const char *member_id,
                        const char *instance_id, int64_t now_ms)
{
    bk_group_t *g;
    bk_gmember_t *m;
    if (bk_group__blank(member_id) && !bk_group__blank(instance_id)) {
        if (bk_group__blank(group_id))
            return CM_KERR_INVALID_GROUP_ID;
        g = bk_group__get(gc, group_id);
        m = g != NULL ? bk_group__by_instance(g, instance_id) : NULL;
        if (m == NULL)
            return CM_KERR_UNKNOWN_MEMBER_ID;
    } else {
        int16_t err = bk_group__lookup(gc, group_id, member_id, instance_id, &g, &m);
        if (err != CM_KERR_NONE)
            return err;
    }
    bk_group__drop(gc, g, m);
    if (g->state == BK_GROUP_STABLE || g->state == BK_GROUP_COMPLETING)
        bk_group__prepare(gc, g, now_ms);
    bk_group__maybe_complete_join(gc, g, now_ms);
    return CM_KERR_NONE;
}

int16_t bk_gcoord_commit_check(bk_gcoord_t *gc, const char *group_id, int32_t generation,
                               const char *member_id, const char *instance_id, int64_t now_ms)
{
    if (bk_group__blank(group_id))
        return CM_KERR_INVALID_GROUP_ID;
    bk_group_t *g = bk_group__get(gc, group_id);
    if (generation < 0 && bk_group__blank(member_id)) {
        if (g == NULL) {
            int16_t err = bk_group__may_create(gc, group_id);
            if (err != CM_KERR_NONE)
                return err;
            g = bk_group__create(gc, group_id);
        }
        if (g->state == BK_GROUP_DEAD)
            return CM_KERR_COORDINATOR_NOT_AVAILABLE;
        return g->state == BK_GROUP_EMPTY ? CM_KERR_NONE : CM_KERR_UNKNOWN_MEMBER_ID;
    }
    bk_gmember_t *m;
    int16_t err = bk_group__lookup_gen(gc, group_id, member_id, instance_id, generation, &g, &m);
    if (err != CM_KERR_NONE)
        return err;
    /* Between the join phase and the assignment a member's partitions are not settled. */
    if (g->state == BK_GROUP_COMPLETING)
        return CM_KERR_REBALANCE_IN_PROGRESS;
    m->expires_ms = now_ms + m->session_timeout_ms;
    return CM_KERR_NONE;
}

/* ---- time ------------------------------------------------------------------------------ */

static int64_t bk_group__tick(bk_gcoord_t *gc, bk_group_t *g, int64_t now_ms)
{
    for (int i = g->n_pending - 1; i >= 0; i--)
        if (g->pending[i].expires_ms <= now_ms) {
            free(g->pending[i].id);
            g->pending[i] = g->pending[--g->n_pending];
        }
    bool dropped = false;
    for (int i = g->n_members - 1; i >= 0; i--) {
        bk_gmember_t *m = g->members[i];
        if (m->join_waiter == NULL && m->sync_waiter == NULL && m->expires_ms <= now_ms) {
            bk_group__drop(gc, g, m);
            dropped = true;
        }
    }
    if (dropped && (g->state == BK_GROUP_STABLE || g->state == BK_GROUP_COMPLETING))
        bk_group__prepare(gc, g, now_ms);
    bk_group__maybe_complete_join(gc, g, now_ms);
    int64_t next = INT64_MAX;
    for (int i = 0; i < g->n_pending; i++)
        if (g->pending[i].expires_ms < next)
            next = g->pending[i].expires_ms;
    for (int i = 0; i < g->n_members; i++) {
        const bk_gmember_t *m = g->members[i];
        if (m->join_waiter == NULL && m->sync_waiter == NULL && m->expires_ms < next)
            next = m->expires_ms;
    }
    if (g->state == BK_GROUP_PREPARING) {
        int64_t due = g->initial_until_ms > now_ms ? g->initial_until_ms : g->join_deadline_ms;
        if (due < next)
            next = due;
    }
    return next;
}

int64_t bk_gcoord_tick(bk_gcoord_t *gc, int64_t now_ms)
{
    int64_t next = INT64_MAX;
    size_t it = 0;
    bk_group_t *g, *gone[64];
    int n_gone = 0;
    while ((g = cm_strmap_next(&gc->groups, &it, NULL, NULL)) != NULL) {
        int64_t t = bk_group__tick(gc, g, now_ms);
        if (t < next)
            next = t;
        /* A group with nothing left in it (its members gone, no offsets) is forgotten,
         * after the walk: the map must not change during it. */
        if (n_gone < 64 && g->state == BK_GROUP_EMPTY && g->n_members == 0 && g->n_pending == 0 &&
            g->offsets.size == 0)
            gone[n_gone++] = g;
    }
    for (int i = 0; i < n_gone; i++)
        bk_group__remove(gc, gone[i], CM_KERR_COORDINATOR_NOT_AVAILABLE);
    return next;
}
