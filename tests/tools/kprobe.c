/*
 * kprobe: a raw Kafka-protocol client on the project's own codec (the client side of
 * common/), for what librdkafka cannot send: malformed input and newer APIs.
 *
 *   kprobe -b HOST:PORT bad-input TOPIC
 *       Sends malformed frames, unknown APIs and versions, oversize sizes, bad CRCs, wrong
 *       magic, invalid topic names; checks each gets the right error or a closed
 *       connection, that the broker keeps serving, and that TOPIC (partition 0) holds
 *       exactly what it held before. Exit 0 when all hold.
 *   kprobe -b HOST:PORT incremental-alter TOPIC NAME=VALUE|NAME! ...
 *       IncrementalAlterConfigs: SET, or DELETE with a trailing '!'. Prints the error name.
 *   kprobe -b HOST:PORT api-versions VERSION
 *       Prints the error code and the number of APIs listed.
 *   kprobe -b HOST:PORT fetch-wait TOPIC PARTITION OFFSET MAX_WAIT_MS
 *       One long-poll Fetch (min_bytes 1); prints "ms=<elapsed> bytes=<records bytes>".
 *   kprobe -b HOST:PORT fetch-replica TOPIC PARTITION REPLICA_ID
 *       One Fetch v11 from offset 0 as replica REPLICA_ID (a follower's); prints as
 *       fetch-wait does.
 *   kprobe -b HOST:PORT fetch-epoch TOPIC PARTITION CURRENT_LEADER_EPOCH
 *       One Fetch v11 from offset 0 with that current leader epoch; prints as fetch-wait.
 *   kprobe -b HOST:PORT produce TOPIC PARTITION ACKS VALUE
 *       One record (Produce v9, acks ACKS); prints "error=<name> offset=<base offset>".
 *   kprobe -b HOST:PORT epoch-end TOPIC PARTITION CURRENT_LEADER_EPOCH EPOCH
 *       OffsetForLeaderEpoch v4; prints "error=<name> epoch=<e> end=<offset>".
 *   kprobe -b HOST:PORT list-offsets TOPIC PARTITION TIMESTAMP CURRENT_LEADER_EPOCH
 *       ListOffsets v8; prints "error=<name> offset=<o> epoch=<e>".
 *   kprobe -b HOST:PORT fetch-many TOPIC N
 *       One Fetch naming partition 0 of TOPIC N times; prints "answered" or "closed".
 *   kprobe -b HOST:PORT group-protocol GROUP TOPIC
 *       Two raw members of GROUP through joins, syncs, heartbeats, a rebalance, commits
 *       from stale generations and unknown members, a leave and a session timeout (see
 *       group_protocol). Exit 0 when every answer is the expected one.
 *
 * With sasl.username and sasl.password in $KCAT_CONFIG (kconf.h), every connection first
 * authenticates with SASL/SCRAM-SHA-256, as a broker with internal_auth=scram requires.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cm_arena.h"
#include "cm_crc32c.h"
#include "cm_kclient.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_krecord.h"
#include "cm_net.h"
#include "cm_scram.h"
#include "cm_time.h"
#include "kconf.h"

static const char *g_addr;
static int g_failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            g_failures++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

/* SASL/SCRAM-SHA-256 credentials from $KCAT_CONFIG (kconf.h), for a broker with
 * internal_auth=scram: every connection authenticates first. Unset: none. */
static char g_sasl_user[256], g_sasl_password[256];

static void sasl_conf(const char *key, const char *value, void *ud)
{
    (void)ud;
    if (strcmp(key, "sasl.username") == 0)
        snprintf(g_sasl_user, sizeof(g_sasl_user), "%s", value);
    else if (strcmp(key, "sasl.password") == 0)
        snprintf(g_sasl_password, sizeof(g_sasl_password), "%s", value);
}

/* A cm_kclient on an open connection: kprobe keeps descriptors, the client keeps nothing
 * else between calls (every request has correlation id 42). */
static cm_kclient_t on(int fd)
{
    cm_kclient_t c;
    cm_kclient_init(&c, "kprobe", 10000, (size_t)1 << 30);
    c.fd = fd;
    c.next_corr = 42;
    return c;
}

/* Connects to g_addr, authenticated with SCRAM when $KCAT_CONFIG names a user; exits 2 when
 * it cannot. */
