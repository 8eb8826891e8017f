/*
 * A REST consumer instance's group membership, the classic protocol as a Kafka consumer
 * plays it: FindCoordinator, JoinGroup (again with the member id the coordinator hands out),
 * the range assignment when this member leads, SyncGroup, then the positions of the
 * assigned partitions (the group's committed offsets, else auto.offset.reset by ListOffsets),
 * and heartbeats every third of the session timeout. A heartbeat that hears of a rebalance
 * rejoins at once, so a REST client that does not poll never holds a rebalance up.
 *
 * One membership call is in flight at a time (`busy`); a failed step is retried after
 * GW_MEMBER__RETRY_MS by the worker's tick. Owner worker only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_log.h"
#include "cm_time.h"
#include "gw_consumer.h"
#include "gw_kafka.h"
#include "gw_meta.h"

#define GW_MEMBER__RETRY_MS      200
#define GW_MEMBER__REFUSED_MS    5000 /* a group refused at a limit: tried again this late */
#define GW_MEMBER__FIND_VERSION  2
#define GW_MEMBER__JOIN_VERSION  5
#define GW_MEMBER__SYNC_VERSION  3
#define GW_MEMBER__HB_VERSION    3
#define GW_MEMBER__LEAVE_VERSION 3
#define GW_MEMBER__ENDS_VERSION  1

static int64_t gw_member__session_ms(gw_cinst_t *i)
{
    return i->w->gw->cfg.consumer_session_timeout_ms;
}

static char *gw_member__strndup(cm_kstr_t s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *d = malloc(n + 1);
    if (d == NULL)
        abort();
    memcpy(d, s.ptr, n);
    d[n] = '\0';
    return d;
}

void gw_member_parts_free(gw_cinst_t *i)
{
    for (int k = 0; k < i->n_parts; k++) {
        free(i->parts[k].topic);
        free(i->parts[k].full);
    }
    free(i->parts);
    i->parts = NULL;
    i->n_parts = 0;
}

gw_cpart_t *gw_member_part(gw_cinst_t *i, cm_kstr_t full, int32_t partition)
{
    for (int q = 0; q < i->n_parts; q++)
        if (i->parts[q].partition == partition && full.len == (int32_t)strlen(i->parts[q].full) &&
            memcmp(full.ptr, i->parts[q].full, (size_t)full.len) == 0)
            return &i->parts[q];
    return NULL;
}

void gw_member_encode_offsets(const char *full_group, int32_t generation, const char *member_id,
                              cm_kw_t *w, const gw_member_tp_t *tps, int n, bool commit)
{
    /* One topic entry per partition: the brokers take a topic named twice. */
    if (commit) {
        cm_offset_commit_req_t req;
        cm_offset_commit_req_init(&req);
        req.group_id = cm_kstr_c(full_group);
        req.generation_id_or_member_epoch = generation;
        req.member_id = cm_kstr_c(member_id != NULL ? member_id : "");
        cm_offset_commit_req_topic_t *ts = calloc((size_t)n + 1, sizeof(*ts));
        cm_offset_commit_req_partition_t *ps = calloc((size_t)n + 1, sizeof(*ps));
        if (ts == NULL || ps == NULL)
            abort();
        req.topics = ts;
        req.topics_n = n;
        for (int k = 0; k < n; k++) {
            cm_offset_commit_req_topic_init(&ts[k]);
            ts[k].name = cm_kstr_c(tps[k].full);
            cm_offset_commit_req_partition_init(&ps[k]);
            ps[k].partition_index = tps[k].partition;
            ps[k].committed_offset = tps[k].offset;
            if (tps[k].metadata != NULL)
                ps[k].committed_metadata = cm_kstr_c(tps[k].metadata);
            ts[k].partitions = &ps[k];
            ts[k].partitions_n = 1;
        }
        cm_offset_commit_req_encode(w, GW_MEMBER_OFFSET_COMMIT_VERSION, &req);
        free(ts);
        free(ps);
        return;
    }
    cm_offset_fetch_req_t req;
    cm_offset_fetch_req_init(&req);
    req.group_id = cm_kstr_c(full_group);
    cm_offset_fetch_req_topic_t *ts = calloc((size_t)n + 1, sizeof(*ts));
    if (ts == NULL)
        abort();
    req.topics = ts;
    req.topics_n = n;
    for (int k = 0; k < n; k++) {
        cm_offset_fetch_req_topic_init(&ts[k]);
        ts[k].name = cm_kstr_c(tps[k].full);
        ts[k].partition_indexes = (int32_t *)&tps[k].partition;
        ts[k].partition_indexes_n = 1;
    }
    cm_offset_fetch_req_encode(w, GW_MEMBER_OFFSET_FETCH_VERSION, &req);
    free(ts);
}

