#include "bk_flusher.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cm_fs.h"
#include "cm_log.h"
#include "cm_time.h"

typedef struct {
    bk_partition_t *p;
    bk_segment_t *seg;
} bk_flusher__seal_t;

/* The flusher's queues: growable arrays, swapped whole between the loop and the thread. */
#define BK_VEC_TYPE(name, T)                                                                       \
    typedef struct {                                                                               \
        T *v;                                                                                      \
        size_t n;                                                                                  \
        size_t cap;                                                                                \
    } name
BK_VEC_TYPE(bk_flusher__parts_t, bk_partition_t *);
BK_VEC_TYPE(bk_flusher__seals_t, bk_flusher__seal_t);
BK_VEC_TYPE(bk_flusher__paths_t, char *);
BK_VEC_TYPE(bk_flusher__dones_t, bk_flush_done_t);
#define BK_VEC_PUSH(vec, item)                                                                     \
    do {                                                                                           \
        if ((vec).n == (vec).cap) {                                                                \
            (vec).cap = (vec).cap ? (vec).cap * 2 : 16;                                            \
            (vec).v = realloc((vec).v, (vec).cap * sizeof(*(vec).v));                              \
            if ((vec).v == NULL)                                                                   \
                abort();                                                                           \
        }                                                                                          \
        (vec).v[(vec).n++] = (item);                                                               \
    } while (0)

/* Helper threads (sync_threads - 1: the thread running the round works too) fdatasync a
 * round's partitions in parallel: the device commits concurrent syncs together, so a round
 * over many partitions costs about one sync. */

typedef struct bk_flusher__pool {
    pthread_mutex_t lock;
    pthread_cond_t go;
    pthread_cond_t done;
    bk_flush_done_t *jobs; /* the round's; valid while a round runs */
    size_t n;
    atomic_size_t next;     /* the next job to take */
    atomic_size_t finished; /* jobs synced */
    uint64_t round;
    int active; /* helpers inside a round */
    bool stop;
    pthread_t *threads;
    int n_threads;
} bk_flusher__pool_t;

struct bk_flusher {
    bk_broker_t *broker;
    bk_flusher__pool_t pool;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int efd;
    bool stopping;
    bool busy;    /* the thread is running a round (guarded by lock) */
    bool in_loop; /* the loop may run sync rounds itself (cfg.sync_in_loop) */
    /* Guarded by lock. */
    bk_flusher__parts_t syncs;
    bk_flusher__seals_t seals;
    bk_flusher__paths_t removals;
    bk_flusher__dones_t done;
};

static void bk_flusher__fatal(const char *what, const char *path)
{
    cm_log_error("fsync failed; stopping so that recovery can restore a consistent log",
                 "op=%s path=%s errno=%s", what, path, strerror(errno));
    abort();
}

static void bk_flusher__datasync(bk_flusher_t *f, bk_segment_t *seg, const bk_partition_t *p)
{
    int64_t t0 = cm_mono_us();
    if (!atomic_load(&seg->dir_synced)) {
        /* Gone (the topic was deleted): nothing in it needs to be durable any more. */
        int dfd = bk_partition_dir_open(p);
        if (dfd < 0 && errno != ENOENT)
            bk_flusher__fatal("open directory", p->dir);
        if (dfd >= 0 && fsync(dfd) != 0)
            bk_flusher__fatal("fsync directory", p->dir);
        if (dfd >= 0)
            close(dfd);
        atomic_store(&seg->dir_synced, true);
    }
    /* The job's reference keeps the descriptor from closing; one closed before the job was
     * queued had nothing left to sync, but a descriptor of our own costs little. */
    int fd = atomic_load(&seg->fd), own = -1;
    if (fd < 0) {
        char path[4200];
        snprintf(path, sizeof(path), "%s.log", seg->path);
        fd = own = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            return; /* deleted with its topic */
    }
    if (fd < 0 || fdatasync(fd) != 0)
        bk_flusher__fatal("fdatasync", seg->path);
    if (own >= 0)
        close(own);
    bk_metrics_add(&f->broker->metrics.fsyncs, 1);
    cm_hist_observe(&f->broker->metrics.fsync_latency, cm_mono_us() - t0);
}

