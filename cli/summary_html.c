/* dawnctl summary --html: one page an officer can attach to a panel's
 * minutes. Self-contained on purpose: no script, no fonts, no images but
 * inline SVG, and a Content-Security-Policy that forbids fetching anything,
 * so that opening it from an email attachment tells nobody anything. Every
 * chart has a <title> and a table with the same numbers beside it, for
 * screen readers and for print. Every text from dawnd (area ids, subscriber
 * kinds, channel names come from the operator's config) is escaped. */

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "dawn/protocol.h"
#include "render.h"
#include "summary_render.h"

/* ---- a growing string; dawnctl stops when memory runs out ---- */

struct sb {
        char *p;
        size_t len, cap;
};

static void sb_grow(struct sb *b, size_t more)
{
        if (b->len + more + 1 <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + more + 1)
                cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
                out_of_memory();
        b->p = p;
        b->cap = cap;
}

static void sb_put(struct sb *b, const char *s)
{
        size_t n = strlen(s);
        sb_grow(b, n);
        memcpy(b->p + b->len, s, n + 1);
        b->len += n;
}

static __attribute__((format(printf, 2, 3))) void sb_printf(struct sb *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        sb_grow(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

static void sb_esc(struct sb *b, const char *s)
{
        for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
                switch (*p) {
                case '&': sb_put(b, "&amp;"); break;
                case '<': sb_put(b, "&lt;"); break;
                case '>': sb_put(b, "&gt;"); break;
                case '"': sb_put(b, "&quot;"); break;
                case '\'': sb_put(b, "&#39;"); break;
                default:
                        if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
                                sb_put(b, "\xef\xbf\xbd"); /* U+FFFD: HTML forbids these */
                        } else {
                                sb_grow(b, 1);
                                b->p[b->len++] = (char)*p;
                                b->p[b->len] = '\0';
                        }
                }
        }
}

static char *sb_take(struct sb *b)
{
        sb_grow(b, 0);
        b->p[b->len] = '\0'; /* nothing may have been written yet */
        return b->p;
}

char *summary_html_escape(const char *s)
{
        struct sb b = { 0 };
        sb_esc(&b, s);
        return sb_take(&b);
}

