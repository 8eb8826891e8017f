/*
 * Which groups the coordinator holds: lookup by name and owner, creation within the limits
 * (groups_max, groups_per_tenant_max), removal, and re-owning once the tenants changed.
 *
 * A group records the id of the tenant that owned its name when it was made. A group whose
 * name another tenant owns now (its tenant was deleted and one of the same name created),
 * or no tenant, stays in the map until bk_gcoord_reown removes it, but bk_group__get never
 * returns it: every call sees such a group as absent, and making a group of that name
 * replaces it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bk_group_internal.h"
#include "cm_kproto.h"

/* The length of the tenant prefix of a group's name ("acme" of "acme.orders"); 0: none. */
static size_t bk_group__prefix(const char *id)
{
    const char *dot = strchr(id, '.');
    return dot != NULL ? (size_t)(dot - id) : 0;
}

static bool bk_group__same_tenant(const cm_kuuid_t *a, const cm_kuuid_t *b)
{
    return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

/* The groups whose name has the prefix of `id`. */
static uintptr_t bk_group__tenant_groups(const bk_gcoord_t *gc, const char *id)
{
    size_t n = bk_group__prefix(id);
    return n > 0 ? (uintptr_t)cm_strmap_get(&gc->per_tenant, id, n) : 0;
}

static void bk_group__count(bk_gcoord_t *gc, const char *id, bool add)
{
    size_t n = bk_group__prefix(id);
    if (n == 0)
        return;
    uintptr_t c = (uintptr_t)cm_strmap_get(&gc->per_tenant, id, n);
    c = add ? c + 1 : c - 1;
    if (c == 0)
        cm_strmap_del(&gc->per_tenant, id, n);
    else
        cm_strmap_put(&gc->per_tenant, id, n, (void *)c);
}

bk_gowner_t bk_group__owner(const bk_gcoord_t *gc, const char *id, cm_kuuid_t *tenant)
{
    memset(tenant, 0, sizeof(*tenant));
    return gc->ops.owner != NULL ? gc->ops.owner(gc->ops.ud, id, tenant) : BK_GOWNER_UNCHECKED;
}

bool bk_group__owned(const bk_gcoord_t *gc, const bk_group_t *g)
{
    cm_kuuid_t now;
    switch (bk_group__owner(gc, g->id, &now)) {
    case BK_GOWNER_UNCHECKED:
        return true;
    case BK_GOWNER_NONE:
        return false;
    default:
        /* Recorded without an owner: stored before owners were, bk_gcoord_reown adopts it. */
        return cm_kuuid_is_zero(g->tenant) || bk_group__same_tenant(&g->tenant, &now);
    }
}

bk_group_t *bk_group__raw(const bk_gcoord_t *gc, const char *id)
{
    return cm_strmap_get(&gc->groups, id, strlen(id));
}

bk_group_t *bk_group__get(const bk_gcoord_t *gc, const char *id)
{
    bk_group_t *g = bk_group__raw(gc, id);
    return g != NULL && bk_group__owned(gc, g) ? g : NULL;
}

int16_t bk_group__may_create(bk_gcoord_t *gc, const char *id)
{
    cm_kuuid_t tenant;
    bk_gowner_t owner = bk_group__owner(gc, id, &tenant);
    if (owner == BK_GOWNER_NONE)
        return CM_KERR_INVALID_GROUP_ID;
    /* A group of that name a former owner left is replaced, not added to (it is counted,
     * under the same prefix). */
    size_t replaced = bk_group__raw(gc, id) != NULL;
    size_t tenant_n = bk_group__tenant_groups(gc, id), all_n = gc->groups.size;
    tenant_n -= tenant_n >= replaced ? replaced : 0;
    all_n -= replaced;
    bool tenant_full = owner == BK_GOWNER_TENANT && gc->cfg.groups_per_tenant_max > 0 &&
                       tenant_n >= (size_t)gc->cfg.groups_per_tenant_max;
    bool full = gc->cfg.groups_max > 0 && all_n >= (size_t)gc->cfg.groups_max;
    if (!tenant_full && !full)
        return CM_KERR_NONE;
    if (gc->ops.refused != NULL)
        gc->ops.refused(gc->ops.ud, id, tenant_full);
    /* Not a Kafka quota error: the one non-retriable group error every client surfaces
     * (Java's GroupAuthorizationException, librdkafka's "JoinGroup failed"), and one the
     * coordinator gives for nothing else (the gateway checks ACLs), so the gateway can tell
     * the limit and say so. */
    return CM_KERR_GROUP_AUTHORIZATION_FAILED;
}

/* Links a new Empty group, owned by `tenant`. */
static bk_group_t *bk_group__link(bk_gcoord_t *gc, const char *id, const cm_kuuid_t *tenant)
{
    bk_group_t *old = bk_group__raw(gc, id);
    if (old != NULL)
        bk_group__remove(gc, old, CM_KERR_UNKNOWN_MEMBER_ID);
    bk_group_t *g = bk_group__alloc(sizeof(*g));
    g->id = bk_group__strdup(id);
    g->state = BK_GROUP_EMPTY;
    g->empty_since_ms = -1;
    if (tenant != NULL)
        g->tenant = *tenant;
    cm_strmap_init(&g->offsets);
    cm_strmap_put(&gc->groups, id, strlen(id), g);
    bk_group__count(gc, id, true);
    return g;
}

bk_group_t *bk_group__create(bk_gcoord_t *gc, const char *id)
{
    cm_kuuid_t tenant;
    bk_gowner_t owner = bk_group__owner(gc, id, &tenant);
    return bk_group__link(gc, id, owner == BK_GOWNER_TENANT ? &tenant : NULL);
}

void bk_group__remove(bk_gcoord_t *gc, bk_group_t *g, int16_t err)
{
    cm_strmap_del(&gc->groups, g->id, strlen(g->id));
    bk_group__count(gc, g->id, false);
    bk_group__free(gc, g, err);
}

bk_group_t *bk_group__for_record(bk_gcoord_t *gc, const char *id, const cm_kuuid_t *tenant)
{
    bool recorded = tenant != NULL && !cm_kuuid_is_zero(*tenant);
    bk_group_t *g = bk_group__raw(gc, id);
    if (g == NULL)
        return bk_group__link(gc, id, recorded ? tenant : NULL);
    if (!recorded)
        return g;
    if (cm_kuuid_is_zero(g->tenant))
        g->tenant = *tenant; /* stored before owners were: the same group */
    else if (!bk_group__same_tenant(&g->tenant, tenant))
        g = bk_group__link(gc, id, tenant); /* another tenant's group of the same name */
    return g;
}

int bk_gcoord_reown(bk_gcoord_t *gc, void (*gone)(void *ud, const char *group_id), void *ud,
                    int *adopted)
{
    size_t it = 0, n = 0, cap = 0;
    bk_group_t *g, **out = NULL;
    int took = 0;
    /* Collected first: the map must not change while it is walked. */
    while ((g = cm_strmap_next(&gc->groups, &it, NULL, NULL)) != NULL) {
        cm_kuuid_t now;
        bk_gowner_t owner = bk_group__owner(gc, g->id, &now);
        if (owner == BK_GOWNER_UNCHECKED)
            continue;
        if (owner == BK_GOWNER_TENANT && cm_kuuid_is_zero(g->tenant)) {
            g->tenant = now;
            took++;
            continue;
        }
        if (owner == BK_GOWNER_TENANT && bk_group__same_tenant(&g->tenant, &now))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            out = realloc(out, cap * sizeof(*out));
            if (out == NULL)
                abort();
        }
        out[n++] = g;
    }
    for (size_t i = 0; i < n; i++) {
        if (gone != NULL)
            gone(ud, out[i]->id);
        bk_group__remove(gc, out[i], CM_KERR_UNKNOWN_MEMBER_ID);
    }
    free(out);
    if (adopted != NULL)
        *adopted = took;
    return (int)n;
}

size_t bk_gcoord_size(const bk_gcoord_t *gc)
{
    return gc->groups.size;
}
