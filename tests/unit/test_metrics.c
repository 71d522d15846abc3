/* Tests for daemon/base/metrics.c: the counters and the latency histogram behind
 * GET /metrics. The promise tested is the scraper's: every family is
 * announced, label values come back exactly as given, histogram buckets
 * are cumulative, and Prometheus's own parser reads the whole page back to
 * the same numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

#define UNUSED __attribute__((unused))

#define MS UINT64_C(1000)
#define SEC UINT64_C(1000000)

/* The whole page as a string (malloc'ed). */
static char *page(void)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        assert_int_equal(dawn_metrics_write(f), 0);
        assert_int_equal(fclose(f), 0);
        return buf;
}

/* Fails, showing the page, unless it has this line. */
static void assert_line(const char *text, const char *line)
{
        size_t n = strlen(line);
        for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return;
        print_error("no line \"%s\" in:\n%s", line, text);
        fail();
}

static void assert_no_line_starting(const char *text, const char *prefix)
{
        for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
                if (p == text || p[-1] == '\n') {
                        print_error("unexpected line starting \"%s\" in:\n%s", prefix, text);
                        fail();
                }
}

static int reset(void **state UNUSED)
{
        dawn_metrics_reset();
        return 0;
}

static void test_counting(void **state UNUSED)
{
        assert_int_equal(dawn_metrics_value(DAWN_M_INTAKE_ACCEPTED, "http", "new"), 0);
        dawn_metrics_count(DAWN_M_INTAKE_ACCEPTED, "http", "new");
        dawn_metrics_count(DAWN_M_INTAKE_ACCEPTED, "http", "new");
        dawn_metrics_add(DAWN_M_INTAKE_ACCEPTED, "http", "new", 40);
        assert_int_equal(dawn_metrics_value(DAWN_M_INTAKE_ACCEPTED, "http", "new"), 42);
        /* the same labels on another counter are another series */
        assert_int_equal(dawn_metrics_value(DAWN_M_INTAKE_REJECTED, "http", "new"), 0);
        dawn_metrics_add(DAWN_M_DELIVERY_FAILURES, "sms", "lifetime", 0);
        assert_int_equal(dawn_metrics_value(DAWN_M_DELIVERY_FAILURES, "sms", "lifetime"), 0);

        char *text = page();
        assert_line(text, "dawn_intake_accepted_total{way=\"http\",outcome=\"new\"} 42");
        /* added to by zero: there, at zero, so a rate has somewhere to start */
        assert_line(text, "dawn_delivery_failures_total{channel=\"sms\",reason=\"lifetime\"} 0");
        free(text);
}

static void test_labels(void **state UNUSED)
{
        dawn_metrics_count(DAWN_M_DELIVERY_ATTEMPTS, "sms", "delivered");
        dawn_metrics_count(DAWN_M_DELIVERY_ATTEMPTS, "sms", "transient");
        dawn_metrics_count(DAWN_M_DELIVERY_ATTEMPTS, "mqtt", "delivered");
        dawn_metrics_count(DAWN_M_DELIVERY_ATTEMPTS, "sms", "delivered");
        assert_int_equal(dawn_metrics_value(DAWN_M_DELIVERY_ATTEMPTS, "sms", "delivered"), 2);
        assert_int_equal(dawn_metrics_value(DAWN_M_DELIVERY_ATTEMPTS, "sms", "transient"), 1);
        assert_int_equal(dawn_metrics_value(DAWN_M_DELIVERY_ATTEMPTS, "mqtt", "delivered"), 1);
        assert_int_equal(dawn_metrics_value(DAWN_M_DELIVERY_ATTEMPTS, "mqtt", "transient"), 0);
        /* a counter with one label ignores a second: one series whatever is passed */
        dawn_metrics_count(DAWN_M_DELIVERY_RETRIES, "email", NULL);
        dawn_metrics_count(DAWN_M_DELIVERY_RETRIES, "email", "stray");
        assert_int_equal(dawn_metrics_value(DAWN_M_DELIVERY_RETRIES, "email", NULL), 2);
        /* and one with none has a single series */
        dawn_metrics_count(DAWN_M_CLUSTERS_RAISED, NULL, NULL);
        dawn_metrics_count(DAWN_M_CLUSTERS_RAISED, "x", "y");
        assert_int_equal(dawn_metrics_value(DAWN_M_CLUSTERS_RAISED, NULL, NULL), 2);
        /* "ab","c" is not "a","bc" */
        dawn_metrics_count(DAWN_M_RECEIPTS, "ab", "c");
        assert_int_equal(dawn_metrics_value(DAWN_M_RECEIPTS, "a", "bc"), 0);
        /* NULL for a label the counter has is the empty value */
        dawn_metrics_count(DAWN_M_HTTP_REQUESTS, NULL, NULL);
        assert_int_equal(dawn_metrics_value(DAWN_M_HTTP_REQUESTS, "", NULL), 1);

        char *text = page();
        assert_line(text, "dawn_delivery_attempts_total{channel=\"sms\",result=\"delivered\"} 2");
        assert_line(text, "dawn_delivery_attempts_total{channel=\"sms\",result=\"transient\"} 1");
        assert_line(text, "dawn_delivery_attempts_total{channel=\"mqtt\",result=\"delivered\"} 1");
        assert_line(text, "dawn_delivery_retries_total{channel=\"email\"} 2");
        assert_line(text, "dawn_clusters_raised_total 2");
        assert_line(text, "dawn_http_requests_total{code=\"\"} 1");
        /* in the order first seen */
        const char *a = strstr(text, "{channel=\"sms\",result=\"delivered\"}");
        const char *b = strstr(text, "{channel=\"sms\",result=\"transient\"}");
        const char *c = strstr(text, "{channel=\"mqtt\",result=\"delivered\"}");
        assert_true(a && b && c && a < b && b < c);
        free(text);
}

