/* The panel's summary (daemon/ways/summary.c and store.c's summary block):
 * percentiles by nearest rank, and the figures over a store written with
 * fixed times: which alerts the window [since, until) holds (an alert counts
 * when recipients first saw it; one never active does not), the time from
 * report to issue, deliveries with what retention kept for pruned alerts,
 * acknowledgements by the subscriber's kind, escalations, opt-outs and
 * public subscriptions. */
#include "dawn_test.h"
#include "dawn_test_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include "store.h"
#include "summary.h"

#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
/* 2026-11-23T12:00:00Z */
#define NOW (INT64_C(1795435200) * SEC)
#define SINCE (NOW - 7 * DAY)

static const char config_text[] =
        "areas = { pan-hampshire = { southampton = {}; portsmouth = {}; isle-of-wight = {}; }; };\n"
        "area_details = { isle-of-wight = { name = \"Isle of Wight\"; }; };\n"
        "channels = { mqtt = { topic_prefix = \"t\"; }; };\n"
        "subscribers = (\n"
        "  { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; },\n"
        "  { id = \"fratton-pharmacy\"; kind = \"pharmacy\"; area = \"portsmouth\"; mqtt = true; }\n"
        ");\n";

static int group_setup(void **state UNUSED)
{
        return dawn_test_config_load(config_text);
}

/* ---- percentiles ---- */

static void test_percentile_by_nearest_rank(void **state UNUSED)
{
        int64_t four[] = { 1, 2, 3, 4 };
        assert_int_equal(dawn_percentile(four, 4, 50), 2);
        assert_int_equal(dawn_percentile(four, 4, 95), 4);
        assert_int_equal(dawn_percentile(four, 4, 100), 4);
        assert_int_equal(dawn_percentile(four, 4, 0), 1);
        int64_t hundred[100];
        for (int i = 0; i < 100; i++)
                hundred[i] = i + 1;
        assert_int_equal(dawn_percentile(hundred, 100, 50), 50);
        assert_int_equal(dawn_percentile(hundred, 100, 95), 95);
        assert_int_equal(dawn_percentile(hundred, 100, 99), 99);
        int64_t one[] = { 7 };
        assert_int_equal(dawn_percentile(one, 1, 50), 7);
        assert_int_equal(dawn_percentile(one, 1, 95), 7);
        int64_t three[] = { 3, 5, 7 };
        assert_int_equal(dawn_percentile(three, 3, 50), 5);
        assert_int_equal(dawn_percentile(three, 3, 95), 7);
        /* nothing to take a percentile of, and a percentage past 100 */
        assert_int_equal(dawn_percentile(NULL, 0, 50), 0);
        assert_int_equal(dawn_percentile(four, 4, 250), 4);
}

/* ---- the figures over a store with fixed times ---- */

static int seq;

/* An alert as the store holds it: its row, and a revision per (status, time). */
static void alert(struct fixture *f, const char *id, const char *type, const char *grade, const char *area,
                  int64_t issued_at, int64_t active_at)
{
        sql(f, "INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at, updated_at, json, type, area)"
               " VALUES ('%s', %d, 'fp', '%s', '%s', %d, %lld, %lld, '{}', '%s', '%s')",
            id, ++seq, active_at ? "active" : "pending", grade, active_at && active_at != issued_at ? 2 : 1,
            (long long)issued_at, (long long)(active_at ? active_at : issued_at), type, area);
        if (!active_at || active_at != issued_at)
                sql(f, "INSERT INTO revisions (alert_id, revision, created_at, json) VALUES ('%s', 1, %lld,"
                       " '{\"status\":\"pending\"}')", id, (long long)issued_at);
        if (active_at)
                sql(f, "INSERT INTO revisions (alert_id, revision, created_at, json) VALUES ('%s', %d, %lld,"
                       " '{\"status\":\"active\"}')", id, active_at == issued_at ? 1 : 2, (long long)active_at);
}

