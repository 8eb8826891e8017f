/*
 * REST consumer instances (Kafka REST Proxy v2) under /kafka/v2/clusters/{c}/consumers:
 *
 *   POST   /consumers/{g}                               create an instance
 *   DELETE /consumers/{g}/instances/{i}                 delete it (leaves the group)
 *   POST   .../instances/{i}/subscription               {"topics": [...]}
 *   GET    .../instances/{i}/subscription
 *   DELETE .../instances/{i}/subscription
 *   GET    .../instances/{i}/assignments
 *   POST   .../instances/{i}/offsets                    commit (no body: what was consumed)
 *   GET    .../instances/{i}/offsets                    committed offsets
 *   POST   .../instances/{i}/positions                  seek
 *   POST   .../instances/{i}/positions/beginning|end
 *   GET    .../instances/{i}/records?timeout=&max_bytes=
 *
 * The threads and the jobs are described in gw_consumer.h.
 */
#include "gw_consumer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "cm_b64.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_log.h"
#include "cm_murmur2.h"
#include "cm_time.h"
#include "gw_kafka.h"
#include "gw_meta.h"

#define GW_CONS__TICK_MS         100
#define GW_CONS__COMMIT_VERSION  7
#define GW_CONS__POLL_TIMEOUT_MS 1000 /* Kafka REST's consumer.request.timeout.ms */

static void gw_cons__run(gw_cjob_t *j);
static void gw_cons__start(gw_cinst_t *i);

/* ---- instances ------------------------------------------------------------------------- */

const gw_tenant_t *gw_cons_tenant(gw_cinst_t *i)
{
    gw_worker_t *w = i->w;
    if (gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen) == NULL)
        return NULL;
    return cm_strmap_get(&w->snap->tenants, i->tenant_id, strlen(i->tenant_id));
}

bool gw_cons_can_call(gw_cinst_t *i)
{
    return i->w->kpool != NULL && !atomic_load(&i->w->gw->stopping);
}

void gw_cons_ref(gw_cinst_t *i)
{
    i->refs++;
}

void gw_cons_unref(gw_cinst_t *i)
{
    if (--i->refs > 0)
        return;
    gw_member_parts_free(i);
    for (int k = 0; k < i->n_topics; k++)
        free(i->topics[k]);
    free(i->topics);
    free(i->member_id);
    free(i->key);
    free(i->group);
    free(i->full_group);
    free(i->name);
    atomic_fetch_sub(&i->w->gw->consumer_instances, 1);
    atomic_fetch_sub(&i->rt->consumer_instances, 1);
    free(i);
}

char *gw_cons_dup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        abort();
    return d;
}

static char *gw_cons__key(const char *tenant_id, const char *group, const char *name)
{
    size_t n = strlen(tenant_id) + strlen(group) + strlen(name) + 3;
    char *k = malloc(n);
    if (k == NULL)
        abort();
    snprintf(k, n, "%s/%s/%s", tenant_id, group, name);
    return k;
}

/* ---- answers --------------------------------------------------------------------------- */

void gw_cons_error(gw_cjob_t *j, int status, int code, const char *fmt, ...)
{
    j->status = status;
    j->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg_text, sizeof(j->msg_text), fmt, ap);
    va_end(ap);
}

/* On the origin: sends the answer and frees the job. */
static void gw_cons__answer(gw_cjob_t *j)
{
    gw_rreq_t *r = j->r;
    if (j->status >= 400)
        gw_rest_error(r, j->status, j->code, j->retry_after, "%s", j->msg_text);
    else
        gw_rest_reply(r, j->status, &j->out);
    cm_sbuf_free(&j->out);
    gw_rest_unref(r);
    free(j);
}

/* Hands a job's answer back to its origin (on the owner, or on the origin itself). */
static void gw_cons__return(gw_worker_t *owner, gw_cjob_t *j)
{
    if (owner == j->origin)
        gw_cons__answer(j);
    else
        h2o_multithread_send_message(&j->origin->cons_done, &j->msg);
}

