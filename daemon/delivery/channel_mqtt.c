/* The MQTT channel: libmosquitto driven from the sd-event loop.
 *
 * libmosquitto runs in its "external loop" mode: its socket is watched with
 * an sd-event io source (EPOLLIN always, EPOLLOUT while it has bytes queued)
 * and a 1 s timer drives keepalive pings, connect timeouts and reconnects.
 *
 * Connecting. mosquitto_connect_async() is used although its documentation
 * says it needs the threaded interface: that note dates from 1.x, whose
 * loop thread redid a blocking connect. In 2.0 (lib/connect.c) it is
 * mosquitto__reconnect(mosq, blocking=false): the socket is made
 * non-blocking before connect(), EINPROGRESS is accepted, and the CONNECT
 * packet is queued; packet__write treats EAGAIN on the still-connecting
 * socket as "try later", so the packet goes out from loop_write once the
 * socket is writable, and a refused connection shows up as an error from
 * loop_read/loop_write (EPOLLERR/EPOLLHUP). The loop therefore never waits
 * for a slow or unreachable broker. Name resolution (getaddrinfo) is still
 * synchronous: configure an address, or a name in /etc/hosts. Only the
 * first address of a name is tried.
 *
 * Delivery. A delivery is DELIVERED only once the broker has PUBACKed every
 * message it sent (a withdrawal is two). Message ids index a table of 65536
 * slots (MQTT ids are 16 bits). When the connection goes, everything not yet
 * acknowledged is completed TRANSIENT and the outbox sends it again:
 * duplicates are possible, loss is not.
 *
 * A new client per connection. libmosquitto keeps unacknowledged QoS 1
 * messages in memory across reconnects whatever the clean-session flag says
 * (message__reconnect_reset keeps msgs_out) and resends them after the next
 * CONNACK (handle__connack -> message__retry_check). The outbox already
 * resends those deliveries, so such a resend would be a second, stale copy
 * arriving out of order with newer revisions. So every connection attempt
 * gets a fresh struct mosquitto; the old one, with whatever it still held,
 * is destroyed.
 *
 * A session the broker keeps (clean_session false, under the stable
 * client_id). It is what lets MQTT ingest survive dawnd's absence: a
 * partner's report published while dawnd restarts (an upgrade, a crash, a
 * reload that changed channels.mqtt) waits in the broker's queue for this
 * session and arrives after the next CONNACK; with a clean session it would
 * go to no subscriber and vanish without a word to anyone. It changes
 * nothing for what dawnd publishes: dawnd subscribes to no alert topic, so
 * the retained alerts and their clearing stay the broker's business; the
 * broker keeps no session state for a QoS 1 PUBLISH it has acknowledged;
 * and a QoS 2 message id the fresh client reuses with other content is
 * cleared by mosquitto ("Reused message ID ... Clearing from storage").
 * The costs: the broker queues for dawnd while it is away (bounded by its
 * max_queued_messages, on disk only with its persistence), and filters an
 * older configuration subscribed stay in the session, so messages are
 * checked against today's filters before anyone hears of them.
 * Subscriptions are still made after every CONNACK: a broker restarted
 * without persistence has forgotten the session.
 *
 * The way in. An incoming QoS 1 message is acknowledged by libmosquitto
 * before dawnd has stored what it says (the callback only records it, and
 * the PUBACK goes out from the same call). A crash in between loses the
 * report; the partner then hears no result, and a resend with the same
 * source_ref is harmless. Answers (dawn_channel_mqtt_publish) take message
 * id slots of their own kind, so that their PUBACKs are never taken for a
 * delivery's, and count against the window like deliveries.
 *
 * Flow control. libmosquitto queues publishes beyond its send maximum
 * (default 20) and sends them as acknowledgements come back. We set it to
 * the 16-bit maximum so that every publish goes to the socket at once, and
 * bound what is in flight ourselves (MQTT_WINDOW): that also keeps message
 * ids from wrapping onto ones still in flight. Past the window ready() is
 * false and send() says -EAGAIN until half of it has drained.
 *
 * TLS (channels.mqtt.tls, mqtt_tls.h). Each fresh client gets the same
 * settings from dawn_mqtt_tls_apply(). The handshake runs inside
 * libmosquitto on the same non-blocking socket; its own loop moves it on
 * by calling net__socket_connect_tls when the socket is writable, which in
 * this external loop is mosquitto_loop_read (see on_io). Why TLS failed is
 * only in libmosquitto's log, which on_mosq_log keeps for the reason shown
 * by status and the log.
 *
 * Callbacks. libmosquitto's callbacks only record what happened (CONNACK,
 * disconnect, PUBACK, SUBACK, a message); the driver acts on it after the
 * libmosquitto call has returned (after_call), so neither the outbox nor
 * the listener is ever re-entered from inside libmosquitto, and the outbox
 * never from send().
 */
#include "ca_file.h"
#include "channel.h"
#include "clock.h"
#include "log.h"
#include "mqtt_tls.h"
#include "str.h"

#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define MQTT_TICK_USEC DAWN_USEC_PER_SEC
#define MQTT_BACKOFF_MIN_SEC 1u
#define MQTT_BACKOFF_MAX_SEC 30u
#define MQTT_SLOTS 65536u          /* one per possible message id */
#define MQTT_WINDOW 16384u         /* messages in flight at most */
/* EPOLLOUT wakeups per tick after which a write that leaves data queued
 * counts as a spin (mosquitto #3745: want_write stuck true) and EPOLLOUT
 * is dropped until the next tick. Real traffic stays far below: each real
 * wakeup follows the kernel freeing a third of the socket buffer. */
