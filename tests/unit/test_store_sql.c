/* Every statement the store has is one its backend takes: prepared on a
 * fresh store, SQLite's or (with DAWN_TEST_PG, make unit-postgresql)
 * PostgreSQL's, where each that differs has a text of its own (issue 15). A
 * statement the database refuses would otherwise be found only when the
 * feature that needs it first runs. */
#include "dawn_test.h"
#include "dawn_test_store.h"

#include <cJSON.h>
#include <errno.h>
#include <unistd.h>

#include "alert.h"
#include "commit.h"
#include "store.h"

#define NOW (INT64_C(1800000000) * 1000000) /* 2027-01-15 */

static void test_every_statement_prepares(void **state)
{
        struct fixture *f = *state;
        cJSON *failed = cJSON_CreateArray();
        int bad = dawn_store_prepare_all(f->s, failed);
        char *why = cJSON_Print(failed);
        if (bad != 0)
                fail_msg("%d statement(s) refused by %s: %s", bad, f->pg ? "PostgreSQL" : "SQLite", why);
        free(why);
        cJSON_Delete(failed);
}

/* a statement refused is reported, not hidden: the check above can fail */
static void test_a_refused_statement_is_named(void **state)
{
        struct fixture *f = *state;
        sql(f, "DROP TABLE twilio_requests");
        f->s = dawn_store_close(f->s);
        assert_int_equal(fixture_open(f, &f->s), 0);
        cJSON *failed = cJSON_CreateArray();
        assert_true(dawn_store_prepare_all(f->s, failed) >= 1);
        char *why = cJSON_PrintUnformatted(failed);
        assert_non_null(strstr(why, "twilio_requests"));
        free(why);
        cJSON_Delete(failed);
}

/* Alert A1 with one SMS delivery waiting, written through s. */
static void alert_with_text(struct dawn_store *s)
{
        fixture_alert_with_delivery(s, NOW, DAWN_CHANNEL_SMS, "+447700900123");
}

/* the deliveries due on SMS now that s would send: how many (and the first's id) */
static int due(struct dawn_store *s, int64_t now, int64_t *id)
{
        struct dawn_outbox_row rows[4];
        int n = dawn_store_due_deliveries(s, DAWN_CHANNEL_SMS, now, rows, 4);
        assert_true(n >= 0);
        if (n > 0 && id)
                *id = rows[0].id;
        for (int i = 0; i < n; i++)
                dawn_outbox_row_clear(&rows[i]);
        return n;
}

static const cJSON *node_named(const cJSON *nodes, const char *id)
{
        const cJSON *n;
        cJSON_ArrayForEach(n, nodes) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(n, "node");
                if (cJSON_IsString(name) && strcmp(name->valuestring, id) == 0)
                        return n;
        }
        return NULL;
}

/* dawnctl status lists the node, with what it has in flight */
static void test_the_node_is_listed(void **state)
{
        struct fixture *f = *state;
        assert_int_equal(dawn_store_node_heartbeat(f->s, "0.1.0", true, NOW, NULL, 0), 0);
        alert_with_text(f->s);
        int64_t id = 0;
        assert_int_equal(due(f->s, NOW, &id), 1);
        assert_int_equal(dawn_store_delivery_started(f->s, id, NOW), 0);
        assert_int_equal(dawn_store_node_heartbeat(f->s, "0.1.0", false, NOW + 10000000, &id, 1), 0);
        cJSON *nodes = cJSON_CreateArray();
        assert_int_equal(dawn_store_nodes_json(f->s, NOW + 12000000, nodes), 1);
        const cJSON *me = node_named(nodes, "test");
        assert_non_null(me);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(me, "this")));
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(me, "started_at")->valuestring, "2027-01-15T08:00:00Z");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(me, "heartbeat_at")->valuestring, "2027-01-15T08:00:10Z");
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(me, "heartbeat_age_seconds")->valueint, 2);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(me, "in_flight")->valueint, 1);
        cJSON_Delete(nodes);
}

/* Two nodes on one PostgreSQL database: a delivery one of them is taking (its
 * batch holds the row) is not due for the other, which does not wait for it
 * either; once taken it is the first's, and the second never sends it. */
