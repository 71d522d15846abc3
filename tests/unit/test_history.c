/* An alert's history and the audit log as the store reads them back: every
 * table that records an event contributes, in the order things happened;
 * escalation clocks as the escalations table's contract describes them
 * (rows written here by SQL, as the escalation feature writes them); the
 * audit log filtered by time and actor, newest kept when bounded. */
#include "dawn_test.h"
#include "dawn_test_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

/* 2026-12-05T10:00:00Z */
#define T0 (INT64_C(1796464800) * SEC)

/* "event|actor|revision|detail" per line, for comparing a whole history at once. */
static char *lines(const cJSON *array, bool history)
{
        size_t cap = 8192, used = 0;
        char *out = calloc(1, cap);
        const cJSON *e;
        cJSON_ArrayForEach(e, array) {
                const cJSON *rev = cJSON_GetObjectItem(e, history ? "revision" : "alert");
                char revtext[32] = "-";
                if (cJSON_IsNumber(rev))
                        snprintf(revtext, sizeof(revtext), "%d", rev->valueint);
                else if (cJSON_IsString(rev))
                        snprintf(revtext, sizeof(revtext), "%s", rev->valuestring);
                used += (size_t)snprintf(out + used, cap - used, "%s|%s|%s|%s|%s\n",
                                         cJSON_GetObjectItem(e, "at")->valuestring,
                                         cJSON_GetObjectItem(e, history ? "event" : "action")->valuestring,
                                         cJSON_GetObjectItem(e, "actor")->valuestring, revtext,
                                         cJSON_GetObjectItem(e, "detail")->valuestring);
                assert_true(used < cap);
        }
        return out;
}

static void add_alert(struct fixture *f)
{
        sql(f, "INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at, updated_at, json)"
               " VALUES ('A1', 1, 'f', 'cancelled', 'critical', 3, %lld, %lld, '{}')",
            (long long)T0, (long long)(T0 + 600 * SEC));
        sql(f, "INSERT INTO revisions VALUES ('A1', 1, %lld,"
               " '{\"grade\":\"warning\",\"grade_reasons\":[\"nitazene is high-risk\",\"reported only\"]}'),"
               " ('A1', 2, %lld, '{\"grade\":\"critical\",\"grade_reasons\":[\"confirmed by toxicology\"]}'),"
               " ('A1', 3, %lld, '{\"grade\":\"critical\",\"grade_reasons\":[\"confirmed by toxicology\"]}')",
            (long long)T0, (long long)(T0 + 60 * SEC), (long long)(T0 + 600 * SEC));
        /* a review notice's revision (a proposal's) is not one recipients see: never a grade change */
        sql(f, "INSERT INTO revisions VALUES ('A1', 100000001, %lld, '{\"grade\":\"info\"}')",
            (long long)(T0 + 30 * SEC));
        sql(f, "INSERT INTO audit (at, actor, action, alert_id, detail) VALUES"
               " (%lld, 'uid 1000 (alice)', 'issue', 'A1', 'warning batch in southampton'),"
               " (%lld, 'http:ambulance', 'propose', 'A1', 'P1 warning -> critical'),"
               " (%lld, 'http:lab', 'corroborate', 'A1', 'report from lab corroborates; grade warning -> critical'),"
               " (%lld, 'mqtt:booth-house', 'ack', 'A1', 'the acks table says more'),"
               " (%lld, 'dawnd (escalation)', 'escalate', 'A1', 'the escalations table says more'),"
               " (%lld, 'uid 1000 (alice)', 'cancel', 'A1', 'lab retest negative'),"
               " (%lld, 'uid 1001 (bob)', 'issue', 'A2', 'another alert')",
            (long long)T0, (long long)(T0 + 30 * SEC), (long long)(T0 + 60 * SEC), (long long)(T0 + 120 * SEC),
            (long long)(T0 + 900 * SEC), (long long)(T0 + 600 * SEC), (long long)(T0 + 5 * SEC));
        sql(f, "INSERT INTO acks (alert_id, revision, subscriber, via, by, at) VALUES"
               " ('A1', 2, 'booth-house', 'dashboard', 'Sam', %lld),"
               " ('A1', 2, 'st-marys', 'sms', '+44…0123', %lld)",
            (long long)(T0 + 120 * SEC), (long long)(T0 + 180 * SEC));
        /* the held report the proposal names (PostgreSQL checks the reference) */
        sql(f, "INSERT INTO corroborations (id, alert_id, source, received_at, json, proposal) VALUES"
               " (1, 'A1', 'ambulance', %lld, '{}', 'P1')",
            (long long)(T0 + 30 * SEC));
        sql(f, "INSERT INTO proposals (id, seq, alert_id, corroboration, source, status, grade_from, grade_to,"
               " created_at, decided_at, decided_by, reason, json) VALUES"
               " ('P1', 1, 'A1', 1, 'ambulance', 'withdrawn', 'warning', 'critical', %lld, %lld, 'dawnd',"
               "  'the alert was cancelled', '{}')",
            (long long)(T0 + 30 * SEC), (long long)(T0 + 600 * SEC));
}

