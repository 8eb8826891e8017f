/*
 * bench-grpc: the gateway's gRPC API (proto/streaming/v1/streaming.proto) under load, on
 * grpc core's client API, with the workload of bench_common.h.
 *
 *   produce  ProduceStream: --records of --size bytes, BENCH_BATCH records per message
 *            (default 1000), no key (the gateway spreads batches over the partitions),
 *            BENCH_STREAMS streams at once (default 1) on one channel; every record's
 *            result is checked. Latency: message sent -> its answer.
 *   consume  Consume streams, one per partition (--partitions), from offset 0 to the end
 *            the partition had at the start (ListOffsets); records are counted from the
 *            messages' wire format.
 *
 * BENCH_AUTH: the authorization metadata ("Basic ..." or "Bearer ..."). --addr is the
 * gateway's plaintext gRPC address.
 */
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdbool.h>

#include "bench_common.h"
#include "streaming/v1/streaming.pb-c.h"

#define BENCH_GRPC_SERVICE "/streaming.v1.Streaming/"
#define BENCH_GRPC_MAX     64

typedef enum { OP_START, OP_SEND, OP_RECV, OP_STATUS } op_kind_t;

typedef struct stream stream_t;

typedef struct tag {
    stream_t *s;
    op_kind_t kind;
} tag_t;

struct stream {
    grpc_call *call;
    tag_t t_start, t_send, t_recv, t_status;
    grpc_metadata_array md_in, trailers;
    grpc_status_code status;
    grpc_slice details;
    grpc_byte_buffer *in, *out;
    long to_send, sent, answered;
    long records; /* produce: results checked; consume: records received */
    long want;    /* consume: records to read */
    bool closed, done;
    uint64_t *sent_at; /* produce: each message's send time */
};

static grpc_channel *ch;
static grpc_completion_queue *cq;
static grpc_metadata auth_md;
static long errors;

static void die(const char *what)
{
    fprintf(stderr, "bench-grpc: %s\n", what);
    exit(1);
}

static void start(grpc_call *call, const grpc_op *ops, size_t n, tag_t *t)
{
    if (grpc_call_start_batch(call, ops, n, t, NULL) != GRPC_CALL_OK)
        die("cannot start a batch");
}

static grpc_call *call_new(const char *method)
{
    grpc_slice m = grpc_slice_from_copied_string(method);
    grpc_call *c = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL,
                                            gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_slice_unref(m);
    return c;
}

static grpc_byte_buffer *pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static grpc_slice readall(grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb))
        die("cannot read a message");
    grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    return s;
}

/* The protobuf wire format, just enough to count: a varint at *p. */
static uint64_t varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    die("malformed message");
    return 0;
}

/* Counts the top-level occurrences of length-delimited field `field`; for each, when
 * `bad` is given, adds 1 to it when its own field 1 (a RecordResult's code) is not 0. */
static long count_field(const uint8_t *p, const uint8_t *end, uint32_t field, long *bad)
{
    long n = 0;
    while (p < end) {
        uint64_t key = varint(&p, end);
        uint32_t wt = (uint32_t)(key & 7);
        if (wt == 0) {
            varint(&p, end);
            continue;
        }
        if (wt != 2)
            die("unexpected wire type");
        uint64_t len = varint(&p, end);
        if (len > (uint64_t)(end - p))
            die("truncated message");
        if ((key >> 3) == field) {
            n++;
            if (bad != NULL) {
                const uint8_t *q = p, *qe = p + len;
                while (q < qe) {
                    uint64_t k = varint(&q, qe);
                    if ((k & 7) == 0) {
                        uint64_t v = varint(&q, qe);
                        if ((k >> 3) == 1 && v != 0)
                            (*bad)++;
                    } else if ((k & 7) == 2) {
                        q += varint(&q, qe);
                    } else {
                        die("unexpected wire type in a result");
                    }
                }
            }
        }
        p += len;
    }
    return n;
}

/* Opens a stream: initial metadata and, for calls with one request, that request. */
static void stream_open(stream_t *s, const char *method, grpc_byte_buffer *request)
{
    s->call = call_new(method);
    s->t_start = (tag_t){ s, OP_START };
    s->t_send = (tag_t){ s, OP_SEND };
    s->t_recv = (tag_t){ s, OP_RECV };
    s->t_status = (tag_t){ s, OP_STATUS };
    grpc_metadata_array_init(&s->md_in);
    grpc_metadata_array_init(&s->trailers);
    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    size_t n = 0;
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].data.send_initial_metadata.count = 1;
    ops[n++].data.send_initial_metadata.metadata = &auth_md;
    if (request != NULL) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = request;
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    }
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->md_in;
    start(s->call, ops, n, &s->t_start);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &s->trailers;
    ops[0].data.recv_status_on_client.status = &s->status;
    ops[0].data.recv_status_on_client.status_details = &s->details;
    start(s->call, ops, 1, &s->t_status);
}

