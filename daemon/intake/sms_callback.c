#include "sms_callback.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "dawn/protocol.h"

/* ---- small character classes (ASCII only: no locale decides what a
 * provider's byte means) ---- */

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_punct(char c)
{
        return c > 0x20 && c < 0x7f && !is_alnum(c);
}

static char upper(char c)
{
        return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* True if s[0..n) equals word, ignoring ASCII case (dawnd never sets a
 * locale, so strncasecmp compares ASCII only). */
static bool word_eq(const char *s, size_t n, const char *word)
{
        return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* Printable ASCII and short: safe to quote in an error message, which
 * must stay valid UTF-8 and one line whatever a caller sent. */
static bool quotable(const char *s)
{
        size_t n = 0;
        for (; s[n]; n++)
                if (s[n] < 0x20 || s[n] >= 0x7f || n >= 40)
                        return false;
        return true;
}

/* ---- constant-time secrets ---- */

bool dawn_secret_equal(const char *presented, const char *expected)
{
        /* An empty expected secret never matches either: a blank token file
         * must not let in a request with a blank header. */
        if (!presented || !expected || !*expected)
                return false;
        unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)presented, strlen(presented), a);
        SHA256((const unsigned char *)expected, strlen(expected), b);
        bool equal = CRYPTO_memcmp(a, b, sizeof(a)) == 0;
        OPENSSL_cleanse(a, sizeof(a));
        OPENSSL_cleanse(b, sizeof(b));
        return equal;
}

const char *dawn_bearer_token(const char *authorization)
{
        if (!authorization || !word_eq(authorization, 6, "bearer") || authorization[6] != ' ')
                return NULL;
        const char *token = authorization + 6;
        while (*token == ' ')
                token++;
        return *token ? token : NULL;
}

/* ---- application/x-www-form-urlencoded ---- */

/* Decodes s[0..n) into a new string; -EINVAL for a bad escape or a NUL
 * (it would cut the value short where the signature still covers it). */
static int form_decode(const char *s, size_t n, char **out)
{
        char *d = malloc(n + 1);
        if (!d)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '+') {
                        c = ' ';
                } else if (c == '%') {
                        /* two hex digits, or the body is not what Twilio signed */
                        int hi = n - i >= 3 ? hex_value(s[i + 1]) : -1;
                        int lo = n - i >= 3 ? hex_value(s[i + 2]) : -1;
                        if (hi < 0 || lo < 0) {
                                free(d);
                                return -EINVAL;
                        }
                        c = (char)(hi * 16 + lo);
                        i += 2;
                }
                if (c == '\0') {
                        free(d);
                        return -EINVAL;
                }
                d[k++] = c;
        }
        d[k] = '\0';
        *out = d;
        return 0;
}

void dawn_form_clear(struct dawn_form *f)
{
        if (!f)
                return;
        for (size_t i = 0; i < f->n; i++) {
                free(f->v[i].name);
                free(f->v[i].value);
        }
        free(f->v);
        f->v = NULL;
        f->n = 0;
}

int dawn_form_parse(const char *body, size_t len, struct dawn_form *out)
{
        if (!out)
                return -EINVAL;
        out->v = NULL;
        out->n = 0;
        if (!body)
                return len == 0 ? 0 : -EINVAL;
        out->v = calloc(DAWN_MAX_FORM_FIELDS, sizeof(*out->v));
        if (!out->v)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; i < len && r == 0;) {
                const char *amp = memchr(body + i, '&', len - i);
                size_t end = amp ? (size_t)(amp - body) : len;
                /* "a=1&&b=2" and a trailing '&': empty pairs are skipped, as browsers do */
                if (end > i) {
                        const char *eq = memchr(body + i, '=', end - i);
                        size_t name_end = eq ? (size_t)(eq - body) : end;
                        if (name_end == i || out->n == DAWN_MAX_FORM_FIELDS) {
                                r = -EINVAL;
                                break;
                        }
                        struct dawn_form_field *fld = &out->v[out->n];
                        r = form_decode(body + i, name_end - i, &fld->name);
                        if (r == 0) {
                                /* "name" without '=' is a name with an empty value */
                                size_t vstart = eq ? name_end + 1 : end;
                                r = form_decode(body + vstart, end - vstart, &fld->value);
                                if (r < 0) {
                                        free(fld->name);
                                        fld->name = NULL;
                                }
                        }
                        if (r == 0)
                                out->n++;
                }
                i = end + 1;
        }
        if (r < 0)
                dawn_form_clear(out);
        return r;
}

