/* The HTTP API's server: dawnd's own accept, each connection's phases and
 * their deadlines, displacement when full, libmicrohttpd on the sd-event
 * loop, the sources' tokens and the gateways' secrets. What a request does
 * is in http_request.c and the routes' files (see http_int.h). */
#include "http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"

/* Partners keep connections open (keep-alive); 512 of them is far more than a
 * region's partner systems and gateways, and bounds what slow clients can hold
 * (dashboards' relays are counted apart: DAWN_WS_RELAY_MAX). */
#define HTTP_CONNECTION_LIMIT 512
/* MHD's own limit is never what refuses a connection: dawnd decides first
 * (see "connections" below). The margin covers connections already cut
 * that MHD closes on its next run. */
#define HTTP_MHD_CONNECTION_LIMIT (HTTP_CONNECTION_LIMIT + DAWN_WS_RELAY_MAX + 4 * HTTP_ACCEPT_BATCH)
/* Connections accepted per wake-up: others wait their turn in the backlog. */
#define HTTP_ACCEPT_BATCH 32
/* How long the listener rests when accept() finds no file descriptor left:
 * 4 tries a second cost nothing, and a displaced connection's fd is free
 * by the next (see pause_accept). */
#define HTTP_ACCEPT_PAUSE_USEC (250 * DAWN_USEC_PER_SEC / 1000)
/* MHD's idle timeout: no byte moved either way for this long. */
#define HTTP_IDLE_TIMEOUT_SECONDS 30
/* Whole-phase deadlines (MHD's timeout above resets with every byte). The
 * headers' is daemon.http_header_timeout. A body is at most 4 MiB: a
 * minute is 70 kB/s, which any partner's link manages. An answer is at
 * most the dashboard's largest file or a batch's results. */
#define HTTP_BODY_SECONDS 60
#define HTTP_ANSWER_SECONDS 60
/* A limit that is hit is logged at most this often (with a count). */
#define HTTP_LOG_EVERY_USEC ((int64_t)60 * 1000000)
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
/* Per connection, for the request line, the headers and MHD's read buffer
 * (bodies are copied out as they arrive); 512 connections stay under 16 MiB. */
#define HTTP_CONNECTION_MEMORY (32 * 1024)
/* At shutdown, how long answers already decided may take to go out. */
#define HTTP_DRAIN_USEC (1 * DAWN_USEC_PER_SEC)
/* An unauthenticated body or answer may be displaced by a new connection
 * only after this long in its phase (a real one takes milliseconds). */
#define HTTP_DISPLACE_AFTER_USEC ((int64_t)DAWN_USEC_PER_SEC)

/* ---- connections: caps and deadlines ----
 *
 * MHD's own timeout (MHD_OPTION_CONNECTION_TIMEOUT) is an idle timeout: a
 * client that sends a header line every few seconds (slowloris) keeps its
 * connection for ever, and once MHD's connection limit is reached it stops
 * accepting, /healthz and the gateways' callbacks included. So dawnd
 * accepts connections itself, hands them to MHD (MHD_add_connection), and
 * follows each through its phases, each with a deadline for the whole phase:
 *
 *   request  from the connection's start, or its previous answer when kept
 *            alive, until the request's headers are in: daemon.http_header_timeout
 *   body     until the whole body is in: HTTP_BODY_SECONDS
 *   commit   waiting for the group commit: none here (the commit is bounded)
 *   answer   until the answer is sent: HTTP_ANSWER_SECONDS
 *   upgraded a dashboard's relay: relay.c's limits
 *
 * A connection past its deadline is shut down (shutdown(2): MHD sees the
 * hang-up on its next run, closes the connection and completes its
 * request). With HTTP_CONNECTION_LIMIT connections open, a new one
 * displaces another, chosen in tiers (displace_rank):
 *
 *   1. one still waiting for its request's headers: first one that has not
 *      even sent its request line (an idle connection, new or kept alive),
 *      then one whose headers are incomplete; within each, the oldest.
 *      Oldest first makes the slots a queue: under a flood of idle
 *      connections every newcomer gets the longest grace the 512 slots
 *      allow (at 15,000 connects a second, ~30 ms, far more than a real
 *      client needs to send its first line), and once its request line is
 *      in, it outranks every idle connection, so a slow client is not cut
 *      for being slow. (Newest first would let old idle connections squat
 *      and kill each newcomer at once.)
 *   2. only if there is none: one receiving a body or an answer for over
 *      HTTP_DISPLACE_AFTER_USEC whose request was not authenticated, oldest
 *      first (a real request spends milliseconds there).
 *   3. never: a request whose Authorization matched a source's token or
 *      Notify's callback token, in its body or answer (partners and
 *      gateways are bounded by their rate limits and the body and answer
 *      deadlines), nor one waiting for the commit. A Twilio callback's
 *      signature covers its body, so it is checked only once the body is
 *      in: until then it counts as unauthenticated (tier 2).
 *
 * Under a slowloris attack or an idle flood the connection displaced is
 * thus always an attacker's: health checks, callbacks and partners get in,
 * behind a proxy where every client is 127.0.0.1 too. Only when none can
 * be displaced is the new one answered 503 (Retry-After: 1) and closed. */

static const char *const drop_name[DROP_COUNT] = {
        [DROP_HEADER_TIMEOUT] = "header_timeout", [DROP_BODY_TIMEOUT] = "body_timeout",
        [DROP_ANSWER_TIMEOUT] = "answer_timeout", [DROP_DISPLACED] = "displaced",
        [DROP_OVER_LIMIT] = "over_limit",
};

