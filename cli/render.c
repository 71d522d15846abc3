/* dawnctl's output: dawnd's answer as an officer reads it (text tables,
 * fields, every control character made visible) or as JSON (--json). */

#include <cJSON.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "dawn/protocol.h"
#include "grammar.h"
#include "model.h"
#include "render.h"
#include "summary_render.h"
#include "text.h"

/* Tables are cut to about this many columns, widest column last. */
#define TABLE_WIDTH 100

/* ------------------------------------------------------------------ */
/* Times                                                                 */

/* RFC 3339 -> time_t, for showing times in the officer's own time zone. */
int parse_rfc3339(const char *s, time_t *out)
{
        struct tm tm = { 0 };
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        long offset = 0;

        if (!p)
                return -1;
        if (*p == '.')
                for (p++; isdigit((unsigned char)*p); p++)
                        ;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int hh, mm, used = 0;

                if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || used != 5)
                        return -1;
                offset = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
                p += 6;
        } else {
                return -1;
        }
        if (*p)
                return -1;
        *out = timegm(&tm) - offset;
        return 0;
}

/* "3d 4h", "4h 5m", "5m 10s": the two largest units are enough to read. */
static void format_duration(long long s, char *buf, size_t n)
{
        static const struct {
                long long seconds;
                char unit;
        } units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };

        if (s < 0)
                s = -s;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
                if (s < units[i].seconds && units[i].seconds > 1)
                        continue;
                if (i + 1 < sizeof units / sizeof units[0] && s % units[i].seconds >= units[i + 1].seconds)
                        snprintf(buf, n, "%lld%c %lld%c", s / units[i].seconds, units[i].unit,
                                 s % units[i].seconds / units[i + 1].seconds, units[i + 1].unit);
                else
                        snprintf(buf, n, "%lld%c", s / units[i].seconds, units[i].unit);
                return;
        }
}

/* A time as the officer reads it: local time; the text as sent if it is
 * not RFC 3339, so nothing is hidden. */
static const char *format_time(const char *rfc3339, const char *fmt, char *buf, size_t n)
{
        struct tm tm;
        time_t t;

        if (parse_rfc3339(rfc3339, &t) < 0 || !localtime_r(&t, &tm) || strftime(buf, n, fmt, &tm) == 0)
                return rfc3339;
        return buf;
}

/* ------------------------------------------------------------------ */
/* Printing text that came from elsewhere                              */

/* How one character of text from elsewhere is shown: controls (C0, DEL,
 * C1) and the bidirectional controls that would reorder what is around
 * them (U+202E makes "gnp.exe" of "exe.png") are written as <U+202E>, so
 * that an officer sees them instead of their effect; invalid UTF-8 as "?";
 * a tab or a CR as a space. HIDDEN_WIDTH is what "<U+XXXX>" takes. */
#define HIDDEN_WIDTH 8

/* Columns the character at p takes (1, or HIDDEN_WIDTH); *bytes gets its length. */
static size_t char_width(const char *p, size_t *bytes)
{
        uint32_t cp;

        *bytes = dawn_utf8_decode(p, &cp);
        if (*bytes == 0) {
                *bytes = 1;
                return 1;
        }
        if (cp == '\n' || cp == '\t' || cp == '\r')
                return 1;
        return dawn_char_is_hidden(cp) ? HIDDEN_WIDTH : 1;
}

size_t text_width(const char *s)
{
        size_t width = 0, n;

        for (; *s; s += n)
                width += char_width(s, &n);
        return width;
}

/* Prints one character of s, made safe; returns how many bytes it used. */
static size_t put_char(FILE *out, const char *p, int newline_indent)
{
        uint32_t cp;
        size_t n = dawn_utf8_decode(p, &cp);

        if (n == 0) {
                fputc('?', out);
                return 1;
        }
        if (cp == '\n' && newline_indent >= 0)
                fprintf(out, "\n%*s", newline_indent, "");
        else if (cp == '\n' || cp == '\t' || cp == '\r')
                fputc(' ', out);
        else if (dawn_char_is_hidden(cp))
                fprintf(out, "<U+%04X>", (unsigned)cp);
        else
                fwrite(p, 1, n, out);
        return n;
}

/* Alert text comes from partner systems as well as officers, so it is
 * printed with every control made visible (no terminal escapes, no
 * reordering, no line breaks in a table cell), never splitting a UTF-8
 * character, and at most max columns wide, ending in "…" when cut. A
 * newline is kept, followed by newline_indent spaces, when newline_indent
 * >= 0. Returns the columns printed. */
