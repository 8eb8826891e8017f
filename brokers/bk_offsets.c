#include "bk_offsets.h"

#include <inttypes.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bk_group.h"
#include "bk_segment.h"
#include "cm_arena.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kproto.h"
#include "cm_krecord.h"
#include "cm_log.h"
#include "cm_time.h"

#define BK_OFFSETS__COMMIT    1
#define BK_OFFSETS__DELETED   2
#define BK_OFFSETS__GROUP     3
#define BK_OFFSETS__META_MAX  4096      /* offset.metadata.max.bytes */
#define BK_OFFSETS__BATCH_MAX (1 << 20) /* a snapshot is written in batches of about this */

struct bk_offsets {
    bk_broker_t *b;
    bk_partition_t *log;
    int64_t clean_bytes;   /* the last snapshot's size: what a compaction cannot shrink */
    int64_t snapshot_base; /* the snapshot being made durable starts here; -1: none */
    bk_ack_waiter_t snapshot_wt;
    bool compact_soon; /* compact at the next chance, whatever the size */
};

/* Never deleted by retention: the newest record of each key must survive. Compaction
 * (bk_offsets_tick) drops whole segments that a snapshot made redundant. */
static const cm_tconfig_t bk_offsets__cfg = {
    .retention_ms = -1,
    .retention_bytes = -1,
    .segment_bytes = 64 << 20,
    .segment_ms = 7LL * 24 * 3600 * 1000,
    .flush_ms = 0,
    .max_message_bytes = 64 << 20,
    .min_insync_replicas = 1,
};

static void bk_offsets__str(cm_kw_t *w, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT16_MAX)
        n = UINT16_MAX;
    cm_kw_i16(w, (int16_t)(uint16_t)n);
    cm_kw_raw(w, s, n);
}