#define MQTT_MAX_WRITE_STALLS 1024u
#define MQTT_STOP_FLUSH_MSEC 500
#define MQTT_LOST_ERROR "broker connection lost"

enum mqtt_conn {
        MQTT_IDLE,          /* no connection; retry_at says when to try */
        MQTT_CONNECTING,    /* socket open, waiting for CONNACK */
        MQTT_CONNECTED,     /* CONNACK received */
};

/* SLOT_ANSWER: a message of dawn_channel_mqtt_publish(), which nobody
 * waits for; its slot only keeps the id from being reused while in flight. */
enum mqtt_slot_state { SLOT_FREE, SLOT_INFLIGHT, SLOT_ACKED, SLOT_ANSWER };

struct mqtt_slot {
        int64_t delivery_id;
        uint16_t partner;   /* the other message of a withdrawal, 0 if none */
        uint16_t next;      /* next in the acked list, 0 at its end */
        uint8_t state;      /* enum mqtt_slot_state */
        bool poisoned;      /* its id was reused while in flight: ignore acks */
};

/* A message that arrived, kept until after_call() hands it on. */
struct mqtt_inbound {
        struct mqtt_inbound *next;
        char *topic;
        void *payload;
        size_t len;
        bool retained;
};

struct mqtt_state {
        struct dawn_channel *ch;
        sd_event *loop;
        sd_event_source *timer;
        sd_event_source *io;
        struct mosquitto *mosq;

        char *host, *client_id, *username, *password, *status_topic;
        int port, keepalive, qos;
        struct dawn_mqtt_tls tls;
        char tls_error[128];        /* what libmosquitto logged of a TLS failure this attempt */

        enum mqtt_conn conn;
        unsigned backoff_sec;
        uint64_t retry_at;          /* CLOCK_MONOTONIC usec */
        uint64_t attempt_at;
        bool failing;               /* the last attempt failed: log repeats quietly */
        char reason[160];           /* why the last connection ended */
        char describe_buf[512];

        /* recorded by libmosquitto callbacks, handled by after_call() */
        bool got_connack, lost, stopping;
        int connack_rc;

        unsigned write_stalls;
        bool write_throttled;

        struct mqtt_slot *slots;
        unsigned n_slots;           /* slots not free */
        uint16_t acked_head, acked_tail;
        bool window_full;           /* ready() is false for lack of room */

        /* the way in (dawn_channel_mqtt_listen) */
        char **filters;
        size_t n_filters;
        dawn_mqtt_message_fn on_message;
        void *message_userdata;
        struct mqtt_inbound *inbound_head, **inbound_tail;
        unsigned inbound_dropped;   /* could not be copied (out of memory) */
        bool subscribe_refused;     /* a SUBACK said no to a filter */
};

static uint64_t now_usec(struct mqtt_state *st)
{
        uint64_t now = 0;
        if (sd_event_now(st->loop, CLOCK_MONOTONIC, &now) < 0)
                now = (uint64_t)dawn_monotonic_usec();
        return now;
}

/* A libmosquitto result as -errno; errno must still be the one it left. */
static int mosq_errno(int rc)
{
        switch (rc) {
        case MOSQ_ERR_SUCCESS: return 0;
        case MOSQ_ERR_NOMEM: return -ENOMEM;
        case MOSQ_ERR_NO_CONN: return -ENOTCONN;
        case MOSQ_ERR_CONN_LOST: return -ECONNRESET;
        case MOSQ_ERR_CONN_REFUSED: return -ECONNREFUSED;
        case MOSQ_ERR_INVAL:
        case MOSQ_ERR_MALFORMED_UTF8:
        case MOSQ_ERR_QOS_NOT_SUPPORTED: return -EINVAL;
        case MOSQ_ERR_PAYLOAD_SIZE:
        case MOSQ_ERR_OVERSIZE_PACKET: return -EMSGSIZE;
        case MOSQ_ERR_PROTOCOL: return -EPROTO;
        case MOSQ_ERR_ERRNO: return errno > 0 ? -errno : -EIO;
        default: return -EIO;
        }
}

/* libmosquitto's messages end with a full stop; ours go mid-sentence. */
static void copy_reason(struct mqtt_state *st, const char *text)
{
        size_t n = strlen(text);
        while (n > 0 && text[n - 1] == '.')
                n--;
        snprintf(st->reason, sizeof(st->reason), "%.*s", (int)n, text);
}

/* Call it before anything that may change errno. */
static void set_reason(struct mqtt_state *st, int rc)
{
        int err = errno;
        if (st->reason[0])
                return; /* the first cause is the interesting one */
        /* A TLS failure may also come back as a lost connection (a broker
         * that wanted a client certificate says so in an alert after the
         * handshake): what libmosquitto logged says more than the code. */
        if (st->tls.enabled && st->tls_error[0] && rc != MOSQ_ERR_SUCCESS)
                snprintf(st->reason, sizeof(st->reason), "TLS: %s", st->tls_error);
        else
                copy_reason(st, rc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(rc));
}

/* ---- message id slots ---- */

static void slot_free(struct mqtt_state *st, uint16_t mid)
{
        st->slots[mid] = (struct mqtt_slot){ 0 };
        st->n_slots--;
}

/* Remembers that message mid belongs to delivery id (state SLOT_INFLIGHT),
 * or is an answer (SLOT_ANSWER, id 0). Returns -EBUSY when the id is still
 * in use: the broker's PUBACK could then belong to either message, so the
 * old one is poisoned and the connection is dropped, which completes it
 * TRANSIENT; the caller returns an error for the new one. */
