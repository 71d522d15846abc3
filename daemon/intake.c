#include "intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade.h"
#include "route.h"

/* Grades a with everything merged into it so far. */
static int regrade(const struct dawn_intake *in, struct dawn_alert *a)
{
        struct dawn_alert *corr = NULL;
        size_t n = 0;
        int r = a->id[0] ? dawn_store_load_corroborations(in->store, a->id, &corr, &n) : 0;
        struct dawn_grading g = { 0 };
        if (r == 0)
                r = dawn_grade_alert(a, corr, n, in->config, &g);
        if (r == 0) {
                a->grade = g.grade;
                dawn_strv_free(&a->grade_reasons);
                a->grade_reasons = g.reasons;
                g.reasons = (struct dawn_strv){ 0 };
        }
        dawn_grading_clear(&g);
        for (size_t i = 0; i < n; i++)
                dawn_alert_clear(&corr[i]);
        free(corr);
        return r;
}

struct withdraw_ctx {
        const struct dawn_intake *in;
        const struct dawn_alert *alert;
        const struct dawn_route *route;   /* NULL: withdraw from everyone */
};

static bool in_route(const struct dawn_route *route, const char *subscriber, enum dawn_channel_kind channel,
                     const char *recipient)
{
        for (size_t i = 0; route && i < route->n; i++)
                if (route->v[i].channel == channel && strcmp(route->v[i].subscriber, subscriber) == 0 &&
                    strcmp(route->v[i].recipient, recipient) == 0)
                        return true;
        return false;
}

static int withdraw_one(const char *subscriber, enum dawn_channel_kind channel, const char *recipient,
                        bool reached, void *userdata)
{
        struct withdraw_ctx *w = userdata;
        if (in_route(w->route, subscriber, channel, recipient))
                return 0;
        /* a text or mail retracts only what reached the person; a retained MQTT message is
         * cleared whatever became of it */
        if (channel != DAWN_CHANNEL_MQTT && !reached)
                return 0;
        /* an alert running out needs no 3 a.m. text unless the operator asked for one */
        if (channel != DAWN_CHANNEL_MQTT && w->alert->status == DAWN_STATUS_EXPIRED && !w->in->config->expiry_notify)
                return 0;
        return dawn_store_add_delivery(w->in->store, w->alert->id, w->alert->revision, subscriber, channel,
                                       recipient, DAWN_ACTION_WITHDRAW, w->in->now);
}

/* The outbox rows for a new revision: the alert to everyone the rules name
 * now, its withdrawal to anyone who had it and is no longer named (all of
 * them when it is cancelled), and older revisions that have not gone yet
 * superseded. */
static int fan_out(const struct dawn_intake *in, const struct dawn_alert *a)
{
        struct dawn_route route = { 0 };
        bool live = a->status == DAWN_STATUS_ACTIVE;
        int r = live ? dawn_route_alert(in->config, a->id, a->area, a->type, a->grade, &route) : 0;
        if (r == 0 && a->revision > 1) {
                struct withdraw_ctx w = { in, a, live ? &route : NULL };
                r = dawn_store_for_each_recipient(in->store, a->id, withdraw_one, &w);
                if (r == 0)
                        r = dawn_store_supersede_deliveries(in->store, a->id, a->revision, in->now);
        }
        for (size_t i = 0; r == 0 && i < route.n; i++)
                r = dawn_store_add_delivery(in->store, a->id, a->revision, route.v[i].subscriber,
                                            route.v[i].channel, route.v[i].recipient, DAWN_ACTION_PUBLISH,
                                            in->now);
        dawn_route_clear(&route);
        return r;
}

static int save_revision(const struct dawn_intake *in, struct dawn_alert *a)
{
        char *fp = dawn_alert_fingerprint(a);
        if (!fp)
                return -ENOMEM;
        int r = dawn_store_save_alert(in->store, a, fp, true);
        free(fp);
        return r < 0 ? r : fan_out(in, a);
}

