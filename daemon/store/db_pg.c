/* The PostgreSQL backend (db.h), through libpq: for several dawnd nodes on
 * one database that an IT team already runs with replication and failover
 * (issue 15). Statements are prepared on the server once per connection, by
 * name, and run with their parameters as text; a statement's rows arrive
 * whole (every query the store makes has a LIMIT, or reads one alert's rows).
 *
 * What differs from SQLite, and is handled here rather than in store.c:
 * - placeholders: ?N (and SQLite's bare ?, numbered as SQLite numbers them)
 *   become $N, outside quoted text, and SQLite's INDEXED BY hints go;
 * - an INSERT's new id: the statement says RETURNING id, and its row is taken
 *   here as SQLite's last insert rowid, not handed to the caller;
 * - a COMMIT in a transaction an error aborted answers "ROLLBACK", not an
 *   error: it is a failed commit (-EIO), and the rollback hook runs;
 * - a COMMIT whose answer was lost with the connection may have been kept:
 *   -EINPROGRESS, and commit_outcome() finds out. Each transaction inserts
 *   a token of its own into dawn_commits as it begins; the outcome is learned
 *   by inserting the same token again, on a new connection, in a transaction
 *   of its own: a conflict means the lost one committed; if the insert goes
 *   in, it did not, and now never can (its token is taken). The insert waits
 *   for the lost transaction if the server is still finishing it (a
 *   synchronous standby's answer), which a plain SELECT would not; and
 *   unlike a transaction id, a token means the same after a failover (a new
 *   primary that never had the transaction has no token);
 * - errors by SQLSTATE: 23xxx constraint -EEXIST, 53100 disk full -ENOSPC,
 *   40001 / 40P01 / 55P03 -EBUSY, a lost connection or a server shutting down
 *   -EAGAIN (temporary: the caller may try again once it is back);
 * - waiting: dawnd has one event loop, and a blocking libpq call on a
 *   database that stopped answering (a host gone, a network split: no RST,
 *   so TCP would wait for many minutes) would stall every way in. Every
 *   query is sent without blocking and its answer waited for with poll() up
 *   to store.timeout; past it the connection is dropped and made again, and
 *   the call fails -EAGAIN. The server cancels its own statement a little
 *   before (statement_timeout), so a slow but live database answers an error
 *   rather than losing the connection. */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "store.h"

#define PG_MAX_PARAMS 32
/* seconds since the epoch, on the database's clock */
#define PG_EPOCH_SQL "extract(epoch FROM clock_timestamp())::bigint"

struct pg_db {
        struct db base;
        PGconn *conn;
        unsigned generation; /* the connection's: a statement prepared on an older one is prepared again */
        unsigned next_name;
        int64_t changes;
        int64_t last_insert_id;
        int last_error;
        char errmsg[256];
        void (*rolled_back)(void *userdata);
        void *rolled_back_userdata;
        bool resetting; /* the connection was lost: PQresetStart() began making it again */
        uint64_t reset_started; /* CLOCK_MONOTONIC usec, for the deadline of making it again */
        bool broken;    /* an answer did not come in time: the connection is dropped at the next call */
        int64_t timeout_usec; /* the longest the loop waits for one answer (store.timeout) */
        uint64_t token_base;  /* random, at open: this connection's commit tokens are token_base-n */
        uint64_t transactions;
        char token[48];         /* the open transaction's, or "" */
        char unknown_token[48]; /* a COMMIT's whose outcome is not known yet, or "" */
        int lose_next_commit;   /* tests: 1 after the COMMIT is sent, 2 before */
        bool in_tx;             /* a BEGIN of ours went in, and no COMMIT or ROLLBACK since */
        bool tx_lost;           /* the connection was made again in the middle of that
                                 * transaction: refuse statements until the store has seen
                                 * it is gone, or they would run on their own, committed */
        int old_backend;        /* the server process of a connection given up on, or 0 */
        int64_t lock_timeout_ms;
        bool away;      /* lost and not back yet: said once when lost, once when back */
        /* The first error the open transaction met outside a savepoint that undid it:
         * PostgreSQL then aborts the whole transaction, and its COMMIT answers ROLLBACK,
         * which is this error (a lock timeout is -EBUSY, a lost connection -EAGAIN), not a
         * generic -EIO that would stop dawnd. */
        int tx_error;
};

struct pg_stmt {
        struct db_stmt base;
        char *sql;
        char name[16];
        unsigned prepared_on; /* generation, or 0 */
        int nparams;
        int map[PG_MAX_PARAMS + 1]; /* SQLite's parameter number -> PostgreSQL's, or 0 */
        bool returns_insert_id;
        int columns;
        char *params[PG_MAX_PARAMS];
        PGresult *result;
        int row, rows; /* the next row to return, of rows; -1: not run yet */
};

#define DB(d) ((struct pg_db *)(d))
#define ST(s) ((struct pg_stmt *)(s))

static bool in_tx_status(PGTransactionStatusType t);

/* The transaction state, as far as dawnd can still use it: a connection
 * given up on (no answer in time) has no transaction any more, whatever
 * libpq last saw. */
static PGTransactionStatusType tx_status(struct pg_db *d)
{
        return d->broken ? PQTRANS_UNKNOWN : PQtransactionStatus(d->conn);
}

static void note_error(struct pg_db *d, int r, const char *msg)
{
        d->last_error = r;
        if (!d->tx_error && d->conn && in_tx_status(tx_status(d)))
                d->tx_error = r;
        snprintf(d->errmsg, sizeof(d->errmsg), "%s", msg && *msg ? msg : "PostgreSQL error");
        /* libpq's messages end in a newline; the log adds its own */
        size_t n = strlen(d->errmsg);
        while (n > 0 && (d->errmsg[n - 1] == '\n' || d->errmsg[n - 1] == ' '))
                d->errmsg[--n] = '\0';
}

