/* Tests for daemon/intake/alert.c: what a submitter may send, what is refused and
 * with which words, the JSON the daemon keeps, the fingerprint that
 * deduplication matches on, and the nesting guard that runs before cJSON.
 *
 * Alert JSON is written with single quotes for readability; json() turns
 * them into double quotes before cJSON sees it (a literal apostrophe is
 * written \u0027). */
#include "dawn_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "config.h"

/* 2026-11-23T12:00:00Z: "now" in every test */
#define NOW (INT64_C(1795435200) * SEC)

/* A valid batch alert; tests add or change one field. */
#define BATCH "'type': 'batch', 'area': 'southampton', 'summary': 'Heroin with a nitazene in it'"

static const char config_text[] =
        "areas = { pan-hampshire = { southampton = {}; portsmouth = {};\n"
        "                            hampshire = { fareham = {}; gosport = {}; }; }; };\n"
        "channels = { mqtt = { topic_prefix = \"test/dawn\"; }; };\n"
        "subscribers = ( { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; } );\n";

static int group_setup(void **state UNUSED)
{
        return dawn_test_config_load(config_text);
}

/* ---- helpers ---- */

static int parse_obj(const cJSON *o, struct dawn_alert *a, unsigned *seen, struct dawn_input_error *err)
{
        dawn_alert_init(a);
        memset(err, 0, sizeof(*err));
        *seen = 0;
        return dawn_alert_parse_input(o, a, seen, err);
}

static int parse(const char *text, struct dawn_alert *a, unsigned *seen, struct dawn_input_error *err)
{
        cJSON *o = json(text);
        int r = parse_obj(o, a, seen, err);
        cJSON_Delete(o);
        return r;
}

/* The parser refuses the input, naming field, with exactly message. */
static void assert_obj_refused(const cJSON *o, const char *field, const char *message)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;
        int r = parse_obj(o, &a, &seen, &err);

        dawn_alert_clear(&a);
        if (r != -EINVAL) {
                char *t = cJSON_PrintUnformatted(o);
                print_error("accepted (r = %d), expected \"%s\": %.200s\n", r, message, t);
                free(t);
                fail();
        }
        assert_string_equal(err.field, field);
        assert_string_equal(err.message, message);
        assert_false(err.temporary);
}

static void assert_refused(const char *text, const char *field, const char *message)
{
        cJSON *o = json(text);
        assert_obj_refused(o, field, message);
        cJSON_Delete(o);
}

static void assert_obj_accepted(const cJSON *o)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;
        int r = parse_obj(o, &a, &seen, &err);

        if (r == 0)
                r = dawn_alert_check(&a, config, NOW, &err);
        dawn_alert_clear(&a);
        if (r != 0) {
                print_error("refused: %s: %s\n", err.field, err.message);
                fail();
        }
}

/* Parsed and checked without complaint. */
static void assert_accepted(const char *text)
{
        cJSON *o = json(text);
        assert_obj_accepted(o);
        cJSON_Delete(o);
}

/* Parsed, then refused by dawn_alert_check() (the rules that need the
 * whole alert, the config or the clock). */
static void assert_check_refused(const char *text, const char *field, const char *message)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;

        assert_int_equal(parse(text, &a, &seen, &err), 0);
        memset(&err, 0, sizeof(err));
        int r = dawn_alert_check(&a, config, NOW, &err);
        dawn_alert_clear(&a);
        if (r != -EINVAL) {
                print_error("check accepted %s\n", text);
                fail();
        }
        assert_string_equal(err.field, field);
        assert_string_equal(err.message, message);
}

/* {BATCH, "summary": s} built with cJSON, so s may hold any bytes */
static cJSON *batch_with_string(const char *field, const char *s)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "batch");
        cJSON_AddStringToObject(o, "area", "southampton");
        if (strcmp(field, "summary") != 0)
                cJSON_AddStringToObject(o, "summary", "Heroin with a nitazene in it");
        cJSON_AddStringToObject(o, field, s);
        return o;
}

/* n copies of unit (a UTF-8 character), malloc'ed */
static char *repeat(const char *unit, size_t n)
{
        size_t len = strlen(unit);
        char *s = malloc(len * n + 1);
        assert_non_null(s);
        for (size_t i = 0; i < n; i++)
                memcpy(s + i * len, unit, len);
        s[len * n] = '\0';
        return s;
}

/* ---- accepted input ---- */

static void test_minimal_batch_is_accepted(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;

        assert_int_equal(parse("{" BATCH "}", &a, &seen, &err), 0);
        assert_int_equal(seen, DAWN_FIELD_TYPE | DAWN_FIELD_AREA | DAWN_FIELD_SUMMARY);
        assert_int_equal(a.type, DAWN_TYPE_BATCH);
        assert_string_equal(a.area, "southampton");
        assert_string_equal(a.summary, "Heroin with a nitazene in it");
        /* the defaults of what was not given */
        assert_int_equal(a.evidence, DAWN_EVIDENCE_REPORTED);
        assert_int_equal(a.scope, DAWN_SCOPE_PROFESSIONAL);
        assert_int_equal(a.casualties, -1);
        assert_int_equal(a.fatalities, -1);
        assert_int_equal(a.occurred_at, 0);
        assert_int_equal(a.expires_at, 0);
        assert_false(a.has_grade_override);
        assert_int_equal(a.sold_as.n, 0);
        assert_null(a.source_ref);
        assert_int_equal(dawn_alert_check(&a, config, NOW, &err), 0);
        dawn_alert_clear(&a);
}

