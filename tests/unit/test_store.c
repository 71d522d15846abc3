/* The store's schema versioning and crash recovery: a fresh store gets the
 * current schema version, reopening changes nothing, a store written by a
 * newer dawnd is refused, and deliveries left in flight go back to pending. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
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
        assert_string_equal(a.id, "A1");
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
                                      UNDO_REVIEW_AND_CLUSTERS
                                      "DROP INDEX alerts_by_expiry; DROP INDEX alerts_by_type;"
                                      "ALTER TABLE alerts DROP COLUMN type; DROP TABLE acks; DROP TABLE sms_optouts;"
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
                          " 'sms_optouts')", &rows, &n, &cols,
                          NULL);
        assert_int_equal(n, 4);
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
                                      UNDO_REVIEW_AND_CLUSTERS
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

static void test_in_flight_deliveries_return_to_pending(void **state)
{
        struct fixture *f = *state;
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
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, "booth-house", DAWN_CHANNEL_MQTT, "t/1",
                                                 DAWN_ACTION_PUBLISH, 10), 0);
        /* the same row again is not a second delivery */
        assert_int_equal(dawn_store_add_delivery(s, "A1", 1, "booth-house", DAWN_CHANNEL_MQTT, "t/1",
                                                 DAWN_ACTION_PUBLISH, 11), 0);
        struct dawn_outbox_row rows[4];
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 1);
        assert_int_equal(dawn_store_delivery_started(s, rows[0].id, 20), 0);
        dawn_outbox_row_clear(&rows[0]);
        assert_int_equal(dawn_store_due_deliveries(s, DAWN_CHANNEL_MQTT, 20, rows, 4), 0);
        assert_int_equal(dawn_store_commit(s), 0);
        dawn_store_close(s);
        dawn_alert_clear(&a);

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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fresh_store_gets_current_schema_in_wal_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reopening_keeps_what_was_stored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_1_store_is_migrated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_3_store_keeps_its_clusters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_from_a_newer_dawnd_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_in_flight_deliveries_return_to_pending, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
