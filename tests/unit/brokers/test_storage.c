/*
 * The broker's storage: indexes, segments, recovery of torn and corrupt tails, partition
 * reads below the high watermark, rolling and retention. Real files in a temporary
 * directory; a real flusher thread.
 */
#include "cmocka_all.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_flusher.h"
#include "bk_index.h"
#include "bk_partition.h"
#include "bk_segment.h"
#include "cm_crc32c.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kproto.h"
#include "cm_krecord.h"
#include "cm_time.h"

static char tmpdir[256];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/streamd-unit-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    cm_fs_remove_tree(tmpdir);
    return 0;
}

/* Builds a batch of `n` records with `vlen`-byte values and timestamps ts, ts+1, ... */
static size_t make_batch(uint8_t *out, size_t cap, int n, int64_t ts, int vlen)
{
    cm_kw_t w;
    cm_kw_init(&w, 1 << 24);
    cm_batch_builder_t b;
    cm_batch_build_begin(&b, &w, ts);
    uint8_t val[4096];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < n; i++)
        cm_batch_build_add(&b, ts + i, (cm_kbytes_t){ (const uint8_t *)"k", 1 },
                           (cm_kbytes_t){ val, vlen }, NULL, 0);
    int64_t size = cm_batch_build_end(&b);
    assert_true(size > 0 && (size_t)size <= cap);
    memcpy(out, w.buf, (size_t)size);
    cm_kw_free(&w);
    return (size_t)size;
}

/* Appends `count` batches of `per` records to a segment, offsets assigned in order. */
static void fill_segment(bk_segment_t *s, int count, int per, int vlen, int64_t interval)
{
    uint8_t buf[1 << 16];
    for (int i = 0; i < count; i++) {
        size_t len = make_batch(buf, sizeof(buf), per, 1000 + s->next_offset, vlen);
        cm_batch_hdr_t h;
        assert_int_equal(cm_batch_validate(buf, len, &h), CM_BATCH_OK);
        cm_batch_assign(buf, s->next_offset, 0);
        h.base_offset = s->next_offset;
        assert_int_equal(bk_segment_append(s, buf, len, &h, interval, 4096, cm_now_ms()), 0);
    }
}

static void test_index__bisects_offsets_and_times(void **state)
{
    bk_index_t o, t;
    bk_index_init(&o, BK_OINDEX_ENTRY);
    bk_index_init(&t, BK_TINDEX_ENTRY);
    for (uint32_t i = 1; i <= 100; i++) {
        bk_index_add_offset(&o, i * 10, i * 4096);
        bk_index_add_time(&t, 1000 + i * 10, i * 10);
    }
    uint32_t rel;
    assert_int_equal(bk_index_lookup_offset(&o, 5, &rel), 0);
    assert_int_equal(rel, 0);
    assert_int_equal(bk_index_lookup_offset(&o, 10, &rel), 4096);
    assert_int_equal(bk_index_lookup_offset(&o, 19, &rel), 4096);
    assert_int_equal(rel, 10);
    assert_int_equal(bk_index_lookup_offset(&o, 5000, &rel), 100 * 4096);
    /* Last entry with timestamp strictly below the target. */
    assert_int_equal(bk_index_lookup_time(&t, 1000), 0);
    assert_int_equal(bk_index_lookup_time(&t, 1011), 10);
    assert_int_equal(bk_index_lookup_time(&t, 1020), 10);
    assert_int_equal(bk_index_lookup_time(&t, 1021), 20);
    bk_index_free(&o);
    bk_index_free(&t);
}

