/* The curl loop against a tiny HTTP server in a thread of this process.
 *
 * The server is one poll() loop on 127.0.0.1 that answers by path:
 *   /ok/NAME          200, body NAME
 *   /delay/MS/NAME    200, body NAME, after MS milliseconds (without blocking
 *                     other connections: that is what proves concurrency)
 *   /status/N         status N with "Retry-After: 7"
 *   /redirect         302 to /ok/moved
 *   /hang             reads the request and never answers
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "curl_loop.h"

#define MAX_CLIENTS 64
#define USEC_PER_MSEC UINT64_C(1000)

/* ---- the server ---- */

struct client {
        int fd;
        char buf[2048];
        size_t len;
        bool have_request;
        bool hang;
        uint64_t respond_at;   /* monotonic ms */
        char response[512];
};

static struct {
        int listen_fd;
        int port;
        int closed_port;       /* nothing listens here */
        pthread_t thread;
        atomic_bool stop;
        atomic_int requests;
} S;

static uint64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void prepare_response(struct client *cl)
{
        char path[256] = "";
        sscanf(cl->buf, "%*s %255s", path);
        int ms = 0, status = 0;
        char name[128] = "";
        const char *body = "";
        cl->respond_at = mono_ms();
        if (strncmp(path, "/ok/", 4) == 0) {
                body = path + 4;
                status = 200;
        } else if (sscanf(path, "/delay/%d/%127s", &ms, name) == 2) {
                body = name;
                status = 200;
                cl->respond_at += (uint64_t)ms;
        } else if (sscanf(path, "/status/%d", &status) == 1) {
                snprintf(cl->response, sizeof(cl->response),
                         "HTTP/1.1 %d Whatever\r\nRetry-After: 7\r\nContent-Length: 4\r\n"
                         "Connection: close\r\n\r\nbusy", status);
                return;
        } else if (strcmp(path, "/redirect") == 0) {
                snprintf(cl->response, sizeof(cl->response),
                         "HTTP/1.1 302 Found\r\nLocation: /ok/moved\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n");
                return;
        } else if (strcmp(path, "/hang") == 0) {
                cl->hang = true;
                return;
        } else {
                status = 404;
        }
        snprintf(cl->response, sizeof(cl->response),
                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
                 strlen(body), body);
}

static void client_read(struct client *cl)
{
        ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
        if (n <= 0) {
                close(cl->fd);
                cl->fd = -1;
                return;
        }
        cl->len += (size_t)n;
        cl->buf[cl->len] = '\0';
        if (!cl->have_request && strstr(cl->buf, "\r\n\r\n")) {
                cl->have_request = true;
                atomic_fetch_add(&S.requests, 1);
                prepare_response(cl);
        }
}

static void *server_main(void *arg)
{
        struct client cl[MAX_CLIENTS];
        (void)arg;
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                cl[i].fd = -1;
        while (!atomic_load(&S.stop)) {
                struct pollfd p[MAX_CLIENTS + 1];
                size_t idx[MAX_CLIENTS + 1];
                nfds_t n = 0;
                p[n++] = (struct pollfd){ .fd = S.listen_fd, .events = POLLIN };
                uint64_t now = mono_ms();
                int timeout = 20;
                for (size_t i = 0; i < MAX_CLIENTS; i++) {
                        if (cl[i].fd < 0)
                                continue;
                        if (cl[i].have_request && !cl[i].hang && cl[i].respond_at <= now) {
                                ssize_t w = write(cl[i].fd, cl[i].response, strlen(cl[i].response));
                                (void)w;
                                close(cl[i].fd);
                                cl[i].fd = -1;
                                continue;
                        }
                        idx[n] = i;
                        p[n++] = (struct pollfd){ .fd = cl[i].fd, .events = POLLIN };
                }
                (void)poll(p, n, timeout);
                for (nfds_t k = 1; k < n; k++)
                        if (p[k].revents)
                                client_read(&cl[idx[k]]);
                if (p[0].revents & POLLIN) {
                        int fd = accept4(S.listen_fd, NULL, NULL, SOCK_CLOEXEC);
                        for (size_t i = 0; fd >= 0 && i < MAX_CLIENTS; i++) {
                                if (cl[i].fd < 0) {
                                        cl[i] = (struct client){ .fd = fd };
                                        fd = -1;
                                }
                        }
                        if (fd >= 0)
                                close(fd);
                }
        }
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (cl[i].fd >= 0)
                        close(cl[i].fd);
        return NULL;
}