const char *dawn_form_get(const struct dawn_form *f, const char *name)
{
        if (!f || !name)
                return NULL;
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->v[i].name, name) == 0)
                        return f->v[i].value;
        return NULL;
}

/* ---- Twilio's request signature ---- */

/* Twilio sorts by name, byte by byte ("Unix-style case-sensitive"); a
 * name given twice is ordered by value, as Twilio's own helper libraries
 * do, so the order the fields arrived in never matters. */
static int field_order(const void *a, const void *b)
{
        const struct dawn_form_field *x = *(const struct dawn_form_field *const *)a;
        const struct dawn_form_field *y = *(const struct dawn_form_field *const *)b;
        int c = strcmp(x->name, y->name);
        return c ? c : strcmp(x->value, y->value);
}

char *dawn_twilio_signature(const char *auth_token, const char *url, const struct dawn_form *form)
{
        if (!auth_token || !url || !form)
                return NULL;
        size_t n = form->n;
        const struct dawn_form_field **sorted = calloc(n ? n : 1, sizeof(*sorted));
        if (!sorted)
                return NULL;
        size_t len = strlen(url);
        for (size_t i = 0; i < n; i++) {
                sorted[i] = &form->v[i];
                len += strlen(form->v[i].name) + strlen(form->v[i].value);
        }
        qsort(sorted, n, sizeof(*sorted), field_order);

        /* url, then each name and value with nothing between */
        char *data = malloc(len + 1), *p = data;
        char *out = NULL;
        if (!data)
                goto done;
        p = stpcpy(p, url);
        for (size_t i = 0; i < n; i++) {
                p = stpcpy(p, sorted[i]->name);
                p = stpcpy(p, sorted[i]->value);
        }
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        if (!HMAC(EVP_sha1(), auth_token, (int)strlen(auth_token), (const unsigned char *)data, len, mac,
                  &mac_len))
                goto done;
        out = malloc(4 * ((mac_len + 2) / 3) + 1);
        if (out)
                EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
        OPENSSL_cleanse(mac, sizeof(mac));
done:
        free(data);
        free(sorted);
        return out;
}

bool dawn_twilio_signature_ok(const char *auth_token, const char *url, const struct dawn_form *form,
                              const char *signature)
{
        if (!auth_token || !*auth_token || !signature)
                return false;
        char *expected = dawn_twilio_signature(auth_token, url, form);
        bool ok = expected && dawn_secret_equal(signature, expected);
        free(expected);
        return ok;
}

/* ---- delivery receipts ---- */

const char *dawn_receipt_status_name(enum dawn_receipt_status s)
{
        switch (s) {
        case DAWN_RECEIPT_DELIVERED:
                return "delivered";
        case DAWN_RECEIPT_PERMANENT_FAILURE:
                return "permanent-failure";
        case DAWN_RECEIPT_TEMPORARY_FAILURE:
                return "temporary-failure";
        case DAWN_RECEIPT_IN_PROGRESS:
                return "in-progress";
        }
        return "unknown";
}

struct status_word {
        const char *word;
        enum dawn_receipt_status status;
};

static const struct status_word notify_statuses[] = {
        { "delivered", DAWN_RECEIPT_DELIVERED },
        { "permanent-failure", DAWN_RECEIPT_PERMANENT_FAILURE },
        { "temporary-failure", DAWN_RECEIPT_TEMPORARY_FAILURE },
        /* Notify's own fault, not the number's: worth another try */
        { "technical-failure", DAWN_RECEIPT_TEMPORARY_FAILURE },
        { "sending", DAWN_RECEIPT_IN_PROGRESS },
        { "created", DAWN_RECEIPT_IN_PROGRESS },
        { "pending", DAWN_RECEIPT_IN_PROGRESS },
        { NULL, 0 },
};

