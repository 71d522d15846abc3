/* Retention at the store: an alert that ended before the cutoff loses its
 * delivery rows (recipients), who acknowledged it and the numbers in old
 * audit rows, and keeps the counts per channel, purpose and state and the
 * delivery times; open alerts, alerts that ended recently and alerts with
 * a delivery still waiting are left alone; a dry run changes nothing; a
 * step takes a bounded batch of alerts. */
#include "dawn_test.h"
#include "dawn_test_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "store.h"

#define NOW (INT64_C(1800000000) * SEC) /* 2027-01-15 */
#define DAY (86400 * SEC)

/* An alert with status and updated_at as given; its id is returned in id. */
static void add_alert(struct fixture *f, enum dawn_status status, int64_t updated_at, char *id)
{
        struct dawn_alert a;
        dawn_alert_init(&a);
        a.type = DAWN_TYPE_BATCH;
        a.area = strdup("southampton");
        a.summary = strdup("Heroin contains a nitazene.");
        a.revision = 1;
        a.status = status;
        a.issued_at = updated_at - DAY;
        a.updated_at = updated_at;
        assert_int_equal(dawn_store_next_alert_id(f->s, a.id), 0);
        assert_int_equal(dawn_store_save_alert(f->s, &a, "fp", true), 0);
        strcpy(id, a.id);
        dawn_alert_clear(&a);
}

static char *text(struct fixture *f, const char *query)
{
        return sql_text(f, query);
}

/* A1 ended 100 days ago: two texts (one delivered after 5 s, one failed),
 * a dashboard delivered after 1 s, an SMS ack. A2 is active; A3 ended an
 * hour ago; A4 ended 100 days ago but has a text still waiting. */
static void store_with_alerts(struct fixture *f)
{
        char id[DAWN_MAX_ID_CHARS + 1];
        int64_t old = NOW - 100 * DAY;
        assert_int_equal(dawn_store_begin(f->s), 0);
        add_alert(f, DAWN_STATUS_CANCELLED, old, id);
        assert_string_equal(id, "A1");
        assert_int_equal(dawn_store_add_delivery(f->s, "A1", 1, "booth-house", DAWN_CHANNEL_SMS, "+447700900123",
                                                 DAWN_ACTION_PUBLISH, old - DAY), 0);
        assert_int_equal(dawn_store_add_delivery(f->s, "A1", 1, "st-marys", DAWN_CHANNEL_SMS, "+447700900124",
                                                 DAWN_ACTION_PUBLISH, old - DAY), 0);
        assert_int_equal(dawn_store_add_delivery(f->s, "A1", 1, "booth-house", DAWN_CHANNEL_MQTT,
                                                 "dawn/v1/booth-house/alerts/A1", DAWN_ACTION_PUBLISH, old - DAY), 0);
        assert_int_equal(dawn_store_add_ack(f->s, "A1", 1, "booth-house", "sms", "+4477******23", old - DAY + SEC), 1);
        assert_int_equal(dawn_store_audit(f->s, "sms:+4477******23 (booth-house)", "ack", "A1",
                                          "acknowledged revision 1 by text (booth-house)", old - DAY + SEC), 0);
        assert_int_equal(dawn_store_audit(f->s, "sms:+4477******23 (booth-house)", "sms-reply", NULL,
                                          "text reply: call me on 07700 900999", old - DAY + SEC), 0);
        add_alert(f, DAWN_STATUS_ACTIVE, old, id);
        assert_int_equal(dawn_store_add_delivery(f->s, id, 1, "booth-house", DAWN_CHANNEL_SMS, "+447700900123",
                                                 DAWN_ACTION_PUBLISH, old), 0);
        add_alert(f, DAWN_STATUS_EXPIRED, NOW - 3600 * SEC, id);
        assert_int_equal(dawn_store_add_delivery(f->s, id, 1, "booth-house", DAWN_CHANNEL_SMS, "+447700900123",
                                                 DAWN_ACTION_PUBLISH, NOW - DAY), 0);
        add_alert(f, DAWN_STATUS_CANCELLED, old, id);
        assert_int_equal(dawn_store_add_delivery(f->s, id, 1, "booth-house", DAWN_CHANNEL_SMS, "+447700900123",
                                                 DAWN_ACTION_PUBLISH, old - DAY), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        sql(f, "UPDATE outbox SET state = 'delivered', updated_at = created_at + 5000000"
               " WHERE alert_id = 'A1' AND recipient = '+447700900123'");
        sql(f, "UPDATE outbox SET state = 'failed', updated_at = created_at + 9000000"
               " WHERE alert_id = 'A1' AND recipient = '+447700900124'");
        sql(f, "UPDATE outbox SET state = 'delivered', updated_at = created_at + 1000000"
               " WHERE alert_id = 'A1' AND channel = 'mqtt'");
        sql(f, "UPDATE outbox SET state = 'delivered' WHERE alert_id IN ('A2', 'A3')");
}

static void test_dry_run_says_what_and_changes_nothing(void **state)
{
        struct fixture *f = *state;
        store_with_alerts(f);
        int64_t rows = sql_int(f, "SELECT count(*) FROM outbox");
        cJSON *ids = cJSON_CreateArray();
        struct dawn_prune_counts c;
        assert_int_equal(dawn_store_prune_preview(f->s, NOW - 90 * DAY, 10, ids, &c), 0);
        assert_int_equal(c.alerts, 1);
        assert_int_equal(c.deliveries, 3);
        assert_int_equal(c.by_channel[DAWN_CHANNEL_SMS], 2);
        assert_int_equal(c.by_channel[DAWN_CHANNEL_MQTT], 1);
        assert_false(c.more);
        char *list = cJSON_PrintUnformatted(ids);
        assert_string_equal(list, "[\"A1\"]");
        free(list);
        cJSON_Delete(ids);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), rows);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM delivery_totals"), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM alerts WHERE pruned_at IS NOT NULL"), 0);
        assert_int_equal(dawn_store_pruned_at(f->s, "A1"), 0);
}

