#include "bk_topic.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_flusher.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kproto.h"
#include "cm_log.h"
#include "cm_sbuf.h"
#include "cm_time.h"

#define BK_TOPIC__NAME_MAX 249
#define BK_TOPIC__PROPS    "topic.properties"

bool bk_topic_name_valid(cm_kstr_t name, char *msg, size_t cap)
{
    if (name.len <= 0) {
        snprintf(msg, cap, "topic name is empty");
        return false;
    }
    if (name.len > BK_TOPIC__NAME_MAX) {
        snprintf(msg, cap, "topic name is longer than %d characters", BK_TOPIC__NAME_MAX);
        return false;
    }
    if ((name.len == 1 && name.ptr[0] == '.') ||
        (name.len == 2 && name.ptr[0] == '.' && name.ptr[1] == '.')) {
        snprintf(msg, cap, "topic name cannot be '.' or '..'");
        return false;
    }
    for (int32_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            snprintf(msg, cap,
                     "topic name may only contain ASCII letters, digits, '.', '_' and '-'");
            return false;
        }
    }
    return true;
}

void bk_uuid_hex(cm_kuuid_t id, char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id.b[i]);
}

static bool bk_uuid_parse(const char *s, cm_kuuid_t *id)
{
    if (strlen(s) != 32)
        return false;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        id->b[i] = (uint8_t)v;
    }
    return true;
}

bk_topic_t *bk_topic_find(bk_broker_t *b, cm_kstr_t name)
{
    if (name.len <= 0)
        return NULL;
    return cm_strmap_get(&b->topics, name.ptr, (size_t)name.len);
}

bk_topic_t *bk_topic_find_id(bk_broker_t *b, cm_kuuid_t id)
{
    return cm_strmap_get(&b->topics_by_id, (const char *)id.b, sizeof(id.b));
}

/* How many of a topic's partitions this broker holds. */
static int32_t bk_topic__held(const bk_topic_t *t)
{
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_parts; i++)
        n += t->parts[i] != NULL;
    return n;
}

/* How many of the first n partitions `hosted` marks (NULL: all). */
static int32_t bk_topic__marked(const bool *hosted, int32_t from, int32_t n)
{
    int32_t k = 0;
    for (int32_t i = from; i < n; i++)
        k += hosted == NULL || hosted[i];
    return k;
}

/* Enters a topic in both registries. */
static void bk_topic__register(bk_broker_t *b, bk_topic_t *t)
{
    cm_strmap_put(&b->topics, t->name, strlen(t->name), t);
    cm_strmap_put(&b->topics_by_id, (const char *)t->id.b, sizeof(t->id.b), t);
    b->n_partitions += bk_topic__held(t);
}

bk_partition_t *bk_topic_partition(bk_topic_t *t, int32_t id)
{
    return id >= 0 && id < t->n_parts ? t->parts[id] : NULL;
}

static bk_topic_t *bk_topic__new(bk_broker_t *b, const char *name, size_t len)
{
    bk_topic_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    t->name = strndup(name, len);
    if (asprintf(&t->dir, "%s/%s", b->topics_dir, t->name) < 0)
        abort();
    return t;
}

static void bk_topic__free(bk_topic_t *t)
{
    for (int32_t i = 0; t->parts != NULL && i < t->n_parts; i++)
        if (t->parts[i] != NULL) {
            bk_partition_close(t->parts[i]);
            bk_partition_unref(t->parts[i]);
        }
    free(t->parts);
    free(t->name);
    free(t->dir);
    free(t);
}

static void bk_topic__props(const bk_topic_t *t, cm_sbuf_t *out)
{
    char hex[33], v[64];
    bk_uuid_hex(t->id, hex);
    cm_sbuf_printf(out, "# streamd topic metadata; written atomically by the broker\n");
    cm_sbuf_printf(out, "id=%s\npartitions=%d\n", hex, t->n_parts);
    if (bk_topic__held(t) < t->n_parts) {
        cm_sbuf_printf(out, "hosted=");
        for (int32_t i = 0, k = 0; i < t->n_parts; i++)
            if (t->parts[i] != NULL)
                cm_sbuf_printf(out, "%s%d", k++ ? "," : "", i);
        cm_sbuf_printf(out, "\n");
    }
    for (size_t i = 0; i < cm_tconfig_keys_n; i++) {
        if (!cm_tconfig_is_set(&t->cfg, &cm_tconfig_keys[i]))
            continue;
        cm_tconfig_value(&t->cfg, &cm_tconfig_keys[i], v, sizeof(v));
        cm_sbuf_printf(out, "config.%s=%s\n", cm_tconfig_keys[i].name, v);
    }
}