/* Counts a limit's hit in /metrics, and says so in the log at most once a
 * minute (an attack would otherwise flood the journal). */
static void note_drop(struct dawn_http *h, enum drop why, const char *remote)
{
        dawn_metrics_count(DAWN_M_HTTP_DROPPED, drop_name[why], NULL);
        struct log_limit *l = &h->drop_log[why];
        int64_t now = dawn_monotonic_usec();
        l->n++;
        if (l->at && now - l->at < HTTP_LOG_EVERY_USEC)
                return;
        const char *what = "";
        switch (why) {
        case DROP_HEADER_TIMEOUT: what = "request headers not complete within daemon.http_header_timeout"; break;
        case DROP_BODY_TIMEOUT: what = "request body not complete within " STRINGIFY(HTTP_BODY_SECONDS) " s"; break;
        case DROP_ANSWER_TIMEOUT: what = "answer not read within " STRINGIFY(HTTP_ANSWER_SECONDS) " s"; break;
        case DROP_DISPLACED: what = "displaced by a new connection: " STRINGIFY(HTTP_CONNECTION_LIMIT)
                                    " connections open"; break;
        case DROP_OVER_LIMIT: what = "refused (503): " STRINGIFY(HTTP_CONNECTION_LIMIT)
                                     " connections open, all busy"; break;
        case DROP_COUNT: break;
        }
        log_warning("http: connection from %s closed: %s (%u such since the previous line like this; "
                    "dawn_http_connections_dropped_total{reason=\"%s\"})", remote, what, l->n, drop_name[why]);
        l->at = now;
        l->n = 0;
}

static void conn_remote(struct MHD_Connection *mc, char *out, size_t size)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        socklen_t len = !sa ? 0 : sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        if (!sa || getnameinfo(sa, len, out, size, NULL, 0, NI_NUMERICHOST) != 0)
                snprintf(out, size, "an unknown address");
}

static uint64_t phase_limit_usec(const struct dawn_http *h, enum phase p)
{
        switch (p) {
        case PHASE_REQUEST: return h->ways->config->http_header_timeout_usec;
        case PHASE_BODY: return HTTP_BODY_SECONDS * DAWN_USEC_PER_SEC;
        case PHASE_ANSWER: return HTTP_ANSWER_SECONDS * DAWN_USEC_PER_SEC;
        default: return 0;
        }
}

static void arm_deadline(struct dawn_http *h, int64_t at)
{
        if (h->deadline_at && h->deadline_at <= at)
                return;
        h->deadline_at = at;
        sd_event_source_set_time(h->deadline, (uint64_t)at);
        sd_event_source_set_enabled(h->deadline, SD_EVENT_ONESHOT);
}

static void conn_enter(struct conn *c, enum phase p)
{
        if (!c)
                return;
        c->phase = p;
        c->since = dawn_monotonic_usec();
        if (p == PHASE_REQUEST)
                c->line_in = c->trusted = false; /* a new request (kept alive) starts from nothing */
        uint64_t limit = phase_limit_usec(c->h, p);
        if (limit)
                arm_deadline(c->h, c->since + (int64_t)limit);
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

/* Closes a connection from outside MHD: MHD owns the fd (and closes it),
 * so it is only shut down, which MHD reads as a hang-up. */
static void conn_cut(struct conn *c, enum drop why)
{
        char remote[INET6_ADDRSTRLEN + 8];
        conn_remote(c->mhd, remote, sizeof(remote));
        c->cut = true;
        shutdown(c->fd, SHUT_RDWR);
        note_drop(c->h, why, remote);
        sd_event_source_set_enabled(c->h->kick, SD_EVENT_ONESHOT);
}

/* Which of the tiers in "connections" above c is in: 1 (displaced first)
 * to 3, then 0 for never. */
static int displace_rank(const struct conn *c, int64_t now)
{
        if (c->cut)
                return 0;
        switch (c->phase) {
        case PHASE_REQUEST: return c->line_in ? 2 : 1;
        case PHASE_BODY:
        case PHASE_ANSWER: return !c->trusted && now - c->since >= HTTP_DISPLACE_AFTER_USEC ? 3 : 0;
        default: return 0;
        }
}

/* The connections counted against HTTP_CONNECTION_LIMIT, and the one to
 * displace first (NULL: none may be): the lowest rank, then the oldest. */
static unsigned conns_open(struct dawn_http *h, struct conn **victim)
{
        unsigned n = 0;
        int best = 0;
        int64_t now = dawn_monotonic_usec();
        *victim = NULL;
        for (struct conn *c = h->conns; c; c = c->next) {
                if (c->cut || c->phase == PHASE_UPGRADED)
                        continue;
                n++;
                int rank = displace_rank(c, now);
                if (rank && (!best || rank < best || (rank == best && c->since < (*victim)->since))) {
                        best = rank;
                        *victim = c;
                }
        }
        return n;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_http *h = userdata;
        int64_t now = dawn_monotonic_usec(), next = 0;
        h->deadline_at = 0;
        for (struct conn *c = h->conns; c; c = c->next) {
                uint64_t limit = c->cut ? 0 : phase_limit_usec(h, c->phase);
                if (!limit)
                        continue;
                int64_t at = c->since + (int64_t)limit;
                if (at <= now)
                        conn_cut(c, c->phase == PHASE_REQUEST ? DROP_HEADER_TIMEOUT
                                    : c->phase == PHASE_BODY  ? DROP_BODY_TIMEOUT
                                                              : DROP_ANSWER_TIMEOUT);
                else if (!next || at < next)
                        next = at;
        }
        if (next)
                arm_deadline(h, next);
        return 0;
}

/* MHD_OPTION_NOTIFY_CONNECTION: a connection's start and end. */
static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
        struct dawn_http *h = cls;
        struct conn *c = *socket_context;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
                c = calloc(1, sizeof(*c));
                if (!c) {
                        /* untracked, it would have no deadline: not kept */
                        if (ci)
                                shutdown(ci->connect_fd, SHUT_RDWR);
                        return;
                }
                *c = (struct conn){ .h = h, .mhd = mc, .fd = ci ? ci->connect_fd : -1, .next = h->conns };
                if (h->conns)
                        h->conns->prev = c;
                h->conns = c;
                *socket_context = c;
                conn_enter(c, PHASE_REQUEST);
                return;
        }
        if (!c)
                return;
        *socket_context = NULL;
        if (c->prev)
                c->prev->next = c->next;
        else
                h->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c);
}

