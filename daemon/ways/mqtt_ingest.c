/* MQTT ingest: partner reports on <prefix>/ingest/<source>, answered on
 * <prefix>/ingest/<source>/result, and dashboard acknowledgements on
 * <prefix>/subscribers/<subscriber>/acks/<alert id>.
 *
 * Who is speaking. MQTT carries no token: a report's source is the topic it
 * came on, and the broker's ACL is what lets each partner write only its
 * own topic (conf/mosquitto/acl). The same holds for acks and subscribers.
 *
 * What is checked here, before intake sees anything: the size, the nesting
 * (cJSON's own limit is compiled into the system library), that the JSON
 * parses and is one object, and that the message is not a retained one
 * coming back (see on_report). Each
 * refusal is answered on the result topic, like intake's own, with the
 * field it concerns. Acks get no answer (nobody listens for one); what is
 * wrong with them goes to the log.
 *
 * Answers wait for the group commit, as on the control socket: "accepted"
 * is said only of what is on disk. They are best effort (QoS 1, not sent
 * again after a reconnect): a partner that hears nothing resends with the
 * same source_ref, which intake answers with the first result. */
#include "mqtt_ingest.h"

#include <cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "channel.h"
#include "http.h"
#include "submit.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "ways.h"

struct dawn_ingest_mqtt {
        struct dawn_ways *ways;
        struct dawn_channel *ch;
        char *ingest_root;     /* "<prefix>/ingest/" */
        char *subscriber_root; /* "<prefix>/subscribers/" */
};

/* A topic level as it may appear in a log line or an answer: at most 64
 * bytes, cut on a character boundary. */
#define LEVEL_SHOWN(s) dawn_utf8_prefix((s), 64), (s)

/* ---- answers ---- */


/* The partner matches answers to reports by its own reference, so every
 * answer carries it when the report had one, refusals included. */
static void add_source_ref(cJSON *answer, const cJSON *report)
{
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(report, "source_ref");
        if (answer && cJSON_IsString(ref) && !cJSON_HasObjectItem(answer, "source_ref"))
                cJSON_AddStringToObject(answer, "source_ref", ref->valuestring);
}

/* Publishes on whatever MQTT channel is wired now: a reload may have
 * replaced the one the report came in on while the commit ran. */
static void publish_answer(struct dawn_ways *ways, const char *topic, cJSON *answer)
{
        char *text = answer ? cJSON_PrintUnformatted(answer) : NULL;
        cJSON_Delete(answer);
        int r = -ENOMEM;
        if (text && ways->channels[DAWN_CHANNEL_MQTT])
                r = dawn_channel_mqtt_publish(ways->channels[DAWN_CHANNEL_MQTT], topic, text, strlen(text), false);
        else if (text)
                r = -ENOTCONN;
        if (r < 0)
                log_info("MQTT ingest: no answer on %s: %s; the partner may resend with the same source_ref",
                         topic, strerror(-r));
        free(text);
}

struct waiting_answer {
        struct dawn_ticket ticket;
        struct dawn_ways *ways;
        char *topic;
        cJSON *answer;
        bool wrote;
};

static cJSON *not_stored(struct dawn_ways *ways, int r, const cJSON *answer)
{
        cJSON *o = dawn_store_error_json(ways, r, true);
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(answer, "source_ref");
        if (o && cJSON_IsString(ref))
                cJSON_AddStringToObject(o, "source_ref", ref->valuestring);
        return o;
}

static void after_commit_answer(int r, void *userdata)
{
        struct waiting_answer *w = userdata;
        if (r < 0 && w->wrote) {
                /* the commit failed: nothing this report wrote exists, and the partner must know */
                cJSON *o = not_stored(w->ways, r, w->answer);
                cJSON_Delete(w->answer);
                w->answer = o;
        }
        publish_answer(w->ways, w->topic, w->answer);
        free(w->topic);
        free(w);
}

/* Answers now, or after the open transaction commits. Takes answer. */
static void answer(struct dawn_ingest_mqtt *im, const char *source, cJSON *answer, bool wrote)
{
        struct dawn_ways *ways = im->ways;
        char *topic = NULL;
        if (asprintf(&topic, "%s%s/result", im->ingest_root, source) < 0) {
                cJSON_Delete(answer);
                log_error("MQTT ingest: out of memory: no answer for %s", source);
                return;
        }
        if (!dawn_commit_is_open(ways->commit)) {
                publish_answer(ways, topic, answer);
                free(topic);
                return;
        }
        struct waiting_answer *w = malloc(sizeof(*w));
        if (!w) {
                free(topic);
                cJSON_Delete(answer);
                log_error("MQTT ingest: out of memory: no answer for %s", source);
                return;
        }
        *w = (struct waiting_answer){ .ways = ways, .topic = topic, .answer = answer, .wrote = wrote };
        dawn_commit_ticket(ways->commit, &w->ticket, after_commit_answer, w);
}

