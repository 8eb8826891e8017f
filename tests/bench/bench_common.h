/*
 * What every benchmark program shares: options, the workload, timing, latency percentiles,
 * the server's RSS, and the one-line report format, so that streamd and its peers (NATS
 * JetStream, Redis Streams) are measured with the same workload and printed the same way.
 *
 * Workload (the same for every system):
 *   produce  --records N of --size bytes as fast as the system acknowledges them, with
 *            full durability (fsync before the ack); reports records/s and MB/s.
 *   consume  reads the N records back from the start; reports records/s and MB/s.
 *   latency  --rate R records/s for --seconds D, one record in flight at a time; each
 *            record's publish-to-ack time goes into p50/p99/p999/max.
 *
 * Report: one line per test, `key=value` pairs:
 *   system=streamd test=produce records=1000000 size=100 seconds=0.812 rec_per_s=1231527
 *   mb_per_s=123.2 p50_us=- p99_us=- p999_us=- max_us=- server_rss_kb=10240
 *
 * Header-only so that peer programs need nothing but their own client library.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_opts {
    const char *test;   /* produce, consume or latency */
    const char *addr;   /* server address, host:port */
    const char *target; /* topic, stream or subject */
    long records;       /* produce and consume: how many */
    int size;           /* record value size in bytes */
    int rate;           /* latency: records per second */
    int seconds;        /* latency: how long */
    int server_pid;     /* for server_rss_kb; 0 to skip */
    int partitions;     /* systems with partitions: how many to spread over */
    const char *label;  /* overrides the system name in the report */
} bench_opts_t;

static inline void bench_usage(const char *prog, const char *defaults_addr)
{
    fprintf(stderr,
            "usage: %s --test produce|consume|latency [options]\n"
            "  --addr HOST:PORT     server (default %s)\n"
            "  --target NAME        topic / stream (default bench)\n"
            "  --records N          records to produce or consume (default 1000000)\n"
            "  --size BYTES         record size (default 100)\n"
            "  --rate N             latency test: records per second (default 2000)\n"
            "  --seconds N          latency test: duration (default 10)\n"
            "  --partitions N       partitions, where the system has them (default 1)\n"
            "  --server-pid PID     report the server's resident memory\n"
            "  --label NAME         system name to report (default: the program's)\n",
            prog, defaults_addr);
}

/** Parses the shared options; exits with usage on error. */
static inline void bench_parse(int argc, char **argv, const char *default_addr, bench_opts_t *o)
{
    *o = (bench_opts_t){ .test = NULL,
                         .addr = default_addr,
                         .target = "bench",
                         .records = 1000000,
                         .size = 100,
                         .rate = 2000,
                         .seconds = 10,
                         .server_pid = 0,
                         .partitions = 1 };
    static const struct option longopts[] = {
        { "test", required_argument, 0, 't' },
        { "addr", required_argument, 0, 'a' },
        { "target", required_argument, 0, 'T' },
        { "records", required_argument, 0, 'n' },
        { "size", required_argument, 0, 's' },
        { "rate", required_argument, 0, 'r' },
        { "seconds", required_argument, 0, 'd' },
        { "server-pid", required_argument, 0, 'p' },
        { "partitions", required_argument, 0, 'P' },
        { "label", required_argument, 0, 'L' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            o->test = optarg;
            break;
        case 'a':
            o->addr = optarg;
            break;
        case 'T':
            o->target = optarg;
            break;
        case 'n':
            o->records = atol(optarg);
            break;
        case 's':
            o->size = atoi(optarg);
            break;
        case 'r':
            o->rate = atoi(optarg);
            break;
        case 'd':
            o->seconds = atoi(optarg);
            break;
        case 'p':
            o->server_pid = atoi(optarg);
            break;
        case 'P':
            o->partitions = atoi(optarg);
            break;
        case 'L':
            o->label = optarg;
            break;
        default:
            bench_usage(argv[0], default_addr);
            exit(c == 'h' ? 0 : 2);
        }
    }
    if (o->test == NULL || o->records <= 0 || o->size <= 0 || o->rate <= 0 || o->seconds <= 0 ||
        o->partitions <= 0) {
        bench_usage(argv[0], default_addr);
        exit(2);
    }
}

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** Sleeps until the monotonic clock reaches `t_ns`. */
static inline void bench_sleep_until(uint64_t t_ns)
{
    struct timespec ts = { (time_t)(t_ns / 1000000000u), (long)(t_ns % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/** Fills `buf` with `size` printable bytes unique to `seq` (the sequence number first). */
static inline void bench_payload(char *buf, int size, long seq)
{
    int n = snprintf(buf, (size_t)size, "%012ld:", seq);
    for (int i = n < size ? n : size; i < size; i++)
        buf[i] = (char)('a' + (seq + i) % 26);
}

/** A growable list of latencies in nanoseconds. */
typedef struct bench_lat {
    uint64_t *v;
    size_t n;
    size_t cap;
} bench_lat_t;

static inline void bench_lat_add(bench_lat_t *l, uint64_t ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (l->v == NULL)
            abort();
    }
    l->v[l->n++] = ns;
}

static inline int bench__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/** The q-quantile (0..1) in microseconds, nearest rank; sorts the list. */
static inline double bench_lat_quantile_us(bench_lat_t *l, double q)
{
    if (l->n == 0)
        return 0;
    qsort(l->v, l->n, sizeof(*l->v), bench__cmp_u64);
    size_t i = (size_t)(q * (double)l->n);
    if (i >= l->n)
        i = l->n - 1;
    return (double)l->v[i] / 1000.0;
}

/** Resident set size of `pid` in KiB (VmRSS), or -1. */
static inline long bench_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

/** Prints the report line. `lat` may be NULL (throughput tests). */
static inline void bench_report(const char *system, const bench_opts_t *o, long records,
                                double seconds, bench_lat_t *lat)
{
    double rps = seconds > 0 ? (double)records / seconds : 0;
    double mbps = rps * o->size / 1e6;
    printf("system=%s test=%s records=%ld size=%d seconds=%.3f rec_per_s=%.0f mb_per_s=%.1f",
           o->label ? o->label : system, o->test, records, o->size, seconds, rps, mbps);
    if (lat != NULL && lat->n > 0) {
        double p50 = bench_lat_quantile_us(lat, 0.50), p99 = bench_lat_quantile_us(lat, 0.99);
        double p999 = bench_lat_quantile_us(lat, 0.999);
        double max = (double)lat->v[lat->n - 1] / 1000.0;
        printf(" p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f", p50, p99, p999, max);
    } else {
        printf(" p50_us=- p99_us=- p999_us=- max_us=-");
    }
    printf(" server_rss_kb=%ld\n", o->server_pid > 0 ? bench_rss_kb(o->server_pid) : -1L);
    fflush(stdout);
}

#endif
