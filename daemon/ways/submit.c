#include "submit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escalation.h"
#include "intake.h"
#include "log.h"
#include "metrics.h"
#include "public.h"
#include "retention.h"
#include "ways.h"

const char *dawn_way_name(enum dawn_way w)
{
        return w == DAWN_WAY_HTTP ? "http" : w == DAWN_WAY_MQTT ? "mqtt" : "control";
}

/* Every write from outside runs like a control-socket request: through the
 * one write path (commit.h), inside the loop turn's batch, in a savepoint of
 * its own so that its failure undoes only its own writes. Whoever answers
 * the client takes a ticket for the batch; what follows a write (sending,
 * expiry) is the commit's after-write hooks' business. */
static int begin(struct dawn_ways *ways)
{
        return dawn_commit_begin(ways->commit);
}

static int end(struct dawn_ways *ways, int r, bool *wrote)
{
        r = dawn_commit_end(ways->commit, r);
        *wrote = r >= 0;
        return r;
}

static cJSON *error_object(const char *field, bool temporary, const char *message)
{
        return dawn_error_json(field, temporary, "%s", message);
}

cJSON *dawn_store_error_json(struct dawn_ways *ways, int r, bool wrote)
{
        const char *what = wrote ? "not stored" : "not read";
        if (r == -ENOSPC)
                return dawn_error_json(NULL, true, "%s: the disk is full; nothing was accepted, try again later", what);
        if (r == -EBUSY)
                return dawn_error_json(NULL, true, "%s: the database is busy; try again", what);
        /* PostgreSQL restarting, failing over, out of reach: nothing of this batch was kept */
        if (r == -EAGAIN)
                return dawn_error_json(NULL, true, "%s: the database is away (%s); try again", what,
                                       dawn_store_errmsg(ways->store));
        /* the one answer that is neither: a COMMIT lost with its connection, its outcome not learned */
        if (r == -ETIMEDOUT)
                return dawn_error_json(NULL, true, "not confirmed: the connection to the database was lost during the "
                                       "commit, and whether it was kept could not be learned; try again: a report "
                                       "sent again with the same source_ref is taken once");
        if (r == -ENOMEM)
                return dawn_error_json(NULL, true, "%s: out of memory; try again", what);
        return dawn_error_json(NULL, true, "%s: %s (%s)", what, strerror(-r), dawn_store_errmsg(ways->store));
}

