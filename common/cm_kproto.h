/*
 * Kafka protocol framing shared by servers and clients: API keys and their version ranges,
 * wire error codes, request and response headers (every header version), and size-prefixed
 * frames.
 *
 * Message bodies are encoded and decoded by the generated codecs in kmsg/ (cm_kmsg.h).
 * Kafka error codes are their own type, cm_kerr_t, never mixed with system errors.
 */
#ifndef CM_KPROTO_H
#define CM_KPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "cm_kbuf.h"

/** Kafka API keys used in this project. */
enum {
    CM_KAPI_PRODUCE = 0,
    CM_KAPI_FETCH = 1,
    CM_KAPI_LIST_OFFSETS = 2,
    CM_KAPI_METADATA = 3,
    CM_KAPI_OFFSET_COMMIT = 8,
    CM_KAPI_OFFSET_FETCH = 9,
    CM_KAPI_FIND_COORDINATOR = 10,
    CM_KAPI_JOIN_GROUP = 11,
    CM_KAPI_HEARTBEAT = 12,
    CM_KAPI_LEAVE_GROUP = 13,
    CM_KAPI_SYNC_GROUP = 14,
    CM_KAPI_DESCRIBE_GROUPS = 15,
    CM_KAPI_LIST_GROUPS = 16,
    CM_KAPI_SASL_HANDSHAKE = 17,
    CM_KAPI_API_VERSIONS = 18,
    CM_KAPI_CREATE_TOPICS = 19,
    CM_KAPI_DELETE_TOPICS = 20,
    CM_KAPI_DELETE_RECORDS = 21,
    CM_KAPI_INIT_PRODUCER_ID = 22,
    CM_KAPI_OFFSET_FOR_LEADER_EPOCH = 23,
    CM_KAPI_DESCRIBE_CONFIGS = 32,
    CM_KAPI_ALTER_CONFIGS = 33,
    CM_KAPI_SASL_AUTHENTICATE = 36,
    CM_KAPI_CREATE_PARTITIONS = 37,
    CM_KAPI_DELETE_GROUPS = 42,
    CM_KAPI_INCREMENTAL_ALTER_CONFIGS = 44,
    CM_KAPI_DESCRIBE_CLUSTER = 60,
};

/** Kafka wire error codes (Errors.java). */
typedef enum cm_kerr {
    CM_KERR_UNKNOWN_SERVER_ERROR = -1,
    CM_KERR_NONE = 0,
    CM_KERR_OFFSET_OUT_OF_RANGE = 1,
    CM_KERR_CORRUPT_MESSAGE = 2,
    CM_KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    CM_KERR_INVALID_FETCH_SIZE = 4,
    CM_KERR_LEADER_NOT_AVAILABLE = 5,
    CM_KERR_NOT_LEADER_OR_FOLLOWER = 6,
    CM_KERR_REQUEST_TIMED_OUT = 7,
    CM_KERR_MESSAGE_TOO_LARGE = 10,
    CM_KERR_OFFSET_METADATA_TOO_LARGE = 12,
    CM_KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    CM_KERR_COORDINATOR_NOT_AVAILABLE = 15,
    CM_KERR_NOT_COORDINATOR = 16,
    CM_KERR_INVALID_TOPIC_EXCEPTION = 17,
    CM_KERR_RECORD_LIST_TOO_LARGE = 18,
    CM_KERR_INVALID_REQUIRED_ACKS = 21,
    CM_KERR_ILLEGAL_GENERATION = 22,
    CM_KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    CM_KERR_INVALID_GROUP_ID = 24,
    CM_KERR_UNKNOWN_MEMBER_ID = 25,
    CM_KERR_INVALID_SESSION_TIMEOUT = 26,
    CM_KERR_REBALANCE_IN_PROGRESS = 27,
    CM_KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    CM_KERR_GROUP_AUTHORIZATION_FAILED = 30,
    CM_KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    CM_KERR_INVALID_TIMESTAMP = 32,
    CM_KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    CM_KERR_ILLEGAL_SASL_STATE = 34,
    CM_KERR_UNSUPPORTED_VERSION = 35,
    CM_KERR_TOPIC_ALREADY_EXISTS = 36,
    CM_KERR_INVALID_PARTITIONS = 37,
    CM_KERR_INVALID_REPLICATION_FACTOR = 38,
    CM_KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    CM_KERR_INVALID_CONFIG = 40,
    CM_KERR_NOT_CONTROLLER = 41,
    CM_KERR_INVALID_REQUEST = 42,
    CM_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    CM_KERR_POLICY_VIOLATION = 44,
    CM_KERR_KAFKA_STORAGE_ERROR = 56,
    CM_KERR_SASL_AUTHENTICATION_FAILED = 58,
    CM_KERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    CM_KERR_MEMBER_ID_REQUIRED = 79,
    CM_KERR_GROUP_MAX_SIZE_REACHED = 81,
    CM_KERR_FENCED_INSTANCE_ID = 82,
    CM_KERR_NON_EMPTY_GROUP = 68,
    CM_KERR_GROUP_ID_NOT_FOUND = 69,
    CM_KERR_FENCED_LEADER_EPOCH = 74,
    CM_KERR_UNKNOWN_LEADER_EPOCH = 75,
    CM_KERR_STALE_BROKER_EPOCH = 77,
    CM_KERR_NOT_ENOUGH_REPLICAS = 19,
    CM_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    CM_KERR_INVALID_RECORD = 87,
    CM_KERR_THROTTLING_QUOTA_EXCEEDED = 89,
    CM_KERR_RESOURCE_NOT_FOUND = 91,
    CM_KERR_UNKNOWN_TOPIC_ID = 100,
} cm_kerr_t;

