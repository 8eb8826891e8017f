#include "bk_cluster.h"

#include <stdlib.h>
#include <string.h>

#include "bk_dispatch.h"
#include "bk_isr.h"
#include "bk_replica.h"
#include "bk_sasl.h"
#include "bk_topic.h"
#include "cm_kproto.h"
#include "cm_log.h"

#define BK_CLUSTER__ARENA_MAX (512u << 20) /* a snapshot of ~a million partitions */

bk_cluster_t *bk_cluster_new(void)
{
    bk_cluster_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    cm_arena_init(&c->arena, BK_CLUSTER__ARENA_MAX);
    cm_strmap_init(&c->by_name);
    cm_strmap_init(&c->tenants_by_name);
    return c;
}

void bk_cluster_free(bk_cluster_t *c)
{
    if (c == NULL)
        return;
    cm_strmap_free(&c->by_name);
    cm_strmap_free(&c->tenants_by_name);
    cm_arena_free(&c->arena);
    free(c);
}

bool bk_cluster_index(bk_cluster_t *c, int32_t node_id)
{
    for (int32_t i = 0; i < c->n_tenants; i++)
        cm_strmap_put(&c->tenants_by_name, c->tenants[i].name, strlen(c->tenants[i].name),
                      &c->tenants[i]);
    for (int32_t i = 0; i < c->n_topics; i++) {
        bk_cluster_topic_t *t = &c->topics[i];
        cm_strmap_put(&c->by_name, t->name, strlen(t->name), t);
        t->mine = cm_arena_calloc(&c->arena, (size_t)t->n_parts + 1, sizeof(bool));
        if (t->mine == NULL)
            return false;
        for (int32_t p = 0; p < t->n_parts; p++)
            for (int32_t r = 0; r < t->parts[p].n_replicas; r++)
                t->mine[p] |= t->parts[p].replicas[r] == node_id;
        for (int32_t p = 0; p < t->n_parts; p++)
            t->hosted |= t->mine[p];
    }
    return true;
}

const bk_cluster_tenant_t *bk_cluster_tenant(const bk_broker_t *b, const char *name, size_t len)
{
    if (b->cluster == NULL)
        return NULL;
    return cm_strmap_get(&b->cluster->tenants_by_name, name, len);
}

const bk_cluster_topic_t *bk_cluster_topic(const bk_broker_t *b, cm_kstr_t name)
{
    if (b->cluster == NULL || name.len < 0)
        return NULL;
    return cm_strmap_get(&b->cluster->by_name, name.ptr, (size_t)name.len);
}

bk_partition_t *bk_cluster_led(const bk_broker_t *b, bk_topic_t *t, cm_kstr_t name,
                               int32_t partition, int16_t *err)
{
    *err = CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (b->cluster != NULL) {
        const bk_cluster_topic_t *ct = bk_cluster_topic(b, t != NULL ? cm_kstr_c(t->name) : name);
        if (ct == NULL || partition < 0 || partition >= ct->n_parts)
            return NULL;
        int32_t leader = ct->parts[partition].leader;
        if (leader != (int32_t)b->cfg.node_id) {
            *err = leader < 0 ? CM_KERR_LEADER_NOT_AVAILABLE : CM_KERR_NOT_LEADER_OR_FOLLOWER;
            return NULL;
        }
        /* Led here but not open: the broker could not create it (its log says why). */
        *err = CM_KERR_KAFKA_STORAGE_ERROR;
    }
    return t != NULL ? bk_topic_partition(t, partition) : NULL;
}

static bool bk_cluster__cfg_equal(const cm_tconfig_t *a, const cm_tconfig_t *b)
{
    return a->set == b->set && a->retention_ms == b->retention_ms &&
           a->retention_bytes == b->retention_bytes && a->segment_bytes == b->segment_bytes &&
           a->segment_ms == b->segment_ms && a->flush_ms == b->flush_ms &&
           a->max_message_bytes == b->max_message_bytes;
}

/* Each local partition learns its leader epoch and its role: a leader its followers and
 * in-sync replicas (bk_isr.h), a follower that its high watermark waits for its leader's. */
static void bk_cluster__sync_roles(bk_broker_t *b, const bk_cluster_t *c,
                                   const bk_cluster_topic_t *ct, bk_topic_t *t)
{
    int32_t me = (int32_t)b->cfg.node_id;
    for (int32_t i = 0; i < t->n_parts && i < ct->n_parts; i++) {
        bk_partition_t *p = t->parts[i];
        if (p == NULL)
            continue;
        const bk_cluster_part_t *x = &ct->parts[i];
        bool leading = x->leader == me;
        bk_partition_set_leader_epoch(p, x->epoch, leading);
        bk_isr_sync(b, p, &ct->id, x, c->ticket);
        if (!leading && p->hw_cap == INT64_MAX)
            p->hw_cap = p->hw; /* until its leader says more */
    }
}

