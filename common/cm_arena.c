#include "cm_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CM_ARENA__CHUNK_MIN 4096

struct cm_arena_chunk {
    cm_arena_chunk_t *next;
    size_t cap; /* usable bytes in data[] */
    size_t off; /* bytes used in data[] */
    _Alignas(16) unsigned char data[];
};

void cm_arena_init(cm_arena_t *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->limit = limit;
}

void *cm_arena_alloc(cm_arena_t *a, size_t size)
{
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size || need > a->limit - a->used || a->used > a->limit)
        return NULL;
    cm_arena_chunk_t *c = a->head;
    if (c == NULL || c->cap - c->off < need) {
        /* Chunks double with use so a big request costs few mallocs. */
        size_t cap = CM_ARENA__CHUNK_MIN;
        if (c != NULL && c->cap * 2 > cap)
            cap = c->cap * 2;
        if (cap < need)
            cap = need;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            abort();
        c->cap = cap;
        c->off = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->off;
    c->off += need;
    a->used += need;
    memset(p, 0, size);
    return p;
}

void *cm_arena_calloc(cm_arena_t *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    return cm_arena_alloc(a, n * size);
}

char *cm_arena_strndup(cm_arena_t *a, const char *s, size_t len)
{
    char *p = cm_arena_alloc(a, len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void cm_arena_reset(cm_arena_t *a)
{
    cm_arena_chunk_t *c = a->head;
    if (c == NULL)
        return;
    /* Keep the oldest chunk (the last in the list) only if it is the first size class, so a
     * single huge request does not pin its memory forever. */
    while (c->next != NULL) {
        cm_arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    if (c->cap > CM_ARENA__CHUNK_MIN * 16) {
        free(c);
        c = NULL;
    } else {
        c->off = 0;
    }
    a->head = c;
    a->used = 0;
}

void cm_arena_free(cm_arena_t *a)
{
    cm_arena_chunk_t *c = a->head;
    while (c != NULL) {
        cm_arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->used = 0;
}
