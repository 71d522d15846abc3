/* Every statement the store has is one its backend takes: prepared on a
 * fresh store, SQLite's or (with DAWN_TEST_PG, make unit-postgresql)
 * PostgreSQL's, where each that differs has a text of its own (issue 15). A
 * statement the database refuses would otherwise be found only when the
 * feature that needs it first runs. */
#include "dawn_test.h"
#include "dawn_test_store.h"

#include <cJSON.h>

#include "store.h"

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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_every_statement_prepares, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_refused_statement_is_named, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
