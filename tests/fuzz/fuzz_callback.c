/* libFuzzer harness: what an SMS gateway, or anyone who finds the URL,
 * posts to /v1/callbacks/ (daemon/callback.c).
 *
 * The same bytes go to every parser: as a Notify delivery receipt and a
 * Notify received text (JSON, with the explicit length: the buffer is not
 * NUL-terminated, so AddressSanitizer sees any read past it); as a form
 * body, then as a Twilio status callback (its "ref" value as the reference)
 * and an incoming message, with the request signature computed and checked;
 * and, NUL-terminated, as a reply text, a bearer header, a phone number and
 * a reference. Checked besides memory safety:
 *   - parsers answer 0 or -EINVAL (the form also -ENOMEM), and a refusal
 *     names a field and says why, in valid UTF-8;
 *   - what they accept is what DAWN relies on: a reference that reads back
 *     to the same row id, a number "+<8..15 digits>", a text in valid UTF-8
 *     without control characters, an ACK id of letters and digits;
 *   - a form re-encoded parses to the same fields, and its signature does
 *     not depend on the order of the fields; a signature off by one
 *     character is refused.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_callback.c */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "utf8_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "fuzz-twilio-auth-token"
#define STATUS_URL "https://dawn.example.org/v1/callbacks/twilio/status?ref=A17-r2-345"

static void die(const char *what, const char *detail)
{
        fprintf(stderr, "fuzz_callback: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
        abort();
}

/* A refusal names the field and says why, in valid UTF-8. */
static void check_refusal(const char *what, int r, const struct dawn_input_error *err)
{
        if (r != -EINVAL)
                die(what, "returned neither 0 nor -EINVAL");
        if (!err->field[0] || !err->message[0])
                die(what, "refused without naming the field");
        if (!utf8_ok((const unsigned char *)err->field, strlen(err->field)) ||
            !utf8_ok((const unsigned char *)err->message, strlen(err->message)))
                die(what, "an error that is not UTF-8");
}

static void check_receipt(const char *what, const struct dawn_receipt *rc)
{
        int64_t id = 0;
        if (dawn_reference_delivery_id(rc->reference, &id) != 0 || id != rc->delivery_id || id <= 0)
                die(what, "accepted a reference that does not read back to its row id");
        if (rc->status > DAWN_RECEIPT_IN_PROGRESS || !rc->provider_status[0])
                die(what, "accepted without a status");
}

static void check_number(const char *what, const char *from)
{
        size_t n = strlen(from);
        if (n < 9 || n > 16 || from[0] != '+' || from[1] == '0')
                die(what, from);
        for (size_t i = 1; i < n; i++)
                if (from[i] < '0' || from[i] > '9')
                        die(what, from);
        char again[24];
        if (dawn_e164_normalise(from, again) != 0 || strcmp(again, from) != 0)
                die(what, "a normalised number does not normalise to itself");
}

static void check_reply(const char *text)
{
        struct dawn_sms_reply reply;
        dawn_sms_reply_parse(text, &reply);
        if (reply.kind > DAWN_REPLY_OTHER)
                die("reply", "kind out of range");
        size_t n = strnlen(reply.alert_id, sizeof(reply.alert_id));
        if (n == sizeof(reply.alert_id))
                die("reply", "alert id not terminated");
        if (n && reply.kind != DAWN_REPLY_ACK)
                die("reply", "an alert id without ACK");
        for (size_t i = 0; i < n; i++) {
                char c = reply.alert_id[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                        die("reply", "an alert id with other than upper-case letters and digits");
        }
}

static void check_inbound(const char *what, const struct dawn_inbound_sms *in)
{
        check_number(what, in->from);
        size_t n = strnlen(in->text, sizeof(in->text));
        if (n == sizeof(in->text))
                die(what, "text not terminated");
        if (!utf8_ok((const unsigned char *)in->text, n))
                die(what, "a text that is not UTF-8");
        for (size_t i = 0; i < n; i++)
                if (((unsigned char)in->text[i] < 0x20 && in->text[i] != '\n') || in->text[i] == 0x7f)
                        die(what, "a control character in the text");
        check_reply(in->text);
}

/* Every byte of s as %XX, appended to *p. */
static char *encode_all(char *p, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                *p++ = '%';
                *p++ = hex[c >> 4];
                *p++ = hex[c & 15];
        }
        return p;
}

/* The form, re-encoded (reversed, to also check the signature's sort),
 * parses back to the same fields, with the same signature. */
static void check_form_round_trip(const struct dawn_form *f, const char *sig)
{
        size_t len = 1;
        for (size_t i = 0; i < f->n; i++)
                len += 3 * (strlen(f->v[i].name) + strlen(f->v[i].value)) + 2;
        char *body = malloc(len), *p = body;
        if (!body)
                return;
        for (size_t i = f->n; i-- > 0;) {
                if (p != body)
                        *p++ = '&';
                p = encode_all(p, f->v[i].name);
                *p++ = '=';
                p = encode_all(p, f->v[i].value);
        }
        *p = '\0';
        struct dawn_form back;
        int r = dawn_form_parse(body, (size_t)(p - body), &back);
        if (r == -ENOMEM) {
                free(body);
                return;
        }
        if (r != 0 || back.n != f->n)
                die("form", "a re-encoded form does not parse back");
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(back.v[i].name, f->v[f->n - 1 - i].name) != 0 ||
                    strcmp(back.v[i].value, f->v[f->n - 1 - i].value) != 0)
                        die("form", "a re-encoded form parses to other fields");
        if (sig && !dawn_twilio_signature_ok(TOKEN, STATUS_URL, &back, sig))
                die("signature", "depends on the order of the fields");
        dawn_form_clear(&back);
        free(body);
}