cJSON *dawn_ingest_report(struct dawn_ways *ways, const struct dawn_source *src, enum dawn_way way,
                          const cJSON *alert, int *http_status, bool *wrote)
{
        *wrote = false;
        const char *wayname = dawn_way_name(way);
        char actor[96];
        snprintf(actor, sizeof(actor), "%s:%s", wayname, src->id);

        int r = begin(ways);
        if (r < 0) {
                *http_status = 503;
                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, wayname, "storage");
                return dawn_store_error_json(ways, r, true);
        }
        struct dawn_intake in = { ways->store, ways->config, dawn_now_usec(), src->id, actor, src->role };
        struct dawn_alert result;
        dawn_alert_init(&result);
        struct dawn_input_error err = { 0 };
        enum dawn_intake_outcome outcome = DAWN_INTAKE_NEW;
        r = cJSON_IsObject(alert) ? dawn_intake_issue(&in, alert, &result, &outcome, &err)
                                  : dawn_input_error_set(&err, "body", "a report must be one JSON object (an alert)");
        r = end(ways, r, wrote);
        /* Another node took the same report (source and source_ref) at the same moment and
         * committed first: its key was not there when this one looked, and is now (on
         * PostgreSQL the insert waited for that commit, then met the key). Taken again, it
         * is what it is: a duplicate of that alert. Once: a second -EEXIST is an answer. */
        if (r == -EEXIST && (r = begin(ways)) == 0) {
                dawn_alert_clear(&result);
                dawn_alert_init(&result);
                err = (struct dawn_input_error){ 0 };
                outcome = DAWN_INTAKE_NEW;
                in.now = dawn_now_usec();
                r = end(ways, dawn_intake_issue(&in, alert, &result, &outcome, &err), wrote);
        }

        cJSON *ans;
        if (r < 0) {
                bool invalid = r == -EINVAL && !err.temporary;
                *http_status = invalid ? 400 : 503;
                dawn_metrics_count(DAWN_M_INTAKE_REJECTED, wayname, invalid ? "invalid" : "storage");
                ans = r == -EINVAL ? error_object(err.field, err.temporary, err.message) : dawn_store_error_json(ways, r, true);
                log_info("%s: report from %s refused: %s", wayname, src->id,
                         r == -EINVAL ? err.message : strerror(-r));
        } else {
                const char *word = dawn_intake_outcome_word(outcome, result.status);
                *http_status = outcome == DAWN_INTAKE_NEW ? 201 : 200;
                dawn_metrics_count(DAWN_M_INTAKE_ACCEPTED, wayname, word);
                ans = cJSON_CreateObject();
                const cJSON *ref = cJSON_GetObjectItemCaseSensitive(alert, "source_ref");
                if (cJSON_IsString(ref))
                        cJSON_AddStringToObject(ans, "source_ref", ref->valuestring);
                cJSON_AddStringToObject(ans, "id", result.id);
                cJSON_AddStringToObject(ans, "status", dawn_status_name(result.status));
                cJSON_AddStringToObject(ans, "grade", dawn_grade_name(result.grade));
                cJSON_AddNumberToObject(ans, "revision", result.revision);
                cJSON_AddStringToObject(ans, "outcome", word);
                log_alert(LOG_INFO, result.id, "alert %s: %s %s %s in %s, revision %d, from %s (%s)", result.id, word,
                          dawn_grade_name(result.grade), dawn_type_name(result.type), result.area, result.revision,
                          src->id, wayname);
        }
        dawn_alert_clear(&result);
        return ans;
}

/* ---- receipts ---- */

int dawn_ingest_receipt(struct dawn_ways *ways, const char *provider, const struct dawn_receipt *rc, bool *wrote)
{
        *wrote = false;
        dawn_metrics_count(DAWN_M_RECEIPTS, provider, dawn_receipt_status_name(rc->status));
        if (rc->status == DAWN_RECEIPT_IN_PROGRESS)
                return 0;
        int r = begin(ways);
        if (r < 0)
                return r;
        /* the outbox owns a text's state: it checks the whole reference and the transition,
         * and logs and counts what it ignores */
        enum dawn_receipt_outcome outcome;
        r = dawn_outbox_receipt(ways->store, provider, rc,
                                dawn_config_channel_limits(ways->config, DAWN_CHANNEL_SMS)->retry_initial_usec,
                                dawn_now_usec(), &outcome);
        return end(ways, r, wrote);
}

/* ---- replies ---- */

/* The subscribers a number belongs to, comma-separated into buf; the first
 * one's id (or NULL when none). */
static const char *owners(const struct dawn_config *c, const char *number, char *buf, size_t n)
{
        const char *first = NULL;
        size_t len = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < c->n_subscribers; i++) {
                const struct dawn_subscriber *sub = &c->subscribers[i];
                for (size_t k = 0; k < sub->n_sms; k++) {
                        if (strcmp(sub->sms[k], number) != 0)
                                continue;
                        if (!first)
                                first = sub->id;
                        if (len < n)
                                len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", sub->id);
                        break;
                }
        }
        return first;
}

/* One subscriber's ack by text (ack_by_text). */
struct text_ack {
        struct dawn_ways *ways;
        const char *id, *masked, *actor;
        int64_t now;
        int acked;
};

static int ack_one(const char *subscriber, int revision, void *userdata)
{
        struct text_ack *t = userdata;
        int r = dawn_store_add_ack(t->ways->store, t->id, revision, subscriber, "sms", t->masked, t->now);
        int e = r >= 0 ? dawn_escalation_acked(t->ways->store, t->id, subscriber, t->masked, t->now) : 0;
        if (e < 0)
                r = e;
        if (r == 1) {
                char detail[160];
                snprintf(detail, sizeof(detail), "acknowledged revision %d by text (%s)", revision, subscriber);
                r = dawn_store_audit(t->ways->store, t->actor, "ack", t->id, detail, t->now);
        }
        if (r < 0)
                return r;
        log_alert(LOG_INFO, t->id, "alert %s acknowledged by text from %s (%s)", t->id, t->masked, subscriber);
        t->acked++;
        return 0;
}

