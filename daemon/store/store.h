/* The store: SQLite in WAL mode with synchronous=FULL. The only module that
 * speaks SQL; everything else asks it questions in the domain's words.
 *
 * Writes happen inside one transaction opened with dawn_store_begin()
 * (BEGIN IMMEDIATE) and made durable by dawn_store_commit(). The daemon
 * groups every request that arrives in one turn of the event loop into one
 * transaction (group commit), with a savepoint around each request so that
 * one refused request leaves the others' work alone.
 *
 * Errors are -errno: -ENOSPC when the disk is full (a temporary refusal for
 * the submitter), -EIO for I/O errors (the daemon stops: never retry a
 * failed fsync), -EBUSY when another process holds the database, -EAGAIN
 * when the database is away for now (PostgreSQL: the connection was lost and
 * is being made again; a COMMIT that fails so may or may not have been kept).
 */
#ifndef DAWN_STORE_H
#define DAWN_STORE_H

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "model.h"

struct dawn_store;

/* The schema version this build writes. */
#define DAWN_STORE_SCHEMA_VERSION 11

/* Bytes of a statement journal (a savepoint's undo) kept in memory before it spills
 * to a temporary file: twice what a busy commit's needed. SQLite allocates it as one
 * block of this size per transaction, so it is also a cost per commit: at 4 MiB each
 * commit mmap'ed, faulted in and unmapped a fresh 4 MiB (dawnd's CPU per alert 4x,
 * 1,636-1,772 us against 387-505). It must stay under glibc's mmap threshold as
 * dawnd sets it (main.c checks), so that it comes from the heap kept warm. */
#define DAWN_STORE_STMT_JOURNAL_MEMORY (128 * 1024)

int dawn_store_open(const char *path, struct dawn_store **out);

struct dawn_store_options {
        enum dawn_store_backend backend;
        const char *path;     /* SQLite */
        const char *conninfo; /* PostgreSQL: libpq's, hosts and target_session_attrs included */
        const char *password; /* PostgreSQL: read from password_file, or NULL (.pgpass, peer) */
        const char *node;     /* this dawnd's node id: its application_name, its claims */
        int64_t lease_usec;   /* its claims' lease; 0: DAWN_STORE_LEASE_USEC */
        int64_t timeout_usec; /* PostgreSQL: the longest the loop waits for one answer; 0: DAWN_STORE_TIMEOUT_USEC */
};
/* store.timeout's default: a live database answers any of the store's
 * statements in milliseconds; one that has not answered in this is treated
 * as away (the connection is made again), so the loop is never held longer. */
#define DAWN_STORE_TIMEOUT_USEC (5 * 1000000LL)
int dawn_store_open_with(const struct dawn_store_options *o, struct dawn_store **out);
struct dawn_store *dawn_store_close(struct dawn_store *s);
/* The last SQLite error message, for logs. */
const char *dawn_store_errmsg(struct dawn_store *s);
/* The -errno of the store's last failed call, or 0 if it did not fail. */
int dawn_store_last_error(struct dawn_store *s);

int dawn_store_begin(struct dawn_store *s);
/* 0, or -errno and the transaction is gone (rolled back); or -EINPROGRESS:
 * the connection was lost with the COMMIT sent and no answer, so it may have
 * been kept (PostgreSQL): ask dawn_store_commit_outcome(). */
int dawn_store_commit(struct dawn_store *s);
/* The outcome of the COMMIT that answered -EINPROGRESS: 0 it was kept,
 * -ENOENT it was not (and never will be), -EAGAIN not known yet (the
 * database is away: ask again later), another -errno: it cannot be known.
 * Asked between batches, never inside one. */
int dawn_store_commit_outcome(struct dawn_store *s);
/* The outcome is given up on: what the lost COMMIT would have counted is not. */
void dawn_store_commit_outcome_abandon(struct dawn_store *s);
/* False also when SQLite rolled the transaction back by itself after an
 * error in a statement (SQLITE_FULL, IOERR, BUSY, NOMEM). */
bool dawn_store_in_transaction(struct dawn_store *s);
int dawn_store_savepoint(struct dawn_store *s);
int dawn_store_release(struct dawn_store *s);
void dawn_store_rollback_to_savepoint(struct dawn_store *s);
/* Checks the store can still be written (for the watchdog): 0 or -errno. */
int dawn_store_check_writable(struct dawn_store *s);

/* ---- alerts ---- */
/* A fresh alert id ("A17"). */
int dawn_store_next_alert_id(struct dawn_store *s, char id[DAWN_MAX_ID_CHARS + 1]);
/* Writes the alert's current state; with new_revision also records
 * a->revision as a revision that recipients see. */
int dawn_store_save_alert(struct dawn_store *s, const struct dawn_alert *a, const char *fingerprint,
                          bool new_revision);
/* 1 and *a filled, 0 if there is no such alert, or -errno. */
int dawn_store_load_alert(struct dawn_store *s, const char *id, struct dawn_alert *a);
/* An active (or pending) alert with this fingerprint updated at or after
 * since_usec: 1 and id filled, 0 if none. */
int dawn_store_find_match(struct dawn_store *s, const char *fingerprint, int64_t since_usec,
                          char id[DAWN_MAX_ID_CHARS + 1]);
