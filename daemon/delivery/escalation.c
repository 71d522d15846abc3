#include "escalation.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

int dawn_escalation_start(struct dawn_store *s, const struct dawn_config *c, const struct dawn_alert *a,
                          const struct dawn_route *route, int64_t now)
{
        if (a->status != DAWN_STATUS_ACTIVE || !(c->escalation_grades & DAWN_GRADE_BIT(a->grade)))
                return 0;
        for (size_t i = 0; i < route->n; i++) {
                const char *id = route->v[i].subscriber;
                /* the route has a target per channel and recipient: the clock starts once per subscriber */
                if (!*id || (i > 0 && strcmp(route->v[i - 1].subscriber, id) == 0))
                        continue;
                const struct dawn_subscriber *sub = dawn_config_subscriber(c, id);
                if (!dawn_config_escalates(c, sub, a->grade))
                        continue;
                int r = dawn_store_start_escalation(s, a->id, id, now + (int64_t)sub->escalate_after_usec, now);
                if (r < 0)
                        return r;
        }
        return 0;
}

int dawn_escalation_stop(struct dawn_store *s, const char *alert_id, const char *why, int64_t now)
{
        int r = dawn_store_stop_escalations(s, alert_id, why, now);
        return r < 0 ? r : 0;
}

int dawn_escalation_acked(struct dawn_store *s, const char *alert_id, const char *subscriber, const char *by,
                          int64_t now)
{
        int r = dawn_store_decide_escalation(s, alert_id, subscriber, "acknowledged", by, now);
        return r < 0 ? r : 0;
}

/* The outbox rows for one escalate_to subscriber, on each of its channels. */
static int tell(struct dawn_store *s, const struct dawn_config *c, const struct dawn_alert *a,
                const struct dawn_subscriber *to, const char *about, int64_t now)
{
        int r = 0;
        for (size_t i = 0; r >= 0 && i < to->n_sms; i++) {
                r = dawn_store_add_purpose_delivery(s, a->id, a->revision, to->id, DAWN_CHANNEL_SMS, to->sms[i],
                                                    "escalation", about, now);
                /* a number that replied STOP is shown as not told, as for the alert itself */
                if (r >= 0 && (r = dawn_store_opted_out(s, to->sms[i])) == 1)
                        r = dawn_store_hold_opted_out(s, to->sms[i], now);
        }
        for (size_t i = 0; r >= 0 && i < to->n_email; i++)
                r = dawn_store_add_purpose_delivery(s, a->id, a->revision, to->id, DAWN_CHANNEL_EMAIL, to->email[i],
                                                    "escalation", about, now);
        if (r >= 0 && to->mqtt && dawn_channel_configured(c, DAWN_CHANNEL_MQTT)) {
                char *topic = NULL;
                if (asprintf(&topic, "%s/subscribers/%s/escalations/%s", c->mqtt.topic_prefix, to->id, a->id) < 0)
                        return -ENOMEM;
                r = dawn_store_add_purpose_delivery(s, a->id, a->revision, to->id, DAWN_CHANNEL_MQTT, topic,
                                                    "escalation", about, now);
                free(topic);
        }
        return r < 0 ? r : 0;
}

