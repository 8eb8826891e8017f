/*
 * A map from byte-string keys to pointers (chained hashing, FNV-1a, doubling at load 1).
 * Keys are copied; values are borrowed. Not thread-safe.
 */
#ifndef CM_STRMAP_H
#define CM_STRMAP_H

#include <stddef.h>

typedef struct cm_strmap_entry cm_strmap_entry_t;

typedef struct cm_strmap {
    cm_strmap_entry_t **buckets;
    size_t n_buckets; /* a power of two */
    size_t size;
} cm_strmap_t;

void cm_strmap_init(cm_strmap_t *m);
/** Frees the map's own memory (not the values). */
void cm_strmap_free(cm_strmap_t *m);
/** The value for `key`, or NULL. */
void *cm_strmap_get(const cm_strmap_t *m, const char *key, size_t len);
/** Inserts or replaces; returns the previous value or NULL. */
void *cm_strmap_put(cm_strmap_t *m, const char *key, size_t len, void *value);
/** Removes `key`; returns its value or NULL. */
void *cm_strmap_del(cm_strmap_t *m, const char *key, size_t len);

/** Iteration: `*it` starts at 0; returns each value once (NULL at the end), with its key. */
void *cm_strmap_next(const cm_strmap_t *m, size_t *it, const char **key, size_t *len);

#endif