/* A step failed: try again later, from finding the coordinator when it may have moved. */
static void gw_member__retry(gw_cinst_t *i, bool coordinator_moved)
{
    i->busy = false;
    if (coordinator_moved)
        i->coordinator = -1;
    i->retry_at_ms = cm_mono_ms() + GW_MEMBER__RETRY_MS;
}

static void gw_member__set_member(gw_cinst_t *i, cm_kstr_t id)
{
    free(i->member_id);
    i->member_id = id.len > 0 ? gw_member__strndup(id) : NULL;
}

bool gw_member_stale(gw_cinst_t *i, int16_t err)
{
    switch (err) {
    case CM_KERR_UNKNOWN_MEMBER_ID:
        free(i->member_id);
        i->member_id = NULL;
        /* fall through */
    case CM_KERR_ILLEGAL_GENERATION:
    case CM_KERR_REBALANCE_IN_PROGRESS:
        if (i->state != GW_CS_IDLE)
            i->rejoin = true;
        return true;
    case CM_KERR_NOT_COORDINATOR:
    case CM_KERR_COORDINATOR_NOT_AVAILABLE:
        i->coordinator = -1;
        if (i->state != GW_CS_IDLE)
            i->rejoin = true;
        return true;
    default:
        return false;
    }
}

const gw_broker_t *gw_member_coordinator(gw_cinst_t *i)
{
    if (i->coordinator < 0 || i->w->snap == NULL)
        return NULL;
    const gw_broker_t *b = gw_snap_broker(i->w->snap, i->coordinator);
    if (b == NULL)
        i->coordinator = -1;
    return b;
}

/* Any broker of the tenant's pool that is up, for FindCoordinator. */
static const gw_broker_t *gw_member__any_broker(gw_cinst_t *i)
{
    const gw_tenant_t *t = gw_cons_tenant(i);
    const gw_broker_t *pool[64];
    int n = t != NULL ? gw_snap_pool(i->w->snap, t, pool, 64) : 0;
    return n > 0 ? pool[cm_mono_ms() % n] : NULL;
}

/* Starts a call for the instance; NULL when calls cannot be made now (stopping). A
 * membership step's call is tagged: only the answer to the latest one is taken. */
static gw_kcall_t *gw_member__call(gw_cinst_t *i, int16_t api, int16_t version, int64_t wait_ms,
                                   gw_kcall_fn cb, bool step)
{
    if (!gw_cons_can_call(i))
        return NULL;
    gw_cons_ref(i);
    gw_kcall_t *c = gw_kcall_new(i->w->kpool, api, version, wait_ms, cb, i);
    c->tag = step ? ++i->call_seq : 0;
    return c;
}

/* True when `c` answers the membership step in progress, which ends with it (busy is
 * cleared); false for a call of an abandoned step (after a leave or a new subscription). */
static bool gw_member__mine(gw_cinst_t *i, const gw_kcall_t *c)
{
    if (i->closed || !i->busy || c->tag != i->call_seq)
        return false;
    i->busy = false;
    return true;
}

/* Abandons the membership step in progress: its answer will be ignored. */
static void gw_member__abandon(gw_cinst_t *i)
{
    i->call_seq++;
    i->busy = false;
}

