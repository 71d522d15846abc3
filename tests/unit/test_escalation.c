/* Tests for escalation (issue 13 part 1): the config keys and their
 * errors, which name the field, and what an escalation text says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "config.h"
#include "escalation.h"
#include "escalation_text.h"
#include "sms_text.h"
#include "store.h"

#define UNUSED __attribute__((unused))

#define BASE "areas = { south = { town = {}; }; };\nchannels = { mqtt = {}; };\n"
#define DUTY "{ id = \"duty\"; kind = \"public-health\"; area = \"south\"; mqtt = true; }"

static struct dawn_config *load(const char *text, char **errors)
{
        struct dawn_errors e = { 0 };
        struct dawn_config *c = NULL;
        size_t len = 1;
        dawn_config_load_string(text, "test.conf", &c, &e);
        for (size_t i = 0; i < e.n; i++)
                len += strlen(e.msgs[i]) + 1;
        *errors = calloc(1, len);
        for (size_t i = 0; i < e.n; i++) {
                strcat(*errors, e.msgs[i]);
                strcat(*errors, "\n");
        }
        dawn_errors_clear(&e);
        return c;
}

static void expect_error(const char *text, const char *message)
{
        char *errors;
        struct dawn_config *c = load(text, &errors);
        if (!strstr(errors, message))
                print_error("expected '%s' in:\n%s", message, errors);
        assert_null(c);
        assert_non_null(strstr(errors, message));
        free(errors);
}

static void test_subscriber_keys(void **state UNUSED)
{
        char *errors;
        struct dawn_config *c = load(BASE "subscribers = ( " DUTY ",\n"
                                          "{ id = \"booth\"; name = \"Booth House\"; kind = \"hostel\"; area = \"town\";"
                                          " mqtt = true; escalate_after = \"3s\"; escalate_to = [ \"duty\" ]; } );\n",
                                     &errors);
        assert_string_equal(errors, "");
        assert_non_null(c);
        const struct dawn_subscriber *b = dawn_config_subscriber(c, "booth");
        assert_string_equal(b->name, "Booth House");
        assert_int_equal(b->escalate_after_usec, 3 * DAWN_USEC_PER_SEC);
        assert_int_equal(b->n_escalate_to, 1);
        assert_string_equal(b->escalate_to[0], "duty");
        const struct dawn_subscriber *d = dawn_config_subscriber(c, "duty");
        assert_string_equal(d->name, "duty"); /* the id by default */
        assert_false(dawn_config_escalates(c, d, DAWN_GRADE_CRITICAL));
        assert_true(dawn_config_escalates(c, b, DAWN_GRADE_CRITICAL));
        assert_false(dawn_config_escalates(c, b, DAWN_GRADE_WARNING)); /* grades default to critical */
        free(errors);
        dawn_config_free(c);
}

/* The global group is the default; a subscriber's own keys win; the duty
 * officer named in escalation.to is not escalated to itself. */
static void test_global_defaults(void **state UNUSED)
{
        char *errors;
        struct dawn_config *c = load(BASE "escalation = { after = \"15m\"; to = [ \"duty\" ];"
                                          " grades = [ \"warning\", \"critical\" ]; };\n"
                                          "subscribers = ( " DUTY ",\n"
                                          "{ id = \"a\"; kind = \"hostel\"; area = \"town\"; mqtt = true; },\n"
                                          "{ id = \"b\"; kind = \"hostel\"; area = \"town\"; mqtt = true;"
                                          " escalate_after = \"1h\"; },\n"
                                          "{ id = \"c\"; kind = \"hostel\"; area = \"town\"; mqtt = true;"
                                          " escalate_to = []; } );\n",
                                     &errors);
        assert_string_equal(errors, "");
        const struct dawn_subscriber *a = dawn_config_subscriber(c, "a");
        assert_int_equal(a->escalate_after_usec, 15 * 60 * DAWN_USEC_PER_SEC);
        assert_string_equal(a->escalate_to[0], "duty");
        assert_true(dawn_config_escalates(c, a, DAWN_GRADE_WARNING));
        assert_false(dawn_config_escalates(c, a, DAWN_GRADE_INFO));
        assert_int_equal(dawn_config_subscriber(c, "b")->escalate_after_usec, 3600 * DAWN_USEC_PER_SEC);
        assert_false(dawn_config_escalates(c, dawn_config_subscriber(c, "c"), DAWN_GRADE_CRITICAL));
        assert_int_equal(dawn_config_subscriber(c, "duty")->n_escalate_to, 0);
        free(errors);
        dawn_config_free(c);
}