static int dial(void)
{
    char host[256], err[256];
    int port;
    if (cm_net_split(g_addr, host, sizeof(host), &port, err, sizeof(err)) != 0) {
        fprintf(stderr, "kprobe: %s\n", err);
        exit(2);
    }
    cm_kclient_t c;
    cm_kclient_init(&c, "kprobe", 10000, (size_t)1 << 30);
    if (cm_kclient_connect(&c, host, port, g_sasl_user, g_sasl_password) != 0) {
        fprintf(stderr, "kprobe: %s\n", c.err);
        exit(2);
    }
    return c.fd;
}

static int send_all(int fd, const void *p, size_t n)
{
    cm_kclient_t c = on(fd);
    return cm_kclient_send_raw(&c, p, n);
}

/* Reads one response frame into *buf (malloc'd). Returns its size, or -1 when the peer
 * closed the connection (or sent nothing within the timeout). */
static ssize_t recv_frame(int fd, uint8_t **buf)
{
    cm_kclient_t c = on(fd);
    size_t n;
    return cm_kclient_recv_frame(&c, buf, &n) == 0 ? (ssize_t)n : -1;
}

/* True when the broker closed the connection (no answer). */
static bool closed_by_peer(int fd)
{
    uint8_t *buf = NULL;
    ssize_t n = recv_frame(fd, &buf);
    free(buf);
    return n < 0;
}

/* Sends one request (correlation id 42). */
static int send_req(int fd, int16_t key, int16_t v, cm_kclient_enc_fn enc, const void *req)
{
    cm_kclient_t c = on(fd);
    return cm_kclient_send(&c, key, v, enc, req) == 42 ? 0 : -1;
}

/* Reads the next response and decodes its body with `dec` into `a`. */
static int recv_resp(int fd, int16_t key, int16_t v, cm_kclient_dec_fn dec, cm_arena_t *a,
                     void *resp)
{
    cm_kclient_t c = on(fd);
    uint8_t *frame;
    cm_kr_t body;
    if (cm_kclient_recv(&c, 42, key, v, &frame, &body) != 0)
        return -1;
    /* Decoded views point into the frame: it lives as long as the arena. */
    size_t n = (size_t)(body.end - body.p);
    uint8_t *keep = cm_arena_alloc(a, n ? n : 1);
    memcpy(keep, body.p, n);
    free(frame);
    cm_kr_t r;
    cm_kr_init(&r, keep, n);
    return dec(&r, v, a, resp);
}

static int roundtrip(int fd, int16_t key, int16_t v, cm_kclient_enc_fn enc, const void *req,
                     cm_kclient_dec_fn dec, cm_arena_t *a, void *resp)
{
    cm_kclient_t c = on(fd);
    return cm_kclient_call(&c, key, v, enc, req, dec, a, resp);
}