/* Ends the instance's running job: its answer goes back, the next job starts. */
void gw_cons_done(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    i->jobs = j->next;
    i->last_used_ms = cm_mono_ms();
    gw_cons__return(i->w, j);
    /* A deleted instance answers what was queued behind the deletion. */
    while (i->closed && i->jobs != NULL) {
        gw_cjob_t *q = i->jobs;
        i->jobs = q->next;
        gw_cons_error(q, 404, 40403, "consumer instance \"%s\" not found", i->name);
        gw_cons__return(i->w, q);
        gw_cons_unref(i);
    }
    if (i->jobs != NULL)
        gw_cons__start(i);
    gw_cons_unref(i); /* the job's */
}

/* Deletes an instance: it leaves its group. */
static void gw_cons__close(gw_cinst_t *i, bool commit)
{
    if (i->closed)
        return;
    if (commit && i->auto_commit)
        gw_member_commit_consumed(i);
    gw_member_leave(i);
    i->closed = true;
    cm_strmap_del(&i->w->consumers, i->key, strlen(i->key));
    gw_cons_unref(i); /* the map's */
}

/* ---- waiting for the membership ------------------------------------------------------------ */

/* True when the instance is a stable member; else the job waits (until the membership is,
 * or its deadline) and false. */
bool gw_cons_stable(gw_cjob_t *j, int64_t wait_ms)
{
    gw_cinst_t *i = j->inst;
    if (i->state == GW_CS_STABLE && !i->rejoin)
        return true;
    if (i->refused) {
        j->waiting = false;
        j->retry_after = GW_GROUP_LIMIT_RETRY_S;
        gw_cons_error(j, 429, 429, "%s", GW_GROUP_LIMIT_MSG);
        gw_cons_done(j);
        return false;
    }
    if (j->deadline_ms == 0)
        j->deadline_ms = cm_mono_ms() + wait_ms;
    j->waiting = true;
    gw_member_step(i);
    return false;
}

void gw_cons_kick(gw_cinst_t *i)
{
    if (i->on_kick != NULL) {
        i->on_kick(i);
        return;
    }
    gw_cjob_t *j = i->jobs;
    if (j != NULL && j->waiting) {
        j->waiting = false;
        gw_cons__start(i);
    }
}

/* A waiting job's deadline passed: a poll answers no records, anything else 409. */
static void gw_cons__give_up(gw_cjob_t *j)
{
    j->waiting = false;
    if (j->kind == GW_CJ_POLL) {
        j->status = 200;
        cm_sbuf_append(&j->out, "[]", 2);
    } else if (j->inst->state == GW_CS_IDLE) {
        gw_cons_error(j, 409, 40903, "the consumer instance is not subscribed to any topic");
    } else {
        gw_cons_error(j, 409, 40903,
                      "the consumer group is rebalancing; retry once the instance has polled");
    }
    gw_cons_done(j);
}

/* ---- running jobs on the owner ----------------------------------------------------------- */

static void gw_cons__start(gw_cinst_t *i)
{
    gw_cjob_t *j = i->jobs;
    switch (j->kind) {
    case GW_CJ_DELETE:
        gw_cons__close(i, true);
        j->status = 204;
        gw_cons_done(j);
        break;
    case GW_CJ_SUBSCRIBE:
        gw_cons_subscribe(j);
        break;
    case GW_CJ_UNSUBSCRIBE:
        if (i->auto_commit)
            gw_member_commit_consumed(i);
        gw_member_leave(i);
        gw_cons_topics_free(i);
        j->status = 204;
        gw_cons_done(j);
        break;
    case GW_CJ_SUBSCRIPTION:
    case GW_CJ_ASSIGNMENTS:
        gw_cons_show(j);
        break;
    case GW_CJ_COMMIT:
    case GW_CJ_COMMITTED:
    case GW_CJ_SEEK:
    case GW_CJ_SEEK_BEGIN:
    case GW_CJ_SEEK_END:
    case GW_CJ_POLL:
        if (i->state == GW_CS_IDLE) {
            gw_cons_error(j, 409, 40903, "the consumer instance is not subscribed to any topic");
            gw_cons_done(j);
        } else if (j->kind == GW_CJ_POLL) {
            gw_cons_poll(j);
        } else if (j->kind == GW_CJ_COMMIT || j->kind == GW_CJ_COMMITTED) {
            gw_cons_offsets(j);
        } else {
            gw_cons_seek(j);
        }
        break;
    case GW_CJ_CREATE:
        break; /* never queued */
    }
}

/* Reads a setting of the create body: a string (REST Proxy sends "true" as a string) or a
 * boolean. */
