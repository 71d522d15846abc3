#include "public.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "public_text.h"
#include "sms_text.h"

struct public_ctx {
        struct dawn_store *store;
        const struct dawn_alert *alert;
        enum dawn_delivery_action action;
        int64_t now;
        /* numbers that already have this revision's words (sorted, for bsearch) */
        char **told;
        size_t n_told;
};

static int by_string(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int note_told(const char *number, void *userdata)
{
        struct public_ctx *p = userdata;
        char **grown = realloc(p->told, (p->n_told + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        p->told = grown;
        if (!(p->told[p->n_told] = strdup(number)))
                return -ENOMEM;
        p->n_told++;
        return 0;
}

static bool public_at(const struct dawn_config *c, const struct dawn_alert *a)
{
        return a->status == DAWN_STATUS_ACTIVE && a->scope == DAWN_SCOPE_PUBLIC && a->grade >= c->public_texts.min_grade;
}

/* The two revisions' public texts are the same words (both read as an update). */
static int same_words(const struct dawn_config *c, const struct dawn_alert *a, struct dawn_alert *prev)
{
        int revision = prev->revision;
        prev->revision = a->revision;
        char *was = dawn_public_text(prev, DAWN_ACTION_PUBLISH, c->sms.max_segments);
        char *now = dawn_public_text(a, DAWN_ACTION_PUBLISH, c->sms.max_segments);
        prev->revision = revision;
        int r = was && now ? strcmp(was, now) == 0 : -ENOMEM;
        free(was);
        free(now);
        return r;
}

/* A public text shows only some of an alert (summary, what was found, how it
 * looks, advice): a revision that changed only the rest (counts, evidence, a
 * grade rise by corroboration, the expiry) would text every member the same
 * words again, at the operator's cost and the members' patience. *since: the
 * first of the revisions just before a that were public in the same area with
 * the same words (0: none); a number one of them reached needs no new text. */
#define SAME_WORDS_MAX_STEPS 64 /* revisions looked back at, at most */

static int same_words_since(struct dawn_store *store, const struct dawn_config *c, const struct dawn_alert *a,
                            int *since)
{
        *since = 0;
        int at = a->revision - 1, r = 0;
        for (int step = 0; r == 0 && at >= 1 && step < SAME_WORDS_MAX_STEPS; step++) {
                char *json[2];
                int n = dawn_store_cap_revisions(store, a->id, at, json);
                if (n <= 0)
                        return n;
                cJSON *o = cJSON_Parse(json[0]);
                struct dawn_alert prev;
                dawn_alert_init(&prev);
                r = o ? dawn_alert_from_json(o, &prev) : -ENOMEM;
                int same = r < 0 ? r : public_at(c, &prev) && prev.area && a->area &&
                                                     strcmp(prev.area, a->area) == 0 ? same_words(c, a, &prev) : 0;
                if (same < 0)
                        r = same;
                else if (same == 0)
                        r = 1; /* the run ends here */
                else {
                        *since = prev.revision;
                        at = prev.revision - 1;
                }
                dawn_alert_clear(&prev);
                cJSON_Delete(o);
                free(json[0]);
                free(json[1]);
        }
        return r < 0 ? r : 0;
}

static int add_one(const char *number, void *userdata)
{
        struct public_ctx *p = userdata;
        if (p->n_told && bsearch(&number, p->told, p->n_told, sizeof(*p->told), by_string))
                return 0;
        int r = dawn_store_add_public_delivery(p->store, p->alert->id, p->alert->revision, number, p->action, p->now);
        /* a member's number is not opted out (JOIN lifts it, STOP leaves): this
         * holds only what a STOP in the same instant would have held */
        if (r == 0 && (r = dawn_store_opted_out(p->store, number)) == 1)
                r = dawn_store_hold_opted_out(p->store, number, p->now);
        return r < 0 ? r : 0;
}

int dawn_public_fan_out(struct dawn_store *store, const struct dawn_config *c, const struct dawn_alert *a,
                        int64_t now)
{
        if (!c->public_texts.enabled || !dawn_channel_configured(c, DAWN_CHANNEL_SMS))
                return 0;
        bool public_now = a->status == DAWN_STATUS_ACTIVE && a->scope == DAWN_SCOPE_PUBLIC &&
                          a->grade >= c->public_texts.min_grade;
        struct public_ctx p = { store, a, DAWN_ACTION_PUBLISH, now, NULL, 0 };
        if (public_now) {
                int area = dawn_config_area_index(c, a->area);
                int since = 0;
                int r = a->revision > 1 ? same_words_since(store, c, a, &since) : 0;
                if (r == 0 && since > 0)
                        r = dawn_store_for_each_public_told(store, a->id, since, note_told, &p);
                if (r == 0 && p.n_told)
                        qsort(p.told, p.n_told, sizeof(*p.told), by_string);
                for (size_t i = 0; r == 0 && area >= 0 && i < c->n_areas; i++)
                        if (dawn_config_areas_related(c, (int)i, area))
                                r = dawn_store_for_each_public_number(store, c->areas[i].id, add_one, &p);
                for (size_t i = 0; i < p.n_told; i++)
                        free(p.told[i]);
                free(p.told);
                return r;
        }
        /* only the end of an alert is told: one that stays in force but is no longer
         * public (its scope or grade lowered) was not cancelled, and what the member was
         * told still holds; its cancellation or expiry reaches them later */
        if (a->revision <= 1 || (a->status != DAWN_STATUS_CANCELLED && a->status != DAWN_STATUS_EXPIRED))
                return 0;
        /* an alert running out needs no text unless the operator asked for one */
        if (a->status == DAWN_STATUS_EXPIRED && !c->expiry_notify)
                return 0;
        p.action = DAWN_ACTION_WITHDRAW;
        return dawn_store_for_each_public_reached(store, a->id, add_one, &p);
}

/* ---- JOIN and AREAS ---- */

#define USEC_PER_DAY (86400LL * 1000000LL)

void dawn_public_areas_reply(const struct dawn_config *c, char *buf, size_t n)
{
        static const char head[] = "DAWN: text JOIN and one of: ";
        static const char tail[] = ". Reply STOP to leave.";
        /* a list too long for one reply is cut, and says so: JOIN takes any area's name */
        static const char cut_tail[] = " and more (JOIN and your town's name). Reply STOP to leave.";
        int max_segments = c->sms.max_segments > 0 ? c->sms.max_segments : 2;
        char name[128], try[1024];
        size_t len = (size_t)snprintf(buf, n, "%s", head);
        bool cut = false;
        for (size_t i = 0; i < c->n_areas && len < n; i++) {
                dawn_config_area_name(c, (int)i, name, sizeof(name));
                /* keep room for the tail: a list cut short still ends properly; and the
                 * reply is a text someone pays for, within sms.max_segments like an alert */
                const char *end = i + 1 == c->n_areas ? tail : cut_tail;
                int w = snprintf(try, sizeof(try), "%.*s%s%s%s", (int)len, buf, i ? ", " : "", name, end);
                if (w < 0 || (size_t)w >= sizeof(try) || (size_t)w >= n ||
                    dawn_sms_measure(try).segments > max_segments) {
                        cut = true;
                        break;
                }
                len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", name);
        }
        if (len < n)
                snprintf(buf + len, n - len, "%s", cut && len + sizeof(cut_tail) <= n ? cut_tail : tail);
}

static int join(struct dawn_store *store, const struct dawn_config *c, const char *provider,
                const struct dawn_sms_reply *reply, const char *number, const char *actor, int64_t now, char *answer,
                size_t answer_size)
{
        /* said once when the cap is reached, again only after a JOIN got in below it */
        static bool full_logged;
        char name[128], masked[64], detail[160];
        dawn_mask_recipient(number, masked, sizeof(masked));
        int area = dawn_config_public_area(c, reply->area);
        if (area < 0) {
                dawn_metrics_count(DAWN_M_PUBLIC_JOINS, "unknown-area", NULL);
                snprintf(answer, answer_size, "DAWN: no area called \"%.*s\". Text AREAS for the list.",
                         dawn_utf8_prefix(reply->area, 30), reply->area);
                return 0;
        }
        int member = dawn_store_public_member(store, number);
        if (member < 0)
                return member;
        if (!member) {
                int64_t numbers = dawn_store_public_numbers(store);
                if (numbers < 0)
                        return (int)numbers;
                if (numbers >= c->public_texts.max_subscribers) {
                        dawn_metrics_count(DAWN_M_PUBLIC_REFUSED, "full", NULL);
                        if (!full_logged)
                                log_warning("public texts: JOIN from %s refused: public.max_subscribers (%d) numbers "
                                            "have joined (said once; dawn_public_joins_refused_total{reason=\"full\"} "
                                            "counts each)", masked, c->public_texts.max_subscribers);
                        full_logged = true;
                        snprintf(answer, answer_size,
                                 "DAWN: public drug alerts are full just now. Please try again later.");
                        return 0;
                }
        }
        int opted = dawn_store_opted_out(store, number);
        int r = opted;
        if (r == 1)
                r = dawn_store_set_opt_out(store, number, false, provider, now);
        if (r >= 0)
                r = dawn_store_public_join(store, number, c->areas[area].id, now);
        if (r >= 0) {
                snprintf(detail, sizeof(detail), "joined public texts for %s%s", c->areas[area].id,
                         opted == 1 ? " (lifting its opt-out)" : "");
                r = dawn_store_audit(store, actor, "public-join", NULL, detail, now);
        }
        if (r < 0)
                return r;
        full_logged = false;
        dawn_metrics_count(DAWN_M_PUBLIC_JOINS, "joined", NULL);
        log_info("public texts: %s joined %s", masked, c->areas[area].id);
        dawn_config_area_name(c, area, name, sizeof(name));
        if (opted == 1 && strcmp(provider, "twilio") == 0)
                snprintf(answer, answer_size,
                         "DAWN: you joined drug alerts for %s, but this number sent STOP before: text START so "
                         "that our texts can reach you. Reply STOP to leave.", name);
        else
                snprintf(answer, answer_size, "DAWN: you will get drug alerts for %s by text. Reply STOP to leave.",
                         name);
        return 0;
}

int dawn_public_command(struct dawn_store *store, const struct dawn_config *c, const char *provider,
                        const struct dawn_sms_reply *reply, const char *number, const char *actor, int64_t now,
                        char *answer, size_t answer_size)
{
        /* yesterday's counts go once a day, not one scan per text */
        static int64_t pruned_day = -1;
        int64_t day = now / USEC_PER_DAY;
        int r = 0;
        answer[0] = '\0';
        if (day != pruned_day && (r = dawn_store_public_prune_joins(store, day)) < 0)
                return r;
        pruned_day = day;
        int joins = dawn_store_public_note_join(store, number, day);
        if (joins < 0)
                return joins;
        if (joins > c->public_texts.max_joins_per_day) {
                /* no reply: a reply costs money and a flood would be answered in kind */
                dawn_metrics_count(DAWN_M_PUBLIC_REFUSED, "daily-cap", NULL);
                if (joins == c->public_texts.max_joins_per_day + 1) {
                        char masked[64];
                        log_info("public texts: %s sent more than public.max_joins_per_day (%d) JOIN/AREAS texts "
                                 "today; no more replies to it today", dawn_mask_recipient(number, masked, sizeof(masked)),
                                 c->public_texts.max_joins_per_day);
                }
                return 0;
        }
        /* "JOIN" alone (or with more words than any area has) names no area: the list
         * helps more than 'no area called ""' */
        if (reply->kind == DAWN_REPLY_AREAS || !reply->area[0]) {
                dawn_public_areas_reply(c, answer, answer_size);
                return 0;
        }
        return join(store, c, provider, reply, number, actor, now, answer, answer_size);
}
