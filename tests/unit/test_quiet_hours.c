/* Tests for daemon/delivery/quiet_hours.c: a subscriber's "23:00-07:00" in UK local
 * time, through GMT and BST and the two nights a year the clocks change.
 * Instants are written in UTC (timegm), so the tests say which local time
 * each one is. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quiet_hours.h"

#define UNUSED __attribute__((unused))

#define SEC INT64_C(1000000)
#define LONDON "Europe/London"
#define NIGHT 23 * 60, 7 * 60 /* 23:00-07:00 */

/* A UTC instant in microseconds. */
static int64_t utc(int y, int mon, int d, int h, int min, int s)
{
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
                         .tm_hour = h, .tm_min = min, .tm_sec = s };
        return (int64_t)timegm(&tm) * SEC;
}

static void assert_instant(int64_t got, int64_t want)
{
        if (got != want) {
                char g[32] = "0", w[32] = "0";
                time_t tg = (time_t)(got / SEC), tw = (time_t)(want / SEC);
                struct tm tm;
                if (got)
                        strftime(g, sizeof(g), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tg, &tm));
                strftime(w, sizeof(w), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tw, &tm));
                print_error("ends %s (%lld), expected %s (%lld)\n", g, (long long)got, w, (long long)want);
                fail();
        }
}

/* ---- winter (GMT = UTC) ---- */

static void test_winter_night_inside(void **state UNUSED)
{
        /* 02:00 GMT: quiet until 07:00 the same morning */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 15, 2, 0, 0)), utc(2026, 1, 15, 7, 0, 0));
        /* 23:00 exactly is inside; the end is the next morning */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 15, 23, 0, 0)), utc(2026, 1, 16, 7, 0, 0));
        /* midnight, and the last second */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 16, 0, 0, 0)), utc(2026, 1, 16, 7, 0, 0));
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 16, 6, 59, 59)), utc(2026, 1, 16, 7, 0, 0));
        /* across the end of a month and of a year */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 12, 31, 23, 30, 0)), utc(2027, 1, 1, 7, 0, 0));
}

static void test_winter_night_outside(void **state UNUSED)
{
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 15, 22, 59, 0)), 0);
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 15, 22, 59, 59)), 0);
        /* 07:00 exactly: the window has ended */
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 15, 7, 0, 0)), 0);
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 15, 12, 0, 0)), 0);
}

static void test_fraction_of_a_second(void **state UNUSED)
{
        int64_t now = utc(2026, 1, 15, 6, 59, 59) + 999999;
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, now), utc(2026, 1, 15, 7, 0, 0));
        now = utc(2026, 1, 15, 22, 59, 59) + 999999;
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, now), 0);
}

/* ---- summer (BST = UTC+1) ---- */

static void test_summer_night(void **state UNUSED)
{
        /* 01:00 UTC is 02:00 BST: quiet until 07:00 BST, 06:00 UTC */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 7, 15, 1, 0, 0)), utc(2026, 7, 15, 6, 0, 0));
        /* 22:30 UTC is 23:30 BST: until the next morning */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 7, 14, 22, 30, 0)), utc(2026, 7, 15, 6, 0, 0));
        /* 21:59 UTC is 22:59 BST: outside; 06:00 UTC is 07:00 BST: outside */
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 7, 14, 21, 59, 0)), 0);
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 7, 15, 6, 0, 0)), 0);
        /* 23:30 UTC is 00:30 BST the next day */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 7, 14, 23, 30, 0)), utc(2026, 7, 15, 6, 0, 0));
}

