/* dawn_bench: latency and throughput of a running dawnd.
 *
 * Speaks the control protocol (include/dawn/protocol.h: one JSON request per
 * line, one answer per line, in order) on the control socket directly, as
 * dawnctl does, and listens on the broker as a subscriber's dashboard
 * (mosquitto_sub) would.
 *
 *   dawn_bench ping --socket PATH [--timeout SEC]
 *       waits until dawnd answers {"cmd":"status"} (for scripts: no sleeps)
 *   dawn_bench fsync DIR
 *       what a 4 KiB write + fsync costs in DIR (the store's file system)
 *   dawn_bench run --socket PATH --mqtt-port PORT [options]
 *       (a) latency: ALERTS sequential alerts, each distinct; for each, t0 just
 *           before the request is written, the "ok" answer, and t1 when the
 *           subscriber (recovery-service: pan-hampshire, every warning+ alert)
 *           receives that alert's message;
 *       (b) throughput: CLIENTS threads, each its own connection, each sending
 *           PER_CLIENT distinct alerts, pipelined (up to WINDOW outstanding)
 *           and then one at a time; accepted alerts per second;
 *       and prints a table (bench/run.sh also writes it to bench/results/).
 *
 * Every alert is a batch alert in Southampton with the adulterant nitazene
 * (high-risk: at least "warning", so it is routed) and its own sold_as
 * ("bench-drug-<phase>-<client>-<n>"), so deduplication merges none of them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <mosquitto.h>

#include "dawn/protocol.h"

#define MAX_ALERT_ID (1 << 20)
#define SUB_TOPIC "dawn/v1/subscribers/recovery-service/alerts/+"

static const char *opt_socket;
static const char *opt_mqtt_host = "127.0.0.1";
static int opt_mqtt_port = 1883;
static int opt_alerts = 1000;
static int opt_warmup = 20;
static int opt_clients = 4;
static int opt_per_client = 5000;
static int opt_window = 64;
static double opt_timeout = 10;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "dawn_bench: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        exit(1);
}

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the control socket ---- */

struct conn {
        int fd;
        char *buf;
        size_t len, cap;
};

static int conn_open(struct conn *c)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(opt_socket) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, opt_socket);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(c->fd);
                c->fd = -1;
                return r;
        }
        c->len = 0;
        c->cap = 1 << 16;
        c->buf = malloc(c->cap);
        return c->buf ? 0 : -ENOMEM;
}

