/* Tests for public text subscriptions (issue 13 part 2): the config
 * (public, area_details, sources[].publish), how JOIN and AREAS texts are
 * read, which area a JOIN names, and the public text itself, which must
 * carry only what is safe to send to anyone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "config.h"
#include "public.h"
#include "public_text.h"
#include "sms_callback.h"
#include "sms_text.h"

#define UNUSED __attribute__((unused))

#define AREAS "areas = { pan-hampshire = { southampton = {}; isle-of-wight = {}; }; };\n"

static struct dawn_config *load(const char *text, struct dawn_errors *e)
{
        struct dawn_config *c = NULL;
        dawn_config_load_string(text, "test.conf", &c, e);
        return c;
}

static struct dawn_config *load_ok(const char *text)
{
        struct dawn_errors e = { 0 };
        struct dawn_config *c = load(text, &e);
        for (size_t i = 0; i < e.n; i++)
                print_error("unexpected: %s\n", e.msgs[i]);
        assert_non_null(c);
        dawn_errors_clear(&e);
        return c;
}

/* the config is refused, and some message contains want */
static void assert_refused(const char *text, const char *want)
{
        struct dawn_errors e = { 0 };
        struct dawn_config *c = load(text, &e);
        assert_null(c);
        bool found = false;
        for (size_t i = 0; i < e.n; i++)
                found = found || strstr(e.msgs[i], want) != NULL;
        if (!found) {
                for (size_t i = 0; i < e.n; i++)
                        print_error("got: %s\n", e.msgs[i]);
                print_error("wanted a message with: %s\n", want);
                fail();
        }
        dawn_errors_clear(&e);
}

static void test_config_defaults(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS);
        assert_false(c->public_texts.enabled);
        assert_int_equal(c->public_texts.min_grade, DAWN_GRADE_WARNING);
        assert_int_equal(c->public_texts.max_subscribers, 10000);
        assert_int_equal(c->public_texts.max_joins_per_day, 5);
        char name[64];
        assert_string_equal(dawn_config_area_name(c, dawn_config_area_index(c, "isle-of-wight"), name, sizeof(name)),
                            "Isle of wight");
        assert_string_equal(dawn_config_area_name(c, 99, name, sizeof(name)), "");
        dawn_config_free(c);
}

static void test_config_public(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS
                "area_details = { southampton = { name = \"Southampton\"; gss = \"E06000045\"; };\n"
                "  isle-of-wight = { name = \"Isle of Wight\"; }; };\n"
                "public = { enabled = true; min_grade = \"critical\"; aliases = { soton = \"southampton\"; IoW = \"isle-of-wight\"; };\n"
                "  max_subscribers = 50; max_joins_per_day = 3; };\n"
                "sources = ( { id = \"uhs\"; role = \"issuer\"; publish = true; }, { id = \"amb\"; role = \"reporter\"; } );\n");
        assert_true(c->public_texts.enabled);
        assert_int_equal(c->public_texts.min_grade, DAWN_GRADE_CRITICAL);
        assert_int_equal(c->public_texts.max_subscribers, 50);
        assert_int_equal(c->public_texts.max_joins_per_day, 3);
        int soton = dawn_config_area_index(c, "southampton");
        assert_string_equal(c->areas[soton].gss, "E06000045");
        assert_true(dawn_config_source(c, "uhs")->publish);
        assert_false(dawn_config_source(c, "amb")->publish);
        dawn_config_free(c);
}

static void test_config_errors_name_the_field(void **state UNUSED)
{
        assert_refused(AREAS "public = { aliases = { soton = \"southhampton\"; }; };\n",
                       "public.aliases.soton: no area 'southhampton'");
        assert_refused(AREAS "public = { aliases = { soton = 3; }; };\n", "public.aliases.soton must be a string");
        assert_refused(AREAS "public = { aliases = { southampton = \"isle-of-wight\"; }; };\n", "already an area id");
        assert_refused(AREAS "public = { min_grade = \"logged\"; };\n", "public.min_grade");
        assert_refused(AREAS "public = { max_joins_per_day = 0; };\n", "public.max_joins_per_day");
        assert_refused(AREAS "public = { colour = 1; };\n", "unknown key 'public.colour'");
        assert_refused(AREAS "area_details = { leeds = { name = \"Leeds\"; }; };\n",
                       "area_details.leeds: no area 'leeds'");
        assert_refused(AREAS "area_details = { southampton = { gss = \"X06000045\"; }; };\n",
                       "area_details.southampton.gss: 'X06000045' is not an ONS GSS code");
        assert_refused(AREAS "area_details = { southampton = { gss = \"E0600004\"; }; };\n", "not an ONS GSS code");
        assert_refused(AREAS "area_details = { southampton = { name = \"\"; }; };\n",
                       "area_details.southampton.name must not be empty");
        assert_refused(AREAS "channels = { mqtt = {}; };\n"
                             "subscribers = ( { id = \"public\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; } );\n",
                       "subscribers[0].id: 'public' is reserved");
        assert_refused(AREAS "sources = ( { id = \"amb\"; role = \"reporter\"; publish = true; } );\n",
                       "sources[0].publish: only an issuer may publish");
}

