/* Outbox history does not slow anything down (issue 12): the counts that
 * `dawnctl status`, /metrics and STATUS= show per (channel, state) are right
 * after every kind of change (a delivery that ends, a receipt that moves it,
 * an opt-out, expiry, a crash's requeue, a rolled-back write, retention
 * pruning, a restart), and reading them costs the same with 200,000 delivered
 * rows in the store as with none. Cost is counted in SQLite VM steps, not in
 * time: a full pass over the history would be hundreds of thousands. */
#include "dawn_test.h"
#include "dawn_test_store.h"

#include <cJSON.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alert.h"
#include "model.h"
#include "store.h"

#define HISTORY 100000
#define NOW 1900000000000000LL
#define DAY (86400LL * 1000000)
/* the status queries read only what is live (a dozen rows here): a bound far under one
 * pass over HISTORY rows, and far over what reading the live rows takes */
#define STATUS_STEPS_MAX 1000

/* What the counts were before (a GROUP BY over the whole outbox), in the same shape;
 * *steps what that query cost. */
static char *reference(struct fixture *f, int *steps)
{
        cJSON *o = cJSON_CreateObject();
        char *rows = sql_rows(f, "SELECT channel, state, count(*) FROM outbox GROUP BY channel, state"
                                 " ORDER BY channel, state", steps);
        char *save = NULL;
        for (char *line = strtok_r(rows, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *channel = strtok(line, "|"), *state = strtok(NULL, "|"), *n = strtok(NULL, "|");
                cJSON *c = cJSON_GetObjectItemCaseSensitive(o, channel);
                if (!c)
                        c = cJSON_AddObjectToObject(o, channel);
                cJSON_AddNumberToObject(c, state, (double)strtoll(n, NULL, 10));
        }
        free(rows);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return text;
}

static char *counts(struct fixture *f)
{
        cJSON *o = cJSON_CreateObject();
        assert_int_equal(dawn_store_queue_counts(f->s, o), 0);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return text;
}

static void assert_counts_right(struct fixture *f, const char *when)
{
        char *want = reference(f, NULL), *got = counts(f);
        if (strcmp(want, got) != 0)
                fail_msg("%s: counts %s, the outbox holds %s", when, got, want);
        int64_t waiting = sql_int(f, "SELECT count(*) FROM outbox WHERE state IN ('pending', 'retrying')");
        assert_int_equal(dawn_store_count_waiting(f->s), waiting);
        free(want);
        free(got);
}

/* What one status, STATUS= and /metrics scrape, and one dispatch turn, cost the store. */
static uint64_t status_steps(struct fixture *f)
{
        uint64_t before = dawn_store_vm_steps(f->s);
        free(counts(f));
        assert_true(dawn_store_count_waiting(f->s) >= 0);
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                assert_true(dawn_store_oldest_waiting(f->s, (enum dawn_channel_kind)k) >= 0);
                assert_true(dawn_store_next_due(f->s, (enum dawn_channel_kind)k) >= 0);
        }
        return dawn_store_vm_steps(f->s) - before;
}

static const char *const channels[] = { "mqtt", "sms", "email" };

/* Rows written behind the store's back, as the fill functions do, are not in
 * the counts a clean close saved: forgetting those is what a crash does, and
 * the next open counts from the outbox. */
static void forget_saved_counts(struct fixture *f)
{
        sql(f, "DELETE FROM outbox_ended_saved");
}

/* history: 200,000 ended deliveries of active alert A1 (mostly delivered, some failed,
 * sent, superseded) */
