/*
 * Segment and partition recovery (brokers/bk_partition.c, bk_segment.c, bk_index.c): what
 * the broker does at start with whatever a crash, a torn write or a flipped bit left in a
 * partition directory. The input is a segment's log file.
 *
 * Each input is recovered three ways, in a private directory on tmpfs when there is one:
 *   1. as it is, as the only (active) segment: bk_partition_open scans it, truncates it at
 *      the first bad batch and rebuilds its indexes;
 *   2. with every CRC recomputed (so that mutations of covered bytes get past the CRC
 *      check) and cut after its first batch into two segments, the second named by the
 *      offset the first batch claims comes next: the first is recovered, sealed and its
 *      index files written, or, when it is damaged or does not reach the second, the
 *      partition is offline with every file left as it was;
 *   3. the directory of 2 opened again: segments below the recovery point are now trusted
 *      from their index files (bk_segment_load), and the outcome must be the same.
 *
 * After every open:
 *   - recovery threw nothing acknowledged away: no segment file is gone, and only the last
 *     segment of a partition that stays online may be cut (a torn tail), to a prefix of
 *     itself; a partition with a damaged segment before the last is offline, says why, and
 *     every file is byte for byte as it was;
 *   - what each segment keeps is whole batches, each passing cm_batch_check, with
 *     contiguous offsets from its base to its next offset (segment after segment when
 *     online, where a file is exactly as long as its segment); every offset-index entry
 *     points at the batch it names; the log end and high watermark are the last segment's
 *     next offset;
 *   - reads planned at the interesting offsets and time lookups (which inflate compressed
 *     batches) return nothing outside the log, and an offline partition serves no reads.
 *
 * Broker bugs this target found, fixed (their inputs are corpus/segment_recovery/regress-*):
 *   1. bk_segment_recover computed `h.last_offset_delta + 1` in 32 bits, which overflowed
 *      for a batch whose lastOffsetDelta is INT32_MAX (UBSan).
 *   2. bk_segment__first_at_time trusted a stored record's offset delta, so ListOffsets by
 *      time answered an offset outside its batch and the log when a batch's records
 *      disagreed with its header; such a batch is now reported corrupt.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_partition.h"
#include "bk_segment.h"
#include "cm_crc32c.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kproto.h"
#include "cm_krecord.h"
#include "cm_log.h"
#include "fuzz.h"

#define FUZZ__INDEX_INTERVAL 128 /* small: many index entries per input */

static char fuzz__root[256];
static bk_broker_t fuzz__b;
static cm_tconfig_t fuzz__tc;

static void fuzz__cleanup(void)
{
    cm_fs_remove_tree(fuzz__root);
}

/*
 * Removes the directories of earlier runs that are gone: libFuzzer often ends a run with
 * _Exit (a crash, a time limit), so atexit handlers are not a promise. Directories are
 * named streamd-fuzz-<pid>-XXXXXX; one whose process no longer exists is left over.
 */
static void fuzz__sweep(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        char path[512];
        if (sscanf(e->d_name, "streamd-fuzz-%ld-", &pid) != 1 || pid <= 0 ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
        cm_fs_remove_tree(path);
    }
    closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Above every level: damaged segments are what this target feeds the broker, and each
     * would log an error line. */
    cm_log_init("fuzz", (cm_log_level_t)(CM_LOG_ERROR + 1));
    struct stat st;
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    fuzz__sweep(tmp);
    snprintf(fuzz__root, sizeof(fuzz__root), "%s/streamd-fuzz-%ld-XXXXXX", tmp, (long)getpid());
    if (mkdtemp(fuzz__root) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz__cleanup);
    fuzz__b.cfg.index_interval_bytes = FUZZ__INDEX_INTERVAL;
    fuzz__b.cfg.topic_defaults.retention_ms = -1;
    fuzz__b.cfg.topic_defaults.retention_bytes = -1;
    fuzz__b.cfg.topic_defaults.segment_bytes = 1 << 30;
    fuzz__b.cfg.topic_defaults.segment_ms = 3600000;
    fuzz__b.cfg.topic_defaults.max_message_bytes = 1 << 20;
    cm_tconfig_init(&fuzz__tc, &fuzz__b.cfg.topic_defaults);
    return 0;
}