static void test_public_area_lookup(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS
                "area_details = { isle-of-wight = { name = \"Isle of Wight\"; }; };\n"
                "public = { enabled = true; aliases = { soton = \"southampton\"; }; };\n");
        int soton = dawn_config_area_index(c, "southampton");
        int iow = dawn_config_area_index(c, "isle-of-wight");
        assert_int_equal(dawn_config_public_area(c, "southampton"), soton);
        assert_int_equal(dawn_config_public_area(c, "SOTON"), soton);
        assert_int_equal(dawn_config_public_area(c, "Southampton"), soton);
        assert_int_equal(dawn_config_public_area(c, "isle of wight"), iow);
        assert_int_equal(dawn_config_public_area(c, "Isle  Of WIGHT"), iow);
        assert_int_equal(dawn_config_public_area(c, "isle-of-wight"), iow);
        assert_int_equal(dawn_config_public_area(c, "pan hampshire"), dawn_config_area_index(c, "pan-hampshire"));
        assert_int_equal(dawn_config_public_area(c, "isle of"), -1);
        assert_int_equal(dawn_config_public_area(c, "leeds"), -1);
        assert_int_equal(dawn_config_public_area(c, ""), -1);
        char buf[200];
        dawn_public_areas_reply(c, buf, sizeof(buf));
        assert_string_equal(buf, "DAWN: text JOIN and one of: Pan hampshire, Southampton, Isle of Wight. "
                                 "Reply STOP to leave.");
        /* a list longer than sms.max_segments allows is cut, and says so */
        {
                char conf[4096];
                size_t k = (size_t)snprintf(conf, sizeof(conf), "areas = { region = {");
                for (int i = 0; i < 40; i++)
                        k += (size_t)snprintf(conf + k, sizeof(conf) - k, " town-number-%02d = {};", i);
                snprintf(conf + k, sizeof(conf) - k, " }; };\npublic = { enabled = true; };\n");
                struct dawn_config *many = load_ok(conf);
                char big[480];
                dawn_public_areas_reply(many, big, sizeof(big));
                assert_true(dawn_sms_measure(big).segments <= 2);
                assert_non_null(strstr(big, "Town number 00, "));
                assert_non_null(strstr(big, " and more (JOIN and your town's name). Reply STOP to leave."));
                dawn_config_free(many);
        }
        /* a reply too small for the list still ends properly */
        dawn_public_areas_reply(c, buf, 70);
        assert_non_null(strstr(buf, "Reply STOP to leave."));
        dawn_config_free(c);
}

static void test_parse_join_and_areas(void **state UNUSED)
{
        struct dawn_sms_reply r;
        dawn_sms_reply_parse("JOIN soton", &r);
        assert_int_equal(r.kind, DAWN_REPLY_JOIN);
        assert_string_equal(r.area, "soton");
        dawn_sms_reply_parse("  join   Isle of  Wight. ", &r);
        assert_int_equal(r.kind, DAWN_REPLY_JOIN);
        assert_string_equal(r.area, "Isle of Wight");
        dawn_sms_reply_parse("Join: pan-hampshire!", &r);
        assert_int_equal(r.kind, DAWN_REPLY_JOIN);
        assert_string_equal(r.area, "pan hampshire");
        dawn_sms_reply_parse("join", &r);
        assert_int_equal(r.kind, DAWN_REPLY_JOIN);
        assert_string_equal(r.area, "");
        char longer[300];
        memset(longer, 'a', sizeof(longer));
        memcpy(longer, "JOIN ", 5);
        longer[sizeof(longer) - 1] = '\0';
        dawn_sms_reply_parse(longer, &r);
        assert_int_equal(r.kind, DAWN_REPLY_JOIN);
        assert_string_equal(r.area, "");
        dawn_sms_reply_parse("areas", &r);
        assert_int_equal(r.kind, DAWN_REPLY_AREAS);
        dawn_sms_reply_parse("AREAS?", &r);
        assert_int_equal(r.kind, DAWN_REPLY_AREAS);
        dawn_sms_reply_parse("joined", &r);
        assert_int_equal(r.kind, DAWN_REPLY_OTHER);
        dawn_sms_reply_parse("STOP", &r);
        assert_int_equal(r.kind, DAWN_REPLY_STOP);
}

