/*
 * The gateway's view of the control plane: tenants, principals, API keys, JWT issuers,
 * quotas, ACLs, topics with their partition leaders, and brokers, read from Postgres in
 * one consistent snapshot by a cm_pgwatch thread (on LISTEN streamd_auth and
 * streamd_metadata notifications, after reconnects, and every resync_ms).
 *
 * A snapshot never changes once published. Workers hold a reference to one and switch to
 * the newest at the start of a request (gw_meta_refresh), so a request sees one consistent
 * view from start to end. When Postgres is away the gateway keeps serving on the last
 * snapshot.
 */
#ifndef GW_META_H
#define GW_META_H

#include "gw.h"

/** Starts the metadata thread. */
gw_meta_t *gw_meta_start(gw_t *gw);

/** Stops the thread and frees everything, the last snapshot included. */
void gw_meta_stop(gw_meta_t *m);

/** True once a first snapshot arrived. Any thread. */
bool gw_meta_ready(gw_meta_t *m);

/** Asks for a fresh snapshot; returns the ticket it will carry (cm_pgwatch_want). */
uint64_t gw_meta_want(gw_meta_t *m);

/**
 * Makes *snap the newest snapshot (taking a reference, dropping the old one) when it is not
 * already. Returns *snap, NULL before the first snapshot.
 */
gw_snap_t *gw_meta_refresh(gw_meta_t *m, gw_snap_t **snap, uint64_t *gen);

/** Drops a reference. NULL is harmless. */
void gw_snap_release(gw_snap_t *s);

/** A tenant's topic, or NULL. */
const gw_topic_t *gw_snap_topic(const gw_tenant_t *t, const char *name);

/** The brokers of tenant `t`'s pool that are up, at most `cap` of them into `out`; how many. */
int gw_snap_pool(const gw_snap_t *s, const gw_tenant_t *t, const gw_broker_t **out, int cap);

/** A broker by id, or NULL. */
const gw_broker_t *gw_snap_broker(const gw_snap_t *s, int32_t id);

/** Calls `fn` for every tenant's runtime state (metrics). */
void gw_meta_each_rt(gw_meta_t *m, void (*fn)(void *ud, gw_tenant_rt_t *rt), void *ud);

#endif