/* What a failed result means, in the store's -errno. */
static int pg_to_errno(struct pg_db *d, const PGresult *res)
{
        if (d->broken || PQstatus(d->conn) != CONNECTION_OK)
                return -EAGAIN;
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (!state)
                return -EIO;
        if (strncmp(state, "23", 2) == 0)
                return -EEXIST;
        if (strcmp(state, "53100") == 0)
                return -ENOSPC;
        if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
                return -EBUSY;
        /* 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx connection */
        if (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0)
                return -EAGAIN;
        if (strcmp(state, "25006") == 0) /* read_only_sql_transaction: a standby after a failover */
                return -EAGAIN;
        if (strcmp(state, "57014") == 0) /* query_canceled: statement_timeout, the server too slow now */
                return -EBUSY;
        return -EIO;
}

static bool in_tx_status(PGTransactionStatusType t)
{
        return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/* A transaction that was open before a call and is not after it, without a
 * COMMIT that kept it, was rolled back: tell the store. */
static void after_call(struct pg_db *d, bool was_in_tx, bool committed)
{
        if (was_in_tx && !committed && !in_tx_status(tx_status(d)) && d->rolled_back)
                d->rolled_back(d->rolled_back_userdata);
}

/* Each placeholder of sql outside quoted text, numbered as SQLite numbers
 * them (?N is N; a bare ? is one more than the largest so far), is marked in
 * used[] (out NULL: used[PG_MAX_PARAMS + 1] for a number past the limit), or
 * written to out as $map[N]. SQLite's INDEXED BY hints, which PostgreSQL's
 * planner does not take, are left out; the rest is copied as it is. */
static void placeholders(const char *sql, char *out, int *map)
{
        char *o = out;
        int largest = 0;
        char quote = 0;
        for (const char *p = sql; *p; p++) {
                if (quote || *p == '\'' || *p == '"') {
                        quote = quote ? (*p == quote ? 0 : quote) : *p;
                        if (o)
                                *o++ = *p;
                        continue;
                }
                if (strncmp(p, "INDEXED BY ", 11) == 0) {
                        p += 11;
                        while (p[1] == '_' || (p[1] >= 'a' && p[1] <= 'z') || (p[1] >= '0' && p[1] <= '9'))
                                p++;
                        continue;
                }
                if (*p != '?') {
                        if (o)
                                *o++ = *p;
                        continue;
                }
                int k = 0;
                if (p[1] >= '0' && p[1] <= '9')
                        while (p[1] >= '0' && p[1] <= '9') {
                                k = k * 10 + (*++p - '0');
                                if (k > PG_MAX_PARAMS)
                                        k = PG_MAX_PARAMS + 1;
                        }
                else
                        k = largest < PG_MAX_PARAMS ? largest + 1 : PG_MAX_PARAMS + 1;
                if (k > largest)
                        largest = k;
                if (!o)
                        map[k] = 1;
                else
                        o += sprintf(o, "$%d", k <= PG_MAX_PARAMS ? map[k] : 0);
        }
        if (o)
                *o = '\0';
}

/* SQLite's text as PostgreSQL's: placeholders numbered $1.. in the order of
 * SQLite's numbers, those the text never names left out (an UPDATE that shares
 * an INSERT's bindings: PostgreSQL cannot type a parameter it never sees), so
 * map[SQLite's number] is PostgreSQL's, or 0. NULL if a number is past
 * PG_MAX_PARAMS. */
static char *translate(const char *sql, int map[PG_MAX_PARAMS + 1], int *nparams)
{
        int used[PG_MAX_PARAMS + 2] = { 0 };
        placeholders(sql, NULL, used);
        if (used[PG_MAX_PARAMS + 1])
                return NULL;
        *nparams = 0;
        for (int k = 1; k <= PG_MAX_PARAMS; k++)
                map[k] = used[k] ? ++*nparams : 0;
        char *out = malloc(strlen(sql) * 2 + 1);
        if (out)
                placeholders(sql, out, map);
        return out;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Waits until the connection's socket is ready for events, or the deadline.
 * False at the deadline (or if the socket is gone). */
static bool wait_socket(struct pg_db *d, short events, uint64_t deadline)
{
        int fd = PQsocket(d->conn);
        if (fd < 0)
                return false;
        for (;;) {
                uint64_t now = (uint64_t)dawn_monotonic_usec();
                if (now >= deadline)
                        return false;
                struct pollfd p = { .fd = fd, .events = events };
                int ms = (int)((deadline - now + 999) / 1000);
                int n = poll(&p, 1, ms);
                if (n > 0)
                        return true;
                if (n < 0 && errno != EINTR)
                        return false;
        }
}

/* The database did not answer in time: the connection is given up (its
 * transaction, if any, is gone: the server rolls it back when it sees the
 * socket closed) and made again at the next call. */
static PGresult *give_up(struct pg_db *d, PGresult *partial)
{
        PQclear(partial);
        d->broken = true;
        char msg[96];
        snprintf(msg, sizeof(msg), "PostgreSQL did not answer within %lld ms; connecting again",
                 (long long)(d->timeout_usec / 1000));
        note_error(d, -EAGAIN, msg);
        if (!d->away)
                fprintf(stderr, "dawnd: store: %s\n", msg);
        return NULL;
}

/* The result of the query just sent (sent: what PQsend* returned), as
 * PQexec() gives it (the first error, else the last result), waited for up
 * to the deadline without blocking in libpq. NULL: no answer (the error is
 * noted, or the connection is bad). */
static PGresult *answer(struct pg_db *d, int sent, int64_t wait_usec)
{
        if (!sent)
                return NULL;
        uint64_t deadline = (uint64_t)dawn_monotonic_usec() + (uint64_t)wait_usec;
        int f;
        while ((f = PQflush(d->conn)) > 0) {
                /* the server may be sending while it reads: take that in, or both wait */
                if (!wait_socket(d, POLLOUT | POLLIN, deadline))
                        return give_up(d, NULL);
                if (!PQconsumeInput(d->conn))
                        return NULL;
        }
        if (f < 0)
                return NULL;
        PGresult *kept = NULL;
        for (;;) {
                while (PQisBusy(d->conn)) {
                        if (!wait_socket(d, POLLIN, deadline))
                                return give_up(d, kept);
                        if (!PQconsumeInput(d->conn)) {
                                PQclear(kept);
                                return NULL;
                        }
                }
                PGresult *res = PQgetResult(d->conn);
                if (!res)
                        return kept;
                ExecStatusType st = kept ? PQresultStatus(kept) : PGRES_EMPTY_QUERY;
                if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
                        PQclear(res);
                        continue;
                }
                PQclear(kept);
                kept = res;
        }
}

static PGresult *run_sql(struct pg_db *d, const char *sql)
{
        return answer(d, PQsendQuery(d->conn, sql), d->timeout_usec);
}

/* The error message of a failed result; libpq's for a connection that
 * failed, or ours when the answer did not come in time. */
static const char *result_error(struct pg_db *d, const PGresult *res)
{
        if (res)
                return PQresultErrorMessage(res);
        if (d->broken)
                return d->errmsg;
        return PQerrorMessage(d->conn);
}

static void ignore_notice(void *userdata, const char *message);

/* The session settings, on every connection made */
static void session_setup(struct pg_db *d)
{
        /* answers are waited for with poll(), never inside libpq (answer()) */
        PQsetnonblocking(d->conn, 1);
        /* "relation already exists, skipping" and the like: nothing an operator acts on */
        PQsetNoticeProcessor(d->conn, ignore_notice, NULL);
        /* The server gives up on a statement a little before dawnd gives up on the
         * server, so that a slow but live database answers "canceled" (EBUSY: this
         * batch is refused) and keeps the connection; a statement stuck behind
         * another node's lock waits at most half of that. */
        int64_t ms = d->timeout_usec / 1000;
        d->lock_timeout_ms = ms / 2;
        /* A transaction this node leaves open on a connection it gave up on (a split, no
         * reset) holds its locks until the server notices: then at once, not hours later
         * at TCP's own pace (and a node never leaves one idle for long: group commit) */
        int64_t idle = ms * 4 > 10000 ? ms * 4 : 10000;
        char sql[320];
        snprintf(sql, sizeof(sql),
                 "SET statement_timeout = %lld; SET lock_timeout = %lld;"
                 " SET idle_in_transaction_session_timeout = %lld;"
                 " SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3",
                 (long long)(ms > 1500 ? ms - 500 : ms * 3 / 4), (long long)d->lock_timeout_ms, (long long)idle);
        PQclear(run_sql(d, sql));
}

/* Whether the connection is there to use. A lost one (the server restarted, a
 * failover, a network split) is made again without blocking: PQresetStart(),
 * then one step of PQresetPoll() per call, each answered -EAGAIN (try again)
 * until it is back; libpq tries each host of the conninfo in turn, keeping one
 * that takes writes if target_session_attrs says so. Statements prepared on
 * the old connection are prepared again (generation). */
static bool connected(struct pg_db *d)
{
        if (!d->resetting && !d->broken && PQstatus(d->conn) == CONNECTION_OK)
                return true;
        /* libpq leaves the time a connection may take to the caller of PQresetPoll():
         * a host that takes the TCP connection and never answers (a stopped server)
         * would keep it waiting for ever, so it starts again after store.timeout */
        if (d->resetting && (uint64_t)dawn_monotonic_usec() - d->reset_started > (uint64_t)d->timeout_usec)
                d->resetting = false;
        if (!d->resetting) {
                if (!d->away)
                        fprintf(stderr, "dawnd: store: the PostgreSQL connection was lost; making it again\n");
                if (!d->away && PQbackendPID(d->conn) > 0)
                        d->old_backend = PQbackendPID(d->conn);
                d->away = true;
                d->broken = false; /* PQresetStart() closes the socket given up on */
                d->reset_started = (uint64_t)dawn_monotonic_usec();
                if (!PQresetStart(d->conn)) {
                        note_error(d, -EAGAIN, PQerrorMessage(d->conn));
                        return false;
                }
                d->resetting = true;
        }
        switch (PQresetPoll(d->conn)) {
        case PGRES_POLLING_OK:
                d->resetting = d->away = false;
                d->generation++;
                session_setup(d);
                fprintf(stderr, "dawnd: store: the PostgreSQL connection is back\n");
                if (d->old_backend > 0) {
                        /* what the old connection still holds (a transaction whose COMMIT never
                         * arrived, its locks) ends now: only a process of this node's own
                         * (its application_name), never this one, and none of another host's */
                        char sql[256];
                        snprintf(sql, sizeof(sql),
                                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %d"
                                 " AND pid <> pg_backend_pid() AND application_name = current_setting('application_name')",
                                 d->old_backend);
                        PQclear(run_sql(d, sql));
                        d->old_backend = 0;
                }
                if (d->in_tx)
                        d->tx_lost = true;
                return !d->broken;
        case PGRES_POLLING_FAILED:
                d->resetting = false; /* the next call starts again */
                note_error(d, -EAGAIN, PQerrorMessage(d->conn));
                return false;
        default:
                note_error(d, -EAGAIN, "the database is away; reconnecting");
                return false;
        }
}

/* The transaction a statement belongs to was lost with the connection, and
 * the store has not yet been told (in_transaction(), BEGIN or ROLLBACK). */
static bool refuse_lost_tx(struct pg_db *d)
{
        if (!d->tx_lost)
                return false;
        note_error(d, -EAGAIN, "the transaction was lost with the connection");
        return true;
}

static int prepare_on_server(struct pg_db *d, struct pg_stmt *st)
{
        if (!connected(d) || refuse_lost_tx(d))
                return d->last_error;
        bool was_in_tx = in_tx_status(tx_status(d));
        PGresult *res = answer(d, PQsendPrepare(d->conn, st->name, st->sql, st->nparams, NULL), d->timeout_usec);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                note_error(d, pg_to_errno(d, res), result_error(d, res));
                PQclear(res);
                after_call(d, was_in_tx, false);
                return d->last_error;
        }
        PQclear(res);
        /* the columns a row will have, known before it runs, as SQLite knows them */
        res = answer(d, PQsendDescribePrepared(d->conn, st->name), d->timeout_usec);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                note_error(d, pg_to_errno(d, res), result_error(d, res));
                PQclear(res);
                after_call(d, was_in_tx, false);
                return d->last_error;
        }
        st->columns = PQnfields(res);
        PQclear(res);
        st->prepared_on = d->generation;
        return 0;
}

