#include "bk_offsets.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_group.h"
#include "bk_segment.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kproto.h"
#include "cm_krecord.h"
#include "cm_log.h"

#define BK_OFFSETS__COMMIT   1
#define BK_OFFSETS__DELETED  2
#define BK_OFFSETS__META_MAX 4096 /* offset.metadata.max.bytes */

/* Never deleted by retention: the newest record of each key must survive. Rolled at
 * 64 MiB. (Compaction, which would drop records an older one for the same key replaced,
 * is not done yet: the log grows with every commit.) */
static const cm_tconfig_t bk_offsets__cfg = {
    .retention_ms = -1,
    .retention_bytes = -1,
    .segment_bytes = 64 << 20,
    .segment_ms = 7LL * 24 * 3600 * 1000,
    .flush_ms = 0,
    .max_message_bytes = 64 << 20,
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

/* Applies one replayed record; false when it is not one of ours. */
static bool bk_offsets__apply(bk_broker_t *b, const cm_record_t *rec)
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
        /* Forget the group's offsets: an Empty group with none is deleted outright. */
        if (bk_gcoord_find(b->groups, group) != NULL)
            bk_gcoord_delete(b->groups, group);
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
    if (version != 0 || bk_offsets__read_str(&v, meta, sizeof(meta)) == NULL || v.err != 0)
        return false;
    bk_gcoord_offset_put(b->groups, group, topic, partition, offset, epoch, meta, when);
    return true;
}

/* Replays the log from its start to its end. */
static int bk_offsets__replay(bk_broker_t *b, bk_partition_t *p)
{
    int64_t off = bk_partition_log_start(p), records = 0, bad = 0;
    uint8_t *buf = NULL;
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
                    bad += !bk_offsets__apply(b, &rec);
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
    cm_log_info("consumer offsets replayed",
                "records=%" PRId64 " unreadable=%" PRId64 " end=%" PRId64, records, bad, p->hw);
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
    b->offsets_log = p;
    return 0;
}

void bk_offsets_close(bk_broker_t *b)
{
    if (b->offsets_log == NULL)
        return;
    bk_partition_close(b->offsets_log);
    bk_partition_unref(b->offsets_log);
    b->offsets_log = NULL;
}

/* Appends a built batch and waits for it to be durable. */
static int16_t bk_offsets__append(bk_broker_t *b, cm_batch_builder_t *bb, cm_kw_t *w,
                                  bk_ack_waiter_t *wt)
{
    int16_t err = CM_KERR_COORDINATOR_NOT_AVAILABLE;
    int64_t len = cm_batch_build_end(bb);
    cm_batch_hdr_t h;
    int64_t base;
    if (b->offsets_log != NULL && len > 0 && w->err == 0 &&
        cm_batch_validate(w->buf, (size_t)len, &h) == CM_BATCH_OK &&
        bk_partition_append(b->offsets_log, w->buf, (size_t)len, &h, &base) == 0) {
        wt->need = cm_batch_last_offset(&h) + 1;
        bk_partition_wait_ack(b->offsets_log, wt);
        err = CM_KERR_NONE;
    }
    cm_kw_free(w);
    return err;
}

int16_t bk_offsets_commit(bk_broker_t *b, const char *group, const bk_offset_rec_t *recs, int n,
                          int64_t now_ms, bk_ack_waiter_t *wt)
{
    cm_kw_t w, kw, vw;
    cm_kw_init(&w, 64u << 20);
    cm_batch_builder_t bb;
    cm_batch_build_begin(&bb, &w, now_ms);
    for (int i = 0; i < n; i++) {
        cm_kw_init(&kw, 1u << 20);
        cm_kw_init(&vw, 1u << 20);
        cm_kw_i8(&kw, BK_OFFSETS__COMMIT);
        bk_offsets__str(&kw, group);
        bk_offsets__str(&kw, recs[i].topic);
        cm_kw_i32(&kw, recs[i].partition);
        cm_kw_i8(&vw, 0);
        cm_kw_i64(&vw, recs[i].offset);
        cm_kw_i32(&vw, recs[i].leader_epoch);
        cm_kw_i64(&vw, now_ms);
        bk_offsets__str(&vw, recs[i].metadata != NULL ? recs[i].metadata : "");
        cm_batch_build_add(&bb, now_ms, (cm_kbytes_t){ kw.buf, (int32_t)kw.len },
                           (cm_kbytes_t){ vw.buf, (int32_t)vw.len }, NULL, 0);
        cm_kw_free(&kw);
        cm_kw_free(&vw);
    }
    return bk_offsets__append(b, &bb, &w, wt);
}

int16_t bk_offsets_delete_group(bk_broker_t *b, const char *group, bk_ack_waiter_t *wt)
{
    cm_kw_t w, kw;
    cm_kw_init(&w, 1u << 20);
    cm_kw_init(&kw, 1u << 20);
    cm_batch_builder_t bb;
    cm_batch_build_begin(&bb, &w, 0);
    cm_kw_i8(&kw, BK_OFFSETS__DELETED);
    bk_offsets__str(&kw, group);
    cm_batch_build_add(&bb, 0, (cm_kbytes_t){ kw.buf, (int32_t)kw.len }, (cm_kbytes_t){ NULL, -1 },
                       NULL, 0);
    cm_kw_free(&kw);
    return bk_offsets__append(b, &bb, &w, wt);
}