static void test_prune_keeps_counts_and_times(void **state)
{
        struct fixture *f = *state;
        store_with_alerts(f);
        struct dawn_prune_counts c;
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_prune_step(f->s, NOW - 90 * DAY, DAWN_PRUNE_BATCH_MAX, "officer", NOW, &c), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(c.alerts, 1);
        assert_int_equal(c.deliveries, 3);
        assert_int_equal(c.by_channel[DAWN_CHANNEL_SMS], 2);
        assert_int_equal(c.audit_rows, 2);
        assert_false(c.more);

        /* gone: every recipient of A1 */
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE alert_id = 'A1'"), 0);
        /* kept: the counts, and the times of the two that arrived */
        assert_int_equal(sql_int(f, "SELECT count(*) FROM delivery_totals WHERE alert_id = 'A1'"), 3);
        assert_int_equal(sql_int(f, "SELECT deliveries FROM delivery_totals WHERE alert_id = 'A1' AND channel = 'sms'"
                                  " AND purpose = 'alert' AND state = 'failed'"), 1);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM delivery_times WHERE alert_id = 'A1'"), 2);
        assert_int_equal(sql_int(f, "SELECT usec FROM delivery_times WHERE channel = 'sms'"), 5 * SEC);
        assert_int_equal(sql_int(f, "SELECT usec FROM delivery_times WHERE channel = 'mqtt'"), 1 * SEC);
        assert_int_equal(dawn_store_pruned_at(f->s, "A1"), NOW);
        cJSON *totals = cJSON_CreateObject();
        assert_int_equal(dawn_store_delivery_totals_json(f->s, "A1", totals), 0);
        char *t = cJSON_PrintUnformatted(totals);
        assert_string_equal(t, "{\"mqtt\":{\"delivered\":1},\"sms\":{\"delivered\":1,\"failed\":1}}");
        free(t);
        cJSON_Delete(totals);
        /* who acknowledged goes; that booth-house did, and when, stays */
        char *by = text(f, "SELECT by || ' ' || subscriber FROM acks WHERE alert_id = 'A1'");
        assert_string_equal(by, "(removed) booth-house");
        free(by);
        /* the audit trail keeps whose number it was, not the number, nor a reply's words */
        assert_int_equal(sql_int(f, "SELECT count(*) FROM audit WHERE actor LIKE '%7700%' OR detail LIKE '%7700%'"), 0);
        char *actor = text(f, "SELECT actor FROM audit WHERE action = 'sms-reply'");
        assert_string_equal(actor, "sms (booth-house)");
        free(actor);
        char *detail = text(f, "SELECT detail FROM audit WHERE action = 'prune' AND alert_id = 'A1' AND actor = 'officer'");
        assert_non_null(strstr(detail, "3 deliveries (mqtt 1, sms 2)"));
        free(detail);

        /* left alone: the active alert, the recent one, the one with a text still waiting */
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE alert_id IN ('A2', 'A3', 'A4')"), 3);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM alerts WHERE pruned_at IS NOT NULL"), 1);

        /* once done, nothing more to do */
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_prune_step(f->s, NOW - 90 * DAY, DAWN_PRUNE_BATCH_MAX, "officer", NOW, &c), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(c.alerts, 0);
        assert_int_equal(c.audit_rows, 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM delivery_totals"), 3);
}

