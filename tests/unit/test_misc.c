/* Tests for the small pure helpers: the outbox's retry back-off
 * (daemon/delivery/outbox.c), recipient masking for logs and `dawnctl show`
 * (daemon/base/log.c), and RFC 3339 times (daemon/intake/alert.c). Durations are
 * tested with the config (test_config.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "channel.h"
#include "log.h"
#include "outbox.h"

#define UNUSED __attribute__((unused))

#define SEC UINT64_C(1000000)

/* ---- back-off ---- */

/* The wait lies within +-20 % of nominal for every rand01 in [0, 1). */
static void assert_backoff_around(int attempts, uint64_t nominal)
{
        static const double rands[] = { 0.0, 0.25, 0.5, 0.75, 0.999999 };
        for (size_t i = 0; i < sizeof(rands) / sizeof(rands[0]); i++) {
                uint64_t d = dawn_backoff_usec(attempts, 0, 0, 0, rands[i]);
                if (d < nominal * 8 / 10 || d > nominal * 12 / 10) {
                        print_error("attempt %d, rand %f: %llu usec, expected %llu +-20%%\n", attempts, rands[i],
                                    (unsigned long long)d, (unsigned long long)nominal);
                        fail();
                }
        }
        /* the middle of the range is the nominal wait itself */
        assert_int_equal(dawn_backoff_usec(attempts, 0, 0, 0, 0.5), nominal);
}

static void test_backoff_first_retry_after_five_seconds(void **state UNUSED)
{
        assert_backoff_around(1, 5 * SEC);
        /* the ends of the jitter */
        assert_int_equal(dawn_backoff_usec(1, 0, 0, 0, 0.0), 4 * SEC);
        assert_true(dawn_backoff_usec(1, 0, 0, 0, 0.999999) < 6 * SEC);
        assert_true(dawn_backoff_usec(1, 0, 0, 0, 0.999999) > 6 * SEC - SEC / 100);
}

static void test_backoff_doubles(void **state UNUSED)
{
        assert_backoff_around(2, 10 * SEC);
        assert_backoff_around(3, 20 * SEC);
        assert_backoff_around(4, 40 * SEC);
        assert_backoff_around(5, 80 * SEC);
        assert_backoff_around(6, 160 * SEC);
        assert_backoff_around(7, 320 * SEC);
}

static void test_backoff_capped_at_ten_minutes(void **state UNUSED)
{
        /* 640 s would be next: capped */
        assert_backoff_around(8, 600 * SEC);
        assert_backoff_around(9, 600 * SEC);
        assert_backoff_around(100, 600 * SEC);
        /* no overflow however long a channel has been failing */
        assert_backoff_around(INT_MAX, 600 * SEC);
        assert_true(dawn_backoff_usec(INT_MAX, 0, 0, 0, 0.999999) <= 720 * SEC);
        assert_true(dawn_backoff_usec(INT_MAX, 0, 0, 0, 0.0) >= 480 * SEC);
}

static void test_backoff_jitter_spreads_retries(void **state UNUSED)
{
        /* many deliveries failing together do not all come back at once */
        assert_true(dawn_backoff_usec(3, 0, 0, 0, 0.1) < dawn_backoff_usec(3, 0, 0, 0, 0.9));
}

static void test_backoff_retry_after_larger_wins(void **state UNUSED)
{
        /* the peer asked for 30 s: never sooner */
        assert_int_equal(dawn_backoff_usec(1, 0, 0, 30 * SEC, 0.999999), 30 * SEC);
        assert_int_equal(dawn_backoff_usec(1, 0, 0, 30 * SEC, 0.0), 30 * SEC);
        /* an hour is longer than the cap: still honoured */
        assert_int_equal(dawn_backoff_usec(100, 0, 0, 3600 * SEC, 0.5), 3600 * SEC);
        /* a smaller Retry-After does not shorten the back-off */
        assert_int_equal(dawn_backoff_usec(2, 0, 0, 1 * SEC, 0.5), 10 * SEC);
}

/* ---- masking ---- */

static const char *mask(const char *recipient)
{
        static char buf[128];
        return dawn_mask_recipient(recipient, buf, sizeof(buf));
}

static void test_mask_phone_keeps_prefix_and_last_two_digits(void **state UNUSED)
{
        assert_string_equal(mask("+447700900123"), "+4477******23");
        assert_string_equal(mask("+14155550123"), "+1415******23");
        /* shorter numbers keep less of the front */
        assert_string_equal(mask("07700900123"), "077******23");
        assert_string_equal(mask("1234567"), "123******67");
}

static void test_mask_short_number_hides_everything(void **state UNUSED)
{
        assert_string_equal(mask("999"), "******");
        assert_string_equal(mask("123456"), "******");
        assert_string_equal(mask(""), "******");
}