static void fill_history(struct fixture *f)
{
        char q[1024];
        snprintf(q, sizeof(q),
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
                 " INSERT INTO outbox (id, alert_id, revision, subscriber, channel, recipient, action, state,"
                 " created_at, updated_at) SELECT i, 'A1', 1, 's' || i,"
                 " CASE i %% 3 WHEN 0 THEN 'mqtt' WHEN 1 THEN 'sms' ELSE 'email' END, 'r' || i, 'publish',"
                 " CASE WHEN i %% 97 = 0 THEN 'failed' WHEN i %% 89 = 1 THEN 'sent' WHEN i %% 83 = 2"
                 " THEN 'superseded' ELSE 'delivered' END, %lld, %lld FROM n",
                 HISTORY, NOW - DAY, NOW - DAY);
        sql(f, "BEGIN");
        sql(f, "%s", q);
        sql(f, "COMMIT");
        forget_saved_counts(f);
}

/* the alerts; a few live deliveries; and A2, ended 100 days ago, with 4 ended ones */
static void fill_live(struct fixture *f)
{
        char q[2048];
        sql(f, "BEGIN");
        snprintf(q, sizeof(q),
                 "INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at, updated_at,"
                 " expires_at, json) VALUES ('A1', 1, 'f1', 'active', 'confirmed', 1, %lld, %lld, %lld, '{}'),"
                 " ('A2', 2, 'f2', 'expired', 'confirmed', 1, %lld, %lld, 0, '{}')",
                 NOW - DAY, NOW - DAY, NOW + DAY, NOW - 100 * DAY, NOW - 100 * DAY);
        sql(f, "%s", q);
        /* 1000001-1000003 sms pending to one number, 1000004-5 mqtt retrying,
         * 1000006-7 email in flight (a crash left them), 1000008 email pending */
        snprintf(q, sizeof(q),
                 "INSERT INTO outbox (id, alert_id, revision, subscriber, channel, recipient, action, state,"
                 " created_at, updated_at) VALUES"
                 " (1000001, 'A1', 1, 'p1', 'sms', '+447700900001', 'publish', 'pending', %1$lld, %1$lld),"
                 " (1000002, 'A1', 1, 'p2', 'sms', '+447700900001', 'publish', 'pending', %1$lld, %1$lld),"
                 " (1000003, 'A1', 1, 'p3', 'sms', '+447700900001', 'publish', 'pending', %1$lld, %1$lld),"
                 " (1000004, 'A1', 1, 'p4', 'mqtt', 'dawn/a', 'publish', 'retrying', %1$lld, %1$lld),"
                 " (1000005, 'A1', 1, 'p5', 'mqtt', 'dawn/b', 'publish', 'retrying', %1$lld, %1$lld),"
                 " (1000006, 'A1', 1, 'p6', 'email', 'a@x', 'publish', 'in-flight', %1$lld, %1$lld),"
                 " (1000007, 'A1', 1, 'p7', 'email', 'b@x', 'publish', 'in-flight', %1$lld, %1$lld),"
                 " (1000008, 'A1', 1, 'p8', 'email', 'c@x', 'publish', 'pending', %1$lld, %1$lld),"
                 " (2000001, 'A2', 1, 'q1', 'sms', '+447700900002', 'publish', 'delivered', %2$lld, %2$lld),"
                 " (2000002, 'A2', 1, 'q2', 'sms', '+447700900003', 'publish', 'delivered', %2$lld, %2$lld),"
                 " (2000003, 'A2', 1, 'q3', 'sms', '+447700900004', 'publish', 'sent', %2$lld, %2$lld),"
                 " (2000004, 'A2', 1, 'q4', 'email', 'd@x', 'publish', 'failed', %2$lld, %2$lld)",
                 NOW - DAY, NOW - 100 * DAY);
        sql(f, "%s", q);
        sql(f, "COMMIT");
        forget_saved_counts(f);
}

static void fill(struct fixture *f)
{
        fill_live(f);
        fill_history(f);
}

/* what the old queries (a GROUP BY over the outbox, a count of what waits that read
 * outbox_by_state whole) cost on the second connection */
static int old_steps(struct fixture *f)
{
        int steps = 0;
        free(reference(f, &steps));
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT count(*) FROM outbox WHERE state IN ('pending', 'retrying')",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        steps += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
        sqlite3_finalize(st);
        return steps;
}

