/* What the HTTP API's files share, and nothing outside them sees (as curl's
 * vtls_int.h): the server and its connections (http.c), a request and its
 * answer (http_request.c), and one file per group of routes: http_alerts.c,
 * http_callbacks.c, http_dashboard.c, http_health.c. */
#ifndef DAWN_HTTP_INT_H
#define DAWN_HTTP_INT_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "http.h"
#include "str.h"
#include "relay.h"
#include "ways.h"

/* A client that keeps sending after it was told its body is too large is cut
 * off here rather than read forever. */
#define HTTP_MAX_DISCARD (DAWN_HTTP_MAX_BATCH_BYTES + DAWN_MAX_REQUEST_BYTES)

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

struct request;

/* ---- the routes: one table (http.c) says everything dawnd knows of a path ---- */

/* The methods a route takes, as a mask. HEAD is answered as GET (MHD sends no body). */
enum {
        HTTP_GET = 1 << 0,
        HTTP_HEAD = 1 << 1,
        HTTP_POST = 1 << 2,
};

/* Who may call a route: checked from the headers, before a byte of the body is read. */
enum http_auth {
        HTTP_AUTH_NONE,   /* anyone: health checks, metrics, the dashboard */
        HTTP_AUTH_SOURCE, /* a source's bearer token (its token_file), within its rate_per_minute */
        HTTP_AUTH_NOTIFY, /* Notify's bearer token (channels.sms.callback_token_file) */
        HTTP_AUTH_TWILIO, /* X-Twilio-Signature, which covers the body: checked again once it is in */
        HTTP_AUTH_SOURCE_IF_GIVEN, /* anyone; an Authorization given must be a source's, as HTTP_AUTH_SOURCE
                                    * (CAP: public alerts to anyone, the others to a source) */
};

/* The body a route takes, which sets its limit and where its refusals are counted. */
enum http_body {
        HTTP_BODY_NONE,     /* none: a byte is too many */
        HTTP_BODY_ALERTS,   /* one report or a batch: the limit follows its first byte
                             * (dawn_http_body_limit); refusals in dawn_intake_rejected_total */
        HTTP_BODY_CALLBACK, /* a gateway's: DAWN_MAX_CALLBACK_BYTES; refusals in
                             * dawn_callbacks_refused_total */
};

struct http_route {
        const char *path;       /* the whole path, or with with_id what comes before the id */
        bool with_id;           /* path, then one segment: an alert's id */
        unsigned methods;       /* HTTP_GET | HTTP_HEAD | HTTP_POST */
        enum http_auth auth;
        enum http_body body;
        bool while_stopping;    /* still answered while dawnd stops (health checks, scrapes) */
        const char *file;       /* the dashboard's file it serves (in daemon.dashboard_dir) */
        void (*handle)(struct request *rq); /* with the whole request in */
        bool with_revision;     /* with_id, and the id may be followed by "/<revision>" (CAP) */
};

