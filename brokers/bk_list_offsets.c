/* ListOffsets: earliest, latest, max-timestamp, or the first offset at or after a time. */
#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_topic.h"
#include "cm_kmsg.h"

#define BK_LIST_OFFSETS__LATEST         (-1)
#define BK_LIST_OFFSETS__EARLIEST       (-2)
#define BK_LIST_OFFSETS__MAX_TIMESTAMP  (-3)
#define BK_LIST_OFFSETS__EARLIEST_LOCAL (-4)

/* The offset found and the leader epoch that wrote it (KIP-320: clients check it). */
static void bk_list_offsets__found(const bk_partition_t *p, int64_t offset, int64_t ts,
                                   cm_list_offsets_resp_partition_response_t *out)
{
    out->offset = offset;
    out->timestamp = ts;
    out->leader_epoch = offset < 0 ? -1 : bk_epochs_at(&p->epochs, offset);
}

static void bk_list_offsets__one(bk_partition_t *p, int64_t ts,
                                 cm_list_offsets_resp_partition_response_t *out)
{
    if (p->offline != NULL) {
        out->error_code = CM_KERR_KAFKA_STORAGE_ERROR;
        return;
    }
    switch (ts) {
    case BK_LIST_OFFSETS__LATEST:
        /* The next offset: written, if ever, in the latest epoch. */
        out->offset = p->hw;
        out->timestamp = -1;
        out->leader_epoch = bk_epochs_latest(&p->epochs);
        return;
    case BK_LIST_OFFSETS__EARLIEST:
    case BK_LIST_OFFSETS__EARLIEST_LOCAL:
        bk_list_offsets__found(p, bk_partition_log_start(p), -1, out);
        return;
    case BK_LIST_OFFSETS__MAX_TIMESTAMP: {
        /* The record holding the newest timestamp: the first at or after that time. */
        int64_t max = -1;
        for (size_t i = 0; i < p->n_segs; i++)
            if (p->segs[i]->max_timestamp > max && p->segs[i]->next_offset <= p->hw)
                max = p->segs[i]->max_timestamp;
        if (max < 0) {
            out->offset = -1;
            out->timestamp = -1;
            return;
        }
        ts = max;
        break;
    }
    default:
        break;
    }
    int64_t offset, found_ts;
    out->error_code = bk_partition_offset_for_time(p, ts, &offset, &found_ts);
    if (out->error_code == 0)
        bk_list_offsets__found(p, offset, found_ts, out);
}

int bk_handle_list_offsets(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_list_offsets_req_t r;
    if (cm_list_offsets_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_list_offsets_resp_t resp;
    cm_list_offsets_resp_init(&resp);
    int32_t nt = r.topics_n > 0 ? r.topics_n : 0;
    resp.topics = cm_arena_calloc(a, (size_t)(nt ? nt : 1), sizeof(*resp.topics));
    if (resp.topics == NULL)
        return BK_CLOSE;
    resp.topics_n = nt;
    for (int32_t i = 0; i < nt; i++) {
        cm_list_offsets_req_topic_t *ti = &r.topics[i];
        cm_list_offsets_resp_topic_response_t *to = &resp.topics[i];
        cm_list_offsets_resp_topic_response_init(to);
        to->name = ti->name;
        bk_topic_t *t = bk_topic_find(req->b, ti->name);
        int32_t np = ti->partitions_n > 0 ? ti->partitions_n : 0;
        to->partitions = cm_arena_calloc(a, (size_t)(np ? np : 1), sizeof(*to->partitions));
        if (to->partitions == NULL)
            return BK_CLOSE;
        to->partitions_n = np;
        for (int32_t j = 0; j < np; j++) {
            cm_list_offsets_resp_partition_response_t *po = &to->partitions[j];
            cm_list_offsets_resp_partition_response_init(po);
            po->partition_index = ti->partitions[j].partition_index;
            po->offset = -1;
            po->timestamp = -1;
            int16_t perr;
            bk_partition_t *p = bk_cluster_led(req->b, t, ti->name, po->partition_index, &perr);
            if (p != NULL)
                perr = bk_partition_check_epoch(p, v >= 4 ? ti->partitions[j].current_leader_epoch
                                                          : -1);
            if (perr != 0)
                po->error_code = perr;
            else
                bk_list_offsets__one(p, ti->partitions[j].timestamp, po);
        }
    }
    cm_list_offsets_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}