static void test_status_reads_no_history(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY(f); /* SQLite VM steps */
        /* the live deliveries alone: what status costs with no history */
        fill_live(f);
        assert_int_equal(fixture_open(f, &f->s), 0);
        status_steps(f); /* the first call prepares */
        uint64_t live = status_steps(f);
        assert_counts_right(f, "live deliveries only");
        f->s = dawn_store_close(f->s);
        int old_live = old_steps(f);

        fill_history(f);
        int old_full = old_steps(f);
        assert_int_equal(fixture_open(f, &f->s), 0);
        assert_counts_right(f, "opened on history");
        status_steps(f);
        uint64_t full = status_steps(f);
        print_message("status, STATUS=, /metrics and next-due queries: %llu VM steps with 12 deliveries,"
                      " %llu with %d more ended ones (the old counting queries alone: %d and %d)\n",
                      (unsigned long long)live, (unsigned long long)full, HISTORY, old_live, old_full);
        assert_true(full < STATUS_STEPS_MAX);
        /* history adds only rows of counts, about 20 steps each: at most one per channel
         * and ended state (3 x 5), whatever the number of deliveries */
        assert_true(full < live + 400);
        assert_true(old_full > HISTORY); /* the bound means something */

        /* the start-up requeue reads what is in flight, not history */
        uint64_t before = dawn_store_vm_steps(f->s);
        assert_int_equal(dawn_store_requeue_inflight(f->s, NOW), 2);
        uint64_t requeue = dawn_store_vm_steps(f->s) - before;
        print_message("requeue of 2 in-flight deliveries: %llu VM steps\n", (unsigned long long)requeue);
        assert_true(requeue < STATUS_STEPS_MAX);
        assert_counts_right(f, "requeued");
}

