/* Tests for daemon/intake/sms_callback.c: what the SMS gateways post back. Secrets
 * compared in constant time, bearer headers, form bodies, Twilio's request
 * signature (against Twilio's own worked example and values computed
 * independently with Python's hmac module), Notify and Twilio delivery
 * receipts and received texts, the replies people send, and phone numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms_callback.h"
#include "outbox.h"

#define UNUSED __attribute__((unused))

/* ---- helpers ---- */

static struct dawn_form form_of(const char *body)
{
        struct dawn_form f;
        int r = dawn_form_parse(body, strlen(body), &f);
        if (r != 0) {
                print_error("'%s': form refused (%d)\n", body, r);
                fail();
        }
        return f;
}

static void assert_form_refused(const char *body, size_t len)
{
        struct dawn_form f = { (void *)1, 99 };
        int r = dawn_form_parse(body, len, &f);
        if (r != -EINVAL) {
                print_error("'%.*s': expected -EINVAL, got %d\n", (int)len, body, r);
                fail();
        }
        /* refused: nothing left to free */
        assert_null(f.v);
        assert_int_equal(f.n, 0);
}

static struct dawn_receipt notify_receipt_ok(const char *json)
{
        struct dawn_receipt rc;
        struct dawn_input_error err = { 0 };
        int r = dawn_receipt_parse_notify(json, strlen(json), &rc, &err);
        if (r != 0) {
                print_error("%s: refused: %s: %s\n", json, err.field, err.message);
                fail();
        }
        return rc;
}

/* Refused, naming field. */
static void assert_notify_receipt_refused(const char *json, const char *field)
{
        struct dawn_receipt rc;
        struct dawn_input_error err = { 0 };
        int r = dawn_receipt_parse_notify(json, strlen(json), &rc, &err);
        if (r != -EINVAL || strcmp(err.field, field) != 0) {
                print_error("%s: expected -EINVAL naming '%s', got %d naming '%s' (%s)\n", json, field, r,
                            err.field, err.message);
                fail();
        }
        assert_int_equal(rc.delivery_id, 0);
}

/* ---- dawn_secret_equal ---- */

static void test_secret_equal(void **state UNUSED)
{
        assert_true(dawn_secret_equal("s3cret-token-0123456789", "s3cret-token-0123456789"));
        assert_false(dawn_secret_equal("s3cret-token-0123456788", "s3cret-token-0123456789"));
        /* a prefix, or the secret with more after it, is not the secret */
        assert_false(dawn_secret_equal("s3cret", "s3cret-token-0123456789"));
        assert_false(dawn_secret_equal("s3cret-token-0123456789x", "s3cret-token-0123456789"));
        assert_false(dawn_secret_equal("S3CRET-TOKEN-0123456789", "s3cret-token-0123456789"));
}

static void test_secret_equal_null_and_empty(void **state UNUSED)
{
        assert_false(dawn_secret_equal(NULL, "secret"));
        assert_false(dawn_secret_equal("secret", NULL));
        assert_false(dawn_secret_equal(NULL, NULL));
        assert_false(dawn_secret_equal("", "secret"));
        /* a blank configured secret lets nobody in, not even a blank header */
        assert_false(dawn_secret_equal("", ""));
}

/* ---- dawn_bearer_token ---- */

static void test_bearer_token(void **state UNUSED)
{
        assert_string_equal(dawn_bearer_token("Bearer abc.def"), "abc.def");
        assert_string_equal(dawn_bearer_token("bearer abc"), "abc");
        assert_string_equal(dawn_bearer_token("BEARER abc"), "abc");
        assert_string_equal(dawn_bearer_token("Bearer    abc"), "abc");
}

static void test_bearer_token_refused(void **state UNUSED)
{
        assert_null(dawn_bearer_token(NULL));
        assert_null(dawn_bearer_token(""));
        assert_null(dawn_bearer_token("Bearer"));
        assert_null(dawn_bearer_token("Bearer "));
        assert_null(dawn_bearer_token("Bearer    "));
        assert_null(dawn_bearer_token("Bearerabc"));
        assert_null(dawn_bearer_token("Basic YWxhZGRpbjpvcGVuc2VzYW1l"));
        assert_null(dawn_bearer_token("Bear abc"));
        assert_null(dawn_bearer_token(" Bearer abc"));
}

/* ---- the form ---- */

static void test_form_parse(void **state UNUSED)
{
        struct dawn_form f = form_of("To=%2B447700900123&Body=Hello+there%21&From=+447700900000");
        assert_int_equal(f.n, 3);
        assert_string_equal(f.v[0].name, "To");
        assert_string_equal(f.v[0].value, "+447700900123");
        assert_string_equal(f.v[1].name, "Body");
        assert_string_equal(f.v[1].value, "Hello there!");
        /* a raw '+' is a space, as browsers send it */
        assert_string_equal(dawn_form_get(&f, "From"), " 447700900000");
        assert_null(dawn_form_get(&f, "to"));
        assert_null(dawn_form_get(&f, "Missing"));
        dawn_form_clear(&f);
        assert_int_equal(f.n, 0);
        assert_null(f.v);
        dawn_form_clear(&f); /* twice is harmless */
}

static void test_form_escapes(void **state UNUSED)
{
        /* both cases of hex digits, a UTF-8 character, an escaped '&', '=' and '%' */
        struct dawn_form f = form_of("a=%c3%A9&b=x%26y%3Dz&c=100%25&n%61me=v");
        assert_string_equal(dawn_form_get(&f, "a"), "\xc3\xa9");
        assert_string_equal(dawn_form_get(&f, "b"), "x&y=z");
        assert_string_equal(dawn_form_get(&f, "c"), "100%");
        assert_string_equal(dawn_form_get(&f, "name"), "v");
        dawn_form_clear(&f);
}

static void test_form_empty_values_and_pairs(void **state UNUSED)
{
        struct dawn_form f = form_of("&a=&b&&c==x&");
        assert_int_equal(f.n, 3);
        assert_string_equal(dawn_form_get(&f, "a"), "");
        assert_string_equal(dawn_form_get(&f, "b"), "");
        /* only the first '=' splits */
        assert_string_equal(dawn_form_get(&f, "c"), "=x");
        dawn_form_clear(&f);

        f = form_of("");
        assert_int_equal(f.n, 0);
        dawn_form_clear(&f);
}

