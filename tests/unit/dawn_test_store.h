/* The store fixture the store-level unit tests share: a store in a fresh
 * temporary directory, with a second SQLite connection to the same file for
 * what the store's interface has no call for (writing history as dawnd would
 * have, or checking what it wrote), and sql() on that connection. Include
 * after dawn_test.h. */
#ifndef DAWN_TEST_STORE_H
#define DAWN_TEST_STORE_H

#include <sqlite3.h>
#include <unistd.h>

#include "store.h"

struct fixture {
        char dir[64];
        char path[96];
        struct dawn_store *s;
        sqlite3 *db;
};

/* state: the fixture, with the store open and the second connection */
static UNUSED int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/dawn-store-test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/dawn.db", f->dir);
        assert_int_equal(dawn_store_open(f->path, &f->s), 0);
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
        char *err = NULL;
        if (sqlite3_exec(f->db, text, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", text, err);
}

/* The one integer a query on the second connection answers. */
static UNUSED int64_t sql_int(struct fixture *f, const char *q)
{
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(f->db, q, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

#endif