static void test_mask_email_keeps_first_character_and_domain(void **state UNUSED)
{
        assert_string_equal(mask("nights@booth-house.example"), "n*****@booth-house.example");
        assert_string_equal(mask("a@x.org"), "a*****@x.org");
        assert_string_equal(mask("@x.org"), "*****@x.org");
}

static size_t count_digits(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                n += *s >= '0' && *s <= '9';
        return n;
}

static void test_mask_never_shows_the_whole_recipient(void **state UNUSED)
{
        static const char *const recipients[] = {
                "+447700900123", "07700900123", "+14155550123", "1234567", "12345678", "999", "x",
                "nights@booth-house.example", "a@x.org", "ab@c",
        };
        for (size_t i = 0; i < sizeof(recipients) / sizeof(recipients[0]); i++) {
                const char *r = recipients[i], *m = mask(r);
                assert_string_not_equal(m, r);
                if (strchr(r, '@')) {
                        /* the local part beyond its first character is hidden */
                        size_t local = (size_t)(strchr(r, '@') - r);
                        if (local > 1)
                                assert_null(strstr(m, (char[]){ r[0], r[1], '\0' }));
                } else if (count_digits(r) > 0) {
                        /* some digits are always hidden */
                        assert_true(count_digits(m) < count_digits(r));
                }
        }
        assert_null(strstr(mask("+447700900123"), "900"));
        assert_null(strstr(mask("nights@booth-house.example"), "nights"));
}

static void test_mask_respects_the_buffer(void **state UNUSED)
{
        char buf[8];
        memset(buf, 'Z', sizeof(buf));
        assert_ptr_equal(dawn_mask_recipient("+447700900123", buf, 6), buf);
        assert_string_equal(buf, "+4477");
        assert_int_equal(buf[6], 'Z');
        memset(buf, 'Z', sizeof(buf));
        dawn_mask_recipient("nights@booth-house.example", buf, sizeof(buf));
        assert_string_equal(buf, "n*****@");
        /* nothing written into no room */
        buf[0] = 'Z';
        dawn_mask_recipient("+447700900123", buf, 0);
        assert_int_equal(buf[0], 'Z');
}

/* ---- RFC 3339 times ---- */

static int64_t parse_ok(const char *s)
{
        int64_t t = -1;
        int r = dawn_time_parse(s, &t);
        if (r != 0) {
                print_error("refused: %s\n", s);
                fail();
        }
        return t;
}

/* 2026-11-23T18:23:51Z */
#define T0 (INT64_C(1795458231) * 1000000)

static void test_time_parse_utc(void **state UNUSED)
{
        assert_int_equal(parse_ok("2026-11-23T18:23:51Z"), T0);
        assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
        /* RFC 3339 allows lower case and a space between date and time */
        assert_int_equal(parse_ok("2026-11-23t18:23:51z"), T0);
        assert_int_equal(parse_ok("2026-11-23 18:23:51Z"), T0);
}

static void test_time_parse_offsets(void **state UNUSED)
{
        /* 19:23:51 an hour east of UTC is 18:23:51 UTC */
        assert_int_equal(parse_ok("2026-11-23T19:23:51+01:00"), T0);
        assert_int_equal(parse_ok("2026-11-23T12:53:51-05:30"), T0);
        assert_int_equal(parse_ok("2026-11-23T18:23:51+00:00"), T0);
        assert_int_equal(parse_ok("2026-11-23T18:23:51-00:00"), T0);
        /* across midnight and a month end */
        assert_int_equal(parse_ok("2026-12-01T00:30:00+01:00"), parse_ok("2026-11-30T23:30:00Z"));
}

static void test_time_parse_fractions(void **state UNUSED)
{
        assert_int_equal(parse_ok("2026-11-23T18:23:51.5Z"), T0 + 500000);
        assert_int_equal(parse_ok("2026-11-23T18:23:51.000001Z"), T0 + 1);
        assert_int_equal(parse_ok("2026-11-23T18:23:51.123456Z"), T0 + 123456);
        /* past microseconds: cut, not rounded */
        assert_int_equal(parse_ok("2026-11-23T18:23:51.1234569Z"), T0 + 123456);
        assert_int_equal(parse_ok("2026-11-23T19:23:51.25+01:00"), T0 + 250000);
}

static void test_time_parse_leap_day(void **state UNUSED)
{
        assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), INT64_C(1709164800) * 1000000);
        assert_int_equal(parse_ok("2000-02-29T00:00:00Z"), INT64_C(951782400) * 1000000);
}