static void test_form_repeated_name(void **state UNUSED)
{
        struct dawn_form f = form_of("x=1&x=2");
        assert_int_equal(f.n, 2);
        assert_string_equal(dawn_form_get(&f, "x"), "1");
        dawn_form_clear(&f);
}

static void test_form_length_is_explicit(void **state UNUSED)
{
        /* only len bytes are read: the rest is another request's */
        const char *body = "a=1&b=2";
        struct dawn_form f;
        assert_int_equal(dawn_form_parse(body, 3, &f), 0);
        assert_int_equal(f.n, 1);
        assert_string_equal(dawn_form_get(&f, "a"), "1");
        assert_null(dawn_form_get(&f, "b"));
        dawn_form_clear(&f);
        /* an escape cut by the length is a bad escape */
        assert_form_refused("a=%41", 4);
}

static void test_form_bad_escapes_refused(void **state UNUSED)
{
        assert_form_refused("a=%", 3);
        assert_form_refused("a=%4", 4);
        assert_form_refused("a=%zz", 5);
        assert_form_refused("a=%4g", 5);
        assert_form_refused("a=%%41", 6);
        assert_form_refused("%=1", 3);
        assert_form_refused("a=1&b=%G0", 9);
        assert_form_refused("a=% 1", 5);
}

static void test_form_nul_refused(void **state UNUSED)
{
        assert_form_refused("a=%00", 5);
        assert_form_refused("a%00b=1", 7);
        assert_form_refused("a=x\0y", 5);
}

static void test_form_empty_name_refused(void **state UNUSED)
{
        assert_form_refused("=1", 2);
        assert_form_refused("a=1&=2", 6);
        assert_form_refused("=", 1);
}

static void test_form_too_many_fields(void **state UNUSED)
{
        char body[DAWN_MAX_FORM_FIELDS * 8 + 16];
        size_t n = 0;
        for (int i = 0; i < DAWN_MAX_FORM_FIELDS; i++)
                n += (size_t)snprintf(body + n, sizeof(body) - n, "%sf%d=1", i ? "&" : "", i);
        struct dawn_form f;
        assert_int_equal(dawn_form_parse(body, n, &f), 0);
        assert_int_equal(f.n, DAWN_MAX_FORM_FIELDS);
        dawn_form_clear(&f);
        n += (size_t)snprintf(body + n, sizeof(body) - n, "&one=more");
        assert_form_refused(body, n);
}

static void test_form_get_null(void **state UNUSED)
{
        assert_null(dawn_form_get(NULL, "a"));
        struct dawn_form f = form_of("a=1");
        assert_null(dawn_form_get(&f, NULL));
        dawn_form_clear(&f);
        dawn_form_clear(NULL);
}

/* ---- Twilio's signature ---- */

/* Twilio's worked example (the "Webhooks security" page): auth token
 * 12345, that URL, those five parameters. The value also comes out of
 *   base64.b64encode(hmac.new(b"12345", (url + "".join(k + v for k, v in
 *   sorted(params))).encode(), hashlib.sha1).digest())
 * with /usr/bin/python3. */
#define EXAMPLE_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define EXAMPLE_BODY "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212"
#define EXAMPLE_SIGNATURE "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

/* A status callback as the test gateway sends it; the expected value from
 * /usr/bin/python3 as above, token "test-twilio-token". */
#define STATUS_URL "https://dawn.example.org/v1/callbacks/twilio/status?ref=A17-r2-345"
#define STATUS_BODY                                                                                 \
        "MessageSid=SM0123456789abcdef0123456789abcdef&SmsSid=SM0123456789abcdef0123456789abcdef" \
        "&AccountSid=AC0123456789abcdef0123456789abcdef&From=%2B447700900000&To=%2B447700900123"   \
        "&MessageStatus=delivered&SmsStatus=delivered&ApiVersion=2010-04-01"
#define STATUS_SIGNATURE "k2ff1hm8sAhDXM6pDsheT7O3sBo="

/* An incoming text with a space, a '&' and a non-ASCII letter in the
 * body: the signature is over the decoded values. Same token. */
#define INBOUND_URL "https://dawn.example.org/v1/callbacks/twilio/inbound"
#define INBOUND_BODY "Body=ack+a17.+caf%C3%A9+%26+more&From=%2B447700900123&To=%2B447700900000&MessageSid=SMabc&AccountSid=AC0123"
/* A MessageSid as Twilio writes them. */
#define SID "SM0123456789abcdef0123456789abcdef"
#define INBOUND_SIGNATURE "Cg3glwWkDyKs8BanL2YtrdxC43o="

static void test_twilio_signature_known_answers(void **state UNUSED)
{
        struct dawn_form f = form_of(EXAMPLE_BODY);
        char *sig = dawn_twilio_signature("12345", EXAMPLE_URL, &f);
        assert_non_null(sig);
        assert_string_equal(sig, EXAMPLE_SIGNATURE);
        free(sig);
        assert_true(dawn_twilio_signature_ok("12345", EXAMPLE_URL, &f, EXAMPLE_SIGNATURE));
        dawn_form_clear(&f);

        f = form_of(STATUS_BODY);
        sig = dawn_twilio_signature("test-twilio-token", STATUS_URL, &f);
        assert_string_equal(sig, STATUS_SIGNATURE);
        free(sig);
        assert_true(dawn_twilio_signature_ok("test-twilio-token", STATUS_URL, &f, STATUS_SIGNATURE));
        dawn_form_clear(&f);

        f = form_of(INBOUND_BODY);
        assert_true(dawn_twilio_signature_ok("test-twilio-token", INBOUND_URL, &f, INBOUND_SIGNATURE));
        dawn_form_clear(&f);
}

static void test_twilio_signature_field_order_irrelevant(void **state UNUSED)
{
        struct dawn_form f =
                form_of("To=%2B18005551212&Digits=1234&Caller=%2B12349013030&From=%2B12349013030&CallSid=CA1234567890ABCDE");
        assert_true(dawn_twilio_signature_ok("12345", EXAMPLE_URL, &f, EXAMPLE_SIGNATURE));
        dawn_form_clear(&f);
}