static struct db_stmt *pg_prepare(struct db *db, const char *sql)
{
        struct pg_db *d = DB(db);
        struct pg_stmt *st = calloc(1, sizeof(*st));
        if (!st || !(st->sql = translate(sql, st->map, &st->nparams))) {
                note_error(d, -ENOMEM, st && st->sql ? "too many parameters" : "out of memory");
                if (st)
                        free(st->sql);
                free(st);
                return NULL;
        }
        st->base.db = db;
        snprintf(st->name, sizeof(st->name), "dawn%u", ++d->next_name);
        st->returns_insert_id = strncmp(sql, "INSERT", 6) == 0 && ends_with(sql, " RETURNING id");
        st->row = -1;
        /* now, as SQLite does: a statement the server refuses is found at once */
        if (prepare_on_server(d, st) < 0) {
                free(st->sql);
                free(st);
                return NULL;
        }
        return &st->base;
}

static void pg_reset(struct db_stmt *s)
{
        struct pg_stmt *st = ST(s);
        PQclear(st->result);
        st->result = NULL;
        st->row = -1;
        st->rows = 0;
        for (int i = 0; i < PG_MAX_PARAMS; i++) {
                free(st->params[i]);
                st->params[i] = NULL;
        }
}

static void pg_finalize(struct db_stmt *s)
{
        struct pg_stmt *st = ST(s);
        struct pg_db *d = DB(s->db);
        pg_reset(s);
        /* the server keeps a prepared statement until its connection ends */
        if (st->prepared_on && st->prepared_on == d->generation && !d->broken && !d->resetting &&
            PQstatus(d->conn) == CONNECTION_OK) {
                char sql[48];
                snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
                PQclear(run_sql(d, sql));
        }
        free(st->sql);
        free(st);
}

