/* The texts the five shared scenarios (shared/data/scenarios.json,
 * "alerts") come out as: every field a shift worker needs -- grade, what it
 * was sold as and what was found, where, the harm, what it looks like, the
 * advice, the id -- within sms.max_segments parts, and when room runs short
 * the least important parts going first (daemon/delivery/sms_text.c,
 * publish_text). The scenarios are copied here as C literals, as
 * test_grade.c does, so that the test needs nothing outside the tree. The
 * grades are the ones test_grade.c shows they get; ids are as dawnd issues
 * them to a fresh store (A1..A5). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "sms_text.h"

#define UNUSED __attribute__((unused))

struct scenario {
        enum dawn_type type;
        const char *area;
        const char *sold_as[3];
        const char *adulterants[3];
        const char *appearance;
        int64_t casualties, fatalities;
        const char *summary;
        const char *advice;
        enum dawn_grade grade;
        const char *id;
};

static const struct scenario scenarios[] = {
        { DAWN_TYPE_BATCH, "southampton", { "heroin" }, { "nitazene" },
          "light brown powder, wraps in blue cling film", 4, 1,
          "Heroin circulating in Southampton city centre contains a nitazene. Four overdoses in 48 hours, one fatal.",
          "Carry naloxone and use it; more than one dose may be needed. Do not use alone. Use a small test amount "
          "first. Call 999.",
          DAWN_GRADE_CRITICAL, "A1" },
        { DAWN_TYPE_BATCH, "portsmouth", { "diazepam", "xanax" }, { "bromazolam" },
          "blue round tablets marked 'DB' on one side", 2, -1,
          "Blue tablets sold as diazepam in Portsmouth have caused heavy sedation and two hospital admissions.",
          "Avoid mixing with alcohol or opioids. Stay with friends. Recovery position if unresponsive; call 999.",
          DAWN_GRADE_WARNING, "A2" },
        { DAWN_TYPE_BATCH, "isle-of-wight", { "cocaine" }, { "xylazine" }, "off-white powder", -1, -1,
          "Unconfirmed reports from Newport of cocaine causing prolonged sedation and skin wounds.",
          "Naloxone will not reverse xylazine but give it anyway in an overdose. Seek care for wounds.",
          DAWN_GRADE_WARNING, "A3" },
        { DAWN_TYPE_CLUSTER, "fareham", { "heroin" }, { NULL }, NULL, 5, 2,
          "Opiate overdoses and deaths in Fareham and Gosport over the past week; the cause is not yet known.",
          "Make sure naloxone is at hand in hostels and supported housing. Check on residents who use alone.",
          DAWN_GRADE_CRITICAL, "A4" },
        { DAWN_TYPE_BATCH, "winchester", { "mdma" }, { NULL }, "pink pentagon pills, 'Tesla' logo", -1, -1,
          "High-strength MDMA pills tested in Winchester contain about twice a typical dose.",
          "Start with a quarter, wait two hours, sip water, take breaks from dancing.",
          DAWN_GRADE_WARNING, "A5" },
};

static char *dup_or_null(const char *s)
{
        if (!s)
                return NULL;
        char *d = strdup(s);
        assert_non_null(d);
        return d;
}

static void build(struct dawn_alert *a, const struct scenario *s)
{
        dawn_alert_init(a);
        a->type = s->type;
        a->area = dup_or_null(s->area);
        for (size_t i = 0; i < 3 && s->sold_as[i]; i++)
                assert_int_equal(dawn_strv_add(&a->sold_as, s->sold_as[i]), 0);
        for (size_t i = 0; i < 3 && s->adulterants[i]; i++)
                assert_int_equal(dawn_strv_add(&a->adulterants, s->adulterants[i]), 0);
        a->appearance = dup_or_null(s->appearance);
        a->casualties = s->casualties;
        a->fatalities = s->fatalities;
        a->summary = dup_or_null(s->summary);
        a->advice = dup_or_null(s->advice);
        a->grade = s->grade;
        snprintf(a->id, sizeof(a->id), "%s", s->id);
        a->revision = 1;
}

static char *text_of(size_t i, int max)
{
        struct dawn_alert a;
        build(&a, &scenarios[i]);
        char *t = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, max);
        assert_non_null(t);
        dawn_alert_clear(&a);
        return t;
}

static bool ends_with(const char *s, const char *end)
{
        size_t n = strlen(s), m = strlen(end);
        return n >= m && strcmp(s + n - m, end) == 0;
}

/* Scenario i in at most max parts is exactly expected, GSM-7, of that many
 * characters and parts. */