static void test_twilio_signature_wrong_refused(void **state UNUSED)
{
        struct dawn_form f = form_of(EXAMPLE_BODY);
        /* another token, URL, a changed or added parameter, a damaged signature */
        assert_false(dawn_twilio_signature_ok("12346", EXAMPLE_URL, &f, EXAMPLE_SIGNATURE));
        assert_false(dawn_twilio_signature_ok("12345", "https://mycompany.com/myapp.php?foo=1&bar=3", &f,
                                              EXAMPLE_SIGNATURE));
        assert_false(dawn_twilio_signature_ok("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", &f,
                                              EXAMPLE_SIGNATURE));
        assert_false(dawn_twilio_signature_ok("12345", EXAMPLE_URL, &f, "0/KCTR6DLpKmkAf8muzZqo1nDgQ"));
        assert_false(dawn_twilio_signature_ok("12345", EXAMPLE_URL, &f, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert_false(dawn_twilio_signature_ok("12345", EXAMPLE_URL, &f, ""));
        assert_false(dawn_twilio_signature_ok("12345", EXAMPLE_URL, &f, NULL));
        dawn_form_clear(&f);

        f = form_of(EXAMPLE_BODY "&Extra=1");
        assert_false(dawn_twilio_signature_ok("12345", EXAMPLE_URL, &f, EXAMPLE_SIGNATURE));
        dawn_form_clear(&f);
        f = form_of("CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1235&From=%2B12349013030&To=%2B18005551212");
        assert_false(dawn_twilio_signature_ok("12345", EXAMPLE_URL, &f, EXAMPLE_SIGNATURE));
        dawn_form_clear(&f);
}

static void test_twilio_signature_no_token(void **state UNUSED)
{
        struct dawn_form f = form_of(EXAMPLE_BODY);
        assert_false(dawn_twilio_signature_ok(NULL, EXAMPLE_URL, &f, EXAMPLE_SIGNATURE));
        /* an empty token: the signature anyone could compute is still refused */
        char *sig = dawn_twilio_signature("", EXAMPLE_URL, &f);
        assert_non_null(sig);
        assert_false(dawn_twilio_signature_ok("", EXAMPLE_URL, &f, sig));
        free(sig);
        assert_null(dawn_twilio_signature("12345", NULL, &f));
        assert_null(dawn_twilio_signature("12345", EXAMPLE_URL, NULL));
        dawn_form_clear(&f);
}

static void test_twilio_signature_empty_form(void **state UNUSED)
{
        /* no parameters: the URL alone is signed; from /usr/bin/python3,
         * base64.b64encode(hmac.new(b"12345", b"https://example.org/x", hashlib.sha1).digest()) */
        struct dawn_form f = form_of("");
        char *sig = dawn_twilio_signature("12345", "https://example.org/x", &f);
        assert_non_null(sig);
        assert_string_equal(sig, "NaEMtpMAmyH0TiAbvvQ8I8VrNAs=");
        assert_true(dawn_twilio_signature_ok("12345", "https://example.org/x", &f, sig));
        free(sig);
        dawn_form_clear(&f);
}

/* ---- references ---- */

static void test_reference_delivery_id(void **state UNUSED)
{
        int64_t id = 0;
        assert_int_equal(dawn_reference_delivery_id("A17-r2-345", &id), 0);
        assert_int_equal(id, 345);
        assert_int_equal(dawn_reference_delivery_id("A1-r1-1", &id), 0);
        assert_int_equal(id, 1);
        /* an alert id may hold '-' and "-r" itself: the parts are read from the right */
        assert_int_equal(dawn_reference_delivery_id("X-r9-r12-987654321012", &id), 0);
        assert_int_equal(id, INT64_C(987654321012));
        assert_int_equal(dawn_reference_delivery_id("A123456789012345678901234-r1-5", &id), -EINVAL);
        assert_int_equal(dawn_reference_delivery_id("A12345678901234567890123-r1-5", &id), 0);
        assert_int_equal(dawn_reference_delivery_id("A17-r2-999999999999999999", &id), 0);
        assert_int_equal(id, INT64_C(999999999999999999));
}

static void test_reference_unknown_refused(void **state UNUSED)
{
        static const char *const bad[] = {
                "", "12345678", "A17", "A17-r2", "A17-2-345", "A17-r-345", "-r2-345", "A17-r2-",
                "A17-r2-0", "A17-r0-5", "A17-r02-5", "A17-r2-34a", "A17-r2-+5", "A17-r2--5", "A17 -r2-5",
                "A17-r2-9999999999999999999", "A17-R2-5", "a\x01-r1-5", "\xc3\xa9-r1-5",
                "A17-r2-345 ", "A17-r12345678901-5",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int64_t id = -7;
                if (dawn_reference_delivery_id(bad[i], &id) != -EINVAL || id != -7) {
                        print_error("'%s': accepted as %lld\n", bad[i], (long long)id);
                        fail();
                }
        }
        int64_t id;
        assert_int_equal(dawn_reference_delivery_id(NULL, &id), -EINVAL);
        assert_int_equal(dawn_reference_delivery_id("A17-r2-345", NULL), -EINVAL);
}

/* A reply's reference (an answer to an inbound text, README "Replies by
 * text"): "reply-<id>", and nothing like it. */
static void test_reference_reply_id(void **state UNUSED)
{
        int64_t id = -7;
        assert_int_equal(dawn_reference_reply_id("reply-1", &id), 0);
        assert_int_equal(id, 1);
        assert_int_equal(dawn_reference_reply_id("reply-999999999999999999", &id), 0);
        static const char *const bad[] = { "reply-", "reply-0", "reply-01", "reply-1a", "reply--1", "Reply-1",
                                           "reply-1 ", "reply-9999999999999999999", "replies-1", "A1-r1-1", "" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                id = -7;
                if (dawn_reference_reply_id(bad[i], &id) != -EINVAL || id != -7) {
                        print_error("'%s': accepted as %lld\n", bad[i], (long long)id);
                        fail();
                }
        }
        struct dawn_receipt rc = notify_receipt_ok("{\"reference\":\"reply-42\",\"status\":\"delivered\"}");
        assert_true(rc.reply);
        assert_int_equal(rc.delivery_id, 42);
        rc = notify_receipt_ok("{\"reference\":\"A1-r1-42\",\"status\":\"delivered\"}");
        assert_false(rc.reply);
        assert_notify_receipt_refused("{\"reference\":\"reply-x\",\"status\":\"delivered\"}", "reference");
}

/* ---- Notify receipts ---- */

#define NOTIFY_RECEIPT(ref, status)                                                                 \
        "{\"id\":\"740e5834-3a29-46b4-9a6f-16142fde533a\",\"reference\":" ref ",\"to\":\"+447700900123\"," \
        "\"status\":" status ",\"created_at\":\"2026-11-23T18:23:51.000000Z\","                      \
        "\"completed_at\":\"2026-11-23T18:23:55.000000Z\",\"sent_at\":\"2026-11-23T18:23:52.000000Z\"," \
        "\"notification_type\":\"sms\",\"template_id\":\"f33517ff-2a88-4f6e-b855-c550268ce08a\","    \
        "\"template_version\":1}"

static void test_notify_receipt(void **state UNUSED)
{
        struct dawn_receipt rc = notify_receipt_ok(NOTIFY_RECEIPT("\"A17-r2-345\"", "\"delivered\""));
        assert_string_equal(rc.reference, "A17-r2-345");
        assert_int_equal(rc.delivery_id, 345);
        assert_int_equal(rc.status, DAWN_RECEIPT_DELIVERED);
        assert_string_equal(rc.provider_status, "delivered");
}

static void test_notify_receipt_statuses(void **state UNUSED)
{
        static const struct {
                const char *word;
                enum dawn_receipt_status status;
        } cases[] = {
                { "delivered", DAWN_RECEIPT_DELIVERED },
                { "permanent-failure", DAWN_RECEIPT_PERMANENT_FAILURE },
                { "temporary-failure", DAWN_RECEIPT_TEMPORARY_FAILURE },
                { "technical-failure", DAWN_RECEIPT_TEMPORARY_FAILURE },
                { "sending", DAWN_RECEIPT_IN_PROGRESS },
                { "created", DAWN_RECEIPT_IN_PROGRESS },
                { "pending", DAWN_RECEIPT_IN_PROGRESS },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char json[256];
                snprintf(json, sizeof(json), "{\"reference\":\"A1-r1-7\",\"status\":\"%s\"}", cases[i].word);
                struct dawn_receipt rc = notify_receipt_ok(json);
                assert_int_equal(rc.status, cases[i].status);
                assert_string_equal(rc.provider_status, cases[i].word);
                assert_int_equal(rc.delivery_id, 7);
        }
}

static void test_notify_receipt_unknown_keys_ignored(void **state UNUSED)
{
        struct dawn_receipt rc = notify_receipt_ok(
                "{\"reference\":\"A1-r1-7\",\"status\":\"delivered\",\"cost_in_pounds\":0.0227,"
                "\"extra\":{\"nested\":[1,2,{\"x\":null}]}}");
        assert_int_equal(rc.delivery_id, 7);
        /* white space after the object is fine */
        rc = notify_receipt_ok("  {\"reference\":\"A1-r1-8\",\"status\":\"delivered\"}\r\n");
        assert_int_equal(rc.delivery_id, 8);
}

static void test_notify_receipt_reference_refused(void **state UNUSED)
{
        assert_notify_receipt_refused(NOTIFY_RECEIPT("null", "\"delivered\""), "reference");
        assert_notify_receipt_refused("{\"status\":\"delivered\"}", "reference");
        assert_notify_receipt_refused(NOTIFY_RECEIPT("\"\"", "\"delivered\""), "reference");
        /* a text someone sent from Notify's own pages, with their reference */
        assert_notify_receipt_refused(NOTIFY_RECEIPT("\"12345678\"", "\"delivered\""), "reference");
        assert_notify_receipt_refused(NOTIFY_RECEIPT("17", "\"delivered\""), "reference");
        assert_notify_receipt_refused(NOTIFY_RECEIPT("[\"A1-r1-7\"]", "\"delivered\""), "reference");
}

static void test_notify_receipt_status_refused(void **state UNUSED)
{
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\"}", "status");
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\",\"status\":null}", "status");
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\",\"status\":\"Delivered\"}", "status");
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\",\"status\":\"lost\"}", "status");
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\",\"status\":1}", "status");

        struct dawn_receipt rc;
        struct dawn_input_error err = { 0 };
        const char *json = "{\"reference\":\"A1-r1-7\",\"status\":\"lost\"}";
        dawn_receipt_parse_notify(json, strlen(json), &rc, &err);
        assert_non_null(strstr(err.message, "'lost'"));
}