static void stream_recv(stream_t *s)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &s->in;
    start(s->call, &op, 1, &s->t_recv);
}

static void stream_send(stream_t *s, grpc_byte_buffer *proto)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    if (s->sent == s->to_send) {
        op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        s->closed = true;
    } else {
        s->out = grpc_byte_buffer_copy(proto);
        op.op = GRPC_OP_SEND_MESSAGE;
        op.data.send_message.send_message = s->out;
        s->sent_at[s->sent++] = bench_now_ns();
    }
    start(s->call, &op, 1, &s->t_send);
}

static void stream_free(stream_t *s)
{
    if (s->status != GRPC_STATUS_OK) {
        char *d = grpc_slice_to_c_string(s->details);
        fprintf(stderr, "bench-grpc: stream ended with status %d: %s\n", (int)s->status, d);
        gpr_free(d);
        errors++;
    }
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->md_in);
    grpc_metadata_array_destroy(&s->trailers);
    grpc_call_unref(s->call);
    free(s->sent_at);
}

/* Runs the queue until `left` streams are done. */
static void run(int left, grpc_byte_buffer *proto, bench_lat_t *lat, bool produce)
{
    while (left > 0) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            die("the completion queue failed");
        tag_t *t = ev.tag;
        stream_t *s = t->s;
        switch (t->kind) {
        case OP_START:
            if (ev.success)
                stream_recv(s);
            break;
        case OP_SEND:
            if (s->out != NULL) {
                grpc_byte_buffer_destroy(s->out);
                s->out = NULL;
            }
            if (ev.success && !s->closed)
                stream_send(s, proto);
            break;
        case OP_RECV:
            if (!ev.success || s->in == NULL)
                break; /* the status follows */
            grpc_slice sl = readall(s->in);
            grpc_byte_buffer_destroy(s->in);
            s->in = NULL;
            const uint8_t *p = GRPC_SLICE_START_PTR(sl);
            if (produce) {
                s->records += count_field(p, p + GRPC_SLICE_LENGTH(sl), 1, &errors);
                bench_lat_add(lat, bench_now_ns() - s->sent_at[s->answered++]);
            } else {
                s->records += count_field(p, p + GRPC_SLICE_LENGTH(sl), 1, NULL);
            }
            grpc_slice_unref(sl);
            stream_recv(s);
            break;
        case OP_STATUS:
            s->done = true;
            left--;
            break;
        }
    }
}