/* What a client hears when every slot is busy with work that may not be
 * displaced: JSON like every answer dawnd decides, then the connection closes. */
static void refuse_busy(int fd)
{
        static const char body[] = "{\"error\":\"too many connections; try again shortly\",\"temporary\":true}";
        char msg[320];
        int n = snprintf(msg, sizeof(msg),
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
                         "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                         sizeof(body) - 1, body);
        /* best effort, never waiting: the socket's buffer is empty and takes it whole */
        if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                log_debug("http: the 503 for a connection over the limit was not sent: %m");
        close(fd);
}

static void accept_one(struct dawn_http *h, int fd, const struct sockaddr_storage *sa, socklen_t len)
{
        struct conn *victim;
        if (conns_open(h, &victim) >= HTTP_CONNECTION_LIMIT) {
                if (victim) {
                        conn_cut(victim, DROP_DISPLACED);
                } else {
                        char remote[INET6_ADDRSTRLEN + 8];
                        if (getnameinfo((const struct sockaddr *)sa, len, remote, sizeof(remote), NULL, 0,
                                        NI_NUMERICHOST) != 0)
                                snprintf(remote, sizeof(remote), "an unknown address");
                        refuse_busy(fd);
                        note_drop(h, DROP_OVER_LIMIT, remote);
                        return;
                }
        }
        /* MHD closes fd itself when it cannot take it */
        if (MHD_add_connection(h->mhd, fd, (const struct sockaddr *)sa, len) != MHD_YES)
                log_debug("http: MHD did not take a new connection: %m");
}

/* Out of file descriptors: accept() would fail again at once, and the
 * listening socket stays readable, so trying again now would spin. The
 * listener rests briefly; a displaceable connection is closed meanwhile,
 * so that the next try finds a descriptor even when HTTP holds them all. */
static void pause_accept(struct dawn_http *h, int r)
{
        struct conn *victim;
        unsigned open = conns_open(h, &victim);
        sd_event_source_set_enabled(h->accept_io, SD_EVENT_OFF);
        sd_event_source_set_time_relative(h->accept_pause, HTTP_ACCEPT_PAUSE_USEC);
        sd_event_source_set_enabled(h->accept_pause, SD_EVENT_ONESHOT);
        if (victim)
                conn_cut(victim, DROP_DISPLACED);
        dawn_metrics_count(DAWN_M_HTTP_ACCEPT_PAUSED, NULL, NULL);
        int64_t now = dawn_monotonic_usec();
        h->pause_log.n++;
        if (h->pause_log.at && now - h->pause_log.at < HTTP_LOG_EVERY_USEC)
                return;
        errno = -r;
        log_warning("http: cannot accept a connection: %m; not accepting for 0.25 s (%u such pause(s) since the "
                    "previous line like this, %u HTTP connection(s) open; dawn_http_accept_paused_total)", h->pause_log.n, open);
        h->pause_log.at = now;
        h->pause_log.n = 0;
}

static void run_mhd(struct dawn_http *h);

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dawn_http *h = userdata;
        for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
                struct sockaddr_storage sa;
                socklen_t len = sizeof(sa);
                int cfd = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd >= 0) {
                        accept_one(h, cfd, &sa, len);
                        continue;
                }
                if (errno == EINTR || errno == ECONNABORTED)
                        continue;
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                        pause_accept(h, -errno);
                else if (errno != EAGAIN)
                        log_debug("http: accept: %m");
                break;
        }
        run_mhd(h);
        return 0;
}

static int on_accept_pause_end(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_http *h = userdata;
        if (h->listening)
                sd_event_source_set_enabled(h->accept_io, SD_EVENT_ON);
        return 0;
}

/* ---- requests ---- */