static void test_notify_receipt_body_refused(void **state UNUSED)
{
        assert_notify_receipt_refused("", "body");
        assert_notify_receipt_refused("[]", "body");
        assert_notify_receipt_refused("\"delivered\"", "body");
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\",\"status\":\"delivered\"", "body");
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\",\"status\":\"delivered\"}{}", "body");
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\",\"status\":\"delivered\"} x", "body");
        assert_notify_receipt_refused("{\"a\":[[[[[[[[[[1]]]]]]]]]],\"reference\":\"A1-r1-7\",\"status\":\"delivered\"}",
                                      "body");

        /* too large, however well formed */
        size_t n = DAWN_MAX_CALLBACK_BYTES + 100;
        char *big = malloc(n + 1);
        assert_non_null(big);
        int head = snprintf(big, n + 1, "{\"reference\":\"A1-r1-7\",\"status\":\"delivered\",\"pad\":\"");
        memset(big + head, 'x', n - (size_t)head - 2);
        memcpy(big + n - 2, "\"}", 3);
        assert_notify_receipt_refused(big, "body");
        free(big);

        struct dawn_receipt rc;
        struct dawn_input_error err = { 0 };
        assert_int_equal(dawn_receipt_parse_notify(NULL, 0, &rc, &err), -EINVAL);
}

static void test_notify_receipt_explicit_length(void **state UNUSED)
{
        /* the buffer goes on past len: only len bytes count */
        const char *buf = "{\"reference\":\"A1-r1-7\",\"status\":\"delivered\"}garbage";
        struct dawn_receipt rc;
        struct dawn_input_error err = { 0 };
        size_t len = strlen(buf) - strlen("garbage");
        assert_int_equal(dawn_receipt_parse_notify(buf, len, &rc, &err), 0);
        assert_int_equal(rc.delivery_id, 7);
        assert_int_equal(dawn_receipt_parse_notify(buf, len - 1, &rc, &err), -EINVAL);
}

/* ---- Twilio receipts ---- */

