/* Tests for daemon/delivery/sms_text.c: counting an SMS the way the network does
 * (GSM-7 septets or UCS-2 units, and the parts they need), and the text a
 * hostel's shift phone gets for an alert and for its withdrawal, and the
 * notice a public-health officer gets for a report to review: within the
 * configured number of parts, with the alert id always there. */
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

/* ---- helpers ---- */

/* n copies of the UTF-8 character c, malloc'ed. */
static char *repeat(const char *c, size_t n)
{
        size_t len = strlen(c);
        char *s = malloc(len * n + 1);
        assert_non_null(s);
        for (size_t i = 0; i < n; i++)
                memcpy(s + i * len, c, len);
        s[len * n] = '\0';
        return s;
}

static void assert_measure(const char *text, bool ucs2, size_t units, int segments)
{
        struct dawn_sms_size m = dawn_sms_measure(text);
        if (m.ucs2 != ucs2 || m.units != units || m.segments != segments) {
                print_error("'%.60s': %s %zu units %d parts, expected %s %zu units %d parts\n", text,
                            m.ucs2 ? "UCS-2" : "GSM", m.units, m.segments, ucs2 ? "UCS-2" : "GSM", units,
                            segments);
                fail();
        }
}

/* c repeated n times measures as expected. */
static void assert_repeat(const char *c, size_t n, bool ucs2, size_t units, int segments)
{
        char *s = repeat(c, n);
        assert_measure(s, ucs2, units, segments);
        free(s);
}

static bool valid_utf8(const char *s)
{
        return dawn_text_check("sms", s, LONG_MAX, false, NULL) == 0;
}

static bool ends_with(const char *s, const char *end)
{
        size_t n = strlen(s), m = strlen(end);
        return n >= m && strcmp(s + n - m, end) == 0;
}

/* The first alert in the scenarios (shared/data/scenarios.json), graded
 * critical and issued as A17 revision 1. */
static void scenario_alert(struct dawn_alert *a)
{
        dawn_alert_init(a);
        a->type = DAWN_TYPE_BATCH;
        a->area = strdup("southampton");
        assert_int_equal(dawn_strv_add(&a->sold_as, "heroin"), 0);
        assert_int_equal(dawn_strv_add(&a->adulterants, "nitazene"), 0);
        a->appearance = strdup("light brown powder, wraps in blue cling film");
        a->evidence = DAWN_EVIDENCE_TOXICOLOGY;
        a->casualties = 4;
        a->fatalities = 1;
        a->summary = strdup("Heroin circulating in Southampton city centre contains a nitazene. Four overdoses "
                            "in 48 hours, one fatal.");
        a->advice = strdup("Carry naloxone and use it; more than one dose may be needed. Do not use alone. "
                           "Use a small test amount first. Call 999.");
        snprintf(a->id, sizeof(a->id), "A17");
        a->revision = 1;
        a->grade = DAWN_GRADE_CRITICAL;
        assert_non_null(a->area);
        assert_non_null(a->summary);
        assert_non_null(a->advice);
}

static void set_str(char **field, const char *value)
{
        free(*field);
        *field = value ? strdup(value) : NULL;
        if (value)
                assert_non_null(*field);
}

/* The scenario without its harm and appearance, for the tests of how the
 * advice is laid out and cut: those two now come before the advice, and in
 * one part would leave it little room. */
static void advice_only(struct dawn_alert *a)
{
        set_str(&a->appearance, NULL);
        a->casualties = -1;
        a->fatalities = -1;
}

/* The text for a, checked for what every SMS must be: valid UTF-8 on one
 * line, within max parts, ending with the reference. */
