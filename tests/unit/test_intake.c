/* Tests for daemon/intake/intake.c against a real store (SQLite in a temporary
 * directory): new alerts, idempotency by (source, source_ref),
 * deduplication into an active alert, updates, cancels, the review queue
 * (a reporter's report, approve, reject), overdose clusters, texts to
 * numbers that opted out, and the outbox rows each of them leaves for the
 * channels to send.
 *
 * Each request runs as the daemon runs it (control.c): inside a
 * transaction, in a savepoint of its own that is rolled back if the request
 * is refused. Intake itself does not roll back.
 *
 * Alert JSON is written with single quotes; json() turns them into double
 * quotes. */
#include "dawn_test.h"
#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "config.h"
#include "intake.h"
#include "store.h"


#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
/* 2026-11-23T12:00:00Z */
#define NOW (INT64_C(1795435200) * SEC)

/* Subscribers of an alert in southampton: booth-house (warning and up),
 * night-shelter (critical only), ph-duty-officer (public health: info and
 * up, over the whole county). fratton-pharmacy is in portsmouth, a sibling. */
static const char config_text[] =
        "areas = { pan-hampshire = { southampton = {}; portsmouth = {};\n"
        "                            hampshire = { fareham = {}; gosport = {}; }; }; };\n"
        "dedup = { window = \"72h\"; };\n"
        "channels = { mqtt = { topic_prefix = \"t\"; }; };\n"
        "subscribers = (\n"
        "  { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; },\n"
        "  { id = \"night-shelter\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; min_grade = \"critical\"; },\n"
        "  { id = \"fratton-pharmacy\"; kind = \"pharmacy\"; area = \"portsmouth\"; mqtt = true; },\n"
        "  { id = \"ph-duty-officer\"; kind = \"public-health\"; area = \"pan-hampshire\"; mqtt = true; }\n"
        ");\n";

/* Graded warning: a high-risk adulterant (2 points), reported only. */
#define NITAZENE_HEROIN                                                                            \
        "{'type': 'batch', 'area': 'southampton', 'summary': 'Heroin in Southampton contains a nitazene.'," \
        " 'sold_as': ['heroin'], 'adulterants': ['nitazene']}"
/* The same batch in other words; with toxicology and three casualties it
 * makes the alert critical. */
#define NITAZENE_HEROIN_CONFIRMED                                                                  \
        "{'type': 'batch', 'area': 'southampton', 'summary': 'Lab result: nitazene in heroin.',"     \
        " 'sold_as': [' Heroin'], 'adulterants': ['Nitazene'], 'evidence': 'toxicology', 'casualties': 3}"

struct fixture {
        char dir[64];
        char db[96];
        struct dawn_store *store;
        struct dawn_config *config;
        enum dawn_source_role role; /* of whoever reports: issuer unless a test says otherwise */
        char key_file[96];          /* a Notify API key for configs with texts; removed at teardown */
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct dawn_errors e = { 0 };

        if (!f)
                return -1;
        *state = f;
        snprintf(f->dir, sizeof(f->dir), "/tmp/dawn-test-intake-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        snprintf(f->db, sizeof(f->db), "%s/dawn.db", f->dir);
        int r = dawn_store_open(f->db, &f->store);
        if (r == 0)
                r = dawn_config_load_string(config_text, "test.conf", &f->config, &e);
        for (size_t i = 0; i < e.n; i++)
                fprintf(stderr, "config: %s\n", e.msgs[i]);
        dawn_errors_clear(&e);
        return r;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };

        dawn_store_close(f->store);
        dawn_config_free(f->config);
        if (f->key_file[0])
                unlink(f->key_file);
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
                char path[128];
                snprintf(path, sizeof(path), "%s%s", f->db, suffixes[i]);
                unlink(path);
        }
        rmdir(f->dir);
        free(f);
        return 0;
}

/* ---- requests, as the daemon makes them ---- */

enum op { ISSUE, UPDATE, CANCEL, APPROVE, REJECT, EXPIRE };

/* text: the alert JSON for ISSUE and UPDATE, the reason for CANCEL and REJECT.
 * *out is dawn_alert_init'ed here and the caller clears it. */
static int request(struct fixture *f, enum op op, const char *source, int64_t now, const char *id,
                   const char *text, struct dawn_alert *out, enum dawn_intake_outcome *outcome,
                   struct dawn_input_error *err)
{
        struct dawn_intake in = { .store = f->store, .config = f->config, .now = now, .source = source,
                                  .actor = "test", .role = f->role };
        cJSON *o = op == ISSUE || op == UPDATE ? json(text) : NULL;
        int r = -EINVAL;

        dawn_alert_init(out);
        memset(err, 0, sizeof(*err));
        assert_int_equal(dawn_store_begin(f->store), 0);
        assert_int_equal(dawn_store_savepoint(f->store), 0);
        switch (op) {
        case ISSUE:
                r = dawn_intake_issue(&in, o, out, outcome, err);
                break;
        case UPDATE:
                r = dawn_intake_update(&in, id, o, out, err);
                break;
        case CANCEL:
                r = dawn_intake_cancel(&in, id, text, out, err);
                break;
        case APPROVE:
                r = dawn_intake_approve(&in, id, out, err);
                break;
        case REJECT:
                r = dawn_intake_reject(&in, id, text, out, err);
                break;
        case EXPIRE:
                r = dawn_intake_expire(&in, id, out);
                break;
        }
        if (r < 0)
                dawn_store_rollback_to_savepoint(f->store);
        else
                assert_int_equal(dawn_store_release(f->store), 0);
        assert_int_equal(dawn_store_commit(f->store), 0);
        cJSON_Delete(o);
        return r;
}

static void must_succeed(int r, const struct dawn_input_error *err)
{
        if (r != 0) {
                print_error("refused (%d): %s: %s\n", r, err->field, err->message);
                fail();
        }
}

static enum dawn_intake_outcome issue(struct fixture *f, const char *source, int64_t now, const char *text,
                                      struct dawn_alert *out)
{
        enum dawn_intake_outcome outcome = (enum dawn_intake_outcome)-1;
        struct dawn_input_error err;
        must_succeed(request(f, ISSUE, source, now, NULL, text, out, &outcome, &err), &err);
        return outcome;
}

static void update(struct fixture *f, int64_t now, const char *id, const char *text, struct dawn_alert *out)
{
        struct dawn_input_error err;
        must_succeed(request(f, UPDATE, "local:officer", now, id, text, out, NULL, &err), &err);
}

static void cancel(struct fixture *f, int64_t now, const char *id, const char *reason, struct dawn_alert *out)
{
        struct dawn_input_error err;
        must_succeed(request(f, CANCEL, "local:officer", now, id, reason, out, NULL, &err), &err);
}

static void approve(struct fixture *f, int64_t now, const char *id, struct dawn_alert *out)
{
        struct dawn_input_error err;
        must_succeed(request(f, APPROVE, "local:officer", now, id, NULL, out, NULL, &err), &err);
}

static void reject(struct fixture *f, int64_t now, const char *id, const char *reason, struct dawn_alert *out)
{
        struct dawn_input_error err;
        must_succeed(request(f, REJECT, "local:officer", now, id, reason, out, NULL, &err), &err);
}

/* The alert reaches its expiry (whenever that is due: the test says when). */
static void expire(struct fixture *f, int64_t now, const char *id)
{
        struct dawn_alert out;
        struct dawn_input_error err;
        assert_int_equal(request(f, EXPIRE, "dawnd", now, id, NULL, &out, NULL, &err), 0);
        dawn_alert_clear(&out);
}

/* The request is refused, naming field, with exactly message. */
static void assert_refused(struct fixture *f, enum op op, const char *id, const char *text, const char *field,
                           const char *message)
{
        struct dawn_alert out;
        struct dawn_input_error err;
        enum dawn_intake_outcome outcome;
        int r = request(f, op, "local:officer", NOW + HOUR, id, text, &out, &outcome, &err);

        dawn_alert_clear(&out);
        if (r != -EINVAL) {
                print_error("accepted (r = %d): %s\n", r, text ? text : "(null)");
                fail();
        }
        assert_string_equal(err.field, field);
        assert_string_equal(err.message, message);
}

/* ---- what the store holds ---- */

/* The alert's outbox rows, one line each: "revision subscriber action
 * state", the area feed written as "area-feed", in the store's order
 * (revision, subscriber, channel, then creation). */
static char *deliveries(struct fixture *f, const char *id)
{
        cJSON *arr = cJSON_CreateArray();
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        const cJSON *d;

        assert_int_equal(dawn_store_deliveries_json(f->store, id, arr), 0);
        cJSON_ArrayForEach(d, arr) {
                const char *sub = cJSON_GetObjectItem(d, "subscriber")->valuestring;
                assert_string_equal(cJSON_GetObjectItem(d, "channel")->valuestring, "mqtt");
                fprintf(m, "%d %s %s %s\n", cJSON_GetObjectItem(d, "revision")->valueint, sub[0] ? sub : "area-feed",
                        cJSON_GetObjectItem(d, "action")->valuestring, cJSON_GetObjectItem(d, "state")->valuestring);
        }
        fclose(m);
        cJSON_Delete(arr);
        return text;
}

static void assert_deliveries(struct fixture *f, const char *id, const char *expected)
{
        char *got = deliveries(f, id);
        if (strcmp(got, expected) != 0) {
                print_error("deliveries of %s:\n%sexpected:\n%s", id, got, expected);
                free(got);
                fail();
        }
        free(got);
}

/* The recipient of the one row for (revision, subscriber, action). */
static char *recipient_of(struct fixture *f, const char *id, int revision, const char *subscriber,
                          const char *action)
{
        cJSON *arr = cJSON_CreateArray();
        const cJSON *d;
        char *found = NULL;
        int n = 0;

        assert_int_equal(dawn_store_deliveries_json(f->store, id, arr), 0);
        cJSON_ArrayForEach(d, arr) {
                if (cJSON_GetObjectItem(d, "revision")->valueint == revision &&
                    strcmp(cJSON_GetObjectItem(d, "subscriber")->valuestring, subscriber) == 0 &&
                    strcmp(cJSON_GetObjectItem(d, "action")->valuestring, action) == 0) {
                        free(found);
                        found = strdup(cJSON_GetObjectItem(d, "recipient")->valuestring);
                        n++;
                }
        }
        cJSON_Delete(arr);
        assert_int_equal(n, 1);
        return found;
}

static void assert_recipient(struct fixture *f, const char *id, int revision, const char *subscriber,
                             const char *action, const char *recipient)
{
        char *got = recipient_of(f, id, revision, subscriber, action);
        assert_string_equal(got, recipient);
        free(got);
}

struct counts {
        int alerts;
        int deliveries;
        int corroborations;
};

static struct counts count(struct fixture *f)
{
        struct counts c = { 0 };
        cJSON *alerts = cJSON_CreateArray();
        const cJSON *a;

        assert_int_equal(dawn_store_list_alerts(f->store, true, alerts), 0);
        c.alerts = cJSON_GetArraySize(alerts);
        cJSON_ArrayForEach(a, alerts) {
                const char *id = cJSON_GetObjectItem(a, "id")->valuestring;
                cJSON *arr = cJSON_CreateArray();
                assert_int_equal(dawn_store_deliveries_json(f->store, id, arr), 0);
                c.deliveries += cJSON_GetArraySize(arr);
                cJSON_Delete(arr);
                arr = cJSON_CreateArray();
                assert_int_equal(dawn_store_corroborations_json(f->store, id, arr), 0);
                c.corroborations += cJSON_GetArraySize(arr);
                cJSON_Delete(arr);
        }
        cJSON_Delete(alerts);
        return c;
}

static void assert_counts(struct counts got, struct counts want)
{
        if (got.alerts != want.alerts || got.deliveries != want.deliveries ||
            got.corroborations != want.corroborations) {
                print_error("store has %d alerts, %d deliveries, %d corroborations; expected %d, %d, %d\n", got.alerts,
                            got.deliveries, got.corroborations, want.alerts, want.deliveries, want.corroborations);
                fail();
        }
}

/* The alert as the store has it. */
static void load(struct fixture *f, const char *id, struct dawn_alert *a)
{
        dawn_alert_init(a);
        assert_int_equal(dawn_store_load_alert(f->store, id, a), 1);
}

static void assert_sources(const struct dawn_alert *a, const char *first, const char *second)
{
        assert_int_equal(a->sources.n, second ? 2 : 1);
        assert_string_equal(a->sources.v[0], first);
        if (second)
                assert_string_equal(a->sources.v[1], second);
}

/* The alert's outbox rows on every channel, one line each: "revision
 * subscriber channel action state recipient", in the store's order. */
static char *all_deliveries(struct fixture *f, const char *id)
{
        cJSON *arr = cJSON_CreateArray();
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        const cJSON *d;

        assert_int_equal(dawn_store_deliveries_json(f->store, id, arr), 0);
        cJSON_ArrayForEach(d, arr) {
                const char *sub = cJSON_GetObjectItem(d, "subscriber")->valuestring;
                fprintf(m, "%d %s %s %s %s %s\n", cJSON_GetObjectItem(d, "revision")->valueint,
                        sub[0] ? sub : "area-feed", cJSON_GetObjectItem(d, "channel")->valuestring,
                        cJSON_GetObjectItem(d, "action")->valuestring, cJSON_GetObjectItem(d, "state")->valuestring,
                        cJSON_GetObjectItem(d, "recipient")->valuestring);
        }
        fclose(m);
        cJSON_Delete(arr);
        return text;
}

static void assert_all_deliveries(struct fixture *f, const char *id, const char *expected)
{
        char *got = all_deliveries(f, id);
        if (strcmp(got, expected) != 0) {
                print_error("deliveries of %s:\n%sexpected:\n%s", id, got, expected);
                free(got);
                fail();
        }
        free(got);
}

