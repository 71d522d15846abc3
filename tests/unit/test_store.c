/* The store's schema versioning and crash recovery: a fresh store gets the
 * current schema version, reopening changes nothing, a store written by a
 * newer dawnd is refused, and deliveries left in flight go back to pending. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cJSON.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "sms_callback.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "store.h"

struct fixture {
        char dir[64];
        char path[96];
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/dawn-store-test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/dawn.db", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
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

static int pragma_int(const char *path, const char *pragma)
{
        sqlite3 *db;
        sqlite3_stmt *st;
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA %s", pragma);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static void test_fresh_store_gets_current_schema_in_wal_mode(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        dawn_store_close(s);
        assert_int_equal(pragma_int(f->path, "user_version"), DAWN_STORE_SCHEMA_VERSION);
        sqlite3 *db;
        sqlite3_open(f->path, &db);
        char **rows;
        int n, cols;
        sqlite3_get_table(db, "PRAGMA journal_mode", &rows, &n, &cols, NULL);
        assert_string_equal(rows[1], "wal");
        sqlite3_free_table(rows);
        sqlite3_close(db);
}

static void test_reopening_keeps_what_was_stored(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = NULL;
        struct dawn_alert a;
        dawn_alert_init(&a);
        a.type = DAWN_TYPE_BATCH;
        a.area = strdup("southampton");
        a.summary = strdup("kept across restarts");
        a.revision = 1;
        a.issued_at = a.updated_at = 1;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_next_alert_id(s, a.id), 0);
        assert_int_equal(dawn_store_save_alert(s, &a, "fp", true), 0);
        assert_int_equal(dawn_store_commit(s), 0);
        dawn_store_close(s);
        dawn_alert_clear(&a);

        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(dawn_store_load_alert(s, "A1", &a), 1);
        assert_string_equal(a.summary, "kept across restarts");
        char id[DAWN_MAX_ID_CHARS + 1];
        assert_int_equal(dawn_store_next_alert_id(s, id), 0);
        assert_string_equal(id, "A2");
        dawn_alert_clear(&a);
        dawn_store_close(s);
        assert_int_equal(pragma_int(f->path, "user_version"), DAWN_STORE_SCHEMA_VERSION);
}

/* What migration 10 changes (the lean write path), changed back. */
#define UNDO_LEAN                                                                                                 \
        "DROP INDEX outbox_in_flight; DROP TABLE outbox_ended_saved;"                                            \
        "CREATE INDEX outbox_by_state ON outbox(channel, state);"                                                \
        "DROP INDEX alerts_open_by_fingerprint;"                                                                 \
        "CREATE INDEX alerts_by_fingerprint ON alerts(fingerprint, status, updated_at);"                         \
        "CREATE TABLE submissions9 (source TEXT NOT NULL, source_ref TEXT NOT NULL,"                             \
        " alert_id TEXT NOT NULL REFERENCES alerts(id), received_at INTEGER NOT NULL,"                           \
        " PRIMARY KEY (source, source_ref));"                                                                    \
        "INSERT INTO submissions9 SELECT * FROM submissions; DROP TABLE submissions;"                            \
        "ALTER TABLE submissions9 RENAME TO submissions;"

/* What migration 11 adds (the nodes on the store, issue 15). */
#define UNDO_NODES "DROP TABLE nodes;"

/* What migration 9 adds (the queue of replies to Notify inbound texts). */
#define UNDO_SMS_REPLIES "DROP TABLE sms_replies;"

/* What migration 8 adds (the audit log's indexes for history and audit). */
#define UNDO_AUDIT_INDEXES "DROP INDEX audit_by_alert; DROP INDEX audit_by_time;"

/* What the closing-the-loop migration (7) adds, taken away again: the outbox
 * rebuilt as version 6 had it, without a delivery's purpose. */

#define UNDO_CLOSING_LOOP                                                                                         \
        "DROP TABLE escalations; DROP TABLE public_subscribers; DROP TABLE public_joins;"                        \
        "DROP TABLE delivery_totals; DROP TABLE delivery_times; DROP INDEX alerts_ended;"                        \
        "ALTER TABLE alerts DROP COLUMN pruned_at;"                                                              \
        "CREATE TABLE outbox6 (id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL REFERENCES alerts(id),"           \
        " revision INTEGER NOT NULL, subscriber TEXT NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL,"  \
        " action TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"      \
        " next_at INTEGER NOT NULL DEFAULT 0, last_error TEXT, created_at INTEGER NOT NULL,"                     \
        " updated_at INTEGER NOT NULL, UNIQUE (alert_id, revision, subscriber, channel, recipient));"            \
        "DROP TABLE outbox; ALTER TABLE outbox6 RENAME TO outbox;"                                               \
        "CREATE INDEX outbox_waiting ON outbox(channel, next_at) WHERE state IN ('pending', 'retrying');"        \
        "CREATE INDEX outbox_by_state ON outbox(channel, state);"

/* What the merged-sums migration (6) adds, taken away again: a fresh store
 * made to look as a version-5 dawnd left it. */
#define UNDO_MERGED                                                                                               \
        "DROP TABLE merged; DROP INDEX corroborations_by_source;"                                               \
        "ALTER TABLE corroborations DROP COLUMN repeats; ALTER TABLE corroborations DROP COLUMN last_at;"

/* What the review-and-clusters migration adds, taken away again: a fresh
 * store made to look as an older dawnd left it. */
#define UNDO_REVIEW_AND_CLUSTERS                                                                                  \
        "DROP TABLE proposals; DROP TABLE clusters; DROP INDEX alerts_open_by_area; DROP INDEX reports_unclustered;" \
        "ALTER TABLE alerts DROP COLUMN area; ALTER TABLE alerts DROP COLUMN cluster_id;"                          \
        "ALTER TABLE corroborations DROP COLUMN proposal;"

