#include "cm_httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM_HTTPC__TOKEN_BYTES_MAX 4096

typedef struct cm_httpc__sink {
    cm_httpc_answer_t *a;
    size_t max;
} cm_httpc__sink_t;

static size_t cm_httpc__on_data(char *p, size_t size, size_t n, void *ud)
{
    cm_httpc__sink_t *s = ud;
    size_t len = size * n;
    if (len > s->max - s->a->body.len) {
        s->a->too_big = true;
        return 0;
    }
    cm_sbuf_append(&s->a->body, p, len);
    return len;
}

static int cm_httpc__progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load((const _Atomic bool *)ud) ? 1 : 0;
}

static void cm_httpc__header(struct curl_slist **list, const char *h)
{
    struct curl_slist *l = curl_slist_append(*list, h);
    if (l == NULL)
        abort();
    *list = l;
}

int cm_httpc_call(CURL *h, const cm_httpc_req_t *q, cm_httpc_answer_t *a)
{
    char auth[sizeof("Authorization: Bearer ") + CM_HTTPC__TOKEN_BYTES_MAX];
    struct curl_slist *headers = NULL;
    cm_httpc__sink_t sink = { .a = a, .max = q->answer_bytes_max };
    *a = (cm_httpc_answer_t){ 0 };
    cm_sbuf_init(&a->body);
    cm_httpc__header(&headers, "Accept: application/json");
    cm_httpc__header(&headers, "Expect:"); /* no 100-continue round trip */
    if (q->body != NULL)
        cm_httpc__header(&headers, "Content-Type: application/json");
    if (q->token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", q->token);
        cm_httpc__header(&headers, auth);
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, q->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, q->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, q->timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, q->user_agent != NULL ? q->user_agent : "streamd");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cm_httpc__on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, a->err);
    if (q->cancel != NULL) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cm_httpc__progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)q->cancel);
    }
    if (q->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    }
    if (strcmp(q->method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    CURLcode e = curl_easy_perform(h);
    curl_slist_free_all(headers);
    explicit_bzero(auth, sizeof(auth));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    if (e == CURLE_OK && !a->too_big) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
        return 0;
    }
    if (a->err[0] == '\0')
        snprintf(a->err, sizeof(a->err), "%s", curl_easy_strerror(e));
    return -1;
}
