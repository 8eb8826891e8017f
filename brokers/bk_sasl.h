/*
 * Authentication on the broker's Kafka listener (internal_auth=scram or auto): SASL/SCRAM-SHA-256
 * in Kafka's framing (SaslHandshake v1, then SaslAuthenticate, KIP-152), against the
 * verifiers of scram_verifiers_file. Until a connection has authenticated it may send only
 * ApiVersions, SaslHandshake and SaslAuthenticate; anything else closes it, as Kafka's
 * SaslServerAuthenticator does, and so does a failed exchange, once its answer is out.
 * Its frames are held to 16 KiB and it has auth_timeout_ms to finish. An unknown user
 * is answered with a salt derived from a secret key, as a known one, and fails at the
 * proof, so names cannot be probed.
 *
 * internal_auth=auto (the default) is scram on a managed broker, whose verifiers are the
 * control plane's components (its snapshot), saved to <data_dir>/principals for a restart
 * while the control plane's database is away; an unmanaged broker is open unless told
 * scram. docs/proposals/internal-listener-auth.md is the plan.
 */
#ifndef BK_SASL_H
#define BK_SASL_H

#include <stdbool.h>

#include "bk_broker.h"
#include "bk_conn.h"

enum {
    BK_AUTH_OPEN = 0,   /* internal_auth=none: every request is served */
    BK_AUTH_START,      /* expects SaslHandshake */
    BK_AUTH_HANDSHAKEN, /* expects client-first */
    BK_AUTH_FIRST,      /* expects client-final */
    BK_AUTH_OK,         /* authenticated as conn->who */
};

/** Reads the configuration (bk_main, before listening); false after logging why. */
bool bk_sasl_init(bk_broker_t *b);

/** True when the verifiers come from the control plane's snapshot (managed, no file). */
bool bk_sasl_from_control_plane(const bk_broker_t *b);

/**
 * Installs the verifiers of a snapshot (event loop): who may connect from now on. A
 * connection authenticated as a name that is gone, or whose verifier changed, is closed
 * ("credential revoked"); one in the middle of an exchange finishes against the old one.
 * Entries that do not parse are skipped and logged.
 */
void bk_sasl_install(bk_broker_t *b, const char *const *names, const char *const *verifiers,
                     int32_t n);

/** Frees what bk_sasl_init made. */
void bk_sasl_free(bk_broker_t *b);

/** The state a new connection starts in. */
uint8_t bk_sasl_conn_start(const bk_broker_t *b);

/** True when the connection may send requests of `api_key` now. */
bool bk_sasl_allowed(const bk_conn_t *c, int16_t api_key);

/** Frees a connection's exchange (closing). */
void bk_sasl_conn_free(bk_conn_t *c);

#endif
