#include "intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grade.h"
#include "log.h"
#include "metrics.h"
#include "route.h"

static void take_grading(struct dawn_alert *a, struct dawn_grading *g)
{
        a->grade = g->grade;
        dawn_strv_free(&a->grade_reasons);
        a->grade_reasons = g->reasons;
        g->reasons = (struct dawn_strv){ 0 };
}

static void free_alerts(struct dawn_alert *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                dawn_alert_clear(&v[i]);
        free(v);
}

/* A cluster that exists: graded on its own sums and sets, which absorb_report
 * keeps up to date, and named by its first few reports; joining, when not
 * NULL, is a report about to join it (not yet counted in the store). What
 * this reads does not grow with the reports the cluster has. */
static int regrade_cluster(const struct dawn_intake *in, struct dawn_alert *a, const struct dawn_alert *joining)
{
        struct dawn_alert *first = NULL;
        size_t n = 0;
        int64_t reports = dawn_store_cluster_reports(in->store, a->id);
        int r = reports < 0 ? (int)reports
                            : dawn_store_first_corroborations(in->store, a->id, DAWN_CLUSTER_NAMED_REPORTS, &first, &n);
        if (r == 0 && joining) {
                reports++;
                if (n < DAWN_CLUSTER_NAMED_REPORTS) {
                        struct dawn_alert *v = realloc(first, (n + 1) * sizeof(*v));
                        if (!v)
                                r = -ENOMEM;
                        else
                                first = v;
                        if (r == 0 && (dawn_alert_init(&first[n]), (r = dawn_alert_copy(&first[n], joining))) == 0)
                                n++;
                }
        }
        struct dawn_grading g = { 0 };
        if (r == 0)
                r = dawn_grade_cluster(a, first, n, (uint64_t)reports, in->config, &g);
        if (r == 0)
                take_grading(a, &g);
        dawn_grading_clear(&g);
        free_alerts(first, n);
        return r;
}

/* Grades a with everything merged into it so far, and joining (a report
 * not counted yet) when not NULL. Corroborations held for an officer do not
 * count. */
static int regrade_with(const struct dawn_intake *in, struct dawn_alert *a, const struct dawn_alert *joining)
{
        if (a->type == DAWN_TYPE_CLUSTER && a->id[0])
                return regrade_cluster(in, a, joining);
        struct dawn_alert *corr = NULL;
        size_t n = 0;
        int r = a->id[0] ? dawn_store_load_corroborations(in->store, a->id, &corr, &n) : 0;
        if (r == 0 && joining) {
                struct dawn_alert *v = realloc(corr, (n + 1) * sizeof(*v));
                if (!v)
                        r = -ENOMEM;
                else
                        corr = v;
                if (r == 0 && (dawn_alert_init(&corr[n]), (r = dawn_alert_copy(&corr[n], joining))) == 0)
                        n++;
        }
        struct dawn_grading g = { 0 };
        if (r == 0)
                r = dawn_grade_alert(a, corr, n, in->config, &g);
        if (r == 0)
                take_grading(a, &g);
        dawn_grading_clear(&g);
        free_alerts(corr, n);
        return r;
}

static int regrade(const struct dawn_intake *in, struct dawn_alert *a)
{
        return regrade_with(in, a, NULL);
}

/* One outbox row; a text to a number that replied STOP is recorded as
 * opted-out instead of sent, so the officer sees who was not told and why. */
static int add_delivery_at(const struct dawn_intake *in, const char *alert_id, int revision, const char *subscriber,
                           enum dawn_channel_kind channel, const char *recipient, enum dawn_delivery_action action)
{
        int r = dawn_store_add_delivery(in->store, alert_id, revision, subscriber, channel, recipient, action,
                                        in->now);
        if (r == 0 && channel == DAWN_CHANNEL_SMS && (r = dawn_store_opted_out(in->store, recipient)) == 1)
                r = dawn_store_hold_opted_out(in->store, recipient, in->now);
        return r < 0 ? r : 0;
}

