/* tlsfloor: the cost of a server-side TLS 1.2 handshake with OpenSSL alone, in memory.
 *
 * A client and a server SSL joined by a BIO pair in one thread, no sockets: what is left
 * is the library's own work (ECDHE, the RSA signature, the certificate chain, the
 * Finished messages), the floor under any server's figure A. Only the server's calls
 * (SSL_new, every SSL_do_handshake step, SSL_free) are timed, in thread CPU time, so the
 * client's half and a busy machine do not count. Prints one JSON line.
 *
 * usage: tlsfloor --cert CHAIN.pem --key KEY.pem [--seconds S] [--ciphers LIST]
 *                 [--groups LIST] [--client-cert CHAIN.pem --client-key KEY.pem --ca ROOTS.pem]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 20
#define MAX_BATCHES 4096

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    char text[160];
    ERR_error_string_n(ERR_get_error(), text, sizeof text);
    fprintf(stderr, "tlsfloor: %s: %s\n", what, text);
    exit(65);
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static SSL_CTX *context(int server, const char *ciphers, const char *groups) {
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) die("cipher list");
    if (SSL_CTX_set1_groups_list(ctx, groups) != 1) die("groups");
    return ctx;
}

int main(int argc, char **argv) {
    static const struct option known[] = {
        {"cert", 1, 0, 'c'}, {"key", 1, 0, 'k'}, {"seconds", 1, 0, 's'},
        {"ciphers", 1, 0, 'z'}, {"groups", 1, 0, 'g'}, {"client-cert", 1, 0, 'C'},
        {"client-key", 1, 0, 'K'}, {"ca", 1, 0, 'a'}, {0, 0, 0, 0},
    };
    const char *cert = NULL, *key = NULL, *client_cert = NULL, *client_key = NULL, *ca = NULL;
    const char *ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256";
    const char *groups = "X25519:P-256";
    double seconds = 2.0;
    for (int opt; (opt = getopt_long(argc, argv, "", known, NULL)) != -1;) {
        switch (opt) {
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 's': seconds = strtod(optarg, NULL); break;
        case 'z': ciphers = optarg; break;
        case 'g': groups = optarg; break;
        case 'C': client_cert = optarg; break;
        case 'K': client_key = optarg; break;
        case 'a': ca = optarg; break;
        default: fprintf(stderr, "tlsfloor: unknown option\n"); return 64;
        }
    }
    if (cert == NULL || key == NULL || seconds <= 0 || seconds > 60
        || (client_cert != NULL) != (client_key != NULL) || (client_cert != NULL) != (ca != NULL)) {
        fprintf(stderr, "usage: tlsfloor --cert CHAIN.pem --key KEY.pem [--seconds S (0, 60]] "
                        "[--client-cert PEM --client-key PEM --ca PEM]\n");
        return 64;
    }
    SSL_CTX *server = context(1, ciphers, groups), *client = context(0, ciphers, groups);
    if (SSL_CTX_use_certificate_chain_file(server, cert) != 1) die(cert);
    if (SSL_CTX_use_PrivateKey_file(server, key, SSL_FILETYPE_PEM) != 1) die(key);
    SSL_CTX_set_verify(client, SSL_VERIFY_NONE, NULL);
    if (client_cert != NULL) {
        if (SSL_CTX_use_certificate_chain_file(client, client_cert) != 1) die(client_cert);
        if (SSL_CTX_use_PrivateKey_file(client, client_key, SSL_FILETYPE_PEM) != 1) die(client_key);
        if (SSL_CTX_load_verify_locations(server, ca, NULL) != 1) die(ca);
        SSL_CTX_set_verify(server, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    static double per_handshake[MAX_BATCHES];
    int batches = 0;
    char cipher[64] = "", group[32] = "";
    double until = wall() + seconds;
    while (batches < MAX_BATCHES && (batches < 5 || wall() < until)) {
        double spent = 0;
        for (int i = 0; i < BATCH; i++) {
            double mark = thread_cpu();
            SSL *s = SSL_new(server);
            spent += thread_cpu() - mark;
            SSL *c = SSL_new(client);
            BIO *client_end, *server_end;
            if (s == NULL || c == NULL || !BIO_new_bio_pair(&client_end, 0, &server_end, 0))
                die("SSL_new");
            SSL_set_bio(c, client_end, client_end);
            SSL_set_bio(s, server_end, server_end);
            SSL_set_connect_state(c);
            SSL_set_accept_state(s);
            int client_done = 0, server_done = 0;
            for (int round = 0; round < 20 && !(client_done && server_done); round++) {
                if (!client_done) {
                    int r = SSL_do_handshake(c);
                    if (r == 1) client_done = 1;
                    else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ) die("client handshake");
                }
                if (!server_done) {
                    mark = thread_cpu();
                    int r = SSL_do_handshake(s);
                    spent += thread_cpu() - mark;
                    if (r == 1) server_done = 1;
                    else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ) die("server handshake");
                }
            }
            if (!(client_done && server_done)) die("the handshake did not finish");
            if (cipher[0] == '\0') {
                snprintf(cipher, sizeof cipher, "%s", SSL_get_cipher_name(s));
                const char *name = SSL_group_to_name(s, SSL_get_negotiated_group(s));
                snprintf(group, sizeof group, "%s", name != NULL ? name : "?");
            }
            SSL_free(c);
            mark = thread_cpu();
            SSL_free(s);
            spent += thread_cpu() - mark;
        }
        per_handshake[batches++] = spent / BATCH;
    }
    qsort(per_handshake, (size_t)batches, sizeof per_handshake[0], compare);
    printf("{\"library_version\": \"%s\", \"cipher\": \"%s\", \"group\": \"%s\", "
           "\"mutual_tls\": %s, \"handshakes\": %d, \"server_us_median\": %.1f, "
           "\"server_us_min\": %.1f}\n",
           OpenSSL_version(OPENSSL_VERSION), cipher, group, client_cert ? "true" : "false",
           batches * BATCH, per_handshake[batches / 2] * 1e6, per_handshake[0] * 1e6);
    return 0;
}
