#include "ratelimit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

bool dawn_bucket_take_n(struct dawn_token_bucket *b, unsigned n, int64_t now_usec)
{
        if (unlimited(b) || n == 0)
                return true;
        refill(b, now_usec);
        if (b->tokens < n - TOKEN_EPSILON)
                return false;
        b->tokens = b->tokens > n ? b->tokens - n : 0;
        return true;
}

uint64_t dawn_bucket_wait_n_usec(struct dawn_token_bucket *b, unsigned n, int64_t now_usec)
{
        if (unlimited(b))
                return 0;
        refill(b, now_usec);
        double want = n < b->capacity ? n : b->capacity;
        if (b->tokens >= want - TOKEN_EPSILON)
                return 0;
        return (uint64_t)ceil((want - TOKEN_EPSILON - b->tokens) / b->per_usec);
}

/* ---- a source's alerts ---- */

struct source_entry {
        char *id;
        struct dawn_source_limit limit;
};

/* A handful to a few hundred sources, each looked up once per request or
 * message: a list is enough. Entries are never removed; there are at most
 * as many as source ids ever configured while the process runs. */
static struct source_entry *sources;
static size_t n_sources;

static void source_limit_init(struct dawn_source_limit *l, int rate_per_minute, int64_t now)
{
        *l = (struct dawn_source_limit){ .rate_per_minute = rate_per_minute };
        dawn_bucket_init(&l->bucket, rate_per_minute, now);
        if (rate_per_minute > 0) {
                int capacity = rate_per_minute / 6 > 1 ? rate_per_minute / 6 : 1;
                l->bucket.capacity = capacity;
                l->bucket.tokens = capacity;
                /* a larger bucket must refill more slowly, or a greedy source gets the burst on
                 * top of the rate: a full bucket plus a minute's refill is rate_per_minute */
                l->bucket.per_usec = (double)(rate_per_minute - (capacity - 1)) / USEC_PER_MIN;
        }
}

struct dawn_source_limit *dawn_source_limit(const char *id, int rate_per_minute, int64_t now_usec)
{
        for (size_t i = 0; i < n_sources; i++)
                if (strcmp(sources[i].id, id) == 0) {
                        if (sources[i].limit.rate_per_minute != rate_per_minute) {
                                /* a reload that changes the rate is no way to a full bucket */
                                struct dawn_source_limit *l = &sources[i].limit;
                                bool was_limited = l->rate_per_minute > 0;
                                if (was_limited)
                                        refill(&l->bucket, now_usec);
                                double left = l->bucket.tokens;
                                source_limit_init(l, rate_per_minute, now_usec);
                                if (was_limited && rate_per_minute > 0 && left < l->bucket.tokens)
                                        l->bucket.tokens = left;
                        }
                        return &sources[i].limit;
                }
        struct source_entry *v = realloc(sources, (n_sources + 1) * sizeof(*v));
        if (!v)
                return NULL;
        sources = v;
        char *copy = strdup(id);
        if (!copy)
                return NULL;
        sources[n_sources].id = copy;
        source_limit_init(&sources[n_sources].limit, rate_per_minute, now_usec);
        return &sources[n_sources++].limit;
}

void dawn_source_limits_reset(void)
{
        for (size_t i = 0; i < n_sources; i++)
                free(sources[i].id);
        free(sources);
        sources = NULL;
        n_sources = 0;
}

bool dawn_source_limit_log_due(struct dawn_source_limit *l, unsigned n, int64_t now_usec, unsigned *refused)
{
        l->refused += n;
        if (l->logged_usec && now_usec - l->logged_usec < (int64_t)USEC_PER_MIN)
                return false;
        *refused = l->refused;
        l->refused = 0;
        l->logged_usec = now_usec;
        return true;
}
