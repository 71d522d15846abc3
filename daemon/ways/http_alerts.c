/* POST /v1/alerts (one report or a batch), GET /v1/alerts[/<id>]: the
 * sources' tokens, their rate limits and what each may see. */
#include "http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "submit.h"

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

struct dawn_http_batch {
        cJSON *doc;         /* the parsed array */
        const cJSON *next;  /* the next report to take, NULL when all are */
        int index;          /* its place */
        cJSON *results;     /* the answers so far, in order */
};

void dawn_http_batch_free(struct dawn_http_batch *b)
{
        if (!b)
                return;
        cJSON_Delete(b->doc);
        cJSON_Delete(b->results);
        free(b);
}

/* Checks a batch's size and asks admit(); then it is taken report by
 * report (dawn_http_batch_step). Owns doc. */
static int batch_begin(cJSON *doc, dawn_http_admit_fn admit, void *userdata, struct dawn_http_answer *out,
                       struct dawn_http_batch **batch)
{
        int n = cJSON_GetArraySize(doc);
        int r = 0;
        if (n == 0)
                r = body_refusal(out, 400, "invalid",
                                 dawn_error_json("body", false, "the array is empty: send one or more alerts"));
        else if (n > DAWN_HTTP_MAX_BATCH)
                r = body_refusal(out, 413, "too_large",
                                 dawn_error_json("body", false, "a batch of %d alerts is more than the limit of %d", n,
                                              DAWN_HTTP_MAX_BATCH));
        else if (admitted(n, admit, userdata, out) == 0) {
                struct dawn_http_batch *b = calloc(1, sizeof(*b));
                if (!b || !(b->results = cJSON_CreateArray())) {
                        free(b);
                        cJSON_Delete(doc);
                        return -ENOMEM;
                }
                b->doc = doc;
                b->next = doc->child;
                *batch = b;
                return 0;
        }
        cJSON_Delete(doc);
        return r;
}

int dawn_http_batch_step(struct dawn_http_batch **batch, dawn_http_report_fn report, void *userdata, int max,
                         struct dawn_http_answer *out)
{
        struct dawn_http_batch *b = *batch;
        for (int taken = 0; b->next && taken < max; taken++) {
                int status = 0;
                cJSON *a = report(b->next, b->index, &status, userdata);
                if (!a) {
                        status = 503;
                        a = dawn_error_json(NULL, true, "out of memory; try again");
                }
                if (!a) {
                        dawn_http_batch_free(b);
                        *batch = NULL;
                        return -ENOMEM;
                }
                name_report_field(a, b->index);
                cJSON_AddNumberToObject(a, "index", b->index);
                cJSON_AddNumberToObject(a, "http_status", status);
                cJSON_AddItemToArray(b->results, a);
                b->index++;
                b->next = b->next->next;
        }
        if (b->next)
                return 1;
        *out = (struct dawn_http_answer){ .http_status = 200, .body = b->results };
        b->results = NULL;
        dawn_http_batch_free(b);
        *batch = NULL;
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
        struct dawn_http_batch *batch = NULL;
        int r = dawn_http_alerts_body_begin(body, len, admit, report, userdata, out, &batch);
        while (r == 0 && batch)
                r = dawn_http_batch_step(&batch, report, userdata, DAWN_HTTP_MAX_BATCH, out);
        return r;
}

int dawn_http_alerts_body_begin(const char *body, size_t len, dawn_http_admit_fn admit, dawn_http_report_fn report,
                                void *userdata, struct dawn_http_answer *out, struct dawn_http_batch **batch)
{
        *out = (struct dawn_http_answer){ 0 };
        *batch = NULL;
        size_t start = http_skip_space(body, 0, len);
        if (start == len)
                return body_refusal(out, 400, "invalid",
                                    dawn_error_json("body", false, "the body is empty: send an alert object, or an "
                                                 "array of them"));
        bool is_batch = body[start] == '[';
        bool too_large = false;
        cJSON *err = NULL;
        /* a batch is one level deeper: each of its alerts gets what one alert alone may use */
        cJSON *doc = dawn_json_parse_bounded(body, len, dawn_http_body_limit(body[start]),
                                             DAWN_MAX_JSON_DEPTH + (is_batch ? 1 : 0),
                                             is_batch ? "a batch" : "one alert", &too_large, &err);
        if (!doc)
                return body_refusal(out, too_large ? 413 : 400, too_large ? "too_large" : "invalid", err);
        if (is_batch)
                return batch_begin(doc, admit, userdata, out, batch);
        int r;
        if (!cJSON_IsObject(doc))
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

/* ---- tokens ---- */

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
        http_refuse(rq, MHD_HTTP_UNAUTHORIZED, "Authorization", "a valid bearer token is required");
        http_respond_header(rq, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dawn\"");
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
        int64_t now = dawn_monotonic_usec();
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
                         plural(refused), http_remote_of(rq));
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