static void test_counts_follow_every_change(void **state)
{
        struct fixture *f = *state;
        fill(f);
        assert_int_equal(fixture_open(f, &f->s), 0);
        assert_counts_right(f, "opened on history");

        /* a text goes out, the gateway takes it, its receipt says delivered; an
         * older delivered one's receipt says failed after all */
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_delivery_started(f->s, 1000001, NOW), 0);
        assert_true(dawn_store_delivery_finished(f->s, 1000001, DAWN_DELIVERY_SENT, NULL, 0, NOW) >= 0);
        assert_int_equal(dawn_store_delivery_move(f->s, 1000001, DAWN_DELIVERY_SENT, DAWN_DELIVERY_DELIVERED, NULL, 0,
                                                  NOW),
                         1);
        assert_int_equal(dawn_store_delivery_move(f->s, 3, DAWN_DELIVERY_DELIVERED, DAWN_DELIVERY_FAILED,
                                                  "receipt: failed", 0, NOW),
                         1);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_counts_right(f, "sent, delivered, failed by receipt");

        /* the number replies STOP: what still waits for it is opted-out */
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_set_opt_out(f->s, "+447700900001", true, "notify", NOW), 1);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_counts_right(f, "opted out");
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE state = 'opted-out'"), 2);

        /* mqtt's waiting ones outlive their lifetime; a crash's in-flight ones go back */
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_fail_expired(f->s, DAWN_CHANNEL_MQTT, NOW, "too old", NOW), 2);
        assert_int_equal(dawn_store_requeue_inflight(f->s, NOW), 2);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_counts_right(f, "expired and requeued");

        /* a write that does not commit leaves the counts as they were */
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_delivery_started(f->s, 1000008, NOW), 0);
        assert_true(dawn_store_delivery_finished(f->s, 1000008, DAWN_DELIVERY_DELIVERED, NULL, 0, NOW) >= 0);
        dawn_store_fail_next_commit(f->s, -ENOSPC);
        assert_true(dawn_store_commit(f->s) < 0);
        assert_counts_right(f, "rolled back");

        /* a request's savepoint: what it rolls back goes, what it releases stays */
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_savepoint(f->s), 0);
        assert_int_equal(dawn_store_delivery_started(f->s, 1000008, NOW), 0);
        assert_true(dawn_store_delivery_finished(f->s, 1000008, DAWN_DELIVERY_FAILED, "x", 0, NOW) >= 0);
        dawn_store_rollback_to_savepoint(f->s);
        assert_int_equal(dawn_store_savepoint(f->s), 0);
        assert_int_equal(dawn_store_delivery_move(f->s, 5, DAWN_DELIVERY_DELIVERED, DAWN_DELIVERY_FAILED, NULL, 0, NOW),
                         1);
        assert_int_equal(dawn_store_release(f->s), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_counts_right(f, "savepoints");

        /* a new revision supersedes what still waits */
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_supersede_deliveries(f->s, "A1", 2, NOW), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_counts_right(f, "superseded");
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE id >= 1000000 AND state = 'superseded'"), 3);

        /* retention prunes A2: its deliveries leave the outbox and the counts, as a
         * GROUP BY over the outbox showed before (delivery_totals keeps them per alert) */
        assert_int_equal(dawn_store_begin(f->s), 0);
        struct dawn_prune_counts c;
        memset(&c, 0, sizeof(c));
        assert_int_equal(dawn_store_prune_step(f->s, NOW - 90 * DAY, DAWN_PRUNE_BATCH_MAX, "dawnd (retention)", NOW, &c),
                         0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_int_equal(c.deliveries, 4);
        assert_counts_right(f, "pruned");

        /* a clean close saves the counts and the next open reads them: they agree (on
         * PostgreSQL, where several nodes change the outbox, they are read from it when
         * asked for, and nothing is saved) */
        f->s = dawn_store_close(f->s);
        if (!f->pg)
                assert_true(sql_int(f, "SELECT count(*) FROM outbox_ended_saved") > 0);
        assert_int_equal(fixture_open(f, &f->s), 0);
        assert_counts_right(f, "reopened after a clean close");
        /* taken, so that a crash from now on cannot leave them behind stale */
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox_ended_saved"), 0);

        /* a crash: a child process opens the store, records a receipt (delivery 7 failed
         * after all), commits, and dies without closing it. The next open finds no saved
         * counts and counts again. */
        f->s = dawn_store_close(f->s);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                struct dawn_store *s = NULL;
                if (fixture_open(f, &s) < 0 || dawn_store_begin(s) < 0 ||
                    dawn_store_delivery_move(s, 7, DAWN_DELIVERY_DELIVERED, DAWN_DELIVERY_FAILED, "receipt: failed", 0,
                                             NOW) != 1 ||
                    dawn_store_commit(s) < 0)
                        _exit(1);
                _exit(0); /* no close: as kill -9 */
        }
        int status = 0;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox_ended_saved"), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE id = 7 AND state = 'failed'"), 1);
        assert_int_equal(fixture_open(f, &f->s), 0);
        assert_counts_right(f, "reopened after a crash");
}

/* A backlog does not slow each dispatch down either: the due deliveries come out
 * professional first, then public texts, each in (next_at, id) order, and taking
 * the first few of 20,000 due reads those few, not the whole backlog (the query
 * used to read and sort every due row for each 256 it returned). */
