/* Tests for daemon/intake/grade.c: every point the grader counts, the words it
 * gives for it, the thresholds, corroborations, the officer's override, and
 * the grades of the shared scenarios (data/scenarios.json) that demos and
 * the README quote.
 *
 * Alert JSON is written with single quotes; json() turns them into double
 * quotes (a literal apostrophe is written \u0027). */
#include "dawn_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "config.h"
#include "grade.h"

/* The config's list is in mixed case on purpose: matching ignores case. */
static const char config_text[] =
        "areas = { pan-hampshire = { southampton = {}; portsmouth = {}; isle-of-wight = {};\n"
        "          hampshire = { winchester = {}; fareham = {}; gosport = {}; }; }; };\n"
        "grading = { high_risk_adulterants = [ \"Nitazene\", \"fentanyl\", \"XYLAZINE\", \"medetomidine\" ]; };\n"
        "channels = { mqtt = {}; };\n";

static int group_setup(void **state UNUSED)
{
        return dawn_test_config_load(config_text);
}

/* ---- helpers ---- */

/* A submitter's alert from text with ' for ", parsed as the daemon would. */
static void alert_from(const char *text, struct dawn_alert *a)
{
        cJSON *o = json(text);
        struct dawn_input_error err = { 0 };
        unsigned seen = 0;
        dawn_alert_init(a);
        int r = dawn_alert_parse_input(o, a, &seen, &err);
        cJSON_Delete(o);
        if (r != 0)
                print_error("refused: %s: %s\n", err.field, err.message);
        assert_int_equal(r, 0);
        /* intake always lists the first source */
        assert_int_equal(dawn_strv_add(&a->sources, "portsmouth-ph"), 0);
}

/* Grades text with no corroborations. */
static void grade(const char *text, struct dawn_grading *g)
{
        struct dawn_alert a;
        alert_from(text, &a);
        assert_int_equal(dawn_grade_alert(&a, NULL, 0, config, g), 0);
        dawn_alert_clear(&a);
}

static void print_reasons(const struct dawn_grading *g)
{
        print_error("grade %s, %d points, reasons:\n", dawn_grade_name(g->grade), g->points);
        for (size_t i = 0; i < g->reasons.n; i++)
                print_error("  \"%s\"\n", g->reasons.v[i]);
}

static void assert_reason(const struct dawn_grading *g, const char *reason)
{
        if (!dawn_strv_contains(&g->reasons, reason)) {
                print_error("expected reason \"%s\"\n", reason);
                print_reasons(g);
                fail();
        }
}

/* No reason mentions needle. */
static void assert_no_reason_with(const struct dawn_grading *g, const char *needle)
{
        for (size_t i = 0; i < g->reasons.n; i++)
                if (strstr(g->reasons.v[i], needle)) {
                        print_error("did not expect a reason with \"%s\"\n", needle);
                        print_reasons(g);
                        fail();
                }
}

/* The reasons exactly, in order; the list ends with NULL. */
static void assert_reasons(const struct dawn_grading *g, ...)
{
        va_list ap;
        size_t n = 0;
        const char *want;

        va_start(ap, g);
        while ((want = va_arg(ap, const char *))) {
                if (n >= g->reasons.n || strcmp(g->reasons.v[n], want) != 0) {
                        print_error("reason %zu: expected \"%s\"\n", n, want);
                        print_reasons(g);
                        va_end(ap);
                        fail();
                }
                n++;
        }
        va_end(ap);
        if (n != g->reasons.n) {
                print_error("%zu reasons expected\n", n);
                print_reasons(g);
                fail();
        }
}

static void assert_graded(const struct dawn_grading *g, enum dawn_grade grade, int points)
{
        if (g->grade != grade || g->points != points) {
                print_error("expected %s with %d points\n", dawn_grade_name(grade), points);
                print_reasons(g);
                fail();
        }
}

#define BATCH "'type': 'batch', 'area': 'southampton', 'summary': 'Heroin with something in it'"

/* ---- each reason ---- */

static void test_nfod_is_logged(void **state UNUSED)
{
        struct dawn_grading g;
        /* however serious it sounds: one report is a data point, not an alert */
        grade("{'type': 'nfod', 'area': 'southampton', 'adulterants': ['nitazene'], 'evidence': 'toxicology',"
              " 'casualties': 1}",
              &g);
        assert_graded(&g, DAWN_GRADE_LOGGED, 0);
        assert_reasons(&g, "a single non-fatal overdose report is logged, not sent", NULL);
        dawn_grading_clear(&g);
}

