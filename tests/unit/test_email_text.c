/* The email text: headers that input cannot break, RFC 2047 subjects,
 * every field in the body, quoted-printable that decodes back, withdrawals,
 * and the notice that a partner's report waits for review. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email_text.h"

#define T_2026_11_23_182351 INT64_C(1795458231000000) /* Mon 23 Nov 2026 18:23:51 UTC */

static void alert_fill(struct dawn_alert *a)
{
        dawn_alert_init(a);
        snprintf(a->id, sizeof(a->id), "A17");
        a->type = DAWN_TYPE_BATCH;
        a->area = strdup("southampton");
        a->summary = strdup("Brown heroin sold around the city centre has caused several overdoses in two "
                            "days; paramedics needed repeated naloxone doses in three of them, which "
                            "points to a nitazene.");
        assert_int_equal(dawn_strv_add(&a->sold_as, "heroin"), 0);
        assert_int_equal(dawn_strv_add(&a->adulterants, "nitazene"), 0);
        a->appearance = strdup("brown powder in small blue bags");
        a->advice = strdup("Do not use alone. Carry naloxone. Start with a small test dose.");
        a->evidence = DAWN_EVIDENCE_TOXICOLOGY;
        a->casualties = 4;
        a->fatalities = 1;
        a->occurred_at = T_2026_11_23_182351 - INT64_C(86400000000);
        a->issued_at = T_2026_11_23_182351 - INT64_C(3600000000);
        a->updated_at = T_2026_11_23_182351;
        a->expires_at = T_2026_11_23_182351 + INT64_C(14) * 86400000000;
        a->revision = 1;
        a->status = DAWN_STATUS_ACTIVE;
        a->grade = DAWN_GRADE_CRITICAL;
        assert_int_equal(dawn_strv_add(&a->grade_reasons, "high-risk adulterant: nitazene"), 0);
        assert_int_equal(dawn_strv_add(&a->grade_reasons, "a death reported"), 0);
        assert_int_equal(dawn_strv_add(&a->sources, "portsmouth-ph"), 0);
        assert_int_equal(dawn_strv_add(&a->sources, "ambulance"), 0);
}

static const struct dawn_email_envelope ENV = {
        .from = "alerts@example.org",
        .to = "nights@booth-house.example",
        .reference = "A17-r1-55",
        .date_usec = T_2026_11_23_182351,
};

/* The header section: everything before the first empty line. */
static char *headers_of(const char *msg)
{
        const char *end = strstr(msg, "\r\n\r\n");
        assert_non_null(end);
        return strndup(msg, (size_t)(end - msg) + 2);
}

/* Every line ends in CRLF: no bare CR, no bare LF. */
static void assert_crlf_only(const char *s)
{
        for (const char *p = s; *p; p++) {
                if (*p == '\r')
                        assert_int_equal(p[1], '\n');
                if (*p == '\n')
                        assert_true(p > s && p[-1] == '\r');
        }
}

/* Header lines that start a field (not continuations): their names. */
static bool header_field_present(const char *headers, const char *name)
{
        size_t n = strlen(name);
        for (const char *line = headers; *line;) {
                if (strncasecmp(line, name, n) == 0 && line[n] == ':')
                        return true;
                const char *eol = strstr(line, "\r\n");
                if (!eol)
                        break;
                line = eol + 2;
        }
        return false;
}

static size_t max_line_len(const char *s)
{
        size_t max = 0;
        for (const char *line = s; *line;) {
                const char *eol = strstr(line, "\r\n");
                size_t n = eol ? (size_t)(eol - line) : strlen(line);
                if (n > max)
                        max = n;
                if (!eol)
                        break;
                line = eol + 2;
        }
        return max;
}

/* Quoted-printable decoding of the body after the header section. */
static char *qp_decode(const char *s)
{
        char *out = malloc(strlen(s) + 1), *o = out;
        assert_non_null(out);
        for (const char *p = s; *p;) {
                if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
                        p += 3;
                } else if (p[0] == '=') {
                        unsigned v;
                        assert_int_equal(sscanf(p + 1, "%2X", &v), 1);
                        *o++ = (char)v;
                        p += 3;
                } else {
                        *o++ = *p++;
                }
        }
        *o = '\0';
        return out;
}