/* a store written by the first schema is brought up to date on open */
static void test_schema_1_store_is_migrated(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        dawn_store_close(s);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        /* what version 1 had: no expiry index, no type column, no acks or opt-outs */
        assert_int_equal(sqlite3_exec(db,
                                      UNDO_NODES UNDO_LEAN UNDO_SMS_REPLIES UNDO_AUDIT_INDEXES UNDO_CLOSING_LOOP UNDO_MERGED UNDO_REVIEW_AND_CLUSTERS
                                      "DROP INDEX alerts_by_expiry; DROP INDEX alerts_by_type;"
                                      "ALTER TABLE alerts DROP COLUMN type; DROP TABLE acks; DROP TABLE sms_optouts;"
                                      "DROP TABLE twilio_requests;"
                                      "PRAGMA user_version = 1",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);

        assert_int_equal(dawn_store_open(f->path, &s), 0);
        dawn_store_close(s);
        assert_int_equal(pragma_int(f->path, "user_version"), DAWN_STORE_SCHEMA_VERSION);
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        char **rows;
        int n, cols;
        sqlite3_get_table(db, "SELECT name FROM sqlite_master WHERE name IN ('alerts_by_expiry', 'alerts_by_type', 'acks',"
                          " 'sms_optouts', 'twilio_requests')", &rows, &n, &cols,
                          NULL);
        assert_int_equal(n, 5);
        sqlite3_free_table(rows);
        sqlite3_close(db);
}

/* A store a version-3 dawnd left (overdose reports, a cluster of three of
 * them, one report not in it) is carried over: areas become a column, each
 * clustered report knows its cluster, the cluster its count, and cluster
 * detection then finds them by area. */
static void test_schema_3_store_keeps_its_clusters(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        dawn_store_close(s);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
#define NFOD_ROW(n, area)                                                                                       \
        "INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at, updated_at, expires_at,"  \
        " json, type) VALUES ('A" #n "', " #n ", 'fp" #n "', 'active', 'logged', 1, " #n "000, " #n "000, 0,"    \
        " '{\"id\":\"A" #n "\",\"type\":\"nfod\",\"area\":\"" area "\",\"status\":\"active\","                  \
        "\"sources\":[\"ambulance\"]}', 'nfod');"
#define CORROBORATION(n)                                                                                        \
        "INSERT INTO corroborations (alert_id, source, received_at, json) VALUES ('A4', 'ambulance', 4000,"     \
        " '{\"id\":\"A" #n "\",\"type\":\"nfod\",\"area\":\"southampton\",\"sources\":[\"ambulance\"]}');"
        assert_int_equal(sqlite3_exec(db,
                                      UNDO_NODES UNDO_LEAN UNDO_SMS_REPLIES UNDO_AUDIT_INDEXES UNDO_CLOSING_LOOP UNDO_MERGED UNDO_REVIEW_AND_CLUSTERS
                                      "DROP TABLE twilio_requests;"
                                      NFOD_ROW(1, "southampton") NFOD_ROW(2, "southampton") NFOD_ROW(3, "southampton")
                                      "INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at,"
                                      " updated_at, expires_at, json, type) VALUES ('A4', 4, 'fp4', 'active',"
                                      " 'warning', 1, 4000, 4000, 0, '{\"id\":\"A4\",\"type\":\"cluster\","
                                      "\"area\":\"southampton\",\"status\":\"active\",\"casualties\":3}', 'cluster');"
                                      CORROBORATION(1) CORROBORATION(2) CORROBORATION(3)
                                      NFOD_ROW(5, "portsmouth")
                                      "PRAGMA user_version = 3",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);

        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(pragma_int(f->path, "user_version"), DAWN_STORE_SCHEMA_VERSION);
        /* the cluster, found by its area; its three reports counted */
        char id[DAWN_MAX_ID_CHARS + 1] = "";
        assert_int_equal(dawn_store_find_open_cluster(s, "[\"southampton\", \"pan-hampshire\"]", 0, id), 1);
        assert_string_equal(id, "A4");
        assert_int_equal(dawn_store_find_open_cluster(s, "[\"portsmouth\"]", 0, id), 0);
        assert_int_equal(dawn_store_cluster_reports(s, "A4"), 3);
        /* its reports count towards no other cluster; the one in portsmouth still may */
        struct dawn_alert *v = NULL;
        size_t n = 0;
        assert_int_equal(dawn_store_unclustered_reports(s, "[\"southampton\"]", 0, &v, &n), 0);
        assert_int_equal(n, 0);
        free(v);
        assert_int_equal(dawn_store_unclustered_reports(s, "[\"portsmouth\", \"pan-hampshire\"]", 0, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].id, "A5");
        dawn_alert_clear(&v[0]);
        free(v);
        /* nothing was held for review before there was review */
        cJSON *arr = cJSON_CreateArray();
        assert_int_equal(dawn_store_waiting_proposals_json(s, arr), 0);
        assert_int_equal(cJSON_GetArraySize(arr), 0);
        assert_int_equal(dawn_store_load_corroborations(s, "A4", &v, &n), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++)
                dawn_alert_clear(&v[i]);
        free(v);
        cJSON_Delete(arr);
        dawn_store_close(s);
}

/* A store a version-5 dawnd left (a batch alert with three counted
 * corroborations and one held for review, a cluster with one) is carried
 * over: each alert's merged reports summed as grading reads them, held
 * ones and clusters left out; later reports then fold into those sums. */
static void test_schema_5_store_keeps_what_its_reports_say(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        dawn_store_close(s);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
#define ALERT_ROW(n, type)                                                                                      \
        "INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at, updated_at, expires_at,"  \
        " json, type, area) VALUES ('A" #n "', " #n ", 'fp" #n "', 'active', 'warning', 1, 1000, 1000, 0,"        \
        " '{\"id\":\"A" #n "\",\"type\":\"" type "\",\"area\":\"southampton\",\"status\":\"active\"}', '" type "',"   \
        " 'southampton');"
#define REPORT(alert, json, proposal)                                                                           \
        "INSERT INTO corroborations (alert_id, source, received_at, json, proposal) VALUES ('" alert "',"         \
        " 'ambulance', 2000, '{\"type\":\"batch\",\"area\":\"southampton\"," json "}', " proposal ");"
        assert_int_equal(sqlite3_exec(db,
                                      UNDO_NODES UNDO_LEAN UNDO_SMS_REPLIES UNDO_AUDIT_INDEXES UNDO_CLOSING_LOOP UNDO_MERGED
                                      ALERT_ROW(1, "batch") ALERT_ROW(2, "cluster") ALERT_ROW(3, "batch")
                                      REPORT("A1", "\"evidence\":\"clinical\",\"casualties\":2,"
                                                   "\"adulterants\":[\"Nitazene\",\"xylazine\"]", "NULL")
                                      REPORT("A1", "\"evidence\":\"reported\",\"casualties\":4,"
                                                   "\"adulterants\":[\"fentanyl\",\"Nitazene\"]", "NULL")
                                      REPORT("A1", "\"evidence\":\"reported\",\"fatalities\":1", "NULL")
                                      REPORT("A1", "\"evidence\":\"toxicology\",\"fatalities\":1000,"
                                                   "\"adulterants\":[\"carfentanil\"]", "'P1'")
                                      REPORT("A2", "\"evidence\":\"toxicology\",\"casualties\":9", "NULL")
                                      "PRAGMA user_version = 5",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);

        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(pragma_int(f->path, "user_version"), DAWN_STORE_SCHEMA_VERSION);
        struct dawn_alert sum;
        int64_t reports = 0;
        dawn_alert_init(&sum);
        assert_int_equal(dawn_store_load_merged(s, "A1", &sum, &reports), 1);
        /* the three counted ones: the strongest evidence, the largest counts, the words first seen first */
        assert_int_equal(reports, 3);
        assert_int_equal(sum.evidence, DAWN_EVIDENCE_CLINICAL);
        assert_int_equal(sum.casualties, 4);
        assert_int_equal(sum.fatalities, 1);
        assert_int_equal(sum.adulterants.n, 3);
        assert_string_equal(sum.adulterants.v[0], "Nitazene");
        assert_string_equal(sum.adulterants.v[1], "xylazine");
        assert_string_equal(sum.adulterants.v[2], "fentanyl");
        dawn_alert_clear(&sum);
        /* a cluster keeps its own sums; an alert nothing merged into has none */
        dawn_alert_init(&sum);
        assert_int_equal(dawn_store_load_merged(s, "A2", &sum, &reports), 0);
        assert_int_equal(dawn_store_load_merged(s, "A3", &sum, &reports), 0);
        assert_int_equal(sum.casualties, -1);
        dawn_alert_clear(&sum);

        /* the rows stay as they were; a report its source sends again word for word is counted on its row */
        struct dawn_alert r;
        dawn_alert_init(&r);
        r.type = DAWN_TYPE_BATCH;
        r.area = strdup("southampton");
        cJSON *arr = cJSON_CreateArray();
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_add_corroboration(s, "A3", "ambulance", &r, 3000), 0);
        assert_int_equal(dawn_store_add_corroboration(s, "A3", "ambulance", &r, 4000), 0);
        assert_int_equal(dawn_store_add_corroboration(s, "A3", "uhs-ed", &r, 5000), 0);
        assert_int_equal(dawn_store_commit(s), 0);
        assert_int_equal(dawn_store_corroborations_json(s, "A1", arr), 0);
        assert_int_equal(cJSON_GetArraySize(arr), 4);
        assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "repeats"));
        cJSON_Delete(arr);
        arr = cJSON_CreateArray();
        assert_int_equal(dawn_store_corroborations_json(s, "A3", arr), 0);
        assert_int_equal(cJSON_GetArraySize(arr), 2);
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "repeats")->valueint, 2);
        assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "repeats"));
        cJSON_Delete(arr);
        dawn_alert_clear(&r);
        dawn_store_close(s);
}

