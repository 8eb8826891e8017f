/*
 * bench-redis: the shared benchmark workload (bench_common.h) run against Redis Streams, so that
 * streamd's figures can be printed beside Redis' from the same run.
 *
 *   bench-redis --test produce --addr 127.0.0.1:6379 --target bench --records 1000000 --size 100
 *   bench-redis --test consume --target bench --records 1000000 --size 100
 *   bench-redis --test latency --target bench --rate 2000 --seconds 10 --size 100
 *
 * --target is the stream's key; each record is one entry with a single field "v".
 *
 * produce  DELs the key, then pipelines XADDs in windows of BENCH_REDIS_WINDOW commands: the
 *          whole window is sent, then every reply is read. Only entries whose XADD returned an
 *          id count; the clock runs from the first command to the last reply.
 * consume  XRANGE in batches of BENCH_REDIS_BATCH entries from the start of the stream (each
 *          batch resumes after the last id read) until --records entries are read.
 * latency  one XADD at a time on a fixed schedule; each record's latency is from sending the
 *          command to reading its reply. The key is not emptied.
 *
 * Durability of these figures: the server is expected to run with appendonly yes and
 * appendfsync always (tests/bench/peers.sh starts it so). Redis 7.0 then appends the commands one
 * event-loop iteration executed to the AOF with one write(2) and one fdatasync(2) in
 * beforeSleep(), before any reply of that iteration is sent: every acknowledged XADD is on disk.
 * The fsync is per iteration, not per command: a pipelined window costs one fdatasync per read
 * of the client's socket, and Redis reads one query buffer (16-20 KiB) per client per
 * iteration. strace -f of the server during a 100,000 x 100 B produce run: 801 fdatasync and
 * 838 reads for the 100,000 XADDs (about 125 XADDs per fsync); the per-call trace shows each
 * iteration as read(socket, ~20 KB: about 141 XADDs), write(AOF), fdatasync(AOF), then
 * write(socket, the replies). The latency test, one XADD in flight, fsyncs once per record.
 */
#include <hiredis/hiredis.h>

#include "bench_common.h"

/** Commands sent before their replies are read, in the produce test. */
#define BENCH_REDIS_WINDOW 1000
/** Entries one XRANGE asks for. */
#define BENCH_REDIS_BATCH 10000

static void bench_redis__reply_error(const char *what, redisContext *c, redisReply *r)
{
    if (r == NULL)
        fprintf(stderr, "bench-redis: %s failed: %s\n", what,
                c->errstr[0] != '\0' ? c->errstr : "connection lost");
    else if (r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "bench-redis: %s failed: %.*s\n", what, (int)r->len, r->str);
    else
        fprintf(stderr, "bench-redis: %s failed: unexpected reply type %d\n", what, r->type);
}

/** Connects to `addr` (host:port). Returns the context or NULL. */
static redisContext *bench_redis_connect(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t host_len = colon != NULL ? (size_t)(colon - addr) : strlen(addr);
    if (host_len >= sizeof(host)) {
        fprintf(stderr, "bench-redis: --addr %s: host name too long\n", addr);
        return NULL;
    }
    memcpy(host, addr, host_len);
    host[host_len] = '\0';
    int port = colon != NULL ? atoi(colon + 1) : 6379;

    struct timeval timeout = { 5, 0 };
    redisContext *c = redisConnectWithTimeout(host, port, timeout);
    if (c == NULL || c->err) {
        fprintf(stderr, "bench-redis: connect to %s failed: %s; is redis-server listening?\n", addr,
                c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    return c;
}

static int bench_redis_produce(redisContext *c, const bench_opts_t *o)
{
    redisReply *r = redisCommand(c, "DEL %s", o->target);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        bench_redis__reply_error("DEL", c, r);
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);

    char *buf = malloc((size_t)o->size);
    if (buf == NULL)
        abort();
    long acked = 0;
    int rc = 0;
    uint64_t t0 = bench_now_ns();
    for (long sent = 0; sent < o->records && rc == 0;) {
        long window =
            o->records - sent < BENCH_REDIS_WINDOW ? o->records - sent : BENCH_REDIS_WINDOW;
        for (long i = 0; i < window; i++, sent++) {
            bench_payload(buf, o->size, sent);
            if (redisAppendCommand(c, "XADD %s * v %b", o->target, buf, (size_t)o->size) !=
                REDIS_OK)
                abort(); /* only fails when out of memory */
        }
        /* The first redisGetReply() writes the whole window, then replies are read. */
        for (long i = 0; i < window; i++) {
            r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r->type != REDIS_REPLY_STRING) {
                bench_redis__reply_error("XADD", c, r);
                freeReplyObject(r);
                rc = -1;
                break;
            }
            acked++;
            freeReplyObject(r);
        }
    }
    uint64_t t1 = bench_now_ns();
    bench_report("redis-streams", o, acked, (double)(t1 - t0) / 1e9, NULL);
    free(buf);
    return rc;
}