static char *sms_checked(const struct dawn_alert *a, enum dawn_delivery_action action, int max, const char *must_end)
{
        char *t = dawn_sms_text(a, action, max);
        assert_non_null(t);
        struct dawn_sms_size m = dawn_sms_measure(t);
        if (m.segments > (max < 1 ? 1 : max) || !valid_utf8(t) || (must_end && !ends_with(t, must_end))) {
                print_error("max %d: %d parts (%s, %zu units): '%s'\n", max, m.segments, m.ucs2 ? "UCS-2" : "GSM",
                            m.units, t);
                fail();
        }
        return t;
}

/* ---- measuring ---- */

static void test_measure_gsm_boundaries(void **state UNUSED)
{
        assert_measure("", false, 0, 1);
        assert_repeat("a", 160, false, 160, 1);
        assert_repeat("a", 161, false, 161, 2);
        assert_repeat("a", 306, false, 306, 2); /* 153 * 2 */
        assert_repeat("a", 307, false, 307, 3);
        assert_repeat("a", 459, false, 459, 3);
        assert_repeat("a", 460, false, 460, 4);
}

static void test_measure_ucs2_boundaries(void **state UNUSED)
{
        /* Cyrillic zhe, U+0436: outside GSM-7 */
        assert_repeat("\xd0\xb6", 70, true, 70, 1);
        assert_repeat("\xd0\xb6", 71, true, 71, 2);
        assert_repeat("\xd0\xb6", 134, true, 134, 2); /* 67 * 2 */
        assert_repeat("\xd0\xb6", 135, true, 135, 3);
}

static void test_measure_one_character_switches_everything(void **state UNUSED)
{
        /* 69 GSM letters and one Polish l with stroke: all 70 count as UCS-2 */
        char *s = repeat("a", 69);
        char buf[128];
        snprintf(buf, sizeof(buf), "%s\xc5\x82", s);
        assert_measure(buf, true, 70, 1);
        snprintf(buf, sizeof(buf), "%sa\xc5\x82", s);
        assert_measure(buf, true, 71, 2);
        free(s);
}

static void test_measure_extension_counts_two(void **state UNUSED)
{
        static const char *const ext[] = { "^", "{", "}", "\\", "[", "~", "]", "|", "\xe2\x82\xac" /* € */, "\f" };
        for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
                assert_measure(ext[i], false, 2, 1);
        assert_measure("[x]", false, 5, 1);
        assert_measure("\xe2\x82\xac" "10", false, 4, 1);
        /* 80 of them fill one part; 81 need two */
        assert_repeat("{", 80, false, 160, 1);
        assert_repeat("{", 81, false, 162, 2);
        assert_repeat("\xe2\x82\xac", 153, false, 306, 2);
        assert_repeat("\xe2\x82\xac", 154, false, 308, 3);
}

static void test_measure_basic_table(void **state UNUSED)
{
        /* every basic-table character outside ASCII, and the ASCII ones
         * that are easy to get wrong, one septet each */
        static const char basic[] = "\xc2\xa3\xc2\xa5\xc3\xa8\xc3\xa9\xc3\xb9\xc3\xac\xc3\xb2\xc3\x87\xc3\x98\xc3\xb8"
                                    "\xc3\x85\xc3\xa5\xce\x94_\xce\xa6\xce\x93\xce\x9b\xce\xa9\xce\xa0\xce\xa8\xce\xa3"
                                    "\xce\x98\xce\x9e\xc3\x86\xc3\xa6\xc3\x9f\xc3\x89\xc2\xa4\xc2\xa1\xc3\x84\xc3\x96"
                                    "\xc3\x91\xc3\x9c\xc2\xa7\xc2\xbf\xc3\xa4\xc3\xb6\xc3\xb1\xc3\xbc\xc3\xa0";
        assert_measure(basic, false, 40, 1);
        assert_measure("@$#%&'()*+,-./:;<=>?!\" \n\r", false, 25, 1);
        assert_measure("0123456789 ABCXYZ abcxyz", false, 24, 1);
}