static void test_reported_only_is_info(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH "}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 0);
        assert_reasons(&g, "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);
}

static void test_high_risk_adulterant_adds_two(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'adulterants': ['nitazene']}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reasons(&g, "adulterant nitazene is on the high-risk list", "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);
}

static void test_high_risk_match_ignores_case(void **state UNUSED)
{
        struct dawn_grading g;
        /* "Nitazene" and "XYLAZINE" in the config, other cases in the reports */
        grade("{" BATCH ", 'adulterants': ['NITAZENE']}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reason(&g, "adulterant NITAZENE is on the high-risk list");
        dawn_grading_clear(&g);

        grade("{" BATCH ", 'adulterants': ['xylazine']}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reason(&g, "adulterant xylazine is on the high-risk list");
        dawn_grading_clear(&g);
}

static void test_other_adulterant_adds_nothing(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'adulterants': ['bromazolam', 'caffeine'], 'sold_as': ['nitazene']}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 0);
        assert_no_reason_with(&g, "high-risk");
        dawn_grading_clear(&g);
}

static void test_second_high_risk_adulterant_named_without_points(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'adulterants': ['nitazene', 'caffeine', 'xylazine']}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reasons(&g, "adulterant nitazene is on the high-risk list", "adulterant xylazine is on the high-risk list",
                       "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);
}

static void test_one_fatality_adds_three(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'fatalities': 1}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 3);
        assert_reasons(&g, "1 fatality", "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);
}

static void test_two_fatalities_add_three(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'fatalities': 2}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 3);
        assert_reason(&g, "2 fatalities");
        dawn_grading_clear(&g);
}

static void test_no_fatalities_add_nothing(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'fatalities': 0, 'casualties': 0}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 0);
        assert_no_reason_with(&g, "fatalit");
        assert_no_reason_with(&g, "casualt");
        dawn_grading_clear(&g);
}

static void test_one_or_two_casualties_add_one(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'casualties': 1}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 1);
        assert_reasons(&g, "1 casualty", "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);

        grade("{" BATCH ", 'casualties': 2}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 1);
        assert_reason(&g, "2 casualties");
        dawn_grading_clear(&g);
}

static void test_three_or_more_casualties_add_two(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'casualties': 3}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reason(&g, "3 casualties");
        dawn_grading_clear(&g);

        grade("{" BATCH ", 'casualties': 40}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reason(&g, "40 casualties");
        dawn_grading_clear(&g);
}

static void test_toxicology_adds_two(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'evidence': 'toxicology'}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reasons(&g, "confirmed by toxicology", NULL);
        dawn_grading_clear(&g);
}

static void test_clinical_adds_one(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'evidence': 'clinical'}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 1);
        assert_reasons(&g, "clinical evidence", NULL);
        dawn_grading_clear(&g);
}

static void test_reported_adds_nothing_and_says_so(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'evidence': 'reported', 'casualties': 1}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 1);
        assert_reason(&g, "not yet confirmed (reported only)");
        dawn_grading_clear(&g);
}

static void test_cluster_adds_one(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{'type': 'cluster', 'area': 'fareham', 'summary': 'Overdoses in Fareham'}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 1);
        assert_reasons(&g, "overdose cluster", "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);
}

static void test_two_sources_add_one(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_grading g;

        alert_from("{" BATCH ", 'evidence': 'clinical'}", &a);
        assert_int_equal(dawn_grade_alert(&a, NULL, 0, config, &g), 0);
        assert_graded(&g, DAWN_GRADE_INFO, 1);
        assert_no_reason_with(&g, "corroborated");
        dawn_grading_clear(&g);

        dawn_strv_add(&a.sources, "ambulance");
        assert_int_equal(dawn_grade_alert(&a, NULL, 0, config, &g), 0);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reasons(&g, "clinical evidence", "corroborated by 2 sources", NULL);
        dawn_grading_clear(&g);

        /* three sources are still one point */
        dawn_strv_add(&a.sources, "uhs-ed");
        assert_int_equal(dawn_grade_alert(&a, NULL, 0, config, &g), 0);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reason(&g, "corroborated by 3 sources");
        dawn_grading_clear(&g);
        dawn_alert_clear(&a);
}

/* ---- corroborations ---- */