/* Rows as the escalation feature writes them (SCHEMA 7's contract): one clock
 * per subscriber; detail is the escalate_to ids told (a JSON array) when
 * escalated, who acknowledged when acknowledged, "cancelled" or "expired"
 * when stopped. */
static void add_escalations(struct fixture *f)
{
        sql(f, "INSERT INTO escalations VALUES"
               " ('A1', 'booth-house', %lld, %lld, 'acknowledged', %lld, 'Sam'),"
               " ('A1', 'st-marys', %lld, %lld, 'escalated', %lld, '[\"ph-duty-officer\",\"st-marys-manager\"]'),"
               " ('A1', 'outreach', %lld, %lld, 'stopped', %lld, 'cancelled'),"
               " ('A1', 'newport', %lld, %lld, 'waiting', NULL, NULL)",
            (long long)(T0 + 60 * SEC), (long long)(T0 + 960 * SEC), (long long)(T0 + 120 * SEC),
            (long long)(T0 + 60 * SEC), (long long)(T0 + 150 * SEC), (long long)(T0 + 150 * SEC),
            (long long)(T0 + 60 * SEC), (long long)(T0 + 960 * SEC), (long long)(T0 + 600 * SEC),
            (long long)(T0 + 60 * SEC), (long long)(T0 + 960 * SEC));
}

static void test_history_tells_every_event_in_order(void **state)
{
        struct fixture *f = *state;
        add_alert(f);
        add_escalations(f);
        cJSON *h = cJSON_CreateArray();
        bool more = true;
        assert_int_equal(dawn_store_history_json(f->s, "A1", 100, h, &more), 0);
        assert_false(more);
        char *got = lines(h, true);
        static const char *const want =
                "2026-12-05T10:00:00Z|issue|uid 1000 (alice)|1|warning batch in southampton\n"
                "2026-12-05T10:00:00Z|grade|uid 1000 (alice)|1|warning: nitazene is high-risk; reported only\n"
                "2026-12-05T10:00:30Z|propose|http:ambulance|-|P1 warning -> critical\n"
                "2026-12-05T10:01:00Z|corroborate|http:lab|2|report from lab corroborates; grade warning -> critical\n"
                "2026-12-05T10:01:00Z|grade|http:lab|2|warning -> critical: confirmed by toxicology\n"
                "2026-12-05T10:01:00Z|escalation-wait|dawnd (escalation)|-|waiting for booth-house to acknowledge, "
                "until 2026-12-05T10:16:00Z\n"
                "2026-12-05T10:01:00Z|escalation-wait|dawnd (escalation)|-|waiting for st-marys to acknowledge, "
                "until 2026-12-05T10:02:30Z\n"
                "2026-12-05T10:01:00Z|escalation-wait|dawnd (escalation)|-|waiting for outreach to acknowledge, "
                "until 2026-12-05T10:16:00Z\n"
                "2026-12-05T10:01:00Z|escalation-wait|dawnd (escalation)|-|waiting for newport to acknowledge, "
                "until 2026-12-05T10:16:00Z\n"
                "2026-12-05T10:02:00Z|ack|mqtt:booth-house|2|booth-house acknowledged revision 2 on the dashboard by Sam\n"
                "2026-12-05T10:02:00Z|escalation-acknowledged|dawnd (escalation)|-|booth-house acknowledged (by Sam)\n"
                "2026-12-05T10:02:30Z|escalate|dawnd (escalation)|-|not acknowledged by st-marys; told ph-duty-officer, "
                "st-marys-manager\n"
                "2026-12-05T10:03:00Z|ack|sms:+44…0123 (st-marys)|2|st-marys acknowledged revision 2 by text\n"
                "2026-12-05T10:10:00Z|cancel|uid 1000 (alice)|3|lab retest negative\n"
                "2026-12-05T10:10:00Z|proposal-withdrawn|dawnd|-|P1 (warning -> critical from ambulance): the alert was "
                "cancelled\n"
                "2026-12-05T10:10:00Z|escalation-stopped|dawnd (escalation)|-|outreach: cancelled\n";
        assert_string_equal(got, want);
        free(got);
        cJSON_Delete(h);
}

