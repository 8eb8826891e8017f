/*
 * Writes the seed corpora of the fuzz targets: `make fuzz-seeds` (build/fuzz/fuzz-seeds DIR).
 *
 * Seeds are made with the project's own encoders, so they are what real clients send:
 * Kafka request frames of every API at several versions, record batches with each codec,
 * segment logs, JSON documents, request paths, Authorization headers with tokens signed by
 * the credentials target's Ed25519 key. Every file written is DIR/<target>/gen-<name>;
 * other files (regress-* inputs kept from crashes) are left alone.
 *
 * Deterministic: the same tree writes the same bytes, so a diff of the corpus shows what a
 * change of format did.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cm_b64.h"
#include "cm_compress.h"
#include "cm_crc32c.h"
#include "cm_kbuf.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_krecord.h"
#include "cm_secret.h"
#include "fuzz.h"

static const char *seeds__dir;
static int seeds__n;

static void seeds__put(const char *target, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", seeds__dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/gen-%s", seeds__dir, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    seeds__n++;
}

static void seeds__puts(const char *target, const char *name, const char *s)
{
    seeds__put(target, name, s, strlen(s));
}

/* ---- record batches ---------------------------------------------------------------------- */

static const cm_record_header_t seeds__headers[] = {
    { CM_KSTR("trace-id"), { (const uint8_t *)"abc123", 6 } },
    { CM_KSTR("empty"), { NULL, -1 } },
};

/*
 * Appends one batch of `n` records to `out`: keys k0.., values of `vlen` bytes, headers on
 * every other record, a null key and a tombstone among them; compressed with `codec`
 * (snappy_raw: a raw snappy block as librdkafka writes, not xerial framing). Offsets start
 * at `base`. Returns the batch's size.
 */
static size_t seeds__batch(cm_kw_t *out, int n, int64_t base, int64_t ts, int codec,
                           bool snappy_raw, int vlen)
{
    cm_kw_t w;
    cm_batch_builder_t b;
    uint8_t val[512];
    memset(val, 'v', sizeof(val));
    cm_kw_init(&w, 1 << 24);
    cm_batch_build_begin(&b, &w, ts);
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        cm_kbytes_t k = { (const uint8_t *)key, i == 1 ? -1 : kl };
        cm_kbytes_t v = { val, i == 2 ? -1 : vlen };
        cm_batch_build_add(&b, ts + i, k, v, i % 2 ? seeds__headers : NULL, i % 2 ? 2 : 0);
    }
    int64_t size = cm_batch_build_end(&b);
    if (size < 0)
        abort();
    uint8_t *batch = w.buf;
    size_t len = (size_t)size;
    uint8_t *z = NULL;
    if (codec != CM_CODEC_NONE) {
        size_t zlen;
        const uint8_t *area = w.buf + CM_BATCH_HEADER_SIZE;
        size_t alen = len - CM_BATCH_HEADER_SIZE;
        if (snappy_raw) {
            zlen = snappy_max_compressed_length(alen);
            z = malloc(zlen);
            if (z == NULL ||
                snappy_compress((const char *)area, alen, (char *)z, &zlen) != SNAPPY_OK)
                abort();
        } else if (cm_compress(codec, 0, area, alen, &z, &zlen) != 0) {
            abort();
        }
        batch = malloc(CM_BATCH_HEADER_SIZE + zlen);
        if (batch == NULL)
            abort();
        memcpy(batch, w.buf, CM_BATCH_HEADER_SIZE);
        memcpy(batch + CM_BATCH_HEADER_SIZE, z, zlen);
        len = CM_BATCH_HEADER_SIZE + zlen;
        cm_put_be32(batch + 8, (uint32_t)(len - CM_BATCH_LOG_OVERHEAD));
        cm_put_be16(batch + 21, (uint16_t)codec);
        cm_put_be32(batch + 17, cm_crc32c(0, batch + CM_BATCH_CRC_START, len - CM_BATCH_CRC_START));
    }
    cm_batch_assign(batch, base, 0);
    cm_kw_raw(out, batch, len);
    if (batch != w.buf)
        free(batch);
    free(z);
    cm_kw_free(&w);
    return len;
}

