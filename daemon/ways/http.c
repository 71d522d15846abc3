#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sms_callback.h"
#include "channel.h"
#include "submit.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "ways.h"
#include "websocket.h"
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
/* A client that keeps sending after it was told its body is too large is cut
 * off here rather than read forever. */
#define HTTP_MAX_DISCARD (DAWN_HTTP_MAX_BATCH_BYTES + DAWN_MAX_REQUEST_BYTES)
/* At shutdown, how long answers already decided may take to go out. */
#define HTTP_DRAIN_USEC (1 * DAWN_USEC_PER_SEC)

/* ---- secrets ---- */

struct source_token {
        char *source;                   /* the source's id */
        char *token;
};

struct secrets {
        struct source_token *v;
        size_t n;
        char *notify_token;             /* the bearer token Notify sends with callbacks */
        char *twilio_auth_token;        /* the key of Twilio's request signatures */
};

enum route {
        ROUTE_NONE,
        ROUTE_ALERTS,          /* /v1/alerts */
        ROUTE_ALERT,           /* /v1/alerts/<id> */
        ROUTE_NOTIFY_STATUS,
        ROUTE_NOTIFY_INBOUND,
        ROUTE_TWILIO_STATUS,
        ROUTE_TWILIO_INBOUND,
        ROUTE_METRICS,
        ROUTE_HEALTHZ,
        ROUTE_DASHBOARD,       /* /, /index.html, /app.js, /style.css, /mqtt.min.js */
        ROUTE_DASHBOARD_CONFIG, /* /config.json */
        ROUTE_MQTT_RELAY,      /* /mqtt: WebSocket to the broker */
};

/* Where a connection is (see "connections" below). */
enum phase {
        PHASE_REQUEST,  /* waiting for a request's headers (a new connection, or a kept-alive one) */
        PHASE_BODY,     /* the headers are in; receiving the body */
        PHASE_COMMIT,   /* the request waits for the group commit (suspended) */
        PHASE_ANSWER,   /* sending the answer */
        PHASE_UPGRADED, /* a dashboard's relay: ws_relay.c's own limits apply */
};

/* Why dawnd closed a connection: the label of dawn_http_connections_dropped_total. */
enum drop {
        DROP_HEADER_TIMEOUT,
        DROP_BODY_TIMEOUT,
        DROP_ANSWER_TIMEOUT,
        DROP_DISPLACED,
        DROP_OVER_LIMIT,
        DROP_COUNT,
};

struct conn {
        struct dawn_http *h;
        struct MHD_Connection *mhd;
        int fd;
        enum phase phase;
        int64_t since;                  /* when this phase began (monotonic) */
        bool cut;                       /* shut down; MHD closes it on its next run */
        struct conn *prev, *next;
};

/* A line at most every HTTP_LOG_EVERY_USEC, saying how many it stands for. */
struct log_limit {
        int64_t at;
        unsigned n;
};

/* One dashboard's WebSocket relayed to the broker. */
struct relay {
        struct dawn_http *h;
        struct dawn_ws_relay *relay;
        struct MHD_UpgradeResponseHandle *urh;
        struct relay *prev, *next;
};

struct dawn_http {
        struct dawn_ways *ways;
        struct MHD_Daemon *mhd;
        sd_event_source *io;            /* MHD's epoll fd */
        sd_event_source *timer;         /* MHD's own timeouts */
        sd_event_source *kick;          /* a run after a resume, which the epoll fd may not show */
        int listen_fd;
        sd_event_source *accept_io;     /* dawnd accepts, then hands the connection to MHD */
        sd_event_source *accept_pause;  /* resumes accepting after running out of fds */
        sd_event_source *deadline;      /* the earliest phase deadline of a connection */
        int64_t deadline_at;            /* when it is armed for; 0: off */
        struct conn *conns;             /* every connection MHD has, from start to close */
        struct log_limit drop_log[DROP_COUNT];
        struct log_limit pause_log;
        struct secrets secrets;
        struct request *requests;       /* every request MHD has not yet completed */
        struct relay *relays;           /* dashboards connected through /mqtt */
        unsigned n_relays;
        bool listening;
        bool stopping;
};

/* One HTTP request, from its request line (MHD's URI callback) until MHD
 * has completed it AND the group commit it waits for has ended: a client
 * may hang up while its answer waits, and the commit callback still comes. */
struct request {
        struct dawn_http *h;
        struct MHD_Connection *conn;
        struct request *prev, *next;
        bool linked;
        char *uri;                      /* as sent, with its query: Twilio signs exactly that */
        char *path;                     /* decoded, for routing and logs */
        char method[16];
        enum route route;
        char *alert_id;                 /* ROUTE_ALERT */
        const char *file;               /* ROUTE_DASHBOARD: which of the dashboard's files */
        char *source;                   /* the authenticated source's id */
        char remote[INET6_ADDRSTRLEN + 8];
        char retry_after[24];           /* a Retry-After for the answer, or "" */

        /* the body */
        char *body;
        size_t len, cap;
        size_t limit;
        bool limit_known;               /* POST /v1/alerts learns it from the first byte */
        uint64_t content_length;        /* 0: not given */
        bool too_large;
        size_t discarded;

        /* where it is */
        bool started, processed, suspended, completed;

        /* the answer */
        struct MHD_Response *response;  /* ready to queue */
        unsigned status;
        cJSON *json;                    /* decided, but waits for the commit */
        unsigned json_status;
        bool batch;                     /* json is an array of per-report results */
        char *twiml_reply;              /* Twilio inbound: the text to send back, or NULL */
        bool twiml;

        /* the group commits this request's store work was part of (see op_begin) */
        struct dawn_ticket ticket;      /* pending while it waits for the open batch */
        unsigned waiting;               /* commit callbacks registered and not yet called */
        bool watching;                  /* one is registered for the transaction open now */
        int *epoch_result;              /* how each of those commits ended, in order */
        size_t n_epochs;
        bool epochs_lost;               /* out of memory while keeping them: assume the worst */
        int *touched;                   /* per report (or [0] for the request): its commit, or -1 */
        size_t n_touched;
};

static int64_t monotonic_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_space(const char *s, size_t i, size_t len)
{
        while (i < len && is_space(s[i]))
                i++;
        return i;
}

/* ---- answers ---- */

static struct MHD_Response *text_response(char *text, size_t len, const char *content_type)
{
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return NULL;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        return resp;
}

/* Makes the answer ready to go; takes body. */
static void respond_json(struct request *rq, unsigned status, cJSON *body)
{
        char *text = body ? cJSON_PrintUnformatted(body) : NULL;
        cJSON_Delete(body);
        if (rq->response)
                MHD_destroy_response(rq->response);
        rq->response = text ? text_response(text, strlen(text), "application/json; charset=utf-8") : NULL;
        rq->status = status;
}

static void respond_header(struct request *rq, const char *name, const char *value)
{
        if (rq->response)
                MHD_add_response_header(rq->response, name, value);
}

static const char *remote_of(struct request *rq)
{
        if (rq->remote[0])
                return rq->remote;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        socklen_t len = !sa ? 0 : sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        if (!sa || getnameinfo(sa, len, rq->remote, sizeof(rq->remote), NULL, 0, NI_NUMERICHOST) != 0)
                snprintf(rq->remote, sizeof(rq->remote), "an unknown address");
        return rq->remote;
}

/* A refusal the client can read (field names what to fix), and one line
 * in the log that an operator can match to a partner's complaint. */
