/* ApiVersions: the APIs and versions this broker implements (KIP-35, KIP-511). */
#include <stdbool.h>
#include <stdlib.h>

#include "bk_dispatch.h"
#include "cm_kmsg.h"

/* KIP-511: client software name and version are [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool bk_api_versions__valid_software(cm_kstr_t s)
{
    if (s.len <= 0)
        return false;
    for (int32_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        bool edge = i == 0 || i == s.len - 1;
        if (!alnum && (edge || (c != '-' && c != '.')))
            return false;
    }
    return true;
}

int bk_handle_api_versions(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_api_versions_resp_t resp;
    cm_api_versions_resp_init(&resp);
    cm_api_versions_resp_api_version_t keys[32];
    if (bk_apis_n > sizeof(keys) / sizeof(keys[0]))
        abort();
    for (size_t i = 0; i < bk_apis_n; i++) {
        cm_api_versions_resp_api_version_init(&keys[i]);
        keys[i].api_key = bk_apis[i].key;
        keys[i].min_version = bk_apis[i].min_version;
        keys[i].max_version = bk_apis[i].max_version;
    }
    resp.api_keys = keys;
    resp.api_keys_n = (int32_t)bk_apis_n;

    if (v > CM_API_VERSIONS_REQ_MAX_VERSION) {
        /* Answer in v0, which every client can read, so it can retry with a version we
         * support. */
        resp.error_code = CM_KERR_UNSUPPORTED_VERSION;
        cm_api_versions_resp_encode(&req->resp->w, 0, &resp);
        return BK_DONE;
    }
    cm_api_versions_req_t r;
    if (cm_api_versions_req_decode(&req->body, v, &req->resp->arena, &r) != 0)
        return BK_CLOSE;
    if (v >= 3 && (!bk_api_versions__valid_software(r.client_software_name) ||
                   !bk_api_versions__valid_software(r.client_software_version)))
        resp.error_code = CM_KERR_INVALID_REQUEST;
    cm_api_versions_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}
