/* The SMS a phone shows: built for a small screen and a 3 a.m. reader.
 * Grade, type, area, what it was sold as and what was found, the key
 * advice and the alert id, within sms.max_segments parts. GSM-7 aware: 160
 * characters in one part, 153 per part when split; a single character
 * outside GSM-7 makes the whole text UCS-2 (70, then 67 per part). */
#ifndef DAWN_SMS_TEXT_H
#define DAWN_SMS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "alert.h"
#include "model.h"

struct dawn_sms_size {
        bool ucs2;          /* some character is outside GSM-7 (basic set + extension table) */
        size_t units;       /* GSM-7 septets (an extension character counts 2) or UTF-16 code units */
        int segments;       /* parts the network sends: 1 if units fit one part, else ceil(units / per-part) */
};

/* Measures UTF-8 text. Invalid UTF-8 counts as UCS-2, one unit per byte. */
struct dawn_sms_size dawn_sms_measure(const char *utf8);

/* The text for a delivery: action PUBLISH builds the alert's text, action
 * WITHDRAW a short retraction ("DAWN A17 WITHDRAWN: <reason>"), action
 * REVIEW a notice to a public-health officer that a partner's report waits
 * in the review queue ("DAWN A17 REVIEW NEEDED: warning batch, ...,
 * reported by ambulance. <summary> dawnctl approve A17 or dawnctl reject
 * A17 --reason TEXT"). The result fits max_segments parts
 * (>= 1); when it does not fit, the advice (or summary) and then the other
 * parts are truncated at a character boundary with "…" or "..." (whichever
 * keeps the encoding), and the alert id is always kept. Returns a malloc'ed
 * string, or NULL on allocation failure. */
char *dawn_sms_text(const struct dawn_alert *a, enum dawn_delivery_action action, int max_segments);
/* The same, fitted so that prefix (channels.sms.sender_prefix, e.g.
 * "DAWN: "; NULL or "": none) followed by the text fits max_segments parts.
 * The prefix is not in the result: the caller (Twilio) or the provider
 * (Notify's service name) puts it in front. */
char *dawn_sms_text_prefixed(const struct dawn_alert *a, enum dawn_delivery_action action, int max_segments,
                             const char *prefix);

#endif
