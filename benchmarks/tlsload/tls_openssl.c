/* tls_backend.h over OpenSSL (Debian's libssl-dev), the fallback client library. */
#define _GNU_SOURCE
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_backend.h"

struct tlsb_session {
    SSL *ssl;
    char error[160];
};

static SSL_CTX *context;

int tlsb_setup(const struct tlsb_config *config, char *err, size_t err_size) {
    context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) {
        snprintf(err, err_size, "SSL_CTX_new failed");
        return -1;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
    if (SSL_CTX_set_cipher_list(context, config->ciphers) != 1) {
        snprintf(err, err_size, "OpenSSL refuses the cipher list '%s'", config->ciphers);
        return -1;
    }
    if (SSL_CTX_set1_groups_list(context, config->groups) != 1) {
        snprintf(err, err_size, "OpenSSL refuses the groups '%s'", config->groups);
        return -1;
    }
    if (config->cert_chain != NULL) {
        if (SSL_CTX_use_certificate_chain_file(context, config->cert_chain) != 1) {
            snprintf(err, err_size, "cannot load the client chain %s", config->cert_chain);
            return -1;
        }
        if (SSL_CTX_use_PrivateKey_file(context, config->key, SSL_FILETYPE_PEM) != 1) {
            snprintf(err, err_size, "cannot load the client key %s", config->key);
            return -1;
        }
    }
    return 0;
}

const char *tlsb_library(void) { return "openssl"; }
const char *tlsb_library_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

tlsb_session *tlsb_new(int fd) {
    tlsb_session *session = calloc(1, sizeof *session);
    if (session == NULL) return NULL;
    session->ssl = SSL_new(context);
    if (session->ssl == NULL || SSL_set_fd(session->ssl, fd) != 1) {
        tlsb_free(session);
        return NULL;
    }
    SSL_set_connect_state(session->ssl);
    return session;
}

/* What a failed call means, remembering the failure's text. */
static int outcome(tlsb_session *session, int result) {
    int code = SSL_get_error(session->ssl, result);
    switch (code) {
    case SSL_ERROR_WANT_READ: return TLSB_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return TLSB_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return TLSB_CLOSED;
    default: {
        unsigned long queued = ERR_get_error();
        if (code == SSL_ERROR_SYSCALL && queued == 0) return TLSB_CLOSED;  /* EOF */
        char text[120];
        ERR_error_string_n(queued, text, sizeof text);
        snprintf(session->error, sizeof session->error, "OpenSSL error %d: %s", code, text);
        ERR_clear_error();
        return TLSB_FAILED;
    }
    }
}

int tlsb_handshake(tlsb_session *session) {
    int result = SSL_do_handshake(session->ssl);
    return result == 1 ? TLSB_DONE : outcome(session, result);
}

int tlsb_read(tlsb_session *session, void *buffer, int size) {
    int result = SSL_read(session->ssl, buffer, size);
    return result > 0 ? result : outcome(session, result);
}

int tlsb_write(tlsb_session *session, const void *buffer, int size) {
    int result = SSL_write(session->ssl, buffer, size);
    return result > 0 ? result : outcome(session, result);
}

int tlsb_pending(tlsb_session *session) { return SSL_pending(session->ssl); }

int tlsb_close_notify(tlsb_session *session) {
    int result = SSL_shutdown(session->ssl);
    if (result >= 0) return TLSB_DONE;
    return outcome(session, result);
}

void tlsb_free(tlsb_session *session) {
    if (session == NULL) return;
    if (session->ssl != NULL) SSL_free(session->ssl);
    free(session);
}

const char *tlsb_cipher(tlsb_session *session) { return SSL_get_cipher_name(session->ssl); }

const char *tlsb_group(tlsb_session *session) {
    const char *name = SSL_group_to_name(session->ssl, SSL_get_negotiated_group(session->ssl));
    return name != NULL ? name : "?";
}

const char *tlsb_error(tlsb_session *session) { return session->error; }
