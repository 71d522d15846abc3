/* Tests for daemon/intake/route.c: who hears of an alert. An alert for area A
 * reaches subscribers of A, of the areas above A and of the areas below A,
 * never of a sibling; each subscriber's types and min_grade filter it; a
 * logged alert goes nowhere; and the MQTT topics are the ones SPEC.md names. */
#include "dawn_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "route.h"

/*   pan-hampshire
 *   ├── southampton      booth-house (hostel), night-shelter (hostel, critical only)
 *   ├── portsmouth       fratton-pharmacy
 *   └── hampshire        hants-outreach (all types)
 *       ├── fareham      fareham-pharmacy
 *       └── gosport
 *   pan-hampshire itself: recovery-service (treatment), ph-duty-officer (public-health, all types)
 */
static const char config_text[] =
        "areas = { pan-hampshire = { southampton = {}; portsmouth = {};\n"
        "                            hampshire = { fareham = {}; gosport = {}; }; }; };\n"
        "channels = { mqtt = { topic_prefix = \"test/dawn\"; }; };\n"
        "subscribers = (\n"
        "  { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; },\n"
        "  { id = \"night-shelter\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; min_grade = \"critical\"; },\n"
        "  { id = \"fratton-pharmacy\"; kind = \"pharmacy\"; area = \"portsmouth\"; mqtt = true; },\n"
        "  { id = \"hants-outreach\"; kind = \"outreach\"; area = \"hampshire\"; mqtt = true;\n"
        "    types = [ \"batch\", \"cluster\", \"nfod\" ]; },\n"
        "  { id = \"fareham-pharmacy\"; kind = \"pharmacy\"; area = \"fareham\"; mqtt = true; },\n"
        "  { id = \"recovery-service\"; kind = \"treatment\"; area = \"pan-hampshire\"; mqtt = true; },\n"
        "  { id = \"ph-duty-officer\"; kind = \"public-health\"; area = \"pan-hampshire\"; mqtt = true;\n"
        "    types = [ \"batch\", \"cluster\", \"nfod\" ]; }\n"
        ");\n";

static int group_setup(void **state UNUSED)
{
        return dawn_test_config_load(config_text);
}

/* ---- helpers ---- */

static void print_route(const struct dawn_route *r)
{
        print_error("route of %zu:\n", r->n);
        for (size_t i = 0; i < r->n; i++)
                print_error("  '%s' (%s) %s %s\n", r->v[i].subscriber, r->v[i].kind,
                            dawn_channel_name(r->v[i].channel), r->v[i].recipient);
}

static void route(const char *area, enum dawn_type type, enum dawn_grade grade, struct dawn_route *r)
{
        assert_int_equal(dawn_route_alert(config, "A7", area, type, grade, r), 0);
}

/* The subscribers routed to (the area feed left out), in config order, are
 * exactly the NULL-terminated list given. */
static void assert_subscribers(const struct dawn_route *r, ...)
{
        va_list ap;
        const char *want;
        size_t i = 0;

        va_start(ap, r);
        while ((want = va_arg(ap, const char *))) {
                while (i < r->n && strcmp(r->v[i].subscriber, DAWN_AREA_FEED) == 0)
                        i++;
                if (i >= r->n || strcmp(r->v[i].subscriber, want) != 0) {
                        print_error("expected subscriber %s\n", want);
                        print_route(r);
                        va_end(ap);
                        fail();
                }
                i++;
        }
        va_end(ap);
        while (i < r->n && strcmp(r->v[i].subscriber, DAWN_AREA_FEED) == 0)
                i++;
        if (i != r->n) {
                print_error("unexpected subscriber %s\n", r->v[i].subscriber);
                print_route(r);
                fail();
        }
}

static const struct dawn_route_target *find_target(const struct dawn_route *r, const char *subscriber)
{
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->v[i].subscriber, subscriber) == 0)
                        return &r->v[i];
        return NULL;
}

static bool reaches(const char *subscriber, const char *area, enum dawn_type type, enum dawn_grade grade)
{
        struct dawn_route r;
        route(area, type, grade, &r);
        bool found = find_target(&r, subscriber) != NULL;
        dawn_route_clear(&r);
        return found;
}

/* ---- the area tree ---- */

static void test_same_area_and_ancestors_hear(void **state UNUSED)
{
        struct dawn_route r;
        route("southampton", DAWN_TYPE_BATCH, DAWN_GRADE_WARNING, &r);
        /* southampton itself, and pan-hampshire above it; not portsmouth, not hampshire's subtree */
        assert_subscribers(&r, "booth-house", "recovery-service", "ph-duty-officer", NULL);
        dawn_route_clear(&r);
}