static void refuse(struct request *rq, unsigned status, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void refuse(struct request *rq, unsigned status, const char *field, const char *fmt, ...)
{
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (len >= (int)sizeof(msg))
                msg[dawn_utf8_prefix(msg, sizeof(msg) - 1)] = '\0';
        /* unknown paths and methods are what scanners send: not worth an operator's attention */
        int prio = status == MHD_HTTP_NOT_FOUND || status == MHD_HTTP_METHOD_NOT_ALLOWED ? LOG_DEBUG : LOG_INFO;
        log_internal(prio, 0, NULL, "http: %s %s from %s refused (%u): %s", rq->method, rq->path, remote_of(rq),
                     status, msg);
        respond_json(rq, status, dawn_error_json(field, status == MHD_HTTP_SERVICE_UNAVAILABLE, "%s", msg));
}

/* ---- the body of POST /v1/alerts ---- */

size_t dawn_http_body_limit(char first)
{
        return first == '[' ? DAWN_HTTP_MAX_BATCH_BYTES : DAWN_MAX_REQUEST_BYTES;
}

static int body_refusal(struct dawn_http_answer *out, int status, const char *reason, cJSON *err)
{
        out->http_status = status;
        out->rejected = reason;
        out->body = err;
        return err ? 0 : -ENOMEM;
}

/* "area" of the 4th report becomes "alert[3].area": the index alone would
 * leave a partner counting. */
static void name_report_field(cJSON *answer, int index)
{
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(answer, "field");
        if (!cJSON_IsString(field))
                return;
        char name[96];
        if (strcmp(field->valuestring, "alert") == 0 || strcmp(field->valuestring, "body") == 0)
                snprintf(name, sizeof(name), "alert[%d]", index);
        else
                snprintf(name, sizeof(name), "alert[%d].%.*s", index, dawn_utf8_prefix(field->valuestring, 64),
                         field->valuestring);
        cJSON *s = cJSON_CreateString(name);
        if (s)
                cJSON_ReplaceItemInObjectCaseSensitive(answer, "field", s);
}

/* Asks admit() whether n reports may go on; 1 when they may not (out
 * holds its refusal), 0 when they may, -ENOMEM. */
static int admitted(int n, dawn_http_admit_fn admit, void *userdata, struct dawn_http_answer *out)
{
        if (!admit)
                return 0;
        int status = 0;
        cJSON *refusal = admit(n, &status, userdata);
        if (!refusal)
                return 0;
        out->http_status = status;
        out->rejected = "rate_limited";
        out->body = refusal;
        return 1;
}

static int batch_reports(const cJSON *doc, dawn_http_admit_fn admit, dawn_http_report_fn report, void *userdata,
                         struct dawn_http_answer *out)
{
        int n = cJSON_GetArraySize(doc);
        if (n == 0)
                return body_refusal(out, 400, "invalid",
                                    dawn_error_json("body", false, "the array is empty: send one or more alerts"));
        if (n > DAWN_HTTP_MAX_BATCH)
                return body_refusal(out, 413, "too_large",
                                    dawn_error_json("body", false, "a batch of %d alerts is more than the limit of %d",
                                                 n, DAWN_HTTP_MAX_BATCH));
        if (admitted(n, admit, userdata, out))
                return 0;
        cJSON *results = cJSON_CreateArray();
        if (!results)
                return -ENOMEM;
        const cJSON *item;
        int i = 0;
        cJSON_ArrayForEach(item, doc) {
                int status = 0;
                cJSON *a = report(item, i, &status, userdata);
                if (!a) {
                        status = 503;
                        a = dawn_error_json(NULL, true, "out of memory; try again");
                }
                if (!a) {
                        cJSON_Delete(results);
                        return -ENOMEM;
                }
                name_report_field(a, i);
                cJSON_AddNumberToObject(a, "index", i);
                cJSON_AddNumberToObject(a, "http_status", status);
                cJSON_AddItemToArray(results, a);
                i++;
        }
        out->http_status = 200;
        out->body = results;
        return 0;
}

int dawn_http_alerts_body(const char *body, size_t len, dawn_http_report_fn report, void *userdata,
                          struct dawn_http_answer *out)
{
        return dawn_http_alerts_body_admit(body, len, NULL, report, userdata, out);
}

int dawn_http_alerts_body_admit(const char *body, size_t len, dawn_http_admit_fn admit, dawn_http_report_fn report,
                                void *userdata, struct dawn_http_answer *out)
{
        *out = (struct dawn_http_answer){ 0 };
        size_t start = skip_space(body, 0, len);
        if (start == len)
                return body_refusal(out, 400, "invalid",
                                    dawn_error_json("body", false, "the body is empty: send an alert object, or an "
                                                 "array of them"));
        bool batch = body[start] == '[';
        bool too_large = false;
        cJSON *err = NULL;
        /* a batch is one level deeper: each of its alerts gets what one alert alone may use */
        cJSON *doc = dawn_json_parse_bounded(body, len, dawn_http_body_limit(body[start]),
                                             DAWN_MAX_JSON_DEPTH + (batch ? 1 : 0), batch ? "a batch" : "one alert",
                                             &too_large, &err);
        if (!doc)
                return body_refusal(out, too_large ? 413 : 400, too_large ? "too_large" : "invalid", err);
        int r;
        if (batch)
                r = batch_reports(doc, admit, report, userdata, out);
        else if (!cJSON_IsObject(doc))
                r = body_refusal(out, 400, "invalid",
                                 dawn_error_json("body", false, "the body must be an alert object, or an array of them"));
        else if ((r = admitted(1, admit, userdata, out)) != 0)
                r = r < 0 ? r : 0;
        else {
                int status = 0;
                out->body = report(doc, -1, &status, userdata);
                out->http_status = status;
                r = out->body ? 0 : -ENOMEM;
        }
        cJSON_Delete(doc);
        return r;
}

/* ---- waiting for the group commit ----
 *
 * Whatever a request wrote, or read while a transaction was open, is
 * answered only after that transaction has committed. The group commit
 * never commits inside a write, so one request's reports normally share one
 * batch; still each report remembers which of this request's commits
 * ("epochs") it belongs to, and only the reports in a commit that failed are
 * answered "not stored". */

static void request_free(struct request *rq);
static void finish(struct request *rq);

static void record_epoch(struct request *rq, int r)
{
        int *v = realloc(rq->epoch_result, (rq->n_epochs + 1) * sizeof(*v));
        if (!v) {
                rq->epochs_lost = true;
                rq->n_epochs++;
                return;
        }
        rq->epoch_result = v;
        v[rq->n_epochs++] = r;
}

static void on_commit(int r, void *userdata)
{
        struct request *rq = userdata;
        rq->watching = false;
        rq->waiting--;
        record_epoch(rq, r);
        if (rq->completed) {
                /* the client went away and MHD is done with it: nobody to answer */
                if (!rq->waiting)
                        request_free(rq);
                return;
        }
        if (rq->waiting || !rq->processed)
                return;
        finish(rq);
        if (rq->suspended) {
                rq->suspended = false;
                MHD_resume_connection(rq->conn);
                /* MHD picks a resumed connection up only when it runs next */
                sd_event_source_set_enabled(rq->h->kick, SD_EVENT_ONESHOT);
        }
}

/* Makes sure this request hears how the transaction open now ends. */
static void watch_commit(struct request *rq)
{
        struct dawn_commit *c = rq->h->ways->commit;
        if (rq->watching || !dawn_commit_is_open(c))
                return;
        dawn_commit_ticket(c, &rq->ticket, on_commit, rq);
        rq->watching = true;
        rq->waiting++;
}

/* Around every store operation: the operation belongs to the commit that
 * is this request's next epoch, whether the transaction was open before,
 * opened by it, or committed inside it. */
static size_t op_begin(struct request *rq)
{
        watch_commit(rq);
        return rq->n_epochs;
}

static void op_end(struct request *rq, int slot, bool touched, size_t epoch)
{
        watch_commit(rq);
        if ((size_t)slot >= rq->n_touched) {
                size_t n = rq->n_touched ? rq->n_touched : 1;
                while (n <= (size_t)slot)
                        n *= 2;
                int *v = realloc(rq->touched, n * sizeof(*v));
                if (!v) {
                        rq->epochs_lost |= touched;
                        return;
                }
                for (size_t i = rq->n_touched; i < n; i++)
                        v[i] = -1;
                rq->touched = v;
                rq->n_touched = n;
        }
        rq->touched[slot] = touched ? (int)epoch : -1;
}

/* 0 if the work in slot is durable (or there was none), else the error. */
static int slot_result(const struct request *rq, int slot)
{
        if ((size_t)slot >= rq->n_touched || rq->touched[slot] < 0)
                return 0;
        if (rq->epochs_lost)
                return -ENOMEM;
        size_t e = (size_t)rq->touched[slot];
        /* an epoch that never saw a commit had no transaction: its reads were of committed data */
        return e < rq->n_epochs ? rq->epoch_result[e] : 0;
}

static void finish_batch(struct request *rq)
{
        cJSON *item;
        int i = 0;
        cJSON_ArrayForEach(item, rq->json) {
                int r = slot_result(rq, i);
                if (r < 0) {
                        cJSON *e = dawn_store_error_json(rq->h->ways, r, true);
                        if (e) {
                                cJSON_AddNumberToObject(e, "index", i);
                                cJSON_AddNumberToObject(e, "http_status", 503);
                                cJSON_ReplaceItemViaPointer(rq->json, item, e);
                                item = e;
                        }
                }
                i++;
        }
}

static char *xml_escape(const char *s)
{
        size_t n = 0;
        for (const char *p = s; *p; p++)
                n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        for (const char *p = s; *p; p++) {
                const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" :
                                  *p == '"' ? "&quot;" : *p == '\'' ? "&apos;" : NULL;
                if (rep)
                        o = stpcpy(o, rep);
                else
                        *o++ = *p;
        }
        *o = '\0';
        return out;
}

/* Twilio texts the reply back to the sender when its webhook answers TwiML. */
static void respond_twiml(struct request *rq, const char *reply)
{
        char *escaped = xml_escape(reply ? reply : "");
        char *text = NULL;
        int n = escaped ? asprintf(&text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>%s%s%s</Response>",
                                   *escaped ? "<Message>" : "", escaped, *escaped ? "</Message>" : "")
                        : -1;
        free(escaped);
        if (rq->response)
                MHD_destroy_response(rq->response);
        rq->response = n >= 0 ? text_response(text, (size_t)n, "text/xml; charset=utf-8") : NULL;
        rq->status = MHD_HTTP_OK;
}

/* The decided answer becomes the response, now that the commits it waited for have ended. */
static void finish(struct request *rq)
{
        if (rq->response)
                return;
        if (rq->batch) {
                finish_batch(rq);
        } else {
                int r = slot_result(rq, 0);
                if (r < 0) {
                        cJSON_Delete(rq->json);
                        rq->json = dawn_store_error_json(rq->h->ways, r, strcmp(rq->method, "POST") == 0);
                        rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
                        rq->twiml = false;
                }
        }
        if (rq->twiml)
                respond_twiml(rq, rq->twiml_reply);
        else
                respond_json(rq, rq->json_status, rq->json);
        rq->json = NULL;
}

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
 *   upgraded a dashboard's relay: ws_relay.c's limits
 *
 * A connection past its deadline is shut down (shutdown(2): MHD sees the
 * hang-up on its next run, closes the connection and completes its
 * request). With HTTP_CONNECTION_LIMIT connections open, a new one
 * displaces the connection that has been longest in the request, body or
 * answer phase, which under a slowloris attack is always an attacker's (a
 * real request spends milliseconds there): health checks, callbacks and
 * partners get in, behind a proxy where every client is 127.0.0.1 too.
 * Connections waiting for the commit are never displaced. Only when none
 * can be is the new one answered 503 and closed. */

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
        int64_t now = monotonic_usec();
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
        c->since = monotonic_usec();
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