/** The symbolic name of a Kafka error code ("UNKNOWN_TOPIC_OR_PARTITION"), or "UNKNOWN". */
const char *cm_kerr_name(int16_t code);

/** One row of the generated API table (every API in the Kafka schemas). */
typedef struct cm_kapi_info {
    int16_t key;
    const char *name;
    int16_t min_version;
    int16_t max_version;
    int16_t flexible_min; /* first flexible version, -1 if none */
} cm_kapi_info_t;

extern const cm_kapi_info_t cm_kapi_infos[];
extern const size_t cm_kapi_infos_n;

/** The table row for `key`, or NULL for a key Kafka does not define. */
const cm_kapi_info_t *cm_kapi_info(int16_t key);

/** True when `version` of API `key` uses flexible (compact, tagged) encoding. */
int cm_kapi_is_flexible(int16_t key, int16_t version);

/** The request header version for a request (0, 1 or 2). */
int cm_kreq_hdr_version(int16_t key, int16_t version);

/** The response header version for a response (0 or 1; ApiVersions always 0). */
int cm_kresp_hdr_version(int16_t key, int16_t version);

/** A decoded request header. client_id points into the request frame. */
typedef struct cm_kreq_hdr {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    cm_kstr_t client_id;
} cm_kreq_hdr_t;

/**
 * Decodes the request header at the start of a request frame body (after the 4-byte size)
 * and leaves `r` at the start of the message body. The header version follows from the API
 * key and version; for an unknown key or version, the newest header version that
 * could apply is assumed, as Kafka brokers do, so the correlation id is still known.
 * Returns 0, or -1 if the header is malformed.
 */
int cm_kreq_hdr_decode(cm_kr_t *r, cm_kreq_hdr_t *h);

/**
 * Starts a request frame: size placeholder and header. Returns the frame's start offset,
 * to pass to cm_kframe_end() once the body is written.
 */
size_t cm_kreq_begin(cm_kw_t *w, int16_t api_key, int16_t version, int32_t correlation_id,
                     const char *client_id);

/**
 * Starts a response frame: size placeholder, correlation id, and (header v1) an empty
 * tagged-field section. Returns the start offset for cm_kframe_end().
 */
size_t cm_kresp_begin(cm_kw_t *w, int16_t api_key, int16_t version, int32_t correlation_id);

/** Writes the frame size: everything after its first 4 bytes, splices included. */
void cm_kframe_end(cm_kw_t *w, size_t frame_start);

#endif
