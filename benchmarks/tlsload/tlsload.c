/* tlsload: the SIP-over-TLS load generator of fakepeer's benchmark (benchmarks/serve_throughput.py).
 *
 * One thread, one epoll loop, non-blocking sockets, so that one core of generator can
 * drive a server core past its limit. It dials 127.0.0.0/8 only and every run is bounded
 * by its own deadline. Modes:
 *   connect     new TCP + TLS connection, one OPTIONS, its answer, close   (figure A)
 *   handshake   new TCP + TLS connection, close                           (TLS alone)
 *   persistent  --connections long-lived connections exchanging OPTIONS,
 *               --pipeline of them in flight on each                      (figure B)
 *   idle        open connections (one OPTIONS each) in --idle-steps and hold them  (C)
 * Closing sends close_notify and waits up to a second for the server's close, so the
 * server sees an orderly end and the generator keeps no TIME_WAIT of its own.
 *
 * It prints JSON lines: {"sample": ...} at the window's start, at each --mark and at its
 * end (idle: at rest and after each step), then {"result": ...}. A sample carries the
 * generator's own CPU (getrusage) and the watched server processes' CPU (utime + stime
 * from /proc/PID/stat) and PSS (/proc/PID/smaps_rollup), read at the same instant, so
 * both sides' cost per operation cover exactly the same window.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tls_backend.h"

#define IN_CAP 4096        /* one answer plus one read's worth */
#define OUT_CAP 2048       /* a write of up to four requests */
#define REQUEST_MAX 512
#define MAX_PIDS 64
#define MAX_MARKS 16
#define MAX_STEPS 16
#define HANDSHAKES_IN_FLIGHT 64
#define CLOSE_WAIT_S 1.0
#define CLOSING_ROOM 4096  /* connect/handshake: closings waiting for the server's FIN */

enum mode { MODE_CONNECT, MODE_HANDSHAKE, MODE_PERSISTENT, MODE_IDLE };
static const char *const MODE_NAMES[] = {"connect", "handshake", "persistent", "idle"};

enum phase {
    PHASE_FREE, PHASE_CONNECTING, PHASE_HANDSHAKING, PHASE_EXCHANGING, PHASE_IDLE,
    PHASE_CLOSING, PHASE_COUNT
};

struct conn {
    int fd;
    tlsb_session *tls;
    enum phase phase;
    uint32_t watched;       /* epoll events registered */
    unsigned number;        /* for tags and Call-IDs */
    unsigned long long cseq;
    int outstanding;        /* requests sent and not answered */
    int queued;             /* requests to send once the pending write is through */
    int out_len;            /* bytes of a write OpenSSL/wolfSSL must be given again */
    int out_requests;
    double close_by;
    size_t in_len;
    char in[IN_CAP];
    char out[OUT_CAP];
};

static struct {
    enum mode mode;
    struct in_addr host;
    int port;
    int connections;
    int pipeline;
    double warmup, seconds, settle, deadline;
    double marks[MAX_MARKS];
    int mark_count;
    int steps[MAX_STEPS];
    int step_count;
    pid_t pids[MAX_PIDS];
    int pid_count;
    int core;
    const char *fqdn;
    struct tlsb_config tls;
} option = {
    .mode = MODE_PERSISTENT, .port = 5061, .connections = 8, .pipeline = 1,
    .warmup = 1.0, .seconds = 5.0, .settle = 1.0, .core = -1, .fqdn = "sbc.lab.example",
    .tls = {.ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
                       "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256",
            .groups = "X25519:P-256"},
};