/* At most this many subscribers share one number (a site's night phone
 * listed under the site and its manager): each is acknowledged by its text. */
#define ACK_SHARED_NUMBER_MAX 16

/* An ACK counts only from a number the alert reached: an alert that does
 * not exist and one that was not sent to this number get the same answer,
 * so a text cannot find out which ids exist. The ack is that of every
 * subscriber whose text reached this number (the person holding a phone two
 * subscribers share has read it for both: neither is escalated), each for
 * the latest revision that reached the number. */
static int ack_by_text(struct dawn_ways *ways, const char *number, const char *id, const char *masked,
                       const char *actor, char *reply, size_t reply_size)
{
        struct text_ack t = { ways, id, masked, actor, dawn_now_usec(), 0 };
        int r = dawn_store_for_each_reached_by_text(ways->store, id, number, ACK_SHARED_NUMBER_MAX, ack_one, &t);
        if (r == 0) {
                dawn_metrics_count(DAWN_M_ACKS_IGNORED, "sms", NULL);
                log_info("ACK %s from %s ignored: no text of that alert reached this number", id, masked);
                snprintf(reply, reply_size,
                         "DAWN: no alert %s was sent to this number. Reply ACK and the id of an alert you got, "
                         "e.g. ACK A17. Reply STOP to stop all texts.", id);
                return 0;
        }
        if (r < 0)
                return r;
        snprintf(reply, reply_size, "DAWN: thank you, %s acknowledged. Reply STOP to stop all texts.", id);
        return 0;
}