static void test_index__load_rejects_torn_or_unsorted_files(void **state)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/x.index", tmpdir);
    uint8_t bytes[20] = { 0 };
    assert_int_equal(cm_fs_write_atomic(path, bytes, 12), 0); /* not a multiple of 8 */
    bk_index_t ix;
    assert_int_equal(bk_index_load(&ix, path, BK_OINDEX_ENTRY), CM_ECORRUPT);
    cm_put_be32(bytes, 5);
    cm_put_be32(bytes + 4, 100);
    cm_put_be32(bytes + 8, 3); /* goes backwards */
    cm_put_be32(bytes + 12, 200);
    assert_int_equal(cm_fs_write_atomic(path, bytes, 16), 0);
    assert_int_equal(bk_index_load(&ix, path, BK_OINDEX_ENTRY), CM_ECORRUPT);
    cm_put_be32(bytes + 8, 9);
    assert_int_equal(cm_fs_write_atomic(path, bytes, 16), 0);
    assert_int_equal(bk_index_load(&ix, path, BK_OINDEX_ENTRY), CM_OK);
    assert_int_equal(ix.n, 2);
    bk_index_free(&ix);
}

static void test_segment__append_then_locate_any_offset(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    fill_segment(s, 50, 10, 100, 1024); /* 500 records, an index entry every ~1 KiB */
    assert_int_equal(s->next_offset, 500);
    assert_true(s->oidx.n > 5);
    for (int64_t off = 0; off < 500; off += 7) {
        int64_t pos;
        cm_batch_hdr_t h;
        assert_int_equal(bk_segment_locate(s, off, s->size, &pos, &h), 1);
        assert_true(h.base_offset <= off && off <= cm_batch_last_offset(&h));
        assert_int_equal(h.base_offset, off - off % 10);
    }
    int64_t pos;
    cm_batch_hdr_t h;
    assert_int_equal(bk_segment_locate(s, 500, s->size, &pos, &h), 0);
    /* A limit hides what lies beyond it. */
    assert_int_equal(bk_segment_locate(s, 0, 0, &pos, &h), 0);
    bk_segment_unref(s);
}

static void test_segment__finds_first_record_at_or_after_a_time(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    fill_segment(s, 30, 10, 50, 512); /* record at offset o has timestamp 1000 + o */
    int64_t off, ts;
    assert_int_equal(bk_segment_find_time(s, 1000, s->size, &off, &ts), 1);
    assert_int_equal(off, 0);
    assert_int_equal(bk_segment_find_time(s, 1123, s->size, &off, &ts), 1);
    assert_int_equal(off, 123);
    assert_int_equal(ts, 1123);
    assert_int_equal(bk_segment_find_time(s, 5000, s->size, &off, &ts), 0);
    bk_segment_unref(s);
}

/* Opens the segment file again from disk and runs recovery on it. */
static bk_segment_t *reopen_and_recover(int64_t base, bk_scan_result_t *res)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_open(tmpdir, base, &s), 0);
    assert_int_equal(bk_segment_recover(s, 1024, res, true), 0);
    return s;
}

static void test_segment__recovers_after_torn_tail(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    fill_segment(s, 3, 5, 200, 1024);
    int64_t whole = s->size, third = s->size / 3;
    char path[512];
    snprintf(path, sizeof(path), "%s.log", s->path);
    bk_segment_unref(s);
    assert_int_equal(truncate(path, whole - 17), 0); /* cut inside the last batch */

    bk_scan_result_t res;
    s = reopen_and_recover(0, &res);
    assert_int_equal(res.batches, 2);
    assert_int_equal(s->size, 2 * third);
    assert_int_equal(s->next_offset, 10);
    assert_int_equal(res.truncated_bytes, third - 17);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 2 * third); /* the file itself was cut back */
    bk_segment_unref(s);
}

static void test_segment__recovery_cuts_a_flipped_byte(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    fill_segment(s, 4, 5, 200, 1024);
    int64_t quarter = s->size / 4;
    char path[512];
    snprintf(path, sizeof(path), "%s.log", s->path);
    bk_segment_unref(s);
    int fd = open(path, O_RDWR);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 3 * quarter + 100), 1);
    b ^= 0x01;
    assert_int_equal(pwrite(fd, &b, 1, 3 * quarter + 100), 1);
    close(fd);

    bk_scan_result_t res;
    s = reopen_and_recover(0, &res);
    assert_int_equal(res.batches, 3);
    assert_int_equal(res.reason, CM_BATCH_ECRC);
    assert_int_equal(s->size, 3 * quarter);
    assert_int_equal(s->next_offset, 15);
    bk_segment_unref(s);
}