static const struct status_word twilio_statuses[] = {
        { "delivered", DAWN_RECEIPT_DELIVERED },
        /* the carrier could not hand it over: phone off, out of coverage */
        { "undelivered", DAWN_RECEIPT_TEMPORARY_FAILURE },
        /* Twilio could not send it at all: a number that cannot take texts */
        { "failed", DAWN_RECEIPT_PERMANENT_FAILURE },
        { "accepted", DAWN_RECEIPT_IN_PROGRESS },
        { "queued", DAWN_RECEIPT_IN_PROGRESS },
        { "sending", DAWN_RECEIPT_IN_PROGRESS },
        { "sent", DAWN_RECEIPT_IN_PROGRESS },
        { "scheduled", DAWN_RECEIPT_IN_PROGRESS },
        { NULL, 0 },
};

/* Providers spell their statuses in lower case; exact match, so a word
 * DAWN does not know is refused rather than guessed at. */
static int status_lookup(const struct status_word *table, const char *field, const char *word,
                         struct dawn_receipt *out, struct dawn_input_error *err)
{
        for (const struct status_word *w = table; w->word; w++)
                if (strcmp(word, w->word) == 0) {
                        out->status = w->status;
                        snprintf(out->provider_status, sizeof(out->provider_status), "%s", w->word);
                        return 0;
                }
        if (quotable(word))
                return dawn_input_error_set(err, field, "%s: unknown status '%s'", field, word);
        return dawn_input_error_set(err, field, "%s: unknown status", field);
}

int dawn_reference_delivery_id(const char *reference, int64_t *id)
{
        if (!reference || !id)
                return -EINVAL;
        size_t n = strlen(reference);
        if (n == 0 || n > DAWN_MAX_REF_CHARS)
                return -EINVAL;
        /* Read from the right: the alert id is DAWN's own, but whatever it
         * holds, the last two parts are "-r<rev>-<row id>". */
        size_t end = n, start = n;
        while (start > 0 && is_digit(reference[start - 1]))
                start--;
        if (start == end || end - start > 18 || start == 0 || reference[start - 1] != '-')
                return -EINVAL;
        int64_t row = 0;
        for (size_t i = start; i < end; i++)
                row = row * 10 + (reference[i] - '0'); /* at most 18 digits: no overflow */
        size_t rev_end = start - 1, rev_start = rev_end;
        while (rev_start > 0 && is_digit(reference[rev_start - 1]))
                rev_start--;
        if (rev_start == rev_end || rev_end - rev_start > 9 || rev_start < 2 || reference[rev_start - 1] != 'r' ||
            reference[rev_start - 2] != '-')
                return -EINVAL;
        size_t alert_len = rev_start - 2;
        if (alert_len == 0 || alert_len > DAWN_MAX_ID_CHARS)
                return -EINVAL;
        for (size_t i = 0; i < alert_len; i++)
                if (reference[i] <= 0x20 || reference[i] >= 0x7f)
                        return -EINVAL;
        if (row <= 0)
                return -EINVAL;
        /* a revision is 1 or more, without leading zeros, as DAWN writes it */
        if (reference[rev_start] == '0')
                return -EINVAL;
        *id = row;
        return 0;
}

int dawn_reference_reply_id(const char *reference, int64_t *id)
{
        if (!reference || !id || strncmp(reference, "reply-", 6) != 0)
                return -EINVAL;
        const char *p = reference + 6;
        size_t n = strlen(p);
        if (n == 0 || n > 18 || *p == '0')
                return -EINVAL;
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (!is_digit(p[i]))
                        return -EINVAL;
                v = v * 10 + (p[i] - '0'); /* at most 18 digits: no overflow */
        }
        *id = v;
        return 0;
}

/* Fills out's reference and delivery id, or names field. */
static int take_reference(const char *field, const char *ref, struct dawn_receipt *out,
                          struct dawn_input_error *err)
{
        if (!ref || !*ref)
                return dawn_input_error_set(err, field, "%s: required (DAWN's reference of the text)", field);
        int64_t id;
        bool reply = dawn_reference_reply_id(ref, &id) == 0;
        if (!reply && dawn_reference_delivery_id(ref, &id) < 0) {
                if (quotable(ref))
                        return dawn_input_error_set(err, field, "%s: '%s' is not a reference DAWN gave", field, ref);
                return dawn_input_error_set(err, field, "%s: not a reference DAWN gave", field);
        }
        snprintf(out->reference, sizeof(out->reference), "%s", ref);
        out->delivery_id = id;
        out->reply = reply;
        return 0;
}