#define ROUNDTRIP(fd, KEY, v, name, req, a, resp)                                                  \
    roundtrip(fd, KEY, v, (cm_kclient_enc_fn)cm_##name##_req_encode, req,                          \
              (cm_kclient_dec_fn)cm_##name##_resp_decode, a, resp)

#define SEND(fd, KEY, v, name, req)                                                                \
    send_req(fd, KEY, v, (cm_kclient_enc_fn)cm_##name##_req_encode, req)
#define RECV(fd, KEY, v, name, a, resp)                                                            \
    recv_resp(fd, KEY, v, (cm_kclient_dec_fn)cm_##name##_resp_decode, a, resp)

/* ---- helpers for the bad-input battery ---- */

static int16_t produce_to(int fd, const char *topic, int32_t part, int16_t acks, uint8_t *batch,
                          size_t len, int16_t v, int64_t *base)
{
    cm_arena_t a;
    cm_arena_init(&a, 1 << 24);
    cm_produce_req_partition_produce_data_t pd;
    cm_produce_req_partition_produce_data_init(&pd);
    pd.index = part;
    pd.records = (cm_krecords_t){ batch, (int32_t)len, NULL };
    cm_produce_req_topic_produce_data_t td;
    cm_produce_req_topic_produce_data_init(&td);
    td.name = cm_kstr_c(topic);
    td.partition_data = &pd;
    td.partition_data_n = 1;
    cm_produce_req_t req;
    cm_produce_req_init(&req);
    req.acks = acks;
    req.timeout_ms = 5000; /* well inside the client's own 10 s: the broker's answer arrives */
    req.topic_data = &td;
    req.topic_data_n = 1;
    cm_produce_resp_t resp;
    int16_t err = -2;
    if (ROUNDTRIP(fd, CM_KAPI_PRODUCE, v, produce, &req, &a, &resp) == 0 && resp.responses_n == 1 &&
        resp.responses[0].partition_responses_n == 1) {
        err = resp.responses[0].partition_responses[0].error_code;
        if (base)
            *base = resp.responses[0].partition_responses[0].base_offset;
    }
    cm_arena_free(&a);
    return err;
}

static int16_t produce_one(int fd, const char *topic, uint8_t *batch, size_t len, int16_t v,
                           int64_t *base)
{
    return produce_to(fd, topic, 0, -1, batch, len, v, base);
}

static size_t good_batch(uint8_t *out, size_t cap, const char *value)
{
    cm_kw_t w;
    cm_kw_init(&w, 1 << 20);
    cm_batch_builder_t b;
    cm_batch_build_begin(&b, &w, cm_now_ms());
    cm_batch_build_add(&b, cm_now_ms(), (cm_kbytes_t){ (const uint8_t *)"key", 3 },
                       (cm_kbytes_t){ (const uint8_t *)value, (int32_t)strlen(value) }, NULL, 0);
    int64_t n = cm_batch_build_end(&b);
    if (n <= 0 || (size_t)n > cap)
        exit(2);
    memcpy(out, w.buf, (size_t)n);
    cm_kw_free(&w);
    return (size_t)n;
}

/* The log end offset of TOPIC/0 via ListOffsets(latest). */
static int64_t latest_offset(const char *topic)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 1 << 20);
    cm_list_offsets_req_partition_t p;
    cm_list_offsets_req_partition_init(&p);
    p.partition_index = 0;
    p.timestamp = -1;
    cm_list_offsets_req_topic_t t;
    cm_list_offsets_req_topic_init(&t);
    t.name = cm_kstr_c(topic);
    t.partitions = &p;
    t.partitions_n = 1;
    cm_list_offsets_req_t req;
    cm_list_offsets_req_init(&req);
    req.topics = &t;
    req.topics_n = 1;
    cm_list_offsets_resp_t resp;
    int64_t off = -1;
    if (ROUNDTRIP(fd, CM_KAPI_LIST_OFFSETS, 5, list_offsets, &req, &a, &resp) == 0 &&
        resp.topics_n == 1 && resp.topics[0].partitions_n == 1 &&
        resp.topics[0].partitions[0].error_code == 0)
        off = resp.topics[0].partitions[0].offset;
    cm_arena_free(&a);
    close(fd);
    return off;
}

static void raw_expect_close(const char *what, const void *bytes, size_t n)
{
    int fd = dial();
    send_all(fd, bytes, n);
    CHECK(closed_by_peer(fd), "%s: expected the broker to close the connection", what);
    close(fd);
}

static int16_t create_topic(const char *name, int32_t parts)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 1 << 20);
    cm_create_topics_req_creatable_topic_t t;
    cm_create_topics_req_creatable_topic_init(&t);
    t.name = (cm_kstr_t){ name, (int32_t)strlen(name) };
    t.num_partitions = parts;
    t.replication_factor = 1;
    cm_create_topics_req_t req;
    cm_create_topics_req_init(&req);
    req.topics = &t;
    req.topics_n = 1;
    req.timeout_ms = 10000;
    cm_create_topics_resp_t resp;
    int16_t err = -2;
    if (ROUNDTRIP(fd, CM_KAPI_CREATE_TOPICS, 5, create_topics, &req, &a, &resp) == 0 &&
        resp.topics_n == 1)
        err = resp.topics[0].error_code;
    cm_arena_free(&a);
    close(fd);
    return err;
}