static void conn_close(struct conn *c)
{
        if (c->fd >= 0)
                close(c->fd);
        free(c->buf);
        c->fd = -1;
        c->buf = NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Reads until at least one whole line is buffered (waiting at most
 * timeout_ms, -1: forever). Returns 0, -ETIMEDOUT, -EPIPE or -errno. */
static int conn_fill(struct conn *c, int timeout_ms)
{
        while (!memchr(c->buf, '\n', c->len)) {
                if (c->len + 4096 > c->cap) {
                        char *b = realloc(c->buf, c->cap * 2);
                        if (!b)
                                return -ENOMEM;
                        c->buf = b;
                        c->cap *= 2;
                }
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                int r = poll(&p, 1, timeout_ms);
                if (r == 0)
                        return -ETIMEDOUT;
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                ssize_t k = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
                if (k == 0)
                        return -EPIPE;
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                c->len += (size_t)k;
        }
        return 0;
}

/* Takes the first buffered line (NUL-terminated, valid until the next
 * conn_* call), or NULL if no whole line is buffered. */
static char *conn_take_line(struct conn *c, size_t *consumed)
{
        char *nl = memchr(c->buf, '\n', c->len);
        if (!nl)
                return NULL;
        *nl = '\0';
        *consumed = (size_t)(nl - c->buf) + 1;
        return c->buf;
}

static void conn_consume(struct conn *c, size_t n)
{
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
}

/* One request, one answer (parsed). */
static cJSON *conn_call(struct conn *c, const char *req)
{
        size_t n = strlen(req);
        char *line = malloc(n + 2);
        if (!line)
                return NULL;
        memcpy(line, req, n);
        line[n] = '\n';
        int r = write_all(c->fd, line, n + 1);
        free(line);
        if (r < 0 || conn_fill(c, (int)(opt_timeout * 1000)) < 0)
                return NULL;
        size_t used = 0;
        char *ans = conn_take_line(c, &used);
        cJSON *o = cJSON_Parse(ans);
        conn_consume(c, used);
        return o;
}

static bool answer_ok(const char *line)
{
        /* dawnd prints "ok" first: {"ok":true,...}; no need to parse 2 KB of JSON per answer */
        return strncmp(line, "{\"ok\":true", 10) == 0;
}

static int format_issue(char *buf, size_t n, const char *tag, int client, int seq)
{
        return snprintf(buf, n,
                        "{\"cmd\":\"issue\",\"alert\":{\"type\":\"batch\",\"area\":\"southampton\","
                        "\"summary\":\"Benchmark alert %s-%d-%d: heroin with a nitazene.\","
                        "\"sold_as\":[\"bench-drug-%s-%d-%d\"],\"adulterants\":[\"nitazene\"],"
                        "\"evidence\":\"reported\"}}\n",
                        tag, client, seq, tag, client, seq);
}

/* ---- the subscriber ---- */

static pthread_mutex_t sub_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sub_cond = PTHREAD_COND_INITIALIZER;
static bool sub_connected, sub_subscribed;
static int64_t *arrival;     /* by alert number: when its message came (ns), 0: not yet */
static uint64_t sub_messages;

static void on_sub_connect(struct mosquitto *m, void *ud, int rc)
{
        if (rc != 0)
                return;
        pthread_mutex_lock(&sub_lock);
        sub_connected = true;
        pthread_mutex_unlock(&sub_lock);
        mosquitto_subscribe(m, NULL, SUB_TOPIC, 1);
}

static void on_sub_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
        pthread_mutex_lock(&sub_lock);
        sub_subscribed = true;
        pthread_cond_broadcast(&sub_cond);
        pthread_mutex_unlock(&sub_lock);
}

static void on_sub_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
        int64_t t = now_ns();
        if (msg->payloadlen == 0)
                return; /* a retained message being cleared (withdrawal) */
        const char *slash = strrchr(msg->topic, '/');
        if (!slash || slash[1] != 'A')
                return;
        long id = strtol(slash + 2, NULL, 10);
        pthread_mutex_lock(&sub_lock);
        sub_messages++;
        if (id > 0 && id < MAX_ALERT_ID && !arrival[id])
                arrival[id] = t;
        pthread_cond_broadcast(&sub_cond);
        pthread_mutex_unlock(&sub_lock);
}

static struct mosquitto *subscriber_start(void)
{
        arrival = calloc(MAX_ALERT_ID, sizeof(*arrival));
        if (!arrival)
                die("out of memory");
        mosquitto_lib_init();
        char id[64];
        snprintf(id, sizeof(id), "dawn-bench-sub-%d", (int)getpid());
        struct mosquitto *m = mosquitto_new(id, true, NULL);
        if (!m)
                die("mosquitto_new failed");
        mosquitto_connect_callback_set(m, on_sub_connect);
        mosquitto_subscribe_callback_set(m, on_sub_subscribe);
        mosquitto_message_callback_set(m, on_sub_message);
        int64_t deadline = now_ns() + (int64_t)(opt_timeout * 1e9);
        int rc;
        while ((rc = mosquitto_connect(m, opt_mqtt_host, opt_mqtt_port, 30)) != MOSQ_ERR_SUCCESS) {
                if (now_ns() > deadline)
                        die("cannot connect to the broker at %s:%d: %s", opt_mqtt_host, opt_mqtt_port,
                            mosquitto_strerror(rc));
                usleep(20000);
        }
        if ((rc = mosquitto_loop_start(m)) != MOSQ_ERR_SUCCESS)
                die("mosquitto_loop_start: %s", mosquitto_strerror(rc));
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)opt_timeout;
        pthread_mutex_lock(&sub_lock);
        while (!sub_subscribed)
                if (pthread_cond_timedwait(&sub_cond, &sub_lock, &ts) == ETIMEDOUT)
                        die("the subscription to %s was not acknowledged", SUB_TOPIC);
        pthread_mutex_unlock(&sub_lock);
        return m;
}