/* The JSON object of a callback body, or NULL with err filled. */
static cJSON *parse_object(const char *body, size_t len, struct dawn_input_error *err)
{
        if (!body || len == 0) {
                dawn_input_error_set(err, "body", "the request body is empty");
                return NULL;
        }
        if (len > DAWN_MAX_CALLBACK_BYTES) {
                dawn_input_error_set(err, "body", "the request body is larger than %d bytes", DAWN_MAX_CALLBACK_BYTES);
                return NULL;
        }
        if (!dawn_json_depth_ok(body, len, DAWN_MAX_JSON_DEPTH)) {
                dawn_input_error_set(err, "body", "the request body nests deeper than %d levels", DAWN_MAX_JSON_DEPTH);
                return NULL;
        }
        const char *end = NULL;
        cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, false);
        /* only white space may follow the object */
        if (o && end)
                for (const char *p = end; p < body + len; p++)
                        if (!is_space(*p)) {
                                cJSON_Delete(o);
                                o = NULL;
                                break;
                        }
        if (!o || !cJSON_IsObject(o)) {
                cJSON_Delete(o);
                dawn_input_error_set(err, "body", "the request body must be one JSON object");
                return NULL;
        }
        char nul_at[DAWN_JSON_PATH_MAX];
        if (dawn_json_find_nul(body, (size_t)(end - body), "body", nul_at, sizeof(nul_at))) {
                cJSON_Delete(o);
                dawn_input_error_set(err, nul_at, DAWN_JSON_NUL_REFUSAL, nul_at);
                return NULL;
        }
        return o;
}

/* The string member key of o: NULL if absent or null, -EINVAL via err if
 * another type. */
static int get_string(const cJSON *o, const char *key, const char **out, struct dawn_input_error *err)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
        *out = NULL;
        if (!item || cJSON_IsNull(item))
                return 0;
        if (!cJSON_IsString(item) || !item->valuestring)
                return dawn_input_error_set(err, key, "%s: must be a string", key);
        *out = item->valuestring;
        return 0;
}

int dawn_receipt_parse_notify(const char *body, size_t len, struct dawn_receipt *out,
                              struct dawn_input_error *err)
{
        if (!out)
                return -EINVAL;
        memset(out, 0, sizeof(*out));
        cJSON *o = parse_object(body, len, err);
        if (!o)
                return -EINVAL;
        const char *ref, *status;
        int r = get_string(o, "reference", &ref, err);
        if (r == 0)
                r = get_string(o, "status", &status, err);
        if (r == 0)
                r = take_reference("reference", ref, out, err);
        if (r == 0 && !status)
                r = dawn_input_error_set(err, "status", "status: required");
        if (r == 0)
                r = status_lookup(notify_statuses, "status", status, out, err);
        cJSON_Delete(o);
        if (r < 0)
                memset(out, 0, sizeof(*out));
        return r;
}

/* Twilio's MessageSid: two letters and 32 hex digits. Required: it is what
 * tells a replayed request from a new one (the signature has no time in it). */
static int take_message_sid(const struct dawn_form *form, char out[DAWN_TWILIO_SID_CHARS + 1],
                            struct dawn_input_error *err)
{
        const char *sid = dawn_form_get(form, "MessageSid");
        if (!sid || !*sid)
                return dawn_input_error_set(err, "MessageSid", "MessageSid: required");
        bool ok = strlen(sid) == DAWN_TWILIO_SID_CHARS && sid[0] >= 'A' && sid[0] <= 'Z' && sid[1] >= 'A' &&
                  sid[1] <= 'Z';
        for (size_t i = 2; ok && i < DAWN_TWILIO_SID_CHARS; i++)
                ok = hex_value(sid[i]) >= 0;
        if (!ok)
                return dawn_input_error_set(err, "MessageSid",
                                            "MessageSid: not a Twilio message id (two letters and 32 hex digits)");
        memcpy(out, sid, DAWN_TWILIO_SID_CHARS + 1);
        return 0;
}

