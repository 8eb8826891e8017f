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
};

struct bk_gcoord {
    bk_gcoord_cfg_t cfg;
    bk_gops_t ops;
    cm_strmap_t groups; /* id -> bk_group_t */
};

void *bk_group__alloc(size_t n);
char *bk_group__strdup(const char *s);
/* Replaces a string field with a copy of `s` (NULL: none). */
void bk_group__set(char **field, const char *s);
bool bk_group__blank(const char *s);
bk_gmember_view_t bk_group__view(const bk_group_t *g, const bk_gmember_t *m);
bk_group_t *bk_group__get(const bk_gcoord_t *gc, const char *id);
bk_group_t *bk_group__create(bk_gcoord_t *gc, const char *id);
/* Answers the group's waiters with `err` and frees it (the caller unlinks it first). */
void bk_group__free(bk_gcoord_t *gc, bk_group_t *g, int16_t err);
void bk_group__free_offsets(bk_group_t *g);

#endif
