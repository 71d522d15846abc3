#include "summary.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "model.h"

/* Groups a figure is split into (channels, subscriber kinds, areas): more
 * than this many distinct names go together under SUMMARY_OTHERS, so that
 * a config with thousands of areas still makes a summary of bounded size. */
#define SUMMARY_MAX_GROUPS 64
#define SUMMARY_OTHERS "(others)"
/* A subscriber that delivered rows name but the running config no longer has. */
#define SUMMARY_UNKNOWN_KIND "(not configured)"

int64_t dawn_percentile(const int64_t *sorted, size_t n, unsigned pct)
{
        if (n == 0)
                return 0;
        if (pct > 100)
                pct = 100;
        /* nearest rank: ceil(pct / 100 * n), 1-based; the 0th percentile is the smallest */
        size_t rank = ((size_t)pct * n + 99) / 100;
        return sorted[rank ? rank - 1 : 0];
}

/* ---- values and groups ---- */

struct values {
        int64_t *v;
        size_t n, cap;
};

static int values_add(struct values *vs, int64_t v)
{
        if (vs->n == vs->cap) {
                size_t cap = vs->cap ? vs->cap * 2 : 64;
                int64_t *p = realloc(vs->v, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                vs->v = p;
                vs->cap = cap;
        }
        vs->v[vs->n++] = v < 0 ? 0 : v; /* a clock that stepped back is not a negative time */
        return 0;
}

static int cmp_int64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static void values_sort(struct values *vs)
{
        if (vs->n > 1)
                qsort(vs->v, vs->n, sizeof(vs->v[0]), cmp_int64);
}

/* Seconds, to the millisecond. */
static double seconds(int64_t usec)
{
        return round((double)usec / 1000.0) / 1000.0;
}

struct group {
        char name[64];
        int64_t count[4];
        struct values times;
};

struct groups {
        struct group g[SUMMARY_MAX_GROUPS];
        size_t n;
};

static struct group *group_of(struct groups *gs, const char *name)
{
        for (size_t i = 0; i < gs->n; i++)
                if (strcmp(gs->g[i].name, name) == 0)
                        return &gs->g[i];
        if (gs->n >= SUMMARY_MAX_GROUPS - 1 && strcmp(name, SUMMARY_OTHERS) != 0)
                return group_of(gs, SUMMARY_OTHERS);
        struct group *g = &gs->g[gs->n++];
        memset(g, 0, sizeof(*g));
        snprintf(g->name, sizeof(g->name), "%s", name);
        return g;
}

static void groups_free(struct groups *gs)
{
        for (size_t i = 0; i < gs->n; i++)
                free(gs->g[i].times.v);
        gs->n = 0;
}

/* Largest count first, then by name: the order a reader scans for. */
static int cmp_group_count(const void *a, const void *b)
{
        const struct group *x = a, *y = b;
        if (x->count[0] != y->count[0])
                return x->count[0] < y->count[0] ? 1 : -1;
        return strcmp(x->name, y->name);
}

static bool add_number(cJSON *o, const char *key, double v)
{
        return cJSON_AddNumberToObject(o, key, v) != NULL;
}

/* ---- alerts ---- */

struct alert_tally {
        int64_t total;
        int64_t by_type[DAWN_TYPE_COUNT];
        int64_t by_grade[DAWN_GRADE_COUNT];
        struct groups areas;
        struct values to_issue;
};

static int on_alert(const struct dawn_summary_row *row, void *userdata)
{
        struct alert_tally *t = userdata;
        int type = dawn_type_from_name(row->text[0]), grade = dawn_grade_from_name(row->text[1]);
        t->total++;
        if (type >= 0)
                t->by_type[type]++;
        if (grade >= 0)
                t->by_grade[grade]++;
        group_of(&t->areas, row->text[2])->count[0]++;
        if (row->has_num[1])
                return values_add(&t->to_issue, row->num[0] - row->num[1]);
        return 0;
}

static int alerts_json(cJSON *summary, const struct dawn_config *c, struct alert_tally *t)
{
        cJSON *a = cJSON_AddObjectToObject(summary, "alerts");
        if (!a || !add_number(a, "total", (double)t->total))
                return -ENOMEM;
        cJSON *types = cJSON_AddObjectToObject(a, "by_type");
        cJSON *grades = cJSON_AddObjectToObject(a, "by_grade");
        cJSON *areas = cJSON_AddObjectToObject(a, "by_area");
        if (!types || !grades || !areas)
                return -ENOMEM;
        for (int i = 0; i < DAWN_TYPE_COUNT; i++)
                if (!add_number(types, dawn_type_name((enum dawn_type)i), (double)t->by_type[i]))
                        return -ENOMEM;
        /* the gravest first */
        for (int i = DAWN_GRADE_COUNT - 1; i >= 0; i--)
                if (!add_number(grades, dawn_grade_name((enum dawn_grade)i), (double)t->by_grade[i]))
                        return -ENOMEM;
        qsort(t->areas.g, t->areas.n, sizeof(t->areas.g[0]), cmp_group_count);
        /* the panel reads "Isle of Wight" (area_details' name), the JSON keeps the ids */
        cJSON *names = cJSON_AddObjectToObject(a, "area_names");
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < t->areas.n; i++) {
                char buf[128];
                int idx = c ? dawn_config_area_index(c, t->areas.g[i].name) : -1;
                if (!add_number(areas, t->areas.g[i].name, (double)t->areas.g[i].count[0]))
                        return -ENOMEM;
                if (idx >= 0 && !cJSON_AddStringToObject(names, t->areas.g[i].name,
                                                         dawn_config_area_name(c, idx, buf, sizeof(buf))))
                        return -ENOMEM;
        }
        /* from the first report it stands on to going out: clusters and
         * alerts that waited for review; an officer's own alert takes none */
        cJSON *ri = cJSON_AddObjectToObject(summary, "report_to_issue");
        if (!ri || !add_number(ri, "alerts", (double)t->to_issue.n))
                return -ENOMEM;
        values_sort(&t->to_issue);
        if (t->to_issue.n &&
            (!add_number(ri, "median_seconds", seconds(dawn_percentile(t->to_issue.v, t->to_issue.n, 50))) ||
             !add_number(ri, "max_seconds", seconds(t->to_issue.v[t->to_issue.n - 1]))))
                return -ENOMEM;
        return 0;
}

