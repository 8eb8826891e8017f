/*
 * A small blocking HTTP client over libcurl, for JSON APIs: one request on a reusable easy
 * handle, bearer token, JSON body, bounded answer size and time. Used by streamctl and by
 * managed brokers (which forward Kafka admin requests to the control plane). Call
 * curl_global_init() once before any thread uses it.
 */
#ifndef CM_HTTPC_H
#define CM_HTTPC_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cm_sbuf.h"

typedef struct cm_httpc_req {
    const char *method; /* GET, POST, PUT, PATCH, DELETE */
    const char *url;    /* whole URL, path already encoded */
    const char *token;  /* bearer token, or NULL */
    const char *body;   /* JSON, or NULL */
    size_t body_len;
    long connect_timeout_ms;
    long timeout_ms;
    size_t answer_bytes_max;
    const char *user_agent;
    const _Atomic bool *cancel; /* set from another thread: the request is abandoned */
} cm_httpc_req_t;

typedef struct cm_httpc_answer {
    long status;               /* HTTP status; 0 when no answer arrived */
    cm_sbuf_t body;            /* the answer's body (caller frees) */
    bool too_big;              /* the answer exceeded answer_bytes_max */
    char err[CURL_ERROR_SIZE]; /* why no answer arrived */
} cm_httpc_answer_t;

/**
 * Sends `q` on `h` and fills `a` (initialised here; free a->body). Returns 0 when an
 * answer arrived, whatever its status; -1 with a->err (or a->too_big) otherwise.
 */
int cm_httpc_call(CURL *h, const cm_httpc_req_t *q, cm_httpc_answer_t *a);

#endif