static void subscriber_stop(struct mosquitto *m)
{
        mosquitto_disconnect(m);
        mosquitto_loop_stop(m, false);
        mosquitto_destroy(m);
        mosquitto_lib_cleanup();
}

/* Waits for alert id's message; its arrival time, or 0 on timeout. */
static int64_t wait_arrival(long id)
{
        if (id <= 0 || id >= MAX_ALERT_ID)
                return 0;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)opt_timeout;
        pthread_mutex_lock(&sub_lock);
        while (!arrival[id])
                if (pthread_cond_timedwait(&sub_cond, &sub_lock, &ts) == ETIMEDOUT)
                        break;
        int64_t t = arrival[id];
        pthread_mutex_unlock(&sub_lock);
        return t;
}

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values, in ms. */
static double pct_ms(const int64_t *v, size_t n, double p)
{
        if (n == 0)
                return NAN;
        size_t k = (size_t)ceil(p / 100.0 * (double)n);
        if (k < 1)
                k = 1;
        return (double)v[k - 1] / 1e6;
}

/* ---- results ---- */

static char report[16384];
static size_t report_len;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(report + report_len, sizeof(report) - report_len, fmt, ap);
        va_end(ap);
        if (n > 0)
                report_len += (size_t)n < sizeof(report) - report_len ? (size_t)n : sizeof(report) - report_len - 1;
}

/* ---- status: drained outbox ---- */

struct queue {
        double waiting;    /* pending + in-flight + retrying */
        double delivered;
        double failed;
};

static int queue_counts(struct conn *c, struct queue *q)
{
        cJSON *ans = conn_call(c, "{\"cmd\":\"status\"}");
        if (!ans) {
                /* dawnd closes a control connection left idle (README "No client can silence
                 * DAWN"), and this one waits through a whole throughput run: connect again */
                conn_close(c);
                if (conn_open(c) < 0)
                        return -EIO;
                ans = conn_call(c, "{\"cmd\":\"status\"}");
        }
        if (!ans)
                return -EIO;
        *q = (struct queue){ 0 };
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(ans, "status");
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(st, "deliveries"), *ch, *n;
        cJSON_ArrayForEach(ch, dl) {
                cJSON_ArrayForEach(n, ch) {
                        if (!cJSON_IsNumber(n))
                                continue;
                        if (!strcmp(n->string, "pending") || !strcmp(n->string, "in-flight") ||
                            !strcmp(n->string, "retrying"))
                                q->waiting += n->valuedouble;
                        else if (!strcmp(n->string, "delivered"))
                                q->delivered += n->valuedouble;
                        else if (!strcmp(n->string, "failed"))
                                q->failed += n->valuedouble;
                }
        }
        bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"));
        cJSON_Delete(ans);
        return ok ? 0 : -EIO;
}

/* Waits until the subscriber has had `want` messages in all (one per alert:
 * recovery-service hears of every alert the bench issues) and then until
 * dawnd's outbox is empty. Returns the seconds it took, or -1.
 *
 * The subscriber is watched rather than dawnd asked: "status" costs dawnd
 * time that grows with the number of active alerts (it lists them all to
 * count them: about 0.2 s at 40,000), so polling it would slow down the
 * very draining being timed. It is asked only once the last message came
 * (the outbox sends oldest first, so at most a few rows remain), and then
 * every 0.5 s. */