static void test_every_family_is_announced(void **state UNUSED)
{
        /* nothing counted yet: every family still says what it is */
        static const char *const counters[] = {
                "dawn_intake_accepted_total",   "dawn_intake_rejected_total", "dawn_delivery_attempts_total",
                "dawn_delivery_retries_total",  "dawn_delivery_failures_total", "dawn_receipts_total",
                "dawn_callbacks_refused_total", "dawn_callbacks_ignored_total", "dawn_acks_ignored_total",
                "dawn_sms_replies_total",       "dawn_review_decisions_total",
                "dawn_clusters_raised_total",   "dawn_http_requests_total",   "dawn_metrics_dropped_series_total",
        };
        char *text = page();
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
                char line[128];
                snprintf(line, sizeof(line), "# TYPE %s counter", counters[i]);
                assert_line(text, line);
                snprintf(line, sizeof(line), "# HELP %s ", counters[i]);
                assert_non_null(strstr(text, line));
        }
        assert_line(text, "# TYPE dawn_delivery_latency_seconds histogram");
        /* no series for families with labels, a zero for those without */
        assert_no_line_starting(text, "dawn_intake_accepted_total");
        assert_no_line_starting(text, "dawn_delivery_latency_seconds");
        assert_line(text, "dawn_clusters_raised_total 0");
        assert_line(text, "dawn_metrics_dropped_series_total 0");
        free(text);
}

static void test_escape(void **state UNUSED)
{
        char out[64];
        dawn_metrics_escape("plain", out, sizeof(out));
        assert_string_equal(out, "plain");
        dawn_metrics_escape("a\\b\"c\nd", out, sizeof(out));
        assert_string_equal(out, "a\\\\b\\\"c\\nd");
        dawn_metrics_escape(NULL, out, sizeof(out));
        assert_string_equal(out, "");
        /* cut to fit, terminated, never half an escape */
        dawn_metrics_escape("abc\"def", out, 5);
        assert_string_equal(out, "abc");
        dawn_metrics_escape("abc\"def", out, 6);
        assert_string_equal(out, "abc\\\"");
        /* nor half a character: "é" is two bytes */
        dawn_metrics_escape("ab\xc3\xa9", out, 4);
        assert_string_equal(out, "ab");
        dawn_metrics_escape("ab\xc3\xa9", out, 5);
        assert_string_equal(out, "ab\xc3\xa9");
        out[0] = 'x';
        dawn_metrics_escape("abc", out, 0);
        assert_int_equal(out[0], 'x');
        dawn_metrics_escape("abc", out, 1);
        assert_string_equal(out, "");
}

