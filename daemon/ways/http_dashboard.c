/* The pharmacy dashboard: its files, /config.json, and /mqtt, the
 * WebSocket relayed to the broker. */
#include "http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "websocket.h"

/* ---- the pharmacy dashboard ---- */

/* What a page from here may do: its own scripts and styles only (no CDN,
 * nothing inline), and talk to this server's /mqtt or a broker's own
 * WebSocket listener. */
#define DASHBOARD_CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
                      "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static void dashboard_headers(struct request *rq, const char *content_type)
{
        MHD_add_response_header(rq->response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        MHD_add_response_header(rq->response, "Content-Security-Policy", DASHBOARD_CSP);
        MHD_add_response_header(rq->response, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(rq->response, "Referrer-Policy", "no-referrer");
        /* a new dawnd's page is used at once, not a cached old one */
        MHD_add_response_header(rq->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
}

void http_dashboard_file(struct request *rq)
{
        const char *dir = rq->h->ways->config->dashboard_dir;
        const char *dot = strrchr(rq->route->file, '.');
        const char *type = strcmp(dot, ".html") == 0 ? "text/html; charset=utf-8"
                           : strcmp(dot, ".css") == 0 ? "text/css; charset=utf-8"
                                                      : "text/javascript; charset=utf-8";
        char path[4096];
        struct stat st;
        /* only the files the route table names reach here: no path from the request is used */
        snprintf(path, sizeof(path), "%s/%s", dir, rq->route->file);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                if (fd >= 0)
                        close(fd);
                http_refuse(rq, MHD_HTTP_NOT_FOUND, NULL,
                       "the dashboard is not installed: no %s in daemon.dashboard_dir (%s); make dashboard builds it",
                       rq->route->file, dir);
                return;
        }
        rq->response = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
        if (!rq->response) {
                close(fd);
                return;
        }
        rq->status = MHD_HTTP_OK;
        dashboard_headers(rq, type);
}

/* What the page needs to know of this dawnd: the topic prefix, and where
 * the broker is when it is not behind /mqtt. */
void http_dashboard_config(struct request *rq)
{
        const struct dawn_config *c = rq->h->ways->config;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "topic_prefix", c->mqtt.topic_prefix);
        if (c->dashboard_broker_url)
                cJSON_AddStringToObject(o, "broker_url", c->dashboard_broker_url);
        else
                cJSON_AddNullToObject(o, "broker_url");
        http_respond_json(rq, MHD_HTTP_OK, o);
        if (rq->response)
                dashboard_headers(rq, "application/json; charset=utf-8");
}

static void relay_closed(struct dawn_ws_relay *wr, void *userdata)
{
        struct relay *rl = userdata;
        struct dawn_http *h = rl->h;
        if (rl->prev)
                rl->prev->next = rl->next;
        else
                h->relays = rl->next;
        if (rl->next)
                rl->next->prev = rl->prev;
        h->n_relays--;
        /* MHD closes the socket, and frees the connection on its next run */
        MHD_upgrade_action(rl->urh, MHD_UPGRADE_ACTION_CLOSE);
        free(rl);
        sd_event_source_set_enabled(h->kick, SD_EVENT_ONESHOT);
}

/* Relays signed in to the broker, and the oldest of those that are not. */
static unsigned relays_signed_in(const struct dawn_http *h, struct relay **oldest_pending, unsigned *pending)
{
        unsigned n = 0;
        *oldest_pending = NULL;
        *pending = 0;
        /* newest first: the last one not signed in is the oldest */
        for (struct relay *rl = h->relays; rl; rl = rl->next) {
                if (dawn_ws_relay_signed_in(rl->relay)) {
                        n++;
                } else {
                        *oldest_pending = rl;
                        (*pending)++;
                }
        }
        return n;
}

/* At a relay's accepting CONNACK: DAWN_WS_RELAY_MAX signed in in all, and
 * DAWN_WS_RELAY_PER_LOGIN with one login (it is not yet counted itself). */
static enum dawn_ws_relay_admit relay_admit(struct dawn_ws_relay *wr, const char *user, void *userdata)
{
        struct relay *rl = userdata;
        unsigned all = 0, same = 0;
        for (struct relay *o = rl->h->relays; o; o = o->next) {
                if (o->relay == wr || !dawn_ws_relay_signed_in(o->relay))
                        continue;
                all++;
                if (strcmp(dawn_ws_relay_user(o->relay), user) == 0)
                        same++;
        }
        if (all >= DAWN_WS_RELAY_MAX)
                return DAWN_WS_RELAY_FULL;
        return same >= DAWN_WS_RELAY_PER_LOGIN ? DAWN_WS_RELAY_LOGIN_FULL : DAWN_WS_RELAY_ADMIT;
}

static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct dawn_http *h = cls;
        const struct dawn_mqtt_config *m = &h->ways->config->mqtt;
        /* Upgrades that have not logged in yet cost little (one fd, no broker
         * connection) but may be anyone's: a fixed number of them is kept, and
         * the oldest makes room for a newer one, so squatters cannot keep a
         * real dashboard out for longer than its own login takes. */
        struct relay *oldest;
        unsigned pending;
        relays_signed_in(h, &oldest, &pending);
        if (pending >= DAWN_WS_RELAY_MAX_PENDING && oldest)
                dawn_ws_relay_evict(oldest->relay);
        char peer[NI_MAXHOST + NI_MAXSERV + 2] = "an unknown address";
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        socklen_t len = !sa ? 0 : sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        char host[NI_MAXHOST], port[NI_MAXSERV];
        struct request *rq = con_cls;
        if (rq && strstr(http_remote_of(rq), " via "))
                snprintf(peer, sizeof(peer), "%s", http_remote_of(rq)); /* the browser, through a trusted proxy */
        else if (sa && getnameinfo(sa, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
                snprintf(peer, sizeof(peer), "%s:%s", host, port);
        struct relay *rl = calloc(1, sizeof(*rl));
        int r = rl ? 0 : -ENOMEM;
        if (rl) {
                rl->h = h;
                rl->urh = urh;
                r = dawn_ws_relay_start(h->ways->loop, sock, extra_in, extra_in_size, m->host, m->port, &h->broker, peer,
                                        relay_closed, relay_admit, rl, &rl->relay);
        }
        if (r < 0) {
                log_info("http: dashboard relay to %s:%d not started: %s", m->host, m->port, strerror(-r));
                free(rl);
                MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
                return;
        }
        rl->next = h->relays;
        if (h->relays)
                h->relays->prev = rl;
        h->relays = rl;
        h->n_relays++;
}

/* Same-origin, or an origin in daemon.allowed_origins: a page from
 * elsewhere must not open a connection from the user's browser to this
 * broker (cross-site WebSocket hijacking). The Host is the one the browser
 * sent, as a proxy passes it on (nginx: proxy_set_header Host $http_host);
 * host and port compare as URLs do (netaddr.c), so a port the browser left
 * out because it is the default matches a Host that leaves it out too. */
static bool origin_allowed(struct request *rq)
{
        const struct dawn_config *c = rq->h->ways->config;
        const char *origin = http_header(rq, "Origin");
        char norm[DAWN_ORIGIN_MAX];
        if (!origin)
                return true; /* not a browser */
        if (dawn_origin_matches_host(origin, http_header(rq, MHD_HTTP_HEADER_HOST)))
                return true;
        if (!c->n_allowed_origins || dawn_origin_normalize(origin, norm, sizeof(norm)) < 0)
                return false;
        for (size_t i = 0; i < c->n_allowed_origins; i++)
                if (strcmp(norm, c->allowed_origins[i]) == 0)
                        return true;
        return false;
}

void http_mqtt_relay(struct request *rq)
{
        const struct dawn_config *c = rq->h->ways->config;
        const char *key = http_header(rq, "Sec-WebSocket-Key");
        char accept[29];
        if (!dawn_ws_header_has(http_header(rq, MHD_HTTP_HEADER_UPGRADE), "websocket", false) ||
            !dawn_ws_header_has(http_header(rq, MHD_HTTP_HEADER_CONNECTION), "upgrade", false)) {
                http_refuse(rq, 426, "Upgrade", "/mqtt is a WebSocket endpoint (Upgrade: websocket)");
                http_respond_header(rq, MHD_HTTP_HEADER_UPGRADE, "websocket");
                return;
        }
        const char *version = http_header(rq, "Sec-WebSocket-Version");
        if (!version || strcmp(version, "13") != 0) {
                http_refuse(rq, 426, "Sec-WebSocket-Version", "WebSocket version 13 is the one spoken here");
                http_respond_header(rq, "Sec-WebSocket-Version", "13");
                return;
        }
        if (dawn_ws_accept_key(key, accept) < 0) {
                http_refuse(rq, MHD_HTTP_BAD_REQUEST, "Sec-WebSocket-Key", "Sec-WebSocket-Key: not a WebSocket key");
                return;
        }
        if (!dawn_ws_header_has(http_header(rq, "Sec-WebSocket-Protocol"), "mqtt", true)) {
                http_refuse(rq, MHD_HTTP_BAD_REQUEST, "Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: must offer mqtt");
                return;
        }
        if (!origin_allowed(rq)) {
                http_refuse(rq, MHD_HTTP_FORBIDDEN, "Origin", "a page from another site may not use this relay");
                log_warning("http: dashboard relay refused to a page from %s (%s)", http_header(rq, "Origin"), http_remote_of(rq));
                return;
        }
        if (!c->mqtt.enabled) {
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "no MQTT broker is configured (channels.mqtt)");
                return;
        }
        /* The relay speaks plain TCP to the broker. With channels.mqtt on
         * TLS that port speaks TLS (the login would only time out), and a
         * broker dawnd may reach only over TLS must not get a pharmacy's
         * password in clear: refused at once, saying what to do instead. */
        if (c->mqtt.tls.enabled) {
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                            "the relay does not speak TLS to the broker (channels.mqtt.tls): the dashboard must "
                            "use the broker's own wss:// listener (daemon.dashboard_broker_url)");
                return;
        }
        struct relay *oldest;
        unsigned pending;
        if (relays_signed_in(rq->h, &oldest, &pending) >= DAWN_WS_RELAY_MAX) {
                dawn_metrics_count(DAWN_M_RELAY_REFUSED, "full", NULL);
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "too many dashboards connected; try again later");
                return;
        }
        rq->response = MHD_create_response_for_upgrade(on_upgraded, rq->h);
        if (!rq->response)
                return;
        rq->status = MHD_HTTP_SWITCHING_PROTOCOLS;
        MHD_add_response_header(rq->response, MHD_HTTP_HEADER_UPGRADE, "websocket");
        MHD_add_response_header(rq->response, "Sec-WebSocket-Accept", accept);
        MHD_add_response_header(rq->response, "Sec-WebSocket-Protocol", "mqtt");
}
