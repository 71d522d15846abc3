/* libFuzzer harness: what an SMS gateway, or anyone who finds the URL,
 * posts to /v1/callbacks/ (daemon/intake/sms_callback.c).
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
 *     character is refused;
 *   - every receipt a parser accepts (and every reference the text reads
 *     as, with each status) is applied to a real store holding texts in
 *     every delivery state, of two alerts and two revisions: no row but the
 *     one the whole reference names changes, and that one only as the
 *     transition table (dawn_delivery_next) allows; applying it again
 *     changes nothing (a duplicate, or a Twilio replay). Each input's
 *     changes are rolled back, so every input meets the same store.
 *
 * The store lives in $DAWN_FUZZ_TMPDIR (run.sh: a directory in /dev/shm).
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_callback.c */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "sms_callback.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "utf8_check.h"

#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
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

/* ---- the store the receipts meet ---- */

static char dir[256];
static char db_path[300];
static struct dawn_store *store;
/* Rows 1..N_ROWS: A1 revision 1 in every state, then A1 revision 2 and A2
 * in a few, then a dashboard's (not a text). */
#define N_ROWS (DAWN_DELIVERY_STATE_COUNT + 5)

static void store_cleanup(void)
{
        store = dawn_store_close(store);
        static const char *const suffix[] = { "", "-wal", "-shm" };
        char p[320];
        for (int i = 0; i < 3; i++) {
                snprintf(p, sizeof(p), "%s%s", db_path, suffix[i]);
                unlink(p);
        }
        rmdir(dir);
}

static void add_alert(int revisions)
{
        struct dawn_alert a;
        dawn_alert_init(&a);
        a.type = DAWN_TYPE_BATCH;
        a.area = strdup("southampton");
        if (dawn_store_next_alert_id(store, a.id) < 0)
                die("store", "no alert id");
        for (a.revision = 1; a.revision <= revisions; a.revision++)
                if (dawn_store_save_alert(store, &a, "fp", true) < 0)
                        die("store", dawn_store_errmsg(store));
        dawn_alert_clear(&a);
}

/* A delivery of alert/revision on channel, then moved to state as the outbox would have. */
static void add_row(const char *alert, int revision, enum dawn_channel_kind ch, enum dawn_delivery_state state)
{
        static int n;
        char sub[32], rcpt[24];
        snprintf(sub, sizeof(sub), "sub-%d", ++n);
        snprintf(rcpt, sizeof(rcpt), "+4477009000%02d", n);
        if (dawn_store_add_delivery(store, alert, revision, sub, ch, rcpt, DAWN_ACTION_PUBLISH, 1) < 0 ||
            dawn_store_delivery_move(store, n, DAWN_DELIVERY_PENDING, state, NULL, 0, 2) < 0)
                die("store", dawn_store_errmsg(store));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        log_init(1, getenv("DAWN_FUZZ_LOG") ? LOG_DEBUG : LOG_CRIT);
        const char *base = getenv("DAWN_FUZZ_TMPDIR");
        if (!base)
                base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(dir, sizeof(dir), "%s/dawn-fuzz-callback-XXXXXX", base);
        if (!mkdtemp(dir))
                die("mkdtemp", strerror(errno));
        snprintf(db_path, sizeof(db_path), "%s/dawn.db", dir);
        if (dawn_store_open(db_path, &store) < 0)
                die("store", "cannot open");
        atexit(store_cleanup);
        add_alert(2);
        add_alert(1);
        /* pending has no move: the rows start there */
        for (int st = 0; st < DAWN_DELIVERY_STATE_COUNT; st++)
                add_row("A1", 1, DAWN_CHANNEL_SMS, (enum dawn_delivery_state)st);
        add_row("A1", 2, DAWN_CHANNEL_SMS, DAWN_DELIVERY_SENT);
        add_row("A1", 2, DAWN_CHANNEL_SMS, DAWN_DELIVERY_INFLIGHT);
        add_row("A2", 1, DAWN_CHANNEL_SMS, DAWN_DELIVERY_SENT);
        add_row("A2", 1, DAWN_CHANNEL_SMS, DAWN_DELIVERY_DELIVERED);
        add_row("A1", 1, DAWN_CHANNEL_MQTT, DAWN_DELIVERY_INFLIGHT);
        return 0;
}

static void load_states(enum dawn_delivery_state states[N_ROWS + 1], char refs[N_ROWS + 1][64],
                        enum dawn_channel_kind *channels)
{
        for (int64_t id = 1; id <= N_ROWS; id++) {
                struct dawn_outbox_row row;
                if (dawn_store_load_delivery(store, id, &row) != 1)
                        die("store", "a row went missing");
                states[id] = row.state;
                if (refs)
                        dawn_delivery_reference(row.alert_id, row.revision, row.id, refs[id], sizeof(refs[id]));
                if (channels)
                        channels[id] = row.channel;
                dawn_outbox_row_clear(&row);
        }
}

