/* The outbox: takes due deliveries from the store, hands them to their
 * channel's driver, and records what became of them. Shared by every
 * channel; the drivers never touch the store.
 *
 * A delivery is sent only after the transaction that created it committed,
 * and is marked delivered only when the driver says the peer has it. A
 * channel that cannot send (broker down) leaves its deliveries waiting;
 * when it comes back they go out. Deliveries left in flight by a crash go
 * back to pending at start-up: at least once, never silently dropped. */
#ifndef DAWN_OUTBOX_H
#define DAWN_OUTBOX_H

#include <cJSON.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "sms_callback.h"
#include "channel.h"
#include "commit.h"
#include "config.h"
#include "pause.h"
#include "ratelimit.h"
#include "store.h"

struct dawn_outbox;

/* config points at the daemon's config pointer, which a reload replaces:
 * limits, quiet hours and lifetimes are always read from the current one. */
int dawn_outbox_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                    struct dawn_config *const *config, struct dawn_outbox **out);
struct dawn_outbox *dawn_outbox_free(struct dawn_outbox *o);

/* The channel for a kind, or NULL (not configured). The outbox does not
 * own channels; the daemon attaches them with these callbacks wired up:
 * dawn_outbox_on_complete / dawn_outbox_on_ready, userdata = the outbox. */
void dawn_outbox_attach(struct dawn_outbox *o, enum dawn_channel_kind kind, struct dawn_channel *ch);
void dawn_outbox_on_complete(struct dawn_channel *ch, int64_t delivery_id, enum dawn_send_result result,
                             const char *error, uint64_t retry_after_usec, void *userdata);
void dawn_outbox_on_ready(struct dawn_channel *ch, void *userdata);

/* Something may be due: dispatch once the current transaction (if any)
 * has committed. */
void dawn_outbox_kick(struct dawn_outbox *o);

/* What the outbox knows of one channel, for the watchdog and status. */
struct dawn_outbox_counts {
        bool attached;       /* the channel is configured and running */
        bool ready;          /* it can send now (not while paused) */
        bool paused;         /* its provider refused the whole channel (pause.h) */
        uint64_t ended_other; /* deliveries that went back to wait for a pause, or were opted out */
        unsigned in_flight;  /* handed to it, not ended */
        uint64_t delivered, retried, failed;  /* deliveries that ended so, since start */
};
void dawn_outbox_counts(struct dawn_outbox *o, enum dawn_channel_kind kind, struct dawn_outbox_counts *out);
/* The same for dawnctl: {"mqtt": {"state": ..., "ready": b, "in_flight_now": n,
 * "delivered_since_start": n, ...}}, merged into object. */
void dawn_outbox_status(struct dawn_outbox *o, cJSON *object);
unsigned dawn_outbox_in_flight(struct dawn_outbox *o);
/* The ids of the deliveries in flight now (at most max of them, into ids):
 * the claims the node's heartbeat keeps alive (heartbeat.h); an SMS reply's
 * id negated. How many. */
size_t dawn_outbox_in_flight_ids(struct dawn_outbox *o, int64_t *ids, size_t max);

/* ---- channel pauses (pause.h) ---- */
/* `dawnctl resume CHANNEL`: the cause was fixed (who, for the log): the
 * waiting deliveries go out. 1 resumed, 0 it was not paused, -ENOENT the
 * channel is not configured. */
int dawn_outbox_resume(struct dawn_outbox *o, enum dawn_channel_kind kind, const char *who);
/* True and *out (may be NULL) while the channel is paused. */
bool dawn_outbox_pause(struct dawn_outbox *o, enum dawn_channel_kind kind, struct dawn_channel_pause *out);

/* ---- a delivery's life: the one table of legal transitions ----
 *
 * Everything that can happen to a delivery, from the outbox itself and from
 * outside (a gateway's receipt). The store's statements that change states
 * in bulk (supersede, opt-out, lifetime, restart) move only rows this table
 * allows them to; test_store checks that they agree with it. */
enum dawn_delivery_event {
        DAWN_EVENT_DISPATCH,          /* handed to its channel: pending, retrying -> in-flight */
        DAWN_EVENT_WAIT,              /* waits again, no attempt spent (channel down, quiet hours,
                                       * restart): pending, retrying, in-flight -> pending */
        DAWN_EVENT_SENT,              /* the SMS gateway took it, its receipt is to come: in-flight -> sent */
        DAWN_EVENT_DELIVERED,         /* the peer has it: in-flight -> delivered */
        DAWN_EVENT_RETRY,             /* a transient failure: in-flight -> retrying */
        DAWN_EVENT_FAIL,              /* a permanent failure, or past its lifetime: pending, retrying,
                                       * in-flight -> failed */
        DAWN_EVENT_SUPERSEDE,         /* a newer revision replaces it: pending, retrying -> superseded */
        DAWN_EVENT_OPT_OUT,           /* the number replied STOP: pending, retrying -> opted-out */
        /* receipts: only a text the gateway has (sent; or in flight, when the
         * receipt overtakes the gateway's answer) can be delivered or fail by
         * receipt; the same receipt again changes nothing */
        DAWN_EVENT_RECEIPT_DELIVERED, /* sent, in-flight -> delivered; delivered: no change */
        DAWN_EVENT_RECEIPT_PERMANENT, /* sent, in-flight -> failed; failed: no change */
        DAWN_EVENT_RECEIPT_TEMPORARY, /* sent -> retrying; in-flight, retrying: no change */
        DAWN_EVENT_RECEIPT_IN_PROGRESS, /* no change, in any state: it claims nothing */
        DAWN_EVENT_PROVIDER_OPT_OUT,  /* the provider refused the text because the number opted out there
                                       * (Twilio 21610): in-flight -> opted-out */
        DAWN_EVENT_COUNT,
};
const char *dawn_delivery_event_name(enum dawn_delivery_event e);
/* The receipt's event. */
enum dawn_delivery_event dawn_receipt_event(enum dawn_receipt_status status);

