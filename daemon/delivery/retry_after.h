/* HTTP Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date
 * (IMF-fixdate; also the obsolete RFC 850 and asctime forms, as senders
 * are told to accept them). */
#ifndef DAWN_RETRY_AFTER_H
#define DAWN_RETRY_AFTER_H

#include <stdint.h>

/* Parses a header value (surrounding whitespace allowed). On success
 * returns 0 and *delay_usec: seconds as given, or the date minus now
 * (0 when the date has passed). Anything else, or a value beyond one day,
 * returns -EINVAL (a peer's nonsense must not park a warning for a week:
 * the caller falls back to its own backoff). */
int dawn_parse_retry_after(const char *value, int64_t now_usec, uint64_t *delay_usec);

#endif
