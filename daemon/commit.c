#include "commit.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"

/* Past this many requests in one transaction, commit without waiting for
 * the loop to go idle: a bounded batch keeps the first submitter's wait short. */
#define BATCH_MAX 512

struct after_commit {
        dawn_after_commit_fn fn;
        void *userdata;
};

struct dawn_commit {
        struct dawn_store *store;
        sd_event_source *idle;
        dawn_store_fatal_fn fatal;
        void *fatal_userdata;
        struct after_commit *after;
        size_t n_after, cap_after;
        unsigned batch;
};

static int on_idle(sd_event_source *s, void *userdata)
{
        dawn_commit_flush(userdata);
        return 0;
}

int dawn_commit_new(sd_event *loop, struct dawn_store *store, dawn_store_fatal_fn fatal, void *userdata,
                    struct dawn_commit **out)
{
        struct dawn_commit *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->store = store;
        c->fatal = fatal;
        c->fatal_userdata = userdata;
        int r = sd_event_add_defer(loop, &c->idle, on_idle, c);
        /* idle priority: every ready client is read before the batch commits */
        if (r >= 0)
                r = sd_event_source_set_priority(c->idle, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);
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
        if (dawn_store_in_transaction(c->store))
                dawn_commit_flush(c);
        sd_event_source_disable_unref(c->idle);
        free(c->after);
        free(c);
        return NULL;
}

int dawn_commit_open(struct dawn_commit *c)
{
        if (dawn_store_in_transaction(c->store))
                return 0;
        int r = dawn_store_begin(c->store);
        if (r < 0)
                return r;
        c->batch = 0;
        sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT);
        return 0;
}

bool dawn_commit_is_open(struct dawn_commit *c)
{
        return dawn_store_in_transaction(c->store);
}

int dawn_commit_after(struct dawn_commit *c, dawn_after_commit_fn fn, void *userdata)
{
        if (!dawn_store_in_transaction(c->store)) {
                fn(0, userdata);
                return 0;
        }
        if (c->n_after == c->cap_after) {
                size_t cap = c->cap_after ? c->cap_after * 2 : 64;
                struct after_commit *v = realloc(c->after, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                c->after = v;
                c->cap_after = cap;
        }
        c->after[c->n_after++] = (struct after_commit){ fn, userdata };
        return 0;
}

void dawn_commit_count(struct dawn_commit *c)
{
        if (++c->batch >= BATCH_MAX)
                dawn_commit_flush(c);
}

int dawn_commit_flush(struct dawn_commit *c)
{
        if (!dawn_store_in_transaction(c->store))
                return 0;
        sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);
        int r = dawn_store_commit(c->store);
        if (r < 0)
                log_error("store: commit of %u request(s) failed: %s", c->batch, dawn_store_errmsg(c->store));

        /* the callbacks may open the next transaction and queue more callbacks:
         * take this batch's list first */
        struct after_commit *after = c->after;
        size_t n = c->n_after;
        c->after = NULL;
        c->n_after = c->cap_after = 0;
        for (size_t i = 0; i < n; i++)
                after[i].fn(r, after[i].userdata);
        free(after);

        if (r < 0 && r != -ENOSPC && r != -EBUSY && c->fatal)
                c->fatal(r, c->fatal_userdata);
        return r;
}
