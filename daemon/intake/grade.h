/* Grading: a pure function of an alert, the reports that corroborate it and
 * the configuration. It always explains itself: every point it counts comes
 * with a reason a person can read ("confirmed by toxicology"). */
#ifndef DAWN_GRADE_H
#define DAWN_GRADE_H

#include "alert.h"
#include "config.h"

#include <stdint.h>

/* Points from the evidence, added up; the grade follows from the total.
 * Fixed here, not in the config, so that a grade means the same in every
 * area and can be explained in one table (README "Grading"). */
#define DAWN_GRADE_WARNING_POINTS 2
#define DAWN_GRADE_CRITICAL_POINTS 5

struct dawn_grading {
        enum dawn_grade grade;
        int points;
        struct dawn_strv reasons;
};

/* corroborations: the reports merged into the alert (their evidence,
 * casualties and fatalities count; the alert's own sources list says how
 * many distinct sources there are). Returns 0 or -ENOMEM. */
int dawn_grade_alert(const struct dawn_alert *a, const struct dawn_alert *corroborations, size_t n,
                     const struct dawn_config *c, struct dawn_grading *out);
/* What an alert's corroborations say together, as grading reads them: the
 * strongest evidence, the largest casualties and fatalities, and the
 * adulterants in the order first seen (at most DAWN_MAX_LIST_ITEMS: a
 * merged report shares the alert's fingerprint, so beyond the alert's own
 * these are only other spellings of the same words). Folding each
 * corroboration into sum (dawn_alert_init'ed) as it joins, then grading with
 * the alert and that one sum, gives the grade and reasons that grading with
 * every corroboration gives, at a cost that does not grow with them.
 * Returns 0 or -ENOMEM. */
int dawn_grade_fold(struct dawn_alert *sum, const struct dawn_alert *report);
/* A cluster, graded on its own sums and sets (kept up to date as reports
 * join: its casualties, fatalities, strongest evidence, adulterants) and
 * named by the first n of the reports it stands on, of which there are
 * reports in all: its cost does not grow with the reports. */
#define DAWN_CLUSTER_NAMED_REPORTS 5
int dawn_grade_cluster(const struct dawn_alert *cluster, const struct dawn_alert *first, size_t n, uint64_t reports,
                       const struct dawn_config *c, struct dawn_grading *out);
void dawn_grading_clear(struct dawn_grading *g);

#endif
