#include "commit.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define MAX_HOOKS 4

struct dawn_commit {
        sd_event *loop;
        struct dawn_store *store;
        dawn_store_fatal_fn fatal;
        void *fatal_userdata;

        /* When the batch commits. Each calls dawn_commit_flush(), and only
         * they (and shutdown) do: never a write call, so every writer has
         * registered its ticket before the COMMIT. */
        sd_event_source *idle;     /* the loop has nothing else to do */
        sd_event_source *deadline; /* DAWN_COMMIT_MAX_WAIT_USEC after the batch opened */
        sd_event_source *soon;     /* full, lost, or tickets with nothing to wait for */
        sd_event_source *outcome;  /* asks the store again whether a COMMIT whose answer was lost was kept */

        /* Queues with a sentinel, so that a ticket unlinks itself without
         * knowing which queue it is in. */
        struct dawn_ticket batch_tickets; /* wait for the open (or lost) batch */
        struct dawn_ticket free_tickets;  /* registered with no batch open: answered 0 */
        struct dawn_ticket unknown_tickets; /* wait for the outcome of a COMMIT whose answer was lost */
        uint64_t unknown_until;           /* then they hear -ETIMEDOUT */
        bool unknown_kept;                /* that batch kept at least one write */
        unsigned unknown_writes;

        struct {
                dawn_after_write_fn fn;
                void *userdata;
        } hooks[MAX_HOOKS];
        size_t n_hooks;

        bool open;       /* a batch transaction is open */
        bool in_write;   /* between dawn_commit_begin and dawn_commit_end */
        int lost;        /* < 0: SQLite rolled the batch back by itself; answered at the next flush */
        unsigned writes; /* writes in the batch (kept or undone), for the size limit and the log */
        unsigned kept;   /* of which kept */
};

static void queue_init(struct dawn_ticket *q)
{
        q->prev = q->next = q;
}

static bool queue_empty(const struct dawn_ticket *q)
{
        return q->next == q;
}

static void queue_push(struct dawn_ticket *q, struct dawn_ticket *t)
{
        t->prev = q->prev;
        t->next = q;
        q->prev->next = t;
        q->prev = t;
}

void dawn_ticket_cancel(struct dawn_ticket *t)
{
        if (!t || !t->next)
                return;
        t->prev->next = t->next;
        t->next->prev = t->prev;
        t->prev = t->next = NULL;
}

/* Answers every ticket in q with r. An answer may cancel other tickets of
 * the same queue (an owner freed) or register new ones (in other queues,
 * since q is taken off the commit first). */
static void answer_all(struct dawn_ticket *q, int r)
{
        while (!queue_empty(q)) {
                struct dawn_ticket *t = q->next;
                dawn_ticket_cancel(t);
                t->answer(r, t->owner);
        }
}

/* Moves every ticket from src to the empty queue dst. */
static void queue_take(struct dawn_ticket *dst, struct dawn_ticket *src)
{
        queue_init(dst);
        if (queue_empty(src))
                return;
        dst->next = src->next;
        dst->prev = src->prev;
        dst->next->prev = dst;
        dst->prev->next = dst;
        queue_init(src);
}

static int on_flush_source(sd_event_source *s, void *userdata)
{
        dawn_commit_flush(userdata);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
        dawn_commit_flush(userdata);
        return 0;
}

static void run_hooks(struct dawn_commit *c)
{
        for (size_t i = 0; i < c->n_hooks; i++)
                c->hooks[i].fn(c->hooks[i].userdata);
}

/* Never "ok" for what was not kept, never "not stored" for what was: the
 * tickets of a COMMIT whose answer was lost wait for the store to learn
 * which (RELIABILITY.md: accepted means durable). */