static void test_measure_not_gsm(void **state UNUSED)
{
        /* each alone makes the text UCS-2 */
        static const char *const not_gsm[] = {
                "`",             /* not in either table */
                "\t",            /* nor is any control but LF, CR and FF */
                "\xc3\xa7",      /* c cedilla: only the capital is in the table */
                "\xc3\xa1",      /* a acute */
                "\xce\xb1",      /* Greek small alpha: only capitals are */
                "\xe2\x80\x99",  /* right single quotation mark */
                "\xe2\x80\xa6",  /* horizontal ellipsis */
                "\xd8\xb9",      /* Arabic ain */
        };
        for (size_t i = 0; i < sizeof(not_gsm) / sizeof(not_gsm[0]); i++)
                assert_measure(not_gsm[i], true, 1, 1);
}

static void test_measure_astral_counts_two(void **state UNUSED)
{
        /* U+1F48A PILL is a surrogate pair in UTF-16 */
        assert_measure("\xf0\x9f\x92\x8a", true, 2, 1);
        assert_measure("a\xf0\x9f\x92\x8a", true, 3, 1);
        assert_repeat("\xf0\x9f\x92\x8a", 35, true, 70, 1);
        assert_repeat("\xf0\x9f\x92\x8a", 36, true, 72, 2);
}

static void test_measure_invalid_utf8(void **state UNUSED)
{
        assert_measure("\xff", true, 1, 1);
        assert_measure("ab\xc3", true, 3, 1);
        assert_measure("\xc0\xaf", true, 2, 1);          /* overlong '/' */
        assert_measure("\xed\xa0\x80", true, 3, 1);      /* a surrogate */
        assert_measure("\xf4\x90\x80\x80", true, 4, 1);  /* beyond U+10FFFF */
        assert_measure(NULL, false, 0, 1);
}

/* ---- the alert's text ---- */

static void test_scenario_alert(void **state UNUSED)
{
        /* harm and appearance now come between the headline and the advice
         * (issue 13: staff recognise a batch by them); test_sms_scenarios.c
         * has every scenario */
        struct dawn_alert a;
        scenario_alert(&a);
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 2, " Ref A17 r1");
        assert_string_equal(t, "DAWN CRITICAL: heroin with nitazene, Southampton. 4 overdoses, 1 death. Looks like "
                               "light brown powder, wraps in blue cling film. Carry naloxone and use it; more than one "
                               "dose may be needed. Do not use alone. Use a small test amount first. Call 999. Ref A17 r1");
        struct dawn_sms_size m = dawn_sms_measure(t);
        assert_false(m.ucs2);
        assert_int_equal(m.units, 259);
        assert_int_equal(m.segments, 2);
        free(t);

        /* in one part the advice is cut first */
        t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, " Ref A17 r1");
        assert_string_equal(t, "DAWN CRITICAL: heroin with nitazene, Southampton. 4 overdoses, 1 death. Looks like "
                               "light brown powder, wraps in blue cling film. Carry naloxone... Ref A17 r1");
        free(t);

        /* without harm and appearance, the advice keeps its whole first sentences */
        advice_only(&a);
        t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, " Ref A17 r1");
        assert_string_equal(t, "DAWN CRITICAL: heroin with nitazene, Southampton. Carry naloxone and use it; more "
                               "than one dose may be needed. Do not use alone... Ref A17 r1");
        free(t);
        dawn_alert_clear(&a);
}

