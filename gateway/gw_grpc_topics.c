/*
 * Topic admin over gRPC: the same checks and control-plane calls as the REST topic routes
 * (gw_rest.c), answered as streaming.v1 messages.
 */
#include <stdio.h>
#include <string.h>

#include "cm_json.h"
#include "gw_admin.h"
#include "gw_grpc.h"
#include "gw_meta.h"
#include "streaming/v1/streaming.pb-c.h"

/* A topic as the API shows it; `configs` is its JSON object of overrides (may be NULL). */
static Streaming__V1__Topic *gw_grpc__topic(gw_gcall_t *c, const char *name, int32_t parts,
                                            int32_t rf, const char *configs)
{
    cm_arena_t *a = &c->arena;
    Streaming__V1__Topic *t = cm_arena_alloc(a, sizeof(*t));
    if (t == NULL)
        return NULL;
    streaming__v1__topic__init(t);
    t->name = (char *)name;
    t->partitions = parts;
    t->replication_factor = rf;
    cm_json_t *doc = NULL;
    if (configs == NULL || cm_json_parse(a, configs, strlen(configs), 4, &doc, NULL, 0) != 0 ||
        doc->type != CM_JSON_OBJECT)
        return t;
    t->configs = cm_arena_calloc(a, doc->len + 1, sizeof(*t->configs));
    if (t->configs == NULL)
        return t;
    for (const cm_json_t *m = doc->child; m != NULL; m = m->next) {
        Streaming__V1__Topic__ConfigsEntry *e = cm_arena_alloc(a, sizeof(*e));
        if (e == NULL)
            break;
        streaming__v1__topic__configs_entry__init(e);
        e->key = (char *)m->key;
        char num[32];
        if (m->type == CM_JSON_STRING)
            e->value = (char *)m->str;
        else if (m->type == CM_JSON_NUMBER && m->is_int)
            e->value = cm_arena_strndup(
                a, num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)m->i));
        else if (m->type == CM_JSON_BOOL)
            e->value = (char *)(m->b ? "true" : "false");
        else
            continue;
        if (e->value == NULL)
            break;
        t->configs[t->n_configs++] = e;
    }
    return t;
}

static void gw_grpc__reply_topic(gw_gcall_t *c, const gw_topic_t *t)
{
    Streaming__V1__Topic *out =
        gw_grpc__topic(c, t->name, t->n_parts, t->replication_factor, t->configs);
    if (out == NULL)
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    else
        gw_grpc_reply(c, &out->base);
}

void gw_grpc_list_topics(gw_gcall_t *c)
{
    if (gw_grpc_request(c, &streaming__v1__list_topics_request__descriptor) == NULL)
        return;
    size_t n;
    const gw_topic_t **all = gw_session_topics(&c->ss, &c->arena, &n);
    Streaming__V1__ListTopicsResponse res = STREAMING__V1__LIST_TOPICS_RESPONSE__INIT;
    res.topics = all != NULL ? cm_arena_calloc(&c->arena, n + 1, sizeof(*res.topics)) : NULL;
    if (res.topics == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory listing topics");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        Streaming__V1__Topic *t = gw_grpc__topic(c, all[i]->name, all[i]->n_parts,
                                                 all[i]->replication_factor, all[i]->configs);
        if (t == NULL) {
            gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory listing topics");
            return;
        }
        res.topics[res.n_topics++] = t;
    }
    gw_grpc_reply(c, &res.base);
}

/* The caller's topic `name` for `op`, or NULL when the error was sent. */
static const gw_topic_t *gw_grpc__find_topic(gw_gcall_t *c, const char *name, cm_acl_op_t op)
{
    gw_gstatus_t code;
    char msg[320];
    const gw_topic_t *t = gw_grpc_topic(&c->ss, name, op, &code, msg, sizeof(msg));
    if (t == NULL)
        gw_grpc_fail(c, code, "%s", msg);
    return t;
}

void gw_grpc_describe_topic(gw_gcall_t *c)
{
    Streaming__V1__DescribeTopicRequest *rq =
        gw_grpc_request(c, &streaming__v1__describe_topic_request__descriptor);
    if (rq == NULL)
        return;
    const gw_topic_t *t = gw_grpc__find_topic(c, rq->name, CM_ACL_OP_DESCRIBE);
    if (t != NULL)
        gw_grpc__reply_topic(c, t);
}