static void delivery(struct fixture *f, const char *alert_id, const char *subscriber, const char *channel,
                     const char *state, int64_t created_at, int64_t updated_at)
{
        sql(f, "INSERT INTO outbox (alert_id, revision, subscriber, channel, recipient, action, state, created_at,"
               " updated_at) VALUES ('%s', 1, '%s', '%s', 'r%d', 'publish', '%s', %lld, %lld)",
            alert_id, subscriber, channel, ++seq, state, (long long)created_at, (long long)updated_at);
}

static cJSON *summary(struct fixture *f, int64_t since, int64_t until)
{
        cJSON *s = NULL;
        assert_int_equal(dawn_summary_json(f->s, config, since, until, &s), 0);
        assert_non_null(s);
        return s;
}

static double at(const cJSON *s, const char *path)
{
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", path);
        const cJSON *o = s;
        for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
                o = cJSON_GetObjectItemCaseSensitive(o, k);
        if (!cJSON_IsNumber(o))
                fail_msg("%s is not a number", path);
        return o->valuedouble;
}

static bool has(const cJSON *s, const char *a, const char *b)
{
        return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, a), b) != NULL;
}

static void test_window_counts_alerts_when_recipients_first_saw_them(void **state)
{
        struct fixture *f = *state;
        alert(f, "A1", "batch", "critical", "southampton", SINCE - DAY, SINCE - DAY);   /* before the window */
        alert(f, "A2", "batch", "warning", "portsmouth", NOW - 2 * DAY, NOW - 2 * DAY); /* in it */
        /* a reporter's report from before the window, approved in it: counts, 2 days from report to issue */
        alert(f, "A3", "batch", "critical", "southampton", SINCE - DAY, SINCE + DAY);
        alert(f, "A4", "batch", "critical", "southampton", NOW - DAY, 0);         /* still pending: not issued */
        alert(f, "A5", "cluster", "warning", "isle-of-wight", SINCE, SINCE);      /* at since: in */
        alert(f, "A6", "batch", "info", "southampton", NOW, NOW);                 /* at until: out */
        cJSON *s = summary(f, SINCE, NOW);
        assert_int_equal(at(s, "alerts.total"), 3);
        assert_int_equal(at(s, "alerts.by_type.batch"), 2);
        assert_int_equal(at(s, "alerts.by_type.cluster"), 1);
        assert_int_equal(at(s, "alerts.by_type.nfod"), 0);
        assert_int_equal(at(s, "alerts.by_grade.critical"), 1);
        assert_int_equal(at(s, "alerts.by_grade.warning"), 2);
        assert_int_equal(at(s, "alerts.by_grade.info"), 0);
        assert_int_equal(at(s, "alerts.by_area.southampton"), 1);
        assert_int_equal(at(s, "alerts.by_area.isle-of-wight"), 1);
        assert_int_equal(at(s, "alerts.by_area.portsmouth"), 1);
        /* the display names of the areas counted: area_details' name, or made from the id */
        const cJSON *names = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "alerts"), "area_names");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(names, "isle-of-wight")), "Isle of Wight");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(names, "portsmouth")), "Portsmouth");
        /* the approved report, and the cluster (its own issued_at: it has no reports recorded here) */
        assert_int_equal(at(s, "report_to_issue.alerts"), 2);
        assert_int_equal(at(s, "report_to_issue.median_seconds"), 0);
        assert_int_equal(at(s, "report_to_issue.max_seconds"), 2 * 86400);
        assert_int_equal(at(s, "window_seconds"), 7 * 86400);
        cJSON_Delete(s);
        /* a window of the last day holds none of them */
        s = summary(f, NOW - DAY, NOW);
        assert_int_equal(at(s, "alerts.total"), 0);
        assert_int_equal(at(s, "report_to_issue.alerts"), 0);
        assert_false(has(s, "report_to_issue", "median_seconds"));
        cJSON_Delete(s);
}