static const char *gw_cons__setting(const cm_json_t *in, const char *key)
{
    const cm_json_t *v = in != NULL ? cm_json_get(in, key) : NULL;
    if (v == NULL)
        return NULL;
    if (v->type == CM_JSON_BOOL)
        return v->b ? "true" : "false";
    return v->type == CM_JSON_STRING ? v->str : "";
}

/* Counts a new instance against the gateway's and the tenant's caps; false (nothing
 * counted) when either is reached. */
static bool gw_cons__count(gw_worker_t *w, gw_tenant_rt_t *rt)
{
    if (atomic_fetch_add(&w->gw->consumer_instances, 1) >= w->gw->cfg.consumer_instances_max) {
        atomic_fetch_sub(&w->gw->consumer_instances, 1);
        return false;
    }
    if (atomic_fetch_add(&rt->consumer_instances, 1) >= w->gw->cfg.consumer_instances_per_tenant) {
        atomic_fetch_sub(&rt->consumer_instances, 1);
        atomic_fetch_sub(&w->gw->consumer_instances, 1);
        return false;
    }
    return true;
}

/* A new instance (counted already) in the worker's map, under `key` (taken). */
static gw_cinst_t *gw_cons__new(gw_worker_t *w, const gw_session_t *ss, const char *group,
                                const char *name, char *key)
{
    gw_cinst_t *i = calloc(1, sizeof(*i));
    if (i == NULL)
        abort();
    i->w = w;
    i->rt = ss->tenant->rt;
    i->key = key;
    snprintf(i->tenant_id, sizeof(i->tenant_id), "%s", ss->tenant->id);
    snprintf(i->principal, sizeof(i->principal), "%s", ss->principal);
    i->group = gw_cons_dup(group);
    i->name = gw_cons_dup(name);
    size_t n = strlen(ss->tenant->name) + strlen(group) + 2;
    i->full_group = malloc(n);
    if (i->full_group == NULL)
        abort();
    snprintf(i->full_group, n, "%s.%s", ss->tenant->name, group);
    i->coordinator = -1;
    i->generation = -1;
    i->refs = 1; /* the map's */
    i->last_used_ms = cm_mono_ms();
    cm_strmap_put(&w->consumers, i->key, strlen(i->key), i);
    return i;
}

gw_cinst_t *gw_cons_open(gw_worker_t *w, const gw_session_t *ss, const char *group,
                         const char *topic, bool reset_latest, void (*on_kick)(gw_cinst_t *i),
                         void *driver)
{
    if (!gw_cons__count(w, ss->tenant->rt))
        return NULL;
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        abort();
    char name[32];
    int n = snprintf(name, sizeof(name), "grpc-");
    for (size_t k = 0; k < sizeof(rnd); k++)
        n += snprintf(name + n, sizeof(name) - (size_t)n, "%02x", rnd[k]);
    gw_cinst_t *i = gw_cons__new(w, ss, group, name, gw_cons__key(ss->tenant->id, group, name));
    i->format = GW_CFMT_BINARY;
    i->reset_latest = reset_latest;
    i->auto_commit = false;
    i->on_kick = on_kick;
    i->driver = driver;
    i->topics = calloc(1, sizeof(*i->topics));
    if (i->topics == NULL)
        abort();
    i->topics[i->n_topics++] = gw_cons_dup(topic);
    gw_cons_ref(i); /* the driver's: it outlives a close at the gateway's stop */
    gw_member_subscribe(i);
    return i;
}

void gw_cons_drop(gw_cinst_t *i)
{
    i->on_kick = NULL;
    i->driver = NULL;
    gw_cons__close(i, false);
    gw_cons_unref(i);
}

