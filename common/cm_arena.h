/*
 * A bump allocator for request-scoped memory, with a hard byte limit.
 *
 * Everything decoded from one Kafka request (arrays, nested structs) lives in one arena
 * and is released at once by cm_arena_reset() or cm_arena_free(). The limit bounds what a
 * single request can make the process allocate; cm_arena_alloc() returns NULL past it,
 * which decoders report as a malformed request.
 *
 * Not thread-safe: one arena belongs to one thread at a time.
 */
#ifndef CM_ARENA_H
#define CM_ARENA_H

#include <stddef.h>

typedef struct cm_arena_chunk cm_arena_chunk_t;

typedef struct cm_arena {
    cm_arena_chunk_t *head; /* newest chunk first */
    size_t used;            /* bytes handed out since the last reset */
    size_t limit;           /* cm_arena_alloc fails beyond this many bytes */
} cm_arena_t;

/** Initialises an empty arena that will hand out at most `limit` bytes. */
void cm_arena_init(cm_arena_t *a, size_t limit);

/**
 * Returns `size` bytes aligned to 16, zeroed, valid until the next reset or free.
 * Returns NULL when the limit would be exceeded.
 */
void *cm_arena_alloc(cm_arena_t *a, size_t size);

/** Like cm_arena_alloc for `n` elements of `size` bytes, with overflow checking. */
void *cm_arena_calloc(cm_arena_t *a, size_t n, size_t size);

/** Copies `len` bytes into the arena and NUL-terminates them. NULL past the limit. */
char *cm_arena_strndup(cm_arena_t *a, const char *s, size_t len);

/** Releases everything but the first chunk, which is kept for reuse. */
void cm_arena_reset(cm_arena_t *a);

/** Releases all memory. The arena may be initialised again. */
void cm_arena_free(cm_arena_t *a);

#endif
