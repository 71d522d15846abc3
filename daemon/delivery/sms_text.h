/* The SMS a phone shows: built for a small screen and a 3 a.m. reader.
 * Grade, type, what it was sold as and what was found, area, the harm ("4
 * overdoses, 1 death."), what it looks like, the key advice and the alert
 * id, in that order of importance, within sms.max_segments parts. GSM-7 aware: 160
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
 * (>= 1); when it does not fit, the least important parts go first: in an
 * alert's text the advice (or summary) is cut, the appearance and then the
 * harm left out whole, the headline cut last (sms_text.c, publish_text);
 * cuts end at a clause, else a word, else a character, with "…" or "..."
 * (whichever keeps the encoding). The grade and the alert id are always
 * kept. Returns a malloc'ed string, or NULL on allocation failure. */
char *dawn_sms_text(const struct dawn_alert *a, enum dawn_delivery_action action, int max_segments);
/* The same, fitted so that prefix (channels.sms.sender_prefix, e.g.
 * "DAWN: "; NULL or "": none) followed by the text fits max_segments parts.
 * The prefix is not in the result: the caller (Twilio) or the provider
 * (Notify's service name) puts it in front. */
char *dawn_sms_text_prefixed(const struct dawn_alert *a, enum dawn_delivery_action action, int max_segments,
                             const char *prefix);

/* head, then the variable parts (at most 5, most important first) and
 * tail, joined by spaces, within max_segments parts: the least important
 * variable part is cut (at a clause, a word, a character) or dropped first;
 * head and tail are never cut. Returns a malloc'ed string, or NULL. */
char *dawn_sms_fit(const char *head, const char *const *var, size_t n_var, const char *tail, int max_segments);
/* Whether text, after the budget prefix in force, fits max_segments parts
 * (for other texts' own fitting: public_text.c). */
bool dawn_sms_fits(const char *text, int max_segments);
/* Every text fitted from now on leaves room for prefix (NULL: none) before
 * it, as dawn_sms_text_prefixed() does for one: the SMS channel sets it
 * around building any text (alert, public, escalation). Returns the prefix
 * in force before, to put back. */
const char *dawn_sms_budget_prefix(const char *prefix);

#endif