static void gw_cons__create(gw_worker_t *w, gw_cjob_t *j)
{
    const char *fmt = gw_cons__setting(j->in, "format");
    const char *reset = gw_cons__setting(j->in, "auto.offset.reset");
    const char *commit = gw_cons__setting(j->in, "auto.commit.enable");
    char *key = gw_cons__key(j->ss.tenant->id, j->group, j->name);
    if (fmt != NULL && strcmp(fmt, "binary") != 0 && strcmp(fmt, "json") != 0) {
        gw_cons_error(j, 422, 42204, "format must be \"binary\" or \"json\"");
    } else if (reset != NULL && strcmp(reset, "earliest") != 0 && strcmp(reset, "latest") != 0) {
        gw_cons_error(j, 422, 42204, "auto.offset.reset must be \"earliest\" or \"latest\"");
    } else if (commit != NULL && strcmp(commit, "true") != 0 && strcmp(commit, "false") != 0) {
        gw_cons_error(j, 422, 42204, "auto.commit.enable must be \"true\" or \"false\"");
    } else if (cm_strmap_get(&w->consumers, key, strlen(key)) != NULL) {
        gw_cons_error(j, 409, 40902, "consumer instance \"%s\" already exists in group \"%s\"",
                      j->name, j->group);
    } else if (!gw_cons__count(w, j->ss.tenant->rt)) {
        j->retry_after = 60;
        gw_cons_error(j, 429, 429,
                      "this tenant has its maximum of %lld consumer instances on this gateway "
                      "(or the gateway its maximum); delete unused ones or retry later",
                      (long long)w->gw->cfg.consumer_instances_per_tenant);
    } else {
        gw_cinst_t *i = gw_cons__new(w, &j->ss, j->group, j->name, key);
        key = NULL;
        i->format = fmt != NULL && strcmp(fmt, "json") == 0 ? GW_CFMT_JSON : GW_CFMT_BINARY;
        i->reset_latest = reset == NULL || strcmp(reset, "latest") == 0;
        i->auto_commit = commit == NULL || strcmp(commit, "true") == 0;
        cm_jw_t *jw = &j->jw;
        cm_jw_init(jw, &j->out);
        cm_jw_obj(jw);
        cm_jw_kstr(jw, "instance_id", i->name);
        cm_jw_kstr(jw, "base_uri", j->base_uri);
        cm_jw_obj_end(jw);
        j->status = 200;
    }
    free(key);
}

/* On the owner: a job arrives. */
static void gw_cons__run(gw_cjob_t *j)
{
    gw_worker_t *w = j->owner;
    if (atomic_load(&w->gw->stopping)) {
        gw_cons_error(j, 503, 503, "the gateway is stopping");
        gw_cons__return(w, j);
        return;
    }
    if (j->kind == GW_CJ_CREATE) {
        gw_cons__create(w, j);
        gw_cons__return(w, j);
        return;
    }
    char *key = gw_cons__key(j->ss.tenant->id, j->group, j->name);
    gw_cinst_t *i = cm_strmap_get(&w->consumers, key, strlen(key));
    free(key);
    if (i == NULL || strcmp(i->principal, j->ss.principal) != 0) {
        gw_cons_error(j, 404, 40403, "consumer instance \"%s\" not found in group \"%s\"", j->name,
                      j->group);
        gw_cons__return(w, j);
        return;
    }
    i->last_used_ms = cm_mono_ms();
    gw_cons_ref(i);
    j->inst = i;
    gw_cjob_t **at = &i->jobs;
    while (*at != NULL)
        at = &(*at)->next;
    *at = j;
    if (i->jobs == j)
        gw_cons__start(i);
}

void gw_consumers_on_jobs(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        gw_cjob_t *j = H2O_STRUCT_FROM_MEMBER(gw_cjob_t, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        gw_cons__run(j);
    }
    (void)r;
}

void gw_consumers_on_done(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        gw_cjob_t *j = H2O_STRUCT_FROM_MEMBER(gw_cjob_t, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        gw_cons__answer(j);
    }
    (void)r;
}

/* ---- the tick ----------------------------------------------------------------------------- */

static void gw_cons__on_tick(h2o_timeout_entry_t *e)
{
    gw_worker_t *w = H2O_STRUCT_FROM_MEMBER(gw_worker_t, cons_tick, e);
    if (atomic_load(&w->gw->stopping))
        return;
    int64_t now = cm_mono_ms();
    gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen);
    gw_cinst_t *idle[64];
    int n_idle = 0;
    size_t it = 0;
    gw_cinst_t *i;
    while ((i = cm_strmap_next(&w->consumers, &it, NULL, NULL)) != NULL) {
        /* Held while it is looked at: what the tick sets off may run a deletion to its end. */
        gw_cons_ref(i);
        gw_member_tick(i, now);
        gw_cjob_t *j = i->jobs;
        if (!i->closed && j != NULL && j->waiting && now >= j->deadline_ms) {
            gw_cons__give_up(j); /* the next job may start: the instance is not idle */
        } else if (!i->closed && i->jobs == NULL && i->driver == NULL && n_idle < 64 &&
                   now - i->last_used_ms >= w->gw->cfg.consumer_instance_timeout_ms) {
            idle[n_idle++] = i; /* keeps the reference */
            continue;
        }
        gw_cons_unref(i);
    }
    for (int k = 0; k < n_idle; k++) {
        cm_log_info("consumer instance expired", "group=%s instance=%s idle_ms=%lld",
                    idle[k]->group, idle[k]->name, (long long)(now - idle[k]->last_used_ms));
        gw_cons__close(idle[k], true);
        gw_cons_unref(idle[k]);
    }
    h2o_timeout_link(w->loop, &w->cons_timeout, &w->cons_tick);
}