int dawn_escalation_decide(struct dawn_store *s, const struct dawn_config *c, const struct dawn_escalation_row *row,
                           int64_t now)
{
        char by[128];
        int r = dawn_store_first_ack(s, row->alert_id, row->subscriber, by, sizeof(by), NULL);
        if (r != 0)
                return r < 0 ? r : dawn_escalation_acked(s, row->alert_id, row->subscriber, by, now);
        struct dawn_alert a;
        dawn_alert_init(&a);
        r = dawn_store_load_alert(s, row->alert_id, &a);
        if (r <= 0 || a.status != DAWN_STATUS_ACTIVE) {
                /* ended without passing through intake's stop (it should not): stopped all the same */
                const char *why = r == 1 && a.status == DAWN_STATUS_EXPIRED ? "expired" : "cancelled";
                dawn_alert_clear(&a);
                if (r >= 0)
                        r = dawn_store_decide_escalation(s, row->alert_id, row->subscriber, "stopped", why, now);
                return r < 0 ? r : 0;
        }
        const struct dawn_subscriber *sub = dawn_config_subscriber(c, row->subscriber);
        if (!(c->escalation_grades & DAWN_GRADE_BIT(a.grade))) {
                /* downgraded (a warning, say), or escalation.grades reloaded, since the clock
                 * started: escalation is for the escalating grades, so nobody is woken for it.
                 * Decided only now, so an alert upgraded again meanwhile goes on waiting. */
                char why[48];
                snprintf(why, sizeof(why), "grade %s does not escalate", dawn_grade_name(a.grade));
                r = dawn_store_decide_escalation(s, row->alert_id, row->subscriber, "stopped", why, now);
                if (r >= 0)
                        log_alert(LOG_INFO, row->alert_id, "alert %s: not escalated for %s: %s", row->alert_id,
                                  row->subscriber, why);
                dawn_alert_clear(&a);
                return r < 0 ? r : 0;
        }
        cJSON *told = cJSON_CreateArray();
        char names[512] = "";
        size_t len = 0;
        for (size_t i = 0; r >= 0 && told && sub && i < sub->n_escalate_to; i++) {
                /* a reload may have removed one since the clock started: the others are still told */
                const struct dawn_subscriber *to = dawn_config_subscriber(c, sub->escalate_to[i]);
                if (!to)
                        continue;
                r = tell(s, c, &a, to, row->subscriber, now);
                cJSON_AddItemToArray(told, cJSON_CreateString(to->id));
                if (len < sizeof(names))
                        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? ", " : "", to->id);
        }
        char *detail = told ? cJSON_PrintUnformatted(told) : NULL;
        if (r >= 0 && !detail)
                r = -ENOMEM;
        if (r >= 0 && cJSON_GetArraySize(told) == 0) {
                /* nobody left to tell (the config changed): say so rather than claim an escalation,
                 * and in the log: an escalation that does not happen is not silent */
                r = dawn_store_decide_escalation(s, row->alert_id, row->subscriber, "stopped", "not configured", now);
                if (r >= 0)
                        log_alert(LOG_WARNING, row->alert_id,
                                  "alert %s: %s not escalated: the configuration (reloaded since its clock started) "
                                  "names no escalate_to subscriber for it",
                                  row->alert_id, row->subscriber);
                r = r < 0 ? r : 0;
        } else if (r >= 0) {
                r = dawn_store_decide_escalation(s, row->alert_id, row->subscriber, "escalated", detail, now);
                char audit[700];
                snprintf(audit, sizeof(audit), "not acknowledged by %s; told %s", row->subscriber, names);
                if (r >= 0)
                        r = dawn_store_audit(s, "dawnd (escalation)", "escalate", row->alert_id, audit, now);
                if (r >= 0) {
                        log_alert(LOG_WARNING, row->alert_id, "alert %s: not acknowledged by %s; escalated to %s",
                                  row->alert_id, row->subscriber, names);
                        r = 1;
                }
        }
        free(detail);
        cJSON_Delete(told);
        dawn_alert_clear(&a);
        return r;
}

static int seen_one(enum dawn_channel_kind channel, enum dawn_delivery_state state, void *ud)
{
        dawn_escalation_seen_add(ud, channel, state);
        return 0;
}

int dawn_escalation_facts(struct dawn_store *s, const struct dawn_config *c, const struct dawn_alert *a,
                          const char *about, struct dawn_escalation_facts *f, char *buf, size_t size)
{
        struct dawn_escalation_seen seen = { 0 };
        int64_t started = 0, decided = 0;
        int r = dawn_store_load_escalation(s, a->id, about, &started, &decided);
        if (r >= 0)
                r = dawn_store_delivery_states(s, a->id, about, seen_one, &seen);
        if (r < 0)
                return r;
        dawn_escalation_phrase(&seen, buf, size);
        const struct dawn_subscriber *sub = dawn_config_subscriber(c, about);
        *f = (struct dawn_escalation_facts){
                .alert_id = a->id, .grade = a->grade, .about = about,
                .name = sub && sub->name ? sub->name : about, .kind = sub ? sub->kind : NULL,
                .after_usec = decided > started ? decided - started : 0, .deliveries = buf, .summary = a->summary,
        };
        return 0;
}