/* Decodes an answer into `a`; NULL-safe on transport errors. */
#define GW_MEMBER__DECODE(type, st, body, c, a, out)                                               \
    ((st) == GW_KCALL_OK && cm_##type##_resp_decode((body), (c)->api_version, (a), (out)) == 0)

/* ---- positions ------------------------------------------------------------------------- */

static void gw_member__positions(gw_cinst_t *i);

static void gw_member__ended(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cinst_t *i = c->ud;
    cm_arena_t a;
    cm_arena_init(&a, 4u << 20);
    cm_list_offsets_resp_t resp;
    bool ok = GW_MEMBER__DECODE(list_offsets, st, body, c, &a, &resp);
    if (gw_member__mine(i, c)) {
        for (int32_t t = 0; ok && t < resp.topics_n; t++) {
            for (int32_t k = 0; k < resp.topics[t].partitions_n; k++) {
                const cm_list_offsets_resp_partition_response_t *p = &resp.topics[t].partitions[k];
                gw_cpart_t *x = gw_member_part(i, resp.topics[t].name, p->partition_index);
                if (x != NULL && x->position < GW_CPOS_COMMITTED && p->error_code == 0)
                    x->position = p->offset;
            }
        }
        i->busy = false;
        if (!ok)
            gw_member__retry(i, false);
        else
            gw_member__positions(i);
    }
    cm_arena_free(&a);
    gw_cons_unref(i);
}

static void gw_member__fetched(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cinst_t *i = c->ud;
    cm_arena_t a;
    cm_arena_init(&a, 4u << 20);
    cm_offset_fetch_resp_t resp;
    bool ok = GW_MEMBER__DECODE(offset_fetch, st, body, c, &a, &resp);
    if (gw_member__mine(i, c)) {
        if (ok && resp.error_code != 0) {
            gw_member_stale(i, resp.error_code);
            ok = false;
        }
        for (int32_t t = 0; ok && t < resp.topics_n; t++) {
            for (int32_t k = 0; k < resp.topics[t].partitions_n; k++) {
                const cm_offset_fetch_resp_partition_t *p = &resp.topics[t].partitions[k];
                gw_cpart_t *x = gw_member_part(i, resp.topics[t].name, p->partition_index);
                if (x != NULL && x->position == GW_CPOS_COMMITTED)
                    x->position = p->error_code == 0 && p->committed_offset >= 0
                                      ? p->committed_offset
                                      : GW_CPOS_RESET;
            }
        }
        i->busy = false;
        if (!ok)
            gw_member__retry(i, st != GW_KCALL_OK);
        else
            gw_member__positions(i);
    }
    cm_arena_free(&a);
    gw_cons_unref(i);
}

/* Asks for the committed offsets of the partitions that need them. */
static bool gw_member__ask_committed(gw_cinst_t *i)
{
    int n = 0;
    for (int q = 0; q < i->n_parts; q++)
        n += i->parts[q].position == GW_CPOS_COMMITTED;
    if (n == 0)
        return false;
    const gw_broker_t *b = gw_member_coordinator(i);
    if (b == NULL) {
        i->state = GW_CS_JOINING; /* finds the coordinator again */
        gw_member__retry(i, true);
        return true;
    }
    gw_member_tp_t *tps = calloc((size_t)n, sizeof(*tps));
    if (tps == NULL)
        abort();
    n = 0;
    for (int q = 0; q < i->n_parts; q++)
        if (i->parts[q].position == GW_CPOS_COMMITTED)
            tps[n++] = (gw_member_tp_t){ i->parts[q].full, i->parts[q].partition, 0, NULL };
    gw_kcall_t *c = gw_member__call(i, CM_KAPI_OFFSET_FETCH, GW_MEMBER_OFFSET_FETCH_VERSION, 0,
                                    gw_member__fetched, true);
    if (c != NULL) {
        i->busy = true;
        GW_MEMBER_ENCODE_OFFSETS(i, &c->w, tps, n, false);
        gw_kcall_send(i->w->kpool, b, c);
    }
    free(tps);
    return true;
}

/* Asks the leaders for the offsets of partitions to reset or seek to an end, one leader at
 * a time (the next after its answer). */
static bool gw_member__ask_ends(gw_cinst_t *i)
{
    const gw_tenant_t *t = gw_cons_tenant(i);
    int32_t leader = -1;
    for (int q = 0; q < i->n_parts && leader < 0; q++) {
        const gw_topic_t *tp = t != NULL ? gw_snap_topic(t, i->parts[q].topic) : NULL;
        if (i->parts[q].position >= GW_CPOS_COMMITTED)
            continue;
        if (tp == NULL || i->parts[q].partition >= tp->n_parts) {
            i->parts[q].position = 0; /* the topic is gone: nothing to read */
            continue;
        }
        leader = tp->parts[i->parts[q].partition].leader;
    }
    if (leader < 0)
        return false;
    const gw_broker_t *b = gw_snap_broker(i->w->snap, leader);
    if (b == NULL) {
        gw_member__retry(i, false);
        return true;
    }
    cm_list_offsets_req_t req;
    cm_list_offsets_req_init(&req);
    req.replica_id = -1;
    cm_list_offsets_req_topic_t *topics = calloc((size_t)i->n_parts, sizeof(*topics));
    cm_list_offsets_req_partition_t *ps = calloc((size_t)i->n_parts, sizeof(*ps));
    if (topics == NULL || ps == NULL)
        abort();
    req.topics = topics;
    req.topics_n = 0;
    for (int q = 0; q < i->n_parts; q++) {
        gw_cpart_t *x = &i->parts[q];
        const gw_topic_t *tp = gw_snap_topic(t, x->topic);
        if (x->position >= GW_CPOS_COMMITTED || tp == NULL || x->partition >= tp->n_parts ||
            tp->parts[x->partition].leader != leader)
            continue;
        cm_list_offsets_req_topic_t *rt = &topics[req.topics_n++];
        cm_list_offsets_req_topic_init(rt);
        rt->name = cm_kstr_c(x->full);
        cm_list_offsets_req_partition_init(&ps[q]);
        ps[q].partition_index = x->partition;
        bool earliest =
            x->position == GW_CPOS_EARLIEST || (x->position == GW_CPOS_RESET && !i->reset_latest);
        ps[q].timestamp = earliest ? -2 : -1;
        rt->partitions = &ps[q];
        rt->partitions_n = 1;
    }
    gw_kcall_t *c = gw_member__call(i, CM_KAPI_LIST_OFFSETS, GW_MEMBER__ENDS_VERSION, 0,
                                    gw_member__ended, true);
    if (c != NULL) {
        i->busy = true;
        cm_list_offsets_req_encode(&c->w, GW_MEMBER__ENDS_VERSION, &req);
        gw_kcall_send(i->w->kpool, b, c);
    }
    free(topics);
    free(ps);
    return true;
}

/* Resolves the positions that are not known yet; stable once all are. */
static void gw_member__positions(gw_cinst_t *i)
{
    if (i->busy || i->closed)
        return;
    if (gw_member__ask_committed(i) || gw_member__ask_ends(i))
        return;
    i->state = GW_CS_STABLE;
    i->next_hb_ms = cm_mono_ms() + gw_member__session_ms(i) / 3;
    gw_cons_kick(i);
}

/* ---- join and sync --------------------------------------------------------------------- */

static void gw_member__join(gw_cinst_t *i);

static void gw_member__synced(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cinst_t *i = c->ud;
    cm_arena_t a;
    cm_arena_init(&a, 4u << 20);
    cm_sync_group_resp_t resp;
    bool ok = GW_MEMBER__DECODE(sync_group, st, body, c, &a, &resp);
    if (gw_member__mine(i, c) && i->state == GW_CS_JOINING) {
        if (!ok) {
            gw_member__retry(i, true);
        } else if (resp.error_code != 0) {
            gw_member_stale(i, resp.error_code);
            gw_member__retry(i, false);
        } else {
            cm_consumer_protocol_assignment_t as;
            cm_consumer_protocol_assignment_init(&as);
            as.assigned_partitions_n = 0;
            if (resp.assignment.len >= 2) {
                cm_kr_t kr;
                cm_kr_init(&kr, resp.assignment.ptr + 2, (size_t)resp.assignment.len - 2);
                int16_t v = (int16_t)cm_be16(resp.assignment.ptr);
                if (v > CM_CONSUMER_PROTOCOL_ASSIGNMENT_MAX_VERSION)
                    v = CM_CONSUMER_PROTOCOL_ASSIGNMENT_MAX_VERSION;
                if (v < 0 || cm_consumer_protocol_assignment_decode(&kr, v, &a, &as) != 0)
                    as.assigned_partitions_n = 0;
            }
            gw_member_parts_free(i);
            int n = 0;
            for (int32_t k = 0; k < as.assigned_partitions_n; k++)
                n += as.assigned_partitions[k].partitions_n > 0
                         ? as.assigned_partitions[k].partitions_n
                         : 0;
            i->parts = calloc((size_t)n + 1, sizeof(*i->parts));
            if (i->parts == NULL)
                abort();
            size_t tl = strlen(i->full_group) - strlen(i->group); /* "<tenant>." */
            for (int32_t k = 0; k < as.assigned_partitions_n; k++) {
                cm_kstr_t full = as.assigned_partitions[k].topic;
                if (full.len <= (int32_t)tl || memcmp(full.ptr, i->full_group, tl) != 0)
                    continue; /* not a topic of this tenant's */
                for (int32_t q = 0; q < as.assigned_partitions[k].partitions_n; q++) {
                    gw_cpart_t *x = &i->parts[i->n_parts++];
                    x->full = gw_member__strndup(full);
                    x->topic = strdup(x->full + tl);
                    if (x->topic == NULL)
                        abort();
                    x->partition = as.assigned_partitions[k].partitions[q];
                    x->position = GW_CPOS_COMMITTED;
                    x->consumed = -1;
                }
            }
            cm_log_debug("consumer instance assigned", "group=%s instance=%s partitions=%d",
                         i->group, i->name, i->n_parts);
            i->busy = false;
            i->state = GW_CS_POSITIONS;
            gw_member__positions(i);
        }
    }
    cm_arena_free(&a);
    gw_cons_unref(i);
}

typedef struct gw_member__sub {
    cm_kstr_t id;
    cm_consumer_protocol_subscription_t sub;
    cm_consumer_protocol_assignment_topic_partition_t *tps;
    int n_tps;
} gw_member__sub_t;

static int gw_member__by_id(const void *x, const void *y)
{
    const gw_member__sub_t *a = x, *b = y;
    int n = a->id.len < b->id.len ? a->id.len : b->id.len;
    int c = memcmp(a->id.ptr, b->id.ptr, (size_t)n);
    return c != 0 ? c : a->id.len - b->id.len;
}

/* The range assignor, as Kafka's RangeAssignor: for each topic, its partitions are split
 * in order between the members subscribed to it, sorted by member id; the first ones get
 * one more when they do not divide evenly. */
static void gw_member__assign(gw_cinst_t *i, const cm_join_group_resp_t *jr, cm_arena_t *a,
                              cm_sync_group_req_t *req)
{
    const gw_tenant_t *t = gw_cons_tenant(i);
    int nm = jr->members_n > 0 ? jr->members_n : 0;
    gw_member__sub_t *m = cm_arena_calloc(a, (size_t)nm + 1, sizeof(*m));
    req->assignments = cm_arena_calloc(a, (size_t)nm + 1, sizeof(*req->assignments));
    if (m == NULL || req->assignments == NULL)
        return;
    size_t tl = strlen(i->full_group) - strlen(i->group);
    for (int k = 0; k < nm; k++) {
        m[k].id = jr->members[k].member_id;
        cm_consumer_protocol_subscription_init(&m[k].sub);
        m[k].sub.topics_n = 0;
        cm_kbytes_t md = jr->members[k].metadata;
        if (md.len >= 2) {
            cm_kr_t kr;
            cm_kr_init(&kr, md.ptr + 2, (size_t)md.len - 2);
            int16_t v = (int16_t)cm_be16(md.ptr);
            if (v > CM_CONSUMER_PROTOCOL_SUBSCRIPTION_MAX_VERSION)
                v = CM_CONSUMER_PROTOCOL_SUBSCRIPTION_MAX_VERSION;
            if (v < 0 || cm_consumer_protocol_subscription_decode(&kr, v, a, &m[k].sub) != 0)
                m[k].sub.topics_n = 0;
        }
        m[k].tps = cm_arena_calloc(a, (size_t)(m[k].sub.topics_n > 0 ? m[k].sub.topics_n : 1),
                                   sizeof(*m[k].tps));
    }
    qsort(m, (size_t)nm, sizeof(*m), gw_member__by_id);
    /* Every topic some member subscribed to, once. */
    for (int k = 0; k < nm; k++) {
        for (int32_t s = 0; s < m[k].sub.topics_n; s++) {
            cm_kstr_t topic = m[k].sub.topics[s];
            bool seen = false;
            for (int j = 0; j < k && !seen; j++)
                for (int32_t u = 0; u < m[j].sub.topics_n && !seen; u++)
                    seen = m[j].sub.topics[u].len == topic.len &&
                           memcmp(m[j].sub.topics[u].ptr, topic.ptr, (size_t)topic.len) == 0;
            for (int32_t u = 0; u < s && !seen; u++)
                seen = m[k].sub.topics[u].len == topic.len &&
                       memcmp(m[k].sub.topics[u].ptr, topic.ptr, (size_t)topic.len) == 0;
            if (seen || topic.len <= (int32_t)tl || memcmp(topic.ptr, i->full_group, tl) != 0)
                continue;
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)(topic.len - (int32_t)tl), topic.ptr + tl);
            const gw_topic_t *tp = t != NULL ? gw_snap_topic(t, name) : NULL;
            if (tp == NULL)
                continue;
            /* The members subscribed to it, in id order. */
            int subs = 0;
            for (int j = 0; j < nm; j++)
                for (int32_t u = 0; u < m[j].sub.topics_n; u++)
                    if (m[j].sub.topics[u].len == topic.len &&
                        memcmp(m[j].sub.topics[u].ptr, topic.ptr, (size_t)topic.len) == 0) {
                        subs++;
                        break;
                    }
            int per = tp->n_parts / subs, extra = tp->n_parts % subs, next = 0, rank = 0;
            for (int j = 0; j < nm; j++) {
                bool in = false;
                for (int32_t u = 0; u < m[j].sub.topics_n && !in; u++)
                    in = m[j].sub.topics[u].len == topic.len &&
                         memcmp(m[j].sub.topics[u].ptr, topic.ptr, (size_t)topic.len) == 0;
                if (!in)
                    continue;
                int count = per + (rank++ < extra ? 1 : 0);
                if (count == 0)
                    continue;
                cm_consumer_protocol_assignment_topic_partition_t *tpp = &m[j].tps[m[j].n_tps++];
                cm_consumer_protocol_assignment_topic_partition_init(tpp);
                tpp->topic = topic;
                tpp->partitions = cm_arena_calloc(a, (size_t)count, sizeof(int32_t));
                tpp->partitions_n = tpp->partitions != NULL ? count : 0;
                for (int q = 0; q < tpp->partitions_n; q++)
                    tpp->partitions[q] = next++;
            }
        }
    }
    req->assignments_n = 0;
    for (int k = 0; k < nm; k++) {
        cm_consumer_protocol_assignment_t as;
        cm_consumer_protocol_assignment_init(&as);
        as.assigned_partitions = m[k].tps;
        as.assigned_partitions_n = m[k].n_tps;
        as.user_data = (cm_kbytes_t){ NULL, -1 };
        cm_kw_t w;
        cm_kw_init(&w, 1u << 20);
        cm_kw_i16(&w, 0);
        cm_consumer_protocol_assignment_encode(&w, 0, &as);
        uint8_t *bytes = cm_arena_alloc(a, w.len ? w.len : 1);
        if (bytes != NULL && w.err == 0) {
            memcpy(bytes, w.buf, w.len);
            cm_sync_group_req_assignment_t *x = &req->assignments[req->assignments_n++];
            x->member_id = m[k].id;
            x->assignment = (cm_kbytes_t){ bytes, (int32_t)w.len };
        }
        cm_kw_free(&w);
    }
}