static struct {
    struct conn *conns;
    int slots;
    int *free_slots;
    int free_count;
    int in_phase[PHASE_COUNT];
    int epoll_fd;
    unsigned next_number;
    unsigned long long serial;
    unsigned long long ok, bad, errors, established, server_closed;
    char first_error[200];
    char cipher[64], group[32];
    double started, window_start;   /* window_start 0: not yet known */
    int next_mark;                  /* persistent/connect/handshake: marks taken */
    int step;                       /* idle: the step being opened */
    double step_reached;
    int stopping;
} run;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double own_cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
           + (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static size_t read_file(const char *path, char *buffer, size_t size) {
    FILE *file = fopen(path, "r");
    if (file == NULL) return 0;
    size_t length = fread(buffer, 1, size - 1, file);
    fclose(file);
    buffer[length] = '\0';
    return length;
}

/* utime + stime of one process in seconds; *alive = 0 when it is gone or a zombie. */
static double process_cpu_seconds(pid_t pid, int *alive) {
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *after = read_file(path, text, sizeof text) ? strrchr(text, ')') : NULL;
    if (after == NULL || after[2] == 'Z' || after[2] == 'X') {
        *alive = 0;
        return 0;
    }
    /* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime (fields 3..15 of proc(5)). */
    char *field = after + 2;
    for (int skip = 0; skip < 11 && field != NULL; skip++) {
        field = strchr(field, ' ');
        if (field != NULL) field++;
    }
    if (field == NULL) return 0;
    char *end;
    unsigned long long user = strtoull(field, &end, 10);
    unsigned long long system = strtoull(end, NULL, 10);
    return (double)(user + system) / (double)sysconf(_SC_CLK_TCK);
}

static long process_pss_kib(pid_t pid) {
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    if (!read_file(path, text, sizeof text)) return 0;
    char *line = strstr(text, "\nPss:");
    return line != NULL ? strtol(line + 5, NULL, 10) : 0;
}

/* Busy and total seconds of one core so far (/proc/stat), to see who else used it. */
static void core_seconds(int core, double *busy, double *total) {
    char text[16384], name[16];
    *busy = *total = 0;
    if (core < 0 || !read_file("/proc/stat", text, sizeof text)) return;
    snprintf(name, sizeof name, "\ncpu%d ", core);
    char *line = strstr(text, name);
    if (line == NULL) return;
    line += strlen(name);
    unsigned long long value[8] = {0};
    for (int i = 0; i < 8; i++) value[i] = strtoull(line, &line, 10);
    /* user nice system idle iowait irq softirq steal */
    unsigned long long idle = value[3] + value[4];
    unsigned long long all = 0;
    for (int i = 0; i < 8; i++) all += value[i];
    double tick = (double)sysconf(_SC_CLK_TCK);
    *busy = (double)(all - idle) / tick;
    *total = (double)all / tick;
}

static void print_json_string(const char *text) {
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') printf("\\%c", *c);
        else if (*c < 0x20) printf("\\u%04x", *c);
        else putchar(*c);
    }
    putchar('"');
}

static void take_sample(double t) {
    double server_cpu = 0, busy, total;
    long pss = 0;
    int alive = 1;
    for (int i = 0; i < option.pid_count; i++) {
        server_cpu += process_cpu_seconds(option.pids[i], &alive);
        pss += process_pss_kib(option.pids[i]);
    }
    core_seconds(option.core, &busy, &total);
    printf("{\"sample\": {\"t\": %.6f, \"ok\": %llu, \"bad\": %llu, \"errors\": %llu, "
           "\"open\": %d, \"gen_cpu_s\": %.6f, \"server_cpu_s\": %.4f, "
           "\"server_pss_kib\": %ld, \"core_busy_s\": %.4f, \"core_total_s\": %.4f, "
           "\"server_alive\": %s}}\n",
           t, run.ok, run.bad, run.errors, run.in_phase[PHASE_IDLE], own_cpu_seconds(),
           server_cpu, pss, busy, total, alive ? "true" : "false");
    fflush(stdout);
}

static void note_error(const char *what) {
    run.errors++;
    if (run.first_error[0] == '\0')
        snprintf(run.first_error, sizeof run.first_error, "%s", what);
}

static void set_phase(struct conn *c, enum phase phase) {
    run.in_phase[c->phase]--;
    run.in_phase[phase]++;
    c->phase = phase;
}