/* How many of the alert's outbox rows have this action. */
static int rows_with_action(struct fixture *f, const char *id, const char *action)
{
        cJSON *arr = cJSON_CreateArray();
        const cJSON *d;
        int n = 0;

        assert_int_equal(dawn_store_deliveries_json(f->store, id, arr), 0);
        cJSON_ArrayForEach(d, arr)
                n += strcmp(cJSON_GetObjectItem(d, "action")->valuestring, action) == 0;
        cJSON_Delete(arr);
        return n;
}

/* Replaces the fixture's config with text; "@KEY@" in it becomes the path
 * of a readable Notify API key file. */
static void use_config(struct fixture *f, const char *text)
{
        struct dawn_errors e = { 0 };
        struct dawn_config *c = NULL;
        char *expanded = NULL;
        const char *at = strstr(text, "@KEY@");

        if (at) {
                if (!f->key_file[0]) {
                        snprintf(f->key_file, sizeof(f->key_file), "%s/notify-key", f->dir);
                        FILE *k = fopen(f->key_file, "w");
                        assert_non_null(k);
                        fputs("test-key\n", k);
                        fclose(k);
                }
                assert_true(asprintf(&expanded, "%.*s%s%s", (int)(at - text), text, f->key_file, at + 5) > 0);
        }
        int r = dawn_config_load_string(expanded ? expanded : text, "test.conf", &c, &e);
        for (size_t i = 0; i < e.n; i++)
                print_error("config: %s\n", e.msgs[i]);
        dawn_errors_clear(&e);
        free(expanded);
        assert_int_equal(r, 0);
        dawn_config_free(f->config);
        f->config = c;
}

/* The audit log's actions for an alert, oldest first: "issue cluster ...". */
static char *audit_actions(struct fixture *f, const char *id)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);

        assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT action FROM audit WHERE alert_id = ? ORDER BY id", -1, &st,
                                            NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        for (bool first = true; sqlite3_step(st) == SQLITE_ROW; first = false)
                fprintf(m, "%s%s", first ? "" : " ", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(db);
        fclose(m);
        return text;
}

static void assert_audit(struct fixture *f, const char *id, const char *expected)
{
        char *got = audit_actions(f, id);
        assert_string_equal(got, expected);
        free(got);
}

/* The ids of the reports recorded as corroborations of an alert: "A1 A2 A3". */
static char *corroboration_ids(struct fixture *f, const char *id)
{
        cJSON *arr = cJSON_CreateArray();
        const cJSON *c;
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);

        assert_int_equal(dawn_store_corroborations_json(f->store, id, arr), 0);
        bool first = true;
        cJSON_ArrayForEach(c, arr) {
                const cJSON *rid = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "report"), "id");
                fprintf(m, "%s%s", first ? "" : " ", cJSON_IsString(rid) ? rid->valuestring : "?");
                first = false;
        }
        fclose(m);
        cJSON_Delete(arr);
        return text;
}

static void assert_corroborations(struct fixture *f, const char *id, const char *expected)
{
        char *got = corroboration_ids(f, id);
        assert_string_equal(got, expected);
        free(got);
}

/* The alert's grade reason that starts with prefix, or NULL. */
static const char *reason_starting(const struct dawn_alert *a, const char *prefix)
{
        for (size_t i = 0; i < a->grade_reasons.n; i++)
                if (strncmp(a->grade_reasons.v[i], prefix, strlen(prefix)) == 0)
                        return a->grade_reasons.v[i];
        return NULL;
}

/* The proposals waiting for review, as dawnctl pending lists them. */
static cJSON *waiting_proposals(struct fixture *f)
{
        cJSON *arr = cJSON_CreateArray();
        assert_int_equal(dawn_store_waiting_proposals_json(f->store, arr), 0);
        return arr;
}

static void assert_no_proposals(struct fixture *f)
{
        cJSON *arr = waiting_proposals(f);
        assert_int_equal(cJSON_GetArraySize(arr), 0);
        cJSON_Delete(arr);
}

/* How many alerts of a type the store holds, in any status. */
static int alerts_of_type(struct fixture *f, const char *type)
{
        cJSON *alerts = cJSON_CreateArray();
        const cJSON *a;
        int n = 0;

        assert_int_equal(dawn_store_list_alerts(f->store, true, alerts), 0);
        cJSON_ArrayForEach(a, alerts)
                n += strcmp(cJSON_GetObjectItem(a, "type")->valuestring, type) == 0;
        cJSON_Delete(alerts);
        return n;
}

/* ---- new alerts ---- */

static void test_issue_creates_first_revision(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a, stored;

        assert_int_equal(issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a), DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_true(dawn_strv_contains(&a.grade_reasons, "adulterant nitazene is on the high-risk list"));
        assert_sources(&a, "portsmouth-ph", NULL);
        assert_int_equal(a.issued_at, NOW);
        assert_int_equal(a.updated_at, NOW);
        /* expires_at not given: the batch default, 14 days */
        assert_int_equal(a.expires_at, NOW + 14 * DAY);

        load(f, "A1", &stored);
        assert_int_equal(stored.revision, 1);
        assert_int_equal(stored.grade, DAWN_GRADE_WARNING);
        assert_string_equal(stored.summary, "Heroin in Southampton contains a nitazene.");
        assert_sources(&stored, "portsmouth-ph", NULL);
        dawn_alert_clear(&stored);

        char *rev = NULL;
        assert_int_equal(dawn_store_revision_json(f->store, "A1", 1, &rev), 1);
        assert_non_null(strstr(rev, "\"revision\":1"));
        free(rev);
        dawn_alert_clear(&a);
}

static void test_issue_queues_a_publish_for_each_matching_subscriber(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        /* not night-shelter (critical only), not fratton-pharmacy (portsmouth) */
        assert_deliveries(f, "A1",
                          "1 area-feed publish pending\n"
                          "1 booth-house publish pending\n"
                          "1 ph-duty-officer publish pending\n");
        assert_recipient(f, "A1", 1, "", "publish", "t/alerts/pan-hampshire/southampton/A1");
        assert_recipient(f, "A1", 1, "booth-house", "publish", "t/subscribers/booth-house/alerts/A1");
        assert_recipient(f, "A1", 1, "ph-duty-officer", "publish", "t/subscribers/ph-duty-officer/alerts/A1");
        assert_counts(count(f), (struct counts){ 1, 3, 0 });
        dawn_alert_clear(&a);
}

static void test_issue_of_another_batch_gets_the_next_id(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        assert_int_equal(issue(f, "portsmouth-ph", NOW,
                               "{'type': 'batch', 'area': 'portsmouth', 'summary': 'Blue tablets sold as diazepam.',"
                               " 'sold_as': ['diazepam'], 'adulterants': ['bromazolam'], 'evidence': 'toxicology'}",
                               &a),
                         DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A2");
        assert_deliveries(f, "A2",
                          "1 area-feed publish pending\n"
                          "1 fratton-pharmacy publish pending\n"
                          "1 ph-duty-officer publish pending\n");
        dawn_alert_clear(&a);
}

static void test_nfod_report_is_logged_and_sent_nowhere(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        assert_int_equal(issue(f, "ambulance", NOW, "{'type': 'nfod', 'area': 'gosport', 'sold_as': ['oxycodone']}", &a),
                         DAWN_INTAKE_NEW);
        assert_int_equal(a.grade, DAWN_GRADE_LOGGED);
        /* the nfod default expiry: 72 hours */
        assert_int_equal(a.expires_at, NOW + 72 * HOUR);
        assert_deliveries(f, a.id, "");
        assert_counts(count(f), (struct counts){ 1, 0, 0 });
        dawn_alert_clear(&a);
}

static void test_given_expiry_is_kept(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW,
              "{'type': 'batch', 'area': 'southampton', 'summary': 'x', 'expires_at': '2026-11-25T12:00:00Z'}", &a);
        assert_int_equal(a.expires_at, NOW + 2 * DAY);
        dawn_alert_clear(&a);
}

/* ---- deduplication ---- */

static void test_same_batch_from_second_source_merges(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a, stored;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        /* other words, other case, same batch */
        assert_int_equal(issue(f, "ambulance", NOW + HOUR,
                               "{'type': 'batch', 'area': 'southampton', 'summary': 'More heroin overdoses.',"
                               " 'sold_as': ['HEROIN '], 'adulterants': ['nitazene', 'Nitazene']}",
                               &a),
                         DAWN_INTAKE_MERGED);
        assert_string_equal(a.id, "A1");
        assert_sources(&a, "portsmouth-ph", "ambulance");
        dawn_alert_clear(&a);

        load(f, "A1", &stored);
        assert_sources(&stored, "portsmouth-ph", "ambulance");
        /* the first report's words stand */
        assert_string_equal(stored.summary, "Heroin in Southampton contains a nitazene.");
        dawn_alert_clear(&stored);

        cJSON *corr = cJSON_CreateArray();
        assert_int_equal(dawn_store_corroborations_json(f->store, "A1", corr), 0);
        assert_int_equal(cJSON_GetArraySize(corr), 1);
        const cJSON *c = cJSON_GetArrayItem(corr, 0);
        assert_string_equal(cJSON_GetObjectItem(c, "source")->valuestring, "ambulance");
        assert_string_equal(cJSON_GetObjectItem(c, "received_at")->valuestring, "2026-11-23T13:00:00Z");
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "report"), "summary")->valuestring,
                            "More heroin overdoses.");
        cJSON_Delete(corr);
        assert_counts(count(f), (struct counts){ 1, 3, 1 });
}

static void test_merge_without_grade_rise_sends_nothing_new(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        /* a second source adds a point: 3, still warning */
        issue(f, "ambulance", NOW + HOUR, NITAZENE_HEROIN, &a);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_true(dawn_strv_contains(&a.grade_reasons, "corroborated by 2 sources"));
        assert_int_equal(a.revision, 1);
        /* updated by the latest report, so the dedup window runs from it */
        assert_int_equal(a.updated_at, NOW + HOUR);
        dawn_alert_clear(&a);

        load(f, "A1", &a);
        assert_int_equal(a.revision, 1);
        dawn_alert_clear(&a);
        char *rev = NULL;
        assert_int_equal(dawn_store_revision_json(f->store, "A1", 2, &rev), 0);
        assert_null(rev);
        assert_deliveries(f, "A1",
                          "1 area-feed publish pending\n"
                          "1 booth-house publish pending\n"
                          "1 ph-duty-officer publish pending\n");
}

static void test_merge_raising_grade_sends_revision_2(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        assert_int_equal(issue(f, "uhs-lab", NOW + HOUR, NITAZENE_HEROIN_CONFIRMED, &a), DAWN_INTAKE_MERGED);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.updated_at, NOW + HOUR);
        assert_true(dawn_strv_contains(&a.grade_reasons, "confirmed by toxicology"));
        assert_true(dawn_strv_contains(&a.grade_reasons, "3 casualties"));
        dawn_alert_clear(&a);

        /* revision 1 had not gone yet: superseded; revision 2 goes to night-shelter too */
        assert_deliveries(f, "A1",
                          "1 area-feed publish superseded\n"
                          "1 booth-house publish superseded\n"
                          "1 ph-duty-officer publish superseded\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house publish pending\n"
                          "2 night-shelter publish pending\n"
                          "2 ph-duty-officer publish pending\n");
        char *rev = NULL;
        assert_int_equal(dawn_store_revision_json(f->store, "A1", 2, &rev), 1);
        assert_non_null(strstr(rev, "\"grade\":\"critical\""));
        free(rev);
}

static void test_merge_does_not_supersede_what_was_delivered(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;
        struct dawn_outbox_row rows[8];

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        /* every revision-1 row was sent and acknowledged */
        int n = dawn_store_due_deliveries(f->store, DAWN_CHANNEL_MQTT, NOW, rows, 8);
        assert_int_equal(n, 3);
        for (int i = 0; i < n; i++) {
                assert_int_equal(dawn_store_delivery_started(f->store, rows[i].id, NOW), 0);
                assert_int_equal(dawn_store_delivery_finished(f->store, rows[i].id, DAWN_DELIVERY_DELIVERED, NULL, 0, NOW),
                                 0);
                dawn_outbox_row_clear(&rows[i]);
        }
        issue(f, "uhs-lab", NOW + HOUR, NITAZENE_HEROIN_CONFIRMED, &a);
        dawn_alert_clear(&a);
        assert_deliveries(f, "A1",
                          "1 area-feed publish delivered\n"
                          "1 booth-house publish delivered\n"
                          "1 ph-duty-officer publish delivered\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house publish pending\n"
                          "2 night-shelter publish pending\n"
                          "2 ph-duty-officer publish pending\n");
}

static void test_report_inside_dedup_window_merges(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        assert_int_equal(issue(f, "ambulance", NOW + 71 * HOUR, NITAZENE_HEROIN, &a), DAWN_INTAKE_MERGED);
        assert_string_equal(a.id, "A1");
        dawn_alert_clear(&a);
}

static void test_report_outside_dedup_window_is_a_new_alert(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        /* 73 hours later: past the 72 h window, though A1 has not expired (14 days) */
        assert_int_equal(issue(f, "ambulance", NOW + 73 * HOUR, NITAZENE_HEROIN, &a), DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A2");
        assert_sources(&a, "ambulance", NULL);
        dawn_alert_clear(&a);
        assert_counts(count(f), (struct counts){ 2, 6, 0 });
}

static void test_cancelled_alert_does_not_absorb_reports(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        cancel(f, NOW + HOUR, "A1", "issued in error", &a);
        dawn_alert_clear(&a);
        assert_int_equal(issue(f, "ambulance", NOW + 2 * HOUR, NITAZENE_HEROIN, &a), DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A2");
        dawn_alert_clear(&a);
}

/* ---- idempotency ---- */

static void test_resubmitted_source_ref_is_a_duplicate(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "ambulance", NOW,
              "{'type': 'batch', 'area': 'southampton', 'summary': 'x', 'adulterants': ['nitazene'],"
              " 'source_ref': 'amb-20261123-0412'}",
              &a);
        assert_string_equal(a.id, "A1");
        dawn_alert_clear(&a);
        struct counts before = count(f);

        /* the submitter retries (and its retry even differs): the first answer again */
        assert_int_equal(issue(f, "ambulance", NOW + 60 * SEC,
                               "{'type': 'batch', 'area': 'southampton', 'summary': 'x', 'adulterants': ['nitazene'],"
                               " 'evidence': 'toxicology', 'casualties': 9, 'source_ref': 'amb-20261123-0412'}",
                               &a),
                         DAWN_INTAKE_DUPLICATE);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_sources(&a, "ambulance", NULL);
        dawn_alert_clear(&a);
        assert_counts(count(f), before);
        load(f, "A1", &a);
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.casualties, -1);
        dawn_alert_clear(&a);
}

