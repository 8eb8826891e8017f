/*
 * bench-kafka: the shared benchmark workload (bench_common.h) against a Kafka-protocol
 * broker, through librdkafka, one producer or one consumer.
 *
 *   produce  acks=-1 (every record fsynced before its ack, by the broker's group commit),
 *            no compression, records spread over --partitions by key;
 *   consume  one consumer reading every partition from the start;
 *   latency  acks=-1, linger 0, one request in flight: each record's publish-to-ack time.
 *
 *   bench-kafka --test produce --addr 127.0.0.1:19092 --target bench --partitions 6
 */
#include <inttypes.h>
#include <stdbool.h>

#include <librdkafka/rdkafka.h>

#include "bench_common.h"

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench-kafka: %s: %s\n", k, err);
        exit(2);
    }
}

typedef struct {
    long acked;
    long failed;
    uint64_t last_ack_ns;
    uint64_t sent_ns; /* latency test: when the record in flight was sent */
    bench_lat_t lat;
    bool done;
} state_t;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    state_t *st = opaque;
    uint64_t now = bench_now_ns();
    if (m->err) {
        if (st->failed++ == 0)
            fprintf(stderr, "bench-kafka: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        st->acked++;
    }
    st->last_ack_ns = now;
    if (st->sent_ns) {
        bench_lat_add(&st->lat, now - st->sent_ns);
        st->sent_ns = 0;
    }
    st->done = true;
    (void)rk;
}

static rd_kafka_t *producer(const bench_opts_t *o, state_t *st, bool latency)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", o->addr);
    set(c, "acks", "-1");
    set(c, "enable.idempotence", "false");
    set(c, "compression.codec", "none");
    if (latency) {
        set(c, "linger.ms", "0");
        set(c, "max.in.flight", "1");
    } else {
        set(c, "linger.ms", "5");
        set(c, "batch.num.messages", "100000");
        set(c, "batch.size", "1000000");
        set(c, "queue.buffering.max.messages", "2000000");
        set(c, "queue.buffering.max.kbytes", "1048576");
        set(c, "delivery.report.only.error", "true");
    }
    rd_kafka_conf_set_dr_msg_cb(c, on_dr);
    rd_kafka_conf_set_opaque(c, st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "bench-kafka: %s\n", err);
        exit(2);
    }
    /* Leaders are known before the clock starts. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->target, NULL);
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rk;
}

static void send_one(rd_kafka_t *rk, const bench_opts_t *o, char *val, long seq)
{
    char key[24];
    int klen = snprintf(key, sizeof(key), "%ld", seq % 1024);
    bench_payload(val, o->size, seq);
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(o->target), RD_KAFKA_V_KEY(key, (size_t)klen),
                              RD_KAFKA_V_VALUE(val, (size_t)o->size),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
            continue;
        }
        if (e) {
            fprintf(stderr, "bench-kafka: produce: %s\n", rd_kafka_err2str(e));
            exit(1);
        }
        return;
    }
}

/*
 * Throughput: records go in blocks of PRODUCE_BLOCK to one partition at a time through
 * rd_kafka_produce_batch, and only failures are reported back (delivery.report.only.error),
 * as a high-throughput producer would run; the run ends when rd_kafka_flush() says every
 * record was acknowledged.
 */
#define PRODUCE_BLOCK 1000

