/* The store fixture the store-level unit tests share: a store in a fresh
 * temporary directory, with a second SQLite connection to the same file for
 * what the store's interface has no call for (writing history as dawnd would
 * have, or checking what it wrote), and sql() on that connection. Include
 * after dawn_test.h.
 *
 * With DAWN_TEST_PG set (a libpq conninfo without dbname: a throwaway
 * cluster, tests/pg/throwaway.sh; make unit-postgresql), the store is a
 * PostgreSQL schema of its own per test instead, and the second connection
 * a libpq one: the same tests, on the other backend (issue 15). A test of
 * what is SQLite's own (its file, its virtual machine's steps) says
 * SQLITE_ONLY(f) first. */
#ifndef DAWN_TEST_STORE_H
#define DAWN_TEST_STORE_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include "alert.h"
#include "store.h"

struct fixture {
        char dir[64];
        char path[96];
        struct dawn_store *s;
        sqlite3 *db;
        PGconn *pg;     /* on PostgreSQL: the second connection, and db is NULL */
        char pg_db[64]; /* its schema: one per test, in database "dawn" (quicker than a database) */
};

static UNUSED const char *test_pg(void)
{
        const char *c = getenv("DAWN_TEST_PG");
        return c && *c ? c : NULL;
}

/* DROP SCHEMA ... CASCADE lists what it dropped: nothing a test reads */
static UNUSED void pg_quiet(void *userdata, const char *message)
{
        (void)userdata;
        (void)message;
}

/* a statement on the test cluster's database (CREATE / DROP SCHEMA) */
static UNUSED void pg_admin(const char *statement)
{
        char conninfo[512];
        snprintf(conninfo, sizeof(conninfo), "%s dbname=dawn", test_pg());
        PGconn *c = PQconnectdb(conninfo);
        PQsetNoticeProcessor(c, pg_quiet, NULL);
        PGresult *res = PQexec(c, statement);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                fail_msg("%s: %s", statement, PQerrorMessage(c));
        PQclear(res);
        PQfinish(c);
}

/* The test is about SQLite itself: skipped on PostgreSQL. */
#define SQLITE_ONLY(f)                                                                                       \
        do {                                                                                                 \
                if ((f)->pg)                                                                                 \
                        skip();                                                                              \
        } while (0)

/* The test is about several nodes on one PostgreSQL database: skipped on SQLite. */
#define SQLITE_ONLY_NOT(f)                                                                                   \
        do {                                                                                                 \
                if (!(f)->pg)                                                                                \
                        skip();                                                                              \
        } while (0)

/* Opens the fixture's store (again, after a close: the same file or database),
 * as dawnd node "node": another connection, as another dawnd on the same
 * PostgreSQL database would have. */
static UNUSED int fixture_open_lease(struct fixture *f, const char *node, int64_t lease_usec,
                                     struct dawn_store **out)
{
        if (!f->pg) {
                struct dawn_store_options o = { .backend = DAWN_STORE_SQLITE, .path = f->path, .node = node };
                return dawn_store_open_with(&o, out);
        }
        char conninfo[512];
        snprintf(conninfo, sizeof(conninfo), "%s dbname=dawn options='-csearch_path=%s'", test_pg(), f->pg_db);
        struct dawn_store_options o = { .backend = DAWN_STORE_POSTGRESQL, .conninfo = conninfo, .node = node,
                                        .lease_usec = lease_usec };
        return dawn_store_open_with(&o, out);
}

static UNUSED int fixture_open_node(struct fixture *f, const char *node, struct dawn_store **out)
{
        return fixture_open_lease(f, node, 0, out);
}

static UNUSED int fixture_open(struct fixture *f, struct dawn_store **out)
{
        return fixture_open_node(f, "test", out);
}

/* state: the fixture, with the store open and the second connection */
static UNUSED int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/dawn-store-test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/dawn.db", f->dir);
        if (test_pg()) {
                static int n;
                char statement[128];
                snprintf(f->pg_db, sizeof(f->pg_db), "dawn_u%d_%d", (int)getpid(), ++n);
                snprintf(statement, sizeof(statement), "CREATE SCHEMA %s", f->pg_db);
                pg_admin(statement);
                char conninfo[512];
                snprintf(conninfo, sizeof(conninfo), "%s dbname=dawn options='-csearch_path=%s'", test_pg(), f->pg_db);
                f->pg = PQconnectdb(conninfo);
                assert_int_equal(PQstatus(f->pg), CONNECTION_OK);
                PQsetNoticeProcessor(f->pg, pg_quiet, NULL);
                assert_int_equal(fixture_open(f, &f->s), 0);
                *state = f;
                return 0;
        }
        assert_int_equal(fixture_open(f, &f->s), 0);
        assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
        *state = f;
        return 0;
}