int16_t bk_topic_save(bk_broker_t *b, bk_topic_t *t)
{
    char path[4096];
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    bk_topic__props(t, &s);
    snprintf(path, sizeof(path), "%s/%s", t->dir, BK_TOPIC__PROPS);
    int rc = cm_fs_write_atomic(path, s.buf, s.len);
    cm_sbuf_free(&s);
    if (rc != CM_OK) {
        cm_log_error("cannot write topic metadata", "topic=%s errno=%s", t->name, strerror(errno));
        return CM_KERR_KAFKA_STORAGE_ERROR;
    }
    (void)b;
    return 0;
}

/* Opens (or creates) the partitions `hosted` marks (NULL: all); the others stay NULL. */
static int bk_topic__open_parts(bk_broker_t *b, bk_topic_t *t, bool create, const bool *hosted)
{
    t->parts = calloc((size_t)t->n_parts, sizeof(*t->parts));
    if (t->parts == NULL)
        abort();
    for (int32_t i = 0; i < t->n_parts; i++) {
        if (hosted != NULL && !hosted[i])
            continue;
        char dir[4096], label[512];
        snprintf(dir, sizeof(dir), "%s/%d", t->dir, i);
        snprintf(label, sizeof(label), "%s/%d", t->name, i);
        int rc = create ? bk_partition_create(b, &t->cfg, i, dir, label, &t->parts[i])
                        : bk_partition_open(b, &t->cfg, i, dir, label, &t->parts[i]);
        if (rc != CM_OK)
            return rc;
    }
    return CM_OK;
}

/* Reads a "hosted=0,2,5" list into a mask of n entries; false when malformed. */
static bool bk_topic__parse_hosted(const char *v, int32_t n, bool *mask)
{
    for (const char *p = v; *p != '\0';) {
        char *end;
        long i = strtol(p, &end, 10);
        if (end == p || i < 0 || i >= n || (*end != ',' && *end != '\0'))
            return false;
        mask[i] = true;
        p = *end == ',' ? end + 1 : end;
    }
    return true;
}

/*
 * Parses topic.properties into `t` and *hosted (NULL: every partition; else malloc'd);
 * returns false with a reason when it is unusable.
 */
static bool bk_topic__parse(bk_broker_t *b, bk_topic_t *t, char *text, bool **hosted,
                            const char **why)
{
    bool have_id = false;
    const char *hosted_list = NULL;
    *hosted = NULL;
    t->n_parts = 0;
    cm_tconfig_init(&t->cfg, &b->cfg.topic_defaults);
    for (char *line = text, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            *why = "a line is not key=value";
            return false;
        }
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        if (strcmp(k, "id") == 0) {
            have_id = bk_uuid_parse(v, &t->id);
        } else if (strcmp(k, "partitions") == 0) {
            long n = strtol(v, NULL, 10);
            t->n_parts = n > 0 && n <= b->cfg.partitions_max ? (int32_t)n : 0;
        } else if (strcmp(k, "hosted") == 0) {
            hosted_list = v;
        } else if (strncmp(k, "config.", 7) == 0) {
            const cm_tconfig_key_t *key = cm_tconfig_key(cm_kstr_c(k + 7));
            char msg[256];
            if (key == NULL || cm_tconfig_set(&t->cfg, key, cm_kstr_c(v), msg, sizeof(msg)) != 0)
                cm_log_warn("ignoring an invalid stored topic config", "topic=%s key=%s", t->name,
                            k + 7);
        }
    }
    if (!have_id)
        *why = "missing or malformed id";
    else if (t->n_parts == 0)
        *why = "missing or out-of-range partition count";
    if (!have_id || t->n_parts == 0)
        return false;
    if (hosted_list != NULL) {
        *hosted = calloc((size_t)t->n_parts, sizeof(bool));
        if (*hosted == NULL)
            abort();
        if (!bk_topic__parse_hosted(hosted_list, t->n_parts, *hosted)) {
            *why = "malformed list of hosted partitions";
            free(*hosted);
            *hosted = NULL;
            return false;
        }
    }
    return true;
}