static void test_store_from_a_newer_dawnd_is_refused(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(f->path, &s), -EPROTONOSUPPORT);
        assert_null(s);
        assert_int_equal(pragma_int(f->path, "user_version"), 99);
}

/* The store opened, a transaction begun, and alert A1 (a batch in Southampton) saved in it. */
static struct dawn_store *open_with_alert_a1(struct fixture *f)
{
        struct dawn_store *s = NULL;
        struct dawn_alert a;
        dawn_alert_init(&a);
        a.type = DAWN_TYPE_BATCH;
        a.area = strdup("southampton");
        a.revision = 1;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(dawn_store_begin(s), 0);
        dawn_store_next_alert_id(s, a.id);
        assert_int_equal(dawn_store_save_alert(s, &a, "fp", true), 0);
        dawn_alert_clear(&a);
        return s;
}

static void test_in_flight_deliveries_return_to_pending(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = open_with_alert_a1(f);
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, "booth-house", DAWN_CHANNEL_MQTT, "t/1",
                                                 DAWN_ACTION_PUBLISH, 10), 0);
        /* the same row again is not a second delivery */
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, "booth-house", DAWN_CHANNEL_MQTT, "t/1",
                                                 DAWN_ACTION_PUBLISH, 11), 0);
        struct dawn_outbox_row rows[4];
        /* not due inside the transaction that queued it: its COMMIT could still fail */
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 0);
        assert_int_equal(dawn_store_commit(s), 0);
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 1);
        assert_int_equal(dawn_store_delivery_started(s, rows[0].id, 20), 0);
        dawn_outbox_row_clear(&rows[0]);
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 0);
        assert_int_equal(dawn_store_commit(s), 0);
        dawn_store_close(s);

        /* a crash later: at start-up the in-flight row is due again, with its attempt counted */
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(dawn_store_requeue_inflight(s, 30), 1);
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 30, rows, 4), 1);
        assert_int_equal(rows[0].attempts, 1);
        assert_int_equal(rows[0].state, DAWN_DELIVERY_PENDING);
        assert_string_equal(rows[0].recipient, "t/1");
        dawn_outbox_row_clear(&rows[0]);
        dawn_store_close(s);
}

/* The outbox may dispatch inside a batch another way in opened (its dispatch
 * was due before that request came), and this connection reads the batch's
 * uncommitted rows: a delivery or reply queued in the open transaction is
 * never due until it commits, so nothing goes out that a failing COMMIT (a
 * full disk) would then take back. What committed before stays due. */