/* ---- the timer ---- */

struct dawn_escalator {
        sd_event_source *timer;     /* CLOCK_REALTIME, at the earliest waiting due_at */
        struct dawn_store *store;
        struct dawn_commit *commit;
        struct dawn_config *const *config;
};

void dawn_escalator_schedule(struct dawn_escalator *e)
{
        if (!e)
                return;
        int64_t t = dawn_store_next_escalation(e->store);
        if (t > 0) {
                sd_event_source_set_time(e->timer, (uint64_t)t);
                sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
        } else {
                sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
        }
}

/* Each due escalation is a write of its own on the one write path, like
 * an expiry: one that fails leaves the others alone and is tried again. */
static int on_due(sd_event_source *source, uint64_t usec, void *userdata)
{
        struct dawn_escalator *e = userdata;
        struct dawn_escalation_row rows[DAWN_ESCALATION_BATCH];
        int64_t now = dawn_now_usec();
        (void)source;
        (void)usec;
        /* several nodes: one decides the deadlines due, the others find them decided */
        int held = dawn_commit_try_job(e->commit, DAWN_JOB_ESCALATION);
        if (held <= 0) {
                if (held < 0)
                        log_error_errno(held, "escalation: %s", dawn_store_errmsg(e->store));
                sd_event_source_set_time(e->timer, (uint64_t)(now + (int64_t)DAWN_USEC_PER_SEC));
                sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
                return 0;
        }
        int n = dawn_store_due_escalations(e->store, now, rows, DAWN_ESCALATION_BATCH);
        if (n < 0)
                log_error_errno(n, "escalation: cannot read due escalations: %s", dawn_store_errmsg(e->store));
        int failed = 0;
        for (int i = 0; i < n; i++) {
                int r = dawn_commit_begin(e->commit);
                if (r == 0)
                        r = dawn_commit_end(e->commit, dawn_escalation_decide(e->store, *e->config, &rows[i], now));
                if (r == 1)
                        dawn_metrics_count(DAWN_M_ESCALATIONS, NULL, NULL);
                else if (r < 0) {
                        failed++;
                        log_error_errno(r, "escalation: alert %s, subscriber %s: %s", rows[i].alert_id,
                                        rows[i].subscriber, dawn_store_errmsg(e->store));
                }
        }
        /* the after-write hook schedules again once these are committed; a failed one
         * is tried again a second later rather than at once, in a loop. What the store
         * says now is not yet durable: if the batch's COMMIT fails (a full disk) the
         * decisions roll back to 'waiting' and no after-write hook runs, so a timer
         * armed from them would leave those escalations waiting until some other write
         * happened to come. A second later is the fallback; a commit re-arms it sooner. */
        if (failed || (n > 0 && dawn_commit_is_open(e->commit))) {
                sd_event_source_set_time(e->timer, (uint64_t)(now + (int64_t)DAWN_USEC_PER_SEC));
                sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
        } else {
                dawn_escalator_schedule(e);
        }
        return 0;
}

int dawn_escalator_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                       struct dawn_config *const *config, struct dawn_escalator **out)
{
        struct dawn_escalator *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        *e = (struct dawn_escalator){ .store = store, .commit = commit, .config = config };
        int r = sd_event_add_time(loop, &e->timer, CLOCK_REALTIME, UINT64_MAX, 0, on_due, e);
        if (r < 0) {
                free(e);
                return r;
        }
        sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
        *out = e;
        return 0;
}

struct dawn_escalator *dawn_escalator_free(struct dawn_escalator *e)
{
        if (e) {
                sd_event_source_disable_unref(e->timer);
                free(e);
        }
        return NULL;
}
