/*
 * A managed broker's link to the control plane, on a cm_pgwatch thread with its own Postgres
 * connection (the data path never waits on Postgres):
 *
 *   - registers the broker in its pool and renews its lease every lease_ms / 3;
 *   - LISTENs on streamd_metadata and reads a fresh snapshot of the pool (bk_cluster.h)
 *     on every notification, after every reconnect (notifications sent while it was cut
 *     off are lost) and every resync_ms as a safety net;
 *   - hands each snapshot to the event loop, which applies it.
 *
 * When Postgres is away the broker keeps serving from its last snapshot and retries every
 * second; nothing is lost, because the first thing after a reconnect is a full snapshot.
 */
#ifndef BK_CPLANE_H
#define BK_CPLANE_H

#include "bk_broker.h"
#include "cm_kbuf.h"

typedef struct bk_cplane bk_cplane_t;

/** Starts the thread (event-loop thread, once, after the listener is up). */
bk_cplane_t *bk_cplane_start(bk_broker_t *b);

/**
 * Asks for a fresh snapshot now (any thread). Returns a ticket: the installed snapshot's
 * b->cluster->ticket reaches it once a snapshot read after this call has been applied.
 */
uint64_t bk_cplane_want_sync(bk_cplane_t *cp);

/**
 * Proposes `isr` (n members, this broker among them) as the in-sync replicas of a
 * partition it leads in `leader_epoch`, replacing version `isr_version` (event-loop
 * thread). The change is a compare-and-set run before the next snapshot read, which this
 * asks for; returns that snapshot's ticket: the snapshot that reaches it shows whether the
 * change won.
 */
uint64_t bk_cplane_propose_isr(bk_cplane_t *cp, const cm_kuuid_t *topic, int32_t partition,
                               int32_t leader_epoch, int32_t isr_version, const int32_t *isr,
                               int32_t n);

/**
 * Every usage_report_ms (event-loop thread, from the broker's tick): hands the thread a
 * report of the bytes held by each replica placed here that changed since the last one,
 * and of replicas it cannot serve (not created, offline) with why; every so often, and
 * after a failed write, of all of them.
 */
void bk_cplane_report(bk_cplane_t *cp, int64_t now_ms);

/** Stops and joins the thread (event-loop thread, at shutdown). */
void bk_cplane_stop(bk_cplane_t *cp);

#endif
