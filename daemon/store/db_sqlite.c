/* The SQLite backend (db.h): one file in WAL mode, synchronous = FULL, the
 * embedded default. Its schema is PRAGMA user_version's migrations below. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "db.h"
#include "store.h"
#include "wal_gather.h"

/* Migrations, oldest first: entry i takes the schema from version i to
 * version i + 1 (PRAGMA user_version). Never edit one that has shipped;
 * append a new one. */
static const char *const migrations[] = {
        /* 1: alerts, their revisions and corroborating reports; idempotency
         * keys; the audit log; the outbox. Times are microseconds since the
         * epoch (UTC). */
        "CREATE TABLE alerts ("
        "  id TEXT PRIMARY KEY,"
        "  seq INTEGER NOT NULL UNIQUE,"
        "  fingerprint TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  grade TEXT NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  issued_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  expires_at INTEGER,"
        "  json TEXT NOT NULL);"
        "CREATE INDEX alerts_by_fingerprint ON alerts(fingerprint, status, updated_at);"
        "CREATE TABLE revisions ("
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  revision INTEGER NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  json TEXT NOT NULL,"
        "  PRIMARY KEY (alert_id, revision));"
        "CREATE TABLE corroborations ("
        "  id INTEGER PRIMARY KEY,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  source TEXT NOT NULL,"
        "  received_at INTEGER NOT NULL,"
        "  json TEXT NOT NULL);"
        "CREATE INDEX corroborations_by_alert ON corroborations(alert_id);"
        "CREATE TABLE submissions ("
        "  source TEXT NOT NULL,"
        "  source_ref TEXT NOT NULL,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  received_at INTEGER NOT NULL,"
        "  PRIMARY KEY (source, source_ref));"
        "CREATE TABLE audit ("
        "  id INTEGER PRIMARY KEY,"
        "  at INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  alert_id TEXT,"
        "  detail TEXT);"
        "CREATE TABLE outbox ("
        "  id INTEGER PRIMARY KEY,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  revision INTEGER NOT NULL,"
        "  subscriber TEXT NOT NULL,"
        "  channel TEXT NOT NULL,"
        "  recipient TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  state TEXT NOT NULL DEFAULT 'pending',"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  next_at INTEGER NOT NULL DEFAULT 0,"
        "  last_error TEXT,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  UNIQUE (alert_id, revision, subscriber, channel, recipient));"
        "CREATE INDEX outbox_waiting ON outbox(channel, next_at) WHERE state IN ('pending', 'retrying');"
        "CREATE INDEX outbox_by_state ON outbox(channel, state);",
        /* 2: finding the alerts due to expire without reading them all */
        "CREATE INDEX alerts_by_expiry ON alerts(expires_at) WHERE status IN ('active', 'pending');",
        /* 3: partner intake. The alert's type as a column, so that cluster
         * detection finds the recent overdose reports without reading every
         * alert; acknowledgements (SMS "ACK A17", dashboards); numbers that
         * replied STOP. */
        "ALTER TABLE alerts ADD COLUMN type TEXT NOT NULL DEFAULT '';"
        "UPDATE alerts SET type = json_extract(json, '$.type');"
        "CREATE INDEX alerts_by_type ON alerts(type, updated_at);"
        "CREATE TABLE acks ("
        "  id INTEGER PRIMARY KEY,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  revision INTEGER NOT NULL,"
        "  subscriber TEXT NOT NULL,"
        "  via TEXT NOT NULL,"
        "  by TEXT NOT NULL,"
        "  at INTEGER NOT NULL,"
        "  UNIQUE (alert_id, subscriber, via, by, revision));"
        "CREATE TABLE sms_optouts ("
        "  number TEXT PRIMARY KEY,"
        "  via TEXT NOT NULL,"
        "  since INTEGER NOT NULL);",
        /* 4: Twilio requests already taken, so that a replayed one (its
         * signature has no time in it) changes nothing: a status callback is
         * one of a kind by (MessageSid, status), a received text by its
         * MessageSid (kind 'inbound'). Kept until keep_until, then pruned. */
        "CREATE TABLE twilio_requests ("
        "  sid TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  seen_at INTEGER NOT NULL,"
        "  keep_until INTEGER NOT NULL,"
        "  PRIMARY KEY (sid, kind));"
        "CREATE INDEX twilio_requests_by_age ON twilio_requests(keep_until);",
        /* 5: review means review, and clusters at a bounded cost. Touches
         * only what it adds, so that it applies whatever other migration
         * runs before it.
         * - The area as a column, indexed, so that cluster detection finds
         *   the reports and clusters of related areas without reading JSON.
         * - cluster_id: the cluster an overdose report counts in; a report
         *   is counted towards one cluster only, so the reports still to be
         *   clustered stay few however full the window is.
         * - clusters: how many reports each cluster stands on (its sums
         *   and sets are in its own alert, kept up to date as reports join).
         * - A corroboration held for an officer names its proposal; the
         *   proposals table holds the decision. Existing data is carried
         *   over: areas from the JSON, and clusters' reports and counts
         *   from their corroborations. */
        "ALTER TABLE alerts ADD COLUMN area TEXT NOT NULL DEFAULT '';"
        "UPDATE alerts SET area = coalesce(json_extract(json, '$.area'), '');"
        "ALTER TABLE alerts ADD COLUMN cluster_id TEXT;"
        "ALTER TABLE corroborations ADD COLUMN proposal TEXT;"
        "CREATE TABLE clusters ("
        "  id TEXT PRIMARY KEY REFERENCES alerts(id),"
        "  reports INTEGER NOT NULL);"
        "INSERT INTO clusters (id, reports) SELECT a.id,"
        "  (SELECT count(*) FROM corroborations c WHERE c.alert_id = a.id) FROM alerts a WHERE a.type = 'cluster';"
        "CREATE TEMP TABLE v5_report_cluster AS SELECT json_extract(c.json, '$.id') AS report, c.alert_id AS cluster"
        "  FROM corroborations c JOIN alerts a ON a.id = c.alert_id WHERE a.type = 'cluster';"
        "CREATE INDEX temp.v5_report_cluster_by_report ON v5_report_cluster(report);"
        "UPDATE alerts SET cluster_id = (SELECT cluster FROM v5_report_cluster WHERE report = alerts.id LIMIT 1)"
        "  WHERE type = 'nfod';"
        "DROP TABLE temp.v5_report_cluster;"
        "CREATE INDEX alerts_open_by_area ON alerts(type, area, updated_at) WHERE status IN ('active', 'pending');"
        "CREATE INDEX reports_unclustered ON alerts(area, updated_at)"
        "  WHERE type = 'nfod' AND cluster_id IS NULL AND status IN ('active', 'pending', 'expired');"
        "CREATE TABLE proposals ("
        "  id TEXT PRIMARY KEY,"
        "  seq INTEGER NOT NULL UNIQUE,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  corroboration INTEGER NOT NULL REFERENCES corroborations(id),"
        "  source TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  grade_from TEXT NOT NULL,"
        "  grade_to TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  decided_at INTEGER,"
        "  decided_by TEXT,"
        "  reason TEXT,"
        "  json TEXT NOT NULL);"
        "CREATE INDEX proposals_waiting ON proposals(alert_id) WHERE status = 'pending';",
        /* 6: merged reports at a bounded cost, however many an alert has.
         * Touches only what it adds.
         * - merged: what an alert's counted corroborations say together (the
         *   strongest evidence, the largest counts, the adulterants in the
         *   order first seen: dawn_grade_fold), kept up to date as each
         *   joins, so that grading one more reads one row, not all of them.
         *   Clusters have sums of their own (5) and no row here.
         * - A corroboration its source repeats word for word is one row
         *   that counts its repeats (and when the last came); the latest
         *   from a source is found by index.
         * Existing data is carried over: each alert's sums from its counted
         *   corroborations, oldest first. */
        "ALTER TABLE corroborations ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;"
        "ALTER TABLE corroborations ADD COLUMN last_at INTEGER;"
        "CREATE INDEX corroborations_by_source ON corroborations(alert_id, source);"
        "CREATE TABLE merged ("
        "  alert_id TEXT PRIMARY KEY REFERENCES alerts(id),"
        "  reports INTEGER NOT NULL,"
        "  evidence TEXT NOT NULL,"
        "  casualties INTEGER,"
        "  fatalities INTEGER,"
        "  adulterants TEXT NOT NULL);"
        "INSERT INTO merged (alert_id, reports, evidence, casualties, fatalities, adulterants)"
        "  SELECT c.alert_id, count(*),"
        "    CASE max(CASE json_extract(c.json, '$.evidence') WHEN 'toxicology' THEN 2 WHEN 'clinical' THEN 1 ELSE 0 END)"
        "      WHEN 2 THEN 'toxicology' WHEN 1 THEN 'clinical' ELSE 'reported' END,"
        "    max(json_extract(c.json, '$.casualties')), max(json_extract(c.json, '$.fatalities')), '[]'"
        "  FROM corroborations c JOIN alerts a ON a.id = c.alert_id"
        "  WHERE a.type <> 'cluster' AND c.proposal IS NULL GROUP BY c.alert_id;"
        "UPDATE merged SET adulterants = (SELECT json_group_array(value) FROM"
        "  (SELECT j.value AS value FROM corroborations c, json_each(c.json, '$.adulterants') j"
        "   WHERE c.alert_id = merged.alert_id AND c.proposal IS NULL AND j.type = 'text'"
        "   GROUP BY j.value ORDER BY min(c.id * 1000 + j.key) LIMIT 32));",
        /* 7: closing the loop. Touches only what it adds, except the outbox,
         * which is rebuilt because its identity changes.
         * - A delivery's identity adds its purpose ('alert': what a
         *   subscriber's rules send; 'escalation'; 'public': a text to a
         *   member of the public who texted JOIN) and what it is about (for
         *   an escalation, the subscriber who did not acknowledge), so that
         *   an escalation to a duty officer who already has that revision is
         *   a delivery of its own, not a duplicate INSERT OR IGNORE drops.
         * - escalations: one clock per alert and subscriber, started when the
         *   first revision with an escalating grade was queued for it; due_at
         *   is stored so that a restart keeps the deadline. state: 'waiting',
         *   'acknowledged', 'escalated' or 'stopped' (cancelled or expired).
         * - public_subscribers: a number and the areas it joined, nothing
         *   else; public_joins counts JOINs per number per day (the cap).
         * - Retention: pruned_at marks an ended alert whose delivery rows
         *   were removed; delivery_totals keeps its counts per channel,
         *   purpose and state, delivery_times the time each delivered one
         *   took (no recipient), for `dawnctl show` and the summary. */
        "CREATE TABLE outbox7 ("
        "  id INTEGER PRIMARY KEY,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  revision INTEGER NOT NULL,"
        "  subscriber TEXT NOT NULL,"
        "  channel TEXT NOT NULL,"
        "  recipient TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  state TEXT NOT NULL DEFAULT 'pending',"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  next_at INTEGER NOT NULL DEFAULT 0,"
        "  last_error TEXT,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  purpose TEXT NOT NULL DEFAULT 'alert',"
        "  about TEXT NOT NULL DEFAULT '',"
        "  UNIQUE (alert_id, revision, subscriber, channel, recipient, purpose, about));"
        "INSERT INTO outbox7 (id, alert_id, revision, subscriber, channel, recipient, action, state, attempts,"
        "  next_at, last_error, created_at, updated_at) SELECT id, alert_id, revision, subscriber, channel,"
        "  recipient, action, state, attempts, next_at, last_error, created_at, updated_at FROM outbox;"
        "DROP TABLE outbox;"
        "ALTER TABLE outbox7 RENAME TO outbox;"
        "CREATE INDEX outbox_waiting ON outbox(channel, next_at) WHERE state IN ('pending', 'retrying');"
        "CREATE INDEX outbox_by_state ON outbox(channel, state);"
        "CREATE TABLE escalations ("
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  subscriber TEXT NOT NULL,"
        "  started_at INTEGER NOT NULL,"
        "  due_at INTEGER NOT NULL,"
        "  state TEXT NOT NULL DEFAULT 'waiting',"
        "  decided_at INTEGER,"
        "  detail TEXT,"
        "  PRIMARY KEY (alert_id, subscriber));"
        "CREATE INDEX escalations_due ON escalations(due_at) WHERE state = 'waiting';"
        "CREATE TABLE public_subscribers ("
        "  number TEXT NOT NULL,"
        "  area TEXT NOT NULL,"
        "  joined_at INTEGER NOT NULL,"
        "  PRIMARY KEY (number, area));"
        "CREATE INDEX public_subscribers_by_area ON public_subscribers(area);"
        "CREATE TABLE public_joins ("
        "  number TEXT NOT NULL,"
        "  day INTEGER NOT NULL,"
        "  joins INTEGER NOT NULL,"
        "  PRIMARY KEY (number, day));"
        "ALTER TABLE alerts ADD COLUMN pruned_at INTEGER;"
        "CREATE INDEX alerts_ended ON alerts(updated_at)"
        "  WHERE status IN ('cancelled', 'expired') AND pruned_at IS NULL;"
        "CREATE TABLE delivery_totals ("
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  channel TEXT NOT NULL,"
        "  purpose TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  deliveries INTEGER NOT NULL,"
        "  PRIMARY KEY (alert_id, channel, purpose, state));"
        "CREATE TABLE delivery_times ("
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  channel TEXT NOT NULL,"
        "  usec INTEGER NOT NULL);"
        "CREATE INDEX delivery_times_by_alert ON delivery_times(alert_id);",
        /* 8: reading the audit trail (dawnctl history, dawnctl audit) at a
         * cost that does not grow with the whole log: an alert's rows by
         * index, and the latest rows by time. Touches only what it adds. */
        "CREATE INDEX audit_by_alert ON audit(alert_id, at); CREATE INDEX audit_by_time ON audit(at);",
        /* 9: replies to texts that came through GOV.UK Notify, which (unlike
         * Twilio's TwiML answer) has no way to text an answer back: each is a
         * durable row the SMS channel sends after the professional deliveries.
         * kind 'stop' is the confirmation of a STOP, the one reply that goes to
         * a number that opted out. Touches only what it adds. */
        "CREATE TABLE sms_replies ("
        "  id INTEGER PRIMARY KEY,"
        "  number TEXT NOT NULL,"
        "  body TEXT NOT NULL,"
        "  kind TEXT NOT NULL DEFAULT 'reply',"
        "  state TEXT NOT NULL DEFAULT 'pending',"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  next_at INTEGER NOT NULL DEFAULT 0,"
        "  last_error TEXT,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL);"
        "CREATE INDEX sms_replies_due ON sms_replies(next_at) WHERE state IN ('pending', 'retrying');"
        "CREATE INDEX sms_replies_by_number ON sms_replies(number, created_at);"
        "CREATE INDEX sms_replies_ended ON sms_replies(updated_at)"
        "  WHERE state NOT IN ('pending', 'retrying', 'in-flight');",
        /* 10: a lean write path (issue 12). Every index is written with every
         * row it holds, and a delivery is written three times (queued, in
         * flight, ended). Touches only what it names.
         * - outbox_by_state (channel, state) held every delivery ever made and
         *   moved each one twice; what needs it is only the few in flight (a
         *   crash's requeue, status): a partial index of those. The ended ones
         *   are counted in memory (struct ended_counts), saved in
         *   outbox_ended_saved at a clean close and read back at the next
         *   open; after a crash they are counted once from the outbox.
         * - The open-alert lookup by fingerprint (intake's deduplication) only
         *   ever asks for open alerts, newest first: a partial index of those,
         *   in that order, instead of one over every alert ever made.
         * - submissions are looked up only by their key: WITHOUT ROWID, one
         *   b-tree instead of a table and its key's index. */
        "DROP INDEX outbox_by_state;"
        "CREATE INDEX outbox_in_flight ON outbox(channel) WHERE state = 'in-flight';"
        "CREATE TABLE outbox_ended_saved ("
        "  channel TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  deliveries INTEGER NOT NULL,"
        "  PRIMARY KEY (channel, state)) WITHOUT ROWID;"
        "DROP INDEX alerts_by_fingerprint;"
        "CREATE INDEX alerts_open_by_fingerprint ON alerts(fingerprint, updated_at) WHERE status IN ('active', 'pending');"
        "CREATE TABLE submissions10 ("
        "  source TEXT NOT NULL,"
        "  source_ref TEXT NOT NULL,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  received_at INTEGER NOT NULL,"
        "  PRIMARY KEY (source, source_ref)) WITHOUT ROWID;"
        "INSERT INTO submissions10 (source, source_ref, alert_id, received_at)"
        "  SELECT source, source_ref, alert_id, received_at FROM submissions;"
        "DROP TABLE submissions;"
        "ALTER TABLE submissions10 RENAME TO submissions;",
        /* 11: the dawnd nodes that use this store (issue 15): each one's id and when it
         * last said it was alive, for dawnctl status. On SQLite there is one; on
         * PostgreSQL (db_pg.c) there may be several. Touches only what it adds. */
        ("CREATE TABLE nodes (id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL,"
         "  version TEXT NOT NULL);"),
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == DAWN_STORE_SCHEMA_VERSION,
               "DAWN_STORE_SCHEMA_VERSION must count the migrations");

