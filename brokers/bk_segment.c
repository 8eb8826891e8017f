#include "bk_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_err.h"
#include "cm_fs.h"
#include "cm_log.h"

#define BK_SEGMENT__SCAN_CHUNK (1 << 20)
#define BK_SEGMENT__HDR_CHUNK  8192
/* Inflating one batch to look for a timestamp never takes more than this. */
#define BK_SEGMENT__INFLATE_MAX (64 << 20)

static char *bk_segment__file(const bk_segment_t *s, const char *ext, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s", s->path, ext);
    return buf;
}

static bk_segment_t *bk_segment__new(const char *dir, int64_t base)
{
    bk_segment_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    atomic_init(&s->refs, 1);
    atomic_init(&s->dir_synced, false);
    s->base_offset = base;
    s->next_offset = base;
    s->max_timestamp = -1;
    s->first_append_ms = -1;
    atomic_init(&s->fd, -1);
    bk_index_init(&s->oidx, BK_OINDEX_ENTRY);
    bk_index_init(&s->tidx, BK_TINDEX_ENTRY);
    if (asprintf(&s->path, "%s/%020" PRId64, dir, base) < 0)
        abort();
    return s;
}

int64_t bk_segment_parse_name(const char *name)
{
    if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

int bk_segment_create(const char *dir, int64_t base, bk_segment_t **out)
{
    char p[4096];
    bk_segment_t *s = bk_segment__new(dir, base);
    int fd = open(bk_segment__file(s, ".log", p, sizeof(p)), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                  0644);
    if (fd < 0)
        goto out_free;
    atomic_store(&s->fd, fd);
    if (bk_segment_reset_indexes(s) != CM_OK)
        goto out_unlink;
    *out = s;
    return CM_OK;

out_unlink:
    bk_segment_delete(s);
out_free:
    cm_log_error("cannot create segment", "path=%s errno=%s", s->path, strerror(errno));
    bk_segment_unref(s);
    return CM_EIO;
}

int bk_segment_open(const char *dir, int64_t base, bk_segment_t **out)
{
    char p[4096];
    bk_segment_t *s = bk_segment__new(dir, base);
    int fd = open(bk_segment__file(s, ".log", p, sizeof(p)), O_RDWR | O_CLOEXEC);
    atomic_store(&s->fd, fd);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        cm_log_error("cannot open segment", "path=%s errno=%s", p, strerror(errno));
        bk_segment_unref(s);
        return CM_EIO;
    }
    s->size = st.st_size;
    s->alloc_end = st.st_size;
    atomic_store(&s->dir_synced, true);
    *out = s;
    return CM_OK;
}

/* Adds the index entries due before a batch of `len` bytes at `pos` with base `base`. */
static void bk_segment__index(bk_segment_t *s, int64_t pos, int64_t len, const cm_batch_hdr_t *h,
                              int64_t interval)
{
    uint32_t rel = (uint32_t)(h->base_offset - s->base_offset);
    if (s->size > 0 && s->oidx_since >= interval) {
        bk_index_add_offset(&s->oidx, rel, (uint32_t)pos);
        s->oidx_since = 0;
    }
    if (s->size > 0 && s->tidx_since >= interval) {
        int64_t last = s->tidx.n ? bk_index_ts(&s->tidx, s->tidx.n - 1) : -1;
        if (s->max_timestamp > last) {
            bk_index_add_time(&s->tidx, s->max_timestamp, rel);
            s->tidx_since = 0;
        }
    }
    s->oidx_since += len;
    s->tidx_since += len;
}

/* Accounts for a batch now present at the end of the log. */
static void bk_segment__account(bk_segment_t *s, int64_t len, const cm_batch_hdr_t *h)
{
    s->size += len;
    s->next_offset = cm_batch_last_offset(h) + 1;
    if (h->max_timestamp > s->max_timestamp)
        s->max_timestamp = h->max_timestamp;
}

/* Makes sure [size, size + len) is allocated, extending by `step` at a time. */
static void bk_segment__prealloc(bk_segment_t *s, size_t len, int64_t step)
{
    if (step <= 0 || s->size + (int64_t)len <= s->alloc_end)
        return;
    int64_t want = s->size + (int64_t)len + step;
    int fd = bk_segment_fd(s);
    if (fd >= 0 && fallocate(fd, 0, s->alloc_end, want - s->alloc_end) == 0) {
        s->alloc_end = want;
        return;
    }
    /* Not supported or no space: plain appends still work; they are only slower. */
    cm_log_debug("segment preallocation failed", "path=%s errno=%s", s->path, strerror(errno));
}

