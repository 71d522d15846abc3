/* Tests for the outbox's retry decision (daemon/delivery/outbox.c,
 * dawn_retry_decide): after a transient failure, when a delivery is tried
 * again, and when it fails because it outlived its channel's lifetime. The
 * jitter's draw is 0.5 throughout (no jitter), except where said. */
#include "dawn_test.h"

#include "outbox.h"

#define MIN (60 * SEC)
#define HOUR (60 * MIN)
/* 2026-11-23T12:00:00Z */
#define NOW (INT64_C(1795435200) * SEC)

static bool decide(int attempts, int64_t age, uint64_t retry_after, uint64_t lifetime, uint64_t initial,
                   int64_t *retry_at)
{
        return dawn_retry_decide(attempts, NOW - age, NOW, retry_after, lifetime, initial, 0.5, retry_at);
}

static void test_first_failure_retries_after_five_seconds(void **state UNUSED)
{
        int64_t at = -1;
        assert_true(decide(1, 0, 0, 24 * HOUR, 0, &at));
        assert_int_equal(at, NOW + 5 * SEC);
}

static void test_each_attempt_doubles_from_the_initial_delay(void **state UNUSED)
{
        int64_t at;
        assert_true(decide(1, 0, 0, 24 * HOUR, 2 * SEC, &at));
        assert_int_equal(at, NOW + 2 * SEC);
        assert_true(decide(2, 0, 0, 24 * HOUR, 2 * SEC, &at));
        assert_int_equal(at, NOW + 4 * SEC);
        assert_true(decide(4, 0, 0, 24 * HOUR, 2 * SEC, &at));
        assert_int_equal(at, NOW + 16 * SEC);
}

static void test_an_old_delivery_waits_an_eighth_of_its_age_at_most_ten_minutes(void **state UNUSED)
{
        int64_t at;
        assert_true(decide(1, 40 * MIN, 0, 24 * HOUR, 0, &at));
        assert_int_equal(at, NOW + 5 * MIN);
        assert_true(decide(1, 3 * HOUR, 0, 24 * HOUR, 0, &at));
        assert_int_equal(at, NOW + 10 * MIN);
}

static void test_retry_after_is_never_undercut(void **state UNUSED)
{
        int64_t at;
        /* the peer asks for longer than the backoff: its word */
        assert_true(decide(1, 0, 120 * SEC, 24 * HOUR, 0, &at));
        assert_int_equal(at, NOW + 120 * SEC);
        /* longer even than the cap: still its word */
        assert_true(decide(1, 0, 30 * MIN, 24 * HOUR, 0, &at));
        assert_int_equal(at, NOW + 30 * MIN);
        /* shorter than the backoff: the backoff */
        assert_true(decide(3, 0, 1 * SEC, 24 * HOUR, 0, &at));
        assert_int_equal(at, NOW + 20 * SEC);
}

static void test_past_its_lifetime_it_fails(void **state UNUSED)
{
        int64_t at = -1;
        assert_false(decide(5, 24 * HOUR + 1, 0, 24 * HOUR, 0, &at));
        assert_int_equal(at, 0);
        /* a Retry-After does not keep it alive */
        assert_false(decide(5, 25 * HOUR, 60 * SEC, 24 * HOUR, 0, &at));
}

static void test_at_its_lifetime_exactly_it_is_tried_again(void **state UNUSED)
{
        int64_t at;
        assert_true(decide(5, 24 * HOUR, 0, 24 * HOUR, 0, &at));
        assert_int_equal(at, NOW + 10 * MIN);
}

static void test_no_lifetime_retries_for_ever(void **state UNUSED)
{
        int64_t at;
        assert_true(decide(100, 30 * 24 * HOUR, 0, 0, 0, &at));
        assert_int_equal(at, NOW + 10 * MIN);
}

static void test_a_clock_stepped_back_counts_as_age_zero(void **state UNUSED)
{
        int64_t at;
        /* created "in the future": not past any lifetime, and no age-based wait */
        assert_true(decide(1, -2 * HOUR, 0, 24 * HOUR, 0, &at));
        assert_int_equal(at, NOW + 5 * SEC);
}

static void test_jitter_stays_within_twenty_percent(void **state UNUSED)
{
        int64_t at;
        assert_true(dawn_retry_decide(2, NOW, NOW, 0, 24 * HOUR, 0, 0.0, &at));
        assert_int_equal(at, NOW + 8 * SEC);
        assert_true(dawn_retry_decide(2, NOW, NOW, 0, 24 * HOUR, 0, 0.999999, &at));
        assert_true(at < NOW + 12 * SEC && at > NOW + 12 * SEC - SEC / 100);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_failure_retries_after_five_seconds),
                cmocka_unit_test(test_each_attempt_doubles_from_the_initial_delay),
                cmocka_unit_test(test_an_old_delivery_waits_an_eighth_of_its_age_at_most_ten_minutes),
                cmocka_unit_test(test_retry_after_is_never_undercut),
                cmocka_unit_test(test_past_its_lifetime_it_fails),
                cmocka_unit_test(test_at_its_lifetime_exactly_it_is_tried_again),
                cmocka_unit_test(test_no_lifetime_retries_for_ever),
                cmocka_unit_test(test_a_clock_stepped_back_counts_as_age_zero),
                cmocka_unit_test(test_jitter_stays_within_twenty_percent),
        };
        return cmocka_run_group_tests_name("outbox_retry", tests, NULL, NULL);
}
