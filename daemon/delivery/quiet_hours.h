/* Quiet hours: a subscriber's window ("23:00-07:00") in the configured
 * local time zone (Europe/London by default, so the window follows BST and
 * GMT), during which non-critical SMS and email wait. */
#ifndef DAWN_QUIET_HOURS_H
#define DAWN_QUIET_HOURS_H

#include <stdint.h>

/* If now_usec falls inside the window [start_min, end_min) of local time
 * in zone tz (an IANA name; the window may cross midnight), returns the
 * instant (microseconds since the epoch) the window ends; otherwise 0.
 * Across a DST change the end is the first instant whose local time is
 * end_min or later. */
int64_t dawn_quiet_hours_end(int start_min, int end_min, const char *tz, int64_t now_usec);

#endif
