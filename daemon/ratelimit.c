#include "ratelimit.h"

#include <math.h>

#define USEC_PER_MIN 60e6
/* Tokens are doubles, and a sum of many small refills may land a hair
 * under the exact value: a token is there when this close to whole. Far
 * less than one microsecond's refill at any rate (1 a minute is 1.7e-8 a
 * microsecond), so with whole-microsecond times no send goes early. */
#define TOKEN_EPSILON 1e-9

/* A burst of capacity tokens followed by a full minute of refill would send
 * capacity - 1 more than the rate in that minute. So the refill runs at
 * rate - (capacity - 1) a minute: in any window of 60 s (half-open) at most
 * capacity + refill - 1 = rate tokens can be taken. At 3,000 a minute that
 * is a burst of 50 and a steady 2,951; at 60 or less the burst is 1 and the
 * refill the rate itself. */
void dawn_bucket_init(struct dawn_token_bucket *b, int rate_per_minute, int64_t now_usec)
{
        b->last_usec = now_usec;
        if (rate_per_minute <= 0) {
                b->tokens = b->capacity = b->per_usec = 0; /* capacity 0: no limit */
                return;
        }
        int capacity = rate_per_minute / 60;
        if (capacity < 1)
                capacity = 1;
        b->capacity = capacity;
        b->per_usec = (double)(rate_per_minute - (capacity - 1)) / USEC_PER_MIN;
        /* one token, not a full bucket: a restart must not add a burst to
         * whatever the previous run sent in the last minute */
        b->tokens = 1;
}

static bool unlimited(const struct dawn_token_bucket *b)
{
        return b->capacity <= 0;
}

/* Adds what accrued since the last call. A clock that went backwards adds
 * nothing and restarts the count from now: stalling until it catches up
 * (possibly hours, after a wall-clock step) would hold back warnings, and
 * the bucket's cap bounds what the re-counted interval can add. */
static void refill(struct dawn_token_bucket *b, int64_t now_usec)
{
        if (now_usec > b->last_usec) {
                /* unsigned: the difference of any two int64 fits */
                double elapsed = (double)((uint64_t)now_usec - (uint64_t)b->last_usec);
                b->tokens = fmin(b->capacity, b->tokens + elapsed * b->per_usec);
        }
        b->last_usec = now_usec;
}

bool dawn_bucket_take(struct dawn_token_bucket *b, int64_t now_usec)
{
        if (unlimited(b))
                return true;
        refill(b, now_usec);
        if (b->tokens < 1 - TOKEN_EPSILON)
                return false;
        b->tokens = b->tokens > 1 ? b->tokens - 1 : 0;
        return true;
}

uint64_t dawn_bucket_wait_usec(struct dawn_token_bucket *b, int64_t now_usec)
{
        if (unlimited(b))
                return 0;
        refill(b, now_usec);
        if (b->tokens >= 1 - TOKEN_EPSILON)
                return 0;
        /* the shortest whole wait after which take() succeeds, computed the
         * way refill() will compute it: the division alone may be off by one */
        uint64_t wait = (uint64_t)ceil((1 - TOKEN_EPSILON - b->tokens) / b->per_usec);
        while (b->tokens + (double)wait * b->per_usec < 1 - TOKEN_EPSILON)
                wait++;
        while (wait > 1 && b->tokens + (double)(wait - 1) * b->per_usec >= 1 - TOKEN_EPSILON)
                wait--;
        return wait;
}