static void test_corroboration_raises_evidence(void **state UNUSED)
{
        struct dawn_alert a, corr[2];
        struct dawn_grading g;

        alert_from("{" BATCH ", 'evidence': 'reported'}", &a);
        alert_from("{" BATCH ", 'evidence': 'toxicology'}", &corr[0]);
        alert_from("{" BATCH ", 'evidence': 'clinical'}", &corr[1]);
        /* the strongest, not the latest */
        assert_int_equal(dawn_grade_alert(&a, corr, 2, config, &g), 0);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reason(&g, "confirmed by toxicology");
        assert_no_reason_with(&g, "reported only");
        dawn_grading_clear(&g);
        dawn_alert_clear(&a);
        dawn_alert_clear(&corr[0]);
        dawn_alert_clear(&corr[1]);
}

static void test_corroboration_counts_are_the_largest_not_the_sum(void **state UNUSED)
{
        struct dawn_alert a, corr[2];
        struct dawn_grading g;

        /* two reports of the same two casualties are two casualties, not four */
        alert_from("{" BATCH ", 'casualties': 2, 'fatalities': 1}", &a);
        alert_from("{" BATCH ", 'casualties': 2, 'fatalities': 1}", &corr[0]);
        alert_from("{" BATCH ", 'casualties': 1}", &corr[1]);
        assert_int_equal(dawn_grade_alert(&a, corr, 2, config, &g), 0);
        assert_graded(&g, DAWN_GRADE_WARNING, 4);
        assert_reasons(&g, "1 fatality", "2 casualties", "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);
        dawn_alert_clear(&corr[0]);
        dawn_alert_clear(&corr[1]);

        /* a later, larger count wins */
        alert_from("{" BATCH ", 'casualties': 5, 'fatalities': 2}", &corr[0]);
        assert_int_equal(dawn_grade_alert(&a, corr, 1, config, &g), 0);
        assert_reasons(&g, "2 fatalities", "5 casualties", "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);
        dawn_alert_clear(&corr[0]);
        dawn_alert_clear(&a);
}

static void test_corroboration_adds_adulterants(void **state UNUSED)
{
        struct dawn_alert a, corr;
        struct dawn_grading g;

        alert_from("{" BATCH ", 'adulterants': ['caffeine']}", &a);
        alert_from("{" BATCH ", 'adulterants': ['caffeine', 'fentanyl']}", &corr);
        assert_int_equal(dawn_grade_alert(&a, &corr, 1, config, &g), 0);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reason(&g, "adulterant fentanyl is on the high-risk list");
        dawn_grading_clear(&g);
        dawn_alert_clear(&corr);

        /* the same adulterant from two reports counts once and is named once */
        alert_from("{" BATCH ", 'adulterants': ['fentanyl']}", &corr);
        dawn_alert_clear(&a);
        alert_from("{" BATCH ", 'adulterants': ['fentanyl']}", &a);
        assert_int_equal(dawn_grade_alert(&a, &corr, 1, config, &g), 0);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reasons(&g, "adulterant fentanyl is on the high-risk list", "not yet confirmed (reported only)", NULL);
        dawn_grading_clear(&g);
        dawn_alert_clear(&corr);
        dawn_alert_clear(&a);
}

/* ---- thresholds ---- */

static void test_points_below_two_are_info(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'evidence': 'clinical'}", &g);
        assert_graded(&g, DAWN_GRADE_INFO, 1);
        dawn_grading_clear(&g);
}

static void test_two_to_four_points_are_warning(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'evidence': 'toxicology'}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        dawn_grading_clear(&g);
        grade("{" BATCH ", 'evidence': 'toxicology', 'casualties': 3}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 4);
        dawn_grading_clear(&g);
}

static void test_five_points_are_critical(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{'type': 'cluster', 'area': 'fareham', 'summary': 'x', 'evidence': 'toxicology', 'casualties': 3}", &g);
        assert_graded(&g, DAWN_GRADE_CRITICAL, 5);
        assert_reasons(&g, "overdose cluster", "3 casualties", "confirmed by toxicology", NULL);
        dawn_grading_clear(&g);
}

/* ---- the officer's override ---- */

static void test_officer_override_raises_and_explains(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'grade': 'critical'}", &g);
        assert_graded(&g, DAWN_GRADE_CRITICAL, 0);
        /* the evidence's own reasons stay, then the override's */
        assert_reasons(&g, "not yet confirmed (reported only)",
                       "grade set to critical by an officer (the evidence alone gives info)", NULL);
        dawn_grading_clear(&g);
}

