/* The store's backend table, as curl's vtls or OpenSMTPD's queue backends:
 * store.c speaks SQL through these calls and nothing else, and each backend
 * (db_sqlite.c, db_pg.c) does them its own way. What a caller of the store
 * sees does not depend on which one runs.
 *
 * A statement is prepared once and run many times: bind its parameters
 * (numbered from 1, as ?1 in SQLite's text and $1 in PostgreSQL's), step it
 * until it says DB_DONE, read each DB_ROW's columns, reset it. Errors are
 * -errno, in the store's meanings (store.h): -ENOSPC full, -EBUSY locked,
 * -EAGAIN the database is away for now (a lost connection: try again),
 * -EEXIST a constraint, -EIO anything else. */
#ifndef DAWN_DB_H
#define DAWN_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DB_DONE 0
#define DB_ROW 1

enum db_dialect {
        DB_DIALECT_SQLITE,
        DB_DIALECT_POSTGRESQL,
};

struct db;
struct db_stmt;

struct db_ops {
        const char *name;
        enum db_dialect dialect;
        struct db_stmt *(*prepare)(struct db *db, const char *sql);
        void (*finalize)(struct db_stmt *st);
        /* ready to run again, its bindings cleared */
        void (*reset)(struct db_stmt *st);
        void (*bind_int64)(struct db_stmt *st, int i, int64_t v);
        /* NULL binds SQL NULL */
        void (*bind_text)(struct db_stmt *st, int i, const char *v);
        /* DB_ROW, DB_DONE or -errno */
        int (*step)(struct db_stmt *st);
        int64_t (*column_int64)(struct db_stmt *st, int i);
        /* NULL for SQL NULL */
        const char *(*column_text)(struct db_stmt *st, int i);
        bool (*column_null)(struct db_stmt *st, int i);
        int (*column_count)(struct db_stmt *st);
        /* the rows the last statement run on db changed */
        int64_t (*changes)(struct db *db);
        /* the id of the row the last INSERT that added one added */
        int64_t (*last_insert_id)(struct db *db);
        /* one or more statements without parameters or rows */
        int (*exec)(struct db *db, const char *sql);
        /* a write transaction: BEGIN IMMEDIATE in SQLite, BEGIN in PostgreSQL */
        int (*begin)(struct db *db);
        bool (*in_transaction)(struct db *db);
        /* the -errno of the last call's failure, or 0 if it did not fail */
        int (*last_error)(struct db *db);
        const char *(*errmsg)(struct db *db);
        /* fn(userdata) whenever the open transaction is rolled back, by
         * ROLLBACK or by the database itself after an error */
        void (*on_rollback)(struct db *db, void (*fn)(void *userdata), void *userdata);
        /* brings the schema to this build's version (under a lock: several
         * processes may start at once) */
        int (*migrate)(struct db *db);
        void (*close)(struct db *db);

        /* Optional (NULL: the backend has no such thing). */
        uint64_t (*work_done)(struct db *db, struct db_stmt *const *stmts, size_t n);
        int (*checkpoint_truncate)(struct db *db);
        int (*checkpoint_in_background)(struct db *db, const char *path);
        int (*limit_growth)(struct db *db, int pages);
        /* After exec("COMMIT") answered -EINPROGRESS (the connection was lost
         * with the COMMIT sent and its answer not in: it may have been kept):
         * 0 it was, -ENOENT it was not (and now never will be), -EAGAIN not
         * known yet (the database away: ask again), or another -errno when it
         * cannot be known. */
        int (*commit_outcome)(struct db *db);
        /* Tests: the next COMMIT's answer is lost with the connection, after
         * the COMMIT reached the server (sent) or before it did. */
        void (*lose_next_commit)(struct db *db, bool sent);
};

struct db {
        const struct db_ops *ops;
};

struct db_stmt {
        struct db *db;
};

/* Backends. */
int db_sqlite_open(const char *path, struct db **out);
struct dawn_store_options;
int db_pg_open(const struct dawn_store_options *o, struct db **out);

static inline struct db_stmt *db_prepare(struct db *db, const char *sql)
{
        return db->ops->prepare(db, sql);
}
static inline void db_finalize(struct db_stmt *st)
{
        if (st)
                st->db->ops->finalize(st);
}
static inline void db_reset(struct db_stmt *st)
{
        st->db->ops->reset(st);
}
static inline void db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
        st->db->ops->bind_int64(st, i, v);
}
static inline void db_bind_text(struct db_stmt *st, int i, const char *v)
{
        st->db->ops->bind_text(st, i, v);
}
static inline int db_step(struct db_stmt *st)
{
        return st->db->ops->step(st);
}
static inline int64_t db_column_int64(struct db_stmt *st, int i)
{
        return st->db->ops->column_int64(st, i);
}
static inline int db_column_int(struct db_stmt *st, int i)
{
        return (int)st->db->ops->column_int64(st, i);
}
static inline const char *db_column_text(struct db_stmt *st, int i)
{
        return st->db->ops->column_text(st, i);
}
static inline bool db_column_null(struct db_stmt *st, int i)
{
        return st->db->ops->column_null(st, i);
}
static inline int db_column_count(struct db_stmt *st)
{
        return st->db->ops->column_count(st);
}
static inline int64_t db_changes(struct db *db)
{
        return db->ops->changes(db);
}
static inline int64_t db_last_insert_id(struct db *db)
{
        return db->ops->last_insert_id(db);
}
static inline int db_exec(struct db *db, const char *sql)
{
        return db->ops->exec(db, sql);
}
static inline int db_begin(struct db *db)
{
        return db->ops->begin(db);
}
static inline bool db_in_transaction(struct db *db)
{
        return db->ops->in_transaction(db);
}
static inline int db_last_error(struct db *db)
{
        return db->ops->last_error(db);
}
static inline const char *db_errmsg(struct db *db)
{
        return db->ops->errmsg(db);
}
/* a step's result as 0 or -errno */
static inline int db_errno(int rc)
{
        return rc < 0 ? rc : 0;
}

#endif