static void watch(struct conn *c, uint32_t events) {
    if (c->watched == events) return;
    struct epoll_event event = {.events = events, .data.ptr = c};
    epoll_ctl(run.epoll_fd, c->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &event);
    c->watched = events;
}

static int handshakes_in_flight(void) {
    int count = run.in_phase[PHASE_CONNECTING] + run.in_phase[PHASE_HANDSHAKING];
    /* An idle connection counts as open once its OPTIONS is answered. */
    return option.mode == MODE_IDLE ? count + run.in_phase[PHASE_EXCHANGING] : count;
}

static void finish(struct conn *c) {
    if (c->fd >= 0) close(c->fd);   /* also leaves the epoll set */
    tlsb_free(c->tls);
    c->fd = -1;
    c->tls = NULL;
    c->watched = 0;
    set_phase(c, PHASE_FREE);
    run.free_slots[run.free_count++] = (int)(c - run.conns);
}

static void fail(struct conn *c, const char *what) {
    char text[200];
    snprintf(text, sizeof text, "%s (connection %u, %s)", what, c->number,
             c->phase == PHASE_CONNECTING ? "connecting"
             : c->phase == PHASE_HANDSHAKING ? "handshake" : "established");
    note_error(text);
    finish(c);
}

static void begin_close(struct conn *c) {
    tlsb_close_notify(c->tls);
    shutdown(c->fd, SHUT_WR);
    c->close_by = now() + CLOSE_WAIT_S;
    set_phase(c, PHASE_CLOSING);
    watch(c, EPOLLIN);
}

static int build_request(struct conn *c, char *out, size_t room) {
    unsigned long long serial = ++run.serial;
    c->cseq++;
    const char *f = option.fqdn;
    return snprintf(out, room,
        "OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0\r\n"
        "Via: SIP/2.0/TLS %s:5061;branch=z9hG4bK-tl%llu\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:%s:5061;transport=tls>;tag=tl%u\r\n"
        "To: <sip:sip.pstnhub.microsoft.com>\r\n"
        "Call-ID: tl%llu@%s\r\n"
        "CSeq: %llu OPTIONS\r\n"
        "Contact: <sip:%s:5061;transport=tls>\r\n"
        "Allow: INVITE,ACK,OPTIONS,CANCEL,BYE,NOTIFY,REFER\r\n"
        "User-Agent: fakepeer-bench tlsload\r\n"
        "Content-Length: 0\r\n"
        "\r\n", f, serial, f, c->number, serial, f, c->cseq, f);
}

/* Write what is queued, a few requests per TLS record. */
static void flush(struct conn *c) {
    for (;;) {
        if (c->out_len == 0) {
            if (c->queued == 0) break;
            c->out_requests = 0;
            while (c->queued > 0 && OUT_CAP - c->out_len >= REQUEST_MAX) {
                c->out_len += build_request(c, c->out + c->out_len, REQUEST_MAX);
                c->queued--;
                c->out_requests++;
            }
        }
        int result = tlsb_write(c->tls, c->out, c->out_len);
        if (result > 0) {
            c->outstanding += c->out_requests;
            c->out_len = 0;
            continue;
        }
        if (result == TLSB_WANT_WRITE) { watch(c, EPOLLIN | EPOLLOUT); return; }
        if (result == TLSB_WANT_READ) break;
        fail(c, result == TLSB_CLOSED ? "server closed while we wrote" : tlsb_error(c->tls));
        return;
    }
    watch(c, EPOLLIN);
}

/* The status of one whole answer at the head of c->in, its length in *length; 0 when
 * more bytes are needed, -1 when it is not a SIP response. */
