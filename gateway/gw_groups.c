/*
 * A tenant's consumer groups, read only: /consumer-groups[/{g}[/consumers[/{id}[/assignments]]
 * | /lags[/{topic}/partitions/{p}] | /lag-summary]].
 *
 * Groups live on the brokers' coordinators under the brokers' name "<tenant>.<group>", like
 * topics; a tenant sees only the groups with its own prefix, and of those only the ones its
 * principal may describe. Another tenant's group, a group that does not exist and one the
 * principal may not describe are the same 404.
 *
 * Every answer is built from the brokers of the tenant's pool, asked together:
 *   - a list asks each broker for the groups it coordinates (ListGroups), then describes
 *     them (DescribeGroups) on the broker that listed them;
 *   - one group is described by every broker at once: its coordinator answers, the others
 *     say NOT_COORDINATOR;
 *   - lags add the group's committed offsets (OffsetFetch to the coordinator) and the
 *     log-end offsets of those partitions (ListOffsets to their leaders). A partition
 *     appears in the lags once the group has committed an offset for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "gw_kafka.h"
#include "gw_meta.h"
#include "gw_rest.h"

#define GW_GRP__LIST_VERSION     4
#define GW_GRP__DESCRIBE_VERSION 5
#define GW_GRP__OFFSETS_VERSION  7
#define GW_GRP__ENDS_VERSION     1

typedef enum gw_grp__what {
    GW_GRP__LIST,
    GW_GRP__ONE,
    GW_GRP__CONSUMERS,
    GW_GRP__ASSIGNMENTS,
    GW_GRP__LAGS,
    GW_GRP__LAG_SUMMARY,
} gw_grp__what_t;

typedef enum gw_grp__phase {
    GW_GRP__P_LIST,
    GW_GRP__P_DESCRIBE,
    GW_GRP__P_OFFSETS,
    GW_GRP__P_ENDS
} gw_grp__phase_t;

/* A group seen by the brokers: its tenant-facing name and where it lives. */
typedef struct gw_grp__group {
    const char *name;
    const char *full;
    int32_t broker; /* the broker that listed it (its coordinator) */
    const cm_describe_groups_resp_described_group_t *desc;
} gw_grp__group_t;

/* A partition the group committed an offset for. */
typedef struct gw_grp__lag {
    const gw_topic_t *topic;
    int32_t partition;
    int64_t committed;
    int64_t end;                                                    /* -1 until known */
    const cm_describe_groups_resp_described_group_member_t *member; /* assigned to, or NULL */
} gw_grp__lag_t;

typedef struct gw_grp__ask {
    gw_rreq_t *r;
    gw_grp__what_t what;
    gw_grp__phase_t phase;
    int pending;  /* calls in flight in this phase */
    int failures; /* calls of this phase without an answer */
    char why[200];
    gw_grp__group_t *groups;
    int n_groups, cap_groups;
    int32_t coordinator; /* one group: the broker that answered for it; -1 none */
    gw_grp__lag_t *lags;
    int n_lags;
} gw_grp__ask_t;

static void gw_grp__phase_done(gw_grp__ask_t *ask);

/* ---- names --------------------------------------------------------------------------- */

bool gw_group_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 249)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* The tenant-facing name of a brokers' name "<tenant>.<name>", or NULL when it is not the
 * tenant's. The result is in the request's arena. */
static const char *gw_grp__own(gw_rreq_t *r, cm_kstr_t full)
{
    const char *tn = r->ss.tenant->name;
    size_t tl = strlen(tn);
    if (full.len <= (int32_t)tl + 1 || memcmp(full.ptr, tn, tl) != 0 || full.ptr[tl] != '.')
        return NULL;
    size_t n = (size_t)full.len - tl - 1;
    char *s = cm_arena_alloc(&r->arena, n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, full.ptr + tl + 1, n);
    s[n] = '\0';
    return s;
}

static const char *gw_grp__full(gw_rreq_t *r, const char *name)
{
    size_t n = strlen(r->ss.tenant->name) + 1 + strlen(name) + 1;
    char *s = cm_arena_alloc(&r->arena, n);
    if (s != NULL)
        snprintf(s, n, "%s.%s", r->ss.tenant->name, name);
    return s;
}

static bool gw_grp__kstr_is(cm_kstr_t k, const char *s)
{
    return k.len == (int32_t)strlen(s) && memcmp(k.ptr, s, (size_t)k.len) == 0;
}

