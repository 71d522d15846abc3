#include "checkpoint.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"

struct dawn_checkpointer {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool wanted; /* under lock: the log has grown past DAWN_CHECKPOINT_PAGES */
        bool stop;   /* under lock */
        bool copying; /* under lock: the thread is in a checkpoint */
        pthread_cond_t copied_all; /* signalled when it leaves one */
        sqlite3 *db; /* the thread's own connection: used by the thread only */
        atomic_uint_fast64_t background, inline_, failed;
        atomic_int copied; /* pages of the current log already in the database */
        int last_pages;    /* the loop's: the log's length at its last commit */
};

static void *run(void *userdata)
{
        struct dawn_checkpointer *c = userdata;
        bool failing = false;
        pthread_mutex_lock(&c->lock);
        for (;;) {
                while (!c->wanted && !c->stop)
                        pthread_cond_wait(&c->wake, &c->lock);
                if (c->stop)
                        break;
                c->wanted = false;
                c->copying = true;
                pthread_mutex_unlock(&c->lock);
                int log_pages = 0, copied = 0;
                int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied);
                if (rc == SQLITE_OK) {
                        atomic_fetch_add(&c->background, 1);
                        atomic_store(&c->copied, copied);
                        if (failing)
                                log_notice("store: background checkpoints work again");
                        failing = false;
                } else if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
                        /* the log keeps it all: nothing is lost, the next try (or the loop) catches
                         * up. Said once, not at every commit's try (a full disk fails them all). */
                        atomic_fetch_add(&c->failed, 1);
                        if (!failing)
                                log_warning("store: background checkpoint failed: %s; the log keeps every "
                                            "commit meanwhile", sqlite3_errmsg(c->db));
                        failing = true;
                }
                pthread_mutex_lock(&c->lock);
                c->copying = false;
                pthread_cond_broadcast(&c->copied_all);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

/* After each commit on the loop's connection, with the log's length in pages:
 * the thread copies the bulk; the loop copies the last few pages itself, which
 * (the log then being wholly in the database) lets the next commit start the
 * log again from its beginning, so it stays near DAWN_CHECKPOINT_PAGES. */
static int on_wal(void *userdata, sqlite3 *db, const char *name, int pages)
{
        struct dawn_checkpointer *c = userdata;
        if (pages < c->last_pages)
                atomic_store(&c->copied, 0); /* the log started again */
        c->last_pages = pages;
        if (pages < DAWN_CHECKPOINT_PAGES)
                return SQLITE_OK;
        int left = pages - (int)atomic_load(&c->copied);
        if (left <= DAWN_CHECKPOINT_TAIL || pages >= DAWN_CHECKPOINT_PAGES_MAX) {
                int copied = 0;
                int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, &copied);
                if (rc == SQLITE_BUSY && pages >= DAWN_CHECKPOINT_PAGES_MAX) {
                        /* the thread is copying and cannot keep up: the log's bound is a promise,
                         * so the loop waits for that checkpoint to end and copies the rest */
                        pthread_mutex_lock(&c->lock);
                        while (c->copying)
                                pthread_cond_wait(&c->copied_all, &c->lock);
                        pthread_mutex_unlock(&c->lock);
                        rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, &copied);
                }
                if (rc == SQLITE_OK) {
                        atomic_fetch_add(&c->inline_, 1);
                        atomic_store(&c->copied, copied);
                }
                return SQLITE_OK; /* BUSY: the thread is copying; the next commit looks again */
        }
        pthread_mutex_lock(&c->lock);
        c->wanted = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        return SQLITE_OK;
}

/* Frees what dawn_checkpointer_start() made; the thread is not running. */
static void checkpointer_free(struct dawn_checkpointer *c)
{
        pthread_cond_destroy(&c->copied_all);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        sqlite3_close(c->db);
        free(c);
}

int dawn_checkpointer_start(sqlite3 *db, const char *path, struct dawn_checkpointer **out)
{
        struct dawn_checkpointer *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        /* it reads pages only to copy them: a small cache keeps the thread's memory small */
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(c->db, "PRAGMA cache_size = 16", NULL, NULL, NULL);
        /* said, not left to the build's default: a checkpoint's copy is fsynced before the
         * log may start again over what it copied */
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                log_warning("store: no background checkpoints (%s); SQLite checkpoints in its commits",
                            c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
                sqlite3_close(c->db);
                free(c);
                return -EIO;
        }
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->wake, NULL);
        pthread_cond_init(&c->copied_all, NULL);
        /* the thread takes no signals: sd-event reads SIGTERM, SIGHUP and the rest from a
         * signalfd, which sees only signals every thread blocks; one this thread let through
         * would get the default action (SIGTERM: dawnd killed, not stopped) */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = -pthread_create(&c->thread, NULL, run, c);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                log_warning_errno(r, "store: no background checkpoints (%m); SQLite checkpoints in its commits");
                checkpointer_free(c);
                return r;
        }
        sqlite3_wal_hook(db, on_wal, c);
        *out = c;
        return 0;
}

struct dawn_checkpointer *dawn_checkpointer_stop(sqlite3 *db, struct dawn_checkpointer *c)
{
        if (!c)
                return NULL;
        sqlite3_wal_autocheckpoint(db, DAWN_CHECKPOINT_PAGES); /* replaces our hook */
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
        checkpointer_free(c);
        return NULL;
}

void dawn_checkpointer_counts(struct dawn_checkpointer *c, struct dawn_checkpoint_counts *out)
{
        *out = (struct dawn_checkpoint_counts){ 0 };
        if (!c)
                return;
        out->background = atomic_load(&c->background);
        out->inline_ = atomic_load(&c->inline_);
        out->failed = atomic_load(&c->failed);
}