static int on_outcome(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_commit *c = userdata;
        (void)usec; /* when it was due, not now: each ask may wait on the database */
        int r = dawn_store_commit_outcome(c->store);
        uint64_t now = (uint64_t)dawn_monotonic_usec();
        if (r == -EAGAIN && now < c->unknown_until) {
                sd_event_source_set_time(s, now + DAWN_COMMIT_OUTCOME_POLL_USEC);
                sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        int answer = r == 0 ? 0 : r == -ENOENT ? -EAGAIN : -ETIMEDOUT;
        if (r == 0)
                log_info("store: the commit of %u request(s) whose answer was lost was kept: they are answered ok",
                         c->unknown_writes);
        else if (r == -ENOENT)
                log_info("store: the commit of %u request(s) whose answer was lost was not kept: they are answered "
                         "\"not stored\"", c->unknown_writes);
        else
                log_error("store: whether the commit of %u request(s) whose answer was lost was kept is not known "
                          "(%s): they are answered \"not confirmed\"", c->unknown_writes,
                          r == -EAGAIN ? "the database stayed away" : strerror(-r));
        if (r != 0 && r != -ENOENT)
                dawn_store_commit_outcome_abandon(c->store);
        struct dawn_ticket q;
        queue_take(&q, &c->unknown_tickets);
        answer_all(&q, answer);
        if (r == 0 && c->unknown_kept)
                run_hooks(c);
        return 0;
}

int dawn_commit_new(sd_event *loop, struct dawn_store *store, dawn_store_fatal_fn fatal, void *userdata,
                    struct dawn_commit **out)
{
        struct dawn_commit *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->loop = sd_event_ref(loop);
        c->store = store;
        c->fatal = fatal;
        c->fatal_userdata = userdata;
        queue_init(&c->batch_tickets);
        queue_init(&c->free_tickets);
        queue_init(&c->unknown_tickets);
        int r = sd_event_add_defer(loop, &c->idle, on_flush_source, c);
        /* idle priority: every ready client is read before the batch commits */
        if (r >= 0)
                r = sd_event_source_set_priority(c->idle, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(loop, &c->soon, on_flush_source, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->soon, SD_EVENT_OFF);
        /* accuracy 1 us: the default (250 ms) would stretch the deadline */
        if (r >= 0)
                r = sd_event_add_time(loop, &c->deadline, CLOCK_MONOTONIC, UINT64_MAX, 1, on_deadline, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->deadline, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(loop, &c->outcome, CLOCK_MONOTONIC, UINT64_MAX, 1000, on_outcome, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->outcome, SD_EVENT_OFF);
        if (r < 0) {
                dawn_commit_free(c);
                return r;
        }
        *out = c;
        return 0;
}

struct dawn_commit *dawn_commit_free(struct dawn_commit *c)
{
        if (!c)
                return NULL;
        if (c->open || c->lost || !queue_empty(&c->batch_tickets) || !queue_empty(&c->free_tickets))
                dawn_commit_flush(c);
        dawn_commit_stop_waiting(c);
        sd_event_source_disable_unref(c->outcome);
        sd_event_source_disable_unref(c->idle);
        sd_event_source_disable_unref(c->soon);
        sd_event_source_disable_unref(c->deadline);
        sd_event_unref(c->loop);
        free(c);
        return NULL;
}

int dawn_commit_on_write(struct dawn_commit *c, dawn_after_write_fn fn, void *userdata)
{
        if (c->n_hooks == MAX_HOOKS)
                return -E2BIG;
        c->hooks[c->n_hooks].fn = fn;
        c->hooks[c->n_hooks].userdata = userdata;
        c->n_hooks++;
        return 0;
}

/* The store no longer has the batch's transaction: SQLite rolled it back
 * after an error in a statement. Everything written in it is gone; its
 * tickets hear r at the next turn, and writes are refused until then, so
 * that no write of this turn lands in a second batch its owner's ticket
 * does not know of. */
static void lose(struct dawn_commit *c, int r)
{
        log_error("store: the open transaction of %u request(s) was rolled back by SQLite: %s", c->writes,
                  dawn_store_errmsg(c->store));
        c->open = false;
        c->lost = r;
        sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);
        sd_event_source_set_enabled(c->deadline, SD_EVENT_OFF);
        sd_event_source_set_enabled(c->soon, SD_EVENT_ONESHOT);
}

int dawn_commit_open(struct dawn_commit *c)
{
        if (c->lost)
                return c->lost;
        if (!queue_empty(&c->unknown_tickets) && !c->open)
                return -EAGAIN; /* the last COMMIT's outcome is not known yet: the database is away */
        if (c->open) {
                if (dawn_store_in_transaction(c->store))
                        return 0;
                /* a write outside a savepoint (the outbox's) failed and took the batch with it:
                 * with the store's last error (the database away is for now), or the worst */
                int e = dawn_store_last_error(c->store);
                lose(c, e < 0 ? e : -EIO);
                return c->lost;
        }
        int r = dawn_store_begin(c->store);
        if (r < 0)
                return r;
        c->open = true;
        c->writes = c->kept = 0;
        uint64_t now = 0;
        sd_event_now(c->loop, CLOCK_MONOTONIC, &now);
        sd_event_source_set_time(c->deadline, now + DAWN_COMMIT_MAX_WAIT_USEC);
        sd_event_source_set_enabled(c->deadline, SD_EVENT_ONESHOT);
        sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT);
        return 0;
}

bool dawn_commit_is_open(struct dawn_commit *c)
{
        return c->open;
}

int dawn_commit_begin(struct dawn_commit *c)
{
        assert(!c->in_write);
        int r = dawn_commit_open(c);
        if (r < 0)
                return r;
        r = dawn_store_savepoint(c->store);
        if (r < 0) {
                if (!dawn_store_in_transaction(c->store))
                        lose(c, r);
                return r;
        }
        c->in_write = true;
        return 0;
}

int dawn_commit_end(struct dawn_commit *c, int r)
{
        assert(c->in_write);
        c->in_write = false;
        if (r >= 0) {
                int k = dawn_store_release(c->store);
                if (k < 0)
                        r = k;
        }
        c->writes++;
        /* asked before ROLLBACK TO, whose own failure would hide the error that ended the batch */
        bool alive = dawn_store_in_transaction(c->store);
        if (r < 0 && alive)
                dawn_store_rollback_to_savepoint(c->store);
        if (!alive) {
                /* an input error cannot end a transaction: a store error underneath did */
                lose(c, r < 0 && r != -EINVAL ? r : -EIO);
                return r < 0 ? r : c->lost;
        }
        if (r >= 0)
                c->kept++;
        /* full: commit at the next turn, after whoever wrote this has taken its ticket */
        if (c->writes == DAWN_COMMIT_BATCH_MAX)
                sd_event_source_set_enabled(c->soon, SD_EVENT_ONESHOT);
        return r;
}

void dawn_commit_stop_waiting(struct dawn_commit *c)
{
        if (queue_empty(&c->unknown_tickets))
                return;
        sd_event_source_set_enabled(c->outcome, SD_EVENT_OFF);
        dawn_store_commit_outcome_abandon(c->store);
        struct dawn_ticket q;
        queue_take(&q, &c->unknown_tickets);
        answer_all(&q, -ETIMEDOUT);
}

int dawn_commit_try_job(struct dawn_commit *c, enum dawn_store_job job)
{
        if (!dawn_store_shared(c->store))
                return 1;
        int r = dawn_commit_begin(c);
        if (r < 0)
                return r;
        int held = dawn_store_try_job(c->store, job);
        /* taken: in a savepoint released into the batch, the lock is the batch's until it
         * commits. Not taken: the savepoint is undone, so the batch keeps no write of it,
         * and its commit runs no after-write hook that would re-arm the job's timer to a
         * time already past (a loop for as long as the other node holds the job) */
        r = dawn_commit_end(c, held < 0 ? held : held == 0 ? -EALREADY : 0);
        return held == 0 ? 0 : r < 0 ? r : held;
}

void dawn_commit_ticket(struct dawn_commit *c, struct dawn_ticket *t, dawn_answer_fn answer, void *owner)
{
        assert(!t->next);
        t->answer = answer;
        t->owner = owner;
        if (c->open || c->lost) {
                queue_push(&c->batch_tickets, t);
                return;
        }
        queue_push(&c->free_tickets, t);
        sd_event_source_set_enabled(c->soon, SD_EVENT_ONESHOT);
}

int dawn_commit_flush(struct dawn_commit *c)
{
        assert(!c->in_write);
        sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);
        sd_event_source_set_enabled(c->soon, SD_EVENT_OFF);
        sd_event_source_set_enabled(c->deadline, SD_EVENT_OFF);
        int r = 0;
        bool wrote = false;
        if (c->lost) {
                r = c->lost;
                c->lost = 0;
        } else if (c->open) {
                c->open = false;
                r = dawn_store_commit(c->store);
                if (r == -EINPROGRESS && queue_empty(&c->unknown_tickets)) {
                        log_error("store: the answer to the commit of %u request(s) was lost with the connection "
                                  "(%s); learning whether it was kept before answering them", c->writes,
                                  dawn_store_errmsg(c->store));
                        queue_take(&c->unknown_tickets, &c->batch_tickets);
                        c->unknown_kept = c->kept > 0;
                        c->unknown_writes = c->writes;
                        uint64_t now = 0;
                        sd_event_now(c->loop, CLOCK_MONOTONIC, &now);
                        c->unknown_until = now + DAWN_COMMIT_OUTCOME_USEC;
                        sd_event_source_set_time(c->outcome, now + DAWN_COMMIT_OUTCOME_POLL_USEC);
                        sd_event_source_set_enabled(c->outcome, SD_EVENT_ONESHOT);
                } else if (r == -EINPROGRESS) {
                        r = -ETIMEDOUT; /* one outcome at a time: cannot happen, since no batch opens meanwhile */
                }
                if (r < 0 && r != -EINPROGRESS)
                        log_error("store: commit of %u request(s) failed: %s (%s)", c->writes, strerror(-r),
                                  dawn_store_errmsg(c->store));
                wrote = r == 0 && c->kept > 0;
        }
        c->writes = c->kept = 0;

        /* the answers may begin the next batch and register tickets for it: take this one's first */
        struct dawn_ticket batch, idle;
        queue_take(&batch, &c->batch_tickets);
        queue_take(&idle, &c->free_tickets);
        answer_all(&batch, r);
        answer_all(&idle, 0);
        if (wrote)
                run_hooks(c);
        if (r == -EINPROGRESS)
                return r; /* neither failed nor kept yet */

        /* full, locked, or the database away for now (PostgreSQL restarting, failing over):
         * each batch is refused and the next one tried; anything else is an I/O error */
        if (r < 0 && r != -ENOSPC && r != -EBUSY && r != -EAGAIN && r != -ETIMEDOUT && c->fatal)
                c->fatal(r, c->fatal_userdata);
        return r;
}