int bk_segment_trim(bk_segment_t *s)
{
    if (s->alloc_end <= s->size)
        return CM_OK;
    int fd = bk_segment_fd(s);
    if (fd < 0 || ftruncate(fd, (off_t)s->size) != 0) {
        cm_log_warn("cannot trim preallocated space", "path=%s errno=%s", s->path, strerror(errno));
        return CM_EIO;
    }
    s->alloc_end = s->size;
    return CM_OK;
}

int bk_segment_append(bk_segment_t *s, const uint8_t *batch, size_t len, const cm_batch_hdr_t *h,
                      int64_t index_interval, int64_t prealloc, int64_t now_ms)
{
    /* Integrity: the leader assigns contiguous offsets and positions fit the index. */
    if (h->base_offset != s->next_offset || s->sealed || s->size + (int64_t)len > UINT32_MAX) {
        cm_log_error("refusing an append that breaks the log",
                     "path=%s base=%" PRId64 " expected=%" PRId64, s->path, h->base_offset,
                     s->next_offset);
        abort();
    }
    bk_segment__prealloc(s, len, prealloc);
    int fd = bk_segment_fd(s);
    if (fd < 0) {
        cm_log_error("cannot open segment", "path=%s errno=%s", s->path, strerror(errno));
        return CM_EIO;
    }
    if (cm_fs_pwrite_all(fd, batch, len, s->size) != 0) {
        int e = errno;
        /* Leave no torn batch behind: the log ends at the last whole batch. */
        s->alloc_end = s->size;
        if (ftruncate(fd, (off_t)s->size) != 0)
            cm_log_error("cannot cut back a failed write", "path=%s errno=%s", s->path,
                         strerror(errno));
        cm_log_error("segment write failed", "path=%s errno=%s", s->path, strerror(e));
        return CM_EIO;
    }
    bk_segment__index(s, s->size, (int64_t)len, h, index_interval);
    bk_segment__account(s, (int64_t)len, h);
    if (s->alloc_end < s->size)
        s->alloc_end = s->size;
    if (s->first_append_ms < 0)
        s->first_append_ms = now_ms;
    return CM_OK;
}

void bk_segment_seal(bk_segment_t *s)
{
    if (s->sealed)
        return;
    bk_segment_trim(s);
    int64_t last = s->tidx.n ? bk_index_ts(&s->tidx, s->tidx.n - 1) : -1;
    uint32_t end_rel = (uint32_t)(s->next_offset - s->base_offset);
    uint32_t last_rel = s->tidx.n ? bk_index_rel(&s->tidx, s->tidx.n - 1) : 0;
    if (s->size > 0 && (s->tidx.n == 0 || (s->max_timestamp >= last && end_rel > last_rel)))
        bk_index_add_time(&s->tidx, s->max_timestamp, end_rel);
    s->sealed = true;
}

