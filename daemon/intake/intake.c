#include "intake.h"
#include "public.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escalation.h"
#include "grade.h"
#include "log.h"
#include "metrics.h"
#include "route.h"

static void take_grading(struct dawn_alert *a, struct dawn_grading *g)
{
        a->grade = g->grade;
        dawn_strv_clear(&a->grade_reasons);
        a->grade_reasons = g->reasons;
        g->reasons = (struct dawn_strv){ 0 };
}

static void free_alerts(struct dawn_alert *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                dawn_alert_clear(&v[i]);
        free(v);
}

/* Appends a copy of a to the n alerts at *v (which it may move). */
static int append_alert(struct dawn_alert **v, size_t *n, const struct dawn_alert *a)
{
        struct dawn_alert *w = realloc(*v, (*n + 1) * sizeof(*w));
        if (!w)
                return -ENOMEM;
        *v = w;
        dawn_alert_init(&w[*n]);
        int r = dawn_alert_copy(&w[*n], a);
        if (r == 0)
                (*n)++;
        else
                dawn_alert_clear(&w[*n]); /* what the copy got before it failed */
        return r;
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
                if (n < DAWN_CLUSTER_NAMED_REPORTS)
                        r = append_alert(&first, &n, joining);
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
 * count. What merged reports say together is one row (count_merged keeps it
 * as each joins), so grading the 2,000th costs what grading the second did. */
static int regrade_with(const struct dawn_intake *in, struct dawn_alert *a, const struct dawn_alert *joining)
{
        if (a->type == DAWN_TYPE_CLUSTER && a->id[0])
                return regrade_cluster(in, a, joining);
        struct dawn_alert v[2];
        size_t n = 0;
        dawn_alert_init(&v[0]);
        dawn_alert_init(&v[1]);
        /* graded before it has an id, a new alert has nothing merged into it yet */
        int r = a->id[0] ? dawn_store_load_merged(in->store, a->id, &v[0], NULL) : 0;
        if (r == 1) {
                n = 1;
                r = 0;
        }
        if (r == 0 && joining && (r = dawn_alert_copy(&v[n], joining)) == 0)
                n++;
        struct dawn_grading g = { 0 };
        if (r == 0)
                r = dawn_grade_alert(a, v, n, in->config, &g);
        if (r == 0)
                take_grading(a, &g);
        dawn_grading_clear(&g);
        dawn_alert_clear(&v[0]);
        dawn_alert_clear(&v[1]);
        return r;
}

/* The report counts towards alert_id (not a cluster: those keep their own
 * sums) from now on: folded into what its merged reports say together. */
static int count_merged(const struct dawn_intake *in, const char *alert_id, const struct dawn_alert *report)
{
        struct dawn_alert sum;
        int64_t reports = 0;
        dawn_alert_init(&sum);
        int r = dawn_store_load_merged(in->store, alert_id, &sum, &reports);
        size_t words = sum.adulterants.n;
        if (r >= 0)
                r = dawn_grade_fold(&sum, report);
        /* said once per alert, when the set fills: merged reports share the alert's fingerprint, so
         * what no longer fits is only other spellings of words the alert itself names */
        if (r == 0 && words < DAWN_MAX_LIST_ITEMS && sum.adulterants.n == DAWN_MAX_LIST_ITEMS)
                log_alert(LOG_NOTICE, alert_id,
                          "alert %s: its merged reports spell its adulterants %d ways; further spellings are not kept",
                          alert_id, DAWN_MAX_LIST_ITEMS);
        if (r == 0)
                r = dawn_store_save_merged(in->store, alert_id, &sum, reports + 1);
        dawn_alert_clear(&sum);
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
                        bool reached, bool escalation_only, void *userdata)
{
        struct withdraw_ctx *w = userdata;
        if (in_route(w->route, subscriber, channel, recipient))
                return 0;
        /* someone who heard of the alert only because a site did not acknowledge it is told
         * when it is withdrawn (a duty officer must not keep chasing a cancelled batch), not
         * of each later revision; their MQTT escalation was never retained, so nothing to clear */
        if (escalation_only && (w->route || channel == DAWN_CHANNEL_MQTT))
                return 0;
        /* public texts come and go by their own rules (dawn_public_fan_out) */
        if (strcmp(subscriber, DAWN_PUBLIC_SUBSCRIBER) == 0)
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
        /* escalation clocks: started by the first escalating revision queued, stopped by the end */
        if (r == 0 && live)
                r = dawn_escalation_start(in->store, in->config, a, &route, in->now);
        else if (r == 0)
                r = dawn_escalation_stop(in->store, a->id,
                                         a->status == DAWN_STATUS_EXPIRED ? "expired" : "cancelled", in->now);
        dawn_route_clear(&route);
        if (r == 0)
                r = dawn_public_fan_out(in->store, in->config, a, in->now);
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
                dawn_strv_clear(&n.sources);
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
 * nothing reaches recipients until an officer approves it. With replaces
 * (a pending proposal of source's whose claim this one outgrows), report
 * is that proposal's held report with the new claims folded in: it moves to
 * the new proposal, and the old one is closed as superseded, so that one
 * proposal from a source waits at a time. */
static int propose(const struct dawn_intake *in, const struct dawn_alert *alert, const struct dawn_alert *report,
                   const char *source, const struct dawn_alert *proposed, const struct dawn_proposal *replaces)
{
        struct dawn_proposal p = { 0 };
        snprintf(p.alert_id, sizeof(p.alert_id), "%s", alert->id);
        snprintf(p.source, sizeof(p.source), "%s", source);
        p.grade_from = alert->grade;
        p.grade_to = proposed->grade;
        p.created_at = in->now;
        int r = dawn_store_next_proposal_id(in->store, p.id, &p.revision);
        if (r == 0 && replaces) {
                char why[160];
                snprintf(why, sizeof(why), "replaced by %s: a later report from %.64s claims more", p.id, source);
                p.corroboration = replaces->corroboration;
                r = dawn_store_update_held_corroboration(in->store, p.corroboration, report, p.id, in->now);
                /* its review notice, if still waiting, goes no further: the new one says more */
                if (r == 0)
                        r = dawn_store_decide_proposal(in->store, replaces, "superseded", "dawnd", why, in->now);
        } else if (r == 0) {
                r = dawn_store_add_held_corroboration(in->store, alert->id, source, report, p.id, in->now,
                                                      &p.corroboration);
        }
        char *json = r == 0 ? proposal_json(in, &p, alert, report, proposed) : NULL;
        if (r == 0 && !json)
                r = -ENOMEM;
        if (r == 0)
                r = dawn_store_add_proposal(in->store, &p, json);
        free(json);
        if (r == 0)
                r = review_notices_at(in, p.id, alert->id, p.revision, alert->area);
        if (r == 0) {
                char detail[240];
                snprintf(detail, sizeof(detail), "report from %.64s would raise the grade %s -> %s: held for review as %s%s%s",
                         source, dawn_grade_name(p.grade_from), dawn_grade_name(p.grade_to), p.id,
                         replaces ? ", replacing " : "", replaces ? replaces->id : "");
                r = dawn_store_audit(in->store, in->actor, "propose", alert->id, detail, in->now);
        }
        if (r == 0)
                log_alert(LOG_NOTICE, alert->id, "alert %s: a report from %s would raise it %s -> %s; held for review as %s%s%s",
                          alert->id, source, dawn_grade_name(p.grade_from), dawn_grade_name(p.grade_to), p.id,
                          replaces ? ", replacing " : "", replaces ? replaces->id : "");
        return r;
}

/* source says again what its pending proposal p says, or more: the claims
 * fold into the one proposal (the largest counts, the strongest evidence,
 * the latest words), so that a reporter repeating a claim, however often,
 * leaves one proposal and one review notice per grade it would reach. If
 * the claims now reach a higher grade than p proposes, a new proposal with
 * a notice of its own replaces p; if not, p is updated where it waits, and
 * nobody is told again. */
static int fold_into_proposal(const struct dawn_intake *in, const struct dawn_alert *alert,
                              const struct dawn_alert *report, struct dawn_proposal *p)
{
        struct dawn_alert held, claim, t;
        dawn_alert_init(&held);
        dawn_alert_init(&claim);
        dawn_alert_init(&t);
        int r = dawn_store_corroboration_report(in->store, p->corroboration, &held);
        if (r == 0)
                r = -EIO; /* the proposal names a row the store must have */
        if (r == 1)
                r = dawn_alert_copy(&claim, report);
        if (r == 0)
                r = dawn_grade_fold(&claim, &held);
        if (r == 0)
                r = dawn_alert_copy(&t, alert);
        if (r == 0)
                r = add_source(&t, p->source);
        if (r == 0)
                r = regrade_with(in, &t, &claim);
        if (r == 0 && t.grade > p->grade_to) {
                r = propose(in, alert, &claim, p->source, &t, p);
        } else if (r == 0) {
                p->grade_from = alert->grade;
                p->grade_to = t.grade;
                char *json = proposal_json(in, p, alert, &claim, &t);
                r = json ? dawn_store_update_held_corroboration(in->store, p->corroboration, &claim, p->id, in->now)
                         : -ENOMEM;
                if (r == 0)
                        r = dawn_store_update_proposal(in->store, p, json);
                free(json);
                if (r == 0) {
                        char detail[200];
                        snprintf(detail, sizeof(detail), "report from %.64s repeats proposal %s (%s -> %s): folded into it",
                                 p->source, p->id, dawn_grade_name(p->grade_from), dawn_grade_name(p->grade_to));
                        r = dawn_store_audit(in->store, in->actor, "propose", alert->id, detail, in->now);
                }
        }
        dawn_alert_clear(&held);
        dawn_alert_clear(&claim);
        dawn_alert_clear(&t);
        return r;
}

/* A reporter's corroboration of an active alert: 1 if it would raise the
 * grade (then held as a proposal, or folded into the one its source has
 * waiting), 0 if not (recorded as any other). */
static int hold_rise(const struct dawn_intake *in, const struct dawn_alert *alert, const struct dawn_alert *report)
{
        struct dawn_alert t;
        struct dawn_proposal p;
        dawn_alert_init(&t);
        int r = dawn_alert_copy(&t, alert);
        if (r == 0)
                r = add_source(&t, in->source);
        if (r == 0)
                r = regrade_with(in, &t, report);
        if (r == 0 && t.grade > alert->grade) {
                r = dawn_store_pending_proposal(in->store, alert->id, in->source, &p);
                if (r == 1)
                        r = fold_into_proposal(in, alert, report, &p);
                else if (r == 0)
                        r = propose(in, alert, report, in->source, &t, NULL);
                if (r == 0)
                        r = 1;
        }
        dawn_alert_clear(&t);
        return r;
}

/* After a corroboration: recipients hear again (a new revision) only if the
 * grade rose; otherwise the sources list grows, but nothing they see. */
static int save_corroborated(const struct dawn_intake *in, struct dawn_alert *a, enum dawn_grade before,
                             bool widened)
{
        if (a->grade > before || widened) {
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

/* ---- an issuer vouches for its own report, not for reporters' ----
 *
 * When an issuer's report sends out what reporters alone had said (it
 * confirms a pending report, confirms a pending cluster, or completes a
 * new cluster with theirs), the alert goes out as if the issuer's report
 * (and any other vouched one: an issuer's, or one an officer approved) had
 * come first and each unvouched report just after, from its own source:
 * the revision recipients get is graded, counted and worded on vouched
 * reports alone, and each unvouched report is then what a reporter's
 * report on an active alert always is: held as a proposal for an officer
 * (dawnctl pending, approve P<n>) if it would raise the grade, counted if
 * not (in the stored alert, and in a later revision if something else
 * raises it). So the outcome does not depend on who spoke first, and a
 * reporter's numbers, adulterants or grade never go out on an issuer's
 * word. Issuers' own reports go out as before. */

static int merge(const struct dawn_intake *in, const char *id, const struct dawn_alert *report,
                 struct dawn_alert *result);

/* An issuer's (or an officer's) report is vouched for; a reporter's is not.
 * A corroboration says which it was when it came: a reporter's is stored
 * pending, as its own alert would be (dawn_intake_issue), so that what counts does not
 * hang on the source still being in the configuration with the same role.
 * Rows kept before that said nothing: their source's role now decides. */
static bool corroboration_vouched(const struct dawn_intake *in, const char *source, const struct dawn_alert *report)
{
        if (report->status == DAWN_STATUS_PENDING)
                return false;
        const struct dawn_source *src = dawn_config_source(in->config, source);
        return !src || src->role != DAWN_ROLE_REPORTER;
}

/* One of an alert's corroborations as dawn_store_corroborations_json lists
 * it: *source (borrowed from c) and *report (to clear); 0, or -EIO if the
 * store's copy does not read back. */
static int corroboration_of(const cJSON *c, const char **source, struct dawn_alert *report)
{
        const cJSON *s = cJSON_GetObjectItem(c, "source");
        *source = cJSON_IsString(s) ? s->valuestring : NULL;
        if (!*source || dawn_alert_from_json(cJSON_GetObjectItem(c, "report"), report) < 0)
                return -EIO;
        return 0;
}

/* report from source, offered to the active alert id as a reporter's report
 * arriving now: held as a proposal if it would raise the grade. */
static int offer_again(const struct dawn_intake *in, const char *id, const char *source,
                       const struct dawn_alert *report)
{
        struct dawn_intake as = *in;
        struct dawn_alert now, again;
        as.source = source;
        as.role = DAWN_ROLE_REPORTER;
        dawn_alert_init(&now);
        dawn_alert_init(&again);
        /* marked as a reporter's, as dawn_intake_issue marks it when it first came */
        int r = dawn_alert_copy(&again, report);
        again.status = DAWN_STATUS_PENDING;
        if (r == 0)
                r = merge(&as, id, &again, &now);
        dawn_alert_clear(&again);
        dawn_alert_clear(&now);
        return r;
}

/* A pending report (pending: reporters alone have said it) confirmed by an
 * issuer's matching report goes out as the issuer reported it, under the
 * pending alert's id; what the reporters said (the report that made the
 * alert and those merged into it) is offered again after it. */
static int confirm_report(const struct dawn_intake *in, const struct dawn_alert *report, struct dawn_alert *result)
{
        struct dawn_alert said, out;
        char *first = NULL; /* who made the first report */
        dawn_alert_init(&said);
        dawn_alert_init(&out);
        cJSON *corr = cJSON_CreateArray(), *c;
        int r = corr ? dawn_store_corroborations_json(in->store, result->id, corr) : -ENOMEM;
        /* the counted rows and their running totals go together: what was counted is counted again below */
        if (r == 0)
                r = dawn_store_drop_counted_corroborations(in->store, result->id);
        /* the first report as its reporter made it: the alert's own fields are only ever that
         * report's (merged reports count in the totals, not in them); what the daemon added to
         * it (id, grade, times, the sources merged since) is not the reporter's */
        if (r == 0 && result->sources.n && !(first = strdup(result->sources.v[0])))
                r = -ENOMEM;
        if (r == 0)
                r = dawn_alert_copy(&said, result);
        if (r == 0) {
                said.id[0] = '\0';
                said.revision = 0;
                said.status = DAWN_STATUS_PENDING;
                said.grade = DAWN_GRADE_LOGGED;
                said.issued_at = said.updated_at = 0;
                dawn_strv_clear(&said.grade_reasons);
                dawn_strv_clear(&said.sources);
                r = dawn_alert_copy(&out, report);
        }
        /* the alert keeps its id, its history and its reviewers' notices; what it says is the issuer's */
        if (r == 0) {
                memcpy(out.id, result->id, sizeof(out.id));
                out.revision = result->revision + 1;
                out.status = DAWN_STATUS_ACTIVE;
                out.issued_at = result->issued_at;
                out.updated_at = in->now;
                if (!out.expires_at)
                        out.expires_at = in->now + (int64_t)in->config->expiry_usec[out.type];
                dawn_strv_clear(&out.sources);
                r = add_source(&out, in->source);
        }
        /* a vouched corroboration (none, as a rule: an issuer's would have confirmed it) counts at
         * once, in the totals as well as in the rows */
        size_t unvouched = first ? 1 : 0;
        cJSON_ArrayForEach(c, corr) {
                const char *source = NULL;
                struct dawn_alert rep;
                dawn_alert_init(&rep);
                if (r == 0)
                        r = corroboration_of(c, &source, &rep);
                if (r == 0 && !cJSON_GetObjectItem(c, "proposal") && corroboration_vouched(in, source, &rep)) {
                        r = dawn_store_add_corroboration(in->store, out.id, source, &rep, in->now);
                        if (r == 0 && out.type != DAWN_TYPE_CLUSTER)
                                r = count_merged(in, out.id, &rep);
                        if (r == 0)
                                r = add_source(&out, source);
                } else if (r == 0 && !cJSON_GetObjectItem(c, "proposal")) {
                        unvouched++;
                }
                dawn_alert_clear(&rep);
        }
        if (r == 0)
                r = regrade(in, &out);
        if (r == 0)
                r = save_revision(in, &out);
        if (r == 0) {
                char detail[200];
                snprintf(detail, sizeof(detail),
                         "confirmed by a report from an issuer: out as %.64s reported it, grade %s;"
                         " %zu report%s from reporters offered again after it",
                         in->source, dawn_grade_name(out.grade), unvouched, unvouched == 1 ? "" : "s");
                r = dawn_store_audit(in->store, in->actor, "approve", out.id, detail, in->now);
        }
        /* then what nobody vouched for, each from its own source, oldest first */
        if (r == 0 && first)
                r = offer_again(in, out.id, first, &said);
        cJSON_ArrayForEach(c, corr) {
                const char *source = NULL;
                struct dawn_alert rep;
                dawn_alert_init(&rep);
                if (r == 0 && !cJSON_GetObjectItem(c, "proposal"))
                        r = corroboration_of(c, &source, &rep);
                if (r == 0 && source && !corroboration_vouched(in, source, &rep))
                        r = offer_again(in, out.id, source, &rep);
                dawn_alert_clear(&rep);
        }
        /* the issuer hears of the alert as it now stands */
        if (r == 0) {
                dawn_alert_clear(result);
                dawn_alert_init(result);
                r = dawn_store_load_alert(in->store, out.id, result);
                r = r == 1 ? 0 : r < 0 ? r : -ENOENT;
        }
        cJSON_Delete(corr);
        free(first);
        dawn_alert_clear(&said);
        dawn_alert_clear(&out);
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
        /* an issuer saying the same thing is the confirmation the review waited for */
        if (result->status == DAWN_STATUS_PENDING && in->role == DAWN_ROLE_ISSUER)
                return confirm_report(in, report, result);
        enum dawn_grade before = result->grade;
        /* the dedup window runs from the latest report, so a batch reported every day stays one alert */
        result->updated_at = in->now;
        r = dawn_store_add_corroboration(in->store, id, in->source, report, in->now);
        if (r == 0 && result->type != DAWN_TYPE_CLUSTER)
                r = count_merged(in, id, report);
        if (r == 0)
                r = add_source(result, in->source);
        if (r == 0)
                r = regrade(in, result);
        if (r < 0)
                return r;
        /* a source that may publish (check_scope let its report through) and asks for
         * the public to be told is heard when its report matches an alert that was not
         * public, as it would have been had it come first; scope only ever widens here */
        bool widened = in->role == DAWN_ROLE_ISSUER && report->scope == DAWN_SCOPE_PUBLIC &&
                       result->scope != DAWN_SCOPE_PUBLIC && result->status == DAWN_STATUS_ACTIVE;
        if (widened)
                result->scope = DAWN_SCOPE_PUBLIC;

        char detail[160];
        snprintf(detail, sizeof(detail), "report from %s corroborates; grade %s -> %s%s", in->source,
                 dawn_grade_name(before), dawn_grade_name(result->grade), widened ? "; scope public" : "");
        r = dawn_store_audit(in->store, in->actor, "corroborate", id, detail, in->now);
        if (r < 0)
                return r;
        return save_corroborated(in, result, before, widened);
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
static int confirm_cluster(const struct dawn_intake *in, struct dawn_alert *cluster, const struct dawn_alert *report);

static int grow_cluster(const struct dawn_intake *in, struct dawn_alert *cluster, const struct dawn_alert *report)
{
        enum dawn_grade before = cluster->grade;
        int r = 0;
        /* it waited only because reporters alone raised it: an issuer's report sends it out, on what it vouches for */
        if (cluster->status == DAWN_STATUS_PENDING && in->role == DAWN_ROLE_ISSUER && !in->config->cluster_review)
                return confirm_cluster(in, cluster, report);
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
                        r = propose(in, cluster, report, report_source(in, report), &t, NULL);
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
        return save_corroborated(in, cluster, before, false);
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

/* The cluster c (its id, area, revision and issue time set, its sums empty)
 * stands on reports: on every one of them when it goes to review (the
 * officer weighs them all), on the vouched ones only when it goes out (see
 * "an issuer vouches for its own report"). It is graded on those, named by
 * its first few, saved as a new revision, and they count towards it;
 * *counted says how many. */
static int stand_cluster(const struct dawn_intake *in, struct dawn_alert *c, const struct dawn_alert *reports,
                         size_t n, bool review, size_t *counted)
{
        struct dawn_alert named[DAWN_CLUSTER_NAMED_REPORTS]; /* shallow copies, only read */
        size_t k = 0;
        int r = 0;
        for (size_t i = 0; r == 0 && i < n; i++) {
                if (!review && !vouched(in, &reports[i]))
                        continue;
                r = absorb_report(c, &reports[i]);
                if (k < DAWN_CLUSTER_NAMED_REPORTS)
                        named[k] = reports[i];
                k++;
        }
        if (r == 0)
                r = cluster_summary(in, c);
        if (r == 0) {
                /* graded on the reports in hand: they become its corroborations once it is saved */
                struct dawn_grading g = { 0 };
                r = dawn_grade_cluster(c, named, k < DAWN_CLUSTER_NAMED_REPORTS ? k : DAWN_CLUSTER_NAMED_REPORTS, k,
                                       in->config, &g);
                if (r == 0)
                        take_grading(c, &g);
                dawn_grading_clear(&g);
        }
        if (r == 0) {
                c->status = review ? DAWN_STATUS_PENDING : DAWN_STATUS_ACTIVE;
                c->updated_at = in->now;
                c->expires_at = in->now + (int64_t)in->config->cluster_window_usec;
                r = save_revision(in, c);
        }
        for (size_t i = 0; r == 0 && i < n; i++)
                if (review || vouched(in, &reports[i]))
                        r = join_cluster(in, c->id, &reports[i]);
        if (r == 0)
                r = dawn_store_cluster_add_reports(in->store, c->id, (int64_t)k);
        *counted = k;
        return r;
}

/* After a cluster went out on its vouched reports: each of the others, from
 * its own source, as a reporter's report arriving now (a proposal if it
 * would raise the grade, counted if not). */
static int offer_to_cluster(const struct dawn_intake *in, struct dawn_alert *cluster, const struct dawn_alert *reports,
                            size_t n)
{
        int r = 0;
        for (size_t i = 0; r == 0 && i < n; i++) {
                if (vouched(in, &reports[i]))
                        continue;
                struct dawn_intake as = *in;
                as.source = report_source(in, &reports[i]);
                as.role = DAWN_ROLE_REPORTER;
                r = grow_cluster(&as, cluster, &reports[i]);
        }
        return r;
}

/* Enough overdose reports in one part of the tree within the window: a
 * cluster alert, graded on its own evidence, its first reports named in its
 * reasons, out at once or to review as grading.cluster.review says; to
 * review in any case when no report it stands on is vouched for (a
 * reporter's word alone never reaches recipients). When it goes out, it
 * goes out on its vouched reports, and the others follow as reporters'
 * reports do ("an issuer vouches for its own report"). */
static int raise_cluster(const struct dawn_intake *in, const struct dawn_alert *reports, size_t n, int area)
{
        struct dawn_alert c;
        dawn_alert_init(&c);
        c.type = DAWN_TYPE_CLUSTER;
        c.casualties = 0;
        c.fatalities = 0;
        size_t nvouched = 0, counted = 0;
        for (size_t i = 0; i < n; i++)
                nvouched += vouched(in, &reports[i]);
        bool review = in->config->cluster_review || nvouched == 0;
        int r = (c.area = strdup(in->config->areas[area].id)) ? 0 : -ENOMEM;
        if (r == 0)
                r = dawn_store_next_alert_id(in->store, c.id);
        if (r == 0) {
                c.revision = 1;
                c.issued_at = in->now;
                r = stand_cluster(in, &c, reports, n, review, &counted);
        }
        if (r == 0) {
                char detail[240], held[128] = "";
                if (!review && counted < n)
                        snprintf(held, sizeof(held), ", out on the %zu vouched (%zu from reporters offered after them)",
                                 counted, n - counted);
                int len = snprintf(detail, sizeof(detail), "%s cluster in %s raised from %zu overdose reports%s%s:",
                                   dawn_grade_name(c.grade), c.area, n,
                                   nvouched ? "" : ", all from reporters and not yet reviewed", held);
                name_some(detail, sizeof(detail), len, reports, n);
                r = dawn_store_audit(in->store, "dawnd (cluster detection)", "cluster", c.id, detail, in->now);
        }
        if (r == 0) {
                dawn_metrics_count(DAWN_M_CLUSTERS_RAISED, NULL, NULL);
                log_alert(LOG_NOTICE, c.id, "alert %s: %s overdose cluster in %s raised from %zu reports%s", c.id,
                          dawn_grade_name(c.grade), c.area, n,
                          c.status != DAWN_STATUS_PENDING ? ""
                          : nvouched                      ? ", waiting for review"
                                                          : ", waiting for review (reporters' reports only)");
        }
        if (r == 0 && !review)
                r = offer_to_cluster(in, &c, reports, n);
        dawn_alert_clear(&c);
        return r;
}

/* A cluster that waited because reporters alone raised it, confirmed by an
 * issuer's overdose report: it goes out on that report (and any other
 * vouched one), and the reporters' reports follow it. Reads the reports it
 * had, once: it happens once in a cluster's life. */
static int confirm_cluster(const struct dawn_intake *in, struct dawn_alert *cluster, const struct dawn_alert *report)
{
        struct dawn_alert *v = NULL;
        size_t n = 0, counted = 0;
        int64_t had = dawn_store_cluster_reports(in->store, cluster->id);
        int r = had < 0 ? (int)had : dawn_store_load_corroborations(in->store, cluster->id, &v, &n);
        if (r == 0)
                r = append_alert(&v, &n, report);
        if (r == 0)
                r = dawn_store_drop_counted_corroborations(in->store, cluster->id);
        if (r == 0)
                r = dawn_store_cluster_add_reports(in->store, cluster->id, -had);
        if (r == 0) {
                cluster->casualties = 0;
                cluster->fatalities = 0;
                cluster->evidence = DAWN_EVIDENCE_REPORTED;
                dawn_strv_clear(&cluster->adulterants);
                dawn_strv_clear(&cluster->sold_as);
                dawn_strv_clear(&cluster->sources);
                cluster->revision++;
                r = stand_cluster(in, cluster, v, n, false, &counted);
        }
        if (r == 0) {
                char detail[200];
                snprintf(detail, sizeof(detail),
                         "confirmed by an overdose report from an issuer: out on %zu vouched report%s, grade %s;"
                         " %zu from reporters offered again after it",
                         counted, counted == 1 ? "" : "s", dawn_grade_name(cluster->grade), n - counted);
                r = dawn_store_audit(in->store, in->actor, "approve", cluster->id, detail, in->now);
        }
        if (r == 0)
                r = offer_to_cluster(in, cluster, v, n);
        free_alerts(v, n);
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

/* scope = "public" texts anyone who sent JOIN: only officers (the control
 * socket's "local:" sources, which are never configured source ids) and
 * issuer sources with publish = true may set it; a reporter never can, as
 * its report waits for review and would be public once approved. */
static int check_scope(const struct dawn_intake *in, enum dawn_scope scope, struct dawn_input_error *err)
{
        if (scope != DAWN_SCOPE_PUBLIC)
                return 0;
        const struct dawn_source *src = dawn_config_source(in->config, in->source);
        if (in->role == DAWN_ROLE_ISSUER && (!src || src->publish))
                return 0;
        return dawn_input_error_set(err, "scope",
                                    "scope: %s may not publish to the public (only officers and issuer sources with "
                                    "publish = true may set scope \"public\")",
                                    src ? src->id : "this source");
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
        if (r == 0)
                r = check_scope(in, report.scope, err);
        /* several nodes: what follows looks for the alert or cluster this report joins,
         * and makes one if there is none; one node at a time in an area, or two nodes
         * taking reports of one batch at once would make two */
        if (r == 0)
                r = dawn_store_lock_area(in->store, report.area);
        if (r < 0)
                goto out;
        /* a reporter's report is pending until someone vouches for it, as a corroboration
         * too: stored so, it says so itself when an issuer's report confirms the alert */
        if (in->role == DAWN_ROLE_REPORTER)
                report.status = DAWN_STATUS_PENDING;

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
        if (r == 0 && (seen & DAWN_FIELD_SCOPE))
                r = check_scope(in, change.scope, err);
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
                r = count_merged(in, result->id, &report);
                if (r == 0)
                        r = add_source(result, p.source);
        }
        if (r == 0)
                r = regrade(in, result);
        if (r == 0) {
                result->updated_at = in->now;
                r = save_corroborated(in, result, before, false);
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

/* ---- the outcome's words ---- */

const char *dawn_intake_outcome_word(enum dawn_intake_outcome o, enum dawn_status status)
{
        switch (o) {
        case DAWN_INTAKE_MERGED:
                return "merged";
        case DAWN_INTAKE_DUPLICATE:
                return "duplicate";
        case DAWN_INTAKE_APPROVED:
        case DAWN_INTAKE_PROPOSAL_APPROVED:
        case DAWN_INTAKE_REJECTED:
        case DAWN_INTAKE_PROPOSAL_REJECTED:
                return dawn_intake_outcome_flag(o); /* only dawnctl reviews: its words */
        case DAWN_INTAKE_NEW:
        case DAWN_INTAKE_CHANGED:
                break;
        }
        return status == DAWN_STATUS_PENDING ? "pending" : "new";
}

const char *dawn_intake_outcome_flag(enum dawn_intake_outcome o)
{
        switch (o) {
        case DAWN_INTAKE_MERGED:
                return "merged_into_existing";
        case DAWN_INTAKE_DUPLICATE:
                return "duplicate_of_submission";
        case DAWN_INTAKE_APPROVED:
                return "approved";
        case DAWN_INTAKE_PROPOSAL_APPROVED:
                return "proposal_approved";
        case DAWN_INTAKE_REJECTED:
                return "rejected";
        case DAWN_INTAKE_PROPOSAL_REJECTED:
                return "proposal_rejected";
        case DAWN_INTAKE_NEW:
        case DAWN_INTAKE_CHANGED:
                break;
        }
        return NULL;
}