static void test_every_input_field_is_read(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;

        assert_int_equal(parse("{'type': 'cluster', 'area': 'fareham', 'summary': 'Overdoses\\nin Fareham',"
                               " 'sold_as': ['heroin', 'brown'], 'adulterants': ['nitazene'],"
                               " 'appearance': 'light brown powder', 'advice': 'Carry naloxone',"
                               " 'evidence': 'toxicology', 'casualties': 4, 'fatalities': 1,"
                               " 'occurred_at': '2026-11-23T03:10:00Z', 'expires_at': '2026-12-07T00:00:00+01:00',"
                               " 'grade': 'critical', 'scope': 'public', 'source_ref': 'amb-20261123-0412'}",
                               &a, &seen, &err),
                         0);
        assert_int_equal(seen, (DAWN_FIELD_SOURCE_REF << 1) - 1);
        assert_int_equal(a.type, DAWN_TYPE_CLUSTER);
        assert_string_equal(a.area, "fareham");
        assert_string_equal(a.summary, "Overdoses\nin Fareham");
        assert_int_equal(a.sold_as.n, 2);
        assert_string_equal(a.sold_as.v[0], "heroin");
        assert_string_equal(a.sold_as.v[1], "brown");
        assert_int_equal(a.adulterants.n, 1);
        assert_string_equal(a.adulterants.v[0], "nitazene");
        assert_string_equal(a.appearance, "light brown powder");
        assert_string_equal(a.advice, "Carry naloxone");
        assert_int_equal(a.evidence, DAWN_EVIDENCE_TOXICOLOGY);
        assert_int_equal(a.casualties, 4);
        assert_int_equal(a.fatalities, 1);
        assert_int_equal(a.occurred_at, NOW - (8 * 3600 + 50 * 60) * SEC);
        assert_int_equal(a.expires_at, INT64_C(1796598000) * SEC);
        assert_true(a.has_grade_override);
        assert_int_equal(a.grade_override, DAWN_GRADE_CRITICAL);
        assert_int_equal(a.scope, DAWN_SCOPE_PUBLIC);
        assert_string_equal(a.source_ref, "amb-20261123-0412");
        assert_int_equal(dawn_alert_check(&a, config, NOW, &err), 0);
        dawn_alert_clear(&a);
}

static void test_nfod_needs_no_summary(void **state UNUSED)
{
        assert_accepted("{'type': 'nfod', 'area': 'gosport'}");
        assert_accepted("{'type': 'nfod', 'area': 'gosport', 'sold_as': ['oxycodone'], 'fatalities': 0}");
}

/* ---- refused fields ---- */

static void test_not_an_object_is_refused(void **state UNUSED)
{
        assert_refused("['batch']", "alert", "the alert must be a JSON object");
        assert_refused("'batch'", "alert", "the alert must be a JSON object");
}

static void test_unknown_field_is_named(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'colour': 'red'}", "colour", "unknown field 'colour'");
        /* names are case-sensitive: "Type" is not "type" */
        assert_refused("{'Type': 'batch'}", "Type", "unknown field 'Type'");
}

static void test_daemon_fields_are_refused(void **state UNUSED)
{
        static const char *const fields[] = {
                "id", "revision", "status", "grade_reasons", "sources", "issued_at", "updated_at",
        };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                char text[200], message[100];
                snprintf(text, sizeof(text), "{" BATCH ", '%s': 'A1'}", fields[i]);
                snprintf(message, sizeof(message), "%s: set by the daemon, not by a submitter", fields[i]);
                assert_refused(text, fields[i], message);
        }
}

static void test_duplicate_key_is_refused(void **state UNUSED)
{
        assert_refused("{'type': 'batch', 'type': 'cluster'}", "type", "type: given twice");
        assert_refused("{" BATCH ", 'sold_as': ['a'], 'sold_as': ['b']}", "sold_as", "sold_as: given twice");
}

static void test_type_must_be_a_known_name(void **state UNUSED)
{
        assert_refused("{'type': 'pill'}", "type", "type: 'pill' is not one of batch, cluster, nfod");
        assert_refused("{'type': 'Batch'}", "type", "type: 'Batch' is not one of batch, cluster, nfod");
        assert_refused("{'type': 1}", "type", "type: must be a string, one of batch, cluster, nfod");
        assert_refused("{'type': null}", "type", "type: must be a string, one of batch, cluster, nfod");
}

static void test_area_must_be_a_string(void **state UNUSED)
{
        assert_refused("{'area': 5}", "area", "area: must be a string");
        assert_refused("{'area': ['southampton']}", "area", "area: must be a string");
        assert_refused("{'area': ''}", "area", "area: must not be empty");
}

static void test_unknown_area_is_refused(void **state UNUSED)
{
        assert_check_refused("{'type': 'batch', 'area': 'narnia', 'summary': 'x'}", "area",
                             "area: unknown area 'narnia'");
        /* area ids are the config's, exactly */
        assert_check_refused("{'type': 'batch', 'area': 'Southampton', 'summary': 'x'}", "area",
                             "area: unknown area 'Southampton'");
}

static void test_area_is_required(void **state UNUSED)
{
        assert_check_refused("{'type': 'batch', 'summary': 'x'}", "area", "area: required");
}

static void test_summary_must_be_a_string(void **state UNUSED)
{
        assert_refused("{'summary': ['x']}", "summary", "summary: must be a string");
        assert_refused("{'summary': 12}", "summary", "summary: must be a string");
}

static void test_text_fields_must_be_strings(void **state UNUSED)
{
        static const char *const fields[] = { "appearance", "advice", "source_ref" };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                char text[200], message[100];
                snprintf(text, sizeof(text), "{" BATCH ", '%s': ['x']}", fields[i]);
                snprintf(message, sizeof(message), "%s: must be a string", fields[i]);
                assert_refused(text, fields[i], message);
                snprintf(text, sizeof(text), "{" BATCH ", '%s': 42}", fields[i]);
                assert_refused(text, fields[i], message);
        }
}

static void test_summary_required_for_batch_and_cluster(void **state UNUSED)
{
        assert_check_refused("{'type': 'batch', 'area': 'southampton'}", "summary",
                             "summary: required for a batch alert");
        assert_check_refused("{'type': 'cluster', 'area': 'fareham'}", "summary",
                             "summary: required for a cluster alert");
}

/* a single overdose report is data for cluster detection; warning people is an alert's job */
static void test_nfod_cannot_carry_an_officer_grade(void **state UNUSED)
{
        assert_check_refused("{'type': 'nfod', 'area': 'gosport', 'grade': 'warning'}", "grade",
                             "grade: a single non-fatal overdose report is logged, not graded by hand; "
                             "issue a batch or cluster alert to warn people");
}

static void test_sold_as_must_be_an_array(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'sold_as': 'heroin'}", "sold_as", "sold_as: must be an array of strings");
        assert_refused("{" BATCH ", 'adulterants': {'a': 1}}", "adulterants",
                       "adulterants: must be an array of strings");
}