static void assert_text(size_t i, int max, const char *expected, size_t units, int segments)
{
        char *t = text_of(i, max);
        struct dawn_sms_size m = dawn_sms_measure(t);
        if (strcmp(t, expected) != 0 || m.ucs2 || m.units != units || m.segments != segments) {
                print_error("scenario %zu, %d parts: %zu units %d parts%s\n'%s'\n", i + 1, max, m.units, m.segments,
                            m.ucs2 ? " UCS-2" : "", t);
                fail();
        }
        assert_true(m.segments <= max);
        free(t);
}

/* In two parts (the default sms.max_segments) every scenario is whole:
 * harm and appearance included, none cut. */
static void test_southampton_nitazene_heroin(void **state UNUSED)
{
        assert_text(0, 2, "DAWN CRITICAL: heroin with nitazene, Southampton. 4 overdoses, 1 death. Looks like light "
                          "brown powder, wraps in blue cling film. Carry naloxone and use it; more than one dose may "
                          "be needed. Do not use alone. Use a small test amount first. Call 999. Ref A1 r1",
                    258, 2);
        /* one part: the advice is cut first, to a whole phrase; harm and appearance stay */
        assert_text(0, 1, "DAWN CRITICAL: heroin with nitazene, Southampton. 4 overdoses, 1 death. Looks like light "
                          "brown powder, wraps in blue cling film. Carry naloxone... Ref A1 r1",
                    156, 1);
}

static void test_portsmouth_bromazolam(void **state UNUSED)
{
        assert_text(1, 2, "DAWN WARNING: diazepam/xanax with bromazolam, Portsmouth. 2 overdoses. Looks like blue "
                          "round tablets marked 'DB' on one side. Avoid mixing with alcohol or opioids. Stay with "
                          "friends. Recovery position if unresponsive; call 999. Ref A2 r1",
                    237, 2);
        assert_text(1, 1, "DAWN WARNING: diazepam/xanax with bromazolam, Portsmouth. 2 overdoses. Looks like blue "
                          "round tablets marked 'DB' on one side. Avoid mixing... Ref A2 r1",
                    151, 1);
}

static void test_isle_of_wight_xylazine(void **state UNUSED)
{
        /* no counts given: no harm part at all */
        assert_text(2, 2, "DAWN WARNING: cocaine with xylazine, Isle of Wight. Looks like off-white powder. Naloxone "
                          "will not reverse xylazine but give it anyway in an overdose. Seek care for wounds. Ref A3 r1",
                    182, 2);
        /* the cut drops the dangling "in an" with the rest of the sentence */
        assert_text(2, 1, "DAWN WARNING: cocaine with xylazine, Isle of Wight. Looks like off-white powder. Naloxone "
                          "will not reverse xylazine but give it anyway... Ref A3 r1",
                    147, 1);
}

static void test_fareham_cluster(void **state UNUSED)
{
        /* no appearance: a cluster is known by its harm */
        assert_text(3, 2, "DAWN CRITICAL: overdose cluster, heroin, Fareham. 5 overdoses, 2 deaths. Make sure naloxone "
                          "is at hand in hostels and supported housing. Check on residents who use alone. Ref A4 r1",
                    180, 2);
        assert_text(3, 1, "DAWN CRITICAL: overdose cluster, heroin, Fareham. 5 overdoses, 2 deaths. Make sure naloxone "
                          "is at hand in hostels and supported housing... Ref A4 r1",
                    148, 1);
}

static void test_winchester_mdma(void **state UNUSED)
{
        assert_text(4, 2, "DAWN WARNING: mdma, Winchester. Looks like pink pentagon pills, 'Tesla' logo. Start with a "
                          "quarter, wait two hours, sip water, take breaks from dancing. Ref A5 r1",
                    162, 2);
        assert_text(4, 1, "DAWN WARNING: mdma, Winchester. Looks like pink pentagon pills, 'Tesla' logo. Start with a "
                          "quarter, wait two hours, sip water, take breaks... Ref A5 r1",
                    151, 1);
}

/* Scenario 1 in one part with less and less room (a longer area name eats
 * it): the advice goes first, then the appearance, then the harm; the
 * headline is cut last, and grade and id always stay. */