static int bk_topic__load_one(bk_broker_t *b, const char *name)
{
    char path[4096], *text;
    size_t len;
    bk_topic_t *t = bk_topic__new(b, name, strlen(name));
    snprintf(path, sizeof(path), "%s/%s", t->dir, BK_TOPIC__PROPS);
    int rc = cm_fs_read_file(path, 1 << 20, &text, &len);
    if (rc == CM_ENOENT) {
        cm_log_warn("removing an interrupted topic creation", "topic=%s", name);
        cm_fs_remove_tree(t->dir);
        bk_topic__free(t);
        return CM_OK;
    }
    const char *why = "unreadable";
    bool *hosted = NULL;
    if (rc != CM_OK || !bk_topic__parse(b, t, text, &hosted, &why)) {
        if (rc == CM_OK)
            free(text);
        cm_log_error("topic metadata is invalid; the topic is not served", "topic=%s why=\"%s\"",
                     name, why);
        bk_topic__free(t);
        return CM_OK;
    }
    free(text);
    rc = bk_topic__open_parts(b, t, false, hosted);
    free(hosted);
    if (rc != CM_OK) {
        cm_log_error("cannot open topic", "topic=%s", name);
        bk_topic__free(t);
        return CM_EIO;
    }
    bk_topic__register(b, t);
    cm_log_info("topic loaded", "topic=%s partitions=%d held=%d", t->name, t->n_parts,
                bk_topic__held(t));
    return CM_OK;
}

int bk_topics_load(bk_broker_t *b)
{
    if (cm_fs_mkdirs(b->topics_dir) != CM_OK || cm_fs_mkdirs(b->deleted_dir) != CM_OK) {
        cm_log_error("cannot create data directories", "dir=%s errno=%s", b->topics_dir,
                     strerror(errno));
        return CM_EIO;
    }
    /* Anything left in deleted/ was on its way out when the broker stopped. */
    cm_fs_remove_tree(b->deleted_dir);
    cm_fs_mkdirs(b->deleted_dir);
    DIR *d = opendir(b->topics_dir);
    if (d == NULL)
        return CM_EIO;
    struct dirent *e;
    int rc = CM_OK;
    char msg[128];
    b->loading = true;
    b->load_unsynced = false;
    while ((e = readdir(d)) != NULL && rc == CM_OK) {
        if (e->d_name[0] == '.' || !bk_topic_name_valid(cm_kstr_c(e->d_name), msg, sizeof(msg)))
            continue;
        rc = bk_topic__load_one(b, e->d_name);
    }
    b->loading = false;
    /* What the partitions opened left to sync (bk_partition_open), before any is served. */
    if (rc == CM_OK && b->load_unsynced && syncfs(dirfd(d)) != 0) {
        cm_log_error("cannot sync the data directory after recovery", "dir=%s errno=%s",
                     b->topics_dir, strerror(errno));
        rc = CM_EIO;
    }
    closedir(d);
    return rc;
}

void bk_topics_close(bk_broker_t *b)
{
    size_t it = 0;
    bk_topic_t *t;
    while ((t = cm_strmap_next(&b->topics, &it, NULL, NULL)) != NULL)
        bk_topic__free(t);
    cm_strmap_free(&b->topics);
    cm_strmap_init(&b->topics);
    cm_strmap_free(&b->topics_by_id);
    cm_strmap_init(&b->topics_by_id);
}

/* Moves an unloadable topic's directory to <data_dir>/damaged/, or removes a directory
 * without topic.properties (an interrupted creation). */
static void bk_topic__set_aside(bk_broker_t *b, const bk_topic_t *t)
{
    char props[4096], dest[4608], dir[4096];
    struct stat st;
    snprintf(props, sizeof(props), "%s/%s", t->dir, BK_TOPIC__PROPS);
    if (stat(props, &st) != 0) {
        cm_fs_remove_tree(t->dir);
        return;
    }
    snprintf(dir, sizeof(dir), "%s/damaged", b->cfg.data_dir);
    snprintf(dest, sizeof(dest), "%s/%s-%" PRId64, dir, t->name, cm_now_ms());
    if (cm_fs_mkdirs(dir) != CM_OK || rename(t->dir, dest) != 0) {
        cm_log_error("cannot set a damaged topic aside; it is removed", "topic=%s errno=%s",
                     t->name, strerror(errno));
        cm_fs_remove_tree(t->dir);
        return;
    }
    cm_log_warn("a damaged topic directory was set aside", "topic=%s to=%s", t->name, dest);
}