static double wait_drained(struct conn *c, uint64_t want, double limit_s, struct queue *q)
{
        int64_t t0 = now_ns();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)limit_s;
        pthread_mutex_lock(&sub_lock);
        while (sub_messages < want)
                if (pthread_cond_timedwait(&sub_cond, &sub_lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&sub_lock);
        for (;;) {
                if (queue_counts(c, q) < 0)
                        return -1;
                if (q->waiting == 0)
                        return (double)(now_ns() - t0) / 1e9;
                if ((double)(now_ns() - t0) / 1e9 > limit_s)
                        return -1;
                usleep(500000);
        }
}

static uint64_t messages_so_far(void)
{
        pthread_mutex_lock(&sub_lock);
        uint64_t n = sub_messages;
        pthread_mutex_unlock(&sub_lock);
        return n;
}

/* ---- (a) latency ---- */

static void bench_latency(void)
{
        struct conn c = { .fd = -1 };
        int r = conn_open(&c);
        if (r < 0)
                die("cannot connect to %s: %s", opt_socket, strerror(-r));

        int total = opt_warmup + opt_alerts;
        int64_t *accept = calloc((size_t)opt_alerts, sizeof(int64_t));
        int64_t *deliver = calloc((size_t)opt_alerts, sizeof(int64_t));
        if (!accept || !deliver)
                die("out of memory");
        size_t n_accept = 0, n_deliver = 0;
        int refused = 0, lost = 0;
        char first_error[256] = "";
        char req[1024];
        int64_t wall0 = now_ns();
        for (int i = 0; i < total; i++) {
                int len = format_issue(req, sizeof(req), "lat", 0, i);
                int64_t t0 = now_ns();
                if ((r = write_all(c.fd, req, (size_t)len)) < 0)
                        die("write: %s", strerror(-r));
                if ((r = conn_fill(&c, (int)(opt_timeout * 1000))) < 0)
                        die("no answer to alert %d: %s", i, strerror(-r));
                int64_t t_ok = now_ns();
                size_t used = 0;
                char *line = conn_take_line(&c, &used);
                long id = 0;
                bool ok = answer_ok(line);
                if (ok) {
                        cJSON *a = cJSON_Parse(line);
                        const cJSON *idj =
                                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "alert"), "id");
                        if (cJSON_IsString(idj) && idj->valuestring[0] == 'A')
                                id = strtol(idj->valuestring + 1, NULL, 10);
                        cJSON_Delete(a);
                } else {
                        refused++;
                        if (!first_error[0])
                                snprintf(first_error, sizeof(first_error), "%.200s", line);
                }
                conn_consume(&c, used);
                if (!ok)
                        continue;
                int64_t t1 = wait_arrival(id);
                if (i < opt_warmup)
                        continue;
                accept[n_accept++] = t_ok - t0;
                if (t1)
                        deliver[n_deliver++] = t1 - t0;
                else
                        lost++;
        }
        double wall = (double)(now_ns() - wall0) / 1e9;
        qsort(accept, n_accept, sizeof(int64_t), cmp_i64);
        qsort(deliver, n_deliver, sizeof(int64_t), cmp_i64);

        say("(a) latency: %d sequential alerts (after %d warm-up), one connection, durable store\n", opt_alerts,
            opt_warmup);
        say("    %-34s %8s %8s %8s %8s %8s\n", "", "p50", "p90", "p99", "max", "n");
        say("    %-34s %8.3f %8.3f %8.3f %8.3f %8zu\n", "accept (t0 -> \"ok\"), ms", pct_ms(accept, n_accept, 50),
            pct_ms(accept, n_accept, 90), pct_ms(accept, n_accept, 99),
            n_accept ? (double)accept[n_accept - 1] / 1e6 : NAN, n_accept);
        say("    %-34s %8.3f %8.3f %8.3f %8.3f %8zu\n", "issue-to-delivery (t0 -> sub), ms",
            pct_ms(deliver, n_deliver, 50), pct_ms(deliver, n_deliver, 90), pct_ms(deliver, n_deliver, 99),
            n_deliver ? (double)deliver[n_deliver - 1] / 1e6 : NAN, n_deliver);
        say("    refused: %d, not delivered within %.0f s: %d, wall time %.2f s%s%s\n", refused, opt_timeout, lost,
            wall, first_error[0] ? "; first refusal: " : "", first_error);
        fputs(report, stdout);
        fflush(stdout);
        report_len = 0;
        report[0] = '\0';
        free(accept);
        free(deliver);
        conn_close(&c);
}