static int listen_on_free_port(int *port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        *port = ntohs(a.sin_port);
        return fd;
}

static int group_setup(void **state)
{
        (void)state;
        S.listen_fd = listen_on_free_port(&S.port);
        assert_int_equal(listen(S.listen_fd, 64), 0);
        /* a port that was free a moment ago and is closed again: connection refused */
        int fd = listen_on_free_port(&S.closed_port);
        close(fd);
        atomic_store(&S.stop, false);
        assert_int_equal(pthread_create(&S.thread, NULL, server_main, NULL), 0);
        return 0;
}

static int group_teardown(void **state)
{
        (void)state;
        atomic_store(&S.stop, true);
        pthread_join(S.thread, NULL);
        close(S.listen_fd);
        return 0;
}

/* ---- the client side ---- */

struct result {
        bool done;
        bool released;
        CURLcode code;
        long status;
        char body[128];
        size_t body_len;
        char retry_after[32];
        uint64_t done_at;      /* monotonic ms */
};

static size_t collect_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct result *r = userdata;
        size_t n = size * nmemb;
        size_t room = sizeof(r->body) - 1 - r->body_len;
        memcpy(r->body + r->body_len, ptr, n < room ? n : room);
        r->body_len += n < room ? n : room;
        r->body[r->body_len] = '\0';
        return n;
}

static void on_done(CURL *easy, CURLcode code, long status, void *userdata)
{
        struct result *r = userdata;
        assert_false(r->done);
        assert_false(r->released);
        r->done = true;
        r->code = code;
        r->status = status;
        r->done_at = mono_ms();
        struct curl_header *h = NULL;
        if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
                snprintf(r->retry_after, sizeof(r->retry_after), "%s", h->value);
}

static void on_release(void *userdata)
{
        struct result *r = userdata;
        assert_false(r->released);
        r->released = true;
}

static CURL *easy_for(const char *path, uint64_t timeout_usec, struct result *r)
{
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", S.port, path);
        CURL *e = dawn_curl_easy_new(url, "http,https", timeout_usec);
        assert_non_null(e);
        assert_int_equal(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_body), CURLE_OK);
        assert_int_equal(curl_easy_setopt(e, CURLOPT_WRITEDATA, r), CURLE_OK);
        return e;
}

static void start(struct dawn_curl *c, const char *path, uint64_t timeout_usec, struct result *r)
{
        assert_int_equal(dawn_curl_start(c, easy_for(path, timeout_usec, r), NULL, on_done, on_release, r),
                         0);
}

static bool all_done(const struct result *r, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!r[i].released)
                        return false;
        return true;
}

static void run_until_done(sd_event *loop, const struct result *r, size_t n, uint64_t timeout_ms)
{
        uint64_t deadline = mono_ms() + timeout_ms;
        while (!all_done(r, n) && mono_ms() < deadline)
                assert_true(sd_event_run(loop, 100 * USEC_PER_MSEC) >= 0);
        assert_true(all_done(r, n));
}