static bool displaceable(const struct conn *c)
{
        return !c->cut && (c->phase == PHASE_REQUEST || c->phase == PHASE_BODY || c->phase == PHASE_ANSWER);
}

/* The connections counted against HTTP_CONNECTION_LIMIT, and the one to
 * displace first (NULL: none may be). */
static unsigned conns_open(struct dawn_http *h, struct conn **oldest)
{
        unsigned n = 0;
        *oldest = NULL;
        for (struct conn *c = h->conns; c; c = c->next) {
                if (c->cut || c->phase == PHASE_UPGRADED)
                        continue;
                n++;
                if (displaceable(c) && (!*oldest || c->since < (*oldest)->since))
                        *oldest = c;
        }
        return n;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_http *h = userdata;
        int64_t now = monotonic_usec(), next = 0;
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
        struct conn *oldest;
        if (conns_open(h, &oldest) >= HTTP_CONNECTION_LIMIT) {
                if (oldest) {
                        conn_cut(oldest, DROP_DISPLACED);
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
        struct conn *oldest;
        unsigned open = conns_open(h, &oldest);
        sd_event_source_set_enabled(h->accept_io, SD_EVENT_OFF);
        sd_event_source_set_time_relative(h->accept_pause, HTTP_ACCEPT_PAUSE_USEC);
        sd_event_source_set_enabled(h->accept_pause, SD_EVENT_ONESHOT);
        if (oldest)
                conn_cut(oldest, DROP_DISPLACED);
        dawn_metrics_count(DAWN_M_HTTP_ACCEPT_PAUSED, NULL, NULL);
        int64_t now = monotonic_usec();
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

static void request_unlink(struct request *rq)
{
        if (!rq->linked)
                return;
        if (rq->prev)
                rq->prev->next = rq->next;
        else
                rq->h->requests = rq->next;
        if (rq->next)
                rq->next->prev = rq->prev;
        rq->linked = false;
}

static void request_free(struct request *rq)
{
        dawn_ticket_cancel(&rq->ticket); /* freed while waiting (shutdown): the commit must not call it */
        request_unlink(rq);
        if (rq->response)
                MHD_destroy_response(rq->response);
        cJSON_Delete(rq->json);
        free(rq->uri);
        free(rq->path);
        free(rq->alert_id);
        free(rq->source);
        free(rq->body);
        free(rq->twiml_reply);
        free(rq->epoch_result);
        free(rq->touched);
        free(rq);
}

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
        request_unlink(rq);
        if (rq->waiting == 0)
                request_free(rq);
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

static enum route route_of(const char *path, const char **id)
{
        static const struct {
                const char *path;
                enum route route;
        } exact[] = {
                { "/v1/alerts", ROUTE_ALERTS },
                { "/v1/callbacks/notify/status", ROUTE_NOTIFY_STATUS },
                { "/v1/callbacks/notify/inbound", ROUTE_NOTIFY_INBOUND },
                { "/v1/callbacks/twilio/status", ROUTE_TWILIO_STATUS },
                { "/v1/callbacks/twilio/inbound", ROUTE_TWILIO_INBOUND },
                { "/metrics", ROUTE_METRICS },
                { "/healthz", ROUTE_HEALTHZ },
                { "/", ROUTE_DASHBOARD },
                { "/index.html", ROUTE_DASHBOARD },
                { "/app.js", ROUTE_DASHBOARD },
                { "/style.css", ROUTE_DASHBOARD },
                { "/mqtt.min.js", ROUTE_DASHBOARD },
                { "/config.json", ROUTE_DASHBOARD_CONFIG },
                { "/mqtt", ROUTE_MQTT_RELAY },
        };
        *id = NULL;
        for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
                if (strcmp(path, exact[i].path) == 0)
                        return exact[i].route;
        static const char prefix[] = "/v1/alerts/";
        if (strncmp(path, prefix, sizeof(prefix) - 1) == 0 && path[sizeof(prefix) - 1] &&
            !strchr(path + sizeof(prefix) - 1, '/')) {
                *id = path + sizeof(prefix) - 1;
                return ROUTE_ALERT;
        }
        return ROUTE_NONE;
}

/* The methods a route takes, for 405's Allow header; HEAD goes with GET. */
static const char *route_allows(enum route r)
{
        switch (r) {
        case ROUTE_ALERTS: return "GET, HEAD, POST";
        case ROUTE_ALERT:
        case ROUTE_METRICS:
        case ROUTE_HEALTHZ:
        case ROUTE_DASHBOARD:
        case ROUTE_DASHBOARD_CONFIG: return "GET, HEAD";
        case ROUTE_MQTT_RELAY: return "GET";
        default: return "POST";
        }
}

static bool method_allowed(enum route r, const char *method)
{
        bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        bool post = strcmp(method, "POST") == 0;
        switch (r) {
        case ROUTE_ALERTS: return get || post;
        case ROUTE_ALERT:
        case ROUTE_METRICS:
        case ROUTE_HEALTHZ:
        case ROUTE_DASHBOARD:
        case ROUTE_DASHBOARD_CONFIG: return get;
        case ROUTE_MQTT_RELAY: return strcmp(method, "GET") == 0;
        default: return post;
        }
}

static const char *header(struct request *rq, const char *name)
{
        return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* The source whose token was presented. Every configured token is
 * compared, whatever matched before, so the time taken tells nothing of
 * which source (nearly) matched. */
static struct source_token *authenticate(struct dawn_http *h, const char *authorization)
{
        const char *token = authorization ? dawn_bearer_token(authorization) : NULL;
        if (!token || !*token)
                return NULL;
        struct source_token *match = NULL;
        for (size_t i = 0; i < h->secrets.n; i++) {
                bool equal = dawn_secret_equal(token, h->secrets.v[i].token);
                if (equal && !match)
                        match = &h->secrets.v[i];
        }
        return match;
}

static void refuse_unauthorized(struct request *rq)
{
        /* one message for a missing, malformed or unknown token: no hint which part was wrong */
        refuse(rq, MHD_HTTP_UNAUTHORIZED, "Authorization", "a valid bearer token is required");
        respond_header(rq, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dawn\"");
}

static bool is_json_type(const char *type)
{
        static const char json[] = "application/json";
        if (strncasecmp(type, json, sizeof(json) - 1) != 0)
                return false;
        char next = type[sizeof(json) - 1];
        return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* ---- a source's rate: alerts, not requests ---- */

static const char *plural(unsigned n)
{
        return n == 1 ? "" : "s";
}

/* The refusal of n alerts that do not fit source's limit now: the same
 * over HTTP (429, Retry-After) and MQTT (on the result topic): "temporary"
 * and "retry_after" say when to try again; a request that can never fit
 * (more alerts than the limit lets through at once) says so. */
cJSON *dawn_http_rate_refusal(const char *source, struct dawn_source_limit *lim, unsigned n, int64_t now,
                              unsigned *retry_seconds)
{
        uint64_t wait = dawn_bucket_wait_n_usec(&lim->bucket, n ? n : 1, now);
        uint64_t seconds = (wait + DAWN_USEC_PER_SEC - 1) / DAWN_USEC_PER_SEC;
        if (seconds < 1)
                seconds = 1;
        *retry_seconds = (unsigned)seconds;
        unsigned most = (unsigned)lim->bucket.capacity;
        cJSON *o;
        if (n > most)
                o = dawn_error_json(NULL, true,
                                    "source %s may send %d alerts a minute, at most %u at once: this request holds "
                                    "%u; send them in requests of at most %u (the first in %llu s); nothing was stored",
                                    source, lim->rate_per_minute, most, n, most, (unsigned long long)seconds);
        else
                o = dawn_error_json(NULL, true,
                                    "source %s sent more than its %d alerts a minute; %u more alert%s can be taken "
                                    "in %llu s; nothing was stored", source, lim->rate_per_minute, n ? n : 1,
                                    plural(n ? n : 1), (unsigned long long)seconds);
        if (o)
                cJSON_AddNumberToObject(o, "retry_after", (double)seconds);
        return o;
}

/* Takes n of source's tokens (n 0: only checks that one is there). When
 * they are not there, the refusal is in rq->json (429) and rq->retry_after,
 * counted, and logged once a minute per source. */
static bool rate_admits(struct request *rq, const char *source, unsigned n, bool post)
{
        const struct dawn_source *src = dawn_config_source(rq->h->ways->config, source);
        int64_t now = monotonic_usec();
        struct dawn_source_limit *lim = dawn_source_limit(source, src ? src->rate_per_minute : 0, now);
        if (!lim)
                return true; /* out of memory: fairness is not worth a refusal */
        bool ok = n ? dawn_bucket_take_n(&lim->bucket, n, now) : dawn_bucket_wait_usec(&lim->bucket, now) == 0;
        if (ok)
                return true;
        unsigned seconds;
        cJSON_Delete(rq->json);
        rq->json = dawn_http_rate_refusal(source, lim, n, now, &seconds);
        rq->json_status = MHD_HTTP_TOO_MANY_REQUESTS;
        snprintf(rq->retry_after, sizeof(rq->retry_after), "%u", seconds);
        if (post)
                dawn_metrics_add(DAWN_M_INTAKE_REJECTED, "http", "rate_limited", n ? n : 1);
        unsigned refused;
        if (dawn_source_limit_log_due(lim, n ? n : 1, now, &refused))
                log_info("http: source %s is over its rate_per_minute (%d alerts a minute): %u alert%s refused "
                         "with 429 in the last minute (from %s)", source, lim->rate_per_minute, refused,
                         plural(refused), remote_of(rq));
        return false;
}

/* dawn_http_alerts_body_admit()'s admit: the whole request's alerts, or none. */
static cJSON *admit_reports(int n, int *http_status, void *userdata)
{
        struct request *rq = userdata;
        if (rate_admits(rq, rq->source, (unsigned)n, true))
                return NULL;
        *http_status = MHD_HTTP_TOO_MANY_REQUESTS;
        cJSON *refusal = rq->json;
        rq->json = NULL;
        return refusal ? refusal : dawn_error_json(NULL, true, "too many alerts; try again shortly");
}

/* What can be decided from the headers alone, before a byte of the body is
 * read: a refused request costs no more than its headers. */
static void begin_alerts(struct request *rq)
{
        struct dawn_http *h = rq->h;
        bool post = strcmp(rq->method, "POST") == 0;
        struct source_token *src = authenticate(h, header(rq, MHD_HTTP_HEADER_AUTHORIZATION));
        if (!src) {
                if (post)
                        dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "unauthorized");
                refuse_unauthorized(rq);
                return;
        }
        /* a POST's alerts are counted once its body is here; a body need
         * not be read when not even one would be taken now */
        if (!rate_admits(rq, src->source, post ? 0 : 1, post)) {
                respond_json(rq, MHD_HTTP_TOO_MANY_REQUESTS, rq->json);
                rq->json = NULL;
                return;
        }
        rq->source = strdup(src->source);
        if (!rq->source) {
                refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
                return;
        }
        if (!post) {
                rq->limit_known = true; /* a GET has no body */
                return;
        }
        const char *type = header(rq, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (type && !is_json_type(type)) {
                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "invalid");
                refuse(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                       "Content-Type must be application/json, not %.60s", type);
                return;
        }
        if (rq->content_length > DAWN_HTTP_MAX_BATCH_BYTES) {
                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "too_large");
                refuse(rq, MHD_HTTP_CONTENT_TOO_LARGE, "body", "a body of %llu bytes is larger than the limit of %d bytes",
                       (unsigned long long)rq->content_length, DAWN_HTTP_MAX_BATCH_BYTES);
        }
}

static const char *provider_of(enum route r)
{
        return r == ROUTE_NOTIFY_STATUS || r == ROUTE_NOTIFY_INBOUND ? "notify" : "twilio";
}


static void refuse_unverified(struct request *rq, unsigned status, const char *why)
{
        const char *provider = provider_of(rq->route);
        /* a warning, not info: the gateway's secret and ours differ, or someone forges receipts */
        log_warning("http: %s callback %s from %s refused (%u): %s", provider, rq->path, remote_of(rq), status, why);
        dawn_metrics_count(DAWN_M_CALLBACKS_REFUSED, provider, "unauthenticated");
        bool bearer = status == MHD_HTTP_UNAUTHORIZED;
        respond_json(rq, status, dawn_error_json(bearer ? "Authorization" : "X-Twilio-Signature", false,
                                              "the callback could not be verified"));
        if (bearer)
                respond_header(rq, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dawn\"");
}

static void begin_callback(struct request *rq)
{
        struct dawn_http *h = rq->h;
        rq->limit = DAWN_MAX_CALLBACK_BYTES;
        rq->limit_known = true;
        if (strcmp(provider_of(rq->route), "notify") == 0) {
                if (!h->secrets.notify_token) {
                        refuse(rq, MHD_HTTP_NOT_FOUND, NULL,
                               "Notify callbacks are not configured (channels.sms.callback_token_file)");
                        return;
                }
                const char *auth = header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
                if (!dawn_secret_equal(auth ? dawn_bearer_token(auth) : NULL, h->secrets.notify_token)) {
                        refuse_unverified(rq, MHD_HTTP_UNAUTHORIZED, "no valid bearer token");
                        return;
                }
        } else {
                if (!h->secrets.twilio_auth_token || !h->ways->config->sms.callback_base_url) {
                        refuse(rq, MHD_HTTP_NOT_FOUND, NULL,
                               "Twilio callbacks are not configured (channels.sms.auth_token_file and "
                               "callback_base_url)");
                        return;
                }
                /* the signature covers the body: it is checked once the body is here */
                if (!header(rq, "X-Twilio-Signature")) {
                        refuse_unverified(rq, MHD_HTTP_FORBIDDEN, "no X-Twilio-Signature");
                        return;
                }
        }
        if (rq->content_length > rq->limit) {
                dawn_metrics_count(DAWN_M_CALLBACKS_REFUSED, provider_of(rq->route), "invalid");
                refuse(rq, MHD_HTTP_CONTENT_TOO_LARGE, "body", "a body of %llu bytes is larger than the limit of %zu bytes",
                       (unsigned long long)rq->content_length, rq->limit);
        }
}

static void begin(struct request *rq, const char *url, const char *method)
{
        snprintf(rq->method, sizeof(rq->method), "%s", method);
        rq->path = strdup(url);
        if (!rq->path)
                return; /* no response: queue() hangs up */
        const char *cl = header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
        rq->content_length = cl ? strtoull(cl, NULL, 10) : 0;
        /* libmicrohttpd decodes %00 into a NUL that ends the path and query values early:
         * "/v1/alerts/A1%00zz" would be read as A1. Nothing DAWN serves has a NUL in it. */
        if (strstr(rq->uri, "%00")) {
                refuse(rq, MHD_HTTP_BAD_REQUEST, "url", "the URL holds an encoded NUL (%%00)");
                return;
        }
        const char *id;
        rq->route = route_of(url, &id);
        if (rq->route == ROUTE_NONE) {
                refuse(rq, MHD_HTTP_NOT_FOUND, NULL, "no such resource");
                return;
        }
        if (!method_allowed(rq->route, method)) {
                refuse(rq, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "%s is not allowed here; allowed: %s", rq->method,
                       route_allows(rq->route));
                respond_header(rq, MHD_HTTP_HEADER_ALLOW, route_allows(rq->route));
                return;
        }
        if (rq->route == ROUTE_DASHBOARD)
                rq->file = strcmp(url, "/") == 0 ? "index.html" : url + 1;
        if (rq->h->stopping && rq->route != ROUTE_HEALTHZ && rq->route != ROUTE_METRICS) {
                refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "dawnd is stopping; try again shortly");
                return;
        }
        if (id && !(rq->alert_id = strdup(id))) {
                refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
                return;
        }
        switch (rq->route) {
        case ROUTE_ALERTS:
        case ROUTE_ALERT:
                begin_alerts(rq);
                break;
        case ROUTE_NOTIFY_STATUS:
        case ROUTE_NOTIFY_INBOUND:
        case ROUTE_TWILIO_STATUS:
        case ROUTE_TWILIO_INBOUND:
                begin_callback(rq);
                break;
        default:
                rq->limit_known = true; /* no body */
                break;
        }
}

/* Copies a piece of the body, never more than the limit; false when the
 * client should be cut off (it keeps sending after its body was too large). */
static bool take_body(struct request *rq, const char *data, size_t size)
{
        if (!rq->too_large && !rq->limit_known) {
                size_t i = skip_space(data, 0, size);
                if (i < size) {
                        rq->limit = dawn_http_body_limit(data[i]);
                        rq->limit_known = true;
                }
        }
        size_t limit = rq->limit_known ? rq->limit : DAWN_MAX_REQUEST_BYTES;
        if (!rq->too_large && size > limit - rq->len) {
                rq->too_large = true;
                rq->discarded = rq->len;
                free(rq->body);
                rq->body = NULL;
                rq->len = rq->cap = 0;
        }
        if (rq->too_large) {
                rq->discarded += size;
                return rq->discarded <= HTTP_MAX_DISCARD;
        }
        if (rq->len + size + 1 > rq->cap) {
                size_t cap = rq->cap ? rq->cap * 2 : 4096;
                if (rq->content_length <= limit && cap < rq->content_length + 1)
                        cap = (size_t)rq->content_length + 1;
                while (cap < rq->len + size + 1)
                        cap *= 2;
                if (cap > limit + 1)
                        cap = limit + 1;
                char *b = realloc(rq->body, cap);
                if (!b)
                        return false;
                rq->body = b;
                rq->cap = cap;
        }
        memcpy(rq->body + rq->len, data, size);
        rq->len += size;
        rq->body[rq->len] = '\0';
        return true;
}

static void refuse_too_large(struct request *rq)
{
        if (rq->route == ROUTE_ALERTS)
                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "too_large");
        else if (rq->route != ROUTE_ALERT && rq->route != ROUTE_METRICS && rq->route != ROUTE_HEALTHZ)
                dawn_metrics_count(DAWN_M_CALLBACKS_REFUSED, provider_of(rq->route), "invalid");
        refuse(rq, MHD_HTTP_CONTENT_TOO_LARGE, "body", "the body is larger than the limit of %zu bytes",
               rq->limit_known ? rq->limit : (size_t)DAWN_MAX_REQUEST_BYTES);
}

/* ---- POST /v1/alerts, GET /v1/alerts[/<id>] ---- */

static cJSON *report_to_intake(const cJSON *report, int index, int *http_status, void *userdata)
{
        struct request *rq = userdata;
        struct dawn_ways *ways = rq->h->ways;
        const struct dawn_source *src = dawn_config_source(ways->config, rq->source);
        if (!src) {
                /* a reload removed the source while its request was on the way */
                *http_status = MHD_HTTP_UNAUTHORIZED;
                return dawn_error_json("Authorization", false, "source %s is no longer configured", rq->source);
        }
        size_t epoch = op_begin(rq);
        bool wrote = false;
        cJSON *answer = dawn_ingest_report(ways, src, DAWN_WAY_HTTP, report, http_status, &wrote);
        op_end(rq, index < 0 ? 0 : index, wrote, epoch);
        return answer;
}

static void post_alerts(struct request *rq)
{
        if (rq->too_large) {
                refuse_too_large(rq);
                return;
        }
        struct dawn_http_answer ans;
        if (dawn_http_alerts_body_admit(rq->body ? rq->body : "", rq->len, admit_reports, report_to_intake, rq,
                                        &ans) < 0) {
                refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
                return;
        }
        if (ans.rejected && strcmp(ans.rejected, "rate_limited") == 0) {
                /* counted and logged by rate_admits() */
        } else if (ans.rejected) {
                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", ans.rejected);
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(ans.body, "error");
                log_info("http: %s %s from %s refused (%d): %s", rq->method, rq->path, remote_of(rq), ans.http_status,
                         cJSON_IsString(e) ? e->valuestring : ans.rejected);
        }
        rq->json = ans.body;
        rq->json_status = (unsigned)ans.http_status;
        rq->batch = cJSON_IsArray(ans.body);
}

/* What a source may see (RELIABILITY.md promise 9): the alerts it is a
 * source of, whatever their status (its pending reports too), and every
 * other alert while it is active. Another source's pending reports are not
 * its business, and neither are closed alerts of others: one that was
 * rejected in review or expired while pending never went out. An alert it
 * may not see is "no such alert" (404), so ids tell nothing either. */
static bool may_see(const char *source, const char *status, const cJSON *sources)
{
        if (status && strcmp(status, dawn_status_name(DAWN_STATUS_ACTIVE)) == 0)
                return true;
        const cJSON *s;
        cJSON_ArrayForEach(s, sources)
                if (cJSON_IsString(s) && strcmp(s->valuestring, source) == 0)
                        return true;
        return false;
}

static void keep_visible(const char *source, cJSON *alerts)
{
        cJSON *a = alerts ? alerts->child : NULL;
        while (a) {
                cJSON *next = a->next;
                const cJSON *status = cJSON_GetObjectItemCaseSensitive(a, "status");
                if (!may_see(source, cJSON_IsString(status) ? status->valuestring : NULL,
                             cJSON_GetObjectItemCaseSensitive(a, "sources")))
                        cJSON_Delete(cJSON_DetachItemViaPointer(alerts, a));
                a = next;
        }
}

/* Alerts as partners see them: the public alert JSON, which holds no
 * recipient, phone number or address, of the alerts the source may see. */
static void list_alerts(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        const char *all = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "all");
        bool every = all && (strcmp(all, "1") == 0 || strcasecmp(all, "true") == 0);
        cJSON *alerts = cJSON_CreateArray();
        size_t epoch = op_begin(rq);
        int r = alerts ? dawn_store_list_alerts(ways->store, every, alerts) : -ENOMEM;
        op_end(rq, 0, true, epoch);
        if (r < 0) {
                cJSON_Delete(alerts);
                rq->json = dawn_store_error_json(ways, r, false);
                rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
                return;
        }
        keep_visible(rq->source, alerts);
        rq->json = alerts;
        rq->json_status = MHD_HTTP_OK;
}