static void gw_member__joined(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cinst_t *i = c->ud;
    cm_arena_t a;
    cm_arena_init(&a, 16u << 20);
    cm_join_group_resp_t resp;
    bool ok = GW_MEMBER__DECODE(join_group, st, body, c, &a, &resp);
    if (gw_member__mine(i, c) && i->state == GW_CS_JOINING) {
        i->busy = false;
        if (!ok) {
            gw_member__retry(i, true);
        } else if (resp.error_code == CM_KERR_MEMBER_ID_REQUIRED) {
            gw_member__set_member(i, resp.member_id);
            gw_member__join(i);
        } else if (resp.error_code == CM_KERR_GROUP_AUTHORIZATION_FAILED) {
            /* The group would be one too many: what waits on the membership is told now;
             * joining is tried again, slowly, in case a group goes meanwhile. */
            gw_member__retry(i, false);
            i->retry_at_ms += GW_MEMBER__REFUSED_MS;
            i->refused = true;
            gw_cons_kick(i);
        } else if (resp.error_code != 0) {
            gw_member_stale(i, resp.error_code);
            gw_member__retry(i, false);
        } else {
            i->refused = false;
            gw_member__set_member(i, resp.member_id);
            i->generation = resp.generation_id;
            cm_log_debug("consumer instance joined",
                         "group=%s instance=%s generation=%d members=%d", i->group, i->name,
                         resp.generation_id, resp.members_n);
            cm_sync_group_req_t req;
            cm_sync_group_req_init(&req);
            req.group_id = cm_kstr_c(i->full_group);
            req.generation_id = resp.generation_id;
            req.member_id = cm_kstr_c(i->member_id != NULL ? i->member_id : "");
            req.protocol_type = CM_KSTR("consumer");
            req.protocol_name = resp.protocol_name;
            req.assignments_n = 0;
            bool leader = resp.leader.len == resp.member_id.len &&
                          memcmp(resp.leader.ptr, resp.member_id.ptr, (size_t)resp.leader.len) == 0;
            if (leader)
                gw_member__assign(i, &resp, &a, &req);
            const gw_broker_t *b = gw_member_coordinator(i);
            gw_kcall_t *sc =
                b != NULL ? gw_member__call(i, CM_KAPI_SYNC_GROUP, GW_MEMBER__SYNC_VERSION,
                                            gw_member__session_ms(i), gw_member__synced, true)
                          : NULL;
            if (sc == NULL) {
                gw_member__retry(i, true);
            } else {
                i->busy = true;
                sc->held = true; /* until every member synced */
                cm_sync_group_req_encode(&sc->w, GW_MEMBER__SYNC_VERSION, &req);
                gw_kcall_send(i->w->kpool, b, sc);
            }
        }
    }
    cm_arena_free(&a);
    gw_cons_unref(i);
}