/* Writes one index file: all its entries, durably. */
static int bk_segment__write_index(bk_segment_t *s, const bk_index_t *ix, const char *ext)
{
    char p[4096];
    int fd = open(bk_segment__file(s, ext, p, sizeof(p)), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return CM_EIO;
    int rc = bk_index_write(ix, fd) == CM_OK && fsync(fd) == 0 ? CM_OK : CM_EIO;
    close(fd);
    return rc;
}

int bk_segment_reset_indexes(bk_segment_t *s)
{
    static const char *const ext[] = { ".index", ".timeindex" };
    for (size_t i = 0; i < 2; i++) {
        char p[4096];
        int fd = open(bk_segment__file(s, ext[i], p, sizeof(p)),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return CM_EIO;
        close(fd);
    }
    s->index_due = true;
    return CM_OK;
}

int bk_segment_write_indexes(bk_segment_t *s)
{
    if (!s->index_due)
        return CM_OK;
    if (bk_segment__write_index(s, &s->oidx, ".index") != CM_OK ||
        bk_segment__write_index(s, &s->tidx, ".timeindex") != CM_OK)
        return CM_EIO;
    s->index_due = false;
    return CM_OK;
}

/* ---- the descriptor cache ---- */

static void bk_segment__lru_unlink(bk_segment_t *s)
{
    bk_fdcache_t *c = s->cache;
    if (!s->in_lru)
        return;
    if (s->lru_prev != NULL)
        s->lru_prev->lru_next = s->lru_next;
    else
        c->head = s->lru_next;
    if (s->lru_next != NULL)
        s->lru_next->lru_prev = s->lru_prev;
    else
        c->tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
    s->in_lru = false;
    c->n--;
}

static void bk_segment__lru_push(bk_segment_t *s)
{
    bk_fdcache_t *c = s->cache;
    s->lru_prev = NULL;
    s->lru_next = c->head;
    if (c->head != NULL)
        c->head->lru_prev = s;
    c->head = s;
    if (c->tail == NULL)
        c->tail = s;
    s->in_lru = true;
    c->n++;
}

/* How many of the least recently used a shrink looks at: most are closable (idle), and a
 * bound that cannot be met now (every one busy) costs no more than this per open. */
#define BK_SEGMENT__SHRINK_SCAN 32

/* Closes least recently used descriptors that may close until the cache is within bound,
 * looking at `scan` of them at most. */
static void bk_segment__shrink(bk_fdcache_t *c, const bk_segment_t *keep, int64_t scan)
{
    bk_segment_t *s = c->tail;
    for (int64_t looked = 0; c->max > 0 && c->n > c->max && s != NULL && looked < scan; looked++) {
        bk_segment_t *prev = s->lru_prev;
        if (s != keep && (c->may_close == NULL || c->may_close(s->owner, s))) {
            bk_segment__lru_unlink(s);
            int fd = atomic_exchange(&s->fd, -1);
            if (fd >= 0)
                close(fd);
            c->closes++;
        }
        s = prev;
    }
}

int bk_segment_fd(bk_segment_t *s)
{
    int fd = atomic_load(&s->fd);
    if (fd < 0) {
        char p[4096];
        fd = open(bk_segment__file(s, ".log", p, sizeof(p)), O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return -1;
        atomic_store(&s->fd, fd);
        if (s->cache != NULL)
            s->cache->opens++;
    }
    if (s->cache != NULL) {
        if (s->cache->head != s) {
            bk_segment__lru_unlink(s);
            bk_segment__lru_push(s);
        }
        bk_segment__shrink(s->cache, s, BK_SEGMENT__SHRINK_SCAN);
    }
    return fd;
}

void bk_fdcache_trim(bk_fdcache_t *c, int64_t scan)
{
    bk_segment__shrink(c, NULL, scan);
}

void bk_segment_cache(bk_segment_t *s, bk_fdcache_t *cache, void *owner)
{
    bk_segment_uncache(s);
    s->cache = cache;
    s->owner = owner;
    if (atomic_load(&s->fd) >= 0) {
        bk_segment__lru_push(s);
        bk_segment__shrink(cache, s, BK_SEGMENT__SHRINK_SCAN);
    }
}

void bk_segment_uncache(bk_segment_t *s)
{
    if (s->cache == NULL)
        return;
    bk_segment__lru_unlink(s);
    s->cache = NULL;
    s->owner = NULL;
}

int bk_segment_walk(bk_segment_t *s, int64_t pos, int64_t limit, bk_segment_hdr_fn fn, void *ctx)
{
    uint8_t buf[BK_SEGMENT__HDR_CHUNK];
    int64_t buf_pos = 0;
    ssize_t buf_len = 0;
    int fd = pos + CM_BATCH_HEADER_SIZE <= limit ? bk_segment_fd(s) : -1;
    if (pos + CM_BATCH_HEADER_SIZE <= limit && fd < 0)
        return CM_EIO;
    while (pos + CM_BATCH_HEADER_SIZE <= limit) {
        if (pos < buf_pos || pos + CM_BATCH_HEADER_SIZE > buf_pos + buf_len) {
            buf_pos = pos;
            buf_len = cm_fs_pread_full(fd, buf, sizeof(buf), pos);
            if (buf_len < CM_BATCH_HEADER_SIZE)
                return buf_len < 0 ? CM_EIO : CM_ECORRUPT;
        }
        cm_batch_hdr_t h;
        cm_batch_hdr_parse(buf + (pos - buf_pos), &h);
        if (h.magic != CM_BATCH_MAGIC || h.batch_length < CM_BATCH_HEADER_SIZE - 12)
            return CM_ECORRUPT;
        int r = fn(ctx, pos, &h);
        if (r != 0)
            return r;
        pos += cm_batch_size(&h);
    }
    return 0;
}

typedef struct {
    int64_t offset;
    int64_t pos;
    cm_batch_hdr_t h;
} bk_segment__locate_ctx_t;

static int bk_segment__locate_fn(void *ctx, int64_t pos, const cm_batch_hdr_t *h)
{
    bk_segment__locate_ctx_t *c = ctx;
    if (cm_batch_last_offset(h) < c->offset)
        return 0;
    c->pos = pos;
    c->h = *h;
    return 1;
}

int bk_segment_locate(bk_segment_t *s, int64_t offset, int64_t limit, int64_t *pos,
                      cm_batch_hdr_t *h)
{
    uint32_t found_rel;
    uint32_t rel = offset <= s->base_offset ? 0 : (uint32_t)(offset - s->base_offset);
    int64_t start = bk_index_lookup_offset(&s->oidx, rel, &found_rel);
    bk_segment__locate_ctx_t c = { .offset = offset };
    int r = bk_segment_walk(s, start, limit, bk_segment__locate_fn, &c);
    if (r == 1) {
        *pos = c.pos;
        *h = c.h;
    }
    return r;
}

typedef struct {
    int64_t to;
    int64_t end;
} bk_segment__end_before_ctx_t;

static int bk_segment__end_before_fn(void *ctx, int64_t pos, const cm_batch_hdr_t *h)
{
    bk_segment__end_before_ctx_t *c = ctx;
    if (pos + cm_batch_size(h) > c->to)
        return 1;
    c->end = pos + cm_batch_size(h);
    return 0;
}

int64_t bk_segment_batch_end(bk_segment_t *s, int64_t from, int64_t to)
{
    /* Start at the last index entry before `to` (a batch boundary), not at `from`: the walk
     * then covers at most one index interval, whatever the size of the range. */
    int64_t start = bk_index_lookup_pos(&s->oidx, (uint32_t)(to < UINT32_MAX ? to : UINT32_MAX));
    if (start < from)
        start = from;
    bk_segment__end_before_ctx_t c = { .to = to, .end = start };
    int r = bk_segment_walk(s, start, to, bk_segment__end_before_fn, &c);
    return r < 0 ? r : c.end;
}

typedef struct {
    bk_segment_t *s;
    int64_t ts;
    int64_t offset;
    int64_t found_ts;
    int err;
} bk_segment__time_ctx_t;

/* The first record of a batch with timestamp >= ts. */
static int bk_segment__first_at_time(const uint8_t *batch, const cm_batch_hdr_t *h, int64_t ts,
                                     int64_t *offset, int64_t *found_ts)
{
    cm_record_iter_t it;
    uint8_t *owned;
    if (cm_batch_records(batch, h, BK_SEGMENT__INFLATE_MAX, &it, &owned) != CM_BATCH_OK)
        return CM_ECORRUPT;
    cm_record_t r;
    int got;
    while ((got = cm_record_next(&it, &r)) == 1) {
        /* A record's offset is its batch's base plus its delta, which must lie within the
         * batch: one that does not is damage, not an offset to give a client. */
        if (r.offset_delta < 0 || r.offset_delta > h->last_offset_delta) {
            got = -1;
            break;
        }
        int64_t t = cm_record_timestamp(h, &r);
        if (t >= ts) {
            *offset = h->base_offset + r.offset_delta;
            *found_ts = t;
            break;
        }
    }
    free(owned);
    return got == 1 ? CM_OK : CM_ECORRUPT;
}

static int bk_segment__time_fn(void *ctx, int64_t pos, const cm_batch_hdr_t *h)
{
    bk_segment__time_ctx_t *c = ctx;
    if (h->max_timestamp < c->ts)
        return 0;
    /* This batch holds the first record at or after ts: read it to find which one. */
    size_t len = (size_t)cm_batch_size(h);
    uint8_t *batch = malloc(len);
    if (batch == NULL)
        abort();
    int rc = 1;
    int fd = bk_segment_fd(c->s);
    if (fd < 0 || cm_fs_pread_full(fd, batch, len, pos) != (ssize_t)len)
        rc = CM_EIO;
    else if (bk_segment__first_at_time(batch, h, c->ts, &c->offset, &c->found_ts) != CM_OK)
        rc = CM_ECORRUPT;
    free(batch);
    return rc;
}

int bk_segment_find_time(bk_segment_t *s, int64_t ts, int64_t limit, int64_t *offset,
                         int64_t *found_ts)
{
    if (s->max_timestamp < ts)
        return 0;
    uint32_t rel = bk_index_lookup_time(&s->tidx, ts), found_rel;
    int64_t start = bk_index_lookup_offset(&s->oidx, rel, &found_rel);
    bk_segment__time_ctx_t c = { .s = s, .ts = ts };
    int r = bk_segment_walk(s, start, limit, bk_segment__time_fn, &c);
    if (r == 1) {
        *offset = c.offset;
        *found_ts = c.found_ts;
    }
    return r;
}

/* The end of the last batch, walking from the last offset-index entry. */
typedef struct {
    int64_t end;
    cm_batch_hdr_t last;
    int64_t batches;
} bk_segment__end_ctx_t;

static int bk_segment__end_fn(void *ctx, int64_t pos, const cm_batch_hdr_t *h)
{
    bk_segment__end_ctx_t *c = ctx;
    c->end = pos + cm_batch_size(h);
    c->last = *h;
    c->batches++;
    return 0;
}

int bk_segment_load(bk_segment_t *s, int64_t next_base, int64_t index_interval)
{
    char p[4096];
    if (bk_index_load(&s->oidx, bk_segment__file(s, ".index", p, sizeof(p)), BK_OINDEX_ENTRY) !=
            CM_OK ||
        bk_index_load(&s->tidx, bk_segment__file(s, ".timeindex", p, sizeof(p)), BK_TINDEX_ENTRY) !=
            CM_OK)
        goto out_corrupt;
    if (s->size == 0 || s->tidx.n == 0)
        goto out_corrupt;
    /* The sealing entry says where the segment ends; the log must agree exactly. */
    int64_t end_offset = s->base_offset + bk_index_rel(&s->tidx, s->tidx.n - 1);
    if (end_offset != next_base)
        goto out_corrupt;
    if (s->oidx.n > 0 && bk_index_pos(&s->oidx, s->oidx.n - 1) >= s->size)
        goto out_corrupt;
    uint32_t found_rel;
    int64_t start =
        s->oidx.n ? bk_index_lookup_offset(&s->oidx, UINT32_MAX, &found_rel) : (int64_t)0;
    bk_segment__end_ctx_t c = { .end = start };
    if (bk_segment_walk(s, start, s->size, bk_segment__end_fn, &c) != 0 || c.end != s->size ||
        c.batches == 0 || cm_batch_last_offset(&c.last) + 1 != next_base)
        goto out_corrupt;
    s->next_offset = next_base;
    s->max_timestamp = bk_index_ts(&s->tidx, s->tidx.n - 1);
    s->sealed = true;
    (void)index_interval;
    return CM_OK;

out_corrupt:
    bk_index_free(&s->oidx);
    bk_index_free(&s->tidx);
    return CM_ECORRUPT;
}

/* A read window over the log file for recovery: [pos, pos + len) of the file in buf. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    int64_t pos;
    size_t len;
} bk_segment__window_t;

/* Makes [at, at + need) available in the window (reading ahead as far as it holds).
 * Returns the bytes available from `at` (less than `need` only at the end of the file). */
static ssize_t bk_segment__window_get(bk_segment__window_t *w, int fd, int64_t file_size,
                                      int64_t at, size_t need)
{
    if (at >= w->pos && at + (int64_t)need <= w->pos + (int64_t)w->len)
        return (ssize_t)(w->pos + (int64_t)w->len - at);
    if (need > w->cap) {
        w->cap = need;
        w->buf = realloc(w->buf, w->cap);
        if (w->buf == NULL)
            abort();
    }
    int64_t left = file_size - at;
    size_t want = left < (int64_t)w->cap ? (size_t)left : w->cap;
    ssize_t got = cm_fs_pread_full(fd, w->buf, want, at);
    if (got < 0)
        return -1;
    w->pos = at;
    w->len = (size_t)got;
    return got;
}

/* 1 when [from, to) of the file holds only zero bytes (preallocated, never written). */
static int bk_segment__all_zero(int fd, int64_t from, int64_t to)
{
    uint8_t buf[65536];
    while (from < to) {
        size_t want = to - from < (int64_t)sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
        ssize_t got = cm_fs_pread_full(fd, buf, want, from);
        if (got <= 0)
            return got < 0 ? -1 : 0;
        for (ssize_t i = 0; i < got; i++)
            if (buf[i] != 0)
                return 0;
        from += got;
    }
    return 1;
}

int bk_segment_recover(bk_segment_t *s, int64_t index_interval, bk_scan_result_t *res, bool repair)
{
    memset(res, 0, sizeof(*res));
    int64_t file_size = s->size;
    bk_index_clear(&s->oidx);
    bk_index_clear(&s->tidx);
    s->size = 0;
    s->next_offset = s->base_offset;
    s->max_timestamp = -1;
    s->oidx_since = s->tidx_since = 0;

    int fd = bk_segment_fd(s);
    if (fd < 0)
        return CM_EIO;
    bk_segment__window_t w = { .cap = BK_SEGMENT__SCAN_CHUNK };
    w.buf = malloc(w.cap);
    if (w.buf == NULL)
        abort();
    int err = CM_BATCH_OK;
    while (s->size < file_size) {
        int64_t pos = s->size;
        ssize_t avail = bk_segment__window_get(&w, fd, file_size, pos, CM_BATCH_HEADER_SIZE);
        if (avail < 0)
            goto out_eio;
        cm_batch_hdr_t h;
        err = cm_batch_check(w.buf + (pos - w.pos), (size_t)avail, &h);
        if (err == CM_BATCH_ETRUNC && avail >= CM_BATCH_HEADER_SIZE &&
            pos + cm_batch_size(&h) <= file_size) {
            /* The batch is whole in the file but not in the window: read all of it. */
            avail = bk_segment__window_get(&w, fd, file_size, pos, (size_t)cm_batch_size(&h));
            if (avail < 0)
                goto out_eio;
            err = cm_batch_check(w.buf + (pos - w.pos), (size_t)avail, &h);
        }
        if (err == CM_BATCH_OK && (h.base_offset != s->next_offset || h.last_offset_delta < 0 ||
                                   h.records_count != (int64_t)h.last_offset_delta + 1))
            err = BK_SCAN_EOFFSET;
        if (err != CM_BATCH_OK)
            break;
        bk_segment__index(s, pos, cm_batch_size(&h), &h, index_interval);
        bk_segment__account(s, cm_batch_size(&h), &h);
        res->batches++;
    }
    free(w.buf);
    if (s->size < file_size) {
        int zeros = bk_segment__all_zero(fd, s->size, file_size);
        if (zeros < 0)
            return CM_EIO;
        if (zeros) {
            res->zero_tail = file_size - s->size;
        } else {
            res->truncated_bytes = file_size - s->size;
            res->at = s->size;
            res->reason = err;
        }
        if (repair && (ftruncate(fd, (off_t)s->size) != 0 || fdatasync(fd) != 0))
            return CM_EIO;
    }
    s->alloc_end = s->size;
    return CM_OK;

out_eio:
    free(w.buf);
    return CM_EIO;
}

int bk_segment_truncate(bk_segment_t *s, int64_t pos, int64_t index_interval)
{
    int fd = bk_segment_fd(s);
    if (fd < 0 || ftruncate(fd, (off_t)pos) != 0) {
        cm_log_error("cannot truncate segment", "path=%s pos=%" PRId64 " errno=%s", s->path, pos,
                     strerror(errno));
        return CM_EIO;
    }
    /* The indexes, the offsets and the newest timestamp are those of what is left: recovery
     * rebuilds them from the log, which now ends at `pos`. */
    s->size = pos;
    bk_scan_result_t res;
    if (bk_segment_recover(s, index_interval, &res, false) != CM_OK || s->size != pos)
        return CM_ECORRUPT;
    s->sealed = false;
    s->first_append_ms = -1;
    return bk_segment_reset_indexes(s);
}

void bk_segment_delete(bk_segment_t *s)
{
    char p[4096];
    static const char *exts[] = { ".log", ".index", ".timeindex" };
    for (int i = 0; i < 3; i++)
        if (unlink(bk_segment__file(s, exts[i], p, sizeof(p))) != 0 && errno != ENOENT)
            cm_log_warn("cannot remove segment file", "path=%s errno=%s", p, strerror(errno));
    s->deleted = true;
}

bk_segment_t *bk_segment_ref(bk_segment_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void bk_segment_unref(bk_segment_t *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    int fd = atomic_load(&s->fd);
    if (fd >= 0)
        close(fd);
    bk_index_free(&s->oidx);
    bk_index_free(&s->tidx);
    free(s->path);
    free(s);
}