/* A string of the record (u16 length, bytes) copied into `out`, or NULL if malformed. */
static const char *bk_offsets__read_str(cm_kr_t *r, char *out, size_t cap)
{
    size_t n = (uint16_t)cm_kr_i16(r);
    const uint8_t *p = cm_kr_raw(r, n);
    if (r->err != 0 || p == NULL || n >= cap)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* ---- group metadata records ------------------------------------------------------------ */

static void bk_offsets__kstr(cm_kw_t *w, const char *s)
{
    cm_kw_str(w, (cm_kstr_t){ s, (int32_t)strlen(s) }, false, false);
}

static void bk_offsets__uuid(cm_kw_t *w, cm_kuuid_t id)
{
    cm_kw_raw(w, id.b, sizeof(id.b));
}

/* An owner at the end of a version 1 value; false when malformed. */
static bool bk_offsets__read_uuid(cm_kr_t *r, cm_kuuid_t *id)
{
    const uint8_t *p = cm_kr_raw(r, sizeof(id->b));
    if (r->err != 0 || p == NULL)
        return false;
    memcpy(id->b, p, sizeof(id->b));
    return true;
}

static void bk_offsets__group_value(cm_kw_t *w, const bk_gsaved_t *s)
{
    cm_kw_i8(w, 1);
    cm_kw_i32(w, s->generation);
    cm_kw_i8(w, s->rebalancing ? 1 : 0);
    bk_offsets__kstr(w, s->protocol_type);
    bk_offsets__kstr(w, s->protocol);
    bk_offsets__kstr(w, s->leader);
    cm_kw_i32(w, s->n_members);
    for (int i = 0; i < s->n_members; i++) {
        const bk_gmember_view_t *m = &s->members[i];
        bk_offsets__kstr(w, m->id);
        bk_offsets__kstr(w, m->instance_id != NULL ? m->instance_id : "");
        bk_offsets__kstr(w, m->client_id);
        bk_offsets__kstr(w, m->client_host);
        cm_kw_i32(w, m->session_timeout_ms);
        cm_kw_i32(w, m->rebalance_timeout_ms);
        cm_kw_bytes(w, (cm_kbytes_t){ m->meta, (int32_t)m->meta_len }, false, false);
        cm_kw_bytes(w, (cm_kbytes_t){ m->assignment, (int32_t)m->assignment_len }, false, false);
    }
    cm_kw_i64(w, s->empty_since_ms);
    bk_offsets__uuid(w, s->tenant);
}

static const char *bk_offsets__dup(cm_arena_t *a, cm_kstr_t s)
{
    return s.len >= 0 ? cm_arena_strndup(a, s.ptr != NULL ? s.ptr : "", (size_t)s.len) : NULL;
}

/* Decodes a group record's value; false when malformed. Strings live in `a`. */
static bool bk_offsets__group_decode(cm_kr_t *r, cm_arena_t *a, bk_gsaved_t *s)
{
    int8_t version = cm_kr_i8(r);
    if (version != 0 && version != 1)
        return false;
    s->empty_since_ms = -1;
    memset(&s->tenant, 0, sizeof(s->tenant));
    s->generation = cm_kr_i32(r);
    s->rebalancing = cm_kr_i8(r) != 0;
    s->protocol_type = bk_offsets__dup(a, cm_kr_str(r, false, false));
    s->protocol = bk_offsets__dup(a, cm_kr_str(r, false, false));
    s->leader = bk_offsets__dup(a, cm_kr_str(r, false, false));
    /* Each member takes at least 20 bytes: a count beyond what is left is garbage. */
    int32_t n = cm_kr_i32(r);
    if (r->err != 0 || n < 0 || (size_t)n > cm_kr_left(r) / 20 || s->protocol_type == NULL ||
        s->protocol == NULL || s->leader == NULL)
        return false;
    bk_gmember_view_t *ms = cm_arena_calloc(a, n > 0 ? (size_t)n : 1, sizeof(*ms));
    if (ms == NULL)
        return false;
    for (int32_t i = 0; i < n; i++) {
        ms[i].id = bk_offsets__dup(a, cm_kr_str(r, false, false));
        ms[i].instance_id = bk_offsets__dup(a, cm_kr_str(r, false, false));
        ms[i].client_id = bk_offsets__dup(a, cm_kr_str(r, false, false));
        ms[i].client_host = bk_offsets__dup(a, cm_kr_str(r, false, false));
        ms[i].session_timeout_ms = cm_kr_i32(r);
        ms[i].rebalance_timeout_ms = cm_kr_i32(r);
        cm_kbytes_t meta = cm_kr_bytes(r, false, false);
        cm_kbytes_t assignment = cm_kr_bytes(r, false, false);
        if (r->err != 0 || ms[i].id == NULL || ms[i].instance_id == NULL ||
            ms[i].client_id == NULL || ms[i].client_host == NULL)
            return false;
        ms[i].meta = meta.ptr;
        ms[i].meta_len = meta.len > 0 ? (size_t)meta.len : 0;
        ms[i].assignment = assignment.ptr;
        ms[i].assignment_len = assignment.len > 0 ? (size_t)assignment.len : 0;
    }
    s->members = ms;
    s->n_members = n;
    if (version == 1) {
        s->empty_since_ms = cm_kr_i64(r);
        if (!bk_offsets__read_uuid(r, &s->tenant))
            return false;
    }
    return true;
}

/* ---- replay ---------------------------------------------------------------------------- */

/* Applies one replayed record; false when it is not one of ours. */
static bool bk_offsets__apply(bk_broker_t *b, const cm_record_t *rec, cm_arena_t *a)
{
    if (rec->key.len <= 0)
        return false;
    cm_kr_t k;
    cm_kr_init(&k, rec->key.ptr, (size_t)rec->key.len);
    int8_t type = cm_kr_i8(&k);
    char group[65536], topic[65536];
    if (bk_offsets__read_str(&k, group, sizeof(group)) == NULL)
        return false;
    if (type == BK_OFFSETS__DELETED) {
        /* Forget the group and its offsets, whatever it was: deleted while Empty, removed
         * with its tenant, or left empty by expiry. */
        bk_gcoord_forget(b->groups, group);
        return true;
    }
    if (type == BK_OFFSETS__GROUP) {
        cm_kr_t v;
        cm_kr_init(&v, rec->value.ptr, rec->value.len > 0 ? (size_t)rec->value.len : 0);
        bk_gsaved_t saved;
        cm_arena_reset(a);
        if (rec->value.len <= 0 || !bk_offsets__group_decode(&v, a, &saved))
            return false;
        bk_gcoord_restore(b->groups, group, &saved, cm_mono_ms());
        return true;
    }
    if (type != BK_OFFSETS__COMMIT || bk_offsets__read_str(&k, topic, sizeof(topic)) == NULL)
        return false;
    int32_t partition = cm_kr_i32(&k);
    if (k.err != 0)
        return false;
    if (rec->value.len < 0) {
        bk_gcoord_offset_del(b->groups, group, topic, partition);
        return true;
    }
    cm_kr_t v;
    cm_kr_init(&v, rec->value.ptr, (size_t)rec->value.len);
    char meta[BK_OFFSETS__META_MAX + 1];
    int8_t version = cm_kr_i8(&v);
    int64_t offset = cm_kr_i64(&v);
    int32_t epoch = cm_kr_i32(&v);
    int64_t when = cm_kr_i64(&v);
    cm_kuuid_t tenant = { { 0 } };
    if ((version != 0 && version != 1) || bk_offsets__read_str(&v, meta, sizeof(meta)) == NULL ||
        v.err != 0 || (version == 1 && !bk_offsets__read_uuid(&v, &tenant)))
        return false;
    bk_gcoord_offset_put(b->groups, group, &tenant, topic, partition, offset, epoch, meta, when);
    return true;
}

/* Replays the log from its start to its end. */
static int bk_offsets__replay(bk_broker_t *b, bk_partition_t *p)
{
    int64_t off = bk_partition_log_start(p), records = 0, bad = 0;
    uint8_t *buf = NULL;
    cm_arena_t arena;
    cm_arena_init(&arena, 64u << 20);
    while (off < p->hw) {
        bk_read_t rd;
        bk_partition_read(p, off, 1 << 20, true, &rd);
        if (rd.err != 0 || rd.len <= 0)
            break;
        buf = realloc(buf, (size_t)rd.len);
        if (buf == NULL)
            abort();
        long got = cm_fs_pread_full(rd.seg->fd, buf, (size_t)rd.len, rd.pos);
        bk_segment_unref(rd.seg);
        if (got != rd.len) {
            free(buf);
            cm_arena_free(&arena);
            return -1;
        }
        size_t at = 0;
        int64_t next = off;
        while (at < (size_t)rd.len) {
            cm_batch_hdr_t h;
            if (cm_batch_check(buf + at, (size_t)rd.len - at, &h) != CM_BATCH_OK)
                break;
            cm_record_iter_t it;
            uint8_t *owned = NULL;
            if (cm_batch_records(buf + at, &h, 64u << 20, &it, &owned) == 0) {
                cm_record_t rec;
                while (cm_record_next(&it, &rec) == 1) {
                    records++;
                    bad += !bk_offsets__apply(b, &rec, &arena);
                }
            }
            free(owned);
            next = cm_batch_last_offset(&h) + 1;
            at += (size_t)cm_batch_size(&h);
        }
        if (next <= off)
            break; /* nothing whole could be read: the log is damaged here */
        off = next;
    }
    free(buf);
    cm_arena_free(&arena);
    cm_log_info("consumer offsets replayed",
                "records=%" PRId64 " unreadable=%" PRId64 " start=%" PRId64 " end=%" PRId64
                " bytes=%" PRId64,
                records, bad, bk_partition_log_start(p), p->hw, p->log_bytes);
    return 0;
}

int bk_offsets_open(bk_broker_t *b)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/groups/offsets", b->cfg.data_dir);
    if (cm_fs_mkdirs(dir) != CM_OK) {
        cm_log_error("cannot create the consumer offsets log", "dir=%s", dir);
        return -1;
    }
    bk_partition_t *p = NULL;
    if (bk_partition_open(b, &bk_offsets__cfg, 0, dir, "(consumer offsets)", &p) != CM_OK) {
        cm_log_error("cannot open the consumer offsets log", "dir=%s", dir);
        return -1;
    }
    if (bk_offsets__replay(b, p) != 0) {
        cm_log_error("cannot read the consumer offsets log", "dir=%s", dir);
        bk_partition_close(p);
        bk_partition_unref(p);
        return -1;
    }
    bk_offsets_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        abort();
    o->b = b;
    o->log = p;
    o->snapshot_base = -1;
    b->offsets = o;
    return 0;
}