/* Alerts as JSON objects, newest first: active and pending ones, or all. */
int dawn_store_list_alerts(struct dawn_store *s, bool all, cJSON *array);
/* Up to limit ids of open alerts whose expires_at is at or before now,
 * soonest first; returns how many. */
int dawn_store_due_expiries(struct dawn_store *s, int64_t now, char (*ids)[DAWN_MAX_ID_CHARS + 1], int limit);
/* The earliest expires_at of an open alert, or 0 if none. */
int64_t dawn_store_next_expiry(struct dawn_store *s);
/* How many alerts are active or pending (without reading them). */
int dawn_store_count_open_alerts(struct dawn_store *s);
/* How many deliveries wait to be sent (pending or retrying), or -errno. */
int64_t dawn_store_count_waiting(struct dawn_store *s);
/* The alert JSON as it stood at a revision (malloc'ed), 1, 0 if none. */
int dawn_store_revision_json(struct dawn_store *s, const char *id, int revision, char **json);

/* ---- reports ---- */
/* (source, source_ref) seen before: 1 and alert_id filled, 0 if not. */
int dawn_store_find_submission(struct dawn_store *s, const char *source, const char *source_ref,
                               char alert_id[DAWN_MAX_ID_CHARS + 1]);
int dawn_store_add_submission(struct dawn_store *s, const char *source, const char *source_ref,
                              const char *alert_id, int64_t now);
/* A later report merged into an alert. The same report again from the
 * same source, word for word (its latest to this alert), is not stored
 * again: that row counts it ("repeats" in dawn_store_corroborations_json). */
int dawn_store_add_corroboration(struct dawn_store *s, const char *alert_id, const char *source,
                                 const struct dawn_alert *report, int64_t now);
/* What an alert's counted corroborations say together (dawn_grade_fold in
 * grade.h), kept by the caller as each one joins, and how many joined: 1 and
 * *sum (its evidence, casualties, fatalities and adulterants) and *reports
 * (when not NULL) filled, 0 if none has (sum left as it was), or -errno.
 * Clusters keep sums of their own instead (their alert and cluster count). */
int dawn_store_load_merged(struct dawn_store *s, const char *alert_id, struct dawn_alert *sum, int64_t *reports);
int dawn_store_save_merged(struct dawn_store *s, const char *alert_id, const struct dawn_alert *sum, int64_t reports);
/* The merged reports, oldest first; *out is an array of n alerts to
 * dawn_alert_clear() and free(). */
int dawn_store_load_corroborations(struct dawn_store *s, const char *alert_id, struct dawn_alert **out,
                                   size_t *n);
/* The first limit (-1: all) counted corroborations, oldest first, as for
 * dawn_store_load_corroborations (held ones are not counted). */
int dawn_store_first_corroborations(struct dawn_store *s, const char *alert_id, int limit, struct dawn_alert **out,
                                    size_t *n);
/* Every corroboration, held ones too (with "proposal": their proposal id). */
int dawn_store_corroborations_json(struct dawn_store *s, const char *alert_id, cJSON *array);
/* The counted corroborations of a pending alert are dropped: an issuer's
 * report is about to stand in their place, and intake records each again
 * (intake.c, "an issuer vouches for its own report"). Held ones stay. */
int dawn_store_drop_counted_corroborations(struct dawn_store *s, const char *alert_id);

/* ---- audit ---- */
int dawn_store_audit(struct dawn_store *s, const char *actor, const char *action, const char *alert_id,
                     const char *detail, int64_t now);

/* ---- outbox ---- */
struct dawn_outbox_row {
        int64_t id;
        char alert_id[DAWN_MAX_ID_CHARS + 1];
        int revision;
        char *subscriber;
        enum dawn_channel_kind channel;
        char *recipient;
        enum dawn_delivery_action action;
        enum dawn_delivery_state state;
        int attempts;
        int64_t created_at;
        char *alert_json;       /* the revision's alert JSON */
        char purpose[16];       /* "alert", "escalation" or "public" */
        char *about;            /* an escalation's: the subscriber who did not acknowledge; else "" */
};
void dawn_outbox_row_clear(struct dawn_outbox_row *r);

/* One outbox row per (alert revision, subscriber, channel, recipient). */
int dawn_store_add_delivery(struct dawn_store *s, const char *alert_id, int revision, const char *subscriber,
                            enum dawn_channel_kind channel, const char *recipient,
                            enum dawn_delivery_action action, int64_t now);
/* Older revisions' deliveries that have not gone yet are superseded by a
 * newer revision: nobody needs yesterday's text after today's. */
int dawn_store_supersede_deliveries(struct dawn_store *s, const char *alert_id, int before_revision,
                                    int64_t now);
/* Everyone who was due any revision of the alert (for cancel and
 * withdrawal): calls fn for each distinct (subscriber, channel, recipient),
 * with reached true if some revision was delivered to it or is on its way,
 * and escalation_only true if all it had were escalations (it never had
 * the alert itself). */
typedef int (*dawn_recipient_fn)(const char *subscriber, enum dawn_channel_kind channel, const char *recipient,
                                 bool reached, bool escalation_only, void *userdata);
int dawn_store_for_each_recipient(struct dawn_store *s, const char *alert_id, dawn_recipient_fn fn,
                                  void *userdata);
/* Up to limit deliveries on channel that are due at now, oldest first.
 * Fills rows (caller-provided array); returns how many. */