static void strv_add(struct dawn_strv *v, const char *s)
{
        assert_int_equal(dawn_strv_add(v, s), 0);
}

static void sample(struct dawn_alert *a)
{
        dawn_alert_init(a);
        snprintf(a->id, sizeof(a->id), "A17");
        a->revision = 1;
        a->status = DAWN_STATUS_ACTIVE;
        a->grade = DAWN_GRADE_CRITICAL;
        a->scope = DAWN_SCOPE_PUBLIC;
        a->area = strdup("southampton");
        a->summary = strdup("Heroin in Southampton contains a nitazene.");
        a->appearance = strdup("light brown powder, blue cling film");
        a->advice = strdup("Do not use alone; carry naloxone.");
        a->casualties = 4;
        a->fatalities = 1;
        strv_add(&a->sold_as, "heroin");
        strv_add(&a->adulterants, "nitazene");
        strv_add(&a->sources, "uhs-toxicology");
        strv_add(&a->grade_reasons, "high-risk adulterant: nitazene");
}

static void test_public_text_is_safe(void **state UNUSED)
{
        struct dawn_alert a;
        sample(&a);
        char *t = dawn_public_text(&a, DAWN_ACTION_PUBLISH, 2);
        assert_non_null(t);
        assert_string_equal(t, "DAWN drug alert A17: Heroin in Southampton contains a nitazene. Sold as heroin, found: "
                               "nitazene. Looks like: light brown powder, blue cling film. Do not use alone; carry "
                               "naloxone. Reply STOP to leave.");
        /* never who reported it, how many were harmed, or why it was graded so */
        assert_null(strstr(t, "uhs"));
        assert_null(strstr(t, "4"));
        assert_null(strstr(t, "death"));
        assert_null(strstr(t, "high-risk"));
        assert_null(strstr(t, "CRITICAL"));
        free(t);
        a.revision = 2;
        t = dawn_public_text(&a, DAWN_ACTION_PUBLISH, 2);
        assert_true(strncmp(t, "DAWN drug alert A17 update: ", 28) == 0);
        free(t);
        a.cancel_reason = strdup("Lab retest found no nitazene.");
        t = dawn_public_text(&a, DAWN_ACTION_WITHDRAW, 2);
        assert_string_equal(t, "DAWN drug alert A17 withdrawn: Lab retest found no nitazene. Reply STOP to leave.");
        free(t);
        dawn_alert_clear(&a);
}

static void test_public_text_fits(void **state UNUSED)
{
        struct dawn_alert a;
        sample(&a);
        free(a.summary);
        free(a.advice);
        a.summary = malloc(901);
        a.advice = malloc(901);
        memset(a.summary, 's', 900);
        memset(a.advice, 'v', 900);
        a.summary[900] = a.advice[900] = '\0';
        for (int parts = 1; parts <= 3; parts++) {
                char *t = dawn_public_text(&a, DAWN_ACTION_PUBLISH, parts);
                assert_non_null(t);
                assert_true(dawn_sms_measure(t).segments <= parts);
                assert_non_null(strstr(t, "A17"));
                assert_non_null(strstr(t, DAWN_PUBLIC_TEXT_LEAVE));
                /* the appearance goes first */
                assert_null(strstr(t, "Looks like"));
                free(t);
        }
        dawn_alert_clear(&a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_defaults),
                cmocka_unit_test(test_config_public),
                cmocka_unit_test(test_config_errors_name_the_field),
                cmocka_unit_test(test_public_area_lookup),
                cmocka_unit_test(test_parse_join_and_areas),
                cmocka_unit_test(test_public_text_is_safe),
                cmocka_unit_test(test_public_text_fits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