static int answer_at_head(struct conn *c, size_t *length) {
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (end == NULL) return 0;
    if (c->in_len < 12 || memcmp(c->in, "SIP/2.0 ", 8) != 0) return -1;
    size_t head = (size_t)(end - c->in) + 4;
    long body = 0;
    for (char *line = memchr(c->in, '\n', head); line != NULL && line < end;
         line = memchr(line + 1, '\n', (size_t)(end - line))) {
        if (strncasecmp(line + 1, "Content-Length:", 15) == 0) body = strtol(line + 16, NULL, 10);
        else if (strncasecmp(line + 1, "l:", 2) == 0) body = strtol(line + 3, NULL, 10);
    }
    if (body < 0 || head + (size_t)body > IN_CAP) return -1;
    if (c->in_len < head + (size_t)body) return 0;
    *length = head + (size_t)body;
    return (int)strtol(c->in + 8, NULL, 10);
}

static void answered(struct conn *c, int status) {
    if (status == 200) run.ok++;
    else run.bad++;
    c->outstanding--;
    if (option.mode == MODE_CONNECT) {
        begin_close(c);
    } else if (option.mode == MODE_IDLE) {
        set_phase(c, PHASE_IDLE);
    } else if (!run.stopping) {
        c->queued++;
    }
}

static void read_all(struct conn *c) {
    for (;;) {
        int result = tlsb_read(c->tls, c->in + c->in_len, (int)(IN_CAP - c->in_len));
        if (result > 0) {
            if (c->phase == PHASE_CLOSING) { c->in_len = 0; continue; }
            c->in_len += (size_t)result;
            size_t length;
            int status;
            while (c->in_len > 0 && (status = answer_at_head(c, &length)) != 0) {
                if (status < 0) { fail(c, "the server sent something that is not a SIP answer"); return; }
                memmove(c->in, c->in + length, c->in_len - length);
                c->in_len -= length;
                answered(c, status);
                if (c->phase == PHASE_CLOSING) break;
            }
            if (c->in_len == IN_CAP) { fail(c, "an answer longer than 4 KiB"); return; }
            /* All answered and nothing buffered in the TLS layer: epoll will say when
             * more comes, which saves a read that would only return EAGAIN. */
            if (c->in_len == 0 && tlsb_pending(c->tls) == 0 && c->phase != PHASE_CLOSING) break;
            continue;
        }
        if (result == TLSB_WANT_READ) break;
        if (result == TLSB_WANT_WRITE) { watch(c, EPOLLIN | EPOLLOUT); return; }
        if (c->phase == PHASE_CLOSING) { finish(c); return; }
        if (result == TLSB_CLOSED) {
            run.server_closed++;
            fail(c, "the server closed the connection");
        } else {
            fail(c, tlsb_error(c->tls));
        }
        return;
    }
    if (c->phase == PHASE_EXCHANGING && c->queued > 0) flush(c);
    else if (c->out_len == 0) watch(c, EPOLLIN);
}

static void established(struct conn *c) {
    run.established++;
    if (run.cipher[0] == '\0') {
        snprintf(run.cipher, sizeof run.cipher, "%s", tlsb_cipher(c->tls));
        snprintf(run.group, sizeof run.group, "%s", tlsb_group(c->tls));
    }
    if (option.mode == MODE_HANDSHAKE) {
        run.ok++;
        begin_close(c);
        return;
    }
    set_phase(c, PHASE_EXCHANGING);
    c->queued = option.mode == MODE_PERSISTENT ? option.pipeline : 1;
    flush(c);
}

static void step_handshake(struct conn *c) {
    int result = tlsb_handshake(c->tls);
    if (result == TLSB_DONE) established(c);
    else if (result == TLSB_WANT_READ) watch(c, EPOLLIN);
    else if (result == TLSB_WANT_WRITE) watch(c, EPOLLOUT);
    else fail(c, result == TLSB_CLOSED ? "the server closed during the handshake"
                                       : tlsb_error(c->tls));
}