static void test_two_nodes_never_take_one_delivery(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f); /* one SQLite node: its in-flight table is the guard */
        struct dawn_store *b = NULL;
        assert_int_equal(fixture_open_node(f, "node-b", &b), 0);
        alert_with_text(f->s);
        int64_t id = 0;
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(due(f->s, NOW, &id), 1);
        assert_int_equal(due(b, NOW, NULL), 0); /* skipped, not waited for */
        assert_int_equal(dawn_store_delivery_started(f->s, id, NOW), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(due(b, NOW, NULL), 0);
        assert_int_equal(dawn_store_delivery_started(b, id, NOW), -ESTALE);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE state = 'in-flight' AND claimed_by = 'test'"), 1);
        dawn_store_close(b);
}

/* reclaim_expired(s) until it finds n claims whose lease ran out: 0 once it has, -1
 * if none ran out in 10 s (the leases here are 1 s, on the database's clock) */
static int reclaim_within(struct dawn_store *s, int n)
{
        for (int i = 0; i < 200; i++) {
                int r = dawn_store_reclaim_expired(s, NOW);
                assert_true(r >= 0);
                if (r >= n)
                        return 0;
                usleep(50 * 1000);
        }
        return -1;
}

/* A node that stops beating loses its claims when their lease runs out (on the
 * database's clock): another node finds them and they wait again, to be sent (at
 * least once). Its late result then changes nothing: the row is the new
 * claimant's. Before that, and never for a claim a live node still has in flight,
 * nothing moves. */
