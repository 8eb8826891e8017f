/*
 * The coordinator's durable state: committed offsets, group memberships and group
 * deletions, as records in a partition log of the broker's own
 * (<data_dir>/groups/offsets), never a topic, so no client can list, read or write it.
 * Replayed into the coordinator at start: the newest record for a key wins, a deletion
 * forgets the group's offsets before it.
 *
 * Records (our format; "str" is an i16 length and bytes, "bytes" an i32 length, "uuid" 16
 * bytes; times are wall-clock milliseconds):
 *   offset commit   key  u8 1 | u16 n group | u16 n topic | i32 partition
 *                   value u8 1 | i64 offset | i32 leader epoch | i64 commit time |
 *                         u16 n metadata | uuid owner
 *                   value: null once the offset expired
 *   group deleted   key  u8 2 | u16 n group            value: null
 *   membership      key  u8 3 | u16 n group
 *                   value u8 1 | i32 generation | u8 rebalancing | str protocol type |
 *                         str protocol | str leader | i32 n, then per member: str id |
 *                         str instance id | str client id | str client host |
 *                         i32 session timeout | i32 rebalance timeout | bytes metadata |
 *                         bytes assignment; then i64 empty since (-1: not Empty) | uuid owner
 * "owner" is the id of the tenant that owned the group when it was made (zeros: none, as on
 * an unmanaged broker). Version 0 values, written before owners and expiry were, are the
 * same without what follows the metadata or the members; their groups have no recorded
 * owner and take the one the first cluster snapshot shows (bk_gcoord_reown), and their
 * empty groups' offsets expire by commit time alone. A record with an owner other than
 * its group's replaces the group (bk_gcoord_offset_put), so the groups of a tenant deleted
 * and made again under the same name never merge, even if a deletion record was lost.
 *
 * Compaction: the log only grows, so once the bytes written since the last snapshot reach
 * both group_offsets_compact_bytes and the snapshot's own size, the next tick with nothing
 * in flight rolls the log and writes a snapshot (every live offset and membership) at the
 * head of a new segment; once it is durable the segments before it are deleted. Replaying
 * the older records before a snapshot gives what the snapshot says, so a crash anywhere
 * in between loses nothing.
 *
 * Loop thread only.
 */
#ifndef BK_OFFSETS_H
#define BK_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

#include "bk_broker.h"
#include "bk_group.h"
#include "bk_partition.h"

typedef struct bk_offsets bk_offsets_t;

typedef struct bk_offset_rec {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata;
} bk_offset_rec_t;

/** Opens (or creates) the log and replays it into b->groups. -1 when it cannot be opened. */
int bk_offsets_open(bk_broker_t *b);

/** Closes the log. */
void bk_offsets_close(bk_broker_t *b);

/**
 * Appends a group's commits as one batch, the group owned by `tenant` (zero: none); `w` is
 * called once they are durable (or with an error). Returns 0, or a Kafka error when
 * nothing was written.
 */
int16_t bk_offsets_commit(bk_broker_t *b, const char *group, cm_kuuid_t tenant,
                          const bk_offset_rec_t *recs, int n, int64_t now_ms, bk_ack_waiter_t *w);

/** Appends a group's deletion; `w` as above. */
int16_t bk_offsets_delete_group(bk_broker_t *b, const char *group, bk_ack_waiter_t *w);

/** What bk_offsets_forget records: one expired offset, or (topic NULL) a removed group. */
typedef struct bk_offsets_gone {
    const char *group;
    const char *topic;
    int32_t partition;
} bk_offsets_gone_t;

/**
 * Appends, as one batch not waited for, the removal of offsets (null values) and groups, so
 * that a replay forgets them too (durable with the next fsync round). 0 or a Kafka error.
 */
int16_t bk_offsets_forget(bk_broker_t *b, const bk_offsets_gone_t *gone, int n);

/** True when every record appended is durable and applied: nothing written is in flight. */
bool bk_offsets_quiet(const bk_broker_t *b);

/** Has the next bk_offsets_tick with nothing in flight compact the log, whatever its size
 * (to rewrite every record in the current version). */
void bk_offsets_compact_soon(bk_broker_t *b);

/** Appends a group's membership (bk_gops_t.settled), not waiting for it to be durable. */
void bk_offsets_group_settled(bk_broker_t *b, const bk_group_t *g);

/** Compacts the log when it is due (the server's tick). */
void bk_offsets_tick(bk_broker_t *b, int64_t now_ms);

#endif