int dawn_store_due_deliveries(struct dawn_store *s, enum dawn_channel_kind channel, int64_t now,
                              struct dawn_outbox_row *rows, int limit);
/* The earliest next_at of a waiting delivery on channel, or 0 if none. */
int64_t dawn_store_next_due(struct dawn_store *s, enum dawn_channel_kind channel);
/* State changes: the attempt starts (in-flight, attempts + 1; -ESTALE if
 * the delivery was not waiting), or it ended (a delivery no longer pending,
 * retrying or in flight is left as it is: a receipt decided it). */
int dawn_store_delivery_started(struct dawn_store *s, int64_t id, int64_t now);
int dawn_store_delivery_finished(struct dawn_store *s, int64_t id, enum dawn_delivery_state state,
                                 const char *error, int64_t next_at, int64_t now);
/* Moves a delivery from one state to another, as dawn_delivery_next()
 * (outbox.h) allows: only if it is in from now. error NULL keeps the last
 * error. 1 moved, 0 it was not in from, or -errno. */
int dawn_store_delivery_move(struct dawn_store *s, int64_t id, enum dawn_delivery_state from,
                             enum dawn_delivery_state to, const char *error, int64_t next_at, int64_t now);
/* Deliveries on channel still waiting (pending or retrying) that were
 * created before created_before fail with reason. Returns how many. */
int dawn_store_fail_expired(struct dawn_store *s, enum dawn_channel_kind channel, int64_t created_before,
                            const char *reason, int64_t now);
/* At start-up: deliveries left in flight by a crash go back to pending. */
int dawn_store_requeue_inflight(struct dawn_store *s, int64_t now);
/* The same for one channel, stopped by a reload: this node's deliveries in
 * flight on it (and for SMS the replies) wait again; the channels it keeps
 * running keep theirs in flight. How many, or -errno. */
int dawn_store_requeue_channel(struct dawn_store *s, enum dawn_channel_kind channel, int64_t now);
int dawn_store_deliveries_json(struct dawn_store *s, const char *alert_id, cJSON *array);
/* {"mqtt": {"pending": 3, "delivered": 10, ...}, ...} */
int dawn_store_queue_counts(struct dawn_store *s, cJSON *object);
/* ---- partner intake ---- */
/* Alerts of a type updated at or after since_usec, oldest first: the open
 * ones (active, pending), or with open_only false also those that expired
 * (an overdose report still counts towards a cluster after its own expiry;
 * a cancelled one, withdrawn as a mistake, never does). *out as for
 * dawn_store_load_corroborations. */
int dawn_store_alerts_by_type(struct dawn_store *s, enum dawn_type type, int64_t since_usec, bool open_only,
                              struct dawn_alert **out, size_t *n);
/* A number replied STOP (opted_out) or START. Opting out also turns every
 * text still waiting for that number into opted-out. Returns 1 if that
 * changed anything, 0 if it was so already, or -errno. */
int dawn_store_set_opt_out(struct dawn_store *s, const char *number, bool opted_out, const char *via,
                           int64_t now);
/* Texts waiting for a number that has opted out become opted-out. */
int dawn_store_hold_opted_out(struct dawn_store *s, const char *number, int64_t now);
/* 1 if the number has opted out of texts, 0 if not, or -errno. */
int dawn_store_opted_out(struct dawn_store *s, const char *number);
/* [{"number": "+447700900123", "via": "notify", "since": "2026-..."}] (not masked: the caller masks) */
int dawn_store_opt_outs_json(struct dawn_store *s, cJSON *array);
/* An acknowledgement; the same one again is not recorded twice. 1 added, 0 seen before, -errno. */
int dawn_store_add_ack(struct dawn_store *s, const char *alert_id, int revision, const char *subscriber,
                       const char *via, const char *by, int64_t now);
int dawn_store_acks_json(struct dawn_store *s, const char *alert_id, cJSON *array);
/* A subscriber id's longest (config.c's SUBSCRIBER_ID_MAX) */
#define DAWN_MAX_SUBSCRIBER_CHARS 64
/* Whether the alert reached a subscriber or a number on channel: a
 * publish delivery of some revision that the peer has (sent or delivered).
 * subscriber and recipient narrow the search (NULL: any). 1 with *revision
 * (the latest revision that reached them) and reached_subscriber (whose
 * delivery it was) filled where not NULL, 0 if it did not, or -errno. */
int dawn_store_alert_reached(struct dawn_store *s, const char *alert_id, enum dawn_channel_kind channel,
                             const char *subscriber, const char *recipient, int *revision,
                             char reached_subscriber[DAWN_MAX_SUBSCRIBER_CHARS + 1]);
/* A Twilio request (MessageSid, kind: its status, or "inbound") taken now,
 * remembered until keep_until; expired ones are pruned a few at a time.
 * 1 if new, 0 if it was taken before (a replay), or -errno. */
int dawn_store_note_twilio_request(struct dawn_store *s, const char *sid, const char *kind, int64_t keep_until,
                                   int64_t now);
/* One outbox row without its alert JSON: 1 and *row filled (dawn_outbox_row_clear it), 0 if none. */
int dawn_store_load_delivery(struct dawn_store *s, int64_t id, struct dawn_outbox_row *row);

/* ---- clusters ----
 * areas_json is a JSON array of area ids: the areas related to a report's
 * (itself, those above it and those below it). Both queries go through an
 * index on the area, so what they read does not grow with the window. */
