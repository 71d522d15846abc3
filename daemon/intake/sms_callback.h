/* What SMS gateways tell DAWN after the fact: delivery receipts and the
 * replies people send (STOP, START, ACK A17). Pure parsing and checking,
 * no I/O, so the HTTP server, the tests and the fuzzer share it.
 *
 * GOV.UK Notify posts JSON with "Authorization: Bearer <token>" (the token
 * the service team typed into Notify's callback settings). Twilio posts
 * application/x-www-form-urlencoded bodies signed with X-Twilio-Signature:
 * base64(HMAC-SHA1(auth token, URL + every POST parameter's name and value,
 * sorted by name)). */
#ifndef DAWN_SMS_CALLBACK_H
#define DAWN_SMS_CALLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/* Largest callback body DAWN reads: both providers send well under 4 KiB. */
#define DAWN_MAX_CALLBACK_BYTES (16 * 1024)

/* ---- constant-time secrets ---- */

/* True if presented equals expected, in time that depends on neither's
 * content (both are hashed with SHA-256 and the digests compared with
 * CRYPTO_memcmp), so lengths do not leak either. NULL is never equal. */
bool dawn_secret_equal(const char *presented, const char *expected);
/* The token of an "Authorization: Bearer <token>" header value, or NULL
 * (scheme compared case-insensitively, one or more spaces after it). */
const char *dawn_bearer_token(const char *authorization);

/* ---- application/x-www-form-urlencoded ---- */

struct dawn_form_field {
        char *name;
        char *value;
};
struct dawn_form {
        struct dawn_form_field *v;  /* in the order received */
        size_t n;
};
#define DAWN_MAX_FORM_FIELDS 64
/* Decodes body (+ is a space, %XX a byte). Returns 0, -EINVAL (bad %
 * escape, an empty name, more than DAWN_MAX_FORM_FIELDS fields, or a NUL
 * byte after decoding) or -ENOMEM. */
int dawn_form_parse(const char *body, size_t len, struct dawn_form *out);
void dawn_form_clear(struct dawn_form *f);
/* The first value of name, or NULL. */
const char *dawn_form_get(const struct dawn_form *f, const char *name);

/* Twilio's request validation: url is the full URL Twilio called, with its
 * query string, exactly as configured (channels.sms.callback_base_url +
 * path + query). */
bool dawn_twilio_signature_ok(const char *auth_token, const char *url, const struct dawn_form *form,
                              const char *signature);
/* The same signature, base64, malloc'ed (for the test gateway's twin and tests). */
char *dawn_twilio_signature(const char *auth_token, const char *url, const struct dawn_form *form);

/* ---- delivery receipts ---- */

enum dawn_receipt_status {
        DAWN_RECEIPT_DELIVERED,          /* the handset has it */
        DAWN_RECEIPT_PERMANENT_FAILURE,  /* the number does not exist or cannot take texts */
        DAWN_RECEIPT_TEMPORARY_FAILURE,  /* phone off, network trouble: try again */
        DAWN_RECEIPT_IN_PROGRESS,        /* queued/sending/sent: nothing to record yet */
};
const char *dawn_receipt_status_name(enum dawn_receipt_status s);

/* Twilio's MessageSid: two letters ("SM", "MM") and 32 hex digits. */
#define DAWN_TWILIO_SID_CHARS 34

struct dawn_receipt {
        char reference[DAWN_MAX_REF_CHARS + 1];   /* DAWN's own: "<alert>-r<rev>-<row id>" */
        int64_t delivery_id;                      /* the row id parsed from reference */
        bool reply;                               /* "reply-<id>": delivery_id is an sms_replies row */
        enum dawn_receipt_status status;
        char provider_status[48];                 /* the provider's word, for the log: "permanent-failure" */
        /* Twilio's MessageSid ("" for Notify): with provider_status, what makes
         * a status callback one of a kind, so that a replay is recognised */
        char message_sid[DAWN_TWILIO_SID_CHARS + 1];
};

/* Notify's delivery receipt: {"id", "reference", "to", "status",
 * "created_at", "completed_at", "sent_at", "notification_type",
 * "template_id", "template_version"}; unknown keys are ignored (Notify may
 * add some). status: delivered, permanent-failure, temporary-failure,
 * technical-failure (-> temporary), sending/created/pending (-> in
 * progress). A missing or foreign reference is -EINVAL naming "reference". */