static int b64val(char c)
{
        const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(tab, c);
        return p ? (int)(p - tab) : -1;
}

/* The decoded text of every =?UTF-8?B?...?= word in a header, concatenated. */
static char *decode_words(const char *h)
{
        char *out = calloc(1, strlen(h) + 1), *o = out;
        assert_non_null(out);
        const char *p = h;
        while ((p = strstr(p, "=?UTF-8?B?"))) {
                p += strlen("=?UTF-8?B?");
                const char *end = strstr(p, "?=");
                assert_non_null(end);
                unsigned acc = 0;
                int bits = 0;
                for (; p < end; p++) {
                        if (*p == '=')
                                continue;
                        int v = b64val(*p);
                        assert_true(v >= 0);
                        acc = (acc << 6) | (unsigned)v;
                        bits += 6;
                        if (bits >= 8) {
                                bits -= 8;
                                *o++ = (char)((acc >> bits) & 0xff);
                        }
                }
                p = end + 2;
        }
        return out;
}

/* The body with its line breaks and indentation made single spaces. */
static char *flatten(const char *body)
{
        char *out = malloc(strlen(body) + 1), *o = out;
        assert_non_null(out);
        for (const char *p = body; *p;) {
                if (*p == '\r' || *p == '\n' || *p == ' ') {
                        while (*p == '\r' || *p == '\n' || *p == ' ')
                                p++;
                        *o++ = ' ';
                } else {
                        *o++ = *p++;
                }
        }
        *o = '\0';
        return out;
}

static void test_subject(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        char *s = dawn_email_subject(&a, DAWN_ACTION_PUBLISH);
        assert_string_equal(s, "[DAWN CRITICAL] Dangerous batch in Southampton: heroin with nitazene (A17)");
        free(s);
        dawn_alert_clear(&a);
}

static void test_subject_shapes(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        a.revision = 3;
        a.grade = DAWN_GRADE_WARNING;
        a.type = DAWN_TYPE_CLUSTER;
        free(a.area);
        a.area = strdup("isle-of-wight");
        assert_int_equal(dawn_strv_add(&a.adulterants, "xylazine"), 0);
        assert_int_equal(dawn_strv_add(&a.sold_as, "crack"), 0);
        char *s = dawn_email_subject(&a, DAWN_ACTION_PUBLISH);
        assert_string_equal(s, "[DAWN WARNING] Overdose cluster in Isle of Wight: heroin/crack with nitazene "
                               "and xylazine (A17, update 2)");
        free(s);

        /* no substances: the summary, cut at a word */
        dawn_strv_clear(&a.sold_as);
        dawn_strv_clear(&a.adulterants);
        s = dawn_email_subject(&a, DAWN_ACTION_PUBLISH);
        assert_non_null(strstr(s, ": Brown heroin sold around"));
        assert_non_null(strstr(s, "... (A17, update 2)"));
        free(s);
        dawn_alert_clear(&a);
}