static void test_time_parse_refuses_invalid(void **state UNUSED)
{
        static const char *const bad[] = {
                "",
                "2026-11-23",
                "2026-11-23T18:23:51",          /* no zone: local time of where? */
                "2026-11-23T18:23Z",
                "2026-02-30T00:00:00Z",         /* no such day */
                "2026-02-29T00:00:00Z",         /* not a leap year */
                "2100-02-29T00:00:00Z",         /* nor is 2100 */
                "2026-04-31T00:00:00Z",
                "2026-13-01T00:00:00Z",
                "2026-00-10T00:00:00Z",
                "2026-11-00T00:00:00Z",
                "2026-11-23T24:00:00Z",
                "2026-11-23T18:60:00Z",
                "2026-11-23T18:23:61Z",
                "2026-11-23T18:23:51+0100",     /* the colon is required */
                "2026-11-23T18:23:51+24:00",
                "2026-11-23T18:23:51+01:60",
                "2026-11-23T18:23:51.Z",
                "2026-11-23T18:23:51Zjunk",
                "2026-11-23T18:23:51+01:00junk",
                "2026/11/23T18:23:51Z",
                "2026-11-23X18:23:51Z",
                "20a6-11-23T18:23:51Z",
                "1969-12-31T23:59:59Z",
                "+2026-11-23T18:23:51Z",
                "next tuesday at noon",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int64_t t = 42;
                if (dawn_time_parse(bad[i], &t) != -EINVAL) {
                        print_error("accepted \"%s\" as %lld\n", bad[i], (long long)t);
                        fail();
                }
        }
}

/* cJSON allocates strings to their exact length: a time cut short after
 * its offset sign must be refused without reading past the end. */
static void test_time_parse_cut_short_offset_stays_in_bounds(void **state UNUSED)
{
        static const char *const cut[] = { "2026-11-23T18:23:51+", "2026-11-23T18:23:51-0" };
        for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
                char *s = strdup(cut[i]);
                int64_t t;
                assert_non_null(s);
                assert_int_equal(dawn_time_parse(s, &t), -EINVAL);
                free(s);
        }
}

static void test_time_format(void **state UNUSED)
{
        char buf[32];
        assert_string_equal(dawn_time_format(T0, buf, sizeof(buf)), "2026-11-23T18:23:51Z");
        assert_string_equal(dawn_time_format(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
        /* whole seconds: the fraction is dropped */
        assert_string_equal(dawn_time_format(T0 + 999999, buf, sizeof(buf)), "2026-11-23T18:23:51Z");
        assert_ptr_equal(dawn_time_format(T0, buf, sizeof(buf)), buf);
}

static void test_time_round_trip(void **state UNUSED)
{
        static const char *const times[] = {
                "2026-11-23T18:23:51Z", "1970-01-01T00:00:00Z", "2024-02-29T23:59:59Z",
                "2038-01-19T03:14:08Z", "2099-12-31T23:59:59Z",
        };
        for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
                char buf[32];
                assert_string_equal(dawn_time_format(parse_ok(times[i]), buf, sizeof(buf)), times[i]);
        }
        /* and an offset time comes back in UTC */
        char buf[32];
        assert_string_equal(dawn_time_format(parse_ok("2026-11-23T19:23:51+01:00"), buf, sizeof(buf)),
                            "2026-11-23T18:23:51Z");
}

static void test_now_is_now(void **state UNUSED)
{
        /* after this file was written, and before the year 2100 */
        int64_t now = dawn_now_usec();
        assert_true(now > parse_ok("2025-01-01T00:00:00Z"));
        assert_true(now < parse_ok("2100-01-01T00:00:00Z"));
}

/* a delivery failing for hours is retried less often than a fresh one */
static void test_backoff_grows_with_the_deliverys_age(void **state UNUSED)
{
        uint64_t fresh = dawn_backoff_usec(1, 0, 0, 0, 0.5);
        uint64_t hour_old = dawn_backoff_usec(1, 0, 3600 * SEC, 0, 0.5);
        assert_int_equal(fresh, 5 * SEC);
        assert_int_equal(hour_old, 450 * SEC); /* an eighth of an hour */
        assert_int_equal(dawn_backoff_usec(1, 0, 24 * 3600 * SEC, 0, 0.5), 600 * SEC); /* still capped */
}

/* messages quote input cut short: never in the middle of a character */
static void test_utf8_prefix_never_cuts_a_character(void **state UNUSED)
{
        assert_int_equal(dawn_utf8_prefix("abc", 10), 3);
        assert_int_equal(dawn_utf8_prefix("abcdef", 4), 4);
        /* "é" is two bytes: a cut after its first byte backs up before it */
        assert_int_equal(dawn_utf8_prefix("a\xc3\xa9" "b", 2), 1);
        assert_int_equal(dawn_utf8_prefix("a\xc3\xa9" "b", 3), 3);
        /* a four-byte character cut after one, two or three bytes */
        assert_int_equal(dawn_utf8_prefix("\xf0\x9f\x92\x8a!", 1), 0);
        assert_int_equal(dawn_utf8_prefix("\xf0\x9f\x92\x8a!", 3), 0);
        assert_int_equal(dawn_utf8_prefix("\xf0\x9f\x92\x8a!", 4), 4);
        /* invalid input: backs up at most three bytes, never to nothing */
        assert_int_equal(dawn_utf8_prefix("e\xb7\xb7\xb7\xb7\xb7\xb7", 5), 2);
}

/* ---- secrets from files (daemon/delivery/channel.c) ---- */

static int read_secret_of(const char *bytes, size_t n, char **out)
{
        char path[] = "/tmp/dawn-test-secret-XXXXXX";
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes, n), (ssize_t)n);
        close(fd);
        *out = NULL;
        int r = dawn_channel_read_secret(path, out);
        unlink(path);
        return r;
}

