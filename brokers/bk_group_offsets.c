/* The group coordinator's committed offsets and their expiry, group deletion, and reading
 * groups (ListGroups, DescribeGroups). */
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

void bk_gcoord_offset_put(bk_gcoord_t *gc, const char *group_id, const cm_kuuid_t *tenant,
                          const char *topic, int32_t partition, int64_t offset,
                          int32_t leader_epoch, const char *metadata, int64_t commit_ms)
{
    cm_kuuid_t now;
    bk_gowner_t owner = bk_group__owner(gc, group_id, &now);
    /* A commit of a tenant gone meanwhile (deleted, or deleted and made again): its group
     * was removed, and must not come back for the name's new owner. */
    if (owner == BK_GOWNER_NONE ||
        (owner == BK_GOWNER_TENANT && tenant != NULL && !cm_kuuid_is_zero(*tenant) &&
         memcmp(tenant->b, now.b, sizeof(now.b)) != 0))
        return;
    bk_group_t *g = bk_group__for_record(gc, group_id, tenant);
    char key[512];
    size_t kn = bk_group__okey(key, sizeof(key), topic, partition);
    bk_goffset_t *o = cm_strmap_get(&g->offsets, key, kn);
    if (o == NULL) {
        o = bk_group__alloc(sizeof(*o));
        cm_strmap_put(&g->offsets, key, kn, o);
    }
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    o->commit_ms = commit_ms;
    bk_group__set(&o->metadata, metadata != NULL ? metadata : "");
}

void bk_gcoord_offset_del(bk_gcoord_t *gc, const char *group_id, const char *topic,
                          int32_t partition)
{
    bk_group_t *g = bk_group__raw(gc, group_id);
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

/* The offset at a cm_strmap_next position of a group's offsets. */
static bk_goffset_view_t bk_group__offset_view(const bk_goffset_t *o, const char *key, size_t kn)
{
    int32_t partition;
    memcpy(&partition, key + kn - 4, 4);
    return (bk_goffset_view_t){ .topic = key,
                                .partition = partition,
                                .offset = o->offset,
                                .leader_epoch = o->leader_epoch,
                                .metadata = o->metadata,
                                .commit_ms = o->commit_ms };
}

void bk_gcoord_offsets_each(const bk_gcoord_t *gc, const char *group_id,
                            void (*fn)(void *ud, const bk_goffset_view_t *o), void *ud)
{
    const bk_group_t *g = bk_group__get(gc, group_id);
    if (g == NULL)
        return;
    size_t it = 0, kn;
    const char *key;
    const bk_goffset_t *o;
    while ((o = cm_strmap_next(&g->offsets, &it, &key, &kn)) != NULL) {
        bk_goffset_view_t v = bk_group__offset_view(o, key, kn);
        fn(ud, &v);
    }
}

int16_t bk_gcoord_delete(bk_gcoord_t *gc, const char *group_id)
{
    bk_group_t *g = bk_group__blank(group_id) ? NULL : bk_group__get(gc, group_id);
    if (g == NULL || g->state == BK_GROUP_DEAD)
        return CM_KERR_GROUP_ID_NOT_FOUND;
    if (g->state != BK_GROUP_EMPTY)
        return CM_KERR_NON_EMPTY_GROUP;
    bk_group__remove(gc, g, CM_KERR_COORDINATOR_NOT_AVAILABLE);
    return CM_KERR_NONE;
}

void bk_gcoord_forget(bk_gcoord_t *gc, const char *group_id)
{
    bk_group_t *g = bk_group__blank(group_id) ? NULL : bk_group__raw(gc, group_id);
    if (g != NULL)
        bk_group__remove(gc, g, CM_KERR_COORDINATOR_NOT_AVAILABLE);
}

/* ---- expiry ---------------------------------------------------------------------------- */

/* Expires what is due in one Empty group; returns the offsets looked at. */
static int bk_group__expire_group(bk_group_t *g, int64_t wall_ms, int64_t retention_ms,
                                  void (*expired)(void *ud, const char *group_id,
                                                  const char *topic, int32_t partition),
                                  void *ud)
{
    int looked = 0;
    size_t it = 0, kn;
    const char *key;
    bk_goffset_t *o;
    char gone[64][512];
    size_t gone_n[64];
    bool more = true;
    /* Removed after each walk of up to 64 (the map must not change during a walk), and
     * walked again until a walk finds nothing due. */
    while (more) {
        int n = 0;
        more = false;
        it = 0;
        while ((o = cm_strmap_next(&g->offsets, &it, &key, &kn)) != NULL) {
            looked++;
            int64_t base = o->commit_ms > g->empty_since_ms ? o->commit_ms : g->empty_since_ms;
            if (wall_ms - base < retention_ms || kn > sizeof(gone[0]))
                continue;
            if (n == 64) {
                more = true;
                break;
            }
            memcpy(gone[n], key, kn);
            gone_n[n++] = kn;
        }
        for (int i = 0; i < n; i++) {
            bk_goffset_t *x = cm_strmap_del(&g->offsets, gone[i], gone_n[i]);
            bk_goffset_view_t v = bk_group__offset_view(x, gone[i], gone_n[i]);
            if (expired != NULL)
                expired(ud, g->id, v.topic, v.partition);
            free(x->metadata);
            free(x);
        }
    }
    return looked;
}

bool bk_gcoord_expire(bk_gcoord_t *gc, int64_t wall_ms, int64_t retention_ms, int work_max,
                      void (*expired)(void *ud, const char *group_id, const char *topic,
                                      int32_t partition),
                      void *ud)
{
    bk_group_t *g, *empty[64];
    int n_empty = 0, work = 0;
    bool done = false;
    while (work < work_max && n_empty < 64) {
        g = cm_strmap_next(&gc->groups, &gc->expire_it, NULL, NULL);
        if (g == NULL) {
            gc->expire_it = 0;
            done = true;
            break;
        }
        work++;
        /* Members keep every offset: their group is in use. */
        if (g->state != BK_GROUP_EMPTY || g->n_members > 0 || g->offsets.size == 0)
            continue;
        work += bk_group__expire_group(g, wall_ms, retention_ms, expired, ud);
        if (g->offsets.size == 0 && g->n_pending == 0)
            empty[n_empty++] = g;
    }
    /* Removed after the walk, which goes on from where it stopped in the next step: a
     * removal may make it skip a group, which the next sweep looks at. */
    for (int i = 0; i < n_empty; i++) {
        if (expired != NULL)
            expired(ud, empty[i]->id, NULL, -1);
        bk_group__remove(gc, empty[i], CM_KERR_COORDINATOR_NOT_AVAILABLE);
    }
    return done;
}

/* ---- reading --------------------------------------------------------------------------- */

const bk_group_t *bk_gcoord_next(const bk_gcoord_t *gc, size_t *it)
{
    const bk_group_t *g;
    while ((g = cm_strmap_next(&gc->groups, it, NULL, NULL)) != NULL && !bk_group__owned(gc, g))
        ;
    return g;
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

cm_kuuid_t bk_group_tenant(const bk_group_t *g)
{
    return g->tenant;
}

int64_t bk_group_empty_since(const bk_group_t *g)
{
    return g->empty_since_ms;
}
