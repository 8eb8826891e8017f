/*
 * The Kafka codec against hand-checked byte vectors: primitives, varints, compact types,
 * tagged fields, request/response headers and generated message codecs.
 */
#include "cmocka_all.h"

#include <string.h>

#include "cm_arena.h"
#include "cm_kbuf.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"

#define HEX(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static void assert_bytes(const cm_kw_t *w, const uint8_t *want, size_t n)
{
    assert_int_equal(w->err, 0);
    assert_int_equal(w->len, n);
    assert_memory_equal(w->buf, want, n);
}

static void test_kbuf__uvarint_vectors(void **state)
{
    static const struct {
        uint32_t v;
        uint8_t b[5];
        size_t n;
    } cases[] = {
        { 0, { 0x00 }, 1 },
        { 1, { 0x01 }, 1 },
        { 127, { 0x7f }, 1 },
        { 128, { 0x80, 0x01 }, 2 },
        { 300, { 0xac, 0x02 }, 2 },
        { 16384, { 0x80, 0x80, 0x01 }, 3 },
        { 0xffffffffu, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_kw_t w;
        cm_kw_init(&w, 64);
        cm_kw_uvarint(&w, cases[i].v);
        assert_bytes(&w, cases[i].b, cases[i].n);
        assert_int_equal(cm_uvarint_size(cases[i].v), cases[i].n);
        cm_kr_t r;
        cm_kr_init(&r, w.buf, w.len);
        assert_int_equal(cm_kr_uvarint(&r), cases[i].v);
        assert_int_equal(r.err, 0);
        assert_int_equal(cm_kr_left(&r), 0);
        cm_kw_free(&w);
    }
}

static void test_kbuf__zigzag_varint_vectors(void **state)
{
    static const struct {
        int64_t v;
        uint8_t b[10];
        size_t n;
    } cases[] = {
        { 0, { 0x00 }, 1 },
        { -1, { 0x01 }, 1 },
        { 1, { 0x02 }, 1 },
        { -2, { 0x03 }, 1 },
        { 63, { 0x7e }, 1 },
        { -64, { 0x7f }, 1 },
        { 64, { 0x80, 0x01 }, 2 },
        { INT32_MAX, { 0xfe, 0xff, 0xff, 0xff, 0x0f }, 5 },
        { INT32_MIN, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_kw_t w;
        cm_kw_init(&w, 64);
        cm_kw_varint(&w, (int32_t)cases[i].v);
        assert_bytes(&w, cases[i].b, cases[i].n);
        cm_kr_t r;
        cm_kr_init(&r, w.buf, w.len);
        assert_int_equal(cm_kr_varint(&r), cases[i].v);
        assert_int_equal(r.err, 0);
        /* The same values as VARLONG encode identically. */
        cm_kw_reset(&w);
        cm_kw_varlong(&w, cases[i].v);
        assert_bytes(&w, cases[i].b, cases[i].n);
        cm_kw_free(&w);
    }
    cm_kw_t w;
    cm_kw_init(&w, 64);
    cm_kw_varlong(&w, INT64_MAX);
    assert_bytes(&w, HEX(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    cm_kr_t r;
    cm_kr_init(&r, w.buf, w.len);
    assert_true(cm_kr_varlong(&r) == INT64_MAX);
    cm_kw_reset(&w);
    cm_kw_varlong(&w, INT64_MIN);
    assert_bytes(&w, HEX(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    cm_kw_free(&w);
}

static void test_kbuf__rejects_overlong_varints(void **state)
{
    cm_kr_t r;
    /* A sixth byte for a 32-bit varint. */
    cm_kr_init(&r, HEX(0x80, 0x80, 0x80, 0x80, 0x80, 0x01));
    (void)cm_kr_uvarint(&r);
    assert_int_equal(r.err, 1);
    /* Bits beyond 32 in the fifth byte. */
    cm_kr_init(&r, HEX(0xff, 0xff, 0xff, 0xff, 0x1f));
    (void)cm_kr_uvarint(&r);
    assert_int_equal(r.err, 1);
    /* Truncated: continuation bit on the last byte available. */
    cm_kr_init(&r, HEX(0x80));
    (void)cm_kr_uvarint(&r);
    assert_int_equal(r.err, 1);
    /* An eleven-byte varlong. */
    cm_kr_init(&r, HEX(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00));
    (void)cm_kr_varlong(&r);
    assert_int_equal(r.err, 1);
}

static void test_kbuf__fixed_width_big_endian(void **state)
{
    cm_kw_t w;
    cm_kw_init(&w, 64);
    cm_kw_i8(&w, -2);
    cm_kw_i16(&w, 0x0102);
    cm_kw_i32(&w, -2);
    cm_kw_i64(&w, 0x0102030405060708);
    cm_kw_bool(&w, true);
    cm_kw_f64(&w, 1.0);
    assert_bytes(&w, HEX(0xfe, 0x01, 0x02, 0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05,
                         0x06, 0x07, 0x08, 0x01, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0));
    cm_kr_t r;
    cm_kr_init(&r, w.buf, w.len);
    assert_int_equal(cm_kr_i8(&r), -2);
    assert_int_equal(cm_kr_i16(&r), 0x0102);
    assert_int_equal(cm_kr_i32(&r), -2);
    assert_true(cm_kr_i64(&r) == 0x0102030405060708);
    assert_true(cm_kr_bool(&r));
    assert_true(cm_kr_f64(&r) == 1.0);
    assert_int_equal(r.err, 0);
    /* Reading past the end is sticky and yields zeros. */
    assert_int_equal(cm_kr_i32(&r), 0);
    assert_int_equal(r.err, 1);
    assert_int_equal(cm_kr_i8(&r), 0);
    cm_kw_free(&w);
}

static void test_kbuf__strings_classic_and_compact(void **state)
{
    cm_kw_t w;
    cm_kw_init(&w, 64);
    cm_kw_str(&w, CM_KSTR("abc"), false, false);
    cm_kw_str(&w, CM_KSTR_NULL, false, true);
    cm_kw_str(&w, CM_KSTR("abc"), true, false);
    cm_kw_str(&w, CM_KSTR_NULL, true, true);
    cm_kw_str(&w, CM_KSTR(""), true, false);
    cm_kw_bytes(&w, (cm_kbytes_t){ (const uint8_t *)"\x01\x02", 2 }, false, false);
    cm_kw_bytes(&w, (cm_kbytes_t){ NULL, -1 }, true, true);
    assert_bytes(&w, HEX(0x00, 0x03, 'a', 'b', 'c', 0xff, 0xff, 0x04, 'a', 'b', 'c', 0x00, 0x01,
                         0x00, 0x00, 0x00, 0x02, 0x01, 0x02, 0x00));
    cm_kr_t r;
    cm_kr_init(&r, w.buf, w.len);
    assert_true(cm_kstr_eq_c(cm_kr_str(&r, false, false), "abc"));
    assert_int_equal(cm_kr_str(&r, false, true).len, -1);
    assert_true(cm_kstr_eq_c(cm_kr_str(&r, true, false), "abc"));
    assert_int_equal(cm_kr_str(&r, true, true).len, -1);
    assert_int_equal(cm_kr_str(&r, true, false).len, 0);
    assert_int_equal(cm_kr_bytes(&r, false, false).len, 2);
    assert_int_equal(cm_kr_bytes(&r, true, true).len, -1);
    assert_int_equal(r.err, 0);
    assert_int_equal(cm_kr_left(&r), 0);
    cm_kw_free(&w);
}

static void test_kbuf__rejects_bad_lengths(void **state)
{
    cm_kr_t r;
    /* Null where not nullable. */
    cm_kr_init(&r, HEX(0xff, 0xff));
    (void)cm_kr_str(&r, false, false);
    assert_int_equal(r.err, 1);
    /* A negative length other than -1. */
    cm_kr_init(&r, HEX(0xff, 0xfe, 'a'));
    (void)cm_kr_str(&r, false, true);
    assert_int_equal(r.err, 1);
    /* A length longer than the input. */
    cm_kr_init(&r, HEX(0x00, 0x05, 'a', 'b'));
    (void)cm_kr_str(&r, false, false);
    assert_int_equal(r.err, 1);
    cm_kr_init(&r, HEX(0x7f, 0xff, 0xff, 0xff, 0x00));
    (void)cm_kr_bytes(&r, false, false);
    assert_int_equal(r.err, 1);
    /* An array count that cannot fit in what is left never reaches an allocator. */
    cm_kr_init(&r, HEX(0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0));
    assert_int_equal(cm_kr_array_len(&r, false, false, 1), -1);
    assert_int_equal(r.err, 1);
    cm_kr_init(&r, HEX(0x00, 0x00, 0x00, 0x02, 0, 0, 0, 0));
    assert_int_equal(cm_kr_array_len(&r, false, false, 4), -1);
    assert_int_equal(r.err, 1);
    cm_kr_init(&r, HEX(0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0));
    assert_int_equal(cm_kr_array_len(&r, false, false, 4), 1);
    assert_int_equal(r.err, 0);
    /* Compact null array where not nullable. */
    cm_kr_init(&r, HEX(0x00));
    assert_int_equal(cm_kr_array_len(&r, true, false, 1), -1);
    assert_int_equal(r.err, 1);
}

static void test_kbuf__writer_limit_is_enforced(void **state)
{
    cm_kw_t w;
    cm_kw_init(&w, 10);
    cm_kw_i64(&w, 1);
    assert_int_equal(w.err, 0);
    cm_kw_i32(&w, 1);
    assert_int_equal(w.err, 1);
    assert_int_equal(w.len, 8);
    cm_kw_free(&w);
}

static int unrefs;
static void count_unref(void *obj)
{
    (void)obj;
    unrefs++;
}

static void test_kbuf__records_splice_file_ranges(void **state)
{
    cm_kw_t w;
    cm_kw_init(&w, 1 << 20);
    cm_kext_t ext = { .fd = 3, .off = 100, .len = 300, .unref = count_unref, .obj = NULL };
    cm_krecords_t rec = { .ext = &ext };
    cm_kw_i8(&w, 7);
    cm_kw_records(&w, &rec, true);
    cm_kw_i8(&w, 9);
    /* Compact length 300+1 = 0xad 0x02, then the file range, then the next field. */
    assert_bytes(&w, HEX(7, 0xad, 0x02, 9));
    assert_int_equal(w.n_splices, 1);
    assert_int_equal(w.splices[0].at, 3);
    assert_int_equal(cm_kw_total(&w), 304);
    unrefs = 0;
    cm_kw_free(&w);
    assert_int_equal(unrefs, 1);
}

static void test_kproto__request_header_versions(void **state)
{
    /* Metadata v1: header v1 (no tags). */
    cm_kw_t w;
    cm_kw_init(&w, 256);
    size_t start = cm_kreq_begin(&w, CM_KAPI_METADATA, 1, 7, "ab");
    cm_kframe_end(&w, start);
    assert_bytes(&w, HEX(0, 0, 0, 12, 0x00, 0x03, 0x00, 0x01, 0, 0, 0, 7, 0x00, 0x02, 'a', 'b'));
    cm_kr_t r;
    cm_kreq_hdr_t h;
    cm_kr_init(&r, w.buf + 4, w.len - 4);
    assert_int_equal(cm_kreq_hdr_decode(&r, &h), 0);
    assert_int_equal(h.api_key, 3);
    assert_int_equal(h.api_version, 1);
    assert_int_equal(h.correlation_id, 7);
    assert_true(cm_kstr_eq_c(h.client_id, "ab"));
    assert_int_equal(cm_kr_left(&r), 0);

    /* Metadata v9 is flexible: header v2 adds an empty tag section; client id stays classic. */
    cm_kw_reset(&w);
    start = cm_kreq_begin(&w, CM_KAPI_METADATA, 9, 8, NULL);
    cm_kframe_end(&w, start);
    assert_bytes(&w, HEX(0, 0, 0, 11, 0x00, 0x03, 0x00, 0x09, 0, 0, 0, 8, 0xff, 0xff, 0x00));
    cm_kr_init(&r, w.buf + 4, w.len - 4);
    assert_int_equal(cm_kreq_hdr_decode(&r, &h), 0);
    assert_int_equal(h.client_id.len, -1);
    assert_int_equal(cm_kr_left(&r), 0);

    /* Responses: header v0 for classic versions and always for ApiVersions; v1 otherwise. */
    assert_int_equal(cm_kresp_hdr_version(CM_KAPI_API_VERSIONS, 3), 0);
    assert_int_equal(cm_kresp_hdr_version(CM_KAPI_METADATA, 8), 0);
    assert_int_equal(cm_kresp_hdr_version(CM_KAPI_METADATA, 9), 1);
    assert_int_equal(cm_kreq_hdr_version(CM_KAPI_PRODUCE, 8), 1);
    assert_int_equal(cm_kreq_hdr_version(CM_KAPI_PRODUCE, 9), 2);
    cm_kw_reset(&w);
    start = cm_kresp_begin(&w, CM_KAPI_FETCH, 12, 5);
    cm_kframe_end(&w, start);
    assert_bytes(&w, HEX(0, 0, 0, 5, 0, 0, 0, 5, 0x00));
    cm_kw_free(&w);
}

/* ProduceRequest v3 (classic) and v9 (flexible), byte for byte. */
static const uint8_t produce_v3[] = {
    0xff, 0xff,                               /* transactional_id: null */
    0xff, 0xff,                               /* acks: -1 */
    0x00, 0x00, 0x03, 0xe8,                   /* timeout_ms: 1000 */
    0x00, 0x00, 0x00, 0x01,                   /* topic_data: 1 */
    0x00, 0x01, 't',                          /* name */
    0x00, 0x00, 0x00, 0x01,                   /* partition_data: 1 */
    0x00, 0x00, 0x00, 0x02,                   /* index: 2 */
    0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03, /* records */
};
static const uint8_t produce_v9[] = {
    0x00,                   /* transactional_id: compact null */
    0xff, 0xff,             /* acks */
    0x00, 0x00, 0x03, 0xe8, /* timeout_ms */
    0x02,                   /* topic_data: compact 1 */
    0x02, 't',              /* name */
    0x02,                   /* partition_data: compact 1 */
    0x00, 0x00, 0x00, 0x02, /* index */
    0x04, 0x01, 0x02, 0x03, /* records: compact 3 */
    0x00,                   /* partition tags */
    0x00,                   /* topic tags */
    0x00,                   /* request tags */
};

static void check_produce(const uint8_t *bytes, size_t n, int16_t v)
{
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    cm_kr_t r;
    cm_kr_init(&r, bytes, n);
    cm_produce_req_t req;
    assert_int_equal(cm_produce_req_decode(&r, v, &a, &req), 0);
    assert_int_equal(cm_kr_left(&r), 0);
    assert_int_equal(req.transactional_id.len, -1);
    assert_int_equal(req.acks, -1);
    assert_int_equal(req.timeout_ms, 1000);
    assert_int_equal(req.topic_data_n, 1);
    assert_true(cm_kstr_eq_c(req.topic_data[0].name, "t"));
    assert_int_equal(req.topic_data[0].partition_data_n, 1);
    assert_int_equal(req.topic_data[0].partition_data[0].index, 2);
    assert_int_equal(req.topic_data[0].partition_data[0].records.len, 3);
    assert_memory_equal(req.topic_data[0].partition_data[0].records.ptr, "\x01\x02\x03", 3);

    cm_kw_t w;
    cm_kw_init(&w, 1 << 16);
    cm_produce_req_encode(&w, v, &req);
    assert_bytes(&w, bytes, n);
    cm_kw_free(&w);
    cm_arena_free(&a);
}

static void test_kmsg__produce_request_vectors(void **state)
{
    check_produce(produce_v3, sizeof(produce_v3), 3);
    check_produce(produce_v9, sizeof(produce_v9), 9);
}

static void test_kmsg__truncated_input_is_rejected_at_every_length(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    for (size_t n = 0; n < sizeof(produce_v9); n++) {
        cm_kr_t r;
        cm_kr_init(&r, produce_v9, n);
        cm_produce_req_t req;
        assert_int_equal(cm_produce_req_decode(&r, 9, &a, &req), -1);
        cm_arena_reset(&a);
    }
    cm_arena_free(&a);
}

static void test_kmsg__unknown_tags_are_skipped(void **state)
{
    /* ApiVersions v3 request with an unknown tag 5 of 2 bytes in the top-level section. */
    const uint8_t *bytes;
    size_t n;
    static const uint8_t b[] = { 0x02, 'x', 0x02, '1', 0x01, 0x05, 0x02, 0xaa, 0xbb };
    bytes = b;
    n = sizeof(b);
    cm_arena_t a;
    cm_arena_init(&a, 4096);
    cm_kr_t r;
    cm_kr_init(&r, bytes, n);
    cm_api_versions_req_t req;
    assert_int_equal(cm_api_versions_req_decode(&r, 3, &a, &req), 0);
    assert_true(cm_kstr_eq_c(req.client_software_name, "x"));
    assert_true(cm_kstr_eq_c(req.client_software_version, "1"));
    assert_int_equal(cm_kr_left(&r), 0);
    cm_arena_free(&a);
}

static void test_kmsg__invalid_version_is_rejected(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, 4096);
    cm_kr_t r;
    cm_kr_init(&r, produce_v3, sizeof(produce_v3));
    cm_produce_req_t req;
    assert_int_equal(cm_produce_req_decode(&r, -1, &a, &req), -1);
    assert_int_equal(cm_produce_req_decode(&r, 12, &a, &req), -1);
    cm_arena_free(&a);
}

/* A tagged field is written only when it differs from its default, with its size. */
static void test_kmsg__tagged_fields_written_when_not_default(void **state)
{
    cm_fetch_resp_partition_data_t p;
    cm_fetch_resp_partition_data_init(&p);
    assert_int_equal(p.high_watermark, 0);
    assert_int_equal(p.preferred_read_replica, -1);
    assert_int_equal(p.current_leader.leader_id, -1);
    cm_fetch_resp_t resp;
    cm_fetch_resp_init(&resp);
    cm_fetch_resp_fetchable_topic_response_t t;
    cm_fetch_resp_fetchable_topic_response_init(&t);
    t.topic = CM_KSTR("t");
    t.partitions = &p;
    t.partitions_n = 1;
    resp.responses = &t;
    resp.responses_n = 1;

    cm_kw_t w;
    cm_kw_init(&w, 4096);
    cm_fetch_resp_encode(&w, 12, &resp);
    size_t plain = w.len;
    /* Leader id 1, epoch 4: tag 1 of 8 bytes appears in the partition's tag section. */
    p.current_leader.leader_id = 1;
    p.current_leader.leader_epoch = 4;
    cm_kw_reset(&w);
    cm_fetch_resp_encode(&w, 12, &resp);
    assert_int_equal(w.len, plain + 2 + 8 + 1);

    cm_arena_t a;
    cm_arena_init(&a, 4096);
    cm_kr_t r;
    cm_kr_init(&r, w.buf, w.len);
    cm_fetch_resp_t back;
    assert_int_equal(cm_fetch_resp_decode(&r, 12, &a, &back), 0);
    assert_int_equal(cm_kr_left(&r), 0);
    assert_int_equal(back.responses[0].partitions[0].current_leader.leader_id, 1);
    assert_int_equal(back.responses[0].partitions[0].current_leader.leader_epoch, 4);
    assert_int_equal(back.responses[0].partitions[0].preferred_read_replica, -1);
    cm_arena_free(&a);
    cm_kw_free(&w);
}

/* Every version of MetadataResponse survives encode then decode. */
static void test_kmsg__metadata_response_round_trips_all_versions(void **state)
{
    for (int16_t v = CM_METADATA_RESP_MIN_VERSION; v <= CM_METADATA_RESP_MAX_VERSION; v++) {
        cm_metadata_resp_broker_t b;
        cm_metadata_resp_broker_init(&b);
        b.node_id = 1;
        b.host = CM_KSTR("127.0.0.1");
        b.port = 19092;
        int32_t replicas[] = { 1 };
        cm_metadata_resp_partition_t p;
        cm_metadata_resp_partition_init(&p);
        p.partition_index = 3;
        p.leader_id = 1;
        p.replica_nodes = replicas;
        p.replica_nodes_n = 1;
        p.isr_nodes = replicas;
        p.isr_nodes_n = 1;
        cm_metadata_resp_topic_t t;
        cm_metadata_resp_topic_init(&t);
        t.name = CM_KSTR("orders");
        t.topic_id.b[15] = 9;
        t.partitions = &p;
        t.partitions_n = 1;
        cm_metadata_resp_t m;
        cm_metadata_resp_init(&m);
        m.brokers = &b;
        m.brokers_n = 1;
        m.cluster_id = CM_KSTR("c1");
        m.controller_id = 1;
        m.topics = &t;
        m.topics_n = 1;

        cm_kw_t w;
        cm_kw_init(&w, 4096);
        cm_metadata_resp_encode(&w, v, &m);
        assert_int_equal(w.err, 0);
        cm_arena_t a;
        cm_arena_init(&a, 4096);
        cm_kr_t r;
        cm_kr_init(&r, w.buf, w.len);
        cm_metadata_resp_t back;
        assert_int_equal(cm_metadata_resp_decode(&r, v, &a, &back), 0);
        assert_int_equal(cm_kr_left(&r), 0);
        assert_int_equal(back.brokers_n, 1);
        assert_true(cm_kstr_eq_c(back.brokers[0].host, "127.0.0.1"));
        assert_int_equal(back.brokers[0].port, 19092);
        assert_int_equal(back.topics_n, 1);
        assert_true(cm_kstr_eq_c(back.topics[0].name, "orders"));
        assert_int_equal(back.topics[0].partitions[0].partition_index, 3);
        assert_int_equal(back.topics[0].partitions[0].replica_nodes_n, 1);
        assert_int_equal(back.topics[0].partitions[0].replica_nodes[0], 1);
        if (v >= 2)
            assert_true(cm_kstr_eq_c(back.cluster_id, "c1"));
        if (v >= 10)
            assert_int_equal(back.topics[0].topic_id.b[15], 9);
        cm_arena_free(&a);
        cm_kw_free(&w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kbuf__uvarint_vectors),
        cmocka_unit_test(test_kbuf__zigzag_varint_vectors),
        cmocka_unit_test(test_kbuf__rejects_overlong_varints),
        cmocka_unit_test(test_kbuf__fixed_width_big_endian),
        cmocka_unit_test(test_kbuf__strings_classic_and_compact),
        cmocka_unit_test(test_kbuf__rejects_bad_lengths),
        cmocka_unit_test(test_kbuf__writer_limit_is_enforced),
        cmocka_unit_test(test_kbuf__records_splice_file_ranges),
        cmocka_unit_test(test_kproto__request_header_versions),
        cmocka_unit_test(test_kmsg__produce_request_vectors),
        cmocka_unit_test(test_kmsg__truncated_input_is_rejected_at_every_length),
        cmocka_unit_test(test_kmsg__unknown_tags_are_skipped),
        cmocka_unit_test(test_kmsg__invalid_version_is_rejected),
        cmocka_unit_test(test_kmsg__tagged_fields_written_when_not_default),
        cmocka_unit_test(test_kmsg__metadata_response_round_trips_all_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
