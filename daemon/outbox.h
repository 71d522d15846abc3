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

#include "channel.h"
#include "commit.h"
#include "config.h"
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

/* {"mqtt": {"in_flight": n, ...}} */
void dawn_outbox_status(struct dawn_outbox *o, cJSON *object);
unsigned dawn_outbox_in_flight(struct dawn_outbox *o);

/* The wait before attempt n + 1 after n failed attempts: doubling from
 * initial_usec (0: 5 s), and at least an eighth of the delivery's age,
 * capped at 10 min; +-20 % jitter from rand01 in [0, 1); never sooner than
 * the peer's Retry-After. Pure, for tests. */
uint64_t dawn_backoff_usec(int attempts, uint64_t initial_usec, uint64_t age_usec, uint64_t retry_after_usec,
                           double rand01);

#endif