static void test_window_within_a_day(void **state UNUSED)
{
        /* 13:00-14:00, in BST */
        assert_instant(dawn_quiet_hours_end(13 * 60, 14 * 60, LONDON, utc(2026, 7, 15, 12, 30, 0)),
                       utc(2026, 7, 15, 13, 0, 0));
        assert_instant(dawn_quiet_hours_end(13 * 60, 14 * 60, LONDON, utc(2026, 7, 15, 12, 0, 0)),
                       utc(2026, 7, 15, 13, 0, 0));
        assert_int_equal(dawn_quiet_hours_end(13 * 60, 14 * 60, LONDON, utc(2026, 7, 15, 11, 59, 0)), 0);
        assert_int_equal(dawn_quiet_hours_end(13 * 60, 14 * 60, LONDON, utc(2026, 7, 15, 13, 0, 0)), 0);
        /* and in GMT */
        assert_instant(dawn_quiet_hours_end(13 * 60, 14 * 60, LONDON, utc(2026, 1, 15, 13, 59, 0)),
                       utc(2026, 1, 15, 14, 0, 0));
        assert_int_equal(dawn_quiet_hours_end(13 * 60, 14 * 60, LONDON, utc(2026, 1, 15, 12, 59, 0)), 0);
        /* a window not on the hour */
        assert_instant(dawn_quiet_hours_end(13 * 60 + 15, 13 * 60 + 45, LONDON, utc(2026, 1, 15, 13, 20, 0)),
                       utc(2026, 1, 15, 13, 45, 0));
}

/* ---- the nights the clocks change ---- */

static void test_spring_forward_night(void **state UNUSED)
{
        /* 2026-03-29: at 01:00 GMT the clocks go to 02:00 BST. The window
         * ends at 07:00 BST, which is 06:00 UTC, wherever in it we are. */
        int64_t want = utc(2026, 3, 29, 6, 0, 0);
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 3, 28, 23, 0, 0)), want);   /* 23:00 GMT */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 3, 29, 0, 30, 0)), want);   /* 00:30 GMT */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 3, 29, 0, 59, 59)), want);  /* 00:59:59 GMT */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 3, 29, 1, 0, 0)), want);    /* 02:00 BST */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 3, 29, 5, 59, 59)), want);  /* 06:59:59 BST */
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, want), 0);                          /* 07:00 BST */
        /* 06:30 UTC was inside in winter time, but it is 07:30 BST now */
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 3, 29, 6, 30, 0)), 0);
        /* the next evening starts at 23:00 BST, 22:00 UTC */
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 3, 29, 21, 59, 0)), 0);
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 3, 29, 22, 0, 0)), utc(2026, 3, 30, 6, 0, 0));
}

static void test_fall_back_night(void **state UNUSED)
{
        /* 2026-10-25: at 02:00 BST (01:00 UTC) the clocks go back to 01:00
         * GMT. The window ends at 07:00 GMT, which is 07:00 UTC. */
        int64_t want = utc(2026, 10, 25, 7, 0, 0);
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 10, 24, 22, 0, 0)), want);  /* 23:00 BST */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 10, 25, 0, 30, 0)), want);  /* 01:30 BST */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 10, 25, 0, 59, 59)), want); /* 01:59:59 BST */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 10, 25, 1, 0, 0)), want);   /* 01:00 GMT */
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 10, 25, 6, 0, 0)), want);   /* 06:00 GMT */
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, want), 0);                          /* 07:00 GMT */
        /* 21:59 UTC is 22:59 BST, before the window */
        assert_int_equal(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 10, 24, 21, 59, 0)), 0);
}

static void test_end_in_the_skipped_hour(void **state UNUSED)
{
        /* 00:30-01:30 on 2026-03-29: 01:30 never happens; the first instant
         * at or after it is 02:00 BST, 01:00 UTC */
        assert_instant(dawn_quiet_hours_end(30, 90, LONDON, utc(2026, 3, 29, 0, 45, 0)), utc(2026, 3, 29, 1, 0, 0));
        assert_int_equal(dawn_quiet_hours_end(30, 90, LONDON, utc(2026, 3, 29, 1, 0, 0)), 0);
        /* a night window ending inside the gap */
        assert_instant(dawn_quiet_hours_end(23 * 60, 60 + 15, LONDON, utc(2026, 3, 28, 23, 30, 0)),
                       utc(2026, 3, 29, 1, 0, 0));
}

