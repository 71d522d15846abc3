#include "intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade.h"
#include "log.h"
#include "metrics.h"
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

/* One outbox row; a text to a number that replied STOP is recorded as
 * opted-out instead of sent, so the officer sees who was not told and why. */
static int add_delivery(const struct dawn_intake *in, const struct dawn_alert *a, const char *subscriber,
                        enum dawn_channel_kind channel, const char *recipient, enum dawn_delivery_action action)
{
        int r = dawn_store_add_delivery(in->store, a->id, a->revision, subscriber, channel, recipient, action,
                                        in->now);
        if (r == 0 && channel == DAWN_CHANNEL_SMS && (r = dawn_store_opted_out(in->store, recipient)) == 1)
                r = dawn_store_hold_opted_out(in->store, recipient, in->now);
        return r < 0 ? r : 0;
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
        return add_delivery(w->in, w->alert, subscriber, channel, recipient, DAWN_ACTION_WITHDRAW);
}


/* A report waiting for review is shown to those who decide (dawn_route_review). */
static int review_notices(const struct dawn_intake *in, const struct dawn_alert *a)
{
        struct dawn_route route;
        int r = dawn_route_review(in->config, a->id, a->area, &route);
        for (size_t i = 0; r == 0 && i < route.n; i++)
                r = add_delivery(in, a, route.v[i].subscriber, route.v[i].channel, route.v[i].recipient,
                                 DAWN_ACTION_REVIEW);
        dawn_route_clear(&route);
        return r;
}

/* The outbox rows for a new revision: the alert to everyone the rules name
 * now, its withdrawal to anyone who had it and is no longer named (all of
 * them when it is cancelled), and older revisions that have not gone yet
 * superseded. */
static int fan_out(const struct dawn_intake *in, const struct dawn_alert *a)
{
        struct dawn_route route = { 0 };
        bool live = a->status == DAWN_STATUS_ACTIVE;
        if (a->status == DAWN_STATUS_PENDING) {
                int r = a->revision > 1 ? dawn_store_supersede_deliveries(in->store, a->id, a->revision, in->now) : 0;
                return r < 0 ? r : review_notices(in, a);
        }
        int r = live ? dawn_route_alert(in->config, a->id, a->area, a->type, a->grade, &route) : 0;
        if (r == 0 && a->revision > 1) {
                struct withdraw_ctx w = { in, a, live ? &route : NULL };
                r = dawn_store_for_each_recipient(in->store, a->id, withdraw_one, &w);
                if (r == 0)
                        r = dawn_store_supersede_deliveries(in->store, a->id, a->revision, in->now);
        }
        for (size_t i = 0; r == 0 && i < route.n; i++)
                r = add_delivery(in, a, route.v[i].subscriber, route.v[i].channel, route.v[i].recipient,
                                 DAWN_ACTION_PUBLISH);
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

/* After a corroboration: recipients hear again (a new revision) only if the
 * grade rose; otherwise the sources list grows, but nothing they see. */
static int save_corroborated(const struct dawn_intake *in, struct dawn_alert *a, enum dawn_grade before)
{
        if (a->grade > before) {
                a->revision++;
                return save_revision(in, a);
        }
        char *fp = dawn_alert_fingerprint(a);
        if (!fp)
                return -ENOMEM;
        int r = dawn_store_save_alert(in->store, a, fp, false);
        free(fp);
        return r;
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
        if (result->status == DAWN_STATUS_PENDING && in->role == DAWN_ROLE_ISSUER) {
                /* an issuer saying the same thing is the confirmation the review waited for */
                result->status = DAWN_STATUS_ACTIVE;
                result->revision++;
                r = save_revision(in, result);
                if (r == 0)
                        r = dawn_store_audit(in->store, in->actor, "approve", id,
                                             "confirmed by a report from an issuer", in->now);
                return r;
        }
        return save_corroborated(in, result, before);
}

static int create(const struct dawn_intake *in, struct dawn_alert *a)
{
        a->revision = 1;
        /* a reporter's word waits for an officer; an issuer's goes out */
        a->status = in->role == DAWN_ROLE_REPORTER ? DAWN_STATUS_PENDING : DAWN_STATUS_ACTIVE;
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
                snprintf(detail, sizeof(detail), "%s %s in %s from %s%s", dawn_grade_name(a->grade),
                         dawn_type_name(a->type), a->area, in->source,
                         a->status == DAWN_STATUS_PENDING ? ", to the review queue" : "");
                r = dawn_store_audit(in->store, in->actor, a->status == DAWN_STATUS_PENDING ? "report" : "issue",
                                     a->id, detail, in->now);
        }
        return r;
}