static void test_label_values_are_escaped(void **state UNUSED)
{
        dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "say \"no\"\\\nnow");
        char *text = page();
        assert_line(text, "dawn_intake_rejected_total{way=\"http\",reason=\"say \\\"no\\\"\\\\\\nnow\"} 1");
        free(text);
}

static void test_long_label_values_are_cut(void **state UNUSED)
{
        /* 200 two-byte characters: kept to a whole number of them */
        char value[401];
        for (int i = 0; i < 200; i++)
                memcpy(value + 2 * i, "\xc3\xa9", 2);
        value[400] = '\0';
        dawn_metrics_count(DAWN_M_SMS_REPLIES, value, NULL);
        assert_int_equal(dawn_metrics_value(DAWN_M_SMS_REPLIES, value, NULL), 1);
        char *text = page();
        const char *start = strstr(text, "dawn_sms_replies_total{kind=\"");
        assert_non_null(start);
        start += strlen("dawn_sms_replies_total{kind=\"");
        const char *end = strchr(start, '"');
        assert_non_null(end);
        assert_true(end - start > 0 && end - start <= 128);
        assert_int_equal((end - start) % 2, 0);
        free(text);
}

static void test_histogram_buckets_are_cumulative(void **state UNUSED)
{
        dawn_metrics_observe_latency(DAWN_CHANNEL_SMS, 0);
        dawn_metrics_observe_latency(DAWN_CHANNEL_SMS, 1 * MS);       /* on a bound: in it */
        dawn_metrics_observe_latency(DAWN_CHANNEL_SMS, 1 * MS + 1);   /* just over: the next */
        dawn_metrics_observe_latency(DAWN_CHANNEL_SMS, 700 * MS);
        dawn_metrics_observe_latency(DAWN_CHANNEL_SMS, 45 * SEC);
        dawn_metrics_observe_latency(DAWN_CHANNEL_SMS, 3600 * SEC);   /* past the last bound */
        dawn_metrics_observe_latency(DAWN_CHANNEL_MQTT, 3 * MS);

        char *text = page();
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"0.001\"} 2");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"0.0025\"} 3");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"0.5\"} 3");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"1\"} 4");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"30\"} 4");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"60\"} 5");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"600\"} 5");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"+Inf\"} 6");
        assert_line(text, "dawn_delivery_latency_seconds_sum{channel=\"sms\"} 3645.702001");
        assert_line(text, "dawn_delivery_latency_seconds_count{channel=\"sms\"} 6");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"mqtt\",le=\"0.0025\"} 0");
        assert_line(text, "dawn_delivery_latency_seconds_bucket{channel=\"mqtt\",le=\"0.005\"} 1");
        assert_line(text, "dawn_delivery_latency_seconds_count{channel=\"mqtt\"} 1");
        /* a channel with no deliveries has no series */
        assert_no_line_starting(text, "dawn_delivery_latency_seconds_bucket{channel=\"email\"");

        /* every bucket of a series at least the one before, and 19 of them */
        const char *p = text;
        uint64_t last = 0;
        int buckets = 0;
        const char *prefix = "dawn_delivery_latency_seconds_bucket{channel=\"sms\",le=\"";
        while ((p = strstr(p, prefix)) != NULL) {
                const char *v = strstr(p, "} ");
                assert_non_null(v);
                uint64_t n = strtoull(v + 2, NULL, 10);
                assert_true(n >= last);
                last = n;
                buckets++;
                p = v;
        }
        assert_int_equal(buckets, 19);
        free(text);
}

static void test_reset(void **state UNUSED)
{
        dawn_metrics_count(DAWN_M_REVIEW_DECISIONS, "approved", NULL);
        dawn_metrics_count(DAWN_M_CLUSTERS_RAISED, NULL, NULL);
        dawn_metrics_observe_latency(DAWN_CHANNEL_EMAIL, 2 * SEC);
        dawn_metrics_reset();
        assert_int_equal(dawn_metrics_value(DAWN_M_REVIEW_DECISIONS, "approved", NULL), 0);
        assert_int_equal(dawn_metrics_value(DAWN_M_CLUSTERS_RAISED, NULL, NULL), 0);
        char *text = page();
        assert_no_line_starting(text, "dawn_review_decisions_total{");
        assert_no_line_starting(text, "dawn_delivery_latency_seconds_");
        assert_line(text, "dawn_clusters_raised_total 0");
        free(text);
        /* and counting starts again */
        dawn_metrics_count(DAWN_M_REVIEW_DECISIONS, "approved", NULL);
        assert_int_equal(dawn_metrics_value(DAWN_M_REVIEW_DECISIONS, "approved", NULL), 1);
}