static void gw_member__join(gw_cinst_t *i)
{
    const gw_broker_t *b = gw_member_coordinator(i);
    if (b == NULL) {
        gw_member__retry(i, true);
        return;
    }
    /* ConsumerProtocolSubscription v0: the topics, by the brokers' names. */
    cm_consumer_protocol_subscription_t sub;
    cm_consumer_protocol_subscription_init(&sub);
    size_t tl = strlen(i->full_group) - strlen(i->group);
    cm_kstr_t *topics = calloc((size_t)i->n_topics + 1, sizeof(*topics));
    char **full = calloc((size_t)i->n_topics + 1, sizeof(*full));
    if (topics == NULL || full == NULL)
        abort();
    for (int k = 0; k < i->n_topics; k++) {
        size_t n = tl + strlen(i->topics[k]) + 1;
        full[k] = malloc(n);
        if (full[k] == NULL)
            abort();
        snprintf(full[k], n, "%.*s%s", (int)tl, i->full_group, i->topics[k]);
        topics[k] = cm_kstr_c(full[k]);
    }
    sub.topics = topics;
    sub.topics_n = i->n_topics;
    sub.user_data = (cm_kbytes_t){ NULL, -1 };
    cm_kw_t meta;
    cm_kw_init(&meta, 1u << 20);
    cm_kw_i16(&meta, 0);
    cm_consumer_protocol_subscription_encode(&meta, 0, &sub);
    int64_t session = gw_member__session_ms(i);
    cm_join_group_req_t req;
    cm_join_group_req_init(&req);
    req.group_id = cm_kstr_c(i->full_group);
    req.session_timeout_ms = (int32_t)session;
    req.rebalance_timeout_ms = (int32_t)(session * 3);
    req.member_id = cm_kstr_c(i->member_id != NULL ? i->member_id : "");
    req.protocol_type = CM_KSTR("consumer");
    cm_join_group_req_protocol_t proto;
    cm_join_group_req_protocol_init(&proto);
    proto.name = CM_KSTR("range");
    proto.metadata = (cm_kbytes_t){ meta.buf, (int32_t)meta.len };
    req.protocols = &proto;
    req.protocols_n = 1;
    gw_kcall_t *c = gw_member__call(i, CM_KAPI_JOIN_GROUP, GW_MEMBER__JOIN_VERSION, session * 3,
                                    gw_member__joined, true);
    if (c == NULL || meta.err != 0) {
        if (c != NULL)
            gw_kcall_free(c), gw_cons_unref(i);
        gw_member__retry(i, false);
    } else {
        i->busy = true;
        i->rejoin = false;
        c->held = true; /* until every member rejoined */
        cm_join_group_req_encode(&c->w, GW_MEMBER__JOIN_VERSION, &req);
        gw_kcall_send(i->w->kpool, b, c);
    }
    cm_kw_free(&meta);
    for (int k = 0; k < i->n_topics; k++)
        free(full[k]);
    free(full);
    free(topics);
}

