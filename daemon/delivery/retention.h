/* Retention (UK GDPR storage limitation): the delivery details of alerts
 * that ended longer ago than retention.deliveries are removed, keeping the
 * counts (store.h, "retention"). This runs the pruning on the loop: a
 * minute after start (sooner when the period itself is shorter, as in
 * tests), then daily, and when an officer asks (dawnctl prune). A run is a
 * series of bounded steps (DAWN_PRUNE_BATCH_MAX alerts), each one write on
 * the one write path; the next step starts only once the previous one has
 * committed, so a backlog of months never holds up the loop or the commit.
 * A run ends with one log line. */
#ifndef DAWN_RETENTION_H
#define DAWN_RETENTION_H

#include <systemd/sd-event.h>

#include "commit.h"
#include "config.h"
#include "store.h"

/* Between runs; and the first run's delay after start at the longest. */
#define DAWN_RETENTION_INTERVAL_USEC (24 * 3600 * DAWN_USEC_PER_SEC)
#define DAWN_RETENTION_FIRST_RUN_USEC (60 * DAWN_USEC_PER_SEC)
/* After a step that could not be stored (disk full): try again this much later. */
#define DAWN_RETENTION_RETRY_USEC (3600 * DAWN_USEC_PER_SEC)
/* how often (a second apart) emptying the write-ahead log after a run is tried while busy */
#define DAWN_RETENTION_CHECKPOINT_TRIES 60
/* The actor of the audit rows of the daily run. */
#define DAWN_RETENTION_ACTOR "dawnd (retention)"

struct dawn_retention;

/* config points at the daemon's config pointer, which a reload replaces. */
int dawn_retention_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                       struct dawn_config *const *config, struct dawn_retention **out);
/* NULL-safe; before the commit is freed. */
struct dawn_retention *dawn_retention_free(struct dawn_retention *rt);

/* The end of the retention period now: alerts that ended before it lose
 * their delivery details. */
int64_t dawn_retention_cutoff(const struct dawn_retention *rt, int64_t now);

/* Rows holding a number were deleted outside a run (public --remove, a
 * STOP's public subscriptions): the write-ahead log is emptied soon after,
 * as after a run, so the number leaves the files. */
void dawn_retention_erased(struct dawn_retention *rt);
/* An officer's "dawnctl prune": one step now, in a write of its own on the
 * commit (the caller holds its answer for the commit as for any write);
 * what remains follows in further steps by itself, under the same actor.
 * *step says what this step removed. 0 or -errno (nothing removed). */
int dawn_retention_prune_now(struct dawn_retention *rt, const char *actor, struct dawn_prune_counts *step);

#endif