static int run_produce(const bench_opts_t *o)
{
    state_t st = { 0 };
    rd_kafka_t *rk = producer(o, &st, false);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->target, NULL);
    char *vals = malloc((size_t)PRODUCE_BLOCK * (size_t)(o->size + 16));
    rd_kafka_message_t *msgs = calloc(PRODUCE_BLOCK, sizeof(*msgs));
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < o->records; i += PRODUCE_BLOCK) {
        int n = o->records - i < PRODUCE_BLOCK ? (int)(o->records - i) : PRODUCE_BLOCK;
        for (int k = 0; k < n; k++) {
            char *v = vals + (size_t)k * (size_t)(o->size + 16);
            bench_payload(v, o->size, i + k);
            msgs[k] = (rd_kafka_message_t){ .payload = v, .len = (size_t)o->size };
        }
        int32_t part = (int32_t)((i / PRODUCE_BLOCK) % o->partitions);
        int done = 0;
        while (done < n) {
            int q = rd_kafka_produce_batch(rkt, part, RD_KAFKA_MSG_F_COPY, msgs + done, n - done);
            done += q;
            if (done < n)
                rd_kafka_poll(rk, 1); /* queue full: let deliveries drain */
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    long acked = o->records - st.failed - rd_kafka_outq_len(rk);
    bench_report("streamd", o, acked, secs, NULL);
    free(vals);
    free(msgs);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return st.failed || acked != o->records ? 1 : 0;
}

static int run_latency(const bench_opts_t *o)
{
    state_t st = { 0 };
    rd_kafka_t *rk = producer(o, &st, true);
    char *val = malloc((size_t)o->size + 16);
    long n = (long)o->rate * o->seconds;
    uint64_t interval = 1000000000ull / (uint64_t)o->rate;
    /* Warm the connection so the first sample is not a connection setup. */
    for (int i = 0; i < 100; i++) {
        st.done = false;
        send_one(rk, o, val, i);
        while (!st.done)
            rd_kafka_poll(rk, 100);
    }
    st.lat.n = 0;
    st.acked = st.failed = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        bench_sleep_until(t0 + (uint64_t)i * interval);
        st.done = false;
        st.sent_ns = bench_now_ns();
        send_one(rk, o, val, i);
        /* Block in poll (it returns as soon as the delivery report is in): spinning takes
         * a core from the broker on a two-core machine, which measured worse. */
        while (!st.done)
            rd_kafka_poll(rk, 100);
    }
    bench_report("streamd", o, st.acked, (double)(bench_now_ns() - t0) / 1e9, &st.lat);
    free(val);
    free(st.lat.v);
    rd_kafka_destroy(rk);
    return st.failed ? 1 : 0;
}

static int run_consume(const bench_opts_t *o)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", o->addr);
    set(c, "group.id", "bench");
    set(c, "enable.auto.commit", "false");
    set(c, "fetch.max.bytes", "52428800");
    set(c, "max.partition.fetch.bytes", "1048576");
    set(c, "queued.max.messages.kbytes", "1048576");
    set(c, "queued.min.messages", "1000000");
    set(c, "check.crcs", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "bench-kafka: %s\n", err);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    /* Connect and learn the leaders first: assigned before that, librdkafka 2.0.2 puts its
     * first offset lookup on a 500 ms retry timer. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->target, NULL);
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(o->partitions);
    for (int p = 0; p < o->partitions; p++)
        rd_kafka_topic_partition_list_add(l, o->target, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    uint64_t t_assign = bench_now_ns();
    rd_kafka_assign(rk, l);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *msgs[10000];
    long got = 0;
    /* Timed from the assignment, as the peers are from their subscription: the offset
     * lookup and the first fetch count. */
    uint64_t t0 = t_assign;
    while (got < o->records) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 5000, msgs, 10000);
        if (n < 0) {
            fprintf(stderr, "bench-kafka: consume failed\n");
            return 1;
        }
        if (n == 0) {
            fprintf(stderr, "bench-kafka: stalled after %ld records\n", got);
            return 1;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (!msgs[i]->err)
                got++;
            rd_kafka_message_destroy(msgs[i]);
        }
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    bench_report("streamd", o, got, secs, NULL);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    bench_parse(argc, argv, "127.0.0.1:19092", &o);
    if (strcmp(o.test, "produce") == 0)
        return run_produce(&o);
    if (strcmp(o.test, "consume") == 0)
        return run_consume(&o);
    if (strcmp(o.test, "latency") == 0)
        return run_latency(&o);
    fprintf(stderr, "bench-kafka: unknown test '%s'\n", o.test);
    return 2;
}