static void test_same_source_ref_from_another_source_is_not_a_duplicate(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "ambulance", NOW, "{'type': 'batch', 'area': 'southampton', 'summary': 'Brown heroin', 'source_ref': 'ref-1'}", &a);
        dawn_alert_clear(&a);
        /* two systems may number their reports alike */
        assert_int_equal(issue(f, "uhs-ed", NOW + 60 * SEC, "{'type': 'batch', 'area': 'southampton', 'summary': 'Brown heroin', 'source_ref': 'ref-1'}",
                               &a),
                         DAWN_INTAKE_MERGED);
        assert_sources(&a, "ambulance", "uhs-ed");
        dawn_alert_clear(&a);
        assert_counts(count(f), (struct counts){ 1, 2, 1 });

        /* and each source's retry finds its own first answer */
        assert_int_equal(issue(f, "uhs-ed", NOW + 120 * SEC,
                               "{'type': 'batch', 'area': 'southampton', 'summary': 'Brown heroin', 'source_ref': 'ref-1'}", &a),
                         DAWN_INTAKE_DUPLICATE);
        assert_string_equal(a.id, "A1");
        dawn_alert_clear(&a);
        assert_counts(count(f), (struct counts){ 1, 2, 1 });
}

static void test_new_source_ref_from_same_source_is_a_new_report(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "ambulance", NOW, "{'type': 'batch', 'area': 'southampton', 'summary': 'Brown heroin', 'source_ref': 'ref-1'}", &a);
        dawn_alert_clear(&a);
        assert_int_equal(issue(f, "ambulance", NOW + 60 * SEC,
                               "{'type': 'batch', 'area': 'southampton', 'summary': 'Brown heroin', 'source_ref': 'ref-2'}", &a),
                         DAWN_INTAKE_MERGED);
        dawn_alert_clear(&a);
        assert_counts(count(f), (struct counts){ 1, 2, 1 });
}

/* ---- updates ---- */

static void test_update_changes_fields_and_regrades(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        update(f, NOW + HOUR, "A1", "{'evidence': 'toxicology', 'casualties': 3, 'advice': 'Carry naloxone.'}", &a);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_true(dawn_strv_contains(&a.grade_reasons, "confirmed by toxicology"));
        assert_int_equal(a.issued_at, NOW);
        assert_int_equal(a.updated_at, NOW + HOUR);
        dawn_alert_clear(&a);

        load(f, "A1", &a);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.evidence, DAWN_EVIDENCE_TOXICOLOGY);
        assert_int_equal(a.casualties, 3);
        assert_string_equal(a.advice, "Carry naloxone.");
        /* what the update did not name stays */
        assert_string_equal(a.summary, "Heroin in Southampton contains a nitazene.");
        assert_string_equal(a.sold_as.v[0], "heroin");
        assert_sources(&a, "portsmouth-ph", NULL);
        dawn_alert_clear(&a);
        assert_deliveries(f, "A1",
                          "1 area-feed publish superseded\n"
                          "1 booth-house publish superseded\n"
                          "1 ph-duty-officer publish superseded\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house publish pending\n"
                          "2 night-shelter publish pending\n"
                          "2 ph-duty-officer publish pending\n");
}

static void test_update_moving_the_alert_withdraws_it(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        update(f, NOW + HOUR, "A1", "{'area': 'portsmouth'}", &a);
        assert_int_equal(a.revision, 2);
        assert_string_equal(a.area, "portsmouth");
        dawn_alert_clear(&a);
        /* booth-house (southampton) no longer matches: told to drop it; fratton-pharmacy now does */
        assert_deliveries(f, "A1",
                          "1 area-feed publish superseded\n"
                          "1 booth-house publish superseded\n"
                          "1 ph-duty-officer publish superseded\n"
                          "2 area-feed withdraw pending\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house withdraw pending\n"
                          "2 fratton-pharmacy publish pending\n"
                          "2 ph-duty-officer publish pending\n");
        /* the old area topic is cleared, the new one carries it */
        assert_recipient(f, "A1", 2, "", "withdraw", "t/alerts/pan-hampshire/southampton/A1");
        assert_recipient(f, "A1", 2, "", "publish", "t/alerts/pan-hampshire/portsmouth/A1");
        assert_recipient(f, "A1", 2, "booth-house", "withdraw", "t/subscribers/booth-house/alerts/A1");
}

static void test_update_lowering_grade_withdraws_from_those_above_it(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        update(f, NOW + HOUR, "A1", "{'grade': 'info'}", &a);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_true(dawn_strv_contains(&a.grade_reasons,
                                       "grade set to info by an officer (the evidence alone gives warning)"));
        dawn_alert_clear(&a);
        /* booth-house takes warning and up; public health takes info */
        assert_deliveries(f, "A1",
                          "1 area-feed publish superseded\n"
                          "1 booth-house publish superseded\n"
                          "1 ph-duty-officer publish superseded\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house withdraw pending\n"
                          "2 ph-duty-officer publish pending\n");
}

static void test_update_republishes_to_the_same_recipients(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        update(f, NOW + HOUR, "A1", "{'appearance': 'light brown powder'}", &a);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        dawn_alert_clear(&a);
        assert_deliveries(f, "A1",
                          "1 area-feed publish superseded\n"
                          "1 booth-house publish superseded\n"
                          "1 ph-duty-officer publish superseded\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house publish pending\n"
                          "2 ph-duty-officer publish pending\n");
}

static void test_invalid_update_leaves_the_alert_unchanged(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        struct counts before = count(f);

        assert_refused(f, UPDATE, "A1", "{'casualties': -1}", "casualties",
                       "casualties: must be a whole number from 0 to 1000000");
        assert_refused(f, UPDATE, "A1", "{'area': 'narnia'}", "area", "area: unknown area 'narnia'");
        assert_refused(f, UPDATE, "A1", "{'colour': 'red'}", "colour", "unknown field 'colour'");
        assert_refused(f, UPDATE, "A1", "{}", "alert", "nothing to update: give at least one field");
        assert_refused(f, UPDATE, "A1", "{'source_ref': 'x'}", "source_ref",
                       "source_ref: belongs to the first report, not to an update");
        assert_refused(f, UPDATE, "A1", "{'casualties': 1, 'fatalities': 2}", "fatalities",
                       "fatalities: 2 is more than the 1 casualties");

        assert_counts(count(f), before);
        load(f, "A1", &a);
        assert_int_equal(a.revision, 1);
        assert_string_equal(a.area, "southampton");
        assert_int_equal(a.casualties, -1);
        dawn_alert_clear(&a);
}

static void test_update_of_unknown_alert_is_refused(void **state)
{
        struct fixture *f = *state;

        assert_refused(f, UPDATE, "A99", "{'advice': 'x'}", "id", "no alert with id 'A99'");
        assert_refused(f, CANCEL, "A99", "issued in error", "id", "no alert with id 'A99'");
        assert_counts(count(f), (struct counts){ 0, 0, 0 });
}

/* ---- cancel ---- */

static void test_cancel_withdraws_from_every_recipient(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        cancel(f, NOW + HOUR, "A1", "Issued in error: the lab result was for another sample.", &a);
        assert_int_equal(a.status, DAWN_STATUS_CANCELLED);
        assert_int_equal(a.revision, 2);
        assert_string_equal(a.cancel_reason, "Issued in error: the lab result was for another sample.");
        assert_int_equal(a.updated_at, NOW + HOUR);
        dawn_alert_clear(&a);

        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_CANCELLED);
        assert_string_equal(a.cancel_reason, "Issued in error: the lab result was for another sample.");
        dawn_alert_clear(&a);
        assert_deliveries(f, "A1",
                          "1 area-feed publish superseded\n"
                          "1 booth-house publish superseded\n"
                          "1 ph-duty-officer publish superseded\n"
                          "2 area-feed withdraw pending\n"
                          "2 booth-house withdraw pending\n"
                          "2 ph-duty-officer withdraw pending\n");
        assert_recipient(f, "A1", 2, "", "withdraw", "t/alerts/pan-hampshire/southampton/A1");
}

static void test_cancel_reaches_recipients_of_every_revision(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        /* night-shelter hears only from revision 2, when the alert turns critical */
        issue(f, "uhs-lab", NOW + HOUR, NITAZENE_HEROIN_CONFIRMED, &a);
        dawn_alert_clear(&a);
        cancel(f, NOW + 2 * HOUR, "A1", "withdrawn by the lab", &a);
        assert_int_equal(a.revision, 3);
        dawn_alert_clear(&a);
        char *all = deliveries(f, "A1");
        const char *rev3 = strstr(all, "\n3 ");
        assert_non_null(rev3);
        assert_string_equal(rev3 + 1,
                            "3 area-feed withdraw pending\n"
                            "3 booth-house withdraw pending\n"
                            "3 night-shelter withdraw pending\n"
                            "3 ph-duty-officer withdraw pending\n");
        free(all);
}

static void test_cancelled_alert_is_listed_only_with_all(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;
        cJSON *list = cJSON_CreateArray();

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        cancel(f, NOW + HOUR, "A1", "issued in error", &a);
        dawn_alert_clear(&a);
        assert_int_equal(dawn_store_list_alerts(f->store, false, list), 0);
        assert_int_equal(cJSON_GetArraySize(list), 0);
        assert_int_equal(dawn_store_list_alerts(f->store, true, list), 0);
        assert_int_equal(cJSON_GetArraySize(list), 1);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "status")->valuestring, "cancelled");
        cJSON_Delete(list);
}

static void test_cancelled_alert_cannot_change(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        cancel(f, NOW + HOUR, "A1", "issued in error", &a);
        dawn_alert_clear(&a);
        struct counts before = count(f);

        assert_refused(f, UPDATE, "A1", "{'advice': 'Carry naloxone.'}", "id", "alert A1 is cancelled and cannot be updated");
        assert_refused(f, CANCEL, "A1", "again", "id", "alert A1 is cancelled and cannot be cancelled");
        assert_counts(count(f), before);
        load(f, "A1", &a);
        assert_int_equal(a.revision, 2);
        assert_string_equal(a.cancel_reason, "issued in error");
        dawn_alert_clear(&a);
}

static void test_cancel_needs_a_reason(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        struct counts before = count(f);

        assert_refused(f, CANCEL, "A1", NULL, "reason", "reason: must not be empty");
        assert_refused(f, CANCEL, "A1", "", "reason", "reason: must not be empty");
        assert_refused(f, CANCEL, "A1", " \n ", "reason", "reason: must not be empty");
        assert_refused(f, CANCEL, "A1", "bad\x01", "reason",
                       "reason: not valid UTF-8 text, or holds a control character other than a newline");

        assert_counts(count(f), before);
        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 1);
        assert_null(a.cancel_reason);
        dawn_alert_clear(&a);
}

/* ---- refused reports ---- */

static void test_invalid_issue_leaves_the_store_unchanged(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        struct counts before = count(f);

        assert_refused(f, ISSUE, NULL, "{'type': 'batch', 'area': 'narnia', 'summary': 'x'}", "area",
                       "area: unknown area 'narnia'");
        assert_refused(f, ISSUE, NULL, "{'area': 'southampton', 'summary': 'x'}", "type",
                       "type: required (batch, cluster or nfod)");
        assert_refused(f, ISSUE, NULL, "{'type': 'batch', 'area': 'southampton'}", "summary",
                       "summary: required for a batch alert");
        assert_refused(f, ISSUE, NULL, "{'type': 'batch', 'area': 'southampton', 'summary': 'x', 'id': 'A1'}", "id",
                       "id: set by the daemon, not by a submitter");
        assert_refused(f, ISSUE, NULL,
                       "{'type': 'batch', 'area': 'southampton', 'summary': 'x', 'expires_at': '2026-11-01T00:00:00Z'}",
                       "expires_at", "expires_at: lies in the past");
        /* a refused retry of a known report is refused, not merged */
        assert_refused(f, ISSUE, NULL,
                       "{'type': 'batch', 'area': 'southampton', 'summary': 'x', 'sold_as': ['heroin'],"
                       " 'adulterants': ['nitazene'], 'casualties': 'many'}",
                       "casualties", "casualties: must be a whole number");

        assert_counts(count(f), before);
        load(f, "A1", &a);
        assert_int_equal(a.revision, 1);
        assert_sources(&a, "portsmouth-ph", NULL);
        dawn_alert_clear(&a);
}

/* ---- the review queue ---- */

/* The fixture's areas and subscribers with texts and mail: booth-house
 * (hostel, southampton) and fratton-pharmacy (portsmouth) take texts,
 * ph-duty-officer (public health, the whole county) every channel, and two
 * local public-health teams: soton-ph (southampton, texts) and
 * portsmouth-ph (portsmouth, MQTT and mail). */