static void test_a_silent_nodes_claims_go_out_again(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        struct dawn_store *a = NULL, *b = NULL;
        assert_int_equal(fixture_open_lease(f, "node-a", 1000000, &a), 0);
        assert_int_equal(fixture_open_lease(f, "node-b", 1000000, &b), 0);
        alert_with_text(a);
        int64_t id = 0;
        assert_int_equal(due(a, NOW, &id), 1);
        assert_int_equal(dawn_store_delivery_started(a, id, NOW), 0);
        assert_int_equal(dawn_store_reclaim_expired(b, NOW), 0);
        /* a beat for what a has in flight keeps it a's */
        assert_int_equal(dawn_store_node_heartbeat(a, "0.1.0", false, NOW, &id, 1), 0);
        assert_int_equal(dawn_store_reclaim_expired(b, NOW), 0);
        /* then silence: b takes it back, and sends it */
        assert_int_equal(reclaim_within(b, 1), 0);
        assert_int_equal(due(b, NOW, NULL), 1);
        char *why = sql_text(f, "SELECT state || ': ' || last_error FROM outbox");
        assert_string_equal(why, "retrying: its node stopped answering: sent again");
        free(why);
        assert_int_equal(dawn_store_delivery_started(b, id, NOW), 0);
        /* a's late answer finishes nothing of b's */
        assert_int_equal(dawn_store_delivery_finished(a, id, DAWN_DELIVERY_RETRYING, "late", NOW, NOW), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE state = 'in-flight' AND claimed_by = 'node-b'"), 1);
        assert_int_equal(dawn_store_delivery_finished(b, id, DAWN_DELIVERY_SENT, NULL, 0, NOW), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE state = 'sent'"), 1);
        dawn_store_close(a);
        dawn_store_close(b);
}

/* A claim a live node no longer has in flight (its result was in a batch that did
 * not commit) is not kept alive by its beats: it runs out and is sent again, by the
 * node itself if it is alone, not held for as long as the node lives. */
static void test_a_claim_left_behind_is_not_held(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        struct dawn_store *a = NULL;
        assert_int_equal(fixture_open_lease(f, "node-a", 1000000, &a), 0);
        alert_with_text(a);
        int64_t id = 0;
        assert_int_equal(due(a, NOW, &id), 1);
        assert_int_equal(dawn_store_delivery_started(a, id, NOW), 0);
        assert_int_equal(dawn_store_node_heartbeat(a, "0.1.0", false, NOW, NULL, 0), 0); /* nothing in flight */
        assert_int_equal(reclaim_within(a, 1), 0);
        assert_int_equal(due(a, NOW, NULL), 1);
        dawn_store_close(a);
}

/* At its start a node takes back what it had in flight, never another live
 * node's claims. */
static void test_a_restart_takes_back_only_its_own(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        struct dawn_store *b = NULL;
        assert_int_equal(fixture_open_node(f, "node-b", &b), 0);
        alert_with_text(f->s);
        alert_with_text(f->s);
        struct dawn_outbox_row rows[2];
        assert_int_equal(dawn_store_due_deliveries(f->s, DAWN_CHANNEL_SMS, NOW, rows, 2), 2);
        assert_int_equal(dawn_store_delivery_started(f->s, rows[0].id, NOW), 0);
        assert_int_equal(dawn_store_delivery_started(b, rows[1].id, NOW), 0);
        dawn_outbox_row_clear(&rows[0]);
        dawn_outbox_row_clear(&rows[1]);
        assert_int_equal(dawn_store_requeue_inflight(f->s, NOW + 1), 1);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE state = 'in-flight' AND claimed_by = 'node-b'"),
                         1);
        dawn_store_close(b);
}

/* ids come from a sequence on PostgreSQL: two nodes asking at once get two */
static void test_two_nodes_get_two_alert_ids(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *b = NULL;
        assert_int_equal(fixture_open_node(f, "node-b", &b), 0);
        char one[DAWN_MAX_ID_CHARS + 1], two[DAWN_MAX_ID_CHARS + 1];
        if (f->pg) {
                assert_int_equal(dawn_store_begin(f->s), 0);
                assert_int_equal(dawn_store_begin(b), 0);
        }
        assert_int_equal(dawn_store_next_alert_id(f->s, one), 0);
        assert_int_equal(dawn_store_next_alert_id(b, two), 0);
        if (f->pg)
                assert_string_not_equal(one, two);
        else
                assert_string_equal(one, two); /* one SQLite writer at a time: max + 1 */
        if (f->pg) {
                assert_int_equal(dawn_store_commit(f->s), 0);
                assert_int_equal(dawn_store_commit(b), 0);
        }
        dawn_store_close(b);
}

/* An SMS reply in flight is claimed as a delivery is: another node's start
 * leaves it, its node's beats keep it, and once they stop it goes out again
 * from another node; the first node's late result then changes nothing. */
static void test_a_reply_in_flight_is_its_nodes(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        struct dawn_store *a = NULL, *b = NULL;
        assert_int_equal(fixture_open_lease(f, "node-a", 1000000, &a), 0);
        int64_t id = dawn_store_reply_add(a, "+447700900123", "Thanks: your acknowledgement is recorded.", false, NOW);
        assert_true(id > 0);
        assert_int_equal(dawn_store_reply_move(a, id, DAWN_DELIVERY_PENDING, DAWN_DELIVERY_INFLIGHT, NULL, 0, NOW), 1);
        /* node b starts: what a has in flight stays a's */
        assert_int_equal(fixture_open_lease(f, "node-b", 1000000, &b), 0);
        assert_int_equal(dawn_store_requeue_inflight(b, NOW), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM sms_replies WHERE state = 'in-flight' AND claimed_by = 'node-a'"),
                         1);
        /* b cannot record a's result */
        assert_int_equal(dawn_store_reply_move(b, id, DAWN_DELIVERY_INFLIGHT, DAWN_DELIVERY_DELIVERED, NULL, 0, NOW), 0);
        /* a beats for it (its id negated: a reply) */
        int64_t negated = -id;
        assert_int_equal(dawn_store_node_heartbeat(a, "0.1.0", false, NOW, &negated, 1), 0);
        assert_int_equal(dawn_store_reclaim_expired(b, NOW), 0);
        /* then silence: b takes it back, to send again */
        assert_int_equal(reclaim_within(b, 1), 0);
        char *why = sql_text(f, "SELECT state || ': ' || last_error FROM sms_replies");
        assert_string_equal(why, "retrying: its node stopped answering: sent again");
        free(why);
        assert_int_equal(dawn_store_reply_move(b, id, DAWN_DELIVERY_RETRYING, DAWN_DELIVERY_INFLIGHT, NULL, 0, NOW), 1);
        /* a's late answer finishes nothing of b's */
        assert_int_equal(dawn_store_reply_move(a, id, DAWN_DELIVERY_INFLIGHT, DAWN_DELIVERY_DELIVERED, NULL, 0, NOW), 0);
        /* but the provider's receipt does, whichever node its callback reaches */
        assert_int_equal(
                dawn_store_reply_receipt_move(a, id, DAWN_DELIVERY_INFLIGHT, DAWN_DELIVERY_DELIVERED, NULL, 0, NOW), 1);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM sms_replies WHERE state = 'delivered' AND claimed_by IS NULL"),
                         1);
        dawn_store_close(a);
        dawn_store_close(b);
}