static void test_descendants_hear_an_alert_for_the_whole_area(void **state UNUSED)
{
        struct dawn_route r;
        route("pan-hampshire", DAWN_TYPE_BATCH, DAWN_GRADE_WARNING, &r);
        assert_subscribers(&r, "booth-house", "fratton-pharmacy", "hants-outreach", "fareham-pharmacy",
                           "recovery-service", "ph-duty-officer", NULL);
        dawn_route_clear(&r);
}

static void test_sibling_areas_do_not_hear(void **state UNUSED)
{
        assert_false(reaches("fratton-pharmacy", "southampton", DAWN_TYPE_BATCH, DAWN_GRADE_CRITICAL));
        assert_false(reaches("booth-house", "portsmouth", DAWN_TYPE_BATCH, DAWN_GRADE_CRITICAL));
        /* a cousin neither: fareham is under hampshire, southampton is not */
        assert_false(reaches("booth-house", "fareham", DAWN_TYPE_BATCH, DAWN_GRADE_CRITICAL));
        assert_false(reaches("fareham-pharmacy", "gosport", DAWN_TYPE_BATCH, DAWN_GRADE_CRITICAL));
}

static void test_grandparent_and_parent_hear_a_fareham_alert(void **state UNUSED)
{
        struct dawn_route r;
        route("fareham", DAWN_TYPE_BATCH, DAWN_GRADE_WARNING, &r);
        assert_subscribers(&r, "hants-outreach", "fareham-pharmacy", "recovery-service", "ph-duty-officer", NULL);
        dawn_route_clear(&r);
}

static void test_middle_area_reaches_up_and_down(void **state UNUSED)
{
        struct dawn_route r;
        route("hampshire", DAWN_TYPE_BATCH, DAWN_GRADE_WARNING, &r);
        assert_subscribers(&r, "hants-outreach", "fareham-pharmacy", "recovery-service", "ph-duty-officer", NULL);
        dawn_route_clear(&r);
}

static void test_unknown_area_is_refused(void **state UNUSED)
{
        struct dawn_route r;
        assert_int_equal(dawn_route_alert(config, "A7", "narnia", DAWN_TYPE_BATCH, DAWN_GRADE_CRITICAL, &r), -EINVAL);
        assert_int_equal(r.n, 0);
        dawn_route_clear(&r);
}

/* ---- the subscriber's rules ---- */

static void test_types_filter(void **state UNUSED)
{
        /* booth-house takes the default types: batch and cluster */
        assert_true(reaches("booth-house", "southampton", DAWN_TYPE_CLUSTER, DAWN_GRADE_WARNING));
        assert_false(reaches("booth-house", "southampton", DAWN_TYPE_NFOD, DAWN_GRADE_WARNING));
        assert_true(reaches("ph-duty-officer", "southampton", DAWN_TYPE_NFOD, DAWN_GRADE_WARNING));
        assert_true(reaches("hants-outreach", "gosport", DAWN_TYPE_NFOD, DAWN_GRADE_WARNING));
}

static void test_min_grade_filter(void **state UNUSED)
{
        assert_false(reaches("night-shelter", "southampton", DAWN_TYPE_BATCH, DAWN_GRADE_WARNING));
        assert_true(reaches("night-shelter", "southampton", DAWN_TYPE_BATCH, DAWN_GRADE_CRITICAL));
        /* min_grade is "at least": warning subscribers hear critical alerts */
        assert_true(reaches("booth-house", "southampton", DAWN_TYPE_BATCH, DAWN_GRADE_CRITICAL));
}

static void test_info_reaches_public_health_only(void **state UNUSED)
{
        /* default min_grade: info for public-health, warning for every other kind */
        struct dawn_route r;
        route("pan-hampshire", DAWN_TYPE_BATCH, DAWN_GRADE_INFO, &r);
        assert_subscribers(&r, "ph-duty-officer", NULL);
        /* the area's own feed still carries it */
        assert_non_null(find_target(&r, DAWN_AREA_FEED));
        dawn_route_clear(&r);

        assert_int_equal(dawn_config_subscriber(config, "ph-duty-officer")->min_grade, DAWN_GRADE_INFO);
        assert_int_equal(dawn_config_subscriber(config, "recovery-service")->min_grade, DAWN_GRADE_WARNING);
        assert_int_equal(dawn_config_subscriber(config, "fratton-pharmacy")->min_grade, DAWN_GRADE_WARNING);
        assert_int_equal(dawn_config_subscriber(config, "hants-outreach")->min_grade, DAWN_GRADE_WARNING);
}

static void test_logged_goes_nowhere(void **state UNUSED)
{
        struct dawn_route r;
        route("southampton", DAWN_TYPE_NFOD, DAWN_GRADE_LOGGED, &r);
        /* not even the area feed */
        assert_int_equal(r.n, 0);
        dawn_route_clear(&r);
        route("pan-hampshire", DAWN_TYPE_BATCH, DAWN_GRADE_LOGGED, &r);
        assert_int_equal(r.n, 0);
        dawn_route_clear(&r);
}