static int slot_track(struct mqtt_state *st, int mid, int64_t id, enum mqtt_slot_state state)
{
        if (mid <= 0 || (unsigned)mid >= MQTT_SLOTS)
                return -EPROTO;
        struct mqtt_slot *s = &st->slots[mid];
        if (s->state != SLOT_FREE) {
                s->poisoned = true;
                snprintf(st->reason, sizeof(st->reason), "message id %d reused while in flight", mid);
                st->lost = true;
                return -EBUSY;
        }
        *s = (struct mqtt_slot){ .delivery_id = id, .state = (uint8_t)state };
        st->n_slots++;
        return 0;
}

static void acked_push(struct mqtt_state *st, uint16_t mid)
{
        st->slots[mid].state = SLOT_ACKED;
        st->slots[mid].next = 0;
        if (st->acked_tail)
                st->slots[st->acked_tail].next = mid;
        else
                st->acked_head = mid;
        st->acked_tail = mid;
}

/* A withdrawal is done when both its messages are acknowledged: the first
 * ack only unlinks it from its partner. */
static void slot_ack(struct mqtt_state *st, int mid)
{
        if (mid <= 0 || (unsigned)mid >= MQTT_SLOTS)
                return;
        struct mqtt_slot *s = &st->slots[mid];
        if (s->state == SLOT_ANSWER && !s->poisoned) {
                slot_free(st, (uint16_t)mid);
                return;
        }
        if (s->state != SLOT_INFLIGHT || s->poisoned)
                return; /* "online"/"offline", or a message already given up */
        if (s->partner) {
                struct mqtt_slot *p = &st->slots[s->partner];
                if (p->state == SLOT_INFLIGHT && p->delivery_id == s->delivery_id) {
                        p->partner = 0;
                        slot_free(st, (uint16_t)mid);
                        return;
                }
        }
        acked_push(st, (uint16_t)mid);
}

/* Reports acknowledged deliveries. Each slot leaves the list before the
 * outbox hears of it, so the outbox may call send() from on_complete. */
static void flush_acked(struct mqtt_state *st)
{
        while (st->acked_head) {
                uint16_t mid = st->acked_head;
                int64_t id = st->slots[mid].delivery_id;
                st->acked_head = st->slots[mid].next;
                if (!st->acked_head)
                        st->acked_tail = 0;
                slot_free(st, mid);
                dawn_channel_complete(st->ch, id, DAWN_SEND_DELIVERED, NULL, 0);
        }
}

/* Everything still unacknowledged goes back to the outbox; answers are
 * forgotten (best effort). conn is already MQTT_IDLE, so a send() from
 * on_complete says -EAGAIN and takes no slot. */
static void fail_inflight(struct mqtt_state *st)
{
        for (unsigned mid = 1; mid < MQTT_SLOTS && st->n_slots; mid++) {
                struct mqtt_slot *s = &st->slots[mid];
                if (s->state == SLOT_ANSWER)
                        slot_free(st, (uint16_t)mid);
                if (s->state != SLOT_INFLIGHT)
                        continue;
                int64_t id = s->delivery_id;
                uint16_t partner = s->partner;
                slot_free(st, (uint16_t)mid);
                if (partner && st->slots[partner].state == SLOT_INFLIGHT &&
                    st->slots[partner].delivery_id == id)
                        slot_free(st, partner);
                dawn_channel_complete(st->ch, id, DAWN_SEND_TRANSIENT, MQTT_LOST_ERROR, 0);
        }
}

/* ---- libmosquitto callbacks: record only ---- */

static void on_mosq_connect(struct mosquitto *mosq, void *userdata, int rc)
{
        struct mqtt_state *st = userdata;
        (void)mosq;
        st->got_connack = true;
        st->connack_rc = rc;
        if (rc != 0)
                copy_reason(st, mosquitto_connack_string(rc));
}

static void on_mosq_disconnect(struct mosquitto *mosq, void *userdata, int rc)
{
        struct mqtt_state *st = userdata;
        (void)mosq;
        if (st->stopping)
                return;
        set_reason(st, rc == MOSQ_ERR_SUCCESS ? MOSQ_ERR_CONN_LOST : rc);
        st->lost = true;
}

static void on_mosq_publish(struct mosquitto *mosq, void *userdata, int mid)
{
        (void)mosq;
        slot_ack(userdata, mid);
}

static void on_mosq_subscribe(struct mosquitto *mosq, void *userdata, int mid, int qos_count,
                              const int *granted_qos)
{
        struct mqtt_state *st = userdata;
        (void)mosq;
        (void)mid;
        for (int i = 0; i < qos_count; i++)
                if (granted_qos[i] < 0 || granted_qos[i] > 2)
                        st->subscribe_refused = true; /* 0x80: the broker's ACL said no */
}

static void inbound_free(struct mqtt_inbound *m)
{
        if (!m)
                return;
        free(m->topic);
        free(m->payload);
        free(m);
}

/* libmosquitto frees its message when this returns: keep a copy. */
static void on_mosq_message(struct mosquitto *mosq, void *userdata, const struct mosquitto_message *msg)
{
        struct mqtt_state *st = userdata;
        (void)mosq;
        size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
        struct mqtt_inbound *m = calloc(1, sizeof(*m));
        if (m) {
                m->topic = strdup(msg->topic);
                m->payload = malloc(len + 1); /* +1: a terminating NUL, for whoever prints it */
                m->len = len;
                m->retained = msg->retain;
        }
        if (!m || !m->topic || !m->payload) {
                inbound_free(m);
                st->inbound_dropped++;
                return;
        }
        if (len)
                memcpy(m->payload, msg->payload, len);
        ((char *)m->payload)[len] = '\0';
        *st->inbound_tail = m;
        st->inbound_tail = &m->next;
}