static void test_layout_of_other_alerts(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        /* a cluster, in an area whose id has several words */
        a.type = DAWN_TYPE_CLUSTER;
        a.grade = DAWN_GRADE_WARNING;
        dawn_strv_clear(&a.adulterants);
        set_str(&a.area, "isle-of-wight");
        set_str(&a.advice, "Check on residents who use alone.");
        a.revision = 3;
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_string_equal(t, "DAWN WARNING: overdose cluster, heroin, Isle of Wight. Check on residents who use "
                               "alone. Ref A17 r3");
        free(t);

        /* several names it was sold as, and several things found */
        a.type = DAWN_TYPE_BATCH;
        a.grade = DAWN_GRADE_INFO;
        dawn_strv_clear(&a.sold_as);
        dawn_strv_add(&a.sold_as, "diazepam");
        dawn_strv_add(&a.sold_as, "xanax");
        dawn_strv_add(&a.adulterants, "bromazolam");
        dawn_strv_add(&a.adulterants, "nitazene");
        dawn_strv_add(&a.adulterants, "xylazine");
        set_str(&a.area, "portsmouth");
        set_str(&a.advice, "Avoid mixing.");
        t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_string_equal(t, "DAWN INFO: diazepam/xanax with bromazolam, nitazene and xylazine, Portsmouth. "
                               "Avoid mixing. Ref A17 r3");
        free(t);

        /* words that are only spaces are left out, and the "and" moves */
        dawn_strv_add(&a.sold_as, " ");
        dawn_strv_add(&a.adulterants, "\xe2\x80\x8b"); /* a zero-width space */
        t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_string_equal(t, "DAWN INFO: diazepam/xanax with bromazolam, nitazene and xylazine, Portsmouth. "
                               "Avoid mixing. Ref A17 r3");
        free(t);

        /* found, but not known what it was sold as */
        dawn_strv_clear(&a.sold_as);
        dawn_strv_clear(&a.adulterants);
        dawn_strv_add(&a.adulterants, "nitazene");
        t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_string_equal(t, "DAWN INFO: drugs with nitazene, Portsmouth. Avoid mixing. Ref A17 r3");
        free(t);
        dawn_alert_clear(&a);
}

static void test_summary_when_no_advice(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        set_str(&a.advice, NULL);
        set_str(&a.summary, "Four overdoses in 48 hours.");
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_string_equal(t, "DAWN CRITICAL: heroin with nitazene, Southampton. Four overdoses in 48 hours. Ref A17 r1");
        free(t);
        /* advice that is only spaces counts as none */
        set_str(&a.advice, "  \n ");
        t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_non_null(strstr(t, "Four overdoses"));
        free(t);
        dawn_alert_clear(&a);
}

/* Long advice of many sentences: every part count keeps the id, fits, and
 * uses most of the room. */
static void test_long_advice_truncated(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        a.revision = 2;
        char advice[2001] = "";
        while (strlen(advice) + 40 < sizeof(advice))
                strcat(advice, "Carry naloxone. Never use alone, ever. ");
        set_str(&a.advice, advice);
        for (int max = 1; max <= 3; max++) {
                char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, max, " Ref A17 r2");
                struct dawn_sms_size m = dawn_sms_measure(t);
                assert_false(m.ucs2);
                size_t room = max == 1 ? 160 : 153 * (size_t)max;
                /* cut at a sentence, so within a sentence's length of full */
                assert_true(m.units > room - 30);
                assert_non_null(strstr(t, "... Ref A17 r2"));
                assert_true(strncmp(t, "DAWN CRITICAL: heroin with nitazene, Southampton. Carry naloxone.", 65) == 0);
                free(t);
        }
        dawn_alert_clear(&a);
}

static void test_long_word_cut_at_characters(void **state UNUSED)
{
        /* no sentence or word boundary to cut at */
        struct dawn_alert a;
        scenario_alert(&a);
        char *advice = repeat("x", 1000);
        set_str(&a.advice, advice);
        free(advice);
        for (int max = 1; max <= 3; max++) {
                char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, max, "x... Ref A17 r1");
                size_t room = max == 1 ? 160 : 153 * (size_t)max;
                assert_int_equal(dawn_sms_measure(t).units, room);
                free(t);
        }
        dawn_alert_clear(&a);
}

