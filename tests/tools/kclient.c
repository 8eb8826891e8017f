/*
 * kclient: a librdkafka producer and verifying consumer for the end-to-end and crash tests.
 *
 *   kclient produce -b B -t TOPIC -n N [--start S] [--size 100] [--keys 1000] [--acks -1]
 *           [--compression none|gzip|snappy|lz4|zstd] [--acked FILE] [--no-retries]
 *           [--timestamp-base MS] [--linger-ms 5] [--batch-bytes B] [--rate N/s]
 *           [--timeout-ms 30000] [--stop-on-error]
 *     Record `seq` (S .. S+N-1) has key "k<seq % keys>" and a value of --size bytes that
 *     starts with the sequence number, so a reader can check it byte for byte. With
 *     --acked, each acknowledged record is logged as "seq partition offset". With
 *     --timestamp-base, record seq carries timestamp base+seq. Exit 0 when every record was
 *     acknowledged, 3 when some were not.
 *
 *   kclient verify -b B -t TOPIC -p PARTITIONS [--size 100] [--keys 1000]
 *           [--expect-range S N] [--acked FILE ...] [--produced N]
 *     Reads every partition from its start to its end and checks: each value is exactly
 *     what `produce` wrote for its sequence number, with the right key; sequence numbers
 *     increase with offsets within each partition; a key always lands on one partition; a
 *     sequence number appears at most once. --expect-range: exactly S .. S+N-1 appear.
 *     --acked: every acknowledged record is present, once, at its logged offset.
 *     --produced N: records 0 .. N-1 were sent (unacknowledged ones may be present).
 *     Exit 0 and a summary line when all holds, 1 with the first violations otherwise.
 *
 *   kclient group -b B -t TOPIC -g GROUP -p PARTITIONS [--commit-after N] [-n MAX]
 *     A high-level (subscribing) consumer in GROUP, auto commit off, reset to earliest.
 *     Prints each record as "partition offset" on stdout. After --commit-after records it
 *     commits its positions synchronously, once, and prints "commit partition offset" for
 *     each on stderr; later records are never committed. Stops after -n records, or when
 *     every one of the PARTITIONS has reached its end; closes the consumer and exits 0.
 *
 * The property=value lines of $KCAT_CONFIG (kconf.h) are applied too: the SASL settings
 * of a broker with internal_auth=scram.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kconf.h"

typedef struct {
    const char *brokers;
    const char *topic;
    long n;
    long start;
    int size;
    int keys;
    const char *acks;
    const char *compression;
    const char *acked_path[64];
    int n_acked;
    int retries;
    long long ts_base;
    const char *linger;
    const char *batch_bytes;
    long rate; /* produce: records per second, 0 = as fast as possible */
    int stop_on_error;
    int timeout_ms;
    int partitions;
    long expect_start;
    long expect_n;
    long produced; /* verify: sequence numbers below this may appear */
    const char *group;
    long commit_after; /* group: commit once after this many records, -1 never */
} opts_t;

static void payload(char *buf, int size, long seq)
{
    int n = snprintf(buf, (size_t)size + 1, "%012ld:", seq);
    for (int i = n < size ? n : size; i < size; i++)
        buf[i] = (char)('a' + (seq * 7 + i) % 26);
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "kclient: %s: %s\n", what, err);
    exit(2);
}

static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        die(k, err);
}

static void conf_each(const char *k, const char *v, void *c)
{
    conf_set(c, k, v);
}

/* A configuration for `brokers` with the properties of $KCAT_CONFIG (kconf.h). */
static rd_kafka_conf_t *conf_new(const char *brokers)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(c, "bootstrap.servers", brokers);
    kconf_each("kclient", conf_each, c);
    return c;
}

/* ---- produce ---- */

typedef struct {
    FILE *acked;
    long ok;
    long failed;
    rd_kafka_resp_err_t first_err;
} produce_state_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    produce_state_t *st = opaque;
    long seq = (long)(intptr_t)m->_private;
    if (m->err) {
        if (st->failed++ == 0)
            st->first_err = m->err;
        return;
    }
    st->ok++;
    if (st->acked)
        fprintf(st->acked, "%ld %d %lld\n", seq, m->partition, (long long)m->offset);
    (void)rk;
}

