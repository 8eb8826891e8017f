/*
 * The follower side of replication (docs/proposals/replication.md): for each broker that
 * leads a partition this one holds a replica of, a fetcher copies the leader's log, byte
 * for byte (offsets, leader epochs, CRCs), with Fetch v15 as replica `node_id` with its
 * broker epoch (KIP-903), over a connection authenticated with the broker's own component
 * credential.
 *
 * A fetcher's connection lives on a thread of its own, which only moves bytes: the event
 * loop builds each request from its partitions (fetch offset = the durable log end, so the
 * offset a follower reports is fsynced; last fetched epoch; the snapshot's leader epoch)
 * and applies each answer: appends the batches (bk_partition_append_replica), truncates
 * where the leader says the log diverged (DivergingEpoch: KIP-320), caps the high watermark
 * at the leader's. The next request goes out once everything appended is durable, or after
 * replica_fetch_backoff_ms when the answer was only errors.
 *
 * Loop thread, except each fetcher's thread.
 */
#ifndef BK_REPLICA_H
#define BK_REPLICA_H

#include "bk_broker.h"

/** After a cluster snapshot is applied: which partitions follow which leader now. */
void bk_replica_apply(bk_broker_t *b);

/** After flusher completions: fetchers waiting for their appends to be durable go on. */
void bk_replica_synced(bk_broker_t *b);

/** Stops every fetcher and joins its thread (shutdown). */
void bk_replica_stop(bk_broker_t *b);

#endif
