/*
 * bench-nats: the shared benchmark workload (bench_common.h) run against NATS JetStream, so that
 * streamd's figures can be printed beside JetStream's from the same run.
 *
 *   bench-nats --test produce --addr 127.0.0.1:4222 --target bench --records 1000000 --size 100
 *   bench-nats --test consume --target bench --records 1000000 --size 100
 *   bench-nats --test latency --target bench --rate 2000 --seconds 10 --size 100
 *
 * --target names the stream; records go to the subject `<target>.data`.
 *
 * produce  deletes and re-creates the stream (file storage, no limits, one replica), then
 *          publishes with js_PublishAsync, at most BENCH_NATS_PENDING_MAX acks outstanding.
 *          Only acknowledged records count; the clock runs from the first publish to the
 *          last ack.
 * consume  an ordered consumer (js_SubscribeSync with Ordered: an ephemeral push consumer,
 *          AckPolicy None so there is no ack traffic at all, DeliverPolicy All, flow control)
 *          reads from the start until --records are read. Chosen over a pull consumer with
 *          AckPolicy None fetching batches of 10,000: on the same stream of 100,000 x 100 B the
 *          ordered consumer read 550-590k records/s against 340-380k for the pull consumer,
 *          which idles for a round trip between batches; 2,000 x 100 KB: 690-800 MB/s against
 *          515-560 MB/s. This is JetStream's fastest way to read a stream.
 * latency  one synchronous js_Publish at a time on a fixed schedule; each record's latency is
 *          from the call to the returned ack. The stream is created if missing, never emptied.
 *
 * Durability of these figures (nats-server 2.9.10, Debian 12's package): NOT fsync before ack.
 * JetStream acks a publish once the record has been written to the stream's current block file
 * with pwrite(2): it is in the page cache, so it survives a crash of nats-server but not a power
 * loss or a kernel crash. The file store fsyncs only on a timer, every two minutes, and 2.9.10
 * has no setting to change that: in its source, stream.go hard-codes fsCfg.AsyncFlush = false
 * (write each record before the ack) and fsCfg.SyncInterval = 2 * time.Minute, and
 * filestore.go's syncBlocks() timer is the only periodic fsync (others happen only on block
 * close, truncation and compaction). The config parser knows no sync option (the jetstream
 * block accepts store_dir, max_memory_store, max_file_store, domain, encryption keys, limits,
 * unique_tag); `sync_interval`, with `always`, arrived in nats-server 2.10. strace -f on the
 * server during a 100,000 x 100 B produce run: 100,009 pwrite64, 0 fsync/fdatasync; the only
 * fsyncs (two: the block's message and index files) came 120.0 s after the stream was created.
 * So this is the strongest durability 2.9.10 offers, and its produce and latency figures mean
 * "acked after write(2), fsynced within 2 minutes", weaker than streamd's and Redis' "fsynced
 * before the ack"; they are an upper bound on what JetStream would do with fsync per ack.
 */
#include <stdatomic.h>

#include <nats/nats.h>

#include "bench_common.h"

/** The most asynchronous publishes awaiting their ack at once. */
#define BENCH_NATS_PENDING_MAX 4096
/** The most records the consumer's library queue holds before dropping (then resetting). */
#define BENCH_NATS_PENDING_MSGS_MAX (1024 * 1024)
/** The most record bytes the consumer's library queue holds. */
#define BENCH_NATS_PENDING_BYTES_MAX (512L * 1024 * 1024)
/** How long any single JetStream request or ack may take before the run is failed. */
#define BENCH_NATS_WAIT_MS 30000

typedef struct bench_nats {
    natsConnection *nc;
    jsCtx *js;
    char subject[256];
} bench_nats_t;

/** Ack counts; written by the library's ack thread, read by the main thread. */
typedef struct bench_nats_acks {
    atomic_long acked;
    atomic_long failed;
    _Atomic uint64_t last_ns;
} bench_nats_acks_t;

static void bench_nats__error(const char *what, natsStatus s, jsErrCode jerr)
{
    fprintf(stderr, "bench-nats: %s failed: %s", what, natsStatus_GetText(s));
    if (jerr != 0)
        fprintf(stderr, " (JetStream error %d)", (int)jerr);
    const char *detail = nats_GetLastError(NULL);
    if (detail != NULL && detail[0] != '\0')
        fprintf(stderr, ": %s", detail);
    fprintf(stderr, "\n");
}

static void bench_nats__on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                               void *closure)
{
    bench_nats_acks_t *acks = closure;
    (void)js;
    if (pa != NULL) {
        atomic_fetch_add(&acks->acked, 1);
        atomic_store(&acks->last_ns, bench_now_ns());
    } else if (atomic_fetch_add(&acks->failed, 1) == 0) {
        fprintf(stderr, "bench-nats: publish not acknowledged: %s (JetStream error %d)\n",
                pae != NULL && pae->ErrText != NULL ? pae->ErrText : "unknown",
                pae != NULL ? (int)pae->ErrCode : 0);
    }
    /* With an AckHandler the message is ours to destroy. */
    natsMsg_Destroy(msg);
}