static int load_existing(const struct dawn_intake *in, const char *id, struct dawn_alert *a,
                         struct dawn_input_error *err)
{
        int r = dawn_store_load_alert(in->store, id, a);
        if (r == 0)
                return dawn_input_error_set(err, "id", "no alert with id '%.24s'", id);
        return r < 0 ? r : 0;
}

static int add_source(struct dawn_alert *a, const char *source)
{
        return dawn_strv_contains(&a->sources, source) ? 0 : dawn_strv_add(&a->sources, source);
}

/* A report of something already active: it corroborates the alert. The
 * recipients hear again only if that raises the grade. */
static int merge(const struct dawn_intake *in, const char *id, const struct dawn_alert *report,
                 struct dawn_alert *result)
{
        int r = dawn_store_load_alert(in->store, id, result);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        enum dawn_grade before = result->grade;
        /* the dedup window runs from the latest report, so a batch reported every day stays one alert */
        result->updated_at = in->now;
        r = dawn_store_add_corroboration(in->store, id, in->source, report, in->now);
        if (r == 0)
                r = add_source(result, in->source);
        if (r == 0)
                r = regrade(in, result);
        if (r < 0)
                return r;

        char detail[160];
        snprintf(detail, sizeof(detail), "report from %s corroborates; grade %s -> %s", in->source,
                 dawn_grade_name(before), dawn_grade_name(result->grade));
        r = dawn_store_audit(in->store, in->actor, "corroborate", id, detail, in->now);
        if (r < 0)
                return r;
        if (result->grade > before) {
                result->revision++;
                return save_revision(in, result);
        }
        /* the sources list grows, but nothing recipients see has changed */
        char *fp = dawn_alert_fingerprint(result);
        if (!fp)
                return -ENOMEM;
        r = dawn_store_save_alert(in->store, result, fp, false);
        free(fp);
        return r;
}

static int create(const struct dawn_intake *in, struct dawn_alert *a)
{
        a->revision = 1;
        a->status = DAWN_STATUS_ACTIVE;
        a->issued_at = a->updated_at = in->now;
        if (!a->expires_at)
                a->expires_at = in->now + (int64_t)in->config->expiry_usec[a->type];
        int r = add_source(a, in->source);
        /* graded before it has an id: a new alert has no corroborations to read */
        if (r == 0)
                r = regrade(in, a);
        if (r == 0)
                r = dawn_store_next_alert_id(in->store, a->id);
        if (r == 0)
                r = save_revision(in, a);
        if (r == 0) {
                char detail[160];
                snprintf(detail, sizeof(detail), "%s %s in %s from %s", dawn_grade_name(a->grade),
                         dawn_type_name(a->type), a->area, in->source);
                r = dawn_store_audit(in->store, in->actor, "issue", a->id, detail, in->now);
        }
        return r;
}

int dawn_intake_issue(const struct dawn_intake *in, const cJSON *input, struct dawn_alert *result,
                      enum dawn_intake_outcome *outcome, struct dawn_input_error *err)
{
        struct dawn_alert report;
        dawn_alert_init(&report);
        unsigned seen = 0;
        int r = dawn_alert_parse_input(input, &report, &seen, err);
        if (r == 0 && !(seen & DAWN_FIELD_TYPE))
                r = dawn_input_error_set(err, "type", "type: required (batch, cluster or nfod)");
        if (r == 0)
                r = dawn_alert_check(&report, in->config, in->now, err);
        if (r < 0)
                goto out;

        char id[DAWN_MAX_ID_CHARS + 1];
        if (report.source_ref) {
                r = dawn_store_find_submission(in->store, in->source, report.source_ref, id);
                if (r == 1) {
                        *outcome = DAWN_INTAKE_DUPLICATE;
                        r = load_existing(in, id, result, err);
                        goto out;
                }
                if (r < 0)
                        goto out;
        }