static void test_least_important_go_first(void **state UNUSED)
{
        struct dawn_alert a;
        build(&a, &scenarios[0]);
        struct {
                size_t pad;                     /* characters added to the area */
                bool advice, appearance, harm;  /* what is still there, whole or cut */
        } steps[] = {
                { 0, true, true, true },
                { 10, false, true, true },      /* "Carry naloxone..." no longer fits */
                /* the appearance no longer fits whole: left out, and the advice
                 * gets the room it leaves */
                { 30, true, false, true },
                /* nor the harm, by two characters; a shorter piece of advice
                 * still fits after the headline, better than nothing */
                { 80, true, false, false },
                { 95, false, false, false },
                /* the headline itself is cut, at a word: the long one goes */
                { 120, false, false, false },
        };
        for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
                char area[192] = "southampton-";
                memset(area + 12, 'x', steps[s].pad);
                area[steps[s].pad ? 12 + steps[s].pad : 11] = '\0';
                free(a.area);
                a.area = strdup(area);
                assert_non_null(a.area);
                char *t = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, 1);
                assert_non_null(t);
                if (dawn_sms_measure(t).segments != 1 || !ends_with(t, " Ref A1 r1") ||
                    strncmp(t, "DAWN CRITICAL: heroin with nitazene, Southampton", 48) != 0 ||
                    (strstr(t, "Carry naloxone") != NULL) != steps[s].advice ||
                    (strstr(t, "Looks like light brown powder, wraps in blue cling film.") != NULL) != steps[s].appearance ||
                    (strstr(t, "4 overdoses, 1 death.") != NULL) != steps[s].harm) {
                        print_error("step %zu: '%s'\n", s, t);
                        fail();
                }
                if (steps[s].pad == 120)
                        assert_string_equal(t, "DAWN CRITICAL: heroin with nitazene, Southampton... Ref A1 r1");
                else
                        assert_non_null(strstr(t, steps[s].pad ? "x. " : "Southampton. "));
                free(t);
        }
        dawn_alert_clear(&a);
}

/* A description too long for the room is left out whole, and the advice
 * after it still gets the room it leaves. */
static void test_long_appearance_left_out_advice_kept(void **state UNUSED)
{
        struct dawn_alert a;
        build(&a, &scenarios[0]);
        free(a.appearance);
        a.appearance = strdup("light brown powder in small wraps of blue cling film, sometimes in a knotted corner of a "
                              "freezer bag, sold in tenners around the bus station and the precinct");
        assert_non_null(a.appearance);
        char *t = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, 1);
        assert_non_null(t);
        assert_string_equal(t, "DAWN CRITICAL: heroin with nitazene, Southampton. 4 overdoses, 1 death. Carry naloxone "
                               "and use it; more than one dose may be needed... Ref A1 r1");
        free(t);
        /* in two parts it fits, before the advice */
        t = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, 2);
        assert_non_null(t);
        assert_non_null(strstr(t, "Looks like light brown powder in small wraps"));
        assert_true(dawn_sms_measure(t).segments <= 2);
        free(t);
        dawn_alert_clear(&a);
}

static void test_harm_in_words(void **state UNUSED)
{
        struct dawn_alert a;
        build(&a, &scenarios[3]);
        struct {
                int64_t casualties, fatalities;
                const char *words; /* NULL: no harm part */
        } cases[] = {
                { 5, 2, " 5 overdoses, 2 deaths. " },
                { 1, 1, " 1 overdose, 1 death. " },
                { 3, 0, " 3 overdoses, none fatal. " },
                { -1, 2, " 2 deaths. " },
                { 0, 0, NULL },
                { -1, -1, NULL },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                a.casualties = cases[i].casualties;
                a.fatalities = cases[i].fatalities;
                char *t = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, 2);
                assert_non_null(t);
                if (cases[i].words ? !strstr(t, cases[i].words) : strstr(t, "overdoses,") || strstr(t, "death")) {
                        print_error("%lld/%lld: '%s'\n", (long long)cases[i].casualties, (long long)cases[i].fatalities, t);
                        fail();
                }
                free(t);
        }
        dawn_alert_clear(&a);
}

/* ---- a property: any field lengths, any budget ---- */

static uint32_t rng = 13;

static uint32_t next(uint32_t bound)
{
        rng = rng * 1103515245u + 12345u; /* fixed seed: the same cases every run */
        return (rng >> 8) % bound;
}