/* The oldest open (active or pending) cluster in those areas updated at
 * or after since_usec: 1 and id filled, 0 if none. */
int dawn_store_find_open_cluster(struct dawn_store *s, const char *areas_json, int64_t since_usec,
                                 char id[DAWN_MAX_ID_CHARS + 1]);
/* The overdose reports in those areas updated at or after since_usec that
 * count towards no cluster yet (active, pending or expired; a cancelled one
 * never counts), oldest first; *out as for dawn_store_load_corroborations. */
int dawn_store_unclustered_reports(struct dawn_store *s, const char *areas_json, int64_t since_usec,
                                   struct dawn_alert **out, size_t *n);
/* The report counts towards this cluster, and so towards no other. */
int dawn_store_set_report_cluster(struct dawn_store *s, const char *report_id, const char *cluster_id);
/* How many reports a cluster stands on: add n, or read it (-errno on failure). */
int dawn_store_cluster_add_reports(struct dawn_store *s, const char *cluster_id, int64_t n);
int64_t dawn_store_cluster_reports(struct dawn_store *s, const char *cluster_id);

/* ---- proposals: a reporter's grade rise, held for an officer ----
 * A proposal has an id of its own ("P12"), never an alert's. Its review
 * notice is an outbox row of the alert at revision
 * DAWN_PROPOSAL_REVISION_BASE + 12, far above any revision recipients see,
 * so that it neither collides with nor is superseded by the alert's own. */
#define DAWN_PROPOSAL_REVISION_BASE 100000000
#define DAWN_PROPOSAL_SEQ_MAX 899999999   /* the notice's revision stays 9 digits (callback.c) */
struct dawn_proposal {
        char id[DAWN_MAX_ID_CHARS + 1];
        int revision;             /* of its review notice */
        char alert_id[DAWN_MAX_ID_CHARS + 1];
        int64_t corroboration;    /* the held report's row */
        char source[128];
        char status[16];          /* pending, approved, rejected, withdrawn, superseded */
        enum dawn_grade grade_from, grade_to;
        int64_t created_at;
};
int dawn_store_next_proposal_id(struct dawn_store *s, char id[DAWN_MAX_ID_CHARS + 1], int *revision);
/* A corroboration recorded but held by a proposal: not counted until approved. *row is its row. */
int dawn_store_add_held_corroboration(struct dawn_store *s, const char *alert_id, const char *source,
                                      const struct dawn_alert *report, const char *proposal, int64_t now,
                                      int64_t *row);
/* The held report is replaced by report (the claims of every report its
 * source repeated, folded together), held now by proposal; its repeats count
 * one more. */
int dawn_store_update_held_corroboration(struct dawn_store *s, int64_t row, const struct dawn_alert *report,
                                         const char *proposal, int64_t now);
/* One corroboration's report: 1 and *report filled, 0 if none. */
int dawn_store_corroboration_report(struct dawn_store *s, int64_t row, struct dawn_alert *report);
/* json: the proposal as dawnctl pending lists it and its review notice reads. */
int dawn_store_add_proposal(struct dawn_store *s, const struct dawn_proposal *p, const char *json);
/* 1 and *p filled, 0 if there is no such proposal. */
int dawn_store_load_proposal(struct dawn_store *s, const char *id, struct dawn_proposal *p);
/* The latest pending proposal of the alert from source: 1 and *p filled, 0 if none. */
int dawn_store_pending_proposal(struct dawn_store *s, const char *alert_id, const char *source,
                                struct dawn_proposal *p);
/* A pending proposal now says json, from p->grade_from to p->grade_to; so
 * does its review notice if it has not gone yet. */
int dawn_store_update_proposal(struct dawn_store *s, const struct dawn_proposal *p, const char *json);
/* A pending proposal is approved (its report now counts) or rejected; its
 * review notices not sent yet are superseded. */
int dawn_store_decide_proposal(struct dawn_store *s, const struct dawn_proposal *p, const char *status,
                               const char *by, const char *reason, int64_t now);
/* The alert was cancelled or expired: its pending proposals are closed with status. */
int dawn_store_close_proposals(struct dawn_store *s, const char *alert_id, const char *status, const char *reason,
                               int64_t now);
/* Review notices of revisions from..to that have not gone are superseded. */
int dawn_store_supersede_notices(struct dawn_store *s, const char *alert_id, int from_revision, int to_revision,
                                 int64_t now);
/* The pending proposals of active alerts, oldest first, as stored JSON. */
int dawn_store_waiting_proposals_json(struct dawn_store *s, cJSON *array);

/* The SQLite virtual-machine steps run by the store's statements since it
 * was opened: what the store read and wrote, counted rather than timed
 * (unit tests check that a report's cost does not grow with the window). */
uint64_t dawn_store_vm_steps(struct dawn_store *s);
/* Tests: prepares every statement the store has; how many the database
 * refused, each named in failed (an array) with the database's reason. */
int dawn_store_prepare_all(struct dawn_store *s, cJSON *failed);

/* Alerts by status and grade: {"active": {"warning": 2, "critical": 1}, "pending": {...}, ...} */
int dawn_store_alert_counts(struct dawn_store *s, cJSON *object);