static void test_cluster_time_to_issue_runs_from_its_first_report(void **state)
{
        struct fixture *f = *state;
        alert(f, "A1", "nfod", "logged", "southampton", NOW - 5 * HOUR, 0);
        alert(f, "A2", "nfod", "logged", "southampton", NOW - 3 * HOUR, 0);
        alert(f, "A3", "cluster", "warning", "southampton", NOW - 3 * HOUR, NOW - 2 * HOUR);
        sql(f, "INSERT INTO corroborations (alert_id, source, received_at, json) VALUES"
               " ('A3', 'ambulance', %lld, '{\"id\":\"A1\"}'), ('A3', 'scas', %lld, '{\"id\":\"A2\"}')",
            (long long)(NOW - 2 * HOUR), (long long)(NOW - 2 * HOUR));
        cJSON *s = summary(f, SINCE, NOW);
        assert_int_equal(at(s, "alerts.total"), 1);
        assert_int_equal(at(s, "report_to_issue.alerts"), 1);
        assert_int_equal(at(s, "report_to_issue.max_seconds"), 3 * 3600);
        cJSON_Delete(s);
}

static void test_deliveries_count_what_retention_kept(void **state)
{
        struct fixture *f = *state;
        int64_t t = NOW - 2 * DAY;
        alert(f, "A1", "batch", "warning", "southampton", t, t);
        delivery(f, "A1", "booth-house", "sms", "delivered", t, t + 5 * SEC);
        delivery(f, "A1", "booth-house", "email", "failed", t, t + 9 * SEC);
        delivery(f, "A1", "booth-house", "mqtt", "superseded", t, t + SEC);
        /* an ended alert whose rows retention removed: its counts and times stay */
        alert(f, "A2", "batch", "critical", "southampton", t, t);
        sql(f, "UPDATE alerts SET pruned_at = %lld WHERE id = 'A2'", (long long)NOW);
        sql(f, "INSERT INTO delivery_totals (alert_id, channel, purpose, state, deliveries) VALUES"
               " ('A2', 'sms', 'alert', 'delivered', 39), ('A2', 'sms', 'escalation', 'sent', 1),"
               " ('A2', 'sms', 'alert', 'failed', 1)");
        sql(f, "INSERT INTO delivery_times (alert_id, channel, usec) VALUES ('A2', 'sms', %lld), ('A2', 'sms', %lld)",
            (long long)(3 * SEC), (long long)(7 * SEC));
        /* outside the window: not counted */
        alert(f, "A3", "batch", "critical", "southampton", SINCE - DAY, SINCE - DAY);
        delivery(f, "A3", "booth-house", "sms", "failed", SINCE - DAY, SINCE - DAY);
        cJSON *s = summary(f, SINCE, NOW);
        assert_int_equal(at(s, "delivery.sms.succeeded"), 41);
        assert_int_equal(at(s, "delivery.sms.failed"), 1);
        assert_int_equal(at(s, "delivery.sms.other"), 0);
        assert_int_equal(at(s, "delivery.sms.total"), 42);
        assert_int_equal(at(s, "delivery.sms.states.delivered"), 40);
        assert_int_equal(at(s, "delivery.sms.states.sent"), 1);
        assert_int_equal(at(s, "delivery.sms.timed"), 3);
        assert_int_equal(at(s, "delivery.sms.p50_seconds"), 5); /* of 3, 5 and 7 */
        assert_int_equal(at(s, "delivery.sms.p95_seconds"), 7);
        assert_int_equal(at(s, "delivery.email.failed"), 1);
        assert_int_equal(at(s, "delivery.email.timed"), 0);
        assert_false(has(cJSON_GetObjectItem(s, "delivery"), "email", "p50_seconds"));
        assert_int_equal(at(s, "delivery.mqtt.other"), 1);
        assert_int_equal(at(s, "delivery.mqtt.success_rate"), 0);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(s, "capped")));
        cJSON_Delete(s);
}