/** Checks that stream entry `e` is record `seq` of the produce test; returns its id or NULL. */
static const redisReply *bench_redis_check(const bench_opts_t *o, const redisReply *e, long seq)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
        e->element[1]->elements != 2) {
        fprintf(stderr, "bench-redis: entry %ld is not an entry of the produce test\n", seq);
        return NULL;
    }
    const redisReply *v = e->element[1]->element[1];
    if (v->type != REDIS_REPLY_STRING || v->len != (size_t)o->size) {
        fprintf(stderr, "bench-redis: entry %ld has %zu bytes, expected --size %d\n", seq, v->len,
                o->size);
        return NULL;
    }
    char expect[16];
    int n = snprintf(expect, 14, "%012ld:", seq);
    if (o->size > n && memcmp(v->str, expect, (size_t)n) != 0) {
        fprintf(stderr, "bench-redis: entry %ld is out of order or not from the produce test\n",
                seq);
        return NULL;
    }
    return e->element[0];
}

static int bench_redis_consume(redisContext *c, const bench_opts_t *o)
{
    /* "-" is the stream's start; later batches start after the last id read: "(<id>". */
    char start[64] = "-";
    long got = 0;
    int rc = 0;
    uint64_t t0 = bench_now_ns();
    while (got < o->records && rc == 0) {
        long want = o->records - got < BENCH_REDIS_BATCH ? o->records - got : BENCH_REDIS_BATCH;
        redisReply *r = redisCommand(c, "XRANGE %s %s + COUNT %ld", o->target, start, want);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            bench_redis__reply_error("XRANGE", c, r);
            freeReplyObject(r);
            return -1;
        }
        if (r->elements == 0) {
            fprintf(stderr,
                    "bench-redis: stream %s holds only %ld of %ld entries; run --test "
                    "produce first\n",
                    o->target, got, o->records);
            rc = -1;
        }
        const redisReply *id = NULL;
        for (size_t i = 0; i < r->elements && rc == 0; i++, got++) {
            id = bench_redis_check(o, r->element[i], got);
            if (id == NULL)
                rc = -1;
        }
        if (id != NULL)
            snprintf(start, sizeof(start), "(%.*s", (int)id->len, id->str);
        freeReplyObject(r);
    }
    uint64_t t1 = bench_now_ns();
    if (rc == 0)
        bench_report("redis-streams", o, got, (double)(t1 - t0) / 1e9, NULL);
    return rc;
}

static int bench_redis_latency(redisContext *c, const bench_opts_t *o)
{
    char *buf = malloc((size_t)o->size);
    if (buf == NULL)
        abort();
    bench_lat_t lat = { NULL, 0, 0 };
    long total = (long)o->rate * o->seconds;
    uint64_t interval_ns = 1000000000u / (uint64_t)o->rate;
    int rc = 0;
    uint64_t start = bench_now_ns();
    for (long i = 0; i < total; i++) {
        bench_sleep_until(start + (uint64_t)i * interval_ns);
        bench_payload(buf, o->size, i);
        uint64_t t = bench_now_ns();
        redisReply *r = redisCommand(c, "XADD %s * v %b", o->target, buf, (size_t)o->size);
        uint64_t t_ack = bench_now_ns();
        if (r == NULL || r->type != REDIS_REPLY_STRING) {
            bench_redis__reply_error("XADD", c, r);
            freeReplyObject(r);
            rc = -1;
            break;
        }
        freeReplyObject(r);
        bench_lat_add(&lat, t_ack - t);
    }
    uint64_t end = bench_now_ns();
    if (rc == 0)
        bench_report("redis-streams", o, (long)lat.n, (double)(end - start) / 1e9, &lat);
    free(lat.v);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    bench_parse(argc, argv, "127.0.0.1:6379", &o);

    redisContext *c = bench_redis_connect(o.addr);
    if (c == NULL)
        return 1;
    int rc;
    if (strcmp(o.test, "produce") == 0) {
        rc = bench_redis_produce(c, &o);
    } else if (strcmp(o.test, "consume") == 0) {
        rc = bench_redis_consume(c, &o);
    } else if (strcmp(o.test, "latency") == 0) {
        rc = bench_redis_latency(c, &o);
    } else {
        fprintf(stderr, "bench-redis: unknown --test %s: use produce, consume or latency\n",
                o.test);
        rc = -1;
    }
    redisFree(c);
    return rc == 0 ? 0 : 1;
}