size_t put_text(FILE *out, const char *s, size_t max, int newline_indent)
{
        size_t width = text_width(s), limit = width, printed = 0, n;
        bool cut = width > max;

        if (cut)
                limit = max > 0 ? max - 1 : 0;
        while (*s) {
                size_t w = char_width(s, &n);

                if (printed + w > limit)
                        break;
                s += put_char(out, s, newline_indent);
                printed += w;
        }
        if (cut && max > 0) {
                fputs("…", out);
                printed++;
        }
        return printed;
}

/* Any JSON scalar (or an array of them, joined) as a short text. */
static const char *scalar_text(const cJSON *item, char *buf, size_t n)
{
        if (cJSON_IsString(item))
                return item->valuestring;
        if (cJSON_IsBool(item))
                return cJSON_IsTrue(item) ? "yes" : "no";
        if (cJSON_IsNumber(item)) {
                double v = item->valuedouble;

                if (v == (double)(long long)v)
                        snprintf(buf, n, "%lld", (long long)v);
                else
                        snprintf(buf, n, "%g", v);
                return buf;
        }
        if (cJSON_IsArray(item)) {
                const cJSON *e;
                size_t used = 0;
                char part[64];

                buf[0] = '\0';
                cJSON_ArrayForEach(e, item) {
                        const char *s = cJSON_IsArray(e) || cJSON_IsObject(e) ? "…" : scalar_text(e, part, sizeof part);
                        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", s);

                        if (w < 0 || (size_t)w >= n - used)
                                break;
                        used += (size_t)w;
                }
                return buf;
        }
        if (cJSON_IsObject(item))
                return "…";
        return "-";
}

/* "source_ref" -> "source ref": keys read as words in human output. */
static const char *label_of(const char *key, char *buf, size_t n)
{
        size_t i;

        for (i = 0; key[i] && i + 1 < n; i++)
                buf[i] = key[i] == '_' ? ' ' : key[i];
        buf[i] = '\0';
        return buf;
}

/* ------------------------------------------------------------------ */
/* Tables                                                                */

enum cell_kind {
        CELL_TEXT,
        CELL_TIME,       /* RFC 3339, shown in local time */
        CELL_SUBSCRIBER, /* "" is the area feed, not a missing name */
        CELL_SECONDS,    /* RFC 3339, shown in local time to the second (a trail's order) */
};

struct column {
        const char *title;
        const char *key; /* "a|b.c": the first the row has; "b.c" is c inside b */
        enum cell_kind kind;
        size_t max; /* the widest it may grow; the last column takes the rest */
};

static const cJSON *lookup_path(const cJSON *item, const char *path, size_t len)
{
        char key[64];

        while (item && len > 0) {
                size_t n = strcspn(path, ".");

                n = n < len ? n : len;
                if (n >= sizeof key)
                        return NULL;
                memcpy(key, path, n);
                key[n] = '\0';
                item = get(item, key);
                n += n < len; /* and the dot */
                path += n;
                len -= n;
        }
        return item;
}

static const cJSON *lookup(const cJSON *row, const char *keys)
{
        while (*keys) {
                size_t len = strcspn(keys, "|");
                const cJSON *item = lookup_path(row, keys, len);

                if (item)
                        return item;
                keys += len + (keys[len] == '|');
        }
        return NULL;
}

static const char *cell_text(const cJSON *row, const struct column *col, char *buf, size_t n)
{
        const cJSON *item = lookup(row, col->key);
        const char *text;

        if (col->kind == CELL_SUBSCRIBER && cJSON_IsString(item) && !item->valuestring[0])
                return "(area feed)";
        if (col->kind == CELL_TIME && cJSON_IsString(item))
                return format_time(item->valuestring, "%Y-%m-%d %H:%M", buf, n);
        if (col->kind == CELL_SECONDS && cJSON_IsString(item))
                return format_time(item->valuestring, "%Y-%m-%d %H:%M:%S", buf, n);
        text = scalar_text(item, buf, n);
        return *text ? text : "-";
}

static void table_widths(const cJSON *rows, const struct column *cols, size_t ncols, size_t *widths)
{
        char buf[TIME_TEXT_MAX * 4];
        const cJSON *row;
        size_t used = 0;

        for (size_t i = 0; i < ncols; i++)
                widths[i] = text_width(cols[i].title);
        cJSON_ArrayForEach(row, rows)
                for (size_t i = 0; i + 1 < ncols; i++) {
                        size_t w = text_width(cell_text(row, &cols[i], buf, sizeof buf));

                        if (w > widths[i])
                                widths[i] = w < cols[i].max ? w : cols[i].max;
                }
        for (size_t i = 0; i + 1 < ncols; i++)
                used += widths[i] + 2;
        widths[ncols - 1] = used + 20 < TABLE_WIDTH ? TABLE_WIDTH - used : 20;
}

static void put_cell(const char *text, size_t width, bool last)
{
        size_t printed = put_text(stdout, text, width, -1);

        if (!last)
                printf("%*s", (int)(width - printed + 2), "");
}

