/*
 * A leader's in-sync replicas and high watermark (docs/proposals/replication.md § 3).
 *
 *   - The ISR is what the control plane has committed (its snapshot), this broker among
 *     them. The leader changes it only by compare-and-set (bk_cplane_propose_isr), one
 *     proposal at a time, and uses a change once a snapshot shows it committed.
 *   - The high watermark is the lowest of the leader's durable log end and the durable log
 *     end of every member of the maximal ISR (the committed one plus members a pending
 *     proposal adds), and it does not move while the committed ISR is smaller than
 *     min.insync.replicas (KIP-966): so nothing is visible, or acknowledged to acks=all,
 *     that an election among the ISR could lose.
 *   - A member leaves when it has not been caught up for replica_lag_time_max_ms, or when
 *     the snapshot shows its broker down; a replica joins once its durable log end reaches
 *     the high watermark and the current epoch's first offset, fetching with the broker
 *     epoch the snapshot knows (KIP-903).
 *   - While the control plane's database is away nothing changes: a member that falls
 *     behind holds the high watermark back, and acks=all wait (then time out).
 *
 * Partitions of an unmanaged broker have no ISR state (led_epoch -1): their hw is their
 * durable log end, as before replication. Loop thread.
 */
#ifndef BK_ISR_H
#define BK_ISR_H

#include "bk_broker.h"
#include "bk_cluster.h"
#include "bk_partition.h"

/** A snapshot was applied (`ticket` is its): p's role, followers and committed ISR. */
void bk_isr_sync(bk_broker_t *b, bk_partition_t *p, const cm_kuuid_t *topic_id,
                 const bk_cluster_part_t *x, uint64_t ticket);

/** A follower fetched (its state is updated): hw may move, and it may join the ISR. */
void bk_isr_fetched(bk_broker_t *b, bk_partition_t *p, const bk_follower_t *f);

/** Periodic: members behind for too long, or whose broker is down, leave the ISR. */
void bk_isr_tick(bk_broker_t *b, bk_partition_t *p, int64_t now_ms);

/** For an acks=all produce: NOT_ENOUGH_REPLICAS while the ISR is below min.insync.replicas. */
int16_t bk_isr_check_produce(const bk_partition_t *p);

/** True when `id` is in p's committed ISR. */
bool bk_isr_has(const bk_partition_t *p, int32_t id);

#endif