static void test_list_entry_must_be_a_string(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'sold_as': ['heroin', 7]}", "sold_as[1]", "sold_as[1]: must be a string");
        assert_refused("{" BATCH ", 'adulterants': ['nitazene', 'xylazine', null]}", "adulterants[2]",
                       "adulterants[2]: must be a string");
}

static void test_list_of_32_accepted_33_refused(void **state UNUSED)
{
        char text[1024];
        int n = snprintf(text, sizeof(text), "{" BATCH ", 'sold_as': [");
        for (int i = 0; i < 32; i++)
                n += snprintf(text + n, sizeof(text) - (size_t)n, "%s'w%d'", i ? ", " : "", i);
        snprintf(text + n, sizeof(text) - (size_t)n, "]}");
        assert_accepted(text);

        snprintf(text + n, sizeof(text) - (size_t)n, ", 'w32']}");
        assert_refused(text, "sold_as", "sold_as: 33 entries, at most 32 allowed");
}

static void test_list_entry_of_100_chars_accepted_101_refused(void **state UNUSED)
{
        cJSON *o = batch_with_string("summary", "x");
        cJSON *list = cJSON_AddArrayToObject(o, "sold_as");
        char *word = repeat("\xc3\xa9", 100);
        cJSON_AddItemToArray(list, cJSON_CreateString(word));
        assert_obj_accepted(o);
        free(word);
        word = repeat("\xc3\xa9", 101);
        cJSON_AddItemToArray(list, cJSON_CreateString(word));
        assert_obj_refused(o, "sold_as[1]", "sold_as[1]: 101 characters, at most 100 allowed");
        free(word);
        cJSON_Delete(o);
}

static void test_casualties_must_be_a_whole_number(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'casualties': -1}", "casualties",
                       "casualties: must be a whole number from 0 to 1000000");
        assert_refused("{" BATCH ", 'casualties': 2.5}", "casualties",
                       "casualties: must be a whole number from 0 to 1000000");
        assert_refused("{" BATCH ", 'casualties': '3'}", "casualties", "casualties: must be a whole number");
        assert_refused("{" BATCH ", 'casualties': true}", "casualties", "casualties: must be a whole number");
        assert_refused("{" BATCH ", 'casualties': 1000001}", "casualties",
                       "casualties: must be a whole number from 0 to 1000000");
        /* beyond what an int or an int64 holds: cJSON saturates valueint, the check must not */
        assert_refused("{" BATCH ", 'casualties': 1e300}", "casualties",
                       "casualties: must be a whole number from 0 to 1000000");
        assert_refused("{" BATCH ", 'fatalities': -0.5}", "fatalities",
                       "fatalities: must be a whole number from 0 to 1000000");
}

static void test_casualties_bounds_accepted(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;

        assert_int_equal(parse("{" BATCH ", 'casualties': 1000000, 'fatalities': 0}", &a, &seen, &err), 0);
        assert_int_equal(a.casualties, 1000000);
        assert_int_equal(a.fatalities, 0);
        dawn_alert_clear(&a);
        /* 3.0 is a whole number, however it is written */
        assert_int_equal(parse("{" BATCH ", 'casualties': 3.0}", &a, &seen, &err), 0);
        assert_int_equal(a.casualties, 3);
        dawn_alert_clear(&a);
}

static void test_more_fatalities_than_casualties_refused(void **state UNUSED)
{
        assert_check_refused("{" BATCH ", 'casualties': 2, 'fatalities': 3}", "fatalities",
                             "fatalities: 3 is more than the 2 casualties");
        assert_accepted("{" BATCH ", 'casualties': 2, 'fatalities': 2}");
        /* fatalities alone: casualties were not counted, nothing to compare */
        assert_accepted("{" BATCH ", 'fatalities': 3}");
}

static void test_evidence_must_be_a_known_name(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'evidence': 'rumour'}", "evidence",
                       "evidence: 'rumour' is not one of reported, clinical, toxicology");
        assert_refused("{" BATCH ", 'evidence': 2}", "evidence",
                       "evidence: must be a string, one of reported, clinical, toxicology");
}

static void test_scope_must_be_a_known_name(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'scope': 'everyone'}", "scope",
                       "scope: 'everyone' is not one of professional, public");
        assert_refused("{" BATCH ", 'scope': false}", "scope", "scope: must be a string, one of professional, public");
}

static void test_grade_must_be_a_known_name(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'grade': 'severe'}", "grade",
                       "grade: 'severe' is not one of info, warning, critical");
        assert_refused("{" BATCH ", 'grade': 3}", "grade", "grade: must be a string, one of info, warning, critical");
}

static void test_grade_logged_is_refused(void **state UNUSED)
{
        /* "logged" is a grade the daemon gives; no officer issues it */
        assert_refused("{" BATCH ", 'grade': 'logged'}", "grade", "grade: 'logged' is not one of info, warning, critical");
}

static void test_long_bad_name_is_shown_cut_short(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;
        char text[600];

        snprintf(text, sizeof(text), "{'evidence': '%0500d'}", 0);
        assert_int_equal(parse(text, &a, &seen, &err), -EINVAL);
        assert_string_equal(err.field, "evidence");
        assert_true(strlen(err.message) < 120);
        assert_non_null(strstr(err.message, "is not one of reported, clinical, toxicology"));
        dawn_alert_clear(&a);
}

static void test_times_must_be_rfc3339(void **state UNUSED)
{
        static const char *const bad[] = {
                "'yesterday'", "'2026-11-23'", "'2026-11-23 03:10'", "'2026-11-23T03:10:00'",
                "'23/11/2026 03:10'", "'2026-02-30T03:10:00Z'", "1795435200", "null",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char text[200];
                snprintf(text, sizeof(text), "{" BATCH ", 'occurred_at': %s}", bad[i]);
                assert_refused(text, "occurred_at",
                               "occurred_at: must be an RFC 3339 time such as 2026-11-23T03:10:00Z");
                snprintf(text, sizeof(text), "{" BATCH ", 'expires_at': %s}", bad[i]);
                assert_refused(text, "expires_at",
                               "expires_at: must be an RFC 3339 time such as 2026-11-23T03:10:00Z");
        }
}