static void on_event(struct conn *c, uint32_t events) {
    switch (c->phase) {
    case PHASE_CONNECTING: {
        int error = 0;
        socklen_t size = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &size);
        if (error != 0) { fail(c, strerror(error)); return; }
        c->tls = tlsb_new(c->fd);
        if (c->tls == NULL) { fail(c, "cannot make a TLS session"); return; }
        set_phase(c, PHASE_HANDSHAKING);
        step_handshake(c);
        return;
    }
    case PHASE_HANDSHAKING:
        step_handshake(c);
        return;
    case PHASE_EXCHANGING:
    case PHASE_IDLE:
        if ((events & EPOLLOUT) && c->out_len > 0) {
            flush(c);
            if (c->phase == PHASE_FREE) return;
        }
        read_all(c);
        return;
    case PHASE_CLOSING:
        read_all(c);
        return;
    default:
        return;
    }
}

static void open_connection(void) {
    struct conn *c = &run.conns[run.free_slots[--run.free_count]];
    memset(c, 0, offsetof(struct conn, in));
    c->number = ++run.next_number;
    c->phase = PHASE_FREE;
    set_phase(c, PHASE_CONNECTING);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { fail(c, strerror(errno)); return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)option.port),
                                  .sin_addr = option.host};
    if (connect(c->fd, (struct sockaddr *)&address, sizeof address) < 0 && errno != EINPROGRESS) {
        fail(c, strerror(errno));
        return;
    }
    watch(c, EPOLLOUT);
}

/* Start connections while the mode wants more and a slot is free. */
static void top_up(void) {
    while (!run.stopping && run.free_count > 0) {
        int active = run.slots - run.in_phase[PHASE_FREE];
        int wanted;
        if (option.mode == MODE_IDLE) {
            if (run.step >= option.step_count) return;
            wanted = run.in_phase[PHASE_IDLE] + handshakes_in_flight() < option.steps[run.step]
                     && handshakes_in_flight() < option.connections;
        } else if (option.mode == MODE_PERSISTENT) {
            wanted = active < option.connections && handshakes_in_flight() < HANDSHAKES_IN_FLIGHT;
        } else {
            wanted = active - run.in_phase[PHASE_CLOSING] < option.connections;
        }
        if (!wanted) return;
        open_connection();
    }
}

static void close_everything(void) {
    for (int i = 0; i < run.slots; i++) {
        struct conn *c = &run.conns[i];
        if (c->phase == PHASE_FREE) continue;
        if (c->tls != NULL && c->phase != PHASE_CLOSING) tlsb_close_notify(c->tls);
        finish(c);
    }
}

static void expire_closing(double t) {
    for (int i = 0; i < run.slots; i++)
        if (run.conns[i].phase == PHASE_CLOSING && t >= run.conns[i].close_by)
            finish(&run.conns[i]);
}

/* Marks, steps and the end of the run; returns 1 when the run is over. */
static int advance(double t) {
    if (option.mode == MODE_IDLE) {
        if (run.in_phase[PHASE_IDLE] >= option.steps[run.step] && handshakes_in_flight() == 0) {
            if (run.step_reached == 0) run.step_reached = t;
            if (t >= run.step_reached + option.settle) {
                take_sample(t - run.started);
                run.step++;
                run.step_reached = 0;
                if (run.step == option.step_count) return 1;
            }
        }
        return 0;
    }
    if (run.window_start == 0) {
        if (option.mode != MODE_PERSISTENT) run.window_start = run.started + option.warmup;
        else if (run.in_phase[PHASE_EXCHANGING] == option.connections)
            run.window_start = t + option.warmup;
        else return 0;
    }
    while (run.next_mark < option.mark_count
           && t >= run.window_start + option.marks[run.next_mark]) {
        take_sample(t - run.window_start);
        run.next_mark++;
    }
    return run.next_mark == option.mark_count;
}

