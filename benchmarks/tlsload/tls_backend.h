/* The few TLS client calls tlsload makes, so one event loop runs over either library.
 *
 * tls_wolfssl.c implements them with wolfSSL's native API (the default: a wolfSSL client
 * handshake costs a fraction of an OpenSSL 3.0 one, which keeps the generator's ceiling far
 * above the server's rate), tls_openssl.c with OpenSSL's. Both speak TLS 1.2 only, verify
 * nothing (the load is not the test), keep no session cache and send no ticket extension,
 * so every connection is a full handshake.
 */
#ifndef TLSLOAD_TLS_BACKEND_H
#define TLSLOAD_TLS_BACKEND_H

#include <stddef.h>

/* What a call did: a positive byte count, or one of these. */
enum {
    TLSB_DONE = 0,          /* the handshake or close_notify is complete */
    TLSB_WANT_READ = -1,    /* call again when the socket is readable */
    TLSB_WANT_WRITE = -2,   /* call again when the socket is writable */
    TLSB_CLOSED = -3,       /* the peer closed (close_notify or EOF) */
    TLSB_FAILED = -4        /* anything else: tlsb_error() says what */
};

struct tlsb_config {
    const char *ciphers;    /* OpenSSL-style cipher list, TLS 1.2 suites */
    const char *groups;     /* colon-separated ECDHE groups, e.g. "X25519:P-256" */
    const char *cert_chain; /* PEM leaf + intermediates for mutual TLS, or NULL */
    const char *key;        /* PEM private key of cert_chain, or NULL */
};

typedef struct tlsb_session tlsb_session;

/* Set the library up once; 0 on success, else -1 with a message in err. */
int tlsb_setup(const struct tlsb_config *config, char *err, size_t err_size);
const char *tlsb_library(void);          /* "wolfssl" or "openssl" */
const char *tlsb_library_version(void);

tlsb_session *tlsb_new(int fd);
int tlsb_handshake(tlsb_session *session);
int tlsb_read(tlsb_session *session, void *buffer, int size);
int tlsb_write(tlsb_session *session, const void *buffer, int size);
/* Bytes of a record already read and decrypted but not yet returned. */
int tlsb_pending(tlsb_session *session);
/* Send close_notify (once; does not wait for the peer's). */
int tlsb_close_notify(tlsb_session *session);
void tlsb_free(tlsb_session *session);
const char *tlsb_cipher(tlsb_session *session);
const char *tlsb_group(tlsb_session *session);
/* The last failure, as one line (for the run's first_error). */
const char *tlsb_error(tlsb_session *session);

#endif