static void pg_bind_text(struct db_stmt *s, int i, const char *v)
{
        struct pg_stmt *st = ST(s);
        if (i < 1 || i > PG_MAX_PARAMS || !st->map[i])
                return;
        int k = st->map[i] - 1;
        free(st->params[k]);
        st->params[k] = v ? strdup(v) : NULL;
}

static void pg_bind_int64(struct db_stmt *s, int i, int64_t v)
{
        char text[24];
        snprintf(text, sizeof(text), "%lld", (long long)v);
        pg_bind_text(s, i, text);
}

static int pg_step(struct db_stmt *s)
{
        struct pg_stmt *st = ST(s);
        struct pg_db *d = DB(s->db);
        if (st->row >= 0) {
                if (st->row < st->rows) {
                        st->row++;
                        return DB_ROW;
                }
                return DB_DONE;
        }
        if (!connected(d) || refuse_lost_tx(d))
                return d->last_error;
        if (st->prepared_on != d->generation && prepare_on_server(d, st) < 0)
                return d->last_error;
        bool was_in_tx = in_tx_status(tx_status(d));
        PGresult *res = answer(d,
                               PQsendQueryPrepared(d->conn, st->name, st->nparams, (const char *const *)st->params,
                                                   NULL, NULL, 0),
                               d->timeout_usec);
        ExecStatusType status = PQresultStatus(res);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
                note_error(d, pg_to_errno(d, res), result_error(d, res));
                PQclear(res);
                after_call(d, was_in_tx, false);
                return d->last_error;
        }
        d->last_error = 0;
        if (strncmp(st->sql, "ROLLBACK TO", 11) == 0)
                d->tx_error = 0; /* the savepoint took the error back: the transaction goes on */
        const char *tuples = PQcmdTuples(res);
        d->changes = tuples && *tuples ? strtoll(tuples, NULL, 10) : 0;
        if (st->returns_insert_id) {
                if (PQntuples(res) > 0)
                        d->last_insert_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
                PQclear(res);
                st->row = st->rows = 0;
                return DB_DONE;
        }
        st->result = res;
        st->rows = status == PGRES_TUPLES_OK ? PQntuples(res) : 0;
        st->row = 0;
        if (st->rows == 0)
                return DB_DONE;
        st->row = 1;
        return DB_ROW;
}

/* the row step() last returned */
static const char *value(struct pg_stmt *st, int i)
{
        if (!st->result || st->row < 1 || st->row > st->rows || i < 0 || i >= PQnfields(st->result) ||
            PQgetisnull(st->result, st->row - 1, i))
                return NULL;
        return PQgetvalue(st->result, st->row - 1, i);
}

static int64_t pg_column_int64(struct db_stmt *s, int i)
{
        const char *v = value(ST(s), i);
        if (!v)
                return 0;
        /* a boolean column reads as SQLite's 1 and 0 */
        if (v[0] == 't' && v[1] == '\0')
                return 1;
        if (v[0] == 'f' && v[1] == '\0')
                return 0;
        return strtoll(v, NULL, 10);
}

