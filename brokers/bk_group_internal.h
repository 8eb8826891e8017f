/*
 * Private to the group coordinator (bk_group.c: membership and rebalances;
 * bk_group_offsets.c: committed offsets, deletion and reading groups).
 */
#ifndef BK_GROUP_INTERNAL_H
#define BK_GROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_group.h"
#include "cm_strmap.h"

typedef struct bk_gproto_own {
    char *name;
    uint8_t *meta;
    size_t meta_len;
} bk_gproto_own_t;

typedef struct bk_gmember {
    char *id;
    char *instance_id; /* NULL: dynamic */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    bk_gproto_own_t *protos;
    int n_protos;
    uint8_t *assignment;
    size_t assignment_len;
    int64_t expires_ms; /* the session's end, unless waiting for an answer */
    void *join_waiter;
    void *sync_waiter;
} bk_gmember_t;

/* A member id handed out with MEMBER_ID_REQUIRED, not joined yet. */
typedef struct bk_gpending {
    char *id;
    int64_t expires_ms;
} bk_gpending_t;

typedef struct bk_goffset {
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ms; /* wall clock */
} bk_goffset_t;

struct bk_group {
    char *id;
    bk_gstate_t state;
    int32_t generation;
    char *protocol_type; /* NULL while the group has no members */
    char *protocol;      /* chosen when the join phase ends */
    char *leader;        /* a member id */
    bk_gmember_t **members;
    int n_members;
    bk_gpending_t *pending;
    int n_pending;
    int64_t join_deadline_ms; /* PreparingRebalance: the phase ends by then */
    int64_t initial_until_ms; /* PreparingRebalance from Empty: not before then */
    cm_strmap_t offsets;      /* topic '\0' partition (4 bytes) -> bk_goffset_t */
    cm_kuuid_t tenant;        /* the owner when it was made; zero: not recorded */
    int64_t empty_since_ms;   /* wall clock: when it last became Empty; -1: not known */
};

struct bk_gcoord {
    bk_gcoord_cfg_t cfg;
    bk_gops_t ops;
    cm_strmap_t groups;     /* id -> bk_group_t, whatever its owner */
    cm_strmap_t per_tenant; /* name prefix ("acme" of "acme.g") -> its groups (uintptr_t) */
    size_t expire_it;       /* where the expiry sweep goes on (a cm_strmap_next iterator) */
};

void *bk_group__alloc(size_t n);
char *bk_group__strdup(const char *s);
/* Replaces a string field with a copy of `s` (NULL: none). */
void bk_group__set(char **field, const char *s);
bool bk_group__blank(const char *s);
bk_gmember_view_t bk_group__view(const bk_group_t *g, const bk_gmember_t *m);
int64_t bk_group__wall(const bk_gcoord_t *gc);
/* Who owns the name `id` now (bk_gops_t.owner). */
bk_gowner_t bk_group__owner(const bk_gcoord_t *gc, const char *id, cm_kuuid_t *tenant);
/* True when the name's owner now is the group's recorded owner (or ownership is unchecked,
 * or the group recorded none). */
bool bk_group__owned(const bk_gcoord_t *gc, const bk_group_t *g);
/* The group named `id` whatever its owner, or NULL. */
bk_group_t *bk_group__raw(const bk_gcoord_t *gc, const char *id);
/* The group named `id` if its name's owner owns it, else NULL: what every call sees. */
bk_group_t *bk_group__get(const bk_gcoord_t *gc, const char *id);
/* NONE when a group named `id` (absent now) may be made: INVALID_GROUP_ID when no tenant
 * owns the name, GROUP_AUTHORIZATION_FAILED at groups_max or groups_per_tenant_max. */
int16_t bk_group__may_create(bk_gcoord_t *gc, const char *id);
/* Makes an Empty group owned by the name's owner now, replacing a group of that name that a
 * former owner left. */
bk_group_t *bk_group__create(bk_gcoord_t *gc, const char *id);
/* Unlinks the group and frees it, its waiters answered with `err`. */
void bk_group__remove(bk_gcoord_t *gc, bk_group_t *g, int16_t err);
/* Answers the group's waiters with `err` and frees it (the caller unlinks it first). */
void bk_group__free(bk_gcoord_t *gc, bk_group_t *g, int16_t err);
void bk_group__free_offsets(bk_group_t *g);
/* For a record replayed or stored with owner `tenant` (NULL or zero: none recorded): the
 * group to put it in, made if needed; a group of another recorded owner is replaced, one
 * with none takes `tenant`. */
bk_group_t *bk_group__for_record(bk_gcoord_t *gc, const char *id, const cm_kuuid_t *tenant);

#endif