static UNUSED int teardown(void **state)
{
        struct fixture *f = *state;
        char p[128];
        static const char *const suffix[] = { "", "-wal", "-shm" };
        sqlite3_close(f->db);
        dawn_store_close(f->s);
        if (f->pg) {
                PQfinish(f->pg);
                char statement[128];
                snprintf(statement, sizeof(statement), "DROP SCHEMA %s CASCADE", f->pg_db);
                pg_admin(statement);
        }
        for (int i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
                unlink(p);
        }
        rmdir(f->dir);
        free(f);
        return 0;
}

/* Runs SQL on the second connection; the test fails if SQLite refuses it
 * (or it does not fit the buffer). */
static UNUSED __attribute__((format(printf, 2, 3))) void sql(struct fixture *f, const char *fmt, ...)
{
        char text[2048];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        assert_true(n >= 0 && (size_t)n < sizeof(text));
        if (f->pg) {
                PGresult *res = PQexec(f->pg, text);
                if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
                        fail_msg("%s: %s", text, PQerrorMessage(f->pg));
                PQclear(res);
                return;
        }
        char *err = NULL;
        if (sqlite3_exec(f->db, text, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", text, err);
}

/* The one text a query on the second connection answers (malloc'd). */
static UNUSED char *sql_text(struct fixture *f, const char *q)
{
        if (f->pg) {
                PGresult *res = PQexec(f->pg, q);
                if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
                        fail_msg("%s: %s", q, PQerrorMessage(f->pg));
                char *t = strdup(PQgetvalue(res, 0, 0));
                PQclear(res);
                return t;
        }
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(f->db, q, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        const unsigned char *v = sqlite3_column_text(st, 0);
        char *t = strdup(v ? (const char *)v : "");
        sqlite3_finalize(st);
        return t;
}

/* Every row a query on the second connection answers, as "a|b|c" lines
 * (malloc'd); *steps, if asked and on SQLite, what the query cost in VM steps. */
static UNUSED char *sql_rows(struct fixture *f, const char *q, int *steps)
{
        size_t cap = 4096, used = 0;
        char *out = malloc(cap);
        assert_non_null(out);
        out[0] = '\0';
#define SQL_ROWS_ADD(text)                                                                                   \
        do {                                                                                                 \
                size_t n_ = strlen(text);                                                                    \
                while (used + n_ + 2 > cap)                                                                  \
                        assert_non_null(out = realloc(out, cap *= 2));                                       \
                memcpy(out + used, text, n_ + 1);                                                            \
                used += n_;                                                                                  \
        } while (0)
        if (f->pg) {
                PGresult *res = PQexec(f->pg, q);
                if (PQresultStatus(res) != PGRES_TUPLES_OK)
                        fail_msg("%s: %s", q, PQerrorMessage(f->pg));
                for (int r = 0; r < PQntuples(res); r++)
                        for (int c = 0; c < PQnfields(res); c++) {
                                SQL_ROWS_ADD(PQgetvalue(res, r, c));
                                SQL_ROWS_ADD(c + 1 < PQnfields(res) ? "|" : "\n");
                        }
                PQclear(res);
                return out;
        }
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(f->db, q, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
                for (int c = 0; c < sqlite3_column_count(st); c++) {
                        const unsigned char *v = sqlite3_column_text(st, c);
                        SQL_ROWS_ADD(v ? (const char *)v : "");
                        SQL_ROWS_ADD(c + 1 < sqlite3_column_count(st) ? "|" : "\n");
                }
#undef SQL_ROWS_ADD
        if (steps)
                *steps = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
        sqlite3_finalize(st);
        return out;
}

/* The one integer a query on the second connection answers. */
static UNUSED int64_t sql_int(struct fixture *f, const char *q)
{
        if (f->pg) {
                char *t = sql_text(f, q);
                int64_t v = strtoll(t, NULL, 10);
                free(t);
                return v;
        }
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(f->db, q, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* One active alert, issued at now, with one delivery waiting on channel to
 * recipient (subscriber booth-house), committed. */
static UNUSED void fixture_alert_with_delivery(struct dawn_store *s, int64_t now, enum dawn_channel_kind channel,
                                               const char *recipient)
{
        struct dawn_alert a;
        dawn_alert_init(&a);
        a.type = DAWN_TYPE_BATCH;
        a.area = strdup("southampton");
        a.summary = strdup("Heroin contains a nitazene.");
        a.revision = 1;
        a.status = DAWN_STATUS_ACTIVE;
        a.issued_at = a.updated_at = now;
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_next_alert_id(s, a.id), 0);
        assert_int_equal(dawn_store_save_alert(s, &a, "fp", true), 0);
        assert_int_equal(dawn_store_add_delivery(s, a.id, 1, "booth-house", channel, recipient, DAWN_ACTION_PUBLISH, now),
                         0);
        assert_int_equal(dawn_store_commit(s), 0);
        dawn_alert_clear(&a);
}

#endif