int dawn_receipt_parse_twilio(const struct dawn_form *form, const char *ref, struct dawn_receipt *out,
                              struct dawn_input_error *err)
{
        if (!out)
                return -EINVAL;
        memset(out, 0, sizeof(*out));
        const char *status = dawn_form_get(form, "MessageStatus");
        int r = take_reference("ref", ref, out, err);
        if (r == 0)
                r = take_message_sid(form, out->message_sid, err);
        if (r == 0 && (!status || !*status))
                r = dawn_input_error_set(err, "MessageStatus", "MessageStatus: required");
        if (r == 0)
                r = status_lookup(twilio_statuses, "MessageStatus", status, out, err);
        if (r < 0)
                memset(out, 0, sizeof(*out));
        return r;
}

bool dawn_callback_log_ok(int64_t now_usec, uint64_t *unlogged)
{
        static int64_t window_start;
        static unsigned logged;
        static uint64_t skipped;
        *unlogged = 0;
        if (now_usec - window_start >= INT64_C(60000000) || now_usec < window_start) {
                *unlogged = skipped;
                window_start = now_usec;
                logged = 0;
                skipped = 0;
        }
        if (logged < DAWN_CALLBACK_LOG_PER_MINUTE) {
                logged++;
                return true;
        }
        skipped++;
        return false;
}

/* ---- replies ---- */

int dawn_e164_normalise(const char *in, char out[24])
{
        if (!in || !out)
                return -EINVAL;
        const char *d = in[0] == '+' ? in + 1 : in;
        size_t n = 0;
        while (is_digit(d[n]))
                n++;
        /* no country code starts with 0: "07700900123" is a national
         * number, and guessing its country is not DAWN's to do */
        if (d[n] != '\0' || n < 8 || n > 15 || d[0] == '0')
                return -EINVAL;
        out[0] = '+';
        memcpy(out + 1, d, n);
        out[n + 1] = '\0';
        return 0;
}

/* Length of the valid UTF-8 character at s (at most n bytes), or 0. */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
        unsigned c = s[0];
        size_t len;
        unsigned cp;
        if (c < 0x80)
                return 1;
        if ((c & 0xe0) == 0xc0)
                len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
                len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
                len = 4, cp = c & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t k = 1; k < len; k++) {
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[k] & 0x3f);
        }
        static const unsigned min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* What a person wrote, made safe to keep and to log without refusing it:
 * a byte that is not UTF-8 becomes '?', a control character other than a
 * newline a space (no forged log lines, no terminal escapes); then cut to
 * fit, on a character boundary. */
static void copy_text(const char *in, char *out, size_t size)
{
        const unsigned char *s = (const unsigned char *)in;
        size_t n = strlen(in), k = 0;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_char_len(s + i, n - i);
                if (k + (len ? len : 1) >= size)
                        break;
                if (len == 0) {
                        out[k++] = '?';
                        i++;
                } else if (len == 1) {
                        unsigned char c = s[i++];
                        out[k++] = (c < 0x20 && c != '\n') || c == 0x7f ? ' ' : (char)c;
                } else {
                        memcpy(out + k, s + i, len);
                        k += len;
                        i += len;
                }
        }
        out[k] = '\0';
}

static int take_from(const char *field, const char *number, struct dawn_inbound_sms *out,
                     struct dawn_input_error *err)
{
        if (!number || !*number)
                return dawn_input_error_set(err, field, "%s: required", field);
        if (dawn_e164_normalise(number, out->from) < 0) {
                if (quotable(number))
                        return dawn_input_error_set(err, field, "%s: '%s' is not an international phone number",
                                                    field, number);
                return dawn_input_error_set(err, field, "%s: not an international phone number", field);
        }
        return 0;
}

int dawn_inbound_parse_notify(const char *body, size_t len, struct dawn_inbound_sms *out,
                              struct dawn_input_error *err)
{
        if (!out)
                return -EINVAL;
        memset(out, 0, sizeof(*out));
        cJSON *o = parse_object(body, len, err);
        if (!o)
                return -EINVAL;
        const char *from, *message;
        int r = get_string(o, "source_number", &from, err);
        if (r == 0)
                r = get_string(o, "message", &message, err);
        if (r == 0)
                r = take_from("source_number", from, out, err);
        if (r == 0 && !message)
                r = dawn_input_error_set(err, "message", "message: required");
        if (r == 0)
                copy_text(message, out->text, sizeof(out->text));
        cJSON_Delete(o);
        if (r < 0)
                memset(out, 0, sizeof(*out));
        return r;
}