/* A channel's rate is one bucket for every node: what one takes, the other
 * cannot, and a bucket one node is taking from is skipped by the other, not
 * waited for. (No refill here: per_usec 0.) */
static void test_a_channels_rate_is_one_bucket_for_all_nodes(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        struct dawn_store *b = NULL;
        assert_int_equal(fixture_open_node(f, "node-b", &b), 0);
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_take_tokens(f->s, DAWN_CHANNEL_SMS, 3, 5, 0), 3); /* made full, 3 taken */
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_take_tokens(f->s, DAWN_CHANNEL_SMS, 1, 5, 0), 1);
        assert_int_equal(dawn_store_begin(b), 0);
        assert_int_equal(dawn_store_take_tokens(b, DAWN_CHANNEL_SMS, 3, 5, 0), 0); /* a has it: skipped */
        assert_int_equal(dawn_store_take_tokens(b, DAWN_CHANNEL_EMAIL, 3, 5, 0), 3); /* another channel's */
        assert_int_equal(dawn_store_commit(b), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(dawn_store_begin(b), 0);
        assert_int_equal(dawn_store_take_tokens(b, DAWN_CHANNEL_SMS, 3, 5, 0), 1); /* the one a left */
        assert_int_equal(dawn_store_take_tokens(b, DAWN_CHANNEL_SMS, 3, 5, 0), 0);
        assert_int_equal(dawn_store_commit(b), 0);
        /* refilled on the database's clock, never past the capacity */
        assert_int_equal(dawn_store_begin(b), 0);
        assert_int_equal(dawn_store_take_tokens(b, DAWN_CHANNEL_SMS, 10, 5, 1.0), 5);
        assert_int_equal(dawn_store_commit(b), 0);
        dawn_store_close(b);
}

/* ---- once across nodes ---- */

/* A timer's job is one node's at a time: the other leaves it, until the
 * first node's batch has committed. */
static void test_a_job_is_one_nodes_at_a_time(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        struct dawn_store *b = NULL;
        assert_int_equal(fixture_open_node(f, "node-b", &b), 0);
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_try_job(f->s, DAWN_JOB_EXPIRY), 1);
        assert_int_equal(dawn_store_begin(b), 0);
        assert_int_equal(dawn_store_try_job(b, DAWN_JOB_EXPIRY), 0);
        assert_int_equal(dawn_store_try_job(b, DAWN_JOB_ESCALATION), 1); /* another job is free */
        assert_int_equal(dawn_store_commit(b), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(dawn_store_begin(b), 0);
        assert_int_equal(dawn_store_try_job(b, DAWN_JOB_EXPIRY), 1);
        assert_int_equal(dawn_store_commit(b), 0);
        dawn_store_close(b);
}

/* Intake in an area is one node's at a time: another node waits for it (at
 * most its lock_timeout, then -EBUSY: the report is refused as temporary),
 * while intake in other areas goes on. */
static void test_intake_in_an_area_is_one_nodes_at_a_time(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        char conninfo[512];
        snprintf(conninfo, sizeof(conninfo), "%s dbname=dawn options='-csearch_path=%s'", test_pg(), f->pg_db);
        struct dawn_store_options o = { .backend = DAWN_STORE_POSTGRESQL, .conninfo = conninfo, .node = "node-b",
                                        .timeout_usec = 1000000 };
        struct dawn_store *b = NULL;
        assert_int_equal(dawn_store_open_with(&o, &b), 0);
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_lock_area(f->s, "fareham"), 0);
        assert_int_equal(dawn_store_lock_area(f->s, "fareham"), 0); /* its own again: no wait */
        assert_int_equal(dawn_store_begin(b), 0);
        assert_int_equal(dawn_store_savepoint(b), 0);
        assert_int_equal(dawn_store_lock_area(b, "gosport"), 0);
        assert_int_equal(dawn_store_release(b), 0);
        assert_int_equal(dawn_store_savepoint(b), 0);
        assert_int_equal(dawn_store_lock_area(b, "fareham"), -EBUSY);
        dawn_store_rollback_to_savepoint(b);
        assert_int_equal(dawn_store_commit(b), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(dawn_store_begin(b), 0);
        assert_int_equal(dawn_store_lock_area(b, "fareham"), 0);
        assert_int_equal(dawn_store_commit(b), 0);
        dawn_store_close(b);
}