static void test_errors_name_the_field(void **state UNUSED)
{
        expect_error(BASE "subscribers = ( " DUTY ", { id = \"b\"; kind = \"hostel\"; area = \"town\"; mqtt = true;"
                          " escalate_after = \"3s\"; escalate_to = [ \"nobody\" ]; } );\n",
                     "subscribers[1].escalate_to[0]: unknown subscriber 'nobody'");
        expect_error(BASE "subscribers = ( " DUTY ", { id = \"b\"; kind = \"hostel\"; area = \"town\"; mqtt = true;"
                          " escalate_after = \"3s\"; escalate_to = [ \"b\" ]; } );\n",
                     "subscribers[1].escalate_to[0]: 'b' cannot escalate to itself");
        expect_error(BASE "subscribers = ( " DUTY ", { id = \"b\"; kind = \"hostel\"; area = \"town\"; mqtt = true;"
                          " escalate_after = \"soon\"; escalate_to = [ \"duty\" ]; } );\n",
                     "subscribers[1].escalate_after: invalid duration 'soon'");
        expect_error(BASE "subscribers = ( " DUTY ", { id = \"b\"; kind = \"hostel\"; area = \"town\"; mqtt = true;"
                          " escalate_to = [ \"duty\" ]; } );\n",
                     "subscribers[1].escalate_to needs escalate_after");
        expect_error(BASE "subscribers = ( " DUTY ", { id = \"b\"; kind = \"hostel\"; area = \"town\"; mqtt = true;"
                          " escalate_after = \"5m\"; } );\n",
                     "subscribers[1].escalate_after needs escalate_to");
        expect_error(BASE "subscribers = ( " DUTY ", { id = \"b\"; kind = \"hostel\"; area = \"town\"; mqtt = true;"
                          " name = \"\"; } );\n",
                     "subscribers[1].name must not be empty");
        expect_error(BASE "escalation = { after = \"5m\"; to = [ \"ghost\" ]; };\nsubscribers = ( " DUTY " );\n",
                     "escalation.to[0]: unknown subscriber 'ghost'");
        expect_error(BASE "escalation = { grades = [ \"logged\" ]; };\nsubscribers = ( " DUTY " );\n",
                     "escalation.grades: 'logged' is not a grade that is sent");
        expect_error(BASE "escalation = { when = \"5m\"; };\nsubscribers = ( " DUTY " );\n",
                     "unknown key 'escalation.when'");
}

static struct dawn_escalation_facts facts(const char *phrase, const char *summary)
{
        return (struct dawn_escalation_facts){
                .alert_id = "A17", .grade = DAWN_GRADE_CRITICAL, .about = "booth-house", .name = "Booth House",
                .kind = "hostel", .after_usec = 15 * 60 * DAWN_USEC_PER_SEC, .deliveries = phrase, .summary = summary,
        };
}