static void test_typography_made_gsm(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        /* curly quotes, dashes, an ellipsis, a no-break space, a backtick */
        set_str(&a.advice, "Don\xe2\x80\x99t use alone \xe2\x80\x94 call 999\xe2\x80\xa6 "
                           "\xe2\x80\x9c" "Test\xe2\x80\x9d first\xc2\xa0\xe2\x80\x93 it`s strong.");
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_non_null(strstr(t, "Don't use alone - call 999... \"Test\" first - it's strong. Ref A17 r1"));
        assert_false(dawn_sms_measure(t).ucs2);
        free(t);
        dawn_alert_clear(&a);
}

static void test_lines_and_spaces_folded(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        set_str(&a.advice, "  Carry naloxone.\n\nDo not\tuse   alone.\r\n");
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_non_null(strstr(t, "Southampton. Carry naloxone. Do not use alone. Ref A17 r1"));
        free(t);
        dawn_alert_clear(&a);
}

/* C1 controls (U+0080..U+009F; U+009B is a terminal's CSI) are controls too:
 * one space, as C0 ones are. Found by fuzz_sms_text once intake's own check
 * began to refuse them. */
static void test_c1_controls_folded(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        set_str(&a.advice, "Carry\xc2\x9b" "naloxone.\xc2\x85" "Do not use alone.");
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, NULL);
        assert_non_null(strstr(t, "Carry naloxone. Do not use alone. Ref A17 r1"));
        free(t);
        dawn_alert_clear(&a);
}

static void test_genuine_ucs2_stays(void **state UNUSED)
{
        /* Polish advice keeps its letters, and is counted as UCS-2 */
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        set_str(&a.advice, "Nie u\xc5\xbcywaj sam. Miej nalokson.");
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 2, " Ref A17 r1");
        assert_non_null(strstr(t, "Nie u\xc5\xbcywaj sam. Miej nalokson."));
        assert_true(dawn_sms_measure(t).ucs2);
        free(t);

        /* long: cut with the one-unit ellipsis, since "..." would cost 3
         * (a short headline, so that some Polish fits into one part) */
        dawn_strv_clear(&a.sold_as);
        dawn_strv_clear(&a.adulterants);
        set_str(&a.area, "hampshire");
        char advice[1200] = "";
        while (strlen(advice) + 30 < sizeof(advice))
                strcat(advice, "Nie u\xc5\xbcywaj sam. ");
        set_str(&a.advice, advice);
        for (int max = 1; max <= 3; max++) {
                t = sms_checked(&a, DAWN_ACTION_PUBLISH, max, "\xe2\x80\xa6 Ref A17 r1");
                struct dawn_sms_size m = dawn_sms_measure(t);
                assert_true(m.ucs2);
                size_t room = max == 1 ? 70 : 67 * (size_t)max;
                assert_true(m.units > room - 20);
                assert_null(strstr(t, "..."));
                free(t);
        }
        dawn_alert_clear(&a);
}

static void test_emoji_makes_ucs2(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        set_str(&a.advice, "Carry naloxone \xf0\x9f\x92\x8a always.");
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 2, " Ref A17 r1");
        struct dawn_sms_size m = dawn_sms_measure(t);
        assert_true(m.ucs2);
        /* the curly apostrophe rule does not remove real content */
        assert_non_null(strstr(t, "\xf0\x9f\x92\x8a"));
        free(t);
        dawn_alert_clear(&a);
}

static void test_ucs2_only_in_the_cut_part(void **state UNUSED)
{
        /* the only non-GSM character is in the advice's tail: cut off, the
         * text is GSM again and gets the GSM room */
        struct dawn_alert a;
        scenario_alert(&a);
        char advice[400] = "";
        while (strlen(advice) + 30 < 300)
                strcat(advice, "Never use alone, ever. ");
        strcat(advice, "Zadzwo\xc5\x84 999.");
        set_str(&a.advice, advice);
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, "... Ref A17 r1");
        struct dawn_sms_size m = dawn_sms_measure(t);
        assert_false(m.ucs2);
        assert_true(m.units > 130);
        free(t);
        dawn_alert_clear(&a);
}