static const char text_config[] =
        "areas = { pan-hampshire = { southampton = {}; portsmouth = {};\n"
        "                            hampshire = { fareham = {}; gosport = {}; }; }; };\n"
        "channels = {\n"
        "  mqtt = { topic_prefix = \"t\"; };\n"
        "  sms = { api_key_file = \"@KEY@\"; template_id = \"f33517ff-2a88-4f6e-b855-c550268ce08a\"; };\n"
        "  email = { url = \"smtps://mail.example.org\"; from = \"dawn@example.org\"; };\n"
        "};\n"
        "subscribers = (\n"
        "  { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; sms = [\"+447700900001\"]; },\n"
        "  { id = \"fratton-pharmacy\"; kind = \"pharmacy\"; area = \"portsmouth\"; sms = [\"+447700900002\"]; },\n"
        "  { id = \"ph-duty-officer\"; kind = \"public-health\"; area = \"pan-hampshire\"; mqtt = true;\n"
        "    sms = [\"+447700900003\"]; email = [\"duty@ph.example.org\"]; },\n"
        "  { id = \"soton-ph\"; kind = \"public-health\"; area = \"southampton\"; sms = [\"+447700900004\"]; },\n"
        "  { id = \"portsmouth-ph\"; kind = \"public-health\"; area = \"portsmouth\"; mqtt = true;\n"
        "    email = [\"ph@portsmouth.example.org\"]; }\n"
        ");\n";

/* An issuer reporting what a reporter's pending report says is the
 * confirmation the review waited for: the alert goes out. */
static void test_issuer_corroboration_confirms_a_pending_report(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        f->role = DAWN_ROLE_REPORTER;
        issue(f, "hants-outreach", NOW, NITAZENE_HEROIN, &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_ISSUER;
        assert_int_equal(issue(f, "portsmouth-ph", NOW + HOUR, NITAZENE_HEROIN, &a), DAWN_INTAKE_MERGED);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 2);
        /* it goes out as the issuer reported it; the reporter's report, which raises nothing, then counts */
        assert_sources(&a, "portsmouth-ph", "hants-outreach");
        dawn_alert_clear(&a);
        assert_true(rows_with_action(f, "A1", "publish") > 0);
        assert_audit(f, "A1", "report approve corroborate");
        assert_no_proposals(f);
}

static void test_reporter_report_waits_for_review(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        f->role = DAWN_ROLE_REPORTER;
        assert_int_equal(issue(f, "hants-outreach", NOW, NITAZENE_HEROIN, &a), DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        dawn_alert_clear(&a);
        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        dawn_alert_clear(&a);

        /* only the public-health officer over the county hears of it, on its review topic; not the
         * area feed, not booth-house or night-shelter (southampton), not fratton-pharmacy */
        assert_deliveries(f, "A1", "1 ph-duty-officer review pending\n");
        assert_recipient(f, "A1", 1, "ph-duty-officer", "review", "t/subscribers/ph-duty-officer/review/A1");
        assert_int_equal(rows_with_action(f, "A1", "publish"), 0);
        assert_audit(f, "A1", "report");
        /* it is open, so it is listed */
        cJSON *list = cJSON_CreateArray();
        assert_int_equal(dawn_store_list_alerts(f->store, false, list), 0);
        assert_int_equal(cJSON_GetArraySize(list), 1);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "status")->valuestring, "pending");
        cJSON_Delete(list);

        approve(f, NOW + HOUR, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_int_equal(a.issued_at, NOW);
        assert_int_equal(a.updated_at, NOW + HOUR);
        assert_sources(&a, "hants-outreach", NULL);
        dawn_alert_clear(&a);
        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 2);
        dawn_alert_clear(&a);
        char *rev = NULL;
        assert_int_equal(dawn_store_revision_json(f->store, "A1", 2, &rev), 1);
        assert_non_null(strstr(rev, "\"status\":\"active\""));
        free(rev);

        /* revision 2 goes out as an issuer's would have; the review notice that had not gone is moot */
        assert_deliveries(f, "A1",
                          "1 ph-duty-officer review superseded\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house publish pending\n"
                          "2 ph-duty-officer publish pending\n");
        assert_recipient(f, "A1", 2, "", "publish", "t/alerts/pan-hampshire/southampton/A1");
        assert_recipient(f, "A1", 2, "booth-house", "publish", "t/subscribers/booth-house/alerts/A1");
        assert_int_equal(rows_with_action(f, "A1", "withdraw"), 0);
        assert_audit(f, "A1", "report approve");

        struct counts before = count(f);
        assert_refused(f, APPROVE, "A1", NULL, "id", "alert A1 is active, not waiting for review: it cannot be approved");
        assert_refused(f, APPROVE, "A99", NULL, "id", "no alert with id 'A99'");
        assert_counts(count(f), before);
        load(f, "A1", &a);
        assert_int_equal(a.revision, 2);
        dawn_alert_clear(&a);
}

static void test_issuer_report_is_not_reviewed(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        dawn_alert_clear(&a);
        assert_int_equal(rows_with_action(f, "A1", "review"), 0);
        assert_audit(f, "A1", "issue");
        assert_refused(f, APPROVE, "A1", NULL, "id", "alert A1 is active, not waiting for review: it cannot be approved");
}

static void test_review_reaches_related_public_health_on_every_channel(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_config(f, text_config);
        f->role = DAWN_ROLE_REPORTER;
        issue(f, "hants-outreach", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        /* southampton: the county's officer and the city's team; not portsmouth's team, not the
         * hostel or the pharmacy */
        assert_all_deliveries(f, "A1",
                              "1 ph-duty-officer email review pending duty@ph.example.org\n"
                              "1 ph-duty-officer mqtt review pending t/subscribers/ph-duty-officer/review/A1\n"
                              "1 ph-duty-officer sms review pending +447700900003\n"
                              "1 soton-ph sms review pending +447700900004\n");

        /* gosport: only the county's officer (an ancestor) */
        issue(f, "hants-outreach", NOW, "{'type': 'batch', 'area': 'gosport', 'summary': 'Pink pills sold as MDMA.'}", &a);
        assert_string_equal(a.id, "A2");
        dawn_alert_clear(&a);
        assert_all_deliveries(f, "A2",
                              "1 ph-duty-officer email review pending duty@ph.example.org\n"
                              "1 ph-duty-officer mqtt review pending t/subscribers/ph-duty-officer/review/A2\n"
                              "1 ph-duty-officer sms review pending +447700900003\n");

        /* the whole county: every public-health subscriber below it too */
        issue(f, "hants-outreach", NOW,
              "{'type': 'batch', 'area': 'pan-hampshire', 'summary': 'Fake Xanax across the county.'}", &a);
        assert_string_equal(a.id, "A3");
        dawn_alert_clear(&a);
        assert_all_deliveries(f, "A3",
                              "1 ph-duty-officer email review pending duty@ph.example.org\n"
                              "1 ph-duty-officer mqtt review pending t/subscribers/ph-duty-officer/review/A3\n"
                              "1 ph-duty-officer sms review pending +447700900003\n"
                              "1 portsmouth-ph email review pending ph@portsmouth.example.org\n"
                              "1 portsmouth-ph mqtt review pending t/subscribers/portsmouth-ph/review/A3\n"
                              "1 soton-ph sms review pending +447700900004\n");
}

static void test_reject_cancels_without_telling_anyone(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        f->role = DAWN_ROLE_REPORTER;
        issue(f, "hants-outreach", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        reject(f, NOW + HOUR, "A1", "the photo shows a different batch", &a);
        assert_int_equal(a.status, DAWN_STATUS_CANCELLED);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.updated_at, NOW + HOUR);
        assert_string_equal(a.cancel_reason, "rejected in review: the photo shows a different batch");
        dawn_alert_clear(&a);

        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_CANCELLED);
        assert_int_equal(strncmp(a.cancel_reason, "rejected in review:", 19), 0);
        dawn_alert_clear(&a);
        /* nobody had it published, so nobody is told to withdraw it */
        assert_deliveries(f, "A1", "1 ph-duty-officer review superseded\n");
        assert_int_equal(rows_with_action(f, "A1", "publish"), 0);
        assert_int_equal(rows_with_action(f, "A1", "withdraw"), 0);
        assert_audit(f, "A1", "report reject");

        /* decided once */
        struct counts before = count(f);
        assert_refused(f, REJECT, "A1", "again", "id",
                       "alert A1 is cancelled, not waiting for review: it cannot be rejected");
        assert_refused(f, APPROVE, "A1", NULL, "id",
                       "alert A1 is cancelled, not waiting for review: it cannot be approved");
        assert_counts(count(f), before);

        /* and a rejected report absorbs no later one */
        f->role = DAWN_ROLE_ISSUER;
        assert_int_equal(issue(f, "portsmouth-ph", NOW + 2 * HOUR, NITAZENE_HEROIN, &a), DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A2");
        dawn_alert_clear(&a);
}

static void test_reject_needs_a_reason_and_a_pending_alert(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        f->role = DAWN_ROLE_REPORTER;
        issue(f, "hants-outreach", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_ISSUER;
        issue(f, "portsmouth-ph", NOW,
              "{'type': 'batch', 'area': 'portsmouth', 'summary': 'Blue tablets sold as diazepam.',"
              " 'sold_as': ['diazepam'], 'adulterants': ['bromazolam']}",
              &a);
        assert_string_equal(a.id, "A2");
        dawn_alert_clear(&a);
        struct counts before = count(f);

        assert_refused(f, REJECT, "A1", NULL, "reason", "reason: must not be empty");
        assert_refused(f, REJECT, "A1", "", "reason", "reason: must not be empty");
        assert_refused(f, REJECT, "A1", " \n ", "reason", "reason: must not be empty");
        /* reject is for the review queue; withdrawing an active alert is cancel's job, which tells recipients */
        assert_refused(f, REJECT, "A2", "not needed", "id",
                       "alert A2 is active, not waiting for review: it cannot be rejected"
                       " (to withdraw it: dawnctl cancel A2 --reason TEXT)");
        assert_refused(f, REJECT, "A99", "not needed", "id", "no alert with id 'A99'");

        assert_counts(count(f), before);
        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        assert_int_equal(a.revision, 1);
        assert_null(a.cancel_reason);
        dawn_alert_clear(&a);
        load(f, "A2", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 1);
        assert_null(a.cancel_reason);
        dawn_alert_clear(&a);
}

/* ---- overdose reports and clusters ---- */

#define NFOD(area) "{'type': 'nfod', 'area': '" area "'}"

/* The fixture's config with cluster detection spelled out: three reports
 * within 24 hours, straight out or to review. */
static void use_cluster_config(struct fixture *f, bool review)
{
        char *text = NULL;
        assert_true(asprintf(&text, "%sgrading = { cluster = { window = \"24h\"; threshold = 3; review = %s; }; };\n",
                             config_text, review ? "true" : "false") > 0);
        use_config(f, text);
        free(text);
}

static void test_identical_overdose_reports_are_two_alerts(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        assert_int_equal(issue(f, "ambulance", NOW, "{'type': 'nfod', 'area': 'gosport', 'sold_as': ['oxycodone']}", &a),
                         DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A1");
        dawn_alert_clear(&a);
        /* the same words from the same crew a minute later: another person */
        assert_int_equal(issue(f, "ambulance", NOW + 60 * SEC,
                               "{'type': 'nfod', 'area': 'gosport', 'sold_as': ['oxycodone']}", &a),
                         DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A2");
        assert_sources(&a, "ambulance", NULL);
        dawn_alert_clear(&a);
        assert_counts(count(f), (struct counts){ 2, 0, 0 });
        load(f, "A1", &a);
        assert_sources(&a, "ambulance", NULL);
        assert_int_equal(a.revision, 1);
        dawn_alert_clear(&a);
}

static void test_three_overdose_reports_raise_a_cluster(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 0);
        /* the third: the submitter gets its own report back; the cluster is another alert */
        assert_int_equal(issue(f, "scas", NOW + 2 * HOUR, NFOD("southampton"), &a), DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A3");
        assert_int_equal(a.type, DAWN_TYPE_NFOD);
        assert_int_equal(a.grade, DAWN_GRADE_LOGGED);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);

        load(f, "A4", &a);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_string_equal(a.area, "southampton");
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.casualties, 3);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_int_equal(a.issued_at, NOW + 2 * HOUR);
        assert_int_equal(a.expires_at, NOW + 26 * HOUR);
        assert_string_equal(a.summary, "Overdose cluster: 3 overdoses reported in southampton within 24 hours");
        assert_int_equal(a.sources.n, 3);
        assert_true(dawn_strv_contains(&a.sources, "ambulance"));
        assert_true(dawn_strv_contains(&a.sources, "uhs-ed"));
        assert_true(dawn_strv_contains(&a.sources, "scas"));
        assert_true(dawn_strv_contains(&a.grade_reasons, "overdose cluster"));
        assert_true(dawn_strv_contains(&a.grade_reasons, "3 casualties"));
        const char *named = reason_starting(&a, "from 3 overdose reports:");
        assert_non_null(named);
        assert_string_equal(named, "from 3 overdose reports: A1 (ambulance), A2 (uhs-ed), A3 (scas)");
        dawn_alert_clear(&a);
        assert_corroborations(f, "A4", "A1 A2 A3");
        assert_audit(f, "A4", "cluster");
        /* a warning in southampton goes where a batch warning would */
        assert_deliveries(f, "A4",
                          "1 area-feed publish pending\n"
                          "1 booth-house publish pending\n"
                          "1 ph-duty-officer publish pending\n");
        assert_recipient(f, "A4", 1, "", "publish", "t/alerts/pan-hampshire/southampton/A4");
        /* the reports themselves are still sent nowhere */
        assert_deliveries(f, "A1", "");
        assert_deliveries(f, "A3", "");

        /* a fourth joins it: counted, named, the window runs again; the grade stays, so nothing is resent */
        assert_int_equal(issue(f, "ambulance", NOW + 3 * HOUR, NFOD("southampton"), &a), DAWN_INTAKE_NEW);
        assert_string_equal(a.id, "A5");
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A4", &a);
        assert_int_equal(a.casualties, 4);
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_int_equal(a.updated_at, NOW + 3 * HOUR);
        assert_int_equal(a.expires_at, NOW + 27 * HOUR);
        assert_int_equal(a.sources.n, 3);
        assert_string_equal(reason_starting(&a, "from 4 overdose reports:"),
                            "from 4 overdose reports: A1 (ambulance), A2 (uhs-ed), A3 (scas), A5 (ambulance)");
        dawn_alert_clear(&a);
        assert_corroborations(f, "A4", "A1 A2 A3 A5");
        assert_audit(f, "A4", "cluster corroborate");
        assert_deliveries(f, "A4",
                          "1 area-feed publish pending\n"
                          "1 booth-house publish pending\n"
                          "1 ph-duty-officer publish pending\n");
        /* the report that joined is an alert of its own all the same */
        load(f, "A5", &a);
        assert_int_equal(a.type, DAWN_TYPE_NFOD);
        dawn_alert_clear(&a);
}

static void test_report_raising_a_cluster_grade_sends_a_new_revision(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "scas", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        /* a nitazene found in the fourth: 6 points, critical */
        issue(f, "uhs-lab", NOW + 3 * HOUR, "{'type': 'nfod', 'area': 'southampton', 'adulterants': ['nitazene']}",
              &a);
        assert_string_equal(a.id, "A5");
        dawn_alert_clear(&a);
        load(f, "A4", &a);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.casualties, 4);
        assert_true(dawn_strv_contains(&a.adulterants, "nitazene"));
        assert_int_equal(a.sources.n, 4);
        dawn_alert_clear(&a);
        assert_deliveries(f, "A4",
                          "1 area-feed publish superseded\n"
                          "1 booth-house publish superseded\n"
                          "1 ph-duty-officer publish superseded\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house publish pending\n"
                          "2 night-shelter publish pending\n"
                          "2 ph-duty-officer publish pending\n");
}

static void test_cluster_with_a_nitazene_is_critical(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + HOUR,
              "{'type': 'nfod', 'area': 'southampton', 'sold_as': ['heroin'], 'adulterants': ['nitazene']}", &a);
        dawn_alert_clear(&a);
        issue(f, "scas", NOW + 2 * HOUR, "{'type': 'nfod', 'area': 'southampton', 'sold_as': ['heroin']}", &a);
        dawn_alert_clear(&a);

        load(f, "A4", &a);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.adulterants.n, 1);
        assert_int_equal(a.sold_as.n, 1);
        assert_string_equal(a.sold_as.v[0], "heroin");
        assert_true(dawn_strv_contains(&a.grade_reasons, "adulterant nitazene is on the high-risk list"));
        dawn_alert_clear(&a);
        /* critical: night-shelter hears of it too */
        assert_deliveries(f, "A4",
                          "1 area-feed publish pending\n"
                          "1 booth-house publish pending\n"
                          "1 night-shelter publish pending\n"
                          "1 ph-duty-officer publish pending\n");
}