/* ListOffsetsResponse.latest, read with a unary call of our own. */
static int64_t latest_of(const char *topic, int32_t partition)
{
    Streaming__V1__ListOffsetsRequest rq = STREAMING__V1__LIST_OFFSETS_REQUEST__INIT;
    rq.topic = (char *)topic;
    rq.partition = partition;
    grpc_call *c = call_new(BENCH_GRPC_SERVICE "ListOffsets");
    grpc_byte_buffer *req = pack(&rq.base), *resp = NULL;
    grpc_metadata_array md_in, trailers;
    grpc_metadata_array_init(&md_in);
    grpc_metadata_array_init(&trailers);
    grpc_status_code status;
    grpc_slice details;
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &auth_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_in;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailers;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    tag_t t = { NULL, OP_STATUS };
    start(c, ops, 6, &t);
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE || status != GRPC_STATUS_OK || resp == NULL)
        die("ListOffsets failed");
    grpc_slice sl = readall(resp);
    Streaming__V1__ListOffsetsResponse *r = streaming__v1__list_offsets_response__unpack(
        NULL, GRPC_SLICE_LENGTH(sl), GRPC_SLICE_START_PTR(sl));
    if (r == NULL)
        die("malformed ListOffsets answer");
    int64_t v = r->latest;
    streaming__v1__list_offsets_response__free_unpacked(r, NULL);
    grpc_slice_unref(sl);
    grpc_byte_buffer_destroy(resp);
    grpc_byte_buffer_destroy(req);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&md_in);
    grpc_metadata_array_destroy(&trailers);
    grpc_call_unref(c);
    return v;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    bench_parse(argc, argv, "127.0.0.1:9090", &o);
    const char *auth = getenv("BENCH_AUTH");
    if (auth == NULL)
        die("set BENCH_AUTH to the authorization metadata");
    int batch = getenv("BENCH_BATCH") ? atoi(getenv("BENCH_BATCH")) : 1000;
    int n_streams = getenv("BENCH_STREAMS") ? atoi(getenv("BENCH_STREAMS")) : 1;
    if (batch <= 0 || n_streams <= 0 || n_streams > BENCH_GRPC_MAX || o.partitions > BENCH_GRPC_MAX)
        die("BENCH_BATCH > 0, 1 <= BENCH_STREAMS and --partitions <= 64");
    grpc_init();
    grpc_arg args[] = {
        { GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, { .integer = -1 } },
    };
    grpc_channel_args ca = { 1, args };
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    ch = grpc_channel_create(o.addr, creds, &ca);
    grpc_channel_credentials_release(creds);
    cq = grpc_completion_queue_create_for_next(NULL);
    auth_md.key = grpc_slice_from_static_string("authorization");
    auth_md.value = grpc_slice_from_copied_string(auth);

    stream_t ss[BENCH_GRPC_MAX];
    memset(ss, 0, sizeof(ss));
    bench_lat_t lat = { 0 };
    long total = 0;
    uint64_t t0;
    if (strcmp(o.test, "produce") == 0) {
        /* One message, sent again and again: `batch` records of `size` bytes. */
        Streaming__V1__Record *recs = calloc((size_t)batch, sizeof(*recs));
        Streaming__V1__Record **ptrs = calloc((size_t)batch, sizeof(*ptrs));
        char *vals = malloc((size_t)batch * (size_t)o.size);
        if (recs == NULL || ptrs == NULL || vals == NULL)
            die("out of memory");
        for (int i = 0; i < batch; i++) {
            streaming__v1__record__init(&recs[i]);
            bench_payload(vals + (size_t)i * (size_t)o.size, o.size, i);
            recs[i].value_or_null_case = STREAMING__V1__RECORD__VALUE_OR_NULL_VALUE;
            recs[i].value = (ProtobufCBinaryData){ (size_t)o.size,
                                                   (uint8_t *)vals + (size_t)i * (size_t)o.size };
            ptrs[i] = &recs[i];
        }
        Streaming__V1__ProduceRequest rq = STREAMING__V1__PRODUCE_REQUEST__INIT;
        rq.topic = (char *)o.target;
        rq.records = ptrs;
        rq.n_records = (size_t)batch;
        grpc_byte_buffer *proto = pack(&rq.base);
        long messages = (o.records + batch - 1) / batch;
        t0 = bench_now_ns();
        for (int i = 0; i < n_streams; i++) {
            ss[i].to_send = messages / n_streams + (i < messages % n_streams ? 1 : 0);
            ss[i].sent_at = calloc((size_t)ss[i].to_send + 1, sizeof(uint64_t));
            stream_open(&ss[i], BENCH_GRPC_SERVICE "ProduceStream", NULL);
            stream_send(&ss[i], proto);
        }
        run(n_streams, proto, &lat, true);
        grpc_byte_buffer_destroy(proto);
        free(recs);
        free(ptrs);
        free(vals);
    } else if (strcmp(o.test, "consume") == 0) {
        n_streams = o.partitions;
        int64_t want[BENCH_GRPC_MAX];
        for (int p = 0; p < n_streams; p++)
            want[p] = latest_of(o.target, p);
        t0 = bench_now_ns();
        for (int p = 0; p < n_streams; p++) {
            Streaming__V1__ConsumeRequest rq = STREAMING__V1__CONSUME_REQUEST__INIT;
            rq.topic = (char *)o.target;
            rq.partition = p;
            rq.start_case = STREAMING__V1__CONSUME_REQUEST__START_OFFSET;
            rq.offset = 0;
            rq.max_records = want[p];
            ss[p].want = want[p];
            if (want[p] == 0)
                continue; /* nothing to read there */
            grpc_byte_buffer *req = pack(&rq.base);
            stream_open(&ss[p], BENCH_GRPC_SERVICE "Consume", req);
            grpc_byte_buffer_destroy(req);
        }
        int live = 0;
        for (int p = 0; p < n_streams; p++)
            live += ss[p].call != NULL;
        run(live, NULL, &lat, false);
        for (int p = 0; p < n_streams; p++)
            if (ss[p].records != ss[p].want)
                errors++;
    } else {
        die("--test produce or consume");
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    for (int i = 0; i < n_streams; i++) {
        total += ss[i].records;
        if (ss[i].call != NULL)
            stream_free(&ss[i]);
    }
    bench_report("streamd-grpc", &o, total, secs, lat.n > 0 ? &lat : NULL);
    free(lat.v);
    grpc_slice_unref(auth_md.value);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_channel_destroy(ch);
    grpc_shutdown();
    if (errors > 0) {
        fprintf(stderr, "bench-grpc: %ld errors\n", errors);
        return 1;
    }
    return 0;
}