static bool alert_visible(const char *source, const struct dawn_alert *a)
{
        return a->status == DAWN_STATUS_ACTIVE || dawn_strv_contains(&a->sources, source);
}

static void show_alert(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        if (strlen(rq->alert_id) > DAWN_MAX_ID_CHARS) {
                refuse(rq, MHD_HTTP_NOT_FOUND, "id", "no such alert");
                return;
        }
        struct dawn_alert a;
        dawn_alert_init(&a);
        size_t epoch = op_begin(rq);
        int r = dawn_store_load_alert(ways->store, rq->alert_id, &a);
        op_end(rq, 0, true, epoch);
        if (r < 0) {
                rq->json = dawn_store_error_json(ways, r, false);
                rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        } else if (r == 0 || !alert_visible(rq->source, &a)) {
                rq->json = dawn_error_json("id", false, "no alert with id '%s'", rq->alert_id);
                rq->json_status = MHD_HTTP_NOT_FOUND;
        } else {
                rq->json = dawn_alert_to_json(&a);
                rq->json_status = MHD_HTTP_OK;
        }
        dawn_alert_clear(&a);
}

/* ---- gateway callbacks ---- */

static void callback_invalid(struct request *rq, const struct dawn_input_error *err)
{
        dawn_metrics_count(DAWN_M_CALLBACKS_REFUSED, provider_of(rq->route), "invalid");
        refuse(rq, MHD_HTTP_BAD_REQUEST, err->field, "%s", err->message);
}