static void test_officer_override_lowers_and_explains(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'evidence': 'toxicology', 'fatalities': 1, 'grade': 'info'}", &g);
        assert_int_equal(g.grade, DAWN_GRADE_INFO);
        assert_reason(&g, "grade set to info by an officer (the evidence alone gives critical)");
        assert_reason(&g, "1 fatality");
        dawn_grading_clear(&g);
}

static void test_officer_override_confirming_the_grade(void **state UNUSED)
{
        struct dawn_grading g;
        grade("{" BATCH ", 'evidence': 'toxicology', 'grade': 'warning'}", &g);
        assert_graded(&g, DAWN_GRADE_WARNING, 2);
        assert_reasons(&g, "confirmed by toxicology", "grade warning confirmed by an officer", NULL);
        dawn_grading_clear(&g);
}

static void test_grading_is_pure(void **state UNUSED)
{
        struct dawn_alert a;
        struct dawn_grading g1, g2;

        alert_from("{" BATCH ", 'adulterants': ['nitazene'], 'casualties': 2, 'evidence': 'clinical'}", &a);
        assert_int_equal(dawn_grade_alert(&a, NULL, 0, config, &g1), 0);
        assert_int_equal(dawn_grade_alert(&a, NULL, 0, config, &g2), 0);
        assert_int_equal(g1.grade, g2.grade);
        assert_int_equal(g1.points, g2.points);
        assert_int_equal(g1.reasons.n, g2.reasons.n);
        for (size_t i = 0; i < g1.reasons.n; i++)
                assert_string_equal(g1.reasons.v[i], g2.reasons.v[i]);
        /* the alert itself is not touched */
        assert_int_equal(a.grade, DAWN_GRADE_LOGGED);
        assert_int_equal(a.grade_reasons.n, 0);
        dawn_grading_clear(&g1);
        dawn_grading_clear(&g2);
        dawn_alert_clear(&a);
}

/* ---- corroborations folded as they join (dawn_grade_fold) ---- */

static void assert_same_grading(const struct dawn_grading *want, const struct dawn_grading *got)
{
        assert_int_equal(got->grade, want->grade);
        assert_int_equal(got->points, want->points);
        assert_int_equal(got->reasons.n, want->reasons.n);
        for (size_t i = 0; i < want->reasons.n; i++)
                assert_string_equal(got->reasons.v[i], want->reasons.v[i]);
}

/* Grading an alert with one sum of its corroborations, folded one by one,
 * gives what grading with every corroboration gives: the grade, the points
 * and each reason in its place, after every one of them joins (and with one
 * more joining, as a proposal is weighed). */
static void test_folded_corroborations_grade_as_all_of_them(void **state UNUSED)
{
        static const char *const reports[] = {
                "{" BATCH "}",
                "{" BATCH ", 'adulterants': ['xylazine', 'caffeine'], 'casualties': 1}",
                "{" BATCH ", 'evidence': 'clinical', 'casualties': 0}",
                "{" BATCH ", 'adulterants': ['Nitazene', 'xylazine'], 'fatalities': 0}",
                "{" BATCH ", 'casualties': 4, 'fatalities': 2, 'adulterants': ['fentanyl']}",
                "{" BATCH ", 'evidence': 'reported', 'casualties': 2}",
                "{" BATCH ", 'evidence': 'toxicology', 'adulterants': ['caffeine', 'medetomidine']}",
        };
        const size_t n = sizeof(reports) / sizeof(reports[0]);
        struct dawn_alert a, corr[sizeof(reports) / sizeof(reports[0])], sum, joining;
        struct dawn_grading want, got;

        alert_from("{" BATCH ", 'adulterants': ['nitazene']}", &a);
        assert_int_equal(dawn_strv_add(&a.sources, "ambulance"), 0);
        alert_from("{" BATCH ", 'adulterants': ['levamisole', 'FENTANYL'], 'casualties': 9}", &joining);
        dawn_alert_init(&sum);
        for (size_t i = 0; i < n; i++) {
                alert_from(reports[i], &corr[i]);
                assert_int_equal(dawn_grade_fold(&sum, &corr[i]), 0);
                assert_int_equal(dawn_grade_alert(&a, corr, i + 1, config, &want), 0);
                assert_int_equal(dawn_grade_alert(&a, &sum, 1, config, &got), 0);
                assert_same_grading(&want, &got);
                dawn_grading_clear(&want);
                dawn_grading_clear(&got);
        }
        /* one more joining: all of them and it, or the sum and it */
        struct dawn_alert *all = calloc(n + 1, sizeof(*all));
        struct dawn_alert pair[2];
        assert_non_null(all);
        memcpy(all, corr, sizeof(corr));
        all[n] = joining;
        pair[0] = sum;
        pair[1] = joining;
        assert_int_equal(dawn_grade_alert(&a, all, n + 1, config, &want), 0);
        assert_int_equal(dawn_grade_alert(&a, pair, 2, config, &got), 0);
        assert_same_grading(&want, &got);
        assert_int_equal(want.grade, DAWN_GRADE_CRITICAL);
        dawn_grading_clear(&want);
        dawn_grading_clear(&got);
        free(all);
        for (size_t i = 0; i < n; i++)
                dawn_alert_clear(&corr[i]);
        dawn_alert_clear(&joining);
        dawn_alert_clear(&sum);
        dawn_alert_clear(&a);
}