static void test_concurrent(void **state)
{
        (void)state;
        sd_event *loop = NULL;
        struct dawn_curl *c = NULL;
        struct result r[6] = { 0 };
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(dawn_curl_new(loop, &c), 0);

        uint64_t t0 = mono_ms();
        char path[64];
        for (int i = 0; i < 5; i++) {
                snprintf(path, sizeof(path), "/delay/400/slow%d", i);
                start(c, path, 10 * 1000 * USEC_PER_MSEC, &r[i]);
        }
        start(c, "/ok/quick", 10 * 1000 * USEC_PER_MSEC, &r[5]);
        assert_int_equal(dawn_curl_in_flight(c), 6);
        /* nothing completes from inside dawn_curl_start() */
        for (int i = 0; i < 6; i++)
                assert_false(r[i].done);

        run_until_done(loop, r, 6, 10000);
        uint64_t elapsed = mono_ms() - t0;
        for (int i = 0; i < 5; i++) {
                snprintf(path, sizeof(path), "slow%d", i);
                assert_int_equal(r[i].code, CURLE_OK);
                assert_int_equal(r[i].status, 200);
                assert_string_equal(r[i].body, path);
        }
        assert_int_equal(r[5].code, CURLE_OK);
        assert_string_equal(r[5].body, "quick");
        /* the quick one did not wait for the slow ones */
        assert_true(r[5].done_at < r[0].done_at);
        /* five 400 ms answers, one after another, would take 2 s */
        assert_true(elapsed < 1500);
        assert_int_equal(dawn_curl_in_flight(c), 0);

        dawn_curl_free(c);
        sd_event_unref(loop);
}

static void test_timeout(void **state)
{
        (void)state;
        sd_event *loop = NULL;
        struct dawn_curl *c = NULL;
        struct result r[2] = { 0 };
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(dawn_curl_new(loop, &c), 0);

        uint64_t t0 = mono_ms();
        start(c, "/hang", 300 * USEC_PER_MSEC, &r[0]);
        start(c, "/ok/meanwhile", 10 * 1000 * USEC_PER_MSEC, &r[1]);
        run_until_done(loop, r, 2, 5000);
        uint64_t elapsed = r[0].done_at - t0;
        assert_int_equal(r[0].code, CURLE_OPERATION_TIMEDOUT);
        assert_int_equal(r[0].status, 0);
        assert_true(elapsed >= 280 && elapsed < 3000);
        assert_int_equal(r[1].code, CURLE_OK);
        assert_string_equal(r[1].body, "meanwhile");

        dawn_curl_free(c);
        sd_event_unref(loop);
}

static void test_status_and_headers(void **state)
{
        (void)state;
        sd_event *loop = NULL;
        struct dawn_curl *c = NULL;
        struct result r[3] = { 0 };
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(dawn_curl_new(loop, &c), 0);

        start(c, "/status/503", 5000 * USEC_PER_MSEC, &r[0]);
        start(c, "/redirect", 5000 * USEC_PER_MSEC, &r[1]);
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok/x", S.closed_port);
        CURL *e = dawn_curl_easy_new(url, "http,https", 5000 * USEC_PER_MSEC);
        assert_non_null(e);
        assert_int_equal(dawn_curl_start(c, e, NULL, on_done, on_release, &r[2]), 0);
        run_until_done(loop, r, 3, 5000);

        /* the header is still readable in the done callback */
        assert_int_equal(r[0].code, CURLE_OK);
        assert_int_equal(r[0].status, 503);
        assert_string_equal(r[0].retry_after, "7");
        /* redirects are not followed */
        assert_int_equal(r[1].code, CURLE_OK);
        assert_int_equal(r[1].status, 302);
        assert_int_equal(r[2].code, CURLE_COULDNT_CONNECT);

        dawn_curl_free(c);
        sd_event_unref(loop);
}

static void test_protocols_limited(void **state)
{
        (void)state;
        sd_event *loop = NULL;
        struct dawn_curl *c = NULL;
        struct result r = { 0 };
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(dawn_curl_new(loop, &c), 0);
        /* an SMTP-only handle refuses an http:// URL */
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok/x", S.port);
        CURL *e = dawn_curl_easy_new(url, "smtp,smtps", 5000 * USEC_PER_MSEC);
        assert_non_null(e);
        assert_int_equal(dawn_curl_start(c, e, NULL, on_done, on_release, &r), 0);
        run_until_done(loop, &r, 1, 5000);
        assert_int_equal(r.code, CURLE_UNSUPPORTED_PROTOCOL);
        dawn_curl_free(c);
        sd_event_unref(loop);
}