static void print_table(const cJSON *rows, const struct column *cols, size_t ncols, int indent)
{
        size_t widths[16];
        char buf[TIME_TEXT_MAX * 4];
        const cJSON *row;

        table_widths(rows, cols, ncols, widths);
        printf("%*s", indent, "");
        for (size_t i = 0; i < ncols; i++)
                put_cell(cols[i].title, widths[i], i + 1 == ncols);
        putchar('\n');
        cJSON_ArrayForEach(row, rows) {
                if (!cJSON_IsObject(row))
                        continue;
                printf("%*s", indent, "");
                for (size_t i = 0; i < ncols; i++)
                        put_cell(cell_text(row, &cols[i], buf, sizeof buf), widths[i], i + 1 == ncols);
                putchar('\n');
        }
}

#define COLUMNS(c) (c), sizeof(c) / sizeof((c)[0])

static const struct column alert_columns[] = {
        { "ID", "id", CELL_TEXT, DAWN_MAX_ID_CHARS },  { "GRADE", "grade", CELL_TEXT, 8 },
        { "STATUS", "status", CELL_TEXT, 9 },          { "TYPE", "type", CELL_TEXT, 7 },
        { "AREA", "area", CELL_TEXT, 20 },             { "REV", "revision", CELL_TEXT, 4 },
        { "UPDATED", "updated_at", CELL_TIME, 16 },    { "SUMMARY", "summary", CELL_TEXT, 0 },
};

static const struct column delivery_columns[] = {
        { "SUBSCRIBER", "subscriber", CELL_SUBSCRIBER, 24 },
        { "CHANNEL", "channel", CELL_TEXT, 7 },
        { "RECIPIENT", "recipient", CELL_TEXT, 40 },
        { "ACTION", "action", CELL_TEXT, 8 },
        { "REV", "revision", CELL_TEXT, 4 },
        /* any state dawnd names is shown whole (sent, opted-out, and any
         * added later): a cut state would hide why someone was not told */
        { "STATE", "state", CELL_TEXT, 24 },
        { "ATTEMPTS", "attempts", CELL_TEXT, 8 },
        { "NEXT-TRY", "next_at", CELL_TIME, 16 },
        { "UPDATED", "updated_at", CELL_TIME, 16 },
        { "LAST-ERROR", "last_error", CELL_TEXT, 0 },
};

static const struct column corroboration_columns[] = {
        { "SOURCE", "source", CELL_TEXT, 24 },
        /* dawnd nests what the source sent under "report" */
        { "SOURCE-REF", "source_ref|report.source_ref", CELL_TEXT, 24 },
        { "RECEIVED", "received_at", CELL_TIME, 16 },
        { "EVIDENCE", "evidence|report.evidence", CELL_TEXT, 10 },
        { "CASUALTIES", "casualties|report.casualties", CELL_TEXT, 10 },
        { "SUMMARY", "summary|report.summary", CELL_TEXT, 0 },
};

/* "via" is the dashboard or an SMS reply; "by" is the name the dashboard
 * gave, or for an SMS the number (masked by dawnd). */
static const struct column ack_columns[] = {
        { "SUBSCRIBER", "subscriber", CELL_SUBSCRIBER, 24 },
        { "VIA", "via", CELL_TEXT, 9 },
        { "BY", "by", CELL_TEXT, 24 },
        { "REVISION", "revision", CELL_TEXT, 8 },
        { "AT", "at|received_at|acked_at", CELL_TIME, 0 },
};

/* The review queue: who reported it matters as much as what, since a
 * partner's report is not yet graded by an officer. A proposal (a grade
 * rise of an active alert that a reporter's report would make) shows the
 * rise it asks for ("info -> critical") and its id starts with P; its
 * summary names the alert. */
static const struct column pending_columns[] = {
        { "ID", "id", CELL_TEXT, DAWN_MAX_ID_CHARS }, { "GRADE", "grade_change|grade", CELL_TEXT, 20 },
        { "TYPE", "type", CELL_TEXT, 7 },
        { "AREA", "area", CELL_TEXT, 20 },            { "SOURCES", "sources", CELL_TEXT, 24 },
        { "RECEIVED", "issued_at", CELL_TIME, 16 },   { "SUMMARY", "summary", CELL_TEXT, 0 },
};

/* Escalation per subscriber: waiting (until DUE), acknowledged (BY-TO: by
 * whom), escalated (BY-TO: to whom), stopped (why). */
static const struct column escalation_columns[] = {
        { "SUBSCRIBER", "subscriber", CELL_SUBSCRIBER, 24 },
        { "STATE", "state", CELL_TEXT, 12 },
        { "DUE", "due_at", CELL_TIME, 16 },
        { "DECIDED", "decided_at", CELL_TIME, 16 },
        { "BY-TO-WHY", "by|to|reason", CELL_TEXT, 0 },
};

