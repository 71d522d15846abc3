/* WAL checkpoints off the loop (issue 12, checkpoint.h): with the thread
 * started, commits never copy the log back themselves except for its last
 * few pages; the log stays bounded however long commits keep coming; every
 * committed row is in the database after the thread stops and after a
 * reopen; and stopping gives the connection SQLite's own checkpoints back.
 * Sizes, not times, are asserted. */
#include "dawn_test.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"

/* one WAL frame: a 4 KiB page and its 24-byte header */
#define FRAME_BYTES (4096 + 24)
/* commits of a page or two each: more pages in all than DAWN_CHECKPOINT_PAGES_MAX, so
 * a log that stays under it must have started again from its beginning */
#define COMMITS 12000
#define ROW_BYTES 3000

struct ckpt_fixture {
        char dir[64];
        char path[96];
        char wal[104];
        sqlite3 *db;
};

static int setup(void **state)
{
        struct ckpt_fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/dawn-ckpt-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        /* synchronous = OFF: what is tested is which connection copies the log when, not fsync */
        snprintf(f->path, sizeof(f->path), "%s/dawn.db", f->dir);
        snprintf(f->wal, sizeof(f->wal), "%s-wal", f->path);
        assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(f->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;"
                                             "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_busy_timeout(f->db, 5000); /* as the store's connection */
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct ckpt_fixture *f = *state;
        sqlite3_close(f->db);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static off_t file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? st.st_size : 0;
}

static int64_t count_rows(sqlite3 *db)
{
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return n;
}

/* COMMITS transactions of one ROW_BYTES row each; returns the largest the log grew */
static off_t commit_many(struct ckpt_fixture *f)
{
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(f->db, "INSERT INTO t (body) VALUES (zeroblob(?))", -1, &st, NULL),
                         SQLITE_OK);
        off_t largest = 0;
        for (int i = 0; i < COMMITS; i++) {
                sqlite3_bind_int(st, 1, ROW_BYTES);
                assert_int_equal(sqlite3_step(st), SQLITE_DONE);
                sqlite3_reset(st);
                off_t now = file_size(f->wal);
                if (now > largest)
                        largest = now;
        }
        sqlite3_finalize(st);
        return largest;
}

static void background_checkpoints_keep_the_log_bounded(void **state)
{
        struct ckpt_fixture *f = *state;
        struct dawn_checkpointer *c = NULL;
        assert_int_equal(dawn_checkpointer_start(f->db, f->path, &c), 0);
        off_t largest = commit_many(f);
        struct dawn_checkpoint_counts n;
        dawn_checkpointer_counts(c, &n);
        c = dawn_checkpointer_stop(f->db, c);
        assert_null(c);
        /* the thread copied, and the loop's connection finished the log's tail so it could start again */
        assert_true(n.background > 0);
        assert_true(n.inline_ > 0);
        assert_int_equal(n.failed, 0);
        /* bounded: past DAWN_CHECKPOINT_PAGES_MAX the loop copies whatever is left after its
         * commit (with synchronous = OFF the thread cannot keep up with these commits), so the
         * log never grows past that and one commit, though 12,000+ pages went through it */
        assert_true(largest <= (off_t)(DAWN_CHECKPOINT_PAGES_MAX + 64) * FRAME_BYTES);
        assert_int_equal(count_rows(f->db), COMMITS);
        /* every row is there after a reopen (the close checkpoints it all and removes the log) */
        sqlite3_close(f->db);
        assert_int_equal(file_size(f->wal), 0);
        assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
        assert_int_equal(count_rows(f->db), COMMITS);
}

static void stopping_gives_back_sqlites_own_checkpoints(void **state)
{
        struct ckpt_fixture *f = *state;
        struct dawn_checkpointer *c = NULL;
        assert_int_equal(dawn_checkpointer_start(f->db, f->path, &c), 0);
        dawn_checkpointer_stop(f->db, c);
        /* with SQLite's autocheckpoint back, the log wraps near 1,000 pages as before */
        off_t largest = commit_many(f);
        assert_true(largest <= (off_t)(DAWN_CHECKPOINT_PAGES + 64) * FRAME_BYTES);
        assert_int_equal(count_rows(f->db), COMMITS);
}

static void a_store_that_cannot_be_opened_keeps_checkpoints_in_commits(void **state)
{
        struct ckpt_fixture *f = *state;
        struct dawn_checkpointer *c = NULL;
        assert_true(dawn_checkpointer_start(f->db, "/nonexistent/dir/dawn.db", &c) < 0);
        assert_null(c);
        off_t largest = commit_many(f);
        assert_true(largest <= (off_t)(DAWN_CHECKPOINT_PAGES + 64) * FRAME_BYTES);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(background_checkpoints_keep_the_log_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(stopping_gives_back_sqlites_own_checkpoints, setup, teardown),
                cmocka_unit_test_setup_teardown(a_store_that_cannot_be_opened_keeps_checkpoints_in_commits, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
