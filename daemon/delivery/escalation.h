/* Escalation (README "Escalation"): when a subscriber does not acknowledge
 * an alert of an escalating grade within its escalate_after, its
 * escalate_to subscribers are told, once, on their channels.
 *
 * The clock is a row in the store (escalations), started when the first
 * revision of an escalating grade is queued for the subscriber, whatever
 * becomes of that delivery; so it survives restarts. A timer on the loop
 * wakes at the earliest due_at and decides each due row through the commit
 * path: acknowledged meanwhile, or escalated (outbox rows of purpose
 * 'escalation', about = the subscriber, at the alert's current revision;
 * an audit row "escalate"). An ack decides a waiting row at once; a cancel
 * or expiry stops the alert's waiting rows. */
#ifndef DAWN_ESCALATION_H
#define DAWN_ESCALATION_H

#include <stdint.h>
#include <systemd/sd-event.h>

#include "alert.h"
#include "commit.h"
#include "config.h"
#include "escalation_text.h"
#include "route.h"
#include "store.h"

/* Due rows decided per timer turn; the rest at the next turn, at once. */
#define DAWN_ESCALATION_BATCH 64
/* Rows `dawnctl unacked` lists at most (it says when there were more). */
#define DAWN_UNACKED_MAX 2000

/* ---- inside a write (intake, acks): the caller's transaction ---- */

/* A revision of a was queued to route: starts the clock of each routed
 * subscriber that escalates at a's grade and has none yet. */
int dawn_escalation_start(struct dawn_store *s, const struct dawn_config *c, const struct dawn_alert *a,
                          const struct dawn_route *route, int64_t now);
/* The alert ended: its waiting escalations stop (why: "cancelled", "expired"). */
int dawn_escalation_stop(struct dawn_store *s, const char *alert_id, const char *why, int64_t now);
/* subscriber acknowledged (by: who, as recorded): its waiting escalation is decided. */
int dawn_escalation_acked(struct dawn_store *s, const char *alert_id, const char *subscriber, const char *by,
                          int64_t now);

/* Decides one due escalation (inside a write): 1 escalated, 0 otherwise, -errno. */
int dawn_escalation_decide(struct dawn_store *s, const struct dawn_config *c, const struct dawn_escalation_row *row,
                           int64_t now);

/* What an escalation delivery's text says, read at send time from the
 * store (the escalation's times, the alert's own deliveries to the
 * subscriber) and config (its name and kind). Strings point into buf
 * (size >= 256) or the config / alert. 0, or -errno. */
int dawn_escalation_facts(struct dawn_store *s, const struct dawn_config *c, const struct dawn_alert *a,
                          const char *about, struct dawn_escalation_facts *f, char *buf, size_t size);

/* ---- the timer ---- */
struct dawn_escalator;
int dawn_escalator_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                       struct dawn_config *const *config, struct dawn_escalator **out);
struct dawn_escalator *dawn_escalator_free(struct dawn_escalator *e);
/* Sets the timer to the earliest waiting due_at (after every write). */
void dawn_escalator_schedule(struct dawn_escalator *e);

#endif