static const struct column unacked_columns[] = {
        { "ALERT", "alert", CELL_TEXT, DAWN_MAX_ID_CHARS },
        { "GRADE", "grade", CELL_TEXT, 9 },
        { "SUBSCRIBER", "subscriber", CELL_SUBSCRIBER, 24 },
        { "ESCALATION", "escalation", CELL_TEXT, 12 },
        { "WHEN", "due_at|decided_at", CELL_TIME, 16 },
        { "TO-WHY", "to|reason", CELL_TEXT, 0 },
};

/* Numbers that replied STOP; dawnd masks them before they leave it. */
static const struct column optout_columns[] = {
        { "NUMBER", "number", CELL_TEXT, 20 },
        { "SUBSCRIBERS", "subscribers", CELL_TEXT, 40 },
        { "SINCE", "since", CELL_TIME, 16 },
        { "VIA", "via", CELL_TEXT, 0 },
};

static const struct column route_columns[] = {
        { "SUBSCRIBER", "subscriber", CELL_SUBSCRIBER, 24 },
        { "KIND", "kind", CELL_TEXT, 14 },
        { "CHANNEL", "channel", CELL_TEXT, 7 },
        { "RECIPIENT", "recipient", CELL_TEXT, 0 },
};

/* ------------------------------------------------------------------ */
/* Human output, one function per kind of answer                        */

static const cJSON *result_object(const cJSON *answer, const char *key)
{
        const cJSON *item = get(answer, key);

        return cJSON_IsObject(item) ? item : NULL;
}

static const cJSON *result_array(const cJSON *answer, const char *key)
{
        const cJSON *item = get(answer, key);

        return cJSON_IsArray(item) ? item : NULL;
}

static void put_reasons(const cJSON *alert, int indent)
{
        const cJSON *reason;

        cJSON_ArrayForEach(reason, get(alert, "grade_reasons")) {
                if (!cJSON_IsString(reason))
                        continue;
                printf("%*s- ", indent, "");
                put_text(stdout, reason->valuestring, SIZE_MAX, indent + 2);
                putchar('\n');
        }
}

/* "A17  critical  active  batch  southampton  (revision 1)" */
static void put_alert_line(const cJSON *alert)
{
        static const char *const keys[] = { "id", "grade", "status", "type", "area" };
        const cJSON *revision = get(alert, "revision");
        char buf[TIME_TEXT_MAX];

        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                const char *text = scalar_text(get(alert, keys[i]), buf, sizeof buf);

                if (i > 0)
                        fputs("  ", stdout);
                put_text(stdout, *text ? text : "-", 40, -1);
        }
        if (cJSON_IsNumber(revision))
                printf("  (revision %d)", revision->valueint);
        putchar('\n');
}

static void put_note(const char *before, const char *text, const char *after)
{
        fputs(before, stdout);
        put_text(stdout, text, 80, -1);
        fputs(after, stdout);
}

/* issue, report-overdose, update, cancel, approve, reject */
void show_alert_result(const cJSON *request, const cJSON *answer)
{
        const cJSON *alert = result_object(answer, "alert");
        const char *id, *ref, *status, *cmd;

        if (!alert) {
                puts("done");
                return;
        }
        id = get_string(alert, "id");
        id = id ? id : "?";
        put_alert_line(alert);
        put_reasons(alert, 2);
        if (get_true(alert, "merged_into_existing") || get_true(answer, "merged_into_existing")) {
                put_note("merged into existing alert ", id, " as a corroboration\n");
        } else if (get_true(alert, "duplicate_of_submission") || get_true(answer, "duplicate_of_submission")) {
                ref = get_string(alert, "source_ref");
                put_note("already submitted as ", id, ref ? "" : "\n");
                if (ref)
                        put_note(" (source_ref ", ref, ")\n");
        }
        status = get_string(alert, "status");
        cmd = get_string(request, "cmd");
        if (status && strcmp(status, "pending") == 0 && cmd && strcmp(cmd, "issue") == 0)
                put_note("waiting for review: dawnctl approve ", id, "\n");
        if (get_true(alert, "proposal_approved"))
                put_note("proposal approved: the rise is applied to ", id, "\n");
        else if (get_true(alert, "proposal_rejected"))
                put_note("proposal rejected: alert ", id, " stays as it was\n");
}

/* The array under key as a table, or when_empty when there is none. */
static void show_rows(const cJSON *answer, const char *key, const struct column *cols, size_t ncols,
                      const char *when_empty)
{
        const cJSON *rows = result_array(answer, key);

        if (cJSON_GetArraySize(rows) == 0) {
                puts(when_empty);
                return;
        }
        print_table(rows, cols, ncols, 0);
}