static void test_twilio_receipt(void **state UNUSED)
{
        static const struct {
                const char *word;
                enum dawn_receipt_status status;
        } cases[] = {
                { "delivered", DAWN_RECEIPT_DELIVERED },
                { "undelivered", DAWN_RECEIPT_TEMPORARY_FAILURE },
                { "failed", DAWN_RECEIPT_PERMANENT_FAILURE },
                { "accepted", DAWN_RECEIPT_IN_PROGRESS },
                { "queued", DAWN_RECEIPT_IN_PROGRESS },
                { "sending", DAWN_RECEIPT_IN_PROGRESS },
                { "sent", DAWN_RECEIPT_IN_PROGRESS },
                { "scheduled", DAWN_RECEIPT_IN_PROGRESS },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char body[128];
                snprintf(body, sizeof(body), "MessageSid=" SID "&MessageStatus=%s&To=%%2B447700900123", cases[i].word);
                struct dawn_form f = form_of(body);
                struct dawn_receipt rc;
                struct dawn_input_error err = { 0 };
                assert_int_equal(dawn_receipt_parse_twilio(&f, "A17-r2-345", &rc, &err), 0);
                assert_int_equal(rc.status, cases[i].status);
                assert_string_equal(rc.provider_status, cases[i].word);
                assert_string_equal(rc.reference, "A17-r2-345");
                assert_int_equal(rc.delivery_id, 345);
                assert_string_equal(rc.message_sid, SID);
                dawn_form_clear(&f);
        }
}

static void test_twilio_receipt_refused(void **state UNUSED)
{
        struct dawn_form f = form_of("MessageSid=" SID "&MessageStatus=delivered");
        struct dawn_receipt rc;
        struct dawn_input_error err = { 0 };
        assert_int_equal(dawn_receipt_parse_twilio(&f, NULL, &rc, &err), -EINVAL);
        assert_string_equal(err.field, "ref");
        assert_int_equal(dawn_receipt_parse_twilio(&f, "", &rc, &err), -EINVAL);
        assert_string_equal(err.field, "ref");
        assert_int_equal(dawn_receipt_parse_twilio(&f, "SM0123", &rc, &err), -EINVAL);
        assert_string_equal(err.field, "ref");
        assert_int_equal(rc.delivery_id, 0);
        dawn_form_clear(&f);

        f = form_of("MessageSid=" SID "&SmsStatus=delivered");
        assert_int_equal(dawn_receipt_parse_twilio(&f, "A1-r1-2", &rc, &err), -EINVAL);
        assert_string_equal(err.field, "MessageStatus");
        dawn_form_clear(&f);
        f = form_of("MessageSid=" SID "&MessageStatus=");
        assert_int_equal(dawn_receipt_parse_twilio(&f, "A1-r1-2", &rc, &err), -EINVAL);
        assert_string_equal(err.field, "MessageStatus");
        dawn_form_clear(&f);
        f = form_of("MessageSid=" SID "&MessageStatus=permanent-failure");
        assert_int_equal(dawn_receipt_parse_twilio(&f, "A1-r1-2", &rc, &err), -EINVAL);
        assert_string_equal(err.field, "MessageStatus");
        dawn_form_clear(&f);
        /* a word that cannot be quoted is not: the message stays one clean line */
        f = form_of("MessageSid=" SID "&MessageStatus=%1b%5b31m");
        assert_int_equal(dawn_receipt_parse_twilio(&f, "A1-r1-2", &rc, &err), -EINVAL);
        assert_null(strchr(err.message, '\x1b'));
        dawn_form_clear(&f);
        assert_int_equal(dawn_receipt_parse_twilio(NULL, "A1-r1-2", &rc, &err), -EINVAL);
}

static void test_receipt_status_names(void **state UNUSED)
{
        assert_string_equal(dawn_receipt_status_name(DAWN_RECEIPT_DELIVERED), "delivered");
        assert_string_equal(dawn_receipt_status_name(DAWN_RECEIPT_PERMANENT_FAILURE), "permanent-failure");
        assert_string_equal(dawn_receipt_status_name(DAWN_RECEIPT_TEMPORARY_FAILURE), "temporary-failure");
        assert_string_equal(dawn_receipt_status_name(DAWN_RECEIPT_IN_PROGRESS), "in-progress");
}

/* ---- what a receipt may do to a text: every state x every receipt ---- */

enum { ILLEGAL = -1, SAME = -2 };
#define S(x) DAWN_DELIVERY_##x

/* Written out here rather than derived, so that a change to the table in
 * outbox.c has to be made twice, on purpose. Only a text the gateway has
 * (sent, or in flight when the receipt overtakes the gateway's answer) can
 * be delivered, fail or go again by receipt; the same receipt again changes nothing;
 * nothing moves a text that was never sent (superseded, opted out) or that
 * the handset already has. */
static const int receipt_table[DAWN_DELIVERY_STATE_COUNT][4] = {
        /*                 delivered      permanent   temporary      in progress */
        [S(PENDING)] = { ILLEGAL, ILLEGAL, ILLEGAL, SAME },
        [S(INFLIGHT)] = { S(DELIVERED), S(FAILED), S(RETRYING), SAME },
        [S(DELIVERED)] = { SAME, ILLEGAL, ILLEGAL, SAME },
        [S(RETRYING)] = { ILLEGAL, ILLEGAL, SAME, SAME },
        [S(FAILED)] = { ILLEGAL, SAME, ILLEGAL, SAME },
        [S(SUPERSEDED)] = { ILLEGAL, ILLEGAL, ILLEGAL, SAME },
        [S(SENT)] = { S(DELIVERED), S(FAILED), S(RETRYING), SAME },
        [S(OPTED_OUT)] = { ILLEGAL, ILLEGAL, ILLEGAL, SAME },
};

static void assert_transition(int state, enum dawn_delivery_event ev, int want)
{
        enum dawn_delivery_state to = (enum dawn_delivery_state)-1;
        int r = dawn_delivery_next((enum dawn_delivery_state)state, ev, &to);
        int got = r < 0 ? ILLEGAL : r == 0 ? SAME : (int)to;
        if (got != want || (r < 0 && r != -EPERM)) {
                print_error("%s on a %s delivery: want %d, got %d (r %d)\n", dawn_delivery_event_name(ev),
                            dawn_delivery_state_name((enum dawn_delivery_state)state), want, got, r);
                fail();
        }
}

