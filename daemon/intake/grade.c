#include "grade.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int reason(struct dawn_grading *g, int points, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int reason(struct dawn_grading *g, int points, const char *fmt, ...)
{
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        g->points += points;
        return dawn_strv_add(&g->reasons, buf);
}

static bool high_risk(const struct dawn_config *c, const char *adulterant)
{
        for (size_t i = 0; i < c->n_high_risk_adulterants; i++)
                if (strcasecmp(c->high_risk_adulterants[i], adulterant) == 0)
                        return true;
        return false;
}

/* What the alert and its corroborations say together: the strongest
 * evidence and the largest counts. Counts are not summed: two reports of the
 * same four casualties are four casualties, not eight. */
struct evidence_summary {
        enum dawn_evidence evidence;
        int64_t casualties;
        int64_t fatalities;
        struct dawn_strv adulterants;
};

/* One report more in what reports say together (see dawn_grade_fold). The
 * adulterants are kept in the order first seen; cap bounds the set. */
static int fold(enum dawn_evidence *evidence, int64_t *casualties, int64_t *fatalities, struct dawn_strv *adulterants,
                const struct dawn_alert *r, size_t cap)
{
        if (r->evidence > *evidence)
                *evidence = r->evidence;
        if (r->casualties > *casualties)
                *casualties = r->casualties;
        if (r->fatalities > *fatalities)
                *fatalities = r->fatalities;
        for (size_t k = 0; k < r->adulterants.n && adulterants->n < cap; k++)
                if (!dawn_strv_contains(adulterants, r->adulterants.v[k]) &&
                    dawn_strv_add(adulterants, r->adulterants.v[k]) < 0)
                        return -ENOMEM;
        return 0;
}

static int summarise(const struct dawn_alert *a, const struct dawn_alert *corr, size_t n,
                     struct evidence_summary *s)
{
        s->evidence = a->evidence;
        s->casualties = a->casualties;
        s->fatalities = a->fatalities;
        for (size_t i = 0; i <= n; i++) {
                const struct dawn_alert *r = i == 0 ? a : &corr[i - 1];
                int e = fold(&s->evidence, &s->casualties, &s->fatalities, &s->adulterants, r, SIZE_MAX);
                if (e < 0)
                        return e;
        }
        return 0;
}

int dawn_grade_fold(struct dawn_alert *sum, const struct dawn_alert *report)
{
        return fold(&sum->evidence, &sum->casualties, &sum->fatalities, &sum->adulterants, report,
                    DAWN_MAX_LIST_ITEMS);
}

static enum dawn_grade grade_for_points(int points)
{
        if (points >= DAWN_GRADE_CRITICAL_POINTS)
                return DAWN_GRADE_CRITICAL;
        if (points >= DAWN_GRADE_WARNING_POINTS)
                return DAWN_GRADE_WARNING;
        return DAWN_GRADE_INFO;
}

static int count_evidence(const struct evidence_summary *s, const struct dawn_config *c,
                          struct dawn_grading *g)
{
        int r = 0;
        bool counted = false;
        for (size_t i = 0; i < s->adulterants.n; i++) {
                if (!high_risk(c, s->adulterants.v[i]))
                        continue;
                /* one high-risk adulterant is enough to warn; a second is named but adds no points */
                r |= reason(g, counted ? 0 : 2, "adulterant %s is on the high-risk list", s->adulterants.v[i]);
                counted = true;
        }
        if (s->fatalities > 0)
                r |= reason(g, 3, "%lld %s", (long long)s->fatalities,
                            s->fatalities == 1 ? "fatality" : "fatalities");
        if (s->casualties >= 3)
                r |= reason(g, 2, "%lld casualties", (long long)s->casualties);
        else if (s->casualties > 0)
                r |= reason(g, 1, "%lld %s", (long long)s->casualties,
                            s->casualties == 1 ? "casualty" : "casualties");
        if (s->evidence == DAWN_EVIDENCE_TOXICOLOGY)
                r |= reason(g, 2, "confirmed by toxicology");
        else if (s->evidence == DAWN_EVIDENCE_CLINICAL)
                r |= reason(g, 1, "clinical evidence");
        else
                r |= reason(g, 0, "not yet confirmed (reported only)");
        return r ? -ENOMEM : 0;
}