void show_list(const cJSON *request, const cJSON *answer)
{
        show_rows(answer, "alerts", COLUMNS(alert_columns),
                  get_true(request, "all") ? "no alerts" : "no active alerts");
}

void show_pending(const cJSON *request, const cJSON *answer)
{
        (void)request;
        /* "alerts": what a dawnd from before proposals answers */
        show_rows(answer, get(answer, "pending") ? "pending" : "alerts", COLUMNS(pending_columns),
                  "nothing waiting for review");
}

void show_optouts(const cJSON *request, const cJSON *answer)
{
        (void)request;
        show_rows(answer, "optouts", COLUMNS(optout_columns), "no numbers have opted out");
}

static const struct column public_columns[] = {
        { "AREA", "area", CELL_TEXT, 24 },
        { "NAME", "name", CELL_TEXT, 30 },
        { "NUMBERS", "subscribers", CELL_TEXT, 0 },
};

void show_public(const cJSON *request, const cJSON *answer)
{
        const cJSON *removed = get(answer, "removed");
        const cJSON *n = get(answer, "areas_removed");
        const cJSON *numbers = get(answer, "numbers");
        const cJSON *cap = get(answer, "max_subscribers");

        (void)request;
        if (cJSON_IsString(removed))
                printf("removed %s from public texts (%d area(s))\n", removed->valuestring,
                       cJSON_IsNumber(n) ? (int)n->valuedouble : 0);
        if (cJSON_IsFalse(get(answer, "enabled")))
                puts("public texts are off (public.enabled = false)");
        if (cJSON_IsNumber(numbers) && cJSON_IsNumber(cap))
                printf("%.0f number(s) subscribed, of at most %.0f\n", numbers->valuedouble, cap->valuedouble);
        show_rows(answer, "areas", COLUMNS(public_columns), "no public subscribers");
}

void show_route(const cJSON *request, const cJSON *answer)
{
        const cJSON *deliveries = result_array(answer, "deliveries");

        (void)request;
        if (cJSON_GetArraySize(deliveries) == 0) {
                puts("no subscriber would receive this");
                return;
        }
        print_table(deliveries, COLUMNS(route_columns), 0);
}

/* One value after "label: ". Times get the local time and how far away
 * they are, because "expires in 3h" is what an officer wants to know. */
static void put_value(const char *key, const cJSON *item, int indent)
{
        char buf[TIME_TEXT_MAX * 4], when[TIME_TEXT_MAX], ago[TIME_TEXT_MAX];
        time_t t;

        if (cJSON_IsString(item) && ends_with(key, "_at") && parse_rfc3339(item->valuestring, &t) == 0) {
                long long delta = (long long)(t - time(NULL));

                format_duration(delta, ago, sizeof ago);
                format_time(item->valuestring, "%Y-%m-%d %H:%M:%S %Z", when, sizeof when);
                if (delta == 0)
                        printf("%s (just now)", when);
                else
                        printf("%s (%s%s%s)", when, delta > 0 ? "in " : "", ago, delta > 0 ? "" : " ago");
        } else if (cJSON_IsNumber(item) && (strcmp(key, "uptime") == 0 || ends_with(key, "_seconds"))) {
                format_duration((long long)item->valuedouble, when, sizeof when);
                fputs(when, stdout);
        } else {
                put_text(stdout, scalar_text(item, buf, sizeof buf), SIZE_MAX, indent);
        }
}

static void put_field(const char *label, const char *key, const cJSON *item, int width)
{
        int pad = width - (int)put_text(stdout, label, 60, -1) - 1;

        printf(":%*s", pad > 1 ? pad : 1, "");
        put_value(key, item, width);
        putchar('\n');
}

static void put_object(const cJSON *object, int indent);

/* An array of objects in a generic answer: one "- k: v, k: v" line each. */
static void put_object_list(const cJSON *list, int indent)
{
        const cJSON *row, *item;
        char buf[TIME_TEXT_MAX * 4], label[64];

        cJSON_ArrayForEach(row, list) {
                bool first = true;

                if (!cJSON_IsObject(row))
                        continue;
                printf("%*s- ", indent, "");
                cJSON_ArrayForEach(item, row) {
                        printf("%s", first ? "" : ", ");
                        put_text(stdout, label_of(item->string, label, sizeof label), 40, -1);
                        fputs(": ", stdout);
                        put_text(stdout, scalar_text(item, buf, sizeof buf), 60, -1);
                        first = false;
                }
                putchar('\n');
        }
}

/* status and anything else without a layout of its own: scalars as
 * "key: value", nested objects indented under their key. */