/* ---- history and audit (dawnctl history, dawnctl audit) ----
 * Both read at most limit rows (by index) and DAWN_TRAIL_MAX_BYTES of their
 * text, so that one answer costs a bounded amount however long the trail
 * has grown; *more says whether rows were left out. Times are RFC 3339
 * (UTC). */
#define DAWN_TRAIL_MAX_BYTES (4 * 1024 * 1024)
/* Every event on the alert, oldest first (at one instant, a decision before
 * the grade change it made): [{"at", "actor", "event", "revision" (when
 * the event made or names one), "detail"}]. Events: the audit actions
 * about the alert (issue, report, update, corroborate, propose, approve,
 * reject, cancel, expire, cluster, ...), "grade" (the revision's grade,
 * "warning -> critical: <reasons>"), "ack" (from the acks table),
 * "proposal-<status>" (closed by dawnd when the alert ended),
 * "escalation-wait", "escalate", "escalation-acknowledged",
 * "escalation-stopped" (the escalations table). The oldest events when
 * there are more. */
int dawn_store_history_json(struct dawn_store *s, const char *alert_id, int limit, cJSON *array, bool *more);
/* Audit rows at or after since (usec), of actor only when not NULL,
 * oldest first: [{"at", "actor", "action", "alert"?, "detail"}]; the newest
 * ones when there are more. */
int dawn_store_audit_json(struct dawn_store *s, int64_t since, const char *actor, int limit, cJSON *array,
                          bool *more);
/* ---- the panel's summary ----
 * Figures over the alerts issued in [since, until) (microseconds): those
 * whose first revision that recipients saw was made in the window (at once
 * for an issuer's alert, at approval for a reviewed one). Read only; each
 * call reads at most DAWN_SUMMARY_MAX_ROWS rows and sets *capped (when not
 * NULL) if there were more. fn is called per row; a negative return stops
 * the walk and is returned. */
#define DAWN_SUMMARY_MAX_ROWS 1000000
struct dawn_summary_row {
        const char *text[3];   /* valid during the call */
        int64_t num[2];
        bool has_num[2];       /* false: NULL */
};
typedef int (*dawn_summary_fn)(const struct dawn_summary_row *row, void *userdata);
/* text: type, grade, area; num: when it went out, and when the first report
 * it stands on came (absent unless it is a cluster or waited for review). */
int dawn_store_summary_alerts(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                              void *userdata, bool *capped);
/* text: channel, state; num: deliveries (outbox rows, and for pruned alerts
 * the counts retention kept). */
int dawn_store_summary_deliveries(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                                  void *userdata, bool *capped);
/* text: channel; num: microseconds from queued to delivered (or sent), per
 * delivery that got there, pruned alerts' kept times included. */
int dawn_store_summary_delivery_times(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                                      void *userdata, bool *capped);
/* One row per (alert, subscriber) its own rules queued the alert for: text:
 * subscriber; num: microseconds from first queued to its first ack (absent:
 * not acknowledged). Pruned alerts have no rows (their recipients are gone). */
int dawn_store_summary_acks(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                            void *userdata, bool *capped);
/* text: escalation state; num: clocks in that state. */
int dawn_store_summary_escalations(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                                   void *userdata, bool *capped);
struct dawn_summary_people {
        int64_t optouts, optouts_in_window;
        int64_t public_numbers, public_subscriptions, public_joined_in_window;
};
int dawn_store_summary_people(struct dawn_store *s, int64_t since, int64_t until, struct dawn_summary_people *out);

/* Tests: the next dawn_store_commit() rolls back and fails with error
 * (-ENOSPC as on a full disk, -EBUSY, -EIO...). */
void dawn_store_fail_next_commit(struct dawn_store *s, int error);
/* Tests (PostgreSQL): the next COMMIT's answer is lost with the connection,
 * after the COMMIT reached the server (sent: it is kept) or before. */
void dawn_store_lose_next_commit(struct dawn_store *s, bool sent);
/* Tests: the database may grow by at most this many pages (PRAGMA
 * max_page_count); a write past that fails with SQLITE_FULL, as on a full
 * disk. Returns 0 or -errno. */
int dawn_store_limit_growth(struct dawn_store *s, int pages);

/* ---- retention (UK GDPR storage limitation) ----
 * An ended alert's delivery details go once it ended longer ago than
 * retention.deliveries: its outbox rows (the recipients), who acknowledged
 * it; kept are the counts per channel, purpose and state (delivery_totals)
 * and the time each delivered one took (delivery_times). Also, past the
 * same period, the masked numbers in audit rows; and the JOIN cap's day
 * counts older than yesterday. Opt-outs are never pruned. */
/* Alerts per step, and other rows (audit, JOIN counts) per step: one
 * step is one bounded write, so the loop never waits long on it. */
#define DAWN_PRUNE_BATCH_MAX 64
/* ... and deliveries per step, unless one alert alone has more (public texts) */
#define DAWN_PRUNE_DELIVERIES_MAX 4096
#define DAWN_PRUNE_ROWS_MAX 256
struct dawn_prune_counts {
        int64_t alerts;                           /* alerts whose details went (or would) */
        int64_t deliveries;                       /* their deliveries */
        int64_t by_channel[DAWN_CHANNEL_COUNT];   /* of which on each channel */
        int64_t audit_rows;                       /* audit rows that lost a number */
        int64_t join_rows;                        /* public_joins rows removed */
        int64_t reply_rows;                       /* ended sms_replies rows removed */
        bool more;                                /* a step stopped at a bound: run another */
};
void dawn_prune_counts_add(struct dawn_prune_counts *sum, const struct dawn_prune_counts *step);
/* What pruning alerts that ended before ended_before would remove, writing
 * nothing: the counts, and the first max_ids alert ids (oldest first)
 * appended to ids (NULL: none). 0 or -errno. */
