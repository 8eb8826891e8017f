/*
 * The Kafka request decoders, the way the broker runs them (brokers/bk_conn.c,
 * bk_dispatch.c): the input is one request frame after its 4-byte size. The header is
 * decoded with cm_kreq_hdr_decode(); a key and version the broker serves (bk_apis[], the
 * table ApiVersions advertises) goes to its generated decoder with the broker's arena
 * limit; keys the broker does not serve go to their decoder over kmsg's whole version
 * range, since clients and tools use those codecs too.
 *
 * Properties checked, beyond not crashing:
 *   - the generated RequestHeader codec reads the header exactly as cm_kreq_hdr_decode;
 *   - strings and bytes decoded are views inside the frame;
 *   - a decoded message encodes (at the same version) into bytes that decode again,
 *     consuming all of them, into a message that encodes to the same bytes;
 *   - the same body is also decoded as that API's response (the gateway decodes the
 *     brokers' responses with the same generated code), with the same round trip;
 *   - what the broker and the gateway look inside (Produce records with
 *     cm_batch_validate; consumer-protocol subscriptions and assignments in JoinGroup and
 *     SyncGroup) is decoded as they do.
 */
#include <string.h>

#include "bk_dispatch.h"
#include "cm_arena.h"
#include "cm_kbuf.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_krecord.h"
#include "cm_log.h"
#include "fuzz.h"

/* Re-encoding a decoded message: never more than this (inputs are far smaller). */
#define FUZZ__ENCODE_MAX (64u << 20)

/* A generated message codec behind one signature: decode into / encode from `m`. */
typedef struct fuzz__codec {
    const char *name;
    size_t size; /* sizeof the message struct */
    int (*dec)(cm_kr_t *r, int16_t v, cm_arena_t *a, void *m);
    void (*enc)(cm_kw_t *w, int16_t v, const void *m);
} fuzz__codec_t;

#define FUZZ__CODEC(type)                                                                          \
    static int fuzz__dec_##type(cm_kr_t *r, int16_t v, cm_arena_t *a, void *m)                     \
    {                                                                                              \
        return cm_##type##_decode(r, v, a, m);                                                     \
    }                                                                                              \
    static void fuzz__enc_##type(cm_kw_t *w, int16_t v, const void *m)                             \
    {                                                                                              \
        cm_##type##_encode(w, v, m);                                                               \
    }                                                                                              \
    static const fuzz__codec_t fuzz__##type = { #type, sizeof(cm_##type##_t), fuzz__dec_##type,    \
                                                fuzz__enc_##type }