/* ---- re-entrancy ---- */

static struct {
        struct dawn_curl *c;
        sd_event *loop;
        struct result chain[3];
        struct result hanging;
        int next;
        bool freed;
} R;

static void on_chain_done(CURL *easy, CURLcode code, long status, void *userdata)
{
        on_done(easy, code, status, userdata);
        if (R.next < 3) {
                struct result *r = &R.chain[R.next++];
                /* a new transfer from inside a done callback */
                assert_int_equal(dawn_curl_start(R.c, easy_for("/ok/chained", 5000 * USEC_PER_MSEC, r), NULL,
                                                 on_chain_done, on_release, r),
                                 0);
        } else {
                /* the last one frees the loop while another transfer still runs */
                R.c = dawn_curl_free(R.c);
                R.freed = true;
                assert_true(R.hanging.released);
                assert_false(R.hanging.done);
        }
}

static void test_reentrant(void **state)
{
        (void)state;
        struct result first = { 0 };
        assert_int_equal(sd_event_new(&R.loop), 0);
        assert_int_equal(dawn_curl_new(R.loop, &R.c), 0);
        start(R.c, "/hang", 10 * 1000 * USEC_PER_MSEC, &R.hanging);
        assert_int_equal(dawn_curl_start(R.c, easy_for("/ok/first", 5000 * USEC_PER_MSEC, &first), NULL,
                                         on_chain_done, on_release, &first),
                         0);
        uint64_t deadline = mono_ms() + 5000;
        while (!R.freed && mono_ms() < deadline)
                assert_true(sd_event_run(R.loop, 100 * USEC_PER_MSEC) >= 0);
        assert_true(R.freed);
        assert_true(first.done && first.released);
        for (int i = 0; i < 3; i++) {
                assert_true(R.chain[i].released);
                assert_int_equal(R.chain[i].code, CURLE_OK);
                assert_string_equal(R.chain[i].body, "chained");
        }
        /* the loop has nothing of ours left: one more turn finds no source */
        assert_true(sd_event_run(R.loop, 0) >= 0);
        sd_event_unref(R.loop);
}

static void test_free_aborts(void **state)
{
        (void)state;
        sd_event *loop = NULL;
        struct dawn_curl *c = NULL;
        struct result r[2] = { 0 };
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(dawn_curl_new(loop, &c), 0);
        start(c, "/hang", 10 * 1000 * USEC_PER_MSEC, &r[0]);
        start(c, "/delay/5000/late", 10 * 1000 * USEC_PER_MSEC, &r[1]);
        /* let them connect and send */
        uint64_t until = mono_ms() + 200;
        while (mono_ms() < until)
                assert_true(sd_event_run(loop, 50 * USEC_PER_MSEC) >= 0);
        assert_int_equal(dawn_curl_in_flight(c), 2);
        c = dawn_curl_free(c);
        assert_null(c);
        for (int i = 0; i < 2; i++) {
                assert_true(r[i].released);
                assert_false(r[i].done);
        }
        sd_event_unref(loop);
}

static void test_start_failure_keeps_userdata(void **state)
{
        (void)state;
        sd_event *loop = NULL;
        struct dawn_curl *c = NULL;
        struct result r = { 0 };
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(dawn_curl_new(loop, &c), 0);
        struct curl_slist *list = curl_slist_append(NULL, "X-Test: 1");
        assert_int_equal(dawn_curl_start(c, NULL, list, on_done, on_release, &r), -EINVAL);
        assert_false(r.released);
        dawn_curl_free(c);
        sd_event_unref(loop);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_concurrent),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_status_and_headers),
                cmocka_unit_test(test_protocols_limited),
                cmocka_unit_test(test_reentrant),
                cmocka_unit_test(test_free_aborts),
                cmocka_unit_test(test_start_failure_keeps_userdata),
        };
        return cmocka_run_group_tests_name("curl_loop", tests, group_setup, group_teardown);
}