        char *fp = dawn_alert_fingerprint(&report);
        if (!fp) {
                r = -ENOMEM;
                goto out;
        }
        int64_t since = in->now - (int64_t)in->config->dedup_window_usec;
        r = dawn_store_find_match(in->store, fp, since, id);
        free(fp);
        if (r == 1) {
                *outcome = DAWN_INTAKE_MERGED;
                r = merge(in, id, &report, result);
        } else if (r == 0) {
                *outcome = DAWN_INTAKE_NEW;
                r = create(in, &report);
                if (r == 0)
                        r = dawn_alert_copy(result, &report);
        }
        if (r == 0 && report.source_ref)
                r = dawn_store_add_submission(in->store, in->source, report.source_ref, result->id, in->now);
out:
        dawn_alert_clear(&report);
        return r;
}

static int check_open(const struct dawn_alert *a, const char *verb, struct dawn_input_error *err)
{
        if (a->status == DAWN_STATUS_CANCELLED || a->status == DAWN_STATUS_EXPIRED)
                return dawn_input_error_set(err, "id", "alert %s is %s and cannot be %s", a->id,
                                            dawn_status_name(a->status), verb);
        return 0;
}

int dawn_intake_update(const struct dawn_intake *in, const char *id, const cJSON *input,
                       struct dawn_alert *result, struct dawn_input_error *err)
{
        struct dawn_alert change;
        dawn_alert_init(&change);
        unsigned seen = 0;
        int r = load_existing(in, id, result, err);
        if (r == 0)
                r = check_open(result, "updated", err);
        if (r == 0)
                r = dawn_alert_parse_input(input, &change, &seen, err);
        if (r == 0 && seen == 0)
                r = dawn_input_error_set(err, "alert", "nothing to update: give at least one field");
        if (r == 0 && (seen & DAWN_FIELD_SOURCE_REF))
                r = dawn_input_error_set(err, "source_ref", "source_ref: belongs to the first report, not to an update");
        if (r == 0)
                r = dawn_alert_apply_update(result, &change, seen);
        if (r == 0)
                r = dawn_alert_check(result, in->config, in->now, err);
        if (r == 0)
                r = regrade(in, result);
        if (r == 0) {
                result->revision++;
                result->updated_at = in->now;
                r = save_revision(in, result);
        }
        if (r == 0) {
                char detail[160];
                snprintf(detail, sizeof(detail), "revision %d, grade %s", result->revision,
                         dawn_grade_name(result->grade));
                r = dawn_store_audit(in->store, in->actor, "update", id, detail, in->now);
        }
        dawn_alert_clear(&change);
        return r;
}

int dawn_intake_cancel(const struct dawn_intake *in, const char *id, const char *reason,
                       struct dawn_alert *result, struct dawn_input_error *err)
{
        int r = dawn_text_check("reason", reason ? reason : "", DAWN_MAX_SUMMARY_CHARS, true, err);
        if (r == 0)
                r = load_existing(in, id, result, err);
        if (r == 0)
                r = check_open(result, "cancelled", err);
        if (r < 0)
                return r;
        free(result->cancel_reason);
        result->cancel_reason = strdup(reason);
        if (!result->cancel_reason)
                return -ENOMEM;
        result->status = DAWN_STATUS_CANCELLED;
        result->revision++;
        result->updated_at = in->now;
        r = save_revision(in, result);
        if (r == 0)
                r = dawn_store_audit(in->store, in->actor, "cancel", id, reason, in->now);
        return r;
}

int dawn_intake_expire(const struct dawn_intake *in, const char *id, struct dawn_alert *result)
{
        int r = dawn_store_load_alert(in->store, id, result);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (result->status != DAWN_STATUS_ACTIVE && result->status != DAWN_STATUS_PENDING)
                return 1;
        result->status = DAWN_STATUS_EXPIRED;
        result->revision++;
        result->updated_at = in->now;
        r = save_revision(in, result);
        if (r == 0)
                r = dawn_store_audit(in->store, in->actor, "expire", id, "reached expires_at", in->now);
        return r;
}