static void print_result(int timed_out) {
    printf("{\"result\": {\"mode\": \"%s\", \"library\": \"%s\", \"library_version\": ",
           MODE_NAMES[option.mode], tlsb_library());
    print_json_string(tlsb_library_version());
    printf(", \"cipher\": ");
    print_json_string(run.cipher);
    printf(", \"group\": ");
    print_json_string(run.group);
    printf(", \"connections\": %d, \"pipeline\": %d, \"established\": %llu, \"ok\": %llu, "
           "\"bad\": %llu, \"errors\": %llu, \"server_closed\": %llu, \"timed_out\": %s, "
           "\"first_error\": ",
           option.connections, option.pipeline, run.established, run.ok, run.bad, run.errors,
           run.server_closed, timed_out ? "true" : "false");
    print_json_string(run.first_error);
    printf("}}\n");
    fflush(stdout);
}

static int parse_list(const char *text, double *doubles, int *ints, int capacity) {
    int count = 0;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", text);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        if (count == capacity) return -1;
        if (doubles != NULL) doubles[count] = strtod(item, NULL);
        else ints[count] = atoi(item);
        count++;
    }
    return count;
}

static void usage(const char *problem) {
    fprintf(stderr,
        "tlsload: %s\n"
        "usage: tlsload --mode connect|handshake|persistent|idle --port N [--host 127.0.0.1]\n"
        "  [--connections N] [--pipeline P] [--warmup S] [--seconds S] [--marks S,S,...]\n"
        "  [--idle-steps N,N,...] [--settle S] [--pid PID]... [--core N] [--cert PEM --key PEM]\n"
        "  [--ciphers LIST] [--groups LIST] [--fqdn NAME] [--deadline S]\n", problem);
    exit(64);
}