static void test_cluster_counts_every_casualty_and_death(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        issue(f, "ambulance", NOW, "{'type': 'nfod', 'area': 'southampton', 'casualties': 2}", &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + HOUR, "{'type': 'nfod', 'area': 'southampton', 'fatalities': 1}", &a);
        dawn_alert_clear(&a);
        issue(f, "scas", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);

        load(f, "A4", &a);
        assert_int_equal(a.casualties, 4);
        assert_int_equal(a.fatalities, 1);
        assert_true(dawn_strv_contains(&a.grade_reasons, "4 casualties"));
        assert_true(dawn_strv_contains(&a.grade_reasons, "1 fatality"));
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        dawn_alert_clear(&a);
}

static void test_reports_in_sibling_areas_do_not_cluster(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        /* two in southampton, two in portsmouth: four in the county, but two in each city */
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "qa-ed", NOW + HOUR, NFOD("portsmouth"), &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "scas", NOW + 3 * HOUR, NFOD("portsmouth"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 0);
        assert_counts(count(f), (struct counts){ 4, 0, 0 });

        /* one reported for the county as a whole is near all of them: a cluster over the county */
        issue(f, "hants-outreach", NOW + 4 * HOUR, NFOD("pan-hampshire"), &a);
        assert_string_equal(a.id, "A5");
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A6", &a);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_string_equal(a.area, "pan-hampshire");
        assert_int_equal(a.casualties, 5);
        dawn_alert_clear(&a);
        assert_corroborations(f, "A6", "A1 A2 A3 A4 A5");
}

static void test_cluster_area_is_the_reports_common_parent(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        /* fareham and gosport are siblings; a report for hampshire is near both */
        issue(f, "ambulance", NOW, NFOD("fareham"), &a);
        dawn_alert_clear(&a);
        issue(f, "qa-ed", NOW + HOUR, NFOD("gosport"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 0);
        issue(f, "scas", NOW + 2 * HOUR, NFOD("hampshire"), &a);
        dawn_alert_clear(&a);
        load(f, "A4", &a);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_string_equal(a.area, "hampshire");
        assert_int_equal(a.casualties, 3);
        dawn_alert_clear(&a);

        /* a later one in gosport (below hampshire) joins it */
        issue(f, "ambulance", NOW + 3 * HOUR, NFOD("gosport"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A4", &a);
        assert_int_equal(a.casualties, 4);
        dawn_alert_clear(&a);
        assert_corroborations(f, "A4", "A1 A2 A3 A5");

        /* one in southampton (hampshire's sibling) does not, and is alone in its city */
        issue(f, "uhs-ed", NOW + 4 * HOUR, NFOD("southampton"), &a);
        assert_string_equal(a.id, "A6");
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A4", &a);
        assert_int_equal(a.casualties, 4);
        dawn_alert_clear(&a);
}

static void test_report_outside_the_window_does_not_count(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        /* 25 hours after the first: only two within the last 24 hours */
        issue(f, "scas", NOW + 25 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 0);

        /* a fourth within 24 hours of the second: three, the first not among them */
        issue(f, "ambulance", NOW + 26 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A5", &a);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_int_equal(a.casualties, 3);
        assert_string_equal(reason_starting(&a, "from 3 overdose reports:"),
                            "from 3 overdose reports: A2 (uhs-ed), A3 (scas), A4 (ambulance)");
        dawn_alert_clear(&a);
        assert_corroborations(f, "A5", "A2 A3 A4");
}

static void test_cluster_quiet_for_a_window_is_not_joined(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "scas", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        /* 25 hours after the cluster last grew (its expiry has not run yet) */
        issue(f, "ambulance", NOW + 27 * HOUR, NFOD("southampton"), &a);
        assert_string_equal(a.id, "A5");
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A4", &a);
        assert_int_equal(a.casualties, 3);
        assert_int_equal(a.updated_at, NOW + 2 * HOUR);
        dawn_alert_clear(&a);
        assert_corroborations(f, "A4", "A1 A2 A3");
}

static void test_cancelled_report_does_not_count_but_expired_does(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        cancel(f, NOW + HOUR, "A1", "entered twice", &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "scas", NOW + 3 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 0);

        /* A2 runs out (an overdose report's own expiry is no reason to forget it) */
        expire(f, NOW + 4 * HOUR, "A2");
        load(f, "A2", &a);
        assert_int_equal(a.status, DAWN_STATUS_EXPIRED);
        dawn_alert_clear(&a);
        issue(f, "ambulance", NOW + 5 * HOUR, NFOD("southampton"), &a);
        assert_string_equal(a.id, "A4");
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A5", &a);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_int_equal(a.casualties, 3);
        dawn_alert_clear(&a);
        assert_corroborations(f, "A5", "A2 A3 A4");
}

static void test_cluster_under_review_is_pending(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, true);
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "scas", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        load(f, "A4", &a);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        assert_int_equal(a.revision, 1);
        dawn_alert_clear(&a);
        assert_deliveries(f, "A4", "1 ph-duty-officer review pending\n");
        assert_recipient(f, "A4", 1, "ph-duty-officer", "review", "t/subscribers/ph-duty-officer/review/A4");

        /* waiting, it still gathers reports */
        issue(f, "ambulance", NOW + 3 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        assert_int_equal(a.casualties, 4);
        dawn_alert_clear(&a);

        approve(f, NOW + 4 * HOUR, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 2);
        dawn_alert_clear(&a);
        assert_deliveries(f, "A4",
                          "1 ph-duty-officer review superseded\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house publish pending\n"
                          "2 ph-duty-officer publish pending\n");
}

static void test_reporters_overdose_reports_count_while_pending(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        f->role = DAWN_ROLE_REPORTER;
        issue(f, "outreach-a", NOW, NFOD("southampton"), &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        dawn_alert_clear(&a);
        issue(f, "outreach-b", NOW + HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "outreach-c", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A4", &a);
        assert_int_equal(a.casualties, 3);
        dawn_alert_clear(&a);
}

/* ---- a reporter's grade rise waits for an officer ---- */

/* Graded info: a batch with nothing yet to warn of. */
#define PLAIN_HEROIN                                                                                         \
        "{'type': 'batch', 'area': 'southampton', 'summary': 'Heroin in Southampton is unusually strong.',"   \
        " 'sold_as': ['heroin']}"
/* The same batch, as a hostile or mistaken reporter might claim it. */
#define HEROIN_THOUSAND_DEAD                                                                                 \
        "{'type': 'batch', 'area': 'southampton', 'summary': 'A thousand dead from this heroin.',"            \
        " 'sold_as': ['heroin'], 'casualties': 1000, 'fatalities': 1000}"

#define P1_REVISION (DAWN_PROPOSAL_REVISION_BASE + 1)

/* Issuer portsmouth-ph's info alert A1, then a reporter claiming 1,000
 * deaths from the same batch: proposal P1. */
static void reporter_claims_a_thousand_dead(struct fixture *f)
{
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, PLAIN_HEROIN, &a);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_REPORTER;
        assert_int_equal(issue(f, "ambulance", NOW + HOUR, HEROIN_THOUSAND_DEAD, &a), DAWN_INTAKE_MERGED);
        f->role = DAWN_ROLE_ISSUER;
        /* the reporter hears of the alert as it stands */
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_int_equal(a.revision, 1);
        dawn_alert_clear(&a);
}

static void test_reporter_grade_rise_is_held_as_a_proposal(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        reporter_claims_a_thousand_dead(f);
        /* the alert is as it was: grade, revision, sources, reasons */
        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.updated_at, NOW);
        assert_sources(&a, "portsmouth-ph", NULL);
        assert_null(reason_starting(&a, "1000 fatalities"));
        dawn_alert_clear(&a);
        assert_int_equal(dawn_store_revision_json(f->store, "A1", 2, &(char *){ NULL }), 0);

        /* recipients have nothing new queued: revision 1's rows, and the reviewers' notice of P1 */
        assert_int_equal(rows_with_action(f, "A1", "publish"), 2);
        assert_int_equal(rows_with_action(f, "A1", "withdraw"), 0);
        char *got = deliveries(f, "A1");
        assert_null(strstr(got, "\n2 "));
        free(got);
        assert_recipient(f, "A1", P1_REVISION, "ph-duty-officer", "review", "t/subscribers/ph-duty-officer/review/P1");
        assert_int_equal(rows_with_action(f, "A1", "review"), 1);

        /* the report is recorded, held by its proposal */
        cJSON *corr = cJSON_CreateArray();
        assert_int_equal(dawn_store_corroborations_json(f->store, "A1", corr), 0);
        assert_int_equal(cJSON_GetArraySize(corr), 1);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(corr, 0), "proposal")->valuestring, "P1");
        cJSON_Delete(corr);

        /* P1 is listed with its own id, what it would raise and to what */
        cJSON *w = waiting_proposals(f);
        assert_int_equal(cJSON_GetArraySize(w), 1);
        cJSON *p = cJSON_GetArrayItem(w, 0);
        assert_string_equal(cJSON_GetObjectItem(p, "kind")->valuestring, "proposal");
        assert_string_equal(cJSON_GetObjectItem(p, "id")->valuestring, "P1");
        assert_string_equal(cJSON_GetObjectItem(p, "alert")->valuestring, "A1");
        assert_string_equal(cJSON_GetObjectItem(p, "grade_from")->valuestring, "info");
        assert_string_equal(cJSON_GetObjectItem(p, "grade")->valuestring, "critical");
        assert_string_equal(cJSON_GetObjectItem(p, "grade_change")->valuestring, "info -> critical");
        assert_int_equal(cJSON_GetObjectItem(p, "fatalities")->valueint, 1000);
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "sources"), 0)->valuestring, "ambulance");
        assert_non_null(strstr(cJSON_GetObjectItem(p, "summary")->valuestring, "A thousand dead"));
        cJSON_Delete(w);
        /* and the review notice reads as one, under P1 */
        char *rev = NULL;
        assert_int_equal(dawn_store_revision_json(f->store, "A1", P1_REVISION, &rev), 1);
        assert_non_null(strstr(rev, "\"id\":\"P1\""));
        assert_non_null(strstr(rev, "\"status\":\"pending\""));
        free(rev);
        assert_audit(f, "A1", "issue propose");

        /* the same report again (no source_ref: a second report) folds into P1: no second proposal,
         * no second notice (until issue 10's hostile-merge fix, each repeat was a proposal of its own) */
        f->role = DAWN_ROLE_REPORTER;
        issue(f, "ambulance", NOW + 2 * HOUR, HEROIN_THOUSAND_DEAD, &a);
        dawn_alert_clear(&a);
        w = waiting_proposals(f);
        assert_int_equal(cJSON_GetArraySize(w), 1);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(w, 0), "id")->valuestring, "P1");
        cJSON_Delete(w);
        assert_int_equal(rows_with_action(f, "A1", "review"), 1);
        load(f, "A1", &a);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_int_equal(a.revision, 1);
        dawn_alert_clear(&a);
}

