/* Tests for daemon/delivery/ratelimit.c: the token bucket in front of a gateway's
 * per-minute limit. The promise tested is the gateway's: never more than
 * the rate in any 60 s, checked over every sliding window of a long run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "ratelimit.h"

#define UNUSED __attribute__((unused))

#define SEC INT64_C(1000000)
#define MS INT64_C(1000)
/* any start: the bucket only looks at differences */
#define T0 (INT64_C(1795435200) * SEC)

/* Attempts a send every step_usec for run_usec; returns the send times
 * (malloc'ed) and their number in *n. */
static int64_t *simulate(int rate, int64_t step_usec, int64_t run_usec, size_t *n)
{
        struct dawn_token_bucket b;
        dawn_bucket_init(&b, rate, T0);
        size_t cap = (size_t)(run_usec / step_usec) + 1;
        int64_t *sent = malloc(cap * sizeof(*sent));
        assert_non_null(sent);
        *n = 0;
        for (int64_t t = T0; t < T0 + run_usec; t += step_usec)
                if (dawn_bucket_take(&b, t))
                        sent[(*n)++] = t;
        return sent;
}

/* The most sends in any half-open window [t, t + 60 s): the window that
 * holds the most always starts at a send. */
static size_t max_per_minute(const int64_t *sent, size_t n)
{
        size_t most = 0;
        for (size_t i = 0, j = 0; i < n; i++) {
                while (j < n && sent[j] < sent[i] + 60 * SEC)
                        j++;
                if (j - i > most)
                        most = j - i;
        }
        return most;
}

static void test_starts_with_one_token(void **state UNUSED)
{
        struct dawn_token_bucket b;
        dawn_bucket_init(&b, 60, T0);
        assert_true(dawn_bucket_take(&b, T0));
        assert_false(dawn_bucket_take(&b, T0));
        assert_false(dawn_bucket_take(&b, T0 + 999 * MS));
        /* then one a second */
        assert_true(dawn_bucket_take(&b, T0 + 1 * SEC));
        assert_false(dawn_bucket_take(&b, T0 + 1 * SEC + 500 * MS));
        assert_true(dawn_bucket_take(&b, T0 + 2 * SEC));
}

static void test_even_stream_at_60_a_minute(void **state UNUSED)
{
        /* ten minutes of attempts every 10 ms */
        size_t n;
        int64_t *sent = simulate(60, 10 * MS, 600 * SEC, &n);
        assert_int_equal(n, 600);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(sent[i], T0 + (int64_t)i * SEC);
        assert_int_equal(max_per_minute(sent, n), 60);
        free(sent);
}

static void test_never_more_than_the_rate_in_any_minute(void **state UNUSED)
{
        static const struct {
                int rate;
                int64_t step;
        } cases[] = {
                { 60, 10 * MS }, { 1, 10 * MS }, { 7, 10 * MS }, { 59, 10 * MS },  { 61, 10 * MS },
                { 120, 10 * MS }, { 600, 1 * MS }, { 3000, 1 * MS }, { 3000, 7 * MS }, { 100000, 100 },
        };
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                size_t n;
                int64_t *sent = simulate(cases[c].rate, cases[c].step, 600 * SEC, &n);
                size_t most = max_per_minute(sent, n);
                if (most > (size_t)cases[c].rate) {
                        print_error("rate %d: %zu sends in one minute\n", cases[c].rate, most);
                        fail();
                }
                /* and the bucket does not starve the stream either: over ten
                 * minutes at least 95 % of the rate got through */
                if (n < (size_t)cases[c].rate * 10 * 95 / 100) {
                        print_error("rate %d: only %zu sends in ten minutes\n", cases[c].rate, n);
                        fail();
                }
                free(sent);
        }
}

static void test_burst_after_idle_stays_within_the_minute(void **state UNUSED)
{
        /* idle long enough to fill up, then everything at once, then steady:
         * the burst plus the refill still stays at the rate */
        struct dawn_token_bucket b;
        dawn_bucket_init(&b, 3000, T0);
        size_t cap = 100000, n = 0;
        int64_t *sent = malloc(cap * sizeof(*sent));
        assert_non_null(sent);
        int64_t start = T0 + 3600 * SEC;
        for (int64_t t = start; t < start + 180 * SEC && n < cap; t += 1 * MS)
                while (dawn_bucket_take(&b, t) && n < cap)
                        sent[n++] = t;
        /* a burst of one second's worth at the start */
        size_t at_start = 0;
        while (at_start < n && sent[at_start] == start)
                at_start++;
        assert_int_equal(at_start, 50);
        assert_true(max_per_minute(sent, n) <= 3000);
        free(sent);
}