/* Applies rc to the store twice and checks every row against the table;
 * then undoes it all. */
static void apply_receipt(const char *what, const struct dawn_receipt *rc)
{
        /* index 0 is no row: zeroed, so that whole arrays compare */
        enum dawn_delivery_state before[N_ROWS + 1] = { 0 }, after[N_ROWS + 1] = { 0 }, again[N_ROWS + 1] = { 0 };
        char refs[N_ROWS + 1][64];
        enum dawn_channel_kind channels[N_ROWS + 1];
        if (dawn_store_begin(store) < 0 || dawn_store_savepoint(store) < 0)
                die("store", dawn_store_errmsg(store));
        load_states(before, refs, channels);
        enum dawn_receipt_outcome outcome;
        if (dawn_outbox_receipt(store, "fuzz", rc, 0, 1000, &outcome) < 0)
                die(what, "the store failed");
        load_states(after, NULL, NULL);
        for (int64_t id = 1; id <= N_ROWS; id++) {
                if (after[id] == before[id])
                        continue;
                enum dawn_delivery_state to;
                if (id != rc->delivery_id || strcmp(refs[id], rc->reference) != 0 || channels[id] != DAWN_CHANNEL_SMS)
                        die(what, "changed a delivery its reference does not name");
                if (dawn_delivery_next(before[id], dawn_receipt_event(rc->status), &to) != 1 || to != after[id])
                        die(what, "made a transition the table does not allow");
                if (outcome != DAWN_RECEIPT_APPLIED)
                        die(what, "moved a delivery but said it did not");
        }
        if (outcome == DAWN_RECEIPT_APPLIED && memcmp(before, after, sizeof(before)) == 0)
                die(what, "said it moved a delivery, and did not");
        /* the same receipt again: a duplicate (or a Twilio replay) changes nothing */
        if (dawn_outbox_receipt(store, "fuzz", rc, 0, 1001, &outcome) < 0)
                die(what, "the store failed");
        load_states(again, NULL, NULL);
        if (memcmp(after, again, sizeof(after)) != 0)
                die(what, "the same receipt twice moved a delivery twice");
        if (rc->message_sid[0] && outcome != DAWN_RECEIPT_REPLAYED)
                die(what, "a Twilio request taken twice");
        dawn_store_rollback_to_savepoint(store);
        if (dawn_store_commit(store) < 0)
                die("store", dawn_store_errmsg(store));
}

static void check_receipt(const char *what, const struct dawn_receipt *rc)
{
        int64_t id = 0;
        /* a reply's reference ("reply-<id>") reads back to its sms_replies row */
        int r = rc->reply ? dawn_reference_reply_id(rc->reference, &id) : dawn_reference_delivery_id(rc->reference, &id);
        if (r != 0 || id != rc->delivery_id || id <= 0)
                die(what, "accepted a reference that does not read back to its row id");
        if (rc->status > DAWN_RECEIPT_IN_PROGRESS || !rc->provider_status[0])
                die(what, "accepted without a status");
        apply_receipt(what, rc);
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
        if (reply.kind > DAWN_REPLY_AREAS)
                die("reply", "kind out of range");
        size_t words = strnlen(reply.area, sizeof(reply.area));
        if (words == sizeof(reply.area))
                die("reply", "JOIN's area not terminated");
        if (words && reply.kind != DAWN_REPLY_JOIN)
                die("reply", "an area without JOIN");
        if (words && (reply.area[0] == ' ' || reply.area[words - 1] == ' ' || strstr(reply.area, "  ")))
                die("reply", "JOIN's words not joined by single spaces");
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
        if (dawn_reference_delivery_id(text, &id) == 0) {
                if (id <= 0)
                        die("reference", "a row id that is not positive");
                /* a reference the parsers would take, with every status (a Notify receipt) */
                for (int st = DAWN_RECEIPT_DELIVERED; st <= DAWN_RECEIPT_TEMPORARY_FAILURE; st++) {
                        struct dawn_receipt rc = { .delivery_id = id, .status = (enum dawn_receipt_status)st };
                        snprintf(rc.reference, sizeof(rc.reference), "%s", text);
                        snprintf(rc.provider_status, sizeof(rc.provider_status), "%s",
                                 dawn_receipt_status_name(rc.status));
                        apply_receipt("reference", &rc);
                }
        }
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
