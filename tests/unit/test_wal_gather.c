/* The log's frames gathered into one write per commit (issue 12,
 * wal_gather.h), on real SQLite files in WAL mode with synchronous = FULL, as
 * the store runs them: a commit's frames reach the file in one write; a
 * commit larger than the buffer, whose pages SQLite also spills and reads
 * back before it commits, is whole after a reopen; another connection (the
 * checkpoint thread's) sees each commit as soon as it returns; and a process
 * that dies with frames still gathered, or right after a commit without
 * closing, leaves a store that is intact and holds every commit. And the two
 * ways an adversarial review broke the first version: a gathered write that
 * fails when a read makes it go out (a full disk) must never let that
 * transaction commit, and frames of a transaction that rolled back must never
 * be written later over what another writer put in the log since. Counts and
 * contents are asserted, never times. */
#include "dawn_test.h"

#include <errno.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wal_gather.h"

#define ROW_BYTES 3000

struct gather_fixture {
        char dir[64];
        char path[96];
        sqlite3 *db;
};

static void open_store_like(const char *path, sqlite3 **db)
{
        assert_int_equal(sqlite3_open(path, db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(*db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                                           "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
}

static int setup(void **state)
{
        assert_int_equal(dawn_wal_gather_register(), SQLITE_OK);
        assert_int_equal(dawn_wal_gather_register(), SQLITE_OK); /* again: nothing changes */
        assert_string_equal(sqlite3_vfs_find(NULL)->zName, "dawn-wal-gather");
        struct gather_fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/dawn-gather-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/dawn.db", f->dir);
        open_store_like(f->path, &f->db);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct gather_fixture *f = *state;
        sqlite3_close(f->db);
        char p[128];
        static const char *const suffix[] = { "", "-wal", "-shm" };
        for (int i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
                unlink(p);
        }
        rmdir(f->dir);
        free(f);
        return 0;
}

/* n rows of ROW_BYTES (each its own pages) in one transaction, ids from first; committed or not */
static void insert_rows(sqlite3 *db, int first, int n, bool commit)
{
        assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t (id, body) VALUES (?, ?)", -1, &st, NULL), SQLITE_OK);
        static unsigned char body[ROW_BYTES];
        for (int i = 0; i < n; i++) {
                memset(body, (first + i) & 0xff, sizeof(body));
                sqlite3_bind_int(st, 1, first + i);
                sqlite3_bind_blob(st, 2, body, sizeof(body), SQLITE_STATIC);
                assert_int_equal(sqlite3_step(st), SQLITE_DONE);
                sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        if (commit)
                assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* Every row is there, with its own bytes, and the file is sound. */
static void assert_rows(const char *path, int n)
{
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(query_int(db, "SELECT count(*) FROM t"), n);
        /* each body is ROW_BYTES of its id's low byte */
        assert_int_equal(query_int(db, "SELECT count(*) FROM t WHERE length(body) = 3000 AND"
                                       " hex(substr(body, 1, 1)) = printf('%02X', id % 256) AND"
                                       " hex(substr(body, 3000, 1)) = printf('%02X', id % 256)"),
                         n);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void test_a_commit_is_one_write(void **state)
{
        struct gather_fixture *f = *state;
        insert_rows(f->db, 1, 1, true); /* the log's header and first frames */
        struct dawn_wal_gather_counts before, after;
        dawn_wal_gather_counts(&before);
        insert_rows(f->db, 2, 3, true); /* three rows, each on pages of its own: several frames */
        dawn_wal_gather_counts(&after);
        /* SQLite asked for two writes per frame (header, page), at least six frames */
        assert_true(after.asked - before.asked >= 12);
        assert_int_equal(after.written - before.written, 1);
        assert_rows(f->path, 4);
}

static void test_a_large_commit_is_whole(void **state)
{
        struct gather_fixture *f = *state;
        /* a small page cache: SQLite spills pages to the log before the commit and reads them back */
        assert_int_equal(sqlite3_exec(f->db, "PRAGMA cache_size = 16", NULL, NULL, NULL), SQLITE_OK);
        struct dawn_wal_gather_counts before, after;
        dawn_wal_gather_counts(&before);
        insert_rows(f->db, 1, 400, true); /* ~1.2 MB: ten buffers and more */
        dawn_wal_gather_counts(&after);
        uint64_t writes = after.written - before.written;
        assert_true(writes >= 9);                          /* in pieces no larger than the buffer */
        assert_true(writes * 4 <= after.asked - before.asked); /* and still far fewer writes than asked */
        /* updated in place: frames of pages already in this transaction's log are written again */
        assert_int_equal(sqlite3_exec(f->db, "BEGIN; UPDATE t SET body = zeroblob(3000) WHERE id % 7 = 0;"
                                             "UPDATE t SET body = randomblob(3000) WHERE id % 7 = 0;"
                                             "DELETE FROM t WHERE id % 7 = 0; COMMIT",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_rows(f->path, 400 - 400 / 7);
}

static void test_another_connection_sees_each_commit(void **state)
{
        struct gather_fixture *f = *state;
        sqlite3 *other;
        open_store_like(f->path, &other);
        for (int i = 1; i <= 20; i++) {
                insert_rows(f->db, i, 1, true);
                assert_int_equal(query_int(other, "SELECT count(*) FROM t"), i);
        }
        /* and a checkpoint by that connection copies every frame: the log was in the file */
        int log = 0, copied = 0;
        assert_int_equal(sqlite3_wal_checkpoint_v2(other, NULL, SQLITE_CHECKPOINT_FULL, &log, &copied), SQLITE_OK);
        assert_int_equal(copied, log);
        sqlite3_close(other);
        assert_rows(f->path, 20);
}

/* A child commits `committed` rows, then dies (_exit, no close) in the middle of a
 * transaction whose frames are gathered or already written, or right after a commit. */
static void die_after(const char *path, int committed, bool open_transaction)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                sqlite3 *db;
                if (sqlite3_open(path, &db) != SQLITE_OK)
                        _exit(2);
                sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
                insert_rows(db, 1000, committed, true);
                if (open_transaction)
                        insert_rows(db, 5000, 30, false); /* ~90 KB gathered, ~30 KB more written */
                _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_a_process_that_dies_loses_no_commit(void **state)
{
        struct gather_fixture *f = *state;
        insert_rows(f->db, 1, 5, true);
        sqlite3_close(f->db);
        f->db = NULL;
        die_after(f->path, 7, true);
        assert_rows(f->path, 12);
        die_after(f->path, 0, true); /* nothing committed, a transaction open */
        assert_rows(f->path, 12);
        /* committed, then gone without a close: the commit is there */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                sqlite3 *db;
                if (sqlite3_open(f->path, &db) != SQLITE_OK)
                        _exit(2);
                insert_rows(db, 2000, 3, true);
                _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_rows(f->path, 15);
        open_store_like(f->path, &f->db);
}

/* Which writes a full disk refuses (exec_disk_full). */
enum full_disk {
        FULL_NONE,
        FULL_ALL,
        FULL_PAGES,     /* writes of exactly a page: not a frame's 24-byte header */
        FULL_AT_SECTOR, /* writes that begin at a sector boundary and are not a header: the rest
                         * of a frame split at a commit's sync point */
};
static enum full_disk full;
static sqlite3_syscall_ptr real_pwrite;

/* pwrite as the unix VFS calls it, failing with ENOSPC as full says */
static ssize_t full_pwrite(int fd, const void *buf, size_t n, off_t off)
{
        if (full == FULL_ALL || (full == FULL_PAGES && n == 4096) ||
            (full == FULL_AT_SECTOR && off > 0 && off % 4096 == 0 && n != 24)) {
                errno = ENOSPC;
                return -1;
        }
        return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite)(fd, buf, n, off);
}

/* Runs sql on db while the disk refuses the writes which names (through SQLite's own
 * table of system calls, under the shim); returns SQLite's answer. */
static int exec_disk_full(sqlite3 *db, const char *sql, enum full_disk which)
{
        sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
        real_pwrite = vfs->xGetSystemCall(vfs, "pwrite64");
        assert_non_null(real_pwrite);
        assert_int_equal(vfs->xSetSystemCall(vfs, "pwrite64", (sqlite3_syscall_ptr)full_pwrite), SQLITE_OK);
        full = which;
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        full = FULL_NONE;
        assert_int_equal(vfs->xSetSystemCall(vfs, "pwrite64", real_pwrite), SQLITE_OK);
        return rc;
}

static int integrity(const char *path)
{
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *st;
        int ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
                 sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
        sqlite3_finalize(st);
        sqlite3_close(db);
        return ok;
}

static void test_a_lost_write_never_commits(void **state)
{
        struct gather_fixture *f = *state;
        insert_rows(f->db, 1, 2, true);
        assert_int_equal(sqlite3_exec(f->db, "CREATE TABLE u (x BLOB UNIQUE)", NULL, NULL, NULL), SQLITE_OK);
        /* a small page cache: the batch's pages go to the log before its COMMIT (gathered) */
        assert_int_equal(sqlite3_exec(f->db, "PRAGMA cache_size = 8", NULL, NULL, NULL), SQLITE_OK);
        insert_rows(f->db, 100, 12, false);
        /* the disk fills; a statement reads the spilled pages back, so they must go out first */
        assert_int_not_equal(exec_disk_full(f->db, "INSERT INTO u (x) SELECT body FROM t", FULL_ALL), SQLITE_OK);
        /* whatever the request that wrote next does, and the COMMIT after it, the rows
         * whose frames were lost never become a transaction that committed */
        if (!sqlite3_get_autocommit(f->db)) {
                sqlite3_exec(f->db, "INSERT INTO t (id, body) VALUES (999, zeroblob(10))", NULL, NULL, NULL);
                assert_int_not_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
                if (!sqlite3_get_autocommit(f->db))
                        assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        }
        assert_true(integrity(f->path));
        assert_rows(f->path, 2);
        /* and the next transaction commits as usual */
        insert_rows(f->db, 200, 3, true);
        assert_rows(f->path, 5);
}

static void test_a_rollback_leaves_nothing_to_write_later(void **state)
{
        struct gather_fixture *f = *state;
        insert_rows(f->db, 1, 3, true);
        int log = 0, copied = 0;
        /* the whole log in the database: the next transaction reads page 1 from the database
         * file, so a ROLLBACK need not read the log (which would write what is gathered) */
        assert_int_equal(sqlite3_wal_checkpoint_v2(f->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied), SQLITE_OK);
        assert_int_equal(sqlite3_exec(f->db, "PRAGMA cache_size = 8", NULL, NULL, NULL), SQLITE_OK);
        insert_rows(f->db, 100, 12, false);
        assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        /* another writer, on the plain unix VFS (an operator's sqlite3), writes the log */
        sqlite3 *other;
        assert_int_equal(sqlite3_open_v2(f->path, &other, SQLITE_OPEN_READWRITE, "unix"), SQLITE_OK);
        insert_rows(other, 500, 4, true);
        sqlite3_close(other);
        /* this connection's next write and commit find a sound log */
        insert_rows(f->db, 600, 2, true);
        sqlite3_close(f->db);
        f->db = NULL;
        assert_true(integrity(f->path));
        assert_rows(f->path, 9);
        open_store_like(f->path, &f->db);
}

/* The second review's: with synchronous = NORMAL there is no sync at a commit, so a
 * commit whose frame header went straight to the file (the connection's first write
 * to a log others wrote) and whose page was gathered must write that page at its own
 * write, or the commit is published without it. The page's write fails: the commit
 * must fail, and what others see must be what this connection was told. */
/* A's update was refused on a full disk: A hears it, and the store is as it was (row 1). */
static void assert_refused_and_unchanged(struct gather_fixture *f, sqlite3 *a, int rc)
{
        assert_int_not_equal(rc, SQLITE_OK);
        if (!sqlite3_get_autocommit(a))
                sqlite3_exec(a, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(a);
        assert_true(integrity(f->path));
        assert_rows(f->path, 1); /* the row as it was: its body is still its id's bytes */
}

static void test_a_commit_without_sync_fails_with_its_page(void **state)
{
        struct gather_fixture *f = *state;
        insert_rows(f->db, 1, 1, true);
        sqlite3 *a;
        open_store_like(f->path, &a);
        assert_int_equal(sqlite3_exec(a, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL), SQLITE_OK);
        assert_refused_and_unchanged(f, a, exec_disk_full(a, "UPDATE t SET body = zeroblob(3000) WHERE id = 1",
                                                          FULL_PAGES));
}

/* In exclusive locking mode SQLite takes no wal-index locks, so the end of a
 * transaction is never heard: nothing is gathered there, and one failed write
 * does not fail every later statement. */
static void test_exclusive_mode_is_not_gathered(void **state)
{
        struct gather_fixture *f = *state;
        assert_int_equal(sqlite3_exec(f->db, "PRAGMA locking_mode = EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
        insert_rows(f->db, 1, 2, true);
        struct dawn_wal_gather_counts before, after;
        dawn_wal_gather_counts(&before);
        insert_rows(f->db, 3, 3, true);
        dawn_wal_gather_counts(&after);
        assert_int_equal(after.written - before.written, after.asked - before.asked); /* each went through */
        assert_int_not_equal(exec_disk_full(f->db, "INSERT INTO t (id, body) VALUES (50, zeroblob(3000))", FULL_ALL),
                             SQLITE_OK);
        if (!sqlite3_get_autocommit(f->db))
                sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
        /* the disk has room again: the next write works on the same connection */
        insert_rows(f->db, 60, 1, true);
        assert_int_equal(query_int(f->db, "SELECT count(*) FROM t"), 6);
}

/* The third review's: with power-safe overwrite off (psow=0 in the URI), SQLite pads
 * a commit with copies of its frame up to a sector boundary and splits the write
 * that crosses it. The part after the commit frame's page must go straight to the
 * file, where its failure fails the commit, not wait for the barrier, which cannot
 * report one. */
static void test_a_padded_commit_fails_with_its_padding(void **state)
{
        struct gather_fixture *f = *state;
        char uri[128];
        snprintf(uri, sizeof(uri), "file:%s?psow=0", f->path);
        sqlite3 *a;
        assert_int_equal(sqlite3_open_v2(uri, &a, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(a, "PRAGMA synchronous = FULL", NULL, NULL, NULL), SQLITE_OK);
        insert_rows(a, 1, 1, true);
        assert_refused_and_unchanged(f, a, exec_disk_full(a, "UPDATE t SET body = zeroblob(3000) WHERE id = 1",
                                                          FULL_AT_SECTOR));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_a_commit_is_one_write, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_large_commit_is_whole, setup, teardown),
                cmocka_unit_test_setup_teardown(test_another_connection_sees_each_commit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_process_that_dies_loses_no_commit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_lost_write_never_commits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_rollback_leaves_nothing_to_write_later, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_commit_without_sync_fails_with_its_page, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exclusive_mode_is_not_gathered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_padded_commit_fails_with_its_padding, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