static void test_phrase(void **state UNUSED)
{
        struct dawn_escalation_seen s = { 0 };
        char buf[256];
        dawn_escalation_phrase(&s, buf, sizeof(buf));
        assert_string_equal(buf, "nothing was sent");
        dawn_escalation_seen_add(&s, DAWN_CHANNEL_SMS, DAWN_DELIVERY_FAILED);
        dawn_escalation_seen_add(&s, DAWN_CHANNEL_SMS, DAWN_DELIVERY_DELIVERED); /* two numbers: the best */
        dawn_escalation_seen_add(&s, DAWN_CHANNEL_MQTT, DAWN_DELIVERY_PENDING);
        dawn_escalation_phrase(&s, buf, sizeof(buf));
        assert_string_equal(buf, "SMS delivered, dashboard not reached");
        struct dawn_escalation_seen t = { 0 };
        dawn_escalation_seen_add(&t, DAWN_CHANNEL_EMAIL, DAWN_DELIVERY_RETRYING);
        dawn_escalation_seen_add(&t, DAWN_CHANNEL_SMS, DAWN_DELIVERY_OPTED_OUT);
        dawn_escalation_phrase(&t, buf, sizeof(buf));
        assert_string_equal(buf, "SMS not sent (opted out), email not yet sent");
        dawn_escalation_duration(45 * DAWN_USEC_PER_SEC, buf, sizeof(buf));
        assert_string_equal(buf, "45 s");
        dawn_escalation_duration(15 * 60 * DAWN_USEC_PER_SEC, buf, sizeof(buf));
        assert_string_equal(buf, "15 min");
        dawn_escalation_duration((3 * 3600 + 5 * 60) * DAWN_USEC_PER_SEC, buf, sizeof(buf));
        assert_string_equal(buf, "3 h 5 min");
}

static void test_sms_text(void **state UNUSED)
{
        struct dawn_escalation_facts f = facts("SMS delivered, dashboard not reached",
                                               "Heroin in Southampton contains a nitazene.");
        char *t = dawn_escalation_sms(&f, 2);
        assert_string_equal(t, "DAWN A17 CRITICAL not acknowledged by Booth House (hostel) 15 min after it was "
                               "issued; SMS delivered, dashboard not reached. Heroin in Southampton contains a "
                               "nitazene.");
        free(t);
}

/* Within the budget the summary is cut first, the head never. */
static void test_sms_budget(void **state UNUSED)
{
        char summary[600];
        memset(summary, 0, sizeof(summary));
        for (int i = 0; i < 30; i++)
                strcat(summary, "Lots of words. ");
        struct dawn_escalation_facts f = facts("SMS failed, dashboard not reached", summary);
        char *t = dawn_escalation_sms(&f, 1);
        assert_true(dawn_sms_measure(t).segments <= 1);
        assert_non_null(strstr(t, "DAWN A17 CRITICAL not acknowledged by Booth House (hostel) 15 min"));
        assert_non_null(strstr(t, "SMS failed"));
        free(t);
        t = dawn_escalation_sms(&f, 2);
        assert_true(dawn_sms_measure(t).segments <= 2);
        assert_non_null(strstr(t, "Lots of words"));
        free(t);
}

static void test_email_and_json(void **state UNUSED)
{
        struct dawn_escalation_facts f = facts("SMS delivered", NULL);
        char *s = dawn_escalation_subject(&f);
        assert_string_equal(s, "[DAWN CRITICAL] A17 not acknowledged by Booth House (hostel)");
        free(s);
        char *b = dawn_escalation_body(&f);
        assert_non_null(strstr(b, "15 min after it was issued; SMS delivered.\r\n"));
        assert_non_null(strstr(b, "reply ACK A17"));
        free(b);
        char *j = dawn_escalation_json(&f);
        assert_non_null(strstr(j, "\"subscriber\":\"booth-house\""));
        assert_non_null(strstr(j, "\"after_seconds\":900"));
        free(j);
}

/* ---- the store: an escalation is a delivery of its own, and its clock is decided once ---- */

static struct dawn_store *fresh_store(char *dir, size_t n)
{
        struct dawn_store *s = NULL;
        char path[128];
        snprintf(dir, n, "/tmp/dawn-escalation-test.XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/dawn.db", dir);
        assert_int_equal(dawn_store_open(path, &s), 0);
        return s;
}

static void remove_store(struct dawn_store *s, const char *dir)
{
        static const char *const suffix[] = { "", "-wal", "-shm" };
        char p[160];
        dawn_store_close(s);
        for (int i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s/dawn.db%s", dir, suffix[i]);
                unlink(p);
        }
        rmdir(dir);
}

static int count_state(enum dawn_channel_kind ch UNUSED, enum dawn_delivery_state st, void *ud)
{
        if (st == DAWN_DELIVERY_PENDING)
                ++*(int *)ud;
        return 0;
}