static void put_object(const cJSON *object, int indent)
{
        const cJSON *item;
        char label[64];

        cJSON_ArrayForEach(item, object) {
                const char *name = label_of(item->string, label, sizeof label);

                if (ends_with(name, " seconds") && cJSON_IsNumber(item))
                        label[strlen(name) - strlen(" seconds")] = '\0';
                printf("%*s", indent, "");
                put_text(stdout, name, 60, -1);
                if (cJSON_IsObject(item) && !item->child) {
                        fputs(": none\n", stdout);
                } else if (cJSON_IsObject(item)) {
                        fputs(":\n", stdout);
                        put_object(item, indent + 2);
                } else if (cJSON_IsArray(item) && cJSON_IsObject(item->child)) {
                        fputs(":\n", stdout);
                        put_object_list(item, indent + 2);
                } else {
                        fputs(": ", stdout);
                        put_value(item->string, item, indent + 2);
                        putchar('\n');
                }
        }
}

void show_status(const cJSON *request, const cJSON *answer)
{
        const cJSON *status = result_object(answer, "status");

        (void)request;
        put_object(status ? status : answer, 0);
}

/* dawnctl prune [--dry-run] */
void show_prune(const cJSON *request, const cJSON *answer)
{
        const cJSON *p = result_object(answer, "prune"), *ch, *id;
        const char *before;
        char when[TIME_TEXT_MAX];
        bool dry;

        (void)request;
        if (!p) {
                puts("done");
                return;
        }
        dry = get_true(p, "dry_run");
        before = get_string(p, "ended_before");
        printf("%s", dry ? "would remove" : "removed");
        printf(" the delivery details of %.0f alert(s) that ended before ",
               cJSON_IsNumber(get(p, "alerts")) ? get(p, "alerts")->valuedouble : 0);
        put_text(stdout, before ? format_time(before, "%Y-%m-%d %H:%M", when, sizeof when) : "?", 40, -1);
        printf(": %.0f deliveries", cJSON_IsNumber(get(p, "deliveries")) ? get(p, "deliveries")->valuedouble : 0);
        cJSON_ArrayForEach(ch, get(p, "channels")) {
                if (!cJSON_IsNumber(ch))
                        continue;
                printf("%s", ch == get(p, "channels")->child ? " (" : ", ");
                put_text(stdout, ch->string, 20, -1);
                printf(" %.0f", ch->valuedouble);
                if (!ch->next)
                        putchar(')');
        }
        putchar('\n');
        if (dry && cJSON_GetArraySize(get(p, "alert_ids")) > 0) {
                fputs("alerts:", stdout);
                cJSON_ArrayForEach(id, get(p, "alert_ids")) {
                        if (!cJSON_IsString(id))
                                continue;
                        putchar(' ');
                        put_text(stdout, id->valuestring, 40, -1);
                }
                puts(get_true(p, "more") ? " ..." : "");
                puts("nothing was removed (dry run); counts per channel and state would be kept");
        } else if (dry) {
                puts("nothing was removed (dry run)");
        } else if (get_true(p, "more")) {
                puts("more remain: dawnd removes them in further steps by itself");
        }
}

void show_reload(const cJSON *request, const cJSON *answer)
{
        (void)request;
        (void)answer;
        puts("configuration reloaded");
}

void show_resume(const cJSON *request, const cJSON *answer)
{
        const cJSON *channel = get(answer, "channel"), *resumed = get(answer, "resumed");
        const char *name = cJSON_IsString(channel) ? channel->valuestring : "?";
        (void)request;
        if (cJSON_IsTrue(resumed))
                printf("channel %s resumed: what waited is being sent\n", name);
        else
                printf("channel %s was not paused; nothing changed\n", name);
}

static void show_section(const cJSON *alert, const char *key, const char *title, const struct column *cols,
                         size_t ncols)
{
        const cJSON *rows = get(alert, key);

        if (!cJSON_IsArray(rows))
                return;
        printf("\n%s:", title);
        if (cJSON_GetArraySize(rows) == 0) {
                puts(" none");
                return;
        }
        putchar('\n');
        print_table(rows, cols, ncols, 2);
}

/* The fields an officer reads first, in that order; anything else dawnd
 * sends follows, so a new field shows up without a new dawnctl. */
static const struct {
        const char *key, *label;
} shown_fields[] = {
        { "id", "id" },
        { "type", "type" },
        { "area", "area" },
        { "status", "status" },
        { "grade", "grade" },
        { "summary", "summary" },
        { "sold_as", "sold as" },
        { "adulterants", "adulterants" },
        { "appearance", "appearance" },
        { "advice", "advice" },
        { "evidence", "evidence" },
        { "casualties", "casualties" },
        { "fatalities", "fatalities" },
        { "sources", "sources" },
        { "source_ref", "source ref" },
        { "scope", "scope" },
        { "revision", "revision" },
        { "occurred_at", "occurred" },
        { "issued_at", "issued" },
        { "updated_at", "updated" },
        { "expires_at", "expires" },
};

#define SHOW_LABEL_WIDTH 13