/* HTTP_AUTH_SOURCE: a source's token, and room in its rate for one more
 * request (a GET) or at least one alert (a POST: its alerts are counted
 * once its body is here, but the body need not be read when not even one
 * would be taken now). */
bool http_admit_source(struct request *rq)
{
        struct dawn_http *h = rq->h;
        bool post = rq->route->body == HTTP_BODY_ALERTS;
        struct source_token *src = authenticate(h, http_header(rq, MHD_HTTP_HEADER_AUTHORIZATION));
        if (!src) {
                if (post)
                        dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "unauthorized");
                refuse_unauthorized(rq);
                return false;
        }
        if (!rate_admits(rq, src->source, post ? 0 : 1, post)) {
                http_respond_json(rq, MHD_HTTP_TOO_MANY_REQUESTS, rq->json);
                rq->json = NULL;
                return false;
        }
        rq->source = strdup(src->source);
        if (!rq->source) {
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
                return false;
        }
        return true;
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
        size_t epoch = http_op_begin(rq);
        bool wrote = false;
        cJSON *answer = dawn_ingest_report(ways, src, DAWN_WAY_HTTP, report, http_status, &wrote);
        http_op_end(rq, index < 0 ? 0 : index, wrote, epoch);
        return answer;
}

static void post_alerts_answer(struct request *rq, struct dawn_http_answer *ans)
{
        if (ans->rejected && strcmp(ans->rejected, "rate_limited") == 0) {
                /* counted and logged by rate_admits() */
        } else if (ans->rejected) {
                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", ans->rejected);
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(ans->body, "error");
                log_info("http: %s %s from %s refused (%d): %s", rq->method, rq->path, http_remote_of(rq),
                         ans->http_status, cJSON_IsString(e) ? e->valuestring : ans->rejected);
        }
        rq->json = ans->body;
        rq->json_status = (unsigned)ans->http_status;
        rq->batch = cJSON_IsArray(ans->body);
}

void http_post_alerts(struct request *rq)
{
        if (rq->too_large) {
                http_refuse_too_large(rq);
                return;
        }
        struct dawn_http_answer ans;
        if (dawn_http_alerts_body_begin(rq->body ? rq->body : "", rq->len, admit_reports, report_to_intake, rq,
                                        &ans, &rq->alerts) < 0) {
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
                return;
        }
        if (rq->alerts)
                http_slicing_add(rq); /* answered once its last slice is taken and committed */
        else
                post_alerts_answer(rq, &ans);
}

bool http_post_alerts_slice(struct request *rq)
{
        struct dawn_http_answer ans;
        int r = dawn_http_batch_step(&rq->alerts, report_to_intake, rq, HTTP_SLICE_REPORTS, &ans);
        if (r > 0)
                return false;
        if (r < 0)
                http_refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory; try again");
        else
                post_alerts_answer(rq, &ans);
        return true;
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
void http_list_alerts(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        const char *all = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "all");
        bool every = all && (strcmp(all, "1") == 0 || strcasecmp(all, "true") == 0);
        cJSON *alerts = cJSON_CreateArray();
        size_t epoch = http_op_begin(rq);
        int r = alerts ? dawn_store_list_alerts(ways->store, every, alerts) : -ENOMEM;
        http_op_end(rq, 0, true, epoch);
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

void http_show_alert(struct request *rq)
{
        struct dawn_ways *ways = rq->h->ways;
        if (strlen(rq->alert_id) > DAWN_MAX_ID_CHARS) {
                http_refuse(rq, MHD_HTTP_NOT_FOUND, "id", "no such alert");
                return;
        }
        struct dawn_alert a;
        dawn_alert_init(&a);
        size_t epoch = http_op_begin(rq);
        int r = dawn_store_load_alert(ways->store, rq->alert_id, &a);
        http_op_end(rq, 0, true, epoch);
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
