/* The group coordinator's committed offsets, group deletion, and reading groups
 * (ListGroups, DescribeGroups). */
#include <stdlib.h>
#include <string.h>

#include "bk_group_internal.h"
#include "cm_kproto.h"

void bk_group__free_offsets(bk_group_t *g)
{
    size_t it = 0;
    bk_goffset_t *o;
    while ((o = cm_strmap_next(&g->offsets, &it, NULL, NULL)) != NULL) {
        free(o->metadata);
        free(o);
    }
    cm_strmap_free(&g->offsets);
}

/* ---- offsets --------------------------------------------------------------------------- */

static size_t bk_group__okey(char *key, size_t cap, const char *topic, int32_t partition)
{
    size_t n = strlen(topic);
    if (n + 5 > cap)
        n = cap - 5;
    memcpy(key, topic, n);
    key[n] = '\0';
    memcpy(key + n + 1, &partition, 4);
    return n + 5;
}

void bk_gcoord_offset_put(bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition, int64_t offset, int32_t leader_epoch,
                          const char *metadata, int64_t commit_ms)
{
    bk_group_t *g = bk_group__get(gc, group_id);
    if (g == NULL)
        g = bk_group__create(gc, group_id);
    char key[512];
    size_t kn = bk_group__okey(key, sizeof(key), topic, partition);
    bk_goffset_t *o = cm_strmap_get(&g->offsets, key, kn);
    if (o == NULL) {
        o = bk_group__alloc(sizeof(*o));
        cm_strmap_put(&g->offsets, key, kn, o);
    }
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    bk_group__set(&o->metadata, metadata != NULL ? metadata : "");
    (void)commit_ms;
}

void bk_gcoord_offset_del(bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition)
{
    bk_group_t *g = bk_group__get(gc, group_id);
    if (g == NULL)
        return;
    char key[512];
    size_t kn = bk_group__okey(key, sizeof(key), topic, partition);
    bk_goffset_t *o = cm_strmap_del(&g->offsets, key, kn);
    if (o != NULL) {
        free(o->metadata);
        free(o);
    }
}

bool bk_gcoord_offset_get(const bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition, int64_t *offset, int32_t *leader_epoch,
                          const char **metadata)
{
    const bk_group_t *g = bk_group__get(gc, group_id);
    if (g == NULL)
        return false;
    char key[512];
    size_t kn = bk_group__okey(key, sizeof(key), topic, partition);
    const bk_goffset_t *o = cm_strmap_get(&g->offsets, key, kn);
    if (o == NULL)
        return false;
    *offset = o->offset;
    *leader_epoch = o->leader_epoch;
    *metadata = o->metadata;
    return true;
}

void bk_gcoord_offsets_each(const bk_gcoord_t *gc, const char *group_id,
                            void (*fn)(void *ud, const char *topic, int32_t partition,
                                       int64_t offset, int32_t leader_epoch, const char *metadata),
                            void *ud)
{
    const bk_group_t *g = bk_group__get(gc, group_id);
    if (g == NULL)
        return;
    size_t it = 0, kn;
    const char *key;
    const bk_goffset_t *o;
    while ((o = cm_strmap_next(&g->offsets, &it, &key, &kn)) != NULL) {
        int32_t partition;
        memcpy(&partition, key + kn - 4, 4);
        fn(ud, key, partition, o->offset, o->leader_epoch, o->metadata);
    }
}

int16_t bk_gcoord_delete(bk_gcoord_t *gc, const char *group_id)
{
    bk_group_t *g = bk_group__blank(group_id) ? NULL : bk_group__get(gc, group_id);
    if (g == NULL || g->state == BK_GROUP_DEAD)
        return CM_KERR_GROUP_ID_NOT_FOUND;
    if (g->state != BK_GROUP_EMPTY)
        return CM_KERR_NON_EMPTY_GROUP;
    cm_strmap_del(&gc->groups, g->id, strlen(g->id));
    bk_group__free(gc, g, CM_KERR_COORDINATOR_NOT_AVAILABLE);
    return CM_KERR_NONE;
}

/* ---- reading --------------------------------------------------------------------------- */

const bk_group_t *bk_gcoord_next(const bk_gcoord_t *gc, size_t *it)
{
    return cm_strmap_next(&gc->groups, it, NULL, NULL);
}

const bk_group_t *bk_gcoord_find(const bk_gcoord_t *gc, const char *group_id)
{
    return bk_group__blank(group_id) ? NULL : bk_group__get(gc, group_id);
}

const char *bk_group_id(const bk_group_t *g)
{
    return g->id;
}

bk_gstate_t bk_group_state(const bk_group_t *g)
{
    return g->state;
}

const char *bk_gstate_name(bk_gstate_t s)
{
    switch (s) {
    case BK_GROUP_EMPTY:
        return "Empty";
    case BK_GROUP_PREPARING:
        return "PreparingRebalance";
    case BK_GROUP_COMPLETING:
        return "CompletingRebalance";
    case BK_GROUP_STABLE:
        return "Stable";
    default:
        return "Dead";
    }
}

int32_t bk_group_generation(const bk_group_t *g)
{
    return g->generation;
}

const char *bk_group_protocol_type(const bk_group_t *g)
{
    return g->protocol_type != NULL ? g->protocol_type : "";
}

const char *bk_group_protocol(const bk_group_t *g)
{
    return g->protocol != NULL ? g->protocol : "";
}

const char *bk_group_leader(const bk_group_t *g)
{
    return g->leader != NULL ? g->leader : "";
}

int bk_group_members_n(const bk_group_t *g)
{
    return g->n_members;
}

bk_gmember_view_t bk_group_member(const bk_group_t *g, int i)
{
    return bk_group__view(g, g->members[i]);
}