static const char *error_text(const cJSON *err)
{
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "error");
        return cJSON_IsString(msg) ? msg->valuestring : "out of memory";
}

static void refuse(struct dawn_ingest_mqtt *im, const char *source, const char *reason, cJSON *err)
{
        dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "mqtt", reason);
        log_info("MQTT ingest: report on %s%.*s refused: %s", im->ingest_root, LEVEL_SHOWN(source), error_text(err));
        answer(im, source, err, false);
}

/* ---- reports ---- */

/* sources[].rate_per_minute, shared with the HTTP API (ratelimit.c): one
 * message is one alert. A report over the limit is refused on the result
 * topic with "retry_after" (seconds), and never reaches intake. Logged at
 * most once a minute per source. */
static bool rate_admits(struct dawn_ingest_mqtt *im, const struct dawn_source *src, const cJSON *report)
{
        int64_t now = dawn_monotonic_usec();
        struct dawn_source_limit *lim = dawn_source_limit(src->id, src->rate_per_minute, now);
        if (!lim || dawn_bucket_take_n(&lim->bucket, 1, now))
                return true; /* out of memory: fairness is not worth a refusal */
        unsigned seconds, refused;
        cJSON *err = dawn_http_rate_refusal(src->id, lim, 1, now, &seconds);
        add_source_ref(err, report);
        dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "mqtt", "rate_limited");
        if (dawn_source_limit_log_due(lim, 1, now, &refused))
                log_info("MQTT ingest: source %s is over its rate_per_minute (%d alerts a minute): %u report%s "
                         "refused in the last minute", src->id, lim->rate_per_minute, refused, refused == 1 ? "" : "s");
        answer(im, src->id, err, false);
        return false;
}

/* The payload as one JSON value, or NULL with *err set: the limits first,
 * so that nothing large or deep reaches cJSON. */
static cJSON *parse_payload(const char *payload, size_t len, const char **reason, cJSON **err)
{
        bool too_large = false;
        cJSON *doc = dawn_json_parse_bounded(payload, len, DAWN_MAX_REQUEST_BYTES, DAWN_MAX_JSON_DEPTH, "a report",
                                             &too_large, err);
        *reason = too_large ? "too_large" : "invalid";
        if (doc && !cJSON_IsObject(doc)) {
                *err = dawn_error_json("body", false, "a report over MQTT is one alert object per message");
                cJSON_Delete(doc);
                return NULL;
        }
        return doc;
}

static void on_report(struct dawn_ingest_mqtt *im, const char *source, const char *payload, size_t len,
                      bool retained)
{
        struct dawn_ways *ways = im->ways;
        /* an empty message is how a retained one is cleared: it says nothing */
        if (len == 0) {
                log_debug("MQTT ingest: empty message on %s%.*s ignored", im->ingest_root, LEVEL_SHOWN(source));
                return;
        }
        const struct dawn_source *src = dawn_config_source(ways->config, source);
        if (!src) {
                refuse(im, source, "unknown_source",
                       dawn_error_json("source", false, "unknown source '%.*s': not in this dawnd's sources",
                                    LEVEL_SHOWN(source)));
                return;
        }
        const char *reason = NULL;
        cJSON *err = NULL;
        cJSON *report = parse_payload(payload, len, &reason, &err);
        if (!report) {
                refuse(im, source, reason, err);
                return;
        }
        if (retained) {
                /* The broker hands a retained report over again at every
                 * (re)subscription, and only then with the retain flag set:
                 * to a live subscriber (MQTT 3.1.1, 3.3.1.3) it looks like any
                 * other, so the first delivery was taken as a report. Taking
                 * each replay too would store a report without a source_ref
                 * once per reconnect. */
                err = dawn_error_json("retain", false,
                                   "a retained report comes back at every reconnect and is not taken again: "
                                   "publish reports with the retain flag off, and clear this one with an "
                                   "empty retained message");
                add_source_ref(err, report);
                refuse(im, source, "invalid", err);
                cJSON_Delete(report);
                return;
        }
        if (!rate_admits(im, src, report)) {
                cJSON_Delete(report);
                return;
        }
        int status = 0;
        bool wrote = false;
        cJSON *ans = dawn_ingest_report(ways, src, DAWN_WAY_MQTT, report, &status, &wrote);
        if (!ans)
                ans = dawn_error_json(NULL, true, "out of memory; try again");
        add_source_ref(ans, report);
        cJSON_Delete(report);
        answer(im, source, ans, wrote);
}

/* ---- acknowledgements ---- */