/* Takes and syncs jobs of the current round until none is left. */
static void bk_flusher__pool_work(bk_flusher_t *f)
{
    bk_flusher__pool_t *pl = &f->pool;
    size_t i;
    while ((i = atomic_fetch_add(&pl->next, 1)) < pl->n) {
        bk_flusher__datasync(f, pl->jobs[i].seg, pl->jobs[i].p);
        atomic_fetch_add(&pl->finished, 1);
    }
}

static void *bk_flusher__helper(void *arg)
{
    bk_flusher_t *f = arg;
    bk_flusher__pool_t *pl = &f->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&pl->lock);
    for (;;) {
        while (pl->round == seen && !pl->stop)
            pthread_cond_wait(&pl->go, &pl->lock);
        if (pl->stop)
            break;
        seen = pl->round;
        pl->active++;
        pthread_mutex_unlock(&pl->lock);
        bk_flusher__pool_work(f);
        pthread_mutex_lock(&pl->lock);
        /* Only the last helper out wakes the round's thread, which waits for all of them. */
        if (--pl->active == 0)
            pthread_cond_signal(&pl->done);
    }
    pthread_mutex_unlock(&pl->lock);
    return NULL;
}

/* Syncs a round's partitions, in parallel when there are several; returns when all are. */
static void bk_flusher__sync_jobs(bk_flusher_t *f, bk_flush_done_t *jobs, size_t n)
{
    bk_flusher__pool_t *pl = &f->pool;
    pthread_mutex_lock(&pl->lock);
    /* One job, or the pool busy with the other syncing thread's round (the loop's and the
     * flusher's rounds may overlap): this round syncs in turn. */
    if (n <= 1 || pl->n != 0 || pl->n_threads == 0) {
        pthread_mutex_unlock(&pl->lock);
        for (size_t i = 0; i < n; i++)
            bk_flusher__datasync(f, jobs[i].seg, jobs[i].p);
        return;
    }
    pl->jobs = jobs;
    pl->n = n;
    atomic_store(&pl->next, 0);
    atomic_store(&pl->finished, 0);
    pl->round++;
    /* As many helpers as there are jobs besides this thread's first: waking every helper
     * for a round of two partitions costs context switches for nothing. */
    size_t wake = n - 1 < (size_t)pl->n_threads ? n - 1 : (size_t)pl->n_threads;
    for (size_t i = 0; i < wake; i++)
        pthread_cond_signal(&pl->go);
    pthread_mutex_unlock(&pl->lock);
    bk_flusher__pool_work(f);
    /* Every job synced, and no helper still looking at this round's jobs. */
    pthread_mutex_lock(&pl->lock);
    while (atomic_load(&pl->finished) < n || pl->active > 0)
        pthread_cond_wait(&pl->done, &pl->lock);
    pl->jobs = NULL;
    pl->n = 0;
    pthread_mutex_unlock(&pl->lock);
}

static void bk_flusher__run_seal(bk_flusher_t *f, bk_flusher__seal_t *s)
{
    /* Index files that cannot be written (a full disk) are no reason to stop: the recovery
     * point stays before this segment, so the next start rebuilds them from the log. */
    bool indexed = bk_segment_write_indexes(s->seg) == 0;
    if (!indexed)
        cm_log_warn("cannot write a sealed segment's indexes; the next start rebuilds them",
                    "path=%s errno=%s", s->seg->path, strerror(errno));
    bk_flusher__datasync(f, s->seg, s->p);
    /* Through the directory itself (bk_partition_dir_open): a topic deleted (renamed away)
     * and created again under its name meanwhile never gets this partition's recovery
     * point. */
    if (indexed && bk_partition_write_rp(s->p, s->seg->next_offset) != 0)
        cm_log_warn("cannot write recovery point; the next start will recover more",
                    "partition=%s errno=%s", s->p->label, strerror(errno));
    atomic_fetch_sub(&s->p->seals, 1);
    bk_segment_unref(s->seg);
    bk_partition_unref(s->p);
}