static void test_wait_usec(void **state UNUSED)
{
        struct dawn_token_bucket b;
        dawn_bucket_init(&b, 60, T0);
        assert_int_equal(dawn_bucket_wait_usec(&b, T0), 0);
        assert_true(dawn_bucket_take(&b, T0));
        assert_int_equal(dawn_bucket_wait_usec(&b, T0), 1 * SEC);
        assert_int_equal(dawn_bucket_wait_usec(&b, T0 + 250 * MS), 750 * MS);
        assert_false(dawn_bucket_take(&b, T0 + 999999));
        assert_int_equal(dawn_bucket_wait_usec(&b, T0 + 999999), 1);
        assert_int_equal(dawn_bucket_wait_usec(&b, T0 + 1 * SEC), 0);
        assert_true(dawn_bucket_take(&b, T0 + 1 * SEC));
}

static void test_wait_then_take_succeeds(void **state UNUSED)
{
        /* whatever the rate, sleeping the wait is enough, and not more than
         * a microsecond too much */
        static const int rates[] = { 1, 3, 7, 60, 61, 999, 3000, 7919, 100000 };
        for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
                struct dawn_token_bucket b;
                dawn_bucket_init(&b, rates[r], T0);
                int64_t t = T0;
                for (int i = 0; i < 200; i++) {
                        uint64_t w = dawn_bucket_wait_usec(&b, t);
                        if (w > 0) {
                                assert_false(dawn_bucket_take(&b, t + (int64_t)w - 1));
                                t += (int64_t)w;
                        }
                        assert_true(dawn_bucket_take(&b, t));
                        t += 13; /* a little later each round, off the token grid */
                }
        }
}

static void test_rate_zero_is_unlimited(void **state UNUSED)
{
        struct dawn_token_bucket b;
        dawn_bucket_init(&b, 0, T0);
        for (int i = 0; i < 100000; i++)
                assert_true(dawn_bucket_take(&b, T0));
        assert_int_equal(dawn_bucket_wait_usec(&b, T0), 0);
        /* and time going backwards changes nothing */
        assert_true(dawn_bucket_take(&b, T0 - 3600 * SEC));
}

static void test_slow_rate(void **state UNUSED)
{
        /* one a minute: the burst is still one token */
        struct dawn_token_bucket b;
        dawn_bucket_init(&b, 1, T0);
        assert_true(dawn_bucket_take(&b, T0));
        assert_int_equal(dawn_bucket_wait_usec(&b, T0), 60 * SEC);
        assert_false(dawn_bucket_take(&b, T0 + 59 * SEC));
        assert_true(dawn_bucket_take(&b, T0 + 60 * SEC));
        /* a long idle does not store more than one */
        assert_true(dawn_bucket_take(&b, T0 + 3600 * SEC));
        assert_false(dawn_bucket_take(&b, T0 + 3600 * SEC));
}

static void test_time_going_backwards(void **state UNUSED)
{
        struct dawn_token_bucket b;
        dawn_bucket_init(&b, 60, T0);
        assert_true(dawn_bucket_take(&b, T0));
        /* back by an hour: no token appears, none is taken away */
        assert_false(dawn_bucket_take(&b, T0 - 3600 * SEC));
        assert_true(b.tokens >= 0);
        assert_int_equal(dawn_bucket_wait_usec(&b, T0 - 3600 * SEC), 1 * SEC);
        /* the bucket counts on from the new time instead of stalling for an hour */
        assert_true(dawn_bucket_take(&b, T0 - 3599 * SEC));
        assert_false(dawn_bucket_take(&b, T0 - 3599 * SEC));
        /* and a jump back to the old time adds no more than the cap */
        assert_true(dawn_bucket_take(&b, T0 + 10 * SEC));
        assert_false(dawn_bucket_take(&b, T0 + 10 * SEC));
}

static void test_extreme_times(void **state UNUSED)
{
        struct dawn_token_bucket b;
        dawn_bucket_init(&b, 60, INT64_MIN);
        assert_true(dawn_bucket_take(&b, INT64_MIN));
        assert_false(dawn_bucket_take(&b, INT64_MIN));
        /* the whole range in one step: full, never more */
        assert_true(dawn_bucket_take(&b, INT64_MAX));
        assert_false(dawn_bucket_take(&b, INT64_MAX));
        assert_true(b.tokens >= 0 && b.tokens <= b.capacity);
}