static void gw_member__found(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cinst_t *i = c->ud;
    cm_arena_t a;
    cm_arena_init(&a, 1u << 20);
    cm_find_coordinator_resp_t resp;
    bool ok = GW_MEMBER__DECODE(find_coordinator, st, body, c, &a, &resp);
    if (gw_member__mine(i, c)) {
        i->busy = false;
        if (!ok || resp.error_code != 0 || gw_snap_broker(i->w->snap, resp.node_id) == NULL) {
            gw_member__retry(i, true);
        } else {
            i->coordinator = resp.node_id;
            if (i->state == GW_CS_JOINING)
                gw_member__join(i);
            else
                gw_member_step(i);
        }
    }
    cm_arena_free(&a);
    gw_cons_unref(i);
}

static void gw_member__find(gw_cinst_t *i)
{
    const gw_broker_t *b = gw_member__any_broker(i);
    gw_kcall_t *c = b != NULL ? gw_member__call(i, CM_KAPI_FIND_COORDINATOR,
                                                GW_MEMBER__FIND_VERSION, 0, gw_member__found, true)
                              : NULL;
    if (c == NULL) {
        gw_member__retry(i, true);
        return;
    }
    cm_find_coordinator_req_t req;
    cm_find_coordinator_req_init(&req);
    req.key = cm_kstr_c(i->full_group);
    req.key_type = 0;
    i->busy = true;
    cm_find_coordinator_req_encode(&c->w, GW_MEMBER__FIND_VERSION, &req);
    gw_kcall_send(i->w->kpool, b, c);
}