static void test_segment__recovery_rejects_an_offset_gap(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    fill_segment(s, 2, 5, 100, 1024);
    /* A third batch whose base offset skips ahead: not a log this broker wrote. */
    uint8_t buf[4096];
    size_t len = make_batch(buf, sizeof(buf), 5, 0, 100);
    cm_batch_assign(buf, 99, 0);
    assert_int_equal(pwrite(s->fd, buf, len, s->size), (ssize_t)len);
    int64_t good = s->size;
    bk_segment_unref(s);
    bk_scan_result_t res;
    s = reopen_and_recover(0, &res);
    assert_int_equal(res.reason, BK_SCAN_EOFFSET);
    assert_int_equal(s->size, good);
    bk_segment_unref(s);
}

/* Recomputes a batch's CRC after a test changed bytes it covers. */
static void fix_crc(uint8_t *batch, size_t len)
{
    cm_put_be32(batch + 17, cm_crc32c(0, batch + CM_BATCH_CRC_START, len - CM_BATCH_CRC_START));
}

/* Fuzzing found it (tests/fuzz, regress-lastoffsetdelta-overflow): a CRC-valid batch whose
 * lastOffsetDelta is INT32_MAX made recovery compute INT32_MAX + 1 (UBSan). It is damage. */
static void test_segment__recovery_of_a_last_offset_delta_of_int32_max(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    fill_segment(s, 2, 5, 100, 1024);
    uint8_t buf[4096];
    size_t len = make_batch(buf, sizeof(buf), 1, 0, 10);
    cm_batch_assign(buf, s->next_offset, 0);
    cm_put_be32(buf + 23, INT32_MAX);
    fix_crc(buf, len);
    assert_int_equal(pwrite(s->fd, buf, len, s->size), (ssize_t)len);
    int64_t good = s->size;
    bk_segment_unref(s);
    bk_scan_result_t res;
    s = reopen_and_recover(0, &res);
    assert_int_equal(res.reason, BK_SCAN_EOFFSET);
    assert_int_equal(s->size, good);
    assert_int_equal(s->next_offset, 10);
    bk_segment_unref(s);
}

/* Fuzzing found it (regress-listoffsets-record-delta): a time lookup took a stored record's
 * offset delta on trust, and answered an offset outside its batch and the log. */
static void test_segment__time_lookup_refuses_a_record_outside_its_batch(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    uint8_t buf[4096];
    size_t len = make_batch(buf, sizeof(buf), 1, 1000, 10);
    /* The one record: length, attributes, timestamp delta 0, offset delta 0 -> 23. */
    assert_int_equal(buf[CM_BATCH_HEADER_SIZE + 3], 0);
    buf[CM_BATCH_HEADER_SIZE + 3] = 46; /* zigzag varint of 23 */
    fix_crc(buf, len);
    cm_batch_hdr_t h; /* produce validates records (and refuses this); disk damage is not */
    assert_int_equal(cm_batch_validate(buf, len, &h), CM_BATCH_ERECORD);
    assert_int_equal(cm_batch_check(buf, len, &h), CM_BATCH_OK);
    assert_int_equal(bk_segment_append(s, buf, len, &h, 1024, 4096, cm_now_ms()), 0);
    int64_t off = -1, ts;
    assert_true(bk_segment_find_time(s, 1000, s->size, &off, &ts) < 0);
    assert_int_equal(off, -1);
    bk_segment_unref(s);
}

