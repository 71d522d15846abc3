#include "retry_after.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define USEC_PER_SEC INT64_C(1000000)
/* Longer than this and the value is treated as nonsense (see the header). */
#define MAX_DELAY_SEC INT64_C(86400)

/* Parsed by hand rather than with strptime(): its %a and %b follow the
 * locale, and a daemon started under LANG=de_DE would refuse every date.
 * Nor with libcurl's curl_getdate(), though dawnd links it: that reads
 * cookie dates, so it takes its items in any order, fills in a missing
 * time as midnight, applies zones ("PST", a military "a") an HTTP-date
 * never has, turns 31 Nov into 1 Dec and the year 0001 into 2001, and
 * pivots two-digit years at 1970 where RFC 9110 5.6.7 says "more than 50
 * years in the future". Each of those misreadings would hold a warning for
 * up to a day; a value refused here costs only DAWN's own back-off.
 * Making curl's answer strict would mean rendering the three forms again
 * and comparing, no shorter than parsing them
 * (tests/unit/test_retry_after.c: test_not_as_lenient_as_curl_getdate). */

static bool is_ws(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static char lower(char c)
{
        return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* True if s[0..n) equals word, ignoring ASCII case: names are case-sensitive
 * in RFC 9110, but refusing "sun" would only make the caller guess instead. */
static bool word_eq(const char *s, size_t n, const char *word)
{
        if (strlen(word) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (lower(s[i]) != word[i])
                        return false;
        return true;
}

/* n decimal digits at *p, advancing it; -1 if they are not all digits. */
static int take_digits(const char **p, int n)
{
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!is_digit((*p)[i]))
                        return -1;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        return v;
}

static bool take_char(const char **p, char c)
{
        if (**p != c)
                return false;
        (*p)++;
        return true;
}

/* A day name, short ("Sun") or long ("Sunday"), whichever form: the name
 * carries nothing the date does not, so it is checked for shape only. */
static bool take_day_name(const char **p)
{
        static const char *const names[7][2] = {
                { "mon", "monday" }, { "tue", "tuesday" }, { "wed", "wednesday" }, { "thu", "thursday" },
                { "fri", "friday" }, { "sat", "saturday" }, { "sun", "sunday" },
        };
        size_t n = 0;
        while ((*p)[n] && (*p)[n] != ',' && (*p)[n] != ' ')
                n++;
        for (int d = 0; d < 7; d++)
                if (word_eq(*p, n, names[d][0]) || word_eq(*p, n, names[d][1])) {
                        *p += n;
                        return true;
                }
        return false;
}

/* "Jan".."Dec" -> 1..12, advancing *p; -1 otherwise. */
static int take_month(const char **p)
{
        static const char *const months[12] = { "jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec" };
        for (size_t i = 0; i < 3; i++)
                if (!(*p)[i])
                        return -1;
        for (int m = 0; m < 12; m++)
                if (word_eq(*p, 3, months[m])) {
                        *p += 3;
                        return m + 1;
                }
        return -1;
}

struct http_date {
        int year, month, day, hour, min, sec;
};

/* "08:49:37" */
static bool take_time(const char **p, struct http_date *d)
{
        d->hour = take_digits(p, 2);
        if (d->hour < 0 || !take_char(p, ':'))
                return false;
        d->min = take_digits(p, 2);
        if (d->min < 0 || !take_char(p, ':'))
                return false;
        d->sec = take_digits(p, 2);
        return d->sec >= 0;
}

static bool take_gmt(const char **p)
{
        size_t n = 0;
        while (n < 3 && (*p)[n])
                n++;
        if (!word_eq(*p, n, "gmt"))
                return false;
        *p += 3;
        return true;
}

/* IMF-fixdate, after the day name: ", 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf_rest(const char *p, struct http_date *d)
{
        if (!take_char(&p, ',') || !take_char(&p, ' ') || (d->day = take_digits(&p, 2)) < 0 ||
            !take_char(&p, ' ') || (d->month = take_month(&p)) < 0 || !take_char(&p, ' ') ||
            (d->year = take_digits(&p, 4)) < 0 || !take_char(&p, ' ') || !take_time(&p, d) ||
            !take_char(&p, ' ') || !take_gmt(&p))
                return false;
        return *p == '\0';
}

/* RFC 850, after the day name: ", 06-Nov-94 08:49:37 GMT"; the year is two
 * digits, resolved later against now. */
static bool parse_rfc850_rest(const char *p, struct http_date *d)
{
        if (!take_char(&p, ',') || !take_char(&p, ' ') || (d->day = take_digits(&p, 2)) < 0 ||
            !take_char(&p, '-') || (d->month = take_month(&p)) < 0 || !take_char(&p, '-') ||
            (d->year = take_digits(&p, 2)) < 0 || !take_char(&p, ' ') || !take_time(&p, d) ||
            !take_char(&p, ' ') || !take_gmt(&p))
                return false;
        return *p == '\0';
}

/* asctime, after the day name: " Nov  6 08:49:37 1994" (the day is "06",
 * "16" or " 6") */
static bool parse_asctime_rest(const char *p, struct http_date *d)
{
        if (!take_char(&p, ' ') || (d->month = take_month(&p)) < 0 || !take_char(&p, ' '))
                return false;
        if (*p == ' ') {
                p++;
                d->day = take_digits(&p, 1);
        } else {
                d->day = take_digits(&p, 2);
        }
        if (d->day < 0 || !take_char(&p, ' ') || !take_time(&p, d) || !take_char(&p, ' ') ||
            (d->year = take_digits(&p, 4)) < 0)
                return false;
        return *p == '\0';
}

static bool is_leap(int y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool date_valid(const struct http_date *d)
{
        static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        if (d->month < 1 || d->month > 12 || d->day < 1 || d->hour > 23 || d->min > 59 || d->sec > 60)
                return false;
        int last = mdays[d->month - 1] + (d->month == 2 && is_leap(d->year));
        return d->day <= last;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): no timegm(), so no time_t range or TZ to worry about. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static int64_t date_seconds(const struct http_date *d)
{
        return days_from_civil(d->year, d->month, d->day) * 86400 + d->hour * 3600 + d->min * 60 + d->sec;
}

/* The year of an instant, for the two-digit years of RFC 850. */
static int64_t year_of(int64_t now_usec)
{
        int64_t days = now_usec / USEC_PER_SEC / 86400;
        int64_t y = 1970 + days / 366;
        while (days_from_civil(y + 1, 1, 1) <= days)
                y++;
        return y;
}

/* RFC 9110 5.6.7: a two-digit year that would lie more than 50 years in
 * the future is the most recent past year with those digits. So the year
 * is the one with those digits in the century that ends 50 years from now
 * ("00" read in 2099 is 2100, not 2000). */
static int full_year(int yy, int64_t now_usec)
{
        int64_t now_year = year_of(now_usec > 0 ? now_usec : 0);
        int64_t y = now_year - now_year % 100 + yy;
        if (y > now_year + 50)
                y -= 100;
        else if (y + 100 <= now_year + 50)
                y += 100;
        return (int)y;
}

static int parse_delay_seconds(const char *s, size_t n, uint64_t *delay_usec)
{
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (!is_digit(s[i]))
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
                if (v > MAX_DELAY_SEC) /* checked per digit: no overflow however long */
                        return -EINVAL;
        }
        *delay_usec = (uint64_t)v * USEC_PER_SEC;
        return 0;
}

static int parse_http_date(const char *s, int64_t now_usec, uint64_t *delay_usec)
{
        struct http_date d = { 0 };
        const char *p = s;
        if (!take_day_name(&p))
                return -EINVAL;
        bool ok;
        if (*p == ' ') {
                ok = parse_asctime_rest(p, &d);
        } else if (strchr(p, '-')) {
                ok = parse_rfc850_rest(p, &d);
                if (ok)
                        d.year = full_year(d.year, now_usec);
        } else {
                ok = parse_imf_rest(p, &d);
        }
        if (!ok || !date_valid(&d))
                return -EINVAL;

        int64_t when = date_seconds(&d);
        int64_t now_sec = now_usec / USEC_PER_SEC;
        /* far from now either way: decided in seconds, before the
         * microseconds below could overflow */
        if (when - now_sec > MAX_DELAY_SEC + 1)
                return -EINVAL;
        if (when < now_sec - 1) {
                *delay_usec = 0;
                return 0;
        }
        int64_t delay = when * USEC_PER_SEC - now_usec;
        if (delay > MAX_DELAY_SEC * USEC_PER_SEC)
                return -EINVAL;
        *delay_usec = delay > 0 ? (uint64_t)delay : 0; /* passed: now */
        return 0;
}

int dawn_parse_retry_after(const char *value, int64_t now_usec, uint64_t *delay_usec)
{
        if (!value || !delay_usec)
                return -EINVAL;
        while (is_ws(*value))
                value++;
        size_t n = strlen(value);
        while (n > 0 && is_ws(value[n - 1]))
                n--;
        if (n == 0)
                return -EINVAL;
        if (is_digit(value[0]))
                return parse_delay_seconds(value, n, delay_usec);

        char buf[64]; /* the longest form, RFC 850 with "Wednesday", is 38 characters */
        if (n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, value, n);
        buf[n] = '\0';
        return parse_http_date(buf, now_usec, delay_usec);
}