static void test_due_excludes_the_open_transaction(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = open_with_alert_a1(f);
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, "booth-house", DAWN_CHANNEL_MQTT, "t/old",
                                                 DAWN_ACTION_PUBLISH, 10), 0);
        int64_t old_reply = dawn_store_reply_add(s, "+447700900901", "DAWN: old.", false, 10);
        assert_int_equal(dawn_store_commit(s), 0);

        /* a request's batch: a new delivery and a reply, one more delivery in a savepoint that is undone */
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, "st-marys-pharmacy", DAWN_CHANNEL_MQTT, "t/new",
                                                 DAWN_ACTION_PUBLISH, 11), 0);
        assert_true(dawn_store_reply_add(s, "+447700900902", "DAWN: new.", false, 11) > old_reply);
        assert_int_equal(dawn_store_savepoint(s), 0);
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, "recovery-service", DAWN_CHANNEL_MQTT, "t/undone",
                                                 DAWN_ACTION_PUBLISH, 11), 0);
        dawn_store_rollback_to_savepoint(s);
        struct dawn_outbox_row rows[4];
        struct dawn_reply_row replies[4];
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 1);
        assert_string_equal(rows[0].recipient, "t/old");
        dawn_outbox_row_clear(&rows[0]);
        assert_int_equal(dawn_store_due_replies(s, 20, replies, 4), 1);
        assert_int_equal(replies[0].id, old_reply);

        /* the COMMIT fails (a full disk): what it held is gone, and was never due */
        dawn_store_fail_next_commit(s, -ENOSPC);
        assert_int_equal(dawn_store_commit(s), -ENOSPC);
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 1);
        dawn_outbox_row_clear(&rows[0]);

        /* queued again and committed: due, wherever the next dispatch reads from */
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, "st-marys-pharmacy", DAWN_CHANNEL_MQTT, "t/new",
                                                 DAWN_ACTION_PUBLISH, 12), 0);
        assert_int_equal(dawn_store_commit(s), 0);
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 2);
        for (int i = 0; i < 2; i++)
                dawn_outbox_row_clear(&rows[i]);
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 2);
        assert_string_equal(rows[1].recipient, "t/new");
        for (int i = 0; i < 2; i++)
                dawn_outbox_row_clear(&rows[i]);
        assert_int_equal(dawn_store_commit(s), 0);
        dawn_store_close(s);
}

/* ---- a delivery's state: the store's statements agree with the transition table ---- */

/* A store with alert A1 (revisions 1 and 2) and A2; deliveries are added by the tests. */
static struct dawn_store *store_with_alerts(const char *path)
{
        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(path, &s), 0);
        for (int i = 0; i < 2; i++) {
                struct dawn_alert a;
                dawn_alert_init(&a);
                a.type = DAWN_TYPE_BATCH;
                a.area = strdup("southampton");
                a.revision = 1;
                assert_int_equal(dawn_store_next_alert_id(s, a.id), 0);
                assert_int_equal(dawn_store_save_alert(s, &a, "fp", true), 0);
                if (i == 0) {
                        a.revision = 2;
                        assert_int_equal(dawn_store_save_alert(s, &a, "fp", true), 0);
                }
                dawn_alert_clear(&a);
        }
        return s;
}

/* The row id of a new delivery of A1 revision 1, put into state with a second connection. */
static int64_t delivery_in(struct dawn_store *s, const char *path, enum dawn_channel_kind ch, const char *rcpt,
                           enum dawn_delivery_state state)
{
        static int n;
        char sub[32];
        snprintf(sub, sizeof(sub), "sub-%d", ++n);
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, sub, ch, rcpt, DAWN_ACTION_PUBLISH, 100), 0);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        char sql[256];
        snprintf(sql, sizeof(sql), "UPDATE outbox SET state = '%s', attempts = 1 WHERE subscriber = '%s'",
                 dawn_delivery_state_name(state), sub);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        int64_t id = 0;
        snprintf(sql, sizeof(sql), "SELECT id FROM outbox WHERE subscriber = '%s'", sub);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return id;
}

static enum dawn_delivery_state state_of(struct dawn_store *s, int64_t id)
{
        struct dawn_outbox_row row;
        assert_int_equal(dawn_store_load_delivery(s, id, &row), 1);
        enum dawn_delivery_state st = row.state;
        dawn_outbox_row_clear(&row);
        return st;
}

/* What the store did to a delivery in state from agrees with the table: it
 * moved it exactly when the table says the event moves it, and there. */
static void assert_agrees(enum dawn_delivery_event ev, enum dawn_delivery_state from, enum dawn_delivery_state after,
                          bool moves_every_legal)
{
        enum dawn_delivery_state to = from;
        int legal = dawn_delivery_next(from, ev, &to);
        bool ok = after == from ? !(moves_every_legal && legal > 0 && to != from) : legal > 0 && to == after;
        if (!ok) {
                print_error("%s on a %s delivery: the store made it %s, the table says %s\n",
                            dawn_delivery_event_name(ev), dawn_delivery_state_name(from),
                            dawn_delivery_state_name(after), legal > 0 ? dawn_delivery_state_name(to) : "no change");
                fail();
        }
}

static void test_store_moves_deliveries_as_the_table_says(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = store_with_alerts(f->path);
        for (int st = 0; st < DAWN_DELIVERY_STATE_COUNT; st++) {
                enum dawn_delivery_state from = (enum dawn_delivery_state)st;
                int64_t id;
                /* the outbox's own results, each on a fresh row */
                static const struct {
                        enum dawn_delivery_event ev;
                        enum dawn_delivery_state written;
                } results[] = {
                        { DAWN_EVENT_WAIT, DAWN_DELIVERY_PENDING },       { DAWN_EVENT_SENT, DAWN_DELIVERY_SENT },
                        { DAWN_EVENT_DELIVERED, DAWN_DELIVERY_DELIVERED }, { DAWN_EVENT_RETRY, DAWN_DELIVERY_RETRYING },
                        { DAWN_EVENT_FAIL, DAWN_DELIVERY_FAILED },
                };
                for (size_t k = 0; k < sizeof(results) / sizeof(results[0]); k++) {
                        id = delivery_in(s, f->path, DAWN_CHANNEL_SMS, "+447700900001", from);
                        assert_int_equal(dawn_store_delivery_finished(s, id, results[k].written, "x", 0, 200), 0);
                        assert_agrees(results[k].ev, from, state_of(s, id), true);
                }
                id = delivery_in(s, f->path, DAWN_CHANNEL_SMS, "+447700900001", from);
                int r = dawn_store_delivery_started(s, id, 200);
                assert_true(r == 0 || r == -ESTALE);
                assert_agrees(DAWN_EVENT_DISPATCH, from, state_of(s, id), true);
                assert_int_equal(r == 0, state_of(s, id) != from);

                /* the bulk ones, each on a row of its own: the others are moved apart first */
                id = delivery_in(s, f->path, DAWN_CHANNEL_SMS, "+447700900002", from);
                assert_int_equal(dawn_store_supersede_deliveries(s, "A1", 2, 200), 0);
                assert_agrees(DAWN_EVENT_SUPERSEDE, from, state_of(s, id), true);
                id = delivery_in(s, f->path, DAWN_CHANNEL_SMS, "+447700900003", from);
                assert_true(dawn_store_hold_opted_out(s, "+447700900003", 200) >= 0);
                assert_agrees(DAWN_EVENT_OPT_OUT, from, state_of(s, id), true);
                id = delivery_in(s, f->path, DAWN_CHANNEL_EMAIL, "a@example.org", from);
                assert_true(dawn_store_fail_expired(s, DAWN_CHANNEL_EMAIL, 150, "too old", 200) >= 0);
                assert_agrees(DAWN_EVENT_FAIL, from, state_of(s, id), false);
                id = delivery_in(s, f->path, DAWN_CHANNEL_MQTT, "t/1", from);
                assert_true(dawn_store_requeue_inflight(s, 200) >= 0);
                assert_agrees(DAWN_EVENT_WAIT, from, state_of(s, id), false);
                if (from == DAWN_DELIVERY_INFLIGHT)
                        assert_int_equal(state_of(s, id), DAWN_DELIVERY_PENDING);
        }
        dawn_store_close(s);
}