/* MHD's URI callback: called with the request line as sent, before MHD
 * decodes it, and its return value becomes the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
        struct dawn_http *h = cls;
        struct request *rq = calloc(1, sizeof(*rq));
        if (!rq)
                return NULL;
        rq->h = h;
        rq->conn = conn;
        struct conn *c = conn_of(conn);
        if (c)
                c->line_in = true; /* it made progress: outranks idle connections (displace_rank) */
        rq->uri = strdup(uri ? uri : "");
        if (!rq->uri) {
                free(rq);
                return NULL;
        }
        rq->next = h->requests;
        if (h->requests)
                h->requests->prev = rq;
        h->requests = rq;
        rq->linked = true;
        return rq;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
        struct conn *c = conn_of(conn);
        /* kept alive: the next request's headers have the header deadline */
        if (c && c->phase != PHASE_UPGRADED)
                conn_enter(c, PHASE_REQUEST);
        struct request *rq = *con_cls;
        *con_cls = NULL;
        if (!rq)
                return;
        rq->completed = true;
        http_request_unlink(rq);
        if (rq->waiting == 0)
                http_request_free(rq);
        /* else on_commit frees it: the commit it waits for still holds a pointer to it */
}

static enum MHD_Result queue(struct request *rq)
{
        if (!rq->response)
                return MHD_NO; /* out of memory: hang up rather than answer wrongly */
        char code[12];
        snprintf(code, sizeof(code), "%u", rq->status);
        dawn_metrics_count(DAWN_M_HTTP_REQUESTS, code, NULL);
        if (rq->retry_after[0])
                MHD_add_response_header(rq->response, MHD_HTTP_HEADER_RETRY_AFTER, rq->retry_after);
        conn_enter(conn_of(rq->conn), rq->status == MHD_HTTP_SWITCHING_PROTOCOLS ? PHASE_UPGRADED : PHASE_ANSWER);
        enum MHD_Result r = MHD_queue_response(rq->conn, rq->status, rq->response);
        MHD_destroy_response(rq->response);
        rq->response = NULL;
        return r;
}

/* ---- routes ---- */

/* Every path dawnd answers, once: who may call it, with which methods and
 * what body, and what handles it. begin() refuses what a row does not
 * allow from the headers alone; process() hands the whole request to the
 * row's handler. */
static const struct http_route routes[] = {
        { .path = "/v1/alerts", .methods = HTTP_GET | HTTP_HEAD, .auth = HTTP_AUTH_SOURCE,
          .handle = http_list_alerts },
        { .path = "/v1/alerts", .methods = HTTP_POST, .auth = HTTP_AUTH_SOURCE, .body = HTTP_BODY_ALERTS,
          .handle = http_post_alerts },
        { .path = "/v1/alerts/", .with_id = true, .methods = HTTP_GET | HTTP_HEAD, .auth = HTTP_AUTH_SOURCE,
          .handle = http_show_alert },
        { .path = "/v1/callbacks/notify/status", .methods = HTTP_POST, .auth = HTTP_AUTH_NOTIFY,
          .body = HTTP_BODY_CALLBACK, .handle = http_notify_status },
        { .path = "/v1/callbacks/notify/inbound", .methods = HTTP_POST, .auth = HTTP_AUTH_NOTIFY,
          .body = HTTP_BODY_CALLBACK, .handle = http_notify_inbound },
        { .path = "/v1/callbacks/twilio/status", .methods = HTTP_POST, .auth = HTTP_AUTH_TWILIO,
          .body = HTTP_BODY_CALLBACK, .handle = http_twilio_status },
        { .path = "/v1/callbacks/twilio/inbound", .methods = HTTP_POST, .auth = HTTP_AUTH_TWILIO,
          .body = HTTP_BODY_CALLBACK, .handle = http_twilio_inbound },
        { .path = "/metrics", .methods = HTTP_GET | HTTP_HEAD, .while_stopping = true, .handle = http_metrics },
        { .path = "/healthz", .methods = HTTP_GET | HTTP_HEAD, .while_stopping = true, .handle = http_healthz },
        { .path = "/", .methods = HTTP_GET | HTTP_HEAD, .file = "index.html", .handle = http_dashboard_file },
        { .path = "/index.html", .methods = HTTP_GET | HTTP_HEAD, .file = "index.html", .handle = http_dashboard_file },
        { .path = "/app.js", .methods = HTTP_GET | HTTP_HEAD, .file = "app.js", .handle = http_dashboard_file },
        { .path = "/style.css", .methods = HTTP_GET | HTTP_HEAD, .file = "style.css", .handle = http_dashboard_file },
        { .path = "/mqtt.min.js", .methods = HTTP_GET | HTTP_HEAD, .file = "mqtt.min.js",
          .handle = http_dashboard_file },
        { .path = "/config.json", .methods = HTTP_GET | HTTP_HEAD, .handle = http_dashboard_config },
        /* a WebSocket upgrade: GET only */
        { .path = "/mqtt", .methods = HTTP_GET, .handle = http_mqtt_relay },
        /* CAP 1.2 (http_cap.c): public alerts to anyone, the others to a source's token */
        { .path = "/v1/cap/alerts/", .with_id = true, .with_revision = true, .methods = HTTP_GET | HTTP_HEAD,
          .auth = HTTP_AUTH_SOURCE_IF_GIVEN, .handle = http_cap_alert },
        { .path = "/v1/cap/feed.atom", .methods = HTTP_GET | HTTP_HEAD, .auth = HTTP_AUTH_SOURCE_IF_GIVEN,
          .handle = http_cap_feed },
};

static unsigned method_bit(const char *method)
{
        return strcmp(method, "GET") == 0 ? HTTP_GET : strcmp(method, "HEAD") == 0 ? HTTP_HEAD
               : strcmp(method, "POST") == 0 ? HTTP_POST : 0;
}

