/* dawnctl summary, as text: the figures under one heading each, in the
 * order a panel reads them. Names come from the operator's config and are
 * printed through put_text() like any text from elsewhere. */

#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "render.h"
#include "summary_render.h"

static double num(const cJSON *o, const char *key)
{
        const cJSON *v = get(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *seconds_text(const cJSON *o, const char *key, char *buf, size_t n)
{
        if (!cJSON_IsNumber(get(o, key)))
                return "-";
        summary_format_seconds(num(o, key), buf, n);
        return buf;
}

static const char *when_text(const char *rfc3339, char *buf, size_t n)
{
        struct tm tm;
        time_t t;
        if (!rfc3339 || parse_rfc3339(rfc3339, &t) < 0 || !localtime_r(&t, &tm) ||
            strftime(buf, n, "%Y-%m-%d %H:%M", &tm) == 0)
                return rfc3339 ? rfc3339 : "?";
        return buf;
}

/* "  by type:   batch 3, cluster 1, nfod 0" */
static void put_counts(const char *label, const cJSON *object, const cJSON *names)
{
        const cJSON *item;
        bool first = true;
        printf("  %-10s ", label);
        cJSON_ArrayForEach(item, object) {
                if (!first)
                        fputs(", ", stdout);
                const char *name = get_string(names, item->string);
                put_text(stdout, name ? name : item->string, 40, -1);
                printf(" %.0f", item->valuedouble);
                first = false;
        }
        puts(first ? "none" : "");
}

static void put_cell(const char *text, int width)
{
        size_t w = put_text(stdout, text, (size_t)width, -1);
        printf("%*s", width + 2 - (int)w, "");
}

static void show_alerts(const cJSON *s)
{
        const cJSON *a = get(s, "alerts"), *ri = get(s, "report_to_issue");
        char t1[32], t2[32];
        printf("Alerts issued: %.0f\n", num(a, "total"));
        put_counts("by type:", get(a, "by_type"), NULL);
        put_counts("by grade:", get(a, "by_grade"), NULL);
        put_counts("by area:", get(a, "by_area"), get(a, "area_names"));
        puts("");
        puts("From first report to issue");
        if (num(ri, "alerts") > 0)
                printf("  %.0f alert%s stood on reports: median %s, longest %s\n", num(ri, "alerts"),
                       num(ri, "alerts") == 1 ? "" : "s", seconds_text(ri, "median_seconds", t1, sizeof(t1)),
                       seconds_text(ri, "max_seconds", t2, sizeof(t2)));
        else
                puts("  no alert stood on reports (clusters, or reports an officer approved)");
        puts("");
}

static void show_delivery(const cJSON *s)
{
        const cJSON *ch;
        char t1[32], t2[32], rate[16];
        puts("Delivery");
        if (!get(s, "delivery") || !get(s, "delivery")->child) {
                puts("  none\n");
                return;
        }
        printf("  %-10s %9s %7s %6s %8s %12s %12s\n", "CHANNEL", "SUCCEEDED", "FAILED", "OTHER", "SUCCESS", "P50",
               "P95");
        cJSON_ArrayForEach(ch, get(s, "delivery")) {
                fputs("  ", stdout);
                put_cell(ch->string, 9);
                if (cJSON_IsNumber(get(ch, "success_rate")))
                        snprintf(rate, sizeof(rate), "%.1f%%", 100 * num(ch, "success_rate"));
                else
                        snprintf(rate, sizeof(rate), "-");
                printf("%9.0f %7.0f %6.0f %8s %12s %12s\n", num(ch, "succeeded"), num(ch, "failed"), num(ch, "other"),
                       rate, seconds_text(ch, "p50_seconds", t1, sizeof(t1)),
                       seconds_text(ch, "p95_seconds", t2, sizeof(t2)));
        }
        puts("");
}

static void show_acks(const cJSON *s)
{
        const cJSON *k;
        char t[32];
        puts("Acknowledgements");
        if (!get(s, "acks") || !get(s, "acks")->child) {
                puts("  none due\n");
                return;
        }
        printf("  %-16s %5s %6s %6s %18s\n", "KIND", "DUE", "ACKED", "RATE", "MEDIAN TIME TO ACK");
        cJSON_ArrayForEach(k, get(s, "acks")) {
                fputs("  ", stdout);
                put_cell(k->string, 15);
                printf("%5.0f %6.0f %5.0f%% %18s\n", num(k, "due"), num(k, "acknowledged"), 100 * num(k, "rate"),
                       seconds_text(k, "median_seconds", t, sizeof(t)));
        }
        puts("");
}

void show_summary(const cJSON *request, const cJSON *answer)
{
        const cJSON *s = get(answer, "summary");
        const cJSON *e = get(s, "escalations"), *o = get(s, "optouts"), *p = get(s, "public");
        char w1[64], w2[64];
        printf("Summary of alerts issued from %s to %s\n\n", when_text(get_string(s, "since"), w1, sizeof(w1)),
               when_text(get_string(s, "until"), w2, sizeof(w2)));
        show_alerts(s);
        show_delivery(s);
        show_acks(s);
        puts("Escalations");
        printf("  %.0f started: %.0f escalated, %.0f acknowledged in time, %.0f waiting, %.0f stopped\n\n",
               num(e, "started"), num(e, "escalated"), num(e, "acknowledged_in_time"), num(e, "waiting"),
               num(e, "stopped"));
        puts("Opt-outs and public subscriptions");
        printf("  %.0f number%s replied STOP in the window (%.0f opted out in all)\n", num(o, "in_window"),
               num(o, "in_window") == 1 ? "" : "s", num(o, "total"));
        printf("  %.0f public subscriber%s (%.0f subscriptions), %.0f joined in the window\n", num(p, "numbers"),
               num(p, "numbers") == 1 ? "" : "s", num(p, "subscriptions"), num(p, "joined_in_window"));
        if (cJSON_IsTrue(get(s, "capped")))
                printf("\nNote: a figure read its limit of %.0f rows and counts only those.\n", num(s, "row_cap"));
}
