/* What an escalation says (README "Escalation"): pure, for unit tests.
 *
 * "DAWN A17 CRITICAL not acknowledged by Booth House (hostel) 15 min after
 * it was issued; SMS delivered, dashboard not reached. <summary>"
 *
 * The delivery phrase says what became of the alert's own deliveries to the
 * subscriber who did not acknowledge, per channel (the best state each
 * reached), so that whoever is told knows whether the text even arrived. */
#ifndef DAWN_ESCALATION_TEXT_H
#define DAWN_ESCALATION_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct dawn_escalation_facts {
        const char *alert_id;      /* "A17" */
        enum dawn_grade grade;
        const char *about;         /* the subscriber id that did not acknowledge */
        const char *name;          /* its display name ("Booth House") */
        const char *kind;          /* its kind ("hostel") */
        int64_t after_usec;        /* from the clock's start to the escalation */
        const char *deliveries;    /* dawn_escalation_phrase(): "SMS delivered, dashboard not reached" */
        const char *summary;       /* the alert's summary, may be NULL */
};

/* The best state each channel reached, for dawn_escalation_phrase: fold
 * every delivery in with dawn_escalation_seen. */
struct dawn_escalation_seen {
        bool any[DAWN_CHANNEL_COUNT];
        enum dawn_delivery_state best[DAWN_CHANNEL_COUNT];
};
void dawn_escalation_seen_add(struct dawn_escalation_seen *s, enum dawn_channel_kind channel,
                              enum dawn_delivery_state state);
/* "SMS delivered, email failed, dashboard not reached" (channels in that
 * order), "nothing was sent" when nothing was. Writes at most size bytes. */
void dawn_escalation_phrase(const struct dawn_escalation_seen *s, char *buf, size_t size);

/* "15 min", "45 s", "3 h 5 min", "2 d" */
void dawn_escalation_duration(int64_t usec, char *buf, size_t size);

/* The SMS, within max_segments parts: the summary is cut first, then the
 * delivery phrase; the head (id, grade, who, how long) is never cut. */
char *dawn_escalation_sms(const struct dawn_escalation_facts *f, int max_segments);
/* The email's subject and body (plain UTF-8, CRLF line endings). */
char *dawn_escalation_subject(const struct dawn_escalation_facts *f);
char *dawn_escalation_body(const struct dawn_escalation_facts *f);
/* The MQTT payload (not retained), on <prefix>/subscribers/<to>/escalations/<alert id>:
 * {"alert","grade","subscriber","name","kind","after_seconds","deliveries","summary","text"} */
char *dawn_escalation_json(const struct dawn_escalation_facts *f);

#endif
