#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cm_config.h"
#include "gw.h"

/* clang-format off */
#define STR(f, def, help) { #f, CM_OPT_STR, def, 0, 0, offsetof(gw_config_t, f), help }
#define INT(f, def, lo, hi, help) { #f, CM_OPT_INT, def, lo, hi, offsetof(gw_config_t, f), help }
/* clang-format on */

static const cm_opt_t gw_config__opts[] = {
    STR(listen, "127.0.0.1:8080", "REST listener, HTTP/1.1 and h2c (host:port)"),
    STR(admin_listen, "127.0.0.1:8081",
        "operators' listener: /healthz, /readyz and /metrics, never on a tenant listener "
        "(host:port; empty: none)"),
    STR(tls_listen, "127.0.0.1:8443",
        "REST listener over TLS, HTTP/1.1 and h2 by ALPN (host:port; empty: none)"),
    STR(tls_cert, "", "PEM certificate chain for tls_listen"),
    STR(tls_key, "", "PEM private key for tls_listen"),
    STR(grpc_listen, "127.0.0.1:9090", "gRPC API listener, plaintext (host:port; empty: none)"),
    STR(grpc_tls_listen, "127.0.0.1:9443",
        "gRPC API listener over TLS with tls_cert and tls_key (host:port; empty: none)"),
    STR(database_url, "postgresql://streamd@127.0.0.1:55432/streamd",
        "the control plane's Postgres (read only: tenants, keys, ACLs, quotas, topics)"),
    STR(control_plane_url, "http://127.0.0.1:8090", "the control plane's operator API"),
    STR(credential, "",
        "the gateway's component credential (POST /v1/components, kind gateway): with it the "
        "gateway authenticates to brokers with SASL/SCRAM-SHA-256 (internal_auth=scram); "
        "prefer the environment (GATEWAY_CREDENTIAL) or the config file"),
    STR(control_plane_token, "",
        "the gateway's operator token (topic and ACL changes go through the operator API)"),
    STR(log_level, "info", "debug, info, warn or error"),
    INT(threads, "0", 0, GW_THREADS_MAX, "event-loop threads (0: one per core)"),
    INT(body_bytes_max, "8388608", 1024, 268435456, "largest request body"),
    INT(preauth_bytes_max, "67108864", 1048576, 17179869184,
        "bytes all connections that have not authenticated yet may make the gateway hold "
        "(h2o buffers whole request bodies); past it they are not read until it falls"),
    INT(request_arena_bytes, "67108864", 65536, 1073741824,
        "memory one REST request may use, its parsed body included; past it the request gets "
        "413"),
    INT(db_timeout_ms, "5000", 100, 600000, "database statement and connect timeout"),
    INT(storage_poll_ms, "5000", 100, 3600000,
        "how often the storage brokers measured is re-read for tenants with a storage quota"),
    INT(resync_ms, "30000", 1000, 3600000,
        "full re-read of tenants, credentials and topics even without notifications"),
    INT(auth_cache_ms, "60000", 0, 3600000,
        "how long a verified API secret is trusted before its hash is checked again"),
    INT(auth_fail_rate, "5", 1, 1000000, "failed authentications per second allowed per source"),
    INT(auth_fail_burst, "20", 1, 1000000, "failed authentications allowed in a burst per source"),
    INT(auth_fail_sources_max, "65536", 64, 16777216,
        "sources and key ids whose failures are counted (about 80 bytes each); past it the "
        "ones that failed least are forgotten first"),
    INT(jwt_bytes_max, "8192", 256, 65536, "longest bearer token"),
    INT(jwt_skew_ms, "60000", 0, 60000, "clock skew allowed on a token's exp and nbf"),
    INT(request_timeout_ms, "30000", 100, 600000, "a call to a broker, including a produce's acks"),
    INT(fetch_wait_max_ms, "30000", 0, 600000, "longest long-poll of a consume"),
    INT(fetch_bytes_max, "16777216", 1024, 268435456, "largest max_bytes of a consume"),
    INT(answer_buffer_bytes, "67108864", 1048576, 17179869184,
        "per thread: answers held while clients read them; past it, consume answers are cut "
        "short (fewer records, next_offset says where to go on)"),
    INT(produce_records_max, "100000", 1, 10000000, "records in one produce request"),
    INT(grpc_streams_max, "100", 1, 100000,
        "gRPC calls one HTTP/2 connection may have in progress (its MAX_CONCURRENT_STREAMS)"),
    INT(grpc_stream_window, "16", 1, 1024,
        "messages of a gRPC produce stream in flight; the next is read once one is answered"),
    INT(grpc_stream_window_bytes, "16777216", 1024, 1073741824,
        "... and their bytes (the last may go over)"),
    INT(consumer_instance_timeout_ms, "300000", 1000, 86400000,
        "a REST consumer instance without a call for this long is deleted (it leaves its group)"),
    INT(consumer_session_timeout_ms, "10000", 6000, 300000,
        "session timeout of REST consumer instances in their groups (heartbeats every third)"),
    INT(consumer_instances_max, "10000", 0, 1000000,
        "REST consumer instances this gateway holds at most (past it, creating one is 429)"),
    INT(consumer_instances_per_tenant, "100", 0, 1000000,
        "REST consumer instances this gateway holds for one tenant (past it, 429)"),
};

static const cm_config_spec_t gw_config__spec = {
    .program = "streamd-gateway",
    .summary =
        "the streamd gateway: the tenant REST and gRPC APIs, authenticated, namespaced and metered",
    .env_prefix = "GATEWAY_",
    .opts = gw_config__opts,
    .n_opts = sizeof(gw_config__opts) / sizeof(gw_config__opts[0]),
};

int gw_config_load(gw_config_t *cfg, int argc, char **argv)
{
    int rc = cm_config_load(&gw_config__spec, cfg, argc, argv);
    if (rc != 0)
        return rc;
    if (cfg->tls_listen[0] != '\0' && (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0')) {
        fprintf(stderr, "streamd-gateway: tls_listen needs tls_cert and tls_key (or set "
                        "tls_listen to \"\" for no TLS listener)\n");
        return -1;
    }
    if (cfg->grpc_tls_listen[0] != '\0' && (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0')) {
        fprintf(stderr, "streamd-gateway: grpc_tls_listen needs tls_cert and tls_key (or set "
                        "grpc_tls_listen to \"\" for no gRPC TLS listener)\n");
        return -1;
    }
    return 0;
}

void gw_config_free(gw_config_t *cfg)
{
    cm_config_free(&gw_config__spec, cfg);
}
