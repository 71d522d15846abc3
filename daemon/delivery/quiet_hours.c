#include "quiet_hours.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USEC_PER_SEC INT64_C(1000000)
#define MIN_PER_DAY 1440

/* Local time comes from the C library's zone database, which is reached
 * only through TZ. The daemon is single-threaded, so TZ is switched for
 * the call and put back; when it already names the zone (dawnd may set it
 * once at start) nothing is switched and no zone file is re-read. */
struct tz_switch {
        bool switched;
        char *saved;   /* the previous TZ, NULL if it was unset */
};

static void tz_enter(struct tz_switch *s, const char *tz)
{
        const char *cur = getenv("TZ");
        s->switched = false;
        s->saved = NULL;
        if (!tz || !*tz || (cur && strcmp(cur, tz) == 0)) {
                tzset(); /* cheap when TZ is what the library last read; else it catches up */
                return;
        }
        if (cur) {
                s->saved = strdup(cur);
                if (!s->saved)
                        return; /* could not restore it later: stay in the current zone */
        }
        setenv("TZ", tz, 1);
        tzset();
        s->switched = true;
}

static void tz_leave(struct tz_switch *s)
{
        if (!s->switched)
                return;
        if (s->saved)
                setenv("TZ", s->saved, 1);
        else
                unsetenv("TZ");
        tzset();
        free(s->saved);
        s->saved = NULL;
}

static bool in_window(int start_min, int end_min, int m)
{
        if (start_min < end_min)
                return m >= start_min && m < end_min;
        return m >= start_min || m < end_min; /* crosses midnight */
}

static long utc_offset(time_t t)
{
        struct tm tm;
        if (!localtime_r(&t, &tm))
                return 0;
        return tm.tm_gmtoff;
}

/* The first instant after now at which the UTC offset differs from
 * now's: a DST change, found by bisection (limit lies past it). */
static time_t next_transition(time_t now, time_t limit)
{
        long off = utc_offset(now);
        time_t lo = now, hi = limit;   /* offset(lo) == off, offset(hi) != off */
        while (hi - lo > 1) {
                time_t mid = lo + (hi - lo) / 2;
                if (utc_offset(mid) == off)
                        lo = mid;
                else
                        hi = mid;
        }
        return hi;
}

/* The instant the window ends, given now's local time: the end time on the
 * right day, as wall-clock seconds (local time written as if it were UTC),
 * turned into an instant by whichever UTC offset is in force then. */
static time_t window_end(const struct tm *local, time_t now, int start_min, int end_min)
{
        struct tm e = *local;
        int m = local->tm_hour * 60 + local->tm_min;
        if (start_min > end_min && m >= start_min)
                e.tm_mday++;            /* ends tomorrow morning; timegm normalises */
        e.tm_hour = end_min / 60;
        e.tm_min = end_min % 60;
        e.tm_sec = 0;
        time_t wall = timegm(&e);

        /* No change of offset before the end: the usual night. */
        long off0 = local->tm_gmtoff;
        time_t t1 = wall - off0;
        long off1 = utc_offset(t1);
        if (off1 == off0)
                return t1;
        /* The clocks change during the window: the end is at the new offset,
         * unless that puts it before the change, i.e. the end time does not
         * exist that day (skipped in spring); then the first instant past it
         * is the change itself. An end time that occurs twice (autumn)
         * already resolved to its first occurrence above. */
        time_t t2 = wall - off1;
        time_t change = next_transition(now, t1); /* t1 > now: now's local time is before the end */
        return t2 >= change ? t2 : change;
}

int64_t dawn_quiet_hours_end(int start_min, int end_min, const char *tz, int64_t now_usec)
{
        if (start_min < 0 || start_min >= MIN_PER_DAY || end_min < 0 || end_min >= MIN_PER_DAY ||
            start_min == end_min)
                return 0; /* an empty window holds nothing back */

        /* floor division: a negative instant still has the right second */
        int64_t sec = now_usec / USEC_PER_SEC - (now_usec % USEC_PER_SEC < 0);
        time_t now = (time_t)sec;
        struct tz_switch sw;
        tz_enter(&sw, tz);

        int64_t end = 0;
        struct tm local;
        if (localtime_r(&now, &local) &&
            in_window(start_min, end_min, local.tm_hour * 60 + local.tm_min)) {
                time_t t = window_end(&local, now, start_min, end_min);
                end = (int64_t)t * USEC_PER_SEC;
        }
        tz_leave(&sw);
        return end;
}
