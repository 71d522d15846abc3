/* A delivery is handed to its channel only once the batch that claims it
 * has committed (daemon/delivery/outbox.c, issue 15). Handed over before, a
 * claim whose batch then failed (a full disk, the database away, a split
 * between a node and it) left the row free for another node to take and send
 * while the first send was on its way: one text twice. Here the batch's
 * COMMIT fails (the store's test hook), and the channel, a driver that
 * records what it is given, must have been given nothing; the next batch
 * commits, and it is given the delivery once. On SQLite, and on PostgreSQL
 * with DAWN_TEST_PG (make unit-postgresql). */
#include "dawn_test.h"
#include "dawn_test_store.h"

#include <errno.h>

#include "alert.h"
#include "channel.h"
#include "commit.h"
#include "outbox.h"
#include "store.h"

#define NOW (INT64_C(1800000000) * 1000000) /* 2027-01-15 */

static const char config_text[] = "areas = { south = { town = {}; }; };\n"
                                  "channels = { mqtt = { rate_per_minute = 0; }; };\n";

/* ---- a channel that records what it is given ---- */

static int sends;
static int64_t sent_id;

static bool recorder_ready(struct dawn_channel *ch)
{
        (void)ch;
        return true;
}

static int recorder_send(struct dawn_channel *ch, const struct dawn_delivery *d)
{
        (void)ch;
        sends++;
        sent_id = d->id;
        return 0;
}

static const char *recorder_describe(struct dawn_channel *ch)
{
        (void)ch;
        return "a recorder";
}

static const struct dawn_channel_driver recorder = {
        .name = "mqtt",
        .kind = DAWN_CHANNEL_MQTT,
        .ready = recorder_ready,
        .send = recorder_send,
        .describe = recorder_describe,
};

/* one alert with one delivery waiting, committed: its id */
static int64_t one_delivery(struct dawn_store *s)
{
        fixture_alert_with_delivery(s, NOW, DAWN_CHANNEL_MQTT, "dawn/v1/subscribers/booth-house/alerts/x");
        struct dawn_outbox_row rows[1];
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, NOW + 1, rows, 1), 1);
        int64_t id = rows[0].id;
        dawn_outbox_row_clear(&rows[0]);
        return id;
}

/* runs the loop until it has nothing ready (bounded) */
static void settle(sd_event *loop)
{
        for (int i = 0; i < 200; i++)
                if (sd_event_run(loop, 0) <= 0)
                        return;
        fail_msg("the loop kept finding work");
}

static void test_a_send_waits_for_its_claim_to_commit(void **state)
{
        struct fixture *f = *state;
        sd_event *loop = NULL;
        struct dawn_commit *c = NULL;
        struct dawn_outbox *o = NULL;
        assert_int_equal(sd_event_new(&loop), 0);
        assert_int_equal(dawn_commit_new(loop, f->s, NULL, NULL, &c), 0);
        assert_int_equal(dawn_outbox_new(loop, f->s, c, &config, &o), 0);
        struct dawn_channel ch = { .driver = &recorder, .on_complete = dawn_outbox_on_complete,
                                   .on_ready = dawn_outbox_on_ready, .userdata = o };
        dawn_outbox_attach(o, DAWN_CHANNEL_MQTT, &ch);
        int64_t id = one_delivery(f->s);
        sends = 0;

        /* the batch that claims it does not commit (a full disk): nothing is sent */
        dawn_store_fail_next_commit(f->s, -ENOSPC);
        dawn_outbox_kick(o);
        settle(loop);
        assert_int_equal(sends, 0);
        assert_int_equal(dawn_outbox_in_flight(o), 0);
        char *st = sql_text(f, "SELECT state FROM outbox");
        assert_string_equal(st, "pending");
        free(st);

        /* the next one commits: it is sent, once */
        dawn_outbox_kick(o);
        settle(loop);
        assert_int_equal(sends, 1);
        assert_int_equal(sent_id, id);
        assert_int_equal(dawn_outbox_in_flight(o), 1);
        st = sql_text(f, "SELECT state FROM outbox");
        assert_string_equal(st, "in-flight");
        free(st);

        dawn_outbox_attach(o, DAWN_CHANNEL_MQTT, NULL);
        dawn_outbox_free(o);
        dawn_commit_free(c);
        sd_event_unref(loop);
}

static int group_setup(void **state UNUSED)
{
        return dawn_test_config_load(config_text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_a_send_waits_for_its_claim_to_commit, setup, teardown),
        };
        return cmocka_run_group_tests(tests, group_setup, dawn_test_config_free);
}
