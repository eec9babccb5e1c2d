/* tls_backend.h over wolfSSL's native API (Debian's libwolfssl-dev). */
#define _GNU_SOURCE
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/version.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_backend.h"

struct tlsb_session {
    WOLFSSL *ssl;
    char error[160];
};

static WOLFSSL_CTX *context;

/* wolfSSL takes groups as numbers; these are the names the servers' lists use. */
static int group_number(const char *name) {
    static const struct { const char *name; int number; } known[] = {
        {"X25519", WOLFSSL_ECC_X25519}, {"x25519", WOLFSSL_ECC_X25519},
        {"P-256", WOLFSSL_ECC_SECP256R1}, {"prime256v1", WOLFSSL_ECC_SECP256R1},
        {"P-384", WOLFSSL_ECC_SECP384R1}, {"secp384r1", WOLFSSL_ECC_SECP384R1},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i].name) == 0) return known[i].number;
    return -1;
}

int tlsb_setup(const struct tlsb_config *config, char *err, size_t err_size) {
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        snprintf(err, err_size, "wolfSSL_Init failed");
        return -1;
    }
    context = wolfSSL_CTX_new(wolfTLSv1_2_client_method());
    if (context == NULL) {
        snprintf(err, err_size, "wolfSSL_CTX_new failed");
        return -1;
    }
    wolfSSL_CTX_set_verify(context, WOLFSSL_VERIFY_NONE, NULL);
    if (wolfSSL_CTX_set_cipher_list(context, config->ciphers) != WOLFSSL_SUCCESS) {
        snprintf(err, err_size, "wolfSSL refuses the cipher list '%s'", config->ciphers);
        return -1;
    }
    char groups[256];
    snprintf(groups, sizeof groups, "%s", config->groups);
    for (char *save = NULL, *name = strtok_r(groups, ":", &save); name != NULL;
         name = strtok_r(NULL, ":", &save)) {
        int number = group_number(name);
        if (number < 0 || wolfSSL_CTX_UseSupportedCurve(context, (word16)number)
                              != WOLFSSL_SUCCESS) {
            snprintf(err, err_size, "unknown group '%s' (X25519, P-256 or P-384)", name);
            return -1;
        }
    }
    if (config->cert_chain != NULL) {
        if (wolfSSL_CTX_use_certificate_chain_file(context, config->cert_chain)
                != WOLFSSL_SUCCESS) {
            snprintf(err, err_size, "cannot load the client chain %s", config->cert_chain);
            return -1;
        }
        if (wolfSSL_CTX_use_PrivateKey_file(context, config->key, WOLFSSL_FILETYPE_PEM)
                != WOLFSSL_SUCCESS) {
            snprintf(err, err_size, "cannot load the client key %s", config->key);
            return -1;
        }
    }
    return 0;
}

const char *tlsb_library(void) { return "wolfssl"; }
const char *tlsb_library_version(void) { return wolfSSL_lib_version(); }

tlsb_session *tlsb_new(int fd) {
    tlsb_session *session = calloc(1, sizeof *session);
    if (session == NULL) return NULL;
    session->ssl = wolfSSL_new(context);
    if (session->ssl == NULL || wolfSSL_set_fd(session->ssl, fd) != WOLFSSL_SUCCESS) {
        tlsb_free(session);
        return NULL;
    }
    return session;
}

/* What a failed call means, remembering the failure's text. */
static int outcome(tlsb_session *session, int result) {
    int code = wolfSSL_get_error(session->ssl, result);
    switch (code) {
    case WOLFSSL_ERROR_WANT_READ: return TLSB_WANT_READ;
    case WOLFSSL_ERROR_WANT_WRITE: return TLSB_WANT_WRITE;
    case WOLFSSL_ERROR_ZERO_RETURN: return TLSB_CLOSED;
    case SOCKET_PEER_CLOSED_E: return TLSB_CLOSED;
    default: {
        char text[WOLFSSL_MAX_ERROR_SZ];
        wolfSSL_ERR_error_string_n((unsigned long)code, text, sizeof text);
        snprintf(session->error, sizeof session->error, "wolfSSL error %d: %s", code, text);
        return TLSB_FAILED;
    }
    }
}

int tlsb_handshake(tlsb_session *session) {
    int result = wolfSSL_connect(session->ssl);
    return result == WOLFSSL_SUCCESS ? TLSB_DONE : outcome(session, result);
}

int tlsb_read(tlsb_session *session, void *buffer, int size) {
    int result = wolfSSL_read(session->ssl, buffer, size);
    return result > 0 ? result : outcome(session, result);
}

int tlsb_write(tlsb_session *session, const void *buffer, int size) {
    int result = wolfSSL_write(session->ssl, buffer, size);
    return result > 0 ? result : outcome(session, result);
}

int tlsb_pending(tlsb_session *session) { return wolfSSL_pending(session->ssl); }

int tlsb_close_notify(tlsb_session *session) {
    int result = wolfSSL_shutdown(session->ssl);
    if (result == WOLFSSL_SUCCESS || result == WOLFSSL_SHUTDOWN_NOT_DONE) return TLSB_DONE;
    return outcome(session, result);
}

void tlsb_free(tlsb_session *session) {
    if (session == NULL) return;
    if (session->ssl != NULL) wolfSSL_free(session->ssl);
    free(session);
}

const char *tlsb_cipher(tlsb_session *session) {
    const char *name = wolfSSL_get_cipher_name(session->ssl);
    return name != NULL ? name : "?";
}

const char *tlsb_group(tlsb_session *session) {
    const char *name = wolfSSL_get_curve_name(session->ssl);
    return name != NULL ? name : "?";
}

const char *tlsb_error(tlsb_session *session) { return session->error; }