/* After the store had its say. A receipt or text that was ignored (no such
 * text, another alert's reference, an illegal transition, a replay) is
 * still answered 200, or the gateway would retry it for days; only a store
 * failure is a 503, which the gateway retries. */
static void callback_done(struct request *rq, int r)
{
        struct dawn_ways *ways = rq->h->ways;
        if (r < 0) {
                rq->json = dawn_store_error_json(ways, r, true);
                rq->json_status = MHD_HTTP_SERVICE_UNAVAILABLE;
                rq->twiml = false;
                return;
        }
        if (!rq->twiml) {
                rq->json = cJSON_CreateObject();
                cJSON_AddBoolToObject(rq->json, "ok", true);
                rq->json_status = MHD_HTTP_OK;
        }
}

static void receipt(struct request *rq, const struct dawn_receipt *rc)
{
        bool wrote = false;
        size_t epoch = op_begin(rq);
        int r = dawn_ingest_receipt(rq->h->ways, provider_of(rq->route), rc, &wrote);
        op_end(rq, 0, wrote, epoch);
        callback_done(rq, r);
}

static void sms_reply(struct request *rq, const struct dawn_inbound_sms *sms)
{
        char reply[480] = "";
        bool wrote = false;
        size_t epoch = op_begin(rq);
        int r = dawn_ingest_sms_reply(rq->h->ways, provider_of(rq->route), sms, reply, sizeof(reply), &wrote);
        op_end(rq, 0, wrote, epoch);
        if (r >= 0 && rq->route == ROUTE_TWILIO_INBOUND) {
                rq->twiml = true;
                rq->twiml_reply = strdup(reply);
        }
        callback_done(rq, r);
}