void bk_offsets_close(bk_broker_t *b)
{
    bk_offsets_t *o = b->offsets;
    if (o == NULL)
        return;
    /* Closing answers a snapshot still waiting (with an error), which keeps its segments. */
    bk_partition_close(o->log);
    bk_partition_unref(o->log);
    free(o);
    b->offsets = NULL;
}

/* ---- appending ------------------------------------------------------------------------- */

/* Appends a built batch (and frees the writer); 0 or a Kafka error. */
static int16_t bk_offsets__write(bk_offsets_t *o, cm_batch_builder_t *bb, cm_kw_t *w)
{
    int16_t err = CM_KERR_COORDINATOR_NOT_AVAILABLE;
    int64_t len = cm_batch_build_end(bb);
    cm_batch_hdr_t h;
    int64_t base;
    if (o != NULL && len > 0 && w->err == 0 &&
        cm_batch_validate(w->buf, (size_t)len, &h) == CM_BATCH_OK &&
        bk_partition_append(o->log, w->buf, (size_t)len, &h, &base) == 0)
        err = CM_KERR_NONE;
    cm_kw_free(w);
    return err;
}

/* Appends a built batch and has `wt` called once it is durable. */
static int16_t bk_offsets__append(bk_broker_t *b, cm_batch_builder_t *bb, cm_kw_t *w,
                                  bk_ack_waiter_t *wt)
{
    int16_t err = bk_offsets__write(b->offsets, bb, w);
    if (err == CM_KERR_NONE) {
        wt->need = b->offsets->log->leo;
        bk_partition_wait_ack(b->offsets->log, wt);
    }
    return err;
}

