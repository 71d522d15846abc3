/* Times: the wall clock as RFC 3339 and microseconds since the epoch, and
 * the monotonic clock that deadlines and rate limits are measured on.
 * (Not "time.h": every daemon folder is on the include path, and the C
 * library's <time.h> must stay reachable.) */
#ifndef DAWN_CLOCK_H
#define DAWN_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* RFC 3339 <-> microseconds since the epoch (UTC). */
int dawn_time_parse(const char *s, int64_t *usec);
/* "2026-11-23T18:23:51Z" into buf (at least 32 bytes). */
char *dawn_time_format(int64_t usec, char *buf, size_t n);
int64_t dawn_now_usec(void);

/* CLOCK_MONOTONIC in microseconds: for deadlines and buckets that must not
 * jump with the wall clock. Inside a loop callback sd_event_now() is the
 * same clock, cached for the iteration. */
int64_t dawn_monotonic_usec(void);

#endif