int dawn_store_prune_preview(struct dawn_store *s, int64_t ended_before, int max_ids, cJSON *ids,
                             struct dawn_prune_counts *out);
/* One step inside the caller's write: up to max_alerts (at most
 * DAWN_PRUNE_BATCH_MAX) alerts, with at most DAWN_PRUNE_DELIVERIES_MAX
 * deliveries between them (but at least one), that ended before ended_before, oldest
 * first, each with an audit row "prune" by actor; audit rows older than
 * ended_before lose their masked number; old JOIN counts go. out->more
 * when a bound was reached. 0 or -errno. */
int dawn_store_prune_step(struct dawn_store *s, int64_t ended_before, int max_alerts, const char *actor,
                          int64_t now, struct dawn_prune_counts *out);
/* A pruned alert's kept counts: {"sms": {"delivered": 41, "failed": 1}, ...}
 * (purposes summed). 0 or -errno. */
int dawn_store_delivery_totals_json(struct dawn_store *s, const char *alert_id, cJSON *object);
/* When the alert's delivery details were removed (µs), 0 if they were not (or no such alert), or -errno. */
int64_t dawn_store_pruned_at(struct dawn_store *s, const char *alert_id);
/* ---- escalation (issue 13 part 1; README "Escalation") ----
 * One escalations row per (alert, subscriber) whose clock started: waiting
 * until due_at, then acknowledged (detail: by whom), escalated (detail: a
 * JSON array of the subscriber ids told) or stopped (detail: "cancelled" or
 * "expired"). Decisions only ever move a waiting row. */
struct dawn_escalation_row {
        char alert_id[DAWN_MAX_ID_CHARS + 1];
        char subscriber[DAWN_MAX_SUBSCRIBER_CHARS + 1];
        int64_t started_at, due_at;
};
/* Starts the clock unless it ran for this alert and subscriber before: 1 started, 0 it had, -errno. */
int dawn_store_start_escalation(struct dawn_store *s, const char *alert_id, const char *subscriber, int64_t due_at,
                                int64_t now);
/* A waiting escalation is decided (state, detail): 1 if it was waiting, 0 if not, -errno. */
int dawn_store_decide_escalation(struct dawn_store *s, const char *alert_id, const char *subscriber,
                                 const char *state, const char *detail, int64_t now);
/* The alert's waiting escalations are stopped with why: how many, or -errno. */
int dawn_store_stop_escalations(struct dawn_store *s, const char *alert_id, const char *why, int64_t now);
/* Up to limit waiting escalations due at now, soonest first: how many, or -errno. */
int dawn_store_due_escalations(struct dawn_store *s, int64_t now, struct dawn_escalation_row *rows, int limit);
/* The earliest due_at of a waiting escalation, or 0 if none. */
int64_t dawn_store_next_escalation(struct dawn_store *s);
/* The subscriber's first acknowledgement of the alert (any revision, any way): 1 and by/at, 0 none, -errno. */
int dawn_store_first_ack(struct dawn_store *s, const char *alert_id, const char *subscriber, char *by, size_t by_size,
                         int64_t *at);
/* An outbox row of its own purpose ("escalation", "public") and about: a
 * delivery apart from the alert's own to the same recipient. 1 added, 0 it existed, -errno. */
int dawn_store_add_purpose_delivery(struct dawn_store *s, const char *alert_id, int revision, const char *subscriber,
                                    enum dawn_channel_kind channel, const char *recipient, const char *purpose,
                                    const char *about, int64_t now);
/* [{"subscriber", "state", "started_at", "due_at", "decided_at", "to"|"by"|"reason"}] */
int dawn_store_escalations_json(struct dawn_store *s, const char *alert_id, cJSON *array);
/* fn for each of the alert's own deliveries (purpose alert, publish) to subscriber. */
int dawn_store_delivery_states(struct dawn_store *s, const char *alert_id, const char *subscriber,
                               int (*fn)(enum dawn_channel_kind channel, enum dawn_delivery_state state, void *ud),
                               void *userdata);
/* Active alerts' subscribers with no acknowledgement, newest alert first, at
 * most limit: [{"alert", "grade", "subscriber", "escalation", ...}]; how many, or -errno. */
int dawn_store_unacked_json(struct dawn_store *s, int limit, cJSON *array);
int64_t dawn_store_count_waiting_escalations(struct dawn_store *s);
/* 1 and the escalation's started_at and decided_at (0 while waiting), 0 if none, -errno. */
int dawn_store_load_escalation(struct dawn_store *s, const char *alert_id, const char *subscriber,
                               int64_t *started_at, int64_t *decided_at);

/* ---- public text subscriptions (issue 13 part 2) ----
 * public_subscribers holds a number and the areas it joined, nothing else;
 * public_joins counts a number's JOINs per day (kept a day). Public texts
 * are outbox rows with subscriber "public", channel sms, purpose 'public'. */