static void test_header_injection(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        /* the subject falls back to the summary when no substance is named */
        dawn_strv_clear(&a.sold_as);
        dawn_strv_clear(&a.adulterants);
        free(a.summary);
        a.summary = strdup("Bad batch\r\nBcc: x@y\r\n\r\nbody? \n.\nBcc: z@y\rX-Evil: 1");
        snprintf(a.id, sizeof(a.id), "A1\r\nBcc: q@r");
        struct dawn_email_envelope env = ENV;
        env.from = "alerts@example.org\r\nBcc: from@evil";
        env.to = "nights@booth-house.example\nBcc: to@evil";
        env.reference = "A1-r1-5>\r\nBcc: ref@evil";
        char *msg = dawn_email_message(&a, DAWN_ACTION_PUBLISH, &env);
        assert_non_null(msg);
        assert_crlf_only(msg);
        char *h = headers_of(msg);
        assert_false(header_field_present(h, "Bcc"));
        assert_false(header_field_present(h, "X-Evil"));
        /* every header line is a field or a continuation (starts with a space) */
        for (const char *line = h; *line;) {
                const char *eol = strstr(line, "\r\n");
                assert_non_null(eol);
                if (line[0] != ' ')
                        assert_non_null(memchr(line, ':', (size_t)(eol - line)));
                line = eol + 2;
        }
        /* the text is still there, in the Subject field, made harmless */
        char *flat = flatten(h);
        assert_non_null(strstr(flat, "Subject: [DAWN CRITICAL] Dangerous batch in Southampton: Bad batch "
                                     "Bcc: x@y body? . Bcc: z@y X-Evil: 1 (A1 Bcc: q@r) Message-ID:"));
        free(flat);
        assert_non_null(strstr(h, "To: nights@booth-house.example Bcc: to@evil\r\n"));
        assert_non_null(strstr(h, "Message-ID: <A1-r1-5___Bcc__ref_evil@dawn.invalid>\r\n"));
        free(h);
        free(msg);

        char *one = dawn_email_header("X-Test", "a\rb\nc\x01" "d\x7f" "e\xc2\x85" "f", false);
        assert_string_equal(one, "X-Test: a b c d e f\r\n");
        free(one);
        dawn_alert_clear(&a);
}

static void test_subject_encoding(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        dawn_strv_clear(&a.sold_as);
        assert_int_equal(dawn_strv_add(&a.sold_as, "héroïne"), 0);
        dawn_strv_clear(&a.adulterants);
        assert_int_equal(dawn_strv_add(&a.adulterants, "nitazène"), 0);
        assert_int_equal(dawn_strv_add(&a.adulterants, "“xylazine”"), 0);
        assert_int_equal(dawn_strv_add(&a.adulterants, "медетомидин"), 0);
        char *subject = dawn_email_subject(&a, DAWN_ACTION_PUBLISH);
        char *msg = dawn_email_message(&a, DAWN_ACTION_PUBLISH, &ENV);
        assert_non_null(msg);
        char *h = headers_of(msg);
        char *start = strstr(h, "Subject: =?UTF-8?B?");
        assert_non_null(start);
        /* the field runs up to the next line that does not start with a space */
        const char *end = start;
        do
                end = strstr(end, "\r\n") + 2;
        while (*end == ' ');
        char *field = strndup(start, (size_t)(end - start));
        /* no raw 8-bit byte in the header, lines within RFC 2047's 76 */
        for (const char *p = field; *p; p++)
                assert_true((unsigned char)*p < 0x80);
        assert_true(max_line_len(field) <= 76);
        assert_non_null(strstr(field, "\r\n =?UTF-8?B?")); /* it was long enough to fold */
        char *decoded = decode_words(field);
        assert_string_equal(decoded, subject);
        free(decoded);
        free(field);
        free(h);
        free(msg);
        free(subject);

        /* ASCII stays as it is */
        char *plain = dawn_email_header("Subject", "[DAWN INFO] plain", true);
        assert_string_equal(plain, "Subject: [DAWN INFO] plain\r\n");
        free(plain);
        dawn_alert_clear(&a);
}

static void test_body_fields(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        a.revision = 2;
        char *body = dawn_email_body(&a, DAWN_ACTION_PUBLISH);
        assert_non_null(body);
        assert_crlf_only(body);
        assert_true(max_line_len(body) <= 76);
        char *flat = flatten(body);
        const char *want[] = {
                "DAWN CRITICAL ALERT A17 (UPDATED)",
                "Dangerous batch in Southampton: heroin with nitazene",
                a.summary,
                "Advice: Do not use alone. Carry naloxone. Start with a small test dose.",
                "Type: Dangerous batch",
                "Area: Southampton (southampton)",
                "Grade: critical",
                "Why this grade: - high-risk adulterant: nitazene - a death reported",
                "Sold as: heroin",
                "Adulterants: nitazene",
                "Appearance: brown powder in small blue bags",
                "Evidence: toxicology",
                "Casualties: 4",
                "Fatalities: 1",
                "Occurred: Sun 22 Nov 2026 18:23 UTC",
                "Issued: Mon 23 Nov 2026 17:23 UTC",
                "Updated: Mon 23 Nov 2026 18:23 UTC",
                "Expires: Mon 7 Dec 2026 18:23 UTC",
                "Sources: 2",
                "Revision: 2",
                "Status: active",
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                if (!strstr(flat, want[i]))
                        fail_msg("body lacks \"%s\":\n%s", want[i], body);
        }
        /* the summary is longer than a line: it was wrapped, not cut */
        assert_null(strstr(body, a.summary));
        free(flat);
        free(body);
        dawn_alert_clear(&a);
}