static void fuzz__write(const char *dir, int64_t base, const uint8_t *p, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%020lld.log", dir, (long long)base);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || cm_fs_pwrite_all(fd, p, len, 0) != 0 || close(fd) != 0) {
        perror(path);
        abort();
    }
}

/*
 * One segment on disk: whole valid batches with contiguous offsets, indexes agreeing.
 */
static void fuzz__check_segment(const bk_segment_t *s, bool online)
{
    struct stat st;
    fuzz_assert(fstat(s->fd, &st) == 0);
    if (online ? st.st_size != s->size : st.st_size < s->size)
        fuzz_fail("segment %s: file is %lld bytes, segment says %lld", s->path,
                  (long long)st.st_size, (long long)s->size);
    uint8_t *log = malloc(s->size > 0 ? (size_t)s->size : 1);
    if (log == NULL)
        abort();
    fuzz_assert(cm_fs_pread_full(s->fd, log, (size_t)s->size, 0) == s->size);
    int64_t pos = 0, next = s->base_offset;
    while (pos < s->size) {
        cm_batch_hdr_t h;
        int rc = cm_batch_check(log + pos, (size_t)(s->size - pos), &h);
        if (rc != CM_BATCH_OK)
            fuzz_fail("segment %s keeps a bad batch at %lld: %s", s->path, (long long)pos,
                      cm_batch_strerror(rc));
        fuzz_assert(h.base_offset == next);
        fuzz_assert(h.last_offset_delta >= 0 && h.records_count == (int64_t)h.last_offset_delta + 1);
        next = cm_batch_last_offset(&h) + 1;
        pos += cm_batch_size(&h);
    }
    fuzz_assert(pos == s->size);
    if (next != s->next_offset)
        fuzz_fail("segment %s ends at offset %lld, segment says %lld", s->path, (long long)next,
                  (long long)s->next_offset);
    /* Every offset-index entry names the batch at its position. */
    for (size_t i = 0; i < s->oidx.n; i++) {
        uint32_t rel = bk_index_rel(&s->oidx, i), at = bk_index_pos(&s->oidx, i);
        fuzz_assert(at + (int64_t)CM_BATCH_HEADER_SIZE <= s->size);
        fuzz_assert((int64_t)cm_be64(log + at) == s->base_offset + rel);
        if (i > 0)
            fuzz_assert(rel > bk_index_rel(&s->oidx, i - 1) && at > bk_index_pos(&s->oidx, i - 1));
    }
    for (size_t i = 1; i < s->tidx.n; i++)
        fuzz_assert(bk_index_ts(&s->tidx, i) >= bk_index_ts(&s->tidx, i - 1));
    free(log);
}

/* Reads and time lookups must stay inside the log. */
static void fuzz__reads(bk_partition_t *p)
{
    int64_t start = bk_partition_log_start(p);
    int64_t at[] = { start, start + 1, start + (p->leo - start) / 2, p->leo - 1, p->leo };
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        for (int min_one = 0; min_one < 2; min_one++) {
            bk_read_t rd;
            bk_partition_read(p, at[i], 100, min_one, &rd);
            if (p->offline != NULL)
                fuzz_assert(rd.err == CM_KERR_KAFKA_STORAGE_ERROR && rd.len == 0);
            fuzz_assert(rd.err == 0 || rd.err == CM_KERR_OFFSET_OUT_OF_RANGE || p->offline != NULL);
            if (rd.len > 0) {
                fuzz_assert(rd.seg != NULL && rd.pos >= 0 && rd.pos + rd.len <= rd.seg->size);
                bk_segment_unref(rd.seg);
            }
        }
    }
    int64_t ts[] = { INT64_MIN, -1, 0, 1000, INT64_MAX };
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        int64_t off, found;
        if (bk_partition_offset_for_time(p, ts[i], &off, &found) == 0 && off >= 0)
            fuzz_assert(off >= start && off < p->leo && found >= ts[i]);
    }
    for (size_t k = 0; k < p->n_segs; k++) {
        int64_t off, found, t = p->segs[k]->max_timestamp;
        if (bk_partition_offset_for_time(p, t, &off, &found) == 0 && off >= 0)
            fuzz_assert(off >= start && off < p->leo && found >= t);
    }
}