static int add_delivery(const struct dawn_intake *in, const struct dawn_alert *a, const char *subscriber,
                        enum dawn_channel_kind channel, const char *recipient, enum dawn_delivery_action action)
{
        return add_delivery_at(in, a->id, a->revision, subscriber, channel, recipient, action);
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
static int review_notices_at(const struct dawn_intake *in, const char *review_id, const char *alert_id, int revision,
                             const char *area)
{
        struct dawn_route route;
        int r = dawn_route_review(in->config, review_id, area, &route);
        for (size_t i = 0; r == 0 && i < route.n; i++)
                r = add_delivery_at(in, alert_id, revision, route.v[i].subscriber, route.v[i].channel,
                                    route.v[i].recipient, DAWN_ACTION_REVIEW);
        dawn_route_clear(&route);
        return r;
}

static int review_notices(const struct dawn_intake *in, const struct dawn_alert *a)
{
        return review_notices_at(in, a->id, a->id, a->revision, a->area);
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
        /* a grade rise proposed for an alert that is withdrawn or ran out has nothing left to raise */
        if (r == 0 && !live)
                r = dawn_store_close_proposals(in->store, a->id, "withdrawn",
                                               a->status == DAWN_STATUS_EXPIRED ? "the alert expired"
                                                                                : "the alert was cancelled",
                                               in->now);
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

/* ---- proposals: a reporter's grade rise waits for an officer ---- */

/* What the reviewers see and dawnctl pending lists: the alert as it would
 * stand (its proposed grade and the reasons for it), under the proposal's
 * own id, with the claims of the report that would raise it and who made
 * them. The review notice reads "DAWN P12 REVIEW NEEDED: ... dawnctl
 * approve P12 or dawnctl reject P12 --reason TEXT". */
static char *proposal_json(const struct dawn_intake *in, const struct dawn_proposal *p, const struct dawn_alert *alert,
                           const struct dawn_alert *report, const struct dawn_alert *proposed)
{
        struct dawn_alert n;
        dawn_alert_init(&n);
        char *json = NULL, *summary = NULL;
        const char *said = report->summary ? report->summary : alert->summary;
        int r = dawn_alert_copy(&n, proposed);
        if (r == 0 && asprintf(&summary, "Proposed grade rise of %s from %s to %s, on a report from %s: %s", alert->id,
                               dawn_grade_name(p->grade_from), dawn_grade_name(p->grade_to), p->source,
                               said ? said : "(no summary)") < 0) {
                summary = NULL;
                r = -ENOMEM;
        }
        if (r == 0) {
                snprintf(n.id, sizeof(n.id), "%s", p->id);
                n.status = DAWN_STATUS_PENDING;
                n.revision = alert->revision;
                n.issued_at = n.updated_at = in->now; /* received now: what the reviewer sees */
                free(n.summary);
                n.summary = summary;
                summary = NULL;
                /* a batch's own counts stay the alert's; the reviewer weighs what the reporter claims */
                if (alert->type != DAWN_TYPE_CLUSTER) {
                        if (report->casualties >= 0)
                                n.casualties = report->casualties;
                        if (report->fatalities >= 0)
                                n.fatalities = report->fatalities;
                        if (report->evidence > n.evidence)
                                n.evidence = report->evidence;
                }
                dawn_strv_free(&n.sources);
                r = dawn_strv_add(&n.sources, p->source);
        }
        cJSON *o = r == 0 ? dawn_alert_to_json(&n) : NULL;
        if (o) {
                char change[64];
                snprintf(change, sizeof(change), "%s -> %s", dawn_grade_name(p->grade_from),
                         dawn_grade_name(p->grade_to));
                cJSON_AddStringToObject(o, "kind", "proposal");
                cJSON_AddStringToObject(o, "alert", alert->id);
                cJSON_AddStringToObject(o, "grade_from", dawn_grade_name(p->grade_from));
                cJSON_AddStringToObject(o, "grade_change", change);
                cJSON_AddItemToObject(o, "report", dawn_alert_to_json(report));
                json = cJSON_PrintUnformatted(o);
        }
        cJSON_Delete(o);
        free(summary);
        dawn_alert_clear(&n);
        return json;
}

/* The report from source would raise alert (active) to proposed's grade:
 * it is recorded as a corroboration held by a proposal of its own id, the
 * public-health reviewers are told as they are of a pending report, and
 * nothing reaches recipients until an officer approves it. */
static int propose(const struct dawn_intake *in, const struct dawn_alert *alert, const struct dawn_alert *report,
                   const char *source, const struct dawn_alert *proposed)
{
        struct dawn_proposal p = { 0 };
        snprintf(p.alert_id, sizeof(p.alert_id), "%s", alert->id);
        snprintf(p.source, sizeof(p.source), "%s", source);
        p.grade_from = alert->grade;
        p.grade_to = proposed->grade;
        p.created_at = in->now;
        int r = dawn_store_next_proposal_id(in->store, p.id, &p.revision);
        if (r == 0)
                r = dawn_store_add_held_corroboration(in->store, alert->id, source, report, p.id, in->now,
                                                      &p.corroboration);
        char *json = r == 0 ? proposal_json(in, &p, alert, report, proposed) : NULL;
        if (r == 0 && !json)
                r = -ENOMEM;
        if (r == 0)
                r = dawn_store_add_proposal(in->store, &p, json);
        free(json);
        if (r == 0)
                r = review_notices_at(in, p.id, alert->id, p.revision, alert->area);
        if (r == 0) {
                char detail[200];
                snprintf(detail, sizeof(detail), "report from %.64s would raise the grade %s -> %s: held for review as %s",
                         source, dawn_grade_name(p.grade_from), dawn_grade_name(p.grade_to), p.id);
                r = dawn_store_audit(in->store, in->actor, "propose", alert->id, detail, in->now);
        }
        if (r == 0)
                log_alert(LOG_NOTICE, alert->id, "alert %s: a report from %s would raise it %s -> %s; held for review as %s",
                          alert->id, source, dawn_grade_name(p.grade_from), dawn_grade_name(p.grade_to), p.id);
        return r;
}

/* A reporter's corroboration of an active alert: 1 if it would raise the
 * grade (then held as a proposal), 0 if not (recorded as any other). */
static int hold_rise(const struct dawn_intake *in, const struct dawn_alert *alert, const struct dawn_alert *report)
{
        struct dawn_alert t;
        dawn_alert_init(&t);
        int r = dawn_alert_copy(&t, alert);
        if (r == 0)
                r = add_source(&t, in->source);
        if (r == 0)
                r = regrade_with(in, &t, report);
        if (r == 0 && t.grade > alert->grade && (r = propose(in, alert, report, in->source, &t)) == 0)
                r = 1;
        dawn_alert_clear(&t);
        return r;
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
        /* a reporter's word raises no grade that recipients see without an officer */
        if (in->role == DAWN_ROLE_REPORTER && result->status == DAWN_STATUS_ACTIVE &&
            (r = hold_rise(in, result, report)) != 0)
                return r < 0 ? r : 0;
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

/* Who a report stands on: an issuer's (or one an officer approved) is
 * vouched for; a reporter's that no officer has looked at is not. An
 * expired report no longer says which it was, so its source's role does. */
static bool vouched(const struct dawn_intake *in, const struct dawn_alert *report)
{
        if (report->status == DAWN_STATUS_ACTIVE)
                return true;
        if (report->status != DAWN_STATUS_EXPIRED)
                return false;
        const struct dawn_source *src = report->sources.n ? dawn_config_source(in->config, report->sources.v[0]) : NULL;
        return !src || src->role != DAWN_ROLE_REPORTER;
}

static const char *report_source(const struct dawn_intake *in, const struct dawn_alert *report)
{
        return report->sources.n ? report->sources.v[0] : in->source;
}

/* A report joins a cluster: recorded, counted, and counted towards no other. */
static int join_cluster(const struct dawn_intake *in, const char *cluster_id, const struct dawn_alert *report)
{
        int r = dawn_store_add_corroboration(in->store, cluster_id, report_source(in, report), report, in->now);
        if (r == 0)
                r = dawn_store_set_report_cluster(in->store, report->id, cluster_id);
        return r;
}

/* A later report in the cluster's area corroborates it: counted, recorded,
 * and the cluster stays open for another window. Recipients hear again only
 * if the grade rises, as for any corroboration; a rise that only a
 * reporter's report makes is held for an officer as a proposal. */
static int grow_cluster(const struct dawn_intake *in, struct dawn_alert *cluster, const struct dawn_alert *report)
{
        enum dawn_grade before = cluster->grade;
        int r = 0;
        if (in->role == DAWN_ROLE_REPORTER && cluster->status == DAWN_STATUS_ACTIVE) {
                struct dawn_alert t;
                dawn_alert_init(&t);
                r = dawn_alert_copy(&t, cluster);
                if (r == 0)
                        r = absorb_report(&t, report);
                if (r == 0)
                        r = cluster_summary(in, &t);
                if (r == 0)
                        r = regrade_with(in, &t, report);
                bool rises = r == 0 && t.grade > before;
                if (rises)
                        r = propose(in, cluster, report, report_source(in, report), &t);
                /* held, it still belongs to this cluster: it must not raise another one */
                if (rises && r == 0)
                        r = dawn_store_set_report_cluster(in->store, report->id, cluster->id);
                dawn_alert_clear(&t);
                if (r < 0 || rises)
                        return r;
        }
        r = join_cluster(in, cluster->id, report);
        if (r == 0)
                r = dawn_store_cluster_add_reports(in->store, cluster->id, 1);
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
        if (cluster->status == DAWN_STATUS_PENDING && in->role == DAWN_ROLE_ISSUER && !in->config->cluster_review) {
                /* it waited only because reporters alone raised it: an issuer's report vouches for it */
                cluster->status = DAWN_STATUS_ACTIVE;
                cluster->revision++;
                r = save_revision(in, cluster);
                if (r == 0)
                        r = dawn_store_audit(in->store, in->actor, "approve", cluster->id,
                                             "confirmed by an overdose report from an issuer", in->now);
                return r;
        }
        return save_corroborated(in, cluster, before);
}

/* "A3 A4 A5 and 2,991 more": the audit names a handful, as the reasons do. */
static void name_some(char *buf, size_t size, int len, const struct dawn_alert *reports, size_t n)
{
        size_t named = n < DAWN_CLUSTER_NAMED_REPORTS ? n : DAWN_CLUSTER_NAMED_REPORTS;
        for (size_t i = 0; i < named && len > 0 && (size_t)len < size; i++)
                len += snprintf(buf + len, size - (size_t)len, " %s", reports[i].id);
        if (n > named && len > 0 && (size_t)len < size)
                snprintf(buf + len, size - (size_t)len, " and %zu more", n - named);
}

/* Enough overdose reports in one part of the tree within the window: a
 * cluster alert, graded on its own evidence, its first reports named in its
 * reasons, out at once or to review as grading.cluster.review says; to
 * review in any case when no report it stands on is vouched for (a
 * reporter's word alone never reaches recipients). */
static int raise_cluster(const struct dawn_intake *in, const struct dawn_alert *reports, size_t n, int area)
{
        struct dawn_alert c;
        dawn_alert_init(&c);
        c.type = DAWN_TYPE_CLUSTER;
        c.casualties = 0;
        c.fatalities = 0;
        bool any_vouched = false;
        int r = (c.area = strdup(in->config->areas[area].id)) ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                r = absorb_report(&c, &reports[i]);
                any_vouched |= vouched(in, &reports[i]);
        }
        if (r == 0)
                r = cluster_summary(in, &c);
        if (r == 0)
                r = dawn_store_next_alert_id(in->store, c.id);
        if (r == 0) {
                /* graded on the reports in hand: they become its corroborations once it exists */
                struct dawn_grading g = { 0 };
                size_t named = n < DAWN_CLUSTER_NAMED_REPORTS ? n : DAWN_CLUSTER_NAMED_REPORTS;
                r = dawn_grade_cluster(&c, reports, named, n, in->config, &g);
                if (r == 0)
                        take_grading(&c, &g);
                dawn_grading_clear(&g);
        }
        if (r == 0) {
                c.revision = 1;
                c.status = in->config->cluster_review || !any_vouched ? DAWN_STATUS_PENDING : DAWN_STATUS_ACTIVE;
                c.issued_at = c.updated_at = in->now;
                c.expires_at = in->now + (int64_t)in->config->cluster_window_usec;
                r = save_revision(in, &c);
        }
        for (size_t i = 0; r == 0 && i < n; i++)
                r = join_cluster(in, c.id, &reports[i]);
        if (r == 0)
                r = dawn_store_cluster_add_reports(in->store, c.id, (int64_t)n);
        if (r == 0) {
                char detail[240];
                int len = snprintf(detail, sizeof(detail), "%s cluster in %s raised from %zu overdose reports%s:",
                                   dawn_grade_name(c.grade), c.area, n,
                                   any_vouched ? "" : ", all from reporters and not yet reviewed");
                name_some(detail, sizeof(detail), len, reports, n);
                r = dawn_store_audit(in->store, "dawnd (cluster detection)", "cluster", c.id, detail, in->now);
        }
        if (r == 0) {
                dawn_metrics_count(DAWN_M_CLUSTERS_RAISED, NULL, NULL);
                log_alert(LOG_NOTICE, c.id, "alert %s: %s overdose cluster in %s raised from %zu reports%s", c.id,
                          dawn_grade_name(c.grade), c.area, n,
                          c.status != DAWN_STATUS_PENDING ? ""
                          : any_vouched                   ? ", waiting for review"
                                                          : ", waiting for review (reporters' reports only)");
        }
        dawn_alert_clear(&c);
        return r;
}

/* The areas related to area (itself, those above it, those below it) as a
 * JSON array for the store's queries. */
static char *related_areas(const struct dawn_config *c, int area)
{
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < c->n_areas; i++)
                if (dawn_config_areas_related(c, (int)i, area) && !cJSON_AddItemToArray(arr, cJSON_CreateString(c->areas[i].id)))
                        break;
        char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
        cJSON_Delete(arr);
        return text;
}

/* After a new overdose report: does it join an open cluster, or make one?
 * Both questions go to the store by area, so a report costs the same
 * whether the window holds ten reports or ten thousand: an open cluster is
 * found by index, and a new one is raised only from the reports that count
 * towards none yet (each report counts towards one cluster only). */
static int detect_cluster(const struct dawn_intake *in, const struct dawn_alert *report)
{
        const struct dawn_config *c = in->config;
        int area = dawn_config_area_index(c, report->area);
        int64_t since = in->now - (int64_t)c->cluster_window_usec;
        if (area < 0)
                return 0;
        char *areas = related_areas(c, area);
        if (!areas)
                return -ENOMEM;
        char cid[DAWN_MAX_ID_CHARS + 1];
        int r = dawn_store_find_open_cluster(in->store, areas, since, cid);
        if (r == 1) {
                struct dawn_alert cluster;
                dawn_alert_init(&cluster);
                r = dawn_store_load_alert(in->store, cid, &cluster);
                if (r == 1)
                        r = grow_cluster(in, &cluster, report);
                dawn_alert_clear(&cluster);
                free(areas);
                return r < 0 ? r : 0;
        }
        struct dawn_alert *v = NULL;
        size_t n = 0;
        if (r == 0)
                r = dawn_store_unclustered_reports(in->store, areas, since, &v, &n);
        free(areas);
        /* the reports in the same part of the tree, the new one among them */
        int common = area;
        for (size_t i = 0; r == 0 && i < n; i++) {
                int ra = dawn_config_area_index(c, v[i].area);
                if (ra >= 0)
                        common = common_area(c, common, ra);
        }
        if (r == 0 && n >= (size_t)c->cluster_threshold && common >= 0)
                r = raise_cluster(in, v, n, common);
        free_alerts(v, n);
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
        /* reject never withdraws what recipients have: that is cancel's job, and it tells them */
        if (r == 0 && a->status == DAWN_STATUS_ACTIVE)
                r = dawn_input_error_set(err, "id",
                                         "alert %s is active, not waiting for review: it cannot be %s%s%s%s", a->id,
                                         verb, strcmp(verb, "rejected") == 0 ? " (to withdraw it: dawnctl cancel " : "",
                                         strcmp(verb, "rejected") == 0 ? a->id : "",
                                         strcmp(verb, "rejected") == 0 ? " --reason TEXT)" : "");
        else if (r == 0 && a->status != DAWN_STATUS_PENDING)
                r = dawn_input_error_set(err, "id", "alert %s is %s, not waiting for review: it cannot be %s", a->id,
                                         dawn_status_name(a->status), verb);
        return r;
}

/* Proposal ids are "P<n>", alert ids "A<n>": the id says which queue it is in. */
static bool is_proposal(const char *id)
{
        return id && id[0] == 'P';
}

static int load_proposal(const struct dawn_intake *in, const char *id, struct dawn_proposal *p, const char *verb,
                         struct dawn_input_error *err)
{
        int r = dawn_store_load_proposal(in->store, id, p);
        if (r == 0)
                return dawn_input_error_set(err, "id", "no proposal with id '%.24s'", id);
        if (r > 0 && strcmp(p->status, "pending") != 0)
                return dawn_input_error_set(err, "id", "proposal %s is %s, not waiting for review: it cannot be %s", p->id,
                                            p->status, verb);
        return r < 0 ? r : 0;
}

/* The rise goes ahead: the held report counts from now on, the alert is
 * graded again, and if that raises it, recipients get a new revision. */
static int approve_proposal(const struct dawn_intake *in, const char *id, struct dawn_alert *result,
                            struct dawn_input_error *err)
{
        struct dawn_proposal p;
        struct dawn_alert report;
        dawn_alert_init(&report);
        int r = load_proposal(in, id, &p, "approved", err);
        if (r == 0)
                r = load_existing(in, p.alert_id, result, err);
        if (r == 0 && result->status != DAWN_STATUS_ACTIVE)
                r = dawn_input_error_set(err, "id", "alert %s is %s: proposal %s has nothing left to raise",
                                         result->id, dawn_status_name(result->status), p.id);
        if (r == 0 && (r = dawn_store_corroboration_report(in->store, p.corroboration, &report)) == 0)
                r = -EIO; /* the proposal names a row the store must have */
        if (r == 1)
                r = dawn_store_decide_proposal(in->store, &p, "approved", in->actor, NULL, in->now);
        enum dawn_grade before = result->grade;
        if (r == 0 && result->type == DAWN_TYPE_CLUSTER) {
                r = dawn_store_cluster_add_reports(in->store, result->id, 1);
                if (r == 0)
                        r = absorb_report(result, &report);
                if (r == 0)
                        r = cluster_summary(in, result);
                if (r == 0)
                        result->expires_at = in->now + (int64_t)in->config->cluster_window_usec;
        } else if (r == 0) {
                r = add_source(result, p.source);
        }
        if (r == 0)
                r = regrade(in, result);
        if (r == 0) {
                result->updated_at = in->now;
                r = save_corroborated(in, result, before);
        }
        if (r == 0) {
                char detail[200];
                snprintf(detail, sizeof(detail), "proposal %s from %.64s approved: grade %s -> %s", p.id, p.source,
                         dawn_grade_name(before), dawn_grade_name(result->grade));
                r = dawn_store_audit(in->store, in->actor, "approve", result->id, detail, in->now);
        }
        if (r == 0)
                dawn_metrics_count(DAWN_M_REVIEW_DECISIONS, "approved", NULL);
        dawn_alert_clear(&report);
        return r;
}

/* The rise is turned down: the report stays recorded, held for good; the
 * alert is as it was. */
static int reject_proposal(const struct dawn_intake *in, const char *id, const char *reason, struct dawn_alert *result,
                           struct dawn_input_error *err)
{
        struct dawn_proposal p;
        int r = load_proposal(in, id, &p, "rejected", err);
        if (r == 0)
                r = load_existing(in, p.alert_id, result, err);
        if (r == 0)
                r = dawn_store_decide_proposal(in->store, &p, "rejected", in->actor, reason, in->now);
        if (r == 0) {
                char detail[DAWN_MAX_SUMMARY_CHARS * 4 + 64];
                snprintf(detail, sizeof(detail), "proposal %s rejected: %s", p.id, reason);
                r = dawn_store_audit(in->store, in->actor, "reject", result->id, detail, in->now);
        }
        if (r == 0)
                dawn_metrics_count(DAWN_M_REVIEW_DECISIONS, "rejected", NULL);
        return r;
}

int dawn_intake_approve(const struct dawn_intake *in, const char *id, struct dawn_alert *result,
                        struct dawn_input_error *err)
{
        if (is_proposal(id))
                return approve_proposal(in, id, result, err);
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
        if (r == 0 && is_proposal(id))
                return reject_proposal(in, id, reason, result, err);
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
