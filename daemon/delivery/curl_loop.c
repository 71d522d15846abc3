/* libcurl's multi interface on sd-event (curl's docs/examples/multi-event.c
 * pattern, with sd-event in libevent's place).
 *
 * Sockets. CURLMOPT_SOCKETFUNCTION tells us, per socket, what to wait for:
 * CURL_POLL_IN/OUT/INOUT become one io source (EPOLLIN/EPOLLOUT), kept as
 * the socket's curl_multi_assign() pointer and changed in place; on
 * CURL_POLL_REMOVE it goes (curl says so before it closes the socket, so a
 * new socket that reuses the number never meets a stale epoll entry). The
 * sources are also on our own list, so that none outlives the multi handle
 * whatever curl_multi_cleanup() does or does not tell us.
 *
 * Time. CURLMOPT_TIMERFUNCTION is a one-shot timer: -1 disarms it, 0 means
 * "as soon as possible", which is simply a timer due now; curl must not be
 * called from inside that callback, and is not: the timer fires on the next
 * loop iteration and only then calls curl_multi_socket_action().
 *
 * Completion. After every curl_multi_socket_action() the message queue is
 * drained until curl_multi_info_read() returns NULL (one call can finish
 * several transfers). Each finished transfer is removed from the multi
 * handle before its done callback runs, so the callback may start new
 * transfers or free the whole loop; a free during dispatch aborts what is
 * left at once and defers the memory to the end of the dispatch.
 */
#include "ca_file.h"
#include "curl_loop.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

#define CONNECT_TIMEOUT_MAX_MS 15000L
#define DEFAULT_TIMEOUT_MS 30000L
#define LOW_SPEED_BYTES 1L     /* below this many bytes a second ... */
#define LOW_SPEED_SECONDS 15L  /* ... for this long, a transfer is stalled */
#define TIMER_ACCURACY_USEC 1000

struct xfer {
        struct xfer *prev, *next;
        CURL *easy;
        struct curl_slist *list;
        dawn_curl_done_fn done;
        dawn_curl_release_fn release;
        void *userdata;
};

struct sock {
        struct sock *prev, *next;
        sd_event_source *io;
};

struct dawn_curl {
        sd_event *loop;
        CURLM *multi;
        sd_event_source *timer;
        struct xfer *xfers;
        size_t n_xfers;
        struct sock *socks;
        unsigned dispatching;   /* nesting depth of event handlers running */
        bool freed;             /* dawn_curl_free() ran during a dispatch */
        struct dawn_ca *ca;     /* the channel's ca_file, added to every transfer's trust; or NULL */
};

#define LIST_REMOVE(head, item)                                 \
        do {                                                    \
                if ((item)->prev)                               \
                        (item)->prev->next = (item)->next;      \
                else                                            \
                        (head) = (item)->next;                  \
                if ((item)->next)                               \
                        (item)->next->prev = (item)->prev;      \
                (item)->prev = (item)->next = NULL;             \
        } while (0)

#define LIST_PREPEND(head, item)                                \
        do {                                                    \
                (item)->prev = NULL;                            \
                (item)->next = (head);                          \
                if (head)                                       \
                        (head)->prev = (item);                  \
                (head) = (item);                                \
        } while (0)

/* ---- transfers ---- */

/* The easy handle goes first: it may still point into userdata
 * (CURLOPT_ERRORBUFFER, WRITEDATA, READDATA). */
static void xfer_destroy(struct xfer *x)
{
        curl_easy_cleanup(x->easy);
        curl_slist_free_all(x->list);
        if (x->release)
                x->release(x->userdata);
        free(x);
}

/* Takes a finished transfer out of the multi handle and off our list. */
static void xfer_detach(struct dawn_curl *c, struct xfer *x)
{
        curl_multi_remove_handle(c->multi, x->easy);
        LIST_REMOVE(c->xfers, x);
        c->n_xfers--;
}

