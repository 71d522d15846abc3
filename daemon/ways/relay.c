#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "relay_connect.h"
#include "websocket.h"

/* RFC 6455 7.4.1 and the IANA registry */
#define CLOSE_POLICY 1008
#define CLOSE_TRY_AGAIN_LATER 1013

struct buf {
        uint8_t *data;
        size_t len, cap;
};

enum stage {
        AWAIT_CONNECT,  /* upgraded; the browser's CONNECT is not whole yet; no broker connection */
        AWAIT_CONNACK,  /* the CONNECT went on to the broker */
        SIGNED_IN,      /* the broker accepted the login */
};

struct dawn_ws_relay {
        sd_event *loop;
        int client_fd, broker_fd;
        sd_event_source *client_io, *broker_io, *timer;
        struct buf from_client;   /* bytes of frames not yet whole */
        struct buf to_broker;     /* MQTT bytes from the client's frames (before login: the CONNECT so far) */
        struct buf to_client;     /* frames of the broker's bytes, and our control frames */
        enum stage stage;
        uint8_t connack[8];       /* the start of the broker's first packet */
        size_t connack_len;
        bool connack_read;
        bool connected;           /* the TCP connection to the broker is up */
        bool closing;             /* a close frame is queued: flush it, then end */
        bool paused;              /* the broker side was paused once (counted once) */
        uint64_t started, last_activity, closing_since;
        uint64_t last_output;     /* when the browser last took a byte, or had nothing waiting */
        uint64_t armed_at;        /* the timer's time */
        char *host;
        int port;
        struct dawn_ws_relay_broker broker; /* its addresses, copied at the start */
        size_t next_addr;                   /* the next one to try */
        char peer[64];
        char user[DAWN_MQTT_ID_USER_MAX + 1];
        dawn_ws_relay_closed_fn closed;
        dawn_ws_relay_admit_fn admit;
        void *userdata;
};

static uint64_t now_monotonic(void)
{
        return (uint64_t)dawn_monotonic_usec();
}

/* ---- limits: counted always, logged at most once per 10 s each ---- */

enum limit {
        L_LOGIN, L_EVICTED, L_UNREAD, L_IDLE, L_CLOSE, L_BAD_CONNECT, L_TOO_BIG, L_PER_LOGIN, L_PAUSED, L_FULL,
        L_COUNT
};

static const char *const limit_reason[L_COUNT] = {
        [L_LOGIN] = "login_deadline", [L_EVICTED] = "evicted", [L_UNREAD] = "unread_output", [L_IDLE] = "idle",
        [L_CLOSE] = "close_deadline", [L_BAD_CONNECT] = "bad_connect", [L_TOO_BIG] = "frame_too_large",
        [L_PER_LOGIN] = "per_login", [L_PAUSED] = NULL, [L_FULL] = "full",
};

#define LIMIT_LOG_USEC (10 * UINT64_C(1000000))

/* A flood of clients hitting one limit must not become a flood of log
 * lines: the first is logged, the rest are summed into the next. */
static struct {
        uint64_t last;
        unsigned quiet;
} limit_log[L_COUNT];

static void limit_hit(enum limit l, int priority, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void limit_hit(enum limit l, int priority, const char *fmt, ...)
{
        if (l == L_PAUSED)
                dawn_metrics_count(DAWN_M_RELAY_PAUSED, NULL, NULL);
        else if (l == L_FULL)
                dawn_metrics_count(DAWN_M_RELAY_REFUSED, limit_reason[l], NULL);
        else
                dawn_metrics_count(DAWN_M_RELAY_DROPPED, limit_reason[l], NULL);
        uint64_t now = now_monotonic();
        if (limit_log[l].last && now - limit_log[l].last < LIMIT_LOG_USEC) {
                limit_log[l].quiet++;
                return;
        }
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (limit_log[l].quiet)
                log_internal(priority, 0, NULL, "%s (and %u more like it since the last such line)", msg,
                             limit_log[l].quiet);
        else
                log_internal(priority, 0, NULL, "%s", msg);
        limit_log[l].last = now;
        limit_log[l].quiet = 0;
}

/* ---- buffers ---- */

static int buf_append(struct buf *b, const void *data, size_t n)
{
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + n)
                        cap *= 2;
                uint8_t *d = realloc(b->data, cap);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->cap = cap;
        }
        if (n)
                memcpy(b->data + b->len, data, n);
        b->len += n;
        return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
}