static void notify_callback(struct request *rq)
{
        struct dawn_input_error err = { 0 };
        const char *body = rq->body ? rq->body : "";
        if (rq->route == ROUTE_NOTIFY_STATUS) {
                struct dawn_receipt rc;
                if (dawn_receipt_parse_notify(body, rq->len, &rc, &err) < 0)
                        callback_invalid(rq, &err);
                else
                        receipt(rq, &rc);
        } else {
                struct dawn_inbound_sms sms;
                if (dawn_inbound_parse_notify(body, rq->len, &sms, &err) < 0)
                        callback_invalid(rq, &err);
                else
                        sms_reply(rq, &sms);
        }
}

/* Twilio signs the URL it called (this API's public base URL, the path and
 * the query exactly as sent) and the form's fields. */
static bool twilio_signed(struct request *rq, const struct dawn_form *form)
{
        const char *base = rq->h->ways->config->sms.callback_base_url;
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
                n--;
        char *url = NULL;
        if (asprintf(&url, "%.*s%s", (int)n, base, rq->uri) < 0)
                return false;
        bool ok = dawn_twilio_signature_ok(rq->h->secrets.twilio_auth_token, url, form,
                                           header(rq, "X-Twilio-Signature"));
        free(url);
        return ok;
}

static void twilio_callback(struct request *rq)
{
        struct dawn_form form = { 0 };
        struct dawn_input_error err = { 0 };
        if (dawn_form_parse(rq->body ? rq->body : "", rq->len, &form) < 0) {
                dawn_input_error_set(&err, "body", "the body is not a valid form (application/x-www-form-urlencoded)");
                callback_invalid(rq, &err);
        } else if (!twilio_signed(rq, &form)) {
                refuse_unverified(rq, MHD_HTTP_FORBIDDEN, "X-Twilio-Signature does not match");
        } else if (rq->route == ROUTE_TWILIO_STATUS) {
                struct dawn_receipt rc;
                const char *ref = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "ref");
                if (dawn_receipt_parse_twilio(&form, ref, &rc, &err) < 0)
                        callback_invalid(rq, &err);
                else
                        receipt(rq, &rc);
        } else {
                struct dawn_inbound_sms sms;
                if (dawn_inbound_parse_twilio(&form, &sms, &err) < 0)
                        callback_invalid(rq, &err);
                else
                        sms_reply(rq, &sms);
        }
        dawn_form_clear(&form);
}