static void finish(struct dawn_curl *c, CURL *easy, CURLcode result)
{
        char *priv = NULL;
        long status = 0;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv) {
                /* not ours: cannot happen, but never leave it in the multi */
                curl_multi_remove_handle(c->multi, easy);
                return;
        }
        struct xfer *x = (struct xfer *)(void *)priv;
        (void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        xfer_detach(c, x);
        x->done(easy, result, status, x->userdata);
        xfer_destroy(x);
}

static void drain_messages(struct dawn_curl *c)
{
        CURLMsg *msg;
        int left;
        /* Stop as soon as a callback freed us: nothing of the multi is left to read. */
        while (!c->freed && (msg = curl_multi_info_read(c->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                /* msg does not survive curl_multi_remove_handle(): copy first */
                CURL *easy = msg->easy_handle;
                CURLcode result = msg->data.result;
                finish(c, easy, result);
        }
}

/* ---- teardown ---- */

static void abort_all(struct dawn_curl *c)
{
        while (c->xfers) {
                struct xfer *x = c->xfers;
                xfer_detach(c, x);
                xfer_destroy(x);
        }
}

static void destroy(struct dawn_curl *c)
{
        if (c->multi)
                curl_multi_cleanup(c->multi);
        while (c->socks) {
                struct sock *s = c->socks;
                LIST_REMOVE(c->socks, s);
                sd_event_source_disable_unref(s->io);
                free(s);
        }
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->loop);
        dawn_ca_free(c->ca); /* after the multi handle: no connection is set up after this */
        free(c);
}

struct dawn_curl *dawn_curl_free(struct dawn_curl *c)
{
        if (!c || c->freed)
                return NULL;
        abort_all(c);
        if (c->dispatching) {
                c->freed = true; /* the handler on the stack finishes the job */
                return NULL;
        }
        destroy(c);
        return NULL;
}

/* ---- driving curl ---- */

static void socket_action(struct dawn_curl *c, curl_socket_t fd, int flags)
{
        int running = 0;
        c->dispatching++;
        CURLMcode mc = curl_multi_socket_action(c->multi, fd, flags, &running);
        if (mc != CURLM_OK && mc != CURLM_BAD_SOCKET)
                log_warning("curl: %s, ignoring", curl_multi_strerror(mc));
        drain_messages(c);
        c->dispatching--;
        if (c->freed && !c->dispatching)
                destroy(c);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dawn_curl *c = userdata;
        int flags = 0;
        (void)s;

        /* A hang-up still has data to read (and the EOF): let curl read it. */
        if (revents & (EPOLLIN | EPOLLHUP))
                flags |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                flags |= CURL_CSELECT_ERR;
        socket_action(c, fd, flags);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s;
        (void)usec;
        socket_action(userdata, CURL_SOCKET_TIMEOUT, 0);
        return 0;
}

/* CURLMOPT_SOCKETFUNCTION. Always returns 0: -1 would make libcurl mark
 * the whole multi handle dead. If a source cannot be made the transfer
 * still ends, at the latest by its CURLOPT_TIMEOUT_MS. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
        struct dawn_curl *c = userp;
        struct sock *s = socketp;
        (void)easy;

        if (what == CURL_POLL_REMOVE) {
                if (s) {
                        LIST_REMOVE(c->socks, s);
                        sd_event_source_disable_unref(s->io);
                        free(s);
                }
                return 0;
        }
        uint32_t events = 0;
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        int r;
        if (s) {
                r = sd_event_source_set_io_events(s->io, events);
        } else {
                s = calloc(1, sizeof(*s));
                if (!s) {
                        r = -ENOMEM;
                } else if ((r = sd_event_add_io(c->loop, &s->io, fd, events, on_io, c)) < 0) {
                        free(s);
                } else {
                        LIST_PREPEND(c->socks, s);
                        (void)sd_event_source_set_description(s->io, "curl-socket");
                        curl_multi_assign(c->multi, fd, s);
                }
        }
        if (r < 0)
                log_error_errno(r, "curl: cannot watch socket %d: %m", (int)fd);
        return 0;
}

/* CURLMOPT_TIMERFUNCTION: arms, moves or disarms the one timer. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
        struct dawn_curl *c = userp;
        (void)multi;

        if (timeout_ms < 0) {
                (void)sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                return 0;
        }
        uint64_t now = 0;
        int r = sd_event_now(c->loop, CLOCK_MONOTONIC, &now);
        if (r >= 0)
                r = sd_event_source_set_time(c->timer, now + (uint64_t)timeout_ms * 1000);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "curl: cannot arm the timer: %m");
        return 0;
}

/* ---- the public side ---- */

int dawn_curl_new(sd_event *loop, struct dawn_curl **out)
{
        static bool global_ready;
        if (!global_ready) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -EIO;
                global_ready = true;
        }

        struct dawn_curl *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->loop = sd_event_ref(loop);
        int r = sd_event_add_time(loop, &c->timer, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_USEC, on_timer, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        if (r >= 0) {
                (void)sd_event_source_set_description(c->timer, "curl-timer");
                c->multi = curl_multi_init();
                if (!c->multi)
                        r = -ENOMEM;
        }
        if (r >= 0 &&
            (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
             curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
             curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
             curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK))
                r = -EIO;
        if (r < 0) {
                destroy(c);
                return r;
        }
        *out = c;
        return 0;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        (void)ptr;
        (void)userdata;
        return size * nmemb;
}

CURL *dawn_curl_easy_new(const char *url, const char *protocols, uint64_t timeout_usec)
{
        long timeout_ms = timeout_usec ? (long)(timeout_usec / 1000) : DEFAULT_TIMEOUT_MS;
        if (timeout_ms < 1)
                timeout_ms = 1;
        long connect_ms = timeout_ms < CONNECT_TIMEOUT_MAX_MS ? timeout_ms : CONNECT_TIMEOUT_MAX_MS;

        CURL *e = curl_easy_init();
        if (!e)
                return NULL;
        if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protocols) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_SECONDS) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body) != CURLE_OK) {
                curl_easy_cleanup(e);
                return NULL;
        }
        return e;
}