void summary_format_seconds(double seconds, char *buf, size_t n)
{
        if (!(seconds >= 0))
                seconds = 0;
        long long s = llround(seconds);
        if (seconds < 10)
                snprintf(buf, n, "%.2f s", seconds);
        else if (seconds < 60)
                snprintf(buf, n, "%.1f s", seconds);
        else if (s < 3600)
                snprintf(buf, n, "%lld min %lld s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, n, "%lld h %lld min", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, n, "%lld d %lld h", s / 86400, s % 86400 / 3600);
}

/* ---- charts ---- */

/* Colours that stay apart in greyscale print: dark blue, red, light grey. */
static const char *const part_colours[3] = { "#1f4e8c", "#c0392b", "#b8bec6" };

#define CHART_WIDTH 430
#define CHART_LABEL 120 /* the labels' column */
#define CHART_BAR 240   /* the longest bar; the rest holds its value */
#define MARKS_AXIS 150  /* p50/p95: the scale, then the values in words */
#define CHART_ROW 20

static void svg_open(struct sb *b, const char *id, const char *title, int height)
{
        sb_printf(b, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                     " role=\"img\" aria-labelledby=\"",
                  CHART_WIDTH, height, CHART_WIDTH, height);
        sb_esc(b, id);
        sb_put(b, "\"><title id=\"");
        sb_esc(b, id);
        sb_put(b, "\">");
        sb_esc(b, title);
        sb_put(b, "</title>\n");
}

/* A label cut to what its column holds, whole characters only. */
static void svg_label(struct sb *b, const char *label)
{
        size_t max = 22, len = strlen(label);
        if (len <= max) {
                sb_esc(b, label);
                return;
        }
        while (max > 0 && ((unsigned char)label[max] & 0xc0) == 0x80)
                max--;
        char *cut = strndup(label, max);
        if (!cut)
                out_of_memory();
        sb_esc(b, cut);
        sb_put(b, "\xe2\x80\xa6"); /* … */
        free(cut);
}

char *summary_svg_bars(const char *id, const char *title, const struct summary_bar *bars, size_t n, size_t nparts,
                       const char *const *part_names, double scale_max)
{
        struct sb b = { 0 };
        double max = scale_max;
        if (nparts < 1)
                nparts = 1;
        if (nparts > 3)
                nparts = 3;
        for (size_t i = 0; max <= 0 && i < n; i++) {
                double total = 0;
                for (size_t k = 0; k < nparts; k++)
                        total += bars[i].parts[k] > 0 ? bars[i].parts[k] : 0;
                if (total > max)
                        max = total;
        }
        if (max <= 0)
                max = 1;
        int legend = nparts > 1 && part_names ? CHART_ROW : 0;
        int height = (int)(n ? n : 1) * CHART_ROW + 8 + legend;
        svg_open(&b, id, title, height);
        if (n == 0)
                sb_printf(&b, "<text x=\"0\" y=\"18\" font-size=\"13\" fill=\"#444\">none</text>\n");
        for (size_t i = 0; i < n; i++) {
                int y = 4 + (int)i * CHART_ROW;
                double x = CHART_LABEL, total = 0;
                sb_printf(&b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\" fill=\"#222\">",
                          CHART_LABEL - 6, y + 15);
                svg_label(&b, bars[i].label ? bars[i].label : "");
                sb_put(&b, "</text>\n");
                for (size_t k = 0; k < nparts; k++) {
                        double v = bars[i].parts[k] > 0 ? bars[i].parts[k] : 0;
                        double w = v / max * CHART_BAR;
                        total += v;
                        if (w <= 0)
                                continue;
                        sb_printf(&b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"%s\"><title>",
                                  x, y + 2, w, part_colours[k]);
                        sb_esc(&b, bars[i].label);
                        if (nparts > 1 && part_names) {
                                sb_put(&b, ", ");
                                sb_esc(&b, part_names[k]);
                        }
                        sb_printf(&b, ": %g</title></rect>\n", v);
                        x += w;
                }
                sb_printf(&b, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" fill=\"#222\">", x + 5, y + 15);
                if (bars[i].value_text)
                        sb_esc(&b, bars[i].value_text);
                else
                        sb_printf(&b, "%.0f", total);
                sb_put(&b, "</text>\n");
        }
        for (size_t k = 0; legend && k < nparts; k++) {
                int x = CHART_LABEL + (int)k * 90, y = height - legend + 4;
                sb_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", x, y, part_colours[k]);
                sb_printf(&b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#222\">", x + 16, y + 11);
                sb_esc(&b, part_names[k]);
                sb_put(&b, "</text>\n");
        }
        sb_put(&b, "</svg>");
        return sb_take(&b);
}

char *summary_svg_marks(const char *id, const char *title, const struct summary_mark *marks, size_t n)
{
        struct sb b = { 0 };
        double max = 0;
        char t50[32], t95[32];
        for (size_t i = 0; i < n; i++)
                if (marks[i].p95 > max)
                        max = marks[i].p95;
        if (max <= 0)
                max = 1;
        int height = (int)(n ? n : 1) * CHART_ROW + 8;
        svg_open(&b, id, title, height);
        if (n == 0)
                sb_printf(&b, "<text x=\"0\" y=\"18\" font-size=\"13\" fill=\"#444\">none</text>\n");
        for (size_t i = 0; i < n; i++) {
                int y = 4 + (int)i * CHART_ROW;
                double x50 = CHART_LABEL + marks[i].p50 / max * MARKS_AXIS;
                double x95 = CHART_LABEL + marks[i].p95 / max * MARKS_AXIS;
                summary_format_seconds(marks[i].p50, t50, sizeof(t50));
                summary_format_seconds(marks[i].p95, t95, sizeof(t95));
                sb_printf(&b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"end\" fill=\"#222\">",
                          CHART_LABEL - 6, y + 15);
                svg_label(&b, marks[i].label ? marks[i].label : "");
                sb_put(&b, "</text>\n");
                sb_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#b8bec6\" stroke-width=\"2\"/>\n",
                          CHART_LABEL, y + 10, x95, y + 10);
                sb_printf(&b, "<circle cx=\"%.1f\" cy=\"%d\" r=\"5\" fill=\"#1f4e8c\"><title>p50 %s</title></circle>\n",
                          x50, y + 10, t50);
                sb_printf(&b, "<rect x=\"%.1f\" y=\"%d\" width=\"3\" height=\"14\" fill=\"#c0392b\"><title>p95 %s</title></rect>\n",
                          x95 - 1.5, y + 3, t95);
                sb_printf(&b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#222\">p50 %s, p95 %s</text>\n",
                          CHART_LABEL + MARKS_AXIS + 8, y + 15, t50, t95);
        }
        sb_put(&b, "</svg>");
        return sb_take(&b);
}

/* ---- the page ---- */

static double num(const cJSON *o, const char *key)
{
        const cJSON *v = get(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool has_num(const cJSON *o, const char *key)
{
        return cJSON_IsNumber(get(o, key));
}

static void put_seconds(struct sb *b, const cJSON *o, const char *key)
{
        char t[32];
        if (!has_num(o, key)) {
                sb_put(b, "\xe2\x80\x94"); /* — */
                return;
        }
        summary_format_seconds(num(o, key), t, sizeof(t));
        sb_put(b, t);
}

static void put_svg(struct sb *b, char *svg)
{
        sb_put(b, svg);
        free(svg);
}

/* A chart of one count per key of object, and its table. */
static void count_figure(struct sb *b, const char *id, const char *caption, const char *what, const cJSON *object,
                         const cJSON *names)
{
        size_t n = (size_t)cJSON_GetArraySize(object), i = 0;
        struct summary_bar *bars = calloc(n ? n : 1, sizeof(*bars));
        const cJSON *item;
        if (!bars)
                out_of_memory();
        cJSON_ArrayForEach(item, object) {
                const char *name = get_string(names, item->string);
                bars[i++] = (struct summary_bar){ name ? name : item->string, { item->valuedouble, 0, 0 }, NULL };
        }
        sb_put(b, "<figure>\n<figcaption>");
        sb_esc(b, caption);
        sb_put(b, "</figcaption>\n");
        sb_put(b, "<div class=\"pair\">");
        put_svg(b, summary_svg_bars(id, caption, bars, n, 1, NULL, 0));
        sb_put(b, "\n<table><thead><tr><th scope=\"col\">");
        sb_esc(b, what);
        sb_put(b, "</th><th scope=\"col\">alerts</th></tr></thead><tbody>\n");
        cJSON_ArrayForEach(item, object) {
                const char *name = get_string(names, item->string);
                sb_put(b, "<tr><td>");
                sb_esc(b, name ? name : item->string);
                sb_printf(b, "</td><td class=\"n\">%.0f</td></tr>\n", item->valuedouble);
        }
        sb_put(b, "</tbody></table></div>\n</figure>\n");
        free(bars);
}

static void alerts_section(struct sb *b, const cJSON *s)
{
        const cJSON *a = get(s, "alerts"), *ri = get(s, "report_to_issue");
        sb_printf(b, "<section>\n<h2>Alerts issued: %.0f</h2>\n<div class=\"figures\">\n", num(a, "total"));
        count_figure(b, "chart-type", "Alerts by type", "type", get(a, "by_type"), NULL);
        count_figure(b, "chart-grade", "Alerts by grade", "grade", get(a, "by_grade"), NULL);
        count_figure(b, "chart-area", "Alerts by area", "area", get(a, "by_area"), get(a, "area_names"));
        sb_put(b, "</div>\n<p><strong>From first report to issue:</strong> ");
        if (num(ri, "alerts") > 0) {
                sb_printf(b, "%.0f alert%s stood on reports (clusters of overdose reports, and reports an officer "
                             "approved): median ",
                          num(ri, "alerts"), num(ri, "alerts") == 1 ? "" : "s");
                put_seconds(b, ri, "median_seconds");
                sb_put(b, ", longest ");
                put_seconds(b, ri, "max_seconds");
                sb_put(b, ".");
        } else {
                sb_put(b, "No alert in this window stood on reports (clusters, or reports an officer approved).");
        }
        sb_put(b, "</p>\n</section>\n");
}

static void delivery_section(struct sb *b, const cJSON *s)
{
        static const char *const parts[] = { "succeeded", "failed", "other" };
        const cJSON *d = get(s, "delivery"), *ch;
        size_t n = (size_t)cJSON_GetArraySize(d), i = 0, m = 0;
        struct summary_bar *bars = calloc(n ? n : 1, sizeof(*bars));
        struct summary_mark *marks = calloc(n ? n : 1, sizeof(*marks));
        char (*rates)[32] = calloc(n ? n : 1, sizeof(*rates));
        if (!bars || !marks || !rates)
                out_of_memory();
        cJSON_ArrayForEach(ch, d) {
                snprintf(rates[i], sizeof(rates[i]), "%.0f of %.0f", num(ch, "succeeded"), num(ch, "total"));
                bars[i] = (struct summary_bar){ ch->string,
                                                { num(ch, "succeeded"), num(ch, "failed"), num(ch, "other") },
                                                rates[i] };
                i++;
                if (has_num(ch, "p50_seconds"))
                        marks[m++] = (struct summary_mark){ ch->string, num(ch, "p50_seconds"), num(ch, "p95_seconds") };
        }
        sb_put(b, "<section>\n<h2>Delivery</h2>\n<div class=\"figures\">\n<figure>\n"
                  "<figcaption>Deliveries per channel: succeeded (delivered or sent), failed, other</figcaption>\n");
        put_svg(b, summary_svg_bars("chart-delivery", "Deliveries per channel: succeeded, failed, other", bars, n, 3,
                                    parts, 0));
        sb_put(b, "\n</figure>\n<figure>\n<figcaption>Time to deliver: p50 (dot) and p95 (bar)</figcaption>\n");
        put_svg(b, summary_svg_marks("chart-delivery-time", "Time to deliver per channel, p50 and p95", marks, m));
        sb_put(b, "\n</figure>\n</div>\n<table><thead><tr><th scope=\"col\">channel</th><th scope=\"col\">succeeded</th>"
                  "<th scope=\"col\">failed</th><th scope=\"col\">other</th><th scope=\"col\">success</th>"
                  "<th scope=\"col\">p50</th><th scope=\"col\">p95</th></tr></thead><tbody>\n");
        cJSON_ArrayForEach(ch, d) {
                sb_put(b, "<tr><td>");
                sb_esc(b, ch->string);
                sb_printf(b, "</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f</td>",
                          num(ch, "succeeded"), num(ch, "failed"), num(ch, "other"));
                if (has_num(ch, "success_rate"))
                        sb_printf(b, "<td class=\"n\">%.1f%%</td><td class=\"n\">", 100 * num(ch, "success_rate"));
                else
                        sb_put(b, "<td class=\"n\">\xe2\x80\x94</td><td class=\"n\">");
                put_seconds(b, ch, "p50_seconds");
                sb_put(b, "</td><td class=\"n\">");
                put_seconds(b, ch, "p95_seconds");
                sb_put(b, "</td></tr>\n");
        }
        sb_put(b, "</tbody></table>\n</section>\n");
        free(bars);
        free(marks);
        free(rates);
}

static void acks_section(struct sb *b, const cJSON *s)
{
        const cJSON *a = get(s, "acks"), *k;
        size_t n = (size_t)cJSON_GetArraySize(a), i = 0;
        struct summary_bar *bars = calloc(n ? n : 1, sizeof(*bars));
        char (*rates)[32] = calloc(n ? n : 1, sizeof(*rates));
        if (!bars || !rates)
                out_of_memory();
        cJSON_ArrayForEach(k, a) {
                snprintf(rates[i], sizeof(rates[i]), "%.0f%% (%.0f of %.0f)", 100 * num(k, "rate"),
                         num(k, "acknowledged"), num(k, "due"));
                bars[i] = (struct summary_bar){ k->string, { 100 * num(k, "rate"), 0, 0 }, rates[i] };
                i++;
        }
        sb_put(b, "<section>\n<h2>Acknowledgements</h2>\n<figure>\n"
                  "<figcaption>Share of alerts acknowledged, per subscriber kind</figcaption>\n");
        sb_put(b, "<div class=\"pair\">");
        put_svg(b, summary_svg_bars("chart-acks", "Share of alerts acknowledged, per subscriber kind", bars, n, 1, NULL,
                                    100));
        sb_put(b, "\n<table><thead><tr><th scope=\"col\">subscriber kind</th><th scope=\"col\">due</th>"
                  "<th scope=\"col\">acknowledged</th><th scope=\"col\">rate</th>"
                  "<th scope=\"col\">median time to ack</th></tr></thead><tbody>\n");
        cJSON_ArrayForEach(k, a) {
                sb_put(b, "<tr><td>");
                sb_esc(b, k->string);
                sb_printf(b, "</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f%%</td>"
                             "<td class=\"n\">",
                          num(k, "due"), num(k, "acknowledged"), 100 * num(k, "rate"));
                put_seconds(b, k, "median_seconds");
                sb_put(b, "</td></tr>\n");
        }
        sb_put(b, "</tbody></table></div>\n</figure>\n</section>\n");
        free(bars);
        free(rates);
}

static void people_section(struct sb *b, const cJSON *s)
{
        const cJSON *e = get(s, "escalations"), *o = get(s, "optouts"), *p = get(s, "public");
        sb_printf(b, "<section>\n<h2>Escalations, opt-outs and public subscriptions</h2>\n<div class=\"pair\">\n"
                     "<table><caption>Escalations</caption><tbody>\n"
                     "<tr><th scope=\"row\">clocks started</th><td class=\"n\">%.0f</td></tr>\n"
                     "<tr><th scope=\"row\">escalated (nobody acknowledged in time)</th><td class=\"n\">%.0f</td></tr>\n"
                     "<tr><th scope=\"row\">acknowledged in time</th><td class=\"n\">%.0f</td></tr>\n"
                     "<tr><th scope=\"row\">still waiting</th><td class=\"n\">%.0f</td></tr>\n"
                     "<tr><th scope=\"row\">stopped (cancelled or expired)</th><td class=\"n\">%.0f</td></tr>\n"
                     "</tbody></table>\n",
                  num(e, "started"), num(e, "escalated"), num(e, "acknowledged_in_time"), num(e, "waiting"),
                  num(e, "stopped"));
        sb_printf(b, "<table><caption>Opt-outs and public subscriptions</caption><tbody>\n"
                     "<tr><th scope=\"row\">numbers that replied STOP in the window</th><td class=\"n\">%.0f</td></tr>\n"
                     "<tr><th scope=\"row\">numbers opted out in all</th><td class=\"n\">%.0f</td></tr>\n"
                     "<tr><th scope=\"row\">public subscribers (numbers)</th><td class=\"n\">%.0f</td></tr>\n"
                     "<tr><th scope=\"row\">public subscriptions (number and area)</th><td class=\"n\">%.0f</td></tr>\n"
                     "<tr><th scope=\"row\">public subscriptions made in the window</th><td class=\"n\">%.0f</td></tr>\n"
                     "</tbody></table>\n</div>\n</section>\n",
                  num(o, "in_window"), num(o, "total"), num(p, "numbers"), num(p, "subscriptions"),
                  num(p, "joined_in_window"));
}

static const char page_style[] =
        "body{font-family:sans-serif;color:#222;max-width:60em;margin:1.5em auto;padding:0 1em;line-height:1.4}"
        "h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin:1em 0 .4em}"
        "h3{font-size:1em}.window{color:#444;margin-top:0}"
        ".figures{display:flex;flex-wrap:wrap;gap:0 2em}figure{margin:.4em 0}"
        ".pair{display:flex;flex-wrap:wrap;align-items:flex-start;gap:0 1.5em}"
        "figcaption{font-weight:bold;font-size:.9em;margin-bottom:.3em}"
        "table{border-collapse:collapse;font-size:.85em;margin:.3em 0}"
        "th,td{border:1px solid #ccc;padding:.1em .5em;text-align:left}td.n{text-align:right}"
        "caption{font-weight:bold;text-align:left;padding-bottom:.2em}th[scope=row]{font-weight:normal}"
        "footer{color:#555;font-size:.85em;margin-top:1.5em}"
        "svg{max-width:100%;height:auto;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
        "@media print{body{margin:0;max-width:none}section{break-inside:avoid}}";

/* "2026-12-05T04:11:38Z" -> "5 Dec 2026 04:11 UTC"; the text as it is otherwise. */
static void put_when(struct sb *b, const char *rfc3339)
{
        char buf[64];
        struct tm tm;
        time_t t;
        if (rfc3339 && parse_rfc3339(rfc3339, &t) == 0 && gmtime_r(&t, &tm) &&
            strftime(buf, sizeof(buf), "%-d %b %Y %H:%M UTC", &tm) > 0)
                sb_esc(b, buf);
        else
                sb_esc(b, rfc3339 ? rfc3339 : "?");
}

/* 1000000 -> "1,000,000" */
static const char *thousands(double v, char *buf, size_t n)
{
        char digits[32];
        int len = snprintf(digits, sizeof(digits), "%.0f", v > 0 ? v : 0);
        size_t o = 0;
        for (int i = 0; i < len && o + 2 < n; i++) {
                if (i > 0 && (len - i) % 3 == 0)
                        buf[o++] = ',';
                buf[o++] = digits[i];
        }
        buf[o] = '\0';
        return buf;
}

char *summary_html_page(const cJSON *s, const char *generated_at)
{
        struct sb b = { 0 };
        char cap[40];
        const char *since = get_string(s, "since"), *until = get_string(s, "until");
        double days = num(s, "window_seconds") / 86400;
        sb_put(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>DAWN summary, ");
        put_when(&b, since);
        sb_put(&b, " to ");
        put_when(&b, until);
        sb_printf(&b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>DAWN summary</h1>\n"
                      "<p class=\"window\">Alerts issued from <time datetime=\"",
                  page_style);
        sb_esc(&b, since);
        sb_put(&b, "\">");
        put_when(&b, since);
        sb_put(&b, "</time> to <time datetime=\"");
        sb_esc(&b, until);
        sb_put(&b, "\">");
        put_when(&b, until);
        if (days >= 1 && days == floor(days))
                sb_printf(&b, "</time> (%.0f day%s)", days, days == 1 ? "" : "s");
        else
                sb_printf(&b, "</time> (%.1f hours)", num(s, "window_seconds") / 3600);
        sb_put(&b, ". Generated ");
        put_when(&b, generated_at);
        sb_put(&b, ".</p>\n");
        alerts_section(&b, s);
        delivery_section(&b, s);
        acks_section(&b, s);
        people_section(&b, s);
        sb_printf(&b, "<footer><p>An alert counts in the window it was issued in: when recipients first saw it (at "
                      "once, or when an officer approved it). Succeeded: delivered, or taken by the SMS gateway with "
                      "no receipt yet; other: superseded by a newer revision, opted out, or still on its way. "
                      "Percentiles by nearest rank. Each figure reads at most %s rows%s.</p></footer>\n"
                      "</body>\n</html>\n",
                  thousands(num(s, "row_cap"), cap, sizeof(cap)), cJSON_IsTrue(get(s, "capped")) ? "; at least one figure reached that and "
                                                                      "counts only the rows read" : "");
        return sb_take(&b);
}

/* ---- writing the file ---- */

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* The page replaces path whole or not at all: written beside it, made
 * durable, then renamed over it. */
static int write_atomically(const char *path, const char *text, char *why, size_t n)
{
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                snprintf(why, n, "it is a directory");
                return -EISDIR;
        }
        size_t len = strlen(path) + sizeof(".tmp.XXXXXX");
        char *tmp = malloc(len);
        if (!tmp)
                out_of_memory();
        snprintf(tmp, len, "%s.tmp.XXXXXX", path);
        int fd = mkostemp(tmp, O_CLOEXEC);
        int r = fd < 0 ? -errno : 0;
        if (r == 0) {
                mode_t mask = umask(0);
                umask(mask);
                /* a page for the minutes, readable as any document the officer writes */
                if (fchmod(fd, 0666 & ~mask) < 0)
                        r = -errno;
        }
        if (r == 0)
                r = write_all(fd, text, strlen(text));
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (fd >= 0 && close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0 && fd >= 0)
                unlink(tmp);
        if (r < 0)
                snprintf(why, n, "%s", strerror(-r));
        free(tmp);
        return r;
}

int write_summary_html(const char *path, const cJSON *answer)
{
        const cJSON *s = get(answer, "summary");
        char why[256], now[32];
        time_t t = time(NULL);
        struct tm tm;
        if (!cJSON_IsObject(s)) {
                fputs("dawnctl summary: the answer has no summary\n", stderr);
                return DAWN_EXIT_REFUSED;
        }
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
        char *page = summary_html_page(s, now);
        int r = write_atomically(path, page, why, sizeof(why));
        size_t bytes = strlen(page);
        free(page);
        if (r < 0) {
                fputs("dawnctl summary: cannot write ", stderr);
                put_text(stderr, path, SIZE_MAX, -1);
                fprintf(stderr, ": %s; nothing was written\n", why);
                return DAWN_EXIT_REFUSED;
        }
        fputs("wrote the summary to ", stdout);
        put_text(stdout, path, SIZE_MAX, -1);
        printf(" (%zu bytes)\n", bytes);
        return DAWN_EXIT_OK;
}