/* ---- receipts against the store ---- */

static struct dawn_receipt receipt_for(const char *reference, enum dawn_receipt_status status, const char *sid)
{
        struct dawn_receipt rc;
        memset(&rc, 0, sizeof(rc));
        snprintf(rc.reference, sizeof(rc.reference), "%s", reference);
        assert_int_equal(dawn_reference_delivery_id(reference, &rc.delivery_id), 0);
        rc.status = status;
        snprintf(rc.provider_status, sizeof(rc.provider_status), "%s", dawn_receipt_status_name(status));
        snprintf(rc.message_sid, sizeof(rc.message_sid), "%s", sid ? sid : "");
        return rc;
}

static enum dawn_receipt_outcome apply(struct dawn_store *s, const char *reference, enum dawn_receipt_status status,
                                       const char *sid)
{
        struct dawn_receipt rc = receipt_for(reference, status, sid);
        enum dawn_receipt_outcome outcome = (enum dawn_receipt_outcome)-1;
        assert_int_equal(dawn_outbox_receipt(s, "notify", &rc, 0, 1000, &outcome), 0);
        return outcome;
}

static void test_receipt_must_name_the_whole_reference(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = store_with_alerts(f->path);
        int64_t id = delivery_in(s, f->path, DAWN_CHANNEL_SMS, "+447700900001", DAWN_DELIVERY_DELIVERED);
        char ref[64];
        /* another alert, another revision: the same row id, but not this text */
        snprintf(ref, sizeof(ref), "A2-r1-%lld", (long long)id);
        assert_int_equal(apply(s, ref, DAWN_RECEIPT_TEMPORARY_FAILURE, NULL), DAWN_RECEIPT_MISMATCHED);
        snprintf(ref, sizeof(ref), "A1-r2-%lld", (long long)id);
        assert_int_equal(apply(s, ref, DAWN_RECEIPT_TEMPORARY_FAILURE, NULL), DAWN_RECEIPT_MISMATCHED);
        assert_int_equal(state_of(s, id), DAWN_DELIVERY_DELIVERED);
        /* its own reference, but a failure after delivery is no legal transition */
        snprintf(ref, sizeof(ref), "A1-r1-%lld", (long long)id);
        assert_int_equal(apply(s, ref, DAWN_RECEIPT_TEMPORARY_FAILURE, NULL), DAWN_RECEIPT_ILLEGAL);
        assert_int_equal(apply(s, ref, DAWN_RECEIPT_DELIVERED, NULL), DAWN_RECEIPT_UNCHANGED);
        assert_int_equal(state_of(s, id), DAWN_DELIVERY_DELIVERED);
        /* no such row; a row that is not a text */
        assert_int_equal(apply(s, "A1-r1-999", DAWN_RECEIPT_DELIVERED, NULL), DAWN_RECEIPT_UNKNOWN);
        int64_t mqtt = delivery_in(s, f->path, DAWN_CHANNEL_MQTT, "t/1", DAWN_DELIVERY_INFLIGHT);
        snprintf(ref, sizeof(ref), "A1-r1-%lld", (long long)mqtt);
        assert_int_equal(apply(s, ref, DAWN_RECEIPT_DELIVERED, NULL), DAWN_RECEIPT_UNKNOWN);
        assert_int_equal(state_of(s, mqtt), DAWN_DELIVERY_INFLIGHT);
        dawn_store_close(s);
}

static void test_receipt_on_every_state(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = store_with_alerts(f->path);
        static const enum dawn_receipt_status statuses[] = { DAWN_RECEIPT_DELIVERED, DAWN_RECEIPT_PERMANENT_FAILURE,
                                                             DAWN_RECEIPT_TEMPORARY_FAILURE };
        for (int st = 0; st < DAWN_DELIVERY_STATE_COUNT; st++)
                for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
                        enum dawn_delivery_state from = (enum dawn_delivery_state)st, to = from;
                        int64_t id = delivery_in(s, f->path, DAWN_CHANNEL_SMS, "+447700900001", from);
                        char ref[64];
                        snprintf(ref, sizeof(ref), "A1-r1-%lld", (long long)id);
                        enum dawn_receipt_outcome o = apply(s, ref, statuses[k], NULL);
                        int legal = dawn_delivery_next(from, dawn_receipt_event(statuses[k]), &to);
                        assert_int_equal(o, legal < 0 ? DAWN_RECEIPT_ILLEGAL
                                            : legal == 0 ? DAWN_RECEIPT_UNCHANGED
                                                         : DAWN_RECEIPT_APPLIED);
                        assert_int_equal(state_of(s, id), legal > 0 ? to : from);
                }
        dawn_store_close(s);
}