static void test_expires_at_in_the_past_refused(void **state UNUSED)
{
        assert_check_refused("{" BATCH ", 'expires_at': '2026-11-23T11:59:59Z'}", "expires_at",
                             "expires_at: lies in the past");
        /* now itself has already gone */
        assert_check_refused("{" BATCH ", 'expires_at': '2026-11-23T12:00:00Z'}", "expires_at",
                             "expires_at: lies in the past");
        assert_accepted("{" BATCH ", 'expires_at': '2026-11-23T12:00:01Z'}");
}

static void test_occurred_at_in_the_future_refused(void **state UNUSED)
{
        assert_check_refused("{" BATCH ", 'occurred_at': '2026-11-24T12:00:00Z'}", "occurred_at",
                             "occurred_at: lies in the future");
        assert_check_refused("{" BATCH ", 'occurred_at': '2026-11-23T12:05:01Z'}", "occurred_at",
                             "occurred_at: lies in the future");
        /* a submitter's clock a few minutes fast is not their fault */
        assert_accepted("{" BATCH ", 'occurred_at': '2026-11-23T12:04:00Z'}");
        assert_accepted("{" BATCH ", 'occurred_at': '2026-11-20T23:00:00Z'}");
}

/* ---- text rules ---- */

static void test_summary_counts_characters_not_bytes(void **state UNUSED)
{
        /* "é" is two bytes: 1000 of them are 2000 bytes but 1000 characters */
        char *s = repeat("\xc3\xa9", 1000);
        cJSON *o = batch_with_string("summary", s);
        assert_obj_accepted(o);
        cJSON_Delete(o);
        free(s);

        s = repeat("\xc3\xa9", 1001);
        o = batch_with_string("summary", s);
        assert_obj_refused(o, "summary", "summary: 1001 characters, at most 1000 allowed");
        cJSON_Delete(o);
        free(s);

        /* four-byte characters count once too */
        s = repeat("\xf0\x9f\x92\x8a", 1000);
        o = batch_with_string("summary", s);
        assert_obj_accepted(o);
        cJSON_Delete(o);
        free(s);
}

static void test_summary_of_1001_ascii_chars_refused(void **state UNUSED)
{
        char *s = repeat("a", 1001);
        cJSON *o = batch_with_string("summary", s);
        assert_obj_refused(o, "summary", "summary: 1001 characters, at most 1000 allowed");
        cJSON_Delete(o);
        free(s);
}

static void test_other_text_limits(void **state UNUSED)
{
        char *s = repeat("a", 2000);
        cJSON *o = batch_with_string("advice", s);
        assert_obj_accepted(o);
        cJSON_Delete(o);
        free(s);

        s = repeat("a", 2001);
        o = batch_with_string("appearance", s);
        assert_obj_refused(o, "appearance", "appearance: 2001 characters, at most 2000 allowed");
        cJSON_Delete(o);
        free(s);

        s = repeat("r", 129);
        o = batch_with_string("source_ref", s);
        assert_obj_refused(o, "source_ref", "source_ref: 129 characters, at most 128 allowed");
        cJSON_Delete(o);
        free(s);
}

static void test_invalid_utf8_refused(void **state UNUSED)
{
        static const char *const bad[] = {
                "caf\xc3",              /* cut short */
                "\x80 stray continuation",
                "\xc3\x28",             /* lead byte, then no continuation */
                "\xc0\xaf",             /* overlong "/" */
                "\xe0\x80\xaf",         /* overlong, three bytes */
                "\xed\xa0\x80",         /* UTF-16 surrogate */
                "\xf4\x90\x80\x80",     /* above U+10FFFF */
                "\xff\xfe",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cJSON *o = batch_with_string("summary", bad[i]);
                assert_obj_refused(o, "summary",
                                   "summary: not valid UTF-8 text, or holds a control character other than a newline");
                cJSON_Delete(o);
        }
        cJSON *o = batch_with_string("summary", "x");
        cJSON *list = cJSON_AddArrayToObject(o, "adulterants");
        cJSON_AddItemToArray(list, cJSON_CreateString("xyl\xc3\x28zine"));
        assert_obj_refused(o, "adulterants[0]", "adulterants[0]: not valid UTF-8 text, or holds a control character");
        cJSON_Delete(o);
}

static void test_valid_utf8_accepted(void **state UNUSED)
{
        /* two-, three- and four-byte characters, and the highest code point */
        cJSON *o = batch_with_string("summary", "Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\x8a \xf4\x8f\xbf\xbf");
        assert_obj_accepted(o);
        cJSON_Delete(o);
}

static void test_control_characters_refused(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'advice': 'ring\\u0007'}", "advice",
                       "advice: not valid UTF-8 text, or holds a control character other than a newline");
        assert_refused("{" BATCH ", 'appearance': 'blue\\u001bpills'}", "appearance",
                       "appearance: not valid UTF-8 text, or holds a control character other than a newline");
        assert_refused("{" BATCH ", 'appearance': 'blue\\u007f'}", "appearance",
                       "appearance: not valid UTF-8 text, or holds a control character other than a newline");
        assert_refused("{'type': 'batch', 'area': 'south\\tampton'}", "area",
                       "area: not valid UTF-8 text, or holds a control character");
}

static void test_newline_allowed_in_summary_not_in_list_entries(void **state UNUSED)
{
        assert_accepted("{'type': 'batch', 'area': 'southampton', 'summary': 'line one\\nline two'}");
        assert_accepted("{" BATCH ", 'advice': 'Carry naloxone.\\nDo not use alone.'}");
        assert_refused("{" BATCH ", 'sold_as': ['heroin\\nbrown']}", "sold_as[0]",
                       "sold_as[0]: not valid UTF-8 text, or holds a control character");
        assert_refused("{" BATCH ", 'source_ref': 'a\\nb'}", "source_ref",
                       "source_ref: not valid UTF-8 text, or holds a control character");
}

static void test_empty_and_blank_strings_refused(void **state UNUSED)
{
        assert_refused("{'type': 'batch', 'area': 'southampton', 'summary': ''}", "summary",
                       "summary: must not be empty");
        assert_refused("{'type': 'batch', 'area': 'southampton', 'summary': '  \\n '}", "summary",
                       "summary: must not be empty");
        assert_refused("{" BATCH ", 'sold_as': ['heroin', '   ']}", "sold_as[1]", "sold_as[1]: must not be empty");
        assert_refused("{" BATCH ", 'adulterants': ['']}", "adulterants[0]", "adulterants[0]: must not be empty");
        assert_refused("{" BATCH ", 'advice': ' '}", "advice", "advice: must not be empty");
        assert_refused("{" BATCH ", 'source_ref': ''}", "source_ref", "source_ref: must not be empty");
}