/* The sum keeps the strongest evidence and largest counts, and at most
 * DAWN_MAX_LIST_ITEMS adulterants, in the order first seen. */
static void test_fold_keeps_maxima_and_a_bounded_set(void **state UNUSED)
{
        struct dawn_alert sum, r;
        char word[32];

        dawn_alert_init(&sum);
        assert_int_equal(sum.casualties, -1);
        for (int i = 0; i < 3 * DAWN_MAX_LIST_ITEMS; i++) {
                dawn_alert_init(&r);
                r.evidence = i == 5 ? DAWN_EVIDENCE_TOXICOLOGY : DAWN_EVIDENCE_REPORTED;
                r.casualties = i % 7;
                r.fatalities = i == 9 ? 4 : -1;
                snprintf(word, sizeof(word), "%s%d", i % 2 ? "NITAZENE" : "nitazene", i);
                assert_int_equal(dawn_strv_add(&r.adulterants, word), 0);
                assert_int_equal(dawn_strv_add(&r.adulterants, "nitazene0"), 0);
                assert_int_equal(dawn_grade_fold(&sum, &r), 0);
                dawn_alert_clear(&r);
        }
        assert_int_equal(sum.evidence, DAWN_EVIDENCE_TOXICOLOGY);
        assert_int_equal(sum.casualties, 6);
        assert_int_equal(sum.fatalities, 4);
        assert_int_equal(sum.adulterants.n, DAWN_MAX_LIST_ITEMS);
        assert_string_equal(sum.adulterants.v[0], "nitazene0");
        assert_string_equal(sum.adulterants.v[1], "NITAZENE1");
        dawn_alert_clear(&sum);
}

/* ---- the shared scenarios (data/scenarios.json, "alerts") ---- */

static void assert_scenario(const char *text, enum dawn_grade expected)
{
        struct dawn_alert a;
        struct dawn_grading g;
        struct dawn_input_error err = { 0 };

        alert_from(text, &a);
        /* valid against the config, as intake would check */
        assert_int_equal(dawn_alert_check(&a, config, 0, &err), 0);
        assert_int_equal(dawn_grade_alert(&a, NULL, 0, config, &g), 0);
        if (g.grade != expected) {
                print_error("%s: expected %s\n", a.area, dawn_grade_name(expected));
                print_reasons(&g);
                fail();
        }
        dawn_grading_clear(&g);
        dawn_alert_clear(&a);
}

static void test_scenario_southampton_nitazene_heroin_is_critical(void **state UNUSED)
{
        assert_scenario("{'type': 'batch', 'area': 'southampton', 'sold_as': ['heroin'], 'adulterants': ['nitazene'],"
                        " 'appearance': 'light brown powder, wraps in blue cling film', 'evidence': 'toxicology',"
                        " 'casualties': 4, 'fatalities': 1,"
                        " 'summary': 'Heroin circulating in Southampton city centre contains a nitazene. Four overdoses"
                        " in 48 hours, one fatal.',"
                        " 'advice': 'Carry naloxone and use it; more than one dose may be needed. Do not use alone. Use"
                        " a small test amount first. Call 999.'}",
                        DAWN_GRADE_CRITICAL);
}

static void test_scenario_portsmouth_bromazolam_is_warning(void **state UNUSED)
{
        assert_scenario("{'type': 'batch', 'area': 'portsmouth', 'sold_as': ['diazepam', 'xanax'],"
                        " 'adulterants': ['bromazolam'],"
                        " 'appearance': 'blue round tablets marked \\u0027DB\\u0027 on one side', 'evidence': 'clinical',"
                        " 'casualties': 2,"
                        " 'summary': 'Blue tablets sold as diazepam in Portsmouth have caused heavy sedation and two"
                        " hospital admissions.',"
                        " 'advice': 'Avoid mixing with alcohol or opioids. Stay with friends. Recovery position if"
                        " unresponsive; call 999.'}",
                        DAWN_GRADE_WARNING);
}