/* The segment files of a partition directory, by name, as they were before an open. */
#define FUZZ__FILES_MAX 4

typedef struct fuzz__files {
    char name[FUZZ__FILES_MAX][32];
    uint8_t *data[FUZZ__FILES_MAX];
    size_t len[FUZZ__FILES_MAX];
    int n;
} fuzz__files_t;

static void fuzz__snapshot(const char *dir, fuzz__files_t *f)
{
    memset(f, 0, sizeof(*f));
    DIR *d = opendir(dir);
    fuzz_assert(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (bk_segment_parse_name(e->d_name) < 0)
            continue;
        fuzz_assert(f->n < FUZZ__FILES_MAX);
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        snprintf(f->name[f->n], sizeof(f->name[0]), "%s", e->d_name);
        char *text;
        fuzz_assert(cm_fs_read_file(path, 1 << 30, &text, &f->len[f->n]) == CM_OK);
        f->data[f->n++] = (uint8_t *)text;
    }
    closedir(d);
}

static void fuzz__snapshot_free(fuzz__files_t *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->data[i]);
}

/*
 * Nothing acknowledged was thrown away: every file is still there, unchanged, except that
 * the last segment of an online partition may have been cut to a prefix of itself.
 */
static void fuzz__kept(const bk_partition_t *p, const char *dir, const fuzz__files_t *before)
{
    fuzz__files_t after;
    fuzz__snapshot(dir, &after);
    fuzz_assert(after.n == before->n);
    const bk_segment_t *active = p->segs[p->n_segs - 1];
    for (int i = 0; i < before->n; i++) {
        int j = 0;
        while (j < after.n && strcmp(after.name[j], before->name[i]) != 0)
            j++;
        if (j == after.n)
            fuzz_fail("recovery removed segment %s", before->name[i]);
        bool cut_ok =
            p->offline == NULL && bk_segment_parse_name(before->name[i]) == active->base_offset;
        if (after.len[j] > before->len[i] || (!cut_ok && after.len[j] != before->len[i]) ||
            (after.len[j] > 0 && memcmp(after.data[j], before->data[i], after.len[j]) != 0))
            fuzz_fail("recovery changed segment %s (%zu bytes, then %zu)%s", before->name[i],
                      before->len[i], after.len[j], p->offline != NULL ? " while offline" : "");
    }
    fuzz__snapshot_free(&after);
}

/* Opens the partition in `dir`, checks it, and returns its log end and size. */
static void fuzz__open(const char *dir, int64_t *leo, int64_t *bytes, size_t *segs, bool *offline)
{
    bk_partition_t *p;
    fuzz__files_t before;
    fuzz__snapshot(dir, &before);
    int rc = bk_partition_open(&fuzz__b, &fuzz__tc, 0, dir, "fuzz/0", &p);
    if (rc != CM_OK)
        fuzz_fail("opening %s failed: %s", dir, cm_err_name(rc));
    fuzz_assert(p->n_segs >= 1 && (int)p->n_segs == before.n);
    fuzz__kept(p, dir, &before);
    fuzz__snapshot_free(&before);
    bool online = p->offline == NULL;
    fuzz_assert(online || p->offline[0] != '\0');
    for (size_t i = 0; i < p->n_segs; i++) {
        fuzz__check_segment(p->segs[i], online);
        if (i > 0 && online)
            fuzz_assert(p->segs[i]->base_offset == p->segs[i - 1]->next_offset);
    }
    const bk_segment_t *active = p->segs[p->n_segs - 1];
    fuzz_assert(p->leo == active->next_offset && p->hw == p->leo);
    int64_t total = 0;
    for (size_t i = 0; i < p->n_segs; i++)
        total += p->segs[i]->size;
    fuzz_assert(p->log_bytes == total);
    fuzz__reads(p);
    *leo = p->leo;
    *bytes = total;
    *segs = p->n_segs;
    *offline = !online;
    bk_partition_close(p);
    bk_partition_unref(p);
}