void gw_member_step(gw_cinst_t *i)
{
    if (i->busy || i->closed || i->state == GW_CS_IDLE || cm_mono_ms() < i->retry_at_ms)
        return;
    if (i->rejoin && i->state != GW_CS_JOINING) {
        if (i->auto_commit)
            gw_member_commit_consumed(i);
        gw_member_parts_free(i);
        i->state = GW_CS_JOINING;
    }
    if (i->coordinator < 0 || gw_member_coordinator(i) == NULL)
        gw_member__find(i);
    else if (i->state == GW_CS_JOINING)
        gw_member__join(i);
    else if (i->state == GW_CS_POSITIONS)
        gw_member__positions(i);
}

void gw_member_subscribe(gw_cinst_t *i)
{
    gw_member__abandon(i);
    i->state = GW_CS_JOINING;
    i->rejoin = false;
    i->retry_at_ms = 0;
    gw_member_parts_free(i);
    gw_member_step(i);
}

/* ---- heartbeats, leaving, committing ----------------------------------------------------- */

static void gw_member__beat(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cinst_t *i = c->ud;
    cm_arena_t a;
    cm_arena_init(&a, 64u << 10);
    cm_heartbeat_resp_t resp;
    bool ok = GW_MEMBER__DECODE(heartbeat, st, body, c, &a, &resp);
    i->hb_busy = false;
    if (!i->closed && i->state == GW_CS_STABLE) {
        if (!ok)
            i->coordinator = -1, i->rejoin = true;
        else if (resp.error_code != 0 && gw_member_stale(i, resp.error_code))
            cm_log_debug("consumer instance rejoins", "group=%s instance=%s err=%s", i->group,
                         i->name, cm_kerr_name(resp.error_code));
        if (i->rejoin)
            gw_member_step(i);
    }
    cm_arena_free(&a);
    gw_cons_unref(i);
}