int dawn_curl_start(struct dawn_curl *c, CURL *easy, struct curl_slist *list,
                    dawn_curl_done_fn done, dawn_curl_release_fn release, void *userdata)
{
        int r = 0;
        struct xfer *x = NULL;
        if (!easy || !done)
                r = -EINVAL;
        else if (c->freed)
                r = -ESHUTDOWN;
        else if (!(x = calloc(1, sizeof(*x))))
                r = -ENOMEM;
        if (r < 0) {
                curl_easy_cleanup(easy);
                curl_slist_free_all(list);
                return r;
        }
        *x = (struct xfer){ .easy = easy, .list = list, .done = done, .release = release,
                            .userdata = userdata };
        if (dawn_ca_apply(c->ca, easy) < 0 || curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK ||
            curl_multi_add_handle(c->multi, easy) != CURLM_OK) {
                x->release = NULL; /* userdata stays the caller's */
                xfer_destroy(x);
                return -EIO;
        }
        LIST_PREPEND(c->xfers, x);
        c->n_xfers++;
        return 0;
}

int dawn_curl_trust(struct dawn_curl *c, const char *ca_file, const char *what)
{
        char why[256];
        struct dawn_ca *ca;
        int r = dawn_ca_load(ca_file, &ca, why, sizeof(why));
        if (r < 0) {
                log_error("%s.ca_file: %s: %s", what, ca_file, why);
                return r;
        }
        /* checked here, not at the first alert: a libcurl without OpenSSL cannot add a CA */
        CURL *probe = curl_easy_init();
        r = probe ? dawn_ca_apply(ca, probe) : -ENOMEM;
        curl_easy_cleanup(probe);
        if (r < 0) {
                dawn_ca_free(ca);
                if (r == -EOPNOTSUPP)
                        log_error("%s.ca_file: this libcurl is not built on OpenSSL and cannot add a CA", what);
                return r;
        }
        dawn_ca_free(c->ca);
        c->ca = ca;
        log_info("%s: trusting %zu certificate%s from %s as well as the system's", what, dawn_ca_count(ca),
                 dawn_ca_count(ca) == 1 ? "" : "s", ca_file);
        return 0;
}

size_t dawn_curl_in_flight(const struct dawn_curl *c)
{
        return c ? c->n_xfers : 0;
}