/* Where a connection is (see "connections" in http.c). */
enum phase {
        PHASE_REQUEST,  /* waiting for a request's headers (a new connection, or a kept-alive one) */
        PHASE_BODY,     /* the headers are in; receiving the body */
        PHASE_COMMIT,   /* the request waits for the group commit (suspended) */
        PHASE_ANSWER,   /* sending the answer */
        PHASE_UPGRADED, /* a dashboard's relay: relay.c's own limits apply */
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
        bool line_in;                   /* this request's line is in (PHASE_REQUEST: it made progress) */
        bool trusted;                   /* this request's Authorization matched a source's or Notify's
                                         * token: never displaced (see "connections" in http.c) */
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
        sd_event_source *slice;         /* takes the next slice of a batch of reports */
        struct request *slicing, *slicing_tail; /* requests whose batch is being taken, in turn */
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
        struct dawn_ws_relay_broker broker; /* channels.mqtt.host's addresses, looked up at start and reload */
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
        const struct http_route *route; /* NULL until begin() found it */
        char *alert_id;                 /* /v1/alerts/<id> */
        char *source;                   /* the authenticated source's id */
        char remote[2 * INET6_ADDRSTRLEN + 16]; /* "client" or, from a trusted proxy, "client via proxy" */
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
        struct dawn_http_batch *alerts; /* a batch of reports still being taken, a slice a turn */
        struct request *slice_next;     /* in h->slicing */
        char *twiml_reply;              /* Twilio inbound: the text to send back, or NULL */
        bool twiml;
        char *text;                     /* decided, not JSON (CAP's XML): waits for the commit as json does */
        size_t text_len;
        const char *text_type;          /* its Content-Type */

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

/* ---- a request and its answer (http_request.c) ---- */

size_t http_skip_space(const char *s, size_t i, size_t len);
/* A response holding text (taken: freed on failure too); NULL when out of memory. */
struct MHD_Response *http_text_response(char *text, size_t len, const char *content_type);
/* Makes the answer ready to go; takes body. */
void http_respond_json(struct request *rq, unsigned status, cJSON *body);
void http_respond_header(struct request *rq, const char *name, const char *value);
const char *http_remote_of(struct request *rq);
/* A refusal the client can read (field names what to fix), and one line
 * in the log that an operator can match to a partner's complaint. */
void http_refuse(struct request *rq, unsigned status, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
const char *http_header(struct request *rq, const char *name);
/* Around every store operation of a request (see "waiting for the group
 * commit" in http_request.c): slot is the report's place (0 for a request
 * of one), touched whether it used the store. */
size_t http_op_begin(struct request *rq);
void http_op_end(struct request *rq, int slot, bool touched, size_t epoch);
/* The decided answer becomes the response, once the commits it waited for have ended. */
void http_finish(struct request *rq);
void http_request_unlink(struct request *rq);
void http_request_free(struct request *rq);
/* Copies a piece of the body, never more than the limit; false when the
 * client should be cut off (it keeps sending after its body was too large). */
bool http_take_body(struct request *rq, const char *data, size_t size);

/* http.c: a body over its limit, refused and counted as the route's refusals are */
void http_refuse_too_large(struct request *rq);

/* ---- the groups of routes: http_admit_* check a route's auth kind from the
 * headers (false: refused, the answer is set); the others are handlers ---- */

/* http_alerts.c: POST /v1/alerts, GET /v1/alerts[/<id>] */
bool http_admit_source(struct request *rq);
void http_post_alerts(struct request *rq);
/* Reports a batch takes per turn of the loop: a status, a dashboard or
 * another partner waits for at most this many (on PostgreSQL each is a few
 * round trips), not for the whole batch. */
#define HTTP_SLICE_REPORTS 16
/* Takes the next HTTP_SLICE_REPORTS of rq's batch; true when it is all
 * taken (the answer set, waiting for the commit as any other). */
bool http_post_alerts_slice(struct request *rq);
/* rq has a batch to take: a slice at each turn, in turn with any others. */
void http_slicing_add(struct request *rq);
void http_list_alerts(struct request *rq);
void http_show_alert(struct request *rq);

/* http_callbacks.c: Notify's and Twilio's callbacks */
/* "notify" or "twilio" for a callback's route (the label of its metrics), else NULL */
const char *http_provider_of(const struct request *rq);
bool http_admit_notify(struct request *rq);
bool http_admit_twilio(struct request *rq);
void http_notify_status(struct request *rq);
void http_notify_inbound(struct request *rq);
void http_twilio_status(struct request *rq);
void http_twilio_inbound(struct request *rq);
/* Twilio texts the reply back to the sender when its webhook answers TwiML. */
void http_respond_twiml(struct request *rq, const char *reply);

/* http_dashboard.c: the pharmacy dashboard's files, config.json, the /mqtt relay */
void http_dashboard_file(struct request *rq);
void http_dashboard_config(struct request *rq);
void http_mqtt_relay(struct request *rq);

/* http_health.c: /metrics, /healthz */
void http_metrics(struct request *rq);
void http_healthz(struct request *rq);

/* http_cap.c: GET /v1/cap/alerts/<id>[/<revision>], GET /v1/cap/feed.atom */
void http_cap_alert(struct request *rq);
void http_cap_feed(struct request *rq);

#endif