/* n bytes of words ("Zqa bcd ef..."), starting with tag, sometimes with a
 * character outside GSM-7 (Polish l with stroke) that makes the text UCS-2. */
static char *words(const char *tag, size_t n)
{
        char *s = malloc(n + strlen(tag) + 3);
        assert_non_null(s);
        strcpy(s, tag);
        size_t len = strlen(s);
        while (len < n + strlen(tag)) {
                uint32_t r = next(12);
                s[len++] = r == 0 ? ' ' : r == 1 ? ',' : (char)('a' + next(26));
                if (r == 2 && next(20) == 0) {
                        s[len++] = (char)0xc5;
                        s[len++] = (char)0x82;
                }
        }
        s[len] = '\0';
        return s;
}

/* "4 overdoses" or "1 death" in t: a digit, then the word (nothing else in
 * these texts has a digit before a space but the id's revision). */
static bool has_harm(const char *t)
{
        for (const char *p = t; *p; p++)
                if (*p >= '0' && *p <= '9' && (strncmp(p + 1, " overdose", 9) == 0 || strncmp(p + 1, " death", 6) == 0))
                        return true;
        return false;
}

static void test_property_never_over_budget_id_and_grade_kept(void **state UNUSED)
{
        static const enum dawn_grade grades[] = { DAWN_GRADE_INFO, DAWN_GRADE_WARNING, DAWN_GRADE_CRITICAL };
        static const char *const heads[] = { "DAWN INFO: ", "DAWN WARNING: ", "DAWN CRITICAL: " };
        for (int round = 0; round < 1500; round++) {
                struct dawn_alert a;
                dawn_alert_init(&a);
                a.type = next(3) == 0 ? DAWN_TYPE_CLUSTER : DAWN_TYPE_BATCH;
                size_t g = next(3);
                a.grade = grades[g];
                char area[64];
                snprintf(area, sizeof(area), "area%.*s", (int)next(40), "-abcdefghij-klmnopqrst-uvwxyz-abcdefghij-");
                a.area = strdup(area);
                size_t n_sold = next(4), n_found = next(4);
                for (size_t i = 0; i < n_sold; i++) {
                        char *w = words("s", next(30));
                        dawn_strv_add(&a.sold_as, w);
                        free(w);
                }
                for (size_t i = 0; i < n_found; i++) {
                        char *w = words("f", next(30));
                        dawn_strv_add(&a.adulterants, w);
                        free(w);
                }
                if (next(4))
                        a.appearance = words("Qa", next(200));
                a.advice = words("Zq", next(500));
                a.casualties = (int64_t)next(1000) - 1;
                a.fatalities = (int64_t)next(20) - 1;
                snprintf(a.id, sizeof(a.id), "A%u", next(100000));
                a.revision = 1 + (int)next(9);
                int max = 1 + (int)next(4);

                char *t = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, max);
                assert_non_null(t);
                char ref[64];
                snprintf(ref, sizeof(ref), " Ref %s r%d", a.id, a.revision);
                struct dawn_sms_size m = dawn_sms_measure(t);
                /* the whole headline, whenever anything less important is there */
                char *head_only = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, 100);
                size_t line = strcspn(head_only, ".");
                bool later = strstr(t, "Zq") || strstr(t, "Looks like Qa") || has_harm(t);
                if (m.segments > max || !ends_with(t, ref) || strncmp(t, heads[g], strlen(heads[g])) != 0 ||
                    dawn_text_check("sms", t, LONG_MAX, false, NULL) != 0 ||
                    (later && strncmp(t, head_only, line) != 0)) {
                        print_error("round %d, %d parts: %d parts (%zu units%s): '%s'\n", round, max, m.segments,
                                    m.units, m.ucs2 ? ", UCS-2" : "", t);
                        fail();
                }
                free(head_only);
                free(t);
                dawn_alert_clear(&a);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_southampton_nitazene_heroin),
                cmocka_unit_test(test_portsmouth_bromazolam),
                cmocka_unit_test(test_isle_of_wight_xylazine),
                cmocka_unit_test(test_fareham_cluster),
                cmocka_unit_test(test_winchester_mdma),
                cmocka_unit_test(test_least_important_go_first),
                cmocka_unit_test(test_long_appearance_left_out_advice_kept),
                cmocka_unit_test(test_harm_in_words),
                cmocka_unit_test(test_property_never_over_budget_id_and_grade_kept),
        };
        return cmocka_run_group_tests_name("sms_scenarios", tests, NULL, NULL);
}