static void test_approving_a_proposal_raises_the_alert(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        reporter_claims_a_thousand_dead(f);
        approve(f, NOW + 2 * HOUR, "P1", &a);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.updated_at, NOW + 2 * HOUR);
        assert_sources(&a, "portsmouth-ph", "ambulance");
        assert_true(dawn_strv_contains(&a.grade_reasons, "1000 fatalities"));
        dawn_alert_clear(&a);

        /* revision 2 goes out (night-shelter, critical only, too); P1's notice is moot if not yet sent */
        char *got = deliveries(f, "A1");
        assert_non_null(strstr(got, "2 night-shelter publish pending\n"));
        assert_non_null(strstr(got, "2 area-feed publish pending\n"));
        assert_non_null(strstr(got, "100000001 ph-duty-officer review superseded\n"));
        free(got);
        cJSON *corr = cJSON_CreateArray();
        assert_int_equal(dawn_store_corroborations_json(f->store, "A1", corr), 0);
        assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(corr, 0), "proposal"));
        cJSON_Delete(corr);
        assert_no_proposals(f);
        assert_audit(f, "A1", "issue propose approve");

        /* decided once */
        struct counts before = count(f);
        assert_refused(f, APPROVE, "P1", NULL, "id", "proposal P1 is approved, not waiting for review: it cannot be approved");
        assert_refused(f, REJECT, "P1", "too late", "id",
                       "proposal P1 is approved, not waiting for review: it cannot be rejected");
        assert_refused(f, APPROVE, "P9", NULL, "id", "no proposal with id 'P9'");
        assert_counts(count(f), before);
}

static void test_rejecting_a_proposal_leaves_the_alert_alone(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        reporter_claims_a_thousand_dead(f);
        struct counts before = count(f);
        reject(f, NOW + 2 * HOUR, "P1", "no deaths reported by the hospitals", &a);
        /* the answer is the alert, unchanged */
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_int_equal(a.revision, 1);
        dawn_alert_clear(&a);
        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 1);
        assert_sources(&a, "portsmouth-ph", NULL);
        dawn_alert_clear(&a);
        assert_counts(count(f), before);
        assert_int_equal(rows_with_action(f, "A1", "withdraw"), 0);
        char *got = deliveries(f, "A1");
        assert_non_null(strstr(got, "100000001 ph-duty-officer review superseded\n"));
        free(got);
        assert_no_proposals(f);
        assert_audit(f, "A1", "issue propose reject");

        /* the rejected claim never counts: an issuer's later report grades on what is counted */
        issue(f, "uhs-ed", NOW + 3 * HOUR, PLAIN_HEROIN, &a);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_null(reason_starting(&a, "1000 fatalities"));
        dawn_alert_clear(&a);
        assert_refused(f, REJECT, "P1", "again", "id",
                       "proposal P1 is rejected, not waiting for review: it cannot be rejected");
}

/* reject is the review queue's: an active alert is withdrawn only by cancel, which tells its recipients */
static void test_reject_never_cancels_an_active_alert(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        reporter_claims_a_thousand_dead(f);
        struct counts before = count(f);
        assert_refused(f, REJECT, "A1", "meant the proposal", "id",
                       "alert A1 is active, not waiting for review: it cannot be rejected"
                       " (to withdraw it: dawnctl cancel A1 --reason TEXT)");
        assert_refused(f, APPROVE, "A1", NULL, "id", "alert A1 is active, not waiting for review: it cannot be approved");
        assert_counts(count(f), before);
        load(f, "A1", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 1);
        dawn_alert_clear(&a);
        cJSON *w = waiting_proposals(f);
        assert_int_equal(cJSON_GetArraySize(w), 1);
        cJSON_Delete(w);

        /* cancelling the alert closes its proposal: nothing is left to raise */
        cancel(f, NOW + 2 * HOUR, "A1", "a different batch", &a);
        dawn_alert_clear(&a);
        assert_no_proposals(f);
        assert_refused(f, APPROVE, "P1", NULL, "id",
                       "proposal P1 is withdrawn, not waiting for review: it cannot be approved");
}

/* issuers keep today's behaviour: the same claim from an issuer goes out at once */
static void test_issuer_grade_rise_goes_out_at_once(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, PLAIN_HEROIN, &a);
        dawn_alert_clear(&a);
        assert_int_equal(issue(f, "uhs-ed", NOW + HOUR, HEROIN_THOUSAND_DEAD, &a), DAWN_INTAKE_MERGED);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 2);
        dawn_alert_clear(&a);
        assert_no_proposals(f);
        assert_int_equal(rows_with_action(f, "A1", "review"), 0);
        char *got = deliveries(f, "A1");
        assert_non_null(strstr(got, "2 night-shelter publish pending\n"));
        free(got);
        assert_audit(f, "A1", "issue corroborate");
}

/* a reporter's corroboration that raises nothing is recorded as before */
static void test_reporter_corroboration_without_rise_is_recorded(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_REPORTER;
        /* a second source adds a point: 3, still a warning */
        assert_int_equal(issue(f, "ambulance", NOW + HOUR, NITAZENE_HEROIN, &a), DAWN_INTAKE_MERGED);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_int_equal(a.revision, 1);
        assert_sources(&a, "portsmouth-ph", "ambulance");
        dawn_alert_clear(&a);
        assert_no_proposals(f);
        assert_audit(f, "A1", "issue corroborate");
}

/* A reporter repeating a rising claim: the claims fold into one proposal
 * (the largest counts, the latest words), the reviewers are told once per
 * grade it would reach, and approving it counts the claims folded into it. */
static void test_reporter_repeating_a_rising_claim_folds_into_one_proposal(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;
        char text[256];

        issue(f, "portsmouth-ph", NOW, PLAIN_HEROIN, &a);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_REPORTER;
        /* 1 to 10 casualties: each would raise info to warning */
        for (int i = 1; i <= 10; i++) {
                snprintf(text, sizeof(text),
                         "{'type': 'batch', 'area': 'southampton', 'summary': 'Claim %d.', 'sold_as': ['heroin'],"
                         " 'casualties': %d}", i, i);
                assert_int_equal(issue(f, "ambulance", NOW + i * SEC, text, &a), DAWN_INTAKE_MERGED);
                assert_int_equal(a.grade, DAWN_GRADE_INFO);
                dawn_alert_clear(&a);
        }
        cJSON *w = waiting_proposals(f);
        assert_int_equal(cJSON_GetArraySize(w), 1);
        cJSON *p = cJSON_GetArrayItem(w, 0);
        assert_string_equal(cJSON_GetObjectItem(p, "id")->valuestring, "P1");
        assert_string_equal(cJSON_GetObjectItem(p, "grade_change")->valuestring, "info -> warning");
        assert_int_equal(cJSON_GetObjectItem(p, "casualties")->valueint, 10);
        assert_non_null(strstr(cJSON_GetObjectItem(p, "summary")->valuestring, "Claim 10."));
        cJSON_Delete(w);
        assert_int_equal(rows_with_action(f, "A1", "review"), 1);
        /* and its notice, not sent yet, says so */
        char *rev = NULL;
        assert_int_equal(dawn_store_revision_json(f->store, "A1", P1_REVISION, &rev), 1);
        assert_non_null(strstr(rev, "\"casualties\":10"));
        free(rev);

        /* a death claimed: the claims now reach critical, and P2 replaces P1 with a notice of its own */
        for (int i = 11; i <= 15; i++) {
                snprintf(text, sizeof(text),
                         "{'type': 'batch', 'area': 'southampton', 'summary': 'Claim %d.', 'sold_as': ['heroin'],"
                         " 'casualties': 3, 'fatalities': 1}", i);
                assert_int_equal(issue(f, "ambulance", NOW + i * SEC, text, &a), DAWN_INTAKE_MERGED);
                dawn_alert_clear(&a);
        }
        w = waiting_proposals(f);
        assert_int_equal(cJSON_GetArraySize(w), 1);
        p = cJSON_GetArrayItem(w, 0);
        assert_string_equal(cJSON_GetObjectItem(p, "id")->valuestring, "P2");
        assert_string_equal(cJSON_GetObjectItem(p, "grade_change")->valuestring, "info -> critical");
        assert_int_equal(cJSON_GetObjectItem(p, "casualties")->valueint, 10);
        assert_int_equal(cJSON_GetObjectItem(p, "fatalities")->valueint, 1);
        cJSON_Delete(w);
        assert_int_equal(rows_with_action(f, "A1", "review"), 2);
        char *got = deliveries(f, "A1");
        assert_non_null(strstr(got, "100000001 ph-duty-officer review superseded\n"));
        assert_non_null(strstr(got, "100000002 ph-duty-officer review pending\n"));
        free(got);
        /* one row holds every claim, counting them */
        cJSON *corr = cJSON_CreateArray();
        assert_int_equal(dawn_store_corroborations_json(f->store, "A1", corr), 0);
        assert_int_equal(cJSON_GetArraySize(corr), 1);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(corr, 0), "proposal")->valuestring, "P2");
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(corr, 0), "repeats")->valueint, 15);
        cJSON_Delete(corr);
        /* nothing reached recipients meanwhile */
        load(f, "A1", &a);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_int_equal(a.revision, 1);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_ISSUER;
        assert_refused(f, APPROVE, "P1", NULL, "id",
                       "proposal P1 is superseded, not waiting for review: it cannot be approved");

        approve(f, NOW + HOUR, "P2", &a);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 2);
        assert_true(dawn_strv_contains(&a.grade_reasons, "10 casualties"));
        assert_true(dawn_strv_contains(&a.grade_reasons, "1 fatality"));
        assert_true(dawn_strv_contains(&a.grade_reasons, "corroborated by 2 sources"));
        dawn_alert_clear(&a);
        assert_no_proposals(f);
        assert_audit(f, "A1", "issue propose propose propose propose propose propose propose propose propose propose"
                              " propose propose propose propose propose approve");
}

/* ---- overdose clusters raised or regraded by reporters alone ---- */

static void test_reporters_alone_raise_a_cluster_only_to_review(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        /* one reporter, three reports: no officer has looked at any of them */
        f->role = DAWN_ROLE_REPORTER;
        for (int i = 0; i < 3; i++) {
                issue(f, "outreach-a", NOW + i * HOUR, NFOD("southampton"), &a);
                dawn_alert_clear(&a);
        }
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        assert_int_equal(a.casualties, 3);
        dawn_alert_clear(&a);
        assert_deliveries(f, "A4", "1 ph-duty-officer review pending\n");
        assert_int_equal(rows_with_action(f, "A4", "publish"), 0);

        /* more of the same still wait */
        issue(f, "outreach-a", NOW + 3 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        load(f, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        assert_int_equal(a.casualties, 4);
        dawn_alert_clear(&a);
        assert_int_equal(rows_with_action(f, "A4", "publish"), 0);

        /* an issuer's report vouches for it: it goes out */
        f->role = DAWN_ROLE_ISSUER;
        issue(f, "ambulance", NOW + 4 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        load(f, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.casualties, 5);
        assert_int_equal(a.revision, 2);
        dawn_alert_clear(&a);
        assert_true(rows_with_action(f, "A4", "publish") > 0);
        /* it goes out on the issuer's report; the reporters' four, raising nothing, then count one by one */
        assert_audit(f, "A4", "cluster corroborate approve corroborate corroborate corroborate corroborate");
        assert_no_proposals(f);
}

static void test_reporter_raising_a_cluster_grade_is_a_proposal(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        issue(f, "ambulance", NOW, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "uhs-ed", NOW + HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        issue(f, "scas", NOW + 2 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        load(f, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        dawn_alert_clear(&a);

        /* a reporter's nitazene would make it critical: held */
        f->role = DAWN_ROLE_REPORTER;
        issue(f, "outreach-a", NOW + 3 * HOUR, "{'type': 'nfod', 'area': 'southampton', 'adulterants': ['nitazene']}",
              &a);
        assert_string_equal(a.id, "A5");
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_ISSUER;
        load(f, "A4", &a);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.casualties, 3);
        assert_int_equal(a.adulterants.n, 0);
        dawn_alert_clear(&a);
        assert_int_equal(rows_with_action(f, "A4", "publish"), 3);
        cJSON *w = waiting_proposals(f);
        assert_int_equal(cJSON_GetArraySize(w), 1);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(w, 0), "alert")->valuestring, "A4");
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(w, 0), "grade")->valuestring, "critical");
        cJSON_Delete(w);
        /* the held report belongs to A4 all the same: two more reports do not raise a second cluster */
        issue(f, "uhs-ed", NOW + 4 * HOUR, NFOD("southampton"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);

        approve(f, NOW + 5 * HOUR, "P1", &a);
        assert_string_equal(a.id, "A4");
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.casualties, 5);
        assert_true(dawn_strv_contains(&a.adulterants, "nitazene"));
        assert_string_equal(reason_starting(&a, "from 5 overdose reports:"),
                            "from 5 overdose reports: A1 (ambulance), A2 (uhs-ed), A3 (scas), A5 (outreach-a),"
                            " A6 (uhs-ed)");
        dawn_alert_clear(&a);
        char *got = deliveries(f, "A4");
        assert_non_null(strstr(got, "2 night-shelter publish pending\n"));
        free(got);
}

/* ---- an issuer vouches for its own report, not for reporters' ---- */

/* What recipients get of a revision: its stored JSON, parsed. */
static cJSON *revision(struct fixture *f, const char *id, int rev)
{
        char *text = NULL;
        assert_int_equal(dawn_store_revision_json(f->store, id, rev, &text), 1);
        cJSON *o = cJSON_Parse(text);
        assert_non_null(o);
        free(text);
        return o;
}

static int64_t number_in(const cJSON *o, const char *name)
{
        const cJSON *v = cJSON_GetObjectItem(o, name);
        return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* The one waiting proposal for alert, from source, and its grades. */
static void assert_one_proposal(struct fixture *f, int i, int of, const char *id, const char *alert,
                                const char *source, const char *from, const char *to)
{
        cJSON *w = waiting_proposals(f);
        assert_int_equal(cJSON_GetArraySize(w), of);
        const cJSON *p = cJSON_GetArrayItem(w, i);
        assert_string_equal(cJSON_GetObjectItem(p, "id")->valuestring, id);
        assert_string_equal(cJSON_GetObjectItem(p, "alert")->valuestring, alert);
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "sources"), 0)->valuestring, source);
        assert_string_equal(cJSON_GetObjectItem(p, "grade_from")->valuestring, from);
        assert_string_equal(cJSON_GetObjectItem(p, "grade")->valuestring, to);
        cJSON_Delete(w);
}