static void test_twilio_request_taken_once(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = store_with_alerts(f->path);
        int64_t id = delivery_in(s, f->path, DAWN_CHANNEL_SMS, "+447700900001", DAWN_DELIVERY_SENT);
        char ref[64];
        snprintf(ref, sizeof(ref), "A1-r1-%lld", (long long)id);
        const char *sid = "SM0123456789abcdef0123456789abcdef";
        uint64_t before = dawn_metrics_value(DAWN_M_CALLBACKS_IGNORED, "notify", "replayed");
        assert_int_equal(apply(s, ref, DAWN_RECEIPT_TEMPORARY_FAILURE, sid), DAWN_RECEIPT_APPLIED);
        assert_int_equal(state_of(s, id), DAWN_DELIVERY_RETRYING);
        /* sent again, and the first request replayed: it must not undo the second sending */
        assert_int_equal(dawn_store_delivery_move(s, id, DAWN_DELIVERY_RETRYING, DAWN_DELIVERY_SENT, NULL, 0, 1100), 1);
        assert_int_equal(apply(s, ref, DAWN_RECEIPT_TEMPORARY_FAILURE, sid), DAWN_RECEIPT_REPLAYED);
        assert_int_equal(state_of(s, id), DAWN_DELIVERY_SENT);
        assert_int_equal(dawn_metrics_value(DAWN_M_CALLBACKS_IGNORED, "notify", "replayed"), before + 1);
        /* the same message's next status is a request of its own */
        assert_int_equal(apply(s, ref, DAWN_RECEIPT_DELIVERED, sid), DAWN_RECEIPT_APPLIED);

        /* remembered until keep_until, then pruned as later requests come */
        assert_int_equal(dawn_store_note_twilio_request(s, "SMaa", "inbound", 5000, 1000), 1);
        assert_int_equal(dawn_store_note_twilio_request(s, "SMaa", "inbound", 5000, 4000), 0);
        assert_int_equal(dawn_store_note_twilio_request(s, "SMbb", "inbound", 9000, 6000), 1);
        assert_int_equal(dawn_store_note_twilio_request(s, "SMaa", "inbound", 9000, 6000), 1);
        dawn_store_close(s);
}

static void test_reached(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = store_with_alerts(f->path);
        char sub[DAWN_MAX_SUBSCRIBER_CHARS + 1] = "";
        int rev = 0;
        static const struct {
                enum dawn_delivery_state state;
                bool reached;
        } cases[] = {
                { DAWN_DELIVERY_PENDING, false },  { DAWN_DELIVERY_INFLIGHT, false },  { DAWN_DELIVERY_DELIVERED, true },
                { DAWN_DELIVERY_RETRYING, false }, { DAWN_DELIVERY_FAILED, false },    { DAWN_DELIVERY_SUPERSEDED, false },
                { DAWN_DELIVERY_SENT, true },      { DAWN_DELIVERY_OPTED_OUT, false },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char number[24];
                snprintf(number, sizeof(number), "+4477009002%02zu", i);
                delivery_in(s, f->path, DAWN_CHANNEL_SMS, number, cases[i].state);
                assert_int_equal(dawn_store_alert_reached(s, "A1", DAWN_CHANNEL_SMS, NULL, number, &rev, sub),
                                 cases[i].reached);
                /* the same number, another alert: never */
                assert_int_equal(dawn_store_alert_reached(s, "A2", DAWN_CHANNEL_SMS, NULL, number, &rev, sub), 0);
                assert_int_equal(dawn_store_alert_reached(s, "A9", DAWN_CHANNEL_SMS, NULL, number, &rev, sub), 0);
        }
        int64_t id = delivery_in(s, f->path, DAWN_CHANNEL_MQTT, "t/x", DAWN_DELIVERY_DELIVERED);
        struct dawn_outbox_row row;
        assert_int_equal(dawn_store_load_delivery(s, id, &row), 1);
        assert_int_equal(dawn_store_alert_reached(s, "A1", DAWN_CHANNEL_MQTT, row.subscriber, NULL, &rev, sub), 1);
        assert_string_equal(sub, row.subscriber);
        assert_int_equal(rev, 1);
        assert_int_equal(dawn_store_alert_reached(s, "A1", DAWN_CHANNEL_MQTT, "someone-else", NULL, &rev, sub), 0);
        assert_int_equal(dawn_store_alert_reached(s, "A1", DAWN_CHANNEL_SMS, row.subscriber, NULL, &rev, sub), 0);
        dawn_outbox_row_clear(&row);
        /* a subscriber id as long as the config allows comes back whole: an ACK is
         * recorded as that subscriber's, not a truncated id that names nobody */
        char longest[DAWN_MAX_SUBSCRIBER_CHARS + 1];
        memset(longest, 'h', DAWN_MAX_SUBSCRIBER_CHARS);
        longest[DAWN_MAX_SUBSCRIBER_CHARS] = '\0';
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, longest, DAWN_CHANNEL_SMS, "+447700900299",
                                                 DAWN_ACTION_PUBLISH, 100), 0);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "UPDATE outbox SET state = 'delivered' WHERE recipient = '+447700900299'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(dawn_store_alert_reached(s, "A1", DAWN_CHANNEL_SMS, NULL, "+447700900299", &rev, sub), 1);
        assert_string_equal(sub, longest);
        dawn_store_close(s);
}

/* A store a version-6 dawnd left (an alert, a delivery sent, one waiting) is
 * carried over: the deliveries keep their ids and states, are deliveries of
 * the alert's own purpose, and an escalation to a subscriber that already
 * has the revision is now a delivery of its own. */