static void test_dropped_series(void **state UNUSED)
{
        /* a runaway label: far more distinct values than the limit */
        enum { TRIED = 10000 };
        char code[16];
        dawn_metrics_count(DAWN_M_DELIVERY_ATTEMPTS, "sms", "delivered");
        for (int i = 0; i < TRIED; i++) {
                snprintf(code, sizeof(code), "%d", i);
                dawn_metrics_count(DAWN_M_HTTP_REQUESTS, code, NULL);
        }
        int kept = 0;
        for (int i = 0; i < TRIED; i++) {
                snprintf(code, sizeof(code), "%d", i);
                kept += (int)dawn_metrics_value(DAWN_M_HTTP_REQUESTS, code, NULL);
        }
        /* bounded, but room for any real deployment's series */
        assert_true(kept >= 1000 && kept < TRIED);
        /* a series made before still counts */
        dawn_metrics_count(DAWN_M_DELIVERY_ATTEMPTS, "sms", "delivered");
        assert_int_equal(dawn_metrics_value(DAWN_M_DELIVERY_ATTEMPTS, "sms", "delivered"), 2);
        /* a new one does not, and is counted as dropped */
        dawn_metrics_count(DAWN_M_DELIVERY_ATTEMPTS, "sms", "permanent");
        assert_int_equal(dawn_metrics_value(DAWN_M_DELIVERY_ATTEMPTS, "sms", "permanent"), 0);
        char *text = page();
        char line[64];
        snprintf(line, sizeof(line), "dawn_metrics_dropped_series_total %d", TRIED - kept + 1);
        assert_line(text, line);
        free(text);
}

static void test_gauge(void **state UNUSED)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        dawn_metrics_write_gauge(f, "dawn_deliveries", "Deliveries in the store, by channel and state.",
                                 "channel=\"sms\",state=\"pending\"", 3, 1);
        dawn_metrics_write_gauge(f, "dawn_deliveries", "unused", "channel=\"sms\",state=\"sent\"", 0.25, 0);
        dawn_metrics_write_gauge(f, "dawn_up", "Whether it runs.", NULL, 1, 1);
        dawn_metrics_write_gauge(f, "dawn_big", "A big one.", "", 1e300, 1);
        assert_int_equal(fclose(f), 0);
        assert_string_equal(buf, "# HELP dawn_deliveries Deliveries in the store, by channel and state.\n"
                                 "# TYPE dawn_deliveries gauge\n"
                                 "dawn_deliveries{channel=\"sms\",state=\"pending\"} 3\n"
                                 "dawn_deliveries{channel=\"sms\",state=\"sent\"} 0.25\n"
                                 "# HELP dawn_up Whether it runs.\n"
                                 "# TYPE dawn_up gauge\n"
                                 "dawn_up 1\n"
                                 "# HELP dawn_big A big one.\n"
                                 "# TYPE dawn_big gauge\n"
                                 "dawn_big 1e+300\n");
        free(buf);
}

static void test_write_error_is_returned(void **state UNUSED)
{
        FILE *f = fopen("/dev/full", "w");
        if (!f) {
                print_message("no /dev/full here\n");
                skip();
        }
        assert_true(dawn_metrics_write(f) < 0);
        fclose(f);
}

/* Prometheus's Python parser reads the page; this prints each sample as one
 * JSON line: [family, type, sample, labels, value]. A sample under a name
 * its family does not allow comes out as a family of its own, untyped. */
#define PARSE_SCRIPT                                                                                           \
        "import json, sys\n"                                                                                   \
        "from prometheus_client.parser import text_string_to_metric_families\n"                                \
        "out = open(sys.argv[2], \"w\")\n"                                                                     \
        "for fam in text_string_to_metric_families(open(sys.argv[1]).read()):\n"                               \
        "    out.write(json.dumps([fam.name, fam.type, None, None, None]) + \"\\n\")\n"                        \
        "    for s in fam.samples:\n"                                                                          \
        "        out.write(json.dumps([fam.name, fam.type, s.name, sorted(s.labels.items()), s.value]) + "     \
        "\"\\n\")\n"