static int bad_input(const char *topic)
{
    int64_t before = latest_offset(topic);
    CHECK(before >= 0, "topic %s must exist (ListOffsets failed)", topic);

    /* Frames the broker cannot parse: closed, nothing else. */
    static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
    raw_expect_close("frame size 2 GiB", huge, sizeof(huge));
    static const uint8_t negative[] = { 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0 };
    raw_expect_close("negative frame size", negative, sizeof(negative));
    static const uint8_t tiny[] = { 0, 0, 0, 3, 0, 0, 0 };
    raw_expect_close("frame smaller than a header", tiny, sizeof(tiny));
    static const uint8_t unknown_api[] = { 0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff };
    raw_expect_close("unknown API key 999", unknown_api, sizeof(unknown_api));
    static const uint8_t bad_version[] = { 0, 0, 0, 10, 0, 0, 0, 99, 0, 0, 0, 1, 0xff, 0xff };
    raw_expect_close("Produce v99", bad_version, sizeof(bad_version));
    static const uint8_t old_produce[] = { 0, 0, 0, 10, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff };
    raw_expect_close("Produce v2 (message format v1)", old_produce, sizeof(old_produce));
    /* Metadata v1 whose topic array claims a million entries in 4 bytes. */
    static const uint8_t short_body[] = { 0, 0, 0, 14,   0,    3,    0,    1,    0,
                                          0, 0, 1, 0xff, 0xff, 0x00, 0x0f, 0x42, 0x40 };
    raw_expect_close("Metadata with a lying array count", short_body, sizeof(short_body));
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 97 + 13);
    junk[0] = 0;
    junk[1] = 0;
    junk[2] = 0x0f;
    junk[3] = 0xfc; /* size 4092: one full frame of garbage */
    raw_expect_close("4 KiB of garbage", junk, sizeof(junk));

    /* ApiVersions in an unknown version: error 35 and the list, in v0. */
    {
        int fd = dial();
        static const uint8_t av[] = { 0, 0, 0, 12, 0, 18, 0, 77, 0, 0, 0, 9, 0xff, 0xff, 0, 0 };
        send_all(fd, av, sizeof(av));
        uint8_t *buf;
        ssize_t n = recv_frame(fd, &buf);
        CHECK(n >= 8, "ApiVersions v77 must be answered");
        if (n >= 8) {
            cm_kr_t r;
            cm_kr_init(&r, buf, (size_t)n);
            CHECK(cm_kr_i32(&r) == 9, "ApiVersions v77: correlation id");
            cm_arena_t a;
            cm_arena_init(&a, 1 << 16);
            cm_api_versions_resp_t resp;
            CHECK(cm_api_versions_resp_decode(&r, 0, &a, &resp) == 0 &&
                      resp.error_code == CM_KERR_UNSUPPORTED_VERSION && resp.api_keys_n > 5,
                  "ApiVersions v77: expected UNSUPPORTED_VERSION with the API list");
            cm_arena_free(&a);
            free(buf);
        }
        close(fd);
    }

    /* Bad record batches: the right error, nothing appended. */
    {
        int fd = dial();
        uint8_t b[512];
        size_t n = good_batch(b, sizeof(b), "bad-input-probe");
        b[n - 1] ^= 0x40;
        CHECK(produce_one(fd, topic, b, n, 7, NULL) == CM_KERR_CORRUPT_MESSAGE,
              "flipped byte: expected CORRUPT_MESSAGE");
        n = good_batch(b, sizeof(b), "bad-input-probe");
        b[16] = 1;
        CHECK(produce_one(fd, topic, b, n, 7, NULL) == CM_KERR_INVALID_RECORD,
              "magic 1: expected INVALID_RECORD");
        n = good_batch(b, sizeof(b), "bad-input-probe");
        CHECK(produce_one(fd, topic, b, n - 5, 7, NULL) == CM_KERR_CORRUPT_MESSAGE,
              "truncated batch: expected CORRUPT_MESSAGE");
        n = good_batch(b, sizeof(b), "bad-input-probe");
        uint8_t two[1024];
        memcpy(two, b, n);
        memcpy(two + n, b, n);
        CHECK(produce_one(fd, topic, two, 2 * n, 7, NULL) == CM_KERR_INVALID_RECORD,
              "two batches in one partition: expected INVALID_RECORD");
        /* A record count that disagrees with the records (CRC recomputed: a lying client). */
        n = good_batch(b, sizeof(b), "bad-input-probe");
        cm_put_be32(b + 57, 2);
        cm_put_be32(b + 23, 1);
        cm_put_be32(b + 17, cm_crc32c(0, b + 21, n - 21));
        CHECK(produce_one(fd, topic, b, n, 7, NULL) == CM_KERR_INVALID_RECORD,
              "record count 2 with one record: expected INVALID_RECORD");
        CHECK(produce_one(fd, "no-such-topic", b, n, 7, NULL) == CM_KERR_UNKNOWN_TOPIC_OR_PARTITION,
              "unknown topic: expected UNKNOWN_TOPIC_OR_PARTITION");
        /* The connection survives per-partition errors. */
        n = good_batch(b, sizeof(b), "ok");
        CHECK(produce_one(fd, "no-such-topic", b, n, 9, NULL) == CM_KERR_UNKNOWN_TOPIC_OR_PARTITION,
              "connection still usable after bad batches");
        close(fd);
    }

    /* Invalid topic names. */
    const char *bad_names[] = { "", ".", "..", "a/b", "with space", "ümlaut", NULL };
    for (int i = 0; bad_names[i]; i++)
        CHECK(create_topic(bad_names[i], 1) == CM_KERR_INVALID_TOPIC_EXCEPTION,
              "topic name '%s' must be refused", bad_names[i]);
    char longname[260];
    memset(longname, 'x', 250);
    longname[250] = '\0';
    CHECK(create_topic(longname, 1) == CM_KERR_INVALID_TOPIC_EXCEPTION,
          "a 250-character topic name must be refused");
    CHECK(create_topic("zero-partitions", 0) == CM_KERR_INVALID_PARTITIONS,
          "0 partitions must be refused");

    int64_t after = latest_offset(topic);
    CHECK(after == before, "the log changed: latest offset %lld before, %lld after",
          (long long)before, (long long)after);
    printf("bad-input: %s (%d failures)\n", g_failures ? "FAILED" : "ok", g_failures);
    return g_failures ? 1 : 0;
}