static void test_subscriber_matches_directly(void **state UNUSED)
{
        const struct dawn_subscriber *s = dawn_config_subscriber(config, "hants-outreach");
        int fareham = dawn_config_area_index(config, "fareham");
        int portsmouth = dawn_config_area_index(config, "portsmouth");

        assert_true(dawn_route_subscriber_matches(config, s, fareham, DAWN_TYPE_BATCH, DAWN_GRADE_WARNING));
        assert_false(dawn_route_subscriber_matches(config, s, portsmouth, DAWN_TYPE_BATCH, DAWN_GRADE_WARNING));
        assert_false(dawn_route_subscriber_matches(config, s, fareham, DAWN_TYPE_BATCH, DAWN_GRADE_INFO));
        assert_false(dawn_route_subscriber_matches(config, s, fareham, DAWN_TYPE_NFOD, DAWN_GRADE_LOGGED));
}

/* ---- topics ---- */

static void test_area_feed_topic_is_the_area_path(void **state UNUSED)
{
        struct dawn_route r;
        route("fareham", DAWN_TYPE_BATCH, DAWN_GRADE_WARNING, &r);
        /* the area feed comes first, once */
        assert_true(r.n > 0);
        assert_string_equal(r.v[0].subscriber, DAWN_AREA_FEED);
        assert_string_equal(r.v[0].kind, "area-feed");
        assert_int_equal(r.v[0].channel, DAWN_CHANNEL_MQTT);
        assert_string_equal(r.v[0].recipient, "test/dawn/alerts/pan-hampshire/hampshire/fareham/A7");
        for (size_t i = 1; i < r.n; i++)
                assert_string_not_equal(r.v[i].subscriber, DAWN_AREA_FEED);
        dawn_route_clear(&r);

        route("pan-hampshire", DAWN_TYPE_BATCH, DAWN_GRADE_WARNING, &r);
        assert_string_equal(r.v[0].recipient, "test/dawn/alerts/pan-hampshire/A7");
        dawn_route_clear(&r);
}

static void test_subscriber_topic(void **state UNUSED)
{
        struct dawn_route r;
        route("fareham", DAWN_TYPE_BATCH, DAWN_GRADE_WARNING, &r);
        const struct dawn_route_target *t = find_target(&r, "hants-outreach");
        assert_non_null(t);
        assert_string_equal(t->kind, "outreach");
        assert_int_equal(t->channel, DAWN_CHANNEL_MQTT);
        assert_string_equal(t->recipient, "test/dawn/subscribers/hants-outreach/alerts/A7");
        dawn_route_clear(&r);
}

static void test_topic_builders(void **state UNUSED)
{
        char *t = dawn_route_area_topic(config, dawn_config_area_index(config, "gosport"), "A123");
        assert_string_equal(t, "test/dawn/alerts/pan-hampshire/hampshire/gosport/A123");
        free(t);
        t = dawn_route_subscriber_topic(config, "booth-house", "A123");
        assert_string_equal(t, "test/dawn/subscribers/booth-house/alerts/A123");
        free(t);
}

static void test_each_target_once(void **state UNUSED)
{
        struct dawn_route r;
        route("pan-hampshire", DAWN_TYPE_BATCH, DAWN_GRADE_CRITICAL, &r);
        /* 7 subscribers (each with one MQTT topic) and the area feed */
        assert_int_equal(r.n, 8);
        for (size_t i = 0; i < r.n; i++)
                for (size_t k = i + 1; k < r.n; k++)
                        assert_string_not_equal(r.v[i].recipient, r.v[k].recipient);
        dawn_route_clear(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_same_area_and_ancestors_hear),
                cmocka_unit_test(test_descendants_hear_an_alert_for_the_whole_area),
                cmocka_unit_test(test_sibling_areas_do_not_hear),
                cmocka_unit_test(test_grandparent_and_parent_hear_a_fareham_alert),
                cmocka_unit_test(test_middle_area_reaches_up_and_down),
                cmocka_unit_test(test_unknown_area_is_refused),
                cmocka_unit_test(test_types_filter),
                cmocka_unit_test(test_min_grade_filter),
                cmocka_unit_test(test_info_reaches_public_health_only),
                cmocka_unit_test(test_logged_goes_nowhere),
                cmocka_unit_test(test_subscriber_matches_directly),
                cmocka_unit_test(test_area_feed_topic_is_the_area_path),
                cmocka_unit_test(test_subscriber_topic),
                cmocka_unit_test(test_topic_builders),
                cmocka_unit_test(test_each_target_once),
        };
        return cmocka_run_group_tests_name("route", tests, group_setup, dawn_test_config_free);
}