/* ---- clusters ---- */

/* The lowest area that is a or above it and b or above it. */
static int common_area(const struct dawn_config *c, int a, int b)
{
        while (a >= 0 && b >= 0 && a != b) {
                if (c->areas[a].depth >= c->areas[b].depth)
                        a = c->areas[a].parent;
                else
                        b = c->areas[b].parent;
        }
        return a >= 0 && b >= 0 ? a : -1;
}

static int strv_union(struct dawn_strv *into, const struct dawn_strv *from)
{
        for (size_t i = 0; i < from->n; i++)
                if (!dawn_strv_contains(into, from->v[i]) && into->n < DAWN_MAX_LIST_ITEMS &&
                    dawn_strv_add(into, from->v[i]) < 0)
                        return -ENOMEM;
        return 0;
}

/* What one more overdose report adds to a cluster: a person (a report of
 * several counts them all), its deaths, what was in it, who said so. */
static int absorb_report(struct dawn_alert *cluster, const struct dawn_alert *report)
{
        cluster->casualties = (cluster->casualties > 0 ? cluster->casualties : 0) +
                              (report->casualties > 0 ? report->casualties : 1);
        if (report->fatalities > 0)
                cluster->fatalities = (cluster->fatalities > 0 ? cluster->fatalities : 0) + report->fatalities;
        if (report->evidence > cluster->evidence)
                cluster->evidence = report->evidence;
        int r = strv_union(&cluster->adulterants, &report->adulterants);
        if (r == 0)
                r = strv_union(&cluster->sold_as, &report->sold_as);
        if (r == 0)
                r = strv_union(&cluster->sources, &report->sources);
        return r;
}

static int cluster_summary(const struct dawn_intake *in, struct dawn_alert *cluster)
{
        char *text = NULL;
        uint64_t minutes = in->config->cluster_window_usec / (60 * DAWN_USEC_PER_SEC);
        unsigned long long n = minutes % 60 == 0 ? minutes / 60 : minutes;
        const char *unit = minutes % 60 == 0 ? (n == 1 ? "hour" : "hours") : (n == 1 ? "minute" : "minutes");
        if (asprintf(&text, "Overdose cluster: %lld overdoses reported in %s within %llu %s",
                     (long long)cluster->casualties, cluster->area, n, unit) < 0)
                return -ENOMEM;
        free(cluster->summary);
        cluster->summary = text;
        return 0;
}

/* A later report in the cluster's area corroborates it: counted, recorded,
 * and the cluster stays open for another window. Recipients hear again only
 * if the grade rises, as for any corroboration. */
static int grow_cluster(const struct dawn_intake *in, struct dawn_alert *cluster, const struct dawn_alert *report)
{
        enum dawn_grade before = cluster->grade;
        int r = dawn_store_add_corroboration(in->store, cluster->id, report->sources.n ? report->sources.v[0] : in->source,
                                             report, in->now);
        if (r == 0)
                r = absorb_report(cluster, report);
        if (r == 0)
                r = cluster_summary(in, cluster);
        if (r == 0)
                r = regrade(in, cluster);
        if (r < 0)
                return r;
        cluster->updated_at = in->now;
        cluster->expires_at = in->now + (int64_t)in->config->cluster_window_usec;
        char detail[160];
        snprintf(detail, sizeof(detail), "overdose report %s joins the cluster; grade %s -> %s", report->id,
                 dawn_grade_name(before), dawn_grade_name(cluster->grade));
        r = dawn_store_audit(in->store, in->actor, "corroborate", cluster->id, detail, in->now);
        if (r < 0)
                return r;
        return save_corroborated(in, cluster, before);
}

