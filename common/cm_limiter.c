#include "cm_limiter.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cm_bucket.h"
#include "cm_secret.h"

#define CM_LIMITER__WAYS 8

typedef struct cm_limiter__slot {
    cm_bucket_t bucket;
    uint8_t len; /* 0: free */
    uint8_t key[CM_LIMITER_KEY_MAX];
} cm_limiter__slot_t;

struct cm_limiter {
    pthread_mutex_t mu;
    cm_limiter__slot_t *slots;
    size_t n_sets; /* a power of two */
    size_t used;
    double rate, burst;
    uint64_t seed; /* random: nobody can aim keys at one set */
};

cm_limiter_t *cm_limiter_new(size_t slots, double rate, double burst)
{
    cm_limiter_t *l = calloc(1, sizeof(*l));
    size_t sets = 1;
    while (sets * CM_LIMITER__WAYS < slots)
        sets <<= 1;
    if (l == NULL || (l->slots = calloc(sets * CM_LIMITER__WAYS, sizeof(*l->slots))) == NULL)
        abort();
    pthread_mutex_init(&l->mu, NULL);
    l->n_sets = sets;
    l->rate = rate;
    l->burst = burst;
    cm_secret_random(&l->seed, sizeof(l->seed));
    return l;
}

void cm_limiter_free(cm_limiter_t *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l->slots);
    free(l);
}

/* FNV-1a from a random basis, then a finalizer so the low bits (the set) mix well. */
static size_t cm_limiter__set(const cm_limiter_t *l, const uint8_t *k, size_t n)
{
    uint64_t h = 14695981039346656037ull ^ l->seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (size_t)h & (l->n_sets - 1);
}

/* Tokens the bucket would hold at `now_us`, without changing it. */
static double cm_limiter__level(const cm_bucket_t *b, int64_t now_us)
{
    double t = b->tokens;
    if (now_us > b->last_us)
        t += (double)(now_us - b->last_us) * b->rate / 1e6;
    return t < b->burst ? t : b->burst;
}

/* The slot of `key`, or NULL; with `make`, a slot for it (a new one, full), in place of the
 * way holding the fullest bucket when its set has no free way. Under the mutex. */
static cm_limiter__slot_t *cm_limiter__find(cm_limiter_t *l, const void *key, size_t n,
                                            int64_t now_us, bool make)
{
    if (n > CM_LIMITER_KEY_MAX)
        n = CM_LIMITER_KEY_MAX;
    cm_limiter__slot_t *set = &l->slots[cm_limiter__set(l, key, n) * CM_LIMITER__WAYS];
    cm_limiter__slot_t *free_way = NULL, *fullest = NULL;
    double most = -1e300;
    for (int i = 0; i < CM_LIMITER__WAYS; i++) {
        cm_limiter__slot_t *s = &set[i];
        if (s->len == 0) {
            if (free_way == NULL)
                free_way = s;
            continue;
        }
        if (s->len == n && memcmp(s->key, key, n) == 0)
            return s;
        double level = cm_limiter__level(&s->bucket, now_us);
        if (level > most) {
            most = level;
            fullest = s;
        }
    }
    if (!make)
        return NULL;
    cm_limiter__slot_t *s = free_way != NULL ? free_way : fullest;
    if (s == free_way)
        l->used++;
    s->len = (uint8_t)n;
    memcpy(s->key, key, n);
    cm_bucket_init(&s->bucket, l->rate, l->burst, now_us);
    return s;
}

int64_t cm_limiter_wait(cm_limiter_t *l, const void *key, size_t n, int64_t now_us)
{
    pthread_mutex_lock(&l->mu);
    cm_limiter__slot_t *s = cm_limiter__find(l, key, n, now_us, false);
    int64_t wait = 0;
    if (s != NULL) {
        wait = cm_bucket_take(&s->bucket, 1, now_us);
        if (wait == 0)
            s->bucket.tokens += 1; /* only looking: give it back */
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

void cm_limiter_charge(cm_limiter_t *l, const void *key, size_t n, int64_t now_us)
{
    pthread_mutex_lock(&l->mu);
    cm_limiter__slot_t *s = cm_limiter__find(l, key, n, now_us, true);
    /* Take it even when empty: a key that keeps failing stays limited. */
    if (cm_bucket_take(&s->bucket, 1, now_us) != 0)
        s->bucket.tokens -= 1;
    pthread_mutex_unlock(&l->mu);
}

size_t cm_limiter_addr_key(const char *addr, uint8_t *out, size_t cap)
{
    uint8_t a[16];
    out[0] = 'A';
    if (inet_pton(AF_INET, addr, a) == 1) {
        memcpy(out + 1, a, 4);
        return 5;
    }
    if (inet_pton(AF_INET6, addr, a) == 1) {
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            memcpy(out + 1, a + 12, 4);
            return 5;
        }
        memcpy(out + 1, a, 8);
        return 9;
    }
    size_t n = strnlen(addr, cap - 1);
    memcpy(out + 1, addr, n);
    return n + 1;
}

size_t cm_limiter_size(cm_limiter_t *l)
{
    pthread_mutex_lock(&l->mu);
    size_t n = l->used;
    pthread_mutex_unlock(&l->mu);
    return n;
}

size_t cm_limiter_capacity(const cm_limiter_t *l)
{
    return l->n_sets * CM_LIMITER__WAYS;
}
