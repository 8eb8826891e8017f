/*
 * A blocking Kafka-protocol client connection: connect (with a timeout), authenticate with
 * SASL/SCRAM-SHA-256 in Kafka's framing (SaslHandshake v1, SaslAuthenticate v2, KIP-152),
 * then one request and its response at a time, each bounded by the connection's timeout.
 *
 * For a thread of its own (a broker's replica fetcher) and for test tools. Another thread
 * may cm_kclient_abort() a connection to end a call in progress.
 */
#ifndef CM_KCLIENT_H
#define CM_KCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cm_arena.h"
#include "cm_kbuf.h"

typedef struct cm_kclient {
    int fd;             /* -1 when closed */
    int32_t next_corr;  /* correlation id of the next request */
    int64_t timeout_ms; /* every connect, send and receive */
    size_t frame_max;   /* a bigger response frame is an error */
    const char *client_id;
    char err[256]; /* why the last call failed */
} cm_kclient_t;

typedef void (*cm_kclient_enc_fn)(cm_kw_t *w, int16_t v, const void *m);
typedef int (*cm_kclient_dec_fn)(cm_kr_t *r, int16_t v, cm_arena_t *a, void *m);

/** A closed client with these limits. */
void cm_kclient_init(cm_kclient_t *c, const char *client_id, int64_t timeout_ms, size_t frame_max);

/**
 * Connects to host:port (a name or an address) and, with a user, authenticates as it with
 * SCRAM-SHA-256, checking the server's signature. 0, or -1 with c->err (closed).
 */
int cm_kclient_connect(cm_kclient_t *c, const char *host, int port, const char *user,
                       const char *password);

/** Sends `len` raw bytes (anything, even not a frame). 0, or -1 with c->err. */
int cm_kclient_send_raw(cm_kclient_t *c, const void *p, size_t len);

/** Sends one request of `key`/`v` encoded by `enc`. Returns its correlation id, or -1. */
int32_t cm_kclient_send(cm_kclient_t *c, int16_t key, int16_t v, cm_kclient_enc_fn enc,
                        const void *req);

/**
 * Reads one frame into a malloc'd *frame (its size in *len). 0, or -1 with c->err when the
 * peer closed, the timeout passed or the frame is over frame_max.
 */
int cm_kclient_recv_frame(cm_kclient_t *c, uint8_t **frame, size_t *len);

/**
 * Reads the response to request `corr` of `key`/`v`: *frame holds it (malloc'd) and *body
 * the body inside it, past the response header. 0, or -1 with c->err.
 */
int cm_kclient_recv(cm_kclient_t *c, int32_t corr, int16_t key, int16_t v, uint8_t **frame,
                    cm_kr_t *body);

/**
 * One request and its response decoded by `dec` into `resp`, its views kept alive in `a`.
 * 0, or -1 with c->err.
 */
int cm_kclient_call(cm_kclient_t *c, int16_t key, int16_t v, cm_kclient_enc_fn enc, const void *req,
                    cm_kclient_dec_fn dec, cm_arena_t *a, void *resp);

/** Ends a call in progress on another thread (it fails); the owner still closes. */
void cm_kclient_abort(cm_kclient_t *c);

void cm_kclient_close(cm_kclient_t *c);

#endif
