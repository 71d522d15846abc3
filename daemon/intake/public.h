/* Public text subscriptions (public = { ... }): who gets a public alert,
 * and the SMS commands anyone may send (JOIN <area>, AREAS). */
#ifndef DAWN_PUBLIC_H
#define DAWN_PUBLIC_H

#include <stdint.h>

#include "alert.h"
#include "sms_callback.h"
#include "config.h"
#include "store.h"

/* The public texts for a revision just saved (called by the intake's fan
 * out, in the same savepoint). An active alert with scope public and a
 * grade of at least public.min_grade goes to every number that joined its
 * area or a related one, as routing relates areas: an ancestor (a member of
 * "pan-hampshire" hears of Southampton) or a descendant (an alert for the
 * whole region reaches members of its towns); a later revision whose text
 * has the same words as the one a number already has is not sent to it
 * again. Once it is cancelled or expires (when expiry.notify is set), the
 * numbers it reached that are still members get a withdrawal; one that only
 * stops being public gets nothing. Opted-out numbers are recorded as such,
 * not sent to.
 * Nothing when public texts are off or there is no SMS channel. */
int dawn_public_fan_out(struct dawn_store *store, const struct dawn_config *c, const struct dawn_alert *a,
                        int64_t now);

/* JOIN <area> or AREAS from number (E.164), already checked not to be a
 * replay. Counts the text towards public.max_joins_per_day (beyond it:
 * no reply, counted); JOIN subscribes the number (lifting an opt-out) unless
 * public.max_subscribers numbers already are, and writes a "public-join"
 * audit row as actor. answer receives the reply ("" for none). provider:
 * "notify" or "twilio" (a Twilio number that sent STOP must text START
 * before Twilio lets texts through: the reply says so). 0 or -errno. */
int dawn_public_command(struct dawn_store *store, const struct dawn_config *c, const char *provider,
                        const struct dawn_sms_reply *reply, const char *number, const char *actor, int64_t now,
                        char *answer, size_t answer_size);
/* "DAWN: text JOIN and one of: Southampton, Portsmouth. Reply STOP to leave." cut to fit n */
void dawn_public_areas_reply(const struct dawn_config *c, char *buf, size_t n);

#endif