struct sqlite_db {
        struct db base;
        sqlite3 *db;
        struct dawn_checkpointer *checkpointer; /* NULL: SQLite checkpoints inside commits */
        void (*rolled_back)(void *userdata);
        void *rolled_back_userdata;
};

struct sqlite_stmt {
        struct db_stmt base;
        sqlite3_stmt *st;
};

#define DB(d) ((struct sqlite_db *)(d))
#define ST(s) (((struct sqlite_stmt *)(s))->st)

static int sqlite_to_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        default:
                return -EIO;
        }
}

static struct db_stmt *sq_prepare(struct db *d, const char *sql)
{
        struct sqlite_stmt *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        if (sqlite3_prepare_v3(DB(d)->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL) != SQLITE_OK) {
                free(s);
                return NULL;
        }
        s->base.db = d;
        return &s->base;
}

static void sq_finalize(struct db_stmt *st)
{
        sqlite3_finalize(ST(st));
        free(st);
}

static void sq_reset(struct db_stmt *st)
{
        sqlite3_reset(ST(st));
        sqlite3_clear_bindings(ST(st));
}

static void sq_bind_int64(struct db_stmt *st, int i, int64_t v)
{
        sqlite3_bind_int64(ST(st), i, v);
}

static void sq_bind_text(struct db_stmt *st, int i, const char *v)
{
        if (v)
                sqlite3_bind_text(ST(st), i, v, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(ST(st), i);
}

static int sq_step(struct db_stmt *st)
{
        int rc = sqlite3_step(ST(st));
        if (rc == SQLITE_ROW)
                return DB_ROW;
        if (rc == SQLITE_DONE)
                return DB_DONE;
        int r = sqlite_to_errno(rc);
        return r < 0 ? r : -EIO;
}

static int64_t sq_column_int64(struct db_stmt *st, int i)
{
        return sqlite3_column_int64(ST(st), i);
}

static const char *sq_column_text(struct db_stmt *st, int i)
{
        return (const char *)sqlite3_column_text(ST(st), i);
}

static bool sq_column_null(struct db_stmt *st, int i)
{
        return sqlite3_column_type(ST(st), i) == SQLITE_NULL;
}

static int sq_column_count(struct db_stmt *st)
{
        return sqlite3_column_count(ST(st));
}

static int64_t sq_changes(struct db *d)
{
        return sqlite3_changes(DB(d)->db);
}

static int64_t sq_last_insert_id(struct db *d)
{
        return sqlite3_last_insert_rowid(DB(d)->db);
}

static int sq_exec(struct db *d, const char *sql)
{
        return sqlite_to_errno(sqlite3_exec(DB(d)->db, sql, NULL, NULL, NULL));
}

static int sq_begin(struct db *d)
{
        /* the write lock now, not at the first write: a batch never fails half way for it */
        return sq_exec(d, "BEGIN IMMEDIATE");
}

static bool sq_in_transaction(struct db *d)
{
        return !sqlite3_get_autocommit(DB(d)->db);
}

static int sq_last_error(struct db *d)
{
        return sqlite_to_errno(sqlite3_errcode(DB(d)->db));
}

static const char *sq_errmsg(struct db *d)
{
        return sqlite3_errmsg(DB(d)->db);
}

static void sq_hook(void *userdata)
{
        struct sqlite_db *d = userdata;
        if (d->rolled_back)
                d->rolled_back(d->rolled_back_userdata);
}

static void sq_on_rollback(struct db *d, void (*fn)(void *userdata), void *userdata)
{
        DB(d)->rolled_back = fn;
        DB(d)->rolled_back_userdata = userdata;
        sqlite3_rollback_hook(DB(d)->db, fn ? sq_hook : NULL, d);
}

static int sq_migrate(struct db *d)
{
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(DB(d)->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
                return sq_last_error(d);
        int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        int known = (int)(sizeof(migrations) / sizeof(migrations[0]));
        if (version > known)
                return -EPROTONOSUPPORT; /* written by a newer dawnd: refuse rather than guess */
        for (int v = version; v < known; v++) {
                char set_version[64];
                snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", v + 1);
                int r = sq_begin(d);
                if (r == 0)
                        r = sq_exec(d, migrations[v]);
                if (r == 0)
                        r = sq_exec(d, set_version);
                if (r == 0)
                        r = sq_exec(d, "COMMIT");
                if (r < 0) {
                        sq_exec(d, "ROLLBACK");
                        return r;
                }
        }
        return 0;
}

static void sq_close(struct db *d)
{
        /* first, so that the close below is the last connection's and checkpoints it all */
        DB(d)->checkpointer = dawn_checkpointer_stop(DB(d)->db, DB(d)->checkpointer);
        sqlite3_close(DB(d)->db);
        free(d);
}

/* SQLite's own count of the virtual machine's steps: what a statement cost,
 * whatever the machine is doing (the tests that bound a query's reads) */
static uint64_t sq_work_done(struct db *d, struct db_stmt *const *stmts, size_t n)
{
        (void)d;
        uint64_t steps = 0;
        for (size_t i = 0; i < n; i++)
                if (stmts[i])
                        steps += (uint64_t)sqlite3_stmt_status(ST(stmts[i]), SQLITE_STMTSTATUS_VM_STEP, 0);
        return steps;
}

static int sq_checkpoint_truncate(struct db *d)
{
        if (!sqlite3_get_autocommit(DB(d)->db))
                return -EBUSY; /* a batch is open: its pages are not in the log yet */
        int rc = sqlite3_wal_checkpoint_v2(DB(d)->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY : sqlite_to_errno(rc);
}

static int sq_checkpoint_in_background(struct db *d, const char *path)
{
        if (DB(d)->checkpointer)
                return 0;
        return dawn_checkpointer_start(DB(d)->db, path, &DB(d)->checkpointer);
}

static int sq_limit_growth(struct db *d, int pages)
{
        char sql[96];
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(DB(d)->db, "PRAGMA page_count", -1, &st, NULL) != SQLITE_OK)
                return sq_last_error(d);
        int now = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d", now + pages);
        return sq_exec(d, sql);
}

static const struct db_ops sqlite_ops = {
        .name = "sqlite",
        .dialect = DB_DIALECT_SQLITE,
        .prepare = sq_prepare,
        .finalize = sq_finalize,
        .reset = sq_reset,
        .bind_int64 = sq_bind_int64,
        .bind_text = sq_bind_text,
        .step = sq_step,
        .column_int64 = sq_column_int64,
        .column_text = sq_column_text,
        .column_null = sq_column_null,
        .column_count = sq_column_count,
        .changes = sq_changes,
        .last_insert_id = sq_last_insert_id,
        .exec = sq_exec,
        .begin = sq_begin,
        .in_transaction = sq_in_transaction,
        .last_error = sq_last_error,
        .errmsg = sq_errmsg,
        .on_rollback = sq_on_rollback,
        .migrate = sq_migrate,
        .close = sq_close,
        .work_done = sq_work_done,
        .checkpoint_truncate = sq_checkpoint_truncate,
        .checkpoint_in_background = sq_checkpoint_in_background,
        .limit_growth = sq_limit_growth,
};

/* SQLite counts every allocation it makes under a global mutex, for
 * sqlite3_memory_used(), which dawnd never asks: with a second thread
 * (checkpoint.h) that mutex is real, a lock and an unlock per malloc, 3 % of
 * dawnd's CPU under load. Only possible before SQLite initialises. */
static void sqlite_setup_once(void)
{
        static bool done;
        if (done)
                return;
        done = true;
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        /* Each write in a group commit is a savepoint, so that a failed one is undone
         * alone; past 64 KiB SQLite spills that statement journal to a temporary file,
         * which it created, wrote and unlinked once per commit (five system calls and
         * ~60 KiB of writes). Memory holds it up to DAWN_STORE_STMT_JOURNAL_MEMORY.
         * Not PRAGMA temp_store = MEMORY: that also keeps every sort in memory whatever
         * its size (a GROUP BY over the outbox's history: a row per delivery ever made),
         * and a batch's writes are bounded in number (commit.h), not in bytes (one
         * public text's fan-out, one alert's pruning). */
        sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, DAWN_STORE_STMT_JOURNAL_MEMORY);
        /* each commit's log frames in one write, not two per frame (wal_gather.h); if
         * it cannot be registered, SQLite writes them itself, as before */
        int rc = dawn_wal_gather_register();
        if (rc != SQLITE_OK)
                fprintf(stderr, "dawnd: store: log writes not gathered: %s\n", sqlite3_errstr(rc));
}

int db_sqlite_open(const char *path, struct db **out)
{
        sqlite_setup_once();
        struct sqlite_db *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->base.ops = &sqlite_ops;
        int rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 NULL);
        int r = sqlite_to_errno(rc);
        struct db *db = &d->base;
        /* WAL so readers never block the writer; FULL so a commit survives power loss:
         * "accepted" is only said after it. */
        if (r == 0)
                r = sq_exec(db, "PRAGMA journal_mode = WAL");
        if (r == 0)
                r = sq_exec(db, "PRAGMA synchronous = FULL");
        if (r == 0)
                r = sq_exec(db, "PRAGMA foreign_keys = ON");
        /* what is deleted is overwritten, not left in free space: a number that retention
         * removed (or STOP and erasure requests) must not stay readable in the file */
        if (r == 0)
                r = sq_exec(db, "PRAGMA secure_delete = ON");
        /* 1 MiB of page cache, not SQLite's 2: what the write path touches (the index
         * roots and their rightmost leaves, the waiting deliveries) fits many times over;
         * measured under wrk it costs 0.3 more page reads per alert (from the OS's cache)
         * and keeps dawnd's peak RSS under 20 MiB, two thirds of it shared libraries */
        if (r == 0)
                r = sq_exec(db, "PRAGMA cache_size = -1024");
        if (r == 0)
                r = sqlite_to_errno(sqlite3_busy_timeout(d->db, 5000));
        if (r < 0) {
                /* keep the message: the caller logs nothing more specific otherwise */
                fprintf(stderr, "dawnd: store %s: %s\n", path, d->db ? sqlite3_errmsg(d->db) : "cannot open");
                sq_close(db);
                return r;
        }
        *out = db;
        return 0;
}
