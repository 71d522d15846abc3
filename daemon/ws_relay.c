#include "ws_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "websocket.h"

struct buf {
        uint8_t *data;
        size_t len, cap;
};

struct dawn_ws_relay {
        sd_event *loop;
        int client_fd, broker_fd;
        sd_event_source *client_io, *broker_io, *idle;
        struct buf from_client;   /* bytes of frames not yet whole */
        struct buf to_broker;     /* MQTT bytes from the client's frames */
        struct buf to_client;     /* frames of the broker's bytes, and our control frames */
        bool connected;           /* to the broker */
        bool closing;             /* a close frame is queued: flush it, then end */
        uint64_t last_activity;
        dawn_ws_relay_closed_fn closed;
        void *userdata;
};

static uint64_t now_monotonic(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

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

static void relay_end(struct dawn_ws_relay *r)
{
        r->client_io = sd_event_source_disable_unref(r->client_io);
        r->broker_io = sd_event_source_disable_unref(r->broker_io);
        r->idle = sd_event_source_disable_unref(r->idle);
        if (r->broker_fd >= 0)
                close(r->broker_fd);
        free(r->from_client.data);
        free(r->to_broker.data);
        free(r->to_client.data);
        r->closed(r, r->userdata);
        free(r);
}

static void update_events(struct dawn_ws_relay *r);

/* Says goodbye with a close frame (RFC 6455 7.4 code), then ends once it has gone. */
static void relay_close(struct dawn_ws_relay *r, uint16_t code, const char *why)
{
        if (r->closing)
                return;
        uint8_t payload[2 + 64];
        size_t n = strlen(why) < 64 ? strlen(why) : 64;
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        memcpy(payload + 2, why, n);
        r->closing = true;
        if (queue_frame(r, DAWN_WS_CLOSE, payload, 2 + n) < 0)
                r->to_client.len = 0;
        update_events(r);
}

static void update_events(struct dawn_ws_relay *r)
{
        uint32_t client = 0, broker = 0;
        if (!r->closing && r->to_broker.len < DAWN_WS_RELAY_MAX_BACKLOG)
                client |= EPOLLIN;
        if (r->to_client.len)
                client |= EPOLLOUT;
        if (!r->connected)
                broker = EPOLLOUT;
        else {
                if (!r->closing && r->to_client.len < DAWN_WS_RELAY_MAX_BACKLOG)
                        broker |= EPOLLIN;
                if (r->to_broker.len && !r->closing)
                        broker |= EPOLLOUT;
        }
        sd_event_source_set_io_events(r->client_io, client);
        if (r->broker_io)
                sd_event_source_set_io_events(r->broker_io, broker);
}

/* Whole frames from the client: MQTT bytes go on to the broker. */
static int take_frames(struct dawn_ws_relay *r)
{
        size_t at = 0;
        int e = 0;
        while (!r->closing && at < r->from_client.len) {
                struct dawn_ws_frame f;
                ssize_t n = dawn_ws_read_frame(r->from_client.data + at, r->from_client.len - at,
                                               DAWN_WS_RELAY_MAX_FRAME, &f);
                if (n == 0)
                        break;
                if (n == -EMSGSIZE) {
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
                        e = queue_frame(r, DAWN_WS_PONG, f.payload, f.length);
                        break;
                case DAWN_WS_PONG:
                        break;
                case DAWN_WS_CLOSE:
                        relay_close(r, DAWN_WS_CLOSE_NORMAL, "");
                        break;
                }
                if (e < 0)
                        return e;
        }
        buf_consume(&r->from_client, at);
        return 0;
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

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dawn_ws_relay *r = userdata;
        if (revents & EPOLLOUT) {
                if (flush(fd, &r->to_client) < 0) {
                        relay_end(r);
                        return 0;
                }
                if (r->closing && r->to_client.len == 0) {
                        relay_end(r);
                        return 0;
                }
        }
        if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !r->closing) {
                uint8_t chunk[16384];
                ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        relay_end(r); /* the browser went away */
                        return 0;
                }
                if (n > 0) {
                        r->last_activity = now_monotonic();
                        if (buf_append(&r->from_client, chunk, (size_t)n) < 0 || take_frames(r) < 0) {
                                relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, "out of memory");
                                return 0;
                        }
                        if (r->connected && r->to_broker.len && flush(r->broker_fd, &r->to_broker) < 0) {
                                relay_close(r, DAWN_WS_CLOSE_GOING_AWAY, "broker connection lost");
                                return 0;
                        }
                }
        }
        update_events(r);
        return 0;
}

