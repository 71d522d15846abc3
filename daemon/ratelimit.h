/* A token bucket: at most rate_per_minute sends in any minute, in an even
 * stream (burst of at most one second's worth), so a gateway limit of
 * 3,000 a minute is never exceeded even across a restart of the bucket. */
#ifndef DAWN_RATELIMIT_H
#define DAWN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct dawn_token_bucket {
        double tokens;
        double capacity;
        double per_usec;         /* tokens added per microsecond */
        int64_t last_usec;
};

/* rate_per_minute 0 means no limit. The bucket starts with a single
 * token, not a full burst. */
void dawn_bucket_init(struct dawn_token_bucket *b, int rate_per_minute, int64_t now_usec);
/* Takes a token if one is there. */
bool dawn_bucket_take(struct dawn_token_bucket *b, int64_t now_usec);
/* Microseconds until a token will be there (0: now). */
uint64_t dawn_bucket_wait_usec(struct dawn_token_bucket *b, int64_t now_usec);

#endif