void gw_member_tick(gw_cinst_t *i, int64_t now_ms)
{
    if (i->closed || i->state == GW_CS_IDLE)
        return;
    if (i->state != GW_CS_STABLE || i->rejoin) {
        gw_member_step(i);
        return;
    }
    if (i->hb_busy || now_ms < i->next_hb_ms)
        return;
    const gw_broker_t *b = gw_member_coordinator(i);
    gw_kcall_t *c = b != NULL ? gw_member__call(i, CM_KAPI_HEARTBEAT, GW_MEMBER__HB_VERSION, 0,
                                                gw_member__beat, false)
                              : NULL;
    if (c == NULL) {
        i->rejoin = true;
        return;
    }
    cm_heartbeat_req_t req;
    cm_heartbeat_req_init(&req);
    req.group_id = cm_kstr_c(i->full_group);
    req.generation_id = i->generation;
    req.member_id = cm_kstr_c(i->member_id != NULL ? i->member_id : "");
    i->hb_busy = true;
    i->next_hb_ms = now_ms + gw_member__session_ms(i) / 3;
    cm_log_debug("consumer heartbeat", "group=%s instance=%s generation=%d", i->group, i->name,
                 i->generation);
    cm_heartbeat_req_encode(&c->w, GW_MEMBER__HB_VERSION, &req);
    gw_kcall_send(i->w->kpool, b, c);
}

/* The answer to a call not awaited: only its reference is dropped. */
static void gw_member__ignored(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    (void)st;
    (void)body;
    gw_cons_unref(c->ud);
}

void gw_member_leave(gw_cinst_t *i)
{
    const gw_broker_t *b = gw_member_coordinator(i);
    if (i->member_id != NULL && b != NULL) {
        gw_kcall_t *c = gw_member__call(i, CM_KAPI_LEAVE_GROUP, GW_MEMBER__LEAVE_VERSION, 0,
                                        gw_member__ignored, false);
        if (c != NULL) {
            cm_leave_group_req_t req;
            cm_leave_group_req_init(&req);
            req.group_id = cm_kstr_c(i->full_group);
            cm_leave_group_req_member_identity_t m;
            cm_leave_group_req_member_identity_init(&m);
            m.member_id = cm_kstr_c(i->member_id);
            req.members = &m;
            req.members_n = 1;
            cm_leave_group_req_encode(&c->w, GW_MEMBER__LEAVE_VERSION, &req);
            gw_kcall_send(i->w->kpool, b, c);
        }
    }
    gw_member__abandon(i);
    free(i->member_id);
    i->member_id = NULL;
    i->generation = -1;
    i->state = GW_CS_IDLE;
    i->rejoin = false;
    gw_member_parts_free(i);
}

void gw_member_commit_consumed(gw_cinst_t *i)
{
    int n = 0;
    for (int q = 0; q < i->n_parts; q++)
        n += i->parts[q].consumed >= 0;
    const gw_broker_t *b = gw_member_coordinator(i);
    if (n == 0 || b == NULL || i->state != GW_CS_STABLE)
        return;
    gw_kcall_t *c = gw_member__call(i, CM_KAPI_OFFSET_COMMIT, GW_MEMBER_OFFSET_COMMIT_VERSION, 0,
                                    gw_member__ignored, false);
    if (c == NULL)
        return;
    gw_member_tp_t *tps = calloc((size_t)n, sizeof(*tps));
    if (tps == NULL)
        abort();
    n = 0;
    for (int q = 0; q < i->n_parts; q++)
        if (i->parts[q].consumed >= 0)
            tps[n++] = (gw_member_tp_t){ i->parts[q].full, i->parts[q].partition,
                                         i->parts[q].consumed, NULL };
    GW_MEMBER_ENCODE_OFFSETS(i, &c->w, tps, n, true);
    gw_kcall_send(i->w->kpool, b, c);
    free(tps);
}