static int apply_reply(struct dawn_ways *ways, const char *provider, const struct dawn_inbound_sms *sms,
                       const struct dawn_sms_reply *reply, char *answer, size_t answer_size)
{
        char subs[256], masked[64], actor[96], detail[300];
        const char *subscriber = owners(ways->config, sms->from, subs, sizeof(subs));
        dawn_mask_recipient(sms->from, masked, sizeof(masked));
        /* public texts: JOIN and AREAS from anyone while they are on; STOP and START
         * from a number that joined (or left by STOP) whether they are on or not: a
         * STOP sent while they are off must hold when they are on again. Otherwise
         * the commands are words like any other */
        bool public_on = ways->config->public_texts.enabled;
        bool public_cmd = reply->kind == DAWN_REPLY_JOIN || reply->kind == DAWN_REPLY_AREAS;
        struct dawn_sms_reply as_other = { .kind = DAWN_REPLY_OTHER };
        if (public_cmd && !public_on) {
                reply = &as_other;
                public_cmd = false;
        }
        if (!subscriber && !public_cmd) {
                int r = reply->kind == DAWN_REPLY_STOP    ? dawn_store_public_member(ways->store, sms->from)
                        : reply->kind == DAWN_REPLY_START ? dawn_store_opted_out(ways->store, sms->from)
                                                          : 0;
                if (r < 0)
                        return r;
                public_cmd = r == 1;
        }
        if (!subscriber && !public_cmd) {
                log_info("%s: a text from %s, which belongs to no subscriber; ignored", provider, masked);
                return 0;
        }
        if (!subscriber)
                snprintf(subs, sizeof(subs), "public");
        snprintf(actor, sizeof(actor), "sms:%s (%s)", masked, subscriber ? subscriber : "public");
        int64_t now = dawn_now_usec();
        /* a Twilio text is taken once: a captured START replayed after a later STOP must
         * not turn texts back on (recorded in this savepoint, with what it changes) */
        int r = sms->message_sid[0] ? dawn_store_note_twilio_request(ways->store, sms->message_sid, "inbound",
                                                                    now + (int64_t)DAWN_TWILIO_INBOUND_KEEP_USEC, now)
                                    : 1;
        if (r < 0)
                return r;
        if (r == 0) {
                dawn_metrics_count(DAWN_M_CALLBACKS_IGNORED, provider, "replayed");
                if (dawn_outbox_ignored_log_ok(now))
                        log_warning("%s: a text from %s (MessageSid %s) was taken before; a replay, ignored", provider,
                                    masked, sms->message_sid);
                return 0;
        }
        r = 0;
        switch (reply->kind) {
        case DAWN_REPLY_STOP:
                r = dawn_store_set_opt_out(ways->store, sms->from, true, provider, now);
                /* data minimisation: a number that wants nothing keeps no public subscription */
                int left = r >= 0 ? dawn_store_public_leave(ways->store, sms->from, now) : 0;
                if (left < 0)
                        r = left;
                else if (left > 0)
                        dawn_retention_erased(ways->retention);
                snprintf(detail, sizeof(detail), "opted out of texts (%s)%s", subs,
                         left > 0 ? "; public subscriptions removed" : "");
                if (r >= 0)
                        r = dawn_store_audit(ways->store, actor, "sms-stop", NULL, detail, now);
                snprintf(answer, answer_size,
                         "DAWN: you will get no more drug alert texts on this number. Reply START to get them again.");
                log_notice("%s replied STOP: no more texts to it (%s)", masked, subs);
                break;
        case DAWN_REPLY_START:
                r = dawn_store_set_opt_out(ways->store, sms->from, false, provider, now);
                snprintf(detail, sizeof(detail), "opted back in to texts (%s)", subs);
                if (r >= 0)
                        r = dawn_store_audit(ways->store, actor, "sms-start", NULL, detail, now);
                if (public_on)
                        snprintf(answer, answer_size,
                                 "DAWN: texts to this number are on again. For public drug alerts text JOIN and your "
                                 "area (AREAS lists them). Reply STOP to stop them.");
                else
                        snprintf(answer, answer_size,
                                 "DAWN: drug alert texts to this number are on again. Reply STOP to stop them.");
                log_notice("%s replied START: texts to it again (%s)", masked, subs);
                break;
        case DAWN_REPLY_ACK:
                if (!reply->alert_id[0])
                        snprintf(answer, answer_size, "DAWN: to acknowledge, reply ACK and the alert id, e.g. ACK A17.");
                else
                        r = ack_by_text(ways, sms->from, reply->alert_id, masked, actor, answer, answer_size);
                break;
        case DAWN_REPLY_JOIN:
        case DAWN_REPLY_AREAS:
                r = dawn_public_command(ways->store, ways->config, provider, reply, sms->from, actor, now, answer,
                                        answer_size);
                break;
        case DAWN_REPLY_OTHER:
                /* kept for a person to read: it may be someone asking for help */
                snprintf(detail, sizeof(detail), "text reply: %.200s", sms->text);
                r = dawn_store_audit(ways->store, actor, "sms-reply", NULL, detail, now);
                log_info("%s: a text reply from %s (%s) is in the audit log", provider, masked, subscriber);
                break;
        }
        return r < 0 ? r : 0;
}

/* A reply to text back (README "Replies by text"), within two bounds that
 * keep a number, or a crowd of them, from spending the service's texts:
 * DAWN_REPLIES_PER_NUMBER_PER_DAY to one number, DAWN_REPLIES_WAITING_MAX
 * waiting in all. 1 if queued, 0 if a bound held it back, or -errno. */
