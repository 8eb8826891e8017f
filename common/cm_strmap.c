#include "cm_strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cm_strmap_entry {
    cm_strmap_entry_t *next;
    void *value;
    uint64_t hash;
    size_t len;
    char key[];
};

static uint64_t cm_strmap__hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

void cm_strmap_init(cm_strmap_t *m)
{
    m->n_buckets = 16;
    m->size = 0;
    m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
    if (m->buckets == NULL)
        abort();
}

void cm_strmap_free(cm_strmap_t *m)
{
    for (size_t i = 0; i < m->n_buckets; i++) {
        cm_strmap_entry_t *e = m->buckets[i];
        while (e != NULL) {
            cm_strmap_entry_t *n = e->next;
            free(e);
            e = n;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->n_buckets = m->size = 0;
}

static cm_strmap_entry_t **cm_strmap__slot(const cm_strmap_t *m, const char *key, size_t len,
                                           uint64_t h)
{
    cm_strmap_entry_t **p = &m->buckets[h & (m->n_buckets - 1)];
    while (*p != NULL && !((*p)->hash == h && (*p)->len == len && memcmp((*p)->key, key, len) == 0))
        p = &(*p)->next;
    return p;
}

void *cm_strmap_get(const cm_strmap_t *m, const char *key, size_t len)
{
    cm_strmap_entry_t *e = *cm_strmap__slot(m, key, len, cm_strmap__hash(key, len));
    return e ? e->value : NULL;
}

static void cm_strmap__grow(cm_strmap_t *m)
{
    size_t n = m->n_buckets * 2;
    cm_strmap_entry_t **b = calloc(n, sizeof(*b));
    if (b == NULL)
        abort();
    for (size_t i = 0; i < m->n_buckets; i++) {
        cm_strmap_entry_t *e = m->buckets[i];
        while (e != NULL) {
            cm_strmap_entry_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = n;
}

void *cm_strmap_put(cm_strmap_t *m, const char *key, size_t len, void *value)
{
    uint64_t h = cm_strmap__hash(key, len);
    cm_strmap_entry_t **slot = cm_strmap__slot(m, key, len, h);
    if (*slot != NULL) {
        void *old = (*slot)->value;
        (*slot)->value = value;
        return old;
    }
    cm_strmap_entry_t *e = malloc(sizeof(*e) + len + 1);
    if (e == NULL)
        abort();
    e->next = NULL;
    e->value = value;
    e->hash = h;
    e->len = len;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    *slot = e;
    if (++m->size > m->n_buckets)
        cm_strmap__grow(m);
    return NULL;
}

void *cm_strmap_del(cm_strmap_t *m, const char *key, size_t len)
{
    cm_strmap_entry_t **slot = cm_strmap__slot(m, key, len, cm_strmap__hash(key, len));
    cm_strmap_entry_t *e = *slot;
    if (e == NULL)
        return NULL;
    *slot = e->next;
    void *v = e->value;
    free(e);
    m->size--;
    return v;
}

void *cm_strmap_next(const cm_strmap_t *m, size_t *it, const char **key, size_t *len)
{
    /* The iterator packs the bucket index and the position within its chain. */
    size_t b = *it >> 16, pos = *it & 0xffff;
    for (; b < m->n_buckets; b++, pos = 0) {
        cm_strmap_entry_t *e = m->buckets[b];
        for (size_t i = 0; e != NULL && i < pos; i++)
            e = e->next;
        if (e != NULL) {
            *it = (b << 16) | (pos + 1);
            if (key)
                *key = e->key;
            if (len)
                *len = e->len;
            return e->value;
        }
    }
    *it = b << 16;
    return NULL;
}