/* Whether row serves path; *id is where the id begins in it (or NULL). */
static bool route_matches(const struct http_route *row, const char *path, const char **id)
{
        if (!row->with_id) {
                *id = NULL;
                return strcmp(path, row->path) == 0;
        }
        size_t n = strlen(row->path);
        if (strncmp(path, row->path, n) != 0 || !path[n])
                return false;
        const char *slash = strchr(path + n, '/');
        if (slash && (!row->with_revision || slash == path + n || !slash[1] || strchr(slash + 1, '/')))
                return false;
        *id = path + n;
        return true;
}

/* The row for path and method. NULL when there is none: *allowed holds
 * the methods path takes (0: no such path). */
static const struct http_route *route_of(const char *path, const char *method, const char **id, unsigned *allowed)
{
        unsigned bit = method_bit(method);
        *allowed = 0;
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
                if (!route_matches(&routes[i], path, id))
                        continue;
                if (routes[i].methods & bit)
                        return &routes[i];
                *allowed |= routes[i].methods;
        }
        return NULL;
}

/* The methods in 405's Allow header. */
static const char *route_allows(unsigned methods, char *buf, size_t size)
{
        snprintf(buf, size, "%s%s%s%s%s", methods & HTTP_GET ? "GET" : "",
                 methods & HTTP_GET && methods & (HTTP_HEAD | HTTP_POST) ? ", " : "", methods & HTTP_HEAD ? "HEAD" : "",
                 methods & HTTP_HEAD && methods & HTTP_POST ? ", " : "", methods & HTTP_POST ? "POST" : "");
        return buf;
}

/* A refusal of the body counted where the route's refusals are: a
 * partner's alerts as dawn_intake_rejected_total{reason}, a gateway's
 * callback as dawn_callbacks_refused_total{reason="invalid"}. */
static void count_body_refused(struct request *rq, const char *reason)
{
        if (rq->route->body == HTTP_BODY_ALERTS)
                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", reason);
        else if (rq->route->body == HTTP_BODY_CALLBACK)
                dawn_metrics_count(DAWN_M_CALLBACKS_REFUSED, http_provider_of(rq), "invalid");
}

/* The route's auth kind, from the headers; false: refused (answered). */
static bool admitted(struct request *rq)
{
        switch (rq->route->auth) {
        case HTTP_AUTH_NONE: return true;
        case HTTP_AUTH_SOURCE: return http_admit_source(rq);
        case HTTP_AUTH_NOTIFY: return http_admit_notify(rq);
        case HTTP_AUTH_TWILIO: return http_admit_twilio(rq);
        case HTTP_AUTH_SOURCE_IF_GIVEN:
                return !http_header(rq, MHD_HTTP_HEADER_AUTHORIZATION) || http_admit_source(rq);
        }
        return false;
}