/* A source's limit counts alerts: a request of n is taken whole or not at all. */
static void test_source_limit_takes_whole_requests(void **state UNUSED)
{
        dawn_source_limits_reset();
        /* 60 a minute: ten seconds' worth (10) at once, full from the start */
        struct dawn_source_limit *l = dawn_source_limit("lab", 60, T0);
        assert_non_null(l);
        assert_false(dawn_bucket_take_n(&l->bucket, 11, T0));
        assert_true(l->bucket.tokens > 9.99); /* a refused request takes nothing */
        assert_true(dawn_bucket_take_n(&l->bucket, 10, T0));
        assert_false(dawn_bucket_take_n(&l->bucket, 1, T0));
        /* 51 a minute come back (the burst of 10 and 51 more make the minute's 60, less the
         * one the half-open minute leaves out): five take 5.88 s */
        assert_int_equal(dawn_bucket_wait_n_usec(&l->bucket, 5, T0), 5882353);
        /* more than the bucket holds: the wait is until it is full (then split the request) */
        assert_int_equal(dawn_bucket_wait_n_usec(&l->bucket, 1000, T0), 11764706);
        assert_true(dawn_bucket_take_n(&l->bucket, 5, T0 + 5882353));
        /* the same id is the same bucket (HTTP and MQTT share it); a new rate is no refill:
         * the bucket keeps what it had, within the new size */
        assert_ptr_equal(dawn_source_limit("lab", 60, T0 + 5882353), l);
        l = dawn_source_limit("lab", 6, T0 + 5882353);
        assert_int_equal((int)l->bucket.capacity, 1);
        assert_false(dawn_bucket_take_n(&l->bucket, 1, T0 + 5882353));
        assert_true(dawn_bucket_take_n(&l->bucket, 1, T0 + 5882353 + 10 * SEC));
        assert_false(dawn_bucket_take_n(&l->bucket, 1, T0 + 5882353 + 10 * SEC));
        /* 0: no limit */
        l = dawn_source_limit("other", 0, T0);
        assert_true(dawn_bucket_take_n(&l->bucket, 1000, T0));
        dawn_source_limits_reset();
}

static void test_source_limit_logs_once_a_minute(void **state UNUSED)
{
        dawn_source_limits_reset();
        struct dawn_source_limit *l = dawn_source_limit("lab", 6, T0);
        unsigned refused = 0;
        assert_true(dawn_source_limit_log_due(l, 1000, T0, &refused));
        assert_int_equal(refused, 1000);
        assert_false(dawn_source_limit_log_due(l, 3, T0 + 30 * SEC, &refused));
        assert_true(dawn_source_limit_log_due(l, 1, T0 + 60 * SEC, &refused));
        assert_int_equal(refused, 4);
        dawn_source_limits_reset();
}

/* A greedy source (asking every 10 ms for a minute, then after a rest)
 * gets at most rate_per_minute alerts in any minute, burst included: the
 * bucket holds ten seconds' worth and refills so that a full bucket plus a
 * minute's refill is the rate, never the rate plus the burst. */
static void test_source_limit_never_more_than_the_rate_in_a_minute(void **state UNUSED)
{
        static const int rates[] = { 6, 60, 600, 3000 };
        for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
                dawn_source_limits_reset();
                struct dawn_source_limit *l = dawn_source_limit("greedy", rates[k], T0);
                int first = 0, later = 0;
                for (int64_t t = T0; t < T0 + 60 * SEC; t += 10 * MS)
                        while (dawn_bucket_take_n(&l->bucket, 1, t))
                                first++;
                /* ten seconds' rest fills the bucket again; then another minute */
                for (int64_t t = T0 + 70 * SEC; t < T0 + 130 * SEC; t += 10 * MS)
                        while (dawn_bucket_take_n(&l->bucket, 1, t))
                                later++;
                if (first > rates[k] || later > rates[k] || first < rates[k] - 1)
                        fail_msg("rate %d: %d in the first minute, %d in a later one", rates[k], first, later);
        }
        dawn_source_limits_reset();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_starts_with_one_token),
                cmocka_unit_test(test_even_stream_at_60_a_minute),
                cmocka_unit_test(test_never_more_than_the_rate_in_any_minute),
                cmocka_unit_test(test_burst_after_idle_stays_within_the_minute),
                cmocka_unit_test(test_wait_usec),
                cmocka_unit_test(test_wait_then_take_succeeds),
                cmocka_unit_test(test_rate_zero_is_unlimited),
                cmocka_unit_test(test_slow_rate),
                cmocka_unit_test(test_time_going_backwards),
                cmocka_unit_test(test_extreme_times),
                cmocka_unit_test(test_source_limit_takes_whole_requests),
                cmocka_unit_test(test_source_limit_never_more_than_the_rate_in_a_minute),
                cmocka_unit_test(test_source_limit_logs_once_a_minute),
        };
        return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
