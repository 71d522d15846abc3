/* Tests for daemon/delivery/cap.c: the CAP 1.2 mapping (grade, evidence and
 * status to urgency, severity, certainty and msgType), the references chain,
 * CAP's time format, identifiers, and that hostile text (markup, quotes,
 * control characters, invalid UTF-8) always makes a document that parses
 * and says the same. Documents are read back with libxml2's own parser;
 * the schema itself is checked by tests/integration/test_cap.sh (xmllint). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "cap.h"
#include "config.h"

#define T_2026_11_23_182351 INT64_C(1795458231000000) /* Mon 23 Nov 2026 18:23:51 UTC */
#define HOUR INT64_C(3600000000)
#define SENDER "dawn@hants.example.org"

static void alert_fill(struct dawn_alert *a, int revision, int64_t updated)
{
        dawn_alert_init(a);
        snprintf(a->id, sizeof(a->id), "A17");
        a->type = DAWN_TYPE_BATCH;
        a->area = strdup("southampton");
        a->summary = strdup("Brown heroin sold in the city centre contains a nitazene.");
        assert_int_equal(dawn_strv_add(&a->sold_as, "heroin"), 0);
        assert_int_equal(dawn_strv_add(&a->sold_as, "brown"), 0);
        assert_int_equal(dawn_strv_add(&a->adulterants, "nitazene"), 0);
        a->appearance = strdup("brown powder in small blue bags");
        a->advice = strdup("Do not use alone. Carry naloxone.");
        a->evidence = DAWN_EVIDENCE_TOXICOLOGY;
        a->casualties = 4;
        a->issued_at = T_2026_11_23_182351;
        a->updated_at = updated;
        a->expires_at = T_2026_11_23_182351 + INT64_C(14) * 24 * HOUR;
        a->revision = revision;
        a->status = DAWN_STATUS_ACTIVE;
        a->grade = DAWN_GRADE_CRITICAL;
        a->scope = DAWN_SCOPE_PUBLIC;
}

/* ---- reading a document back ---- */

struct doc {
        char *xml;
        size_t len;
        xmlDocPtr tree;
        xmlXPathContextPtr xp;
};

static void doc_parse(struct doc *d, const char *ns_prefix, const char *ns)
{
        d->tree = xmlReadMemory(d->xml, (int)d->len, "cap.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
        assert_non_null(d->tree);
        d->xp = xmlXPathNewContext(d->tree);
        assert_non_null(d->xp);
        assert_int_equal(xmlXPathRegisterNs(d->xp, BAD_CAST ns_prefix, BAD_CAST ns), 0);
}

static void write_doc(struct doc *d, const struct dawn_cap_doc *in)
{
        assert_int_equal(dawn_cap_write(in, &d->xml, &d->len), 0);
        assert_int_equal(strlen(d->xml), d->len);
        doc_parse(d, "c", "urn:oasis:names:tc:emergency:cap:1.2");
}

static void doc_free(struct doc *d)
{
        xmlXPathFreeContext(d->xp);
        xmlFreeDoc(d->tree);
        free(d->xml);
}

/* The text of the first node path finds (malloc'ed), NULL if none. */
static char *text_at(struct doc *d, const char *path)
{
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST path, d->xp);
        char *s = NULL;
        if (o && o->nodesetval && o->nodesetval->nodeNr > 0) {
                xmlChar *c = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
                s = strdup(c ? (const char *)c : "");
                xmlFree(c);
        }
        xmlXPathFreeObject(o);
        return s;
}

static int count_at(struct doc *d, const char *path)
{
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST path, d->xp);
        int n = o && o->nodesetval ? o->nodesetval->nodeNr : 0;
        xmlXPathFreeObject(o);
        return n;
}

static void assert_text(struct doc *d, const char *path, const char *want)
{
        char *got = text_at(d, path);
        if (!got || strcmp(got, want) != 0) {
                print_error("%s is '%s', expected '%s'\n", path, got ? got : "(none)", want);
                free(got);
                fail();
        }
        free(got);
}

/* ---- the mapping ---- */