/* ---- (b) throughput ---- */

struct client {
        pthread_t thread;
        int id;
        int window;
        const char *tag;
        pthread_barrier_t *start;
        int accepted, refused;
        char first_error[256];
        int64_t t_start, t_end;
        int error;
};

static void *client_main(void *ud)
{
        struct client *cl = ud;
        struct conn c = { .fd = -1 };
        int r = conn_open(&c);
        pthread_barrier_wait(cl->start);
        if (r < 0) {
                cl->error = r;
                return NULL;
        }
        size_t cap = (size_t)cl->window * 1024;
        char *out = malloc(cap);
        if (!out) {
                cl->error = -ENOMEM;
                conn_close(&c);
                return NULL;
        }
        cl->t_start = now_ns();
        int sent = 0, answered = 0;
        while (answered < opt_per_client) {
                /* fill the window with one write */
                size_t len = 0;
                while (sent < opt_per_client && sent - answered < cl->window) {
                        len += (size_t)format_issue(out + len, cap - len, cl->tag, cl->id, sent);
                        sent++;
                }
                if (len && (r = write_all(c.fd, out, len)) < 0) {
                        cl->error = r;
                        break;
                }
                /* take every answer that is there (at least one) */
                if ((r = conn_fill(&c, (int)(opt_timeout * 1000))) < 0) {
                        cl->error = r;
                        break;
                }
                size_t used, total = 0;
                char *line;
                for (;;) {
                        char *nl = memchr(c.buf + total, '\n', c.len - total);
                        if (!nl)
                                break;
                        *nl = '\0';
                        line = c.buf + total;
                        used = (size_t)(nl - line) + 1;
                        total += used;
                        answered++;
                        if (answer_ok(line)) {
                                cl->accepted++;
                        } else {
                                cl->refused++;
                                if (!cl->first_error[0])
                                        snprintf(cl->first_error, sizeof(cl->first_error), "%.200s", line);
                        }
                }
                conn_consume(&c, total);
        }
        cl->t_end = now_ns();
        free(out);
        conn_close(&c);
        return NULL;
}

static int bench_throughput(const char *tag, int window, const char *label)
{
        struct client *cl = calloc((size_t)opt_clients, sizeof(*cl));
        pthread_barrier_t start;
        if (!cl || pthread_barrier_init(&start, NULL, (unsigned)opt_clients))
                die("out of memory");
        for (int i = 0; i < opt_clients; i++) {
                cl[i] = (struct client){ .id = i, .window = window, .tag = tag, .start = &start };
                if (pthread_create(&cl[i].thread, NULL, client_main, &cl[i]))
                        die("pthread_create failed");
        }
        int accepted = 0, refused = 0;
        int64_t t0 = INT64_MAX, t1 = 0;
        const char *err = NULL;
        for (int i = 0; i < opt_clients; i++) {
                pthread_join(cl[i].thread, NULL);
                if (cl[i].error)
                        fprintf(stderr, "dawn_bench: client %d: %s\n", i, strerror(-cl[i].error));
                accepted += cl[i].accepted;
                refused += cl[i].refused;
                if (cl[i].t_start && cl[i].t_start < t0)
                        t0 = cl[i].t_start;
                if (cl[i].t_end > t1)
                        t1 = cl[i].t_end;
                if (!err && cl[i].first_error[0])
                        err = cl[i].first_error;
        }
        double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : NAN;
        say("    %-34s %10d %8d %8.2f %12.0f%s%s\n", label, accepted, refused, secs, (double)accepted / secs,
            err ? "  first refusal: " : "", err ? err : "");
        pthread_barrier_destroy(&start);
        free(cl);
        return accepted;
}