static const char *pg_column_text(struct db_stmt *s, int i)
{
        return value(ST(s), i);
}

static bool pg_column_null(struct db_stmt *s, int i)
{
        return value(ST(s), i) == NULL;
}

static int pg_column_count(struct db_stmt *s)
{
        return ST(s)->columns;
}

static int64_t pg_changes(struct db *db)
{
        return DB(db)->changes;
}

static int64_t pg_last_insert_id(struct db *db)
{
        return DB(db)->last_insert_id;
}

static int pg_exec(struct db *db, const char *sql)
{
        struct pg_db *d = DB(db);
        if (d->tx_lost && strcmp(sql, "ROLLBACK") == 0) {
                d->tx_lost = d->in_tx = false; /* gone already, with its connection */
                d->token[0] = '\0';
                return 0;
        }
        if (!connected(d))
                return d->last_error;
        if (strncmp(sql, "BEGIN", 5) == 0)
                d->tx_lost = false;
        else if (refuse_lost_tx(d))
                return d->last_error;
        bool was_in_tx = in_tx_status(tx_status(d));
        bool commit = strcmp(sql, "COMMIT") == 0;
        PGresult *res = NULL;
        if (commit && d->lose_next_commit) { /* tests: the network's fault, made to order */
                if (d->lose_next_commit == 1)
                        PQclear(run_sql(d, sql));
                d->lose_next_commit = 0;
                d->broken = true;
                note_error(d, -EAGAIN, "the connection was lost during COMMIT (test)");
        } else {
                res = run_sql(d, sql);
        }
        ExecStatusType status = PQresultStatus(res);
        int r = 0;
        if (commit && !res && d->token[0] && (d->broken || PQstatus(d->conn) != CONNECTION_OK)) {
                /* sent, and no answer: kept or not, only the database knows (commit_outcome) */
                snprintf(d->unknown_token, sizeof(d->unknown_token), "%s", d->token);
                d->token[0] = '\0';
                d->in_tx = false;
                if (!d->broken)
                        note_error(d, -EAGAIN, PQerrorMessage(d->conn));
                d->last_error = -EINPROGRESS;
                return -EINPROGRESS; /* not rolled back as far as anyone knows: no rollback hook */
        }
        if (commit || strcmp(sql, "ROLLBACK") == 0) {
                d->token[0] = '\0';
                d->in_tx = false;
        }
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
                r = pg_to_errno(d, res);
        else if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0)
                r = d->tx_error ? d->tx_error : -EIO; /* the transaction had failed: COMMIT rolled it back */
        if (r < 0)
                note_error(d, r, r == -EIO && status == PGRES_COMMAND_OK ? "the transaction was rolled back"
                                                                        : result_error(d, res));
        else
                d->last_error = 0;
        PQclear(res);
        after_call(d, was_in_tx, r == 0 && commit);
        return r;
}

static bool pg_in_transaction(struct db *db);

/* Old tokens go, now and then, in a transaction that writes anyway: an
 * outcome is asked for within minutes of the COMMIT, never a day later. */
#define TOKENS_KEPT_SECONDS (24 * 3600)
#define TOKENS_PRUNED_EVERY 1024

static int pg_begin(struct db *db)
{
        struct pg_db *d = DB(db);
        d->tx_error = 0;
        d->token[0] = '\0';
        char token[48], sql[256];
        snprintf(token, sizeof(token), "%016llx-%llu", (unsigned long long)d->token_base,
                 (unsigned long long)++d->transactions);
        /* one round trip: BEGIN and the token (digits, letters and '-': nothing to quote) */
        int n = snprintf(sql, sizeof(sql),
                         "BEGIN; INSERT INTO dawn_commits (token, at) VALUES ('%s', " PG_EPOCH_SQL ")", token);
        if (d->transactions % TOKENS_PRUNED_EVERY == 0)
                snprintf(sql + n, sizeof(sql) - (size_t)n,
                         "; DELETE FROM dawn_commits WHERE at < " PG_EPOCH_SQL " - %d", TOKENS_KEPT_SECONDS);
        int r = pg_exec(db, sql);
        if (r == 0) {
                snprintf(d->token, sizeof(d->token), "%s", token);
                d->in_tx = true;
        }
        else if (pg_in_transaction(db)) /* BEGIN went in, the INSERT did not */
                pg_exec(db, "ROLLBACK");
        return r;
}

static int pg_commit_outcome(struct db *db)
{
        struct pg_db *d = DB(db);
        if (!d->unknown_token[0])
                return -ENOENT;
        if (pg_in_transaction(db))
                return -EAGAIN; /* not between batches: the caller asks again */
        if (!connected(d))
                return -EAGAIN;
        /* The token again, marked as this probe's own: inserted, the lost COMMIT was not
         * kept (and now cannot be); there already, its mark says whose it is, the lost
         * transaction's (kept) or an earlier probe's whose answer was lost too (not kept).
         * Not there yet to this statement (its snapshot began before the transaction it
         * waited for ended): ask again. A short lock wait: an orphaned transaction holding
         * the token is asked about again at the next poll, not waited for in the loop. */
        char sql[384];
        snprintf(sql, sizeof(sql), "SET lock_timeout = 100");
        PQclear(run_sql(d, sql));
        snprintf(sql, sizeof(sql),
                 "WITH probe AS (INSERT INTO dawn_commits (token, at, probe) VALUES ('%s', " PG_EPOCH_SQL ", true)"
                 " ON CONFLICT (token) DO NOTHING RETURNING 1)"
                 " SELECT (SELECT count(*) FROM probe), (SELECT probe FROM dawn_commits WHERE token = '%s')",
                 d->unknown_token, d->unknown_token);
        PGresult *res = run_sql(d, sql);
        int r;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
                const char *mark = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
                r = strcmp(PQgetvalue(res, 0, 0), "1") == 0 ? -ENOENT
                    : !mark                                 ? -EAGAIN
                    : mark[0] == 'f'                        ? 0
                                                            : -ENOENT;
        } else {
                r = pg_to_errno(d, res);
                note_error(d, r, result_error(d, res));
                /* away, or the lost transaction still holds the token: ask again */
                if (r == -EBUSY)
                        r = -EAGAIN;
        }
        PQclear(res);
        if (!d->broken && PQstatus(d->conn) == CONNECTION_OK) {
                snprintf(sql, sizeof(sql), "SET lock_timeout = %lld", (long long)d->lock_timeout_ms);
                PQclear(run_sql(d, sql));
        }
        if (r != -EAGAIN)
                d->unknown_token[0] = '\0';
        return r;
}