/* An operator API answer: true on success, else the error was sent. */
static bool gw_grpc__admin_ok(gw_gcall_t *c, gw_admin_call_t *ac, const char *what)
{
    int code;
    char msg[512];
    int status = gw_admin_result(ac, what, &code, msg, sizeof(msg));
    if (status >= 200 && status < 300)
        return true;
    if (status == 429 || status == 503)
        gw_grpc_fail_retry(c, gw_grpc_status_of_http(status), 1, "%s", msg);
    else
        gw_grpc_fail(c, gw_grpc_status_of_http(status), "%s", msg);
    return false;
}

static void gw_grpc__created(gw_admin_call_t *ac)
{
    gw_gcall_t *c = ac->ud;
    if (gw_grpc__admin_ok(c, ac, "cannot create the topic")) {
        /* From the snapshot that shows it, else from the control plane's answer. */
        const char *name = c->state;
        gw_snap_t *s = ac->w->snap;
        const gw_tenant_t *tn =
            s != NULL ? cm_strmap_get(&s->tenants, c->ss.tenant->id, strlen(c->ss.tenant->id))
                      : NULL;
        const gw_topic_t *t = tn != NULL ? gw_snap_topic(tn, name) : NULL;
        if (t != NULL) {
            gw_grpc__reply_topic(c, t);
        } else {
            cm_json_t *doc = NULL;
            int64_t parts = 0, rf = 0;
            if (cm_json_parse(&c->arena, ac->answer.buf, ac->answer.len, 8, &doc, NULL, 0) == 0) {
                cm_json_get_int(doc, "partitions", &parts);
                cm_json_get_int(doc, "replication_factor", &rf);
            }
            Streaming__V1__Topic *out = gw_grpc__topic(c, name, (int32_t)parts, (int32_t)rf, NULL);
            if (out != NULL)
                gw_grpc_reply(c, &out->base);
            else
                gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
    }
    gw_admin_call_free(ac);
}

void gw_grpc_create_topic(gw_gcall_t *c)
{
    Streaming__V1__CreateTopicRequest *rq =
        gw_grpc_request(c, &streaming__v1__create_topic_request__descriptor);
    if (rq == NULL)
        return;
    if (rq->name[0] == '\0') {
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "name is required");
        return;
    }
    if (!gw_session_allowed(&c->ss, CM_ACL_RT_TOPIC, rq->name, CM_ACL_OP_CREATE) &&
        !gw_session_allowed(&c->ss, CM_ACL_RT_CLUSTER, "kafka-cluster", CM_ACL_OP_CREATE)) {
        gw_grpc_fail(c, GRPC_STATUS_PERMISSION_DENIED,
                     "principal %s may not create topic \"%.64s\"", c->ss.principal, rq->name);
        return;
    }
    if (rq->partitions < 0) {
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "partitions must be 0 (the default) or more");
        return;
    }
    gw_admin_call_t *ac = gw_admin_call_new(c->w, "POST", gw_grpc__created, c);
    cm_sbuf_printf(&ac->path, "/v1/tenants/%s/topics", c->ss.tenant->name);
    cm_jw_t jw;
    cm_jw_init(&jw, &ac->body);
    cm_jw_obj(&jw);
    cm_jw_kstr(&jw, "name", rq->name);
    if (rq->partitions > 0)
        cm_jw_kint(&jw, "partitions", rq->partitions);
    cm_jw_key(&jw, "configs");
    cm_jw_obj(&jw);
    for (size_t i = 0; i < rq->n_configs; i++)
        cm_jw_kstr(&jw, rq->configs[i]->key, rq->configs[i]->value);
    cm_jw_obj_end(&jw);
    cm_jw_obj_end(&jw);
    c->state = rq->name; /* in the call's arena */
    gw_admin_send(c->w->gw->admin, ac);
}

static void gw_grpc__deleted(gw_admin_call_t *ac)
{
    gw_gcall_t *c = ac->ud;
    if (gw_grpc__admin_ok(c, ac, "cannot delete the topic")) {
        Streaming__V1__DeleteTopicResponse res = STREAMING__V1__DELETE_TOPIC_RESPONSE__INIT;
        gw_grpc_reply(c, &res.base);
    }
    gw_admin_call_free(ac);
}

void gw_grpc_delete_topic(gw_gcall_t *c)
{
    Streaming__V1__DeleteTopicRequest *rq =
        gw_grpc_request(c, &streaming__v1__delete_topic_request__descriptor);
    if (rq == NULL)
        return;
    const gw_topic_t *t = gw_grpc__find_topic(c, rq->name, CM_ACL_OP_DELETE);
    if (t == NULL)
        return;
    gw_admin_call_t *ac = gw_admin_call_new(c->w, "DELETE", gw_grpc__deleted, c);
    cm_sbuf_printf(&ac->path, "/v1/tenants/%s/topics/%s", c->ss.tenant->name, t->name);
    gw_admin_send(c->w->gw->admin, ac);
}