static void bench_throughput_all(void)
{
        struct conn c = { .fd = -1 };
        int r = conn_open(&c);
        if (r < 0)
                die("cannot connect to %s: %s", opt_socket, strerror(-r));
        struct queue q0, q1, q2;
        if (wait_drained(&c, 0, 120, &q0) < 0)
                die("the outbox did not drain before the throughput runs");
        say("(b) throughput: %d clients, each its own connection, %d distinct alerts each\n", opt_clients,
            opt_per_client);
        say("    %-34s %10s %8s %8s %12s\n", "", "accepted", "refused", "secs", "accepted/s");
        char label[64];
        snprintf(label, sizeof(label), "pipelined (<= %d outstanding)", opt_window);

        uint64_t m0 = messages_so_far();
        int64_t t0 = now_ns();
        int accepted = bench_throughput("pipe", opt_window, label);
        double intake_s = (double)(now_ns() - t0) / 1e9;
        /* what the loop still had to send once intake stopped */
        double drain_s = wait_drained(&c, m0 + (uint64_t)accepted, 600, &q1);

        m0 = messages_so_far();
        int64_t t1 = now_ns();
        accepted = bench_throughput("single", 1, "one at a time (1 outstanding)");
        double intake2_s = (double)(now_ns() - t1) / 1e9;
        double drain2_s = wait_drained(&c, m0 + (uint64_t)accepted, 600, &q2);

        if (drain_s >= 0)
                say("    pipelined run, MQTT deliveries: %.0f in %.2f s (intake %.2f s + %.2f s draining after it)"
                    " = %.0f/s; failed: %.0f\n",
                    q1.delivered - q0.delivered, intake_s + drain_s, intake_s, drain_s,
                    (q1.delivered - q0.delivered) / (intake_s + drain_s), q1.failed - q0.failed);
        else
                say("    pipelined run: the outbox did not drain within 600 s\n");
        if (drain2_s >= 0)
                say("    one-at-a-time run, MQTT deliveries: %.0f in %.2f s (intake %.2f s + %.2f s draining after it)"
                    " = %.0f/s; failed: %.0f\n",
                    q2.delivered - q1.delivered, intake2_s + drain2_s, intake2_s, drain2_s,
                    (q2.delivered - q1.delivered) / (intake2_s + drain2_s), q2.failed - q1.failed);
        else
                say("    one-at-a-time run: the outbox did not drain within 600 s\n");
        conn_close(&c);
}

/* What one durable commit costs the disk here at least: a 4 KiB write and
 * fsync in dir, 200 times (dawnd's store uses synchronous=FULL). */
static int fsync_cost(const char *dir)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/dawn-bench-fsync.XXXXXX", dir);
        int fd = mkstemp(path);
        if (fd < 0)
                die("%s: %s", path, strerror(errno));
        unlink(path);
        enum { N = 200 };
        int64_t t[N];
        char block[4096];
        memset(block, 'x', sizeof(block));
        for (int i = 0; i < N; i++) {
                if (pwrite(fd, block, sizeof(block), (off_t)(i % 16) * 4096) != (ssize_t)sizeof(block))
                        die("write: %s", strerror(errno));
                int64_t t0 = now_ns();
                if (fsync(fd) < 0)
                        die("fsync: %s", strerror(errno));
                t[i] = now_ns() - t0;
        }
        close(fd);
        qsort(t, N, sizeof(int64_t), cmp_i64);
        printf("fsync of a 4 KiB write there: p50 %.3f ms, p99 %.3f ms\n", pct_ms(t, N, 50), pct_ms(t, N, 99));
        return 0;
}