#define DAWN_PUBLIC_SUBSCRIBER "public"
/* 1 if the number now has the area, 0 if it had it, or -errno. */
int dawn_store_public_join(struct dawn_store *s, const char *number, const char *area, int64_t now);
/* 1 if the number has joined any area, 0 if not, or -errno. */
int dawn_store_public_member(struct dawn_store *s, const char *number);
/* Distinct numbers subscribed, or -errno. */
int64_t dawn_store_public_numbers(struct dawn_store *s);
/* Removes every subscription of a number, and holds the public texts still
 * waiting for it (opted-out): how many areas it had, or -errno. */
int dawn_store_public_leave(struct dawn_store *s, const char *number, int64_t now);
/* A request to erase a number (dawnctl public --remove): its JOIN counts
 * and its replies (but one in flight) go too. Its opt-out stays (a STOP is
 * honoured for ever) and its public texts go with retention. 0 or -errno. */
int dawn_store_erase_public_number(struct dawn_store *s, const char *number);
/* Forgets JOIN counts of days before day (days since the epoch). */
int dawn_store_public_prune_joins(struct dawn_store *s, int64_t day);
/* Counts one more JOIN from number on day: the count today, or -errno. */
int dawn_store_public_note_join(struct dawn_store *s, const char *number, int64_t day);
/* [{"area": "southampton", "subscribers": 12}, ...] by area id; no numbers. */
int dawn_store_public_counts_json(struct dawn_store *s, cJSON *array);
typedef int (*dawn_public_number_fn)(const char *number, void *userdata);
/* fn for each number that joined exactly this area (stops at fn's error). */
int dawn_store_for_each_public_number(struct dawn_store *s, const char *area, dawn_public_number_fn fn,
                                      void *userdata);
/* fn for each number a public text of the alert reached (or is reaching). */
int dawn_store_for_each_public_reached(struct dawn_store *s, const char *alert_id, dawn_public_number_fn fn,
                                       void *userdata);
/* fn for each number a public text of the alert's revision since_revision or
 * later reached (or is reaching). */
int dawn_store_for_each_public_told(struct dawn_store *s, const char *alert_id, int since_revision,
                                     dawn_public_number_fn fn, void *userdata);
/* One public text (INSERT OR IGNORE: once per revision, number and action). */
int dawn_store_add_public_delivery(struct dawn_store *s, const char *alert_id, int revision, const char *number,
                                   enum dawn_delivery_action action, int64_t now);

/* ---- CAP 1.2 (issue 14) ---- */
/* The alert JSON of the newest revision recipients saw at or below at_most
 * (json[0]) and of the one they saw before it (json[1]): not pending
 * revisions, not review notices. How many were found (0-2; malloc'ed, the
 * caller frees), or -errno. */
int dawn_store_cap_revisions(struct dawn_store *s, const char *alert_id, int at_most, char *json[2]);
/* ---- channel pauses (issue 14) ---- */
/* A paused channel's lifetime clock stops: each of its waiting deliveries
 * gets the paused interval [from, to] added to created_at (one created
 * during it counts from to). Returns how many moved, or -errno. */
int dawn_store_credit_pause(struct dawn_store *s, enum dawn_channel_kind channel, int64_t from, int64_t to);
/* The created_at of the channel's oldest waiting (pending or retrying)
 * delivery, 0 if none waits, or -errno. */
int64_t dawn_store_oldest_waiting(struct dawn_store *s, enum dawn_channel_kind channel);
/* ---- SMS replies (issue 13: replies to Notify inbound texts; README "Replies by text") ----
 * GOV.UK Notify cannot text an answer back to an inbound text the way
 * Twilio's TwiML answer does: the reply is a row written in the same write
 * as what the text changed, and the SMS channel sends it after the due
 * professional deliveries. Its states are a delivery's (pending, in-flight,
 * sent, delivered, retrying, failed, opted-out), moved by the same
 * transition table (outbox.c); its reference is "reply-<id>". */
#define DAWN_REPLY_BODY_MAX 480
struct dawn_reply_row {
        int64_t id;
        char number[48];
        char body[DAWN_REPLY_BODY_MAX + 1];
        bool stop;                 /* the confirmation of a STOP: sent although the number opted out */
        enum dawn_delivery_state state;
        int attempts;
        int64_t created_at;
        bool opted_out;            /* due rows: the number opted out and this is not a STOP's confirmation */
};
/* Queues a reply: its id, or -errno. */
int64_t dawn_store_reply_add(struct dawn_store *s, const char *number, const char *body, bool stop, int64_t now);
/* Replies queued for number since (µs), or -errno. */
int64_t dawn_store_replies_since(struct dawn_store *s, const char *number, int64_t since);
/* Replies not yet ended (pending, retrying, in flight), or -errno. */
int64_t dawn_store_replies_waiting(struct dawn_store *s);
/* Up to limit replies due at now, oldest first: how many, or -errno. */
int dawn_store_due_replies(struct dawn_store *s, int64_t now, struct dawn_reply_row *rows, int limit);
/* When the next waiting reply is due (µs), 0 if none. */
int64_t dawn_store_replies_next_due(struct dawn_store *s);
/* 1 and the row, 0 if no such reply, or -errno. */
int dawn_store_load_reply(struct dawn_store *s, int64_t id, struct dawn_reply_row *row);
/* Moves a reply from state from (only then) to to; entering in-flight counts
 * an attempt. 1 if it moved, 0 if it was not in from, or -errno. */