static int queue_frame(struct dawn_ws_relay *r, enum dawn_ws_opcode op, const void *payload, size_t n)
{
        uint8_t hdr[10];
        size_t h = dawn_ws_frame_header(hdr, op, n);
        int e = buf_append(&r->to_client, hdr, h);
        return e < 0 ? e : buf_append(&r->to_client, payload, n);
}

static int flush(int fd, struct buf *b)
{
        while (b->len) {
                ssize_t n = send(fd, b->data, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                buf_consume(b, (size_t)n);
        }
        return 0;
}

/* Towards the browser: the time of the last progress is kept for the
 * slow-reader deadline. */
static int flush_client(struct dawn_ws_relay *r)
{
        size_t before = r->to_client.len;
        int e = flush(r->client_fd, &r->to_client);
        if (r->to_client.len < before || r->to_client.len == 0)
                r->last_output = now_monotonic();
        return e;
}

/* ---- ending ---- */

static void broker_side_end(struct dawn_ws_relay *r)
{
        r->broker_io = sd_event_source_disable_unref(r->broker_io);
        if (r->broker_fd >= 0)
                close(r->broker_fd);
        r->broker_fd = -1;
        r->connected = false;
}

static void relay_end(struct dawn_ws_relay *r)
{
        r->client_io = sd_event_source_disable_unref(r->client_io);
        r->timer = sd_event_source_disable_unref(r->timer);
        broker_side_end(r);
        free(r->from_client.data);
        free(r->to_broker.data);
        free(r->to_client.data);
        free(r->host);
        r->closed(r, r->userdata);
        free(r);
}

static void update_events(struct dawn_ws_relay *r);
static void arm_timer(struct dawn_ws_relay *r);
static uint64_t deadline(const struct dawn_ws_relay *r);

static void queue_close_frame(struct dawn_ws_relay *r, uint16_t code, const char *why)
{
        uint8_t payload[125];
        size_t n = strlen(why) < sizeof(payload) - 2 ? strlen(why) : sizeof(payload) - 2;
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        memcpy(payload + 2, why, n);
        if (queue_frame(r, DAWN_WS_CLOSE, payload, 2 + n) < 0)
                r->to_client.len = 0;
}

/* Says goodbye with a close frame (RFC 6455 7.4 code, why in ASCII), then
 * ends once it has gone, or after DAWN_WS_RELAY_CLOSE_USEC. Nothing more
 * is relayed either way, so the broker side ends now. */
static void relay_close(struct dawn_ws_relay *r, uint16_t code, const char *why)
{
        if (r->closing)
                return;
        broker_side_end(r);
        queue_close_frame(r, code, why);
        r->closing = true;
        r->closing_since = now_monotonic();
        arm_timer(r);
        update_events(r);
}

/* Ends a relay at a limit: one try at a close frame (a client at a limit is
 * usually one that does not read), then the end. */
static void relay_drop(struct dawn_ws_relay *r, uint16_t code, const char *why)
{
        if (!r->closing)
                queue_close_frame(r, code, why);
        (void)flush_client(r);
        relay_end(r);
}

/* ---- events ---- */

/* Interest in nothing turns the source off: epoll reports a hang-up even
 * to a source that asks for no events, and a hang-up that nothing can
 * act on would be reported at every turn of the loop. */
static void set_events(sd_event_source *s, uint32_t events)
{
        if (events) {
                sd_event_source_set_io_events(s, events);
                sd_event_source_set_enabled(s, SD_EVENT_ON);
        } else {
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
        }
}

static void update_events(struct dawn_ws_relay *r)
{
        uint32_t client = 0;
        size_t backlog = r->stage == SIGNED_IN ? DAWN_WS_RELAY_MAX_BACKLOG : DAWN_WS_RELAY_LOGIN_BACKLOG;
        if (!r->closing && r->to_broker.len < backlog)
                client |= EPOLLIN;
        if (r->to_client.len)
                client |= EPOLLOUT;
        set_events(r->client_io, client);
        /* output that starts to wait brings the slow-reader deadline forward */
        if (deadline(r) < r->armed_at)
                arm_timer(r);
        if (!r->broker_io)
                return;
        uint32_t broker = 0;
        if (!r->connected) {
                broker = EPOLLOUT;
        } else {
                if (r->to_client.len < DAWN_WS_RELAY_MAX_BACKLOG) {
                        broker |= EPOLLIN;
                } else {
                        /* backpressure: the browser reads too slowly; only a hang-up is still wanted */
                        broker |= EPOLLRDHUP;
                        if (!r->paused) {
                                r->paused = true;
                                limit_hit(L_PAUSED, LOG_INFO,
                                          "dashboard relay (%s, %s): the browser reads too slowly: %zu bytes wait for "
                                          "it; the broker is not read until they drain",
                                          r->peer, r->user[0] ? r->user : "-", r->to_client.len);
                        }
                }
                if (r->to_broker.len)
                        broker |= EPOLLOUT;
        }
        set_events(r->broker_io, broker);
}

static uint64_t deadline(const struct dawn_ws_relay *r)
{
        if (r->closing)
                return r->closing_since + DAWN_WS_RELAY_CLOSE_USEC;
        if (r->stage != SIGNED_IN)
                return r->started + DAWN_WS_RELAY_LOGIN_USEC;
        uint64_t idle = r->last_activity + DAWN_WS_RELAY_IDLE_USEC;
        uint64_t stalled = r->last_output + DAWN_WS_RELAY_STALL_USEC;
        return r->to_client.len && stalled < idle ? stalled : idle;
}

static void arm_timer(struct dawn_ws_relay *r)
{
        r->armed_at = deadline(r);
        sd_event_source_set_time(r->timer, r->armed_at);
        sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_ws_relay *r = userdata;
        if (now_monotonic() < deadline(r)) {
                arm_timer(r);
                return 0;
        }
        if (r->closing) {
                limit_hit(L_CLOSE, LOG_INFO, "dashboard relay (%s): the browser did not take its close frame in %d s",
                          r->peer, (int)(DAWN_WS_RELAY_CLOSE_USEC / 1000000));
                relay_end(r);
        } else if (r->stage != SIGNED_IN) {
                limit_hit(L_LOGIN, LOG_INFO, "dashboard relay (%s): no MQTT login within %d s of the upgrade: closed",
                          r->peer, (int)(DAWN_WS_RELAY_LOGIN_USEC / 1000000));
                relay_drop(r, CLOSE_POLICY, "no MQTT login in time");
        } else if (r->to_client.len && now_monotonic() >= r->last_output + DAWN_WS_RELAY_STALL_USEC) {
                limit_hit(L_UNREAD, LOG_WARNING,
                          "dashboard relay (%s, %s): the browser took nothing for %d s (%zu bytes wait for it): "
                          "closed", r->peer, r->user, (int)(DAWN_WS_RELAY_STALL_USEC / 1000000), r->to_client.len);
                relay_drop(r, CLOSE_POLICY, "output not read");
        } else {
                limit_hit(L_IDLE, LOG_INFO, "dashboard relay (%s, %s): silent for %d s: closed", r->peer, r->user,
                          (int)(DAWN_WS_RELAY_IDLE_USEC / 1000000));
                relay_drop(r, DAWN_WS_CLOSE_GOING_AWAY, "idle");
        }
        return 0;
}

/* ---- the browser's side ---- */

/* Whole frames from the client: MQTT bytes go on towards the broker.
 * Returns 0, -ENOMEM, or -ENOBUFS when the client's pongs would take its
 * output past DAWN_WS_RELAY_MAX_OUTPUT: it pings and does not read. */
static int take_frames(struct dawn_ws_relay *r)
{
        size_t at = 0;
        int e = 0;
        while (!r->closing && at < r->from_client.len && e == 0) {
                struct dawn_ws_frame f;
                /* before sign-in anyone may be at the other end: a CONNECT's worth, not a MiB */
                bool in = r->stage == SIGNED_IN;
                ssize_t n = dawn_ws_read_frame(r->from_client.data + at, r->from_client.len - at,
                                               in ? DAWN_WS_RELAY_MAX_FRAME : DAWN_WS_RELAY_LOGIN_MAX_FRAME, &f);
                if (n == 0)
                        break;
                if (n == -EMSGSIZE) {
                        limit_hit(L_TOO_BIG, LOG_INFO, "dashboard relay (%s, %s): a frame over %d bytes%s: closed",
                                  r->peer, r->user[0] ? r->user : "-",
                                  in ? DAWN_WS_RELAY_MAX_FRAME : DAWN_WS_RELAY_LOGIN_MAX_FRAME,
                                  in ? "" : " before the login");
                        relay_close(r, DAWN_WS_CLOSE_TOO_BIG, "frame too large");
                        break;
                }
                if (n < 0) {
                        relay_close(r, DAWN_WS_CLOSE_PROTOCOL_ERROR, "protocol error");
                        break;
                }
                at += (size_t)n;
                switch (f.opcode) {
                case DAWN_WS_BINARY:
                case DAWN_WS_CONTINUATION:
                        /* MQTT is a byte stream: frame boundaries mean nothing to it */
                        e = buf_append(&r->to_broker, f.payload, f.length);
                        break;
                case DAWN_WS_TEXT:
                        relay_close(r, 1003, "MQTT over WebSocket is binary");
                        break;
                case DAWN_WS_PING:
                        if (r->to_client.len + 2 + f.length >
                            (in ? DAWN_WS_RELAY_MAX_OUTPUT : DAWN_WS_RELAY_LOGIN_OUTPUT))
                                e = -ENOBUFS;
                        else
                                e = queue_frame(r, DAWN_WS_PONG, f.payload, f.length);
                        break;
                case DAWN_WS_PONG:
                        break;
                case DAWN_WS_CLOSE:
                        relay_close(r, DAWN_WS_CLOSE_NORMAL, "");
                        break;
                }
        }
        buf_consume(&r->from_client, at);
        return e;
}

int dawn_ws_relay_resolve(const char *host, int port, struct dawn_ws_relay_broker *out)
{
        char service[8];
        snprintf(service, sizeof(service), "%d", port);
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
        if (getaddrinfo(host, service, &hints, &res) != 0)
                return -EHOSTUNREACH;
        struct dawn_ws_relay_broker b = { 0 };
        for (struct addrinfo *a = res; a && b.n < DAWN_WS_RELAY_BROKER_ADDRS; a = a->ai_next) {
                if (a->ai_addrlen > sizeof(b.addr[0]))
                        continue;
                memcpy(&b.addr[b.n], a->ai_addr, a->ai_addrlen);
                b.len[b.n++] = a->ai_addrlen;
        }
        freeaddrinfo(res);
        if (b.n == 0)
                return -EHOSTUNREACH;
        *out = b;
        return (int)b.n;
}

static int on_broker(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Starts a connection to the next of the broker's addresses (socket and a
 * non-blocking connect: nothing here waits). Returns 0, or -errno of the
 * last address tried when none is left. */
static int connect_next(struct dawn_ws_relay *r)
{
        int err = -EHOSTUNREACH;
        while (r->next_addr < r->broker.n) {
                size_t i = r->next_addr++;
                int fd = socket(r->broker.addr[i].sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        err = -errno;
                        continue;
                }
                if (connect(fd, &r->broker.addr[i].sa, r->broker.len[i]) < 0 && errno != EINPROGRESS) {
                        err = -errno;
                        close(fd);
                        continue;
                }
                int e = sd_event_add_io(r->loop, &r->broker_io, fd, EPOLLOUT, on_broker, r);
                if (e < 0) {
                        close(fd);
                        return e;
                }
                r->broker_fd = fd;
                return 0;
        }
        return err;
}

/* Once the browser's CONNECT is whole: it goes to the broker with the
 * relay's client id, ahead of whatever the browser sent after it. Returns
 * 0 (also when the relay is now closing) or -ENOMEM. */
static int login(struct dawn_ws_relay *r)
{
        if (r->stage != AWAIT_CONNECT || r->closing)
                return 0;
        uint8_t random[8];
        if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
                return -errno;
        struct dawn_mqtt_connect c;
        const char *why = NULL;
        ssize_t n = dawn_mqtt_connect_rewrite(r->to_broker.data, r->to_broker.len, random, &c, &why);
        if (n == 0 || n == -ENOMEM)
                return (int)n;
        if (n < 0) {
                char reason[124];
                snprintf(reason, sizeof(reason), "MQTT CONNECT refused: %s", why);
                limit_hit(L_BAD_CONNECT, LOG_INFO, "dashboard relay (%s): %s", r->peer, reason);
                relay_close(r, n == -EMSGSIZE ? DAWN_WS_CLOSE_TOO_BIG : DAWN_WS_CLOSE_PROTOCOL_ERROR, reason);
                return 0;
        }
        struct buf b = { 0 };
        int e = buf_append(&b, c.packet, c.length);
        if (e == 0)
                e = buf_append(&b, r->to_broker.data + n, r->to_broker.len - (size_t)n);
        free(c.packet);
        if (e < 0) {
                free(b.data);
                return e;
        }
        free(r->to_broker.data);
        r->to_broker = b;
        memcpy(r->user, c.username, sizeof(r->user));
        e = connect_next(r);
        if (e < 0) {
                log_info("dashboard relay (%s): cannot reach the broker at %s:%d: %s", r->peer, r->host, r->port,
                         r->broker.n ? strerror(-e) : "its name was not found when the HTTP server started");
                relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, "the broker cannot be reached");
                return 0;
        }
        r->stage = AWAIT_CONNACK;
        log_debug("dashboard relay (%s): %s logs in as MQTT %s client %s", r->peer, c.username,
                  c.level == 5 ? "5" : "3.1.1", c.client_id);
        return 0;
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dawn_ws_relay *r = userdata;
        if (revents & (EPOLLHUP | EPOLLERR)) {
                relay_end(r); /* both ways are gone: nothing can be delivered any more */
                return 0;
        }
        if (revents & EPOLLOUT) {
                if (flush_client(r) < 0 || (r->closing && r->to_client.len == 0)) {
                        relay_end(r);
                        return 0;
                }
        }
        if ((revents & EPOLLIN) && !r->closing) {
                uint8_t chunk[16384];
                ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        relay_end(r); /* the browser went away */
                        return 0;
                }
                if (n > 0) {
                        r->last_activity = now_monotonic();
                        int e = buf_append(&r->from_client, chunk, (size_t)n);
                        if (e == 0)
                                e = take_frames(r);
                        if (e == -ENOBUFS) {
                                limit_hit(L_UNREAD, LOG_WARNING,
                                          "dashboard relay (%s, %s): the browser pings and does not read its "
                                          "pongs (%zu bytes wait for it): closed",
                                          r->peer, r->user[0] ? r->user : "-", r->to_client.len);
                                relay_drop(r, CLOSE_POLICY, "output not read");
                                return 0;
                        }
                        if (e == 0)
                                e = login(r);
                        if (e < 0) {
                                relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, "out of memory");
                        } else if (r->connected && r->to_broker.len && flush(r->broker_fd, &r->to_broker) < 0) {
                                relay_close(r, DAWN_WS_CLOSE_GOING_AWAY, "broker connection lost");
                        }
                }
        }
        update_events(r);
        return 0;
}