/* Turns queued partitions into sync jobs, moving their refs. Caller holds the lock. */
static void bk_flusher__take_syncs(bk_flusher__parts_t *syncs, bk_flusher__dones_t *jobs)
{
    for (size_t i = 0; i < syncs->n; i++) {
        bk_partition_t *p = syncs->v[i];
        bk_flush_done_t d = { p, p->fl.seg, p->fl.offset, p->fl.pos, p->fl.gen };
        p->fl.seg = NULL;
        p->fl.queued = false;
        BK_VEC_PUSH(*jobs, d);
    }
    syncs->n = 0;
}

static void *bk_flusher__main(void *arg)
{
    bk_flusher_t *f = arg;
    bk_flusher__parts_t syncs = { 0 };
    bk_flusher__seals_t seals = { 0 };
    bk_flusher__paths_t removals = { 0 };
    bk_flusher__dones_t jobs = { 0 };

    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (f->syncs.n == 0 && f->seals.n == 0 && f->removals.n == 0 && !f->stopping)
            pthread_cond_wait(&f->cond, &f->lock);
        if (f->syncs.n == 0 && f->seals.n == 0 && f->removals.n == 0 && f->stopping)
            break;
        /* Take the whole queue: everything that arrived during the last fdatasync is
         * covered by this round (group commit). */
        bk_flusher__parts_t t1 = f->syncs;
        f->syncs = syncs;
        syncs = t1;
        bk_flusher__seals_t t2 = f->seals;
        f->seals = seals;
        seals = t2;
        bk_flusher__paths_t t3 = f->removals;
        f->removals = removals;
        removals = t3;
        jobs.n = 0;
        bk_flusher__take_syncs(&syncs, &jobs);
        f->busy = true;
        pthread_mutex_unlock(&f->lock);

        for (size_t i = 0; i < seals.n; i++)
            bk_flusher__run_seal(f, &seals.v[i]);
        seals.n = 0;
        bk_flusher__sync_jobs(f, jobs.v, jobs.n);
        syncs.n = 0; /* their refs moved into the completions */
        for (size_t i = 0; i < removals.n; i++) {
            if (cm_fs_remove_tree(removals.v[i]) != 0)
                cm_log_warn("cannot remove deleted topic data", "path=%s", removals.v[i]);
            free(removals.v[i]);
        }
        removals.n = 0;

        pthread_mutex_lock(&f->lock);
        f->busy = false;
        for (size_t i = 0; i < jobs.n; i++)
            BK_VEC_PUSH(f->done, jobs.v[i]);
        if (jobs.n > 0) {
            uint64_t one = 1;
            if (write(f->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                cm_log_error("cannot signal the event loop", "errno=%s", strerror(errno));
        }
    }
    pthread_mutex_unlock(&f->lock);
    free(syncs.v);
    free(seals.v);
    free(removals.v);
    free(jobs.v);
    return NULL;
}

bk_flusher_t *bk_flusher_start(bk_broker_t *b)
{
    bk_flusher_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    f->broker = b;
    f->in_loop = b->cfg.sync_in_loop;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    pthread_mutex_init(&f->pool.lock, NULL);
    pthread_cond_init(&f->pool.go, NULL);
    pthread_cond_init(&f->pool.done, NULL);
    f->pool.n_threads = (int)b->cfg.sync_threads - 1;
    f->pool.threads = calloc((size_t)f->pool.n_threads + 1, sizeof(pthread_t));
    if (f->pool.threads == NULL)
        abort();
    for (int i = 0; i < f->pool.n_threads; i++)
        if (pthread_create(&f->pool.threads[i], NULL, bk_flusher__helper, f) != 0) {
            cm_log_error("cannot start the flusher's helpers", "errno=%s", strerror(errno));
            abort();
        }
    f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->efd < 0 || pthread_create(&f->thread, NULL, bk_flusher__main, f) != 0) {
        cm_log_error("cannot start the flusher", "errno=%s", strerror(errno));
        abort();
    }
    return f;
}