int dawn_receipt_parse_notify(const char *body, size_t len, struct dawn_receipt *out,
                              struct dawn_input_error *err);
/* Twilio's status callback: MessageStatus from the form (delivered;
 * undelivered -> temporary; failed -> permanent; accepted, queued, sending,
 * sent, scheduled -> in progress), MessageSid (required: Twilio always sends
 * it, and replays are told apart by it), the reference from the callback
 * URL's "ref" query parameter (DAWN sets StatusCallback to
 * .../twilio/status?ref=..). */
int dawn_receipt_parse_twilio(const struct dawn_form *form, const char *ref, struct dawn_receipt *out,
                              struct dawn_input_error *err);
/* A reply's reference (README "Replies by text"): "reply-<id>" -> id. 0 or -EINVAL. */
int dawn_reference_reply_id(const char *reference, int64_t *id);
/* "<alert>-r<rev>-<row id>" -> row id. 0 or -EINVAL. */
int dawn_reference_delivery_id(const char *reference, int64_t *id);

/* Callbacks that are answered but ignored (a replay, a receipt for no text
 * DAWN sent) are logged at most this many times a minute, so that a flood
 * of them is not a flood of log lines; they are all counted in /metrics. */
#define DAWN_CALLBACK_LOG_PER_MINUTE 10
/* True if one more may be logged now; *unlogged is set to how many were
 * not logged in the minute that just ended (to say so once), else 0. */
bool dawn_callback_log_ok(int64_t now_usec, uint64_t *unlogged);

/* ---- replies ---- */

struct dawn_inbound_sms {
        char from[24];            /* E.164 with '+': Notify sends "447700900123", Twilio "+447700900123" */
        char text[1024];          /* the message, at most this many bytes (cut on a UTF-8 boundary) */
        char message_sid[DAWN_TWILIO_SID_CHARS + 1]; /* Twilio's MessageSid; "" for Notify */
        /* Twilio's OptOutType ("STOP", "START", "HELP"; "" when absent or
         * another value): Twilio's own opt-out handling recognised the text
         * and has answered it already */
        char opt_out_type[8];
};
/* Notify's received-text callback: {"id", "source_number",
 * "destination_number", "message", "date_received"}. */
int dawn_inbound_parse_notify(const char *body, size_t len, struct dawn_inbound_sms *out,
                              struct dawn_input_error *err);
/* Twilio's incoming-message webhook: From, Body, MessageSid (required),
 * OptOutType (optional). */
int dawn_inbound_parse_twilio(const struct dawn_form *form, struct dawn_inbound_sms *out,
                              struct dawn_input_error *err);

enum dawn_reply_kind {
        DAWN_REPLY_STOP,   /* STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT (the words carriers honour) */
        DAWN_REPLY_START,  /* START, UNSTOP, YES */
        DAWN_REPLY_ACK,    /* ACK A17, "ack a17.", "Ack: A17" */
        DAWN_REPLY_OTHER,  /* anything else: kept in the audit log for a person to read */
        DAWN_REPLY_JOIN,   /* JOIN <area>: public texts for an area (id, alias or display name) */
        DAWN_REPLY_AREAS,  /* AREAS: the list of areas one can JOIN */
};
/* The words after JOIN that DAWN reads: longer is no area name. */
#define DAWN_SMS_AREA_WORDS 80
struct dawn_sms_reply {
        enum dawn_reply_kind kind;
        char alert_id[DAWN_MAX_ID_CHARS + 1];  /* for ACK: upper-cased as DAWN writes ids; "" if none given */
        /* for JOIN: the words after it, as sent, joined by single spaces, with
         * punctuation around them dropped ("Isle of Wight", "soton"); "" if none
         * or longer than DAWN_SMS_AREA_WORDS */
        char area[DAWN_SMS_AREA_WORDS + 1];
};
/* Reads a reply: the first word decides, case-insensitively, ignoring
 * surrounding white space and punctuation. */
void dawn_sms_reply_parse(const char *text, struct dawn_sms_reply *out);

/* "+447700900123", "447700900123", "07700 900123"? Only the first two:
 * digits with an optional leading '+', 8..15 digits -> "+<digits>". 0 or -EINVAL. */
int dawn_e164_normalise(const char *in, char out[24]);

#endif