int dawn_inbound_parse_twilio(const struct dawn_form *form, struct dawn_inbound_sms *out,
                              struct dawn_input_error *err)
{
        if (!out)
                return -EINVAL;
        memset(out, 0, sizeof(*out));
        const char *body = dawn_form_get(form, "Body");
        int r = take_from("From", dawn_form_get(form, "From"), out, err);
        if (r == 0)
                r = take_message_sid(form, out->message_sid, err);
        /* an empty Body is a text with nothing in it (or only a picture) */
        if (r == 0 && !body)
                r = dawn_input_error_set(err, "Body", "Body: required");
        if (r == 0)
                copy_text(body, out->text, sizeof(out->text));
        /* Twilio's Advanced Opt-Out: a value we do not know is as good as none */
        const char *opt = dawn_form_get(form, "OptOutType");
        static const char *const types[] = { "STOP", "START", "HELP" };
        for (size_t i = 0; r == 0 && opt && i < sizeof(types) / sizeof(types[0]); i++)
                if (strcasecmp(opt, types[i]) == 0)
                        snprintf(out->opt_out_type, sizeof(out->opt_out_type), "%s", types[i]);
        if (r < 0)
                memset(out, 0, sizeof(*out));
        return r;
}

static bool in_list(const char *word, size_t n, const char *const *list)
{
        for (; *list; list++)
                if (word_eq(word, n, *list))
                        return true;
        return false;
}

/* Punctuation and white space around words: "Ack: A17." */
static const char *skip_gap(const char *p)
{
        while (*p && (is_space(*p) || is_punct(*p)))
                p++;
        return p;
}

/* A word runs until white space or ASCII punctuation; bytes of other
 * scripts belong to it, so "STOPé" is not STOP. */
static size_t word_len(const char *p)
{
        size_t n = 0;
        while (p[n] && !is_space(p[n]) && !is_punct(p[n]))
                n++;
        return n;
}

/* The words after JOIN, joined by single spaces (a hyphen is a gap too, so
 * "pan-hampshire" reads "pan hampshire", which the area lookup takes as
 * the same). Too long for buf: "" (no area is that long). */
static void join_words(const char *p, char *buf, size_t size)
{
        size_t len = 0;
        buf[0] = '\0';
        for (p = skip_gap(p); *p; p = skip_gap(p)) {
                size_t n = word_len(p);
                if (len + (len ? 1 : 0) + n >= size) {
                        buf[0] = '\0';
                        return;
                }
                if (len)
                        buf[len++] = ' ';
                memcpy(buf + len, p, n);
                len += n;
                buf[len] = '\0';
                p += n;
        }
}

void dawn_sms_reply_parse(const char *text, struct dawn_sms_reply *out)
{
        static const char *const stop_words[] = { "stop", "stopall", "unsubscribe", "cancel", "end", "quit", NULL };
        static const char *const start_words[] = { "start", "unstop", "yes", NULL };
        if (!out)
                return;
        out->kind = DAWN_REPLY_OTHER;
        out->alert_id[0] = '\0';
        out->area[0] = '\0';
        if (!text)
                return;
        const char *p = skip_gap(text);
        size_t n = word_len(p);
        if (n == 0)
                return;
        if (in_list(p, n, stop_words)) {
                out->kind = DAWN_REPLY_STOP;
                return;
        }
        if (in_list(p, n, start_words)) {
                out->kind = DAWN_REPLY_START;
                return;
        }
        if (word_eq(p, n, "areas")) {
                out->kind = DAWN_REPLY_AREAS;
                return;
        }
        if (word_eq(p, n, "join")) {
                out->kind = DAWN_REPLY_JOIN;
                join_words(p + n, out->area, sizeof(out->area));
                return;
        }
        if (!word_eq(p, n, "ack"))
                return;
        out->kind = DAWN_REPLY_ACK;
        /* the id is the next word, letters and digits only ("A17", not
         * "A17." or "#A17"); anything longer than an id is no id */
        p = skip_gap(p + n);
        n = word_len(p);
        if (n == 0 || n > DAWN_MAX_ID_CHARS)
                return;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(p[i]))
                        return;
        for (size_t i = 0; i < n; i++)
                out->alert_id[i] = upper(p[i]);
        out->alert_id[n] = '\0';
}
