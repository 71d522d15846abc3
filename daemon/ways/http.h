/* The HTTP API (SPEC.md, "HTTP API"): libmicrohttpd driven from the
 * daemon's sd-event loop through MHD's epoll file descriptor, so it runs on
 * the same single thread as everything else and needs no locks.
 *
 *   POST /v1/alerts                  a partner's report (or an array of up to 1,000)
 *   GET  /v1/alerts, /v1/alerts/<id> what the token's source may see: its own alerts
 *                                    (pending ones too) and every active alert
 *   POST /v1/callbacks/notify/status     Notify delivery receipts (bearer token)
 *   POST /v1/callbacks/notify/inbound    Notify received texts (bearer token)
 *   POST /v1/callbacks/twilio/status     Twilio status callbacks (X-Twilio-Signature)
 *   POST /v1/callbacks/twilio/inbound    Twilio incoming messages (X-Twilio-Signature)
 *   GET  /metrics                    Prometheus text format
 *   GET  /healthz                    200 "ok" while the store is writable
 *
 * Answers to writes wait for the group commit (the connection is suspended
 * meanwhile): "201 accepted" means durable, as on the control socket. */
#ifndef DAWN_HTTP_H
#define DAWN_HTTP_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct dawn_ways;
struct dawn_http;

/* Listens on ways->config->http_listen ("127.0.0.1:8470", "[::1]:8470";
 * "" disables the API: *out is NULL and 0 is returned), or on fd when >= 0
 * (a socket systemd passed). Reads every source's token_file and the SMS
 * callback secrets. Returns 0 or -errno (logged). */
int dawn_http_new(struct dawn_ways *ways, int fd, struct dawn_http **out);
struct dawn_http *dawn_http_free(struct dawn_http *h);
/* After a reload swapped ways->config: re-reads tokens and limits. On an
 * error the old tokens stay and -errno is returned (logged). The listening
 * address does not change until a restart. */
int dawn_http_reload(struct dawn_http *h);
/* Stops accepting (shutdown); requests in progress finish. */
void dawn_http_stop_listening(struct dawn_http *h);

/* ---- the body of POST /v1/alerts, apart from the network (the fuzzer's way in) ---- */

/* One report is at most DAWN_MAX_REQUEST_BYTES, as on the control socket; a
 * batch (a JSON array of reports) at most this many, in at most this many bytes. */
#define DAWN_HTTP_MAX_BATCH 1000
#define DAWN_HTTP_MAX_BATCH_BYTES (4 * 1024 * 1024)

/* The most a body may hold, once its first byte other than white space is
 * known ('[' a batch, anything else one report). */
size_t dawn_http_body_limit(char first);

/* Takes one report (index -1 for a body that is a single object, else its
 * place in the batch) and returns its answer object (NULL: out of memory),
 * setting *http_status (201, 200, 400, 503...). */
typedef cJSON *(*dawn_http_report_fn)(const cJSON *report, int index, int *http_status, void *userdata);

struct dawn_http_answer {
        int http_status;
        cJSON *body;            /* owned by the caller */
        const char *rejected;   /* the dawn_intake_rejected_total reason when the body never reached
                                 * report(): "too_large" or "invalid"; else NULL */
};

/* Asked once, with the number of reports, after the body was parsed and
 * before any report(): NULL lets them all go on; else the answer that
 * refuses them all (the source's rate limit), with *http_status set. */
typedef cJSON *(*dawn_http_admit_fn)(int n, int *http_status, void *userdata);

/* Checks size, nesting and shape, parses, and hands each report to
 * report(): one object is answered with report()'s own status and
 * object; a batch with 200 and an array of report()'s answers in the same
 * order, each with "index" and "http_status" added and a "field" naming
 * the report ("alert[3].area"). Returns 0, or -ENOMEM (out->body NULL). */
int dawn_http_alerts_body(const char *body, size_t len, dawn_http_report_fn report, void *userdata,
                          struct dawn_http_answer *out);
/* The same, asking admit() first (NULL: admit all); a refusal is answered
 * with admit()'s body and out->rejected "rate_limited". */
int dawn_http_alerts_body_admit(const char *body, size_t len, dawn_http_admit_fn admit, dawn_http_report_fn report,
                                void *userdata, struct dawn_http_answer *out);

/* The same in slices, so that a batch of a thousand reports does not keep
 * the one event loop from everyone else (a status, a dashboard, another
 * partner) for as long as they take: one object, a refusal, or an error is
 * answered at once as above; a batch admitted sets *batch instead (out
 * untouched), to be taken by dawn_http_batch_step(). */
struct dawn_http_batch;
int dawn_http_alerts_body_begin(const char *body, size_t len, dawn_http_admit_fn admit, dawn_http_report_fn report,
                                void *userdata, struct dawn_http_answer *out, struct dawn_http_batch **batch);
/* Hands up to max more of the batch's reports to report(). 1 while some
 * remain; 0 when all are taken (out as dawn_http_alerts_body gives it, and
 * *batch freed and NULL); -ENOMEM (*batch freed and NULL). */
int dawn_http_batch_step(struct dawn_http_batch **batch, dawn_http_report_fn report, void *userdata, int max,
                         struct dawn_http_answer *out);
/* NULL-safe. */
void dawn_http_batch_free(struct dawn_http_batch *b);

/* The refusal of n alerts (n 0: of one request) that source's limit does
 * not let through now, as HTTP (429) and MQTT ingest answer it: the error,
 * "temporary": true and "retry_after" (seconds, also in *retry_seconds);
 * NULL when out of memory. */
struct dawn_source_limit;
cJSON *dawn_http_rate_refusal(const char *source, struct dawn_source_limit *lim, unsigned n, int64_t now_usec,
                              unsigned *retry_seconds);

#endif