static const char *gw_grp__state(cm_kstr_t s)
{
    static const char *const names[][2] = {
        { "Empty", "EMPTY" },
        { "PreparingRebalance", "PREPARING_REBALANCE" },
        { "CompletingRebalance", "COMPLETING_REBALANCE" },
        { "Stable", "STABLE" },
        { "Dead", "DEAD" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (gw_grp__kstr_is(s, names[i][0]))
            return names[i][1];
    return "UNKNOWN";
}

/* ---- calls ----------------------------------------------------------------------------- */

/* Copies an answer into the request's arena (decoded strings point into it) and starts a
 * reader on the copy; false when it does not fit. */
static bool gw_grp__keep(gw_rreq_t *r, const cm_kr_t *body, cm_kr_t *out)
{
    size_t n = cm_kr_left(body);
    uint8_t *copy = cm_arena_alloc(&r->arena, n ? n : 1);
    if (copy == NULL)
        return false;
    memcpy(copy, body->p, n);
    cm_kr_init(out, copy, n);
    return true;
}

static void gw_grp__fail(gw_grp__ask_t *ask, const char *why)
{
    if (ask->failures++ == 0)
        snprintf(ask->why, sizeof(ask->why), "%s", why);
}

/* Ends a call of the current phase; the last one moves on. */
static void gw_grp__call_done(gw_grp__ask_t *ask)
{
    if (--ask->pending == 0)
        gw_grp__phase_done(ask);
}

static void gw_grp__send(gw_grp__ask_t *ask, const gw_broker_t *b, gw_kcall_t *c)
{
    ask->pending++;
    gw_kcall_send(ask->r->w->kpool, b, c);
}

static gw_grp__group_t *gw_grp__add(gw_grp__ask_t *ask, const char *name, const char *full,
                                    int32_t broker)
{
    if (ask->n_groups == ask->cap_groups) {
        int cap = ask->cap_groups ? ask->cap_groups * 2 : 16;
        gw_grp__group_t *g = cm_arena_calloc(&ask->r->arena, (size_t)cap, sizeof(*g));
        if (g == NULL)
            return NULL;
        if (ask->n_groups > 0)
            memcpy(g, ask->groups, (size_t)ask->n_groups * sizeof(*g));
        ask->groups = g;
        ask->cap_groups = cap;
    }
    gw_grp__group_t *g = &ask->groups[ask->n_groups++];
    *g = (gw_grp__group_t){ .name = name, .full = full, .broker = broker };
    return g;
}

static void gw_grp__listed(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_grp__ask_t *ask = c->ud;
    gw_rreq_t *r = ask->r;
    int32_t broker = c->broker_id;
    cm_kr_t kept;
    cm_list_groups_resp_t resp;
    if (st != GW_KCALL_OK || !gw_grp__keep(r, body, &kept) ||
        cm_list_groups_resp_decode(&kept, c->api_version, &r->arena, &resp) != 0 ||
        resp.error_code != 0) {
        gw_grp__fail(ask, st == GW_KCALL_OK ? "a broker could not list its groups" : c->why);
    } else {
        for (int32_t i = 0; i < resp.groups_n; i++) {
            const char *name = gw_grp__own(r, resp.groups[i].group_id);
            if (name == NULL ||
                !gw_session_allowed(&r->ss, CM_ACL_RT_GROUP, name, CM_ACL_OP_DESCRIBE))
                continue;
            if (gw_grp__add(ask, name, gw_grp__full(r, name), broker) == NULL)
                gw_grp__fail(ask, "too many groups to answer at once");
        }
    }
    gw_grp__call_done(ask);
}

static void gw_grp__described(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_grp__ask_t *ask = c->ud;
    gw_rreq_t *r = ask->r;
    int32_t broker = c->broker_id;
    cm_kr_t kept;
    cm_describe_groups_resp_t resp;
    if (st != GW_KCALL_OK || !gw_grp__keep(r, body, &kept) ||
        cm_describe_groups_resp_decode(&kept, c->api_version, &r->arena, &resp) != 0) {
        gw_grp__fail(ask, st == GW_KCALL_OK ? "malformed answer from a broker" : c->why);
        gw_grp__call_done(ask);
        return;
    }
    for (int32_t i = 0; i < resp.groups_n; i++) {
        const cm_describe_groups_resp_described_group_t *d = &resp.groups[i];
        if (d->error_code == CM_KERR_NOT_COORDINATOR)
            continue;
        for (int k = 0; k < ask->n_groups; k++) {
            gw_grp__group_t *g = &ask->groups[k];
            if (g->desc == NULL && gw_grp__kstr_is(d->group_id, g->full)) {
                g->desc = d;
                if (ask->what != GW_GRP__LIST)
                    ask->coordinator = broker;
            }
        }
    }
    gw_grp__call_done(ask);
}

static gw_kcall_t *gw_grp__call(gw_grp__ask_t *ask, int16_t api, int16_t version, gw_kcall_fn cb)
{
    return gw_kcall_new(ask->r->w->kpool, api, version, 0, cb, ask);
}

static void gw_grp__describe(gw_grp__ask_t *ask, const gw_broker_t *b, int32_t only_broker)
{
    cm_describe_groups_req_t req;
    cm_describe_groups_req_init(&req);
    cm_kstr_t *names = cm_arena_calloc(&ask->r->arena, (size_t)ask->n_groups + 1, sizeof(*names));
    if (names == NULL)
        return;
    req.groups = names;
    req.groups_n = 0;
    for (int k = 0; k < ask->n_groups; k++)
        if (only_broker < 0 || ask->groups[k].broker == only_broker)
            names[req.groups_n++] = cm_kstr_c(ask->groups[k].full);
    if (req.groups_n == 0)
        return;
    gw_kcall_t *c =
        gw_grp__call(ask, CM_KAPI_DESCRIBE_GROUPS, GW_GRP__DESCRIBE_VERSION, gw_grp__described);
    cm_describe_groups_req_encode(&c->w, GW_GRP__DESCRIBE_VERSION, &req);
    gw_grp__send(ask, b, c);
}

static void gw_grp__ended(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_grp__ask_t *ask = c->ud;
    cm_arena_t a;
    cm_arena_init(&a, 4u << 20);
    cm_list_offsets_resp_t resp;
    if (st != GW_KCALL_OK || cm_list_offsets_resp_decode(body, c->api_version, &a, &resp) != 0) {
        gw_grp__fail(ask, st == GW_KCALL_OK ? "malformed answer from a broker" : c->why);
    } else {
        for (int32_t i = 0; i < resp.topics_n; i++) {
            for (int32_t j = 0; j < resp.topics[i].partitions_n; j++) {
                const cm_list_offsets_resp_partition_response_t *p = &resp.topics[i].partitions[j];
                for (int k = 0; k < ask->n_lags; k++) {
                    gw_grp__lag_t *l = &ask->lags[k];
                    if (l->partition == p->partition_index && p->error_code == 0 &&
                        gw_grp__kstr_is(resp.topics[i].name, l->topic->full))
                        l->end = p->offset;
                }
            }
        }
    }
    cm_arena_free(&a);
    gw_grp__call_done(ask);
}

static void gw_grp__fetched_offsets(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_grp__ask_t *ask = c->ud;
    gw_rreq_t *r = ask->r;
    cm_kr_t kept;
    cm_offset_fetch_resp_t resp;
    if (st != GW_KCALL_OK || !gw_grp__keep(r, body, &kept) ||
        cm_offset_fetch_resp_decode(&kept, c->api_version, &r->arena, &resp) != 0 ||
        resp.error_code != 0) {
        gw_grp__fail(ask, st == GW_KCALL_OK ? "the group's coordinator cannot read its offsets"
                                            : c->why);
        gw_grp__call_done(ask);
        return;
    }
    int n = 0;
    for (int32_t i = 0; i < resp.topics_n; i++)
        n += resp.topics[i].partitions_n > 0 ? resp.topics[i].partitions_n : 0;
    ask->lags = cm_arena_calloc(&r->arena, (size_t)n + 1, sizeof(*ask->lags));
    if (ask->lags == NULL) {
        gw_grp__fail(ask, "too many partitions to answer at once");
        gw_grp__call_done(ask);
        return;
    }
    for (int32_t i = 0; i < resp.topics_n; i++) {
        const char *name = gw_grp__own(r, resp.topics[i].name);
        const gw_topic_t *t = name != NULL ? gw_snap_topic(r->ss.tenant, name) : NULL;
        if (t == NULL || !gw_session_allowed(&r->ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_DESCRIBE))
            continue;
        for (int32_t j = 0; j < resp.topics[i].partitions_n; j++) {
            const cm_offset_fetch_resp_partition_t *p = &resp.topics[i].partitions[j];
            if (p->error_code != 0 || p->committed_offset < 0 || p->partition_index < 0 ||
                p->partition_index >= t->n_parts)
                continue;
            ask->lags[ask->n_lags++] = (gw_grp__lag_t){ .topic = t,
                                                        .partition = p->partition_index,
                                                        .committed = p->committed_offset,
                                                        .end = -1 };
        }
    }
    gw_grp__call_done(ask);
}

/* ---- phases ---------------------------------------------------------------------------- */

static void gw_grp__answer(gw_grp__ask_t *ask);

/* Asks the leaders of the lag partitions for their log-end offsets, one call per leader. */
static void gw_grp__ask_ends(gw_grp__ask_t *ask)
{
    gw_rreq_t *r = ask->r;
    ask->phase = GW_GRP__P_ENDS;
    ask->pending = 1; /* held while the calls go out */
    const gw_broker_t *pool[64];
    int nb = gw_snap_pool(r->snap, r->ss.tenant, pool, 64);
    for (int bi = 0; bi < nb; bi++) {
        cm_list_offsets_req_t req;
        cm_list_offsets_req_init(&req);
        req.replica_id = -1;
        req.topics = cm_arena_calloc(&r->arena, (size_t)ask->n_lags + 1, sizeof(*req.topics));
        if (req.topics == NULL)
            break;
        req.topics_n = 0;
        /* One entry per topic, with its partitions led by this broker. */
        for (int k = 0; k < ask->n_lags; k++) {
            const gw_topic_t *t = ask->lags[k].topic;
            bool seen = false, led = false;
            for (int q = 0; q < k; q++)
                seen = seen || ask->lags[q].topic == t;
            for (int q = k; q < ask->n_lags && !seen; q++)
                led = led || (ask->lags[q].topic == t &&
                              t->parts[ask->lags[q].partition].leader == pool[bi]->id);
            if (seen || !led)
                continue;
            cm_list_offsets_req_topic_t *rt = &req.topics[req.topics_n++];
            cm_list_offsets_req_topic_init(rt);
            rt->name = cm_kstr_c(t->full);
            rt->partitions =
                cm_arena_calloc(&r->arena, (size_t)(ask->n_lags - k), sizeof(*rt->partitions));
            if (rt->partitions == NULL) {
                gw_grp__fail(ask, "too many partitions to answer at once");
                break;
            }
            rt->partitions_n = 0;
            for (int q = k; q < ask->n_lags; q++) {
                if (ask->lags[q].topic != t ||
                    t->parts[ask->lags[q].partition].leader != pool[bi]->id)
                    continue;
                cm_list_offsets_req_partition_t *p = &rt->partitions[rt->partitions_n++];
                cm_list_offsets_req_partition_init(p);
                p->partition_index = ask->lags[q].partition;
                p->timestamp = -1; /* the log end */
            }
        }
        if (req.topics_n == 0 || ask->failures > 0)
            continue;
        gw_kcall_t *c =
            gw_grp__call(ask, CM_KAPI_LIST_OFFSETS, GW_GRP__ENDS_VERSION, gw_grp__ended);
        cm_list_offsets_req_encode(&c->w, GW_GRP__ENDS_VERSION, &req);
        gw_grp__send(ask, pool[bi], c);
    }
    gw_grp__call_done(ask);
}

static void gw_grp__ask_offsets(gw_grp__ask_t *ask)
{
    ask->phase = GW_GRP__P_OFFSETS;
    const gw_broker_t *b = gw_snap_broker(ask->r->snap, ask->coordinator);
    if (b == NULL) {
        gw_grp__fail(ask, "the group's coordinator is not available");
        gw_grp__answer(ask);
        return;
    }
    cm_offset_fetch_req_t req;
    cm_offset_fetch_req_init(&req);
    req.group_id = cm_kstr_c(ask->groups[0].full);
    req.topics_n = -1; /* every partition the group committed */
    gw_kcall_t *c =
        gw_grp__call(ask, CM_KAPI_OFFSET_FETCH, GW_GRP__OFFSETS_VERSION, gw_grp__fetched_offsets);
    cm_offset_fetch_req_encode(&c->w, GW_GRP__OFFSETS_VERSION, &req);
    gw_grp__send(ask, b, c);
}

static void gw_grp__phase_done(gw_grp__ask_t *ask)
{
    gw_rreq_t *r = ask->r;
    if (ask->failures > 0 || r->req == NULL) {
        gw_grp__answer(ask);
        return;
    }
    switch (ask->phase) {
    case GW_GRP__P_LIST: {
        ask->phase = GW_GRP__P_DESCRIBE;
        ask->pending = 1;
        const gw_broker_t *pool[64];
        int nb = gw_snap_pool(r->snap, r->ss.tenant, pool, 64);
        for (int i = 0; i < nb; i++)
            gw_grp__describe(ask, pool[i], pool[i]->id);
        gw_grp__call_done(ask);
        return;
    }
    case GW_GRP__P_DESCRIBE:
        if ((ask->what == GW_GRP__LAGS || ask->what == GW_GRP__LAG_SUMMARY) &&
            ask->groups[0].desc != NULL && ask->groups[0].desc->error_code == 0) {
            gw_grp__ask_offsets(ask);
            return;
        }
        break;
    case GW_GRP__P_OFFSETS:
        if (ask->n_lags > 0) {
            gw_grp__ask_ends(ask);
            return;
        }
        break;
    case GW_GRP__P_ENDS:
        break;
    }
    gw_grp__answer(ask);
}

/* ---- answers --------------------------------------------------------------------------- */

/* The partitions assigned to a member, decoded from its ConsumerProtocolAssignment. */
static bool gw_grp__assignment(gw_rreq_t *r,
                               const cm_describe_groups_resp_described_group_member_t *m,
                               cm_consumer_protocol_assignment_t *out)
{
    cm_consumer_protocol_assignment_init(out);
    out->assigned_partitions_n = 0;
    if (m->member_assignment.len < 2)
        return false;
    cm_kr_t kr;
    cm_kr_init(&kr, m->member_assignment.ptr, (size_t)m->member_assignment.len);
    int16_t v = (int16_t)cm_be16(m->member_assignment.ptr);
    kr.p += 2;
    if (v < 0)
        return false;
    if (v > CM_CONSUMER_PROTOCOL_ASSIGNMENT_MAX_VERSION)
        v = CM_CONSUMER_PROTOCOL_ASSIGNMENT_MAX_VERSION; /* later versions add fields at the end */
    if (cm_consumer_protocol_assignment_decode(&kr, v, &r->arena, out) != 0) {
        out->assigned_partitions_n = 0;
        return false;
    }
    return true;
}

static bool gw_grp__consumer_protocol(const cm_describe_groups_resp_described_group_t *d)
{
    return gw_grp__kstr_is(d->protocol_type, "consumer");
}

static void gw_grp__group_obj(gw_rreq_t *r, cm_jw_t *jw, const gw_grp__group_t *g)
{
    const cm_describe_groups_resp_described_group_t *d = g->desc;
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", "KafkaConsumerGroup");
    gw_rest_metadata(r, jw, "consumer-groups/%s", g->name);
    cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
    cm_jw_kstr(jw, "consumer_group_id", g->name);
    cm_jw_kbool(jw, "is_simple", d->protocol_type.len <= 0);
    cm_jw_key(jw, "partition_assignor");
    cm_jw_strn(jw, d->protocol_data.ptr,
               d->protocol_data.len > 0 ? (size_t)d->protocol_data.len : 0);
    cm_jw_kstr(jw, "state", gw_grp__state(d->group_state));
    cm_jw_kint(jw, "members_count", d->members_n > 0 ? d->members_n : 0);
    gw_rest_related(r, jw, "consumers", "consumer-groups/%s/consumers", g->name);
    gw_rest_related(r, jw, "lag_summary", "consumer-groups/%s/lag-summary", g->name);
    cm_jw_obj_end(jw);
}

static void gw_grp__kstr_field(cm_jw_t *jw, const char *key, cm_kstr_t s)
{
    cm_jw_key(jw, key);
    if (s.len < 0)
        cm_jw_null(jw);
    else
        cm_jw_strn(jw, s.ptr, (size_t)s.len);
}

static void gw_grp__consumer_obj(gw_rreq_t *r, cm_jw_t *jw, const gw_grp__group_t *g,
                                 const cm_describe_groups_resp_described_group_member_t *m)
{
    char id[256];
    snprintf(id, sizeof(id), "%.*s", (int)m->member_id.len, m->member_id.ptr);
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", "KafkaConsumer");
    gw_rest_metadata(r, jw, "consumer-groups/%s/consumers/%s", g->name, id);
    cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
    cm_jw_kstr(jw, "consumer_group_id", g->name);
    cm_jw_kstr(jw, "consumer_id", id);
    gw_grp__kstr_field(jw, "instance_id", m->group_instance_id);
    gw_grp__kstr_field(jw, "client_id", m->client_id);
    gw_rest_related(r, jw, "assignments", "consumer-groups/%s/consumers/%s/assignments", g->name,
                    id);
    cm_jw_obj_end(jw);
}

/* Calls `fn` for each of the member's partitions of the tenant's topics. */
static void gw_grp__each_assigned(gw_rreq_t *r,
                                  const cm_describe_groups_resp_described_group_member_t *m,
                                  void (*fn)(void *ud, const gw_topic_t *t, int32_t p), void *ud)
{
    cm_consumer_protocol_assignment_t as;
    if (!gw_grp__assignment(r, m, &as))
        return;
    for (int32_t i = 0; i < as.assigned_partitions_n; i++) {
        const char *name = gw_grp__own(r, as.assigned_partitions[i].topic);
        const gw_topic_t *t = name != NULL ? gw_snap_topic(r->ss.tenant, name) : NULL;
        if (t == NULL)
            continue;
        for (int32_t j = 0; j < as.assigned_partitions[i].partitions_n; j++)
            fn(ud, t, as.assigned_partitions[i].partitions[j]);
    }
}

typedef struct gw_grp__assign_ud {
    gw_rreq_t *r;
    cm_jw_t *jw;
    const gw_grp__group_t *g;
    const char *member;
} gw_grp__assign_ud_t;

static void gw_grp__assignment_obj(void *p, const gw_topic_t *t, int32_t part)
{
    gw_grp__assign_ud_t *u = p;
    cm_jw_obj(u->jw);
    cm_jw_kstr(u->jw, "kind", "KafkaConsumerAssignment");
    gw_rest_metadata(u->r, u->jw, "consumer-groups/%s/consumers/%s/assignments/%s/partitions/%d",
                     u->g->name, u->member, t->name, part);
    cm_jw_kstr(u->jw, "cluster_id", u->r->ss.tenant->cluster_id);
    cm_jw_kstr(u->jw, "consumer_group_id", u->g->name);
    cm_jw_kstr(u->jw, "consumer_id", u->member);
    cm_jw_kstr(u->jw, "topic_name", t->name);
    cm_jw_kint(u->jw, "partition_id", part);
    gw_rest_related(u->r, u->jw, "partition", "topics/%s/partitions/%d", t->name, part);
    gw_rest_related(u->r, u->jw, "lag", "consumer-groups/%s/lags/%s/partitions/%d", u->g->name,
                    t->name, part);
    cm_jw_obj_end(u->jw);
}

typedef struct gw_grp__owner_ud {
    gw_grp__ask_t *ask;
    const cm_describe_groups_resp_described_group_member_t *m;
} gw_grp__owner_ud_t;

static void gw_grp__mark_owner(void *p, const gw_topic_t *t, int32_t part)
{
    gw_grp__owner_ud_t *u = p;
    for (int k = 0; k < u->ask->n_lags; k++)
        if (u->ask->lags[k].topic == t && u->ask->lags[k].partition == part)
            u->ask->lags[k].member = u->m;
}

static int64_t gw_grp__lag_of(const gw_grp__lag_t *l)
{
    return l->end > l->committed ? l->end - l->committed : 0;
}

static void gw_grp__member_fields(cm_jw_t *jw, const char *prefix,
                                  const cm_describe_groups_resp_described_group_member_t *m)
{
    char key[64];
    cm_kstr_t none = CM_KSTR("");
    snprintf(key, sizeof(key), "%sconsumer_id", prefix);
    gw_grp__kstr_field(jw, key, m != NULL ? m->member_id : none);
    snprintf(key, sizeof(key), "%sinstance_id", prefix);
    gw_grp__kstr_field(jw, key, m != NULL ? m->group_instance_id : CM_KSTR_NULL);
    snprintf(key, sizeof(key), "%sclient_id", prefix);
    gw_grp__kstr_field(jw, key, m != NULL ? m->client_id : none);
}

static void gw_grp__lag_obj(gw_rreq_t *r, cm_jw_t *jw, const gw_grp__group_t *g,
                            const gw_grp__lag_t *l)
{
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", "KafkaConsumerLag");
    gw_rest_metadata(r, jw, "consumer-groups/%s/lags/%s/partitions/%d", g->name, l->topic->name,
                     l->partition);
    cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
    cm_jw_kstr(jw, "consumer_group_id", g->name);
    cm_jw_kstr(jw, "topic_name", l->topic->name);
    cm_jw_kint(jw, "partition_id", l->partition);
    cm_jw_kint(jw, "current_offset", l->committed);
    cm_jw_kint(jw, "log_end_offset", l->end);
    cm_jw_kint(jw, "lag", gw_grp__lag_of(l));
    gw_grp__member_fields(jw, "", l->member);
    cm_jw_obj_end(jw);
}

static void gw_grp__answer_lags(gw_grp__ask_t *ask, cm_jw_t *jw)
{
    gw_rreq_t *r = ask->r;
    const gw_grp__group_t *g = &ask->groups[0];
    for (int32_t i = 0; i < g->desc->members_n; i++) {
        gw_grp__owner_ud_t u = { ask, &g->desc->members[i] };
        if (gw_grp__consumer_protocol(g->desc))
            gw_grp__each_assigned(r, &g->desc->members[i], gw_grp__mark_owner, &u);
    }
    if (ask->what == GW_GRP__LAG_SUMMARY) {
        const gw_grp__lag_t *max = NULL;
        int64_t total = 0;
        for (int k = 0; k < ask->n_lags; k++) {
            total += gw_grp__lag_of(&ask->lags[k]);
            if (max == NULL || gw_grp__lag_of(&ask->lags[k]) > gw_grp__lag_of(max))
                max = &ask->lags[k];
        }
        cm_jw_obj(jw);
        cm_jw_kstr(jw, "kind", "KafkaConsumerLagSummary");
        gw_rest_metadata(r, jw, "consumer-groups/%s/lag-summary", g->name);
        cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
        cm_jw_kstr(jw, "consumer_group_id", g->name);
        gw_grp__member_fields(jw, "max_lag_", max != NULL ? max->member : NULL);
        cm_jw_key(jw, "max_lag_topic_name");
        if (max != NULL)
            cm_jw_str(jw, max->topic->name);
        else
            cm_jw_null(jw);
        cm_jw_key(jw, "max_lag_partition_id");
        if (max != NULL)
            cm_jw_int(jw, max->partition);
        else
            cm_jw_null(jw);
        cm_jw_kint(jw, "max_lag", max != NULL ? gw_grp__lag_of(max) : 0);
        cm_jw_kint(jw, "total_lag", total);
        gw_rest_related(r, jw, "lags", "consumer-groups/%s/lags", g->name);
        cm_jw_obj_end(jw);
        return;
    }
    /* One partition's lag: /lags/{topic}/partitions/{p}. */
    if (r->nseg == 10) {
        for (int k = 0; k < ask->n_lags; k++) {
            const gw_grp__lag_t *l = &ask->lags[k];
            char p[16];
            snprintf(p, sizeof(p), "%d", l->partition);
            if (strcmp(l->topic->name, r->seg[7]) == 0 && strcmp(p, r->seg[9]) == 0) {
                gw_grp__lag_obj(r, jw, g, l);
                return;
            }
        }
        jw->s->len = 0;
        gw_rest_error(r, 404, 404, 0, "group \"%s\" has no committed offset for that partition",
                      g->name);
        return;
    }
    char path[320];
    snprintf(path, sizeof(path), "consumer-groups/%s/lags", g->name);
    gw_rest_list_begin(r, jw, "KafkaConsumerLagList", path);
    for (int k = 0; k < ask->n_lags; k++)
        gw_grp__lag_obj(r, jw, g, &ask->lags[k]);
    gw_rest_list_end(jw);
}

static void gw_grp__answer_consumers(gw_grp__ask_t *ask, cm_jw_t *jw)
{
    gw_rreq_t *r = ask->r;
    const gw_grp__group_t *g = &ask->groups[0];
    const cm_describe_groups_resp_described_group_t *d = g->desc;
    if (r->nseg == 6 + 1) {
        char path[320];
        snprintf(path, sizeof(path), "consumer-groups/%s/consumers", g->name);
        gw_rest_list_begin(r, jw, "KafkaConsumerList", path);
        for (int32_t i = 0; i < d->members_n; i++)
            gw_grp__consumer_obj(r, jw, g, &d->members[i]);
        gw_rest_list_end(jw);
        return;
    }
    for (int32_t i = 0; i < d->members_n; i++) {
        const cm_describe_groups_resp_described_group_member_t *m = &d->members[i];
        if (!gw_grp__kstr_is(m->member_id, r->seg[7]))
            continue;
        if (ask->what == GW_GRP__CONSUMERS) {
            gw_grp__consumer_obj(r, jw, g, m);
            return;
        }
        char path[600];
        snprintf(path, sizeof(path), "consumer-groups/%s/consumers/%s/assignments", g->name,
                 r->seg[7]);
        gw_rest_list_begin(r, jw, "KafkaConsumerAssignmentList", path);
        gw_grp__assign_ud_t u = { r, jw, g, r->seg[7] };
        if (gw_grp__consumer_protocol(d))
            gw_grp__each_assigned(r, m, gw_grp__assignment_obj, &u);
        gw_rest_list_end(jw);
        return;
    }
    jw->s->len = 0;
    gw_rest_error(r, 404, 404, 0, "group \"%s\" has no consumer \"%.200s\"", g->name, r->seg[7]);
}

static void gw_grp__answer(gw_grp__ask_t *ask)
{
    gw_rreq_t *r = ask->r;
    if (ask->failures > 0) {
        gw_rest_error(r, 503, 503, 1, "cannot read the consumer groups now: %s", ask->why);
        gw_rest_unref(r);
        return;
    }
    cm_jw_t *jw = gw_rest_json(r);
    if (ask->what == GW_GRP__LIST) {
        gw_rest_list_begin(r, jw, "KafkaConsumerGroupList", "consumer-groups");
        for (int k = 0; k < ask->n_groups; k++)
            if (ask->groups[k].desc != NULL && ask->groups[k].desc->error_code == 0)
                gw_grp__group_obj(r, jw, &ask->groups[k]);
        gw_rest_list_end(jw);
        gw_rest_json_reply(r, 200);
        gw_rest_unref(r);
        return;
    }
    const gw_grp__group_t *g = &ask->groups[0];
    if (g->desc == NULL) {
        gw_rest_error(r, 503, 503, 1, "no coordinator answers for group \"%s\" now", g->name);
    } else if (g->desc->error_code == CM_KERR_GROUP_ID_NOT_FOUND ||
               gw_grp__kstr_is(g->desc->group_state, "Dead")) {
        gw_rest_error(r, 404, 404, 0, "no consumer group \"%s\" in this cluster", g->name);
    } else if (g->desc->error_code != 0) {
        gw_rest_error(r, 503, 503, 1, "group \"%s\": %s", g->name,
                      cm_kerr_name(g->desc->error_code));
    } else {
        if (ask->what == GW_GRP__ONE)
            gw_grp__group_obj(r, jw, g);
        else if (ask->what == GW_GRP__CONSUMERS || ask->what == GW_GRP__ASSIGNMENTS)
            gw_grp__answer_consumers(ask, jw);
        else
            gw_grp__answer_lags(ask, jw);
        gw_rest_json_reply(r, 200);
    }
    gw_rest_unref(r);
}

/* ---- routes ---------------------------------------------------------------------------- */

static void gw_grp__start(gw_rreq_t *r, gw_grp__what_t what)
{
    gw_grp__ask_t *ask = cm_arena_calloc(&r->arena, 1, sizeof(*ask));
    if (!gw_rest_can_call(r))
        return;
    if (ask == NULL) {
        gw_rest_error(r, 503, 503, 1, "the gateway is out of memory for this request");
        return;
    }
    ask->r = r;
    ask->what = what;
    ask->coordinator = -1;
    const gw_broker_t *pool[64];
    int nb = gw_snap_pool(r->snap, r->ss.tenant, pool, 64);
    if (nb == 0) {
        gw_rest_error(r, 503, 503, 1, "no broker of this cluster is available now");
        return;
    }
    gw_rest_ref(r);
    ask->pending = 1; /* held while the calls go out */
    if (what == GW_GRP__LIST) {
        ask->phase = GW_GRP__P_LIST;
        for (int i = 0; i < nb; i++) {
            cm_list_groups_req_t req;
            cm_list_groups_req_init(&req);
            gw_kcall_t *c =
                gw_grp__call(ask, CM_KAPI_LIST_GROUPS, GW_GRP__LIST_VERSION, gw_grp__listed);
            cm_list_groups_req_encode(&c->w, GW_GRP__LIST_VERSION, &req);
            gw_grp__send(ask, pool[i], c);
        }
    } else {
        const char *name = r->seg[5];
        if (!gw_group_name_ok(name) ||
            !gw_session_allowed(&r->ss, CM_ACL_RT_GROUP, name, CM_ACL_OP_DESCRIBE)) {
            gw_rest_error(r, 404, 404, 0, "no consumer group \"%.249s\" in this cluster", name);
            gw_rest_unref(r);
            return;
        }
        ask->phase = GW_GRP__P_DESCRIBE;
        gw_grp__add(ask, name, gw_grp__full(r, name), -1);
        for (int i = 0; i < nb; i++)
            gw_grp__describe(ask, pool[i], -1);
    }
    gw_grp__call_done(ask);
}

void gw_groups_list(gw_rreq_t *r)
{
    gw_grp__start(r, GW_GRP__LIST);
}

void gw_groups_get(gw_rreq_t *r)
{
    gw_grp__start(r, GW_GRP__ONE);
}

void gw_groups_consumers(gw_rreq_t *r)
{
    gw_grp__start(r, r->nseg == 9 ? GW_GRP__ASSIGNMENTS : GW_GRP__CONSUMERS);
}

void gw_groups_lags(gw_rreq_t *r)
{
    gw_grp__start(r, strcmp(r->seg[6], "lag-summary") == 0 ? GW_GRP__LAG_SUMMARY : GW_GRP__LAGS);
}