#define FUZZ__API(type)                                                                            \
    FUZZ__CODEC(type##_req);                                                                       \
    FUZZ__CODEC(type##_resp)

FUZZ__API(produce);
FUZZ__API(fetch);
FUZZ__API(list_offsets);
FUZZ__API(metadata);
FUZZ__API(offset_commit);
FUZZ__API(offset_fetch);
FUZZ__API(find_coordinator);
FUZZ__API(join_group);
FUZZ__API(heartbeat);
FUZZ__API(leave_group);
FUZZ__API(sync_group);
FUZZ__API(describe_groups);
FUZZ__API(list_groups);
FUZZ__API(sasl_handshake);
FUZZ__API(api_versions);
FUZZ__API(create_topics);
FUZZ__API(delete_topics);
FUZZ__API(delete_records);
FUZZ__API(init_producer_id);
FUZZ__API(offset_for_leader_epoch);
FUZZ__API(describe_configs);
FUZZ__API(alter_configs);
FUZZ__API(sasl_authenticate);
FUZZ__API(create_partitions);
FUZZ__API(delete_groups);
FUZZ__API(incremental_alter_configs);
FUZZ__API(describe_cluster);
FUZZ__CODEC(consumer_protocol_subscription);
FUZZ__CODEC(consumer_protocol_assignment);

typedef struct fuzz__api {
    int16_t key;
    int16_t min_version; /* kmsg's range; the broker's own comes from bk_apis[] */
    int16_t max_version;
    const fuzz__codec_t *req;
    const fuzz__codec_t *resp;
} fuzz__api_t;

#define FUZZ__ROW(KEY, type)                                                                       \
    {                                                                                              \
        CM_KAPI_##KEY, CM_##KEY##_REQ_MIN_VERSION, CM_##KEY##_REQ_MAX_VERSION,                     \
            &fuzz__##type##_req, &fuzz__##type##_resp                                              \
    }

static const fuzz__api_t fuzz__apis[] = {
    FUZZ__ROW(PRODUCE, produce),
    FUZZ__ROW(FETCH, fetch),
    FUZZ__ROW(LIST_OFFSETS, list_offsets),
    FUZZ__ROW(METADATA, metadata),
    FUZZ__ROW(OFFSET_COMMIT, offset_commit),
    FUZZ__ROW(OFFSET_FETCH, offset_fetch),
    FUZZ__ROW(FIND_COORDINATOR, find_coordinator),
    FUZZ__ROW(JOIN_GROUP, join_group),
    FUZZ__ROW(HEARTBEAT, heartbeat),
    FUZZ__ROW(LEAVE_GROUP, leave_group),
    FUZZ__ROW(SYNC_GROUP, sync_group),
    FUZZ__ROW(DESCRIBE_GROUPS, describe_groups),
    FUZZ__ROW(LIST_GROUPS, list_groups),
    FUZZ__ROW(SASL_HANDSHAKE, sasl_handshake),
    FUZZ__ROW(API_VERSIONS, api_versions),
    FUZZ__ROW(CREATE_TOPICS, create_topics),
    FUZZ__ROW(DELETE_TOPICS, delete_topics),
    FUZZ__ROW(DELETE_RECORDS, delete_records),
    FUZZ__ROW(INIT_PRODUCER_ID, init_producer_id),
    FUZZ__ROW(OFFSET_FOR_LEADER_EPOCH, offset_for_leader_epoch),
    FUZZ__ROW(DESCRIBE_CONFIGS, describe_configs),
    FUZZ__ROW(ALTER_CONFIGS, alter_configs),
    FUZZ__ROW(SASL_AUTHENTICATE, sasl_authenticate),
    FUZZ__ROW(CREATE_PARTITIONS, create_partitions),
    FUZZ__ROW(DELETE_GROUPS, delete_groups),
    FUZZ__ROW(INCREMENTAL_ALTER_CONFIGS, incremental_alter_configs),
    FUZZ__ROW(DESCRIBE_CLUSTER, describe_cluster),
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    cm_log_init("fuzz", CM_LOG_ERROR);
    return 0;
}

/* The broker's request arena limit for a frame of `len` bytes (bk_conn__slot). */
static size_t fuzz__arena_max(size_t len)
{
    size_t max = 32 * len + (64u << 20);
    return max > (256u << 20) ? (256u << 20) : max;
}

/* A view decoded from the frame must lie inside it. */
static void fuzz__in_frame(const void *p, int32_t len, const uint8_t *frame, size_t size)
{
    if (len <= 0)
        return;
    const uint8_t *b = p;
    fuzz_assert(b >= frame && b + len <= frame + size);
}

/*
 * Encodes `m`, decodes that, and encodes again: the two encodings must be equal and the
 * second decode must consume exactly the first encoding.
 */
static void fuzz__round_trip(const fuzz__codec_t *c, int16_t v, const void *m, size_t arena_max)
{
    cm_kw_t w1, w2;
    cm_arena_t a;
    cm_kw_init(&w1, FUZZ__ENCODE_MAX);
    cm_kw_init(&w2, FUZZ__ENCODE_MAX);
    cm_arena_init(&a, arena_max);
    c->enc(&w1, v, m);
    if (w1.err)
        fuzz_fail("%s v%d: a decoded message does not encode", c->name, v);
    void *m2 = cm_arena_alloc(&a, c->size);
    cm_kr_t r;
    cm_kr_init(&r, w1.buf, w1.len);
    if (m2 == NULL || c->dec(&r, v, &a, m2) != 0)
        fuzz_fail("%s v%d: its own encoding (%zu bytes) does not decode", c->name, v, w1.len);
    if (cm_kr_left(&r) != 0)
        fuzz_fail("%s v%d: %zu bytes of its own encoding left after decoding", c->name, v,
                  cm_kr_left(&r));
    c->enc(&w2, v, m2);
    if (w2.err || w1.len != w2.len || (w1.len > 0 && memcmp(w1.buf, w2.buf, w1.len) != 0))
        fuzz_fail("%s v%d: encoding is not stable (%zu then %zu bytes)", c->name, v, w1.len,
                  w2.len);
    cm_kw_free(&w1);
    cm_kw_free(&w2);
    cm_arena_free(&a);
}

/* Decodes `r` with `c`; on success checks the round trip. Returns the message or NULL. */
static void *fuzz__decode(const fuzz__codec_t *c, cm_kr_t r, int16_t v, cm_arena_t *a)
{
    void *m = cm_arena_alloc(a, c->size);
    if (m == NULL || c->dec(&r, v, a, m) != 0)
        return NULL;
    fuzz__round_trip(c, v, m, a->limit);
    return m;
}

/* Consumer-protocol bytes as gw_member.c reads them: an int16 version, then the body. */
static void fuzz__consumer_protocol(const fuzz__codec_t *c, cm_kbytes_t b, int16_t max_version,
                                    cm_arena_t *a)
{
    if (b.len < 2)
        return;
    cm_kr_t r;
    cm_kr_init(&r, b.ptr + 2, (size_t)b.len - 2);
    int16_t v = (int16_t)cm_be16(b.ptr);
    if (v > max_version)
        v = max_version;
    if (v >= 0)
        fuzz__decode(c, r, v, a);
}

/* Produce: each partition's records as bk_produce__partition checks them. */
static void fuzz__produce(const cm_produce_req_t *m, const uint8_t *frame, size_t size)
{
    for (int32_t i = 0; i < m->topic_data_n; i++) {
        const cm_produce_req_topic_produce_data_t *td = &m->topic_data[i];
        fuzz__in_frame(td->name.ptr, td->name.len, frame, size);
        for (int32_t j = 0; j < td->partition_data_n; j++) {
            const cm_krecords_t *rec = &td->partition_data[j].records;
            if (rec->len <= 0)
                continue;
            fuzz__in_frame(rec->ptr, rec->len, frame, size);
            cm_batch_hdr_t h;
            if (cm_batch_validate(rec->ptr, (size_t)rec->len, &h) == CM_BATCH_OK)
                fuzz_assert(cm_batch_size(&h) <= rec->len && h.records_count > 0);
        }
    }
}

static void fuzz__request(const fuzz__api_t *api, cm_kr_t body, int16_t v, cm_arena_t *a,
                          const uint8_t *frame, size_t size)
{
    void *m = fuzz__decode(api->req, body, v, a);
    if (m == NULL)
        return;
    if (api->key == CM_KAPI_PRODUCE) {
        fuzz__produce(m, frame, size);
    } else if (api->key == CM_KAPI_JOIN_GROUP) {
        const cm_join_group_req_t *jg = m;
        for (int32_t i = 0; i < jg->protocols_n; i++)
            fuzz__consumer_protocol(&fuzz__consumer_protocol_subscription,
                                    jg->protocols[i].metadata,
                                    CM_CONSUMER_PROTOCOL_SUBSCRIPTION_MAX_VERSION, a);
    } else if (api->key == CM_KAPI_SYNC_GROUP) {
        const cm_sync_group_req_t *sg = m;
        for (int32_t i = 0; i < sg->assignments_n; i++)
            fuzz__consumer_protocol(&fuzz__consumer_protocol_assignment,
                                    sg->assignments[i].assignment,
                                    CM_CONSUMER_PROTOCOL_ASSIGNMENT_MAX_VERSION, a);
    }
}

/* The same body as the API's response, as the gateway's client side decodes it. */
static void fuzz__response(const fuzz__api_t *api, cm_kr_t body, int16_t v, cm_arena_t *a)
{
    void *m = fuzz__decode(api->resp, body, v, a);
    if (m == NULL)
        return;
    if (api->key == CM_KAPI_JOIN_GROUP) {
        const cm_join_group_resp_t *jg = m;
        for (int32_t i = 0; i < jg->members_n; i++)
            fuzz__consumer_protocol(&fuzz__consumer_protocol_subscription, jg->members[i].metadata,
                                    CM_CONSUMER_PROTOCOL_SUBSCRIPTION_MAX_VERSION, a);
    } else if (api->key == CM_KAPI_SYNC_GROUP) {
        const cm_sync_group_resp_t *sg = m;
        fuzz__consumer_protocol(&fuzz__consumer_protocol_assignment, sg->assignment,
                                CM_CONSUMER_PROTOCOL_ASSIGNMENT_MAX_VERSION, a);
    }
}

/* The generated RequestHeader codec must agree with cm_kreq_hdr_decode. */
static void fuzz__header_agrees(const uint8_t *frame, size_t size, const cm_kreq_hdr_t *h,
                                const cm_kr_t *after)
{
    cm_arena_t a;
    cm_arena_init(&a, 1u << 20);
    cm_request_header_t g;
    cm_kr_t r;
    cm_kr_init(&r, frame, size);
    int rc = cm_request_header_decode(&r, (int16_t)cm_kreq_hdr_version(h->api_key, h->api_version),
                                      &a, &g);
    fuzz_assert(rc == 0);
    fuzz_assert(g.request_api_key == h->api_key && g.request_api_version == h->api_version);
    fuzz_assert(g.correlation_id == h->correlation_id);
    fuzz_assert(cm_kstr_eq(g.client_id, h->client_id));
    fuzz_assert(r.p == after->p);
    cm_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The frame is the broker's own writable copy (Produce assigns offsets in place); an
     * exact-size copy lets ASan see a read one byte past it. */
    uint8_t *frame = malloc(size > 0 ? size : 1);
    if (frame == NULL)
        abort();
    memcpy(frame, data, size);
    cm_kr_t rd;
    cm_kreq_hdr_t h;
    cm_kr_init(&rd, frame, size);
    if (cm_kreq_hdr_decode(&rd, &h) != 0)
        goto out;
    fuzz__in_frame(h.client_id.ptr, h.client_id.len, frame, size);
    fuzz__header_agrees(frame, size, &h, &rd);

    const fuzz__api_t *api = NULL;
    for (size_t i = 0; i < sizeof(fuzz__apis) / sizeof(fuzz__apis[0]); i++)
        if (fuzz__apis[i].key == h.api_key)
            api = &fuzz__apis[i];
    if (api == NULL)
        goto out;
    /* Which request versions get decoded: the broker's table for what it serves. */
    int16_t min = api->min_version, max = api->max_version;
    for (size_t i = 0; i < bk_apis_n; i++) {
        if (bk_apis[i].key == h.api_key) {
            min = bk_apis[i].min_version;
            max = bk_apis[i].max_version;
        }
    }
    cm_arena_t a;
    cm_arena_init(&a, fuzz__arena_max(size));
    if (h.api_version >= min && h.api_version <= max)
        fuzz__request(api, rd, h.api_version, &a, frame, size);
    cm_arena_reset(&a);
    if (h.api_version >= api->min_version && h.api_version <= api->max_version)
        fuzz__response(api, rd, h.api_version, &a);
    cm_arena_free(&a);
out:
    free(frame);
    return 0;
}