/* ---- the broker's side ---- */

/* The broker's first bytes: a CONNACK that accepts the login signs the
 * browser in (and its login deadline gives way to the idle limit). */
static bool read_connack(struct dawn_ws_relay *r, const uint8_t *data, size_t n)
{
        if (r->connack_read)
                return true;
        size_t k = sizeof(r->connack) - r->connack_len < n ? sizeof(r->connack) - r->connack_len : n;
        memcpy(r->connack + r->connack_len, data, k);
        r->connack_len += k;
        int c = dawn_mqtt_connack_read(r->connack, r->connack_len);
        if (c == 0)
                return true;
        r->connack_read = true;
        if (c == 1) {
                /* the owner's caps are checked here, where a relay starts to count: an upgrade that waited
                 * while the others signed in cannot take the number past them */
                enum dawn_ws_relay_admit a = r->admit(r, r->user, r->userdata);
                if (a == DAWN_WS_RELAY_FULL) {
                        limit_hit(L_FULL, LOG_WARNING, "dashboard relay (%s, %s): %d dashboards are signed in: closed",
                                  r->peer, r->user, DAWN_WS_RELAY_MAX);
                        relay_drop(r, CLOSE_TRY_AGAIN_LATER, "too many dashboards connected");
                        return false;
                }
                if (a == DAWN_WS_RELAY_LOGIN_FULL) {
                        limit_hit(L_PER_LOGIN, LOG_WARNING,
                                  "dashboard relay (%s, %s): %d dashboards are signed in with this login: closed",
                                  r->peer, r->user, DAWN_WS_RELAY_PER_LOGIN);
                        relay_drop(r, CLOSE_TRY_AGAIN_LATER, "too many dashboards with this login");
                        return false;
                }
                r->stage = SIGNED_IN;
                r->last_activity = now_monotonic();
                arm_timer(r);
                log_debug("dashboard relay (%s): %s signed in", r->peer, r->user);
        } else {
                /* the broker closes the connection itself; the page sees why in the CONNACK */
                log_info("dashboard relay (%s): the broker refused the login of '%s'", r->peer, r->user);
        }
        return true;
}

