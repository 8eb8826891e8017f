#include "cm_kproto.h"

#include <string.h>

static const struct {
    int16_t code;
    const char *name;
} cm_kerr__names[] = {
    { -1, "UNKNOWN_SERVER_ERROR" },
    { 0, "NONE" },
    { 1, "OFFSET_OUT_OF_RANGE" },
    { 2, "CORRUPT_MESSAGE" },
    { 3, "UNKNOWN_TOPIC_OR_PARTITION" },
    { 4, "INVALID_FETCH_SIZE" },
    { 5, "LEADER_NOT_AVAILABLE" },
    { 6, "NOT_LEADER_OR_FOLLOWER" },
    { 7, "REQUEST_TIMED_OUT" },
    { 10, "MESSAGE_TOO_LARGE" },
    { 12, "OFFSET_METADATA_TOO_LARGE" },
    { 14, "COORDINATOR_LOAD_IN_PROGRESS" },
    { 15, "COORDINATOR_NOT_AVAILABLE" },
    { 16, "NOT_COORDINATOR" },
    { 17, "INVALID_TOPIC_EXCEPTION" },
    { 18, "RECORD_LIST_TOO_LARGE" },
    { 19, "NOT_ENOUGH_REPLICAS" },
    { 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND" },
    { 21, "INVALID_REQUIRED_ACKS" },
    { 22, "ILLEGAL_GENERATION" },
    { 23, "INCONSISTENT_GROUP_PROTOCOL" },
    { 24, "INVALID_GROUP_ID" },
    { 25, "UNKNOWN_MEMBER_ID" },
    { 26, "INVALID_SESSION_TIMEOUT" },
    { 27, "REBALANCE_IN_PROGRESS" },
    { 29, "TOPIC_AUTHORIZATION_FAILED" },
    { 30, "GROUP_AUTHORIZATION_FAILED" },
    { 31, "CLUSTER_AUTHORIZATION_FAILED" },
    { 32, "INVALID_TIMESTAMP" },
    { 33, "UNSUPPORTED_SASL_MECHANISM" },
    { 34, "ILLEGAL_SASL_STATE" },
    { 35, "UNSUPPORTED_VERSION" },
    { 36, "TOPIC_ALREADY_EXISTS" },
    { 37, "INVALID_PARTITIONS" },
    { 38, "INVALID_REPLICATION_FACTOR" },
    { 39, "INVALID_REPLICA_ASSIGNMENT" },
    { 40, "INVALID_CONFIG" },
    { 41, "NOT_CONTROLLER" },
    { 42, "INVALID_REQUEST" },
    { 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT" },
    { 44, "POLICY_VIOLATION" },
    { 56, "KAFKA_STORAGE_ERROR" },
    { 58, "SASL_AUTHENTICATION_FAILED" },
    { 68, "NON_EMPTY_GROUP" },
    { 69, "GROUP_ID_NOT_FOUND" },
    { 74, "FENCED_LEADER_EPOCH" },
    { 75, "UNKNOWN_LEADER_EPOCH" },
    { 76, "UNSUPPORTED_COMPRESSION_TYPE" },
    { 77, "STALE_BROKER_EPOCH" },
    { 79, "MEMBER_ID_REQUIRED" },
    { 81, "GROUP_MAX_SIZE_REACHED" },
    { 82, "FENCED_INSTANCE_ID" },
    { 87, "INVALID_RECORD" },
    { 89, "THROTTLING_QUOTA_EXCEEDED" },
    { 91, "RESOURCE_NOT_FOUND" },
    { 100, "UNKNOWN_TOPIC_ID" },
};

const char *cm_kerr_name(int16_t code)
{
    for (size_t i = 0; i < sizeof(cm_kerr__names) / sizeof(cm_kerr__names[0]); i++)
        if (cm_kerr__names[i].code == code)
            return cm_kerr__names[i].name;
    return "UNKNOWN";
}

const cm_kapi_info_t *cm_kapi_info(int16_t key)
{
    /* The table is sorted by key; it has under a hundred rows. */
    for (size_t i = 0; i < cm_kapi_infos_n; i++)
        if (cm_kapi_infos[i].key == key)
            return &cm_kapi_infos[i];
    return NULL;
}

int cm_kapi_is_flexible(int16_t key, int16_t version)
{
    const cm_kapi_info_t *api = cm_kapi_info(key);
    return api != NULL && api->flexible_min >= 0 && version >= api->flexible_min;
}

int cm_kreq_hdr_version(int16_t key, int16_t version)
{
    return cm_kapi_is_flexible(key, version) ? 2 : 1;
}

int cm_kresp_hdr_version(int16_t key, int16_t version)
{
    /* ApiVersions responses keep header v0 so that a client can always read the error of
     * an unsupported-version answer (KIP-511). */
    if (key == CM_KAPI_API_VERSIONS)
        return 0;
    return cm_kapi_is_flexible(key, version) ? 1 : 0;
}

int cm_kreq_hdr_decode(cm_kr_t *r, cm_kreq_hdr_t *h)
{
    h->api_key = cm_kr_i16(r);
    h->api_version = cm_kr_i16(r);
    h->correlation_id = cm_kr_i32(r);
    h->client_id = CM_KSTR_NULL;
    if (r->err)
        return -1;
    const cm_kapi_info_t *api = cm_kapi_info(h->api_key);
    int hv = 1;
    if (api != NULL && api->flexible_min >= 0 && h->api_version >= api->flexible_min)
        hv = 2;
    /* Client id is a classic nullable string even in header v2. */
    h->client_id = cm_kr_str(r, false, true);
    if (hv == 2)
        cm_kr_skip_tags(r);
    return r->err ? -1 : 0;
}

size_t cm_kreq_begin(cm_kw_t *w, int16_t api_key, int16_t version, int32_t correlation_id,
                     const char *client_id)
{
    size_t start = w->len;
    cm_kw_i32(w, 0);
    cm_kw_i16(w, api_key);
    cm_kw_i16(w, version);
    cm_kw_i32(w, correlation_id);
    cm_kw_str(w, cm_kstr_c(client_id), false, true);
    if (cm_kreq_hdr_version(api_key, version) == 2)
        cm_kw_uvarint(w, 0);
    return start;
}

size_t cm_kresp_begin(cm_kw_t *w, int16_t api_key, int16_t version, int32_t correlation_id)
{
    size_t start = w->len;
    cm_kw_i32(w, 0);
    cm_kw_i32(w, correlation_id);
    if (cm_kresp_hdr_version(api_key, version) == 1)
        cm_kw_uvarint(w, 0);
    return start;
}

void cm_kframe_end(cm_kw_t *w, size_t frame_start)
{
    size_t ext = 0;
    for (size_t i = 0; i < w->n_splices; i++)
        if (w->splices[i].at >= frame_start)
            ext += w->splices[i].ext.len;
    size_t size = w->len - frame_start - 4 + ext;
    if (size > INT32_MAX)
        w->err = 1;
    cm_kw_i32_at(w, frame_start, (int32_t)size);
}
