/* Tests for daemon/store/commit.c, the one write path, against a real store
 * (SQLite in a temporary directory) and a real sd-event loop.
 *
 * Every test checks the one promise that matters: what a ticket's owner is
 * told is the truth. A ticket answered 0 means its write is in the store; a
 * ticket answered with an error means it is not. That holds for the 512th
 * write of a full batch too (issue 10, item 2: it used to be answered "ok"
 * before its batch's commit, which then failed), and when the commit fails
 * with SQLITE_FULL, SQLITE_BUSY or SQLITE_IOERR (injected by the store's test
 * hook), or when a write fills the database so that SQLite rolls the whole
 * batch back by itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "store.h"

#define UNUSED __attribute__((unused))
#define NOT_ANSWERED 1

/* One client that wrote and waits for its answer. */
struct owner {
        struct dawn_ticket ticket;
        char ref[32];   /* the audit row it wrote: detail = ref */
        int answer;     /* NOT_ANSWERED until its ticket is answered */
        int answers;    /* how many times: exactly once, or never when cancelled */
        int wrote;      /* what dawn_commit_end returned */
};

struct fixture {
        char dir[64];
        char path[96];
        sd_event *loop;
        struct dawn_store *store;
        struct dawn_commit *commit;
        int fatal_calls, fatal_r;
        int hook_calls;
};

static void on_fatal(int r, void *userdata)
{
        struct fixture *f = userdata;
        f->fatal_calls++;
        f->fatal_r = r;
}