/* libmosquitto says why TLS failed only in its log ("A TLS error occurred"
 * is all its result code gives): keep the first error of the attempt, with
 * OpenSSL's reason when one follows, e.g. "OpenSSL: certificate verify
 * failed". Its messages name files, never what is in them. */
static void on_mosq_log(struct mosquitto *mosq, void *userdata, int level, const char *text)
{
        struct mqtt_state *st = userdata;
        size_t used = strlen(st->tls_error);
        (void)mosq;

        if (level != MOSQ_LOG_ERR || !text)
                return;
        if (strncmp(text, "OpenSSL Error[", 14) == 0) {
                /* "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed" */
                const char *why = strrchr(text, ':');
                if (!why || strstr(st->tls_error, "OpenSSL: "))
                        return;
                snprintf(st->tls_error + used, sizeof(st->tls_error) - used, "%sOpenSSL: %s", used ? "; " : "",
                         why + 1);
        } else if (!used) {
                size_t n;
                if (strncmp(text, "Error: ", 7) == 0)
                        text += 7;
                n = strlen(text);
                while (n > 0 && text[n - 1] == '.')
                        n--; /* ours go mid-sentence */
                snprintf(st->tls_error, sizeof(st->tls_error), "%.*s", (int)(n < INT_MAX ? n : 0), text);
        }
}

/* ---- connection ---- */

/* How the broker is spoken to, for every line that names it: an operator
 * reading "cannot connect" must see at once whether TLS is in play. */
static const char *tls_note(const struct mqtt_state *st)
{
        return st->tls.enabled ? " over TLS" : " without TLS";
}

static void update_io(struct mqtt_state *st)
{
        if (!st->io || !st->mosq)
                return;
        uint32_t events = EPOLLIN;
        if (!st->write_throttled && mosquitto_want_write(st->mosq))
                events |= EPOLLOUT;
        (void)sd_event_source_set_io_events(st->io, events);
}

static void drop_client(struct mqtt_state *st)
{
        /* The io source goes first: libmosquitto may already have closed
         * the fd, and nothing may reuse the number before epoll forgets it. */
        st->io = sd_event_source_disable_unref(st->io);
        if (st->mosq)
                mosquitto_destroy(st->mosq);
        st->mosq = NULL;
        st->got_connack = false;
        st->lost = false;
        st->write_stalls = 0;
        st->write_throttled = false;
}

static void schedule_retry(struct mqtt_state *st)
{
        unsigned delay = st->backoff_sec ? st->backoff_sec : MQTT_BACKOFF_MIN_SEC;
        st->retry_at = now_usec(st) + delay * DAWN_USEC_PER_SEC;
        st->backoff_sec = delay * 2 > MQTT_BACKOFF_MAX_SEC ? MQTT_BACKOFF_MAX_SEC : delay * 2;
        st->conn = MQTT_IDLE;
}

static void log_down(struct mqtt_state *st, bool was_connected, unsigned delay)
{
        if (was_connected)
                log_warning("MQTT: lost connection to %s:%d%s: %s; reconnecting in %us", st->host,
                            st->port, tls_note(st), st->reason, delay);
        else if (!st->failing)
                log_warning("MQTT: cannot connect to %s:%d%s: %s; retrying in %us", st->host, st->port,
                            tls_note(st), st->reason, delay);
        else
                log_debug("MQTT: still cannot connect to %s:%d%s: %s; retrying in %us", st->host,
                          st->port, tls_note(st), st->reason, delay);
        st->failing = true;
}

static void connection_lost(struct mqtt_state *st)
{
        bool was_connected = st->conn == MQTT_CONNECTED;
        if (!st->reason[0])
                snprintf(st->reason, sizeof(st->reason), "connection closed");
        drop_client(st);
        unsigned delay = st->backoff_sec ? st->backoff_sec : MQTT_BACKOFF_MIN_SEC;
        schedule_retry(st);
        log_down(st, was_connected, delay);
        /* PUBACKs read before the loss still count. */
        flush_acked(st);
        fail_inflight(st);
        st->window_full = false;
}