static void test_extension_characters_never_split(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        char *advice = repeat("\xe2\x82\xac", 500); /* € */
        set_str(&a.advice, advice);
        free(advice);
        for (int max = 1; max <= 3; max++) {
                char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, max, "\xe2\x82\xac... Ref A17 r1");
                struct dawn_sms_size m = dawn_sms_measure(t);
                assert_false(m.ucs2);
                size_t room = max == 1 ? 160 : 153 * (size_t)max;
                /* an odd number of septets left is one too few for another € */
                assert_true(m.units == room || m.units == room - 1);
                free(t);
        }
        dawn_alert_clear(&a);
}

static void test_huge_headline_keeps_the_id(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        char *word = repeat("y", 100);
        for (int i = 0; i < 32; i++)
                dawn_strv_add(&a.sold_as, word);
        free(word);
        for (int max = 1; max <= 3; max++) {
                char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, max, "... Ref A17 r1");
                assert_true(strncmp(t, "DAWN CRITICAL: heroin/yyy", 25) == 0);
                free(t);
        }
        dawn_alert_clear(&a);
}

static void test_invalid_utf8_in_fields(void **state UNUSED)
{
        /* stored text is checked, but the SMS never passes bad bytes on */
        struct dawn_alert a;
        scenario_alert(&a);
        advice_only(&a);
        set_str(&a.advice, "Carry \xff naloxone \xc3.");
        set_str(&a.area, "south\xe2\x80hampton");
        char *t = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, " Ref A17 r1");
        assert_non_null(strstr(t, "Carry ? naloxone ?."));
        free(t);
        dawn_alert_clear(&a);
}

static void test_max_segments_below_one(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        char *t0 = sms_checked(&a, DAWN_ACTION_PUBLISH, 0, " Ref A17 r1");
        char *t1 = sms_checked(&a, DAWN_ACTION_PUBLISH, 1, " Ref A17 r1");
        assert_string_equal(t0, t1);
        free(t0);
        free(t1);
        dawn_alert_clear(&a);
}

/* ---- withdrawal ---- */

static void test_withdrawal(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        a.status = DAWN_STATUS_CANCELLED;
        set_str(&a.cancel_reason, "Lab retest found no nitazene.");
        char *t = sms_checked(&a, DAWN_ACTION_WITHDRAW, 1, NULL);
        assert_string_equal(t, "DAWN A17 WITHDRAWN: Lab retest found no nitazene.");
        free(t);
        dawn_alert_clear(&a);
}

static void test_withdrawal_long_reason(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        char reason[1001] = "";
        while (strlen(reason) + 40 < sizeof(reason))
                strcat(reason, "Issued in error, see the email today. ");
        set_str(&a.cancel_reason, reason);
        for (int max = 1; max <= 3; max++) {
                char *t = sms_checked(&a, DAWN_ACTION_WITHDRAW, max, "...");
                assert_true(strncmp(t, "DAWN A17 WITHDRAWN: Issued in error", 35) == 0);
                size_t room = max == 1 ? 160 : 153 * (size_t)max;
                assert_true(dawn_sms_measure(t).units > room - 45);
                free(t);
        }
        dawn_alert_clear(&a);
}

static void test_withdrawal_without_reason(void **state UNUSED)
{
        struct dawn_alert a;
        scenario_alert(&a);
        a.status = DAWN_STATUS_EXPIRED;
        char *t = sms_checked(&a, DAWN_ACTION_WITHDRAW, 1, NULL);
        assert_string_equal(t, "DAWN A17 WITHDRAWN: expired.");
        free(t);
        a.status = DAWN_STATUS_ACTIVE; /* an update took it out of this recipient's rules */
        t = sms_checked(&a, DAWN_ACTION_WITHDRAW, 1, NULL);
        assert_string_equal(t, "DAWN A17 WITHDRAWN: no longer applies to you.");
        free(t);
        dawn_alert_clear(&a);
}