static void pg_lose_next_commit(struct db *db, bool sent)
{
        DB(db)->lose_next_commit = sent ? 1 : 2;
}

static bool pg_in_transaction(struct db *db)
{
        struct pg_db *d = DB(db);
        if (d->tx_lost) {
                d->tx_lost = d->in_tx = false; /* the store is told: it is gone */
                return false;
        }
        return in_tx_status(tx_status(d));
}

static int pg_last_error(struct db *db)
{
        return DB(db)->last_error;
}

static const char *pg_errmsg(struct db *db)
{
        struct pg_db *d = DB(db);
        if (d->last_error == 0 && PQstatus(d->conn) != CONNECTION_OK)
                return PQerrorMessage(d->conn);
        return d->errmsg;
}

static void pg_on_rollback(struct db *db, void (*fn)(void *userdata), void *userdata)
{
        DB(db)->rolled_back = fn;
        DB(db)->rolled_back_userdata = userdata;
}

/* The schema, oldest first, as SQLite's (db_sqlite.c) but written for
 * PostgreSQL from the start: its version 1 is SQLite's version 10, and the
 * two go on together from there. Never edit one that has shipped. Where the
 * store reads SQLite's rowid (the order escalation clocks started in), the
 * table has an id of its own, last, so that rows listed in column order fit
 * both. */