static void test_acks_by_kind_escalations_and_people(void **state)
{
        struct fixture *f = *state;
        int64_t t = NOW - 2 * DAY;
        alert(f, "A1", "batch", "critical", "southampton", t, t);
        alert(f, "A2", "batch", "critical", "portsmouth", t, t);
        /* booth-house had A1 by two channels (one pair) and acknowledged after 65 s; the pharmacy
         * had A2 and did not; a subscriber the config no longer has had A1 */
        delivery(f, "A1", "booth-house", "sms", "delivered", t, t + SEC);
        delivery(f, "A1", "booth-house", "mqtt", "delivered", t + SEC, t + SEC);
        delivery(f, "A2", "fratton-pharmacy", "mqtt", "delivered", t, t + SEC);
        delivery(f, "A1", "old-hostel", "mqtt", "delivered", t, t + SEC);
        sql(f, "INSERT INTO acks (alert_id, revision, subscriber, via, by, at) VALUES"
               " ('A1', 1, 'booth-house', 'sms', '+44', %lld), ('A1', 1, 'booth-house', 'dashboard', 'b', %lld)",
            (long long)(t + 65 * SEC), (long long)(t + 99 * SEC));
        sql(f, "INSERT INTO escalations (alert_id, subscriber, started_at, due_at, state, decided_at, detail) VALUES"
               " ('A1', 'booth-house', %lld, %lld, 'acknowledged', %lld, 'booth-house'),"
               " ('A2', 'fratton-pharmacy', %lld, %lld, 'escalated', %lld, '[\"ph\"]')",
            (long long)t, (long long)(t + HOUR), (long long)(t + 65 * SEC), (long long)t, (long long)(t + HOUR),
            (long long)(t + HOUR));
        sql(f, "INSERT INTO sms_optouts (number, via, since) VALUES ('+447700900001', 'notify', %lld),"
               " ('+447700900002', 'notify', %lld)", (long long)t, (long long)(SINCE - DAY));
        sql(f, "INSERT INTO public_subscribers (number, area, joined_at) VALUES ('+447700900003', 'southampton', %lld),"
               " ('+447700900003', 'portsmouth', %lld), ('+447700900004', 'southampton', %lld)",
            (long long)t, (long long)(SINCE - DAY), (long long)(SINCE - DAY));
        cJSON *s = summary(f, SINCE, NOW);
        assert_int_equal(at(s, "acks.hostel.due"), 1);
        assert_int_equal(at(s, "acks.hostel.acknowledged"), 1);
        assert_int_equal(at(s, "acks.hostel.rate"), 1);
        assert_int_equal(at(s, "acks.hostel.median_seconds"), 65);
        assert_int_equal(at(s, "acks.pharmacy.due"), 1);
        assert_int_equal(at(s, "acks.pharmacy.acknowledged"), 0);
        assert_false(has(cJSON_GetObjectItem(s, "acks"), "pharmacy", "median_seconds"));
        assert_int_equal(at(s, "acks.(not configured).due"), 1);
        assert_int_equal(at(s, "escalations.started"), 2);
        assert_int_equal(at(s, "escalations.escalated"), 1);
        assert_int_equal(at(s, "escalations.acknowledged_in_time"), 1);
        assert_int_equal(at(s, "escalations.waiting"), 0);
        assert_int_equal(at(s, "optouts.in_window"), 1);
        assert_int_equal(at(s, "optouts.total"), 2);
        assert_int_equal(at(s, "public.numbers"), 2);
        assert_int_equal(at(s, "public.subscriptions"), 3);
        assert_int_equal(at(s, "public.joined_in_window"), 1);
        cJSON_Delete(s);
}

static void test_empty_store_gives_zeros(void **state)
{
        struct fixture *f = *state;
        cJSON *s = summary(f, SINCE, NOW);
        assert_int_equal(at(s, "alerts.total"), 0);
        assert_int_equal(at(s, "escalations.started"), 0);
        assert_int_equal(at(s, "public.numbers"), 0);
        assert_non_null(cJSON_GetObjectItem(s, "delivery"));
        assert_null(cJSON_GetObjectItem(s, "delivery")->child);
        assert_null(cJSON_GetObjectItem(s, "acks")->child);
        cJSON_Delete(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_percentile_by_nearest_rank),
                cmocka_unit_test_setup_teardown(test_window_counts_alerts_when_recipients_first_saw_them, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cluster_time_to_issue_runs_from_its_first_report, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deliveries_count_what_retention_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_acks_by_kind_escalations_and_people, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_store_gives_zeros, setup, teardown),
        };
        return cmocka_run_group_tests(tests, group_setup, dawn_test_config_free);
}