/* A backlog goes a batch at a time, and says when there is more. */
static void test_a_step_is_bounded(void **state)
{
        struct fixture *f = *state;
        char id[DAWN_MAX_ID_CHARS + 1];
        int n = DAWN_PRUNE_BATCH_MAX + 6;
        assert_int_equal(dawn_store_begin(f->s), 0);
        for (int i = 0; i < n; i++) {
                add_alert(f, DAWN_STATUS_EXPIRED, NOW - 200 * DAY + i * SEC, id);
                assert_int_equal(dawn_store_add_delivery(f->s, id, 1, "booth-house", DAWN_CHANNEL_EMAIL,
                                                         "nights@booth-house.example", DAWN_ACTION_PUBLISH,
                                                         NOW - 201 * DAY), 0);
        }
        assert_int_equal(dawn_store_commit(f->s), 0);
        sql(f, "UPDATE outbox SET state = 'sent'");
        struct dawn_prune_counts c;
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_prune_step(f->s, NOW - 90 * DAY, 0, "dawnd (retention)", NOW, &c), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(c.alerts, DAWN_PRUNE_BATCH_MAX);
        assert_true(c.more);
        /* oldest first */
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE alert_id = 'A1'"), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 6);
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_prune_step(f->s, NOW - 90 * DAY, 0, "dawnd (retention)", NOW, &c), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(c.alerts, 6);
        assert_false(c.more);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM audit WHERE action = 'prune'"), n);
        assert_int_equal(sql_int(f, "SELECT sum(deliveries) FROM delivery_totals WHERE state = 'sent'"), n);
}

/* Alerts with many deliveries (public texts) go fewer at a time, but at least one. */
static void test_a_step_is_bounded_by_deliveries(void **state)
{
        struct fixture *f = *state;
        char id[DAWN_MAX_ID_CHARS + 1], rcpt[64];
        assert_int_equal(dawn_store_begin(f->s), 0);
        for (int i = 0; i < 3; i++) {
                add_alert(f, DAWN_STATUS_CANCELLED, NOW - 200 * DAY + i * SEC, id);
                int n = i == 0 ? DAWN_PRUNE_DELIVERIES_MAX + 10 : DAWN_PRUNE_DELIVERIES_MAX / 2 + 1;
                for (int k = 0; k < n; k++) {
                        snprintf(rcpt, sizeof(rcpt), "+4477009%05d", k);
                        assert_int_equal(dawn_store_add_delivery(f->s, id, 1, "public", DAWN_CHANNEL_SMS, rcpt,
                                                                 DAWN_ACTION_PUBLISH, NOW - 201 * DAY), 0);
                }
        }
        assert_int_equal(dawn_store_commit(f->s), 0);
        sql(f, "UPDATE outbox SET state = 'sent'");
        int64_t steps[3];
        for (int i = 0; i < 3; i++) {
                struct dawn_prune_counts c;
                assert_int_equal(dawn_store_begin(f->s), 0);
                assert_int_equal(dawn_store_prune_step(f->s, NOW - 90 * DAY, 0, "dawnd (retention)", NOW, &c), 0);
                assert_int_equal(dawn_store_commit(f->s), 0);
                steps[i] = c.alerts;
                assert_true(c.more == (i < 2));
        }
        /* the first alone though it has more than the bound; then one each, as two would pass it */
        assert_int_equal(steps[0], 1);
        assert_int_equal(steps[1], 1);
        assert_int_equal(steps[2], 1);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 0);
}

/* The JOIN cap counts per day: older than yesterday they go; opt-outs never do. */
static void test_old_join_counts_go_and_opt_outs_stay(void **state)
{
        struct fixture *f = *state;
        int64_t today = NOW / DAY;
        char q[256];
        snprintf(q, sizeof(q), "INSERT INTO public_joins VALUES ('+447700900555', %lld, 2), ('+447700900555', %lld, 1),"
                               " ('+447700900556', %lld, 1)",
                 (long long)(today - 5), (long long)(today - 1), (long long)today);
        sql(f, "%s", q);
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_set_opt_out(f->s, "+447700900777", true, "notify", NOW - 400 * DAY), 1);
        assert_int_equal(dawn_store_commit(f->s), 0);
        struct dawn_prune_counts c;
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_prune_step(f->s, NOW - 90 * DAY, 0, "dawnd (retention)", NOW, &c), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(c.join_rows, 1);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM public_joins"), 2);
        assert_int_equal(dawn_store_opted_out(f->s, "+447700900777"), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_dry_run_says_what_and_changes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prune_keeps_counts_and_times, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_step_is_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_step_is_bounded_by_deliveries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_old_join_counts_go_and_opt_outs_stay, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