/* ---- a report waiting for review ---- */

/* The scenario's batch as a partner reported it: pending, graded warning,
 * from the ambulance service. */
static void review_alert(struct dawn_alert *a)
{
        scenario_alert(a);
        a->status = DAWN_STATUS_PENDING;
        a->grade = DAWN_GRADE_WARNING;
        set_str(&a->summary, "Crew attended two overdoses at the same address in Shirley; both needed three "
                             "doses of naloxone. Patients said the heroin was new, from one dealer.");
        assert_int_equal(dawn_strv_add(&a->sources, "ambulance"), 0);
}

#define REVIEW_COMMANDS "dawnctl approve A17 or dawnctl reject A17 --reason TEXT"

static void test_review(void **state UNUSED)
{
        struct dawn_alert a;
        review_alert(&a);
        char *t = sms_checked(&a, DAWN_ACTION_REVIEW, 2, " " REVIEW_COMMANDS);
        assert_string_equal(t, "DAWN A17 REVIEW NEEDED: warning batch, heroin with nitazene, Southampton, reported "
                               "by ambulance. Crew attended two overdoses at the same address in Shirley; both "
                               "needed three doses of naloxone. Patients said the heroin was new, from one "
                               "dealer. " REVIEW_COMMANDS);
        assert_false(dawn_sms_measure(t).ucs2);
        free(t);

        /* in one part the summary is cut first; what, where and who stay whole */
        t = sms_checked(&a, DAWN_ACTION_REVIEW, 1, " " REVIEW_COMMANDS);
        assert_true(strncmp(t, "DAWN A17 REVIEW NEEDED: warning batch, heroin with nitazene, Southampton, "
                               "reported by ambulance. ", 97) == 0);
        assert_non_null(strstr(t, "... " REVIEW_COMMANDS));
        free(t);
        dawn_alert_clear(&a);
}

static void test_review_shapes(void **state UNUSED)
{
        /* a single overdose report, no substances, no summary, two sources */
        struct dawn_alert a;
        dawn_alert_init(&a);
        snprintf(a.id, sizeof(a.id), "A17");
        a.type = DAWN_TYPE_NFOD;
        a.area = strdup("isle-of-wight");
        a.grade = DAWN_GRADE_LOGGED;
        a.status = DAWN_STATUS_PENDING;
        a.revision = 1;
        assert_int_equal(dawn_strv_add(&a.sources, "ambulance"), 0);
        assert_int_equal(dawn_strv_add(&a.sources, "iow-hospital"), 0);
        char *t = sms_checked(&a, DAWN_ACTION_REVIEW, 2, NULL);
        assert_string_equal(t, "DAWN A17 REVIEW NEEDED: logged non-fatal overdose, Isle of Wight, reported by "
                               "ambulance and iow-hospital. " REVIEW_COMMANDS);
        free(t);

        /* a cluster with no known source (an officer's own report) */
        a.type = DAWN_TYPE_CLUSTER;
        a.grade = DAWN_GRADE_CRITICAL;
        dawn_strv_clear(&a.sources);
        assert_int_equal(dawn_strv_add(&a.adulterants, "xylazine"), 0);
        t = sms_checked(&a, DAWN_ACTION_REVIEW, 1, NULL);
        assert_string_equal(t, "DAWN A17 REVIEW NEEDED: critical overdose cluster, drugs with xylazine, Isle of "
                               "Wight. " REVIEW_COMMANDS);
        free(t);
        dawn_alert_clear(&a);
}

/* Long text everywhere: every part count fits, keeps the head and the
 * commands, and the summary goes before the headline is cut. */