/*
 * Recomputes the CRC of every batch the bytes frame, and returns where the first batch
 * ends (0 when there is none) and the offset it says comes after it.
 */
static size_t fuzz__fix_crcs(uint8_t *p, size_t len, int64_t *next)
{
    size_t pos = 0, first = 0;
    *next = 0;
    while (len - pos >= CM_BATCH_HEADER_SIZE) {
        uint32_t blen = cm_be32(p + pos + 8);
        if (blen < CM_BATCH_HEADER_SIZE - CM_BATCH_LOG_OVERHEAD ||
            blen > len - pos - CM_BATCH_LOG_OVERHEAD)
            break;
        size_t size = CM_BATCH_LOG_OVERHEAD + (size_t)blen;
        cm_put_be32(p + pos + 17,
                    cm_crc32c(0, p + pos + CM_BATCH_CRC_START, size - CM_BATCH_CRC_START));
        if (pos == 0) {
            cm_batch_hdr_t h;
            cm_batch_hdr_parse(p, &h);
            first = size;
            if (h.base_offset == 0 && h.last_offset_delta >= 0)
                *next = (int64_t)h.last_offset_delta + 1;
        }
        pos += size;
    }
    return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[512];
    int64_t leo, bytes, leo2, bytes2;
    size_t segs, segs2;
    bool offline, offline2;

    snprintf(dir, sizeof(dir), "%s/p1", fuzz__root);
    cm_fs_remove_tree(dir);
    fuzz_assert(cm_fs_mkdirs(dir) == CM_OK);
    fuzz__write(dir, 0, data, size);
    fuzz__open(dir, &leo, &bytes, &segs, &offline);
    fuzz_assert(bytes <= (int64_t)size && segs == 1 && !offline);

    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    int64_t next;
    size_t first = fuzz__fix_crcs(copy, size, &next);
    snprintf(dir, sizeof(dir), "%s/p2", fuzz__root);
    cm_fs_remove_tree(dir);
    fuzz_assert(cm_fs_mkdirs(dir) == CM_OK);
    if (first > 0 && first < size && next > 0) {
        fuzz__write(dir, 0, copy, first);
        fuzz__write(dir, next, copy + first, size - first);
    } else {
        fuzz__write(dir, 0, copy, size);
    }
    fuzz__open(dir, &leo, &bytes, &segs, &offline);
    fuzz__open(dir, &leo2, &bytes2, &segs2, &offline2);
    if (leo != leo2 || bytes != bytes2 || segs != segs2 || offline != offline2)
        fuzz_fail("a second recovery changed the log: leo %lld -> %lld, bytes %lld -> %lld, "
                  "segments %zu -> %zu, offline %d -> %d",
                  (long long)leo, (long long)leo2, (long long)bytes, (long long)bytes2, segs, segs2,
                  offline, offline2);
    free(copy);
    /* Nothing left behind between inputs: a run may end without its atexit handler. */
    cm_fs_remove_tree(dir);
    snprintf(dir, sizeof(dir), "%s/p1", fuzz__root);
    cm_fs_remove_tree(dir);
    return 0;
}
