/*
 * The HTTP server glue shared by the control plane and the gateway, on libh2o's evloop:
 * a listener that hands every request to one function, JSON responses and errors in the
 * shape users expect ({"error_code": N, "message": "..."}), and request helpers (path
 * segments, query parameters, bearer tokens, JSON bodies).
 *
 * HTTP/1.1 and h2c both work. Request bodies are buffered by h2o and capped at the
 * server's `body_max`; larger ones get 413 before the handler runs.
 *
 * Event-loop thread only.
 */
#ifndef CM_HTTP_H
#define CM_HTTP_H

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include <h2o.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cm_arena.h"
#include "cm_json.h"
#include "cm_sbuf.h"

/** Handles one request; must send a response (synchronously or later) and return 0. */
typedef int (*cm_http_handler_fn)(void *ud, h2o_req_t *req);

typedef struct cm_http_server cm_http_server_t;

/**
 * Listens on `addr` ("host:port"; port 0 picks one) in `loop`, sending every request to
 * `fn`. Returns NULL with a reason in `err` if the address cannot be bound.
 */
cm_http_server_t *cm_http_server_start(h2o_evloop_t *loop, const char *addr, size_t body_max,
                                       cm_http_handler_fn fn, void *ud, char *err, size_t cap);

/**
 * A server with no listener yet: add them with cm_http_server_listen_fd. Several loops
 * (threads) may each have a server on listeners dup()ed from one bound socket.
 */
cm_http_server_t *cm_http_server_new(h2o_evloop_t *loop, size_t body_max, cm_http_handler_fn fn,
                                     void *ud);

/**
 * Accepts connections on the listening socket `fd` (the server then owns it). With `ssl`,
 * connections are TLS (HTTP/2 by ALPN when the context registered it); without, HTTP/1.1
 * and h2c. Returns 0, or -1 when the server has no room for another listener.
 */
int cm_http_server_listen_fd(cm_http_server_t *s, int fd, SSL_CTX *ssl);

/**
 * Bounds what clients that have not authenticated can make the server hold (h2o buffers a
 * whole request body before any handler runs). A connection counts the bytes it reads until
 * the application calls cm_http_conn_authenticated on one of its requests; one that reads
 * more than `conn_max`, or that has read more than a small request (16 KiB) while the
 * `total` of every counted connection (shared by the servers of all threads) is over
 * `total_max`, stops being read until the total is under budget again; h2o's request and
 * idle timeouts close it meanwhile. Such connections get a small receive buffer (16 KiB),
 * which bounds what one read can overshoot by. Counts every pause in *paused. Call before
 * cm_http_server_listen_fd; without a call, nothing is counted.
 */
void cm_http_server_preauth(cm_http_server_t *s, atomic_llong *total, int64_t total_max,
                            int64_t conn_max, atomic_ullong *paused);

/**
 * Stops reading the request's connection for `ms` milliseconds: a client over its quota
 * that ignores Retry-After then costs the server nothing more until its time is up, as
 * Kafka brokers mute a throttled channel. Over HTTP/2 the connection is not read; over
 * HTTP/1.1 a 429 for this request (cm_http_send_error) is held back until then, since h2o
 * reads no further request before it answers one. Every request on the connection waits,
 * those of other tenants that share it too.
 */
void cm_http_conn_mute(h2o_req_t *req, int64_t ms);

/** The request's connection has authenticated: it no longer counts against the budget. */
void cm_http_conn_authenticated(h2o_req_t *req);

/**
 * Attaches `ud` to the request's connection, freed by `ud_free` when it closes. False when
 * the connection has one already (or is not one of the server's).
 */
bool cm_http_conn_set(h2o_req_t *req, void *ud, void (*ud_free)(void *ud));

/** What cm_http_conn_set attached to the request's connection, or NULL. */
void *cm_http_conn_get(h2o_req_t *req);

/** The port of the first listener. */
int cm_http_server_port(const cm_http_server_t *s);

/** Stops accepting on every listener; open connections finish what they are doing. */
void cm_http_server_stop(cm_http_server_t *s);

/** Frees the server after the loop has stopped running it: lets its connections end, resets
 * those still open after a grace period, and returns false (freeing nothing) if some are
 * left even then; the loop is then not to be destroyed either, as their sockets are in it. */
bool cm_http_server_free(cm_http_server_t *s);

/** Sends `body` with the given status and content type. */
void cm_http_send(h2o_req_t *req, int status, const char *type, const char *body, size_t len);

/**
 * Sends `body` without copying it: the caller keeps it unchanged until the request is
 * disposed (h2o writes from it as the client reads). For large answers.
 */
void cm_http_send_owned(h2o_req_t *req, int status, const char *type, const char *body, size_t len);

/** Sends a JSON body (an sbuf the caller then frees). */
void cm_http_send_json(h2o_req_t *req, int status, const cm_sbuf_t *body);

/**
 * Sends {"error_code": code, "message": "..."} with `status`. `code` is the HTTP status or a
 * finer five-digit code (40401). A 429 or 503 carries Retry-After: `retry_after_s` when > 0.
 */
void cm_http_send_error(h2o_req_t *req, int status, int code, int retry_after_s, const char *fmt,
                        ...) __attribute__((format(printf, 5, 6)));

/** A standard reason phrase for `status`. */
const char *cm_http_reason(int status);

/** True when the request's method is `m` ("GET"). */
bool cm_http_method_is(const h2o_req_t *req, const char *m);

#define CM_HTTP_SEGMENTS_MAX 12

/**
 * Splits the path (without its query) into segments allocated in `a`. Returns the count,
 * or -1 when there are more than `max` or a segment is empty, "." or "..", or holds '%'
 * (the raw path is used, so nothing encoded can reach another resource). The path
 * "/v1/tenants/acme" gives {"v1", "tenants", "acme"}.
 */
int cm_http_segments(const h2o_req_t *req, cm_arena_t *a, const char **seg, int max);

/**
 * True when path segments match `pattern`, segments separated by '/', where "*" matches
 * any one segment: "v1/tenants/ * /topics" (without the spaces).
 */
bool cm_http_route_match(const char *pattern, const char *const *seg, int nseg);

/** The URL-decoded value of query parameter `name`, allocated in `a`; NULL when absent. */
const char *cm_http_query(const h2o_req_t *req, cm_arena_t *a, const char *name);

/** The value of header `name` (lower case) allocated in `a`, or NULL. */
const char *cm_http_header(const h2o_req_t *req, cm_arena_t *a, const char *name);

/** The token of "Authorization: Bearer <token>", allocated in `a`, or NULL. */
const char *cm_http_bearer(const h2o_req_t *req, cm_arena_t *a);

/**
 * Parses the request body as a JSON object into `a`, whatever its content type. On
 * failure sends 400 (413 past the arena's limit) itself and returns NULL.
 */
const cm_json_t *cm_http_json_body(h2o_req_t *req, cm_arena_t *a);

#endif