static int client_new(struct mqtt_state *st)
{
        st->mosq = mosquitto_new(st->client_id, false, st); /* a kept session: see the top of the file */
        if (!st->mosq)
                return errno > 0 ? -errno : -ENOMEM;
        int rc = mosquitto_int_option(st->mosq, MOSQ_OPT_SEND_MAXIMUM, UINT16_MAX);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_int_option(st->mosq, MOSQ_OPT_TCP_NODELAY, 1);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_will_set(st->mosq, st->status_topic, (int)strlen("offline"),
                                        "offline", 1, true);
        if (rc == MOSQ_ERR_SUCCESS && st->username)
                rc = mosquitto_username_pw_set(st->mosq, st->username, st->password);
        if (rc == MOSQ_ERR_SUCCESS) {
                rc = dawn_mqtt_tls_apply(st->mosq, &st->tls);
                /* libmosquitto opens the files to check them and says only
                 * "invalid arguments": config.c read them, but perhaps as
                 * another user, or they have changed since */
                if (rc == MOSQ_ERR_INVAL)
                        snprintf(st->reason, sizeof(st->reason),
                                 "TLS: cannot read channels.mqtt's ca_file, cert_file or key_file");
        }
        if (rc != MOSQ_ERR_SUCCESS) {
                int r = mosq_errno(rc);
                mosquitto_destroy(st->mosq);
                st->mosq = NULL;
                return r;
        }
        mosquitto_connect_callback_set(st->mosq, on_mosq_connect);
        mosquitto_disconnect_callback_set(st->mosq, on_mosq_disconnect);
        mosquitto_publish_callback_set(st->mosq, on_mosq_publish);
        mosquitto_subscribe_callback_set(st->mosq, on_mosq_subscribe);
        mosquitto_message_callback_set(st->mosq, on_mosq_message);
        mosquitto_log_callback_set(st->mosq, on_mosq_log);
        return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int connect_start(struct mqtt_state *st)
{
        int r = client_new(st);
        if (r < 0)
                return r;
        int rc = mosquitto_connect_async(st->mosq, st->host, st->port, st->keepalive);
        if (rc != MOSQ_ERR_SUCCESS) {
                r = mosq_errno(rc);
                set_reason(st, rc);
                return r;
        }
        r = sd_event_add_io(st->loop, &st->io, mosquitto_socket(st->mosq), EPOLLIN, on_io, st);
        if (r < 0)
                return r;
        st->conn = MQTT_CONNECTING;
        st->attempt_at = now_usec(st);
        update_io(st);
        return 0;
}

static void connect_attempt(struct mqtt_state *st)
{
        st->reason[0] = '\0';
        st->tls_error[0] = '\0';
        log_debug("MQTT: connecting to %s:%d%s", st->host, st->port, tls_note(st));
        int r = connect_start(st);
        if (r >= 0)
                return;
        if (!st->reason[0])
                snprintf(st->reason, sizeof(st->reason), "%s", strerror(-r));
        connection_lost(st);
}

/* After every CONNACK, session or not: a broker restarted without
 * persistence has forgotten it. A listener that cannot subscribe would sit
 * connected and deaf, so a failure here ends the connection, and the next
 * one tries again. */
static void subscribe_filters(struct mqtt_state *st)
{
        if (!st->n_filters || st->conn != MQTT_CONNECTED || st->lost || !st->mosq)
                return;
        int rc = mosquitto_subscribe_multiple(st->mosq, NULL, (int)st->n_filters, st->filters, 1, 0, NULL);
        if (rc == MOSQ_ERR_SUCCESS)
                return;
        log_warning("MQTT: cannot subscribe to %s and %zu more filter(s): %s; reconnecting", st->filters[0],
                    st->n_filters - 1, mosquitto_strerror(rc));
        set_reason(st, rc);
        st->lost = true;
}

static void connack(struct mqtt_state *st)
{
        st->got_connack = false;
        if (st->connack_rc != 0) {
                st->lost = true; /* the reason was set by on_mosq_connect */
                return;
        }
        st->conn = MQTT_CONNECTED;
        st->backoff_sec = MQTT_BACKOFF_MIN_SEC;
        st->failing = false;
        st->reason[0] = '\0';
        log_info("MQTT: connected to %s:%d%s", st->host, st->port, tls_note(st));
        /* subscribe first: the broker takes one client's packets in order,
         * so whoever sees "online" knows that what it publishes is heard */
        subscribe_filters(st);
        int rc = mosquitto_publish(st->mosq, NULL, st->status_topic, (int)strlen("online"), "online",
                                   1, true);
        if (rc != MOSQ_ERR_SUCCESS)
                log_warning("MQTT: cannot publish %s: %s", st->status_topic, mosquitto_strerror(rc));
        update_io(st);
        dawn_channel_ready_changed(st->ch);
}

/* A shared subscription's filter, "$share/<group>/<filter>", matches what its
 * filter matches: the messages arrive under their own topics. */
static const char *filter_of(const char *sub)
{
        if (strncmp(sub, "$share/", 7) != 0)
                return sub;
        const char *slash = strchr(sub + 7, '/');
        return slash ? slash + 1 : sub;
}

static bool listening_to(const struct mqtt_state *st, const char *topic)
{
        for (size_t i = 0; i < st->n_filters; i++) {
                bool match = false;
                if (mosquitto_topic_matches_sub(filter_of(st->filters[i]), topic, &match) == MOSQ_ERR_SUCCESS &&
                    match)
                        return true;
        }
        return false;
}

/* Hands what arrived to the listener, in order. A topic that matches none
 * of today's filters was subscribed by an older configuration (the session
 * keeps its subscriptions) and is nobody's business now. */
static void deliver_inbound(struct mqtt_state *st)
{
        if (st->inbound_dropped) {
                log_error("MQTT: %u incoming message(s) lost: out of memory", st->inbound_dropped);
                st->inbound_dropped = 0;
        }
        if (st->subscribe_refused) {
                log_warning("MQTT: the broker refused a subscription to %s%s: partner reports and "
                            "acknowledgements will not arrive; check the broker's ACL for %s",
                            st->n_filters ? st->filters[0] : "?", st->n_filters > 1 ? " or another filter" : "",
                            st->username ? st->username : "anonymous clients");
                st->subscribe_refused = false;
        }
        while (st->inbound_head) {
                struct mqtt_inbound *m = st->inbound_head;
                st->inbound_head = m->next;
                if (!st->inbound_head)
                        st->inbound_tail = &st->inbound_head;
                if (st->on_message && listening_to(st, m->topic))
                        st->on_message(m->topic, m->payload, m->len, m->retained, st->message_userdata);
                else
                        log_debug("MQTT: ignoring a message on %s: no longer listening there", m->topic);
                inbound_free(m);
        }
}

/* Acts on what the callbacks recorded during the last libmosquitto call. */
static void after_call(struct mqtt_state *st)
{
        if (st->mosq && st->io && !st->lost && mosquitto_socket(st->mosq) < 0)
                st->lost = true; /* closed without telling us: treat as lost */
        if (!st->lost && st->got_connack)
                connack(st);
        if (st->lost) {
                connection_lost(st);
        } else {
                flush_acked(st);
                update_io(st);
                if (st->window_full && st->n_slots <= MQTT_WINDOW / 2) {
                        st->window_full = false;
                        dawn_channel_ready_changed(st->ch);
                }
        }
        /* last: what arrived before a loss was acknowledged to the broker
         * and is as real as ever */
        deliver_inbound(st);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct mqtt_state *st = userdata;
        int rc = MOSQ_ERR_SUCCESS;
        (void)s;
        (void)fd;

        if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP))
                rc = mosquitto_loop_read(st->mosq, 1);
        else if (st->tls.enabled && st->conn == MQTT_CONNECTING && (revents & EPOLLOUT))
                /* A TLS handshake that waits to write moves on in loop_read
                 * (net__socket_connect_tls), not loop_write, which sends
                 * nothing until it is done: libmosquitto's own loop does
                 * the same on writability. Afterwards, a read that finds
                 * nothing is harmless. */
                rc = mosquitto_loop_read(st->mosq, 1);
        /* A handshake that fails returns its error without the disconnect
         * callback: the connection is lost all the same. */
        if (rc != MOSQ_ERR_SUCCESS && !st->lost && !st->stopping) {
                set_reason(st, rc);
                st->lost = true;
        }
        if (rc == MOSQ_ERR_SUCCESS && !st->lost && st->mosq && (revents & EPOLLOUT)) {
                mosquitto_loop_write(st->mosq, 1);
                /* Never spin: see MQTT_MAX_WRITE_STALLS. */
                if (!st->lost && mosquitto_want_write(st->mosq) &&
                    ++st->write_stalls >= MQTT_MAX_WRITE_STALLS)
                        st->write_throttled = true;
        }
        after_call(st);
        return 0;
}