/* ---- other commands ---- */

static int incremental_alter(const char *topic, int n, char **kv)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 1 << 20);
    cm_incremental_alter_configs_req_alterable_config_t cfgs[32];
    for (int i = 0; i < n && i < 32; i++) {
        cm_incremental_alter_configs_req_alterable_config_init(&cfgs[i]);
        char *eq = strchr(kv[i], '=');
        size_t klen = eq ? (size_t)(eq - kv[i]) : strlen(kv[i]);
        if (!eq && klen > 0 && kv[i][klen - 1] == '!') {
            cfgs[i].config_operation = 1;
            klen--;
        } else if (eq) {
            cfgs[i].value = cm_kstr_c(eq + 1);
        }
        cfgs[i].name = (cm_kstr_t){ kv[i], (int32_t)klen };
    }
    cm_incremental_alter_configs_req_alter_configs_resource_t res;
    cm_incremental_alter_configs_req_alter_configs_resource_init(&res);
    res.resource_type = 2;
    res.resource_name = cm_kstr_c(topic);
    res.configs = cfgs;
    res.configs_n = n;
    cm_incremental_alter_configs_req_t req;
    cm_incremental_alter_configs_req_init(&req);
    req.resources = &res;
    req.resources_n = 1;
    cm_incremental_alter_configs_resp_t resp;
    int rc = ROUNDTRIP(fd, CM_KAPI_INCREMENTAL_ALTER_CONFIGS, 1, incremental_alter_configs, &req,
                       &a, &resp);
    if (rc != 0 || resp.responses_n != 1) {
        fprintf(stderr, "kprobe: no answer\n");
        return 2;
    }
    int16_t err = resp.responses[0].error_code;
    printf("%s", cm_kerr_name(err));
    if (resp.responses[0].error_message.len > 0)
        printf(": %.*s", resp.responses[0].error_message.len, resp.responses[0].error_message.ptr);
    printf("\n");
    cm_arena_free(&a);
    close(fd);
    return err ? 1 : 0;
}

static int api_versions(int16_t v)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 1 << 20);
    cm_api_versions_req_t req;
    cm_api_versions_req_init(&req);
    req.client_software_name = CM_KSTR("kprobe");
    req.client_software_version = CM_KSTR("1.0");
    cm_api_versions_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_API_VERSIONS, v, api_versions, &req, &a, &resp) != 0) {
        fprintf(stderr, "kprobe: no answer\n");
        return 2;
    }
    printf("error=%s apis=%d\n", cm_kerr_name(resp.error_code), resp.api_keys_n);
    for (int32_t i = 0; i < resp.api_keys_n; i++) {
        const cm_kapi_info_t *info = cm_kapi_info(resp.api_keys[i].api_key);
        printf("  %s %d-%d\n", info ? info->name : "?", resp.api_keys[i].min_version,
               resp.api_keys[i].max_version);
    }
    cm_arena_free(&a);
    close(fd);
    return 0;
}

