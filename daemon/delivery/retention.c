#include "retention.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

struct dawn_retention {
        sd_event *loop;
        struct dawn_store *store;
        struct dawn_commit *commit;
        struct dawn_config *const *config;
        sd_event_source *timer;     /* CLOCK_MONOTONIC: the next run, or the next step of this one */
        struct dawn_ticket ticket;  /* pending while a step waits for its commit */
        bool running;               /* a run has steps that are not committed yet, or more to do */
        char actor[128];            /* whose run it is: the audit rows' actor */
        int64_t ended_before;       /* the first step's cutoff, for the log */
        struct dawn_prune_counts done; /* the run's committed steps so far */
        struct dawn_prune_counts pending; /* its steps waiting for the commit */
        int checkpoint_tries;       /* > 0: a run removed rows; the WAL still holds them */
};

int64_t dawn_retention_cutoff(const struct dawn_retention *rt, int64_t now)
{
        return now - (int64_t)(*rt->config)->retention_deliveries_usec;
}

static void schedule(struct dawn_retention *rt, uint64_t after_usec)
{
        sd_event_source_set_time_relative(rt->timer, after_usec);
        sd_event_source_set_enabled(rt->timer, SD_EVENT_ONESHOT);
}

static void finish_run(struct dawn_retention *rt)
{
        const struct dawn_prune_counts *c = &rt->done;
        char when[40], channels[160] = "";
        size_t len = 0;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                if (c->by_channel[k] && len < sizeof(channels))
                        len += (size_t)snprintf(channels + len, sizeof(channels) - len, "%s%s %lld",
                                                len ? ", " : "; ", dawn_channel_name((enum dawn_channel_kind)k),
                                                (long long)c->by_channel[k]);
        dawn_time_format(rt->ended_before, when, sizeof(when));
        char audit[128] = "";
        size_t alen = 0;
        if (c->audit_rows)
                alen = (size_t)snprintf(audit, sizeof(audit), "; %lld audit row(s) lost a number",
                                        (long long)c->audit_rows);
        if (c->reply_rows && alen < sizeof(audit)) /* README "Replies by text" */
                snprintf(audit + alen, sizeof(audit) - alen, "; %lld SMS repl(ies) removed", (long long)c->reply_rows);
        if (c->alerts > 0 || c->audit_rows > 0 || c->reply_rows > 0)
                log_info("retention: removed delivery details of %lld alert(s) (%lld deliveries%s) ended before %s"
                         "%s%s%s",
                         (long long)c->alerts, (long long)c->deliveries, channels, when,
                         strcmp(rt->actor, DAWN_RETENTION_ACTOR) ? "; asked by " : "",
                         strcmp(rt->actor, DAWN_RETENTION_ACTOR) ? rt->actor : "", audit);
        else
                log_debug("retention: nothing ended before %s to remove", when);
        /* numbers went with any of these (public_joins rows hold numbers too) */
        if (c->alerts > 0 || c->audit_rows > 0 || c->reply_rows > 0 || c->join_rows > 0)
                rt->checkpoint_tries = DAWN_RETENTION_CHECKPOINT_TRIES;
        memset(&rt->done, 0, sizeof(rt->done));
        rt->running = false;
}

/* What a run removed is zeroed in the database (secure_delete), but the
 * frames that held it stay in dawn.db-wal until the log wraps, which on a
 * quiet system is months: the log is emptied after each run that removed
 * something. Returns true when it has to be tried again (a batch was open, a
 * reader held the log), a second later, a bounded number of times. */
static bool checkpoint(struct dawn_retention *rt)
{
        if (rt->checkpoint_tries <= 0)
                return false;
        int r = dawn_store_checkpoint_truncate(rt->store);
        if (r == -EBUSY && --rt->checkpoint_tries > 0)
                return true;
        if (r < 0)
                log_warning_errno(r, "retention: cannot empty the write-ahead log (%s); removed rows stay in "
                                  "dawn.db-wal until it wraps", r == -EBUSY ? "busy" : dawn_store_errmsg(rt->store));
        rt->checkpoint_tries = 0;
        return false;
}

/* The step's batch has ended: the next step, or the end of the run. */
static void on_committed(int r, void *owner)
{
        struct dawn_retention *rt = owner;
        struct dawn_prune_counts committed = rt->pending;
        memset(&rt->pending, 0, sizeof(rt->pending));
        if (r < 0) {
                log_error_errno(r, "retention: a step was not stored (%m); trying again in an hour");
                finish_run(rt);
                schedule(rt, DAWN_RETENTION_RETRY_USEC);
                return;
        }
        dawn_prune_counts_add(&rt->done, &committed);
        dawn_metrics_add(DAWN_M_RETENTION_PRUNED, "alerts", NULL, (uint64_t)committed.alerts);
        dawn_metrics_add(DAWN_M_RETENTION_PRUNED, "deliveries", NULL, (uint64_t)committed.deliveries);
        if (rt->done.more) {
                schedule(rt, 0); /* from the loop, not from inside the commit's answers */
                return;
        }
        finish_run(rt);
        schedule(rt, checkpoint(rt) ? DAWN_USEC_PER_SEC : DAWN_RETENTION_INTERVAL_USEC);
}