static bool is_json_type(const char *type)
{
        static const char json[] = "application/json";
        if (strncasecmp(type, json, sizeof(json) - 1) != 0)
                return false;
        char next = type[sizeof(json) - 1];
        return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* What the headers say of the body, against what the route takes: a
 * refused request costs no more than its headers. */
static void check_announced_body(struct request *rq)
{
        enum http_body body = rq->route->body;
        if (body == HTTP_BODY_NONE)
                return;
        const char *type = http_header(rq, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (body == HTTP_BODY_ALERTS && type && !is_json_type(type)) {
                count_body_refused(rq, "invalid");
                http_refuse(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                            "Content-Type must be application/json, not %.60s", type);
                return;
        }
        /* an alerts body's limit is known from its first byte: until then, a batch's */
        size_t most = body == HTTP_BODY_ALERTS ? (size_t)DAWN_HTTP_MAX_BATCH_BYTES : rq->limit;
        if (rq->content_length > most) {
                count_body_refused(rq, "too_large");
                http_refuse(rq, MHD_HTTP_CONTENT_TOO_LARGE, "body",
                            "a body of %llu bytes is larger than the limit of %zu bytes",
                            (unsigned long long)rq->content_length, most);
        }
}

/* What can be decided from the headers alone, before a byte of the body is read. */
static void begin(struct request *rq, const char *url, const char *method)
{
        snprintf(rq->method, sizeof(rq->method), "%s", method);
        rq->path = strdup(url);
        if (!rq->path)
                return; /* no response: queue() hangs up */
        const char *cl = http_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
        rq->content_length = cl ? strtoull(cl, NULL, 10) : 0;
        /* libmicrohttpd decodes %00 into a NUL that ends the path and query values early:
         * "/v1/alerts/A1%00zz" would be read as A1. Nothing DAWN serves has a NUL in it. */
        if (strstr(rq->uri, "%00")) {
                http_refuse(rq, MHD_HTTP_BAD_REQUEST, "url", "the URL holds an encoded NUL (%%00)");
                return;
        }
        const char *id;
        unsigned allowed;
        rq->route = route_of(url, method, &id, &allowed);
        if (!rq->route && !allowed) {
                http_refuse(rq, MHD_HTTP_NOT_FOUND, NULL, "no such resource");
                return;
        }
        if (!rq->route) {
                char allow[32];
                route_allows(allowed, allow, sizeof(allow));
                http_refuse(rq, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "%s is not allowed here; allowed: %s", rq->method,
                            allow);
                http_respond_header(rq, MHD_HTTP_HEADER_ALLOW, allow);
                return;
        }
        if (rq->h->stopping && !rq->route->while_stopping) {
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "dawnd is stopping; try again shortly");
                return;
        }
        if (id && !(rq->alert_id = strdup(id))) {
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
                return;
        }
        /* the body's limit; an alerts body's is known from its first byte (http_take_body) */
        rq->limit = rq->route->body == HTTP_BODY_CALLBACK ? DAWN_MAX_CALLBACK_BYTES : 0;
        rq->limit_known = rq->route->body != HTTP_BODY_ALERTS;
        if (!admitted(rq))
                return;
        /* a partner's or gateway's own request: never displaced (displace_rank) */
        struct conn *c = conn_of(rq->conn);
        if (c && (rq->route->auth == HTTP_AUTH_SOURCE || rq->route->auth == HTTP_AUTH_NOTIFY || rq->source))
                c->trusted = true;
        check_announced_body(rq);
}

void http_refuse_too_large(struct request *rq)
{
        count_body_refused(rq, "too_large");
        http_refuse(rq, MHD_HTTP_CONTENT_TOO_LARGE, "body", "the body is larger than the limit of %zu bytes",
                    rq->limit_known ? rq->limit : (size_t)DAWN_MAX_REQUEST_BYTES);
}

/* The whole request is here: act on it. */
static void process(struct request *rq)
{
        if (rq->too_large) {
                http_refuse_too_large(rq);
                return;
        }
        rq->route->handle(rq);
}

/* MHD calls this with the headers (the first call), with each piece of the
 * body, once more when the request is complete, and again after a resume. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
        struct request *rq = *con_cls;
        if (!rq)
                return MHD_NO; /* the URI callback ran out of memory */
        if (!rq->started) {
                rq->started = true;
                rq->conn = conn;
                conn_enter(conn_of(conn), PHASE_BODY);
                begin(rq, url, method);
                if (rq->response || !rq->path)
                        return queue(rq);
                return MHD_YES;
        }
        if (*upload_data_size) {
                bool keep = http_take_body(rq, upload_data, *upload_data_size);
                *upload_data_size = 0;
                if (!keep) {
                        if (rq->route->body == HTTP_BODY_ALERTS)
                                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "too_large");
                        log_info("http: %s %s from %s: cut off after %zu bytes of a body that was too large",
                                 rq->method, rq->path, http_remote_of(rq), rq->discarded);
                }
                return keep ? MHD_YES : MHD_NO;
        }
        if (!rq->processed) {
                process(rq);
                rq->processed = true;
                if (rq->waiting || rq->alerts) {
                        /* answered from on_commit, once what it did is durable */
                        MHD_suspend_connection(conn);
                        rq->suspended = true;
                        conn_enter(conn_of(conn), PHASE_COMMIT);
                        return MHD_YES;
                }
                http_finish(rq);
        }
        return queue(rq);
}

/* ---- MHD on the sd-event loop ---- */

static void run_mhd(struct dawn_http *h)
{
        if (MHD_run(h->mhd) != MHD_YES)
                log_debug("http: MHD_run failed");
        MHD_UNSIGNED_LONG_LONG ms;
        if (MHD_get_timeout(h->mhd, &ms) == MHD_YES) {
                uint64_t now = 0;
                sd_event_now(h->ways->loop, CLOCK_MONOTONIC, &now);
                if (ms > 3600 * 1000)
                        ms = 3600 * 1000;
                sd_event_source_set_time(h->timer, now + ms * 1000);
                sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
        } else {
                sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        run_mhd(userdata);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        run_mhd(userdata);
        return 0;
}

static int on_kick(sd_event_source *s, void *userdata)
{
        run_mhd(userdata);
        return 0;
}

/* ---- batches of reports, a slice a turn ---- */

void http_slicing_add(struct request *rq)
{
        struct dawn_http *h = rq->h;
        rq->slice_next = NULL;
        if (h->slicing_tail)
                h->slicing_tail->slice_next = rq;
        else
                h->slicing = rq;
        h->slicing_tail = rq;
        sd_event_source_set_enabled(h->slice, SD_EVENT_ONESHOT);
}

/* A batch all taken: answered now if nothing it wrote waits for a commit,
 * else by on_commit once it has. */
static void batch_taken(struct request *rq)
{
        if (rq->waiting)
                return;
        http_finish(rq);
        if (rq->suspended) {
                rq->suspended = false;
                MHD_resume_connection(rq->conn);
                sd_event_source_set_enabled(rq->h->kick, SD_EVENT_ONESHOT);
        }
}

/* Takes one slice of the first batch in line, which then goes to the back:
 * two partners' batches are taken in turn, and between slices the loop
 * serves everyone else (this source's priority is below theirs). */
static int on_slice(sd_event_source *s, void *userdata)
{
        struct dawn_http *h = userdata;
        struct request *rq = h->slicing;
        if (!rq)
                return 0;
        h->slicing = rq->slice_next;
        if (!h->slicing)
                h->slicing_tail = NULL;
        rq->slice_next = NULL;
        if (http_post_alerts_slice(rq))
                batch_taken(rq);
        else
                http_slicing_add(rq);
        if (h->slicing)
                sd_event_source_set_enabled(h->slice, SD_EVENT_ONESHOT);
        return 0;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char msg[256];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\n")] = '\0';
        /* MHD reports every client that resets or times out: debug, not an operator's concern */
        log_debug("http: %s", msg);
}

/* ---- secrets ---- */

static void secrets_clear(struct secrets *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].source);
                dawn_secret_free(s->v[i].token);
        }
        free(s->v);
        dawn_secret_free(s->notify_token);
        dawn_secret_free(s->twilio_auth_token);
        *s = (struct secrets){ 0 };
}