static void test_message(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        free(a.advice);
        a.advice = strdup("Café staff: naloxone = life. A very long word: "
                          "https://example.org/a/very/long/path/that/goes/on/and/on/and/on/and/on/"
                          "past/the/margin");
        free(a.summary);
        a.summary = strdup("A line\n.\nwith a lone dot after it");
        char *msg = dawn_email_message(&a, DAWN_ACTION_PUBLISH, &ENV);
        assert_non_null(msg);
        assert_crlf_only(msg);
        char *h = headers_of(msg);
        const char *want[] = {
                "Date: Mon, 23 Nov 2026 18:23:51 +0000\r\n",
                "From: alerts@example.org\r\n",
                "To: nights@booth-house.example\r\n",
                "Subject: [DAWN CRITICAL] Dangerous batch in Southampton: heroin with nitazene\r\n (A17)\r\n",
                "Message-ID: <A17-r1-55@dawn.invalid>\r\n",
                "MIME-Version: 1.0\r\n",
                "Content-Type: text/plain; charset=utf-8\r\n",
                "Content-Transfer-Encoding: quoted-printable\r\n",
                "Auto-Submitted: auto-generated\r\n",
                "X-DAWN-Alert: A17\r\n",
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                if (!strstr(h, want[i]))
                        fail_msg("headers lack \"%s\":\n%s", want[i], h);
        assert_true(strncmp(msg, "Date: ", 6) == 0);
        /* the body is 7-bit, within 76 per line, and decodes to the text */
        const char *qp = strstr(msg, "\r\n\r\n") + 4;
        for (const char *p = qp; *p; p++)
                assert_true((unsigned char)*p < 0x80);
        assert_true(max_line_len(qp) <= 76);
        char *decoded = qp_decode(qp);
        char *body = dawn_email_body(&a, DAWN_ACTION_PUBLISH);
        assert_string_equal(decoded, body);
        assert_non_null(strstr(qp, "Caf=C3=A9 staff: naloxone =3D life."));
        /* the lone dot is left for libcurl to stuff */
        assert_non_null(strstr(decoded, "\r\n.\r\nwith a lone dot"));
        free(body);
        free(decoded);
        free(h);
        free(msg);
        dawn_alert_clear(&a);
}

static void test_withdraw(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        a.revision = 3;
        a.status = DAWN_STATUS_CANCELLED;
        a.cancel_reason = strdup("Toxicology found no nitazene in the samples.");
        char *s = dawn_email_subject(&a, DAWN_ACTION_WITHDRAW);
        assert_string_equal(s, "[DAWN] WITHDRAWN: A17 Dangerous batch in Southampton: heroin with nitazene");
        free(s);
        char *body = dawn_email_body(&a, DAWN_ACTION_WITHDRAW);
        char *flat = flatten(body);
        assert_true(strncmp(body, "DAWN: ALERT A17 WITHDRAWN\r\n", 27) == 0);
        assert_non_null(strstr(flat, "This alert has been cancelled."));
        assert_non_null(strstr(flat, "Reason: Toxicology found no nitazene in the samples."));
        assert_non_null(strstr(flat, "Status: cancelled"));
        assert_non_null(strstr(flat, "Cancelled: Toxicology found no nitazene"));
        assert_non_null(strstr(flat, "Revision: 3"));
        free(flat);
        free(body);

        a.status = DAWN_STATUS_EXPIRED;
        body = dawn_email_body(&a, DAWN_ACTION_WITHDRAW);
        assert_non_null(strstr(body, "This alert has expired."));
        free(body);

        /* an update that moved it out of this recipient's rules */
        a.status = DAWN_STATUS_ACTIVE;
        body = dawn_email_body(&a, DAWN_ACTION_WITHDRAW);
        flat = flatten(body);
        assert_non_null(strstr(flat, "no longer matches what you receive"));
        free(flat);
        free(body);

        struct dawn_email_envelope env = ENV;
        env.reference = "A17-r3-99";
        char *msg = dawn_email_message(&a, DAWN_ACTION_WITHDRAW, &env);
        assert_non_null(strstr(msg, "Subject: [DAWN] WITHDRAWN: A17 Dangerous batch in Southampton: "
                                    "heroin with\r\n nitazene\r\n"));
        assert_non_null(strstr(msg, "Message-ID: <A17-r3-99@dawn.invalid>\r\n"));
        free(msg);
        dawn_alert_clear(&a);
}

static void test_minimal_alert(void **state)
{
        (void)state;
        struct dawn_alert a;
        dawn_alert_init(&a);
        snprintf(a.id, sizeof(a.id), "N3");
        a.type = DAWN_TYPE_NFOD;
        a.area = strdup("portsmouth");
        a.grade = DAWN_GRADE_INFO;
        a.revision = 1;
        char *s = dawn_email_subject(&a, DAWN_ACTION_PUBLISH);
        assert_string_equal(s, "[DAWN INFO] Non-fatal overdose report in Portsmouth (N3)");
        free(s);
        char *msg = dawn_email_message(&a, DAWN_ACTION_PUBLISH, &ENV);
        assert_non_null(msg);
        assert_null(strstr(msg, "Casualties"));
        assert_null(strstr(msg, "Sold as"));
        free(msg);
        dawn_alert_clear(&a);
}

/* A partner's report in the review queue, as the public-health team is
 * told of it. */
static void test_review(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        a.status = DAWN_STATUS_PENDING;
        a.grade = DAWN_GRADE_WARNING;
        dawn_strv_clear(&a.sources);
        assert_int_equal(dawn_strv_add(&a.sources, "ambulance"), 0);
        assert_int_equal(dawn_strv_add(&a.sources, "iow-hospital"), 0);
        char *s = dawn_email_subject(&a, DAWN_ACTION_REVIEW);
        assert_string_equal(s, "[DAWN] Review needed: A17 Dangerous batch in Southampton: heroin with nitazene");
        free(s);

        char *body = dawn_email_body(&a, DAWN_ACTION_REVIEW);
        assert_non_null(body);
        assert_crlf_only(body);
        assert_true(max_line_len(body) <= 76);
        assert_true(strncmp(body, "DAWN: REPORT A17 NEEDS REVIEW\r\n", 31) == 0);
        char *flat = flatten(body);
        const char *want[] = {
                "Dangerous batch in Southampton: heroin with nitazene",
                "This report waits in the review queue. Nothing has been sent to subscribers",
                "Reported by: ambulance and iow-hospital",
                "Summary: Brown heroin sold around the city centre",
                "Advice (as reported): Do not use alone.",
                "Grade: warning",
                "Why this grade: - high-risk adulterant: nitazene",
                "Sold as: heroin",
                "Appearance: brown powder in small blue bags",
                "Casualties: 4",
                "Received: Mon 23 Nov 2026 17:23 UTC",
                "Status: pending",
                "To approve it, so that it goes out as an alert: dawnctl approve A17",
                "dawnctl reject A17 --reason TEXT",
                "dawnctl pending",
                "Replies are not read.",
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                if (!strstr(flat, want[i]))
                        fail_msg("review body lacks \"%s\":\n%s", want[i], body);
        /* not issued yet, so not called issued; and no alert-issuer signature */
        assert_null(strstr(flat, "Issued:"));
        assert_null(strstr(flat, "contact the public-health team that issued"));
        /* the commands come after the fields, the signature last */
        assert_true(strstr(flat, "Status: pending") < strstr(flat, "dawnctl approve A17"));
        assert_true(strstr(flat, "dawnctl pending") < strstr(flat, "-- Sent automatically"));
        free(flat);

        /* the whole message: the subject as a header, the body decodes back */
        struct dawn_email_envelope env = ENV;
        env.to = "duty@publichealth.example";
        env.reference = "A17-r1-7";
        char *msg = dawn_email_message(&a, DAWN_ACTION_REVIEW, &env);
        assert_non_null(msg);
        assert_crlf_only(msg);
        assert_non_null(strstr(msg, "Subject: [DAWN] Review needed: A17 Dangerous batch in Southampton: heroin "
                                    "with\r\n nitazene\r\n"));
        assert_non_null(strstr(msg, "Message-ID: <A17-r1-7@dawn.invalid>\r\n"));
        char *decoded = qp_decode(strstr(msg, "\r\n\r\n") + 4);
        assert_string_equal(decoded, body);
        free(decoded);
        free(msg);
        free(body);

        /* a report with no source named, no substances and no summary */
        dawn_strv_clear(&a.sources);
        dawn_strv_clear(&a.sold_as);
        dawn_strv_clear(&a.adulterants);
        free(a.summary);
        a.summary = NULL;
        a.type = DAWN_TYPE_NFOD;
        s = dawn_email_subject(&a, DAWN_ACTION_REVIEW);
        assert_string_equal(s, "[DAWN] Review needed: A17 Non-fatal overdose report in Southampton");
        free(s);
        body = dawn_email_body(&a, DAWN_ACTION_REVIEW);
        assert_non_null(body);
        assert_null(strstr(body, "Reported by"));
        assert_null(strstr(body, "Summary:"));
        assert_non_null(strstr(body, "  dawnctl approve A17\r\n"));
        free(body);
        dawn_alert_clear(&a);
}

/* A revision's message is rendered once and assembled per recipient (issue 12): each
 * recipient's message is byte for byte the one built whole for it, and nothing that is a
 * recipient's own (address, Message-ID, Date) is in the parts they share. */
static void test_render_once_assemble_per_recipient(void **state)
{
        (void)state;
        struct dawn_alert a;
        alert_fill(&a);
        struct dawn_email_rendered *r = dawn_email_render(&a, DAWN_ACTION_PUBLISH);
        assert_non_null(r);
        const char *to[] = { "nights@booth-house.example", "duty@st-marys.example" };
        const char *ref[] = { "A17-r1-101", "A17-r1-102" };
        for (size_t i = 0; i < 2; i++) {
                struct dawn_email_envelope env = ENV;
                env.to = to[i];
                env.reference = ref[i];
                env.date_usec = ENV.date_usec + (int64_t)i * 1000000;
                char *assembled = dawn_email_assemble(r, &env);
                char *whole_msg = dawn_email_message(&a, DAWN_ACTION_PUBLISH, &env);
                assert_non_null(assembled);
                assert_string_equal(assembled, whole_msg);
                assert_non_null(strstr(assembled, to[i]));
                assert_non_null(strstr(assembled, ref[i]));
                assert_null(strstr(r->subject, to[i]));
                assert_null(strstr(r->rest, to[i]));
                assert_null(strstr(r->rest, ref[i]));
                assert_null(strstr(r->rest, "Date:"));
                free(assembled);
                free(whole_msg);
        }
        assert_null(dawn_email_rendered_free(r));
        dawn_alert_clear(&a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subject),
                cmocka_unit_test(test_subject_shapes),
                cmocka_unit_test(test_header_injection),
                cmocka_unit_test(test_subject_encoding),
                cmocka_unit_test(test_body_fields),
                cmocka_unit_test(test_message),
                cmocka_unit_test(test_withdraw),
                cmocka_unit_test(test_minimal_alert),
                cmocka_unit_test(test_review),
                cmocka_unit_test(test_render_once_assemble_per_recipient),
        };
        return cmocka_run_group_tests_name("email_text", tests, NULL, NULL);
}