static void test_schema_6_store_keeps_its_outbox(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        dawn_store_close(s);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      UNDO_NODES UNDO_LEAN UNDO_SMS_REPLIES UNDO_AUDIT_INDEXES UNDO_CLOSING_LOOP
                                      ALERT_ROW(1, "batch")
                                      "INSERT INTO revisions (alert_id, revision, created_at, json) VALUES ('A1', 1,"
                                      " 1000, '{\"id\":\"A1\"}');"
                                      "INSERT INTO outbox (id, alert_id, revision, subscriber, channel, recipient,"
                                      " action, state, created_at, updated_at) VALUES (7, 'A1', 1, 'duty-officer',"
                                      " 'sms', '+447700900001', 'publish', 'delivered', 1000, 2000),"
                                      " (8, 'A1', 1, 'booth-house', 'sms', '+447700900002', 'publish', 'pending',"
                                      " 1000, 1000);"
                                      "PRAGMA user_version = 6",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);

        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(pragma_int(f->path, "user_version"), DAWN_STORE_SCHEMA_VERSION);
        cJSON *arr = cJSON_CreateArray();
        assert_int_equal(dawn_store_deliveries_json(s, "A1", arr), 0);
        assert_int_equal(cJSON_GetArraySize(arr), 2);
        cJSON_Delete(arr);
        dawn_store_close(s);

        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        char **rows;
        int n, cols;
        assert_int_equal(sqlite3_get_table(db, "SELECT id, state, purpose, about FROM outbox ORDER BY id", &rows, &n,
                                           &cols, NULL),
                         SQLITE_OK);
        assert_int_equal(n, 2);
        assert_string_equal(rows[4], "7");
        assert_string_equal(rows[5], "delivered");
        assert_string_equal(rows[6], "alert");
        assert_string_equal(rows[7], "");
        assert_string_equal(rows[9], "pending");
        sqlite3_free_table(rows);
        /* the same alert, revision, subscriber and number, as an escalation about booth-house */
        assert_int_equal(sqlite3_exec(db,
                                      "INSERT INTO outbox (alert_id, revision, subscriber, channel, recipient, action,"
                                      " created_at, updated_at, purpose, about) VALUES ('A1', 1, 'duty-officer', 'sms',"
                                      " '+447700900001', 'publish', 3000, 3000, 'escalation', 'booth-house')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_changes(db), 1);
        sqlite3_close(db);
}

/* A store a version-8 dawnd left gets the reply queue, and keeps its alerts. */
static void test_schema_8_store_gets_the_reply_queue(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        dawn_store_close(s);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, UNDO_NODES UNDO_LEAN UNDO_SMS_REPLIES "PRAGMA user_version = 8", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(dawn_store_replies_waiting(s), 0);
        assert_int_equal(dawn_store_begin(s), 0);
        assert_true(dawn_store_reply_add(s, "+447700900901", "DAWN: hello. Reply STOP to leave.", false, 1000) > 0);
        assert_int_equal(dawn_store_commit(s), 0);
        dawn_store_close(s);
        assert_int_equal(pragma_int(f->path, "user_version"), DAWN_STORE_SCHEMA_VERSION);
}

/* A reply's life: queued, due in order, sent at most once at a time,
 * back to pending after a crash, failed past its lifetime, not due for a
 * number that opted out (but a STOP's confirmation is), and gone after
 * retention once it ended. */
static void test_sms_replies(void **state)
{
        struct fixture *f = *state;
        struct dawn_store *s = NULL;
        struct dawn_reply_row rows[8];
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        assert_int_equal(dawn_store_begin(s), 0);
        int64_t a = dawn_store_reply_add(s, "+447700900901", "DAWN: you will get drug alerts. Reply STOP to leave.",
                                         false, 1000);
        int64_t b = dawn_store_reply_add(s, "+447700900902", "DAWN: areas. Reply STOP to leave.", false, 2000);
        assert_true(a > 0 && b > a);
        assert_int_equal(dawn_store_replies_since(s, "+447700900901", 0), 1);
        assert_int_equal(dawn_store_replies_since(s, "+447700900901", 1001), 0);
        assert_int_equal(dawn_store_replies_waiting(s), 2);
        /* not due inside the transaction that queued them: its COMMIT could still fail */
        assert_int_equal(dawn_store_due_replies(s, 5000, rows, 8), 0);
        assert_int_equal(dawn_store_commit(s), 0);
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_due_replies(s, 5000, rows, 8), 2);
        assert_int_equal(rows[0].id, a);
        assert_string_equal(rows[0].number, "+447700900901");
        assert_int_equal(rows[0].state, DAWN_DELIVERY_PENDING);
        assert_false(rows[0].opted_out);
        assert_false(rows[0].stop);

        /* started: in flight, an attempt counted, no longer due */
        assert_int_equal(dawn_store_reply_move(s, a, DAWN_DELIVERY_PENDING, DAWN_DELIVERY_INFLIGHT, NULL, 0, 3000), 1);
        assert_int_equal(dawn_store_reply_move(s, a, DAWN_DELIVERY_PENDING, DAWN_DELIVERY_INFLIGHT, NULL, 0, 3000), 0);
        assert_int_equal(dawn_store_due_replies(s, 5000, rows, 8), 1);
        assert_int_equal(rows[0].id, b);
        /* a crash: back to pending, with its attempt remembered */
        assert_true(dawn_store_requeue_inflight(s, 4000) >= 1);
        struct dawn_reply_row r;
        assert_int_equal(dawn_store_load_reply(s, a, &r), 1);
        assert_int_equal(r.state, DAWN_DELIVERY_PENDING);
        assert_int_equal(r.attempts, 1);
        assert_int_equal(dawn_store_load_reply(s, 9999, &r), 0);

        /* a retry is due at its time, not before */
        assert_int_equal(dawn_store_reply_move(s, a, DAWN_DELIVERY_PENDING, DAWN_DELIVERY_INFLIGHT, NULL, 0, 4000), 1);
        assert_int_equal(dawn_store_reply_move(s, a, DAWN_DELIVERY_INFLIGHT, DAWN_DELIVERY_RETRYING, "HTTP 500", 9000,
                                               4000), 1);
        assert_int_equal(dawn_store_due_replies(s, 5000, rows, 8), 1);
        assert_int_equal(dawn_store_due_replies(s, 9000, rows, 8), 2);

        /* the number opts out: its reply is no longer to go, a STOP's confirmation is */
        assert_true(dawn_store_set_opt_out(s, "+447700900902", true, "notify", 5000) >= 0);
        int64_t c = dawn_store_reply_add(s, "+447700900902", "DAWN: you will get no more texts.", true, 5000);
        assert_int_equal(dawn_store_commit(s), 0);
        assert_int_equal(dawn_store_begin(s), 0);
        assert_int_equal(dawn_store_due_replies(s, 9000, rows, 8), 3);
        for (int i = 0; i < 3; i++) {
                if (rows[i].id == b)
                        assert_true(rows[i].opted_out);
                else if (rows[i].id == c)
                        assert_true(rows[i].stop && !rows[i].opted_out);
                else
                        assert_false(rows[i].opted_out);
        }

        /* past the lifetime: what still waits fails */
        assert_int_equal(dawn_store_replies_fail_expired(s, 2500, "not delivered within its lifetime", 10000), 2);
        assert_int_equal(dawn_store_load_reply(s, a, &r), 1);
        assert_int_equal(r.state, DAWN_DELIVERY_FAILED);
        assert_int_equal(dawn_store_replies_waiting(s), 1);

        /* retention removes ended replies (and their numbers) older than the period, not waiting ones */
        struct dawn_prune_counts pc;
        assert_int_equal(dawn_store_prune_step(s, 20000, 0, "dawnd (retention)", 20000, &pc), 0);
        assert_int_equal(pc.reply_rows, 2);
        assert_int_equal(dawn_store_load_reply(s, a, &r), 0);
        assert_int_equal(dawn_store_load_reply(s, c, &r), 1);
        assert_int_equal(dawn_store_commit(s), 0);
        dawn_store_close(s);
}

