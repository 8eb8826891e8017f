#include "bk_dispatch.h"

#include <string.h>

#include "bk_sasl.h"
#include "cm_log.h"

const bk_api_t bk_apis[] = {
    { CM_KAPI_PRODUCE, 3, 11, bk_handle_produce },
    { CM_KAPI_FETCH, 4, 17, bk_handle_fetch },
    { CM_KAPI_LIST_OFFSETS, 1, 8, bk_handle_list_offsets },
    { CM_KAPI_OFFSET_FOR_LEADER_EPOCH, 0, 4, bk_handle_offset_for_leader_epoch },
    { CM_KAPI_METADATA, 0, 12, bk_handle_metadata },
    { CM_KAPI_API_VERSIONS, 0, 4, bk_handle_api_versions },
    { CM_KAPI_CREATE_TOPICS, 0, 7, bk_handle_create_topics },
    { CM_KAPI_DELETE_TOPICS, 0, 6, bk_handle_delete_topics },
    { CM_KAPI_DESCRIBE_CONFIGS, 0, 4, bk_handle_describe_configs },
    { CM_KAPI_ALTER_CONFIGS, 0, 2, bk_handle_alter_configs },
    { CM_KAPI_INCREMENTAL_ALTER_CONFIGS, 0, 1, bk_handle_incremental_alter_configs },
    { CM_KAPI_CREATE_PARTITIONS, 0, 3, bk_handle_create_partitions },
    { CM_KAPI_FIND_COORDINATOR, 0, 4, bk_handle_find_coordinator },
    { CM_KAPI_JOIN_GROUP, 0, 9, bk_handle_join_group },
    { CM_KAPI_SYNC_GROUP, 0, 5, bk_handle_sync_group },
    { CM_KAPI_HEARTBEAT, 0, 4, bk_handle_heartbeat },
    { CM_KAPI_LEAVE_GROUP, 0, 5, bk_handle_leave_group },
    { CM_KAPI_OFFSET_COMMIT, 2, 8, bk_handle_offset_commit },
    { CM_KAPI_OFFSET_FETCH, 0, 8, bk_handle_offset_fetch },
    { CM_KAPI_LIST_GROUPS, 0, 4, bk_handle_list_groups },
    { CM_KAPI_DESCRIBE_GROUPS, 0, 5, bk_handle_describe_groups },
    { CM_KAPI_DELETE_GROUPS, 0, 2, bk_handle_delete_groups },
    /* Listed from v0, as clients look for it (librdkafka's "SASL handshake" feature), but a
     * v0 handshake, after which the mechanism's bytes come unframed, is refused. */
    { CM_KAPI_SASL_HANDSHAKE, 0, 1, bk_handle_sasl_handshake },
    { CM_KAPI_SASL_AUTHENTICATE, 0, 2, bk_handle_sasl_authenticate },
};

const size_t bk_apis_n = sizeof(bk_apis) / sizeof(bk_apis[0]);

int bk_dispatch(bk_req_t *req)
{
    const cm_kreq_hdr_t *h = &req->hdr;
    const bk_api_t *api = NULL;
    for (size_t i = 0; i < bk_apis_n; i++)
        if (bk_apis[i].key == h->api_key)
            api = &bk_apis[i];
    if (api == NULL) {
        cm_log_warn("closing connection: unsupported API key", "peer=%s api_key=%d",
                    req->conn->peer, h->api_key);
        return BK_CLOSE;
    }
    if (!bk_sasl_allowed(req->conn, h->api_key)) {
        bk_metrics_add(&req->b->metrics.requests_unauthenticated, 1);
        cm_log_warn("closing connection: request before authentication", "peer=%s api_key=%d",
                    req->conn->peer, h->api_key);
        return BK_CLOSE;
    }
    if (h->api_key < BK_METRICS_API_MAX)
        bk_metrics_add(&req->b->metrics.requests[h->api_key], 1);
    /* ApiVersions answers every version (KIP-511): an unknown one gets UNSUPPORTED_VERSION
     * with the list, so the client can pick a version both sides speak. */
    if (h->api_key != CM_KAPI_API_VERSIONS &&
        (h->api_version < api->min_version || h->api_version > api->max_version)) {
        cm_log_warn("closing connection: unsupported API version", "peer=%s api_key=%d version=%d",
                    req->conn->peer, h->api_key, h->api_version);
        return BK_CLOSE;
    }
    int rc = api->fn(req);
    if (rc == BK_CLOSE)
        cm_log_warn("closing connection: malformed request", "peer=%s api_key=%d version=%d",
                    req->conn->peer, h->api_key, h->api_version);
    return rc;
}

cm_kstr_t bk_req_keep(bk_req_t *req, cm_kstr_t s)
{
    if (s.len <= 0)
        return s;
    char *p = cm_arena_strndup(&req->resp->arena, s.ptr, (size_t)s.len);
    return p ? (cm_kstr_t){ p, s.len } : CM_KSTR("");
}

cm_kstr_t bk_resp_msg(bk_resp_t *r, const char *msg)
{
    if (msg == NULL || msg[0] == '\0')
        return CM_KSTR_NULL;
    size_t n = strlen(msg);
    char *p = cm_arena_strndup(&r->arena, msg, n);
    return p ? (cm_kstr_t){ p, (int32_t)n } : CM_KSTR_NULL;
}

cm_kstr_t bk_req_msg(bk_req_t *req, const char *msg)
{
    return bk_resp_msg(req->resp, msg);
}