#define NFOD_500_DEAD "{'type': 'nfod', 'area': 'southampton', 'casualties': 500, 'fatalities': 500}"
#define NFOD_50_DEAD "{'type': 'nfod', 'area': 'southampton', 'casualties': 50, 'fatalities': 50}"

/* Two reporters' reports claiming 500 deaths each, then one plain report
 * from an issuer: the cluster they make goes out on the issuer's report;
 * the reporters' claims wait for an officer. */
static void test_issuer_report_raising_a_cluster_vouches_only_for_itself(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        /* two reporters: each claim is a proposal of its own however proposals from one source are kept */
        f->role = DAWN_ROLE_REPORTER;
        issue(f, "ambulance", NOW, NFOD_500_DEAD, &a);
        dawn_alert_clear(&a);
        issue(f, "outreach-a", NOW + HOUR, NFOD_500_DEAD, &a);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_ISSUER;
        issue(f, "ed-feed", NOW + 2 * HOUR, NFOD("southampton"), &a);
        assert_string_equal(a.id, "A3");
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);

        /* what recipients get: a warning on one overdose, the issuer's */
        cJSON *rev = revision(f, "A4", 1);
        assert_string_equal(cJSON_GetObjectItem(rev, "status")->valuestring, "active");
        assert_string_equal(cJSON_GetObjectItem(rev, "grade")->valuestring, "warning");
        assert_int_equal(number_in(rev, "fatalities"), 0);
        assert_int_equal(number_in(rev, "casualties"), 1);
        char *text = cJSON_PrintUnformatted(rev);
        assert_null(strstr(text, "500"));
        free(text);
        cJSON_Delete(rev);
        assert_deliveries(f, "A4",
                          "1 area-feed publish pending\n"
                          "1 booth-house publish pending\n"
                          "1 ph-duty-officer publish pending\n"
                          "100000001 ph-duty-officer review pending\n"
                          "100000002 ph-duty-officer review pending\n");
        load(f, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_int_equal(a.fatalities, 0);
        assert_sources(&a, "ed-feed", NULL);
        assert_string_equal(reason_starting(&a, "from 1 overdose report:"), "from 1 overdose report: A3 (ed-feed)");
        dawn_alert_clear(&a);

        /* each claim is a proposal of its own; the reports belong to A4 all the same */
        assert_one_proposal(f, 0, 2, "P1", "A4", "ambulance", "warning", "critical");
        assert_one_proposal(f, 1, 2, "P2", "A4", "outreach-a", "warning", "critical");
        assert_corroborations(f, "A4", "A3 A1 A2");
        assert_audit(f, "A4", "cluster propose propose");
        issue(f, "ed-feed", NOW + 3 * HOUR, NFOD("portsmouth"), &a);
        dawn_alert_clear(&a);
        assert_int_equal(alerts_of_type(f, "cluster"), 1);

        /* an officer approves one: then, and only then, it goes out critical */
        approve(f, NOW + 4 * HOUR, "P1", &a);
        assert_string_equal(a.id, "A4");
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.fatalities, 500);
        dawn_alert_clear(&a);
        char *got = deliveries(f, "A4");
        assert_non_null(strstr(got, "2 night-shelter publish pending\n"));
        free(got);
        assert_one_proposal(f, 0, 1, "P2", "A4", "outreach-a", "warning", "critical");
}

/* A cluster that three reporters' reports (50 deaths each) raised to review,
 * then a plain report from an issuer: it goes out, on the issuer's report. */
static void test_issuer_confirming_a_pending_cluster_vouches_only_for_itself(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        f->role = DAWN_ROLE_REPORTER;
        static const char *const reporters[] = { "ambulance", "outreach-a", "outreach-b" };
        for (int i = 0; i < 3; i++) {
                issue(f, reporters[i], NOW + i * HOUR, NFOD_50_DEAD, &a);
                dawn_alert_clear(&a);
        }
        load(f, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.fatalities, 150);
        dawn_alert_clear(&a);
        assert_deliveries(f, "A4", "1 ph-duty-officer review pending\n");

        f->role = DAWN_ROLE_ISSUER;
        issue(f, "ed-feed", NOW + 3 * HOUR, NFOD("southampton"), &a);
        assert_string_equal(a.id, "A5");
        dawn_alert_clear(&a);

        /* what recipients get: revision 2, a warning on the issuer's one overdose */
        cJSON *rev = revision(f, "A4", 2);
        assert_string_equal(cJSON_GetObjectItem(rev, "status")->valuestring, "active");
        assert_string_equal(cJSON_GetObjectItem(rev, "grade")->valuestring, "warning");
        assert_int_equal(number_in(rev, "fatalities"), 0);
        assert_int_equal(number_in(rev, "casualties"), 1);
        cJSON_Delete(rev);
        assert_deliveries(f, "A4",
                          "1 ph-duty-officer review superseded\n"
                          "2 area-feed publish pending\n"
                          "2 booth-house publish pending\n"
                          "2 ph-duty-officer publish pending\n"
                          "100000001 ph-duty-officer review pending\n"
                          "100000002 ph-duty-officer review pending\n"
                          "100000003 ph-duty-officer review pending\n");
        load(f, "A4", &a);
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_int_equal(a.fatalities, 0);
        assert_int_equal(a.casualties, 1);
        assert_sources(&a, "ed-feed", NULL);
        dawn_alert_clear(&a);
        assert_one_proposal(f, 0, 3, "P1", "A4", "ambulance", "warning", "critical");
        assert_corroborations(f, "A4", "A5 A1 A2 A3");
        assert_audit(f, "A4", "cluster approve propose propose propose");
        assert_int_equal(dawn_store_cluster_reports(f->store, "A4"), 1);

        approve(f, NOW + 4 * HOUR, "P1", &a);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 3);
        assert_int_equal(a.fatalities, 50);
        assert_int_equal(a.casualties, 51);
        dawn_alert_clear(&a);
        assert_int_equal(dawn_store_cluster_reports(f->store, "A4"), 2);
        char *got = deliveries(f, "A4");
        assert_non_null(strstr(got, "3 night-shelter publish pending\n"));
        free(got);
}

/* A reporter's pending batch report claiming a thousand deaths, then an
 * issuer's plain report of the same batch: it goes out as the issuer
 * reported it; the thousand deaths wait for an officer. */
static void test_issuer_confirming_a_pending_report_vouches_only_for_itself(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        f->role = DAWN_ROLE_REPORTER;
        issue(f, "ambulance", NOW, HEROIN_THOUSAND_DEAD, &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_ISSUER;
        assert_int_equal(issue(f, "portsmouth-ph", NOW + HOUR, PLAIN_HEROIN, &a), DAWN_INTAKE_MERGED);
        /* the issuer hears what went out */
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_int_equal(a.revision, 2);
        dawn_alert_clear(&a);

        cJSON *rev = revision(f, "A1", 2);
        assert_string_equal(cJSON_GetObjectItem(rev, "grade")->valuestring, "info");
        assert_int_equal(number_in(rev, "fatalities"), -1);
        assert_int_equal(number_in(rev, "casualties"), -1);
        assert_string_equal(cJSON_GetObjectItem(rev, "summary")->valuestring, "Heroin in Southampton is unusually strong.");
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(rev, "sources"), 0)->valuestring, "portsmouth-ph");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(rev, "sources")), 1);
        cJSON_Delete(rev);
        assert_deliveries(f, "A1",
                          "1 ph-duty-officer review superseded\n"
                          "2 area-feed publish pending\n"
                          "2 ph-duty-officer publish pending\n"
                          "100000001 ph-duty-officer review pending\n");
        load(f, "A1", &a);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_int_equal(a.revision, 2);
        assert_null(reason_starting(&a, "1000 fatalities"));
        assert_sources(&a, "portsmouth-ph", NULL);
        dawn_alert_clear(&a);
        assert_one_proposal(f, 0, 1, "P1", "A1", "ambulance", "info", "critical");
        cJSON *w = waiting_proposals(f);
        assert_int_equal(number_in(cJSON_GetArrayItem(w, 0), "fatalities"), 1000);
        cJSON_Delete(w);
        assert_audit(f, "A1", "report approve propose");

        approve(f, NOW + 2 * HOUR, "P1", &a);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 3);
        assert_true(dawn_strv_contains(&a.grade_reasons, "1000 fatalities"));
        assert_sources(&a, "portsmouth-ph", "ambulance");
        dawn_alert_clear(&a);
        char *got = deliveries(f, "A1");
        assert_non_null(strstr(got, "3 night-shelter publish pending\n"));
        free(got);
}

/* ---- what a report costs as the window fills ---- */

/* n overdose reports in area, one a second from start, in one transaction
 * (as the daemon's group commit does). */
static void fill(struct fixture *f, int n, const char *area, int64_t start)
{
        char text[96];
        snprintf(text, sizeof(text), "{'type': 'nfod', 'area': '%s'}", area);
        cJSON *o = json(text);
        static const char *const sources[] = { "ambulance", "uhs-ed", "scas", "qa-ed" };
        assert_int_equal(dawn_store_begin(f->store), 0);
        for (int i = 0; i < n; i++) {
                struct dawn_intake in = { .store = f->store, .config = f->config, .now = start + i * SEC,
                                          .source = sources[i % 4], .actor = "test", .role = DAWN_ROLE_ISSUER };
                struct dawn_alert a;
                struct dawn_input_error err = { 0 };
                enum dawn_intake_outcome outcome;
                dawn_alert_init(&a);
                must_succeed(dawn_intake_issue(&in, o, &a, &outcome, &err), &err);
                dawn_alert_clear(&a);
        }
        assert_int_equal(dawn_store_commit(f->store), 0);
        cJSON_Delete(o);
}

/* The store's work (SQLite VM steps) for one more report in area. */
static uint64_t cost_of_one(struct fixture *f, const char *area, int64_t now)
{
        uint64_t before = dawn_store_vm_steps(f->store);
        fill(f, 1, area, now);
        return dawn_store_vm_steps(f->store) - before;
}

static void test_a_reports_cost_does_not_grow_with_the_window(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_cluster_config(f, false);
        /* warm up the statement cache, so that both measurements count the same statements */
        fill(f, 10, "southampton", NOW);
        cost_of_one(f, "portsmouth", NOW + 20 * SEC);
        uint64_t join_small = cost_of_one(f, "southampton", NOW + 30 * SEC);
        /* fareham and gosport: alike in the tree, each with no report near it yet */
        uint64_t alone_small = cost_of_one(f, "fareham", NOW + 40 * SEC);

        /* 2,000 reports in the window; the two kinds of report measured again */
        fill(f, 1988, "southampton", NOW + 60 * SEC);
        uint64_t join_full = cost_of_one(f, "southampton", NOW + 3000 * SEC);
        uint64_t alone_full = cost_of_one(f, "gosport", NOW + 3010 * SEC);
        print_message("VM steps per report joining the cluster: %llu at 10 reports, %llu at 2,000\n",
                      (unsigned long long)join_small, (unsigned long long)join_full);
        print_message("VM steps per report in a quiet area:     %llu at 10 reports, %llu at 2,000\n",
                      (unsigned long long)alone_small, (unsigned long long)alone_full);
        /* bounded: the same work give or take what a B-tree one level deeper costs */
        assert_true(join_full < join_small + join_small / 2);
        assert_true(alone_full < alone_small + alone_small / 2);

        /* one cluster of every southampton report, its reason naming five and counting the rest */
        assert_int_equal(alerts_of_type(f, "cluster"), 1);
        load(f, "A4", &a);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_int_equal(a.casualties, 2000);
        const char *named = reason_starting(&a, "from 2,000 overdose reports:");
        assert_non_null(named);
        assert_string_equal(named, "from 2,000 overdose reports: A1 (ambulance), A2 (uhs-ed), A3 (scas), A5 (qa-ed),"
                                   " A6 (ambulance) and 1,995 more");
        char *fp = NULL;
        assert_int_equal(dawn_store_revision_json(f->store, "A4", 1, &fp), 1);
        free(fp);
        dawn_alert_clear(&a);
}

/* ---- what a merged report costs as its alert gathers them ---- */

/* n reports of the nitazene batch from uhs-ed, merged into A1 in one
 * transaction (as the daemon's group commit does), a second apart from
 * start: each in words of its own (numbered from first), or, with first 0,
 * all word for word the same. */
static void merge_fill(struct fixture *f, int n, int first, int64_t start)
{
        assert_int_equal(dawn_store_begin(f->store), 0);
        for (int i = 0; i < n; i++) {
                char text[256];
                snprintf(text, sizeof(text),
                         "{'type': 'batch', 'area': 'southampton', 'summary': 'Heroin with a nitazene, report %d.',"
                         " 'sold_as': ['heroin'], 'adulterants': ['nitazene']}", first ? first + i : 0);
                cJSON *o = json(text);
                struct dawn_intake in = { .store = f->store, .config = f->config, .now = start + i * SEC,
                                          .source = "uhs-ed", .actor = "test", .role = DAWN_ROLE_ISSUER };
                struct dawn_alert a;
                struct dawn_input_error err = { 0 };
                enum dawn_intake_outcome outcome;
                dawn_alert_init(&a);
                must_succeed(dawn_intake_issue(&in, o, &a, &outcome, &err), &err);
                assert_int_equal(outcome, DAWN_INTAKE_MERGED);
                assert_string_equal(a.id, "A1");
                dawn_alert_clear(&a);
                cJSON_Delete(o);
        }
        assert_int_equal(dawn_store_commit(f->store), 0);
}