/* ---- main ---- */

static int ping(void)
{
        int64_t deadline = now_ns() + (int64_t)(opt_timeout * 1e9);
        for (;;) {
                struct conn c = { .fd = -1 };
                if (conn_open(&c) == 0) {
                        cJSON *ans = conn_call(&c, "{\"cmd\":\"status\"}");
                        bool ok = ans && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"));
                        cJSON_Delete(ans);
                        conn_close(&c);
                        if (ok)
                                return 0;
                } else {
                        conn_close(&c);
                }
                if (now_ns() > deadline) {
                        fprintf(stderr, "dawn_bench: dawnd did not answer on %s within %.0f s\n", opt_socket,
                                opt_timeout);
                        return 1;
                }
                usleep(20000);
        }
}

static void usage(void)
{
        fprintf(stderr,
                "usage: dawn_bench ping --socket PATH [--timeout SEC]\n"
                "       dawn_bench fsync DIR\n"
                "       dawn_bench run --socket PATH [--mqtt-host H] [--mqtt-port P] [--alerts N]\n"
                "                      [--warmup N] [--clients N] [--per-client N] [--window N]\n"
                "                      [--skip-latency] [--skip-throughput] [--timeout SEC]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },   { "mqtt-host", required_argument, NULL, 'H' },
                { "mqtt-port", required_argument, NULL, 'p' }, { "alerts", required_argument, NULL, 'n' },
                { "warmup", required_argument, NULL, 'w' },   { "clients", required_argument, NULL, 'c' },
                { "per-client", required_argument, NULL, 'k' }, { "window", required_argument, NULL, 'W' },
                { "timeout", required_argument, NULL, 't' },
                { "skip-latency", no_argument, NULL, 'L' },   { "skip-throughput", no_argument, NULL, 'T' },
                { 0 },
        };
        bool skip_latency = false, skip_throughput = false;
        if (argc < 2)
                usage();
        const char *mode = argv[1];
        optind = 2;
        int opt;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (opt) {
                case 's': opt_socket = optarg; break;
                case 'H': opt_mqtt_host = optarg; break;
                case 'p': opt_mqtt_port = atoi(optarg); break;
                case 'n': opt_alerts = atoi(optarg); break;
                case 'w': opt_warmup = atoi(optarg); break;
                case 'c': opt_clients = atoi(optarg); break;
                case 'k': opt_per_client = atoi(optarg); break;
                case 'W': opt_window = atoi(optarg); break;
                case 't': opt_timeout = atof(optarg); break;
                case 'L': skip_latency = true; break;
                case 'T': skip_throughput = true; break;
                default: usage();
                }
        }
        if (!opt_socket)
                opt_socket = getenv(DAWN_SOCKET_ENV) ? getenv(DAWN_SOCKET_ENV) : DAWN_DEFAULT_SOCKET;
        if (opt_alerts < 1 || opt_warmup < 0 || opt_clients < 1 || opt_per_client < 1 || opt_window < 1 ||
            opt_window > 1024 || opt_timeout <= 0)
                usage();
        if (strcmp(mode, "ping") == 0)
                return ping();
        if (strcmp(mode, "fsync") == 0)
                return fsync_cost(argc > optind ? argv[optind] : ".");
        if (strcmp(mode, "run") != 0)
                usage();

        /* the dashboard: connected for the whole run, as a real one would be */
        struct mosquitto *sub = subscriber_start();
        if (!skip_latency)
                bench_latency();
        if (!skip_throughput) {
                bench_throughput_all();
                fputs(report, stdout);
        }
        subscriber_stop(sub);
        return 0;
}