static void test_end_in_the_repeated_hour(void **state UNUSED)
{
        /* 00:00-01:30 on 2026-10-25: 01:30 happens twice; the window ends the
         * first time, 01:30 BST = 00:30 UTC */
        assert_instant(dawn_quiet_hours_end(0, 90, LONDON, utc(2026, 10, 24, 23, 10, 0)),
                       utc(2026, 10, 25, 0, 30, 0));
        /* 01:40 BST: outside */
        assert_int_equal(dawn_quiet_hours_end(0, 90, LONDON, utc(2026, 10, 25, 0, 40, 0)), 0);
        /* at 01:10 GMT the local time is in the window again, until 01:30 GMT */
        assert_instant(dawn_quiet_hours_end(0, 90, LONDON, utc(2026, 10, 25, 1, 10, 0)),
                       utc(2026, 10, 25, 1, 30, 0));
}

/* ---- zones and the environment ---- */

static void test_other_zone(void **state UNUSED)
{
        /* 07:00 UTC is 02:00 EST */
        assert_instant(dawn_quiet_hours_end(NIGHT, "America/New_York", utc(2026, 1, 15, 7, 0, 0)),
                       utc(2026, 1, 15, 12, 0, 0));
        /* the southern hemisphere's summer time: 2026-01-15 is AEDT, UTC+11 */
        assert_instant(dawn_quiet_hours_end(NIGHT, "Australia/Sydney", utc(2026, 1, 15, 15, 0, 0)),
                       utc(2026, 1, 15, 20, 0, 0));
        assert_instant(dawn_quiet_hours_end(NIGHT, "UTC", utc(2026, 7, 15, 2, 0, 0)), utc(2026, 7, 15, 7, 0, 0));
}

static void test_tz_restored(void **state UNUSED)
{
        setenv("TZ", "America/New_York", 1);
        tzset();
        dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 15, 2, 0, 0));
        assert_string_equal(getenv("TZ"), "America/New_York");
        /* and the C library's idea of local time is New York's again */
        time_t t = (time_t)(utc(2026, 1, 15, 12, 0, 0) / SEC);
        struct tm tm;
        localtime_r(&t, &tm);
        assert_int_equal(tm.tm_hour, 7);

        unsetenv("TZ");
        tzset();
        dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 1, 15, 2, 0, 0));
        assert_null(getenv("TZ"));

        /* already the zone: still right, still set */
        setenv("TZ", LONDON, 1);
        assert_instant(dawn_quiet_hours_end(NIGHT, LONDON, utc(2026, 7, 15, 1, 0, 0)), utc(2026, 7, 15, 6, 0, 0));
        assert_string_equal(getenv("TZ"), LONDON);
        unsetenv("TZ");
        tzset();
}

static void test_no_window(void **state UNUSED)
{
        int64_t now = utc(2026, 1, 15, 2, 0, 0);
        /* an empty window holds nothing back */
        assert_int_equal(dawn_quiet_hours_end(7 * 60, 7 * 60, LONDON, now), 0);
        /* nor does nonsense */
        assert_int_equal(dawn_quiet_hours_end(-1, 7 * 60, LONDON, now), 0);
        assert_int_equal(dawn_quiet_hours_end(23 * 60, 1440, LONDON, now), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_winter_night_inside),
                cmocka_unit_test(test_winter_night_outside),
                cmocka_unit_test(test_fraction_of_a_second),
                cmocka_unit_test(test_summer_night),
                cmocka_unit_test(test_window_within_a_day),
                cmocka_unit_test(test_spring_forward_night),
                cmocka_unit_test(test_fall_back_night),
                cmocka_unit_test(test_end_in_the_skipped_hour),
                cmocka_unit_test(test_end_in_the_repeated_hour),
                cmocka_unit_test(test_other_zone),
                cmocka_unit_test(test_tz_restored),
                cmocka_unit_test(test_no_window),
        };
        return cmocka_run_group_tests_name("quiet_hours", tests, NULL, NULL);
}