static void test_segment__recovery_of_garbage_keeps_nothing(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    uint8_t junk[5000];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(pwrite(s->fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    bk_segment_unref(s);
    bk_scan_result_t res;
    s = reopen_and_recover(0, &res);
    assert_int_equal(s->size, 0);
    assert_int_equal(s->next_offset, 0);
    assert_int_equal(res.truncated_bytes, 5000);
    bk_segment_unref(s);
}

static void test_segment__zero_tail_from_preallocation_is_a_clean_end(void **state)
{
    bk_segment_t *s;
    assert_int_equal(bk_segment_create(tmpdir, 0, &s), 0);
    fill_segment(s, 3, 5, 100, 1024);
    int64_t whole = s->size;
    assert_true(s->alloc_end > whole); /* fill_segment preallocates 4 KiB steps */
    char path[512];
    snprintf(path, sizeof(path), "%s.log", s->path);
    bk_segment_unref(s); /* a crash: the zeros are still on disk */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > whole);

    bk_scan_result_t res;
    s = reopen_and_recover(0, &res);
    assert_int_equal(s->size, whole);
    assert_int_equal(res.truncated_bytes, 0); /* not damage */
    assert_true(res.zero_tail > 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, whole);

    /* Half a batch before the zeros is damage, and is reported as such. */
    uint8_t buf[4096];
    size_t len = make_batch(buf, sizeof(buf), 5, 0, 100);
    cm_batch_assign(buf, s->next_offset, 0);
    assert_int_equal(pwrite(s->fd, buf, len / 2, s->size), (ssize_t)(len / 2));
    assert_int_equal(ftruncate(s->fd, s->size + 8192), 0);
    bk_segment_unref(s);
    s = reopen_and_recover(0, &res);
    assert_int_equal(s->size, whole);
    assert_int_equal(res.truncated_bytes, 8192); /* the half batch and the zeros after it */
    assert_int_equal(res.zero_tail, 0);
    bk_segment_unref(s);
}

/* ---- partitions, with a real flusher ---- */

typedef struct {
    bk_broker_t b;
    cm_tconfig_t tc;
} env_t;

static void env_init(env_t *e)
{
    memset(e, 0, sizeof(*e));
    e->b.cfg.index_interval_bytes = 1024;
    e->b.cfg.topic_defaults.retention_ms = -1;
    e->b.cfg.topic_defaults.retention_bytes = -1;
    e->b.cfg.topic_defaults.segment_bytes = 8192;
    e->b.cfg.topic_defaults.segment_ms = 3600000;
    e->b.cfg.topic_defaults.flush_ms = 0;
    e->b.cfg.topic_defaults.max_message_bytes = 1 << 20;
    cm_tconfig_init(&e->tc, &e->b.cfg.topic_defaults);
    e->b.flusher = bk_flusher_start(&e->b);
}

/* Applies flusher completions the way the event loop does, until hw reaches `want`. */
static void wait_hw(env_t *e, bk_partition_t *p, int64_t want)
{
    for (int i = 0; i < 2000 && p->hw < want; i++) {
        bk_flusher_kick(e->b.flusher);
        bk_flush_done_t *done;
        size_t n = bk_flusher_take(e->b.flusher, &done);
        for (size_t k = 0; k < n; k++) {
            bk_partition_synced(done[k].p, done[k].seg, done[k].offset, done[k].pos, done[k].gen);
            bk_segment_unref(done[k].seg);
            bk_partition_unref(done[k].p);
        }
        free(done);
        if (p->hw < want)
            usleep(1000);
    }
    assert_int_equal(p->hw, want);
}

static void append_n(bk_partition_t *p, int batches, int per, int64_t ts)
{
    uint8_t buf[1 << 16];
    for (int i = 0; i < batches; i++) {
        size_t len = make_batch(buf, sizeof(buf), per, ts, 100);
        cm_batch_hdr_t h;
        assert_int_equal(cm_batch_validate(buf, len, &h), CM_BATCH_OK);
        int64_t base;
        assert_int_equal(bk_partition_append(p, buf, len, &h, &base), 0);
    }
}

static void env_close(env_t *e, bk_partition_t *p)
{
    bk_flusher_stop(e->b.flusher);
    if (p) {
        bk_partition_close(p);
        bk_partition_unref(p);
    }
}

static void test_partition__hw_follows_fsync_and_reads_stop_there(void **state)
{
    env_t e;
    env_init(&e);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/p0", tmpdir);
    bk_partition_t *p;
    assert_int_equal(bk_partition_create(&e.b, &e.tc, 0, dir, "t/0", &p), 0);
    append_n(p, 10, 10, 5000);
    assert_int_equal(p->leo, 100);
    wait_hw(&e, p, 100);
    assert_int_equal(p->durable, 100);
    bk_read_t rd;
    bk_partition_read(p, 0, 1 << 20, true, &rd);
    assert_int_equal(rd.err, 0);
    assert_int_equal(rd.hw, 100);
    assert_true(rd.len > 0);
    int64_t all = rd.len;
    bk_segment_unref(rd.seg);
    /* KIP-74: a 1-byte limit still returns one whole batch. */
    bk_partition_read(p, 0, 1, true, &rd);
    assert_true(rd.len > 1 && rd.len < all);
    bk_segment_unref(rd.seg);
    int64_t one = rd.len;
    /* Reads end on a batch boundary: one and a half batches' worth gives one batch. */
    bk_partition_read(p, 0, one + one / 2, false, &rd);
    assert_int_equal(rd.len, one);
    bk_segment_unref(rd.seg);
    bk_partition_read(p, 0, 1, false, &rd);
    assert_int_equal(rd.len, 0); /* without min_one, a batch that does not fit waits */
    bk_partition_read(p, 100, 1 << 20, true, &rd);
    assert_int_equal(rd.err, 0);
    assert_int_equal(rd.len, 0);
    bk_partition_read(p, 101, 1 << 20, true, &rd);
    assert_int_equal(rd.err, CM_KERR_OFFSET_OUT_OF_RANGE);
    env_close(&e, p);
}

static void test_partition__rolls_and_reopens_with_trusted_segments(void **state)
{
    env_t e;
    env_init(&e);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/p1", tmpdir);
    bk_partition_t *p;
    assert_int_equal(bk_partition_create(&e.b, &e.tc, 0, dir, "t/1", &p), 0);
    append_n(p, 40, 10, 7000); /* ~50 KiB over 8 KiB segments */
    wait_hw(&e, p, 400);
    size_t segs = p->n_segs;
    assert_true(segs > 4);
    bk_flusher_stop(e.b.flusher); /* every seal written */
    bk_partition_close(p);
    bk_partition_unref(p);

    e.b.flusher = bk_flusher_start(&e.b);
    assert_int_equal(bk_partition_open(&e.b, &e.tc, 0, dir, "t/1", &p), 0);
    assert_int_equal(p->n_segs, segs);
    assert_int_equal(p->leo, 400);
    assert_int_equal(p->hw, 400);
    for (size_t i = 0; i + 1 < p->n_segs; i++) {
        assert_true(p->segs[i]->sealed);
        assert_true(p->segs[i]->oidx.mapped); /* trusted: loaded, not scanned */
    }
    int64_t off, ts;
    assert_int_equal(bk_partition_offset_for_time(p, 7005, &off, &ts), 0);
    assert_int_equal(off % 10, 5);
    append_n(p, 1, 10, 9000);
    wait_hw(&e, p, 410);
    env_close(&e, p);
}

static void test_partition__reopen_cuts_torn_tail_of_active_segment(void **state)
{
    env_t e;
    env_init(&e);
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/p2", tmpdir);
    bk_partition_t *p;
    assert_int_equal(bk_partition_create(&e.b, &e.tc, 0, dir, "t/2", &p), 0);
    append_n(p, 3, 5, 1000);
    wait_hw(&e, p, 15);
    snprintf(path, sizeof(path), "%s.log", p->segs[p->n_segs - 1]->path);
    int64_t size = p->segs[p->n_segs - 1]->size;
    env_close(&e, p);
    assert_int_equal(truncate(path, size - 1), 0);

    env_init(&e);
    assert_int_equal(bk_partition_open(&e.b, &e.tc, 0, dir, "t/2", &p), 0);
    assert_int_equal(p->leo, 10);
    append_n(p, 1, 5, 2000); /* the log continues where the good data ends */
    wait_hw(&e, p, 15);
    env_close(&e, p);
}

static void test_partition__retention_deletes_whole_old_segments(void **state)
{
    env_t e;
    env_init(&e);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/p3", tmpdir);
    bk_partition_t *p;
    assert_int_equal(bk_partition_create(&e.b, &e.tc, 0, dir, "t/3", &p), 0);
    append_n(p, 30, 10, 1000); /* timestamps from 1970: old */
    wait_hw(&e, p, 300);
    size_t before = p->n_segs;
    int64_t bytes = p->log_bytes;
    /* By size: keep at most ~16 KiB. */
    e.tc.retention_bytes = 16384;
    int deleted = bk_partition_retain(p, cm_now_ms());
    assert_true(deleted > 0);
    assert_true(p->log_bytes < bytes);
    assert_true(p->log_bytes - p->segs[0]->size < 16384);
    assert_int_equal(p->n_segs, before - (size_t)deleted);
    assert_true(bk_partition_log_start(p) > 0);
    bk_read_t rd;
    bk_partition_read(p, 0, 100, true, &rd);
    assert_int_equal(rd.err, CM_KERR_OFFSET_OUT_OF_RANGE);
    /* By time: everything is older than a day, the active segment included. */
    e.tc.retention_bytes = -1;
    e.tc.retention_ms = 86400000;
    bk_partition_retain(p, cm_now_ms());
    assert_int_equal(p->n_segs, 1);
    assert_int_equal(p->log_bytes, 0);
    assert_int_equal(bk_partition_log_start(p), 300);
    assert_int_equal(p->leo, 300);
    env_close(&e, p);
}

/* What the offsets log's compaction does: roll, write past the roll, drop what is before. */
static void test_partition__roll_and_drop_before(void **state)
{
    env_t e;
    env_init(&e);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/p4", tmpdir);
    bk_partition_t *p;
    assert_int_equal(bk_partition_create(&e.b, &e.tc, 0, dir, "t/4", &p), 0);
    append_n(p, 20, 10, 1000);
    wait_hw(&e, p, 200);
    size_t segs = p->n_segs;
    assert_int_equal(bk_partition_roll(p), 0);
    assert_int_equal(p->n_segs, segs + 1);
    assert_int_equal(bk_partition_roll(p), 0); /* the new segment is empty: no roll */
    assert_int_equal(p->n_segs, segs + 1);
    /* Only whole segments that end at or before the offset. */
    assert_true(segs >= 2);
    int64_t first_end = p->segs[0]->next_offset;
    assert_int_equal(bk_partition_drop_before(p, first_end + 1), 1);
    assert_int_equal(bk_partition_log_start(p), first_end);
    append_n(p, 2, 10, 2000);
    wait_hw(&e, p, 220);
    assert_int_equal(bk_partition_drop_before(p, 200), (int)segs - 1);
    assert_int_equal(p->n_segs, 1);
    assert_int_equal(bk_partition_log_start(p), 200);
    /* Never the active segment. */
    assert_int_equal(bk_partition_drop_before(p, 1000), 0);
    /* A segment that ends where hw is goes once the log rolled past it: nothing left. */
    assert_int_equal(bk_partition_roll(p), 0);
    assert_int_equal(bk_partition_drop_before(p, 220), 1);
    assert_int_equal(p->n_segs, 1);
    assert_int_equal(bk_partition_log_start(p), 220);
    assert_int_equal(p->hw, 220);
    append_n(p, 1, 10, 3000);
    wait_hw(&e, p, 230);
    env_close(&e, p);
    /* The log starts there after a reopen too. */
    env_init(&e);
    assert_int_equal(bk_partition_open(&e.b, &e.tc, 0, dir, "t/4", &p), 0);
    assert_int_equal(bk_partition_log_start(p), 220);
    assert_int_equal(p->leo, 230);
    env_close(&e, p);
}

/* The leader epoch of the batch holding `offset`, read back from the log. */
static int32_t epoch_on_disk(env_t *e, bk_partition_t *p, int64_t offset)
{
    (void)e;
    for (size_t i = p->n_segs; i > 0; i--) {
        bk_segment_t *s = p->segs[i - 1];
        if (s->base_offset > offset)
            continue;
        int64_t pos;
        cm_batch_hdr_t h;
        assert_int_equal(bk_segment_locate(s, offset, s->size, &pos, &h), 1);
        return h.leader_epoch;
    }
    fail();
    return -1;
}

static void reopen(env_t *e, bk_partition_t **p, const char *dir, const char *label)
{
    env_close(e, *p);
    env_init(e);
    assert_int_equal(bk_partition_open(&e->b, &e->tc, 0, dir, label, p), 0);
}

static void expect_history(const bk_partition_t *p, int n, const bk_epoch_entry_t *want)
{
    assert_int_equal(p->epochs.n, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(p->epochs.v[i].epoch, want[i].epoch);
        assert_int_equal(p->epochs.v[i].start, want[i].start);
    }
}

static void test_partition__stamps_leader_epochs_and_keeps_their_history(void **state)
{
    env_t e;
    env_init(&e);
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/p5", tmpdir);
    snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", dir);
    bk_partition_t *p;
    assert_int_equal(bk_partition_create(&e.b, &e.tc, 0, dir, "t/5", &p), 0);
    append_n(p, 10, 10, 1000);
    bk_partition_set_leader_epoch(p, 3, true);
    bk_partition_set_leader_epoch(p, 3, true); /* the same snapshot again: no new entry */
    append_n(p, 10, 10, 2000);
    bk_partition_set_leader_epoch(p, 4, false); /* a follower only learns the epoch */
    bk_partition_set_leader_epoch(p, 7, true);  /* a leader that writes nothing */
    wait_hw(&e, p, 200);
    assert_int_equal(epoch_on_disk(&e, p, 99), 0);
    assert_int_equal(epoch_on_disk(&e, p, 100), 3);
    assert_int_equal(epoch_on_disk(&e, p, 199), 3);
    const bk_epoch_entry_t want[] = { { 0, 0 }, { 3, 100 }, { 7, 200 } };
    expect_history(p, 3, want);
    int32_t ep;
    int64_t end;
    bk_partition_epoch_end(p, 0, INT64_MAX, &ep, &end);
    assert_int_equal(ep, 0);
    assert_int_equal(end, 100);
    bk_partition_epoch_end(p, 5, INT64_MAX, &ep, &end); /* never led: ends where 7 began */
    assert_int_equal(ep, 3);
    assert_int_equal(end, 200);
    bk_partition_epoch_end(p, 7, 150, &ep, &end); /* capped: what a consumer may see */
    assert_int_equal(end, 150);
    assert_int_equal(bk_partition_check_epoch(p, -1), 0);
    assert_int_equal(bk_partition_check_epoch(p, 7), 0);
    assert_int_equal(bk_partition_check_epoch(p, 6), CM_KERR_FENCED_LEADER_EPOCH);
    assert_int_equal(bk_partition_check_epoch(p, 8), CM_KERR_UNKNOWN_LEADER_EPOCH);

    /* Reopened: the epoch that never wrote is gone, the rest is as saved. */
    reopen(&e, &p, dir, "t/5");
    expect_history(p, 2, want);
    assert_int_equal(p->leader_epoch, 3);
    /* Missing, damaged, or older than the log: rebuilt from the batches. */
    assert_int_equal(unlink(path), 0);
    reopen(&e, &p, dir, "t/5");
    expect_history(p, 2, want);
    assert_int_equal(cm_fs_write_atomic(path, "0\n1\nzz\n", 7), 0);
    reopen(&e, &p, dir, "t/5");
    expect_history(p, 2, want);
    assert_int_equal(cm_fs_write_atomic(path, "0\n1\n0 0\n", 8), 0);
    reopen(&e, &p, dir, "t/5");
    expect_history(p, 2, want);
    char *text;
    size_t len;
    assert_int_equal(cm_fs_read_file(path, 1024, &text, &len), 0);
    assert_string_equal(text, "0\n2\n0 0\n3 100\n");
    free(text);
    env_close(&e, p);
}

static void test_partition__truncate_cuts_a_diverged_tail(void **state)
{
    env_t e;
    env_init(&e);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/p6", tmpdir);
    bk_partition_t *p;
    assert_int_equal(bk_partition_create(&e.b, &e.tc, 0, dir, "t/6", &p), 0);
    append_n(p, 10, 10, 1000);
    bk_partition_set_leader_epoch(p, 2, true);
    append_n(p, 30, 10, 2000); /* ~40 KiB over 8 KiB segments */
    /* Not durable yet: come back later. */
    assert_int_equal(bk_partition_truncate(p, 150), CM_AGAIN);
    wait_hw(&e, p, 400);
    size_t segs = p->n_segs;
    assert_true(segs > 4);
    while (atomic_load(&p->seals) != 0)
        usleep(1000);
    /* Nothing to do at or past the end, or below the start. */
    assert_int_equal(bk_partition_truncate(p, 400), 0);
    assert_int_equal(p->leo, 400);
    /* Inside a batch the whole batch stays; segments past the cut go, files included. */
    char last[4200];
    snprintf(last, sizeof(last), "%s.log", p->segs[segs - 1]->path);
    assert_int_equal(bk_partition_truncate(p, 155), 0);
    assert_int_equal(p->leo, 160);
    assert_int_equal(p->hw, 160);
    assert_true(p->n_segs < segs);
    assert_int_equal(access(last, F_OK), -1);
    assert_false(p->segs[p->n_segs - 1]->sealed);
    const bk_epoch_entry_t want[] = { { 0, 0 }, { 2, 100 }, { 5, 160 } };
    expect_history(p, 2, want);
    /* A reader below the cut sees the old batches; the log goes on from the cut. */
    bk_read_t rd;
    bk_partition_read(p, 150, 1 << 20, true, &rd);
    assert_int_equal(rd.err, 0);
    assert_true(rd.len > 0);
    bk_segment_unref(rd.seg);
    wait_hw(&e, p, 160); /* the truncation's own sync */
    bk_partition_set_leader_epoch(p, 5, true);
    append_n(p, 4, 10, 3000);
    wait_hw(&e, p, 200);
    expect_history(p, 3, want);
    assert_int_equal(epoch_on_disk(&e, p, 160), 5);
    /* Below the epoch-2 start, into an older segment. */
    while (atomic_load(&p->seals) != 0)
        usleep(1000);
    assert_int_equal(bk_partition_truncate(p, 100), 0);
    assert_int_equal(p->leo, 100);
    expect_history(p, 1, want);
    int64_t bytes = p->log_bytes;
    wait_hw(&e, p, 100);
    /* What is on disk is what the partition says. */
    reopen(&e, &p, dir, "t/6");
    assert_int_equal(p->leo, 100);
    assert_int_equal(p->log_bytes, bytes);
    expect_history(p, 1, want);
    append_n(p, 1, 10, 4000);
    wait_hw(&e, p, 110);
    env_close(&e, p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index__bisects_offsets_and_times),
        cmocka_unit_test_setup_teardown(test_index__load_rejects_torn_or_unsorted_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment__append_then_locate_any_offset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment__finds_first_record_at_or_after_a_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment__recovers_after_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment__recovery_cuts_a_flipped_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment__recovery_rejects_an_offset_gap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment__recovery_of_a_last_offset_delta_of_int32_max,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_segment__time_lookup_refuses_a_record_outside_its_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment__recovery_of_garbage_keeps_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_segment__zero_tail_from_preallocation_is_a_clean_end,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition__hw_follows_fsync_and_reads_stop_there,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition__rolls_and_reopens_with_trusted_segments,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition__reopen_cuts_torn_tail_of_active_segment,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition__roll_and_drop_before, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_partition__stamps_leader_epochs_and_keeps_their_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition__truncate_cuts_a_diverged_tail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partition__retention_deletes_whole_old_segments, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
