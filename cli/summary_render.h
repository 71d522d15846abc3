/* dawnctl summary: dawnd's figures (the answer's "summary" object, see
 * daemon/ways/summary.h) shown as text, or written as one self-contained
 * HTML page for a panel's minutes: inline SVG charts with a table of the
 * same numbers beside each, no script, nothing fetched. */
#pragma once

#include <cJSON.h>
#include <stddef.h>

void show_summary(const cJSON *request, const cJSON *answer);

/* Writes the page for answer to path, whole or not at all (a temporary file
 * beside it, renamed over it). Returns a dawnctl exit status: DAWN_EXIT_OK,
 * or DAWN_EXIT_REFUSED with the reason on standard error. */
int write_summary_html(const char *path, const cJSON *answer);

/* ---- the pure parts, for tests/unit/test_dawnctl_summary.c ---- */

/* s with & < > " ' as entities and control characters as U+FFFD:
 * safe in element text and in quoted attributes. malloc'ed. */
char *summary_html_escape(const char *s);

/* "0.42 s", "12.3 s", "4 min 10 s", "3 h 5 min", "2 d 3 h". */
void summary_format_seconds(double seconds, char *buf, size_t n);

/* One bar per item; a bar is up to 3 stacked parts (parts beyond nparts
 * are ignored), in the colours of part_names' order, with a legend when
 * nparts > 1. scale_max 0: the longest bar fills the width. value_text
 * NULL: the bar's total as a whole number. id names the <title> for
 * aria-labelledby (unique in the page). malloc'ed SVG text; every label
 * escaped. */
struct summary_bar {
        const char *label;
        double parts[3];
        const char *value_text;
};
char *summary_svg_bars(const char *id, const char *title, const struct summary_bar *bars, size_t n, size_t nparts,
                       const char *const *part_names, double scale_max);

/* A p50 and a p95 mark per item on one scale of seconds (0 to the largest
 * p95). malloc'ed SVG text. */
struct summary_mark {
        const char *label;
        double p50, p95;
};
char *summary_svg_marks(const char *id, const char *title, const struct summary_mark *marks, size_t n);

/* The whole page for a summary object; generated_at is shown as the time
 * the page was made. malloc'ed. */
char *summary_html_page(const cJSON *summary, const char *generated_at);