static void test_text_check_directly(void **state UNUSED)
{
        struct dawn_input_error err = { 0 };

        assert_int_equal(dawn_text_check("reason", "duplicate of A3", 10, false, &err), -EINVAL);
        assert_string_equal(err.field, "reason");
        assert_string_equal(err.message, "reason: 15 characters, at most 10 allowed");
        assert_int_equal(dawn_text_check("reason", "ok\nthen", 10, true, &err), 0);
        assert_int_equal(dawn_text_check("reason", "ok\nthen", 10, false, &err), -EINVAL);
        /* a NULL error is allowed: the answer is still -EINVAL */
        assert_int_equal(dawn_text_check("reason", "", 10, false, NULL), -EINVAL);
}

/* ---- JSON out and back ---- */

static void assert_strv_equal(const struct dawn_strv *a, const struct dawn_strv *b)
{
        assert_int_equal(a->n, b->n);
        for (size_t i = 0; i < a->n; i++)
                assert_string_equal(a->v[i], b->v[i]);
}

static void assert_alerts_equal(const struct dawn_alert *a, const struct dawn_alert *b)
{
        assert_int_equal(a->type, b->type);
        assert_string_equal(a->area, b->area);
        if (a->summary || b->summary)
                assert_string_equal(a->summary, b->summary);
        assert_strv_equal(&a->sold_as, &b->sold_as);
        assert_strv_equal(&a->adulterants, &b->adulterants);
        if (a->appearance || b->appearance)
                assert_string_equal(a->appearance, b->appearance);
        if (a->advice || b->advice)
                assert_string_equal(a->advice, b->advice);
        assert_int_equal(a->evidence, b->evidence);
        assert_int_equal(a->casualties, b->casualties);
        assert_int_equal(a->fatalities, b->fatalities);
        assert_int_equal(a->occurred_at, b->occurred_at);
        assert_int_equal(a->expires_at, b->expires_at);
        assert_int_equal(a->has_grade_override, b->has_grade_override);
        if (a->has_grade_override)
                assert_int_equal(a->grade_override, b->grade_override);
        assert_int_equal(a->scope, b->scope);
        if (a->source_ref || b->source_ref)
                assert_string_equal(a->source_ref, b->source_ref);
        assert_string_equal(a->id, b->id);
        assert_int_equal(a->revision, b->revision);
        assert_int_equal(a->status, b->status);
        assert_int_equal(a->grade, b->grade);
        assert_strv_equal(&a->grade_reasons, &b->grade_reasons);
        assert_strv_equal(&a->sources, &b->sources);
        assert_int_equal(a->issued_at, b->issued_at);
        assert_int_equal(a->updated_at, b->updated_at);
        if (a->cancel_reason || b->cancel_reason)
                assert_string_equal(a->cancel_reason, b->cancel_reason);
}

static void round_trip(const struct dawn_alert *a)
{
        struct dawn_alert b;
        cJSON *o = dawn_alert_to_json(a);
        assert_non_null(o);
        /* through text, as the store keeps it */
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        o = cJSON_Parse(text);
        free(text);
        dawn_alert_init(&b);
        assert_int_equal(dawn_alert_from_json(o, &b), 0);
        cJSON_Delete(o);
        assert_alerts_equal(a, &b);
        dawn_alert_clear(&b);
}

static void test_json_round_trip_keeps_every_field(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;

        assert_int_equal(parse("{'type': 'cluster', 'area': 'fareham', 'summary': 'Overdoses \\u00e9\\nin Fareham',"
                               " 'sold_as': ['heroin', 'brown'], 'adulterants': ['nitazene', 'xylazine'],"
                               " 'appearance': 'light brown powder', 'advice': 'Carry naloxone',"
                               " 'evidence': 'clinical', 'casualties': 5, 'fatalities': 2,"
                               " 'occurred_at': '2026-11-23T03:10:00Z', 'expires_at': '2026-11-30T12:00:00Z',"
                               " 'grade': 'warning', 'scope': 'public', 'source_ref': 'ref-1'}",
                               &a, &seen, &err),
                         0);
        snprintf(a.id, sizeof(a.id), "A17");
        a.revision = 3;
        a.status = DAWN_STATUS_CANCELLED;
        a.grade = DAWN_GRADE_CRITICAL;
        dawn_strv_add(&a.grade_reasons, "overdose cluster");
        dawn_strv_add(&a.grade_reasons, "2 fatalities");
        dawn_strv_add(&a.sources, "portsmouth-ph");
        dawn_strv_add(&a.sources, "ambulance");
        a.issued_at = NOW - 3600 * SEC;
        a.updated_at = NOW;
        a.cancel_reason = strdup("issued in error");
        round_trip(&a);
        dawn_alert_clear(&a);
}

static void test_json_round_trip_of_a_minimal_alert(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;

        /* what was not given stays not given: no casualties, no override, no times */
        assert_int_equal(parse("{'type': 'nfod', 'area': 'gosport'}", &a, &seen, &err), 0);
        round_trip(&a);
        dawn_alert_clear(&a);
}

static void test_json_output_names(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;

        assert_int_equal(parse("{" BATCH ", 'casualties': 0}", &a, &seen, &err), 0);
        snprintf(a.id, sizeof(a.id), "A2");
        a.revision = 1;
        a.grade = DAWN_GRADE_WARNING;
        a.issued_at = NOW;
        cJSON *o = dawn_alert_to_json(&a);
        assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, "A2");
        assert_int_equal(cJSON_GetObjectItem(o, "revision")->valueint, 1);
        assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "active");
        assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "batch");
        assert_string_equal(cJSON_GetObjectItem(o, "grade")->valuestring, "warning");
        assert_string_equal(cJSON_GetObjectItem(o, "evidence")->valuestring, "reported");
        assert_string_equal(cJSON_GetObjectItem(o, "scope")->valuestring, "professional");
        assert_string_equal(cJSON_GetObjectItem(o, "issued_at")->valuestring, "2026-11-23T12:00:00Z");
        assert_true(cJSON_IsArray(cJSON_GetObjectItem(o, "grade_reasons")));
        assert_true(cJSON_IsArray(cJSON_GetObjectItem(o, "sources")));
        /* zero casualties is said; no fatalities given is not */
        assert_int_equal(cJSON_GetObjectItem(o, "casualties")->valueint, 0);
        assert_null(cJSON_GetObjectItem(o, "fatalities"));
        assert_null(cJSON_GetObjectItem(o, "grade_override"));
        assert_null(cJSON_GetObjectItem(o, "cancel_reason"));
        cJSON_Delete(o);
        dawn_alert_clear(&a);
}