static int queue_reply(struct dawn_ways *ways, const char *number, const char *reply, bool stop)
{
        static int64_t logged_at;
        int64_t now = dawn_now_usec();
        int64_t recent = dawn_store_replies_since(ways->store, number, now - 86400 * (int64_t)DAWN_USEC_PER_SEC);
        if (recent < 0)
                return (int)recent;
        int64_t waiting = recent < DAWN_REPLIES_PER_NUMBER_PER_DAY ? dawn_store_replies_waiting(ways->store) : 0;
        if (waiting < 0)
                return (int)waiting;
        /* a STOP's confirmation is the one reply that always goes: it says the texts stop */
        if (!stop && (recent >= DAWN_REPLIES_PER_NUMBER_PER_DAY || waiting >= DAWN_REPLIES_WAITING_MAX)) {
                dawn_metrics_count(DAWN_M_SMS_REPLY_TEXTS, "not-queued", NULL);
                if (now - logged_at > 60 * (int64_t)DAWN_USEC_PER_SEC) {
                        char masked[64];
                        dawn_mask_recipient(number, masked, sizeof(masked));
                        logged_at = now;
                        log_warning("notify: no reply texted to %s: %s (dawn_sms_reply_texts_total{result=\"not-queued\"} "
                                    "counts every one)", masked,
                                    recent >= DAWN_REPLIES_PER_NUMBER_PER_DAY
                                            ? "it had 10 replies in a day (DAWN_REPLIES_PER_NUMBER_PER_DAY)"
                                            : "2000 replies wait to be sent (DAWN_REPLIES_WAITING_MAX)");
                }
                return 0;
        }
        int64_t id = dawn_store_reply_add(ways->store, number, reply, stop, now);
        return id < 0 ? (int)id : 1;
}

int dawn_ingest_sms_reply(struct dawn_ways *ways, const char *provider, const struct dawn_inbound_sms *sms,
                          char *reply, size_t reply_size, bool *wrote)
{
        *wrote = false;
        char scratch[200];
        if (!reply) {
                reply = scratch;
                reply_size = sizeof(scratch);
        }
        reply[0] = '\0';
        struct dawn_sms_reply parsed;
        dawn_sms_reply_parse(sms->text, &parsed);
        /* Twilio recognised an opt-out keyword itself (its own list, in its own languages),
         * recorded it, and has answered the sender: learn the opt-out from Twilio's word */
        if (strcmp(sms->opt_out_type, "STOP") == 0)
                parsed.kind = DAWN_REPLY_STOP;
        else if (strcmp(sms->opt_out_type, "START") == 0)
                parsed.kind = DAWN_REPLY_START;
        static const char *const kinds[] = { "stop", "start", "ack", "other", "join", "areas" };
        dawn_metrics_count(DAWN_M_SMS_REPLIES, kinds[parsed.kind], NULL);
        int r = begin(ways);
        if (r < 0)
                return r;
        r = apply_reply(ways, provider, sms, &parsed, reply, reply_size);
        if (sms->opt_out_type[0])
                reply[0] = '\0'; /* Twilio answered already: a second answer would be ours, and confusing */
        /* Notify cannot text an answer back: the reply is queued in this same write, so the
         * callback is answered only once both are durable */
        bool queued = false;
        if (r >= 0 && reply[0] && strcmp(provider, "notify") == 0) {
                r = queue_reply(ways, sms->from, reply, parsed.kind == DAWN_REPLY_STOP);
                queued = r == 1;
        }
        r = end(ways, r < 0 ? r : 0, wrote);
        return r < 0 ? r : queued;
}

/* ---- dashboard acknowledgements ---- */

