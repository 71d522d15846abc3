/* dawnctl summary without a daemon: its command line, and the pure parts of
 * the HTML page (escaping, the SVG bar and p50/p95 builders, the page as a
 * whole: nothing to run, nothing to fetch, every text escaped).
 *
 * cli/dawnctl.c is compiled in (DAWNCTL_NO_MAIN); the Makefile links the
 * rest of the client, libdawnctl.a. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAWNCTL_NO_MAIN
#include "../../cli/common.h"
#include "../../cli/dawnctl.c"
#include "../../cli/grammar.h"
#include "../../cli/summary_render.h"

static int parse(struct invocation *inv, char **argv)
{
        int argc = 0;

        while (argv[argc])
                argc++;
        return dawnctl_parse(inv, argc, argv);
}

static void assert_usage_error(char **argv, const char *needle)
{
        struct invocation inv;

        assert_int_equal(parse(&inv, argv), DAWN_EXIT_USAGE);
        assert_null(inv.request);
        if (!strstr(inv.error, needle))
                fail_msg("usage error \"%s\" does not mention \"%s\"", inv.error, needle);
        dawnctl_invocation_done(&inv);
}

static int count(const char *haystack, const char *needle)
{
        int n = 0;
        for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
                n++;
        return n;
}

/* ---- the command line ---- */

static void test_since_is_sent_as_seconds(void **state)
{
        struct invocation inv;

        assert_int_equal(parse(&inv, (char *[]){ "summary", NULL }), DAWN_EXIT_OK);
        assert_string_equal(get_string(inv.request, "cmd"), "summary");
        assert_int_equal(get(inv.request, "since_seconds")->valuedouble, 7 * 86400);
        assert_null(inv.html_file);
        dawnctl_invocation_done(&inv);
        assert_int_equal(parse(&inv, (char *[]){ "summary", "--since", "1d12h", NULL }), DAWN_EXIT_OK);
        assert_int_equal(get(inv.request, "since_seconds")->valuedouble, 36 * 3600);
        dawnctl_invocation_done(&inv);
        assert_int_equal(parse(&inv, (char *[]){ "summary", "--since", "4w", "--html", "/tmp/x.html", NULL }),
                         DAWN_EXIT_OK);
        assert_string_equal(inv.html_file, "/tmp/x.html");
        assert_null(get(inv.request, "html")); /* dawnd is not told where the page goes */
        dawnctl_invocation_done(&inv);
}

static void test_bad_summary_arguments(void **state)
{
        assert_usage_error((char *[]){ "summary", "--since", "7x", NULL }, "--since wants a duration");
        assert_usage_error((char *[]){ "summary", "--since", "0s", NULL }, "--since");
        assert_usage_error((char *[]){ "summary", "--since", "", NULL }, "--since");
        assert_usage_error((char *[]){ "summary", "--since", "1d", "--since", "2d", NULL }, "more than once");
        assert_usage_error((char *[]){ "summary", "--json", "--html", "/tmp/x.html", NULL }, "choose one");
        assert_usage_error((char *[]){ "summary", "--html", "/tmp", NULL }, "is a directory");
        assert_usage_error((char *[]){ "summary", "--html", "", NULL }, "--html needs");
        assert_usage_error((char *[]){ "summary", "A1", NULL }, "unexpected argument");
}

/* ---- escaping ---- */

