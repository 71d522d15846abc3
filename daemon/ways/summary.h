/* The panel's summary ("dawnctl summary"): what DAWN did in a window, as
 * figures a public-health panel reads. The store reads the rows (store.h,
 * "the panel's summary"); this file counts them, takes the percentiles and
 * gives each subscriber's acknowledgements to its kind from the running
 * config. dawnctl renders the result as text, JSON or an HTML page. */
#ifndef DAWN_SUMMARY_H
#define DAWN_SUMMARY_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

/* The summary of the alerts issued in [since, until) (µs), as the control
 * command "summary" answers it: 0 and *out (the caller's to delete), or
 * -errno. */
int dawn_summary_json(struct dawn_store *s, const struct dawn_config *c, int64_t since, int64_t until,
                      cJSON **out);

/* The pct-th percentile (0..100) of n sorted values by nearest rank: the
 * smallest value with at least pct % of the values at or below it (p50 of
 * 1, 2, 3, 4 is 2; p95 of 1..100 is 95). 0 when n is 0. */
int64_t dawn_percentile(const int64_t *sorted, size_t n, unsigned pct);

#endif