static void test_prometheus_parses_the_page(void **state UNUSED)
{
        if (system("/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null") != 0) {
                print_message("skipped: /usr/bin/python3 lacks prometheus_client (python3-prometheus-client)\n");
                skip();
        }
        dawn_metrics_count(DAWN_M_INTAKE_ACCEPTED, "mqtt", "merged");
        dawn_metrics_add(DAWN_M_INTAKE_ACCEPTED, "http", "new", 7);
        dawn_metrics_count(DAWN_M_INTAKE_REJECTED, "http", "q\"b\\n\nx");
        dawn_metrics_count(DAWN_M_DELIVERY_RETRIES, "sms", NULL);
        dawn_metrics_count(DAWN_M_CLUSTERS_RAISED, NULL, NULL);
        dawn_metrics_observe_latency(DAWN_CHANNEL_EMAIL, 1500 * MS);
        dawn_metrics_observe_latency(DAWN_CHANNEL_EMAIL, 4 * MS);

        char in[] = "/tmp/dawn-metrics-test.XXXXXX", out[] = "/tmp/dawn-metrics-parsed.XXXXXX";
        int fd = mkstemp(in);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        assert_non_null(f);
        assert_int_equal(dawn_metrics_write(f), 0);
        dawn_metrics_write_gauge(f, "dawn_alerts", "Alerts in the store.", "status=\"active\",grade=\"warning\"", 2,
                                 1);
        assert_int_equal(fclose(f), 0);
        fd = mkstemp(out);
        assert_true(fd >= 0);
        close(fd);

        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '%s' %s %s", PARSE_SCRIPT, in, out);
        int rc = system(cmd);
        char *parsed = NULL;
        size_t len = 0;
        f = fopen(out, "r");
        assert_non_null(f);
        assert_true(getdelim(&parsed, &len, '\0', f) >= 0 || rc != 0);
        fclose(f);
        unlink(in);
        unlink(out);
        if (rc != 0) {
                print_error("the parser failed (%d)\n", rc);
                fail();
        }

        /* every family, typed as written (counters lose _total in the parser's model) */
        static const char *const families[] = {
                "[\"dawn_intake_accepted\", \"counter\", null, null, null]",
                "[\"dawn_intake_rejected\", \"counter\", null, null, null]",
                "[\"dawn_delivery_attempts\", \"counter\", null, null, null]",
                "[\"dawn_delivery_retries\", \"counter\", null, null, null]",
                "[\"dawn_delivery_failures\", \"counter\", null, null, null]",
                "[\"dawn_receipts\", \"counter\", null, null, null]",
                "[\"dawn_callbacks_refused\", \"counter\", null, null, null]",
                "[\"dawn_callbacks_ignored\", \"counter\", null, null, null]",
                "[\"dawn_acks_ignored\", \"counter\", null, null, null]",
                "[\"dawn_sms_replies\", \"counter\", null, null, null]",
                "[\"dawn_review_decisions\", \"counter\", null, null, null]",
                "[\"dawn_clusters_raised\", \"counter\", null, null, null]",
                "[\"dawn_http_requests\", \"counter\", null, null, null]",
                "[\"dawn_relay_dropped\", \"counter\", null, null, null]",
                "[\"dawn_relay_refused\", \"counter\", null, null, null]",
                "[\"dawn_relay_paused\", \"counter\", null, null, null]",
                "[\"dawn_http_connections_dropped\", \"counter\", null, null, null]",
                "[\"dawn_http_accept_paused\", \"counter\", null, null, null]",
                "[\"dawn_control_connections_dropped\", \"counter\", null, null, null]",
                "[\"dawn_retention_pruned\", \"counter\", null, null, null]",
                "[\"dawn_escalations\", \"counter\", null, null, null]",
                "[\"dawn_public_joins\", \"counter\", null, null, null]",
                "[\"dawn_public_joins_refused\", \"counter\", null, null, null]",
                "[\"dawn_channel_pauses\", \"counter\", null, null, null]",
                "[\"dawn_sms_reply_texts\", \"counter\", null, null, null]",
                "[\"dawn_metrics_dropped_series\", \"counter\", null, null, null]",
                "[\"dawn_delivery_latency_seconds\", \"histogram\", null, null, null]",
                "[\"dawn_alerts\", \"gauge\", null, null, null]",
        };
        /* no more families than these: nothing split off a family of its own */
        size_t lines = 0;
        for (const char *p = parsed; (p = strstr(p, ", null, null, null]\n")) != NULL; p++)
                lines++;
        assert_int_equal(lines, sizeof(families) / sizeof(families[0]));
        for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
                assert_line(parsed, families[i]);
        assert_no_line_starting(parsed, "[\"\", \"untyped\"");
        assert_no_line_starting(parsed, "[\"\", \"unknown\"");

        /* and the values, with the labels exactly as given */
        static const char *const samples[] = {
                "[\"dawn_intake_accepted\", \"counter\", \"dawn_intake_accepted_total\", "
                "[[\"outcome\", \"merged\"], [\"way\", \"mqtt\"]], 1.0]",
                "[\"dawn_intake_accepted\", \"counter\", \"dawn_intake_accepted_total\", "
                "[[\"outcome\", \"new\"], [\"way\", \"http\"]], 7.0]",
                "[\"dawn_intake_rejected\", \"counter\", \"dawn_intake_rejected_total\", "
                "[[\"reason\", \"q\\\"b\\\\n\\nx\"], [\"way\", \"http\"]], 1.0]",
                "[\"dawn_delivery_retries\", \"counter\", \"dawn_delivery_retries_total\", "
                "[[\"channel\", \"sms\"]], 1.0]",
                "[\"dawn_clusters_raised\", \"counter\", \"dawn_clusters_raised_total\", [], 1.0]",
                "[\"dawn_metrics_dropped_series\", \"counter\", \"dawn_metrics_dropped_series_total\", [], 0.0]",
                "[\"dawn_delivery_latency_seconds\", \"histogram\", \"dawn_delivery_latency_seconds_bucket\", "
                "[[\"channel\", \"email\"], [\"le\", \"0.001\"]], 0.0]",
                "[\"dawn_delivery_latency_seconds\", \"histogram\", \"dawn_delivery_latency_seconds_bucket\", "
                "[[\"channel\", \"email\"], [\"le\", \"0.005\"]], 1.0]",
                "[\"dawn_delivery_latency_seconds\", \"histogram\", \"dawn_delivery_latency_seconds_bucket\", "
                "[[\"channel\", \"email\"], [\"le\", \"1\"]], 1.0]",
                "[\"dawn_delivery_latency_seconds\", \"histogram\", \"dawn_delivery_latency_seconds_bucket\", "
                "[[\"channel\", \"email\"], [\"le\", \"2.5\"]], 2.0]",
                "[\"dawn_delivery_latency_seconds\", \"histogram\", \"dawn_delivery_latency_seconds_bucket\", "
                "[[\"channel\", \"email\"], [\"le\", \"+Inf\"]], 2.0]",
                "[\"dawn_delivery_latency_seconds\", \"histogram\", \"dawn_delivery_latency_seconds_sum\", "
                "[[\"channel\", \"email\"]], 1.504]",
                "[\"dawn_delivery_latency_seconds\", \"histogram\", \"dawn_delivery_latency_seconds_count\", "
                "[[\"channel\", \"email\"]], 2.0]",
                "[\"dawn_alerts\", \"gauge\", \"dawn_alerts\", [[\"grade\", \"warning\"], [\"status\", \"active\"]], "
                "2.0]",
        };
        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
                assert_line(parsed, samples[i]);
        free(parsed);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_counting, reset),
                cmocka_unit_test_setup(test_labels, reset),
                cmocka_unit_test_setup(test_every_family_is_announced, reset),
                cmocka_unit_test_setup(test_escape, reset),
                cmocka_unit_test_setup(test_label_values_are_escaped, reset),
                cmocka_unit_test_setup(test_long_label_values_are_cut, reset),
                cmocka_unit_test_setup(test_histogram_buckets_are_cumulative, reset),
                cmocka_unit_test_setup(test_reset, reset),
                cmocka_unit_test_setup(test_dropped_series, reset),
                cmocka_unit_test_setup(test_gauge, reset),
                cmocka_unit_test_setup(test_write_error_is_returned, reset),
                cmocka_unit_test_setup(test_prometheus_parses_the_page, reset),
        };
        return cmocka_run_group_tests_name("metrics", tests, NULL, reset);
}