static const char *const migrations[] = {
        "CREATE TABLE alerts (id TEXT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE, fingerprint TEXT NOT NULL,"
        "  status TEXT NOT NULL, grade TEXT NOT NULL, revision BIGINT NOT NULL, issued_at BIGINT NOT NULL,"
        "  updated_at BIGINT NOT NULL, expires_at BIGINT, json TEXT NOT NULL, type TEXT NOT NULL DEFAULT '',"
        "  area TEXT NOT NULL DEFAULT '', cluster_id TEXT, pruned_at BIGINT);"
        "CREATE INDEX alerts_by_expiry ON alerts(expires_at) WHERE status IN ('active', 'pending');"
        "CREATE INDEX alerts_by_type ON alerts(type, updated_at);"
        "CREATE INDEX alerts_open_by_area ON alerts(type, area, updated_at) WHERE status IN ('active', 'pending');"
        "CREATE INDEX reports_unclustered ON alerts(area, updated_at)"
        "  WHERE type = 'nfod' AND cluster_id IS NULL AND status IN ('active', 'pending', 'expired');"
        "CREATE INDEX alerts_ended ON alerts(updated_at) WHERE status IN ('cancelled', 'expired') AND pruned_at IS NULL;"
        "CREATE INDEX alerts_open_by_fingerprint ON alerts(fingerprint, updated_at)"
        "  WHERE status IN ('active', 'pending');"
        "CREATE TABLE revisions (alert_id TEXT NOT NULL REFERENCES alerts(id), revision BIGINT NOT NULL,"
        "  created_at BIGINT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (alert_id, revision));"
        "CREATE TABLE corroborations (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id), source TEXT NOT NULL, received_at BIGINT NOT NULL,"
        "  json TEXT NOT NULL, proposal TEXT, repeats BIGINT NOT NULL DEFAULT 1, last_at BIGINT);"
        "CREATE INDEX corroborations_by_alert ON corroborations(alert_id);"
        "CREATE INDEX corroborations_by_source ON corroborations(alert_id, source);"
        "CREATE TABLE submissions (source TEXT NOT NULL, source_ref TEXT NOT NULL,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id), received_at BIGINT NOT NULL, PRIMARY KEY (source, source_ref));"
        "CREATE TABLE audit (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL,"
        "  actor TEXT NOT NULL, action TEXT NOT NULL, alert_id TEXT, detail TEXT);"
        "CREATE INDEX audit_by_alert ON audit(alert_id, at);"
        "CREATE INDEX audit_by_time ON audit(at);"
        "CREATE TABLE outbox (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id), revision BIGINT NOT NULL, subscriber TEXT NOT NULL,"
        "  channel TEXT NOT NULL, recipient TEXT NOT NULL, action TEXT NOT NULL,"
        "  state TEXT NOT NULL DEFAULT 'pending', attempts BIGINT NOT NULL DEFAULT 0,"
        "  next_at BIGINT NOT NULL DEFAULT 0, last_error TEXT, created_at BIGINT NOT NULL,"
        "  updated_at BIGINT NOT NULL, purpose TEXT NOT NULL DEFAULT 'alert', about TEXT NOT NULL DEFAULT '',"
        "  claimed_by TEXT, claimed_until BIGINT,"
        "  UNIQUE (alert_id, revision, subscriber, channel, recipient, purpose, about));"
        "CREATE INDEX outbox_waiting ON outbox(channel, next_at) WHERE state IN ('pending', 'retrying');"
        "CREATE INDEX outbox_in_flight ON outbox(channel) WHERE state = 'in-flight';"
        "CREATE INDEX outbox_by_alert ON outbox(alert_id);"
        "CREATE TABLE outbox_ended_saved (channel TEXT NOT NULL, state TEXT NOT NULL,"
        "  deliveries BIGINT NOT NULL, PRIMARY KEY (channel, state));"
        "CREATE TABLE acks (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id), revision BIGINT NOT NULL, subscriber TEXT NOT NULL,"
        "  via TEXT NOT NULL, by TEXT NOT NULL, at BIGINT NOT NULL, UNIQUE (alert_id, subscriber, via, by, revision));"
        "CREATE TABLE sms_optouts (number TEXT PRIMARY KEY, via TEXT NOT NULL, since BIGINT NOT NULL);"
        "CREATE TABLE twilio_requests (sid TEXT NOT NULL, kind TEXT NOT NULL, seen_at BIGINT NOT NULL,"
        "  keep_until BIGINT NOT NULL, PRIMARY KEY (sid, kind));"
        "CREATE INDEX twilio_requests_by_age ON twilio_requests(keep_until);"
        "CREATE TABLE clusters (id TEXT PRIMARY KEY REFERENCES alerts(id), reports BIGINT NOT NULL);"
        "CREATE TABLE proposals (id TEXT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id), corroboration BIGINT NOT NULL REFERENCES corroborations(id),"
        "  source TEXT NOT NULL, status TEXT NOT NULL, grade_from TEXT NOT NULL, grade_to TEXT NOT NULL,"
        "  created_at BIGINT NOT NULL, decided_at BIGINT, decided_by TEXT, reason TEXT, json TEXT NOT NULL);"
        "CREATE INDEX proposals_waiting ON proposals(alert_id) WHERE status = 'pending';"
        "CREATE TABLE merged (alert_id TEXT PRIMARY KEY REFERENCES alerts(id), reports BIGINT NOT NULL,"
        "  evidence TEXT NOT NULL, casualties BIGINT, fatalities BIGINT, adulterants TEXT NOT NULL);"
        "CREATE TABLE escalations (alert_id TEXT NOT NULL REFERENCES alerts(id), subscriber TEXT NOT NULL,"
        "  started_at BIGINT NOT NULL, due_at BIGINT NOT NULL, state TEXT NOT NULL DEFAULT 'waiting',"
        "  decided_at BIGINT, detail TEXT, id BIGINT GENERATED BY DEFAULT AS IDENTITY,"
        "  PRIMARY KEY (alert_id, subscriber));"
        "CREATE INDEX escalations_due ON escalations(due_at) WHERE state = 'waiting';"
        "CREATE TABLE public_subscribers (number TEXT NOT NULL, area TEXT NOT NULL, joined_at BIGINT NOT NULL,"
        "  PRIMARY KEY (number, area));"
        "CREATE INDEX public_subscribers_by_area ON public_subscribers(area);"
        "CREATE TABLE public_joins (number TEXT NOT NULL, day BIGINT NOT NULL, joins BIGINT NOT NULL,"
        "  PRIMARY KEY (number, day));"
        "CREATE TABLE delivery_totals (alert_id TEXT NOT NULL REFERENCES alerts(id), channel TEXT NOT NULL,"
        "  purpose TEXT NOT NULL, state TEXT NOT NULL, deliveries BIGINT NOT NULL,"
        "  PRIMARY KEY (alert_id, channel, purpose, state));"
        "CREATE TABLE delivery_times (alert_id TEXT NOT NULL REFERENCES alerts(id), channel TEXT NOT NULL,"
        "  usec BIGINT NOT NULL);"
        "CREATE INDEX delivery_times_by_alert ON delivery_times(alert_id);"
        "CREATE TABLE sms_replies (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, number TEXT NOT NULL,"
        "  body TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'reply', state TEXT NOT NULL DEFAULT 'pending',"
        "  attempts BIGINT NOT NULL DEFAULT 0, next_at BIGINT NOT NULL DEFAULT 0, last_error TEXT,"
        "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
        "CREATE INDEX sms_replies_due ON sms_replies(next_at) WHERE state IN ('pending', 'retrying');"
        "CREATE INDEX sms_replies_by_number ON sms_replies(number, created_at);"
        "CREATE INDEX sms_replies_ended ON sms_replies(updated_at)"
        "  WHERE state NOT IN ('pending', 'retrying', 'in-flight');"
        /* several nodes (issue 15): who they are and when each last said it was alive;
         * ids from sequences, not max + 1, which two nodes could both read; an outbox
         * row in flight is claimed by one node until its lease runs out */
        "CREATE TABLE nodes (id TEXT PRIMARY KEY, started_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL,"
        "  version TEXT NOT NULL);"
        "CREATE SEQUENCE alert_seq;"
        "CREATE SEQUENCE proposal_seq;"
        "CREATE INDEX outbox_claims ON outbox(claimed_by, claimed_until) WHERE state = 'in-flight';",
        /* 2: a token per transaction, to learn a COMMIT's outcome after its answer was lost */
        "CREATE TABLE dawn_commits (token TEXT PRIMARY KEY, at BIGINT NOT NULL, probe BOOLEAN NOT NULL DEFAULT false);"
        "CREATE INDEX dawn_commits_by_age ON dawn_commits(at);",
        /* 3: SMS replies in flight claimed by one node, as the outbox's rows are */
        "ALTER TABLE sms_replies ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until BIGINT;"
        "CREATE INDEX sms_replies_claims ON sms_replies(claimed_by, claimed_until) WHERE state = 'in-flight';",
        /* 4: a channel's rate limit, one bucket for every node (the provider's limit is the key's) */
        "CREATE TABLE rate_buckets (channel TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL,"
        "  refilled_at BIGINT NOT NULL);",
        /* 5: what status and /metrics count, kept as each node's changes (a row per node, so
         * nodes never wait on each other's counters), summed when read; a store that had
         * rows before starts from a count of them */
        "CREATE TABLE delivery_counts (node TEXT NOT NULL, channel TEXT NOT NULL, state TEXT NOT NULL,"
        "  deliveries BIGINT NOT NULL, PRIMARY KEY (node, channel, state));"
        "INSERT INTO delivery_counts SELECT '', channel, state, count(*) FROM outbox"
        "  WHERE state NOT IN ('pending', 'retrying', 'in-flight') GROUP BY channel, state;"
        "CREATE TABLE alert_counts (node TEXT NOT NULL, status TEXT NOT NULL, grade TEXT NOT NULL,"
        "  alerts BIGINT NOT NULL, PRIMARY KEY (node, status, grade));"
        "INSERT INTO alert_counts SELECT '', status, grade, count(*) FROM alerts GROUP BY status, grade;",
};