static void test_from_json_needs_a_type(void **state UNUSED)
{
        struct dawn_alert a;
        cJSON *o = json("{'id': 'A1', 'area': 'southampton'}");

        dawn_alert_init(&a);
        assert_int_equal(dawn_alert_from_json(o, &a), -EINVAL);
        dawn_alert_clear(&a);
        cJSON_Delete(o);
}

static void test_copy_is_deep(void **state UNUSED)
{
        struct dawn_alert a, b;
        struct dawn_input_error err;
        unsigned seen;

        assert_int_equal(parse("{" BATCH ", 'sold_as': ['heroin'], 'advice': 'Carry naloxone'}", &a, &seen, &err), 0);
        dawn_strv_add(&a.sources, "ambulance");
        dawn_alert_init(&b);
        assert_int_equal(dawn_alert_copy(&b, &a), 0);
        assert_ptr_not_equal(a.area, b.area);
        assert_ptr_not_equal(a.sold_as.v, b.sold_as.v);
        dawn_alert_clear(&a);
        /* b survives a's end */
        assert_string_equal(b.area, "southampton");
        assert_string_equal(b.sold_as.v[0], "heroin");
        assert_string_equal(b.advice, "Carry naloxone");
        assert_string_equal(b.sources.v[0], "ambulance");
        dawn_alert_clear(&b);
}

/* ---- fingerprint ---- */

static char *fingerprint_of(const char *text)
{
        struct dawn_alert a;
        struct dawn_input_error err;
        unsigned seen;

        assert_int_equal(parse(text, &a, &seen, &err), 0);
        char *fp = dawn_alert_fingerprint(&a);
        assert_non_null(fp);
        dawn_alert_clear(&a);
        return fp;
}

static void assert_same_fingerprint(const char *x, const char *y)
{
        char *a = fingerprint_of(x), *b = fingerprint_of(y);
        assert_string_equal(a, b);
        free(a);
        free(b);
}

static void assert_different_fingerprint(const char *x, const char *y)
{
        char *a = fingerprint_of(x), *b = fingerprint_of(y);
        assert_string_not_equal(a, b);
        free(a);
        free(b);
}

static void test_fingerprint_is_normalised(void **state UNUSED)
{
        char *fp = fingerprint_of("{" BATCH ", 'sold_as': ['Heroin', ' heroin ', 'Crack  Cocaine'],"
                                  " 'adulterants': ['NITAZENE', 'xylazine', 'nitazene']}");
        assert_string_equal(fp, "batch\x1esouthampton\x1e" "crack cocaine\x1fheroin\x1e" "nitazene\x1fxylazine");
        free(fp);
}

static void test_fingerprint_ignores_order_case_and_duplicates(void **state UNUSED)
{
        assert_same_fingerprint("{" BATCH ", 'sold_as': ['heroin', 'crack'], 'adulterants': ['nitazene']}",
                                "{" BATCH ", 'sold_as': [' Crack', 'HEROIN', 'heroin'], 'adulterants': ['Nitazene ']}");
        /* the rest of the report is not part of it */
        assert_same_fingerprint("{" BATCH ", 'sold_as': ['heroin'], 'evidence': 'toxicology', 'casualties': 3}",
                                "{'type': 'batch', 'area': 'southampton', 'summary': 'other words',"
                                " 'sold_as': ['heroin'], 'advice': 'Carry naloxone'}");
}

static void test_fingerprint_differs_by_type_area_and_contents(void **state UNUSED)
{
        const char *base = "{" BATCH ", 'sold_as': ['heroin'], 'adulterants': ['nitazene']}";
        assert_different_fingerprint(base, "{'type': 'cluster', 'area': 'southampton', 'summary': 'x',"
                                           " 'sold_as': ['heroin'], 'adulterants': ['nitazene']}");
        assert_different_fingerprint(base, "{'type': 'batch', 'area': 'portsmouth', 'summary': 'x',"
                                           " 'sold_as': ['heroin'], 'adulterants': ['nitazene']}");
        assert_different_fingerprint(base, "{" BATCH ", 'sold_as': ['heroin'], 'adulterants': ['xylazine']}");
        assert_different_fingerprint(base, "{" BATCH ", 'sold_as': ['heroin'], 'adulterants': ['nitazene', 'xylazine']}");
        assert_different_fingerprint(base, "{" BATCH ", 'sold_as': ['heroin'], 'adulterants': []}");
        assert_different_fingerprint(base, "{" BATCH ", 'sold_as': ['crack'], 'adulterants': ['nitazene']}");
        /* a word in the other list is another report */
        assert_different_fingerprint(base, "{" BATCH ", 'sold_as': ['nitazene'], 'adulterants': ['heroin']}");
        /* separators inside words cannot make two reports look alike */
        assert_different_fingerprint("{" BATCH ", 'sold_as': ['heroin'], 'adulterants': ['nitazene|x']}",
                                     "{" BATCH ", 'sold_as': ['heroin|nitazene'], 'adulterants': ['x']}");
        assert_different_fingerprint("{" BATCH ", 'sold_as': ['heroin,crack']}",
                                     "{" BATCH ", 'sold_as': ['heroin', 'crack']}");
}

/* ---- nesting guard ---- */

static bool depth_ok(const char *text)
{
        return dawn_json_depth_ok(text, strlen(text), DAWN_MAX_JSON_DEPTH);
}

static void test_json_depth_8_accepted_9_refused(void **state UNUSED)
{
        assert_int_equal(DAWN_MAX_JSON_DEPTH, 8);
        assert_true(depth_ok("[[[[[[[[1]]]]]]]]"));
        assert_false(depth_ok("[[[[[[[[[1]]]]]]]]]"));
        assert_true(depth_ok("{\"a\": {\"b\": [[{\"c\": [[[1]]]}]]}}"));
        assert_false(depth_ok("{\"a\": {\"b\": [[{\"c\": [[[[1]]]]}]]}}"));
        /* depth, not count: many shallow siblings are fine */
        assert_true(depth_ok("[[1],[2],[3],[4],[5],[6],[7],[8],[9],[10]]"));
}