#define BACKLOG 20000
#define DUE_LIMIT 16
static void test_dispatch_reads_no_backlog(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY(f); /* SQLite VM steps */
        char q[1024];
        sql(f, "BEGIN");
        sql(f, "INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at, updated_at, json)"
               " VALUES ('A1', 1, 'f1', 'active', 'warning', 1, 0, 0, '{}')");
        sql(f, "INSERT INTO revisions (alert_id, revision, created_at, json) VALUES ('A1', 1, 0, '{}')");
        /* every third one a public text; next_at counts down, so id order is not next_at order */
        snprintf(q, sizeof(q),
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
                 " INSERT INTO outbox (id, alert_id, revision, subscriber, channel, recipient, action, state,"
                 " next_at, created_at, updated_at, purpose) SELECT 3000000 + i, 'A1', 1, 'b' || i, 'mqtt', 'dawn/b' || i,"
                 " 'publish', 'pending', %lld - i, %lld, %lld, CASE WHEN i %% 3 = 0 THEN 'public' ELSE 'alert' END FROM n",
                 BACKLOG, NOW, NOW - DAY, NOW - DAY);
        sql(f, "%s", q);
        sql(f, "COMMIT");
        assert_int_equal(fixture_open(f, &f->s), 0);

        struct dawn_outbox_row rows[DUE_LIMIT];
        /* the first call prepares the statements */
        assert_int_equal(dawn_store_due_deliveries(f->s, DAWN_CHANNEL_MQTT, NOW, rows, DUE_LIMIT), DUE_LIMIT);
        for (int i = 0; i < DUE_LIMIT; i++)
                dawn_outbox_row_clear(&rows[i]);
        uint64_t before = dawn_store_vm_steps(f->s);
        int n = dawn_store_due_deliveries(f->s, DAWN_CHANNEL_MQTT, NOW, rows, DUE_LIMIT);
        uint64_t steps = dawn_store_vm_steps(f->s) - before;
        assert_int_equal(n, DUE_LIMIT);
        print_message("the first %d of %d due deliveries: %llu VM steps\n", DUE_LIMIT, BACKLOG,
                      (unsigned long long)steps);
        /* a few dozen steps a row; reading the backlog would be tens of thousands */
        assert_true(steps < 100 * DUE_LIMIT);
        /* the oldest-due professional ones: the highest ids, skipping every third */
        int64_t want = 3000000 + BACKLOG;
        for (int i = 0; i < n; i++) {
                while ((want - 3000000) % 3 == 0)
                        want--;
                assert_int_equal(rows[i].id, want);
                assert_string_equal(rows[i].purpose, "alert");
                want--;
                dawn_outbox_row_clear(&rows[i]);
        }
        /* with the professional ones out of the way, the public texts, in the same order */
        sql(f, "UPDATE outbox SET state = 'delivered' WHERE id >= 3000000 AND purpose = 'alert'");
        n = dawn_store_due_deliveries(f->s, DAWN_CHANNEL_MQTT, NOW, rows, DUE_LIMIT);
        assert_int_equal(n, DUE_LIMIT);
        want = 3000000 + BACKLOG - BACKLOG % 3;
        for (int i = 0; i < n; i++, want -= 3) {
                assert_int_equal(rows[i].id, want);
                assert_string_equal(rows[i].purpose, "public");
                dawn_outbox_row_clear(&rows[i]);
        }
}

/* SQLite's memory at its highest since the last call (the process's, both
 * connections), above what it used at that call. */
static int64_t sqlite_peak_since(int64_t *base)
{
        sqlite3_int64 cur = 0, hi = 0;
        assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &hi, 1), SQLITE_OK);
        int64_t peak = hi - *base;
        *base = cur;
        return peak;
}

/* A pass over the whole history must not hold it in memory: the page cache
 * (1 MiB) and a little more, never a row per delivery. With HISTORY rows in
 * memory the peak is about 5 MiB and more. */
#define HISTORY_PASS_MEMORY_MAX (3 * 1024 * 1024)

/* The open after a crash counts the ended deliveries from the outbox: one pass,
 * in constant memory, however long the history (issue 12 review: without an
 * index in (channel, state) order, GROUP BY sorted every delivery ever made,
 * and with temp_store = MEMORY that sort never spilled to disk). */
static void test_open_after_crash_counts_in_little_memory(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY(f); /* SQLite's own memory */
        fill(f); /* written behind the store's back, no counts saved: as after a crash */
        int64_t base = 0;
        sqlite_peak_since(&base);
        assert_int_equal(fixture_open(f, &f->s), 0);
        int64_t peak = sqlite_peak_since(&base);
        print_message("open after a crash, %d ended deliveries: %lld KiB at most\n", HISTORY,
                      (long long)peak / 1024);
        assert_counts_right(f, "opened after a crash");
        assert_true(peak < HISTORY_PASS_MEMORY_MAX);
}