int16_t bk_topic_create(bk_broker_t *b, cm_kstr_t name, const cm_kuuid_t *id, int32_t n_parts,
                        const bool *hosted, const cm_tconfig_t *cfg, bool validate_only, char *msg,
                        size_t cap, bk_topic_t **out)
{
    if (!bk_topic_name_valid(name, msg, cap))
        return CM_KERR_INVALID_TOPIC_EXCEPTION;
    if (bk_topic_find(b, name) != NULL) {
        snprintf(msg, cap, "topic '%.*s' already exists", name.len, name.ptr);
        return CM_KERR_TOPIC_ALREADY_EXISTS;
    }
    if (n_parts <= 0 || n_parts > b->cfg.partitions_max) {
        snprintf(msg, cap, "partition count must be between 1 and %" PRId64, b->cfg.partitions_max);
        return CM_KERR_INVALID_PARTITIONS;
    }
    if ((int64_t)b->topics.size >= b->cfg.topics_max) {
        snprintf(msg, cap, "this broker holds its maximum of %" PRId64 " topics",
                 b->cfg.topics_max);
        return CM_KERR_POLICY_VIOLATION;
    }
    int32_t held = bk_topic__marked(hosted, 0, n_parts);
    if (b->n_partitions + held > b->cfg.partitions_total_max) {
        snprintf(msg, cap, "this broker cannot hold %d more partitions (limit %" PRId64 ")", held,
                 b->cfg.partitions_total_max);
        return CM_KERR_POLICY_VIOLATION;
    }
    if (validate_only)
        return 0;

    bk_topic_t *t = bk_topic__new(b, name.ptr, (size_t)name.len);
    t->n_parts = n_parts;
    t->cfg = *cfg;
    if (id != NULL)
        t->id = *id;
    else if (getrandom(t->id.b, sizeof(t->id.b), 0) != (ssize_t)sizeof(t->id.b))
        abort();
    /* A leftover directory goes first: an interrupted creation is removed; a topic that
     * could not be loaded (its metadata is damaged) is set aside, never deleted. */
    bk_topic__set_aside(b, t);
    if (cm_fs_mkdirs(t->dir) != CM_OK || bk_topic__open_parts(b, t, true, hosted) != CM_OK ||
        bk_topic_save(b, t) != 0 || cm_fs_sync_dir(b->topics_dir) != CM_OK) {
        snprintf(msg, cap, "the broker could not write the topic to disk");
        cm_fs_remove_tree(t->dir);
        bk_topic__free(t);
        return CM_KERR_KAFKA_STORAGE_ERROR;
    }
    bk_topic__register(b, t);
    cm_log_info("topic created", "topic=%s partitions=%d", t->name, n_parts);
    if (out)
        *out = t;
    return 0;
}

/*
 * Grows the count to n (when larger) and creates every partition `hosted` marks (NULL: all)
 * that is not open. The count and the list are stored last: a crash before leaves the topic
 * as it was, and the new directories are recreated from nothing next time.
 */