void gw_consumers_start(gw_worker_t *w)
{
    cm_strmap_init(&w->consumers);
    h2o_timeout_init(w->loop, &w->cons_timeout, GW_CONS__TICK_MS);
    w->cons_tick.cb = gw_cons__on_tick;
    h2o_timeout_link(w->loop, &w->cons_timeout, &w->cons_tick);
}

void gw_consumers_stop(gw_worker_t *w)
{
    if (h2o_timeout_is_linked(&w->cons_tick))
        h2o_timeout_unlink(&w->cons_tick);
    h2o_timeout_dispose(w->loop, &w->cons_timeout);
    /* The broker calls ended with the pool; what waits is answered, then every instance goes. */
    size_t it = 0;
    gw_cinst_t *i;
    while ((i = cm_strmap_next(&w->consumers, &it, NULL, NULL)) != NULL) {
        gw_cons_ref(i);
        gw_cons__close(i, false);
        while (i->jobs != NULL) {
            gw_cjob_t *j = i->jobs;
            i->jobs = j->next;
            gw_cons_error(j, 503, 503, "the gateway is stopping");
            gw_cons__return(w, j);
            gw_cons_unref(i);
        }
        gw_cons_unref(i);
        it = 0; /* the map changed */
    }
    cm_strmap_free(&w->consumers);
}

/* ---- the REST routes (origin) ------------------------------------------------------------------
 */

/* 1 to 200 of a-z, A-Z, 0-9, '.', '_', '-'. */
static bool gw_cons__name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
              (s[k] >= '0' && s[k] <= '9') || s[k] == '.' || s[k] == '_' || s[k] == '-'))
            return false;
    return true;
}

/* The kind of call from the method and the path after .../instances/{i}; -1: none. */
static int gw_cons__kind(gw_rreq_t *r)
{
    const char *sub = r->nseg >= 9 ? r->seg[8] : "";
    bool post = cm_http_method_is(r->req, "POST"), get = cm_http_method_is(r->req, "GET"),
         del = cm_http_method_is(r->req, "DELETE");
    if (r->nseg == 6)
        return GW_CJ_CREATE;
    if (r->nseg == 8)
        return GW_CJ_DELETE;
    if (r->nseg == 10)
        return strcmp(r->seg[9], "beginning") == 0 ? GW_CJ_SEEK_BEGIN : GW_CJ_SEEK_END;
    if (strcmp(sub, "subscription") == 0)
        return post ? GW_CJ_SUBSCRIBE : get ? GW_CJ_SUBSCRIPTION : GW_CJ_UNSUBSCRIBE;
    if (strcmp(sub, "assignments") == 0)
        return GW_CJ_ASSIGNMENTS;
    if (strcmp(sub, "offsets") == 0)
        return post ? GW_CJ_COMMIT : GW_CJ_COMMITTED;
    if (strcmp(sub, "positions") == 0)
        return GW_CJ_SEEK;
    if (strcmp(sub, "records") == 0)
        return GW_CJ_POLL;
    (void)del;
    return -1;
}