int dawn_store_reply_move(struct dawn_store *s, int64_t id, enum dawn_delivery_state from,
                          enum dawn_delivery_state to, const char *error, int64_t next_at, int64_t now);
/* The same, for a provider's receipt: on PostgreSQL whichever node it reaches
 * moves it, claimed by another node or not (and ends the claim). */
int dawn_store_reply_receipt_move(struct dawn_store *s, int64_t id, enum dawn_delivery_state from,
                                  enum dawn_delivery_state to, const char *error, int64_t next_at, int64_t now);
/* Waiting replies created before created_before fail with reason: how many, or -errno. */
int dawn_store_replies_fail_expired(struct dawn_store *s, int64_t created_before, const char *reason, int64_t now);

/* ---- retention, the files (issue 13 review) ---- */
/* Copies the write-ahead log into the database and truncates it to nothing,
 * so that pages that held removed rows (secure_delete zeroes them in the
 * database) do not stay readable in dawn.db-wal until the log wraps. 0, or
 * -EBUSY while a transaction is open or a reader holds the log (try again
 * later), or -errno. */
int dawn_store_checkpoint_truncate(struct dawn_store *s);
/* From now on, checkpoints run on a thread of their own (checkpoint.h), not
 * inside the commits of the caller's thread; until dawn_store_close(). path
 * is the store's file. 0, or -errno (checkpoints stay inside commits). */
int dawn_store_checkpoint_in_background(struct dawn_store *s, const char *path);

/* ---- acks from a shared number (issue 13 review) ---- */
typedef int (*dawn_reached_fn)(const char *subscriber, int revision, void *userdata);
/* fn(subscriber, the latest revision that reached number) for each
 * subscriber (at most max, by id) whose SMS of the alert reached number:
 * how many, or -errno (also fn's). */
int dawn_store_for_each_reached_by_text(struct dawn_store *s, const char *alert_id, const char *number, int max,
                                        dawn_reached_fn fn, void *userdata);

/* ---- several nodes on one store (issue 15) ---- */
/* How long a node's claim on a delivery in flight lasts without a heartbeat
 * (store.lease; this by default): past it another node sends the delivery
 * again (at least once). Many heartbeats long (heartbeat.h). */
#define DAWN_STORE_LEASE_USEC (60 * 1000000LL)
/* dawnctl status lists at most this many nodes */
#define DAWN_STORE_NODES_MAX 64
/* This node is alive (and started now, if starting): its row in the nodes
 * table, and on PostgreSQL the claims on in_flight[0..n), what it still has
 * in flight (outbox ids, and SMS replies' ids negated), run another lease
 * (from the database's clock). 0 or -errno. */
int dawn_store_node_heartbeat(struct dawn_store *s, const char *version, bool starting, int64_t now,
                              const int64_t *in_flight, size_t n);
/* Deliveries whose claim's lease ran out (their node died or lost the
 * database, or this node recorded their result in a batch that did not
 * commit) wait again, to be sent by whoever takes them: how many, or -errno.
 * Nothing on SQLite, where one node claims nothing. */
int dawn_store_reclaim_expired(struct dawn_store *s, int64_t now);
/* The nodes seen, each {node, this, started_at, heartbeat_at,
 * heartbeat_age_seconds, version, in_flight}: how many, or -errno. */
int dawn_store_nodes_json(struct dawn_store *s, int64_t now, cJSON *array);
/* Advisory locks' first keys (the two-key form takes two INTEGERs): any numbers,
 * the same in every dawnd; db_pg.c's migration lock is the one-key 4470281001. */
#define DAWN_PG_LOCK_AREAS "447028102"
#define DAWN_PG_LOCK_JOBS "447028103"
/* Intake in this area is this node's until its transaction ends (PostgreSQL:
 * waits for another node's, at most its lock_timeout: -EBUSY). Taken before a
 * report looks for the alert or cluster it joins, so two nodes taking reports
 * of one batch at once make one alert, not two. 0 or -errno; SQLite: 0. */
int dawn_store_lock_area(struct dawn_store *s, const char *area);
/* The timers' work that must run on one node at a time. */
enum dawn_store_job {
        DAWN_JOB_EXPIRY = 1,
        DAWN_JOB_ESCALATION = 2,
        DAWN_JOB_RETENTION = 3,
};
/* Takes job for this node until its transaction ends, without waiting: 1
 * taken, 0 another node has it now (leave the work to it), or -errno.
 * SQLite: 1. Call inside a transaction. */
int dawn_store_try_job(struct dawn_store *s, enum dawn_store_job job);
/* Up to want sends of channel under its rate_per_minute, from the one
 * bucket every node shares (PostgreSQL: the provider's limit is the key's,
 * whichever node sends), holding capacity and refilled at per_usec on the
 * database's clock: how many were granted (0: none now, or another node is
 * taking from it: look again shortly), or -errno; -EOPNOTSUPP on SQLite,
 * whose one node keeps its own. Inside the batch: the bucket is this
 * node's until it commits. */
int dawn_store_take_tokens(struct dawn_store *s, enum dawn_channel_kind channel, int want, double capacity,
                           double per_usec);
/* Whether other dawnd nodes may share this store (PostgreSQL). */
bool dawn_store_shared(const struct dawn_store *s);
/* The lease this store's claims get. */
int64_t dawn_store_lease_usec(const struct dawn_store *s);

#endif