static void test_receipt_transitions(void **state UNUSED)
{
        static const enum dawn_receipt_status statuses[4] = { DAWN_RECEIPT_DELIVERED, DAWN_RECEIPT_PERMANENT_FAILURE,
                                                              DAWN_RECEIPT_TEMPORARY_FAILURE,
                                                              DAWN_RECEIPT_IN_PROGRESS };
        for (int st = 0; st < DAWN_DELIVERY_STATE_COUNT; st++)
                for (int k = 0; k < 4; k++)
                        assert_transition(st, dawn_receipt_event(statuses[k]), receipt_table[st][k]);
}

/* The outbox's own events: from a waiting or in-flight delivery only. */
static void test_outbox_transitions(void **state UNUSED)
{
        static const struct {
                enum dawn_delivery_event ev;
                int to[DAWN_DELIVERY_STATE_COUNT];
        } table[] = {
                /*                           pending  in-flight delivered retrying failed superseded sent opted-out */
                { DAWN_EVENT_DISPATCH, { S(INFLIGHT), ILLEGAL, ILLEGAL, S(INFLIGHT), ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL } },
                { DAWN_EVENT_WAIT, { S(PENDING), S(PENDING), ILLEGAL, S(PENDING), ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL } },
                { DAWN_EVENT_SENT, { ILLEGAL, S(SENT), ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL } },
                { DAWN_EVENT_DELIVERED, { ILLEGAL, S(DELIVERED), ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL } },
                { DAWN_EVENT_RETRY, { ILLEGAL, S(RETRYING), ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL } },
                { DAWN_EVENT_FAIL, { S(FAILED), S(FAILED), ILLEGAL, S(FAILED), ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL } },
                { DAWN_EVENT_SUPERSEDE,
                  { S(SUPERSEDED), ILLEGAL, ILLEGAL, S(SUPERSEDED), ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL } },
                { DAWN_EVENT_OPT_OUT, { S(OPTED_OUT), ILLEGAL, ILLEGAL, S(OPTED_OUT), ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL } },
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                for (int st = 0; st < DAWN_DELIVERY_STATE_COUNT; st++)
                        assert_transition(st, table[i].ev, table[i].to[st]);
        /* a state or event that does not exist is never legal */
        enum dawn_delivery_state to;
        assert_int_equal(dawn_delivery_next(DAWN_DELIVERY_STATE_COUNT, DAWN_EVENT_WAIT, &to), -EPERM);
        assert_int_equal(dawn_delivery_next(DAWN_DELIVERY_SENT, DAWN_EVENT_COUNT, &to), -EPERM);
        assert_string_equal(dawn_delivery_event_name(DAWN_EVENT_COUNT), "?");
}

#undef S

/* ---- received texts ---- */

static void test_notify_inbound(void **state UNUSED)
{
        const char *json = "{\"id\":\"b51f638b-4295-46a0-a1a5-6a6e3f2a1b2c\",\"source_number\":\"447700900123\","
                           "\"destination_number\":\"07797800010\",\"message\":\"STOP\","
                           "\"date_received\":\"2026-11-23T18:30:00.000000Z\"}";
        struct dawn_inbound_sms in;
        struct dawn_input_error err = { 0 };
        assert_int_equal(dawn_inbound_parse_notify(json, strlen(json), &in, &err), 0);
        /* Notify leaves out the '+' */
        assert_string_equal(in.from, "+447700900123");
        assert_string_equal(in.text, "STOP");

        json = "{\"source_number\":\"+447700900123\",\"message\":\"\"}";
        assert_int_equal(dawn_inbound_parse_notify(json, strlen(json), &in, &err), 0);
        assert_string_equal(in.from, "+447700900123");
        assert_string_equal(in.text, "");
}

static void assert_notify_inbound_refused(const char *json, const char *field)
{
        struct dawn_inbound_sms in;
        struct dawn_input_error err = { 0 };
        int r = dawn_inbound_parse_notify(json, strlen(json), &in, &err);
        if (r != -EINVAL || strcmp(err.field, field) != 0) {
                print_error("%s: expected -EINVAL naming '%s', got %d naming '%s'\n", json, field, r, err.field);
                fail();
        }
        assert_string_equal(in.from, "");
}

static void test_notify_inbound_refused(void **state UNUSED)
{
        assert_notify_inbound_refused("{\"message\":\"STOP\"}", "source_number");
        assert_notify_inbound_refused("{\"source_number\":447700900123,\"message\":\"STOP\"}", "source_number");
        assert_notify_inbound_refused("{\"source_number\":\"07700 900123\",\"message\":\"STOP\"}", "source_number");
        assert_notify_inbound_refused("{\"source_number\":\"447700900123\"}", "message");
        assert_notify_inbound_refused("{\"source_number\":\"447700900123\",\"message\":[\"STOP\"]}", "message");
        assert_notify_inbound_refused("STOP", "body");
        assert_notify_inbound_refused("[{\"source_number\":\"447700900123\",\"message\":\"STOP\"}]", "body");
}

static void test_inbound_text_made_safe(void **state UNUSED)
{
        /* a control character becomes a space, a newline stays, bad UTF-8 becomes '?' */
        struct dawn_form f = form_of("From=%2B447700900123&MessageSid=" SID "&Body=ack%1b%5b2J%0Aa17%0D%C3%A9%C3%28%FF");
        struct dawn_inbound_sms in;
        struct dawn_input_error err = { 0 };
        assert_int_equal(dawn_inbound_parse_twilio(&f, &in, &err), 0);
        assert_string_equal(in.text, "ack [2J\na17 \xc3\xa9?(?");
        dawn_form_clear(&f);
}

static void test_inbound_text_cut_on_character(void **state UNUSED)
{
        /* 600 two-byte characters: 1,200 bytes, cut to 1,022 (511 whole ones) */
        char json[1400];
        size_t n = (size_t)snprintf(json, sizeof(json), "{\"source_number\":\"447700900123\",\"message\":\"");
        for (int i = 0; i < 600; i++) {
                json[n++] = '\xc3';
                json[n++] = '\xa9';
        }
        n += (size_t)snprintf(json + n, sizeof(json) - n, "\"}");
        struct dawn_inbound_sms in;
        struct dawn_input_error err = { 0 };
        assert_int_equal(dawn_inbound_parse_notify(json, n, &in, &err), 0);
        assert_int_equal(strlen(in.text), 1022);
        assert_int_equal((unsigned char)in.text[1021], 0xa9);

        /* ASCII fills the buffer exactly */
        n = (size_t)snprintf(json, sizeof(json), "{\"source_number\":\"447700900123\",\"message\":\"");
        memset(json + n, 'a', 1100);
        n += 1100;
        n += (size_t)snprintf(json + n, sizeof(json) - n, "\"}");
        assert_int_equal(dawn_inbound_parse_notify(json, n, &in, &err), 0);
        assert_int_equal(strlen(in.text), sizeof(in.text) - 1);
}

static void test_twilio_inbound(void **state UNUSED)
{
        struct dawn_form f = form_of("Body=ack+a17.+caf%C3%A9+%26+more&From=%2B447700900123&MessageSid=" SID);
        struct dawn_inbound_sms in;
        struct dawn_input_error err = { 0 };
        assert_int_equal(dawn_inbound_parse_twilio(&f, &in, &err), 0);
        assert_string_equal(in.from, "+447700900123");
        assert_string_equal(in.text, "ack a17. caf\xc3\xa9 & more");
        assert_string_equal(in.message_sid, SID);
        dawn_form_clear(&f);

        /* a picture with no words: an empty Body */
        f = form_of("From=%2B447700900123&Body=&NumMedia=1&MessageSid=" SID);
        assert_int_equal(dawn_inbound_parse_twilio(&f, &in, &err), 0);
        assert_string_equal(in.text, "");
        dawn_form_clear(&f);
}

static void test_twilio_inbound_refused(void **state UNUSED)
{
        struct dawn_inbound_sms in;
        struct dawn_input_error err = { 0 };
        struct dawn_form f = form_of("Body=STOP");
        assert_int_equal(dawn_inbound_parse_twilio(&f, &in, &err), -EINVAL);
        assert_string_equal(err.field, "From");
        dawn_form_clear(&f);
        /* an alphanumeric sender cannot be opted out or acknowledged */
        f = form_of("From=HMRC&Body=STOP");
        assert_int_equal(dawn_inbound_parse_twilio(&f, &in, &err), -EINVAL);
        assert_string_equal(err.field, "From");
        assert_non_null(strstr(err.message, "'HMRC'"));
        dawn_form_clear(&f);
        f = form_of("From=%2B447700900123&MessageSid=" SID);
        assert_int_equal(dawn_inbound_parse_twilio(&f, &in, &err), -EINVAL);
        assert_string_equal(err.field, "Body");
        assert_string_equal(in.from, "");
        dawn_form_clear(&f);
        /* without its MessageSid a replay could not be told from a new text */
        static const char *const no_sid[] = {
                "From=%2B447700900123&Body=START",
                "From=%2B447700900123&Body=START&MessageSid=",
                "From=%2B447700900123&Body=START&MessageSid=SMabc",
                "From=%2B447700900123&Body=START&MessageSid=SM0123456789abcdef0123456789abcdeg",
                "From=%2B447700900123&Body=START&MessageSid=SM0123456789abcdef0123456789abcdef0",
                "From=%2B447700900123&Body=START&MessageSid=sm0123456789abcdef0123456789abcdef",
        };
        for (size_t i = 0; i < sizeof(no_sid) / sizeof(no_sid[0]); i++) {
                f = form_of(no_sid[i]);
                assert_int_equal(dawn_inbound_parse_twilio(&f, &in, &err), -EINVAL);
                assert_string_equal(err.field, "MessageSid");
                dawn_form_clear(&f);
        }
        f = form_of("MessageStatus=delivered");
        struct dawn_receipt rc;
        assert_int_equal(dawn_receipt_parse_twilio(&f, "A1-r1-2", &rc, &err), -EINVAL);
        assert_string_equal(err.field, "MessageSid");
        assert_string_equal(rc.reference, "");
        dawn_form_clear(&f);
}

/* ---- replies ---- */

static struct dawn_sms_reply reply_of(const char *text)
{
        struct dawn_sms_reply r;
        memset(&r, 0x55, sizeof(r));
        dawn_sms_reply_parse(text, &r);
        return r;
}

static void assert_reply(const char *text, enum dawn_reply_kind kind, const char *alert_id)
{
        struct dawn_sms_reply r = reply_of(text);
        if (r.kind != kind || strcmp(r.alert_id, alert_id) != 0) {
                print_error("'%s': got kind %d id '%s', expected %d '%s'\n", text, r.kind, r.alert_id, kind,
                            alert_id);
                fail();
        }
}

static void test_reply_stop_words(void **state UNUSED)
{
        static const char *const words[] = { "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
                                             "stop", "Stop", "sToPaLl", "unsubscribe", "cancel", "end", "quit" };
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                assert_reply(words[i], DAWN_REPLY_STOP, "");
        assert_reply("  Stop.  ", DAWN_REPLY_STOP, "");
        assert_reply("\"STOP\"", DAWN_REPLY_STOP, "");
        assert_reply("STOP!!!", DAWN_REPLY_STOP, "");
        assert_reply("\n\tstop\r\n", DAWN_REPLY_STOP, "");
        assert_reply("Stop sending these please", DAWN_REPLY_STOP, "");
        assert_reply("stop-all", DAWN_REPLY_STOP, "");
}

static void test_reply_start_words(void **state UNUSED)
{
        assert_reply("START", DAWN_REPLY_START, "");
        assert_reply("start", DAWN_REPLY_START, "");
        assert_reply("UNSTOP", DAWN_REPLY_START, "");
        assert_reply("Unstop", DAWN_REPLY_START, "");
        assert_reply("YES", DAWN_REPLY_START, "");
        assert_reply("yes!", DAWN_REPLY_START, "");
}

static void test_reply_ack(void **state UNUSED)
{
        assert_reply("ACK A17", DAWN_REPLY_ACK, "A17");
        assert_reply("ack a17.", DAWN_REPLY_ACK, "A17");
        assert_reply("Ack: A17", DAWN_REPLY_ACK, "A17");
        assert_reply("ack #a17, thanks", DAWN_REPLY_ACK, "A17");
        assert_reply("  ACK   A2  ", DAWN_REPLY_ACK, "A2");
        assert_reply("ACK", DAWN_REPLY_ACK, "");
        assert_reply("ack.", DAWN_REPLY_ACK, "");
        /* an id has letters and digits only, at most DAWN_MAX_ID_CHARS of them */
        assert_reply("ACK A123456789012345678901234", DAWN_REPLY_ACK, "");
        assert_reply("ACK A12345678901234567890123", DAWN_REPLY_ACK, "A12345678901234567890123");
        assert_reply("ACK \xc3\xa9" "17", DAWN_REPLY_ACK, "");
}

static void test_reply_other(void **state UNUSED)
{
        assert_reply("", DAWN_REPLY_OTHER, "");
        assert_reply("   ...  ", DAWN_REPLY_OTHER, "");
        assert_reply("Thanks, seen it", DAWN_REPLY_OTHER, "");
        assert_reply("stopp", DAWN_REPLY_OTHER, "");
        assert_reply("STOPPING", DAWN_REPLY_OTHER, "");
        assert_reply("acknowledged A17", DAWN_REPLY_OTHER, "");
        assert_reply("ACKA17", DAWN_REPLY_OTHER, "");
        assert_reply("please stop", DAWN_REPLY_OTHER, "");
        assert_reply("yesterday", DAWN_REPLY_OTHER, "");
        /* a letter of another script is part of the word */
        assert_reply("STOP\xc3\xa9", DAWN_REPLY_OTHER, "");
        assert_reply("\xf0\x9f\x91\x8d", DAWN_REPLY_OTHER, "");
        assert_reply(NULL, DAWN_REPLY_OTHER, "");
        dawn_sms_reply_parse("STOP", NULL); /* nowhere to write: no crash */
}

/* ---- phone numbers ---- */

static void test_e164_normalise(void **state UNUSED)
{
        char out[24];
        assert_int_equal(dawn_e164_normalise("+447700900123", out), 0);
        assert_string_equal(out, "+447700900123");
        assert_int_equal(dawn_e164_normalise("447700900123", out), 0);
        assert_string_equal(out, "+447700900123");
        assert_int_equal(dawn_e164_normalise("12345678", out), 0);
        assert_string_equal(out, "+12345678");
        assert_int_equal(dawn_e164_normalise("+123456789012345", out), 0);
        assert_string_equal(out, "+123456789012345");
}

static void test_e164_refused(void **state UNUSED)
{
        static const char *const bad[] = {
                "", "+", "07700 900123", "07700900123", "+07700900123", "+44 7700 900123", "+44-7700-900123",
                "1234567", "+1234567", "1234567890123456", "++447700900123", "447700900123 ", " 447700900123",
                "+44770090012x", "HMRC", "00447700900123",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char out[24] = "untouched";
                if (dawn_e164_normalise(bad[i], out) != -EINVAL) {
                        print_error("'%s': accepted as '%s'\n", bad[i], out);
                        fail();
                }
        }
        char out[24];
        assert_int_equal(dawn_e164_normalise(NULL, out), -EINVAL);
}

/* cJSON would read "A1-r1-7\u0000junk" as "A1-r1-7" and "STOP\u0000 not me" as
 * "STOP": a NUL in any string of a callback is refused, naming it. */
static void test_notify_callbacks_refuse_nul(void **state UNUSED)
{
        struct dawn_inbound_sms in;
        struct dawn_input_error err = { 0 };
        static const char inbound[] = "{\"source_number\":\"+447700900123\",\"message\":\"STOP\\u0000 not me\"}";

        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\\u0000junk\",\"status\":\"delivered\"}", "reference");
        assert_notify_receipt_refused("{\"reference\":\"A1-r1-7\",\"status\":\"delivered\",\"x\":[\"\\u0000\"]}", "x[0]");
        assert_int_equal(dawn_inbound_parse_notify(inbound, strlen(inbound), &in, &err), -EINVAL);
        assert_string_equal(err.field, "message");
        assert_string_equal(in.text, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_secret_equal),
                cmocka_unit_test(test_secret_equal_null_and_empty),
                cmocka_unit_test(test_bearer_token),
                cmocka_unit_test(test_bearer_token_refused),
                cmocka_unit_test(test_form_parse),
                cmocka_unit_test(test_form_escapes),
                cmocka_unit_test(test_form_empty_values_and_pairs),
                cmocka_unit_test(test_form_repeated_name),
                cmocka_unit_test(test_form_length_is_explicit),
                cmocka_unit_test(test_form_bad_escapes_refused),
                cmocka_unit_test(test_form_nul_refused),
                cmocka_unit_test(test_form_empty_name_refused),
                cmocka_unit_test(test_form_too_many_fields),
                cmocka_unit_test(test_form_get_null),
                cmocka_unit_test(test_twilio_signature_known_answers),
                cmocka_unit_test(test_twilio_signature_field_order_irrelevant),
                cmocka_unit_test(test_twilio_signature_wrong_refused),
                cmocka_unit_test(test_twilio_signature_no_token),
                cmocka_unit_test(test_twilio_signature_empty_form),
                cmocka_unit_test(test_reference_delivery_id),
                cmocka_unit_test(test_reference_unknown_refused),
                cmocka_unit_test(test_reference_reply_id),
                cmocka_unit_test(test_notify_receipt),
                cmocka_unit_test(test_notify_receipt_statuses),
                cmocka_unit_test(test_notify_receipt_unknown_keys_ignored),
                cmocka_unit_test(test_notify_receipt_reference_refused),
                cmocka_unit_test(test_notify_receipt_status_refused),
                cmocka_unit_test(test_notify_callbacks_refuse_nul),
                cmocka_unit_test(test_notify_receipt_body_refused),
                cmocka_unit_test(test_notify_receipt_explicit_length),
                cmocka_unit_test(test_twilio_receipt),
                cmocka_unit_test(test_twilio_receipt_refused),
                cmocka_unit_test(test_receipt_status_names),
                cmocka_unit_test(test_receipt_transitions),
                cmocka_unit_test(test_outbox_transitions),
                cmocka_unit_test(test_notify_inbound),
                cmocka_unit_test(test_notify_inbound_refused),
                cmocka_unit_test(test_inbound_text_made_safe),
                cmocka_unit_test(test_inbound_text_cut_on_character),
                cmocka_unit_test(test_twilio_inbound),
                cmocka_unit_test(test_twilio_inbound_refused),
                cmocka_unit_test(test_reply_stop_words),
                cmocka_unit_test(test_reply_start_words),
                cmocka_unit_test(test_reply_ack),
                cmocka_unit_test(test_reply_other),
                cmocka_unit_test(test_e164_normalise),
                cmocka_unit_test(test_e164_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
