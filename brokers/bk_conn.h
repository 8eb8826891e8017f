/*
 * Client connections: Kafka framing (4-byte size, then the request), pipelined requests
 * answered strictly in arrival order, and output that mixes memory with file ranges
 * (sendfile) without copying record data.
 *
 * Every request that expects an answer gets a response slot (bk_resp_t) at the tail of
 * the connection's queue when it arrives. A handler either fills it at once or keeps a
 * reference and fills it later (produce waiting for fsync, long-poll fetch); bytes leave
 * only from the head, so answers keep request order.
 *
 * Limits: a request frame above request_bytes_max closes the connection; reading pauses
 * while conn_inflight_max responses or conn_output_bytes_max bytes are queued, so a
 * client that does not read its answers cannot make the broker buffer without bound.
 *
 * Event-loop thread only.
 */
#ifndef BK_CONN_H
#define BK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_broker.h"
#include "bk_loop.h"
#include "cm_arena.h"
#include "cm_kbuf.h"
#include "cm_kproto.h"

typedef struct bk_conn bk_conn_t;
typedef struct bk_resp bk_resp_t;

struct bk_resp {
    bk_resp_t *next;
    bk_resp_t *prev;
    bk_conn_t *conn; /* NULL once the connection is gone: finish quietly */
    int refs;
    bool ready;
    int16_t api_key;
    int16_t api_version;
    int64_t start_us;
    size_t frame_start;
    cm_kw_t w;        /* the response frame (header written by dispatch) */
    cm_arena_t arena; /* the decoded request and the response's arrays */
    size_t piece;     /* send progress: current piece (see bk_conn.c) */
    size_t piece_off; /* bytes of it already sent */
};

struct bk_conn {
    bk_io_t io;
    bk_server_t *srv;
    bk_broker_t *broker;
    uint8_t *rbuf;
    size_t rlen;
    size_t rcap;
    size_t rpos; /* frames before rpos are processed */
    bk_resp_t *head;
    bk_resp_t *tail;
    int inflight;
    size_t out_bytes;
    bool paused;
    bool starved; /* its next request does not fit queued_request_bytes_max: not read */
    bool processing;
    bool draining;     /* shutting down: answer what is queued, read nothing new */
    bk_timer_t resume; /* handles frames buffered while reading was paused */
    bool closed;
    bool send_queued; /* on the server's list of connections with answers to write */
    bk_conn_t *send_next;
    int64_t last_active_ms;
    char peer[64];
    bk_conn_t *prev;
    bk_conn_t *next;
    bk_conn_t *starved_prev, *starved_next; /* the broker's starved connections, oldest first */
    int64_t starved_need;                   /* what its buffer must grow by */
    bool holding;                           /* its buffer is past the first 16 KiB */
    bk_conn_t *hold_prev, *hold_next;       /* the broker's holding connections, oldest first */
    /* SASL (bk_sasl.c): BK_AUTH_OPEN on a listener without authentication, else the state
     * of its exchange; `who` names the client once BK_AUTH_OK. */
    uint8_t auth;
    struct cm_scram_server *scram; /* from SaslHandshake to the last SaslAuthenticate */
    char who[129];
    int64_t accepted_ms;
};

/** Accepts `fd` as a new connection. */
bk_conn_t *bk_conn_new(bk_server_t *srv, int fd, const char *peer);

/** Closes a connection: pending responses are orphaned, memory freed after this batch. */
void bk_conn_close(bk_conn_t *c, const char *why);

/** Frees a closed connection (the server calls it after the event batch). */
void bk_conn_free(bk_conn_t *c);

/**
 * Marks a response complete (frame size written). It is written, with every other answer
 * completed in the same pass of the event loop, when the pass ends (bk_conn_send_ready
 * from the server): one write per connection for a whole group commit's acks.
 */
void bk_resp_ready(bk_resp_t *r);

/** Writes the ready answers at the head of the queue (the server, after a loop pass). */
void bk_conn_send_ready(bk_conn_t *c);

bk_resp_t *bk_resp_ref(bk_resp_t *r);
void bk_resp_unref(bk_resp_t *r);

#endif