static int fetch_one(const char *topic, int32_t part, int64_t offset, int32_t wait_ms,
                     int32_t replica, int32_t current_epoch)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 1 << 24);
    cm_fetch_req_partition_t p;
    cm_fetch_req_partition_init(&p);
    p.partition = part;
    p.fetch_offset = offset;
    p.current_leader_epoch = current_epoch;
    p.partition_max_bytes = 1 << 20;
    cm_fetch_req_topic_t t;
    cm_fetch_req_topic_init(&t);
    t.topic = cm_kstr_c(topic);
    t.partitions = &p;
    t.partitions_n = 1;
    cm_fetch_req_t req;
    cm_fetch_req_init(&req);
    req.max_wait_ms = wait_ms;
    req.replica_id = replica;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.topics = &t;
    req.topics_n = 1;
    int64_t t0 = cm_mono_ms();
    cm_fetch_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_FETCH, 11, fetch, &req, &a, &resp) != 0 || resp.responses_n != 1) {
        fprintf(stderr, "kprobe: no answer\n");
        return 2;
    }
    cm_fetch_resp_partition_data_t *pd = &resp.responses[0].partitions[0];
    printf("ms=%lld bytes=%d error=%s hw=%lld\n", (long long)(cm_mono_ms() - t0),
           pd->records.len < 0 ? 0 : pd->records.len, cm_kerr_name(pd->error_code),
           (long long)pd->high_watermark);
    cm_arena_free(&a);
    close(fd);
    return 0;
}

/* OffsetForLeaderEpoch v4 for one partition: "error=<name> epoch=<e> end=<offset>". */
static int epoch_end(const char *topic, int32_t part, int32_t current_epoch, int32_t epoch)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    cm_offset_for_leader_epoch_req_offset_for_leader_partition_t p;
    cm_offset_for_leader_epoch_req_offset_for_leader_partition_init(&p);
    p.partition = part;
    p.current_leader_epoch = current_epoch;
    p.leader_epoch = epoch;
    cm_offset_for_leader_epoch_req_offset_for_leader_topic_t t;
    cm_offset_for_leader_epoch_req_offset_for_leader_topic_init(&t);
    t.topic = cm_kstr_c(topic);
    t.partitions = &p;
    t.partitions_n = 1;
    cm_offset_for_leader_epoch_req_t req;
    cm_offset_for_leader_epoch_req_init(&req);
    req.replica_id = -1;
    req.topics = &t;
    req.topics_n = 1;
    cm_offset_for_leader_epoch_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_OFFSET_FOR_LEADER_EPOCH, 4, offset_for_leader_epoch, &req, &a,
                  &resp) != 0 ||
        resp.topics_n != 1 || resp.topics[0].partitions_n != 1) {
        fprintf(stderr, "kprobe: no answer\n");
        return 2;
    }
    const cm_offset_for_leader_epoch_resp_epoch_end_offset_t *r = &resp.topics[0].partitions[0];
    printf("error=%s epoch=%d end=%lld\n", cm_kerr_name(r->error_code), r->leader_epoch,
           (long long)r->end_offset);
    cm_arena_free(&a);
    close(fd);
    return 0;
}

/* ListOffsets v8 for one partition: "error=<name> offset=<o> epoch=<e>". */
static int list_offsets(const char *topic, int32_t part, int64_t ts, int32_t current_epoch)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    cm_list_offsets_req_partition_t p;
    cm_list_offsets_req_partition_init(&p);
    p.partition_index = part;
    p.current_leader_epoch = current_epoch;
    p.timestamp = ts;
    cm_list_offsets_req_topic_t t;
    cm_list_offsets_req_topic_init(&t);
    t.name = cm_kstr_c(topic);
    t.partitions = &p;
    t.partitions_n = 1;
    cm_list_offsets_req_t req;
    cm_list_offsets_req_init(&req);
    req.replica_id = -1;
    req.topics = &t;
    req.topics_n = 1;
    cm_list_offsets_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_LIST_OFFSETS, 8, list_offsets, &req, &a, &resp) != 0 ||
        resp.topics_n != 1 || resp.topics[0].partitions_n != 1) {
        fprintf(stderr, "kprobe: no answer\n");
        return 2;
    }
    const cm_list_offsets_resp_partition_response_t *r = &resp.topics[0].partitions[0];
    printf("error=%s offset=%lld epoch=%d\n", cm_kerr_name(r->error_code), (long long)r->offset,
           r->leader_epoch);
    cm_arena_free(&a);
    close(fd);
    return 0;
}

