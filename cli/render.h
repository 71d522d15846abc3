/* dawnctl's output: dawnd's answer shown to a person, one show_* function
 * per kind of answer (named by the command's row in grammar.c), or as JSON
 * with --json. Text from elsewhere is never printed raw: put_text(). */
#pragma once

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct invocation;

/* Alert text comes from partner systems as well as officers, so it is
 * printed with every control made visible (no terminal escapes, no
 * reordering, no line breaks in a table cell), never splitting a UTF-8
 * character, and at most max columns wide, ending in "…" when cut. A
 * newline is kept, followed by newline_indent spaces, when newline_indent
 * >= 0. Returns the columns printed. */
size_t put_text(FILE *out, const char *s, size_t max, int newline_indent);
/* The columns put_text() would take for all of s. */
size_t text_width(const char *s);

/* RFC 3339 -> time_t (0), or -1 if s is not such a time. */
int parse_rfc3339(const char *s, time_t *out);

/* dawnd's answer to inv: a refusal on stderr (DAWN_EXIT_REFUSED), else
 * the answer on stdout as text or, with json, as JSON (DAWN_EXIT_OK);
 * DAWN_EXIT_UNREACHABLE if it is not an answer of dawnd's at all. */
int report(const struct invocation *inv, const cJSON *answer, bool json);

/* The human output of each command (request, answer). */
void show_alert_result(const cJSON *request, const cJSON *answer);
void show_list(const cJSON *request, const cJSON *answer);
void show_pending(const cJSON *request, const cJSON *answer);
void show_optouts(const cJSON *request, const cJSON *answer);
void show_unacked(const cJSON *request, const cJSON *answer);
void show_public(const cJSON *request, const cJSON *answer);
void show_route(const cJSON *request, const cJSON *answer);
void show_status(const cJSON *request, const cJSON *answer);
void show_reload(const cJSON *request, const cJSON *answer);
void show_resume(const cJSON *request, const cJSON *answer);
void show_alert(const cJSON *request, const cJSON *answer);
/* history and audit: one line per entry, local time to the second. */
void show_history(const cJSON *request, const cJSON *answer);
void show_audit(const cJSON *request, const cJSON *answer);
void show_prune(const cJSON *request, const cJSON *answer);