static bool is_shown_elsewhere(const char *key)
{
        static const char *const keys[] = { "grade_reasons", "deliveries", "corroborations", "acks",
                                            "delivery_totals", "details_removed_at" };

        for (size_t i = 0; i < sizeof shown_fields / sizeof shown_fields[0]; i++)
                if (strcmp(shown_fields[i].key, key) == 0)
                        return true;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                if (strcmp(keys[i], key) == 0)
                        return true;
        return false;
}

static void show_alert_fields(const cJSON *alert)
{
        const cJSON *item;
        char label[64];

        for (size_t i = 0; i < sizeof shown_fields / sizeof shown_fields[0]; i++) {
                item = get(alert, shown_fields[i].key);
                if (!item)
                        continue;
                put_field(shown_fields[i].label, shown_fields[i].key, item, SHOW_LABEL_WIDTH);
                if (strcmp(shown_fields[i].key, "grade") == 0)
                        put_reasons(alert, 2);
        }
        cJSON_ArrayForEach(item, alert) {
                if (is_shown_elsewhere(item->string))
                        continue;
                if (cJSON_IsObject(item) || (cJSON_IsArray(item) && cJSON_IsObject(item->child))) {
                        putchar('\n');
                        put_text(stdout, label_of(item->string, label, sizeof label), 60, -1);
                        fputs(":\n", stdout);
                        if (cJSON_IsObject(item))
                                put_object(item, 2);
                        else
                                put_object_list(item, 2);
                        continue;
                }
                put_field(label_of(item->string, label, sizeof label), item->string, item, SHOW_LABEL_WIDTH);
        }
}

/* A pruned alert (retention): what was kept of its deliveries, per
 * channel, "SMS: 41 delivered, 1 failed (details removed after 90 days)". */
static void show_delivery_totals(const cJSON *alert)
{
        const cJSON *totals = get(alert, "delivery_totals"), *channel, *state;
        const char *removed = get_string(alert, "details_removed_at"), *ended = get_string(alert, "updated_at");
        char after[TIME_TEXT_MAX + 16] = "";
        time_t r, e;

        if (removed && ended && parse_rfc3339(removed, &r) == 0 && parse_rfc3339(ended, &e) == 0 && r >= e) {
                long long days = (long long)(r - e) / 86400;
                char d[TIME_TEXT_MAX];

                if (days >= 1) {
                        snprintf(after, sizeof after, " after %lld day%s", days, days == 1 ? "" : "s");
                } else {
                        format_duration((long long)(r - e), d, sizeof d);
                        snprintf(after, sizeof after, " after %s", d);
                }
        }
        printf("\nDeliveries:");
        if (!cJSON_IsObject(totals) || !totals->child) {
                printf(" none (details removed%s)\n", after);
                return;
        }
        putchar('\n');
        cJSON_ArrayForEach(channel, totals) {
                const char *name = channel->string;
                bool first = true;

                fputs("  ", stdout);
                put_text(stdout, strcmp(name, "sms") == 0 ? "SMS" : strcmp(name, "mqtt") == 0 ? "MQTT" : name, 20, -1);
                fputs(":", stdout);
                cJSON_ArrayForEach(state, channel) {
                        if (!cJSON_IsNumber(state))
                                continue;
                        printf("%s %.0f ", first ? "" : ",", state->valuedouble);
                        put_text(stdout, state->string, 24, -1);
                        first = false;
                }
                printf(" (details removed%s)\n", after);
        }
}

void show_alert(const cJSON *request, const cJSON *answer)
{
        const cJSON *alert = result_object(answer, "alert");

        (void)request;
        if (!alert) {
                puts("no alert in the answer");
                return;
        }
        show_alert_fields(alert);
        if (get(alert, "details_removed_at") && cJSON_GetArraySize(get(alert, "deliveries")) == 0)
                show_delivery_totals(alert);
        else
                show_section(alert, "deliveries", "Deliveries", COLUMNS(delivery_columns));
        show_section(alert, "corroborations", "Corroborations", COLUMNS(corroboration_columns));
        show_section(alert, "acks", "Acknowledgements", COLUMNS(ack_columns));
        show_section(alert, "escalations", "Escalations", COLUMNS(escalation_columns));
}

void show_unacked(const cJSON *request, const cJSON *answer)
{
        (void)request;
        show_rows(answer, "unacked", COLUMNS(unacked_columns), "every subscriber of the active alerts has acknowledged");
        if (get_true(answer, "truncated"))
                puts("(more not shown)");
}

/* ------------------------------------------------------------------ */
/* History and audit                                                     */

/* One line per entry, columns aligned; the detail, last, is never cut:
 * grade reasons and a cancel's reason are what the trail is read for. */