static void test_secret_file(void **state UNUSED)
{
        char *s;

        assert_int_equal(read_secret_of("t0ken-abc\r\n", 11, &s), 0);
        assert_string_equal(s, "t0ken-abc");
        free(s);
        assert_int_equal(read_secret_of("\n", 1, &s), -ENODATA);
        /* a NUL would have made "k" the whole token */
        assert_int_equal(read_secret_of("k\0\x91\x22\xf3random", 10, &s), -EINVAL);
        assert_null(s);
        assert_int_equal(read_secret_of("\0abc", 4, &s), -EINVAL);
}

/* A FIFO would have blocked open() until a writer came: refused at once. */
static void test_secret_file_must_be_a_regular_file(void **state UNUSED)
{
        char dir[] = "/tmp/dawn-test-fifo-XXXXXX", path[64];
        char *s = NULL;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/token", dir);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(dawn_channel_read_secret(path, &s), -EINVAL);
        assert_null(s);
        unlink(path);
        rmdir(dir);
        assert_int_equal(dawn_channel_read_secret("/tmp", &s), -EISDIR);
}

/* A peer's words quoted in a log message cannot start a line of their own:
 * under systemd, stderr lines become journal entries an operator trusts. */
static void test_log_message_is_one_line(void **state UNUSED)
{
        FILE *f = tmpfile();
        assert_non_null(f);
        int saved = dup(STDERR_FILENO);
        assert_true(saved >= 0);
        fflush(stderr);
        assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
        log_init(1, LOG_INFO);
        log_warning("unknown field '%s'", "x\ndawnd: error: store: forged\x1b[2J \xe2\x80\xaelmth.exe \xc2\x9b \xff caf\xc3\xa9");
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);

        char buf[512] = "";
        rewind(f);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        assert_string_equal(buf, "dawnd: warning: unknown field 'x?dawnd: error: store: forged?[2J ?lmth.exe ? ? caf\xc3\xa9'\n");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff_first_retry_after_five_seconds),
                cmocka_unit_test(test_backoff_doubles),
                cmocka_unit_test(test_backoff_capped_at_ten_minutes),
                cmocka_unit_test(test_backoff_jitter_spreads_retries),
                cmocka_unit_test(test_backoff_retry_after_larger_wins),
                cmocka_unit_test(test_mask_phone_keeps_prefix_and_last_two_digits),
                cmocka_unit_test(test_mask_short_number_hides_everything),
                cmocka_unit_test(test_mask_email_keeps_first_character_and_domain),
                cmocka_unit_test(test_mask_never_shows_the_whole_recipient),
                cmocka_unit_test(test_mask_respects_the_buffer),
                cmocka_unit_test(test_backoff_grows_with_the_deliverys_age),
                cmocka_unit_test(test_utf8_prefix_never_cuts_a_character),
                cmocka_unit_test(test_time_parse_utc),
                cmocka_unit_test(test_time_parse_cut_short_offset_stays_in_bounds),
                cmocka_unit_test(test_time_parse_offsets),
                cmocka_unit_test(test_time_parse_fractions),
                cmocka_unit_test(test_time_parse_leap_day),
                cmocka_unit_test(test_time_parse_refuses_invalid),
                cmocka_unit_test(test_time_format),
                cmocka_unit_test(test_time_round_trip),
                cmocka_unit_test(test_log_message_is_one_line),
                cmocka_unit_test(test_now_is_now),
                cmocka_unit_test(test_secret_file),
                cmocka_unit_test(test_secret_file_must_be_a_regular_file),
        };
        return cmocka_run_group_tests_name("misc", tests, NULL, NULL);
}