/* Enough overdose reports in one part of the tree within the window: a
 * cluster alert, graded on its own evidence, its reports named in its
 * reasons, out at once or to review as grading.cluster.review says. */
static int raise_cluster(const struct dawn_intake *in, const struct dawn_alert *reports, size_t n, int area)
{
        struct dawn_alert c;
        dawn_alert_init(&c);
        c.type = DAWN_TYPE_CLUSTER;
        c.casualties = 0;
        c.fatalities = 0;
        int r = (c.area = strdup(in->config->areas[area].id)) ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++)
                r = absorb_report(&c, &reports[i]);
        if (r == 0)
                r = cluster_summary(in, &c);
        if (r == 0)
                r = dawn_store_next_alert_id(in->store, c.id);
        if (r == 0) {
                /* graded on the reports in hand: they become its corroborations once it exists */
                struct dawn_grading g = { 0 };
                r = dawn_grade_alert(&c, reports, n, in->config, &g);
                c.grade = g.grade;
                dawn_strv_free(&c.grade_reasons);
                c.grade_reasons = g.reasons;
                g.reasons = (struct dawn_strv){ 0 };
                dawn_grading_clear(&g);
        }
        if (r == 0) {
                c.revision = 1;
                c.status = in->config->cluster_review ? DAWN_STATUS_PENDING : DAWN_STATUS_ACTIVE;
                c.issued_at = c.updated_at = in->now;
                c.expires_at = in->now + (int64_t)in->config->cluster_window_usec;
                r = save_revision(in, &c);
        }
        for (size_t i = 0; r == 0 && i < n; i++)
                r = dawn_store_add_corroboration(in->store, c.id,
                                                 reports[i].sources.n ? reports[i].sources.v[0] : in->source,
                                                 &reports[i], in->now);
        if (r == 0) {
                char detail[200];
                int len = snprintf(detail, sizeof(detail), "%s cluster in %s raised from %zu overdose reports:",
                                   dawn_grade_name(c.grade), c.area, n);
                for (size_t i = 0; i < n && len > 0 && (size_t)len < sizeof(detail); i++)
                        len += snprintf(detail + len, sizeof(detail) - (size_t)len, " %s", reports[i].id);
                r = dawn_store_audit(in->store, "dawnd (cluster detection)", "cluster", c.id, detail, in->now);
        }
        if (r == 0) {
                dawn_metrics_count(DAWN_M_CLUSTERS_RAISED, NULL, NULL);
                log_alert(LOG_NOTICE, c.id, "alert %s: %s overdose cluster in %s raised from %zu reports%s", c.id,
                          dawn_grade_name(c.grade), c.area, n,
                          c.status == DAWN_STATUS_PENDING ? ", waiting for review" : "");
        }
        dawn_alert_clear(&c);
        return r;
}