static const struct column history_columns[] = {
        { "WHEN", "at", CELL_SECONDS, 19 },   { "ACTOR", "actor", CELL_TEXT, 40 },
        { "EVENT", "event", CELL_TEXT, 24 },  { "REV", "revision", CELL_TEXT, 4 },
        { "DETAIL", "detail", CELL_TEXT, 0 },
};

static const struct column audit_columns[] = {
        { "WHEN", "at", CELL_SECONDS, 19 },   { "ACTOR", "actor", CELL_TEXT, 40 },
        { "ACTION", "action", CELL_TEXT, 24 }, { "ALERT", "alert", CELL_TEXT, DAWN_MAX_ID_CHARS },
        { "DETAIL", "detail", CELL_TEXT, 0 },
};

static void print_trail(const cJSON *rows, const struct column *cols, size_t ncols)
{
        size_t widths[16];
        char buf[TIME_TEXT_MAX * 4];
        const cJSON *row;

        table_widths(rows, cols, ncols, widths);
        widths[ncols - 1] = SIZE_MAX;
        for (size_t i = 0; i < ncols; i++)
                put_cell(cols[i].title, widths[i], i + 1 == ncols);
        putchar('\n');
        cJSON_ArrayForEach(row, rows) {
                if (!cJSON_IsObject(row))
                        continue;
                for (size_t i = 0; i < ncols; i++)
                        put_cell(cell_text(row, &cols[i], buf, sizeof buf), widths[i], i + 1 == ncols);
                putchar('\n');
        }
}

void show_history(const cJSON *request, const cJSON *answer)
{
        const cJSON *rows = result_array(answer, "history");

        (void)request;
        if (cJSON_GetArraySize(rows) == 0) {
                puts("no events recorded");
                return;
        }
        print_trail(rows, COLUMNS(history_columns));
        if (get_true(answer, "more"))
                printf("(only the first %d events are shown)\n", cJSON_GetArraySize(rows));
}

void show_audit(const cJSON *request, const cJSON *answer)
{
        const cJSON *rows = result_array(answer, "audit");

        if (cJSON_GetArraySize(rows) == 0) {
                puts(get(request, "since_seconds") || get(request, "actor") ? "no audit entries match"
                                                                             : "no audit entries");
                return;
        }
        print_trail(rows, COLUMNS(audit_columns));
        if (get_true(answer, "more"))
                printf("(only the newest %d entries are shown: narrow with --since or --actor, or raise --limit)\n",
                       cJSON_GetArraySize(rows));
}

/* ------------------------------------------------------------------ */
/* The answer                                                            */

/* A terminal shows JSON too: what put_text() makes visible is written as
 * \u escapes here, which any JSON reader takes as the same characters. */
static void print_json(const cJSON *item)
{
        char *text = cJSON_Print(item), *shown;

        if (!text)
                out_of_memory();
        shown = dawn_json_escape_hidden(text);
        if (!shown)
                out_of_memory();
        puts(shown);
        free(shown);
        cJSON_free(text);
}

/* --json prints the result the command is about; an answer without that
 * key is printed whole, less "ok", so nothing dawnd said is lost. */
static void print_json_result(const struct command *cmd, const cJSON *answer)
{
        const cJSON *result = cmd->result ? get(answer, cmd->result) : NULL;
        cJSON *rest;

        if (result) {
                print_json(result);
                return;
        }
        rest = must(cJSON_Duplicate(answer, true));
        cJSON_DeleteItemFromObjectCaseSensitive(rest, "ok");
        print_json(rest);
        cJSON_Delete(rest);
}

static int report_refusal(const cJSON *answer)
{
        const char *error = get_string(answer, "error");
        const char *field = get_string(answer, "field");

        fputs("dawnctl: ", stderr);
        put_text(stderr, error && *error ? error : "the request was refused", SIZE_MAX, -1);
        if (field && *field && (!error || !strstr(error, field))) {
                fputs(" (field: ", stderr);
                put_text(stderr, field, 100, -1);
                fputc(')', stderr);
        }
        fputc('\n', stderr);
        if (get_true(answer, "temporary"))
                fputs("dawnctl: this is temporary; try again shortly\n", stderr);
        return DAWN_EXIT_REFUSED;
}

int report(const struct invocation *inv, const cJSON *answer, bool json)
{
        const cJSON *ok = get(answer, "ok");

        if (!cJSON_IsBool(ok)) {
                fputs("dawnctl: the answer has no \"ok\": is that socket dawnd's?\n", stderr);
                return DAWN_EXIT_UNREACHABLE;
        }
        if (cJSON_IsFalse(ok))
                return report_refusal(answer);
        if (inv->html_file)
                return write_summary_html(inv->html_file, answer);
        if (json)
                print_json_result(inv->command, answer);
        else
                inv->command->show(inv->request, answer);
        return DAWN_EXIT_OK;
}