/* What a query of one value says, on a connection of the test's own. */
static char *query_text(sqlite3 *db, const char *q)
{
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
        char *v = NULL;
        if (sqlite3_step(st) == SQLITE_ROW)
                v = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
        sqlite3_finalize(st);
        return v ? v : strdup("(none)");
}

/* Everything a store holds, as one text: every row of every table that has rows,
 * in key order, so that a migration that loses or changes one is seen. */
#define STORE_CONTENTS                                                                                            \
        "SELECT group_concat(r, char(10)) FROM ("                                                                \
        " SELECT 'alert ' || id || ' ' || seq || ' ' || fingerprint || ' ' || status || ' ' || grade || ' ' ||"  \
        "  revision || ' ' || length(json) AS r FROM alerts"                                                     \
        " UNION ALL SELECT 'revision ' || alert_id || ' ' || revision || ' ' || length(json) FROM revisions"     \
        " UNION ALL SELECT 'submission ' || source || ' ' || source_ref || ' ' || alert_id || ' ' || received_at" \
        "  FROM submissions"                                                                                     \
        " UNION ALL SELECT 'delivery ' || id || ' ' || alert_id || ' ' || revision || ' ' || subscriber || ' ' ||" \
        "  channel || ' ' || recipient || ' ' || state FROM outbox"                                              \
        " UNION ALL SELECT 'audit ' || id || ' ' || action || ' ' || coalesce(alert_id, '') FROM audit"          \
        " UNION ALL SELECT 'corroboration ' || id || ' ' || alert_id FROM corroborations"                        \
        " ORDER BY 1)"

/* A real store that dawnd 0.1.0 (schema 9) wrote, not one made to look old:
 * tests/unit/data/store-v9.sql is its dump (4 alerts issued, updated,
 * cancelled and merged over dawnctl and HTTP, 20 MQTT deliveries). The
 * lean-write-path migration (10) keeps every row, and what reads them by
 * the new indexes finds what it found before. */
static void test_real_version_9_store_is_migrated(void **state)
{
        struct fixture *f = *state;
        FILE *in = fopen("tests/unit/data/store-v9.sql", "re");
        assert_non_null(in);
        static char dump[256 * 1024];
        size_t n = fread(dump, 1, sizeof(dump) - 1, in);
        fclose(in);
        assert_true(n > 0 && n < sizeof(dump) - 1);
        dump[n] = '\0';
        sqlite3 *db;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, dump, NULL, NULL, NULL), SQLITE_OK);
        char *before = query_text(db, STORE_CONTENTS);
        sqlite3_close(db);
        assert_int_equal(pragma_int(f->path, "user_version"), 9);
        assert_non_null(strstr(before, "delivery 20 "));

        struct dawn_store *s = NULL;
        assert_int_equal(dawn_store_open(f->path, &s), 0);
        /* deduplication finds the open alerts by fingerprint, and not the cancelled one */
        char id[DAWN_MAX_ID_CHARS + 1];
        assert_int_equal(dawn_store_find_match(s, "batch\036southampton\036heroin\036nitazene", 0, id), 1);
        assert_string_equal(id, "A1");
        assert_int_equal(dawn_store_find_match(s, "batch\036southampton\036ketamine\036", 0, id), 1);
        assert_string_equal(id, "A4");
        assert_int_equal(dawn_store_find_match(s, "batch\036southampton\036cocaine\036", 0, id), 0);
        /* a partner's repeated submission is still known */
        assert_int_equal(dawn_store_find_submission(s, "portsmouth-ph", "ref-2", id), 1);
        assert_string_equal(id, "A4");
        assert_int_equal(dawn_store_find_submission(s, "portsmouth-ph", "ref-9", id), 0);
        /* the counts status shows: the 20 deliveries, all delivered */
        cJSON *counts = cJSON_CreateObject();
        assert_int_equal(dawn_store_queue_counts(s, counts), 0);
        char *text = cJSON_PrintUnformatted(counts);
        assert_string_equal(text, "{\"mqtt\":{\"delivered\":20}}");
        free(text);
        cJSON_Delete(counts);
        assert_int_equal(dawn_store_count_open_alerts(s), 3);
        dawn_store_close(s);

        assert_int_equal(pragma_int(f->path, "user_version"), DAWN_STORE_SCHEMA_VERSION);
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        char *after = query_text(db, STORE_CONTENTS);
        assert_string_equal(after, before);
        char *check = query_text(db, "PRAGMA integrity_check");
        assert_string_equal(check, "ok");
        char *orphans = query_text(db, "SELECT count(*) FROM pragma_foreign_key_check");
        assert_string_equal(orphans, "0");
        /* the indexes it names: what held every delivery and every alert is gone */
        char *indexes = query_text(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master"
                                       " WHERE type = 'index' AND name IN ('outbox_by_state', 'outbox_in_flight',"
                                       " 'alerts_by_fingerprint', 'alerts_open_by_fingerprint') ORDER BY name)");
        assert_string_equal(indexes, "alerts_open_by_fingerprint outbox_in_flight");
        char *submissions = query_text(db, "SELECT sql LIKE '%WITHOUT ROWID' FROM sqlite_master WHERE name = 'submissions'");
        assert_string_equal(submissions, "1");
        sqlite3_close(db);
        free(before);
        free(after);
        free(check);
        free(orphans);
        free(indexes);
        free(submissions);
}

int main(void)
{
        /* the receipts the tests ignore on purpose would each log a warning */
        log_init(1, LOG_CRIT);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fresh_store_gets_current_schema_in_wal_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reopening_keeps_what_was_stored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_1_store_is_migrated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_5_store_keeps_what_its_reports_say, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_6_store_keeps_its_outbox, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_3_store_keeps_its_clusters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_from_a_newer_dawnd_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_in_flight_deliveries_return_to_pending, setup, teardown),
                cmocka_unit_test_setup_teardown(test_due_excludes_the_open_transaction, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_moves_deliveries_as_the_table_says, setup, teardown),
                cmocka_unit_test_setup_teardown(test_receipt_must_name_the_whole_reference, setup, teardown),
                cmocka_unit_test_setup_teardown(test_receipt_on_every_state, setup, teardown),
                cmocka_unit_test_setup_teardown(test_twilio_request_taken_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reached, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_8_store_gets_the_reply_queue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sms_replies, setup, teardown),
                cmocka_unit_test_setup_teardown(test_real_version_9_store_is_migrated, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
