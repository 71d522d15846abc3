#pragma once
/* WAL checkpoints on a thread of their own (issue 12).
 *
 * SQLite copies its write-ahead log back into the database (a checkpoint)
 * by itself, inside the COMMIT that takes the log past 1,000 pages: that
 * commit then also writes those pages again and fsyncs the database, 3-10 ms
 * during which the loop answers nobody (the p99 of every intake path). Here
 * the loop's connection only notes how long the log is after each commit;
 * past DAWN_CHECKPOINT_PAGES a thread with its own connection runs a PASSIVE
 * checkpoint, which never takes the writer's lock, so the loop goes on
 * committing meanwhile. Nothing committed depends on it: a commit is durable
 * once it is in the log (synchronous = FULL), and a crash mid-checkpoint is
 * finished by the next open.
 *
 * A passive checkpoint that runs while commits keep coming never quite
 * catches up, and the log only starts again from its beginning once one has.
 * So once the thread has copied all but DAWN_CHECKPOINT_TAIL pages, the loop
 * copies those after its commit (one small write and one fsync, every ~1,000
 * pages); and past DAWN_CHECKPOINT_PAGES_MAX (the thread cannot keep up) the
 * loop copies whatever is left itself, after waiting for a checkpoint the
 * thread is in, so the log stays bounded whatever the load. */
#include <sqlite3.h>
#include <stdint.h>

#define DAWN_CHECKPOINT_PAGES 1000     /* SQLite's own autocheckpoint, about 4 MiB */
#define DAWN_CHECKPOINT_PAGES_MAX 8000 /* about 32 MiB */
#define DAWN_CHECKPOINT_TAIL 128

struct dawn_checkpointer;

/* Starts the thread, with its own connection to path, and sets db's WAL hook.
 * 0, or -errno (then db keeps SQLite's own checkpoints). */
int dawn_checkpointer_start(sqlite3 *db, const char *path, struct dawn_checkpointer **out);
/* Stops the thread (waits for a checkpoint it is running), closes its
 * connection and gives db back SQLite's own checkpoints. NULL. */
struct dawn_checkpointer *dawn_checkpointer_stop(sqlite3 *db, struct dawn_checkpointer *c);

struct dawn_checkpoint_counts {
        uint64_t background; /* checkpoints the thread ran */
        uint64_t inline_;    /* run by the loop, the log being past DAWN_CHECKPOINT_PAGES_MAX */
        uint64_t failed;
};
void dawn_checkpointer_counts(struct dawn_checkpointer *c, struct dawn_checkpoint_counts *out);