static void on_write_hook(void *userdata)
{
        struct fixture *f = userdata;
        f->hook_calls++;
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/dawn-commit-test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/dawn.db", f->dir);
        assert_int_equal(sd_event_new(&f->loop), 0);
        assert_int_equal(dawn_store_open(f->path, &f->store), 0);
        assert_int_equal(dawn_commit_new(f->loop, f->store, on_fatal, f, &f->commit), 0);
        assert_int_equal(dawn_commit_on_write(f->commit, on_write_hook, f), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        f->commit = dawn_commit_free(f->commit);
        f->store = dawn_store_close(f->store);
        sd_event_unref(f->loop);
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

/* Turns the loop until nothing is left to do (bounded). */
static void run_loop(struct fixture *f)
{
        for (int i = 0; i < 100; i++)
                if (sd_event_run(f->loop, 0) <= 0)
                        return;
        fail_msg("the loop kept finding work");
}

static void answered(int r, void *userdata)
{
        struct owner *o = userdata;
        o->answer = r;
        o->answers++;
}

/* One write as a way in makes it: begin, work, end, take a ticket. The work
 * is an audit row; detail_size pads it (to fill a limited database). */
static void write_one(struct fixture *f, struct owner *o, int i, size_t detail_size, bool fail_work)
{
        memset(o, 0, sizeof(*o));
        snprintf(o->ref, sizeof(o->ref), "write-%d", i);
        o->answer = NOT_ANSWERED;
        int r = dawn_commit_begin(f->commit);
        if (r == 0) {
                char *detail = NULL;
                if (detail_size) {
                        detail = malloc(detail_size + 1);
                        memset(detail, 'x', detail_size);
                        detail[detail_size] = '\0';
                }
                int w = dawn_store_audit(f->store, "test", o->ref, NULL, detail ? detail : o->ref, 0);
                free(detail);
                r = dawn_commit_end(f->commit, fail_work ? -EINVAL : w);
        }
        o->wrote = r;
        dawn_commit_ticket(f->commit, &o->ticket, answered, o);
}

static bool stored(struct fixture *f, const struct owner *o)
{
        sqlite3 *db;
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit WHERE action = ?", -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, o->ref, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n > 0;
}

/* The promise: answered once, and 0 exactly when the write is in the store. */
static void assert_truthful(struct fixture *f, struct owner *o, int n)
{
        for (int i = 0; i < n; i++) {
                if (o[i].answers != 1)
                        fail_msg("write %d was answered %d times", i, o[i].answers);
                bool in_store = stored(f, &o[i]);
                if ((o[i].answer == 0) != in_store)
                        fail_msg("write %d was told %d but is %sin the store", i, o[i].answer, in_store ? "" : "not ");
        }
}

static void test_answers_wait_for_the_commit(void **state)
{
        struct fixture *f = *state;
        struct owner o[3];
        for (int i = 0; i < 3; i++)
                write_one(f, &o[i], i, 0, false);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(o[i].wrote, 0);
                assert_int_equal(o[i].answer, NOT_ANSWERED); /* not before the COMMIT */
                assert_false(stored(f, &o[i]));
        }
        assert_true(dawn_commit_is_open(f->commit));
        run_loop(f);
        assert_false(dawn_commit_is_open(f->commit));
        for (int i = 0; i < 3; i++)
                assert_int_equal(o[i].answer, 0);
        assert_truthful(f, o, 3);
        assert_int_equal(f->hook_calls, 1); /* once per batch, not per write */
        assert_int_equal(f->fatal_calls, 0);
}

static void test_a_refused_write_leaves_the_others(void **state)
{
        struct fixture *f = *state;
        struct owner o[3];
        write_one(f, &o[0], 0, 0, false);
        write_one(f, &o[1], 1, 0, true);
        write_one(f, &o[2], 2, 0, false);
        assert_int_equal(o[1].wrote, -EINVAL);
        run_loop(f);
        assert_true(stored(f, &o[0]));
        assert_false(stored(f, &o[1]));
        assert_true(stored(f, &o[2]));
        /* the batch committed: the refused write's owner answers with its own refusal */
        assert_int_equal(o[1].answer, 0);
}

/* The full batch commits at the next turn, after its last writer took its
 * ticket, never inside dawn_commit_end(). */
static void full_batch(void **state, int error, int expect)
{
        struct fixture *f = *state;
        enum { N = DAWN_COMMIT_BATCH_MAX };
        struct owner *o = calloc(N, sizeof(*o));
        for (int i = 0; i < N; i++) {
                write_one(f, &o[i], i, 0, false);
                /* every one, the 512th included, is still waiting right after its write */
                assert_true(dawn_commit_is_open(f->commit));
                assert_int_equal(o[i].answer, NOT_ANSWERED);
        }
        if (error)
                dawn_store_fail_next_commit(f->store, error);
        /* one turn is enough: the full batch does not wait for the loop to go idle */
        assert_true(sd_event_run(f->loop, 0) > 0);
        assert_false(dawn_commit_is_open(f->commit));
        for (int i = 0; i < N; i++)
                if (o[i].answer != expect)
                        fail_msg("write %d of %d was told %d, not %d", i + 1, N, o[i].answer, expect);
        run_loop(f);
        assert_truthful(f, o, N);
        assert_int_equal(f->hook_calls, expect == 0 ? 1 : 0);
        /* a full disk or a busy database is a temporary refusal; an I/O error stops dawnd */
        assert_int_equal(f->fatal_calls, expect == -EIO ? 1 : 0);
        free(o);

        /* and the next batch works */
        struct owner next;
        write_one(f, &next, N, 0, false);
        run_loop(f);
        assert_int_equal(next.answer, 0);
        assert_truthful(f, &next, 1);
}

static void test_full_batch_commits(void **state)
{
        full_batch(state, 0, 0);
}

static void test_full_batch_disk_full(void **state)
{
        full_batch(state, -ENOSPC, -ENOSPC);
}

static void test_full_batch_busy(void **state)
{
        full_batch(state, -EBUSY, -EBUSY);
}

static void test_full_batch_io_error(void **state)
{
        full_batch(state, -EIO, -EIO);
}

/* A write that does not fit: SQLite fails it with SQLITE_FULL and may roll
 * back the whole transaction by itself. Whatever it did, every owner is
 * told the truth, and the writes after it in the same turn are refused
 * rather than slipped into a batch their owners' tickets do not know. */
static void test_database_fills_mid_batch(void **state)
{
        struct fixture *f = *state;
        enum { N = 40 };
        struct owner o[N];
        assert_int_equal(dawn_store_limit_growth(f->store, 24), 0);
        for (int i = 0; i < N; i++)
                write_one(f, &o[i], i, 4000, false);
        bool some_failed = false;
        for (int i = 0; i < N; i++)
                some_failed |= o[i].wrote == -ENOSPC;
        assert_true(some_failed);
        run_loop(f);
        assert_truthful(f, o, N);
        assert_int_equal(f->fatal_calls, 0);
        /* and after it, writes that fit are taken again */
        assert_int_equal(dawn_store_limit_growth(f->store, 10000), 0);
        struct owner next;
        write_one(f, &next, N, 0, false);
        run_loop(f);
        assert_int_equal(next.answer, 0);
        assert_truthful(f, &next, 1);
}

static void test_cancelled_ticket(void **state)
{
        struct fixture *f = *state;
        struct owner o[2];
        write_one(f, &o[0], 0, 0, false);
        write_one(f, &o[1], 1, 0, false);
        /* the client hung up: its answer is dropped, what it wrote still commits */
        dawn_ticket_cancel(&o[0].ticket);
        dawn_ticket_cancel(&o[0].ticket); /* twice is harmless */
        run_loop(f);
        assert_int_equal(o[0].answers, 0);
        assert_true(stored(f, &o[0]));
        assert_int_equal(o[1].answer, 0);
}

/* An owner answered first may cancel another's ticket in the same batch. */
struct canceller {
        struct dawn_ticket ticket;
        struct owner *victim;
};

static void cancel_other(int r, void *userdata)
{
        struct canceller *c = userdata;
        dawn_ticket_cancel(&c->victim->ticket);
}

static void test_answer_cancels_another(void **state)
{
        struct fixture *f = *state;
        struct owner o[2];
        struct canceller c = { .victim = &o[1] };
        write_one(f, &o[0], 0, 0, false);
        dawn_commit_ticket(f->commit, &c.ticket, cancel_other, &c);
        write_one(f, &o[1], 1, 0, false);
        run_loop(f);
        assert_int_equal(o[0].answers, 1);
        assert_int_equal(o[1].answers, 0);
}

static void test_ticket_without_batch(void **state)
{
        struct fixture *f = *state;
        struct owner o = { .answer = NOT_ANSWERED };
        assert_false(dawn_commit_is_open(f->commit));
        dawn_commit_ticket(f->commit, &o.ticket, answered, &o);
        /* never from inside the call that registers it */
        assert_int_equal(o.answers, 0);
        run_loop(f);
        assert_int_equal(o.answers, 1);
        assert_int_equal(o.answer, 0);
        assert_int_equal(f->hook_calls, 0); /* nothing was written */
}

static void test_free_answers_everyone(void **state)
{
        struct fixture *f = *state;
        struct owner o;
        write_one(f, &o, 0, 0, false);
        /* shutdown: the loop will not turn again, the batch commits and its owner hears it now */
        f->commit = dawn_commit_free(f->commit);
        assert_int_equal(o.answers, 1);
        assert_int_equal(o.answer, 0);
        assert_truthful(f, &o, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_answers_wait_for_the_commit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_refused_write_leaves_the_others, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_batch_commits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_batch_disk_full, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_batch_busy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_batch_io_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_database_fills_mid_batch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancelled_ticket, setup, teardown),
                cmocka_unit_test_setup_teardown(test_answer_cancels_another, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ticket_without_batch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_answers_everyone, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