static void seeds__batches(void)
{
    static const struct {
        const char *name;
        int n, codec, vlen;
        bool raw;
    } b[] = {
        { "one-record", 1, CM_CODEC_NONE, 5, false },
        { "five-records-headers", 5, CM_CODEC_NONE, 20, false },
        { "gzip", 4, CM_CODEC_GZIP, 40, false },
        { "snappy-xerial", 4, CM_CODEC_SNAPPY, 40, false },
        { "snappy-raw", 4, CM_CODEC_SNAPPY, 40, true },
        { "lz4", 4, CM_CODEC_LZ4, 40, false },
        { "zstd", 4, CM_CODEC_ZSTD, 40, false },
        { "zstd-large-values", 3, CM_CODEC_ZSTD, 500, false },
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        cm_kw_t w;
        cm_kw_init(&w, 1 << 24);
        seeds__batch(&w, b[i].n, 0, 1700000000000, b[i].codec, b[i].raw, b[i].vlen);
        seeds__put("record_batch", b[i].name, w.buf, w.len);
        cm_kw_free(&w);
    }
    /* Log-append time, and a control batch (the flags readers skip). */
    cm_kw_t w;
    cm_kw_init(&w, 1 << 24);
    size_t n = seeds__batch(&w, 2, 0, 1700000000000, CM_CODEC_NONE, false, 8);
    cm_put_be16(w.buf + 21, CM_BATCH_ATTR_LOG_APPEND_TS);
    cm_put_be32(w.buf + 17, cm_crc32c(0, w.buf + CM_BATCH_CRC_START, n - CM_BATCH_CRC_START));
    seeds__put("record_batch", "log-append-time", w.buf, n);
    cm_put_be16(w.buf + 21, CM_BATCH_ATTR_CONTROL | CM_BATCH_ATTR_TRANSACTIONAL);
    cm_put_be32(w.buf + 17, cm_crc32c(0, w.buf + CM_BATCH_CRC_START, n - CM_BATCH_CRC_START));
    seeds__put("record_batch", "control", w.buf, n);
    cm_kw_free(&w);
}

/* ---- segment logs ------------------------------------------------------------------------ */

static void seeds__segments(void)
{
    cm_kw_t w;
    cm_kw_init(&w, 1 << 24);
    int64_t next = 0;
    static const int codecs[] = { CM_CODEC_NONE, CM_CODEC_GZIP, CM_CODEC_NONE, CM_CODEC_ZSTD,
                                  CM_CODEC_LZ4 };
    for (int i = 0; i < 5; i++) {
        seeds__batch(&w, 3, next, 1700000000000 + 10 * i, codecs[i], false, 30);
        next += 3;
    }
    seeds__put("segment_recovery", "five-batches", w.buf, w.len);
    seeds__put("segment_recovery", "torn-tail", w.buf, w.len - 7);
    uint8_t *flip = malloc(w.len + 4096);
    if (flip == NULL)
        abort();
    memcpy(flip, w.buf, w.len);
    flip[w.len / 2] ^= 0x10;
    seeds__put("segment_recovery", "flipped-byte", flip, w.len);
    memcpy(flip, w.buf, w.len);
    memset(flip + w.len, 0, 4096);
    seeds__put("segment_recovery", "preallocated-zeros", flip, w.len + 4096);
    free(flip);
    cm_kw_reset(&w);
    seeds__batch(&w, 2, 0, 1000, CM_CODEC_NONE, false, 10);
    seeds__batch(&w, 2, 5, 2000, CM_CODEC_NONE, false, 10); /* a gap: 2, 3, 4 missing */
    seeds__put("segment_recovery", "offset-gap", w.buf, w.len);
    cm_kw_reset(&w);
    seeds__batch(&w, 1, 0, 1000, CM_CODEC_NONE, false, 1);
    seeds__put("segment_recovery", "one-batch", w.buf, w.len);
    seeds__put("segment_recovery", "empty", "", 0);
    cm_kw_free(&w);
}

/* ---- Kafka requests ---------------------------------------------------------------------- */