static int16_t bk_topic__place(bk_broker_t *b, bk_topic_t *t, int32_t n, const bool *hosted,
                               char *msg, size_t cap)
{
    int32_t old = t->n_parts, total = n > old ? n : old;
    if (total > old) {
        bk_partition_t **parts = realloc(t->parts, (size_t)total * sizeof(*parts));
        if (parts == NULL)
            abort();
        t->parts = parts;
        for (int32_t i = old; i < total; i++)
            parts[i] = NULL;
    }
    bool *made = calloc((size_t)total, sizeof(bool));
    if (made == NULL)
        abort();
    int rc = CM_OK;
    int32_t added = 0;
    for (int32_t i = 0; i < n && rc == CM_OK; i++) {
        if ((hosted != NULL && !hosted[i]) || t->parts[i] != NULL)
            continue;
        char dir[4096], label[512];
        snprintf(dir, sizeof(dir), "%s/%d", t->dir, i);
        snprintf(label, sizeof(label), "%s/%d", t->name, i);
        cm_fs_remove_tree(dir); /* left from an interrupted change, or an older placement */
        rc = bk_partition_create(b, &t->cfg, i, dir, label, &t->parts[i]);
        made[i] = rc == CM_OK;
        added += made[i];
    }
    t->n_parts = total;
    if (rc != CM_OK || bk_topic_save(b, t) != 0 || cm_fs_sync_dir(t->dir) != CM_OK) {
        for (int32_t i = 0; i < total; i++) {
            if (!made[i])
                continue;
            char dir[4096];
            snprintf(dir, sizeof(dir), "%s/%d", t->dir, i);
            bk_partition_close(t->parts[i]);
            bk_partition_unref(t->parts[i]);
            t->parts[i] = NULL;
            cm_fs_remove_tree(dir);
        }
        t->n_parts = old;
        bk_topic_save(b, t);
        free(made);
        snprintf(msg, cap, "the broker could not write the new partitions to disk");
        return CM_KERR_KAFKA_STORAGE_ERROR;
    }
    free(made);
    b->n_partitions += added;
    if (total > old || added > 0)
        cm_log_info("partitions added", "topic=%s from=%d to=%d opened=%d", t->name, old, total,
                    added);
    return 0;
}

int16_t bk_topic_grow(bk_broker_t *b, bk_topic_t *t, int32_t n, bool validate_only, char *msg,
                      size_t cap)
{
    int32_t old = t->n_parts;
    if (n <= old) {
        snprintf(msg, cap, "the topic has %d partitions; the new count must be larger", old);
        return CM_KERR_INVALID_PARTITIONS;
    }
    if (n > b->cfg.partitions_max) {
        snprintf(msg, cap, "partition count must be between 1 and %" PRId64, b->cfg.partitions_max);
        return CM_KERR_INVALID_PARTITIONS;
    }
    if (b->n_partitions + (n - old) > b->cfg.partitions_total_max) {
        snprintf(msg, cap, "this broker cannot hold %d more partitions (limit %" PRId64 ")",
                 n - old, b->cfg.partitions_total_max);
        return CM_KERR_POLICY_VIOLATION;
    }
    if (validate_only)
        return 0;
    /* Only the new ones: a standalone broker holds every partition. */
    bool *hosted = calloc((size_t)n, sizeof(bool));
    if (hosted == NULL)
        abort();
    for (int32_t i = old; i < n; i++)
        hosted[i] = true;
    int16_t err = bk_topic__place(b, t, n, hosted, msg, cap);
    free(hosted);
    return err;
}

int16_t bk_topic_assign(bk_broker_t *b, bk_topic_t *t, int32_t n, const bool *hosted, char *msg,
                        size_t cap)
{
    int32_t adding = 0;
    for (int32_t i = 0; i < n; i++)
        adding += hosted[i] && (i >= t->n_parts || t->parts[i] == NULL);
    if (adding == 0 && n <= t->n_parts)
        return 0;
    if (n > b->cfg.partitions_max || b->n_partitions + adding > b->cfg.partitions_total_max) {
        snprintf(msg, cap, "over this broker's partitions_max or partitions_total_max");
        return CM_KERR_POLICY_VIOLATION;
    }
    return bk_topic__place(b, t, n, hosted, msg, cap);
}

void bk_topic_delete(bk_broker_t *b, bk_topic_t *t)
{
    char gone[4096], hex[33];
    bk_uuid_hex(t->id, hex);
    snprintf(gone, sizeof(gone), "%s/%s-%s", b->deleted_dir, t->name, hex);
    cm_strmap_del(&b->topics, t->name, strlen(t->name));
    cm_strmap_del(&b->topics_by_id, (const char *)t->id.b, sizeof(t->id.b));
    b->n_partitions -= bk_topic__held(t);
    if (rename(t->dir, gone) != 0 || cm_fs_sync_dir(b->topics_dir) != CM_OK)
        cm_log_error("cannot move a deleted topic aside", "topic=%s errno=%s", t->name,
                     strerror(errno));
    else
        bk_flusher_remove(b->flusher, gone);
    cm_log_info("topic deleted", "topic=%s", t->name);
    bk_topic__free(t);
}