/* ---- deliveries ---- */

enum { DELIVERY_SUCCEEDED, DELIVERY_FAILED, DELIVERY_OTHER, DELIVERY_TOTAL };

struct delivery_tally {
        struct groups channels;
        cJSON *states; /* {"sms": {"delivered": 3, ...}} */
};

static int on_delivery(const struct dawn_summary_row *row, void *userdata)
{
        struct delivery_tally *t = userdata;
        struct group *g = group_of(&t->channels, row->text[0]);
        const char *state = row->text[1];
        int64_t n = row->num[0];
        int k = strcmp(state, "delivered") == 0 || strcmp(state, "sent") == 0 ? DELIVERY_SUCCEEDED
                : strcmp(state, "failed") == 0                                ? DELIVERY_FAILED
                                                                               : DELIVERY_OTHER;
        g->count[k] += n;
        g->count[DELIVERY_TOTAL] += n;
        cJSON *ch = cJSON_GetObjectItemCaseSensitive(t->states, g->name);
        if (!ch && !(ch = cJSON_AddObjectToObject(t->states, g->name)))
                return -ENOMEM;
        cJSON *have = cJSON_GetObjectItemCaseSensitive(ch, state);
        if (have)
                cJSON_SetNumberValue(have, have->valuedouble + (double)n);
        else if (!add_number(ch, state, (double)n))
                return -ENOMEM;
        return 0;
}

static int on_delivery_time(const struct dawn_summary_row *row, void *userdata)
{
        struct delivery_tally *t = userdata;
        return values_add(&group_of(&t->channels, row->text[0])->times, row->num[0]);
}