static void test_review_long(void **state UNUSED)
{
        struct dawn_alert a;
        review_alert(&a);
        char summary[1001] = "";
        while (strlen(summary) + 40 < sizeof(summary))
                strcat(summary, "Two more overdoses reported tonight. ");
        set_str(&a.summary, summary);
        for (int max = 1; max <= 3; max++) {
                char *t = sms_checked(&a, DAWN_ACTION_REVIEW, max, "... " REVIEW_COMMANDS);
                assert_true(strncmp(t, "DAWN A17 REVIEW NEEDED: warning batch", 37) == 0);
                size_t room = max == 1 ? 160 : 153 * (size_t)max;
                assert_true(dawn_sms_measure(t).units > room - 40);
                free(t);
        }

        /* a headline too long for one part is cut, the commands stay */
        char *word = repeat("y", 100);
        for (int i = 0; i < 8; i++)
                dawn_strv_add(&a.sources, word);
        free(word);
        for (int max = 1; max <= 3; max++) {
                char *t = sms_checked(&a, DAWN_ACTION_REVIEW, max, "... " REVIEW_COMMANDS);
                assert_true(strncmp(t, "DAWN A17 REVIEW NEEDED: warning batch, heroin with nitazene", 59) == 0);
                free(t);
        }
        dawn_alert_clear(&a);
}

static void test_review_keeps_the_id_when_commands_cannot_fit(void **state UNUSED)
{
        /* dawnd's ids are short ASCII, but if one took the whole room the
         * commands go and the head stays: an SMS over the limit is worse */
        struct dawn_alert a;
        review_alert(&a);
        snprintf(a.id, sizeof(a.id), "%s", "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
                                             "\xd0\x96\xd0\x96\xd0\x96\xd0\x96"); /* 12 Cyrillic zhe: UCS-2 */
        char *t = sms_checked(&a, DAWN_ACTION_REVIEW, 1, NULL);
        assert_non_null(strstr(t, a.id));
        assert_true(strncmp(t, "DAWN \xd0\x96", 7) == 0);
        assert_null(strstr(t, "dawnctl"));
        free(t);
        dawn_alert_clear(&a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_measure_gsm_boundaries),
                cmocka_unit_test(test_measure_ucs2_boundaries),
                cmocka_unit_test(test_measure_one_character_switches_everything),
                cmocka_unit_test(test_measure_extension_counts_two),
                cmocka_unit_test(test_measure_basic_table),
                cmocka_unit_test(test_measure_not_gsm),
                cmocka_unit_test(test_measure_astral_counts_two),
                cmocka_unit_test(test_measure_invalid_utf8),
                cmocka_unit_test(test_scenario_alert),
                cmocka_unit_test(test_layout_of_other_alerts),
                cmocka_unit_test(test_summary_when_no_advice),
                cmocka_unit_test(test_long_advice_truncated),
                cmocka_unit_test(test_long_word_cut_at_characters),
                cmocka_unit_test(test_typography_made_gsm),
                cmocka_unit_test(test_lines_and_spaces_folded),
                cmocka_unit_test(test_c1_controls_folded),
                cmocka_unit_test(test_genuine_ucs2_stays),
                cmocka_unit_test(test_emoji_makes_ucs2),
                cmocka_unit_test(test_ucs2_only_in_the_cut_part),
                cmocka_unit_test(test_extension_characters_never_split),
                cmocka_unit_test(test_huge_headline_keeps_the_id),
                cmocka_unit_test(test_invalid_utf8_in_fields),
                cmocka_unit_test(test_max_segments_below_one),
                cmocka_unit_test(test_withdrawal),
                cmocka_unit_test(test_withdrawal_long_reason),
                cmocka_unit_test(test_withdrawal_without_reason),
                cmocka_unit_test(test_review),
                cmocka_unit_test(test_review_shapes),
                cmocka_unit_test(test_review_long),
                cmocka_unit_test(test_review_keeps_the_id_when_commands_cannot_fit),
        };
        return cmocka_run_group_tests_name("sms_text", tests, NULL, NULL);
}