/* What retention would remove, previewed (dawnctl prune --dry-run, and each run's
 * first look) over HISTORY deliveries of an alert that ended long ago: counted
 * in constant memory (a sort that can spill to a temporary file), not with
 * every delivery in memory (issue 12 review: temp_store = MEMORY). */
static void test_prune_preview_in_little_memory(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY(f); /* SQLite's own memory */
        fill(f);
        sql(f, "UPDATE alerts SET status = 'expired', updated_at = %lld WHERE id = 'A1'", NOW - 100 * DAY);
        sql(f, "UPDATE outbox SET state = 'failed' WHERE state IN ('pending', 'retrying', 'in-flight')");
        assert_int_equal(fixture_open(f, &f->s), 0);
        struct dawn_prune_counts c;
        int64_t base = 0;
        sqlite_peak_since(&base);
        assert_int_equal(dawn_store_prune_preview(f->s, NOW - 90 * DAY, 0, NULL, &c), 0);
        int64_t peak = sqlite_peak_since(&base);
        print_message("prune preview of %lld deliveries: %lld KiB at most\n", (long long)c.deliveries,
                      (long long)peak / 1024);
        assert_true(c.deliveries >= HISTORY);
        assert_true(peak < HISTORY_PASS_MEMORY_MAX);
}

/* Counts a clean close saved are used at most once: an open that could not
 * remove them (the write lock held past the busy timeout here; a full disk
 * would do the same) counts from the outbox instead, and must not leave them
 * for the open after a crash to read, stale by whatever was done meanwhile
 * (issue 12 review). */
static void test_saved_counts_it_could_not_remove_are_not_read_later(void **state)
{
        struct fixture *f = *state;
        SQLITE_ONLY(f); /* an SQLite trigger on the file */
        fill(f);
        assert_int_equal(fixture_open(f, &f->s), 0);
        f->s = dawn_store_close(f->s); /* clean: the counts are saved */
        assert_true(sql_int(f, "SELECT count(*) FROM outbox_ended_saved") > 0);

        /* a child process: opens the store while the saved counts cannot be removed (a
         * trigger refuses their DELETE, as a lock held past the busy timeout or a full disk
         * would, without the 5 s wait), then records a receipt (delivery 7, delivered,
         * failed after all), commits, and dies without closing (as kill -9) */
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                sqlite3 *holder = NULL;
                struct dawn_store *s = NULL;
                if (sqlite3_open(f->path, &holder) != SQLITE_OK ||
                    sqlite3_exec(holder, "CREATE TRIGGER hold_saved BEFORE DELETE ON outbox_ended_saved"
                                         " BEGIN SELECT RAISE(ABORT, 'held'); END", NULL, NULL, NULL) != SQLITE_OK)
                        _exit(2);
                if (fixture_open(f, &s) < 0)
                        _exit(3);
                if (sqlite3_exec(holder, "DROP TRIGGER hold_saved", NULL, NULL, NULL) != SQLITE_OK)
                        _exit(4);
                if (dawn_store_begin(s) < 0 ||
                    dawn_store_delivery_move(s, 7, DAWN_DELIVERY_DELIVERED, DAWN_DELIVERY_FAILED, "receipt: failed", 0,
                                             NOW) != 1 ||
                    dawn_store_commit(s) < 0)
                        _exit(5);
                _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE id = 7 AND state = 'failed'"), 1);
        assert_int_equal(fixture_open(f, &f->s), 0);
        assert_counts_right(f, "reopened after a crash, the saved counts left behind by an earlier open");
}

/* ---- alerts per status and grade (/metrics' dawn_alerts) ---- */

