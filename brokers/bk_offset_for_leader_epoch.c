/*
 * OffsetForLeaderEpoch (KIP-101, KIP-320): where a leader epoch ends in the leader's log,
 * so that a consumer (or, with replication, a follower) can tell whether its position is on
 * a history the leader still has, and truncate or reset where it is not.
 *
 * Answered by the leader only. A consumer's answer is capped at the high watermark: it
 * never learns of records it could not read. A request with a replica id is a follower's,
 * and refused like a follower's fetch until replication authenticates brokers.
 */
#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_topic.h"
#include "cm_kmsg.h"

int bk_handle_offset_for_leader_epoch(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_offset_for_leader_epoch_req_t r;
    if (cm_offset_for_leader_epoch_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_offset_for_leader_epoch_resp_t resp;
    cm_offset_for_leader_epoch_resp_init(&resp);
    int32_t nt = r.topics_n > 0 ? r.topics_n : 0;
    resp.topics = cm_arena_calloc(a, (size_t)(nt ? nt : 1), sizeof(*resp.topics));
    if (resp.topics == NULL)
        return BK_CLOSE;
    resp.topics_n = nt;
    for (int32_t i = 0; i < nt; i++) {
        cm_offset_for_leader_epoch_req_offset_for_leader_topic_t *ti = &r.topics[i];
        cm_offset_for_leader_epoch_resp_offset_for_leader_topic_result_t *to = &resp.topics[i];
        cm_offset_for_leader_epoch_resp_offset_for_leader_topic_result_init(to);
        to->topic = ti->topic;
        bk_topic_t *t = bk_topic_find(req->b, ti->topic);
        int32_t np = ti->partitions_n > 0 ? ti->partitions_n : 0;
        to->partitions = cm_arena_calloc(a, (size_t)(np ? np : 1), sizeof(*to->partitions));
        if (to->partitions == NULL)
            return BK_CLOSE;
        to->partitions_n = np;
        for (int32_t j = 0; j < np; j++) {
            const cm_offset_for_leader_epoch_req_offset_for_leader_partition_t *pi =
                &ti->partitions[j];
            cm_offset_for_leader_epoch_resp_epoch_end_offset_t *po = &to->partitions[j];
            cm_offset_for_leader_epoch_resp_epoch_end_offset_init(po);
            po->partition = pi->partition;
            po->leader_epoch = -1;
            po->end_offset = -1;
            if (v >= 3 && r.replica_id >= 0) {
                po->error_code = CM_KERR_TOPIC_AUTHORIZATION_FAILED;
                continue;
            }
            int16_t err;
            bk_partition_t *p = bk_cluster_led(req->b, t, ti->topic, pi->partition, &err);
            if (p != NULL)
                err = p->offline != NULL
                          ? CM_KERR_KAFKA_STORAGE_ERROR
                          : bk_partition_check_epoch(p, v >= 2 ? pi->current_leader_epoch : -1);
            if (err != 0) {
                po->error_code = err;
                continue;
            }
            bk_partition_epoch_end(p, pi->leader_epoch, p->hw, &po->leader_epoch, &po->end_offset);
        }
    }
    cm_offset_for_leader_epoch_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}