/* No CONNACK within the keepalive period: the broker is not answering. */
static void check_connect_timeout(struct mqtt_state *st, uint64_t now)
{
        if (st->conn == MQTT_CONNECTING &&
            now - st->attempt_at >= (uint64_t)st->keepalive * DAWN_USEC_PER_SEC) {
                snprintf(st->reason, sizeof(st->reason), "no answer within %ds", st->keepalive);
                st->lost = true;
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct mqtt_state *st = userdata;
        uint64_t now = now_usec(st);
        (void)usec;

        (void)sd_event_source_set_time_relative(s, MQTT_TICK_USEC);
        st->write_stalls = 0;
        st->write_throttled = false;
        if (st->mosq) {
                check_connect_timeout(st, now);
                if (!st->lost)
                        mosquitto_loop_misc(st->mosq); /* keepalive; may find the link dead */
                after_call(st);
        } else if (st->conn == MQTT_IDLE && now >= st->retry_at) {
                connect_attempt(st);
        }
        return 0;
}

/* ---- sending ---- */

static int publish(struct mqtt_state *st, const char *topic, const char *payload, bool retain,
                   int *mid)
{
        size_t len = strlen(payload);
        if (len > INT_MAX)
                return -EMSGSIZE;
        int rc = mosquitto_publish(st->mosq, mid, topic, (int)len, len ? payload : NULL, st->qos,
                                   retain);
        return mosq_errno(rc);
}

/* An alert is retained: its topic holds its latest revision for every
 * dashboard that connects later. A review notice is not: it is news for
 * whoever watches now, and retained it would greet dashboards long after
 * the report was approved or rejected. */
static int send_publish(struct mqtt_state *st, const struct dawn_delivery *d, bool retain)
{
        int mid = 0;
        int r = publish(st, d->recipient, d->alert_json, retain, &mid);
        if (r < 0)
                return r;
        return slot_track(st, mid, d->id, SLOT_INFLIGHT);
}

/* The final state (not retained, so late subscribers do not see a dead
 * alert), then an empty retained message, which clears the topic. */
/* A subscriber's retained acknowledgements of a withdrawn alert go with it
 * (.../subscribers/<id>/alerts/<alert> -> .../subscribers/<id>/acks/<alert>):
 * otherwise they would be retained for ever. Best effort, outside the
 * delivery: dawnd has them in its store already, and a dashboard ignores
 * acks of alerts it does not show. */
static void clear_acks(struct mqtt_state *st, const char *alert_topic)
{
        const char *at = strstr(alert_topic, "/alerts/");
        if (!at || !strstr(alert_topic, "/subscribers/") || st->n_slots + 1 > MQTT_WINDOW)
                return;
        char *topic = NULL;
        if (asprintf(&topic, "%.*s/acks/%s", (int)(at - alert_topic), alert_topic, at + strlen("/alerts/")) < 0)
                return;
        int mid = 0;
        if (mosquitto_publish(st->mosq, &mid, topic, 0, NULL, 1, true) == MOSQ_ERR_SUCCESS)
                slot_track(st, mid, 0, SLOT_ANSWER);
        free(topic);
}

static int send_withdraw(struct mqtt_state *st, const struct dawn_delivery *d)
{
        int mid1 = 0, mid2 = 0;
        int r = publish(st, d->recipient, d->alert_json, false, &mid1);
        if (r < 0)
                return r;
        r = slot_track(st, mid1, d->id, SLOT_INFLIGHT);
        if (r < 0)
                return r;
        r = publish(st, d->recipient, "", true, &mid2);
        if (r >= 0)
                r = slot_track(st, mid2, d->id, SLOT_INFLIGHT);
        if (r < 0) {
                /* Untracked, a late PUBACK for mid1 is ignored. */
                slot_free(st, (uint16_t)mid1);
                return r;
        }
        st->slots[mid1].partner = (uint16_t)mid2;
        st->slots[mid2].partner = (uint16_t)mid1;
        clear_acks(st, d->recipient);
        return 0;
}

static bool mqtt_ready(struct dawn_channel *ch)
{
        struct mqtt_state *st = ch->state;
        return st->conn == MQTT_CONNECTED && !st->lost && st->n_slots + 2 <= MQTT_WINDOW;
}

static int mqtt_send(struct dawn_channel *ch, const struct dawn_delivery *d)
{
        struct mqtt_state *st = ch->state;
        if (!d->recipient || !d->alert_json || d->action >= DAWN_ACTION_COUNT)
                return -EINVAL;
        if (st->conn != MQTT_CONNECTED || st->lost)
                return -EAGAIN;
        if (st->n_slots + 2 > MQTT_WINDOW) {
                st->window_full = true;
                return -EAGAIN;
        }
        int r;
        switch (d->escalation ? DAWN_ACTION_REVIEW : d->action) {
        case DAWN_ACTION_WITHDRAW: r = send_withdraw(st, d); break;
        case DAWN_ACTION_REVIEW: r = send_publish(st, d, false); break;
        default: r = send_publish(st, d, true); break;
        }
        /* ready() has just turned false: the outbox may stop calling send()
         * without ever hearing -EAGAIN, so remember to tell it. */
        if (st->n_slots + 2 > MQTT_WINDOW)
                st->window_full = true;
        update_io(st);
        return r;
}

static const char *mqtt_describe(struct dawn_channel *ch)
{
        struct mqtt_state *st = ch->state;
        char *buf = st->describe_buf;
        size_t n = sizeof(st->describe_buf);

        if (st->conn == MQTT_CONNECTED) {
                snprintf(buf, n, "connected to %s:%d%s", st->host, st->port, tls_note(st));
        } else if (st->conn == MQTT_CONNECTING) {
                snprintf(buf, n, "connecting to %s:%d%s", st->host, st->port, tls_note(st));
        } else {
                uint64_t now = now_usec(st);
                uint64_t left = st->retry_at > now ? st->retry_at - now : 0;
                snprintf(buf, n, "disconnected from %s:%d%s: %s (retry in %llus)", st->host, st->port,
                         tls_note(st), st->reason[0] ? st->reason : "not connected yet",
                         (unsigned long long)((left + DAWN_USEC_PER_SEC - 1) / DAWN_USEC_PER_SEC));
        }
        return buf;
}

/* ---- the way in, and answers ---- */

static void free_filters(struct mqtt_state *st)
{
        for (size_t i = 0; i < st->n_filters; i++)
                free(st->filters[i]);
        free(st->filters);
        st->filters = NULL;
        st->n_filters = 0;
}

int dawn_channel_mqtt_listen(struct dawn_channel *ch, const char *const *filters, size_t n,
                             dawn_mqtt_message_fn fn, void *userdata)
{
        if (!ch || ch->driver != &dawn_channel_mqtt || !fn || (n && !filters) || n > INT_MAX)
                return -EINVAL;
        struct mqtt_state *st = ch->state;
        char **copy = calloc(n ? n : 1, sizeof(*copy));
        if (!copy)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                if (!filters[i] || mosquitto_sub_topic_check(filters[i]) != MOSQ_ERR_SUCCESS)
                        r = -EINVAL;
                else if (!(copy[i] = strdup(filters[i])))
                        r = -ENOMEM;
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(copy[i]);
                free(copy);
                return r;
        }
        free_filters(st);
        st->filters = copy;
        st->n_filters = n;
        st->on_message = fn;
        st->message_userdata = userdata;
        /* connected already: subscribe now; otherwise the CONNACK will */
        subscribe_filters(st);
        update_io(st);
        return 0;
}