static void test_json_depth_ignores_brackets_in_strings(void **state UNUSED)
{
        assert_true(depth_ok("{\"summary\": \"[[[[[[[[[[{{{{{{{{{{\"}"));
        /* an escaped quote does not end the string */
        assert_true(depth_ok("{\"summary\": \"say \\\"[[[[[[[[[[\\\" twice\"}"));
        /* an escaped backslash does not hide the closing quote */
        assert_false(depth_ok("{\"a\": \"\\\\\", \"b\": [[[[[[[[1]]]]]]]]}"));
}

static void test_json_depth_reads_only_len_bytes(void **state UNUSED)
{
        const char *nine = "[[[[[[[[[1]]]]]]]]]";
        assert_true(dawn_json_depth_ok(nine, 8, DAWN_MAX_JSON_DEPTH));
        assert_false(dawn_json_depth_ok(nine, 9, DAWN_MAX_JSON_DEPTH));
        assert_true(dawn_json_depth_ok("[[[", 2, 2));
        assert_false(dawn_json_depth_ok("[[[", 3, 2));
}

/* ---- NUL inside strings (issue 10, item 12) ----
 * cJSON decodes \u0000 into its C strings, which then end there: these are
 * written with real double quotes, as the bytes a peer sends. */

/* dawn_json_find_nul over text (which cJSON must accept): the path, or NULL. */
static const char *nul_path(const char *text, size_t len)
{
        static char path[DAWN_JSON_PATH_MAX];
        cJSON *o = cJSON_ParseWithLength(text, len);

        if (!o)
                print_error("cJSON cannot parse: %s\n", text);
        assert_non_null(o);
        cJSON_Delete(o);
        return dawn_json_find_nul(text, len, "body", path, sizeof(path)) ? path : NULL;
}
#define NUL_PATH(literal) nul_path(literal, sizeof(literal) - 1)

static void test_nul_escape_is_found_and_named(void **state UNUSED)
{
        assert_string_equal(NUL_PATH("{\"area\": \"portsmouth\\u0000evil\"}"), "area");
        assert_string_equal(NUL_PATH("{\"cmd\": \"issue\", \"alert\": {\"type\": \"batch\", "
                                     "\"source_ref\": \"r-1\\u0000a\"}}"),
                            "alert.source_ref");
        /* in a list, counted from 0, after other strings (some with escapes) */
        assert_string_equal(NUL_PATH("{\"summary\": \"a \\\"b\\\" c\", \"sold_as\": [\"x\", \"y\\n\", "
                                     "\"z\\u0000\"], \"area\": \"s\"}"),
                            "sold_as[2]");
        /* a batch: the element, then the field */
        assert_string_equal(NUL_PATH("[{\"a\": \"1\"}, {\"a\": \"2\", \"b\": [1, {\"c\": \"\\u0000\"}]}]"), "[1].b[1].c");
        /* the whole value, and a member name */
        assert_string_equal(NUL_PATH("\"\\u0000\""), "body");
        assert_string_equal(NUL_PATH("{\"area\\u0000x\": 1}"), "area\\u0000x");
        /* at the very start and end of a string */
        assert_string_equal(NUL_PATH("{\"a\": \"\\u0000\"}"), "a");
        assert_string_equal(NUL_PATH("{\"a\": \"x\", \"b\": \"\\u00000\"}"), "b");
}

static void test_nul_raw_byte_is_found(void **state UNUSED)
{
        /* cJSON takes a raw NUL byte inside a string just as it takes \u0000 */
        static const char raw[] = "{\"area\": \"portsmouth\0evil\"}";
        assert_string_equal(nul_path(raw, sizeof(raw) - 1), "area");
}

static void test_nul_lookalikes_are_not_nul(void **state UNUSED)
{
        /* an escaped backslash, then "u0000": text, not a NUL */
        assert_null(NUL_PATH("{\"summary\": \"C:\\\\u0000\"}"));
        assert_null(NUL_PATH("{\"summary\": \"\\\\\\\\u0000\"}"));
        /* but an escaped backslash followed by a real \u0000 is one */
        assert_string_equal(NUL_PATH("{\"summary\": \"\\\\\\u0000\"}"), "summary");
        /* other escapes, surrogate pairs included */
        assert_null(NUL_PATH("{\"a\": \"\\u0001\\u0100\\ud83d\\ude00\\u00e9\\u0010\", \"b\": [\"\\\"\\/\\b\\f\"]}"));
        /* u0000 outside any string (a key name, not a value) */
        assert_null(NUL_PATH("{\"u0000\": \"u0000\"}"));
}

static void test_nul_refused_by_the_bounded_parser(void **state UNUSED)
{
        static const char text[] = "{\"type\": \"batch\", \"area\": \"portsmouth\\u0000evil\"}";
        bool too_large = true;
        cJSON *err = NULL;
        cJSON *doc = dawn_json_parse_bounded(text, sizeof(text) - 1, 1024, 8, "a report", &too_large, &err);

        assert_null(doc);
        assert_false(too_large);
        assert_non_null(err);
        assert_string_equal(cJSON_GetObjectItem(err, "field")->valuestring, "area");
        assert_non_null(strstr(cJSON_GetObjectItem(err, "error")->valuestring, "area: holds the NUL character"));
        cJSON_Delete(err);

        /* in a batch, named as the answers for its reports are */
        static const char batch[] = "[{\"area\": \"x\"}, {\"area\": \"y\\u0000\"}]";
        doc = dawn_json_parse_bounded(batch, sizeof(batch) - 1, 1024, 8, "a batch", &too_large, &err);
        assert_null(doc);
        assert_string_equal(cJSON_GetObjectItem(err, "field")->valuestring, "alert[1].area");
        cJSON_Delete(err);
        doc = dawn_json_parse_bounded("\"\\u0000\"", 8, 1024, 8, "a report", &too_large, &err);
        assert_null(doc);
        assert_string_equal(cJSON_GetObjectItem(err, "field")->valuestring, "body");
        cJSON_Delete(err);

        static const char fine[] = "{\"summary\": \"C:\\\\u0000\"}";
        doc = dawn_json_parse_bounded(fine, sizeof(fine) - 1, 1024, 8, "a report", &too_large, &err);
        assert_non_null(doc);
        assert_string_equal(cJSON_GetObjectItem(doc, "summary")->valuestring, "C:\\u0000");
        cJSON_Delete(doc);
}

