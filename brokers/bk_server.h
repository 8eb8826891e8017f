/*
 * The broker's serving side: the Kafka listener and its connections, the flusher's
 * completions, the periodic tick (interval flushes, retention, idle connections), the
 * admin HTTP listener, and graceful shutdown.
 */
#ifndef BK_SERVER_H
#define BK_SERVER_H

#include "bk_broker.h"

typedef struct bk_conn bk_conn_t;

/** Opens the listeners; prints nothing. Returns NULL with a reason logged. */
bk_server_t *bk_server_start(bk_broker_t *b);

/** The Kafka listener's bound port (useful with port 0). */
int bk_server_port(const bk_server_t *s);

/**
 * Graceful stop, from the loop: stop accepting and reading, let queued answers (acks
 * waiting for fsync included) go out for up to `grace_ms`, then close everything.
 * bk_loop_run returns once done.
 */
void bk_server_shutdown(bk_server_t *s, int64_t grace_ms);

/**
 * Marks the broker ready (/readyz 200) and says so in the log and on stdout; once. A
 * managed broker is ready only once its first control-plane snapshot is applied, since
 * before that it would answer "unknown topic" for topics it holds. Loop thread.
 */
void bk_server_ready(bk_broker_t *b);

/** Frees the server after the loop has returned. */
void bk_server_free(bk_server_t *s);

/* For bk_conn.c. */
bk_broker_t *bk_server_broker(bk_server_t *s);
void bk_server_conn_closed(bk_server_t *s, bk_conn_t *c);
/** Closes every connection `pred` picks, for `why`; returns how many. */
int bk_server_close_if(bk_server_t *s, bool (*pred)(const bk_conn_t *c, void *ud), void *ud,
                       const char *why);
/* `c` has answers to write at the end of this loop pass. */
void bk_server_send_later(bk_server_t *s, bk_conn_t *c);

/* The admin HTTP listener (bk_admin.c). */
typedef struct bk_admin bk_admin_t;
bk_admin_t *bk_admin_start(bk_broker_t *b, const char *hostport);
void bk_admin_free(bk_admin_t *a);

#endif