static int read_secret(const char *what, const char *path, char **out)
{
        int r = dawn_channel_read_secret(path, out);
        if (r < 0)
                return log_error_errno(r, "http: %s %s cannot be read: %m", what, path);
        return 0;
}

/* Every source's token and the gateways' secrets, fresh from their files.
 * (A source's rate limit lives in ratelimit.c, across reloads and ways in.) */
static int secrets_load(const struct dawn_config *c, struct secrets *out)
{
        *out = (struct secrets){ 0 };
        out->v = calloc(c->n_sources ? c->n_sources : 1, sizeof(*out->v));
        if (!out->v)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; r == 0 && i < c->n_sources; i++) {
                const struct dawn_source *src = &c->sources[i];
                if (!src->token_file)
                        continue; /* reports over MQTT only */
                struct source_token *t = &out->v[out->n];
                char what[96];
                snprintf(what, sizeof(what), "source %s: token_file", src->id);
                r = read_secret(what, src->token_file, &t->token);
                if (r < 0)
                        break;
                t->source = strdup(src->id);
                if (!t->source) {
                        dawn_secret_free(t->token);
                        r = -ENOMEM;
                        break;
                }
                out->n++;
        }
        const struct dawn_sms_config *sms = &c->sms;
        if (r == 0 && sms->enabled && sms->provider == DAWN_SMS_NOTIFY && sms->callback_token_file)
                r = read_secret("channels.sms.callback_token_file", sms->callback_token_file, &out->notify_token);
        if (r == 0 && sms->enabled && sms->provider == DAWN_SMS_TWILIO && sms->auth_token_file)
                r = read_secret("channels.sms.auth_token_file", sms->auth_token_file, &out->twilio_auth_token);
        if (r < 0) {
                secrets_clear(out);
                return r;
        }
        for (size_t i = 0; i < out->n; i++)
                for (size_t j = i + 1; j < out->n; j++)
                        if (strcmp(out->v[i].token, out->v[j].token) == 0)
                                log_warning("http: sources %s and %s have the same token; its requests count as %s",
                                            out->v[i].source, out->v[j].source, out->v[i].source);
        return 0;
}

/* ---- the server ---- */

static int listen_socket(const char *address)
{
        struct sockaddr_storage sa;
        socklen_t len;
        if (dawn_parse_listen(address, &sa, &len) < 0)
                return log_error_errno(-EINVAL, "http: daemon.http_listen \"%s\" is not an address and port", address);
        int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(-errno, "http: socket: %m");
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (sa.ss_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
                int r = -errno;
                close(fd);
                return log_error_errno(r, "http: cannot listen on %s: %m", address);
        }
        return fd;
}

/* The dashboard relay's broker, looked up here (getaddrinfo blocks: a slow
 * DNS stalls the loop once at start or reload, not once per dashboard's
 * CONNECT). A failure keeps the addresses from before, if any. */
static void resolve_broker(struct dawn_http *h)
{
        const struct dawn_mqtt_config *m = &h->ways->config->mqtt;
        if (!m->enabled || !m->host)
                return;
        if (m->tls.enabled && !h->ways->config->dashboard_broker_url)
                log_warning("http: the dashboard relay (/mqtt) is off: it does not speak TLS, and channels.mqtt "
                            "reaches %s:%d over TLS; set daemon.dashboard_broker_url to the broker's wss:// "
                            "listener for the dashboard", m->host, m->port);
        int n = dawn_ws_relay_resolve(m->host, m->port, &h->broker);
        if (n < 0)
                log_warning("http: the dashboard relay's broker %s:%d: its name was not found%s", m->host, m->port,
                            h->broker.n ? "; the addresses from before stay in use" : "");
        else
                log_debug("http: the dashboard relay's broker %s:%d has %d address(es)", m->host, m->port, n);
}