/* Writes a request frame (without its size) of `type` at version `v`. */
#define SEEDS_REQ(type, KEY, v, m)                                                                 \
    do {                                                                                           \
        cm_kw_t w_;                                                                                \
        char name_[64];                                                                            \
        cm_kw_init(&w_, 1 << 24);                                                                  \
        size_t st_ = cm_kreq_begin(&w_, CM_KAPI_##KEY, (v), 7, "fuzz-seeds");                      \
        cm_##type##_req_encode(&w_, (v), (m));                                                     \
        cm_kframe_end(&w_, st_);                                                                   \
        if (w_.err)                                                                                \
            abort();                                                                               \
        snprintf(name_, sizeof(name_), "%s-v%d%s", #type, (int)(v), seeds__tag);                   \
        seeds__put("kafka_request", name_, w_.buf + 4, w_.len - 4);                                \
        cm_kw_free(&w_);                                                                           \
    } while (0)

/* Every API with its fields at their defaults, at its first, middle and last version. */
#define SEEDS_DEFAULTS(type, KEY)                                                                  \
    do {                                                                                           \
        int16_t vs_[3] = { CM_##KEY##_REQ_MIN_VERSION,                                             \
                           (CM_##KEY##_REQ_MIN_VERSION + CM_##KEY##_REQ_MAX_VERSION) / 2,          \
                           CM_##KEY##_REQ_MAX_VERSION };                                           \
        for (int i_ = 0; i_ < 3; i_++) {                                                           \
            cm_##type##_req_t m_;                                                                  \
            cm_##type##_req_init(&m_);                                                             \
            SEEDS_REQ(type, KEY, vs_[i_], &m_);                                                    \
        }                                                                                          \
    } while (0)

static const char *seeds__tag = "";

static void seeds__defaults(void)
{
    seeds__tag = "-defaults";
    SEEDS_DEFAULTS(produce, PRODUCE);
    SEEDS_DEFAULTS(fetch, FETCH);
    SEEDS_DEFAULTS(list_offsets, LIST_OFFSETS);
    SEEDS_DEFAULTS(metadata, METADATA);
    SEEDS_DEFAULTS(offset_commit, OFFSET_COMMIT);
    SEEDS_DEFAULTS(offset_fetch, OFFSET_FETCH);
    SEEDS_DEFAULTS(find_coordinator, FIND_COORDINATOR);
    SEEDS_DEFAULTS(join_group, JOIN_GROUP);
    SEEDS_DEFAULTS(heartbeat, HEARTBEAT);
    SEEDS_DEFAULTS(leave_group, LEAVE_GROUP);
    SEEDS_DEFAULTS(sync_group, SYNC_GROUP);
    SEEDS_DEFAULTS(describe_groups, DESCRIBE_GROUPS);
    SEEDS_DEFAULTS(list_groups, LIST_GROUPS);
    SEEDS_DEFAULTS(sasl_handshake, SASL_HANDSHAKE);
    SEEDS_DEFAULTS(api_versions, API_VERSIONS);
    SEEDS_DEFAULTS(create_topics, CREATE_TOPICS);
    SEEDS_DEFAULTS(delete_topics, DELETE_TOPICS);
    SEEDS_DEFAULTS(delete_records, DELETE_RECORDS);
    SEEDS_DEFAULTS(init_producer_id, INIT_PRODUCER_ID);
    SEEDS_DEFAULTS(offset_for_leader_epoch, OFFSET_FOR_LEADER_EPOCH);
    SEEDS_DEFAULTS(describe_configs, DESCRIBE_CONFIGS);
    SEEDS_DEFAULTS(alter_configs, ALTER_CONFIGS);
    SEEDS_DEFAULTS(sasl_authenticate, SASL_AUTHENTICATE);
    SEEDS_DEFAULTS(create_partitions, CREATE_PARTITIONS);
    SEEDS_DEFAULTS(delete_groups, DELETE_GROUPS);
    SEEDS_DEFAULTS(incremental_alter_configs, INCREMENTAL_ALTER_CONFIGS);
    SEEDS_DEFAULTS(describe_cluster, DESCRIBE_CLUSTER);
    seeds__tag = "";
}

static void seeds__produce(void)
{
    static const struct {
        const char *tag;
        int codec;
    } c[] = { { "-plain", CM_CODEC_NONE }, { "-gzip", CM_CODEC_GZIP }, { "-zstd", CM_CODEC_ZSTD } };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        cm_kw_t rec;
        cm_kw_init(&rec, 1 << 24);
        seeds__batch(&rec, 3, 0, 1700000000000, c[i].codec, false, 16);
        cm_produce_req_partition_produce_data_t pd = { 0, { rec.buf, (int32_t)rec.len, NULL } };
        cm_produce_req_topic_produce_data_t td = { CM_KSTR("orders"), &pd, 1 };
        cm_produce_req_t m;
        cm_produce_req_init(&m);
        m.acks = -1;
        m.timeout_ms = 30000;
        m.topic_data = &td;
        m.topic_data_n = 1;
        seeds__tag = c[i].tag;
        SEEDS_REQ(produce, PRODUCE, 3, &m);
        SEEDS_REQ(produce, PRODUCE, 9, &m);
        cm_kw_free(&rec);
    }
    seeds__tag = "";
}

static void seeds__fetch_and_offsets(void)
{
    cm_fetch_req_partition_t fp[2];
    for (int i = 0; i < 2; i++) {
        cm_fetch_req_partition_init(&fp[i]);
        fp[i].partition = i;
        fp[i].fetch_offset = 100 * i;
        fp[i].partition_max_bytes = 1 << 20;
    }
    cm_fetch_req_topic_t ft;
    cm_fetch_req_topic_init(&ft);
    ft.topic = CM_KSTR("orders");
    ft.topic_id.b[15] = 1;
    ft.partitions = fp;
    ft.partitions_n = 2;
    cm_fetch_req_t f;
    cm_fetch_req_init(&f);
    f.max_wait_ms = 500;
    f.min_bytes = 1;
    f.max_bytes = 1 << 24;
    f.topics = &ft;
    f.topics_n = 1;
    seeds__tag = "-two-partitions";
    SEEDS_REQ(fetch, FETCH, 4, &f);
    SEEDS_REQ(fetch, FETCH, 12, &f);
    SEEDS_REQ(fetch, FETCH, 13, &f);

    cm_list_offsets_req_partition_t lp;
    cm_list_offsets_req_partition_init(&lp);
    lp.timestamp = -2;
    cm_list_offsets_req_topic_t lt = { CM_KSTR("orders"), &lp, 1 };
    cm_list_offsets_req_t l;
    cm_list_offsets_req_init(&l);
    l.topics = &lt;
    l.topics_n = 1;
    seeds__tag = "-earliest";
    SEEDS_REQ(list_offsets, LIST_OFFSETS, 1, &l);
    SEEDS_REQ(list_offsets, LIST_OFFSETS, 7, &l);

    cm_metadata_req_topic_t mt[2];
    cm_metadata_req_topic_init(&mt[0]);
    cm_metadata_req_topic_init(&mt[1]);
    mt[0].name = CM_KSTR("orders");
    mt[1].name = CM_KSTR("payments");
    cm_metadata_req_t md;
    cm_metadata_req_init(&md);
    md.topics = mt;
    md.topics_n = 2;
    seeds__tag = "-two-topics";
    SEEDS_REQ(metadata, METADATA, 1, &md);
    SEEDS_REQ(metadata, METADATA, 9, &md);
    SEEDS_REQ(metadata, METADATA, 12, &md);
    seeds__tag = "";
}

static void seeds__admin(void)
{
    cm_create_topics_req_creatable_topic_config_t cfg[2] = {
        { CM_KSTR("retention.ms"), CM_KSTR("3600000") },
        { CM_KSTR("cleanup.policy"), CM_KSTR_NULL },
    };
    cm_create_topics_req_creatable_topic_t t;
    cm_create_topics_req_creatable_topic_init(&t);
    t.name = CM_KSTR("orders");
    t.num_partitions = 3;
    t.replication_factor = 1;
    t.configs = cfg;
    t.configs_n = 2;
    cm_create_topics_req_t m;
    cm_create_topics_req_init(&m);
    m.topics = &t;
    m.topics_n = 1;
    m.timeout_ms = 5000;
    seeds__tag = "-with-configs";
    SEEDS_REQ(create_topics, CREATE_TOPICS, 1, &m);
    SEEDS_REQ(create_topics, CREATE_TOPICS, 5, &m);
    seeds__tag = "";
}

/* A consumer-protocol value as clients write it: an int16 version, then the body. */
static cm_kbytes_t seeds__subscription(cm_kw_t *w)
{
    cm_kstr_t topics[2] = { CM_KSTR("orders"), CM_KSTR("payments") };
    cm_consumer_protocol_subscription_t s;
    cm_consumer_protocol_subscription_init(&s);
    s.topics = topics;
    s.topics_n = 2;
    cm_kw_i16(w, 1);
    cm_consumer_protocol_subscription_encode(w, 1, &s);
    return (cm_kbytes_t){ w->buf, (int32_t)w->len };
}

static cm_kbytes_t seeds__assignment(cm_kw_t *w)
{
    int32_t parts[3] = { 0, 1, 2 };
    cm_consumer_protocol_assignment_topic_partition_t tp = { CM_KSTR("orders"), parts, 3 };
    cm_consumer_protocol_assignment_t a;
    cm_consumer_protocol_assignment_init(&a);
    a.assigned_partitions = &tp;
    a.assigned_partitions_n = 1;
    cm_kw_i16(w, 1);
    cm_consumer_protocol_assignment_encode(w, 1, &a);
    return (cm_kbytes_t){ w->buf, (int32_t)w->len };
}

static void seeds__groups(void)
{
    cm_kw_t sub, asg;
    cm_kw_init(&sub, 1 << 20);
    cm_kw_init(&asg, 1 << 20);
    cm_join_group_req_protocol_t p = { CM_KSTR("range"), seeds__subscription(&sub) };
    cm_join_group_req_t j;
    cm_join_group_req_init(&j);
    j.group_id = CM_KSTR("billing");
    j.session_timeout_ms = 10000;
    j.rebalance_timeout_ms = 30000;
    j.member_id = CM_KSTR("");
    j.protocol_type = CM_KSTR("consumer");
    j.protocols = &p;
    j.protocols_n = 1;
    seeds__tag = "-consumer";
    SEEDS_REQ(join_group, JOIN_GROUP, 1, &j);
    SEEDS_REQ(join_group, JOIN_GROUP, 5, &j);
    SEEDS_REQ(join_group, JOIN_GROUP, 9, &j);

    cm_sync_group_req_assignment_t a = { CM_KSTR("member-1"), seeds__assignment(&asg) };
    cm_sync_group_req_t s;
    cm_sync_group_req_init(&s);
    s.group_id = CM_KSTR("billing");
    s.generation_id = 1;
    s.member_id = CM_KSTR("member-1");
    s.protocol_type = CM_KSTR("consumer");
    s.protocol_name = CM_KSTR("range");
    s.assignments = &a;
    s.assignments_n = 1;
    SEEDS_REQ(sync_group, SYNC_GROUP, 1, &s);
    SEEDS_REQ(sync_group, SYNC_GROUP, 5, &s);

    cm_offset_commit_req_partition_t op;
    cm_offset_commit_req_partition_init(&op);
    op.committed_offset = 42;
    op.committed_metadata = CM_KSTR("meta");
    cm_offset_commit_req_topic_t ot = { CM_KSTR("orders"), &op, 1 };
    cm_offset_commit_req_t oc;
    cm_offset_commit_req_init(&oc);
    oc.group_id = CM_KSTR("billing");
    oc.generation_id_or_member_epoch = 1;
    oc.member_id = CM_KSTR("member-1");
    oc.topics = &ot;
    oc.topics_n = 1;
    SEEDS_REQ(offset_commit, OFFSET_COMMIT, 2, &oc);
    SEEDS_REQ(offset_commit, OFFSET_COMMIT, 8, &oc);
    seeds__tag = "";
    cm_kw_free(&sub);
    cm_kw_free(&asg);
}

/* ---- JSON, paths, credentials ------------------------------------------------------------ */

static void seeds__json(void)
{
    static const char *const docs[][2] = {
        { "object", "{\"name\":\"orders\",\"partitions\":3,\"configs\":{\"retention.ms\":\"1\"}}" },
        { "records",
          "{\"records\":[{\"key\":\"k\",\"value\":{\"n\":1}},{\"value\":null,\"partition\":2}]}" },
        { "numbers", "[0,-0,1,-1,9223372036854775807,-9223372036854775808,1.5,-2.5e-3,1E+308,"
                     "123456789012345678901234567890,0.1]" },
        { "strings", "[\"\",\"plain\",\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t\",\"\\u00e9\\u4e2d\","
                     "\"\\ud83d\\ude00\",\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"]" },
        { "literals", " [ true , false , null ] " },
        { "empty-containers", "{\"a\":[],\"b\":{},\"c\":[[],{}]}" },
        { "many-keys", "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,"
                       "\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17}" },
        { "jwt-claims", "{\"iss\":\"https://ed.fuzz.example\",\"aud\":[\"x\",\"streamd\"],"
                        "\"exp\":4102444800,\"nbf\":0,\"sub\":\"alice\"}" },
        { "scalar-string", "\"just a string\"" },
        { "scalar-number", "42" },
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        seeds__puts("json", docs[i][0], docs[i][1]);
}

static void seeds__paths(void)
{
    static const char *const paths[][2] = {
        { "topics", "/kafka/v3/clusters/lkc-0123456789/topics" },
        { "records", "/kafka/v3/clusters/lkc-0123456789/topics/orders/records" },
        { "consume", "/kafka/v3/clusters/lkc-0123456789/topics/orders/partitions/0/records"
                     "?offset=10&max_bytes=65536&format=json" },
        { "acls-query", "/kafka/v3/clusters/lkc-0123456789/acls?resource_type=TOPIC&"
                        "resource_name=orders&principal=User%3Aalice&operation=READ" },
        { "consumer", "/kafka/v2/clusters/lkc-0123456789/consumers/billing/instances/c1/records"
                      "?timeout=1000&max_bytes=1024" },
        { "operator", "/v1/tenants/acme/topics/orders/partitions/0/leader" },
        { "fleet", "/v1/brokers?pool=default&tenant=acme&limit=10&state=up" },
        { "encoded", "/v1/tenants?state=a+b%20c%2Fd&empty=&flag" },
        { "trailing-slash", "/v1/tenants/" },
        { "dot-segments", "/v1/tenants/../pools/./x" },
        { "double-slash", "//v1//tenants" },
        { "percent-segment", "/v1/tenants/a%2Fb" },
        { "too-many", "/a/b/c/d/e/f/g/h/i/j/k/l/m" },
        { "bearer", "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2ln" },
        { "root", "/" },
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        seeds__puts("http_path", paths[i][0], paths[i][1]);
}

static void seeds__b64url(const char *in, size_t n, char *out, size_t cap)
{
    cm_secret_b64url((const uint8_t *)in, n, out, cap);
}

/* "Bearer <header>.<claims>.<signature>": signed with the target's Ed25519 key for EdDSA,
 * else a signature of the right size that verifies with nothing. */
static void seeds__jwt(const char *name, const char *header, const char *claims)
{
    char h64[512], c64[1024], s64[512], token[2200];
    seeds__b64url(header, strlen(header), h64, sizeof(h64));
    seeds__b64url(claims, strlen(claims), c64, sizeof(c64));
    int n = snprintf(token, sizeof(token), "Bearer %s.%s", h64, c64);
    uint8_t sig[256];
    size_t slen = sizeof(sig);
    if (strstr(header, "\"EdDSA\"") != NULL) {
        EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
                                                   (const unsigned char *)FUZZ_ED25519_SEED, 32);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (k == NULL || ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
            EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)token + 7, (size_t)n - 7) != 1)
            abort();
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(k);
    } else {
        slen = strstr(header, "\"ES256\"") != NULL ? 64 : 256;
        for (size_t i = 0; i < slen; i++)
            sig[i] = (uint8_t)(i * 7 + 1);
    }
    seeds__b64url((const char *)sig, slen, s64, sizeof(s64));
    snprintf(token + n, sizeof(token) - (size_t)n, ".%s", s64);
    seeds__puts("credentials", name, token);
}

static void seeds__credentials(void)
{
    static const char *const basic[][2] = {
        { "basic-known-key", "FUZZKEY1:fuzz-secret-1" },
        { "basic-wrong-secret", "FUZZKEY1:nope" },
        { "basic-colon-in-secret", "FUZZKEY1:a:b:c" },
        { "basic-unknown-key", "OTHERKEY:secret" },
    };
    for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++) {
        char b64[256], hdr[300];
        size_t n = strlen(basic[i][1]);
        cm_b64_encode((const uint8_t *)basic[i][1], n, b64);
        b64[cm_b64_encoded_len(n)] = '\0';
        snprintf(hdr, sizeof(hdr), "Basic %s", b64);
        seeds__puts("credentials", basic[i][0], hdr);
    }
    seeds__puts("credentials", "basic-not-base64", "Basic not*base64");
    seeds__puts("credentials", "other-scheme", "Digest username=\"x\"");

    static const char ok[] = "{\"iss\":\"https://ed.fuzz.example\",\"aud\":\"streamd\","
                             "\"exp\":4102444800,\"nbf\":0,\"sub\":\"alice\"}";
    seeds__jwt("jwt-eddsa-valid", "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", ok);
    seeds__jwt("jwt-eddsa-aud-array", "{\"alg\":\"EdDSA\"}",
               "{\"iss\":\"https://ed.fuzz.example\",\"aud\":[\"other\",\"streamd\"],"
               "\"exp\":4102444800,\"nbf\":0,\"sub\":\"svc.reader-1\"}");
    seeds__jwt("jwt-eddsa-expired", "{\"alg\":\"EdDSA\"}",
               "{\"iss\":\"https://ed.fuzz.example\",\"aud\":\"streamd\",\"exp\":1000,"
               "\"nbf\":0,\"sub\":\"alice\"}");
    seeds__jwt("jwt-eddsa-not-yet", "{\"alg\":\"EdDSA\"}",
               "{\"iss\":\"https://ed.fuzz.example\",\"aud\":\"streamd\",\"exp\":4102444800,"
               "\"nbf\":4102444000,\"sub\":\"alice\"}");
    seeds__jwt("jwt-eddsa-bad-principal", "{\"alg\":\"EdDSA\"}",
               "{\"iss\":\"https://ed.fuzz.example\",\"aud\":\"streamd\",\"exp\":4102444800,"
               "\"nbf\":0,\"sub\":\"alice smith/../x\"}");
    seeds__jwt("jwt-rs256", "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
               "{\"iss\":\"https://rs.fuzz.example\",\"aud\":\"streamd\",\"exp\":4102444800,"
               "\"nbf\":0,\"sub\":\"alice\"}");
    seeds__jwt("jwt-ps256", "{\"alg\":\"PS256\"}",
               "{\"iss\":\"https://ps.fuzz.example\",\"aud\":\"streamd\",\"exp\":4102444800,"
               "\"nbf\":0,\"sub\":\"alice\"}");
    seeds__jwt("jwt-es256", "{\"alg\":\"ES256\"}",
               "{\"iss\":\"https://es.fuzz.example\",\"aud\":\"streamd\",\"exp\":4102444800,"
               "\"nbf\":0,\"sub\":\"alice\"}");
    seeds__jwt("jwt-alg-none", "{\"alg\":\"none\"}",
               "{\"iss\":\"https://rs.fuzz.example\",\"aud\":\"streamd\",\"exp\":4102444800,"
               "\"nbf\":0,\"sub\":\"alice\"}");
    seeds__jwt("jwt-hs256-with-public-key", "{\"alg\":\"HS256\"}",
               "{\"iss\":\"https://rs.fuzz.example\",\"aud\":\"streamd\",\"exp\":4102444800,"
               "\"nbf\":0,\"sub\":\"alice\"}");
    seeds__puts("credentials", "jwt-two-parts", "bearer   eyJhbGciOiJFZERTQSJ9.e30");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR   (writes CORPUS_DIR/<target>/gen-*)\n", argv[0]);
        return 2;
    }
    seeds__dir = argv[1];
    if (mkdir(seeds__dir, 0755) != 0 && errno != EEXIST) {
        perror(seeds__dir);
        return 1;
    }
    seeds__batches();
    seeds__segments();
    seeds__defaults();
    seeds__produce();
    seeds__fetch_and_offsets();
    seeds__admin();
    seeds__groups();
    seeds__json();
    seeds__paths();
    seeds__credentials();
    printf("fuzz-seeds: wrote %d seeds under %s\n", seeds__n, seeds__dir);
    return 0;
}