static void test_html_escape(void **state)
{
        char *s = summary_html_escape("<script>alert('x')</script> & \"q\"");
        assert_string_equal(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
        free(s);
        s = summary_html_escape("south\x01" "ampton\x7f");
        assert_string_equal(s, "south\xef\xbf\xbd" "ampton\xef\xbf\xbd");
        free(s);
        s = summary_html_escape("Isle of Wight \xe2\x80\x94 Cowes\n");
        assert_string_equal(s, "Isle of Wight \xe2\x80\x94 Cowes\n");
        free(s);
        s = summary_html_escape(NULL);
        assert_string_equal(s, "");
        free(s);
}

static void test_format_seconds(void **state)
{
        char buf[32];
        summary_format_seconds(0.4219, buf, sizeof(buf));
        assert_string_equal(buf, "0.42 s");
        summary_format_seconds(12.34, buf, sizeof(buf));
        assert_string_equal(buf, "12.3 s");
        summary_format_seconds(250, buf, sizeof(buf));
        assert_string_equal(buf, "4 min 10 s");
        summary_format_seconds(3 * 3600 + 5 * 60, buf, sizeof(buf));
        assert_string_equal(buf, "3 h 5 min");
        summary_format_seconds(2 * 86400 + 3 * 3600 + 59, buf, sizeof(buf));
        assert_string_equal(buf, "2 d 3 h");
        summary_format_seconds(-1, buf, sizeof(buf));
        assert_string_equal(buf, "0.00 s");
}

/* ---- the SVG builders ---- */

static void test_svg_bars_scale_to_the_longest(void **state)
{
        struct summary_bar bars[] = { { "batch", { 4, 0, 0 }, NULL }, { "cluster", { 1, 0, 0 }, NULL },
                                      { "nfod", { 0, 0, 0 }, NULL } };
        char *svg = summary_svg_bars("chart-type", "Alerts by type", bars, 3, 1, NULL, 0);
        assert_non_null(strstr(svg, "role=\"img\" aria-labelledby=\"chart-type\""));
        assert_non_null(strstr(svg, "<title id=\"chart-type\">Alerts by type</title>"));
        /* the longest fills the bar's width (240), the others in proportion; a zero draws nothing */
        assert_non_null(strstr(svg, "width=\"240.0\""));
        assert_non_null(strstr(svg, "width=\"60.0\""));
        assert_int_equal(count(svg, "<rect"), 2);
        assert_non_null(strstr(svg, "<title>batch: 4</title>"));
        assert_non_null(strstr(svg, ">4</text>"));
        assert_non_null(strstr(svg, ">0</text>"));
        assert_null(strstr(svg, "<script"));
        assert_null(strstr(svg, "http"));
        assert_int_equal(count(svg, "<svg"), 1);
        assert_int_equal(count(svg, "</svg>"), 1);
        free(svg);
}

static void test_svg_bars_stack_parts_with_a_legend_and_escape_labels(void **state)
{
        static const char *const parts[] = { "succeeded", "failed", "other" };
        struct summary_bar bars[] = { { "sms<b>", { 6, 1, 1 }, "6 of 8" } };
        char *svg = summary_svg_bars("d", "Deliveries", bars, 1, 3, parts, 0);
        assert_int_equal(count(svg, "<rect"), 3 + 3); /* three parts, three legend keys */
        assert_non_null(strstr(svg, "width=\"180.0\""));
        assert_non_null(strstr(svg, "width=\"30.0\""));
        assert_non_null(strstr(svg, "<title>sms&lt;b&gt;, failed: 1</title>"));
        assert_non_null(strstr(svg, ">6 of 8</text>"));
        assert_non_null(strstr(svg, ">other</text>"));
        assert_null(strstr(svg, "<b>"));
        free(svg);
        /* a fixed scale (a rate out of 100), and a label longer than its column is cut whole */
        struct summary_bar rate[] = { { "public-health-and-wellbeing-team", { 50, 0, 0 }, "50%" } };
        svg = summary_svg_bars("a", "Acks", rate, 1, 1, NULL, 100);
        assert_non_null(strstr(svg, "width=\"120.0\""));
        assert_non_null(strstr(svg, ">public-health-and-well\xe2\x80\xa6<"));
        free(svg);
        /* nothing to draw still makes a chart that says so */
        svg = summary_svg_bars("e", "Empty", NULL, 0, 1, NULL, 0);
        assert_non_null(strstr(svg, ">none</text>"));
        free(svg);
}

static void test_svg_marks(void **state)
{
        struct summary_mark marks[] = { { "sms", 2, 10 }, { "mqtt", 0.5, 1 } };
        char *svg = summary_svg_marks("t", "Time to deliver", marks, 2);
        assert_non_null(strstr(svg, "<title id=\"t\">Time to deliver</title>"));
        assert_non_null(strstr(svg, "<title>p50 2.00 s</title>"));
        assert_non_null(strstr(svg, "<title>p95 10.0 s</title>"));
        assert_non_null(strstr(svg, "p50 0.50 s, p95 1.00 s"));
        assert_int_equal(count(svg, "<circle"), 2);
        free(svg);
}

/* ---- the page ---- */

static void test_page_is_self_contained_and_escaped(void **state)
{
        cJSON *s = cJSON_Parse(
                "{\"since\": \"2026-11-28T04:00:00Z\", \"until\": \"2026-12-05T04:00:00Z\", \"window_seconds\": 604800,"
                " \"row_cap\": 1000000, \"capped\": false,"
                " \"alerts\": {\"total\": 3, \"by_type\": {\"batch\": 3}, \"by_grade\": {\"critical\": 3},"
                "  \"by_area\": {\"<img src=x onerror=alert(1)>\": 2, \"isle-of-wight\": 1},"
                "  \"area_names\": {\"isle-of-wight\": \"Isle of <Wight>\"}},"
                " \"report_to_issue\": {\"alerts\": 1, \"median_seconds\": 90, \"max_seconds\": 90},"
                " \"delivery\": {\"sms\": {\"succeeded\": 6, \"failed\": 1, \"other\": 0, \"total\": 7,"
                "  \"success_rate\": 0.857, \"states\": {}, \"timed\": 6, \"p50_seconds\": 1.5, \"p95_seconds\": 3}},"
                " \"acks\": {\"hostel\\\"\": {\"due\": 4, \"acknowledged\": 1, \"rate\": 0.25, \"median_seconds\": 60}},"
                " \"escalations\": {\"started\": 2, \"escalated\": 1, \"acknowledged_in_time\": 1, \"waiting\": 0,"
                "  \"stopped\": 0}, \"optouts\": {\"in_window\": 1, \"total\": 2},"
                " \"public\": {\"numbers\": 5, \"subscriptions\": 6, \"joined_in_window\": 2}}");
        assert_non_null(s);
        char *page = summary_html_page(s, "2026-12-05T04:00:07Z");
        assert_non_null(strstr(page, "<title>DAWN summary, 28 Nov 2026 04:00 UTC to 5 Dec 2026 04:00 UTC</title>"));
        assert_non_null(strstr(page, "(7 days)"));
        assert_non_null(strstr(page, "Generated 5 Dec 2026 04:00 UTC"));
        assert_non_null(strstr(page, "default-src 'none'"));
        assert_null(strstr(page, "<script"));
        assert_null(strstr(page, "<img"));
        assert_null(strstr(page, "http:"));
        assert_null(strstr(page, "https:"));
        assert_non_null(strstr(page, "&lt;img src=x onerror=alert(1)&gt;"));
        assert_non_null(strstr(page, "hostel&quot;"));
        /* an area by its display name, escaped too */
        assert_non_null(strstr(page, "<td>Isle of &lt;Wight&gt;</td><td class=\"n\">1</td>"));
        assert_null(strstr(page, "<td>isle-of-wight</td>"));
        /* every chart is labelled, and every figure has its table */
        assert_int_equal(count(page, "<svg"), 6);
        assert_int_equal(count(page, "<title id="), 6);
        assert_non_null(strstr(page, "<td class=\"n\">85.7%</td>"));
        assert_non_null(strstr(page, "median 1 min 30 s"));
        assert_non_null(strstr(page, "public subscriptions made in the window</th><td class=\"n\">2</td>"));
        assert_non_null(strstr(page, "@media print"));
        assert_non_null(strstr(page, "at most 1,000,000 rows."));
        free(page);
        cJSON_Delete(s);
}

static void test_page_is_written_whole(void **state)
{
        char dir[] = "/tmp/dawn-summary-html.XXXXXX", path[64];
        cJSON *answer = cJSON_Parse("{\"ok\": true, \"summary\": {\"since\": \"2026-11-28T04:00:00Z\","
                                    " \"until\": \"2026-12-05T04:00:00Z\", \"window_seconds\": 604800}}");
        struct stat st;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/page.html", dir);
        assert_int_equal(write_summary_html(path, answer), DAWN_EXIT_OK);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size > 1000);
        /* written again over the old one; a directory is refused */
        assert_int_equal(write_summary_html(path, answer), DAWN_EXIT_OK);
        assert_int_equal(write_summary_html(dir, answer), DAWN_EXIT_REFUSED);
        unlink(path);
        assert_int_equal(rmdir(dir), 0); /* nothing else was left there */
        cJSON_Delete(answer);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_since_is_sent_as_seconds),
                cmocka_unit_test(test_bad_summary_arguments),
                cmocka_unit_test(test_html_escape),
                cmocka_unit_test(test_format_seconds),
                cmocka_unit_test(test_svg_bars_scale_to_the_longest),
                cmocka_unit_test(test_svg_bars_stack_parts_with_a_legend_and_escape_labels),
                cmocka_unit_test(test_svg_marks),
                cmocka_unit_test(test_page_is_self_contained_and_escaped),
                cmocka_unit_test(test_page_is_written_whole),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