static int on_broker(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dawn_ws_relay *r = userdata;
        if (!r->connected) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
                        /* e.g. ::1 refused where the broker listens on 127.0.0.1 only: the next address */
                        err = err ? err : errno;
                        broker_side_end(r);
                        int e = connect_next(r);
                        if (e < 0) {
                                log_info("dashboard relay (%s): cannot reach the broker at %s:%d: %s", r->peer,
                                         r->host, r->port, strerror(e == -EHOSTUNREACH ? err : -e));
                                relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, "the broker cannot be reached");
                        } else {
                                update_events(r);
                        }
                        return 0;
                }
                r->connected = true;
        }
        if ((revents & EPOLLOUT) && flush(fd, &r->to_broker) < 0) {
                relay_close(r, DAWN_WS_CLOSE_GOING_AWAY, "broker connection lost");
                return 0;
        }
        if ((revents & EPOLLIN) && r->to_client.len < DAWN_WS_RELAY_MAX_BACKLOG) {
                uint8_t chunk[16384];
                ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        /* the broker hung up (it refused the login, or it stopped): the page sees the close */
                        relay_close(r, DAWN_WS_CLOSE_GOING_AWAY, "the broker closed the connection");
                        return 0;
                }
                if (n > 0) {
                        if (!read_connack(r, chunk, (size_t)n))
                                return 0; /* refused at a cap: the relay has ended */
                        if (r->to_client.len == 0)
                                r->last_output = now_monotonic(); /* the slow-reader clock starts now */
                        if (queue_frame(r, DAWN_WS_BINARY, chunk, (size_t)n) < 0) {
                                relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, "out of memory");
                                return 0;
                        }
                }
                if (flush_client(r) < 0) {
                        relay_end(r);
                        return 0;
                }
        } else if (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                /* paused (the browser reads too slowly) and the broker has gone: what it sent last is for a
                 * session that has ended */
                relay_close(r, DAWN_WS_CLOSE_GOING_AWAY, "the broker closed the connection");
                return 0;
        }
        update_events(r);
        return 0;
}