/* ---- /metrics, /healthz ---- */

static double count_of(const cJSON *counts, const char *outer, const char *inner)
{
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(counts, outer), inner);
        return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* What the store knows, read at scrape time so that it is right after a
 * restart too. Every known label combination is written, zeros included:
 * a series that vanishes cannot be told from a scrape that failed. */
static void write_store_gauges(struct dawn_ways *ways, FILE *f)
{
        char labels[128];
        cJSON *alerts = cJSON_CreateObject();
        if (alerts && dawn_store_alert_counts(ways->store, alerts) == 0) {
                int first = 1;
                for (int s = 0; s < DAWN_STATUS_COUNT; s++)
                        for (int g = 0; g < DAWN_GRADE_COUNT; g++) {
                                const char *status = dawn_status_name((enum dawn_status)s);
                                const char *grade = dawn_grade_name((enum dawn_grade)g);
                                snprintf(labels, sizeof(labels), "status=\"%s\",grade=\"%s\"", status, grade);
                                dawn_metrics_write_gauge(f, "dawn_alerts", "Alerts in the store, by status and grade.",
                                                         labels, count_of(alerts, status, grade), first);
                                first = 0;
                        }
        }
        cJSON_Delete(alerts);

        cJSON *queue = cJSON_CreateObject();
        if (queue && dawn_store_queue_counts(ways->store, queue) == 0) {
                int first = 1;
                for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                        const char *channel = dawn_channel_name((enum dawn_channel_kind)k);
                        if (!ways->channels[k] && !cJSON_GetObjectItemCaseSensitive(queue, channel))
                                continue;
                        for (int s = 0; s < DAWN_DELIVERY_STATE_COUNT; s++) {
                                const char *state = dawn_delivery_state_name((enum dawn_delivery_state)s);
                                snprintf(labels, sizeof(labels), "channel=\"%s\",state=\"%s\"", channel, state);
                                dawn_metrics_write_gauge(f, "dawn_deliveries",
                                                         "Deliveries in the outbox, by channel and state.", labels,
                                                         count_of(queue, channel, state), first);
                                first = 0;
                        }
                }
                first = 1;
                for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                        const char *channel = dawn_channel_name((enum dawn_channel_kind)k);
                        if (!ways->channels[k] && !cJSON_GetObjectItemCaseSensitive(queue, channel))
                                continue;
                        snprintf(labels, sizeof(labels), "channel=\"%s\"", channel);
                        dawn_metrics_write_gauge(f, "dawn_outbox_queue_depth",
                                                 "Deliveries waiting to be sent (pending or retrying), by channel.",
                                                 labels,
                                                 count_of(queue, channel, "pending") + count_of(queue, channel, "retrying"),
                                                 first);
                        first = 0;
                }
        }
        cJSON_Delete(queue);
}

/* No token: the counters and gauges hold no personal data (no numbers,
 * addresses or alert text), and the default listening address is loopback;
 * an operator who exposes the API limits /metrics at the proxy. */
static void metrics(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) {
                refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
                return;
        }
        int r = dawn_metrics_write(f);
        write_store_gauges(ways, f);
        dawn_metrics_write_gauge(f, "dawn_outbox_in_flight", "Deliveries handed to a channel and not yet ended.",
                                 NULL, dawn_outbox_in_flight(ways->outbox), 1);
        dawn_metrics_write_gauge(f, "dawn_up", "1 while dawnd runs.", NULL, 1, 1);
        dawn_metrics_write_gauge(f, "dawn_uptime_seconds", "Seconds since dawnd started.", NULL,
                                 (double)(dawn_now_usec() - ways->started_at) / 1e6, 1);
        if (fclose(f) != 0 || r < 0) {
                free(text);
                refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "the metrics could not be written; try again");
                return;
        }
        rq->response = text_response(text, len, "text/plain; version=0.0.4; charset=utf-8");
        rq->status = MHD_HTTP_OK;
}

static void healthz(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        cJSON *o = cJSON_CreateObject();
        unsigned status = MHD_HTTP_OK;
        int r;
        if (ways->stopping || rq->h->stopping) {
                cJSON_AddStringToObject(o, "status", "stopping");
                status = MHD_HTTP_SERVICE_UNAVAILABLE;
        } else if ((r = dawn_store_check_writable(ways->store)) < 0) {
                /* what the watchdog checks: a store that takes no writes accepts no alerts */
                cJSON_AddStringToObject(o, "status", "store not writable");
                cJSON_AddStringToObject(o, "error", strerror(-r));
                status = MHD_HTTP_SERVICE_UNAVAILABLE;
        } else {
                cJSON_AddStringToObject(o, "status", "ok");
        }
        respond_json(rq, status, o);
}

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