static void test_scenario_isle_of_wight_xylazine_is_warning(void **state UNUSED)
{
        assert_scenario("{'type': 'batch', 'area': 'isle-of-wight', 'sold_as': ['cocaine'], 'adulterants': ['xylazine'],"
                        " 'appearance': 'off-white powder', 'evidence': 'reported',"
                        " 'summary': 'Unconfirmed reports from Newport of cocaine causing prolonged sedation and skin"
                        " wounds.',"
                        " 'advice': 'Naloxone will not reverse xylazine but give it anyway in an overdose. Seek care for"
                        " wounds.'}",
                        DAWN_GRADE_WARNING);
}

static void test_scenario_fareham_cluster_is_critical(void **state UNUSED)
{
        assert_scenario("{'type': 'cluster', 'area': 'fareham', 'sold_as': ['heroin'], 'evidence': 'clinical',"
                        " 'casualties': 5, 'fatalities': 2,"
                        " 'summary': 'Opiate overdoses and deaths in Fareham and Gosport over the past week; the cause"
                        " is not yet known.',"
                        " 'advice': 'Make sure naloxone is at hand in hostels and supported housing. Check on residents"
                        " who use alone.'}",
                        DAWN_GRADE_CRITICAL);
}

static void test_scenario_winchester_mdma_is_warning(void **state UNUSED)
{
        assert_scenario("{'type': 'batch', 'area': 'winchester', 'sold_as': ['mdma'],"
                        " 'appearance': 'pink pentagon pills, \\u0027Tesla\\u0027 logo', 'evidence': 'toxicology',"
                        " 'summary': 'High-strength MDMA pills tested in Winchester contain about twice a typical"
                        " dose.',"
                        " 'advice': 'Start with a quarter, wait two hours, sip water, take breaks from dancing.'}",
                        DAWN_GRADE_WARNING);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nfod_is_logged),
                cmocka_unit_test(test_reported_only_is_info),
                cmocka_unit_test(test_high_risk_adulterant_adds_two),
                cmocka_unit_test(test_high_risk_match_ignores_case),
                cmocka_unit_test(test_other_adulterant_adds_nothing),
                cmocka_unit_test(test_second_high_risk_adulterant_named_without_points),
                cmocka_unit_test(test_one_fatality_adds_three),
                cmocka_unit_test(test_two_fatalities_add_three),
                cmocka_unit_test(test_no_fatalities_add_nothing),
                cmocka_unit_test(test_one_or_two_casualties_add_one),
                cmocka_unit_test(test_three_or_more_casualties_add_two),
                cmocka_unit_test(test_toxicology_adds_two),
                cmocka_unit_test(test_clinical_adds_one),
                cmocka_unit_test(test_reported_adds_nothing_and_says_so),
                cmocka_unit_test(test_cluster_adds_one),
                cmocka_unit_test(test_two_sources_add_one),
                cmocka_unit_test(test_corroboration_raises_evidence),
                cmocka_unit_test(test_corroboration_counts_are_the_largest_not_the_sum),
                cmocka_unit_test(test_corroboration_adds_adulterants),
                cmocka_unit_test(test_points_below_two_are_info),
                cmocka_unit_test(test_two_to_four_points_are_warning),
                cmocka_unit_test(test_five_points_are_critical),
                cmocka_unit_test(test_officer_override_raises_and_explains),
                cmocka_unit_test(test_officer_override_lowers_and_explains),
                cmocka_unit_test(test_officer_override_confirming_the_grade),
                cmocka_unit_test(test_grading_is_pure),
                cmocka_unit_test(test_folded_corroborations_grade_as_all_of_them),
                cmocka_unit_test(test_fold_keeps_maxima_and_a_bounded_set),
                cmocka_unit_test(test_scenario_southampton_nitazene_heroin_is_critical),
                cmocka_unit_test(test_scenario_portsmouth_bromazolam_is_warning),
                cmocka_unit_test(test_scenario_isle_of_wight_xylazine_is_warning),
                cmocka_unit_test(test_scenario_fareham_cluster_is_critical),
                cmocka_unit_test(test_scenario_winchester_mdma_is_warning),
        };
        return cmocka_run_group_tests_name("grade", tests, group_setup, dawn_test_config_free);
}