/* Any number, the same in every dawnd: the lock two nodes starting at once
 * take, so that one migrates and the other finds it done. */
#define MIGRATION_LOCK "4470281001"
#define MIGRATION_TIMEOUT_USEC (120 * 1000000LL)

static int pg_migrate(struct db *db)
{
        /* at start, before any client is served: another node's migration (the lock)
         * and this one's DDL may take longer than a statement ever should */
        int64_t timeout = DB(db)->timeout_usec;
        DB(db)->timeout_usec = timeout > MIGRATION_TIMEOUT_USEC ? timeout : MIGRATION_TIMEOUT_USEC;
        DB(db)->tx_error = 0;
        int r = pg_exec(db, "BEGIN"); /* not pg_begin(): its token's table may not be there yet */
        if (r == 0)
                r = pg_exec(db, "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0");
        if (r == 0)
                r = pg_exec(db, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")");
        if (r == 0)
                r = pg_exec(db, "CREATE TABLE IF NOT EXISTS dawn_schema (version INTEGER NOT NULL)");
        int version = 0;
        if (r == 0) {
                PGresult *res = run_sql(DB(db), "SELECT max(version) FROM dawn_schema");
                if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
                        version = atoi(PQgetvalue(res, 0, 0));
                else if (PQresultStatus(res) != PGRES_TUPLES_OK)
                        r = pg_to_errno(DB(db), res);
                PQclear(res);
        }
        int known = (int)(sizeof(migrations) / sizeof(migrations[0]));
        if (r == 0 && version > known) {
                note_error(DB(db), -EPROTONOSUPPORT, "the schema is newer than this dawnd");
                r = -EPROTONOSUPPORT; /* written by a newer dawnd: refuse rather than guess */
        }
        for (int v = version; r == 0 && v < known; v++) {
                char set_version[80];
                snprintf(set_version, sizeof(set_version), "DELETE FROM dawn_schema; INSERT INTO dawn_schema VALUES (%d)",
                         v + 1);
                r = pg_exec(db, migrations[v]);
                if (r == 0)
                        r = pg_exec(db, set_version);
        }
        if (r == 0)
                r = pg_exec(db, "COMMIT");
        else if (pg_in_transaction(db))
                pg_exec(db, "ROLLBACK");
        DB(db)->timeout_usec = timeout;
        return r;
}

static void pg_close(struct db *db)
{
        PQfinish(DB(db)->conn);
        free(db);
}

static const struct db_ops pg_ops = {
        .name = "postgresql",
        .dialect = DB_DIALECT_POSTGRESQL,
        .prepare = pg_prepare,
        .finalize = pg_finalize,
        .reset = pg_reset,
        .bind_int64 = pg_bind_int64,
        .bind_text = pg_bind_text,
        .step = pg_step,
        .column_int64 = pg_column_int64,
        .column_text = pg_column_text,
        .column_null = pg_column_null,
        .column_count = pg_column_count,
        .changes = pg_changes,
        .last_insert_id = pg_last_insert_id,
        .exec = pg_exec,
        .begin = pg_begin,
        .in_transaction = pg_in_transaction,
        .last_error = pg_last_error,
        .errmsg = pg_errmsg,
        .on_rollback = pg_on_rollback,
        .migrate = pg_migrate,
        .close = pg_close,
        .commit_outcome = pg_commit_outcome,
        .lose_next_commit = pg_lose_next_commit,
};

static void ignore_notice(void *userdata, const char *message)
{
        (void)userdata;
        (void)message;
}

int db_pg_open(const struct dawn_store_options *o, struct db **out)
{
        struct pg_db *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->base.ops = &pg_ops;
        char application[64];
        snprintf(application, sizeof(application), "dawnd %s", o->node && *o->node ? o->node : "");
        /* conninfo may name several hosts and target_session_attrs=read-write: libpq tries
         * them in turn and keeps the primary (a failover moves it) */
        const char *keys[] = { "dbname", "password", "application_name", "connect_timeout", NULL };
        const char *values[] = { o->conninfo, o->password, application, "10", NULL };
        if (!o->password) {
                keys[1] = "application_name";
                values[1] = application;
                keys[2] = "connect_timeout";
                values[2] = "10";
                keys[3] = values[3] = NULL;
        }
        d->conn = PQconnectdbParams(keys, values, 1);
        if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
                fprintf(stderr, "dawnd: store postgresql: %s\n", d->conn ? PQerrorMessage(d->conn) : "out of memory");
                PQfinish(d->conn);
                free(d);
                return -EAGAIN;
        }
        d->generation = 1;
        if (getrandom(&d->token_base, sizeof(d->token_base), 0) != sizeof(d->token_base))
                d->token_base = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
        d->timeout_usec = o->timeout_usec > 0 ? o->timeout_usec : DAWN_STORE_TIMEOUT_USEC;
        session_setup(d);
        *out = &d->base;
        return 0;
}
