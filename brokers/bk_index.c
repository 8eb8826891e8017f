#include "bk_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_assert.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kbuf.h"

void bk_index_init(bk_index_t *ix, size_t esize)
{
    memset(ix, 0, sizeof(*ix));
    ix->esize = esize;
}

void bk_index_free(bk_index_t *ix)
{
    if (ix->mapped) {
        if (ix->map_len > 0)
            munmap(ix->data, ix->map_len);
    } else {
        free(ix->data);
    }
    size_t esize = ix->esize;
    bk_index_init(ix, esize);
}

void bk_index_clear(bk_index_t *ix)
{
    if (ix->mapped)
        bk_index_free(ix);
    ix->n = 0;
}

static uint8_t *bk_index__push(bk_index_t *ix)
{
    if (ix->mapped) {
        /* Copy a mapped index into memory before it grows (only recovery does this). */
        uint8_t *copy = malloc(ix->n * ix->esize + ix->esize);
        if (copy == NULL)
            abort();
        if (ix->n)
            memcpy(copy, ix->data, ix->n * ix->esize);
        size_t n = ix->n;
        bk_index_free(ix);
        ix->data = copy;
        ix->n = n;
        ix->cap = n + 1;
    }
    if (ix->n == ix->cap) {
        ix->cap = ix->cap ? ix->cap * 2 : 64;
        ix->data = realloc(ix->data, ix->cap * ix->esize);
        if (ix->data == NULL)
            abort();
    }
    return ix->data + ix->n++ * ix->esize;
}

/* The layouts on disk (bk_index.h): big-endian u32 + u32, and i64 + u32. */
_Static_assert(BK_OINDEX_ENTRY == 4 + 4, "offset index entry: relative offset, position");
_Static_assert(BK_TINDEX_ENTRY == 8 + 4, "time index entry: timestamp, relative offset");

void bk_index_add_offset(bk_index_t *ix, uint32_t rel, uint32_t pos)
{
    /* Bisection needs both columns strictly increasing. */
    cm_assert(ix->esize == BK_OINDEX_ENTRY);
    cm_assert(ix->n == 0 || (rel > bk_index_rel(ix, ix->n - 1) && pos > bk_index_pos(ix, ix->n - 1)));
    uint8_t *e = bk_index__push(ix);
    cm_put_be32(e, rel);
    cm_put_be32(e + 4, pos);
}

void bk_index_add_time(bk_index_t *ix, int64_t ts, uint32_t rel)
{
    cm_assert(ix->esize == BK_TINDEX_ENTRY);
    cm_assert(ix->n == 0 || (ts >= bk_index_ts(ix, ix->n - 1) && rel > bk_index_rel(ix, ix->n - 1)));
    uint8_t *e = bk_index__push(ix);
    cm_put_be64(e, (uint64_t)ts);
    cm_put_be32(e + 8, rel);
}

uint32_t bk_index_rel(const bk_index_t *ix, size_t i)
{
    const uint8_t *e = ix->data + i * ix->esize;
    return ix->esize == BK_OINDEX_ENTRY ? cm_be32(e) : cm_be32(e + 8);
}

uint32_t bk_index_pos(const bk_index_t *ix, size_t i)
{
    return cm_be32(ix->data + i * ix->esize + 4);
}

int64_t bk_index_ts(const bk_index_t *ix, size_t i)
{
    return (int64_t)cm_be64(ix->data + i * ix->esize);
}

static int64_t bk_index__rel_key(const bk_index_t *ix, size_t i)
{
    return bk_index_rel(ix, i);
}

static int64_t bk_index__pos_key(const bk_index_t *ix, size_t i)
{
    return bk_index_pos(ix, i);
}

static int64_t bk_index__ts_key(const bk_index_t *ix, size_t i)
{
    return bk_index_ts(ix, i);
}

/* How many leading entries have key <= limit (keys are sorted): bisection, O(log n) over
 * the mapped or in-memory entries. */
static size_t bk_index__count_le(const bk_index_t *ix,
                                 int64_t (*key)(const bk_index_t *ix, size_t i), int64_t limit)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key(ix, mid) <= limit)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t bk_index_lookup_offset(const bk_index_t *ix, uint32_t rel, uint32_t *found_rel)
{
    size_t n = bk_index__count_le(ix, bk_index__rel_key, rel);
    *found_rel = n ? bk_index_rel(ix, n - 1) : 0;
    return n ? bk_index_pos(ix, n - 1) : 0;
}

uint32_t bk_index_lookup_pos(const bk_index_t *ix, uint32_t pos)
{
    size_t n = bk_index__count_le(ix, bk_index__pos_key, pos);
    return n ? bk_index_pos(ix, n - 1) : 0;
}

uint32_t bk_index_lookup_time(const bk_index_t *ix, int64_t ts)
{
    if (ts == INT64_MIN)
        return 0;
    size_t n = bk_index__count_le(ix, bk_index__ts_key, ts - 1); /* strictly below ts */
    return n ? bk_index_rel(ix, n - 1) : 0;
}

int bk_index_load(bk_index_t *ix, const char *path, size_t esize)
{
    bk_index_init(ix, esize);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CM_ENOENT : CM_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return CM_EIO;
    }
    if (st.st_size % (off_t)esize != 0 || st.st_size > UINT32_MAX) {
        close(fd);
        return CM_ECORRUPT;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return CM_EIO;
        }
        ix->data = p;
        ix->map_len = (size_t)st.st_size;
    }
    close(fd);
    ix->mapped = true;
    ix->n = (size_t)st.st_size / esize;
    /* Entries must be strictly increasing in relative offset (and, for the time index,
     * non-decreasing in time): anything else is a torn or foreign file. */
    for (size_t i = 1; i < ix->n; i++) {
        if (bk_index_rel(ix, i) <= bk_index_rel(ix, i - 1) ||
            (esize == BK_TINDEX_ENTRY && bk_index_ts(ix, i) < bk_index_ts(ix, i - 1)) ||
            (esize == BK_OINDEX_ENTRY && bk_index_pos(ix, i) <= bk_index_pos(ix, i - 1))) {
            bk_index_free(ix);
            return CM_ECORRUPT;
        }
    }
    return CM_OK;
}

int bk_index_write(const bk_index_t *ix, int fd)
{
    size_t len = ix->n * ix->esize;
    if (cm_fs_pwrite_all(fd, ix->data, len, 0) != 0 || ftruncate(fd, (off_t)len) != 0)
        return CM_EIO;
    return CM_OK;
}