/* Adds one commit record to a batch, or its removal (o NULL). */
static void bk_offsets__add_commit(cm_batch_builder_t *bb, const char *group, cm_kuuid_t tenant,
                                   const char *topic, int32_t partition, const bk_goffset_view_t *o,
                                   int64_t now_ms)
{
    cm_kw_t kw, vw;
    cm_kw_init(&kw, 1u << 20);
    cm_kw_init(&vw, 1u << 20);
    cm_kw_i8(&kw, BK_OFFSETS__COMMIT);
    bk_offsets__str(&kw, group);
    bk_offsets__str(&kw, topic);
    cm_kw_i32(&kw, partition);
    if (o != NULL) {
        cm_kw_i8(&vw, 1);
        cm_kw_i64(&vw, o->offset);
        cm_kw_i32(&vw, o->leader_epoch);
        cm_kw_i64(&vw, o->commit_ms); /* kept as it was by snapshots: expiry counts from it */
        bk_offsets__str(&vw, o->metadata != NULL ? o->metadata : "");
        bk_offsets__uuid(&vw, tenant);
    }
    cm_batch_build_add(
        bb, now_ms, (cm_kbytes_t){ kw.buf, (int32_t)kw.len },
        o != NULL ? (cm_kbytes_t){ vw.buf, (int32_t)vw.len } : (cm_kbytes_t){ NULL, -1 }, NULL, 0);
    cm_kw_free(&kw);
    cm_kw_free(&vw);
}

/* Adds a group's deletion to a batch. */
static void bk_offsets__add_deleted(cm_batch_builder_t *bb, const char *group, int64_t now_ms)
{
    cm_kw_t kw;
    cm_kw_init(&kw, 1u << 20);
    cm_kw_i8(&kw, BK_OFFSETS__DELETED);
    bk_offsets__str(&kw, group);
    cm_batch_build_add(bb, now_ms, (cm_kbytes_t){ kw.buf, (int32_t)kw.len },
                       (cm_kbytes_t){ NULL, -1 }, NULL, 0);
    cm_kw_free(&kw);
}

/* Adds a group's membership record to a batch. */
static void bk_offsets__add_group(cm_batch_builder_t *bb, const bk_group_t *g, int64_t now_ms)
{
    cm_kw_t kw, vw;
    cm_kw_init(&kw, 1u << 20);
    cm_kw_init(&vw, 64u << 20);
    cm_kw_i8(&kw, BK_OFFSETS__GROUP);
    bk_offsets__str(&kw, bk_group_id(g));
    bk_gmember_view_t *members;
    bk_gsaved_t s = bk_group_saved(g, &members);
    bk_offsets__group_value(&vw, &s);
    free(members);
    cm_batch_build_add(bb, now_ms, (cm_kbytes_t){ kw.buf, (int32_t)kw.len },
                       (cm_kbytes_t){ vw.buf, (int32_t)vw.len }, NULL, 0);
    cm_kw_free(&kw);
    cm_kw_free(&vw);
}