/* ---- bidi and C1 controls ---- */

static void test_bidi_control_refused_in_identifiers_only(void **state UNUSED)
{
        assert_refused("{'type': 'batch', 'area': 'south\u202eampton'}", "area",
                       "area: holds U+202E, a bidirectional control, which an identifier may not contain");
        assert_refused("{" BATCH ", 'source_ref': 'ref-\u2066-1'}", "source_ref",
                       "source_ref: holds U+2066, a bidirectional control, which an identifier may not contain");
        assert_refused("{" BATCH ", 'source_ref': 'ref\u200f'}", "source_ref",
                       "source_ref: holds U+200F, a bidirectional control, which an identifier may not contain");
        /* free text in Arabic or Hebrew carries marks legitimately: dawnctl shows them */
        assert_accepted("{'type': 'batch', 'area': 'southampton', 'summary': 'Pills \u202egnp.exe\u202c \u200f\u061c'}");
        assert_accepted("{" BATCH ", 'advice': '\u05e9\u05dc\u05d5\u05dd \u200e123'}");
}

/* An unknown field's name is quoted in the refusal, which dawnd also logs:
 * a newline in it would forge a log line. */
static void test_unknown_field_name_is_quoted_without_controls(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'x\\ndawnd: error: forged\\u007f': 1}", "x?dawnd: error: forged?",
                       "unknown field 'x?dawnd: error: forged?'");
}

static void test_c1_controls_refused_in_text(void **state UNUSED)
{
        assert_refused("{" BATCH ", 'advice': 'csi\\u009b31m'}", "advice",
                       "advice: not valid UTF-8 text, or holds a control character other than a newline");
        assert_refused("{" BATCH ", 'appearance': 'nel\\u0085'}", "appearance",
                       "appearance: not valid UTF-8 text, or holds a control character other than a newline");
        /* the first character after them is fine */
        assert_accepted("{" BATCH ", 'advice': 'non\\u00a0breaking'}");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_minimal_batch_is_accepted),
                cmocka_unit_test(test_every_input_field_is_read),
                cmocka_unit_test(test_nfod_needs_no_summary),
                cmocka_unit_test(test_not_an_object_is_refused),
                cmocka_unit_test(test_unknown_field_is_named),
                cmocka_unit_test(test_daemon_fields_are_refused),
                cmocka_unit_test(test_duplicate_key_is_refused),
                cmocka_unit_test(test_type_must_be_a_known_name),
                cmocka_unit_test(test_area_must_be_a_string),
                cmocka_unit_test(test_unknown_area_is_refused),
                cmocka_unit_test(test_area_is_required),
                cmocka_unit_test(test_summary_must_be_a_string),
                cmocka_unit_test(test_text_fields_must_be_strings),
                cmocka_unit_test(test_summary_required_for_batch_and_cluster),
                cmocka_unit_test(test_nfod_cannot_carry_an_officer_grade),
                cmocka_unit_test(test_sold_as_must_be_an_array),
                cmocka_unit_test(test_list_entry_must_be_a_string),
                cmocka_unit_test(test_list_of_32_accepted_33_refused),
                cmocka_unit_test(test_list_entry_of_100_chars_accepted_101_refused),
                cmocka_unit_test(test_casualties_must_be_a_whole_number),
                cmocka_unit_test(test_casualties_bounds_accepted),
                cmocka_unit_test(test_more_fatalities_than_casualties_refused),
                cmocka_unit_test(test_evidence_must_be_a_known_name),
                cmocka_unit_test(test_scope_must_be_a_known_name),
                cmocka_unit_test(test_grade_must_be_a_known_name),
                cmocka_unit_test(test_grade_logged_is_refused),
                cmocka_unit_test(test_long_bad_name_is_shown_cut_short),
                cmocka_unit_test(test_times_must_be_rfc3339),
                cmocka_unit_test(test_expires_at_in_the_past_refused),
                cmocka_unit_test(test_occurred_at_in_the_future_refused),
                cmocka_unit_test(test_summary_counts_characters_not_bytes),
                cmocka_unit_test(test_summary_of_1001_ascii_chars_refused),
                cmocka_unit_test(test_other_text_limits),
                cmocka_unit_test(test_invalid_utf8_refused),
                cmocka_unit_test(test_valid_utf8_accepted),
                cmocka_unit_test(test_control_characters_refused),
                cmocka_unit_test(test_newline_allowed_in_summary_not_in_list_entries),
                cmocka_unit_test(test_empty_and_blank_strings_refused),
                cmocka_unit_test(test_text_check_directly),
                cmocka_unit_test(test_json_round_trip_keeps_every_field),
                cmocka_unit_test(test_json_round_trip_of_a_minimal_alert),
                cmocka_unit_test(test_json_output_names),
                cmocka_unit_test(test_from_json_needs_a_type),
                cmocka_unit_test(test_copy_is_deep),
                cmocka_unit_test(test_fingerprint_is_normalised),
                cmocka_unit_test(test_fingerprint_ignores_order_case_and_duplicates),
                cmocka_unit_test(test_fingerprint_differs_by_type_area_and_contents),
                cmocka_unit_test(test_json_depth_8_accepted_9_refused),
                cmocka_unit_test(test_json_depth_ignores_brackets_in_strings),
                cmocka_unit_test(test_json_depth_reads_only_len_bytes),
                cmocka_unit_test(test_nul_escape_is_found_and_named),
                cmocka_unit_test(test_nul_raw_byte_is_found),
                cmocka_unit_test(test_nul_lookalikes_are_not_nul),
                cmocka_unit_test(test_nul_refused_by_the_bounded_parser),
                cmocka_unit_test(test_bidi_control_refused_in_identifiers_only),
                cmocka_unit_test(test_c1_controls_refused_in_text),
                cmocka_unit_test(test_unknown_field_name_is_quoted_without_controls),
        };
        return cmocka_run_group_tests_name("alert", tests, group_setup, dawn_test_config_free);
}
