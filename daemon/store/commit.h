/* The one write path. Every way in (control socket, HTTP, MQTT ingest,
 * receipts, expiry) writes the same way:
 *
 *     int r = dawn_commit_begin(c);          join the batch, open a savepoint
 *     if (r == 0)
 *             r = dawn_commit_end(c, work()); keep it (r >= 0) or undo it
 *     dawn_commit_ticket(c, &owner->ticket, answer, owner);
 *
 * and answers its client from answer(r, owner), which is called once the
 * batch has ended: r == 0 after its COMMIT returned, or -errno when the
 * batch failed (nothing written in it exists: the client must hear "not
 * stored"). Nobody hears "accepted" before the COMMIT.
 *
 * Group commit: every write made in one turn of the event loop goes into one
 * SQLite transaction, so one fsync covers many clients' alerts. The batch
 * commits when the loop has nothing else to do, when it has been open for
 * DAWN_COMMIT_MAX_WAIT_USEC, or soon after it reaches DAWN_COMMIT_BATCH_MAX
 * writes, but never inside a write call: every ticket of a batch is
 * registered before the batch commits, because the commit always runs from
 * an event source of its own, never from dawn_commit_end().
 *
 * Tickets are answered from the loop, never from inside the call that
 * registers them. A ticket whose owner goes away (a client that hung up) is
 * cancelled with dawn_ticket_cancel(): the write still commits, the answer is
 * dropped. */
#ifndef DAWN_COMMIT_H
#define DAWN_COMMIT_H

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "store.h"

/* A batch commits soon after this many writes, even if the loop is busy: a
 * bounded batch keeps the first submitter's wait short. */
#define DAWN_COMMIT_BATCH_MAX 512
/* ... and at the latest this long after it opened, even if the loop never
 * goes idle (a busy loop must not hold answers back for ever). */
#define DAWN_COMMIT_MAX_WAIT_USEC (200 * 1000)
/* A COMMIT whose answer was lost with the connection (PostgreSQL) may have
 * been kept: its tickets wait while the store finds out, asking every
 * DAWN_COMMIT_OUTCOME_POLL_USEC, for at most this long; then they hear
 * -ETIMEDOUT ("not confirmed"). Meanwhile no batch opens (-EAGAIN): the
 * database is away, and one outcome at a time is learned. */
#define DAWN_COMMIT_OUTCOME_USEC (30 * 1000 * 1000)
#define DAWN_COMMIT_OUTCOME_POLL_USEC (100 * 1000)

struct dawn_commit;

/* r is 0 once the batch the ticket waited for has committed (or when it had
 * nothing to wait for), else -errno: the batch rolled back; -ETIMEDOUT alone
 * means it may or may not have been kept (its COMMIT's answer was lost and
 * the outcome could not be learned in time). */
typedef void (*dawn_answer_fn)(int r, void *owner);
/* Run after every batch that committed at least one write (dawn_commit_end
 * with r >= 0): start sending, look at expiry times again. */
typedef void (*dawn_after_write_fn)(void *userdata);
/* Called when the store failed in a way the daemon must not survive (I/O
 * error: never retry a failed fsync). */
typedef void (*dawn_store_fatal_fn)(int r, void *userdata);

/* The owner's place in a batch's queue of answers. Embed it in whatever
 * waits for the answer (zeroed); the commit keeps no other copy, so
 * registering a ticket cannot fail. Owned by the caller; it must stay valid
 * until its answer function has been called or it was cancelled. */
struct dawn_ticket {
        struct dawn_ticket *prev, *next; /* in a queue while pending, else NULL */
        dawn_answer_fn answer;
        void *owner;
};

int dawn_commit_new(sd_event *loop, struct dawn_store *store, dawn_store_fatal_fn fatal, void *userdata,
                    struct dawn_commit **out);
/* Commits what is open and answers every ticket, then frees. NULL-safe. */
struct dawn_commit *dawn_commit_free(struct dawn_commit *c);

/* Registers fn to run after each batch that committed a write. At most 4;
 * returns 0 or -E2BIG. */
int dawn_commit_on_write(struct dawn_commit *c, dawn_after_write_fn fn, void *userdata);

/* Begins one write: joins (or opens) the batch transaction and sets a
 * savepoint. Returns 0, or -errno and nothing was begun (the caller answers
 * with a refusal and does not call dawn_commit_end). */
int dawn_commit_begin(struct dawn_commit *c);
/* Ends the write begun: r >= 0 keeps what it wrote (RELEASE), r < 0 undoes
 * it (ROLLBACK TO) and leaves the rest of the batch alone. Returns r, or the
 * store's error if keeping failed. If the store lost the whole transaction
 * (SQLite rolls back by itself after SQLITE_FULL or an I/O error), every
 * ticket of the batch hears the error and the next writes are refused until
 * it has been answered. */
int dawn_commit_end(struct dawn_commit *c, int r);

/* Registers t: answer(r, owner) is called once, from the loop, after the
 * batch open now has ended; with 0 at the next turn when no batch is open
 * (nothing to wait for). t must not be pending already. */
void dawn_commit_ticket(struct dawn_commit *c, struct dawn_ticket *t, dawn_answer_fn answer, void *owner);
/* The owner went away: its answer is never called. What it wrote still
 * commits. NULL-safe; a ticket that is not pending is left alone. */
void dawn_ticket_cancel(struct dawn_ticket *t);
static inline bool dawn_ticket_pending(const struct dawn_ticket *t)
{
        return t->next != NULL;
}

/* True while a batch transaction is open: what is read or written now is
 * not durable until it commits (register a ticket to hear when). */
bool dawn_commit_is_open(struct dawn_commit *c);
/* Makes sure a batch transaction is open, for writes that need no savepoint
 * of their own (the outbox's bookkeeping). Returns 0 or -errno. */
int dawn_commit_open(struct dawn_commit *c);
/* dawnd is stopping: writers still waiting to learn whether their COMMIT
 * was kept (its answer lost) hear "not confirmed" (-ETIMEDOUT) now, while
 * their answers can still be sent. */
void dawn_commit_stop_waiting(struct dawn_commit *c);
/* Takes a timer's job (expiry, escalation deadlines) for this node until the
 * batch commits, as a write of its own, so that what the job then reads
 * (inside the batch) is what no other node is changing: 1 taken, 0 another
 * node is doing it now (leave it), or -errno. On a store no other node
 * shares, 1 without writing anything. */
int dawn_commit_try_job(struct dawn_commit *c, enum dawn_store_job job);
/* Commits now and answers every ticket before returning (shutdown, where
 * the loop will not turn again). Returns the commit's result. */
int dawn_commit_flush(struct dawn_commit *c);

#endif