/* ---- a COMMIT whose answer is lost with the connection ---- */

struct waiter {
        struct dawn_ticket ticket;
        int answer, answers;
};

/* what runs after a batch that kept a write: the outbox starts sending */
static void count_hook(void *userdata)
{
        ++*(int *)userdata;
}

static void heard(int r, void *userdata)
{
        struct waiter *w = userdata;
        w->answer = r;
        w->answers++;
}

/* One write through the group commit, whose COMMIT's answer is lost (after
 * the COMMIT reached the server, or before); the loop runs until the writer
 * is answered (bounded: the outcome is learned within 30 s at most). */
static struct waiter write_and_lose_the_answer(struct fixture *f, const char *ref, bool sent, int *hooks)
{
        sd_event *loop = NULL;
        struct dawn_commit *c = NULL;
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(dawn_commit_new(loop, f->s, NULL, NULL, &c), 0);
        assert_int_equal(dawn_commit_on_write(c, count_hook, hooks), 0);
        struct waiter w = { .answer = 1 };
        assert_int_equal(dawn_commit_begin(c), 0);
        assert_int_equal(dawn_commit_end(c, dawn_store_audit(f->s, "test", ref, NULL, ref, 0)), 0);
        dawn_commit_ticket(c, &w.ticket, heard, &w);
        dawn_store_lose_next_commit(f->s, sent);
        for (int i = 0; i < 400 && w.answers == 0; i++)
                assert_true(sd_event_run(loop, 100 * 1000) >= 0);
        /* no batch opens while the outcome is being learned; one does once it is known */
        assert_int_equal(dawn_commit_open(c), 0);
        dawn_commit_free(c);
        sd_event_unref(loop);
        return w;
}

/* Kept: the writer hears "ok", and it is in the store. Never "not stored"
 * for what was kept (issue 15, "errors mean what they say"). */
static void test_a_lost_answer_to_a_kept_commit_is_ok(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        int hooks = 0;
        struct waiter w = write_and_lose_the_answer(f, "kept", true, &hooks);
        assert_int_equal(w.answers, 1);
        assert_int_equal(w.answer, 0);
        assert_int_equal(hooks, 1); /* what it queued is sent */
        assert_int_equal(sql_int(f, "SELECT count(*) FROM audit WHERE action = 'kept'"), 1);
}

/* Not kept: the writer hears "not stored" (temporary), and it is not in the
 * store, and never will be. Never "ok" for what was not kept. */
static void test_a_lost_answer_to_a_commit_never_sent_is_not_stored(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY_NOT(f);
        int hooks = 0;
        struct waiter w = write_and_lose_the_answer(f, "lost", false, &hooks);
        assert_int_equal(w.answers, 1);
        assert_int_equal(w.answer, -EAGAIN);
        assert_int_equal(hooks, 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM audit WHERE action = 'lost'"), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_every_statement_prepares, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_refused_statement_is_named, setup, teardown),
                cmocka_unit_test_setup_teardown(test_the_node_is_listed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_nodes_never_take_one_delivery, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_silent_nodes_claims_go_out_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_claim_left_behind_is_not_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_restart_takes_back_only_its_own, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_nodes_get_two_alert_ids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_reply_in_flight_is_its_nodes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_channels_rate_is_one_bucket_for_all_nodes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_job_is_one_nodes_at_a_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_intake_in_an_area_is_one_nodes_at_a_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_lost_answer_to_a_kept_commit_is_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_lost_answer_to_a_commit_never_sent_is_not_stored, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
