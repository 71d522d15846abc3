/* Wall-clock times (RFC 3339 in and out) and the monotonic clock. */
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

int64_t dawn_now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int digits(const char *s, int n)
{
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)s[i]))
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        return v;
}

int dawn_time_parse(const char *s, int64_t *usec)
{
        /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
        if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
            s[13] != ':' || s[16] != ':')
                return -EINVAL;
        int Y = digits(s, 4), M = digits(s + 5, 2), D = digits(s + 8, 2);
        int h = digits(s + 11, 2), m = digits(s + 14, 2), sec = digits(s + 17, 2);
        if (Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 ||
            m > 59 || sec < 0 || sec > 60)
                return -EINVAL;
        static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
        if (D > mdays[M - 1] || (M == 2 && D == 29 && !leap))
                return -EINVAL;
        const char *p = s + 19;
        int64_t frac = 0;
        if (*p == '.') {
                int64_t scale = 100000;
                p++;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                for (; isdigit((unsigned char)*p); p++) {
                        frac += (*p - '0') * scale;
                        scale /= 10;
                }
        }
        int offset_min = 0;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if ((*p == '+' || *p == '-') && p[1] && p[2] && p[3] == ':') {
                int oh = digits(p + 1, 2), om = digits(p + 4, 2);
                if (oh < 0 || oh > 23 || om < 0 || om > 59)
                        return -EINVAL;
                offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
                p += 6;
        } else {
                return -EINVAL;
        }
        if (*p)
                return -EINVAL;
        struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                         .tm_hour = h, .tm_min = m, .tm_sec = sec };
        time_t t = timegm(&tm);
        *usec = ((int64_t)t - offset_min * 60) * 1000000 + frac;
        return 0;
}

char *dawn_time_format(int64_t usec, char *buf, size_t n)
{
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

int64_t dawn_monotonic_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