void gw_consumers_handle(gw_rreq_t *r)
{
    gw_t *gw = r->w->gw;
    int kind = gw_cons__kind(r);
    const char *group = r->seg[5];
    if (kind < 0 || !gw_rest_can_call(r))
        return;
    if (!gw_group_name_ok(group)) {
        gw_rest_error(r, 404, 404, 0, "no consumer group \"%.249s\" in this cluster", group);
        return;
    }
    if (!gw_session_allowed(&r->ss, CM_ACL_RT_GROUP, group, CM_ACL_OP_READ)) {
        gw_rest_error(r, 403, 403, 0, "principal %s may not read group \"%s\"", r->ss.principal,
                      group);
        return;
    }
    gw_cjob_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    j->r = r;
    j->origin = r->w;
    j->kind = (gw_cjob_kind_t)kind;
    j->group = group;
    j->ss = r->ss;
    j->timeout_ms = GW_CONS__POLL_TIMEOUT_MS;
    j->max_bytes = gw->cfg.fetch_bytes_max < (1 << 20) ? gw->cfg.fetch_bytes_max : (1 << 20);
    cm_sbuf_init(&j->out);
    bool ok = true;
    if (r->req->entity.len > 0 && kind != GW_CJ_POLL && kind != GW_CJ_DELETE) {
        j->in = gw_rest_json_body(r);
        ok = j->in != NULL;
    } else if (kind == GW_CJ_CREATE || kind == GW_CJ_SUBSCRIBE || kind == GW_CJ_SEEK ||
               kind == GW_CJ_SEEK_BEGIN || kind == GW_CJ_SEEK_END) {
        gw_rest_error(r, 400, 400, 0, "this call needs a JSON body");
        ok = false;
    }
    if (ok && kind == GW_CJ_POLL)
        ok = gw_rest_query_int(r, "timeout", 0, gw->cfg.fetch_wait_max_ms, &j->timeout_ms) &&
             gw_rest_query_int(r, "max_bytes", 1, gw->cfg.fetch_bytes_max, &j->max_bytes);
    if (ok && kind == GW_CJ_CREATE) {
        const char *name = cm_json_get_str(j->in, "name");
        if (cm_json_get(j->in, "name") != NULL && (name == NULL || !gw_cons__name_ok(name))) {
            gw_rest_error(r, 422, 42204, 0,
                          "name must be 1 to 200 of a-z, A-Z, 0-9, '.', '_' and '-'");
            ok = false;
        } else if (name == NULL) {
            uint8_t rnd[8];
            char *gen = cm_arena_alloc(&r->arena, 32);
            if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                abort();
            if (gen == NULL) {
                /* The request's body used up its arena: an answer, never an abort. */
                gw_rest_error(r, 413, 413, 0, "the request is too large to handle");
                cm_sbuf_free(&j->out);
                free(j);
                return;
            }
            snprintf(gen, 32, "rest-consumer-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
                     rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
            name = gen;
        }
        j->name = name;
        if (ok) {
            h2o_req_t *q = r->req;
            cm_sbuf_t s;
            cm_sbuf_init(&s);
            cm_sbuf_printf(&s, "%s://%.*s/kafka/v2/clusters/%s/consumers/%s/instances/%s",
                           q->scheme == &H2O_URL_SCHEME_HTTPS ? "https" : "http",
                           (int)q->authority.len, q->authority.base, r->ss.tenant->cluster_id,
                           group, name);
            char *uri = cm_arena_alloc(&r->arena, s.len + 1);
            if (uri != NULL) {
                memcpy(uri, s.buf, s.len);
                uri[s.len] = '\0';
            } else {
                gw_rest_error(r, 413, 413, 0, "the request is too large to handle");
                ok = false;
            }
            j->base_uri = uri;
            cm_sbuf_free(&s);
        }
    } else if (ok) {
        j->name = r->seg[7];
        if (!gw_cons__name_ok(j->name)) {
            gw_rest_error(r, 404, 40403, 0, "consumer instance \"%.200s\" not found", j->name);
            ok = false;
        }
    }
    if (!ok) {
        cm_sbuf_free(&j->out);
        free(j);
        return;
    }
    /* The owner: by a hash of the instance's identity, the same from every worker. */
    char key[600];
    int n = snprintf(key, sizeof(key), "%s/%s/%s", r->ss.tenant->id, group, j->name);
    uint32_t h =
        (uint32_t)cm_murmur2(key, (size_t)(n < (int)sizeof(key) ? n : (int)sizeof(key) - 1));
    j->owner = &gw->workers[h % (uint32_t)gw->n_workers];
    gw_rest_ref(r);
    if (j->owner == r->w)
        gw_cons__run(j);
    else
        h2o_multithread_send_message(&j->owner->cons_jobs, &j->msg);
}