static void on_ack(struct dawn_ingest_mqtt *im, const char *topic, const char *subscriber, const char *alert_id,
                   const char *payload, size_t len)
{
        /* the dashboard cleared its retained ack: nothing to record */
        if (len == 0)
                return;
        const char *reason = NULL;
        cJSON *err = NULL;
        cJSON *ack = parse_payload(payload, len, &reason, &err);
        if (!ack) {
                log_info("MQTT ingest: acknowledgement on %s ignored: %s", topic, error_text(err));
                cJSON_Delete(err);
                return;
        }
        struct dawn_input_error ierr = { 0 };
        bool wrote = false;
        int r = dawn_ingest_ack(im->ways, subscriber, alert_id, ack, &ierr, &wrote);
        cJSON_Delete(ack);
        if (r == -EINVAL)
                log_info("MQTT ingest: acknowledgement on %s ignored: %s", topic, ierr.message);
        else if (r < 0)
                log_warning_errno(r, "MQTT ingest: acknowledgement on %s not recorded: %m; it is recorded when "
                                     "the broker hands it over again (at the next reconnect)", topic);
}

/* ---- topics ---- */

/* The single topic level at the start of s, up to the next '/' or the end:
 * its length, or 0 when it is empty. */
static size_t level_len(const char *s)
{
        return strcspn(s, "/");
}

static void on_message(const char *topic, const void *payload, size_t len, bool retained, void *userdata)
{
        struct dawn_ingest_mqtt *im = userdata;
        size_t n;
        if (strncmp(topic, im->ingest_root, strlen(im->ingest_root)) == 0) {
                const char *source = topic + strlen(im->ingest_root);
                /* more levels: a result topic (ours, or someone's), nothing to act on */
                if ((n = level_len(source)) == 0 || source[n] != '\0')
                        return;
                on_report(im, source, payload, len, retained);
                return;
        }
        if (strncmp(topic, im->subscriber_root, strlen(im->subscriber_root)) == 0) {
                char subscriber[256], alert_id[256];
                const char *s = topic + strlen(im->subscriber_root);
                if ((n = level_len(s)) == 0 || n >= sizeof(subscriber) || strncmp(s + n, "/acks/", 6) != 0)
                        return;
                memcpy(subscriber, s, n);
                subscriber[n] = '\0';
                s += n + 6;
                if ((n = level_len(s)) == 0 || n >= sizeof(alert_id) || s[n] != '\0')
                        return;
                memcpy(alert_id, s, n + 1);
                on_ack(im, topic, subscriber, alert_id, payload, len);
        }
}

/* ---- wiring ---- */

static char *join(const char *a, const char *b)
{
        char *s = NULL;
        return asprintf(&s, "%s%s", a, b) < 0 ? NULL : s;
}

static void ignore_message(const char *topic, const void *payload, size_t len, bool retained, void *userdata)
{
        (void)payload;
        (void)len;
        (void)retained;
        (void)userdata;
        log_debug("MQTT ingest: not listening any more; ignoring a message on %s", topic);
}

int dawn_ingest_mqtt_new(struct dawn_ways *ways, struct dawn_channel *ch, struct dawn_ingest_mqtt **out)
{
        *out = NULL;
        if (!ch)
                return 0;
        const char *prefix = ways->config->mqtt.topic_prefix ? ways->config->mqtt.topic_prefix : "dawn/v1";
        struct dawn_ingest_mqtt *im = calloc(1, sizeof(*im));
        if (!im)
                return -ENOMEM;
        im->ways = ways;
        im->ch = ch;
        im->ingest_root = join(prefix, "/ingest/");
        im->subscriber_root = join(prefix, "/subscribers/");
        /* On PostgreSQL several nodes may listen: a shared subscription (MQTT 5's, which
         * mosquitto gives MQTT 3.1.1 clients too) hands each report and acknowledgement to
         * one of them, not to all. Its messages arrive under their own topics. */
        bool shared = ways->config->store_backend == DAWN_STORE_POSTGRESQL;
        char *reports = join(shared ? DAWN_INGEST_SHARE : "", prefix);
        char *acks = reports ? join(reports, "/subscribers/+/acks/+") : NULL;
        char *plain = reports;
        reports = plain ? join(plain, "/ingest/+") : NULL;
        free(plain);
        int r = im->ingest_root && im->subscriber_root && reports && acks ? 0 : -ENOMEM;
        if (r == 0) {
                const char *const filters[] = { reports, acks };
                r = dawn_channel_mqtt_listen(ch, filters, 2, on_message, im);
        }
        free(reports);
        free(acks);
        if (r < 0) {
                im->ch = NULL; /* never listened */
                dawn_ingest_mqtt_free(im);
                return r;
        }
        log_debug("MQTT ingest: listening on %s%s+ and %s+/acks/+", shared ? DAWN_INGEST_SHARE : "", im->ingest_root,
                  im->subscriber_root);
        *out = im;
        return 0;
}

struct dawn_ingest_mqtt *dawn_ingest_mqtt_free(struct dawn_ingest_mqtt *im)
{
        if (!im)
                return NULL;
        /* the channel may outlive us (it is freed next, as a rule): it must
         * not call on_message with a freed im */
        if (im->ch)
                (void)dawn_channel_mqtt_listen(im->ch, NULL, 0, ignore_message, NULL);
        free(im->ingest_root);
        free(im->subscriber_root);
        free(im);
        return NULL;
}