int16_t bk_offsets_commit(bk_broker_t *b, const char *group, cm_kuuid_t tenant,
                          const bk_offset_rec_t *recs, int n, int64_t now_ms, bk_ack_waiter_t *wt)
{
    cm_kw_t w;
    cm_kw_init(&w, 64u << 20);
    cm_batch_builder_t bb;
    cm_batch_build_begin(&bb, &w, now_ms);
    for (int i = 0; i < n; i++) {
        bk_goffset_view_t o = { .offset = recs[i].offset,
                                .leader_epoch = recs[i].leader_epoch,
                                .metadata = recs[i].metadata,
                                .commit_ms = now_ms };
        bk_offsets__add_commit(&bb, group, tenant, recs[i].topic, recs[i].partition, &o, now_ms);
    }
    return bk_offsets__append(b, &bb, &w, wt);
}

int16_t bk_offsets_delete_group(bk_broker_t *b, const char *group, bk_ack_waiter_t *wt)
{
    cm_kw_t w;
    cm_kw_init(&w, 1u << 20);
    cm_batch_builder_t bb;
    cm_batch_build_begin(&bb, &w, 0);
    bk_offsets__add_deleted(&bb, group, 0);
    return bk_offsets__append(b, &bb, &w, wt);
}

int16_t bk_offsets_forget(bk_broker_t *b, const bk_offsets_gone_t *gone, int n)
{
    if (n <= 0)
        return CM_KERR_NONE;
    cm_kw_t w;
    cm_kw_init(&w, 64u << 20);
    cm_batch_builder_t bb;
    int64_t now_ms = cm_now_ms();
    cm_batch_build_begin(&bb, &w, now_ms);
    cm_kuuid_t none = { { 0 } };
    for (int i = 0; i < n; i++) {
        if (gone[i].topic != NULL)
            bk_offsets__add_commit(&bb, gone[i].group, none, gone[i].topic, gone[i].partition, NULL,
                                   now_ms);
        else
            bk_offsets__add_deleted(&bb, gone[i].group, now_ms);
    }
    return bk_offsets__write(b->offsets, &bb, &w);
}

bool bk_offsets_quiet(const bk_broker_t *b)
{
    const bk_offsets_t *o = b->offsets;
    return o != NULL && o->snapshot_base < 0 && o->log->hw == o->log->leo;
}

void bk_offsets_compact_soon(bk_broker_t *b)
{
    if (b->offsets != NULL)
        b->offsets->compact_soon = true;
}

void bk_offsets_group_settled(bk_broker_t *b, const bk_group_t *g)
{
    cm_kw_t w;
    cm_kw_init(&w, 64u << 20);
    cm_batch_builder_t bb;
    int64_t now_ms = cm_now_ms();
    cm_batch_build_begin(&bb, &w, now_ms);
    bk_offsets__add_group(&bb, g, now_ms);
    /* Not waited for: members are answered at once, and if this is lost they join again. */
    if (bk_offsets__write(b->offsets, &bb, &w) != CM_KERR_NONE)
        cm_log_warn("cannot store a group's membership", "group=%s", bk_group_id(g));
}

/* ---- compaction ------------------------------------------------------------------------ */

typedef struct bk_offsets__snap {
    bk_offsets_t *o;
    const char *group;
    cm_kuuid_t tenant;
    cm_kw_t w;
    cm_batch_builder_t bb;
    int64_t now_ms;
    int64_t bytes;
    int16_t err;
} bk_offsets__snap_t;

static void bk_offsets__snap_begin(bk_offsets__snap_t *s)
{
    cm_kw_init(&s->w, 64u << 20);
    cm_batch_build_begin(&s->bb, &s->w, s->now_ms);
}

/* Writes the batch being built once it is big enough (or `last`, which also frees the
 * writer), and starts another. */