static void test_store_escalation_rows(void **state UNUSED)
{
        char dir[64];
        struct dawn_store *s = fresh_store(dir, sizeof(dir));
        struct dawn_alert a;
        dawn_alert_init(&a);
        a.type = DAWN_TYPE_BATCH;
        a.grade = DAWN_GRADE_CRITICAL;
        a.status = DAWN_STATUS_ACTIVE;
        a.area = strdup("south");
        a.summary = strdup("escalated");
        a.revision = 1;
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_next_alert_id(s, a.id), 0);
        assert_int_equal(dawn_store_save_alert(s, &a, "fp", true), 0);
        /* the duty officer got revision 1 itself, and an escalation about booth of revision 1 */
        assert_int_equal(dawn_store_add_delivery(s, a.id, 1, "duty", DAWN_CHANNEL_SMS, "+447700900199",
                                                 DAWN_ACTION_PUBLISH, 10), 0);
        assert_int_equal(dawn_store_add_purpose_delivery(s, a.id, 1, "duty", DAWN_CHANNEL_SMS, "+447700900199",
                                                         "escalation", "booth", 10), 1);
        assert_int_equal(dawn_store_add_purpose_delivery(s, a.id, 1, "duty", DAWN_CHANNEL_SMS, "+447700900199",
                                                         "escalation", "booth", 11), 0); /* once */
        /* revision 2 supersedes the alert's own text, never the escalation */
        assert_int_equal(dawn_store_supersede_deliveries(s, a.id, 2, 20), 0);
        cJSON *rows = cJSON_CreateArray();
        assert_int_equal(dawn_store_deliveries_json(s, a.id, rows), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 2);
        int superseded = 0, escalation_pending = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, rows) {
                const char *st = cJSON_GetObjectItem(r, "state")->valuestring;
                bool esc = cJSON_GetObjectItem(r, "purpose") != NULL;
                superseded += !esc && strcmp(st, "superseded") == 0;
                escalation_pending += esc && strcmp(st, "pending") == 0;
        }
        cJSON_Delete(rows);
        assert_int_equal(superseded, 1);
        assert_int_equal(escalation_pending, 1);
        /* the escalation's delivery is not the subscriber's own: the phrase reads only those */
        int pending = 0;
        assert_int_equal(dawn_store_delivery_states(s, a.id, "duty", count_state, &pending), 0);
        assert_int_equal(pending, 0);

        /* the clock: started once, decided once */
        assert_int_equal(dawn_store_start_escalation(s, a.id, "booth", 100, 50), 1);
        assert_int_equal(dawn_store_start_escalation(s, a.id, "booth", 999, 60), 0); /* a later revision */
        assert_int_equal(dawn_store_next_escalation(s), 100);
        struct dawn_escalation_row due[4];
        assert_int_equal(dawn_store_due_escalations(s, 99, due, 4), 0);
        assert_int_equal(dawn_store_due_escalations(s, 100, due, 4), 1);
        assert_string_equal(due[0].subscriber, "booth");
        assert_int_equal(dawn_escalation_acked(s, a.id, "booth", "+4477009xxx23", 101), 0);
        assert_int_equal(dawn_store_decide_escalation(s, a.id, "booth", "escalated", "[]", 102), 0);
        assert_int_equal(dawn_store_next_escalation(s), 0);
        assert_int_equal(dawn_store_stop_escalations(s, a.id, "cancelled", 103), 0);
        rows = cJSON_CreateArray();
        assert_int_equal(dawn_store_escalations_json(s, a.id, rows), 0);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "state")->valuestring, "acknowledged");
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "by")->valuestring, "+4477009xxx23");
        cJSON_Delete(rows);
        assert_int_equal(dawn_store_commit(s), 0);
        dawn_alert_clear(&a);
        remove_store(s, dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subscriber_keys), cmocka_unit_test(test_global_defaults),
                cmocka_unit_test(test_errors_name_the_field), cmocka_unit_test(test_phrase),
                cmocka_unit_test(test_sms_text), cmocka_unit_test(test_sms_budget),
                cmocka_unit_test(test_email_and_json), cmocka_unit_test(test_store_escalation_rows),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