static void test_mapping_table(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a, 1, T_2026_11_23_182351);
        static const struct {
                enum dawn_grade grade;
                const char *urgency, *severity;
        } rows[] = {
                { DAWN_GRADE_CRITICAL, "Immediate", "Extreme" },
                { DAWN_GRADE_WARNING, "Expected", "Severe" },
                { DAWN_GRADE_INFO, "Future", "Moderate" },
                { DAWN_GRADE_LOGGED, "Unknown", "Minor" },
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                a.grade = rows[i].grade;
                assert_string_equal(dawn_cap_urgency(&a), rows[i].urgency);
                assert_string_equal(dawn_cap_severity(rows[i].grade), rows[i].severity);
        }
        assert_string_equal(dawn_cap_certainty(DAWN_EVIDENCE_TOXICOLOGY), "Observed");
        assert_string_equal(dawn_cap_certainty(DAWN_EVIDENCE_CLINICAL), "Likely");
        assert_string_equal(dawn_cap_certainty(DAWN_EVIDENCE_REPORTED), "Possible");
        /* a revision that ends the alert is about the past, whatever the grade */
        a.grade = DAWN_GRADE_CRITICAL;
        a.status = DAWN_STATUS_CANCELLED;
        assert_string_equal(dawn_cap_urgency(&a), "Past");
        a.status = DAWN_STATUS_EXPIRED;
        assert_string_equal(dawn_cap_urgency(&a), "Past");
        /* msgType: the first revision seen, later ones, a cancellation */
        a.status = DAWN_STATUS_ACTIVE;
        assert_string_equal(dawn_cap_msg_type(&a, true), "Alert");
        assert_string_equal(dawn_cap_msg_type(&a, false), "Update");
        a.status = DAWN_STATUS_EXPIRED;
        assert_string_equal(dawn_cap_msg_type(&a, false), "Update");
        a.status = DAWN_STATUS_CANCELLED;
        assert_string_equal(dawn_cap_msg_type(&a, false), "Cancel");
        dawn_alert_clear(&a);
}

static void test_times(void **state)
{
        (void)state;
        char buf[32];
        assert_string_equal(dawn_cap_time(T_2026_11_23_182351, buf, sizeof(buf)), "2026-11-23T18:23:51+00:00");
        /* no fractional seconds: microseconds are dropped, not rounded */
        assert_string_equal(dawn_cap_time(T_2026_11_23_182351 + 999999, buf, sizeof(buf)),
                            "2026-11-23T18:23:51+00:00");
        assert_string_equal(dawn_cap_time(0, buf, sizeof(buf)), "1970-01-01T00:00:00+00:00");
        assert_string_equal(dawn_cap_time(-1, buf, sizeof(buf)), "");
        assert_string_equal(dawn_cap_time(T_2026_11_23_182351, buf, 10), "");
}

