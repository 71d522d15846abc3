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
/* Takes n tokens if all n are there, else none (a request is admitted or
 * refused whole). */
bool dawn_bucket_take_n(struct dawn_token_bucket *b, unsigned n, int64_t now_usec);
/* Microseconds until n tokens will be there; when n is more than the bucket
 * holds, until it is full (the most that can ever be taken at once). */
uint64_t dawn_bucket_wait_n_usec(struct dawn_token_bucket *b, unsigned n, int64_t now_usec);

/* ---- a source's alerts ----
 *
 * sources[].rate_per_minute limits the alerts a source sends, over HTTP
 * and MQTT together: one bucket per source id for the life of the process
 * (like the counters in metrics.c), so that neither a reload nor a change
 * of way is a way around it. A bucket holds ten seconds' worth (at least
 * one), full from the start: a backlog after an outage may go at once. */
struct dawn_source_limit {
        struct dawn_token_bucket bucket;
        int rate_per_minute;
        int64_t logged_usec;    /* when a refusal was last logged (one line a minute) */
        unsigned refused;       /* alerts refused since that line */
};

/* The limit of source id at rate_per_minute (0: none), created or, when
 * the rate changed (a reload), started afresh. NULL: out of memory (the
 * caller lets the request through: a limit is about fairness). */
struct dawn_source_limit *dawn_source_limit(const char *id, int rate_per_minute, int64_t now_usec);
/* Adds n refused alerts; true when a line should say so now (at most one
 * a minute per source), with *refused the alerts it stands for. */
bool dawn_source_limit_log_due(struct dawn_source_limit *l, unsigned n, int64_t now_usec, unsigned *refused);
/* Forgets every source (tests). */
void dawn_source_limits_reset(void);

#endif