int dawn_channel_mqtt_publish(struct dawn_channel *ch, const char *topic, const void *payload, size_t len,
                              bool retain)
{
        if (!ch || ch->driver != &dawn_channel_mqtt || !topic || (len && !payload))
                return -EINVAL;
        struct mqtt_state *st = ch->state;
        if (st->conn != MQTT_CONNECTED || st->lost || !st->mosq)
                return -ENOTCONN;
        if (len > INT_MAX)
                return -EMSGSIZE;
        if (st->n_slots + 1 > MQTT_WINDOW) {
                st->window_full = true;
                return -ENOBUFS;
        }
        int mid = 0;
        int r = mosq_errno(mosquitto_publish(st->mosq, &mid, topic, (int)len, len ? payload : NULL, 1, retain));
        if (r >= 0)
                r = slot_track(st, mid, 0, SLOT_ANSWER);
        /* answers take room in the window too: see mqtt_send() */
        if (st->n_slots + 2 > MQTT_WINDOW)
                st->window_full = true;
        update_io(st);
        return r;
}

/* ---- start and stop ---- */

static int copy_config(struct mqtt_state *st, const struct dawn_mqtt_config *m)
{
        const char *prefix = m->topic_prefix ? m->topic_prefix : "dawn/v1";
        st->host = strdup(m->host ? m->host : "127.0.0.1");
        st->client_id = strdup(m->client_id ? m->client_id : "dawnd");
        st->port = m->port > 0 ? m->port : 1883;
        st->keepalive = m->keepalive >= 5 ? m->keepalive : 30; /* libmosquitto's minimum is 5 */
        st->qos = m->qos == 2 ? 2 : 1;
        if (!st->host || !st->client_id || asprintf(&st->status_topic, "%s/status", prefix) < 0) {
                st->status_topic = NULL;
                return -ENOMEM;
        }
        if (m->username && !(st->username = strdup(m->username)))
                return -ENOMEM;
        if (dawn_mqtt_tls_copy(&st->tls, &m->tls) < 0)
                return -ENOMEM;
        if (m->username && m->password_file) {
                int r = dawn_channel_read_secret(m->password_file, &st->password);
                if (r < 0)
                        return log_error_errno(r, "MQTT: cannot read password file %s: %m",
                                               m->password_file);
        }
        return 0;
}

