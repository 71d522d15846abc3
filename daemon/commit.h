/* Group commit: every write that arrives in one turn of the event loop goes
 * into one SQLite transaction, committed when the loop has nothing else to
 * do. Whoever wrote registers what to do once the commit is done (answer
 * the submitter, start sending); nobody hears "accepted" before that.
 *
 * One fsync then covers many clients' alerts: the cost of durability is
 * shared instead of paid per alert. */
#ifndef DAWN_COMMIT_H
#define DAWN_COMMIT_H

#include <systemd/sd-event.h>

#include "store.h"

struct dawn_commit;

/* r is 0 if the transaction committed, else -errno (and it rolled back). */
typedef void (*dawn_after_commit_fn)(int r, void *userdata);
/* Called when the store failed in a way the daemon must not survive (I/O
 * error: never retry a failed fsync). */
typedef void (*dawn_store_fatal_fn)(int r, void *userdata);

int dawn_commit_new(sd_event *loop, struct dawn_store *store, dawn_store_fatal_fn fatal, void *userdata,
                    struct dawn_commit **out);
struct dawn_commit *dawn_commit_free(struct dawn_commit *c);

/* Makes sure a transaction is open; the commit is scheduled for when the
 * loop is idle (or at once when the batch is full). Returns 0 or -errno. */
int dawn_commit_open(struct dawn_commit *c);
bool dawn_commit_is_open(struct dawn_commit *c);
/* Runs fn after the open transaction ends, or at once (with 0) when none is
 * open. Returns 0 or -ENOMEM. */
int dawn_commit_after(struct dawn_commit *c, dawn_after_commit_fn fn, void *userdata);
/* Commits now (shutdown, full batch). Returns the commit's result. */
int dawn_commit_flush(struct dawn_commit *c);
/* Counts one request into the batch; a full batch is committed early. */
void dawn_commit_count(struct dawn_commit *c);

#endif