/* 2991 -> "2,991": a count an officer reads at a glance. */
static const char *thousands(uint64_t v, char *buf, size_t n)
{
        char digits[24];
        int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
        size_t o = 0;
        for (int i = 0; i < len && o + 2 < n; i++) {
                if (i > 0 && (len - i) % 3 == 0)
                        buf[o++] = ',';
                buf[o++] = digits[i];
        }
        buf[o] = '\0';
        return buf;
}

/* A cluster says which overdose reports it stands on, so that a reader can
 * go and look at them: "from 3 overdose reports: A3 (ambulance), ...". At
 * most DAWN_CLUSTER_NAMED_REPORTS are named, the rest counted ("and 2,991
 * more"): the reason is read on a phone, and stays the same size however
 * many reports a cluster gathers. */
static int name_reports(struct dawn_grading *g, const struct dawn_alert *reports, size_t n, uint64_t total)
{
        char buf[640], count[32];
        size_t named = n < DAWN_CLUSTER_NAMED_REPORTS ? n : DAWN_CLUSTER_NAMED_REPORTS;
        if (total < named)
                total = named;
        int len = snprintf(buf, sizeof(buf), "from %s overdose %s:", thousands(total, count, sizeof(count)),
                           total == 1 ? "report" : "reports");
        for (size_t i = 0; i < named && len > 0 && (size_t)len < sizeof(buf); i++)
                len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%s %.*s (%.*s)", i ? "," : "",
                                DAWN_MAX_ID_CHARS, reports[i].id[0] ? reports[i].id : "?", 64,
                                reports[i].sources.n ? reports[i].sources.v[0] : "unknown source");
        if (total > named && len > 0 && (size_t)len < sizeof(buf))
                snprintf(buf + len, sizeof(buf) - (size_t)len, " and %s more",
                         thousands(total - named, count, sizeof(count)));
        return reason(g, 0, "%s", buf);
}

static int grade(const struct dawn_alert *a, const struct dawn_alert *corroborations, size_t n, uint64_t reports,
                 const struct dawn_config *c, struct dawn_grading *g)
{
        memset(g, 0, sizeof(*g));
        if (a->type == DAWN_TYPE_NFOD) {
                /* one non-fatal overdose is a data point; cluster detection decides when they add up */
                g->grade = DAWN_GRADE_LOGGED;
                return reason(g, 0, "a single non-fatal overdose report is logged, not sent");
        }

        struct evidence_summary s = { 0 };
        int r = summarise(a, corroborations, n, &s);
        if (r == 0 && a->type == DAWN_TYPE_CLUSTER)
                r = reason(g, 1, "overdose cluster");
        if (r == 0)
                r = count_evidence(&s, c, g);
        if (r == 0 && a->sources.n >= 2)
                r = reason(g, 1, "corroborated by %zu sources", a->sources.n);
        if (r == 0 && a->type == DAWN_TYPE_CLUSTER && reports > 0)
                r = name_reports(g, corroborations, n, reports);
        dawn_strv_clear(&s.adulterants);
        if (r < 0)
                return r;

        g->grade = grade_for_points(g->points);
        if (a->has_grade_override) {
                enum dawn_grade computed = g->grade;
                g->grade = a->grade_override;
                if (computed != g->grade)
                        r = reason(g, 0, "grade set to %s by an officer (the evidence alone gives %s)",
                                   dawn_grade_name(g->grade), dawn_grade_name(computed));
                else
                        r = reason(g, 0, "grade %s confirmed by an officer", dawn_grade_name(g->grade));
        }
        return r;
}

int dawn_grade_alert(const struct dawn_alert *a, const struct dawn_alert *corroborations, size_t n,
                     const struct dawn_config *c, struct dawn_grading *g)
{
        return grade(a, corroborations, n, n, c, g);
}

int dawn_grade_cluster(const struct dawn_alert *cluster, const struct dawn_alert *first, size_t n, uint64_t reports,
                       const struct dawn_config *c, struct dawn_grading *g)
{
        return grade(cluster, first, n, reports, c, g);
}

void dawn_grading_clear(struct dawn_grading *g)
{
        dawn_strv_clear(&g->reasons);
        g->points = 0;
}