static void parse_options(int argc, char **argv) {
    static const struct option known[] = {
        {"mode", 1, 0, 'm'}, {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'},
        {"connections", 1, 0, 'c'}, {"pipeline", 1, 0, 'P'}, {"warmup", 1, 0, 'w'},
        {"seconds", 1, 0, 's'}, {"marks", 1, 0, 'M'}, {"idle-steps", 1, 0, 'i'},
        {"settle", 1, 0, 'S'}, {"pid", 1, 0, 'x'}, {"core", 1, 0, 'C'}, {"cert", 1, 0, 'e'},
        {"key", 1, 0, 'k'}, {"ciphers", 1, 0, 'z'}, {"groups", 1, 0, 'g'},
        {"fqdn", 1, 0, 'f'}, {"deadline", 1, 0, 'D'}, {0, 0, 0, 0},
    };
    const char *host = "127.0.0.1";
    int mode_given = 0;
    for (int opt; (opt = getopt_long(argc, argv, "", known, NULL)) != -1;) {
        switch (opt) {
        case 'm':
            mode_given = 0;
            for (int m = 0; m < 4; m++)
                if (strcmp(optarg, MODE_NAMES[m]) == 0) { option.mode = (enum mode)m; mode_given = 1; }
            if (!mode_given) usage("unknown --mode");
            break;
        case 'h': host = optarg; break;
        case 'p': option.port = atoi(optarg); break;
        case 'c': option.connections = atoi(optarg); break;
        case 'P': option.pipeline = atoi(optarg); break;
        case 'w': option.warmup = strtod(optarg, NULL); break;
        case 's': option.seconds = strtod(optarg, NULL); break;
        case 'M': option.mark_count = parse_list(optarg, option.marks, NULL, MAX_MARKS - 2); break;
        case 'i': option.step_count = parse_list(optarg, NULL, option.steps, MAX_STEPS); break;
        case 'S': option.settle = strtod(optarg, NULL); break;
        case 'x':
            if (option.pid_count == MAX_PIDS) usage("too many --pid");
            option.pids[option.pid_count++] = (pid_t)atoi(optarg);
            break;
        case 'C': option.core = atoi(optarg); break;
        case 'e': option.tls.cert_chain = optarg; break;
        case 'k': option.tls.key = optarg; break;
        case 'z': option.tls.ciphers = optarg; break;
        case 'g': option.tls.groups = optarg; break;
        case 'f': option.fqdn = optarg; break;
        case 'D': option.deadline = strtod(optarg, NULL); break;
        default: usage("unknown option");
        }
    }
    if (inet_pton(AF_INET, host, &option.host) != 1) usage("--host must be an IPv4 address");
    if ((ntohl(option.host.s_addr) >> 24) != 127) usage("--host must be on loopback (127.0.0.0/8)");
    if (option.port < 1 || option.port > 65535) usage("--port must be 1..65535");
    if (option.connections < 1 || option.connections > 100000) usage("--connections must be 1..100000");
    if (option.pipeline < 1 || option.pipeline > 64) usage("--pipeline must be 1..64");
    if (option.seconds <= 0 || option.seconds > 600 || option.warmup < 0 || option.warmup > 600)
        usage("--seconds must be in (0, 600] and --warmup in [0, 600]");
    if (option.mark_count < 0 || option.step_count < 0) usage("too many --marks or --idle-steps");
    if ((option.tls.cert_chain == NULL) != (option.tls.key == NULL))
        usage("--cert and --key go together");
    if (option.mode == MODE_IDLE) {
        if (option.step_count == 0) usage("--mode idle needs --idle-steps");
        for (int i = 0; i < option.step_count; i++)
            if (option.steps[i] < 1 || option.steps[i] > 100000
                || (i > 0 && option.steps[i] <= option.steps[i - 1]))
                usage("--idle-steps must rise, each 1..100000");
    } else {
        /* Marks inside the window, plus its start and its end. */
        double marks[MAX_MARKS];
        int count = 0;
        marks[count++] = 0;
        for (int i = 0; i < option.mark_count; i++)
            if (option.marks[i] > 0 && option.marks[i] < option.seconds) marks[count++] = option.marks[i];
        marks[count++] = option.seconds;
        for (int i = 1; i < count; i++)
            if (marks[i] <= marks[i - 1]) usage("--marks must rise inside (0, --seconds)");
        memcpy(option.marks, marks, sizeof marks);
        option.mark_count = count;
    }
    if (option.deadline <= 0) {
        option.deadline = 60 + option.warmup + option.seconds;
        if (option.mode == MODE_IDLE)
            option.deadline = 120 + option.step_count * option.settle
                              + option.steps[option.step_count - 1] / 200.0;
    }
}

int main(int argc, char **argv) {
    parse_options(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    char error[200];
    if (tlsb_setup(&option.tls, error, sizeof error) != 0) {
        fprintf(stderr, "tlsload: %s\n", error);
        return 65;
    }
    run.slots = option.mode == MODE_IDLE ? option.steps[option.step_count - 1] + option.connections
                : option.mode == MODE_PERSISTENT ? option.connections
                : option.connections + CLOSING_ROOM;
    run.conns = calloc((size_t)run.slots, sizeof *run.conns);
    run.free_slots = calloc((size_t)run.slots, sizeof *run.free_slots);
    if (run.conns == NULL || run.free_slots == NULL) {
        fprintf(stderr, "tlsload: out of memory for %d connections\n", run.slots);
        return 70;
    }
    for (int i = run.slots - 1; i >= 0; i--) {
        run.conns[i].fd = -1;
        run.free_slots[run.free_count++] = i;
    }
    run.in_phase[PHASE_FREE] = run.slots;
    run.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    run.started = now();
    if (option.mode == MODE_IDLE) take_sample(0);

    struct epoll_event events[256];
    double next_expiry = run.started;
    int timed_out = 0;
    for (;;) {
        double t = now();
        if (advance(t)) break;
        if (t - run.started > option.deadline) { timed_out = 1; break; }
        if (t >= next_expiry) { expire_closing(t); next_expiry = t + 0.1; }
        top_up();
        int ready = epoll_wait(run.epoll_fd, events, 256, 5);
        for (int i = 0; i < ready; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->phase != PHASE_FREE) on_event(c, events[i].events);
        }
        top_up();
    }
    run.stopping = 1;
    close_everything();
    print_result(timed_out);
    return timed_out ? 2 : 0;
}