/* The store's work (SQLite VM steps) for one more merged report. */
static uint64_t cost_of_merge(struct fixture *f, int first, int64_t now)
{
        uint64_t before = dawn_store_vm_steps(f->store);
        merge_fill(f, 1, first, now);
        return dawn_store_vm_steps(f->store) - before;
}

static void test_a_merged_reports_cost_does_not_grow_with_the_alerts_reports(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        /* warm up the statement cache, so that both measurements count the same statements: a report
         * in words of its own, and the same one again (the second time, a repeat of the first) */
        merge_fill(f, 10, 1, NOW + SEC);
        cost_of_merge(f, 0, NOW + 20 * SEC);
        cost_of_merge(f, 0, NOW + 21 * SEC);
        uint64_t own_small = cost_of_merge(f, 11, NOW + 30 * SEC);
        cost_of_merge(f, 0, NOW + 31 * SEC);
        uint64_t same_small = cost_of_merge(f, 0, NOW + 32 * SEC);

        /* 2,000 reports merged into A1; both kinds measured again */
        merge_fill(f, 1988, 12, NOW + 60 * SEC);
        uint64_t own_full = cost_of_merge(f, 5000, NOW + 3000 * SEC);
        cost_of_merge(f, 0, NOW + 3001 * SEC);
        uint64_t same_full = cost_of_merge(f, 0, NOW + 3002 * SEC);
        print_message("VM steps per merged report in words of its own: %llu at 10 corroborations, %llu at 2,000\n",
                      (unsigned long long)own_small, (unsigned long long)own_full);
        print_message("VM steps per merged report word for word again: %llu at 10 corroborations, %llu at 2,000\n",
                      (unsigned long long)same_small, (unsigned long long)same_full);
        /* bounded: the same work give or take what a B-tree one level deeper costs */
        assert_true(own_full < own_small + own_small / 2);
        assert_true(same_full < same_small + same_small / 2);

        /* graded as ever: the nitazene and two sources, however many reports said so */
        load(f, "A1", &a);
        assert_int_equal(a.grade, DAWN_GRADE_WARNING);
        assert_int_equal(a.revision, 1);
        assert_int_equal(a.grade_reasons.n, 3);
        assert_string_equal(a.grade_reasons.v[0], "adulterant nitazene is on the high-risk list");
        assert_string_equal(a.grade_reasons.v[1], "not yet confirmed (reported only)");
        assert_string_equal(a.grade_reasons.v[2], "corroborated by 2 sources");
        dawn_alert_clear(&a);
        /* one more with toxicology and three casualties among them all: critical, as it would be after one */
        issue(f, "uhs-ed", NOW + 4000 * SEC, NITAZENE_HEROIN_CONFIRMED, &a);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, 2);
        assert_int_equal(a.grade_reasons.n, 5);
        assert_string_equal(a.grade_reasons.v[0], "adulterant nitazene is on the high-risk list");
        assert_string_equal(a.grade_reasons.v[1], "adulterant Nitazene is on the high-risk list"); /* the lab's spelling */
        assert_string_equal(a.grade_reasons.v[2], "3 casualties");
        assert_string_equal(a.grade_reasons.v[3], "confirmed by toxicology");
        assert_string_equal(a.grade_reasons.v[4], "corroborated by 2 sources");
        dawn_alert_clear(&a);

        /* the reports said word for word again are counted on their rows, not stored again:
         * 2,000 in words of their own, the same one after each of three of them, the lab's */
        cJSON *corr = cJSON_CreateArray();
        assert_int_equal(dawn_store_corroborations_json(f->store, "A1", corr), 0);
        assert_int_equal(cJSON_GetArraySize(corr), 2000 + 3 + 1);
        cJSON_Delete(corr);
}

/* ---- texts to a number that replied STOP ---- */

static void opt_out(struct fixture *f, const char *number, bool out, int64_t now)
{
        assert_int_equal(dawn_store_begin(f->store), 0);
        assert_true(dawn_store_set_opt_out(f->store, number, out, "notify", now) >= 0);
        assert_int_equal(dawn_store_commit(f->store), 0);
}

static void test_text_to_opted_out_number_is_recorded_not_sent(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_config(f, text_config);
        opt_out(f, "+447700900001", true, NOW - HOUR);
        issue(f, "portsmouth-ph", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        /* booth-house's MQTT goes; its text is held, and shown as such; everyone else's goes */
        assert_all_deliveries(f, "A1",
                              "1 area-feed mqtt publish pending t/alerts/pan-hampshire/southampton/A1\n"
                              "1 booth-house mqtt publish pending t/subscribers/booth-house/alerts/A1\n"
                              "1 booth-house sms publish opted-out +447700900001\n"
                              "1 ph-duty-officer email publish pending duty@ph.example.org\n"
                              "1 ph-duty-officer mqtt publish pending t/subscribers/ph-duty-officer/alerts/A1\n"
                              "1 ph-duty-officer sms publish pending +447700900003\n"
                              "1 soton-ph sms publish pending +447700900004\n");
        struct dawn_outbox_row rows[8];
        int n = dawn_store_due_deliveries(f->store, DAWN_CHANNEL_SMS, NOW, rows, 8);
        assert_int_equal(n, 2);
        for (int i = 0; i < n; i++) {
                assert_string_not_equal(rows[i].recipient, "+447700900001");
                dawn_outbox_row_clear(&rows[i]);
        }

        /* START: the next alert's text goes again */
        opt_out(f, "+447700900001", false, NOW + HOUR);
        issue(f, "portsmouth-ph", NOW + 2 * HOUR,
              "{'type': 'batch', 'area': 'southampton', 'summary': 'Blue tablets sold as diazepam.',"
              " 'sold_as': ['diazepam'], 'adulterants': ['nitazene']}",
              &a);
        assert_string_equal(a.id, "A2");
        dawn_alert_clear(&a);
        char *got = all_deliveries(f, "A2");
        assert_non_null(strstr(got, "1 booth-house sms publish pending +447700900001\n"));
        free(got);
}

static void test_review_text_to_opted_out_number_is_recorded_not_sent(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        use_config(f, text_config);
        opt_out(f, "+447700900003", true, NOW - HOUR);
        f->role = DAWN_ROLE_REPORTER;
        issue(f, "hants-outreach", NOW, NITAZENE_HEROIN, &a);
        dawn_alert_clear(&a);
        assert_all_deliveries(f, "A1",
                              "1 ph-duty-officer email review pending duty@ph.example.org\n"
                              "1 ph-duty-officer mqtt review pending t/subscribers/ph-duty-officer/review/A1\n"
                              "1 ph-duty-officer sms review opted-out +447700900003\n"
                              "1 soton-ph sms review pending +447700900004\n");
}

/* The same when a second reporter's report was merged into the pending one
 * before the issuer's came: the merged reports' running totals (the
 * 'merged' summary) must not carry the second reporter's claim into what
 * recipients get, and the claim is not lost either: each reporter's report
 * is offered again as it was sent (the first counted, it raises nothing;
 * the second held for an officer, as on any active alert). The reporters
 * are not in this configuration: who vouches for a report is what it came
 * as, not what the configuration says of its source later. */
static void test_issuer_confirming_vouches_not_for_merged_reports_totals(void **state)
{
        struct fixture *f = *state;
        struct dawn_alert a;

        f->role = DAWN_ROLE_REPORTER;
        issue(f, "ambulance", NOW, PLAIN_HEROIN, &a);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        dawn_alert_clear(&a);
        assert_int_equal(issue(f, "outreach-a", NOW + HOUR / 2, HEROIN_THOUSAND_DEAD, &a), DAWN_INTAKE_MERGED);
        assert_int_equal(a.status, DAWN_STATUS_PENDING);
        dawn_alert_clear(&a);
        f->role = DAWN_ROLE_ISSUER;
        assert_int_equal(issue(f, "portsmouth-ph", NOW + HOUR, PLAIN_HEROIN, &a), DAWN_INTAKE_MERGED);
        assert_string_equal(a.id, "A1");
        assert_int_equal(a.status, DAWN_STATUS_ACTIVE);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        int sent = a.revision;
        dawn_alert_clear(&a);

        /* the revision recipients get */
        cJSON *rev = revision(f, "A1", sent);
        assert_string_equal(cJSON_GetObjectItem(rev, "status")->valuestring, "active");
        assert_string_equal(cJSON_GetObjectItem(rev, "grade")->valuestring, "info");
        assert_int_equal(number_in(rev, "fatalities"), -1);
        cJSON_Delete(rev);
        load(f, "A1", &a);
        assert_int_equal(a.revision, sent);
        assert_int_equal(a.grade, DAWN_GRADE_INFO);
        assert_null(reason_starting(&a, "1000 fatalities"));
        /* counted: the issuer's report and the first reporter's, and nothing else */
        assert_sources(&a, "portsmouth-ph", "ambulance");
        dawn_alert_clear(&a);
        struct dawn_alert sum;
        int64_t merged = 0;
        dawn_alert_init(&sum);
        assert_int_equal(dawn_store_load_merged(f->store, "A1", &sum, &merged), 1);
        assert_int_equal(merged, 1);
        assert_int_equal(sum.fatalities, -1);
        assert_int_equal(sum.casualties, -1);
        dawn_alert_clear(&sum);
        assert_audit(f, "A1", "report corroborate approve corroborate propose");

        /* the second reporter's claim waits for an officer, as it was sent */
        assert_one_proposal(f, 0, 1, "P1", "A1", "outreach-a", "info", "critical");
        cJSON *w = waiting_proposals(f);
        assert_int_equal(number_in(cJSON_GetArrayItem(w, 0), "fatalities"), 1000);
        cJSON_Delete(w);

        approve(f, NOW + 2 * HOUR, "P1", &a);
        assert_int_equal(a.grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.revision, sent + 1);
        assert_true(dawn_strv_contains(&a.grade_reasons, "1000 fatalities"));
        assert_int_equal(a.sources.n, 3);
        assert_string_equal(a.sources.v[2], "outreach-a");
        dawn_alert_clear(&a);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_issue_creates_first_revision),
                T(test_issue_queues_a_publish_for_each_matching_subscriber),
                T(test_issue_of_another_batch_gets_the_next_id),
                T(test_nfod_report_is_logged_and_sent_nowhere),
                T(test_given_expiry_is_kept),
                T(test_same_batch_from_second_source_merges),
                T(test_merge_without_grade_rise_sends_nothing_new),
                T(test_merge_raising_grade_sends_revision_2),
                T(test_merge_does_not_supersede_what_was_delivered),
                T(test_report_inside_dedup_window_merges),
                T(test_report_outside_dedup_window_is_a_new_alert),
                T(test_cancelled_alert_does_not_absorb_reports),
                T(test_resubmitted_source_ref_is_a_duplicate),
                T(test_same_source_ref_from_another_source_is_not_a_duplicate),
                T(test_new_source_ref_from_same_source_is_a_new_report),
                T(test_update_changes_fields_and_regrades),
                T(test_update_moving_the_alert_withdraws_it),
                T(test_update_lowering_grade_withdraws_from_those_above_it),
                T(test_update_republishes_to_the_same_recipients),
                T(test_invalid_update_leaves_the_alert_unchanged),
                T(test_update_of_unknown_alert_is_refused),
                T(test_cancel_withdraws_from_every_recipient),
                T(test_cancel_reaches_recipients_of_every_revision),
                T(test_cancelled_alert_is_listed_only_with_all),
                T(test_cancelled_alert_cannot_change),
                T(test_cancel_needs_a_reason),
                T(test_invalid_issue_leaves_the_store_unchanged),
                T(test_reporter_report_waits_for_review),
                T(test_issuer_corroboration_confirms_a_pending_report),
                T(test_issuer_report_is_not_reviewed),
                T(test_review_reaches_related_public_health_on_every_channel),
                T(test_reject_cancels_without_telling_anyone),
                T(test_reject_needs_a_reason_and_a_pending_alert),
                T(test_identical_overdose_reports_are_two_alerts),
                T(test_three_overdose_reports_raise_a_cluster),
                T(test_report_raising_a_cluster_grade_sends_a_new_revision),
                T(test_cluster_with_a_nitazene_is_critical),
                T(test_cluster_counts_every_casualty_and_death),
                T(test_reports_in_sibling_areas_do_not_cluster),
                T(test_cluster_area_is_the_reports_common_parent),
                T(test_report_outside_the_window_does_not_count),
                T(test_cluster_quiet_for_a_window_is_not_joined),
                T(test_cancelled_report_does_not_count_but_expired_does),
                T(test_cluster_under_review_is_pending),
                T(test_reporters_overdose_reports_count_while_pending),
                T(test_reporter_grade_rise_is_held_as_a_proposal),
                T(test_approving_a_proposal_raises_the_alert),
                T(test_rejecting_a_proposal_leaves_the_alert_alone),
                T(test_reject_never_cancels_an_active_alert),
                T(test_issuer_grade_rise_goes_out_at_once),
                T(test_reporter_corroboration_without_rise_is_recorded),
                T(test_reporter_repeating_a_rising_claim_folds_into_one_proposal),
                T(test_reporters_alone_raise_a_cluster_only_to_review),
                T(test_reporter_raising_a_cluster_grade_is_a_proposal),
                T(test_issuer_report_raising_a_cluster_vouches_only_for_itself),
                T(test_issuer_confirming_a_pending_cluster_vouches_only_for_itself),
                T(test_issuer_confirming_a_pending_report_vouches_only_for_itself),
                T(test_issuer_confirming_vouches_not_for_merged_reports_totals),
                T(test_a_reports_cost_does_not_grow_with_the_window),
                T(test_a_merged_reports_cost_does_not_grow_with_the_alerts_reports),
                T(test_text_to_opted_out_number_is_recorded_not_sent),
                T(test_review_text_to_opted_out_number_is_recorded_not_sent),
        };
#undef T
        return cmocka_run_group_tests_name("intake", tests, NULL, NULL);
}