/* What event does to a delivery in state from: 1 and *to (the state to
 * write: a pending delivery told to wait stays pending, with a later time),
 * 0 when it is legal and changes nothing (a duplicate receipt), or -EPERM
 * when it is not a legal transition (a receipt for a text never sent, a
 * failure after delivery). Pure: every state change follows it. */
int dawn_delivery_next(enum dawn_delivery_state from, enum dawn_delivery_event event, enum dawn_delivery_state *to);

/* ---- receipts ---- */

/* What became of a receipt (for tests and the fuzzer; the caller logs nothing). */
enum dawn_receipt_outcome {
        DAWN_RECEIPT_APPLIED,     /* the delivery moved */
        DAWN_RECEIPT_UNCHANGED,   /* legal, and nothing to change (the same receipt again, in progress) */
        DAWN_RECEIPT_REPLAYED,    /* this Twilio request (MessageSid, status) was taken before */
        DAWN_RECEIPT_UNKNOWN,     /* no text has that row id */
        DAWN_RECEIPT_MISMATCHED,  /* the row is another alert's or revision's: the reference is not the row's */
        DAWN_RECEIPT_ILLEGAL,     /* it contradicts the delivery's state (delivered for a text never sent) */
};
const char *dawn_receipt_outcome_name(enum dawn_receipt_outcome o);

/* Applies a delivery receipt from provider ("notify", "twilio") inside the
 * caller's transaction: it must name a text's whole reference (alert,
 * revision, row id) and make a legal transition from the text's state now;
 * a Twilio receipt is taken once per (MessageSid, status). Anything else is
 * logged (numbers masked, at most a few lines a minute), counted in
 * dawn_callbacks_ignored_total{provider,reason} and changes nothing.
 * retry_initial_usec is channels.sms's first retry delay (a temporary
 * failure sends again with the outbox's backoff). Returns 0 and *outcome,
 * or a store error (-errno). */
int dawn_outbox_receipt(struct dawn_store *store, const char *provider, const struct dawn_receipt *rc,
                        uint64_t retry_initial_usec, int64_t now, enum dawn_receipt_outcome *outcome);

/* Whether one more ignored callback may be logged now (at most
 * DAWN_CALLBACK_LOG_PER_MINUTE a minute; the first call after a minute with
 * more logs how many were not). */
bool dawn_outbox_ignored_log_ok(int64_t now);

/* A text's reference, as sent to the gateway and as its receipt must name
 * it: "<alert id>-r<revision>-<row id>". */
void dawn_delivery_reference(const char *alert_id, int revision, int64_t id, char *buf, size_t size);

/* How long a Twilio request's MessageSid is remembered against replays:
 * status callbacks 7 days (Twilio sends and retries them within hours; an
 * older replay still meets the transition table), received texts 400 days
 * (a replayed START could undo a STOP; people send few texts, so a year's
 * worth is small). Twilio's signature has no time in it: past these, only
 * TLS between Twilio and DAWN keeps a request from being captured. */
#define DAWN_TWILIO_STATUS_KEEP_USEC (7 * 24 * 3600 * UINT64_C(1000000))
#define DAWN_TWILIO_INBOUND_KEEP_USEC (400 * 24 * 3600 * UINT64_C(1000000))

/* The wait before attempt n + 1 after n failed attempts: doubling from
 * initial_usec (0: 5 s), and at least an eighth of the delivery's age,
 * capped at 10 min; +-20 % jitter from rand01 in [0, 1); never sooner than
 * the peer's Retry-After. Pure, for tests. */
uint64_t dawn_backoff_usec(int attempts, uint64_t initial_usec, uint64_t age_usec, uint64_t retry_after_usec,
                           double rand01);

/* What becomes of a delivery after a transient failure (its channel still
 * up), given its attempts so far, when it was created, the peer's
 * Retry-After (0: none), the channel's lifetime (0: none) and its first
 * retry delay: false when it is older than its lifetime (it fails, loudly),
 * else true and *retry_at = now + dawn_backoff_usec(). A clock stepped back
 * counts as age 0. Pure, for tests: rand01 is the jitter's draw. */
bool dawn_retry_decide(int attempts, int64_t created_at, int64_t now, uint64_t retry_after_usec,
                       uint64_t lifetime_usec, uint64_t initial_usec, double rand01, int64_t *retry_at);

#endif