static void fuzz_form(const uint8_t *data, size_t size)
{
        struct dawn_form f;
        int r = dawn_form_parse((const char *)data, size, &f);
        if (r == -ENOMEM)
                return;
        if (r == -EINVAL) {
                if (f.v || f.n)
                        die("form", "refused but left fields behind");
                return;
        }
        if (r != 0)
                die("form", "returned neither 0, -EINVAL nor -ENOMEM");
        if (f.n > DAWN_MAX_FORM_FIELDS)
                die("form", "more fields than allowed");
        for (size_t i = 0; i < f.n; i++)
                if (!f.v[i].name[0])
                        die("form", "a field with an empty name");

        /* the signature: it verifies, and nothing one character off does */
        char *sig = dawn_twilio_signature(TOKEN, STATUS_URL, &f);
        if (sig) {
                if (!dawn_twilio_signature_ok(TOKEN, STATUS_URL, &f, sig))
                        die("signature", "its own signature refused");
                if (dawn_twilio_signature_ok(TOKEN "x", STATUS_URL, &f, sig))
                        die("signature", "accepted with another token");
                char first = sig[0];
                sig[0] = first == 'A' ? 'B' : 'A';
                if (dawn_twilio_signature_ok(TOKEN, STATUS_URL, &f, sig))
                        die("signature", "accepted a changed signature");
                sig[0] = first;
        }
        check_form_round_trip(&f, sig);
        free(sig);

        struct dawn_receipt rc;
        struct dawn_input_error err = { 0 };
        r = dawn_receipt_parse_twilio(&f, dawn_form_get(&f, "ref"), &rc, &err);
        if (r == 0)
                check_receipt("twilio receipt", &rc);
        else
                check_refusal("twilio receipt", r, &err);

        struct dawn_inbound_sms in;
        memset(&err, 0, sizeof(err));
        r = dawn_inbound_parse_twilio(&f, &in, &err);
        if (r == 0)
                check_inbound("twilio inbound", &in);
        else
                check_refusal("twilio inbound", r, &err);
        dawn_form_clear(&f);
}

static void fuzz_json(const uint8_t *data, size_t size)
{
        struct dawn_receipt rc;
        struct dawn_input_error err = { 0 };
        int r = dawn_receipt_parse_notify((const char *)data, size, &rc, &err);
        if (r == 0)
                check_receipt("notify receipt", &rc);
        else
                check_refusal("notify receipt", r, &err);

        struct dawn_inbound_sms in;
        memset(&err, 0, sizeof(err));
        r = dawn_inbound_parse_notify((const char *)data, size, &in, &err);
        if (r == 0)
                check_inbound("notify inbound", &in);
        else
                check_refusal("notify inbound", r, &err);
}

static void fuzz_text(const char *text)
{
        check_reply(text);

        const char *token = dawn_bearer_token(text);
        if (token) {
                if (token < text || token >= text + strlen(text) || !*token || *token == ' ')
                        die("bearer", "a token outside the header, or empty");
                if (!dawn_secret_equal(token, token))
                        die("secret", "a token is not equal to itself");
        }
        if (dawn_secret_equal(text, "fuzz-callback-token") != (strcmp(text, "fuzz-callback-token") == 0))
                die("secret", "equal is not strcmp");

        char number[24];
        if (dawn_e164_normalise(text, number) == 0)
                check_number("e164", number);

        int64_t id = 0;
        if (dawn_reference_delivery_id(text, &id) == 0 && id <= 0)
                die("reference", "a row id that is not positive");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_json(data, size);
        fuzz_form(data, size);

        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        fuzz_text(text);
        free(text);
        return 0;
}
