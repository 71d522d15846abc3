/* The email an alert becomes: the whole RFC 5322 message, built from the
 * alert as it stood at the delivery's revision. Pure: no I/O, no clock
 * (the Date: is given), so every byte can be unit-tested.
 *
 * Headers. No CR or LF from input ever reaches a header: every header value
 * has CR, LF and every other control character replaced by a space before
 * anything else happens. A subject with non-ASCII characters is sent as RFC
 * 2047 encoded-words (=?UTF-8?B?...?=); long headers are folded at spaces.
 * Message-ID is <{reference}@dawn.invalid>: the delivery's reference
 * ("<alert>-r<rev>-<row id>") is already unique per revision and recipient
 * and the same on every attempt, so a resent message is recognisable.
 *
 * Body. Plain text, UTF-8, every field of the alert that has a value, lines
 * wrapped at 76 characters, CRLF line endings, then encoded as
 * quoted-printable: that keeps the message 7-bit, which every relay accepts
 * whether or not it offers 8BITMIME (libcurl does not declare BODY=8BITMIME
 * in MAIL FROM, so an 8bit body would be sent without the declaration RFC
 * 6152 requires), and no line can pass SMTP's 998-byte limit whatever the
 * input. ASCII text stays readable as it is.
 *
 * Not curl_mime: it would save only the 40 lines of quoted-printable, its
 * SMTP message is always multipart/mixed around the one text part, the
 * encoding would happen inside the transfer where no unit test sees the
 * bytes, its reader would replace channel_email.c's (whose first call tells
 * a refused message from a refused greeting), and it does no RFC 2047
 * header encoding, so the headers would stay here anyway.
 *
 * Dot-stuffing is libcurl's job: its SMTP upload turns every "CRLF." in the
 * data into "CRLF.." (Curl_smtp_escape_eob in lib/smtp.c) and sends the
 * terminating "CRLF.CRLF" itself, so the message here is not stuffed.
 */
#ifndef DAWN_EMAIL_TEXT_H
#define DAWN_EMAIL_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "model.h"

/* What a message needs besides the alert. */
struct dawn_email_envelope {
        const char *from;       /* the From: address (channels.email.from) */
        const char *to;         /* the recipient's address */
        const char *reference;  /* the delivery's idempotency reference */
        int64_t date_usec;      /* the Date: header, microseconds since the epoch */
};

/* The subject as plain UTF-8 on one line (not yet sanitized or encoded):
 * "[DAWN CRITICAL] Dangerous batch in Southampton: heroin with nitazene (A17)",
 * for a withdrawal "[DAWN] WITHDRAWN: A17 Dangerous batch in Southampton",
 * for a report waiting in the review queue "[DAWN] Review needed: A17
 * Dangerous batch in Southampton: heroin with nitazene".
 * Returns a malloc'ed string, or NULL on allocation failure. */
char *dawn_email_subject(const struct dawn_alert *a, enum dawn_delivery_action action);

/* The body as plain UTF-8 text with CRLF line endings (before the
 * transfer encoding). A review notice says who reported it, that nothing
 * has been sent, every field, and the dawnctl commands that approve or
 * reject it. Returns a malloc'ed string, or NULL. */
char *dawn_email_body(const struct dawn_alert *a, enum dawn_delivery_action action);

/* One header field, "Name: value\r\n" (possibly folded onto several lines,
 * each continuation starting with a space): control characters in value
 * become spaces, and when encode is true and value has non-ASCII bytes it is
 * written as RFC 2047 encoded-words. Returns a malloc'ed string, or NULL. */
char *dawn_email_header(const char *name, const char *value, bool encode);

/* A message in two steps: what every recipient of a revision gets alike
 * (subject, body, the alert's headers), rendered once, then each
 * recipient's own message around it (Date, From, To, Message-ID). */
struct dawn_email_rendered {
        char *subject;          /* "Subject: ...\r\n", encoded and folded */
        char *rest;             /* MIME-Version through the X-DAWN-* headers, the blank line, the body */
};
/* Returns a malloc'ed struct dawn_email_rendered, or NULL. */
struct dawn_email_rendered *dawn_email_render(const struct dawn_alert *a, enum dawn_delivery_action action);
struct dawn_escalation_facts;
struct dawn_email_rendered *dawn_email_render_escalation(const struct dawn_alert *a,
                                                         const struct dawn_escalation_facts *f);
/* The whole message for one recipient, byte for byte what
 * dawn_email_message() gives. Returns a malloc'ed string, or NULL. */
char *dawn_email_assemble(const struct dawn_email_rendered *r, const struct dawn_email_envelope *env);
/* Frees r (NULL is fine). Returns NULL. */
struct dawn_email_rendered *dawn_email_rendered_free(struct dawn_email_rendered *r);

/* The whole message: headers, a blank line, the quoted-printable body,
 * CRLF throughout. Returns a malloc'ed string, or NULL. */
char *dawn_email_message(const struct dawn_alert *a, enum dawn_delivery_action action,
                         const struct dawn_email_envelope *env);

/* An escalation (escalation_text.h) as a whole message, headers as for the alert's. */
char *dawn_email_escalation_message(const struct dawn_alert *a, const struct dawn_escalation_facts *f,
                                    const struct dawn_email_envelope *env);

#endif