/* What a GROUP BY over the alerts says, in dawn_store_alert_counts()'s shape. */
static char *alerts_reference(struct fixture *f)
{
        cJSON *o = cJSON_CreateObject();
        char *rows = sql_rows(f, "SELECT status, grade, count(*) FROM alerts GROUP BY status, grade"
                                 " ORDER BY status, grade", NULL);
        char *save = NULL;
        for (char *line = strtok_r(rows, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *status = strtok(line, "|"), *grade = strtok(NULL, "|"), *n = strtok(NULL, "|");
                cJSON *c = cJSON_GetObjectItemCaseSensitive(o, status);
                if (!c)
                        c = cJSON_AddObjectToObject(o, status);
                cJSON_AddNumberToObject(c, grade, (double)strtoll(n, NULL, 10));
        }
        free(rows);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return text;
}

/* the same object, with keys in order, so that two can be compared as text */
static char *sorted_text(cJSON *o)
{
        cJSON *sorted = cJSON_CreateObject(), *k, *g;
        static const char *const statuses[] = { "active", "cancelled", "expired", "pending" };
        static const char *const grades[] = { "critical", "info", "logged", "warning" };
        for (size_t i = 0; i < 4; i++) {
                if (!(k = cJSON_GetObjectItemCaseSensitive(o, statuses[i])))
                        continue;
                cJSON *c = cJSON_AddObjectToObject(sorted, statuses[i]);
                for (size_t j = 0; j < 4; j++)
                        if ((g = cJSON_GetObjectItemCaseSensitive(k, grades[j])))
                                cJSON_AddNumberToObject(c, grades[j], g->valuedouble);
        }
        char *text = cJSON_PrintUnformatted(sorted);
        cJSON_Delete(sorted);
        return text;
}

static void assert_alert_counts_right(struct fixture *f, const char *when)
{
        cJSON *o = cJSON_CreateObject();
        assert_int_equal(dawn_store_alert_counts(f->s, o), 0);
        char *got = sorted_text(o);
        cJSON_Delete(o);
        char *ref = alerts_reference(f);
        cJSON *r = cJSON_Parse(ref);
        char *want = sorted_text(r);
        cJSON_Delete(r);
        free(ref);
        if (strcmp(want, got) != 0)
                fail_msg("%s: alert counts %s, the store holds %s", when, got, want);
        free(want);
        free(got);
}

static void save(struct fixture *f, const char *id, int revision, enum dawn_status status, enum dawn_grade grade)
{
        struct dawn_alert a;
        dawn_alert_init(&a);
        snprintf(a.id, sizeof(a.id), "%s", id);
        a.type = DAWN_TYPE_BATCH;
        a.area = strdup("southampton");
        a.summary = strdup("counted");
        a.revision = revision;
        a.status = status;
        a.grade = grade;
        a.issued_at = a.updated_at = NOW;
        assert_int_equal(dawn_store_save_alert(f->s, &a, id, true), 0);
        dawn_alert_clear(&a);
}

/* dawn_alerts used to be a GROUP BY over every alert at every scrape: now the
 * counts are kept as alerts are saved, right after inserts, updates, savepoints
 * rolled back or released, a failed commit and a reopen, and reading them runs
 * no SQL at all, with 20,000 alerts in the store. */
#define ALERTS 20000
static void test_alert_counts_follow_every_change(void **state)
{
        struct fixture *f = *state;
        char q[512];
        snprintf(q, sizeof(q),
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
                 " INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at, updated_at, json)"
                 " SELECT 'H' || i, 100000 + i, 'h' || i, CASE i %% 3 WHEN 0 THEN 'expired' ELSE 'cancelled' END,"
                 " CASE i %% 4 WHEN 0 THEN 'critical' WHEN 1 THEN 'warning' ELSE 'info' END, 1, 0, 0, '{}' FROM n",
                 ALERTS);
        sql(f, "%s", q);
        assert_int_equal(fixture_open(f, &f->s), 0);
        assert_alert_counts_right(f, "opened on 20,000 alerts");
        cJSON *o = cJSON_CreateObject();
        uint64_t before = dawn_store_vm_steps(f->s);
        assert_int_equal(dawn_store_alert_counts(f->s, o), 0);
        assert_int_equal(dawn_store_vm_steps(f->s) - before, 0);
        cJSON_Delete(o);

        assert_int_equal(dawn_store_begin(f->s), 0);
        save(f, "A1", 1, DAWN_STATUS_ACTIVE, DAWN_GRADE_WARNING);
        save(f, "A2", 1, DAWN_STATUS_PENDING, DAWN_GRADE_INFO);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_alert_counts_right(f, "two new alerts");

        /* a request's savepoint rolled back: its raise does not count; one released does */
        assert_int_equal(dawn_store_begin(f->s), 0);
        assert_int_equal(dawn_store_savepoint(f->s), 0);
        save(f, "A1", 2, DAWN_STATUS_ACTIVE, DAWN_GRADE_CRITICAL);
        dawn_store_rollback_to_savepoint(f->s);
        assert_int_equal(dawn_store_savepoint(f->s), 0);
        save(f, "A2", 2, DAWN_STATUS_ACTIVE, DAWN_GRADE_INFO);
        assert_int_equal(dawn_store_release(f->s), 0);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_alert_counts_right(f, "savepoints");

        /* a commit that fails leaves them as they were */
        assert_int_equal(dawn_store_begin(f->s), 0);
        save(f, "A1", 2, DAWN_STATUS_CANCELLED, DAWN_GRADE_WARNING);
        dawn_store_fail_next_commit(f->s, -ENOSPC);
        assert_true(dawn_store_commit(f->s) < 0);
        assert_alert_counts_right(f, "a failed commit");

        /* a cancel, then a reopen counts again and agrees */
        assert_int_equal(dawn_store_begin(f->s), 0);
        save(f, "A1", 2, DAWN_STATUS_CANCELLED, DAWN_GRADE_WARNING);
        assert_int_equal(dawn_store_commit(f->s), 0);
        assert_alert_counts_right(f, "cancelled");
        f->s = dawn_store_close(f->s);
        assert_int_equal(fixture_open(f, &f->s), 0);
        assert_alert_counts_right(f, "reopened");
}

/* store.c lists the channel names to reach each channel's rows by index: the list
 * must be exactly what the outbox writes */
static void test_channel_list_matches_the_names(void **state)
{
        (void)state;
        assert_int_equal(DAWN_CHANNEL_COUNT, sizeof(channels) / sizeof(channels[0]));
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                assert_string_equal(dawn_channel_name((enum dawn_channel_kind)k), channels[k]);
}

/* The schema and the second connection, but no store open: each test opens
 * it when its history is written, so that the counts are taken at open. */
static int setup_closed(void **state)
{
        setup(state);
        struct fixture *f = *state;
        f->s = dawn_store_close(f->s);
        return 0;
}

int main(void)
{
        /* before any store opens: SQLite then keeps counting its memory (the store turns
         * that off for dawnd, where nothing reads it), for the peaks measured here */
        sqlite3_initialize();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_after_crash_counts_in_little_memory, setup_closed, teardown),
                cmocka_unit_test_setup_teardown(test_prune_preview_in_little_memory, setup_closed, teardown),
                cmocka_unit_test_setup_teardown(test_saved_counts_it_could_not_remove_are_not_read_later, setup_closed,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_status_reads_no_history, setup_closed, teardown),
                cmocka_unit_test_setup_teardown(test_counts_follow_every_change, setup_closed, teardown),
                cmocka_unit_test_setup_teardown(test_dispatch_reads_no_backlog, setup_closed, teardown),
                cmocka_unit_test_setup_teardown(test_alert_counts_follow_every_change, setup_closed, teardown),
                cmocka_unit_test(test_channel_list_matches_the_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