static int check_ack(struct dawn_ways *ways, const char *subscriber, const char *alert_id, const cJSON *ack,
                     struct dawn_alert *a, int *revision, const char **by, struct dawn_input_error *err)
{
        if (!dawn_config_subscriber(ways->config, subscriber))
                return dawn_input_error_set(err, "subscriber", "no subscriber '%.40s' in this dawnd's config", subscriber);
        if (!cJSON_IsObject(ack))
                return dawn_input_error_set(err, "ack", "an acknowledgement is a JSON object {\"revision\":..,\"by\":..}");
        const cJSON *i;
        cJSON_ArrayForEach(i, ack) {
                /* "at" is the dashboard's own clock, shown on the page; dawnd records its own time */
                if (strcmp(i->string, "revision") != 0 && strcmp(i->string, "by") != 0 && strcmp(i->string, "at") != 0)
                        return dawn_input_error_set(err, i->string, "unknown field '%.*s'",
                                                    dawn_utf8_prefix(i->string, 40), i->string);
        }
        const cJSON *rev = cJSON_GetObjectItemCaseSensitive(ack, "revision");
        const cJSON *who = cJSON_GetObjectItemCaseSensitive(ack, "by");
        if (!cJSON_IsString(who))
                return dawn_input_error_set(err, "by", "by: required, the name or role of who acknowledges");
        int r = dawn_text_check("by", who->valuestring, 100, true, err);
        if (r < 0)
                return r;
        *by = who->valuestring;
        /* only from a dashboard the alert reached, and the same words whether the alert
         * exists or not: an ack must not be a way to learn which ids exist */
        int reached = 0;
        if (strlen(alert_id) > DAWN_MAX_ID_CHARS ||
            (r = dawn_store_alert_reached(ways->store, alert_id, DAWN_CHANNEL_MQTT, subscriber, NULL, &reached, NULL)) == 0) {
                dawn_metrics_count(DAWN_M_ACKS_IGNORED, "dashboard", NULL);
                return dawn_input_error_set(err, "alert", "no alert '%.24s' reached %s's dashboard", alert_id,
                                            subscriber);
        }
        if (r < 0 || (r = dawn_store_load_alert(ways->store, alert_id, a)) < 0)
                return r;
        if (r == 0)
                return -EIO; /* a delivery of an alert that is not there: the store is damaged */
        if (!cJSON_IsNumber(rev) || rev->valuedouble < 1 || rev->valuedouble > reached ||
            rev->valuedouble != (double)(int)rev->valuedouble)
                return dawn_input_error_set(err, "revision", "revision: required, a revision of %s that reached %s (1..%d)",
                                            a->id, subscriber, reached);
        *revision = (int)rev->valuedouble;
        return 0;
}

int dawn_ingest_ack(struct dawn_ways *ways, const char *subscriber, const char *alert_id, const cJSON *ack,
                    struct dawn_input_error *err, bool *wrote)
{
        *wrote = false;
        int r = begin(ways);
        if (r < 0)
                return r;
        struct dawn_alert a;
        dawn_alert_init(&a);
        int revision = 0;
        const char *by = NULL;
        r = check_ack(ways, subscriber, alert_id, ack, &a, &revision, &by, err);
        if (r == 0) {
                int64_t now = dawn_now_usec();
                r = dawn_store_add_ack(ways->store, a.id, revision, subscriber, "dashboard", by, now);
                int e = r >= 0 ? dawn_escalation_acked(ways->store, a.id, subscriber, by, now) : 0;
                if (e < 0)
                        r = e;
                if (r == 1) {
                        char actor[96], detail[200];
                        snprintf(actor, sizeof(actor), "mqtt:%s", subscriber);
                        snprintf(detail, sizeof(detail), "acknowledged revision %d on the dashboard by %.100s",
                                 revision, by);
                        r = dawn_store_audit(ways->store, actor, "ack", a.id, detail, now);
                        log_alert(LOG_INFO, a.id, "alert %s acknowledged on %s's dashboard", a.id, subscriber);
                }
        }
        dawn_alert_clear(&a);
        return end(ways, r < 0 ? r : 0, wrote);
}

/* ---- history and audit ---- */

void dawn_audit_reload(struct dawn_ways *ways, const char *actor, int r, const char *msg)
{
        char detail[400];
        if (r == 0) {
                snprintf(detail, sizeof(detail), "applied (%zu areas, %zu subscribers)", ways->config->n_areas,
                         ways->config->n_subscribers);
        } else {
                int errors = 1;
                for (const char *m = msg; (m = strstr(m, "; ")); m += 2)
                        errors++;
                snprintf(detail, sizeof(detail), "not applied, %d error%s: %.300s", errors, errors == 1 ? "" : "s",
                         msg && *msg ? msg : "(no message)");
        }
        int w = dawn_commit_begin(ways->commit);
        if (w == 0)
                w = dawn_commit_end(ways->commit, dawn_store_audit(ways->store, actor, "reload", NULL, detail,
                                                                   dawn_now_usec()));
        if (w < 0)
                log_warning_errno(w, "reload by %s: cannot write the audit log (%s), ignoring", actor,
                                  dawn_store_errmsg(ways->store));
}
