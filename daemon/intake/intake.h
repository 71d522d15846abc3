/* Intake: what happens to a report between "parsed" and "durable".
 * Validation, idempotency by (source, source_ref), deduplication into an
 * active alert, grading, and the outbox rows for everyone the routing rules
 * name. Every way in (control socket, later HTTP and MQTT ingest) calls
 * these, inside a transaction the caller opened and will commit before it
 * tells the submitter anything. */
#ifndef DAWN_INTAKE_H
#define DAWN_INTAKE_H

#include <cJSON.h>
#include <stdint.h>

#include "alert.h"
#include "config.h"
#include "store.h"

struct dawn_intake {
        struct dawn_store *store;
        const struct dawn_config *config;
        int64_t now;             /* microseconds since the epoch */
        const char *source;      /* who reported it: "local:alice", a partner's source id */
        const char *actor;       /* who did it, for the audit log: "uid 1000 (alice)" */
        enum dawn_source_role role; /* issuer (officers too): straight out; reporter: to the review queue */
};

enum dawn_intake_outcome {
        DAWN_INTAKE_NEW,         /* a new alert */
        DAWN_INTAKE_MERGED,      /* a corroboration of an active alert */
        DAWN_INTAKE_DUPLICATE,   /* this (source, source_ref) was seen before: the first answer again */
        DAWN_INTAKE_CHANGED,     /* an update or cancel */
        /* an officer's review (dawnctl approve/reject) of a held report or a proposal */
        DAWN_INTAKE_APPROVED, DAWN_INTAKE_PROPOSAL_APPROVED,
        DAWN_INTAKE_REJECTED, DAWN_INTAKE_PROPOSAL_REJECTED,
};

/* The words the ways in answer an outcome with, here and nowhere else: they
 * are documented (docs/SPEC.md, the partner API) and partners and scripts
 * read them, so they never change.
 * The HTTP and MQTT "outcome" member, and the label of
 * dawn_intake_accepted_total: "new", or "pending" for a new alert held for
 * review (status), "merged", "duplicate". */
const char *dawn_intake_outcome_word(enum dawn_intake_outcome o, enum dawn_status status);
/* The member dawnctl's answer sets to true on the alert:
 * "merged_into_existing", "duplicate_of_submission", "approved",
 * "proposal_approved", "rejected", "proposal_rejected", or NULL (nothing
 * set: a new alert, an update, a cancel). */
const char *dawn_intake_outcome_flag(enum dawn_intake_outcome o);

/* Each returns 0 and fills *result (dawn_alert_init'ed by the caller), or
 * -EINVAL with err naming the field, or another -errno from the store. */
int dawn_intake_issue(const struct dawn_intake *in, const cJSON *input, struct dawn_alert *result,
                      enum dawn_intake_outcome *outcome, struct dawn_input_error *err);
int dawn_intake_update(const struct dawn_intake *in, const char *id, const cJSON *input,
                       struct dawn_alert *result, struct dawn_input_error *err);
int dawn_intake_cancel(const struct dawn_intake *in, const char *id, const char *reason,
                       struct dawn_alert *result, struct dawn_input_error *err);

/* The review queue: a pending report goes out as an alert (a new revision
 * that recipients see first), or is turned down (cancelled with the reason;
 * nobody but the reviewers ever heard of it). -EINVAL naming "id" when the
 * alert is not pending. */
int dawn_intake_approve(const struct dawn_intake *in, const char *id, struct dawn_alert *result,
                        struct dawn_input_error *err);
int dawn_intake_reject(const struct dawn_intake *in, const char *id, const char *reason,
                       struct dawn_alert *result, struct dawn_input_error *err);

/* The alert reached its expires_at: status expired, a new revision, and
 * its withdrawal to every MQTT topic that had it (and to text and mail
 * recipients only with expiry.notify). Returns 0, or 1 if the alert was no
 * longer open (nothing done), or -errno. */
int dawn_intake_expire(const struct dawn_intake *in, const char *id, struct dawn_alert *result);

#endif