static int cmd_produce(opts_t *o)
{
    char err[512], buf[32];
    produce_state_t st = { 0 };
    rd_kafka_conf_t *c = conf_new(o->brokers);
    conf_set(c, "acks", o->acks);
    conf_set(c, "compression.codec", o->compression);
    conf_set(c, "linger.ms", o->linger);
    if (o->batch_bytes)
        conf_set(c, "batch.size", o->batch_bytes);
    conf_set(c, "enable.idempotence", "false");
    conf_set(c, "queue.buffering.max.messages", "1000000");
    snprintf(buf, sizeof(buf), "%d", o->timeout_ms);
    conf_set(c, "message.timeout.ms", buf);
    if (!o->retries)
        conf_set(c, "message.send.max.retries", "0");
    if (getenv("KCLIENT_DEBUG"))
        conf_set(c, "debug", getenv("KCLIENT_DEBUG"));
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, &st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (rk == NULL)
        die("producer", err);
    if (o->n_acked > 0 && (st.acked = fopen(o->acked_path[0], "a")) == NULL)
        die(o->acked_path[0], strerror(errno));

    /* Learn the topic's leaders before the clock starts: librdkafka 2.0.2 may otherwise
     * spend most of a second on a brokers-only metadata round before its first produce. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);

    char *val = malloc((size_t)o->size + 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long seq_end = o->start;
    for (long seq = o->start; seq < o->start + o->n; seq++) {
        if (o->rate > 0 && (seq - o->start) % 1000 == 0) {
            /* Pace in steps of 1000 records: sleep until this record is due. */
            double due = (double)(seq - o->start) / (double)o->rate;
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
            if (due > el)
                usleep((useconds_t)((due - el) * 1e6));
        }
        char key[32];
        int klen = snprintf(key, sizeof(key), "k%ld", seq % o->keys);
        payload(val, o->size, seq);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_KEY(key, (size_t)klen),
                RD_KAFKA_V_VALUE(val, (size_t)o->size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq),
                RD_KAFKA_V_TIMESTAMP(o->ts_base >= 0 ? o->ts_base + seq : 0), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (e)
                die("produce", rd_kafka_err2str(e));
            break;
        }
        seq_end = seq + 1;
        rd_kafka_poll(rk, 0);
        if (o->stop_on_error && st.failed > 0)
            break; /* the broker is gone: what was sent is all there is to account for */
    }
    rd_kafka_flush(rk, o->timeout_ms + 1000);
    free(val);
    long sent = seq_end - o->start;
    long unknown = sent - st.ok - st.failed;
    if (st.acked)
        fclose(st.acked);
    printf("produced=%ld acked=%ld failed=%ld unresolved=%ld first_error=%s\n", sent, st.ok,
           st.failed, unknown, st.failed ? rd_kafka_err2name(st.first_err) : "none");
    rd_kafka_destroy(rk);
    return st.ok == o->n ? 0 : 3;
}

/* ---- verify ---- */

typedef struct {
    int32_t partition;
    int64_t offset;
    uint8_t seen;
    uint8_t acked;
} seq_info_t;