int dawn_http_new(struct dawn_ways *ways, int fd, struct dawn_http **out)
{
        *out = NULL;
        const char *address = ways->config->http_listen;
        if (fd < 0 && (!address || !*address)) {
                log_info("http: the HTTP API is off (daemon.http_listen is empty)");
                return 0;
        }
        struct dawn_http *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->ways = ways;
        int r = secrets_load(ways->config, &h->secrets);
        if (r < 0) {
                free(h);
                return r;
        }
        h->listen_fd = -1;
        bool own_fd = fd < 0;
        if (own_fd && (fd = listen_socket(address)) < 0) {
                dawn_http_free(h);
                return fd;
        }
        h->listen_fd = fd;
        /* a socket systemd passed may be blocking: accept() must never wait */
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0 && !(flags & O_NONBLOCK))
                fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        /* external epoll mode: MHD never blocks and never starts a thread; it
         * runs when its epoll fd (nested in the loop's) is readable, when its
         * timeout passes, and after a resume. It has no listening socket:
         * dawnd accepts (see "connections") */
        h->mhd = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE |
                        MHD_USE_ERROR_LOG,
                0, NULL, NULL, on_request, h,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MHD_CONNECTION_LIMIT,
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_TIMEOUT_SECONDS,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
                MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                MHD_OPTION_END);
        if (!h->mhd) {
                dawn_http_free(h);
                return log_error_errno(-EINVAL, "http: the HTTP server (libmicrohttpd) did not start");
        }
        h->listening = true;
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        r = info ? sd_event_add_io(ways->loop, &h->io, info->epoll_fd, EPOLLIN, on_io, h) : -EINVAL;
        /* accuracy 1 us: a timeout of 0 means "run again now", not within sd-event's default 250 ms */
        if (r >= 0)
                r = sd_event_add_time(ways->loop, &h->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, h);
        if (r >= 0)
                r = sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(ways->loop, &h->kick, on_kick, h);
        if (r >= 0)
                r = sd_event_source_set_enabled(h->kick, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(ways->loop, &h->slice, on_slice, h);
        /* after every ready client and timer, before the group commit (idle) */
        if (r >= 0)
                r = sd_event_source_set_priority(h->slice, SD_EVENT_PRIORITY_NORMAL + 1);
        if (r >= 0)
                r = sd_event_source_set_enabled(h->slice, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_io(ways->loop, &h->accept_io, fd, EPOLLIN, on_accept, h);
        if (r >= 0)
                r = sd_event_add_time(ways->loop, &h->accept_pause, CLOCK_MONOTONIC, UINT64_MAX, 0,
                                      on_accept_pause_end, h);
        if (r >= 0)
                r = sd_event_source_set_enabled(h->accept_pause, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(ways->loop, &h->deadline, CLOCK_MONOTONIC, UINT64_MAX,
                                      100 * DAWN_USEC_PER_SEC / 1000, on_deadline, h);
        if (r >= 0)
                r = sd_event_source_set_enabled(h->deadline, SD_EVENT_OFF);
        if (r < 0) {
                dawn_http_free(h);
                return log_error_errno(r, "http: cannot attach the HTTP server to the event loop: %m");
        }
        resolve_broker(h);
        log_info("http: listening on %s (%zu source(s) with a token)", own_fd ? address : "the socket systemd passed",
                 h->secrets.n);
        *out = h;
        return 0;
}

int dawn_http_reload(struct dawn_http *h)
{
        if (!h)
                return 0;
        resolve_broker(h);
        struct secrets fresh;
        int r = secrets_load(h->ways->config, &fresh);
        if (r < 0)
                return log_error_errno(r, "http: reload: the tokens from before stay in use");
        secrets_clear(&h->secrets);
        h->secrets = fresh;
        return 0;
}

void dawn_http_stop_listening(struct dawn_http *h)
{
        if (!h)
                return;
        if (h->listening) {
                h->stopping = true;
                h->listening = false;
        }
        if (h->accept_io)
                sd_event_source_set_enabled(h->accept_io, SD_EVENT_OFF);
        if (h->accept_pause)
                sd_event_source_set_enabled(h->accept_pause, SD_EVENT_OFF);
        if (h->listen_fd >= 0)
                close(h->listen_fd);
        h->listen_fd = -1;
}

/* Answers decided but not yet sent (the loop has stopped turning). */
static bool answers_owed(const struct dawn_http *h)
{
        for (const struct request *rq = h->requests; rq; rq = rq->next)
                if (rq->processed && !rq->waiting)
                        return true;
        return false;
}

struct dawn_http *dawn_http_free(struct dawn_http *h)
{
        if (!h)
                return NULL;
        dawn_http_stop_listening(h);
        if (h->mhd) {
                /* dashboards are told goodbye; their pages reconnect to whoever listens next */
                while (h->relays)
                        dawn_ws_relay_close(h->relays->relay);
                MHD_run(h->mhd);
                /* batches still being taken are taken to the end: the loop will not turn again */
                while (h->slicing) {
                        struct request *rq = h->slicing;
                        h->slicing = rq->slice_next;
                        if (!h->slicing)
                                h->slicing_tail = NULL;
                        rq->slice_next = NULL;
                        while (!http_post_alerts_slice(rq))
                                ;
                        batch_taken(rq);
                }
                /* answers waiting for the group commit hear its outcome now, while they can still be sent */
                for (struct request *rq = h->requests; rq; rq = rq->next)
                        if (rq->waiting) {
                                dawn_commit_flush(h->ways->commit);
                                break;
                        }
                const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
                int64_t deadline = dawn_monotonic_usec() + (int64_t)HTTP_DRAIN_USEC;
                while (info && answers_owed(h) && dawn_monotonic_usec() < deadline) {
                        MHD_run(h->mhd);
                        struct pollfd p = { .fd = info->epoll_fd, .events = POLLIN };
                        if (answers_owed(h))
                                poll(&p, 1, 10);
                }
                /* MHD must not be stopped with a connection suspended */
                for (struct request *rq = h->requests; rq; rq = rq->next)
                        if (rq->suspended) {
                                rq->suspended = false;
                                MHD_resume_connection(rq->conn);
                        }
                MHD_stop_daemon(h->mhd);
        }
        /* MHD completes every request it knew of when it stops; anything left never reached it */
        while (h->requests)
                http_request_free(h->requests);
        while (h->conns) {
                struct conn *c = h->conns;
                h->conns = c->next;
                free(c);
        }
        sd_event_source_disable_unref(h->accept_io);
        sd_event_source_disable_unref(h->accept_pause);
        sd_event_source_disable_unref(h->deadline);
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        sd_event_source_disable_unref(h->kick);
        sd_event_source_disable_unref(h->slice);
        secrets_clear(&h->secrets);
        free(h);
        return NULL;
}