/** Connects to `o->addr`; `acks` receives the asynchronous publish acks. Returns 0 or -1. */
static int bench_nats_connect(bench_nats_t *b, const bench_opts_t *o, bench_nats_acks_t *acks)
{
    char url[300];
    natsOptions *opts = NULL;
    natsStatus s;

    snprintf(url, sizeof(url), "nats://%s", o->addr);
    snprintf(b->subject, sizeof(b->subject), "%s.data", o->target);
    s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, url);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(opts, false);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, 5000);
    if (s == NATS_OK)
        s = natsConnection_Connect(&b->nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
        bench_nats__error("connect", s, 0);
        fprintf(stderr, "bench-nats: is nats-server (with JetStream) listening on %s?\n", o->addr);
        return -1;
    }

    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = BENCH_NATS_WAIT_MS;
    jo.PublishAsync.MaxPending = BENCH_NATS_PENDING_MAX;
    jo.PublishAsync.AckHandler = bench_nats__on_ack;
    jo.PublishAsync.AckHandlerClosure = acks;
    jo.PublishAsync.StallWait = BENCH_NATS_WAIT_MS;
    s = natsConnection_JetStream(&b->js, b->nc, &jo);
    if (s != NATS_OK) {
        bench_nats__error("JetStream context", s, 0);
        return -1;
    }
    return 0;
}

static void bench_nats_close(bench_nats_t *b)
{
    jsCtx_Destroy(b->js);
    natsConnection_Destroy(b->nc);
    nats_Close();
}

/**
 * Creates the stream `o->target` (file storage, no limits, one replica) on `<target>.data`;
 * with `recreate`, deletes it first so that it starts empty.
 */
static int bench_nats_stream_create(bench_nats_t *b, const bench_opts_t *o, bool recreate)
{
    jsErrCode jerr = 0;
    natsStatus s;

    if (recreate) {
        s = js_DeleteStream(b->js, o->target, NULL, &jerr);
        if (s != NATS_OK && jerr != JSStreamNotFoundErr) {
            bench_nats__error("delete stream", s, jerr);
            return -1;
        }
    }

    const char *subjects[1] = { b->subject };
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = o->target;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.Replicas = 1;
    jerr = 0;
    s = js_AddStream(NULL, b->js, &sc, NULL, &jerr);
    if (s != NATS_OK && !(jerr == JSStreamNameExistErr && !recreate)) {
        bench_nats__error("create stream", s, jerr);
        return -1;
    }
    return 0;
}

static int bench_nats_produce(bench_nats_t *b, const bench_opts_t *o, bench_nats_acks_t *acks)
{
    char *buf = malloc((size_t)o->size);
    if (buf == NULL)
        abort();
    if (bench_nats_stream_create(b, o, true) != 0) {
        free(buf);
        return -1;
    }

    long sent = 0;
    natsStatus s = NATS_OK;
    uint64_t t0 = bench_now_ns();
    for (; sent < o->records; sent++) {
        bench_payload(buf, o->size, sent);
        s = js_PublishAsync(b->js, b->subject, buf, o->size, NULL);
        if (s != NATS_OK) {
            bench_nats__error("publish", s, 0);
            break;
        }
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = BENCH_NATS_WAIT_MS;
    natsStatus sc = js_PublishAsyncComplete(b->js, &po);
    if (sc != NATS_OK)
        bench_nats__error("waiting for the last acks", sc, 0);
    /* The pending count can reach zero just before the last ack callback has returned. */
    for (int i = 0; i < 1000 && atomic_load(&acks->acked) + atomic_load(&acks->failed) < sent; i++)
        usleep(1000);

    long acked = atomic_load(&acks->acked);
    uint64_t t1 = acked > 0 ? atomic_load(&acks->last_ns) : bench_now_ns();
    bench_report("nats-jetstream", o, acked, (double)(t1 - t0) / 1e9, NULL);
    free(buf);
    if (acked != o->records) {
        fprintf(stderr, "bench-nats: only %ld of %ld records were acknowledged\n", acked,
                o->records);
        return -1;
    }
    return s == NATS_OK && sc == NATS_OK ? 0 : -1;
}

/** Checks that `m` is record `seq` of the produce test: its size, and its sequence prefix. */
static int bench_nats_check(const bench_opts_t *o, natsMsg *m, long seq, char *expect)
{
    if (natsMsg_GetDataLength(m) != o->size) {
        fprintf(stderr, "bench-nats: record %ld has %d bytes, expected --size %d\n", seq,
                natsMsg_GetDataLength(m), o->size);
        return -1;
    }
    int n = snprintf(expect, 14, "%012ld:", seq);
    if (o->size > n && memcmp(natsMsg_GetData(m), expect, (size_t)n) != 0) {
        fprintf(stderr, "bench-nats: record %ld is out of order or not from the produce test\n",
                seq);
        return -1;
    }
    return 0;
}

/** Fails at once, rather than after a fetch timeout, when the stream holds too few records. */
static int bench_nats_stream_check(bench_nats_t *b, const bench_opts_t *o)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, b->js, o->target, NULL, &jerr);
    if (s != NATS_OK) {
        bench_nats__error("stream info", s, jerr);
        fprintf(stderr, "bench-nats: run --test produce first to fill stream %s\n", o->target);
        return -1;
    }
    uint64_t msgs = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    if (msgs < (uint64_t)o->records) {
        fprintf(stderr,
                "bench-nats: stream %s holds only %llu of %ld records; run --test "
                "produce first\n",
                o->target, (unsigned long long)msgs, o->records);
        return -1;
    }
    return 0;
}