static int deliveries_json(cJSON *summary, struct delivery_tally *t)
{
        cJSON *d = cJSON_AddObjectToObject(summary, "delivery");
        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < t->channels.n; i++) {
                struct group *g = &t->channels.g[i];
                cJSON *ch = cJSON_AddObjectToObject(d, g->name);
                if (!ch || !add_number(ch, "succeeded", (double)g->count[DELIVERY_SUCCEEDED]) ||
                    !add_number(ch, "failed", (double)g->count[DELIVERY_FAILED]) ||
                    !add_number(ch, "other", (double)g->count[DELIVERY_OTHER]) ||
                    !add_number(ch, "total", (double)g->count[DELIVERY_TOTAL]))
                        return -ENOMEM;
                if (g->count[DELIVERY_TOTAL] &&
                    !add_number(ch, "success_rate",
                                round(1000.0 * (double)g->count[DELIVERY_SUCCEEDED] /
                                      (double)g->count[DELIVERY_TOTAL]) / 1000.0))
                        return -ENOMEM;
                cJSON *states = cJSON_DetachItemFromObjectCaseSensitive(t->states, g->name);
                cJSON_AddItemToObject(ch, "states", states ? states : cJSON_CreateObject());
                values_sort(&g->times);
                if (!add_number(ch, "timed", (double)g->times.n))
                        return -ENOMEM;
                if (g->times.n && (!add_number(ch, "p50_seconds", seconds(dawn_percentile(g->times.v, g->times.n, 50))) ||
                                   !add_number(ch, "p95_seconds", seconds(dawn_percentile(g->times.v, g->times.n, 95)))))
                        return -ENOMEM;
        }
        return 0;
}

/* ---- acknowledgements, by the subscriber's kind ---- */

struct subscriber_kind {
        const char *id, *kind;
};

static int cmp_subscriber_kind(const void *a, const void *b)
{
        return strcmp(((const struct subscriber_kind *)a)->id, ((const struct subscriber_kind *)b)->id);
}

struct ack_tally {
        struct subscriber_kind *kinds; /* sorted by id, for bsearch: rows come in any order */
        size_t n_kinds;
        struct groups by_kind;         /* count[0] due, count[1] acknowledged */
};

static int on_ack(const struct dawn_summary_row *row, void *userdata)
{
        struct ack_tally *t = userdata;
        struct subscriber_kind key = { row->text[0], NULL };
        const struct subscriber_kind *k = t->n_kinds ? bsearch(&key, t->kinds, t->n_kinds, sizeof(key),
                                                               cmp_subscriber_kind) : NULL;
        struct group *g = group_of(&t->by_kind, k && k->kind ? k->kind : SUMMARY_UNKNOWN_KIND);
        g->count[0]++;
        if (!row->has_num[0])
                return 0;
        g->count[1]++;
        return values_add(&g->times, row->num[0]);
}

static int acks_json(cJSON *summary, struct ack_tally *t)
{
        cJSON *a = cJSON_AddObjectToObject(summary, "acks");
        if (!a)
                return -ENOMEM;
        qsort(t->by_kind.g, t->by_kind.n, sizeof(t->by_kind.g[0]), cmp_group_count);
        for (size_t i = 0; i < t->by_kind.n; i++) {
                struct group *g = &t->by_kind.g[i];
                cJSON *k = cJSON_AddObjectToObject(a, g->name);
                if (!k || !add_number(k, "due", (double)g->count[0]) ||
                    !add_number(k, "acknowledged", (double)g->count[1]) ||
                    !add_number(k, "rate", g->count[0] ? round(1000.0 * (double)g->count[1] / (double)g->count[0]) / 1000.0 : 0))
                        return -ENOMEM;
                values_sort(&g->times);
                if (g->times.n && !add_number(k, "median_seconds", seconds(dawn_percentile(g->times.v, g->times.n, 50))))
                        return -ENOMEM;
        }
        return 0;
}

/* ---- escalations ---- */

static int on_escalation(const struct dawn_summary_row *row, void *userdata)
{
        cJSON *e = userdata;
        static const struct {
                const char *state, *key;
        } keys[] = { { "escalated", "escalated" }, { "acknowledged", "acknowledged_in_time" },
                     { "waiting", "waiting" },     { "stopped", "stopped" } };
        cJSON *started = cJSON_GetObjectItemCaseSensitive(e, "started");
        cJSON_SetNumberValue(started, started->valuedouble + (double)row->num[0]);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                if (strcmp(row->text[0], keys[i].state) != 0)
                        continue;
                cJSON *v = cJSON_GetObjectItemCaseSensitive(e, keys[i].key);
                cJSON_SetNumberValue(v, v->valuedouble + (double)row->num[0]);
        }
        return 0;
}

/* ---- the whole ---- */

static int window_json(cJSON *summary, int64_t since, int64_t until)
{
        char buf[40];
        if (!cJSON_AddStringToObject(summary, "since", dawn_time_format(since, buf, sizeof(buf))) ||
            !cJSON_AddStringToObject(summary, "until", dawn_time_format(until, buf, sizeof(buf))) ||
            !add_number(summary, "window_seconds", (double)((until - since) / DAWN_USEC_PER_SEC)) ||
            !add_number(summary, "row_cap", DAWN_SUMMARY_MAX_ROWS))
                return -ENOMEM;
        return 0;
}