static void mqtt_stop(struct dawn_channel *ch);

/* What the TLS settings mean, said once at start as channels.email and
 * channels.sms say theirs. The CA bundle is parsed again for the count: a
 * file broken since config.c checked it is said here, and the connection
 * attempts then say why they fail (the channel runs on, as with a broker
 * that is down). */
static void log_tls(const struct mqtt_state *st)
{
        const struct dawn_mqtt_tls *t = &st->tls;
        struct dawn_ca *ca = NULL;
        char why[256];

        if (!t->enabled)
                return;
        if (t->ca_file && dawn_ca_load(t->ca_file, &ca, why, sizeof(why)) < 0)
                log_error("channels.mqtt.ca_file: %s: %s", t->ca_file, why);
        else if (t->ca_file)
                log_info("channels.mqtt: trusting %zu certificate%s from %s as well as the system's",
                         dawn_ca_count(ca), dawn_ca_count(ca) == 1 ? "" : "s", t->ca_file);
        dawn_ca_free(ca);
        if (t->cert_file)
                log_info("channels.mqtt: showing the broker the client certificate in %s", t->cert_file);
}

static int mqtt_start(struct dawn_channel *ch, sd_event *loop, const struct dawn_config *cfg)
{
        static bool lib_ready;
        struct mqtt_state *st = ch->state;

        /* Once per process, never cleaned up: other parts of the daemon
         * may use libmosquitto too. */
        if (!lib_ready && mosquitto_lib_init() != MOSQ_ERR_SUCCESS)
                return -EIO;
        lib_ready = true;

        st->ch = ch;
        st->loop = sd_event_ref(loop);
        st->inbound_tail = &st->inbound_head;
        st->backoff_sec = MQTT_BACKOFF_MIN_SEC;
        int r = copy_config(st, &cfg->mqtt);
        if (r >= 0)
                r = (st->slots = calloc(MQTT_SLOTS, sizeof(*st->slots))) ? 0 : -ENOMEM;
        if (r >= 0)
                r = sd_event_add_time_relative(loop, &st->timer, CLOCK_MONOTONIC, MQTT_TICK_USEC, 0,
                                               on_tick, st);
        if (r >= 0)
                r = sd_event_source_set_enabled(st->timer, SD_EVENT_ON);
        if (r < 0) {
                mqtt_stop(ch);
                return r;
        }
        log_tls(st);
        /* A broker that is down is not an error: the timer keeps trying. */
        connect_attempt(st);
        return 0;
}

/* Best effort, bounded: tell subscribers we are going away ("offline",
 * retained: a clean DISCONNECT makes the broker drop the will), then
 * disconnect. libmosquitto writes both at once unless the socket is full. */
static void say_goodbye(struct mqtt_state *st)
{
        if (st->conn != MQTT_CONNECTED || !st->mosq)
                return;
        mosquitto_publish(st->mosq, NULL, st->status_topic, (int)strlen("offline"), "offline", 1,
                          true);
        mosquitto_disconnect(st->mosq);
        int64_t start = dawn_monotonic_usec();
        for (;;) {
                int fd = mosquitto_socket(st->mosq);
                if (fd < 0 || !mosquitto_want_write(st->mosq))
                        break;
                long spent = (long)((dawn_monotonic_usec() - start) / 1000);
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                if (spent >= MQTT_STOP_FLUSH_MSEC ||
                    poll(&p, 1, (int)(MQTT_STOP_FLUSH_MSEC - spent)) <= 0)
                        break;
                if (mosquitto_loop_write(st->mosq, 1) != MOSQ_ERR_SUCCESS)
                        break;
        }
        log_info("MQTT: disconnected from %s:%d%s", st->host, st->port, tls_note(st));
}

/* Deliveries still in flight are not reported: the channel is going away
 * with whoever would hear it. The outbox treats them as it does rows left
 * in flight at start-up. */
static void mqtt_stop(struct dawn_channel *ch)
{
        struct mqtt_state *st = ch->state;
        st->stopping = true;
        st->io = sd_event_source_disable_unref(st->io); /* say_goodbye polls by itself */
        say_goodbye(st);
        drop_client(st);
        st->conn = MQTT_IDLE;
        st->timer = sd_event_source_disable_unref(st->timer);
        st->loop = sd_event_unref(st->loop);
        free(st->slots);
        st->slots = NULL;
        /* nothing is left here unless the loop stopped inside a call */
        while (st->inbound_head) {
                struct mqtt_inbound *m = st->inbound_head;
                st->inbound_head = m->next;
                inbound_free(m);
        }
        st->inbound_tail = &st->inbound_head;
        free_filters(st);
        dawn_secret_free(st->password);
        free(st->username);
        free(st->host);
        free(st->client_id);
        free(st->status_topic);
        dawn_mqtt_tls_clear(&st->tls);
        st->password = st->username = st->host = st->client_id = st->status_topic = NULL;
}

const struct dawn_channel_driver dawn_channel_mqtt = {
        .name = "mqtt",
        .kind = DAWN_CHANNEL_MQTT,
        .state_size = sizeof(struct mqtt_state),
        .start = mqtt_start,
        .stop = mqtt_stop,
        .ready = mqtt_ready,
        .send = mqtt_send,
        .describe = mqtt_describe,
};