static void dashboard_file(struct request *rq)
{
        const char *dir = rq->h->ways->config->dashboard_dir;
        const char *dot = strrchr(rq->file, '.');
        const char *type = strcmp(dot, ".html") == 0 ? "text/html; charset=utf-8"
                           : strcmp(dot, ".css") == 0 ? "text/css; charset=utf-8"
                                                      : "text/javascript; charset=utf-8";
        char path[4096];
        struct stat st;
        /* only the names route_of() knows reach here: no path from the request is used */
        snprintf(path, sizeof(path), "%s/%s", dir, rq->file);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                if (fd >= 0)
                        close(fd);
                refuse(rq, MHD_HTTP_NOT_FOUND, NULL,
                       "the dashboard is not installed: no %s in daemon.dashboard_dir (%s); make dashboard builds it",
                       rq->file, dir);
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
static void dashboard_config(struct request *rq)
{
        const struct dawn_config *c = rq->h->ways->config;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "topic_prefix", c->mqtt.topic_prefix);
        if (c->dashboard_broker_url)
                cJSON_AddStringToObject(o, "broker_url", c->dashboard_broker_url);
        else
                cJSON_AddNullToObject(o, "broker_url");
        respond_json(rq, MHD_HTTP_OK, o);
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
        if (sa && getnameinfo(sa, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
                snprintf(peer, sizeof(peer), "%s:%s", host, port);
        struct relay *rl = calloc(1, sizeof(*rl));
        int r = rl ? 0 : -ENOMEM;
        if (rl) {
                rl->h = h;
                rl->urh = urh;
                r = dawn_ws_relay_start(h->ways->loop, sock, extra_in, extra_in_size, m->host, m->port, peer,
                                        relay_closed, rl, &rl->relay);
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

/* Same-origin only: a page from elsewhere must not open a connection from
 * the user's browser to this broker (cross-site WebSocket hijacking). */
static bool origin_allowed(struct request *rq)
{
        const char *origin = header(rq, "Origin");
        const char *host = header(rq, MHD_HTTP_HEADER_HOST);
        if (!origin)
                return true; /* not a browser */
        const char *sep = strstr(origin, "://");
        return host && sep && strcmp(sep + 3, host) == 0;
}

static void mqtt_relay(struct request *rq)
{
        const struct dawn_config *c = rq->h->ways->config;
        const char *key = header(rq, "Sec-WebSocket-Key");
        char accept[29];
        if (!dawn_ws_header_has(header(rq, MHD_HTTP_HEADER_UPGRADE), "websocket", false) ||
            !dawn_ws_header_has(header(rq, MHD_HTTP_HEADER_CONNECTION), "upgrade", false)) {
                refuse(rq, 426, "Upgrade", "/mqtt is a WebSocket endpoint (Upgrade: websocket)");
                respond_header(rq, MHD_HTTP_HEADER_UPGRADE, "websocket");
                return;
        }
        const char *version = header(rq, "Sec-WebSocket-Version");
        if (!version || strcmp(version, "13") != 0) {
                refuse(rq, 426, "Sec-WebSocket-Version", "WebSocket version 13 is the one spoken here");
                respond_header(rq, "Sec-WebSocket-Version", "13");
                return;
        }
        if (dawn_ws_accept_key(key, accept) < 0) {
                refuse(rq, MHD_HTTP_BAD_REQUEST, "Sec-WebSocket-Key", "Sec-WebSocket-Key: not a WebSocket key");
                return;
        }
        if (!dawn_ws_header_has(header(rq, "Sec-WebSocket-Protocol"), "mqtt", true)) {
                refuse(rq, MHD_HTTP_BAD_REQUEST, "Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: must offer mqtt");
                return;
        }
        if (!origin_allowed(rq)) {
                refuse(rq, MHD_HTTP_FORBIDDEN, "Origin", "a page from another site may not use this relay");
                log_warning("http: dashboard relay refused to a page from %s (%s)", header(rq, "Origin"), remote_of(rq));
                return;
        }
        if (!c->mqtt.enabled) {
                refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "no MQTT broker is configured (channels.mqtt)");
                return;
        }
        struct relay *oldest;
        unsigned pending;
        if (relays_signed_in(rq->h, &oldest, &pending) >= DAWN_WS_RELAY_MAX) {
                dawn_metrics_count(DAWN_M_RELAY_REFUSED, "full", NULL);
                refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "too many dashboards connected; try again later");
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

/* The whole request is here: act on it. */
static void process(struct request *rq)
{
        if (rq->too_large) {
                refuse_too_large(rq);
                return;
        }
        bool post = strcmp(rq->method, "POST") == 0;
        switch (rq->route) {
        case ROUTE_ALERTS:
                if (post)
                        post_alerts(rq);
                else
                        list_alerts(rq);
                break;
        case ROUTE_ALERT: show_alert(rq); break;
        case ROUTE_NOTIFY_STATUS:
        case ROUTE_NOTIFY_INBOUND: notify_callback(rq); break;
        case ROUTE_TWILIO_STATUS:
        case ROUTE_TWILIO_INBOUND: twilio_callback(rq); break;
        case ROUTE_METRICS: metrics(rq); break;
        case ROUTE_HEALTHZ: healthz(rq); break;
        case ROUTE_DASHBOARD: dashboard_file(rq); break;
        case ROUTE_DASHBOARD_CONFIG: dashboard_config(rq); break;
        case ROUTE_MQTT_RELAY: mqtt_relay(rq); break;
        case ROUTE_NONE: break;
        }
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
                bool keep = take_body(rq, upload_data, *upload_data_size);
                *upload_data_size = 0;
                if (!keep) {
                        if (rq->route == ROUTE_ALERTS)
                                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "too_large");
                        log_info("http: %s %s from %s: cut off after %zu bytes of a body that was too large",
                                 rq->method, rq->path, remote_of(rq), rq->discarded);
                }
                return keep ? MHD_YES : MHD_NO;
        }
        if (!rq->processed) {
                process(rq);
                rq->processed = true;
                if (rq->waiting) {
                        /* answered from on_commit, once what it did is durable */
                        MHD_suspend_connection(conn);
                        rq->suspended = true;
                        conn_enter(conn_of(conn), PHASE_COMMIT);
                        return MHD_YES;
                }
                finish(rq);
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

static void wipe_free(char *s)
{
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

static void secrets_clear(struct secrets *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].source);
                wipe_free(s->v[i].token);
        }
        free(s->v);
        wipe_free(s->notify_token);
        wipe_free(s->twilio_auth_token);
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
                        wipe_free(t->token);
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
        log_info("http: listening on %s (%zu source(s) with a token)", own_fd ? address : "the socket systemd passed",
                 h->secrets.n);
        *out = h;
        return 0;
}

int dawn_http_reload(struct dawn_http *h)
{
        if (!h)
                return 0;
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
                /* answers waiting for the group commit hear its outcome now, while they can still be sent */
                for (struct request *rq = h->requests; rq; rq = rq->next)
                        if (rq->waiting) {
                                dawn_commit_flush(h->ways->commit);
                                break;
                        }
                const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
                int64_t deadline = monotonic_usec() + (int64_t)HTTP_DRAIN_USEC;
                while (info && answers_owed(h) && monotonic_usec() < deadline) {
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
                request_free(h->requests);
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
        secrets_clear(&h->secrets);
        free(h);
        return NULL;
}