static int bench_nats_consume(bench_nats_t *b, const bench_opts_t *o)
{
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    if (bench_nats_stream_check(b, o) != 0)
        return -1;

    /* Ordered: AckPolicy None, DeliverPolicy All, flow control; the library re-creates the
     * consumer by itself should it see a gap, so every record arrives once and in order. */
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = o->target;
    so.Ordered = true;
    natsStatus s = js_SubscribeSync(&sub, b->js, b->subject, NULL, &so, &jerr);
    if (s != NATS_OK) {
        bench_nats__error("ordered consumer", s, jerr);
        return -1;
    }
    /* Server flow control bounds what is in flight; these bounds only keep the library from
     * dropping records (and the consumer from resetting) when it is the slower side. */
    natsSubscription_SetPendingLimits(sub, BENCH_NATS_PENDING_MSGS_MAX,
                                      (int)BENCH_NATS_PENDING_BYTES_MAX);

    char expect[16];
    long got = 0;
    int rc = 0;
    uint64_t t0 = bench_now_ns();
    for (; got < o->records && rc == 0; got++) {
        natsMsg *m = NULL;
        s = natsSubscription_NextMsg(&m, sub, BENCH_NATS_WAIT_MS);
        if (s != NATS_OK) {
            bench_nats__error("next record", s, 0);
            fprintf(stderr, "bench-nats: read %ld of %ld records from stream %s\n", got, o->records,
                    o->target);
            rc = -1;
            break;
        }
        rc = bench_nats_check(o, m, got, expect);
        natsMsg_Destroy(m);
    }
    uint64_t t1 = bench_now_ns();
    if (rc == 0)
        bench_report("nats-jetstream", o, got, (double)(t1 - t0) / 1e9, NULL);
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return rc;
}

static int bench_nats_latency(bench_nats_t *b, const bench_opts_t *o)
{
    if (bench_nats_stream_create(b, o, false) != 0)
        return -1;
    char *buf = malloc((size_t)o->size);
    if (buf == NULL)
        abort();

    bench_lat_t lat = { NULL, 0, 0 };
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = BENCH_NATS_WAIT_MS;
    long total = (long)o->rate * o->seconds;
    uint64_t interval_ns = 1000000000u / (uint64_t)o->rate;
    int rc = 0;
    uint64_t start = bench_now_ns();
    for (long i = 0; i < total; i++) {
        bench_sleep_until(start + (uint64_t)i * interval_ns);
        bench_payload(buf, o->size, i);
        jsPubAck *pa = NULL;
        jsErrCode jerr = 0;
        uint64_t t = bench_now_ns();
        natsStatus s = js_Publish(&pa, b->js, b->subject, buf, o->size, &po, &jerr);
        uint64_t t_ack = bench_now_ns();
        jsPubAck_Destroy(pa);
        if (s != NATS_OK) {
            bench_nats__error("publish", s, jerr);
            rc = -1;
            break;
        }
        bench_lat_add(&lat, t_ack - t);
    }
    uint64_t end = bench_now_ns();
    if (rc == 0)
        bench_report("nats-jetstream", o, (long)lat.n, (double)(end - start) / 1e9, &lat);
    free(lat.v);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    bench_parse(argc, argv, "127.0.0.1:4222", &o);

    bench_nats_t b = { NULL, NULL, { 0 } };
    bench_nats_acks_t acks;
    atomic_init(&acks.acked, 0);
    atomic_init(&acks.failed, 0);
    atomic_init(&acks.last_ns, 0);
    if (bench_nats_connect(&b, &o, &acks) != 0) {
        bench_nats_close(&b);
        return 1;
    }

    int rc;
    if (strcmp(o.test, "produce") == 0) {
        rc = bench_nats_produce(&b, &o, &acks);
    } else if (strcmp(o.test, "consume") == 0) {
        rc = bench_nats_consume(&b, &o);
    } else if (strcmp(o.test, "latency") == 0) {
        rc = bench_nats_latency(&b, &o);
    } else {
        fprintf(stderr, "bench-nats: unknown --test %s: use produce, consume or latency\n", o.test);
        rc = -1;
    }
    bench_nats_close(&b);
    return rc == 0 ? 0 : 1;
}