/* ---- the owner's side ---- */

int dawn_ws_relay_start(sd_event *loop, int client_fd, const char *extra, size_t extra_len, const char *host,
                        int port, const struct dawn_ws_relay_broker *broker, const char *peer,
                        dawn_ws_relay_closed_fn closed, dawn_ws_relay_admit_fn admit, void *userdata,
                        struct dawn_ws_relay **out)
{
        struct dawn_ws_relay *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->loop = loop;
        r->client_fd = client_fd;
        r->broker_fd = -1;
        r->port = port;
        r->closed = closed;
        r->admit = admit;
        r->broker = *broker;
        r->userdata = userdata;
        r->started = r->last_activity = r->last_output = now_monotonic();
        snprintf(r->peer, sizeof(r->peer), "%s", peer ? peer : "?");
        int flags = fcntl(client_fd, F_GETFL);
        if (flags >= 0)
                fcntl(client_fd, F_SETFL, flags | O_NONBLOCK);
        /* Linux grows a socket's send buffer up to net.ipv4.tcp_wmem's
         * maximum (4 MiB) for a client that does not read: a fixed one keeps
         * what the kernel holds for each dashboard in proportion to what the
         * relay itself holds. 128 KiB (the kernel doubles it) is a dozen
         * alerts per round trip. */
        int sndbuf = DAWN_WS_RELAY_SNDBUF;
        (void)setsockopt(client_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        r->host = strdup(host);
        int e = r->host ? 0 : -ENOMEM;
        if (e == 0 && extra_len)
                e = buf_append(&r->from_client, extra, extra_len);
        if (e == 0)
                e = sd_event_add_io(loop, &r->client_io, client_fd, EPOLLIN, on_client, r);
        if (e == 0)
                e = sd_event_add_time(loop, &r->timer, CLOCK_MONOTONIC, r->armed_at = deadline(r), 1000000, on_timer,
                                      r);
        if (e < 0) {
                sd_event_source_disable_unref(r->client_io);
                free(r->from_client.data);
                free(r->host);
                free(r);
                return e;
        }
        if (r->from_client.len) {
                e = take_frames(r);
                if (e == 0)
                        e = login(r);
                if (e < 0)
                        relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, e == -ENOBUFS ? "output not read" : "out of memory");
        }
        update_events(r);
        *out = r;
        return 0;
}

void dawn_ws_relay_close(struct dawn_ws_relay *r)
{
        /* shutdown: one try at a close frame, then the end */
        relay_drop(r, DAWN_WS_CLOSE_GOING_AWAY, "");
}

void dawn_ws_relay_evict(struct dawn_ws_relay *r)
{
        limit_hit(L_EVICTED, LOG_INFO,
                  "dashboard relay (%s): %d connections wait for a login: the oldest is closed for a newer one",
                  r->peer, DAWN_WS_RELAY_MAX_PENDING);
        relay_drop(r, CLOSE_TRY_AGAIN_LATER, "too many connections waiting to log in");
}

bool dawn_ws_relay_signed_in(const struct dawn_ws_relay *r)
{
        return r->stage == SIGNED_IN;
}

const char *dawn_ws_relay_user(const struct dawn_ws_relay *r)
{
        return r->user;
}