static int cmd_verify(opts_t *o)
{
    char err[512];
    long max_seq = 0;
    /* Acked logs name the sequence numbers to expect. */
    for (int i = 0; i < o->n_acked; i++) {
        FILE *f = fopen(o->acked_path[i], "r");
        long seq;
        int p;
        long long off;
        while (f && fscanf(f, "%ld %d %lld", &seq, &p, &off) == 3)
            if (seq + 1 > max_seq)
                max_seq = seq + 1;
        if (f)
            fclose(f);
    }
    if (o->expect_n > 0 && o->expect_start + o->expect_n > max_seq)
        max_seq = o->expect_start + o->expect_n;
    if (o->produced > max_seq)
        max_seq = o->produced;
    long cap = max_seq + 1;
    seq_info_t *seqs = calloc((size_t)cap, sizeof(*seqs));
    for (int i = 0; i < o->n_acked; i++) {
        FILE *f = fopen(o->acked_path[i], "r");
        long seq;
        int p;
        long long off;
        while (f && fscanf(f, "%ld %d %lld", &seq, &p, &off) == 3) {
            seqs[seq].acked = 1;
            seqs[seq].partition = p;
            seqs[seq].offset = off;
        }
        if (f)
            fclose(f);
    }
    int *key_part = malloc((size_t)o->keys * sizeof(int));
    for (int i = 0; i < o->keys; i++)
        key_part[i] = -1;

    rd_kafka_conf_t *c = conf_new(o->brokers);
    conf_set(c, "enable.partition.eof", "true");
    conf_set(c, "check.crcs", "true");
    conf_set(c, "group.id", "kclient-verify");
    conf_set(c, "enable.auto.commit", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (rk == NULL)
        die("consumer", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(o->partitions);
    int eof_needed = 0;
    for (int p = 0; p < o->partitions; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, o->topic, p, &lo, &hi, 10000);
        if (e)
            die("watermarks", rd_kafka_err2str(e));
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(l, o->topic, p)->offset = lo;
            eof_needed++;
        }
    }
    if (rd_kafka_assign(rk, l) != 0)
        die("assign", "failed");

    int64_t *last_seq = malloc((size_t)o->partitions * sizeof(int64_t));
    for (int p = 0; p < o->partitions; p++)
        last_seq[p] = -1;
    long records = 0, errors = 0;
    char *want = malloc((size_t)o->size + 1);
#define BAD(...)                                                                                   \
    do {                                                                                           \
        if (errors++ < 20)                                                                         \
            fprintf(stderr, "verify: " __VA_ARGS__);                                               \
    } while (0)
    while (eof_needed > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);
        if (m == NULL) {
            BAD("no progress for 10 s with %d partitions unfinished\n", eof_needed);
            break;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof_needed--;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            BAD("consume error: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        records++;
        long seq = -1;
        if (m->len >= 13)
            seq = strtol(m->payload, NULL, 10);
        if (seq < 0 || seq >= cap || (int)m->len != o->size) {
            BAD("p%d@%lld: value of %zu bytes is not a produced record\n", m->partition,
                (long long)m->offset, m->len);
        } else {
            payload(want, o->size, seq);
            char key[32];
            int klen = snprintf(key, sizeof(key), "k%ld", seq % o->keys);
            if (memcmp(want, m->payload, (size_t)o->size) != 0)
                BAD("p%d@%lld: seq %ld value differs from what was produced\n", m->partition,
                    (long long)m->offset, seq);
            if ((int)m->key_len != klen || memcmp(m->key, key, (size_t)klen) != 0)
                BAD("p%d@%lld: seq %ld has the wrong key\n", m->partition, (long long)m->offset,
                    seq);
            int *kp = &key_part[seq % o->keys];
            if (*kp >= 0 && *kp != m->partition)
                BAD("key %s is on partitions %d and %d\n", key, *kp, m->partition);
            *kp = m->partition;
            if (seq <= last_seq[m->partition])
                BAD("p%d@%lld: seq %ld after seq %" PRId64 ": out of order\n", m->partition,
                    (long long)m->offset, seq, last_seq[m->partition]);
            last_seq[m->partition] = seq;
            if (seqs[seq].seen++)
                BAD("seq %ld appears more than once (again at p%d@%lld)\n", seq, m->partition,
                    (long long)m->offset);
            if (seqs[seq].acked &&
                (seqs[seq].partition != m->partition || seqs[seq].offset != m->offset))
                BAD("seq %ld was acknowledged at p%d@%" PRId64 " but read at p%d@%lld\n", seq,
                    seqs[seq].partition, seqs[seq].offset, m->partition, (long long)m->offset);
        }
        rd_kafka_message_destroy(m);
    }
    long acked = 0, missing = 0;
    for (long s = 0; s < cap; s++) {
        if (seqs[s].acked) {
            acked++;
            if (!seqs[s].seen && missing++ < 20)
                BAD("acknowledged seq %ld (p%d@%" PRId64 ") is missing\n", s, seqs[s].partition,
                    seqs[s].offset);
        }
    }
    if (o->expect_n > 0) {
        for (long s = o->expect_start; s < o->expect_start + o->expect_n; s++)
            if (!seqs[s].seen)
                BAD("expected seq %ld is missing\n", s);
        if (records != o->expect_n)
            BAD("read %ld records, expected %ld\n", records, o->expect_n);
    }
    printf("verified records=%ld acked=%ld missing_acked=%ld errors=%ld\n", records, acked, missing,
           errors);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(seqs);
    free(key_part);
    free(last_seq);
    free(want);
    return errors ? 1 : 0;
}

/* ---- group ---- */

static void print_commit(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(rk, &l) != 0 || l == NULL)
        die("assignment", "failed");
    if (rd_kafka_committed(rk, l, 10000) != 0)
        die("committed", "failed");
    for (int i = 0; i < l->cnt; i++)
        fprintf(stderr, "commit %d %lld\n", l->elems[i].partition, (long long)l->elems[i].offset);
    rd_kafka_topic_partition_list_destroy(l);
}