/* One record VALUE to TOPIC/PARTITION with ACKS (Produce v9): "error=<name> offset=<base>". */
static int produce_cmd(const char *topic, int32_t part, int16_t acks, const char *value)
{
    int fd = dial();
    uint8_t batch[4096];
    size_t len = good_batch(batch, sizeof(batch), value);
    int64_t base = -1;
    int16_t err = produce_to(fd, topic, part, acks, batch, len, 9, &base);
    if (err == -2) {
        fprintf(stderr, "kprobe: no answer\n");
        return 2;
    }
    printf("error=%s offset=%lld\n", cm_kerr_name(err), (long long)base);
    close(fd);
    return 0;
}

static int fetch_many(const char *topic, int32_t n)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 1 << 26);
    cm_fetch_req_partition_t *ps = cm_arena_calloc(&a, (size_t)n, sizeof(*ps));
    for (int32_t i = 0; i < n; i++) {
        cm_fetch_req_partition_init(&ps[i]);
        ps[i].partition_max_bytes = 1024;
    }
    cm_fetch_req_topic_t t;
    cm_fetch_req_topic_init(&t);
    t.topic = cm_kstr_c(topic);
    t.partitions = ps;
    t.partitions_n = n;
    cm_fetch_req_t req;
    cm_fetch_req_init(&req);
    req.max_wait_ms = 100;
    req.topics = &t;
    req.topics_n = 1;
    cm_fetch_resp_t resp;
    int rc = ROUNDTRIP(fd, CM_KAPI_FETCH, 11, fetch, &req, &a, &resp);
    printf("%s\n", rc == 0 ? "answered" : "closed");
    cm_arena_free(&a);
    close(fd);
    return 0;
}

#include "kprobe_groups.h"

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "-b") != 0) {
        fprintf(stderr,
                "usage: kprobe -b HOST:PORT bad-input|incremental-alter|api-versions|"
                "fetch-many|fetch-wait|fetch-replica|fetch-epoch|epoch-end|list-offsets|produce|"
                "group-protocol|"
                "group-keep|group-resume ...\n");
        return 2;
    }
    g_addr = argv[2];
    kconf_each("kprobe", sasl_conf, NULL);
    const char *cmd = argv[3];
    if (strcmp(cmd, "bad-input") == 0 && argc == 5)
        return bad_input(argv[4]);
    if (strcmp(cmd, "incremental-alter") == 0 && argc >= 6)
        return incremental_alter(argv[4], argc - 5, argv + 5);
    if (strcmp(cmd, "api-versions") == 0 && argc == 5)
        return api_versions((int16_t)atoi(argv[4]));
    if (strcmp(cmd, "fetch-many") == 0 && argc == 6)
        return fetch_many(argv[4], atoi(argv[5]));
    if (strcmp(cmd, "group-protocol") == 0 && argc == 6)
        return group_protocol(argv[4], argv[5]);
    if (strcmp(cmd, "group-keep") == 0 && argc == 7)
        return group_keep(argv[4], argv[5], atoi(argv[6]));
    if (strcmp(cmd, "group-resume") == 0 && argc == 9)
        return group_resume(argv[4], argv[5], argv[6], atoi(argv[7]), atoll(argv[8]));
    if (strcmp(cmd, "fetch-wait") == 0 && argc == 8)
        return fetch_one(argv[4], atoi(argv[5]), atoll(argv[6]), atoi(argv[7]), -1, -1);
    if (strcmp(cmd, "fetch-replica") == 0 && argc == 7)
        return fetch_one(argv[4], atoi(argv[5]), 0, 0, atoi(argv[6]), -1);
    if (strcmp(cmd, "fetch-epoch") == 0 && argc == 7)
        return fetch_one(argv[4], atoi(argv[5]), 0, 0, -1, atoi(argv[6]));
    if (strcmp(cmd, "produce") == 0 && argc == 8)
        return produce_cmd(argv[4], atoi(argv[5]), (int16_t)atoi(argv[6]), argv[7]);
    if (strcmp(cmd, "epoch-end") == 0 && argc == 8)
        return epoch_end(argv[4], atoi(argv[5]), atoi(argv[6]), atoi(argv[7]));
    if (strcmp(cmd, "list-offsets") == 0 && argc == 8)
        return list_offsets(argv[4], atoi(argv[5]), atoll(argv[6]), atoi(argv[7]));
    fprintf(stderr, "kprobe: unknown command or wrong arguments\n");
    return 2;
}