static int people_json(cJSON *summary, const struct dawn_summary_people *p)
{
        cJSON *o = cJSON_AddObjectToObject(summary, "optouts");
        cJSON *pub = cJSON_AddObjectToObject(summary, "public");
        if (!o || !pub || !add_number(o, "in_window", (double)p->optouts_in_window) ||
            !add_number(o, "total", (double)p->optouts) || !add_number(pub, "numbers", (double)p->public_numbers) ||
            !add_number(pub, "subscriptions", (double)p->public_subscriptions) ||
            !add_number(pub, "joined_in_window", (double)p->public_joined_in_window))
                return -ENOMEM;
        return 0;
}

static int escalations_json(struct dawn_store *s, cJSON *summary, int64_t since, int64_t until, bool *capped)
{
        cJSON *e = cJSON_AddObjectToObject(summary, "escalations");
        static const char *const keys[] = { "started", "escalated", "acknowledged_in_time", "waiting", "stopped" };
        for (size_t i = 0; e && i < sizeof(keys) / sizeof(keys[0]); i++)
                if (!add_number(e, keys[i], 0))
                        return -ENOMEM;
        return e ? dawn_store_summary_escalations(s, since, until, on_escalation, e, capped) : -ENOMEM;
}

static int ack_kinds(const struct dawn_config *c, struct ack_tally *t)
{
        if (!c || !c->n_subscribers)
                return 0;
        t->kinds = calloc(c->n_subscribers, sizeof(*t->kinds));
        if (!t->kinds)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_subscribers; i++)
                t->kinds[i] = (struct subscriber_kind){ c->subscribers[i].id, c->subscribers[i].kind };
        t->n_kinds = c->n_subscribers;
        qsort(t->kinds, t->n_kinds, sizeof(t->kinds[0]), cmp_subscriber_kind);
        return 0;
}

int dawn_summary_json(struct dawn_store *s, const struct dawn_config *c, int64_t since, int64_t until,
                      cJSON **out)
{
        *out = NULL;
        /* large: the groups are arrays, so not on the event loop's stack */
        struct alert_tally *at = calloc(1, sizeof(*at));
        struct delivery_tally *dt = calloc(1, sizeof(*dt));
        struct ack_tally *kt = calloc(1, sizeof(*kt));
        struct dawn_summary_people people = { 0 };
        cJSON *summary = cJSON_CreateObject();
        bool capped = false;
        int r = at && dt && kt && summary && (dt->states = cJSON_CreateObject()) ? 0 : -ENOMEM;
        if (r == 0)
                r = window_json(summary, since, until);
        if (r == 0)
                r = dawn_store_summary_alerts(s, since, until, on_alert, at, &capped);
        if (r == 0)
                r = alerts_json(summary, c, at);
        if (r == 0)
                r = dawn_store_summary_deliveries(s, since, until, on_delivery, dt, &capped);
        if (r == 0)
                r = dawn_store_summary_delivery_times(s, since, until, on_delivery_time, dt, &capped);
        if (r == 0)
                r = deliveries_json(summary, dt);
        if (r == 0)
                r = ack_kinds(c, kt);
        if (r == 0)
                r = dawn_store_summary_acks(s, since, until, on_ack, kt, &capped);
        if (r == 0)
                r = acks_json(summary, kt);
        if (r == 0)
                r = escalations_json(s, summary, since, until, &capped);
        if (r == 0)
                r = dawn_store_summary_people(s, since, until, &people);
        if (r == 0)
                r = people_json(summary, &people);
        /* a figure over the first DAWN_SUMMARY_MAX_ROWS rows only says so */
        if (r == 0 && !cJSON_AddBoolToObject(summary, "capped", capped))
                r = -ENOMEM;
        if (at) {
                groups_free(&at->areas);
                free(at->to_issue.v);
        }
        if (dt) {
                groups_free(&dt->channels);
                cJSON_Delete(dt->states);
        }
        if (kt) {
                groups_free(&kt->by_kind);
                free(kt->kinds);
        }
        free(at);
        free(dt);
        free(kt);
        if (r < 0) {
                cJSON_Delete(summary);
                return r;
        }
        *out = summary;
        return 0;
}