static int cmd_group(opts_t *o)
{
    char err[512];
    rd_kafka_conf_t *c = conf_new(o->brokers);
    conf_set(c, "group.id", o->group);
    conf_set(c, "enable.auto.commit", "false");
    conf_set(c, "auto.offset.reset", "earliest");
    conf_set(c, "enable.partition.eof", "true");
    conf_set(c, "session.timeout.ms", "6000");
    if (getenv("KCLIENT_DEBUG"))
        conf_set(c, "debug", getenv("KCLIENT_DEBUG"));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (rk == NULL)
        die("consumer", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, o->topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, sub) != 0)
        die("subscribe", "failed");
    rd_kafka_topic_partition_list_destroy(sub);

    char *at_end = calloc((size_t)o->partitions, 1);
    int ended = 0, rc = 0;
    long records = 0;
    while (ended < o->partitions && (o->n <= 0 || records < o->n)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, o->timeout_ms);
        if (m == NULL) {
            fprintf(stderr, "group: no progress for %d ms (%d of %d partitions at their end)\n",
                    o->timeout_ms, ended, o->partitions);
            rc = 1;
            break;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < o->partitions && !at_end[m->partition]++)
                ended++;
        } else if (m->err) {
            fprintf(stderr, "group: consume error: %s\n", rd_kafka_message_errstr(m));
            rc = 1;
        } else {
            printf("%d %lld\n", m->partition, (long long)m->offset);
            if (++records == o->commit_after) {
                rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
                if (e)
                    die("commit", rd_kafka_err2str(e));
                print_commit(rk);
            }
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(at_end);
    return rc;
}

int main(int argc, char **argv)
{
    opts_t o = { .n = 1000,
                 .size = 100,
                 .keys = 1000,
                 .acks = "-1",
                 .compression = "none",
                 .retries = 1,
                 .ts_base = -1,
                 .linger = "5",
                 .timeout_ms = 30000,
                 .partitions = 1,
                 .commit_after = -1 };
    if (argc < 2) {
        fprintf(stderr,
                "usage: kclient produce|verify|group -b BROKERS -t TOPIC ... (see source)\n");
        return 2;
    }
    const char *cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && ++i)
        if (ARG("-b"))
            o.brokers = v;
        else if (ARG("-t"))
            o.topic = v;
        else if (ARG("-n"))
            o.n = atol(v);
        else if (ARG("-p"))
            o.partitions = atoi(v);
        else if (ARG("--start"))
            o.start = atol(v);
        else if (ARG("--size"))
            o.size = atoi(v);
        else if (ARG("--keys"))
            o.keys = atoi(v);
        else if (ARG("--acks"))
            o.acks = v;
        else if (ARG("--compression"))
            o.compression = v;
        else if (ARG("--acked") && o.n_acked < 64)
            o.acked_path[o.n_acked++] = v;
        else if (ARG("--timestamp-base"))
            o.ts_base = atoll(v);
        else if (ARG("--produced"))
            o.produced = atol(v);
        else if (ARG("--rate"))
            o.rate = atol(v);
        else if (ARG("--batch-bytes"))
            o.batch_bytes = v;
        else if (ARG("--linger-ms"))
            o.linger = v;
        else if (ARG("-g"))
            o.group = v;
        else if (ARG("--commit-after"))
            o.commit_after = atol(v);
        else if (ARG("--timeout-ms"))
            o.timeout_ms = atoi(v);
        else if (strcmp(a, "--no-retries") == 0)
            o.retries = 0;
        else if (strcmp(a, "--stop-on-error") == 0)
            o.stop_on_error = 1;
        else if (strcmp(a, "--expect-range") == 0 && i + 2 < argc) {
            o.expect_start = atol(argv[i + 1]);
            o.expect_n = atol(argv[i + 2]);
            i += 2;
        } else {
            fprintf(stderr, "kclient: unknown or incomplete argument '%s'\n", a);
            return 2;
        }
    }
    if (o.brokers == NULL || o.topic == NULL || o.size < 14 || o.keys <= 0) {
        fprintf(stderr, "kclient: -b and -t are required; --size must be >= 14\n");
        return 2;
    }
    if (strcmp(cmd, "produce") == 0)
        return cmd_produce(&o);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(&o);
    if (strcmp(cmd, "group") == 0 && o.group != NULL)
        return cmd_group(&o);
    fprintf(stderr, "kclient: unknown command '%s'\n", cmd);
    return 2;
}
