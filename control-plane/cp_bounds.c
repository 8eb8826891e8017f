#include "cp_bounds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_arena.h"
#include "cm_tconfig.h"

/* The built-in bounds; an end of INT64_MIN or INT64_MAX is the key's own limit. */
typedef struct cp_bounds__default {
    const char *key;
    int64_t min, max;
} cp_bounds__default_t;

static const cp_bounds__default_t cp_bounds__defaults[] = {
    { "segment.bytes", 50ll << 20, 1ll << 30 },    /* 50 MiB .. 1 GiB */
    { "segment.ms", 600000, INT64_MAX },           /* 10 minutes and more */
    { "max.message.bytes", INT64_MIN, 8ll << 20 }, /* 8 MiB */
};

/* The numeric topic config named `key`, or NULL. */
static const cm_tconfig_key_t *cp_bounds__key(const char *key)
{
    const cm_tconfig_key_t *k = cm_tconfig_key(cm_kstr_c(key));
    return k != NULL && k->offset >= 0 ? k : NULL;
}

static bool cp_bounds__forever(const cm_tconfig_key_t *k)
{
    return strncmp(k->name, "retention.", 10) == 0;
}

/* The effective [min, max] of `k` in a pool with overrides `pool` (parsed, or NULL). */
static void cp_bounds__range(const cm_tconfig_key_t *k, const cm_json_t *pool, int64_t *min,
                             int64_t *max)
{
    *min = k->min;
    *max = k->max;
    for (size_t i = 0; i < sizeof(cp_bounds__defaults) / sizeof(*cp_bounds__defaults); i++) {
        const cp_bounds__default_t *d = &cp_bounds__defaults[i];
        if (strcmp(d->key, k->name) != 0)
            continue;
        if (d->min != INT64_MIN)
            *min = d->min;
        if (d->max != INT64_MAX)
            *max = d->max;
    }
    const cm_json_t *o = pool != NULL ? cm_json_get(pool, k->name) : NULL;
    int64_t v;
    if (o != NULL && cm_json_get_int(o, "min", &v))
        *min = v;
    if (o != NULL && cm_json_get_int(o, "max", &v))
        *max = v;
}

/* Parses `pool_json` into `a`; NULL when empty or unreadable (the defaults then apply). */
static const cm_json_t *cp_bounds__parse(cm_arena_t *a, const char *pool_json)
{
    cm_json_t *doc = NULL;
    char err[64];
    if (pool_json == NULL || pool_json[0] == '\0' ||
        cm_json_parse(a, pool_json, strlen(pool_json), 4, &doc, err, sizeof(err)) != 0 ||
        doc->type != CM_JSON_OBJECT)
        return NULL;
    return doc;
}

/* `v` ordered for comparisons: -1 of a retention key is larger than any number. */
static int64_t cp_bounds__rank(const cm_tconfig_key_t *k, int64_t v)
{
    return v == -1 && cp_bounds__forever(k) ? INT64_MAX : v;
}

/* The lower end for comparisons: a retention key's own minimum, -1, is no lower end. */
static int64_t cp_bounds__low(const cm_tconfig_key_t *k, int64_t min)
{
    return min == -1 && cp_bounds__forever(k) ? INT64_MIN : min;
}

bool cp_bounds_check(const char *pool_json, const char *key, const char *value, char *why,
                     size_t cap)
{
    const cm_tconfig_key_t *k = cp_bounds__key(key);
    if (k == NULL)
        return true;
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0') {
        snprintf(why, cap, "%s must be an integer", k->name);
        return false;
    }
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    int64_t min, max;
    cp_bounds__range(k, cp_bounds__parse(&a, pool_json), &min, &max);
    cm_arena_free(&a);
    int64_t r = cp_bounds__rank(k, v);
    if (r >= cp_bounds__low(k, min) && r <= cp_bounds__rank(k, max))
        return true;
    if (max == INT64_MAX || (max == -1 && cp_bounds__forever(k)))
        snprintf(why, cap, "%s must be at least %" PRId64 " on this service", k->name, min);
    else
        snprintf(why, cap, "%s must be from %" PRId64 " to %" PRId64 " on this service", k->name,
                 min, max);
    return false;
}

bool cp_bounds_valid(const cm_json_t *o, char *why, size_t cap)
{
    if (o == NULL || o->type != CM_JSON_OBJECT) {
        snprintf(why, cap, "topic_config_bounds must be an object of config: {min, max}");
        return false;
    }
    for (const cm_json_t *m = o->child; m != NULL; m = m->next) {
        const cm_tconfig_key_t *k = cp_bounds__key(m->key);
        if (k == NULL) {
            snprintf(why, cap, "\"%.64s\" is not a numeric topic config", m->key);
            return false;
        }
        if (m->type == CM_JSON_NULL)
            continue;
        if (m->type != CM_JSON_OBJECT) {
            snprintf(why, cap, "bounds of %s must be {\"min\": N, \"max\": N}", k->name);
            return false;
        }
        for (const cm_json_t *e = m->child; e != NULL; e = e->next) {
            bool is_end = strcmp(e->key, "min") == 0 || strcmp(e->key, "max") == 0;
            if (!is_end || e->type != CM_JSON_NUMBER || !e->is_int || e->i < k->min ||
                e->i > k->max) {
                snprintf(why, cap,
                         "bounds of %s: only \"min\" and \"max\", integers from %" PRId64
                         " to %" PRId64,
                         k->name, k->min, k->max);
                return false;
            }
        }
        int64_t min, max;
        cp_bounds__range(k, o, &min, &max);
        if (cp_bounds__low(k, min) > cp_bounds__rank(k, max)) {
            snprintf(why, cap, "bounds of %s: min %" PRId64 " is above max %" PRId64, k->name, min,
                     max);
            return false;
        }
    }
    return true;
}

void cp_bounds_write(cm_jw_t *w, const char *pool_json)
{
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    const cm_json_t *pool = cp_bounds__parse(&a, pool_json);
    cm_jw_obj(w);
    for (size_t i = 0; i < cm_tconfig_keys_n; i++) {
        const cm_tconfig_key_t *k = &cm_tconfig_keys[i];
        if (k->offset < 0)
            continue;
        int64_t min, max;
        cp_bounds__range(k, pool, &min, &max);
        cm_jw_key(w, k->name);
        cm_jw_obj(w);
        cm_jw_key(w, "min");
        cm_jw_int(w, min);
        cm_jw_key(w, "max");
        cm_jw_int(w, max);
        cm_jw_obj_end(w);
    }
    cm_jw_obj_end(w);
    cm_arena_free(&a);
}