static int step(struct dawn_retention *rt, struct dawn_prune_counts *out)
{
        int64_t now = dawn_now_usec();
        int64_t cutoff = dawn_retention_cutoff(rt, now);
        if (!rt->running) {
                rt->running = true;
                rt->ended_before = cutoff;
        }
        struct dawn_prune_counts c = { 0 };
        int r = dawn_commit_begin(rt->commit);
        if (r == 0) {
                /* several nodes: one prunes; another that finds it doing so has nothing to do
                 * this time (its counts stay zero, and its run ends) */
                int held = dawn_store_try_job(rt->store, DAWN_JOB_RETENTION);
                r = dawn_commit_end(rt->commit, held <= 0 ? held : dawn_store_prune_step(rt->store, cutoff,
                                                                                      DAWN_PRUNE_BATCH_MAX,
                                                                                      rt->actor, now, &c));
        }
        if (r < 0) {
                log_error_errno(r, "retention: cannot remove delivery details (%s); trying again in an hour",
                                dawn_store_errmsg(rt->store));
                if (!dawn_ticket_pending(&rt->ticket)) {
                        finish_run(rt);
                        schedule(rt, DAWN_RETENTION_RETRY_USEC);
                }
                return r;
        }
        dawn_prune_counts_add(&rt->pending, &c);
        if (out)
                *out = c;
        /* one ticket for the steps of a batch: its answer carries on */
        if (!dawn_ticket_pending(&rt->ticket))
                dawn_commit_ticket(rt->commit, &rt->ticket, on_committed, rt);
        sd_event_source_set_enabled(rt->timer, SD_EVENT_OFF);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_retention *rt = userdata;
        if (dawn_ticket_pending(&rt->ticket))
                return 0; /* a step waits for its commit; its answer carries on */
        if (!rt->running && rt->checkpoint_tries > 0) {
                schedule(rt, checkpoint(rt) ? DAWN_USEC_PER_SEC : DAWN_RETENTION_INTERVAL_USEC);
                return 0;
        }
        if (!rt->running)
                snprintf(rt->actor, sizeof(rt->actor), "%s", DAWN_RETENTION_ACTOR);
        step(rt, NULL);
        return 0;
}

void dawn_retention_erased(struct dawn_retention *rt)
{
        if (!rt)
                return;
        rt->checkpoint_tries = DAWN_RETENTION_CHECKPOINT_TRIES;
        /* a second from now: after the batch that deletes them has committed */
        if (!rt->running && !dawn_ticket_pending(&rt->ticket))
                schedule(rt, DAWN_USEC_PER_SEC);
}

int dawn_retention_prune_now(struct dawn_retention *rt, const char *actor, struct dawn_prune_counts *out)
{
        memset(out, 0, sizeof(*out));
        /* the officer's from now on, also the steps that follow by themselves */
        snprintf(rt->actor, sizeof(rt->actor), "%s", actor);
        return step(rt, out);
}

int dawn_retention_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                       struct dawn_config *const *config, struct dawn_retention **out)
{
        struct dawn_retention *rt = calloc(1, sizeof(*rt));
        if (!rt)
                return -ENOMEM;
        rt->loop = sd_event_ref(loop);
        rt->store = store;
        rt->commit = commit;
        rt->config = config;
        snprintf(rt->actor, sizeof(rt->actor), "%s", DAWN_RETENTION_ACTOR);
        /* a minute after start, so that start-up is not slowed; sooner when the period is
         * shorter (tests), so that a short period is honoured from the start */
        uint64_t first = (*config)->retention_deliveries_usec < DAWN_RETENTION_FIRST_RUN_USEC
                                 ? (*config)->retention_deliveries_usec
                                 : DAWN_RETENTION_FIRST_RUN_USEC;
        int r = sd_event_add_time_relative(loop, &rt->timer, CLOCK_MONOTONIC, first, 0, on_timer, rt);
        if (r < 0) {
                dawn_retention_free(rt);
                return r;
        }
        sd_event_source_set_enabled(rt->timer, SD_EVENT_ONESHOT);
        *out = rt;
        return 0;
}

struct dawn_retention *dawn_retention_free(struct dawn_retention *rt)
{
        if (!rt)
                return NULL;
        dawn_ticket_cancel(&rt->ticket);
        sd_event_source_disable_unref(rt->timer);
        sd_event_unref(rt->loop);
        free(rt);
        return NULL;
}
