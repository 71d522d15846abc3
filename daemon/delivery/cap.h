/* An alert revision as a CAP 1.2 document (OASIS Common Alerting Protocol,
 * application/cap+xml), and the Atom feed that lists them. Pure: no I/O, no
 * clock, no store (the caller says which revisions it writes and which one
 * came before), so every byte can be unit-tested.
 *
 * Written with libxml2's xmlTextWriter, which escapes '<', '&', '>' and
 * quotes. What it does not do is refuse characters XML 1.0 cannot hold (C0
 * controls other than tab, LF and CR; U+FFFE, U+FFFF) or invalid UTF-8:
 * every text taken from an alert is cleaned first (such a character becomes
 * U+FFFD), so the document always parses, whatever a stored alert holds.
 *
 * The CAP rules the schema cannot express (CAP 1.2 section 3.2) hold by
 * construction: times as YYYY-MM-DDThh:mm:ss+00:00, identifier and sender
 * free of spaces, commas, '<' and '&' (checked: -EINVAL otherwise), an
 * Update or Cancel references the previous published revision as
 * "sender,identifier,sent", scope Restricted carries a restriction.
 */
#ifndef DAWN_CAP_H
#define DAWN_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "model.h"

#define DAWN_CAP_CONTENT_TYPE "application/cap+xml"
#define DAWN_CAP_ATOM_CONTENT_TYPE "application/atom+xml"
/* What a CAP sender or identifier may not contain (CAP 1.2, 3.2.1). */
#define DAWN_CAP_SENDER_MAX 200
/* The headline's limit: CAP recommends under 160 characters for it. */
#define DAWN_CAP_HEADLINE_CHARS 159
/* The valueName of the ONS GSS geocode in <area> (area_details' gss). */
#define DAWN_CAP_GSS_VALUE_NAME "GSS"
/* <restriction> of an alert whose scope is professional. */
#define DAWN_CAP_RESTRICTION "For services subscribed to DAWN (hostels, pharmacies, outreach and treatment " \
        "teams) only; not for publication."

/* One revision to write. */
struct dawn_cap_doc {
        const char *sender;             /* cap.sender */
        const struct dawn_alert *alert; /* as it stood at the revision: its revision, status, updated_at (= sent) */
        const struct dawn_alert *prev;  /* the previous published revision; NULL: this is the first (msgType Alert) */
        const char *area_name;          /* <areaDesc>: the area's display name */
        const char *gss;                /* the area's ONS GSS code, or NULL: no <geocode> */
};

/* The mapping (README, "CAP 1.2"): from the grade, the evidence and the status. */
const char *dawn_cap_msg_type(const struct dawn_alert *a, bool first);
const char *dawn_cap_urgency(const struct dawn_alert *a);
const char *dawn_cap_severity(enum dawn_grade g);
const char *dawn_cap_certainty(enum dawn_evidence e);
const char *dawn_cap_event(enum dawn_type t);

/* Whether s may be a CAP sender (or identifier): not empty, at most
 * DAWN_CAP_SENDER_MAX bytes, printable ASCII, no space, comma, '<' or '&'. */
bool dawn_cap_valid_sender(const char *s);
/* "<sender>.<alert id>.r<revision>": unique per revision. 0, or -EINVAL
 * when the result would break the rules above or does not fit. */
int dawn_cap_identifier(const char *sender, const char *alert_id, int revision, char *buf, size_t n);
/* CAP's date-time, "2026-12-05T04:16:26+00:00" (UTC, no fraction, never "Z"
 * nor "-00:00"); buf needs 26 bytes. Returns buf, or "" when it cannot. */
char *dawn_cap_time(int64_t usec, char *buf, size_t n);
/* The "sender,identifier,sent" triple of a revision, into buf. 0 or -EINVAL. */
int dawn_cap_reference(const char *sender, const struct dawn_alert *a, char *buf, size_t n);

/* The CAP document (malloc'ed, *len bytes, NUL-terminated). 0, -EINVAL
 * (a first revision that is a cancellation: never served; a bad sender or
 * id), -ENOMEM. */
int dawn_cap_write(const struct dawn_cap_doc *d, char **out, size_t *len);

/* One entry of the Atom feed: an active alert's latest revision. */
struct dawn_cap_entry {
        const struct dawn_alert *alert;
        const char *href;               /* its CAP document, e.g. "/v1/cap/alerts/A17/2" */
};

/* The Atom feed (RFC 4287) of entries: its id and author from sender, its
 * updated the latest entry's (now when there is none). Same returns as
 * dawn_cap_write(). */
int dawn_cap_feed(const char *sender, const char *self_href, const struct dawn_cap_entry *entries, size_t n,
                  int64_t now, char **out, size_t *len);

#endif