/* Brings one hosted topic's local copy in line with the snapshot. */
static void bk_cluster__sync_topic(bk_broker_t *b, bk_cluster_t *c, bk_cluster_topic_t *ct)
{
    cm_kstr_t name = cm_kstr_c(ct->name);
    bk_topic_t *t = bk_topic_find(b, name);
    if (t != NULL && memcmp(t->id.b, ct->id.b, sizeof(ct->id.b)) != 0) {
        /* Same name, another topic: the old one was deleted and re-created meanwhile. */
        cm_log_info("topic replaced by the control plane", "topic=%s", ct->name);
        bk_topic_delete(b, t);
        t = NULL;
    }
    if (t == NULL) {
        char msg[256];
        int16_t err = bk_topic_create(b, name, &ct->id, ct->n_parts, ct->mine, &ct->cfg, false, msg,
                                      sizeof(msg), &t);
        if (err != 0) {
            cm_log_error("cannot create a topic the control plane assigned here",
                         "topic=%s partitions=%d kafka_error=%d err=\"%s\"", ct->name, ct->n_parts,
                         err, msg);
            ct->create_err = cm_arena_strndup(&c->arena, msg, strlen(msg));
            return;
        }
        bk_cluster__sync_roles(b, c, ct, t);
        return;
    }
    if (!bk_cluster__cfg_equal(&t->cfg, &ct->cfg)) {
        t->cfg = ct->cfg;
        if (bk_topic_save(b, t) != 0)
            cm_log_error("cannot save topic configs", "topic=%s", t->name);
        else
            cm_log_info("topic configs changed by the control plane", "topic=%s", t->name);
    }
    /* More partitions, or partitions newly assigned here: open them. Partitions assigned
     * elsewhere since stay on disk until replication moves data between brokers. */
    char msg[256];
    int16_t err = bk_topic_assign(b, t, ct->n_parts, ct->mine, msg, sizeof(msg));
    if (err != 0) {
        cm_log_error("cannot open the partitions the control plane assigned here",
                     "topic=%s local=%d cluster=%d kafka_error=%d err=\"%s\"", t->name, t->n_parts,
                     ct->n_parts, err, msg);
        ct->create_err = cm_arena_strndup(&c->arena, msg, strlen(msg));
    }
    bk_cluster__sync_roles(b, c, ct, t);
}

void bk_cluster_apply(bk_broker_t *b, bk_cluster_t *c)
{
    /* Local topics the control plane no longer places here go first, so that the room they
     * leave (topics_max, partitions_total_max) is there for the topics this snapshot adds.
     * Collected first, because deleting while iterating the map would skip entries. */
    bk_topic_t **gone = calloc(b->topics.size + 1, sizeof(*gone));
    size_t it = 0, n = 0;
    bk_topic_t *t;
    if (gone == NULL)
        abort();
    while ((t = cm_strmap_next(&b->topics, &it, NULL, NULL)) != NULL) {
        /* A topic still in the pool but no longer placed here keeps its data, as partitions
         * assigned elsewhere do, until replication can move data between brokers. */
        const bk_cluster_topic_t *ct = cm_strmap_get(&c->by_name, t->name, strlen(t->name));
        if (ct == NULL || memcmp(ct->id.b, t->id.b, sizeof(t->id.b)) != 0)
            gone[n++] = t;
    }
    for (size_t i = 0; i < n; i++) {
        cm_log_info("topic removed by the control plane", "topic=%s", gone[i]->name);
        bk_topic_delete(b, gone[i]);
    }
    free(gone);
    for (int32_t i = 0; i < c->n_topics; i++)
        if (c->topics[i].hosted)
            bk_cluster__sync_topic(b, c, &c->topics[i]);
    if (c->auth_read)
        bk_sasl_install(b, c->auth_names, c->auth_verifiers, c->n_auth);
    bk_cluster_free(b->cluster);
    b->cluster = c;
    bk_groups_cluster_applied(b); /* before any request sees the new owners */
    bk_replica_apply(b);
}

int bk_cluster_parse_ints(cm_arena_t *a, const char *s, int32_t **out, int32_t *n)
{
    size_t len = strlen(s), count = 0;
    if (len < 2 || s[0] != '{' || s[len - 1] != '}')
        return -1;
    for (size_t i = 1; i + 1 < len; i++)
        count += s[i] == ',';
    count = len == 2 ? 0 : count + 1;
    int32_t *v = cm_arena_calloc(a, count + 1, sizeof(*v));
    if (v == NULL)
        return -1;
    const char *p = s + 1;
    for (size_t i = 0; i < count; i++) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || (*end != ',' && *end != '}'))
            return -1;
        v[i] = (int32_t)x;
        p = end + 1;
    }
    *out = v;
    *n = (int32_t)count;
    return 0;
}

bool bk_cluster_parse_uuid(const char *s, cm_kuuid_t *out)
{
    int k = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '-')
            continue;
        int hi = *p, v;
        if (hi >= '0' && hi <= '9')
            v = hi - '0';
        else if (hi >= 'a' && hi <= 'f')
            v = hi - 'a' + 10;
        else if (hi >= 'A' && hi <= 'F')
            v = hi - 'A' + 10;
        else
            return false;
        if (k >= 32)
            return false;
        if (k % 2 == 0)
            out->b[k / 2] = (uint8_t)(v << 4);
        else
            out->b[k / 2] |= (uint8_t)v;
        k++;
    }
    return k == 32;
}
