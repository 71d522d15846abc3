/* A channel pause: the provider refuses the whole channel, not one
 * delivery, so the outbox stops sending on it instead of spending (and
 * losing) every delivery on the same refusal.
 *
 * - credentials: an SMS 401/403 (a wrong or revoked key, or a Notify JWT
 *   signed with a skewed clock) or an SMTP authentication failure. Lasts
 *   until `dawnctl reload`/SIGHUP restarts the channel with the
 *   configuration as it now is, or `dawnctl resume CHANNEL` says the cause
 *   was fixed elsewhere (the clock, the provider's console).
 * - rate_limit: an SMS 429, the provider's limit for the whole key. Lasts
 *   until its Retry-After, or the outbox's backoff when there is none, and
 *   then ends by itself.
 *
 * While a channel is paused its deliveries wait in 'pending' with the
 * reason as their last error, and their lifetime clock stops: when the
 * pause ends, each waiting delivery's created_at moves on by the time it
 * spent paused (dawn_store_credit_pause), so the lifetime check, which
 * compares created_at with now, needs no other change. */
#ifndef DAWN_PAUSE_H
#define DAWN_PAUSE_H

#include <stddef.h>
#include <stdint.h>

enum dawn_pause_reason {
        DAWN_PAUSE_NONE,
        DAWN_PAUSE_CREDENTIALS,
        DAWN_PAUSE_RATE_LIMIT,
        DAWN_PAUSE_REASON_COUNT,
};

struct dawn_channel_pause {
        enum dawn_pause_reason reason;
        int64_t since;       /* CLOCK_REALTIME µs: when it began */
        int64_t until;       /* rate_limit: when it ends by itself; 0 otherwise */
        int rate_pauses;     /* 429 pauses in a row, for the backoff without Retry-After */
};

/* The metric label: "credentials", "rate_limit". */
const char *dawn_pause_reason_name(enum dawn_pause_reason r);
/* For people: "the provider refused our credentials". */
const char *dawn_pause_reason_text(enum dawn_pause_reason r);
/* A waiting delivery's last error: "channel paused: the provider refused our credentials". */
const char *dawn_pause_delivery_error(enum dawn_pause_reason r);
/* "paused: the provider refused our credentials since 2026-12-05T04:07:20Z"
 * (a rate limit adds " until <time>"). */
void dawn_pause_describe(const struct dawn_channel_pause *p, char *buf, size_t n);

#endif
