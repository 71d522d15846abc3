/* Tests for channels.sms.sender_prefix in the SMS budget (issue 14): the
 * "DAWN: " that Notify (its service name) or DAWN (Twilio) puts before every
 * text counts in max_segments, in the text's own encoding; and for the
 * channel pause's description (pause.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "pause.h"
#include "sms_text.h"

#define UNUSED __attribute__((unused))

static void long_alert(struct dawn_alert *a)
{
        dawn_alert_init(a);
        a->type = DAWN_TYPE_BATCH;
        a->area = strdup("southampton");
        assert_int_equal(dawn_strv_add(&a->sold_as, "heroin"), 0);
        assert_int_equal(dawn_strv_add(&a->adulterants, "nitazene"), 0);
        a->evidence = DAWN_EVIDENCE_TOXICOLOGY;
        a->casualties = 4;
        /* no clause marks: the advice is cut at a word, so the text fills its parts
         * to within a few characters and a prefix not counted would overflow them */
        char advice[1201] = "";
        while (strlen(advice) + 80 < sizeof(advice))
                strcat(advice, "carry naloxone never use alone try a small amount first stay with a friend ");
        a->advice = strdup(advice);
        a->summary = strdup("Heroin in Southampton contains a nitazene.");
        snprintf(a->id, sizeof(a->id), "A17");
        a->revision = 1;
        a->grade = DAWN_GRADE_CRITICAL;
}

static int parts_with(const char *prefix, const char *text)
{
        char whole[2048];
        snprintf(whole, sizeof(whole), "%s%s", prefix, text);
        return dawn_sms_measure(whole).segments;
}

/* A text that would fill its parts leaves room for the prefix: a 2-part
 * text stays 2 parts on the handset, not 3. */
static void test_prefix_counted_in_the_budget(void **state UNUSED)
{
        struct dawn_alert a;
        long_alert(&a);
        int overflowed = 0;
        for (int max = 1; max <= 6; max++) {
                char *plain = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, max);
                char *fitted = dawn_sms_text_prefixed(&a, DAWN_ACTION_PUBLISH, max, "DAWN: ");
                assert_non_null(plain);
                assert_non_null(fitted);
                /* without counting it, the prefix would push the long text over */
                overflowed += parts_with("DAWN: ", plain) > max;
                assert_true(parts_with("DAWN: ", fitted) <= max);
                /* the prefix is not in the text: its sender puts it there */
                assert_true(strncmp(fitted, "DAWN: ", 6) != 0);
                /* and it costs only its own length */
                assert_true(strlen(fitted) + 6 + 40 >= strlen(plain));
                free(plain);
                free(fitted);
        }
        assert_true(overflowed >= 3);
        dawn_alert_clear(&a);
}

/* A prefix outside GSM-7 turns the whole text into UCS-2 (70 / 67 a part):
 * measured together, the text is fitted in that encoding. */
static void test_prefix_in_ucs2(void **state UNUSED)
{
        struct dawn_alert a;
        long_alert(&a);
        char *t = dawn_sms_text_prefixed(&a, DAWN_ACTION_PUBLISH, 3, "ДАВН: ");
        assert_non_null(t);
        char whole[2048];
        snprintf(whole, sizeof(whole), "ДАВН: %s", t);
        struct dawn_sms_size m = dawn_sms_measure(whole);
        assert_true(m.ucs2);
        assert_true(m.segments <= 3);
        assert_true(m.units > 67 * 3 - 45); /* still uses most of the room */
        free(t);
        /* none, or an empty one, is the plain text */
        char *plain = dawn_sms_text(&a, DAWN_ACTION_PUBLISH, 2);
        char *none = dawn_sms_text_prefixed(&a, DAWN_ACTION_PUBLISH, 2, NULL);
        char *empty = dawn_sms_text_prefixed(&a, DAWN_ACTION_PUBLISH, 2, "");
        assert_string_equal(plain, none);
        assert_string_equal(plain, empty);
        free(plain);
        free(none);
        free(empty);
        dawn_alert_clear(&a);
}

/* Withdrawals and review notices get the same budget. */
static void test_prefix_for_every_action(void **state UNUSED)
{
        struct dawn_alert a;
        long_alert(&a);
        const enum dawn_delivery_action actions[] = { DAWN_ACTION_PUBLISH, DAWN_ACTION_WITHDRAW, DAWN_ACTION_REVIEW };
        for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
                char *t = dawn_sms_text_prefixed(&a, actions[i], 1, "Hampshire drug alerts: ");
                assert_non_null(t);
                assert_true(parts_with("Hampshire drug alerts: ", t) <= 1);
                assert_non_null(strstr(t, "A17"));
                free(t);
        }
        dawn_alert_clear(&a);
}

static void test_pause_described(void **state UNUSED)
{
        char buf[256];
        struct dawn_channel_pause p = { .reason = DAWN_PAUSE_CREDENTIALS, .since = 1796526440000000 };
        dawn_pause_describe(&p, buf, sizeof(buf));
        assert_string_equal(buf, "paused: the provider refused our credentials since 2026-12-06T03:07:20Z");
        assert_string_equal(dawn_pause_delivery_error(p.reason), "channel paused: the provider refused our credentials");
        p = (struct dawn_channel_pause){ .reason = DAWN_PAUSE_RATE_LIMIT, .since = 1796526440000000,
                                         .until = 1796526442000000 };
        dawn_pause_describe(&p, buf, sizeof(buf));
        assert_string_equal(buf, "paused: the provider's rate limit since 2026-12-06T03:07:20Z until 2026-12-06T03:07:22Z");
        assert_string_equal(dawn_pause_reason_name(DAWN_PAUSE_RATE_LIMIT), "rate_limit");
        assert_string_equal(dawn_pause_reason_name(DAWN_PAUSE_CREDENTIALS), "credentials");
        assert_null(dawn_pause_delivery_error(DAWN_PAUSE_NONE));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_prefix_counted_in_the_budget),
                cmocka_unit_test(test_prefix_in_ucs2),
                cmocka_unit_test(test_prefix_for_every_action),
                cmocka_unit_test(test_pause_described),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