static void test_identifiers(void **state)
{
        (void)state;
        char buf[300];
        assert_int_equal(dawn_cap_identifier(SENDER, "A17", 2, buf, sizeof(buf)), 0);
        assert_string_equal(buf, SENDER ".A17.r2");
        assert_true(dawn_cap_valid_sender("dawn@example.org"));
        assert_true(dawn_cap_valid_sender("urn:oid:2.49.0.0.826.1"));
        const char *bad[] = { "", "dawn example", "dawn,example", "dawn<x>", "a&b", "tab\there", "caf\xc3\xa9" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_false(dawn_cap_valid_sender(bad[i]));
                assert_int_equal(dawn_cap_identifier(bad[i], "A17", 1, buf, sizeof(buf)), -EINVAL);
        }
        char longer[DAWN_CAP_SENDER_MAX + 2];
        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = '\0';
        assert_false(dawn_cap_valid_sender(longer));
        /* an id that would break the identifier's rules is refused, not written */
        assert_int_equal(dawn_cap_identifier(SENDER, "A 1", 1, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(dawn_cap_identifier(SENDER, "A,1", 1, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(dawn_cap_identifier(SENDER, "", 1, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(dawn_cap_identifier(SENDER, "A17", 1, buf, 8), -EINVAL);
}

/* ---- documents ---- */

static void test_first_revision(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a, 1, T_2026_11_23_182351);
        struct dawn_cap_doc in = { .sender = SENDER, .alert = &a, .area_name = "Southampton", .gss = "E06000045" };
        struct doc d;
        write_doc(&d, &in);
        assert_text(&d, "/c:alert/c:identifier", SENDER ".A17.r1");
        assert_text(&d, "/c:alert/c:sender", SENDER);
        assert_text(&d, "/c:alert/c:sent", "2026-11-23T18:23:51+00:00");
        assert_text(&d, "/c:alert/c:status", "Actual");
        assert_text(&d, "/c:alert/c:msgType", "Alert");
        assert_text(&d, "/c:alert/c:scope", "Public");
        assert_int_equal(count_at(&d, "/c:alert/c:restriction"), 0);
        assert_int_equal(count_at(&d, "/c:alert/c:references"), 0);
        assert_text(&d, "/c:alert/c:info/c:category", "Health");
        assert_text(&d, "/c:alert/c:info/c:urgency", "Immediate");
        assert_text(&d, "/c:alert/c:info/c:severity", "Extreme");
        assert_text(&d, "/c:alert/c:info/c:certainty", "Observed");
        assert_text(&d, "/c:alert/c:info/c:expires", "2026-12-07T18:23:51+00:00");
        assert_text(&d, "/c:alert/c:info/c:parameter[c:valueName='sold-as']/c:value", "heroin, brown");
        assert_text(&d, "/c:alert/c:info/c:parameter[c:valueName='adulterants']/c:value", "nitazene");
        assert_text(&d, "/c:alert/c:info/c:parameter[c:valueName='appearance']/c:value",
                    "brown powder in small blue bags");
        assert_text(&d, "/c:alert/c:info/c:parameter[c:valueName='evidence']/c:value", "toxicology");
        assert_text(&d, "/c:alert/c:info/c:instruction", "Do not use alone. Carry naloxone.");
        assert_text(&d, "/c:alert/c:info/c:area/c:areaDesc", "Southampton");
        assert_text(&d, "/c:alert/c:info/c:area/c:geocode/c:valueName", DAWN_CAP_GSS_VALUE_NAME);
        assert_text(&d, "/c:alert/c:info/c:area/c:geocode/c:value", "E06000045");
        doc_free(&d);

        /* no gss configured: no geocode; professional scope: Restricted, with its restriction */
        a.scope = DAWN_SCOPE_PROFESSIONAL;
        in.gss = NULL;
        write_doc(&d, &in);
        assert_int_equal(count_at(&d, "//c:geocode"), 0);
        assert_text(&d, "/c:alert/c:scope", "Restricted");
        assert_text(&d, "/c:alert/c:restriction", DAWN_CAP_RESTRICTION);
        doc_free(&d);
        dawn_alert_clear(&a);
}

static void test_references_chain(void **state)
{
        (void)state;
        struct dawn_alert r1, r2, r3;
        alert_fill(&r1, 1, T_2026_11_23_182351);
        alert_fill(&r2, 2, T_2026_11_23_182351 + HOUR + 250000);
        alert_fill(&r3, 3, T_2026_11_23_182351 + 2 * HOUR);
        r3.status = DAWN_STATUS_CANCELLED;
        r3.cancel_reason = strdup("Toxicology retracted.");
        struct doc d;

        struct dawn_cap_doc in = { .sender = SENDER, .alert = &r2, .prev = &r1, .area_name = "Southampton" };
        write_doc(&d, &in);
        assert_text(&d, "/c:alert/c:msgType", "Update");
        assert_text(&d, "/c:alert/c:identifier", SENDER ".A17.r2");
        assert_text(&d, "/c:alert/c:sent", "2026-11-23T19:23:51+00:00");
        assert_text(&d, "/c:alert/c:references", SENDER "," SENDER ".A17.r1,2026-11-23T18:23:51+00:00");
        doc_free(&d);

        in = (struct dawn_cap_doc){ .sender = SENDER, .alert = &r3, .prev = &r2, .area_name = "Southampton" };
        write_doc(&d, &in);
        assert_text(&d, "/c:alert/c:msgType", "Cancel");
        assert_text(&d, "/c:alert/c:references", SENDER "," SENDER ".A17.r2,2026-11-23T19:23:51+00:00");
        assert_text(&d, "/c:alert/c:note", "Cancelled: Toxicology retracted.");
        assert_text(&d, "/c:alert/c:info/c:urgency", "Past");
        assert_int_equal(count_at(&d, "//c:responseType"), 0);
        doc_free(&d);

        /* never served: a cancellation nobody saw an alert before (a rejected report),
         * and a pending revision */
        char *xml = (char *)1;
        size_t len = 1;
        in = (struct dawn_cap_doc){ .sender = SENDER, .alert = &r3, .area_name = "x" };
        assert_int_equal(dawn_cap_write(&in, &xml, &len), -EINVAL);
        assert_null(xml);
        r2.status = DAWN_STATUS_PENDING;
        in = (struct dawn_cap_doc){ .sender = SENDER, .alert = &r2, .prev = &r1, .area_name = "x" };
        assert_int_equal(dawn_cap_write(&in, &xml, &len), -EINVAL);
        in = (struct dawn_cap_doc){ .sender = "bad sender", .alert = &r1, .area_name = "x" };
        assert_int_equal(dawn_cap_write(&in, &xml, &len), -EINVAL);
        dawn_alert_clear(&r1);
        dawn_alert_clear(&r2);
        dawn_alert_clear(&r3);
}

static void test_hostile_text(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a, 1, T_2026_11_23_182351);
        free(a.summary);
        free(a.advice);
        free(a.appearance);
        /* markup, quotes, a CDATA end, C0 controls, invalid UTF-8, U+FFFF and a lone surrogate:
         * the store holds validated text, but a document must parse whatever it holds */
        a.summary = strdup("<&>\"' ]]> <script>x</script>\x01\x1b[31m bell\x07 \xff\xfe end \xef\xbf\xbf \xed\xa0\x80!");
        a.advice = strdup("line one\nline two\r\n\ttabbed <&>\"'");
        a.appearance = strdup("\x0c\x7f caf\xc3\xa9 \xf0\x9f\x92\x8a");
        struct dawn_cap_doc in = { .sender = SENDER, .alert = &a, .area_name = "Isle <of> & \"Wight\"" };
        struct doc d;
        write_doc(&d, &in);
        assert_text(&d, "/c:alert/c:info/c:description",
                    "<&>\"' ]]> <script>x</script>\xef\xbf\xbd\xef\xbf\xbd[31m bell\xef\xbf\xbd "
                    "\xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd \xef\xbf\xbd!");
        /* the headline is one line */
        char *h = text_at(&d, "/c:alert/c:info/c:headline");
        assert_non_null(h);
        assert_null(strchr(h, '\n'));
        assert_true(strncmp(h, "<&>\"' ]]> <script>", 18) == 0);
        free(h);
        /* line breaks survive where text is multiline (CR is written as &#13; and read back) */
        assert_text(&d, "/c:alert/c:info/c:instruction", "line one\nline two\r\n\ttabbed <&>\"'");
        assert_text(&d, "/c:alert/c:info/c:parameter[c:valueName='appearance']/c:value",
                    "\xef\xbf\xbd\x7f caf\xc3\xa9 \xf0\x9f\x92\x8a");
        assert_text(&d, "/c:alert/c:info/c:area/c:areaDesc", "Isle <of> & \"Wight\"");
        /* nothing of the markup is markup in the document */
        assert_null(strstr(d.xml, "<script>"));
        assert_null(strstr(d.xml, "\x01"));
        doc_free(&d);
        dawn_alert_clear(&a);
}

static void test_long_headline(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a, 1, T_2026_11_23_182351);
        free(a.summary);
        /* 200 two-byte characters: the headline stops within the limit, on a character boundary */
        a.summary = malloc(401);
        for (int i = 0; i < 200; i++)
                memcpy(a.summary + 2 * i, "\xc3\xa9", 2);
        a.summary[400] = '\0';
        struct dawn_cap_doc in = { .sender = SENDER, .alert = &a, .area_name = "Southampton" };
        struct doc d;
        write_doc(&d, &in);
        char *h = text_at(&d, "/c:alert/c:info/c:headline");
        assert_int_equal(strlen(h), 158);
        free(h);
        doc_free(&d);
        dawn_alert_clear(&a);
}

static void test_feed(void **state)
{
        (void)state;
        struct dawn_alert a, b;
        alert_fill(&a, 2, T_2026_11_23_182351);
        alert_fill(&b, 1, T_2026_11_23_182351 + HOUR);
        snprintf(b.id, sizeof(b.id), "A18");
        free(b.summary);
        b.summary = strdup("Tom & Jerry's <pills>");
        struct dawn_cap_entry e[] = { { &a, "/v1/cap/alerts/A17/2" }, { &b, "/v1/cap/alerts/A18/1" } };
        struct doc d;
        assert_int_equal(dawn_cap_feed(SENDER, "/v1/cap/feed.atom", e, 2, 0, &d.xml, &d.len), 0);
        doc_parse(&d, "a", "http://www.w3.org/2005/Atom");
        assert_int_equal(count_at(&d, "/a:feed/a:entry"), 2);
        assert_text(&d, "/a:feed/a:updated", "2026-11-23T19:23:51+00:00");
        assert_text(&d, "/a:feed/a:author/a:name", SENDER);
        assert_text(&d, "/a:feed/a:entry[1]/a:id", "urn:dawn:cap:" SENDER ".A17.r2");
        char *href = NULL;
        xmlXPathObjectPtr o = xmlXPathEvalExpression(
                BAD_CAST "/a:feed/a:entry[2]/a:link[@type='application/cap+xml']/@href", d.xp);
        assert_true(o && o->nodesetval && o->nodesetval->nodeNr == 1);
        xmlChar *c = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
        href = strdup((const char *)c);
        xmlFree(c);
        xmlXPathFreeObject(o);
        assert_string_equal(href, "/v1/cap/alerts/A18/1");
        free(href);
        assert_text(&d, "/a:feed/a:entry[2]/a:summary", "Tom & Jerry's <pills>");
        doc_free(&d);

        /* an empty feed is a feed, updated now */
        assert_int_equal(dawn_cap_feed(SENDER, "/v1/cap/feed.atom", NULL, 0, T_2026_11_23_182351, &d.xml, &d.len), 0);
        doc_parse(&d, "a", "http://www.w3.org/2005/Atom");
        assert_int_equal(count_at(&d, "/a:feed/a:entry"), 0);
        assert_text(&d, "/a:feed/a:updated", "2026-11-23T18:23:51+00:00");
        doc_free(&d);
        dawn_alert_clear(&a);
        dawn_alert_clear(&b);
}

/* ---- cap.sender in the configuration ---- */

#define CONF_BASE "areas = { south = { town = {}; }; };\nchannels = { mqtt = {}; };\n"

static void test_config_sender(void **state)
{
        (void)state;
        struct dawn_errors e = { 0 };
        struct dawn_config *c = NULL;
        assert_int_equal(dawn_config_load_string(CONF_BASE "cap = { sender = \"dawn@example.org\"; };\n", "t.conf",
                                                 &c, &e), 0);
        assert_string_equal(c->cap_sender, "dawn@example.org");
        dawn_config_free(c);
        /* the default: "dawn@" and the host name, always a valid sender */
        assert_int_equal(dawn_config_load_string(CONF_BASE, "t.conf", &c, &e), 0);
        assert_true(strncmp(c->cap_sender, "dawn@", 5) == 0);
        assert_true(dawn_cap_valid_sender(c->cap_sender));
        dawn_config_free(c);
        static const char *const bad[] = {
                "cap = { sender = \"dawn example.org\"; };", "cap = { sender = \"dawn,example.org\"; };",
                "cap = { sender = \"<dawn>\"; };", "cap = { sender = \"a&b\"; };", "cap = { sender = \"\"; };",
                "cap = { sender = \"caf\xc3\xa9@example.org\"; };", "cap = { sender = 1; };",
                "cap = { sendr = \"dawn@example.org\"; };",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char text[512];
                snprintf(text, sizeof(text), CONF_BASE "%s\n", bad[i]);
                c = (struct dawn_config *)1;
                assert_int_equal(dawn_config_load_string(text, "t.conf", &c, &e), -EINVAL);
                assert_null(c);
                assert_true(e.n > 0);
                if (!strstr(e.msgs[0], "cap.sen")) {
                        print_error("'%s' refused as '%s', not naming cap.sender\n", bad[i], e.msgs[0]);
                        fail();
                }
                dawn_errors_clear(&e);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mapping_table),
                cmocka_unit_test(test_times),
                cmocka_unit_test(test_identifiers),
                cmocka_unit_test(test_first_revision),
                cmocka_unit_test(test_references_chain),
                cmocka_unit_test(test_hostile_text),
                cmocka_unit_test(test_long_headline),
                cmocka_unit_test(test_feed),
                cmocka_unit_test(test_config_sender),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        xmlCleanupParser();
        return r;
}