void bk_flusher_stop(bk_flusher_t *f)
{
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    pthread_mutex_lock(&f->pool.lock);
    f->pool.stop = true;
    pthread_cond_broadcast(&f->pool.go);
    pthread_mutex_unlock(&f->pool.lock);
    for (int i = 0; i < f->pool.n_threads; i++)
        pthread_join(f->pool.threads[i], NULL);
    free(f->pool.threads);
    pthread_mutex_destroy(&f->pool.lock);
    pthread_cond_destroy(&f->pool.go);
    pthread_cond_destroy(&f->pool.done);
    bk_flush_done_t *done;
    size_t n = bk_flusher_take(f, &done);
    for (size_t i = 0; i < n; i++) {
        bk_segment_unref(done[i].seg);
        bk_partition_unref(done[i].p);
    }
    free(done);
    close(f->efd);
    free(f->syncs.v);
    free(f->seals.v);
    free(f->removals.v);
    free(f->done.v);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}

void bk_flusher_sync(bk_flusher_t *f, bk_partition_t *p, bk_segment_t *seg, int64_t offset,
                     int64_t pos)
{
    pthread_mutex_lock(&f->lock);
    /* One entry per partition: a later request only moves its target forward. A roll in
     * between is safe because the old segment's seal job runs first in the round. */
    if (p->fl.seg != seg) {
        bk_segment_unref(p->fl.seg);
        p->fl.seg = bk_segment_ref(seg);
    }
    p->fl.offset = offset;
    p->fl.pos = pos;
    p->fl.gen = p->gen;
    if (!p->fl.queued) {
        p->fl.queued = true;
        BK_VEC_PUSH(f->syncs, bk_partition_ref(p));
    }
    pthread_mutex_unlock(&f->lock);
}

bool bk_flusher_kick(bk_flusher_t *f)
{
    pthread_mutex_lock(&f->lock);
    if (f->syncs.n == 0) {
        pthread_mutex_unlock(&f->lock);
        return false;
    }
    if (!f->in_loop || f->busy || f->seals.n > 0 || f->removals.n > 0) {
        /* The thread's next round covers these; a round in progress picks them up when it
         * ends, and seals queued before them keep running first. */
        pthread_cond_signal(&f->cond);
        pthread_mutex_unlock(&f->lock);
        return false;
    }
    bk_flusher__dones_t jobs = { 0 };
    bk_flusher__take_syncs(&f->syncs, &jobs);
    pthread_mutex_unlock(&f->lock);
    bk_flusher__sync_jobs(f, jobs.v, jobs.n);
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < jobs.n; i++)
        BK_VEC_PUSH(f->done, jobs.v[i]);
    pthread_mutex_unlock(&f->lock);
    free(jobs.v);
    return true;
}

void bk_flusher_seal(bk_flusher_t *f, bk_partition_t *p, bk_segment_t *seg)
{
    bk_flusher__seal_t s = { bk_partition_ref(p), bk_segment_ref(seg) };
    atomic_fetch_add(&p->seals, 1);
    pthread_mutex_lock(&f->lock);
    BK_VEC_PUSH(f->seals, s);
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

void bk_flusher_remove(bk_flusher_t *f, const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        abort();
    pthread_mutex_lock(&f->lock);
    BK_VEC_PUSH(f->removals, copy);
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

int bk_flusher_fd(const bk_flusher_t *f)
{
    return f->efd;
}

size_t bk_flusher_take(bk_flusher_t *f, bk_flush_done_t **out)
{
    uint64_t v;
    if (read(f->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        cm_log_warn("cannot read the flusher's eventfd", "errno=%s", strerror(errno));
    pthread_mutex_lock(&f->lock);
    *out = f->done.v;
    size_t n = f->done.n;
    f->done.v = NULL;
    f->done.n = f->done.cap = 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}