static void bk_offsets__snap_flush(bk_offsets__snap_t *s, bool last)
{
    if (last && s->bb.count == 0) {
        cm_kw_free(&s->w);
        return;
    }
    if (s->bb.count == 0 || (!last && s->w.len < BK_OFFSETS__BATCH_MAX))
        return;
    s->bytes += (int64_t)s->w.len;
    int16_t err = bk_offsets__write(s->o, &s->bb, &s->w);
    if (s->err == CM_KERR_NONE)
        s->err = err;
    if (!last)
        bk_offsets__snap_begin(s);
}

static void bk_offsets__snap_offset(void *ud, const bk_goffset_view_t *o)
{
    bk_offsets__snap_t *s = ud;
    bk_offsets__add_commit(&s->bb, s->group, s->tenant, o->topic, o->partition, o, s->now_ms);
    bk_offsets__snap_flush(s, false);
}

/* The snapshot is durable: the segments before it hold nothing it does not. */
static void bk_offsets__snapshot_done(bk_ack_waiter_t *wt, int16_t err)
{
    bk_offsets_t *o = (bk_offsets_t *)((char *)wt - offsetof(bk_offsets_t, snapshot_wt));
    int64_t base = o->snapshot_base, before = o->log->log_bytes;
    o->snapshot_base = -1;
    if (err != CM_KERR_NONE)
        return;
    int dropped = bk_partition_drop_before(o->log, base);
    cm_log_info("consumer offsets compacted",
                "snapshot_offset=%" PRId64 " snapshot_bytes=%" PRId64 " segments_dropped=%d"
                " bytes_before=%" PRId64 " bytes_after=%" PRId64,
                base, o->clean_bytes, dropped, before, o->log->log_bytes);
}

/*
 * Writes every live offset and group membership after the current log end, in a segment of
 * its own, and once that is durable drops the segments before it. Only when every write
 * before it is applied (hw == log end): a commit still in flight is not in the
 * coordinator's memory yet, and the snapshot would miss it.
 */
static void bk_offsets__compact(bk_offsets_t *o, int64_t now_ms)
{
    bk_partition_t *p = o->log;
    if (bk_partition_roll(p) != CM_OK)
        return;
    bk_offsets__snap_t s = { .o = o, .now_ms = now_ms };
    int64_t base = p->leo;
    bk_offsets__snap_begin(&s);
    size_t it = 0;
    const bk_group_t *g;
    /* Groups their names' owners no longer own are left out: compacted away. */
    while ((g = bk_gcoord_next(o->b->groups, &it)) != NULL) {
        s.group = bk_group_id(g);
        s.tenant = bk_group_tenant(g);
        if (bk_group_members_n(g) > 0 || bk_group_protocol_type(g)[0] != '\0') {
            bk_offsets__add_group(&s.bb, g, now_ms);
            bk_offsets__snap_flush(&s, false);
        }
        bk_gcoord_offsets_each(o->b->groups, s.group, bk_offsets__snap_offset, &s);
    }
    bk_offsets__snap_flush(&s, true);
    o->clean_bytes = s.bytes;
    if (s.err != CM_KERR_NONE) {
        /* Not all written: the old segments stay, and a later tick tries again. */
        cm_log_warn("cannot write the consumer offsets snapshot", "err=%d", s.err);
        return;
    }
    if (p->leo == base) { /* no live state: everything before is redundant already */
        bk_partition_drop_before(p, base);
        return;
    }
    o->snapshot_base = base;
    o->snapshot_wt.done = bk_offsets__snapshot_done;
    o->snapshot_wt.need = p->leo;
    bk_partition_wait_ack(p, &o->snapshot_wt);
}

void bk_offsets_tick(bk_broker_t *b, int64_t now_ms)
{
    bk_offsets_t *o = b->offsets;
    if (o == NULL || b->groups == NULL || o->snapshot_base >= 0 || o->log->hw != o->log->leo)
        return;
    int64_t dirty = o->log->log_bytes - o->clean_bytes;
    int64_t due = b->cfg.group_offsets_compact_bytes;
    if (o->clean_bytes > due)
        due = o->clean_bytes;
    if (dirty >= due || o->compact_soon) {
        o->compact_soon = false;
        bk_offsets__compact(o, now_ms);
    }
}