static int on_broker(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dawn_ws_relay *r = userdata;
        if (!r->connected) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
                        log_info("dashboard relay: cannot reach the broker: %s", strerror(err ? err : errno));
                        relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, "the broker cannot be reached");
                        return 0;
                }
                r->connected = true;
        }
        if ((revents & EPOLLOUT) && flush(fd, &r->to_broker) < 0) {
                relay_close(r, DAWN_WS_CLOSE_GOING_AWAY, "broker connection lost");
                return 0;
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                uint8_t chunk[16384];
                ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        /* the broker hung up (it refused the login, or it stopped): the page sees the close */
                        relay_close(r, DAWN_WS_CLOSE_GOING_AWAY, "the broker closed the connection");
                        return 0;
                }
                if (n > 0 && queue_frame(r, DAWN_WS_BINARY, chunk, (size_t)n) < 0) {
                        relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, "out of memory");
                        return 0;
                }
                if (flush(r->client_fd, &r->to_client) < 0) {
                        relay_end(r);
                        return 0;
                }
        }
        update_events(r);
        return 0;
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_ws_relay *r = userdata;
        if (r->closing) {
                relay_end(r); /* the close frame could not be delivered in a whole idle period */
                return 0;
        }
        uint64_t now = now_monotonic();
        if (now - r->last_activity >= DAWN_WS_RELAY_IDLE_USEC) {
                relay_close(r, DAWN_WS_CLOSE_GOING_AWAY, "idle");
                sd_event_source_set_time(s, now + DAWN_WS_RELAY_IDLE_USEC);
        } else {
                sd_event_source_set_time(s, r->last_activity + DAWN_WS_RELAY_IDLE_USEC);
        }
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int connect_broker(const char *host, int port)
{
        char service[8];
        snprintf(service, sizeof(service), "%d", port);
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
        /* numeric in every config DAWN ships; a name is looked up here, once per dashboard connection */
        int e = getaddrinfo(host, service, &hints, &res);
        if (e != 0)
                return -EHOSTUNREACH;
        int fd = -1, r = -EHOSTUNREACH;
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
                        r = 0;
                        break;
                }
                r = -errno;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        return r < 0 ? r : fd;
}

int dawn_ws_relay_start(sd_event *loop, int client_fd, const char *extra, size_t extra_len, const char *host,
                        int port, dawn_ws_relay_closed_fn closed, void *userdata, struct dawn_ws_relay **out)
{
        struct dawn_ws_relay *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->loop = loop;
        r->client_fd = client_fd;
        r->closed = closed;
        r->userdata = userdata;
        r->last_activity = now_monotonic();
        int flags = fcntl(client_fd, F_GETFL);
        if (flags >= 0)
                fcntl(client_fd, F_SETFL, flags | O_NONBLOCK);
        r->broker_fd = connect_broker(host, port);
        int e = r->broker_fd < 0 ? r->broker_fd : 0;
        if (e == 0 && extra_len)
                e = buf_append(&r->from_client, extra, extra_len);
        if (e == 0)
                e = sd_event_add_io(loop, &r->client_io, client_fd, EPOLLIN, on_client, r);
        if (e == 0)
                e = sd_event_add_io(loop, &r->broker_io, r->broker_fd, EPOLLOUT, on_broker, r);
        if (e == 0)
                e = sd_event_add_time(loop, &r->idle, CLOCK_MONOTONIC, r->last_activity + DAWN_WS_RELAY_IDLE_USEC,
                                      1000000, on_idle, r);
        if (e < 0) {
                sd_event_source_disable_unref(r->client_io);
                sd_event_source_disable_unref(r->broker_io);
                if (r->broker_fd >= 0)
                        close(r->broker_fd);
                free(r->from_client.data);
                free(r);
                return e;
        }
        if (r->from_client.len && take_frames(r) < 0) {
                relay_close(r, DAWN_WS_CLOSE_SERVER_ERROR, "out of memory");
        }
        update_events(r);
        *out = r;
        return 0;
}

void dawn_ws_relay_close(struct dawn_ws_relay *r)
{
        /* shutdown: one try at a close frame, then end at once */
        uint8_t payload[2] = { DAWN_WS_CLOSE_GOING_AWAY >> 8, DAWN_WS_CLOSE_GOING_AWAY & 0xff };
        if (!r->closing && queue_frame(r, DAWN_WS_CLOSE, payload, sizeof(payload)) == 0)
                flush(r->client_fd, &r->to_client);
        relay_end(r);
}