/* After a new overdose report: does it join an open cluster, or make one? */
static int detect_cluster(const struct dawn_intake *in, const struct dawn_alert *report)
{
        const struct dawn_config *c = in->config;
        int area = dawn_config_area_index(c, report->area);
        int64_t since = in->now - (int64_t)c->cluster_window_usec;
        struct dawn_alert *v = NULL;
        size_t n = 0;
        if (area < 0)
                return 0;
        int r = dawn_store_alerts_by_type(in->store, DAWN_TYPE_CLUSTER, since, true, &v, &n);
        bool grown = false;
        for (size_t i = 0; r == 0 && i < n && !grown; i++) {
                int ca = dawn_config_area_index(c, v[i].area);
                if (ca >= 0 && dawn_config_areas_related(c, ca, area)) {
                        r = grow_cluster(in, &v[i], report);
                        grown = true;
                }
        }
        for (size_t i = 0; i < n; i++)
                dawn_alert_clear(&v[i]);
        free(v);
        if (r < 0 || grown)
                return r;

        r = dawn_store_alerts_by_type(in->store, DAWN_TYPE_NFOD, since, false, &v, &n);
        /* the reports in the same part of the tree, the new one among them */
        size_t kept = 0;
        int common = area;
        for (size_t i = 0; r == 0 && i < n; i++) {
                int ra = dawn_config_area_index(c, v[i].area);
                if (ra >= 0 && dawn_config_areas_related(c, ra, area)) {
                        common = common_area(c, common, ra);
                        if (kept != i) {
                                struct dawn_alert t = v[kept];
                                v[kept] = v[i];
                                v[i] = t;
                        }
                        kept++;
                }
        }
        if (r == 0 && kept >= (size_t)c->cluster_threshold && common >= 0)
                r = raise_cluster(in, v, kept, common);
        for (size_t i = 0; i < n; i++)
                dawn_alert_clear(&v[i]);
        free(v);
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

        /* every overdose report is a person: two alike are two overdoses, not one
         * corroborated, and cluster detection counts them */
        r = 0;
        if (report.type != DAWN_TYPE_NFOD) {
                char *fp = dawn_alert_fingerprint(&report);
                if (!fp) {
                        r = -ENOMEM;
                        goto out;
                }
                int64_t since = in->now - (int64_t)in->config->dedup_window_usec;
                r = dawn_store_find_match(in->store, fp, since, id);
                free(fp);
        }
        if (r == 1) {
                *outcome = DAWN_INTAKE_MERGED;
                r = merge(in, id, &report, result);
        } else if (r == 0) {
                *outcome = DAWN_INTAKE_NEW;
                r = create(in, &report);
                if (r == 0)
                        r = dawn_alert_copy(result, &report);
                if (r == 0 && report.type == DAWN_TYPE_NFOD)
                        r = detect_cluster(in, &report);
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

static int load_pending(const struct dawn_intake *in, const char *id, struct dawn_alert *a, const char *verb,
                        struct dawn_input_error *err)
{
        int r = load_existing(in, id, a, err);
        if (r == 0 && a->status != DAWN_STATUS_PENDING)
                r = dawn_input_error_set(err, "id", "alert %s is %s, not waiting for review: it cannot be %s", a->id,
                                         dawn_status_name(a->status), verb);
        return r;
}

int dawn_intake_approve(const struct dawn_intake *in, const char *id, struct dawn_alert *result,
                        struct dawn_input_error *err)
{
        int r = load_pending(in, id, result, "approved", err);
        if (r < 0)
                return r;
        /* a new revision: the first that recipients see (the reviewers saw the pending one) */
        result->status = DAWN_STATUS_ACTIVE;
        result->revision++;
        result->updated_at = in->now;
        r = save_revision(in, result);
        if (r == 0) {
                char detail[160];
                snprintf(detail, sizeof(detail), "approved: %s %s in %s goes out", dawn_grade_name(result->grade),
                         dawn_type_name(result->type), result->area);
                r = dawn_store_audit(in->store, in->actor, "approve", id, detail, in->now);
        }
        if (r == 0)
                dawn_metrics_count(DAWN_M_REVIEW_DECISIONS, "approved", NULL);
        return r;
}

int dawn_intake_reject(const struct dawn_intake *in, const char *id, const char *reason,
                       struct dawn_alert *result, struct dawn_input_error *err)
{
        int r = dawn_text_check("reason", reason ? reason : "", DAWN_MAX_SUMMARY_CHARS, true, err);
        if (r == 0)
                r = load_pending(in, id, result, "rejected", err);
        if (r < 0)
                return r;
        free(result->cancel_reason);
        if (asprintf(&result->cancel_reason, "rejected in review: %s", reason) < 0) {
                result->cancel_reason = NULL;
                return -ENOMEM;
        }
        result->status = DAWN_STATUS_CANCELLED;
        result->revision++;
        result->updated_at = in->now;
        r = save_revision(in, result);
        if (r == 0)
                r = dawn_store_audit(in->store, in->actor, "reject", id, reason, in->now);
        if (r == 0)
                dawn_metrics_count(DAWN_M_REVIEW_DECISIONS, "rejected", NULL);
        return r;
}