static void test_history_is_bounded_oldest_first(void **state)
{
        struct fixture *f = *state;
        add_alert(f);
        cJSON *h = cJSON_CreateArray();
        bool more = false;
        assert_int_equal(dawn_store_history_json(f->s, "A1", 2, h, &more), 0);
        assert_true(more);
        assert_int_equal(cJSON_GetArraySize(h), 2);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 0), "event")->valuestring, "issue");
        cJSON_Delete(h);
        /* an alert nobody touched has no history, and says so */
        h = cJSON_CreateArray();
        assert_int_equal(dawn_store_history_json(f->s, "A9", 10, h, &more), 0);
        assert_false(more);
        assert_int_equal(cJSON_GetArraySize(h), 0);
        cJSON_Delete(h);
}

/* An escalation row whose detail is not the JSON array the contract says is
 * shown as it is, never dropped nor an error. */
static void test_history_shows_an_odd_escalation_detail_as_it_is(void **state)
{
        struct fixture *f = *state;
        add_alert(f);
        sql(f, "INSERT INTO escalations VALUES ('A1', 'x', %lld, %lld, 'escalated', %lld, 'ph-duty-officer')",
            (long long)T0, (long long)T0, (long long)(T0 + SEC));
        cJSON *h = cJSON_CreateArray();
        bool more;
        assert_int_equal(dawn_store_history_json(f->s, "A1", 100, h, &more), 0);
        char *got = lines(h, true);
        assert_non_null(strstr(got, "|escalate|dawnd (escalation)|-|not acknowledged by x; told ph-duty-officer\n"));
        free(got);
        cJSON_Delete(h);
}

static void test_audit_filters_and_keeps_the_newest(void **state)
{
        struct fixture *f = *state;
        add_alert(f);
        cJSON *a = cJSON_CreateArray();
        bool more = true;
        assert_int_equal(dawn_store_audit_json(f->s, 0, NULL, 100, a, &more), 0);
        assert_false(more);
        assert_int_equal(cJSON_GetArraySize(a), 7);
        cJSON_Delete(a);

        /* the newest 2, oldest first */
        a = cJSON_CreateArray();
        assert_int_equal(dawn_store_audit_json(f->s, 0, NULL, 2, a, &more), 0);
        assert_true(more);
        char *got = lines(a, false);
        assert_string_equal(got, "2026-12-05T10:10:00Z|cancel|uid 1000 (alice)|A1|lab retest negative\n"
                                 "2026-12-05T10:15:00Z|escalate|dawnd (escalation)|A1|the escalations table says more\n");
        free(got);
        cJSON_Delete(a);

        /* one actor exactly, since a time */
        a = cJSON_CreateArray();
        assert_int_equal(dawn_store_audit_json(f->s, T0 + SEC, "uid 1000 (alice)", 100, a, &more), 0);
        got = lines(a, false);
        assert_string_equal(got, "2026-12-05T10:10:00Z|cancel|uid 1000 (alice)|A1|lab retest negative\n");
        free(got);
        cJSON_Delete(a);
        a = cJSON_CreateArray();
        assert_int_equal(dawn_store_audit_json(f->s, 0, "uid 1000", 100, a, &more), 0);
        assert_int_equal(cJSON_GetArraySize(a), 0);
        cJSON_Delete(a);
}

/* However long the details, one answer stays within DAWN_TRAIL_MAX_BYTES. */
static void test_audit_answer_is_bounded_in_bytes(void **state)
{
        struct fixture *f = *state;
        sql(f, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
               " INSERT INTO audit (at, actor, action, alert_id, detail) SELECT i * 1000000, 'x', 'sms-reply', NULL,"
               " %s FROM n",
            f->pg ? "repeat('y', 100000)" : "printf('%.*c', 100000, 'y')"); /* 100,000 y's */
        cJSON *a = cJSON_CreateArray();
        bool more = false;
        assert_int_equal(dawn_store_audit_json(f->s, 0, NULL, 1000, a, &more), 0);
        assert_true(more);
        int n = cJSON_GetArraySize(a);
        assert_true(n > 0 && n <= DAWN_TRAIL_MAX_BYTES / 100000);
        /* the newest kept: the last row is the 100th */
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(a, n - 1), "at")->valuestring,
                            "1970-01-01T00:01:40Z");
        cJSON_Delete(a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_history_tells_every_event_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_history_is_bounded_oldest_first, setup, teardown),
                cmocka_unit_test_setup_teardown(test_history_shows_an_odd_escalation_detail_as_it_is, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audit_filters_and_keeps_the_newest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audit_answer_is_bounded_in_bytes, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
